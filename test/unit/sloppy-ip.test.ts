// kube-proxy's sloppy address parsing (k8s.io/utils/net ParseIPSloppy /
// ParseCIDRSloppy): leading zeros are decimal, host bits are cleared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCIDRSloppy, parseIPSloppy, isValidPort } from '../../control-plane/src/util/ipv4.js';

test('ParseIPSloppy: leading zeros are decimal (never octal), the canonical form is kept', () => {
  assert.deepEqual(parseIPSloppy('010.001.0.09'), { family: 'IPv4', ip: '10.1.0.9', normalized: true });
  assert.deepEqual(parseIPSloppy('198.018.128.050'), { family: 'IPv4', ip: '198.18.128.50', normalized: true });
  assert.deepEqual(parseIPSloppy('203.0.113.000'), { family: 'IPv4', ip: '203.0.113.0', normalized: true });
  assert.deepEqual(parseIPSloppy('0000000255.0.0.1'), { family: 'IPv4', ip: '255.0.0.1', normalized: true });
  assert.deepEqual(parseIPSloppy('198.18.0.1'), { family: 'IPv4', ip: '198.18.0.1', normalized: false });
});

test('ParseIPSloppy: what Go\'s parser refuses', () => {
  for (const s of ['256.0.0.1', '1.2.3', '1.2.3.4.5', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.-4', '1..2.3', '0x1.2.3.4', '', 'a.b.c.d', '1.2.3.4/32', '16777216.0.0.1']) {
    assert.equal(parseIPSloppy(s), undefined, s);
  }
  assert.equal(parseIPSloppy(undefined as unknown as string), undefined);
  assert.equal(parseIPSloppy(42 as unknown as string), undefined);
});

test('ParseIPSloppy: IPv6 is recognized as the other family', () => {
  assert.deepEqual(parseIPSloppy('fd00::1'), { family: 'IPv6', ip: 'fd00::1', normalized: false });
  assert.equal(parseIPSloppy('fd00::g')?.family, undefined);
});

test('ParseCIDRSloppy: leading zeros in address and prefix, host bits cleared, spaces trimmed', () => {
  assert.deepEqual(parseCIDRSloppy('203.0.113.000/025'), { family: 'IPv4', cidr: '203.0.113.0/25', prefix: 25, normalized: true });
  assert.deepEqual(parseCIDRSloppy('203.0.113.77/24'), { family: 'IPv4', cidr: '203.0.113.0/24', prefix: 24, normalized: true });
  assert.deepEqual(parseCIDRSloppy(' 10.0.0.0/8 '), { family: 'IPv4', cidr: '10.0.0.0/8', prefix: 8, normalized: true });
  assert.deepEqual(parseCIDRSloppy('0.0.0.0/0'), { family: 'IPv4', cidr: '0.0.0.0/0', prefix: 0, normalized: false });
  assert.deepEqual(parseCIDRSloppy('198.18.0.0/15'), { family: 'IPv4', cidr: '198.18.0.0/15', prefix: 15, normalized: false });
  assert.equal(parseCIDRSloppy('fd00::/64')?.family, 'IPv6');
});

test('ParseCIDRSloppy: unparseable ranges', () => {
  for (const s of ['10.0.0.0/33', '10.0.0.0', '10.0.0.0/', '10.0.0.0/8x', '10.0.0.0/-1', '300.0.0.0/8', 'not-a-cidr', '', '/8', 'fd00::/129', '10.0.0.0/8/8']) {
    assert.equal(parseCIDRSloppy(s), undefined, s);
  }
});

test('ports: integers in [1, 65535]', () => {
  for (const p of [1, 80, 65535]) assert.equal(isValidPort(p), true);
  for (const p of [0, -1, 65536, 70000, 1.5, NaN, '80', null, undefined]) assert.equal(isValidPort(p), false, String(p));
});
