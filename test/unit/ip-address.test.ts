// Addresses of both families (control-plane/src/util/ip.ts): Go's sloppy
// parser for IPv4 (leading zeros decimal), Go's IPv6 grammar, RFC 5952 text,
// IPv4-mapped IPv6 flagged, CIDR containment for both families.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIP, isIPv4MappedBytes, parseAddress, parsePrefix, prefixContains, mustParseIP, otherFamily } from '../../control-plane/src/util/ip.js';
import { mulberry32Words } from '../../control-plane/src/util/mulberry32.js';
import { parseCIDRSloppy, parseIPSloppy } from '../../control-plane/src/util/ipv4.js';

const text = (s: string): string | undefined => parseAddress(s)?.text;

test('IPv6 text becomes RFC 5952: lower case, no leading zeros, longest zero run compressed (first on a tie), single zero group kept', () => {
  const cases: Array<[string, string]> = [
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['fd00:0:0:0:0:0:0:0', 'fd00::'],
    ['FD00::A:B', 'fd00::a:b'],
    ['64:ff9b::192.0.2.1', '64:ff9b::c000:201'],
    ['00001::', '1::'],
  ];
  for (const [input, want] of cases) {
    const p = parseAddress(input);
    assert.equal(p?.family, 'IPv6', input);
    assert.equal(p?.text, want, input);
    assert.equal(p?.normalized, input !== want, input);
    assert.equal(p?.bytes.length, 16, input);
  }
});

test('IPv6 text that Go\'s parser refuses is no address', () => {
  for (const s of [':::', '1:2:3:4:5:6:7:8:9', '1::2::3', 'fe80::1%eth0', '[fd00::1]', 'fd00::/64', '10000::', 'g::', '1:2:3:4:5:6:7:8::',
    ':1::', '1:', 'fd00::1 ', ' fd00::1', '::1.2.3', '1.2.3.4::', '::ffff:256.0.0.1', '1:2:3:4:5:6:7:1.2.3.4', '']) {
    assert.equal(parseAddress(s), undefined, s);
  }
});

test('IPv4 keeps kube-proxy\'s sloppy rules: leading zeros are decimal', () => {
  assert.deepEqual(parseAddress('010.001.0.09'), { family: 'IPv4', text: '10.1.0.9', bytes: Uint8Array.of(10, 1, 0, 9), normalized: true, ipv4Mapped: false });
  assert.equal(parseAddress('0x1.2.3.4'), undefined);
  assert.equal(parseAddress('256.0.0.1'), undefined);
});

test('IPv4-mapped IPv6 is recognised as IPv6 text holding an IPv4 address, and printed with its dotted tail', () => {
  const m = parseAddress('::FFFF:198.18.0.1')!;
  assert.equal(m.family, 'IPv6');
  assert.equal(m.ipv4Mapped, true);
  assert.equal(m.text, '::ffff:198.18.0.1');
  assert.equal(parseAddress('::ffff:c612:1')!.ipv4Mapped, true, 'the hex spelling is mapped too');
  assert.equal(parseAddress('::ffff:c612:1')!.text, '::ffff:198.18.0.1');
  assert.equal(parseAddress('::1.2.3.4')!.ipv4Mapped, false, 'IPv4-compatible (deprecated) is plain IPv6');
  assert.equal(parseAddress('64:ff9b::1.2.3.4')!.ipv4Mapped, false);
});

test('formatIP round-trips and refuses odd lengths', () => {
  for (const s of ['198.18.0.1', 'fd00::1', '2001:db8::1:0:0:1', '::']) assert.equal(formatIP(mustParseIP(s).bytes), s);
  assert.throws(() => formatIP(new Uint8Array(5)), /4 or 16 bytes/);
  assert.throws(() => mustParseIP('nope'), /not an IP address/);
});

