// `switchyard agent --config FILE` as a process: a configuration with an
// unknown field stops the agent before it does anything, with exit status 2
// and the field's path on stderr (kube-proxy's strict decoding). Skipped,
// with the reason, while the agent has no --config flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AGENT_USAGE } from '../../control-plane/src/config/agent-options.js';
import { ROOT } from './manifests.js';

const wired = /--config\b/.test(AGENT_USAGE);

test('an agent whose --config has an unknown field refuses to start and names it', { skip: wired ? false : 'the agent has no --config flag yet' }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sy-agent-config-'));
  try {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, 'apiVersion: switchyard.io/v1alpha1\nkind: SwitchyardConfiguration\nmode: ebpf\nmaglev:\n  sed: 7\n');
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/switchyard.js'), 'agent', '--config', file], {
      encoding: 'utf8', timeout: 30_000,
      // No API server, no loader: it must stop on the file before reaching for either.
      env: { PATH: process.env.PATH, NODE_NAME: 'n1', KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '1' },
    });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim(), `switchyard agent: ${file}: unknown field "maglev.sed"`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
