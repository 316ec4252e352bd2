import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backendHashes, buildMaglevTable, chooseTableSize, DEFAULT_MAGLEV_SIZING, isPrime, maglevTableSize, MAGLEV_PRIMES } from '../../control-plane/src/dataplane/maglev.js';
import { maglevPermutations } from '../../control-plane/src/dataplane/maglev-permutations.js';
import { flowHash, jhash3words } from '../../control-plane/src/dataplane/flow-hash.js';
import { defaultSizingRange, measureDisruption, movedFraction, randomBackends } from '../../bench/maglev-disruption.js';
import { mulberry32 } from '../../bench/prng.js';

// Deterministic PRNG so failures reproduce.
const rng = mulberry32;

function counts(table: Uint32Array, n: number): number[] {
  const c = new Array<number>(n).fill(0);
  for (const v of table) c[v]!++;
  return c;
}

function assignment(order: string[], table: Uint32Array): string[] {
  return Array.from(table, (i) => order[i]!);
}

test('table sizes are allowed primes >= 100 x N within floor and ceiling', () => {
  for (const p of MAGLEV_PRIMES) assert.ok(isPrime(p), `${p} prime`);
  assert.equal(maglevTableSize(1), 251);
  assert.equal(maglevTableSize(3), 509);
  assert.equal(maglevTableSize(10), 1021);
  assert.equal(maglevTableSize(100), 16381);
  assert.equal(maglevTableSize(5000), 131071);
  assert.equal(maglevTableSize(3, { floor: 1021, ceiling: 131071 }), 1021);
  assert.equal(maglevTableSize(500, { floor: 251, ceiling: 16381 }), 16381);
  for (let n = 1; n <= 1310; n += 7) assert.ok(maglevTableSize(n) >= 100 * n);
});

test('every backend holds floor(M/N) or ceil(M/N) slots (many random sets)', () => {
  const r = rng(1);
  for (let trial = 0; trial < 60; trial++) {
    const n = 1 + Math.floor(r() * 40);
    const m = maglevTableSize(n);
    const { order, table } = buildMaglevTable(randomBackends(r, n), m, 42);
    const c = counts(table, order.length);
    for (const x of c) assert.ok(x === Math.floor(m / n) || x === Math.ceil(m / n), `n=${n} m=${m} count ${x}`);
  }
});

// Maglev is near-minimally disruptive, not minimally: besides the removed
// backend's 1/N, a few slots move between the others because their turns in
// the fill change (bench/maglev-disruption.ts prints the table quoted in
// docs/maglev.md). Removing one of N+1 backends and adding the (N+1)th to N
// compare the same two tables, so each measurement covers both directions.
// Issue 14's bound, for every table size of the default sizing, over 300
// random backend sets each: extra moves mean <= 2.5 %, p90 <= 3.5 %, max <= 5 %;
// every table balanced to floor/ceil(M/N). The three largest sizes take
// longer (a build is 5-40 ms there): test/bench/maglev-large-tables.test.ts.
for (const m of MAGLEV_PRIMES.filter((p) => p <= 16381)) {
  const [kLo, kHi] = defaultSizingRange(m);
  test(`M=${m} (default sizing, ${kLo}-${kHi} backends), 300 random sets: one backend added or removed moves 1/N + at most 2.5 % on average, 3.5 % at p90, 5 % at most; balance floor/ceil(M/N)`, () => {
    assert.equal(maglevTableSize(kLo), m);
    assert.equal(maglevTableSize(kHi), m);
    const row = measureDisruption(m, kLo - 1, kHi - 1, 300, 3);
    const f = (x: number) => `${(x * 100).toFixed(2)} %`;
    assert.ok(row.mean <= 0.025, `M=${m}: mean extra ${f(row.mean)}`);
    assert.ok(row.p90 <= 0.035, `M=${m}: p90 extra ${f(row.p90)}`);
    assert.ok(row.max <= 0.05, `M=${m}: max extra ${f(row.max)}`);
    assert.ok(row.spread <= 1, `M=${m}: slot counts differ by ${row.spread}`);
  });
}

