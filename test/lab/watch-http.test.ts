import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { createApiServer, type ApiServerOptions } from '../../lab/src/apiserver/server.js';
import { Store, type StoreOptions } from '../../lab/src/apiserver/store.js';
import { RawWatch, request, within } from './helpers.js';

async function serve(storeOpts: StoreOptions = {}, serverOpts: ApiServerOptions = {}) {
  const store = new Store(storeOpts);
  const server = createApiServer(store, serverOpts);
  const a = (await server.listen({ host: '127.0.0.1', port: 0 })) as AddressInfo;
  return { store, server, base: `http://127.0.0.1:${a.port}` };
}

const svc = (name: string, labels: Record<string, string> = {}) => ({ metadata: { name, labels }, spec: { ports: [{ port: 80 }] } });

describe('watch over HTTP', { timeout: 60_000 }, () => {
  test('chunked newline-delimited events: initial ADDED, MODIFIED, DELETED with a fresh resourceVersion', async () => {
    const { store, server, base } = await serve();
    try {
      store.create('services', svc('a'));
      const w = new RawWatch(base, '/api/v1/namespaces/default/services?watch=true&resourceVersion=0');
      await w.ready;
      assert.equal(w.status, 200);
      const added = await w.next();
      assert.equal(added.type, 'ADDED');
      assert.equal(added.object.metadata.name, 'a');
      assert.equal(added.object.kind, 'Service', 'watch objects carry kind');
      const b = (await request(base, 'POST', '/api/v1/namespaces/default/services', svc('b'))).body;
      const addB = await w.next();
      assert.deepEqual([addB.type, addB.object.metadata.name, addB.object.metadata.resourceVersion], ['ADDED', 'b', b.metadata.resourceVersion]);
      await request(base, 'PATCH', '/api/v1/namespaces/default/services/b', { metadata: { labels: { x: 'y' } } }, { 'Content-Type': 'application/merge-patch+json' });
      const mod = await w.next();
      assert.equal(mod.type, 'MODIFIED');
      assert.equal(mod.object.metadata.labels.x, 'y');
      const del = await request(base, 'DELETE', '/api/v1/namespaces/default/services/b');
      const ev = await w.next();
      assert.equal(ev.type, 'DELETED');
      assert.equal(ev.object.metadata.name, 'b');
      assert.ok(Number(ev.object.metadata.resourceVersion) > Number(mod.object.metadata.resourceVersion), 'DELETED has a new resourceVersion');
      assert.equal(ev.object.metadata.resourceVersion, store.currentResourceVersion());
      assert.equal(del.status, 200);
      // other namespaces are not seen on a namespaced watch
      store.create('services', svc('elsewhere'), { namespace: 'other' });
      store.create('services', svc('c'));
      assert.equal((await w.next()).object.metadata.name, 'c');
      w.close();
    } finally {
      await server.close();
    }
  });

  test('from a resourceVersion: only later changes; label and field selectors filter, transitions become ADDED/DELETED', async () => {
    const { store, server, base } = await serve();
    try {
      store.create('services', svc('old', { app: 'web' }));
      const rv = store.currentResourceVersion();
      const w = new RawWatch(base, `/api/v1/services?watch=1&resourceVersion=${rv}&labelSelector=app%3Dweb`);
      await w.ready;
      store.create('services', svc('db', { app: 'db' }));
      store.create('services', svc('web2', { app: 'web' }));
      const e1 = await w.next();
      assert.deepEqual([e1.type, e1.object.metadata.name], ['ADDED', 'web2']);
      store.patch('services', 'db', { metadata: { labels: { app: 'web' } } });
      const e2 = await w.next();
      assert.deepEqual([e2.type, e2.object.metadata.name], ['ADDED', 'db'], 'starts matching: ADDED');
      store.patch('services', 'old', { metadata: { labels: { app: 'gone' } } });
      const e3 = await w.next();
      assert.deepEqual([e3.type, e3.object.metadata.name], ['DELETED', 'old'], 'stops matching: DELETED');
      w.close();

      const f = new RawWatch(base, `/api/v1/services?watch=true&fieldSelector=metadata.name%3Dweb2`);
      const only = await f.next();
      assert.equal(only.object.metadata.name, 'web2');
      store.patch('services', 'db', { metadata: { labels: { z: '1' } } });
      store.patch('services', 'web2', { metadata: { labels: { z: '1' } } });
      const m = await f.next();
      assert.deepEqual([m.type, m.object.metadata.name], ['MODIFIED', 'web2']);
      assert.equal(f.events.length, 2);
      f.close();
    } finally {
      await server.close();
    }
  });

  test('a resourceVersion older than the kept history: one ERROR event (410 Expired), then the stream ends', async () => {
    const { store, server, base } = await serve({ historySize: 3 });
    try {
      const start = store.currentResourceVersion();
      for (const n of ['a', 'b', 'c', 'd', 'e']) store.create('services', svc(n));
      const w = new RawWatch(base, `/api/v1/services?watch=true&resourceVersion=${start}`);
      await w.ready;
      assert.equal(w.status, 200, 'kube-apiserver answers 200 and reports the error in the stream');
      await w.finished();
      assert.equal(w.events.length, 1);
      const e = w.events[0];
      assert.equal(e?.type, 'ERROR');
      assert.deepEqual(
        { kind: e?.object.kind, status: e?.object.status, reason: e?.object.reason, code: e?.object.code },
        { kind: 'Status', status: 'Failure', reason: 'Expired', code: 410 },
      );
      assert.match(e?.object.message, /too old resource version/);
      // Within the history it works.
      const recent = store.list('services').items.find((s) => s.metadata.name === 'c')?.metadata.resourceVersion as string;
      const ok = new RawWatch(base, `/api/v1/services?watch=true&resourceVersion=${recent}`);
      assert.equal((await ok.next()).object.metadata.name, 'd');
      assert.equal((await ok.next()).object.metadata.name, 'e');
      ok.close();
    } finally {
      await server.close();
    }
  });

  test('timeoutSeconds ends the watch; bookmarks when allowed; initial-events-end bookmark', async () => {
    const { store, server, base } = await serve({}, { bookmarkIntervalMs: 50 });
    try {
      store.create('services', svc('a'));
      const t0 = Date.now();
      const w = new RawWatch(base, '/api/v1/services?watch=true&timeoutSeconds=1');
      await w.finished(5000);
      const took = Date.now() - t0;
      assert.ok(took >= 900 && took < 4000, `ended after ${took} ms`);
      assert.deepEqual(w.events.map((e) => e.type), ['ADDED'], 'no bookmarks unless allowed');

      const b = new RawWatch(base, `/api/v1/services?watch=true&allowWatchBookmarks=true&resourceVersion=${store.currentResourceVersion()}`);
      const bm = await b.next((e) => e.type === 'BOOKMARK');
      assert.equal(bm.object.kind, 'Service');
      assert.equal(bm.object.apiVersion, 'v1');
      assert.equal(bm.object.metadata.resourceVersion, store.currentResourceVersion());
      b.close();

      const s = new RawWatch(base, '/api/v1/services?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan');
      assert.equal((await s.next()).type, 'ADDED');
      const end = await s.next();
      assert.equal(end.type, 'BOOKMARK');
      assert.equal(end.object.metadata.annotations['k8s.io/initial-events-end'], 'true');
      s.close();
    } finally {
      await server.close();
    }
  });

  test('close() ends open watches cleanly; a dropped client frees its watch', async () => {
    const { store, server, base } = await serve();
    const w = new RawWatch(base, '/api/v1/pods?watch=true');
    await w.ready;
    const w2 = new RawWatch(base, '/apis/apps/v1/deployments?watch=true');
    await w2.ready;
    await waitForCount(() => server.stats().watchesActive === 2 && store.watchCount() === 2);
    w2.close();
    await waitForCount(() => server.stats().watchesActive === 1 && store.watchCount() === 1);
    await within(server.close(), 5000, 'server close');
    await w.finished();
    assert.equal(w.ended, true);
    assert.equal(store.watchCount(), 0);
  });

  test('legacy /watch/ paths', async () => {
    const { store, server, base } = await serve();
    try {
      const w = new RawWatch(base, '/api/v1/watch/namespaces/default/services/one');
      await w.ready;
      store.create('services', svc('two'));
      store.create('services', svc('one'));
      const e = await w.next();
      assert.equal(e.object.metadata.name, 'one');
      w.close();
    } finally {
      await server.close();
    }
  });
});

/** Polls a cheap in-process predicate on the event loop (the HTTP side has no store event to await). */
async function waitForCount(pred: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setImmediate(r));
  }
}
