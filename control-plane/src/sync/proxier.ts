// The sync loop: informer events mark the proxy dirty, one sync at a time
// computes the whole desired state and hands it to the back end. Bursts of
// events coalesce into one sync; failures retry with backoff; a periodic full
// sync re-reads what is programmed so drift is repaired. A back end with a
// partial path and a drift check of its own gets the periodic pass in slices
// instead (see periodicResync): a change never waits behind it. A Service the back
// end refuses (a full map, an object the loader rejects) does not fail the
// sync: it is reported, retried alone with its own backoff, and every other
// Service keeps being programmed.
//
// IP families (kube-proxy's meta-proxier: one single-stack proxier per
// family): the desired state is computed once per served family, from that
// family's ServicePorts and endpoints, and a Service's ports of both families
// travel together (IPv4 first) in what the back end gets; each
// DesiredServicePort says its family (svc.family, absent for IPv4), so a back
// end that programs one table per family (iptables/ip6tables) splits them
// with desiredByFamily(). A back end names the families it can program
// (capabilities.ipFamilies, IPv4 when absent); the others are not computed.
import type { Logger } from 'pino';
import type { Dataplane } from '../dataplane/dataplane.js';
import { computeDesiredState, type DesiredServicePort } from '../dataplane/desired-state.js';
import type { NodeTopology } from '../model/endpoint-selection.js';
import type { EndpointSliceCache } from '../model/endpoint-slice-cache.js';
import type { ServiceTracker } from '../model/service-tracker.js';
import { serviceKeyOfPort, type ServiceKey } from '../model/service-key.js';
import type { IPFamily } from '../util/ip.js';
import { ms2 } from '../util/ms.js';
import { scratchChanges } from './warm-change-path.js';

export interface ProxierOptions {
  /** Minimum time between two syncs (kube-proxy's minSyncPeriod), ms. */
  minSyncPeriodMs: number;
  /** Period of full syncs (kube-proxy's syncPeriod), ms. */
  syncPeriodMs: number;
  /** The families to program, in order (default IPv4); those the back end cannot program are left out (logged). */
  ipFamilies?: readonly IPFamily[];
}

/** The families a proxier serves: the wanted ones the back end can program. */
export function servedFamilies(wanted: readonly IPFamily[] | undefined, dataplane: Pick<Dataplane, 'capabilities'>): IPFamily[] {
  const can: readonly IPFamily[] = dataplane.capabilities?.ipFamilies ?? ['IPv4'];
  return [...new Set(wanted && wanted.length > 0 ? wanted : ['IPv4' as const])].filter((f) => can.includes(f));
}

export interface SyncRecord {
  at: number;
  durationMs: number;
  changes: number;
  ok: boolean;
  error?: string;
  /** Services the back end refused in this sync. */
  refused?: number;
  refusedServices?: string[];
}

/** A Service the back end could not program, retried with backoff. */
export interface RefusedService {
  reason: string;
  /** First refusal (ms). */
  since: number;
  attempts: number;
  /** Next retry (ms). */
  retryAt: number;
}

/** A slice of the periodic resync aims at this long (ms): a change arriving meanwhile waits at most about that. */
export const RESYNC_SLICE_TARGET_MS = 2;
/** Bounds of a slice, in Services. */
export const RESYNC_SLICE_MIN = 8;
export const RESYNC_SLICE_MAX = 4096;
/** Services the slice after the first full sync recomputes (warmPartialPath). */
export const WARM_SERVICES = 64;

/** Backoff of a refused Service's retries: 1 s doubling to 60 s (the periodic full sync retries it too). */
export function refusedBackoffMs(attempts: number): number {
  return Math.min(1000 * 2 ** Math.max(0, attempts - 1), 60_000);
}

