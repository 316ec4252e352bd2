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
// deletions, exactly as kube-proxy's single restore does it. The rule layout,
// rule text and order are unchanged.
import { KUBE_MARK_MASQ } from './chain-names.js';
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
  if (line.startsWith(':')) return line.slice(1).split(' ')[0];
  if (line.startsWith('-A ')) return line.split(' ')[1];
  return undefined;
}

/**
 * Splits the rendered input. `existing`: the service chains believed to be in
 * the nat table now (undefined: unknown, then nothing is split off, which is
 * always correct).
 */
export function planRestore(r: Pick<RenderResult, 'text' | 'serviceParts'>, existing: ReadonlySet<string> | undefined,
  maxChains = DEFAULT_BATCH_CHAINS): RestorePlan {
  if (!existing || maxChains <= 0) return { text: r.text, creatingBatches: 0, createdAhead: 0 };
  const lines = r.text.split('\n');
  // The service chains jump to KUBE-MARK-MASQ: each creating transaction
  // writes it whole (the same one rule), so it exists whatever ran before.
  const markMasq = [`:${KUBE_MARK_MASQ} - [0:0]`, ...lines.filter((l) => l.startsWith(`-A ${KUBE_MARK_MASQ} `))];
  const ahead = new Set<string>();
  const batches: string[][] = [];
  let cur: string[] = [];
  let curChains = 0;
  for (const part of r.serviceParts) {
    const fresh = part.chainLines.filter((l) => !existing.has(chainOf(l)!));
    if (fresh.length === 0) continue;
    const names = new Set(fresh.map((l) => chainOf(l)!));
    if (curChains > 0 && curChains + names.size > maxChains) {
      batches.push(cur);
      cur = [];
      curChains = 0;
    }
    cur.push(...fresh, ...part.ruleLines.filter((l) => names.has(chainOf(l)!)));
    curChains += names.size;
    for (const n of names) ahead.add(n);
  }
  if (curChains > 0) batches.push(cur);
  if (ahead.size === 0) return { text: r.text, creatingBatches: 0, createdAhead: 0 };
  const out: string[] = [];
  for (const b of batches) {
    // Chain lines before rules, as iptables-restore wants them.
    const decl = b.filter((l) => l.startsWith(':'));
    const rules = b.filter((l) => !l.startsWith(':'));
    out.push('*nat', ...markMasq, ...decl, ...rules, 'COMMIT');
  }
  for (const l of lines) {
    const c = chainOf(l);
    if (c !== undefined && ahead.has(c)) continue;
    out.push(l);
  }
  return { text: out.join('\n'), creatingBatches: batches.length, createdAhead: ahead.size };
}
