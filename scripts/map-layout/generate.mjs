#!/usr/bin/env node
// Writes control-plane/src/dataplane/ebpf/sy-layout.generated.ts from the
// BTF of bpf/build/switchyard.bpf.o (only when its content changes).
//   generate.mjs            write it
//   generate.mjs --check    exit 1, naming the differences, if it is stale
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { contractFromBtf, readBtf, renderTs } from './btf-contract.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const OBJECT = 'bpf/build/switchyard.bpf.o';
export const GENERATED = 'control-plane/src/dataplane/ebpf/sy-layout.generated.ts';

const text = renderTs(contractFromBtf(readBtf(path.join(root, OBJECT))), OBJECT);
const out = path.join(root, GENERATED);
const old = existsSync(out) ? readFileSync(out, 'utf8') : '';
if (process.argv.includes('--check')) {
  if (old !== text) {
    console.error(`${GENERATED} is stale: run make (or node scripts/map-layout/generate.mjs) and commit it`);
    process.exit(1);
  }
} else if (old !== text) {
  writeFileSync(out, text);
  console.log(`wrote ${GENERATED}`);
}
