// Label and field selectors with kube-apiserver's string syntax:
//   labels: "a=b,c==d,e!=f,g in (x,y),h notin (z),i,!j,k>3,l<5"
//   fields: "metadata.name=foo,spec.nodeName!=bar" (with \, \= \\ escapes)
// plus conversion of metav1.LabelSelector (matchLabels/matchExpressions).

import { badRequest } from './errors.js';
import type { KubeObject, Labels, LabelSelectorSpec } from './types.js';

export type LabelOp = '=' | '!=' | 'in' | 'notin' | 'exists' | '!exists' | 'gt' | 'lt';

export interface LabelRequirement {
  key: string;
  op: LabelOp;
  values: string[];
}

/** A parsed label selector: the AND of its requirements. Empty matches everything. */
export type LabelSelector = LabelRequirement[];

const NAME_RE = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Validates a label key (optional DNS-subdomain prefix + "/" + name); returns an error message or undefined. */
export function labelKeyError(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  let name = key;
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    name = key.slice(slash + 1);
    if (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN_RE.test(prefix)) {
      return `prefix part of ${JSON.stringify(key)} must be a DNS subdomain`;
    }
  }
  if (name.length === 0 || name.length > 63 || !NAME_RE.test(name)) {
    return `name part of ${JSON.stringify(key)} must consist of alphanumeric characters, '-', '_' or '.', start and end with an alphanumeric character, at most 63 characters`;
  }
  return undefined;
}

/** Validates a label value; returns an error message or undefined. */
export function labelValueError(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !NAME_RE.test(value)) {
    return `invalid label value ${JSON.stringify(value)}: must be 63 characters or less and consist of alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character`;
  }
  return undefined;
}

// ------------------------------------------------------------------ lexer

type Tok =
  | { t: 'id'; v: string }
  | { t: '!' | '=' | '==' | '!=' | '(' | ')' | ',' | '<' | '>' | 'in' | 'notin' | 'eos' };

function lexLabels(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const special = new Set(['!', '=', '(', ')', ',', '<', '>']);
  while (i < s.length) {
    const c = s[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '=' && s[i + 1] === '=') {
      out.push({ t: '==' });
      i += 2;
    } else if (c === '!' && s[i + 1] === '=') {
      out.push({ t: '!=' });
      i += 2;
    } else if (special.has(c)) {
      out.push({ t: c as '!' });
      i++;
    } else {
      let j = i;
      while (j < s.length && !special.has(s[j] as string) && !/\s/.test(s[j] as string)) j++;
      const word = s.slice(i, j);
      if (word === 'in') out.push({ t: 'in' });
      else if (word === 'notin') out.push({ t: 'notin' });
      else out.push({ t: 'id', v: word });
      i = j;
    }
  }
  out.push({ t: 'eos' });
  return out;
}

/** Parses a label selector string; throws a 400 BadRequest ApiError when malformed. */
export function parseLabelSelector(input: string | undefined | null): LabelSelector {
  if (input === undefined || input === null || input.trim() === '') return [];
  const toks = lexLabels(input);
  let p = 0;
  const peek = (): Tok => toks[p] as Tok;
  const next = (): Tok => toks[p++] as Tok;
  const fail = (msg: string): never => {
    throw badRequest(`unable to parse requirement: ${msg} (in label selector ${JSON.stringify(input)})`);
  };
  const checkKey = (k: string): string => {
    const err = labelKeyError(k);
    if (err) fail(err);
    return k;
  };
  const checkValue = (v: string): string => {
    const err = labelValueError(v);
    if (err) fail(err);
    return v;
  };
  const reqs: LabelSelector = [];
  for (;;) {
    let tok = next();
    if (tok.t === '!') {
      const k = next();
      if (k.t !== 'id') fail('expected a label key after "!"');
      reqs.push({ key: checkKey((k as { v: string }).v), op: '!exists', values: [] });
    } else if (tok.t === 'id') {
      const key = checkKey(tok.v);
      const op = next();
      switch (op.t) {
        case ',':
        case 'eos':
          reqs.push({ key, op: 'exists', values: [] });
          p--;
          break;
        case '=':
        case '==':
        case '!=': {
          const v = peek();
          let value = '';
          if (v.t === 'id') {
            value = v.v;
            p++;
          } else if (v.t !== ',' && v.t !== 'eos') {
            fail(`unexpected token after "${op.t}"`);
          }
          reqs.push({ key, op: op.t === '!=' ? '!=' : '=', values: [checkValue(value)] });
          break;
        }
        case 'in':
        case 'notin': {
          if (next().t !== '(') fail(`expected "(" after "${op.t}"`);
          const values: string[] = [];
          let expectValue = true;
          for (;;) {
            const v = next();
            if (v.t === ')') {
              if (expectValue && values.length > 0) values.push('');
              break;
            }
            if (v.t === ',') {
              if (expectValue) values.push('');
              expectValue = true;
              continue;
            }
            if (v.t === 'id' && expectValue) {
              values.push(checkValue(v.v));
              expectValue = false;
              continue;
            }
            fail(`unexpected token in set of values for "${key}"`);
          }
          if (values.length === 0) fail(`for "${op.t}" operator, values set can't be empty`);
          reqs.push({ key, op: op.t, values });
          break;
        }
        case '<':
        case '>': {
          const v = next();
          if (v.t !== 'id' || !/^-?\d+$/.test(v.v)) fail(`for "${op.t}" operator, the value must be an integer`);
          reqs.push({ key, op: op.t === '<' ? 'lt' : 'gt', values: [(v as { v: string }).v] });
          break;
        }
        default:
          fail(`unexpected token after key "${key}"`);
      }
    } else {
      fail('expected a label key or "!"');
    }
    tok = next();
    if (tok.t === 'eos') break;
    if (tok.t !== ',') fail('expected ","');
  }
  return reqs;
}

