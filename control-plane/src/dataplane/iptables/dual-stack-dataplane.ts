// The iptables back end of a dual-stack node: one IptablesDataplane per
// family (iptables for IPv4, ip6tables for IPv6), as kube-proxy's
// meta-proxier runs one single-stack proxier per family. The proxier hands
// it the ports of both families, each marked by svc.family; each family's
// back end renders and restores its own, keeps its own canary, chain hashes
// and stale-UDP cleanup. Both use the back end (legacy or nft) chosen for
// the first family. The admin API reads the first family's rules.
import type { Dataplane, SyncOutcome } from '../dataplane.js';
import type { DesiredServicePort } from '../desired-state.js';
import type { IPFamily } from '../../util/ip.js';
import type { IptablesDataplane } from './iptables-dataplane.js';

export class DualStackIptablesDataplane implements Dataplane {
  readonly mode = 'iptables' as const;
  readonly capabilities: { readonly partialSync: false; readonly conntrackGC: false; readonly ipFamilies: readonly IPFamily[] };
  private readonly primary: IptablesDataplane;

  /** `families`: one back end per family, the first one's legacy/nft choice taken by the others. */
  constructor(readonly families: ReadonlyMap<IPFamily, IptablesDataplane>) {
    const first = [...families.values()][0];
    if (!first) throw new Error('a dual-stack iptables back end needs at least one family');
    this.primary = first;
    this.capabilities = { partialSync: false, conntrackGC: false, ipFamilies: [...families.keys()] };
  }

  async init(): Promise<void> {
    await this.primary.init();
    for (const dp of this.families.values()) {
      if (dp === this.primary) continue;
      dp.useBackend(this.primary.backend!, `${this.primary.backendReason} (as the ${this.primary.family} family)`);
      await dp.init();
    }
  }

  /**
   * Syncs every family with its own ports; a family that fails does not stop
   * the other. Throws (naming the families) when any failed: the proxier
   * then retries, and the family that succeeded rewrites only what changed.
   */
  async sync(desired: DesiredServicePort[]): Promise<SyncOutcome> {
    const byFamily = new Map<IPFamily, DesiredServicePort[]>([...this.families.keys()].map((f) => [f, []]));
    let otherFamilyPorts = 0;
    for (const d of desired) {
      const l = byFamily.get(d.svc.family ?? 'IPv4');
      if (l) l.push(d);
      else otherFamilyPorts++;
    }
    let changes = 0;
    const detail: Record<string, number> = {};
    const errors: string[] = [];
    for (const [family, dp] of this.families) {
      try {
        const out = await dp.sync(byFamily.get(family)!);
        changes += out.changes;
        for (const [k, v] of Object.entries(out.detail)) detail[k] = k === 'full' ? Math.max(detail[k] ?? 0, v) : (detail[k] ?? 0) + v;
      } catch (err) {
        errors.push(`${family}: ${(err as Error).message}`);
      }
    }
    if (errors.length > 0) throw new Error(`iptables sync failed for ${errors.join('; ')}`);
    if (otherFamilyPorts > 0) detail.otherFamilyPorts = (detail.otherFamilyPorts ?? 0) + otherFamilyPorts;
    return { changes, detail };
  }

  async close(): Promise<void> {
    for (const dp of this.families.values()) await dp.close();
  }

  /** Every family's back end writes everything at its next sync. */
  requestFullSync(): void {
    for (const dp of this.families.values()) dp.requestFullSync();
  }

  // What the admin API reads (agent-admin.ts backendViews): the first family's.
  get backend() { return this.primary.backend; }
  get runner() { return this.primary.runner; }
  get lastRestoreInput() { return this.primary.lastRestoreInput; }
  get lastRender() { return this.primary.lastRender; }
}
