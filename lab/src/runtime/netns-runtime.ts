// The lab's real PodRuntime: every pod is a network namespace with a veth to
// its node and a sy-whoami process serving its declared ports.
//
//   pod netns <lab>-p-<pod>:  eth0  198.19.<i>.<k>/32
//                             198.19.<i>.1 dev eth0 scope link
//                             default via 198.19.<i>.1
//   node netns <lab>-n<i>:    syp<n> 198.19.<i>.1/32, 198.19.<i>.<k>/32 dev syp<n>
//
// In an IPv6 or dual-stack lab the pod also gets (or instead gets)
// fd00:198:19:<i>::<k>/128 with the node's fd00:198:19:<i>::1 as its gateway,
// the same host number k in both families; duplicate address detection is off.
//
// No bridge: all pod traffic is routed through the node's namespace, where
// the datapath (tc programs on eth0 and syp+) sees it.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { addNetns, delNetns, enableXdpPeer, ipBatch, ipIn, netnsExists, sysctlIn } from '../netns/ip.js';
import {
  HOST_VETH_ANNOTATION,
  NETNS_ANNOTATION,
  POD_IF,
  PodAddressAllocator,
  hostPrefixOf,
  hostVethName,
  podIP,
  podIP6,
  podNetnsName,
  type NodePlan,
} from '../netns/plan.js';
import { IPV6_SYSCTLS, addrAdd } from '../netns/topology.js';
import { recordFor, type StateFile } from '../netns/state.js';
import { existingDir, inCgroup, nodeCgroupDir } from '../netns/cgroups.js';
import type { PodRuntime, PodSpecForRuntime, StartedPod } from './pod-runtime.js';

export interface NetnsRuntimeOptions {
  lab: string;
  node: NodePlan;
  /** Path of the sy-whoami binary. */
  whoamiPath: string;
  /** Where the pods' stderr goes: <logDir>/<pod netns>.log */
  logDir: string;
  /** Crash-safety record (namespaces and pids are written before/at creation). */
  state: StateFile;
  /** How long startPod waits for the server to listen (default 10 s). */
  readyTimeoutMs?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** What the runtime knows about one pod (for the lab's info endpoint). */
export interface PodRecord {
  key: string;
  namespace: string;
  name: string;
  uid: string;
  node: string;
  netns: string;
  /** The primary family's address (status.podIP). */
  ip: string;
  /** One per lab family, primary first (status.podIPs). */
  ips: string[];
  /** The host number k of both families' addresses. */
  host: number;
  hostVeth: string;
  pid: number | undefined;
  running: boolean;
  terminating: boolean;
  logFile: string;
}

interface PodEntry {
  rec: PodRecord;
  child: ChildProcess | undefined;
  exited: Promise<void>;
  networkReady: boolean;
}

export class NetnsRuntime implements PodRuntime {
  private readonly pods = new Map<string, PodEntry>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly addrs: PodAddressAllocator;
  private nextVeth = 0;
  private closed = false;

  constructor(private readonly opts: NetnsRuntimeOptions) {
    this.addrs = new PodAddressAllocator(opts.node.index);
  }

  get nodeName(): string {
    return this.opts.node.name;
  }

  list(): PodRecord[] {
    return [...this.pods.values()].map((e) => ({ ...e.rec }));
  }

  get(namespace: string, name: string): PodRecord | undefined {
    const e = this.pods.get(`${namespace}/${name}`);
    return e ? { ...e.rec } : undefined;
  }

  isRunning(pod: PodSpecForRuntime): boolean {
    const e = this.pods.get(key(pod));
    return e !== undefined && e.rec.uid === pod.uid && e.rec.running;
  }

  startPod(pod: PodSpecForRuntime): Promise<StartedPod> {
    return this.serialized(key(pod), () => this.doStart(pod));
  }

  terminatePod(pod: PodSpecForRuntime): Promise<void> {
    return this.serialized(key(pod), async () => {
      const e = this.pods.get(key(pod));
      if (!e || e.rec.uid !== pod.uid) return;
      e.rec.terminating = true;
      if (e.child && e.rec.running) e.child.kill('SIGTERM');
    });
  }

  removePod(pod: PodSpecForRuntime): Promise<void> {
    return this.serialized(key(pod), async () => {
      const e = this.pods.get(key(pod));
      if (!e || e.rec.uid !== pod.uid) return;
      await this.destroy(e);
    });
  }

  /** Refuses new pods and removes every pod this runtime made. */
  async shutdown(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.pods.values()].map((e) => this.serialized(e.rec.key, () => this.destroy(e))));
  }

