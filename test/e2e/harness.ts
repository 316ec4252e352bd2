// Drives a lab through the `switchyard` CLI exactly as a user would, for the
// end-to-end tests. Every lab gets a unique name and is torn down in `after`,
// also when a test failed.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { counterName } from '../../control-plane/src/dataplane/ebpf/map-values.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI = path.join(ROOT, 'bin/switchyard.js');
export const PROBE = path.join(ROOT, 'lab/build/sy-probe');

export interface RunResult { code: number; stdout: string; stderr: string }

export function run(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`switchyard ${args.join(' ')} timed out\n${stderr}`));
    }, opts.timeoutMs ?? 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export async function ok(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await run(args, opts);
  if (r.code !== 0) throw new Error(`switchyard ${args.join(' ')} exited ${r.code}\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns a truthy value or the deadline passes. */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000, everyMs = 300): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** An address family, as Kubernetes names it (Service ipFamilies). */
export type Family = 'IPv4' | 'IPv6';

/**
 * The address families of the end-to-end labs: dual-stack unless
 * SWITCHYARD_E2E_IP_FAMILY says otherwise (ipv4 | ipv6 | dual). Every
 * Service test runs once per family of FAMILIES against one lab.
 */
export const E2E_IP_FAMILY = (process.env.SWITCHYARD_E2E_IP_FAMILY ?? 'dual') as 'ipv4' | 'ipv6' | 'dual';
export const FAMILIES: readonly Family[] = E2E_IP_FAMILY === 'dual' ? ['IPv4', 'IPv6'] : E2E_IP_FAMILY === 'ipv6' ? ['IPv6'] : ['IPv4'];

export function familyOf(ip: string): Family {
  return ip.includes(':') ? 'IPv6' : 'IPv4';
}

/** The lab's fixed addresses per family (lab/src/netns/plan.ts). */
export const NODE_IPS: Record<Family, { node1: string; node2: string }> = {
  IPv4: { node1: '198.18.0.11', node2: '198.18.0.12' },
  IPv6: { node1: 'fd00:198:18::11', node2: 'fd00:198:18::12' },
};
/** The external client's own address. */
export const EXT_IPS: Record<Family, string> = { IPv4: '198.18.0.200', IPv6: 'fd00:198:18::200' };
/** The underlay (the external client's segment) and a range no lab client is in, for source ranges. */
export const UNDERLAY: Record<Family, string> = { IPv4: '198.18.0.0/24', IPv6: 'fd00:198:18::/64' };
export const ELSEWHERE: Record<Family, string> = { IPv4: '198.18.99.0/24', IPv6: 'fd00:198:18:99::/64' };
/** Addresses free for ExternalIPs: n-th of each family (198.18.65.n, fd00:198:18:65::n). */
export function externalIPs(n: number): Record<Family, string> {
  return { IPv4: `198.18.65.${n}`, IPv6: `fd00:198:18:65::${n.toString(16)}` };
}
/** Runs `fn` for every family of this run at once (independent checks); a failure names its family. */
export async function forEachFamily<T>(fn: (f: Family) => Promise<T>): Promise<T[]> {
  return Promise.all(FAMILIES.map(async (f) => {
    try {
      return await fn(f);
    } catch (err) {
      (err as Error).message = `[${f}] ${(err as Error).message}`;
      throw err;
    }
  }));
}

export interface KubeObj { metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; deletionTimestamp?: string }; spec?: any; status?: any }

export class Lab {
  /** ipFamily: the lab's address families (`lab up --ip-family`; absent: the lab's default, IPv4). */
  constructor(readonly name: string, readonly mode: 'ebpf' | 'iptables' = 'ebpf', readonly ipFamily?: 'ipv4' | 'ipv6' | 'dual') {}

  static uniqueName(prefix: string): string {
    return `${prefix}${process.pid % 10000}${Math.floor(Math.random() * 100)}`;
  }

  /** Extra agent flags for every lab of this run (e.g. SWITCHYARD_E2E_AGENT_ARGS="--socket-lb=false"). */
  static agentArgs(): string[] {
    return (process.env.SWITCHYARD_E2E_AGENT_ARGS ?? '').split(/\s+/).filter(Boolean);
  }

  /** labArgs: more `lab up` flags (e.g. --link-mtu node2=1280). */
  up(nodes = 2, agentArgs: string[] = Lab.agentArgs(), labArgs: string[] = []): Promise<string> {
    return ok(['lab', 'up', '--name', this.name, '--nodes', String(nodes), '--mode', this.mode,
      ...(this.ipFamily ? ['--ip-family', this.ipFamily] : []), ...agentArgs.map((a) => `--agent-arg=${a}`), ...labArgs], { timeoutMs: 180_000 });
  }

  /** Whether this run's agents do socket-level balancing (on by default in ebpf mode). */
  static socketLB(mode: 'ebpf' | 'iptables'): boolean {
    return mode === 'ebpf' && !Lab.agentArgs().includes('--socket-lb=false');
  }

  async down(): Promise<void> {
    const r = await run(['lab', 'down', '--name', this.name], { timeoutMs: 120_000 });
    if (r.code !== 0) await run(['cleanup', '--name', this.name], { timeoutMs: 120_000 });
  }

  apply(yaml: string): Promise<string> {
    return ok(['lab', 'apply', '--name', this.name, '-f', '-'], { input: yaml });
  }

  delete(yaml: string): Promise<string> {
    return ok(['lab', 'delete', '--name', this.name, '-f', '-'], { input: yaml });
  }

  async get(kind: string): Promise<KubeObj[]> {
    return (JSON.parse(await ok(['lab', 'get', kind, '--name', this.name, '-o', 'json'])) as { items: KubeObj[] }).items;
  }

  scale(target: string, n: number): Promise<string> {
    return ok(['lab', 'scale', '--name', this.name, target, String(n)]);
  }

  setReady(pod: string, ready: boolean): Promise<string> {
    return ok(['lab', 'set-ready', '--name', this.name, pod, String(ready)]);
  }

  waitReady(): Promise<string> {
    return ok(['lab', 'wait-ready', '--name', this.name, '--timeout', '60'], { timeoutMs: 90_000 });
  }

  exec(pod: string, cmd: string[]): Promise<RunResult> {
    return run(['lab', 'exec', '--name', this.name, pod, '--', ...cmd]);
  }

  execNode(node: string, cmd: string[]): Promise<RunResult> {
    return run(['lab', 'exec', '--name', this.name, '--node', node, '--', ...cmd]);
  }

  /** Runs `cmd` on the lab's external host (the client outside the cluster). */
  execExternal(cmd: string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
    return run(['lab', 'exec', '--name', this.name, '--external', '--', ...cmd], opts);
  }

  /** Runs sy-probe on the external host and returns one line per attempt. */
  async probeExternal(mode: 'tcp' | 'udp' | 'http', host: string, port: number, extra: string[] = []): Promise<string[]> {
    return probeLines((await this.execExternal([PROBE, mode, host, String(port), ...extra])).stdout);
  }

  /** Runs sy-probe in a pod and returns one line per attempt. */
  async probe(pod: string, mode: 'tcp' | 'udp' | 'http', host: string, port: number, extra: string[] = []): Promise<string[]> {
    return probeLines((await this.exec(pod, [PROBE, mode, host, String(port), ...extra])).stdout);
  }

  /** Service name -> the nodePort of its first port, for every Service that has one. */
  async nodePorts(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const s of await this.get('services')) if (s.spec?.ports?.[0]?.nodePort) out.set(s.metadata.name, s.spec.ports[0].nodePort as number);
    return out;
  }

  async clusterIP(svc: string): Promise<string> {
    const s = (await this.get('services')).find((x) => x.metadata.name === svc);
    if (!s) throw new Error(`service ${svc} not found`);
    return s.spec.clusterIP as string;
  }

  /** The Service's ClusterIP of each family of this run (from spec.clusterIPs); throws when one is missing. */
  async clusterIPs(svc: string): Promise<Record<Family, string>> {
    const s = (await this.get('services')).find((x) => x.metadata.name === svc);
    if (!s) throw new Error(`service ${svc} not found`);
    return perFamily(`${svc} clusterIPs`, (s.spec.clusterIPs ?? [s.spec.clusterIP]) as string[]);
  }

  /** Waits until the Service has a LoadBalancer ingress IP of each family of this run, and returns them. */
  lbIPs(svc: string, timeoutMs = 20_000): Promise<Record<Family, string>> {
    return eventually(`${svc}: a LoadBalancer ingress IP of each family`, async () => {
      const s = (await this.get('services')).find((x) => x.metadata.name === svc);
      const ips = ((s?.status?.loadBalancer?.ingress ?? []) as Array<{ ip?: string }>).map((i) => i.ip).filter((ip): ip is string => !!ip);
      return FAMILIES.every((f) => ips.some((ip) => familyOf(ip) === f)) ? perFamily(svc, ips) : undefined;
    }, timeoutMs);
  }

  /** Names of the Running, non-terminating pods whose labels include `labels`. */
  async pods(labels: Record<string, string>, opts: { ready?: boolean } = {}): Promise<KubeObj[]> {
    return (await this.get('pods')).filter((p) =>
      Object.entries(labels).every(([k, v]) => p.metadata.labels?.[k] === v)
      && !p.metadata.deletionTimestamp
      && (opts.ready === undefined || isReady(p) === opts.ready));
  }

  /** Namespaces, pin dirs and state dirs this lab may have left. */
  leftovers(): string[] {
    const out: string[] = [];
    if (existsSync('/run/netns')) for (const n of readdirSync('/run/netns')) if (n.startsWith(`${this.name}-`)) out.push(`netns ${n}`);
    if (existsSync('/sys/fs/bpf/switchyard')) for (const d of readdirSync('/sys/fs/bpf/switchyard')) if (d.startsWith(`${this.name}-`)) out.push(`pins ${d}`);
    if (existsSync(`/run/switchyard/lab/${this.name}`)) out.push(`state /run/switchyard/lab/${this.name}`);
    for (const root of ['/sys/fs/cgroup/unified', '/sys/fs/cgroup']) {
      if (existsSync(`${root}/switchyard/${this.name}`)) out.push(`cgroup ${root}/switchyard/${this.name}`);
    }
    // Processes: anything whose command line names this lab's state dir, instances or namespaces.
    const marks = [`/run/switchyard/lab/${this.name}/`, `${this.name}-n`, `${this.name}-p-`, `${this.name}-cp`];
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      } catch {
        continue;
      }
      if (Number(pid) !== process.pid && marks.some((m) => cmd.includes(m))) out.push(`process ${pid}: ${cmd.trim()}`);
    }
    return out;
  }
}

/** The first address of each family of this run among `ips`; throws when a family has none. */
export function perFamily(what: string, ips: string[]): Record<Family, string> {
  const out = {} as Record<Family, string>;
  for (const f of FAMILIES) {
    const ip = ips.find((x) => familyOf(x) === f);
    if (!ip) throw new Error(`${what}: no ${f} address in ${JSON.stringify(ips)}`);
    out[f] = ip;
  }
  return out;
}

export function isReady(p: KubeObj): boolean {
  return (p.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
}

/** sy-probe's answers, one line per attempt (its '#' comment lines dropped). */
export function probeLines(stdout: string): string[] {
  return stdout.split('\n').filter((l) => l && !l.startsWith('#'));
}

/** What `sy-probe hold` reported: the summary and each connection as key=value pairs, its event lines, and the whole text. */
export interface HoldReport { name: string; summary: Record<string, string>; conns: Array<Record<string, string>>; events: string[]; raw: string }

function keyValues(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of line.split(/\s+/)) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

/** Parses a hold report; a report without its summary line (the probe died or never started) is an error. */
export function parseHold(name: string, raw: string): HoldReport {
  const lines = raw.split('\n');
  const summary = lines.find((l) => l.startsWith('summary '));
  if (!summary) throw new Error(`${name}: no summary in the hold report:\n${raw.slice(-2000)}`);
  return { name, summary: keyValues(summary), conns: lines.filter((l) => l.startsWith('conn ')).map(keyValues), events: lines.filter((l) => l.startsWith('event ')), raw };
}

export interface Hold {
  /** Ends the hold early (the lab CLI forwards SIGTERM to sy-probe, which then reports). */
  stop(): void;
  /** The report once sy-probe ended; rejects when it has no summary. */
  done: Promise<HoldReport>;
}

/**
 * Runs `sy-probe hold HOST PORT ...args` in the background, in a pod (`where`
 * = [pod]), on the external host (['--external']) or on a node (['--node', n]).
 * `killAfterMs` bounds it: SIGKILL then (the report then has no summary).
 */
export function hold(lab: Lab, name: string, where: string[], host: string, port: number, args: string[], killAfterMs?: number): Hold {
  const child = spawn(process.execPath, [CLI, 'lab', 'exec', '--name', lab.name, ...where, '--', PROBE, 'hold', host, String(port), ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const killer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  const done = new Promise<HoldReport>((resolve, reject) => child.on('close', () => {
    clearTimeout(killer);
    try {
      resolve(parseHold(name, out));
    } catch (err) {
      reject(err);
    }
  }));
  return { stop: () => void child.kill('SIGTERM'), done };
}

/** CLOCK_MONOTONIC in ms, the clock of sy-probe hold's answered= (the same in every namespace). */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}

/** Counts of each distinct answer, ERR lines included. */
export function tally(lines: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of lines) m.set(l, (m.get(l) ?? 0) + 1);
  return m;
}

/** sy_counters of lab node `node` (1-based), summed over CPUs, by name (ebpf mode; bpftool on the pinned map). */
export function datapathCounters(lab: Lab, node: number): Record<string, number> {
  const out: Record<string, number> = {};
  const raw = execFileSync('bpftool', ['map', 'dump', 'pinned', `/sys/fs/bpf/switchyard/${lab.name}-n${node}/sy_counters`, '-j'], { encoding: 'utf8' });
  for (const e of JSON.parse(raw) as Array<{ formatted: { key: number; values: Array<{ value: number }> } }>) {
    out[counterName(e.formatted.key)] = e.formatted.values.reduce((n, v) => n + v.value, 0);
  }
  return out;
}
