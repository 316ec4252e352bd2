// Where things are: the repository's binaries and the files of a lab's state
// directory. Shared by the CLI, the daemon and the cleanup; the top-level
// cli/ hands labAgentPaths() to the admin commands (control-plane does not
// import the lab, so it is given the lab's layout rather than copying it).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LabAgentPaths } from '../../../control-plane/src/cli/admin-command.js';
import { labStateDir, nodeIndexFromName, nodeNetns } from './plan.js';

/** The repository root, from this module's place in dist/lab/src/netns/. */
export function repoRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // dist/lab/src/netns -> repo (when compiled); lab/src/netns -> repo (type-stripped sources)
  const up = here.includes(`${path.sep}dist${path.sep}`) ? '../../../..' : '../../..';
  return path.resolve(here, up);
}

export interface RepoPaths {
  root: string;
  whoami: string;
  probe: string;
  loader: string;
  /** The switchyard CLI entry, cli/main.ts compiled (the agent is `main.js agent ...`). */
  cliMain: string;
  daemonMain: string;
}

export function repoPaths(root = repoRoot()): RepoPaths {
  return {
    root,
    whoami: path.join(root, 'lab/build/sy-whoami'),
    probe: path.join(root, 'lab/build/sy-probe'),
    loader: path.join(root, 'loader/build/switchyard-loader'),
    cliMain: path.join(root, 'dist/cli/main.js'),
    daemonMain: path.join(root, 'dist/lab/src/daemon/main.js'),
  };
}

export interface StateDirFiles {
  dir: string;
  apiSocket: string;
  kubeconfig: string;
  daemonLog: string;
  podLogDir: string;
  loaderSocket(node: string): string;
  loaderLog(node: string): string;
  agentLog(node: string): string;
  /** The agent's admin API (the daemon passes it as --admin-socket). */
  adminSocket(node: string): string;
}

export function stateDirFiles(dir: string): StateDirFiles {
  return {
    dir,
    apiSocket: path.join(dir, 'api.sock'),
    kubeconfig: path.join(dir, 'kubeconfig'),
    daemonLog: path.join(dir, 'daemon.log'),
    podLogDir: path.join(dir, 'pods'),
    loaderSocket: (node) => path.join(dir, `${node}-loader.sock`),
    loaderLog: (node) => path.join(dir, `${node}-loader.log`),
    agentLog: (node) => path.join(dir, `${node}-agent.log`),
    adminSocket: (node) => path.join(dir, `${node}-admin.sock`),
  };
}

/** The admin socket of a node's agent in lab LAB (default state root). */
export function labAdminSocket(lab: string, node: string): string {
  return stateDirFiles(labStateDir(lab)).adminSocket(node);
}

/** Where a lab's node agent answers, for `switchyard status --lab LAB --node NODE` and the like. */
export function labAgentPaths(repo: RepoPaths = repoPaths()): LabAgentPaths {
  return {
    stateDir: (lab) => labStateDir(lab),
    adminSocket: labAdminSocket,
    nodeNetns: (lab, node) => {
      const i = nodeIndexFromName(node);
      if (i === undefined) throw new Error(`${JSON.stringify(node)} is not a lab node name (node1, node2, ...)`);
      return nodeNetns(lab, i);
    },
    cliMain: repo.cliMain,
  };
}

/** The options `lab up` hands the daemon (in state.json's extra.config). */
export interface LabConfig {
  mode: 'ebpf' | 'iptables' | 'auto';
  agents: boolean;
  /** Extra agent arguments (`lab up --agent-arg=...`), e.g. --socket-lb=false. */
  agentArgs?: string[];
  repo: string;
  createdAt: string;
}

/** What the daemon's command line must contain (cleanup's pid check). */
export function daemonMatch(daemonMain: string, stateDir: string): string {
  return `${daemonMain} --state-dir ${stateDir}`;
}
