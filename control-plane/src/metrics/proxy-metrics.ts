// Prometheus metrics of the agent (prom-client, a registry per agent). The
// sync metrics carry kube-proxy's names (kubeproxy_ prefix, same buckets) so
// kube-proxy dashboards work; datapath metrics are switchyard_*, read from
// the maps through the loader when Prometheus scrapes (collect()), never on
// the sync path.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DesiredServicePort } from '../dataplane/desired-state.js';
import type { MapsContent } from '../dataplane/ebpf/maps-content.js';
import { counterName, hookName, protoName } from '../dataplane/ebpf/map-values.js';
import { servicePortString } from '../model/types.js';
import type { SyncRecord } from '../sync/proxier.js';
import { FrontendResolver } from '../admin/ebpf-view.js';
import { dumpOptional } from '../admin/map-reads.js';
import type { DatapathView, LoaderView } from '../admin/source.js';
import type { RefusedService } from '../sync/proxier.js';

/** kube-proxy's annotation on EndpointSlices (and Endpoints) naming when the change was triggered. */
export const TRIGGER_TIME_ANNOTATION = 'endpoints.kubernetes.io/last-change-trigger-time';

/** kube-proxy's buckets of network_programming_duration_seconds. */
function networkProgrammingBuckets(): number[] {
  const out: number[] = [];
  for (let i = 0; i < 2; i++) out.push(0.25 + 0.25 * i);
  for (let i = 0; i < 59; i++) out.push(1 + i);
  for (let i = 0; i < 12; i++) out.push(60 + 5 * i);
  for (let i = 0; i < 7; i++) out.push(120 + 30 * i);
  return out;
}

/** One fn() in flight at a time: the collectors of one scrape (run together) share a read; the next scrape reads again. */
function shared<T>(fn: () => Promise<T>, onError: (err: unknown) => T): () => Promise<T> {
  let inflight: Promise<T> | undefined;
  return () => {
    inflight ??= fn().catch(onError).finally(() => {
      inflight = undefined;
    });
    return inflight;
  };
}

function exponentialBuckets(start: number, factor: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start * factor ** i);
}

export interface ProxyMetricsOptions {
  mode: 'ebpf' | 'iptables';
  modeReason: string;
  loader?: LoaderView | undefined;
  /** The desired state of the last sync (names for per-frontend metrics). */
  desired?: () => readonly DesiredServicePort[];
  /**
   * What the agent has programmed into the service maps (EbpfDataplane.programmedMaps).
   * With it, a scrape reads no service map: entries and frontend names come
   * from here, and the loader is asked only for capacities (status without
   * entry counts) and the counters (sy_counters, sy_svc_stats).
   */
  programmed?: () => MapsContent | undefined;
  /**
   * With `programmed`: how old the entry counts of the flow maps (sy_conntrack,
   * sy_affinity, sy_sock_revnat: written by the datapath, unknown to the agent)
   * may get, ms (default 30 s). Counting walks a map's keys, so it is not done
   * on every scrape.
   */
  flowCountTtlMs?: number;
  /** iptables mode: rule counts of the last render. */
  iptablesCounts?: () => { filterRules: number; natRules: number } | undefined;
  /** Services the datapath refused (the Proxier's list). */
  refused?: () => ReadonlyMap<string, RefusedService> | undefined;
  /** ebpf mode: map pressure and drift, from what the agent knows (no dump). */
  datapath?: DatapathView | undefined;
}

/** Maps the datapath itself writes: the agent cannot know their entry counts. */
const FLOW_MAPS = ['sy_conntrack', 'sy_affinity', 'sy_sock_revnat', 'sy_conntrack6', 'sy_affinity6', 'sy_sock_revnat6'];

interface ObjectMeta { metadata?: { annotations?: Record<string, string> | undefined } | undefined }

interface PendingChange { kind: 'endpoints' | 'service'; trigger: number; arrived: number }

export class ProxyMetrics {
  readonly registry = new Registry();
  readonly syncDuration: Histogram;
  readonly networkProgramming: Histogram;
  readonly lastSync: Gauge;
  readonly lastQueued: Gauge;
  readonly endpointChangesPending: Gauge;
  readonly endpointChangesTotal: Counter;
  readonly serviceChangesPending: Gauge;
  readonly serviceChangesTotal: Counter;
  readonly syncErrors: Counter;
  readonly loaderErrors: Counter;
  readonly adminRejected: Counter;
  readonly serviceErrors: Counter;
  private pending: PendingChange[] = [];
  /** True once a change was noted: network programming is measured from the changes, not from the sync loop's pending time. */
  private changesWired = false;
  /** loader.status(), shared by the collectors of one scrape. */
  private readonly status: () => Promise<Record<string, any> | undefined>;

