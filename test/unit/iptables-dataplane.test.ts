// The back end's sync discipline against a fake iptables: first sync full with
// the jumps ensured, partial syncs writing only changed services, stale chain
// deletion, periodic and forced full syncs, failure handling, the canary,
// back end detection and cleanup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IptablesDataplane } from '../../control-plane/src/dataplane/iptables/iptables-dataplane.js';
import { detectBackend } from '../../control-plane/src/dataplane/iptables/backend-detect.js';
import { IptablesRestoreError, extractLines, restoreErrorLine } from '../../control-plane/src/dataplane/iptables/runner.js';
import { JUMP_CHAINS, KUBELET_JUMP_CHAINS } from '../../control-plane/src/dataplane/iptables/jump-chains.js';
import { cleanupInput, parseSave, ruleTarget, splitSaveLine } from '../../control-plane/src/dataplane/iptables/cleanup.js';
import { FakeIptables } from '../iptables/fake-exec.js';
import { desiredOf, ep, svcPort } from '../iptables/fixtures.js';

const A = svcPort({ name: 'a', clusterIP: '198.18.128.30' });
const B = svcPort({ name: 'b', clusterIP: '198.18.128.31' });

function make(fake: FakeIptables, extra: Partial<ConstructorParameters<typeof IptablesDataplane>[0]> = {}) {
  return new IptablesDataplane({
    node: { nodeName: 'node-a', nodeIPs: ['198.18.0.2'], clusterCIDR: '198.19.0.0/16' },
    exec: fake.exec, canaryMonitor: false, ...extra,
  });
}

const declared = (text: string) => [...text.matchAll(/^:(\S+)/gm)].map((m) => m[1]!);

test('first sync is full: jumps ensured, every chain written, canaries created', async () => {
  const fake = new FakeIptables();
  const dp = make(fake);
  await dp.init();
  assert.equal(dp.backend, 'nft');
  for (const t of ['mangle', 'nat', 'filter']) assert.ok(fake.has(t, 'KUBE-PROXY-CANARY'), t);
  const out = await dp.sync(desiredOf([[A, [ep('198.19.1.2')]], [B, [ep('198.19.2.2')]]]));
  assert.equal(out.detail.full, 1);
  assert.equal(out.detail.writtenServices, 2);
  assert.ok(out.changes > 0);
  for (const j of [...JUMP_CHAINS, ...KUBELET_JUMP_CHAINS]) {
    const rules = fake.table(j.table).get(j.srcChain)!;
    assert.ok(rules.some((r) => r.endsWith(`-j ${j.dstChain}`)), `${j.table} ${j.srcChain} -> ${j.dstChain}`);
  }
  // Prepended in order: the last ensured jump of a chain comes first.
  assert.match(fake.table('nat').get('PREROUTING')![0]!, /KUBE-SERVICES/);
  assert.equal(dp.lastRestoreInput, fake.restores.at(-1));
  assert.equal(declared(dp.lastRestoreInput!).filter((c) => c.startsWith('KUBE-SVC-')).length, 2);
  // A second full sync does not duplicate the jumps.
  dp.requestFullSync();
  await dp.sync(desiredOf([[A, [ep('198.19.1.2')]], [B, [ep('198.19.2.2')]]]));
  assert.equal(fake.table('nat').get('PREROUTING')!.length, 1);
});

test('partial sync writes only the changed service, deletes its stale endpoint chain', async () => {
  const fake = new FakeIptables();
  const dp = make(fake);
  await dp.init();
  await dp.sync(desiredOf([[A, [ep('198.19.1.2')]], [B, [ep('198.19.2.2'), ep('198.19.2.3')]]]));
  const before = fake.calls.length;
  const out = await dp.sync(desiredOf([[A, [ep('198.19.1.2')]], [B, [ep('198.19.2.2')]]]));
  assert.equal(out.detail.full, 0);
  assert.deepEqual(dp.lastSync?.writtenServices, [B.key]);
  assert.deepEqual(dp.lastSync?.skippedServices, [A.key]);
  const text = dp.lastRestoreInput!;
  const chains = declared(text);
  assert.ok(chains.includes('KUBE-SERVICES') && chains.includes('KUBE-NODEPORTS') && chains.includes('KUBE-POSTROUTING') && chains.includes('KUBE-MARK-MASQ'));
  const svcChains = chains.filter((c) => c.startsWith('KUBE-SVC-'));
  assert.equal(svcChains.length, 1, text);
  assert.match(text, new RegExp(`^-A ${svcChains[0]} .*198\\.19\\.2\\.2`, 'm'));
  assert.doesNotMatch(text, /198\.19\.1\.2/, 'the unchanged service\'s chains are not written');
  assert.equal(dp.lastSync?.deletedChains.length, 1);
  assert.match(text, new RegExp(`^-X ${dp.lastSync!.deletedChains[0]}$`, 'm'));
  assert.ok(!fake.calls.slice(before).some((c) => c.includes('-I')), 'no jump ensuring on a partial sync');
  // Nothing changed: no service chains, no changes reported.
  const same = await dp.sync(desiredOf([[A, [ep('198.19.1.2')]], [B, [ep('198.19.2.2')]]]));
  assert.equal(same.changes, 0);
  assert.deepEqual(declared(dp.lastRestoreInput!).filter((c) => /^KUBE-(SVC|SEP|EXT|FW|SVL)-/.test(c)), []);
});

