// control-plane/ (the product, all the agent's image holds) imports neither
// the lab nor the benchmarks nor the CLI that composes them; the lab does not
// import the benchmarks. The checker is shown to catch each import form by
// scratch files in a copy of control-plane/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../deploy/manifests.js';
import { importViolations } from './import-direction.js';

test('no part imports against the direction: cli -> {lab, bench} -> control-plane', () => {
  const found = importViolations(ROOT);
  assert.deepEqual(found.map((v) => `${v.file}:${v.line} imports ${v.specifier} (${v.reaches})`), []);
});

test('the checker reports every import form reaching lab/ or bench/ from a copy of control-plane/', (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-imports-'));
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  fs.cpSync(path.join(ROOT, 'control-plane/src'), path.join(tmp, 'control-plane/src'), { recursive: true });
  assert.deepEqual(importViolations(tmp), [], 'the copy is clean before the scratch files');
  const scratch = (rel: string, text: string): void => {
    fs.mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true });
    fs.writeFileSync(path.join(tmp, rel), text);
  };
  scratch('control-plane/src/cli/scratch-static.ts', `import { labPlan } from '../../../lab/src/netns/plan.js';\nexport const p = labPlan;\n`);
  scratch('control-plane/src/scratch-dynamic.ts', `export const run = async () => (await import('../../bench/run.js')).runBench([]);\n`);
  scratch('control-plane/src/model/scratch-reexport.ts', `export * from '../../../lab/src/cluster.js';\n`);
  scratch('control-plane/src/scratch-type.ts', `import type { X } from '../../lab/src/apiserver/types.js';\nexport type Y = import('../../lab/src/apiserver/store.js').Store | X;\n`);
  scratch('control-plane/src/scratch-dist.ts', `import '../../dist/lab/src/cli/lab-command.js';\n`);
  scratch('control-plane/src/scratch-cli.ts', `import { main } from '../../cli/main.js';\nexport { main };\n`);
  scratch('control-plane/src/scratch-computed.ts', `const where = '../../lab/src/cluster.js';\nexport const m = () => import(where);\n`);
  scratch('control-plane/src/scratch-require.ts', `import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\nexport const b = require('../../bench/prng.js');\n`);
  // Allowed: within control-plane, packages, builtins; and lab -> control-plane.
  scratch('control-plane/src/scratch-ok.ts', `import fs from 'node:fs';\nimport { pino } from 'pino';\nimport { ADMIN_COMMANDS } from './cli/admin-command.js';\nexport { fs, pino, ADMIN_COMMANDS };\n`);
  scratch('lab/src/scratch-ok.ts', `import { ADMIN_COMMANDS } from '../../control-plane/src/cli/admin-command.js';\nexport { ADMIN_COMMANDS };\n`);
  scratch('lab/src/scratch-bench.ts', `import { mulberry32 } from '../../bench/prng.js';\nexport { mulberry32 };\n`);
  const found = importViolations(tmp).map((v) => `${v.file}:${v.line} ${v.reaches} ${v.specifier}`).sort();
  assert.deepEqual(found, [
    'control-plane/src/cli/scratch-static.ts:1 lab ../../../lab/src/netns/plan.js',
    'control-plane/src/model/scratch-reexport.ts:1 lab ../../../lab/src/cluster.js',
    'control-plane/src/scratch-cli.ts:1 cli ../../cli/main.js',
    'control-plane/src/scratch-computed.ts:2 ? (not a string literal)',
    'control-plane/src/scratch-dist.ts:1 lab ../../dist/lab/src/cli/lab-command.js',
    'control-plane/src/scratch-dynamic.ts:1 bench ../../bench/run.js',
    'control-plane/src/scratch-require.ts:3 bench ../../bench/prng.js',
    'control-plane/src/scratch-type.ts:1 lab ../../lab/src/apiserver/types.js',
    'control-plane/src/scratch-type.ts:2 lab ../../lab/src/apiserver/store.js',
    'lab/src/scratch-bench.ts:1 bench ../../bench/prng.js',
  ]);
});
