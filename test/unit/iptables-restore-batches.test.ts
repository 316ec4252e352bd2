// The nft restore plan: chains that do not exist are created ahead in bounded,
// self-contained transactions; everything that exists is rewritten in the
// final transaction with KUBE-SERVICES and the deletions; nothing is lost,
// nothing reordered within a chain but the nat KUBE-SERVICES and
// KUBE-NODEPORTS jumps, which go in descending order of their targets (what
// iptables-nft-restore's chain list inserts in one compare each).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderIptables, type IptablesNodeConfig } from '../../control-plane/src/dataplane/iptables/render.js';
import { orderJumps, planRestore } from '../../control-plane/src/dataplane/iptables/restore-batches.js';
import { desiredOf, ep, svcPort } from '../iptables/fixtures.js';
import type { EndpointInfo, ServicePortInfo } from '../../control-plane/src/model/types.js';

const CFG: IptablesNodeConfig = { nodeName: 'node-a', nodeIPs: ['198.18.0.2'], clusterCIDR: '198.19.0.0/16' };

function services(n: number, k: number): Array<[ServicePortInfo, EndpointInfo[]]> {
  return Array.from({ length: n }, (_, i) => [
    svcPort({ name: `s${i}`, clusterIP: `198.18.${(i >> 8) & 255}.${i & 255}`, nodePort: i % 3 === 0 ? 30000 + i : 0, eTPLocal: i % 6 === 0,
      lbIPs: i % 5 === 0 ? [`198.18.200.${i & 255}`] : [], sourceRanges: i % 10 === 0 ? ['198.18.0.0/16'] : [] }),
    Array.from({ length: k }, (_, j) => ep(`198.19.${i & 255}.${j + 1}`, { local: j === 0 })),
  ]);
}

interface Txn { table: string; lines: string[] }
function transactions(text: string): Txn[] {
  const out: Txn[] = [];
  let cur: Txn | undefined;
  for (const l of text.split('\n')) {
    if (l.startsWith('*')) out.push((cur = { table: l.slice(1), lines: [] }));
    else if (l === 'COMMIT') cur = undefined;
    else if (l && cur) cur.lines.push(l);
  }
  return out;
}
const declared = (lines: string[]): string[] => lines.filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]!);
const jumpTargets = (lines: string[]): string[] => lines.flatMap((l) => { const m = / -j (KUBE-\S+)/.exec(l); return m ? [m[1]!] : []; });

test('cold start: every service chain is created ahead, in self-contained transactions of at most maxChains new chains', () => {
  const r = renderIptables(desiredOf(services(200, 3)), CFG);
  const plan = planRestore(r, new Set(), 50);
  const txns = transactions(plan.text);
  const creating = txns.slice(0, plan.creatingBatches);
  const final = txns.slice(plan.creatingBatches);
  assert.ok(plan.creatingBatches >= r.activeNatChains.size / 50, `${plan.creatingBatches} transactions`);
  assert.deepEqual(final.map((t) => t.table), ['filter', 'nat']);
  const created = new Set<string>();
  for (const t of creating) {
    assert.equal(t.table, 'nat');
    const decl = declared(t.lines).filter((c) => c !== 'KUBE-MARK-MASQ');
    assert.ok(decl.length <= 50, `${decl.length} new chains in one transaction`);
    // Every jump lands in this transaction (the chain cannot exist elsewhere yet).
    for (const j of jumpTargets(t.lines)) assert.ok(decl.includes(j) || j === 'KUBE-MARK-MASQ', `${j} jumped to before it exists`);
    assert.ok(!t.lines.some((l) => /^-A KUBE-(SERVICES|NODEPORTS|POSTROUTING) /.test(l)));
    for (const c of decl) created.add(c);
  }
  assert.deepEqual([...created].sort(), [...r.activeNatChains].sort());
  assert.equal(plan.createdAhead, r.activeNatChains.size);
  // The final transaction writes the top-level chains and none created ahead.
  assert.deepEqual(declared(final[1]!.lines).sort(), ['KUBE-MARK-MASQ', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-SERVICES']);
  assertSameRules(plan.text, r.text);
});

/** Per chain, the rules of one input as they reach the kernel (KUBE-MARK-MASQ's one rule once). */
function byChain(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const t of transactions(text)) {
    for (const l of t.lines) {
      if (!l.startsWith('-A ')) continue;
      const c = `${t.table}/${l.split(' ')[1]}`;
      if (c === 'nat/KUBE-MARK-MASQ' && m.has(c)) continue; // written once per creating transaction
      m.set(c, [...(m.get(c) ?? []), l]);
    }
  }
  return m;
}

const target = (l: string): string => / -j (\S+)$/.exec(l)?.[1] ?? '';

/**
 * Nothing lost: per chain the same rules, in the same order, except the nat
 * KUBE-SERVICES and KUBE-NODEPORTS jumps: the same rules by descending target,
 * the NodePorts tail call last, rules of one target in their rendered order.
 */
function assertSameRules(planned: string, rendered: string): void {
  const a = byChain(planned);
  const b = byChain(rendered);
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [chain, rules] of b) {
    const got = a.get(chain)!;
    if (chain !== 'nat/KUBE-SERVICES' && chain !== 'nat/KUBE-NODEPORTS') {
      assert.deepEqual(got, rules, chain);
      continue;
    }
    assert.deepEqual([...got].sort(), [...rules].sort(), `${chain}: the same rules`);
    const jumps = chain === 'nat/KUBE-SERVICES' ? got.filter((l) => target(l) !== 'KUBE-NODEPORTS') : got;
    if (chain === 'nat/KUBE-SERVICES') assert.equal(target(got.at(-1)!), 'KUBE-NODEPORTS', 'the NodePorts tail call stays last');
    for (let i = 1; i < jumps.length; i++) assert.ok(target(jumps[i - 1]!) >= target(jumps[i]!), `${chain}: ${target(jumps[i - 1]!)} before ${target(jumps[i]!)}`);
    for (const t of new Set(jumps.map(target))) {
      assert.deepEqual(jumps.filter((l) => target(l) === t), rules.filter((l) => target(l) === t), `${chain}: rules to ${t} keep their order`);
    }
  }
}

