// The datapath monitor, agent side: reads the loader's event stream
// (loader-events.ts), names each event's Service, frontend and backend from
// what the agent programmed, counts it by kind and reason in the metrics,
// and hands it to the subscribers (the admin API's server-sent events).
// Tracing is on in the datapath only while a subscriber wants traces (one
// SetMonitor map op on the first, another after the last), so the
// translation path pays for it only then.
import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { FrontendResolver } from '../admin/ebpf-view.js';
import { hostPort } from '../admin/explain.js';
import { frontendKind } from '../dataplane/ebpf/map-values.js';
import type { DesiredServicePort } from '../dataplane/desired-state.js';
import { decodeEvent, type DatapathEvent, type EventKind } from '../dataplane/ebpf/datapath-event.js';
import { LoaderEventStream, type EventBatch } from '../dataplane/ebpf/loader-events.js';
import type { MapOp_op } from '../dataplane/ebpf/loader-messages.js';
import type { MapsContent } from '../dataplane/ebpf/maps-content.js';
import { servicePortString, serviceKeyOfPort } from '../model/service-key.js';
import { parseAddress, prefixContains, type ParsedPrefix } from '../util/ip.js';

/** An event with the names the agent knows. */
export interface MonitorEvent extends DatapathEvent {
  /** Wall-clock time of the event (from its monotonic timestamp). */
  time: string;
  node: string;
  /** "namespace/name" of the Service, null when the frontend is not known. */
  service: string | null;
  /** "namespace/name:port" of the ServicePort. */
  servicePort: string | null;
  /** "ClusterIP 198.18.128.10:80/TCP" and the like. */
  frontend: string | null;
  /** "address:port" of the backend, with its node when known. */
  backend: string | null;
  backendNode: string | null;
}

export interface MonitorFilter {
  /** Kinds wanted; undefined: all. */
  kinds?: readonly EventKind[] | undefined;
  /** "namespace/name": only this Service's events. */
  service?: string | undefined;
  /** Only events of clients in this CIDR (either family): the source of a forward packet, the destination of a reply. */
  client?: ParsedPrefix | undefined;
  /** Only events whose backend has this address (canonical text, either family). */
  backend?: string | undefined;
}

/** The client of an event: the source of what a client sent, the (original) destination of a reply. */
function clientOf(e: DatapathEvent): string {
  return e.kind === 'trace' && e.reply ? e.natDst : e.src;
}

/** The address of a backend as the names hold it ("198.19.1.5:80", "[fd00::5]:80"). */
function backendAddress(backend: string | null): string | undefined {
  if (!backend) return undefined;
  const m = /^\[([^\]]+)\]:\d+$/.exec(backend) ?? /^([^:]+):\d+$/.exec(backend);
  return m ? parseAddress(m[1])?.text : undefined;
}

/** Whether an event passes a subscriber's filter. */
export function monitorFilterMatches(f: MonitorFilter, e: MonitorEvent): boolean {
  if (f.kinds && !f.kinds.includes(e.kind)) return false;
  if (f.service && f.service !== e.service) return false;
  if (f.client) {
    const a = parseAddress(clientOf(e));
    if (!a || !prefixContains(f.client, a)) return false;
  }
  if (f.backend && backendAddress(e.backend) !== f.backend) return false;
  return true;
}

export interface MonitorSubscription { close(): void }

export interface DatapathMonitorOptions {
  socketPath: string;
  /** Map writes (SetMonitor) go through the agent's loader client. */
  apply(ops: MapOp_op[]): Promise<unknown>;
  nodeName: string;
  programmed(): MapsContent | undefined;
  desired(): readonly DesiredServicePort[];
  registry?: Registry | undefined;
  log?: Logger | undefined;
  /** Trace the conntrack creations of 1 in N new flows while a subscriber wants 'ct' events (default 1: all). */
  ctSample?: number;
}

interface Names { frontends: Map<number, { service: string; servicePort: string; frontend: string }>; backends: Map<number, { backend: string; node: string | null }> }

const NAMES_TTL_MS = 1000;

