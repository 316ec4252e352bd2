// Each backend's Maglev permutation, (offset, skip), drawn from its identity
// and de-collided: with the shuffled walk (maglev-walk-order.ts) two
// permutations coincide only when both offset and skip are equal, and then
// the two backends would want the same slot at every step. The later one in
// identity order is re-drawn, with a salt made of the identity it collides
// with and an attempt number: a salt taken from the backend set alone, so
// every node, given the set in any order, draws the same permutations.
//
// Why not also re-draw on an equal skip, as the paper's walk would need: a
// re-drawn permutation flips back whenever its partner leaves the set, which
// moves all of its slots; measured, that makes the maximum disruption worse
// (docs/maglev.md, "De-collision"). The shuffled walk makes equal skips
// harmless instead.
import { createHash } from 'node:crypto';

/** Two independent 32-bit hashes of a backend identity under a seed. */
const hashCache = new Map<string, [number, number]>();
export function backendHashes(identity: string, seed: number, salt = ''): [number, number] {
  const k = salt ? `${seed}|${identity}|${salt}` : `${seed}|${identity}`;
  let h = hashCache.get(k);
  if (!h) {
    const d = createHash('sha256').update(k).digest();
    h = [d.readUInt32LE(0), d.readUInt32LE(4)];
    if (hashCache.size > 1_000_000) hashCache.clear();
    hashCache.set(k, h);
  }
  return h;
}

export interface MaglevPermutations {
  offset: Int32Array;
  skip: Int32Array;
  /** Indices (into the sorted identities) whose permutation was re-drawn. */
  redrawn: number[];
}

/** Re-draws give up after this many attempts (only reachable when N approaches M*(M-1)). */
const MAX_REDRAWS = 16;

/** Permutations of the sorted, distinct identities `order` for table size m. */
export function maglevPermutations(order: readonly string[], m: number, seed: number): MaglevPermutations {
  const n = order.length;
  const offset = new Int32Array(n), skip = new Int32Array(n);
  const taken = new Map<number, number>(); // offset * m + skip -> index holding it
  const redrawn: number[] = [];
  for (let i = 0; i < n; i++) {
    let [h1, h2] = backendHashes(order[i]!, seed);
    let o = h1 % m, s = (h2 % (m - 1)) + 1;
    for (let attempt = 1; attempt <= MAX_REDRAWS; attempt++) {
      const holder = taken.get(o * m + s);
      if (holder === undefined) break;
      [h1, h2] = backendHashes(order[i]!, seed, `${order[holder]!}#${attempt}`);
      o = h1 % m;
      s = (h2 % (m - 1)) + 1;
      if (redrawn[redrawn.length - 1] !== i) redrawn.push(i);
    }
    offset[i] = o;
    skip[i] = s;
    if (!taken.has(o * m + s)) taken.set(o * m + s, i);
  }
  return { offset, skip, redrawn };
}
