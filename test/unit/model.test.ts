import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceTracker, servicePortsOf } from '../../control-plane/src/model/service-tracker.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import { categorizeEndpoints, usable } from '../../control-plane/src/model/endpoint-selection.js';
import { computeDesiredState } from '../../control-plane/src/dataplane/desired-state.js';
import { service, slice } from './fixtures.js';

const opts = { defaultAlgorithm: 'maglev' as const };

test('headless, ExternalName and service-proxy-name Services are skipped', () => {
  assert.equal(servicePortsOf(service('h', { clusterIP: 'None', clusterIPs: ['None'] }), opts).skipped, 'headless');
  assert.equal(servicePortsOf(service('e', { type: 'ExternalName', externalName: 'x.example' }), opts).skipped, 'external-name');
  assert.equal(servicePortsOf(service('p', {}, { labels: { 'service.kubernetes.io/service-proxy-name': 'other' } }), opts).skipped, 'service-proxy-name');
  const ok = servicePortsOf(service('ok', {}), opts);
  assert.equal(ok.skipped, undefined);
  assert.equal(ok.ports.length, 1);
  assert.equal(ok.ports[0]!.key, 'default/ok:http/TCP');
});

test('multi-port Service gives one ServicePort per port; unsupported protocols are reported', () => {
  const conv = servicePortsOf(service('m', {
    ports: [{ name: 'http', port: 80 }, { name: 'dns', port: 53, protocol: 'UDP' }, { name: 's', port: 9, protocol: 'SCTP' }],
  }), opts);
  assert.deepEqual(conv.ports.map((p) => p.key), ['default/m:http/TCP', 'default/m:dns/UDP']);
  assert.equal(conv.problems.length, 1);
  assert.match(conv.problems[0]!.message, /SCTP/);
});

test('session affinity defaults to 10800 s and honours timeoutSeconds', () => {
  const a = servicePortsOf(service('a', { sessionAffinity: 'ClientIP' }), opts).ports[0]!;
  assert.equal(a.affinityTimeoutSeconds, 10800);
  const b = servicePortsOf(service('b', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 5 } } }), opts).ports[0]!;
  assert.equal(b.affinityTimeoutSeconds, 5);
  assert.equal(servicePortsOf(service('c', {}), opts).ports[0]!.affinityTimeoutSeconds, 0);
});

test('tracker drops a Service that becomes headless', () => {
  const t = new ServiceTracker(opts);
  t.update(service('x', {}));
  assert.equal(t.servicePorts().size, 1);
  t.update(service('x', { type: 'ExternalName' }));
  assert.equal(t.servicePorts().size, 0);
  assert.deepEqual([...t.takeChanged()], ['default/x']);
});

test('slices of one Service merge per port; duplicates dedupe with the non-terminating copy winning', () => {
  const c = new EndpointSliceCache('node1');
  c.update(slice('s-a', 'web', [{ name: 'http', port: 8080 }], [{ ip: '198.19.1.2', ready: false, serving: true, terminating: true }, { ip: '198.19.1.3' }]));
  c.update(slice('s-b', 'web', [{ name: 'http', port: 8080 }], [{ ip: '198.19.1.2', ready: true, node: 'node1' }, { ip: '198.19.2.2', node: 'node2' }]));
  const eps = c.endpointsOfService('default/web').get('default/web:http/TCP')!;
  assert.deepEqual(eps.map((e) => `${e.ip}:${e.port}`), ['198.19.1.2:8080', '198.19.1.3:8080', '198.19.2.2:8080']);
  const dup = eps.find((e) => e.ip === '198.19.1.2')!;
  assert.equal(dup.terminating, false);
  assert.equal(dup.ready, true);
  assert.equal(dup.isLocal, true);
  assert.equal(eps.find((e) => e.ip === '198.19.2.2')!.isLocal, false);
  // Event order does not matter.
  const c2 = new EndpointSliceCache('node1');
  c2.update(slice('s-b', 'web', [{ name: 'http', port: 8080 }], [{ ip: '198.19.1.2', ready: true, node: 'node1' }, { ip: '198.19.2.2', node: 'node2' }]));
  c2.update(slice('s-a', 'web', [{ name: 'http', port: 8080 }], [{ ip: '198.19.1.2', ready: false, serving: true, terminating: true }, { ip: '198.19.1.3' }]));
  assert.deepEqual(c2.endpointsOfService('default/web'), c.endpointsOfService('default/web'));
});

test('named targetPorts: each slice carries its own number for the Service port name', () => {
  const c = new EndpointSliceCache('n');
  c.update(slice('a', 'web', [{ name: 'http', port: 8080 }], [{ ip: '198.19.1.2' }]));
  c.update(slice('b', 'web', [{ name: 'http', port: 9090 }], [{ ip: '198.19.1.3' }]));
  const eps = c.endpointsOfService('default/web').get('default/web:http/TCP')!;
  assert.deepEqual(eps.map((e) => `${e.ip}:${e.port}`), ['198.19.1.2:8080', '198.19.1.3:9090']);
});

