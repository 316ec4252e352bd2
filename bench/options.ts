// `switchyard bench` / `npm run bench` options and the two presets.
import path from 'node:path';

/**
 * What a bench lab runs: ebpf, or iptables mode with the agent's back end
 * (iptables: the agent picks, as kube-proxy does; iptables-legacy / -nft: pinned).
 */
export type Mode = 'ebpf' | 'iptables' | 'iptables-legacy' | 'iptables-nft';
export const MODES: readonly Mode[] = ['ebpf', 'iptables', 'iptables-legacy', 'iptables-nft'];
/** The lab's own mode (what `switchyard lab up --mode` takes). */
export type LabMode = 'ebpf' | 'iptables';

export function labModeOf(m: Mode): LabMode {
  return m === 'ebpf' ? 'ebpf' : 'iptables';
}

export function isIptablesMode(m: Mode): boolean {
  return m !== 'ebpf';
}

/** The agent arguments a mode adds: the iptables back end it pins. */
export function modeAgentArgs(m: Mode): string[] {
  if (m === 'iptables-legacy') return ['--iptables-backend', 'legacy'];
  if (m === 'iptables-nft') return ['--iptables-backend', 'nft'];
  return [];
}

/** The modes a preset runs unless --modes says otherwise: ebpf against both iptables back ends (issue #17). */
export const DEFAULT_MODES: readonly Mode[] = ['ebpf', 'iptables-legacy', 'iptables-nft'];
export type Preset = 'quick' | 'full';
/** The lab's address families: dual (default) measures IPv6 beside IPv4 in the same run. */
export type BenchIPFamily = 'ipv4' | 'dual';

/** How much of each measurement; the presets fill it, flags override parts. */
export interface Effort {
  /** connect() samples per target (first VIP, last VIP, pod), split over `latencyRounds` interleaved rounds. */
  latencySamples: number;
  latencyRounds: number;
  /** BPF_PROG_TEST_RUN: single runs of distinct new flows (each its own sample). */
  testRunNewFlows: number;
  /** BPF_PROG_TEST_RUN: repetitions per call for the established / reply / XDP paths, and calls. */
  testRunRepeat: number;
  testRunCalls: number;
  /** Short connections per client process, client processes in parallel, runs. */
  shortConns: number;
  parallel: number;
  throughputRuns: number;
  /** Requests over one kept connection per client process. */
  requests: number;
  /** EndpointSlice flips timed for network programming latency. */
  flips: number;
  /** Flips in iptables modes from 10,000 Services (a change there costs seconds to a minute of restore). */
  flipsLargeIptables: number;
  flipTimeoutS: number;
  /** Cold starts per combination (up to 1000 Services, and above). */
  coldRuns: number;
  coldRunsLarge: number;
  coldTimeoutS: number;
  /** VIPs probed during a cold start (first and last always among them). */
  coldSample: number;
}

export interface BenchOptions {
  preset: Preset;
  services: number[];
  endpoints: number[];
  modes: Mode[];
  out: string;
  nodes: number;
  /** Prefix of the lab names (one lab per mode and endpoint count). */
  labPrefix: string;
  keepLab: boolean;
  /** Extra agent arguments for every agent start (e.g. --iptables-backend legacy). */
  agentArgs: string[];
  /**
   * An earlier run's results.json (or its directory): the goals that say "unchanged or better"
   * (programming p50, established per-packet cost) are judged against it.
   */
  baseline?: string;
  /** dual: a dual-stack lab, every bench Service RequireDualStack with a slice per family (IPv6 rows beside IPv4's). */
  ipFamily: BenchIPFamily;
  effort: Effort;
  verbose: boolean;
}

export const PRESETS: Record<Preset, { services: number[]; endpoints: number[]; effort: Effort }> = {
  quick: {
    services: [50, 200],
    endpoints: [2],
    effort: {
      latencySamples: 300, latencyRounds: 3,
      testRunNewFlows: 200, testRunRepeat: 20_000, testRunCalls: 3,
      shortConns: 300, parallel: 2, throughputRuns: 2, requests: 2000,
      flips: 5, flipsLargeIptables: 5, flipTimeoutS: 30,
      coldRuns: 1, coldRunsLarge: 1, coldTimeoutS: 180, coldSample: 6,
    },
  },
  full: {
    services: [100, 1000, 10_000, 30_000],
    endpoints: [2, 10],
    effort: {
      latencySamples: 3000, latencyRounds: 5,
      testRunNewFlows: 2000, testRunRepeat: 200_000, testRunCalls: 5,
      shortConns: 3000, parallel: 2, throughputRuns: 3, requests: 20_000,
      flips: 20, flipsLargeIptables: 10, flipTimeoutS: 120,
      coldRuns: 3, coldRunsLarge: 2, coldTimeoutS: 1800, coldSample: 10,
    },
  },
};

