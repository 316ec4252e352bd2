// kube-proxy's TestSyncProxyRulesLargeClusterMode (pkg/proxy/iptables/proxier_test.go)
// through the back end's sync discipline: crossing the 1,000-endpoint
// threshold drops endpoint comments but rewrites only the Service that
// changed; a full sync rewrites the rest without comments; in large-cluster
// mode a deleted Service's chains stay until the periodic cleanup scan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IptablesDataplane } from '../../control-plane/src/dataplane/iptables/iptables-dataplane.js';
import { FakeIptables } from '../iptables/fake-exec.js';
import { desiredOf, ep, svcPort } from '../iptables/fixtures.js';
import type { EndpointInfo, ServicePortInfo } from '../../control-plane/src/model/types.js';

/** kube-proxy's countEndpointsAndComments: the SEP DNAT rules of the input, those with a comment, the one naming `match`. */
function countEndpointsAndComments(input: string, match: string): { matched: string; endpoints: number; comments: number } {
  let matched = '';
  let endpoints = 0;
  let comments = 0;
  for (const line of input.split('\n')) {
    if (!line.startsWith('-A KUBE-SEP-') || !line.includes('-j DNAT')) continue;
    endpoints++;
    if (line.includes('--comment')) comments++;
    if (line.includes(match)) matched = line;
  }
  return { matched, endpoints, comments };
}

const HALF = 1000 / 2 - 1; // largeClusterEndpointsThreshold/2 - 1

test('large-cluster threshold: the crossing rewrites only the changed Service, a full sync the rest, stale chains wait for the cleanup scan', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const fake = new FakeIptables();
  const dp = new IptablesDataplane({
    node: { nodeName: 'node-a', nodeIPs: ['198.18.0.2'] },
    exec: fake.exec, canaryMonitor: false, detectHostFeatures: false, manageSysctls: false, syncPeriodMs: 30_000,
  });
  await dp.init();
  const svc1 = svcPort({ ns: 'ns1', name: 'svc1', port: 'p80', clusterIP: '198.18.30.41', svcPort: 80 });
  const svc2 = svcPort({ ns: 'ns2', name: 'svc2', port: 'p8080', clusterIP: '198.18.30.42', svcPort: 8080 });
  const svc3 = svcPort({ ns: 'ns3', name: 'svc3', port: 'p8081', clusterIP: '198.18.30.43', svcPort: 8081 });
  const svc4 = svcPort({ ns: 'ns4', name: 'svc4', port: 'p8082', clusterIP: '198.18.30.44', svcPort: 8082 });
  const many = (b: number, port: number): EndpointInfo[] => Array.from({ length: HALF }, (_, i) => ep(`198.${b}.${i % 256}.${i >> 8}`, { port }));
  const state: Array<[ServicePortInfo, EndpointInfo[]]> = [[svc1, many(19, 80)], [svc2, many(18, 8080)]];
  const input = (): string => dp.lastRestoreInput!;

  await dp.sync(desiredOf(state));
  let c = countEndpointsAndComments(input(), '198.19.0.0:80');
  assert.match(c.matched, /^-A KUBE-SEP-\S+ -m comment --comment ns1\/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 198\.19\.0\.0:80$/);
  assert.equal(c.endpoints, 2 * HALF);
  assert.equal(c.comments, c.endpoints);

  // svc3's three endpoints cross the threshold: only svc3 is written, without comments.
  state.push([svc3, [ep('198.18.113.4', { port: 8081 }), ep('198.18.113.8', { port: 8081 }), ep('198.18.113.12', { port: 8081 })]]);
  t.mock.timers.tick(1000);
  await dp.sync(desiredOf(state));
  c = countEndpointsAndComments(input(), '198.18.113.4');
  assert.match(c.matched, /^-A KUBE-SEP-\S+ -m tcp -p tcp -j DNAT --to-destination 198\.18\.113\.4:8081$/);
  assert.equal(c.endpoints, 3, 'the crossing rewrites only the Service that changed');
  assert.equal(c.comments, 0);
  assert.deepEqual(dp.lastSync?.writtenServices, [svc3.key]);

  // A full sync rewrites the older Services, now without comments.
  dp.requestFullSync();
  t.mock.timers.tick(1000);
  await dp.sync(desiredOf(state));
  c = countEndpointsAndComments(input(), '198.19.0.0:80');
  assert.match(c.matched, /^-A KUBE-SEP-\S+ -m tcp -p tcp -j DNAT --to-destination 198\.19\.0\.0:80$/);
  assert.equal(c.endpoints, 2 * HALF + 3);
  assert.equal(c.comments, 0);

  // A new Service: only its chains.
  state.push([svc4, [ep('198.18.4.1', { port: 8082 })]]);
  t.mock.timers.tick(1000);
  await dp.sync(desiredOf(state));
  c = countEndpointsAndComments(input(), '198.18.4.1');
  assert.match(c.matched, /^-A KUBE-SEP-\S+ -m tcp -p tcp -j DNAT --to-destination 198\.18\.4\.1:8082$/);
  assert.equal(c.endpoints, 1);
  const svc4Chains = [...fake.table('nat').keys()].filter((n) => input().includes(`:${n} - [0:0]`) && /^KUBE-(SVC|SEP)-/.test(n));
  assert.equal(svc4Chains.length, 2);

  // Deleted in large-cluster mode: not written, and its chains not deleted yet.
  state.pop();
  t.mock.timers.tick(1000);
  await dp.sync(desiredOf(state));
  c = countEndpointsAndComments(input(), '198.18.4.1');
  assert.equal(c.matched, '');
  assert.equal(c.endpoints, 0);
  assert.doesNotMatch(input(), /^-X /m, 'no chain deletion before the cleanup scan');
  for (const n of svc4Chains) assert.ok(fake.has('nat', n), `${n} still there`);

  // A sync a syncPeriod after the last scan deletes them.
  t.mock.timers.tick(30_001);
  await dp.sync(desiredOf(state));
  assert.equal(countEndpointsAndComments(input(), '198.18.4.1').endpoints, 0);
  for (const n of svc4Chains) {
    assert.match(input(), new RegExp(`^-X ${n}$`, 'm'));
    assert.ok(!fake.has('nat', n), `${n} deleted`);
  }

  // A full sync writes every endpoint again.
  dp.requestFullSync();
  t.mock.timers.tick(1000);
  await dp.sync(desiredOf(state));
  assert.equal(countEndpointsAndComments(input(), '198.19.0.0:80').endpoints, 2 * HALF + 3);
});

test('below the threshold a deleted Service\'s chains go at once', async () => {
  const fake = new FakeIptables();
  const dp = new IptablesDataplane({
    node: { nodeName: 'node-a', nodeIPs: ['198.18.0.2'] },
    exec: fake.exec, canaryMonitor: false, detectHostFeatures: false, manageSysctls: false,
  });
  await dp.init();
  const a = svcPort({ name: 'a', clusterIP: '198.18.30.1' });
  const b = svcPort({ name: 'b', clusterIP: '198.18.30.2' });
  await dp.sync(desiredOf([[a, [ep('198.19.0.1')]], [b, [ep('198.19.0.2')]]]));
  await dp.sync(desiredOf([[a, [ep('198.19.0.1')]]]));
  assert.equal(dp.lastSync?.deletedChains.length, 2);
  assert.equal((dp.lastRestoreInput!.match(/^-X /gm) ?? []).length, 2);
});
