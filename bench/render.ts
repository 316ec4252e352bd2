// Rewrites a benchmark run's report (ratios and findings in results.json,
// results.md, results.svg) from its results.json, after a change to the
// report, without measuring again. --baseline (repeatable) replaces the run's
// baseline with other runs' results.json: several runs of one tree (e.g. the
// A rounds of compare-builds) count with the median of their figures.
//
//   node dist/bench/render.js bench/results/full-20261204 [--baseline RESULTS_JSON ...]
import fs from 'node:fs';
import path from 'node:path';
import { baselineOf, computeFamilyRatios, computeRatios, type BenchReport } from './report.js';
import { findings, writeResults } from './run.js';

export function render(dir: string, baselines: string[] = []): void {
  const rep = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as BenchReport;
  if (baselines.length > 0) {
    const runs = baselines.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')) as BenchReport);
    rep.baseline = baselineOf(runs, baselines.map((f) => path.relative(process.cwd(), f)).join(', '));
  }
  rep.ratios = computeRatios(rep.results);
  rep.familyRatios = computeFamilyRatios(rep.results);
  rep.findings = findings(rep.results);
  writeResults(dir, rep);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [dir, ...rest] = process.argv.slice(2);
  const baselines: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--baseline' && rest[i + 1]) baselines.push(rest[++i]!);
    else {
      process.stderr.write(`render: unexpected argument ${rest[i]}\n`);
      process.exit(2);
    }
  }
  if (!dir) {
    process.stderr.write('usage: node dist/bench/render.js RESULTS_DIR [--baseline RESULTS_JSON ...]\n');
    process.exit(2);
  }
  render(dir, baselines);
}
