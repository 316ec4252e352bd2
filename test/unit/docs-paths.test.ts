// Every file name docs/architecture.md writes exists in the repository, so the
// document cannot drift from the tree silently (issue #15: it had described
// one entry program and 8 headers when there were 7 and 13). Shown to fail
// on a scratch copy of the document with bogus names added.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../deploy/manifests.js';
import { missingPaths, pathTokens } from './docs-paths.js';

const DOC = 'docs/architecture.md';

test('every path docs/architecture.md names exists in the repository', () => {
  const text = fs.readFileSync(path.join(ROOT, DOC), 'utf8');
  assert.ok(pathTokens(text).length > 100, 'the document names the files it describes');
  assert.deepEqual(missingPaths(ROOT, DOC, text), []);
});

test('a scratch copy of the document with bogus names fails the check, naming each', (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-docs-'));
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const scratch = path.join(tmp, 'architecture.md');
  fs.writeFileSync(scratch, fs.readFileSync(path.join(ROOT, DOC), 'utf8')
    + '\nAlso `control-plane/src/dataplane/ebpf/no-such-codec.ts`, the header `sy_no_such.h`,'
    + ' the folder `loader/src/nowhere/` and [a link](no-such-page.md).\n'
    + '```\n informers   control-plane/src/k8s/no-such-informers.ts\n```\n');
  const text = fs.readFileSync(scratch, 'utf8');
  assert.deepEqual(missingPaths(ROOT, DOC, text), [
    '`control-plane/src/dataplane/ebpf/no-such-codec.ts`', '`sy_no_such.h`', '`loader/src/nowhere/`',
    '`control-plane/src/k8s/no-such-informers.ts`', '(no-such-page.md)',
  ]);
  // Not paths: URLs and node paths, prose with spaces, flags.
  assert.deepEqual(pathTokens('`/v1/status` `--devices` `a b/c` `TCX_NEXT`'), []);
});
