// The lab daemon: runs in <lab>-cp and hosts the lab's control plane.
//
//   startLabCluster (API server + controllers + one kubelet per node, each
//   with a NetnsRuntime) -> API on 198.18.0.1:6443 and <state>/api.sock
//   -> <state>/kubeconfig -> per node: loader, then agent (unless --no-agents)
//
// Lab-only routes on the API server:
//   GET  /lab/v1/info      lab name, mode, nodes, external host, pods -> netns, pids, logs
//   POST /lab/v1/shutdown  stop agents, loaders and pods; reply; exit
//   POST /lab/v1/agents/restart  {"mode","agentArgs"}: restart every agent
//   GET  /lab/v1/apiserver       the API server's state (serving, watches)
//   POST /lab/v1/apiserver       {"action": "stop"|"start"|"stall-watches", "expireWatches": bool}
//   POST /lab/v1/loaders/upgrade {"binary": PATH}: later loader starts use PATH; each running
//                                loader gets SIGTERM and its supervisor starts the new one
//
// Loaders and agents are supervised (supervisor.ts): one that dies is
// restarted with backoff, as kubelet restarts a container.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { AGENT_NODE_FLAGS } from '../../../control-plane/src/cli/agent-node-flags.js';
import { LoaderClient } from '../../../control-plane/src/dataplane/ebpf/loader-client.js';
import { existingDir, nodeCgroupDir } from '../netns/cgroups.js';
import { AGENT_DEVICES, AGENT_POD_DEVICES, AGENT_HEALTH_PORT, API_PORT, PIN_ROOT, hostIPs, hostPort, planFamilies, type LabPlan, type NodePlan } from '../netns/plan.js';
import { agentFamilyArgs } from './agent-family-args.js';
import { repoPaths, stateDirFiles, type LabConfig, type RepoPaths, type StateDirFiles } from '../netns/layout.js';
import { CLI_STATE_FILE, DAEMON_STATE_FILE, StateFile, readCliState } from '../netns/state.js';
import { NetnsRuntime } from '../runtime/netns-runtime.js';
import { ManagedProcess } from './processes.js';
import { SupervisedProcess } from './supervisor.js';
import { startCluster, type LabCluster } from './cluster-adapter.js';

export interface DaemonOptions {
  stateDir: string;
}

interface NodeProcs {
  node: NodePlan;
  runtime: NetnsRuntime;
  loader?: SupervisedProcess;
  agent?: SupervisedProcess;
  healthy: boolean;
  lastHealth?: string;
}

export class LabDaemon {
  private readonly files: StateDirFiles;
  private readonly state: StateFile;
  private readonly repo: RepoPaths;
  private readonly nodes = new Map<string, NodeProcs>();
  private cluster: LabCluster | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  private readonly startedAt = new Date().toISOString();

  constructor(
    private readonly plan: LabPlan,
    private readonly config: LabConfig,
    private readonly log: Logger,
  ) {
    this.files = stateDirFiles(plan.stateDir);
    this.repo = repoPaths(config.repo);
    this.loaderBinary = this.repo.loader;
    this.state = new StateFile(path.join(plan.stateDir, DAEMON_STATE_FILE), plan.name, 'daemon', { pid: process.pid });
    this.state.flush();
    for (const node of plan.nodes) {
      const runtime = new NetnsRuntime({
        lab: plan.name,
        node,
        whoamiPath: this.repo.whoami,
        logDir: this.files.podLogDir,
        state: this.state,
        log: (msg, fields) => log.info({ node: node.name, ...fields }, msg),
      });
      this.nodes.set(node.name, { node, runtime, healthy: false });
    }
  }

