// /openapi/v3 (the discovery document and one document per group-version)
// and /openapi/v2 (JSON), describing the kinds the lab serves from the
// schema in api-schema.ts.
//
// kubectl (1.27+) reads /openapi/v3 before `apply`/`create`/`replace`: when
// the PATCH operation of a kind lists the `fieldValidation` query parameter,
// kubectl leaves validation to the server and sends fieldValidation=Strict,
// which field-validation.ts enforces as kube-apiserver does. The PATCH
// operations deliberately do not list strategic-merge-patch as a request
// type, so kubectl computes apply patches from its compiled-in Go types
// (which carry the patch merge keys) rather than from this schema.
// /openapi/v2 is served as JSON only; its protobuf form is answered 406.

import { createHash } from 'node:crypto';
import { kindModel, modelAttributes, parseFieldType, reachableModels, SERVED_KINDS, type FieldType } from './api-schema.js';
import type { ResourceInfo } from './resources.js';

type Json = Record<string, unknown>;

function schemaOf(t: FieldType, refBase: string): Json {
  switch (t.kind) {
    case 'string':
      return t.format ? { type: 'string', format: t.format } : { type: 'string' };
    case 'integer':
      return { type: 'integer', format: t.format };
    case 'number':
      return { type: 'number', format: 'double' };
    case 'boolean':
      return { type: 'boolean' };
    case 'date-time':
      return { type: 'string', format: 'date-time' };
    case 'int-or-string':
      return { type: 'string', format: 'int-or-string', 'x-kubernetes-int-or-string': true };
    case 'any':
      return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
    case 'array':
      return { type: 'array', items: schemaOf(t.items, refBase) };
    case 'map':
      return { type: 'object', additionalProperties: schemaOf(t.values, refBase) };
    case 'model':
      return { $ref: `${refBase}${t.name}` };
  }
}

function gvk(info: ResourceInfo): Json {
  return { group: info.group, version: info.version, kind: info.kind };
}

function definitions(models: Iterable<string>, refBase: string): Json {
  const kindsByModel = new Map(SERVED_KINDS.map((i) => [kindModel(i), i]));
  const out: Json = {};
  for (const m of [...models].sort()) {
    const properties: Json = {};
    for (const a of modelAttributes(m) ?? []) properties[a.name] = schemaOf(parseFieldType(a.type, a.format), refBase);
    const kind = kindsByModel.get(m);
    out[m] = { type: 'object', properties, ...(kind ? { 'x-kubernetes-group-version-kind': [gvk(kind)] } : {}) };
  }
  return out;
}

function prefixOf(info: ResourceInfo): string {
  return info.group === '' ? '/api/v1' : `/apis/${info.group}/${info.version}`;
}

const QUERY = (name: string, type = 'string'): Json => ({ name, in: 'query', schema: { type }, description: name });
const PATH = (name: string): Json => ({ name, in: 'path', required: true, schema: { type: 'string' } });

