// The iptables mode as the agent runs it: kube-proxy's rule layout through
// iptables-restore, a canary that asks for a full sync when the rules were
// flushed, and removal of the ebpf mode's programs and pins once the rules
// are programmed. One IptablesDataplane per served family (iptables for IPv4,
// ip6tables for IPv6), as kube-proxy runs one proxier per family; both use
// the back end (legacy or nft) chosen for the first family.
import type { Logger } from 'pino';
import type { AgentOptions } from '../../config/agent-options.js';
import { initWithRetry, type BackendHealth, type DatapathBackend } from '../backend.js';
import type { LoaderClient } from '../ebpf/loader-client.js';
import { IptablesDataplane } from './iptables-dataplane.js';
import { DualStackIptablesDataplane } from './dual-stack-dataplane.js';
import { parseAddress, type IPFamily } from '../../util/ip.js';
import { clusterCIDRFor } from './render.js';

export class IptablesBackend implements DatapathBackend {
  /**
   * What the proxier syncs: the family's IptablesDataplane when one family
   * is served, a DualStackIptablesDataplane (both families' ports, split by
   * svc.family) when two are.
   */
  readonly dataplane: IptablesDataplane | DualStackIptablesDataplane;
  /** One back end per served family, in the order given. */
  readonly dataplanes: ReadonlyMap<IPFamily, IptablesDataplane>;
  private started = false;
  private otherModeRemoved = false;

  /**
   * `loader`: the client of the ebpf mode's loader, used only to remove what
   * an ebpf run left; `onFullSyncNeeded`: the canary found the rules gone;
   * `families`: the families the agent serves (default IPv4 only, as
   * before dual-stack). `--cluster-cidr` may be a dual-stack "v4,v6" pair:
   * each family takes its own entry.
   */
  constructor(private readonly loader: LoaderClient, opts: AgentOptions, onFullSyncNeeded: () => void, private readonly log: Logger,
    families: readonly IPFamily[] = ['IPv4']) {
    const list: readonly IPFamily[] = families.length > 0 ? [...new Set(families)] : ['IPv4'];
    const dataplanes = new Map<IPFamily, IptablesDataplane>();
    for (const family of list) {
      // --cluster-cidr "v4,v6" arrives parsed into clusterCIDR and clusterCIDR6.
      const clusterCIDR = clusterCIDRFor([opts.iptables.clusterCIDR, opts.iptables.clusterCIDR6].filter(Boolean).join(','), family);
      dataplanes.set(family, new IptablesDataplane({
        family,
        node: {
          nodeName: opts.nodeName,
          nodeIPs: (family === 'IPv6' ? opts.nodeIP6 : opts.nodeIP) ? [(family === 'IPv6' ? opts.nodeIP6 : opts.nodeIP)!] : [],
          ...(clusterCIDR ? { clusterCIDR } : {}),
          masqueradeAll: opts.iptables.masqueradeAll,
          masqueradeBit: opts.iptables.masqueradeBit,
          nodePortAddresses: opts.iptables.nodePortAddresses,
        },
        backend: opts.iptables.backend,
        syncPeriodMs: opts.syncPeriodMs,
        onFullSyncNeeded,
        // No fixed timeout: a long restore is reported while it runs (and in switchyard_iptables_command_running_*).
        onCommandRunning: (r) => log.warn({ family, command: r.argv.filter((x) => !x.startsWith('-')).slice(-1)[0], pid: r.pid, elapsedMs: r.elapsedMs, cpuMs: r.cpuMs, idleMs: r.idleMs },
          'iptables command still running'),
        // route_localnet and the other sysctls are the IPv4 family's business.
      }));
    }
    this.dataplanes = dataplanes;
    this.dataplane = dataplanes.size > 1 ? new DualStackIptablesDataplane(dataplanes) : dataplanes.get(list[0]!)!;
  }

  /** The node address of its family's back end (IPv4 when unknown). */
  setNodeIP(ip: string | undefined): void {
    const family = (ip ? parseAddress(ip)?.family : undefined) ?? 'IPv4';
    this.dataplanes.get(family)?.setNodeConfig({ nodeIPs: ip ? [ip] : [] });
  }

  /** The node's addresses of every family (each back end takes the first of its own). */
  setNodeIPs(ips: readonly string[]): void {
    for (const dp of this.dataplanes.values()) dp.setNodeConfig({ nodeIPs: [...ips] });
  }

  /** The node's IPv6 address (a dual-stack agent's second node IP). */
  setNodeIP6(ip: string | undefined): void {
    const dp = this.dataplanes.get('IPv6');
    if (dp) dp.setNodeConfig({ nodeIPs: ip ? [ip] : [] });
  }

  async start(): Promise<void> {
    // Both families' back ends (the second takes the first's legacy/nft choice).
    await initWithRetry(this.dataplane, (err) => this.log.error({ err: err.message }, 'dataplane init failed; retrying'));
    this.started = true;
  }

  async applyLateNodeIP6(ip: string): Promise<void> {
    this.setNodeIP6(ip);
  }

  async applyLateNodeIP(ip: string): Promise<void> {
    const family = parseAddress(ip)?.family;
    for (const dp of this.dataplanes.values()) if (dp.family === family) dp.setNodeConfig({ nodeIPs: [ip] });
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
    for (const dp of this.dataplanes.values()) await dp.close();
  }

  health(): BackendHealth {
    return { mode: this.dataplane.mode, started: this.started, otherModeRemoved: this.otherModeRemoved };
  }

  describe(): Record<string, unknown> {
    return this.dataplanes.size > 1 ? { ipFamilies: [...this.dataplanes.keys()] } : {};
  }
}
