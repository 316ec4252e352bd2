// The daemon's view of the lab cluster (lab/src/cluster.ts): start it with a
// runtime per node and lab-only routes, listen on TCP and a unix socket, stop.
import type http from 'node:http';
import type { Logger } from 'pino';
import type { PodRuntime } from '../runtime/pod-runtime.js';

export interface LabClusterOptions {
  nodes: Array<{ name: string; internalIP: string; podCIDR: string; zone: string; labels?: Record<string, string> }>;
  runtimeFor(nodeName: string): PodRuntime;
  serviceCIDR?: string;
  lbPool?: string;
  logger?: Logger;
  extraRoutes?: (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => boolean;
}

export interface LabCluster {
  listen(addr: { host: string; port: number } | { path: string }): Promise<void>;
  stop(): Promise<void>;
}

interface ClusterModule {
  startLabCluster(opts: Record<string, unknown>): Promise<{
    apiServer: { listen(addr: unknown): Promise<unknown> | unknown; close?(): Promise<unknown> | unknown };
    stop(): Promise<unknown> | unknown;
  }>;
}

export async function startCluster(opts: LabClusterOptions): Promise<LabCluster> {
  // Imported by a computed specifier while lab/src/cluster.ts is being written.
  const spec = '../cluster.js';
  const mod = (await import(spec)) as ClusterModule;
  const c = await mod.startLabCluster(opts as unknown as Record<string, unknown>);
  return {
    async listen(addr) {
      await c.apiServer.listen(addr);
    },
    async stop() {
      await c.stop();
    },
  };
}
