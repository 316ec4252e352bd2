// The change trackers drop no-op updates, as kube-proxy's do: an informer
// update whose content the proxier uses is unchanged (a resync, a status or
// annotation change that does not matter) marks nothing to sync.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceTracker } from '../../control-plane/src/model/service-tracker.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import { service, slice } from './fixtures.js';

const opts = { defaultAlgorithm: 'maglev' as const };

test('Service tracker: an update that leaves every ServicePort as it was is not a change', () => {
  const t = new ServiceTracker(opts);
  t.update(service('web', { ports: [{ name: 'http', port: 80 }] }));
  assert.deepEqual([...t.takeChanged()], ['default/web']);
  // The same object again (an informer resync), then one that differs only in
  // what the proxier does not read (a label, an unrelated annotation).
  t.update(service('web', { ports: [{ name: 'http', port: 80 }] }));
  t.update(service('web', { ports: [{ name: 'http', port: 80 }] }, { labels: { team: 'a' }, annotations: { note: 'x' }, resourceVersion: '7' }));
  assert.deepEqual([...t.takeChanged()], []);
});

test('Service tracker: an update that changes what a ServicePort programs is a change', () => {
  const t = new ServiceTracker(opts);
  t.update(service('web', { ports: [{ name: 'http', port: 80 }] }));
  t.takeChanged();
  t.update(service('web', { ports: [{ name: 'http', port: 81 }] }));
  assert.deepEqual([...t.takeChanged()], ['default/web']);
  t.update(service('web', { ports: [{ name: 'http', port: 81 }], sessionAffinity: 'ClientIP' }));
  assert.deepEqual([...t.takeChanged()], ['default/web']);
  t.update(service('web', { ports: [{ name: 'http', port: 81 }], sessionAffinity: 'ClientIP', externalIPs: ['198.18.9.9'] }));
  assert.deepEqual([...t.takeChanged()], ['default/web']);
  // A Service turning headless is a change (its ports go), once.
  t.update(service('web', { clusterIP: 'None', clusterIPs: ['None'] }));
  assert.deepEqual([...t.takeChanged()], ['default/web']);
  t.update(service('web', { clusterIP: 'None', clusterIPs: ['None'] }));
  assert.deepEqual([...t.takeChanged()], []);
});

test('EndpointSlice cache: an update with the same endpoints and ports is not a change', () => {
  const c = new EndpointSliceCache('node-a');
  const eps = [{ ip: '198.18.1.1', node: 'node-a' }, { ip: '198.18.1.2', node: 'node-b' }];
  c.update(slice('web-1', 'web', [{ name: 'http', port: 8080 }], eps));
  assert.deepEqual([...c.takeChanged()], ['default/web']);
  c.update(slice('web-1', 'web', [{ name: 'http', port: 8080 }], eps));
  c.update(slice('web-1', 'web', [{ name: 'http', port: 8080 }], eps, { metadata: { name: 'web-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web', extra: 'y' }, resourceVersion: '9' } }));
  assert.deepEqual([...c.takeChanged()], []);
  // A readiness change is a change.
  c.update(slice('web-1', 'web', [{ name: 'http', port: 8080 }], [eps[0]!, { ...eps[1]!, ready: false }]));
  assert.deepEqual([...c.takeChanged()], ['default/web']);
  // Deleting a slice the cache does not hold is no change.
  c.delete(slice('web-2', 'web', [{ name: 'http', port: 8080 }], eps));
  assert.deepEqual([...c.takeChanged()], []);
});
