// Removes everything the iptables back end owns from one or both back ends
// (legacy and nft) and both families (iptables, ip6tables) of the current
// network namespace: the jumps from built-in
// chains into KUBE-* chains, then the chains themselves (flushed and deleted
// in one iptables-restore --noflush per table; on nft in bounded transactions,
// cleanupInput). Like kube-proxy's
// CleanupLeftovers, but complete: it also takes KUBE-PROXY-FIREWALL,
// KUBE-MARK-MASQ, KUBE-FIREWALL and the canaries, except that KUBE-FIREWALL
// and KUBE-MARK-MASQ stay when kubelet's chains show kubelet shares them.
import {
  KUBE_EXTERNAL_SERVICES, KUBE_FIREWALL, KUBE_FORWARD, KUBE_MARK_MASQ, KUBE_NODEPORTS, KUBE_POSTROUTING,
  KUBE_PROXY_CANARY, KUBE_PROXY_FIREWALL, KUBE_SERVICES, isServiceChainName, type Table,
} from './chain-names.js';
import { DEFAULT_BATCH_CHAINS } from './restore-batches.js';
import { IptablesRunner, type Exec, type IptablesBackend, type RunnerOptions } from './runner.js';
import type { IPFamily } from '../../util/ip.js';

export const OWNED_FIXED_CHAINS: Readonly<Record<Table, readonly string[]>> = {
  filter: [KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL, KUBE_FIREWALL, KUBE_PROXY_CANARY],
  nat: [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ, KUBE_PROXY_CANARY],
  mangle: [KUBE_PROXY_CANARY],
};

/** Chains kubelet creates too; left alone when kubelet is around. */
const SHARED_WITH_KUBELET = new Set([KUBE_FIREWALL, KUBE_MARK_MASQ]);
const KUBELET_MARKERS = ['KUBE-KUBELET-CANARY', 'KUBE-IPTABLES-HINT'];

export interface CleanupReport {
  backend: IptablesBackend;
  family: IPFamily;
  /** "table/chain" of every chain deleted. */
  deletedChains: string[];
  /** Jump rules removed from chains that stay. */
  deletedRules: number;
  /** "table/chain" left in place, with why. */
  kept: string[];
}

interface SavedTable {
  chains: Map<string, { builtin: boolean; rules: string[] }>;
}

/** Parses iptables-save output into tables → chains → their "-A" lines in order. */
export function parseSave(save: string): Map<string, SavedTable> {
  const tables = new Map<string, SavedTable>();
  let cur: SavedTable | undefined;
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) {
      cur = { chains: new Map() };
      tables.set(line.slice(1).trim(), cur);
    } else if (line.startsWith(':') && cur) {
      const [name, policy] = line.slice(1).split(' ');
      if (name) cur.chains.set(name, { builtin: policy !== undefined && policy !== '-', rules: [] });
    } else if (line.startsWith('-A ') && cur) {
      const name = line.split(' ')[1];
      if (name) cur.chains.get(name)?.rules.push(line);
    }
  }
  return tables;
}

/** Splits an iptables-save rule line into arguments ("..." quoting with backslash escapes, as xtables prints). */
export function splitSaveLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '\\' && i + 1 < line.length) cur += line[++i];
      else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') {
      quoted = true;
      inWord = true;
    } else if (ch === ' ' || ch === '\t') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

/** The -j / -g target of a saved rule. */
export function ruleTarget(rule: string): string | undefined {
  const m = / -[jg] (\S+)/.exec(rule);
  return m?.[1];
}

/**
 * The iptables-restore --noflush input that flushes and deletes `names` (our
 * chains of one table; the built-in chains' jumps into them already gone).
 *
 * Legacy: one transaction (a legacy transaction rewrites the whole table, so
 * more would cost the table each time). nft: one transaction naming every
 * chain is quadratic in the chain count (restore-batches.ts: 330,000 chains at
 * 30,000 Services x 10 took over two minutes), so it is split into
 * transactions naming at most `maxChains` chains each, in an order in which
 * every step is valid: flush the fixed chains (KUBE-SERVICES & co., which jump
 * to the service chains), flush the service chains, delete them (nothing jumps
 * to them any more), then delete the fixed chains (the service chains jumped
 * to KUBE-MARK-MASQ). A packet meanwhile finds the Services gone, as with the
 * single transaction, only some transactions earlier.
 */
