// Ethernet/IPv4/TCP and Ethernet/IPv6/TCP frames for BPF_PROG_TEST_RUN
// (the family follows the addresses), and reading the addresses back out of
// what the program returned.
import { formatIP, mustParseIP } from '../control-plane/src/util/ip.js';
import { bytesToIpv4, ipv4ToBytes } from '../control-plane/src/util/ipv4.js';

export const TCP_SYN = 0x02;
export const TCP_ACK = 0x10;
export const TCP_PSH = 0x08;

function csum(buf: Uint8Array, init = 0): number {
  let s = init;
  for (let i = 0; i + 1 < buf.length; i += 2) s += (buf[i]! << 8) | buf[i + 1]!;
  if (buf.length & 1) s += buf[buf.length - 1]! << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

export interface TcpSpec {
  src: string;
  sport: number;
  dst: string;
  dport: number;
  flags: number;
  seq?: number;
  ack?: number;
  payload?: Uint8Array;
  /** Destination MAC "aa:bb:..." (default all zero, lo's: see tcpFrame). */
  dmac?: string;
}

/** Ethernet header: destination MAC, a fixed source, the EtherType. */
function writeEthernet(p: Uint8Array, s: TcpSpec, etherType: number): void {
  // Destination MAC: by default 00:00:00:00:00:00, the loopback device's:
  // the test run classifies a tc frame on lo (eth_type_trans), and tc serves
  // only frames addressed to the host (PACKET_HOST); sy_xdp likewise serves
  // only frames to its device's MAC (s.dmac).
  p.set(s.dmac ? s.dmac.split(':').map((h) => parseInt(h, 16)) : [0, 0, 0, 0, 0, 0], 0);
  p.set([2, 0, 0, 0, 0, 2], 6);
  new DataView(p.buffer).setUint16(12, etherType);
}

/**
 * The TCP segment at offset t (no options) with its checksum over `pseudo`,
 * the family's pseudo-header (addresses, protocol and length as that family
 * lays them out).
 */
function writeTcp(p: Uint8Array, t: number, s: TcpSpec, payload: Uint8Array, pseudo: Uint8Array): void {
  const v = new DataView(p.buffer);
  v.setUint16(t, s.sport);
  v.setUint16(t + 2, s.dport);
  v.setUint32(t + 4, s.seq ?? 1000);
  v.setUint32(t + 8, s.ack ?? 0);
  p[t + 12] = 5 << 4;
  p[t + 13] = s.flags;
  v.setUint16(t + 14, 65535);
  p.set(payload, t + 20);
  const seg = p.subarray(t, t + 20 + payload.length);
  const sum = new Uint8Array(pseudo.length + seg.length);
  sum.set(pseudo, 0);
  sum.set(seg, pseudo.length);
  v.setUint16(t + 16, csum(sum));
}

/** A complete frame with valid IPv4 (or IPv6, for IPv6 addresses) and TCP checksums. */
export function tcpFrame(s: TcpSpec): Uint8Array {
  if (s.src.includes(':') || s.dst.includes(':')) return tcp6Frame(s);
  const payload = s.payload ?? new Uint8Array(0);
  const seg = 20 + payload.length;
  const p = new Uint8Array(14 + 20 + seg);
  const v = new DataView(p.buffer);
  writeEthernet(p, s, 0x0800);
  const ip = 14;
  p[ip] = 0x45;
  v.setUint16(ip + 2, 20 + seg);
  v.setUint16(ip + 4, 1);
  v.setUint16(ip + 6, 0x4000); // DF
  p[ip + 8] = 64;
  p[ip + 9] = 6;
  p.set(ipv4ToBytes(s.src), ip + 12);
  p.set(ipv4ToBytes(s.dst), ip + 16);
  v.setUint16(ip + 10, csum(p.subarray(ip, ip + 20)));
  const pseudo = new Uint8Array(12); // saddr, daddr, 0, protocol, TCP length
  pseudo.set(p.subarray(ip + 12, ip + 20), 0);
  pseudo[9] = 6;
  new DataView(pseudo.buffer).setUint16(10, seg);
  writeTcp(p, ip + 20, s, payload, pseudo);
  return p;
}

/** Ethernet + IPv6 (no extension header) + TCP, checksum over the IPv6 pseudo-header. */
function tcp6Frame(s: TcpSpec): Uint8Array {
  const payload = s.payload ?? new Uint8Array(0);
  const src = mustParseIP(s.src), dst = mustParseIP(s.dst);
  if (src.family !== 'IPv6' || dst.family !== 'IPv6') throw new Error(`tcpFrame: mixed families ${s.src} -> ${s.dst}`);
  const seg = 20 + payload.length;
  const p = new Uint8Array(14 + 40 + seg);
  const v = new DataView(p.buffer);
  writeEthernet(p, s, 0x86dd);
  const ip = 14;
  p[ip] = 0x60;
  v.setUint16(ip + 4, seg);
  p[ip + 6] = 6;
  p[ip + 7] = 64;
  p.set(src.bytes, ip + 8);
  p.set(dst.bytes, ip + 24);
  const pseudo = new Uint8Array(40); // saddr, daddr, upper-layer length (32 bits), 3 zero bytes, next header
  pseudo.set(p.subarray(ip + 8, ip + 40), 0);
  new DataView(pseudo.buffer).setUint32(32, seg);
  pseudo[39] = 6;
  writeTcp(p, ip + 40, s, payload, pseudo);
  return p;
}

export interface Tuple { src: string; sport: number; dst: string; dport: number }

/** Source and destination of an Ethernet/IPv4-or-IPv6/TCP-or-UDP frame (IPv6: no extension header). */
export function tupleOf(p: Uint8Array): Tuple {
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  if (p.length >= 58 && v.getUint16(12) === 0x86dd) {
    return { src: formatIP(p.slice(22, 38)), dst: formatIP(p.slice(38, 54)), sport: v.getUint16(54), dport: v.getUint16(56) };
  }
  const ihl = (p[14]! & 0x0f) * 4;
  return {
    src: bytesToIpv4(p.subarray(26, 30)),
    dst: bytesToIpv4(p.subarray(30, 34)),
    sport: v.getUint16(14 + ihl),
    dport: v.getUint16(14 + ihl + 2),
  };
}
