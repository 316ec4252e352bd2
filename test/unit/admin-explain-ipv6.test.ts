// explain and the single-flow conntrack query for IPv6 tuples: they read the
// IPv6 twins (sy_services6, sy_conntrack6, sy_affinity6, sy_source_ranges6,
// sy_backends6, sy_revnat6, sy_config6) as sy_lb6_decide() does, with the
// IPv6 flow hash (each address folded to one word, docs/maps.md "The flow hash").
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import type { FastifyInstance } from 'fastify';
import { buildAdminApp } from '../../control-plane/src/admin/server.js';
import { explainFlow, readExplainState, type ExplainInput } from '../../control-plane/src/admin/explain.js';
import { computeDesiredState, type DesiredServicePort } from '../../control-plane/src/dataplane/desired-state.js';
import { DesiredMapsBuilder } from '../../control-plane/src/dataplane/ebpf/desired-maps.js';
import {
  affinityKey6Codec, affinityValueCodec, backend6Codec, config6Codec, ctKey6Codec, ctValue6Codec, encodeU32, revNat6Codec, sourceRangeKey6Codec,
  svcKey6Codec, svcValueCodec, type SvcKey, type SvcValue,
} from '../../control-plane/src/dataplane/ebpf/map-values.js';
import { jhash3words } from '../../control-plane/src/dataplane/flow-hash.js';
import { ProxyMetrics } from '../../control-plane/src/metrics/proxy-metrics.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import { ServiceTracker } from '../../control-plane/src/model/service-tracker.js';
import { FakeLoader, FakeSync, SEED, ebpfSource, encConfig, encTable, u32 } from './admin-fake.js';

const CLUSTER_IP = 'fd00:198:18:128::1';
const LB_IP = 'fd00:198:18:200::5';
const NODE6 = 'fd00:198:18::11';
const dual = ['IPv4', 'IPv6'] as const;

const svc = (name: string, spec: Partial<NonNullable<V1Service['spec']>>, status?: V1Service['status']): V1Service => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' },
  spec: { ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack', ports: [{ name: 'http', port: 80, protocol: 'TCP' }], ...spec },
  ...(status ? { status } : {}),
});
const slice6 = (name: string, service: string, eps: Array<[string, string]>): V1EndpointSlice => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv6',
  metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints: eps.map(([ip, node]) => ({ addresses: [ip], nodeName: node, conditions: { ready: true } })),
});

const SERVICES = [
  svc('web', { type: 'ClusterIP', clusterIP: CLUSTER_IP, clusterIPs: [CLUSTER_IP] }),
  svc('sticky', { type: 'ClusterIP', clusterIP: 'fd00:198:18:128::2', clusterIPs: ['fd00:198:18:128::2'], sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 100 } } }),
  svc('lb', {
    type: 'LoadBalancer', clusterIP: 'fd00:198:18:128::3', clusterIPs: ['fd00:198:18:128::3'], loadBalancerSourceRanges: ['fd00:198:19::/48'],
    ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }],
  }, { loadBalancer: { ingress: [{ ip: LB_IP }] } }),
];
const BACKENDS: Array<[string, string]> = [['fd00:10:244:1::2', 'node1'], ['fd00:10:244:1::3', 'node1'], ['fd00:10:244:2::2', 'node2']];

function desired(): DesiredServicePort[] {
  const t = new ServiceTracker({ defaultAlgorithm: 'maglev', ipFamilies: dual });
  for (const s of SERVICES) t.update(s);
  const c = new EndpointSliceCache('node1', { ipFamilies: dual });
  for (const s of SERVICES) c.update(slice6(`${s.metadata!.name}-1`, s.metadata!.name!, BACKENDS));
  return computeDesiredState(t.servicePorts('IPv6'), c.allEndpoints('IPv6'), { nodeName: 'node1', zone: '' });
}

