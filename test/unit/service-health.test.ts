import { test } from 'node:test';
import assert from 'node:assert/strict';
import { healthChecksOf, healthResponse } from '../../control-plane/src/health/service-health-servers.js';
import { computeDesiredState } from '../../control-plane/src/dataplane/desired-state.js';
import { ServiceTracker } from '../../control-plane/src/model/service-tracker.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import { service, slice } from './fixtures.js';

function desired(node: string) {
  const t = new ServiceTracker({ defaultAlgorithm: 'maglev' });
  t.update(service('web', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 32000, ports: [{ name: 'http', port: 80, nodePort: 30080 }] }));
  t.update(service('other', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30081 }] }));
  const c = new EndpointSliceCache(node);
  c.update(slice('a', 'web', [{ name: 'http', port: 8080 }], [{ ip: '198.19.1.2', node: 'node1' }, { ip: '198.19.1.3', node: 'node1' }, { ip: '198.19.2.2', node: 'node2', ready: false }]));
  return computeDesiredState(t.servicePorts(), c.allEndpoints(), { nodeName: node, zone: '' });
}

test('eTP=Local Services get a health check on their healthCheckNodePort counting ready local endpoints', () => {
  const n1 = healthChecksOf(desired('node1'));
  assert.deepEqual([...n1.keys()], [32000]);
  assert.deepEqual(n1.get(32000), { namespace: 'default', name: 'web', localEndpoints: 2 });
  assert.equal(healthChecksOf(desired('node2')).get(32000)!.localEndpoints, 0);
});

test('the health check answers like kube-proxy: 200 with local endpoints and a healthy proxy, else 503', () => {
  const ok = healthResponse({ namespace: 'default', name: 'web', localEndpoints: 2 }, true);
  assert.equal(ok.status, 200);
  assert.deepEqual(JSON.parse(ok.body), { service: { namespace: 'default', name: 'web' }, localEndpoints: 2, serviceProxyHealthy: true });
  assert.equal(ok.headers['X-Load-Balancing-Endpoint-Weight'], '2');
  assert.equal(healthResponse({ namespace: 'default', name: 'web', localEndpoints: 0 }, true).status, 503);
  const sick = healthResponse({ namespace: 'default', name: 'web', localEndpoints: 3 }, false);
  assert.equal(sick.status, 503);
  assert.equal(JSON.parse(sick.body).serviceProxyHealthy, false);
});

test('an out-of-range healthCheckNodePort neither opens a server nor throws (it used to crash the sync loop)', async () => {
  const { ServiceHealthServers } = await import('../../control-plane/src/health/service-health-servers.js');
  const { pino } = await import('pino');
  // The model drops the field with a reason...
  const t = new ServiceTracker({ defaultAlgorithm: 'maglev' });
  const conv = t.update(service('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 70000, ports: [{ name: 'http', port: 80, nodePort: 30080 }] }));
  assert.deepEqual(conv.problems.map((p) => p.reason), ['health-check-node-port-out-of-range']);
  const desired = computeDesiredState(t.servicePorts(), new EndpointSliceCache('n1').allEndpoints(), { nodeName: 'n1', zone: '' });
  assert.equal(healthChecksOf(desired).size, 0);
  // ...and the servers survive a port listen() refuses synchronously anyway.
  const servers = new ServiceHealthServers('127.0.0.1', () => true, pino({ level: 'silent' }));
  try {
    assert.doesNotThrow(() => servers.update(new Map([[70000, { namespace: 'default', name: 'lb', localEndpoints: 1 }]])));
    assert.deepEqual(servers.ports(), []);
  } finally {
    servers.close();
  }
});
