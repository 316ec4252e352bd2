// Traffic from outside and from the host: NodePort on both nodes, eTP=Local
// with its health check, ExternalIPs, LoadBalancer IPs with source ranges,
// host processes reaching ClusterIPs, hairpin, and clean type changes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, PROBE, eventually, run, tally } from './harness.js';

const MODE = (process.env.SWITCHYARD_E2E_MODE ?? 'ebpf') as 'ebpf' | 'iptables';
const EXT = '198.18.0.200';
const NODE_IP = { node1: '198.18.0.11', node2: '198.18.0.12' } as const;

const WORKLOAD = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: w
          image: switchyard/whoami
          ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: solo, labels: {app: solo}}
spec:
  nodeName: node1
  containers: [{name: w, image: switchyard/whoami, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: c1}
spec: {nodeName: node1, containers: [{name: c, image: switchyard/whoami, ports: [{containerPort: 9999}]}]}
`;

describe(`external traffic: NodePort, ExternalIP, LoadBalancer, host and hairpin (${MODE})`, { timeout: 600_000 }, () => {
  const lab = new Lab(Lab.uniqueName('e2x'), MODE);
  let webPods = new Map<string, string>(); // pod -> node

  before(async () => {
    await lab.up(2);
    await lab.apply(WORKLOAD);
    await lab.waitReady();
    webPods = new Map((await lab.pods({ app: 'web' }, { ready: true })).map((p) => [p.metadata.name, p.spec.nodeName as string]));
    assert.ok(new Set(webPods.values()).size === 2, 'web pods on both nodes');
  });

  after(async () => {
    await lab.down();
  });

  async function fromExternal(mode: 'http' | 'tcp', host: string, port: number, count: number, extra: string[] = []): Promise<string[]> {
    const r = await run(['lab', 'exec', '--name', lab.name, '--external', '--', PROBE, mode, host, String(port), '--count', String(count), '--timeout-ms', '1000', ...extra]);
    return r.stdout.split('\n').filter((l) => l && !l.startsWith('#'));
  }

  async function nodePortOf(svc: string): Promise<number> {
    const s = (await lab.get('services')).find((x) => x.metadata.name === svc)!;
    return s.spec.ports[0].nodePort as number;
  }

  test('NodePort answers on both node addresses from backends on both nodes (eTP=Cluster)', async () => {
    await lab.apply(`apiVersion: v1
kind: Service
metadata: {name: np}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
`);
    const port = await nodePortOf('np');
    assert.ok(port >= 30000 && port <= 32767);
    for (const ip of Object.values(NODE_IP)) {
      await eventually(`NodePort on ${ip}`, async () => {
        const got = tally(await fromExternal('http', ip, port, 60));
        return got.size === webPods.size && [...got.keys()].every((k) => webPods.has(k));
      });
    }
  });

  test('eTP=Local: only local pods answer, they see the client address, and the health check tells', async () => {
    await lab.apply(`apiVersion: v1
kind: Service
metadata: {name: local}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: solo}
  ports: [{name: http, port: 80, targetPort: http}]
`);
    const svc = await eventually('LB ingress and health port', async () => {
      const s = (await lab.get('services')).find((x) => x.metadata.name === 'local');
      return s?.status?.loadBalancer?.ingress?.[0]?.ip && s.spec.healthCheckNodePort ? s : undefined;
    });
    const port = svc.spec.ports[0].nodePort as number;
    const hc = svc.spec.healthCheckNodePort as number;
    await eventually('solo answers on node1 with the client address', async () => {
      const got = await fromExternal('http', NODE_IP.node1, port, 5, ['--peer']);
      return got.length === 5 && got.every((l) => l.startsWith(`solo ${EXT}:`));
    });
    // node2 has no local endpoint: its NodePort does not answer (dropped, not forwarded).
    const n2 = await fromExternal('tcp', NODE_IP.node2, port, 3, ['--timeout-ms', '500']);
    assert.ok(n2.every((l) => l.startsWith('ERR')), JSON.stringify(n2));
    const health = async (ip: string) => (await fromExternal('http', ip, hc, 1, ['--path', '/healthz']))[0] ?? '';
    await eventually('health 200 on node1', async () => !(await health(NODE_IP.node1)).startsWith('ERR'));
    assert.match(await health(NODE_IP.node2), /ERR status 503/);
  });

  test('ExternalIP and LoadBalancer IP answer; source ranges drop a client outside them', async () => {
    await lab.apply(`apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  selector: {app: web}
  externalIPs: [198.18.65.10]
  ports: [{name: http, port: 8080, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: lb-open}
spec:
  type: LoadBalancer
  selector: {app: web}
  loadBalancerSourceRanges: [198.18.0.0/24]
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: lb-closed}
spec:
  type: LoadBalancer
  selector: {app: web}
  loadBalancerSourceRanges: [198.18.99.0/24]
  ports: [{name: http, port: 80, targetPort: http}]
`);
    await eventually('ExternalIP answers', async () => (await fromExternal('http', '198.18.65.10', 8080, 20)).every((l) => webPods.has(l)));
    const lbIP = async (name: string) => eventually(`${name} ingress`, async () => (await lab.get('services')).find((x) => x.metadata.name === name)?.status?.loadBalancer?.ingress?.[0]?.ip as string | undefined);
    const open = await lbIP('lb-open'), closed = await lbIP('lb-closed');
    await eventually('LB in range answers', async () => (await fromExternal('http', open, 80, 20)).every((l) => webPods.has(l)));
    const dropped = await fromExternal('tcp', closed, 80, 3, ['--timeout-ms', '500']);
    assert.ok(dropped.every((l) => l === 'ERR timeout'), JSON.stringify(dropped));
  });

  test('a process on a node (not in a pod) reaches a ClusterIP', async () => {
    await lab.apply(`apiVersion: v1
kind: Service
metadata: {name: cip}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
`);
    const vip = await lab.clusterIP('cip');
    for (const node of ['node1', 'node2']) {
      await eventually(`host on ${node} reaches the ClusterIP`, async () => {
        const r = await lab.execNode(node, [PROBE, 'http', vip, '80', '--count', '20', '--timeout-ms', '1000']);
        const got = tally(r.stdout.split('\n').filter(Boolean));
        return got.size > 1 && [...got.keys()].every((k) => webPods.has(k));
      });
    }
  });

  test('a pod reaches itself through its Service (hairpin)', async () => {
    await lab.apply(`apiVersion: v1
kind: Service
metadata: {name: self}
spec:
  selector: {app: solo}
  ports: [{name: http, port: 80, targetPort: http}]
`);
    const vip = await lab.clusterIP('self');
    await eventually('solo reaches itself', async () => {
      const got = await lab.probe('solo', 'http', vip, 80, ['--count', '5', '--timeout-ms', '1000']);
      return got.length === 5 && got.every((l) => l === 'solo');
    });
  });
});