test('with a larger table (M >= 1000 N, as a pinned size or a floor gives small Services) the extra moves stay below 1 % (mean <= 0.6 %, p90 <= 1 %, max <= 1.5 %)', () => {
  const row = measureDisruption(32749, 1, 31, 300, 5);
  assert.ok(row.mean <= 0.006, `mean extra ${(row.mean * 100).toFixed(2)} %`);
  assert.ok(row.p90 <= 0.01, `p90 extra ${(row.p90 * 100).toFixed(2)} %`);
  assert.ok(row.max <= 0.015, `max extra ${(row.max * 100).toFixed(2)} %`);
});

/** Random backends whose first two share a skip (or have opposite skips) at table size m: the sets the paper's walk handled worst. */
function equalSkipSets(r: () => number, m: number, count: number, nMin: number, nMax: number, seed: number): string[][] {
  const bySkip = new Map<number, string[]>();
  const sets: string[][] = [];
  while (sets.length < count) {
    const [id] = randomBackends(r, 1) as [string];
    const s = (backendHashes(id, seed)[1] % (m - 1)) + 1;
    const cls = Math.min(s, m - s);
    const mates = bySkip.get(cls) ?? [];
    const mate = mates.find((x) => x !== id);
    if (mate) {
      const n = nMin + Math.floor(r() * (nMax - nMin + 1));
      const rest = randomBackends(r, n).filter((x) => x !== id && x !== mate).slice(0, n - 2);
      sets.push([mate, id, ...rest]);
      bySkip.delete(cls);
    } else bySkip.set(cls, [...mates, id]);
  }
  return sets;
}

test('sets with two equal (or opposite) skips no longer move up to 12-35 %: 300 such sets each at M=509 and 1021, any other backend removed, max extra <= 5 %', () => {
  for (const [m, nMin, nMax] of [[509, 3, 5], [1021, 6, 10]] as const) {
    const r = rng(m);
    const extras: number[] = [];
    for (const set of equalSkipSets(r, m, 300, nMin, nMax, 11)) {
      // Remove a backend other than the pair: the pair's shared walk made that the bad case.
      const drop = 2 + Math.floor(r() * (set.length - 2));
      extras.push(movedFraction(set, set.filter((_, i) => i !== drop), m, 11) - 1 / set.length);
    }
    const max = Math.max(...extras);
    assert.ok(max <= 0.05, `M=${m}: max extra ${(max * 100).toFixed(2)} %`);
  }
});

test('two backends with identical offset and skip are de-collided: the later one is re-drawn, the same way in any input order', () => {
  // Search identities until two draw the same (offset, skip) at M = 251 (about 1 pair in 63,000).
  const m = 251, seed = 3;
  const seen = new Map<number, string>();
  let pair: [string, string] | undefined;
  for (let i = 0; !pair && i < 200_000; i++) {
    const id = `198.19.${(i >> 8) & 255}.${i & 255}:${8000 + (i >> 16)}/6`;
    const [h1, h2] = backendHashes(id, seed);
    const k = (h1 % m) * m + (h2 % (m - 1)) + 1;
    const other = seen.get(k);
    if (other) pair = [other, id];
    else seen.set(k, id);
  }
  assert.ok(pair, 'found two identities with the same permutation');
  const order = [...pair].sort();
  const p = maglevPermutations(order, m, seed);
  assert.deepEqual(p.redrawn, [1], 'the later identity is re-drawn');
  assert.ok(p.offset[0] !== p.offset[1] || p.skip[0] !== p.skip[1], 'permutations differ after the re-draw');
  // Balanced, order independent, and a third backend coming or going moves little.
  const r = rng(8);
  for (let t = 0; t < 50; t++) {
    const others = randomBackends(r, 1 + Math.floor(r() * 3));
    const set = [...pair, ...others];
    const a = buildMaglevTable(set, 1021, seed), b = buildMaglevTable([...set].reverse(), 1021, seed);
    assert.deepEqual(assignment(a.order, a.table), assignment(b.order, b.table));
  }
  const a = buildMaglevTable(order, m, seed);
  assert.deepEqual(counts(a.table, 2).sort(), [125, 126]);
});

test('the same backend set in any order gives a byte-identical table (300 random sets over the default sizes)', () => {
  const r = rng(12);
  for (let t = 0; t < 300; t++) {
    const n = 1 + Math.floor(r() * 25);
    const m = maglevTableSize(n);
    const set = randomBackends(r, n);
    const shuffled = [...set].sort(() => r() - 0.5);
    const a = buildMaglevTable(set, m, 9), b = buildMaglevTable(shuffled, m, 9), c = buildMaglevTable([...set].reverse(), m, 9);
    const bytes = (x: { order: string[]; table: Uint32Array }) => Buffer.from(assignment(x.order, x.table).join(','));
    assert.deepEqual(bytes(b), bytes(a));
    assert.deepEqual(bytes(c), bytes(a));
  }
});

