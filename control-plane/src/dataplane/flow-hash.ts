// The datapath's flow hash, reproduced bit for bit so the control plane can
// predict which Maglev slot a packet lands in (explain, tests). Definition in
// bpf/include/sy_structs.h: lookup3 jhash_3words as in <linux/jhash.h>.
import { mustParseIP } from '../util/ip.js';

const JHASH_INITVAL = 0xdeadbeef;

function rol32(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export function jhash3words(a0: number, b0: number, c0: number, initval: number): number {
  const iv = (initval + JHASH_INITVAL + (3 << 2)) >>> 0;
  let a = (a0 + iv) >>> 0;
  let b = (b0 + iv) >>> 0;
  let c = (c0 + iv) >>> 0;
  c = ((c ^ b) - rol32(b, 14)) >>> 0;
  a = ((a ^ c) - rol32(c, 11)) >>> 0;
  b = ((b ^ a) - rol32(a, 25)) >>> 0;
  c = ((c ^ b) - rol32(b, 16)) >>> 0;
  a = ((a ^ c) - rol32(c, 4)) >>> 0;
  b = ((b ^ a) - rol32(a, 14)) >>> 0;
  c = ((c ^ b) - rol32(b, 24)) >>> 0;
  return c;
}

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

export interface FlowTuple {
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  proto: number;
}

/**
 * An address as the flow hash takes it: IPv4 as its host-order word; IPv6
 * folded to one word, the XOR of its four network-order words
 * (sy_flow_hash6(), docs/maps.md "The flow hash").
 */
export function flowHashWord(addr: string): number {
  const b = mustParseIP(addr).bytes;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let w = 0;
  for (let i = 0; i < b.length; i += 4) w ^= v.getUint32(i, false);
  return w >>> 0;
}

/** The flow hash of a packet of either family; with `affinity` the source port is left out. */
export function flowHash(t: FlowTuple, seed: number, affinity = false): number {
  const ports = (((affinity ? 0 : t.sport) & 0xffff) << 16 | (t.dport & 0xffff)) >>> 0;
  return jhash3words(flowHashWord(t.saddr), flowHashWord(t.daddr), ports, (seed + t.proto) >>> 0);
}

export function protoNumber(p: string): number {
  if (p === 'TCP') return IPPROTO_TCP;
  if (p === 'UDP') return IPPROTO_UDP;
  if (p === 'SCTP') return 132;
  throw new Error(`unknown protocol ${p}`);
}
