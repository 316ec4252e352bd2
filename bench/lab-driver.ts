// Drives one lab for the benchmark: lifecycle through the `switchyard lab`
// CLI (as a user would), objects through the lab API server's unix socket,
// probes spawned directly in pod namespaces (no CLI start-up in the timing),
// agents stopped and started through the lab daemon.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LabClient } from '../lab/src/cli/api-client.js';
import type { LabInfo } from '../lab/src/cli/lifecycle.js';
import { existingDir, inCgroup, nodeCgroupDir } from '../lab/src/netns/cgroups.js';
import { stateDirFiles, type StateDirFiles } from '../lab/src/netns/layout.js';
import { labStateDir } from '../lab/src/netns/plan.js';
import type { BenchIPFamily, LabMode } from './options.js';

function findRoot(): string {
  let d = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(d, 'package.json')) && fs.existsSync(path.join(d, 'bin', 'switchyard.js'))) return d;
    d = path.dirname(d);
  }
  throw new Error('cannot find the repository root (package.json with bin/switchyard.js) above the bench module');
}

export const ROOT = findRoot();
export const CLI = path.join(ROOT, 'bin', 'switchyard.js');
export const PROBE = path.join(ROOT, 'lab', 'build', 'sy-probe');

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface ExecResult { code: number; stdout: string; stderr: string; wallMs: number }

/** Every child this process started and has not seen exit, to stop on abort. */
const children = new Set<ChildProcess>();

export function killChildren(): void {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      // gone
    }
  }
  children.clear();
}

/** Runs a command to completion (bounded by timeoutMs) and collects its output. */
export function execCollect(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string; cwd?: string } = {}): Promise<ExecResult> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${opts.timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 120_000);
    child.on('error', (err) => {
      stderr += err.message;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr, wallMs: performance.now() - t0 });
    });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => undefined); // a child that exits without reading
      child.stdin!.end(opts.input);
    }
  });
}

/** A line of a LineStream: t (Date.now(), ms) and hr (performance.now(), sub-ms, monotonic) at its arrival. */
export interface StreamLine { t: number; hr: number; line: string }

/** A long-running child whose stdout lines are timestamped on arrival. */
export class LineStream {
  readonly child: ChildProcess;
  readonly lines: StreamLine[] = [];
  private buf = '';
  private listeners: Array<(l: StreamLine) => void> = [];
  readonly exited: Promise<number>;

  constructor(cmd: string, args: string[]) {
    this.child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(this.child);
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      const t = Date.now();
      const hr = performance.now();
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const l: StreamLine = { t, hr, line: this.buf.slice(0, i) };
        this.buf = this.buf.slice(i + 1);
        this.lines.push(l);
        for (const fn of this.listeners) fn(l);
      }
    });
    this.child.stderr!.resume();
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code) => {
        children.delete(this.child);
        resolve(code ?? 1);
      });
      this.child.on('error', () => resolve(127));
    });
  }

  onLine(fn: (t: number, line: string) => void): void {
    this.listeners.push((l) => fn(l.t, l.line));
  }

  /** Resolves with the first line (after now) that satisfies pred, or undefined at the deadline / exit. */
  waitFor(pred: (line: string) => boolean, timeoutMs: number): Promise<StreamLine | undefined> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (v: StreamLine | undefined): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== fn);
        resolve(v);
      };
      const fn = (l: StreamLine): void => {
        if (pred(l.line)) finish(l);
      };
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      this.listeners.push(fn);
      void this.exited.then(() => finish(undefined));
    });
  }

  stop(): Promise<number> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

export type LabInfoFull = LabInfo & {
  nodes: Array<LabInfo['nodes'][number] & { loader: (NonNullable<LabInfo['nodes'][number]['loader']> & { socket?: string }) | null }>;
  pods: Record<string, { netns: string; ip: string; ips?: string[]; node: string; pid?: number; running: boolean; log: string; hostVeth?: string }>;
};

export class BenchLab {
  readonly api: LabClient;
  readonly stateDir: string;
  private readonly files: StateDirFiles;

  constructor(readonly name: string, readonly mode: LabMode, readonly nodes: number, private readonly log: (line: string) => void, readonly agentArgs: string[] = [], readonly ipFamily: BenchIPFamily = 'ipv4') {
    this.stateDir = labStateDir(name);
    this.files = stateDirFiles(this.stateDir);
    this.api = new LabClient(this.files.apiSocket, 120_000);
  }

  private cli(args: string[], timeoutMs: number, input?: string): Promise<ExecResult> {
    return execCollect(process.execPath, [CLI, ...args], { timeoutMs, ...(input !== undefined ? { input } : {}) });
  }