test('prefixes of both families: host bits cleared, canonical text, sloppy prefix length, bounds', () => {
  assert.deepEqual(
    { ...parsePrefix('FD00:0:0:0::1/64')!, bytes: undefined },
    { family: 'IPv6', cidr: 'fd00::/64', bytes: undefined, prefix: 64, normalized: true, ipv4Mapped: false });
  assert.equal(parsePrefix('2001:db8::/032')?.cidr, '2001:db8::/32');
  assert.equal(parsePrefix(' fd00::/8 ')?.cidr, 'fd00::/8');
  assert.equal(parsePrefix('::/0')?.cidr, '::/0');
  assert.equal(parsePrefix('fd00::1/128')?.cidr, 'fd00::1/128');
  assert.equal(parsePrefix('fd00::1/127')?.cidr, 'fd00::/127');
  assert.equal(parsePrefix('::ffff:0:0/96')?.ipv4Mapped, true);
  for (const s of ['fd00::/129', 'fd00::', 'fd00::/', 'fd00::/6x', 'fd00::%1/64', '[fd00::]/64', 'fd00:::/64']) assert.equal(parsePrefix(s), undefined, s);
  assert.equal(parsePrefix('203.0.113.000/025')?.cidr, '203.0.113.0/25');
});

test('containment: both families, bit-exact at the prefix boundary, never across families', () => {
  assert.equal(prefixContains('fd00::/8', 'fd12:3456::1'), true);
  assert.equal(prefixContains('fd00::/8', 'fe00::1'), false);
  assert.equal(prefixContains('2001:db8::/127', '2001:db8::1'), true);
  assert.equal(prefixContains('2001:db8::/128', '2001:db8::1'), false);
  assert.equal(prefixContains('2001:db8:8000::/33', '2001:db8:7fff::1'), false);
  assert.equal(prefixContains('2001:db8:8000::/33', '2001:db8:8000::1'), true);
  assert.equal(prefixContains('::/0', '198.18.0.1'), false, 'an IPv4 address is in no IPv6 range');
  assert.equal(prefixContains('0.0.0.0/0', 'fd00::1'), false);
  assert.equal(prefixContains('198.18.0.0/15', '198.19.255.255'), true);
  assert.equal(prefixContains('198.18.0.0/15', '198.20.0.0'), false);
  assert.throws(() => prefixContains('x', 'fd00::1'));
});

test('the IPv4 module\'s sloppy wrappers keep their shapes, and give IPv6 in RFC 5952 form', () => {
  assert.deepEqual(parseIPSloppy('198.018.128.050'), { family: 'IPv4', ip: '198.18.128.50', normalized: true });
  assert.deepEqual(parseIPSloppy('FD00:0::1'), { family: 'IPv6', ip: 'fd00::1', normalized: true });
  assert.deepEqual(parseCIDRSloppy('fd00::1/64'), { family: 'IPv6', cidr: 'fd00::/64', prefix: 64, normalized: true });
  assert.equal(otherFamily('IPv4'), 'IPv6');
  assert.equal(otherFamily('IPv6'), 'IPv4');
});

test('RFC 5952 text agrees with the WHATWG URL serializer on 20,000 seeded addresses rich in zero runs, and parses back to the same bytes', () => {
  const next = mulberry32Words(0x5eed6);
  for (let n = 0; n < 20000; n++) {
    const b = new Uint8Array(16);
    for (let g = 0; g < 8; g++) {
      // Mostly zero groups, so that runs of every length and position (ties included) occur.
      const w = next();
      const v = w % 3 === 0 ? (w >>> 8) & 0xffff : 0;
      b[2 * g] = v >> 8;
      b[2 * g + 1] = v & 0xff;
    }
    const t = formatIP(b);
    if (isIPv4MappedBytes(b)) continue; // URL writes these in hex; RFC 5952 keeps the dotted tail
    assert.equal(`[${t}]`, new URL(`http://[${t}]/`).hostname, t);
    assert.deepEqual(parseAddress(t)!.bytes, b, t);
    // Any uncompressed, upper-case spelling of the same bytes reads back to the same text.
    const long = [...Array(8).keys()].map((g) => ((b[2 * g]! << 8) | b[2 * g + 1]!).toString(16).toUpperCase().padStart(4, '0')).join(':');
    assert.equal(parseAddress(long)!.text, t, long);
  }
});
