// The agent's informers (control-plane/src/k8s/informers.ts) against the lab
// API server while it plays its faults: stopped (TCP listener and every
// connection closed) and started again with its objects, with watch history
// compacted (re-watches get 410 Gone -> relist), and watches stalled (open but
// silent). Real HTTP, real client-node ListWatch; only the clock is short.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { startInformers, type RunningInformers } from '../../control-plane/src/k8s/informers.js';
import { createApiServer } from '../../lab/src/apiserver/server.js';
import { Store } from '../../lab/src/apiserver/store.js';
import { kubeConfig } from './lab-kubeconfig.js';


const svc = (name: string) => ({ metadata: { name }, spec: { selector: { app: name }, ports: [{ port: 80 }] } });

async function until(what: string, pred: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('informers through API server outages', { timeout: 120_000 }, () => {
  test('stop: outage reported, caches kept; start with expired history: relist delivers what changed meanwhile', async () => {
    const store = new Store();
    const server = createApiServer(store);
    const a = (await server.listen({ host: '127.0.0.1', port: 0 })) as AddressInfo;
    const seen = new Map<string, number>();
    const events: string[] = [];
    let inf: RunningInformers | undefined;
    try {
      store.create('services', svc('keep'));
      store.create('services', svc('gone'));
      inf = startInformers(kubeConfig(`http://127.0.0.1:${a.port}`), {
        service: (kind, s) => {
          events.push(`${kind} ${s.metadata?.name}`);
          if (kind === 'delete') seen.delete(s.metadata!.name!);
          else seen.set(s.metadata!.name!, 1);
        },
        endpointSlice: () => undefined,
        node: () => undefined,
      }, pino({ level: 'silent' }));
      await inf.synced;
      assert.equal(inf.connectivity().connected, true);
      assert.deepEqual([...seen.keys()].sort(), ['gone', 'keep']);

      const closed = await server.stopTcp();
      assert.deepEqual(closed, [{ host: '127.0.0.1', port: a.port }]);
      await until('outage reported', () => !inf!.connectivity().connected);
      const c = inf.connectivity();
      assert.equal(c.outages, 1);
      assert.ok(c.disconnectedSince !== undefined && c.lastError, JSON.stringify(c));
      // Changes the informers cannot see while the server is away.
      store.delete('services', 'gone');
      store.create('services', svc('new'));
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual([...seen.keys()].sort(), ['gone', 'keep'], 'caches keep their last state during the outage');

      store.compactHistory(); // the resumed watches get 410 Gone
      await server.startTcp();
      await until('relisted after 410', () => seen.has('new') && !seen.has('gone'));
      await until('connected again', () => inf!.connectivity().connected);
      assert.deepEqual([...seen.keys()].sort(), ['keep', 'new']);
      assert.ok(events.includes('delete gone'), events.join(', '));
    } finally {
      await inf?.stop();
      await server.close();
    }
  });

  test('a stalled watch is restarted after the silence timeout and resumes from its resourceVersion', async () => {
    const store = new Store();
    const server = createApiServer(store);
    const a = (await server.listen({ host: '127.0.0.1', port: 0 })) as AddressInfo;
    const seen = new Set<string>();
    let inf: RunningInformers | undefined;
    try {
      inf = startInformers(kubeConfig(`http://127.0.0.1:${a.port}`), {
        service: (kind, s) => (kind === 'delete' ? seen.delete(s.metadata!.name!) : seen.add(s.metadata!.name!)),
        endpointSlice: () => undefined,
        node: () => undefined,
      }, pino({ level: 'silent' }), { watchSilenceMs: 1500 });
      await inf.synced;
      assert.equal(server.stallWatches(), 3, 'services, endpointslices and nodes watches stalled');
      store.create('services', svc('behind-the-stall'));
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(!seen.has('behind-the-stall'), 'the stalled watch delivers nothing');
      await until('delivered after the watch restarted', () => seen.has('behind-the-stall'), 15_000);
      assert.ok(inf.connectivity().silentWatchRestarts >= 1);
      assert.equal(inf.connectivity().outages, 0, 'a silent watch restarted on purpose is not an outage');
    } finally {
      await inf?.stop();
      await server.close();
    }
  });
});
