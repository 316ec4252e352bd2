// The byte layouts of the pinned maps (bpf/include/sy_structs.h), as plain
// objects with encoders/decoders. Addresses and ports are network order on
// the wire; everything else little endian.
import { bytesToIpv4, ipv4ToBytes } from '../../util/ipv4.js';

export const SY_SCOPE_EXTERNAL = 0;
export const SY_SCOPE_INTERNAL = 1;

export const SvcFlags = {
  CLUSTERIP: 1 << 0,
  NODEPORT: 1 << 1,
  EXTERNALIP: 1 << 2,
  LOADBALANCER: 1 << 3,
  LOCAL_EXT: 1 << 4,
  LOCAL_INT: 1 << 5,
  AFFINITY: 1 << 6,
  SOURCE_RANGE: 1 << 7,
  RANDOM: 1 << 8,
  DROP_NO_EP: 1 << 9,
  /** An endpoint is this node's own address (a hostNetwork pod on this node). */
  HOST_EP: 1 << 10,
} as const;

export const BackendState = { ACTIVE: 0, TERMINATING: 1 } as const;
export const BackendFlags = { LOCAL: 1 << 0 } as const;

export interface SvcKey { addr: string; port: number; proto: number; scope: number }
export interface SvcValue { id: number; group: number; count: number; flags: number; affinityTimeout: number; tableSize: number }
export interface BackendValue { addr: string; port: number; proto: number; state: number; flags: number; zone: number }
export interface RevNatValue { addr: string; port: number }

export function svcKeyString(k: SvcKey): string {
  return `${k.addr}:${k.port}/${k.proto}/${k.scope}`;
}

export function decodeSvcKey(b: Uint8Array): SvcKey {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { addr: bytesToIpv4(b.subarray(0, 4)), port: v.getUint16(4, false), proto: b[6]!, scope: b[7]! };
}

export function encodeSvcKey(k: SvcKey): Uint8Array {
  const b = new Uint8Array(8);
  b.set(ipv4ToBytes(k.addr), 0);
  new DataView(b.buffer).setUint16(4, k.port, false);
  b[6] = k.proto;
  b[7] = k.scope;
  return b;
}

export function decodeSvcValue(b: Uint8Array): SvcValue {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    id: v.getUint32(0, true), group: v.getUint32(4, true), count: v.getUint16(8, true),
    flags: v.getUint16(10, true), affinityTimeout: v.getUint32(12, true), tableSize: v.getUint32(16, true),
  };
}

export function decodeBackend(b: Uint8Array): BackendValue {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    addr: bytesToIpv4(b.subarray(0, 4)), port: v.getUint16(4, false), proto: b[6]!, state: b[7]!, flags: b[8]!,
    zone: v.getUint32(12, true),
  };
}

export function decodeRevNat(b: Uint8Array): RevNatValue {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { addr: bytesToIpv4(b.subarray(0, 4)), port: v.getUint16(4, false) };
}

export function decodeU32(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);
}

export function decodeU32Array(b: Uint8Array): Uint32Array {
  const out = new Uint32Array(b.byteLength / 4);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = v.getUint32(i * 4, true);
  return out;
}

export interface CtKey { saddr: string; daddr: string; sport: number; dport: number; proto: number; dir: number }
export interface CtValue {
  lastSeen: bigint; backendId: number; revNatId: number; tcpFlags: number; flags: number;
  /** SNATed flows: forward = the source used, reply = the client to restore. */
  natAddr: string; natPort: number;
}

export const CtFlags = { SEEN_REPLY: 1 << 0, CLOSING: 1 << 1, SNAT: 1 << 2, FIN_FORWARD: 1 << 3, FIN_REPLY: 1 << 4, ESTABLISHED: 1 << 5 } as const;

export function decodeCtKey(b: Uint8Array): CtKey {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    saddr: bytesToIpv4(b.subarray(0, 4)), daddr: bytesToIpv4(b.subarray(4, 8)),
    sport: v.getUint16(8, false), dport: v.getUint16(10, false), proto: b[12]!, dir: b[13]!,
  };
}

export function decodeCtValue(b: Uint8Array): CtValue {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    lastSeen: v.getBigUint64(0, true), backendId: v.getUint32(8, true), revNatId: v.getUint32(12, true),
    tcpFlags: v.getUint16(16, true), flags: v.getUint16(18, true),
    // Layout grew from 24 to 32 bytes for SNAT; read the NAT fields only when present.
    natAddr: b.byteLength >= 26 ? bytesToIpv4(b.subarray(20, 24)) : '0.0.0.0',
    natPort: b.byteLength >= 26 ? v.getUint16(24, false) : 0,
  };
}

