import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { listBody, listItemBytes } from '../../lab/src/apiserver/list-bytes.js';
import { Store } from '../../lab/src/apiserver/store.js';
import { deepFreeze } from '../../lab/src/apiserver/util.js';

const slice = (i: number) => ({
  kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1',
  metadata: { name: `s-${i}`, namespace: 'default', labels: { 'kubernetes.io/service-name': `svc-${i}`, note: 'ünïcödé "quoted" \u2028' } },
  addressType: 'IPv4',
  endpoints: [{ addresses: [`198.18.0.${i}`], conditions: { ready: true } }],
});

describe('list bodies from kept item bytes', () => {
  test('the body is the JSON that one stringify of the list gives, items without kind and apiVersion', () => {
    const items = [0, 1, 2].map((i) => deepFreeze(slice(i)));
    const head = { kind: 'EndpointSliceList', apiVersion: 'discovery.k8s.io/v1', metadata: { resourceVersion: '7' } };
    const want = JSON.stringify({ ...head, items: items.map(({ kind: _k, apiVersion: _a, ...rest }) => rest) });
    assert.equal(listBody(head, items).toString('utf8'), want);
    assert.deepEqual(JSON.parse(listBody(head, []).toString('utf8')), { ...head, items: [] });
  });

  test('an object that is not frozen is serialized anew each time (its bytes could go stale)', () => {
    const o = slice(3);
    const first = listItemBytes(o).toString('utf8');
    o.metadata.name = 'renamed';
    const second = listItemBytes(o).toString('utf8');
    assert.notEqual(first, second);
    assert.equal(JSON.parse(second).metadata.name, 'renamed');
  });

  test('the store keeps each version of an object with its own bytes: an update is listed as updated', () => {
    const store = new Store();
    store.create('services', { metadata: { name: 'a', namespace: 'default' }, spec: { ports: [{ port: 80 }] } });
    const before = store.peekList('services', { namespace: 'default' })[0]!;
    const updated = store.patch('services', 'a', { metadata: { labels: { x: 'y' } } }, { namespace: 'default', type: 'merge' });
    const after = store.peekList('services', { namespace: 'default' })[0]!;
    assert.notEqual(before, after);
    const body = JSON.parse(listBody({ kind: 'ServiceList', apiVersion: 'v1', metadata: {} }, [after]).toString('utf8'));
    assert.equal(body.items[0].metadata.labels.x, 'y');
    assert.equal(body.items[0].metadata.resourceVersion, updated.metadata.resourceVersion);
    assert.equal(JSON.parse(listItemBytes(before).toString('utf8')).metadata.labels?.x, undefined);
  });
});
