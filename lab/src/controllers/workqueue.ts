// A controller work queue: deduplicated keys, processed one at a time, with
// per-key exponential backoff on failure (like client-go's rate-limited
// workqueue). Reconcilers are idempotent: they read the current state from
// the store and converge; the queue only says what to look at.

import type { Logger } from '../apiserver/logger.js';

export interface WorkQueueOptions {
  baseBackoffMs?: number;
  maxBackoffMs?: number;
}

export class WorkQueue {
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, NodeJS.Timeout>();
  private running = false;
  private scheduled = false;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;

  constructor(
    readonly name: string,
    private readonly handler: (key: string) => void | Promise<void>,
    private readonly logger: Logger,
    opts: WorkQueueOptions = {},
  ) {
    this.baseBackoffMs = opts.baseBackoffMs ?? 50;
    this.maxBackoffMs = opts.maxBackoffMs ?? 10_000;
  }

  add(key: string): void {
    if (this.stopped) return;
    this.dirty.add(key);
    this.schedule();
  }

  /** Adds the key after `ms` (an earlier pending delayed add for the key is kept if sooner). */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (ms <= 0) return this.add(key);
    if (this.delayed.has(key)) return;
    const t = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    t.unref();
    this.delayed.set(key, t);
  }

  /** Resolves when nothing is queued or running (delayed adds don't count). */
  idle(): Promise<void> {
    if (!this.running && this.dirty.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  stop(): void {
    this.stopped = true;
    this.dirty.clear();
    for (const t of this.delayed.values()) clearTimeout(t);
    this.delayed.clear();
    this.wakeIdle();
  }

  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.pump();
    });
  }

  private wakeIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const r of w) r();
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (!this.stopped && this.dirty.size > 0) {
        const key = this.dirty.values().next().value as string;
        this.dirty.delete(key);
        try {
          await this.handler(key);
          this.failures.delete(key);
        } catch (e) {
          const n = (this.failures.get(key) ?? 0) + 1;
          this.failures.set(key, n);
          const delay = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** (n - 1));
          this.logger.warn({ err: e instanceof Error ? e.message : String(e), key, queue: this.name, retryInMs: delay }, 'reconcile failed; retrying');
          this.addAfter(key, delay);
        }
      }
    } finally {
      this.running = false;
      if (this.dirty.size > 0 && !this.stopped) this.schedule();
      else this.wakeIdle();
    }
  }
}
