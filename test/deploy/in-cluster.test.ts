// The agent as the DaemonSet runs it: no --kubeconfig, so client-node's
// in-cluster configuration (KubeConfig.loadFromCluster): https to
// $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, the server verified with
// /var/run/secrets/kubernetes.io/serviceaccount/ca.crt, the token of that
// directory as bearer token.
//
// A one-node lab without agents provides the API server and the datapath
// namespaces. The lab's API server speaks plain HTTP, and client-node uses
// https for every port but 80, 8080 and 8001, so an HTTPS front
// (tls-forwarder.ts, certificate from a CA made here) runs in the lab's
// control-plane namespace on its address, requires the token, and forwards
// to the API server's unix socket. The agent runs in the node's network
// namespace, in a private mount namespace where a tmpfs on /run holds the
// service-account files at the path a pod sees: nothing changes on this
// machine. A loader runs beside it as the DaemonSet's loader container does.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LoaderClient } from '../../control-plane/src/dataplane/ebpf/loader-client.js';
import { Lab, ROOT, eventually, ok, tally } from '../e2e/harness.js';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const LOADER = path.join(ROOT, 'loader/build/switchyard-loader');
const CLI = path.join(ROOT, 'bin/switchyard.js');
const FORWARDER = path.join(ROOT, 'dist/test/deploy/tls-forwarder.js');
const WHOAMI = readFileSync(path.join(ROOT, 'lab/examples/whoami.yaml'), 'utf8');
const FRONT_PORT = 6444;

interface LabInfo {
  apiSocket: string;
  controlPlane: { netns: string; ip: string };
  nodes: Array<{ name: string; netns: string; ip: string; pinInstance: string }>;
}

class Proc {
  out = '';
  exited: Promise<number | null>;
  constructor(readonly name: string, readonly child: ChildProcess) {
    child.stdout?.on('data', (d) => (this.out += d));
    child.stderr?.on('data', (d) => (this.out += d));
    this.exited = new Promise((r) => child.on('exit', (code) => r(code)));
  }
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  async stop(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }
}

function start(name: string, argv: string[], env: NodeJS.ProcessEnv = process.env): Proc {
  return new Proc(name, spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] }));
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, `openssl ${args.join(' ')}\n${r.stderr}`);
}

/** A CA, and a server certificate it signs for `ip`. */
function makePKI(dir: string, ip: string, caName: string): void {
  mkdirSync(dir, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', `/CN=${caName}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'], dir);
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver'], dir);
  writeFileSync(path.join(dir, 'ext.cnf'), `subjectAltName=IP:${ip}\nextendedKeyUsage=serverAuth\n`);
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.crt', '-days', '1', '-extfile', 'ext.cnf'], dir);
}

/** argv that runs `cmd` in `netns` with the service-account files of `saDir` at the pod path. */
function inPodMounts(netns: string, saDir: string, cmd: string[]): string[] {
  const script = [
    'set -e',
    // A private tmpfs on /run (/var/run is a symlink to it): the host's /run is untouched.
    'mount -t tmpfs -o mode=0755,size=1m sy-pod-run /run',
    `mkdir -p ${SA_DIR}`,
    `cp "$SY_SA_DIR"/token "$SY_SA_DIR"/ca.crt "$SY_SA_DIR"/namespace ${SA_DIR}/`,
    'exec "$@"',
  ].join('\n');
  return ['nsenter', `--net=/run/netns/${netns}`, '--', 'unshare', '--mount', '--propagation', 'private', '--',
    'sh', '-c', script.replaceAll('$SY_SA_DIR', saDir), 'sh', ...cmd];
}

function nodeHttpGet(netns: string, url: string): { status: number; body: string } {
  const r = spawnSync('nsenter', [`--net=/run/netns/${netns}`, '--', process.execPath, '-e',
    `fetch(${JSON.stringify(url)}).then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.text() })), () => console.log('{"status":0,"body":""}'))`],
  { encoding: 'utf8' });
  return JSON.parse(r.stdout.trim() || '{"status":0,"body":""}') as { status: number; body: string };
}

const canRun = process.getuid?.() === 0 && existsSync(LOADER) && spawnSync('openssl', ['version']).status === 0;

