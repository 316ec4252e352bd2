// The iptables-restore input as iptables-nft-restore can take it at scale.
//
// Why: iptables-nft-restore 1.8.9 --noflush keeps the names of the chains a
// transaction's commands mention (each chain line, each rule's chain and jump
// target) in a sorted linked list (nft-cache.c cache_chain_list_insert), so one
// transaction naming N chains costs O(N^2) string compares: kube-proxy's input
// of 10,000 Services x 2 endpoints (30,000 chains) spends seconds of CPU there
// before the kernel sees anything (docs/benchmarks.md, "iptables fallback").
//
// What: chains that do not exist yet are created first, in bounded
// transactions (one "*nat ... COMMIT" each, whole service ports per
// transaction, at most maxChains new chains in each); then the input kube-proxy
// writes, minus those chains, as one transaction per table, as before. A chain
// that does not exist is referenced by nothing live, so creating it early is
// invisible to packets; every chain that exists (and so may be jumped to) is
// still rewritten in the same transaction as KUBE-SERVICES and the stale chain
// deletions, exactly as kube-proxy's single restore does it. The rule layout
// and rule text are unchanged.
//
// The same sorted list makes the final transaction quadratic in the chains its
// KUBE-SERVICES and KUBE-NODEPORTS rules jump to (10,000 Services: ~0.8 s of
// CPU). The list is sorted ascending and walked from its head, so a name
// smaller than every name already in it costs one compare: the final
// transaction writes those two chains' rules in descending order of their
// jump targets (orderJumps). kube-proxy writes them in Go map order, which is
// random from sync to sync: no packet can tell (their matches are disjoint,
// frontend-claims.ts keeps them so), and the NodePorts tail call stays last.
import { KUBE_MARK_MASQ, KUBE_NODEPORTS, KUBE_SERVICES } from './chain-names.js';
import type { RenderResult } from './render.js';

/** New chains per creating transaction (measured: 250 costs less CPU than 500 or 1,000 at 10,000 x 2). */
export const DEFAULT_BATCH_CHAINS = 250;

export interface RestorePlan {
  /** The iptables-restore --noflush input: the creating transactions, then the final one per table. */
  text: string;
  /** Creating transactions before the final ones. */
  creatingBatches: number;
  /** Chains created ahead of the final transaction. */
  createdAhead: number;
}

/** The chain a restore line writes: ":NAME ..." or "-A NAME ...". */
function chainOf(line: string): string | undefined {
  // indexOf, not split(): this runs on every line of a cold sync (110,000 at 10,000 x 2).
  if (line.startsWith(':')) {
    const end = line.indexOf(' ');
    return end < 0 ? line.slice(1) : line.slice(1, end);
  }
  if (line.startsWith('-A ')) {
    const end = line.indexOf(' ', 3);
    return end < 0 ? line.slice(3) : line.slice(3, end);
  }
  return undefined;
}

/** The target of a rule line ("... -j TARGET"). */
function targetOf(line: string): string {
  const at = line.lastIndexOf(' -j ');
  return at < 0 ? '' : line.slice(at + 4).split(' ')[0]!;
}

/** Stable sort by descending jump target (each target computed once). */
function sortByTargetDescending(rules: readonly string[]): string[] {
  const keyed = rules.map((line, i) => ({ line, i, target: targetOf(line) }));
  keyed.sort((a, b) => (a.target < b.target ? 1 : a.target > b.target ? -1 : a.i - b.i));
  return keyed.map((k) => k.line);
}

/**
 * The nat section's KUBE-SERVICES and KUBE-NODEPORTS rules as one block where
 * the first of them was: KUBE-SERVICES by descending jump target, its NodePorts
 * tail call(s) last, then KUBE-NODEPORTS by descending jump target. The sort is
 * stable: rules with one target (a NodePort's localhost rule and its general
 * rule) keep their order. Other chains' lines keep their places.
 */
export function orderJumps(lines: readonly string[]): string[] {
  const services: string[] = [];
  const tail: string[] = [];
  const nodePorts: string[] = [];
  const out: string[] = [];
  let inNat = false;
  let blockAt = -1;
  for (const l of lines) {
    if (l.startsWith('*')) inNat = l === '*nat';
    let taken = true;
    if (inNat && l.startsWith(`-A ${KUBE_SERVICES} `)) (targetOf(l) === KUBE_NODEPORTS ? tail : services).push(l);
    else if (inNat && l.startsWith(`-A ${KUBE_NODEPORTS} `)) nodePorts.push(l);
    else taken = false;
    if (!taken) out.push(l);
    else if (blockAt < 0) blockAt = out.length;
  }
  if (blockAt < 0) return out;
  const block = [...sortByTargetDescending(services), ...tail, ...sortByTargetDescending(nodePorts)];
  return [...out.slice(0, blockAt), ...block, ...out.slice(blockAt)];
}

/**
 * Splits the rendered input. `existing`: the service chains believed to be in
 * the nat table now (undefined: unknown, then nothing is split off, which is
 * always correct). maxChains 0 (legacy, or nft as kube-proxy writes it): the
 * input as rendered; otherwise the final transaction's jumps are ordered
 * (orderJumps) whether or not anything is split off.
 */
export function planRestore(r: Pick<RenderResult, 'text' | 'serviceParts'>, existing: ReadonlySet<string> | undefined,
  maxChains = DEFAULT_BATCH_CHAINS): RestorePlan {
  if (maxChains <= 0) return { text: r.text, creatingBatches: 0, createdAhead: 0 };
  const lines = r.text.split('\n');
  if (!existing) return { text: orderJumps(lines).join('\n'), creatingBatches: 0, createdAhead: 0 };
  // The service chains jump to KUBE-MARK-MASQ: each creating transaction
  // writes it whole (the same one rule), so it exists whatever ran before.
  const markMasq = [`:${KUBE_MARK_MASQ} - [0:0]`, ...lines.filter((l) => l.startsWith(`-A ${KUBE_MARK_MASQ} `))];
  const ahead = new Set<string>();
  // Each creating transaction: its chain lines, then its rules (iptables-restore wants them in that order).
  const batches: { decl: string[]; rules: string[] }[] = [];
  let cur = { decl: [] as string[], rules: [] as string[] };
  let curChains = 0;
  for (const part of r.serviceParts) {
    const fresh = part.chainLines.filter((l) => !existing.has(chainOf(l)!));
    if (fresh.length === 0) continue;
    const names = new Set(fresh.map((l) => chainOf(l)!));
    if (curChains > 0 && curChains + names.size > maxChains) {
      batches.push(cur);
      cur = { decl: [], rules: [] };
      curChains = 0;
    }
    for (const l of fresh) cur.decl.push(l);
    for (const l of part.ruleLines) if (names.has(chainOf(l)!)) cur.rules.push(l);
    curChains += names.size;
    for (const n of names) ahead.add(n);
  }
  if (curChains > 0) batches.push(cur);
  if (ahead.size === 0) return { text: orderJumps(lines).join('\n'), creatingBatches: 0, createdAhead: 0 };
  const out: string[] = [];
  for (const b of batches) out.push('*nat', ...markMasq, ...b.decl, ...b.rules, 'COMMIT');
  const final: string[] = [];
  for (const l of lines) {
    const c = chainOf(l);
    if (c !== undefined && ahead.has(c)) continue;
    final.push(l);
  }
  for (const l of orderJumps(final)) out.push(l);
  return { text: out.join('\n'), creatingBatches: batches.length, createdAhead: ahead.size };
}