export class Proxier {
  private dirty = false;
  private running = false;
  /** The scheduled sync (a timer, or an immediate when nothing holds it back). */
  private timer: { cancel(): void } | undefined;
  private periodic: NodeJS.Timeout | undefined;
  private lastSyncStart = 0;
  private backoffMs = 0;
  private started = false;
  /** Time (ms) of the oldest change no sync has taken yet, or 0. */
  private queuedSince = 0;
  /** Time (ms) of the oldest change the running sync took, or 0: still pending until it succeeds. */
  private takenSince = 0;
  lastSuccess = 0;
  lastError: string | undefined;
  syncCount = 0;
  /** "ns/name" -> why the back end refused it; cleared once it is programmed or deleted. */
  readonly refused = new Map<ServiceKey, RefusedService>();
  private retryTimer: NodeJS.Timeout | undefined;
  /** A refused Service's retry is due: the next sync takes it even with no change. */
  private retryDue = false;
  private flatDesired: DesiredServicePort[] | undefined;

  /**
   * Time (ms) of the oldest change not yet programmed, or 0. A change a
   * running sync took stays pending until that sync succeeds (kube-proxy's
   * healthz clears it only on success), or a hung loader would read healthy
   * for as long as each retry hangs.
   */
  get oldestPendingChange(): number {
    const a = this.queuedSince, b = this.takenSince;
    return a && b ? Math.min(a, b) : a || b;
  }

  /** Every desired ServicePort, in no particular order (cheap: no sorting). */
  *desiredPorts(): Generator<DesiredServicePort> {
    for (const l of this.desiredByService.values()) yield* l;
  }

  /** The whole desired state of the last sync, Services in key order. */
  get lastDesired(): DesiredServicePort[] {
    if (!this.flatDesired) {
      const out: DesiredServicePort[] = [];
      for (const k of [...this.desiredByService.keys()].sort()) out.push(...this.desiredByService.get(k)!);
      this.flatDesired = out;
    }
    return this.flatDesired;
  }
  readonly history: SyncRecord[] = [];
  private readonly waiters: Array<() => void> = [];
  /** Called after each sync with its record (metrics). */
  onSync: ((r: SyncRecord, pendingSince: number) => void) | undefined;
  private readonly syncListeners: Array<(r: SyncRecord, pendingSince: number) => void> = [];

  /** Adds an observer called after each sync, after onSync (health servers, the agent's first-sync step). */
  addSyncListener(listener: (r: SyncRecord, pendingSince: number) => void): void {
    this.syncListeners.push(listener);
  }

  /** The families this proxier programs, in order. */
  readonly ipFamilies: readonly IPFamily[];

  constructor(
    private readonly services: ServiceTracker,
    private readonly endpoints: EndpointSliceCache,
    private readonly dataplane: Dataplane,
    private readonly node: () => NodeTopology,
    private readonly opts: ProxierOptions,
    private readonly log: Logger,
  ) {
    this.ipFamilies = servedFamilies(opts.ipFamilies, dataplane);
    const dropped = (opts.ipFamilies ?? []).filter((f) => !this.ipFamilies.includes(f));
    if (dropped.length > 0) log.warn({ families: dropped, mode: dataplane.mode }, 'IP families not programmed: this datapath mode cannot program them');
  }

  /** The whole desired state of the last sync, of one family (a per-family back end's view). */
  desiredOf(family: IPFamily): DesiredServicePort[] {
    return this.lastDesired.filter((d) => (d.svc.family ?? 'IPv4') === family);
  }

  /** One Service's desired ports: each served family's, computed from that family's ports and endpoints alone. */
  private computeService(k: ServiceKey, node: NodeTopology): DesiredServicePort[] {
    const out: DesiredServicePort[] = [];
    for (const f of this.ipFamilies) {
      const ports = this.services.portsOfService(k, f);
      if (ports.size > 0) out.push(...computeDesiredState(ports, this.endpoints.endpointsOfService(k, f), node));
    }
    return out;
  }

