// Results: JSON (everything), a Markdown table (the main figures side by
// side with ebpf/iptables ratios) and a hand-written SVG chart.
import type { MachineInfo } from './machine.js';
import { isIptablesMode, MODES, type BenchOptions, type Mode } from './options.js';
import type { FlipSample } from './measure-programming.js';
import { fmt, isFigure, median, type FigureOrNot } from './stats.js';

/** One 'synced' record of the agent's log, with what it wrote when the log says. */
export interface AgentSync { ms: number; changes: number; full: boolean; tablesSet?: number; natRules?: number; [field: string]: number | boolean | undefined }

export interface CombinationResult {
  mode: Mode;
  endpoints: number;
  services: number;
  lab: string;
  figures: Record<string, FigureOrNot>;
  /** Agent syncs seen in the log (cold start and flips), for reference. */
  agentSyncs: { coldStart: AgentSync[]; flips: AgentSync[] };
  /** Each EndpointSlice flip (bench/measure-programming.ts FlipSample), in order. */
  flipSamples?: FlipSample[];
  notes: string[];
  errors: string[];
}

export interface Ratio {
  services: number;
  endpoints: number;
  figure: string;
  unit: string;
  stat: 'p50' | 'p99';
  /** The iptables mode compared with (iptables, iptables-legacy or iptables-nft). */
  against: Mode;
  ebpf: number;
  iptables: number;
  /** ebpf / iptables */
  ratio: number;
}

/** An earlier run's figures that "unchanged or better" goals are judged against (--baseline). */
export interface BaselineFigure { mode: Mode; endpoints: number; services: number; figure: string; p50: number; p99: number }
export interface Baseline { source: string; commit: string; startedAt: string; cpuModel: string; /** Runs the figures are medians over (absent: 1). */ runs?: number; figures: BaselineFigure[] }
/** The figures a baseline keeps: programming latency and the per-packet rows. */
export const BASELINE_FIGURES = [
  'programming.network_programming', 'testrun.tc_new_flow', 'testrun.tc_established',
  'testrun.xdp_nodeport_new_flow', 'testrun.xdp_nodeport_established', 'testrun.tc_external_nodeport_established',
];

/**
 * The baseline part of earlier reports (their figures of BASELINE_FIGURES):
 * one run, or several runs of one tree (compare-builds rounds), whose p50s
 * and p99s are then the medians over the runs.
 */
export function baselineOf(earlier: Pick<BenchReport, 'results' | 'startedAt' | 'machine'> | Array<Pick<BenchReport, 'results' | 'startedAt' | 'machine'>>, source: string): Baseline {
  const runs = Array.isArray(earlier) ? earlier : [earlier];
  if (runs.length === 0) throw new Error('a baseline needs at least one run');
  const byKey = new Map<string, BaselineFigure[]>();
  for (const run of runs) {
    for (const r of run.results) {
      for (const key of BASELINE_FIGURES) {
        const f = r.figures[key];
        if (!isFigure(f)) continue;
        const id = `${r.mode}/${r.endpoints}/${r.services}/${key}`;
        byKey.set(id, [...(byKey.get(id) ?? []), { mode: r.mode, endpoints: r.endpoints, services: r.services, figure: key, p50: f.p50, p99: f.p99 }]);
      }
    }
  }
  const figures = [...byKey.values()].map((xs) => ({ ...xs[0]!, p50: median(xs.map((x) => x.p50)), p99: median(xs.map((x) => x.p99)) }));
  const first = runs[0]!;
  const commits = [...new Set(runs.map((r) => r.machine.gitCommit))];
  return { source, commit: commits.join('+'), startedAt: first.startedAt, cpuModel: first.machine.cpuModel, runs: runs.length, figures };
}

/** IPv6 against IPv4 for one figure of one combination (dual-stack bench), p50s from the same run. */
export interface FamilyRatio {
  mode: Mode;
  services: number;
  endpoints: number;
  /** The IPv4 figure's key; the IPv6 one is ipv6Key(figure). */
  figure: string;
  unit: string;
  ipv4: number;
  ipv6: number;
  /** ipv6 / ipv4 (p50) */
  ratio: number;
}

/** The per-packet rows timed for both families in a dual-stack bench (testrun.ipv6.* beside testrun.*). */
export const FAMILY_TESTRUN_FIGURES = [
  'testrun.tc_new_flow', 'testrun.tc_established', 'testrun.tc_reply_revnat',
  'testrun.xdp_nodeport_new_flow', 'testrun.xdp_nodeport_established',
  'testrun.tc_external_nodeport_new_flow', 'testrun.tc_external_nodeport_established',
];
/** The first-packet latency rows measured for both families (latency.ipv6.* beside latency.*), both modes. */
export const FAMILY_LATENCY_FIGURES = ['latency.last_vip', 'latency.pod'];

/** The key of a figure's IPv6 twin: testrun.X -> testrun.ipv6.X, latency.X -> latency.ipv6.X. */
export function ipv6Key(key: string): string {
  return key.replace(/^(testrun|latency)\./, '$1.ipv6.');
}

/** Issue #16's bound: IPv6 per-packet cost within this factor of IPv4's. */
export const IPV6_COST_BOUND = 1.25;

export interface BenchReport {
  schema: 'switchyard-bench/1';
  title: string;
  command: string;
  preset: string;
  options: Omit<BenchOptions, 'out'> & { out: string };
  startedAt: string;
  finishedAt: string;
  durationS: number;
  machine: MachineInfo & { loadavgAtEnd: number[] };
  results: CombinationResult[];
  ratios: Ratio[];
  /** IPv6 / IPv4 per figure and combination (dual-stack bench; absent in older reports). */
  familyRatios?: FamilyRatio[];
  /** What the run found about the control plane and the lab (measured, with numbers). */
  findings: string[];
  /** The earlier run the "unchanged or better" goals compare with (--baseline). */
  baseline?: Baseline;
  errors: string[];
}

