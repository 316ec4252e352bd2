// Path-MTU discovery through translated flows: the path between the nodes is
// narrower (node2's link has MTU 1280, `lab up --link-mtu node2=1280`) than
// the external client's device (1500). A 4 MB upload through a NodePort whose
// only backend is on node2 completes only if the client learns the path MTU:
// node1 forwards the NATed flow itself (XDP/tc in ebpf mode, the kernel in
// iptables mode) and must answer its too-big DF segments with ICMP
// fragmentation needed that the client's socket matches (quoting the packet
// as the client sent it). Frames that still exceed 1280 bytes are dropped for
// real by node2's narrow link. Also a pod on node1 through a ClusterIP (the
// stack forwards what tc DNATed; tc answers too-big segments), and
// an ICMP error from a backend (port unreachable) that must be translated
// back to the frontend for the client's socket to see it. In a dual-stack lab
// each check runs over both families of the PreferDualStack Services at once:
// IPv6's twin of fragmentation needed is ICMPv6 packet too big (1280 is
// IPv6's minimum MTU, so the link is as narrow as IPv6 allows).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { E2E_IP_FAMILY, FAMILIES, Lab, NODE_IPS, PROBE, datapathCounters, eventually, forEachFamily } from './harness.js';
import { clientPod, manifests, pod, service } from './manifests.js';

const MODE = (process.env.SWITCHYARD_E2E_MODE ?? 'ebpf') as 'ebpf' | 'iptables';
const LINK_MTU = 1280;
const BYTES = 4 * 1024 * 1024;

const WORKLOAD = manifests(
  pod('far', { node: 'node2', labels: { app: 'far' }, ports: [{ name: 'raw', containerPort: 7000 }] }),
  clientPod('near', 'node1'),
  service('far', { ports: [{ name: 'raw', port: 7000, targetPort: 'raw' }], spec: { type: 'NodePort' } }),
  service('closed', { selector: { app: 'far' }, ports: [{ name: 'dgram', port: 5999, targetPort: 5999, protocol: 'UDP' }], spec: { type: 'NodePort' } }),
);

/** "NAME bytes=N lines=L ms=T pmtu=P" -> fields; undefined for "ERR ...". */
function parseTransfer(line: string): { name: string; bytes: number; pmtu: number } | undefined {
  const m = /^(\S+) bytes=(\d+) lines=\d+ ms=\d+ pmtu=(-?\d+)$/.exec(line.trim());
  return m && m[1] !== 'ERR' ? { name: m[1]!, bytes: Number(m[2]), pmtu: Number(m[3]) } : undefined;
}

