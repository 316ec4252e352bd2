import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiError } from '../../lab/src/apiserver/errors.js';
import { formatLabelSelector, matchesLabels, parseFieldSelector, parseLabelSelector } from '../../lab/src/apiserver/selectors.js';
import { Store, type WatchEvent } from '../../lab/src/apiserver/store.js';
import type { Pod } from '../../lab/src/apiserver/types.js';

function pod(name: string, labels: Record<string, string> = {}, extra: Record<string, unknown> = {}) {
  return { metadata: { name, labels }, spec: { containers: [{ name: 'c', image: 'img' }], ...extra } };
}

function code(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e.code;
    throw e;
  }
  return 0;
}

describe('store basics', { timeout: 60_000 }, () => {
  test('resourceVersion is one global, monotonically increasing counter', () => {
    const s = new Store();
    const rvs: number[] = [Number(s.currentResourceVersion())];
    const p = s.create('pods', pod('a'));
    rvs.push(Number(p.metadata.resourceVersion));
    const svc = s.create('services', { metadata: { name: 'web' }, spec: { ports: [{ port: 80 }] } });
    rvs.push(Number(svc.metadata.resourceVersion));
    const p2 = s.patch('pods', 'a', { metadata: { labels: { x: 'y' } } });
    rvs.push(Number(p2.metadata.resourceVersion));
    const gone = s.delete('pods', 'a', { gracePeriodSeconds: 0 });
    rvs.push(Number(gone.object.metadata.resourceVersion));
    for (let i = 1; i < rvs.length; i++) assert.ok((rvs[i] as number) > (rvs[i - 1] as number), `rv ${rvs[i]} after ${rvs[i - 1]}`);
    assert.equal(s.currentResourceVersion(), String(rvs[rvs.length - 1]));
    assert.ok(p.metadata.uid && p.metadata.creationTimestamp, 'uid and creationTimestamp set');
    assert.match(p.metadata.creationTimestamp as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(p.kind, 'Pod');
    assert.equal(p.apiVersion, 'v1');
  });

  test('default and kube-system exist; a missing namespace is created on first use', () => {
    const s = new Store();
    assert.ok(s.get('namespaces', 'default'));
    assert.ok(s.get('namespaces', 'kube-system'));
    assert.equal(s.get('namespaces', 'team-x'), undefined);
    s.create('pods', pod('a'), { namespace: 'team-x' });
    assert.equal(s.get('namespaces', 'team-x')?.status?.phase, 'Active');
    assert.equal(code(() => s.delete('namespaces', 'default')), 403);
  });

  test('optimistic concurrency: a stale resourceVersion is a 409 Conflict', () => {
    const s = new Store();
    const v1 = s.create('pods', pod('a'));
    const v2 = s.update('pods', { ...v1, metadata: { ...v1.metadata, labels: { v: '2' } } });
    assert.notEqual(v2.metadata.resourceVersion, v1.metadata.resourceVersion);
    const stale = { ...v1, metadata: { ...v1.metadata, labels: { v: '3' } } };
    assert.equal(code(() => s.update('pods', stale)), 409);
    // Without a resourceVersion the update is unconditional.
    const { resourceVersion: _rv, ...meta } = v1.metadata;
    const v3 = s.update('pods', { ...v1, metadata: { ...meta, labels: { v: '4' } } });
    assert.equal(v3.metadata.labels?.v, '4');
    // A no-op update writes nothing.
    const same = s.update('pods', v3);
    assert.equal(same.metadata.resourceVersion, v3.metadata.resourceVersion);
  });

  test('create: AlreadyExists, generateName, invalid objects', () => {
    const s = new Store();
    s.create('pods', pod('a'));
    assert.equal(code(() => s.create('pods', pod('a'))), 409);
    const g = s.create('pods', { metadata: { generateName: 'web-' }, spec: { containers: [{ name: 'c', image: 'i' }] } });
    assert.match(g.metadata.name as string, /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    assert.equal(code(() => s.create('pods', { metadata: {}, spec: { containers: [{ name: 'c', image: 'i' }] } })), 422);
    assert.equal(code(() => s.create('pods', { metadata: { name: 'Bad_Name' }, spec: { containers: [{ name: 'c', image: 'i' }] } })), 422);
    assert.equal(code(() => s.create('pods', { metadata: { name: 'x' }, spec: { containers: [] } })), 422);
    assert.equal(code(() => s.create('pods', { kind: 'Service', metadata: { name: 'x' }, spec: {} })), 400);
    assert.equal(code(() => s.create('pods', 'garbage')), 400);
    assert.equal(code(() => s.create('pods', { metadata: { name: 'y', resourceVersion: '5' }, spec: { containers: [{ name: 'c', image: 'i' }] } })), 400);
  });

  test('status subresource: the main resource ignores status, /status ignores the rest', () => {
    const s = new Store();
    const p = s.create('pods', { ...pod('a'), status: { phase: 'Running', podIP: '1.2.3.4' } });
    assert.equal(p.status?.phase, 'Pending', 'status is reset on create');
    const u = s.update('pods', { ...p, metadata: { ...p.metadata, labels: { a: 'b' } }, status: { phase: 'Running' } });
    assert.equal(u.status?.phase, 'Pending');
    assert.equal(u.metadata.labels?.a, 'b');
    const st = s.updateStatus('pods', { ...u, metadata: { ...u.metadata, labels: { a: 'changed' } }, status: { phase: 'Running', podIP: '1.2.3.4' } });
    assert.equal(st.status?.podIP, '1.2.3.4');
    assert.equal(st.metadata.labels?.a, 'b', 'status updates do not touch metadata');
    const sp = s.patch('pods', 'a', { status: { podIP: '5.6.7.8' } }, { subresource: 'status' });
    assert.equal(sp.status?.podIP, '5.6.7.8');
    assert.equal(sp.status?.phase, 'Running');
  });

  test('generation follows spec changes of deployments', () => {
    const s = new Store();
    const d = s.create('deployments', {
      metadata: { name: 'web' },
      spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } },
    });
    assert.equal(d.metadata.generation, 1);
    assert.equal(d.spec.replicas, 1, 'replicas defaulted');
    assert.equal(d.spec.strategy?.type, 'RollingUpdate');
    const l = s.patch('deployments', 'web', { metadata: { labels: { x: 'y' } } });
    assert.equal(l.metadata.generation, 1, 'metadata changes leave generation alone');
    const r = s.patch('deployments', 'web', { spec: { replicas: 3 } });
    assert.equal(r.metadata.generation, 2);
    const st = s.patch('deployments', 'web', { status: { replicas: 3 } }, { subresource: 'status' });
    assert.equal(st.metadata.generation, 2);
    assert.equal(code(() => s.patch('deployments', 'web', { spec: { selector: { matchLabels: { app: 'other' } } } })), 422);
  });

  test('patches: merge, strategic (as merge), JSON patch', () => {
    const s = new Store();
    s.create('services', { metadata: { name: 'web', labels: { a: '1', b: '2' } }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } });
    const m = s.patch('services', 'web', { metadata: { labels: { a: null, c: '3' } } }, { type: 'merge' });
    assert.deepEqual(m.metadata.labels, { b: '2', c: '3' });
    const sm = s.patch('services', 'web', { spec: { ports: [{ port: 81 }] } }, { type: 'strategic' });
    assert.equal(sm.spec.ports?.length, 1);
    assert.equal(sm.spec.ports?.[0]?.port, 81);
    const j = s.patch('services', 'web', [{ op: 'add', path: '/metadata/labels/d', value: '4' }, { op: 'remove', path: '/metadata/labels/b' }], { type: 'json' });
    assert.deepEqual(j.metadata.labels, { c: '3', d: '4' });
    assert.equal(code(() => s.patch('services', 'web', [{ op: 'test', path: '/metadata/labels/c', value: 'nope' }], { type: 'json' })), 422);
    assert.equal(code(() => s.patch('services', 'web', [{ op: 'remove', path: '/no/such' }], { type: 'json' })), 400);
    assert.equal(code(() => s.patch('services', 'web', { metadata: { resourceVersion: '1' } })), 409);
  });

  test('delete preconditions', () => {
    const s = new Store();
    const p = s.create('services', { metadata: { name: 'web' }, spec: { ports: [{ port: 80 }] } });
    assert.equal(code(() => s.delete('services', 'web', { preconditions: { uid: 'other' } })), 409);
    assert.equal(code(() => s.delete('services', 'web', { preconditions: { resourceVersion: '1' } })), 409);
    assert.equal(s.delete('services', 'web', { preconditions: { uid: p.metadata.uid as string } }).deleted, true);
    assert.equal(code(() => s.delete('services', 'web')), 404);
  });

  test('finalizers hold an object until removed', () => {
    const s = new Store();
    s.create('services', { metadata: { name: 'web', finalizers: ['x/y'] }, spec: { ports: [{ port: 80 }] } });
    const r = s.delete('services', 'web');
    assert.equal(r.deleted, false);
    assert.ok(r.object.metadata.deletionTimestamp);
    assert.ok(s.get('services', 'web'));
    s.patch('services', 'web', { metadata: { finalizers: null } });
    assert.equal(s.get('services', 'web'), undefined);
  });
});

