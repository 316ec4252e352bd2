// When the Proxier starts a sync. With nothing to wait for (minSyncPeriod 0,
// no backoff) a change is synced in the same turn of the event loop, not
// after a timer: node holds a setTimeout(0) for at least 1 ms, which every
// EndpointSlice change paid on its way to the datapath (network programming
// latency). With a minSyncPeriod, the sync still waits for its timer (60 s here,
// so that no stall of a loaded machine can make the wait 0 by itself).
// setTimeout is mocked here (node:test mock timers, setImmediate left real),
// so a sync that depends on a timer does not start until the test ticks it.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { Dataplane, SyncOutcome } from '../../control-plane/src/dataplane/dataplane.js';
import { ServiceTracker } from '../../control-plane/src/model/service-tracker.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import { Proxier } from '../../control-plane/src/sync/proxier.js';
import { service } from './fixtures.js';

function recordingDataplane(): { dp: Dataplane; syncs: number[] } {
  const syncs: number[] = [];
  const dp: Dataplane = {
    mode: 'ebpf',
    capabilities: { partialSync: true, conntrackGC: true },
    async init() {},
    async close() {},
    async sync(_desired, changed): Promise<SyncOutcome> {
      syncs.push(changed ? changed.size : -1);
      return { changes: 1, detail: {} };
    },
  };
  return { dp, syncs };
}

/** Lets setImmediate callbacks and promise jobs queued so far run (setImmediate is real here). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}

test('with minSyncPeriod 0 a change is synced without waiting for any timer', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  t.after(() => mock.timers.reset());
  const tracker = new ServiceTracker({ defaultAlgorithm: 'maglev' });
  const { dp, syncs } = recordingDataplane();
  const p = new Proxier(tracker, new EndpointSliceCache('node1'), dp, () => ({ nodeName: 'node1', zone: '' }),
    { minSyncPeriodMs: 0, syncPeriodMs: 3_600_000 }, pino({ level: 'silent' }));
  p.start();
  try {
    await turns(5);
    assert.deepEqual(syncs, [-1], 'the first (full) sync ran without a timer firing');
    tracker.update(service('a', { clusterIP: '198.18.128.1', clusterIPs: ['198.18.128.1'] }));
    p.requestSync();
    await turns(5);
    assert.deepEqual(syncs, [-1, 1], 'the change was synced without a timer firing');
    // Two changes in one turn still make one sync.
    tracker.update(service('b', { clusterIP: '198.18.128.2', clusterIPs: ['198.18.128.2'] }));
    p.requestSync();
    tracker.update(service('c', { clusterIP: '198.18.128.3', clusterIPs: ['198.18.128.3'] }));
    p.requestSync();
    await turns(5);
    assert.deepEqual(syncs, [-1, 1, 2], 'changes made in one turn are synced together');
  } finally {
    p.stop();
  }
});

test('with a minSyncPeriod the next sync waits for its timer', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  t.after(() => mock.timers.reset());
  const tracker = new ServiceTracker({ defaultAlgorithm: 'maglev' });
  const { dp, syncs } = recordingDataplane();
  const p = new Proxier(tracker, new EndpointSliceCache('node1'), dp, () => ({ nodeName: 'node1', zone: '' }),
    { minSyncPeriodMs: 60_000, syncPeriodMs: 3_600_000 }, pino({ level: 'silent' }));
  p.start();
  try {
    await turns(5);
    assert.deepEqual(syncs, [-1]);
    tracker.update(service('a', { clusterIP: '198.18.128.1', clusterIPs: ['198.18.128.1'] }));
    p.requestSync();
    await turns(5);
    assert.deepEqual(syncs, [-1], 'held by minSyncPeriod');
    mock.timers.tick(60_000);
    await turns(5);
    assert.deepEqual(syncs, [-1, 1], 'synced once the period passed');
  } finally {
    p.stop();
  }
});