/** sy_source_ranges key: {u32 prefixlen (32 + CIDR bits); u32 frontend_id; be32 addr}. */
export function decodeSourceRangeKey(b: Uint8Array): { frontendId: number; addr: string; prefixLen: number } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { frontendId: v.getUint32(4, true), addr: bytesToIpv4(b.subarray(8, 12)), prefixLen: v.getUint32(0, true) - 32 };
}

// ---- decoders for the admin API (docs/maps.md) ----------------------------

/** Names of the bits of sy_svc_value.flags, lowest bit first. */
export const SVC_FLAG_NAMES: ReadonlyArray<readonly [number, string]> = [
  [SvcFlags.CLUSTERIP, 'ClusterIP'], [SvcFlags.NODEPORT, 'NodePort'], [SvcFlags.EXTERNALIP, 'ExternalIP'],
  [SvcFlags.LOADBALANCER, 'LoadBalancer'], [SvcFlags.LOCAL_EXT, 'ExternalLocal'], [SvcFlags.LOCAL_INT, 'InternalLocal'],
  [SvcFlags.AFFINITY, 'ClientIPAffinity'], [SvcFlags.SOURCE_RANGE, 'SourceRanges'], [SvcFlags.RANDOM, 'Random'],
  [SvcFlags.DROP_NO_EP, 'DropNoEndpoints'], [SvcFlags.HOST_EP, 'HostEndpoint'],
];

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

export interface AffinityKey { client: string; group: number }
export interface AffinityValue { lastUsed: bigint; backendId: number }

export function decodeAffinityKey(b: Uint8Array): AffinityKey {
  return { client: bytesToIpv4(b.subarray(0, 4)), group: new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(4, true) };
}

export function decodeAffinityValue(b: Uint8Array): AffinityValue {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { lastUsed: v.getBigUint64(0, true), backendId: v.getUint32(8, true) };
}

/** SY_HOOK_* (sy_attach keys, sy_svc_stats keys). */
export const HOOK_NAMES = ['tc_ingress', 'xdp', 'sock_lb'] as const;
/** SY_ATTACH_*. */
export const ATTACH_MODE_NAMES = ['tcx', 'clsact', 'xdp-native', 'xdp-generic', 'cgroup'] as const;

export function hookName(h: number): string {
  return HOOK_NAMES[h] ?? String(h);
}

export interface AttachKey { ifindex: number; hook: number }
export interface AttachValue { mode: number; progId: number; ifname: string }

export function decodeAttachKey(b: Uint8Array): AttachKey {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { ifindex: v.getUint32(0, true), hook: v.getUint32(4, true) };
}

export function decodeAttachValue(b: Uint8Array): AttachValue {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const name = b.subarray(8, 24);
  const nul = name.indexOf(0);
  return { mode: v.getUint32(0, true), progId: v.getUint32(4, true), ifname: Buffer.from(name.subarray(0, nul < 0 ? name.length : nul)).toString('latin1') };
}

/** sy_config: {u32 flow_hash_seed; u32 flags; be32 node_addr; u16 snat_port_min; u16 snat_port_max; u64 host_netns_cookie; be32 svc_net; be32 svc_mask} (32 bytes; 24 before svc_net, 16 before the cookie). */
export interface ConfigValue { flowHashSeed: number; flags: number; nodeAddr: string; snatPortMin: number; snatPortMax: number; hostNetnsCookie: string; serviceCIDR?: string }

/** "a.b.c.d/len" of sy_config.svc_net/svc_mask (network order); '' when the mask is 0 (none). */
function serviceCIDROf(net: Uint8Array, mask: number): string {
  if (mask === 0) return '';
  let len = 0;
  while (len < 32 && (mask & (0x80000000 >>> len)) !== 0) len++;
  return `${bytesToIpv4(net)}/${len}`;
}

export function decodeConfig(b: Uint8Array): ConfigValue {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    flowHashSeed: v.getUint32(0, true), flags: v.getUint32(4, true), nodeAddr: bytesToIpv4(b.subarray(8, 12)),
    snatPortMin: b.byteLength >= 16 ? v.getUint16(12, true) : 0, snatPortMax: b.byteLength >= 16 ? v.getUint16(14, true) : 0,
    hostNetnsCookie: b.byteLength >= 24 ? v.getBigUint64(16, true).toString() : '0',
    serviceCIDR: b.byteLength >= 32 ? serviceCIDROf(b.subarray(24, 28), v.getUint32(28, false)) : '',
  };
}

/** sy_svc_stats key: {u32 frontend_id; u32 hook}. */
export interface SvcStatsKey { frontendId: number; hook: number }
/** sy_svc_stats value: {u64 packets; u64 bytes}, summed over CPUs. */
export interface SvcStatsValue { packets: bigint; bytes: bigint }

