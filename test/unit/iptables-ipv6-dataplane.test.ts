// The iptables back end for the IPv6 family against a fake ip6tables: it runs
// ip6tables-<backend>, ip6tables-<backend>-save and -restore (never the IPv4
// programs), sets no IPv4 sysctl, reads the node's IPv6 addresses for
// --nodeport-addresses, deletes stale IPv6 UDP flows with conntrack -f ipv6
// (kube-proxy's command form), and cleans only ip6tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IptablesDataplane } from '../../control-plane/src/dataplane/iptables/iptables-dataplane.js';
import { staleUdpDeletions } from '../../control-plane/src/dataplane/iptables/stale-udp.js';
import { FakeIptables } from '../iptables/fake-exec.js';
import { desiredOf, ep, svcPort } from '../iptables/fixtures.js';

const WEB = svcPort({ family: 'IPv6', name: 'web', type: 'NodePort', clusterIP: 'fd00:10:96::a', nodePort: 30080 });
const DNS = svcPort({ family: 'IPv6', name: 'dns', port: 'dns', protocol: 'UDP', clusterIP: 'fd00:10:96::53', svcPort: 53, nodePort: 30053 });
const DNS4 = svcPort({ name: 'dns', port: 'dns', protocol: 'UDP', clusterIP: '198.18.128.53', svcPort: 53 });

function make(fake: FakeIptables, extra: Partial<ConstructorParameters<typeof IptablesDataplane>[0]> = {}) {
  return new IptablesDataplane({
    family: 'IPv6',
    node: { nodeName: 'node-a', nodeIPs: ['198.18.0.2', '2001:db8::2'], clusterCIDR: '198.19.0.0/16,fd00:10:244::/56' },
    exec: fake.exec, canaryMonitor: false, ...extra,
  });
}

const programs = (fake: FakeIptables) => new Set(fake.calls.map((c) => c[0]!));

test('the IPv6 back end runs ip6tables only, and no IPv4 sysctl', async () => {
  const fake = new FakeIptables('IPv6');
  const dp = make(fake);
  await dp.init();
  assert.equal(dp.family, 'IPv6');
  for (const t of ['mangle', 'nat', 'filter']) assert.ok(fake.has(t, 'KUBE-PROXY-CANARY'), t);
  await dp.sync(desiredOf([[WEB, [ep('fd00:10:244::1', { port: 8080 })]]]));
  const used = programs(fake);
  assert.ok(used.has('ip6tables-nft-restore') && used.has('ip6tables-nft'), [...used].join(' '));
  for (const p of ['iptables-nft', 'iptables-nft-restore', 'iptables-legacy', 'iptables-legacy-restore']) assert.ok(!used.has(p), p);
  assert.ok(!fake.calls.some((c) => c[0] === 'sysctl' && c.some((a) => a.includes('route_localnet'))), 'route_localnet is IPv4 only');
  const input = fake.restores.at(-1)!;
  assert.match(input, /-d fd00:10:96::a --dport 80 -j KUBE-SVC-/);
  assert.match(input, /--to-destination \[fd00:10:244::1\]:8080/);
  assert.match(input, /! -s fd00:10:244::\/56 -j KUBE-MARK-MASQ/, 'the IPv6 entry of the dual-stack cluster CIDR');
  assert.match(input, /--dst-type LOCAL ! -d ::1\/128 -j KUBE-NODEPORTS/);
});

test('IPv4 service ports handed to the IPv6 back end are left out and counted', async () => {
  const fake = new FakeIptables('IPv6');
  const dp = make(fake);
  const out = await dp.sync(desiredOf([[WEB, [ep('fd00:10:244::1')]], [DNS4, [ep('198.19.0.9')]]]));
  assert.equal(out.detail.servicePorts, 1);
  assert.equal(out.detail.otherFamilyPorts, 1);
  assert.doesNotMatch(fake.restores.at(-1)!, /198\.1[89]\./);
});

