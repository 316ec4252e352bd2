import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createApiServer, type ApiServer } from '../../lab/src/apiserver/server.js';
import { Store } from '../../lab/src/apiserver/store.js';
import { request } from './helpers.js';

let store: Store;
let server: ApiServer;
let base: string;
let extraHits = 0;

before(async () => {
  store = new Store();
  server = createApiServer(store, {
    extraRoutes: (_req, res, url) => {
      if (url.pathname === '/lab/v1/info') {
        extraHits++;
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ lab: 'test' }));
        return true;
      }
      return false;
    },
  });
  const a = (await server.listen({ host: '127.0.0.1', port: 0 })) as AddressInfo;
  base = `http://127.0.0.1:${a.port}`;
});

after(async () => {
  await server.close();
});

const podBody = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels },
  spec: { containers: [{ name: 'c', image: 'img', ports: [{ name: 'http', containerPort: 8080 }] }] },
});

describe('discovery', { timeout: 60_000 }, () => {
  test('/api, /api/v1, /apis, group versions and /version', async () => {
    const api = await request(base, 'GET', '/api');
    assert.equal(api.status, 200);
    assert.equal(api.body.kind, 'APIVersions');
    assert.deepEqual(api.body.versions, ['v1']);

    const v1 = await request(base, 'GET', '/api/v1');
    assert.equal(v1.body.kind, 'APIResourceList');
    assert.equal(v1.body.groupVersion, 'v1');
    const names = v1.body.resources.map((r: { name: string }) => r.name);
    for (const n of ['namespaces', 'nodes', 'pods', 'pods/status', 'pods/binding', 'services', 'services/status', 'replicationcontrollers', 'replicationcontrollers/scale', 'endpoints']) {
      assert.ok(names.includes(n), `${n} in /api/v1`);
    }
    const nodes = v1.body.resources.find((r: { name: string }) => r.name === 'nodes');
    assert.equal(nodes.namespaced, false);
    assert.ok(nodes.verbs.includes('watch'));

    const apis = await request(base, 'GET', '/apis');
    assert.equal(apis.body.kind, 'APIGroupList');
    const groups = apis.body.groups.map((g: { name: string }) => g.name).sort();
    assert.deepEqual(groups, ['apps', 'discovery.k8s.io']);

    const apps = await request(base, 'GET', '/apis/apps/v1');
    assert.deepEqual(
      apps.body.resources.map((r: { name: string }) => r.name).sort(),
      ['deployments', 'deployments/scale', 'deployments/status', 'replicasets', 'replicasets/scale', 'replicasets/status'],
    );
    const disc = await request(base, 'GET', '/apis/discovery.k8s.io/v1');
    assert.equal(disc.body.resources[0].name, 'endpointslices');
    assert.equal(disc.body.resources[0].kind, 'EndpointSlice');

    const ver = await request(base, 'GET', '/version');
    assert.equal(ver.body.major, '1');
    assert.match(ver.body.gitVersion, /^v1\.\d+/);
    assert.equal((await request(base, 'GET', '/healthz')).text, 'ok');
    assert.equal((await request(base, 'GET', '/apis/batch/v1')).status, 404);
  });
});

