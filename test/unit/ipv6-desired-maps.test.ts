// The eBPF maps of IPv6 and dual-stack Services (issue #16): the proxier
// computes one desired state per family (kube-proxy's meta-proxier), the
// builder gives IPv6 ServicePorts entries of their own (16-byte addresses,
// which the loader writes to sy_services6 / sy_backends6 / sy_revnat6 /
// sy_source_ranges6) with ids from the one id space, and IPv4 clusters are
// programmed exactly as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { pino } from 'pino';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { DesiredMapsBuilder, backendIdentity, parseSourceRange } from '../../control-plane/src/dataplane/ebpf/desired-maps.js';
import { diffMaps, type LoaderOp } from '../../control-plane/src/dataplane/ebpf/diff.js';
import { emptyMapsContent, type MapsContent } from '../../control-plane/src/dataplane/ebpf/maps-content.js';
import { computeDesiredState, desiredByFamily, type DesiredServicePort } from '../../control-plane/src/dataplane/desired-state.js';
import { ServiceTracker } from '../../control-plane/src/model/service-tracker.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import { SvcFlags, SY_SCOPE_EXTERNAL, SY_SCOPE_INTERNAL } from '../../control-plane/src/dataplane/ebpf/map-values.js';
import { Proxier, servedFamilies } from '../../control-plane/src/sync/proxier.js';
import type { Dataplane } from '../../control-plane/src/dataplane/dataplane.js';
import type { IPFamily } from '../../control-plane/src/util/ip.js';
import { nodePortAddressAllowed } from '../../control-plane/src/dataplane/ebpf/ebpf-dataplane.js';
import { ipv4ScenarioOps } from './ipv4-golden-scenario.js';
import * as trackerMod from '../../control-plane/src/model/service-tracker.js';
import * as cacheMod from '../../control-plane/src/model/endpoint-slice-cache.js';
import * as desiredMod from '../../control-plane/src/dataplane/desired-state.js';
import * as mapsMod from '../../control-plane/src/dataplane/ebpf/desired-maps.js';
import * as diffMod from '../../control-plane/src/dataplane/ebpf/diff.js';
import * as contentMod from '../../control-plane/src/dataplane/ebpf/maps-content.js';

const dual = ['IPv4', 'IPv6'] as const;
const NODE4 = '198.18.0.11', NODE6 = 'fd00:18::11';
const V4 = '198.18.128.10', V6 = 'fd00:10:96::a';

