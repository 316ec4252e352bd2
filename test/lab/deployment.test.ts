import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EndpointSlice, Pod, ReplicaSet } from '../../lab/src/apiserver/types.js';
import { getCondition } from '../../lab/src/apiserver/util.js';
import { podTemplate, request, startTestCluster, waitFor, waitUntil } from './helpers.js';

const ready = (p: Pod) => getCondition(p.status?.conditions, 'Ready')?.status === 'True';
const live = (pods: Pod[]) => pods.filter((p) => !p.metadata.deletionTimestamp);

function endpointsOf(slices: EndpointSlice[]) {
  return slices.flatMap((s) => s.endpoints ?? []);
}

describe('Deployment -> ReplicaSet -> Pods -> EndpointSlices', { timeout: 60_000 }, () => {
  test('scale 3 -> 1 -> 4 through the scale subresource', async () => {
    const c = await startTestCluster();
    try {
      const svc = await request(c.base, 'POST', '/api/v1/namespaces/default/services', {
        metadata: { name: 'web' },
        spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] },
      });
      assert.equal(svc.status, 201, svc.text);
      const dep = await request(c.base, 'POST', '/apis/apps/v1/namespaces/default/deployments', {
        metadata: { name: 'web' },
        spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: podTemplate({ app: 'web' }, [{ name: 'http', containerPort: 8080 }], 2) },
      });
      assert.equal(dep.status, 201, dep.text);

      const pods = await waitFor(c.store, 'pods', (ps) => ps.length === 3 && ps.every(ready), { labelSelector: 'app=web', what: '3 ready pods' });
      const rss = c.store.list('replicasets').items;
      assert.equal(rss.length, 1);
      const rs = rss[0] as ReplicaSet;
      const hash = rs.metadata.labels?.['pod-template-hash'] as string;
      assert.match(hash, /^[bcdfghjklmnpqrstvwxz2456789]+$/);
      assert.equal(rs.metadata.name, `web-${hash}`);
      assert.equal(rs.spec.selector.matchLabels?.['pod-template-hash'], hash);
      assert.deepEqual(rs.metadata.ownerReferences?.map((o) => [o.kind, o.name, o.controller]), [['Deployment', 'web', true]]);
      for (const p of pods) {
        assert.match(p.metadata.name as string, new RegExp(`^web-${hash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
        assert.equal(p.metadata.labels?.['pod-template-hash'], hash);
        assert.deepEqual(p.metadata.ownerReferences?.map((o) => [o.kind, o.uid, o.controller]), [['ReplicaSet', rs.metadata.uid, true]]);
        assert.equal(p.status?.phase, 'Running');
        assert.ok(p.status?.podIP);
      }
      assert.deepEqual(pods.map((p) => p.spec.nodeName).sort(), ['node-a', 'node-b', 'node-c'], 'spread: fewest pods first');

      let slices = await waitFor(
        c.store,
        'endpointslices',
        (ss) => endpointsOf(ss).length === 3 && endpointsOf(ss).every((e) => e.conditions?.ready),
        { labelSelector: 'kubernetes.io/service-name=web', what: '3 ready endpoints' },
      );
      assert.equal(slices.length, 1);
      const slice = slices[0] as EndpointSlice;
      assert.deepEqual(slice.ports, [{ name: '', port: 8080, protocol: 'TCP' }]);
      assert.equal(slice.addressType, 'IPv4');
      assert.equal(slice.metadata.labels?.['endpointslice.kubernetes.io/managed-by'], 'endpointslice-controller.k8s.io');
      assert.match(slice.metadata.name as string, /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      assert.deepEqual(
        endpointsOf(slices).map((e) => e.addresses[0]).sort(),
        pods.map((p) => p.status?.podIP).sort(),
      );
      const d0 = await waitFor(c.store, 'deployments', (ds) => ds[0]?.status?.availableReplicas === 3 && ds[0]?.status?.updatedReplicas === 3);
      assert.equal(d0[0]?.status?.observedGeneration, d0[0]?.metadata.generation);
      assert.equal(d0[0]?.status?.conditions?.find((x) => x.type === 'Available')?.status, 'True');

      // 3 -> 1
      const scale = (await request(c.base, 'GET', '/apis/apps/v1/namespaces/default/deployments/web/scale')).body;
      const put = await request(c.base, 'PUT', '/apis/apps/v1/namespaces/default/deployments/web/scale', { ...scale, spec: { replicas: 1 } });
      assert.equal(put.status, 200, put.text);
      // Two pods terminate: shown serving + terminating (not ready) while their grace period runs.
      slices = await waitFor(
        c.store,
        'endpointslices',
        (ss) => endpointsOf(ss).filter((e) => e.conditions?.terminating && e.conditions.serving && !e.conditions.ready).length === 2,
        { labelSelector: 'kubernetes.io/service-name=web', what: '2 serving+terminating endpoints' },
      );
      assert.equal(endpointsOf(slices).filter((e) => e.conditions?.ready).length, 1);
      const terminating = await waitFor(
        c.store,
        'pods',
        (ps) => ps.filter((p) => p.metadata.deletionTimestamp && getCondition(p.status?.conditions, 'Ready')?.status === 'False').length === 2,
        { labelSelector: 'app=web', what: 'kubelet reports 2 terminating pods not ready' },
      ).then((ps) => ps.filter((p) => p.metadata.deletionTimestamp));
      for (const p of terminating) assert.equal(p.metadata.deletionGracePeriodSeconds, 2);
      await c.controllers.endpointSlices.idle();
      slices = c.store.list('endpointslices', { labelSelector: 'kubernetes.io/service-name=web' }).items;
      assert.equal(endpointsOf(slices).filter((e) => e.conditions?.terminating && e.conditions.serving && !e.conditions.ready).length, 2, 'still serving while the grace period runs');
      // ... and are gone after it.
      await waitFor(c.store, 'pods', (ps) => ps.length === 1, { labelSelector: 'app=web', what: '1 pod left', timeoutMs: 8000 });
      slices = await waitFor(c.store, 'endpointslices', (ss) => endpointsOf(ss).length === 1, { labelSelector: 'kubernetes.io/service-name=web' });
      for (const t of terminating) {
        const rt = c.runtimes.get(t.spec.nodeName as string);
        assert.ok(rt?.calls.some((x) => x.op === 'terminate' && x.uid === t.metadata.uid), 'SIGTERM sent');
        assert.ok(rt?.calls.some((x) => x.op === 'remove' && x.uid === t.metadata.uid), 'removed');
      }

      // 1 -> 4
      const s2 = (await request(c.base, 'GET', '/apis/apps/v1/namespaces/default/deployments/web/scale')).body;
      assert.equal((await request(c.base, 'PUT', '/apis/apps/v1/namespaces/default/deployments/web/scale', { ...s2, spec: { replicas: 4 } })).status, 200);
      const four = await waitFor(c.store, 'pods', (ps) => ps.length === 4 && ps.every(ready), { labelSelector: 'app=web', what: '4 ready pods' });
      slices = await waitFor(
        c.store,
        'endpointslices',
        (ss) => endpointsOf(ss).length === 4 && endpointsOf(ss).every((e) => e.conditions?.ready),
        { labelSelector: 'kubernetes.io/service-name=web', what: '4 ready endpoints' },
      );
      assert.equal(slices.length, 1, 'updated in place');
      assert.equal(slices[0]?.metadata.name, slice.metadata.name, 'same slice as before');
      assert.deepEqual(endpointsOf(slices).map((e) => e.addresses[0]).sort(), four.map((p) => p.status?.podIP).sort());
      assert.equal(c.store.list('replicasets').items.length, 1, 'scaling does not create ReplicaSets');
      const counts = new Map<string, number>();
      for (const p of four) counts.set(p.spec.nodeName as string, (counts.get(p.spec.nodeName as string) ?? 0) + 1);
      assert.deepEqual([...counts.values()].sort(), [1, 1, 2]);
    } finally {
      await c.stop();
    }
  });

  test('a template change rolls out to a new ReplicaSet; the old one ends at 0', async () => {
    const c = await startTestCluster();
    try {
      c.store.create('deployments', {
        metadata: { name: 'api' },
        spec: { replicas: 4, selector: { matchLabels: { app: 'api' } }, template: podTemplate({ app: 'api' }, undefined, 1) },
      });
      await waitFor(c.store, 'pods', (ps) => ps.length === 4 && ps.every(ready), { labelSelector: 'app=api' });
      const oldRS = c.store.list('replicasets').items[0] as ReplicaSet;
      // Never fewer than replicas - maxUnavailable (4 - 1) ready pods, never more than replicas + maxSurge (4 + 1) pods counted by the ReplicaSets.
      let minReady = Infinity;
      let maxTotal = 0;
      const h = c.store.watch('replicasets', { resourceVersion: c.store.currentResourceVersion() }, () => {
        const rss = c.store.peekList('replicasets');
        maxTotal = Math.max(maxTotal, rss.reduce((n, r) => n + (r.spec.replicas ?? 0), 0));
      });
      const hp = c.store.watch('pods', { resourceVersion: c.store.currentResourceVersion() }, () => {
        minReady = Math.min(minReady, live(c.store.peekList('pods', { labelSelector: 'app=api' })).filter(ready).length);
      });
      c.store.patch('deployments', 'api', { spec: { template: { metadata: { annotations: { rev: '2' } } } } });
      const rss = await waitFor(
        c.store,
        'replicasets',
        (items) => items.length === 2 && items.some((r) => r.metadata.uid === oldRS.metadata.uid && r.spec.replicas === 0 && r.status?.replicas === 0) && items.some((r) => r.metadata.uid !== oldRS.metadata.uid && r.status?.readyReplicas === 4),
        { what: 'rollout', timeoutMs: 10000 },
      );
      h.stop();
      hp.stop();
      const newRS = rss.find((r) => r.metadata.uid !== oldRS.metadata.uid) as ReplicaSet;
      assert.notEqual(newRS.metadata.labels?.['pod-template-hash'], oldRS.metadata.labels?.['pod-template-hash']);
      assert.equal(newRS.metadata.annotations?.['deployment.kubernetes.io/revision'], '2');
      assert.ok(minReady >= 3, `availability kept (min ready ${minReady})`);
      assert.ok(maxTotal <= 5, `surge bounded (max ${maxTotal})`);
      const d = await waitFor(c.store, 'deployments', (ds) => ds[0]?.status?.updatedReplicas === 4 && ds[0]?.status?.replicas === 4);
      assert.equal(d[0]?.metadata.annotations?.['deployment.kubernetes.io/revision'], '2');
      const pods = live(c.store.list('pods', { labelSelector: 'app=api' }).items);
      assert.ok(pods.every((p) => p.metadata.labels?.['pod-template-hash'] === newRS.metadata.labels?.['pod-template-hash']));
    } finally {
      await c.stop();
    }
  });

  test('Recreate: old pods are gone before new ones start', async () => {
    const c = await startTestCluster();
    try {
      c.store.create('deployments', {
        metadata: { name: 'rec' },
        spec: { replicas: 2, strategy: { type: 'Recreate' }, selector: { matchLabels: { app: 'rec' } }, template: podTemplate({ app: 'rec' }, undefined, 1) },
      });
      await waitFor(c.store, 'pods', (ps) => ps.length === 2 && ps.every(ready), { labelSelector: 'app=rec' });
      const hashes = new Set<string>();
      let mixed = false;
      const h = c.store.watch('pods', { resourceVersion: c.store.currentResourceVersion(), labelSelector: 'app=rec' }, () => {
        const seen = new Set(c.store.peekList('pods', { labelSelector: 'app=rec' }).map((p) => p.metadata.labels?.['pod-template-hash']));
        for (const x of seen) hashes.add(x as string);
        if (seen.size > 1) mixed = true;
      });
      c.store.patch('deployments', 'rec', { spec: { template: { metadata: { annotations: { rev: '2' } } } } });
      await waitFor(c.store, 'replicasets', (rs) => rs.length === 2 && rs.some((r) => r.status?.readyReplicas === 2 && r.metadata.annotations?.['deployment.kubernetes.io/revision'] === '2'), { timeoutMs: 10000 });
      h.stop();
      assert.equal(hashes.size, 2);
      assert.equal(mixed, false, 'never old and new pods at once');
    } finally {
      await c.stop();
    }
  });

  test('ReplicationController: pods, status, scale subresource; deleting owners cascades', async () => {
    const c = await startTestCluster();
    try {
      const rc = await request(c.base, 'POST', '/api/v1/namespaces/default/replicationcontrollers', {
        metadata: { name: 'legacy' },
        spec: { replicas: 2, template: podTemplate({ app: 'legacy' }, undefined, 1) },
      });
      assert.equal(rc.status, 201, rc.text);
      assert.deepEqual(rc.body.spec.selector, { app: 'legacy' }, 'selector defaulted from the template');
      const pods = await waitFor(c.store, 'pods', (ps) => ps.length === 2 && ps.every(ready), { labelSelector: 'app=legacy' });
      for (const p of pods) {
        assert.match(p.metadata.name as string, /^legacy-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
        assert.equal(p.metadata.ownerReferences?.[0]?.kind, 'ReplicationController');
      }
      await waitFor(c.store, 'replicationcontrollers', (r) => r[0]?.status?.readyReplicas === 2 && r[0]?.status?.replicas === 2);
      const sc = await request(c.base, 'GET', '/api/v1/namespaces/default/replicationcontrollers/legacy/scale');
      assert.equal(sc.body.status.selector, 'app=legacy');
      await request(c.base, 'PUT', '/api/v1/namespaces/default/replicationcontrollers/legacy/scale', { ...sc.body, spec: { replicas: 0 } });
      await waitFor(c.store, 'pods', (ps) => ps.length === 0, { labelSelector: 'app=legacy', timeoutMs: 8000 });

      // Deleting a Deployment removes its ReplicaSets and pods (background cascading).
      c.store.create('deployments', {
        metadata: { name: 'gc' },
        spec: { replicas: 2, selector: { matchLabels: { app: 'gc' } }, template: podTemplate({ app: 'gc' }, undefined, 1) },
      });
      await waitFor(c.store, 'pods', (ps) => ps.length === 2, { labelSelector: 'app=gc' });
      const del = await request(c.base, 'DELETE', '/apis/apps/v1/namespaces/default/deployments/gc');
      assert.equal(del.status, 200);
      assert.equal(del.body.kind, 'Status');
      assert.equal(del.body.status, 'Success');
      await waitUntil(c.store, ['replicasets', 'pods'], () => c.store.list('replicasets').items.length === 0 && c.store.list('pods', { labelSelector: 'app=gc' }).items.length === 0, 8000, 'cascade');
    } finally {
      await c.stop();
    }
  });
});
