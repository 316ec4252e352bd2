// Paged lists (limit/continue) from the lab API server: every object once,
// all pages of one snapshot, tokens that expire or belong to another list
// refused as kube-apiserver refuses them; and the agent's paged list reading
// them (plain-list-watch.ts listPaged).
import * as k8s from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { ListPages } from '../../lab/src/apiserver/list-pages.js';
import { createApiServer } from '../../lab/src/apiserver/server.js';
import { Store } from '../../lab/src/apiserver/store.js';
import { kubeConfig } from './lab-kubeconfig.js';
import { leanService } from '../../control-plane/src/k8s/lean-objects.js';
import { ListError, listPaged, listPlain } from '../../control-plane/src/k8s/plain-list-watch.js';

const names = (l: { items?: Array<{ metadata?: { name?: string } }> }) => (l.items ?? []).map((o) => o.metadata!.name!);

describe('ListPages', () => {
  test('pages give every item once, in order, with one resourceVersion; the last page has no token', () => {
    const p = new ListPages<number>();
    const items = Array.from({ length: 10 }, (_, i) => i);
    let page = p.first('s', items, '7', 4);
    const seen = [...page.items];
    assert.equal(page.remainingItemCount, 6);
    while (page.continue) {
      page = p.next('s', page.continue, 4);
      assert.equal(page.resourceVersion, '7');
      seen.push(...page.items);
    }
    assert.deepEqual(seen, items);
    assert.equal(p.size, 0, 'a finished list holds no token');
    assert.deepEqual(p.first('s', items, '7', 0).items, items, 'limit 0: everything, no token');
    assert.equal(p.first('s', items, '7', 10).continue, undefined);
  });

  test('a used, expired or unknown token answers 410 Expired; a malformed one 400; another list\'s token 400', () => {
    let now = 0;
    const p = new ListPages<number>({ ttlMs: 1000, now: () => now });
    const items = [1, 2, 3];
    const t = p.first('a', items, '1', 1).continue!;
    const t2 = p.next('a', t, 1).continue!;
    assert.throws(() => p.next('a', t, 1), (e: { code?: number; reason?: string }) => e.code === 410);
    assert.throws(() => p.next('b', t2, 1), (e: { code?: number }) => e.code === 400);
    now = 5000;
    assert.throws(() => p.next('a', t2, 1), (e: { code?: number }) => e.code === 410);
    assert.throws(() => p.next('a', 'not a token!', 1), (e: { code?: number }) => e.code === 400);
  });

  test('tokens held at once are bounded (the oldest goes)', () => {
    const p = new ListPages<number>({ maxTokens: 3 });
    const tokens = Array.from({ length: 5 }, () => p.first('s', [1, 2], '1', 1).continue!);
    assert.equal(p.size, 3);
    assert.throws(() => p.next('s', tokens[0]!, 1), (e: { code?: number }) => e.code === 410);
    assert.deepEqual(p.next('s', tokens[4]!, 1).items, [2]);
  });
});

describe('paged lists over HTTP', () => {
  test('the lab API server pages with limit/continue from one snapshot; the agent reads every page, leaned', { timeout: 30_000 }, async () => {
    const store = new Store();
    const server = createApiServer(store);
    const a = (await server.listen({ host: '127.0.0.1', port: 0 })) as AddressInfo;
    const kc = kubeConfig(`http://127.0.0.1:${a.port}`);
    try {
      for (let i = 0; i < 25; i++) {
        store.create('services', { metadata: { name: `s${String(i).padStart(2, '0')}`, namespace: 'default', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } }, spec: { ports: [{ port: 80 }] } });
      }
      const p1 = await listPlain<k8s.V1Service>(kc, '/api/v1/services', { limit: '10' });
      assert.deepEqual(names(p1), Array.from({ length: 10 }, (_, i) => `s${String(i).padStart(2, '0')}`));
      const meta = p1.metadata as { continue?: string; remainingItemCount?: number; resourceVersion?: string };
      assert.ok(meta.continue);
      assert.equal(meta.remainingItemCount, 15);
      // Changes after the first page are not in the later ones (one snapshot).
      store.create('services', { metadata: { name: 's00a', namespace: 'default' }, spec: { ports: [{ port: 80 }] } });
      store.delete('services', 's20', { namespace: 'default' });
      const p2 = await listPlain<k8s.V1Service>(kc, '/api/v1/services', { limit: '10', continue: meta.continue! });
      assert.equal(p2.metadata?.resourceVersion, meta.resourceVersion);
      assert.deepEqual(names(p2), Array.from({ length: 10 }, (_, i) => `s${String(i + 10).padStart(2, '0')}`));
      // Another resource's list cannot continue this one; a used token is gone.
      await assert.rejects(listPlain(kc, '/api/v1/pods', { limit: '10', continue: meta.continue! }), (e: unknown) => e instanceof ListError && (e.statusCode === 400 || e.statusCode === 410));
      await assert.rejects(listPlain(kc, '/api/v1/services', { limit: '10', continue: meta.continue! }), (e: unknown) => e instanceof ListError && e.statusCode === 410);

      // The agent's paged list: the current objects, every one once, leaned.
      const all = await listPaged<k8s.V1Service>(kc, '/api/v1/services', {}, leanService, 7);
      const want = [...Array.from({ length: 25 }, (_, i) => `s${String(i).padStart(2, '0')}`).filter((n) => n !== 's20'), 's00a'].sort();
      assert.deepEqual(names(all).sort(), want);
      assert.equal(all.metadata?.resourceVersion, store.currentResourceVersion());
      assert.ok(all.items.every((o) => o.metadata?.annotations?.['kubectl.kubernetes.io/last-applied-configuration'] === undefined), 'leaned');
      assert.equal((all.metadata as { continue?: string }).continue, undefined);
    } finally {
      await server.close();
    }
  });
});
