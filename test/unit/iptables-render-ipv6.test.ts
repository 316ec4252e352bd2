// The ip6tables rendering (one of kube-proxy's per-family proxiers, IPv6).
// kube-proxy's own IPv6 expectations (TestEnableLocalhostNodePortsIPv6 and
// TestDisableLocalhostNodePortsIPv6 in pkg/proxy/iptables/proxier_test.go) are
// compared byte for byte after its sortIPTablesRules. The other kinds (UDP,
// ExternalIP, LoadBalancer with source ranges, eTP=Local, affinity, no
// endpoints) are kube-proxy's rules with IPv6 text, frozen here; both
// families of one Service share KUBE-SVC/EXT/FW names but not KUBE-SEP ones,
// and a Service of one family writes nothing into the other's tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderIptables, type IptablesNodeConfig } from '../../control-plane/src/dataplane/iptables/render.js';
import { servicePortEndpointChainName } from '../../control-plane/src/dataplane/iptables/chain-names.js';
import { computeDesiredState } from '../../control-plane/src/dataplane/desired-state.js';
import { ServiceTracker } from '../../control-plane/src/model/service-tracker.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import type { IPFamily } from '../../control-plane/src/util/ip.js';
import { UPSTREAM_CFG_V6, chainRules, dedent, desiredOf, ep, sortIPTablesRules, svcPort, upstreamOverallDesiredV6 } from '../iptables/fixtures.js';
import { service, slice } from './fixtures.js';

/** kube-proxy's NewFakeProxier(NewIPv6Fake()) with the no-op local detector. */
const FAKE_V6: IptablesNodeConfig = { nodeName: 'node-a', family: 'IPv6', nodeIPs: ['192.168.0.2'], masqueradeMark: '0x4000' };

// kube-proxy's expected text, the same for localhostNodePorts true and false:
// localhost NodePorts never apply to IPv6.
const LOCALHOST_NODEPORTS_IPV6 = dedent(`
  *filter
  :KUBE-NODEPORTS - [0:0]
  :KUBE-SERVICES - [0:0]
  :KUBE-EXTERNAL-SERVICES - [0:0]
  :KUBE-FORWARD - [0:0]
  :KUBE-PROXY-FIREWALL - [0:0]
  -A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
  -A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
  -A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
  COMMIT
  *nat
  :KUBE-NODEPORTS - [0:0]
  :KUBE-SERVICES - [0:0]
  :KUBE-EXT-XPGD46QRK7WJZT7O - [0:0]
  :KUBE-MARK-MASQ - [0:0]
  :KUBE-POSTROUTING - [0:0]
  :KUBE-SEP-LIGRYQQLSZN4UWQ5 - [0:0]
  :KUBE-SEP-XJJ5QXWGJG344QDZ - [0:0]
  :KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
  :KUBE-SVL-XPGD46QRK7WJZT7O - [0:0]
  -A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 30001 -j KUBE-EXT-XPGD46QRK7WJZT7O
  -A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d fd00:ab34::20 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
  -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d ::1/128 -j KUBE-NODEPORTS
  -A KUBE-EXT-XPGD46QRK7WJZT7O -m comment --comment "masquerade LOCAL traffic for ns1/svc1:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
  -A KUBE-EXT-XPGD46QRK7WJZT7O -m comment --comment "route LOCAL traffic for ns1/svc1:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-XPGD46QRK7WJZT7O
  -A KUBE-EXT-XPGD46QRK7WJZT7O -j KUBE-SVL-XPGD46QRK7WJZT7O
  -A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
  -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
  -A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
  -A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
  -A KUBE-SEP-LIGRYQQLSZN4UWQ5 -m comment --comment ns1/svc1:p80 -s ff06::c1 -j KUBE-MARK-MASQ
  -A KUBE-SEP-LIGRYQQLSZN4UWQ5 -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination [ff06::c1]:80
  -A KUBE-SEP-XJJ5QXWGJG344QDZ -m comment --comment ns1/svc1:p80 -s ff06::c2 -j KUBE-MARK-MASQ
  -A KUBE-SEP-XJJ5QXWGJG344QDZ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination [ff06::c2]:80
  -A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> [ff06::c1]:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-LIGRYQQLSZN4UWQ5
  -A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> [ff06::c2]:80" -j KUBE-SEP-XJJ5QXWGJG344QDZ
  -A KUBE-SVL-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> [ff06::c2]:80" -j KUBE-SEP-XJJ5QXWGJG344QDZ
  COMMIT
`);

