// Where things are: the repository's binaries and the files of a lab's state
// directory. Shared by the CLI, the daemon and the cleanup.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
  /** The switchyard CLI entry (the agent is `main.js agent ...`). */
  cliMain: string;
  daemonMain: string;
}

export function repoPaths(root = repoRoot()): RepoPaths {
  return {
    root,
    whoami: path.join(root, 'lab/build/sy-whoami'),
    probe: path.join(root, 'lab/build/sy-probe'),
    loader: path.join(root, 'loader/build/switchyard-loader'),
    cliMain: path.join(root, 'dist/control-plane/src/cli/main.js'),
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
