// The datapath monitor against a real lab: real packets the datapath drops or
// rejects, and translations it traces, reach `switchyard monitor --json` (one
// JSON object per line) and the admin API's server-sent events with their
// reason and Service name, and the agent's metric counts them. Tracing is on
// only while someone watches traces.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { labAdminSocket } from '../../lab/src/netns/layout.js';
import { E2E_IP_FAMILY, Lab, NODE_IPS, PROBE, ROOT, eventually, ok } from './harness.js';
import { clientPod, deployment, manifests, service } from './manifests.js';

const MODE = (process.env.SWITCHYARD_E2E_MODE ?? 'ebpf') as 'ebpf' | 'iptables';
const NODE_IP = NODE_IPS.IPv4;
const NETNS_ANNOTATION = 'lab.switchyard.dev/netns';
const execFileP = promisify(execFile);

type J = Record<string, any>;

/** `switchyard monitor --json ...` running; its stdout lines parsed (a line that is not JSON fails the test). */
class CliWatcher {
  readonly events: J[] = [];
  readonly bad: string[] = [];
  private readonly child: ChildProcess;
  private stderr = '';

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [path.join(ROOT, 'bin/switchyard.js'), 'monitor', '--json', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          this.events.push(JSON.parse(line) as J);
        } catch {
          this.bad.push(line);
        }
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
  }

  subscribed(): Promise<boolean> {
    return eventually(`monitor subscribed (stderr: ${this.stderr})`, () => this.stderr.includes('subscribed'), 60_000);
  }

  find(pred: (e: J) => boolean): J | undefined {
    return this.events.find(pred);
  }

  stop(): void {
    if (this.child.exitCode === null) this.child.kill('SIGINT');
  }
}

/** GET /v1/monitor on a node agent's admin socket: the SSE `data:` objects. */
class SseWatcher {
  readonly events: J[] = [];
  private req: http.ClientRequest;
  open = false;

  constructor(socketPath: string, query: string) {
    this.req = http.get({ socketPath, path: `/v1/monitor?${query}`, headers: { host: 'switchyard-admin', accept: 'text/event-stream' } }, (res) => {
      let buf = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        if (buf.includes(': subscribed')) this.open = true;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.startsWith('data: ')) this.events.push(JSON.parse(line.slice(6)) as J);
        }
      });
    });
    this.req.on('error', () => undefined);
  }

  stop(): void {
    this.req.destroy();
  }
}