function localhostNodePortsDesired() {
  return desiredOf([[
    svcPort({ family: 'IPv6', ns: 'ns1', name: 'svc1', type: 'NodePort', clusterIP: 'fd00:ab34::20', nodePort: 30001, eTPLocal: true }),
    [ep('ff06::c1'), ep('ff06::c2', { local: true })],
  ]]);
}

test('TestEnableLocalhostNodePortsIPv6 / TestDisableLocalhostNodePortsIPv6: same restore input as kube-proxy', () => {
  for (const localhostNodePorts of [true, false]) {
    const r = renderIptables(localhostNodePortsDesired(), { ...FAKE_V6, localhostNodePorts });
    assert.equal(sortIPTablesRules(r.text), LOCALHOST_NODEPORTS_IPV6, `localhostNodePorts ${localhostNodePorts}`);
    assert.equal(r.family, 'IPv6');
  }
});

test('KUBE-SEP names hash the endpoint as Go JoinHostPort writes it ("[addr]:port")', () => {
  assert.equal(servicePortEndpointChainName('ns1/svc1:p80', 'tcp', '[ff06::c1]:80'), 'KUBE-SEP-LIGRYQQLSZN4UWQ5');
  assert.notEqual(servicePortEndpointChainName('ns1/svc1:p80', 'tcp', 'ff06::c1:80'), 'KUBE-SEP-LIGRYQQLSZN4UWQ5');
});

