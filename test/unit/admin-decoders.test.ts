// Map entries decoded into the named fields of docs/maps.md, from bytes laid
// out by hand at the documented offsets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEntry, matchesFilter, slotCounts } from '../../control-plane/src/admin/decode.js';
import { SVC_FLAG_NAMES, decodeSvcStatsValue, flagNames, frontendKind } from '../../control-plane/src/dataplane/ebpf/map-values.js';

const b = (...x: number[]) => Uint8Array.from(x);
const le32 = (n: number) => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255];
const le16 = (n: number) => [n & 255, (n >>> 8) & 255];
const le64 = (n: bigint) => Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(8 * i)) & 255n));

test('sy_services: key addr/port network order, value little endian, flags by name', () => {
  const key = b(198, 18, 128, 10, 0, 80, 6, 1);
  const value = b(...le32(7), ...le32(3), ...le16(2), ...le16(0x1 | 0x40 | 0x200), ...le32(10800), ...le32(251));
  assert.deepEqual(decodeEntry('sy_services', key, value), {
    addr: '198.18.128.10', port: 80, proto: 'TCP', scope: 'internal', kind: 'ClusterIP', id: 7, group: 3, count: 2,
    flags: ['ClusterIP', 'ClientIPAffinity', 'DropNoEndpoints'], affinityTimeout: 10800, tableSize: 251,
  });
});

test('flag names, unknown bits in hex; frontend kind from the flags', () => {
  assert.deepEqual(flagNames(0x2 | 0x10 | 0x8000, SVC_FLAG_NAMES), ['NodePort', 'ExternalLocal', '0x8000']);
  assert.equal(frontendKind(0x2 | 0x10), 'NodePort');
  assert.equal(frontendKind(0x8 | 0x80), 'LoadBalancer');
  assert.equal(frontendKind(0x4), 'ExternalIP');
  assert.equal(frontendKind(0), 'unknown');
});

test('sy_backends, sy_revnat, sy_config, sy_attach', () => {
  assert.deepEqual(decodeEntry('sy_backends', b(...le32(42)), b(198, 19, 1, 2, 0x1f, 0x90, 17, 1, 1, 0, 0, 0, ...le32(99))), {
    id: 42, addr: '198.19.1.2', port: 8080, proto: 'UDP', state: 'terminating', local: true, zone: 99,
  });
  assert.deepEqual(decodeEntry('sy_revnat', b(...le32(7)), b(198, 18, 128, 10, 0, 53, 0, 0)), { id: 7, addr: '198.18.128.10', port: 53 });
  assert.deepEqual(decodeEntry('sy_config', b(...le32(0)), b(...le32(0x5317c4d1), ...le32(2), 198, 18, 0, 11, ...le16(1024), ...le16(29999), ...le32(0x1003), ...le32(1))), {
    index: 0, flowHashSeed: 0x5317c4d1, flags: 2, nodeAddr: '198.18.0.11', snatPortMin: 1024, snatPortMax: 29999, hostNetnsCookie: String(0x1_0000_1003), serviceCIDR: '',
  });
  // 32 bytes: the Service CIDR (network, mask; both network order).
  assert.equal((decodeEntry('sy_config', b(...le32(0)), b(...le32(1), ...le32(0), 198, 18, 0, 11, 0, 0, 0, 0, ...le32(0), ...le32(0), 198, 18, 128, 0, 255, 255, 128, 0)) as { serviceCIDR: string }).serviceCIDR,
    '198.18.128.0/17');
  // A 16-byte value (pins from before the cookie) still decodes.
  assert.equal((decodeEntry('sy_config', b(...le32(0)), b(...le32(1), ...le32(0), 198, 18, 0, 11, 0, 0, 0, 0)) as { hostNetnsCookie: string }).hostNetnsCookie, '0');
  const ifname = [...Buffer.from('syp1a2b'), ...new Array(16 - 7).fill(0)];
  assert.deepEqual(decodeEntry('sy_attach', b(...le32(5), ...le32(0)), b(...le32(0), ...le32(77), ...ifname)), {
    ifindex: 5, hook: 'tc_ingress', ifname: 'syp1a2b', mode: 'tcx', progId: 77,
  });
});

