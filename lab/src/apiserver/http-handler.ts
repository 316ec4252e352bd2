// The REST front of the store: kube-apiserver's URL layout, verbs, status
// codes and Status errors, over plain node:http.
//
//   /api, /api/v1, /apis, /apis/{group}, /apis/{group}/{version}, /version,
//   /healthz, /livez, /readyz
//   {prefix}/{resource}                               list/watch all namespaces; create/deletecollection for cluster-scoped
//   {prefix}/namespaces/{ns}/{resource}               list/watch, create, deletecollection
//   {prefix}/[namespaces/{ns}/]{resource}/{name}      get, update, patch, delete
//   .../{name}/status                                 get, update, patch
//   .../{name}/scale                                  get, update, patch (autoscaling/v1 Scale)
//   /api/v1/namespaces/{ns}/pods/{name}/binding       create (Binding)
//   {prefix}/watch/...                                legacy watch paths
//   /openapi/v2, /openapi/v3, /openapi/v3/{api/v1|apis/G/V}  OpenAPI documents (openapi.ts)
//   /lab/v1/...                                       lab-only routes (lab-routes.ts, then extraRoutes)
// GETs answer meta.k8s.io Tables when the Accept header asks (tables.ts);
// create/update/patch bodies are decoded strictly (field-validation.ts).

import type http from 'node:http';
import { parse as parseYaml } from 'yaml';
import {
  ApiError,
  badRequest,
  internalError,
  methodNotAllowed,
  pathNotFound,
  successStatus,
  unsupportedMediaType,
} from './errors.js';
import { fieldValidationParam, validateFields, warningHeaders } from './field-validation.js';
import type { Logger } from './logger.js';
import { openApiDocs } from './openapi.js';
import { patchTypeFromContentType } from './patch.js';
import {
  RESOURCES,
  SERVER_VERSION,
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersions,
  groupVersions,
  lookupResource,
  type ResourceInfo,
  type ResourceName,
} from './resources.js';
import type { DeleteOptions, Store } from './store.js';
import { isObject } from './validation.js';
import { listBody, listItem } from './list-bytes.js';
import type { ListPages } from './list-pages.js';
import type { KubeObject } from './types.js';
import { includeObjectParam, tableVersion, toTable } from './tables.js';
import { serveWatch, type WatchRegistry, type WatchServeOptions } from './watch.js';

export type ExtraRoutes = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => boolean;

export interface HandlerStats {
  requests: number;
  /** Responses by HTTP status code. */
  byCode: Record<string, number>;
  /** 400 answers (malformed JSON, bad selectors, wrong kind for the path...). */
  badRequests: number;
  /** 422 answers (invalid objects). */
  invalid: number;
  /** 5xx answers. */
  serverErrors: number;
}

export interface HandlerContext {
  store: Store;
  logger: Logger;
  watches: WatchRegistry;
  watchOptions: WatchServeOptions;
  maxBodyBytes: number;
  stats: HandlerStats;
  labRoutes: ExtraRoutes;
  extraRoutes?: ExtraRoutes;
  /** Snapshots of paged lists (limit/continue). */
  pages: ListPages<KubeObject>;
}

type Subresource = 'status' | 'scale' | 'binding';

interface Target {
  info: ResourceInfo;
  namespace?: string;
  name?: string;
  subresource?: Subresource;
  watchPath: boolean;
}

export function countResponse(stats: HandlerStats, code: number): void {
  stats.byCode[String(code)] = (stats.byCode[String(code)] ?? 0) + 1;
  if (code === 400) stats.badRequests++;
  if (code === 422) stats.invalid++;
  if (code >= 500) stats.serverErrors++;
}

export function sendJSON(res: http.ServerResponse, code: number, body: unknown, stats?: HandlerStats, warnings: string[] = []): void {
  sendJSONBytes(res, code, Buffer.from(JSON.stringify(body)), stats, warnings);
}

/** Sends JSON that is already serialized. */
export function sendJSONBytes(res: http.ServerResponse, code: number, bytes: Buffer, stats?: HandlerStats, warnings: string[] = []): void {
  if (stats) countResponse(stats, code);
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Content-Length': bytes.length,
    'Cache-Control': 'no-cache, private',
    ...(warnings.length ? { Warning: warningHeaders(warnings) } : {}),
  });
  res.end(bytes);
}

