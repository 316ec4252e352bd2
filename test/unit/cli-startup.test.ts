// The CLI loads the agent's modules only for `switchyard agent`: every other
// command (the lab's above all, which the end-to-end tests run hundreds of
// times) paid ~0.7 s of CPU loading them. A module loader hook lists what a
// command loads; `switchyard agent` itself is the control that it sees them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../deploy/manifests.js';

/** The agent's entry module and the packages only the agent needs. */
const AGENT_ONLY = [/\/dist\/control-plane\/src\/cli\/agent-command\.js$/, /\/node_modules\/@kubernetes\/client-node\//, /\/node_modules\/fastify\//, /\/node_modules\/prom-client\//];

function loadedBy(argv: string[]): { urls: string[]; status: number | null } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-cli-startup-'));
  try {
    fs.writeFileSync(path.join(dir, 'hooks.mjs'), 'export async function load(url, context, next) {\n  process.stderr.write(`LOADED ${url}\\n`);\n  return next(url, context);\n}\n');
    fs.writeFileSync(path.join(dir, 'register.mjs'), "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n");
    const r = spawnSync(process.execPath, ['--import', path.join(dir, 'register.mjs'), path.join(ROOT, 'bin/switchyard.js'), ...argv], { encoding: 'utf8', timeout: 60_000 });
    return { urls: r.stderr.split('\n').filter((l) => l.startsWith('LOADED ')).map((l) => l.slice(7)), status: r.status };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const agentModules = (urls: string[]): string[] => urls.filter((u) => AGENT_ONLY.some((re) => re.test(u)));

test('a lab command loads none of the agent\'s modules', () => {
  const { urls, status } = loadedBy(['lab', 'status', '--name', 'zz9none']);
  assert.equal(status, 1, 'no such lab');
  assert.ok(urls.some((u) => u.endsWith('/dist/lab/src/cli/lab-command.js')), 'the hook saw the lab command load');
  assert.deepEqual(agentModules(urls), []);
});

test('`switchyard agent` loads them (the control)', () => {
  const { urls, status } = loadedBy(['agent']);
  assert.equal(status, 2, '--node-name missing');
  assert.ok(agentModules(urls).some((u) => u.endsWith('agent-command.js')), 'agent-command.js loaded');
});
