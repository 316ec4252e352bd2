// kube-proxy-compatible health endpoints (/healthz, /livez) on :10256. The
// proxy is healthy when it has synced and no change has waited for longer
// than the health timeout (kube-proxy's rule), so a lost loader turns it 503.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Proxier } from '../sync/proxier.js';

export interface HealthOptions {
  host: string;
  port: number;
  /** A pending change older than this makes the proxy unhealthy, ms. */
  healthTimeoutMs: number;
}

export function healthStatus(p: Proxier, timeoutMs: number, now = Date.now()): { healthy: boolean; lastUpdated: number } {
  const synced = p.lastSuccess > 0;
  const stale = p.oldestPendingChange > 0 && now - p.oldestPendingChange > timeoutMs;
  return { healthy: synced && !stale && !p.lastError, lastUpdated: p.lastSuccess };
}

export async function startHealthServer(p: Proxier, opts: HealthOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  const handler = async (_req: unknown, reply: { code(n: number): { send(b: unknown): unknown } }): Promise<unknown> => {
    const { healthy, lastUpdated } = healthStatus(p, opts.healthTimeoutMs);
    return reply.code(healthy ? 200 : 503).send({
      lastUpdated: new Date(lastUpdated || 0).toISOString(),
      currentTime: new Date().toISOString(),
      nodeEligible: true,
    });
  };
  app.get('/healthz', handler);
  app.get('/livez', handler);
  await app.listen({ host: opts.host, port: opts.port });
  return app;
}
