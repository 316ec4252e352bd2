// kube-proxy's per-Service health check servers: every Service with
// externalTrafficPolicy=Local gets an HTTP server on its healthCheckNodePort
// that tells load balancers whether this node has local endpoints (200) or
// not (503), with the same JSON body and headers as kube-proxy.
import { serviceKey } from '../model/service-key.js';
import http from 'node:http';
import type { Logger } from 'pino';
import type { DesiredServicePort } from '../dataplane/desired-state.js';

export interface ServiceHealth {
  namespace: string;
  name: string;
  localEndpoints: number;
}

/** healthCheckNodePort -> what it reports, from one sync's desired state. */
export function healthChecksOf(desired: Iterable<DesiredServicePort>): Map<number, ServiceHealth> {
  const out = new Map<number, ServiceHealth>();
  for (const d of desired) {
    const s = d.svc;
    if (!s.externalPolicyLocal || s.healthCheckNodePort <= 0) continue;
    const cur = out.get(s.healthCheckNodePort);
    const n = Math.max(cur?.localEndpoints ?? 0, d.localReadyCount);
    out.set(s.healthCheckNodePort, { namespace: s.name.namespace, name: s.name.name, localEndpoints: n });
  }
  return out;
}

export function healthResponse(h: ServiceHealth, proxyHealthy: boolean): { status: number; body: string; headers: Record<string, string> } {
  const body = JSON.stringify({
    service: { namespace: h.namespace, name: h.name },
    localEndpoints: h.localEndpoints,
    serviceProxyHealthy: proxyHealthy,
  });
  return {
    status: h.localEndpoints > 0 && proxyHealthy ? 200 : 503,
    body,
    headers: {
      'Content-Type': 'application/json',
      'X-Content-Type-Options': 'nosniff',
      'X-Load-Balancing-Endpoint-Weight': String(h.localEndpoints),
    },
  };
}

export class ServiceHealthServers {
  private readonly servers = new Map<number, { server: http.Server; health: ServiceHealth }>();

  constructor(private readonly host: string, private readonly proxyHealthy: () => boolean, private readonly log: Logger) {}

  /** Opens servers for new ports, closes those no longer wanted, updates counts. */
  update(wanted: Map<number, ServiceHealth>): void {
    for (const [port, entry] of this.servers) {
      if (wanted.has(port)) continue;
      entry.server.close();
      this.servers.delete(port);
      this.log.info({ port }, 'closed service health check server');
    }
    for (const [port, health] of wanted) {
      const have = this.servers.get(port);
      if (have) {
        have.health = health;
        continue;
      }
      const entry = { server: http.createServer(), health };
      entry.server.on('request', (_req, res) => {
        const r = healthResponse(entry.health, this.proxyHealthy());
        res.writeHead(r.status, r.headers);
        res.end(r.body);
      });
      entry.server.on('error', (err) => {
        this.log.error({ port, err: err.message }, 'service health check server failed');
        this.servers.delete(port);
      });
      // The model range-checks the port; a listen() that still throws must not take the sync loop down.
      try {
        entry.server.listen(port, this.host);
      } catch (err) {
        this.log.error({ port, service: serviceKey(health.namespace, health.name), err: (err as Error).message }, 'service health check server cannot listen');
        continue;
      }
      this.servers.set(port, entry);
      this.log.info({ port, service: serviceKey(health.namespace, health.name) }, 'opened service health check server');
    }
  }

  ports(): number[] {
    return [...this.servers.keys()];
  }

  close(): void {
    for (const e of this.servers.values()) e.server.close();
    this.servers.clear();
  }
}
