import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Store } from '../../lab/src/apiserver/store.js';
import type { Pod } from '../../lab/src/apiserver/types.js';
import { getCondition } from '../../lab/src/apiserver/util.js';
import { startKubelet } from '../../lab/src/controllers/kubelet.js';
import { registerNodes } from '../../lab/src/controllers/nodes.js';
import { Scheduler } from '../../lab/src/controllers/scheduler.js';
import { MemoryRuntime, NODES, startTestCluster, waitFor } from './helpers.js';

const pod = (name: string, extra: Record<string, unknown> = {}) => ({
  metadata: { name, labels: { app: 'sched' } },
  spec: { containers: [{ name: 'c', image: 'i', ports: [{ name: 'http', containerPort: 8080 }] }], ...extra },
});

describe('nodes', { timeout: 60_000 }, () => {
  test('registerNodes: addresses, podCIDR, zone label, Ready', () => {
    const s = new Store();
    const [n] = registerNodes(s, [{ name: 'n1', internalIP: '198.18.0.21', podCIDR: '198.18.21.0/24', zone: 'z9', labels: { role: 'edge' } }]);
    assert.deepEqual(n?.status?.addresses, [
      { type: 'InternalIP', address: '198.18.0.21' },
      { type: 'Hostname', address: 'n1' },
    ]);
    assert.equal(n?.spec?.podCIDR, '198.18.21.0/24');
    assert.deepEqual(n?.spec?.podCIDRs, ['198.18.21.0/24']);
    assert.equal(n?.metadata.labels?.['topology.kubernetes.io/zone'], 'z9');
    assert.equal(n?.metadata.labels?.['kubernetes.io/hostname'], 'n1');
    assert.equal(n?.metadata.labels?.role, 'edge');
    assert.equal(getCondition(n?.status?.conditions, 'Ready')?.status, 'True');
    // registering again refreshes, does not fail
    registerNodes(s, [{ name: 'n1', internalIP: '198.18.0.22', podCIDR: '198.18.21.0/24', zone: 'z9' }]);
    assert.equal(s.get('nodes', 'n1')?.status?.addresses?.[0]?.address, '198.18.0.22');
  });
});

describe('scheduler', { timeout: 60_000 }, () => {
  test('fewest pods first, ties in name order; explicit nodeName honoured; NotReady nodes skipped', async () => {
    const s = new Store();
    registerNodes(s, NODES);
    const sched = new Scheduler(s).start();
    try {
      s.create('pods', pod('fixed', { nodeName: 'node-b' }));
      for (const n of ['p1', 'p2', 'p3', 'p4']) {
        s.create('pods', pod(n));
        await waitFor(s, 'pods', (ps) => !!ps[0]?.spec.nodeName, { fieldSelector: `metadata.name=${n}` });
      }
      const where = (n: string) => s.get('pods', n)?.spec.nodeName;
      assert.equal(where('fixed'), 'node-b');
      assert.equal(where('p1'), 'node-a', 'node-b already has one; a before c');
      assert.equal(where('p2'), 'node-c');
      assert.deepEqual([where('p3'), where('p4')], ['node-a', 'node-b']);
      assert.equal(getCondition(s.get('pods', 'p1')?.status?.conditions, 'PodScheduled')?.status, 'True');
      // node-c NotReady (it has the fewest pods): skipped
      const nc = s.get('nodes', 'node-c');
      s.updateStatus('nodes', { ...nc, status: { ...nc?.status, conditions: [{ type: 'Ready', status: 'False' }] } });
      s.create('pods', pod('p5'));
      const [p5] = await waitFor(s, 'pods', (ps) => !!ps[0]?.spec.nodeName, { fieldSelector: 'metadata.name=p5' });
      assert.notEqual(p5?.spec.nodeName, 'node-c');
    } finally {
      sched.stop();
    }
  });

  test('no schedulable node: Unschedulable, bound once a node appears', async () => {
    const s = new Store();
    const sched = new Scheduler(s).start();
    try {
      s.create('pods', pod('waiting'));
      const [w] = await waitFor(s, 'pods', (ps) => getCondition(ps[0]?.status?.conditions, 'PodScheduled')?.reason === 'Unschedulable', {});
      assert.equal(w?.spec.nodeName, undefined);
      registerNodes(s, [NODES[0] as (typeof NODES)[0]]);
      const [b] = await waitFor(s, 'pods', (ps) => ps[0]?.spec.nodeName === 'node-a', {});
      assert.equal(getCondition(b?.status?.conditions, 'PodScheduled')?.status, 'True');
    } finally {
      sched.stop();
    }
  });
});

