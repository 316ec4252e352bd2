// Connection tracking under real traffic, the same bar in ebpf and iptables
// mode (iptables: the kernel's conntrack does it for kube-proxy):
//   - TCP half-close: a client that shuts down its sending side still gets
//     the reply a server sends 20 s later (NodePort from outside, ClusterIP
//     from a pod);
//   - established connections keep working while a bounded flood of 500,000
//     new flows (SYNs from random source ports) hits the same NodePort (in a
//     dual-stack lab, at the same time, 250,000 IPv6 ones against the IPv6
//     NodePort and flows held over IPv6: FLOOD_SYNS);
//   - a process on a node connecting to a backend pod from the same source
//     port a NodePort flow to that backend would be SNATed to gets its own
//     replies (the SNAT range lies outside ip_local_port_range; a range that
//     overlaps it is refused).
// In a dual-stack lab every test runs over both families of the
// PreferDualStack Services at once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { E2E_IP_FAMILY, EXT_IPS, FAMILIES, type Family, Lab, NODE_IPS, PROBE, ROOT, datapathCounters, eventually, forEachFamily, hold, monotonicMs, ok, run, sleep, tally } from './harness.js';
import { clientPod, deployment, manifests, pod, service } from './manifests.js';

const MODE = (process.env.SWITCHYARD_E2E_MODE ?? 'ebpf') as 'ebpf' | 'iptables';
const EXT = EXT_IPS.IPv4;
const FLOOD = path.join(ROOT, 'lab/build/sy-flood');
const LATE_MS = 20_000;
/* Bound of the flood: the sender goes as fast as the node takes the SYNs
 * (a few thousand per second on a loaded 2-CPU machine). */
const FLOOD_MAX_MS = 240_000;
/* SYNs per family. Each SYN that gets a backend writes a pair of entries
 * (forward and reply) into its family's conntrack map, sy_conntrack or
 * sy_conntrack6, 262,144 entries each (--ct-max): 131,072 flows fill one.
 * IPv4's 500,000 are 3.8 times that; IPv6's flood runs at the same time and
 * shares the node's CPUs and CI's time, so it is smaller: 250,000 flows,
 * still 1.9 times its map (docs/maps.md: it added 4 s side by side). */
const FLOOD_SYNS: Record<Family, number> = { IPv4: 500_000, IPv6: 250_000 };
/** The flood's spoofed sources: 16 unused addresses of the external segment per family. */
const FLOOD_SRC: Record<Family, string> = { IPv4: '198.18.0.201', IPv6: 'fd00:198:18::201' };
/** Bound of the wait for new flows after the flood (half-open flows live 60 s). */
const RECOVERY_MAX_MS = 150_000;

const WORKLOAD = manifests(
  deployment('web', { replicas: 4, grace: 1 }),
  pod('solo', { node: 'node1', labels: { app: 'solo' } }),
  clientPod('c1', 'node1'),
  service('web', { spec: { type: 'NodePort' } }),
  service('solo', { spec: { type: 'NodePort' } }),
);

// Tests whose traffic comes from outside (NodePort) do not depend on
// socket-level balancing: the run without it (e2e-nosocklb) skips them.
const externalOnly = MODE === 'ebpf' && !Lab.socketLB(MODE)
  ? { skip: 'traffic from outside through a NodePort: socket-level balancing plays no part (run in the e2e suite)' }
  : {};

