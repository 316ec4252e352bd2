// Root test: the iptables back end converges on both legacy and nft at a
// moderate size (large-cluster mode, new chains created ahead on nft) with
// kube-proxy's layout as iptables-save reads it back; and a slow restore that
// keeps working (kube-proxy's single --noflush input on nft, quadratic there)
// runs to the end however long it takes, reported while it runs.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IptablesDataplane } from '../../control-plane/src/dataplane/iptables/iptables-dataplane.js';
import { renderIptables } from '../../control-plane/src/dataplane/iptables/render.js';
import { orderJumps } from '../../control-plane/src/dataplane/iptables/restore-batches.js';
import { IptablesRunner, commandExec, type RunningCommand } from '../../control-plane/src/dataplane/iptables/runner.js';
import type { EndpointInfo, ServicePortInfo } from '../../control-plane/src/model/types.js';
import { desiredOf, ep, svcPort } from './fixtures.js';
import { Namespaces, backendSkipReason, rootSkipReason } from './netns.js';

const rootSkip = await rootSkipReason();
const NODE = { nodeName: 'node-a', nodeIPs: ['198.18.0.2'], clusterCIDR: '198.19.0.0/16' };

function services(n: number, k: number): Array<[ServicePortInfo, EndpointInfo[]]> {
  return Array.from({ length: n }, (_, i) => [
    svcPort({ ns: 'conv', name: `s${i}`, clusterIP: `198.18.${(i >> 8) & 255}.${i & 255}`, nodePort: i % 4 === 0 ? 30000 + i : 0 }),
    Array.from({ length: k }, (_, j) => { const x = i * k + j; return ep(`198.19.${(x >> 8) & 255}.${x & 255}`); }),
  ]);
}

/** table/chain → its rules' -j targets, in order, for our chains. */
function targets(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith(':KUBE-') && !line.startsWith(':KUBE-PROXY-CANARY') && !line.startsWith(':KUBE-KUBELET-CANARY')) {
      const c = line.slice(1).split(' ')[0]!;
      out.set(`${table}/${c}`, out.get(`${table}/${c}`) ?? []);
    } else if (line.startsWith('-A KUBE-')) {
      const m = / -j (\S+)/.exec(line);
      out.get(`${table}/${line.split(' ')[1]}`)?.push(m?.[1] ?? '(none)');
    }
  }
  return out;
}

for (const backend of ['legacy', 'nft'] as const) {
  const skip = rootSkip ?? (await backendSkipReason(backend));
  describe(`iptables-${backend}: convergence`, { skip }, () => {
    const spaces = new Namespaces(`conv-${backend}`);
    after(() => spaces.destroy());

    test('1,500 Services x 2 endpoints converge with kube-proxy\'s layout, and a change after them', { timeout: 600_000 }, async () => {
      const ns = await spaces.add('c');
      const dp = new IptablesDataplane({
        node: NODE, backend, commandPrefix: ['ip', 'netns', 'exec', ns],
        canaryMonitor: false, detectHostFeatures: false, manageSysctls: false, stallMs: 120_000,
      });
      await dp.init();
      const entries = services(1500, 2);
      await dp.sync(desiredOf(entries));
      if (backend === 'nft') assert.ok((dp.lastRestorePlan?.creatingBatches ?? 0) > 1, JSON.stringify(dp.lastRestorePlan));
      else assert.equal(dp.lastRestorePlan?.creatingBatches, 0);
      const runner = new IptablesRunner(backend, commandExec(['ip', 'netns', 'exec', ns]));
      // nft writes the nat KUBE-SERVICES and KUBE-NODEPORTS jumps by descending target (restore-batches.ts).
      const rendered = (): string => renderIptables(desiredOf(entries), { ...NODE, localAddresses: [] }).text;
      const expected = (): Map<string, string[]> => targets(backend === 'nft' ? orderJumps(rendered().split('\n')).join('\n') : rendered());
      const saved = async (): Promise<Map<string, string[]>> => targets((await runner.save('filter')) + (await runner.save('nat')));
      assert.deepEqual(await saved(), expected());

      // One endpoint fewer for s1, one more Service: written in one more restore.
      entries[1]![1].pop();
      entries.push([svcPort({ ns: 'conv', name: 'extra', clusterIP: '198.18.250.1' }), [ep('198.19.250.1')]]);
      await dp.sync(desiredOf(entries));
      assert.deepEqual(dp.lastSync?.writtenServices.sort(), [entries[1]![0].key, entries.at(-1)![0].key].sort());
      const after = await saved();
      const want = expected();
      // Large-cluster mode: s1's stale endpoint chain waits for the cleanup scan (kube-proxy's behaviour).
      const stale = [...after.keys()].filter((k) => !want.has(k));
      assert.equal(stale.length, 1, stale.join(' '));
      assert.match(stale[0]!, /^nat\/KUBE-SEP-/);
      for (const [k, v] of want) assert.deepEqual(after.get(k), v, k);
    });
  });
}

describe('iptables-nft: a slow restore that keeps working', { skip: rootSkip ?? (await backendSkipReason('nft')) }, () => {
  const spaces = new Namespaces('slow-nft');
  after(() => spaces.destroy());

  test('is not killed however long past the stall limit it runs, and is reported while it runs', { timeout: 600_000 }, async () => {
    const ns = await spaces.add('s');
    const reports: RunningCommand[] = [];
    const stallMs = 1500;
    // kube-proxy's single --noflush restore of 3,000 Services x 2 endpoints: seconds of CPU in iptables-nft-restore.
    const exec = commandExec(['ip', 'netns', 'exec', ns], { stallMs, checkEveryMs: 250, onRunning: (r) => reports.push(r) });
    const runner = new IptablesRunner('nft', exec);
    const r = renderIptables(desiredOf(services(3000, 2)), { ...NODE, localAddresses: [] });
    await runner.restore(r.text);
    const restoreReports = reports.filter((x) => x.argv.some((a) => a.endsWith('-restore')));
    assert.ok(restoreReports.length > 0, 'reported while running');
    const last = restoreReports.at(-1)!;
    assert.ok(last.elapsedMs > stallMs, `ran ${last.elapsedMs} ms, past the ${stallMs} ms stall limit`);
    assert.ok(last.cpuMs > 0);
    const save = await runner.save('nat');
    assert.equal((save.match(/^:KUBE-SVC-/gm) ?? []).length, 3000);
  });
});