  async start(): Promise<void> {
    const { plan, log } = this;
    if (!fs.existsSync(this.repo.whoami)) throw new Error(`${this.repo.whoami} is missing: run \`make -C lab\``);
    this.cluster = await startCluster({
      nodes: plan.nodes.map((n) => ({
        name: n.name, internalIP: n.ip, internalIPs: hostIPs(n), podCIDR: n.podCIDR, podCIDRs: n.podCIDRs ?? [n.podCIDR], zone: n.zone, labels: n.labels,
      })),
      runtimeFor: (name) => {
        const n = this.nodes.get(name);
        if (!n) throw new Error(`unknown node ${name}`);
        return n.runtime;
      },
      serviceCIDR: plan.serviceCIDR,
      ...(plan.serviceCIDRs ? { serviceCIDRs: plan.serviceCIDRs } : {}),
      lbPool: plan.lbPool,
      ...(plan.lbPools ? { lbPools: plan.lbPools } : {}),
      logger: log,
      extraRoutes: (req, res, url) => this.route(req, res, url),
    });
    await this.cluster.listen({ host: plan.cp.ip, port: API_PORT });
    fs.rmSync(this.files.apiSocket, { force: true });
    await this.cluster.listen({ path: this.files.apiSocket });
    fs.chmodSync(this.files.apiSocket, 0o600);
    fs.writeFileSync(this.files.kubeconfig, kubeconfig(plan.apiURL), { mode: 0o600 });
    log.info({ api: plan.apiURL, socket: this.files.apiSocket }, 'API server listening');

    if (this.config.agents) {
      await Promise.all(plan.nodes.map((n) => this.startNodeProcesses(n)));
      this.scheduleHealth(0);
    }
    log.info({ nodes: plan.nodes.length, agents: this.config.agents }, 'lab daemon ready');
  }

  private startLoader(node: NodePlan, sock: string): void {
    const n = this.nodes.get(node.name)!;
    this.state.addPinInstance(node.pinInstance);
    // The loader runs with nsenter --net, not `ip netns exec`: the latter gives
    // the process a private mount namespace with a fresh sysfs, where
    // /sys/fs/bpf is not mounted, so its pins would not be on the host's bpffs.
    const spawn = (onExit: (p: ManagedProcess) => void): ManagedProcess => {
      fs.rmSync(sock, { force: true }); // a stale socket of the previous run would look like a loader
      return new ManagedProcess('loader', node.name,
        ['nsenter', `--net=/run/netns/${node.netns}`, '--', this.loaderBinary, '--instance', node.pinInstance, '--socket', sock, ...loaderSizeArgs(this.agentArgs),
          // Extra loader flags for tests (e.g. a small --dump-page-bytes), from the environment of `lab up`.
          ...(process.env.SWITCHYARD_LAB_LOADER_ARGS ?? '').split(/\s+/).filter(Boolean)],
        this.files.loaderLog(node.name), `${this.loaderBinary} --instance ${node.pinInstance}`, this.state,
        onExit);
    };
    // A loader that exits after a cleanup request (its pins are gone: the
    // agent switched to iptables) has done its job and stays down.
    const pinDir = path.join(PIN_ROOT, node.pinInstance);
    const loader = new SupervisedProcess('loader', node.name, spawn, this.log,
      (p) => {
        if (this.stopping) return 'the lab is shutting down';
        return p.info().exitCode === 0 && !fs.existsSync(pinDir) ? 'it cleaned up its datapath (pins removed)' : undefined;
      });
    n.loader = loader;
  }

  /**
   * Resolves once the node's loader opened its socket. The loader verifies
   * every program before it does: seconds on a busy 2-CPU machine. A loader
   * that dies fails at once (below); a live one gets a minute.
   */
  private async loaderListening(node: NodePlan, sock: string): Promise<void> {
    const loader = this.nodes.get(node.name)!.loader!;
    const deadline = Date.now() + 60_000;
    while (!fs.existsSync(sock)) {
      if (!loader.isAlive) throw new Error(`loader of ${node.name} exited; see ${this.files.loaderLog(node.name)}`);
      if (Date.now() > deadline) throw new Error(`loader of ${node.name} did not create ${sock} within 60 s; see ${this.files.loaderLog(node.name)}`);
      await sleep(100);
    }
  }

  /** The loader executable; `lab upgrade-loaders --binary` replaces it. */
  private loaderBinary = '';

  /** Extra agent arguments set by `lab restart-agents --agent-arg` (e.g. --pretend-missing X); --map-max-entries also goes to the loader. */
  private agentArgsOverride: string[] | undefined;

