// The lab API server and controllers in a dual-stack (and an IPv6-only)
// cluster: ClusterIP allocation per ipFamilyPolicy as kube-apiserver does it,
// EndpointSlices per family, Node and Pod addresses of both families.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { prefixContains } from '../../control-plane/src/util/ip.js';
import { ApiError } from '../../lab/src/apiserver/errors.js';
import { Store } from '../../lab/src/apiserver/store.js';
import type { EndpointSlice, Node, Pod, Service } from '../../lab/src/apiserver/types.js';
import type { PodSpecForRuntime, StartedPod } from '../../lab/src/runtime/pod-runtime.js';
import { MemoryRuntime, startTestCluster, waitFor } from './helpers.js';

const V4 = '198.18.128.0/29';
const V6 = 'fd00:198:18:128::/124';

function refusal(fn: () => unknown): { code: number; message: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return { code: e.code, message: e.message };
    throw e;
  }
  return { code: 0, message: '' };
}

const svc = (name: string, spec: Record<string, unknown> = {}) => ({
  metadata: { name },
  spec: { selector: { app: name }, ports: [{ port: 80 }], ...spec },
});

const dualStore = (): Store => new Store({ serviceCIDRs: [V4, V6] });

describe('ClusterIPs per ipFamilyPolicy, dual-stack cluster (IPv4 primary)', { timeout: 60_000 }, () => {
  test('SingleStack (default): the primary family only', () => {
    const s = dualStore();
    const a = s.create('services', svc('a'));
    assert.equal(a.spec.ipFamilyPolicy, 'SingleStack');
    assert.deepEqual(a.spec.ipFamilies, ['IPv4']);
    assert.deepEqual(a.spec.clusterIPs, ['198.18.128.1']);
    assert.equal(a.spec.clusterIP, '198.18.128.1');
  });

  test('PreferDualStack and RequireDualStack: both families, primary first, IPv6 from the IPv6 service CIDR', () => {
    const s = dualStore();
    for (const [name, policy] of [['p', 'PreferDualStack'], ['r', 'RequireDualStack']] as const) {
      const x = s.create('services', svc(name, { ipFamilyPolicy: policy }));
      assert.equal(x.spec.ipFamilyPolicy, policy);
      assert.deepEqual(x.spec.ipFamilies, ['IPv4', 'IPv6']);
      assert.equal(x.spec.clusterIPs?.length, 2);
      assert.equal(x.spec.clusterIP, x.spec.clusterIPs?.[0]);
      assert.ok(prefixContains(V4, x.spec.clusterIPs![0]!), `${x.spec.clusterIPs![0]} in ${V4}`);
      assert.ok(prefixContains(V6, x.spec.clusterIPs![1]!), `${x.spec.clusterIPs![1]} in ${V6}`);
    }
    assert.deepEqual(s.get('services', 'p')?.spec.clusterIPs, ['198.18.128.1', 'fd00:198:18:128::1']);
    assert.deepEqual(s.get('services', 'r')?.spec.clusterIPs, ['198.18.128.2', 'fd00:198:18:128::2']);
  });

  test('ipFamilies chooses the order; SingleStack IPv6 gets only an IPv6 address', () => {
    const s = dualStore();
    const six = s.create('services', svc('six', { ipFamilies: ['IPv6'] }));
    assert.equal(six.spec.ipFamilyPolicy, 'SingleStack');
    assert.deepEqual(six.spec.ipFamilies, ['IPv6']);
    assert.deepEqual(six.spec.clusterIPs, ['fd00:198:18:128::1']);
    assert.equal(six.spec.clusterIP, 'fd00:198:18:128::1');
    const sixFirst = s.create('services', svc('sixfirst', { ipFamilies: ['IPv6'], ipFamilyPolicy: 'PreferDualStack' }));
    assert.deepEqual(sixFirst.spec.ipFamilies, ['IPv6', 'IPv4']);
    assert.deepEqual(sixFirst.spec.clusterIPs, ['fd00:198:18:128::2', '198.18.128.1']);
    assert.equal(sixFirst.spec.clusterIP, 'fd00:198:18:128::2');
  });

  test('given clusterIPs are honoured (families inferred from them) and validated', () => {
    const s = dualStore();
    const g = s.create('services', svc('g', { clusterIP: 'fd00:198:18:128::9', clusterIPs: ['fd00:198:18:128::9', '198.18.128.5'], ipFamilyPolicy: 'RequireDualStack' }));
    assert.deepEqual(g.spec.ipFamilies, ['IPv6', 'IPv4']);
    assert.deepEqual(g.spec.clusterIPs, ['fd00:198:18:128::9', '198.18.128.5']);
    // An old client's clusterIP alone, of the secondary family, is honoured too.
    const o = s.create('services', svc('o', { clusterIP: 'fd00:198:18:128::a' }));
    assert.deepEqual(o.spec.ipFamilies, ['IPv6']);
    assert.deepEqual(o.spec.clusterIPs, ['fd00:198:18:128::a']);
    const taken = refusal(() => s.create('services', svc('t', { clusterIP: 'fd00:198:18:128:0:0:0:9' })));
    assert.equal(taken.code, 422);
    assert.match(taken.message, /provided IP is already allocated/);
    const out = refusal(() => s.create('services', svc('out', { clusterIP: 'fd00:1::1' })));
    assert.equal(out.code, 422);
    assert.match(out.message, /the provided IP \(fd00:1::1\) is not in the valid range. The range of valid IPs is fd00:198:18:128::\/124/);
    const sameFamily = refusal(() => s.create('services', svc('sf', { clusterIP: '198.18.128.3', clusterIPs: ['198.18.128.3', '198.18.128.4'], ipFamilyPolicy: 'PreferDualStack' })));
    assert.equal(sameFamily.code, 422);
    assert.match(sameFamily.message, /may specify no more than one IP for each IP family/);
    const single2 = refusal(() => s.create('services', svc('s2', { clusterIP: '198.18.128.3', clusterIPs: ['198.18.128.3', 'fd00:198:18:128::3'], ipFamilyPolicy: 'SingleStack' })));
    assert.equal(single2.code, 422);
    assert.match(single2.message, /must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified/);
    const mismatch = refusal(() => s.create('services', svc('mm', { clusterIP: '198.18.128.3', clusterIPs: ['198.18.128.3'], ipFamilies: ['IPv6'] })));
    assert.equal(mismatch.code, 422);
    assert.match(mismatch.message, /expected an IPv6 value as indicated by `ipFamilies\[0\]`/);
    const notFirst = refusal(() => s.create('services', svc('nf', { clusterIP: '198.18.128.3', clusterIPs: ['198.18.128.4'] })));
    assert.equal(notFirst.code, 422);
    assert.match(notFirst.message, /first value must match `clusterIP`/);
    const pluralOnly = refusal(() => s.create('services', svc('po', { clusterIPs: ['198.18.128.3'] })));
    assert.equal(pluralOnly.code, 422);
    assert.match(pluralOnly.message, /spec.clusterIPs: Invalid value: \["198.18.128.3"\]: must be empty when `clusterIP` is not specified/);
    // Nothing leaked by the refusals: .3 and .4 are still free.
    assert.ok(!s.services.byFamily.get('IPv4')!.has('198.18.128.3'));
    assert.ok(!s.services.byFamily.get('IPv4')!.has('198.18.128.4'));
    assert.ok(!s.services.byFamily.get('IPv6')!.has('fd00:198:18:128::3'));
  });

  test('headless Services get families but no addresses', () => {
    const s = dualStore();
    const h = s.create('services', svc('h', { clusterIP: 'None', ipFamilyPolicy: 'PreferDualStack' }));
    assert.deepEqual(h.spec.clusterIPs, ['None']);
    assert.deepEqual(h.spec.ipFamilies, ['IPv4', 'IPv6']);
    const hs = s.create('services', svc('hs', { clusterIP: 'None' }));
    assert.equal(hs.spec.ipFamilyPolicy, 'SingleStack', 'headless with a selector defaults like any Service');
    assert.deepEqual(hs.spec.ipFamilies, ['IPv4']);
    const nosel = s.create('services', { metadata: { name: 'nosel' }, spec: { clusterIP: 'None', ports: [{ port: 80 }] } });
    assert.equal(nosel.spec.ipFamilyPolicy, 'RequireDualStack', 'headless without selector defaults to RequireDualStack');
    assert.deepEqual(nosel.spec.ipFamilies, ['IPv4', 'IPv6']);
    assert.equal(s.services.byFamily.get('IPv6')!.allocated(), 0);
  });

  test('upgrade to PreferDualStack adds an IPv6 address; SingleStack releases it; delete releases all', () => {
    const s = dualStore();
    s.create('services', svc('u'));
    const up = s.patch('services', 'u', { spec: { ipFamilyPolicy: 'PreferDualStack' } });
    assert.deepEqual(up.spec.ipFamilies, ['IPv4', 'IPv6']);
    assert.deepEqual(up.spec.clusterIPs, ['198.18.128.1', 'fd00:198:18:128::1']);
    // An update that leaves the IP fields alone keeps both.
    const same = s.patch('services', 'u', { spec: { sessionAffinity: 'ClientIP' } });
    assert.deepEqual(same.spec.clusterIPs, ['198.18.128.1', 'fd00:198:18:128::1']);
    const down = s.patch('services', 'u', { spec: { ipFamilyPolicy: 'SingleStack' } });
    assert.deepEqual(down.spec.ipFamilies, ['IPv4']);
    assert.deepEqual(down.spec.clusterIPs, ['198.18.128.1']);
    assert.ok(!s.services.byFamily.get('IPv6')!.has('fd00:198:18:128::1'), 'secondary released');
    // Dropping the secondary without SingleStack is refused.
    s.patch('services', 'u', { spec: { ipFamilyPolicy: 'RequireDualStack' } });
    const cur = s.get('services', 'u') as Service;
    const r = refusal(() => s.update('services', { ...cur, spec: { ...cur.spec, clusterIPs: [cur.spec.clusterIP!], ipFamilies: ['IPv4'] } }));
    assert.equal(r.code, 422);
    assert.match(r.message, /must be 'SingleStack' to release the secondary cluster IP/);
    // The primary family is immutable.
    const flip = refusal(() => s.patch('services', 'u', { spec: { ipFamilies: ['IPv6', 'IPv4'] } }));
    assert.equal(flip.code, 422);
    assert.match(flip.message, /spec.ipFamilies\[0\]: Invalid value: "IPv6": may not change once set/);
    const both = (s.get('services', 'u') as Service).spec.clusterIPs!;
    s.delete('services', 'u');
    assert.ok(!s.services.byFamily.get('IPv4')!.has(both[0]!));
    assert.ok(!s.services.byFamily.get('IPv6')!.has(both[1]!));
  });

  test('the IPv6 range fills up and frees like the IPv4 one', () => {
    const s = new Store({ serviceCIDRs: ['fd00:198:18:128::/126', V4] });
    const ips = ['a', 'b', 'c'].map((n) => s.create('services', svc(n)).spec.clusterIP);
    assert.deepEqual(ips, ['fd00:198:18:128::1', 'fd00:198:18:128::2', 'fd00:198:18:128::3'], 'network address excluded, the last one usable');
    const full = refusal(() => s.create('services', svc('d')));
    assert.equal(full.code, 422);
    assert.match(full.message, /range is full/);
    s.delete('services', 'b');
    assert.equal(s.create('services', svc('e')).spec.clusterIP, 'fd00:198:18:128::2');
  });
});