/** Figures compared across modes, in table order, with the stats to show. */
export const MAIN_FIGURES: Array<{ key: string; label: string; ratio?: boolean }> = [
  { key: 'testrun.tc_new_flow', label: 'tc per packet, new flow (BPF_PROG_TEST_RUN)' },
  { key: 'testrun.tc_established', label: 'tc per packet, established flow' },
  { key: 'testrun.tc_reply_revnat', label: 'tc per packet, reply reverse NAT' },
  { key: 'testrun.xdp_nodeport_new_flow', label: 'XDP NodePort per packet, new flow' },
  { key: 'testrun.xdp_nodeport_established', label: 'XDP NodePort per packet, established' },
  { key: 'testrun.tc_external_nodeport_new_flow', label: 'tc external NodePort per packet, new flow' },
  { key: 'testrun.tc_external_nodeport_established', label: 'tc external NodePort per packet, established' },
  { key: 'testrun.tc_non_service', label: 'tc per packet, non-service packet (repeat average)' },
  { key: 'testrun.tc_non_service_single', label: 'tc per packet, non-service packet (single runs: timer overhead)' },
  { key: 'latency.first_vip', label: 'connect() latency, FIRST Service created', ratio: true },
  { key: 'latency.last_vip', label: 'connect() latency, LAST Service created', ratio: true },
  { key: 'latency.pod', label: 'connect() latency, pod directly (floor)', ratio: true },
  { key: 'latency.ipv6.last_vip', label: 'connect() latency, LAST Service created, IPv6', ratio: true },
  { key: 'latency.ipv6.pod', label: 'connect() latency, pod directly, IPv6 (floor)', ratio: true },
  { key: 'throughput.last_vip.short_connections', label: 'short connections through the last VIP', ratio: true },
  { key: 'throughput.pod.short_connections', label: 'short connections to the pod (floor)', ratio: true },
  { key: 'throughput.last_vip.kept_connection_requests', label: 'requests over kept connections, last VIP', ratio: true },
  { key: 'throughput.pod.kept_connection_requests', label: 'requests over kept connections, pod (floor)', ratio: true },
  { key: 'programming.cold_start', label: 'cold start: empty node until every sampled VIP answers', ratio: true },
  { key: 'programming.agent_start', label: 'cold start: until the agent runs (process start, informers listed)', ratio: true },
  { key: 'programming.agent_first_sync_done', label: 'cold start: until the agent logs its first successful sync', ratio: true },
  { key: 'programming.agent_cold_sync', label: 'agent\'s first (full) sync, its duration (log)', ratio: true },
  { key: 'programming.network_programming', label: 'network programming latency (slice change → new endpoint answers)', ratio: true },
  { key: 'programming.agent_sync_per_change', label: 'agent sync per slice change (log)', ratio: true },
  { key: 'memory.agent_rss', label: 'agent RSS', ratio: true },
  { key: 'memory.agent_peak_rss', label: 'agent peak RSS (VmHWM)', ratio: true },
  { key: 'memory.bpf_maps', label: 'BPF maps, kernel memory (memlock, all maps of the node)' },
  { key: 'memory.bpf_maglev_tables', label: 'BPF maps: the inner Maglev tables alone' },
  { key: 'memory.iptables_save', label: 'iptables-save size (no kernel accounting for rules)' },
  { key: 'memory.iptables_rules', label: 'iptables rules' },
];

/** The iptables modes present in a set of results, in MODES order. */
export function iptablesModesOf(results: CombinationResult[]): Mode[] {
  const present = new Set(results.map((r) => r.mode));
  return MODES.filter((m) => isIptablesMode(m) && present.has(m));
}

/** Every mode present, ebpf first. */
function modesOf(results: CombinationResult[]): Mode[] {
  const present = new Set(results.map((r) => r.mode));
  return MODES.filter((m) => present.has(m));
}

export function computeRatios(results: CombinationResult[]): Ratio[] {
  const out: Ratio[] = [];
  for (const e of results.filter((r) => r.mode === 'ebpf')) {
    for (const i of results.filter((r) => isIptablesMode(r.mode) && r.services === e.services && r.endpoints === e.endpoints)) {
      for (const key of Object.keys(e.figures)) {
        if (key.startsWith('lab.')) continue; // the lab API server's speed, not a property of either mode
        const a = e.figures[key];
        const b = i.figures[key];
        if (!isFigure(a) || !isFigure(b)) continue;
        for (const stat of ['p50', 'p99'] as const) {
          if (b[stat] === 0) continue;
          out.push({ services: e.services, endpoints: e.endpoints, figure: key, unit: a.unit, stat, against: i.mode, ebpf: a[stat], iptables: b[stat], ratio: Number((a[stat] / b[stat]).toFixed(4)) });
        }
      }
    }
  }
  return out;
}

export function computeFamilyRatios(results: CombinationResult[]): FamilyRatio[] {
  const out: FamilyRatio[] = [];
  for (const r of results) {
    for (const key of [...FAMILY_TESTRUN_FIGURES, ...FAMILY_LATENCY_FIGURES]) {
      const a = r.figures[key];
      const b = r.figures[ipv6Key(key)];
      if (!isFigure(a) || !isFigure(b) || a.p50 === 0) continue;
      out.push({ mode: r.mode, services: r.services, endpoints: r.endpoints, figure: key, unit: a.unit, ipv4: a.p50, ipv6: b.p50, ratio: Number((b.p50 / a.p50).toFixed(4)) });
    }
  }
  return out;
}

/** IPv6 beside IPv4: per-packet rows (ebpf) and connect() latency (both modes), p50 each and IPv6/IPv4. */
export function familyMarkdown(rep: BenchReport): string[] {
  const fr = rep.familyRatios ?? computeFamilyRatios(rep.results);
  if (fr.length === 0) return [];
  const label = (k: string): string => MAIN_FIGURES.find((f) => f.key === k)?.label ?? k;
  const lines = ['## IPv6 beside IPv4', '',
    'p50 of each family from the same lab and run (dual-stack Services, one slice per family); per-packet rows alternate the families sample by sample.', '',
    '| mode | endpoints | Services | figure | unit | IPv4 | IPv6 | IPv6/IPv4 |', '|---|---:|---:|---|---|---:|---:|---:|'];
  for (const x of fr) lines.push(`| ${x.mode} | ${x.endpoints} | ${x.services} | ${label(x.figure)} | ${x.unit} | ${fmt(x.ipv4)} | ${fmt(x.ipv6)} | ${x.ratio.toFixed(2)} |`);
  lines.push('');
  return lines;
}

