// A real @kubernetes/client-node informer (makeInformer = ListWatch) against
// the lab API server: add/update/delete, and recovery (relist) after a 410.

import * as k8s from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { createApiServer } from '../../lab/src/apiserver/server.js';
import { Store } from '../../lab/src/apiserver/store.js';
import { kubeConfig } from './lab-kubeconfig.js';


/** Collects informer callbacks; `until(pred)` resolves once the log satisfies pred. */
class Log {
  readonly entries: string[] = [];
  private waiters: Array<() => void> = [];
  push(e: string): void {
    this.entries.push(e);
    for (const w of this.waiters.splice(0)) w();
  }
  async until(pred: (entries: string[]) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.entries)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; log: ${JSON.stringify(this.entries)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
}

const svc = (name: string, app: string) => ({ metadata: { name, labels: { app } }, spec: { selector: { app }, ports: [{ port: 80 }] } });

describe('client-node informer against the lab API server', { timeout: 60_000 }, () => {
  test('sees add/update/delete and recovers from 410 Expired by relisting', async () => {
    const store = new Store({ historySize: 8 });
    const server = createApiServer(store);
    const a = (await server.listen({ host: '127.0.0.1', port: 0 })) as AddressInfo;
    const kc = kubeConfig(`http://127.0.0.1:${a.port}`);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    let lists = 0;
    const informer = k8s.makeInformer(
      kc,
      '/api/v1/services',
      () => {
        lists++;
        return core.listServiceForAllNamespaces({ labelSelector: 'app=a' });
      },
      'app=a',
    );
    const log = new Log();
    const errors: unknown[] = [];
    informer.on('add', (o) => log.push(`add ${o.metadata?.name} ${o.spec?.clusterIP ? 'ip' : 'noip'}`));
    informer.on('update', (o) => log.push(`update ${o.metadata?.name} ${JSON.stringify(o.metadata?.labels)}`));
    informer.on('delete', (o) => log.push(`delete ${o.metadata?.name}`));
    informer.on('error', (e) => {
      errors.push(e);
      log.push(`error ${String(e)}`);
    });
    try {
      store.create('services', svc('a1', 'a'));
      store.create('services', svc('b1', 'b'));
      await informer.start();
      await log.until((l) => l.includes('add a1 ip'), 'initial list');
      assert.equal(lists, 1);
      assert.ok(!log.entries.some((e) => e.includes('b1')), 'label selector applied');

      store.create('services', svc('a2', 'a'));
      await log.until((l) => l.includes('add a2 ip'), 'watch ADDED');
      store.patch('services', 'a2', { metadata: { labels: { app: 'a', v: '2' } } });
      await log.until((l) => l.includes('update a2 {"app":"a","v":"2"}'), 'watch MODIFIED');
      store.delete('services', 'a1');
      await log.until((l) => l.includes('delete a1'), 'watch DELETED');
      assert.deepEqual(informer.list().map((o) => o.metadata?.name), ['a2']);
      assert.equal(informer.get('a2', 'default')?.metadata?.labels?.v, '2');

      // Events the informer does not see (other labels) roll the service history past its resourceVersion.
      for (let i = 0; i < 12; i++) store.create('services', svc(`b-${i}`, 'b'));
      assert.equal(log.entries.filter((e) => e.startsWith('add')).length, 2);
      // The API server drops its watches (as on a restart); what changes before the informer is
      // back can only be learnt by relisting: its resourceVersion is too old now (410 Expired).
      assert.equal(server.dropWatches(), 1);
      store.delete('services', 'a2');
      store.create('services', svc('a3', 'a'));
      await log.until((l) => l.includes('delete a2') && l.includes('add a3 ip'), 'relist after 410');
      assert.equal(lists, 2, 'relisted once');
      assert.deepEqual(errors, [], 'a 410 is not an error for the informer');
      assert.deepEqual(informer.list().map((o) => o.metadata?.name), ['a3']);

      // And it keeps watching from the new list.
      store.create('services', svc('a4', 'a'));
      await log.until((l) => l.includes('add a4 ip'), 'watch after relist');
      assert.equal(lists, 2);
    } finally {
      await informer.stop();
      await server.close();
    }
  });

  test('typed clients: nodes, endpointslices (discovery.k8s.io), deployments (apps), errors as ApiException', async () => {
    const store = new Store();
    const server = createApiServer(store);
    const a = (await server.listen({ host: '127.0.0.1', port: 0 })) as AddressInfo;
    const kc = kubeConfig(`http://127.0.0.1:${a.port}`);
    try {
      const core = kc.makeApiClient(k8s.CoreV1Api);
      const disc = kc.makeApiClient(k8s.DiscoveryV1Api);
      const apps = kc.makeApiClient(k8s.AppsV1Api);
      await core.createNode({ body: { metadata: { name: 'n1', labels: { 'topology.kubernetes.io/zone': 'z1' } } } });
      const nodes = await core.listNode();
      assert.equal(nodes.items[0]?.metadata?.name, 'n1');
      assert.ok(nodes.items[0]?.metadata?.creationTimestamp instanceof Date);

      await disc.createNamespacedEndpointSlice({
        namespace: 'default',
        body: {
          metadata: { name: 'manual', labels: { 'kubernetes.io/service-name': 'ext' } },
          addressType: 'IPv4',
          endpoints: [{ addresses: ['198.18.9.9'], conditions: { ready: true } }],
          ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        },
      });
      // A placeholder-like slice: kube-apiserver returns empty lists as null; the typed client copes.
      await disc.createNamespacedEndpointSlice({ namespace: 'default', body: { metadata: { name: 'empty' }, addressType: 'IPv4', endpoints: [] } });
      const empty = await disc.readNamespacedEndpointSlice({ name: 'empty', namespace: 'default' });
      assert.equal(empty.endpoints, null);
      const slices = await disc.listEndpointSliceForAllNamespaces({ labelSelector: 'kubernetes.io/service-name=ext' });
      assert.equal(slices.items.length, 1);
      assert.equal(slices.items[0]?.endpoints[0]?.addresses[0], '198.18.9.9');
      assert.equal(slices.items[0]?.ports?.[0]?.port, 8080);

      const dep = await apps.createNamespacedDeployment({
        namespace: 'default',
        body: {
          metadata: { name: 'web' },
          spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } },
        },
      });
      assert.equal(dep.spec?.replicas, 1);
      const scale = await apps.readNamespacedDeploymentScale({ name: 'web', namespace: 'default' });
      assert.equal(scale.spec?.replicas, 1);
      const patched = await core.patchNamespacedService(
        { name: 'nope', namespace: 'default', body: [{ op: 'add', path: '/metadata/labels', value: {} }] },
      ).catch((e: unknown) => e);
      assert.ok(patched instanceof Error);
      assert.equal((patched as { code?: number }).code, 404);
    } finally {
      await server.close();
    }
  });
});
