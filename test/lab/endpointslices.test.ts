import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Store } from '../../lab/src/apiserver/store.js';
import type { Endpoint, EndpointSlice, Pod } from '../../lab/src/apiserver/types.js';
import { getCondition } from '../../lab/src/apiserver/util.js';
import { EndpointSliceController } from '../../lab/src/controllers/endpointslice.js';
import { request, startTestCluster, waitFor, waitUntil } from './helpers.js';

const SEL = (svc: string) => ({ labelSelector: `kubernetes.io/service-name=${svc}` });

function eps(slices: EndpointSlice[]): Endpoint[] {
  return slices.flatMap((s) => s.endpoints ?? []);
}

function podOn(node: string, name: string, labels: Record<string, string>, ports: Array<{ name?: string; containerPort: number; protocol?: string }>, grace = 30) {
  return {
    metadata: { name, labels },
    spec: { nodeName: node, terminationGracePeriodSeconds: grace, containers: [{ name: 'whoami', image: 'switchyard/whoami', ports }] },
  };
}

describe('EndpointSlice controller', { timeout: 60_000 }, () => {
  test('named targetPorts are resolved per pod; endpoints grouped by resolved port set', async () => {
    const c = await startTestCluster();
    try {
      c.store.create('services', {
        metadata: { name: 'multi', labels: { team: 'net' } },
        spec: {
          selector: { app: 'multi' },
          ports: [
            { name: 'http', port: 80, targetPort: 'web' },
            { name: 'metrics', port: 9090, targetPort: 9100 },
            { name: 'dns', port: 53, protocol: 'UDP', targetPort: 'dnsport' },
          ],
        },
      });
      c.store.create('pods', podOn('node-a', 'p1', { app: 'multi' }, [{ name: 'web', containerPort: 8080 }, { name: 'dnsport', containerPort: 5300, protocol: 'TCP' }]));
      c.store.create('pods', podOn('node-b', 'p2', { app: 'multi' }, [{ name: 'web', containerPort: 8081 }, { name: 'dnsport', containerPort: 5353, protocol: 'UDP' }]));
      c.store.create('pods', podOn('node-c', 'p3', { app: 'multi' }, [{ name: 'other', containerPort: 7000 }]));
      c.store.create('pods', podOn('node-c', 'p4', { app: 'else' }, [{ name: 'web', containerPort: 8080 }]));
      const slices = await waitFor(c.store, 'endpointslices', (ss) => ss.length === 3 && eps(ss).length === 3 && eps(ss).every((e) => e.conditions?.ready), {
        ...SEL('multi'),
        what: '3 slices',
      });
      const byPod = new Map(slices.map((s) => [s.endpoints?.[0]?.targetRef?.name, s]));
      assert.deepEqual(byPod.get('p1')?.ports, [
        { name: 'http', port: 8080, protocol: 'TCP' },
        { name: 'metrics', port: 9100, protocol: 'TCP' },
      ], 'a named port of another protocol does not match');
      assert.deepEqual(byPod.get('p2')?.ports, [
        { name: 'http', port: 8081, protocol: 'TCP' },
        { name: 'metrics', port: 9100, protocol: 'TCP' },
        { name: 'dns', port: 5353, protocol: 'UDP' },
      ]);
      assert.deepEqual(byPod.get('p3')?.ports, [{ name: 'metrics', port: 9100, protocol: 'TCP' }], 'a pod lacking the named port contributes no endpoint for it');
      for (const s of slices) {
        assert.equal(s.endpoints?.length, 1);
        assert.equal(s.metadata.labels?.team, 'net', 'service labels copied');
        assert.equal(s.metadata.labels?.['kubernetes.io/service-name'], 'multi');
        assert.equal(s.metadata.ownerReferences?.[0]?.kind, 'Service');
        assert.equal(s.metadata.ownerReferences?.[0]?.controller, true);
        assert.equal(s.metadata.labels?.['service.kubernetes.io/headless'], undefined);
      }
      const e1 = byPod.get('p1')?.endpoints?.[0] as Endpoint;
      const p1 = c.store.get('pods', 'p1') as Pod;
      assert.deepEqual(e1, {
        addresses: [p1.status?.podIP as string],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: 'node-a',
        zone: 'zone-a',
        targetRef: { kind: 'Pod', namespace: 'default', name: 'p1', uid: p1.metadata.uid as string },
      });
      // Changing the Service's targetPort moves endpoints; slices are updated, not recreated, when possible.
      const before = new Set(slices.map((s) => s.metadata.uid));
      c.store.patch('services', 'multi', { spec: { ports: [{ name: 'http', port: 80, targetPort: 8888 }] } });
      const after = await waitFor(c.store, 'endpointslices', (ss) => ss.length === 1 && eps(ss).length === 3, { ...SEL('multi'), what: 'one group' });
      assert.deepEqual(after[0]?.ports, [{ name: 'http', port: 8888, protocol: 'TCP' }]);
      assert.ok(before.has(after[0]?.metadata.uid), 'an existing slice was reused');
    } finally {
      await c.stop();
    }
  });

  test('readiness override (set-ready) flips Ready and the endpoint conditions', async () => {
    const c = await startTestCluster();
    try {
      c.store.create('services', { metadata: { name: 'rd' }, spec: { selector: { app: 'rd' }, ports: [{ port: 80, targetPort: 8080 }] } });
      c.store.create('pods', podOn('node-a', 'r1', { app: 'rd' }, [{ containerPort: 8080 }]));
      await waitFor(c.store, 'endpointslices', (ss) => eps(ss)[0]?.conditions?.ready === true, SEL('rd'));
      const off = await request(c.base, 'PUT', '/lab/v1/namespaces/default/pods/r1/readiness', { ready: false });
      assert.equal(off.status, 200, off.text);
      let s = await waitFor(c.store, 'endpointslices', (ss) => eps(ss)[0]?.conditions?.ready === false, { ...SEL('rd'), what: 'not ready' });
      assert.deepEqual(eps(s)[0]?.conditions, { ready: false, serving: false, terminating: false });
      const pod = c.store.get('pods', 'r1') as Pod;
      assert.equal(getCondition(pod.status?.conditions, 'Ready')?.status, 'False');
      assert.equal(pod.status?.phase, 'Running');
      await request(c.base, 'PUT', '/lab/v1/namespaces/default/pods/r1/readiness', { ready: true });
      s = await waitFor(c.store, 'endpointslices', (ss) => eps(ss)[0]?.conditions?.ready === true, { ...SEL('rd'), what: 'ready again' });
      assert.deepEqual(eps(s)[0]?.conditions, { ready: true, serving: true, terminating: false });
      // publishNotReadyAddresses: ready regardless
      c.store.patch('services', 'rd', { spec: { publishNotReadyAddresses: true } });
      await request(c.base, 'PUT', '/lab/v1/namespaces/default/pods/r1/readiness', { ready: false });
      s = await waitFor(c.store, 'endpointslices', (ss) => eps(ss)[0]?.conditions?.serving === false, SEL('rd'));
      assert.equal(eps(s)[0]?.conditions?.ready, true);
    } finally {
      await c.stop();
    }
  });

  test('terminating pods are serving + terminating (not ready) until their grace period ends', async () => {
    const c = await startTestCluster();
    try {
      c.store.create('services', { metadata: { name: 'term' }, spec: { selector: { app: 'term' }, ports: [{ port: 80, targetPort: 8080 }] } });
      c.store.create('pods', podOn('node-b', 't1', { app: 'term' }, [{ containerPort: 8080 }], 30));
      c.store.create('pods', podOn('node-b', 't2', { app: 'term' }, [{ containerPort: 8080 }], 30));
      await waitFor(c.store, 'endpointslices', (ss) => eps(ss).length === 2 && eps(ss).every((e) => e.conditions?.ready), SEL('term'));
      const del = await request(c.base, 'DELETE', '/api/v1/namespaces/default/pods/t1');
      assert.equal(del.status, 200);
      assert.equal(del.body.metadata.deletionGracePeriodSeconds, 30);
      let s = await waitFor(c.store, 'endpointslices', (ss) => eps(ss).some((e) => e.conditions?.terminating), { ...SEL('term'), what: 'terminating endpoint' });
      const t1 = eps(s).find((e) => e.targetRef?.name === 't1');
      assert.deepEqual(t1?.conditions, { ready: false, serving: true, terminating: true });
      const pod = await waitFor(c.store, 'pods', (ps) => getCondition(ps[0]?.status?.conditions, 'Ready')?.status === 'False', { fieldSelector: 'metadata.name=t1' });
      assert.equal(getCondition(pod[0]?.status?.conditions, 'ContainersReady')?.status, 'True', 'readiness ignoring termination');
      // Once the kubelet has reported the termination (Ready=False), the endpoint is still serving.
      await c.controllers.endpointSlices.idle();
      s = c.store.list('endpointslices', SEL('term')).items;
      assert.deepEqual(eps(s).find((e) => e.targetRef?.name === 't1')?.conditions, { ready: false, serving: true, terminating: true }, 'still serving after Ready=False');
      assert.ok(c.runtimes.get('node-b')?.calls.some((x) => x.op === 'terminate' && x.pod === 'default/t1'));
      // set-ready false on a terminating pod: no longer serving
      await request(c.base, 'PUT', '/lab/v1/namespaces/default/pods/t1/readiness', { ready: false });
      s = await waitFor(c.store, 'endpointslices', (ss) => eps(ss).find((e) => e.targetRef?.name === 't1')?.conditions?.serving === false, SEL('term'));
      assert.deepEqual(eps(s).find((e) => e.targetRef?.name === 't1')?.conditions, { ready: false, serving: false, terminating: true });
      // a pod that exits on SIGTERM is removed at once despite its 30 s grace period
      const rt = c.runtimes.get('node-b');
      assert.ok(rt);
      rt.exitOnTerm = true;
      c.store.delete('pods', 't2');
      await waitFor(c.store, 'pods', (ps) => ps.length === 0, { fieldSelector: 'metadata.name=t2', what: 't2 removed', timeoutMs: 3000 });
      // a second DELETE with grace 0 ends t1 now
      await request(c.base, 'DELETE', '/api/v1/namespaces/default/pods/t1?gracePeriodSeconds=0');
      await waitFor(c.store, 'endpointslices', (ss) => ss.length === 1 && ss[0]?.endpoints === null && ss[0]?.ports === null, { ...SEL('term'), what: 'placeholder' });
    } finally {
      await c.stop();
    }
  });

  test('headless, ExternalName, selectorless and placeholder slices; slices follow the Service', async () => {
    const c = await startTestCluster();
    try {
      c.store.create('pods', podOn('node-a', 'h1', { app: 'h' }, [{ containerPort: 80 }]));
      c.store.create('services', { metadata: { name: 'headless' }, spec: { clusterIP: 'None', selector: { app: 'h' } } });
      c.store.create('services', { metadata: { name: 'ext' }, spec: { type: 'ExternalName', externalName: 'example.com', selector: { app: 'h' } } });
      c.store.create('services', { metadata: { name: 'manual' }, spec: { ports: [{ port: 80 }] } });
      c.store.create('services', { metadata: { name: 'empty' }, spec: { selector: { app: 'nobody' }, ports: [{ port: 80 }] } });
      const user = c.store.create('endpointslices', {
        metadata: { name: 'manual-1', labels: { 'kubernetes.io/service-name': 'manual' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['198.18.9.1'] }],
        ports: [{ port: 80 }],
      });
      const hs = await waitFor(c.store, 'endpointslices', (ss) => eps(ss).length === 1 && !!eps(ss)[0]?.conditions?.ready, SEL('headless'));
      assert.equal(hs[0]?.metadata.labels?.['service.kubernetes.io/headless'], '');
      assert.equal(hs[0]?.ports, null, 'no ports: null, as kube-apiserver returns empty lists');
      const empty = await waitFor(c.store, 'endpointslices', (ss) => ss.length === 1, SEL('empty'));
      assert.equal(empty[0]?.endpoints, null, 'placeholder slice');
      assert.equal(empty[0]?.ports, null);
      await c.controllers.endpointSlices.idle();
      assert.equal(c.store.list('endpointslices', SEL('ext')).items.length, 0, 'ExternalName: none');
      const manual = c.store.list('endpointslices', SEL('manual')).items;
      assert.deepEqual(manual.map((s) => [s.metadata.name, s.metadata.resourceVersion]), [['manual-1', user.metadata.resourceVersion]], 'selectorless: untouched');
      // losing the selector removes the managed slices; the Service going too
      c.store.patch('services', 'headless', { spec: { selector: null } });
      await waitFor(c.store, 'endpointslices', (ss) => ss.length === 0, SEL('headless'));
      c.store.delete('services', 'empty');
      await waitFor(c.store, 'endpointslices', (ss) => ss.length === 0, SEL('empty'));
      // a managed slice edited by someone else is put back
      c.store.create('services', { metadata: { name: 'back' }, spec: { selector: { app: 'h' }, ports: [{ port: 80 }] } });
      const [b] = await waitFor(c.store, 'endpointslices', (ss) => eps(ss).length === 1, SEL('back'));
      c.store.patch('endpointslices', b?.metadata.name as string, { endpoints: null });
      await waitFor(c.store, 'endpointslices', (ss) => eps(ss).length === 1 && ss[0]?.metadata.resourceVersion !== b?.metadata.resourceVersion, { ...SEL('back'), what: 'restored' });
    } finally {
      await c.stop();
    }
  });

  test('pods that fail to start are Failed with a message and never endpoints; pods without an IP are skipped', async () => {
    const c = await startTestCluster();
    try {
      const rt = c.runtimes.get('node-c');
      assert.ok(rt);
      rt.failStart = (p) => (p.name === 'bad' ? 'netns setup failed: boom' : undefined);
      rt.holdStarts = true;
      c.store.create('services', { metadata: { name: 'fs' }, spec: { selector: { app: 'fs' }, ports: [{ port: 80 }] } });
      c.store.create('pods', podOn('node-c', 'bad', { app: 'fs' }, [{ containerPort: 80 }]));
      c.store.create('pods', podOn('node-c', 'slow', { app: 'fs' }, [{ containerPort: 80 }]));
      await waitFor(c.store, 'pods', (ps) => ps.length === 2 && ps.every((p) => p.status?.phase === 'Pending' && p.status.hostIP === '198.18.0.13'), { labelSelector: 'app=fs', what: 'pending pods' });
      await c.controllers.endpointSlices.idle();
      assert.equal(eps(c.store.list('endpointslices', SEL('fs')).items).length, 0, 'no IP yet: no endpoint');
      rt.releaseStarts();
      const [bad] = await waitFor(c.store, 'pods', (ps) => ps[0]?.status?.phase === 'Failed', { fieldSelector: 'metadata.name=bad', what: 'Failed' });
      assert.match(bad?.status?.message as string, /netns setup failed: boom/);
      assert.equal(bad?.status?.reason, 'StartError');
      const s = await waitFor(c.store, 'endpointslices', (ss) => eps(ss).length === 1 && !!eps(ss)[0]?.conditions?.ready, SEL('fs'));
      assert.equal(eps(s)[0]?.targetRef?.name, 'slow');
    } finally {
      await c.stop();
    }
  });

  test('at most maxEndpointsPerSlice per slice; one pod change rewrites one slice; hints for PreferClose', async () => {
    const store = new Store();
    store.create('nodes', { metadata: { name: 'n1', labels: { 'topology.kubernetes.io/zone': 'z1' } } });
    store.create('nodes', { metadata: { name: 'n2', labels: { 'topology.kubernetes.io/zone': 'z2' } } });
    const ctl = new EndpointSliceController(store, { maxEndpointsPerSlice: 2 }).start();
    try {
      store.create('services', { metadata: { name: 'big' }, spec: { selector: { app: 'big' }, ports: [{ name: 'http', port: 80 }], trafficDistribution: 'PreferClose' } });
      for (let i = 0; i < 5; i++) {
        const p = store.create('pods', podOn(i % 2 ? 'n2' : 'n1', `b${i}`, { app: 'big' }, [{ containerPort: 80 }]));
        store.updateStatus('pods', {
          ...p,
          status: { phase: 'Running', podIP: `198.18.7.${i + 1}`, conditions: [{ type: 'Ready', status: 'True' }] },
        });
      }
      let slices = await waitFor(store, 'endpointslices', (ss) => eps(ss).length === 5, SEL('big'));
      await ctl.idle();
      slices = store.list('endpointslices', SEL('big')).items;
      assert.equal(slices.length, 3);
      assert.ok(slices.every((s) => (s.endpoints?.length ?? 0) <= 2));
      for (const e of eps(slices)) assert.deepEqual(e.hints, { forZones: [{ name: e.zone as string }] });
      const rvs = new Map(slices.map((s) => [s.metadata.name, s.metadata.resourceVersion]));
      let writes = 0;
      const h = store.watch('endpointslices', { resourceVersion: store.currentResourceVersion() }, () => writes++);
      store.delete('pods', 'b3', { gracePeriodSeconds: 0 });
      await waitUntil(store, ['endpointslices'], () => eps(store.list('endpointslices', SEL('big')).items).length === 4, 3000, '4 endpoints');
      await ctl.idle();
      h.stop();
      assert.equal(writes, 1, 'one slice rewritten');
      const changed = store.list('endpointslices', SEL('big')).items.filter((s) => rvs.get(s.metadata.name) !== s.metadata.resourceVersion);
      assert.equal(changed.length, 1);
    } finally {
      ctl.stop();
    }
  });
});
