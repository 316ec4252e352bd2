// Traffic off the happy path (issue 12): UDP datagrams larger than the MTU
// (IPv4 fragments, and IPv6 fragment headers) to a UDP Service, both ways,
// from a pod and from the external client; a broadcast frame addressed to a
// LoadBalancer IP of each family; and a second tc program attached after
// Switchyard's on a pod device.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { E2E_IP_FAMILY, FAMILIES, Lab, PROBE, ROOT, datapathCounters as counters, eventually, forEachFamily, probeLines, type Family } from './harness.js';
import { clientPod, deployment, manifests, service } from './manifests.js';

const MODE = (process.env.SWITCHYARD_E2E_MODE ?? 'ebpf') as 'ebpf' | 'iptables';
const TC_COUNT = path.join(ROOT, 'test/tools/build/sy-tc-count');
const HOST_VETH_ANNOTATION = 'lab.switchyard.dev/host-veth';
const BIG = 4000;

const DNS = { name: 'dns', port: 53, targetPort: 'dns', protocol: 'UDP' } as const;
const WORKLOAD = manifests(
  deployment('big', { replicas: 4, grace: 1, ports: [{ name: 'dns', containerPort: 5353, protocol: 'UDP' }] }),
  clientPod('c1', 'node1'),
  service('udp-cip', { selector: { app: 'big' }, ports: [DNS] }),
  service('udp-lb', { selector: { app: 'big' }, ports: [DNS], spec: { type: 'LoadBalancer' } }),
);

