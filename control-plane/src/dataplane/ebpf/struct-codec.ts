// Byte codecs of the map structs, built from the generated layout contract
// (sy-layout.generated.ts, from the BPF object's BTF): a codec names the C
// fields it reads and how to show each one; offsets and sizes come from the
// contract only, and a field whose C type does not fit its kind fails at load.
import { ipv4ToBytes } from '../../util/ipv4.js';
import { formatIP, mustParseIP } from '../../util/ip.js';
import { SY_STRUCTS } from './sy-layout.generated.js';

export type StructName = keyof typeof SY_STRUCTS;
export type FieldName<S extends StructName> = keyof (typeof SY_STRUCTS)[S]['fields'] & string;

/**
 * How a field is shown: ipv4 (__be32, dotted quad), ipv6 (__be32[4], RFC 5952 text), be16/be32 (network-order numbers) (__be16, a port),
 * u8/u16/u32 (host order numbers), u64 (bigint), cstring (char[N], up to the
 * first NUL), bytes (__u8[N]).
 */
export type FieldKind = 'ipv4' | 'ipv6' | 'be16' | 'be32' | 'u8' | 'u16' | 'u32' | 'u64' | 'cstring' | 'bytes';

type ValueOf<K extends FieldKind> = K extends 'ipv4' | 'ipv6' | 'cstring' ? string : K extends 'u64' ? bigint : K extends 'bytes' ? Uint8Array : number;

/** The C types a kind reads. */
const KIND_TYPES: Record<FieldKind, RegExp> = {
  ipv4: /^__be32$/, ipv6: /^__be32\[4\]$/, be16: /^__be16$/, be32: /^__be32$/, u8: /^__u8$/, u16: /^__u16$/, u32: /^__u32$/, u64: /^__u64$/,
  cstring: /^char\[\d+\]$/, bytes: /^__u8\[\d+\]$/,
};

export type FieldSpec<S extends StructName> = readonly [FieldName<S>, FieldKind];
export type Decoded<F extends Record<string, readonly [string, FieldKind]>> = { [P in keyof F]: ValueOf<F[P][1]> };

export interface StructCodec<S extends StructName, T> {
  readonly struct: S;
  /** sizeof(struct), from the contract. */
  readonly size: number;
  /** A field lies inside `b` (values of an older, shorter layout lack the later ones). */
  has(b: Uint8Array, field: FieldName<S>): boolean;
  /** Fields beyond the end of `b` read as zero. */
  decode(b: Uint8Array): T;
  /** A zeroed struct (padding included) with the given fields set. */
  encode(v: Partial<T>): Uint8Array;
}

interface Field { name: string; offset: number; size: number; kind: FieldKind }

/** The JavaScript expression reading field `f` from `b` (bytes) and `v` (a DataView on them). */
function readExpr(f: Field): string {
  const o = f.offset;
  switch (f.kind) {
    case 'ipv4': return `b[${o}] + '.' + b[${o + 1}] + '.' + b[${o + 2}] + '.' + b[${o + 3}]`;
    case 'ipv6': return `formatIP(b.subarray(${o}, ${o + 16}))`;
    case 'be16': return `v.getUint16(${o}, false)`;
    case 'be32': return `v.getUint32(${o}, false)`;
    case 'u8': return `b[${o}]`;
    case 'u16': return `v.getUint16(${o}, true)`;
    case 'u32': return `v.getUint32(${o}, true)`;
    case 'u64': return `v.getBigUint64(${o}, true)`;
    case 'cstring': return `cstring(b.subarray(${o}, ${o + f.size}))`;
    case 'bytes': return `b.slice(${o}, ${o + f.size})`;
  }
}

function zeroExpr(kind: FieldKind): string {
  return kind === 'ipv4' ? "'0.0.0.0'" : kind === 'ipv6' ? "'::'" : kind === 'u64' ? '0n' : kind === 'cstring' ? "''" : kind === 'bytes' ? 'new Uint8Array(0)' : '0';
}

