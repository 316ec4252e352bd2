// Runs iptables, iptables-save and iptables-restore of one back end (legacy or
// nft) and one family (iptables for IPv4, ip6tables for IPv6) through child_process, in the current network namespace or behind a
// command prefix (["ip", "netns", "exec", NS] in tests). Mirrors the calls of
// kube-proxy's pkg/util/iptables runner: "-w" to wait for the xtables lock,
// EnsureChain as "-N" where exit status 1 means "exists", EnsureRule as "-C"
// then "-I"/"-A", restores with --noflush --counters.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Table } from './chain-names.js';
import type { IPFamily } from '../../util/ip.js';

export type IptablesBackend = 'legacy' | 'nft';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs argv (argv[0] is the program), feeding `input` on stdin. Never throws for a non-zero exit. */
export type Exec = (argv: string[], input?: string) => Promise<ExecResult>;

/** A command still running at a report: how long, how much CPU, and how long its CPU time has not moved. */
export interface RunningCommand {
  argv: string[];
  pid: number;
  elapsedMs: number;
  /** CPU time (user + system) of the child so far. */
  cpuMs: number;
  /** Time since the child last made progress (CPU time advanced, or it wrote output). */
  idleMs: number;
}

export interface CommandExecOptions {
  /**
   * A child whose CPU time has not advanced (and that wrote nothing) for this
   * long is killed (exit 124). There is no limit on a child that keeps
   * working: a large iptables-restore may take minutes. Default 60 s.
   */
  stallMs?: number;
  /** How often a running child is looked at (and reported). Default 5 s. */
  checkEveryMs?: number;
  /** Called at each look at a child that is still running. */
  onRunning?: (r: RunningCommand) => void;
}

/** CPU time (user + system, ms) of a process, from /proc/PID/stat; undefined when it is gone. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the ")" closing the command name: state is field 3, utime 14, stime 15 (USER_HZ = 100).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return undefined;
  }
}

/**
 * An Exec that spawns `prefix + argv` (no shell); a spawn failure comes back
 * as code 127. No fixed timeout turns slow into never: a child is killed only
 * when it stops making progress (see CommandExecOptions.stallMs). A number is
 * taken as stallMs.
 */
export function commandExec(prefix: readonly string[] = [], options: CommandExecOptions | number = {}): Exec {
  const opts: CommandExecOptions = typeof options === 'number' ? { stallMs: options } : options;
  const stallMs = opts.stallMs ?? 60_000;
  const checkEveryMs = Math.min(opts.checkEveryMs ?? 5_000, stallMs);
  return (argv, input) => new Promise((resolve) => {
    const full = [...prefix, ...argv];
    const started = Date.now();
    const child = spawn(full[0]!, full.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let done = false;
    let lastCpu = -1;
    let lastProgress = started;
    const finish = (r: ExecResult): void => {
      if (done) return;
      done = true;
      clearInterval(timer);
      resolve(r);
    };
    // ip netns exec and nsenter exec the program: the child's pid is the program's.
    const timer = setInterval(() => {
      if (done || child.pid === undefined) return;
      const now = Date.now();
      const cpu = processCpuMs(child.pid);
      if (cpu !== undefined && cpu > lastCpu) {
        lastCpu = cpu;
        lastProgress = now;
      }
      const idleMs = now - lastProgress;
      opts.onRunning?.({ argv: full, pid: child.pid, elapsedMs: now - started, cpuMs: Math.max(lastCpu, 0), idleMs });
      if (idleMs >= stallMs) {
        child.kill('SIGKILL');
        finish({ code: 124, stdout, stderr: `${stderr}\n${full.join(' ')}: made no progress (no CPU time, no output) for ${idleMs} ms after ${now - started} ms; killed` });
      }
    }, checkEveryMs);
    const progress = (): void => { lastProgress = Date.now(); };
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; progress(); });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; progress(); });
    child.on('error', (err) => finish({ code: 127, stdout, stderr: `${full[0]}: ${err.message}` }));
    child.on('close', (code, signal) => finish({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    child.stdin.on('error', () => { /* the program may exit before reading everything */ });
    child.stdin.end(input ?? '');
  });
}

