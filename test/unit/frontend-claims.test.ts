// Two Services claiming one address, port and protocol: a ClusterIP beats an
// ExternalIP or LoadBalancer IP, then the oldest wins, then namespace/name;
// the loser is reported and its departure never touches the winner.
import type { ServiceKey } from '../../control-plane/src/model/service-key.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceTracker } from '../../control-plane/src/model/service-tracker.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import { computeDesiredState } from '../../control-plane/src/dataplane/desired-state.js';
import { DesiredMapsBuilder } from '../../control-plane/src/dataplane/ebpf/desired-maps.js';
import { renderIptables } from '../../control-plane/src/dataplane/iptables/render.js';
import { DEFAULT_MAGLEV_SIZING } from '../../control-plane/src/dataplane/maglev.js';
import { service, slice } from './fixtures.js';

const opts = { defaultAlgorithm: 'maglev' as const };
const T0 = '2024-01-01T00:00:00Z', T1 = '2024-06-01T00:00:00Z';
const victim = (created = T0) => service('kube-dns', { clusterIP: '198.18.128.10', clusterIPs: ['198.18.128.10'], ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] },
  { namespace: 'kube-system', creationTimestamp: created as unknown as Date });
const thief = (created = T1) => service('thief', { clusterIP: '198.18.128.99', clusterIPs: ['198.18.128.99'], externalIPs: ['198.18.128.10'], ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] },
  { namespace: 'zzz', creationTimestamp: created as unknown as Date });

test('a ClusterIP beats an ExternalIP, even a newer ClusterIP against an older ExternalIP', () => {
  const t = new ServiceTracker(opts);
  t.update(thief(T0));
  t.update(victim(T1));
  const ports = t.servicePorts();
  assert.deepEqual(ports.get('zzz/thief:dns/UDP')!.externalIPs, []);
  assert.equal(ports.get('kube-system/kube-dns:dns/UDP')!.lostFrontends, undefined);
  const [c] = t.conflicts();
  assert.equal(c!.loser, 'zzz/thief:dns/UDP');
  assert.equal(c!.winner, 'kube-system/kube-dns:dns/UDP');
  assert.equal(c!.kind, 'ExternalIP');
  assert.match(c!.reason, /ClusterIP of kube-system\/kube-dns/);
});

test('a different port or protocol on the same address is no conflict', () => {
  const t = new ServiceTracker(opts);
  t.update(victim());
  t.update(service('tcp', { clusterIP: '198.18.128.98', clusterIPs: ['198.18.128.98'], externalIPs: ['198.18.128.10'], ports: [{ name: 'dns', port: 53, protocol: 'TCP' }] }));
  assert.deepEqual(t.servicePorts().get('default/tcp:dns/TCP')!.externalIPs, ['198.18.128.10']);
  assert.deepEqual(t.conflicts(), []);
});

test('ExternalIP against LoadBalancer IP: the oldest wins, then namespace/name; a delete hands the address over', () => {
  const t = new ServiceTracker(opts);
  const a = service('a', { clusterIP: '198.18.128.1', clusterIPs: ['198.18.128.1'], externalIPs: ['203.0.113.5'] }, { namespace: 'b-ns', creationTimestamp: T1 as unknown as Date });
  const lb = service('lb', { type: 'LoadBalancer', clusterIP: '198.18.128.2', clusterIPs: ['198.18.128.2'] }, { namespace: 'a-ns', creationTimestamp: T0 as unknown as Date });
  lb.status = { loadBalancer: { ingress: [{ ip: '203.0.113.5' }] } };
  t.update(a);
  t.takeChanged();
  const affected = t.update(lb);
  void affected;
  assert.deepEqual([...t.takeChanged()].sort(), ['a-ns/lb', 'b-ns/a'], 'the other claimant is recomputed in the same sync');
  assert.deepEqual(t.servicePorts().get('b-ns/a:http/TCP')!.externalIPs, []);
  assert.deepEqual(t.servicePorts().get('a-ns/lb:http/TCP')!.loadBalancerIPs, ['203.0.113.5']);
  // Same age: namespace/name decides (a-ns/lb < b-ns/a).
  const t2 = new ServiceTracker(opts);
  t2.update({ ...a, metadata: { ...a.metadata, creationTimestamp: T0 as unknown as Date } });
  t2.update(lb);
  assert.deepEqual(t2.servicePorts().get('b-ns/a:http/TCP')!.externalIPs, []);
  // The owner goes: the other gets the address, and both are marked changed.
  t.delete(lb);
  assert.deepEqual([...t.takeChanged()].sort(), ['a-ns/lb', 'b-ns/a']);
  assert.deepEqual(t.servicePorts().get('b-ns/a:http/TCP')!.externalIPs, ['203.0.113.5']);
  assert.deepEqual(t.conflicts(), []);
});

test('two Services with the same ClusterIP: the older keeps it, the other programs no ClusterIP frontend', () => {
  const t = new ServiceTracker(opts);
  t.update(service('new', {}, { creationTimestamp: T1 as unknown as Date }));
  t.update(service('old', {}, { creationTimestamp: T0 as unknown as Date }));
  const lost = t.servicePorts().get('default/new:http/TCP')!.lostFrontends!;
  assert.equal(lost[0]!.kind, 'ClusterIP');
  assert.equal(lost[0]!.winner, 'default/old:http/TCP');
});

