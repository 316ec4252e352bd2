// Shared bits of the admin routes: the plugin options, schema fragments and
// pagination.
import type { ProxyMetrics } from '../../metrics/proxy-metrics.js';
import { HttpError } from '../errors.js';
import type { AdminSource } from '../source.js';

export interface RouteOptions {
  source: AdminSource;
  metrics?: ProxyMetrics | undefined;
}

export const limitSchema = {
  type: 'integer', minimum: 0, maximum: 1_000_000, default: 100,
  description: 'Entries to return (0 = all)',
} as const;

export const offsetSchema = { type: 'integer', minimum: 0, default: 0, description: 'Entries to skip' } as const;

export const ipv4Schema = (description: string) => ({ type: 'string', format: 'ipv4', description }) as const;

/** An IPv4 or IPv6 address (RFC 5952 or any RFC 4291 form, or in brackets); the route parses it (explain.ts parseQueryAddress). */
export const ipSchema = (description: string) => ({
  type: 'string', maxLength: 64, description: `${description}: IPv4 or IPv6 (e.g. fd00::1 or [fd00::1])`,
}) as const;

export function page<T>(items: T[], offset: number, limit: number): T[] {
  return items.slice(offset, limit === 0 ? undefined : offset + limit);
}

export function requireLoader(source: AdminSource): NonNullable<AdminSource['loader']> {
  if (!source.loader) throw new HttpError(503, 'no loader connection in this mode');
  return source.loader;
}

/** "field=value" filters, each naming a field of the entries (checked against `fields`). */
export function parseFilters(raw: string[] | undefined, fields: string[], what: string): Array<[string, string]> {
  return (raw ?? []).map((f) => {
    const i = f.indexOf('=');
    const field = f.slice(0, i), value = f.slice(i + 1);
    if (!fields.includes(field)) {
      throw new HttpError(400, `query parameter "filter": ${what} has no field ${JSON.stringify(field)} (fields: ${fields.join(', ')})`);
    }
    return [field, value];
  });
}

export const filterSchema = {
  type: 'array', items: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*=' },
  description: 'field=value; repeat to combine (an entry matches when every filter matches; list fields match when they contain the value)',
} as const;
