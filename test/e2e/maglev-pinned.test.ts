// A Service that pins its Maglev table size (switchyard.io/maglev-table-size),
// end to end on a two-node lab in ebpf mode: scaling it from 3 to 12 backends
// one at a time never changes M; at each step the share of 1,000 client tuples
// whose backend changes stays within the disruption bound (1/N + 5 %), as the
// datapath itself picks them (BPF_PROG_TEST_RUN through each node's loader),
// with the same picks and byte-identical tables on both nodes; long-lived TCP
// connections keep their backends throughout. An invalid value is refused,
// and `switchyard services` says so.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { E2E_IP_FAMILY, Lab, eventually, hold, sleep } from './harness.js';
import { clientPod, deployment, manifests, service } from './manifests.js';
import { LoaderClient } from '../../control-plane/src/dataplane/ebpf/loader-client.js';
import { decodeBackend, decodeSvcKey, decodeSvcValue, decodeU32, decodeU32Array } from '../../control-plane/src/dataplane/ebpf/map-values.js';
import { flowHash } from '../../control-plane/src/dataplane/flow-hash.js';
import { runAdminCommand } from '../../cli/admin.js';
import { TCP_ACK, TCP_SYN, tcpFrame, tupleOf } from '../../bench/packets.js';

const MODE = (process.env.SWITCHYARD_E2E_MODE ?? 'ebpf') as 'ebpf' | 'iptables';
const PINNED = 16381;
const TUPLES = 1000;
const TCP_RST = 0x04;
/** Upper bound of the held connections' life; the test ends them (SIGTERM) once the scaling is done. */
const HOLD_MS = 600_000;

/** A Service on http 80 of the {app: selector} pods that pins its Maglev table size. */
function pinnedService(name: string, selector: string, tableSize: string) {
  return service(name, { selector: { app: selector }, annotations: { 'switchyard.io/maglev-table-size': tableSize } });
}

/** The i-th sampled client tuple (fake clients no lab pod uses). */
function tuple(i: number): { src: string; sport: number } {
  return { src: `198.19.${201 + Math.floor(i / 250)}.${(i % 250) + 1}`, sport: 30000 + i };
}

interface NodeView {
  /** The frontend's table as backend identities ("ip:port/proto"), its size and backend count from sy_services. */
  table: string[];
  tableSize: number;
  count: number;
  /** The backend ("ip:port") the datapath picks for each sampled tuple. */
  picks: string[];
}

/** Reads a node's table of `vip:80/TCP` and, with `sample`, runs every sampled tuple's SYN through tc_ingress. */
async function readNode(lab: Lab, node: string, vip: string, sample: boolean): Promise<NodeView> {
  const client = new LoaderClient(`/run/switchyard/lab/${lab.name}/${node}-loader.sock`);
  try {
    const backends = new Map<number, string>();
    for (const e of (await client.dump('sy_backends')).entries) {
      const b = decodeBackend(e.value);
      backends.set(decodeU32(e.key), `${b.addr}:${b.port}/${b.proto}`);
    }
    const fe = (await client.dump('sy_services')).entries.map((e) => ({ key: decodeSvcKey(e.key), value: decodeSvcValue(e.value) }))
      .find((f) => f.key.addr === vip && f.key.port === 80 && f.key.proto === 6);
    if (!fe) return { table: [], tableSize: 0, count: 0, picks: [] };
    const raw = (await client.dump('sy_maglev')).entries.find((e) => decodeU32(e.key) === fe.value.group);
    const table = raw ? Array.from(decodeU32Array(raw.value), (id) => backends.get(id) ?? `?${id}`) : [];
    const picks: string[] = [];
    if (sample) {
      for (let i = 0; i < TUPLES; i++) {
        const { src, sport } = tuple(i);
        const r = await client.testRun('tc_ingress', tcpFrame({ src, sport, dst: vip, dport: 80, flags: TCP_SYN }));
        const d = tupleOf(r.data);
        picks.push(`${d.dst}:${d.dport}`);
        // The backend's reset (what a real backend answers a SYN it refuses)
        // closes the flow the SYN opened in conntrack, so that the next
        // step's SYN of this tuple is a new flow that Maglev decides. (A
        // client's RST on a flow that was never established shortens
        // nothing: docs/maps.md, sy_conntrack.)
        await client.testRun('tc_ingress', tcpFrame({ src: d.dst, sport: d.dport, dst: src, dport: sport, flags: TCP_RST | TCP_ACK }));
      }
    }
    return { table, tableSize: fe.value.tableSize, count: fe.value.count, picks };
  } finally {
    client.close();
  }
}

