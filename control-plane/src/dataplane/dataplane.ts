// What the sync loop needs from a back end (ebpf or iptables).
import type { DesiredServicePort } from './desired-state.js';

export interface SyncOutcome {
  /** Number of changes written (loader ops or rules). */
  changes: number;
  detail: Record<string, number>;
}

export interface Dataplane {
  readonly mode: 'ebpf' | 'iptables';
  /** Prepares the back end (reads back what is programmed). */
  init(): Promise<void>;
  /**
   * Makes the datapath match `desired`; throws when it could not. `changed`,
   * when given, holds the only Services ("ns/name" -> their ports, empty when
   * deleted) that differ from the previous successful sync: a back end may
   * then touch just those.
   */
  sync(desired: DesiredServicePort[], changed?: ReadonlyMap<string, DesiredServicePort[]>): Promise<SyncOutcome>;
  /** Releases connections; leaves the datapath in place. */
  close(): Promise<void>;
  /** Re-reads what is programmed (periodic full sync); optional. */
  restore?(): Promise<void>;
}
