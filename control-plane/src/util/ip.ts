// Addresses of both families, read as kube-proxy reads the API
// (k8s.io/utils/net ParseIPSloppy / ParseCIDRSloppy: Go's pre-1.17 parser,
// where an IPv4 octet is a decimal number that may carry leading zeros,
// "010.001.0.09" is 10.1.0.9, never octal). IPv6 text is brought to its
// RFC 5952 form, which is the form the model, the logs and the back ends use.
// An IPv4-mapped IPv6 address ("::ffff:a.b.c.d") is recognised and flagged:
// kube-apiserver's strict IP validation refuses it, and Go's parser would
// silently read it as IPv4, so the model refuses it in every field.

export type IPFamily = 'IPv4' | 'IPv6';

export const IP_FAMILIES: readonly IPFamily[] = ['IPv4', 'IPv6'];

export function otherFamily(f: IPFamily): IPFamily {
  return f === 'IPv4' ? 'IPv6' : 'IPv4';
}

export function isIPFamily(v: unknown): v is IPFamily {
  return v === 'IPv4' || v === 'IPv6';
}

/** One address with its family: canonical text and network-order bytes (4 or 16). */
export interface IP {
  family: IPFamily;
  text: string;
  bytes: Uint8Array;
}

export interface ParsedAddress extends IP {
  /** The input was not already canonical (leading zeros, upper case, uncompressed zeros). */
  normalized: boolean;
  /** ::ffff:a.b.c.d: an IPv6 text holding an IPv4 address (refused by the model, see above). */
  ipv4Mapped: boolean;
}

/** Go's dtoi: the decimal number at the start of s and its length; undefined without a digit or when huge. */
export function dtoi(s: string): { n: number; len: number } | undefined {
  let n = 0;
  let i = 0;
  for (; i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57; i++) {
    n = n * 10 + (s.charCodeAt(i) - 48);
    if (n >= 0xffffff) return undefined;
  }
  return i === 0 ? undefined : { n, len: i };
}

/** Go's parseIPv4 of k8s.io/utils/net: four decimal octets, leading zeros allowed; 4 bytes or undefined. */
function parseIPv4Bytes(s: string): Uint8Array | undefined {
  const out = new Uint8Array(4);
  let rest = s;
  for (let i = 0; i < 4; i++) {
    if (rest.length === 0) return undefined;
    if (i > 0) {
      if (rest[0] !== '.') return undefined;
      rest = rest.slice(1);
    }
    const d = dtoi(rest);
    if (!d || d.n > 255) return undefined;
    out[i] = d.n;
    rest = rest.slice(d.len);
  }
  return rest.length === 0 ? out : undefined;
}

/** Go's xtoi as ParseIPSloppy runs it: a hex group of any length whose value fits 16 bits ("00001" is 1). */
function xtoi(s: string): { n: number; len: number } | undefined {
  let n = 0;
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const v = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (v < 0) break;
    n = n * 16 + v;
    if (n > 0xffff) return undefined;
  }
  return i === 0 ? undefined : { n, len: i };
}

/**
 * Go's parseIPv6: eight 16-bit hex groups, one "::" for a run of zero
 * groups, an IPv4 dotted tail in the last 32 bits. No zone ("%eth0"), no
 * brackets, no prefix. 16 bytes or undefined.
 */
function parseIPv6Bytes(s: string): Uint8Array | undefined {
  const ip = new Uint8Array(16);
  let ellipsis = -1;
  let rest = s;
  if (rest.startsWith('::')) {
    ellipsis = 0;
    rest = rest.slice(2);
    if (rest.length === 0) return ip;
  }
  let i = 0;
  while (i < 16) {
    const g = xtoi(rest);
    if (!g) return undefined;
    if (g.len < rest.length && rest[g.len] === '.') {
      // An IPv4 tail: only at the end, only where 4 bytes remain.
      if (ellipsis < 0 && i !== 12) return undefined;
      if (i + 4 > 16) return undefined;
      const v4 = parseIPv4Bytes(rest);
      if (!v4) return undefined;
      ip.set(v4, i);
      rest = '';
      i += 4;
      break;
    }
    ip[i] = g.n >> 8;
    ip[i + 1] = g.n & 0xff;
    i += 2;
    rest = rest.slice(g.len);
    if (rest.length === 0) break;
    if (rest[0] !== ':' || rest.length === 1) return undefined;
    rest = rest.slice(1);
    if (rest[0] === ':') {
      if (ellipsis >= 0) return undefined;
      ellipsis = i;
      rest = rest.slice(1);
      if (rest.length === 0) break;
    }
  }
  if (rest.length !== 0) return undefined;
  if (i < 16) {
    if (ellipsis < 0) return undefined;
    const n = 16 - i;
    for (let j = i - 1; j >= ellipsis; j--) ip[j + n] = ip[j]!;
    for (let j = ellipsis + n - 1; j >= ellipsis; j--) ip[j] = 0;
  } else if (ellipsis >= 0) {
    return undefined; // "::" must stand for at least one group
  }
  return ip;
}

