// Supervises one long-running process of a lab node (loader or agent) the way
// kubelet supervises a container: when it exits without being asked to, it is
// started again after a backoff (1 s doubling to 30 s, back to 1 s once a run
// lasted 60 s), and its restarts are counted. `shouldRestart` lets the owner
// leave a process down that finished its job (a loader that cleaned up and
// exited).
import type { Logger } from 'pino';
import type { ManagedProcess, ManagedProcessInfo } from './processes.js';

export interface SupervisedInfo extends ManagedProcessInfo {
  /** Times the process was started again after exiting on its own. */
  restarts: number;
  /** When the next restart is due (ISO time), while it waits in backoff. */
  nextRestartAt: string | null;
  /** Why it is not restarted, when it is down for good. */
  stoppedReason: string | null;
}

export const BACKOFF_MIN_MS = 1000;
export const BACKOFF_MAX_MS = 30_000;
/** A run at least this long resets the backoff. */
export const BACKOFF_RESET_MS = 60_000;

export class SupervisedProcess {
  private current: ManagedProcess;
  private startedAt = Date.now();
  private backoffMs = BACKOFF_MIN_MS;
  private timer: NodeJS.Timeout | undefined;
  private nextAt: number | undefined;
  private stopped = false;
  private stoppedReason: string | null = null;
  /** The next exit was asked for (an upgrade): restart at once, no backoff. */
  private restartAsked = false;
  restarts = 0;

  /**
   * `spawn(onExit)` starts the process and must hand `onExit` to it;
   * `shouldRestart(p)` returns a reason to leave it down, or undefined.
   */
  constructor(
    readonly role: 'loader' | 'agent',
    readonly name: string,
    private readonly spawn: (onExit: (p: ManagedProcess) => void) => ManagedProcess,
    private readonly log: Logger,
    private readonly shouldRestart: (p: ManagedProcess) => string | undefined = () => undefined,
    private readonly onRestarted: (p: ManagedProcess) => void = () => undefined,
  ) {
    this.current = spawn((p) => this.exited(p));
  }

  get process(): ManagedProcess {
    return this.current;
  }

  get isAlive(): boolean {
    return this.current.isAlive;
  }

  /** Exited and will not be restarted (stopped, or finished its job). */
  get downForGood(): boolean {
    return !this.current.isAlive && this.stoppedReason !== null;
  }

  get pid(): number | undefined {
    return this.current.pid;
  }

  private exited(p: ManagedProcess): void {
    if (this.stopped || p !== this.current) return;
    const i = p.info();
    const leaveDown = this.shouldRestart(p);
    if (leaveDown) {
      this.stoppedReason = leaveDown;
      this.log.info({ role: this.role, node: this.name, exitCode: i.exitCode, signal: i.signal }, `${this.role} exited: ${leaveDown}; not restarted`);
      return;
    }
    let wait: number;
    if (this.restartAsked) {
      // A restart the owner asked for (a rollout, as kubelet does one) is not
      // a crash: no backoff, and it does not add to the next crash's backoff.
      this.restartAsked = false;
      this.backoffMs = BACKOFF_MIN_MS;
      wait = 0;
      this.log.info({ role: this.role, node: this.name, exitCode: i.exitCode, signal: i.signal, restarts: this.restarts }, `${this.role} exited as asked; restarting`);
    } else {
      if (Date.now() - this.startedAt >= BACKOFF_RESET_MS) this.backoffMs = BACKOFF_MIN_MS;
      wait = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
      this.log.error({ role: this.role, node: this.name, exitCode: i.exitCode, signal: i.signal, log: i.log, restartInMs: wait, restarts: this.restarts },
        `${this.role} exited unexpectedly; restarting in ${wait} ms`);
    }
    this.nextAt = Date.now() + wait;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.nextAt = undefined;
      if (this.stopped) return;
      this.restarts++;
      this.startedAt = Date.now();
      try {
        this.current = this.spawn((q) => this.exited(q));
        this.log.info({ role: this.role, node: this.name, pid: this.current.pid, restarts: this.restarts }, `${this.role} restarted`);
        this.onRestarted(this.current);
      } catch (err) {
        this.log.error({ role: this.role, node: this.name, err: (err as Error).message }, `${this.role} could not be restarted`);
      }
    }, wait);
  }

  /**
   * Ends the running process with `signal` and starts it again at once (no
   * backoff): an upgrade. Returns the pid signalled, if one was running.
   */
  restartNow(signal: NodeJS.Signals = 'SIGTERM'): number | undefined {
    const pid = this.current.isAlive ? this.current.pid : undefined;
    if (pid === undefined || this.stopped) return undefined;
    this.restartAsked = true;
    process.kill(pid, signal);
    return pid;
  }

  info(): SupervisedInfo {
    return {
      ...this.current.info(),
      restarts: this.restarts,
      nextRestartAt: this.nextAt ? new Date(this.nextAt).toISOString() : null,
      stoppedReason: this.stoppedReason,
    };
  }

  /** Stops it for good (no restart): SIGTERM, then SIGKILL after graceMs. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopped = true;
    this.stoppedReason = 'stopped by the lab';
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.nextAt = undefined;
    await this.current.stop(graceMs);
  }

  waitExit(timeoutMs: number): Promise<boolean> {
    return this.current.waitExit(timeoutMs);
  }
}
