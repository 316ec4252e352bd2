// `lab up --ip-family dual|ipv6` through the CLI, with the real daemon and API
// server but without agents (--no-agents): pods are plain routed namespaces,
// so IPv6 between pods, nodes and the external client works without any
// datapath. Also: the default lab has no IPv6 address. Each lab has a unique
// name and is torn down in `after` (down, then cleanup if anything is left),
// also when a test fails.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { prefixContains } from '../../control-plane/src/util/ip.js';
import {
  WHOAMI, cleanup, clusterBuilt, ensureTools, lab, labOk, leftovers, rootSkipReason, uniqueLabName,
} from './helpers.js';

const skip = rootSkipReason() ?? (clusterBuilt() ? undefined : 'lab/src/cluster.ts is not built yet');

const MANIFEST = (policy: string | undefined): string => `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: whoami
          image: switchyard/whoami
          ports:
            - {name: http, containerPort: 8080}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
${policy ? `  ipFamilyPolicy: ${policy}\n` : ''}  ports:
    - {name: http, port: 80, targetPort: http}
`;

type Obj = Record<string, any>;

/** A lab of one IP family mode, with helpers bound to its name. */
function labOf(prefix: string) {
  const name = uniqueLabName(prefix);
  const L = (args: string[]): string[] => [args[0]!, '--name', name, ...args.slice(1)];
  return {
    name,
    L,
    async getJSON(kind: string, extra: string[] = []): Promise<{ items: Obj[] }> {
      return JSON.parse(await labOk(L(['get', kind, '-o', 'json', ...extra])));
    },
    /** `curl` run in a pod (or, with target --external / --node N, elsewhere); stdout trimmed, or the failure. */
    async curl(where: string[], url: string): Promise<string> {
      const r = await lab(L(['exec', ...where, '--', 'curl', '-sS', '-g', '--max-time', '5', url]), { timeoutMs: 30_000 });
      assert.equal(r.code, 0, `curl ${url} from ${where.join(' ')}: ${r.stderr}${r.stdout}`);
      return r.stdout.trim();
    },
    async down(): Promise<void> {
      await lab(L(['down']), { timeoutMs: 120_000 }).catch(() => undefined);
      if (leftovers(name).length > 0) await cleanup(name);
    },
  };
}

/** Global addresses of one family on a device of a namespace (`ip -n NS -4|-6 addr show dev DEV scope global`). */
async function globalAddrs(netns: string, dev: string, family: 4 | 6): Promise<string[]> {
  const out = execFileSync('ip', ['-n', netns, `-${family}`, '-o', 'addr', 'show', 'dev', dev, 'scope', 'global'], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean).map((l) => l.split(/\s+/)[3]!.split('/')[0]!);
}

/** sy-whoami in a node namespace (what the external client talks to); killed by pid in `finally`. */
async function whoamiInNode(netns: string, name: string, port: number): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', netns, WHOAMI, '--name', name, '--tcp', String(port), '--ipv6'], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error('sy-whoami in the node did not listen within 10 s')), 10_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('READY\n')) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`sy-whoami exited (${code})`));
    });
  });
  child.stdout!.resume();
  return child;
}

