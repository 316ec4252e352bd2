// Pure parts of the namespace lab: the address plan, names, the topology's
// ip batches, manifest handling, readiness and tables. No root needed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PodAddressAllocator,
  hostVethName,
  isLabNamespace,
  labPlan,
  nodeIP,
  nodeRoutes,
  parseLinkMtu,
  podCIDR,
  podIP,
  podNetnsName,
  topologyNamespaces,
  validateLabName,
  zoneFor,
} from '../../lab/src/netns/plan.js';
import { hostBatch, underlayBatch } from '../../lab/src/netns/topology.js';
import { parseManifests, preserveServerFields } from '../../lab/src/cli/manifests.js';
import { checkReadiness } from '../../lab/src/cli/wait.js';
import { renderTable, age } from '../../lab/src/cli/tables.js';
import { resolveKind, collectionPath, objectPath } from '../../lab/src/cli/resources.js';
import { kubeconfig } from '../../lab/src/daemon/daemon.js';

function inCidr(ip: string, cidr: string): boolean {
  const [base, len] = cidr.split('/') as [string, string];
  const n = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const mask = Number(len) === 0 ? 0 : (0xffffffff << (32 - Number(len))) >>> 0;
  return ((n(ip) & mask) >>> 0) === ((n(base) & mask) >>> 0);
}