  private get agentArgs(): string[] {
    return this.agentArgsOverride ?? this.config.agentArgs ?? [];
  }

  /**
   * Stops every agent and starts it again, possibly in another mode: how the
   * lab tests switching modes across agent restarts. Loaders are (re)started
   * for ebpf/auto and left alone otherwise (the agent in iptables mode asks
   * them to clean up, after which they exit).
   */
  async restartAgents(mode: LabConfig['mode'], agentArgs: string[]): Promise<void> {
    this.config.mode = mode;
    this.agentArgsOverride = agentArgs;
    await Promise.all([...this.nodes.values()].map(async (n) => {
      const agent = n.agent;
      n.agent = undefined;
      n.healthy = false;
      await agent?.stop(5000);
    }));
    for (const node of this.plan.nodes) await this.startNodeProcesses(node);
  }

  private async startNodeProcesses(node: NodePlan): Promise<void> {
    const n = this.nodes.get(node.name)!;
    const sock = this.files.loaderSocket(node.name);
    // iptables mode needs no loader: the agent programs iptables in the node namespace.
    // A supervised loader waiting out its backoff comes back on its own.
    // The agent starts beside its loader, as the DaemonSet's two containers
    // do, and waits for the loader's answer itself (its informers list while
    // the loader verifies its programs); the lab waits for the socket after.
    let loaderStarted: Promise<void> | undefined;
    if (this.config.mode !== 'iptables' && (!n.loader || n.loader.downForGood)) {
      fs.rmSync(sock, { force: true });
      this.startLoader(node, sock);
      loaderStarted = this.loaderListening(node, sock);
      loaderStarted.catch(() => undefined); // awaited below; not unhandled meanwhile
    }
    const cgroup = existingDir(nodeCgroupDir(this.plan.name, node.name));
    n.agent = new SupervisedProcess('agent', node.name, (onExit) => new ManagedProcess('agent', node.name,
      ['ip', 'netns', 'exec', node.netns, process.execPath, ...AGENT_NODE_FLAGS, this.repo.cliMain, 'agent',
        '--kubeconfig', this.files.kubeconfig,
        '--node-name', node.name,
        ...agentFamilyArgs(this.plan, node).nodeIP,
        '--loader-socket', sock,
        '--devices', AGENT_DEVICES,
        '--pod-devices', AGENT_POD_DEVICES,
        ...(cgroup ? ['--cgroup-path', cgroup] : []),
        '--mode', this.config.mode,
        ...agentFamilyArgs(this.plan, node).ranges,
        '--admin-socket', this.files.adminSocket(node.name),
        ...this.agentArgs],
      this.files.agentLog(node.name), `${this.repo.cliMain} agent --kubeconfig ${this.files.kubeconfig} --node-name ${node.name}`, this.state,
      (p) => {
        n.healthy = false;
        onExit(p);
      }), this.log, (p) => {
        if (this.stopping) return 'the lab is shutting down';
        // Bad arguments never get better by retrying (the agent exits 2 on them).
        return p.info().exitCode === 2 ? 'it exited with a usage error (code 2)' : undefined;
      });
    await loaderStarted;
  }

  /**
   * Polls the agents' /healthz: every 200 ms while an agent is starting (alive,
   * not healthy yet: `lab up` and `restart-agents` wait for it), else every second.
   */
  private scheduleHealth(delayMs: number): void {
    this.healthTimer = setTimeout(() => void this.pollHealth().finally(() => {
      if (this.stopping) return;
      const starting = [...this.nodes.values()].some((n) => n.agent?.isAlive && !n.healthy);
      this.scheduleHealth(starting ? 200 : 1000);
    }), delayMs);
  }

  private async pollHealth(): Promise<void> {
    await Promise.all([...this.nodes.values()].map(async (n) => {
      if (!n.agent?.isAlive) {
        n.healthy = false;
        return;
      }
      const r = await httpGet(`http://${hostPort(n.node.ip, AGENT_HEALTH_PORT)}/healthz`, 1000);
      n.healthy = r.status === 200;
      n.lastHealth = r.error ?? `${r.status}`;
    }));
  }