/** The IPv6 maps as a sync writes them, in a fake loader with each twin's real key and value sizes. */
function programIPv6(loader: FakeLoader, d: DesiredServicePort[]) {
  const b = new DesiredMapsBuilder({ seed: SEED, sizing: { floor: 251, ceiling: 131071 } });
  b.nodeAddresses6 = [NODE6];
  const c = b.build(d);
  const def = (name: string, type: string, k: number, v: number) => loader.define(name, [type, k, v, 65536]);
  def('sy_services6', 'hash', 20, 20); def('sy_backends6', 'hash', 4, 28); def('sy_revnat6', 'hash', 4, 20);
  def('sy_conntrack6', 'lru_hash', 40, 40); def('sy_affinity6', 'lru_hash', 20, 16); def('sy_source_ranges6', 'lpm_trie', 24, 1);
  def('sy_config6', 'array', 4, 48);
  loader.set('sy_services6', [...c.services.values()].map((e) => ({ key: svcKey6Codec.encode(e.key), value: svcValueCodec.encode(e.value) })));
  loader.set('sy_backends6', [...c.backends].map(([id, be]) => ({ key: encodeU32(id), value: backend6Codec.encode(be) })));
  loader.set('sy_revnat6', [...c.revnat].map(([id, r]) => ({ key: encodeU32(id), value: revNat6Codec.encode(r) })));
  loader.set('sy_maglev', [...c.maglev].map(([g, t]) => ({ key: u32(g), value: encTable(t) })));
  loader.set('sy_source_ranges6', [...c.sourceRanges.values()].map((r) => ({
    key: sourceRangeKey6Codec.encode({ prefixlen: 32 + r.prefixLen, frontendId: r.frontendId, addr: r.addr }), value: new Uint8Array([1]),
  })));
  loader.set('sy_config', [{ key: u32(0), value: encConfig(SEED, '198.18.0.11') }]);
  loader.set('sy_config6', [{ key: u32(0), value: config6Codec.encode({ nodeAddr: NODE6, svcNet: '::', svcMask: '::' }) }]);
  const frontends = [...c.services.values()] as Array<{ key: SvcKey; value: SvcValue }>;
  return { c, fe: (addr: string, scope = 0) => frontends.find((f) => f.key.addr === addr && f.key.scope === scope)! };
}

/** The IPv6 fold of docs/maps.md, written from the text there (not flow-hash.ts): XOR of the four big-endian words. */
function fold(addr: string): number {
  const groups = addr.split('::');
  const head = groups[0] ? groups[0].split(':') : [], tail = groups.length > 1 && groups[1] ? groups[1].split(':') : [];
  const all = [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail].map((g) => parseInt(g, 16));
  let w = 0;
  for (let i = 0; i < 8; i += 2) w ^= ((all[i]! << 16) | all[i + 1]!) >>> 0;
  return w >>> 0;
}

const base = (d: DesiredServicePort[]) => ({ seed: SEED, desired: d, clusterCIDR6: 'fd00:10:244::/48' });

