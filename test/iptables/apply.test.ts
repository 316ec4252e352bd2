// Root test: the rendered restore input loads with the real iptables-restore
// (legacy and nft) inside a throwaway namespace, and iptables-save reads back
// the same chains with the same rules; a bad line is reported by number.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { renderIptables } from '../../control-plane/src/dataplane/iptables/render.js';
import { IptablesRestoreError, IptablesRunner } from '../../control-plane/src/dataplane/iptables/runner.js';
import { detectBackend } from '../../control-plane/src/dataplane/iptables/backend-detect.js';
import { IptablesDataplane } from '../../control-plane/src/dataplane/iptables/iptables-dataplane.js';
import { cleanupAll } from '../../control-plane/src/dataplane/iptables/cleanup.js';
import { UPSTREAM_CFG, upstreamOverallDesired } from './fixtures.js';
import { Namespaces, backendSkipReason, nsExec, rootSkipReason } from './netns.js';

const rootSkip = await rootSkipReason();

/** table → chain → the -j targets of its rules, in order. */
function targets(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith(':')) {
      const c = line.slice(1).split(' ')[0]!;
      if (c.startsWith('KUBE-')) out.set(`${table}/${c}`, out.get(`${table}/${c}`) ?? []);
    } else if (line.startsWith('-A KUBE-')) {
      const c = line.split(' ')[1]!;
      const m = / -j (\S+)/.exec(line);
      out.get(`${table}/${c}`)?.push(m?.[1] ?? '(none)');
    }
  }
  return out;
}