  info(): Record<string, unknown> {
    const { plan } = this;
    const pods: Record<string, unknown> = {};
    for (const n of this.nodes.values()) {
      for (const p of n.runtime.list()) {
        pods[p.key] = { netns: p.netns, ip: p.ip, ips: p.ips, node: p.node, pid: p.pid, hostVeth: p.hostVeth, running: p.running, terminating: p.terminating, log: p.logFile };
      }
    }
    return {
      name: plan.name,
      mode: this.config.mode,
      agents: this.config.agents,
      startedAt: this.startedAt,
      stateDir: plan.stateDir,
      apiServer: plan.apiURL,
      apiSocket: this.files.apiSocket,
      kubeconfig: this.files.kubeconfig,
      serviceCIDR: plan.serviceCIDR,
      serviceCIDRs: plan.serviceCIDRs ?? [plan.serviceCIDR],
      lbPool: plan.lbPool,
      ipFamily: plan.ipFamily ?? 'ipv4',
      ipFamilies: planFamilies(plan),
      daemon: { pid: process.pid, netns: plan.cp.netns, log: this.files.daemonLog },
      apiServerState: this.cluster?.apiServerState() ?? null,
      underlay: { ...plan.underlay },
      controlPlane: { netns: plan.cp.netns, ip: plan.cp.ip, ips: hostIPs(plan.cp) },
      external: { netns: plan.ext.netns, ip: plan.ext.ip, ips: hostIPs(plan.ext) },
      nodes: [...this.nodes.values()].map((n) => ({
        name: n.node.name,
        netns: n.node.netns,
        ip: n.node.ip,
        ips: hostIPs(n.node),
        podCIDR: n.node.podCIDR,
        podCIDRs: n.node.podCIDRs ?? [n.node.podCIDR],
        zone: n.node.zone,
        pinInstance: n.node.pinInstance,
        loader: n.loader ? { ...n.loader.info(), socket: this.files.loaderSocket(n.node.name) } : null,
        agent: n.agent ? { ...n.agent.info(), healthz: `http://${hostPort(n.node.ip, AGENT_HEALTH_PORT)}/healthz`, healthy: n.healthy, lastHealth: n.lastHealth ?? null } : null,
      })),
      pods,
    };
  }