  /** Starts syncing; call once the informers' caches are warm. */
  start(): void {
    this.started = true;
    this.requestSync();
    // Periodic full sync: every Service recomputed and diffed against what was
    // programmed. The maps are not read back (a dump of a 30k-Service node is
    // tens of MB); they are after any failed write.
    this.periodic = setInterval(() => this.periodicResync(), this.opts.syncPeriodMs);
    this.periodic.unref();
  }

  /**
   * The periodic pass. A back end without a partial path or a drift check of
   * its own (iptables) gets one full sync that re-reads the datapath, as
   * kube-proxy's syncPeriod. Otherwise (eBPF) the pass costs every change
   * nothing: the back end compares the datapath with what it programmed on
   * the side (checkDrift: reads, no sync held; a full sync follows only when
   * it finds drift), and every Service is recomputed and diffed through the
   * partial path in slices of about RESYNC_SLICE_TARGET_MS, each taken only
   * when no change is waiting. A full sync of 10,000 Services took seconds,
   * and a slice change that arrived meanwhile waited for all of it.
   */
  private periodicResync(): void {
    const checkDrift = this.dataplane.checkDrift?.bind(this.dataplane);
    if (!this.dataplane.capabilities?.partialSync || !checkDrift) {
      this.needFull = true;
      this.verifyWanted = true;
      this.requestSync();
      return;
    }
    if (!this.resync) {
      const keys = new Set<ServiceKey>(this.desiredByService.keys());
      for (const k of this.services.serviceKeys()) keys.add(k);
      this.resync = { keys: [...keys], pos: 0, started: Date.now(), busyMs: 0, slices: 0, changes: 0 };
      this.schedule();
    }
    if (!this.driftCheck) {
      this.driftCheck = checkDrift().then((drift) => {
        if (drift === 0) return;
        this.log.warn({ drift }, 'datapath drift found: a full sync repairs it');
        this.needFull = true;
        this.verifyWanted = true;
        this.requestSync();
      }, (err: unknown) => {
        this.log.warn({ err: (err as Error).message }, 'drift check failed: a full sync reads the datapath again');
        this.needFull = true;
        this.verifyWanted = true;
        this.requestSync();
      }).finally(() => {
        this.driftCheck = undefined;
      });
    }
  }

  /**
   * After the first full sync: one slice of the periodic pass over a few
   * Services (recomputed and diffed through the partial path; nothing to
   * write), taken like any slice, when no change waits. The first change
   * after a start otherwise paid the partial path's first-use costs (V8
   * compiles a function at its first call and optimizes it only after
   * many): the first flip's sync took 10-11 ms where the next ones took
   * 1-2; 3 ms with this slice (10,000 Services, docs/benchmarks.md).
   */
  private warmPartialPath(): void {
    if (!this.dataplane.capabilities?.partialSync || !this.dataplane.checkDrift || this.resync) return;
    const keys: ServiceKey[] = [];
    for (const k of this.desiredByService.keys()) {
      if (keys.length >= WARM_SERVICES) break;
      keys.push(k);
    }
    if (keys.length > 0) this.resync = { keys, pos: 0, started: Date.now(), busyMs: 0, slices: 0, changes: 0, warm: true };
    this.warmChangePath();
  }

  /**
   * Scratch changes through the trackers' and the back end's change path
   * (warm-change-path.ts): what the warm slice does not run, since nothing
   * changed there (a Maglev table for a new backend set above all).
   */
  private warmChangePath(): void {
    const warmUp = this.dataplane.warmUp?.bind(this.dataplane);
    if (!warmUp) return;
    const t0 = performance.now();
    const changes = scratchChanges(this.node(), this.ipFamilies[0] ?? 'IPv4');
    warmUp(changes).then((ops) => {
      this.changePathWarmed = { changes: changes.length, ops, ms: ms2(performance.now() - t0) };
      this.log.info(this.changePathWarmed, 'change path warmed');
    }, (err: unknown) => {
      this.log.warn({ err: (err as Error).message }, 'change path warm-up failed (the first change compiles it instead)');
    });
  }