function stop(child: ChildProcess | undefined): void {
  if (child?.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
}

describe('lab up --ip-family dual (no agents)', { skip, timeout: 600_000 }, () => {
  const l = labOf('ds');

  before(async () => {
    ensureTools();
    await labOk(l.L(['up', '--nodes', '2', '--no-agents', '--ip-family', 'dual']), { timeoutMs: 180_000 });
  });
  after(() => l.down());

  test('status and Nodes show both families', async () => {
    const st = await labOk(l.L(['status']));
    assert.match(st, /ip families IPv4,IPv6 \(dual\), service CIDRs 198\.18\.128\.0\/17,fd00:198:18:128::\/112/);
    assert.match(st, /node1 .*198\.18\.0\.11,fd00:198:18::11 +pods 198\.19\.1\.0\/24,fd00:198:19:1::\/64/);
    assert.match(st, /external .*198\.18\.0\.200,fd00:198:18::200/);
    const info = JSON.parse(await labOk(l.L(['status', '-o', 'json'])));
    assert.deepEqual(info.ipFamilies, ['IPv4', 'IPv6']);
    const nodes = (await l.getJSON('nodes')).items.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
    assert.deepEqual(nodes.map((n) => n.status.addresses.filter((a: Obj) => a.type === 'InternalIP').map((a: Obj) => a.address)),
      [['198.18.0.11', 'fd00:198:18::11'], ['198.18.0.12', 'fd00:198:18::12']]);
    assert.deepEqual(nodes.map((n) => n.spec.podCIDRs), [['198.19.1.0/24', 'fd00:198:19:1::/64'], ['198.19.2.0/24', 'fd00:198:19:2::/64']]);
    assert.deepEqual(await globalAddrs(`${l.name}-n1`, 'eth0', 6), ['fd00:198:18::11']);
    assert.deepEqual(await globalAddrs(`${l.name}-n1`, 'eth0', 4), ['198.18.0.11']);
  });

  test('pods on two nodes get both families and reach each other over IPv6 and IPv4 (TCP)', async () => {
    await labOk(l.L(['apply', '-f', '-']), { input: MANIFEST('PreferDualStack') });
    await labOk(l.L(['wait-ready', '--timeout', '90']), { timeoutMs: 120_000 });
    const pods = (await l.getJSON('pods')).items.filter((p) => p.metadata.labels?.app === 'web');
    assert.equal(pods.length, 2);
    const [a, b] = pods as [Obj, Obj];
    assert.notEqual(a.spec.nodeName, b.spec.nodeName, 'spread over both nodes');
    for (const p of pods) {
      const ips = p.status.podIPs.map((x: Obj) => x.ip);
      assert.equal(ips.length, 2, JSON.stringify(p.status));
      assert.equal(p.status.podIP, ips[0]);
      assert.ok(prefixContains('198.19.0.0/16', ips[0]), ips[0]);
      assert.ok(prefixContains('fd00:198:19::/48', ips[1]), ips[1]);
      assert.equal(p.status.hostIPs.length, 2);
    }
    const a6 = a.status.podIPs[1].ip as string, b6 = b.status.podIPs[1].ip as string;
    const peer6 = await l.curl([a.metadata.name], `http://[${b6}]:8080/peer`);
    assert.match(peer6, new RegExp(`^${b.metadata.name} \\[${a6.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\]:\\d+$`), 'IPv6, the pod\'s own source address');
    const peer4 = await l.curl([a.metadata.name], `http://${b.status.podIP}:8080/peer`);
    assert.match(peer4, new RegExp(`^${b.metadata.name} ${a.status.podIP.replace(/\./g, '\\.')}:\\d+$`), 'IPv4 on the same dual-stack server');
    // The Service got two ClusterIPs and one slice per family.
    const svc = (await l.getJSON('services', ['web'])).items[0]!;
    assert.deepEqual(svc.spec.ipFamilies, ['IPv4', 'IPv6']);
    assert.ok(prefixContains('fd00:198:18:128::/112', svc.spec.clusterIPs[1]), svc.spec.clusterIPs[1]);
    const slices = (await l.getJSON('endpointslices')).items.filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === 'web');
    const byType = Object.fromEntries(slices.map((s) => [s.addressType, s.endpoints.map((e: Obj) => e.addresses[0]).sort()]));
    assert.deepEqual(byType, { IPv4: [a.status.podIP, b.status.podIP].sort(), IPv6: [a6, b6].sort() });
  });

  test('the external client reaches the nodes\' IPv6 addresses, and a pod\'s through node1', async () => {
    const node1 = await whoamiInNode(`${l.name}-n1`, 'node1', 18080);
    const node2 = await whoamiInNode(`${l.name}-n2`, 'node2', 18080).catch((e) => {
      stop(node1);
      throw e;
    });
    try {
      assert.match(await l.curl(['--external'], 'http://[fd00:198:18::11]:18080/peer'), /^node1 \[fd00:198:18::200\]:\d+$/);
      assert.match(await l.curl(['--external'], 'http://[fd00:198:18::12]:18080/peer'), /^node2 \[fd00:198:18::200\]:\d+$/);
      const pod = (await l.getJSON('pods')).items.find((p) => p.metadata.labels?.app === 'web' && p.spec.nodeName === 'node2')!;
      assert.equal(await l.curl(['--external'], `http://[${pod.status.podIPs[1].ip}]:8080/`), pod.metadata.name, 'routed by node1 to node2\'s IPv6 pod CIDR');
    } finally {
      stop(node1);
      stop(node2);
    }
  });
});