  /** The lab's extra routes; true when the request was taken. */
  route(req: http.IncomingMessage, res: http.ServerResponse, url: URL | string): boolean {
    const u = typeof url === 'string' ? new URL(url, 'http://lab') : url;
    if (u.pathname === '/lab/v1/info' && req.method === 'GET') {
      sendJSON(res, 200, this.info());
      return true;
    }
    if (u.pathname === '/lab/v1/agents/restart' && req.method === 'POST') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        let parsed: { mode?: string; agentArgs?: unknown };
        try {
          parsed = body ? JSON.parse(body) : {};
        } catch {
          sendJSON(res, 400, { kind: 'Status', status: 'Failure', code: 400, message: 'body is not JSON' });
          return;
        }
        const mode = parsed.mode ?? this.config.mode;
        const args = parsed.agentArgs ?? [];
        if (!['ebpf', 'iptables', 'auto'].includes(mode) || !Array.isArray(args) || !args.every((a) => typeof a === 'string')) {
          sendJSON(res, 400, { kind: 'Status', status: 'Failure', code: 400, message: 'want {"mode": "ebpf"|"iptables"|"auto", "agentArgs": [string...]}' });
          return;
        }
        this.restartAgents(mode as LabConfig['mode'], args as string[]).then(
          () => sendJSON(res, 200, { kind: 'Status', status: 'Success', message: `agents restarted in ${mode} mode` }),
          (err: unknown) => sendJSON(res, 500, { kind: 'Status', status: 'Failure', code: 500, message: (err as Error).message }),
        );
      });
      return true;
    }
    if (u.pathname === '/lab/v1/loaders/upgrade' && req.method === 'POST') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        let binary: unknown;
        try {
          binary = body ? (JSON.parse(body) as { binary?: unknown }).binary : undefined;
        } catch {
          // answered below
        }
        if (typeof binary !== 'string' || !path.isAbsolute(binary) || !fs.existsSync(binary)) {
          sendJSON(res, 400, { kind: 'Status', status: 'Failure', code: 400, message: 'want {"binary": "/absolute/path/of/an/existing/loader"}' });
          return;
        }
        this.loaderBinary = binary;
        const pids: number[] = [];
        for (const n of this.nodes.values()) {
          // The supervisor starts the new binary at once: an upgrade is no crash to back off from.
          const pid = n.loader?.restartNow('SIGTERM');
          if (pid !== undefined) pids.push(pid);
        }
        this.log.info({ binary, stopped: pids }, 'loaders upgrading');
        sendJSON(res, 200, { kind: 'Status', status: 'Success', message: `${pids.length} loader(s) restarting with ${binary}` });
      });
      return true;
    }
    if (u.pathname === '/lab/v1/apiserver') {
      this.apiServerRoute(req, res);
      return true;
    }
    if (u.pathname === '/lab/v1/shutdown' && req.method === 'POST') {
      req.resume();
      void this.shutdown('shutdown request').then(
        () => {
          sendJSON(res, 200, { kind: 'Status', status: 'Success', message: 'lab daemon stopped its agents, loaders and pods; exiting' });
          res.once('finish', () => void this.exit(0));
          setTimeout(() => void this.exit(0), 2000).unref();
        },
        (err: unknown) => {
          sendJSON(res, 500, { kind: 'Status', status: 'Failure', message: (err as Error).message });
          setTimeout(() => void this.exit(1), 200).unref();
        },
      );
      return true;
    }
    return false;
  }

  /** `lab apiserver stop|start|stall-watches`: the API server faults, the store kept. */
  private apiServerRoute(req: http.IncomingMessage, res: http.ServerResponse): void {
    const cluster = this.cluster;
    if (!cluster) {
      sendJSON(res, 503, { kind: 'Status', status: 'Failure', code: 503, message: 'the cluster is not started' });
      return;
    }
    if (req.method === 'GET') {
      req.resume();
      sendJSON(res, 200, cluster.apiServerState());
      return;
    }
    if (req.method !== 'POST') {
      req.resume();
      sendJSON(res, 405, { kind: 'Status', status: 'Failure', code: 405, message: 'GET or POST' });
      return;
    }
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      let parsed: { action?: unknown; expireWatches?: unknown };
      try {
        parsed = body ? JSON.parse(body) : {};
      } catch {
        sendJSON(res, 400, { kind: 'Status', status: 'Failure', code: 400, message: 'body is not JSON' });
        return;
      }
      const { action } = parsed;
      const expireWatches = parsed.expireWatches === true;
      let done: Promise<string>;
      if (action === 'stop') done = cluster.stopApiServer().then(() => 'API server stopped (objects kept; the lab CLI still reaches it over its socket)');
      else if (action === 'start') done = cluster.startApiServer({ expireWatches }).then(() => `API server serving${expireWatches ? '; watches resumed from an earlier resourceVersion get 410 Gone' : ''}`);
      else if (action === 'stall-watches') {
        const n = cluster.stallWatches();
        done = Promise.resolve(`${n} open watch(es) stopped delivering`);
      } else {
        sendJSON(res, 400, { kind: 'Status', status: 'Failure', code: 400, message: 'want {"action": "stop"|"start"|"stall-watches", "expireWatches": bool}' });
        return;
      }
      done.then(
        (message) => {
          this.log.info({ action, expireWatches }, message);
          sendJSON(res, 200, { kind: 'Status', status: 'Success', message, state: cluster.apiServerState() });
        },
        (err: unknown) => sendJSON(res, 500, { kind: 'Status', status: 'Failure', code: 500, message: (err as Error).message }),
      );
    });
  }

  /** Stops agents, loaders (after asking them to detach and unpin) and pods. */
  shutdown(reason: string): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info({ reason }, 'shutting down');
      if (this.healthTimer) clearTimeout(this.healthTimer);
      const nodes = [...this.nodes.values()];
      await Promise.all(nodes.map((n) => n.agent?.stop(5000)));
      await Promise.all(nodes.map(async (n) => {
        if (!n.loader) return;
        if (!n.loader.isAlive) {
          await n.loader.stop(0);
          return;
        }
        const client = new LoaderClient(this.files.loaderSocket(n.node.name), 5000);
        try {
          await client.cleanup();
          this.state.removePinInstance(n.node.pinInstance);
        } catch (err) {
          this.log.warn({ node: n.node.name, err: (err as Error).message }, 'loader cleanup failed; the pins are removed by `lab down`');
        } finally {
          client.close();
        }
        await n.loader.stop(5000);
      }));
      await Promise.all(nodes.map((n) => n.runtime.shutdown().catch((err: unknown) => {
        this.log.error({ node: n.node.name, err: (err as Error).message }, 'removing pods failed');
      })));
      this.log.info('agents, loaders and pods stopped');
    })();
    return this.stopping;
  }

  private exited = false;

  async exit(code: number): Promise<void> {
    if (this.exited) return;
    this.exited = true;
    const t = setTimeout(() => process.exit(code), 3000);
    t.unref();
    try {
      await this.cluster?.stop();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cluster stop failed');
    }
    fs.rmSync(this.files.apiSocket, { force: true });
    this.log.info({ code }, 'lab daemon exiting');
    this.log.flush?.();
    setTimeout(() => process.exit(code), 50);
  }
}