function svc(name: string, spec: Record<string, unknown>, status?: V1Service['status']): V1Service {
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name, namespace: 'default', creationTimestamp: new Date('2026-01-01T00:00:00Z') },
    spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, protocol: 'TCP' }], ...spec },
    ...(status ? { status } : {}),
  } as V1Service;
}
const v6svc = (name: string, spec: Record<string, unknown> = {}, status?: V1Service['status']) =>
  svc(name, { clusterIP: V6, clusterIPs: [V6], ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack', ...spec }, status);
const dualSvc = (name: string, spec: Record<string, unknown> = {}, status?: V1Service['status']) =>
  svc(name, { clusterIP: V4, clusterIPs: [V4, V6], ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack', ...spec }, status);

function slice(name: string, service: string, family: IPFamily, eps: Array<{ ip: string; node?: string; ready?: boolean }>, port = 8080): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: family,
    metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
    ports: [{ name: 'http', port, protocol: 'TCP' }],
    endpoints: eps.map((e) => ({ addresses: [e.ip], nodeName: e.node ?? 'node2', conditions: { ready: e.ready ?? true, serving: e.ready ?? true, terminating: false } })),
  };
}

/** What the proxier computes per family, as one list (IPv4 first): the model objects in, desired ports out. */
function desiredOf(families: readonly IPFamily[], services: V1Service[], slices: V1EndpointSlice[]): DesiredServicePort[] {
  const t = new ServiceTracker({ defaultAlgorithm: 'maglev', ipFamilies: families });
  for (const s of services) t.update(s);
  const c = new EndpointSliceCache('node1', { ipFamilies: families });
  for (const s of slices) c.update(s);
  return families.flatMap((f) => computeDesiredState(t.servicePorts(f), c.allEndpoints(f), { nodeName: 'node1', zone: '' }));
}

function builder(): DesiredMapsBuilder {
  const b = new DesiredMapsBuilder({ seed: 1, sizing: { floor: 251, ceiling: 131071 } });
  b.nodeAddresses = [NODE4];
  b.nodeIP = NODE4;
  b.nodeAddresses6 = [NODE6];
  b.nodeIP6 = NODE6;
  return b;
}

const isV6 = (a: string): boolean => a.includes(':');
const frontends = (m: MapsContent) => [...m.services.values()];
const addrLen = (op: LoaderOp): number | undefined => {
  const o = Object.values(op)[0] as { addr?: Uint8Array; key?: { addr: Uint8Array } };
  return (o.addr ?? o.key?.addr)?.length;
};

test('an IPv6 ClusterIP Service: service, reverse NAT and backends of IPv6 addresses; every op carries 16 bytes; no IPv4 entry', () => {
  const b = builder();
  const want = b.build(desiredOf(['IPv6'], [v6svc('web')], [slice('w6', 'web', 'IPv6', [{ ip: 'fd00:10:244:1::2' }, { ip: 'fd00:10:244:2::2' }])]));
  const fe = frontends(want);
  assert.equal(fe.length, 1);
  assert.deepEqual(fe[0]!.key, { addr: V6, port: 80, proto: 6, scope: SY_SCOPE_EXTERNAL });
  assert.equal(fe[0]!.value.flags, SvcFlags.CLUSTERIP);
  assert.equal(fe[0]!.value.count, 2);
  assert.deepEqual([...want.revnat.values()], [{ addr: V6, port: 80 }]);
  assert.deepEqual([...want.backends.values()].map((v) => v.addr).sort(), ['fd00:10:244:1::2', 'fd00:10:244:2::2']);
  const table = want.maglev.get(fe[0]!.value.group)!;
  assert.deepEqual(new Set(table), new Set(want.backends.keys()), 'the table holds the IPv6 backends');
  const { ops } = diffMaps(emptyMapsContent(), want);
  for (const op of ops) {
    const n = addrLen(op);
    if (n !== undefined) assert.equal(n, 16, `${Object.keys(op)[0]} carries an IPv6 address`);
  }
  const svcOp = ops.find((o) => o.upsertService)!.upsertService as { key: { addr: Uint8Array } };
  assert.deepEqual([...svcOp.key.addr], [0xfd, 0, 0, 0x10, 0, 0x96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a]);
});

test('IPv6 NodePort answers on the node\'s IPv6 address, with eTP=Local its internal twin; an IPv4 NodePort never gets the IPv6 address', () => {
  const b = builder();
  const spec = { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }] };
  const want = b.build(desiredOf(dual, [dualSvc('np', spec)], [
    slice('n4', 'np', 'IPv4', [{ ip: '198.19.1.5', node: 'node1' }, { ip: '198.19.2.5' }]),
    slice('n6', 'np', 'IPv6', [{ ip: 'fd00:10:244:1::5', node: 'node1' }, { ip: 'fd00:10:244:2::5' }]),
  ]));
  const np = frontends(want).filter((e) => e.value.flags & SvcFlags.NODEPORT);
  assert.deepEqual(np.map((e) => `${e.key.addr}/${e.key.scope}`).sort(), [`${NODE4}/0`, `${NODE4}/1`, `${NODE6}/0`, `${NODE6}/1`]);
  const ext6 = np.find((e) => e.key.addr === NODE6 && e.key.scope === SY_SCOPE_EXTERNAL)!;
  const int6 = np.find((e) => e.key.addr === NODE6 && e.key.scope === SY_SCOPE_INTERNAL)!;
  assert.ok(ext6.value.flags & SvcFlags.LOCAL_EXT);
  assert.equal(ext6.value.count, 1, 'eTP=Local: the local IPv6 endpoint only');
  assert.equal(int6.value.count, 2);
  const localTable = want.maglev.get(ext6.value.group)!;
  const localIds = new Set(localTable);
  assert.deepEqual([...localIds].map((id) => want.backends.get(id)!.addr), ['fd00:10:244:1::5']);
  // Without an IPv6 node address, IPv6 NodePorts are not programmed (IPv4 ones are).
  const b2 = builder();
  b2.nodeAddresses6 = [];
  const want2 = b2.build(desiredOf(dual, [dualSvc('np', spec)], []));
  assert.deepEqual(frontends(want2).filter((e) => e.value.flags & SvcFlags.NODEPORT).map((e) => e.key.addr), [NODE4]);
});

