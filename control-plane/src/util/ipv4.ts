// IPv4 helpers. Addresses travel as dotted strings in the model and as
// 4 network-order bytes on the loader wire.
import { isIPv6 } from 'node:net';

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

// ---- Sloppy parsing, as kube-proxy reads the API (k8s.io/utils/net
// ParseIPSloppy / ParseCIDRSloppy: Go's pre-1.17 parser, where each IPv4
// octet is a decimal number that may carry leading zeros: "010.001.0.09" is
// 10.1.0.9, never octal). The canonical dotted form is what the datapath uses.

export type IPFamily = 'IPv4' | 'IPv6';

/** Go's dtoi: the decimal number at the start of s and its length; undefined without a digit or when huge. */
function dtoi(s: string): { n: number; len: number } | undefined {
  let n = 0;
  let i = 0;
  for (; i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57; i++) {
    n = n * 10 + (s.charCodeAt(i) - 48);
    if (n >= 0xffffff) return undefined;
  }
  return i === 0 ? undefined : { n, len: i };
}

/** Go's parseIPv4 of k8s.io/utils/net: four decimal octets, leading zeros allowed; the canonical form or undefined. */
function parseIPv4Sloppy(s: string): string | undefined {
  const out: number[] = [];
  let rest = s;
  for (let i = 0; i < 4; i++) {
    if (rest.length === 0) return undefined;
    if (i > 0) {
      if (rest[0] !== '.') return undefined;
      rest = rest.slice(1);
    }
    const d = dtoi(rest);
    if (!d || d.n > 255) return undefined;
    out.push(d.n);
    rest = rest.slice(d.len);
  }
  return rest.length === 0 ? out.join('.') : undefined;
}

export interface ParsedIP {
  family: IPFamily;
  /** Canonical text (dotted decimal without leading zeros for IPv4; as given for IPv6). */
  ip: string;
  /** The input was not already canonical (leading zeros). */
  normalized: boolean;
}

/** ParseIPSloppy: undefined when the text is no address of either family. */
export function parseIPSloppy(s: string): ParsedIP | undefined {
  if (typeof s !== 'string') return undefined;
  const v4 = parseIPv4Sloppy(s);
  if (v4 !== undefined) return { family: 'IPv4', ip: v4, normalized: v4 !== s };
  if (isIPv6(s)) return { family: 'IPv6', ip: s, normalized: false };
  return undefined;
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
  if (typeof raw !== 'string') return undefined;
  const s = raw.trim();
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const addr = s.slice(0, slash), len = s.slice(slash + 1);
  const d = dtoi(len);
  if (!d || d.len !== len.length) return undefined;
  const v4 = parseIPv4Sloppy(addr);
  if (v4 !== undefined) {
    if (d.n > 32) return undefined;
    const mask = d.n === 0 ? 0 : (~0 << (32 - d.n)) >>> 0;
    const cidr = `${intToIpv4((ipv4ToInt(v4) & mask) >>> 0)}/${d.n}`;
    return { family: 'IPv4', cidr, prefix: d.n, normalized: cidr !== raw };
  }
  if (isIPv6(addr) && d.n <= 128) return { family: 'IPv6', cidr: `${addr}/${d.n}`, prefix: d.n, normalized: false };
  return undefined;
}

/** A port number as the API allows it: an integer in [1, 65535]. */
export function isValidPort(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}
