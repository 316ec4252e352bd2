// Which families the agent programs, and the per-family options: --ip-families,
// --node-ip of one or both families, --service-cluster-ip-range's IPv6 entry,
// --cluster-cidr pairs, and the choice from the Node's InternalIPs when no
// option says (kube-proxy's detectNodeIPs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Node } from '@kubernetes/client-node';
import { parseAgentOptions, parseClusterCIDRs, parseIPFamilies, parseNodeIPs, parseServiceCIDR6 } from '../../control-plane/src/config/agent-options.js';
import { chooseIPFamilies, nodeInternalIPs } from '../../control-plane/src/config/ip-families.js';

const agent = (...args: string[]) => parseAgentOptions(['--node-name', 'n1', ...args], {});
const node = (...addrs: Array<[string, string]>): V1Node => ({ metadata: { name: 'n1' }, status: { addresses: addrs.map(([type, address]) => ({ type, address })) } });

test('--ip-families: IPv4, IPv6, both (any case, "dual"); anything else is refused', () => {
  assert.deepEqual(parseIPFamilies('IPv4'), ['IPv4']);
  assert.deepEqual(parseIPFamilies('ipv6,IPv4'), ['IPv6', 'IPv4']);
  assert.deepEqual(parseIPFamilies('dual'), ['IPv4', 'IPv6']);
  assert.throws(() => parseIPFamilies('ipv5'), /"ipv5" is not IPv4, IPv6 or dual/);
  assert.throws(() => parseIPFamilies(','), /empty/);
  assert.deepEqual(agent('--ip-families', 'IPv4,IPv6').ipFamilies, ['IPv4', 'IPv6']);
  assert.equal(agent().ipFamilies, undefined, 'unset: decided from the node');
});

test('--node-ip: one address of either family or one of each, IPv6 in RFC 5952 form', () => {
  assert.deepEqual(parseNodeIPs('198.18.0.11'), { v4: '198.18.0.11' });
  assert.deepEqual(parseNodeIPs('FD00:18:0::11'), { v6: 'fd00:18::11' });
  assert.deepEqual(parseNodeIPs('198.18.0.11,fd00:18::11'), { v4: '198.18.0.11', v6: 'fd00:18::11' });
  assert.throws(() => parseNodeIPs('198.18.0.11,198.18.0.12'), /two IPv4 addresses/);
  assert.throws(() => parseNodeIPs('::ffff:198.18.0.1'), /not an IPv4 or IPv6 address/);
  assert.throws(() => parseNodeIPs('nope'), /not an IPv4 or IPv6 address/);
  const o = agent('--node-ip', '198.18.0.11,fd00:18::11');
  assert.equal(o.nodeIP, '198.18.0.11');
  assert.equal(o.nodeIP6, 'fd00:18::11');
});

test('--service-cluster-ip-range: the IPv6 entry becomes the IPv6 Service CIDR; an IPv6-only range needs an IPv6-only agent', () => {
  assert.equal(parseServiceCIDR6('10.96.0.0/16', undefined), undefined);
  assert.equal(parseServiceCIDR6('10.96.0.0/16,fd00:10:96::7/112', undefined), 'fd00:10:96::/112');
  assert.throws(() => parseServiceCIDR6('fd00::/0', undefined), /\/0 range/);
  assert.throws(() => parseServiceCIDR6('fd00:18::/64', 'fd00:18::11'), /holds the node IP/);
  const dual = agent('--service-cluster-ip-range', '10.96.0.0/16,fd00:10:96::/112');
  assert.equal(dual.serviceCIDR, '10.96.0.0/16');
  assert.equal(dual.serviceCIDR6, 'fd00:10:96::/112');
  // IPv4 served (the default): an IPv6-only range is refused as before.
  assert.throws(() => agent('--service-cluster-ip-range', 'fd00::/112'), /found 0/);
  const six = agent('--ip-families', 'IPv6', '--service-cluster-ip-range', 'fd00:10:96::/112');
  assert.equal(six.serviceCIDR, undefined);
  assert.equal(six.serviceCIDR6, 'fd00:10:96::/112');
});

test('--cluster-cidr: one CIDR per family', () => {
  assert.deepEqual(parseClusterCIDRs('10.244.0.0/16,fd00:10:244::/56'), { v4: '10.244.0.0/16', v6: 'fd00:10:244::/56' });
  assert.throws(() => parseClusterCIDRs('fd00::/64,fd01::/64'), /two CIDRs of one family/);
  assert.throws(() => parseClusterCIDRs('fd00::/129'), /not an IPv6 CIDR/);
  const o = agent('--cluster-cidr', '10.244.0.0/16,fd00:10:244::/56');
  assert.equal(o.iptables.clusterCIDR, '10.244.0.0/16');
  assert.equal(o.iptables.clusterCIDR6, 'fd00:10:244::/56');
});

test('the families: --ip-families, else those of --node-ip, else the Node\'s InternalIPs, else IPv4; IPv4 first', () => {
  const dualNode = node(['InternalIP', 'fd00:18::11'], ['InternalIP', '198.18.0.11'], ['ExternalIP', 'fd00:99::1']);
  assert.deepEqual(chooseIPFamilies({ ipFamilies: ['IPv6'] }, dualNode), { families: ['IPv6'], source: 'flag' });
  assert.deepEqual(chooseIPFamilies({ nodeIP: '198.18.0.11' }, dualNode), { families: ['IPv4'], source: 'node-ip' });
  assert.deepEqual(chooseIPFamilies({ nodeIP6: 'fd00:18::11' }, undefined), { families: ['IPv6'], source: 'node-ip' });
  assert.deepEqual(chooseIPFamilies({}, dualNode), { families: ['IPv4', 'IPv6'], source: 'node' });
  assert.deepEqual(chooseIPFamilies({}, node(['InternalIP', 'fd00:18::12'])), { families: ['IPv6'], source: 'node' });
  assert.deepEqual(chooseIPFamilies({}, node(['ExternalIP', 'fd00:18::12'])), { families: ['IPv4'], source: 'default' });
  assert.deepEqual(chooseIPFamilies({}, undefined), { families: ['IPv4'], source: 'default' });
  assert.deepEqual(nodeInternalIPs(dualNode), { IPv6: 'fd00:18::11', IPv4: '198.18.0.11' });
});
