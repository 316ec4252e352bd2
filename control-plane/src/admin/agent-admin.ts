// Everything operator-facing the agent runs next to its sync loop, behind
// one call: the admin API (TCP and unix socket), the Prometheus metrics
// server, the sync metrics hooked onto the Proxier, and a loader watchdog
// that makes a vanished loader show at once (a sync is requested, it fails,
// the status says why; /healthz turns 503 once that change waited past the
// health timeout; when the loader is back the retry succeeds -> 200).
import type { SnatPortChoice } from '../config/snat-ports.js';
import type { Logger } from 'pino';
import type { Dataplane } from '../dataplane/dataplane.js';
import type { MaglevSizing } from '../dataplane/maglev.js';
import type { MapsContent } from '../dataplane/ebpf/maps-content.js';
import type { MapOp_op } from '../dataplane/ebpf/loader-messages.js';
import { DatapathMonitor } from '../monitor/datapath-monitor.js';
import { startMetricsServer, DEFAULT_METRICS_BIND } from '../metrics/metrics-server.js';
import { ProxyMetrics } from '../metrics/proxy-metrics.js';
import type { SyncRecord } from '../sync/proxier.js';
import { parseBindAddress } from '../util/bind-address.js';
import { DEFAULT_ADMIN_BIND, startAdminServer, type AdminServer } from './server.js';
import type { AdminSource, DatapathView, IptablesView, LoaderView, SyncView } from './source.js';

export interface AgentAdminOptions {
  /** undefined: no TCP admin listener. */
  adminBind: { host: string; port: number } | undefined;
  adminSocket: string | undefined;
  /** undefined: no metrics listener (the admin API still serves /metrics). */
  metricsBind: { host: string; port: number } | undefined;
  /** Loader liveness check period, ms (0: off). */
  loaderWatchMs: number;
}

export const AGENT_ADMIN_USAGE = `  --admin-bind-address H:P     admin API and status page /ui/ (default 127.0.0.1:10252; "" = off)
  --admin-socket PATH          also serve the admin API on this unix socket (mode 0600)
  --metrics-bind-address H:P   Prometheus /metrics (default 127.0.0.1:10249; "" = off)`;

const FLAGS = ['--admin-bind-address', '--admin-socket', '--metrics-bind-address'] as const;

/** Takes the admin flags out of the agent's argv; the rest goes to parseAgentOptions. Throws on a bad value. */
export function extractAdminOptions(argv: string[]): { admin: AgentAdminOptions; rest: string[] } {
  const values = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (!(FLAGS as readonly string[]).includes(name)) {
      rest.push(a);
      continue;
    }
    let v: string | undefined;
    if (eq > 0) v = a.slice(eq + 1);
    else {
      v = argv[++i];
      if (v === undefined) throw new Error(`option ${name} needs a value`);
    }
    values.set(name, v);
  }
  const bind = (flag: string, def: { host: string; port: number }): { host: string; port: number } | undefined => {
    const v = values.get(flag);
    if (v === undefined) return { ...def };
    if (v === '') return undefined;
    try {
      return parseBindAddress(v);
    } catch {
      throw new Error(`${flag} ${JSON.stringify(v)} is not HOST:PORT`);
    }
  };
  const sock = values.get('--admin-socket');
  if (sock !== undefined && !sock.startsWith('/')) throw new Error(`--admin-socket must be an absolute path, not ${JSON.stringify(sock)}`);
  return {
    admin: {
      adminBind: bind('--admin-bind-address', DEFAULT_ADMIN_BIND),
      adminSocket: sock || undefined,
      metricsBind: bind('--metrics-bind-address', DEFAULT_METRICS_BIND),
      loaderWatchMs: 2000,
    },
    rest,
  };
}

export interface AgentAdminDeps {
  options: AgentAdminOptions;
  proxier: SyncView & { onSync: ((r: SyncRecord, pendingSince: number) => void) | undefined; requestSync(full?: boolean): void };
  dataplane: Dataplane;
  mode: { mode: 'ebpf' | 'iptables'; reason: string };
  nodeName: string;
  seed: number;
  maglevSizing?: MaglevSizing | undefined;
  healthTimeoutMs: number;
  clusterCIDR?: string | undefined;
  clusterCIDR6?: string | undefined;
  /** Objects with problems and frontend conflicts, for /v1/status. */
  objects?: AdminSource['objects'];
  /** Extra /v1/status fields: API server connectivity, loader wait. */
  dependencies?: () => Record<string, unknown>;
  /** ebpf mode: the SNAT port range chosen at start. */
  snat?: SnatPortChoice | undefined;
  /** ebpf mode: the loader's socket, for the datapath monitor's event stream (a connection of its own). */
  loaderSocket?: string | undefined;
  log: Logger;
}

export interface AgentAdmin {
  metrics: ProxyMetrics;
  admin: AdminServer;
  /** Call from the Service informer handler (add, update, delete). */
  serviceChanged(svc?: { metadata?: { annotations?: Record<string, string> | undefined } | undefined }): void;
  /** Call from the EndpointSlice informer handler (add, update, delete). */
  endpointSliceChanged(slice?: { metadata?: { annotations?: Record<string, string> | undefined } | undefined }): void;
  close(): Promise<void>;
}

