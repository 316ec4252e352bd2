// What the fault suite needs beside the e2e harness: steady traffic through a
// lab (sy-probe hold flows, TCP and UDP, through a ClusterIP from a pod and a
// NodePort from the external host), the lab's processes (pids, restart
// counts), the agents' admin API over their sockets, and the datapath as
// content: frontends -> flags, reverse NAT and their Maglev table written as
// backend addresses, so two syncs compare equal whatever ids they allocated.
import http from 'node:http';
import { Lab, hold as holdIn, ok, type Hold, type HoldReport } from '../e2e/harness.js';

export type { HoldReport };
import { LoaderClient } from '../../control-plane/src/dataplane/ebpf/loader-client.js';
import { labAdminSocket } from '../../lab/src/netns/layout.js';
import { decodeBackend, decodeRevNat, decodeSvcKey, decodeSvcValue, decodeU32, decodeU32Array } from '../../control-plane/src/dataplane/ebpf/map-values.js';

export const HOLD_INTERVAL_MS = 100;

/**
 * The longest a steady traffic run may last: a cap only. Each test stops its
 * traffic once the fault has been played and the lab has recovered (plus
 * TRAFFIC_AFTER_RECOVERY_MS), so the traffic always spans the fault and the
 * recovery however slow the machine is, and lasts no longer than that.
 */
export const TRAFFIC_CAP_MS = 300_000;
/** Traffic kept flowing on the recovered datapath before it is stopped and judged. */
export const TRAFFIC_AFTER_RECOVERY_MS = 3000;

/** One `sy-probe hold` run in a pod (or --external / --node) until stopped (at most durationMs). */
export function hold(lab: Lab, name: string, where: string[], host: string, port: number, durationMs: number, udp: boolean, conns = 4): Hold {
  return holdIn(lab, name, where, host, port,
    ['--conns', String(conns), '--interval-ms', String(HOLD_INTERVAL_MS), '--timeout-ms', '1000', '--duration-ms', String(durationMs), ...(udp ? ['--udp'] : [])],
    durationMs + 60_000);
}

export interface Targets { vip: string; tcpNodePort: number; udpNodePort: number; nodeIP: string }

/** Steady traffic, running until stop() (sy-probe then reports as at the end of its duration). */
export interface SteadyTraffic { stop(): void; done: Promise<HoldReport[]> }

/** Steady traffic: TCP and UDP through the ClusterIP (from pod c1 on node1) and the NodePort of node1 (from the external host; backends on node2). */
export function steadyTraffic(lab: Lab, t: Targets, capMs = TRAFFIC_CAP_MS): SteadyTraffic {
  const holds = [
    hold(lab, 'tcp clusterIP', ['c1'], t.vip, 80, capMs, false),
    hold(lab, 'udp clusterIP', ['c1'], t.vip, 53, capMs, true),
    hold(lab, 'tcp nodePort', ['--external'], t.nodeIP, t.tcpNodePort, capMs, false),
    hold(lab, 'udp nodePort', ['--external'], t.nodeIP, t.udpNodePort, capMs, true),
  ];
  return { stop: () => holds.forEach((h) => h.stop()), done: Promise.all(holds.map((h) => h.done)) };
}

/**
 * The fault suite's traffic verdict: no TCP flow reset, closed or silent for
 * more than 1 s; UDP loses at most `udpAllowance` answers per flow set.
 * Returns the problems (empty: fine) and the figures.
 */
export function judgeTraffic(reports: HoldReport[], udpAllowance = 0): { problems: string[]; figures: string } {
  const problems: string[] = [];
  for (const r of reports) {
    const s = r.summary;
    const udp = r.name.startsWith('udp');
    if (Number(s.ok) === 0) problems.push(`${r.name}: no answer at all`);
    if (!udp) {
      if (s.open !== s.conns) problems.push(`${r.name}: ${Number(s.conns) - Number(s.open)} connection(s) closed (${r.conns.filter((c) => c.state !== 'open').map((c) => c.error).join(', ')})`);
      if (Number(s.err) > 0) problems.push(`${r.name}: ${s.err} error(s): ${r.events.slice(0, 5).join(' | ')}`);
      if (Number(s.maxgap) > 1000) problems.push(`${r.name}: a connection went ${s.maxgap} ms without an answer`);
    } else if (Number(s.err) > udpAllowance) {
      problems.push(`${r.name}: ${s.err} datagram(s) unanswered (allowed ${udpAllowance}): ${r.events.slice(0, 5).join(' | ')}`);
    }
  }
  return { problems, figures: reports.map((r) => `${r.name}: ok=${r.summary.ok} err=${r.summary.err} maxgap=${r.summary.maxgap}ms`).join('; ') };
}

