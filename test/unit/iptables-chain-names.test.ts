import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  base32Std, isServiceChainName, serviceChains, servicePortEndpointChainName, servicePortPolicyClusterChain,
} from '../../control-plane/src/dataplane/iptables/chain-names.js';
import { formatFixed10, probability } from '../../control-plane/src/dataplane/iptables/probability.js';
import { formatMark, masqueradeMarkOf } from '../../control-plane/src/dataplane/iptables/render.js';

test('KUBE-SVC- hash: the upstream vector ns1/svc1:p80 tcp', () => {
  assert.equal(servicePortPolicyClusterChain('ns1/svc1:p80', 'tcp'), 'KUBE-SVC-XPGD46QRK7WJZT7O');
});

test('KUBE-SEP- hash: the upstream vector ns1/svc1:p80 tcp 10.180.0.1:80 (proxier_test.go)', () => {
  assert.equal(servicePortEndpointChainName('ns1/svc1:p80', 'tcp', '10.180.0.1:80'), 'KUBE-SEP-SXIVWICOYRO3J4NJ');
});

test('every chain name of TestOverallIPTablesRules', () => {
  const svc = (n: number) => serviceChains(`ns${n}/svc${n}:p80`, 'TCP');
  assert.equal(svc(2).cluster, 'KUBE-SVC-GNZBNJ2PO5MGZ6GT');
  assert.equal(svc(2).external, 'KUBE-EXT-GNZBNJ2PO5MGZ6GT');
  assert.equal(svc(2).local, 'KUBE-SVL-GNZBNJ2PO5MGZ6GT');
  assert.equal(svc(3).cluster, 'KUBE-SVC-X27LE4BHSL4DOUIK');
  assert.equal(svc(4).cluster, 'KUBE-SVC-4SW47YFZTEDKD3PK');
  assert.equal(svc(5).firewall, 'KUBE-FW-NUKIZ6OKUXPJNT4C');
  const sep = (n: number, e: string) => servicePortEndpointChainName(`ns${n}/svc${n}:p80`, 'tcp', e);
  assert.equal(sep(2, '10.180.0.2:80'), 'KUBE-SEP-RS4RBKLTHTF2IUXJ');
  assert.equal(sep(3, '10.180.0.3:80'), 'KUBE-SEP-OYPFS5VJICHGATKP');
  assert.equal(sep(4, '10.180.0.4:80'), 'KUBE-SEP-UKSFD7AGPMPPLUHC');
  assert.equal(sep(4, '10.180.0.5:80'), 'KUBE-SEP-C6EBXVWJJZMIWKLZ');
  assert.equal(sep(5, '10.180.0.3:80'), 'KUBE-SEP-I77PXRDZVX7PMWMN');
});

test('the protocol is hashed lower case', () => {
  assert.equal(serviceChains('ns1/svc1:p80', 'TCP').cluster, 'KUBE-SVC-XPGD46QRK7WJZT7O');
  assert.notEqual(serviceChains('ns1/svc1:p80', 'UDP').cluster, 'KUBE-SVC-XPGD46QRK7WJZT7O');
});

test('base32 is RFC 4648 standard with padding', () => {
  const enc = (s: string) => base32Std(new TextEncoder().encode(s));
  assert.equal(enc(''), '');
  assert.equal(enc('f'), 'MY======');
  assert.equal(enc('fo'), 'MZXQ====');
  assert.equal(enc('foo'), 'MZXW6===');
  assert.equal(enc('foob'), 'MZXW6YQ=');
  assert.equal(enc('fooba'), 'MZXW6YTB');
  assert.equal(enc('foobar'), 'MZXW6YTBOI======');
});

test('service chain prefixes', () => {
  for (const c of ['KUBE-SVC-X', 'KUBE-SVL-X', 'KUBE-EXT-X', 'KUBE-FW-X', 'KUBE-SEP-X']) assert.ok(isServiceChainName(c), c);
  for (const c of ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-MARK-MASQ', 'KUBE-XLB-X']) assert.ok(!isServiceChainName(c), c);
});

test('probabilities are Go %0.10f of 1/n', () => {
  assert.equal(probability(2), '0.5000000000');
  assert.equal(probability(3), '0.3333333333');
  assert.equal(probability(7), '0.1428571429');
  assert.equal(probability(1000), '0.0010000000');
  // An exact tie: Go rounds half to even where toFixed rounds up.
  assert.equal(probability(2048), '0.0004882812');
  assert.equal(formatFixed10(1), '1.0000000000');
  assert.equal(formatFixed10(0.125), '0.1250000000');
});

test('the masquerade mark is formatted like Go %#08x', () => {
  assert.equal(formatMark(0x4000), '0x00004000');
  assert.equal(masqueradeMarkOf({}), '0x00004000');
  assert.equal(masqueradeMarkOf({ masqueradeBit: 0 }), '0x00000001');
  assert.equal(masqueradeMarkOf({ masqueradeBit: 31 }), '0x80000000');
  assert.equal(masqueradeMarkOf({ masqueradeMark: '0x4000' }), '0x4000');
  assert.throws(() => masqueradeMarkOf({ masqueradeBit: 32 }));
});
