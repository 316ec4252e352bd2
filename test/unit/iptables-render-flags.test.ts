// kube-proxy's flags and the smaller rules of the renderer: hairpin
// masquerade, --masquerade-all, --detect-local-mode, localhost NodePorts,
// --nodeport-addresses, --random-fully, tcp_be_liberal, large cluster mode,
// endpoint order, partial renders and stale chain deletion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderIptables, type IptablesNodeConfig } from '../../control-plane/src/dataplane/iptables/render.js';
import { servicePortEndpointChainName } from '../../control-plane/src/dataplane/iptables/chain-names.js';
import { chainRules, desiredOf, ep, svcPort } from '../iptables/fixtures.js';

const BASE: IptablesNodeConfig = { nodeName: 'node-a', nodeIPs: ['198.18.0.2'], clusterCIDR: '198.19.0.0/16', localhostNodePorts: false };
const WEB = svcPort({ name: 'web', clusterIP: '198.18.128.10' });
const SVC = 'KUBE-SVC-PPBSTXGMF4OXFMWK';
const one = desiredOf([[WEB, [ep('198.19.1.2')]]]);

test('hairpin: each endpoint chain marks traffic from the endpoint itself for masquerade', () => {
  const sep = servicePortEndpointChainName('ns1/web:p80', 'tcp', '198.19.1.2:80');
  const rules = chainRules(renderIptables(one, BASE).text, 'nat', sep);
  assert.deepEqual(rules, [
    `-A ${sep} -m comment --comment ns1/web:p80 -s 198.19.1.2 -j KUBE-MARK-MASQ`,
    `-A ${sep} -m comment --comment ns1/web:p80 -m tcp -p tcp -j DNAT --to-destination 198.19.1.2:80`,
  ]);
});

test('--masquerade-all masquerades every ClusterIP packet; without a local detector nothing is', () => {
  const all = chainRules(renderIptables(one, { ...BASE, masqueradeAll: true }).text, 'nat', SVC);
  assert.equal(all[0], `-A ${SVC} -m comment --comment "ns1/web:p80 cluster IP" -m tcp -p tcp -d 198.18.128.10 --dport 80 -j KUBE-MARK-MASQ`);
  const none = chainRules(renderIptables(one, { nodeName: 'n', nodeIPs: ['198.18.0.2'] }).text, 'nat', SVC);
  assert.ok(none.every((r) => !r.includes('KUBE-MARK-MASQ')), none.join('\n'));
});

test('--detect-local-mode InterfaceNamePrefix and BridgeInterface', () => {
  const pfx = chainRules(renderIptables(one, { ...BASE, localDetector: { mode: 'InterfaceNamePrefix', prefix: 'veth' } }).text, 'nat', SVC);
  assert.ok(pfx[0]!.endsWith('--dport 80 ! -i veth+ -j KUBE-MARK-MASQ'), pfx[0]);
  const br = chainRules(renderIptables(one, { ...BASE, localDetector: { mode: 'BridgeInterface', interfaceName: 'cbr0' } }).text, 'nat', SVC);
  assert.ok(br[0]!.endsWith('--dport 80 ! -i cbr0 -j KUBE-MARK-MASQ'), br[0]);
});

