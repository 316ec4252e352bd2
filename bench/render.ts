// Rewrites a benchmark run's report (ratios and findings in results.json,
// results.md, results.svg) from its results.json, after a change to the
// report, without measuring again.
//
//   node dist/bench/render.js bench/results/full-20261204
import fs from 'node:fs';
import path from 'node:path';
import { computeFamilyRatios, computeRatios, type BenchReport } from './report.js';
import { findings, writeResults } from './run.js';

export function render(dir: string): void {
  const rep = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as BenchReport;
  rep.ratios = computeRatios(rep.results);
  rep.familyRatios = computeFamilyRatios(rep.results);
  rep.findings = findings(rep.results);
  writeResults(dir, rep);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: node dist/bench/render.js RESULTS_DIR\n');
    process.exit(2);
  }
  render(dir);
}
