// IPv4 helpers and a small bitmap-free allocator over a CIDR.

/**
 * IPv4 as kube-apiserver accepts it in its legacy fields (clusterIP(s),
 * externalIPs, EndpointSlice addresses, LoadBalancer ingress): Go's old
 * parser, where octets are decimal and may carry leading zeros
 * ("198.018.000.010"). Stored verbatim; kube-proxy reads them the same way.
 */
export function isIPv4(s: string): boolean {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  return !!m && m.slice(1).every((o) => o.length < 8 && Number(o) <= 255);
}

export function ipToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  return (((parts[0] ?? 0) << 24) | ((parts[1] ?? 0) << 16) | ((parts[2] ?? 0) << 8) | (parts[3] ?? 0)) >>> 0;
}

export function intToIp(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface Cidr {
  /** Network address as an integer. */
  network: number;
  prefix: number;
  /** Broadcast (last) address as an integer. */
  broadcast: number;
  text: string;
}

export function parseCidr(text: string): Cidr {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(text.trim());
  if (!m || !isIPv4(m[1] as string)) throw new Error(`invalid IPv4 CIDR ${JSON.stringify(text)}`);
  const prefix = Number(m[2]);
  if (prefix < 0 || prefix > 30) throw new Error(`CIDR ${text}: prefix must be between 0 and 30`);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (ipToInt(m[1] as string) & mask) >>> 0;
  const broadcast = (network | (~mask >>> 0)) >>> 0;
  return { network, prefix, broadcast, text };
}

export function cidrContains(c: Cidr, ip: string): boolean {
  if (!isIPv4(ip)) return false;
  const n = ipToInt(ip);
  return n >= c.network && n <= c.broadcast;
}

/**
 * Allocates addresses from a CIDR, excluding the network and broadcast
 * addresses (as kube-apiserver's service IP allocator does). Allocation is
 * sequential from a rotating cursor, so freed addresses are not handed out
 * again at once.
 */
export class IPAllocator {
  readonly cidr: Cidr;
  private readonly used = new Set<number>();
  private cursor: number;

  constructor(cidrText: string) {
    this.cidr = parseCidr(cidrText);
    this.cursor = this.cidr.network + 1;
  }

  get size(): number {
    return this.cidr.broadcast - this.cidr.network - 1;
  }

  contains(ip: string): boolean {
    if (!cidrContains(this.cidr, ip)) return false;
    const n = ipToInt(ip);
    return n !== this.cidr.network && n !== this.cidr.broadcast;
  }

  has(ip: string): boolean {
    return this.used.has(ipToInt(ip));
  }

  /** Marks a specific address used; false when out of range or taken. */
  allocate(ip: string): boolean {
    if (!this.contains(ip)) return false;
    const n = ipToInt(ip);
    if (this.used.has(n)) return false;
    this.used.add(n);
    return true;
  }

  allocateNext(): string | undefined {
    const first = this.cidr.network + 1;
    const last = this.cidr.broadcast - 1;
    const span = last - first + 1;
    for (let i = 0; i < span; i++) {
      let n = this.cursor + i;
      if (n > last) n = first + ((n - first) % span);
      if (!this.used.has(n)) {
        this.used.add(n);
        this.cursor = n + 1 > last ? first : n + 1;
        return intToIp(n);
      }
    }
    return undefined;
  }

  release(ip: string): void {
    if (isIPv4(ip)) this.used.delete(ipToInt(ip));
  }

  allocated(): number {
    return this.used.size;
  }
}

/** Allocates port numbers from an inclusive range, sequentially from a rotating cursor. */
export class PortAllocator {
  private readonly used = new Set<number>();
  private cursor: number;

  constructor(
    readonly min: number,
    readonly max: number,
  ) {
    this.cursor = min;
  }

  contains(p: number): boolean {
    return Number.isInteger(p) && p >= this.min && p <= this.max;
  }

  has(p: number): boolean {
    return this.used.has(p);
  }

  allocate(p: number): boolean {
    if (!this.contains(p) || this.used.has(p)) return false;
    this.used.add(p);
    return true;
  }

  allocateNext(): number | undefined {
    const span = this.max - this.min + 1;
    for (let i = 0; i < span; i++) {
      const p = this.min + ((this.cursor - this.min + i) % span);
      if (!this.used.has(p)) {
        this.used.add(p);
        this.cursor = p + 1 > this.max ? this.min : p + 1;
        return p;
      }
    }
    return undefined;
  }

  release(p: number): void {
    this.used.delete(p);
  }
}