test('--nodeport-addresses: the node\'s IPv6 addresses (ip -6 addr) inside the IPv6 CIDRs', async () => {
  const fake = new FakeIptables('IPv6');
  const dp = make(fake, { node: { nodeName: 'node-a', nodeIPs: ['2001:db8::2'], nodePortAddresses: ['198.18.0.0/24', '2001:db8::/64'] } });
  await dp.sync(desiredOf([[WEB, [ep('fd00:10:244::1')]]]));
  assert.ok(fake.calls.some((c) => c.join(' ') === 'ip -6 -o addr show'));
  const jumps = fake.restores.at(-1)!.split('\n').filter((l) => l.startsWith('-A KUBE-SERVICES') && l.endsWith('-j KUBE-NODEPORTS'));
  assert.deepEqual(jumps.map((l) => l.replace(/.*this chain" /, '')), ['-d 2001:db8::2 -j KUBE-NODEPORTS']);
});

test('stale IPv6 UDP flows are deleted with conntrack -f ipv6 (ClusterIP and NodePort frontends); IPv4 ones without', async () => {
  const fake = new FakeIptables('IPv6');
  const dp = make(fake);
  const a = ep('fd00:10:244::1', { port: 5353 }), b = ep('fd00:10:244::2', { port: 5353 });
  await dp.sync(desiredOf([[DNS, [a, b]]]));
  await dp.sync(desiredOf([[DNS, [a]]]));
  const ct = fake.calls.filter((c) => c[0] === 'conntrack').map((c) => c.join(' '));
  assert.deepEqual(ct.slice(-2), [
    'conntrack -D -p udp --orig-dst fd00:10:96::53 --orig-port-dst 53 --reply-src fd00:10:244::2 -f ipv6',
    'conntrack -D -p udp --orig-port-dst 30053 --reply-src fd00:10:244::2 -f ipv6',
  ]);
  const v4 = staleUdpDeletions(desiredOf([[DNS4, [ep('198.19.0.1'), ep('198.19.0.2')]]]), desiredOf([[DNS4, [ep('198.19.0.1')]]]));
  assert.deepEqual(v4.map((d) => d.args.join(' ')), ['-p udp --orig-dst 198.18.128.53 --orig-port-dst 53 --reply-src 198.19.0.2']);
});

test('cleanup of the IPv6 back end touches ip6tables only', async () => {
  const fake = new FakeIptables('IPv6');
  const dp = make(fake);
  await dp.init();
  await dp.sync(desiredOf([[WEB, [ep('fd00:10:244::1')]]]));
  const before = fake.calls.length;
  const reports = await dp.cleanup();
  assert.deepEqual(reports.map((r) => [r.family, r.backend]), [['IPv6', 'legacy'], ['IPv6', 'nft']]); // the fake answers for both
  assert.ok(fake.calls.slice(before).every((c) => !/^iptables-/.test(c[0]!)), 'no IPv4 program');
  for (const [t, chains] of fake.tables) for (const c of chains.keys()) assert.ok(!c.startsWith('KUBE-'), `${t}/${c} left`);
});

test('a second family takes the first family\'s back end instead of detecting its own', async () => {
  const v4 = new FakeIptables('IPv4');
  v4.saveOutputs['iptables-legacy-save'] = '*mangle\n:KUBE-IPTABLES-HINT - [0:0]\nCOMMIT\n';
  const dp4 = new IptablesDataplane({ node: { nodeName: 'n', nodeIPs: ['198.18.0.2'] }, exec: v4.exec, canaryMonitor: false, manageSysctls: false });
  await dp4.init();
  assert.equal(dp4.backend, 'legacy');
  const v6 = new FakeIptables('IPv6'); // nothing to detect from: alone it would pick nft
  const dp6 = make(v6);
  dp6.useBackend(dp4.backend!, `${dp4.backendReason} (as the IPv4 family)`);
  await dp6.init();
  assert.equal(dp6.backend, 'legacy');
  assert.match(dp6.backendReason, /kubelet chains found in iptables-legacy \(as the IPv4 family\)/);
  assert.ok(v6.calls.some((c) => c[0] === 'ip6tables-legacy'));
  assert.ok(!v6.calls.some((c) => c[0] === 'ip6tables-nft'));
  assert.throws(() => dp6.useBackend('nft', 'late'), /already legacy/);
});

test('dual-stack: one Dataplane takes both families\' ports and restores each into its own tables; a failing family does not stop the other', async () => {
  const { DualStackIptablesDataplane } = await import('../../control-plane/src/dataplane/iptables/dual-stack-dataplane.js');
  const f4 = new FakeIptables('IPv4'), f6 = new FakeIptables('IPv6');
  f4.saveOutputs['iptables-legacy-save'] = '*mangle\n:KUBE-IPTABLES-HINT - [0:0]\nCOMMIT\n';
  const exec: typeof f4.exec = (argv, input) => (argv[0]!.startsWith('ip6tables') ? f6.exec(argv, input) : f4.exec(argv, input));
  const node = { nodeName: 'node-a', nodeIPs: ['198.18.0.2', '2001:db8::2'] };
  const mk = (family: 'IPv4' | 'IPv6') => new IptablesDataplane({ family, node, exec, canaryMonitor: false, manageSysctls: false });
  const dual = new DualStackIptablesDataplane(new Map([['IPv4', mk('IPv4')], ['IPv6', mk('IPv6')]]));
  assert.deepEqual(dual.capabilities.ipFamilies, ['IPv4', 'IPv6']);
  await dual.init();
  assert.equal(dual.families.get('IPv6')!.backend, 'legacy', 'the IPv6 family takes the IPv4 family\'s back end');
  const DNS4b = svcPort({ name: 'dns', port: 'dns', protocol: 'UDP', clusterIP: '198.18.128.53', svcPort: 53 });
  const desired = desiredOf([[WEB, [ep('fd00:10:244::1')]], [DNS4b, [ep('198.19.0.9')]]]);
  const out = await dual.sync(desired);
  assert.equal(out.detail.servicePorts, 2);
  assert.equal(out.detail.full, 1);
  assert.match(f4.restores.at(-1)!, /198\.18\.128\.53/);
  assert.doesNotMatch(f4.restores.at(-1)!, /fd00:|2001:db8/);
  assert.match(f6.restores.at(-1)!, /fd00:10:96::a/);
  assert.doesNotMatch(f6.restores.at(-1)!, /198\.1[89]\./);
  assert.equal(dual.lastRestoreInput, f4.restores.at(-1), 'the admin API reads the first family');
  // ip6tables-restore fails: IPv4 is still programmed, the error names IPv6.
  f6.failRestoreAtLine = 3;
  const n4 = f4.restores.length;
  await assert.rejects(dual.sync(desiredOf([[WEB, [ep('fd00:10:244::2')]], [DNS4b, [ep('198.19.0.8')]]])), /iptables sync failed for IPv6: ip6tables-restore \(legacy\) failed/);
  assert.equal(f4.restores.length, n4 + 1);
  assert.match(f4.restores.at(-1)!, /198\.19\.0\.8/);
});
