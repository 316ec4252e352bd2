// The order in which every backend walks its Maglev permutation. The paper
// walks offset + j*skip for j = 0, 1, 2, ...; two backends whose skips are
// equal (or opposite, or in a small ratio) then walk the same cycle of slots
// in lock-step and fight over the same slots, so that one unrelated backend
// change moves up to 14-35 % of the table (docs/maglev.md, "De-collision").
// Walking offset + walk[j]*skip instead, with walk a fixed pseudo-random
// shuffle of 0..M-1 shared by all backends, keeps each preference list a
// permutation of the slots (skip is invertible mod the prime M) and keeps the
// fill, the balance and the mean disruption of the paper, but leaves no
// structure between two lists unless offset and skip are both equal
// (handled in maglev-permutations.ts).
//
// The shuffle depends only on M and the cluster-wide seed, so every node
// computes the same one: Fisher-Yates from the top, j = floor(r * (i+1) / 2^32)
// with r the next output of mulberry32 seeded with the first little-endian
// word of SHA-256("<seed>|maglev-walk|<M>").
import { createHash } from 'node:crypto';
import { mulberry32Words } from '../util/mulberry32.js';

const cache = new Map<string, Int32Array>();

/** The shared walk order for table size m under `seed`: a permutation of 0..m-1 (cached; do not modify). */
export function maglevWalkOrder(m: number, seed: number): Int32Array {
  const key = `${seed}|${m}`;
  let walk = cache.get(key);
  if (walk) return walk;
  walk = new Int32Array(m);
  for (let i = 0; i < m; i++) walk[i] = i;
  const next = mulberry32Words(createHash('sha256').update(`${seed}|maglev-walk|${m}`).digest().readUInt32LE(0));
  for (let i = m - 1; i > 0; i--) {
    const j = Math.floor((next() * (i + 1)) / 4294967296);
    const t = walk[i]!;
    walk[i] = walk[j]!;
    walk[j] = t;
  }
  // A handful of sizes per seed at most (the allowed primes): keep them all.
  if (cache.size > 64) cache.clear();
  cache.set(key, walk);
  return walk;
}
