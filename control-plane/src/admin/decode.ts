// Map entries as named fields (docs/maps.md), for GET /v1/maps/:name and the
// joined views. The byte layouts themselves live in map-values.ts.
import {
  ATTACH_MODE_NAMES, BackendFlags, BackendState, CT_FLAG_NAMES, SVC_FLAG_NAMES, TCP_FLAG_NAMES,
  counterName, decodeRateBucket, RATE_BUCKET_NAMES, decodeAffinityKey, decodeAffinityValue, decodeAttachKey, decodeAttachValue, decodeBackend,
  decodeConfig, decodeCounterValue, decodeFrag, decodeSockRevNat, decodeCtKey, decodeCtValue, decodeRevNat, decodeSourceRangeKey,
  decodeSvcKey, decodeSvcStatsKey, decodeSvcStatsValue, decodeSvcValue, decodeU32, decodeU32Array,
  flagNames, frontendKind, hookName, protoName, scopeName,
} from '../dataplane/ebpf/map-values.js';

export type Decoded = Record<string, unknown>;

/** Conntrack lifetimes (SY_CT_LIFETIME_* in sy_structs.h), seconds. */
export function ctLifetimeSeconds(proto: number, flags: number): number {
  if (proto !== 6) return 60;
  if (flags & 0x2) return 10;
  if (flags & 0x20) return 21600; // SY_CT_F_ESTABLISHED: the client ACKed after a reply

  return 60;
}

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
  const now = opts.now ?? monotonicNowNs();
  switch (map) {
    case 'sy_services': {
      const k = decodeSvcKey(key), v = decodeSvcValue(value);
      return {
        addr: k.addr, port: k.port, proto: protoName(k.proto), scope: scopeName(k.scope), kind: frontendKind(v.flags),
        id: v.id, group: v.group, count: v.count, flags: flagNames(v.flags, SVC_FLAG_NAMES),
        affinityTimeout: v.affinityTimeout, tableSize: v.tableSize,
      };
    }
    case 'sy_backends': {
      const b = decodeBackend(value);
      return {
        id: decodeU32(key), addr: b.addr, port: b.port, proto: protoName(b.proto), state: backendStateName(b.state),
        local: (b.flags & BackendFlags.LOCAL) !== 0, zone: b.zone,
      };
    }
    case 'sy_revnat': {
      const r = decodeRevNat(value);
      return { id: decodeU32(key), addr: r.addr, port: r.port };
    }
    case 'sy_maglev': {
      const t = decodeU32Array(value);
      return { group: decodeU32(key), tableSize: t.length, backends: slotCounts(t), ...(opts.table ? { table: Array.from(t) } : {}) };
    }
    case 'sy_conntrack': {
      const k = decodeCtKey(key), v = decodeCtValue(value);
      const age = ageSeconds(v.lastSeen, now);
      const lifetime = ctLifetimeSeconds(k.proto, v.flags);
      return {
        saddr: k.saddr, sport: k.sport, daddr: k.daddr, dport: k.dport, proto: protoName(k.proto),
        dir: k.dir === 0 ? 'forward' : k.dir === 1 ? 'reply' : String(k.dir),
        backendId: v.backendId, revNatId: v.revNatId, lastSeen: v.lastSeen.toString(),
        ageSeconds: Math.round(age * 1000) / 1000, lifetimeSeconds: lifetime, expired: age > lifetime,
        tcpFlags: flagNames(v.tcpFlags, TCP_FLAG_NAMES), flags: flagNames(v.flags, CT_FLAG_NAMES),
        ...(value.byteLength >= 26 ? { natAddr: v.natAddr, natPort: v.natPort } : {}),
      };
    }
    case 'sy_affinity': {
      const k = decodeAffinityKey(key), v = decodeAffinityValue(value);
      return { client: k.client, group: k.group, backendId: v.backendId, lastUsed: v.lastUsed.toString(), ageSeconds: Math.round(ageSeconds(v.lastUsed, now) * 1000) / 1000 };
    }
    case 'sy_attach': {
      const k = decodeAttachKey(key), v = decodeAttachValue(value);
      return { ifindex: k.ifindex, hook: hookName(k.hook), ifname: v.ifname, mode: ATTACH_MODE_NAMES[v.mode] ?? String(v.mode), progId: v.progId };
    }
    case 'sy_config': {
      const c = decodeConfig(value);
      return { index: decodeU32(key), flowHashSeed: c.flowHashSeed, flags: c.flags, nodeAddr: c.nodeAddr, snatPortMin: c.snatPortMin, snatPortMax: c.snatPortMax, hostNetnsCookie: c.hostNetnsCookie, serviceCIDR: c.serviceCIDR ?? '' };
    }
    case 'sy_svc_stats': {
      const k = decodeSvcStatsKey(key), v = decodeSvcStatsValue(value);
      return { frontendId: k.frontendId, hook: hookName(k.hook), packets: Number(v.packets), bytes: Number(v.bytes) };
    }
    case 'sy_counters': {
      const i = decodeU32(key);
      return { index: i, event: counterName(i), count: Number(decodeCounterValue(value)) };
    }
    case 'sy_icmp_rate': {
      const i = decodeU32(key), r = decodeRateBucket(value);
      return { index: i, bucket: RATE_BUCKET_NAMES[i] ?? String(i), tokens: r.tokens, lastNs: r.lastNs.toString() };
    }
    case 'sy_sock_revnat': {
      const r = decodeSockRevNat(key, value);
      return { cookie: r.cookie.toString(), backendAddr: r.backendAddr, backendPort: r.backendPort, frontendAddr: r.frontendAddr, frontendPort: r.frontendPort, revNatId: r.revNatId };
    }
    case 'sy_dev_mac': {
      const b = Buffer.from(value);
      return { ifindex: decodeU32(key), mac: [...b.subarray(0, 6)].map((x) => x.toString(16).padStart(2, '0')).join(':'), set: b[6] === 1 };
    }
    case 'sy_frag': {
      const f = decodeFrag(key, value);
      return { saddr: f.saddr, daddr: f.daddr, ipId: f.id, proto: protoName(f.proto), sport: f.sport, dport: f.dport };
    }
    case 'sy_source_ranges': {
      const r = decodeSourceRangeKey(key);
      return { frontendId: r.frontendId, cidr: `${r.addr}/${r.prefixLen}` };
    }
    default:
      return { key: hex(key), value: hex(value) };
  }
}

/** Does a decoded entry match "field=value"? Arrays match when they contain the value. */
export function matchesFilter(e: Decoded, field: string, want: string): boolean {
  const v = e[field];
  if (Array.isArray(v)) return v.some((x) => String(x) === want);
  return String(v) === want;
}
