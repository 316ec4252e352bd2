// One datapath back end as the agent runs it: the Dataplane the proxier
// syncs, plus what the agent does around it (set-up with retries, devices and
// hooks, the node address, periodic work, removing what the other mode left).
// The agent picks one by mode and wires the generic pieces; it never asks
// which mode it runs.
import type { Dataplane } from './dataplane.js';

export interface BackendHealth {
  mode: Dataplane['mode'];
  /** start() finished: the datapath is set up and the proxier may sync. */
  started: boolean;
  /** What the other mode left was removed (after the first successful sync). */
  otherModeRemoved: boolean;
}

export interface DatapathBackend {
  readonly dataplane: Dataplane;
  /** The node address (undefined: not known yet); takes effect at start(). */
  setNodeIP(ip: string | undefined): void;
  /**
   * Sets the datapath up: initialises the Dataplane (retrying until it
   * answers), attaches what the mode attaches, starts its periodic work.
   */
  start(): Promise<void>;
  /** The node address was learned after start(): programs it; the caller then asks for a full sync. */
  applyLateNodeIP(ip: string): Promise<void>;
  /** The node's IPv6 address (a back end that programs IPv6): as setNodeIP, for IPv6 NodePorts and SNAT. */
  setNodeIP6?(ip: string | undefined): void;
  /** As applyLateNodeIP, for the IPv6 address. */
  applyLateNodeIP6?(ip: string): Promise<void>;
  /**
   * Removes what the other mode left (a previous run in the other mode),
   * called once this mode's datapath is programmed; later calls do nothing.
   */
  removeOtherMode(): void;
  /** Stops timers, watchers and connections; the datapath stays in place. */
  stop(): Promise<void>;
  health(): BackendHealth;
  /** Facts for the agent's "running" log line. */
  describe(): Record<string, unknown>;
}

/** Dataplane.init() until it succeeds: a loader or iptables that is not there yet is waited for. */
export async function initWithRetry(dp: Dataplane, onError: (err: Error) => void, retryMs = 1000): Promise<void> {
  for (;;) {
    try {
      await dp.init();
      return;
    } catch (err) {
      onError(err as Error);
      await new Promise((r) => setTimeout(r, retryMs));
    }
  }
}
