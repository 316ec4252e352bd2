// The admin HTTP API (fastify): one plugin per route group, a JSON schema on
// every route so a bad query is a 400 naming the problem, JSON 404s, an
// OpenAPI document built from the schemas, the status page. Listens on
// 127.0.0.1:10252 by default and, optionally, on a unix socket (the lab's
// root-namespace CLI reaches agents in node namespaces through it).
import Fastify, { type FastifyInstance } from 'fastify';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { ProxyMetrics } from '../metrics/proxy-metrics.js';
import { metricsRoute } from '../metrics/metrics-server.js';
import { installErrorHandlers } from './errors.js';
import { ReadLimiter, type ReadLimits } from './read-limiter.js';
import { conntrackRoutes } from './routes/conntrack.js';
import { explainRoutes } from './routes/explain.js';
import { mapsRoutes } from './routes/maps.js';
import { monitorRoutes } from './routes/monitor.js';
import { collectRoutes, openapiDocument } from './routes/openapi.js';
import { servicesRoutes } from './routes/services.js';
import { statusRoutes } from './routes/status.js';
import { uiRoutes } from './routes/ui.js';
import type { AdminSource } from './source.js';
import './schema-doc.js';

export const DEFAULT_ADMIN_BIND = { host: '127.0.0.1', port: 10252 };

export interface AdminAppOptions {
  source: AdminSource;
  metrics?: ProxyMetrics | undefined;
  /** Directory of the status page (default: control-plane/src/admin/ui). */
  uiDir?: string | undefined;
  /** Admin reads of the maps at once and queued (default 2 and 8); beyond, 503. */
  readLimits?: ReadLimits | undefined;
}

/** Routes that read the maps through the loader: they run under the read limiter. */
const MAP_READ_ROUTES = ['/v1/services', '/v1/maps', '/v1/conntrack', '/v1/explain', '/v1/status'];

export async function buildAdminApp(opts: AdminAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: true } },
  });
  installErrorHandlers(app, (route, code) => opts.metrics?.adminRejected.inc({ route, code: String(code) }));
  const routes = collectRoutes(app);
  const limiter = new ReadLimiter(opts.readLimits);
  app.decorate('readLimiter', limiter);
  app.addHook('onRoute', (route) => {
    if (!MAP_READ_ROUTES.some((p) => route.url === p || route.url.startsWith(`${p}/`))) return;
    const handler = route.handler as (this: unknown, ...args: unknown[]) => unknown;
    route.handler = function limited(this: unknown, ...args: unknown[]) {
      return limiter.run(async () => handler.apply(this, args));
    } as typeof route.handler;
  });
  const ro = { source: opts.source, metrics: opts.metrics };
  await app.register(statusRoutes, ro);
  await app.register(servicesRoutes, ro);
  await app.register(mapsRoutes, ro);
  await app.register(conntrackRoutes, ro);
  await app.register(explainRoutes, ro);
  await app.register(monitorRoutes, ro);
  await app.register(uiRoutes, opts.uiDir ? { uiDir: opts.uiDir } : {});
  if (opts.metrics) {
    const m = opts.metrics;
    await app.register(async (child) => metricsRoute(child, m));
  }
  app.get('/openapi.json', { schema: { summary: 'This document' } }, async () =>
    openapiDocument(routes, { title: 'Switchyard admin API', version: 'v1' }));
  await app.ready();
  return app;
}

export interface AdminServerOptions extends AdminAppOptions {
  /** TCP address; undefined: no TCP listener. */
  bind?: { host: string; port: number } | undefined;
  /** Unix socket path (mode 0600); undefined: none. */
  socketPath?: string | undefined;
}

export interface AdminServer {
  app: FastifyInstance;
  /** The TCP address actually bound (port 0 picks one). */
  address: { host: string; port: number } | undefined;
  socketPath: string | undefined;
  close(): Promise<void>;
}

export async function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const app = await buildAdminApp(opts);
  let address: AdminServer['address'];
  let unix: http.Server | undefined;
  try {
    if (opts.bind) {
      await app.listen({ host: opts.bind.host, port: opts.bind.port });
      const a = app.server.address();
      address = typeof a === 'object' && a ? { host: a.address, port: a.port } : undefined;
    }
    if (opts.socketPath) {
      const sock = opts.socketPath;
      fs.mkdirSync(path.dirname(sock), { recursive: true });
      fs.rmSync(sock, { force: true });
      const server = http.createServer((req, res) => app.routing(req, res));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(sock, () => resolve());
      });
      unix = server;
      fs.chmodSync(sock, 0o600);
    }
  } catch (err) {
    await app.close();
    throw err;
  }
  return {
    app, address, socketPath: opts.socketPath,
    async close() {
      if (unix) {
        const closed = new Promise<void>((r) => unix!.close(() => r()));
        unix.closeAllConnections();
        await closed;
        if (opts.socketPath) fs.rmSync(opts.socketPath, { force: true });
      }
      await app.close();
    },
  };
}