describe('the agent with the in-cluster configuration of a pod', { timeout: 600_000, skip: canRun ? false : 'needs root, openssl and a built loader (bash scripts/setup.sh)' }, () => {
  const lab = new Lab(Lab.uniqueName('eic'));
  const tmp = mkdtempSync(path.join(tmpdir(), 'sy-incluster-'));
  const procs: Proc[] = [];
  let info: LabInfo;
  let node: LabInfo['nodes'][number];
  let front: Proc;
  let agent: Proc;
  const loaderSock = path.join(tmp, 'loader.sock');
  const instance = () => `${node.pinInstance}`;
  const frontEvents = (): Array<Record<string, unknown>> =>
    front.out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

  function agentArgv(saDir: string, healthPort: number): { argv: string[]; env: NodeJS.ProcessEnv } {
    return {
      argv: inPodMounts(node.netns, saDir, [process.execPath, CLI, 'agent',
        '--loader-socket', loaderSock, '--mode', 'ebpf', '--devices', 'eth0,syp+',
        '--cluster-cidr', '198.19.0.0/16', '--health-bind-address', `0.0.0.0:${healthPort}`]),
      env: {
        PATH: process.env.PATH,
        // What the DaemonSet's switchyard-apiserver ConfigMap sets; NODE_NAME as the downward API does.
        KUBERNETES_SERVICE_HOST: info.controlPlane.ip,
        KUBERNETES_SERVICE_PORT: String(FRONT_PORT),
        NODE_NAME: node.name,
      },
    };
  }

  before(async () => {
    await ok(['lab', 'up', '--name', lab.name, '--nodes', '1', '--no-agents'], { timeoutMs: 180_000 });
    info = JSON.parse(await ok(['lab', 'status', '--name', lab.name, '-o', 'json'])) as LabInfo;
    node = info.nodes[0]!;

    // The pod's service-account directory, and the API server's certificate.
    makePKI(path.join(tmp, 'pki'), info.controlPlane.ip, 'sy-test-cluster-ca');
    const sa = path.join(tmp, 'sa');
    mkdirSync(sa);
    // As the kubelet writes a projected token: no trailing newline (client-node sends the file's bytes as they are).
    writeFileSync(path.join(sa, 'token'), `sy-test-token-${process.pid}-${Date.now()}`);
    writeFileSync(path.join(sa, 'ca.crt'), readFileSync(path.join(tmp, 'pki/ca.crt')));
    writeFileSync(path.join(sa, 'namespace'), 'kube-system');

    front = start('front', ['nsenter', `--net=/run/netns/${info.controlPlane.netns}`, '--', process.execPath, FORWARDER,
      '--listen', `${info.controlPlane.ip}:${FRONT_PORT}`, '--cert', path.join(tmp, 'pki/server.crt'),
      '--key', path.join(tmp, 'pki/server.key'), '--token', path.join(sa, 'token'), '--upstream', info.apiSocket]);
    procs.push(front);
    await eventually('HTTPS front listening', async () => frontEvents().some((e) => e['event'] === 'listening'), 15_000, 100);

    // The loader container.
    const loader = start('loader', ['nsenter', `--net=/run/netns/${node.netns}`, '--', LOADER, '--instance', instance(), '--socket', loaderSock]);
    procs.push(loader);
    await eventually('loader socket', async () => existsSync(loaderSock) || !loader.alive, 15_000, 100);
    assert.ok(loader.alive, `loader exited:\n${loader.out}`);

    // The agent container.
    const a = agentArgv(sa, 10256);
    agent = start('agent', a.argv, a.env);
    procs.push(agent);
    await eventually('agent healthy', async () => !agent.alive || nodeHttpGet(node.netns, `http://${node.ip}:10256/healthz`).status === 200, 60_000, 500)
      .catch((err: Error) => {
        throw new Error(`${err.message}\n--- agent\n${agent.out.slice(-4000)}\n--- API front\n${front.out.slice(-2000)}`);
      });
    assert.ok(agent.alive, `agent exited:\n${agent.out}`);
  });

  after(async () => {
    for (const p of procs.filter((x) => x.name !== 'loader')) await p.stop();
    if (existsSync(loaderSock)) {
      const c = new LoaderClient(loaderSock, 5000);
      await c.cleanup().catch(() => undefined);
      c.close();
    }
    for (const p of procs) await p.stop();
    rmSync(path.join('/sys/fs/bpf/switchyard', node?.pinInstance ?? 'none'), { recursive: true, force: true });
    await lab.down();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('it authenticates with the service-account token over TLS verified by the service-account CA', async () => {
    // /healthz is 200 from the start (as kube-proxy's: no change pending yet), so
    // the informers' requests may still be on their way; wait for the three watches.
    const informerPaths = ['/api/v1/services', '/apis/discovery.k8s.io/v1/endpointslices', '/api/v1/nodes'];
    const watched = (): boolean => {
      const seen = frontEvents().filter((e) => e['event'] === 'request').map((r) => String(r['path']));
      return informerPaths.every((p) => seen.some((x) => x.split('?')[0] === p && x.includes('watch=')));
    };
    await eventually('the informers list and watch through the HTTPS front', async () => watched(), 30_000, 100).catch(() => undefined);
    const requests = frontEvents().filter((e) => e['event'] === 'request');
    assert.ok(requests.length > 0, 'the agent reached the API server');
    assert.deepEqual(requests.filter((r) => r['auth'] !== true), [], 'every request carried the bearer token');
    assert.deepEqual(frontEvents().filter((e) => e['event'] === 'tls-error'), [], 'no TLS failure');
    // The three informers: list, then watch.
    const paths = requests.map((r) => String(r['path']));
    for (const p of informerPaths) {
      assert.ok(paths.some((x) => x.split('?')[0] === p && !x.includes('watch=')), `list ${p}: ${paths.join(' ')}`);
      assert.ok(paths.some((x) => x.split('?')[0] === p && x.includes('watch=')), `watch ${p}: ${paths.join(' ')}`);
    }
    // Nothing on this machine's /run: the files existed only in the agent's mount namespace.
    assert.ok(!existsSync(SA_DIR), `${SA_DIR} does not exist on the host`);
  });

  test('it programs the datapath: a ClusterIP answers from every backend', async () => {
    await lab.apply(WHOAMI);
    await lab.waitReady();
    const vip = await lab.clusterIP('whoami');
    const names = new Set((await lab.pods({ app: 'whoami' }, { ready: true })).map((p) => p.metadata.name));
    assert.equal(names.size, 3);
    await eventually('every backend answering', async () => {
      const got = tally(await lab.probe('client', 'http', vip, 80, ['--count', '30', '--timeout-ms', '1000']));
      return got.size === 3 && [...got.keys()].every((k) => names.has(k));
    }, 30_000);
  });

  test('a CA that did not sign the API server\'s certificate is refused', async () => {
    makePKI(path.join(tmp, 'pki2'), info.controlPlane.ip, 'sy-test-other-ca');
    const sa2 = path.join(tmp, 'sa2');
    mkdirSync(sa2);
    writeFileSync(path.join(sa2, 'token'), readFileSync(path.join(tmp, 'sa/token')));
    writeFileSync(path.join(sa2, 'ca.crt'), readFileSync(path.join(tmp, 'pki2/ca.crt')));
    writeFileSync(path.join(sa2, 'namespace'), 'kube-system');
    const before = frontEvents().filter((e) => e['event'] === 'tls-error').length;
    const a = agentArgv(sa2, 10257);
    const bad = start('agent-wrong-ca', a.argv, a.env);
    procs.push(bad);
    try {
      await eventually('TLS handshake refused', async () => frontEvents().filter((e) => e['event'] === 'tls-error').length > before, 30_000, 200);
      await eventually('the agent says why it cannot list', async () => /certificate|self.signed|unable to verify/i.test(bad.out), 15_000, 200)
        .catch(() => assert.match(bad.out, /certificate|self.signed|unable to verify/i));
      assert.notEqual(nodeHttpGet(node.netns, `http://${node.ip}:10257/healthz`).status, 200, 'never healthy');
    } finally {
      await bad.stop();
    }
  });
});