describe('lab up --ip-family dual with agents (ebpf)', { skip, timeout: 600_000 }, () => {
  const l = labOf('da');

  before(async () => {
    ensureTools();
    await labOk(l.L(['up', '--nodes', '2', '--ip-family', 'dual', '--timeout', '240']), { timeoutMs: 300_000 });
  });
  after(() => l.down());

  test('agents come up healthy (health on [::]:10256, polled over IPv4) and IPv4 Services work as in an IPv4 lab', async () => {
    const info = JSON.parse(await labOk(l.L(['status', '-o', 'json'])));
    assert.ok(info.nodes.every((n: Obj) => n.agent?.healthy), JSON.stringify(info.nodes.map((n: Obj) => n.agent)));
    // The health port answers on the node's IPv6 address too (one socket, both families).
    const hz = JSON.parse(await l.curl(['--cp'], 'http://[fd00:198:18::12]:10256/healthz'));
    assert.equal(typeof hz.lastUpdated, 'string');
    const manifest = MANIFEST('PreferDualStack').replace('  ports:\n    - {name: http, port: 80', '  type: NodePort\n  ports:\n    - {name: http, port: 80');
    assert.match(manifest, /type: NodePort/);
    await labOk(l.L(['apply', '-f', '-']), { input: manifest });
    await labOk(l.L(['wait-ready', '--timeout', '90']), { timeoutMs: 120_000 });
    const pods = (await l.getJSON('pods')).items.filter((p) => p.metadata.labels?.app === 'web').map((p) => p.metadata.name as string);
    const svc = (await l.getJSON('services', ['web'])).items[0]!;
    assert.equal(svc.spec.clusterIPs.length, 2);
    // The datapath programs the IPv4 family as before (the IPv6 one is the v6 helpers' part).
    for (let i = 0; i < 3; i++) {
      assert.ok(pods.includes(await l.curl([pods[0]!], `http://${svc.spec.clusterIP}/`)), 'IPv4 ClusterIP answered by a web pod');
    }
    const np = svc.spec.ports[0].nodePort as number;
    assert.ok(pods.includes(await l.curl(['--external'], `http://198.18.0.12:${np}/`)), 'IPv4 NodePort from the external client');
  });
});

