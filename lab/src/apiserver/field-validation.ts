// Request bodies are decoded as kube-apiserver decodes them: a value of the
// wrong JSON type is a 400 ("json: cannot unmarshal string into Go struct
// field DeploymentSpec.spec.replicas of type int32"), and fields the schema
// does not know are handled by the fieldValidation query parameter: Strict
// fails the request (400 "strict decoding error: unknown field ..."), Warn
// (the default since Kubernetes 1.27) answers with Warning headers, Ignore
// drops them silently. Schema: api-schema.ts.

import { ApiError, badRequest } from './errors.js';
import { goTypeName, kindModel, modelFields, type FieldType } from './api-schema.js';
import type { ResourceInfo } from './resources.js';

export type FieldValidation = 'Ignore' | 'Warn' | 'Strict';

export interface DecodeResult {
  /** Paths of unknown fields ("spec.template.spec.containers[0].foo"). */
  unknown: string[];
  /** The first type mismatch, in Go's encoding/json words. */
  typeError?: string;
}

export function fieldValidationParam(q: URLSearchParams): FieldValidation {
  const v = q.get('fieldValidation');
  if (v === null || v === '') return 'Warn';
  if (v === 'Ignore' || v === 'Warn' || v === 'Strict') return v;
  throw badRequest(`fieldValidation parameter unsupported: ${JSON.stringify(v)}; valid values are Ignore, Warn and Strict`);
}

function jsonKind(v: unknown): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return Number.isInteger(v) ? 'number' : `number ${v}`;
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'array';
  return 'object';
}

function goType(t: FieldType): string {
  switch (t.kind) {
    case 'string':
    case 'date-time':
      return t.kind === 'string' ? 'string' : 'v1.Time';
    case 'integer':
      return t.format === 'int32' ? 'int32' : 'int64';
    case 'number':
      return 'float64';
    case 'boolean':
      return 'bool';
    case 'int-or-string':
      return 'intstr.IntOrString';
    case 'any':
      return 'interface {}';
    case 'array':
      return `[]${goType(t.items)}`;
    case 'map':
      return `map[string]${goType(t.values)}`;
    case 'model':
      return `v1.${goTypeName(t.name)}`;
  }
}

/**
 * Walks `value` against `model`. In a patch, strategic-merge directives
 * ("$patch", "$setElementOrder/...", "$retainKeys", ...) are not fields.
 */
export function decodeAgainst(model: string, value: unknown, patch = false): DecodeResult {
  const out: DecodeResult = { unknown: [] };
  // goPath: JSON keys without list indices, as Go's UnmarshalTypeError names them.
  const walk = (t: FieldType, v: unknown, path: string, goPath: string, struct: string): void => {
    if (v === null || v === undefined || out.typeError) return;
    const mismatch = (): void => {
      out.typeError = `json: cannot unmarshal ${jsonKind(v)} into Go struct field ${struct}.${goPath} of type ${goType(t)}`;
    };
    switch (t.kind) {
      case 'any':
        return;
      case 'string':
      case 'date-time':
        if (typeof v !== 'string') mismatch();
        return;
      case 'integer':
        if (typeof v !== 'number' || !Number.isInteger(v)) mismatch();
        return;
      case 'number':
        if (typeof v !== 'number') mismatch();
        return;
      case 'boolean':
        if (typeof v !== 'boolean') mismatch();
        return;
      case 'int-or-string':
        if (typeof v !== 'string' && !(typeof v === 'number' && Number.isInteger(v))) mismatch();
        return;
      case 'array':
        if (!Array.isArray(v)) return mismatch();
        v.forEach((item, i) => walk(t.items, item, `${path}[${i}]`, goPath, struct));
        return;
      case 'map':
        if (typeof v !== 'object' || Array.isArray(v)) return mismatch();
        for (const [k, item] of Object.entries(v as Record<string, unknown>)) walk(t.values, item, `${path}.${k}`, goPath, struct);
        return;
      case 'model': {
        if (typeof v !== 'object' || Array.isArray(v)) return mismatch();
        const fields = modelFields(t.name);
        for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
          if (patch && k.startsWith('$')) continue;
          const childPath = path ? `${path}.${k}` : k;
          const ft = fields.get(k);
          if (!ft) {
            out.unknown.push(childPath);
            continue;
          }
          walk(ft, item, childPath, goPath ? `${goPath}.${k}` : k, goTypeName(t.name));
        }
        return;
      }
    }
  };
  walk({ kind: 'model', name: model }, value, '', '', goTypeName(model));
  return out;
}

/**
 * Checks a create/update body (or a merge/strategic patch) of `info`'s kind.
 * Throws the 400 kube-apiserver answers; returns the warnings to send.
 */
export function validateFields(info: ResourceInfo, body: unknown, directive: FieldValidation, patch = false): string[] {
  const r = decodeAgainst(kindModel(info), body, patch);
  const prefix = `${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}`;
  if (r.typeError) throw new ApiError(400, 'BadRequest', `${prefix}: ${r.typeError}`);
  if (r.unknown.length === 0 || directive === 'Ignore') return [];
  const list = r.unknown.map((p) => `unknown field ${JSON.stringify(p)}`);
  if (directive === 'Strict') throw new ApiError(400, 'BadRequest', `${prefix}: strict decoding error: ${list.join(', ')}`);
  return list;
}

/** RFC 7234 Warning header values, as kube-apiserver sends them (code 299). */
export function warningHeaders(warnings: string[]): string[] {
  return warnings.map((w) => `299 - ${JSON.stringify(w)}`);
}