describe('ClusterIPs per ipFamilyPolicy, single-stack clusters', { timeout: 60_000 }, () => {
  test('IPv4-only: PreferDualStack stays single; RequireDualStack and IPv6 refused as kube-apiserver refuses them', () => {
    const s = new Store({ serviceCIDR: V4 });
    const p = s.create('services', svc('p', { ipFamilyPolicy: 'PreferDualStack' }));
    assert.equal(p.spec.ipFamilyPolicy, 'PreferDualStack');
    assert.deepEqual(p.spec.ipFamilies, ['IPv4']);
    assert.deepEqual(p.spec.clusterIPs, ['198.18.128.1']);
    const r = refusal(() => s.create('services', svc('r', { ipFamilyPolicy: 'RequireDualStack' })));
    assert.equal(r.code, 422);
    assert.match(r.message, /spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services/);
    const six = refusal(() => s.create('services', svc('six', { ipFamilies: ['IPv6'] })));
    assert.equal(six.code, 422);
    assert.match(six.message, /spec.ipFamilies\[0\]: Invalid value: "IPv6": not configured on this cluster/);
    const sixIP = refusal(() => s.create('services', svc('sixip', { clusterIP: 'fd00::1' })));
    assert.equal(sixIP.code, 422);
    assert.match(sixIP.message, /spec.clusterIPs\[0\]: .*IPv6 is not configured on this cluster/);
    // Headless without selector may name both families even here.
    const nosel = s.create('services', { metadata: { name: 'nosel' }, spec: { clusterIP: 'None', ports: [{ port: 80 }] } });
    assert.equal(nosel.spec.ipFamilyPolicy, 'RequireDualStack');
    assert.deepEqual(nosel.spec.ipFamilies, ['IPv4', 'IPv6']);
    assert.equal(s.services.ips.allocated(), 1);
  });

  test('IPv6-only: every policy but RequireDualStack gets one IPv6 address', () => {
    const s = new Store({ serviceCIDR: V6 });
    for (const [name, policy] of [['a', undefined], ['b', 'SingleStack'], ['c', 'PreferDualStack']] as const) {
      const x = s.create('services', svc(name, policy ? { ipFamilyPolicy: policy } : {}));
      assert.deepEqual(x.spec.ipFamilies, ['IPv6'], name);
      assert.equal(x.spec.clusterIPs?.length, 1);
      assert.ok(prefixContains(V6, x.spec.clusterIP!), `${x.spec.clusterIP} in ${V6}`);
    }
    assert.equal(refusal(() => s.create('services', svc('d', { ipFamilyPolicy: 'RequireDualStack' }))).code, 422);
    assert.equal(refusal(() => s.create('services', svc('e', { ipFamilies: ['IPv4'] }))).code, 422);
  });
});

