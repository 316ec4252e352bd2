// The loader's message types in TypeScript (loader-messages.ts) are
// generated from loader/loader.proto: this test fails when the committed file
// is stale, and shows that a message added to the .proto reaches the types
// with no change to the generator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const GEN = path.join(ROOT, 'scripts', 'gen-loader-messages.mjs');
const PROTO = path.join(ROOT, 'loader', 'loader.proto');
const OUT = path.join(ROOT, 'control-plane', 'src', 'dataplane', 'ebpf', 'loader-messages.ts');

function gen(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [GEN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

test('loader-messages.ts is what loader/loader.proto generates', () => {
  const r = gen(['--check']);
  assert.equal(r.status, 0, `regenerate with node scripts/gen-loader-messages.mjs: ${r.stderr}`);
});

test('a message added to loader.proto appears in the generated types, and the check then fails', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sy-loader-proto-'));
  try {
    const proto = path.join(dir, 'loader.proto');
    const out = path.join(dir, 'loader-messages.ts');
    const src = readFileSync(PROTO, 'utf8');
    // A new MapOp member and its message, as a new loader request would add them.
    const grown = src
      .replace(/(message MapOp \{\s*oneof op \{)/, '$1\n    ScratchOp scratch_op = 99;')
      .concat('\nmessage ScratchOp {\n  uint32 scratch_id = 1;\n  repeated bytes blobs = 2;\n}\n');
    assert.notEqual(grown, src);
    writeFileSync(proto, grown);
    assert.equal(gen(['--proto', proto, '--out', out]).status, 0);
    const text = readFileSync(out, 'utf8');
    assert.match(text, /export interface ScratchOp \{\n {2}scratchId: number;\n {2}blobs: Uint8Array\[\];\n\}/);
    assert.match(text, /export type MapOp_op =[^;]*\| \{ scratchOp: ScratchOpInit; /);
    // The committed file against the grown .proto: stale, named in the message.
    const stale = gen(['--check', '--proto', proto, '--out', OUT]);
    assert.equal(stale.status, 1);
    assert.match(stale.stderr, /loader-messages\.ts is stale/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
