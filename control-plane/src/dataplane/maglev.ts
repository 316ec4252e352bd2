// Maglev lookup tables (Eisenbud et al., NSDI 2016, section 3.4), computed
// once here and written whole into the datapath. Each backend gets a
// permutation of the M slots from offset = h1 mod M and skip = h2 mod (M-1)+1;
// backends take turns claiming their next preferred empty slot. The hashes
// depend only on the backend's identity and a cluster-wide seed, and backends
// are ordered by identity, so every node builds a byte-identical table.
import { createHash } from 'node:crypto';

/** Table sizes we allow: primes roughly doubling, as Cilium allows. */
export const MAGLEV_PRIMES = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071] as const;

export interface MaglevSizing {
  /** Smallest table size allowed (a prime from MAGLEV_PRIMES). */
  floor: number;
  /** Largest table size allowed (a prime from MAGLEV_PRIMES, at most 131071). */
  ceiling: number;
}

export const DEFAULT_MAGLEV_SIZING: MaglevSizing = { floor: 251, ceiling: 131071 };

export function validateSizing(s: MaglevSizing): void {
  const primes: readonly number[] = MAGLEV_PRIMES;
  if (!primes.includes(s.floor)) throw new Error(`maglev floor ${s.floor} is not one of ${primes.join(', ')}`);
  if (!primes.includes(s.ceiling)) throw new Error(`maglev ceiling ${s.ceiling} is not one of ${primes.join(', ')}`);
  if (s.floor > s.ceiling) throw new Error(`maglev floor ${s.floor} is above the ceiling ${s.ceiling}`);
}

/** Smallest allowed prime >= 100 x backends, clamped to [floor, ceiling]. */
export function maglevTableSize(backends: number, sizing: MaglevSizing = DEFAULT_MAGLEV_SIZING): number {
  const want = Math.max(1, backends) * 100;
  for (const p of MAGLEV_PRIMES) {
    if (p < sizing.floor) continue;
    if (p >= want || p >= sizing.ceiling) return Math.min(p, sizing.ceiling);
  }
  return sizing.ceiling;
}

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/** Two independent 32-bit hashes of a backend identity under a seed. */
const hashCache = new Map<string, [number, number]>();
export function backendHashes(identity: string, seed: number): [number, number] {
  const k = `${seed}|${identity}`;
  let h = hashCache.get(k);
  if (!h) {
    const d = createHash('sha256').update(k).digest();
    h = [d.readUInt32LE(0), d.readUInt32LE(4)];
    if (hashCache.size > 1_000_000) hashCache.clear();
    hashCache.set(k, h);
  }
  return h;
}

/**
 * Builds the table for `identities` (each a stable backend identity such as
 * "198.19.1.2:8080/TCP"). Returns slot -> index into the identities as given.
 * The caller passes identities in any order: they are sorted here.
 */
export function buildMaglevTable(identities: readonly string[], m: number, seed: number): { order: string[]; table: Uint32Array } {
  if (!isPrime(m)) throw new Error(`maglev table size ${m} is not prime`);
  const order = [...new Set(identities)].sort();
  const n = order.length;
  const table = new Uint32Array(m);
  if (n === 0) return { order, table };
  const filled = new Uint8Array(m);
  // m < 2^31, so positions fit int32 and a conditional subtraction replaces `%`.
  const pos = new Int32Array(n);
  const skip = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const [h1, h2] = backendHashes(order[i]!, seed);
    pos[i] = h1 % m;
    skip[i] = (h2 % (m - 1)) + 1;
  }
  let placed = 0;
  for (;;) {
    for (let i = 0; i < n; i++) {
      const s = skip[i]!;
      let c = pos[i]!;
      while (filled[c]) {
        c += s;
        if (c >= m) c -= m;
      }
      filled[c] = 1;
      table[c] = i;
      c += s;
      if (c >= m) c -= m;
      pos[i] = c;
      if (++placed === m) return { order, table };
    }
  }
}