  async up(): Promise<void> {
    if (fs.existsSync(this.stateDir)) {
      this.log(`lab ${this.name} exists (left by an earlier run?): taking it down first`);
      await this.down();
    }
    const r = await this.cli(['lab', 'up', '--name', this.name, '--nodes', String(this.nodes), '--mode', this.mode, '--ip-family', this.ipFamily], 240_000);
    if (r.code !== 0) throw new Error(`lab up ${this.name} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  }

  async down(): Promise<void> {
    const r = await this.cli(['lab', 'down', '--name', this.name], 180_000);
    if (r.code !== 0) {
      this.log(`lab down ${this.name} failed (${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}; running cleanup`);
      await this.cli(['cleanup', '--name', this.name], 180_000);
    }
  }

  async apply(yaml: string): Promise<void> {
    const r = await this.cli(['lab', 'apply', '--name', this.name, '-f', '-'], 60_000, yaml);
    if (r.code !== 0) throw new Error(`lab apply failed (${r.code}): ${r.stderr}`);
  }

  info(): Promise<LabInfoFull> {
    return this.api.get<LabInfoFull>('/lab/v1/info');
  }

  loaderSocket(node = 'node1'): string {
    return this.files.loaderSocket(node);
  }

  agentLog(node = 'node1'): string {
    return this.files.agentLog(node);
  }

  loaderLog(node = 'node1'): string {
    return this.files.loaderLog(node);
  }

  nodeNetns(node = 'node1'): string {
    return `${this.name}-n${node.replace(/^node/, '')}`;
  }

  cgroupOf(node: string): string | undefined {
    return existingDir(nodeCgroupDir(this.name, node));
  }

  /** argv running `argv` in network namespace `netns` (and in the node's cgroup, as `lab exec` does). */
  inNetns(netns: string, node: string | undefined, argv: string[]): string[] {
    return inCgroup(node ? this.cgroupOf(node) : undefined, ['nsenter', `--net=/run/netns/${netns}`, '--', ...argv]);
  }

  execIn(netns: string, node: string | undefined, argv: string[], timeoutMs = 120_000): Promise<ExecResult> {
    const [cmd, ...args] = this.inNetns(netns, node, argv);
    return execCollect(cmd!, args, { timeoutMs });
  }

  streamIn(netns: string, node: string | undefined, argv: string[]): LineStream {
    const [cmd, ...args] = this.inNetns(netns, node, argv);
    return new LineStream(cmd!, args);
  }

  /**
   * Stops every agent and keeps it stopped. The lab has no stop-agents
   * command: `restart-agents` with an argument the agent rejects makes the
   * daemon stop the running agent (SIGTERM, as always) and start one that
   * exits at once on the unknown option. Returns once no agent is alive.
   */
  async stopAgents(): Promise<void> {
    const r = await this.api.request('POST', '/lab/v1/agents/restart', { mode: this.mode, agentArgs: ['--bench-stop-agent'] }, 120_000);
    if (r.status !== 200) throw new Error(`stopping the agents: ${r.status} ${r.text}`);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const info = await this.info();
      if (info.nodes.every((n) => !n.agent || n.agent.alive === false)) return;
      if (Date.now() > deadline) throw new Error('agents still alive 30 s after the stop request');
      await sleep(100);
    }
  }

  /** Starts the agents (and, in ebpf mode, loaders that are not running). Resolves when the daemon has spawned them. */
  async startAgents(): Promise<void> {
    const r = await this.api.request('POST', '/lab/v1/agents/restart', { mode: this.mode, agentArgs: this.agentArgs }, 120_000);
    if (r.status !== 200) throw new Error(`starting the agents: ${r.status} ${r.text}`);
  }

  async waitAgentsHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await this.info();
      const dead = info.nodes.find((n) => n.agent && n.agent.alive === false);
      if (dead) throw new Error(`the agent of ${dead.name} exited; see ${this.agentLog(dead.name)}`);
      if (info.nodes.every((n) => n.agent?.healthy)) return;
      if (Date.now() > deadline) throw new Error(`agents not healthy within ${timeoutMs / 1000} s`);
      await sleep(200);
    }
  }

  /**
   * Empties a node's datapath with the project's own `switchyard cleanup
   * --datapath`, run inside the node's namespace with the node's loader
   * socket: KUBE-* chains (legacy and nft) go, and the loader detaches its
   * programs, removes its pins and exits. Call with the agents stopped.
   */
  async cleanDatapath(node = 'node1'): Promise<void> {
    // Bounded, but not by what a small table takes: emptying 330,000 nft chains took over two minutes before
    // the cleanup was batched (bench/results/full-20261207).
    const r = await execCollect('ip', ['netns', 'exec', this.nodeNetns(node), process.execPath, CLI, 'cleanup', '--datapath', '--loader-socket', this.loaderSocket(node)], { timeoutMs: 1_800_000 });
    if (r.code !== 0) throw new Error(`cleanup --datapath in ${this.nodeNetns(node)} failed (${r.code}): ${r.stderr.slice(-2000)}`);
    // The loader exits after answering; wait for it, so the next start begins from nothing.
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const info = await this.info();
      const n = info.nodes.find((x) => x.name === node);
      if (!n?.loader || n.loader.alive === false) return;
      await sleep(100);
    }
  }
}
