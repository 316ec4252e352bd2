// mulberry32 (Tommy Ettinger's 32-bit generator): a fixed, portable sequence
// of 32-bit words from a 32-bit seed. The Maglev walk order depends on it
// (every node must draw the same words), and the benchmarks and property
// tests use it so that a run reproduces from its seed (bench/prng.ts).

/** The generator seeded with `seed`: each call returns the next word (0 .. 2^32-1). */
export function mulberry32Words(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