describe('address plan', () => {
  test('nodes, pods and hosts get their documented addresses', () => {
    const p = labPlan('sy', 3);
    assert.equal(p.stateDir, '/run/switchyard/lab/sy');
    assert.equal(p.cp.ip, '198.18.0.1');
    assert.equal(p.cp.netns, 'sy-cp');
    assert.equal(p.ext.ip, '198.18.0.200');
    assert.equal(p.ext.netns, 'sy-ext');
    assert.equal(p.underlay.netns, 'sy-net');
    assert.equal(p.apiURL, 'http://198.18.0.1:6443');
    assert.deepEqual(p.nodes.map((n) => [n.name, n.netns, n.ip, n.podCIDR, n.podGateway, n.zone, n.pinInstance]), [
      ['node1', 'sy-n1', '198.18.0.11', '198.19.1.0/24', '198.19.1.1', 'zone-a', 'sy-n1'],
      ['node2', 'sy-n2', '198.18.0.12', '198.19.2.0/24', '198.19.2.1', 'zone-b', 'sy-n2'],
      ['node3', 'sy-n3', '198.18.0.13', '198.19.3.0/24', '198.19.3.1', 'zone-a', 'sy-n3'],
    ]);
    assert.equal(p.nodes[1]!.labels['topology.kubernetes.io/zone'], 'zone-b');
    assert.deepEqual(topologyNamespaces(p), ['sy-net', 'sy-cp', 'sy-ext', 'sy-n1', 'sy-n2', 'sy-n3']);
  });

  test('every address of the plan is inside 198.18.0.0/15 and unique', () => {
    const p = labPlan('big', 100);
    const addrs = [p.cp.ip, p.ext.ip, ...p.nodes.map((n) => n.ip), ...p.nodes.map((n) => n.podGateway)];
    for (const a of addrs) assert.ok(inCidr(a, '198.18.0.0/15'), a);
    for (const c of [p.serviceCIDR, p.lbPool, ...p.nodes.map((n) => n.podCIDR)]) assert.ok(inCidr(c.split('/')[0]!, '198.18.0.0/15'), c);
    assert.equal(new Set(addrs).size, addrs.length);
    // Underlay hosts stay inside the underlay /24, apart from the service and LB ranges.
    for (const n of p.nodes) {
      assert.ok(inCidr(n.ip, '198.18.0.0/24'));
      assert.ok(!inCidr(n.ip, p.serviceCIDR) && !inCidr(n.ip, p.lbPool));
    }
  });

  test('helpers and ranges', () => {
    assert.equal(nodeIP(1), '198.18.0.11');
    assert.equal(podCIDR(7), '198.19.7.0/24');
    assert.equal(podIP(2, 2), '198.19.2.2');
    assert.equal(podIP(2, 254), '198.19.2.254');
    assert.throws(() => podIP(2, 1));
    assert.throws(() => podIP(2, 255));
    assert.throws(() => nodeIP(0));
    assert.throws(() => nodeIP(101));
    assert.throws(() => labPlan('sy', 0));
    assert.equal(zoneFor(1), 'zone-a');
    assert.equal(zoneFor(4), 'zone-b');
  });

  test('node routes: every other node pod CIDR via that node', () => {
    const p = labPlan('sy', 3);
    assert.deepEqual(nodeRoutes(p, 2), [
      { dst: '198.19.1.0/24', via: '198.18.0.11' },
      { dst: '198.19.3.0/24', via: '198.18.0.13' },
    ]);
  });

  test('lab names', () => {
    assert.equal(validateLabName('sy'), undefined);
    assert.equal(validateLabName('e2c123456'), undefined);
    for (const bad of ['', 'Sy', '1ab', 'a-b', 'a/b', 'x'.repeat(17), '../etc']) assert.ok(validateLabName(bad), bad);
    assert.throws(() => labPlan('bad name', 2));
  });

  test('pod namespaces: default namespace short, others with "_", long names hashed', () => {
    assert.equal(podNetnsName('sy', 'default', 'web-abc'), 'sy-p-web-abc');
    assert.equal(podNetnsName('sy', 'team', 'web-abc'), 'sy-p-team_web-abc');
    assert.notEqual(podNetnsName('sy', 'a', 'b.c'), podNetnsName('sy', 'default', 'a.b.c'));
    const long = podNetnsName('sy', 'default', 'x'.repeat(253));
    assert.ok(long.length <= 255);
    assert.ok(long.startsWith('sy-p-x'));
    assert.notEqual(long, podNetnsName('sy', 'default', 'x'.repeat(252)));
    assert.ok(isLabNamespace('sy', long));
  });

  test('lab namespace guard', () => {
    assert.ok(isLabNamespace('sy', 'sy-n1'));
    assert.ok(!isLabNamespace('sy', 'sy-'));
    assert.ok(!isLabNamespace('sy', 'syz-n1'));
    assert.ok(!isLabNamespace('sy', 'other'));
    assert.ok(!isLabNamespace('sy', 'sy-../x'));
    assert.ok(!isLabNamespace('sy', 'sy-a/b'));
  });

  test('host veth names fit IFNAMSIZ', () => {
    assert.equal(hostVethName(0), 'syp0');
    assert.equal(hostVethName(123456789012), 'syp123456789012');
    assert.throws(() => hostVethName(1234567890123));
    assert.throws(() => hostVethName(-1));
  });

  test('pod address allocator: lowest free first, reuse after release, exhaustion', () => {
    const a = new PodAddressAllocator(3);
    assert.equal(a.allocate(), '198.19.3.2');
    assert.equal(a.allocate(), '198.19.3.3');
    assert.equal(a.allocate(), '198.19.3.4');
    a.release('198.19.3.3');
    assert.equal(a.allocate(), '198.19.3.3');
    a.release('198.19.9.3'); // not ours: ignored
    assert.equal(a.inUse, 3);
    assert.equal(a.reserve('198.19.3.10'), true);
    assert.equal(a.reserve('198.19.3.10'), false);
    const b = new PodAddressAllocator(1);
    for (let k = 2; k <= 254; k++) assert.equal(b.allocate(), `198.19.1.${k}`);
    assert.throws(() => b.allocate(), /exhausted/);
  });
});

