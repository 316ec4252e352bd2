import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DesiredMapsBuilder } from '../../control-plane/src/dataplane/ebpf/desired-maps.js';
import { diffMaps } from '../../control-plane/src/dataplane/ebpf/diff.js';
import { emptyMapsContent } from '../../control-plane/src/dataplane/ebpf/maps-content.js';
import { computeDesiredState } from '../../control-plane/src/dataplane/desired-state.js';
import { ServiceTracker } from '../../control-plane/src/model/service-tracker.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import { SvcFlags } from '../../control-plane/src/dataplane/ebpf/map-values.js';
import { service, slice, type Ep } from './fixtures.js';

function desiredOf(svcs: Parameters<typeof service>[], slices: Array<[string, string, number, Ep[]]>) {
  const t = new ServiceTracker({ defaultAlgorithm: 'maglev' });
  for (const s of svcs) t.update(service(...s));
  const c = new EndpointSliceCache('node1');
  for (const [name, svc, port, eps] of slices) c.update(slice(name, svc, [{ name: 'http', port }], eps));
  return computeDesiredState(t.servicePorts(), c.allEndpoints(), { nodeName: 'node1', zone: '' });
}

const kinds = (ops: Array<Record<string, unknown>>) => ops.map((o) => Object.keys(o)[0]);

test('a new Service is written backends, table, reverse NAT, service entry, in that order', () => {
  const b = new DesiredMapsBuilder({ seed: 1, sizing: { floor: 251, ceiling: 131071 } });
  const want = b.build(desiredOf([['web', {}]], [['s', 'web', 8080, [{ ip: '198.19.1.2' }, { ip: '198.19.2.2' }]]]));
  const { ops } = diffMaps(emptyMapsContent(), want);
  assert.deepEqual(kinds(ops), ['upsertBackend', 'upsertBackend', 'setMaglev', 'upsertRevnat', 'upsertService']);
  const svc = ops[4]!.upsertService as { count: number; tableSize: number; flags: number };
  assert.equal(svc.count, 2);
  assert.equal(svc.tableSize, 251);
  assert.equal(svc.flags, SvcFlags.CLUSTERIP);
  // Nothing changes: nothing is sent.
  assert.equal(diffMaps(want, b.build(desiredOf([['web', {}]], [['s', 'web', 8080, [{ ip: '198.19.1.2' }, { ip: '198.19.2.2' }]]]))).ops.length, 0);
});

test('deleting a Service removes entries in reverse order', () => {
  const b = new DesiredMapsBuilder({ seed: 1, sizing: { floor: 251, ceiling: 131071 } });
  const have = b.build(desiredOf([['web', {}]], [['s', 'web', 8080, [{ ip: '198.19.1.2' }]]]));
  const { ops } = diffMaps(have, b.build([]));
  assert.deepEqual(kinds(ops), ['deleteService', 'deleteRevnat', 'deleteMaglev', 'deleteBackend']);
});

test('scaling changes only the backends and the table; ids stay stable', () => {
  const b = new DesiredMapsBuilder({ seed: 1, sizing: { floor: 251, ceiling: 131071 } });
  const one = b.build(desiredOf([['web', {}]], [['s', 'web', 8080, [{ ip: '198.19.1.2' }, { ip: '198.19.1.3' }]]]));
  const two = b.build(desiredOf([['web', {}]], [['s', 'web', 8080, [{ ip: '198.19.1.2' }, { ip: '198.19.1.3' }, { ip: '198.19.1.4' }]]]));
  const { ops } = diffMaps(one, two);
  assert.deepEqual(kinds(ops), ['upsertBackend', 'setMaglev', 'upsertService']);
  assert.deepEqual([...one.backends.keys()], [...two.backends.keys()].slice(0, 2));
  assert.deepEqual([...one.revnat.keys()], [...two.revnat.keys()]);
});

test('an unready endpoint leaves the table but stays as a terminating backend for established flows', () => {
  const b = new DesiredMapsBuilder({ seed: 1, sizing: { floor: 251, ceiling: 131071 } });
  const before = b.build(desiredOf([['web', {}]], [['s', 'web', 8080, [{ ip: '198.19.1.2' }, { ip: '198.19.1.3' }]]]));
  const after = b.build(desiredOf([['web', {}]], [['s', 'web', 8080, [{ ip: '198.19.1.2' }, { ip: '198.19.1.3', ready: false, serving: true, terminating: true }]]]));
  const { ops } = diffMaps(before, after);
  assert.deepEqual(kinds(ops), ['upsertBackend', 'setMaglev', 'upsertService']);
  assert.equal((ops[0]!.upsertBackend as { state: number }).state, 1);
  const table = after.maglev.values().next().value!;
  assert.equal(new Set(table).size, 1);
});

