// What the admin API reads: the agent's sync loop (desired state, history,
// health) and, per mode, the loader (ebpf: the real maps) or the iptables
// back end (rendered rules, iptables-save). The agent passes its Proxier, its
// LoaderClient and its IptablesDataplane, which fit these shapes as they are;
// tests pass fakes.
import type { DesiredServicePort } from '../dataplane/desired-state.js';
import type { MapEntry, MapInfo } from '../dataplane/ebpf/loader-client.js';
import type { RefusedService, SyncRecord } from '../sync/proxier.js';
import type { MaglevSizing } from '../dataplane/maglev.js';
import type { ObjectReport } from '../model/object-report.js';
import type { SnatPortChoice } from '../config/snat-ports.js';
import type { MonitorEvent, MonitorFilter } from '../monitor/datapath-monitor.js';

/** The part of the Proxier the admin API reads. */
export interface SyncView {
  lastDesired: DesiredServicePort[];
  readonly history: SyncRecord[];
  lastSuccess: number;
  lastError: string | undefined;
  syncCount: number;
  oldestPendingChange: number;
  /** Services the datapath refused ("ns/name" -> why), retried with backoff. */
  readonly refused?: ReadonlyMap<string, RefusedService>;
}

/** What the eBPF back end knows of its maps without reading them. */
export interface DatapathView {
  mapPressure(): Array<{ map: string; entries: number; capacity: number; ratio: number; warning: boolean }>;
  /** Map entries put back (or removed) by the periodic drift check, since start. */
  readonly driftRepaired: number;
  readonly driftByMap: ReadonlyMap<string, number>;
}

/** The part of the LoaderClient the admin API uses (read-only requests). */
export interface LoaderView {
  /** Every entry (all pages), or the first `limit`. */
  dump(map: string, limit?: number): Promise<{ info: MapInfo; entries: MapEntry[] }>;
  /** Single keys: the value, or undefined when absent (explain, conntrack joins). */
  lookup(map: string, keys: Uint8Array[]): Promise<Array<Uint8Array | undefined>>;
  /** skipEntryCounts: MapInfo.entries left at 0 (no walk of the maps); countMaps: count only these. */
  status(opts?: { skipEntryCounts?: boolean; countMaps?: string[] }): Promise<Record<string, any>>;
}

/** The part of the IptablesDataplane the admin API reads. */
export interface IptablesView {
  lastRestoreInput: string | undefined;
  backend?: string | undefined;
  /** iptables-save of the namespace the agent programs (the source of truth when it works). */
  save?(): Promise<string>;
}

/** The datapath monitor (monitor/datapath-monitor.ts): events to subscribers. */
export interface MonitorView {
  subscribe(filter: MonitorFilter, send: (e: MonitorEvent) => void): { close(): void };
  /** Resolves once the datapath settings (tracing) the subscribers want are written. */
  settled(): Promise<void>;
  readonly up: boolean;
  readonly lastError: string | undefined;
}

export interface AdminSource {
  mode: 'ebpf' | 'iptables';
  /** Why this mode (mode selection's reason). */
  modeReason: string;
  nodeName: string;
  /** The agent's --maglev-seed (explain prefers the seed sy_config holds). */
  seed: number;
  /** The agent's Maglev floor and ceiling (default when absent), to say how each table's size was chosen. */
  maglevSizing?: MaglevSizing | undefined;
  /** A pending change older than this makes the proxy unhealthy, ms (as /healthz). */
  healthTimeoutMs: number;
  /** Pod CIDR of the cluster when known: sources inside it use the internal-scope frontends. */
  clusterCIDR?: string | undefined;
  /** The IPv6 pod CIDR when known (IPv6 sources). */
  clusterCIDR6?: string | undefined;
  sync: SyncView;
  loader?: LoaderView | undefined;
  iptables?: IptablesView | undefined;
  datapath?: DatapathView | undefined;
  /** Objects with problems and frontend conflicts (model/object-report.ts). */
  objects?: (() => ObjectReport) | undefined;
  /** What the agent depends on and may lose (API server, loader wait), as JSON for /v1/status. */
  dependencies?: (() => Record<string, unknown>) | undefined;
  /** ebpf mode: the SNAT port range the agent chose at start (config/snat-ports.ts). */
  snat?: SnatPortChoice | undefined;
  /** ebpf mode: the datapath monitor (GET /v1/monitor). */
  monitor?: MonitorView | undefined;
}