  private async serialized<T>(k: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(k) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(k, tail);
    try {
      return await next;
    } finally {
      if (this.locks.get(k) === tail) this.locks.delete(k);
    }
  }

  private async doStart(pod: PodSpecForRuntime): Promise<StartedPod> {
    if (this.closed) throw new Error('runtime is shutting down');
    const k = key(pod);
    let e = this.pods.get(k);
    if (e && e.rec.uid !== pod.uid) {
      // Same name, new pod: the old one goes first.
      await this.destroy(e);
      e = undefined;
    }
    if (e && e.rec.running) return started(e.rec);
    if (!e) e = await this.createNetwork(pod);
    try {
      await this.startServer(e, pod);
    } catch (err) {
      await this.destroy(e).catch(() => undefined);
      throw err;
    }
    return started(e.rec);
  }

  private async createNetwork(pod: PodSpecForRuntime): Promise<PodEntry> {
    const { node, lab, state } = this.opts;
    const netns = podNetnsName(lab, pod.namespace, pod.name);
    if (netnsExists(netns)) throw new Error(`namespace ${netns} already exists`);
    const k = this.addrs.allocateHost();
    const gateways = node.podGateways ?? [node.podGateway];
    const ips = gateways.map((g) => (g.includes(':') ? podIP6(node.index, k) : podIP(node.index, k)));
    const ip = ips[0]!;
    const hostVeth = hostVethName(this.nextVeth++);
    const rec: PodRecord = {
      key: key(pod),
      namespace: pod.namespace,
      name: pod.name,
      uid: pod.uid,
      node: node.name,
      netns,
      ip,
      ips,
      host: k,
      hostVeth,
      pid: undefined,
      running: false,
      terminating: false,
      logFile: path.join(this.opts.logDir, `${netns}.log`),
    };
    const e: PodEntry = { rec, child: undefined, exited: Promise.resolve(), networkReady: false };
    this.pods.set(rec.key, e);
    try {
      state.addNamespace(netns);
      await addNetns(netns);
      const v6 = ips.some((a) => a.includes(':'));
      // Before the veth exists, so that its "default" settings apply.
      if (v6) await sysctlIn(netns, IPV6_SYSCTLS);
      // Node side: the veth (its peer goes straight into the pod), the gateway address(es) and the host route(s).
      await ipBatch(node.netns, [
        `link add ${hostVeth} type veth peer name ${POD_IF} netns ${netns}`,
        `link set ${hostVeth} up`,
        ...gateways.map((g) => addrAdd(`${g}/${hostPrefixOf(g)}`, hostVeth)),
      ]);
      await ipBatch(netns, [
        'link set lo up',
        ...ips.map((a) => addrAdd(`${a}/${hostPrefixOf(a)}`, POD_IF)),
        `link set ${POD_IF} up`,
        ...gateways.flatMap((g) => [
          `route add ${g}/${hostPrefixOf(g)} dev ${POD_IF}${g.includes(':') ? '' : ' scope link'}`,
          `route add ${g.includes(':') ? '::/0' : 'default'} via ${g} dev ${POD_IF}`,
        ]),
      ]);
      await ipBatch(node.netns, ips.map((a) => `route add ${a}/${hostPrefixOf(a)} dev ${hostVeth}`));
      // XDP on the node may redirect into this pod's veth: a veth peer only
      // takes XDP frames with GRO on (and tx checksumming off) on this side.
      await enableXdpPeer(netns, POD_IF);
      e.networkReady = true;
    } catch (err) {
      await this.destroy(e).catch(() => undefined);
      throw err;
    }
    return e;
  }

