// The eBPF dataplane with both families against an in-memory loader that
// routes ops by address length as the real one does (loader/src/apply.c):
// SetConfig carries the IPv6 node address and Service CIDR, a dual-stack
// sync fills the *6 maps, and an agent restart restores the IPv6 entries'
// ids from the maps (its first sync then changes nothing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { EbpfDataplane, PRESSURE_CHECK_DELAY_MS } from '../../control-plane/src/dataplane/ebpf/ebpf-dataplane.js';
import { OpType } from '../../control-plane/src/dataplane/ebpf/loader-protocol.js';
import { DEFAULT_MAGLEV_SIZING } from '../../control-plane/src/dataplane/maglev.js';
import { computeDesiredState } from '../../control-plane/src/dataplane/desired-state.js';
import {
  backend6Codec, backendCodec, encodeU32, revNat6Codec, revNatCodec, sourceRangeKey6Codec, sourceRangeKeyCodec, svcKey6Codec, svcKeyCodec, svcValueCodec,
} from '../../control-plane/src/dataplane/ebpf/map-values.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import { ServiceTracker } from '../../control-plane/src/model/service-tracker.js';
import { formatIP } from '../../control-plane/src/util/ip.js';

type Loader = ConstructorParameters<typeof EbpfDataplane>[0];
type Op = Record<string, Record<string, unknown>>;

/** Maps as the loader holds them, written by apply ops as loader/src/apply.c writes them. */
class MemLoader {
  readonly maps = new Map<string, Map<string, { key: Uint8Array; value: Uint8Array }>>();
  readonly configs: Array<Record<string, unknown>> = [];
  private m(name: string) {
    return this.maps.get(name) ?? this.maps.set(name, new Map()).get(name)!;
  }
  private put(name: string, key: Uint8Array, value: Uint8Array) {
    this.m(name).set(Buffer.from(key).toString('hex'), { key, value });
  }
  private del(name: string, key: Uint8Array) {
    this.m(name).delete(Buffer.from(key).toString('hex'));
  }
  async apply(ops: Op[]) {
    for (const o of ops) {
      // (A table is a Uint32Array, which verify() does not take but the encoder does.)
      if (!o.setMaglev) assert.equal(OpType.verify(o), null, 'the op fits loader.proto');
      const [kind, a] = Object.entries(o)[0]!;
      const addr = (x: unknown) => formatIP(x as Uint8Array);
      const six = (x: unknown) => (x as Uint8Array).length === 16;
      switch (kind) {
        case 'upsertBackend': this.put(six(a.addr) ? 'sy_backends6' : 'sy_backends', encodeU32(a.id as number), (six(a.addr) ? backend6Codec : backendCodec).encode({ ...a, addr: addr(a.addr) } as never)); break;
        case 'deleteBackend': for (const n of ['sy_backends', 'sy_backends6']) this.del(n, encodeU32(a.id as number)); break;
        case 'upsertRevnat': this.put(six(a.addr) ? 'sy_revnat6' : 'sy_revnat', encodeU32(a.id as number), (six(a.addr) ? revNat6Codec : revNatCodec).encode({ addr: addr(a.addr), port: a.port as number })); break;
        case 'deleteRevnat': for (const n of ['sy_revnat', 'sy_revnat6']) this.del(n, encodeU32(a.id as number)); break;
        case 'setMaglev': {
          const ids = a.backendIds as ArrayLike<number>;
          const b = Buffer.alloc(ids.length * 4);
          for (let i = 0; i < ids.length; i++) b.writeUInt32LE(ids[i]!, i * 4);
          this.put('sy_maglev', encodeU32(a.group as number), b);
          break;
        }
        case 'deleteMaglev': this.del('sy_maglev', encodeU32(a.group as number)); break;
        case 'upsertService': case 'deleteService': {
          const k = a.key as { addr: Uint8Array; port: number; proto: number; scope: number };
          const key = (six(k.addr) ? svcKey6Codec : svcKeyCodec).encode({ ...k, addr: addr(k.addr) });
          const map = six(k.addr) ? 'sy_services6' : 'sy_services';
          if (kind === 'deleteService') this.del(map, key);
          else this.put(map, key, svcValueCodec.encode(a as never));
          break;
        }
        case 'upsertSourceRange': case 'deleteSourceRange': {
          const key = (six(a.addr) ? sourceRangeKey6Codec : sourceRangeKeyCodec).encode({ prefixlen: 32 + (a.prefixLen as number), frontendId: a.frontendId as number, addr: addr(a.addr) });
          const map = six(a.addr) ? 'sy_source_ranges6' : 'sy_source_ranges';
          if (kind === 'deleteSourceRange') this.del(map, key);
          else this.put(map, key, Uint8Array.of(1));
          break;
        }
        case 'setConfig': this.configs.push(a); break;
        case 'deleteAffinity': break;
        default: throw new Error(`unexpected op ${kind}`);
      }
    }
    return { applied: ops.length };
  }
  async dump(map: string, limit?: number) {
    const entries = [...this.m(map).values()];
    return { info: { name: map, entries: entries.length, maxEntries: 65536 }, entries: limit ? entries.slice(0, limit) : entries };
  }
  async status() {
    return { maps: [] };
  }
  async gcConntrack() {
    return { deleted: 0 };
  }
  close() {}
}

const dual = ['IPv4', 'IPv6'] as const;
const svc: V1Service = {
  apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' },
  spec: {
    type: 'LoadBalancer', clusterIP: '198.18.128.10', clusterIPs: ['198.18.128.10', 'fd00:10:96::a'], ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack',
    loadBalancerSourceRanges: ['198.18.0.0/24', 'fd00:1::/48'], ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }],
  },
  status: { loadBalancer: { ingress: [{ ip: '198.18.210.1' }, { ip: 'fd00:210::1' }] } },
};
const slice = (name: string, family: 'IPv4' | 'IPv6', ips: string[]): V1EndpointSlice => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: family,
  metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }], endpoints: ips.map((ip) => ({ addresses: [ip], nodeName: 'node2', conditions: { ready: true } })),
});

