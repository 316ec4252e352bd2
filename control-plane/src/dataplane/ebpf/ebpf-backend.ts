// The ebpf mode as the agent runs it: the loader-backed Dataplane, tc/XDP on
// the node's devices (DeviceWatcher), socket-level balancing on a cgroup,
// sy_config flags the devices call for, sy_conntrack's GC, and removal of
// the iptables mode's rules once the maps are programmed.
import type { Logger } from 'pino';
import type { AgentOptions } from '../../config/agent-options.js';
import type { SnatPortChoice } from '../../config/snat-ports.js';
import { DeviceWatcher, deviceMatcher, vethDevices } from '../../devices/device-watcher.js';
import { initWithRetry, type BackendHealth, type DatapathBackend } from '../backend.js';
import { cleanupAll } from '../iptables/cleanup.js';
import { commandExec } from '../iptables/runner.js';
import { CONFIG_FLAGS, EbpfDataplane } from './ebpf-dataplane.js';
import type { LoaderClient } from './loader-client.js';

export class EbpfBackend implements DatapathBackend {
  readonly dataplane: EbpfDataplane;
  private devices: DeviceWatcher | undefined;
  private started = false;
  private otherModeRemoved = false;

  constructor(
    private readonly loader: LoaderClient,
    private readonly opts: AgentOptions,
    snat: SnatPortChoice | undefined,
    private readonly log: Logger,
  ) {
    this.dataplane = new EbpfDataplane(loader, {
      seed: opts.maglevSeed, sizing: opts.maglevSizing, nodeIP: opts.nodeIP ?? '0.0.0.0',
      nodePortAddresses: opts.iptables.nodePortAddresses,
      mapMaxEntries: opts.mapMaxEntries,
      ...(snat ? { snatPorts: snat.range } : {}),
      ...(opts.serviceCIDR ? { serviceCIDR: opts.serviceCIDR } : {}),
      ...(opts.serviceCIDR6 ? { serviceCIDR6: opts.serviceCIDR6 } : {}),
    }, log);
    if (opts.nodeIP6) this.dataplane.setNodeIP6(opts.nodeIP6);
  }

  setNodeIP(ip: string | undefined): void {
    this.dataplane.setNodeIP(ip ?? '0.0.0.0');
  }

  setNodeIP6(ip: string | undefined): void {
    this.dataplane.setNodeIP6(ip);
  }

  async applyLateNodeIP6(ip: string): Promise<void> {
    this.dataplane.setNodeIP6(ip);
    try {
      await this.dataplane.init(); // sy_config6.node_addr
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'writing the node IPv6 address to sy_config6 failed; the next full sync retries');
    }
  }

  async start(): Promise<void> {
    await this.chooseConfigFlags();
    await initWithRetry(this.dataplane, (err) => this.log.error({ err: err.message }, 'dataplane init failed; retrying'));
    this.devices = new DeviceWatcher(this.loader, { external: deviceMatcher(this.opts.devices), pod: deviceMatcher(this.opts.podDevices), xdp: this.opts.xdp },
      this.log, () => this.reattachSocketLB());
    await this.devices.start();
    await this.setSocketLB();
    this.dataplane.conntrackGc.start();
    this.started = true;
  }

  /** sy_config flags that depend on the devices (written by init()). */
  private async chooseConfigFlags(): Promise<void> {
    if (this.opts.xdp) {
      // XDP_TX on a veth reaches its peer only if the peer has NAPI (XDP or GRO)
      // set up; external veths (labs, containers) leave that case to tc.
      const veths = await vethDevices().catch(() => new Set<string>());
      const external = deviceMatcher(this.opts.devices);
      if ([...veths].some(external)) {
        this.dataplane.addConfigFlags(CONFIG_FLAGS.NO_XDP_TX);
        this.log.info('external devices are veths: XDP forwards to other devices, tc sends back out of the ingress device');
      }
    }
    if (this.opts.socketLB && this.opts.podDevices) {
      // tc serves the pods' devices: their connected UDP sockets are left to it,
      // so a deleted backend is replaced per datagram (socket-level balancing
      // would have pointed the socket at the backend for good).
      this.dataplane.addConfigFlags(CONFIG_FLAGS.POD_UDP_CONNECT_TC);
    }
  }

  /** Socket-level balancing on (attach) or off (make sure nothing is left attached). */
  private async setSocketLB(): Promise<void> {
    const cgroup = this.opts.cgroupPath;
    if (!cgroup) return;
    try {
      if (this.opts.socketLB) {
        const r = await this.loader.attachSocketLB(cgroup);
        this.log.info({ cgroup, mode: r.mode }, 'socket-level balancing attached');
      } else {
        await this.loader.detachSocketLB(cgroup).catch(() => undefined);
        this.log.info({ cgroup }, 'socket-level balancing off');
      }
    } catch (err) {
      this.log.warn({ cgroup, err: (err as Error).message }, 'socket-level balancing unavailable; the tc path serves pods, host traffic to ClusterIPs needs it');
    }
  }

  /** A restarted (perhaps upgraded) loader: the socket-level hooks move to its programs too. */
  private async reattachSocketLB(): Promise<void> {
    if (!this.opts.cgroupPath || !this.opts.socketLB) return;
    const r = await this.loader.attachSocketLB(this.opts.cgroupPath);
    this.log.info({ cgroup: this.opts.cgroupPath, mode: r.mode }, 'socket-level balancing attached again');
  }

  async applyLateNodeIP(ip: string): Promise<void> {
    this.dataplane.setNodeIP(ip);
    // sy_config carries the node address (SNAT): init() writes it and reads the maps back.
    try {
      await this.dataplane.init();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'writing the node IP to sy_config failed; the next full sync retries');
    }
  }

  /** Kube-proxy-style rules a previous iptables run (ours or kube-proxy's) left. */
  removeOtherMode(): void {
    if (this.otherModeRemoved) return;
    this.otherModeRemoved = true;
    this.log.info({ mode: this.dataplane.mode }, 'first sync done; removing what the other datapath mode left');
    void cleanupAll(commandExec()).then(
      (reports) => {
        if (reports.length > 0) this.log.info({ reports }, 'removed iptables rules of the iptables mode');
      },
      (err: unknown) => this.log.warn({ err: (err as Error).message }, 'could not check for iptables rules of the iptables mode'),
    );
  }

  async stop(): Promise<void> {
    this.devices?.stop();
    await this.dataplane.close();
  }

  health(): BackendHealth {
    return { mode: this.dataplane.mode, started: this.started, otherModeRemoved: this.otherModeRemoved };
  }

  describe(): Record<string, unknown> {
    return { devices: this.opts.devices };
  }
}
