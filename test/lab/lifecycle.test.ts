import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { ApiError } from '../../lab/src/apiserver/errors.js';
import type { Logger } from '../../lab/src/apiserver/logger.js';
import { podTemplate, request, startTestCluster, waitFor, waitUntil } from './helpers.js';

describe('object lifecycle', { timeout: 60_000 }, () => {
  test('deleting a namespace deletes its contents (pods gracefully), then the namespace; no new content meanwhile', async () => {
    const logger: Logger = pino({ level: 'silent' }); // the lab daemon passes a pino logger
    const c = await startTestCluster({ logger });
    try {
      c.store.create('services', { metadata: { name: 'svc' }, spec: { selector: { app: 'x' }, ports: [{ port: 80 }] } }, { namespace: 'doomed' });
      c.store.create(
        'deployments',
        { metadata: { name: 'x' }, spec: { replicas: 2, selector: { matchLabels: { app: 'x' } }, template: podTemplate({ app: 'x' }, undefined, 1) } },
        { namespace: 'doomed' },
      );
      await waitFor(c.store, 'endpointslices', (ss) => (ss[0]?.endpoints?.length ?? 0) === 2, { namespace: 'doomed' });
      const del = await request(c.base, 'DELETE', '/api/v1/namespaces/doomed');
      assert.equal(del.status, 200);
      assert.equal(del.body.status.phase, 'Terminating');
      const refused = await request(c.base, 'POST', '/api/v1/namespaces/doomed/services', { metadata: { name: 'late' }, spec: { ports: [{ port: 80 }] } });
      assert.equal(refused.status, 403);
      await waitUntil(c.store, ['namespaces'], () => !c.store.get('namespaces', 'doomed'), 8000, 'namespace removed');
      for (const r of ['pods', 'services', 'deployments', 'replicasets', 'endpointslices'] as const) {
        assert.equal(c.store.list(r, { namespace: 'doomed' }).items.length, 0, r);
      }
      assert.ok(c.runtimes.get('node-a')?.count('remove') || c.runtimes.get('node-b')?.count('remove'), 'pods went through the kubelet');
    } finally {
      await c.stop();
    }
  });

  test('propagationPolicy=Orphan keeps dependents and drops their ownerReference', async () => {
    const c = await startTestCluster();
    try {
      c.store.create('replicasets', {
        metadata: { name: 'keep' },
        spec: { replicas: 1, selector: { matchLabels: { app: 'keep' } }, template: podTemplate({ app: 'keep' }) },
      });
      const [p] = await waitFor(c.store, 'pods', (ps) => ps.length === 1, { labelSelector: 'app=keep' });
      const r = await request(c.base, 'DELETE', '/apis/apps/v1/namespaces/default/replicasets/keep', { propagationPolicy: 'Orphan' });
      assert.equal(r.status, 200, r.text);
      await c.controllers.garbageCollector.idle();
      const after = c.store.get('pods', p?.metadata.name as string);
      assert.ok(after, 'pod kept');
      assert.equal(after?.metadata.ownerReferences, undefined);
      assert.throws(() => c.store.delete('replicasets', 'keep'), (e: unknown) => e instanceof ApiError && e.code === 404);
    } finally {
      await c.stop();
    }
  });

  test('stop() ends watches and closes the API server', async () => {
    const c = await startTestCluster();
    const r = await request(c.base, 'GET', '/api/v1/pods');
    assert.equal(r.status, 200);
    await c.stop();
    assert.equal(c.store.watchCount(), 0, 'controllers and kubelets unsubscribed');
    await assert.rejects(request(c.base, 'GET', '/api/v1/pods'));
  });
});
