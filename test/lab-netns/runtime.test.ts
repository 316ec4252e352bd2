// The topology and NetnsRuntime on their own (no daemon, no API server):
// a 2-node lab, pods on both nodes reaching each other directly, the
// draining behaviour of SIGTERM, removal, and crash cleanup from the state
// files. Runs as root; every namespace and process is removed in `after`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { labPlan, type LabPlan } from '../../lab/src/netns/plan.js';
import { createTopology } from '../../lab/src/netns/topology.js';
import { CLI_STATE_FILE, DAEMON_STATE_FILE, StateFile, readStateDocs } from '../../lab/src/netns/state.js';
import { NetnsRuntime } from '../../lab/src/runtime/netns-runtime.js';
import { runCleanup } from '../../lab/src/cli/cleanup.js';
import type { PodSpecForRuntime } from '../../lab/src/runtime/pod-runtime.js';
import { WHOAMI, ensureTools, leftovers, pidAlive, probeIn, rootSkipReason, uniqueLabName } from './helpers.js';

const skip = rootSkipReason();

function podSpec(name: string, node: string, namespace = 'default'): PodSpecForRuntime {
  return {
    namespace,
    name,
    uid: `uid-${name}`,
    nodeName: node,
    ports: [
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { containerPort: 5353, protocol: 'UDP' },
      { containerPort: 8080, protocol: 'TCP' }, // duplicates are served once
      { containerPort: 9, protocol: 'SCTP' }, // ignored
    ],
    terminationGracePeriodSeconds: 1,
  };
}

