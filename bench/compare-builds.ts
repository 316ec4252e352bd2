// Two builds of Switchyard side by side in one run: the benchmark
// (bench/run.ts) of tree A, then of tree B, then A, then B (--rounds times),
// so that a machine whose load drifts (a shared CI box) hits both alike.
// Writes one Markdown table of the programming, memory, latency and
// per-packet figures: A and B (the median over the rounds), B/A, and each
// round's figures. Every run is the tree's own dist/bench/run.js with the
// same benchmark arguments (plus any --b-arg for B); only --out and --lab-prefix differ.
//
//   node dist/bench/compare-builds.js --a /tmp/base --b . [--rounds 2] --out DIR -- BENCH_ARGS...
//
// Run it under `nice -n 19` on a shared machine (the runs inherit it). See
// docs/benchmarks.md "Two trees' benchmark side by side".
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchReport } from './report.js';
import { isFigure, median, type Figure } from './stats.js';

const USAGE = `usage: node dist/bench/compare-builds.js --a TREE_A --b TREE_B --out DIR [--rounds N] [--tolerance PCT] [--report-only] -- BENCH_ARGS...
  TREE_A, TREE_B   built repositories (make -s all && npx tsc -p tsconfig.json): each runs its own dist/bench/run.js
  --rounds N       A B pairs (default 2)
  --tolerance PCT  a figure is "within" when |B/A - 1| <= PCT % (default 10)
  --report-only    run nothing: rewrite DIR/compare.md from the runs' results already in DIR
  --b-arg ARG      one more benchmark argument for tree B only (repeatable), for an option tree A's
                   benchmark does not know, e.g. --b-arg --ip-family --b-arg ipv4 against a tree from before IPv6
  BENCH_ARGS       the benchmark's options for both trees, without --out and --lab-prefix (set here), e.g.
                   --preset full --modes ebpf --services 10000 --endpoints 10 --cold-runs 3 --flips 20 --samples 1000`;

/** The figures compared: [figure key, statistic]. Lower is better for every one of them. */
type Stat = 'min' | 'p50' | 'p99';
const ROWS: Array<[string, Stat]> = [
  ['programming.network_programming', 'p50'],
  ['programming.network_programming', 'p99'],
  ['programming.slice_put', 'p50'],
  ['programming.after_put', 'p50'],
  ['programming.after_put', 'p99'],
  ['programming.agent_sync_per_change', 'p50'],
  ['programming.cold_start', 'p50'],
  ['programming.cold_start', 'p99'],
  ['programming.agent_cold_sync', 'p50'],
  ['programming.agent_start', 'p50'],
  ['memory.agent_rss', 'p50'],
  ['memory.agent_peak_rss', 'p50'],
  ['memory.loader_rss', 'p50'],
  ['memory.bpf_maps', 'p50'],
  ['latency.first_vip', 'p50'],
  ['latency.first_vip', 'p99'],
  ['latency.last_vip', 'p50'],
  ['latency.last_vip', 'p99'],
  ['latency.pod', 'min'],
  ['latency.pod', 'p50'],
  ['testrun.tc_new_flow', 'p50'],
  ['testrun.tc_new_flow', 'min'],
  ['testrun.tc_established', 'p50'],
  ['testrun.tc_established', 'min'],
  ['testrun.tc_reply_revnat', 'p50'],
  ['testrun.tc_reply_revnat', 'min'],
  ['testrun.tc_non_service', 'p50'],
  ['testrun.tc_non_service_single', 'p50'],
  ['testrun.tc_non_service_single', 'min'],
  ['testrun.xdp_nodeport_new_flow', 'p50'],
  ['testrun.xdp_nodeport_new_flow', 'min'],
  ['testrun.xdp_nodeport_established', 'p50'],
  ['testrun.xdp_nodeport_established', 'min'],
];

interface Options { a: string; b: string; out: string; rounds: number; tolerance: number; reportOnly: boolean; benchArgs: string[]; bOnlyArgs: string[] }