describe('CRUD over HTTP', { timeout: 60_000 }, () => {
  test('create, get, list (namespaced and cluster-wide), update, delete', async () => {
    const c = await request(base, 'POST', '/api/v1/namespaces/crud/pods', podBody('p1', { app: 'web' }));
    assert.equal(c.status, 201, c.text);
    assert.equal(c.body.metadata.namespace, 'crud');
    assert.ok(c.body.metadata.uid);
    await request(base, 'POST', '/api/v1/namespaces/crud2/pods', podBody('p2', { app: 'db' }));

    const g = await request(base, 'GET', '/api/v1/namespaces/crud/pods/p1');
    assert.equal(g.status, 200);
    assert.equal(g.body.kind, 'Pod');
    assert.equal(g.body.metadata.resourceVersion, c.body.metadata.resourceVersion);

    const ns = await request(base, 'GET', '/api/v1/namespaces/crud/pods');
    assert.equal(ns.body.kind, 'PodList');
    assert.equal(ns.body.apiVersion, 'v1');
    assert.match(ns.body.metadata.resourceVersion, /^\d+$/);
    assert.deepEqual(ns.body.items.map((p: { metadata: { name: string } }) => p.metadata.name), ['p1']);
    assert.equal(ns.body.items[0].kind, undefined, 'list items carry no kind, as kube-apiserver serves them');

    const all = await request(base, 'GET', '/api/v1/pods?labelSelector=app%20in%20(web,db)');
    assert.deepEqual(all.body.items.map((p: { metadata: { name: string } }) => p.metadata.name).sort(), ['p1', 'p2']);
    const sel = await request(base, 'GET', '/api/v1/pods?labelSelector=app!%3Dweb&limit=1');
    assert.deepEqual(sel.body.items.map((p: { metadata: { name: string } }) => p.metadata.name), ['p2']);
    assert.equal(sel.body.metadata.continue, undefined);
    const fsel = await request(base, 'GET', '/api/v1/pods?fieldSelector=metadata.namespace%3Dcrud2');
    assert.deepEqual(fsel.body.items.map((p: { metadata: { name: string } }) => p.metadata.name), ['p2']);

    const upd = { ...g.body, metadata: { ...g.body.metadata, labels: { app: 'web', v: '2' } } };
    const u = await request(base, 'PUT', '/api/v1/namespaces/crud/pods/p1', upd);
    assert.equal(u.status, 200, u.text);
    assert.equal(u.body.metadata.labels.v, '2');
    const conflict = await request(base, 'PUT', '/api/v1/namespaces/crud/pods/p1', upd);
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.kind, 'Status');
    assert.equal(conflict.body.reason, 'Conflict');
    assert.equal(conflict.body.code, 409);

    const dup = await request(base, 'POST', '/api/v1/namespaces/crud/pods', podBody('p1'));
    assert.equal(dup.status, 409);
    assert.equal(dup.body.reason, 'AlreadyExists');

    const d = await request(base, 'DELETE', '/api/v1/namespaces/crud/pods/p1');
    assert.equal(d.status, 200);
    const nf = await request(base, 'GET', '/api/v1/namespaces/crud/pods/p1');
    assert.equal(nf.status, 404);
    assert.deepEqual(
      { kind: nf.body.kind, status: nf.body.status, reason: nf.body.reason, code: nf.body.code },
      { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 },
    );
    assert.equal(nf.body.message, 'pods "p1" not found');
  });

  test('graceful pod deletion over HTTP honours gracePeriodSeconds from the body and the query', async () => {
    const p = podBody('g1');
    (p.spec as Record<string, unknown>).nodeName = 'n1';
    await request(base, 'POST', '/api/v1/namespaces/grace/pods', p);
    const d = await request(base, 'DELETE', '/api/v1/namespaces/grace/pods/g1', { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 12 });
    assert.equal(d.status, 200);
    assert.equal(d.body.metadata.deletionGracePeriodSeconds, 12);
    assert.ok(d.body.metadata.deletionTimestamp);
    assert.equal((await request(base, 'GET', '/api/v1/namespaces/grace/pods/g1')).status, 200);
    const now = await request(base, 'DELETE', '/api/v1/namespaces/grace/pods/g1?gracePeriodSeconds=0');
    assert.equal(now.status, 200);
    assert.equal((await request(base, 'GET', '/api/v1/namespaces/grace/pods/g1')).status, 404);
  });

  test('patch content types, status and scale subresources, binding', async () => {
    const dep = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
      },
    };
    const c = await request(base, 'POST', '/apis/apps/v1/namespaces/default/deployments', dep);
    assert.equal(c.status, 201, c.text);
    const path = '/apis/apps/v1/namespaces/default/deployments/web';
    const mp = await request(base, 'PATCH', path, { metadata: { labels: { a: '1' } } }, { 'Content-Type': 'application/merge-patch+json' });
    assert.equal(mp.status, 200, mp.text);
    assert.equal(mp.body.metadata.labels.a, '1');
    const sp = await request(base, 'PATCH', path, { metadata: { labels: { b: '2' } } }, { 'Content-Type': 'application/strategic-merge-patch+json' });
    assert.deepEqual(sp.body.metadata.labels, { a: '1', b: '2' });
    const jp = await request(base, 'PATCH', path, [{ op: 'replace', path: '/spec/replicas', value: 5 }], { 'Content-Type': 'application/json-patch+json' });
    assert.equal(jp.body.spec.replicas, 5);
    assert.equal(jp.body.metadata.generation, 2);
    const bad = await request(base, 'PATCH', path, { a: 1 }, { 'Content-Type': 'text/plain' });
    assert.equal(bad.status, 415);

    // status: PUT on the main resource ignores it, /status takes it.
    const cur = (await request(base, 'GET', path)).body;
    const main = await request(base, 'PUT', path, { ...cur, status: { replicas: 9 } });
    assert.equal(main.body.status.replicas, undefined);
    const st = await request(base, 'PUT', `${path}/status`, { ...main.body, status: { replicas: 9 } });
    assert.equal(st.status, 200, st.text);
    assert.equal(st.body.status.replicas, 9);
    const gst = await request(base, 'GET', `${path}/status`);
    assert.equal(gst.body.status.replicas, 9);
    const pst = await request(base, 'PATCH', `${path}/status`, { status: { readyReplicas: 1 } }, { 'Content-Type': 'application/merge-patch+json' });
    assert.equal(pst.body.status.readyReplicas, 1);
    assert.equal(pst.body.spec.replicas, 5);

    // scale
    const sc = await request(base, 'GET', `${path}/scale`);
    assert.equal(sc.status, 200);
    assert.equal(sc.body.kind, 'Scale');
    assert.equal(sc.body.apiVersion, 'autoscaling/v1');
    assert.equal(sc.body.spec.replicas, 5);
    assert.equal(sc.body.status.replicas, 9);
    assert.equal(sc.body.status.selector, 'app=web');
    const put = await request(base, 'PUT', `${path}/scale`, { ...sc.body, spec: { replicas: 3 } });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.body.spec.replicas, 3);
    assert.equal((await request(base, 'GET', path)).body.spec.replicas, 3);
    const stale = await request(base, 'PUT', `${path}/scale`, { ...sc.body, spec: { replicas: 4 } });
    assert.equal(stale.status, 409, 'the Scale resourceVersion is a precondition');
    const neg = await request(base, 'PUT', `${path}/scale`, { kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name: 'web' }, spec: { replicas: -1 } });
    assert.equal(neg.status, 422);
    const psc = await request(base, 'PATCH', `${path}/scale`, { spec: { replicas: 1 } }, { 'Content-Type': 'application/merge-patch+json' });
    assert.equal(psc.body.spec.replicas, 1);
    assert.equal((await request(base, 'GET', '/api/v1/namespaces/default/services/x/scale')).status, 404);

    // binding
    await request(base, 'POST', '/api/v1/namespaces/default/pods', podBody('tobind'));
    const b = await request(base, 'POST', '/api/v1/namespaces/default/pods/tobind/binding', {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name: 'tobind' },
      target: { apiVersion: 'v1', kind: 'Node', name: 'node-x' },
    });
    assert.equal(b.status, 201, b.text);
    const bound = await request(base, 'GET', '/api/v1/namespaces/default/pods/tobind');
    assert.equal(bound.body.spec.nodeName, 'node-x');
    assert.equal(bound.body.status.conditions.find((c: { type: string }) => c.type === 'PodScheduled').status, 'True');
    const again = await request(base, 'POST', '/api/v1/namespaces/default/pods/tobind/binding', { target: { name: 'node-y' } });
    assert.equal(again.status, 409);
    // pod spec is immutable through update
    const upd = await request(base, 'PUT', '/api/v1/namespaces/default/pods/tobind', { ...bound.body, spec: { ...bound.body.spec, nodeName: 'node-z' } });
    assert.equal(upd.status, 422);
  });

  test('cluster-scoped resources and namespaces', async () => {
    const n = await request(base, 'POST', '/api/v1/nodes', { metadata: { name: 'n1' }, status: { addresses: [{ type: 'InternalIP', address: '198.18.0.5' }] } });
    assert.equal(n.status, 201, n.text);
    assert.equal(n.body.metadata.namespace, undefined);
    assert.equal(n.body.status.addresses[0].address, '198.18.0.5', 'node status is kept on create');
    assert.equal((await request(base, 'GET', '/api/v1/nodes/n1')).status, 200);
    assert.equal((await request(base, 'GET', '/api/v1/namespaces/default/nodes/n1')).status, 404);
    const nss = await request(base, 'GET', '/api/v1/namespaces');
    assert.ok(nss.body.items.some((x: { metadata: { name: string } }) => x.metadata.name === 'kube-system'));
    const ns = await request(base, 'GET', '/api/v1/namespaces/default');
    assert.equal(ns.body.metadata.labels['kubernetes.io/metadata.name'], 'default');
    assert.equal((await request(base, 'GET', '/api/v1/namespaces/default/status')).status, 200);
    assert.equal((await request(base, 'DELETE', '/api/v1/namespaces/kube-system')).status, 403);
  });
});

