// `switchyard cleanup`: undoes whatever labs (or crashed lab tests) left
// behind, using only what their state files under /run/switchyard/lab/
// recorded: it kills recorded processes that are still the processes that
// were started (pid, start time and command line must all match), deletes
// recorded namespaces that carry the lab's name prefix, removes recorded pin
// instances under /sys/fs/bpf/switchyard/ and finally the state directory.
// Idempotent; a lab whose teardown failed keeps its state directory so the
// next run can retry.
import { removeLabCgroups } from '../netns/cgroups.js';
import fs from 'node:fs';
import path from 'node:path';
import { delNetns, netnsExists, netnsPids } from '../netns/ip.js';
import { LAB_ROOT, PIN_ROOT, isLabNamespace, isSafeNetnsName } from '../netns/plan.js';
import { isRecordedProcessAlive, procCmdline, readStateDocs, type RecordedProcess } from '../netns/state.js';

export interface CleanupOptions {
  /** Only this lab (default: every lab under root). */
  name?: string;
  /** Default /run/switchyard/lab. */
  root?: string;
  /** Default /sys/fs/bpf/switchyard. */
  pinRoot?: string;
  /** Progress lines (default: stdout). */
  out?: (line: string) => void;
  /** Grace between SIGTERM and SIGKILL for daemons, agents and loaders (default 3000 ms). */
  graceMs?: number;
  /** Only labs a crash left behind (staleReason()); labs that may be in use are left alone. */
  staleOnly?: boolean;
}

/** A lab whose daemon is gone is left over only once its state files were untouched this long (a `lab down` may be under way). */
export const STALE_AFTER_DAEMON_MS = 30_000;
/** A lab that never recorded a daemon (`lab up` killed early) is left over after this long. */
export const STALE_WITHOUT_DAEMON_MS = 10 * 60_000;

/**
 * Why a lab is a crash's leftover, or undefined while it may be in use: its
 * recorded daemon is gone (a run killed with its labs up: test runners, CI
 * cut off, a SIGKILLed daemon), or none was ever recorded and nothing was
 * written for a long time.
 */
export function staleReason(stateDir: string, now = Date.now()): string | undefined {
  const { docs } = readStateDocs(stateDir);
  const daemon = docs.flatMap((d) => d.processes).find((p) => p.role === 'daemon');
  let newest = 0;
  try {
    for (const f of [stateDir, ...fs.readdirSync(stateDir).map((n) => path.join(stateDir, n))]) newest = Math.max(newest, fs.statSync(f).mtimeMs);
  } catch {
    // vanished meanwhile: whoever removed it is cleaning up
    return undefined;
  }
  const idle = now - newest;
  if (daemon) {
    if (isRecordedProcessAlive(daemon) || idle < STALE_AFTER_DAEMON_MS) return undefined;
    return `its daemon (pid ${daemon.pid}) is gone`;
  }
  return idle >= STALE_WITHOUT_DAEMON_MS ? `no daemon recorded, nothing written for ${Math.round(idle / 60_000)} min` : undefined;
}

export interface CleanupReport {
  lab: string;
  killed: number[];
  namespaces: string[];
  pins: string[];
  errors: string[];
  stateDirRemoved: boolean;
}