describe('topology batches', () => {
  test('veths are created in the underlay with the peer put straight into the host namespace', () => {
    const p = labPlan('sy', 2);
    const lines = underlayBatch(p);
    assert.ok(lines.includes('link add br0 type bridge stp_state 0 forward_delay 0'));
    assert.ok(lines.includes('link add v-n1 type veth peer name eth0 netns sy-n1'));
    assert.ok(lines.includes('link add v-cp type veth peer name eth0 netns sy-cp'));
    assert.ok(lines.includes('link add v-ext type veth peer name eth0 netns sy-ext'));
    assert.ok(lines.includes('link set v-n2 master br0 up'));
    assert.deepEqual(hostBatch(p, p.nodes[0]!, 1), [
      'link set lo up',
      'addr add 198.18.0.11/24 dev eth0',
      'link set eth0 up',
      'route add 198.19.2.0/24 via 198.18.0.12 dev eth0',
    ]);
    assert.deepEqual(hostBatch(p, p.ext), ['link set lo up', 'addr add 198.18.0.200/24 dev eth0', 'link set eth0 up']);
  });

  test('--link-mtu node2=1280: node2\'s eth0 and bridge port narrow, the other nodes\' routes to it locked at 1280', () => {
    const p = labPlan('sy', 3, undefined, new Map([[parseLinkMtu('node2=1280', 3)[0], 1280]]));
    assert.equal(p.nodes[1]!.linkMtu, 1280);
    assert.equal(p.nodes[0]!.linkMtu, undefined);
    const lines = underlayBatch(p);
    assert.ok(lines.includes('link set v-n2 master br0 mtu 1280 up'));
    assert.ok(lines.includes('link set v-n1 master br0 up'));
    assert.ok(lines.includes('link set v-ext master br0 up'));
    assert.deepEqual(hostBatch(p, p.nodes[0]!, 1), [
      'link set lo up',
      'addr add 198.18.0.11/24 dev eth0',
      'link set eth0 up',
      'route add 198.19.2.0/24 via 198.18.0.12 dev eth0 mtu lock 1280',
      'route add 198.18.0.12/32 dev eth0 mtu lock 1280',
      'route add 198.19.3.0/24 via 198.18.0.13 dev eth0',
    ]);
    assert.deepEqual(hostBatch(p, p.nodes[1]!, 2), [
      'link set lo up',
      'addr add 198.18.0.12/24 dev eth0',
      'link set eth0 mtu 1280 up',
      'route add 198.19.1.0/24 via 198.18.0.11 dev eth0',
      'route add 198.19.3.0/24 via 198.18.0.13 dev eth0',
    ]);
    assert.throws(() => parseLinkMtu('node4=1280', 3), /3 node/);
    assert.throws(() => parseLinkMtu('node2=100', 3), /576\.\.1500/);
    assert.throws(() => parseLinkMtu('n2=1280', 3), /node<i>=<mtu>/);
  });
});

