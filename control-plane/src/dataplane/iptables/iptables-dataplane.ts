// The iptables back end: programs what kube-proxy's iptables mode programs,
// with its sync discipline. A full sync ensures the jumps from the built-in
// chains and writes every chain; other syncs write the top-level chains and
// only the chains of service ports whose rendering changed; stale service
// chains are flushed and deleted in the same iptables-restore --noflush (in
// large clusters only at the periodic cleanup scan, as kube-proxy does). The
// first sync, the first after a failure, the first after a lost canary and
// every fullSyncEvery-th / fullSyncPeriodMs are full.
//
// On nft, chains that do not exist yet are created ahead in bounded
// transactions (restore-batches.ts); a restore has no fixed timeout: it is
// reported while it runs and killed only when it stops making progress.
//
// One instance programs one IP family, as each of kube-proxy's per-family
// proxiers does: IPv4 through iptables, IPv6 through ip6tables (same back
// end, legacy or nft, for both). A dual-stack agent runs one per family, each
// synced with that family's desired state.
import { staleUdpDeletions } from './stale-udp.js';
import type { Dataplane, SyncOutcome } from '../dataplane.js';
import type { DesiredServicePort } from '../desired-state.js';
import { isIPv4 } from '../../util/ipv4.js';
import { parseAddress, type IPFamily } from '../../util/ip.js';
import { detectBackend, type BackendChoice } from './backend-detect.js';
import { CanaryMonitor } from './canary.js';
import { cleanupAll, type CleanupReport } from './cleanup.js';
import { JUMP_CHAINS, KUBELET_JUMP_CHAINS, jumpRuleArgs } from './jump-chains.js';
import { nodePortAddresses } from './node-port-addresses.js';
import { LARGE_CLUSTER_ENDPOINTS_THRESHOLD, RenderCache, renderIptables, type IptablesNodeConfig, type RenderResult } from './render.js';
import { IptablesRunner, chainsByTable, commandExec, type Exec, type IptablesBackend, type RunningCommand } from './runner.js';
import { DEFAULT_BATCH_CHAINS, planRestore } from './restore-batches.js';
import { isServiceChainName } from './chain-names.js';

/** kube-proxy's proxyutil.FullSyncPeriod. */
export const DEFAULT_FULL_SYNC_PERIOD_MS = 60 * 60 * 1000;

export interface IptablesDataplaneOptions {
  /** The node and kube-proxy's flags (nodeIPs, clusterCIDR, masqueradeAll, masqueradeBit, nodePortAddresses, ...). */
  node: IptablesNodeConfig;
  /** The family programmed: IPv4 (iptables, the default) or IPv6 (ip6tables); wins over node.family. */
  family?: IPFamily;
  /**
   * --iptables-backend legacy|nft|auto (default auto: the mode kubelet uses,
   * as kube-proxy's image picks it). A second family's instance should be
   * given the first one's decision, so that both families use one back end.
   */
  backend?: BackendChoice;
  /** Prepended to every command, e.g. ['ip', 'netns', 'exec', NS]; default none (current namespace). */
  commandPrefix?: string[];
  /** Runs the commands (wins over commandPrefix); for tests. */
  exec?: Exec;
  /** Every N-th sync is full (0: only by period or when forced). Default 0. */
  fullSyncEvery?: number;
  /** A sync this long after the last full one is full. Default 1 h (kube-proxy's FullSyncPeriod). */
  fullSyncPeriodMs?: number;
  /** Canary check period; also how often large clusters look for stale chains. Default 30 s (kube-proxy's syncPeriod). */
  syncPeriodMs?: number;
  /** Start the periodic canary check in init(). Default true. */
  canaryMonitor?: boolean;
  /** Set net.ipv4.conf.all.route_localnet=1 when localhost NodePorts are on, as kube-proxy does. Default true. */
  manageSysctls?: boolean;
  /** Probe iptables' version (--random-fully), nf_conntrack_tcp_be_liberal and nfacct in init(). Default true. */
  detectHostFeatures?: boolean;
  /** Called after a lost canary made the next sync full (wire to the sync loop's requestSync()). */
  onFullSyncNeeded?: () => void;
  /** iptables -w seconds (default 5). */
  waitSeconds?: number;
  /** A command (iptables-restore above all) is killed only after making no progress this long. Default 60 s. */
  stallMs?: number;
  /** How often a running command is looked at and reported. Default 5 s. */
  checkEveryMs?: number;
  /** Called at each look at a command still running (log it; the dataplane counts it). */
  onCommandRunning?: (r: RunningCommand) => void;
  /** New chains per creating transaction on nft (0: one restore as kube-proxy writes it). Default 250; legacy never splits. */
  restoreBatchChains?: number;
}