/** A goal's verdict: met, not met, or not measured (undefined). */
function verdict(ok: boolean | undefined): string {
  return ok === undefined ? 'not measured' : ok ? '**met**' : '**not met**';
}

/** Issue #16's two benchmark goals, computed from the run. */
export function ipv6GoalsMarkdown(rep: BenchReport): string[] {
  const { es, ns } = sizes(rep);
  const out: string[] = [];
  const fr = (rep.familyRatios ?? computeFamilyRatios(rep.results)).filter((x) => x.mode === 'ebpf' && FAMILY_TESTRUN_FIGURES.includes(x.figure));
  if (fr.length === 0) out.push(`- IPv6 per-packet cost within ${IPV6_COST_BOUND}× of IPv4's: not measured (an IPv4-only run: --ip-family ipv4)`);
  else {
    const worst = fr.reduce((a, b) => (b.ratio > a.ratio ? b : a));
    const over = fr.filter((x) => x.ratio > IPV6_COST_BOUND);
    const rows = [...new Set(fr.map((x) => x.figure))].length;
    out.push(`- IPv6 per-packet cost within ${IPV6_COST_BOUND}× of IPv4's (p50, ${rows} rows × ${new Set(fr.map((x) => `${x.endpoints}/${x.services}`)).size} combinations, single test runs in the lab): worst ${worst.ratio.toFixed(2)}× (${worst.figure.replace('testrun.', '')} at ${worst.services} Services × ${worst.endpoints}: ${fmt(worst.ipv4)} vs ${fmt(worst.ipv6)} ns)` +
      `${over.length ? `; over ${IPV6_COST_BOUND}×: ${over.map((x) => `${x.figure.replace('testrun.', '')} ${x.services}×${x.endpoints} ${x.ratio.toFixed(2)}×`).join(', ')}` : ''}: ${verdict(over.length === 0)}`);
  }
  // Added first-packet latency over IPv6, as for IPv4 (goalsMarkdown): LAST Service's connect() minus the ebpf lab's pod connect(), both IPv6.
  const added = (n: number, e: number, m: Mode): { eb: number; ip: number; floor: number } | undefined => {
    const floor = p50Of(rep, 'ebpf', e, n, 'latency.ipv6.pod');
    const eb = p50Of(rep, 'ebpf', e, n, 'latency.ipv6.last_vip');
    const ip = p50Of(rep, m, e, n, 'latency.ipv6.last_vip');
    return floor === undefined || eb === undefined || ip === undefined ? undefined : { eb, ip, floor };
  };
  const line = (n: number, e: number, m: Mode, a: { eb: number; ip: number; floor: number }): string => {
    const addE = Math.max(a.eb - a.floor, 1), addI = a.ip - a.floor;
    return `ebpf ${fmt(a.eb - a.floor)} µs, ${m} (ip6tables) ${fmt(addI)} µs, ${(addI / addE).toFixed(0)}× (LAST Service's IPv6 connect() p50 minus the ebpf lab's IPv6 pod connect() p50 of ${fmt(a.floor)} µs, ${n} Services × ${e}; an added ebpf latency under 1 µs counts as 1 µs)`;
  };
  const ipModes = iptablesModesOf(rep.results);
  let any = false;
  for (const m of ipModes) {
    for (const e of es) {
      const a = ns.includes(10_000) ? added(10_000, e, m) : undefined;
      if (!a) continue;
      any = true;
      const addE = Math.max(a.eb - a.floor, 1), addI = a.ip - a.floor;
      out.push(`- IPv6 added first-packet latency at 10,000 Services, ${e} endpoints, at least 20× below iptables mode's: ${line(10_000, e, m, a)}: ${verdict(addI / addE >= 20)}`);
    }
  }
  if (!any) {
    const big = [...ns].reverse().flatMap((n) => es.flatMap((e) => ipModes.map((m) => ({ n, e, m, a: added(n, e, m) })))).find((x) => x.a);
    out.push(`- IPv6 added first-packet latency at 10,000 Services at least 20× below iptables mode's: not measured (no 10,000-Service combination with both modes in this run)${big ? `; at ${big.n} Services: ${line(big.n, big.e, big.m, big.a!)}` : ''}`);
  }
  out.push('');
  return out;
}

function unitFmt(v: number, unit: string): string {
  if (unit === 'bytes') {
    if (v >= 1 << 30) return `${(v / (1 << 30)).toFixed(2)} GiB`;
    if (v >= 1 << 20) return `${(v / (1 << 20)).toFixed(1)} MiB`;
    if (v >= 1 << 10) return `${(v / (1 << 10)).toFixed(1)} KiB`;
    return `${v} B`;
  }
  return fmt(v);
}

function cell(f: FigureOrNot | undefined): string {
  if (!f) return '–';
  if (!isFigure(f)) return `n/a${f.reason.startsWith('not available') ? ' (not in this build)' : ''}`;
  if (f.n === 1) return unitFmt(f.p50, f.unit);
  return `${unitFmt(f.p50, f.unit)} [${unitFmt(f.p99, f.unit)}]`;
}

function unitLabel(unit: string): string {
  return unit === 'bytes' ? '' : unit;
}

function resultOf(rep: BenchReport, mode: Mode, e: number, n: number): CombinationResult | undefined {
  return rep.results.find((r) => r.mode === mode && r.endpoints === e && r.services === n);
}

function figOf(rep: BenchReport, mode: Mode, e: number, n: number, key: string): FigureOrNot | undefined {
  return resultOf(rep, mode, e, n)?.figures[key];
}

