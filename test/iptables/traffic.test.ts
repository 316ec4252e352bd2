// Root test with real traffic: client ns → router ns (programmed by the back
// end through `ip netns exec`) → two server ns, for legacy and nft. A
// ClusterIP reaches both backends; a partial sync after an endpoint change
// writes only that service and moves the traffic; flushing the router's
// iptables (canary included) is noticed and a full resync restores service;
// cleanup leaves no KUBE-* chain or jump in either back end.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IptablesDataplane } from '../../control-plane/src/dataplane/iptables/iptables-dataplane.js';
import type { DesiredServicePort } from '../../control-plane/src/dataplane/desired-state.js';
import { desiredOf, ep, svcPort } from './fixtures.js';
import { Topology, backendSkipReason, must, rootSkipReason, sh } from './netns.js';

const rootSkip = await rootSkipReason();
const VIP = '198.19.0.10';
const VIP2 = '198.19.0.11';
const WEB = svcPort({ ns: 'demo', name: 'web', port: 'http', clusterIP: VIP });
const ECHO = svcPort({ ns: 'demo', name: 'echo', port: 'http', clusterIP: VIP2 });
const A = ep('198.18.2.2', { port: 8080 });
const B = ep('198.18.3.2', { port: 8080 });

const count = (xs: string[]) => xs.reduce<Record<string, number>>((m, x) => ({ ...m, [x]: (m[x] ?? 0) + 1 }), {});

for (const backend of ['legacy', 'nft'] as const) {
  const skip = rootSkip ?? (await backendSkipReason(backend));
  describe(`iptables-${backend}: traffic through a ClusterIP`, { skip, concurrency: false }, () => {
    const topo = new Topology(backend === 'legacy' ? 'leg' : 'nft');
    let dp: IptablesDataplane;
    let canaryLost = 0;
    const save = async (b: 'legacy' | 'nft' = backend) => must(['ip', 'netns', 'exec', topo.router, `iptables-${b}-save`]);
    const desired = (webEps: typeof A[]): DesiredServicePort[] => desiredOf([[WEB, webEps], [ECHO, [A]]]);

    before(async () => {
      await topo.create();
      dp = new IptablesDataplane({
        node: { nodeName: 'router', nodeIPs: ['198.18.1.1'], clusterCIDR: '198.18.2.0/23' },
        backend,
        commandPrefix: ['ip', 'netns', 'exec', topo.router],
        canaryMonitor: false,
        onFullSyncNeeded: () => canaryLost++,
      });
      await dp.init();
    });
    after(async () => {
      await dp?.close();
      await topo.destroy();
    });

    test('full sync: the VIP reaches both servers, masqueraded, through the jumps from the built-in chains', async () => {
      assert.equal(dp.backend, backend);
      const out = await dp.sync(desired([A, B]));
      assert.equal(out.detail.full, 1);
      const s = await save();
      assert.match(s, /^-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES$/m);
      assert.match(s, /^-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES$/m);
      assert.match(s, /^-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING$/m);
      assert.match(s, /^-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD$/m);
      assert.match(s, /^:KUBE-PROXY-CANARY - \[0:0\]$/m);
      const seen = count(await topo.connect(VIP, 80, 40));
      assert.ok(seen['server-a'] && seen['server-b'], JSON.stringify(seen));
      assert.equal((seen['server-a'] ?? 0) + (seen['server-b'] ?? 0), 40, JSON.stringify(seen));
      assert.deepEqual(count(await topo.connect(VIP2, 80, 3)), { 'server-a': 3 });
      // The client is outside the cluster CIDR: marked, then masqueraded on the way out.
      const counters = await must(['ip', 'netns', 'exec', topo.router, `iptables-${backend}-save`, '-c', '-t', 'nat']);
      const m = /^\[(\d+):\d+\] -A KUBE-POSTROUTING .*-j MASQUERADE/m.exec(counters);
      assert.ok(m && Number(m[1]) >= 43, counters);
    });

    test('partial sync after an endpoint change: only that service rewritten, traffic follows', async () => {
      const out = await dp.sync(desired([A]));
      assert.equal(out.detail.full, 0);
      assert.deepEqual(dp.lastSync?.writtenServices, [WEB.key]);
      assert.deepEqual(dp.lastSync?.skippedServices, [ECHO.key]);
      const input = dp.lastRestoreInput!;
      assert.doesNotMatch(input, /demo\/echo:http -> /, 'the unchanged service is not in the input');
      assert.match(input, /^-A KUBE-SERVICES -m comment --comment "demo\/echo:http cluster IP"/m, 'KUBE-SERVICES is rewritten whole');
      assert.equal(dp.lastSync?.deletedChains.length, 1);
      const gone = dp.lastSync!.deletedChains[0]!;
      assert.match(input, new RegExp(`^-X ${gone}$`, 'm'));
      const s = await save();
      assert.doesNotMatch(s, new RegExp(gone));
      assert.deepEqual(count(await topo.connect(VIP, 80, 12)), { 'server-a': 12 });
      assert.deepEqual(count(await topo.connect(VIP2, 80, 2)), { 'server-a': 2 }, 'the skipped service still works');
      // And back: B returns.
      await dp.sync(desired([A, B]));
      const seen = count(await topo.connect(VIP, 80, 40));
      assert.ok(seen['server-a'] && seen['server-b'], JSON.stringify(seen));
    });

    test('a flush that takes the canary forces a full resync that restores service', async () => {
      for (const t of ['mangle', 'nat', 'filter']) {
        await must(['ip', 'netns', 'exec', topo.router, `iptables-${backend}`, '-w', '5', '-t', t, '-F']);
        await must(['ip', 'netns', 'exec', topo.router, `iptables-${backend}`, '-w', '5', '-t', t, '-X']);
      }
      assert.doesNotMatch(await save(), /KUBE-/);
      const broken = await topo.connect(VIP, 80, 1);
      assert.notEqual(broken[0], 'server-a');
      assert.notEqual(broken[0], 'server-b');
      assert.equal(await dp.checkCanary(), true);
      assert.equal(canaryLost, 1);
      const out = await dp.sync(desired([A, B]));
      assert.equal(out.detail.full, 1);
      const s = await save();
      assert.match(s, /^-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES$/m);
      assert.match(s, /^:KUBE-PROXY-CANARY - \[0:0\]$/m);
      const seen = count(await topo.connect(VIP, 80, 40));
      assert.ok(seen['server-a'] && seen['server-b'], JSON.stringify(seen));
      assert.equal(await dp.checkCanary(), false);
    });

    test('cleanup leaves no KUBE-* chain and no jump, in legacy and nft', async () => {
      await dp.cleanup();
      for (const b of ['legacy', 'nft'] as const) {
        const r = await sh(['ip', 'netns', 'exec', topo.router, `iptables-${b}-save`]);
        if (r.code !== 0) continue;
        assert.doesNotMatch(r.stdout, /KUBE-/, `${b}:\n${r.stdout}`);
      }
      const after = await topo.connect(VIP, 80, 1);
      assert.ok(!['server-a', 'server-b'].includes(after[0]!), 'the VIP no longer answers');
    });
  });
}
