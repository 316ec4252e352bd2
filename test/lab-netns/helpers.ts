// Shared helpers of the namespace-lab tests: unique lab names, a CLI runner
// that calls runLabCommand/runCleanup in a child process (so a hung command
// is killed, not the test runner), the leftover check and bounded polling.
import { execFileSync } from 'node:child_process';
import { Lab, eventually, ok, run, sleep, type RunResult } from '../e2e/harness.js';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const DIST = path.join(ROOT, 'dist');
export const WHOAMI = path.join(ROOT, 'lab/build/sy-whoami');
export const PROBE = path.join(ROOT, 'lab/build/sy-probe');

/** Why the root-only tests cannot run here, or undefined. */
export function rootSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 `ip netns` is not usable';
  }
  return undefined;
}

/** Builds the C tools if they are missing (make -C lab). */
export function ensureTools(): void {
  if (fs.existsSync(WHOAMI) && fs.existsSync(PROBE)) return;
  execFileSync('make', ['-s', '-C', path.join(ROOT, 'lab')], { stdio: 'inherit' });
}

export function uniqueLabName(prefix: string): string {
  return Lab.uniqueName(prefix);
}

export type { RunResult };
export { sleep, eventually };

/** Runs `switchyard lab ARGS` (the same CLI runner as the end-to-end tests). */
export function lab(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return run(['lab', ...args], opts);
}

/** Runs `switchyard cleanup --name NAME` (stale: with --stale, only if a crash left it). */
export function cleanup(name: string, opts: { stale?: boolean; timeoutMs?: number } = {}): Promise<RunResult> {
  return run(['cleanup', '--name', name, ...(opts.stale ? ['--stale'] : [])], { timeoutMs: opts.timeoutMs ?? 60_000 });
}

export async function labOk(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  return ok(['lab', ...args], opts);
}

/** Namespaces, pin dirs, state dir, cgroups and processes a lab may have left behind. */
export function leftovers(name: string): string[] {
  return new Lab(name).leftovers();
}

/** Runs sy-probe inside a namespace; returns its output lines (summary lines dropped). */
export function probeIn(netns: string, args: string[]): string[] {
  let stdout = '';
  try {
    stdout = execFileSync('ip', ['netns', 'exec', netns, PROBE, ...args], { encoding: 'utf8', timeout: 30_000 });
  } catch (err) {
    stdout = String((err as { stdout?: unknown }).stdout ?? '');
  }
  return stdout.split('\n').filter((l) => l && !l.startsWith('#'));
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** True when lab/src/cluster.ts has been built (the daemon needs it). */
export function clusterBuilt(): boolean {
  return fs.existsSync(path.join(DIST, 'lab/src/cluster.js'));
}
