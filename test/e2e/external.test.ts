// Traffic from outside and from the host: NodePort on both nodes, eTP=Local
// with its health check, ExternalIPs, LoadBalancer IPs with source ranges,
// host processes reaching ClusterIPs, hairpin, and clean type changes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Lab, PROBE, eventually, tally } from './harness.js';
import { HTTP_80, HTTP_8080, clientPod, deployment, manifests, pod, service } from './manifests.js';
import { decodeSvcKey, decodeSvcValue, decodeU32 } from '../../control-plane/src/dataplane/ebpf/map-values.js';

const COUNTERS = ['TC_DNAT', 'TC_REVNAT', 'XDP_DNAT', 'XDP_REVNAT', 'XDP_TX', 'XDP_REDIRECT', 'XDP_PASS', 'REJECT_TCP', 'REJECT_UDP',
  'DROP_NO_BACKEND', 'DROP_SOURCE_RANGE', 'SNAT', 'SOCK_CONNECT', 'SOCK_SENDMSG', 'MALFORMED', 'DROP_NO_SNAT_PORT'];

function dump(lab: Lab, node: number, map: string): Array<{ key: number[]; value?: number[]; values?: Array<{ value: number[] }>; formatted?: any }> {
  const out = execFileSync('bpftool', ['map', 'dump', 'pinned', `/sys/fs/bpf/switchyard/${lab.name}-n${node}/${map}`, '-j'], { encoding: 'utf8' });
  return (JSON.parse(out) as Array<any>).map((e) => ({ ...e, key: e.key.map((b: string) => Number(b)), value: e.value?.map((b: string) => Number(b)) }));
}

/** sy_counters summed over CPUs, by name. */
function counters(lab: Lab, node: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of dump(lab, node, 'sy_counters')) {
    out[COUNTERS[e.formatted.key] ?? String(e.formatted.key)] = e.formatted.values.reduce((n: number, v: { value: number }) => n + v.value, 0);
  }
  return out;
}

/** "addr:port/proto/scope" of every sy_services entry. */
function frontends(lab: Lab, node: number): string[] {
  return dump(lab, node, 'sy_services').map((e) => {
    const k = decodeSvcKey(Uint8Array.from(e.key));
    return `${k.addr}:${k.port}/${k.proto}/${k.scope}`;
  });
}

function sourceRanges(lab: Lab, node: number): number {
  return dump(lab, node, 'sy_source_ranges').length;
}

/** Reverse-NAT entries, tables and source ranges no service entry refers to. */
function orphans(lab: Lab, node: number): { revnat: number[]; maglev: number[]; sourceRanges: number[] } {
  const svcs = dump(lab, node, 'sy_services').map((e) => decodeSvcValue(Uint8Array.from(e.value!)));
  const ids = new Set(svcs.map((v) => v.id)), groups = new Set(svcs.map((v) => v.group));
  return {
    revnat: dump(lab, node, 'sy_revnat').map((e) => decodeU32(Uint8Array.from(e.key))).filter((id) => !ids.has(id)),
    maglev: dump(lab, node, 'sy_maglev').map((e) => decodeU32(Uint8Array.from(e.key))).filter((g) => !groups.has(g)),
    sourceRanges: dump(lab, node, 'sy_source_ranges').map((e) => new DataView(Uint8Array.from(e.key).buffer).getUint32(4, true)).filter((id) => !ids.has(id)),
  };
}

const MODE = (process.env.SWITCHYARD_E2E_MODE ?? 'ebpf') as 'ebpf' | 'iptables';
const EXT = '198.18.0.200';
const NODE_IP = { node1: '198.18.0.11', node2: '198.18.0.12' } as const;