/** A metric sample's value from the agent's /metrics (admin socket), 0 when absent. */
async function metric(socketPath: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = await new Promise<string>((resolve, reject) => {
    http.get({ socketPath, path: '/metrics', headers: { host: 'switchyard-admin' } }, (res) => {
      let b = '';
      res.setEncoding('utf8').on('data', (d: string) => (b += d)).on('end', () => resolve(b));
    }).on('error', reject);
  });
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

describe('datapath monitor: switchyard monitor, SSE and metrics', { timeout: 900_000, skip: MODE === 'iptables' && 'ebpf mode only' }, () => {
  const lab = new Lab(Lab.uniqueName('e2m'), 'ebpf', E2E_IP_FAMILY);
  const watchers: Array<{ stop(): void }> = [];
  const sock = (node: string) => labAdminSocket(lab.name, node);
  const cli = (args: string[]): CliWatcher => {
    const w = new CliWatcher(['--lab', lab.name, ...args]);
    watchers.push(w);
    return w;
  };

  before(async () => {
    await lab.up(2);
    await lab.apply(manifests(
      deployment('web', { replicas: 2 }),
      clientPod('client', 'node1'),
      service('noep', { selector: { app: 'nothing' } }),
      service('web'),
      service('np', { selector: { app: 'web' }, spec: { type: 'NodePort' } }),
      service('lb-closed', { selector: { app: 'web' }, spec: { type: 'LoadBalancer', loadBalancerSourceRanges: ['198.18.99.0/24'] } }),
    ));
    await lab.waitReady();
  });

  after(async () => {
    for (const w of watchers) w.stop();
    await lab.down();
  });

  test('a connection to a Service without endpoints: a reject with its reason and Service, in the CLI and SSE; the metric counts it', async () => {
    const w = cli(['--node', '1', '--type', 'drop']);
    const sse = new SseWatcher(sock('node1'), 'type=drop');
    watchers.push(sse);
    await w.subscribed();
    await eventually('SSE subscribed', () => sse.open);
    const ip = await lab.clusterIP('noep');
    await eventually('noep refused', async () => {
      const got = await lab.probe('client', 'tcp', ip, 80, ['--count', '3', '--timeout-ms', '1000']);
      return got.length === 3 && got.every((l) => l === 'ERR refused') ? got : undefined;
    });
    const isReject = (e: J) => e.kind === 'reject' && e.service === 'default/noep' && e.dst === ip && e.dport === 80;
    const e = await eventually('the reject in switchyard monitor --json', () => w.find(isReject));
    assert.match(e.reason, /^(sock_reject|reject_tcp)$/, JSON.stringify(e));
    assert.equal(e.servicePort, 'default/noep:http');
    assert.equal(e.node, 'node1');
    await eventually('the reject in the SSE stream', () => sse.events.find(isReject));
    const n = await metric(sock('node1'), 'switchyard_monitor_events_total', { kind: 'reject', reason: e.reason, service: 'default/noep' });
    assert.ok(n >= 1, `switchyard_monitor_events_total for the reject: ${n}`);
    assert.deepEqual(w.bad, [], 'every stdout line of --json is one JSON object');
  });

  test('a source-range drop from outside shows with reason drop_source_range and the Service; the metric counts it', async () => {
    const ws = [cli(['--node', '1', '--type', 'drop']), cli(['--node', '2', '--type', 'drop'])];
    for (const w of ws) await w.subscribed();
    const lbIP = await eventually('LB ingress', async () => (await lab.get('services')).find((x) => x.metadata.name === 'lb-closed')?.status?.loadBalancer?.ingress?.[0]?.ip as string | undefined);
    const got = await lab.probeExternal('tcp', lbIP, 80, ['--count', '3', '--timeout-ms', '500']);
    assert.ok(got.every((l) => l.startsWith('ERR')), JSON.stringify(got));
    const isDrop = (e: J) => e.kind === 'drop' && e.reason === 'drop_source_range' && e.service === 'default/lb-closed' && e.dst === lbIP;
    const e = await eventually('the drop in switchyard monitor --json', () => ws.map((w) => w.find(isDrop)).find(Boolean));
    const n = await metric(sock(e.node), 'switchyard_monitor_events_total', { kind: 'drop', reason: 'drop_source_range', service: 'default/lb-closed' });
    assert.ok(n >= 1, `switchyard_monitor_events_total for the drop on ${e.node}: ${n}`);
  });

  test('traced connections through a NodePort and a ClusterIP name Service, frontend and backend; tracing goes off with the last watcher', async () => {
    const monitorSetting = async () => JSON.parse(await ok(['maps', 'sy_monitor', '--lab', lab.name, '--node', '1', '--json'])).items[0] as J;
    assert.equal((await monitorSetting()).trace, false, 'tracing off while nobody watches');
    const np = cli(['--node', '1', '--type', 'trace', '--service', 'default/np']);
    const cip = cli(['--node', '1', '--type', 'trace', '--service', 'default/web']);
    await np.subscribed();
    await cip.subscribed();
    assert.equal((await monitorSetting()).trace, true, 'tracing on while watched');
    const port = (await lab.nodePorts()).get('np')!;
    await eventually('NodePort answers', async () => (await lab.probeExternal('http', NODE_IP.node1, port, ['--count', '3', '--timeout-ms', '1000'])).every((l) => !l.startsWith('ERR')));
    const t = await eventually('a NodePort trace', () => np.find((e) => e.kind === 'trace' && !e.reply && e.dport === port));
    assert.equal(t.service, 'default/np');
    assert.match(t.frontend, /^NodePort /);
    assert.ok(t.backend && t.backendId > 0, JSON.stringify(t));
    assert.ok(np.events.every((e) => e.service === 'default/np'), 'only the watched Service');

    // From the client pod's namespace by a process outside the node's cgroup: the tc path.
    const client = (await lab.get('pods')).find((p) => p.metadata.name === 'client')!;
    const netns = client.metadata.annotations![NETNS_ANNOTATION]!;
    const ip = await lab.clusterIP('web');
    await execFileP('ip', ['netns', 'exec', netns, PROBE, 'http', ip, '80', '--count', '3', '--timeout-ms', '1000'], { timeout: 60_000 });
    const c = await eventually('a ClusterIP trace', () => cip.find((e) => e.kind === 'trace' && !e.reply && e.dst === ip));
    assert.equal(c.service, 'default/web');
    assert.match(c.frontend, /^ClusterIP /);
    assert.ok(c.backend, JSON.stringify(c));
    // From the client pod itself (inside the node's cgroup): with socket-level
    // balancing the translation happens at connect(), traced by the socket hook.
    if (!(process.env.SWITCHYARD_E2E_AGENT_ARGS ?? '').includes('--socket-lb=false')) {
      await lab.probe('client', 'http', ip, 80, ['--count', '3', '--timeout-ms', '1000']);
      const s = await eventually('a ClusterIP trace from the socket hook', () => cip.find((e) => e.kind === 'trace' && e.hook === 'sock_lb' && e.dst === ip));
      assert.equal(s.service, 'default/web');
      assert.ok(s.backend && s.backendId > 0, JSON.stringify(s));
    }
    np.stop();
    cip.stop();
    await eventually('tracing off after the last watcher left', async () => (await monitorSetting()).trace === false, 30_000);
  });
});
