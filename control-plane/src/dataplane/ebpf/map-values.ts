// The codecs of the pinned maps' keys and values (bpf/include/sy_structs.h)
// and the constants of the datapath, all taken from the layout contract that
// is generated from the BPF object's BTF (sy-layout.generated.ts; docs/maps.md,
// "Layout contract"): no offset or constant is written here. Addresses and
// ports are network order on the wire; everything else little endian.
import { ipv4ToBytes } from '../../util/ipv4.js';
import { SY_ENUMS, SY_STRUCTS } from './sy-layout.generated.js';
import { enumMembers, structCodec } from './struct-codec.js';

// ---- constants (enums of sy_structs.h) -------------------------------------

export const SY_SCOPE_EXTERNAL = SY_ENUMS.sy_scope.SY_SCOPE_EXTERNAL;
export const SY_SCOPE_INTERNAL = SY_ENUMS.sy_scope.SY_SCOPE_INTERNAL;
/** SY_SVC_F_*: CLUSTERIP, NODEPORT, ..., HOST_EP (an endpoint is this node's own address). */
export const SvcFlags = enumMembers(SY_ENUMS.sy_svc_flag, 'SY_SVC_F_');
export const BackendState = enumMembers(SY_ENUMS.sy_backend_state, 'SY_BE_');
export const BackendFlags = enumMembers(SY_ENUMS.sy_backend_flag, 'SY_BE_F_');
/** SY_CT_FORWARD (client -> frontend) and SY_CT_REPLY (backend -> client). */
export const CtDir = enumMembers(SY_ENUMS.sy_ct_dir, 'SY_CT_');
export const CtFlags = enumMembers(SY_ENUMS.sy_ct_flag, 'SY_CT_F_');
/** SY_CFG_F_* (sy_config.flags). */
export const ConfigFlags = enumMembers(SY_ENUMS.sy_config_flag, 'SY_CFG_F_');

const IPPROTO_TCP = 6;

/** A conntrack entry's lifetime in seconds, chosen as sy_ct_lifetime_ns() chooses it, from SY_CT_LIFETIME_*_S. */
export function ctLifetimeSeconds(proto: number, flags: number): number {
  const l = SY_ENUMS.sy_ct_lifetime_s;
  if (proto !== IPPROTO_TCP) return l.SY_CT_LIFETIME_OTHER_S;
  if (flags & CtFlags.CLOSING) return l.SY_CT_LIFETIME_TCP_CLOSING_S;
  if (flags & CtFlags.ESTABLISHED) return l.SY_CT_LIFETIME_TCP_S;
  return l.SY_CT_LIFETIME_TCP_SYN_S;
}

/** An enum's members as names indexed by value: the prefix cut, lower case, `sep` for '_' (values without a member: holes). */
function namesByValue(e: Record<string, number>, prefix: string, skip: readonly string[], sep = '_'): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(e)) {
    if (skip.includes(k)) continue;
    out[v] = k.slice(prefix.length).toLowerCase().replaceAll('_', sep);
  }
  return out;
}

/** Names of the sy_counters slots (SY_CNT_* lower case, SY_CNT_MAX aside); unknown slots read "event_<i>". */
export const DATAPATH_COUNTER_NAMES: readonly string[] = Array.from(
  namesByValue(SY_ENUMS.sy_counter, 'SY_CNT_', ['SY_CNT_MAX']), (n, i) => n ?? `event_${i}`);

export function counterName(i: number): string {
  return DATAPATH_COUNTER_NAMES[i] ?? `event_${i}`;
}

/** sy_icmp_rate buckets (SY_RL_*, lower case). */
export const RATE_BUCKET_NAMES: readonly string[] = namesByValue(SY_ENUMS.sy_rate_limit, 'SY_RL_', ['SY_RL_MAX']);
/** SY_HOOK_* (sy_attach keys, sy_svc_stats keys): tc_ingress, xdp, sock_lb. */
const HOOK_NAMES: readonly string[] = namesByValue(SY_ENUMS.sy_hook, 'SY_HOOK_', []);
/** SY_ATTACH_*: tcx, clsact, xdp-native, xdp-generic, cgroup. */
export const ATTACH_MODE_NAMES: readonly string[] = namesByValue(SY_ENUMS.sy_attach_mode, 'SY_ATTACH_', [], '-');

export function hookName(h: number): string {
  return HOOK_NAMES[h] ?? String(h);
}