for (const backend of ['legacy', 'nft'] as const) {
  const skip = rootSkip ?? (await backendSkipReason(backend));
  describe(`iptables-${backend}: restore input as iptables-save reads it back`, { skip }, () => {
    const spaces = new Namespaces(`apply-${backend}`);
    after(() => spaces.destroy());

    test('the TestOverallIPTablesRules render loads and reads back chain for chain', async () => {
      const ns = await spaces.add('n');
      const runner = new IptablesRunner(backend, nsExec(ns));
      const cfg = { ...UPSTREAM_CFG, masqueradeMark: undefined, nfacct: undefined };
      const r = renderIptables(upstreamOverallDesired(), cfg);
      await runner.restore(r.text);
      const save = (await runner.save('filter')) + (await runner.save('nat'));
      assert.deepEqual(targets(save), targets(r.text));
      // iptables normalises what it prints: the Go-formatted mark (as --set-xmark), the probability, /32.
      assert.match(save, /^-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000\/0x4000$/m);
      assert.match(save, /^-A KUBE-SVC-4SW47YFZTEDKD3PK -m comment --comment "ns4\/svc4:p80 -> 10\.180\.0\.4:80" -m statistic --mode random --probability 0\.50000000000 -j KUBE-SEP-UKSFD7AGPMPPLUHC$/m);
      assert.match(save, /^-A KUBE-SEP-I77PXRDZVX7PMWMN -p tcp -m comment --comment "?ns5\/svc5:p80"? -m recent --set --name KUBE-SEP-I77PXRDZVX7PMWMN --mask 255\.255\.255\.255 --rsource -m tcp -j DNAT --to-destination 10\.180\.0\.3:80$/m);
      assert.match(save, /^-A KUBE-SERVICES -d 172\.30\.0\.46\/32 -p tcp -m comment --comment "ns6\/svc6:p80 has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable$/m);
      // Loading the same input again (a second full sync) leaves the same rules, not twice as many.
      await runner.restore(r.text);
      assert.deepEqual(targets((await runner.save('filter')) + (await runner.save('nat'))), targets(r.text));
    });

    test('cleanup removes our chains and jumps, keeps everything else', async () => {
      const ns = await spaces.add('c');
      const runner = new IptablesRunner(backend, nsExec(ns));
      const dp = new IptablesDataplane({ node: { nodeName: 'n', nodeIPs: ['198.18.1.1'] }, backend, commandPrefix: ['ip', 'netns', 'exec', ns], canaryMonitor: false });
      await dp.init();
      await runner.restore('*nat\n:CNI-HOSTPORT - [0:0]\n-A POSTROUTING -s 198.18.9.0/24 -m comment --comment "not \\"ours\\"" -j MASQUERADE\n-A PREROUTING -j CNI-HOSTPORT\nCOMMIT\n');
      await dp.sync(upstreamOverallDesired());
      assert.match(await runner.save('nat'), /KUBE-SVC-/);
      const [rep] = (await dp.cleanup()).filter((r) => r.backend === backend);
      assert.ok(rep && rep.deletedRules >= 14, JSON.stringify(rep));
      const save = (await runner.save('filter')) + (await runner.save('nat')) + (await runner.save('mangle'));
      assert.doesNotMatch(save, /KUBE-/);
      assert.match(save, /^:CNI-HOSTPORT - \[0:0\]$/m);
      assert.match(save, /^-A PREROUTING -j CNI-HOSTPORT$/m);
      assert.match(save, /^-A POSTROUTING -s 198\.18\.9\.0\/24 -m comment --comment "not \\"ours\\"" -j MASQUERADE$/m);
    });

    test('cleanup in small transactions (nft splits above 250 chains; here 3) removes every chain in the real kernel', async () => {
      const ns = await spaces.add('b');
      const runner = new IptablesRunner(backend, nsExec(ns));
      const dp = new IptablesDataplane({ node: { nodeName: 'n', nodeIPs: ['198.18.1.1'] }, backend, commandPrefix: ['ip', 'netns', 'exec', ns], canaryMonitor: false });
      await dp.init();
      await dp.sync(upstreamOverallDesired());
      assert.match(await runner.save('nat'), /KUBE-SEP-/);
      const reports = await cleanupAll(nsExec(ns), { families: ['IPv4'], maxChains: 3 });
      assert.ok(reports.some((r) => r.backend === backend && r.deletedChains.length > 6), JSON.stringify(reports));
      const save = (await runner.save('filter')) + (await runner.save('nat')) + (await runner.save('mangle'));
      assert.doesNotMatch(save, /KUBE-/);
    });

    test('a failing restore names the input line', async () => {
      const ns = await spaces.add('e');
      const runner = new IptablesRunner(backend, nsExec(ns));
      const input = '*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -m nosuchmatch -j RETURN\nCOMMIT\n';
      await assert.rejects(runner.restore(input), (err: unknown) => {
        assert.ok(err instanceof IptablesRestoreError, String(err));
        assert.equal(err.line, 3);
        assert.equal(err.lineText, '-A KUBE-SERVICES -m nosuchmatch -j RETURN');
        assert.match(err.message, /failing line 3: -A KUBE-SERVICES -m nosuchmatch -j RETURN/);
        return true;
      });
    });

    test('the dataplane surfaces the failing line of a rejected sync', async () => {
      const ns = await spaces.add('d');
      const dp = new IptablesDataplane({
        node: { nodeName: 'n', nodeIPs: ['198.18.1.1'], localDetector: { mode: 'BridgeInterface', interfaceName: 'bad name with spaces' } },
        backend, commandPrefix: ['ip', 'netns', 'exec', ns], canaryMonitor: false,
      });
      await dp.init();
      const d = upstreamOverallDesired();
      await assert.rejects(dp.sync(d), (err: unknown) => err instanceof IptablesRestoreError && err.line !== undefined && /failing line \d+: /.test(err.message));
      await dp.cleanup();
    });
  });
}

describe('back end detection in a fresh namespace', { skip: rootSkip }, () => {
  const spaces = new Namespaces('detect');
  after(() => spaces.destroy());
  test('no rules anywhere: nft; rules only in legacy: legacy', async (t) => {
    const legacySkip = await backendSkipReason('legacy');
    const ns = await spaces.add('n');
    assert.equal((await detectBackend(nsExec(ns))).backend, 'nft');
    if (legacySkip) return t.skip(legacySkip);
    await new IptablesRunner('legacy', nsExec(ns)).restore('*filter\n:X - [0:0]\n-A INPUT -j X\n-A X -j RETURN\nCOMMIT\n');
    assert.equal((await detectBackend(nsExec(ns))).backend, 'legacy');
  });
});