describe('explain, IPv6', () => {
  const d = desired();
  const loader = new FakeLoader();
  const { c, fe } = programIPv6(loader, d);
  const explain = async (t: ExplainInput) => explainFlow(t, await readExplainState(loader, base(d), t));

  test('a new flow: the IPv6 flow hash mod M indexes the table, for 200 tuples; Service and backend named', async () => {
    const f = fe(CLUSTER_IP);
    const table = c.maglev.get(f.value.group)!;
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const src = `fd00:10:244:${1 + (i % 3)}::${(10 + i).toString(16)}`;
      const t = { src, sport: 20000 + i * 97, dst: CLUSTER_IP, dport: 80, proto: 6 };
      const r = await explain(t);
      const ports = ((t.sport << 16) | 80) >>> 0;
      const slot = jhash3words(fold(src), fold(CLUSTER_IP), ports, (SEED + 6) >>> 0) % f.value.tableSize;
      assert.equal(r.tuple.family, 'IPv6');
      assert.equal(r.from, 'pod');
      assert.equal(r.verdict, 'dnat');
      assert.equal(r.decidedBy, 'maglev');
      assert.equal(r.maglev?.slot, slot, src);
      assert.equal(r.backend?.id, table[slot]);
      assert.equal(r.service, 'default/web:http');
      assert.deepEqual(r.nat.dnat, { from: `[${CLUSTER_IP}]:80`, to: `[${r.backend!.address}]:8080` });
      assert.equal(r.nat.snat, null, 'a pod to a ClusterIP is not SNATed');
      seen.add(r.backend!.id);
    }
    assert.equal(seen.size, 3);
  });

  test('a conntrack6 FORWARD entry keeps its backend; a REPLY entry is reverse-NATed', async () => {
    const f = fe(CLUSTER_IP);
    const be = [...c.backends].find(([, b]) => b.addr === 'fd00:10:244:2::2')!;
    const now = process.hrtime.bigint();
    const client = 'fd00:10:244:1::99';
    loader.set('sy_conntrack6', [
      { key: ctKey6Codec.encode({ saddr: client, daddr: CLUSTER_IP, sport: 40000, dport: 80, proto: 6, dir: 0 }), value: ctValue6Codec.encode({ lastSeen: now, backendId: be[0], revNatId: f.value.id, flags: 0 }) },
      { key: ctKey6Codec.encode({ saddr: be[1].addr, daddr: client, sport: 8080, dport: 40000, proto: 6, dir: 1 }), value: ctValue6Codec.encode({ lastSeen: now, backendId: be[0], revNatId: f.value.id, flags: 0 }) },
    ]);
    try {
      const r = await explain({ src: client, sport: 40000, dst: CLUSTER_IP, dport: 80, proto: 6 });
      assert.equal(r.decidedBy, 'conntrack');
      assert.equal(r.conntrack.overrides, true);
      assert.equal(r.backend?.address, 'fd00:10:244:2::2');
      const rep = await explain({ src: be[1].addr, sport: 8080, dst: client, dport: 40000, proto: 6 });
      assert.equal(rep.verdict, 'reverse-nat');
      assert.deepEqual(rep.nat.reverse, { source: `[${CLUSTER_IP}]:80`, destination: null });
    } finally {
      loader.set('sy_conntrack6', []);
    }
  });

  test('ClientIP affinity reads sy_affinity6', async () => {
    const f = fe('fd00:198:18:128::2');
    const client = 'fd00:10:244:1::77';
    const target = [...c.backends].find(([, b]) => b.addr === 'fd00:10:244:1::3')!;
    loader.set('sy_affinity6', [{
      key: affinityKey6Codec.encode({ client, group: f.value.group }),
      value: affinityValueCodec.encode({ lastUsed: process.hrtime.bigint() - 2_000_000_000n, backendId: target[0] }),
    }]);
    try {
      const r = await explain({ src: client, sport: 41000, dst: 'fd00:198:18:128::2', dport: 80, proto: 6 });
      assert.equal(r.decidedBy, 'affinity');
      assert.equal(r.backend?.address, 'fd00:10:244:1::3');
      assert.equal(r.maglev?.sportHashed, 0);
      assert.equal(r.service, 'default/sticky:http');
    } finally {
      loader.set('sy_affinity6', []);
    }
  });

  test('LoadBalancer: sy_source_ranges6 admit or drop; from outside a remote backend is SNATed to sy_config6.node_addr', async () => {
    const f = fe(LB_IP);
    assert.ok(f, 'an IPv6 LoadBalancer frontend');
    const out = await explain({ src: 'fd00:198:20::1', sport: 5000, dst: LB_IP, dport: 80, proto: 6 });
    assert.equal(out.from, 'external');
    assert.equal(out.verdict, 'drop');
    assert.deepEqual(out.sourceRanges, { ranges: ['fd00:198:19::/48'], allowed: false });
    // Source ports until one lands on node2's backend (remote: SNATed).
    let remote;
    for (let sport = 5000; sport < 5200 && !remote; sport++) {
      const r = await explain({ src: 'fd00:198:19::1', sport, dst: LB_IP, dport: 80, proto: 6 });
      assert.equal(r.sourceRanges?.allowed, true);
      assert.equal(r.service, 'default/lb:http');
      if (r.backend?.address === 'fd00:10:244:2::2') remote = r;
    }
    assert.ok(remote);
    assert.match(remote.nat.snat!.to, /^\[fd00:198:18::11\]:\d+$/);
  });

  test('the admin route: bracketed and uncanonical IPv6, mixed families and bad addresses are a counted 400', async () => {
    const metrics = new ProxyMetrics({ mode: 'ebpf', modeReason: 'test', loader });
    const sync = new FakeSync();
    sync.lastDesired = d;
    const app: FastifyInstance = await buildAdminApp({ source: ebpfSource(loader, sync, { clusterCIDR6: 'fd00:10:244::/48' }), metrics });
    try {
      const ok = await app.inject(`/v1/explain?src=${encodeURIComponent('[FD00:10:244:1:0:0:0:5]')}&dst=${encodeURIComponent('[fd00:198:18:128:0::1]')}&dport=80&sport=1234`);
      assert.equal(ok.statusCode, 200, ok.body);
      const body = ok.json();
      assert.equal(body.tuple.src, 'fd00:10:244:1::5');
      assert.equal(body.tuple.dst, CLUSTER_IP);
      assert.equal(body.service, 'default/web:http');
      assert.match(body.backend.address, /^fd00:10:244:/);
      const bad: Array<[string, RegExp]> = [
        [`/v1/explain?src=198.19.1.5&dst=${CLUSTER_IP}&dport=80`, /"src" \(198.19.1.5\) and "dst" \(fd00:198:18:128::1\) must be of one IP family/],
        ['/v1/explain?src=fd00::zz&dst=fd00::1&dport=80', /"src" must be an IPv4 or IPv6 address \(got "fd00::zz"\)/],
        ['/v1/explain?src=fd00::1%25eth0&dst=fd00::2&dport=80', /"src" must be an IPv4 or IPv6 address/],
        ['/v1/conntrack?saddr=fd00::1&daddr=198.18.0.1&sport=1&dport=80', /"saddr" \(fd00::1\) and "daddr" \(198.18.0.1\) must be of one IP family/],
      ];
      for (const [url, re] of bad) {
        const r = await app.inject(url);
        assert.equal(r.statusCode, 400, url);
        assert.match(r.json().message, re, url);
      }
      const m = await metrics.metrics();
      const rejected = [...m.matchAll(/^switchyard_admin_rejected_requests_total\{[^}]*code="400"\} (\d+)$/gm)].reduce((n, x) => n + Number(x[1]), 0);
      assert.equal(rejected, bad.length);
    } finally {
      await app.close();
    }
  });
});