export function cleanupInput(table: Table, names: readonly string[], backend: IptablesBackend, maxChains = DEFAULT_BATCH_CHAINS): string {
  const sorted = [...names].sort();
  const tx = (lines: string[]): string[] => [`*${table}`, ...lines, 'COMMIT'];
  if (backend === 'legacy' || maxChains <= 0 || sorted.length <= maxChains) {
    return [...tx([...sorted.map((c) => `:${c} - [0:0]`), ...sorted.map((c) => `-X ${c}`)]), ''].join('\n');
  }
  const fixed = sorted.filter((c) => !isServiceChainName(c));
  const service = sorted.filter((c) => isServiceChainName(c));
  const batches = (xs: string[]): string[][] => Array.from({ length: Math.ceil(xs.length / maxChains) }, (_, i) => xs.slice(i * maxChains, (i + 1) * maxChains));
  const out: string[] = [];
  for (const b of batches(fixed)) out.push(...tx(b.map((c) => `:${c} - [0:0]`)));
  for (const b of batches(service)) out.push(...tx(b.map((c) => `:${c} - [0:0]`)));
  for (const b of batches(service)) out.push(...tx(b.map((c) => `-X ${c}`)));
  for (const b of batches(fixed)) out.push(...tx(b.map((c) => `-X ${c}`)));
  return [...out, ''].join('\n');
}

export async function cleanupBackend(runner: IptablesRunner, maxChains = DEFAULT_BATCH_CHAINS): Promise<CleanupReport> {
  const report: CleanupReport = { backend: runner.backend, family: runner.family, deletedChains: [], deletedRules: 0, kept: [] };
  const tables = parseSave(await runner.save());
  const kubelet = [...tables.values()].some((t) => KUBELET_MARKERS.some((m) => t.chains.has(m)));
  for (const [tableName, table] of tables) {
    if (!(tableName in OWNED_FIXED_CHAINS)) continue;
    const tname = tableName as Table;
    const owned = new Set<string>();
    for (const name of table.chains.keys()) {
      const fixed = OWNED_FIXED_CHAINS[tname].includes(name);
      if (!fixed && !isServiceChainName(name)) continue;
      if (kubelet && SHARED_WITH_KUBELET.has(name)) {
        report.kept.push(`${tname}/${name} (kubelet's too)`);
        continue;
      }
      owned.add(name);
    }
    if (owned.size === 0) continue;
    // Chains that are not ours but jump into ours keep those chains alive.
    const pinned = new Set<string>();
    for (const [name, chain] of table.chains) {
      if (chain.builtin || owned.has(name)) continue;
      for (const r of chain.rules) {
        const t = ruleTarget(r);
        if (t && owned.has(t)) pinned.add(t);
      }
    }
    for (const p of pinned) {
      owned.delete(p);
      report.kept.push(`${tname}/${p} (still referenced by a chain that is not ours)`);
    }
    // Jumps from built-in chains, deleted by their exact rule spec (as kube-proxy's DeleteRule).
    for (const [name, chain] of table.chains) {
      if (!chain.builtin) continue;
      for (const r of chain.rules) {
        const t = ruleTarget(r);
        if (!t || !owned.has(t)) continue;
        await runner.run(['-t', tname, '-D', name, ...splitSaveLine(r).slice(2)]);
        report.deletedRules++;
      }
    }
    // Chains that jump to pinned chains are still ours to delete; flush all, then delete.
    const names = [...owned].sort();
    await runner.restore(cleanupInput(tname, names, runner.backend, maxChains), { noflush: true, counters: false });
    for (const c of names) report.deletedChains.push(`${tname}/${c}`);
  }
  return report;
}

/**
 * Cleans both back ends whose programs exist here, in each family of
 * `families` (default both: an agent that served IPv6 left ip6tables rules).
 */
export async function cleanupAll(exec: Exec, opts: RunnerOptions & { families?: readonly IPFamily[]; maxChains?: number } = {}): Promise<CleanupReport[]> {
  const out: CleanupReport[] = [];
  const errors: string[] = [];
  const { families, maxChains, ...runnerOpts } = opts;
  for (const family of families ?? (['IPv4', 'IPv6'] as const)) {
    for (const backend of ['legacy', 'nft'] as const) {
      const runner = new IptablesRunner(backend, exec, { ...runnerOpts, family });
      if (!(await runner.present())) continue;
      try {
        out.push(await cleanupBackend(runner, maxChains));
      } catch (err) {
        errors.push(`${runner.binary('iptables')}: ${(err as Error).message}`);
      }
    }
  }
  if (errors.length > 0) throw new Error(`iptables cleanup failed: ${errors.join('; ')}`);
  return out;
}
