// Deterministic PRNG (mulberry32) for benchmarks and property tests, so a
// run or a failure reproduces from its seed.
import { mulberry32Words } from '../control-plane/src/util/mulberry32.js';

/** Uniform numbers in [0, 1) from mulberry32 seeded with `seed`. */
export function mulberry32(seed: number): () => number {
  const next = mulberry32Words(seed);
  return () => next() / 4294967296;
}