  private startServer(e: PodEntry, pod: PodSpecForRuntime): Promise<void> {
    const { whoamiPath, logDir, state } = this.opts;
    const args = ['--name', pod.name];
    // A pod with an IPv6 address serves both families on IPv6 sockets.
    if (e.rec.ips.some((a) => a.includes(':'))) args.push('--ipv6');
    const seen = new Set<string>();
    for (const p of pod.ports) {
      const proto = p.protocol === 'UDP' ? 'udp' : p.protocol === 'TCP' ? 'tcp' : undefined;
      if (!proto) continue; // SCTP: nothing serves it in the lab
      const id = `${proto}/${p.containerPort}`;
      if (seen.has(id)) continue;
      seen.add(id);
      args.push(`--${proto}`, String(p.containerPort));
    }
    fs.mkdirSync(logDir, { recursive: true });
    const logFd = fs.openSync(e.rec.logFile, 'a');
    let child: ChildProcess;
    try {
      // The pod's processes run in its node's cgroup (socket-level balancing
      // attaches there). The cgroup is joined before `ip netns exec`, which
      // remounts /sys and so hides the cgroup filesystem.
      const [cmd, ...argv] = inCgroup(existingDir(nodeCgroupDir(this.opts.lab, this.opts.node.name)), ['ip', 'netns', 'exec', e.rec.netns, whoamiPath, ...args]);
      child = spawn(cmd!, argv, { stdio: ['ignore', 'pipe', logFd] });
    } finally {
      fs.closeSync(logFd);
    }
    const pid = child.pid;
    if (pid !== undefined) state.addProcess(recordFor(pid, 'pod', e.rec.key, `${whoamiPath} --name ${pod.name}`));
    e.child = child;
    e.rec.pid = pid;
    e.rec.terminating = false;
    e.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        e.rec.running = false;
        if (pid !== undefined) state.removeProcess(pid);
        if (!this.closed && e.child === child) {
          this.opts.log?.('pod process exited', { pod: e.rec.key, code, signal });
        }
        resolve();
      });
      child.once('error', () => resolve());
    });
    const timeoutMs = this.opts.readyTimeoutMs ?? 10_000;
    return new Promise<void>((resolve, reject) => {
      let out = '';
      let done = false;
      const finish = (err?: Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        child.stdout?.removeAllListeners('data');
        // Keep draining stdout so the server never blocks on it.
        child.stdout?.on('data', () => undefined);
        if (err) reject(err);
        else {
          e.rec.running = true;
          resolve();
        }
      };
      const timer = setTimeout(() => finish(new Error(`pod ${e.rec.key}: server not listening after ${timeoutMs} ms${logTail(e.rec.logFile)}`)), timeoutMs);
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('READY\n')) finish();
      });
      child.once('exit', (code, signal) => finish(new Error(`pod ${e.rec.key}: server exited (${code ?? signal}) before listening${logTail(e.rec.logFile)}`)));
      child.once('error', (err) => finish(new Error(`pod ${e.rec.key}: cannot start ${whoamiPath}: ${err.message}`)));
    });
  }

  private async destroy(e: PodEntry): Promise<void> {
    const { node, state } = this.opts;
    const { rec } = e;
    if (e.child && e.child.exitCode === null && e.child.signalCode === null) {
      e.child.kill('SIGKILL');
      await Promise.race([e.exited, sleep(5000)]);
    }
    e.child = undefined;
    rec.running = false;
    // Deleting the node side removes both ends at once (namespace deletion is asynchronous).
    if (netnsExists(node.netns)) {
      await ipIn(node.netns, ['link', 'del', rec.hostVeth]).catch(() => undefined);
    }
    await delNetns(rec.netns);
    state.removeNamespace(rec.netns);
    this.addrs.releaseHost(rec.host);
    if (this.pods.get(rec.key) === e) this.pods.delete(rec.key);
  }
}

function key(pod: { namespace: string; name: string }): string {
  return `${pod.namespace}/${pod.name}`;
}

function started(rec: PodRecord): StartedPod {
  return {
    podIP: rec.ip,
    podIPs: [...rec.ips],
    annotations: { [NETNS_ANNOTATION]: rec.netns, [HOST_VETH_ANNOTATION]: rec.hostVeth },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function logTail(file: string): string {
  try {
    const text = fs.readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n');
    return text ? `:\n${text}` : '';
  } catch {
    return '';
  }
}