function p50Of(rep: BenchReport, mode: Mode, e: number, n: number, key: string): number | undefined {
  const f = figOf(rep, mode, e, n, key);
  return isFigure(f) ? f.p50 : undefined;
}

/** Endpoint counts and Service counts of the run, ascending. */
function sizes(rep: BenchReport): { es: number[]; ns: number[] } {
  const asc = (xs: number[]): number[] => [...new Set(xs)].sort((a, b) => a - b);
  return { es: asc(rep.results.map((r) => r.endpoints)), ns: asc(rep.results.map((r) => r.services)) };
}

/** The headline table: one row per (endpoints, Services), every mode side by side. */
export function summaryMarkdown(rep: BenchReport): string[] {
  const { es, ns } = sizes(rep);
  const modes = modesOf(rep.results);
  const lines: string[] = [];
  lines.push(`p50 [p99]; ${modes.join(' | ')}. Latency: TCP connect() through the LAST Service created, µs. Programming: EndpointSlice change until traffic follows, ms. Cold: empty node until every sampled VIP answers, ms. RSS: agent, MiB.`, '');
  const groups = ['latency', 'programming', 'cold', 'RSS'];
  lines.push(`| endpoints | Services | ${groups.flatMap((g) => modes.map((m) => `${g} ${m}`)).join(' | ')} |`);
  lines.push(`|---:|---:|${groups.flatMap(() => modes.map(() => '---:|')).join('')}`);
  for (const e of es) {
    for (const n of ns) {
      // A combination whose cold start never succeeded has no other figure.
      const failed = (m: Mode): boolean => (resultOf(rep, m, e, n)?.errors.length ?? 0) > 0;
      const c = (m: Mode, k: string): string => {
        const f = figOf(rep, m, e, n, k);
        return !f && failed(m) ? 'failed¹' : cell(f);
      };
      const mib = (m: Mode): string => {
        const v = p50Of(rep, m, e, n, 'memory.agent_rss');
        return v !== undefined ? (v / (1 << 20)).toFixed(0) : failed(m) ? 'failed¹' : '–';
      };
      const cells = [
        ...modes.map((m) => c(m, 'latency.last_vip')),
        ...modes.map((m) => c(m, 'programming.network_programming')),
        ...modes.map((m) => c(m, 'programming.cold_start')),
        ...modes.map(mib),
      ];
      lines.push(`| ${e} | ${n} | ${cells.join(' | ')} |`);
    }
  }
  if (lines.some((l) => l.includes('failed¹'))) lines.push('', '¹ not measured: the combination stopped at a failed cold start (the cold start cell, when there is one, is of those that succeeded): see Errors.');
  lines.push('');
  return lines;
}

/** The goals of issue 7 (then issue #17's, scaleGoalsMarkdown), each checked against this run's figures (met / not met / not measured). */
export function goalsMarkdown(rep: BenchReport): string[] {
  const { es, ns } = sizes(rep);
  const out: string[] = [];
  // 1. Per-packet cost flat in the number of Services.
  for (const key of ['testrun.tc_new_flow', 'testrun.tc_established']) {
    const parts: string[] = [];
    let worst: number | undefined;
    for (const e of es) {
      const vals = ns.map((n) => p50Of(rep, 'ebpf', e, n, key));
      if (vals.some((v) => v === undefined)) continue;
      const v = vals as number[];
      const ratio = Math.max(...v) / Math.min(...v);
      worst = Math.max(worst ?? 0, ratio);
      parts.push(`${e} endpoints: ${v.map((x) => fmt(x)).join(' / ')} ns`);
    }
    if (worst === undefined) {
      out.push(`- Per-packet cost flat in the Service count (${key}): not measured`);
      continue;
    }
    out.push(`- Per-packet cost flat in the Service count (${key}, p50 at ${ns.join(' / ')} Services): ${parts.join('; ')}; largest/smallest ${worst.toFixed(2)} (counted as flat: within 1.5× over the whole range; the lookups are O(1) hash lookups, what moves is cache misses and the noise of single test runs): ${verdict(worst <= 1.5)}`);
  }
  // 2. Added first-packet latency at 10,000 Services, >= 20x below iptables.
  // "Added" = connect() through the VIP minus connect() to a pod in the ebpf
  // lab (no rule in its way: ebpf mode adds ~0.1 µs to non-service packets);
  // the iptables lab's pod connect pays the KUBE-SERVICES walk too, so it is
  // no floor.
  const n10k = ns.includes(10_000) ? 10_000 : undefined;
  for (const m of iptablesModesOf(rep.results)) {
    for (const e of es) {
      if (!n10k) break;
      const floor = p50Of(rep, 'ebpf', e, n10k, 'latency.pod');
      const eb = p50Of(rep, 'ebpf', e, n10k, 'latency.last_vip');
      const ip = p50Of(rep, m, e, n10k, 'latency.last_vip');
      if (floor === undefined || eb === undefined || ip === undefined) continue;
      const addE = Math.max(eb - floor, 1), addI = ip - floor;
      out.push(`- Added first-packet latency at 10,000 Services, ${e} endpoints (LAST Service's connect() p50 minus the ebpf lab's pod connect() p50 of ${fmt(floor)} µs; an added ebpf latency under 1 µs counts as 1 µs): ebpf ${fmt(eb - floor)} µs, ${m} ${fmt(addI)} µs, ${(addI / addE).toFixed(0)}× (goal ≥ 20×): ${verdict(addI / addE >= 20)}`);
    }
  }
  out.push('', ...scaleGoalsMarkdown(rep));
  return out;
}

/** Bound for "unchanged or better" against the baseline: single runs of one lab move this much on their own. */
export const BASELINE_TOLERANCE = 1.1;

function p50p99(f: FigureOrNot | undefined, scale = 1, digits?: number): string {
  if (!isFigure(f)) return '–';
  const v = (x: number): string => (digits === undefined ? fmt(x / scale) : (x / scale).toFixed(digits));
  return `${v(f.p50)} [${v(f.p99)}]`;
}