  /** The scratch warm-up after the first full sync: changes run, operations planned, time (ms). */
  changePathWarmed: { changes: number; ops: number; ms: number } | undefined;

  /** The periodic resync under way: Services still to recompute (from pos), and what it cost so far. */
  private resync: { keys: ServiceKey[]; pos: number; started: number; busyMs: number; slices: number; changes: number; warm?: boolean } | undefined;
  /** Services per slice, adapted to RESYNC_SLICE_TARGET_MS. */
  private resyncSlice = 64;
  /** Pause before the next slice: the last slice's duration (ms, whole). */
  private resyncPauseMs = 0;
  /** The scheduled run is for a change (else for a resync slice). */
  private timerForChange = false;
  private driftCheck: Promise<void> | undefined;

  /** The next slice of the periodic resync. */
  private takeResyncSlice(): Set<ServiceKey> {
    const r = this.resync!;
    const end = Math.min(r.keys.length, r.pos + this.resyncSlice);
    const out = new Set(r.keys.slice(r.pos, end));
    r.pos = end;
    return out;
  }

  /** Sizes the next slice from how long this one took; logs the end of the pass. */
  private endResyncSlice(ms: number, changes: number): void {
    const r = this.resync;
    if (!r) return;
    r.busyMs += ms;
    r.slices++;
    this.resyncPauseMs = Math.ceil(ms);
    r.changes += changes;
    const scaled = Math.round(this.resyncSlice * RESYNC_SLICE_TARGET_MS / Math.max(ms, 0.05));
    // Halfway to the estimate: one slice slowed by a GC pause does not swing the size.
    this.resyncSlice = Math.min(RESYNC_SLICE_MAX, Math.max(RESYNC_SLICE_MIN, Math.round((this.resyncSlice + scaled) / 2)));
    if (r.pos < r.keys.length) return;
    this.resync = undefined;
    this.resyncPauseMs = 0;
    this.log.info({ services: r.keys.length, slices: r.slices, busyMs: Math.round(r.busyMs), ms: Date.now() - r.started, changes: r.changes },
      r.warm ? 'partial path warmed' : 'periodic resync done');
  }

  stop(): void {
    this.started = false;
    this.timer?.cancel();
    this.timer = undefined;
    if (this.periodic) clearInterval(this.periodic);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.resync = undefined;
  }

  /** The periodic full sync also checks the datapath against the desired state. */
  private verifyWanted = false;

  private fullResyncWanted = false;
  /** Next sync recomputes every Service (first sync, after a failure). */
  private needFull = true;
  private lastNode: NodeTopology | undefined;
  private desiredByService = new Map<ServiceKey, DesiredServicePort[]>();

  /** Marks state dirty; a sync follows as soon as minSyncPeriod allows. */
  requestSync(full = false): void {
    if (full) this.fullResyncWanted = true;
    if (!this.queuedSince) this.queuedSince = Date.now();
    this.dirty = true;
    this.schedule();
  }

  private schedule(): void {
    if (!this.started || this.running) return;
    // A change does not wait for the pause before the next resync slice.
    if (this.timer && (this.timerForChange || !this.dirty)) return;
    this.timer?.cancel();
    this.timer = undefined;
    // A change waits for minSyncPeriod; a slice of the periodic resync does
    // not (it is not a sync the period limits) but pauses as long as the
    // last slice took: the pass takes at most half of the agent's time.
    let wait: number;
    const forChange = this.dirty;
    if (forChange) wait = Math.max(0, this.lastSyncStart + this.opts.minSyncPeriodMs - Date.now(), this.backoffMs);
    else if (this.resync) wait = Math.max(this.backoffMs, this.resyncPauseMs);
    else return;
    this.timerForChange = forChange;
    const run = (): void => {
      this.timer = undefined;
      void this.syncNow(forChange);
    };
    // Nothing to wait for: sync in this turn of the event loop, after the
    // events at hand (they coalesce), not after a timer: node holds even a
    // setTimeout(0) for at least 1 ms, which every change paid on its way to
    // the datapath.
    if (wait === 0) {
      const h = setImmediate(run);
      this.timer = { cancel: () => clearImmediate(h) };
    } else {
      const h = setTimeout(run, wait);
      this.timer = { cancel: () => clearTimeout(h) };
    }
  }