// ---- codecs (one per struct; the field names are the C ones) --------------

export const svcKeyCodec = structCodec('sy_svc_key', { addr: ['addr', 'ipv4'], port: ['port', 'be16'], proto: ['proto', 'u8'], scope: ['scope', 'u8'] });
export const svcValueCodec = structCodec('sy_svc_value', {
  id: ['id', 'u32'], group: ['group', 'u32'], count: ['count', 'u16'], flags: ['flags', 'u16'],
  affinityTimeout: ['affinity_timeout', 'u32'], tableSize: ['table_size', 'u32'],
});
export const backendCodec = structCodec('sy_backend', {
  addr: ['addr', 'ipv4'], port: ['port', 'be16'], proto: ['proto', 'u8'], state: ['state', 'u8'], flags: ['flags', 'u8'], zone: ['zone', 'u32'],
});
export const revNatCodec = structCodec('sy_revnat', { addr: ['addr', 'ipv4'], port: ['port', 'be16'] });
export const ctKeyCodec = structCodec('sy_ct_key', {
  saddr: ['saddr', 'ipv4'], daddr: ['daddr', 'ipv4'], sport: ['sport', 'be16'], dport: ['dport', 'be16'], proto: ['proto', 'u8'], dir: ['dir', 'u8'],
});
export const ctValueCodec = structCodec('sy_ct_value', {
  lastSeen: ['last_seen', 'u64'], backendId: ['backend_id', 'u32'], revNatId: ['rev_nat_id', 'u32'], tcpFlags: ['tcp_flags', 'u16'],
  flags: ['flags', 'u16'],
  // SNATed flows: forward = the source used, reply = the client to restore.
  natAddr: ['nat_addr', 'ipv4'], natPort: ['nat_port', 'be16'],
});
export const affinityKeyCodec = structCodec('sy_affinity_key', { client: ['client', 'ipv4'], group: ['group', 'u32'] });
export const affinityValueCodec = structCodec('sy_affinity_value', { lastUsed: ['last_used', 'u64'], backendId: ['backend_id', 'u32'] });
export const sourceRangeKeyCodec = structCodec('sy_source_range_key', { prefixlen: ['prefixlen', 'u32'], frontendId: ['frontend_id', 'u32'], addr: ['addr', 'ipv4'] });
export const attachKeyCodec = structCodec('sy_attach_key', { ifindex: ['ifindex', 'u32'], hook: ['hook', 'u32'] });
export const attachValueCodec = structCodec('sy_attach_value', { mode: ['mode', 'u32'], progId: ['prog_id', 'u32'], ifname: ['ifname', 'cstring'] });
export const configCodec = structCodec('sy_config', {
  flowHashSeed: ['flow_hash_seed', 'u32'], flags: ['flags', 'u32'], nodeAddr: ['node_addr', 'ipv4'],
  snatPortMin: ['snat_port_min', 'u16'], snatPortMax: ['snat_port_max', 'u16'], hostNetnsCookie: ['host_netns_cookie', 'u64'],
  svcNet: ['svc_net', 'ipv4'], svcMask: ['svc_mask', 'ipv4'],
});
export const svcStatsKeyCodec = structCodec('sy_svc_stats_key', { frontendId: ['frontend_id', 'u32'], hook: ['hook', 'u32'] });
export const svcStatsCodec = structCodec('sy_svc_stats', { packets: ['packets', 'u64'], bytes: ['bytes', 'u64'] });
export const rateBucketCodec = structCodec('sy_rate_bucket', { tokens: ['tokens', 'u32'], lastNs: ['last_ns', 'u64'] });
export const fragKeyCodec = structCodec('sy_frag_key', { saddr: ['saddr', 'ipv4'], daddr: ['daddr', 'ipv4'], id: ['id', 'be16'], proto: ['proto', 'u8'] });
export const fragValueCodec = structCodec('sy_frag_value', { sport: ['sport', 'be16'], dport: ['dport', 'be16'] });
export const sockRevNatKeyCodec = structCodec('sy_sock_revnat_key', { cookie: ['cookie', 'u64'], addr: ['addr', 'ipv4'], port: ['port', 'be16'] });
export const sockRevNatValueCodec = structCodec('sy_sock_revnat_value', { addr: ['addr', 'ipv4'], port: ['port', 'be16'], revNatId: ['rev_nat_id', 'u32'] });
export const devMacCodec = structCodec('sy_dev_mac', { addr: ['addr', 'bytes'], set: ['set', 'u8'] });
// The route-result cache (sy_fib_cache.h): addresses as 16 bytes (read as IPv6), an IPv4 one in the first 4.
export const fibKeyCodec = structCodec('sy_fib_key', {
  family: ['family', 'u8'], proto: ['proto', 'u8'], sport: ['sport', 'be16'], dport: ['dport', 'be16'], ifindex: ['ifindex', 'u32'],
  flowinfo: ['flowinfo', 'be32'], saddr: ['saddr', 'ipv6'], daddr: ['daddr', 'ipv6'],
});
export const fibEntryCodec = structCodec('sy_fib_entry', {
  stampNs: ['stamp_ns', 'u64'], gen: ['gen', 'u32'], ifindex: ['ifindex', 'u32'], mtu: ['mtu', 'u16'], smac: ['smac', 'bytes'], dmac: ['dmac', 'bytes'],
});