function parse(argv: string[]): Options {
  const sep = argv.indexOf('--');
  const own = sep >= 0 ? argv.slice(0, sep) : argv;
  const benchArgs = sep >= 0 ? argv.slice(sep + 1) : [];
  const m = new Map<string, string>();
  const reportOnly = own.includes('--report-only');
  own.splice(0, own.length, ...own.filter((x) => x !== '--report-only'));
  // --b-arg ARG pairs are taken out first: ARG itself starts with "--".
  const bOnlyArgs: string[] = [];
  for (let i = own.indexOf('--b-arg'); i >= 0; i = own.indexOf('--b-arg')) {
    if (own[i + 1] === undefined) throw new Error('--b-arg needs a value');
    bOnlyArgs.push(own[i + 1]!);
    own.splice(i, 2);
  }
  for (let i = 0; i < own.length; i += 2) {
    const k = own[i]!;
    if (!['--a', '--b', '--out', '--rounds', '--tolerance'].includes(k) || own[i + 1] === undefined) throw new Error(`bad option ${k}`);
    m.set(k, own[i + 1]!);
  }
  if (!m.has('--a') || !m.has('--b') || !m.has('--out')) throw new Error('--a, --b and --out are required');
  if (benchArgs.some((x) => /^--(out|lab-prefix)(=|$)/.test(x))) throw new Error('--out and --lab-prefix are set by this script; leave them out of BENCH_ARGS');
  const rounds = Number(m.get('--rounds') ?? 2);
  const tolerance = Number(m.get('--tolerance') ?? 10);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error('--rounds: 1..20');
  if (!(tolerance > 0 && tolerance < 100)) throw new Error('--tolerance: a percentage above 0');
  return { a: path.resolve(m.get('--a')!), b: path.resolve(m.get('--b')!), out: path.resolve(m.get('--out')!), rounds, tolerance, reportOnly, benchArgs, bOnlyArgs };
}

function git(tree: string, args: string[]): string {
  const r = spawnSync('git', ['-C', tree, ...args], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '?';
}

interface Run { side: 'A' | 'B'; round: number; dir: string; exit: number | null; seconds: number; report?: BenchReport; leftoverNetns: string[] }

/** One benchmark of one tree; its figures come back through DIR/results.json. */
function runOne(tree: string, side: 'A' | 'B', round: number, o: Options): Run {
  const dir = path.join(o.out, `round${round}-${side}`);
  const prefix = `c${side.toLowerCase()}${round}`;
  const args = [path.join(tree, 'dist', 'bench', 'run.js'), ...o.benchArgs, ...(side === 'B' ? o.bOnlyArgs : []), '--out', dir, '--lab-prefix', prefix];
  process.stderr.write(`[compare] round ${round} ${side}: ${process.execPath} ${args.join(' ')}\n`);
  const t = Date.now();
  const r = spawnSync(process.execPath, args, { cwd: tree, stdio: ['ignore', 'ignore', 'inherit'] });
  return readRun(side, round, dir, r.status, Math.round((Date.now() - t) / 1000));
}

/** A run's results (DIR/results.json) and any of its labs still present. */
function readRun(side: 'A' | 'B', round: number, dir: string, exit: number | null, seconds: number): Run {
  const run: Run = { side, round, dir, exit, seconds, leftoverNetns: [] };
  try {
    run.report = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as BenchReport;
  } catch {
    // no results: the table shows the run as missing
  }
  // The benchmark takes its labs down; say so when one was left behind.
  const labs = run.report?.results.map((x) => x.lab) ?? [];
  const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  run.leftoverNetns = ns.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n && labs.some((l) => n.startsWith(`${l}-`)));
  return run;
}

function figure(run: Run | undefined, key: string): Figure | undefined {
  const r = run?.report?.results.find((x) => x.mode === 'ebpf') ?? run?.report?.results[0];
  const f = r?.figures[key];
  return isFigure(f) ? f : undefined;
}

function show(v: number | undefined, unit: string): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  if (unit === 'bytes') return `${(v / 2 ** 20).toFixed(1)} MiB`;
  return Number.isInteger(v) ? `${v}` : v.toFixed(v < 10 ? 2 : 1);
}

function table(o: Options, runs: Run[], names: { a: string; b: string }): string {
  const rounds = [...Array(o.rounds).keys()].map((i) => i + 1);
  const head = ['figure', 'stat', 'unit', `A ${names.a}`, `B ${names.b}`, 'B/A', `within ${o.tolerance} %`,
    ...rounds.flatMap((r) => [`A r${r}`, `B r${r}`])];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const [key, stat] of ROWS) {
    const per = (side: 'A' | 'B'): Array<number | undefined> =>
      rounds.map((r) => figure(runs.find((x) => x.side === side && x.round === r), key)?.[stat]);
    const a = per('A');
    const b = per('B');
    const unit = [...runs].map((x) => figure(x, key)?.unit).find((u) => u !== undefined) ?? '';
    if (!unit) continue;
    const ma = a.filter((x): x is number => x !== undefined);
    const mb = b.filter((x): x is number => x !== undefined);
    const A = ma.length ? median(ma) : undefined;
    const B = mb.length ? median(mb) : undefined;
    const ratio = A !== undefined && B !== undefined && A > 0 ? B / A : undefined;
    const verdict = ratio === undefined ? '—'
      : Math.abs(ratio - 1) <= o.tolerance / 100 ? 'yes'
        : ratio > 1 ? `**no**: B ${((ratio - 1) * 100).toFixed(0)} % higher` : `no: B ${((1 - ratio) * 100).toFixed(0)} % lower`;
    lines.push(`| ${key} | ${stat} | ${unit === 'bytes' ? 'MiB' : unit} | ${show(A, unit)} | ${show(B, unit)} | ${ratio === undefined ? '—' : ratio.toFixed(3)} | ${verdict} | ` +
      `${rounds.flatMap((r) => [show(a[r - 1], unit), show(b[r - 1], unit)]).join(' | ')} |`);
  }
  return lines.join('\n');
}

