// Service ClusterIP allocators of both families behind one interface, as
// kube-apiserver keeps one allocator per family of --service-cluster-ip-range.
// IPv4 is ip.ts's IPAllocator (network and broadcast excluded); IPv6 excludes
// only the network address (IPv6 has no broadcast; kube's ipallocator does
// the same). Addresses are compared by value, so "fd00::0a" and "fd00::a" are
// one address.
import { formatIP, parseAddress, parsePrefix, type IPFamily } from '../../../control-plane/src/util/ip.js';
import { IPAllocator } from './ip.js';

export interface ServiceIPAllocator {
  readonly family: IPFamily;
  /** The CIDR as configured (for messages). */
  readonly cidrText: string;
  /** In range and not the network (or IPv4 broadcast) address. */
  contains(ip: string): boolean;
  has(ip: string): boolean;
  /** Marks a specific address used; false when out of range or taken. */
  allocate(ip: string): boolean;
  allocateNext(): string | undefined;
  release(ip: string): void;
  allocated(): number;
}

class IPv4ServiceAllocator implements ServiceIPAllocator {
  readonly family = 'IPv4' as const;
  readonly cidrText: string;
  constructor(readonly inner: IPAllocator) {
    this.cidrText = inner.cidr.text;
  }
  contains(ip: string): boolean {
    return this.inner.contains(ip);
  }
  has(ip: string): boolean {
    return this.inner.contains(ip) && this.inner.has(ip);
  }
  allocate(ip: string): boolean {
    return this.inner.allocate(ip);
  }
  allocateNext(): string | undefined {
    return this.inner.allocateNext();
  }
  release(ip: string): void {
    this.inner.release(ip);
  }
  allocated(): number {
    return this.inner.allocated();
  }
}

function toBig(b: Uint8Array): bigint {
  let n = 0n;
  for (const x of b) n = (n << 8n) | BigInt(x);
  return n;
}

function fromBig(n: bigint): string {
  const b = new Uint8Array(16);
  for (let i = 15; i >= 0; i--) {
    b[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return formatIP(b);
}

/** Smallest IPv6 service prefix: kube-apiserver refuses ranges larger than /108 (2^20 addresses) for its bitmap. */
export const MIN_IPV6_SERVICE_PREFIX = 108;

/** Sequential allocation from a rotating cursor, like the IPv4 one. */
export class IPv6ServiceAllocator implements ServiceIPAllocator {
  readonly family = 'IPv6' as const;
  readonly cidrText: string;
  private readonly first: bigint;
  private readonly last: bigint;
  private readonly used = new Set<bigint>();
  private cursor: bigint;

  constructor(cidr: string) {
    const p = parsePrefix(cidr);
    if (!p || p.family !== 'IPv6') throw new Error(`invalid IPv6 CIDR ${JSON.stringify(cidr)}`);
    if (p.prefix < MIN_IPV6_SERVICE_PREFIX || p.prefix > 126) {
      throw new Error(`CIDR ${cidr}: an IPv6 service range must be /${MIN_IPV6_SERVICE_PREFIX} to /126`);
    }
    this.cidrText = cidr;
    const network = toBig(p.bytes);
    this.first = network + 1n;
    this.last = network + (1n << BigInt(128 - p.prefix)) - 1n;
    this.cursor = this.first;
  }

  private value(ip: string): bigint | undefined {
    const a = parseAddress(ip);
    if (!a || a.family !== 'IPv6' || a.ipv4Mapped) return undefined;
    return toBig(a.bytes);
  }

  contains(ip: string): boolean {
    const n = this.value(ip);
    return n !== undefined && n >= this.first && n <= this.last;
  }

  has(ip: string): boolean {
    const n = this.value(ip);
    return n !== undefined && this.used.has(n);
  }

  allocate(ip: string): boolean {
    if (!this.contains(ip)) return false;
    const n = this.value(ip)!;
    if (this.used.has(n)) return false;
    this.used.add(n);
    return true;
  }

  allocateNext(): string | undefined {
    const span = this.last - this.first + 1n;
    for (let i = 0n; i < span; i++) {
      let n = this.cursor + i;
      if (n > this.last) n = this.first + ((n - this.first) % span);
      if (!this.used.has(n)) {
        this.used.add(n);
        this.cursor = n + 1n > this.last ? this.first : n + 1n;
        return fromBig(n);
      }
    }
    return undefined;
  }

  release(ip: string): void {
    const n = this.value(ip);
    if (n !== undefined) this.used.delete(n);
  }

  allocated(): number {
    return this.used.size;
  }
}

/** The allocator of a CIDR of either family. */
export function serviceIPAllocator(cidr: string): ServiceIPAllocator {
  return cidr.includes(':') ? new IPv6ServiceAllocator(cidr) : new IPv4ServiceAllocator(new IPAllocator(cidr));
}

/** The family of an address as the API server reads it (IPv4 with leading zeros included). */
export function familyOfIP(ip: string): IPFamily | undefined {
  return parseAddress(ip)?.family;
}