export function sendError(res: http.ServerResponse, err: ApiError, stats?: HandlerStats): void {
  if (res.headersSent) {
    if (stats) countResponse(stats, err.code);
    res.destroy();
    return;
  }
  sendJSON(res, err.code, err.toStatus(), stats);
}

/** Reads a request body up to `max` bytes (413 beyond). */
export function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > max) {
        failed = true;
        reject(new ApiError(413, 'RequestEntityTooLarge', `the request body is larger than the limit of ${max} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (e) => {
      if (!failed) reject(badRequest(`error reading the request body: ${e.message}`));
    });
  });
}

/** Parses a JSON (or YAML) body; 400 on malformed input, 415 on other media types. */
export function parseBody(buf: Buffer, contentType: string | undefined, allowEmpty = false): unknown {
  const ct = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const text = buf.toString('utf8');
  if (text.trim() === '') {
    if (allowEmpty) return undefined;
    throw badRequest('the request body is empty');
  }
  if (ct === 'application/yaml' || ct === 'application/x-yaml' || ct === 'text/yaml') {
    try {
      return parseYaml(text) as unknown;
    } catch (e) {
      throw badRequest(`error decoding YAML: ${(e as Error).message}`);
    }
  }
  if (ct !== '' && ct !== 'application/json' && ct !== '*/*' && !ct.endsWith('+json')) {
    throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got ${JSON.stringify(ct)})`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw badRequest(`couldn't get version/kind; json parse error: ${(e as Error).message}`);
  }
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw badRequest(`malformed path segment ${JSON.stringify(s)}`);
  }
}

/** Resolves a resource path (after /api/v1 or /apis/g/v) to a target; undefined → 404. */
function resolveTarget(group: string, version: string, segs: string[]): Target | undefined {
  let watchPath = false;
  if (segs[0] === 'watch') {
    watchPath = true;
    segs = segs.slice(1);
  }
  let namespace: string | undefined;
  let rest: string[];
  let info: ResourceInfo | undefined;
  if (segs[0] === 'namespaces' && segs.length >= 3 && lookupResource(group, version, segs[2] as string)?.namespaced) {
    namespace = segs[1] as string;
    info = lookupResource(group, version, segs[2] as string);
    rest = segs.slice(3);
  } else {
    info = lookupResource(group, version, segs[0] ?? '');
    rest = segs.slice(1);
    // "namespaces/{name}/status|finalize" and friends fall through here.
  }
  if (!info) return undefined;
  if (rest.length > 2) return undefined;
  const name = rest[0];
  const sub = rest[1];
  if (sub !== undefined && sub !== 'status' && sub !== 'scale' && sub !== 'binding' && sub !== 'finalize') return undefined;
  if (sub === 'scale' && !info.hasScale) return undefined;
  if (sub === 'status' && !info.hasStatus) return undefined;
  if (sub === 'binding' && info.name !== 'pods') return undefined;
  if (name === '') return undefined;
  const t: Target = { info, watchPath };
  if (namespace !== undefined) t.namespace = namespace;
  if (name !== undefined) t.name = name;
  if (sub === 'finalize') t.subresource = 'status';
  else if (sub !== undefined) t.subresource = sub;
  return t;
}

function boolParam(q: URLSearchParams, k: string): boolean {
  const v = q.get(k);
  return v === 'true' || v === '1';
}

function intParam(q: URLSearchParams, k: string): number | undefined {
  const v = q.get(k);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`invalid ${k}: ${JSON.stringify(v)} is not an integer`);
  return Number(v);
}

export function createRequestHandler(ctx: HandlerContext): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    ctx.stats.requests++;
    handle(ctx, req, res).catch((e: unknown) => {
      const err = e instanceof ApiError ? e : internalError(e instanceof Error ? e.message : String(e));
      if (!(e instanceof ApiError)) ctx.logger.error({ err: e, method: req.method, url: req.url }, 'API request failed');
      sendError(res, err, ctx.stats);
    });
  };
}