  /** Resolves after the next sync that starts after this call completes. */
  waitForSync(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Arms one timer for the earliest retry of a refused Service; it does not count as a pending change. */
  private scheduleRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.refused.size === 0 || !this.started) return;
    let next = Infinity;
    for (const r of this.refused.values()) next = Math.min(next, r.retryAt);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.retryDue = true;
      this.dirty = true;
      this.schedule();
    }, Math.max(0, next - Date.now()));
    this.retryTimer.unref();
  }

  /** Records this sync's refusals; `attempted` holds the Services it tried (undefined: all). */
  private noteRefused(refused: ReadonlyMap<ServiceKey, string> | undefined, attempted: Iterable<ServiceKey> | undefined): void {
    const now = Date.now();
    const gone = attempted ? [...attempted] : [...this.refused.keys()];
    for (const k of gone) {
      if (refused?.has(k)) continue;
      const r = this.refused.get(k);
      if (!r) continue;
      this.refused.delete(k);
      this.log.info({ service: k, attempts: r.attempts }, this.desiredByService.has(k) ? 'service programmed after being refused' : 'refused service deleted');
    }
    for (const [k, reason] of refused ?? []) {
      const prev = this.refused.get(k);
      const attempts = (prev?.attempts ?? 0) + 1;
      const wait = refusedBackoffMs(attempts);
      this.refused.set(k, { reason, since: prev?.since ?? now, attempts, retryAt: now + wait });
      this.log.warn({ service: k, reason, attempts, retryInMs: wait }, 'service not programmed: the datapath refused it; every other Service is programmed, this one is retried');
    }
    this.scheduleRetry();
  }

  /** timedForChange: this run was timed for a change (its wait, minSyncPeriod included, is over). */
  private async syncNow(timedForChange: boolean): Promise<void> {
    if (this.running) return;
    // Changes first; a slice of the periodic resync only when none is due (a
    // change that came after the slice was timed may still owe minSyncPeriod).
    const changeDue = this.dirty && (timedForChange || Date.now() >= this.lastSyncStart + this.opts.minSyncPeriodMs);
    const slice = !changeDue && this.resync !== undefined;
    if (!changeDue && !slice) {
      this.schedule();
      return;
    }
    this.running = true;
    const sliceStart = performance.now();
    const pendingSince = slice ? 0 : this.queuedSince;
    if (!slice) {
      this.dirty = false;
      this.takenSince = pendingSince;
      this.queuedSince = 0;
    }
    const waiters = slice ? [] : this.waiters.splice(0);
    const start = Date.now();
    const t0 = performance.now();
    const sinceStart = (): number => ms2(performance.now() - t0);
    if (!slice) this.lastSyncStart = start;
    const rec: SyncRecord = { at: start, durationMs: 0, changes: 0, ok: false };
    try {
      const changedServices = slice ? this.takeResyncSlice() : new Set([...this.services.takeChanged(), ...this.endpoints.takeChanged()]);
      if (!slice && this.retryDue) {
        this.retryDue = false;
        const now = Date.now();
        for (const [k, r] of this.refused) if (r.retryAt <= now) changedServices.add(k);
      }
      const node = this.node();
      const nodeChanged = node.nodeName !== this.lastNode?.nodeName || node.zone !== this.lastNode?.zone;
      const full = this.fullResyncWanted || this.needFull || nodeChanged;
      let changed: Map<ServiceKey, DesiredServicePort[]> | undefined;
      if (full) {
        if (this.fullResyncWanted) await this.dataplane.restore?.();
        this.fullResyncWanted = false;
        this.desiredByService = new Map();
        for (const f of this.ipFamilies) {
          for (const d of computeDesiredState(this.services.servicePorts(f), this.endpoints.allEndpoints(f), node)) {
            const k = serviceKeyOfPort(d.svc.name);
            let l = this.desiredByService.get(k);
            if (!l) this.desiredByService.set(k, (l = []));
            l.push(d);
          }
        }
      } else {
        // Only the Services whose objects or slices changed are recomputed.
        changed = new Map();
        for (const k of changedServices) {
          const d = this.computeService(k, node);
          if (d.length > 0) this.desiredByService.set(k, d);
          else this.desiredByService.delete(k);
          changed.set(k, d);
        }
      }
      this.flatDesired = undefined;
      // A back end with a partial path needs only `changed`; build the whole
      // list only for full syncs and back ends that render everything.
      const desired = changed && this.dataplane.capabilities?.partialSync ? [] : this.lastDesired;
      const computeMs = sinceStart();
      const verify = full && this.verifyWanted;
      const out = await this.dataplane.sync(desired, changed, verify ? { verify } : undefined);
      if (verify) this.verifyWanted = false;
      this.noteRefused(out.refused, changed ? changed.keys() : undefined);
      rec.refused = out.refused?.size ?? 0;
      if (rec.refused > 0) rec.refusedServices = [...out.refused!.keys()];
      this.needFull = false;
      this.lastNode = node;
      rec.ok = true;
      rec.changes = out.changes;
      this.lastSuccess = Date.now();
      this.takenSince = 0;
      this.lastError = undefined;
      this.backoffMs = 0;
      // A full sync recomputed everything: no resync slice is left to do.
      if (full) this.resync = undefined;
      if (!slice || full) this.syncCount++;
      if (full && this.syncCount === 1) this.warmPartialPath();
      // A full sync is logged even when it changed nothing: its length is what a change arriving meanwhile waits.
      if (out.changes > 0 || full) {
        this.log.info({ changes: out.changes, ...out.detail, full: full ? 1 : 0, ...(slice && !full ? { resync: 1 } : {}), computeMs, ms: sinceStart() }, 'synced');
      }
    } catch (err) {
      rec.error = (err as Error).message;
      this.lastError = rec.error;
      this.backoffMs = Math.min(this.backoffMs ? this.backoffMs * 2 : 250, 10_000);
      this.dirty = true;
      // The changes taken for this sync are lost to the partial path: redo all.
      this.needFull = true;
      // The changes this sync took are still pending, and they are older than
      // any request made while it ran: keep the oldest (as kube-proxy's
      // healthz does), or a loader that hangs longer than the health timeout
      // would never turn /healthz 503.
      const ours = pendingSince || start;
      this.queuedSince = this.queuedSince ? Math.min(this.queuedSince, ours) : ours;
      this.takenSince = 0;
      this.log.error({ err: rec.error, retryInMs: this.backoffMs }, 'sync failed');
    } finally {
      rec.durationMs = Date.now() - start;
      this.running = false;
      if (slice) this.endResyncSlice(performance.now() - sliceStart, rec.changes);
      // A resync slice that found nothing to do is no sync to report (history, metrics, listeners).
      if (!slice || !rec.ok || rec.changes > 0) {
        this.history.push(rec);
        if (this.history.length > 500) this.history.shift();
        this.onSync?.(rec, pendingSince);
        for (const l of this.syncListeners) l(rec, pendingSince);
      }
      // The names are for this sync's observers (metrics), not the history.
      delete rec.refusedServices;
      if (rec.ok) for (const w of waiters) w();
      else this.waiters.push(...waiters);
      this.schedule();
    }
  }
}
