// The sync loop: informer events mark the proxy dirty, one sync at a time
// computes the whole desired state and hands it to the back end. Bursts of
// events coalesce into one sync; failures retry with backoff; a periodic full
// sync re-reads what is programmed so drift is repaired.
import type { Logger } from 'pino';
import type { Dataplane } from '../dataplane/dataplane.js';
import { computeDesiredState, type DesiredServicePort } from '../dataplane/desired-state.js';
import type { NodeTopology } from '../model/endpoint-selection.js';
import type { EndpointSliceCache } from '../model/endpoint-slice-cache.js';
import type { ServiceTracker } from '../model/service-tracker.js';

export interface ProxierOptions {
  /** Minimum time between two syncs (kube-proxy's minSyncPeriod), ms. */
  minSyncPeriodMs: number;
  /** Period of full syncs (kube-proxy's syncPeriod), ms. */
  syncPeriodMs: number;
}

export interface SyncRecord {
  at: number;
  durationMs: number;
  changes: number;
  ok: boolean;
  error?: string;
}

export class Proxier {
  private dirty = false;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private periodic: NodeJS.Timeout | undefined;
  private lastSyncStart = 0;
  private backoffMs = 0;
  private started = false;
  /** Time (ms) of the oldest change not yet programmed, or 0. */
  oldestPendingChange = 0;
  lastSuccess = 0;
  lastError: string | undefined;
  syncCount = 0;
  lastDesired: DesiredServicePort[] = [];
  readonly history: SyncRecord[] = [];
  private readonly waiters: Array<() => void> = [];
  /** Called after each sync with its record (metrics). */
  onSync: ((r: SyncRecord, pendingSince: number) => void) | undefined;

  constructor(
    private readonly services: ServiceTracker,
    private readonly endpoints: EndpointSliceCache,
    private readonly dataplane: Dataplane,
    private readonly node: () => NodeTopology,
    private readonly opts: ProxierOptions,
    private readonly log: Logger,
  ) {}

  /** Starts syncing; call once the informers' caches are warm. */
  start(): void {
    this.started = true;
    this.requestSync();
    this.periodic = setInterval(() => this.requestSync(true), this.opts.syncPeriodMs);
    this.periodic.unref();
  }

  stop(): void {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.periodic) clearInterval(this.periodic);
  }

  private fullResyncWanted = false;

  /** Marks state dirty; a sync follows as soon as minSyncPeriod allows. */
  requestSync(full = false): void {
    if (full) this.fullResyncWanted = true;
    if (!this.oldestPendingChange) this.oldestPendingChange = Date.now();
    this.dirty = true;
    this.schedule();
  }

  private schedule(): void {
    if (!this.started || this.running || this.timer) return;
    const wait = Math.max(0, this.lastSyncStart + this.opts.minSyncPeriodMs - Date.now(), this.backoffMs);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.syncNow();
    }, wait);
  }

  /** Resolves after the next sync that starts after this call completes. */
  waitForSync(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private async syncNow(): Promise<void> {
    if (this.running || !this.dirty) return;
    this.running = true;
    this.dirty = false;
    const pendingSince = this.oldestPendingChange;
    this.oldestPendingChange = 0;
    const waiters = this.waiters.splice(0);
    const start = Date.now();
    this.lastSyncStart = start;
    const rec: SyncRecord = { at: start, durationMs: 0, changes: 0, ok: false };
    try {
      if (this.fullResyncWanted) {
        this.fullResyncWanted = false;
        await this.dataplane.restore?.();
      }
      const desired = computeDesiredState(this.services.servicePorts(), this.endpoints.allEndpoints(), this.node());
      const out = await this.dataplane.sync(desired);
      this.lastDesired = desired;
      rec.ok = true;
      rec.changes = out.changes;
      this.lastSuccess = Date.now();
      this.lastError = undefined;
      this.backoffMs = 0;
      this.syncCount++;
      if (out.changes > 0) this.log.info({ changes: out.changes, ...out.detail, ms: Date.now() - start }, 'synced');
    } catch (err) {
      rec.error = (err as Error).message;
      this.lastError = rec.error;
      this.backoffMs = Math.min(this.backoffMs ? this.backoffMs * 2 : 250, 10_000);
      this.dirty = true;
      if (!this.oldestPendingChange) this.oldestPendingChange = pendingSince || start;
      this.log.error({ err: rec.error, retryInMs: this.backoffMs }, 'sync failed');
    } finally {
      rec.durationMs = Date.now() - start;
      this.history.push(rec);
      if (this.history.length > 500) this.history.shift();
      this.running = false;
      this.onSync?.(rec, pendingSince);
      if (rec.ok) for (const w of waiters) w();
      else this.waiters.push(...waiters);
      if (this.dirty) this.schedule();
    }
  }
}
