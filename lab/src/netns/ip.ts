// Thin wrappers around iproute2 that only ever act INSIDE a named network
// namespace. Nothing here can address the root namespace: every helper takes
// a namespace name, checks it is a plain /run/netns file name and passes it
// with `ip -n NS` / `ip netns exec NS`.
import { inCgroup } from './cgroups.js';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { isSafeNetnsName } from './plan.js';

export class CommandError extends Error {
  constructor(readonly argv: string[], readonly code: number | null, readonly stderr: string) {
    super(`${argv.join(' ')} failed (${code === null ? 'killed' : `exit ${code}`}): ${stderr.trim() || '(no output)'}`);
  }
}

export interface RunResult { stdout: string; stderr: string }

/** Runs a command (no shell), optionally feeding stdin; rejects with CommandError on failure. */
export function run(file: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const c = (err as { code?: unknown }).code;
        const code = typeof c === 'number' ? c : null;
        // Spawn failures (ENOENT, ...) have no stderr: report the error itself.
        reject(new CommandError([file, ...args], code, stderr || (typeof c === 'string' ? err.message : '')));
      } else {
        resolve({ stdout, stderr });
      }
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

function checkNs(ns: string): void {
  if (!isSafeNetnsName(ns)) throw new Error(`refusing to use namespace name ${JSON.stringify(ns)}`);
}

export function netnsPath(ns: string): string {
  checkNs(ns);
  return `/run/netns/${ns}`;
}

export function netnsExists(ns: string): boolean {
  return isSafeNetnsName(ns) && fs.existsSync(`/run/netns/${ns}`);
}

export async function listNetns(): Promise<string[]> {
  try {
    return fs.readdirSync('/run/netns').filter(isSafeNetnsName);
  } catch {
    return [];
  }
}

export async function addNetns(ns: string): Promise<void> {
  checkNs(ns);
  await run('ip', ['netns', 'add', ns]);
}

/** Deletes a namespace; a missing one is not an error. */
export async function delNetns(ns: string): Promise<void> {
  checkNs(ns);
  if (!fs.existsSync(`/run/netns/${ns}`)) return;
  try {
    await run('ip', ['netns', 'del', ns]);
  } catch (err) {
    if (fs.existsSync(`/run/netns/${ns}`)) throw err;
  }
}

/** `ip -n NS <args>` */
export async function ipIn(ns: string, args: string[]): Promise<RunResult> {
  checkNs(ns);
  return run('ip', ['-n', ns, ...args]);
}

/** Several `ip` commands in one process: `ip -n NS -batch -`. */
export async function ipBatch(ns: string, lines: string[]): Promise<void> {
  checkNs(ns);
  if (lines.length === 0) return;
  for (const l of lines) if (/[\n\r]/.test(l)) throw new Error(`bad ip batch line ${JSON.stringify(l)}`);
  await run('ip', ['-n', ns, '-batch', '-'], { input: lines.join('\n') + '\n' });
}

/** `ip netns exec NS argv...`, collecting output. */
export async function execIn(ns: string, argv: string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
  checkNs(ns);
  return run('ip', ['netns', 'exec', ns, ...argv], opts);
}

/** Sets sysctls inside a lab namespace (never the root one). */
export async function sysctlIn(ns: string, settings: Record<string, string | number>): Promise<void> {
  const args = Object.entries(settings).map(([k, v]) => {
    if (!/^net\.[a-z0-9_.-]+$/.test(k)) throw new Error(`unexpected sysctl ${k}`);
    return `${k}=${v}`;
  });
  await execIn(ns, ['sysctl', '-q', '-w', ...args]);
}

/** Pids of the processes whose network namespace is ns (`ip netns pids`). */
export async function netnsPids(ns: string): Promise<number[]> {
  if (!netnsExists(ns)) return [];
  try {
    const { stdout } = await run('ip', ['netns', 'pids', ns]);
    return stdout.split(/\s+/).filter(Boolean).map(Number).filter((n) => Number.isInteger(n) && n > 1);
  } catch {
    return [];
  }
}

/** Spawns `ip netns exec NS argv...` for interactive use (stdio inherited); resolves with the exit code. */
export function execInteractive(ns: string, argv: string[], cgroupDir?: string): Promise<number> {
  checkNs(ns);
  return new Promise((resolve) => {
    // A cgroup is joined before `ip netns exec`, which remounts /sys.
    const [cmd, ...args] = inCgroup(cgroupDir, ['ip', 'netns', 'exec', ns, ...argv]);
    const child = spawn(cmd!, args, { stdio: 'inherit' });
    // Signals sent to the CLI (a test stopping `lab exec ... sy-probe hold`)
    // go to the command (`ip netns exec` has exec'd into it by then).
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    const forward = (sig: NodeJS.Signals): void => {
      child.kill(sig);
    };
    for (const s of signals) process.on(s, forward);
    const unhook = (): void => {
      for (const s of signals) process.off(s, forward);
    };
    child.on('error', (err) => {
      unhook();
      process.stderr.write(`${err.message}\n`);
      resolve(127);
    });
    child.on('exit', (code, signal) => {
      unhook();
      if (code !== null) resolve(code);
      else resolve(128 + (signal ? (os.constants.signals[signal] ?? 1) : 1));
    });
  });
}

/**
 * Lets a veth receive frames that XDP on its peer sends (XDP_TX/redirect):
 * GRO on and tx checksum offload off on this end. Best effort: without
 * ethtool the lab still works, with tc handling external traffic.
 */
export async function enableXdpPeer(ns: string, dev: string): Promise<boolean> {
  // execIn rejects on a non-zero exit.
  return execIn(ns, ['ethtool', '-K', dev, 'gro', 'on', 'tx', 'off']).then(() => true, () => false);
}