test('multi-port slices split endpoints by port name and protocol', () => {
  const c = new EndpointSliceCache('n');
  c.update(slice('a', 'm', [{ name: 'http', port: 8080 }, { name: 'dns', port: 5353, protocol: 'UDP' }], [{ ip: '198.19.1.2' }]));
  const all = c.endpointsOfService('default/m');
  assert.deepEqual([...all.keys()].sort(), ['default/m:dns/UDP', 'default/m:http/TCP']);
  assert.equal(all.get('default/m:dns/UDP')![0]!.port, 5353);
});

test('slices without the service-name label, FQDN slices and deleted slices', () => {
  const c = new EndpointSliceCache('n');
  const noLabel = slice('x', 'web', [{ port: 80 }], [{ ip: '198.19.1.2' }]);
  delete noLabel.metadata!.labels;
  assert.equal(c.update(noLabel).skipped, 'no-service-name');
  assert.equal(c.update(slice('f', 'web', [{ port: 80 }], [{ ip: '198.19.1.2' }], { addressType: 'FQDN' })).skipped, 'address-type');
  const s = slice('ok', 'web', [{ port: 80 }], [{ ip: '198.19.1.2' }]);
  c.update(s);
  assert.equal(c.allEndpoints().size, 1);
  c.delete(s);
  assert.equal(c.allEndpoints().size, 0);
});

test('malformed endpoints are reported and skipped, the rest of the slice kept', () => {
  const c = new EndpointSliceCache('n');
  const r = c.update(slice('a', 'web', [{ port: 80 }], [{ ip: 'not-an-ip' }, { ip: '198.19.1.9' }]));
  assert.equal(r.problems.length, 1);
  assert.equal(c.endpointsOfService('default/web').get('default/web:/TCP')!.length, 1);
});

test('readiness: ready endpoints serve; with none ready, serving+terminating ones do', () => {
  const mk = (ip: string, ready: boolean, serving: boolean, terminating: boolean) =>
    ({ ip, port: 80, ready, serving, terminating, nodeName: '', zone: '', isLocal: false });
  assert.deepEqual(usable([mk('1.1.1.1', true, true, false), mk('1.1.1.2', false, true, true)]).map((e) => e.ip), ['1.1.1.1']);
  assert.deepEqual(usable([mk('1.1.1.1', false, false, false), mk('1.1.1.2', false, true, true)]).map((e) => e.ip), ['1.1.1.2']);
  assert.deepEqual(usable([mk('1.1.1.1', false, false, false), mk('1.1.1.2', false, false, true)]), []);
});

test('topology hints apply only when every endpoint has them', () => {
  const c = new EndpointSliceCache('node1');
  c.update(slice('a', 'web', [{ port: 80 }], [{ ip: '198.19.1.2', zones: ['zone-a'] }, { ip: '198.19.2.2', zones: ['zone-b'] }]));
  const svc = servicePortsOf(service('web', { ports: [{ port: 80 }] }), opts).ports[0]!;
  const eps = c.endpointsOfService('default/web').get(svc.key)!;
  assert.deepEqual(categorizeEndpoints(svc, eps, { nodeName: 'node1', zone: 'zone-a' }).cluster.map((e) => e.ip), ['198.19.1.2']);
  c.update(slice('b', 'web', [{ port: 80 }], [{ ip: '198.19.3.2' }]));
  const eps2 = c.endpointsOfService('default/web').get(svc.key)!;
  assert.equal(categorizeEndpoints(svc, eps2, { nodeName: 'node1', zone: 'zone-a' }).cluster.length, 3);
});

test('desired state: internalTrafficPolicy=Local keeps only local endpoints', () => {
  const t = new ServiceTracker(opts);
  t.update(service('web', { internalTrafficPolicy: 'Local', ports: [{ port: 80 }] }));
  const c = new EndpointSliceCache('node1');
  c.update(slice('a', 'web', [{ port: 8080 }], [{ ip: '198.19.1.2', node: 'node1' }, { ip: '198.19.2.2', node: 'node2' }]));
  const d = computeDesiredState(t.servicePorts(), c.allEndpoints(), { nodeName: 'node1', zone: '' });
  assert.deepEqual(d[0]!.internalEndpoints.map((e) => e.ip), ['198.19.1.2']);
  assert.equal(d[0]!.allEndpoints.length, 2);
  const c3 = new EndpointSliceCache('node3');
  c3.update(slice('a', 'web', [{ port: 8080 }], [{ ip: '198.19.1.2', node: 'node1' }, { ip: '198.19.2.2', node: 'node2' }]));
  const d2 = computeDesiredState(t.servicePorts(), c3.allEndpoints(), { nodeName: 'node3', zone: '' });
  assert.deepEqual(d2[0]!.internalEndpoints, []);
});
