// kube-proxy's metrics endpoint: GET /metrics on 127.0.0.1:10249 (the
// address is --metrics-bind-address). The admin API serves the same registry
// at /metrics too, so the lab's admin socket reaches it.
import Fastify, { type FastifyInstance } from 'fastify';
import type { ProxyMetrics } from './proxy-metrics.js';

export const DEFAULT_METRICS_BIND = { host: '127.0.0.1', port: 10249 };

export function metricsRoute(app: FastifyInstance, metrics: ProxyMetrics): void {
  app.get('/metrics', {
    schema: { summary: 'Prometheus metrics (text exposition format)', tags: ['metrics'] },
  }, async (_req, reply) => {
    const body = await metrics.metrics();
    return reply.type(metrics.contentType).send(body);
  });
}

export async function startMetricsServer(metrics: ProxyMetrics, bind: { host: string; port: number }): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  metricsRoute(app, metrics);
  await app.listen({ host: bind.host, port: bind.port });
  return app;
}