export const BENCH_USAGE = `usage: switchyard bench [options]      (npm run bench -- [options])
  --preset quick|full        quick: 50,200 Services x 2 endpoints, few samples (minutes);
                             full (default): 100,1000,10000,30000 x 2,10 (hours, on a quiet machine)
  --services LIST            Service counts, e.g. 100,1000,10000,30000
  --endpoints LIST           endpoints per Service, e.g. 2,10
  --modes LIST               ebpf, iptables-legacy, iptables-nft, iptables (the agent picks the back end);
                             default ebpf,iptables-legacy,iptables-nft
  --baseline PATH            an earlier run's results.json (or directory): judge "p50 unchanged or
                             better" and "established at or under" goals against it
  --out DIR                  results directory (default bench/results/<preset>-<time>)
  --ip-family dual|ipv4      dual (default): a dual-stack lab, every bench Service of both families,
                             IPv6 per-packet and first-packet latency rows beside IPv4's; ipv4: IPv4 only
  --nodes N                  lab nodes (default 1: every pod and the probed agent on node1)
  --lab-prefix P             lab names start with P (default "bn")
  --keep-lab                 leave the last lab up (debugging)
  --agent-arg=ARG            pass ARG to every agent start (repeatable), e.g. --agent-arg=--iptables-backend --agent-arg=legacy
  --cold-runs N              cold starts per combination (overrides the preset)
  --samples N                connect() samples per target (overrides the preset)
  --flips N                  EndpointSlice flips timed (overrides the preset, every size and mode;
                             full: 20, 10 in iptables modes from 10,000 Services)
  --verbose                  progress of every step on stderr`;

export class UsageError extends Error {}

function list(text: string, what: string): number[] {
  const v = text.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (v.length === 0 || v.some((x) => !Number.isInteger(x) || x < 1)) throw new UsageError(`bad ${what} ${JSON.stringify(text)}`);
  return v;
}

function int(text: string | undefined, what: string, min: number, max: number): number {
  const v = Number(text);
  if (text === undefined || !Number.isInteger(v) || v < min || v > max) throw new UsageError(`bad ${what} ${JSON.stringify(text)} (${min}..${max})`);
  return v;
}

export function parseBenchOptions(argv: string[], now = new Date()): BenchOptions {
  const flags = new Map<string, string>();
  const bools = new Set<string>();
  const agentArgs: string[] = [];
  const takes = new Set(['--preset', '--services', '--endpoints', '--modes', '--out', '--nodes', '--lab-prefix', '--cold-runs', '--samples', '--flips', '--agent-arg', '--ip-family', '--baseline']);
  const switches = new Set(['--keep-lab', '--verbose', '-h', '--help']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (switches.has(name)) {
      bools.add(name);
      continue;
    }
    if (!takes.has(name)) throw new UsageError(`unknown option ${a}`);
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`option ${name} needs a value`);
    if (name === '--agent-arg') agentArgs.push(value);
    else flags.set(name, value);
  }
  if (bools.has('-h') || bools.has('--help')) throw new UsageError('');
  const preset = (flags.get('--preset') ?? 'full') as Preset;
  if (!(preset in PRESETS)) throw new UsageError(`--preset must be quick or full, not ${JSON.stringify(preset)}`);
  const p = PRESETS[preset];
  const services = flags.has('--services') ? list(flags.get('--services')!, 'service counts') : p.services;
  if (services.some((n) => n > 32000)) throw new UsageError('at most 32000 Services: the lab\'s service CIDR is a /17');
  const endpoints = flags.has('--endpoints') ? list(flags.get('--endpoints')!, 'endpoint counts') : p.endpoints;
  if (endpoints.some((n) => n < 2 || n > 100)) throw new UsageError('endpoints per Service must be 2..100 (each is a real pod; the flips need two)');
  const modes = (flags.get('--modes') ?? DEFAULT_MODES.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  if (modes.length === 0 || modes.some((m) => !(MODES as readonly string[]).includes(m))) throw new UsageError(`--modes takes ${MODES.join(', ')}`);
  if (agentArgs.includes('--iptables-backend') || agentArgs.some((a) => a.startsWith('--iptables-backend='))) {
    if (modes.some((m) => m === 'iptables-legacy' || m === 'iptables-nft')) throw new UsageError('--agent-arg=--iptables-backend and the modes iptables-legacy / iptables-nft both pick the back end: use one');
  }
  const effort: Effort = { ...p.effort };
  if (flags.has('--cold-runs')) effort.coldRuns = effort.coldRunsLarge = int(flags.get('--cold-runs'), 'cold runs', 1, 100);
  if (flags.has('--samples')) effort.latencySamples = int(flags.get('--samples'), 'samples', 10, 1_000_000);
  if (flags.has('--flips')) effort.flips = effort.flipsLargeIptables = int(flags.get('--flips'), 'flips', 1, 10_000);
  const ipFamily = (flags.get('--ip-family') ?? 'dual') as BenchIPFamily;
  if (ipFamily !== 'dual' && ipFamily !== 'ipv4') throw new UsageError(`--ip-family must be dual or ipv4, not ${JSON.stringify(ipFamily)}`);
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  const labPrefix = flags.get('--lab-prefix') ?? 'bn';
  if (!/^[a-z][a-z0-9]{0,5}$/.test(labPrefix)) throw new UsageError('--lab-prefix: a lowercase letter and up to 5 letters or digits');
  return {
    preset,
    services: [...new Set(services)].sort((a, b) => a - b),
    endpoints: [...new Set(endpoints)].sort((a, b) => a - b),
    modes: [...new Set(modes)] as Mode[],
    out: path.resolve(flags.get('--out') ?? path.join('bench', 'results', `${preset}-${stamp}`)),
    nodes: flags.has('--nodes') ? int(flags.get('--nodes'), 'node count', 1, 8) : 1,
    labPrefix,
    keepLab: bools.has('--keep-lab'),
    agentArgs,
    ...(flags.has('--baseline') ? { baseline: path.resolve(flags.get('--baseline')!) } : {}),
    ipFamily,
    effort,
    verbose: bools.has('--verbose'),
  };
}