// ---- the lab's processes ----------------------------------------------------

export interface ProcInfo { pid?: number; alive: boolean; restarts?: number; healthy?: boolean }
export interface NodeProcs { name: string; loader: ProcInfo | null; agent: ProcInfo | null }

export async function nodeProcs(lab: Lab): Promise<NodeProcs[]> {
  return (JSON.parse(await ok(['lab', 'status', '--name', lab.name, '-o', 'json'])) as { nodes: NodeProcs[] }).nodes;
}

// ---- the agents' admin API ---------------------------------------------------

export function adminSocket(lab: Lab, node: string): string {
  return labAdminSocket(lab.name, node);
}

export function adminGet(lab: Lab, node: string, urlPath: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath: adminSocket(lab, node), path: urlPath, timeout: 5000 }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('timeout', () => req.destroy(new Error('admin API timeout')));
    req.on('error', reject);
  });
}

export async function agentStatus(lab: Lab, node: string): Promise<Record<string, any>> {
  const r = await adminGet(lab, node, '/v1/status?history=0');
  if (r.status !== 200) throw new Error(`status ${r.status}: ${r.text}`);
  return JSON.parse(r.text) as Record<string, any>;
}

/** A metric's value from the agent's /metrics (undefined when absent). */
export async function metric(lab: Lab, node: string, name: string): Promise<number | undefined> {
  const r = await adminGet(lab, node, '/metrics');
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(r.text);
  return m ? Number(m[1]) : undefined;
}

// ---- the datapath by content ----------------------------------------------------

/**
 * frontend "addr:port/proto/scope" -> its flags, affinity, table size,
 * reverse NAT and Maglev table as backend identities; plus what no frontend
 * uses (orphans), which a full sync would not have left.
 */
export async function datapathContent(lab: Lab, node: string): Promise<Record<string, unknown>> {
  const client = new LoaderClient(`/run/switchyard/lab/${lab.name}/${node}-loader.sock`, 10_000);
  try {
    const backends = new Map<number, string>();
    for (const e of (await client.dump('sy_backends')).entries) {
      const b = decodeBackend(e.value);
      backends.set(decodeU32(e.key), `${b.addr}:${b.port}/${b.proto} state=${b.state} flags=${b.flags} zone=${b.zone}`);
    }
    const revnat = new Map<number, string>();
    for (const e of (await client.dump('sy_revnat')).entries) {
      const r = decodeRevNat(e.value);
      revnat.set(decodeU32(e.key), `${r.addr}:${r.port}`);
    }
    const tables = new Map<number, string[]>();
    for (const e of (await client.dump('sy_maglev')).entries) {
      tables.set(decodeU32(e.key), Array.from(decodeU32Array(e.value), (id) => backends.get(id) ?? `missing backend ${id}`));
    }
    const frontends: Record<string, unknown> = {};
    const usedBackends = new Set<string>();
    const usedTables = new Set<number>();
    const usedRevnat = new Set<number>();
    for (const e of (await client.dump('sy_services')).entries) {
      const k = decodeSvcKey(e.key);
      const v = decodeSvcValue(e.value);
      const table = tables.get(v.group);
      usedTables.add(v.group);
      usedRevnat.add(v.id);
      for (const b of table ?? []) usedBackends.add(b);
      frontends[`${k.addr}:${k.port}/${k.proto}/${k.scope}`] = {
        flags: v.flags, count: v.count, affinityTimeout: v.affinityTimeout, tableSize: v.tableSize,
        revnat: revnat.get(v.id) ?? 'missing',
        backends: [...new Set(table ?? [])].sort(),
        table: table ? hashOf(table) : 'missing',
      };
    }
    return {
      frontends,
      orphanBackends: [...backends.values()].filter((b) => !usedBackends.has(b)).length,
      orphanTables: [...tables.keys()].filter((g) => !usedTables.has(g)).length,
      orphanRevnat: [...revnat.keys()].filter((id) => !usedRevnat.has(id)).length,
    };
  } finally {
    client.close();
  }
}

/** A short fingerprint of a Maglev table (its slots in order). */
function hashOf(table: string[]): string {
  let h = 2166136261;
  for (const s of table) for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return `${table.length} slots #${h.toString(16)}`;
}