async function handle(ctx: HandlerContext, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://lab.invalid');
  } catch {
    throw badRequest('malformed request URL');
  }
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const method = req.method ?? 'GET';

  if (path.startsWith('/lab/')) {
    if (ctx.labRoutes(req, res, url)) return;
    if (ctx.extraRoutes?.(req, res, url)) return;
    throw pathNotFound();
  }
  if (ctx.extraRoutes?.(req, res, url)) return;

  const segs = path.split('/').filter((s) => s !== '').map(decodeSegment);
  const get = method === 'GET' || method === 'HEAD';

  if (path === '/openapi/v2' || path === '/openapi/v3' || path.startsWith('/openapi/v3/')) {
    if (!get) throw methodNotAllowed();
    return serveOpenApi(ctx, path, req, res);
  }

  switch (path) {
    case '/healthz':
    case '/livez':
    case '/readyz':
      if (!get) throw methodNotAllowed();
      countResponse(ctx.stats, 200);
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('ok');
      return;
    case '/version':
      if (!get) throw methodNotAllowed();
      return sendJSON(res, 200, SERVER_VERSION, ctx.stats);
    case '/api':
      if (!get) throw methodNotAllowed();
      return sendJSON(res, 200, apiVersions(`${req.socket.localAddress ?? '127.0.0.1'}:${req.socket.localPort ?? 0}`), ctx.stats);
    case '/apis':
      if (!get) throw methodNotAllowed();
      return sendJSON(res, 200, apiGroupList(), ctx.stats);
    default:
      break;
  }

  let group: string;
  let version: string;
  let rest: string[];
  if (segs[0] === 'api' && segs[1] === 'v1') {
    group = '';
    version = 'v1';
    rest = segs.slice(2);
  } else if (segs[0] === 'apis' && segs.length >= 2) {
    group = segs[1] as string;
    if (segs.length === 2) {
      if (!groupVersions().some((gv) => gv.group === group)) throw pathNotFound();
      if (!get) throw methodNotAllowed();
      return sendJSON(res, 200, apiGroup(group), ctx.stats);
    }
    version = segs[2] as string;
    rest = segs.slice(3);
  } else {
    throw pathNotFound();
  }
  if (rest.length === 0) {
    const doc = apiResourceList(group, version);
    if (!doc) throw pathNotFound();
    if (!get) throw methodNotAllowed();
    return sendJSON(res, 200, doc, ctx.stats);
  }
  const target = resolveTarget(group, version, rest);
  if (!target) throw pathNotFound();
  await serveResource(ctx, target, method, url.searchParams, req, res);
}

