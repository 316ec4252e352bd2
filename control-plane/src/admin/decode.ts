// Map entries as named fields (docs/maps.md), for GET /v1/maps/:name and the
// joined views. The bytes are decoded by the map codecs (map-codecs.ts), whose
// offsets and constants come from the layout contract; this file only names.
import { decodeEntries, isMapName, type MapName, type TypedEntry } from '../dataplane/ebpf/map-codecs.js';
import {
  ATTACH_MODE_NAMES, BackendFlags, BackendState, CT_FLAG_NAMES, CtDir, RATE_BUCKET_NAMES, SVC_FLAG_NAMES, TCP_FLAG_NAMES,
  counterName, ctLifetimeSeconds, ctValueCodec, flagNames, formatMac, frontendKind, hookName, protoName, scopeName,
} from '../dataplane/ebpf/map-values.js';
import { SY_ENUMS, SY_STRUCTS } from '../dataplane/ebpf/sy-layout.generated.js';
import { formatIP, mustParseIP } from '../util/ip.js';

// sy_fib_gen's value: generation << SY_FIB_GEN_SHIFT | SY_FIB_SHORT_KEY_* (the key mode).
const { SY_FIB_GEN_SHIFT: FIB_GEN_SHIFT, SY_FIB_SHORT_KEY_V4: FIB_SHORT_KEY_V4, SY_FIB_SHORT_KEY_V6: FIB_SHORT_KEY_V6 } =
  SY_ENUMS.sy_fib_gen_bits;

export type Decoded = Record<string, unknown>;

/** CLOCK_MONOTONIC now, ns: what bpf_ktime_get_ns() returns (libuv's hrtime is CLOCK_MONOTONIC on Linux). */
export function monotonicNowNs(): bigint {
  return process.hrtime.bigint();
}

/** Seconds between a bpf_ktime_get_ns() stamp and now (0 when the stamp is ahead). */
export function ageSeconds(stamp: bigint, now: bigint): number {
  return now > stamp ? Number(now - stamp) / 1e9 : 0;
}