export function isIPv4MappedBytes(b: Uint8Array): boolean {
  if (b.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** The text of 4 or 16 address bytes: dotted decimal, or RFC 5952 for IPv6. */
export function formatIP(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) throw new Error(`an address is 4 or 16 bytes, got ${b.length}`);
  // RFC 5952 5: IPv4-mapped addresses keep their dotted tail.
  if (isIPv4MappedBytes(b)) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  // RFC 5952 4.2: the longest run of two or more zero groups becomes "::" (the first one on a tie).
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (best < 0) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
}

/** ParseIPSloppy for both families: undefined when the text is no address. */
export function parseAddress(s: unknown): ParsedAddress | undefined {
  if (typeof s !== 'string') return undefined;
  const v4 = parseIPv4Bytes(s);
  // A canonical input is returned as the text itself, not an equal copy: the
  // agent keeps an address per endpoint in several places (100,000 copies).
  if (v4) {
    const text = formatIP(v4);
    return { family: 'IPv4', text: text === s ? s : text, bytes: v4, normalized: text !== s, ipv4Mapped: false };
  }
  if (!s.includes(':')) return undefined;
  const v6 = parseIPv6Bytes(s);
  if (!v6) return undefined;
  const text = formatIP(v6);
  return { family: 'IPv6', text: text === s ? s : text, bytes: v6, normalized: text !== s, ipv4Mapped: isIPv4MappedBytes(v6) };
}

/** Parses a canonical or sloppy address; throws on anything else. */
export function mustParseIP(s: string): IP {
  const p = parseAddress(s);
  if (!p) throw new Error(`not an IP address: ${JSON.stringify(s)}`);
  return { family: p.family, text: p.text, bytes: p.bytes };
}

export interface ParsedPrefix {
  family: IPFamily;
  /** Canonical "network/prefix" (host bits cleared, as net.IPNet.String()). */
  cidr: string;
  /** Network bytes (host bits cleared). */
  bytes: Uint8Array;
  prefix: number;
  /** The input was not already canonical (leading zeros, host bits, case, spaces around it). */
  normalized: boolean;
  /** The address part is IPv4-mapped IPv6 ("::ffff:10.0.0.0/104"). */
  ipv4Mapped: boolean;
}

function maskBytes(b: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = b[i]! & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

/** ParseCIDRSloppy for both families (after the TrimSpace kube-proxy applies to source ranges). */
export function parsePrefix(raw: unknown): ParsedPrefix | undefined {
  if (typeof raw !== 'string') return undefined;
  const s = raw.trim();
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const addr = s.slice(0, slash), len = s.slice(slash + 1);
  const d = dtoi(len);
  if (!d || d.len !== len.length) return undefined;
  const a = parseAddress(addr);
  if (!a) return undefined;
  const bitsOf = a.bytes.length * 8;
  if (d.n > bitsOf) return undefined;
  const bytes = maskBytes(a.bytes, d.n);
  const cidr = `${formatIP(bytes)}/${d.n}`;
  return { family: a.family, cidr, bytes, prefix: d.n, normalized: cidr !== raw, ipv4Mapped: a.ipv4Mapped };
}

/** Whether `ip` lies in `cidr` (both sloppy-parsed); addresses of the other family never do. */
export function prefixContains(cidr: string | ParsedPrefix, ip: string | IP): boolean {
  const c = typeof cidr === 'string' ? parsePrefix(cidr) : cidr;
  const a = typeof ip === 'string' ? parseAddress(ip) : ip;
  if (!c || !a) throw new Error(`not a CIDR and an address: ${JSON.stringify(cidr)}, ${JSON.stringify(ip)}`);
  if (a.family !== c.family) return false;
  const m = maskBytes(a.bytes, c.prefix);
  return m.every((v, i) => v === c.bytes[i]);
}
