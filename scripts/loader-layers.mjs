#!/usr/bin/env node
// Checks the loader's layering from its object files (loader/build/*.o):
//  1. no circle of calls between files: for each object, which other object
//     defines the symbols it leaves undefined (nm); every strongly connected
//     component of that graph must be a single file;
//  2. only the request layer knows the wire protocol: an object that does not
//     define a request handler (handle_*, dispatch, server_run) and is not one
//     of PROTOCOL_HELPERS must not include loader.pb-c.h (its .d file, written
//     by the compiler's -MMD) nor reference a reply_* or protobuf-c symbol.
// Usage: loader-layers.mjs [BUILD_DIR [SRC_DIR]] (default loader/build and
// loader/src; objects without a source there are left out). Exit 0 when both
// hold, 1 with every cycle and leak listed, 2 on a usage error.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Objects of the request layer that define no handler themselves.
const PROTOCOL_HELPERS = new Set(['reply.o', 'apply_validate.o', 'loader.pb-c.o']);
const HANDLER_SYMBOL = /^(handle_\w+|dispatch|server_run)$/;
const PROTOCOL_SYMBOL = /^(reply_\w+|switchyard__loader__v1__\w+|protobuf_c_\w+)$/;

/** { defined: Set, undefined: Set } of an object's global symbols. */
function symbols(file) {
  const out = execFileSync('nm', ['-g', file], { encoding: 'utf8' });
  const defined = new Set(), undef = new Set();
  for (const line of out.split('\n')) {
    const m = line.match(/^\s*(?:[0-9a-fA-F]+\s+)?([A-Za-z])\s+(\S+)$/);
    if (!m) continue;
    if (m[1] === 'U' || m[1] === 'w') undef.add(m[2]);
    else defined.add(m[2]);
  }
  return { defined, undef };
}

/**
 * Edges a -> b (with the symbols behind each) between the objects of dir.
 * With srcDir, only objects built from one of its .c files (or the generated
 * loader.pb-c.o) count: the Makefile links those, and a build directory may
 * still hold objects of files since removed.
 */
export function callGraph(dir, srcDir) {
  const objs = readdirSync(dir).filter((f) => f.endsWith('.o'))
    .filter((f) => !srcDir || f === 'loader.pb-c.o' || existsSync(path.join(srcDir, f.replace(/\.o$/, '.c')))).sort();
  const syms = new Map(objs.map((o) => [o, symbols(path.join(dir, o))]));
  const definer = new Map();
  for (const [o, s] of syms) for (const d of s.defined) definer.set(d, o);
  const edges = new Map(objs.map((o) => [o, new Map()]));
  for (const [o, s] of syms) {
    for (const u of s.undef) {
      const d = definer.get(u);
      if (!d || d === o) continue;
      const e = edges.get(o);
      e.set(d, [...(e.get(d) ?? []), u]);
    }
  }
  return { objs, syms, edges };
}

/** Strongly connected components with more than one file (Tarjan). */
export function cycles(objs, edges) {
  let index = 0;
  const idx = new Map(), low = new Map(), onStack = new Set(), stack = [], out = [];
  const visit = (v) => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); onStack.add(v);
    for (const w of edges.get(v).keys()) {
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do { w = stack.pop(); onStack.delete(w); comp.push(w); } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const o of objs) if (!idx.has(o)) visit(o);
  return out;
}

/** Objects outside the request layer that know the wire protocol. */
export function protocolLeaks(dir, objs, syms) {
  const leaks = [];
  for (const o of objs) {
    const s = syms.get(o);
    if (PROTOCOL_HELPERS.has(o) || [...s.defined].some((d) => HANDLER_SYMBOL.test(d))) continue;
    const why = [...s.undef].filter((u) => PROTOCOL_SYMBOL.test(u));
    const dep = path.join(dir, o.replace(/\.o$/, '.d'));
    if (existsSync(dep) && /(^|[\s/])(loader\.pb-c\.h|reply\.h|handlers\.h)(\s|$)/m.test(readFileSync(dep, 'utf8'))) {
      why.push('includes the protocol headers (loader.pb-c.h, reply.h or handlers.h)');
    }
    if (why.length) leaks.push({ obj: o, why });
  }
  return leaks;
}

function main() {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const dir = path.resolve(process.argv[2] ?? path.join(root, 'loader/build'));
  const src = process.argv[3] ?? (process.argv[2] ? undefined : path.join(root, 'loader/src'));
  if (!existsSync(dir)) {
    console.error(`loader-layers: ${dir} does not exist (build the loader first)`);
    process.exit(2);
  }
  const { objs, syms, edges } = callGraph(dir, src);
  if (objs.length === 0) {
    console.error(`loader-layers: no object files in ${dir}`);
    process.exit(2);
  }
  let failed = false;
  for (const comp of cycles(objs, edges)) {
    failed = true;
    const inside = comp.flatMap((a) => [...edges.get(a)].filter(([b]) => comp.includes(b))
      .map(([b, s]) => `    ${a} -> ${b} (${s.slice(0, 3).join(', ')}${s.length > 3 ? ', ...' : ''})`));
    console.log(`cycle between ${comp.join(', ')}:\n${inside.join('\n')}`);
  }
  for (const { obj, why } of protocolLeaks(dir, objs, syms)) {
    failed = true;
    console.log(`${obj} is below the request layer but knows the wire protocol: ${why.join('; ')}`);
  }
  const nEdges = [...edges.values()].reduce((n, e) => n + e.size, 0);
  if (failed) {
    console.log(`loader-layers: FAILED (${objs.length} objects, ${nEdges} call edges)`);
    process.exit(1);
  }
  console.log(`loader-layers: ${objs.length} objects, ${nEdges} call edges, no cycle; the wire protocol stays in the request layer`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
