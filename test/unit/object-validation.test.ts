// Every field the agent reads from a Service or an EndpointSlice is checked:
// a bad field is dropped (or read as kube-proxy reads it) with a reason, the
// rest of the object is kept, and the problem is recorded for status/metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceTracker, servicePortsOf } from '../../control-plane/src/model/service-tracker.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import { service, slice } from './fixtures.js';

const opts = { defaultAlgorithm: 'maglev' as const };
const reasons = (c: { problems: Array<{ reason: string }> }): string[] => c.problems.map((p) => p.reason);

test('ClusterIP with leading zeros is read as kube-proxy reads it and reported', () => {
  const c = servicePortsOf(service('z', { clusterIP: '198.018.128.050', clusterIPs: ['198.018.128.050'] }), opts);
  assert.equal(c.ports[0]!.clusterIP, '198.18.128.50');
  assert.deepEqual(reasons(c), ['non-canonical-ip']);
});

test('an unparseable ClusterIP skips the Service with a reason; IPv6-only is a plain skip', () => {
  const c = servicePortsOf(service('bad', { clusterIP: '198.18.300.1', clusterIPs: ['198.18.300.1'] }), opts);
  assert.equal(c.skipped, 'invalid-cluster-ip');
  assert.deepEqual(reasons(c), ['invalid-cluster-ip']);
  const v6 = servicePortsOf(service('v6', { clusterIP: 'fd00::10', clusterIPs: ['fd00::10'] }), opts);
  assert.equal(v6.skipped, 'no-ipv4-cluster-ip');
  assert.deepEqual(reasons(v6), []);
});

test('externalIPs: leading zeros normalized, IPv6 ignored, garbage dropped, duplicates once', () => {
  const c = servicePortsOf(service('e', { externalIPs: ['198.051.100.007', 'fd00::5', 'nope', '198.51.100.7', '198.51.100.8'] }), opts);
  assert.deepEqual(c.ports[0]!.externalIPs, ['198.51.100.7', '198.51.100.8']);
  assert.deepEqual(reasons(c), ['non-canonical-ip', 'other-family', 'invalid-ip', 'duplicate-address']);
  assert.deepEqual(c.problems.map((p) => p.field), ['spec.externalIPs[0]', 'spec.externalIPs[1]', 'spec.externalIPs[2]', 'spec.externalIPs[3]']);
});

test('LoadBalancer ingress IPs are validated like externalIPs; ipMode Proxy and hostnames are not frontends', () => {
  const svc = service('lb', { type: 'LoadBalancer' });
  svc.status = { loadBalancer: { ingress: [{ ip: '203.000.113.010' }, { ip: 'x' }, { hostname: 'lb.example' }, { ip: '203.0.113.11', ipMode: 'Proxy' }] } };
  const c = servicePortsOf(svc, opts);
  assert.deepEqual(c.ports[0]!.loadBalancerIPs, ['203.0.113.10']);
  assert.deepEqual(reasons(c), ['non-canonical-ip', 'invalid-ip']);
});

test('source ranges: leading zeros parsed, unparseable dropped but the filter stays (fail closed)', () => {
  const lz = servicePortsOf(service('a', { type: 'LoadBalancer', loadBalancerSourceRanges: ['203.0.113.000/025'] }), opts).ports[0]!;
  assert.deepEqual(lz.loadBalancerSourceRanges, ['203.0.113.0/25']);
  assert.equal(lz.sourceRangesGiven, true);
  const bad = servicePortsOf(service('b', { type: 'LoadBalancer', loadBalancerSourceRanges: ['not-a-cidr', '10.0.0.0/33'] }), opts);
  assert.deepEqual(bad.ports[0]!.loadBalancerSourceRanges, []);
  assert.equal(bad.ports[0]!.sourceRangesGiven, true, 'no valid range: the LB IP admits nothing');
  assert.deepEqual(reasons(bad), ['invalid-cidr', 'invalid-cidr']);
  const v6 = servicePortsOf(service('c', { type: 'LoadBalancer', loadBalancerSourceRanges: ['fd00::/64'] }), opts);
  assert.deepEqual(v6.ports[0]!.loadBalancerSourceRanges, []);
  assert.equal(v6.ports[0]!.sourceRangesGiven, true);
  assert.deepEqual(reasons(v6), ['other-family']);
  const none = servicePortsOf(service('d', { type: 'LoadBalancer' }), opts).ports[0]!;
  assert.equal(none.sourceRangesGiven, undefined);
});

test('ports: out of range and duplicates skipped, the rest of the Service kept', () => {
  const c = servicePortsOf(service('p', {
    ports: [
      { name: 'a', port: 80 }, { name: 'b', port: 70000 }, { name: 'c', port: 0 }, { name: 'd', port: 80 },
      { name: 'a', port: 81 }, { name: 'e', port: 80, protocol: 'UDP' },
    ],
  }), opts);
  assert.deepEqual(c.ports.map((p) => `${p.name.port}:${p.port}/${p.protocol}`), ['a:80/TCP', 'e:80/UDP']);
  assert.deepEqual(reasons(c), ['port-out-of-range', 'port-out-of-range', 'duplicate-port', 'duplicate-port']);
});

