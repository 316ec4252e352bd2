// GET /v1/conntrack: decoded sy_conntrack entries joined with backends and frontends.
import type { FastifyPluginAsync } from 'fastify';
import { conntrackFlow, conntrackRows, conntrackSnapshot, filterConntrack, type ConntrackFilter } from '../conntrack-view.js';
import { monotonicNowNs } from '../decode.js';
import { HttpError } from '../errors.js';
import { parseFlowAddresses, parseQueryAddress } from '../explain.js';
import { ipSchema, ipv4Schema, limitSchema, offsetSchema, page, requireLoader, type RouteOptions } from './common.js';

interface Query extends ConntrackFilter {
  limit: number; offset: number; expired?: boolean;
  saddr?: string; daddr?: string; sport?: number; dport?: number; proto?: 'tcp' | 'udp' | 'TCP' | 'UDP';
}

const FLOW_KEY = ['saddr', 'daddr', 'sport', 'dport'] as const;

export const conntrackRoutes: FastifyPluginAsync<RouteOptions> = async (app, { source }) => {
  app.get<{ Querystring: Query }>('/v1/conntrack', {
    schema: {
      summary: 'Tracked flows (sy_conntrack) with their Service, frontend and backend',
      description: 'Both entries of each flow (forward: client -> frontend; reply: backend -> client), with age, lifetime and flags. ebpf mode only. '
        + 'With saddr, sport, daddr and dport (and proto, dir): the entry of that key and its other direction, read with single-key '
        + 'lookups (no walk of the map); IPv6 addresses read sy_conntrack6. Without: the map is read page by page, and backends, frontends and Services are looked up '
        + 'for the entries found.',
      tags: ['conntrack'],
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          service: { type: 'string', minLength: 1, description: 'ns/name, ns/name:port or a frontend addr:port' },
          client: ipSchema('Client address'),
          backend: { type: 'string', pattern: '^\\d{1,3}(\\.\\d{1,3}){3}(:\\d{1,5})?$', description: 'Backend addr or addr:port' },
          dir: { type: 'string', enum: ['forward', 'reply'] },
          expired: { type: 'boolean', description: 'Only expired (true) or live (false) entries' },
          saddr: ipSchema('Flow key: source address of the entry'),
          daddr: ipSchema('Flow key: destination address of the entry'),
          sport: { type: 'integer', minimum: 0, maximum: 65535, description: 'Flow key: source port' },
          dport: { type: 'integer', minimum: 0, maximum: 65535, description: 'Flow key: destination port' },
          proto: { type: 'string', enum: ['tcp', 'udp', 'TCP', 'UDP'], default: 'tcp', description: 'Flow key: protocol' },
          limit: limitSchema, offset: offsetSchema,
        },
      },
    },
  }, async (req) => {
    if (source.mode !== 'ebpf') throw new HttpError(404, 'conntrack is the kernel\'s in iptables mode: use conntrack -L in the node');
    const { limit, offset, expired, saddr, daddr, sport, dport, proto, ...filter } = req.query;
    if (filter.client !== undefined) filter.client = parseQueryAddress('client', filter.client);
    const loader = requireLoader(source);
    const given = FLOW_KEY.filter((f) => req.query[f] !== undefined);
    if (given.length > 0) {
      if (given.length < FLOW_KEY.length) {
        throw new HttpError(400, `a flow key needs saddr, daddr, sport and dport (missing: ${FLOW_KEY.filter((f) => !given.includes(f)).join(', ')})`);
      }
      const { src, dst } = parseFlowAddresses(['saddr', saddr!], ['daddr', daddr!]);
      // An IPv6 key reads sy_conntrack6 and names IPv6 backends and frontends.
      const family = src.includes(':') ? 'IPv6' as const : 'IPv4' as const;
      const key = { saddr: src, daddr: dst, sport: sport!, dport: dport!, proto: proto?.toLowerCase() === 'udp' ? 17 : 6 };
      let entries = filter.dir !== 'reply' ? await conntrackFlow(loader, { ...key, dir: 0 }) : [];
      if (entries.length === 0 && filter.dir !== 'forward') entries = await conntrackFlow(loader, { ...key, dir: 1 });
      const snap = await conntrackSnapshot(loader, entries, family);
      const rows = conntrackRows(entries, snap, source.sync.lastDesired, monotonicNowNs(), family);
      return { entries: null, maxEntries: null, truncated: false, total: rows.length, offset: 0, limit, items: rows };
    }
    const ct = await loader.dump('sy_conntrack');
    const snap = await conntrackSnapshot(loader, ct.entries ?? []);
    const now = monotonicNowNs();
    const all = conntrackRows(ct.entries ?? [], snap, source.sync.lastDesired, now);
    // IPv6 flows (sy_conntrack6), when the loader has the map and it holds any.
    const ct6 = await loader.dump('sy_conntrack6').catch(() => undefined);
    const e6 = ct6?.entries ?? [];
    if (e6.length > 0) all.push(...conntrackRows(e6, await conntrackSnapshot(loader, e6, 'IPv6'), source.sync.lastDesired, now, 'IPv6'));
    const rows = filterConntrack(all, filter)
      .filter((r) => expired === undefined || r.expired === expired);
    return {
      entries: (ct.info?.entries ?? rows.length) + (ct6?.info?.entries ?? 0), maxEntries: ct.info?.maxEntries,
      truncated: (ct.entries ?? []).length < (ct.info?.entries ?? 0) || e6.length < (ct6?.info?.entries ?? 0),
      total: rows.length, offset, limit, items: page(rows, offset, limit),
    };
  });
};
