// Golden restore inputs for the cases kube-proxy's iptables mode
// distinguishes, written out in full in the order the renderer emits them
// (kube-proxy's own order, with services sorted). Reviewed line by line against
// syncProxyRules() in pkg/proxy/iptables/proxier.go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderIptables, type IptablesNodeConfig } from '../../control-plane/src/dataplane/iptables/render.js';
import { dedent, desiredOf, ep, svcPort } from '../iptables/fixtures.js';

const CFG: IptablesNodeConfig = { nodeName: 'node-a', nodeIPs: ['198.18.0.2'], clusterCIDR: '198.19.0.0/16', localhostNodePorts: false };

test('ClusterIP with 3 endpoints: probabilities 1/3, 1/2, then the last unconditionally', () => {
  const r = renderIptables(desiredOf([[svcPort({ name: 'web', clusterIP: '198.18.128.10' }), [ep('198.19.1.2'), ep('198.19.2.2'), ep('198.19.3.2')]]]), CFG);
  assert.equal(r.text, dedent(`
    *filter
    :KUBE-SERVICES - [0:0]
    :KUBE-EXTERNAL-SERVICES - [0:0]
    :KUBE-FORWARD - [0:0]
    :KUBE-NODEPORTS - [0:0]
    :KUBE-PROXY-FIREWALL - [0:0]
    -A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    COMMIT
    *nat
    :KUBE-SERVICES - [0:0]
    :KUBE-NODEPORTS - [0:0]
    :KUBE-POSTROUTING - [0:0]
    :KUBE-MARK-MASQ - [0:0]
    :KUBE-SVC-PPBSTXGMF4OXFMWK - [0:0]
    :KUBE-SEP-JUSGT3JHUSJW36ZB - [0:0]
    :KUBE-SEP-JC2ZLIGCCIR7IBTJ - [0:0]
    :KUBE-SEP-6BCREFZFBO62IQNT - [0:0]
    -A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN
    -A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000
    -A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
    -A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000
    -A KUBE-SERVICES -m comment --comment "ns1/web:p80 cluster IP" -m tcp -p tcp -d 198.18.128.10 --dport 80 -j KUBE-SVC-PPBSTXGMF4OXFMWK
    -A KUBE-SVC-PPBSTXGMF4OXFMWK -m comment --comment "ns1/web:p80 cluster IP" -m tcp -p tcp -d 198.18.128.10 --dport 80 ! -s 198.19.0.0/16 -j KUBE-MARK-MASQ
    -A KUBE-SVC-PPBSTXGMF4OXFMWK -m comment --comment "ns1/web:p80 -> 198.19.1.2:80" -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-JUSGT3JHUSJW36ZB
    -A KUBE-SVC-PPBSTXGMF4OXFMWK -m comment --comment "ns1/web:p80 -> 198.19.2.2:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-JC2ZLIGCCIR7IBTJ
    -A KUBE-SVC-PPBSTXGMF4OXFMWK -m comment --comment "ns1/web:p80 -> 198.19.3.2:80" -j KUBE-SEP-6BCREFZFBO62IQNT
    -A KUBE-SEP-JUSGT3JHUSJW36ZB -m comment --comment ns1/web:p80 -s 198.19.1.2 -j KUBE-MARK-MASQ
    -A KUBE-SEP-JUSGT3JHUSJW36ZB -m comment --comment ns1/web:p80 -m tcp -p tcp -j DNAT --to-destination 198.19.1.2:80
    -A KUBE-SEP-JC2ZLIGCCIR7IBTJ -m comment --comment ns1/web:p80 -s 198.19.2.2 -j KUBE-MARK-MASQ
    -A KUBE-SEP-JC2ZLIGCCIR7IBTJ -m comment --comment ns1/web:p80 -m tcp -p tcp -j DNAT --to-destination 198.19.2.2:80
    -A KUBE-SEP-6BCREFZFBO62IQNT -m comment --comment ns1/web:p80 -s 198.19.3.2 -j KUBE-MARK-MASQ
    -A KUBE-SEP-6BCREFZFBO62IQNT -m comment --comment ns1/web:p80 -m tcp -p tcp -j DNAT --to-destination 198.19.3.2:80
    -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS
    COMMIT
  `));
});