test('removing a service deletes all its chains', async () => {
  const fake = new FakeIptables();
  const dp = make(fake);
  await dp.init();
  await dp.sync(desiredOf([[A, [ep('198.19.1.2')]], [B, [ep('198.19.2.2')]]]));
  await dp.sync(desiredOf([[A, [ep('198.19.1.2')]]]));
  assert.equal(dp.lastSync?.deletedChains.length, 2); // SVC and SEP of b
  const nat = [...fake.table('nat').keys()];
  assert.equal(nat.filter((c) => c.startsWith('KUBE-SVC-')).length, 1);
  assert.equal(nat.filter((c) => c.startsWith('KUBE-SEP-')).length, 1);
});

test('every N-th sync is full; requestFullSync forces one', async () => {
  const fake = new FakeIptables();
  const dp = make(fake, { fullSyncEvery: 3 });
  await dp.init();
  const d = desiredOf([[A, [ep('198.19.1.2')]]]);
  const fulls: number[] = [];
  for (let i = 0; i < 7; i++) fulls.push((await dp.sync(d)).detail.full!);
  assert.deepEqual(fulls, [1, 0, 0, 1, 0, 0, 1]);
  dp.requestFullSync();
  assert.equal((await dp.sync(d)).detail.full, 1);
});

test('a sync past fullSyncPeriodMs is full', async () => {
  const fake = new FakeIptables();
  const dp = make(fake, { fullSyncPeriodMs: 30 });
  await dp.init();
  const d = desiredOf([[A, [ep('198.19.1.2')]]]);
  await dp.sync(d);
  assert.equal((await dp.sync(d)).detail.full, 0);
  await new Promise((r) => setTimeout(r, 40));
  assert.equal((await dp.sync(d)).detail.full, 1);
});

test('a failed restore names the failing line and makes the next sync full', async () => {
  const fake = new FakeIptables();
  const dp = make(fake);
  await dp.init();
  const d = desiredOf([[A, [ep('198.19.1.2')]]]);
  await dp.sync(d);
  fake.failRestoreAtLine = 3;
  await assert.rejects(dp.sync(d), (err: unknown) => {
    assert.ok(err instanceof IptablesRestoreError);
    assert.equal(err.line, 3);
    assert.equal(err.lineText, dp.lastRestoreInput!.split('\n')[2]);
    assert.match(err.message, /failing line 3: :KUBE-EXTERNAL-SERVICES - \[0:0\]/);
    return true;
  });
  assert.equal((await dp.sync(d)).detail.full, 1);
});

test('restore error parsing', () => {
  assert.equal(restoreErrorLine('iptables-restore v1.8.9 (legacy): x\n\nError occurred at line: 12\nTry'), 12);
  assert.equal(restoreErrorLine('iptables-restore: line 7 failed'), 7);
  assert.equal(restoreErrorLine('something else'), undefined);
  assert.equal(extractLines('a\nb\nc\nd\ne', 3, 1), '     2: b\n>    3: c\n     4: d');
});

test('a lost canary makes the next sync full, calls back and puts the canaries back', async () => {
  const fake = new FakeIptables();
  let called = 0;
  const dp = make(fake, { onFullSyncNeeded: () => called++ });
  await dp.init();
  const d = desiredOf([[A, [ep('198.19.1.2')]]]);
  await dp.sync(d);
  assert.equal(await dp.checkCanary(), false);
  assert.equal((await dp.sync(d)).detail.full, 0);
  for (const t of ['mangle', 'nat', 'filter']) fake.deleteChain(t, 'KUBE-PROXY-CANARY');
  assert.equal(await dp.checkCanary(), true);
  assert.equal(called, 1);
  assert.equal(dp.canaryLosses, 1);
  for (const t of ['mangle', 'nat', 'filter']) assert.ok(fake.has(t, 'KUBE-PROXY-CANARY'));
  assert.equal((await dp.sync(d)).detail.full, 1);
});

