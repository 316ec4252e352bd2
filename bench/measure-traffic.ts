// Real traffic from the client pod (sy-probe): first-packet latency (TCP
// connect() time) and throughput, through VIPs and straight to a pod.
import type { BenchLab } from './lab-driver.js';
import { PROBE } from './lab-driver.js';
import type { Effort } from './options.js';
import { summarize, type Figure } from './stats.js';

export interface Client { lab: BenchLab; netns: string; node: string }
export interface Target { key: string; what: string; host: string; port: number }

/** Lets short-connection runs reuse ports in TIME_WAIT: set in the client pod's namespace only. */
export async function prepareClient(c: Client): Promise<void> {
  const r = await c.lab.execIn(c.netns, undefined, ['sysctl', '-q', '-w', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.ip_local_port_range=10240 65000'], 30_000);
  if (r.code !== 0) throw new Error(`sysctl in ${c.netns} failed: ${r.stderr}`);
}

function probe(c: Client, args: string[], timeoutMs: number): ReturnType<BenchLab['execIn']> {
  return c.lab.execIn(c.netns, c.node, [PROBE, ...args], timeoutMs);
}

/**
 * A few connections from the client to each host, so the node has resolved
 * their neighbour entries before anything is timed (the datapath's own FIB
 * lookup passes a packet to the stack while the neighbour is unknown; the
 * cold start's probes do this for the IPv4 addresses, nothing for IPv6).
 */
export async function warmNeighbours(c: Client, hosts: string[], port: number): Promise<void> {
  for (const h of hosts) await probe(c, ['connect-latency', h, String(port), '--count', '3', '--timeout-ms', '1000'], 30_000);
}

/**
 * connect() latency through each target, `samples` per target, in
 * `rounds` interleaved rounds (so drift in machine load hits every target
 * alike), after a short warm-up. Connections are closed with RST.
 */
export async function measureConnectLatency(c: Client, targets: Target[], effort: Effort): Promise<Record<string, Figure>> {
  const per = Math.max(1, Math.ceil(effort.latencySamples / effort.latencyRounds));
  const samples = new Map<string, number[]>(targets.map((t) => [t.key, []]));
  const errors = new Map<string, number>(targets.map((t) => [t.key, 0]));
  for (const t of targets) await probe(c, ['connect-latency', t.host, String(t.port), '--count', '20'], 60_000);
  for (let round = 0; round < effort.latencyRounds; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) {
      const r = await probe(c, ['connect-latency', t.host, String(t.port), '--count', String(per), '--timeout-ms', '1000'], 60_000 + per * 1000);
      for (const line of r.stdout.split('\n')) {
        if (/^\d+$/.test(line)) samples.get(t.key)!.push(Number(line));
        else if (line.startsWith('ERR')) errors.set(t.key, errors.get(t.key)! + 1);
      }
    }
  }
  const out: Record<string, Figure> = {};
  for (const t of targets) {
    const s = samples.get(t.key)!;
    const e = errors.get(t.key)!;
    if (s.length === 0) throw new Error(`${t.what}: every connect() failed`);
    out[t.key] = summarize(t.what, 'µs', s, effort.latencyRounds,
      `TCP connect() from the client pod, ${per} per round${e ? `; ${e} failed attempts excluded` : ''}`);
  }
  return out;
}

/** Starts `argvs` at once; returns the wall time until the last exits and every stdout. */
async function parallel(c: Client, argvs: string[][], timeoutMs: number): Promise<{ wallMs: number; outs: string[] }> {
  const t0 = performance.now();
  const rs = await Promise.all(argvs.map((a) => probe(c, a, timeoutMs)));
  return { wallMs: performance.now() - t0, outs: rs.map((r) => r.stdout) };
}

function okLines(out: string): number {
  return out.split('\n').filter((l) => l && !l.startsWith('ERR') && !l.startsWith('#')).length;
}

function errLines(out: string): number {
  return out.split('\n').filter((l) => l.startsWith('ERR')).length;
}

/**
 * Short connections (connect, one request line, answer, close) and requests
 * over kept connections, `parallel` client processes at once, per target;
 * runs alternate between targets.
 */
export async function measureThroughput(c: Client, targets: Target[], effort: Effort): Promise<Record<string, Figure>> {
  const short = new Map<string, number[]>(targets.map((t) => [t.key, []]));
  const kept = new Map<string, number[]>(targets.map((t) => [t.key, []]));
  const shortErr = new Map<string, number>(targets.map((t) => [t.key, 0]));
  const keptErr = new Map<string, number>(targets.map((t) => [t.key, 0]));
  for (let run = 0; run < effort.throughputRuns; run++) {
    for (const t of run % 2 === 0 ? targets : [...targets].reverse()) {
      const a = await parallel(c, Array.from({ length: effort.parallel }, () =>
        ['tcp', t.host, String(t.port), '--count', String(effort.shortConns), '--timeout-ms', '2000']), 600_000);
      const okA = a.outs.reduce((s, o) => s + okLines(o), 0);
      shortErr.set(t.key, shortErr.get(t.key)! + a.outs.reduce((s, o) => s + errLines(o), 0));
      if (okA > 0) short.get(t.key)!.push(okA / (a.wallMs / 1000));
      const b = await parallel(c, Array.from({ length: effort.parallel }, () =>
        ['tcp', t.host, String(t.port), '--count', '1', '--keep', String(effort.requests), '--timeout-ms', '2000']), 600_000);
      const okB = b.outs.reduce((s, o) => s + okLines(o), 0);
      keptErr.set(t.key, keptErr.get(t.key)! + b.outs.reduce((s, o) => s + errLines(o), 0));
      if (okB > 0) kept.get(t.key)!.push(okB / (b.wallMs / 1000));
    }
  }
  const out: Record<string, Figure> = {};
  const failed = (n: number, of: number): string => (n > 0 ? `; ${n} of ${of} attempts FAILED (ERR lines; a failed attempt costs up to its 2 s timeout)` : '');
  for (const t of targets) {
    if (short.get(t.key)!.length === 0 || kept.get(t.key)!.length === 0) throw new Error(`${t.what}: no successful request`);
    out[`${t.key}.short_connections`] = summarize(`short connections through ${t.what}`, 'connections/s', short.get(t.key)!, effort.throughputRuns,
      `${effort.parallel} client processes x ${effort.shortConns} connections (connect, one request line, answer, close) per run; wall time includes process start` +
      failed(shortErr.get(t.key)!, effort.throughputRuns * effort.parallel * effort.shortConns));
    out[`${t.key}.kept_connection_requests`] = summarize(`requests over kept connections through ${t.what}`, 'requests/s', kept.get(t.key)!, effort.throughputRuns,
      `${effort.parallel} client processes x 1 connection x ${effort.requests} request/answer lines per run` +
      failed(keptErr.get(t.key)!, effort.throughputRuns * effort.parallel * effort.requests));
  }
  return out;
}
