// One full garbage collection once the first sync succeeded.
//
// The agent allocates most of what it will ever allocate in its first
// seconds (the lists, the first sync's desired state and requests), then
// idles. V8's memory reducer notices the idling some seconds later and runs
// up to three full collections to give that memory back, with incremental
// marking steps of up to 20 ms and final pauses of up to 37 ms on the main
// thread (--trace-gc, 1,000 Services x 2 endpoints): whichever EndpointSlice
// change arrives then waits them out. The agent starts with the reducer off
// (--no-memory-reducer, agent-node-flags.ts) and collects once, at a moment
// it chooses: right after its first successful sync, when the maps are
// written and nothing is waiting yet. gc() exists with --expose-gc only
// (the lab and the DaemonSet start the agent with it); without it this does
// nothing.
import type { Logger } from 'pino';
import { ms2 } from './ms.js';

const MiB = 1024 * 1024;

export class StartupCollection {
  private done = false;

  constructor(private readonly log: Logger) {}

  /** After a successful sync: the first call schedules the collection, later ones do nothing. */
  afterSync(): void {
    if (this.done) return;
    this.done = true;
    const gc = (globalThis as { gc?: () => void }).gc;
    if (typeof gc !== 'function') return;
    // After the sync's own listeners and log lines, not inside them.
    setImmediate(() => {
      const before = process.memoryUsage();
      const t = performance.now();
      gc();
      const ms = ms2(performance.now() - t);
      const after = process.memoryUsage();
      this.log.info({
        ms,
        heapUsedMiB: [Math.round(before.heapUsed / MiB), Math.round(after.heapUsed / MiB)],
        rssMiB: [Math.round(before.rss / MiB), Math.round(after.rss / MiB)],
      }, 'full garbage collection after the first sync');
    });
  }
}