describe('single-flow /v1/conntrack, IPv6', () => {
  const d = desired();
  const loader = new FakeLoader();
  const { c, fe } = programIPv6(loader, d);
  let app: FastifyInstance;
  before(async () => {
    const sync = new FakeSync();
    sync.lastDesired = d;
    app = await buildAdminApp({ source: ebpfSource(loader, sync), metrics: new ProxyMetrics({ mode: 'ebpf', modeReason: 'test', loader }) });
  });
  after(() => app.close());

  test('an IPv6 5-tuple returns both sy_conntrack6 entries, decoded, with Service and backend (a SNATed flow too)', async () => {
    const f = fe(LB_IP);
    const be = [...c.backends].find(([, b]) => b.addr === 'fd00:10:244:2::2')!;
    const now = process.hrtime.bigint();
    const client = 'fd00:198:19::1';
    loader.set('sy_conntrack6', [
      { key: ctKey6Codec.encode({ saddr: client, daddr: LB_IP, sport: 5001, dport: 80, proto: 6, dir: 0 }), value: ctValue6Codec.encode({ lastSeen: now, backendId: be[0], revNatId: f.value.id, flags: 0x4, natAddr: NODE6, natPort: 40001 }) },
      { key: ctKey6Codec.encode({ saddr: be[1].addr, daddr: NODE6, sport: 8080, dport: 40001, proto: 6, dir: 1 }), value: ctValue6Codec.encode({ lastSeen: now, backendId: be[0], revNatId: f.value.id, flags: 0x4, natAddr: client, natPort: 5001 }) },
      // Another flow, never returned.
      { key: ctKey6Codec.encode({ saddr: 'fd00:198:19::2', daddr: LB_IP, sport: 5001, dport: 80, proto: 6, dir: 0 }), value: ctValue6Codec.encode({ lastSeen: now, backendId: be[0], revNatId: f.value.id, flags: 0 }) },
    ]);
    for (const q of [`saddr=${client}&daddr=${LB_IP}&sport=5001&dport=80`, `saddr=[${be[1].addr}]&daddr=${NODE6}&sport=8080&dport=40001&dir=reply`]) {
      const r = await app.inject(`/v1/conntrack?${q.replace(/\[|\]/g, encodeURIComponent)}`);
      assert.equal(r.statusCode, 200, r.body);
      const items = r.json().items as Array<Record<string, unknown>>;
      assert.equal(items.length, 2, q);
      const fwd = items.find((i) => i.dir === 'forward')!, rep = items.find((i) => i.dir === 'reply')!;
      assert.equal(fwd.client, client);
      assert.equal(fwd.frontend, `[${LB_IP}]:80`);
      assert.equal(fwd.backend, '[fd00:10:244:2::2]:8080');
      assert.equal(fwd.service, 'default/lb:http');
      assert.match(String(fwd.nat), /fd00:198:18::11/);
      assert.equal(rep.backend, '[fd00:10:244:2::2]:8080');
      assert.equal(rep.service, 'default/lb:http');
    }
    // No such flow: empty, not an error; the IPv4 map is not read for an IPv6 key.
    loader.reads.length = 0;
    const none = await app.inject(`/v1/conntrack?saddr=fd00:198:19::9&daddr=${LB_IP}&sport=5001&dport=80`);
    assert.equal(none.json().total, 0);
    assert.ok(!loader.reads.some((r) => /sy_conntrack /.test(r) || r.endsWith('sy_conntrack')), loader.reads.join(', '));
  });
});

