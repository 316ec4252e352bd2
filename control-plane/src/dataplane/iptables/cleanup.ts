// Removes everything the iptables back end owns from one or both back ends
// (legacy and nft) and both families (iptables, ip6tables) of the current
// network namespace: the jumps from built-in
// chains into KUBE-* chains, then the chains themselves (flushed and deleted
// in one iptables-restore --noflush per table). Like kube-proxy's
// CleanupLeftovers, but complete: it also takes KUBE-PROXY-FIREWALL,
// KUBE-MARK-MASQ, KUBE-FIREWALL and the canaries, except that KUBE-FIREWALL
// and KUBE-MARK-MASQ stay when kubelet's chains show kubelet shares them.
import {
  KUBE_EXTERNAL_SERVICES, KUBE_FIREWALL, KUBE_FORWARD, KUBE_MARK_MASQ, KUBE_NODEPORTS, KUBE_POSTROUTING,
  KUBE_PROXY_CANARY, KUBE_PROXY_FIREWALL, KUBE_SERVICES, isServiceChainName, type Table,
} from './chain-names.js';
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

export async function cleanupBackend(runner: IptablesRunner): Promise<CleanupReport> {
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
    const input = [`*${tname}`, ...names.map((c) => `:${c} - [0:0]`), ...names.map((c) => `-X ${c}`), 'COMMIT', ''].join('\n');
    await runner.restore(input, { noflush: true, counters: false });
    for (const c of names) report.deletedChains.push(`${tname}/${c}`);
  }
  return report;
}

/**
 * Cleans both back ends whose programs exist here, in each family of
 * `families` (default both: an agent that served IPv6 left ip6tables rules).
 */
export async function cleanupAll(exec: Exec, opts: RunnerOptions & { families?: readonly IPFamily[] } = {}): Promise<CleanupReport[]> {
  const out: CleanupReport[] = [];
  const errors: string[] = [];
  const { families, ...runnerOpts } = opts;
  for (const family of families ?? (['IPv4', 'IPv6'] as const)) {
    for (const backend of ['legacy', 'nft'] as const) {
      const runner = new IptablesRunner(backend, exec, { ...runnerOpts, family });
      if (!(await runner.present())) continue;
      try {
        out.push(await cleanupBackend(runner));
      } catch (err) {
        errors.push(`${runner.binary('iptables')}: ${(err as Error).message}`);
      }
    }
  }
  if (errors.length > 0) throw new Error(`iptables cleanup failed: ${errors.join('; ')}`);
  return out;
}
