// The dual-stack lab's plan, topology lines, agent flags and wait-ready check
// as pure functions (no namespaces needed).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkReadiness } from '../../lab/src/cli/wait.js';
import { agentFamilyArgs } from '../../lab/src/daemon/agent-family-args.js';
import { labPlan, nodeRoutes, parseLabIPFamily } from '../../lab/src/netns/plan.js';
import { externalRoutes, hostBatch, nodeDefaultRoute, underlayBatch } from '../../lab/src/netns/topology.js';

describe('dual-stack lab plan', () => {
  test('the default (ipv4) plan is the IPv4-only plan of before: no IPv6 field anywhere', () => {
    const p = labPlan('sy', 2);
    assert.equal(JSON.stringify(p).includes('fd00'), false);
    assert.equal(p.ipFamily, undefined);
    assert.equal(p.nodes[0]!.ips, undefined);
    assert.equal(p.apiURL, 'http://198.18.0.1:6443');
    assert.deepEqual(hostBatch(p, p.nodes[0]!, 1), [
      'link set lo up',
      'addr add 198.18.0.11/24 dev eth0',
      'link set eth0 up',
      'route add 198.19.2.0/24 via 198.18.0.12 dev eth0',
    ]);
    assert.deepEqual(nodeDefaultRoute(p), ['route add default via 198.18.0.1 dev eth0']);
    assert.ok(!underlayBatch(p)[1]!.includes('mcast_snooping'));
    assert.deepEqual(agentFamilyArgs(p, p.nodes[0]!), {
      nodeIP: ['--node-ip', '198.18.0.11'],
      ranges: ['--cluster-cidr', '198.19.0.0/16', '--service-cluster-ip-range', '198.18.128.0/17', '--health-bind-address', '0.0.0.0:10256'],
    });
  });

  test('dual: both families, IPv4 primary; routes per family; addresses without DAD', () => {
    const p = labPlan('sy', 2, undefined, undefined, 'dual');
    const n1 = p.nodes[0]!;
    assert.deepEqual(n1.ips, ['198.18.0.11', 'fd00:198:18::11']);
    assert.deepEqual(n1.podCIDRs, ['198.19.1.0/24', 'fd00:198:19:1::/64']);
    assert.equal(n1.ip, '198.18.0.11');
    assert.deepEqual(p.serviceCIDRs, ['198.18.128.0/17', 'fd00:198:18:128::/112']);
    assert.equal(p.apiURL, 'http://198.18.0.1:6443');
    assert.deepEqual(nodeRoutes(p, 1), [
      { dst: '198.19.2.0/24', via: '198.18.0.12' },
      { dst: 'fd00:198:19:2::/64', via: 'fd00:198:18::12' },
    ]);
    assert.deepEqual(hostBatch(p, n1, 1), [
      'link set lo up',
      'addr add 198.18.0.11/24 dev eth0',
      'addr add fd00:198:18::11/64 dev eth0 nodad',
      'link set eth0 up',
      'route add 198.19.2.0/24 via 198.18.0.12 dev eth0',
      'route add fd00:198:19:2::/64 via fd00:198:18::12 dev eth0',
    ]);
    assert.deepEqual(externalRoutes(p), ['route add default via 198.18.0.11 dev eth0', 'route add ::/0 via fd00:198:18::11 dev eth0']);
    assert.match(underlayBatch(p)[1]!, /mcast_snooping 0/);
    assert.deepEqual(agentFamilyArgs(p, n1), {
      nodeIP: ['--node-ip', '198.18.0.11,fd00:198:18::11'],
      ranges: ['--cluster-cidr', '198.19.0.0/16,fd00:198:19::/48', '--service-cluster-ip-range', '198.18.128.0/17,fd00:198:18:128::/112', '--health-bind-address', '[::]:10256'],
    });
  });

  test('ipv6: IPv6 only, the API server on IPv6, a narrow link locks /128 host routes', () => {
    const p = labPlan('sy', 2, undefined, new Map([[2, 1280]]), 'ipv6');
    assert.deepEqual(p.nodes.map((n) => n.ips), [['fd00:198:18::11'], ['fd00:198:18::12']]);
    assert.equal(JSON.stringify({ ...p, stateDir: '', name: '' }).includes('198.1'), false, 'no IPv4 address in the plan');
    assert.equal(p.apiURL, 'http://[fd00:198:18::1]:6443');
    assert.deepEqual(nodeRoutes(p, 1), [
      { dst: 'fd00:198:19:2::/64', via: 'fd00:198:18::12', mtu: 1280 },
      { dst: 'fd00:198:18::12/128', mtu: 1280 },
    ]);
    assert.deepEqual(agentFamilyArgs(p, p.nodes[0]!), { nodeIP: [], ranges: ['--health-bind-address', '[::]:10256'] });
    assert.throws(() => parseLabIPFamily('ipv5'), /expected ipv4, ipv6, dual/);
  });

  test('wait-ready expects every family of a Service in its slices', () => {
    const pod = (name: string, ips: string[]) => ({
      metadata: { name, namespace: 'default', labels: { app: 'w' } },
      status: { phase: 'Running', podIP: ips[0], podIPs: ips.map((ip) => ({ ip })), conditions: [{ type: 'Ready', status: 'True' }] },
    });
    const svc = (families: string[]) => ({ metadata: { name: 'w', namespace: 'default' }, spec: { selector: { app: 'w' }, ipFamilies: families } });
    const slice = (type: string, addrs: string[]) => ({
      metadata: { namespace: 'default', labels: { 'kubernetes.io/service-name': 'w' } },
      addressType: type,
      endpoints: addrs.map((a) => ({ addresses: [a], conditions: { ready: true } })),
    });
    const pods = [pod('a', ['198.19.1.2', 'fd00:198:19:1::2'])];
    assert.equal(checkReadiness([], pods, [svc(['IPv4', 'IPv6'])], [slice('IPv4', ['198.19.1.2']), slice('IPv6', ['fd00:198:19:1::2'])]).ready, true);
    assert.deepEqual(checkReadiness([], pods, [svc(['IPv4', 'IPv6'])], [slice('IPv4', ['198.19.1.2'])]).waitingFor, ['service default/w slices not current (missing fd00:198:19:1::2)']);
    assert.equal(checkReadiness([], pods, [svc(['IPv4'])], [slice('IPv4', ['198.19.1.2'])]).ready, true, 'a SingleStack IPv4 Service of a dual-stack pod');
  });
});
