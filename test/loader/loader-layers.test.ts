// The loader's files call each other in layers, never in a circle, and only
// the request layer knows the wire protocol: scripts/loader-layers.mjs checks
// both on the built objects (nm and the compiler's .d files). The check is
// shown to fail on a real circle and a real leak, each compiled here into a
// scratch copy of the build. Needs a built loader (make -C loader), cc, nm.
import assert from "node:assert/strict";
import { spawnSync, execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { repoRoot } from "./loader-client.js";

const ROOT = repoRoot();
const BUILD = path.join(ROOT, "loader/build");
const SCRIPT = path.join(ROOT, "scripts/loader-layers.mjs");

function check(...args: string[]): { status: number; out: string } {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: "utf8" });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** A scratch copy of the loader's objects and .d files (those of its current sources). */
function scratchBuild(tmp: string, name: string): string {
  const dir = path.join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const current = (f: string): boolean => f.startsWith("loader.pb-c.") || existsSync(path.join(ROOT, "loader/src", f.replace(/\.[od]$/, ".c")));
  for (const f of readdirSync(BUILD).filter((f) => (f.endsWith(".o") || f.endsWith(".d")) && current(f))) {
    copyFileSync(path.join(BUILD, f), path.join(dir, f));
  }
  return dir;
}

/** Compiles src (C text, compiled from loader/src) over dir/obj, with its .d file. */
function compileInto(dir: string, obj: string, src: string): void {
  const c = path.join(dir, obj.replace(/\.o$/, ".scratch.c"));
  writeFileSync(c, src);
  const flags = execFileSync("pkg-config", ["--cflags", "libbpf", "libprotobuf-c"], { encoding: "utf8" }).trim().split(/\s+/).filter(Boolean);
  execFileSync("cc", ["-O2", "-std=gnu11", "-I", path.join(ROOT, "loader/src"), "-I", path.join(ROOT, "loader/gen"),
    "-I", path.join(ROOT, "bpf/build"), "-I", path.join(ROOT, "bpf/include"), ...flags,
    "-MMD", "-MF", path.join(dir, obj.replace(/\.o$/, ".d")), "-c", c, "-o", path.join(dir, obj)]);
}

describe("loader layers (scripts/loader-layers.mjs)", () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "sy-loader-layers-"));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("the built loader has no circle of calls and keeps protobuf in the request layer", () => {
    const r = check(); // loader/build, objects of loader/src
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /no cycle/);
  });

  it("fails on two files that call each other", () => {
    const dir = path.join(tmp, "pair");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "a.c"), "int b(void);\nint a(void) { return b() + 1; }\n");
    writeFileSync(path.join(dir, "b.c"), "int a(void);\nint b(void) { return a() - 1; }\n");
    for (const f of ["a", "b"]) execFileSync("cc", ["-c", path.join(dir, `${f}.c`), "-o", path.join(dir, `${f}.o`)]);
    const r = check(dir);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /cycle between a\.o, b\.o/);
  });

  it("fails when a kernel-level file calls back into a request handler (a real circle in the loader)", () => {
    // ct_gc.c as it is, plus one call of the apply handler: apply.o calls
    // ct_gc.o, which now calls apply.o.
    const dir = scratchBuild(tmp, "circle");
    compileInto(dir, "ct_gc.o", `#include "ct_gc.c"
#include "handlers.h"
int ct_gc_scratch(struct loader *L, struct reply *r) { return handle_apply(L, NULL, r); }
`);
    const r = check(dir);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /cycle between [^\n]*apply\.o[^\n]*ct_gc\.o/);
    assert.match(r.out, /ct_gc\.o -> apply\.o \(handle_apply\)/);
  });

  it("fails when a kernel-level file builds a protobuf reply (build_inner taking the reply)", () => {
    const dir = scratchBuild(tmp, "leak");
    compileInto(dir, "maglev_tables.o", `#include "maglev_tables.c"
#include "reply.h"
int maglev_scratch(struct reply *r) { return reply_err(r, CODE(KERNEL), "inner table"); }
`);
    const r = check(dir);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /maglev_tables\.o is below the request layer but knows the wire protocol: reply_err; includes the protocol headers/);
  });
});
