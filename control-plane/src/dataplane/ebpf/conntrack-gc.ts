// The one schedule of sy_conntrack garbage collection: a periodic walk
// (expired and orphaned entries), and one shortly after a sync deleted
// backends. Both go through the same timer, so two walks never overlap and a
// burst of deletions costs one walk.
import type { Logger } from 'pino';

/** Period of the background walk (expired entries only go this way). */
export const CONNTRACK_GC_PERIOD_MS = 30_000;
/** Delay of the walk after backends were deleted (their flows' entries are orphaned). */
export const CONNTRACK_GC_SOON_MS = 200;

export class ConntrackGcSchedule {
  private timer: NodeJS.Timeout | undefined;
  private dueAt = Infinity;
  private periodic = false;
  private running = false;

  constructor(private readonly gc: () => Promise<number>, private readonly log: Logger, private readonly periodMs = CONNTRACK_GC_PERIOD_MS) {}

  /** Starts the periodic walk (the agent's back end, once the datapath is set up). */
  start(): void {
    this.periodic = true;
    this.arm(this.periodMs);
  }

  /** A walk soon (backends were deleted): off the sync path, and one for a burst. */
  soon(delayMs = CONNTRACK_GC_SOON_MS): void {
    this.arm(delayMs);
  }

  stop(): void {
    this.periodic = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.dueAt = Infinity;
  }

  /** Sets the timer to fire in `delayMs` unless it already fires sooner. */
  private arm(delayMs: number): void {
    const at = Date.now() + delayMs;
    if (this.timer && this.dueAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.dueAt = at;
    this.timer = setTimeout(() => void this.run(), delayMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    this.timer = undefined;
    this.dueAt = Infinity;
    if (this.running) {
      this.arm(CONNTRACK_GC_SOON_MS);
      return;
    }
    this.running = true;
    try {
      const n = await this.gc();
      if (n > 0) this.log.debug({ deleted: n }, 'conntrack gc');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'conntrack gc failed');
    } finally {
      this.running = false;
      if (this.periodic) this.arm(this.periodMs);
    }
  }
}