// IPv6 twins (issue #16): the same fields with 16-byte addresses; unaddressed values are shared.
export const svcKey6Codec = structCodec('sy_svc_key6', { addr: ['addr', 'ipv6'], port: ['port', 'be16'], proto: ['proto', 'u8'], scope: ['scope', 'u8'] });
export const backend6Codec = structCodec('sy_backend6', {
  addr: ['addr', 'ipv6'], port: ['port', 'be16'], proto: ['proto', 'u8'], state: ['state', 'u8'], flags: ['flags', 'u8'], zone: ['zone', 'u32'],
});
export const revNat6Codec = structCodec('sy_revnat6', { addr: ['addr', 'ipv6'], port: ['port', 'be16'] });
export const ctKey6Codec = structCodec('sy_ct_key6', {
  saddr: ['saddr', 'ipv6'], daddr: ['daddr', 'ipv6'], sport: ['sport', 'be16'], dport: ['dport', 'be16'], proto: ['proto', 'u8'], dir: ['dir', 'u8'],
});
export const ctValue6Codec = structCodec('sy_ct_value6', {
  lastSeen: ['last_seen', 'u64'], backendId: ['backend_id', 'u32'], revNatId: ['rev_nat_id', 'u32'], tcpFlags: ['tcp_flags', 'u16'],
  flags: ['flags', 'u16'], natAddr: ['nat_addr', 'ipv6'], natPort: ['nat_port', 'be16'],
});
export const affinityKey6Codec = structCodec('sy_affinity_key6', { client: ['client', 'ipv6'], group: ['group', 'u32'] });
export const sourceRangeKey6Codec = structCodec('sy_source_range_key6', { prefixlen: ['prefixlen', 'u32'], frontendId: ['frontend_id', 'u32'], addr: ['addr', 'ipv6'] });
export const fragKey6Codec = structCodec('sy_frag_key6', { saddr: ['saddr', 'ipv6'], daddr: ['daddr', 'ipv6'], id: ['id', 'be32'], proto: ['proto', 'u8'] });
export const sockRevNatKey6Codec = structCodec('sy_sock_revnat_key6', { cookie: ['cookie', 'u64'], addr: ['addr', 'ipv6'], port: ['port', 'be16'] });
export const sockRevNatValue6Codec = structCodec('sy_sock_revnat_value6', { addr: ['addr', 'ipv6'], port: ['port', 'be16'], revNatId: ['rev_nat_id', 'u32'] });
export const eventsBudgetCodec = structCodec('sy_events_budget', { windowNs: ['window_ns', 'u64'], used: ['used', 'u32'] });
export const monitorCodec = structCodec('sy_monitor', {
  flags: ['flags', 'u32'], ctSample: ['ct_sample', 'u32'], traceFrontendId: ['trace_frontend_id', 'u32'], traceBackendId: ['trace_backend_id', 'u32'],
  clientFamily: ['client_family', 'u8'], clientPrefixLen: ['client_prefix_len', 'u8'],
});
export const config6Codec = structCodec('sy_config6', { nodeAddr: ['node_addr', 'ipv6'], svcNet: ['svc_net', 'ipv6'], svcMask: ['svc_mask', 'ipv6'] });

