// The schema of every kind the lab serves, taken from the Kubernetes API
// models that @kubernetes/client-node generates from kube-apiserver's own
// OpenAPI document (each model's attributeTypeMap: field name, TypeScript
// type, OpenAPI format). The OpenAPI documents (openapi.ts) and the strict
// field validation of request bodies (field-validation.ts) both read it, so
// what kubectl is told and what the server enforces cannot drift apart.

import * as models from '@kubernetes/client-node';
import { RESOURCES, type ResourceInfo } from './resources.js';

export interface Attribute {
  name: string;
  type: string;
  format: string;
}

/** A field's type, parsed from the model's TypeScript type string. */
export type FieldType =
  | { kind: 'string'; format: string }
  | { kind: 'integer'; format: string }
  | { kind: 'number'; format: string }
  | { kind: 'boolean' }
  | { kind: 'date-time' }
  | { kind: 'int-or-string' }
  | { kind: 'any' }
  | { kind: 'array'; items: FieldType }
  | { kind: 'map'; values: FieldType }
  | { kind: 'model'; name: string };

type ModelClass = { getAttributeTypeMap?: () => Array<Attribute & { baseName?: string }> };

const MODELS = models as unknown as Record<string, ModelClass | undefined>;

const attributeCache = new Map<string, Attribute[] | undefined>();
const fieldCache = new Map<string, Map<string, FieldType>>();

/** The model's attributes (undefined for an unknown model name). */
export function modelAttributes(name: string): Attribute[] | undefined {
  if (attributeCache.has(name)) return attributeCache.get(name);
  const attrs = MODELS[name]?.getAttributeTypeMap?.();
  const out = Array.isArray(attrs) ? attrs.map((a) => ({ name: a.baseName ?? a.name, type: a.type, format: a.format })) : undefined;
  attributeCache.set(name, out);
  return out;
}

/** JSON field name → parsed type, per model (parsed once: every request body is walked with it). */
export function modelFields(name: string): Map<string, FieldType> {
  let m = fieldCache.get(name);
  if (!m) {
    m = new Map((modelAttributes(name) ?? []).map((a) => [a.name, parseFieldType(a.type, a.format)]));
    fieldCache.set(name, m);
  }
  return m;
}

export function parseFieldType(type: string, format: string): FieldType {
  const t = type.trim();
  const arr = /^Array<(.+)>$/.exec(t);
  if (arr) return { kind: 'array', items: parseFieldType(arr[1] as string, '') };
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(t);
  if (map) return { kind: 'map', values: parseFieldType(map[1] as string, '') };
  switch (t) {
    case 'string':
      return { kind: 'string', format };
    case 'number':
      return format === 'int32' || format === 'int64' ? { kind: 'integer', format } : { kind: 'number', format };
    case 'boolean':
      return { kind: 'boolean' };
    case 'Date':
      return { kind: 'date-time' };
    case 'IntOrString':
      return { kind: 'int-or-string' };
    case 'any':
    case 'object':
      return { kind: 'any' };
    default:
      return modelAttributes(t) ? { kind: 'model', name: t } : { kind: 'any' };
  }
}

/** The model class name of a served resource's kind (V1Pod, V1Deployment...). */
export function kindModel(info: ResourceInfo): string {
  return `V1${info.kind}`;
}

/** Go's name for a model's struct (V1PodSpec → PodSpec, DiscoveryV1EndpointPort → EndpointPort). */
export function goTypeName(model: string): string {
  return model.replace(/^[A-Z][a-z]*V\d+(?:alpha\d+|beta\d+)?(?=[A-Z])|^V\d+(?:alpha\d+|beta\d+)?(?=[A-Z])/, '');
}

/** Every model reachable from the served kinds (for the OpenAPI documents). */
export function reachableModels(roots: string[]): Set<string> {
  const seen = new Set<string>();
  const visit = (t: FieldType): void => {
    if (t.kind === 'array') visit(t.items);
    else if (t.kind === 'map') visit(t.values);
    else if (t.kind === 'model' && !seen.has(t.name)) {
      seen.add(t.name);
      for (const a of modelAttributes(t.name) ?? []) visit(parseFieldType(a.type, a.format));
    }
  };
  for (const r of roots) visit({ kind: 'model', name: r });
  return seen;
}

export const SERVED_KINDS: ResourceInfo[] = Object.values(RESOURCES);