test('the table size is chosen by the default sizing, the floor, the ceiling, or a pinned size', () => {
  assert.deepEqual(chooseTableSize(3), { size: 509, chosenBy: 'default sizing' });
  assert.deepEqual(chooseTableSize(3, { floor: 4093, ceiling: 131071 }), { size: 4093, chosenBy: 'floor' });
  assert.deepEqual(chooseTableSize(500, { floor: 251, ceiling: 16381 }), { size: 16381, chosenBy: 'ceiling' });
  assert.deepEqual(chooseTableSize(3, DEFAULT_MAGLEV_SIZING, 16381), { size: 16381, chosenBy: 'annotation' });
  assert.deepEqual(chooseTableSize(12, DEFAULT_MAGLEV_SIZING, 16381), { size: 16381, chosenBy: 'annotation' });
  // A pin the tracker would have refused is never used.
  assert.deepEqual(chooseTableSize(3, DEFAULT_MAGLEV_SIZING, 1000), { size: 509, chosenBy: 'default sizing' });
  assert.deepEqual(chooseTableSize(3, { floor: 251, ceiling: 8191 }, 16381), { size: 509, chosenBy: 'default sizing' });
});

test('the moved fraction counts exactly the slots whose backend changed', () => {
  const set = randomBackends(rng(9), 4);
  assert.equal(movedFraction(set, set, 509, 1), 0);
  const lone = movedFraction([set[0]!], [set[1]!], 251, 1);
  assert.equal(lone, 1);
  // Removing one of two: exactly the removed backend's slots move.
  const two = buildMaglevTable(set.slice(0, 2), 251, 1);
  const kept = two.order.indexOf(set[0]!);
  const owned = Array.from(two.table).filter((i) => i !== kept).length;
  assert.equal(movedFraction(set.slice(0, 2), [set[0]!], 251, 1), owned / 251);
});

test('the seed changes the table', () => {
  const set = randomBackends(rng(4), 12);
  const a = buildMaglevTable(set, 1021, 5), c = buildMaglevTable(set, 1021, 6);
  assert.notDeepEqual(assignment(a.order, a.table), assignment(c.order, c.table));
});

test('non-prime table sizes are refused', () => {
  assert.throws(() => buildMaglevTable(['a'], 1000, 1), /not prime/);
});

test('jhash_3words matches the kernel implementation on known vectors', () => {
  // Values computed with the C jhash_3words of <linux/jhash.h> (test/bpf checks the datapath side).
  assert.equal(jhash3words(0, 0, 0, 0), 459859287);
  assert.equal(jhash3words(1, 2, 3, 0xffffffff), 2581414644);
  assert.equal(flowHash({ saddr: '198.19.1.2', daddr: '198.18.128.16', sport: 40000, dport: 80, proto: 6 }, 1), 4035426253);
  // Sensitivity: every input matters.
  const base = flowHash({ saddr: '198.19.1.2', daddr: '198.18.128.10', sport: 40000, dport: 80, proto: 6 }, 1);
  assert.notEqual(base, flowHash({ saddr: '198.19.1.3', daddr: '198.18.128.10', sport: 40000, dport: 80, proto: 6 }, 1));
  assert.notEqual(base, flowHash({ saddr: '198.19.1.2', daddr: '198.18.128.10', sport: 40001, dport: 80, proto: 6 }, 1));
  assert.notEqual(base, flowHash({ saddr: '198.19.1.2', daddr: '198.18.128.10', sport: 40000, dport: 80, proto: 17 }, 1));
  assert.notEqual(base, flowHash({ saddr: '198.19.1.2', daddr: '198.18.128.10', sport: 40000, dport: 80, proto: 6 }, 2));
  // Affinity leaves the source port out.
  assert.equal(
    flowHash({ saddr: '198.19.1.2', daddr: '198.18.128.10', sport: 1, dport: 80, proto: 6 }, 1, true),
    flowHash({ saddr: '198.19.1.2', daddr: '198.18.128.10', sport: 2, dport: 80, proto: 6 }, 1, true));
});