describe(`datapath edges: fragments, frames for other hosts, tc chains (${MODE}${Lab.socketLB(MODE) ? ', socket LB' : ''}, ${FAMILIES.join('+')})`, { timeout: 600_000 }, () => {
  const lab = new Lab(Lab.uniqueName('e2f'), MODE, E2E_IP_FAMILY);
  let pods = new Map<string, string>(); // pod -> node
  let vips = {} as Record<Family, string>;
  let lbIPs = {} as Record<Family, string>;

  before(async () => {
    await lab.up(2);
    await lab.apply(WORKLOAD);
    await lab.waitReady();
    pods = new Map((await lab.pods({ app: 'big' }, { ready: true })).map((p) => [p.metadata.name, p.spec.nodeName as string]));
    assert.equal(new Set(pods.values()).size, 2, 'backends on both nodes');
    vips = await lab.clusterIPs('udp-cip');
    lbIPs = await lab.lbIPs('udp-lb');
  });

  after(async () => {
    await lab.down();
  });

  async function fromExternal(args: string[]): Promise<string[]> {
    return probeLines((await lab.execExternal(args)).stdout);
  }

  /** Lines of a big exchange are "<pod> got=4000 reply=4000". */
  function assertWhole(lines: string[], count: number, what: string): void {
    assert.equal(lines.length, count, `${what}: ${JSON.stringify(lines)}`);
    const backends = new Set<string>();
    for (const l of lines) {
      const m = /^(\S+) got=(\d+) reply=(\d+)$/.exec(l);
      assert.ok(m && pods.has(m[1]!) && m[2] === String(BIG) && m[3] === String(BIG), `${what}: ${l} (all: ${JSON.stringify(lines)})`);
      backends.add(m[1]!);
    }
    assert.ok(backends.size > 1, `${what}: one backend only: ${JSON.stringify(lines)}`);
  }

  const bigArgs = (n: number) => ['--size', String(BIG), '--reply-size', String(BIG), '--count', String(n), '--timeout-ms', '2000'];

  // One family after the other: frag_xlate counts both families' later fragments.
  for (const f of FAMILIES) {
    test(`${f}: a ${BIG}-byte UDP datagram from a pod (connected socket) to a UDP ClusterIP and its ${BIG}-byte reply arrive whole`, async () => {
      const vip = vips[f];
      await eventually('small datagrams served', async () => (await lab.probe('c1', 'udp', vip, 53, ['--count', '4'])).every((l) => pods.has(l)));
      const before = MODE === 'ebpf' ? counters(lab, 1) : {};
      const lines = await eventually('big datagrams served', async () => {
        const got = await lab.probe('c1', 'udp', vip, 53, bigArgs(16));
        return got.every((l) => !l.startsWith('ERR')) ? got : undefined;
      }, 30_000);
      assertWhole(lines, 16, `pod -> ClusterIP ${vip}`);
      if (MODE === 'ebpf') {
        // The pod's fragments went through tc on its device (with socket LB,
        // connected UDP of pods is left to tc: POD_UDP_CONNECT_TC): the later
        // fragments (IPv6: fragment headers, sy_frag6) were translated with
        // their first fragment's flow.
        const now = counters(lab, 1);
        assert.ok((now.frag_xlate ?? 0) - (before.frag_xlate ?? 0) >= 16, JSON.stringify({ before, now }));
      }
    });
  }

  test(`a ${BIG}-byte UDP datagram from the external client to a UDP LoadBalancer IP of each family and its reply arrive whole`, async () => {
    await forEachFamily(async (f) => {
      const lbIP = lbIPs[f];
      await eventually('small datagrams served', async () => (await fromExternal([PROBE, 'udp', lbIP, '53', '--count', '4'])).every((l) => pods.has(l)));
      const lines = await eventually('big datagrams served', async () => {
        const got = await fromExternal([PROBE, 'udp', lbIP, '53', ...bigArgs(16)]);
        return got.every((l) => !l.startsWith('ERR')) ? got : undefined;
      }, 30_000);
      assertWhole(lines, 16, `external -> LoadBalancer ${lbIP}`);
    });
  });

  // One family after the other: both nodes' not_for_host counts both families.
  for (const f of FAMILIES) test(`${f}: a broadcast frame to a LoadBalancer IP from the external segment is neither answered nor forwarded`, async () => {
    const lbIP = lbIPs[f];
    // Control: the same request in a unicast frame (to node1) is answered.
    await eventually('unicast frames answered', async () => (await fromExternal([PROBE, 'udp', lbIP, '53', '--count', '3'])).every((l) => pods.has(l)));
    const before = MODE === 'ebpf' ? [counters(lab, 1), counters(lab, 2)] : [];
    // The external client sends to the LB IP on-link with the broadcast MAC:
    // the bridge floods the frame to both nodes.
    const host = `${lbIP}/${f === 'IPv6' ? 128 : 32}`;
    const setup = [['ip', 'route', 'replace', host, 'dev', 'eth0'], ['ip', 'neigh', 'replace', lbIP, 'lladdr', 'ff:ff:ff:ff:ff:ff', 'dev', 'eth0', 'nud', 'permanent']];
    try {
      for (const c of setup) {
        const r = await lab.execExternal(c);
        assert.equal(r.code, 0, `${c.join(' ')}: ${r.stderr}`);
      }
      const got = await fromExternal([PROBE, 'udp', lbIP, '53', '--count', '3', '--timeout-ms', '1500']);
      assert.deepEqual(got, ['ERR timeout', 'ERR timeout', 'ERR timeout'], 'no answer to a broadcast frame');
    } finally {
      await lab.execExternal(['ip', 'neigh', 'del', lbIP, 'dev', 'eth0']);
      await lab.execExternal(['ip', 'route', 'del', host, 'dev', 'eth0']);
    }
    if (MODE === 'ebpf') {
      // Both nodes saw the three frames and left them untouched.
      const now = [counters(lab, 1), counters(lab, 2)];
      for (const i of [0, 1]) {
        assert.ok((now[i]!.not_for_host ?? 0) - (before[i]!.not_for_host ?? 0) >= 3, `node${i + 1}: ${JSON.stringify({ before: before[i], now: now[i] })}`);
      }
    }
  });

  // IPv4 only: sy-tc-count matches an IPv4 destination (not a Service test: the tcx chain is the same for both families).
  test('a second tc program attached after Switchyard\'s on a pod device sees the packets Switchyard leaves untouched', { skip: MODE !== 'ebpf' && 'tc programs exist in ebpf mode only' }, async () => {
    const c1 = (await lab.get('pods')).find((p) => p.metadata.name === 'c1')!;
    const veth = c1.metadata.annotations?.[HOST_VETH_ANNOTATION];
    assert.ok(veth, 'c1 has a host veth');
    const target = (await lab.get('pods')).find((p) => pods.has(p.metadata.name))!.status.podIP as string;
    // Attached at the end of the tcx chain of c1's device on node1.
    const child = spawn('ip', ['netns', 'exec', `${lab.name}-n1`, TC_COUNT, 'tcx', veth!], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
    try {
      await eventually('sy-tc-count attached', () => out.includes('ready\n') || (err ? Promise.reject(new Error(err)) : undefined), 20_000, 100);
      // c1 -> a backend pod directly: not a Service, Switchyard passes it.
      const got = await lab.probe('c1', 'udp', target, 5353, ['--count', '5']);
      assert.ok(got.every((l) => pods.has(l)), JSON.stringify(got));
      out = '';
      child.stdin.write(`${target}\n`);
      // (a string: eventually() takes 0 for "not yet")
      const n = Number(await eventually('count', () => (out.includes('\n') ? out.trim() : undefined), 10_000, 50));
      assert.ok(n >= 5, `the second program counted ${n} packets to ${target}, expected >= 5`);
    } finally {
      child.stdin.end();
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
  });
});