test('IPv6 ExternalIPs and LoadBalancer IPs, source ranges of IPv6 (host bits cleared) on the LB frontend', () => {
  const b = builder();
  const s = v6svc('lb', {
    type: 'LoadBalancer', externalIPs: ['fd00:200::1', '198.18.200.1'], loadBalancerSourceRanges: ['fd00:1:2:3::7/64', '198.18.0.0/24'],
    ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30081 }],
  }, { loadBalancer: { ingress: [{ ip: 'fd00:210::1' }, { ip: '198.18.210.1' }] } });
  const want = b.build(desiredOf(['IPv6'], [s], [slice('l6', 'lb', 'IPv6', [{ ip: 'fd00:10:244:2::7' }])]));
  const byKind = (flag: number) => frontends(want).filter((e) => e.value.flags & flag).map((e) => e.key.addr);
  assert.deepEqual(byKind(SvcFlags.EXTERNALIP), ['fd00:200::1'], 'the IPv4 external IP is not an IPv6 frontend');
  assert.deepEqual(byKind(SvcFlags.LOADBALANCER), ['fd00:210::1']);
  const lb = frontends(want).find((e) => e.value.flags & SvcFlags.LOADBALANCER)!;
  assert.ok(lb.value.flags & SvcFlags.SOURCE_RANGE);
  assert.deepEqual([...want.sourceRanges.values()], [{ frontendId: lb.value.id, addr: 'fd00:1:2:3::', prefixLen: 64 }]);
  assert.ok(frontends(want).every((e) => isV6(e.key.addr)), 'no IPv4 entry for an IPv6-only Service');
  const ops = diffMaps(emptyMapsContent(), want).ops.filter((o) => o.upsertSourceRange);
  assert.equal(ops.length, 1);
  assert.deepEqual(ops[0]!.upsertSourceRange, { frontendId: lb.value.id, addr: Uint8Array.from([0xfd, 0, 0, 1, 0, 2, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0]), prefixLen: 64 });
  // Parsing: bare IPv6 addresses are /128; nonsense is dropped.
  assert.deepEqual(parseSourceRange(' fd00::5 '), { addr: 'fd00::5', prefixLen: 128 });
  assert.equal(parseSourceRange('fd00::/129'), undefined);
});

