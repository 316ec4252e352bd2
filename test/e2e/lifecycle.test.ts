// Maglev, connection tracking, affinity and the endpoint lifecycle, end to
// end: real connections from pods while Deployments scale and pods go away.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, eventually, hold, ok, sleep, tally } from './harness.js';
import { ECHO_53, ECHO_5353, HTTP_80, HTTP_8080, clientPod, deployment, manifests, service, type Doc } from './manifests.js';
import { LoaderClient } from '../../control-plane/src/dataplane/ebpf/loader-client.js';
import { decodeBackend, decodeU32, decodeU32Array, decodeSvcKey, decodeSvcValue } from '../../control-plane/src/dataplane/ebpf/map-values.js';
import { TCP_SYN, tcpFrame, tupleOf } from '../../bench/packets.js';
import { flowHash } from '../../control-plane/src/dataplane/flow-hash.js';

const MODE = (process.env.SWITCHYARD_E2E_MODE ?? 'ebpf') as 'ebpf' | 'iptables';

/** whoami pods serving http 8080 and UDP echo 5353. */
function httpEchoDeployment(name: string, replicas: number, grace = 30) {
  return deployment(name, { replicas, grace, ports: [HTTP_8080, ECHO_5353] });
}

/** A Service on http 80 and UDP 53 of the pods labelled {app: selector}. */
function httpEchoService(name: string, selector: string, o: { spec?: Doc; annotations?: Record<string, string> } = {}) {
  return service(name, { selector: { app: selector }, ports: [HTTP_80, ECHO_53], ...o });
}

