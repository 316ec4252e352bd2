// Programming time: cold start (a node with an empty datapath and an agent
// that starts with every Service already in the API server, until sample VIPs
// answer) and network programming latency (an EndpointSlice change at the API
// server until new connections through the VIP reach the new endpoint).
import fs from 'node:fs';
import type { LabClient } from '../lab/src/cli/api-client.js';
import { PROBE, sleep, type BenchLab, type LineStream } from './lab-driver.js';
import type { Backend } from './objects.js';
import { replaceSlice, SVC_PORT } from './objects.js';
import type { Client } from './measure-traffic.js';

/** The agent's log: 'synced' records (pino JSON, one per sync that changed something). */
export interface SyncRecord { t: number; ms: number; changes: number; full: boolean; raw: Record<string, unknown> }

export function logSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

export interface AgentLog { syncs: SyncRecord[]; running: number | undefined; errors: string[]; failedSyncs: number }

export function readAgentLog(file: string, fromOffset: number): AgentLog {
  let text = '';
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const buf = Buffer.alloc(Math.max(0, size - fromOffset));
      fs.readSync(fd, buf, 0, buf.length, fromOffset);
      text = buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return { syncs: [], running: undefined, errors: [], failedSyncs: 0 };
  }
  const syncs: SyncRecord[] = [];
  const errors: string[] = [];
  let failedSyncs = 0;
  let running: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (o['msg'] === 'synced' && typeof o['ms'] === 'number') {
      syncs.push({ t: Number(o['time']), ms: o['ms'], changes: Number(o['changes'] ?? 0), full: o['full'] === 1 || o['full'] === true, raw: o });
    } else if (o['msg'] === 'agent running' && running === undefined) {
      running = Number(o['time']);
    } else if (Number(o['level']) >= 50) {
      if (o['msg'] === 'sync failed') failedSyncs++;
      errors.push(String(o['msg'] ?? '') + (o['err'] ? `: ${String(o['err'])}` : ''));
    }
  }
  return { syncs, running, errors, failedSyncs };
}

/** Failed syncs without a success after which a cold start is abandoned. */
const FAILED_SYNCS_GIVE_UP = 5;

export interface ColdStartResult {
  /** From the start request until every sampled VIP answered. */
  totalMs: number;
  perVipMs: number[];
  firstVipMs: number;
  lastVipMs: number;
  /** From the start request until the agent logged "agent running" (informers synced, datapath initialised). */
  agentRunningMs: number | undefined;
  /** The agent's syncs during the cold start (until its first successful sync, which may end after the VIPs answer). */
  syncs: SyncRecord[];
  /** From the start request until the agent logged its first successful sync. */
  firstSyncMs: number | undefined;
  failedSyncs: number;
  errors: string[];
}

/**
 * Precondition: agents stopped, datapath empty (BenchLab.cleanDatapath), all
 * objects in the API server. Starts a probe per sampled VIP, then the agents,
 * and times each VIP's first answer from the start request.
 */
