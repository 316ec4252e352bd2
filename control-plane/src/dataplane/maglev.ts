// Maglev lookup tables (Eisenbud et al., NSDI 2016, section 3.4), computed
// once here and written whole into the datapath. Each backend gets a
// permutation of the M slots from offset = h1 mod M and skip = h2 mod (M-1)+1,
// walked in a shuffled order shared by all backends (maglev-walk-order.ts) and
// de-collided (maglev-permutations.ts); backends take turns claiming their next
// preferred empty slot. Everything depends only on the backend identities, M
// and a cluster-wide seed, and backends are ordered by identity, so every node
// builds a byte-identical table.
import { maglevPermutations } from './maglev-permutations.js';
import { maglevWalkOrder } from './maglev-walk-order.js';

export { backendHashes } from './maglev-permutations.js';

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

/** How a table's size was chosen, as the admin API and `switchyard services` show it. */
export type TableSizeChoice = 'default sizing' | 'floor' | 'ceiling' | 'annotation';

/**
 * The table size for `backends` backends: the pinned size when the Service
 * pins one (switchyard.io/maglev-table-size, already validated), else the
 * default sizing, saying whether the floor or the ceiling decided it.
 */
export function chooseTableSize(backends: number, sizing: MaglevSizing = DEFAULT_MAGLEV_SIZING, pinned?: number): { size: number; chosenBy: TableSizeChoice } {
  // The Service tracker refuses pins outside the allowed primes, floor and ceiling; never trust one here either.
  const primes: readonly number[] = MAGLEV_PRIMES;
  if (pinned !== undefined && primes.includes(pinned) && pinned >= sizing.floor && pinned <= sizing.ceiling) return { size: pinned, chosenBy: 'annotation' };
  const size = maglevTableSize(backends, sizing);
  const unclamped = maglevTableSize(backends, { floor: MAGLEV_PRIMES[0]!, ceiling: MAGLEV_PRIMES[MAGLEV_PRIMES.length - 1]! });
  return { size, chosenBy: size > unclamped ? 'floor' : size < unclamped ? 'ceiling' : 'default sizing' };
}

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/**
 * Builds the table for `identities` (each a stable backend identity such as
 * "198.19.1.2:8080/TCP"). The caller passes identities in any order: they
 * are sorted (and deduplicated) into `order`, and the table maps slot -> index
 * into `order`.
 */
export function buildMaglevTable(identities: readonly string[], m: number, seed: number): { order: string[]; table: Uint32Array } {
  if (!isPrime(m)) throw new Error(`maglev table size ${m} is not prime`);
  if (m > 2 ** 17) throw new Error(`maglev table size ${m} is above 2^17 (the largest allowed is 131071)`);
  const order = [...new Set(identities)].sort();
  const n = order.length;
  const table = new Uint32Array(m);
  if (n === 0) return { order, table };
  const filled = new Uint8Array(m);
  const { offset, skip } = maglevPermutations(order, m, seed);
  const walk = maglevWalkOrder(m, seed);
  // Backend i's j-th preference is offset + walk[j] * skip (mod m). With
  // w = walk[j] < 2^17 split as (w >> 9) * 512 + (w & 511), and
  // skip * 512 reduced mod m once per backend, the sum stays below 2^27: one
  // integer remainder per step, no overflow, the same result on every node.
  const skipHi = new Int32Array(n);
  for (let i = 0; i < n; i++) skipHi[i] = (skip[i]! * 512) % m;
  const next = new Int32Array(n);
  let placed = 0;
  for (;;) {
    for (let i = 0; i < n; i++) {
      const s = skip[i]!, h = skipHi[i]!, o = offset[i]!;
      let j = next[i]!, c = 0;
      for (;;) {
        const w = walk[j++]!;
        c = ((w >>> 9) * h + (w & 511) * s + o) % m;
        if (filled[c] === 0) break;
      }
      next[i] = j;
      filled[c] = 1;
      table[c] = i;
      if (++placed === m) return { order, table };
    }
  }
}