test('nodePort and healthCheckNodePort out of range: dropped, the port and Service kept', () => {
  const c = servicePortsOf(service('n', {
    type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 70000,
    ports: [{ name: 'a', port: 80, nodePort: 99999 }, { name: 'b', port: 81, nodePort: -3 }, { name: 'c', port: 82, nodePort: 30080 }],
  }), opts);
  assert.deepEqual(c.ports.map((p) => p.nodePort), [0, 0, 30080]);
  assert.equal(c.ports[0]!.healthCheckNodePort, 0);
  assert.deepEqual(reasons(c), ['health-check-node-port-out-of-range', 'node-port-out-of-range', 'node-port-out-of-range']);
});

test('affinity timeout outside [1, 86400] falls back to the default with a reason', () => {
  for (const t of [0, -5, 86401, 1.5]) {
    const c = servicePortsOf(service('t', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: t } } }), opts);
    assert.equal(c.ports[0]!.affinityTimeoutSeconds, 10800, String(t));
    assert.deepEqual(reasons(c), ['invalid-affinity-timeout']);
  }
});

test('headless label: ignored as kube-proxy ignores it, proxied again once removed', () => {
  const t = new ServiceTracker(opts);
  const labelled = service('h', {}, { labels: { 'service.kubernetes.io/headless': '' } });
  assert.equal(t.update(labelled).skipped, 'headless-label');
  assert.equal(t.servicePorts().size, 0);
  t.update(service('h', {}));
  assert.deepEqual([...t.servicePorts().keys()], ['default/h:http/TCP']);
  assert.equal(servicePortsOf(service('p', {}, { labels: { 'service.kubernetes.io/service-proxy-name': 'other' } }), opts).skipped, 'service-proxy-name');
});

test('the tracker keeps problems per object until the object is fixed or deleted, and counts them', () => {
  const t = new ServiceTracker(opts);
  t.update(service('x', { externalIPs: ['bogus'] }));
  assert.equal(t.problems.size, 1);
  t.update(service('x', { externalIPs: ['bogus'] })); // same state: not counted again
  assert.equal(t.problems.totals.get('Service|invalid-ip'), 1);
  t.update(service('x', {}));
  assert.equal(t.problems.size, 0);
  t.update(service('x', { externalIPs: ['bogus'] }));
  assert.equal(t.problems.totals.get('Service|invalid-ip'), 2);
  t.delete(service('x', {}));
  assert.equal(t.problems.size, 0);
});

test('EndpointSlice: leading-zero endpoints kept, garbage/IPv6 dropped, bad and duplicate ports ignored', () => {
  const c = new EndpointSliceCache('n1');
  const s = slice('s1', 'web', [{ name: 'http', port: 8080 }, { name: 'zero', port: 0 }, { name: 'big', port: 70000 }], [
    { ip: '198.019.001.010' }, { ip: 'fd00::1' }, { ip: 'x.y' }, { ip: '198.19.1.11' }, { ip: '198.19.1.11' },
  ]);
  s.ports!.push({ name: 'http', port: 8081, protocol: 'TCP' }, { name: 'nil', protocol: 'TCP' }, { name: 'sctp', port: 9, protocol: 'SCTP' });
  const r = c.update(s);
  assert.deepEqual(reasons(r), [
    'port-out-of-range', 'port-out-of-range', 'duplicate-port', 'port-out-of-range', 'unsupported-protocol',
    'non-canonical-ip', 'other-family', 'invalid-ip', 'duplicate-address',
  ]);
  const eps = c.endpointsOfService('default/web').get('default/web:http/TCP')!;
  assert.deepEqual(eps.map((e) => `${e.ip}:${e.port}`), ['198.19.1.10:8080', '198.19.1.11:8080']);
  assert.equal(c.problems.size, 1);
  c.delete(s);
  assert.equal(c.problems.size, 0);
});

test('objects of an unexpected shape are skipped and reported, never thrown', () => {
  const t = new ServiceTracker(opts);
  const weird = service('w', { ports: {} as never, externalIPs: [42 as never] });
  const conv = t.update(weird);
  assert.equal(conv.skipped, 'invalid-object');
  assert.equal(t.problems.entries()[0]!.problems[0]!.reason, 'invalid-object');
  const c = new EndpointSliceCache('n1');
  const s = slice('s', 'web', [{ name: 'http', port: 80 }], [{ ip: '198.19.1.1' }]);
  (s as unknown as { endpoints: unknown }).endpoints = { not: 'a list' };
  assert.equal(c.update(s).skipped, 'invalid-object');
  assert.equal(c.problems.size, 1);
  assert.equal(c.endpointsOfService('default/web').size, 0);
});