test('NodePort: KUBE-NODEPORTS jumps to KUBE-EXT, which masquerades and goes to KUBE-SVC', () => {
  const r = renderIptables(desiredOf([[svcPort({ name: 'np', type: 'NodePort', clusterIP: '198.18.128.11', nodePort: 30080 }), [ep('198.19.1.2', { port: 8080 })]]]), CFG);
  assert.equal(r.text, dedent(`
    *filter
    :KUBE-SERVICES - [0:0]
    :KUBE-EXTERNAL-SERVICES - [0:0]
    :KUBE-FORWARD - [0:0]
    :KUBE-NODEPORTS - [0:0]
    :KUBE-PROXY-FIREWALL - [0:0]
    -A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    COMMIT
    *nat
    :KUBE-SERVICES - [0:0]
    :KUBE-NODEPORTS - [0:0]
    :KUBE-POSTROUTING - [0:0]
    :KUBE-MARK-MASQ - [0:0]
    :KUBE-EXT-KP4WNIAONBKYQZEC - [0:0]
    :KUBE-SVC-KP4WNIAONBKYQZEC - [0:0]
    :KUBE-SEP-MYYPYUZIRICIRIZR - [0:0]
    -A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN
    -A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000
    -A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
    -A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000
    -A KUBE-SERVICES -m comment --comment "ns1/np:p80 cluster IP" -m tcp -p tcp -d 198.18.128.11 --dport 80 -j KUBE-SVC-KP4WNIAONBKYQZEC
    -A KUBE-NODEPORTS -m comment --comment ns1/np:p80 -m tcp -p tcp --dport 30080 -j KUBE-EXT-KP4WNIAONBKYQZEC
    -A KUBE-SVC-KP4WNIAONBKYQZEC -m comment --comment "ns1/np:p80 cluster IP" -m tcp -p tcp -d 198.18.128.11 --dport 80 ! -s 198.19.0.0/16 -j KUBE-MARK-MASQ
    -A KUBE-EXT-KP4WNIAONBKYQZEC -m comment --comment "masquerade traffic for ns1/np:p80 external destinations" -j KUBE-MARK-MASQ
    -A KUBE-EXT-KP4WNIAONBKYQZEC -j KUBE-SVC-KP4WNIAONBKYQZEC
    -A KUBE-SVC-KP4WNIAONBKYQZEC -m comment --comment "ns1/np:p80 -> 198.19.1.2:8080" -j KUBE-SEP-MYYPYUZIRICIRIZR
    -A KUBE-SEP-MYYPYUZIRICIRIZR -m comment --comment ns1/np:p80 -s 198.19.1.2 -j KUBE-MARK-MASQ
    -A KUBE-SEP-MYYPYUZIRICIRIZR -m comment --comment ns1/np:p80 -m tcp -p tcp -j DNAT --to-destination 198.19.1.2:8080
    -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS
    COMMIT
  `));
});

