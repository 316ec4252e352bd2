// Crafted packets for BPF_PROG_TEST_RUN through a node's loader.
import { ipv4ToBytes, bytesToIpv4 } from '../../control-plane/src/util/ipv4.js';

function csum(buf: Uint8Array, init = 0): number {
  let s = init;
  for (let i = 0; i + 1 < buf.length; i += 2) s += (buf[i]! << 8) | buf[i + 1]!;
  if (buf.length & 1) s += buf[buf.length - 1]! << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

/** Ethernet + IPv4 + TCP SYN from src:sport to dst:dport, checksums filled. */
export function tcpSyn(src: string, sport: number, dst: string, dport: number): Uint8Array {
  const p = new Uint8Array(14 + 20 + 20);
  const v = new DataView(p.buffer);
  p.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2], 0);
  v.setUint16(12, 0x0800);
  const ip = 14;
  p[ip] = 0x45;
  v.setUint16(ip + 2, 40);
  v.setUint16(ip + 4, 1);
  p[ip + 8] = 64;
  p[ip + 9] = 6;
  p.set(ipv4ToBytes(src), ip + 12);
  p.set(ipv4ToBytes(dst), ip + 16);
  v.setUint16(ip + 10, csum(p.subarray(ip, ip + 20)));
  const t = ip + 20;
  v.setUint16(t, sport);
  v.setUint16(t + 2, dport);
  v.setUint32(t + 4, 1000);
  p[t + 12] = 5 << 4;
  p[t + 13] = 0x02;
  v.setUint16(t + 14, 65535);
  const pseudo = new Uint8Array(12 + 20);
  pseudo.set(p.subarray(ip + 12, ip + 20), 0);
  pseudo[9] = 6;
  new DataView(pseudo.buffer).setUint16(10, 20);
  pseudo.set(p.subarray(t, t + 20), 12);
  v.setUint16(t + 16, csum(pseudo));
  return p;
}

/** Destination address and port of an Ethernet/IPv4/TCP-or-UDP packet. */
export function destination(p: Uint8Array): { addr: string; port: number } {
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const ihl = (p[14]! & 0x0f) * 4;
  return { addr: bytesToIpv4(p.subarray(30, 34)), port: v.getUint16(14 + ihl + 2) };
}
