// The order of a sync's ops (frees before claims, Cilium's order within a
// Service) and per-Service isolation: a Service whose entries do not fit, or
// that the loader refuses, is skipped and reported; every other Service is
// programmed; the Proxier retries it alone with backoff. The maps here are a
// model that refuses a new key beyond its capacity with the loader's own
// error (E2BIG, ApplyResult.failed_op); the lab test (test/e2e/map-pressure)
// does the same against a real loader and real traffic.
import type { ServiceKey } from '../../control-plane/src/model/service-key.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { DesiredMapsBuilder } from '../../control-plane/src/dataplane/ebpf/desired-maps.js';
import { SyncRun, diffMaps, type LoaderOp } from '../../control-plane/src/dataplane/ebpf/sync-plan.js';
import { LoaderError } from '../../control-plane/src/dataplane/ebpf/loader-client.js';
import { emptyMapsContent, type MapsContent } from '../../control-plane/src/dataplane/ebpf/maps-content.js';
import { computeDesiredState, type DesiredServicePort } from '../../control-plane/src/dataplane/desired-state.js';
import type { Dataplane, SyncOutcome } from '../../control-plane/src/dataplane/dataplane.js';
import { ServiceTracker } from '../../control-plane/src/model/service-tracker.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import { Proxier, refusedBackoffMs } from '../../control-plane/src/sync/proxier.js';
import { healthStatus } from '../../control-plane/src/health/health-server.js';
import { bytesToIpv4 } from '../../control-plane/src/util/ipv4.js';
import { svcKeyString } from '../../control-plane/src/dataplane/ebpf/map-values.js';
import { service, slice } from './fixtures.js';

const kinds = (ops: LoaderOp[]) => ops.map((o) => Object.keys(o)[0]!);

/** The service maps with capacities, applying ops as the loader does (in order, stopping at the first failure). */
class CappedMaps {
  readonly m = emptyMapsContent();
  readonly requests: LoaderOp[][] = [];
  /** Ops whose upsertService key has this port are refused as invalid (applied 0). */
  invalidPort = -1;
  constructor(readonly cap: { services: number; backends: number }) {}

  async send(ops: LoaderOp[]): Promise<void> {
    this.requests.push(ops);
    const bad = ops.findIndex((o) => (o.upsertService as { key?: { port: number } } | undefined)?.key?.port === this.invalidPort);
    if (bad >= 0) throw new LoaderError('INVALID', `ops[${bad}].upsert_service.key.port: refused`, { applied: 0, failedOp: bad });
    for (let i = 0; i < ops.length; i++) {
      const [kind, a] = Object.entries(ops[i]!)[0] as [string, any];
      const key = a.key ? { addr: bytesToIpv4(a.key.addr), port: a.key.port, proto: a.key.proto, scope: a.key.scope } : undefined;
      const full = (size: number, has: boolean, cap: number) => !has && size >= cap;
      switch (kind) {
        case 'upsertBackend':
          if (full(this.m.backends.size, this.m.backends.has(a.id), this.cap.backends)) throw this.e2big(i, 'sy_backends');
          this.m.backends.set(a.id, { addr: bytesToIpv4(a.addr), port: a.port, proto: a.proto, state: a.state, flags: a.flags, zone: a.zone });
          break;
        case 'deleteBackend': this.m.backends.delete(a.id); break;
        case 'setMaglev': this.m.maglev.set(a.group, Uint32Array.from(a.backendIds)); break;
        case 'deleteMaglev': this.m.maglev.delete(a.group); break;
        case 'upsertRevnat': this.m.revnat.set(a.id, { addr: bytesToIpv4(a.addr), port: a.port }); break;
        case 'deleteRevnat': this.m.revnat.delete(a.id); break;
        case 'upsertService': {
          const k = svcKeyString(key!);
          if (full(this.m.services.size, this.m.services.has(k), this.cap.services)) throw this.e2big(i, 'sy_services');
          this.m.services.set(k, { key: key!, value: { id: a.id, group: a.group, count: a.count, flags: a.flags, affinityTimeout: a.affinityTimeout, tableSize: a.tableSize } });
          break;
        }
        case 'deleteService': this.m.services.delete(svcKeyString(key!)); break;
        case 'deleteAffinity': break;
        default: throw new Error(`unexpected op ${kind}`);
      }
    }
  }

