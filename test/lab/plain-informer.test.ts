// The agent's informers (plain-list-watch.ts) against the lab API server:
// listed and watched objects reach the cache and the handlers lean (no
// last-applied annotation, no targetRefs), plain (the watch's JSON shape,
// timestamps as strings), and a Node informer with a field selector sees its
// own Node only.
import * as k8s from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createApiServer } from '../../lab/src/apiserver/server.js';
import { Store } from '../../lab/src/apiserver/store.js';
import { kubeConfig } from './lab-kubeconfig.js';
import { LAST_APPLIED_ANNOTATION, leanEndpointSlice, leanNode, leanService } from '../../control-plane/src/k8s/lean-objects.js';
import { listPlain, makePlainInformer } from '../../control-plane/src/k8s/plain-list-watch.js';


async function until(pred: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const svc = (name: string) => ({
  metadata: { name, annotations: { [LAST_APPLIED_ANNOTATION]: '{"big":"x"}', 'switchyard.io/lb-algorithm': 'random' }, labels: { app: name } },
  spec: { ports: [{ name: 'http', port: 80 }] },
});
const slice = (name: string, ip: string) => ({
  metadata: { name, labels: { 'kubernetes.io/service-name': 'web' } },
  addressType: 'IPv4',
  endpoints: [{ addresses: [ip], conditions: { ready: true }, nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name: `pod-${name}` } }],
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
});

test('plain informers hold lean objects, listed and watched; a field selector limits Nodes', { timeout: 30_000 }, async () => {
  const store = new Store();
  const server = createApiServer(store);
  const a = (await server.listen({ host: '127.0.0.1', port: 0 })) as AddressInfo;
  const kc = kubeConfig(`http://127.0.0.1:${a.port}`);
  const services = makePlainInformer<k8s.V1Service>(kc, '/api/v1/services', leanService);
  const slices = makePlainInformer<k8s.V1EndpointSlice>(kc, '/apis/discovery.k8s.io/v1/endpointslices', leanEndpointSlice);
  const nodes = makePlainInformer<k8s.V1Node>(kc, '/api/v1/nodes', leanNode, 'metadata.name=n1');
  const seen: Array<k8s.V1Service | k8s.V1EndpointSlice> = [];
  const nodeNames: string[] = [];
  services.on('add', (o) => seen.push(o));
  services.on('update', (o) => seen.push(o));
  slices.on('add', (o) => seen.push(o));
  nodes.on('add', (o) => nodeNames.push(o.metadata!.name!));
  nodes.on('update', (o) => nodeNames.push(o.metadata!.name!));
  try {
    store.create('services', svc('web'));
    store.create('endpointslices', slice('web-1', '198.19.1.2'));
    for (const n of ['n1', 'n2']) {
      store.create('nodes', { metadata: { name: n, labels: { 'topology.kubernetes.io/zone': 'z1' }, annotations: { big: 'x' } },
        status: { addresses: [{ type: 'InternalIP', address: '198.18.0.11' }], images: [{ names: ['img'], sizeBytes: 1 }] } });
    }
    await Promise.all([services.start(), slices.start(), nodes.start()]);
    await until(() => seen.length === 2 && nodeNames.length === 1, 'the lists');
    // Watched objects too.
    store.create('endpointslices', slice('web-2', '198.19.1.3'));
    store.patch('services', 'web', { metadata: { labels: { app: 'web', v: '2' } } });
    store.patch('nodes', 'n2', { metadata: { labels: { v: '2' } } });
    store.patch('nodes', 'n1', { metadata: { labels: { v: '2' } } });
    await until(() => seen.length === 4 && nodeNames.length === 2, 'the watch events');

    for (const o of [...seen, ...services.list(), ...slices.list()]) {
      assert.equal(o.metadata?.annotations?.[LAST_APPLIED_ANNOTATION], undefined, `${o.kind} ${o.metadata?.name}: no last-applied annotation`);
      assert.equal(typeof o.metadata?.creationTimestamp, 'string', 'plain JSON, as the watch delivers it');
      assert.ok(o.metadata?.resourceVersion, 'resourceVersion kept (the cache compares it)');
    }
    const s = services.get('web', 'default')!;
    assert.equal(s.metadata?.annotations?.['switchyard.io/lb-algorithm'], 'random', 'other annotations kept');
    assert.equal(s.metadata?.labels?.v, '2');
    assert.ok(s.spec?.clusterIP, 'spec kept whole');
    for (const sl of slices.list()) {
      assert.deepEqual(Object.keys(sl.endpoints[0]!).sort(), ['addresses', 'conditions', 'nodeName']);
    }
    assert.deepEqual(nodeNames, ['n1', 'n1'], 'only the selected Node, listed and watched');
    const n1 = nodes.get('n1')!;
    assert.deepEqual(n1.status, { addresses: [{ type: 'InternalIP', address: '198.18.0.11' }] });
    assert.equal(n1.metadata?.labels?.['topology.kubernetes.io/zone'], 'z1');
    assert.equal(n1.metadata?.annotations, undefined);
  } finally {
    await Promise.all([services.stop(), slices.stop(), nodes.stop()]);
    await server.close();
  }
});

test('a failed list says the status and the path', async () => {
  const store = new Store();
  const server = createApiServer(store);
  const a = (await server.listen({ host: '127.0.0.1', port: 0 })) as AddressInfo;
  try {
    await assert.rejects(listPlain(kubeConfig(`http://127.0.0.1:${a.port}`), '/api/v1/nosuchthings'), (e: Error & { statusCode?: number }) => {
      assert.equal(e.statusCode, 404);
      assert.match(e.message, /list \/api\/v1\/nosuchthings: HTTP 404/);
      return true;
    });
  } finally {
    await server.close();
  }
});

test('lean objects drop managedFields and keep what the handlers read', () => {
  const s = leanService({
    metadata: { name: 'web', namespace: 'default', resourceVersion: '7', managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
      annotations: { [LAST_APPLIED_ANNOTATION]: '{}', 'endpoints.kubernetes.io/last-change-trigger-time': 't' }, labels: { 'service.kubernetes.io/headless': '' } },
    spec: { clusterIP: '198.18.128.1', ports: [{ port: 80 }] },
    status: { loadBalancer: { ingress: [{ ip: '198.18.200.1' }] } },
  });
  assert.deepEqual(s, {
    metadata: { name: 'web', namespace: 'default', resourceVersion: '7', annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': 't' }, labels: { 'service.kubernetes.io/headless': '' } },
    spec: { clusterIP: '198.18.128.1', ports: [{ port: 80 }] },
    status: { loadBalancer: { ingress: [{ ip: '198.18.200.1' }] } },
  });
  // Nothing to drop: the same object.
  const plain = { metadata: { name: 'x' }, spec: {} };
  assert.equal(leanService(plain), plain);
  // A slice without endpoints (null, as kube-apiserver sends an empty list) stays so.
  const empty = leanEndpointSlice({ addressType: 'IPv4', endpoints: null as unknown as [], metadata: { name: 'e' } });
  assert.equal(empty.endpoints, null);
  const hinted = leanEndpointSlice({ addressType: 'IPv4', metadata: { name: 'h' },
    endpoints: [{ addresses: ['198.19.1.2'], zone: 'z1', hints: { forZones: [{ name: 'z1' }] }, hostname: 'h', deprecatedTopology: { a: 'b' } }] });
  assert.deepEqual(hinted.endpoints, [{ addresses: ['198.19.1.2'], zone: 'z1', hints: { forZones: [{ name: 'z1' }] } }]);
});