test('a dual-stack Service: entries in both families with the same rules, separate tables and ids from one space', () => {
  const b = builder();
  const spec = { type: 'LoadBalancer', sessionAffinity: 'ClientIP', loadBalancerSourceRanges: ['198.18.0.0/24', 'fd00:1::/48'], ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30082 }] };
  const status = { loadBalancer: { ingress: [{ ip: '198.18.210.2' }, { ip: 'fd00:210::2' }] } };
  const want = b.build(desiredOf(dual, [dualSvc('d', spec, status)], [
    slice('d4', 'd', 'IPv4', [{ ip: '198.19.1.9' }, { ip: '198.19.2.9' }, { ip: '198.19.3.9' }]),
    slice('d6', 'd', 'IPv6', [{ ip: 'fd00:10:244:1::9' }, { ip: 'fd00:10:244:2::9' }, { ip: 'fd00:10:244:3::9' }]),
  ]));
  const fe = frontends(want);
  const v4 = fe.filter((e) => !isV6(e.key.addr)), v6 = fe.filter((e) => isV6(e.key.addr));
  // The same frontends by kind, the same flags, counts and table sizes.
  const shape = (l: typeof fe) => l.map((e) => `${e.value.flags}/${e.value.count}/${e.value.tableSize}/${e.value.affinityTimeout}/${e.key.port}/${e.key.scope}`).sort();
  assert.equal(v4.length, 3, 'ClusterIP, NodePort, LoadBalancer');
  assert.deepEqual(shape(v6), shape(v4));
  // Tables: one per family, each of its own family's backends.
  const g4 = new Set(v4.map((e) => e.value.group)), g6 = new Set(v6.map((e) => e.value.group));
  assert.equal(g4.size, 1);
  assert.equal(g6.size, 1);
  assert.notDeepEqual([...g4], [...g6]);
  for (const [groups, fam6] of [[g4, false], [g6, true]] as const) {
    for (const id of new Set(want.maglev.get([...groups][0]!)!)) assert.equal(isV6(want.backends.get(id)!.addr), fam6);
  }
  // Ids: unique across families.
  assert.equal(new Set(fe.map((e) => e.value.id)).size, fe.length);
  // Source ranges: each LB frontend gets its family's range only.
  const lb4 = v4.find((e) => e.value.flags & SvcFlags.LOADBALANCER)!, lb6 = v6.find((e) => e.value.flags & SvcFlags.LOADBALANCER)!;
  assert.deepEqual([...want.sourceRanges.values()].sort((a, b) => a.frontendId - b.frontendId),
    [{ frontendId: lb4.value.id, addr: '198.18.0.0', prefixLen: 24 }, { frontendId: lb6.value.id, addr: 'fd00:1::', prefixLen: 48 }].sort((a, b) => a.frontendId - b.frontendId));
  // Removing the IPv6 slice touches only the IPv6 entries.
  const after = b.build(desiredOf(dual, [dualSvc('d', spec, status)], [slice('d4', 'd', 'IPv4', [{ ip: '198.19.1.9' }, { ip: '198.19.2.9' }, { ip: '198.19.3.9' }])]));
  const { ops } = diffMaps(want, after);
  for (const op of ops) {
    const o = Object.values(op)[0] as { id?: number; key?: { addr: Uint8Array }; group?: number };
    if (o.key) assert.equal(o.key.addr.length, 16);
    if (op.deleteBackend) assert.ok(isV6(want.backends.get(o.id!)!.addr));
    if (op.deleteMaglev) assert.ok(g6.has(o.group!));
  }
  assert.ok(ops.some((o) => o.deleteMaglev) && ops.some((o) => o.deleteBackend));
});

test('single-family Services as kube-proxy: an IPv6-only Service has no IPv4 entries, an IPv4-only one no IPv6 entries, in a dual-stack proxier', () => {
  const b = builder();
  const want = b.build(desiredOf(dual, [
    v6svc('six', { type: 'NodePort', externalIPs: ['fd00:200::6'], ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30086 }] }),
    svc('four', { clusterIP: '198.18.128.4', clusterIPs: ['198.18.128.4'], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', type: 'NodePort', externalIPs: ['198.18.200.4'], ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30084 }] }),
  ], [
    slice('s6', 'six', 'IPv6', [{ ip: 'fd00:10:244:2::6' }]),
    slice('f4', 'four', 'IPv4', [{ ip: '198.19.2.4' }]),
    // A stray slice of the other family is never used by a single-family Service.
    slice('s4', 'six', 'IPv4', [{ ip: '198.19.2.66' }]),
    slice('f6', 'four', 'IPv6', [{ ip: 'fd00:10:244:2::44' }]),
  ]));
  const of = (name: string) => [...b.frontends].filter((f) => f.servicePort.startsWith(`default/${name}:`));
  assert.ok(of('six').length === 3 && of('six').every((f) => isV6(f.key.addr)), 'six: ClusterIP, NodePort, ExternalIP, all IPv6');
  assert.ok(of('four').length === 3 && of('four').every((f) => !isV6(f.key.addr)), 'four: all IPv4');
  assert.deepEqual([...want.backends.values()].map((v) => v.addr).sort(), ['198.19.2.4', 'fd00:10:244:2::6']);
});

test('IPv4-only programming is byte-identical to the build before IPv6 (recorded digest)', () => {
  const json = ipv4ScenarioOps({ ...trackerMod, ...cacheMod, ...desiredMod, ...mapsMod, ...diffMod, ...contentMod } as never);
  // Recorded with `DIST=<dist of commit 663e075> node test/unit/ipv4-golden-record.mjs`.
  assert.equal(createHash('sha256').update(json).digest('hex'), 'e32b85527fdd3f29e64ea9d0beef94b457c745004b1b1dbca0db9cdfd4ee7ebc');
});