describe('malformed requests', { timeout: 60_000 }, () => {
  test('answered 400/404/405/415/422 while the server keeps serving; counted', async () => {
    const before = server.stats();
    const cases: Array<[string, string, unknown, number, Record<string, string>?]> = [
      ['POST', '/api/v1/namespaces/default/pods', '{"metadata": {', 400],
      ['POST', '/api/v1/namespaces/default/pods', 'null', 400],
      ['POST', '/api/v1/namespaces/default/pods', '[1,2]', 400],
      ['POST', '/api/v1/namespaces/default/pods', '', 400],
      ['POST', '/api/v1/namespaces/default/pods', { kind: 'Service', metadata: { name: 'x' } }, 400],
      ['POST', '/api/v1/namespaces/default/pods', { apiVersion: 'apps/v1', kind: 'Pod', metadata: { name: 'x' } }, 400],
      ['POST', '/api/v1/namespaces/default/pods', { metadata: { name: 'x', namespace: 'other' }, spec: { containers: [{ name: 'c', image: 'i' }] } }, 400],
      ['POST', '/api/v1/namespaces/default/pods', { metadata: {}, spec: { containers: [{ name: 'c', image: 'i' }] } }, 422],
      ['POST', '/api/v1/namespaces/default/pods', { metadata: { name: 'x' }, spec: 'nope' }, 400], // a decode error, as kube-apiserver answers it
      ['POST', '/api/v1/namespaces/default/services', { metadata: { name: 'x' }, spec: { ports: [{ port: 99999 }] } }, 422],
      ['POST', '/api/v1/namespaces/default/services', { metadata: { name: 'x' }, spec: { type: 'Bogus', ports: [{ port: 80 }] } }, 422],
      ['POST', '/apis/apps/v1/namespaces/default/deployments', { metadata: { name: 'x' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'c' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } }, 422],
      ['POST', '/api/v1/namespaces/default/pods', { metadata: { name: 'x', labels: { 'bad key!': 'v' } }, spec: { containers: [{ name: 'c', image: 'i' }] } }, 422],
      ['POST', '/api/v1/namespaces/default/pods', '<xml/>', 415, { 'Content-Type': 'application/xml' }],
      ['POST', '/api/v1/pods', { metadata: { name: 'x' } }, 405],
      ['GET', '/api/v1/pods?labelSelector=app%20in%20web', undefined, 400],
      ['GET', '/api/v1/pods?labelSelector=%3D%3D', undefined, 400],
      ['GET', '/api/v1/pods?fieldSelector=spec.bogus%3D1', undefined, 400],
      ['GET', '/api/v1/pods?watch=true&resourceVersion=abc', undefined, 400],
      ['GET', '/api/v1/pods?watch=1&labelSelector=(((', undefined, 400],
      ['GET', '/api/v1/pods?timeoutSeconds=soon', undefined, 400],
      ['GET', '/api/v1/nosuchthing', undefined, 404],
      ['GET', '/api/v2/pods', undefined, 404],
      ['GET', '/api/v1/namespaces/default/pods/x/log', undefined, 404],
      ['GET', '/nothing/here', undefined, 404],
      ['PUT', '/api/v1/namespaces/default/pods/x', { metadata: { name: 'y' } }, 400],
      ['PATCH', '/api/v1/namespaces/default/pods/nope', { a: 1 }, 404, { 'Content-Type': 'application/merge-patch+json' }],
      ['PATCH', '/api/v1/namespaces/default/services/nope', {}, 415, { 'Content-Type': 'application/apply-patch+yaml' }],
      ['DELETE', '/api/v1/namespaces/default/pods/nope', '{bad', 400],
      ['POST', '/version', {}, 405],
      ['POST', '/api/v1/namespaces/default/pods?dryRun=All', podBody('dry'), 400],
    ];
    for (const [method, p, body, want, headers] of cases) {
      const r = await request(base, method, p, body, headers ?? {});
      assert.equal(r.status, want, `${method} ${p} ${typeof body === 'string' ? body : JSON.stringify(body)} -> ${r.status} ${r.text}`);
      if (r.body !== undefined) assert.equal(r.body.kind, 'Status', `${method} ${p}: a Status body`);
    }
    // A body over the limit.
    const big = await request(base, 'POST', '/api/v1/namespaces/default/pods', JSON.stringify({ pad: 'x'.repeat(4 * 1024 * 1024) }));
    assert.equal(big.status, 413);
    // Garbage on the socket: HTTP-level parse error, answered 400, server unaffected.
    const raw = await new Promise<string>((resolve, reject) => {
      const sock = new net.Socket();
      let out = '';
      sock.connect(Number(new URL(base).port), '127.0.0.1', () => sock.write('THIS IS NOT HTTP\r\n\r\n'));
      sock.on('data', (d: Buffer) => (out += d.toString()));
      sock.on('close', () => resolve(out));
      sock.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 400/);
    const after = server.stats();
    const want400 = cases.filter((c) => c[3] === 400).length + 1; // + the raw garbage
    const want422 = cases.filter((c) => c[3] === 422).length;
    assert.equal(after.badRequests - before.badRequests, want400, 'every 400 counted');
    assert.equal(after.invalid - before.invalid, want422, 'every 422 counted');
    assert.equal((after.byCode['404'] ?? 0) - (before.byCode['404'] ?? 0), cases.filter((c) => c[3] === 404).length);
    assert.equal(after.serverErrors, 0, 'no 5xx');
    // Still serving.
    const ok = await request(base, 'POST', '/api/v1/namespaces/default/pods', podBody('after-garbage'));
    assert.equal(ok.status, 201);
  });

  test('extra routes and lab routes', async () => {
    const r = await request(base, 'GET', '/lab/v1/info');
    assert.equal(r.status, 200);
    assert.equal(r.body.lab, 'test');
    assert.equal(extraHits, 1);
    assert.equal((await request(base, 'GET', '/lab/v1/unknown')).status, 404);
    await request(base, 'POST', '/api/v1/namespaces/default/pods', podBody('ready-me'));
    const set = await request(base, 'PUT', '/lab/v1/namespaces/default/pods/ready-me/readiness', { ready: false });
    assert.equal(set.status, 200, set.text);
    assert.equal(set.body.ready, false);
    const uid = store.get('pods', 'ready-me')?.metadata.uid as string;
    assert.equal(store.readiness.get(uid), false);
    assert.equal((await request(base, 'GET', '/lab/v1/namespaces/default/pods/ready-me/readiness')).body.ready, false);
    assert.equal((await request(base, 'PUT', '/lab/v1/namespaces/default/pods/ready-me/readiness', { ready: 'yes' })).status, 400);
    assert.equal((await request(base, 'PUT', '/lab/v1/namespaces/default/pods/nope/readiness', { ready: true })).status, 404);
    await request(base, 'PUT', '/lab/v1/namespaces/default/pods/ready-me/readiness', { ready: null });
    assert.equal(store.readiness.get(uid), undefined);
  });
});

describe('listeners', { timeout: 60_000 }, () => {
  test('unix socket, mode 0600, removed on close', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-api-'));
    const sock = path.join(dir, 'api.sock');
    const s2 = createApiServer(new Store());
    try {
      assert.equal(await s2.listen({ path: sock }), sock);
      assert.equal(fs.statSync(sock).mode & 0o777, 0o600);
      const body = await new Promise<string>((resolve, reject) => {
        http
          .get({ socketPath: sock, path: '/api/v1/namespaces' }, (res) => {
            let t = '';
            res.on('data', (d: Buffer) => (t += d.toString()));
            res.on('end', () => resolve(t));
          })
          .on('error', reject);
      });
      assert.equal(JSON.parse(body).kind, 'NamespaceList');
    } finally {
      await s2.close();
    }
    assert.equal(fs.existsSync(sock), false);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
