// The agent's device watcher (control-plane/src/devices/device-watcher.ts)
// against a real loader in a throwaway namespace: it lists links on a timer
// only every 30 s while `ip monitor` runs (a listing forks `ip`, and a fork of
// a large agent blocks its event loop), so a new device must be attached on
// its link event, a restarted loader must get every device again as soon as
// the connection to it is renewed, and without the monitor the watcher must
// fall back to listing every 2 s. Each wait here is far shorter than 30 s.
// Needs root, bpffs and a built loader (make -C loader).
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { LoaderClient } from '../../control-plane/src/dataplane/ebpf/loader-client.js';
import { Lab, type LoaderProcess, waitFor, withLoaderLogs } from './lab.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'device-watcher-child.js');

describe('device watcher: link events, a renewed loader connection, and polling without ip monitor', { timeout: 90_000 }, () => {
  let lab: Lab;
  let ns: string;
  let inst: string;
  let loader: LoaderProcess | undefined;
  let child: ChildProcess | undefined;
  let monitorPid: number | undefined;
  const devices: Array<Record<string, string>> = [];
  const logs: Array<Record<string, unknown>> = [];

  /** Lines of a stream, parsed as JSON (others ignored). */
  const lines = (input: NodeJS.ReadableStream, onLine: (o: Record<string, unknown>) => void): void => {
    createInterface({ input }).on('line', (l) => {
      try {
        onLine(JSON.parse(l) as Record<string, unknown>);
      } catch {
        // not a JSON line
      }
    });
  };
  const current = (): Record<string, string> => devices[devices.length - 1] ?? {};
  const logged = (msg: string, from = 0): Record<string, unknown> | undefined => logs.slice(from).find((l) => l.msg === msg);
  const attachments = async (): Promise<string[]> => {
    const c = new LoaderClient(loader!.socketPath, 5000);
    try {
      const st = await c.status({ skipEntryCounts: true });
      return ((st.attachments ?? []) as Array<{ ifname?: string }>).map((a) => String(a.ifname));
    } finally {
      c.close();
    }
  };
  const addDevice = (name: string, peer: string): void => {
    lab.ip(ns, 'link', 'add', name, 'type', 'veth', 'peer', 'name', peer);
    lab.ip(ns, 'link', 'set', name, 'up');
  };
  const withLogs = (fn: () => Promise<void>): Promise<void> =>
    withLoaderLogs(() => loader, async () => {
      try {
        await fn();
      } catch (e) {
        (e as Error).message += `\nwatcher log:\n${logs.slice(-15).map((l) => JSON.stringify(l)).join('\n')}`;
        throw e;
      }
    });

  before(async () => {
    lab = new Lab();
    ns = lab.netns('dw');
    inst = lab.instance('dw');
    lab.ip(ns, 'link', 'set', 'lo', 'up');
    loader = await lab.startLoader(ns, inst, []);
    child = lab.spawnIn(ns, process.execPath, [CHILD, loader.socketPath]);
    let started = false;
    lines(child.stdout!, (o) => {
      if (o.devices) devices.push(o.devices as Record<string, string>);
      if (o.started) started = true;
    });
    lines(child.stderr!, (o) => logs.push(o));
    await waitFor('the watcher started', () => (started ? true : undefined), 15_000);
    // Its `ip monitor`, ended by pid in after() should the watcher be killed first.
    const r = spawnSync('pgrep', ['-P', String(child.pid), '-x', 'ip'], { encoding: 'utf8' });
    monitorPid = Number(r.stdout.trim().split('\n')[0]) || undefined;
    assert.ok(monitorPid, 'the watcher runs ip monitor');
  });

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 3000);
        child!.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    if (monitorPid) {
      try {
        process.kill(monitorPid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await lab?.cleanup();
  });

  it('attaches a new device on its link event, not at the 30 s reconcile', () => withLogs(async () => {
    assert.equal(current().dwp0, undefined);
    const t0 = Date.now();
    addDevice('dwp0', 'dwq0');
    await waitFor('dwp0 attached', () => (current().dwp0 ? true : undefined), 5000);
    assert.match(current().dwp0!, /^tc:/);
    assert.ok((await attachments()).includes('dwp0'), 'the loader holds the attachment');
    process.stdout.write(`# dwp0 attached ${Date.now() - t0} ms after it was created\n`);
  }));

  it('attaches every device again as soon as the connection to a restarted loader is renewed', () => withLogs(async () => {
    const socket = loader!.socketPath;
    await loader!.stop();
    const from = logs.length;
    const t0 = Date.now();
    loader = await lab.startLoader(ns, inst, [], socket);
    await waitFor('the watcher saw the renewed connection', () => logged('loader connection renewed (restart or upgrade): attaching every device again', from), 5000);
    await waitFor('dwp0 attached to the new loader', async () => ((await attachments()).includes('dwp0') ? true : undefined), 5000);
    process.stdout.write(`# every device attached again ${Date.now() - t0} ms after the loader restarted\n`);
  }));

  it('lists links every 2 s once ip monitor is gone', () => withLogs(async () => {
    const from = logs.length;
    process.kill(monitorPid!, 'SIGKILL');
    await waitFor('the watcher noticed', () => logged('ip monitor is not running; reconciling devices periodically', from), 5000);
    monitorPid = undefined;
    const t0 = Date.now();
    addDevice('dwp1', 'dwq1');
    await waitFor('dwp1 attached by the poll', () => (current().dwp1 ? true : undefined), 6000);
    process.stdout.write(`# dwp1 attached ${Date.now() - t0} ms after it was created (no monitor)\n`);
  }));
});