export function decodeSvcStatsKey(b: Uint8Array): SvcStatsKey {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { frontendId: v.getUint32(0, true), hook: v.getUint32(4, true) };
}

/** Sums per-CPU copies when the loader hands them unsummed (a multiple of 16 bytes). */
export function decodeSvcStatsValue(b: Uint8Array): SvcStatsValue {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let packets = 0n, bytes = 0n;
  for (let off = 0; off + 16 <= b.byteLength; off += 16) {
    packets += v.getBigUint64(off, true);
    bytes += v.getBigUint64(off + 8, true);
  }
  return { packets, bytes };
}

/** sy_counters: u32 index -> u64 count (per-CPU copies summed like sy_svc_stats). */
export function decodeCounterValue(b: Uint8Array): bigint {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let n = 0n;
  for (let off = 0; off + 8 <= b.byteLength; off += 8) n += v.getBigUint64(off, true);
  return n;
}

/** Names of the sy_counters slots (SY_CNT_* in sy_structs.h, lower case); unknown slots read "event_<i>". */
export const DATAPATH_COUNTER_NAMES: readonly string[] = [
  'tc_dnat', 'tc_revnat', 'xdp_dnat', 'xdp_revnat', 'xdp_tx', 'xdp_redirect', 'xdp_pass', 'reject_tcp', 'reject_udp',
  'drop_no_backend', 'drop_source_range', 'snat', 'sock_connect', 'sock_sendmsg', 'malformed', 'drop_no_snat_port',
  // 16-23: ICMP errors of translated flows, generated frag-needed, rate limits (sy_icmp.h, sy_ratelimit.h).
  'icmp_err_revnat', 'icmp_err_dnat', 'icmp_err_untracked', 'icmp_err_malformed', 'frag_needed_sent',
  'frag_needed_rate_limited', 'reject_rate_limited', 'too_big_no_df',
  // 24-31: fragments and frames for other hosts (sy_frag.h, sy_pkt_type.h)
  'not_for_host', 'frag_first', 'frag_xlate', 'drop_frag_no_first', 'drop_frag_reject', 'event_29', 'event_30', 'event_31',
  // 32-39: conntrack pairs and TCP state (bpf/include/sy_ct_pair.h).
  'ct_reply_restored', 'ct_forward_restored', 'ct_restore_failed', 'ct_pair_mismatch', 'ct_half_close', 'ct_closed',
  'ct_rst_ignored', 'snat_port_busy',
];

/** sy_icmp_rate: u32 bucket (SY_RL_* in sy_structs.h) -> {bpf_spin_lock (4); u32 tokens; u64 last_ns}. */
export const RATE_BUCKET_NAMES: readonly string[] = ['reject', 'frag_needed'];

export function decodeRateBucket(b: Uint8Array): { tokens: number; lastNs: bigint } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { tokens: v.getUint32(4, true), lastNs: v.getBigUint64(8, true) };
}

export function counterName(i: number): string {
  return DATAPATH_COUNTER_NAMES[i] ?? `event_${i}`;
}

/** sy_frag: {be32 saddr; be32 daddr; be16 id; u8 proto; u8 pad} -> {be16 sport; be16 dport}. */
export function decodeFrag(key: Uint8Array, value: Uint8Array): { saddr: string; daddr: string; id: number; proto: number; sport: number; dport: number } {
  const k = new DataView(key.buffer, key.byteOffset, key.byteLength);
  const v = new DataView(value.buffer, value.byteOffset, value.byteLength);
  return {
    saddr: bytesToIpv4(key.subarray(0, 4)), daddr: bytesToIpv4(key.subarray(4, 8)), id: k.getUint16(8, false), proto: key[10]!,
    sport: v.getUint16(0, false), dport: v.getUint16(2, false),
  };
}

/** sy_sock_revnat: {u64 cookie; be32 addr; be16 port; u16 pad} -> {be32 addr; be16 port; u16 pad; u32 rev_nat_id}. */
export function decodeSockRevNat(key: Uint8Array, value: Uint8Array): { cookie: bigint; backendAddr: string; backendPort: number; frontendAddr: string; frontendPort: number; revNatId: number } {
  const k = new DataView(key.buffer, key.byteOffset, key.byteLength);
  const v = new DataView(value.buffer, value.byteOffset, value.byteLength);
  return {
    cookie: k.getBigUint64(0, true), backendAddr: bytesToIpv4(key.subarray(8, 12)), backendPort: k.getUint16(12, false),
    frontendAddr: bytesToIpv4(value.subarray(0, 4)), frontendPort: v.getUint16(4, false), revNatId: v.getUint32(8, true),
  };
}