test('the external IP policy refuses ExternalIPs equal to a ClusterIP or outside the CIDRs', () => {
  const t = new ServiceTracker({ ...opts, externalIPPolicy: { refuseClusterIPs: true, allowedCIDRs: ['203.0.113.0/24'] } });
  t.update(service('other', { clusterIP: '198.18.128.50', clusterIPs: ['198.18.128.50'], ports: [{ name: 'x', port: 9999 }] }));
  t.update(service('e', { externalIPs: ['198.18.128.50', '203.0.113.9', '192.0.2.1'] }));
  assert.deepEqual(t.servicePorts().get('default/e:http/TCP')!.externalIPs, ['203.0.113.9']);
  const reasons = t.conflicts().map((c) => c.reason);
  assert.equal(reasons.length, 2);
  assert.match(reasons[0]!, /equals a Service ClusterIP/);
  assert.match(reasons[1]!, /outside the allowed CIDRs/);
  // Off by default: the same ExternalIP on another port is allowed.
  const open = new ServiceTracker(opts);
  open.update(service('other', { clusterIP: '198.18.128.50', clusterIPs: ['198.18.128.50'], ports: [{ name: 'x', port: 9999 }] }));
  open.update(service('e', { externalIPs: ['198.18.128.50'] }));
  assert.deepEqual(open.servicePorts().get('default/e:http/TCP')!.externalIPs, ['198.18.128.50']);
});

test('both back ends leave the loser\'s frontend out; deleting the loser is a no-op for the winner\'s entries', () => {
  const t = new ServiceTracker(opts);
  const eps = new EndpointSliceCache('n1');
  t.update(victim());
  t.update(thief());
  eps.update({ ...slice('dns-1', 'kube-dns', [{ name: 'dns', port: 53, protocol: 'UDP' }], [{ ip: '198.19.1.10' }]), metadata: { name: 'dns-1', namespace: 'kube-system', labels: { 'kubernetes.io/service-name': 'kube-dns' } } });
  eps.update({ ...slice('thief-1', 'thief', [{ name: 'dns', port: 53, protocol: 'UDP' }], [{ ip: '198.19.1.66' }]), metadata: { name: 'thief-1', namespace: 'zzz', labels: { 'kubernetes.io/service-name': 'thief' } } });
  const node = { nodeName: 'n1', zone: '' };
  const desired = computeDesiredState(t.servicePorts(), eps.allEndpoints(), node);
  const text = renderIptables(desired, { nodeName: 'n1', nodeIPs: ['198.18.0.2'] }).text;
  assert.equal(text.split('\n').filter((l) => l.includes('-d 198.18.128.10/32') || l.includes('-d 198.18.128.10 ')).length, 1, text);
  assert.doesNotMatch(text, /zzz\/thief:dns external IP/);

  const b = new DesiredMapsBuilder({ seed: 1, sizing: DEFAULT_MAGLEV_SIZING });
  const content = b.build(desired);
  const dnsKey = [...content.services.entries()].find(([, e]) => e.key.addr === '198.18.128.10' && e.key.port === 53)!;
  const tableOf = (id: number) => content.maglev.get(id)!;
  const backendIds = new Set(tableOf(dnsKey[1].value.group));
  assert.deepEqual([...backendIds].map((id) => content.backends.get(id)!.addr), ['198.19.1.10'], 'the ClusterIP frontend points at kube-dns\'s pod');
  // Delete the thief: the partial update touches none of kube-dns's entries.
  t.takeChanged();
  t.delete(thief());
  const changed = new Map<ServiceKey, ReturnType<typeof computeDesiredState>>();
  for (const k of t.takeChanged()) changed.set(k, t.portsOfService(k).size > 0 ? computeDesiredState(t.portsOfService(k), eps.endpointsOfService(k), node) : []);
  assert.deepEqual([...changed.keys()].sort(), ['kube-system/kube-dns', 'zzz/thief']);
  const { before, after } = b.update(changed);
  assert.ok(after.services.has(dnsKey[0]), 'kube-dns keeps its frontend');
  assert.deepEqual(after.services.get(dnsKey[0]), before.services.get(dnsKey[0]));
});

test('only Services sharing a frontend are recomputed; under the ClusterIP policy, any sharing the address', () => {
  const mk = (name: string, cip: string, spec: Record<string, unknown> = {}) => service(name, { clusterIP: cip, clusterIPs: [cip], ...spec });
  const open = new ServiceTracker(opts);
  open.update(mk('e', '198.18.128.1', { externalIPs: ['198.18.128.50'] }));
  open.takeChanged();
  open.update(mk('other', '198.18.128.50', { ports: [{ name: 'x', port: 9999 }] }));
  assert.deepEqual([...open.takeChanged()], ['default/other'], 'another port: no conflict, nothing else recomputed');
  const strict = new ServiceTracker({ ...opts, externalIPPolicy: { refuseClusterIPs: true } });
  strict.update(mk('e', '198.18.128.1', { externalIPs: ['198.18.128.50'] }));
  strict.takeChanged();
  strict.update(mk('other', '198.18.128.50', { ports: [{ name: 'x', port: 9999 }] }));
  assert.deepEqual([...strict.takeChanged()].sort(), ['default/e', 'default/other']);
  assert.deepEqual(strict.servicePorts().get('default/e:http/TCP')!.externalIPs, []);
  strict.delete(mk('other', '198.18.128.50'));
  assert.deepEqual([...strict.takeChanged()].sort(), ['default/e', 'default/other']);
  assert.deepEqual(strict.servicePorts().get('default/e:http/TCP')!.externalIPs, ['198.18.128.50']);
});