describe('lab up --ip-family ipv6 (no agents)', { skip, timeout: 600_000 }, () => {
  const l = labOf('s6');

  before(async () => {
    ensureTools();
    await labOk(l.L(['up', '--nodes', '2', '--no-agents', '--ip-family', 'ipv6']), { timeoutMs: 180_000 });
  });
  after(() => l.down());

  test('IPv6 only: no IPv4 on nodes, pods or the external client; the API over IPv6; pods reach each other; ClusterIPs IPv6', async () => {
    const info = JSON.parse(await labOk(l.L(['status', '-o', 'json'])));
    assert.deepEqual(info.ipFamilies, ['IPv6']);
    assert.equal(info.apiServer, 'http://[fd00:198:18::1]:6443');
    for (const ns of [`${l.name}-n1`, `${l.name}-n2`, `${l.name}-ext`]) {
      assert.deepEqual(await globalAddrs(ns, 'eth0', 4), [], `${ns} has no IPv4`);
      assert.equal((await globalAddrs(ns, 'eth0', 6)).length, 1, `${ns} has one IPv6 address`);
    }
    await labOk(l.L(['apply', '-f', '-']), { input: MANIFEST(undefined) });
    await labOk(l.L(['wait-ready', '--timeout', '90']), { timeoutMs: 120_000 });
    const pods = (await l.getJSON('pods')).items.filter((p) => p.metadata.labels?.app === 'web');
    const [a, b] = pods as [Obj, Obj];
    assert.notEqual(a.spec.nodeName, b.spec.nodeName);
    for (const p of pods) {
      assert.deepEqual(p.status.podIPs, [{ ip: p.status.podIP }]);
      assert.ok(prefixContains('fd00:198:19::/48', p.status.podIP), p.status.podIP);
      assert.deepEqual(await globalAddrs(p.metadata.annotations['lab.switchyard.dev/netns'], 'eth0', 4), []);
    }
    assert.equal(await l.curl([a.metadata.name], `http://[${b.status.podIP}]:8080/`), b.metadata.name);
    const svc = (await l.getJSON('services', ['web'])).items[0]!;
    assert.deepEqual(svc.spec.ipFamilies, ['IPv6']);
    assert.ok(prefixContains('fd00:198:18:128::/112', svc.spec.clusterIP), svc.spec.clusterIP);
    const node1 = await whoamiInNode(`${l.name}-n1`, 'node1', 18080);
    try {
      assert.match(await l.curl(['--external'], 'http://[fd00:198:18::11]:18080/peer'), /^node1 \[fd00:198:18::200\]:\d+$/);
    } finally {
      stop(node1);
    }
  });
});

describe('the default lab stays IPv4-only', { skip, timeout: 600_000 }, () => {
  const l = labOf('d4');

  before(async () => {
    ensureTools();
    await labOk(l.L(['up', '--nodes', '1', '--no-agents']), { timeoutMs: 180_000 });
  });
  after(() => l.down());

  test('no IPv6 address on any host or pod; Nodes, pods and Services IPv4 only', async () => {
    for (const ns of [`${l.name}-n1`, `${l.name}-ext`, `${l.name}-cp`]) {
      assert.deepEqual(await globalAddrs(ns, 'eth0', 6), [], `${ns} has no IPv6 address`);
    }
    await labOk(l.L(['apply', '-f', '-']), { input: MANIFEST('PreferDualStack') });
    await labOk(l.L(['wait-ready', '--timeout', '90']), { timeoutMs: 120_000 });
    const pods = (await l.getJSON('pods')).items.filter((p) => p.metadata.labels?.app === 'web');
    for (const p of pods) {
      assert.deepEqual(p.status.podIPs, [{ ip: p.status.podIP }]);
      assert.deepEqual(await globalAddrs(p.metadata.annotations['lab.switchyard.dev/netns'], 'eth0', 6), []);
    }
    const node = (await l.getJSON('nodes')).items[0]!;
    assert.deepEqual(node.status.addresses.filter((a: Obj) => a.type === 'InternalIP').map((a: Obj) => a.address), ['198.18.0.11']);
    const svc = (await l.getJSON('services', ['web'])).items[0]!;
    assert.deepEqual(svc.spec.ipFamilies, ['IPv4'], 'PreferDualStack on a single-stack cluster');
    assert.equal(svc.spec.clusterIPs.length, 1);
    const info = JSON.parse(await labOk(l.L(['status', '-o', 'json'])));
    assert.deepEqual(info.ipFamilies, ['IPv4']);
  });
});

describe('lab up --ip-family: bad values are refused before anything is created', { skip: rootSkipReason() }, () => {
  test('an unknown family', async () => {
    const r = await lab(['up', '--name', 'zz9fam', '--ip-family', 'ipv5', '--no-agents']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--ip-family "ipv5": expected ipv4, ipv6, dual/);
    assert.deepEqual(leftovers('zz9fam'), []);
  });
});