const ROLE_ORDER: Record<string, number> = { daemon: 0, agent: 1, loader: 2, pod: 3, other: 4 };

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function nsInode(file: string): string | undefined {
  try {
    const st = fs.statSync(file);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

async function waitGone(pids: number[], isAlive: (pid: number) => boolean, ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  let left = pids.filter(isAlive);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(50);
    left = left.filter(isAlive);
  }
  return left;
}

function kill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Cleans one lab's state directory. */
export async function cleanupLab(stateDir: string, opts: CleanupOptions = {}): Promise<CleanupReport> {
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const pinRoot = opts.pinRoot ?? PIN_ROOT;
  const graceMs = opts.graceMs ?? 3000;
  const dirLab = path.basename(stateDir);
  const report: CleanupReport = { lab: dirLab, killed: [], namespaces: [], pins: [], errors: [], stateDirRemoved: false };
  const { docs, problems } = readStateDocs(stateDir);
  report.errors.push(...problems);

  // 1. Processes: daemon first (so it cannot start anything new), then agents, loaders, pods.
  const procs: RecordedProcess[] = docs.flatMap((d) => d.processes)
    .sort((a, b) => (ROLE_ORDER[a.role] ?? 9) - (ROLE_ORDER[b.role] ?? 9));
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const recAlive = (pid: number): boolean => {
    const p = byPid.get(pid);
    return p !== undefined && isRecordedProcessAlive(p);
  };
  for (const group of [['daemon'], ['agent', 'loader', 'other'], ['pod']]) {
    const alive = procs.filter((p) => group.includes(p.role) && isRecordedProcessAlive(p));
    if (alive.length === 0) continue;
    const soft = group[0] !== 'pod';
    for (const p of alive) kill(p.pid, soft ? 'SIGTERM' : 'SIGKILL');
    let left = await waitGone(alive.map((p) => p.pid), recAlive, soft ? graceMs : 2000);
    if (left.length > 0) {
      for (const pid of left) kill(pid, 'SIGKILL');
      left = await waitGone(left, recAlive, 2000);
    }
    for (const p of alive) {
      if (left.includes(p.pid)) report.errors.push(`${p.role} ${p.name} (pid ${p.pid}) did not exit`);
      else report.killed.push(p.pid);
    }
  }

  // 2. Namespaces recorded by any writer, with the lab's prefix.
  const namespaces = new Set<string>();
  for (const d of docs) {
    for (const ns of d.namespaces) {
      if (isLabNamespace(d.lab, ns)) namespaces.add(ns);
      else report.errors.push(`ignoring recorded namespace ${JSON.stringify(ns)}: not a namespace of lab ${d.lab}`);
    }
  }
  // Processes still inside a lab namespace (children of a killed agent, a
  // half-started pod server) would keep it alive after its name is gone.
  const rootNet = nsInode('/proc/self/ns/net');
  const initNet = nsInode('/proc/1/ns/net');
  const strays: Array<{ pid: number; ns: string }> = [];
  for (const ns of namespaces) {
    if (!netnsExists(ns)) continue;
    const ino = nsInode(`/run/netns/${ns}`);
    if (ino === undefined || ino === rootNet || ino === initNet) {
      report.errors.push(`namespace ${ns} is not a separate namespace: left alone`);
      namespaces.delete(ns);
      continue;
    }
    for (const pid of await netnsPids(ns)) if (pid !== process.pid) strays.push({ pid, ns });
  }
  if (strays.length > 0) {
    for (const s of strays) {
      out(`cleanup: ${dirLab}: killing pid ${s.pid} (${(procCmdline(s.pid) ?? '?').slice(0, 80)}) in namespace ${s.ns}`);
      kill(s.pid, 'SIGKILL');
    }
    await waitGone(strays.map((s) => s.pid), (pid) => fs.existsSync(`/proc/${pid}`) && !isZombieOrGone(pid), 2000);
  }
  await Promise.all([...namespaces].map(async (ns) => {
    if (!netnsExists(ns)) return;
    try {
      await delNetns(ns);
      report.namespaces.push(ns);
    } catch (err) {
      report.errors.push((err as Error).message);
    }
  }));

  // 3. Pin instances.
  for (const d of docs) {
    for (const inst of d.pinInstances) {
      if (!isLabNamespace(d.lab, inst) || !isSafeNetnsName(inst)) {
        report.errors.push(`ignoring recorded pin instance ${JSON.stringify(inst)}`);
        continue;
      }
      const dir = path.join(pinRoot, inst);
      if (!fs.existsSync(dir)) continue;
      try {
        fs.rmSync(dir, { recursive: true, force: true });
        report.pins.push(dir);
      } catch (err) {
        report.errors.push(`${dir}: ${(err as Error).message}`);
      }
    }
  }

  // 3b. The lab's node cgroups (derived from the lab name; empty by now).
  const cg = removeLabCgroups(dirLab);
  report.errors.push(...cg.errors);

  // 4. The state directory, once nothing recorded is left.
  const leftNs = [...namespaces].filter(netnsExists);
  if (leftNs.length === 0 && report.errors.every((e) => !e.includes('did not exit'))) {
    try {
      fs.rmSync(stateDir, { recursive: true, force: true });
      report.stateDirRemoved = true;
    } catch (err) {
      report.errors.push(`${stateDir}: ${(err as Error).message}`);
    }
  } else {
    report.errors.push(`kept ${stateDir} (namespaces left: ${leftNs.join(', ') || 'none'})`);
  }
  return report;
}

function isZombieOrGone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** `switchyard cleanup [--name LAB]`: every lab (or one), crash-safe. Exit code 0 when all is clean. */
export async function runCleanup(opts: CleanupOptions = {}): Promise<number> {
  const root = opts.root ?? LAB_ROOT;
  const out = opts.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  let dirs: string[];
  try {
    dirs = fs.readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  } catch {
    dirs = [];
  }
  if (opts.name !== undefined) dirs = dirs.filter((d) => d === opts.name);
  if (opts.staleOnly) {
    dirs = dirs.filter((d) => {
      const why = staleReason(path.join(root, d));
      if (why) out(`cleanup: lab ${d} was left behind: ${why}`);
      return why !== undefined;
    });
  }
  if (dirs.length === 0) {
    out(opts.name !== undefined ? `cleanup: nothing ${opts.staleOnly ? 'left behind' : 'recorded'} for lab ${opts.name}` : 'cleanup: nothing to clean');
    return 0;
  }
  let failed = 0;
  for (const d of dirs) {
    const r = await cleanupLab(path.join(root, d), opts);
    out(`cleanup: lab ${r.lab}: killed ${r.killed.length} process(es), deleted ${r.namespaces.length} namespace(s), ` +
      `removed ${r.pins.length} pin dir(s)${r.stateDirRemoved ? ', removed its state directory' : ''}`);
    for (const e of r.errors) out(`cleanup: lab ${r.lab}: ${e}`);
    if (!r.stateDirRemoved) failed++;
  }
  return failed === 0 ? 0 : 1;
}

/** Argument parsing for `switchyard cleanup [--name LAB] [--stale]` (used by the lab CLI too). */
export async function runCleanupCommand(argv: string[]): Promise<number> {
  const opts: CleanupOptions = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--name' && argv[i + 1] !== undefined) opts.name = argv[++i]!;
    else if (argv[i] === '--stale') opts.staleOnly = true;
    else {
      process.stderr.write('usage: switchyard cleanup [--name LAB] [--stale]\n');
      return 2;
    }
  }
  return runCleanup(opts);
}
