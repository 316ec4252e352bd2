// The periodic pass must not hold back a change (network programming p99,
// issue #17). It used to be one full sync: every Service recomputed and the
// maps read back, seconds at 10,000 Services, and an EndpointSlice change
// that arrived meanwhile waited for all of it. A back end with a partial path
// and a drift check of its own now gets the drift check beside the syncs and
// the recomputation in slices, each taken only when no change waits; a full
// sync follows only when the check finds drift. A back end without them
// (iptables) keeps kube-proxy's periodic full sync.
// setTimeout/setInterval are mocked (the period is ticked), setImmediate is real.
import { test, mock, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { Dataplane, SyncOutcome } from '../../control-plane/src/dataplane/dataplane.js';
import { ServiceTracker } from '../../control-plane/src/model/service-tracker.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import { Proxier, WARM_SERVICES } from '../../control-plane/src/sync/proxier.js';
import { service, slice } from './fixtures.js';

const PERIOD = 30_000;
const N = 300;

/** A latch the test opens. */
function gate(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

interface Recorded { changed: string[] | 'full'; verify: boolean }

/** A back end whose full syncs (after the first) and drift checks wait on gates the test holds. */
function gatedDataplane(withDriftCheck: boolean) {
  const syncs: Recorded[] = [];
  const fullHold = gate(), driftHold = gate();
  let drift = 0;
  let driftChecks = 0;
  const dp: Dataplane = {
    mode: 'ebpf',
    capabilities: { partialSync: true, conntrackGC: true },
    async init() {},
    async close() {},
    async sync(_desired, changed, opts): Promise<SyncOutcome> {
      syncs.push({ changed: changed ? [...changed.keys()] : 'full', verify: !!opts?.verify });
      if (!changed && syncs.length > 1) await fullHold.wait;
      return { changes: changed ? 0 : 1, detail: {} };
    },
    ...(withDriftCheck ? {
      async checkDrift(): Promise<number> {
        driftChecks++;
        await driftHold.wait;
        return drift;
      },
    } : {}),
  };
  return {
    dp, syncs, fullHold, driftHold,
    setDrift: (n: number) => (drift = n),
    driftChecks: () => driftChecks,
  };
}

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}

function cluster(): { tracker: ServiceTracker; cache: EndpointSliceCache } {
  const tracker = new ServiceTracker({ defaultAlgorithm: 'maglev' });
  const cache = new EndpointSliceCache('node1');
  for (let i = 0; i < N; i++) {
    const ip = `198.18.${128 + Math.floor(i / 250)}.${1 + (i % 250)}`;
    tracker.update(service(`s${i}`, { clusterIP: ip, clusterIPs: [ip] }));
    cache.update(slice(`s${i}-a`, `s${i}`, [{ name: 'http', port: 8080 }], [{ ip: '198.19.1.10', ready: true }]));
  }
  return { tracker, cache };
}

/**
 * A started proxier over N Services (mocked timers, first full sync done);
 * the gates named in `open` start open. Everything is undone after the test.
 */
async function started(t: TestContext, withDriftCheck: boolean, open: { full?: boolean; drift?: boolean; driftFound?: number } = {}) {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  const { tracker, cache } = cluster();
  const f = gatedDataplane(withDriftCheck);
  if (open.full) f.fullHold.open();
  if (open.drift) f.driftHold.open();
  if (open.driftFound) f.setDrift(open.driftFound);
  const p = new Proxier(tracker, cache, f.dp, () => ({ nodeName: 'node1', zone: '' }),
    { minSyncPeriodMs: 0, syncPeriodMs: PERIOD }, pino({ level: 'silent' }));
  t.after(() => {
    f.fullHold.open();
    f.driftHold.open();
    p.stop();
    mock.timers.reset();
  });
  p.start();
  await turns(5);
  assert.deepEqual(f.syncs[0], { changed: 'full', verify: false }, 'the first sync is full');
  if (withDriftCheck) {
    // Then one slice over WARM_SERVICES Services through the partial path
    // (warmPartialPath): the tests below start after it.
    assert.equal(f.syncs.length, 2, 'the first full sync and the warm slice');
    assert.equal((f.syncs[1]!.changed as string[]).length, WARM_SERVICES, 'the warm slice recomputes WARM_SERVICES Services');
    f.syncs.splice(1);
  }
  return { f, p, cache };
}

test('a change arriving with the periodic pass is synced at once, not after it', async (t) => {
  const { f, p, cache } = await started(t, true);
  assert.deepEqual(f.syncs, [{ changed: 'full', verify: false }], 'the first sync is full');
  mock.timers.tick(PERIOD);
  // The flip: s7's endpoint moves, just as the periodic pass begins.
  cache.update(slice('s7-a', 's7', [{ name: 'http', port: 8080 }], [{ ip: '198.19.1.11', ready: true }]));
  p.requestSync();
  await turns(10);
  const after = f.syncs.slice(1);
  assert.ok(after.length > 0, 'a sync ran after the period began (the drift check still holds)');
  assert.deepEqual(after[0], { changed: ['default/s7'], verify: false }, 'the change is the first sync after the period began, alone');
  assert.ok(after.every((s) => s.changed !== 'full'), 'no full sync in the periodic pass');
  assert.equal(f.driftChecks(), 1, 'the drift check runs beside the syncs');
});

test('the periodic pass recomputes every Service in slices with pauses between them, a change goes first, and the pass ends', async (t) => {
  const { f, p, cache } = await started(t, true, { drift: true });
  mock.timers.tick(PERIOD);
  await turns(2);
  assert.equal(f.syncs.length, 2, 'one slice ran; the next waits for its pause (a mocked timer)');
  cache.update(slice('s250-a', 's250', [{ name: 'http', port: 8080 }], [{ ip: '198.19.1.12', ready: true }]));
  p.requestSync();
  await turns(3);
  assert.deepEqual(f.syncs[f.syncs.length - 1], { changed: ['default/s250'], verify: false }, 'the change did not wait for the pause between slices');
  for (let i = 0; i < 300; i++) {
    mock.timers.tick(50);
    await turns(2);
  }
  const slices = f.syncs.slice(1).map((s) => s.changed);
  assert.ok(slices.every((c) => c !== 'full'), 'no full sync');
  const seen = new Set(slices.flat());
  for (let i = 0; i < N; i++) assert.ok(seen.has(`default/s${i}`), `s${i} recomputed by the pass`);
  assert.ok(slices.length > 2, `more than one slice (${slices.length})`);
  const n = f.syncs.length;
  mock.timers.tick(1000);
  await turns(50);
  assert.equal(f.syncs.length, n, 'the pass ended: no sync without a change');
});

test('drift found by the check brings one full sync that verifies', async (t) => {
  const { f } = await started(t, true, { full: true, driftFound: 3 });
  mock.timers.tick(PERIOD);
  f.driftHold.open();
  await turns(50);
  assert.deepEqual(f.syncs.slice(1).filter((s) => s.changed === 'full'), [{ changed: 'full', verify: true }]);
});

test('a back end without a drift check keeps the periodic full sync that verifies', async (t) => {
  const { f } = await started(t, false, { full: true });
  mock.timers.tick(PERIOD);
  await turns(10);
  assert.deepEqual(f.syncs.slice(1), [{ changed: 'full', verify: true }]);
});