/**
 * Issue #17's goals, each judged from this run (and, where the goal says
 * "unchanged", the --baseline run): met / not met / not measured (a size the
 * run did not include).
 */
export function scaleGoalsMarkdown(rep: BenchReport): string[] {
  const { es, ns } = sizes(rep);
  const out: string[] = ['### Performance at scale (issue #17)', '', 'Cells p50 [p99]; a goal is judged on p50 unless it names p99.', ''];
  const has = (m: Mode, e: number, n: number): boolean => resultOf(rep, m, e, n) !== undefined;
  const sizeLabel = (n: number, e: number): string => `${n.toLocaleString('en-US')} × ${e}`;
  const ebpfRuns = rep.results.filter((r) => r.mode === 'ebpf').sort((a, b) => a.endpoints - b.endpoints || a.services - b.services);
  const upTo30k = ns.includes(30_000) && es.includes(10);

  // Cold start, with the agent start and the first full sync apart.
  for (const [n, goalMs] of [[10_000, 2000], [30_000, 6000]] as const) {
    const cold = figOf(rep, 'ebpf', 10, n, 'programming.cold_start');
    const detail = isFigure(cold)
      ? `${p50p99(cold)} ms (agent start ${p50p99(figOf(rep, 'ebpf', 10, n, 'programming.agent_start'))} ms, first full sync ${p50p99(figOf(rep, 'ebpf', 10, n, 'programming.agent_cold_sync'))} ms; ${cold.n} cold start(s))`
      : has('ebpf', 10, n) ? 'no successful cold start' : `not in this run`;
    out.push(`- Cold start at ${sizeLabel(n, 10)} in ${goalMs / 1000} s or less (ebpf, agent start until every sampled VIP answers): ${detail}: ${verdict(isFigure(cold) ? cold.p50 <= goalMs : has('ebpf', 10, n) ? false : undefined)}`);
  }

  // Network programming p99 at every size, and p50 against the baseline.
  const np = ebpfRuns.map((r) => ({ r, f: r.figures['programming.network_programming'] }));
  const npParts = np.map(({ r, f }) => `${sizeLabel(r.services, r.endpoints)}: ${p50p99(f)}`);
  const over = np.filter(({ f }) => !isFigure(f) || f.p99 > 10);
  out.push(`- Network programming p99 at 10 ms or less at every size up to 30,000 × 10 (ebpf, ms): ${npParts.join('; ') || '–'}` +
    `${over.length ? `; over 10 ms: ${over.map(({ r }) => sizeLabel(r.services, r.endpoints)).join(', ')}` : ''}` +
    `${upTo30k ? '' : ' (30,000 × 10 not in this run)'}: ${verdict(np.length === 0 ? undefined : over.length > 0 ? false : upTo30k ? true : undefined)}`);
  const base = rep.baseline;
  const baseOf = (mode: Mode, e: number, n: number, key: string): BaselineFigure | undefined =>
    base?.figures.find((b) => b.mode === mode && b.endpoints === e && b.services === n && b.figure === key);
  const againstBaseline = (key: string, what: string, unit: string): string => {
    if (!base) return `- ${what}: not measured (no --baseline)`;
    const rows = ebpfRuns.flatMap((r) => {
      const now = r.figures[key];
      const was = baseOf('ebpf', r.endpoints, r.services, key);
      return isFigure(now) && was ? [{ r, now: now.p50, was: was.p50 }] : [];
    });
    if (rows.length === 0) return `- ${what}: not measured (no size in both runs)`;
    const worse = rows.filter((x) => x.now > x.was * BASELINE_TOLERANCE);
    const machine = base.cpuModel && base.cpuModel !== rep.machine.cpuModel ? `, baseline on another CPU (${base.cpuModel})` : '';
    const over = (base.runs ?? 1) > 1 ? `, median of ${base.runs} runs` : '';
    return `- ${what} (ebpf p50, ${unit}, now / baseline ${base.commit.slice(0, 7)} of ${base.startedAt.slice(0, 10)}${over}${machine}; within ${Math.round((BASELINE_TOLERANCE - 1) * 100)} % counts as unchanged): ` +
      `${rows.map((x) => `${sizeLabel(x.r.services, x.r.endpoints)}: ${fmt(x.now)} / ${fmt(x.was)}`).join('; ')}` +
      `${worse.length ? `; worse: ${worse.map((x) => `${sizeLabel(x.r.services, x.r.endpoints)} ${(x.now / x.was).toFixed(2)}×`).join(', ')}` : ''}: ${verdict(worse.length === 0)}`;
  };
  out.push(againstBaseline('programming.network_programming', "Network programming p50 unchanged or better than the baseline run's", 'ms'));

  // Agent RSS.
  for (const [n, goalMB] of [[10_000, 300], [30_000, 600]] as const) {
    const rss = figOf(rep, 'ebpf', 10, n, 'memory.agent_rss');
    const peak = figOf(rep, 'ebpf', 10, n, 'memory.agent_peak_rss');
    out.push(`- Agent RSS at ${goalMB} MB or less at ${sizeLabel(n, 10)} (ebpf, MB): ${isFigure(rss) ? `${p50p99(rss, 1e6, 0)} over ${rss.note?.match(/(\d+) readings/)?.[1] ?? 'several'} readings while idle (peak since start ${isFigure(peak) ? (peak.p50 / 1e6).toFixed(0) : '–'})` : has('ebpf', 10, n) ? 'not measured in this combination' : 'not in this run'}: ${verdict(isFigure(rss) ? rss.p50 <= goalMB * 1e6 : undefined)}`);
  }

  // New flows, every size; established against the baseline.
  for (const [key, what] of [['testrun.tc_new_flow', 'tc new flow'], ['testrun.xdp_nodeport_new_flow', 'XDP NodePort new flow']] as const) {
    const rows = ebpfRuns.map((r) => ({ r, f: r.figures[key] })).filter((x) => isFigure(x.f));
    const worst = rows.reduce<{ r: CombinationResult; p50: number } | undefined>((w, x) => (isFigure(x.f) && (!w || x.f.p50 > w.p50) ? { r: x.r, p50: x.f.p50 } : w), undefined);
    out.push(`- ${what} at 600 ns p50 or less (${key}, single BPF_PROG_TEST_RUN runs, ns): ` + (worst
      ? `${rows.map((x) => `${sizeLabel(x.r.services, x.r.endpoints)}: ${p50p99(x.f)}`).join('; ')}; worst p50 ${fmt(worst.p50)} at ${sizeLabel(worst.r.services, worst.r.endpoints)}: ${verdict(worst.p50 <= 600)}`
      : 'not measured'));
  }
  out.push(againstBaseline('testrun.tc_established', "tc established flow at or under the baseline run's (testrun.tc_established)", 'ns'));
  out.push(againstBaseline('testrun.xdp_nodeport_established', "XDP NodePort established flow at or under the baseline run's (testrun.xdp_nodeport_established)", 'ns'));

  // The iptables fallback converges at every size, per back end.
  for (const m of iptablesModesOf(rep.results)) {
    const runs = rep.results.filter((r) => r.mode === m).sort((a, b) => a.endpoints - b.endpoints || a.services - b.services);
    const parts = runs.map((r) => {
      const cold = r.figures['programming.cold_start'];
      const np2 = r.figures['programming.network_programming'];
      const timeouts = r.notes.find((x) => x.startsWith('network programming:'));
      return `${sizeLabel(r.services, r.endpoints)}: ${isFigure(cold) ? `cold ${p50p99(cold, 1000, 1)} s` : 'no cold start'}, programming ${isFigure(np2) ? `${p50p99(np2)} ms (${np2.n} flips)` : 'not measured'}${timeouts ? ` — ${timeouts.replace('network programming: ', '')}` : ''}`;
    });
    // Not converged: no cold start, or a change not seen in time. Incomplete: a cold start converged but the
    // combination stopped before its changes were timed (an error of the harness, in Errors).
    const cold = (r: CombinationResult): boolean => isFigure(r.figures['programming.cold_start']);
    const bad = runs.filter((r) => !cold(r) || r.notes.some((x) => x.startsWith('network programming:')));
    const incomplete = runs.filter((r) => cold(r) && !bad.includes(r) && !isFigure(r.figures['programming.network_programming']));
    const biggest = runs.some((r) => r.services === 30_000 && r.endpoints === 10 && !incomplete.includes(r));
    out.push(`- The iptables fallback converges at every size up to 30,000 × 10, ${m}: ${parts.join('; ') || 'not measured'}` +
      `${bad.length ? `; did not converge: ${bad.map((r) => sizeLabel(r.services, r.endpoints)).join(', ')}` : ''}` +
      `${incomplete.length ? `; changes not measured: ${incomplete.map((r) => `${sizeLabel(r.services, r.endpoints)} (${r.errors[0] ?? 'no figure'})`.replace(/\s+/g, ' ')).join(', ')}` : ''}` +
      `${runs.some((r) => r.services === 30_000 && r.endpoints === 10) ? '' : ' (30,000 × 10 not in this run)'}: ${verdict(bad.length > 0 ? false : biggest && incomplete.length === 0 ? true : undefined)}`);
  }
  if (!iptablesModesOf(rep.results).some((m) => m === 'iptables-legacy') || !iptablesModesOf(rep.results).some((m) => m === 'iptables-nft')) {
    out.push(`- The iptables fallback on both legacy and nft: not measured (this run's iptables modes: ${iptablesModesOf(rep.results).join(', ') || 'none'}; --modes ebpf,iptables-legacy,iptables-nft)`);
  }
  const nft = figOf(rep, 'iptables-nft', 2, 10_000, 'programming.cold_start');
  out.push(`- nft cold start of 10,000 × 2 in 5 s or less (iptables-nft, s): ${isFigure(nft) ? p50p99(nft, 1000, 1) : has('iptables-nft', 2, 10_000) ? 'no successful cold start' : 'not in this run'}: ${verdict(isFigure(nft) ? nft.p50 <= 5000 : has('iptables-nft', 2, 10_000) ? false : undefined)}`);
  out.push('');
  return out;
}

