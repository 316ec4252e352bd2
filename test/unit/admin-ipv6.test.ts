// The admin API's views of the IPv6 maps: the services/backends snapshot
// reads the *6 twins, and conntrack rows of sy_conntrack6 name their IPv6
// backend, frontend and Service (looked up in sy_backends6/sy_revnat6/sy_services6).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { ebpfServices, readSnapshot } from '../../control-plane/src/admin/ebpf-view.js';
import { conntrackRows, conntrackSnapshot } from '../../control-plane/src/admin/conntrack-view.js';
import type { LoaderView } from '../../control-plane/src/admin/source.js';
import { computeDesiredState } from '../../control-plane/src/dataplane/desired-state.js';
import { DesiredMapsBuilder } from '../../control-plane/src/dataplane/ebpf/desired-maps.js';
import type { MapEntry } from '../../control-plane/src/dataplane/ebpf/loader-client.js';
import {
  backend6Codec, backendCodec, ctKey6Codec, ctValue6Codec, encodeU32, revNat6Codec, revNatCodec, svcKey6Codec, svcKeyCodec, svcValueCodec,
} from '../../control-plane/src/dataplane/ebpf/map-values.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import { ServiceTracker } from '../../control-plane/src/model/service-tracker.js';

const dual = ['IPv4', 'IPv6'] as const;
const svc: V1Service = {
  apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' },
  spec: { type: 'ClusterIP', clusterIP: '198.18.128.10', clusterIPs: ['198.18.128.10', 'fd00:10:96::a'], ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
};
const slice = (name: string, family: 'IPv4' | 'IPv6', ip: string): V1EndpointSlice => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: family,
  metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], endpoints: [{ addresses: [ip], nodeName: 'node2', conditions: { ready: true } }],
});

test('the admin snapshot and conntrack rows show IPv6 frontends, backends and flows', async () => {
  const t = new ServiceTracker({ defaultAlgorithm: 'maglev', ipFamilies: dual });
  t.update(svc);
  const c = new EndpointSliceCache('node1', { ipFamilies: dual });
  c.update(slice('w4', 'IPv4', '198.19.1.2'));
  c.update(slice('w6', 'IPv6', 'fd00:10:244:1::2'));
  const desired = dual.flatMap((f) => computeDesiredState(t.servicePorts(f), c.allEndpoints(f), { nodeName: 'node1', zone: '' }));
  const content = new DesiredMapsBuilder({ seed: 1, sizing: { floor: 251, ceiling: 131071 } }).build(desired);
  // The maps as the loader holds them: each entry in its family's map.
  const maps = new Map<string, MapEntry[]>();
  const put = (m: string, key: Uint8Array, value: Uint8Array) => (maps.get(m) ?? maps.set(m, []).get(m)!).push({ key, value });
  for (const { key, value } of content.services.values()) {
    if (key.addr.includes(':')) put('sy_services6', svcKey6Codec.encode(key), svcValueCodec.encode(value));
    else put('sy_services', svcKeyCodec.encode(key), svcValueCodec.encode(value));
  }
  for (const [id, b] of content.backends) put(b.addr.includes(':') ? 'sy_backends6' : 'sy_backends', encodeU32(id), (b.addr.includes(':') ? backend6Codec : backendCodec).encode(b));
  for (const [id, r] of content.revnat) put(r.addr.includes(':') ? 'sy_revnat6' : 'sy_revnat', encodeU32(id), (r.addr.includes(':') ? revNat6Codec : revNatCodec).encode(r));
  const fe6 = [...content.services.values()].find((e) => e.key.addr.includes(':'))!;
  const be6 = [...content.backends].find(([, b]) => b.addr.includes(':'))!;
  put('sy_conntrack6', ctKey6Codec.encode({ saddr: 'fd00:10:244:2::9', daddr: 'fd00:10:96::a', sport: 40000, dport: 80, proto: 6, dir: 0 }),
    ctValue6Codec.encode({ lastSeen: 1n, backendId: be6[0], revNatId: fe6.value.id, flags: 0x21 }));
  const find = (m: string, k: Uint8Array) => maps.get(m)?.find((e) => Buffer.from(e.key).equals(Buffer.from(k)))?.value;
  const loader: LoaderView = {
    async dump(map) {
      const entries = maps.get(map) ?? [];
      return { info: { name: map, type: 'hash', keySize: 0, valueSize: 0, maxEntries: 1024, entries: entries.length, pinPath: '', id: 1 }, entries };
    },
    async lookup(map, keys) {
      return keys.map((k) => find(map, k));
    },
    async status() {
      return {};
    },
  };
  const snap = await readSnapshot(loader);
  assert.deepEqual(snap.frontends.map((f) => f.key.addr).sort(), ['198.18.128.10', 'fd00:10:96::a']);
  assert.deepEqual([...snap.backends.values()].map((b) => b.addr).sort(), ['198.19.1.2', 'fd00:10:244:1::2']);
  const entries = maps.get('sy_conntrack6')!;
  const ctSnap = await conntrackSnapshot(loader, entries, 'IPv6');
  const rows = conntrackRows(entries, ctSnap, desired, 2n, 'IPv6');
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.client, 'fd00:10:244:2::9');
  assert.equal(rows[0]!.frontend, '[fd00:10:96::a]:80');
  assert.equal(rows[0]!.backend, '[fd00:10:244:1::2]:8080');
  assert.equal(rows[0]!.backendState, 'active');
  assert.equal(rows[0]!.service, 'default/web:http');
  assert.equal(rows[0]!.dir, 'forward');
});

test('a dual-stack ServicePort is one /v1/services row with both families\' frontends, backends and problems', async () => {
  const t = new ServiceTracker({ defaultAlgorithm: 'maglev', ipFamilies: dual });
  t.update(svc);
  const c = new EndpointSliceCache('node1', { ipFamilies: dual });
  c.update(slice('w4', 'IPv4', '198.19.1.2'));
  c.update(slice('w6', 'IPv6', 'fd00:10:244:1::2'));
  // The IPv4 family carries a problem (as a lost frontend or a refused annotation would); the IPv6 one none.
  const desired = dual.flatMap((f) => computeDesiredState(t.servicePorts(f), c.allEndpoints(f), { nodeName: 'node1', zone: '' })
    .map((d) => (f === 'IPv4' ? { ...d, svc: { ...d.svc, tableSizeAnnotation: { refused: 'the IPv4 family\'s problem' } } } as typeof d : d)));
  const content = new DesiredMapsBuilder({ seed: 1, sizing: { floor: 251, ceiling: 131071 } }).build(desired);
  const snap = {
    frontends: [...content.services.values()], backends: content.backends, maglev: content.maglev, sourceRanges: [],
  } as unknown as Parameters<typeof ebpfServices>[0];
  const rows = ebpfServices(snap, desired).filter((r) => r.name === 'default/web:http');
  assert.equal(rows.length, 1, 'one row for the ServicePort');
  assert.deepEqual(rows[0]!.frontends.map((f) => f.address).sort(), ['198.18.128.10', 'fd00:10:96::a']);
  assert.deepEqual(rows[0]!.backends.map((b) => `${b.address} ${b.state}`).sort(), ['198.19.1.2 active', 'fd00:10:244:1::2 active']);
  assert.ok(rows[0]!.problems.includes('the IPv4 family\'s problem'), JSON.stringify(rows[0]!.problems));
});
