// How many Maglev slots change owner when one backend is removed or added,
// beyond the 1/N (or 1/(N+1)) that must move, for each allowed table size.
// Pure computation on the control plane's own buildMaglevTable: no lab.
//
//   node dist/bench/maglev-disruption.js [--trials N] [--max-backends N] [--sizes 509,1021,...]
//                                         [--builder switchyard|paper|paper-redraw]
//   node dist/bench/maglev-disruption.js --build-cost     (time to build one table, both walks)
//
// --builder paper is the paper's walk as Switchyard built tables before the
// de-collision, paper-redraw that walk with equal skips re-drawn (see
// bench/maglev-variants.ts); the default is the control plane's builder.
// Prints a Markdown table (docs/maglev.md quotes it).
import { buildMaglevTable, MAGLEV_PRIMES, maglevTableSize } from '../control-plane/src/dataplane/maglev.js';
import { mulberry32 } from './prng.js';
import { paperMaglevTable, type MaglevBuilder } from './maglev-variants.js';

const BUILDERS: Record<string, MaglevBuilder> = {
  switchyard: buildMaglevTable,
  paper: paperMaglevTable(false),
  'paper-redraw': paperMaglevTable(true),
};

export function randomBackends(r: () => number, n: number): string[] {
  const set = new Set<string>();
  while (set.size < n) set.add(`198.19.${Math.floor(r() * 250) + 1}.${Math.floor(r() * 250) + 2}:${8000 + Math.floor(r() * 100)}/6`);
  return [...set];
}

/** Fraction of the M slots whose backend differs between the tables of `a` and `b`. */
export function movedFraction(a: readonly string[], b: readonly string[], m: number, seed: number, build: MaglevBuilder = buildMaglevTable): number {
  const ta = build(a, m, seed), tb = build(b, m, seed);
  let moved = 0;
  for (let i = 0; i < m; i++) if (ta.order[ta.table[i]!] !== tb.order[tb.table[i]!]) moved++;
  return moved / m;
}

export interface DisruptionRow {
  m: number; nMin: number; nMax: number; trials: number; mean: number; p90: number; p99: number; max: number;
  /** Largest difference between two backends' slot counts in any table built (1 = every backend holds floor or ceil of M/N). */
  spread: number;
}

function slotSpread(table: Uint32Array, n: number): number {
  const c = new Uint32Array(n);
  for (const v of table) c[v]!++;
  let lo = Infinity, hi = 0;
  for (const x of c) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
  return hi - lo;
}

/** Default-sizing backend counts [kLo, kHi] that put a Service on table size m (kLo = 0 when none does). */
export function defaultSizingRange(m: number): [number, number] {
  let kLo = 0, kHi = 0;
  for (let k = 2; k * 100 <= 131071; k++) if (maglevTableSize(k) === m) { if (!kLo) kLo = k; kHi = k; }
  return [kLo, kHi];
}

/**
 * For table size m: random sets of n+1 backends (n from nMin..nMax), the
 * table with all of them against the table without one. Removing one of n+1
 * and adding the (n+1)th to n are the same pair of tables, so one figure
 * covers both: extra = moved - 1/(n+1).
 */
