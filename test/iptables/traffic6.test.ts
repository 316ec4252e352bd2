// Root test with real IPv6 traffic through ip6tables, for legacy and nft: a
// dual-stack client ns → router ns (programmed through `ip netns exec`) → two
// server ns, addresses in fd00::/8. The IPv6 back end (ip6tables-restore)
// carries TCP and UDP through a ClusterIP and a NodePort, REJECTs a Service
// without endpoints with ICMPv6 (connection refused), deletes a stale UDP
// conntrack entry of the IPv6 family (conntrack -f ipv6), and runs beside the
// IPv4 back end on the same node without either touching the other's tables.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IptablesDataplane } from '../../control-plane/src/dataplane/iptables/iptables-dataplane.js';
import type { DesiredServicePort } from '../../control-plane/src/dataplane/desired-state.js';
import type { EndpointInfo } from '../../control-plane/src/model/types.js';
import { desiredOf, ep, svcPort } from './fixtures.js';
import { Topology, backendSkipReason, must, rootSkipReason, sh } from './netns.js';

const rootSkip = await rootSkipReason();
const ROUTER6 = 'fd00:0:0:1::1';
const VIP = 'fd00:0:0:96::10';
const VIP_UDP = 'fd00:0:0:96::11';
const VIP_LATE = 'fd00:0:0:96::12';
const VIP_EMPTY = 'fd00:0:0:96::13';
const VIP_V6ONLY = 'fd00:0:0:96::14';
const VIP4 = '198.19.0.10';
const VIP4_ONLY = '198.19.0.11';

const WEB = svcPort({ family: 'IPv6', ns: 'demo', name: 'web', port: 'http', type: 'NodePort', clusterIP: VIP, nodePort: 30080 });
const WEB4 = svcPort({ ns: 'demo', name: 'web', port: 'http', type: 'NodePort', clusterIP: VIP4, nodePort: 30080 });
const DNS = svcPort({ family: 'IPv6', ns: 'demo', name: 'dns', port: 'dns', protocol: 'UDP', clusterIP: VIP_UDP, svcPort: 53 });
const EMPTY = svcPort({ family: 'IPv6', ns: 'demo', name: 'empty', port: 'http', clusterIP: VIP_EMPTY });
const ONLY6 = svcPort({ family: 'IPv6', ns: 'demo', name: 'only6', port: 'http', clusterIP: VIP_V6ONLY });
const ONLY4 = svcPort({ ns: 'demo', name: 'only4', port: 'http', clusterIP: VIP4_ONLY });
/** A UDP NodePort Service that appears while a client's flow to its NodePort is already in conntrack. */
const LATE = svcPort({ family: 'IPv6', ns: 'demo', name: 'late', port: 'dns', protocol: 'UDP', type: 'NodePort', clusterIP: VIP_LATE, svcPort: 53, nodePort: 30053 });

const A6 = ep('fd00:0:0:2::2', { port: 8080 });
const B6 = ep('fd00:0:0:3::2', { port: 8080 });
const A6U = ep('fd00:0:0:2::2', { port: 5353 });
const B6U = ep('fd00:0:0:3::2', { port: 5353 });
const A4 = ep('198.18.2.2', { port: 8080 });
const B4 = ep('198.18.3.2', { port: 8080 });

const count = (xs: string[]) => xs.reduce<Record<string, number>>((m, x) => ({ ...m, [x]: (m[x] ?? 0) + 1 }), {});
const both = (seen: Record<string, number>, n: number): void => {
  assert.ok(seen['server-a'] && seen['server-b'], JSON.stringify(seen));
  assert.equal((seen['server-a'] ?? 0) + (seen['server-b'] ?? 0), n, JSON.stringify(seen));
};

