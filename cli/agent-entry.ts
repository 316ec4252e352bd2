// Where `switchyard agent` loads its modules from: the bundle
// (dist/control-plane/agent.bundle.mjs, scripts/bundle-agent.mjs) when it was
// made from the compiled modules present, else the modules themselves. Loading
// the ~1,000 modules one by one costs most of a second of the agent's cold
// start; the bundle a quarter of it. A bundle older than the compiled
// agent-command.js (tsc rewrites every output) is yesterday's agent: never run.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type RunAgent = (argv: string[]) => Promise<number>;

/** dist/ (this file is dist/cli/agent-entry.js). */
const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function agentBundlePath(dist = DIST): string {
  return path.join(dist, 'control-plane', 'agent.bundle.mjs');
}

/** 'bundle' when the bundle is there and not older than the compiled agent. */
export function agentSource(dist = DIST): 'bundle' | 'modules' {
  const bundle = agentBundlePath(dist);
  const compiled = path.join(dist, 'control-plane', 'src', 'cli', 'agent-command.js');
  if (!existsSync(bundle) || !existsSync(compiled)) return 'modules';
  return statSync(bundle).mtimeMs >= statSync(compiled).mtimeMs ? 'bundle' : 'modules';
}

export async function loadRunAgent(): Promise<RunAgent> {
  if (agentSource() === 'bundle') {
    // A path, not a specifier tsc resolves: the bundle is a build product.
    const mod = (await import(pathToFileURL(agentBundlePath()).href)) as { runAgent: RunAgent };
    return mod.runAgent;
  }
  return (await import('../control-plane/src/cli/agent-command.js')).runAgent;
}