/** An in-memory runtime handing out an IPv4 and an IPv6 address per pod (IPv4 primary). */
class DualRuntime extends MemoryRuntime {
  constructor(prefix: string, private readonly prefix6: string, private readonly only6 = false) {
    super(prefix);
  }
  override async startPod(pod: PodSpecForRuntime): Promise<StartedPod> {
    const r = await super.startPod(pod);
    const v6 = `${this.prefix6}::${r.podIP.split('.').pop()}`;
    return this.only6 ? { ...r, podIP: v6, podIPs: [v6] } : { ...r, podIPs: [r.podIP, v6] };
  }
}

const DUAL_NODES = [
  { name: 'node-a', internalIP: '198.18.0.11', internalIPs: ['198.18.0.11', 'fd00:198:18::11'], podCIDR: '198.19.1.0/24', podCIDRs: ['198.19.1.0/24', 'fd00:198:19:1::/64'], zone: 'zone-a' },
  { name: 'node-b', internalIP: '198.18.0.12', internalIPs: ['198.18.0.12', 'fd00:198:18::12'], podCIDR: '198.19.2.0/24', podCIDRs: ['198.19.2.0/24', 'fd00:198:19:2::/64'], zone: 'zone-b' },
];

async function dualCluster(only6 = false) {
  const runtimes = new Map(DUAL_NODES.map((n, i) => [n.name, new DualRuntime(`198.19.${i + 1}`, `fd00:198:19:${i + 1}`, only6)]));
  const c = await startTestCluster({ nodes: DUAL_NODES, serviceCIDRs: [V4, V6], lbPools: ['198.18.64.0/24', 'fd00:198:18:64::/112'], runtimeFor: (n) => runtimes.get(n)! });
  return c;
}