const OVERALL_V6 = dedent(`
  *filter
  :KUBE-NODEPORTS - [0:0]
  :KUBE-SERVICES - [0:0]
  :KUBE-EXTERNAL-SERVICES - [0:0]
  :KUBE-FORWARD - [0:0]
  :KUBE-PROXY-FIREWALL - [0:0]
  -A KUBE-NODEPORTS -m comment --comment "ns2/svc2:p80 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT
  -A KUBE-SERVICES -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp -p tcp -d fd00:172:30::46 --dport 80 -j REJECT
  -A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m tcp -p tcp -d 2001:db8:99::22 --dport 80 -j DROP
  -A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m tcp -p tcp -d 2001:db8:1::4 --dport 80 -j DROP
  -A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j DROP
  -A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP
  -A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
  -A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
  -A KUBE-PROXY-FIREWALL -m comment --comment "ns5/svc5:p80 traffic not accepted by KUBE-FW-NUKIZ6OKUXPJNT4C" -m tcp -p tcp -d 2001:db8:5::8 --dport 80 -j DROP
  COMMIT
  *nat
  :KUBE-NODEPORTS - [0:0]
  :KUBE-SERVICES - [0:0]
  :KUBE-EXT-4SW47YFZTEDKD3PK - [0:0]
  :KUBE-EXT-EK2QZI4NA6E4SMMQ - [0:0]
  :KUBE-EXT-GNZBNJ2PO5MGZ6GT - [0:0]
  :KUBE-EXT-NUKIZ6OKUXPJNT4C - [0:0]
  :KUBE-FW-NUKIZ6OKUXPJNT4C - [0:0]
  :KUBE-MARK-MASQ - [0:0]
  :KUBE-POSTROUTING - [0:0]
  :KUBE-SEP-HVN4VNKVYQ7L4BSW - [0:0]
  :KUBE-SEP-OGYCNMB4EMRUSJ6N - [0:0]
  :KUBE-SEP-ORIWTW3SM4XU5GY5 - [0:0]
  :KUBE-SEP-QPL64GTTPAMJMCZR - [0:0]
  :KUBE-SEP-ZFZEJLXCVJVI2YXY - [0:0]
  :KUBE-SEP-${sep('ns3/svc3:dns', 'udp', '[fd00:10:180::3]:5353')} - [0:0]
  :KUBE-SVC-4SW47YFZTEDKD3PK - [0:0]
  :KUBE-SVC-EK2QZI4NA6E4SMMQ - [0:0]
  :KUBE-SVC-GNZBNJ2PO5MGZ6GT - [0:0]
  :KUBE-SVC-NUKIZ6OKUXPJNT4C - [0:0]
  :KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
  -A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
  -A KUBE-NODEPORTS -m comment --comment ns3/svc3:dns -m udp -p udp --dport 3003 -j KUBE-EXT-EK2QZI4NA6E4SMMQ
  -A KUBE-NODEPORTS -m comment --comment ns5/svc5:p80 -m tcp -p tcp --dport 3002 -j KUBE-EXT-NUKIZ6OKUXPJNT4C
  -A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d fd00:172:30::41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
  -A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d fd00:172:30::42 --dport 80 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
  -A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 external IP" -m tcp -p tcp -d 2001:db8:99::22 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
  -A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 loadbalancer IP" -m tcp -p tcp -d 2001:db8:1::4 --dport 80 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT
  -A KUBE-SERVICES -m comment --comment "ns3/svc3:dns cluster IP" -m udp -p udp -d fd00:172:30::43 --dport 53 -j KUBE-SVC-EK2QZI4NA6E4SMMQ
  -A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d fd00:172:30::44 --dport 80 -j KUBE-SVC-4SW47YFZTEDKD3PK
  -A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 external IP" -m tcp -p tcp -d 2001:db8:99::33 --dport 80 -j KUBE-EXT-4SW47YFZTEDKD3PK
  -A KUBE-SERVICES -m comment --comment "ns5/svc5:p80 cluster IP" -m tcp -p tcp -d fd00:172:30::45 --dport 80 -j KUBE-SVC-NUKIZ6OKUXPJNT4C
  -A KUBE-SERVICES -m comment --comment "ns5/svc5:p80 loadbalancer IP" -m tcp -p tcp -d 2001:db8:5::8 --dport 80 -j KUBE-FW-NUKIZ6OKUXPJNT4C
  -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d ::1/128 -j KUBE-NODEPORTS
  -A KUBE-EXT-4SW47YFZTEDKD3PK -m comment --comment "masquerade traffic for ns4/svc4:p80 external destinations" -j KUBE-MARK-MASQ
  -A KUBE-EXT-4SW47YFZTEDKD3PK -j KUBE-SVC-4SW47YFZTEDKD3PK
  -A KUBE-EXT-EK2QZI4NA6E4SMMQ -m comment --comment "masquerade traffic for ns3/svc3:dns external destinations" -j KUBE-MARK-MASQ
  -A KUBE-EXT-EK2QZI4NA6E4SMMQ -j KUBE-SVC-EK2QZI4NA6E4SMMQ
  -A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "pod traffic for ns2/svc2:p80 external destinations" -s fd00:10::/32 -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
  -A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "masquerade LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
  -A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "route LOCAL traffic for ns2/svc2:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-GNZBNJ2PO5MGZ6GT
  -A KUBE-EXT-NUKIZ6OKUXPJNT4C -m comment --comment "masquerade traffic for ns5/svc5:p80 external destinations" -j KUBE-MARK-MASQ
  -A KUBE-EXT-NUKIZ6OKUXPJNT4C -j KUBE-SVC-NUKIZ6OKUXPJNT4C
  -A KUBE-FW-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 loadbalancer IP" -s 2001:db8:203::/64 -j KUBE-EXT-NUKIZ6OKUXPJNT4C
  -A KUBE-FW-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 loadbalancer IP" -s fd00:192:168::/48 -j KUBE-EXT-NUKIZ6OKUXPJNT4C
  -A KUBE-FW-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 loadbalancer IP" -s 2001:db8:5::8 -j KUBE-EXT-NUKIZ6OKUXPJNT4C
  -A KUBE-FW-NUKIZ6OKUXPJNT4C -m comment --comment "other traffic to ns5/svc5:p80 will be dropped by KUBE-PROXY-FIREWALL"
  -A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
  -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
  -A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
  -A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
  -A KUBE-SEP-HVN4VNKVYQ7L4BSW -m comment --comment ns2/svc2:p80 -s fd00:10:180::2 -j KUBE-MARK-MASQ
  -A KUBE-SEP-HVN4VNKVYQ7L4BSW -m comment --comment ns2/svc2:p80 -m tcp -p tcp -j DNAT --to-destination [fd00:10:180::2]:80
  -A KUBE-SEP-OGYCNMB4EMRUSJ6N -m comment --comment ns1/svc1:p80 -s fd00:10:180::1 -j KUBE-MARK-MASQ
  -A KUBE-SEP-OGYCNMB4EMRUSJ6N -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination [fd00:10:180::1]:80
  -A KUBE-SEP-ORIWTW3SM4XU5GY5 -m comment --comment ns4/svc4:p80 -s fd00:10:180::5 -j KUBE-MARK-MASQ
  -A KUBE-SEP-ORIWTW3SM4XU5GY5 -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination [fd00:10:180::5]:80
  -A KUBE-SEP-QPL64GTTPAMJMCZR -m comment --comment ns4/svc4:p80 -s fd00:10:180::4 -j KUBE-MARK-MASQ
  -A KUBE-SEP-QPL64GTTPAMJMCZR -m comment --comment ns4/svc4:p80 -m tcp -p tcp -j DNAT --to-destination [fd00:10:180::4]:80
  -A KUBE-SEP-ZFZEJLXCVJVI2YXY -m comment --comment ns5/svc5:p80 -s fd00:10:180::3 -j KUBE-MARK-MASQ
  -A KUBE-SEP-ZFZEJLXCVJVI2YXY -m comment --comment ns5/svc5:p80 -m recent --name KUBE-SEP-ZFZEJLXCVJVI2YXY --set -m tcp -p tcp -j DNAT --to-destination [fd00:10:180::3]:80
  -A KUBE-SEP-${sep('ns3/svc3:dns', 'udp', '[fd00:10:180::3]:5353')} -m comment --comment ns3/svc3:dns -s fd00:10:180::3 -j KUBE-MARK-MASQ
  -A KUBE-SEP-${sep('ns3/svc3:dns', 'udp', '[fd00:10:180::3]:5353')} -m comment --comment ns3/svc3:dns -m udp -p udp -j DNAT --to-destination [fd00:10:180::3]:5353
  -A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 cluster IP" -m tcp -p tcp -d fd00:172:30::44 --dport 80 ! -s fd00:10::/32 -j KUBE-MARK-MASQ
  -A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> [fd00:10:180::4]:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-QPL64GTTPAMJMCZR
  -A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4/svc4:p80 -> [fd00:10:180::5]:80" -j KUBE-SEP-ORIWTW3SM4XU5GY5
  -A KUBE-SVC-EK2QZI4NA6E4SMMQ -m comment --comment "ns3/svc3:dns cluster IP" -m udp -p udp -d fd00:172:30::43 --dport 53 ! -s fd00:10::/32 -j KUBE-MARK-MASQ
  -A KUBE-SVC-EK2QZI4NA6E4SMMQ -m comment --comment "ns3/svc3:dns -> [fd00:10:180::3]:5353" -j KUBE-SEP-${sep('ns3/svc3:dns', 'udp', '[fd00:10:180::3]:5353')}
  -A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment "ns2/svc2:p80 cluster IP" -m tcp -p tcp -d fd00:172:30::42 --dport 80 ! -s fd00:10::/32 -j KUBE-MARK-MASQ
  -A KUBE-SVC-GNZBNJ2PO5MGZ6GT -m comment --comment "ns2/svc2:p80 -> [fd00:10:180::2]:80" -j KUBE-SEP-HVN4VNKVYQ7L4BSW
  -A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 cluster IP" -m tcp -p tcp -d fd00:172:30::45 --dport 80 ! -s fd00:10::/32 -j KUBE-MARK-MASQ
  -A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> [fd00:10:180::3]:80" -m recent --name KUBE-SEP-ZFZEJLXCVJVI2YXY --rcheck --seconds 10800 --reap -j KUBE-SEP-ZFZEJLXCVJVI2YXY
  -A KUBE-SVC-NUKIZ6OKUXPJNT4C -m comment --comment "ns5/svc5:p80 -> [fd00:10:180::3]:80" -j KUBE-SEP-ZFZEJLXCVJVI2YXY
  -A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d fd00:172:30::41 --dport 80 ! -s fd00:10::/32 -j KUBE-MARK-MASQ
  -A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> [fd00:10:180::1]:80" -j KUBE-SEP-OGYCNMB4EMRUSJ6N
  COMMIT
`);

