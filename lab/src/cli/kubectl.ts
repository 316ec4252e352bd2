// `switchyard lab kubectl [--name LAB] ARGS...`: the machine's own kubectl,
// run in the lab's control-plane namespace (where the API server's address
// is reachable) with the lab's kubeconfig. ARGS go to kubectl untouched.

import fs from 'node:fs';
import path from 'node:path';
import { execInteractive } from '../netns/ip.js';
import { DEFAULT_LAB_NAME } from '../netns/plan.js';
import { LabError } from './api-client.js';
import { labInfo } from './lifecycle.js';

/** $SWITCHYARD_KUBECTL, else the first kubectl on PATH. */
export function findKubectl(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SWITCHYARD_KUBECTL) return env.SWITCHYARD_KUBECTL;
  for (const dir of (env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    const p = path.join(dir || '.', 'kubectl');
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // next directory
    }
  }
  throw new LabError('kubectl: no kubectl on PATH (scripts/setup.sh installs Debian\'s kubernetes-client; or set SWITCHYARD_KUBECTL)');
}

/** Only a leading --name LAB (or --name=LAB) is ours; the rest is kubectl's. */
export function splitKubectlArgs(argv: string[]): { name: string; args: string[] } {
  const [first, second, ...rest] = argv;
  if (first === '--name') {
    if (!second) throw new LabError('kubectl: --name needs a lab name', 2);
    return { name: second, args: rest };
  }
  if (first?.startsWith('--name=')) return { name: first.slice('--name='.length), args: argv.slice(1) };
  return { name: DEFAULT_LAB_NAME, args: argv };
}

export async function labKubectl(argv: string[]): Promise<number> {
  const { name, args } = splitKubectlArgs(argv);
  const kubectl = findKubectl();
  const info = await labInfo(name);
  return execInteractive(info.controlPlane.netns, [kubectl, '--kubeconfig', info.kubeconfig, ...args]);
}