async function serveResource(
  ctx: HandlerContext,
  t: Target,
  method: string,
  q: URLSearchParams,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const { store } = ctx;
  const info = t.info;
  const res_ = info.name as ResourceName;
  if (q.get('dryRun')) throw badRequest('dryRun is not supported by the lab API server');
  const nsOpt = t.namespace !== undefined ? { namespace: t.namespace } : {};

  // ------------------------------------------------------------ collection
  if (t.name === undefined) {
    const isWatch = t.watchPath || boolParam(q, 'watch');
    if (method === 'GET' && isWatch) {
      const timeoutSeconds = intParam(q, 'timeoutSeconds');
      serveWatch(
        store,
        res_,
        {
          ...nsOpt,
          ...(q.get('labelSelector') ? { labelSelector: q.get('labelSelector') as string } : {}),
          ...(q.get('fieldSelector') ? { fieldSelector: q.get('fieldSelector') as string } : {}),
          ...(q.get('resourceVersion') !== null ? { resourceVersion: q.get('resourceVersion') as string } : {}),
          allowWatchBookmarks: boolParam(q, 'allowWatchBookmarks'),
          sendInitialEvents: boolParam(q, 'sendInitialEvents'),
          ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
          ...tableRender(res_, req, q),
        },
        req,
        res,
        ctx.watches,
        ctx.watchOptions,
      );
      return;
    }
    if (t.watchPath) throw methodNotAllowed();
    if (method === 'GET' || method === 'HEAD') {
      intParam(q, 'timeoutSeconds');
      const limit = intParam(q, 'limit');
      if (limit !== undefined && limit < 0) throw badRequest('limit must be non-negative');
      const rv = q.get('resourceVersion');
      if (rv && !/^\d+$/.test(rv)) throw badRequest(`invalid resource version ${JSON.stringify(rv)}`);
      // The stored (frozen) objects, not copies (a copy of 10,000
      // EndpointSlices took seconds; kube-apiserver serves lists from its
      // watch cache without one either). With limit, in pages of one
      // snapshot (list-pages.ts).
      const scope = `${res_}/${t.namespace ?? ''}`;
      const token = q.get('continue');
      const page = token
        ? ctx.pages.next(scope, token, limit)
        : ctx.pages.first(scope, store.peekList(res_, {
          ...nsOpt,
          labelSelector: q.get('labelSelector') ?? '',
          fieldSelector: q.get('fieldSelector') ?? '',
        }), store.currentResourceVersion(), limit);
      const meta = { resourceVersion: page.resourceVersion, ...(page.continue ? { continue: page.continue, remainingItemCount: page.remainingItemCount } : {}) };
      const table = asTable(res_, page.items as KubeObject[], req, q, meta);
      if (table) return sendJSON(res, 200, table, ctx.stats);
      // Each item's bytes are kept with the stored object (list-bytes.ts).
      return sendJSONBytes(res, 200, listBody({ kind: info.listKind, apiVersion: info.apiVersion, metadata: meta }, page.items), ctx.stats);
    }
    if (method === 'POST') {
      if (info.namespaced && t.namespace === undefined) throw methodNotAllowed(`POST is not supported on ${info.name} across all namespaces; use /namespaces/{namespace}/${info.name}`);
      const body = parseBody(await readBody(req, ctx.maxBodyBytes), req.headers['content-type']);
      const warnings = validateFields(info, body, fieldValidationParam(q));
      const created = store.create(res_, body, nsOpt);
      return sendJSON(res, 201, created, ctx.stats, warnings);
    }
    if (method === 'DELETE') {
      if (info.namespaced && t.namespace === undefined) throw methodNotAllowed();
      const opts = await deleteOptions(ctx, req, q);
      const victims = store.list(res_, { ...nsOpt, labelSelector: q.get('labelSelector') ?? '', fieldSelector: q.get('fieldSelector') ?? '' });
      const out: unknown[] = [];
      for (const v of victims.items) {
        try {
          out.push(listItem(store.delete(res_, v.metadata.name as string, { ...opts, ...(v.metadata.namespace ? { namespace: v.metadata.namespace } : {}) }).object as unknown as Record<string, unknown>));
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 404)) throw e;
        }
      }
      return sendJSON(res, 200, { kind: info.listKind, apiVersion: info.apiVersion, metadata: { resourceVersion: store.currentResourceVersion() }, items: out }, ctx.stats);
    }
    throw methodNotAllowed();
  }

  // ------------------------------------------------------------ one object
  const name = t.name;
  if (info.namespaced && t.namespace === undefined) throw pathNotFound();
  if (t.watchPath) {
    if (method !== 'GET') throw methodNotAllowed();
    // /watch/.../{name}: a watch restricted to one object.
    const timeoutSeconds = intParam(q, 'timeoutSeconds');
    const fs = [`metadata.name=${name.replace(/[\\,=]/g, (c) => `\\${c}`)}`, q.get('fieldSelector')].filter((s) => s).join(',');
    serveWatch(
      store,
      res_,
      {
        ...nsOpt,
        fieldSelector: fs,
        ...(q.get('labelSelector') ? { labelSelector: q.get('labelSelector') as string } : {}),
        ...(q.get('resourceVersion') !== null ? { resourceVersion: q.get('resourceVersion') as string } : {}),
        allowWatchBookmarks: boolParam(q, 'allowWatchBookmarks'),
        sendInitialEvents: boolParam(q, 'sendInitialEvents'),
        ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
        ...tableRender(res_, req, q),
      },
      req,
      res,
      ctx.watches,
      ctx.watchOptions,
    );
    return;
  }

  const checkBodyName = (body: unknown): void => {
    if (!isObject(body)) throw badRequest(`the body of the request must be a ${t.subresource === 'scale' ? 'Scale' : info.kind} object`);
    const md = body.metadata;
    if (md !== undefined && !isObject(md)) throw badRequest('metadata must be an object');
    const bn = isObject(md) ? md.name : undefined;
    if (bn !== undefined && bn !== name) throw badRequest(`the name of the object (${String(bn)}) does not match the name on the URL (${name})`);
    const bns = isObject(md) ? md.namespace : undefined;
    if (info.namespaced && bns !== undefined && bns !== '' && bns !== t.namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
  };

  if (t.subresource === 'binding') {
    if (method !== 'POST') throw methodNotAllowed();
    const body = parseBody(await readBody(req, ctx.maxBodyBytes), req.headers['content-type']);
    if (!isObject(body) || (body.kind !== undefined && body.kind !== 'Binding')) throw badRequest('a Binding object is required');
    const target = isObject(body.target) ? body.target : undefined;
    if (!target || typeof target.name !== 'string') throw badRequest('Binding.target.name is required');
    store.bind(name, t.namespace as string, target.name);
    return sendJSON(res, 201, { ...successStatus(), code: 201 }, ctx.stats);
  }

  if (t.subresource === 'scale') {
    const sres = res_ as 'deployments' | 'replicasets' | 'replicationcontrollers';
    if (method === 'GET') return sendJSON(res, 200, store.getScale(sres, name, t.namespace), ctx.stats);
    if (method === 'PUT') {
      const body = parseBody(await readBody(req, ctx.maxBodyBytes), req.headers['content-type']);
      checkBodyName(body);
      if (isObject(body) && body.kind !== undefined && body.kind !== 'Scale') throw badRequest(`the kind of the object (${String(body.kind)}) does not match the expected kind (Scale)`);
      return sendJSON(res, 200, store.updateScale(sres, name, body, t.namespace), ctx.stats);
    }
    if (method === 'PATCH') {
      const type = patchTypeFromContentType(req.headers['content-type']);
      if (!type) throw unsupportedMediaType(req.headers['content-type'] ?? '');
      const body = parseBody(await readBody(req, ctx.maxBodyBytes), 'application/json');
      return sendJSON(res, 200, store.patchScale(sres, name, body, type, t.namespace), ctx.stats);
    }
    throw methodNotAllowed();
  }

  const sub = t.subresource === 'status' ? ({ subresource: 'status' } as const) : {};
  switch (method) {
    case 'GET':
    case 'HEAD': {
      const o = store.get(res_, name, t.namespace);
      if (!o) throw new ApiError(404, 'NotFound', `${info.group ? `${info.name}.${info.group}` : info.name} "${name}" not found`, { name, group: info.group, kind: info.name });
      return sendJSON(res, 200, asTable(res_, [o], req, q, { resourceVersion: o.metadata.resourceVersion as string }) ?? o, ctx.stats);
    }
    case 'PUT': {
      const body = parseBody(await readBody(req, ctx.maxBodyBytes), req.headers['content-type']);
      checkBodyName(body);
      const warnings = validateFields(info, body, fieldValidationParam(q));
      const withName = { ...(body as Record<string, unknown>), metadata: { ...((body as { metadata?: object }).metadata ?? {}), name } };
      return sendJSON(res, 200, store.update(res_, withName, { ...nsOpt, ...sub }), ctx.stats, warnings);
    }
    case 'PATCH': {
      const type = patchTypeFromContentType(req.headers['content-type']);
      if (!type) {
        if ((req.headers['content-type'] ?? '').includes('apply-patch')) {
          throw new ApiError(415, 'UnsupportedMediaType', 'server-side apply is not supported by the lab API server');
        }
        throw unsupportedMediaType(req.headers['content-type'] ?? '');
      }
      const body = parseBody(await readBody(req, ctx.maxBodyBytes), 'application/json');
      // A merge or strategic patch has the object's shape; a JSON patch is a list of operations.
      const warnings = type === 'json' ? [] : validateFields(info, body, fieldValidationParam(q), true);
      return sendJSON(res, 200, store.patch(res_, name, body, { ...nsOpt, type, ...sub }), ctx.stats, warnings);
    }
    case 'DELETE': {
      if (t.subresource) throw methodNotAllowed();
      const opts = await deleteOptions(ctx, req, q);
      const r = store.delete(res_, name, { ...opts, ...nsOpt });
      if (res_ === 'pods' || res_ === 'services' || res_ === 'namespaces' || !r.deleted) return sendJSON(res, 200, r.object, ctx.stats);
      return sendJSON(
        res,
        200,
        successStatus({ name, group: info.group, kind: info.name, uid: r.object.metadata.uid as string }),
        ctx.stats,
      );
    }
    default:
      throw methodNotAllowed();
  }
}