// kube-proxy deletes the UDP conntrack entries of an endpoint that stops
// serving, and keeps TCP connections: a terminating endpoint that no longer
// serves keeps its TCP backend and loses its UDP one (its UDP flows start over).
test('a terminating endpoint keeps its UDP backend while it serves, and loses it (TCP kept) once it stops serving', () => {
  const b = new DesiredMapsBuilder({ seed: 1, sizing: { floor: 251, ceiling: 131071 } });
  const of = (second: Ep) => {
    const t = new ServiceTracker({ defaultAlgorithm: 'maglev' });
    t.update(service('dns', { ports: [{ name: 'tcp', port: 53, protocol: 'TCP' }, { name: 'udp', port: 53, protocol: 'UDP' }] }));
    const c = new EndpointSliceCache('node1');
    c.update(slice('s', 'dns', [{ name: 'tcp', port: 5353 }, { name: 'udp', port: 5353, protocol: 'UDP' }], [{ ip: '198.19.1.2' }, second]));
    return b.build(computeDesiredState(t.servicePorts(), c.allEndpoints(), { nodeName: 'node1', zone: '' }));
  };
  const backendsOf = (m: ReturnType<typeof of>) => [...m.backends.values()].map((v) => `${v.addr}/${v.proto}/${v.state}`).sort();
  assert.deepEqual(backendsOf(of({ ip: '198.19.1.3', ready: false, serving: true, terminating: true })),
    ['198.19.1.2/17/0', '198.19.1.2/6/0', '198.19.1.3/17/1', '198.19.1.3/6/1']);
  const stopped = of({ ip: '198.19.1.3', ready: false, serving: false, terminating: true });
  assert.deepEqual(backendsOf(stopped), ['198.19.1.2/17/0', '198.19.1.2/6/0', '198.19.1.3/6/1']);
  const { ops } = diffMaps(of({ ip: '198.19.1.3', ready: false, serving: true, terminating: true }), stopped);
  assert.deepEqual(kinds(ops), ['deleteBackend']);
});

test('a Service with no usable endpoint keeps its entry with count 0 and loses its table', () => {
  const b = new DesiredMapsBuilder({ seed: 1, sizing: { floor: 251, ceiling: 131071 } });
  const before = b.build(desiredOf([['web', {}]], [['s', 'web', 8080, [{ ip: '198.19.1.2' }]]]));
  const after = b.build(desiredOf([['web', {}]], []));
  const { ops } = diffMaps(before, after);
  assert.deepEqual(kinds(ops), ['upsertService', 'deleteMaglev', 'deleteBackend']);
  assert.equal((ops[0]!.upsertService as { count: number }).count, 0);
});

test('a shrinking table is written after the service entry that indexes it', () => {
  const b = new DesiredMapsBuilder({ seed: 1, sizing: { floor: 251, ceiling: 131071 } });
  const many = Array.from({ length: 6 }, (_, i) => ({ ip: `198.19.1.${i + 2}` }));
  const before = b.build(desiredOf([['web', {}]], [['s', 'web', 8080, many]]));
  const after = b.build(desiredOf([['web', {}]], [['s', 'web', 8080, many.slice(0, 1)]]));
  const k = kinds(diffMaps(before, after).ops);
  assert.ok(k.indexOf('upsertService') < k.indexOf('setMaglev'), k.join(','));
});

test('a restarted agent adopts ids from the maps and sends nothing when nothing changed', () => {
  const b1 = new DesiredMapsBuilder({ seed: 1, sizing: { floor: 251, ceiling: 131071 } });
  const d = desiredOf([['web', {}], ['api', { clusterIP: '198.18.128.11', clusterIPs: ['198.18.128.11'] }]],
    [['s', 'web', 8080, [{ ip: '198.19.1.2' }]], ['t', 'api', 9090, [{ ip: '198.19.1.3' }, { ip: '198.19.1.4' }]]]);
  const programmed = b1.build(d);
  const b2 = new DesiredMapsBuilder({ seed: 1, sizing: { floor: 251, ceiling: 131071 } });
  b2.adopt(programmed);
  assert.equal(diffMaps(programmed, b2.build(d)).ops.length, 0);
});

test('switching session affinity on or off flushes the affinity entries of the table', () => {
  const b = new DesiredMapsBuilder({ seed: 1, sizing: { floor: 251, ceiling: 131071 } });
  const eps: Ep[] = [{ ip: '198.19.1.2' }, { ip: '198.19.1.3' }];
  const off = b.build(desiredOf([['web', {}]], [['s', 'web', 8080, eps]]));
  const on = b.build(desiredOf([['web', { sessionAffinity: 'ClientIP' }]], [['s', 'web', 8080, eps]]));
  const { ops } = diffMaps(off, on);
  assert.deepEqual(kinds(ops), ['upsertService', 'deleteAffinity']);
  assert.ok(((ops[0]!.upsertService as { flags: number }).flags & SvcFlags.AFFINITY) !== 0);
  assert.deepEqual(kinds(diffMaps(on, b.build(desiredOf([['web', {}]], [['s', 'web', 8080, eps]]))).ops), ['upsertService', 'deleteAffinity']);
});

function builderWithNode(): DesiredMapsBuilder {
  const b = new DesiredMapsBuilder({ seed: 1, sizing: { floor: 251, ceiling: 131071 } });
  b.nodeAddresses = ['198.18.0.11'];
  return b;
}