function sep(name: string, proto: string, endpoint: string): string {
  return servicePortEndpointChainName(name, proto, endpoint).slice('KUBE-SEP-'.length);
}

test('TestOverallIPTablesRules in IPv6: kube-proxy\'s rules with IPv6 text, the family\'s cluster CIDR and node IP, REJECT (icmp6 by default), no localhost NodePorts', () => {
  const r = renderIptables(upstreamOverallDesiredV6(), UPSTREAM_CFG_V6);
  // Both through the sorter: the UDP SEP chain's name is computed, so the sorter gives its place.
  const got = sortIPTablesRules(r.text);
  const want = sortIPTablesRules(OVERALL_V6);
  assert.equal(got, want);
  assert.doesNotMatch(r.text, /127\.0\.0\.0\/8|KUBE-FIREWALL|nfacct-name localhost_nps/, 'no IPv4 localhost NodePort rules in ip6tables');
  assert.doesNotMatch(r.text, /203\.0\.113|10\.0\.0\.0|192\.168/, 'nothing of the IPv4 family');
  assert.deepEqual(r.noLocalEndpoints, { internal: 0, external: 1 });
});

test('the KUBE-SVC/EXT/FW names are the IPv4 ones (name and protocol only); KUBE-SEP names differ by the endpoint text', () => {
  const v6 = renderIptables(upstreamOverallDesiredV6(), UPSTREAM_CFG_V6);
  for (const c of ['KUBE-SVC-XPGD46QRK7WJZT7O', 'KUBE-EXT-GNZBNJ2PO5MGZ6GT', 'KUBE-FW-NUKIZ6OKUXPJNT4C', 'KUBE-SVC-4SW47YFZTEDKD3PK']) {
    assert.ok(v6.activeNatChains.has(c), c);
  }
  // In kube-proxy's IPv4 test, ns1/svc1's endpoint 10.180.0.1:80 is KUBE-SEP-SXIVWICOYRO3J4NJ.
  assert.ok(!v6.activeNatChains.has('KUBE-SEP-SXIVWICOYRO3J4NJ'));
});

