// What the admin API reads: the agent's sync loop (desired state, history,
// health) and, per mode, the loader (ebpf: the real maps) or the iptables
// back end (rendered rules, iptables-save). The agent passes its Proxier, its
// LoaderClient and its IptablesDataplane, which fit these shapes as they are;
// tests pass fakes.
import type { DesiredServicePort } from '../dataplane/desired-state.js';
import type { MapEntry, MapInfo } from '../dataplane/ebpf/loader-client.js';
import type { SyncRecord } from '../sync/proxier.js';
import type { SnatPortChoice } from '../config/snat-ports.js';

/** The part of the Proxier the admin API reads. */
export interface SyncView {
  lastDesired: DesiredServicePort[];
  readonly history: SyncRecord[];
  lastSuccess: number;
  lastError: string | undefined;
  syncCount: number;
  oldestPendingChange: number;
}

/** The part of the LoaderClient the admin API uses (read-only requests). */
export interface LoaderView {
  dump(map: string, limit?: number): Promise<{ info: MapInfo; entries: MapEntry[] }>;
  status(): Promise<Record<string, any>>;
}

/** The part of the IptablesDataplane the admin API reads. */
export interface IptablesView {
  lastRestoreInput: string | undefined;
  backend?: string | undefined;
  /** iptables-save of the namespace the agent programs (the source of truth when it works). */
  save?(): Promise<string>;
}

export interface AdminSource {
  mode: 'ebpf' | 'iptables';
  /** Why this mode (mode selection's reason). */
  modeReason: string;
  nodeName: string;
  /** The agent's --maglev-seed (explain prefers the seed sy_config holds). */
  seed: number;
  /** A pending change older than this makes the proxy unhealthy, ms (as /healthz). */
  healthTimeoutMs: number;
  /** Pod CIDR of the cluster when known: sources inside it use the internal-scope frontends. */
  clusterCIDR?: string | undefined;
  sync: SyncView;
  loader?: LoaderView | undefined;
  iptables?: IptablesView | undefined;
  /** ebpf mode: the SNAT port range the agent chose at start (config/snat-ports.ts). */
  snat?: SnatPortChoice | undefined;
}