describe('netns topology and runtime', { skip, timeout: 180_000 }, () => {
  const name = uniqueLabName('rt');
  let plan: LabPlan;
  let runtimes: NetnsRuntime[] = [];
  const quiet = (): void => undefined;

  before(async () => {
    ensureTools();
    plan = labPlan(name, 2);
    const cli = new StateFile(path.join(plan.stateDir, CLI_STATE_FILE), name, 'cli', { plan });
    cli.flush();
    const daemonState = new StateFile(path.join(plan.stateDir, DAEMON_STATE_FILE), name, 'daemon');
    await createTopology(plan, cli);
    runtimes = plan.nodes.map((node) => new NetnsRuntime({ lab: name, node, whoamiPath: WHOAMI, logDir: path.join(plan.stateDir, 'pods'), state: daemonState }));
  });

  after(async () => {
    await Promise.all(runtimes.map((r) => r.shutdown().catch(() => undefined)));
    await runCleanup({ name, out: quiet });
  });

  test('the topology: namespaces, addresses, node routes and sysctls', () => {
    const docs = readStateDocs(plan.stateDir).docs;
    const recorded = docs.flatMap((d) => d.namespaces);
    for (const ns of [`${name}-net`, `${name}-cp`, `${name}-ext`, `${name}-n1`, `${name}-n2`]) {
      assert.ok(fs.existsSync(`/run/netns/${ns}`), ns);
      assert.ok(recorded.includes(ns), `${ns} recorded`);
    }
    // The external host reaches both nodes over the underlay; nothing listens on port 1 (refused = reached).
    assert.deepEqual(probeIn(`${name}-ext`, ['tcp', '198.18.0.11', '1', '--timeout-ms', '2000']), ['ERR refused']);
    assert.deepEqual(probeIn(`${name}-cp`, ['tcp', '198.18.0.12', '1', '--timeout-ms', '2000']), ['ERR refused']);
  });

  test('pods on two nodes reach each other directly over TCP, UDP and HTTP', async () => {
    const a = await runtimes[0]!.startPod(podSpec('pod-a', 'node1'));
    const b = await runtimes[1]!.startPod(podSpec('pod-b', 'node2'));
    assert.equal(a.podIP, '198.19.1.2');
    assert.equal(b.podIP, '198.19.2.2');
    const nsA = a.annotations['lab.switchyard.dev/netns']!;
    assert.equal(nsA, `${name}-p-pod-a`);
    assert.equal(a.annotations['lab.switchyard.dev/host-veth'], 'syp0');
    assert.ok(runtimes[0]!.isRunning(podSpec('pod-a', 'node1')));

    assert.deepEqual(probeIn(nsA, ['tcp', b.podIP, '8080', '--count', '3']), ['pod-b', 'pod-b', 'pod-b']);
    assert.deepEqual(probeIn(nsA, ['udp', b.podIP, '5353', '--count', '2']), ['pod-b', 'pod-b']);
    assert.deepEqual(probeIn(nsA, ['http', b.podIP, '8080', '--keep', '3']), ['pod-b', 'pod-b', 'pod-b']);
    // The backend sees the pod's own address: routed, not NATed.
    const peer = probeIn(nsA, ['http', b.podIP, '8080', '--peer']);
    assert.match(peer[0]!, /^pod-b 198\.19\.1\.2:\d+$/);
    const udpPeer = probeIn(nsA, ['udp', b.podIP, '5353', '--peer']);
    assert.match(udpPeer[0]!, /^pod-b 198\.19\.1\.2:\d+$/);
    // A port nothing listens on is refused, over TCP and UDP.
    assert.deepEqual(probeIn(nsA, ['tcp', b.podIP, '8081', '--timeout-ms', '2000']), ['ERR refused']);
    assert.deepEqual(probeIn(nsA, ['udp', b.podIP, '5354', '--timeout-ms', '2000']), ['ERR refused']);
    // The node reaches its pods and the other node's pods.
    assert.deepEqual(probeIn(`${name}-n1`, ['tcp', b.podIP, '8080']), ['pod-b']);
  });

  test('a pod in another namespace; a second pod on a node gets the next address', async () => {
    const c = await runtimes[0]!.startPod(podSpec('pod-c', 'node1', 'team'));
    assert.equal(c.podIP, '198.19.1.3');
    assert.equal(c.annotations['lab.switchyard.dev/netns'], `${name}-p-team_pod-c`);
    assert.deepEqual(probeIn(`${name}-p-pod-b`, ['tcp', c.podIP, '8080']), ['pod-c']);
    assert.deepEqual(runtimes[0]!.list().map((p) => p.key).sort(), ['default/pod-a', 'team/pod-c']);
  });

  test('startPod is idempotent for a running pod', async () => {
    const again = await runtimes[1]!.startPod(podSpec('pod-b', 'node2'));
    assert.equal(again.podIP, '198.19.2.2');
    assert.equal(runtimes[1]!.list().length, 1);
  });

  test('SIGTERM: the pod keeps serving established and new connections until removed', async () => {
    const spec = podSpec('pod-b', 'node2');
    const rec = runtimes[1]!.get('default', 'pod-b')!;
    await runtimes[1]!.terminatePod(spec);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(runtimes[1]!.isRunning(spec));
    assert.ok(pidAlive(rec.pid!));
    assert.deepEqual(probeIn(`${name}-p-pod-a`, ['http', rec.ip, '8080', '--count', '2']), ['pod-b', 'pod-b']);

    await runtimes[1]!.removePod(spec);
    assert.ok(!pidAlive(rec.pid!));
    assert.ok(!runtimes[1]!.isRunning(spec));
    assert.ok(!fs.existsSync(`/run/netns/${rec.netns}`));
    const daemonDoc = readStateDocs(plan.stateDir).docs.find((d) => d.writer === 'daemon')!;
    assert.ok(!daemonDoc.namespaces.includes(rec.netns), 'the namespace is no longer recorded');
    assert.ok(!daemonDoc.processes.some((p) => p.pid === rec.pid), 'the pid is no longer recorded');
    // Gone from node2: node1 routes to node2, node2 has no route left for it.
    const gone = probeIn(`${name}-p-pod-a`, ['tcp', rec.ip, '8080', '--timeout-ms', '1000']);
    assert.match(gone[0]!, /^ERR (unreachable|timeout)$/);
    await runtimes[1]!.removePod(spec); // idempotent

    // The address is handed out again.
    const d = await runtimes[1]!.startPod({ ...podSpec('pod-d', 'node2'), uid: 'uid-d' });
    assert.equal(d.podIP, '198.19.2.2');
    assert.deepEqual(probeIn(`${name}-p-pod-a`, ['tcp', d.podIP, '8080']), ['pod-d']);
  });

  test('a pod whose server cannot start fails startPod and leaves nothing behind', async () => {
    const bad: PodSpecForRuntime = { ...podSpec('pod-bad', 'node1'), ports: [{ containerPort: 8080, protocol: 'TCP' }, { containerPort: 8080, protocol: 'UDP' }, { containerPort: 70000, protocol: 'TCP' }] };
    await assert.rejects(runtimes[0]!.startPod(bad), /exited|not listening/);
    assert.ok(!fs.existsSync(`/run/netns/${name}-p-pod-bad`));
    assert.equal(runtimes[0]!.get('default', 'pod-bad'), undefined);
  });

  test('a crash: cleanup from the state files alone removes every namespace and process', async () => {
    const pids = runtimes.flatMap((r) => r.list().map((p) => p.pid!));
    assert.ok(pids.length >= 3);
    // Forget the runtimes (as if the daemon died) and clean up from disk.
    runtimes = [];
    const lines: string[] = [];
    assert.equal(await runCleanup({ name, out: (l) => lines.push(l) }), 0, lines.join('\n'));
    for (const pid of pids) assert.ok(!pidAlive(pid), `pid ${pid} still alive`);
    assert.deepEqual(leftovers(name), []);
    // Idempotent.
    assert.equal(await runCleanup({ name, out: quiet }), 0);
  });
});