export class DatapathMonitor {
  private readonly stream: LoaderEventStream;
  private readonly subs = new Set<{ filter: MonitorFilter; send(e: MonitorEvent): void }>();
  private readonly events: Counter | undefined;
  private readonly missed: Counter | undefined;
  private names: Names | undefined;
  private namesAt = 0;
  /** The SetMonitor last written ('' = nothing yet), and the write in flight. */
  private written = '';
  private writing: Promise<void> = Promise.resolve();
  /** hrtime (CLOCK_MONOTONIC) minus wall clock, ns: turns event timestamps into dates. */
  private readonly monoToWallMs = Date.now() - Number(process.hrtime.bigint() / 1_000_000n);
  /** Events received since start. */
  received = 0;
  up = false;
  lastError: string | undefined;

  constructor(private readonly opts: DatapathMonitorOptions) {
    const r = opts.registry ? [opts.registry] : [];
    this.events = opts.registry ? new Counter({
      name: 'switchyard_monitor_events_total',
      help: 'Datapath monitor events the agent received (sy_events), by kind (drop, reject, trace, ct), reason (the SY_CNT_* counted with a drop or reject) and Service',
      labelNames: ['kind', 'reason', 'service'], registers: r,
    }) : undefined;
    this.missed = opts.registry ? new Counter({
      name: 'switchyard_monitor_events_missed_total',
      help: 'Datapath monitor events the loader could not stream to the agent (it read too slowly); events lost in the kernel are sy_counters events_lost',
      registers: r,
    }) : undefined;
    this.stream = new LoaderEventStream({
      socketPath: opts.socketPath,
      onBatch: (b) => this.onBatch(b),
      onState: (up, why) => {
        this.up = up;
        if (up) {
          this.lastError = undefined;
          this.written = ''; // a restarted loader: write the settings again
          this.updateDatapath();
        } else if (why !== this.lastError) {
          this.lastError = why;
          opts.log?.warn({ err: why }, 'datapath monitor: no event stream from the loader');
        }
      },
    });
  }

  start(): void {
    this.stream.start();
  }

  close(): void {
    this.stream.close();
    for (const s of this.subs) this.subs.delete(s);
  }

  /** Events matching the filter go to send() until close(). */
  subscribe(filter: MonitorFilter, send: (e: MonitorEvent) => void): MonitorSubscription {
    const sub = { filter, send };
    this.subs.add(sub);
    this.updateDatapath();
    return {
      close: () => {
        if (this.subs.delete(sub)) this.updateDatapath();
      },
    };
  }

  /** Resolves when the datapath settings the subscribers want are written (tests, and the SSE route's first line). */
  settled(): Promise<void> {
    return this.writing;
  }

  private wants(kind: EventKind): Array<{ filter: MonitorFilter }> {
    return [...this.subs].filter((s) => !s.filter.kinds || s.filter.kinds.includes(kind));
  }

  /**
   * sy_monitor as the subscribers want it: tracing while one wants traces;
   * the datapath's own filters (one frontend, one backend, one client CIDR)
   * only where every trace subscriber asks for the same one, else the agent
   * filters alone (the datapath holds one filter).
   */
  private desiredSetting(): { trace: boolean; traceFrontendId: number; traceBackendId: number; clientAddr: Uint8Array; clientPrefixLen: number; ctSample: number } {
    const tracers = this.wants('trace');
    const same = <T>(pick: (f: MonitorFilter) => T | undefined): T | undefined => {
      const v = tracers.map((t) => pick(t.filter));
      return v.length > 0 && v.every((x) => x !== undefined && x === v[0]) ? v[0] : undefined;
    };
    const service = same((f) => f.service);
    const frontendIds = service ? this.frontendIdsOf(service) : [];
    const backend = same((f) => f.backend);
    const backendIds = backend ? this.backendIdsOf(backend) : [];
    const cidr = same((f) => f.client?.cidr);
    const client = cidr ? tracers[0]!.filter.client! : undefined;
    return {
      trace: tracers.length > 0,
      traceFrontendId: frontendIds.length === 1 ? frontendIds[0]! : 0,
      traceBackendId: backendIds.length === 1 ? backendIds[0]! : 0,
      clientAddr: client ? client.bytes : new Uint8Array(0),
      clientPrefixLen: client ? client.prefix : 0,
      ctSample: this.wants('ct').length > 0 ? Math.max(1, this.opts.ctSample ?? 1) : 0,
    };
  }