export interface SyncRecordIptables {
  full: boolean;
  writtenServices: string[];
  skippedServices: string[];
  deletedChains: string[];
}

export class IptablesDataplane implements Dataplane {
  readonly mode = 'iptables' as const;
  readonly family: IPFamily;
  /** Chains are diffed per ServicePort but rendered from the whole desired list; the kernel's conntrack is the kernel's. */
  readonly capabilities: { readonly partialSync: false; readonly conntrackGC: false; readonly ipFamilies: readonly IPFamily[] };
  private readonly exec: Exec;
  private runnerInstance: IptablesRunner | undefined;
  private readonly canary: CanaryMonitor;
  private node: IptablesNodeConfig;
  private hostFeatures: Pick<IptablesNodeConfig, 'randomFully' | 'conntrackTCPLiberal' | 'nfacct'> = {};
  private needFullSync = true;
  private lastFullSync = 0;
  private syncsSinceFull = 0;
  private lastCleanupScan = 0;
  private hashes = new Map<string, string>();
  private active = new Set<string>();
  /** Unchanged service ports' lines from the last render (render.ts RenderCache). */
  readonly renderCache = new RenderCache();
  private topLevelHash: string | undefined;
  /** Our service chains believed to be in the nat table (undefined: unknown, look with iptables-save). */
  private kernelChains: Set<string> | undefined;
  /** The command running now, at its last look (undefined: none running for longer than one look). */
  running: RunningCommand | undefined;
  /** Looks at commands still running (each one a report). */
  runningReports = 0;
  /** Creating transactions and chains of the last restore (restore-batches.ts). */
  lastRestorePlan: { creatingBatches: number; createdAhead: number } | undefined;
  /** The back end in use and why (after init). */
  backend: IptablesBackend | undefined;
  backendReason = '';
  /** The iptables-restore input of the last sync attempt. */
  lastRestoreInput: string | undefined;
  /** What the last successful sync did. */
  lastSync: SyncRecordIptables | undefined;
  /** The last render (for tests and debugging). */
  lastRender: RenderResult | undefined;
  syncCount = 0;

  private backendChoice: BackendChoice;

  constructor(private readonly opts: IptablesDataplaneOptions) {
    this.backendChoice = opts.backend ?? 'auto';
    this.exec = opts.exec ?? commandExec(opts.commandPrefix ?? [], {
      ...(opts.stallMs !== undefined ? { stallMs: opts.stallMs } : {}),
      ...(opts.checkEveryMs !== undefined ? { checkEveryMs: opts.checkEveryMs } : {}),
      onRunning: (r) => {
        this.running = r;
        this.runningReports++;
        opts.onCommandRunning?.(r);
      },
    });
    this.family = opts.family ?? opts.node.family ?? 'IPv4';
    // The proxier hands this back end its own family's ports only.
    this.capabilities = { partialSync: false, conntrackGC: false, ipFamilies: [this.family] };
    this.node = { ...opts.node, family: this.family };
    this.canary = new CanaryMonitor(() => this.runner, () => {
      this.needFullSync = true;
      opts.onFullSyncNeeded?.();
    }, { intervalMs: opts.syncPeriodMs ?? 30_000 });
  }

  get runner(): IptablesRunner {
    if (!this.runnerInstance) throw new Error('iptables back end used before init()');
    return this.runnerInstance;
  }

  /**
   * Uses this back end (legacy or nft) instead of detecting one: a second
   * family's instance takes the first one's decision. Only before init().
   */
  useBackend(backend: IptablesBackend, reason: string): void {
    if (this.runnerInstance) {
      if (this.runnerInstance.backend !== backend) throw new Error(`iptables back end already ${this.runnerInstance.backend}, cannot switch to ${backend}`);
      return;
    }
    this.backendChoice = backend;
    this.backendReason = reason;
  }

  /** Updates node facts learnt later (e.g. the node IP from the Node object); the next sync is full. */
  setNodeConfig(patch: Partial<IptablesNodeConfig>): void {
    this.node = { ...this.node, ...patch, family: this.family };
    this.needFullSync = true;
  }

  async init(): Promise<void> {
    if (!this.runnerInstance) {
      const decision = await detectBackend(this.exec, this.backendChoice);
      const runner = new IptablesRunner(decision.backend, this.exec, { waitSeconds: this.opts.waitSeconds ?? 5, family: this.family });
      await runner.version(); // throws when the programs are missing
      this.runnerInstance = runner;
      this.backend = decision.backend;
      if (this.backendChoice === 'auto' || !this.backendReason) this.backendReason = decision.reason;
    }
    if (this.opts.detectHostFeatures ?? true) await this.detectHostFeatures();
    if ((this.opts.manageSysctls ?? true) && this.localhostNodePorts()) {
      await this.ensureSysctl('net.ipv4.conf.all.route_localnet', '1');
    }
    await this.canary.ensure();
    if (this.opts.canaryMonitor ?? true) this.canary.start();
    this.needFullSync = true;
  }