test('sy_maglev: slot counts per backend, the table itself on request', () => {
  const t = [1, 2, 1, 3, 1];
  const e = decodeEntry('sy_maglev', b(...le32(9)), b(...t.flatMap(le32)));
  assert.deepEqual(e, { group: 9, tableSize: 5, backends: [{ id: 1, slots: 3 }, { id: 2, slots: 1 }, { id: 3, slots: 1 }] });
  assert.deepEqual(decodeEntry('sy_maglev', b(...le32(9)), b(...t.flatMap(le32)), { table: true }).table, t);
  assert.deepEqual(slotCounts(Uint32Array.from([5, 5])), [{ id: 5, slots: 2 }]);
});

test('sy_conntrack: tuple, direction, age against CLOCK_MONOTONIC, lifetime by flags, 24- and 32-byte values', () => {
  const now = 1_000_000_000_000n;
  const key = b(198, 19, 1, 50, 198, 18, 128, 10, 0x9c, 0x40, 0, 80, 6, 0, 0, 0);
  const v24 = b(...le64(now - 30_000_000_000n), ...le32(3), ...le32(7), ...le16(0x12), ...le16(0x21), 0, 0, 0, 0);
  const e = decodeEntry('sy_conntrack', key, v24, { now });
  assert.deepEqual(e, {
    saddr: '198.19.1.50', sport: 40000, daddr: '198.18.128.10', dport: 80, proto: 'TCP', dir: 'forward',
    backendId: 3, revNatId: 7, lastSeen: String(now - 30_000_000_000n), ageSeconds: 30, lifetimeSeconds: 21600, expired: false,
    tcpFlags: ['SYN', 'ACK'], flags: ['SeenReply', 'Established'],
  });
  // Reply seen but the handshake not completed (half-open): the short lifetime.
  const halfOpen = b(...le64(now - 30_000_000_000n), ...le32(3), ...le32(7), ...le16(0x12), ...le16(0x1), 0, 0, 0, 0);
  assert.equal(decodeEntry('sy_conntrack', key, halfOpen, { now }).lifetimeSeconds, 60);
  // Closing TCP: 10 s; UDP: 60 s.
  const closing = b(...le64(now - 11_000_000_000n), ...le32(3), ...le32(7), ...le16(0x11), ...le16(0x3), 0, 0, 0, 0);
  assert.equal(decodeEntry('sy_conntrack', key, closing, { now }).expired, true);
  const udpKey = Uint8Array.from(key);
  udpKey[12] = 17;
  udpKey[13] = 1;
  const udp = decodeEntry('sy_conntrack', udpKey, v24, { now });
  assert.equal(udp.lifetimeSeconds, 60);
  assert.equal(udp.dir, 'reply');
  // The 32-byte SNAT layout carries the NAT address and port.
  const v32 = b(...le64(now), ...le32(3), ...le32(7), ...le16(0), ...le16(0x5), 198, 18, 0, 11, 0x75, 0x30, 0, 0, 0, 0, 0, 0);
  const s = decodeEntry('sy_conntrack', key, v32, { now });
  assert.deepEqual(s.flags, ['SeenReply', 'SNAT']);
  assert.equal(s.natAddr, '198.18.0.11');
  assert.equal(s.natPort, 30000);
});

test('sy_affinity, sy_svc_stats (per-CPU copies summed), sy_counters, sy_source_ranges; unknown maps in hex', () => {
  const now = 100_000_000_000n;
  assert.deepEqual(decodeEntry('sy_affinity', b(198, 19, 1, 50, ...le32(3)), b(...le64(now - 2_500_000_000n), ...le32(4), 0, 0, 0, 0), { now }), {
    client: '198.19.1.50', group: 3, backendId: 4, lastUsed: String(now - 2_500_000_000n), ageSeconds: 2.5,
  });
  assert.deepEqual(decodeEntry('sy_svc_stats', b(...le32(7), ...le32(1)), b(...le64(10n), ...le64(1500n))), { frontendId: 7, hook: 'xdp', packets: 10, bytes: 1500 });
  const perCpu = b(...le64(10n), ...le64(1000n), ...le64(5n), ...le64(500n));
  assert.deepEqual(decodeSvcStatsValue(perCpu), { packets: 15n, bytes: 1500n });
  assert.deepEqual(decodeEntry('sy_counters', b(...le32(2)), b(...le64(9n), ...le64(1n))), { index: 2, event: decodeEntry('sy_counters', b(...le32(2)), b(...le64(0n))).event, count: 10 });
  assert.deepEqual(decodeEntry('sy_source_ranges', b(...le32(32 + 24), ...le32(7), 10, 1, 2, 0), b(1)), { frontendId: 7, cidr: '10.1.2.0/24' });
  assert.deepEqual(decodeEntry('sy_future', b(1, 2), b(0xab)), { key: '0102', value: 'ab' });
});