export function matchesLabels(sel: LabelSelector, labels: Labels | undefined | null): boolean {
  const l = labels ?? {};
  for (const r of sel) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = has ? l[r.key] : undefined;
    switch (r.op) {
      case '=':
        if (!has || v !== r.values[0]) return false;
        break;
      case '!=':
        if (has && v === r.values[0]) return false;
        break;
      case 'in':
        if (!has || !r.values.includes(v as string)) return false;
        break;
      case 'notin':
        if (has && r.values.includes(v as string)) return false;
        break;
      case 'exists':
        if (!has) return false;
        break;
      case '!exists':
        if (has) return false;
        break;
      case 'gt':
      case 'lt': {
        if (!has || !/^-?\d+$/.test(v as string)) return false;
        const n = Number(v);
        const want = Number(r.values[0]);
        if (r.op === 'gt' ? !(n > want) : !(n < want)) return false;
        break;
      }
    }
  }
  return true;
}

export function formatLabelSelector(sel: LabelSelector): string {
  return sel
    .map((r) => {
      switch (r.op) {
        case '=':
          return `${r.key}=${r.values[0] ?? ''}`;
        case '!=':
          return `${r.key}!=${r.values[0] ?? ''}`;
        case 'in':
          return `${r.key} in (${r.values.join(',')})`;
        case 'notin':
          return `${r.key} notin (${r.values.join(',')})`;
        case 'exists':
          return r.key;
        case '!exists':
          return `!${r.key}`;
        case 'gt':
          return `${r.key}>${r.values[0] ?? ''}`;
        case 'lt':
          return `${r.key}<${r.values[0] ?? ''}`;
      }
    })
    .join(',');
}

/** Validates a metav1.LabelSelector; returns error messages (empty when valid). */
export function labelSelectorSpecErrors(spec: LabelSelectorSpec | undefined | null): string[] {
  const errs: string[] = [];
  if (!spec) return errs;
  if (spec.matchLabels !== undefined && (typeof spec.matchLabels !== 'object' || spec.matchLabels === null)) {
    errs.push('matchLabels must be an object');
  } else {
    for (const [k, v] of Object.entries(spec.matchLabels ?? {})) {
      const ke = labelKeyError(k);
      if (ke) errs.push(ke);
      if (typeof v !== 'string') errs.push(`matchLabels[${k}] must be a string`);
      else {
        const ve = labelValueError(v);
        if (ve) errs.push(ve);
      }
    }
  }
  if (spec.matchExpressions !== undefined && !Array.isArray(spec.matchExpressions)) {
    errs.push('matchExpressions must be a list');
    return errs;
  }
  for (const e of spec.matchExpressions ?? []) {
    if (!e || typeof e.key !== 'string') {
      errs.push('matchExpressions[].key is required');
      continue;
    }
    const ke = labelKeyError(e.key);
    if (ke) errs.push(ke);
    const vals = e.values ?? [];
    if (!Array.isArray(vals) || vals.some((v) => typeof v !== 'string')) {
      errs.push(`matchExpressions[${e.key}].values must be a list of strings`);
      continue;
    }
    switch (e.operator) {
      case 'In':
      case 'NotIn':
        if (vals.length === 0) errs.push(`matchExpressions[${e.key}]: values must be non-empty for ${e.operator}`);
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (vals.length > 0) errs.push(`matchExpressions[${e.key}]: values must be empty for ${e.operator}`);
        break;
      default:
        errs.push(`matchExpressions[${e.key}]: unsupported operator ${JSON.stringify(e.operator)}`);
    }
  }
  return errs;
}