describe('graceful pod deletion', { timeout: 60_000 }, () => {
  test('bound pods get deletionTimestamp + deletionGracePeriodSeconds; grace 0 removes', () => {
    const s = new Store();
    s.create('pods', pod('a', {}, { nodeName: 'n1', terminationGracePeriodSeconds: 7 }));
    s.create('pods', pod('b', {}, { nodeName: 'n1' }));
    s.create('pods', pod('c', {}, { nodeName: 'n1' }));
    const before = Date.now();
    const a = s.delete('pods', 'a');
    assert.equal(a.deleted, false);
    assert.equal(a.object.metadata.deletionGracePeriodSeconds, 7, "the pod's terminationGracePeriodSeconds");
    const ts = Date.parse(a.object.metadata.deletionTimestamp as string);
    assert.ok(ts >= Math.floor(before / 1000) * 1000 + 6000 && ts <= before + 8000, 'deletionTimestamp = now + grace');
    assert.equal(s.delete('pods', 'b').object.metadata.deletionGracePeriodSeconds, 30, 'default 30');
    assert.equal(s.delete('pods', 'c', { gracePeriodSeconds: 3 }).object.metadata.deletionGracePeriodSeconds, 3, 'from the request');
    assert.ok(s.get('pods', 'a'), 'still there while terminating');
    // A second delete may shorten the grace period, not extend it.
    assert.equal(s.delete('pods', 'a', { gracePeriodSeconds: 60 }).object.metadata.deletionGracePeriodSeconds, 7);
    assert.equal(s.delete('pods', 'a', { gracePeriodSeconds: 2 }).object.metadata.deletionGracePeriodSeconds, 2);
    const gone = s.delete('pods', 'a', { gracePeriodSeconds: 0 });
    assert.equal(gone.deleted, true);
    assert.equal(s.get('pods', 'a'), undefined);
  });

  test('unscheduled pods go at once', () => {
    const s = new Store();
    s.create('pods', pod('a'));
    assert.equal(s.delete('pods', 'a').deleted, true);
  });
});

