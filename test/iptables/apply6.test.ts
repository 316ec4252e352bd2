// Root test: the IPv6 render of kube-proxy's overall Services (ClusterIP TCP
// and UDP, NodePort, ExternalIP, LoadBalancer with source ranges, eTP=Local,
// affinity, no endpoints) loads with the real ip6tables-restore (legacy and
// nft) inside a throwaway namespace, and ip6tables-save reads back the same
// chains with the same jumps, in the forms ip6tables prints.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { renderIptables } from '../../control-plane/src/dataplane/iptables/render.js';
import { IptablesRunner } from '../../control-plane/src/dataplane/iptables/runner.js';
import { UPSTREAM_CFG_V6, upstreamOverallDesiredV6 } from './fixtures.js';
import { Namespaces, backendSkipReason, nsExec, rootSkipReason } from './netns.js';

const rootSkip = await rootSkipReason();

/** table/chain → the -j targets of its KUBE-* rules, in order. */
function targets(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith(':KUBE-')) out.set(`${table}/${line.slice(1).split(' ')[0]}`, out.get(`${table}/${line.slice(1).split(' ')[0]}`) ?? []);
    else if (line.startsWith('-A KUBE-')) out.get(`${table}/${line.split(' ')[1]}`)?.push(/ -j (\S+)/.exec(line)?.[1] ?? '(none)');
  }
  return out;
}

for (const backend of ['legacy', 'nft'] as const) {
  const skip = rootSkip ?? (await backendSkipReason(backend, 'IPv6'));
  describe(`ip6tables-${backend}: the IPv6 restore input as ip6tables-save reads it back`, { skip }, () => {
    const spaces = new Namespaces(`apply6-${backend}`);
    after(() => spaces.destroy());

    test('every Service kind loads and reads back chain for chain', async () => {
      const ns = await spaces.add('n');
      const runner = new IptablesRunner(backend, nsExec(ns), { family: 'IPv6' });
      const r = renderIptables(upstreamOverallDesiredV6(), { ...UPSTREAM_CFG_V6, nfacct: undefined });
      await runner.restore(r.text);
      const save = (await runner.save('filter')) + (await runner.save('nat'));
      assert.deepEqual(targets(save), targets(r.text));
      assert.match(save, /^-A KUBE-SERVICES -d fd00:172:30::46\/128 -p tcp -m comment --comment "ns6\/svc6:p80 has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp6-port-unreachable$/m);
      assert.match(save, /-m recent --set --name KUBE-SEP-ZFZEJLXCVJVI2YXY --mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff --rsource -m tcp -j DNAT --to-destination \[fd00:10:180::3\]:80$/m);
      assert.match(save, /^-A KUBE-FW-NUKIZ6OKUXPJNT4C -s 2001:db8:203::\/64 -m comment --comment "ns5\/svc5:p80 loadbalancer IP" -j KUBE-EXT-NUKIZ6OKUXPJNT4C$/m);
      assert.match(save, /^-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS$|^-A KUBE-SERVICES ! -d ::1\/128 -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS$/m);
      assert.match(save, /-p udp -m comment --comment "?ns3\/svc3:dns"? -m udp -j DNAT --to-destination \[fd00:10:180::3\]:5353$/m);
    });
  });
}
