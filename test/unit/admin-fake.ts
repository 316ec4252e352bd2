// A fake loader for the admin tests: map contents as the loader's dump would
// return them (raw key/value bytes), built from a real DesiredMapsBuilder run.
import type { AdminSource, LoaderView, SyncView } from '../../control-plane/src/admin/source.js';
import { computeDesiredState, type DesiredServicePort } from '../../control-plane/src/dataplane/desired-state.js';
import { DesiredMapsBuilder } from '../../control-plane/src/dataplane/ebpf/desired-maps.js';
import { LoaderError, type MapEntry, type MapInfo } from '../../control-plane/src/dataplane/ebpf/loader-client.js';
import { encodeSvcKey, type BackendValue, type SvcValue } from '../../control-plane/src/dataplane/ebpf/map-values.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import { ServiceTracker } from '../../control-plane/src/model/service-tracker.js';
import type { SyncRecord } from '../../control-plane/src/sync/proxier.js';
import { ipv4ToBytes } from '../../control-plane/src/util/ipv4.js';
import { service, slice, type Ep } from './fixtures.js';

export const SEED = 0x5317c4d1;

function buf(n: number): { b: Uint8Array; v: DataView } {
  const b = new Uint8Array(n);
  return { b, v: new DataView(b.buffer) };
}

export function u32(n: number): Uint8Array {
  const { b, v } = buf(4);
  v.setUint32(0, n, true);
  return b;
}

export function encSvcValue(s: SvcValue): Uint8Array {
  const { b, v } = buf(20);
  v.setUint32(0, s.id, true); v.setUint32(4, s.group, true); v.setUint16(8, s.count, true); v.setUint16(10, s.flags, true);
  v.setUint32(12, s.affinityTimeout, true); v.setUint32(16, s.tableSize, true);
  return b;
}

export function encBackend(x: BackendValue): Uint8Array {
  const { b, v } = buf(16);
  b.set(ipv4ToBytes(x.addr), 0); v.setUint16(4, x.port, false); b[6] = x.proto; b[7] = x.state; b[8] = x.flags; v.setUint32(12, x.zone, true);
  return b;
}

export function encRevNat(addr: string, port: number): Uint8Array {
  const { b, v } = buf(8);
  b.set(ipv4ToBytes(addr), 0); v.setUint16(4, port, false);
  return b;
}

export function encTable(t: Uint32Array): Uint8Array {
  const { b, v } = buf(t.length * 4);
  t.forEach((id, i) => v.setUint32(i * 4, id, true));
  return b;
}

export function encCtKey(k: { saddr: string; daddr: string; sport: number; dport: number; proto: number; dir: number }): Uint8Array {
  const { b, v } = buf(16);
  b.set(ipv4ToBytes(k.saddr), 0); b.set(ipv4ToBytes(k.daddr), 4); v.setUint16(8, k.sport, false); v.setUint16(10, k.dport, false);
  b[12] = k.proto; b[13] = k.dir;
  return b;
}

export function encCtValue(x: { lastSeen: bigint; backendId: number; revNatId: number; tcpFlags?: number; flags?: number; nat?: [string, number] }): Uint8Array {
  const { b, v } = buf(32);
  v.setBigUint64(0, x.lastSeen, true); v.setUint32(8, x.backendId, true); v.setUint32(12, x.revNatId, true);
  v.setUint16(16, x.tcpFlags ?? 0, true); v.setUint16(18, x.flags ?? 0, true);
  if (x.nat) {
    b.set(ipv4ToBytes(x.nat[0]), 20);
    v.setUint16(24, x.nat[1], false);
  }
  return b;
}

export function encAffinity(client: string, group: number, lastUsed: bigint, backendId: number): MapEntry {
  const k = buf(8), val = buf(16);
  k.b.set(ipv4ToBytes(client), 0); k.v.setUint32(4, group, true);
  val.v.setBigUint64(0, lastUsed, true); val.v.setUint32(8, backendId, true);
  return { key: k.b, value: val.b };
}

export function encConfig(seed: number, nodeAddr: string, hostNetnsCookie = 4099n): Uint8Array {
  const { b, v } = buf(24);
  v.setUint32(0, seed, true); b.set(ipv4ToBytes(nodeAddr), 8); v.setBigUint64(16, hostNetnsCookie, true);
  return b;
}

interface FakeMap { info: MapInfo; entries: MapEntry[] }

const TYPES: Record<string, [string, number, number, number]> = {
  sy_services: ['hash', 8, 20, 65536], sy_backends: ['hash', 4, 16, 65536], sy_revnat: ['hash', 4, 8, 65536],
  sy_maglev: ['hash_of_maps', 4, 4, 65536], sy_conntrack: ['lru_hash', 16, 32, 262144], sy_affinity: ['lru_hash', 8, 16, 65536],
  sy_attach: ['hash', 8, 24, 1024], sy_config: ['array', 4, 24, 1],
};

export class FakeLoader implements LoaderView {
  readonly maps = new Map<string, FakeMap>();
  down = false;
  calls = 0;
  /** Every read, as "dump <map>" or "lookup <map> <n keys>", in order. */
  readonly reads: string[] = [];

  constructor() {
    for (const name of Object.keys(TYPES)) this.define(name);
  }

  define(name: string, type?: [string, number, number, number]): FakeMap {
    const [t, k, v, max] = type ?? TYPES[name]!;
    const m = { info: { name, type: t, keySize: k, valueSize: v, maxEntries: max, entries: 0, pinPath: `/sys/fs/bpf/switchyard/test/${name}`, id: this.maps.size + 1 }, entries: [] };
    this.maps.set(name, m);
    return m;
  }