/** The loader of an EbpfDataplane, or the rules of an IptablesDataplane, without importing either. */
function backendViews(dp: Dataplane): {
  loader?: LoaderView; apply?: (ops: MapOp_op[]) => Promise<unknown>; programmed?: () => MapsContent | undefined; datapath?: DatapathView; iptables?: IptablesView; iptablesCounts?: () => { filterRules: number; natRules: number } | undefined;
} {
  const any = dp as unknown as Record<string, any>;
  if (dp.mode === 'ebpf' && any.loader) {
    return {
      loader: any.loader as LoaderView,
      ...(typeof any.loader.apply === 'function' ? { apply: (ops: MapOp_op[]) => any.loader.apply(ops) as Promise<unknown> } : {}),
      ...('programmedMaps' in any ? { programmed: () => any.programmedMaps as MapsContent | undefined } : {}),
      ...(typeof any.mapPressure === 'function' ? { datapath: dp as unknown as DatapathView } : {}),
    };
  }
  if (dp.mode === 'iptables') {
    return {
      iptables: {
        get lastRestoreInput() { return any.lastRestoreInput as string | undefined; },
        get backend() { return any.backend as string | undefined; },
        save: () => (any.runner as { save(): Promise<string> }).save(),
      },
      iptablesCounts: () => any.lastRender?.counts as { filterRules: number; natRules: number } | undefined,
    };
  }
  return {};
}

export async function startAgentAdmin(d: AgentAdminDeps): Promise<AgentAdmin> {
  const views = backendViews(d.dataplane);
  const metrics = new ProxyMetrics({
    mode: d.mode.mode, modeReason: d.mode.reason, loader: views.loader,
    desired: () => d.proxier.lastDesired,
    ...(views.programmed ? { programmed: views.programmed } : {}),
    refused: () => d.proxier.refused,
    datapath: views.datapath,
    ...(views.iptablesCounts ? { iptablesCounts: views.iptablesCounts } : {}),
  });
  metrics.attach(d.proxier);
  const monitor = d.mode.mode === 'ebpf' && views.apply && d.loaderSocket
    ? new DatapathMonitor({
        socketPath: d.loaderSocket, apply: views.apply, nodeName: d.nodeName,
        programmed: () => views.programmed?.(), desired: () => d.proxier.lastDesired,
        registry: metrics.registry, log: d.log,
      })
    : undefined;
  monitor?.start();
  const source: AdminSource = {
    mode: d.mode.mode, modeReason: d.mode.reason, nodeName: d.nodeName, seed: d.seed, maglevSizing: d.maglevSizing, healthTimeoutMs: d.healthTimeoutMs,
    clusterCIDR: d.clusterCIDR, clusterCIDR6: d.clusterCIDR6, sync: d.proxier, loader: views.loader, iptables: views.iptables, datapath: views.datapath, objects: d.objects,
    dependencies: d.dependencies,
    snat: d.snat,
    monitor,
  };
  // As kube-proxy's metrics server: a port that cannot be bound is logged, the agent goes on.
  let admin: AdminServer;
  try {
    admin = await startAdminServer({ source, metrics, bind: d.options.adminBind, socketPath: d.options.adminSocket });
  } catch (err) {
    d.log.error({ err: (err as Error).message, bind: d.options.adminBind, socket: d.options.adminSocket }, 'admin API cannot listen; trying the unix socket alone');
    admin = await startAdminServer({ source, metrics, bind: undefined, socketPath: d.options.adminSocket });
  }
  let metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | undefined;
  if (d.options.metricsBind) {
    metricsServer = await startMetricsServer(metrics, d.options.metricsBind).catch((err: unknown) => {
      d.log.error({ err: (err as Error).message, bind: d.options.metricsBind }, 'metrics server cannot listen (the admin API serves /metrics too)');
      return undefined;
    });
  }
  d.log.info({ admin: admin.address, adminSocket: admin.socketPath, metrics: metricsServer ? d.options.metricsBind : undefined }, 'admin API and metrics listening');

  // Loader watchdog: a cheap read; a failure asks for a sync (which fails
  // and turns /healthz 503), the first success after failures asks again so
  // the recovery does not wait for the backoff.
  let timer: NodeJS.Timeout | undefined;
  if (views.loader && d.options.loaderWatchMs > 0) {
    const loader = views.loader;
    let failing = false;
    let busy = false;
    timer = setInterval(() => {
      if (busy) return;
      busy = true;
      loader.dump('sy_config', 1).then(() => {
        if (failing) {
          failing = false;
          d.log.info('loader answers again');
          d.proxier.requestSync(true);
        }
      }, (err: unknown) => {
        metrics.loaderErrors.inc();
        if (!failing) d.log.warn({ err: (err as Error).message }, 'loader does not answer');
        failing = true;
        d.proxier.requestSync(true);
      }).finally(() => {
        busy = false;
      });
    }, d.options.loaderWatchMs);
    timer.unref();
  }

  return {
    metrics, admin,
    serviceChanged: (svc) => metrics.serviceChanged(svc),
    endpointSliceChanged: (slice) => metrics.endpointSliceChanged(slice),
    async close() {
      if (timer) clearInterval(timer);
      monitor?.close();
      await Promise.allSettled([admin.close(), metricsServer?.close()]);
    },
  };
}