export function backendStateName(s: number): string {
  return s === BackendState.ACTIVE ? 'active' : s === BackendState.TERMINATING ? 'terminating' : String(s);
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Slot counts of a Maglev table: backend id -> slots, in id order. */
export function slotCounts(table: Uint32Array): Array<{ id: number; slots: number }> {
  const m = new Map<number, number>();
  for (const id of table) m.set(id, (m.get(id) ?? 0) + 1);
  return [...m].sort((a, b) => a[0] - b[0]).map(([id, slots]) => ({ id, slots }));
}

export interface DecodeOptions {
  now?: bigint;
  /** sy_maglev: include the whole slot -> backend id array. */
  table?: boolean;
}

/** Decodes one entry of the named map into named fields; unknown maps get hex. */
export function decodeEntry(map: string, key: Uint8Array, value: Uint8Array, opts: DecodeOptions = {}): Decoded {
  if (!isMapName(map)) return { key: hex(key), value: hex(value) };
  const [e] = decodeEntries(map, [{ key, value }]);
  return present(map, e!, value, opts);
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** An entry's named fields for the admin API (docs/maps.md). */
function present<M extends MapName>(map: M, e: TypedEntry<M>, raw: Uint8Array, opts: DecodeOptions): Decoded {
  const now = opts.now ?? monotonicNowNs();
  const t = { map, ...e } as { [N in MapName]: { map: N } & TypedEntry<N> }[MapName];
  switch (t.map) {
    case 'sy_services':
    case 'sy_services6': {
      const { key: k, value: v } = t;
      return {
        addr: k.addr, port: k.port, proto: protoName(k.proto), scope: scopeName(k.scope), kind: frontendKind(v.flags),
        id: v.id, group: v.group, count: v.count, flags: flagNames(v.flags, SVC_FLAG_NAMES),
        affinityTimeout: v.affinityTimeout, tableSize: v.tableSize,
      };
    }
    case 'sy_backends':
    case 'sy_backends6': {
      const b = t.value;
      return {
        id: t.key, addr: b.addr, port: b.port, proto: protoName(b.proto), state: backendStateName(b.state),
        local: (b.flags & BackendFlags.LOCAL) !== 0, zone: b.zone,
      };
    }
    case 'sy_revnat':
    case 'sy_revnat6':
      return { id: t.key, addr: t.value.addr, port: t.value.port };
    case 'sy_maglev': {
      const tbl = t.value;
      return { group: t.key, tableSize: tbl.length, backends: slotCounts(tbl), ...(opts.table ? { table: Array.from(tbl) } : {}) };
    }
    case 'sy_conntrack':
    case 'sy_conntrack6': {
      const { key: k, value: v } = t;
      const age = ageSeconds(v.lastSeen, now);
      const lifetime = ctLifetimeSeconds(k.proto, v.flags);
      return {
        saddr: k.saddr, sport: k.sport, daddr: k.daddr, dport: k.dport, proto: protoName(k.proto),
        dir: k.dir === CtDir.FORWARD ? 'forward' : k.dir === CtDir.REPLY ? 'reply' : String(k.dir),
        backendId: v.backendId, revNatId: v.revNatId, lastSeen: v.lastSeen.toString(),
        ageSeconds: round3(age), lifetimeSeconds: lifetime, expired: age > lifetime,
        tcpFlags: flagNames(v.tcpFlags, TCP_FLAG_NAMES), flags: flagNames(v.flags, CT_FLAG_NAMES),
        // Values of the layout before SNAT (24 bytes) had no NAT fields.
        ...(t.map === 'sy_conntrack6' || ctValueCodec.has(raw, 'nat_port') ? { natAddr: v.natAddr, natPort: v.natPort } : {}),
      };
    }
    case 'sy_affinity':
    case 'sy_affinity6': {
      const { key: k, value: v } = t;
      return { client: k.client, group: k.group, backendId: v.backendId, lastUsed: v.lastUsed.toString(), ageSeconds: round3(ageSeconds(v.lastUsed, now)) };
    }
    case 'sy_attach': {
      const { key: k, value: v } = t;
      return { ifindex: k.ifindex, hook: hookName(k.hook), ifname: v.ifname, mode: ATTACH_MODE_NAMES[v.mode] ?? String(v.mode), progId: v.progId };
    }
    case 'sy_config': {
      const c = t.value;
      return { index: t.key, flowHashSeed: c.flowHashSeed, flags: c.flags, nodeAddr: c.nodeAddr, snatPortMin: c.snatPortMin, snatPortMax: c.snatPortMax, hostNetnsCookie: c.hostNetnsCookie, serviceCIDR: c.serviceCIDR };
    }
    case 'sy_config6':
      return { index: t.key, nodeAddr: t.value.nodeAddr, serviceCIDR: t.value.serviceCIDR };
    case 'sy_events_budget':
      // Per-CPU: the loader sums the CPUs' 8-byte words, so `used` is the sum over CPUs (window starts are not shown).
      return { index: t.key, usedInWindows: t.value.used, limitPerCpuPerSecond: SY_ENUMS.sy_events_limit.SY_EVENTS_PER_CPU_PER_SEC };
    case 'sy_monitor': {
      const m = t.value;
      const o = SY_STRUCTS.sy_monitor.fields.client_addr.offset;
      const client = m.clientFamily === 4 ? `${raw[o]}.${raw[o + 1]}.${raw[o + 2]}.${raw[o + 3]}/${m.clientPrefixLen}`
        : m.clientFamily === 6 ? `${formatIP(raw.subarray(o, o + 16))}/${m.clientPrefixLen}` : 'any';
      return {
        index: t.key, trace: (m.flags & SY_ENUMS.sy_monitor_flag.SY_MON_F_TRACE) !== 0, traceFrontendId: m.traceFrontendId,
        traceBackendId: m.traceBackendId, traceClient: client, ctSample: m.ctSample,
      };
    }
    case 'sy_svc_stats':
      return { frontendId: t.key.frontendId, hook: hookName(t.key.hook), packets: Number(t.value.packets), bytes: Number(t.value.bytes) };
    case 'sy_counters':
      return { index: t.key, event: counterName(t.key), count: Number(t.value) };
    case 'sy_icmp_rate':
      return { index: t.key, bucket: RATE_BUCKET_NAMES[t.key] ?? String(t.key), tokens: t.value.tokens, lastNs: t.value.lastNs.toString() };
    case 'sy_sock_revnat':
    case 'sy_sock_revnat6': {
      const { key: k, value: v } = t;
      return { cookie: k.cookie.toString(), backendAddr: k.addr, backendPort: k.port, frontendAddr: v.addr, frontendPort: v.port, revNatId: v.revNatId };
    }
    case 'sy_dev_mac':
      return { ifindex: t.key, mac: t.value.mac, set: t.value.set };
    case 'sy_fib_cache': {
      const { key: k, value: v } = t;
      const addr = (a: string) => (k.family === 2 ? formatIP(mustParseIP(a).bytes.subarray(0, 4)) : a);
      return {
        family: k.family === 2 ? 'ipv4' : 'ipv6', proto: protoName(k.proto), saddr: addr(k.saddr), sport: k.sport,
        daddr: addr(k.daddr), dport: k.dport, ingressIfindex: k.ifindex, flowinfo: k.flowinfo, egressIfindex: v.ifindex,
        smac: formatMac(v.smac), dmac: formatMac(v.dmac), mtu: v.mtu, generation: v.gen >>> FIB_GEN_SHIFT,
        shortKey: (v.gen & (k.family === 2 ? FIB_SHORT_KEY_V4 : FIB_SHORT_KEY_V6)) !== 0, ageSeconds: round3(ageSeconds(v.stampNs, now)),
      };
    }
    case 'sy_fib_gen':
      return {
        index: t.key, generation: t.value >>> FIB_GEN_SHIFT,
        shortKeyIPv4: (t.value & FIB_SHORT_KEY_V4) !== 0, shortKeyIPv6: (t.value & FIB_SHORT_KEY_V6) !== 0,
      };
    case 'sy_fib_scratch':
      return { index: t.key, value: hex(t.value) };
    case 'sy_frag':
    case 'sy_frag6': {
      const { key: k, value: v } = t;
      return { saddr: k.saddr, daddr: k.daddr, ipId: k.id, proto: protoName(k.proto), sport: v.sport, dport: v.dport };
    }
    case 'sy_source_ranges':
    case 'sy_source_ranges6':
      return { frontendId: t.key.frontendId, cidr: `${t.key.addr}/${t.key.prefixLen}` };
  }
}

/** Does a decoded entry match "field=value"? Arrays match when they contain the value. */
export function matchesFilter(e: Decoded, field: string, want: string): boolean {
  const v = e[field];
  if (Array.isArray(v)) return v.some((x) => String(x) === want);
  return String(v) === want;
}