  set(name: string, entries: MapEntry[]): void {
    const m = this.maps.get(name) ?? this.define(name);
    m.entries = entries;
  }

  push(name: string, e: MapEntry): void {
    (this.maps.get(name) ?? this.define(name)).entries.push(e);
  }

  private check(): void {
    this.calls++;
    if (this.down) throw new LoaderError('UNAVAILABLE', '/run/test/loader.sock: connect ENOENT');
  }

  async dump(map: string, limit = 0): Promise<{ info: MapInfo; entries: MapEntry[] }> {
    this.check();
    this.reads.push(`dump ${map}`);
    const m = this.maps.get(map);
    if (!m) throw new LoaderError('NOT_FOUND', `unknown map ${map}`);
    return { info: { ...m.info, entries: m.entries.length }, entries: limit ? m.entries.slice(0, limit) : [...m.entries] };
  }

  /** As the loader's lookup op: exact key match, undefined when absent; NOT_FOUND / INVALID like the loader. */
  async lookup(map: string, keys: Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    this.check();
    this.reads.push(`lookup ${map} ${keys.length}`);
    const m = this.maps.get(map);
    if (!m) throw new LoaderError('NOT_FOUND', `lookup.map: no map named '${map}'`);
    return keys.map((k, i) => {
      if (k.length !== m.info.keySize) throw new LoaderError('INVALID', `lookup.keys[${i}]: ${k.length} bytes, ${map} has ${m.info.keySize}-byte keys`);
      return m.entries.find((e) => Buffer.from(e.key).equals(Buffer.from(k)))?.value;
    });
  }

  async status(opts: { skipEntryCounts?: boolean; countMaps?: string[] } = {}): Promise<Record<string, any>> {
    this.check();
    const counted = (name: string) => !opts.skipEntryCounts && (!opts.countMaps?.length || opts.countMaps.includes(name));
    this.reads.push(opts.skipEntryCounts ? 'status (no counts)' : opts.countMaps?.length ? `status (counts ${opts.countMaps.join(',')})` : 'status');
    return {
      instance: 'test', pinDir: '/sys/fs/bpf/switchyard/test', requests: this.calls, errors: 0,
      attachments: [{ ifname: 'eth0', ifindex: 2, hook: 'TC_INGRESS', mode: 'tcx', progId: 7 }],
      maps: [...this.maps.values()].map((m) => ({ ...m.info, entries: counted(m.info.name) ? m.entries.length : 0 })),
    };
  }
}

export function desiredOf(svcs: Parameters<typeof service>[], slices: Array<[string, string, Array<{ name?: string; port: number; protocol?: string }>, Ep[]]>, node = 'node1'): DesiredServicePort[] {
  const t = new ServiceTracker({ defaultAlgorithm: 'maglev' });
  for (const s of svcs) t.update(service(...s));
  const c = new EndpointSliceCache(node);
  for (const [name, svc, ports, eps] of slices) c.update(slice(name, svc, ports, eps));
  return computeDesiredState(t.servicePorts(), c.allEndpoints(), { nodeName: node, zone: 'zone-a' });
}

/** Writes what a sync of `desired` would program into the fake loader's maps. */
export function program(loader: FakeLoader, desired: DesiredServicePort[], nodeIP = '198.18.0.11'): DesiredMapsBuilder {
  const b = new DesiredMapsBuilder({ seed: SEED, sizing: { floor: 251, ceiling: 131071 } });
  b.nodeAddresses = [nodeIP];
  const c = b.build(desired);
  loader.set('sy_services', [...c.services.values()].map((e) => ({ key: encodeSvcKey(e.key), value: encSvcValue(e.value) })));
  loader.set('sy_backends', [...c.backends].map(([id, be]) => ({ key: u32(id), value: encBackend(be) })));
  loader.set('sy_revnat', [...c.revnat].map(([id, r]) => ({ key: u32(id), value: encRevNat(r.addr, r.port) })));
  loader.set('sy_maglev', [...c.maglev].map(([g, t]) => ({ key: u32(g), value: encTable(t) })));
  loader.set('sy_config', [{ key: u32(0), value: encConfig(SEED, nodeIP) }]);
  return b;
}

export class FakeSync implements SyncView {
  lastDesired: DesiredServicePort[] = [];
  readonly history: SyncRecord[] = [];
  lastSuccess = Date.now();
  lastError: string | undefined;
  syncCount = 1;
  oldestPendingChange = 0;
}

export function ebpfSource(loader: FakeLoader, sync: FakeSync, extra: Partial<AdminSource> = {}): AdminSource {
  return { mode: 'ebpf', modeReason: 'test', nodeName: 'node1', seed: SEED, healthTimeoutMs: 60_000, sync, loader, ...extra };
}

export const WEB: Parameters<typeof service> = ['web', {}];
export const WEB_SLICE: [string, string, Array<{ name?: string; port: number }>, Ep[]] = ['web-1', 'web', [{ name: 'http', port: 8080 }], [
  { ip: '198.19.1.2', node: 'node1', zone: 'zone-a' }, { ip: '198.19.1.3', node: 'node1', zone: 'zone-a' },
  { ip: '198.19.2.2', node: 'node2', zone: 'zone-b' }, { ip: '198.19.2.3', node: 'node2', zone: 'zone-b', ready: false, serving: true, terminating: true },
]];
