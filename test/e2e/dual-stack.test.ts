// Dual-stack end to end: one lab whose nodes, pods and Services have both
// families (`lab up --ip-family dual`), the real agents serving both. A
// PreferDualStack Service is reached on each of its families' addresses:
// ClusterIP from a pod (TCP and UDP) and from a node, NodePort on each node's
// address of the family, ExternalIP and LoadBalancer IP from the external
// client; every backend answers. Single-stack Services are programmed in
// their own family only.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Lab, NODE_IPS, PROBE, ROOT, eventually, ok, tally } from './harness.js';
import { HTTP_80, HTTP_8080, clientPod, deployment, manifests, service } from './manifests.js';
import { formatIP, parseAddress, type IPFamily } from '../../control-plane/src/util/ip.js';

const MODE = (process.env.SWITCHYARD_E2E_MODE ?? 'ebpf') as 'ebpf' | 'iptables';
const FAMILIES: readonly IPFamily[] = ['IPv4', 'IPv6'];
const EXTERNAL_IP: Record<IPFamily, string> = { IPv4: '198.18.65.20', IPv6: 'fd00:198:18:65::20' };
const DNS_53 = { name: 'dns', port: 53, targetPort: 'dns', protocol: 'UDP' as const };

const WORKLOAD = manifests(
  deployment('web', { replicas: 4, grace: 1, ports: [HTTP_8080, { name: 'dns', containerPort: 5353, protocol: 'UDP' }] }),
  clientPod('c1', 'node1'),
  // Every front end of both families in one Service.
  service('ds', {
    selector: { app: 'web' }, ports: [HTTP_80, DNS_53],
    spec: { type: 'LoadBalancer', ipFamilyPolicy: 'PreferDualStack', externalIPs: [EXTERNAL_IP.IPv4, EXTERNAL_IP.IPv6] },
  }),
  service('v6only', {
    selector: { app: 'web' }, ports: [{ name: 'http', port: 8006, targetPort: 'http' }],
    spec: { type: 'NodePort', ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv6'] },
  }),
  service('v4only', {
    selector: { app: 'web' }, ports: [{ name: 'http', port: 8004, targetPort: 'http' }],
    spec: { type: 'NodePort', ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4'] },
  }),
);

const familyOf = (ip: string): IPFamily => (ip.includes(':') ? 'IPv6' : 'IPv4');

/** "addr:port" of every service entry of a family's map on lab node `node` (ebpf mode). */
function frontends(lab: Lab, node: number, family: IPFamily): string[] {
  const map = family === 'IPv6' ? 'sy_services6' : 'sy_services';
  const alen = family === 'IPv6' ? 16 : 4;
  const out = execFileSync('bpftool', ['map', 'dump', 'pinned', `/sys/fs/bpf/switchyard/${lab.name}-n${node}/${map}`, '-j'], { encoding: 'utf8' });
  return (JSON.parse(out) as Array<{ key: string[] }>).map((e) => {
    const k = Uint8Array.from(e.key.map((b) => Number(b)));
    return `${formatIP(k.subarray(0, alen))}:${(k[alen]! << 8) | k[alen + 1]!}`;
  });
}

describe(`dual-stack end to end (${MODE}${Lab.socketLB(MODE) ? '' : ', no socket LB'})`, { timeout: 900_000 }, () => {
  const lab = new Lab(Lab.uniqueName('e2d'), MODE, 'dual');
  let webPods = new Map<string, string>(); // pod -> node
  let ds: any;

  before(async () => {
    await lab.up(2);
    await lab.apply(WORKLOAD);
    await lab.waitReady();
    webPods = new Map((await lab.pods({ app: 'web' }, { ready: true })).map((p) => [p.metadata.name, p.spec.nodeName as string]));
    assert.equal(webPods.size, 4);
    assert.equal(new Set(webPods.values()).size, 2, 'web pods on both nodes');
    ds = await eventually('ds has a ClusterIP and a LoadBalancer IP of each family', async () => {
      const s = (await lab.get('services')).find((x) => x.metadata.name === 'ds');
      const ing: string[] = (s?.status?.loadBalancer?.ingress ?? []).map((i: { ip: string }) => i.ip);
      const ok = s?.spec?.clusterIPs?.length === 2 && FAMILIES.every((f) => ing.some((ip) => familyOf(ip) === f));
      return ok ? s : undefined;
    });
  });

  after(async () => {
    await lab.down();
  });

  const clusterIPOf = (f: IPFamily): string => (ds.spec.clusterIPs as string[]).find((ip) => familyOf(ip) === f)!;
  const lbIPOf = (f: IPFamily): string => (ds.status.loadBalancer.ingress as Array<{ ip: string }>).map((i) => i.ip).find((ip) => familyOf(ip) === f)!;
  const every = (got: Map<string, number>) => got.size === webPods.size && [...got.keys()].every((k) => webPods.has(k));
  const show = (got: Map<string, number>) => JSON.stringify([...got]);

  /** Probes until every web pod answered (all of them, nothing else); the last tally in the error otherwise. */
  async function allAnswer(what: string, probe: () => Promise<string[]>): Promise<void> {
    let last = new Map<string, number>();
    try {
      await eventually(what, async () => every((last = tally(await probe()))), 40_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}; last answers ${show(last)}`);
    }
  }

  test('the PreferDualStack Service got one ClusterIP per family, IPv4 first', () => {
    assert.deepEqual((ds.spec.clusterIPs as string[]).map(familyOf), ['IPv4', 'IPv6']);
    assert.deepEqual(ds.spec.ipFamilies, ['IPv4', 'IPv6']);
  });

  for (const f of FAMILIES) {
    test(`${f}: ClusterIP from a pod, TCP and UDP, every backend answers`, async () => {
      const vip = clusterIPOf(f);
      await allAnswer(`TCP ${vip}:80 from c1`, () => lab.probe('c1', 'http', vip, 80, ['--count', '60', '--timeout-ms', '1000']));
      await allAnswer(`UDP ${vip}:53 from c1`, () => lab.probe('c1', 'udp', vip, 53, ['--count', '60', '--timeout-ms', '1000']));
    });

    const hostSkip = MODE === 'ebpf' && !Lab.socketLB(MODE) && 'ebpf mode without socket-level balancing does not serve host processes (no tc egress program)';
    test(`${f}: ClusterIP from a process on each node, TCP and UDP`, { skip: hostSkip }, async () => {
      const vip = clusterIPOf(f);
      for (const node of ['node1', 'node2']) {
        for (const [mode, port] of [['http', '80'], ['udp', '53']] as const) {
          await allAnswer(`host on ${node} reaches ${vip}:${port} over ${mode}`, async () =>
            (await lab.execNode(node, [PROBE, mode, vip, port, '--count', '60', '--timeout-ms', '1000'])).stdout.split('\n').filter((l) => l && !l.startsWith('#')));
        }
      }
    });

    test(`${f}: NodePort from the external client on each node's ${f} address`, async () => {
      const np = ds.spec.ports[0].nodePort as number;
      for (const ip of Object.values(NODE_IPS[f])) {
        await allAnswer(`NodePort ${ip}:${np}`, () => lab.probeExternal('http', ip, np, ['--count', '60', '--timeout-ms', '1000']));
      }
    });

    test(`${f}: ExternalIP and LoadBalancer IP from the external client`, async () => {
      await allAnswer(`ExternalIP ${EXTERNAL_IP[f]}:80`, () => lab.probeExternal('http', EXTERNAL_IP[f], 80, ['--count', '60', '--timeout-ms', '1000']));
      const lb = lbIPOf(f);
      await allAnswer(`LoadBalancer ${lb}:80`, () => lab.probeExternal('http', lb, 80, ['--count', '60', '--timeout-ms', '1000']));
    });
  }

  test('single-stack Services answer on their own family only', async () => {
    const svcs = await lab.get('services');
    for (const [name, fam, port] of [['v6only', 'IPv6', 8006], ['v4only', 'IPv4', 8004]] as const) {
      const s = svcs.find((x) => x.metadata.name === name)!;
      assert.deepEqual((s.spec.clusterIPs as string[]).map(familyOf), [fam], `${name}: ${JSON.stringify(s.spec.clusterIPs)}`);
      await allAnswer(`${name} ${s.spec.clusterIP}:${port}`, () => lab.probe('c1', 'http', s.spec.clusterIP, port, ['--count', '60', '--timeout-ms', '1000']));
      const np = s.spec.ports[0].nodePort as number;
      await allAnswer(`${name} NodePort ${NODE_IPS[fam].node2!}:${np}`, () => lab.probeExternal('http', NODE_IPS[fam].node2!, np, ['--count', '60', '--timeout-ms', '1000']));
      // The other family's address of the node does not serve the NodePort.
      const other = fam === 'IPv4' ? 'IPv6' : 'IPv4';
      const refused = await lab.probeExternal('tcp', NODE_IPS[other].node2!, np, ['--count', '3', '--timeout-ms', '500']);
      assert.ok(refused.length === 3 && refused.every((l) => l.startsWith('ERR')), `${name} on ${NODE_IPS[other].node2}:${np}: ${JSON.stringify(refused)}`);
    }
  });

  test('single-stack Services are programmed in their family only (maps)', { skip: MODE !== 'ebpf' && 'maps exist in ebpf mode only' }, async () => {
    const svcs = await lab.get('services');
    for (const [name, fam] of [['v6only', 'IPv6'], ['v4only', 'IPv4']] as const) {
      const s = svcs.find((x) => x.metadata.name === name)!;
      const port = s.spec.ports[0].port as number, np = s.spec.ports[0].nodePort as number;
      const other = fam === 'IPv4' ? 'IPv6' : 'IPv4';
      for (const node of [1, 2]) {
        const own = frontends(lab, node, fam), theirs = frontends(lab, node, other);
        const vip = parseAddress(s.spec.clusterIP)!.text;
        assert.ok(own.includes(`${vip}:${port}`), `${name}: node${node} ${fam} map lacks ${vip}:${port}: ${JSON.stringify(own)}`);
        assert.ok(own.some((fe) => fe.endsWith(`:${np}`)), `${name}: node${node} ${fam} map lacks the NodePort ${np}`);
        const stray = theirs.filter((fe) => fe.endsWith(`:${port}`) || fe.endsWith(`:${np}`));
        assert.deepEqual(stray, [], `${name}: node${node} has ${other} entries`);
      }
    }
    // And the dual-stack one in both.
    for (const f of FAMILIES) assert.ok(frontends(lab, 1, f).includes(`${parseAddress(clusterIPOf(f))!.text}:80`), `ds ${f} ClusterIP in node1's map`);
  });

  test('single-stack Services are programmed in their family only (iptables-save vs ip6tables-save)', { skip: MODE !== 'iptables' && 'rules exist in iptables mode only' }, async () => {
    // Whichever back end (legacy or nft) the agent chose: read both.
    const save = async (node: string, tools: string[]) => {
      let text = '';
      for (const t of tools) text += (await lab.execNode(node, [t, '-t', 'nat'])).stdout;
      return text;
    };
    for (const node of ['node1', 'node2']) {
      const v4 = await save(node, ['iptables-legacy-save', 'iptables-nft-save']);
      const v6 = await save(node, ['ip6tables-legacy-save', 'ip6tables-nft-save']);
      assert.match(v6, /default\/v6only:http/, `${node}: ip6tables has v6only`);
      assert.doesNotMatch(v4, /default\/v6only:http/, `${node}: iptables has no v6only`);
      assert.match(v4, /default\/v4only:http/, `${node}: iptables has v4only`);
      assert.doesNotMatch(v6, /default\/v4only:http/, `${node}: ip6tables has no v4only`);
      assert.match(v4, /default\/ds:http/);
      assert.match(v6, /default\/ds:http/);
    }
  });

  test('IPv6: explain, monitor --type trace and the single-flow conntrack query name the Service and backend of a real flow', { skip: MODE !== 'ebpf' && 'ebpf mode only' }, async () => {
    const vip = parseAddress(clusterIPOf('IPv6'))!.text;
    const pods = await lab.get('pods');
    const c1 = pods.find((p) => p.metadata.name === 'c1')!;
    const src = (c1.status.podIPs as Array<{ ip: string }>).map((i) => i.ip).find((ip) => familyOf(ip) === 'IPv6')!;
    const v6Of = new Map(pods.map((p) => [p.metadata.name as string, ((p.status?.podIPs ?? []) as Array<{ ip: string }>).map((i) => i.ip).find((ip) => familyOf(ip) === 'IPv6')]));
    const target = ['--lab', lab.name, '--node', '1'];
    // switchyard monitor --json, watching the Service's traces.
    const mon = spawn(process.execPath, [path.join(ROOT, 'bin/switchyard.js'), 'monitor', '--json', ...target, '--type', 'trace', '--service', 'default/ds'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const events: Array<Record<string, any>> = [];
    let out = '', err = '';
    mon.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
        events.push(JSON.parse(out.slice(0, nl)));
        out = out.slice(nl + 1);
      }
    });
    mon.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    try {
      await eventually(`monitor subscribed (stderr: ${err})`, () => err.includes('subscribed'), 60_000);
      const sport = 23456;
      // Bracketed, as a user copies it from a URL.
      const ex = JSON.parse(await ok(['explain', ...target, '--src', `[${src}]`, '--sport', String(sport), '--dst', vip, '--dport', '80', '--json']));
      assert.equal(ex.tuple.family, 'IPv6');
      assert.equal(ex.verdict, 'dnat', JSON.stringify(ex.steps));
      assert.equal(ex.service, 'default/ds:http');
      // The flow itself, from c1's namespace outside the node's cgroup (the tc path).
      const netns = c1.metadata.annotations!['lab.switchyard.dev/netns'] as string;
      const got = (await promisify(execFile)('ip', ['netns', 'exec', netns, PROBE, 'http', vip, '80', '--src-port', String(sport), '--timeout-ms', '2000'], { timeout: 60_000 }))
        .stdout.split('\n').filter((l) => l && !l.startsWith('#'));
      assert.equal(got.length, 1, JSON.stringify(got));
      assert.equal(v6Of.get(got[0]!.trim()), ex.backend.address, `explain said ${ex.backend.address}, the flow reached ${got[0]}`);
      const ct = JSON.parse(await ok(['conntrack', ...target, '--saddr', src, '--daddr', vip, '--sport', String(sport), '--dport', '80', '--json']));
      assert.deepEqual(ct.items.map((i: any) => i.dir).sort(), ['forward', 'reply'], JSON.stringify(ct));
      for (const i of ct.items) {
        assert.equal(i.service, 'default/ds:http');
        assert.equal(i.backend, `[${ex.backend.address}]:8080`);
        assert.equal(i.client, src);
      }
      const t = await eventually('the IPv6 trace in switchyard monitor --json', () => events.find((e) => e.family === 6 && !e.reply && e.dst === vip && e.sport === sport));
      assert.equal(t.kind, 'trace');
      assert.equal(t.service, 'default/ds');
      assert.equal(t.src, src);
      assert.equal(t.natDst, ex.backend.address);
      assert.equal(t.backend, `[${ex.backend.address}]:8080`);
      assert.match(t.frontend, new RegExp(`^ClusterIP \\[${vip}\\]:80/TCP$`));
    } finally {
      mon.kill('SIGINT');
    }
  });

  // The route-result cache (bpf/include/sy_fib_cache.h) follows a neighbour
  // change at once, not after its 1 s age bound: the loader's route watcher
  // bumps the generation. A NodePort UDP flow (one source port) to a backend
  // on node2 is forwarded by node1; node2's MAC on node1 is made wrong, then
  // right again, each right after the flow's route was looked up (so a cached
  // answer would still be fresh for ~1 s). Probes 300 ms after each change
  // must already see it.
  for (const f of FAMILIES) {
    test(`${f}: NodePort forwarding follows a neighbour change on the node within 300 ms (route-result cache invalidated)`, { skip: MODE !== 'ebpf' && 'ebpf mode only' }, async () => {
      const np = ds.spec.ports[1].nodePort as number;
      const node1 = NODE_IPS[f].node1, node2 = NODE_IPS[f].node2;
      const n1 = `${lab.name}-n1`, ext = `${lab.name}-ext`;
      const sh = promisify(execFile);
      const probe = async (sport: number, extra: string[]): Promise<string[]> =>
        (await sh('ip', ['netns', 'exec', ext, PROBE, 'udp', node1, String(np), '--src-port', String(sport), ...extra], { timeout: 30_000 }).catch((e) => e))
          .stdout.split('\n').filter((l: string) => l && !l.startsWith('#'));
      const mac = JSON.parse((await sh('ip', ['-n', `${lab.name}-n2`, '-j', 'link', 'show', 'eth0'])).stdout)[0].address as string;
      const neigh = (lladdr: string, nud: string) => sh('ip', ['-n', n1, 'neigh', 'replace', node2, 'lladdr', lladdr, 'dev', 'eth0', 'nud', nud]);
      const three = ['--count', '3', '--interval-ms', '100', '--timeout-ms', '200'];
      // Each probe is a new socket, and an IPv6 socket gets a random flow
      // label (part of the route's key: multipath hashes it), i.e. a new
      // cache entry; without auto labels the client's probes are one flow.
      const labels = f === 'IPv6' ? (await sh('ip', ['netns', 'exec', ext, 'sysctl', '-n', 'net.ipv6.auto_flowlabels'])).stdout.trim() : '';
      try {
        if (labels) await sh('ip', ['netns', 'exec', ext, 'sysctl', '-qw', 'net.ipv6.auto_flowlabels=0']);
        // A source port whose flow lands on a node2 backend.
        let sport = 0, pod = '';
        for (let s = 41000; s < 41040 && !sport; s++) {
          const [got] = await probe(s, ['--timeout-ms', '1000']);
          if (got && webPods.get(got.trim()) === 'node2') [sport, pod] = [s, got.trim()];
        }
        assert.ok(sport, 'no source port among 40 reached a node2 backend');
        assert.deepEqual(await probe(sport, ['--timeout-ms', '1000']), [pod], 'the flow before the change');
        await neigh('02:00:00:de:ad:01', 'permanent');
        const wrong = await probe(sport, three);
        assert.ok(wrong.length === 3 && wrong.slice(1).every((l) => l.startsWith('ERR')),
          `a wrong MAC for ${node2}: the flow must stop within 300 ms (attempts at ~0, 300, 600 ms): ${JSON.stringify(wrong)}`);
        await neigh(mac, 'reachable');
        const right = await probe(sport, three);
        assert.ok(right.length === 3 && right.slice(1).every((l) => l.trim() === pod),
          `the right MAC again: the flow must come back within 300 ms: ${JSON.stringify(right)}`);
      } finally {
        await neigh(mac, 'reachable').catch(() => undefined);
        if (labels) await sh('ip', ['netns', 'exec', ext, 'sysctl', '-qw', `net.ipv6.auto_flowlabels=${labels}`]);
      }
    });
  }

  test('lab down leaves no namespace, pin, state or process behind', async () => {
    await lab.down();
    assert.deepEqual(lab.leftovers(), []);
  });
});