export async function runDaemon(argv: string[]): Promise<number> {
  let stateDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--state-dir') stateDir = argv[++i];
    else {
      process.stderr.write(`lab daemon: unknown argument ${argv[i]}\nusage: main.js --state-dir DIR\n`);
      return 2;
    }
  }
  if (!stateDir) {
    process.stderr.write('lab daemon: --state-dir is required\n');
    return 2;
  }
  const doc = readCliState(stateDir);
  const plan = doc?.extra['plan'] as LabPlan | undefined;
  const config = doc?.extra['config'] as LabConfig | undefined;
  if (!doc || !plan || !config) {
    process.stderr.write(`lab daemon: ${path.join(stateDir, CLI_STATE_FILE)} has no lab plan (start the lab with \`switchyard lab up\`)\n`);
    return 2;
  }
  const log = pino({ base: { lab: plan.name } });
  const daemon = new LabDaemon(plan, config, log);
  const onSignal = (sig: string): void => {
    void daemon.shutdown(sig).finally(() => void daemon.exit(0));
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  // A lab daemon that dies takes the whole lab's control plane with it: log
  // unexpected errors and keep serving.
  process.on('uncaughtException', (err) => {
    log.fatal({ err: err.stack ?? err.message }, 'uncaught exception');
  });
  process.on('unhandledRejection', (err) => {
    log.error({ err: (err as Error)?.stack ?? String(err) }, 'unhandled rejection');
  });
  try {
    await daemon.start();
  } catch (err) {
    log.fatal({ err: (err as Error).message }, 'lab daemon failed to start');
    await daemon.shutdown('start failed').catch(() => undefined);
    await daemon.exit(1);
    return 1;
  }
  return new Promise<number>(() => undefined); // runs until shutdown exits the process
}

export function kubeconfig(server: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: switchyard-lab',
    '  cluster:',
    `    server: ${server}`,
    // Plain HTTP on the lab underlay; client-node refuses http:// without this.
    '    insecure-skip-tls-verify: true',
    'users:',
    '- name: lab',
    '  user: {}',
    'contexts:',
    '- name: lab',
    '  context:',
    '    cluster: switchyard-lab',
    '    user: lab',
    'current-context: lab',
    '',
  ].join('\n');
}

function sendJSON(res: http.ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
  res.end(data);
}

function httpGet(url: string, timeoutMs: number): Promise<{ status: number; error?: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, error: err.message }));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The agent's --map-max-entries (map sizes of the node), which the loader needs when it creates the maps. */
export function loaderSizeArgs(agentArgs: string[]): string[] {
  for (let i = 0; i < agentArgs.length; i++) {
    const a = agentArgs[i]!;
    if (a.startsWith('--map-max-entries=')) return ['--map-max-entries', a.slice('--map-max-entries='.length)];
    if (a === '--map-max-entries' && agentArgs[i + 1] !== undefined) return ['--map-max-entries', agentArgs[i + 1]!];
  }
  return [];
}
