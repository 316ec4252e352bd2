// The daemon's view of the lab cluster (lab/src/cluster.ts): start it with a
// runtime per node and lab-only routes, listen on TCP and a unix socket, stop;
// and the API server faults the lab can play (`lab apiserver stop|start|
// stall-watches`): the store, and so every object, is kept throughout.
import { startLabCluster, type LabClusterOptions } from '../cluster.js';

export type { LabClusterOptions };

export interface ApiServerState {
  /** False while `lab apiserver stop` holds the nodes' TCP listener closed. */
  serving: boolean;
  stoppedAt: string | null;
  /** Watches made silent by the last `stall-watches`. */
  stalledWatches: number;
  /** Open watches. */
  watches: number;
}

export interface LabCluster {
  listen(addr: { host: string; port: number } | { path: string }): Promise<void>;
  /** Closes the API server's TCP listener and its connections (the unix socket keeps serving the CLI). */
  stopApiServer(): Promise<void>;
  /** Listens again; with expireWatches, every watch resumed from an old resourceVersion gets 410 Gone. */
  startApiServer(opts: { expireWatches: boolean }): Promise<void>;
  /** Open watches stop delivering but stay connected; returns how many. */
  stallWatches(): number;
  apiServerState(): ApiServerState;
  stop(): Promise<void>;
}

export async function startCluster(opts: LabClusterOptions): Promise<LabCluster> {
  const c = await startLabCluster(opts);
  let stoppedAt: number | undefined;
  let stalled = 0;
  return {
    async listen(addr) {
      await c.apiServer.listen(addr);
    },
    async stopApiServer() {
      if (stoppedAt !== undefined) return;
      stoppedAt = Date.now();
      await c.apiServer.stopTcp();
    },
    async startApiServer({ expireWatches }) {
      if (expireWatches) c.store.compactHistory();
      if (stoppedAt === undefined) return;
      await c.apiServer.startTcp();
      stoppedAt = undefined;
    },
    stallWatches() {
      stalled = c.apiServer.stallWatches();
      return stalled;
    },
    apiServerState() {
      return {
        serving: stoppedAt === undefined,
        stoppedAt: stoppedAt === undefined ? null : new Date(stoppedAt).toISOString(),
        stalledWatches: stalled,
        watches: c.apiServer.stats().watchesActive,
      };
    },
    async stop() {
      await c.stop();
    },
  };
}