test('ClientIP session affinity: recent --rcheck rules first, recent --set in the SEP chains', () => {
  const r = renderIptables(desiredOf([[svcPort({ name: 'sticky', clusterIP: '198.18.128.12', affinity: 600 }), [ep('198.19.1.2'), ep('198.19.2.2')]]]), CFG);
  assert.equal(r.text, dedent(`
    *filter
    :KUBE-SERVICES - [0:0]
    :KUBE-EXTERNAL-SERVICES - [0:0]
    :KUBE-FORWARD - [0:0]
    :KUBE-NODEPORTS - [0:0]
    :KUBE-PROXY-FIREWALL - [0:0]
    -A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    COMMIT
    *nat
    :KUBE-SERVICES - [0:0]
    :KUBE-NODEPORTS - [0:0]
    :KUBE-POSTROUTING - [0:0]
    :KUBE-MARK-MASQ - [0:0]
    :KUBE-SVC-F7REZHQFGEE5SPJR - [0:0]
    :KUBE-SEP-RMAJSWPSLGKZLYH5 - [0:0]
    :KUBE-SEP-2ZLZ25543FMFSL3K - [0:0]
    -A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN
    -A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000
    -A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
    -A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000
    -A KUBE-SERVICES -m comment --comment "ns1/sticky:p80 cluster IP" -m tcp -p tcp -d 198.18.128.12 --dport 80 -j KUBE-SVC-F7REZHQFGEE5SPJR
    -A KUBE-SVC-F7REZHQFGEE5SPJR -m comment --comment "ns1/sticky:p80 cluster IP" -m tcp -p tcp -d 198.18.128.12 --dport 80 ! -s 198.19.0.0/16 -j KUBE-MARK-MASQ
    -A KUBE-SVC-F7REZHQFGEE5SPJR -m comment --comment "ns1/sticky:p80 -> 198.19.1.2:80" -m recent --name KUBE-SEP-RMAJSWPSLGKZLYH5 --rcheck --seconds 600 --reap -j KUBE-SEP-RMAJSWPSLGKZLYH5
    -A KUBE-SVC-F7REZHQFGEE5SPJR -m comment --comment "ns1/sticky:p80 -> 198.19.2.2:80" -m recent --name KUBE-SEP-2ZLZ25543FMFSL3K --rcheck --seconds 600 --reap -j KUBE-SEP-2ZLZ25543FMFSL3K
    -A KUBE-SVC-F7REZHQFGEE5SPJR -m comment --comment "ns1/sticky:p80 -> 198.19.1.2:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-RMAJSWPSLGKZLYH5
    -A KUBE-SVC-F7REZHQFGEE5SPJR -m comment --comment "ns1/sticky:p80 -> 198.19.2.2:80" -j KUBE-SEP-2ZLZ25543FMFSL3K
    -A KUBE-SEP-RMAJSWPSLGKZLYH5 -m comment --comment ns1/sticky:p80 -s 198.19.1.2 -j KUBE-MARK-MASQ
    -A KUBE-SEP-RMAJSWPSLGKZLYH5 -m comment --comment ns1/sticky:p80 -m recent --name KUBE-SEP-RMAJSWPSLGKZLYH5 --set -m tcp -p tcp -j DNAT --to-destination 198.19.1.2:80
    -A KUBE-SEP-2ZLZ25543FMFSL3K -m comment --comment ns1/sticky:p80 -s 198.19.2.2 -j KUBE-MARK-MASQ
    -A KUBE-SEP-2ZLZ25543FMFSL3K -m comment --comment ns1/sticky:p80 -m recent --name KUBE-SEP-2ZLZ25543FMFSL3K --set -m tcp -p tcp -j DNAT --to-destination 198.19.2.2:80
    -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS
    COMMIT
  `));
});

