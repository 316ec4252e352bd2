// Issue 14's disruption bound for the three largest table sizes of the
// default sizing (32749, 65521, 131071 slots; 164-1310 backends), over 300
// random backend sets each, as test/unit/maglev.test.ts holds the smaller
// sizes to it. Pure computation, no lab; here rather than in the unit suite
// because one size takes 10-30 s on two busy cores (a table build is 5-40 ms).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maglevTableSize } from '../../control-plane/src/dataplane/maglev.js';
import { defaultSizingRange, measureDisruption } from '../../bench/maglev-disruption.js';

for (const m of [32749, 65521, 131071]) {
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