  constructor(private readonly opts: ProxyMetricsOptions) {
    const r = [this.registry];
    this.syncDuration = new Histogram({
      name: 'kubeproxy_sync_proxy_rules_duration_seconds', help: 'SyncProxyRules latency in seconds',
      buckets: exponentialBuckets(0.001, 2, 15), registers: r,
    });
    this.networkProgramming = new Histogram({
      name: 'kubeproxy_network_programming_duration_seconds',
      help: 'In-cluster network programming latency in seconds: from a Service or EndpointSlice change (its trigger time) to the sync that programmed it',
      buckets: networkProgrammingBuckets(), registers: r,
    });
    this.lastSync = new Gauge({ name: 'kubeproxy_sync_proxy_rules_last_timestamp_seconds', help: 'The last time proxy rules were successfully synced', registers: r });
    this.lastQueued = new Gauge({ name: 'kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds', help: 'The last time a sync of proxy rules was queued', registers: r });
    this.endpointChangesPending = new Gauge({ name: 'kubeproxy_sync_proxy_rules_endpoint_changes_pending', help: 'Pending proxy rules Endpoint changes', registers: r });
    this.endpointChangesTotal = new Counter({ name: 'kubeproxy_sync_proxy_rules_endpoint_changes_total', help: 'Cumulative proxy rules Endpoint changes', registers: r });
    this.serviceChangesPending = new Gauge({ name: 'kubeproxy_sync_proxy_rules_service_changes_pending', help: 'Pending proxy rules Service changes', registers: r });
    this.serviceChangesTotal = new Counter({ name: 'kubeproxy_sync_proxy_rules_service_changes_total', help: 'Cumulative proxy rules Service changes', registers: r });
    this.syncErrors = new Counter({ name: 'switchyard_sync_errors_total', help: 'Syncs that failed (they are retried with backoff)', registers: r });
    this.loaderErrors = new Counter({ name: 'switchyard_loader_errors_total', help: 'Failed requests to the loader (unreachable, or answered with an error)', registers: r });
    this.adminRejected = new Counter({
      name: 'switchyard_admin_rejected_requests_total', help: 'Admin API requests answered with a 4xx (bad query, unknown map or route)',
      labelNames: ['route', 'code'], registers: r,
    });
    new Gauge({ name: 'switchyard_mode', help: 'The datapath mode in use and why (value 1)', labelNames: ['mode', 'reason'], registers: r })
      .set({ mode: opts.mode, reason: opts.modeReason }, 1);
    const desired = opts.desired;
    new Gauge({
      name: 'switchyard_maglev_table_size_refused', help: 'ServicePorts whose switchyard.io/maglev-table-size annotation was refused (they keep the default sizing)',
      registers: r,
      collect() {
        this.set((desired?.() ?? []).filter((d) => d.svc.tableSizeAnnotation?.refused).length);
      },
    });

    this.serviceErrors = new Counter({
      name: 'kubeproxy_sync_proxy_rules_service_errors_total',
      help: 'Services the datapath refused in a sync (a full map, an object the loader rejects); each is retried with backoff while every other Service is programmed',
      labelNames: ['service'], registers: r,
    });
    if (opts.refused) {
      const refused = opts.refused;
      new Gauge({
        name: 'switchyard_services_refused', help: 'Services the datapath currently refuses (1 per Service; the reason is in the log and switchyard status)',
        labelNames: ['service'], registers: r,
        collect() {
          this.reset();
          for (const k of refused()?.keys() ?? []) this.set({ service: k }, 1);
        },
      });
    }
    if (opts.datapath) this.registerPressureMetrics(opts.datapath);
    const loader = opts.loader;
    this.status = shared(async () => loader?.status(opts.programmed ? { skipEntryCounts: true } : {}), () => {
      this.loaderErrors.inc();
      return undefined;
    });
    if (loader) this.registerDatapathMetrics(loader);
    if (opts.iptablesCounts) {
      const counts = opts.iptablesCounts;
      new Gauge({
        name: 'kubeproxy_sync_proxy_rules_iptables_total', help: 'Total number of iptables rules owned by the proxy', labelNames: ['table'], registers: r,
        collect() {
          const c = counts();
          this.reset();
          if (c) {
            this.set({ table: 'nat' }, c.natRules);
            this.set({ table: 'filter' }, c.filterRules);
          }
        },
      });
    }
  }