for (const backend of ['legacy', 'nft'] as const) {
  const skip = rootSkip ?? (await backendSkipReason(backend, 'IPv6')) ?? (await backendSkipReason(backend, 'IPv4'));
  describe(`ip6tables-${backend}: IPv6 traffic through a ClusterIP and a NodePort`, { skip, concurrency: false }, () => {
    const topo = new Topology(backend === 'legacy' ? 'l6' : 'n6', { ipv6: true });
    let dp6: IptablesDataplane;
    let dp4: IptablesDataplane;
    const node = { nodeName: 'router', nodeIPs: ['198.18.1.1', ROUTER6], clusterCIDR: '198.18.2.0/23,fd00:0:0:2::/63' };
    const save6 = async (...args: string[]) => must(['ip', 'netns', 'exec', topo.router, `ip6tables-${backend}-save`, ...args]);
    const save4 = async (...args: string[]) => must(['ip', 'netns', 'exec', topo.router, `iptables-${backend}-save`, ...args]);
    const desired6 = (web: EndpointInfo[], dns: EndpointInfo[], extra: Array<[typeof WEB, EndpointInfo[]]> = []): DesiredServicePort[] =>
      desiredOf([[WEB, web], [DNS, dns], [EMPTY, []], [ONLY6, [A6]], ...extra]);

    before(async () => {
      await topo.create();
      dp6 = new IptablesDataplane({
        family: 'IPv6', node, backend, commandPrefix: ['ip', 'netns', 'exec', topo.router], canaryMonitor: false,
      });
      await dp6.init();
    });
    after(async () => {
      await dp6?.close();
      await dp4?.close();
      await topo.destroy();
    });

    test('full sync through ip6tables-restore: ClusterIP (TCP, UDP) and NodePort reach both servers, masqueraded', async () => {
      assert.equal(dp6.backend, backend);
      assert.equal(dp6.runner.binary('restore'), `ip6tables-${backend}-restore`);
      const out = await dp6.sync(desired6([A6, B6], [A6U, B6U]));
      assert.equal(out.detail.full, 1);
      const s = await save6();
      assert.match(s, /^-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES$/m);
      assert.match(s, /^-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING$/m);
      assert.match(s, /^:KUBE-PROXY-CANARY - \[0:0\]$/m);
      assert.match(s, /-j DNAT --to-destination \[fd00:0:0:2::2\]:8080$/m);
      assert.match(s, /-d fd00:0:0:96::10\/128 -p tcp -m comment --comment "demo\/web:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-/);
      assert.doesNotMatch(await save4(), /KUBE-/, 'the IPv6 back end writes nothing into iptables (IPv4)');

      both(count(await topo.connect(VIP, 80, 40)), 40);
      both(count(await topo.connect(ROUTER6, 30080, 40)), 40);
      both(count(await topo.udp(VIP_UDP, 53, 40)), 40);
      // The client (fd00:0:0:1::2) is outside the cluster CIDR: marked, masqueraded.
      const m = /^\[(\d+):\d+\] -A KUBE-POSTROUTING .*-j MASQUERADE/m.exec(await save6('-c', '-t', 'nat'));
      assert.ok(m && Number(m[1]) >= 120, `MASQUERADE packets: ${m?.[1]}`);
    });

    test('a Service without endpoints is REJECTed with ICMPv6 port unreachable: connection refused', async () => {
      assert.match(await save6('-t', 'filter'), /^-A KUBE-SERVICES -d fd00:0:0:96::13\/128 -p tcp -m comment --comment "demo\/empty:http has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp6-port-unreachable$/m);
      assert.deepEqual(await topo.connect(VIP_EMPTY, 80, 2), ['error:ECONNREFUSED', 'error:ECONNREFUSED']);
    });

    test('partial sync: an endpoint leaves; traffic follows and its UDP conntrack entries (IPv6) are deleted', async () => {
      both(count(await topo.udp(VIP_UDP, 53, 20)), 20);
      const ct = async () => must(['ip', 'netns', 'exec', topo.router, 'conntrack', '-L', '-f', 'ipv6', '-p', 'udp']).catch(() => '');
      assert.match(await ct(), /dst=fd00:0:0:96::11 .*src=fd00:0:0:3::2/);
      const out = await dp6.sync(desired6([A6], [A6U]));
      assert.equal(out.detail.full, 0);
      assert.equal(dp6.conntrackErrors, 0);
      assert.doesNotMatch(await ct(), /dst=fd00:0:0:96::11 .*src=fd00:0:0:3::2/, 'no flow left pinned to the gone endpoint');
      assert.deepEqual(count(await topo.connect(VIP, 80, 10)), { 'server-a': 10 });
      assert.deepEqual(count(await topo.udp(VIP_UDP, 53, 10)), { 'server-a': 10 });
    });

    test('a UDP NodePort Service appearing under an existing IPv6 flow: the flow\'s un-NATed conntrack entry is deleted (-f ipv6)', async () => {
      // No Service yet: the datagram reaches the router itself (no socket) and conntrack keeps the flow, without NAT.
      assert.deepEqual(await topo.udp(ROUTER6, 30053, 1, 40053), ['timeout']);
      await dp6.sync(desired6([A6], [A6U], [[LATE, [A6U]]]));
      assert.equal(dp6.conntrackErrors, 0);
      assert.deepEqual(await topo.udp(ROUTER6, 30053, 2, 40053), ['server-a', 'server-a'], 'the same flow now reaches the backend');
    });

    test('dual-stack node: the IPv4 back end beside it; each family\'s Services only in its own tables', async () => {
      dp4 = new IptablesDataplane({ node, backend: dp6.backend!, commandPrefix: ['ip', 'netns', 'exec', topo.router], canaryMonitor: false });
      await dp4.init();
      await dp4.sync(desiredOf([[WEB4, [A4, B4]], [ONLY4, [A4]]]));
      await dp6.sync(desired6([A6, B6], [A6U, B6U]));
      both(count(await topo.connect(VIP4, 80, 30)), 30);
      both(count(await topo.connect(VIP, 80, 30)), 30);
      const s4 = await save4(), s6 = await save6();
      // One Service, one chain name in both tables (name and protocol hashed).
      const svc = (s: string, vip: string) => new RegExp(`-d ${vip.replace(/\./g, '\\.')}/\\d+ -p tcp -m comment --comment "demo/web:http cluster IP" -m tcp --dport 80 -j (KUBE-SVC-\\S+)`).exec(s)?.[1];
      assert.ok(svc(s4, VIP4));
      assert.equal(svc(s4, VIP4), svc(s6, VIP));
      assert.doesNotMatch(s4, /only6|fd00:/, 'no IPv6 Service or address in iptables');
      assert.doesNotMatch(s6, /only4|198\.1[89]\./, 'no IPv4 Service or address in ip6tables');
    });

    test('cleanup of the IPv6 back end leaves no KUBE-* in ip6tables and the IPv4 rules in place', async () => {
      await dp6.cleanup();
      for (const b of ['legacy', 'nft'] as const) {
        const r = await sh(['ip', 'netns', 'exec', topo.router, `ip6tables-${b}-save`]);
        if (r.code === 0) assert.doesNotMatch(r.stdout, /KUBE-/, `${b}:\n${r.stdout}`);
      }
      assert.match(await save4(), /KUBE-SVC-/);
      assert.ok(!['server-a', 'server-b'].includes((await topo.connect(VIP, 80, 1))[0]!), 'the IPv6 VIP no longer answers');
      both(count(await topo.connect(VIP4, 80, 10)), 10);
      await dp4.cleanup();
      assert.doesNotMatch(await save4(), /KUBE-/);
    });
  });
}