test('eTP=Local LoadBalancer: KUBE-SVL, KUBE-EXT short-circuits pods and local sources, health check port accepted', () => {
  const r = renderIptables(desiredOf([[svcPort({ name: 'loc', type: 'LoadBalancer', clusterIP: '198.18.128.13', nodePort: 30081, lbIPs: ['198.18.200.1'], eTPLocal: true, hcnp: 32000 }),
      [ep('198.19.1.2', { local: true }), ep('198.19.2.2')]]]), CFG);
  assert.equal(r.text, dedent(`
    *filter
    :KUBE-SERVICES - [0:0]
    :KUBE-EXTERNAL-SERVICES - [0:0]
    :KUBE-FORWARD - [0:0]
    :KUBE-NODEPORTS - [0:0]
    :KUBE-PROXY-FIREWALL - [0:0]
    -A KUBE-NODEPORTS -m comment --comment "ns1/loc:p80 health check node port" -m tcp -p tcp --dport 32000 -j ACCEPT
    -A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    COMMIT
    *nat
    :KUBE-SERVICES - [0:0]
    :KUBE-NODEPORTS - [0:0]
    :KUBE-POSTROUTING - [0:0]
    :KUBE-MARK-MASQ - [0:0]
    :KUBE-EXT-HREHGQB4RWWE2G4C - [0:0]
    :KUBE-SVC-HREHGQB4RWWE2G4C - [0:0]
    :KUBE-SVL-HREHGQB4RWWE2G4C - [0:0]
    :KUBE-SEP-5AMKZEN4AATIZMBB - [0:0]
    :KUBE-SEP-WOLW7Z2OTDYBMQR6 - [0:0]
    -A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN
    -A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000
    -A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
    -A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000
    -A KUBE-SERVICES -m comment --comment "ns1/loc:p80 cluster IP" -m tcp -p tcp -d 198.18.128.13 --dport 80 -j KUBE-SVC-HREHGQB4RWWE2G4C
    -A KUBE-SERVICES -m comment --comment "ns1/loc:p80 loadbalancer IP" -m tcp -p tcp -d 198.18.200.1 --dport 80 -j KUBE-EXT-HREHGQB4RWWE2G4C
    -A KUBE-NODEPORTS -m comment --comment ns1/loc:p80 -m tcp -p tcp --dport 30081 -j KUBE-EXT-HREHGQB4RWWE2G4C
    -A KUBE-SVC-HREHGQB4RWWE2G4C -m comment --comment "ns1/loc:p80 cluster IP" -m tcp -p tcp -d 198.18.128.13 --dport 80 ! -s 198.19.0.0/16 -j KUBE-MARK-MASQ
    -A KUBE-EXT-HREHGQB4RWWE2G4C -m comment --comment "pod traffic for ns1/loc:p80 external destinations" -s 198.19.0.0/16 -j KUBE-SVC-HREHGQB4RWWE2G4C
    -A KUBE-EXT-HREHGQB4RWWE2G4C -m comment --comment "masquerade LOCAL traffic for ns1/loc:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
    -A KUBE-EXT-HREHGQB4RWWE2G4C -m comment --comment "route LOCAL traffic for ns1/loc:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-HREHGQB4RWWE2G4C
    -A KUBE-EXT-HREHGQB4RWWE2G4C -j KUBE-SVL-HREHGQB4RWWE2G4C
    -A KUBE-SVC-HREHGQB4RWWE2G4C -m comment --comment "ns1/loc:p80 -> 198.19.1.2:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-5AMKZEN4AATIZMBB
    -A KUBE-SVC-HREHGQB4RWWE2G4C -m comment --comment "ns1/loc:p80 -> 198.19.2.2:80" -j KUBE-SEP-WOLW7Z2OTDYBMQR6
    -A KUBE-SVL-HREHGQB4RWWE2G4C -m comment --comment "ns1/loc:p80 -> 198.19.1.2:80" -j KUBE-SEP-5AMKZEN4AATIZMBB
    -A KUBE-SEP-5AMKZEN4AATIZMBB -m comment --comment ns1/loc:p80 -s 198.19.1.2 -j KUBE-MARK-MASQ
    -A KUBE-SEP-5AMKZEN4AATIZMBB -m comment --comment ns1/loc:p80 -m tcp -p tcp -j DNAT --to-destination 198.19.1.2:80
    -A KUBE-SEP-WOLW7Z2OTDYBMQR6 -m comment --comment ns1/loc:p80 -s 198.19.2.2 -j KUBE-MARK-MASQ
    -A KUBE-SEP-WOLW7Z2OTDYBMQR6 -m comment --comment ns1/loc:p80 -m tcp -p tcp -j DNAT --to-destination 198.19.2.2:80
    -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS
    COMMIT
  `));
});

