// What every lab controller shares: store watches feed a de-duplicated work
// queue whose items are reconciled one at a time; stop() ends the watches and
// the queue, idle() resolves when nothing is pending.
import type { Logger } from '../apiserver/logger.js';
import type { WatchHandle } from '../apiserver/store.js';
import { childLogger, silentLogger } from '../apiserver/logger.js';
import { WorkQueue } from './workqueue.js';

export abstract class QueueController {
  protected readonly queue: WorkQueue;
  protected readonly handles: WatchHandle[] = [];
  protected readonly logger: Logger;

  constructor(controller: string, queueName: string, logger: Logger | undefined) {
    this.logger = childLogger(logger ?? silentLogger, { controller });
    this.queue = new WorkQueue(queueName, (k) => this.reconcile(k), this.logger);
  }

  /** Registers the store watches that enqueue keys. */
  abstract start(): this;

  /** Brings one key's objects to their desired state. */
  protected abstract reconcile(key: string): void | Promise<void>;

  stop(): void {
    for (const h of this.handles) h.stop();
    this.queue.stop();
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }
}