  private e2big(i: number, map: string): LoaderError {
    return new LoaderError('KERNEL', `ops[${i}].upsert: update ${map}: E2BIG (Argument list too long)`, { applied: i, failedOp: i });
  }
}

function world() {
  const t = new ServiceTracker({ defaultAlgorithm: 'maglev' });
  const c = new EndpointSliceCache('node1');
  const b = new DesiredMapsBuilder({ seed: 1, sizing: { floor: 251, ceiling: 131071 } });
  const add = (name: string, i: number, port = 80) => {
    t.update(service(name, { clusterIP: `198.18.128.${i}`, clusterIPs: [`198.18.128.${i}`], ports: [{ name: 'http', port }] }));
    c.update(slice(`${name}-s`, name, [{ name: 'http', port: 8080 }], [{ ip: `198.19.1.${i}` }, { ip: `198.19.2.${i}` }]));
  };
  const desired = () => computeDesiredState(t.servicePorts(), c.allEndpoints(), { nodeName: 'node1', zone: '' });
  const wants = () => new Map([...b.serviceKeys()].map((k) => [k, b.want(k)!] as const));
  return { t, c, b, add, desired, wants };
}

async function fullSync(w: ReturnType<typeof world>, programmed: MapsContent, maps: CappedMaps): Promise<SyncRun> {
  const want = w.b.build(w.desired());
  const run = new SyncRun(programmed, { send: (ops) => maps.send(ops), maxBatchBytes: 4 << 20 });
  await run.run(w.wants(), programmed, want);
  return run;
}

test('deleting one Service and creating another: the delete goes first, so a full map has room', async () => {
  const w = world();
  w.add('a', 1);
  w.add('b', 2);
  const before = w.b.build(w.desired());
  w.t.delete(service('a', {}));
  w.c.delete(slice('a-s', 'a', [], []));
  w.add('c', 3);
  const after = w.b.build(w.desired());
  const k = kinds(diffMaps(before, after).ops);
  assert.deepEqual(k, ['deleteService', 'deleteRevnat', 'deleteMaglev', 'deleteBackend', 'deleteBackend',
    'upsertBackend', 'upsertBackend', 'setMaglev', 'upsertRevnat', 'upsertService']);

  // The same against maps with room for two frontends.
  const w2 = world();
  const maps = new CappedMaps({ services: 2, backends: 100 });
  const programmed = emptyMapsContent();
  w2.add('a', 1);
  w2.add('b', 2);
  assert.equal((await fullSync(w2, programmed, maps)).refused.size, 0);
  w2.t.delete(service('a', {}));
  w2.c.delete(slice('a-s', 'a', [], []));
  w2.add('c', 3);
  const run = await fullSync(w2, programmed, maps);
  assert.deepEqual([...run.refused], []);
  assert.deepEqual([...maps.m.services.values()].map((e) => e.key.addr).sort(), ['198.18.128.2', '198.18.128.3']);
  assert.deepEqual(maps.m, programmed, 'what the agent believes is what the maps hold');
});

test('a Service that does not fit is refused by name; every other Service is programmed; later ones are refused without a request', async () => {
  const w = world();
  const maps = new CappedMaps({ services: 3, backends: 100 });
  const programmed = emptyMapsContent();
  for (let i = 1; i <= 6; i++) w.add(`s${i}`, i);
  const run = await fullSync(w, programmed, maps);
  assert.equal(maps.m.services.size, 3);
  assert.equal(run.refused.size, 3);
  for (const [svc, why] of run.refused) {
    assert.match(svc, /^default\/s\d$/);
    assert.match(why, /sy_services/);
  }
  // One E2BIG from the loader; the other two were refused without asking it again.
  const refusedRequests = maps.requests.filter((ops) => ops.some((o) => o.upsertService)).length;
  assert.ok(refusedRequests <= 3, `requests with service writes: ${refusedRequests}`);
  assert.deepEqual(maps.m, programmed);
  // The programmed ones are whole: backends, table, reverse NAT and entry.
  for (const e of maps.m.services.values()) {
    assert.ok(maps.m.maglev.has(e.value.group));
    assert.ok(maps.m.revnat.has(e.value.id));
  }
  // Room again (a Service deleted): the next sync programs one refused Service.
  const gone = [...maps.m.services.values()][0]!.key.addr.split('.')[3];
  w.t.delete(service(`s${gone}`, {}));
  const run2 = await fullSync(w, programmed, maps);
  assert.equal(maps.m.services.size, 3);
  assert.equal(run2.refused.size, 2);
});

