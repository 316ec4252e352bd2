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

export const CtFlags = { SEEN_REPLY: 1 << 0, CLOSING: 1 << 1, SNAT: 1 << 2 } as const;

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
