// set_maglev against a real loader: a table of the size the group already
// has is rewritten in place (same inner map, only the changed elements
// written, counted in ApplyResult), a first table or a new size is a fresh
// inner map swapped in. Needs root, bpffs and a built loader (make -C loader).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, type Response } from "./loader-client.js";
import { Lab, type LoaderProcess, run } from "./lab.js";

const M = 251;

/** The inner map behind a group of a pinned sy_maglev: its id and its slots, in slot order. */
function inner(outerPin: string, group: number): { id: number; slots: number[] } {
  const hex = (a: string[]) => Buffer.from(a.map((h) => parseInt(h, 16)));
  const outer = JSON.parse(run("bpftool", ["-j", "map", "dump", "pinned", outerPin]).stdout) as Array<{ key: string[]; value?: string[]; inner_map_id?: number }>;
  const e = outer.find((x) => hex(x.key).readUInt32LE(0) === group);
  assert.ok(e, `group ${group} in ${outerPin}`);
  const id = e.inner_map_id ?? hex(e.value!).readUInt32LE(0);
  const dump = JSON.parse(run("bpftool", ["-j", "map", "dump", "id", String(id)]).stdout) as Array<{ key: string[]; value: string[] }>;
  const slots: number[] = [];
  for (const x of dump) {
    const k = hex(x.key).readUInt32LE(0), v = hex(x.value);
    slots[2 * k] = v.readUInt32LE(0);
    slots[2 * k + 1] = v.readUInt32LE(4);
  }
  return { id, slots };
}

/** Slot s of a table over ids: a fixed spread, so that changes are easy to count. */
const tableOver = (ids: number[], m = M): number[] => Array.from({ length: m }, (_, s) => ids[(s * 7 + (s >> 3)) % ids.length]!);

/** Elements (pairs of slots) that differ between two tables of one size. */
function changedElems(a: number[], b: number[]): { slots: number; elems: number } {
  let slots = 0, elems = 0;
  for (let i = 0; i < a.length; i += 2) {
    const d0 = a[i] !== b[i], d1 = i + 1 < a.length && a[i + 1] !== b[i + 1];
    slots += Number(d0) + Number(d1);
    if (d0 || d1) elems++;
  }
  return { slots, elems };
}

describe("switchyard-loader: Maglev tables rewritten in place", { timeout: 120000 }, () => {
  let lab: Lab;
  let loader: LoaderProcess | undefined;
  let sock = "";
  let outerPin = "";

  before(async () => {
    lab = new Lab();
    const ns = lab.netns("mg");
    const instance = lab.instance("mg");
    loader = await lab.startLoader(ns, instance, ["--max-services", "1024"]);
    sock = loader.socketPath;
    outerPin = `${lab.pinDir(instance)}/sy_maglev`;
  });

  after(async () => {
    await lab?.cleanup();
  });

  const apply = async (ops: Array<Record<string, unknown>>): Promise<NonNullable<Response["apply"]>> => {
    const r = await call(sock, { apply: { ops } });
    return r.apply!;
  };

  it("writes only the changed slots into the same inner map; a new size replaces it", async () => {
    const t3 = tableOver([11, 12, 13]);
    const first = await apply([{ setMaglev: { group: 5, backendIds: t3 } }]);
    const before = inner(outerPin, 5);
    assert.deepEqual(before.slots.slice(0, M), t3);

    // Backend 13 leaves: its slots go to 11 and 12, the others stay.
    const t2 = t3.map((id, s) => (id === 13 ? [11, 12][s % 2]! : id));
    const want = changedElems(t3, t2);
    assert.ok(want.slots > 0 && want.elems < (M + 1) / 2, `a partial change (${want.slots} slots)`);
    const r = await apply([{ setMaglev: { group: 5, backendIds: t2 } }]);
    assert.equal(r.applied, 1);
    const after1 = inner(outerPin, 5);
    assert.equal(after1.id, before.id, "the same inner map");
    assert.deepEqual(after1.slots.slice(0, M), t2);
    assert.equal(after1.slots[M], 0, "the padding of an odd M stays 0");
    assert.equal(first.maglevReplaced, 1, "a first table is a fresh inner map");
    assert.equal(first.maglevInPlace, 0);
    assert.equal(r.maglevInPlace, 1, "same size: in place");
    assert.equal(r.maglevReplaced, 0, "same size: no inner-map replacement");
    assert.equal(r.maglevSlotsChanged, want.slots, "the slots that changed");
    assert.equal(r.maglevElemsWritten, want.elems, "only the elements holding changed slots are written");

    // The same table again: nothing written.
    const same = await apply([{ setMaglev: { group: 5, backendIds: t2 } }]);
    assert.equal(same.maglevInPlace, 1);
    assert.equal(same.maglevElemsWritten, 0);
    assert.equal(same.maglevSlotsChanged, 0);

    // Another size: a fresh inner map.
    const t509 = tableOver([11, 12], 509);
    const grown = await apply([{ setMaglev: { group: 5, backendIds: t509 } }]);
    assert.equal(grown.maglevReplaced, 1);
    assert.equal(grown.maglevInPlace, 0);
    const after2 = inner(outerPin, 5);
    assert.notEqual(after2.id, before.id, "a new size is a new inner map");
    assert.deepEqual(after2.slots.slice(0, 509), t509);
  });

  it("mixes in-place and replaced tables in one request, each group landing in order", async () => {
    const a = tableOver([21, 22]), b = tableOver([31, 32]);
    await apply([{ setMaglev: { group: 7, backendIds: a } }, { setMaglev: { group: 8, backendIds: b } }]);
    const idA = inner(outerPin, 7).id;
    const a2 = tableOver([21, 22, 23]), b2 = tableOver([31], 509), a3 = tableOver([22, 23]);
    // Group 7 twice in one request: the second write must land on the first's result.
    const r = await apply([
      { setMaglev: { group: 7, backendIds: a2 } },
      { setMaglev: { group: 8, backendIds: b2 } },
      { setMaglev: { group: 9, backendIds: a } },
      { setMaglev: { group: 7, backendIds: a3 } },
    ]);
    assert.equal(r.applied, 4);
    assert.equal(r.maglevInPlace, 2, "group 7 twice");
    assert.equal(r.maglevReplaced, 2, "group 8 (new size) and 9 (new group)");
    assert.equal(r.maglevSlotsChanged, changedElems(a, a2).slots + changedElems(a2, a3).slots);
    assert.equal(inner(outerPin, 7).id, idA);
    assert.deepEqual(inner(outerPin, 7).slots.slice(0, M), a3);
    assert.deepEqual(inner(outerPin, 8).slots.slice(0, 509), b2);
    assert.deepEqual(inner(outerPin, 9).slots.slice(0, M), a);
  });
});
