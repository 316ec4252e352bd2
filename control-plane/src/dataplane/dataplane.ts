// What the sync loop needs from a back end (ebpf or iptables).
import type { DesiredServicePort } from './desired-state.js';
import type { ServiceKey } from '../model/service-key.js';
import type { IPFamily } from '../util/ip.js';

export interface SyncOutcome {
  /** Number of changes written (loader ops or rules). */
  changes: number;
  detail: Record<string, number>;
  /**
   * Services ("ns/name") the back end could not program in this sync, with
   * the reason (a full map, an object the loader refused). Every other
   * Service was programmed; the caller retries these with backoff.
   */
  refused?: ReadonlyMap<ServiceKey, string>;
}

export interface SyncOptions {
  /** Read what the datapath holds and repair any drift (periodic full sync). */
  verify?: boolean;
}

/**
 * What a back end can do beyond sync, asked by the proxier and the agent
 * instead of the mode's name.
 */
export interface DataplaneCapabilities {
  /**
   * sync() programs a partial sync from `changed` alone: the proxier then
   * does not build the whole desired list (it passes an empty one).
   */
  partialSync: boolean;
  /** The back end garbage-collects its own connection tracking (the kernel's conntrack otherwise). */
  conntrackGC: boolean;
  /**
   * The IP families sync() programs (absent: IPv4 only). The proxier hands
   * it DesiredServicePorts of these families only, each marked by
   * svc.family (absent for IPv4).
   */
  ipFamilies?: readonly IPFamily[];
}

export interface Dataplane {
  readonly mode: 'ebpf' | 'iptables';
  /** Absent: none of the capabilities. */
  readonly capabilities?: DataplaneCapabilities;
  /** Prepares the back end (reads back what is programmed). */
  init(): Promise<void>;
  /**
   * Makes the datapath match `desired`; throws when it could not. `changed`,
   * when given, holds the only Services ("ns/name" -> their ports, empty when
   * deleted) that differ from the previous successful sync: a back end may
   * then touch just those.
   */
  sync(desired: DesiredServicePort[], changed?: ReadonlyMap<ServiceKey, DesiredServicePort[]>, opts?: SyncOptions): Promise<SyncOutcome>;
  /** Releases connections; leaves the datapath in place. */
  close(): Promise<void>;
  /** Re-reads what is programmed (periodic full sync); optional. */
  restore?(): Promise<void>;
  /**
   * Compares the datapath with what the back end programmed, while syncs go
   * on (entries they write meanwhile are not drift); returns how many
   * entries differ. Optional: a back end that has it and a partial path gets
   * the periodic resync in slices, and a full sync only when this finds drift.
   */
  checkDrift?(): Promise<number>;
  /**
   * Runs scratch changes (sync/warm-change-path.ts) through the back end's
   * change path on state of their own, so that V8 has compiled it before the
   * first real change: nothing programmed or tracked is touched, nothing
   * written. Returns the operations planned. Optional.
   */
  warmUp?(changes: ReadonlyArray<ReadonlyMap<ServiceKey, DesiredServicePort[]>>): Promise<number>;
}
