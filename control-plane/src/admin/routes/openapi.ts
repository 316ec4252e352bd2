// GET /openapi.json: an OpenAPI 3 document built from the route schemas
// (collected with an onRoute hook, so it cannot drift from what is served).
import type { FastifyInstance, RouteOptions as FastifyRoute } from 'fastify';

interface Collected { method: string; url: string; schema: Record<string, any> }

const ERROR_SCHEMA = {
  type: 'object',
  properties: { statusCode: { type: 'integer' }, error: { type: 'string' }, message: { type: 'string' } },
};

/** Call before registering the routes to be documented. */
export function collectRoutes(app: FastifyInstance): Collected[] {
  const routes: Collected[] = [];
  app.addHook('onRoute', (r: FastifyRoute) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    for (const m of methods) {
      if (m === 'HEAD' || m === 'OPTIONS') continue;
      routes.push({ method: m.toLowerCase(), url: r.url, schema: (r.schema ?? {}) as Record<string, any> });
    }
  });
  return routes;
}

function parameters(schema: Record<string, any>): unknown[] {
  const out: unknown[] = [];
  for (const [where, key] of [['path', 'params'], ['query', 'querystring']] as const) {
    const s = schema[key];
    if (!s?.properties) continue;
    const required: string[] = s.required ?? [];
    for (const [name, p] of Object.entries<Record<string, any>>(s.properties)) {
      const { description, ...rest } = p;
      out.push({
        name, in: where, required: where === 'path' || required.includes(name),
        ...(description ? { description } : {}),
        ...(rest.type === 'array' ? { style: 'form', explode: true } : {}),
        schema: rest,
      });
    }
  }
  return out;
}

export function openapiDocument(routes: Collected[], info: { title: string; version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    if (r.url === '/openapi.json' || r.schema.hide) continue;
    const path = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const s = r.schema;
    const hasInput = s.querystring || s.params;
    (paths[path] ??= {})[r.method] = {
      ...(s.summary ? { summary: s.summary } : {}),
      ...(s.description ? { description: s.description } : {}),
      ...(s.tags ? { tags: s.tags } : {}),
      operationId: `${r.method}${path.replace(/[{}]/g, '').split('/').filter(Boolean).map((x) => x[0]!.toUpperCase() + x.slice(1).replace(/[^A-Za-z0-9]/g, '')).join('')}`,
      parameters: parameters(s),
      responses: {
        200: { description: 'OK', content: { [path === '/metrics' ? 'text/plain' : 'application/json']: { schema: { type: path === '/metrics' ? 'string' : 'object' } } } },
        ...(hasInput ? { 400: { description: 'Bad query: the message names the parameter', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } } } : {}),
        ...(path.includes('{') ? { 404: { description: 'Unknown map or chain', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } } } : {}),
        ...(path.startsWith('/v1/') ? { 503: { description: 'The loader (or iptables) could not be read', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } } } : {}),
      },
    };
  }
  return {
    openapi: '3.0.3',
    info: { ...info, description: 'Switchyard agent admin API: what the datapath holds, why a packet goes where it goes.' },
    paths,
    components: { schemas: { Error: ERROR_SCHEMA } },
  };
}