export function markdown(rep: BenchReport): string {
  const m = rep.machine;
  const lines: string[] = [];
  lines.push(`# ${rep.title}`, '');
  lines.push(`- preset **${rep.preset}**, started ${rep.startedAt}, ${Math.round(rep.durationS)} s; command \`${rep.command}\``);
  lines.push(`- machine: ${m.cpuModel}, ${m.nproc} CPUs, ${(m.memTotalBytes / (1 << 30)).toFixed(1)} GiB, kernel ${m.kernel}, Node ${m.node}; load average at start ${m.loadavgAtStart.join(' ')}, at end ${m.loadavgAtEnd.join(' ')}`);
  lines.push(`- commit ${m.gitCommit || '?'}${m.gitDirty ? ' (with uncommitted changes)' : ''}; ${m.iptables}`);
  if (rep.options.agentArgs.length > 0) lines.push(`- extra agent arguments: \`${rep.options.agentArgs.join(' ')}\``);
  lines.push(`- modes: ${rep.options.modes.join(', ')} (iptables-legacy / iptables-nft: the agent's \`--iptables-backend\` pinned); IP family: ${rep.options.ipFamily}`);
  if (rep.baseline) {
    const other = rep.baseline.cpuModel && rep.baseline.cpuModel !== m.cpuModel ? `; measured on another machine (${rep.baseline.cpuModel}): the comparison mixes the change with the machine` : '';
    lines.push(`- baseline for the "unchanged or better" goals: \`${rep.baseline.source}\` (commit ${rep.baseline.commit.slice(0, 7)}, ${rep.baseline.startedAt}${other})`);
  }
  lines.push('- cells: p50 [p99] over the samples (see results.json for n, runs, min/p90/max, stddev); ratio = ebpf p50 / iptables p50, both from this run');
  lines.push('- per-packet rows are single BPF_PROG_TEST_RUN runs, whose kernel timing includes the overhead of one run: the two non-service rows estimate it; see docs/benchmarks.md', '');
  lines.push('## Summary', '', ...summaryMarkdown(rep));
  lines.push('## Goals', '', ...goalsMarkdown(rep));
  if (rep.results.some((r) => Object.keys(r.figures).some((k) => k.includes('.ipv6.')))) lines.push('### IPv6 (issue #16)', '', ...ipv6GoalsMarkdown(rep), ...familyMarkdown(rep));
  const { es, ns } = sizes(rep);
  const modes = modesOf(rep.results);
  const ipModes = iptablesModesOf(rep.results);
  for (const e of es) {
    lines.push(`## ${e} endpoints per Service`, '');
    lines.push(`| Services | figure | unit | ${modes.join(' | ')} | ${ipModes.map((m) => `ebpf/${m}`).join(' | ')} |`, `|---:|---|---|${modes.map(() => '---:|').join('')}${ipModes.map(() => '---:|').join('')}`);
    for (const n of ns) {
      const byMode = new Map(modes.map((m) => [m, resultOf(rep, m, e, n)]));
      for (const f of MAIN_FIGURES) {
        const cells = modes.map((m) => byMode.get(m)?.figures[f.key]);
        if (cells.every((c) => !c)) continue;
        const unit = cells.find((c) => c)!.unit;
        const a = byMode.get('ebpf')?.figures[f.key];
        const ratios = ipModes.map((m) => {
          const b = byMode.get(m)?.figures[f.key];
          return f.ratio && isFigure(a) && isFigure(b) && b.p50 !== 0 ? (a.p50 / b.p50).toFixed(2) : '';
        });
        lines.push(`| ${n} | ${f.label} | ${unitLabel(unit)} | ${cells.map(cell).join(' | ')} | ${ratios.join(' | ')} |`);
      }
    }
    lines.push('');
  }
  const lab = rep.results.filter((r) => r.figures['lab.create_service_pair']);
  if (lab.length > 0) {
    lines.push('## Lab API server (not Switchyard): creating the objects', '');
    lines.push('| mode | endpoints | Services | new Services | wall time | rate | per Service+slice p50 [p99] |', '|---|---:|---:|---:|---:|---:|---:|');
    for (const r of lab) {
      const w = r.figures['lab.create_wall'];
      const rate = r.figures['lab.create_rate'];
      lines.push(`| ${r.mode} | ${r.endpoints} | ${r.services} | ${isFigure(w) ? (w.note ?? '') : ''} | ${cell(w)} s | ${cell(rate)} /s | ${cell(r.figures['lab.create_service_pair'])} ms |`);
    }
    lines.push('');
  }
  const loader = rep.results.find((r) => isFigure(r.figures['loader.set_maglev_table']));
  if (loader) {
    lines.push('## Loader map writes (ebpf)', '');
    for (const k of ['loader.set_maglev_table', 'loader.delete_maglev_table', 'loader.upsert_hash_entry']) {
      const f = loader.figures[k];
      if (isFigure(f)) lines.push(`- ${f.what}: p50 ${fmt(f.p50)} ${f.unit}, p99 ${fmt(f.p99)} (n=${f.n})`);
    }
    lines.push('');
  }
  const noted = rep.results.filter((r) => r.notes.length > 0);
  if (noted.length > 0) {
    lines.push('## Notes', '');
    for (const r of noted) for (const n of r.notes) lines.push(`- ${r.mode}, ${r.endpoints} endpoints, ${r.services} Services: ${n}`);
    lines.push('');
  }
  if (rep.findings.length > 0) {
    lines.push('## Findings', '');
    for (const f of rep.findings) lines.push(`- ${f}`);
    lines.push('');
  }
  const unav = new Set<string>();
  for (const r of rep.results) for (const [k, f] of Object.entries(r.figures)) if (!isFigure(f)) unav.add(`${k} (${r.mode}): ${f.reason}`);
  if (unav.size > 0) {
    lines.push('## Not measured', '');
    for (const u of unav) lines.push(`- ${u}`);
    lines.push('');
  }
  if (rep.errors.length > 0) {
    lines.push('## Errors', '');
    for (const e of rep.errors) lines.push(`- ${e.replace(/\n/g, ' ')}`);
    lines.push('');
  }
  lines.push('![first-packet latency and programming time vs Service count](results.svg)', '');
  return lines.join('\n');
}