test('host features: iptables version gives --random-fully', async () => {
  const fake = new FakeIptables();
  const dp = make(fake);
  await dp.init();
  await dp.sync(desiredOf([[A, [ep('198.19.1.2')]]]));
  assert.match(dp.lastRestoreInput!, /-j MASQUERADE --random-fully$/m);
  const old = new FakeIptables();
  old.version = 'iptables v1.6.1';
  const dp2 = make(old, { backend: 'legacy' });
  await dp2.init();
  await dp2.sync(desiredOf([[A, [ep('198.19.1.2')]]]));
  assert.match(dp2.lastRestoreInput!, /-j MASQUERADE$/m);
  assert.ok(old.calls.some((c) => c[0] === 'iptables-legacy-restore'));
});

test('localhost NodePorts set route_localnet through sysctl', async () => {
  const fake = new FakeIptables();
  const dp = make(fake);
  await dp.init();
  assert.ok(fake.calls.some((c) => c.join(' ') === 'sysctl -w net.ipv4.conf.all.route_localnet=1'));
  const off = new FakeIptables();
  await make(off, { node: { nodeName: 'n', nodeIPs: ['198.18.0.2'], localhostNodePorts: false } }).init();
  assert.ok(!off.calls.some((c) => c[0] === 'sysctl' && c[1] === '-w'));
});

test('--nodeport-addresses CIDRs are resolved from the interface addresses', async () => {
  const fake = new FakeIptables();
  const dp = make(fake, { node: { nodeName: 'n', nodeIPs: ['198.18.0.2'], nodePortAddresses: ['198.18.0.0/24'] } });
  await dp.init();
  await dp.sync([]);
  assert.match(dp.lastRestoreInput!, /-d 198\.18\.0\.2 -j KUBE-NODEPORTS$/m);
});

test('back end detection follows iptables-wrappers', async () => {
  const mk = (outs: Record<string, string>) => {
    const f = new FakeIptables();
    f.saveOutputs = { 'iptables-nft-save': '', 'iptables-legacy-save': '', ...outs };
    return f.exec;
  };
  const hint = '*mangle\n:KUBE-IPTABLES-HINT - [0:0]\nCOMMIT\n';
  const rules = (n: number) => `*filter\n${Array.from({ length: n }, () => '-A INPUT -j ACCEPT').join('\n')}\nCOMMIT\n`;
  assert.equal((await detectBackend(mk({ 'iptables-nft-save': hint }))).backend, 'nft');
  assert.equal((await detectBackend(mk({ 'iptables-legacy-save': hint }))).backend, 'legacy');
  assert.equal((await detectBackend(mk({ 'iptables-legacy-save': rules(5), 'iptables-nft-save': rules(2) }))).backend, 'legacy');
  assert.equal((await detectBackend(mk({ 'iptables-legacy-save': rules(2), 'iptables-nft-save': rules(2) }))).backend, 'nft');
  assert.equal((await detectBackend(mk({}))).backend, 'nft');
  assert.deepEqual(await detectBackend(mk({ 'iptables-nft-save': hint }), 'legacy'), { backend: 'legacy', reason: '--iptables-backend legacy' });
});

test('cleanup removes every KUBE-* chain and jump of both back ends', async () => {
  const fake = new FakeIptables();
  const dp = make(fake);
  await dp.init();
  await dp.sync(desiredOf([[A, [ep('198.19.1.2')]]]));
  fake.table('nat').get('POSTROUTING')!.push('-A POSTROUTING -s 198.19.0.0/16 -j MASQUERADE');
  const reports = await dp.cleanup();
  assert.deepEqual(reports.map((r) => r.backend), ['legacy', 'nft']); // the fake answers for both
  for (const [t, chains] of fake.tables) {
    for (const [c, rules] of chains) {
      assert.ok(!c.startsWith('KUBE-'), `${t}/${c} left`);
      for (const r of rules) assert.ok(!/-j KUBE-/.test(r), `${t}: ${r}`);
    }
  }
  assert.deepEqual(fake.table('nat').get('POSTROUTING'), ['-A POSTROUTING -s 198.19.0.0/16 -j MASQUERADE'], 'other rules stay');
  // The next sync is full again.
  assert.equal((await dp.sync(desiredOf([[A, [ep('198.19.1.2')]]]))).detail.full, 1);
});