describe('selectors', { timeout: 60_000 }, () => {
  test('label selector syntax', () => {
    const L = { app: 'web', tier: 'front', v: '3' };
    const cases: Array<[string, boolean]> = [
      ['', true],
      ['app=web', true],
      ['app==web', true],
      ['app!=web', false],
      ['app!=db', true],
      ['missing!=x', true],
      ['app in (web,db)', true],
      ['app in (db)', false],
      ['app notin (db,cache)', true],
      ['missing notin (x)', true],
      ['app', true],
      ['missing', false],
      ['!missing', true],
      ['!app', false],
      ['app=web, tier in (front) ,!missing', true],
      ['app=web,tier=back', false],
      ['v>2', true],
      ['v<3', false],
    ];
    for (const [sel, want] of cases) assert.equal(matchesLabels(parseLabelSelector(sel), L), want, sel);
    for (const bad of ['app in web', 'app=(', '=x', 'app in ()', 'Bad Key=1', 'a=b,', 'a=b c']) {
      assert.throws(() => parseLabelSelector(bad), (e: unknown) => e instanceof ApiError && e.code === 400, bad);
    }
    assert.equal(formatLabelSelector(parseLabelSelector('a=b,c in (x,y),!d')), 'a=b,c in (x,y),!d');
  });

  test('field selectors: supported fields only', () => {
    const s = new Store();
    s.create('pods', pod('a', {}, { nodeName: 'n1' }));
    s.create('pods', pod('b', {}, { nodeName: 'n2' }));
    s.create('pods', pod('c'));
    const names = (fs: string) => s.list('pods', { fieldSelector: fs }).items.map((p) => p.metadata.name);
    assert.deepEqual(names('spec.nodeName=n1'), ['a']);
    assert.deepEqual(names('spec.nodeName!=n1'), ['b', 'c']);
    assert.deepEqual(names('spec.nodeName='), ['c']);
    assert.deepEqual(names('metadata.name==b,metadata.namespace=default'), ['b']);
    assert.throws(() => parseFieldSelector('spec.bogus=1', ['metadata.name']), (e: unknown) => e instanceof ApiError && e.code === 400);
    assert.equal(code(() => s.list('services', { fieldSelector: 'spec.nodeName=n1' })), 400);
  });

  test('list filters by namespace, labels and fields, sorted by key', () => {
    const s = new Store();
    s.create('pods', pod('z', { app: 'web' }), { namespace: 'ns1' });
    s.create('pods', pod('a', { app: 'web' }), { namespace: 'ns2' });
    s.create('pods', pod('b', { app: 'db' }), { namespace: 'ns1' });
    const all = s.list('pods', { labelSelector: 'app=web' }).items.map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
    assert.deepEqual(all, ['ns1/z', 'ns2/a']);
    assert.deepEqual(s.list('pods', { namespace: 'ns1' }).items.map((p) => p.metadata.name), ['b', 'z']);
  });
});