// ---- SVG ---------------------------------------------------------------------

interface Series { label: string; color: string; dash: boolean; marker: 'circle' | 'square'; points: Array<{ x: number; y: number; lo?: number; hi?: number }> }

const COLORS: Record<string, string> = { ebpf: '#1f77b4', iptables: '#d62728', 'iptables-legacy': '#d62728', 'iptables-nft': '#ff7f0e', floor: '#7f7f7f' };
const FLOOR_COLORS: Record<string, string> = { ebpf: '#7f7f7f', iptables: '#bcbd22', 'iptables-legacy': '#bcbd22', 'iptables-nft': '#8c564b' };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceLogTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  }
  return out;
}

function intFmt(x: number): string {
  return x >= 1000 && x % 1000 === 0 ? `${x / 1000}k` : String(x);
}

/** One log-log panel with its legend below; series are nudged sideways so their bars do not overlap. */
function panel(x0: number, y0: number, w: number, h: number, title: string, yLabel: string, series: Series[], xs: number[]): string {
  const shown = series.filter((s) => s.points.some((p) => p.y > 0));
  const pts = shown.flatMap((s) => s.points.flatMap((p) => [p.y, p.lo ?? p.y, p.hi ?? p.y])).filter((v) => v > 0);
  if (pts.length === 0 || xs.length === 0) return `<text x="${x0 + w / 2}" y="${y0 + 40}" text-anchor="middle">${esc(title)}: no data</text>`;
  const ylo = 10 ** Math.floor(Math.log10(Math.min(...pts) / 1.2));
  const yhi = 10 ** Math.ceil(Math.log10(Math.max(...pts) * 1.2));
  const xlo = Math.min(...xs) / 1.8;
  const xhi = Math.max(...xs) * 1.8;
  const L = 62, R = 14, T = 28, B = 44;
  const px = (x: number): number => x0 + L + ((Math.log10(x) - Math.log10(xlo)) / (Math.log10(xhi) - Math.log10(xlo))) * (w - L - R);
  const py = (y: number): number => y0 + T + (1 - (Math.log10(y) - Math.log10(ylo)) / (Math.log10(yhi) - Math.log10(ylo))) * (h - T - B);
  const o: string[] = [];
  o.push(`<rect x="${x0 + L}" y="${y0 + T}" width="${w - L - R}" height="${h - T - B}" fill="none" stroke="#999"/>`);
  o.push(`<text x="${x0 + w / 2}" y="${y0 + 18}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);
  for (const t of niceLogTicks(ylo, yhi)) {
    o.push(`<line x1="${x0 + L}" x2="${x0 + w - R}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" stroke="#eee"/>`);
    o.push(`<text x="${x0 + L - 4}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end" font-size="10">${fmt(t)}</text>`);
  }
  for (const x of xs) {
    o.push(`<line x1="${px(x).toFixed(1)}" x2="${px(x).toFixed(1)}" y1="${y0 + T}" y2="${y0 + h - B}" stroke="#eee"/>`);
    o.push(`<text x="${px(x).toFixed(1)}" y="${y0 + h - B + 14}" text-anchor="middle" font-size="10">${intFmt(x)}</text>`);
  }
  o.push(`<text x="${x0 + L + (w - L - R) / 2}" y="${y0 + h - 8}" text-anchor="middle" font-size="11">Services (log scale)</text>`);
  o.push(`<text transform="translate(${x0 + 14},${y0 + T + (h - T - B) / 2}) rotate(-90)" text-anchor="middle" font-size="11">${esc(yLabel)} (log scale)</text>`);
  shown.forEach((s, si) => {
    const dx = (si - (shown.length - 1) / 2) * 3;
    const ps = s.points.filter((p) => p.y > 0).sort((a, b) => a.x - b.x);
    if (ps.length > 1) {
      o.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.8"${s.dash ? ' stroke-dasharray="5,3"' : ''} points="${ps.map((p) => `${(px(p.x) + dx).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ')}"/>`);
    }
    for (const p of ps) {
      const cx = px(p.x) + dx;
      if (p.lo !== undefined && p.hi !== undefined && p.lo > 0 && p.hi > 0) {
        o.push(`<line x1="${cx.toFixed(1)}" x2="${cx.toFixed(1)}" y1="${py(p.lo).toFixed(1)}" y2="${py(p.hi).toFixed(1)}" stroke="${s.color}" stroke-width="1.2" opacity="0.5"/>`);
      }
      o.push(s.marker === 'circle'
        ? `<circle cx="${cx.toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3.2" fill="${s.color}"/>`
        : `<rect x="${(cx - 3).toFixed(1)}" y="${(py(p.y) - 3).toFixed(1)}" width="6" height="6" fill="${s.color}"/>`);
    }
    const ly = y0 + h + 10 + si * 16;
    const lx = x0 + L;
    o.push(`<line x1="${lx}" x2="${lx + 26}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dash ? ' stroke-dasharray="5,3"' : ''}/>`);
    o.push(s.marker === 'circle' ? `<circle cx="${lx + 13}" cy="${ly - 4}" r="3" fill="${s.color}"/>` : `<rect x="${lx + 10}" y="${ly - 7}" width="6" height="6" fill="${s.color}"/>`);
    o.push(`<text x="${lx + 32}" y="${ly}" font-size="11">${esc(s.label)}</text>`);
  });
  return o.join('\n');
}

