// The map-layout contract as the compiled BPF object's BTF states it, and the
// comparison of two such contracts (docs/maps.md, "Layout contract").
//
// The contract is what `struct sy_layout_contract` of bpf/layout_btf.c
// reaches: every struct of bpf/include/sy_structs.h (name, size, and each
// field's offset, size and C type) and every enum (flags, counter indices,
// lifetimes: each member's value), plus the key and value type of every map
// of the object's .maps section. generate.mjs writes it as TypeScript
// (control-plane/src/dataplane/ebpf/sy-layout.generated.ts), which the codecs
// of map-values.ts read their offsets from; test/unit/map-layout.test.ts
// compares it with the object and shows that a drift is reported.
import { execFileSync } from 'node:child_process';

export const ANCHOR = 'sy_layout_contract';

/** `bpftool btf dump file <obj> -j`: the BTF types, indexed by id. */
export function readBtf(objPath, bpftool = process.env.BPFTOOL || 'bpftool') {
  const out = execFileSync(bpftool, ['btf', 'dump', 'file', objPath, '-j'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const types = JSON.parse(out).types;
  const byId = new Map(types.map((t) => [t.id, t]));
  return { types, byId };
}

/** The C spelling of a BTF type: the first typedef name, "struct x", "T[n]", or the int's name. */
function typeName(btf, id) {
  const t = btf.byId.get(id);
  if (!t) return 'void';
  switch (t.kind) {
    case 'TYPEDEF': case 'INT': case 'FLOAT': return t.name;
    case 'STRUCT': case 'UNION': return `${t.kind.toLowerCase()} ${t.name}`;
    case 'ENUM': case 'ENUM64': return `enum ${t.name}`;
    case 'ARRAY': return `${typeName(btf, t.type_id)}[${t.nr_elems}]`;
    case 'PTR': return `${typeName(btf, t.type_id)} *`;
    case 'CONST': case 'VOLATILE': case 'RESTRICT': case 'TYPE_TAG': return typeName(btf, t.type_id);
    default: return t.kind;
  }
}

function sizeOf(btf, id) {
  const t = btf.byId.get(id);
  if (!t) throw new Error(`BTF type ${id} missing`);
  if (t.kind === 'ARRAY') return t.nr_elems * sizeOf(btf, t.type_id);
  if (['TYPEDEF', 'CONST', 'VOLATILE', 'RESTRICT', 'TYPE_TAG'].includes(t.kind)) return sizeOf(btf, t.type_id);
  if (t.kind === 'PTR') return 8;
  return t.size;
}

function resolve(btf, id) {
  let t = btf.byId.get(id);
  while (t && ['TYPEDEF', 'CONST', 'VOLATILE', 'RESTRICT', 'TYPE_TAG'].includes(t.kind)) t = btf.byId.get(t.type_id);
  return t;
}

function structOf(btf, t) {
  const fields = {};
  for (const m of t.members) {
    if (m.bits_offset % 8 !== 0 || m.bitfield_size) throw new Error(`struct ${t.name}.${m.name}: bit fields are not part of the contract`);
    fields[m.name] = { offset: m.bits_offset / 8, size: sizeOf(btf, m.type_id), type: typeName(btf, m.type_id) };
  }
  return { size: t.size, fields };
}

/** The maps of the .maps section: map type number, key and value C types (a map of maps: its inner map's value size). */
function mapsOf(btf) {
  const maps = {};
  const sec = btf.types.find((t) => t.kind === 'DATASEC' && t.name === '.maps');
  for (const v of sec?.vars ?? []) {
    const variable = btf.byId.get(v.type_id);
    const def = resolve(btf, variable.type_id);
    const m = {};
    for (const f of def.members) {
      const ptr = btf.byId.get(f.type_id);
      const target = ptr?.kind === 'PTR' ? btf.byId.get(ptr.type_id) : undefined;
      if (f.name === 'type' && target?.kind === 'ARRAY') m.type = target.nr_elems;
      else if (f.name === 'key' || f.name === 'value') m[f.name] = typeName(btf, ptr.type_id);
      else if (f.name === 'key_size' || f.name === 'value_size') m[f.name] = target.nr_elems;
      else if (f.name === 'values') {
        // __array(values, struct inner): an array of pointers to the inner map's definition.
        const inner = resolve(btf, btf.byId.get(resolve(btf, f.type_id).type_id).type_id);
        for (const g of inner.members) {
          const p = btf.byId.get(btf.byId.get(g.type_id).type_id);
          if (g.name === 'value_size') m.inner_value_size = p.nr_elems;
          if (g.name === 'value') m.inner_value = typeName(btf, btf.byId.get(g.type_id).type_id);
        }
      }
    }
    maps[variable.name] = m;
  }
  return maps;
}

/** The contract an object's BTF holds (see the top of this file). */
export function contractFromBtf(btf) {
  const anchor = btf.types.find((t) => t.kind === 'STRUCT' && t.name === ANCHOR);
  if (!anchor) throw new Error(`no struct ${ANCHOR} in the object's BTF (is bpf/layout_btf.c linked in?)`);
  const structs = {}, enums = {};
  for (const m of anchor.members) {
    const t = resolve(btf, m.type_id);
    if (t.kind === 'STRUCT') structs[t.name] = structOf(btf, t);
    else if (t.kind === 'ENUM' || t.kind === 'ENUM64') enums[t.name] = Object.fromEntries(t.values.map((v) => [v.name, Number(v.val)]));
    else throw new Error(`${ANCHOR}.${m.name}: only structs and enums belong to the contract`);
  }
  return { structs, enums, maps: mapsOf(btf) };
}

/**
 * What differs between the contract the control plane was built with (want)
 * and the one an object holds (got): one line per struct, field, enum member
 * or map that is missing, added or different. Empty: no drift.
 * parts: the parts to compare (an object without maps compares structs and enums).
 */
export function diffContract(want, got, parts = ['structs', 'enums', 'maps']) {
  const out = [];
  const keys = (a, b) => [...new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})])].sort();
  if (parts.includes('structs')) {
    for (const s of keys(want.structs, got.structs)) {
      const w = want.structs[s], g = got.structs[s];
      if (!g) { out.push(`struct ${s}: in the TypeScript contract, not in the object`); continue; }
      if (!w) { out.push(`struct ${s}: in the object, not in the TypeScript contract`); continue; }
      if (w.size !== g.size) out.push(`struct ${s}: size ${w.size} in the TypeScript contract, ${g.size} in the object`);
      for (const f of keys(w.fields, g.fields)) {
        const wf = w.fields[f], gf = g.fields[f];
        if (!gf) out.push(`${s}.${f}: in the TypeScript contract, not in the object`);
        else if (!wf) out.push(`${s}.${f}: in the object (offset ${gf.offset}, ${gf.type}), not in the TypeScript contract`);
        else {
          for (const p of ['offset', 'size', 'type']) {
            if (wf[p] !== gf[p]) out.push(`${s}.${f}: ${p} ${wf[p]} in the TypeScript contract, ${gf[p]} in the object`);
          }
        }
      }
    }
  }
  if (parts.includes('enums')) {
    for (const e of keys(want.enums, got.enums)) {
      const w = want.enums[e], g = got.enums[e];
      if (!g) { out.push(`enum ${e}: in the TypeScript contract, not in the object`); continue; }
      if (!w) { out.push(`enum ${e}: in the object, not in the TypeScript contract`); continue; }
      for (const n of keys(w, g)) {
        if (!(n in g)) out.push(`${e}.${n}: in the TypeScript contract (${w[n]}), not in the object`);
        else if (!(n in w)) out.push(`${e}.${n}: in the object (${g[n]}), not in the TypeScript contract`);
        else if (w[n] !== g[n]) out.push(`${e}.${n}: ${w[n]} in the TypeScript contract, ${g[n]} in the object`);
      }
    }
  }
  if (parts.includes('maps')) {
    for (const m of keys(want.maps, got.maps)) {
      const w = want.maps[m], g = got.maps[m];
      if (!g) { out.push(`map ${m}: in the TypeScript contract, not in the object`); continue; }
      if (!w) { out.push(`map ${m}: in the object, not in the TypeScript contract`); continue; }
      for (const p of keys(w, g)) if (w[p] !== g[p]) out.push(`map ${m}: ${p} ${w[p]} in the TypeScript contract, ${g[p]} in the object`);
    }
  }
  return out;
}

