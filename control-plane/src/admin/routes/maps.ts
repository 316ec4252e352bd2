// GET /v1/maps and /v1/maps/:name: the pinned maps (ebpf) or the iptables
// chains (iptables mode), entries decoded into named fields.
import type { FastifyPluginAsync } from 'fastify';
import type { MapInfo } from '../../dataplane/ebpf/loader-client.js';
import { decodeEntry, matchesFilter, monotonicNowNs } from '../decode.js';
import { HttpError } from '../errors.js';
import { readRules } from '../iptables-view.js';
import { filterSchema, limitSchema, offsetSchema, page, parseFilters, requireLoader, type RouteOptions } from './common.js';

interface EntriesQuery { limit: number; offset: number; filter?: string[]; slots?: boolean; table?: string }

/** entries / max_entries; null for arrays, whose entries all exist from the start. */
export function mapPressure(m: Partial<MapInfo>): number | null {
  if (!m.maxEntries || (m.type ?? '').includes('array')) return null;
  return (m.entries ?? 0) / m.maxEntries;
}

function mapInfoView(m: Partial<MapInfo>): Record<string, unknown> {
  return {
    name: m.name, type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries,
    entries: m.entries, pressure: mapPressure(m), pinPath: m.pinPath, id: m.id,
  };
}

export const mapsRoutes: FastifyPluginAsync<RouteOptions> = async (app, { source }) => {
  app.get('/v1/maps', {
    schema: {
      summary: 'Every pinned map (ebpf) or iptables chain (iptables mode)',
      description: 'ebpf: name, type, key/value size, max entries, entries in use and pin path of each map, from the loader. '
        + 'iptables: each chain of each table with its rule count, from iptables-save.',
      tags: ['maps'],
      querystring: { type: 'object', additionalProperties: false, properties: {} },
    },
  }, async () => {
    if (source.mode === 'ebpf') {
      const st = await requireLoader(source).status();
      return {
        mode: source.mode, instance: st.instance, pinDir: st.pinDir,
        maps: ((st.maps ?? []) as MapInfo[]).map(mapInfoView).sort((a, b) => String(a.name).localeCompare(String(b.name))),
      };
    }
    const rules = await readRules(source.iptables ?? { lastRestoreInput: undefined });
    return {
      mode: source.mode, rulesSource: rules.source,
      tables: [...new Set(rules.chains.map((c) => c.table))].map((t) => ({
        table: t,
        chains: rules.chains.filter((c) => c.table === t).map((c) => ({ chain: c.chain, builtin: c.builtin, rules: c.rules.length })),
      })),
    };
  });

  app.get<{ Params: { name: string }; Querystring: EntriesQuery }>('/v1/maps/:name', {
    schema: {
      summary: 'Entries of one map (ebpf) or rules of one chain (iptables mode), decoded',
      description: 'ebpf: the map is read through the loader\'s dump and every entry decoded into the fields of docs/maps.md. '
        + 'iptables: the rules of the chain (in every table that has it, or the one named by table).',
      tags: ['maps'],
      params: {
        type: 'object', required: ['name'], additionalProperties: false,
        properties: { name: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'Map name (sy_services, ...) or iptables chain' } },
      },
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          limit: limitSchema, offset: offsetSchema, filter: filterSchema,
          slots: { type: 'boolean', default: false, description: 'sy_maglev: include each table\'s whole slot -> backend id array' },
          table: { type: 'string', enum: ['filter', 'nat', 'mangle', 'raw'], description: 'iptables mode: the table of the chain' },
        },
      },
    },
  }, async (req) => {
    const { name } = req.params;
    const { limit, offset, slots, table } = req.query;
    if (source.mode === 'ebpf') {
      if (table !== undefined) throw new HttpError(400, 'query parameter "table" applies to the iptables mode only');
      const loader = requireLoader(source);
      const st = await loader.status();
      const maps = (st.maps ?? []) as MapInfo[];
      const info = maps.find((m) => m.name === name);
      if (!info) throw new HttpError(404, `unknown map ${JSON.stringify(name)} (maps: ${maps.map((m) => m.name).sort().join(', ')})`);
      const fields = Object.keys(decodeEntry(name, new Uint8Array(info.keySize), new Uint8Array(Math.max(info.valueSize, 4)), { now: 0n }));
      const filters = parseFilters(req.query.filter, fields, `map ${name}`);
      const dump = await loader.dump(name);
      const now = monotonicNowNs();
      const all = (dump.entries ?? []).map((e) => decodeEntry(name, e.key, e.value, { now, table: slots }))
        .filter((e) => filters.every(([f, v]) => matchesFilter(e, f, v)));
      return {
        map: mapInfoView(dump.info ?? info), fields,
        truncated: (dump.entries ?? []).length < (dump.info?.entries ?? 0),
        total: all.length, offset, limit, items: page(all, offset, limit),
      };
    }
    if (slots) throw new HttpError(400, 'query parameter "slots" applies to the ebpf mode only');
    const rules = await readRules(source.iptables ?? { lastRestoreInput: undefined });
    const chains = rules.chains.filter((c) => c.chain === name && (!table || c.table === table));
    if (chains.length === 0) {
      const known = [...new Set(rules.chains.filter((c) => !table || c.table === table).map((c) => c.chain))].sort();
      throw new HttpError(404, `unknown chain ${JSON.stringify(name)}${table ? ` in table ${table}` : ''} (${known.length} chains, e.g. ${known.slice(0, 8).join(', ')})`);
    }
    const fields = ['table', 'chain', 'index', 'target', 'rule'];
    const filters = parseFilters(req.query.filter, fields, 'a rule');
    const all = chains.flatMap((c) => c.rules.map((rule, i) => ({
      table: c.table, chain: c.chain, index: i + 1, target: / -[jg] (\S+)/.exec(rule)?.[1] ?? '', rule,
    }))).filter((e) => filters.every(([f, v]) => matchesFilter(e, f, v)));
    return {
      chain: name, tables: chains.map((c) => c.table), rulesSource: rules.source, fields,
      total: all.length, offset, limit, items: page(all, offset, limit),
    };
  });
};
