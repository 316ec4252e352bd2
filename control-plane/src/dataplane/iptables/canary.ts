// kube-proxy's iptables Monitor: an empty KUBE-PROXY-CANARY chain in the
// mangle, nat and filter tables. When something flushes iptables (a firewall
// reload, another tool's restore without --noflush) the canary disappears;
// the monitor then waits for the other tables' canaries to go too (the flush
// in progress), calls back so the next sync is a full one, and puts the
// canaries back.
import { KUBE_PROXY_CANARY, type Table } from './chain-names.js';
import type { IptablesRunner } from './runner.js';

export const CANARY_TABLES: readonly Table[] = ['mangle', 'nat', 'filter'];

export interface CanaryOptions {
  /** How often to look (kube-proxy: syncPeriod). */
  intervalMs: number;
  /** Waiting for the other tables' canaries: poll period and limit (kube-proxy: 100 ms, 5 s). */
  flushPollMs?: number;
  flushTimeoutMs?: number;
}

export class CanaryMonitor {
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  /** Number of times a lost canary was detected. */
  losses = 0;

  constructor(
    private readonly runner: () => IptablesRunner,
    private readonly onLost: () => void | Promise<void>,
    private readonly opts: CanaryOptions,
  ) {}

  /** Creates the canary chain in each table (EnsureChain). */
  async ensure(): Promise<void> {
    for (const t of CANARY_TABLES) await this.runner().ensureChain(t, KUBE_PROXY_CANARY);
  }

  /**
   * One look: false while the mangle canary is there (or iptables is busy);
   * otherwise waits for the flush to finish, calls onLost, recreates the
   * canaries and returns true.
   */
  async check(): Promise<boolean> {
    const r = this.runner();
    const first = CANARY_TABLES[0]!;
    if ((await r.chainStatus(first, KUBE_PROXY_CANARY)) !== 'absent') return false;
    const deadline = Date.now() + (this.opts.flushTimeoutMs ?? 5000);
    for (;;) {
      let others = false;
      for (const t of CANARY_TABLES.slice(1)) if ((await r.chainStatus(t, KUBE_PROXY_CANARY)) !== 'absent') others = true;
      if (!others || Date.now() >= deadline) break;
      await new Promise((res) => setTimeout(res, this.opts.flushPollMs ?? 100));
    }
    this.losses++;
    await this.onLost();
    await this.ensure();
    return true;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.checking) return;
      this.checking = true;
      void this.check().catch(() => undefined).finally(() => (this.checking = false));
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
