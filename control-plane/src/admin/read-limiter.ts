// Admin reads of the maps run a few at a time: a busy dashboard (or a script
// in a loop) queues behind them, and beyond a bounded queue gets a 503 at
// once, instead of piling requests onto the loader. Map writes never wait
// for this queue: reads use their own loader connection (loader-client.ts),
// and the loader serves connections in turn.
import { HttpError } from './errors.js';

export interface ReadLimits {
  /** Reads running at once (default 2). */
  concurrency: number;
  /** Reads waiting for a turn (default 8); more are refused with 503. */
  queue: number;
}

export const DEFAULT_READ_LIMITS: ReadLimits = { concurrency: 2, queue: 8 };

export class ReadLimiter {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  /** Requests refused because the queue was full, since start. */
  rejected = 0;

  constructor(readonly limits: ReadLimits = DEFAULT_READ_LIMITS) {}

  get active(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.limits.concurrency) {
      if (this.waiting.length >= this.limits.queue) {
        this.rejected++;
        throw new HttpError(503, `too many admin reads of the maps at once (${this.running} running, ${this.waiting.length} queued, `
          + `limits ${this.limits.concurrency} and ${this.limits.queue}): retry later`);
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next(); // the slot passes on: running stays the same
      else this.running--;
    }
  }
}