test('sy_frag (fragment ports by datagram), sy_dev_mac, and the counter names 24-28', () => {
  assert.deepEqual(decodeEntry('sy_frag', b(198, 19, 1, 2, 198, 18, 128, 10, 0x12, 0x34, 17, 0), b(0xa0, 0x00, 0x00, 53)),
    { saddr: '198.19.1.2', daddr: '198.18.128.10', ipId: 0x1234, proto: 'UDP', sport: 40960, dport: 53 });
  assert.deepEqual(decodeEntry('sy_dev_mac', b(...le32(2)), b(2, 0, 0, 0, 0x10, 0xab, 1, 0)), { ifindex: 2, mac: '02:00:00:00:10:ab', set: true });
  const names = [24, 25, 26, 27, 28].map((i) => decodeEntry('sy_counters', b(...le32(i)), b(...le64(0n))).event);
  assert.deepEqual(names, ['not_for_host', 'frag_first', 'frag_xlate', 'drop_frag_no_first', 'drop_frag_reject']);
  assert.equal(decodeEntry('sy_counters', b(...le32(29)), b(...le64(0n))).event, 'event_29');
});

test('filters compare as strings; list fields match when they contain the value', () => {
  const e = { state: 'active', port: 8080, flags: ['ClusterIP', 'Random'], local: true };
  assert.equal(matchesFilter(e, 'port', '8080'), true);
  assert.equal(matchesFilter(e, 'local', 'true'), true);
  assert.equal(matchesFilter(e, 'flags', 'Random'), true);
  assert.equal(matchesFilter(e, 'flags', 'NodePort'), false);
  assert.equal(matchesFilter(e, 'state', 'terminating'), false);
});

test('sy_fib_cache (IPv4 and IPv6 keys), sy_fib_gen, and the counter names 42-43', () => {
  const z = (n: number) => Array<number>(n).fill(0);
  const entry = b(...le64(5_000_000_000n), ...le32(7), ...le32(3), ...le16(1500), 2, 0, 0, 0, 0x10, 1, 2, 0, 0, 0, 0xbe, 1, 0, 0);
  const now = 5_250_000_000n;
  const v4 = b(2, 6, 0x75, 0x30, 0x1f, 0x90, 0, 0, ...le32(2), 0x10, 0, 0, 0, 192, 168, 0, 1, ...z(12), 10, 200, 1, 245, ...z(12));
  assert.deepEqual(decodeEntry('sy_fib_cache', v4, entry, { now }), {
    family: 'ipv4', proto: 'TCP', saddr: '192.168.0.1', sport: 30000, daddr: '10.200.1.245', dport: 8080, ingressIfindex: 2, flowinfo: 0x10000000,
    egressIfindex: 3, smac: '02:00:00:00:10:01', dmac: '02:00:00:00:be:01', mtu: 1500, generation: 1, shortKey: true, ageSeconds: 0.25,
  });
  const v6 = b(10, 17, 0, 53, 0x9c, 0x40, 0, 0, ...le32(4), 0, 0x01, 0x23, 0x45, 0xfd, 0, ...z(13), 1, 0xfd, 0, ...z(13), 2);
  const d6 = decodeEntry('sy_fib_cache', v6, entry, { now });
  assert.deepEqual([d6.family, d6.proto, d6.saddr, d6.daddr, d6.sport, d6.dport, d6.flowinfo], ['ipv6', 'UDP', 'fd00::1', 'fd00::2', 53, 40000, 0x12345]);
  // entry.gen 7: generation 1, both short-key bits; sy_fib_gen 9: generation 2, IPv4 short key only.
  assert.equal(d6.shortKey, true);
  assert.deepEqual(decodeEntry('sy_fib_gen', b(...le32(0)), b(...le32(9))), { index: 0, generation: 2, shortKeyIPv4: true, shortKeyIPv6: false });
  const names = [42, 43].map((i) => decodeEntry('sy_counters', b(...le32(i)), b(...le64(0n))).event);
  assert.deepEqual(names, ['fib_cache_hit', 'fib_cache_miss']);
});