test('localhost NodePorts (the default): KUBE-FIREWALL guard, NodePort jump without "! -d 127.0.0.0/8"', () => {
  const { localhostNodePorts: _omit, ...cfg } = BASE;
  const text = renderIptables(one, cfg).text;
  assert.match(text, /^:KUBE-FIREWALL - \[0:0\]$/m);
  assert.deepEqual(chainRules(text, 'filter', 'KUBE-FIREWALL'), [
    '-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
  ]);
  assert.equal(chainRules(text, 'nat', 'KUBE-SERVICES').at(-1),
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS');
  // nodePortAddresses without loopback turns localhost NodePorts off, as kube-proxy does.
  const off = renderIptables(one, { ...cfg, nodePortAddresses: ['198.18.0.0/24'], localAddresses: ['127.0.0.1', '198.18.0.2'] }).text;
  assert.doesNotMatch(off, /KUBE-FIREWALL/);
});

test('--nodeport-addresses: one jump per matching local address, in place of the addrtype jump', () => {
  const text = renderIptables(one, { ...BASE, nodePortAddresses: ['198.18.0.0/24', 'primary'], localAddresses: ['127.0.0.1', '198.18.0.2', '198.18.0.3', '10.1.1.1'] }).text;
  const c = '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"';
  assert.deepEqual(chainRules(text, 'nat', 'KUBE-SERVICES').slice(-2), [
    `-A KUBE-SERVICES ${c} -d 198.18.0.2 -j KUBE-NODEPORTS`,
    `-A KUBE-SERVICES ${c} -d 198.18.0.3 -j KUBE-NODEPORTS`,
  ]);
  const all = renderIptables(one, { ...BASE, nodePortAddresses: ['0.0.0.0/0'] }).text;
  assert.match(all, /-m addrtype --dst-type LOCAL ! -d 127\.0\.0\.0\/8 -j KUBE-NODEPORTS/);
});

test('--random-fully when iptables has it; no INVALID drop with nf_conntrack_tcp_be_liberal', () => {
  const text = renderIptables(one, { ...BASE, randomFully: true, conntrackTCPLiberal: true }).text;
  assert.match(text, /-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully\n/);
  assert.doesNotMatch(text, /INVALID/);
});

test('--iptables-masquerade-bit changes every mark', () => {
  const text = renderIptables(one, { ...BASE, masqueradeBit: 5 }).text;
  assert.match(text, /-A KUBE-MARK-MASQ -j MARK --or-mark 0x00000020\n/);
  assert.match(text, /--mark 0x00000020\/0x00000020 -j ACCEPT/);
  assert.match(text, /! --mark 0x00000020\/0x00000020 -j RETURN/);
});

test('endpoints are ordered by their "ip:port" string, as kube-proxy sorts them', () => {
  const text = renderIptables(desiredOf([[WEB, [ep('198.19.1.2'), ep('198.19.1.10'), ep('198.19.1.1')]]]), BASE).text;
  const order = chainRules(text, 'nat', SVC).slice(1).map((r) => /-> ([\d.:]+)/.exec(r)![1]);
  assert.deepEqual(order, ['198.19.1.10:80', '198.19.1.1:80', '198.19.1.2:80']);
});

test('UDP services use -m udp -p udp', () => {
  const dns = svcPort({ name: 'dns', port: 'dns', protocol: 'UDP', clusterIP: '198.18.128.53', svcPort: 53 });
  const text = renderIptables(desiredOf([[dns, [ep('198.19.1.2', { port: 53 })]]]), BASE).text;
  assert.match(text, /"ns1\/dns:dns cluster IP" -m udp -p udp -d 198\.18\.128\.53 --dport 53 -j KUBE-SVC-/);
  assert.match(text, /-m udp -p udp -j DNAT --to-destination 198\.19\.1\.2:53/);
});

test('iTP=Local and eTP=Local: cluster IP to KUBE-SVL, external short-circuit to KUBE-SVC', () => {
  const s = svcPort({ name: 'both', type: 'NodePort', clusterIP: '198.18.128.20', nodePort: 30090, iTPLocal: true, eTPLocal: true });
  const text = renderIptables(desiredOf([[s, [ep('198.19.1.2', { local: true }), ep('198.19.2.2')]]]), BASE).text;
  assert.match(text, /"ns1\/both:p80 cluster IP" -m tcp -p tcp -d 198\.18\.128\.20 --dport 80 -j KUBE-SVL-/);
  const svl = /^:(KUBE-SVL-\S+)/m.exec(text)![1]!;
  const ext = /^:(KUBE-EXT-\S+)/m.exec(text)![1]!;
  const svc = /^:(KUBE-SVC-\S+)/m.exec(text)![1]!;
  assert.equal(chainRules(text, 'nat', ext).at(-1), `-A ${ext} -j ${svl}`);
  assert.equal(chainRules(text, 'nat', svc).length, 2, 'both endpoints in the cluster chain for short-circuited traffic');
  assert.equal(chainRules(text, 'nat', svl).filter((r) => r.includes('-j KUBE-SEP-')).length, 1);
});

test('eTP=Local without local endpoints: EXT keeps the short-circuits, external traffic is dropped in filter', () => {
  const s = svcPort({ name: 'nolocal', type: 'NodePort', clusterIP: '198.18.128.21', nodePort: 30091, eTPLocal: true });
  const text = renderIptables(desiredOf([[s, [ep('198.19.2.2')]]]), BASE).text;
  const ext = /^:(KUBE-EXT-\S+)/m.exec(text)![1]!;
  assert.equal(chainRules(text, 'nat', ext).length, 3);
  assert.deepEqual(chainRules(text, 'filter', 'KUBE-EXTERNAL-SERVICES'), [
    '-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns1/nolocal:p80 has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30091 -j DROP',
  ]);
  assert.doesNotMatch(text, /KUBE-SVL-/);
});

test('large cluster mode (over 1000 endpoints) drops the per-endpoint comments', () => {
  const eps = Array.from({ length: 1001 }, (_, i) => ep(`198.19.${i >> 8}.${(i & 255) + 0}`, { port: 80 + (i % 3) }));
  const r = renderIptables(desiredOf([[WEB, eps]]), BASE);
  assert.equal(r.largeClusterMode, true);
  const svcRules = chainRules(r.text, 'nat', SVC);
  assert.match(svcRules[0]!, /"ns1\/web:p80 cluster IP"/); // the masquerade rule keeps its comment
  assert.ok(svcRules.slice(1).every((l) => !l.includes('--comment')));
  assert.equal(renderIptables(one, BASE).largeClusterMode, false);
});

test('partial render: unchanged services are left out, changed ones and the top-level chains written', () => {
  const a = svcPort({ name: 'a', clusterIP: '198.18.128.30' });
  const b = svcPort({ name: 'b', clusterIP: '198.18.128.31' });
  const first = renderIptables(desiredOf([[a, [ep('198.19.1.2')]], [b, [ep('198.19.2.2')]]]), BASE);
  const second = renderIptables(desiredOf([[a, [ep('198.19.1.2')]], [b, [ep('198.19.2.2'), ep('198.19.2.3')]]]), BASE, {
    full: false, previousHashes: first.serviceHashes, previousActiveNatChains: first.activeNatChains,
  });
  assert.deepEqual(second.writtenServices, [b.key]);
  assert.deepEqual(second.skippedServices, [a.key]);
  const aSvc = /KUBE-SVC-\S+/.exec(chainRules(first.text, 'nat', 'KUBE-SERVICES')[0]!)![0];
  assert.doesNotMatch(second.text, new RegExp(`^:${aSvc} `, 'm'));
  assert.match(second.text, new RegExp(`-A KUBE-SERVICES .* -j ${aSvc}$`, 'm'), 'KUBE-SERVICES is rewritten whole');
  assert.ok(second.activeNatChains.has(aSvc), 'skipped chains stay active');
  // A full render ignores the hashes.
  const full = renderIptables(desiredOf([[a, [ep('198.19.1.2')]], [b, [ep('198.19.2.2')]]]), BASE, { full: true, previousHashes: first.serviceHashes });
  assert.equal(full.skippedServices.length, 0);
});

test('stale service chains are flushed and deleted; chains that are not ours are never touched', () => {
  const first = renderIptables(desiredOf([[WEB, [ep('198.19.1.2'), ep('198.19.2.2')]]]), BASE);
  const second = renderIptables(one, BASE, {
    full: false, previousHashes: first.serviceHashes, previousActiveNatChains: first.activeNatChains,
    existingNatChains: ['PREROUTING', 'KUBE-SERVICES', 'CNI-HOSTPORT', 'KUBE-SVC-OLDOLDOLDOLDOLD', ...first.activeNatChains],
  });
  const gone = servicePortEndpointChainName('ns1/web:p80', 'tcp', '198.19.2.2:80');
  assert.deepEqual(second.deletedChains, ['KUBE-SVC-OLDOLDOLDOLDOLD', gone].sort());
  for (const c of second.deletedChains) {
    assert.match(second.text, new RegExp(`^:${c} - \\[0:0\\]$`, 'm'));
    assert.match(second.text, new RegExp(`^-X ${c}$`, 'm'));
  }
  assert.doesNotMatch(second.text, /CNI-HOSTPORT/);
  // -X comes after every rule that could still reference the chain (KUBE-SERVICES, the SVC chain).
  const lines = second.text.split('\n');
  assert.ok(lines.indexOf(`-X ${gone}`) > lines.findIndex((l) => l.startsWith(`-A ${SVC} `)));
});

test('a whole removed service: its chains deleted, its KUBE-SERVICES rules gone', () => {
  const first = renderIptables(one, BASE);
  const second = renderIptables([], BASE, { full: false, previousHashes: first.serviceHashes, previousActiveNatChains: first.activeNatChains });
  assert.deepEqual(second.deletedChains, [...first.activeNatChains].sort());
  assert.doesNotMatch(second.text, /-A KUBE-SERVICES .*cluster IP/);
});

test('health check node port only for eTP=Local LoadBalancers', () => {
  const cl = svcPort({ name: 'lbc', type: 'LoadBalancer', clusterIP: '198.18.128.40', nodePort: 30100, lbIPs: ['198.18.200.9'], hcnp: 32100 });
  assert.doesNotMatch(renderIptables(desiredOf([[cl, [ep('198.19.1.2')]]]), BASE).text, /health check/);
});
