// Summaries of samples: every figure of the benchmark is reported with its
// unit, how many samples (and runs) it rests on and its spread.

/** One measured quantity. */
export interface Figure {
  /** What was measured, in a few words. */
  what: string;
  unit: string;
  /** Samples the statistics are computed over. */
  n: number;
  /** Independent runs the samples come from (a run may average many repetitions). */
  runs: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  stddev: number;
  /** Extra context: repetitions per sample, resolution, verdicts, ... */
  note?: string;
}

/** A figure that could not be measured in this build or mode, and why. */
export interface Unavailable {
  what: string;
  unit: string;
  available: false;
  reason: string;
}

export type FigureOrNot = Figure | Unavailable;

export function isFigure(f: FigureOrNot | undefined): f is Figure {
  return f !== undefined && (f as Unavailable).available !== false;
}

/** Nearest-rank percentile of sorted values (p in [0, 1]). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i]!;
}

/** The median of a list (the mean of the middle two for an even count). */
export function median(v: readonly number[]): number {
  const s = [...v].sort((x, y) => x - y);
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

export function summarize(what: string, unit: string, samples: readonly number[], runs: number, note?: string): Figure {
  const v = samples.filter((x) => Number.isFinite(x)).slice().sort((a, b) => a - b);
  if (v.length === 0) throw new Error(`${what}: no samples`);
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  const variance = v.length > 1 ? v.reduce((s, x) => s + (x - mean) ** 2, 0) / (v.length - 1) : 0;
  return {
    what,
    unit,
    n: v.length,
    runs,
    min: v[0]!,
    p50: percentile(v, 0.5),
    p90: percentile(v, 0.9),
    p99: percentile(v, 0.99),
    max: v[v.length - 1]!,
    mean: round(mean),
    stddev: round(Math.sqrt(variance)),
    ...(note ? { note } : {}),
  };
}

export function unavailable(what: string, unit: string, reason: string): Unavailable {
  return { what, unit, available: false, reason };
}

function round(x: number): number {
  if (!Number.isFinite(x)) return x;
  const a = Math.abs(x);
  const digits = a >= 1000 ? 1 : a >= 1 ? 3 : 6;
  return Number(x.toFixed(digits));
}

/** Human formatting for tables: 3 significant digits, thousands kept whole. */
export function fmt(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a >= 1e9) return `${(x / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${(x / 1e3).toFixed(1)}k`;
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  return x.toFixed(2);
}