test('a Service\'s new chains are never split across creating transactions', () => {
  const r = renderIptables(desiredOf(services(30, 7)), CFG);
  const plan = planRestore(r, new Set(), 10);
  const txns = transactions(plan.text).slice(0, plan.creatingBatches);
  for (const part of r.serviceParts) {
    const names = part.chainLines.map((l) => l.slice(1).split(' ')[0]!);
    const holders = txns.filter((t) => declared(t.lines).some((c) => names.includes(c)));
    assert.equal(holders.length, 1, part.key);
  }
});

test('existing chains are rewritten in the final transaction only; unknown existence keeps one restore', () => {
  const before = desiredOf(services(20, 2));
  const r0 = renderIptables(before, CFG);
  const existing = new Set(r0.activeNatChains);
  // No new chain: the input is kube-proxy's, one restore, only the jumps ordered.
  for (const known of [existing, undefined]) {
    const p = planRestore(r0, known, 5);
    assert.equal(p.creatingBatches, 0);
    assert.equal(p.text, orderJumps(r0.text.split('\n')).join('\n'));
    assert.deepEqual(transactions(p.text).map((t) => t.table), ['filter', 'nat']);
    assertSameRules(p.text, r0.text);
  }
  // maxChains 0 (legacy, or kube-proxy's own nft restore): the rendered input as it is.
  assert.equal(planRestore(r0, existing, 0).text, r0.text);
  // One more endpoint for s1: its new SEP chain is created ahead; its SVC chain (existing) is rewritten with KUBE-SERVICES.
  const entries = services(20, 2);
  entries[1]![1].push(ep('198.19.1.99'));
  const r1 = renderIptables(desiredOf(entries), CFG, { full: false, previousHashes: r0.serviceHashes, existingNatChains: existing });
  const plan = planRestore(r1, existing, 5);
  assert.equal(plan.creatingBatches, 1);
  assert.equal(plan.createdAhead, 1);
  const txns = transactions(plan.text);
  const newSep = declared(txns[0]!.lines).find((c) => c.startsWith('KUBE-SEP-'))!;
  assert.ok(!existing.has(newSep));
  const finalNat = txns.at(-1)!;
  const svcChain = declared(finalNat.lines).find((c) => c.startsWith('KUBE-SVC-'))!;
  assert.ok(existing.has(svcChain));
  assert.ok(finalNat.lines.some((l) => l.startsWith(`-A ${svcChain} `) && l.endsWith(`-j ${newSep}`)));
  assert.ok(finalNat.lines.some((l) => l.startsWith('-A KUBE-SERVICES ') && l.endsWith(`-j ${svcChain}`)));
});

test('the final transaction jumps to KUBE-SERVICES and KUBE-NODEPORTS targets in descending order; nothing else moves', () => {
  // NodePorts with localhost rules (two rules to one target), LoadBalancers with
  // firewalls, eTP=Local: every kind of jump those two chains hold.
  const cfg: IptablesNodeConfig = { ...CFG, nfacct: { localhostNodePortsAccepted: true } };
  const r = renderIptables(desiredOf(services(60, 2)), cfg);
  const rendered = r.text.split('\n');
  const ordered = orderJumps(rendered);
  assertSameRules(ordered.join('\n'), r.text);
  // The rendered order is not already descending (else this test could not fail).
  const natServices = (ls: string[]) => ls.filter((l, i) => l.startsWith('-A KUBE-SERVICES ') && i > ls.indexOf('*nat'));
  assert.notDeepEqual(natServices(rendered), natServices(ordered));
  // The filter table is as rendered, and so is every line of other chains, in place.
  const filterOf = (ls: string[]) => ls.slice(0, ls.indexOf('*nat'));
  assert.deepEqual(filterOf(ordered), filterOf(rendered));
  const moved = (l: string) => /^-A KUBE-(SERVICES|NODEPORTS) /.test(l);
  const natOthers = (ls: string[]) => ls.slice(ls.indexOf('*nat')).filter((l) => !moved(l));
  assert.deepEqual(natOthers(ordered), natOthers(rendered));
  // No jumps at all: the input comes back as it was.
  const noJumps = ['*nat', ':KUBE-SERVICES - [0:0]', 'COMMIT'];
  assert.deepEqual(orderJumps(noJumps), noJumps);
});