describe(`a pinned Maglev table size while a Service scales (${MODE})`, { timeout: 1_200_000, skip: MODE !== 'ebpf' && 'Maglev tables exist in ebpf mode only' }, () => {
  const lab = new Lab(Lab.uniqueName('e2m'), MODE, E2E_IP_FAMILY);

  before(async () => {
    await lab.up(2);
    await lab.apply(manifests(deployment('pin', { replicas: 3, grace: 5 }), pinnedService('pin', 'pin', String(PINNED)),
      pinnedService('badpin', 'pin', '1000'), clientPod('c1', 'node1'), clientPod('c2', 'node2')));
    await lab.waitReady();
  });

  after(async () => {
    await lab.down();
  });

  test('an invalid table size is refused with its reason; the Service keeps the default sizing', async () => {
    let out = '', err = '';
    const io = { out: (s: string) => void (out += s), err: (s: string) => void (err += s) };
    await eventually('badpin listed with its 3 backends', async () => {
      out = '';
      err = '';
      const code = await runAdminCommand('services', ['--lab', lab.name, '--node', 'node1', '--name', 'badpin'], io);
      return code === 0 && /maglev table \d+ slots/.test(out) && /\s3\s+509\s/.test(out);
    }, 60_000);
    assert.match(out, /maglev table 509 slots, by default sizing \(annotation switchyard\.io\/maglev-table-size=1000 refused\)/, out + err);
    assert.match(out, /! annotation switchyard\.io\/maglev-table-size="1000" refused: 1000 is not one of the allowed primes/, out);
  });

  test(`scaling 3 -> 12 backends one at a time: M stays ${PINNED}, each step moves at most 1/N + 5 % of ${TUPLES} tuples, the same on both nodes; open connections keep their backends`, async () => {
    const vip = await lab.clusterIP('pin');
    await eventually('both nodes program the pinned table with 3 backends', async () => {
      for (const node of ['node1', 'node2']) {
        const v = await readNode(lab, node, vip, false);
        if (v.count !== 3) return false;
      }
      return true;
    }, 60_000);
    const started = Date.now();
    const holds = [
      hold(lab, 'c1 hold', ['c1'], vip, 80, ['--conns', '6', '--duration-ms', String(HOLD_MS), '--interval-ms', '500']),
      hold(lab, 'c2 hold', ['c2'], vip, 80, ['--conns', '6', '--duration-ms', String(HOLD_MS), '--interval-ms', '500']),
    ];
    await sleep(2000);

    let prev: NodeView | undefined;
    const steps: string[] = [];
    for (let n = 3; n <= 12; n++) {
      if (n > 3) await lab.scale('deployment/pin', n);
      const views = await eventually(`both nodes' tables hold ${n} backends`, async () => {
        const v = await Promise.all(['node1', 'node2'].map((node) => readNode(lab, node, vip, false)));
        return v.every((x) => x.count === n) ? v : false;
      }, 90_000);
      const [n1, n2] = await Promise.all(['node1', 'node2'].map((node) => readNode(lab, node, vip, true))) as [NodeView, NodeView];
      void views;
      assert.equal(n1.count, n, `node1 still has ${n} backends after sampling`);
      assert.equal(n2.count, n, `node2 still has ${n} backends after sampling`);
      assert.equal(n1.tableSize, PINNED, `node1: M at ${n} backends`);
      assert.equal(n2.tableSize, PINNED, `node2: M at ${n} backends`);
      assert.equal(n1.table.length, PINNED);
      assert.deepEqual(n1.table, n2.table, `tables differ between the nodes at ${n} backends`);
      assert.deepEqual(n1.picks, n2.picks, `picks differ between the nodes at ${n} backends`);
      assert.equal(new Set(n1.table).size, n);
      // The control plane's flow hash predicts the datapath's pick.
      const predicted = Array.from({ length: TUPLES }, (_, i) => {
        const { src, sport } = tuple(i);
        return n1.table[flowHash({ saddr: src, daddr: vip, sport, dport: 80, proto: 6 }, 0x5317c4d1) % PINNED]!.replace(/\/6$/, '');
      });
      assert.deepEqual(n1.picks, predicted, `datapath and control plane disagree at ${n} backends`);
      if (prev) {
        const bound = 1 / n + 0.05;
        const moved = n1.picks.filter((p, i) => p !== prev!.picks[i]).length / TUPLES;
        const slots = n1.table.filter((b, i) => b !== prev!.table[i]).length / PINNED;
        steps.push(`${n - 1}->${n}: ${(moved * 100).toFixed(1)} % of tuples, ${(slots * 100).toFixed(2)} % of slots (bound ${(bound * 100).toFixed(1)} %)`);
        assert.ok(slots <= bound, `${n - 1} -> ${n} backends: ${(slots * 100).toFixed(2)} % of the slots moved, bound ${(bound * 100).toFixed(2)} %`);
        assert.ok(moved <= bound, `${n - 1} -> ${n} backends: ${(moved * 100).toFixed(1)} % of ${TUPLES} tuples changed backend, bound ${(bound * 100).toFixed(1)} %`);
        assert.ok(moved > 0, `${n - 1} -> ${n}: the new backend takes some tuples`);
      }
      prev = n1;
    }
    const elapsed = Date.now() - started;
    console.log(`# scaling and sampling took ${elapsed} ms: ${steps.join("; ")}`);
    await sleep(1000);
    for (const h of holds) h.stop();
    for (const report of await Promise.all(holds.map((h) => h.done))) {
      const s = report.summary;
      assert.equal(s.conns, '6', report.raw);
      assert.equal(s.err, '0', report.raw);
      assert.equal(s.open, '6', report.raw);
      assert.equal(s.switched, '0', report.raw);
    }
  });
});