describe('kubelet', { timeout: 60_000 }, () => {
  test('starts bound pods: IPs, conditions, annotations; liveness; graceful termination', async () => {
    const s = new Store();
    registerNodes(s, NODES);
    const rt = new MemoryRuntime('198.18.1');
    const k = startKubelet(s, 'node-a', rt, { probeIntervalMs: 50 });
    try {
      s.create('pods', pod('mine', { nodeName: 'node-a', terminationGracePeriodSeconds: 1 }));
      s.create('pods', pod('theirs', { nodeName: 'node-b' }));
      const [p] = await waitFor(s, 'pods', (ps) => getCondition(ps[0]?.status?.conditions, 'Ready')?.status === 'True', { fieldSelector: 'metadata.name=mine' });
      const st = (p as Pod).status;
      assert.equal(st?.phase, 'Running');
      assert.equal(st?.podIP, '198.18.1.10');
      assert.deepEqual(st?.podIPs, [{ ip: '198.18.1.10' }]);
      assert.equal(st?.hostIP, '198.18.0.11');
      assert.deepEqual(st?.hostIPs, [{ ip: '198.18.0.11' }]);
      assert.ok(st?.startTime);
      for (const t of ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready']) {
        assert.equal(getCondition(st?.conditions, t)?.status, 'True', t);
      }
      assert.equal(st?.containerStatuses?.[0]?.ready, true);
      assert.ok(st?.containerStatuses?.[0]?.state?.running);
      assert.match(p?.metadata.annotations?.['lab.switchyard.dev/netns'] as string, /^pod-/);
      assert.equal(rt.calls.filter((c) => c.op === 'start').length, 1, 'only its own node');
      assert.deepEqual(rt.calls[0]?.pod, 'default/mine');
      assert.equal(s.get('pods', 'theirs')?.status?.phase, 'Pending');

      // The pod's server dies: not ready.
      rt.kill(p?.metadata.uid as string);
      const [dead] = await waitFor(s, 'pods', (ps) => getCondition(ps[0]?.status?.conditions, 'Ready')?.status === 'False', { fieldSelector: 'metadata.name=mine' });
      assert.equal(dead?.status?.containerStatuses?.[0]?.ready, false);
      assert.ok(dead?.status?.containerStatuses?.[0]?.state?.terminated);

      // Graceful deletion: SIGTERM, then removal once the 1 s grace period is over (the pod keeps running).
      s.create('pods', pod('grace', { nodeName: 'node-a', terminationGracePeriodSeconds: 1 }));
      await waitFor(s, 'pods', (ps) => ps[0]?.status?.phase === 'Running', { fieldSelector: 'metadata.name=grace' });
      const t0 = Date.now();
      s.delete('pods', 'grace');
      await waitFor(s, 'pods', (ps) => ps.length === 0, { fieldSelector: 'metadata.name=grace', timeoutMs: 4000 });
      const took = Date.now() - t0;
      assert.ok(took >= 900, `kept for its grace period (${took} ms)`);
      const ops = rt.calls.filter((c) => c.pod === 'default/grace').map((c) => c.op);
      assert.deepEqual(ops, ['start', 'terminate', 'remove']);
    } finally {
      await k.stop();
    }
  });

  test('lab cluster wiring: a pod created over the API is scheduled, started and reachable as an endpoint', async () => {
    const c = await startTestCluster();
    try {
      c.store.create('pods', pod('solo'));
      const [p] = await waitFor(c.store, 'pods', (ps) => ps[0]?.status?.phase === 'Running', { fieldSelector: 'metadata.name=solo' });
      assert.equal(p?.spec.nodeName, 'node-a');
      assert.ok(c.runtimes.get('node-a')?.calls.some((x) => x.op === 'start' && x.pod === 'default/solo'));
      assert.equal(c.kubelets.size, 3);
    } finally {
      await c.stop();
    }
  });
});
