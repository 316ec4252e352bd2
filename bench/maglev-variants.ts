// Earlier Maglev table builders, kept only so that bench/maglev-disruption.ts
// can show what the shuffled walk and the de-collision of the control plane's
// builder (control-plane/src/dataplane/maglev.ts) changed. Not used by the
// product.
import { backendHashes, isPrime } from '../control-plane/src/dataplane/maglev.js';

export type MaglevBuilder = (identities: readonly string[], m: number, seed: number) => { order: string[]; table: Uint32Array };

/**
 * The paper's walk (offset + j*skip), as Switchyard built tables before the
 * de-collision; with `redrawEqualSkip`, a backend whose skip equals (or is the
 * opposite of) an earlier backend's is re-drawn with a salt made of that
 * backend's identity: the re-draw rule first proposed for the near-collisions.
 */
export function paperMaglevTable(redrawEqualSkip: boolean): MaglevBuilder {
  return (identities, m, seed) => {
    if (!isPrime(m)) throw new Error(`maglev table size ${m} is not prime`);
    const order = [...new Set(identities)].sort();
    const n = order.length;
    const table = new Uint32Array(m);
    if (n === 0) return { order, table };
    const pos = new Int32Array(n), skip = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let [h1, h2] = backendHashes(order[i]!, seed);
      for (let attempt = 1; redrawEqualSkip && attempt <= 16; attempt++) {
        const s = (h2 % (m - 1)) + 1;
        let partner = -1;
        for (let j = 0; j < i && partner < 0; j++) if (skip[j] === s || skip[j] === m - s) partner = j;
        if (partner < 0) break;
        [h1, h2] = backendHashes(order[i]!, seed, `${order[partner]!}#${attempt}`);
      }
      pos[i] = h1 % m;
      skip[i] = (h2 % (m - 1)) + 1;
    }
    const filled = new Uint8Array(m);
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
  };
}
