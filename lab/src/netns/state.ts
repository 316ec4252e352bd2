// The lab's crash-safety record. Every namespace, process and pin instance a
// lab creates is written to a JSON state file in the lab's state directory
// BEFORE it is created (processes: right after spawn, in the same tick), so
// `switchyard cleanup` can undo whatever a crash left behind.
//
// Each writer has its own file so no two processes ever write the same one:
// state.json (the CLI's `lab up`: topology, the daemon) and
// state.daemon.json (the daemon: loaders, agents, pods). Files are replaced
// atomically (write to a temporary file, then rename).
import fs from 'node:fs';
import path from 'node:path';

export type ProcessRole = 'daemon' | 'loader' | 'agent' | 'pod' | 'other';

export interface RecordedProcess {
  pid: number;
  role: ProcessRole;
  /** What it is (node name, pod key, ...), for messages. */
  name: string;
  /** A string /proc/<pid>/cmdline (NULs as spaces) must contain for the pid to still be ours. */
  match: string;
  /** Field 22 of /proc/<pid>/stat at spawn (clock ticks since boot): guards against pid reuse. */
  startTime?: number;
}

export interface LabStateDoc {
  version: 1;
  lab: string;
  writer: string;
  updatedAt: string;
  namespaces: string[];
  processes: RecordedProcess[];
  pinInstances: string[];
  /** Writer-specific data (the CLI keeps the plan and the options of `up` here). */
  extra: Record<string, unknown>;
}

export const CLI_STATE_FILE = 'state.json';
export const DAEMON_STATE_FILE = 'state.daemon.json';

export class StateFile {
  private doc: LabStateDoc;

  constructor(readonly file: string, lab: string, writer: string, extra: Record<string, unknown> = {}) {
    this.doc = {
      version: 1,
      lab,
      writer,
      updatedAt: new Date().toISOString(),
      namespaces: [],
      processes: [],
      pinInstances: [],
      extra,
    };
  }

  get snapshot(): Readonly<LabStateDoc> {
    return this.doc;
  }

  setExtra(key: string, value: unknown): void {
    this.doc.extra[key] = value;
    this.flush();
  }

  addNamespaces(names: string[]): void {
    let changed = false;
    for (const n of names) {
      if (!this.doc.namespaces.includes(n)) {
        this.doc.namespaces.push(n);
        changed = true;
      }
    }
    if (changed) this.flush();
  }

  addNamespace(name: string): void {
    this.addNamespaces([name]);
  }

  removeNamespace(name: string): void {
    const i = this.doc.namespaces.indexOf(name);
    if (i >= 0) {
      this.doc.namespaces.splice(i, 1);
      this.flush();
    }
  }

  addProcess(p: RecordedProcess): void {
    this.doc.processes = this.doc.processes.filter((q) => q.pid !== p.pid);
    this.doc.processes.push(p);
    this.flush();
  }

  removeProcess(pid: number): void {
    const before = this.doc.processes.length;
    this.doc.processes = this.doc.processes.filter((q) => q.pid !== pid);
    if (this.doc.processes.length !== before) this.flush();
  }

  addPinInstance(instance: string): void {
    if (!this.doc.pinInstances.includes(instance)) {
      this.doc.pinInstances.push(instance);
      this.flush();
    }
  }

  removePinInstance(instance: string): void {
    const i = this.doc.pinInstances.indexOf(instance);
    if (i >= 0) {
      this.doc.pinInstances.splice(i, 1);
      this.flush();
    }
  }

  flush(): void {
    this.doc.updatedAt = new Date().toISOString();
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify(this.doc, null, 2) + '\n', { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }
}

function isStateDoc(v: unknown): v is LabStateDoc {
  const d = v as LabStateDoc;
  return typeof d === 'object' && d !== null && d.version === 1 && typeof d.lab === 'string' &&
    Array.isArray(d.namespaces) && Array.isArray(d.processes) && Array.isArray(d.pinInstances);
}

/** Every readable state file of a lab's state directory (unreadable ones are reported, not fatal). */
export function readStateDocs(stateDir: string): { docs: LabStateDoc[]; problems: string[] } {
  const docs: LabStateDoc[] = [];
  const problems: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(stateDir);
  } catch (err) {
    return { docs, problems: [`${stateDir}: ${(err as Error).message}`] };
  }
  for (const n of names.sort()) {
    if (!/^state(\.[a-z]+)?\.json$/.test(n)) continue;
    const file = path.join(stateDir, n);
    try {
      const v: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (isStateDoc(v)) docs.push(v);
      else problems.push(`${file}: not a lab state file`);
    } catch (err) {
      problems.push(`${file}: ${(err as Error).message}`);
    }
  }
  return { docs, problems };
}

export function readCliState(stateDir: string): LabStateDoc | undefined {
  try {
    const v: unknown = JSON.parse(fs.readFileSync(path.join(stateDir, CLI_STATE_FILE), 'utf8'));
    return isStateDoc(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Start time (field 22 of /proc/<pid>/stat), or undefined when the process is gone. */
export function procStartTime(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces and parentheses: parse after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const v = Number(rest[19]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

export function procCmdline(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** True when pid is alive and still the process that was recorded. */
export function isRecordedProcessAlive(p: RecordedProcess): boolean {
  if (!Number.isInteger(p.pid) || p.pid <= 1) return false;
  const st = procStartTime(p.pid);
  if (st === undefined || isZombie(p.pid)) return false;
  if (p.startTime !== undefined && st !== p.startTime) return false;
  const cmd = procCmdline(p.pid);
  if (cmd === undefined || !p.match || !cmd.includes(p.match)) return false;
  return true;
}

/**
 * For a child we just spawned: alive while the same process (same start
 * time) exists and is not a zombie. Its command line is not checked: right
 * after spawn() it is still our own (fork before exec), and during an exec it
 * reads empty for an instant.
 */
export function isSpawnedProcessAlive(p: RecordedProcess): boolean {
  if (!Number.isInteger(p.pid) || p.pid <= 1) return false;
  const st = procStartTime(p.pid);
  if (st === undefined || isZombie(p.pid)) return false;
  return p.startTime === undefined || st === p.startTime;
}

/** Records a just-spawned child: call in the same tick as spawn(). */
export function recordFor(pid: number, role: ProcessRole, name: string, match: string): RecordedProcess {
  const st = procStartTime(pid);
  return { pid, role, name, match, ...(st !== undefined ? { startTime: st } : {}) };
}
