// The lab through its CLI, with the real daemon and API server but without
// agents (--no-agents): pods are plain routed namespaces, so pod-to-pod
// traffic across nodes works without any datapath. Runs as root; the lab is
// torn down in `after` (down, then cleanup if anything is left).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  PROBE, cleanup, clusterBuilt, ensureTools, eventually, lab, labOk, leftovers, rootSkipReason, uniqueLabName,
} from './helpers.js';

const skip = rootSkipReason() ?? (clusterBuilt() ? undefined : 'lab/src/cluster.ts is not built yet');

interface KubeObj {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; deletionTimestamp?: string };
  spec?: any;
  status?: any;
}

const DEPLOYMENT = `
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
            - {name: echo, containerPort: 5353, protocol: UDP}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
    - {name: http, port: 80, targetPort: http}
`;

describe('lab CLI: 2-node lab without agents', { skip, timeout: 600_000 }, () => {
  const name = uniqueLabName('cli');
  // --name right after the command word: after `--` it would belong to exec's command.
  const L = (args: string[]): string[] => [args[0]!, '--name', name, ...args.slice(1)];

  async function getJSON(kind: string, extra: string[] = []): Promise<{ apiVersion: string; kind: string; items: KubeObj[] }> {
    return JSON.parse(await labOk(L(['get', kind, '-o', 'json', ...extra])));
  }

  async function webPods(): Promise<KubeObj[]> {
    return (await getJSON('pods')).items.filter((p) => p.metadata.labels?.['app'] === 'web' && !p.metadata.deletionTimestamp);
  }

  before(async () => {
    ensureTools();
    await labOk(L(['up', '--nodes', '2', '--no-agents']), { timeoutMs: 120_000 });
  });

  after(async () => {
    await lab(L(['down']), { timeoutMs: 120_000 }).catch(() => undefined);
    if (leftovers(name).length > 0) await cleanup(name);
  });

  test('status and nodes', async () => {
    const st = await labOk(L(['status']));
    assert.match(st, /node1 .*198\.18\.0\.11/);
    assert.match(st, /external .*198\.18\.0\.200/);
    const nodes = await getJSON('nodes');
    assert.equal(nodes.kind, 'List');
    assert.deepEqual(nodes.items.map((n) => n.metadata.name).sort(), ['node1', 'node2']);
    const info = JSON.parse(await labOk(L(['status', '-o', 'json'])));
    assert.equal(info.name, name);
    assert.equal(info.agents, false);
    assert.deepEqual(info.nodes.map((n: { netns: string; ip: string; zone: string }) => [n.netns, n.ip, n.zone]),
      [[`${name}-n1`, '198.18.0.11', 'zone-a'], [`${name}-n2`, '198.18.0.12', 'zone-b']]);
    assert.equal(info.external.netns, `${name}-ext`);
    assert.ok(fs.existsSync(`/run/switchyard/lab/${name}/kubeconfig`));
  });

  test('apply a Deployment: pods on both nodes reach each other directly (TCP, UDP, HTTP)', async () => {
    const out = await labOk(L(['apply', '-f', '-']), { input: DEPLOYMENT });
    assert.match(out, /deployment\.apps\/web created/);
    assert.match(out, /service\/web created/);
    await labOk(L(['wait-ready', '--timeout', '60']), { timeoutMs: 90_000 });

    const list = await getJSON('pods');
    assert.equal(list.apiVersion, 'v1');
    assert.equal(list.kind, 'List');
    const pods = list.items.filter((p) => p.metadata.labels?.['app'] === 'web');
    assert.equal(pods.length, 2);
    for (const p of pods) {
      assert.equal(p.kind, 'Pod');
      assert.equal(p.metadata.namespace, 'default');
      assert.equal(p.status.phase, 'Running');
      assert.match(p.status.podIP, /^198\.19\.[12]\.\d+$/);
      assert.ok(p.spec.nodeName === 'node1' || p.spec.nodeName === 'node2');
      assert.equal(p.metadata.annotations?.['lab.switchyard.dev/netns'], `${name}-p-${p.metadata.name}`);
    }
    const [a, b] = pods as [KubeObj, KubeObj];
    assert.notEqual(a.spec.nodeName, b.spec.nodeName, 'the scheduler spreads the two pods over both nodes');

    const probe = async (mode: string, port: string, extra: string[] = []): Promise<string[]> => {
      const r = await lab(L(['exec', a.metadata.name, '--', PROBE, mode, b.status.podIP, port, '--count', '3', ...extra]));
      assert.equal(r.code, 0, r.stderr + r.stdout);
      return r.stdout.trim().split('\n');
    };
    const bName = b.metadata.name;
    assert.deepEqual(await probe('tcp', '8080'), [bName, bName, bName]);
    assert.deepEqual(await probe('udp', '5353'), [bName, bName, bName]);
    assert.deepEqual(await probe('http', '8080'), [bName, bName, bName]);
    const peer = await probe('http', '8080', ['--peer']);
    assert.equal(peer[0], `${bName} ${a.status.podIP}:${peer[0]!.split(':').pop()}`);

    // The slice of the Service lists both pods.
    const slices = (await getJSON('endpointslices')).items.filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === 'web');
    const addrs = slices.flatMap((s: any) => s.endpoints.flatMap((e: any) => e.addresses)).sort();
    assert.deepEqual(addrs, [a.status.podIP, b.status.podIP].sort());
  });

  test('apply again replaces and keeps the allocated ClusterIP', async () => {
    const before = (await getJSON('services', ['web'])).items[0]!;
    assert.match(before.spec.clusterIP, /^198\.18\./);
    const out = await labOk(L(['apply', '-f', '-']), { input: DEPLOYMENT });
    assert.match(out, /deployment\.apps\/web configured/);
    assert.match(out, /service\/web configured/);
    const afterApply = (await getJSON('services', ['web'])).items[0]!;
    assert.equal(afterApply.spec.clusterIP, before.spec.clusterIP);
  });

  test('tables', async () => {
    const pods = await labOk(L(['get', 'pods', '-o', 'wide']));
    assert.match(pods.split('\n')[0]!, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE/);
    assert.match(pods, /web-\S+\s+1\/1\s+Running/);
    assert.match(await labOk(L(['get', 'deploy'])), /web\s+2\/2/);
    assert.match(await labOk(L(['get', 'svc'])), /web\s+ClusterIP\s+198\.18\.\S+\s+<none>\s+80\/TCP/);
    assert.match(await labOk(L(['get', 'nodes', '-A'])), /node1\s+Ready/);
    const none = await lab(L(['get', 'pods', '-n', 'empty']));
    assert.equal(none.code, 0);
    assert.match(none.stderr, /No resources found in empty namespace/);
    const missing = await lab(L(['get', 'pods', 'nope']));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /NotFound/);
  });

  test('lab kubectl: the machine\'s kubectl, from the control plane, with the lab\'s kubeconfig', async () => {
    const svc = await labOk(['kubectl', '--name', name, 'get', 'svc']);
    assert.match(svc.split('\n')[0]!, /^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$/);
    assert.match(svc, /^web\s+ClusterIP\s+198\.18\.\S+\s+<none>\s+80\/TCP\s+\S+$/m);
    // kubectl reads the manifest from the CLI's stdin; validation needs no flag.
    const extra = 'apiVersion: v1\nkind: Service\nmetadata: {name: extra}\nspec:\n  selector: {app: web}\n  ports: [{port: 81, targetPort: 8080}]\n';
    assert.match(await labOk(['kubectl', '--name', name, 'apply', '-f', '-'], { input: extra }), /service\/extra created/);
    const typo = await lab(['kubectl', '--name', name, 'apply', '-f', '-'], { input: extra.replace('targetPort', 'targetPortt') });
    assert.notEqual(typo.code, 0);
    assert.match(typo.stderr, /strict decoding error: unknown field "spec\.ports\[0\]\.targetPortt"/);
    assert.match(await labOk(['kubectl', '--name', name, 'delete', 'svc', 'extra']), /service "extra" deleted/);
    const unknown = await lab(['kubectl', '--name', `${name}-none`, 'get', 'pods']);
    assert.notEqual(unknown.code, 0);
  });

  test('get -o json into a pipe read late is whole beyond 64 KiB', async () => {
    const manifest = Array.from({ length: 150 }, (_, i) => `apiVersion: v1\nkind: Service\nmetadata: {name: bulk-${i}, labels: {bulk: "yes"}}\nspec:\n  ports: [{port: 80}]\n`).join('---\n');
    await labOk(L(['apply', '-f', '-']), { input: manifest, timeoutMs: 120_000 });
    try {
      // An OS pipe (as a shell makes: node's own spawn pipes are socket pairs, which hid the bug)
      // read from a second after the CLI started: a CLI that exits before stdout drains leaves
      // exactly 65,536 bytes, what the pipe held.
      const cli = path.join(import.meta.dirname, '../../../bin/switchyard.js');
      const text = await new Promise<string>((resolve, reject) => {
        const child = spawn('bash', ['-c', 'set -o pipefail; "$0" "$1" lab get svc --name "$2" -l bulk=yes -o json | (sleep 1; cat)', process.execPath, cli, name], { stdio: ['ignore', 'pipe', 'inherit'] });
        const chunks: Buffer[] = [];
        const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
        child.stdout.on('data', (d: Buffer) => chunks.push(d));
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          if (code !== 0) reject(new Error(`get exited ${code}`));
          else resolve(Buffer.concat(chunks).toString('utf8'));
        });
      });
      assert.ok(text.length > 65_536, `output is ${text.length} bytes`);
      const list = JSON.parse(text) as { items: KubeObj[] };
      assert.equal(list.items.length, 150);
    } finally {
      await labOk(L(['delete', '-f', '-']), { input: manifest, timeoutMs: 120_000 });
    }
  });

  test('exec into the external client, a node, and exit codes', async () => {
    // Nothing listens on port 1: "refused" means the node answered.
    const ext = await lab(L(['exec', '--external', '--', PROBE, 'tcp', '198.18.0.11', '1', '--timeout-ms', '2000']));
    assert.equal(ext.stdout.trim(), 'ERR refused');
    const pods = await webPods();
    const onNode = await lab(L(['exec', '--node', 'node1', '--', PROBE, 'tcp', pods[0]!.status.podIP, '8080']));
    assert.equal(onNode.stdout.trim(), pods[0]!.metadata.name);
    assert.equal((await lab(L(['exec', '--external', '--', 'sh', '-c', 'exit 7']))).code, 7);
    const noPod = await lab(L(['exec', 'nope', '--', 'true']));
    assert.equal(noPod.code, 1);
    assert.match(noPod.stderr, /not found/);
  });

  test('scale and set-ready', async () => {
    assert.match(await labOk(L(['scale', 'deployment/web', '3'])), /deployment\.apps\/web scaled/);
    await labOk(L(['wait-ready', '--timeout', '60']), { timeoutMs: 90_000 });
    assert.equal((await webPods()).length, 3);

    const victim = (await webPods())[0]!;
    await labOk(L(['set-ready', victim.metadata.name, 'false']));
    await eventually('the pod reports not ready', async () => {
      const p = (await webPods()).find((x) => x.metadata.name === victim.metadata.name);
      return p?.status.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'False');
    });
    const notReady = await lab(L(['wait-ready', '--timeout', '1']));
    assert.equal(notReady.code, 1);
    assert.match(notReady.stderr, new RegExp(`${victim.metadata.name} not ready`));
    await labOk(L(['set-ready', victim.metadata.name, 'true']));
    await labOk(L(['wait-ready', '--timeout', '60']), { timeoutMs: 90_000 });

    await labOk(L(['scale', 'deployment/web', '1']));
    await eventually('one web pod left', async () => (await webPods()).length === 1, 30_000);
  });

  test('logs', async () => {
    assert.match(await labOk(L(['logs', 'daemon'])), /lab daemon ready/);
    const pod = (await webPods())[0]!;
    assert.match(await labOk(L(['logs', pod.metadata.name])), /serving 1 tcp and 1 udp port/);
    assert.equal((await lab(L(['logs', 'node1']))).code, 1); // no agent log without agents
  });

  test('delete -f removes the objects', async () => {
    const out = await labOk(L(['delete', '-f', '-']), { input: DEPLOYMENT });
    assert.match(out, /deployment\.apps\/web deleted/);
    assert.match(out, /service\/web deleted/);
    await eventually('the web pods are gone', async () => (await getJSON('pods')).items.length === 0, 30_000);
    const again = await lab(L(['delete', '-f', '-']), { input: DEPLOYMENT });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /NotFound/);
    assert.equal((await lab(L(['delete', '-f', '-', '--ignore-not-found']), { input: DEPLOYMENT })).code, 0);
  });

  test('down leaves no namespace, state directory, pin or process; commands then say no lab is up', async () => {
    const info = JSON.parse(await labOk(L(['status', '-o', 'json'])));
    const daemonPid = info.daemon.pid as number;
    await labOk(L(['down']), { timeoutMs: 120_000 });
    assert.deepEqual(leftovers(name), []);
    assert.ok(!fs.existsSync(`/proc/${daemonPid}`) || fs.readFileSync(`/proc/${daemonPid}/cmdline`, 'utf8').indexOf(name) < 0);
    const get = await lab(L(['get', 'pods']));
    assert.equal(get.code, 1);
    assert.match(get.stderr, /no lab named/);
    const down = await lab(L(['down']));
    assert.equal(down.code, 1);
    assert.match(down.stderr, /no lab named/);
  });
});

describe('lab CLI: errors before anything is created', { skip: rootSkipReason() }, () => {
  test('bad names and node counts are refused; commands without a lab say so', async () => {
    const badName = await lab(['up', '--name', 'Bad_Name', '--no-agents']);
    assert.equal(badName.code, 2);
    assert.match(badName.stderr, /invalid lab name/);
    const badNodes = await lab(['up', '--name', 'zz9', '--nodes', '0', '--no-agents']);
    assert.equal(badNodes.code, 2);
    assert.match(badNodes.stderr, /bad node count/);
    const badMode = await lab(['up', '--name', 'zz9', '--mode', 'fast']);
    assert.equal(badMode.code, 2);
    const noLab = await lab(['get', 'pods', '--name', 'zz9nolab']);
    assert.equal(noLab.code, 1);
    assert.match(noLab.stderr, /no lab named "zz9nolab" is up/);
    const unknown = await lab(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.deepEqual(leftovers('zz9'), []);
  });
});
