// `lab up`, `lab down`, `lab status`, `lab logs`.
import { createNodeCgroups } from '../netns/cgroups.js';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createTopology } from '../netns/topology.js';
import { labPlan, labStateDir, nodeIndexFromName, podNetnsName, validateLabName, type LabIPFamily, type LabPlan } from '../netns/plan.js';
import { daemonMatch, repoPaths, stateDirFiles, type LabConfig } from '../netns/layout.js';
import { CLI_STATE_FILE, StateFile, isRecordedProcessAlive, isSpawnedProcessAlive, readCliState, recordFor, type RecordedProcess } from '../netns/state.js';
import { LabClient, LabError, labClient } from './api-client.js';
import { cleanupLab } from './cleanup.js';

export interface UpOptions {
  name: string;
  nodes: number;
  mode: LabConfig['mode'];
  agents: boolean;
  agentArgs?: string[];
  /** `--link-mtu node<i>=N`: node index -> underlay link MTU. */
  linkMtu?: ReadonlyMap<number, number>;
  /** `--ip-family` (default ipv4). */
  ipFamily?: LabIPFamily;
  timeoutMs: number;
  keepOnFailure: boolean;
  out: (line: string) => void;
}

/** What GET /lab/v1/info returns (the parts the CLI uses). */
export interface LabInfo {
  name: string;
  mode: string;
  agents: boolean;
  apiServer: string;
  kubeconfig: string;
  daemon: { pid: number; log: string };
  /** Absent from daemons older than dual-stack: ipv4. */
  ipFamily?: string;
  ipFamilies?: string[];
  serviceCIDRs?: string[];
  external: { netns: string; ip: string; ips?: string[] };
  controlPlane: { netns: string; ip: string; ips?: string[] };
  nodes: Array<{
    name: string; netns: string; ip: string; ips?: string[]; podCIDR: string; podCIDRs?: string[]; zone: string;
    loader: { pid?: number; alive: boolean; restarts?: number; log: string } | null;
    agent: { pid?: number; alive: boolean; restarts?: number; log: string; healthy: boolean; lastHealth: string | null } | null;
  }>;
  pods: Record<string, { netns: string; ip: string; ips?: string[]; node: string; pid?: number; running: boolean; log: string }>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => `  | ${l}`).join('\n');
  } catch {
    return `  | (no ${file})`;
  }
}

function checkExecutable(file: string, what: string, hint: string): void {
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    throw new LabError(`${what} ${file} is missing or not executable: ${hint}`);
  }
}

/** The recorded daemon of a lab, if any. */
export function recordedDaemon(name: string): RecordedProcess | undefined {
  return readCliState(labStateDir(name))?.processes.find((p) => p.role === 'daemon');
}