describe('store watch', { timeout: 60_000 }, () => {
  test('initial ADDED, then changes; selector transitions become ADDED/DELETED', () => {
    const s = new Store();
    s.create('pods', pod('a', {}, { nodeName: 'n1' }));
    s.create('pods', pod('b'));
    const seen: string[] = [];
    const h = s.watch('pods', { fieldSelector: 'spec.nodeName=n1' }, (ev: WatchEvent<Pod>) => seen.push(`${ev.type} ${ev.object.metadata.name}`));
    assert.deepEqual(seen, ['ADDED a']);
    s.bind('b', 'default', 'n1');
    assert.deepEqual(seen, ['ADDED a', 'ADDED b'], 'binding b to n1 is an ADDED for this watch');
    s.patch('pods', 'a', { metadata: { labels: { x: '1' } } });
    s.delete('pods', 'a', { gracePeriodSeconds: 0 });
    assert.deepEqual(seen, ['ADDED a', 'ADDED b', 'MODIFIED a', 'DELETED a']);
    h.stop();
    s.create('pods', pod('c', {}, { nodeName: 'n1' }));
    assert.equal(seen.length, 4, 'stopped');
  });

  test('watch from a resourceVersion replays history; too old is 410 Expired', () => {
    const s = new Store({ historySize: 3 });
    const start = s.currentResourceVersion();
    for (const n of ['a', 'b', 'c', 'd']) s.create('services', { metadata: { name: n }, spec: { ports: [{ port: 80 }] } });
    assert.throws(
      () => s.watch('services', { resourceVersion: start }, () => {}),
      (e: unknown) => e instanceof ApiError && e.code === 410 && e.reason === 'Expired',
    );
    const items = s.list('services').items;
    const bRV = (items.find((i) => i.metadata.name === 'b') as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    const seen: string[] = [];
    const h = s.watch('services', { resourceVersion: bRV }, (ev) => seen.push(`${ev.type} ${ev.object.metadata.name}`));
    assert.deepEqual(seen, ['ADDED c', 'ADDED d']);
    const del = s.delete('services', 'c');
    assert.deepEqual(seen, ['ADDED c', 'ADDED d', 'DELETED c']);
    assert.equal(del.object.metadata.resourceVersion, s.currentResourceVersion(), 'DELETED carries a fresh resourceVersion');
    h.stop();
    // Other resources' churn does not expire a quiet resource's history.
    const quiet = s.currentResourceVersion();
    for (let i = 0; i < 10; i++) s.create('pods', pod(`p${i}`));
    assert.doesNotThrow(() => s.watch('services', { resourceVersion: quiet }, () => {}).stop());
  });

  test('writes made from a watch callback reach every watcher in order', () => {
    const s = new Store();
    const first: string[] = [];
    const second: string[] = [];
    s.watch('services', { resourceVersion: s.currentResourceVersion() }, (ev) => {
      first.push(`${ev.type} ${ev.object.metadata.name} ${ev.object.metadata.resourceVersion}`);
      if (ev.type === 'ADDED' && ev.object.metadata.name === 'a') {
        s.create('services', { metadata: { name: 'b' }, spec: { ports: [{ port: 80 }] } });
      }
    });
    s.watch('services', { resourceVersion: s.currentResourceVersion() }, (ev) =>
      second.push(`${ev.type} ${ev.object.metadata.name} ${ev.object.metadata.resourceVersion}`),
    );
    s.create('services', { metadata: { name: 'a' }, spec: { ports: [{ port: 80 }] } });
    assert.equal(first.length, 2);
    assert.deepEqual(second, first);
    const rvs = second.map((l) => Number(l.split(' ')[2]));
    assert.ok((rvs[0] as number) < (rvs[1] as number));
  });
});