/** A failed iptables command. */
export class IptablesError extends Error {
  constructor(message: string, readonly argv: string[], readonly code: number, readonly stderr: string) {
    super(message);
    this.name = 'IptablesError';
  }
}

/** A failed iptables-restore, with the input line it complained about. */
export class IptablesRestoreError extends IptablesError {
  constructor(message: string, argv: string[], code: number, stderr: string, readonly line: number | undefined, readonly lineText: string | undefined) {
    super(message, argv, code, stderr);
    this.name = 'IptablesRestoreError';
  }
}

/** "Error occurred at line: N" (1.8.x) or "line N failed" (older legacy). */
export function restoreErrorLine(stderr: string): number | undefined {
  const m = /Error occurred at line: (\d+)/.exec(stderr) ?? /line (\d+) failed/.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

/** kube-proxy's ExtractLines: the numbered lines around `line` (1-based), `count` either side. */
export function extractLines(input: string, line: number, count = 3): string {
  const lines = input.split('\n');
  const out: string[] = [];
  for (let i = Math.max(1, line - count); i <= Math.min(lines.length, line + count); i++) {
    out.push(`${i === line ? '>' : ' '}${String(i).padStart(5)}: ${lines[i - 1] ?? ''}`);
  }
  return out.join('\n');
}

export interface RunnerOptions {
  /** Seconds to wait for the xtables lock (iptables -w). Default 5, as kube-proxy. */
  waitSeconds?: number;
  /** Program names; default Debian's iptables-<backend>, iptables-<backend>-save, iptables-<backend>-restore. */
  binaries?: Partial<Record<'iptables' | 'save' | 'restore', string>>;
  /** IPv6 runs ip6tables-<backend>, ip6tables-<backend>-save, ip6tables-<backend>-restore. Default IPv4. */
  family?: IPFamily;
}

export interface IptablesVersion { major: number; minor: number; patch: number; text: string }

export class IptablesRunner {
  private readonly wait: string[];
  private versionCache: IptablesVersion | undefined;

  constructor(readonly backend: IptablesBackend, private readonly exec: Exec, private readonly opts: RunnerOptions = {}) {
    this.wait = ['-w', String(opts.waitSeconds ?? 5)];
  }

  binary(kind: 'iptables' | 'save' | 'restore'): string {
    const given = this.opts.binaries?.[kind];
    if (given) return given;
    const program = this.family === 'IPv6' ? 'ip6tables' : 'iptables';
    return kind === 'iptables' ? `${program}-${this.backend}` : `${program}-${this.backend}-${kind}`;
  }

  get family(): IPFamily {
    return this.opts.family ?? 'IPv4';
  }

  /** Runs iptables with args; resolves stdout, throws IptablesError on a non-zero exit. */
  async run(args: string[]): Promise<string> {
    const r = await this.runRaw(args);
    if (r.code !== 0) throw this.error(r, [this.binary('iptables'), ...this.wait, ...args]);
    return r.stdout;
  }

  private runRaw(args: string[]): Promise<ExecResult> {
    return this.exec([this.binary('iptables'), ...this.wait, ...args]);
  }

  private error(r: ExecResult, argv: string[]): IptablesError {
    return new IptablesError(`${argv.join(' ')} exited ${r.code}: ${r.stderr.trim()}`, argv, r.code, r.stderr);
  }

  /** iptables-save [-t table]. */
  async save(table?: Table): Promise<string> {
    const argv = [this.binary('save'), ...(table ? ['-t', table] : [])];
    const r = await this.exec(argv);
    if (r.code !== 0) throw this.error(r, argv);
    return r.stdout;
  }

  /** iptables-restore (stdin). Throws IptablesRestoreError naming the failing input line. */
  async restore(input: string, opts: { noflush?: boolean; counters?: boolean } = {}): Promise<void> {
    const argv = [this.binary('restore'), ...this.wait,
      ...(opts.noflush ?? true ? ['--noflush'] : []), ...(opts.counters ?? true ? ['--counters'] : [])];
    const r = await this.exec(argv, input);
    if (r.code === 0) return;
    const line = restoreErrorLine(r.stderr);
    const lineText = line !== undefined ? input.split('\n')[line - 1] : undefined;
    const where = line !== undefined ? `\nfailing line ${line}: ${lineText ?? '(past the end)'}\n${extractLines(input, line)}` : '';
    throw new IptablesRestoreError(`${this.family === 'IPv6' ? 'ip6tables' : 'iptables'}-restore (${this.backend}) failed (exit ${r.code}): ${r.stderr.trim()}${where}`, argv, r.code, r.stderr, line, lineText);
  }

  /** ChainExists: "iptables -S CHAIN -t TABLE" succeeds. */
  async chainExists(table: Table, chain: string): Promise<boolean> {
    return (await this.chainStatus(table, chain)) === 'exists';
  }

  /** Like chainExists, but tells a busy lock (exit status 4, kube-proxy's isResourceError) from absence. */
  async chainStatus(table: Table, chain: string): Promise<'exists' | 'absent' | 'busy'> {
    const r = await this.runRaw(['-S', chain, '-t', table]);
    return r.code === 0 ? 'exists' : r.code === 4 ? 'busy' : 'absent';
  }

  /** EnsureChain: "-N"; exit status 1 means it already existed. Returns whether it existed. */
  async ensureChain(table: Table, chain: string): Promise<boolean> {
    const r = await this.runRaw(['-N', chain, '-t', table]);
    if (r.code === 0) return false;
    if (r.code === 1) return true;
    throw this.error(r, ['-N', chain, '-t', table]);
  }

  /** CheckRule: "-C"; exit status 1 means absent. */
  async checkRule(table: Table, chain: string, args: string[]): Promise<boolean> {
    const r = await this.runRaw(['-C', chain, '-t', table, ...args]);
    if (r.code === 0) return true;
    if (r.code === 1) return false;
    throw this.error(r, ['-C', chain, '-t', table, ...args]);
  }

  /** EnsureRule: checks, then inserts at the top (prepend) or appends. Returns whether it existed. */
  async ensureRule(position: 'prepend' | 'append', table: Table, chain: string, args: string[]): Promise<boolean> {
    if (await this.checkRule(table, chain, args)) return true;
    await this.run([position === 'prepend' ? '-I' : '-A', chain, '-t', table, ...args]);
    return false;
  }

  /** DeleteRule: absent is fine. */
  async deleteRule(table: Table, chain: string, args: string[]): Promise<void> {
    if (!(await this.checkRule(table, chain, args))) return;
    await this.run(['-D', chain, '-t', table, ...args]);
  }

  async deleteChain(table: Table, chain: string): Promise<void> {
    await this.run(['-X', chain, '-t', table]);
  }

  async version(): Promise<IptablesVersion> {
    if (this.versionCache) return this.versionCache;
    const r = await this.exec([this.binary('iptables'), '--version']);
    const m = /v(\d+)\.(\d+)\.(\d+)/.exec(r.stdout + r.stderr);
    if (r.code !== 0 || !m) throw this.error(r, [this.binary('iptables'), '--version']);
    this.versionCache = { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), text: (r.stdout || r.stderr).trim() };
    return this.versionCache;
  }

  /** kube-proxy's HasRandomFully: iptables 1.6.2 or later. */
  async hasRandomFully(): Promise<boolean> {
    const v = await this.version();
    return v.major > 1 || (v.major === 1 && (v.minor > 6 || (v.minor === 6 && v.patch >= 2)));
  }

  /** Whether this back end's programs run at all here. */
  async present(): Promise<boolean> {
    try {
      await this.version();
      return true;
    } catch {
      return false;
    }
  }
}

/** Names of the chains an iptables-save section declares (":NAME POLICY [p:b]"), per table. */
export function chainsByTable(save: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  let cur: Set<string> | undefined;
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) {
      cur = new Set();
      out.set(line.slice(1).trim(), cur);
    } else if (line.startsWith(':') && cur) {
      const name = line.slice(1).split(' ')[0];
      if (name) cur.add(name);
    }
  }
  return out;
}