describe('manifests', () => {
  test('multi-document YAML, lists, default namespace, unsupported kinds', () => {
    const objs = parseManifests(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {replicas: 2}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: team}
spec: {ports: [{port: 80}]}
---
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Pod, metadata: {name: p1}}
- {apiVersion: discovery.k8s.io/v1, kind: EndpointSlice, metadata: {name: s1}, addressType: IPv4}
- {apiVersion: v1, kind: ReplicationController, metadata: {name: rc}}
- {apiVersion: apps/v1, kind: ReplicaSet, metadata: {name: rs}}
`, 'dflt');
    assert.deepEqual(objs.map((o) => [o.kind.kind, o.namespace, o.name]), [
      ['Deployment', 'dflt', 'web'],
      ['Service', 'team', 'web'],
      ['Pod', 'dflt', 'p1'],
      ['EndpointSlice', 'dflt', 's1'],
      ['ReplicationController', 'dflt', 'rc'],
      ['ReplicaSet', 'dflt', 'rs'],
    ]);
    assert.equal(objs[0]!.obj['metadata'].namespace, 'dflt');
    assert.throws(() => parseManifests('apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\n', 'default'), /unsupported kind/);
    assert.throws(() => parseManifests('apiVersion: v1\nkind: Pod\nmetadata: {}\n', 'default'), /metadata.name/);
    assert.throws(() => parseManifests('a: [\n', 'default'));
    assert.deepEqual(parseManifests('{"apiVersion":"v1","kind":"Service","metadata":{"name":"x"}}', 'default').map((o) => o.name), ['x']);
  });

  test('apply keeps server-allocated Service fields and the resourceVersion', () => {
    const current = {
      metadata: { name: 's', resourceVersion: '42' },
      spec: {
        type: 'NodePort', clusterIP: '198.18.128.7', clusterIPs: ['198.18.128.7'], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack',
        ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }, { port: 53, protocol: 'UDP', nodePort: 30053 }],
      },
    };
    const desired = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { type: 'NodePort', ports: [{ name: 'http', port: 8080 }, { port: 53, protocol: 'UDP' }, { port: 9, nodePort: 30009 }] } };
    const next = preserveServerFields('Service', desired, current);
    assert.equal(next['metadata'].resourceVersion, '42');
    assert.equal(next['spec'].clusterIP, '198.18.128.7');
    assert.deepEqual(next['spec'].clusterIPs, ['198.18.128.7']);
    assert.deepEqual(next['spec'].ports.map((p: { nodePort?: number }) => p.nodePort), [30080, 30053, 30009]);
    assert.equal((desired.spec.ports[0] as { nodePort?: number }).nodePort, undefined, 'the input is not modified');
    const toClusterIP = preserveServerFields('Service', { metadata: { name: 's' }, spec: { ports: [{ port: 80 }] } }, current);
    assert.equal(toClusterIP['spec'].ports[0].nodePort, undefined);
    const pod = preserveServerFields('Pod', { metadata: { name: 'p' }, spec: {} }, { metadata: { resourceVersion: '3' }, spec: { nodeName: 'node2' } });
    assert.equal(pod['spec'].nodeName, 'node2');
  });

  test('kinds and paths', () => {
    assert.equal(resolveKind('svc')?.resource, 'services');
    assert.equal(resolveKind('deploy')?.resource, 'deployments');
    assert.equal(resolveKind('Deployment')?.resource, 'deployments');
    assert.equal(resolveKind('rc')?.resource, 'replicationcontrollers');
    assert.equal(resolveKind('nope'), undefined);
    const d = resolveKind('deployments')!;
    assert.equal(collectionPath(d, 'default'), '/apis/apps/v1/namespaces/default/deployments');
    assert.equal(collectionPath(d, undefined), '/apis/apps/v1/deployments');
    assert.equal(objectPath(d, 'a', 'b'), '/apis/apps/v1/namespaces/a/deployments/b');
    assert.equal(objectPath(resolveKind('nodes')!, 'default', 'node1'), '/api/v1/nodes/node1');
    assert.equal(collectionPath(resolveKind('eps')!, 'x'), '/apis/discovery.k8s.io/v1/namespaces/x/endpointslices');
  });
});

describe('wait-ready check', () => {
  const pod = (name: string, ip: string, ready: boolean, labels = { app: 'w' }, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    metadata: { name, namespace: 'default', labels, ...extra },
    status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });
  const svc = { metadata: { name: 'w', namespace: 'default' }, spec: { selector: { app: 'w' }, ports: [{ port: 80 }] } };
  const slice = (addrs: Array<[string, boolean]>): Record<string, unknown> => ({
    metadata: { name: 'w-abc', namespace: 'default', labels: { 'kubernetes.io/service-name': 'w' } },
    endpoints: addrs.map(([a, r]) => ({ addresses: [a], conditions: { ready: r } })),
  });

  test('ready when pods are ready and slices list exactly the ready pods', () => {
    const r = checkReadiness([], [pod('a', '198.19.1.2', true), pod('b', '198.19.2.2', true)], [svc], [slice([['198.19.1.2', true], ['198.19.2.2', true]])]);
    assert.deepEqual(r, { ready: true, waitingFor: [] });
  });

  test('waits for unready pods, stale or missing slice entries, missing slices', () => {
    assert.equal(checkReadiness([], [pod('a', '198.19.1.2', false)], [], []).ready, false);
    const stale = checkReadiness([], [pod('a', '198.19.1.2', true)], [svc], [slice([['198.19.1.2', true], ['198.19.1.9', true]])]);
    assert.match(stale.waitingFor.join(), /stale 198.19.1.9/);
    const missing = checkReadiness([], [pod('a', '198.19.1.2', true)], [svc], []);
    assert.match(missing.waitingFor.join(), /missing 198.19.1.2/);
    const notReadyEntry = checkReadiness([], [pod('a', '198.19.1.2', true)], [svc], [slice([['198.19.1.2', false]])]);
    assert.equal(notReadyEntry.ready, false);
  });

  test('terminating pods do not block; unselected pods and selectorless services are ignored', () => {
    const r = checkReadiness([],
      [pod('a', '198.19.1.2', true), pod('t', '198.19.1.3', false, { app: 'w' }, { deletionTimestamp: '2020-01-01T00:00:00Z' }), pod('o', '198.19.1.4', true, { app: 'other' } as never)],
      [svc, { metadata: { name: 'manual', namespace: 'default' }, spec: { ports: [{ port: 1 }] } }],
      [slice([['198.19.1.2', true], ['198.19.1.3', false]])]);
    assert.deepEqual(r.waitingFor, []);
  });

  test('nodes with a Ready=False condition are waited for', () => {
    const r = checkReadiness([{ metadata: { name: 'node1' }, status: { conditions: [{ type: 'Ready', status: 'False' }] } }], [], [], []);
    assert.deepEqual(r.waitingFor, ['node node1 not Ready']);
  });
});

describe('tables and kubeconfig', () => {
  test('pod table, wide and all-namespaces', () => {
    const kind = resolveKind('pods')!;
    const items = [{
      metadata: { name: 'web-1', namespace: 'default', creationTimestamp: new Date(Date.now() - 65_000).toISOString(), annotations: { 'lab.switchyard.dev/netns': 'sy-p-web-1' } },
      spec: { nodeName: 'node1', containers: [{ name: 'c' }] },
      status: { phase: 'Running', podIP: '198.19.1.2', conditions: [{ type: 'Ready', status: 'True' }] },
    }];
    const t = renderTable(kind, items, { wide: true, allNamespaces: true }).split('\n');
    assert.match(t[0]!, /^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NETNS$/);
    assert.match(t[1]!, /^default\s+web-1\s+1\/1\s+Running\s+0\s+65s\s+198\.19\.1\.2\s+node1\s+sy-p-web-1$/);
    assert.doesNotMatch(renderTable(kind, items, { wide: false, allNamespaces: false }), /NODE/);
  });

  test('service table', () => {
    const t = renderTable(resolveKind('svc')!, [{ metadata: { name: 'w' }, spec: { type: 'NodePort', clusterIP: '198.18.128.5', ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }] } }], { wide: false, allNamespaces: false });
    assert.match(t, /w\s+NodePort\s+198\.18\.128\.5\s+<none>\s+80:30080\/TCP,53\/UDP/);
  });

  test('ages', () => {
    const now = Date.parse('2024-01-01T12:00:00Z');
    assert.equal(age('2024-01-01T11:59:30Z', now), '30s');
    assert.equal(age('2024-01-01T11:55:00Z', now), '5m');
    assert.equal(age('2024-01-01T09:00:00Z', now), '3h');
    assert.equal(age(undefined, now), '<unknown>');
  });

  test('kubeconfig points at the lab API server without credentials', () => {
    const k = kubeconfig('http://198.18.0.1:6443');
    assert.match(k, /server: http:\/\/198\.18\.0\.1:6443/);
    assert.match(k, /current-context: lab/);
  });
});
