// Traffic from outside and from the host: NodePort on both nodes, eTP=Local
// with its health check, ExternalIPs, LoadBalancer IPs with source ranges,
// host processes reaching ClusterIPs, hairpin, and clean type changes. Every
// Service is PreferDualStack in a dual-stack lab: each test runs over both
// families (at once where the checks are independent).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { E2E_IP_FAMILY, ELSEWHERE, EXT_IPS, FAMILIES, Lab, NODE_IPS, PROBE, UNDERLAY, eventually, externalIPs, forEachFamily, tally, type Family } from './harness.js';
import { HTTP_80, HTTP_8080, clientPod, deployment, manifests, pod, service } from './manifests.js';
import { decodeSvcKey, decodeSvcValue, decodeU32, svcKey6Codec } from '../../control-plane/src/dataplane/ebpf/map-values.js';

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

/** A family's map name: the IPv4 map or its IPv6 twin (docs/maps.md "IPv6 maps"). */
const twin = (map: string, f: Family) => (f === 'IPv6' ? `${map}6` : map);

/** "addr:port/proto/scope" of every entry of the family's services map. */
function frontends(lab: Lab, node: number, f: Family = 'IPv4'): string[] {
  return dump(lab, node, twin('sy_services', f)).map((e) => {
    const k = f === 'IPv6' ? svcKey6Codec.decode(Uint8Array.from(e.key)) : decodeSvcKey(Uint8Array.from(e.key));
    return `${k.addr}:${k.port}/${k.proto}/${k.scope}`;
  });
}

function sourceRanges(lab: Lab, node: number, f: Family = 'IPv4'): number {
  return dump(lab, node, twin('sy_source_ranges', f)).length;
}

/** Reverse-NAT entries, tables and source ranges no service entry (of either family) refers to. */
function orphans(lab: Lab, node: number): { revnat: number[]; maglev: number[]; sourceRanges: number[] } {
  const svcs = FAMILIES.flatMap((f) => dump(lab, node, twin('sy_services', f)).map((e) => decodeSvcValue(Uint8Array.from(e.value!))));
  const ids = new Set(svcs.map((v) => v.id)), groups = new Set(svcs.map((v) => v.group));
  return {
    revnat: FAMILIES.flatMap((f) => dump(lab, node, twin('sy_revnat', f)).map((e) => decodeU32(Uint8Array.from(e.key))).filter((id) => !ids.has(id))),
    maglev: dump(lab, node, 'sy_maglev').map((e) => decodeU32(Uint8Array.from(e.key))).filter((g) => !groups.has(g)),
    // The frontend id is the key's second u32 in both families' keys.
    sourceRanges: FAMILIES.flatMap((f) => dump(lab, node, twin('sy_source_ranges', f)).map((e) => new DataView(Uint8Array.from(e.key).buffer).getUint32(4, true)).filter((id) => !ids.has(id))),
  };
}

const MODE = (process.env.SWITCHYARD_E2E_MODE ?? 'ebpf') as 'ebpf' | 'iptables';

const WORKLOAD = manifests(
  deployment('web', { replicas: 4, grace: 1, ports: [HTTP_8080, { name: 'dns', containerPort: 5353, protocol: 'UDP' }] }),
  pod('solo', { node: 'node1', labels: { app: 'solo' } }),
  clientPod('c1', 'node1'),
);

