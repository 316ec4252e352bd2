// The iptables mode as the agent runs it: kube-proxy's rule layout through
// iptables-restore, a canary that asks for a full sync when the rules were
// flushed, and removal of the ebpf mode's programs and pins once the rules
// are programmed.
import type { Logger } from 'pino';
import type { AgentOptions } from '../../config/agent-options.js';
import { initWithRetry, type BackendHealth, type DatapathBackend } from '../backend.js';
import type { LoaderClient } from '../ebpf/loader-client.js';
import { IptablesDataplane } from './iptables-dataplane.js';

export class IptablesBackend implements DatapathBackend {
  readonly dataplane: IptablesDataplane;
  private started = false;
  private otherModeRemoved = false;

  /**
   * `loader`: the client of the ebpf mode's loader, used only to remove what
   * an ebpf run left; `onFullSyncNeeded`: the canary found the rules gone.
   */
  constructor(private readonly loader: LoaderClient, opts: AgentOptions, onFullSyncNeeded: () => void, private readonly log: Logger) {
    this.dataplane = new IptablesDataplane({
      node: {
        nodeName: opts.nodeName,
        nodeIPs: opts.nodeIP ? [opts.nodeIP] : [],
        ...(opts.iptables.clusterCIDR ? { clusterCIDR: opts.iptables.clusterCIDR } : {}),
        masqueradeAll: opts.iptables.masqueradeAll,
        masqueradeBit: opts.iptables.masqueradeBit,
        nodePortAddresses: opts.iptables.nodePortAddresses,
      },
      backend: opts.iptables.backend,
      syncPeriodMs: opts.syncPeriodMs,
      onFullSyncNeeded,
    });
  }

  setNodeIP(ip: string | undefined): void {
    this.dataplane.setNodeConfig({ nodeIPs: ip ? [ip] : [] });
  }

  async start(): Promise<void> {
    await initWithRetry(this.dataplane, (err) => this.log.error({ err: err.message }, 'dataplane init failed; retrying'));
    this.started = true;
  }

  async applyLateNodeIP(ip: string): Promise<void> {
    this.dataplane.setNodeConfig({ nodeIPs: [ip] });
  }

  /** Detaches the BPF programs and removes the pinned maps of a previous ebpf run. */
  removeOtherMode(): void {
    if (this.otherModeRemoved) return;
    this.otherModeRemoved = true;
    this.log.info({ mode: this.dataplane.mode }, 'first sync done; removing what the other datapath mode left');
    void this.loader.cleanup().then(
      () => this.log.info('removed the BPF datapath of the ebpf mode (programs detached, pins removed)'),
      (err: unknown) => this.log.debug({ err: (err as Error).message }, 'no loader to clean up'),
    ).finally(() => this.loader.close());
  }

  async stop(): Promise<void> {
    await this.dataplane.close();
  }

  health(): BackendHealth {
    return { mode: this.dataplane.mode, started: this.started, otherModeRemoved: this.otherModeRemoved };
  }

  describe(): Record<string, unknown> {
    return {};
  }
}