test('a mixed list: each family renders its own ports only and counts the others', () => {
  const desired = desiredOf([
    [svcPort({ ns: 'ns1', name: 'v4only', clusterIP: '198.18.128.1' }), [ep('198.19.0.1')]],
    [svcPort({ family: 'IPv6', ns: 'ns1', name: 'v6only', clusterIP: 'fd00:10:96::1' }), [ep('fd00:10:244::1')]],
  ]);
  const v4 = renderIptables(desired, { nodeName: 'n', nodeIPs: ['198.18.0.2', 'fd00:198:18::2'] });
  const v6 = renderIptables(desired, { nodeName: 'n', nodeIPs: ['198.18.0.2', 'fd00:198:18::2'], family: 'IPv6' });
  assert.equal(v4.otherFamilyPorts, 1);
  assert.equal(v6.otherFamilyPorts, 1);
  assert.match(v4.text, /v4only/);
  assert.doesNotMatch(v4.text, /v6only|fd00:/);
  assert.match(v6.text, /v6only/);
  assert.doesNotMatch(v6.text, /v4only|198\.1[89]\./);
});

test('addresses of the other family in a port are left out (external IPs, LB IPs, source ranges), never written into ip6tables', () => {
  const d = desiredOf([[{
    ...svcPort({
      family: 'IPv6', name: 'mixed', type: 'LoadBalancer', clusterIP: 'fd00:10:96::9', nodePort: 30009,
      externalIPs: ['198.51.100.1', '2001:db8::e'], lbIPs: ['198.51.100.2', '2001:db8::f'], sourceRanges: ['198.51.100.0/24'],
    }),
    sourceRangesGiven: true,
  }, [ep('fd00:10:244::9')]]]);
  const r = renderIptables(d, { ...FAKE_V6 });
  assert.doesNotMatch(r.text, /198\.51\.100/);
  assert.match(r.text, /-d 2001:db8::e --dport 80 -j KUBE-EXT-/);
  // Ranges given but none of this family: the LB IP still filters (fail closed), letting nothing through.
  assert.deepEqual(chainRules(r.text, 'nat', 'KUBE-FW-' + /KUBE-FW-([A-Z2-7]{16})/.exec(r.text)![1]).length, 1);
  assert.match(r.text, /KUBE-PROXY-FIREWALL .* -d 2001:db8::f --dport 80 -j DROP/);
});