function report(o: Options, runs: Run[], startLoad: number[], started: Date): string {
  // The commit each run recorded (machine.gitCommit), else the tree's HEAD now.
  const commit = (side: 'A' | 'B', tree: string): { full: string; dirty: boolean } => {
    const m = runs.find((r) => r.side === side && r.report)?.report?.machine;
    return m ? { full: m.gitCommit, dirty: m.gitDirty } : { full: git(tree, ['rev-parse', 'HEAD']), dirty: git(tree, ['status', '--porcelain', '--untracked-files=no']) !== '' };
  };
  const ca = commit('A', o.a);
  const cb = commit('B', o.b);
  const names = { a: ca.full.slice(0, 7), b: cb.full.slice(0, 7) };
  const first = runs[0]?.report;
  const last = runs[runs.length - 1]?.report;
  const out = [
    `# Benchmark side by side: A ${names.a} vs B ${names.b}`,
    '',
    `- A: \`${o.a}\` at ${ca.full}${ca.dirty ? ' (with uncommitted changes)' : ''}`,
    `- B: \`${o.b}\` at ${cb.full}${cb.dirty ? ' (with uncommitted changes)' : ''}`,
    `- benchmark arguments (both): \`${o.benchArgs.join(' ')}\``,
    ...(o.bOnlyArgs.length > 0 ? [`- B only: \`${o.bOnlyArgs.join(' ')}\``] : []),
    `- order: ${runs.map((r) => `${r.side}${r.round}`).join(' ')} (alternating, so drifting machine load hits both)`,
    `- started ${first?.startedAt ?? started.toISOString()}, finished ${last?.finishedAt ?? new Date().toISOString()}; ${os.cpus().length} CPUs; ` +
      `load average at start ${(first?.machine.loadavgAtStart ?? startLoad).map((x) => x.toFixed(2)).join(' ')}, at end ${(last?.machine.loadavgAtEnd ?? os.loadavg()).map((x) => x.toFixed(2)).join(' ')}`,
    '',
    `A and B are the median over the rounds of each run's statistic (min, p50 or p99 of that run's samples; the per-packet minimum is the cost with the least interference from other load); B/A < 1 means B is lower (better: every figure here is a time or a size). "within" is |B/A - 1| <= ${o.tolerance} %.`,
    '',
    table(o, runs, names),
    '',
    '## Runs',
    '',
    '| run | exit | seconds | load at start | load at end | errors | labs left behind |',
    '|---|---|---|---|---|---|---|',
    ...runs.map((r) => `| ${r.side}${r.round} (\`${path.relative(o.out, r.dir)}\`) | ${r.exit ?? 'not rerun'} | ${r.seconds} | ${r.report?.machine.loadavgAtStart.join(' ') ?? '—'} | ${r.report?.machine.loadavgAtEnd.join(' ') ?? '—'} | ` +
      `${[...(r.report?.errors ?? []), ...(r.report?.results.flatMap((x) => x.errors) ?? [])].join('; ').replace(/\|/g, '/') || 'none'} | ${r.leftoverNetns.join(' ') || 'none'} |`),
    '',
  ];
  return out.join('\n');
}

export function main(argv: string[]): number {
  let o: Options;
  try {
    o = parse(argv);
  } catch (err) {
    process.stderr.write(`compare-builds: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  for (const t of [o.a, o.b]) {
    if (!fs.existsSync(path.join(t, 'dist', 'bench', 'run.js'))) {
      process.stderr.write(`compare-builds: ${t}/dist/bench/run.js is missing (make -s all && npx tsc -p tsconfig.json there)\n`);
      return 1;
    }
  }
  fs.mkdirSync(o.out, { recursive: true });
  const started = new Date();
  const startLoad = os.loadavg();
  const runs: Run[] = [];
  for (let r = 1; r <= o.rounds; r++) {
    for (const side of ['A', 'B'] as const) {
      runs.push(o.reportOnly
        ? readRun(side, r, path.join(o.out, `round${r}-${side}`), null, Math.round((JSON.parse(fs.readFileSync(path.join(o.out, `round${r}-${side}`, 'results.json'), 'utf8')) as BenchReport).durationS))
        : runOne(side === 'A' ? o.a : o.b, side, r, o));
      fs.writeFileSync(path.join(o.out, 'compare.md'), report(o, runs, startLoad, started));
    }
  }
  const text = report(o, runs, startLoad, started);
  fs.writeFileSync(path.join(o.out, 'compare.md'), text);
  process.stdout.write(text);
  return runs.every((r) => (r.exit === 0 || o.reportOnly) && r.leftoverNetns.length === 0) ? 0 : 1;
}

const isEntry = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isEntry) process.exit(main(process.argv.slice(2)));