/** metav1.LabelSelector → parsed selector. An absent/empty spec matches everything (callers decide whether that's allowed). */
export function fromLabelSelectorSpec(spec: LabelSelectorSpec | undefined | null): LabelSelector {
  const out: LabelSelector = [];
  if (!spec) return out;
  for (const k of Object.keys(spec.matchLabels ?? {}).sort()) {
    out.push({ key: k, op: '=', values: [(spec.matchLabels as Labels)[k] as string] });
  }
  for (const e of spec.matchExpressions ?? []) {
    const values = [...(e.values ?? [])].sort();
    switch (e.operator) {
      case 'In':
        out.push({ key: e.key, op: 'in', values });
        break;
      case 'NotIn':
        out.push({ key: e.key, op: 'notin', values });
        break;
      case 'Exists':
        out.push({ key: e.key, op: 'exists', values: [] });
        break;
      case 'DoesNotExist':
        out.push({ key: e.key, op: '!exists', values: [] });
        break;
    }
  }
  return out;
}

/** A map selector (Service.spec.selector, RC.spec.selector) → parsed selector. */
export function fromMapSelector(m: Labels | undefined | null): LabelSelector {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => ({ key: k, op: '=' as const, values: [(m as Labels)[k] as string] }));
}

// ------------------------------------------------------------------ fields

export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

export type FieldSelector = FieldRequirement[];

/** Splits on unescaped commas, honouring \, \= \\ escapes. */
function splitEscaped(s: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '\\' && i + 1 < s.length) {
      cur += c + (s[i + 1] as string);
      i++;
    } else if (c === sep) {
      parts.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  parts.push(cur);
  return parts;
}

function unescapeField(v: string): string {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i] as string;
    if (c === '\\') {
      const n = v[i + 1];
      if (n === undefined || !['\\', ',', '='].includes(n)) {
        throw badRequest(`invalid field selector: invalid escape sequence in ${JSON.stringify(v)}`);
      }
      out += n;
      i++;
    } else {
      out += c;
    }
  }
  return out;
}

/**
 * Parses a field selector; `supported` lists the fields the resource can be
 * selected on (kube-apiserver answers 400 "field label not supported").
 */
export function parseFieldSelector(input: string | undefined | null, supported: readonly string[]): FieldSelector {
  if (input === undefined || input === null || input.trim() === '') return [];
  const out: FieldSelector = [];
  for (const raw of splitEscaped(input, ',')) {
    const part = raw.trim();
    if (part === '') throw badRequest(`invalid field selector: empty requirement in ${JSON.stringify(input)}`);
    let m = /^([^=!\s]+)\s*(==|!=|=)\s*(.*)$/.exec(part);
    if (!m) {
      m = null;
      throw badRequest(`invalid selector: '${part}'; can't understand '${part}'`);
    }
    const field = m[1] as string;
    const op = m[2] === '!=' ? '!=' : '=';
    if (!supported.includes(field)) {
      throw badRequest(`field label not supported: ${field}`);
    }
    out.push({ field, op, value: unescapeField((m[3] as string).trim()) });
  }
  return out;
}

/** Extracts a dotted field (e.g. "spec.nodeName") from an object, as a string ("" when absent). */
export function fieldValue(obj: KubeObject, field: string): string {
  let cur: unknown = obj;
  for (const part of field.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  if (cur === undefined || cur === null) return '';
  return String(cur);
}

export function matchesFields(sel: FieldSelector, obj: KubeObject): boolean {
  for (const r of sel) {
    const v = fieldValue(obj, r.field);
    if (r.op === '=' ? v !== r.value : v === r.value) return false;
  }
  return true;
}