describe(`external traffic: NodePort, ExternalIP, LoadBalancer, host and hairpin (${MODE}, ${FAMILIES.join('+')})`, { timeout: 600_000 }, () => {
  const lab = new Lab(Lab.uniqueName('e2x'), MODE, E2E_IP_FAMILY);
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
    await forEachFamily(async (f) => {
      for (const ip of Object.values(NODE_IPS[f])) {
        await eventually(`NodePort on ${ip}`, async () => {
          const got = tally(await fromExternal('http', ip, port, 40));
          return got.size === webPods.size && [...got.keys()].every((k) => webPods.has(k));
        });
      }
    });
  });

  test('eTP=Local: only local pods answer, they see the client address, and the health check tells', async () => {
    await lab.apply(manifests(service('local', { selector: { app: 'solo' }, spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local' } })));
    await lab.lbIPs('local');
    const svc = await eventually('health port', async () => (await lab.get('services')).find((x) => x.metadata.name === 'local' && x.spec.healthCheckNodePort));
    const port = svc.spec.ports[0].nodePort as number;
    const hc = svc.spec.healthCheckNodePort as number;
    const health = async (ip: string) => (await fromExternal('http', ip, hc, 1, ['--path', '/healthz']))[0] ?? '';
    await forEachFamily(async (f) => {
      // whoami writes the peer as ip:port, [ip]:port for IPv6.
      const peer = f === 'IPv6' ? `solo [${EXT_IPS[f]}]:` : `solo ${EXT_IPS[f]}:`;
      await eventually(`solo answers on ${NODE_IPS[f].node1} with the client address`, async () => {
        const got = await fromExternal('http', NODE_IPS[f].node1, port, 5, ['--peer']);
        return got.length === 5 && got.every((l) => l.startsWith(peer));
      });
      // node2 has no local endpoint: its NodePort does not answer (dropped, not forwarded).
      const n2 = await fromExternal('tcp', NODE_IPS[f].node2, port, 3, ['--timeout-ms', '500']);
      assert.ok(n2.every((l) => l.startsWith('ERR')), JSON.stringify(n2));
      await eventually(`health 200 on ${NODE_IPS[f].node1}`, async () => !(await health(NODE_IPS[f].node1)).startsWith('ERR'));
      assert.match(await health(NODE_IPS[f].node2), /ERR status 503/);
    });
  });

  test('ExternalIP and LoadBalancer IP answer; source ranges drop a client outside them', async () => {
    const web = { app: 'web' };
    const extIPs = externalIPs(10);
    const ranges = (r: Record<Family, string>) => FAMILIES.map((f) => r[f]);
    await lab.apply(manifests(
      service('ext', { selector: web, ports: [{ name: 'http', port: 8080, targetPort: 'http' }], spec: { externalIPs: FAMILIES.map((f) => extIPs[f]) } }),
      service('lb-open', { selector: web, spec: { type: 'LoadBalancer', loadBalancerSourceRanges: ranges(UNDERLAY) } }),
      service('lb-closed', { selector: web, spec: { type: 'LoadBalancer', loadBalancerSourceRanges: ranges(ELSEWHERE) } }),
    ));
    const [open, closed] = await Promise.all([lab.lbIPs('lb-open'), lab.lbIPs('lb-closed')]);
    await forEachFamily(async (f) => {
      await eventually(`ExternalIP ${extIPs[f]} answers`, async () => (await fromExternal('http', extIPs[f], 8080, 20)).every((l) => webPods.has(l)));
      await eventually(`LB ${open[f]} in range answers`, async () => (await fromExternal('http', open[f], 80, 20)).every((l) => webPods.has(l)));
      const dropped = await fromExternal('tcp', closed[f], 80, 3, ['--timeout-ms', '500']);
      assert.ok(dropped.every((l) => l === 'ERR timeout'), `${closed[f]}: ${JSON.stringify(dropped)}`);
    });
  });

  // Host processes reach ClusterIPs through socket-level balancing in ebpf
  // mode (the tc programs see no host-originated packet) and through the
  // OUTPUT chain in iptables mode.
  const hostSkip = MODE === 'ebpf' && !Lab.socketLB(MODE) && 'ebpf mode without socket-level balancing does not serve host processes (no tc egress program)';
  test('a process on a node (not in a pod) reaches a ClusterIP', { skip: hostSkip }, async () => {
    await lab.apply(manifests(service('cip', { selector: { app: 'web' }, ports: [HTTP_80, { name: 'dns', port: 53, targetPort: 'dns', protocol: 'UDP' }] })));
    const vips = await lab.clusterIPs('cip');
    await forEachFamily(async (f) => {
      for (const node of ['node1', 'node2']) {
        // TCP, and connected UDP (sy-probe udp connects its socket): a host
        // socket has no tc in its path, connect() itself must translate it.
        for (const [mode, port] of [['http', '80'], ['udp', '53']] as const) {
          await eventually(`host on ${node} reaches ${vips[f]} over ${mode}`, async () => {
            const r = await lab.execNode(node, [PROBE, mode, vips[f], port, '--count', '20', '--timeout-ms', '1000']);
            const got = tally(r.stdout.split('\n').filter(Boolean));
            return got.size > 1 && [...got.keys()].every((k) => webPods.has(k));
          });
        }
      }
    });
  });

  test('the XDP program handled the NodePort traffic (its counters moved)', { skip: MODE !== 'ebpf' && 'XDP exists in ebpf mode only' }, async () => {
    const port = await nodePortOf('local');
    // One family after the other: the counters are shared by both.
    for (const f of FAMILIES) {
      const before = counters(lab, 1);
      const got = await fromExternal('http', NODE_IPS[f].node1, port, 20);
      assert.ok(got.every((l) => l === 'solo'), `${f}: ${JSON.stringify(got)}`);
      const after = counters(lab, 1);
      // The backend is local: XDP translates and redirects every request's packets.
      assert.ok(after.XDP_DNAT! - (before.XDP_DNAT ?? 0) >= 20, `${f}: ${JSON.stringify({ before, after })}`);
      assert.ok(after.XDP_REDIRECT! - (before.XDP_REDIRECT ?? 0) >= 20, `${f}: ${JSON.stringify({ before, after })}`);
    }
  });

  test('changing a Service type or its ports leaves no stale entry in any map', { skip: MODE !== 'ebpf' && 'maps exist in ebpf mode only' }, async () => {
    const manifest = (type: string, port: number, spec: Record<string, unknown> = {}) =>
      manifests(service('morph', { selector: { app: 'web' }, ports: [{ name: 'http', port, targetPort: 'http' }], spec: { type, ...spec } }));
    await lab.apply(manifest('LoadBalancer', 81, { loadBalancerSourceRanges: FAMILIES.map((f) => UNDERLAY[f]) }));
    const lbs = await lab.lbIPs('morph');
    const vips = await lab.clusterIPs('morph');
    const np = await nodePortOf('morph');
    // The map's text of an address (RFC 5952 for IPv6, as the Service has it in the lab).
    const mine = (f: Family) => (fe: string) => fe.startsWith(`${vips[f]}:`) || fe.startsWith(`${lbs[f]}:`) || fe.includes(`:${np}/`);
    for (const f of FAMILIES) {
      await eventually(`${f} LB programmed`, async () => frontends(lab, 1, f).some((fe) => fe.startsWith(`${lbs[f]}:81/`)));
      assert.ok(frontends(lab, 1, f).some((fe) => fe.startsWith(`${NODE_IPS[f].node1}:${np}/`)), `${f} NodePort on node1: ${JSON.stringify(frontends(lab, 1, f))}`);
      assert.ok(sourceRanges(lab, 1, f) > 0, `${f} source ranges`);
    }
    // LoadBalancer -> ClusterIP on another port: LB and NodePort frontends, ranges and the old port go.
    await lab.apply(manifest('ClusterIP', 82));
    for (const f of FAMILIES) {
      await eventually(`${f}: only the ClusterIP frontend left`, async () => {
        const fe = frontends(lab, 1, f).filter(mine(f));
        return fe.length === 1 && fe[0]!.startsWith(`${vips[f]}:82/`);
      });
    }
    // -> ExternalName: nothing of it is left at all, in any map.
    await lab.apply(manifests(service('morph', { selector: null, ports: null, spec: { type: 'ExternalName', externalName: 'example.invalid' } })));
    for (const f of FAMILIES) await eventually(`${f}: no frontend of the Service left`, async () => !frontends(lab, 1, f).some(mine(f)));
    // Every revnat entry and table still belongs to a live frontend.
    assert.deepEqual(orphans(lab, 1), { revnat: [], maglev: [], sourceRanges: [] });
  });

  test('a pod reaches itself through its Service (hairpin)', async () => {
    await lab.apply(manifests(service('self', { selector: { app: 'solo' } })));
    const vips = await lab.clusterIPs('self');
    await forEachFamily((f) => eventually(`solo reaches itself through ${vips[f]}`, async () => {
      const got = await lab.probe('solo', 'http', vips[f], 80, ['--count', '5', '--timeout-ms', '1000']);
      return got.length === 5 && got.every((l) => l === 'solo');
    }));
  });
});