test('--nodeport-addresses in IPv6: the family\'s CIDRs select the node\'s IPv6 addresses; ::1 is never a NodePort address', () => {
  const d = desiredOf([[svcPort({ family: 'IPv6', name: 'np', type: 'NodePort', clusterIP: 'fd00:10:96::7', nodePort: 30007 }), [ep('fd00:10:244::7')]]]);
  const jumps = (cfg: Partial<IptablesNodeConfig>): string[] => chainRules(renderIptables(d, { ...FAKE_V6, ...cfg }).text, 'nat', 'KUBE-SERVICES')
    .filter((l) => l.includes('KUBE-NODEPORTS')).map((l) => l.replace(/.*this chain" /, ''));
  const localAddresses = ['198.18.0.2', '127.0.0.1', '::1', '2001:db8::1', 'fd00:198:18::2', '2001:DB8:0::2'];
  assert.deepEqual(jumps({ nodePortAddresses: ['192.168.0.0/24', '2001:db8::/64', '::1/128'], localAddresses }),
    ['-d 2001:db8::1 -j KUBE-NODEPORTS', '-d 2001:db8::2 -j KUBE-NODEPORTS']);
  // Only IPv4 CIDRs: none of this family, so every local address (as kube-proxy's NewNodePortAddresses).
  assert.deepEqual(jumps({ nodePortAddresses: ['192.168.0.0/24'], localAddresses }), ['-m addrtype --dst-type LOCAL ! -d ::1/128 -j KUBE-NODEPORTS']);
  assert.deepEqual(jumps({ nodePortAddresses: ['::/0'], localAddresses }), ['-m addrtype --dst-type LOCAL ! -d ::1/128 -j KUBE-NODEPORTS']);
  // "primary": this family's node IP.
  assert.deepEqual(jumps({ nodePortAddresses: ['primary'], nodeIPs: ['198.18.0.2', 'fd00:198:18::2'], localAddresses }), ['-d fd00:198:18::2 -j KUBE-NODEPORTS']);
});

/** Both families of one Service through the real model (per-family trackers and slice cache). */
function dualStack(family: IPFamily) {
  const t = new ServiceTracker({ defaultAlgorithm: 'maglev', ipFamilies: ['IPv4', 'IPv6'] });
  t.update(service('web', {
    type: 'NodePort', clusterIP: '198.18.128.10', clusterIPs: ['198.18.128.10', 'fd00:10:96::a'], ipFamilies: ['IPv4', 'IPv6'],
    ipFamilyPolicy: 'PreferDualStack', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }],
  } as never));
  t.update(service('only6', {
    clusterIP: 'fd00:10:96::b', clusterIPs: ['fd00:10:96::b'], ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack',
    ports: [{ name: 'dns', port: 53, protocol: 'UDP' }],
  } as never));
  const c = new EndpointSliceCache('node1', { ipFamilies: ['IPv4', 'IPv6'] });
  c.update(slice('web-4', 'web', [{ name: 'http', port: 8080 }], [{ ip: '198.19.1.2' }]));
  c.update(slice('web-6', 'web', [{ name: 'http', port: 8080 }], [{ ip: 'fd00:10:244::2' }], { addressType: 'IPv6' }));
  c.update(slice('only6-6', 'only6', [{ name: 'dns', port: 5353, protocol: 'UDP' }], [{ ip: 'fd00:10:244::3' }], { addressType: 'IPv6' }));
  return computeDesiredState(t.servicePorts(family), c.allEndpoints(family), { nodeName: 'node1', zone: '' });
}