test('backend identities: IPv6 in brackets (Maglev hashes them), IPv4 as before', () => {
  assert.equal(backendIdentity('198.19.1.2', 8080, 6), '198.19.1.2:8080/6');
  assert.equal(backendIdentity('fd00::1:80', 8080, 6), '[fd00::1:80]:8080/6');
});

test('nodePortAddresses per family, as kube-proxy: only the CIDRs of the address\'s family count; none of them allows all', () => {
  const v4c = (c: string, ip: string) => c.includes(':') ? false : ip.startsWith(c.split('.').slice(0, 2).join('.'));
  assert.equal(nodePortAddressAllowed(['fd00:18::/64'], NODE4, (c) => v4c(c, NODE4)), true, 'no IPv4 CIDR: every IPv4 address');
  assert.equal(nodePortAddressAllowed(['198.18.0.0/16', 'fd00:99::/64'], NODE6, () => false), false);
  assert.equal(nodePortAddressAllowed(['198.18.0.0/16'], NODE6, () => false), true, 'no IPv6 CIDR: every IPv6 address');
  assert.equal(nodePortAddressAllowed(['primary'], NODE6, () => false), true);
});

/** A back end that records what it is handed. */
function recorder(ipFamilies?: readonly IPFamily[]): Dataplane & { seen: DesiredServicePort[][] } {
  const seen: DesiredServicePort[][] = [];
  return {
    mode: ipFamilies ? 'ebpf' : 'iptables',
    ...(ipFamilies ? { capabilities: { partialSync: false, conntrackGC: false, ipFamilies } } : {}),
    seen,
    async init() {},
    async close() {},
    async sync(desired) {
      seen.push(desired);
      return { changes: 0, detail: {} };
    },
  };
}

test('the proxier computes one desired state per served family; a back end without IPv6 gets IPv4 only', async () => {
  const t = new ServiceTracker({ defaultAlgorithm: 'maglev', ipFamilies: dual });
  const c = new EndpointSliceCache('node1', { ipFamilies: dual });
  t.update(dualSvc('d'));
  t.update(v6svc('six'));
  c.update(slice('d4', 'd', 'IPv4', [{ ip: '198.19.1.9' }]));
  c.update(slice('d6', 'd', 'IPv6', [{ ip: 'fd00:10:244:1::9' }]));
  c.update(slice('s6', 'six', 'IPv6', [{ ip: 'fd00:10:244:1::6' }]));
  const run = async (dp: ReturnType<typeof recorder>, families: readonly IPFamily[]) => {
    const p = new Proxier(t, c, dp, () => ({ nodeName: 'node1', zone: '' }), { minSyncPeriodMs: 0, syncPeriodMs: 3_600_000, ipFamilies: families }, pino({ level: 'silent' }));
    p.start();
    try {
      await p.waitForSync();
    } finally {
      p.stop();
    }
    return p;
  };
  const both = recorder(['IPv4', 'IPv6']);
  const p = await run(both, dual);
  assert.deepEqual(p.ipFamilies, ['IPv4', 'IPv6']);
  const got = both.seen.at(-1)!;
  assert.deepEqual(got.map((d) => `${d.svc.name.name}/${d.svc.family ?? 'IPv4'}/${d.svc.clusterIP}/${d.allEndpoints.map((e) => e.ip).join(',')}`), [
    `d/IPv4/${V4}/198.19.1.9`, `d/IPv6/${V6}/fd00:10:244:1::9`, `six/IPv6/${V6}/fd00:10:244:1::6`,
  ]);
  assert.deepEqual([...desiredByFamily(got).keys()], ['IPv4', 'IPv6']);
  assert.equal(p.desiredOf('IPv6').length, 2);
  // An iptables-like back end (no ipFamilies capability): IPv4 only.
  const v4only = recorder();
  const q = await run(v4only, dual);
  assert.deepEqual(q.ipFamilies, ['IPv4']);
  assert.deepEqual(v4only.seen.at(-1)!.map((d) => d.svc.family ?? 'IPv4'), ['IPv4']);
  assert.deepEqual(servedFamilies(['IPv6'], v4only), []);
  assert.deepEqual(servedFamilies(undefined, both), ['IPv4']);
});
