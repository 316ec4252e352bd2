// Shared helpers of the namespace-lab tests: unique lab names, a CLI runner
// that calls runLabCommand/runCleanup in a child process (so a hung command
// is killed, not the test runner), the leftover check and bounded polling.
import { execFileSync, spawn } from 'node:child_process';
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
  return `${prefix}${process.pid % 10000}${Math.floor(Math.random() * 100)}`;
}

export interface RunResult { code: number; stdout: string; stderr: string }

/** Runs `switchyard lab ARGS` through runLabCommand in a child node process. */
export function lab(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const mod = path.join(DIST, 'lab/src/cli/lab-command.js');
  const script = `import { runLabCommand } from ${JSON.stringify(mod)}; process.exitCode = await runLabCommand(process.argv.slice(1));`;
  return runNode(['--input-type=module', '-e', script, ...args], opts);
}

/** Runs runCleanup({name}) in a child node process. */
export function cleanup(name: string, timeoutMs = 60_000): Promise<RunResult> {
  const mod = path.join(DIST, 'lab/src/cli/cleanup.js');
  const script = `import { runCleanup } from ${JSON.stringify(mod)}; process.exitCode = await runCleanup({ name: ${JSON.stringify(name)} });`;
  return runNode(['--input-type=module', '-e', script], { timeoutMs });
}

function runNode(args: string[], opts: { input?: string; timeoutMs?: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`lab ${args.slice(3).join(' ')} timed out\n${stderr}`));
    }, opts.timeoutMs ?? 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export async function labOk(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await lab(args, opts);
  if (r.code !== 0) throw new Error(`lab ${args.join(' ')} exited ${r.code}\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function eventually<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** Namespaces, pin dirs, state dir and processes a lab may have left behind. */
export function leftovers(name: string): string[] {
  const out: string[] = [];
  if (fs.existsSync('/run/netns')) for (const n of fs.readdirSync('/run/netns')) if (n.startsWith(`${name}-`)) out.push(`netns ${n}`);
  if (fs.existsSync('/sys/fs/bpf/switchyard')) for (const d of fs.readdirSync('/sys/fs/bpf/switchyard')) if (d.startsWith(`${name}-`)) out.push(`pins ${d}`);
  if (fs.existsSync(`/run/switchyard/lab/${name}`)) out.push(`state /run/switchyard/lab/${name}`);
  const marks = [`/run/switchyard/lab/${name}`, `${name}-n`, `${name}-p-`, `${name}-cp`];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (Number(pid) !== process.pid && marks.some((m) => cmd.includes(m))) out.push(`process ${pid}: ${cmd.trim()}`);
  }
  return out;
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