test('an op the loader rejects as invalid skips its Service only', async () => {
  const w = world();
  const maps = new CappedMaps({ services: 100, backends: 100 });
  maps.invalidPort = 9999;
  const programmed = emptyMapsContent();
  w.add('good1', 1);
  w.add('bad', 2, 9999);
  w.add('good2', 3);
  const run = await fullSync(w, programmed, maps);
  assert.deepEqual([...run.refused.keys()], ['default/bad']);
  assert.match(run.refused.get('default/bad')!, /INVALID/);
  assert.deepEqual([...maps.m.services.values()].map((e) => e.key.addr).sort(), ['198.18.128.1', '198.18.128.3']);
  assert.deepEqual(maps.m, programmed);
});

test('refused Services retry with backoff: 1 s doubling to 60 s', () => {
  assert.deepEqual([1, 2, 3, 4, 7, 8, 20].map(refusedBackoffMs), [1000, 2000, 4000, 8000, 60_000, 60_000, 60_000]);
});

test('the Proxier reports a refused Service, keeps syncing the others, retries it alone and forgets it once programmed', async () => {
  const t = new ServiceTracker({ defaultAlgorithm: 'maglev' });
  const c = new EndpointSliceCache('node1');
  let refuse = 2;
  const calls: Array<string[] | 'full'> = [];
  const dp: Dataplane = {
    mode: 'ebpf',
    async init() {},
    async close() {},
    async sync(_desired: DesiredServicePort[], changed?: ReadonlyMap<string, DesiredServicePort[]>): Promise<SyncOutcome> {
      calls.push(changed ? [...changed.keys()].sort() : 'full');
      const tried = changed ? changed.has('default/big') : true;
      const refused = new Map<ServiceKey, string>();
      if (tried && refuse > 0) {
        refuse--;
        refused.set('default/big', 'sy_services is full');
      }
      return { changes: 1, detail: {}, refused };
    },
  };
  const p = new Proxier(t, c, dp, () => ({ nodeName: 'node1', zone: '' }), { minSyncPeriodMs: 0, syncPeriodMs: 3_600_000 }, pino({ level: 'silent' }));
  t.update(service('small', { clusterIP: '198.18.128.1', clusterIPs: ['198.18.128.1'] }));
  t.update(service('big', { clusterIP: '198.18.128.2', clusterIPs: ['198.18.128.2'] }));
  p.start();
  try {
    await p.waitForSync();
    assert.equal(p.refused.get('default/big')?.attempts, 1);
    assert.equal(p.lastError, undefined, 'a refused Service does not fail the sync');
    assert.equal(p.oldestPendingChange, 0, 'nor leave a change pending (health)');
    // Another Service changes meanwhile: synced, without waiting for big.
    t.update(service('other', { clusterIP: '198.18.128.3', clusterIPs: ['198.18.128.3'] }));
    p.requestSync();
    await p.waitForSync();
    assert.deepEqual(calls[1], ['default/other']);
    // The retry comes by itself (1 s, then 2 s) with only that Service.
    const deadline = Date.now() + 15_000;
    while (p.refused.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(p.refused.size, 0, 'programmed on a retry');
    const retries = calls.slice(2);
    assert.deepEqual(retries, [['default/big'], ['default/big']]);
    assert.equal(p.oldestPendingChange, 0);
  } finally {
    p.stop();
  }
});

test('Services sent together are ordered by write stage, so the loader swaps their tables in one run', async () => {
  const w = world();
  const maps = new CappedMaps({ services: 100, backends: 100 });
  for (let i = 1; i <= 4; i++) w.add(`s${i}`, i);
  await fullSync(w, emptyMapsContent(), maps);
  const sent = maps.requests.flat().map((o) => Object.keys(o)[0]!);
  const stage = (k: string) => ['upsertBackend', 'setMaglev', 'upsertSourceRange', 'upsertRevnat', 'upsertService'].indexOf(k);
  assert.deepEqual(sent.map(stage), [...sent.map(stage)].sort((a, b) => a - b));
  assert.equal(sent.filter((k) => k === 'setMaglev').length, 4);
});

test('a sync keeps the changes it took pending until it succeeds: while it hangs, after it fails, and when new requests came meanwhile (a hung loader turns /healthz 503 and keeps it)', async () => {
  const t = new ServiceTracker({ defaultAlgorithm: 'maglev' });
  const c = new EndpointSliceCache('node1');
  let hang: (() => void) | undefined;
  let fail = false;
  const dp: Dataplane = {
    mode: 'ebpf',
    async init() {},
    async close() {},
    async sync(): Promise<SyncOutcome> {
      if (!fail) return { changes: 0, detail: {} };
      // A loader that does not answer: the request fails only at its timeout.
      await new Promise<void>((r) => { hang = r; });
      throw new Error('loader: TIMEOUT: no answer');
    },
  };
  const p = new Proxier(t, c, dp, () => ({ nodeName: 'node1', zone: '' }), { minSyncPeriodMs: 0, syncPeriodMs: 3_600_000 }, pino({ level: 'silent' }));
  p.start();
  try {
    await p.waitForSync();
    fail = true;
    p.requestSync();
    const first = p.oldestPendingChange;
    assert.ok(first > 0);
    while (!hang) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
    // While the sync hangs its changes are still pending: /healthz reads
    // them (CI of 6b47bab saw 200 while a retry hung, 503 between retries).
    assert.equal(p.oldestPendingChange, first, 'a running sync\'s changes stay pending');
    assert.equal(healthStatus(p, 10).healthy, false, 'unhealthy while the sync that took the changes hangs past the timeout');
    // A later request (the loader watchdog's) while the sync hangs.
    p.requestSync(true);
    assert.equal(p.oldestPendingChange, first);
    hang();
    while (p.lastError === undefined) await new Promise((r) => setTimeout(r, 5));
    assert.equal(p.oldestPendingChange, first, 'the failed sync\'s changes are the oldest pending');
    // The retry succeeds: nothing is pending, healthy again.
    fail = false;
    const okBefore = p.lastSuccess;
    while (p.lastSuccess === okBefore) await new Promise((r) => setTimeout(r, 5));
    assert.equal(p.oldestPendingChange, 0);
    assert.equal(healthStatus(p, 10).healthy, true);
  } finally {
    p.stop();
    hang?.();
  }
});

/** CappedMaps that checks, at every op, what an in-place table write needs: every slot of the old and the new table names a backend the maps hold. */
class SlotCheckedMaps extends CappedMaps {
  readonly violations: string[] = [];
  tableOps = 0;
  /** One request at a time, in the order they came, as the loader serves one connection. */
  private serving: Promise<void> = Promise.resolve();
  override send(ops: LoaderOp[]): Promise<void> {
    const done = this.serving.then(() => this.serve(ops));
    this.serving = done.catch(() => undefined);
    return done;
  }

  private async serve(ops: LoaderOp[]): Promise<void> {
    for (let i = 0; i < ops.length; i++) {
      const sm = ops[i]!.setMaglev as { group: number; backendIds: ArrayLike<number> } | undefined;
      if (sm) {
        // The loader rewrites the table slot by slot: a packet may meet any mix of the two.
        this.tableOps++;
        const old = this.m.maglev.get(sm.group) ?? [];
        for (const id of [...Array.from(old), ...Array.from(sm.backendIds)]) {
          if (!this.m.backends.has(id)) this.violations.push(`request ${this.requests.length} op ${i}: table ${sm.group} names backend ${id}, which is not in sy_backends`);
        }
      }
      await super.send([ops[i]!]);
      this.requests.pop();
      for (const [g, t] of this.m.maglev) for (const id of t) if (!this.m.backends.has(id)) this.violations.push(`after request ${this.requests.length} op ${i}: table ${g} names deleted backend ${id}`);
    }
    this.requests.push(ops);
  }
}

test('in-place table writes: a backend joins before any slot names it and leaves only after no slot does, in every request of a sync', async () => {
  const w = world();
  const maps = new SlotCheckedMaps({ services: 100, backends: 1000 });
  const programmed = emptyMapsContent();
  const eps = (i: number, gen: number) => [{ ip: `198.19.1.${i}` }, { ip: `198.19.2.${i}` }, { ip: `198.19.${3 + gen}.${i}` }];
  for (let i = 1; i <= 12; i++) {
    w.t.update(service(`s${i}`, { clusterIP: `198.18.128.${i}`, clusterIPs: [`198.18.128.${i}`], ports: [{ name: 'http', port: 80 }] }));
    w.c.update(slice(`s${i}-s`, `s${i}`, [{ name: 'http', port: 8080 }], eps(i, 0)));
  }
  await fullSync(w, programmed, maps);
  const tablesBefore = maps.tableOps;
  // A rolling update everywhere: one endpoint of every Service replaced (same M, so the loader writes in place).
  for (let i = 1; i <= 12; i++) w.c.update(slice(`s${i}-s`, `s${i}`, [{ name: 'http', port: 8080 }], eps(i, 1)));
  const want = w.b.build(w.desired());
  // Small requests: the sync spans many of them, and the deferred deletes come last.
  const run = new SyncRun(programmed, { send: (ops) => maps.send(ops), maxBatchBytes: 3000 });
  await run.run(w.wants(), programmed, want);
  assert.deepEqual(maps.violations, []);
  assert.equal(maps.tableOps - tablesBefore, 12, 'every table rewritten');
  assert.equal(run.stats.backendsDeleted, 12);
  assert.ok(run.requests > 2, `several requests (${run.requests})`);
  assert.deepEqual(maps.m, programmed);
});

/**
 * CappedMaps behind a loader that answers when the test says: shows how many
 * requests are at the loader at once. Requests apply in the order they came
 * (the loader serves one connection in order); the whole request is "written"
 * as soon as it is sent.
 */
class HeldMaps extends CappedMaps {
  private readonly waiting: Array<() => void> = [];
  maxAtLoader = 0;
  sends = 0;
  override send(ops: LoaderOp[], onWritten?: () => void): Promise<void> {
    this.sends++;
    return new Promise<void>((resolve, reject) => {
      this.waiting.push(() => super.send(ops).then(resolve, reject));
      this.maxAtLoader = Math.max(this.maxAtLoader, this.waiting.length);
      onWritten?.();
    });
  }

  /** Answers the oldest request; false when none waits. */
  answerOne(): boolean {
    const w = this.waiting.shift();
    w?.();
    return w !== undefined;
  }
}

/** Runs a full sync against HeldMaps, answering one request per turn of the event loop. */
async function heldFullSync(w: ReturnType<typeof world>, programmed: MapsContent, maps: HeldMaps, maxBatchBytes: number): Promise<SyncRun> {
  const want = w.b.build(w.desired());
  const run = new SyncRun(programmed, { send: (ops, onWritten) => maps.send(ops, onWritten), maxBatchBytes });
  let settled = false;
  const done = run.run(w.wants(), programmed, want).finally(() => { settled = true; });
  done.catch(() => undefined);
  while (!settled) {
    await new Promise((r) => setImmediate(r));
    maps.answerOne();
  }
  await done;
  return run;
}

test('a sync of many batches keeps one at the loader while it plans the next, never more, each batch one request', async () => {
  const w = world();
  for (let i = 1; i <= 6; i++) w.add(`s${i}`, i);
  const maps = new HeldMaps({ services: 100, backends: 100 });
  const programmed = emptyMapsContent();
  // One Service's ops (two backends, a 251-slot table, reverse NAT, entry) take ~1.6 kB: one Service per batch.
  const run = await heldFullSync(w, programmed, maps, 2000);
  assert.equal(maps.maxAtLoader, 2, 'the next batch is sent before the one before it is answered, and no third');
  assert.equal(run.requests, 6, 'a batch is cut to fit one request');
  assert.equal(run.refused.size, 0);
  assert.equal(maps.m.services.size, 6);
  assert.deepEqual(maps.m, programmed, 'what the agent believes is what the maps hold');
  for (const e of maps.m.services.values()) {
    assert.ok(maps.m.maglev.has(e.value.group));
    assert.ok(maps.m.revnat.has(e.value.id));
    for (const id of maps.m.maglev.get(e.value.group)!) assert.ok(maps.m.backends.has(id), `table ${e.value.group} names backend ${id}`);
  }
});

test('a refusal while the next batch is at the loader: that batch answers first, the refused Service alone is left out, nothing is lost or sent twice', async () => {
  // A full map: the 6th Service's batch meets E2BIG while the 7th's is at the loader.
  const w = world();
  for (let i = 1; i <= 8; i++) w.add(`s${i}`, i);
  const maps = new HeldMaps({ services: 5, backends: 100 });
  const programmed = emptyMapsContent();
  const run = await heldFullSync(w, programmed, maps, 2000);
  assert.equal(maps.m.services.size, 5);
  assert.deepEqual([...run.refused.keys()].sort(), ['default/s6', 'default/s7', 'default/s8']);
  for (const why of run.refused.values()) assert.match(why, /sy_services/);
  assert.deepEqual(maps.m, programmed);
  // s6 and s7 asked the loader (s7 was already there); s8 was refused without a request.
  const serviceWrites = maps.requests.filter((ops) => ops.some((o) => o.upsertService)).length;
  assert.equal(serviceWrites, 7);

  // An invalid op in the middle: every other Service is programmed, once.
  const w2 = world();
  for (let i = 1; i <= 6; i++) w2.add(`g${i}`, i, i === 3 ? 9999 : 80);
  const maps2 = new HeldMaps({ services: 100, backends: 100 });
  maps2.invalidPort = 9999;
  const programmed2 = emptyMapsContent();
  const run2 = await heldFullSync(w2, programmed2, maps2, 2000);
  assert.deepEqual([...run2.refused.keys()], ['default/g3']);
  assert.equal(maps2.m.services.size, 5);
  assert.deepEqual(maps2.m, programmed2);
  const tablesSent = maps2.requests.flat().filter((o) => o.setMaglev).length;
  assert.equal(tablesSent, 6, 'each table sent once: g3\'s batch was refused whole (INVALID applies nothing), g4\'s landed while it waited');
});

test('a loader that fails while a second batch is at it: the sync throws once both answered, and sends nothing after', async () => {
  const w = world();
  for (let i = 1; i <= 6; i++) w.add(`s${i}`, i);
  const maps = new HeldMaps({ services: 100, backends: 100 });
  const programmed = emptyMapsContent();
  const realSend = maps.send.bind(maps);
  let attempts = 0;
  // The third request finds the loader gone; so does every one after it.
  maps.send = (ops, onWritten) => (++attempts >= 3 ? Promise.reject(new LoaderError('UNAVAILABLE', 'connection to the loader closed')) : realSend(ops, onWritten));
  await assert.rejects(heldFullSync(w, programmed, maps, 2000), /UNAVAILABLE/);
  const attemptsAtThrow = attempts;
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(attempts, attemptsAtThrow, 'no request after the sync gave up');
  // The batch behind the failed one was already on its way: one more attempt, no more.
  assert.equal(attemptsAtThrow, 4);
  assert.equal(maps.m.services.size, 2);
  assert.deepEqual(maps.m, programmed, 'the two that landed are committed, nothing else');
});