describe(`conntrack: half-close, new-flow floods, SNAT ports (${MODE}${Lab.socketLB(MODE) ? '' : ', no socket-level balancing'})`, { timeout: 1_500_000 }, () => {
  const lab = new Lab(Lab.uniqueName('e2ct'), MODE, E2E_IP_FAMILY);
  let webPods = new Set<string>();
  let podIP = new Map<string, string>();
  let podIP6 = new Map<string, string>();
  let nodePort = new Map<string, number>();

  before(async () => {
    await lab.up(2);
    await lab.apply(WORKLOAD);
    await lab.waitReady();
    const pods = await lab.pods({}, { ready: true });
    podIP = new Map(pods.map((p) => [p.metadata.name, p.status?.podIP as string]));
    podIP6 = new Map(pods.map((p) => [p.metadata.name, ((p.status?.podIPs ?? []) as Array<{ ip: string }>).map((x) => x.ip).find((ip) => ip.includes(':')) ?? '']));
    webPods = new Set((await lab.pods({ app: 'web' }, { ready: true })).map((p) => p.metadata.name));
    nodePort = await lab.nodePorts();
    for (const ip of FAMILIES.flatMap((f) => Object.values(NODE_IPS[f]))) {
      await eventually(`NodePort web on ${ip}`, async () => {
        const got = tally(await lab.probeExternal('tcp', ip, nodePort.get('web')!, ['--count', '8']));
        return [...got.keys()].every((k) => webPods.has(k)) && got.size >= 2;
      }, 60_000);
    }
  });

  after(async () => {
    await lab.down();
  });

  /** sy-probe tcp with a late reply: send "after-eof-ms N", shut down writing, wait for the answer. */
  const lateArgs = ['--send', `after-eof-ms ${LATE_MS}`, '--half-close', '--timeout-ms', String(LATE_MS + 15_000)];

  // The two half-close tests run side by side: each mostly waits out LATE_MS
  // (longer than the 10 s lifetime of a closing flow), on idle connections.
  describe('half-close', { concurrency: true }, () => {
    test('half-close through a NodePort: the reply sent 20 s after the client\'s FIN arrives', externalOnly, async () => {
      // Two clients per node address at once (different source ports: backends on both nodes, SNATed or not), both families.
      const runs = await Promise.all(FAMILIES.flatMap((f) => Object.values(NODE_IPS[f])).flatMap((ip) => [0, 1].map(() =>
        lab.execExternal([PROBE, 'tcp', ip, String(nodePort.get('web')), ...lateArgs], { timeoutMs: LATE_MS + 60_000 }))));
      for (const r of runs) {
        const line = r.stdout.trim();
        assert.ok(webPods.has(line), `expected a web pod's name, got ${JSON.stringify(line)} (stderr ${r.stderr})`);
      }
    });

    test('half-close through a ClusterIP from a pod: the reply sent 20 s after the client\'s FIN arrives', async () => {
      const vips = await lab.clusterIPs('web');
      const runs = await Promise.all(FAMILIES.flatMap((f) => [0, 1, 2].map(() => lab.exec('c1', [PROBE, 'tcp', vips[f], '80', ...lateArgs]))));
      for (const r of runs) {
        const line = r.stdout.trim();
        assert.ok(webPods.has(line), `expected a web pod's name, got ${JSON.stringify(line)} (stderr ${r.stderr})`);
      }
    });
  });

  /** The node's view of a flood, for the test output: datapath counters, the
   * external client's TCP retransmissions, drops on the links and in the
   * kernel's per-CPU backlog (congestion shows there, not in the datapath). */
  async function floodFigures(tag: string): Promise<void> {
    const lines: string[] = [];
    if (MODE === 'ebpf') {
      const c = datapathCounters(lab, 1);
      lines.push(`counters node1: ${['ct_reply_restored', 'ct_forward_restored', 'ct_restore_failed', 'ct_pair_mismatch', 'drop_no_snat_port', 'events_rate_limited']
        .map((k) => `${k}=${c[k] ?? 0}`).join(' ')}`);
    }
    const ns = await lab.execExternal(['nstat', '-asz', 'TcpRetransSegs', 'TcpExtTCPTimeouts', 'TcpEstabResets']);
    lines.push(`external TCP: ${ns.stdout.split('\n').filter((l) => /^Tcp/.test(l)).map((l) => l.split(/\s+/).slice(0, 2).join('=')).join(' ')}`);
    const linkDrops = async (r: { stdout: string }) => {
      try {
        return (JSON.parse(r.stdout) as Array<{ ifname: string; stats64: { rx: { dropped: number }; tx: { dropped: number } } }>)
          .filter((l) => l.stats64.rx.dropped || l.stats64.tx.dropped)
          .map((l) => `${l.ifname}:rx=${l.stats64.rx.dropped},tx=${l.stats64.tx.dropped}`).join(' ') || 'none';
      } catch {
        return '?';
      }
    };
    lines.push(`link drops node1: ${await linkDrops(await lab.execNode('node1', ['ip', '-s', '-j', 'link']))}`);
    lines.push(`link drops underlay: ${await linkDrops(await new Promise<{ stdout: string }>((res) =>
      execFile('ip', ['netns', 'exec', `${lab.name}-net`, 'ip', '-s', '-j', 'link'], (_e, stdout) => res({ stdout }))))}`);
    const soft = readFileSync('/proc/net/softnet_stat', 'utf8').trim().split('\n').map((l) => parseInt(l.split(/\s+/)[1]!, 16));
    lines.push(`softnet backlog drops per CPU (whole machine): ${soft.join(' ')}`);
    process.stdout.write(lines.map((l) => `# ${tag}: ${l}\n`).join(''));
  }

  type HeldEntries = Map<number, { backend: string; nat: string | null }>;
  /** The open flows' forward entries among `conntrack --json` rows, by client port. */
  function openFlows(ct: { items?: unknown[] }): HeldEntries {
    const out: HeldEntries = new Map();
    for (const e of (ct.items ?? []) as Array<{ dir: string; clientPort: number; backend: string; nat: string | null; tcpFlags: string[] | string; expired: boolean }>) {
      const flags = Array.isArray(e.tcpFlags) ? e.tcpFlags.join(',') : String(e.tcpFlags ?? '');
      if (e.dir === 'forward' && !e.expired && !/FIN|RST/.test(flags)) out.set(e.clientPort, { backend: e.backend, nat: e.nat });
    }
    return out;
  }

  /** The forward conntrack entries of the external client's open flows of family f on node1, by client port (ebpf mode; a walk of the maps). */
  async function heldEntries(f: Family): Promise<HeldEntries> {
    return openFlows(JSON.parse(await ok(['conntrack', '--lab', lab.name, '--node', 'node1', '--json', '--client', EXT_IPS[f], '--dir', 'forward'], { timeoutMs: 90_000 })));
  }

  /** The forward entries of the given flows of family f to node1's NodePort `port`, each read by its key (the
   * entry and its twin): after a flood both maps are full, and a walk reads both (524,288 entries) for tens of seconds. */
  async function heldEntriesByKey(f: Family, clientPorts: Iterable<number>, port: number): Promise<HeldEntries> {
    const out: HeldEntries = new Map();
    for (const p of clientPorts) {
      const ct = JSON.parse(await ok(['conntrack', '--lab', lab.name, '--node', 'node1', '--json', '--dir', 'forward',
        '--saddr', EXT_IPS[f], '--sport', String(p), '--daddr', NODE_IPS[f].node1, '--dport', String(port)], { timeoutMs: 60_000 }));
      for (const [k, v] of openFlows(ct)) out.set(k, v);
    }
    return out;
  }

  test('established connections keep working while 500,000 new flows flood the same NodePort', externalOnly, async () => {
    const port = nodePort.get('web')!;
    // Long-lived flows through node1's NodePort, a request every 100 ms, from
    // before the flood until after new flows are answered again, in each
    // family of the lab, each flooded at the same time. A line-rate
    // flood on a shared 2-CPU machine overruns the veth rings and backlogs, so
    // the held flows lose packets with the flood's and TCP retransmits with
    // backoff (0.2, 0.6, 1.4, 3 s ...): a request may wait seconds (up to
    // TIMEOUT_MS, then counted as a timeout and the flow kept). What must not
    // happen is a broken flow: a reset, another backend, its conntrack pair
    // changed, or no answer any more once the flood is over.
    const TIMEOUT_MS = 6000;
    const helds = new Map(FAMILIES.map((f) => [f, hold(lab, `hold ${f}`, ['--external'], NODE_IPS[f].node1, port,
      ['--conns', '6', '--interval-ms', '100', '--timeout-ms', String(TIMEOUT_MS), '--duration-ms', String(FLOOD_MAX_MS + RECOVERY_MAX_MS + 60_000)], FLOOD_MAX_MS + RECOVERY_MAX_MS + 180_000)]));
    const before = new Map<Family, HeldEntries>();
    const after = new Map<Family, HeldEntries>();
    const floodEnd = new Map<Family, number>();
    try {
      await sleep(3000);
      if (MODE === 'ebpf') {
        await forEachFamily(async (f) => before.set(f, await eventually(`the held ${f} flows in conntrack`, async () => {
          const m = await heldEntries(f);
          return m.size >= 6 && m;
        }, 60_000, 1000)));
      }
      await floodFigures('before the flood');
      // SYNs from 16 spoofed addresses of the external segment, random source ports, each family at once.
      await forEachFamily(async (f) => {
        const flood = await lab.execExternal([FLOOD, '--dst', NODE_IPS[f].node1, '--port', String(port),
          '--src', FLOOD_SRC[f], '--src-count', '16', '--count', String(FLOOD_SYNS[f]), '--max-ms', String(FLOOD_MAX_MS)], { timeoutMs: FLOOD_MAX_MS + 60_000 });
        floodEnd.set(f, monotonicMs());
        assert.match(flood.stdout, new RegExp(`# sent=${FLOOD_SYNS[f]} `), `flood: ${flood.stdout} ${flood.stderr}`);
        process.stdout.write(`# flood ${f}: ${flood.stdout.trim()}\n`);
      });
      await floodFigures('after the flood');
      // New flows work again once the flood's half-open flows age out (their
      // SNAT ports are taken until then, as in the kernel's conntrack).
      await forEachFamily(async (f) => {
        const recovery = Date.now();
        await eventually(`new ${f} flows answered after the flood`, async () =>
          (await lab.execExternal([PROBE, 'tcp', NODE_IPS[f].node1, String(port), '--count', '5'])).stdout.split('\n').filter(Boolean).every((l) => webPods.has(l)),
        RECOVERY_MAX_MS, 2000);
        process.stdout.write(`# new ${f} flows answered again ${Date.now() - recovery} ms after the floods\n`);
      });
      // A request timeout's worth of holding after the flood (recovery
      // usually took longer): a held flow that still works has been answered
      // after the flood by then (its retransmission backoff is not that deep
      // after seconds of loss).
      await sleep(Math.max(0, Math.max(...floodEnd.values()) + TIMEOUT_MS + 1000 - monotonicMs()));
      if (MODE === 'ebpf') await forEachFamily(async (f) => after.set(f, await heldEntriesByKey(f, before.get(f)!.keys(), port)));
    } finally {
      for (const h of helds.values()) h.stop();
    }
    const reports = new Map(await Promise.all([...helds].map(async ([f, h]) => [f, await h.done] as const)));
    await forEachFamily(async (f) => {
      const h = reports.get(f)!;
      const end = floodEnd.get(f)!;
      const s = Object.fromEntries(Object.entries(h.summary).map(([k, v]) => [k, Number(v)]));
      const events = h.events.slice(0, 20).join('\n');
      process.stdout.write(`# held ${f}: ${h.summary && Object.entries(h.summary).map(([k, v]) => `${k}=${v}`).join(' ')}; delays: ${h.events.length ? h.events.slice(0, 10).join('; ') : 'none'}\n`);
      assert.equal(s.conns, 6, h.raw);
      assert.equal(s.open, 6, `every connection still open after the flood (no reset, no close)\n${events}`);
      assert.equal(s.switched, 0, `no connection changed backend\n${events}`);
      const broken = h.events.filter((e) => / ERR /.test(e) && !/ ERR timeout$/.test(e));
      assert.deepEqual(broken, [], 'no error but a delayed answer (timeout) during the flood');
      for (const c of h.conns) {
        assert.ok(Number(c.answered) > end, `flow ${c.port} answered after the flood (last answer ${Number(c.answered) - end} ms after its end)\n${h.raw}`);
      }
      assert.ok(s.ok! >= 6 * 100, `requests kept being answered (${s.ok})`);
      if (MODE === 'ebpf') {
        // The held flows' conntrack pairs came through whole: the same backend
        // and SNAT address and port before and after the flood.
        for (const c of h.conns) {
          const p = Number(c.port);
          assert.ok(before.get(f)!.has(p), `flow ${p} in conntrack before the flood: ${JSON.stringify([...before.get(f)!])}`);
          assert.deepEqual(after.get(f)!.get(p), before.get(f)!.get(p), `flow ${p}'s conntrack entry after the flood`);
        }
      }
    });
  });

  test('a host connection to a backend from the source port of a NodePort flow gets its own replies', externalOnly, async () => {
    const port = nodePort.get('solo')!; // solo runs on node1: through node2 the flow is SNATed to node2
    const src = 45678; // inside the node's ip_local_port_range: a port the kernel could give the host itself
    // Each family at once (a port of each family: two sockets, the same number).
    const helds = FAMILIES.map((f) => hold(lab, `hold ${f}`, ['--external'], NODE_IPS[f].node2, port,
      // At most 30 s: the flow must still be open when its conntrack entry is read after both families'
      // host connections; stopped once that is done.
      ['--conns', '1', '--src-port', String(src), '--interval-ms', '200', '--timeout-ms', '3000', '--duration-ms', '30000'], 90_000));
    let hostDone = 0;
    try {
      await sleep(2000);
      // The host connects to the backend itself from that very port, several times.
      await forEachFamily(async (f) => {
        const backend = f === 'IPv6' ? podIP6.get('solo')! : podIP.get('solo')!;
        const host = await lab.execNode('node2', [PROBE, 'tcp', backend, '8080', '--src-port', String(src), '--count', '3', '--interval-ms', '300', '--timeout-ms', '2000']);
        assert.deepEqual(host.stdout.split('\n').filter(Boolean), ['solo', 'solo', 'solo'], `host connection to ${backend}: ${host.stdout} ${host.stderr}`);
      });
      hostDone = monotonicMs();
      if (MODE === 'ebpf') {
        // The NAT flow's port is outside the node's ip_local_port_range, which the status names.
        const st = JSON.parse((await run(['status', '--lab', lab.name, '--node', 'node2', '--json'])).stdout);
        assert.equal(st.snat?.source, 'default', JSON.stringify(st.snat));
        const [lo, hi] = (st.snat.ipLocalPortRange as string).split('-').map(Number) as [number, number];
        const [min, max] = (st.snat.portRange as string).split('-').map(Number) as [number, number];
        assert.ok(max < lo || min > hi, `SNAT range ${st.snat.portRange} outside ip_local_port_range ${st.snat.ipLocalPortRange}`);
        // The IPv4 flow's NAT port (the single-flow conntrack query learns IPv6 separately).
        const ct = JSON.parse((await run(['conntrack', '--lab', lab.name, '--node', 'node2', '--json', '--client', EXT])).stdout);
        const flows = (ct.items ?? []) as Array<{ dir?: string; clientPort?: number; nat?: string | null }>;
        const mine = flows.filter((f) => f.dir === 'forward' && f.clientPort === src && f.nat);
        assert.ok(mine.length > 0, `the NAT flow in conntrack: ${JSON.stringify(ct).slice(0, 600)}`);
        for (const f of mine) {
          const natPort = Number(f.nat!.split(':')[1]);
          assert.ok(natPort >= min && natPort <= max && natPort !== src, `NAT port ${natPort} in ${st.snat.portRange}`);
        }
      }
      // A few more exchanges of the NodePort flow after the host connections, then the report.
      await sleep(Math.max(0, hostDone + 1500 - monotonicMs()));
    } finally {
      for (const h of helds) h.stop();
    }
    for (const h of await Promise.all(helds.map((x) => x.done))) {
      assert.equal(Number(h.summary.err), 0, `${h.name}: the NodePort flow kept working`);
      assert.equal(Number(h.summary.open), 1, h.name);
      assert.ok(Number(h.conns[0]?.answered) > hostDone, `${h.name}: the NodePort flow answered after the host connections\n${h.raw}`);
    }
  });

  test('an SNAT port range overlapping ip_local_port_range is refused at start', { skip: MODE === 'iptables' && 'ebpf mode only: iptables mode leaves ports to the kernel' }, async () => {
    // A second agent in node1's namespace, never reaching the API server: it must stop at the check.
    const main = path.join(ROOT, 'dist/cli/main.js');
    const r = await lab.execNode('node1', [process.execPath, main, 'agent', '--node-name', 'node1', '--mode', 'ebpf',
      '--kubeconfig', '/nonexistent', '--loader-socket', '/nonexistent.sock', '--snat-port-range', '40000-40100', '--health-bind-address', '127.0.0.1:0']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /--snat-port-range 40000-40100 overlaps the node's net.ipv4.ip_local_port_range 32768-60999/);
  });
});
