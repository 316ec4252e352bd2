// Keeps the tc program attached to every device of the node's network
// namespace that matches --devices: at start, on link events (`ip monitor`)
// and on a periodic reconcile that catches anything the monitor missed.
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
  const { stdout } = await execFileP('ip', ['-j', 'link', 'show']);
  return (JSON.parse(stdout) as Array<{ ifname: string }>).map((l) => l.ifname);
}

export class DeviceWatcher {
  private readonly attached = new Map<string, string>();
  private monitor: ChildProcess | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly loader: LoaderClient,
    private readonly matches: (name: string) => boolean,
    private readonly log: Logger,
    private readonly periodMs = 2000,
  ) {}

  /** Devices and how the program is attached to them ("tcx", "clsact"). */
  devices(): Record<string, string> {
    return Object.fromEntries(this.attached);
  }

  async start(): Promise<void> {
    this.monitor = spawn('ip', ['-o', 'monitor', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.monitor.stdout!.on('data', () => void this.reconcile());
    this.monitor.on('error', (err) => this.log.warn({ err: err.message }, 'ip monitor failed; relying on periodic reconcile'));
    this.timer = setInterval(() => void this.reconcile(), this.periodMs);
    this.timer.unref();
    await this.reconcile();
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
    let links: string[];
    try {
      links = (await listLinks()).filter(this.matches);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'listing links failed');
      return;
    }
    const present = new Set(links);
    for (const name of links) {
      if (this.attached.has(name)) continue;
      try {
        const r = await this.loader.attach(name, 'TC_INGRESS');
        this.attached.set(name, r.mode);
        this.log.info({ device: name, mode: r.mode, progId: r.progId }, 'attached tc program');
      } catch (err) {
        // The device may have vanished between the listing and the attach.
        this.log.warn({ device: name, err: (err as Error).message }, 'attach failed');
      }
    }
    for (const name of [...this.attached.keys()]) {
      if (present.has(name)) continue;
      this.attached.delete(name);
      try {
        await this.loader.detach(name, 'TC_INGRESS');
      } catch {
        // The loader forgets attachments of devices that no longer exist on its own.
      }
    }
  }
}
