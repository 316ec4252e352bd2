// GET /v1/conntrack: decoded sy_conntrack entries joined with backends and frontends.
import type { FastifyPluginAsync } from 'fastify';
import { conntrackRows, filterConntrack, type ConntrackFilter } from '../conntrack-view.js';
import { monotonicNowNs } from '../decode.js';
import { readSnapshot } from '../ebpf-view.js';
import { HttpError } from '../errors.js';
import { ipv4Schema, limitSchema, offsetSchema, page, requireLoader, type RouteOptions } from './common.js';

interface Query extends ConntrackFilter { limit: number; offset: number; expired?: boolean }

export const conntrackRoutes: FastifyPluginAsync<RouteOptions> = async (app, { source }) => {
  app.get<{ Querystring: Query }>('/v1/conntrack', {
    schema: {
      summary: 'Tracked flows (sy_conntrack) with their Service, frontend and backend',
      description: 'Both entries of each flow (forward: client -> frontend; reply: backend -> client), with age, lifetime and flags. ebpf mode only.',
      tags: ['conntrack'],
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          service: { type: 'string', minLength: 1, description: 'ns/name, ns/name:port or a frontend addr:port' },
          client: ipv4Schema('Client address'),
          backend: { type: 'string', pattern: '^\\d{1,3}(\\.\\d{1,3}){3}(:\\d{1,5})?$', description: 'Backend addr or addr:port' },
          dir: { type: 'string', enum: ['forward', 'reply'] },
          expired: { type: 'boolean', description: 'Only expired (true) or live (false) entries' },
          limit: limitSchema, offset: offsetSchema,
        },
      },
    },
  }, async (req) => {
    if (source.mode !== 'ebpf') throw new HttpError(404, 'conntrack is the kernel\'s in iptables mode: use conntrack -L in the node');
    const { limit, offset, expired, ...filter } = req.query;
    const loader = requireLoader(source);
    const [snap, ct] = await Promise.all([readSnapshot(loader), loader.dump('sy_conntrack')]);
    const rows = filterConntrack(conntrackRows(ct.entries ?? [], snap, source.sync.lastDesired, monotonicNowNs()), filter)
      .filter((r) => expired === undefined || r.expired === expired);
    return {
      entries: ct.info?.entries ?? rows.length, maxEntries: ct.info?.maxEntries,
      truncated: (ct.entries ?? []).length < (ct.info?.entries ?? 0),
      total: rows.length, offset, limit, items: page(rows, offset, limit),
    };
  });
};
