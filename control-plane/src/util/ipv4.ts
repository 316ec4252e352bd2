// IPv4 helpers. Addresses travel as dotted strings in the model and as
// 4 network-order bytes on the loader wire.
import { parseAddress, parsePrefix, type IPFamily } from './ip.js';

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIPv4(s: string): boolean {
  return IPV4_RE.test(s);
}

/** Dotted quad to an unsigned 32-bit integer (host order value of the address). */
export function ipv4ToInt(s: string): number {
  if (!isIPv4(s)) throw new Error(`not an IPv4 address: ${JSON.stringify(s)}`);
  const p = s.split('.').map(Number) as [number, number, number, number];
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

export function intToIpv4(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** The 4 bytes of the address in network order. */
export function ipv4ToBytes(s: string): Uint8Array {
  const n = ipv4ToInt(s);
  return Uint8Array.of((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
}

export function bytesToIpv4(b: Uint8Array): string {
  if (b.length !== 4) throw new Error(`IPv4 address must be 4 bytes, got ${b.length}`);
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** Parses "a.b.c.d/len"; throws on anything else. */
export function parseCidr(cidr: string): { base: number; prefix: number } {
  const [addr, len] = cidr.split('/');
  const prefix = Number(len);
  if (addr === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    throw new Error(`not an IPv4 CIDR: ${JSON.stringify(cidr)}`);
  }
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  return { base: (ipv4ToInt(addr) & mask) >>> 0, prefix };
}

export function cidrContains(cidr: string, ip: string): boolean {
  const { base, prefix } = parseCidr(cidr);
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  return ((ipv4ToInt(ip) & mask) >>> 0) === base;
}

// ---- Sloppy parsing, as kube-proxy reads the API: see util/ip.ts, which
// holds the parser for both families. These wrappers keep the IPv4 callers'
// shapes (canonical text only).

export type { IPFamily } from './ip.js';

export interface ParsedIP {
  family: IPFamily;
  /** Canonical text (dotted decimal without leading zeros for IPv4; RFC 5952 for IPv6). */
  ip: string;
  /** The input was not already canonical (leading zeros; for IPv6 also case and zero compression). */
  normalized: boolean;
}

/** ParseIPSloppy: undefined when the text is no address of either family. */
export function parseIPSloppy(s: string): ParsedIP | undefined {
  const p = parseAddress(s);
  return p && { family: p.family, ip: p.text, normalized: p.normalized };
}

export interface ParsedCIDR {
  family: IPFamily;
  /** Canonical "network/prefix" (host bits cleared, as net.IPNet.String()). */
  cidr: string;
  prefix: number;
  /** The input was not already canonical (leading zeros, host bits, spaces around it). */
  normalized: boolean;
}

/** ParseCIDRSloppy (after the TrimSpace kube-proxy applies to source ranges): undefined when unparseable. */
export function parseCIDRSloppy(raw: string): ParsedCIDR | undefined {
  const p = parsePrefix(raw);
  return p && { family: p.family, cidr: p.cidr, prefix: p.prefix, normalized: p.normalized };
}

/** A port number as the API allows it: an integer in [1, 65535]. */
export function isValidPort(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}