test('NodePort with eTP=Cluster: a NodePort frontend per node address sharing the ClusterIP table', () => {
  const b = builderWithNode();
  const want = b.build(desiredOf([['np', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }] }]],
    [['s', 'np', 8080, [{ ip: '198.19.1.2', node: 'node1' }, { ip: '198.19.2.2', node: 'node2' }]]]));
  const fes = [...want.services.values()];
  assert.deepEqual(fes.map((e) => `${e.key.addr}:${e.key.port}/${e.key.scope}`).sort(), ['198.18.0.11:30080/0', '198.18.128.10:80/0']);
  assert.equal(new Set(fes.map((e) => e.value.group)).size, 1);
  const np = fes.find((e) => e.key.port === 30080)!;
  assert.equal(np.value.flags, SvcFlags.NODEPORT);
  assert.equal(np.value.count, 2);
  assert.deepEqual(want.revnat.get(np.value.id), { addr: '198.18.0.11', port: 30080 });
});

test('eTP=Local: the external table holds only local endpoints and an internal-scope twin keeps the cluster table', () => {
  const b = builderWithNode();
  const want = b.build(desiredOf([['np', { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, nodePort: 30080 }] }]],
    [['s', 'np', 8080, [{ ip: '198.19.1.2', node: 'node1' }, { ip: '198.19.2.2', node: 'node2' }]]]));
  const ext = [...want.services.values()].find((e) => e.key.port === 30080 && e.key.scope === 0)!;
  const int = [...want.services.values()].find((e) => e.key.port === 30080 && e.key.scope === 1)!;
  assert.equal(ext.value.count, 1);
  assert.equal(ext.value.flags, SvcFlags.NODEPORT | SvcFlags.LOCAL_EXT | SvcFlags.DROP_NO_EP);
  assert.equal(int.value.count, 2);
  assert.notEqual(ext.value.group, int.value.group);
  const backendOf = (g: number) => new Set(Array.from(want.maglev.get(g)!, (id) => want.backends.get(id)!.addr));
  assert.deepEqual(backendOf(ext.value.group), new Set(['198.19.1.2']));
});

test('LoadBalancer with source ranges: ranges are written before the frontend and removed after it', () => {
  const b = builderWithNode();
  const lb = (ranges: string[]) => desiredOf([['lb', {
    type: 'LoadBalancer', ports: [{ name: 'http', port: 80, nodePort: 30081 }], loadBalancerSourceRanges: ranges,
  }]], [['s', 'lb', 8080, [{ ip: '198.19.1.2', node: 'node1' }]]]).map((d) => ({ ...d, svc: { ...d.svc, loadBalancerIPs: ['198.18.64.1'] } }));
  const want = b.build(lb(['198.18.0.200/32', '198.18.10.0/24']));
  const fe = [...want.services.values()].find((e) => e.key.addr === '198.18.64.1')!;
  assert.ok(fe.value.flags & SvcFlags.SOURCE_RANGE);
  assert.deepEqual([...want.sourceRanges.values()].map((r) => `${r.frontendId}:${r.addr}/${r.prefixLen}`).sort(),
    [`${fe.value.id}:198.18.0.200/32`, `${fe.value.id}:198.18.10.0/24`]);
  const k = kinds(diffMaps(emptyMapsContent(), want).ops);
  assert.ok(k.lastIndexOf('upsertSourceRange') < k.indexOf('upsertService'));
  const k2 = kinds(diffMaps(want, b.build([])).ops);
  assert.ok(k2.indexOf('deleteSourceRange') > k2.lastIndexOf('deleteService'));
});

test('a frontend with an endpoint on the node itself (hostNetwork pod here) is flagged HOST_EP, and loses the flag with it', () => {
  const b = builderWithNode();
  b.nodeIP = '198.18.0.11';
  const withHost = b.build(desiredOf([['dns', {}]], [['s', 'dns', 53, [{ ip: '198.18.0.11', node: 'node1' }, { ip: '198.19.2.2', node: 'node2' }]]]));
  const fe = [...withHost.services.values()][0]!;
  assert.equal(fe.value.flags, SvcFlags.CLUSTERIP | SvcFlags.HOST_EP);
  const without = b.build(desiredOf([['dns', {}]], [['s', 'dns', 53, [{ ip: '198.19.2.2', node: 'node2' }]]]));
  assert.equal([...without.services.values()][0]!.value.flags, SvcFlags.CLUSTERIP);
  const { ops } = diffMaps(withHost, without);
  assert.ok(ops.some((o) => 'upsertService' in o && (o.upsertService as { flags: number }).flags === SvcFlags.CLUSTERIP), 'the flag change is written');
  // Another node's address is not this node.
  b.nodeIP = '198.18.0.12';
  assert.equal([...b.build(desiredOf([['dns', {}]], [['s', 'dns', 53, [{ ip: '198.18.0.11', node: 'node1' }]]])).services.values()][0]!.value.flags, SvcFlags.CLUSTERIP);
});