test('cleanup keeps KUBE-FIREWALL and KUBE-MARK-MASQ when kubelet shares them', async () => {
  const fake = new FakeIptables();
  const dp = make(fake);
  await dp.init();
  await dp.sync(desiredOf([[A, [ep('198.19.1.2')]]]));
  fake.table('mangle').set('KUBE-KUBELET-CANARY', []);
  const [rep] = await dp.cleanup();
  assert.ok(rep!.kept.some((k) => k.startsWith('filter/KUBE-FIREWALL')));
  assert.ok(fake.has('filter', 'KUBE-FIREWALL'));
  assert.ok(fake.has('nat', 'KUBE-MARK-MASQ'));
  assert.ok(!fake.has('nat', 'KUBE-SERVICES'));
});

test('cleanup on nft: transactions of at most 250 chains, in an order where every step is valid; legacy: one transaction', () => {
  // 30,000 Services x 10 is 330,000 chains: one --noflush transaction naming all of them is quadratic on
  // nft and took over two minutes (bench/results/full-20261207); every transaction here names at most 250.
  const fixed = ['KUBE-MARK-MASQ', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-SERVICES'];
  const service = Array.from({ length: 600 }, (_, i) => `KUBE-SEP-${String(i).padStart(16, 'X')}`);
  const text = cleanupInput('nat', [...service, ...fixed], 'nft');
  const txs = text.split('COMMIT\n').filter((t) => t.trim()).map((t) => t.split('\n').filter((l) => l && !l.startsWith('*')));
  const named = (tx: string[]) => new Set(tx.map((l) => (l.startsWith(':') ? l.slice(1).split(' ')[0] : l.split(' ')[1])));
  assert.ok(txs.every((tx) => named(tx).size <= 250), `sizes ${txs.map((tx) => named(tx).size).join(',')}`);
  const at = (line: string) => txs.findIndex((tx) => tx.includes(line));
  assert.equal(at(':KUBE-SERVICES - [0:0]'), 0, 'the chains that jump to the Services are flushed first');
  const lastFlush = Math.max(...service.map((c) => at(`:${c} - [0:0]`)));
  const firstDelete = Math.min(...service.map((c) => at(`-X ${c}`)));
  assert.ok(lastFlush < firstDelete, 'every service chain is flushed before any is deleted');
  assert.ok(Math.max(...service.map((c) => at(`-X ${c}`))) < at('-X KUBE-MARK-MASQ'), 'the fixed chains go last (service chains jump to KUBE-MARK-MASQ)');
  for (const c of [...service, ...fixed]) assert.ok(at(`:${c} - [0:0]`) >= 0 && at(`-X ${c}`) >= 0, c);
  const legacy = cleanupInput('nat', [...service, ...fixed], 'legacy');
  assert.equal(legacy.match(/COMMIT/g)?.length, 1, 'legacy: one transaction (each rewrites the whole table)');
  assert.equal(cleanupInput('nat', fixed, 'nft').match(/COMMIT/g)?.length, 1, 'a small table: one transaction on nft too');
});

test('save parsing helpers', () => {
  const t = parseSave('*nat\n:PREROUTING ACCEPT [1:2]\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\nCOMMIT\n');
  assert.deepEqual([...t.get('nat')!.chains.keys()], ['PREROUTING', 'KUBE-SERVICES']);
  assert.equal(t.get('nat')!.chains.get('PREROUTING')!.builtin, true);
  assert.equal(ruleTarget(t.get('nat')!.chains.get('PREROUTING')!.rules[0]!), 'KUBE-SERVICES');
  assert.equal(ruleTarget('-A FOO -g KUBE-X'), 'KUBE-X');
});

test('saved rule lines split into arguments the way iptables reads them', () => {
  assert.deepEqual(splitSaveLine('-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES'),
    ['-A', 'PREROUTING', '-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES']);
  assert.deepEqual(splitSaveLine('-A X -m comment --comment "a \\"quoted\\" one" -j Y'), ['-A', 'X', '-m', 'comment', '--comment', 'a "quoted" one', '-j', 'Y']);
  assert.deepEqual(splitSaveLine('-A X -m comment --comment ""  -j Y'), ['-A', 'X', '-m', 'comment', '--comment', '', '-j', 'Y']);
});
