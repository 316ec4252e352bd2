// Results: JSON (everything), a Markdown table (the main figures side by
// side with ebpf/iptables ratios) and a hand-written SVG chart.
import type { MachineInfo } from './machine.js';
import type { BenchOptions, Mode } from './options.js';
import type { FlipSample } from './measure-programming.js';
import { fmt, isFigure, type FigureOrNot } from './stats.js';

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
  ebpf: number;
  iptables: number;
  /** ebpf / iptables */
  ratio: number;
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

export function computeRatios(results: CombinationResult[]): Ratio[] {
  const out: Ratio[] = [];
  for (const e of results.filter((r) => r.mode === 'ebpf')) {
    const i = results.find((r) => r.mode === 'iptables' && r.services === e.services && r.endpoints === e.endpoints);
    if (!i) continue;
    for (const key of Object.keys(e.figures)) {
      if (key.startsWith('lab.')) continue; // the lab API server's speed, not a property of either mode
      const a = e.figures[key];
      const b = i.figures[key];
      if (!isFigure(a) || !isFigure(b)) continue;
      for (const stat of ['p50', 'p99'] as const) {
        if (b[stat] === 0) continue;
        out.push({ services: e.services, endpoints: e.endpoints, figure: key, unit: a.unit, stat, ebpf: a[stat], iptables: b[stat], ratio: Number((a[stat] / b[stat]).toFixed(4)) });
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
  const added = (n: number, e: number): { eb: number; ip: number; floor: number } | undefined => {
    const floor = p50Of(rep, 'ebpf', e, n, 'latency.ipv6.pod');
    const eb = p50Of(rep, 'ebpf', e, n, 'latency.ipv6.last_vip');
    const ip = p50Of(rep, 'iptables', e, n, 'latency.ipv6.last_vip');
    return floor === undefined || eb === undefined || ip === undefined ? undefined : { eb, ip, floor };
  };
  const line = (n: number, e: number, a: { eb: number; ip: number; floor: number }): string => {
    const addE = Math.max(a.eb - a.floor, 1), addI = a.ip - a.floor;
    return `ebpf ${fmt(a.eb - a.floor)} µs, iptables (ip6tables) ${fmt(addI)} µs, ${(addI / addE).toFixed(0)}× (LAST Service's IPv6 connect() p50 minus the ebpf lab's IPv6 pod connect() p50 of ${fmt(a.floor)} µs, ${n} Services × ${e}; an added ebpf latency under 1 µs counts as 1 µs)`;
  };
  let any = false;
  for (const e of es) {
    const a = ns.includes(10_000) ? added(10_000, e) : undefined;
    if (!a) continue;
    any = true;
    const addE = Math.max(a.eb - a.floor, 1), addI = a.ip - a.floor;
    out.push(`- IPv6 added first-packet latency at 10,000 Services, ${e} endpoints, at least 20× below iptables mode's: ${line(10_000, e, a)}: ${verdict(addI / addE >= 20)}`);
  }
  if (!any) {
    const big = [...ns].reverse().flatMap((n) => es.map((e) => ({ n, e, a: added(n, e) }))).find((x) => x.a);
    out.push(`- IPv6 added first-packet latency at 10,000 Services at least 20× below iptables mode's: not measured (no 10,000-Service combination with both modes in this run)${big ? `; at ${big.n} Services: ${line(big.n, big.e, big.a!)}` : ''}`);
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

/** The headline table: one row per (endpoints, Services), both modes side by side. */
export function summaryMarkdown(rep: BenchReport): string[] {
  const { es, ns } = sizes(rep);
  const lines: string[] = [];
  lines.push('p50 [p99]; ebpf | iptables. Latency: TCP connect() through the LAST Service created, µs. Programming: EndpointSlice change until traffic follows, ms. Cold: empty node until every sampled VIP answers, ms. RSS: agent, MiB.', '');
  lines.push('| endpoints | Services | latency ebpf | latency iptables | programming ebpf | programming iptables | cold ebpf | cold iptables | RSS ebpf | RSS iptables |');
  lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
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
      lines.push(`| ${e} | ${n} | ${c('ebpf', 'latency.last_vip')} | ${c('iptables', 'latency.last_vip')} | ${c('ebpf', 'programming.network_programming')} | ${c('iptables', 'programming.network_programming')} | ${c('ebpf', 'programming.cold_start')} | ${c('iptables', 'programming.cold_start')} | ${mib('ebpf')} | ${mib('iptables')} |`);
    }
  }
  if (lines.some((l) => l.includes('failed¹'))) lines.push('', '¹ no cold start succeeded, so nothing else was measured for that combination: see Errors.');
  lines.push('');
  return lines;
}

/** The goals of issue 7, each checked against this run's figures (met / not met / not measured). */
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
  for (const e of es) {
    if (!n10k) break;
    const floor = p50Of(rep, 'ebpf', e, n10k, 'latency.pod');
    const eb = p50Of(rep, 'ebpf', e, n10k, 'latency.last_vip');
    const ip = p50Of(rep, 'iptables', e, n10k, 'latency.last_vip');
    if (floor === undefined || eb === undefined || ip === undefined) continue;
    const addE = Math.max(eb - floor, 1), addI = ip - floor;
    out.push(`- Added first-packet latency at 10,000 Services, ${e} endpoints (LAST Service's connect() p50 minus the ebpf lab's pod connect() p50 of ${fmt(floor)} µs; an added ebpf latency under 1 µs counts as 1 µs): ebpf ${fmt(eb - floor)} µs, iptables ${fmt(addI)} µs, ${(addI / addE).toFixed(0)}× (goal ≥ 20×): ${verdict(addI / addE >= 20)}`);
  }
  // 3. Cold programming of 10,000 Services x 10 endpoints under 2 s.
  const cold = figOf(rep, 'ebpf', 10, 10_000, 'programming.cold_start');
  out.push(`- Cold start of 10,000 Services × 10 endpoints under 2 s: ${isFigure(cold) ? `${fmt(cold.p50)} ms p50 (agent start to informers listed ${cell(figOf(rep, 'ebpf', 10, 10_000, 'programming.agent_start'))} ms, first full sync ${cell(figOf(rep, 'ebpf', 10, 10_000, 'programming.agent_cold_sync'))} ms)` : '–'}: ${verdict(isFigure(cold) ? cold.p50 < 2000 : undefined)}`);
  // 4. Network programming latency p99 under 10 ms.
  const np = rep.results.filter((r) => r.mode === 'ebpf').map((r) => [r, r.figures['programming.network_programming']] as const).filter(([, f]) => isFigure(f));
  if (np.length > 0) {
    const worst = np.reduce((a, b) => ((b[1] as { p99: number }).p99 > (a[1] as { p99: number }).p99 ? b : a));
    const over = np.filter(([, f]) => (f as { p99: number }).p99 >= 10).map(([r, f]) => `${r.services}×${r.endpoints}: ${fmt((f as { p99: number }).p99)} ms`);
    out.push(`- Network programming latency p99 under 10 ms (ebpf, every size): worst ${fmt((worst[1] as { p99: number }).p99)} ms at ${worst[0].services} Services × ${worst[0].endpoints}${over.length ? `; at or over 10 ms: ${over.join(', ')}` : ''}: ${verdict(over.length === 0)}`);
  } else out.push('- Network programming latency p99 under 10 ms: not measured');
  // 5. Agent RSS under 300 MB at 100,000 endpoints (10,000 Services x 10).
  const rss = p50Of(rep, 'ebpf', 10, 10_000, 'memory.agent_rss');
  out.push(`- Agent RSS under 300 MB at 100,000 endpoints (10,000 Services × 10, ebpf): ${rss === undefined ? '–' : `${(rss / 1e6).toFixed(0)} MB`}: ${verdict(rss === undefined ? undefined : rss < 300e6)}`);
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
  lines.push('- cells: p50 [p99] over the samples (see results.json for n, runs, min/p90/max, stddev); ratio = ebpf p50 / iptables p50, both from this run');
  lines.push('- per-packet rows are single BPF_PROG_TEST_RUN runs, whose kernel timing includes the overhead of one run: the two non-service rows estimate it; see docs/benchmarks.md', '');
  lines.push('## Summary', '', ...summaryMarkdown(rep));
  lines.push('## Goals', '', ...goalsMarkdown(rep));
  if (rep.results.some((r) => Object.keys(r.figures).some((k) => k.includes('.ipv6.')))) lines.push('### IPv6 (issue #16)', '', ...ipv6GoalsMarkdown(rep), ...familyMarkdown(rep));
  const { es, ns } = sizes(rep);
  for (const e of es) {
    lines.push(`## ${e} endpoints per Service`, '');
    lines.push('| Services | figure | unit | ebpf | iptables | ebpf/iptables |', '|---:|---|---|---:|---:|---:|');
    for (const n of ns) {
      const eb = rep.results.find((r) => r.mode === 'ebpf' && r.endpoints === e && r.services === n);
      const ip = rep.results.find((r) => r.mode === 'iptables' && r.endpoints === e && r.services === n);
      for (const f of MAIN_FIGURES) {
        const a = eb?.figures[f.key];
        const b = ip?.figures[f.key];
        if (!a && !b) continue;
        const unit = (a ?? b)!.unit;
        const ratio = f.ratio && isFigure(a) && isFigure(b) && b.p50 !== 0 ? (a.p50 / b.p50).toFixed(2) : '';
        lines.push(`| ${n} | ${f.label} | ${unitLabel(unit)} | ${cell(a)} | ${cell(b)} | ${ratio} |`);
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

const COLORS: Record<string, string> = { ebpf: '#1f77b4', iptables: '#d62728', floor: '#7f7f7f' };

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
    for (const mode of ['ebpf', 'iptables'] as const) {
      left.push(series('latency.last_vip', mode, e, `${mode}: LAST Service created${ep}`, false));
      left.push(series('latency.first_vip', mode, e, `${mode}: FIRST Service created${ep}`, true));
    }
    left.push(series('latency.pod', 'ebpf', e, `pod directly, the floor (ebpf lab)${ep}`, true, COLORS['floor']!));
    left.push(series('latency.pod', 'iptables', e, `pod directly, the floor (iptables lab)${ep}`, true, '#bcbd22'));
    for (const mode of ['ebpf', 'iptables'] as const) {
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