  /** This family's node IP (the first of nodeIPs in the family). */
  private nodeIP(): string | undefined {
    return this.family === 'IPv4' ? this.node.nodeIPs.find(isIPv4) : this.node.nodeIPs.find((ip) => parseAddress(ip)?.family === 'IPv6');
  }

  private localhostNodePorts(): boolean {
    const npa = nodePortAddresses(this.node.nodePortAddresses, this.nodeIP(), this.family);
    return (this.node.localhostNodePorts ?? true) && npa.containsIPv4Loopback;
  }

  private async ensureSysctl(name: string, value: string): Promise<void> {
    const cur = await this.exec(['sysctl', '-n', name]);
    if (cur.code === 0 && cur.stdout.trim() === value) return;
    const r = await this.exec(['sysctl', '-w', `${name}=${value}`]);
    if (r.code !== 0) throw new Error(`cannot set sysctl ${name}=${value}: ${r.stderr.trim()}`);
  }

  private async detectHostFeatures(): Promise<void> {
    const randomFully = await this.runner.hasRandomFully().catch(() => false);
    const liberal = await this.exec(['sysctl', '-n', 'net.netfilter.nf_conntrack_tcp_be_liberal']);
    const conntrackTCPLiberal = liberal.code === 0 && liberal.stdout.trim() !== '' && liberal.stdout.trim() !== '0';
    const nfact = async (name: string): Promise<boolean> => {
      const get = await this.exec(['nfacct', 'get', name]);
      if (get.code === 0) return true;
      if (get.code === 127) return false; // no nfacct program
      return (await this.exec(['nfacct', 'add', name])).code === 0;
    };
    const ctStateInvalidDropped = await nfact('ct_state_invalid_dropped_pkts');
    const localhostNodePortsAccepted = await nfact('localhost_nps_accepted_pkts');
    this.hostFeatures = { randomFully, conntrackTCPLiberal, nfacct: { ctStateInvalidDropped, localhostNodePortsAccepted } };
  }

  /** The next sync writes everything and re-ensures the jumps. */
  requestFullSync(): void {
    this.needFullSync = true;
  }

  /** One canary look (the periodic monitor calls this too); true when it was lost. */
  checkCanary(): Promise<boolean> {
    return this.canary.check();
  }

  get canaryLosses(): number {
    return this.canary.losses;
  }

  private async ensureJumps(): Promise<void> {
    for (const j of [...JUMP_CHAINS, ...KUBELET_JUMP_CHAINS]) {
      await this.runner.ensureChain(j.table, j.dstChain);
      await this.runner.ensureRule('prepend', j.table, j.srcChain, jumpRuleArgs(j));
    }
  }

