// The admin API, metrics, health and status page against a real lab: the
// API's view of the maps agrees with bpftool, explain predicts the backend
// (and the SNAT) real connections get, /healthz follows the loader, metrics
// move with endpoint changes and traffic, the status page renders in Chromium.
//
// Pod processes run in their node's cgroup, where the socket-level balancer
// translates connect() with a per-socket hash (nothing to predict per tuple).
// The tuples explain is checked against therefore go through tc: from the
// client pod's network namespace by a process outside that cgroup
// (sy_tc_ingress), and from the external client to a NodePort
// (sy_tc_external / XDP).
//
// The agents serve the admin API on <state dir>/<node>-admin.sock when the
// lab daemon passes --admin-socket. Until it does, the test runs its own
// admin server in this process against the node's loader socket (reachable
// from the root namespace), with a read-only shadow of the agent's sync loop
// fed from the lab's API objects.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { pino } from 'pino';
import { startAgentAdmin, type AgentAdmin } from '../../control-plane/src/admin/agent-admin.js';
import { adminGet, type AdminTarget } from '../../control-plane/src/cli/admin-client.js';
import { runAdminCommand } from '../../cli/admin.js';
import { labAdminSocket } from '../../lab/src/netns/layout.js';
import type { Dataplane } from '../../control-plane/src/dataplane/dataplane.js';
import { LoaderClient } from '../../control-plane/src/dataplane/ebpf/loader-client.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import { ServiceTracker } from '../../control-plane/src/model/service-tracker.js';
import { Proxier } from '../../control-plane/src/sync/proxier.js';
import { chromiumMissing, inspectStatusPage } from '../unit/admin-browser.js';
import { E2E_IP_FAMILY, Lab, PROBE, ROOT, eventually, ok, run, sleep, type KubeObj } from './harness.js';

const MODE = (process.env.SWITCHYARD_E2E_MODE ?? 'ebpf') as 'ebpf' | 'iptables';
const WHOAMI = fs.readFileSync(path.join(ROOT, 'lab/examples/whoami.yaml'), 'utf8');
const SEED = 0x5317c4d1;
const NETNS_ANNOTATION = 'lab.switchyard.dev/netns';
const EXTERNAL_IP = '198.18.0.200';
const NODE1_IP = '198.18.0.11';
const NODEPORT = `
apiVersion: v1
kind: Service
metadata: {name: whoami-np}
spec:
  type: NodePort
  selector: {app: whoami}
  ports: [{name: http, port: 80, targetPort: http}]
`;
const execFileP = promisify(execFile);

type J = Record<string, any>;

/** A read-only stand-in for the agent's dataplane: a sync only proves the loader answers. */
class ReadOnlyDataplane implements Dataplane {
  readonly mode = 'ebpf' as const;
  constructor(readonly loader: LoaderClient) {}
  async init(): Promise<void> {}
  async sync(): Promise<{ changes: number; detail: Record<string, number> }> {
    await this.loader.dump('sy_config', 1);
    return { changes: 0, detail: {} };
  }
  async restore(): Promise<void> {
    await this.loader.dump('sy_config', 1);
  }
  async close(): Promise<void> {
    this.loader.close();
  }
}

/** The agent's sync loop rebuilt from the lab's objects, programming nothing. */
class Shadow {
  readonly services = new ServiceTracker({ defaultAlgorithm: 'maglev' });
  readonly endpoints: EndpointSliceCache;
  readonly loader: LoaderClient;
  readonly proxier: Proxier;
  admin!: AgentAdmin;
  private readonly seen = new Map<string, string>();
  readonly socketPath: string;

  constructor(private readonly lab: Lab, readonly node: string, zone: string, dir: string) {
    this.endpoints = new EndpointSliceCache(node);
    this.loader = new LoaderClient(path.join('/run/switchyard/lab', lab.name, `${node}-loader.sock`), 5000);
    this.proxier = new Proxier(this.services, this.endpoints, new ReadOnlyDataplane(this.loader), () => ({ nodeName: node, zone }),
      { minSyncPeriodMs: 0, syncPeriodMs: 30_000 }, pino({ level: 'silent' }));
    this.socketPath = path.join(dir, `${node}-admin.sock`);
  }