test('LoadBalancer with source ranges: KUBE-FW chain, KUBE-PROXY-FIREWALL drop, the node allowed through its LB IP', () => {
  const r = renderIptables(desiredOf([[svcPort({ name: 'fw', type: 'LoadBalancer', clusterIP: '198.18.128.14', nodePort: 30082, lbIPs: ['198.18.200.2'], sourceRanges: ['198.18.0.0/24', '203.0.113.7/25'] }),
      [ep('198.19.1.2')]]]), CFG);
  assert.equal(r.text, dedent(`
    *filter
    :KUBE-SERVICES - [0:0]
    :KUBE-EXTERNAL-SERVICES - [0:0]
    :KUBE-FORWARD - [0:0]
    :KUBE-NODEPORTS - [0:0]
    :KUBE-PROXY-FIREWALL - [0:0]
    -A KUBE-PROXY-FIREWALL -m comment --comment "ns1/fw:p80 traffic not accepted by KUBE-FW-3MXP5JVWK6GLLOB4" -m tcp -p tcp -d 198.18.200.2 --dport 80 -j DROP
    -A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    COMMIT
    *nat
    :KUBE-SERVICES - [0:0]
    :KUBE-NODEPORTS - [0:0]
    :KUBE-POSTROUTING - [0:0]
    :KUBE-MARK-MASQ - [0:0]
    :KUBE-EXT-3MXP5JVWK6GLLOB4 - [0:0]
    :KUBE-FW-3MXP5JVWK6GLLOB4 - [0:0]
    :KUBE-SVC-3MXP5JVWK6GLLOB4 - [0:0]
    :KUBE-SEP-WEUSKUTRL7QYUUAA - [0:0]
    -A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN
    -A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000
    -A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
    -A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000
    -A KUBE-SERVICES -m comment --comment "ns1/fw:p80 cluster IP" -m tcp -p tcp -d 198.18.128.14 --dport 80 -j KUBE-SVC-3MXP5JVWK6GLLOB4
    -A KUBE-SERVICES -m comment --comment "ns1/fw:p80 loadbalancer IP" -m tcp -p tcp -d 198.18.200.2 --dport 80 -j KUBE-FW-3MXP5JVWK6GLLOB4
    -A KUBE-NODEPORTS -m comment --comment ns1/fw:p80 -m tcp -p tcp --dport 30082 -j KUBE-EXT-3MXP5JVWK6GLLOB4
    -A KUBE-SVC-3MXP5JVWK6GLLOB4 -m comment --comment "ns1/fw:p80 cluster IP" -m tcp -p tcp -d 198.18.128.14 --dport 80 ! -s 198.19.0.0/16 -j KUBE-MARK-MASQ
    -A KUBE-EXT-3MXP5JVWK6GLLOB4 -m comment --comment "masquerade traffic for ns1/fw:p80 external destinations" -j KUBE-MARK-MASQ
    -A KUBE-EXT-3MXP5JVWK6GLLOB4 -j KUBE-SVC-3MXP5JVWK6GLLOB4
    -A KUBE-FW-3MXP5JVWK6GLLOB4 -m comment --comment "ns1/fw:p80 loadbalancer IP" -s 198.18.0.0/24 -j KUBE-EXT-3MXP5JVWK6GLLOB4
    -A KUBE-FW-3MXP5JVWK6GLLOB4 -m comment --comment "ns1/fw:p80 loadbalancer IP" -s 203.0.113.0/25 -j KUBE-EXT-3MXP5JVWK6GLLOB4
    -A KUBE-FW-3MXP5JVWK6GLLOB4 -m comment --comment "ns1/fw:p80 loadbalancer IP" -s 198.18.200.2 -j KUBE-EXT-3MXP5JVWK6GLLOB4
    -A KUBE-FW-3MXP5JVWK6GLLOB4 -m comment --comment "other traffic to ns1/fw:p80 will be dropped by KUBE-PROXY-FIREWALL"
    -A KUBE-SVC-3MXP5JVWK6GLLOB4 -m comment --comment "ns1/fw:p80 -> 198.19.1.2:80" -j KUBE-SEP-WEUSKUTRL7QYUUAA
    -A KUBE-SEP-WEUSKUTRL7QYUUAA -m comment --comment ns1/fw:p80 -s 198.19.1.2 -j KUBE-MARK-MASQ
    -A KUBE-SEP-WEUSKUTRL7QYUUAA -m comment --comment ns1/fw:p80 -m tcp -p tcp -j DNAT --to-destination 198.19.1.2:80
    -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS
    COMMIT
  `));
});

test('no endpoints: filter REJECT for the cluster IP, external IP, LB IP and node port; no nat chains', () => {
  const r = renderIptables(desiredOf([[svcPort({ name: 'empty', type: 'LoadBalancer', clusterIP: '198.18.128.15', nodePort: 30083, lbIPs: ['198.18.200.3'], externalIPs: ['198.18.201.1'] }), []]]), CFG);
  assert.equal(r.text, dedent(`
    *filter
    :KUBE-SERVICES - [0:0]
    :KUBE-EXTERNAL-SERVICES - [0:0]
    :KUBE-FORWARD - [0:0]
    :KUBE-NODEPORTS - [0:0]
    :KUBE-PROXY-FIREWALL - [0:0]
    -A KUBE-SERVICES -m comment --comment "ns1/empty:p80 has no endpoints" -m tcp -p tcp -d 198.18.128.15 --dport 80 -j REJECT
    -A KUBE-EXTERNAL-SERVICES -m comment --comment "ns1/empty:p80 has no endpoints" -m tcp -p tcp -d 198.18.201.1 --dport 80 -j REJECT
    -A KUBE-EXTERNAL-SERVICES -m comment --comment "ns1/empty:p80 has no endpoints" -m tcp -p tcp -d 198.18.200.3 --dport 80 -j REJECT
    -A KUBE-EXTERNAL-SERVICES -m comment --comment "ns1/empty:p80 has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30083 -j REJECT
    -A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    COMMIT
    *nat
    :KUBE-SERVICES - [0:0]
    :KUBE-NODEPORTS - [0:0]
    :KUBE-POSTROUTING - [0:0]
    :KUBE-MARK-MASQ - [0:0]
    -A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN
    -A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000
    -A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
    -A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000
    -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS
    COMMIT
  `));
});