export function measureDisruption(m: number, nMin: number, nMax: number, trials: number, seed = 1, build: MaglevBuilder = buildMaglevTable): DisruptionRow {
  const r = mulberry32(m ^ seed);
  const extras: number[] = [];
  let spread = 0;
  for (let t = 0; t < trials; t++) {
    const n = nMin + Math.floor(r() * (nMax - nMin + 1));
    const set = randomBackends(r, n + 1);
    const drop = Math.floor(r() * (n + 1));
    const ta = build(set, m, 7 + t), tb = build(set.filter((_, i) => i !== drop), m, 7 + t);
    let moved = 0;
    for (let i = 0; i < m; i++) if (ta.order[ta.table[i]!] !== tb.order[tb.table[i]!]) moved++;
    extras.push(moved / m - 1 / (n + 1));
    spread = Math.max(spread, slotSpread(ta.table, ta.order.length), slotSpread(tb.table, tb.order.length));
  }
  extras.sort((a, b) => a - b);
  const q = (p: number): number => extras[Math.min(extras.length - 1, Math.floor(p * extras.length))]!;
  return { m, nMin, nMax, trials, mean: extras.reduce((s, x) => s + x, 0) / extras.length, p90: q(0.9), p99: q(0.99), max: extras[extras.length - 1]!, spread };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(2)} %`;
}

/** Fastest of 7 timed runs of building one table, per builder (warm JIT). */
function buildCost(): void {
  process.stdout.write('| M | backends | Switchyard (shuffled walk) | paper walk |\n|---:|---:|---:|---:|\n');
  const fmt = (ms: number) => (ms < 1 ? `${Math.round(ms * 1000)} µs` : `${ms.toFixed(1)} ms`);
  for (const [m, n] of [[509, 3], [1021, 10], [16381, 100], [65521, 1000], [131071, 1310]] as const) {
    const set = randomBackends(mulberry32(3), n);
    const best = (build: MaglevBuilder): number => {
      const reps = m > 20000 ? 3 : m > 2000 ? 20 : 300;
      let min = Infinity;
      build(set, m, 1);
      for (let r = 0; r < 7; r++) {
        const t = performance.now();
        for (let i = 0; i < reps; i++) build(set, m, 1);
        min = Math.min(min, (performance.now() - t) / reps);
      }
      return min;
    };
    process.stdout.write(`| ${m} | ${n} | ${fmt(best(BUILDERS.switchyard!))} | ${fmt(best(BUILDERS.paper!))} |\n`);
  }
}

function main(argv: string[]): void {
  if (argv[0] === '--build-cost') return buildCost();
  let trials = 300, maxBackends = 30, builder = 'switchyard';
  let sizes: number[] = [...MAGLEV_PRIMES];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!, v = argv[i + 1];
    if (a === '--trials' && v) { trials = Number(v); i++; }
    else if (a === '--max-backends' && v) { maxBackends = Number(v); i++; }
    else if (a === '--sizes' && v) { sizes = v.split(',').map(Number); i++; }
    else if (a === '--builder' && v && v in BUILDERS) { builder = v; i++; }
    else throw new Error(`unknown argument ${a} (--trials N, --max-backends N, --sizes LIST, --builder ${Object.keys(BUILDERS).join('|')})`);
  }
  const build = BUILDERS[builder]!;
  process.stdout.write(`Extra slots moved when one backend is removed or added (beyond 1/N), ${trials} random backend sets per row, builder ${builder}\n\n`);
  process.stdout.write('| M | backends (with the one added) | how a Service gets this M | mean | p90 | p99 | max |\n|---:|---:|:---|---:|---:|---:|---:|\n');
  const line = (row: DisruptionRow, how: string): void => {
    process.stdout.write(`| ${row.m} | ${row.nMin + 1}–${row.nMax + 1} | ${how} | ${pct(row.mean)} | ${pct(row.p90)} | ${pct(row.p99)} | ${pct(row.max)} |\n`);
  };
  for (const m of sizes) {
    // Backend counts K that the default sizing (smallest prime >= 100 K) puts on this M.
    const [kLo, kHi] = defaultSizingRange(m);
    if (kLo) line(measureDisruption(m, kLo - 1, kHi - 1, trials, 1, build), 'default sizing');
    // Small Services (2..maxBackends) on this M, as pinning it (annotation
    // switchyard.io/maglev-table-size) or a floor of M would give them.
    // Smaller pinned sizes: every backend count that keeps M >= 100 N.
    const most = Math.min(maxBackends, Math.floor(m / 100));
    if (kLo > 2 && most >= 2) {
      line(measureDisruption(m, 1, most - 1, trials, 1, build), `annotation ${m} or --maglev-table-floor ${m}`);
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main(process.argv.slice(2));