/** Watch events rendered as one-row Tables when the client asked for Tables. */
function tableRender(res: ResourceName, req: http.IncomingMessage, q: URLSearchParams): { render?: (o: unknown) => unknown } {
  const version = tableVersion(req.headers.accept);
  if (!version) return {};
  const includeObject = includeObjectParam(q);
  return { render: (o) => toTable(res, [o as Record<string, unknown>], { version, includeObject, columns: true }) ?? o };
}

/** The Table the Accept header asks for, or undefined (plain objects). */
function asTable(res: ResourceName, items: unknown[], req: http.IncomingMessage, q: URLSearchParams, meta: { resourceVersion: string; continue?: string; remainingItemCount?: number }): unknown {
  const version = tableVersion(req.headers.accept);
  if (!version) return undefined;
  return toTable(res, items as Array<Record<string, unknown>>, { version, includeObject: includeObjectParam(q), resourceVersion: meta.resourceVersion, ...(meta.continue ? { continue: meta.continue } : {}) });
}

function serveOpenApi(ctx: HandlerContext, path: string, req: http.IncomingMessage, res: http.ServerResponse): void {
  const docs = openApiDocs();
  if (path === '/openapi/v2') {
    // client-go asks for the protobuf form first; only JSON is served.
    const accept = req.headers.accept ?? '';
    if (accept !== '' && !/application\/json|\*\/\*/.test(accept)) {
      throw new ApiError(406, 'NotAcceptable', `only the following media types are accepted: application/json`);
    }
    return sendJSON(res, 200, docs.v2, ctx.stats);
  }
  if (path === '/openapi/v3') return sendJSON(res, 200, docs.v3Root, ctx.stats);
  const gv = docs.v3.get(path.slice('/openapi/v3/'.length));
  if (!gv) throw pathNotFound();
  return sendJSON(res, 200, gv.doc, ctx.stats);
}

