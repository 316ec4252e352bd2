// The fault suite: a 2-node ebpf lab with steady TCP and UDP traffic through
// a ClusterIP (pod c1 on node1) and a NodePort of node1 whose backends run on
// node2 (from the external host), while the lab plays real faults with the
// commands users have: processes killed (the lab daemon restarts them as
// kubelet would), a loader upgraded, the API server stopped and started
// (with 410 Gone on re-watch), watches that go silent, and auto mode with the
// loader paused or a feature missing. After every fault:
//   - no TCP connection was reset or went more than 1 s without an answer;
//   - UDP lost no more than what was sent while agent and loader were both gone;
//   - each node's datapath, read by content (ids normalised away), equals the
//     one the fresh full sync at lab start wrote.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Lab, PROBE, ROOT, eventually, ok, run, sleep } from '../e2e/harness.js';
import { ECHO_53, ECHO_5353, HTTP_80, HTTP_8080, clientPod, deployment, manifests, service } from '../e2e/manifests.js';
import { labClient } from '../../lab/src/cli/api-client.js';
import { BACKOFF_MAX_MS } from '../../lab/src/daemon/supervisor.js';
import {
  HOLD_INTERVAL_MS, TRAFFIC_AFTER_RECOVERY_MS, agentStatus, datapathContent, judgeTraffic, metric, nodeProcs, steadyTraffic,
  type HoldReport, type SteadyTraffic, type Targets,
} from './fault-lab.js';

const NODES = ['node1', 'node2'] as const;
/** Short, so the silent-watch fault runs in seconds (the default is 5 m). */
const WATCH_SILENCE = '6s';

const WORKLOAD = manifests(
  deployment('fweb', { replicas: 2, grace: 2, node: 'node2', ports: [HTTP_8080, ECHO_5353] }),
  service('fweb', { ports: [HTTP_80, ECHO_53], spec: { type: 'NodePort' } }),
  clientPod('c1', 'node1'),
);

/** One more Service of the fweb pods, on port 8080. */
function extraService(name: string): string {
  return manifests(service(name, { selector: { app: 'fweb' }, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] }));
}