export type SvcKey = ReturnType<typeof svcKeyCodec.decode>;
export type SvcValue = ReturnType<typeof svcValueCodec.decode>;
export type BackendValue = ReturnType<typeof backendCodec.decode>;
export type RevNatValue = ReturnType<typeof revNatCodec.decode>;
export type CtKey = ReturnType<typeof ctKeyCodec.decode>;
export type CtValue = ReturnType<typeof ctValueCodec.decode>;
export type AffinityKey = ReturnType<typeof affinityKeyCodec.decode>;
export type AffinityValue = ReturnType<typeof affinityValueCodec.decode>;
export type AttachKey = ReturnType<typeof attachKeyCodec.decode>;
export type AttachValue = ReturnType<typeof attachValueCodec.decode>;
export type SvcStatsKey = ReturnType<typeof svcStatsKeyCodec.decode>;
/** sy_svc_stats value, summed over CPUs. */
export type SvcStatsValue = ReturnType<typeof svcStatsCodec.decode>;
/** sy_config as shown: the Service CIDR (svc_net/svc_mask) as "a.b.c.d/len", '' when the mask is 0 (none). */
export interface ConfigValue { flowHashSeed: number; flags: number; nodeAddr: string; snatPortMin: number; snatPortMax: number; hostNetnsCookie: string; serviceCIDR: string }

export function svcKeyString(k: SvcKey): string {
  return `${k.addr}:${k.port}/${k.proto}/${k.scope}`;
}

export const decodeSvcKey = svcKeyCodec.decode;
export const encodeSvcKey = svcKeyCodec.encode;
export const decodeSvcValue = svcValueCodec.decode;
export const decodeBackend = backendCodec.decode;
export const decodeRevNat = revNatCodec.decode;

/** A __u32 key or value (ids, indices), host order. */
export function decodeU32(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);
}

export function encodeU32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

/** sy_maglev values as the loader reads them: M little-endian u32 (it unpacks struct sy_maglev_slots). */
export function decodeU32Array(b: Uint8Array): Uint32Array {
  const out = new Uint32Array(b.byteLength / 4);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = v.getUint32(i * 4, true);
  return out;
}

/** sy_source_ranges key: the LPM prefix length is 32 (the frontend id) + the CIDR's. */
export function decodeSourceRangeKey(b: Uint8Array): { frontendId: number; addr: string; prefixLen: number } {
  const k = sourceRangeKeyCodec.decode(b);
  return { frontendId: k.frontendId, addr: k.addr, prefixLen: k.prefixlen - 32 };
}

/** sy_source_ranges6 key, as decodeSourceRangeKey. */
export function decodeSourceRangeKey6(b: Uint8Array): { frontendId: number; addr: string; prefixLen: number } {
  const k = sourceRangeKey6Codec.decode(b);
  return { frontendId: k.frontendId, addr: k.addr, prefixLen: k.prefixlen - 32 };
}

/** sy_config6 as shown: the IPv6 Service CIDR as "net/len", '' when the mask is all zero (none). */
export function decodeConfig6(b: Uint8Array): { nodeAddr: string; serviceCIDR: string } {
  const c = config6Codec.decode(b);
  const f = SY_STRUCTS.sy_config6.fields.svc_mask;
  return { nodeAddr: c.nodeAddr, serviceCIDR: cidrOfMask(c.svcNet, b.subarray(f.offset, f.offset + f.size)) };
}

/** sy_config; older, shorter layouts read the missing fields as 0. */
export function decodeConfig(b: Uint8Array): ConfigValue {
  const { svcNet, svcMask, ...c } = configCodec.decode(b);
  return { ...c, hostNetnsCookie: c.hostNetnsCookie.toString(), serviceCIDR: serviceCIDROf(svcNet, svcMask) };
}

/** "net/len" of a network and its dotted-quad mask; '' for the zero mask (no Service CIDR). */
function serviceCIDROf(net: string, mask: string): string {
  return cidrOfMask(net, ipv4ToBytes(mask));
}

/** "net/len" of a network and its (contiguous) mask bytes, either family; '' for the zero mask (none given). */
function cidrOfMask(net: string, mask: Uint8Array): string {
  let len = 0;
  // Leading ones of each byte: the zeros leading its complement, past the 24 high bits.
  for (const byte of mask) len += Math.clz32(~byte & 0xff) - 24;
  return len === 0 ? '' : `${net}/${len}`;
}