export function svgChart(rep: BenchReport): string {
  const { es, ns: xs } = sizes(rep);
  const modes = modesOf(rep.results);
  const markerOf = (e: number): 'circle' | 'square' => (es.indexOf(e) % 2 === 0 ? 'circle' : 'square');
  const series = (key: string, mode: Mode, e: number, label: string, dash: boolean, color = COLORS[mode]!): Series => ({
    label,
    color,
    dash,
    marker: markerOf(e),
    points: rep.results.filter((r) => r.mode === mode && r.endpoints === e).flatMap((r) => {
      const f = r.figures[key];
      return isFigure(f) ? [{ x: r.services, y: f.p50, lo: f.p50, hi: f.p99 }] : [];
    }),
  });
  const left: Series[] = [];
  const right: Series[] = [];
  for (const e of es) {
    const ep = es.length > 1 ? `, ${e} endpoints` : '';
    for (const mode of modes) {
      left.push(series('latency.last_vip', mode, e, `${mode}: LAST Service created${ep}`, false));
      left.push(series('latency.first_vip', mode, e, `${mode}: FIRST Service created${ep}`, true));
    }
    for (const mode of modes) left.push(series('latency.pod', mode, e, `pod directly, the floor (${mode} lab)${ep}`, true, FLOOR_COLORS[mode]!));
    for (const mode of modes) {
      right.push(series('programming.cold_start', mode, e, `${mode}: cold start, empty node until sampled VIPs answer${ep}`, false));
      right.push(series('programming.network_programming', mode, e, `${mode}: EndpointSlice change until traffic follows${ep}`, true));
    }
  }
  const W = 1100, H = 420;
  const rows = Math.max(left.filter((s) => s.points.length).length, right.filter((s) => s.points.length).length);
  const total = H + 20 + rows * 16;
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${total}" viewBox="0 0 ${W} ${total}" font-family="sans-serif" font-size="12">`);
  o.push(`<rect width="${W}" height="${total}" fill="white"/>`);
  o.push(panel(0, 0, W / 2, H, 'First-packet latency: TCP connect() p50, bar to p99', 'µs', left, xs));
  o.push(panel(W / 2, 0, W / 2, H, 'Programming time p50, bar to p99', 'ms', right, xs));
  o.push('</svg>');
  return o.join('\n');
}