test('iTP=Local without a local endpoint: filter DROP, no nat chains', () => {
  const r = renderIptables(desiredOf([[svcPort({ name: 'itp', clusterIP: '198.18.128.16', iTPLocal: true }), [ep('198.19.2.2')]]]), CFG);
  assert.equal(r.text, dedent(`
    *filter
    :KUBE-SERVICES - [0:0]
    :KUBE-EXTERNAL-SERVICES - [0:0]
    :KUBE-FORWARD - [0:0]
    :KUBE-NODEPORTS - [0:0]
    :KUBE-PROXY-FIREWALL - [0:0]
    -A KUBE-SERVICES -m comment --comment "ns1/itp:p80 has no local endpoints" -m tcp -p tcp -d 198.18.128.16 --dport 80 -j DROP
    -A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    COMMIT
    *nat
    :KUBE-SERVICES - [0:0]
    :KUBE-NODEPORTS - [0:0]
    :KUBE-POSTROUTING - [0:0]
    :KUBE-MARK-MASQ - [0:0]
    -A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN
    -A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000
    -A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
    -A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000
    -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS
    COMMIT
  `));
});

test('terminating fallback: with no ready endpoint the serving terminating one is used, the non-serving one is not', () => {
  const r = renderIptables(desiredOf([[svcPort({ name: 'term', clusterIP: '198.18.128.17' }),
      [ep('198.19.1.2', { ready: false, serving: true, terminating: true }), ep('198.19.2.2', { ready: false, serving: false, terminating: true })]]]), CFG);
  assert.equal(r.text, dedent(`
    *filter
    :KUBE-SERVICES - [0:0]
    :KUBE-EXTERNAL-SERVICES - [0:0]
    :KUBE-FORWARD - [0:0]
    :KUBE-NODEPORTS - [0:0]
    :KUBE-PROXY-FIREWALL - [0:0]
    -A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT
    -A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
    COMMIT
    *nat
    :KUBE-SERVICES - [0:0]
    :KUBE-NODEPORTS - [0:0]
    :KUBE-POSTROUTING - [0:0]
    :KUBE-MARK-MASQ - [0:0]
    :KUBE-SVC-JGE26MPAKKDJU4P7 - [0:0]
    :KUBE-SEP-NA73BDLUSBITTX3Z - [0:0]
    -A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN
    -A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000
    -A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
    -A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000
    -A KUBE-SERVICES -m comment --comment "ns1/term:p80 cluster IP" -m tcp -p tcp -d 198.18.128.17 --dport 80 -j KUBE-SVC-JGE26MPAKKDJU4P7
    -A KUBE-SVC-JGE26MPAKKDJU4P7 -m comment --comment "ns1/term:p80 cluster IP" -m tcp -p tcp -d 198.18.128.17 --dport 80 ! -s 198.19.0.0/16 -j KUBE-MARK-MASQ
    -A KUBE-SVC-JGE26MPAKKDJU4P7 -m comment --comment "ns1/term:p80 -> 198.19.1.2:80" -j KUBE-SEP-NA73BDLUSBITTX3Z
    -A KUBE-SEP-NA73BDLUSBITTX3Z -m comment --comment ns1/term:p80 -s 198.19.1.2 -j KUBE-MARK-MASQ
    -A KUBE-SEP-NA73BDLUSBITTX3Z -m comment --comment ns1/term:p80 -m tcp -p tcp -j DNAT --to-destination 198.19.1.2:80
    -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS
    COMMIT
  `));
});