export async function labUp(o: UpOptions): Promise<number> {
  const nameErr = validateLabName(o.name);
  if (nameErr) throw new LabError(nameErr, 2);
  if (process.getuid?.() !== 0) throw new LabError('the lab needs root (network namespaces): run as root');
  let plan: LabPlan;
  try {
    plan = labPlan(o.name, o.nodes, undefined, o.linkMtu, o.ipFamily ?? 'ipv4');
  } catch (err) {
    throw new LabError((err as Error).message, 2);
  }
  const repo = repoPaths();
  checkExecutable(repo.whoami, 'the pod server', 'build the lab tools with `make -C lab` (or `npm run build`)');
  checkExecutable(repo.probe, 'the probe client', 'build the lab tools with `make -C lab` (or `npm run build`)');
  if (!fs.existsSync(repo.daemonMain)) throw new LabError(`${repo.daemonMain} is missing: compile with \`npx tsc -p tsconfig.json\``);
  if (o.agents) {
    const noAgents = '(or start the lab without agents: `switchyard lab up --no-agents`)';
    checkExecutable(repo.loader, 'the loader', `build it with \`make\` ${noAgents}`);
    if (!fs.existsSync(repo.cliMain)) throw new LabError(`the agent entry point ${repo.cliMain} is missing: compile with \`npx tsc -p tsconfig.json\` ${noAgents}`);
  }
  const dir = plan.stateDir;
  if (fs.existsSync(dir)) {
    const d = recordedDaemon(o.name);
    const flag = o.name === 'sy' ? '' : ` --name ${o.name}`;
    if (d && isRecordedProcessAlive(d)) throw new LabError(`lab "${o.name}" is already up (daemon pid ${d.pid}); \`switchyard lab down${flag}\` first`);
    throw new LabError(`lab "${o.name}" was not cleaned up (${dir} exists): run \`switchyard lab down${flag}\` or \`switchyard cleanup\``);
  }

  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = stateDirFiles(dir);
  const config: LabConfig = { mode: o.mode, agents: o.agents, agentArgs: o.agentArgs ?? [], repo: repo.root, createdAt: new Date().toISOString() };
  const state = new StateFile(path.join(dir, CLI_STATE_FILE), o.name, 'cli', { plan, config });
  state.flush();
  try {
    o.out(`lab ${o.name}: creating ${plan.nodes.length} node(s), control plane and external host`);
    await createTopology(plan, state);
    // Node cgroups for pod processes (socket-level balancing attaches to them).
    createNodeCgroups(o.name, plan.nodes.map((n) => n.name));
    // The loaders' pin instances, recorded before the daemon starts any loader
    // (the daemon records them too) so a crash at any point leaves them findable.
    if (o.agents) for (const n of plan.nodes) state.addPinInstance(n.pinInstance);

    const fd = fs.openSync(files.daemonLog, 'a');
    let pid: number | undefined;
    try {
      const child = spawn('nsenter', [`--net=/run/netns/${plan.cp.netns}`, '--', process.execPath, repo.daemonMain, '--state-dir', dir], {
        detached: true,
        stdio: ['ignore', fd, fd],
      });
      pid = child.pid;
      if (pid !== undefined) state.addProcess(recordFor(pid, 'daemon', 'daemon', daemonMatch(repo.daemonMain, dir)));
      child.on('error', () => undefined);
      child.unref();
    } finally {
      fs.closeSync(fd);
    }
    if (pid === undefined) throw new LabError('cannot start the lab daemon (nsenter)');
    const daemonRec = state.snapshot.processes.find((p) => p.role === 'daemon')!;
    o.out(`lab ${o.name}: daemon pid ${pid} in ${plan.cp.netns}, log ${files.daemonLog}`);

    const deadline = Date.now() + o.timeoutMs;
    const client = new LabClient(files.apiSocket, 5000);
    const daemonGone = (): LabError => new LabError(`the lab daemon exited during start-up:\n${tail(files.daemonLog)}`);
    // 1. The API answers and every node is registered.
    for (;;) {
      if (!isSpawnedProcessAlive(daemonRec)) throw daemonGone();
      if (Date.now() > deadline) throw new LabError(`the lab API did not come up within ${o.timeoutMs / 1000} s:\n${tail(files.daemonLog)}`);
      if (fs.existsSync(files.apiSocket)) {
        try {
          const nodes = await client.get<{ items?: Array<{ metadata?: { name?: string } }> }>('/api/v1/nodes');
          const names = new Set((nodes.items ?? []).map((n) => n.metadata?.name));
          if (plan.nodes.every((n) => names.has(n.name))) break;
        } catch {
          // not yet
        }
      }
      await sleep(200);
    }
    o.out(`lab ${o.name}: API up (${plan.apiURL}, socket ${files.apiSocket}), ${plan.nodes.length} node(s) registered`);
    // 2. With agents: every agent's /healthz answers 200 (the daemon polls them from the cp namespace).
    if (o.agents) {
      for (;;) {
        if (!isSpawnedProcessAlive(daemonRec)) throw daemonGone();
        let info: LabInfo | undefined;
        try {
          info = await client.get<LabInfo>('/lab/v1/info');
        } catch {
          info = undefined;
        }
        if (info) {
          for (const n of info.nodes) {
            if (n.loader && !n.loader.alive) throw new LabError(`the loader of ${n.name} exited:\n${tail(n.loader.log)}`);
            if (n.agent && !n.agent.alive) throw new LabError(`the agent of ${n.name} exited:\n${tail(n.agent.log)}`);
          }
          if (info.nodes.every((n) => n.agent?.healthy)) break;
          if (Date.now() > deadline) {
            const bad = info.nodes.filter((n) => !n.agent?.healthy);
            throw new LabError(`agents not healthy within ${o.timeoutMs / 1000} s: ${bad.map((n) => `${n.name} (${n.agent?.lastHealth ?? 'no agent'})`).join(', ')}\n` +
              bad.map((n) => `${n.name} agent log:\n${tail(n.agent?.log ?? files.agentLog(n.name))}`).join('\n'));
          }
        } else if (Date.now() > deadline) {
          throw new LabError(`the lab daemon stopped answering:\n${tail(files.daemonLog)}`);
        }
        await sleep(200);
      }
      o.out(`lab ${o.name}: agents healthy (mode ${o.mode})`);
    }
    o.out(`lab ${o.name} is up: nodes ${plan.nodes.map((n) => `${n.name}=${(n.ips ?? [n.ip]).join(',')}`).join(' ')}, external ${(plan.ext.ips ?? [plan.ext.ip]).join(',')}; kubeconfig ${files.kubeconfig}`);
    return 0;
  } catch (err) {
    process.stderr.write(`switchyard lab up: ${(err as Error).message}\n`);
    if (o.keepOnFailure) {
      process.stderr.write(`switchyard lab up: leaving the half-started lab in place (--keep-on-failure); remove it with \`switchyard lab down --name ${o.name}\`\n`);
    } else {
      process.stderr.write(`switchyard lab up: tearing down what was created\n`);
      await cleanupLab(dir, { out: (l) => process.stderr.write(`${l}\n`) });
    }
    return 1;
  }
}