describe(`Maglev, conntrack, affinity and endpoint lifecycle (${MODE})`, { timeout: 900_000 }, () => {
  const lab = new Lab(Lab.uniqueName('e2l'), MODE);

  before(async () => {
    await lab.up(2);
    await lab.apply(manifests(httpEchoDeployment('web', 4), httpEchoService('web', 'web'), clientPod('c1', 'node1'), clientPod('c2', 'node2')));
    await lab.waitReady();
  });

  after(async () => {
    await lab.down();
  });

  test('2,000 new connections to a 4-backend Service spread within 20 % of even', async () => {
    const vip = await lab.clusterIP('web');
    const got = tally(await lab.probe('c1', 'http', vip, 80, ['--count', '2000', '--timeout-ms', '1000']));
    const names = new Set((await lab.pods({ app: 'web' }, { ready: true })).map((p) => p.metadata.name));
    assert.deepEqual(new Set(got.keys()), names, JSON.stringify([...got]));
    for (const [name, n] of got) assert.ok(n >= 400 && n <= 600, `${name}: ${n} of 2000`);
  });

  test('both nodes hold the same Maglev table and send the same flow tuple to the same backend', { skip: MODE !== 'ebpf' && 'tables exist in ebpf mode only' }, async () => {
    const vip = await lab.clusterIP('web');
    const byNode: Array<{ tables: Map<string, string[]>; picks: string[] }> = [];
    for (const node of ['node1', 'node2']) {
      const client = new LoaderClient(`/run/switchyard/lab/${lab.name}/${node}-loader.sock`);
      try {
        const backends = new Map<number, string>();
        for (const e of (await client.dump('sy_backends')).entries) {
          const b = decodeBackend(e.value);
          backends.set(decodeU32(e.key), `${b.addr}:${b.port}/${b.proto}`);
        }
        const groupOf = new Map<number, string>();
        for (const e of (await client.dump('sy_services')).entries) {
          const k = decodeSvcKey(e.key);
          groupOf.set(decodeSvcValue(e.value).group, `${k.addr}:${k.port}/${k.proto}`);
        }
        const tables = new Map<string, string[]>();
        for (const e of (await client.dump('sy_maglev')).entries) {
          const fe = groupOf.get(decodeU32(e.key));
          if (fe) tables.set(fe, Array.from(decodeU32Array(e.value), (id) => backends.get(id) ?? `?${id}`));
        }
        const picks: string[] = [];
        for (let i = 0; i < 20; i++) {
          const r = await client.testRun('tc_ingress', tcpFrame({ src: `198.19.200.${i + 1}`, sport: 40000 + i, dst: vip, dport: 80, flags: TCP_SYN }));
          const d = tupleOf(r.data);
          picks.push(`${d.dst}:${d.dport}`);
        }
        byNode.push({ tables, picks });
      } finally {
        client.close();
      }
    }
    const [n1, n2] = byNode as [typeof byNode[0], typeof byNode[0]];
    assert.ok(n1.tables.size >= 2);
    // The control plane's flow hash predicts the datapath's pick.
    const table = n1.tables.get(`${vip}:80/6`)!;
    const predicted = Array.from({ length: 20 }, (_, i) => {
      const slot = flowHash({ saddr: `198.19.200.${i + 1}`, daddr: vip, sport: 40000 + i, dport: 80, proto: 6 }, 0x5317c4d1) % table.length;
      return table[slot]!.replace(/\/6$/, '');
    });
    assert.deepEqual(n1.picks, predicted);
    assert.deepEqual(n1.tables, n2.tables);
    assert.deepEqual(n1.picks, n2.picks);
    assert.ok(new Set(n1.picks).size > 1, 'tuples spread over several backends');
  });

  test('50 long-lived TCP connections keep their backend while the Deployment scales 4 -> 8 -> 4', async () => {
    const vip = await lab.clusterIP('web');
    const h = hold(lab, 'hold', ['c1'], vip, 80, ['--conns', '50', '--duration-ms', '25000', '--interval-ms', '200']);
    await sleep(2000);
    await lab.scale('deployment/web', 8);
    await eventually('8 ready pods', async () => (await lab.pods({ app: 'web' }, { ready: true })).length === 8, 40_000);
    await sleep(2000);
    await lab.scale('deployment/web', 4);
    await eventually('4 pods left', async () => (await lab.pods({ app: 'web' })).length === 4, 40_000);
    const r = await h.done;
    assert.equal(r.summary.conns, '50');
    assert.equal(r.summary.err, '0', `errors:\n${r.conns.filter((c) => c.err !== '0').map((c) => JSON.stringify(c)).join('\n')}`);
    assert.equal(r.summary.switched, '0');
    assert.equal(r.summary.open, '50');
    await eventually('scale-down finished', async () => (await lab.get('pods')).filter((p) => p.metadata.labels?.app === 'web').length === 4, 60_000);
  });

  test('ClientIP affinity keeps a client on one backend across 100 connections and expires after its timeout', async () => {
    await lab.apply(manifests(httpEchoService('sticky', 'web', {
      annotations: { 'switchyard.io/lb-algorithm': 'random' },
      spec: { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 2 } } },
    })));
    const vip = await lab.clusterIP('sticky');
    await eventually('sticky answers', async () => (await lab.probe('c1', 'http', vip, 80, ['--count', '1'])).every((l) => !l.startsWith('ERR')));
    const got = tally(await lab.probe('c1', 'http', vip, 80, ['--count', '100', '--timeout-ms', '1000']));
    assert.equal(got.size, 1, JSON.stringify([...got]));
    // After the timeout a new flow picks again (random algorithm): over 8 expiries more than one backend shows up.
    const seen = new Set<string>();
    for (let i = 0; i < 8 && seen.size < 2; i++) {
      await sleep(2600);
      const [first] = await lab.probe('c1', 'http', vip, 80, ['--count', '1']);
      seen.add(first!);
    }
    assert.ok(seen.size >= 2, `always ${[...seen].join(',')}`);
  });

  test('a terminating pod keeps its open connection and gets no new ones', async () => {
    const vip = await lab.clusterIP('web');
    const h = hold(lab, 'hold', ['c2'], vip, 80, ['--conns', '8', '--duration-ms', '12000', '--interval-ms', '200']);
    await sleep(1500);
    const pods = (await lab.pods({ app: 'web' }, { ready: true })).map((p) => p.metadata.name);
    const victim = pods[0]!;
    await lab.delete(`apiVersion: v1\nkind: Pod\nmetadata: {name: ${victim}}\n`);
    await eventually('victim terminating', async () => (await lab.get('pods')).some((p) => p.metadata.name === victim && p.metadata.deletionTimestamp));
    await sleep(1000);
    const fresh = tally(await lab.probe('c2', 'http', vip, 80, ['--count', '200', '--timeout-ms', '1000']));
    assert.ok(!fresh.has(victim), `new connections reached the terminating pod: ${JSON.stringify([...fresh])}`);
    const r = await h.done;
    assert.equal(r.summary.err, '0', JSON.stringify(r.conns));
    assert.equal(r.summary.switched, '0');
    const onVictim = r.conns.filter((c) => c.backend === victim);
    for (const c of onVictim) assert.equal(c.last, victim);
  });

  test('with only terminating pods, they still serve new connections', async () => {
    await lab.apply(manifests(httpEchoDeployment('last', 2, 60), httpEchoService('last', 'last')));
    await lab.waitReady();
    const vip = await lab.clusterIP('last');
    await eventually('last answers', async () => (await lab.probe('c1', 'http', vip, 80, ['--count', '20'])).every((l) => !l.startsWith('ERR')));
    const names = new Set((await lab.pods({ app: 'last' })).map((p) => p.metadata.name));
    await lab.scale('deployment/last', 0);
    await eventually('both terminating', async () => (await lab.get('pods')).filter((p) => names.has(p.metadata.name) && p.metadata.deletionTimestamp).length === 2);
    await sleep(1000);
    const got = tally(await lab.probe('c1', 'http', vip, 80, ['--count', '40', '--timeout-ms', '1000']));
    assert.ok([...got.keys()].every((k) => names.has(k)), JSON.stringify([...got]));
  });

  test('a Service with no endpoints is refused (TCP and UDP), not left to time out', async () => {
    await lab.apply(manifests(httpEchoService('empty', 'nothing-matches')));
    const vip = await lab.clusterIP('empty');
    await eventually('TCP refused', async () => {
      const got = await lab.probe('c1', 'tcp', vip, 80, ['--count', '3', '--timeout-ms', '2000']);
      return got.length === 3 && got.every((l) => l === 'ERR refused') ? got : undefined;
    });
    await eventually('UDP refused', async () => {
      const got = await lab.probe('c1', 'udp', vip, 53, ['--count', '3', '--timeout-ms', '2000']);
      return got.length === 3 && got.every((l) => l === 'ERR refused') ? got : undefined;
    });
  });

  test('internalTrafficPolicy=Local answers only from pods on the client node', async () => {
    await lab.apply(manifests(httpEchoService('local', 'web', { spec: { internalTrafficPolicy: 'Local' } })));
    const vip = await lab.clusterIP('local');
    const pods = await lab.pods({ app: 'web' }, { ready: true });
    const onNode1 = new Set(pods.filter((p) => p.spec.nodeName === 'node1').map((p) => p.metadata.name));
    assert.ok(onNode1.size > 0);
    await eventually('local answers', async () => {
      const got = tally(await lab.probe('c1', 'http', vip, 80, ['--count', '60', '--timeout-ms', '1000']));
      return [...got.keys()].every((k) => onNode1.has(k)) && got.size === onNode1.size;
    });
  });

  // With socket-level balancing on, a pod's connected UDP socket is left to
  // tc (sy_config POD_UDP_CONNECT_TC): connect() pointing it at a backend for
  // good would leave it stuck when that backend goes.
  test('a UDP client recovers after its backend pod is deleted (not stuck on the deleted backend)', async () => {
    const vip = await lab.clusterIP('web');
    const h = hold(lab, 'hold', ['c1'], vip, 53, ['--udp', '--conns', '6', '--duration-ms', '8000', '--interval-ms', '100', '--timeout-ms', '300']);
    await sleep(1500);
    const pods = (await lab.pods({ app: 'web' }, { ready: true })).map((p) => p.metadata.name).sort();
    // Delete all backends but one at once (no grace): most flows lose theirs.
    await ok(['lab', 'delete', '--name', lab.name, 'pod', ...pods.slice(1), '--grace-period', '0', '--ignore-not-found']);
    const r = await h.done;
    const live = new Set((await lab.pods({ app: 'web' })).map((p) => p.metadata.name));
    const moved = r.conns.filter((c) => c.backend !== c.last);
    assert.ok(moved.length > 0, 'no flow lost its backend');
    for (const c of r.conns) {
      assert.ok(live.has(c.last!), `flow ${c.conn ?? ''} ended on ${c.last}, not a live pod`);
      // Each lost exchange costs timeout + interval = 400 ms, and about 16 follow the
      // deletion: a socket stuck on its deleted backend loses them all. The bound is
      // loose on purpose (how fast is a benchmark's question, not a test's; a loaded
      // CI machine delays the agent's sync): recovered within about 3 s.
      assert.ok(Number(c.err) <= 8, `flow on ${c.backend} lost ${c.err} exchanges before recovering`);
    }
  });
});

