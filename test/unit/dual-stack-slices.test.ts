// EndpointSlices per address family: kube-proxy runs one
// EndpointsChangeTracker per family, each ignoring slices of the other
// addressType. The cache keeps the slices of the families it serves and
// merges them per family; FQDN slices stay ignored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import { endpointKey } from '../../control-plane/src/model/types.js';
import { slice } from './fixtures.js';

const dual = { ipFamilies: ['IPv4', 'IPv6'] as const };
const v6 = (name: string, eps: Array<{ ip: string; terminating?: boolean; node?: string }>, port = 8080) =>
  slice(name, 'web', [{ name: 'http', port }], eps, { addressType: 'IPv6' });
const reasons = (c: { problems: Array<{ reason: string }> }): string[] => c.problems.map((p) => p.reason);
const addrs = (c: EndpointSliceCache, family?: 'IPv4' | 'IPv6'): string[] =>
  (c.endpointsOfService('default/web', family).get('default/web:http/TCP') ?? []).map(endpointKey);

test('an IPv4-only cache ignores IPv6 slices as it always did (address-type), and its IPv6 view is empty', () => {
  const c = new EndpointSliceCache('n1');
  const r = c.update(v6('s6', [{ ip: 'fd00::1' }]));
  assert.equal(r.skipped, 'address-type');
  assert.deepEqual(c.takeChanged(), new Set());
  assert.deepEqual(addrs(c, 'IPv6'), []);
});

test('a dual-stack cache keeps IPv4 and IPv6 slices of one Service apart; the default view is IPv4', () => {
  const c = new EndpointSliceCache('n1', dual);
  c.update(slice('s4', 'web', [{ name: 'http', port: 8080 }], [{ ip: '198.19.1.2', node: 'n1' }]));
  const r = c.update(v6('s6', [{ ip: 'FD00:0:0::2', node: 'n1' }, { ip: 'fd00::3', node: 'n2' }]));
  assert.equal(r.skipped, undefined);
  assert.deepEqual(reasons(r), ['non-canonical-ip']);
  assert.deepEqual(addrs(c), ['198.19.1.2:8080']);
  assert.deepEqual(addrs(c, 'IPv4'), ['198.19.1.2:8080']);
  assert.deepEqual(addrs(c, 'IPv6'), ['[fd00::2]:8080', '[fd00::3]:8080']);
  assert.deepEqual(c.endpointsOfService('default/web', 'IPv6').get('default/web:http/TCP')!.map((e) => e.isLocal), [true, false]);
  assert.deepEqual([...c.allEndpoints('IPv6').keys()], ['default/web:http/TCP']);
  assert.deepEqual(c.takeChanged(), new Set(['default/web']));
  // Removing the IPv6 slice leaves the IPv4 endpoints as they were.
  c.delete(v6('s6', []));
  assert.deepEqual(c.takeChanged(), new Set(['default/web']));
  assert.deepEqual(addrs(c, 'IPv6'), []);
  assert.deepEqual(addrs(c, 'IPv4'), ['198.19.1.2:8080']);
});

test('IPv6 slices: other-family, IPv4-mapped and malformed endpoints are reported and left out, the rest kept', () => {
  const c = new EndpointSliceCache('n1', dual);
  const r = c.update(v6('s6', [{ ip: '198.19.1.2' }, { ip: '::ffff:198.19.1.3' }, { ip: 'fd00::1::2' }, { ip: 'fe80::1%eth0' }, { ip: 'fd00::4' }]));
  assert.deepEqual(reasons(r), ['other-family', 'ipv4-mapped-ipv6', 'invalid-ip', 'invalid-ip']);
  assert.match(r.problems[0]!.message, /198.19.1.2 is not IPv6 in an IPv6 slice/);
  assert.deepEqual(addrs(c, 'IPv6'), ['[fd00::4]:8080']);
  // An IPv4 slice holding an IPv6 address is reported as before.
  const r4 = c.update(slice('s4', 'web', [{ name: 'http', port: 8080 }], [{ ip: 'fd00::5' }]));
  assert.deepEqual(reasons(r4), ['other-family']);
  assert.match(r4.problems[0]!.message, /fd00::5 is not IPv4 in an IPv4 slice/);
});

test('IPv6 endpoints are deduplicated by their canonical text: the non-terminating copy wins across slices', () => {
  const c = new EndpointSliceCache('n1', dual);
  c.update(v6('a', [{ ip: 'fd00:0::7', terminating: true }]));
  c.update(v6('b', [{ ip: 'fd00::7' }]));
  const eps = c.endpointsOfService('default/web', 'IPv6').get('default/web:http/TCP')!;
  assert.equal(eps.length, 1);
  assert.equal(eps[0]!.terminating, false);
});

test('FQDN slices stay ignored in a dual-stack cache', () => {
  const c = new EndpointSliceCache('n1', dual);
  assert.equal(c.update(slice('f', 'web', [{ port: 80 }], [{ ip: 'fd00::1' }], { addressType: 'FQDN' })).skipped, 'address-type');
  assert.deepEqual(c.takeChanged(), new Set());
});

test('an IPv6-only cache answers in IPv6 by default and ignores IPv4 slices', () => {
  const c = new EndpointSliceCache('n1', { ipFamilies: ['IPv6'] });
  assert.equal(c.update(slice('s4', 'web', [{ name: 'http', port: 8080 }], [{ ip: '198.19.1.2' }])).skipped, 'address-type');
  c.update(v6('s6', [{ ip: 'fd00::2' }]));
  assert.deepEqual(addrs(c), ['[fd00::2]:8080']);
  assert.deepEqual(addrs(c, 'IPv4'), []);
});
