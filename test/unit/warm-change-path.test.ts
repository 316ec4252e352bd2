// The warm-up after the first full sync (issue #17, network programming p99):
// scratch changes run the trackers' and the eBPF back end's change path once
// so V8 has compiled it before the first real change, on state of their own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { Dataplane, SyncOutcome } from '../../control-plane/src/dataplane/dataplane.js';
import type { DesiredServicePort } from '../../control-plane/src/dataplane/desired-state.js';
import { warmUpChangePath } from '../../control-plane/src/dataplane/ebpf/warm-up.js';
import { EbpfDataplane } from '../../control-plane/src/dataplane/ebpf/ebpf-dataplane.js';
import type { LoaderClient } from '../../control-plane/src/dataplane/ebpf/loader-client.js';
import { DEFAULT_MAGLEV_SIZING } from '../../control-plane/src/dataplane/maglev.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import type { ServiceKey } from '../../control-plane/src/model/service-key.js';
import { ServiceTracker } from '../../control-plane/src/model/service-tracker.js';
import { Proxier } from '../../control-plane/src/sync/proxier.js';
import { WARM_ROUNDS, scratchChanges } from '../../control-plane/src/sync/warm-change-path.js';
import { service, slice } from './fixtures.js';

const NODE = { nodeName: 'node1', zone: '' };

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}

for (const family of ['IPv4', 'IPv6'] as const) {
  test(`${family}: the scratch changes are one Service whose backend set changes every round (a new Maglev table each time)`, () => {
    const changes = scratchChanges(NODE, family);
    assert.equal(changes.length, WARM_ROUNDS + 1);
    const sets = changes.map((c) => {
      assert.equal(c.size, 1);
      const [ports] = [...c.values()];
      assert.equal(ports!.length, 1);
      assert.equal(ports![0]!.svc.family ?? 'IPv4', family);
      return ports![0]!.internalEndpoints.map((e) => e.ip).sort().join(',');
    });
    for (let i = 1; i < sets.length; i++) assert.notEqual(sets[i], sets[i - 1], `round ${i} changes the backend set`);
    // Documentation addresses only: nothing a cluster could own.
    for (const s of sets) for (const ip of s.split(',')) assert.match(ip, family === 'IPv4' ? /^192\.0\.2\./ : /^2001:db8::/);
  });
}

test('the eBPF warm-up plans every change and sends nothing to the loader', async () => {
  const calls: string[] = [];
  const loader = new Proxy({}, { get: (_t, name) => () => { calls.push(String(name)); throw new Error(`loader.${String(name)} called`); } }) as unknown as LoaderClient;
  const dp = new EbpfDataplane(loader, { seed: 7, sizing: DEFAULT_MAGLEV_SIZING, nodeIP: '198.18.0.2' }, pino({ level: 'silent' }));
  const ops = await dp.warmUp(scratchChanges(NODE, 'IPv4'));
  // The first change writes a backend per endpoint, a table, a reverse NAT
  // and a service entry; each later one at least the changed table.
  assert.ok(ops >= 10 + 3 + WARM_ROUNDS, `${ops} operations planned`);
  assert.deepEqual(calls, []);
  assert.equal(dp.programmedMaps, undefined, 'the agent\'s picture of the maps is untouched');
  assert.equal([...dp.builder.serviceKeys()].length, 0, 'the agent\'s builder is untouched');
});

test('no changes, no work', async () => {
  assert.equal(await warmUpChangePath({ seed: 1, sizing: DEFAULT_MAGLEV_SIZING }, []), 0);
});

function proxierWith(warmUp: Dataplane['warmUp']) {
  const tracker = new ServiceTracker({ defaultAlgorithm: 'maglev' });
  const cache = new EndpointSliceCache('node1');
  tracker.update(service('s0', {}));
  cache.update(slice('s0-a', 's0', [{ name: 'http', port: 8080 }], [{ ip: '198.19.1.10', ready: true }]));
  const syncs: string[] = [];
  const warmed: Array<ReadonlyArray<ReadonlyMap<ServiceKey, DesiredServicePort[]>>> = [];
  const dp: Dataplane = {
    mode: 'ebpf',
    capabilities: { partialSync: true, conntrackGC: true },
    async init() {},
    async close() {},
    async sync(_d, changed): Promise<SyncOutcome> {
      syncs.push(changed ? [...changed.keys()].join(',') : 'full');
      return { changes: 0, detail: {} };
    },
    async checkDrift() { return 0; },
    ...(warmUp ? { warmUp: async (c: ReadonlyArray<ReadonlyMap<ServiceKey, DesiredServicePort[]>>) => { warmed.push(c); return warmUp(c); } } : {}),
  };
  const lines: Array<{ msg: string }> = [];
  const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l)) });
  const p = new Proxier(tracker, cache, dp, () => NODE, { minSyncPeriodMs: 0, syncPeriodMs: 3_600_000 }, log);
  return { p, syncs, warmed, lines, cache };
}

test('the proxier warms the change path once, after the first full sync, and says so', async (t) => {
  const { p, syncs, warmed, lines, cache } = proxierWith(async (c) => c.length * 3);
  t.after(() => p.stop());
  p.start();
  await turns(10);
  assert.equal(syncs[0], 'full');
  assert.equal(warmed.length, 1, 'warmed once');
  assert.equal(warmed[0]!.length, WARM_ROUNDS + 1);
  assert.deepEqual(p.changePathWarmed && { changes: p.changePathWarmed.changes, ops: p.changePathWarmed.ops }, { changes: WARM_ROUNDS + 1, ops: 3 * (WARM_ROUNDS + 1) });
  assert.ok(lines.some((l) => l.msg === 'change path warmed'));
  // A real change later: synced as ever, no second warm-up.
  cache.update(slice('s0-a', 's0', [{ name: 'http', port: 8080 }], [{ ip: '198.19.1.11', ready: true }]));
  p.requestSync();
  await turns(10);
  assert.equal(syncs.at(-1), 'default/s0');
  assert.equal(warmed.length, 1);
});

test('a warm-up that fails is logged and changes nothing else', async (t) => {
  const { p, syncs, lines, cache } = proxierWith(async () => { throw new Error('scratch broke'); });
  t.after(() => p.stop());
  p.start();
  await turns(10);
  assert.ok(lines.some((l) => l.msg.startsWith('change path warm-up failed')));
  assert.equal(p.changePathWarmed, undefined);
  cache.update(slice('s0-a', 's0', [{ name: 'http', port: 8080 }], [{ ip: '198.19.1.11', ready: true }]));
  p.requestSync();
  await turns(10);
  assert.equal(syncs.at(-1), 'default/s0', 'changes are synced as before');
});

test('a back end without warmUp (iptables) gets none', async (t) => {
  const { p, syncs, lines } = proxierWith(undefined);
  t.after(() => p.stop());
  p.start();
  await turns(10);
  assert.equal(syncs[0], 'full');
  assert.equal(p.changePathWarmed, undefined);
  assert.ok(!lines.some((l) => l.msg.includes('change path')));
});
