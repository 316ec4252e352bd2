// The daemon's view of the lab cluster (lab/src/cluster.ts): start it with a
// runtime per node and lab-only routes, listen on TCP and a unix socket, stop.
import { startLabCluster, type LabClusterOptions } from '../cluster.js';

export type { LabClusterOptions };

export interface LabCluster {
  listen(addr: { host: string; port: number } | { path: string }): Promise<void>;
  stop(): Promise<void>;
}

export async function startCluster(opts: LabClusterOptions): Promise<LabCluster> {
  const c = await startLabCluster(opts);
  return {
    async listen(addr) {
      await c.apiServer.listen(addr);
    },
    async stop() {
      await c.stop();
    },
  };
}
