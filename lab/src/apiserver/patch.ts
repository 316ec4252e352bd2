// JSON merge patch (RFC 7386) and JSON patch (RFC 6902). Strategic merge
// patch is accepted and applied as a merge patch (lists are replaced, $patch
// directives are not understood): a documented lab simplification.

import { badRequest } from './errors.js';

export type PatchType = 'merge' | 'strategic' | 'json';

export function patchTypeFromContentType(contentType: string | undefined): PatchType | undefined {
  const ct = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  switch (ct) {
    case 'application/merge-patch+json':
      return 'merge';
    case 'application/strategic-merge-patch+json':
      return 'strategic';
    case 'application/json-patch+json':
      return 'json';
    default:
      return undefined;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386: returns a new document; `target` is not modified. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

interface JsonPatchOp {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

function parsePointer(ptr: string): string[] {
  if (ptr === '') return [];
  if (!ptr.startsWith('/')) throw badRequest(`json patch: invalid path ${JSON.stringify(ptr)}`);
  return ptr
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ak = Object.keys(a as object);
  const bk = Object.keys(b as object);
  if (ak.length !== bk.length) return false;
  return ak.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function getAt(doc: unknown, path: string[]): unknown {
  let cur = doc;
  for (const seg of path) {
    if (Array.isArray(cur)) {
      const i = Number(seg);
      if (!/^\d+$/.test(seg) || i >= cur.length) throw badRequest(`json patch: path not found at ${JSON.stringify(seg)}`);
      cur = cur[i];
    } else if (isPlainObject(cur)) {
      if (!Object.prototype.hasOwnProperty.call(cur, seg)) throw badRequest(`json patch: path not found at ${JSON.stringify(seg)}`);
      cur = cur[seg];
    } else {
      throw badRequest(`json patch: path not found at ${JSON.stringify(seg)}`);
    }
  }
  return cur;
}

function parentOf(doc: unknown, path: string[]): { parent: unknown; key: string } {
  if (path.length === 0) throw badRequest('json patch: the root cannot be the target of this operation');
  const parent = getAt(doc, path.slice(0, -1));
  return { parent, key: path[path.length - 1] as string };
}

function addAt(doc: unknown, path: string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const { parent, key } = parentOf(doc, path);
  if (Array.isArray(parent)) {
    const i = key === '-' ? parent.length : Number(key);
    if (!(key === '-' || /^\d+$/.test(key)) || i > parent.length) throw badRequest(`json patch: invalid array index ${JSON.stringify(key)}`);
    parent.splice(i, 0, value);
  } else if (isPlainObject(parent)) {
    parent[key] = value;
  } else {
    throw badRequest('json patch: cannot add to a non-container');
  }
  return doc;
}

function removeAt(doc: unknown, path: string[]): unknown {
  const { parent, key } = parentOf(doc, path);
  if (Array.isArray(parent)) {
    const i = Number(key);
    if (!/^\d+$/.test(key) || i >= parent.length) throw badRequest(`json patch: invalid array index ${JSON.stringify(key)}`);
    return parent.splice(i, 1)[0];
  }
  if (isPlainObject(parent)) {
    if (!Object.prototype.hasOwnProperty.call(parent, key)) throw badRequest(`json patch: path not found at ${JSON.stringify(key)}`);
    const v = parent[key];
    delete parent[key];
    return v;
  }
  throw badRequest('json patch: cannot remove from a non-container');
}

/** RFC 6902: returns a new document; `target` is not modified. */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest('json patch: the patch must be a JSON array of operations');
  let doc = structuredClone(target);
  for (const raw of ops as unknown[]) {
    if (!isPlainObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      throw badRequest('json patch: every operation needs "op" and "path"');
    }
    const op = raw as unknown as JsonPatchOp;
    const path = parsePointer(op.path);
    switch (op.op) {
      case 'add':
        if (!('value' in raw)) throw badRequest('json patch: "add" needs a value');
        doc = addAt(doc, path, structuredClone(op.value));
        break;
      case 'remove':
        removeAt(doc, path);
        break;
      case 'replace':
        if (!('value' in raw)) throw badRequest('json patch: "replace" needs a value');
        if (path.length === 0) doc = structuredClone(op.value);
        else {
          removeAt(doc, path);
          doc = addAt(doc, path, structuredClone(op.value));
        }
        break;
      case 'move': {
        if (typeof op.from !== 'string') throw badRequest('json patch: "move" needs "from"');
        const v = removeAt(doc, parsePointer(op.from));
        doc = addAt(doc, path, v);
        break;
      }
      case 'copy': {
        if (typeof op.from !== 'string') throw badRequest('json patch: "copy" needs "from"');
        const v = structuredClone(getAt(doc, parsePointer(op.from)));
        doc = addAt(doc, path, v);
        break;
      }
      case 'test':
        if (!deepEqual(getAt(doc, path), op.value)) throw new TestFailed(op.path);
        break;
      default:
        throw badRequest(`json patch: unknown operation ${JSON.stringify(op.op)}`);
    }
  }
  return doc;
}

/** A failed "test" operation (kube-apiserver answers 422 Invalid). */
export class TestFailed extends Error {
  constructor(readonly path: string) {
    super(`json patch: test operation failed at ${path}`);
  }
}

export function applyPatch(type: PatchType, target: unknown, patch: unknown): unknown {
  if (type === 'json') return jsonPatch(target, patch);
  if (!isPlainObject(patch)) throw badRequest('merge patch: the patch must be a JSON object');
  return mergePatch(target, patch);
}

export { deepEqual };
