// Small helpers shared by the API server and the controllers.

import { randomBytes, randomUUID } from 'node:crypto';
import type { Condition } from './types.js';

/** RFC 3339 with second precision, as Kubernetes serialises metav1.Time. */
export function rfc3339(d: Date = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function newUID(): string {
  return randomUUID();
}

/** The alphabet kube uses for generateName suffixes (no vowels, no confusable characters). */
const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

export function randomSuffix(n = 5): string {
  const bytes = randomBytes(n);
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHANUMS[(bytes[i] as number) % ALPHANUMS.length];
  return s;
}

/** kube's SafeEncodeString: maps a string onto the same alphabet (used for pod-template-hash). */
export function safeEncode(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += ALPHANUMS[s.charCodeAt(i) % ALPHANUMS.length];
  return out;
}

/** FNV-1a 32-bit. */
export function fnv32a(s: string): number {
  let h = 0x811c9dc5;
  const bytes = Buffer.from(s, 'utf8');
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** JSON with object keys sorted (stable hashing / comparison). */
export function stableStringify(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`)
    .join(',')}}`;
}

export function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}

export function clone<T>(o: T): T {
  return structuredClone(o);
}

export function getCondition(conds: Condition[] | undefined, type: string): Condition | undefined {
  return conds?.find((c) => c.type === type);
}

/**
 * Returns a new condition list with `type` set to `status` (lastTransitionTime
 * only changes when the status does).
 */
export function setCondition(
  conds: Condition[] | undefined,
  type: string,
  status: Condition['status'],
  extra: { reason?: string; message?: string; lastProbeTime?: string | null } = {},
  now: string = rfc3339(),
): Condition[] {
  const list = (conds ?? []).map((c) => ({ ...c }));
  const i = list.findIndex((c) => c.type === type);
  const prev = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    type,
    status,
    lastTransitionTime: prev && prev.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : now,
  };
  if ('lastProbeTime' in extra) next.lastProbeTime = extra.lastProbeTime ?? null;
  else if (prev && 'lastProbeTime' in prev) next.lastProbeTime = prev.lastProbeTime ?? null;
  if (extra.reason) next.reason = extra.reason;
  if (extra.message) next.message = extra.message;
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