const WORKLOAD = manifests(
  deployment('web', { replicas: 4, grace: 1, ports: [HTTP_8080, { name: 'dns', containerPort: 5353, protocol: 'UDP' }] }),
  pod('solo', { node: 'node1', labels: { app: 'solo' } }),
  clientPod('c1', 'node1'),
);

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
    return lab.probeExternal(mode, host, port, ['--count', String(count), '--timeout-ms', '1000', ...extra]);
  }

  async function nodePortOf(svc: string): Promise<number> {
    return (await lab.nodePorts()).get(svc)!;
  }

  test('NodePort answers on both node addresses from backends on both nodes (eTP=Cluster)', async () => {
    await lab.apply(manifests(service('np', { selector: { app: 'web' }, spec: { type: 'NodePort' } })));
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
    await lab.apply(manifests(service('local', { selector: { app: 'solo' }, spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local' } })));
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
    const web = { app: 'web' };
    await lab.apply(manifests(
      service('ext', { selector: web, ports: [{ name: 'http', port: 8080, targetPort: 'http' }], spec: { externalIPs: ['198.18.65.10'] } }),
      service('lb-open', { selector: web, spec: { type: 'LoadBalancer', loadBalancerSourceRanges: ['198.18.0.0/24'] } }),
      service('lb-closed', { selector: web, spec: { type: 'LoadBalancer', loadBalancerSourceRanges: ['198.18.99.0/24'] } }),
    ));
    await eventually('ExternalIP answers', async () => (await fromExternal('http', '198.18.65.10', 8080, 20)).every((l) => webPods.has(l)));
    const lbIP = async (name: string) => eventually(`${name} ingress`, async () => (await lab.get('services')).find((x) => x.metadata.name === name)?.status?.loadBalancer?.ingress?.[0]?.ip as string | undefined);
    const open = await lbIP('lb-open'), closed = await lbIP('lb-closed');
    await eventually('LB in range answers', async () => (await fromExternal('http', open, 80, 20)).every((l) => webPods.has(l)));
    const dropped = await fromExternal('tcp', closed, 80, 3, ['--timeout-ms', '500']);
    assert.ok(dropped.every((l) => l === 'ERR timeout'), JSON.stringify(dropped));
  });

  // Host processes reach ClusterIPs through socket-level balancing in ebpf
  // mode (the tc programs see no host-originated packet) and through the
  // OUTPUT chain in iptables mode.
  const hostSkip = MODE === 'ebpf' && !Lab.socketLB(MODE) && 'ebpf mode without socket-level balancing does not serve host processes (no tc egress program)';
  test('a process on a node (not in a pod) reaches a ClusterIP', { skip: hostSkip }, async () => {
    await lab.apply(manifests(service('cip', { selector: { app: 'web' }, ports: [HTTP_80, { name: 'dns', port: 53, targetPort: 'dns', protocol: 'UDP' }] })));
    const vip = await lab.clusterIP('cip');
    for (const node of ['node1', 'node2']) {
      // TCP, and connected UDP (sy-probe udp connects its socket): a host
      // socket has no tc in its path, connect() itself must translate it.
      for (const [mode, port] of [['http', '80'], ['udp', '53']] as const) {
        await eventually(`host on ${node} reaches the ClusterIP over ${mode}`, async () => {
          const r = await lab.execNode(node, [PROBE, mode, vip, port, '--count', '20', '--timeout-ms', '1000']);
          const got = tally(r.stdout.split('\n').filter(Boolean));
          return got.size > 1 && [...got.keys()].every((k) => webPods.has(k));
        });
      }
    }
  });

  test('the XDP program handled the NodePort traffic (its counters moved)', { skip: MODE !== 'ebpf' && 'XDP exists in ebpf mode only' }, async () => {
    const port = await nodePortOf('local');
    const before = counters(lab, 1);
    const got = await fromExternal('http', NODE_IP.node1, port, 20);
    assert.ok(got.every((l) => l === 'solo'), JSON.stringify(got));
    const after = counters(lab, 1);
    // The backend is local: XDP translates and redirects every request's packets.
    assert.ok(after.XDP_DNAT! - (before.XDP_DNAT ?? 0) >= 20, JSON.stringify({ before, after }));
    assert.ok(after.XDP_REDIRECT! - (before.XDP_REDIRECT ?? 0) >= 20, JSON.stringify({ before, after }));
  });

  test('changing a Service type or its ports leaves no stale entry in any map', { skip: MODE !== 'ebpf' && 'maps exist in ebpf mode only' }, async () => {
    const manifest = (type: string, port: number, spec: Record<string, unknown> = {}) =>
      manifests(service('morph', { selector: { app: 'web' }, ports: [{ name: 'http', port, targetPort: 'http' }], spec: { type, ...spec } }));
    await lab.apply(manifest('LoadBalancer', 81, { loadBalancerSourceRanges: ['198.18.0.0/24'] }));
    const lb = await eventually('LB ingress', async () => (await lab.get('services')).find((x) => x.metadata.name === 'morph')?.status?.loadBalancer?.ingress?.[0]?.ip as string | undefined);
    const vip = await lab.clusterIP('morph');
    await eventually('LB programmed', async () => frontends(lab, 1).some((f) => f.startsWith(`${lb}:81/`)));
    const np = await nodePortOf('morph');
    assert.ok(frontends(lab, 1).some((f) => f.startsWith(`198.18.0.11:${np}/`)));
    assert.ok(sourceRanges(lab, 1) > 0);
    // LoadBalancer -> ClusterIP on another port: LB and NodePort frontends, ranges and the old port go.
    await lab.apply(manifest('ClusterIP', 82));
    await eventually('only the ClusterIP frontend left', async () => {
      const fe = frontends(lab, 1).filter((f) => f.startsWith(`${vip}:`) || f.startsWith(`${lb}:`) || f.includes(`:${np}/`));
      return fe.length === 1 && fe[0]!.startsWith(`${vip}:82/`);
    });
    // -> ExternalName: nothing of it is left at all, in any map.
    await lab.apply(manifests(service('morph', { selector: null, ports: null, spec: { type: 'ExternalName', externalName: 'example.invalid' } })));
    await eventually('no frontend of the Service left', async () => !frontends(lab, 1).some((f) => f.startsWith(`${vip}:`) || f.startsWith(`${lb}:`) || f.includes(`:${np}/`)));
    // Every revnat entry and table still belongs to a live frontend.
    assert.deepEqual(orphans(lab, 1), { revnat: [], maglev: [], sourceRanges: [] });
  });

  test('a pod reaches itself through its Service (hairpin)', async () => {
    await lab.apply(manifests(service('self', { selector: { app: 'solo' } })));
    const vip = await lab.clusterIP('self');
    await eventually('solo reaches itself', async () => {
      const got = await lab.probe('solo', 'http', vip, 80, ['--count', '5', '--timeout-ms', '1000']);
      return got.length === 5 && got.every((l) => l === 'solo');
    });
  });
});