  private backendIdsOf(address: string): number[] {
    const n = this.currentNames(true);
    return [...n.backends].filter(([, b]) => backendAddress(b.backend) === address).map(([id]) => id);
  }

  private updateDatapath(): void {
    if (!this.up) return;
    const want = this.desiredSetting();
    const key = JSON.stringify({ ...want, clientAddr: [...want.clientAddr] });
    if (key === this.written) return;
    this.written = key;
    this.writing = this.writing.then(() => this.opts.apply([{ setMonitor: want }])).then(() => undefined, (err: unknown) => {
      this.written = '';
      this.opts.log?.warn({ err: (err as Error).message }, 'datapath monitor: writing sy_monitor failed');
    });
  }

  private frontendIdsOf(service: string): number[] {
    const n = this.currentNames(true);
    return [...n.frontends].filter(([, f]) => f.service === service).map(([id]) => id);
  }

  private currentNames(fresh = false): Names {
    if (this.names && !fresh && Date.now() - this.namesAt < NAMES_TTL_MS) return this.names;
    const desired = this.opts.desired();
    const maps = this.opts.programmed();
    const resolver = new FrontendResolver(desired);
    const frontends: Names['frontends'] = new Map();
    const backends: Names['backends'] = new Map();
    const nodeOf = new Map<string, string>();
    for (const d of desired) for (const e of d.allEndpoints) nodeOf.set(hostPort(e.ip, e.port), e.nodeName);
    for (const { key, value } of maps?.services.values() ?? []) {
      const d = resolver.resolve(key, value.flags);
      if (!d) continue;
      const proto = key.proto === 6 ? 'TCP' : key.proto === 17 ? 'UDP' : String(key.proto);
      frontends.set(value.id, {
        service: serviceKeyOfPort(d.svc.name), servicePort: servicePortString(d.svc.name),
        frontend: `${frontendKind(value.flags)} ${hostPort(key.addr, key.port)}/${proto}`,
      });
    }
    for (const [id, b] of maps?.backends ?? []) {
      const ep = hostPort(b.addr, b.port);
      backends.set(id, { backend: ep, node: nodeOf.get(ep) || null });
    }
    this.names = { frontends, backends };
    this.namesAt = Date.now();
    return this.names;
  }

  /** A frontend the datapath did not name (id 0): by the packet's destination. */
  private frontendByAddress(e: DatapathEvent, n: Names): number {
    const maps = this.opts.programmed();
    for (const { key, value } of maps?.services.values() ?? []) {
      if (key.addr === e.dst && key.port === e.dport && (e.proto === 'TCP' ? 6 : 17) === key.proto && n.frontends.has(value.id)) return value.id;
    }
    return 0;
  }

  private onBatch(b: EventBatch): void {
    if (b.missed > 0) this.missed?.inc(b.missed);
    let names = this.currentNames();
    for (const raw of b.events) {
      const e = decodeEvent(raw);
      if (!e) continue;
      this.received++;
      let fe = e.frontendId || this.frontendByAddress(e, names);
      if (fe && !names.frontends.has(fe)) {
        names = this.currentNames(true); // programmed since the last look
        fe = e.frontendId || this.frontendByAddress(e, names);
      }
      const f = names.frontends.get(fe);
      const be = e.backendId ? names.backends.get(e.backendId) : undefined;
      const ev: MonitorEvent = {
        ...e, frontendId: fe,
        time: new Date(this.monoToWallMs + Number(e.monotonicNs / 1_000_000n)).toISOString(),
        node: this.opts.nodeName,
        service: f?.service ?? null, servicePort: f?.servicePort ?? null, frontend: f?.frontend ?? null,
        backend: be?.backend ?? (e.backendId ? `backend ${e.backendId}` : null), backendNode: be?.node ?? null,
      };
      this.events?.inc({ kind: ev.kind, reason: ev.reason, service: ev.service ?? '' });
      for (const s of this.subs) {
        if (monitorFilterMatches(s.filter, ev)) s.send(ev);
      }
    }
  }
}
