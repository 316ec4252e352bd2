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
import { agentBundlePath, agentSource } from '../../cli/agent-entry.js';

/** The agent's entry module, its bundle and the packages only the agent needs. */
const AGENT_ONLY = [/\/dist\/control-plane\/src\/cli\/agent-command\.js$/, /\/dist\/control-plane\/agent\.bundle\.mjs$/, /\/node_modules\/@kubernetes\/client-node\//, /\/node_modules\/fastify\//, /\/node_modules\/prom-client\//];

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

test('`switchyard agent` loads them (the control): the bundle alone when it is current, else the modules', () => {
  const { urls, status } = loadedBy(['agent']);
  assert.equal(status, 2, '--node-name missing');
  if (agentSource() === 'bundle') {
    assert.ok(urls.some((u) => u.endsWith('/dist/control-plane/agent.bundle.mjs')), 'the bundle loaded');
    assert.deepEqual(urls.filter((u) => u.includes('/node_modules/') || u.includes('/dist/control-plane/src/')), [], 'nothing of what the bundle holds loaded again');
  } else {
    assert.ok(agentModules(urls).some((u) => u.endsWith('agent-command.js')), 'agent-command.js loaded');
  }
});

// A tsc run rewrites every compiled module; a bundle made before it is
// yesterday's agent and must not run.
test('the agent bundle is used only when it is not older than the compiled agent it was made from', () => {
  const dist = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-agent-bundle-'));
  try {
    const compiled = path.join(dist, 'control-plane', 'src', 'cli', 'agent-command.js');
    fs.mkdirSync(path.dirname(compiled), { recursive: true });
    fs.writeFileSync(compiled, '');
    assert.equal(agentSource(dist), 'modules', 'no bundle');
    const bundle = agentBundlePath(dist);
    fs.writeFileSync(bundle, '');
    const t = Date.now() / 1000;
    fs.utimesSync(compiled, t - 10, t - 10);
    fs.utimesSync(bundle, t, t);
    assert.equal(agentSource(dist), 'bundle', 'made after the compile');
    fs.utimesSync(compiled, t + 10, t + 10);
    assert.equal(agentSource(dist), 'modules', 'compiled again after the bundle');
  } finally {
    fs.rmSync(dist, { recursive: true, force: true });
  }
});
