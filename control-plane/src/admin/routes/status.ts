// GET /v1/status (mode, sync loop, loader), /healthz and /livez (as the
// kube-proxy-compatible health server answers them).
import type { FastifyPluginAsync } from 'fastify';
import { healthResponse, healthStatus } from '../../health/health-server.js';
import { decodeEntries } from '../../dataplane/ebpf/map-codecs.js';
import { counterName } from '../../dataplane/ebpf/map-values.js';
import type { RouteOptions } from './common.js';

interface Query { history: number }

/** How long /v1/status waits for the loader before reporting it as not answering. */
const STATUS_LOADER_WAIT_MS = 3_000;

function withDeadline<T>(p: Promise<T>, ms = STATUS_LOADER_WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`loader: no answer within ${ms} ms`)), ms);
  });
  p.catch(() => undefined); // a late failure is not unhandled
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export const statusRoutes: FastifyPluginAsync<RouteOptions> = async (app, { source }) => {
  app.get<{ Querystring: Query }>('/v1/status', {
    schema: {
      summary: 'Mode, health, sync loop history and the loader\'s status',
      tags: ['status'],
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { history: { type: 'integer', minimum: 0, maximum: 500, default: 120, description: 'Sync records to return (latest last)' } },
      },
    },
  }, async (req) => {
    const s = source.sync;
    const h = healthStatus(s, source.healthTimeoutMs);
    let loader: Record<string, unknown> | null = null;
    // Datapath events (sy_counters) that happened at least once, by name.
    let datapathEvents: Array<{ event: string; count: number }> | null = null;
    if (source.loader) {
      // Both reads at once, each given STATUS_LOADER_WAIT_MS: a hung loader
      // must not hang the status (the loader's own request timeout is 30 s).
      const countersRead = withDeadline(source.loader.dump('sy_counters'));
      const statusRead = withDeadline(source.loader.status());
      try {
        const d = await countersRead;
        datapathEvents = decodeEntries('sy_counters', d.entries)
          .map((e) => ({ index: e.key, count: Number(e.value) }))
          .filter((e) => e.count > 0)
          .sort((a, b) => a.index - b.index)
          .map((e) => ({ event: counterName(e.index), count: e.count }));
      } catch {
        datapathEvents = null; // the loader's state says why (below)
      }
      try {
        const st = await statusRead;
        loader = {
          up: true, instance: st.instance, pinDir: st.pinDir, requests: st.requests, errors: st.errors,
          attachments: ((st.attachments ?? []) as Array<Record<string, unknown>>).map((a) => ({ ifname: a.ifname, ifindex: a.ifindex, hook: a.hook, mode: a.mode, progId: a.progId })),
        };
      } catch (err) {
        loader = { up: false, error: (err as Error).message };
      }
    }
    const snat = source.snat
      ? {
          portRange: `${source.snat.range.min}-${source.snat.range.max}`, source: source.snat.source,
          ipLocalPortRange: `${source.snat.localPortRange.min}-${source.snat.localPortRange.max}`,
        }
      : null;
    const history = req.query.history === 0 ? [] : s.history.slice(-req.query.history);
    return {
      node: source.nodeName, mode: source.mode, modeReason: source.modeReason,
      healthy: h.healthy, lastUpdated: h.lastUpdated ? new Date(h.lastUpdated).toISOString() : null,
      sync: {
        count: s.syncCount, lastSuccess: s.lastSuccess ? new Date(s.lastSuccess).toISOString() : null,
        lastError: s.lastError ?? null, pendingSince: s.oldestPendingChange ? new Date(s.oldestPendingChange).toISOString() : null,
        history,
      },
      refused: [...(s.refused ?? new Map())].map(([service, r]) => ({
        service, reason: r.reason, since: new Date(r.since).toISOString(), attempts: r.attempts, retryAt: new Date(r.retryAt).toISOString(),
      })),
      maps: source.datapath?.mapPressure() ?? [],
      drift: source.datapath ? { repaired: source.datapath.driftRepaired, byMap: Object.fromEntries(source.datapath.driftByMap) } : null,
      servicePorts: s.lastDesired.length,
      endpoints: s.lastDesired.reduce((n, d) => n + d.allEndpoints.length, 0),
      loader, snat,
      datapathEvents,
      // The datapath monitor (GET /v1/monitor); null: none in this mode.
      monitor: source.monitor ? { up: source.monitor.up, error: source.monitor.lastError ?? null } : null,
      // What was not programmed as written: bad fields, lost frontends.
      objects: source.objects?.() ?? null,
      ...(source.dependencies ? source.dependencies() : {}),
    };
  });

  const health = async (_req: unknown, reply: { code(n: number): { send(b: unknown): unknown } }): Promise<unknown> => {
    const r = healthResponse(source.sync, source.healthTimeoutMs);
    return reply.code(r.status).send(r.body);
  };
  const schema = { summary: 'kube-proxy-compatible health (200 healthy, 503 not)', tags: ['status'] };
  app.get('/healthz', { schema }, health);
  app.get('/livez', { schema }, health);
};