  /** The node's interface addresses of the family (for --nodeport-addresses CIDRs). */
  private async localAddresses(): Promise<string[] | undefined> {
    const npa = nodePortAddresses(this.node.nodePortAddresses, this.nodeIP(), this.family);
    if (npa.matchAll || this.node.localAddresses) return this.node.localAddresses;
    if (this.family === 'IPv6') {
      const r = await this.exec(['ip', '-6', '-o', 'addr', 'show']);
      if (r.code !== 0) return undefined;
      return [...r.stdout.matchAll(/\binet6 ([0-9a-fA-F:.]+)\//g)].map((m) => parseAddress(m[1]!)?.text).filter((a): a is string => a !== undefined);
    }
    const r = await this.exec(['ip', '-4', '-o', 'addr', 'show']);
    if (r.code !== 0) return undefined;
    return [...r.stdout.matchAll(/\binet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]!);
  }

  private previousDesired: DesiredServicePort[] = [];
  /** conntrack -D runs that failed (tool missing or error); the rules are still right. */
  conntrackErrors = 0;

  private async clearStaleUdp(all: DesiredServicePort[]): Promise<void> {
    const desired = all.filter((d) => (d.svc.family ?? 'IPv4') === this.family);
    const deletions = staleUdpDeletions(this.previousDesired, desired);
    this.previousDesired = desired;
    for (const d of deletions) {
      // conntrack exits 1 when nothing matched: not an error.
      const r = await this.exec(['conntrack', '-D', ...d.args]).catch((err: unknown) => ({ code: -1, stdout: '', stderr: String(err) }));
      if (r.code !== 0 && r.code !== 1) this.conntrackErrors++;
    }
  }

  async sync(desired: DesiredServicePort[]): Promise<SyncOutcome> {
    if (!this.runnerInstance) await this.init();
    const runner = this.runner;
    const now = Date.now();
    const every = this.opts.fullSyncEvery ?? 0;
    const full = this.needFullSync
      || (every > 0 && this.syncsSinceFull + 1 >= every)
      || now - this.lastFullSync > (this.opts.fullSyncPeriodMs ?? DEFAULT_FULL_SYNC_PERIOD_MS);
    this.syncCount++;
    try {
      if (full) await this.ensureJumps();
      let totalEndpoints = 0;
      for (const d of desired) if ((d.svc.family ?? 'IPv4') === this.family) totalEndpoints += d.allEndpoints.length;
      const large = totalEndpoints > LARGE_CLUSTER_ENDPOINTS_THRESHOLD;
      let existing: Set<string> | undefined;
      const batchChains = runner.backend === 'nft' ? (this.opts.restoreBatchChains ?? DEFAULT_BATCH_CHAINS) : 0;
      // Splitting needs to know which chains exist: look when that is unknown.
      if (!large || now - this.lastCleanupScan > (this.opts.syncPeriodMs ?? 30_000) || (batchChains > 0 && !this.kernelChains)) {
        try {
          existing = chainsByTable(await runner.save('nat')).get('nat') ?? new Set();
          this.lastCleanupScan = now;
          this.kernelChains = new Set([...existing].filter(isServiceChainName));
        } catch {
          existing = undefined; // as kube-proxy: stale chains wait for a later sync
        }
      }
      const localAddresses = await this.localAddresses();
      const cfg: IptablesNodeConfig = {
        ...this.hostFeatures, ...this.node,
        ...(localAddresses ? { localAddresses } : {}),
      };
      const r = renderIptables(desired, cfg, {
        full,
        ...(full ? {} : { previousHashes: this.hashes }),
        ...(existing ? { existingNatChains: existing } : {}),
        // Large clusters delete stale chains only at the periodic scan, as kube-proxy does.
        ...(large ? {} : { previousActiveNatChains: this.active }),
        cache: this.renderCache,
      });
      this.lastRender = r;
      const plan = planRestore(r, batchChains > 0 ? this.kernelChains : undefined, batchChains);
      this.lastRestorePlan = { creatingBatches: plan.creatingBatches, createdAhead: plan.createdAhead };
      this.lastRestoreInput = plan.text;
      try {
        await runner.restore(plan.text, { noflush: true, counters: true });
      } finally {
        this.running = undefined;
      }
      if (this.kernelChains) {
        for (const c of r.activeNatChains) this.kernelChains.add(c);
        for (const c of r.deletedChains) this.kernelChains.delete(c);
      }

      const topChanged = r.topLevelHash !== this.topLevelHash;
      const changes = full
        ? r.counts.filterRules + r.counts.natRules
        : r.serviceRuleLines + r.deletedChains.length + (topChanged ? r.counts.filterRules + r.counts.natRules - r.serviceRuleLines - r.deletedChains.length : 0);
      this.hashes = r.serviceHashes;
      this.active = r.activeNatChains;
      this.topLevelHash = r.topLevelHash;
      this.needFullSync = false;
      if (full) {
        this.lastFullSync = now;
        this.syncsSinceFull = 0;
      } else this.syncsSinceFull++;
      this.lastSync = { full, writtenServices: r.writtenServices, skippedServices: r.skippedServices, deletedChains: r.deletedChains };
      await this.clearStaleUdp(desired);
      return {
        changes,
        detail: {
          full: full ? 1 : 0,
          servicePorts: desired.length - r.otherFamilyPorts,
          // Ports of the other family handed to this family's back end are left out, and counted.
          ...(r.otherFamilyPorts > 0 ? { otherFamilyPorts: r.otherFamilyPorts } : {}),
          writtenServices: r.writtenServices.length,
          skippedServices: r.skippedServices.length,
          deletedChains: r.deletedChains.length,
          natRules: r.counts.natRules,
          filterRules: r.counts.filterRules,
        },
      };
    } catch (err) {
      // What is programmed is unknown now: rewrite everything next time.
      this.needFullSync = true;
      this.kernelChains = undefined;
      throw err;
    }
  }

  /** Stops the canary monitor; the rules stay. */
  async close(): Promise<void> {
    this.canary.stop();
  }

  /** Removes every chain and jump this back end owns in its family, in both legacy and nft, in the current namespace. */
  async cleanup(): Promise<CleanupReport[]> {
    this.canary.stop();
    const reports = await cleanupAll(this.exec, { waitSeconds: this.opts.waitSeconds ?? 5, families: [this.family] });
    this.hashes = new Map();
    this.active = new Set();
    this.topLevelHash = undefined;
    this.kernelChains = undefined;
    this.needFullSync = true;
    return reports;
  }
}