describe(`path MTU through NATed flows, node2 behind a ${LINK_MTU}-byte link (${MODE}${Lab.socketLB(MODE) ? '' : MODE === 'ebpf' ? ', socket LB off' : ''}, ${FAMILIES.join('+')})`, { timeout: 600_000 }, () => {
  const lab = new Lab(Lab.uniqueName('e2m'), MODE, E2E_IP_FAMILY);
  let nodePort = 0;
  let closedPort = 0;

  before(async () => {
    await lab.up(2, Lab.agentArgs(), ['--link-mtu', `node2=${LINK_MTU}`]);
    await lab.apply(WORKLOAD);
    await lab.waitReady();
    const nodePorts = await lab.nodePorts();
    nodePort = nodePorts.get('far')!;
    closedPort = nodePorts.get('closed')!;
    // The service is programmed: a short line goes through.
    await forEachFamily((f) => eventually(`NodePort answers on ${NODE_IPS[f].node1}`, async () => {
      const r = await lab.execExternal([PROBE, 'tcp', NODE_IPS[f].node1, String(nodePort), '--timeout-ms', '1000']);
      return r.stdout.trim() === 'far';
    }, 60_000, 500));
  });

  after(async () => {
    await lab.down();
  });

  test('the lab link is narrow for real: node2 eth0 MTU 1280, node1 routes to node2 locked at 1280', async () => {
    const link = await lab.execNode('node2', ['ip', '-o', 'link', 'show', 'eth0']);
    assert.match(link.stdout, /mtu 1280 /);
    const route = await lab.execNode('node1', ['ip', 'route', 'show', '198.19.2.0/24']);
    assert.match(route.stdout, /mtu lock 1280/);
    if (FAMILIES.includes('IPv6')) {
      const route6 = await lab.execNode('node1', ['ip', '-6', 'route', 'show', 'fd00:198:19:2::/64']);
      assert.match(route6.stdout, /mtu lock 1280/);
    }
    const ext = await lab.execExternal(['ip', '-o', 'link', 'show', 'eth0']);
    assert.match(ext.stdout, /mtu 1500 /);
  });

  test('a 4 MB upload from the external client through the NodePort (backend on node2) completes; the client learned MTU 1280', async () => {
    // One family after the other: frag_needed_sent counts ICMP and ICMPv6 (packet too big) alike.
    for (const f of FAMILIES) {
      const before = MODE === 'ebpf' ? (datapathCounters(lab, 1).frag_needed_sent ?? 0) : 0;
      const r = await lab.execExternal([PROBE, 'transfer', NODE_IPS[f].node1, String(nodePort),
        '--bytes', String(BYTES), '--timeout-ms', '60000'], { timeoutMs: 90_000 });
      const got = parseTransfer(r.stdout);
      assert.ok(got, `${f}: transfer failed: ${r.stdout.trim()} ${r.stderr.trim()}`);
      assert.equal(got.name, 'far');
      assert.equal(got.bytes, BYTES);
      assert.ok(got.pmtu > 0 && got.pmtu <= LINK_MTU, `${f}: client's path MTU ${got.pmtu}`);
      if (MODE === 'ebpf') {
        assert.ok((datapathCounters(lab, 1).frag_needed_sent ?? 0) > before, `${f}: node1 counted frag_needed_sent`);
      }
    }
  });

  test('UDP to a backend port without a socket: the backend\'s port unreachable reaches the client translated (ECONNREFUSED), through the NodePort and the ClusterIP', async () => {
    const ips = await lab.clusterIPs('closed');
    await forEachFamily(async (f) => {
      // Through the NodePort: SNATed to node1, backend on node2 (IPv6: ICMPv6 port unreachable).
      const ext = await eventually('ERR refused at the external client', async () => {
        const r = await lab.execExternal([PROBE, 'udp', NODE_IPS[f].node1, String(closedPort), '--timeout-ms', '1500']);
        return r.stdout.trim() === 'ERR refused' ? r.stdout.trim() : undefined;
      }, 30_000, 500);
      assert.equal(ext, 'ERR refused');
      // From a pod on node1 through the ClusterIP (DNAT only, or socket LB).
      const lines = await lab.probe('near', 'udp', ips[f], 5999, ['--count', '3', '--timeout-ms', '1500']);
      assert.deepEqual(lines, ['ERR refused', 'ERR refused', 'ERR refused'], ips[f]);
    });
  });

  test('a 4 MB upload from a pod on node1 through the ClusterIP (backend on node2) completes; the pod learned MTU 1280', async () => {
    // Without socket LB, tc on the pod's device DNATs and hands the packet to
    // the stack; tc answers a too-big DF segment itself, quoting the
    // ClusterIP the socket is connected to (bpf/include/sy_pmtu.h): the
    // stack's own answer would quote the backend. With socket LB the socket
    // talks to the backend and the kernel's PMTU works as is.
    const byTc = MODE === 'ebpf' && !Lab.socketLB(MODE);
    const ips = await lab.clusterIPs('far');
    // One family after the other: frag_needed_sent counts ICMP and ICMPv6 alike.
    for (const f of FAMILIES) {
      const before = byTc ? (datapathCounters(lab, 1).frag_needed_sent ?? 0) : 0;
      const r = await lab.exec('near', [PROBE, 'transfer', ips[f], '7000', '--bytes', String(BYTES), '--timeout-ms', '60000']);
      const got = parseTransfer(r.stdout);
      assert.ok(got, `${f}: transfer failed: ${r.stdout.trim()} ${r.stderr.trim()}`);
      assert.equal(got.name, 'far');
      assert.equal(got.bytes, BYTES);
      assert.ok(got.pmtu > 0 && got.pmtu <= LINK_MTU, `${f}: pod's path MTU ${got.pmtu}`);
      if (byTc) {
        assert.ok((datapathCounters(lab, 1).frag_needed_sent ?? 0) > before, `${f}: node1 counted frag_needed_sent`);
      }
    }
  });
});