describe('faults: the datapath keeps serving through restarts, upgrades and API server outages', { timeout: 1_500_000 }, () => {
  const lab = new Lab(Lab.uniqueName('flt'), 'ebpf');
  let targets: Targets;
  /** Each node's datapath after the fresh full sync at lab start. */
  const fresh = new Map<string, Record<string, unknown>>();
  const figures: string[] = [];
  /** Traffic started by the running test (stopped after it, should it fail before judging it). */
  const running = new Set<SteadyTraffic>();

  before(async () => {
    await lab.up(2, [...Lab.agentArgs(), `--watch-silence-timeout=${WATCH_SILENCE}`]);
    await lab.apply(WORKLOAD);
    await lab.waitReady();
    const svc = (await lab.get('services')).find((s) => s.metadata.name === 'fweb')!;
    const np = (name: string): number => (svc.spec.ports as Array<{ name: string; nodePort: number }>).find((p) => p.name === name)!.nodePort;
    targets = { vip: svc.spec.clusterIP as string, tcpNodePort: np('http'), udpNodePort: np('echo'), nodeIP: '198.18.0.11' };
    for (const n of NODES) {
      fresh.set(n, await eventually(`${n} programmed`, async () => {
        const c = await datapathContent(lab, n);
        return Object.keys(c.frontends as object).some((k) => k.startsWith(`${targets.vip}:80/`)) && c;
      }, 30_000));
    }
  });

  afterEach(async () => {
    for (const t of running) {
      t.stop();
      await t.done.catch(() => undefined);
    }
    running.clear();
  });

  after(async () => {
    if (figures.length) process.stdout.write(`# fault figures:\n${figures.map((f) => `#   ${f}`).join('\n')}\n`);
    await lab.down();
  });

  /** Every node's datapath equals the fresh full sync (eventually: a restarted agent resyncs). */
  async function datapathEqualsFreshSync(what: string, timeoutMs = 30_000): Promise<void> {
    for (const n of NODES) {
      let last: unknown;
      try {
        await eventually(`${n}: datapath equal to a fresh full sync after ${what}`, async () => {
          last = await datapathContent(lab, n);
          // The same comparison as the assertion below: key order follows the
          // map's dump order, which a restarted or migrated map changes, so
          // comparing JSON text waited out the whole timeout on equal content.
          return isDeepStrictEqual(last, fresh.get(n));
        }, timeoutMs, 500);
      } catch (err) {
        assert.deepEqual(last, fresh.get(n), `${n} after ${what}: ${(err as Error).message}`);
      }
    }
  }

  /** Every loader and agent alive and healthy, none waiting for a restart. */
  async function allUp(): Promise<void> {
    await eventually('agents healthy and loaders running', async () => {
      const procs = await nodeProcs(lab);
      return procs.every((p) => p.loader?.alive && p.agent?.alive && p.agent.healthy);
    }, 60_000, 300);
  }

  function pidsOf(procs: Awaited<ReturnType<typeof nodeProcs>>, role: 'loader' | 'agent'): number[] {
    return procs.map((p) => p[role]?.pid).filter((p): p is number => typeof p === 'number');
  }

  function checkTraffic(what: string, reports: HoldReport[], udpAllowance = 0): void {
    const v = judgeTraffic(reports, udpAllowance);
    figures.push(`${what}: ${v.figures}`);
    assert.deepEqual(v.problems, [], `${what}: ${v.figures}`);
  }

  /** Steady traffic for one test; afterEach stops it if the test failed before judging it. */
  function startTraffic(): SteadyTraffic {
    const t = steadyTraffic(lab, targets);
    running.add(t);
    return t;
  }

  /**
   * The traffic of a fault, once the lab has recovered: kept flowing
   * TRAFFIC_AFTER_RECOVERY_MS more on the recovered datapath, then stopped
   * and its reports returned. (It used to run for a fixed time, which on a
   * busy machine could end before the fault was even played.)
   */
  async function afterRecovery(traffic: SteadyTraffic): Promise<HoldReport[]> {
    try {
      await sleep(TRAFFIC_AFTER_RECOVERY_MS);
    } finally {
      traffic.stop();
    }
    return traffic.done;
  }

  /**
   * Plays `fault` 2 s into steady traffic, waits for recovery (every process
   * healthy and each datapath equal to the fresh full sync) with the traffic
   * still flowing, then judges the traffic.
   */
  async function underTraffic(what: string, fault: () => Promise<number | void>): Promise<void> {
    await allUp();
    const traffic = startTraffic();
    await sleep(2000);
    const bothGoneMs = (await fault()) ?? 0;
    await allUp();
    await datapathEqualsFreshSync(what);
    const reports = await afterRecovery(traffic);
    // UDP: what was sent while agent and loader were both gone (4 flows, one datagram per interval each).
    checkTraffic(what, reports, Math.ceil(bothGoneMs / HOLD_INTERVAL_MS) * 4);
  }

  async function restartsOf(role: 'loader' | 'agent'): Promise<number[]> {
    return (await nodeProcs(lab)).map((p) => p[role]?.restarts ?? 0);
  }

  async function waitRestarted(role: 'loader' | 'agent', before: number[]): Promise<void> {
    await eventually(`every ${role} restarted by the lab daemon`, async () => {
      const now = await restartsOf(role);
      return now.every((r, i) => r > before[i]!);
      // A crash restart waits out the daemon's backoff (up to BACKOFF_MAX_MS, 30 s) before the start itself.
    }, BACKOFF_MAX_MS + 30_000, 200);
  }

  test('agent restart (SIGTERM to every agent; the lab daemon starts them again)', async () => {
    await underTraffic('agent restart', async () => {
      const before = await restartsOf('agent');
      for (const pid of pidsOf(await nodeProcs(lab), 'agent')) process.kill(pid, 'SIGTERM');
      await waitRestarted('agent', before);
    });
  });

  test('loader SIGTERM', async () => {
    await underTraffic('loader SIGTERM', async () => {
      const before = await restartsOf('loader');
      for (const pid of pidsOf(await nodeProcs(lab), 'loader')) process.kill(pid, 'SIGTERM');
      await waitRestarted('loader', before);
    });
  });

  test('loader SIGKILL', async () => {
    await underTraffic('loader SIGKILL', async () => {
      const before = await restartsOf('loader');
      for (const pid of pidsOf(await nodeProcs(lab), 'loader')) process.kill(pid, 'SIGKILL');
      await waitRestarted('loader', before);
    });
  });

  test('agent and loader killed together (SIGKILL)', async () => {
    await underTraffic('agent+loader SIGKILL', async () => {
      const procs = await nodeProcs(lab);
      const [bl, ba] = [await restartsOf('loader'), await restartsOf('agent')];
      const t0 = Date.now();
      for (const pid of [...pidsOf(procs, 'loader'), ...pidsOf(procs, 'agent')]) process.kill(pid, 'SIGKILL');
      await waitRestarted('loader', bl);
      await waitRestarted('agent', ba);
      return Date.now() - t0;
    });
  });

  test('upgrade to a rebuilt program of the same layout: links move to the new programs', async () => {
    // A second build of the loader (the skeleton embeds the BPF object): the
    // new loader loads its own programs; the agents attach again, which moves
    // the pinned links to them.
    const binary = path.join('/tmp', `${lab.name}-switchyard-loader`);
    copyFileSync(path.join(ROOT, 'loader/build/switchyard-loader'), binary);
    try {
      const progIds = async (): Promise<Map<string, number>> => {
        const m = new Map<string, number>();
        for (const n of NODES) {
          for (const a of ((await agentStatus(lab, n)).loader?.attachments ?? []) as Array<{ ifname: string; hook: string; progId: number }>) {
            m.set(`${n} ${a.ifname} ${a.hook}`, a.progId);
          }
        }
        return m;
      };
      const before = await progIds();
      assert.ok(before.size >= 4, JSON.stringify([...before]));
      await underTraffic('loader upgrade (same layout)', async () => {
        const restarts = await restartsOf('loader');
        await ok(['lab', 'upgrade-loaders', '--name', lab.name, '--binary', binary]);
        await waitRestarted('loader', restarts);
      });
      await eventually('every attachment on a program of the new loader', async () => {
        const now = await progIds();
        return [...before].every(([k, id]) => now.has(k) && now.get(k) !== id);
      }, 30_000, 500);
      const argv = readFileSync(`/proc/${(await nodeProcs(lab))[0]!.loader!.pid}/cmdline`, 'utf8');
      assert.ok(argv.includes(binary), argv);
    } finally {
      // Back to the repository's build before the copy goes: the lab daemon
      // restarts loaders from the binary it was last given.
      const restarts = await restartsOf('loader');
      await ok(['lab', 'upgrade-loaders', '--name', lab.name, '--binary', path.join(ROOT, 'loader/build/switchyard-loader')]);
      await waitRestarted('loader', restarts);
      await allUp();
      rmSync(binary, { force: true });
    }
  });

  test('upgrade to a program whose map layout changed: the loader migrates the maps under traffic', async () => {
    // A real layout mismatch on the pins: every node's pinned sy_layout is
    // rewritten to another version (what a datapath of another layout would
    // have left), then every loader is restarted. The new loader must move
    // the old maps aside, create new ones, copy every entry (conntrack
    // included) and switch the pinned links, while traffic flows.
    // The loaders the previous test restarted must have finished starting
    // first (they serve their socket only after writing sy_layout): one still
    // starting would write its version over the rewrite below, and nothing
    // would migrate. "Alive and agents healthy" does not tell that.
    await datapathEqualsFreshSync('the loaders restarted by the previous test');
    const info = JSON.parse(await ok(['lab', 'status', '--name', lab.name, '-o', 'json'])) as { nodes: Array<{ name: string; pinInstance: string }> };
    const pinDirs = info.nodes.map((n) => `/sys/fs/bpf/switchyard/${n.pinInstance}`);
    const layoutOf = (dir: string): number => {
      const out = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'lookup', 'pinned', `${dir}/sy_layout`, 'key', 'hex', '00', '00', '00', '00'], { encoding: 'utf8' })) as { value: string[] };
      return Buffer.from(out.value.map((h) => Number.parseInt(h, 16))).readUInt32LE(0);
    };
    const mapId = (dir: string, map: string): number =>
      (JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show', 'pinned', `${dir}/${map}`], { encoding: 'utf8' })) as { id: number }).id;
    const version = layoutOf(pinDirs[0]!);
    const ctBefore = pinDirs.map((d) => mapId(d, 'sy_conntrack'));
    await underTraffic('loader upgrade (layout changed)', async () => {
      const restarts = await restartsOf('loader');
      for (const d of pinDirs) {
        execFileSync('bpftool', ['map', 'update', 'pinned', `${d}/sy_layout`, 'key', 'hex', '00', '00', '00', '00', 'value', 'hex', 'e7', '03', '00', '00']);
      }
      for (const pid of pidsOf(await nodeProcs(lab), 'loader')) process.kill(pid, 'SIGTERM');
      await waitRestarted('loader', restarts);
    });
    pinDirs.forEach((d, i) => {
      assert.equal(layoutOf(d), version, `${d}: sy_layout holds the loader's version again`);
      assert.notEqual(mapId(d, 'sy_conntrack'), ctBefore[i], `${d}: sy_conntrack is a new map (migrated, not reused)`);
      assert.ok(!existsSync(`${d}/old-layout`), `${d}: the old maps are gone`);
    });
  });

  test('API server stopped for 60 s and started again; re-watches get 410 Gone and relist', async () => {
    await lab.apply(extraService('fextra'));
    const extraVip = async (): Promise<string> => lab.clusterIP('fextra');
    const gone = await extraVip();
    for (const n of NODES) {
      await eventually(`fextra programmed on ${n}`, async () => Object.keys((await datapathContent(lab, n)).frontends as object).some((k) => k.startsWith(`${gone}:8080/`)), 30_000);
    }
    await allUp();
    const traffic = startTraffic();
    await sleep(2000);
    await ok(['lab', 'apiserver', 'stop', '--name', lab.name]);
    const stoppedAt = Date.now();
    let fnewVip = '';
    try {
    for (const n of NODES) {
      await eventually(`${n} reports the outage`, async () => {
        const st = await agentStatus(lab, n);
        return st.apiServer?.connected === false && (await metric(lab, n, 'switchyard_apiserver_connected')) === 0;
      }, 30_000, 500);
    }
    // Changes the agents cannot see: one Service deleted (found only by the relist), one created.
    await ok(['lab', 'delete', '--name', lab.name, 'service', 'fextra']);
    await lab.apply(extraService('fnew'));
    fnewVip = await lab.clusterIP('fnew');
    await sleep(10_000);
    // Meanwhile the datapath keeps its last state: fextra still programmed, fnew not yet.
    const during = Object.keys((await datapathContent(lab, 'node1')).frontends as object);
    assert.ok(during.some((k) => k.startsWith(`${gone}:8080/`)) && !during.some((k) => k.startsWith(`${fnewVip}:8080/`)), during.join(' '));
    for (const n of NODES) assert.match(readFileSync(`/run/switchyard/lab/${lab.name}/${n}-agent.log`, 'utf8'), /API server unreachable: the datapath keeps its last state/);
    await sleep(Math.max(0, 60_000 - (Date.now() - stoppedAt)));
    } finally {
      // Whatever failed above, later tests need the API server back.
      await ok(['lab', 'apiserver', 'start', '--expire-watches', '--name', lab.name]);
    }
    const startedAt = Date.now();
    for (const n of NODES) {
      await eventually(`${n} relisted and converged`, async () => {
        const keys = Object.keys((await datapathContent(lab, n)).frontends as object);
        return !keys.some((k) => k.startsWith(`${gone}:8080/`)) && keys.some((k) => k.startsWith(`${fnewVip}:8080/`));
      }, 30_000, 250);
    }
    figures.push(`API server outage: both nodes converged ${Date.now() - startedAt} ms after the API server came back`);
    for (const n of NODES) assert.equal((await agentStatus(lab, n)).apiServer?.connected, true);
    checkTraffic('API server outage (60 s)', await afterRecovery(traffic));
    await ok(['lab', 'delete', '--name', lab.name, 'service', 'fnew']);
    await datapathEqualsFreshSync('the API server outage');
  });

  test('a watch that silently stops delivering is restarted after the watch silence timeout', async () => {
    await allUp();
    const restartsBefore = await Promise.all(NODES.map((n) => metric(lab, n, 'switchyard_watch_silent_restarts_total')));
    const traffic = startTraffic();
    await sleep(1000);
    const r = await ok(['lab', 'apiserver', 'stall-watches', '--name', lab.name]);
    const t0 = Date.now();
    assert.match(r, /[1-9]\d* open watch\(es\) stopped delivering/);
    await lab.apply(extraService('fstall'));
    const vip = await lab.clusterIP('fstall');
    for (const n of NODES) {
      await eventually(`${n} sees the Service created behind the stalled watch`, async () =>
        Object.keys((await datapathContent(lab, n)).frontends as object).some((k) => k.startsWith(`${vip}:8080/`)), 30_000, 250);
    }
    figures.push(`stalled watch: a change made just after the stall programmed on both nodes ${Date.now() - t0} ms after the stall (silence timeout ${WATCH_SILENCE})`);
    const restartsAfter = await Promise.all(NODES.map((n) => metric(lab, n, 'switchyard_watch_silent_restarts_total')));
    restartsAfter.forEach((a, i) => assert.ok((a ?? 0) > (restartsBefore[i] ?? 0), `silent watch restarts ${restartsBefore[i]} -> ${a}`));
    checkTraffic('stalled watch', await afterRecovery(traffic));
    await ok(['lab', 'delete', '--name', lab.name, 'service', 'fstall']);
    await datapathEqualsFreshSync('the stalled watch');
  });

  test('a device deleted and recreated under the same name is attached again', async () => {
    const ns = `${lab.name}-n1`;
    const ip = (...args: string[]): string => execFileSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
    const ifindex = (): number => (JSON.parse(ip('-j', 'link', 'show', 'syp900')) as Array<{ ifindex: number }>)[0]!.ifindex;
    const attachedIndex = async (): Promise<number | undefined> =>
      ((await agentStatus(lab, 'node1')).loader?.attachments as Array<{ ifname: string; ifindex: number; hook: string }> | undefined)
        ?.find((a) => a.ifname === 'syp900')?.ifindex;
    // A pod-facing device (--pod-devices syp+) whose peer stays in the node namespace.
    ip('link', 'add', 'syp900', 'type', 'veth', 'peer', 'name', 'fltq900');
    try {
      const first = ifindex();
      await eventually('syp900 attached', async () => (await attachedIndex()) === first, 20_000);
      // Deleted and recreated in one go: the name never disappears from a listing taken afterwards.
      execFileSync('ip', ['-n', ns, '-batch', '-'], { input: 'link del syp900\nlink add syp900 type veth peer name fltq900\n' });
      const second = ifindex();
      assert.notEqual(second, first);
      await eventually(`syp900 attached again (ifindex ${first} -> ${second})`, async () => (await attachedIndex()) === second, 20_000);
    } finally {
      try {
        ip('link', 'del', 'syp900');
      } catch {
        // already gone
      }
    }
  });

  test('a Node whose InternalIP appears after the agent started gets its NodePorts', async () => {
    const api = labClient(lab.name);
    const nodePath = '/api/v1/nodes/node1';
    const node = await api.get<{ status: { addresses: Array<{ type: string; address: string }> } }>(nodePath);
    const addresses = node.status.addresses;
    const setAddresses = async (a: typeof addresses): Promise<void> => {
      const cur = await api.get<Record<string, any>>(nodePath);
      await api.call('PUT', `${nodePath}/status`, { ...cur, status: { ...cur.status, addresses: a } });
    };
    const nodePortAnswers = async (): Promise<boolean> => {
      const r = await lab.execExternal([PROBE, 'tcp', targets.nodeIP, String(targets.tcpNodePort), '--count', '3', '--timeout-ms', '500']);
      return r.stdout.split('\n').filter(Boolean).every((l) => l.startsWith('fweb-'));
    };
    await setAddresses(addresses.filter((a) => a.type !== 'InternalIP'));
    try {
      // Agents that must learn the node IP from the Node (an empty --node-ip= drops the lab's).
      const r = await run(['lab', 'restart-agents', '--name', lab.name, '--mode', 'ebpf', '--agent-arg=--node-ip=', `--agent-arg=--watch-silence-timeout=${WATCH_SILENCE}`, '--timeout', '90'], { timeoutMs: 150_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.match(readFileSync(`/run/switchyard/lab/${lab.name}/node1-agent.log`, 'utf8'), /node IP unknown/);
      assert.equal(await nodePortAnswers(), false, 'no NodePort without a node IP');
    } finally {
      await setAddresses(addresses);
    }
    await eventually('the NodePort answers on the InternalIP that appeared', nodePortAnswers, 30_000, 1000);
    await datapathEqualsFreshSync('the node IP appeared');
  });

  // ---- auto mode ----------------------------------------------------------

  function agentLogSince(node: string, offset: number): string {
    return readFileSync(`/run/switchyard/lab/${lab.name}/${node}-agent.log`, 'utf8').slice(offset);
  }

  function logSize(node: string): number {
    return statSync(`/run/switchyard/lab/${lab.name}/${node}-agent.log`).size;
  }

  function kubeChains(node: string): string[] {
    const out: string[] = [];
    for (const save of ['iptables-legacy-save', 'iptables-nft-save']) {
      let text = '';
      try {
        text = execFileSync('ip', ['netns', 'exec', `${lab.name}-n${node.replace('node', '')}`, save], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      } catch {
        continue;
      }
      for (const line of text.split('\n')) if (line.startsWith(':KUBE-')) out.push(`${save} ${line.split(' ')[0]}`);
    }
    return out;
  }

  const pinDir = (node: string): string => `/sys/fs/bpf/switchyard/${lab.name}-n${node.replace('node', '')}`;

  test('auto mode with the loader paused for 30 s: waits, says so, neither falls back nor cleans up, then programs eBPF', async () => {
    await allUp();
    const loaderPid = (await nodeProcs(lab))[0]!.loader!.pid!;
    const offset = logSize('node1');
    const traffic = startTraffic();
    await sleep(1000);
    process.kill(loaderPid, 'SIGSTOP');
    try {
      // Restarting every agent in auto mode: node1's cannot hear from its loader.
      const r = await run(['lab', 'restart-agents', '--name', lab.name, '--mode', 'auto', `--agent-arg=--watch-silence-timeout=${WATCH_SILENCE}`, '--timeout', '5'], { timeoutMs: 60_000 });
      assert.notEqual(r.code, 0, 'node1 cannot be healthy while its loader is paused');
      const pausedAt = Date.now();
      await eventually('node1 says it waits for the loader', async () => {
        const st = await agentStatus(lab, 'node1');
        return st.loaderWait?.waiting === true && /waiting for the loader/.test(st.modeReason)
          && (await metric(lab, 'node1', 'switchyard_loader_waiting')) === 1;
      }, 30_000, 500);
      while (Date.now() - pausedAt < 30_000) {
        const log = agentLogSince('node1', offset);
        assert.doesNotMatch(log, /datapath mode selected/, 'no mode chosen while the loader is absent');
        assert.ok(existsSync(pinDir('node1')), 'the pins of the eBPF datapath are still there');
        assert.deepEqual(kubeChains('node1'), [], 'no iptables rules programmed');
        await sleep(3000);
      }
      assert.match(agentLogSince('node1', offset), /waiting for the loader: no fallback and no cleanup/);
    } finally {
      process.kill(loaderPid, 'SIGCONT');
    }
    await allUp();
    const log = agentLogSince('node1', offset);
    assert.match(log, /"mode":"ebpf"[^\n]*datapath mode selected/);
    assert.doesNotMatch(log, /removed the BPF datapath/);
    assert.ok(existsSync(pinDir('node1')));
    assert.deepEqual(kubeChains('node1'), []);
    checkTraffic('auto mode, loader paused 30 s', await afterRecovery(traffic));
    await datapathEqualsFreshSync('the paused loader');
  });

  test('auto mode with a required feature reported missing falls back to iptables, removing eBPF only once iptables is programmed', async () => {
    const offset = logSize('node1');
    const r = await run(['lab', 'restart-agents', '--name', lab.name, '--mode', 'auto', '--agent-arg=--pretend-missing=map_type:lru_hash', `--agent-arg=--watch-silence-timeout=${WATCH_SILENCE}`, '--timeout', '60'], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    await eventually('node1 in iptables mode with the eBPF datapath removed', async () => !existsSync(pinDir('node1')) && kubeChains('node1').length > 0, 30_000);
    const log = agentLogSince('node1', offset);
    assert.match(log, /falling back to iptables, missing map_type:lru_hash/);
    const programmed = log.indexOf('"msg":"synced"');
    const removed = log.indexOf('removed the BPF datapath');
    assert.ok(programmed >= 0 && removed > programmed, `iptables programmed (at ${programmed}) before eBPF removed (at ${removed})`);
    const answers = await lab.probe('c1', 'http', targets.vip, 80, ['--count', '20', '--timeout-ms', '1000']);
    assert.ok(answers.every((a) => a.startsWith('fweb-')), answers.join(', '));
  });
});