async function deleteOptions(ctx: HandlerContext, req: http.IncomingMessage, q: URLSearchParams): Promise<DeleteOptions> {
  const body = parseBody(await readBody(req, ctx.maxBodyBytes), req.headers['content-type'], true);
  const opts: DeleteOptions = {};
  if (body !== undefined) {
    if (!isObject(body)) throw badRequest('DeleteOptions must be a JSON object');
    if (body.gracePeriodSeconds !== undefined && body.gracePeriodSeconds !== null) {
      if (!Number.isInteger(body.gracePeriodSeconds)) throw badRequest('gracePeriodSeconds must be an integer');
      opts.gracePeriodSeconds = body.gracePeriodSeconds as number;
    }
    if (body.propagationPolicy !== undefined && body.propagationPolicy !== null) {
      opts.propagationPolicy = body.propagationPolicy as DeleteOptions['propagationPolicy'];
    }
    if (body.orphanDependents === true) opts.propagationPolicy = 'Orphan';
    if (isObject(body.preconditions)) {
      const p = body.preconditions;
      opts.preconditions = {
        ...(typeof p.uid === 'string' ? { uid: p.uid } : {}),
        ...(typeof p.resourceVersion === 'string' ? { resourceVersion: p.resourceVersion } : {}),
      };
    }
  }
  const g = intParam(q, 'gracePeriodSeconds');
  if (g !== undefined) opts.gracePeriodSeconds = g;
  const pp = q.get('propagationPolicy');
  if (pp) opts.propagationPolicy = pp as DeleteOptions['propagationPolicy'];
  if (q.get('orphanDependents') === 'true') opts.propagationPolicy = 'Orphan';
  if (opts.propagationPolicy !== undefined && !['Background', 'Foreground', 'Orphan'].includes(opts.propagationPolicy)) {
    throw badRequest(`propagationPolicy: Unsupported value: ${JSON.stringify(opts.propagationPolicy)}`);
  }
  return opts;
}

export { RESOURCES };