/** The generated TypeScript module (deterministic: the same object gives the same bytes). */
export function renderTs(contract, source) {
  const lit = (v) => (typeof v === 'string' ? `'${v}'` : String(v));
  const obj = (o) => `{ ${Object.entries(o).map(([k, v]) => `${k}: ${lit(v)}`).join(', ')} }`;
  const structs = Object.entries(contract.structs).map(([name, s]) => `  ${name}: { size: ${s.size}, fields: {\n${
    Object.entries(s.fields).map(([f, d]) => `    ${f}: ${obj(d)},\n`).join('')}  } },\n`).join('');
  const enums = Object.entries(contract.enums).map(([name, e]) => `  ${name}: {\n${
    Object.entries(e).map(([n, v]) => `    ${n}: ${v},\n`).join('')}  },\n`).join('');
  const maps = Object.entries(contract.maps).map(([name, m]) => `  ${name}: ${obj(m)},\n`).join('');
  return `// GENERATED from the BTF of ${source} by scripts/map-layout/generate.mjs
// (run by \`make\`): do not edit. The map-layout contract of
// bpf/include/sy_structs.h: struct offsets, sizes and C types, the enums
// (flags, counter indices, lifetimes) and each map's key and value types.
// map-values.ts builds its codecs from it; test/unit/map-layout.test.ts fails
// when it differs from the compiled object (docs/maps.md, "Layout contract").

export const SY_STRUCTS = {
${structs}} as const;

export const SY_ENUMS = {
${enums}} as const;

/** type: enum bpf_map_type; key/value: C types; a map of maps gives its inner map's value size. */
export const SY_MAPS = {
${maps}} as const;
`;
}