/** Per-CPU values (sy_svc_stats): the loader sums them; copies handed unsummed (a multiple of the size) are summed here. */
export function decodeSvcStatsValue(b: Uint8Array): SvcStatsValue {
  let packets = 0n, bytes = 0n;
  for (let off = 0; off + svcStatsCodec.size <= b.byteLength; off += svcStatsCodec.size) {
    const v = svcStatsCodec.decode(b.subarray(off, off + svcStatsCodec.size));
    packets += v.packets;
    bytes += v.bytes;
  }
  return { packets, bytes };
}

/** sy_counters: u32 index -> __u64 count (per-CPU copies summed like sy_svc_stats). */
export function decodeCounterValue(b: Uint8Array): bigint {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let n = 0n;
  for (let off = 0; off + 8 <= b.byteLength; off += 8) n += v.getBigUint64(off, true);
  return n;
}

/** A MAC address as "aa:bb:..". */
export function formatMac(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** sy_dev_mac value: the MAC as "aa:bb:..", and whether it is set. */
export function decodeDevMac(b: Uint8Array): { mac: string; set: boolean } {
  const d = devMacCodec.decode(b);
  return { mac: formatMac(d.addr), set: d.set === 1 };
}

// ---- names for the admin API (docs/maps.md) ---------------------------------

/** Names of the bits of sy_svc_flag, lowest bit first (test/unit/map-layout.test.ts: one per member). */
export const SVC_FLAG_NAMES: ReadonlyArray<readonly [number, string]> = [
  [SvcFlags.CLUSTERIP, 'ClusterIP'], [SvcFlags.NODEPORT, 'NodePort'], [SvcFlags.EXTERNALIP, 'ExternalIP'],
  [SvcFlags.LOADBALANCER, 'LoadBalancer'], [SvcFlags.LOCAL_EXT, 'ExternalLocal'], [SvcFlags.LOCAL_INT, 'InternalLocal'],
  [SvcFlags.AFFINITY, 'ClientIPAffinity'], [SvcFlags.SOURCE_RANGE, 'SourceRanges'], [SvcFlags.RANDOM, 'Random'],
  [SvcFlags.DROP_NO_EP, 'DropNoEndpoints'], [SvcFlags.HOST_EP, 'HostEndpoint'],
];

/** Names of the bits of sy_ct_flag (one per member, as SVC_FLAG_NAMES). */
export const CT_FLAG_NAMES: ReadonlyArray<readonly [number, string]> = [
  [CtFlags.SEEN_REPLY, 'SeenReply'], [CtFlags.CLOSING, 'Closing'], [CtFlags.SNAT, 'SNAT'], [CtFlags.FIN_FORWARD, 'FinForward'], [CtFlags.FIN_REPLY, 'FinReply'],
  [CtFlags.ESTABLISHED, 'Established'],
];

export const TCP_FLAG_NAMES: ReadonlyArray<readonly [number, string]> = [
  [0x01, 'FIN'], [0x02, 'SYN'], [0x04, 'RST'], [0x08, 'PSH'], [0x10, 'ACK'], [0x20, 'URG'], [0x40, 'ECE'], [0x80, 'CWR'],
];

/** The names of the bits set in `v`; unknown bits as "0x..". */
export function flagNames(v: number, names: ReadonlyArray<readonly [number, string]>): string[] {
  const out: string[] = [];
  let rest = v;
  for (const [bit, name] of names) {
    if (v & bit) out.push(name);
    rest &= ~bit;
  }
  if (rest) out.push(`0x${rest.toString(16)}`);
  return out;
}

/** The frontend kind a service entry's flags say. */
export function frontendKind(flags: number): 'ClusterIP' | 'NodePort' | 'ExternalIP' | 'LoadBalancer' | 'unknown' {
  if (flags & SvcFlags.NODEPORT) return 'NodePort';
  if (flags & SvcFlags.EXTERNALIP) return 'ExternalIP';
  if (flags & SvcFlags.LOADBALANCER) return 'LoadBalancer';
  if (flags & SvcFlags.CLUSTERIP) return 'ClusterIP';
  return 'unknown';
}

export function protoName(p: number): string {
  return p === 6 ? 'TCP' : p === 17 ? 'UDP' : p === 132 ? 'SCTP' : String(p);
}

export function scopeName(s: number): string {
  return s === SY_SCOPE_EXTERNAL ? 'external' : s === SY_SCOPE_INTERNAL ? 'internal' : String(s);
}