export async function labDown(name: string, out: (line: string) => void): Promise<number> {
  const nameErr = validateLabName(name);
  if (nameErr) throw new LabError(nameErr, 2);
  const dir = labStateDir(name);
  if (!fs.existsSync(dir)) throw new LabError(`no lab named "${name}" is up (no ${dir})`);
  const files = stateDirFiles(dir);
  const daemon = recordedDaemon(name);
  if (daemon && isRecordedProcessAlive(daemon)) {
    let asked = false;
    if (fs.existsSync(files.apiSocket)) {
      try {
        await new LabClient(files.apiSocket).call('POST', '/lab/v1/shutdown', {}, 90_000);
        out(`lab ${name}: daemon stopped agents, loaders and pods`);
        asked = true;
      } catch (err) {
        out(`lab ${name}: shutdown request failed (${(err as Error).message}); stopping the daemon by signal`);
      }
    }
    // After a shutdown request the daemon exits by itself; otherwise the
    // cleanup below sends SIGTERM (the daemon then stops everything too).
    const deadline = Date.now() + (asked ? 30_000 : 0);
    while (isRecordedProcessAlive(daemon) && Date.now() < deadline) await sleep(100);
  }
  const r = await cleanupLab(dir, { out });
  out(`lab ${name}: down (deleted ${r.namespaces.length} namespace(s), removed ${r.pins.length} pin dir(s)${r.killed.length ? `, killed ${r.killed.length} leftover process(es)` : ''})`);
  for (const e of r.errors) process.stderr.write(`switchyard lab down: ${e}\n`);
  return r.stateDirRemoved ? 0 : 1;
}

export async function labInfo(name: string): Promise<LabInfo> {
  return labClient(name).get<LabInfo>('/lab/v1/info');
}

export async function labStatus(name: string, out: (line: string) => void, json: boolean): Promise<number> {
  const dir = labStateDir(name);
  if (!fs.existsSync(dir)) throw new LabError(`no lab named "${name}" is up (no ${dir})`);
  const daemon = recordedDaemon(name);
  const alive = daemon !== undefined && isRecordedProcessAlive(daemon);
  if (!alive) {
    throw new LabError(`lab "${name}": the daemon ${daemon ? `(pid ${daemon.pid}) ` : ''}is not running; see ${stateDirFiles(dir).daemonLog}, then \`switchyard lab down${name === 'sy' ? '' : ` --name ${name}`}\``);
  }
  const info = await labInfo(name);
  if (json) {
    out(JSON.stringify(info, null, 2));
    return 0;
  }
  const api = (info as { apiServerState?: { serving: boolean; stoppedAt: string | null } | null }).apiServerState;
  out(`lab ${info.name}: daemon pid ${info.daemon.pid}, API ${info.apiServer}${api && !api.serving ? ` (STOPPED since ${api.stoppedAt})` : ''}, mode ${info.mode}${info.agents ? '' : ' (no agents)'}`);
  out(`  ip families ${(info.ipFamilies ?? ['IPv4']).join(',')} (${info.ipFamily ?? 'ipv4'}), service CIDRs ${(info.serviceCIDRs ?? []).join(',') || '?'}`);
  for (const n of info.nodes) {
    const restarts = (p: { restarts?: number | undefined }): string => ` restarts ${p.restarts ?? 0}`;
    const agent = n.agent ? `agent ${n.agent.alive ? `pid ${n.agent.pid}` : 'exited'}${restarts(n.agent)} ${n.agent.healthy ? 'healthy' : `unhealthy (${n.agent.lastHealth ?? '?'})`}` : 'no agent';
    const loader = n.loader ? `loader ${n.loader.alive ? `pid ${n.loader.pid}` : 'exited'}${restarts(n.loader)}` : 'no loader';
    out(`  ${n.name}  ${n.netns}  ${(n.ips ?? [n.ip]).join(',')}  pods ${(n.podCIDRs ?? [n.podCIDR]).join(',')}  ${n.zone}  ${loader}  ${agent}`);
  }
  out(`  external  ${info.external.netns}  ${(info.external.ips ?? [info.external.ip]).join(',')}`);
  const pods = Object.entries(info.pods);
  out(`  pods: ${pods.length} (${pods.filter(([, p]) => p.running).length} running)`);
  return 0;
}

export function labLogs(name: string, target: string, tailLines: number | undefined, loader: boolean, namespace: string, out: (text: string) => void): number {
  const dir = labStateDir(name);
  if (!fs.existsSync(dir)) throw new LabError(`no lab named "${name}" is up (no ${dir})`);
  const files = stateDirFiles(dir);
  let file: string;
  const m = /^(node[0-9]+)-(loader|agent)$/.exec(target);
  if (target === 'daemon') file = files.daemonLog;
  else if (m) file = m[2] === 'loader' ? files.loaderLog(m[1]!) : files.agentLog(m[1]!);
  else if (nodeIndexFromName(target) !== undefined) file = loader ? files.loaderLog(target) : files.agentLog(target);
  else {
    // A pod: its server's log, named after its namespace.
    file = path.join(files.podLogDir, `${podNetnsName(name, namespace, target)}.log`);
  }
  if (!fs.existsSync(file)) throw new LabError(`no log for ${target} (${file})`);
  let text = fs.readFileSync(file, 'utf8');
  if (tailLines !== undefined) text = text.split('\n').slice(-(tailLines + 1)).join('\n');
  out(text);
  return 0;
}