  private registerPressureMetrics(dp: DatapathView): void {
    const r = [this.registry];
    const gauge = (name: string, help: string, value: (m: ReturnType<DatapathView['mapPressure']>[number]) => number): void => {
      new Gauge({
        name, help, labelNames: ['map'], registers: r,
        collect() {
          this.reset();
          for (const m of dp.mapPressure()) this.set({ map: m.map }, value(m));
        },
      });
    };
    gauge('switchyard_map_programmed_entries', 'Entries the agent programmed in each service map (what it knows, no dump)', (m) => m.entries);
    gauge('switchyard_map_capacity', 'max_entries of each service map, as the loader created it', (m) => m.capacity);
    gauge('switchyard_map_pressure_ratio', 'Programmed entries / capacity of each service map; a warning is logged at 0.9', (m) => m.ratio);
    new Counter({
      name: 'switchyard_datapath_drift_repaired_total', help: 'Map entries found deleted, changed or added behind the agent\'s back by the periodic check, and repaired',
      labelNames: ['map'], registers: r,
      collect() {
        this.reset();
        for (const [map, n] of dp.driftByMap) this.inc({ map }, n);
      },
    });
  }

  private registerDatapathMetrics(loader: LoaderView): void {
    const r = [this.registry];
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    const mapGauge = (name: string, help: string, field: 'entries' | 'maxEntries'): void => {
      new Gauge({
        name, help, labelNames: ['map'], registers: r,
        async collect() {
          const st = await self.status();
          this.reset();
          const known = field === 'entries' ? self.programmedCounts() : undefined;
          if (known) Object.assign(known, await self.flowCounts());
          for (const m of (st?.maps ?? []) as Array<Record<string, unknown>>) {
            const name = String(m.name);
            if (known) {
              // Entries of the maps the agent writes, as it wrote them; the others are not counted per scrape.
              if (known[name] !== undefined) this.set({ map: name }, known[name]);
            } else {
              this.set({ map: name }, Number(m[field] ?? 0));
            }
          }
        },
      });
    };
    mapGauge('switchyard_map_entries', 'Entries in use in each pinned map', 'entries');
    mapGauge('switchyard_map_max_entries', 'Capacity (max_entries) of each pinned map', 'maxEntries');
    new Gauge({
      name: 'switchyard_loader_up', help: '1 when the loader answered the last scrape', registers: r,
      async collect() {
        this.set((await self.status()) ? 1 : 0);
      },
    });

    /** sy_svc_stats rows labelled with their frontend (the key's id is sy_services' id) and Service. */
    const stats = shared(async () => {
      const entries = await dumpOptional(loader, 'sy_svc_stats');
      if (entries.length === 0) return [];
      const resolver = new FrontendResolver(this.opts.desired?.() ?? []);
      const names = new Map<number, { frontend: string; service: string }>();
      const programmed = this.opts.programmed?.();
      const frontends = programmed ? [...programmed.services.values()]
        : await dumpOptional(loader, 'sy_services');
      for (const { key: k, value: v } of frontends) {
        const d = resolver.resolve(k, v.flags);
        names.set(v.id, { frontend: `${k.addr}:${k.port}/${protoName(k.proto)}${k.scope ? '/internal' : ''}`, service: d ? servicePortString(d.svc.name) : '' });
      }
      return entries.map(({ key: k, value: v }) => {
        const n = names.get(k.frontendId);
        return {
          labels: { service: n?.service ?? '', frontend: n?.frontend ?? `id:${k.frontendId}`, hook: hookName(k.hook) },
          packets: Number(v.packets), bytes: Number(v.bytes),
        };
      });
    }, () => {
      this.loaderErrors.inc();
      return [];
    });
    new Counter({
      name: 'switchyard_service_packets_total', help: 'Packets the datapath sent to each frontend (sy_svc_stats, summed over CPUs)',
      labelNames: ['service', 'frontend', 'hook'], registers: r,
      async collect() {
        const s = await stats();
        this.reset();
        for (const x of s) this.inc(x.labels, x.packets);
      },
    });
    new Counter({
      name: 'switchyard_service_bytes_total', help: 'Bytes the datapath sent to each frontend (sy_svc_stats, summed over CPUs)',
      labelNames: ['service', 'frontend', 'hook'], registers: r,
      async collect() {
        const s = await stats();
        this.reset();
        for (const x of s) this.inc(x.labels, x.bytes);
      },
    });
    new Counter({
      name: 'switchyard_datapath_events_total', help: 'Datapath events by kind (sy_counters, summed over CPUs)', labelNames: ['event'], registers: r,
      async collect() {
        this.reset();
        let entries: Awaited<ReturnType<typeof dumpOptional<'sy_counters'>>> = [];
        try {
          entries = await dumpOptional(loader, 'sy_counters');
        } catch {
          self.loaderErrors.inc();
        }
        for (const e of entries) this.inc({ event: counterName(e.key) }, Number(e.value));
      },
    });
  }

  private flowCountCache: { at: number; counts: Record<string, number> } | undefined;

