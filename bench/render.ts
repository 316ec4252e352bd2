// Rewrites results.md and results.svg of a benchmark run from its
// results.json (after a change to the report, without measuring again).
//
//   node dist/bench/render.js bench/results/full-20261204
import fs from 'node:fs';
import path from 'node:path';
import { computeRatios, markdown, svgChart, type BenchReport } from './report.js';
import { findings } from './run.js';

export function render(dir: string): void {
  const rep = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as BenchReport;
  rep.ratios = computeRatios(rep.results);
  rep.findings = findings(rep.results);
  fs.writeFileSync(path.join(dir, 'results.md'), markdown(rep));
  fs.writeFileSync(path.join(dir, 'results.svg'), `${svgChart(rep)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: node dist/bench/render.js RESULTS_DIR\n');
    process.exit(2);
  }
  render(dir);
}
