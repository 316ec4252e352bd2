// kube-proxy-compatible health endpoints (/healthz, /livez) on :10256.
// kube-proxy's meaning: the proxy is syncing. It is healthy once it has
// synced and no change has waited for longer than the health timeout, so a
// lost loader turns it 503 after that timeout (its syncs keep failing and
// the changes wait), while a Service the datapath refuses (a full map) does
// not: the sync goes on for every other Service. The admin API answers the
// same two routes with healthResponse().
import Fastify, { type FastifyInstance } from 'fastify';
import type { Proxier } from '../sync/proxier.js';

export interface HealthOptions {
  host: string;
  port: number;
  /** A pending change older than this makes the proxy unhealthy, ms. */
  healthTimeoutMs: number;
}

/** What health reads of the sync loop. */
export type SyncHealth = Pick<Proxier, 'lastSuccess' | 'oldestPendingChange' | 'lastError'>;

export function healthStatus(p: SyncHealth, timeoutMs: number, now = Date.now()): { healthy: boolean; lastUpdated: number } {
  const synced = p.lastSuccess > 0;
  const stale = p.oldestPendingChange > 0 && now - p.oldestPendingChange > timeoutMs;
  return { healthy: synced && !stale, lastUpdated: p.lastSuccess };
}

/** Status code and kube-proxy's body for /healthz and /livez. */
export function healthResponse(p: SyncHealth, timeoutMs: number, now = Date.now()): { status: number; body: { lastUpdated: string; currentTime: string; nodeEligible: boolean } } {
  const { healthy, lastUpdated } = healthStatus(p, timeoutMs, now);
  return {
    status: healthy ? 200 : 503,
    body: { lastUpdated: new Date(lastUpdated || 0).toISOString(), currentTime: new Date(now).toISOString(), nodeEligible: true },
  };
}

export async function startHealthServer(p: SyncHealth, opts: HealthOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  const handler = async (_req: unknown, reply: { code(n: number): { send(b: unknown): unknown } }): Promise<unknown> => {
    const r = healthResponse(p, opts.healthTimeoutMs);
    return reply.code(r.status).send(r.body);
  };
  app.get('/healthz', handler);
  app.get('/livez', handler);
  await app.listen({ host: opts.host, port: opts.port });
  return app;
}