  async start(): Promise<void> {
    this.admin = await startAgentAdmin({
      options: { adminBind: undefined, adminSocket: this.socketPath, metricsBind: undefined, loaderWatchMs: 500 },
      proxier: this.proxier, dataplane: new ReadOnlyDataplane(this.loader), mode: { mode: 'ebpf', reason: 'test shadow' },
      nodeName: this.node, seed: SEED, healthTimeoutMs: 60_000, clusterCIDR: '198.19.0.0/16', log: pino({ level: 'silent' }),
    });
    const first = this.proxier.waitForSync();
    this.proxier.start();
    await Promise.race([first, sleep(15_000)]);
    await this.refresh();
  }

  /** Feeds changed Services and EndpointSlices to the trackers, as the informers would. */
  async refresh(): Promise<void> {
    let changed = false;
    const live = new Set<string>();
    for (const [kind, items] of [['svc', await this.lab.get('services')], ['eps', await this.lab.get('endpointslices')]] as const) {
      for (const o of items) {
        const id = `${kind}/${o.metadata.namespace}/${o.metadata.name}`;
        live.add(id);
        const rv = (o.metadata as J).resourceVersion as string;
        if (this.seen.get(id) === rv) continue;
        this.seen.set(id, rv);
        changed = true;
        if (kind === 'svc') {
          this.services.update(o as unknown as V1Service);
          this.admin.serviceChanged(o as never);
        } else {
          this.endpoints.update(o as unknown as V1EndpointSlice);
          this.admin.endpointSliceChanged(o as never);
        }
      }
    }
    for (const id of [...this.seen.keys()].filter((k) => !live.has(k))) {
      this.seen.delete(id);
      changed = true;
      const [kind, namespace, name] = id.split('/');
      const meta = { metadata: { namespace, name, labels: {} } };
      if (kind === 'svc') this.services.delete(meta as V1Service);
      else this.endpoints.delete(meta as V1EndpointSlice);
    }
    if (changed) {
      const done = this.proxier.waitForSync();
      this.proxier.requestSync();
      await Promise.race([done, sleep(15_000)]);
    }
  }

  async stop(): Promise<void> {
    this.proxier.stop();
    await this.admin?.close();
    this.loader.close();
  }
}

interface NodeAdmin {
  node: string;
  target: AdminTarget;
  wired: boolean;
  shadow?: Shadow;
}

async function api(a: NodeAdmin, p: string): Promise<{ status: number; body: any; text: string }> {
  const r = await adminGet(a.target, p);
  let body: any;
  try {
    body = JSON.parse(r.body);
  } catch {
    body = undefined;
  }
  return { status: r.status, body, text: r.body };
}

async function apiOk(a: NodeAdmin, p: string): Promise<any> {
  const r = await api(a, p);
  if (r.status !== 200) throw new Error(`GET ${p}: ${r.status} ${r.text.slice(0, 300)}`);
  return r.body;
}