test('a dual-stack sync fills the IPv6 maps; SetConfig carries the IPv6 node address and Service CIDR; a restart restores IPv6 ids and changes nothing', async () => {
  const t = new ServiceTracker({ defaultAlgorithm: 'maglev', ipFamilies: dual });
  t.update(svc);
  const c = new EndpointSliceCache('node1', { ipFamilies: dual });
  c.update(slice('w4', 'IPv4', ['198.19.1.2', '198.19.2.2']));
  c.update(slice('w6', 'IPv6', ['fd00:10:244:1::2', 'fd00:10:244:2::2']));
  const desired = dual.flatMap((f) => computeDesiredState(t.servicePorts(f), c.allEndpoints(f), { nodeName: 'node1', zone: '' }));
  const mem = new MemLoader();
  const start = async () => {
    const dp = new EbpfDataplane(mem as unknown as Loader, { seed: 1, sizing: DEFAULT_MAGLEV_SIZING, nodeIP: '198.18.0.11', serviceCIDR6: 'fd00:10:96::/112' }, pino({ level: 'silent' }));
    dp.setNodeIP('198.18.0.11');
    dp.setNodeIP6('fd00:18::11');
    await dp.init();
    return dp;
  };
  const dp = await start();
  const cfg = mem.configs.at(-1)!;
  assert.equal(formatIP(cfg.nodeAddr6 as Uint8Array), 'fd00:18::11');
  assert.equal(formatIP(cfg.serviceCidr6Addr as Uint8Array), 'fd00:10:96::');
  assert.equal(cfg.serviceCidr6PrefixLen, 112);
  const first = await dp.sync(desired);
  assert.ok(first.changes > 0);
  const n = (m: string) => mem.maps.get(m)?.size ?? 0;
  // ClusterIP, NodePort, LoadBalancer per family.
  assert.equal(n('sy_services'), 3);
  assert.equal(n('sy_services6'), 3);
  assert.equal(n('sy_backends'), 2);
  assert.equal(n('sy_backends6'), 2);
  assert.equal(n('sy_revnat6'), 3);
  assert.equal(n('sy_source_ranges6'), 1);
  assert.equal(n('sy_maglev'), 2, 'one table per family');
  const pressure = dp.mapPressure().map((p) => `${p.map}=${p.entries}`);
  assert.ok(pressure.includes('sy_services=3') && pressure.includes('sy_services6=3') && pressure.includes('sy_backends6=2'), pressure.join(' '));
  await dp.close();

  // The agent restarts: ids come back from the maps of both families.
  const again = await start();
  const second = await again.sync(desired);
  assert.equal(second.changes, 0, `nothing to change after a restart (${JSON.stringify(second.detail)})`);
  // A periodic verify finds no drift in either family.
  const third = await again.sync(desired, undefined, { verify: true });
  assert.equal(third.detail.drift, 0);
  // Tables read back (at start, by the drift check) are held as the builder's arrays, not decoded copies.
  const built = new Set<Uint32Array>();
  for (const k of again.builder.serviceKeys()) for (const t of again.builder.want(k)!.maglev.values()) built.add(t);
  assert.equal(again.programmedMaps!.maglev.size, 2);
  for (const t of again.programmedMaps!.maglev.values()) assert.ok(built.has(t), 'a table read back as built is the built array');
});

test('a service map filled past 90 % is warned about once, after the sync that filled it, not inside it', async () => {
  // sy_services has room for 3 entries: the sync below writes 3 (ClusterIP, NodePort, LoadBalancer).
  class SmallServicesMap extends MemLoader {
    override async dump(map: string, limit?: number) {
      const r = await super.dump(map, limit);
      return map === 'sy_services' ? { ...r, info: { ...r.info, maxEntries: 3 } } : r;
    }
  }
  const t = new ServiceTracker({ defaultAlgorithm: 'maglev' });
  t.update({ ...svc, spec: { ...svc.spec, clusterIPs: ['198.18.128.10'], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', loadBalancerSourceRanges: [] }, status: { loadBalancer: { ingress: [{ ip: '198.18.210.1' }] } } });
  const c = new EndpointSliceCache('node1');
  c.update(slice('w4', 'IPv4', ['198.19.1.2']));
  const lines: Array<{ level: number; msg: string; map?: string }> = [];
  const log = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string; map?: string }) });
  const dp = new EbpfDataplane(new SmallServicesMap() as unknown as Loader, { seed: 1, sizing: DEFAULT_MAGLEV_SIZING, nodeIP: '198.18.0.11' }, log);
  dp.setNodeIP('198.18.0.11');
  await dp.init();
  try {
    await dp.sync(computeDesiredState(t.servicePorts('IPv4'), c.allEndpoints('IPv4'), { nodeName: 'node1', zone: '' }));
    assert.equal(dp.mapPressure().find((m) => m.map === 'sy_services')?.warning, true, 'what /v1/status shows is computed when read');
    assert.equal(lines.length, 0, 'no walk and no warning inside the sync');
    await new Promise((r) => setTimeout(r, PRESSURE_CHECK_DELAY_MS + 200));
    const warned = lines.filter((l) => l.map === 'sy_services');
    assert.equal(warned.length, 1, JSON.stringify(lines));
    assert.match(warned[0]!.msg, /sy_services is 100 % full/);
  } finally {
    await dp.close();
  }
});
