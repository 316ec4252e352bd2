// Long-running helper processes of the lab daemon (loaders, agents): spawned
// with output to a log file, recorded in the state file in the same tick,
// stopped with SIGTERM then SIGKILL after a bounded grace.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { recordFor, type ProcessRole, type StateFile } from '../netns/state.js';

export interface ManagedProcessInfo {
  role: ProcessRole;
  name: string;
  pid: number | undefined;
  alive: boolean;
  exitCode: number | null;
  signal: string | null;
  log: string;
  argv: string[];
}

export class ManagedProcess {
  private readonly child: ChildProcess;
  private exitCode: number | null = null;
  private signal: string | null = null;
  private alive = true;
  private readonly exited: Promise<void>;

  constructor(
    readonly role: ProcessRole,
    readonly name: string,
    readonly argv: string[],
    readonly logFile: string,
    match: string,
    private readonly state: StateFile,
    onExit?: (p: ManagedProcess) => void,
  ) {
    const [file, ...args] = argv;
    if (!file) throw new Error('empty argv');
    const fd = fs.openSync(logFile, 'a');
    try {
      this.child = spawn(file, args, { stdio: ['ignore', fd, fd] });
    } finally {
      fs.closeSync(fd);
    }
    const pid = this.child.pid;
    if (pid !== undefined) state.addProcess(recordFor(pid, role, name, match));
    this.exited = new Promise<void>((resolve) => {
      const done = (code: number | null, signal: string | null): void => {
        if (!this.alive) return;
        this.alive = false;
        this.exitCode = code;
        this.signal = signal;
        if (pid !== undefined) state.removeProcess(pid);
        onExit?.(this);
        resolve();
      };
      this.child.once('exit', (code, sig) => done(code, sig));
      this.child.once('error', (err) => {
        fs.appendFileSync(logFile, `lab daemon: cannot start ${file}: ${err.message}\n`);
        done(127, null);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get isAlive(): boolean {
    return this.alive;
  }

  info(): ManagedProcessInfo {
    return {
      role: this.role,
      name: this.name,
      pid: this.child.pid,
      alive: this.alive,
      exitCode: this.exitCode,
      signal: this.signal,
      log: this.logFile,
      argv: this.argv,
    };
  }

  /** Resolves when the process has exited (or after timeoutMs). */
  async waitExit(timeoutMs: number): Promise<boolean> {
    if (!this.alive) return true;
    let t: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((r) => (t = setTimeout(() => r(true), timeoutMs))),
    ]);
    if (t) clearTimeout(t);
    return !timedOut;
  }

  /** SIGTERM, then SIGKILL after graceMs. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    if (await this.waitExit(graceMs)) return;
    this.child.kill('SIGKILL');
    await this.waitExit(2000);
  }
}