test('dual-stack through the model: one Service renders in both families with shared KUBE-SVC names; an IPv6-only Service has no IPv4 rule', () => {
  const cfg = { nodeName: 'node1', nodeIPs: ['198.18.0.2', 'fd00:198:18::2'] };
  const v4 = renderIptables(dualStack('IPv4'), cfg);
  const v6 = renderIptables(dualStack('IPv6'), { ...cfg, family: 'IPv6' });
  assert.equal(v4.otherFamilyPorts, 0);
  assert.equal(v6.otherFamilyPorts, 0);
  const svcChains = (s: Set<string>) => [...s].filter((c) => !c.startsWith('KUBE-SEP-')).sort();
  const webV4 = svcChains(v4.activeNatChains);
  assert.deepEqual(webV4.map((c) => c.replace(/-[A-Z2-7]{16}$/, '')), ['KUBE-EXT', 'KUBE-SVC']);
  assert.deepEqual(svcChains(v6.activeNatChains).filter((c) => webV4.includes(c)), webV4, 'the web chains have the same names in both families');
  assert.equal(svcChains(v6.activeNatChains).length, 3, 'web EXT and SVC, only6 SVC');
  assert.match(v4.text, /-d 198\.18\.128\.10 --dport 80 -j KUBE-SVC-/);
  assert.match(v4.text, /--to-destination 198\.19\.1\.2:8080/);
  assert.match(v6.text, /-d fd00:10:96::a --dport 80 -j KUBE-SVC-/);
  assert.match(v6.text, /--to-destination \[fd00:10:244::2\]:8080/);
  assert.doesNotMatch(v4.text, /only6/, 'the IPv6-only Service writes nothing into iptables');
  assert.match(v6.text, /-m udp -p udp -d fd00:10:96::b --dport 53 -j KUBE-SVC-/);
  const sepsV4 = [...v4.activeNatChains].filter((c) => c.startsWith('KUBE-SEP-'));
  const sepsV6 = [...v6.activeNatChains].filter((c) => c.startsWith('KUBE-SEP-'));
  assert.equal(sepsV4.filter((c) => sepsV6.includes(c)).length, 0);
});