function cstring(s: Uint8Array): string {
  const nul = s.indexOf(0);
  return Buffer.from(s.subarray(0, nul < 0 ? s.length : nul)).toString('latin1');
}

/**
 * The decoder of `fields` as one straight-line function, generated from the
 * contract's offsets as protobufjs generates its decoders: a walk over the
 * field list per entry is several times slower, and dumps decode up to
 * millions of entries (sy_conntrack, a restart's read-back). A field beyond
 * the end of the bytes (an older, shorter layout) reads as zero.
 */
function compileDecoder(fields: readonly Field[]): (b: Uint8Array) => unknown {
  const props = fields.map((f) => `${JSON.stringify(f.name)}: n >= ${f.offset + f.size} ? ${readExpr(f)} : ${zeroExpr(f.kind)}`);
  const body = `const v = new DataView(b.buffer, b.byteOffset, b.byteLength); const n = b.byteLength; return { ${props.join(', ')} };`;
  const make = new Function('cstring', 'formatIP', `return function decode(b) { ${body} };`) as
    (c: typeof cstring, f: typeof formatIP) => (b: Uint8Array) => unknown;
  return make(cstring, formatIP);
}

function write(f: Field, x: unknown, b: Uint8Array, v: DataView): void {
  const o = f.offset;
  switch (f.kind) {
    case 'ipv4': b.set(ipv4ToBytes(x as string), o); return;
    case 'ipv6': {
      const ip = mustParseIP(x as string);
      if (ip.family !== 'IPv6') throw new Error(`not an IPv6 address: ${x as string}`);
      b.set(ip.bytes, o);
      return;
    }
    case 'be16': v.setUint16(o, x as number, false); return;
    case 'be32': v.setUint32(o, (x as number) >>> 0, false); return;
    case 'u8': b[o] = x as number; return;
    case 'u16': v.setUint16(o, x as number, true); return;
    case 'u32': v.setUint32(o, (x as number) >>> 0, true); return;
    case 'u64': v.setBigUint64(o, x as bigint, true); return;
    case 'cstring': b.set(Buffer.from(x as string, 'latin1').subarray(0, f.size - 1), o); return;
    case 'bytes': b.set((x as Uint8Array).subarray(0, f.size), o); return;
  }
}

/** A codec of struct `s` whose decoded object has one property per entry of `spec` ([C field, kind]). */
export function structCodec<S extends StructName, F extends Record<string, FieldSpec<S>>>(s: S, spec: F): StructCodec<S, Decoded<F>> {
  const layout = SY_STRUCTS[s] as { size: number; fields: Record<string, { offset: number; size: number; type: string }> };
  const fields: Field[] = Object.entries(spec).map(([name, [c, kind]]) => {
    const d = layout.fields[c];
    if (!d) throw new Error(`struct ${s} has no field ${c}`);
    if (!KIND_TYPES[kind].test(d.type)) throw new Error(`${s}.${c} is ${d.type}: it cannot be read as ${kind}`);
    return { name, offset: d.offset, size: d.size, kind };
  });
  return {
    struct: s,
    size: layout.size,
    has: (b, field) => layout.fields[field]!.offset + layout.fields[field]!.size <= b.byteLength,
    decode: compileDecoder(fields) as (b: Uint8Array) => Decoded<F>,
    encode(x) {
      const b = new Uint8Array(layout.size);
      const v = new DataView(b.buffer);
      for (const f of fields) {
        const val = (x as Record<string, unknown>)[f.name];
        if (val !== undefined) write(f, val, b, v);
      }
      return b;
    },
  };
}

/** The members of a contract enum without their prefix: enumMembers({SY_BE_ACTIVE: 0, ...}, 'SY_BE_') -> {ACTIVE: 0, ...}. */
export function enumMembers<E extends Record<string, number>, P extends string>(e: E, prefix: P): { readonly [K in keyof E as K extends `${P}${infer R}` ? R : never]: E[K] } {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(e)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out as never;
}