describe('metrics, IPv6', () => {
  test('switchyard_map_entries counts the IPv6 twins apart: sy_services6, sy_backends6, sy_revnat6 from what was programmed, sy_conntrack6 from the loader', async () => {
    const d = desired();
    const loader = new FakeLoader();
    const { c } = programIPv6(loader, d);
    loader.set('sy_conntrack6', [
      { key: ctKey6Codec.encode({ saddr: 'fd00:10:244:1::9', daddr: CLUSTER_IP, sport: 1, dport: 80, proto: 6, dir: 0 }), value: ctValue6Codec.encode({ lastSeen: 1n, backendId: 1, revNatId: 1, flags: 0 }) },
    ]);
    const m = new ProxyMetrics({ mode: 'ebpf', modeReason: 'test', loader, desired: () => d, programmed: () => c });
    const t = await m.metrics();
    const v6 = [...c.services.values()].filter((e) => e.key.addr.includes(':')).length;
    assert.ok(v6 >= 4, `IPv6 frontends programmed: ${v6}`);
    assert.match(t, new RegExp(`switchyard_map_entries\\{map="sy_services6"\\} ${v6}\\b`));
    assert.match(t, /switchyard_map_entries\{map="sy_services"\} 0\b/);
    assert.match(t, new RegExp(`switchyard_map_entries\\{map="sy_backends6"\\} ${c.backends.size}\\b`));
    assert.match(t, new RegExp(`switchyard_map_entries\\{map="sy_revnat6"\\} ${c.revnat.size}\\b`));
    assert.match(t, /switchyard_map_entries\{map="sy_conntrack6"\} 1\b/);
  });
});