const podOn = (node: string, name: string, app: string) => ({
  metadata: { name, labels: { app } },
  spec: { nodeName: node, containers: [{ name: 'whoami', image: 'switchyard/whoami', ports: [{ containerPort: 8080 }] }] },
});

const slicesOf = (c: { store: Store }, name: string): EndpointSlice[] =>
  c.store.peekList('endpointslices', { labelSelector: `kubernetes.io/service-name=${name}` });

describe('dual-stack nodes, pods and EndpointSlices', { timeout: 60_000 }, () => {
  test('Nodes list an InternalIP and a pod CIDR of each family; pods get podIPs and hostIPs of each family', async () => {
    const c = await dualCluster();
    try {
      const n = c.store.get('nodes', 'node-a') as Node;
      assert.deepEqual(n.status?.addresses?.filter((a) => a.type === 'InternalIP').map((a) => a.address), ['198.18.0.11', 'fd00:198:18::11']);
      assert.deepEqual(n.spec?.podCIDRs, ['198.19.1.0/24', 'fd00:198:19:1::/64']);
      c.store.create('pods', podOn('node-a', 'p1', 'web'));
      const [p] = await waitFor(c.store, 'pods', (ps) => ps.some((x) => (x.status?.podIPs ?? []).length === 2), { what: 'p1 with two podIPs' });
      const pod = p as Pod;
      assert.equal(pod.status?.podIP, pod.status?.podIPs?.[0]?.ip, 'podIP is the primary family');
      assert.ok(!pod.status!.podIPs![0]!.ip.includes(':') && pod.status!.podIPs![1]!.ip.startsWith('fd00:198:19:1::'));
      assert.deepEqual(pod.status?.hostIPs, [{ ip: '198.18.0.11' }, { ip: 'fd00:198:18::11' }]);
      assert.equal(pod.status?.hostIP, '198.18.0.11');
    } finally {
      await c.stop();
    }
  });

  test('one slice per family of the Service, addressType IPv4 / IPv6, named and labelled alike', async () => {
    const c = await dualCluster();
    try {
      c.store.create('services', { metadata: { name: 'web', labels: { team: 'net' } }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }], ipFamilyPolicy: 'PreferDualStack' } });
      c.store.create('services', { metadata: { name: 'web6' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }], ipFamilies: ['IPv6'] } });
      c.store.create('pods', podOn('node-a', 'p1', 'web'));
      c.store.create('pods', podOn('node-b', 'p2', 'web'));
      const ready = (ss: EndpointSlice[]): boolean => ss.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready).length === 2;
      const web = await waitFor(c.store, 'endpointslices', (ss) => ss.length === 2 && ss.every((s) => ready([s])), { labelSelector: 'kubernetes.io/service-name=web', what: 'two slices of web' });
      const byType = new Map(web.map((s) => [s.addressType, s]));
      assert.deepEqual([...byType.keys()].sort(), ['IPv4', 'IPv6']);
      const v4 = byType.get('IPv4')!.endpoints!.map((e) => e.addresses[0]!).sort();
      const v6 = byType.get('IPv6')!.endpoints!.map((e) => e.addresses[0]!).sort();
      assert.ok(v4.every((a) => prefixContains('198.19.0.0/16', a)), v4.join());
      assert.ok(v6.every((a) => prefixContains('fd00:198:19::/48', a)), v6.join());
      for (const s of web) {
        assert.match(s.metadata.name!, /^web-[a-z0-9]{5}$/, 'generateName "<service>-"');
        assert.equal(s.metadata.labels?.['kubernetes.io/service-name'], 'web');
        assert.equal(s.metadata.labels?.['endpointslice.kubernetes.io/managed-by'], 'endpointslice-controller.k8s.io');
        assert.equal(s.metadata.labels?.team, 'net');
        assert.deepEqual(s.ports, [{ name: '', port: 8080, protocol: 'TCP' }]);
      }
      // Each family's endpoint names the same pods.
      const pods = (s: EndpointSlice): string[] => (s.endpoints ?? []).map((e) => e.targetRef?.name ?? '').sort();
      assert.deepEqual(pods(byType.get('IPv4')!), pods(byType.get('IPv6')!));
      const web6 = await waitFor(c.store, 'endpointslices', (ss) => ss.length === 1 && ready(ss), { labelSelector: 'kubernetes.io/service-name=web6', what: 'web6 slice' });
      assert.equal(web6[0]?.addressType, 'IPv6', 'a SingleStack IPv6 Service has IPv6 slices only');
      // Downgrading to SingleStack removes the IPv6 slice.
      c.store.patch('services', 'web', { spec: { ipFamilyPolicy: 'SingleStack' } });
      const after = await waitFor(c.store, 'endpointslices', (ss) => ss.length === 1, { labelSelector: 'kubernetes.io/service-name=web', what: 'IPv4 slice only' });
      assert.equal(after[0]?.addressType, 'IPv4');
      assert.equal(slicesOf(c, 'web').length, 1);
    } finally {
      await c.stop();
    }
  });

  test('a dual-stack LoadBalancer Service gets an ingress address of each family, in ipFamilies order', async () => {
    const c = await dualCluster();
    try {
      c.store.create('services', { metadata: { name: 'lb' }, spec: { type: 'LoadBalancer', selector: { app: 'x' }, ports: [{ port: 80 }], ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'RequireDualStack' } });
      c.store.create('services', { metadata: { name: 'lb4' }, spec: { type: 'LoadBalancer', selector: { app: 'x' }, ports: [{ port: 80 }] } });
      const [lb] = await waitFor(c.store, 'services', (ss) => ss.some((x) => x.metadata.name === 'lb' && (x.status?.loadBalancer?.ingress ?? []).length === 2), { what: 'lb with two ingress IPs' })
        .then((ss) => ss.filter((x) => x.metadata.name === 'lb'));
      assert.deepEqual(lb?.status?.loadBalancer?.ingress, [{ ip: 'fd00:198:18:64::1', ipMode: 'VIP' }, { ip: '198.18.64.1', ipMode: 'VIP' }]);
      const [lb4] = await waitFor(c.store, 'services', (ss) => ss.some((x) => x.metadata.name === 'lb4' && (x.status?.loadBalancer?.ingress ?? []).length > 0), { what: 'lb4 ingress' })
        .then((ss) => ss.filter((x) => x.metadata.name === 'lb4'));
      assert.deepEqual(lb4?.status?.loadBalancer?.ingress, [{ ip: '198.18.64.2', ipMode: 'VIP' }], 'SingleStack: its one family only');
    } finally {
      await c.stop();
    }
  });

  test('a Service selecting nothing keeps one placeholder slice per family', async () => {
    const c = await dualCluster();
    try {
      c.store.create('services', { metadata: { name: 'empty' }, spec: { selector: { app: 'none' }, ports: [{ port: 80 }], ipFamilyPolicy: 'RequireDualStack' } });
      const ss = await waitFor(c.store, 'endpointslices', (x) => x.length === 2, { labelSelector: 'kubernetes.io/service-name=empty', what: 'two placeholders' });
      assert.deepEqual(ss.map((s) => s.addressType).sort(), ['IPv4', 'IPv6']);
      assert.ok(ss.every((s) => (s.endpoints ?? []).length === 0));
    } finally {
      await c.stop();
    }
  });
});