export async function measureColdStart(lab: BenchLab, c: Client, sample: Array<{ index: number; vip: string }>, timeoutS: number): Promise<ColdStartResult> {
  const offset = logSize(lab.agentLog(c.node));
  const streams: LineStream[] = sample.map((s) => lab.streamIn(c.netns, c.node,
    [PROBE, 'tcp', s.vip, String(SVC_PORT), '--count', '100000000', '--interval-ms', '10', '--timeout-ms', '100']));
  try {
    // Let every probe start (and fail: nothing is programmed yet).
    await Promise.all(streams.map((s) => s.waitFor(() => true, 3000)));
    const t0 = Date.now();
    const answered = streams.map((s) => s.waitFor((l) => l !== '' && !l.startsWith('ERR'), timeoutS * 1000));
    await lab.startAgents();
    // Give up early when the agent keeps failing its sync and has never succeeded (it would only retry until the timeout).
    let stopWatch = false;
    const hopeless = (async (): Promise<string | undefined> => {
      while (!stopWatch) {
        await sleep(2000);
        const l = readAgentLog(lab.agentLog(c.node), offset);
        if (l.syncs.length === 0 && l.failedSyncs >= FAILED_SYNCS_GIVE_UP) return l.errors[l.errors.length - 1];
      }
      return undefined;
    })();
    const all = Promise.all(answered);
    const first = await Promise.race([all.then(() => undefined), hopeless]);
    stopWatch = true;
    if (first !== undefined) {
      throw new Error(`cold start: the agent failed ${FAILED_SYNCS_GIVE_UP} syncs in a row without one success (last: ${first}); given up after ${Math.round((Date.now() - t0) / 1000)} s`);
    }
    const got = await all;
    const early = streams.findIndex((s) => s.lines.some((l) => l.t < t0 && l.line !== '' && !l.line.startsWith('ERR')));
    if (early >= 0) throw new Error(`cold start: VIP ${sample[early]!.vip} answered before the agents started: the datapath was not empty`);
    const missing = got.map((g, i) => (g ? undefined : sample[i]!)).filter((x) => x !== undefined);
    if (missing.length > 0) {
      throw new Error(`cold start: ${missing.length}/${sample.length} sampled VIPs did not answer within ${timeoutS} s ` +
        `(${missing.slice(0, 3).map((m) => `#${m.index} ${m.vip}`).join(', ')}); agent log ${lab.agentLog(c.node)}`);
    }
    const per = got.map((g) => g!.t - t0);
    // The VIPs can answer before the agent logs its sync (the rules are in; the agent still has work, or
    // reports a failure after the commit): wait, bounded, for its first successful sync.
    let log = readAgentLog(lab.agentLog(c.node), offset);
    const deadline = Math.min(t0 + timeoutS * 1000, Date.now() + 600_000);
    while (log.syncs.length === 0 && log.failedSyncs < FAILED_SYNCS_GIVE_UP && Date.now() < deadline) {
      await sleep(250);
      log = readAgentLog(lab.agentLog(c.node), offset);
    }
    return {
      totalMs: Math.max(...per),
      perVipMs: per,
      firstVipMs: per[0]!,
      lastVipMs: per[per.length - 1]!,
      agentRunningMs: log.running !== undefined ? log.running - t0 : undefined,
      syncs: log.syncs,
      firstSyncMs: log.syncs[0] ? log.syncs[0].t - t0 : undefined,
      failedSyncs: log.failedSyncs,
      errors: log.errors,
    };
  } finally {
    await Promise.all(streams.map((s) => s.stop()));
  }
}

/** Milliseconds to the microsecond. */
function ms3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Indices probed during a cold start: first, last and evenly spaced ones between. */
export function coldSample(n: number, k: number): number[] {
  const set = new Set<number>([0, n - 1]);
  for (let i = 1; set.size < Math.min(n, k) && i < k; i++) set.add(Math.round((i * (n - 1)) / (k - 1)));
  return [...set].sort((a, b) => a - b);
}

/** One flip, in ms from just before the PUT (performance.now(), so below 1 ms resolution). */
export interface FlipSample {
  /** Wall clock (Date.now(), ms) just before the PUT: lines a flip up with the agent's log. */
  at: number;
  /** The PUT of the slice until the API server's answer (the lab API server's share, with the request's trip). */
  putMs: number;
  /** Until the first answer from the new endpoint arrived; undefined: not seen within the timeout. */
  latencyMs: number | undefined;
  /** The last answer from the old endpoint that arrived after the PUT started (undefined: none did): the
   *  switch happened after the connection that gave it was opened, so this bounds the latency from below,
   *  up to the probe's interval plus one connection. */
  lastOldMs: number | undefined;
  /** When the agent logged the sync that carried this flip, in ms after `at` (whole ms: the log's
   *  time and `at` are both Date.now()); undefined: none seen. Splits a slow flip into the part
   *  until the agent had written the maps and the part after (datapath, probe, CPUs). */
  agentSyncedMs?: number;
}

export interface FlipResult {
  /** Flips seen, in ms (sub-ms resolution). */
  latenciesMs: number[];
  putMs: number[];
  samples: FlipSample[];
  /** Flips not seen within the timeout (censored: the latency is at least the timeout). */
  timeouts: number;
  syncs: SyncRecord[];
}

/**
 * Flips the one endpoint of `service` between two backends `flips` times.
 * A probe opens a new connection to the VIP every ~2 ms and prints which pod
 * answered; a flip's latency is from just before the PUT of the slice to the
 * arrival of the first answer from the new pod.
 */
export async function measureFlips(lab: BenchLab, api: LabClient, c: Client, service: string, vip: string, pair: [Backend, Backend], flips: number, timeoutS: number): Promise<FlipResult> {
  const offset = logSize(lab.agentLog(c.node));
  const stream = lab.streamIn(c.netns, c.node, [PROBE, 'tcp', vip, String(SVC_PORT), '--count', '100000000', '--interval-ms', '2', '--timeout-ms', '300']);
  const res: FlipResult = { latenciesMs: [], putMs: [], samples: [], timeouts: 0, syncs: [] };
  try {
    let current = pair[0];
    let consecutiveTimeouts = 0;
    // The slice may hold either backend from an earlier N: make it pair[0] and wait for it.
    await replaceSlice(api, service, [current]);
    if (!(await stream.waitFor((l) => l === current.name, timeoutS * 1000))) throw new Error(`flip Service ${vip} never answered from ${current.name}`);
    for (let i = 0; i < flips; i++) {
      const target = current === pair[0] ? pair[1] : pair[0];
      // Stable: three answers in a row from the current pod.
      let streak = 0;
      await stream.waitFor((l) => (l === current.name ? ++streak : (streak = 0)) >= 3, timeoutS * 1000);
      // performance.now() on both ends (here and at each probe line's arrival): Date.now()'s whole
      // milliseconds made a 7 ms latency indistinguishable from 8.
      // t0: just before the PUT (replaceSlice's GET of the resourceVersion comes before it and is not timed).
      let t0 = performance.now();
      let at = Date.now();
      let from = stream.lines.length;
      const seen = stream.waitFor((l) => l === target.name, timeoutS * 1000);
      await replaceSlice(api, service, [target], () => {
        t0 = performance.now();
        at = Date.now();
        from = stream.lines.length;
      });
      const putMs = performance.now() - t0;
      res.putMs.push(ms3(putMs));
      const got = await seen;
      let lastOld: number | undefined;
      for (let j = from; j < stream.lines.length && stream.lines[j] !== got; j++) {
        const l = stream.lines[j]!;
        if (l.line === current.name && l.hr >= t0) lastOld = l.hr - t0;
      }
      res.samples.push({ at, putMs: ms3(putMs), latencyMs: got ? ms3(got.hr - t0) : undefined, lastOldMs: lastOld !== undefined ? ms3(lastOld) : undefined });
      if (got) {
        res.latenciesMs.push(ms3(got.hr - t0));
        consecutiveTimeouts = 0;
      } else {
        res.timeouts++;
        // Not seen: the slice points at `target` anyway, so carry on from there.
        if (++consecutiveTimeouts >= 3) break; // the agent is stuck; more flips would only wait as long
      }
      current = target;
      await sleep(200 + Math.floor(Math.random() * 300));
    }
    res.syncs = readAgentLog(lab.agentLog(c.node), offset).syncs;
    agentSyncedAfterPut(res.samples, res.syncs).forEach((ms, i) => {
      if (ms !== undefined) res.samples[i]!.agentSyncedMs = ms;
    });
    return res;
  } finally {
    await stream.stop();
  }
}

/**
 * Per flip, the first change sync (not full, not a resync slice) the agent
 * logged at or after the flip's PUT and before the next flip's: its log time
 * minus the PUT's, in ms; undefined when there is none.
 */
export function agentSyncedAfterPut(samples: ReadonlyArray<Pick<FlipSample, 'at'>>, syncs: readonly SyncRecord[]): Array<number | undefined> {
  const changes = syncs.filter((s) => !s.full && !s.raw['resync']);
  return samples.map((f, i) => {
    const until = samples[i + 1]?.at ?? Infinity;
    const s = changes.find((c) => c.t >= f.at && c.t < until);
    return s ? s.t - f.at : undefined;
  });
}
