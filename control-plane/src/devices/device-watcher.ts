// Keeps the tc program attached to every device of the node's network
// namespace that matches --devices: at start, on link events (`ip monitor`),
// when the loader connection is renewed, and on a periodic reconcile that
// catches anything the monitor missed. The period is long (30 s) while the
// monitor runs and short (2 s) when it does not: listing links spawns `ip`,
// and a fork of a process holding hundreds of MiB blocks its event loop for
// 10-30 ms (page tables copied), which every change arriving then waits out.
// A device is known by name and ifindex: one deleted and recreated under the
// same name (a new ifindex) is attached again. After the loader reconnects
// (restarted, perhaps upgraded) every device is attached again, which moves
// the pinned links to the programs the new loader loaded.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import type { LoaderClient } from '../dataplane/ebpf/loader-client.js';

const execFileP = promisify(execFile);

/** "eth0,syp+" -> matcher; a trailing + matches any suffix (iptables style). */
export function deviceMatcher(spec: string): (name: string) => boolean {
  const pats = spec.split(',').map((s) => s.trim()).filter(Boolean);
  return (name) => pats.some((p) => (p.endsWith('+') ? name.startsWith(p.slice(0, -1)) : name === p));
}

export async function listLinks(): Promise<string[]> {
  return (await listLinkIndexes()).map((l) => l.ifname);
}

export async function listLinkIndexes(): Promise<Array<{ ifname: string; ifindex: number }>> {
  const { stdout } = await execFileP('ip', ['-j', 'link', 'show']);
  return JSON.parse(stdout) as Array<{ ifname: string; ifindex: number }>;
}

export interface DeviceRoles {
  /** The node's external devices (--devices): tc role EXTERNAL, and XDP when enabled. */
  external: (name: string) => boolean;
  /** Pod-facing devices (--pod-devices): tc role POD. */
  pod: (name: string) => boolean;
  xdp: boolean;
}

/** Names of the veth devices among the namespace's links. */
export async function vethDevices(): Promise<Set<string>> {
  const { stdout } = await execFileP('ip', ['-j', '-d', 'link', 'show']);
  const links = JSON.parse(stdout) as Array<{ ifname: string; linkinfo?: { info_kind?: string } }>;
  return new Set(links.filter((l) => l.linkinfo?.info_kind === 'veth').map((l) => l.ifname));
}

/** Safety-net reconcile period while `ip monitor` reports link events. */
export const RECONCILE_PERIOD_MONITORED_MS = 30_000;
/** Reconcile period without the monitor (it failed to start or exited). */
export const RECONCILE_PERIOD_UNMONITORED_MS = 2000;

export class DeviceWatcher {
  private readonly attached = new Map<string, string>();
  private readonly ifindexes = new Map<string, number>();
  private loaderConnections = -1;
  private monitor: ChildProcess | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly loader: LoaderClient,
    private readonly roles: DeviceRoles,
    private readonly log: Logger,
    /** Called after the loader connection was renewed, once the devices are attached again (socket-LB re-attach). */
    private readonly onLoaderRenewed: () => Promise<void> = async () => undefined,
  ) {}

  private matches(name: string): boolean {
    return this.roles.external(name) || this.roles.pod(name);
  }

  /** Devices and how the program is attached to them ("tcx", "clsact"). */
  devices(): Record<string, string> {
    return Object.fromEntries(this.attached);
  }

  async start(): Promise<void> {
    const monitor = spawn('ip', ['-o', 'monitor', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.monitor = monitor;
    monitor.stdout!.on('data', () => void this.reconcile());
    let lost = false;
    const monitorLost = (why: string): void => {
      if (lost || this.stopped) return;
      lost = true;
      this.log.warn({ why, periodMs: RECONCILE_PERIOD_UNMONITORED_MS }, 'ip monitor is not running; reconciling devices periodically');
      this.every(RECONCILE_PERIOD_UNMONITORED_MS);
    };
    monitor.on('error', (err) => monitorLost(err.message));
    monitor.on('exit', (code, signal) => monitorLost(`exited (${signal ?? code})`));
    // A renewed connection may be a new loader: attach again now, not at the next period.
    this.loader.onConnect((n) => {
      if (n > 1 && !this.stopped) void this.reconcile();
    });
    this.every(RECONCILE_PERIOD_MONITORED_MS);
    await this.reconcile();
  }

  private every(ms: number): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => void this.reconcile(), ms);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.monitor && this.monitor.exitCode === null) this.monitor.kill('SIGTERM');
  }

  reconcile(): Promise<void> {
    if (this.reconciling) {
      this.again = true;
      return this.reconciling;
    }
    this.reconciling = (async () => {
      do {
        this.again = false;
        await this.reconcileOnce();
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.reconciling = undefined;
    });
    return this.reconciling;
  }

  private async reconcileOnce(): Promise<void> {
    let found: Array<{ ifname: string; ifindex: number }>;
    try {
      found = (await listLinkIndexes()).filter((l) => this.matches(l.ifname));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'listing links failed');
      return;
    }
    const links = found.map((l) => l.ifname);
    const present = new Set(links);
    const reconnected = this.loaderConnections >= 0 && this.loader.connections !== this.loaderConnections;
    this.loaderConnections = this.loader.connections;
    if (reconnected && this.attached.size > 0) {
      this.log.info({ devices: this.attached.size }, 'loader connection renewed (restart or upgrade): attaching every device again');
      this.attached.clear();
    }
    if (reconnected) {
      await this.onLoaderRenewed().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'attaching again after the loader came back failed'));
    }
    for (const { ifname: name, ifindex } of found) {
      const known = this.ifindexes.get(name);
      if (this.attached.has(name) && known !== undefined && known !== ifindex) {
        this.log.info({ device: name, oldIfindex: known, ifindex }, 'device recreated under the same name; attaching again');
        this.attached.delete(name);
      }
      this.ifindexes.set(name, ifindex);
      if (this.attached.has(name)) continue;
      try {
        const external = this.roles.external(name);
        const r = await this.loader.attach(name, 'TC_INGRESS', external ? 'EXTERNAL' : 'POD');
        let mode = `tc:${r.mode}`;
        if (external && this.roles.xdp) {
          try {
            const x = await this.loader.attach(name, 'XDP');
            mode += ` xdp:${x.mode}`;
          } catch (err) {
            // tc does the same job where XDP cannot attach; say so.
            this.log.warn({ device: name, err: (err as Error).message }, 'XDP could not attach; tc handles external traffic');
          }
        }
        this.attached.set(name, mode);
        this.log.info({ device: name, role: external ? 'external' : 'pod', mode }, 'attached datapath');
      } catch (err) {
        // The device may have vanished between the listing and the attach.
        this.log.warn({ device: name, err: (err as Error).message }, 'attach failed');
      }
    }
    for (const name of [...this.attached.keys()]) {
      if (present.has(name)) continue;
      const mode = this.attached.get(name) ?? '';
      this.attached.delete(name);
      this.ifindexes.delete(name);
      try {
        await this.loader.detach(name, 'TC_INGRESS');
        if (mode.includes('xdp:')) await this.loader.detach(name, 'XDP');
      } catch {
        // The loader forgets attachments of devices that no longer exist on its own.
      }
    }
  }
}