/** The operations of one resource, in OpenAPI v3 form (kube-apiserver's paths and extensions). */
function v3Paths(info: ResourceInfo, refBase: string): Json {
  const ref = { $ref: `${refBase}${kindModel(info)}` };
  const body = { content: { 'application/json': { schema: ref }, 'application/yaml': { schema: ref } }, required: true };
  const ok = (schema: Json): Json => ({ '200': { description: 'OK', content: { 'application/json': { schema } } } });
  const op = (action: string, id: string, extra: Json = {}): Json => ({
    operationId: `${action}${info.kind}`,
    'x-kubernetes-action': id,
    'x-kubernetes-group-version-kind': gvk(info),
    responses: ok(ref),
    ...extra,
  });
  const write = [QUERY('dryRun'), QUERY('fieldManager'), QUERY('fieldValidation')];
  const nsParams = info.namespaced ? [PATH('namespace')] : [];
  const base = `${prefixOf(info)}${info.namespaced ? '/namespaces/{namespace}' : ''}/${info.name}`;
  const list = {
    parameters: nsParams,
    get: op('list', 'list', { parameters: [QUERY('labelSelector'), QUERY('fieldSelector'), QUERY('watch', 'boolean'), QUERY('resourceVersion')], responses: ok({ type: 'object' }) }),
    post: op('create', 'post', { parameters: write, requestBody: body }),
    delete: op('deleteCollection', 'deletecollection', { parameters: [QUERY('labelSelector'), QUERY('fieldSelector')] }),
  };
  const item = {
    parameters: [...nsParams, PATH('name')],
    get: op('read', 'get'),
    put: op('replace', 'put', { parameters: write, requestBody: body }),
    patch: op('patch', 'patch', {
      parameters: [...write, QUERY('force', 'boolean')],
      requestBody: {
        content: {
          'application/json-patch+json': { schema: { type: 'object' } },
          'application/merge-patch+json': { schema: { type: 'object' } },
        },
        required: true,
      },
    }),
    delete: op('delete', 'delete', { parameters: [QUERY('gracePeriodSeconds', 'integer'), QUERY('propagationPolicy')] }),
  };
  const out: Json = { [base]: list, [`${base}/{name}`]: item };
  if (info.namespaced) out[`${prefixOf(info)}/${info.name}`] = { get: op('list', 'list', { operationId: `list${info.kind}ForAllNamespaces`, responses: ok({ type: 'object' }) }) };
  return out;
}

/** "api/v1", "apis/apps/v1", ... → the kinds of that group-version. */
function groupVersions(): Map<string, ResourceInfo[]> {
  const out = new Map<string, ResourceInfo[]>();
  for (const info of SERVED_KINDS) {
    const key = prefixOf(info).slice(1);
    out.set(key, [...(out.get(key) ?? []), info]);
  }
  return out;
}

export interface OpenApiDocs {
  /** GET /openapi/v3 */
  v3Root: Json;
  /** GET /openapi/v3/{api/v1 | apis/G/V}, by that key. */
  v3: Map<string, { doc: Json; hash: string }>;
  /** GET /openapi/v2 (JSON) */
  v2: Json;
}

let cached: OpenApiDocs | undefined;

export function openApiDocs(): OpenApiDocs {
  if (cached) return cached;
  const v3 = new Map<string, { doc: Json; hash: string }>();
  const refV3 = '#/components/schemas/';
  for (const [key, kinds] of groupVersions()) {
    const paths: Json = {};
    for (const k of kinds) Object.assign(paths, v3Paths(k, refV3));
    const doc = {
      openapi: '3.0.0',
      info: { title: 'Kubernetes (Switchyard lab)', version: 'v1.31.0' },
      paths,
      components: { schemas: definitions(reachableModels(kinds.map(kindModel)), refV3) },
    };
    const hash = createHash('sha512').update(JSON.stringify(doc)).digest('hex').toUpperCase().slice(0, 128);
    v3.set(key, { doc, hash });
  }
  const v3Root = { paths: Object.fromEntries([...v3].map(([k, { hash }]) => [k, { serverRelativeURL: `/openapi/v3/${k}?hash=${hash}` }])) };
  const refV2 = '#/definitions/';
  const v2Paths: Json = {};
  for (const k of SERVED_KINDS) {
    for (const [p, ops] of Object.entries(v3Paths(k, refV2))) {
      // v2 form: body parameters instead of requestBody, schema-less responses.
      const conv: Json = {};
      for (const [verb, o] of Object.entries(ops as Json)) {
        if (verb === 'parameters') continue;
        const { requestBody, responses: _r, ...rest } = o as Json;
        conv[verb] = {
          ...rest,
          ...(requestBody ? { parameters: [...(((rest as Json).parameters as Json[]) ?? []), { name: 'body', in: 'body', required: true, schema: { $ref: `${refV2}${kindModel(k)}` } }] } : {}),
          responses: { '200': { description: 'OK' } },
        };
      }
      v2Paths[p] = conv;
    }
  }
  const v2 = {
    swagger: '2.0',
    info: { title: 'Kubernetes (Switchyard lab)', version: 'v1.31.0' },
    paths: v2Paths,
    definitions: definitions(reachableModels(SERVED_KINDS.map(kindModel)), refV2),
  };
  cached = { v3Root, v3, v2 };
  return cached;
}
