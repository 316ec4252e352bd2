// The machine's real kubectl against the lab API server, with nothing but a
// kubeconfig: apply (client validation through the OpenAPI documents, strict
// field validation on the server), server-side Tables with kube-apiserver's
// columns, -o wide, get -w, rollout status, wait, describe, scale, delete.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { findKubectl } from '../../lab/src/cli/kubectl.js';
import { startTestCluster, type TestCluster } from './helpers.js';

interface Run {
  code: number | null;
  out: string;
  err: string;
}

const MANIFEST = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: lab/http
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web-np}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 8080, targetPort: 8080, nodePort: 30080, protocol: TCP}]
---
apiVersion: v1
kind: Pod
metadata: {name: solo, labels: {app: solo}}
spec:
  containers: [{name: c, image: lab/http}]
`;

const UNKNOWN_FIELD = `apiVersion: apps/v1
kind: Deployment
metadata: {name: typo}
spec:
  replicas: 1
  selector: {matchLabels: {app: typo}}
  template:
    metadata: {labels: {app: typo}}
    spec:
      containers:
      - name: web
        image: lab/http
        imagePullPolicyy: Always
`;

const WRONG_TYPE = UNKNOWN_FIELD.replace('replicas: 1', 'replicas: "one"').replace(/\n {8}imagePullPolicyy: Always/, '');

/** A table's header names and rows, split on runs of 2+ spaces (as kubectl pads). */
function parseTable(text: string): { header: string[]; rows: string[][] } {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const split = (l: string): string[] => l.trim().split(/\s{2,}/);
  return { header: split(lines[0] ?? ''), rows: lines.slice(1).map(split) };
}

describe('kubectl against the lab API server', { timeout: 180_000 }, () => {
  let c: TestCluster;
  let dir: string;
  let kubectl: string;
  let env: NodeJS.ProcessEnv;

  const run = (args: string[], timeoutMs = 60_000): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(kubectl, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, out, err });
      });
    });
  const ok = async (args: string[]): Promise<string> => {
    const r = await run(args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed:\n${r.err}${r.out}`);
    return r.out;
  };

  before(async () => {
    kubectl = findKubectl();
    c = await startTestCluster();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-kubectl-'));
    const kubeconfig = path.join(dir, 'kubeconfig');
    fs.writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters: [{name: lab, cluster: {server: "${c.base}"}}]\nusers: [{name: lab, user: {}}]\n` +
        'contexts: [{name: lab, context: {cluster: lab, user: lab, namespace: default}}]\ncurrent-context: lab\n',
    );
    fs.writeFileSync(path.join(dir, 'app.yaml'), MANIFEST);
    fs.writeFileSync(path.join(dir, 'unknown-field.yaml'), UNKNOWN_FIELD);
    fs.writeFileSync(path.join(dir, 'wrong-type.yaml'), WRONG_TYPE);
    // A HOME of its own: no discovery or OpenAPI cache from another run.
    env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, KUBECONFIG: kubeconfig };
  });

  after(async () => {
    await c?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('apply -f with no flags creates a Deployment, Services and a Pod', async () => {
    const out = await ok(['apply', '-f', path.join(dir, 'app.yaml')]);
    assert.match(out, /deployment\.apps\/web created/);
    assert.match(out, /service\/web created/);
    assert.match(out, /pod\/solo created/);
    // Applied again: a patch computed against the live objects, nothing changes.
    assert.match(await ok(['apply', '-f', path.join(dir, 'app.yaml')]), /deployment\.apps\/web unchanged/);
  });

  test('apply of an unknown field fails as against kube-apiserver (strict field validation), and creates nothing', async () => {
    const r = await run(['apply', '-f', path.join(dir, 'unknown-field.yaml')]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /Error from server \(BadRequest\): error when creating ".*unknown-field\.yaml": Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec\.template\.spec\.containers\[0\]\.imagePullPolicyy"/);
    const w = await run(['apply', '-f', path.join(dir, 'wrong-type.yaml')]);
    assert.notEqual(w.code, 0);
    assert.match(w.err, /cannot unmarshal string into Go struct field DeploymentSpec\.spec\.replicas of type int32/);
    assert.equal(c.store.get('deployments', 'typo', 'default'), undefined);
  });

  test('rollout status and wait --for=condition=Ready', async () => {
    assert.match(await ok(['rollout', 'status', 'deployment/web', '--timeout=60s']), /deployment "web" successfully rolled out/);
    assert.match(await ok(['wait', '--for=condition=Ready', 'pod/solo', '--timeout=60s']), /pod\/solo condition met/);
  });

  test('get prints the columns kube-apiserver prints, for every served kind', async () => {
    const svc = parseTable(await ok(['get', 'svc']));
    assert.deepEqual(svc.header, ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE']);
    const web = c.store.get('services', 'web', 'default');
    const byName = new Map(svc.rows.map((r) => [r[0], r]));
    assert.deepEqual(byName.get('web')?.slice(0, 5), ['web', 'ClusterIP', web?.spec?.clusterIP, '<none>', '80/TCP']);
    assert.deepEqual(byName.get('web-np')?.slice(1, 5).filter((_, i) => i !== 1), ['NodePort', '<none>', '8080:30080/TCP']);
    assert.match(byName.get('web')?.[5] ?? '', /^\d+s$|^\d+m/);
    assert.deepEqual(parseTable(await ok(['get', 'svc', '-o', 'wide'])).header, ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE', 'SELECTOR']);

    const expect: Array<[string, string[]]> = [
      ['nodes', ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION']],
      ['namespaces', ['NAME', 'STATUS', 'AGE']],
      ['pods', ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE']],
      ['endpointslices', ['NAME', 'ADDRESSTYPE', 'PORTS', 'ENDPOINTS', 'AGE']],
      ['deployments', ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE']],
      ['replicasets', ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE']],
      ['replicationcontrollers', ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE']],
    ];
    for (const [kind, header] of expect) {
      const r = await run(['get', kind]);
      assert.equal(r.code, 0, r.err);
      // An empty kind prints "No resources found"; the others a table.
      if (r.out.trim() === '') assert.match(r.err, /No resources found/);
      else assert.deepEqual(parseTable(r.out).header, header, kind);
    }
    const nodes = parseTable(await ok(['get', 'nodes']));
    assert.deepEqual(nodes.rows.map((r) => r.slice(0, 3)), [['node-a', 'Ready', '<none>'], ['node-b', 'Ready', '<none>'], ['node-c', 'Ready', '<none>']]);
    assert.deepEqual(parseTable(await ok(['get', 'ns'])).rows.find((r) => r[0] === 'default')?.slice(0, 2), ['default', 'Active']);
    const deploy = parseTable(await ok(['get', 'deploy', '-o', 'wide']));
    assert.deepEqual(deploy.header, ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE', 'CONTAINERS', 'IMAGES', 'SELECTOR']);
    assert.deepEqual([...(deploy.rows[0] ?? []).slice(0, 4), ...(deploy.rows[0] ?? []).slice(5)], ['web', '2/2', '2', '2', 'web', 'lab/http', 'app=web']);
    const rs = parseTable(await ok(['get', 'rs']));
    assert.deepEqual(rs.rows[0]?.slice(1, 4), ['2', '2', '2']);
    const slices = parseTable(await ok(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=web']));
    const podIPs = c.store.list('pods', { namespace: 'default', labelSelector: 'app=web' }).items.map((p) => p.status?.podIP).sort();
    assert.deepEqual(slices.rows[0]?.slice(1, 3), ['IPv4', '8080']);
    assert.deepEqual(slices.rows[0]?.[3]?.split(',').sort(), podIPs);
  });

  test('get pods -o wide shows IP, NODE, NOMINATED NODE and READINESS GATES', async () => {
    const t = parseTable(await ok(['get', 'pods', '-o', 'wide']));
    assert.deepEqual(t.header, ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES']);
    const solo = c.store.get('pods', 'solo', 'default');
    const row = t.rows.find((r) => r[0] === 'solo');
    assert.deepEqual([...(row ?? []).slice(0, 4), ...(row ?? []).slice(5)], ['solo', '1/1', 'Running', '0', solo?.status?.podIP, solo?.spec?.nodeName, '<none>', '<none>']);
  });

  test('describe svc and scale', async () => {
    const d = await ok(['describe', 'svc', 'web']);
    assert.match(d, /^Type:\s+ClusterIP$/m);
    assert.match(d, /^Endpoints:\s+198\.18\.\d+\.\d+:8080,198\.18\.\d+\.\d+:8080$/m);
    assert.match(await ok(['scale', 'deployment/web', '--replicas=3']), /deployment\.apps\/web scaled/);
    assert.match(await ok(['rollout', 'status', 'deployment/web', '--timeout=60s']), /successfully rolled out/);
  });

  test('get -w prints a change as it happens', async () => {
    const child = spawn(kubectl, ['get', 'deployment', 'web', '-w'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const seen = (re: RegExp, what: string): Promise<void> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`get -w: no ${what} within 60 s; printed:\n${out}`)), 60_000);
        const check = (): void => {
          if (re.test(out)) {
            clearTimeout(timer);
            child.stdout.off('data', check);
            resolve();
          }
        };
        child.stdout.on('data', (d) => {
          out += d;
          check();
        });
        check();
      });
    try {
      await seen(/^web\s+3\/3\s/m, 'initial row');
      await ok(['scale', 'deployment/web', '--replicas=1']);
      await seen(/^web\s+\d+\/1\s/m, 'row for the scale-down');
      // Headers once, then one row per event.
      assert.equal(out.match(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/gm)?.length, 1, out);
    } finally {
      child.kill('SIGTERM');
    }
  });

  test('delete -f removes what apply created', async () => {
    const out = await ok(['delete', '-f', path.join(dir, 'app.yaml'), '--wait=false']);
    assert.match(out, /deployment\.apps "web" deleted/);
    assert.equal(c.store.get('deployments', 'web', 'default'), undefined);
    assert.equal(c.store.get('services', 'web', 'default'), undefined);
  });
});