function metric(text: string, name: string, labels?: Record<string, string>): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
    if (labels && !Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** The lab agents' full resync period. */
const SYNC_PERIOD_S = 15;

const hexBytes = (a: string[]): Uint8Array => Uint8Array.from(a.map((x) => parseInt(x, 16)));

describe(`admin API, metrics, health and status page end to end (${MODE})`, { timeout: 900_000 }, () => {
  const lab = new Lab(Lab.uniqueName('e2a'), MODE, E2E_IP_FAMILY);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-e2e-admin-'));
  const admins = new Map<string, NodeAdmin>();
  let vip = '';
  let clientNode = '';
  let clientIP = '';
  let clientNetns = '';
  let nodePort = 0;
  let podIPs = new Map<string, string>();
  let restartedLoader: ChildProcess | undefined;

  async function refresh(): Promise<void> {
    for (const a of admins.values()) await a.shadow?.refresh();
  }

  /** sy-probe in the client pod's namespace, outside the node's cgroup: the tc path (no socket-level balancing). */
  async function probeTc(args: string[]): Promise<string[]> {
    const r = await execFileP('ip', ['netns', 'exec', clientNetns, PROBE, ...args], { timeout: 60_000 }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
    return r.stdout.split('\n').filter((l) => l && !l.startsWith('#'));
  }

  async function probeExternal(args: string[]): Promise<string[]> {
    const r = await run(['lab', 'exec', '--name', lab.name, '--external', '--', PROBE, ...args]);
    return r.stdout.split('\n').filter((l) => l && !l.startsWith('#'));
  }

  async function pods(): Promise<KubeObj[]> {
    const all = await lab.get('pods');
    podIPs = new Map(all.map((p) => [p.metadata.name, p.status?.podIP as string]));
    return all;
  }

  before(async () => {
    // A 15 s resync period (health timeout 2 x 15 s) so the hung-loader test
    // waits 30 s for /healthz to turn, not the default 60 s.
    await lab.up(2, [...Lab.agentArgs(), `--sync-period=${SYNC_PERIOD_S}s`]);
    await lab.apply(WHOAMI);
    await lab.apply(NODEPORT);
    await lab.waitReady();
    vip = await lab.clusterIP('whoami');
    nodePort = (await lab.get('services')).find((x) => x.metadata.name === 'whoami-np')!.spec.ports[0].nodePort as number;
    const client = (await pods()).find((p) => p.metadata.name === 'client')!;
    clientNode = client.spec.nodeName as string;
    clientIP = client.status.podIP as string;
    clientNetns = client.metadata.annotations![NETNS_ANNOTATION]!;
    for (const node of ['node1', 'node2']) {
      const sock = labAdminSocket(lab.name, node);
      // The agent creates its socket right after it starts; give it a moment.
      const wired = await eventually(`${sock}`, async () => fs.existsSync(sock), 10_000, 250).then(() => true, () => false);
      if (wired) {
        admins.set(node, { node, target: { socketPath: sock }, wired });
      } else {
        if (MODE !== 'ebpf') continue;
        const shadow = new Shadow(lab, node, node === 'node1' ? 'zone-a' : 'zone-b', dir);
        await shadow.start();
        admins.set(node, { node, target: { socketPath: shadow.socketPath }, wired, shadow });
      }
    }
    const n1 = admins.get('node1');
    if (n1) process.stdout.write(`# admin API of node1: ${n1.wired ? 'the agent\'s socket' : 'an in-test server on the loader socket (agent not wired yet)'}\n`);
  });

  after(async () => {
    if (restartedLoader && restartedLoader.exitCode === null) {
      restartedLoader.kill('SIGTERM');
      await new Promise((r) => restartedLoader!.once('exit', r));
    }
    for (const a of admins.values()) await a.shadow?.stop();
    await lab.down();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const ebpfOnly = { skip: MODE !== 'ebpf' ? 'ebpf datapath only' : false };

  test('GET /v1/services, /v1/maps/* and bpftool agree on what is programmed', ebpfOnly, async () => {
    const a = admins.get('node1')!;
    await refresh();
    const svcs = await apiOk(a, '/v1/services');
    const names = (svcs.services as J[]).map((s) => s.name).sort();
    assert.deepEqual(names.filter((n) => n.startsWith('default/whoami')), ['default/whoami-np:http', 'default/whoami:echo', 'default/whoami:http']);
    assert.ok(!names.some((n) => n.startsWith('unknown/')), `frontends unknown to the agent: ${names}`);
    const fes = await apiOk(a, '/v1/maps/sy_services?limit=0');
    const bes = await apiOk(a, '/v1/maps/sy_backends?limit=0');
    const mgl = await apiOk(a, '/v1/maps/sy_maglev?limit=0');
    const all = (svcs.services as J[]).flatMap((s) => s.frontends as J[]);
    assert.equal(all.length, fes.total, 'every sy_services entry belongs to a listed Service');
    for (const s of svcs.services as J[]) {
      assert.deepEqual(s.problems, [], `${s.name}: ${s.problems}`);
      for (const f of s.frontends as J[]) {
        const m = (fes.items as J[]).find((x) => x.addr === f.address && x.port === f.port && x.proto === f.protocol && x.scope === f.scope);
        assert.ok(m, `${f.address}:${f.port} in sy_services`);
        assert.deepEqual([m.id, m.group, m.count, m.tableSize, m.flags], [f.id, f.group, f.count, f.tableSize, f.flags]);
        const t = (mgl.items as J[]).find((x) => x.group === f.group)!;
        assert.equal(t.tableSize, f.tableSize);
        assert.deepEqual((t.backends as J[]).map((b) => [b.id, b.slots]), (f.backends as J[]).map((b) => [b.id, b.slots]));
        for (const b of f.backends as J[]) {
          const be = (bes.items as J[]).find((x) => x.id === b.id)!;
          assert.deepEqual([be.addr, be.port, be.state, be.local], [b.address, b.port, b.state, b.local]);
        }
      }
      if (s.name.startsWith('default/whoami:')) assert.equal(s.frontends[0].address, vip);
      if (s.name.startsWith('default/whoami')) {
        assert.equal(s.frontends[0].count, 3);
        assert.equal(s.backends.length, 3);
      }
    }
    // bpftool reads the pinned maps directly: same entries, same values.
    const pins = `/sys/fs/bpf/switchyard/${lab.name}-n1`;
    const dump = JSON.parse((await execFileP('bpftool', ['map', 'dump', 'pinned', `${pins}/sy_services`, '-j'])).stdout) as J[];
    assert.equal(dump.length, fes.total);
    for (const e of dump) {
      const k = hexBytes(e.key);
      const addr = [...k.subarray(0, 4)].join('.'), port = (k[4]! << 8) | k[5]!, proto = k[6] === 6 ? 'TCP' : 'UDP';
      const m = (fes.items as J[]).find((x) => x.addr === addr && x.port === port && x.proto === proto && (x.scope === 'internal' ? 1 : 0) === k[7]);
      assert.ok(m, `bpftool entry ${addr}:${port}/${proto} known to the API`);
      const v = e.formatted.value;
      assert.deepEqual([v.id, v.group, v.count, v.table_size, v.affinity_timeout], [m.id, m.group, m.count, m.tableSize, m.affinityTimeout]);
    }
    const bdump = JSON.parse((await execFileP('bpftool', ['map', 'dump', 'pinned', `${pins}/sy_backends`, '-j'])).stdout) as J[];
    assert.equal(bdump.length, bes.total);
    for (const e of bdump) {
      const v = hexBytes(e.value);
      const m = (bes.items as J[]).find((x) => x.id === e.formatted.key)!;
      assert.equal(m.addr, [...v.subarray(0, 4)].join('.'));
      assert.equal(m.port, (v[4]! << 8) | v[5]!);
    }
  });

  test('explain predicts the backend (and the SNAT) real connections get: 10 pod tuples to the ClusterIP, 10 external tuples to a NodePort', ebpfOnly, async () => {
    await pods();
    const seen = new Set<string>();
    // From the client pod, through sy_tc_ingress of its node.
    const a = admins.get(clientNode)!;
    const ports = Array.from({ length: 10 }, (_, i) => 21000 + i * 397);
    for (const sport of ports) {
      const ex = await apiOk(a, `/v1/explain?src=${clientIP}&sport=${sport}&dst=${vip}&dport=80&proto=tcp`);
      assert.equal(ex.verdict, 'dnat', JSON.stringify(ex.steps));
      assert.equal(ex.service, 'default/whoami:http');
      assert.equal(ex.from, 'pod');
      const got = await probeTc(['http', vip, '80', '--src-port', String(sport), '--timeout-ms', '2000']);
      assert.equal(got.length, 1, `probe from port ${sport}: ${got}`);
      assert.ok(!got[0]!.startsWith('ERR'), `probe from port ${sport}: ${got[0]}`);
      const reached = podIPs.get(got[0]!.trim());
      assert.equal(reached, ex.backend.address, `sport ${sport}: explain said ${ex.backend.address} (slot ${ex.maglev.slot}), the connection reached ${got[0]} (${reached})`);
      seen.add(reached!);
    }
    // Right after a connection its tuple is tracked (closed by the probe's RST: 10 s
    // before it expires and the agent's conntrack GC may remove it): explain reports the entry.
    const again = await apiOk(a, `/v1/explain?src=${clientIP}&sport=${ports[ports.length - 1]}&dst=${vip}&dport=80`);
    assert.ok(again.conntrack.forward, 'the forward entry of the last connection is seen');
    assert.ok(again.conntrack.forward.flags.includes('Closing'), 'the probe closed it with a reset');
    assert.equal(again.conntrack.overrides, false, 'a new SYN on a closed tuple picks again');
    assert.equal(again.backend.address, again.newFlowBackend.address);

    // From the external client to node1's NodePort, through sy_tc_external / XDP:
    // remote backends see the node address (SNAT), local ones the client.
    const n1 = admins.get('node1')!;
    let snat = 0;
    for (const sport of ports.map((p) => p + 7)) {
      const ex = await apiOk(n1, `/v1/explain?src=${EXTERNAL_IP}&sport=${sport}&dst=${NODE1_IP}&dport=${nodePort}&from=external`);
      assert.equal(ex.verdict, 'dnat', JSON.stringify(ex.steps));
      assert.equal(ex.frontend.kind, 'NodePort');
      assert.equal(ex.program, 'sy_tc_external');
      const got = await probeExternal(['http', NODE1_IP, String(nodePort), '--src-port', String(sport), '--peer', '--timeout-ms', '2000']);
      assert.equal(got.length, 1, `external probe from port ${sport}: ${got}`);
      const [name, peer] = got[0]!.trim().split(' ');
      assert.equal(podIPs.get(name!), ex.backend.address, `external sport ${sport}: explain said ${ex.backend.address}, reached ${got[0]}`);
      const expectPeer = ex.nat.snat ? ex.nat.snat.to : `${EXTERNAL_IP}:${sport}`;
      assert.equal(peer, expectPeer, `external sport ${sport}: the backend saw ${peer}, explain said ${expectPeer} (${ex.nat.snat?.reason ?? 'no SNAT'})`);
      if (ex.nat.snat) snat++;
      seen.add(ex.backend.address);
    }
    assert.ok(seen.size > 1, 'the tuples spread over several backends');
    process.stdout.write(`# explain: 20 of 20 tuples predicted, ${snat} of 10 external ones SNATed\n`);

    // The pod's own processes go through the socket-level balancer: explain says so.
    const sockLB = (await apiOk(a, '/v1/maps/sy_attach')).items.some((i: J) => i.hook === 'sock_lb');
    const ex = await apiOk(a, `/v1/explain?src=${clientIP}&sport=1234&dst=${vip}&dport=80`);
    assert.equal(ex.socketLB.length > 0, sockLB);
  });

  test('GET /v1/conntrack shows the client\'s flows joined with Service, frontend and backend', ebpfOnly, async () => {
    const a = admins.get(clientNode)!;
    await probeTc(['http', vip, '80', '--count', '3']);
    const ct = await apiOk(a, `/v1/conntrack?client=${clientIP}&dir=forward&limit=0`);
    assert.ok(ct.total >= 3, `flows of ${clientIP}: ${ct.total}`);
    for (const c of ct.items as J[]) {
      assert.equal(c.service, 'default/whoami:http');
      assert.equal(c.frontend, `${vip}:80`);
      assert.ok([...podIPs.values()].includes((c.backend as string).split(':')[0]!), c.backend);
    }
    const svc = await apiOk(a, '/v1/conntrack?service=default/whoami&limit=1');
    assert.equal(svc.items.length, 1);
    assert.equal((await api(a, '/v1/conntrack?client=198.19.1')).status, 400);
  });

  test('metrics move with endpoint changes and with traffic', ebpfOnly, async () => {
    const a = admins.get(clientNode)!;
    const frontend = { service: 'default/whoami:http', frontend: `${vip}:80/TCP` };
    const m0 = (await api(a, '/metrics')).text;
    const pk0 = metric(m0, 'switchyard_service_packets_total', frontend);
    const by0 = metric(m0, 'switchyard_service_bytes_total', frontend);
    const dnat0 = metric(m0, 'switchyard_datapath_events_total', { event: 'tc_dnat' });
    const sock0 = metric(m0, 'switchyard_datapath_events_total', { event: 'sock_connect' });
    const r = await probeTc(['http', vip, '80', '--count', '20']);
    assert.equal(r.filter((l) => l.startsWith('ERR')).length, 0, r.join('\n'));
    const m1 = await eventually('traffic counted', async () => {
      const t = (await api(a, '/metrics')).text;
      return metric(t, 'switchyard_service_packets_total', frontend) >= pk0 + 20 * 4 ? t : undefined;
    }, 10_000);
    assert.ok(metric(m1, 'switchyard_service_bytes_total', frontend) > by0 + 20 * 200);
    assert.ok(metric(m1, 'switchyard_datapath_events_total', { event: 'tc_dnat' }) >= dnat0 + 20 * 2);
    assert.ok(metric(m1, 'switchyard_map_entries', { map: 'sy_conntrack' }) > 0);
    assert.ok(metric(m1, 'switchyard_map_max_entries', { map: 'sy_conntrack' }) >= 1024);
    assert.equal(metric(m1, 'switchyard_mode', { mode: 'ebpf' }), 1);
    // Connections of the pod's own processes: the socket-level balancer counts them.
    const sockLB = (await apiOk(a, '/v1/maps/sy_attach')).items.some((i: J) => i.hook === 'sock_lb');
    if (sockLB) {
      await lab.probe('client', 'http', vip, 80, ['--count', '5']);
      const t = (await api(a, '/metrics')).text;
      assert.ok(metric(t, 'switchyard_datapath_events_total', { event: 'sock_connect' }) >= sock0 + 5);
      assert.ok(metric(t, 'switchyard_service_packets_total', { ...frontend, hook: 'sock_lb' }) >= 5);
    }

    const changes0 = metric(m1, 'kubeproxy_sync_proxy_rules_endpoint_changes_total');
    const prog0 = metric(m1, 'kubeproxy_network_programming_duration_seconds_count');
    const syncs0 = metric(m1, 'kubeproxy_sync_proxy_rules_duration_seconds_count');
    await lab.scale('deployment/whoami', 4);
    await lab.waitReady();
    await eventually('4 backends programmed', async () => {
      await refresh();
      const s = await apiOk(a, '/v1/services?name=whoami');
      return (s.services as J[]).every((x) => x.frontends[0].count === 4);
    }, 30_000);
    const m2 = (await api(a, '/metrics')).text;
    assert.ok(metric(m2, 'kubeproxy_sync_proxy_rules_endpoint_changes_total') > changes0, 'endpoint changes counted');
    assert.ok(metric(m2, 'kubeproxy_network_programming_duration_seconds_count') > prog0, 'network programming observed');
    assert.ok(metric(m2, 'kubeproxy_sync_proxy_rules_duration_seconds_count') > syncs0, 'syncs observed');
    assert.ok(metric(m2, 'kubeproxy_sync_proxy_rules_last_timestamp_seconds') > Date.now() / 1000 - 60);
    await lab.scale('deployment/whoami', 3);
    await lab.waitReady();
  });

  test('the CLI prints the same state', ebpfOnly, async () => {
    const a = admins.get('node1')!;
    const target = a.wired ? ['--lab', lab.name, '--node', 'node1'] : ['--admin-socket', (a.target as { socketPath: string }).socketPath];
    let out = '', err = '';
    const io = { out: (s: string) => (out += s), err: (s: string) => (err += s) };
    assert.equal(await runAdminCommand('services', [...target, '--name', 'whoami'], io), 0, err);
    assert.match(out, /^default\/whoami:http {2}ClusterIP {2}TCP/m);
    assert.match(out, new RegExp(`${vip.replace(/\./g, '\\.')}:80/TCP\\s+ClusterIP\\s+external`));
    out = '';
    assert.equal(await runAdminCommand('maps', [...target], io), 0, err);
    assert.match(out, new RegExp(`sy_conntrack\\s+lru_hash\\s+16\\s+32`));
    out = '';
    assert.equal(await runAdminCommand('explain', [...target, '--src', clientIP, '--dst', vip, '--dport', '80', '--sport', '31111'], io), 0, err);
    assert.match(out, /verdict: dnat {2}service default\/whoami:http {2}backend 198\.19\.\d+\.\d+:8080/);
    err = '';
    assert.equal(await runAdminCommand('maps', [...target, 'sy_nope'], io), 1);
    assert.match(err, /404: unknown map "sy_nope"/);
  });

  test('the status page in headless Chromium: every Service, the share chart, no console errors', { skip: chromiumMissing() ?? false }, async (t) => {
    const a = admins.get('node1');
    if (!a) {
      t.skip('the lab\'s agents serve no admin socket yet');
      return;
    }
    const sock = (a.target as { socketPath: string }).socketPath;
    // Chromium lives in the root namespace: a local TCP relay to the admin socket.
    const relay = http.createServer((req, res) => {
      const up = http.request({ socketPath: sock, path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', (e) => res.writeHead(502).end(String(e)));
      req.pipe(up);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
    const port = (relay.address() as { port: number }).port;
    const shot = path.join(dir, 'status.png');
    try {
      const expectServices = ['default/whoami:http', 'default/whoami:echo', 'default/whoami-np:http'];
      const r = await inspectStatusPage(`http://127.0.0.1:${port}/ui/`, { expectServices, screenshot: shot });
      assert.deepEqual(r.errors, []);
      for (const s of expectServices) {
        assert.equal(r.bars[s]!.length, 3, `${s}: three backends in the chart`);
        for (const w of r.bars[s]!) assert.ok(w > 60, `${s}: bar width ${w}`);
      }
      assert.ok(r.syncBars >= 1);
      assert.ok(r.pressureBars >= (MODE === 'ebpf' ? 5 : 2), `pressure bars ${r.pressureBars}`);
      assert.ok(r.colouredPixels > 1000, `coloured pixels ${r.colouredPixels}`);
      assert.ok(fs.statSync(shot).size > 10_000);
    } finally {
      await new Promise((r) => relay.close(r));
    }
  });

  test('/healthz turns 503 when the loader hangs past the health timeout and 200 when it answers again', ebpfOnly, async () => {
    const a = admins.get('node1')!;
    const health = async () => (await api(a, '/healthz')).status;
    assert.equal(await health(), 200);
    const info = JSON.parse(await ok(['lab', 'status', '--name', lab.name, '-o', 'json'])) as J;
    const n1 = (info.nodes as J[]).find((n) => n.name === 'node1')!;
    const pid = n1.loader.pid as number;
    // A hung loader (SIGSTOP), not a dead one: the lab daemon restarts a
    // loader that exits, as kubelet would, so only a hang keeps it away.
    process.kill(pid, 'SIGSTOP');
    const down = Date.now();
    try {
      // kube-proxy's meaning: unhealthy once changes (here the watchdog's
      // resync) waited longer than the health timeout (2 x the lab's sync period).
      await eventually('/healthz 503', async () => (await health()) === 503, 120_000, 250);
      const st = await apiOk(a, '/v1/status');
      assert.equal(st.healthy, false);
      assert.equal(st.loader.up, false);
      assert.match(st.sync.lastError, /loader/i);
      process.stdout.write(`# /healthz went 503 ${Date.now() - down} ms after the loader hung\n`);
      // And it stays 503 while the loader stays hung, also while a retry
      // hangs (before the fix it read 200 whenever a retry was running).
      for (let i = 0; i < 20; i++) {
        await new Promise((r) => setTimeout(r, 250));
        assert.equal(await health(), 503, `/healthz after ${Date.now() - down} ms of a hung loader`);
      }
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const up = Date.now();
    await eventually('/healthz 200', async () => (await health()) === 200, 60_000, 250);
    process.stdout.write(`# /healthz back to 200 ${Date.now() - up} ms after the loader answered again\n`);
    assert.equal((await apiOk(a, '/v1/status')).loader.up, true);
    // Traffic was never cut: the datapath outlives the loader.
    const r = await lab.probe('client', 'http', vip, 80, ['--count', '5']);
    assert.equal(r.filter((l) => l.startsWith('ERR')).length, 0, r.join('\n'));
  });

  test('iptables mode: services and chains through the agent\'s admin socket', { skip: MODE !== 'iptables' ? 'iptables mode only' : false }, async (t) => {
    const a = admins.get('node1');
    if (!a?.wired) {
      t.skip('the lab\'s agents serve no admin socket yet');
      return;
    }
    const s = await apiOk(a, '/v1/services?name=whoami');
    const web = (s.services as J[]).find((x) => x.name === 'default/whoami:http')!;
    assert.equal(web.backends.length, 3);
    assert.ok((web.chains as J[]).find((c) => c.role === 'cluster')!.programmed);
    const chain = await apiOk(a, '/v1/maps/KUBE-SERVICES?table=nat');
    assert.ok((chain.items as J[]).some((r) => String(r.rule).includes(vip)));
    const ex = await apiOk(a, `/v1/explain?src=${clientIP}&dst=${vip}&dport=80`);
    assert.equal(ex.candidates.length, 3);
    assert.equal((await api(a, '/healthz')).status, 200);
    const m = (await api(a, '/metrics')).text;
    assert.ok(metric(m, 'kubeproxy_sync_proxy_rules_iptables_total', { table: 'nat' }) > 0);
    assert.equal(metric(m, 'switchyard_mode', { mode: 'iptables' }), 1);
    assert.ok(metric(m, 'kubeproxy_sync_proxy_rules_duration_seconds_count') >= 1);
    let out = '', err = '';
    assert.equal(await runAdminCommand('maps', ['--lab', lab.name, '--node', 'node1', 'KUBE-SERVICES', '--table', 'nat'],
      { out: (x) => (out += x), err: (x) => (err += x) }), 0, err);
    assert.match(out, new RegExp(`^nat \\d+: -A KUBE-SERVICES -d ${vip.replace(/\./g, '\\.')}/32`, 'm'));
  });

});