  /** Entry counts of the flow maps, counted by the loader at most once per flowCountTtlMs. */
  private async flowCounts(): Promise<Record<string, number>> {
    const ttl = this.opts.flowCountTtlMs ?? 30_000;
    const c = this.flowCountCache;
    if (c && Date.now() - c.at < ttl) return c.counts;
    const counts: Record<string, number> = {};
    try {
      const st = await this.opts.loader?.status({ countMaps: FLOW_MAPS });
      for (const m of (st?.maps ?? []) as Array<Record<string, unknown>>) {
        if (FLOW_MAPS.includes(String(m.name))) counts[String(m.name)] = Number(m.entries ?? 0);
      }
      this.flowCountCache = { at: Date.now(), counts };
    } catch {
      this.loaderErrors.inc();
    }
    return counts;
  }

  /** Entries per map from what the agent programmed, or undefined without that knowledge. */
  private programmedCounts(): Record<string, number> | undefined {
    if (!this.opts.programmed) return undefined;
    const p = this.opts.programmed();
    if (!p) return {};
    // One content holds both families: an IPv6 entry lives in its map's twin (sy_services6, ...).
    const split = (map: string, addrs: Iterable<string>): Record<string, number> => {
      let v4 = 0, v6 = 0;
      for (const a of addrs) if (a.includes(':')) v6++; else v4++;
      return { [map]: v4, [`${map}6`]: v6 };
    };
    const addrsOf = <T>(xs: Iterable<T>, f: (x: T) => string) => [...xs].map(f);
    return {
      ...split('sy_services', addrsOf(p.services.values(), (e) => e.key.addr)), ...split('sy_backends', addrsOf(p.backends.values(), (b) => b.addr)),
      ...split('sy_revnat', addrsOf(p.revnat.values(), (r) => r.addr)), sy_maglev: p.maglev.size,
      ...split('sy_source_ranges', addrsOf(p.sourceRanges.values(), (r) => r.addr)),
    };
  }

  private noteChange(kind: PendingChange['kind'], obj: ObjectMeta | undefined): void {
    const now = Date.now();
    this.changesWired = true;
    const ann = obj?.metadata?.annotations?.[TRIGGER_TIME_ANNOTATION];
    const parsed = ann ? Date.parse(ann) : NaN;
    // A trigger time from the future (clock skew) counts from the arrival.
    const trigger = Number.isFinite(parsed) && parsed <= now ? parsed : now;
    this.pending.push({ kind, trigger, arrived: now });
    if (kind === 'endpoints') {
      this.endpointChangesTotal.inc();
    } else {
      this.serviceChangesTotal.inc();
    }
    this.lastQueued.set(now / 1000);
    // One more of its kind (not a recount: an agent's first list notes 20,000 changes).
    (kind === 'endpoints' ? this.endpointChangesPending : this.serviceChangesPending).inc();
  }

  /** An EndpointSlice was added, updated or deleted (call from the informer handler). */
  endpointSliceChanged(slice?: ObjectMeta): void {
    this.noteChange('endpoints', slice);
  }

  /** A Service was added, updated or deleted. */
  serviceChanged(svc?: ObjectMeta): void {
    this.noteChange('service', svc);
  }

  private updatePending(): void {
    let e = 0, s = 0;
    for (const p of this.pending) if (p.kind === 'endpoints') e++; else s++;
    this.endpointChangesPending.set(e);
    this.serviceChangesPending.set(s);
  }

  /** The Proxier's onSync: one record per sync attempt. */
  observeSync(rec: SyncRecord, pendingSince: number): void {
    this.syncDuration.observe(rec.durationMs / 1000);
    for (const k of rec.refusedServices ?? []) this.serviceErrors.inc({ service: k });
    if (!rec.ok) {
      this.syncErrors.inc();
      if (rec.error?.startsWith('loader:')) this.loaderErrors.inc();
      return;
    }
    const done = rec.at + rec.durationMs;
    this.lastSync.set(done / 1000);
    if (this.changesWired) {
      // Changes that arrived before this sync started are programmed now.
      const rest: PendingChange[] = [];
      for (const p of this.pending) {
        if (p.arrived <= rec.at) this.networkProgramming.observe(Math.max(0, done - p.trigger) / 1000);
        else rest.push(p);
      }
      this.pending = rest;
      this.updatePending();
    } else if (pendingSince > 0 && rec.changes > 0) {
      this.networkProgramming.observe(Math.max(0, done - pendingSince) / 1000);
    }
  }

  /** Chains onto the Proxier's onSync (keeps an existing hook). */
  attach(p: { onSync: ((r: SyncRecord, pendingSince: number) => void) | undefined }): void {
    const prev = p.onSync;
    p.onSync = (rec, since) => {
      prev?.(rec, since);
      this.observeSync(rec, since);
    };
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
