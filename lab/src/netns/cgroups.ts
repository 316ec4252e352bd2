// Per-node cgroups of the lab. A kube-proxy replacement's socket-level
// balancing attaches to a cgroup; on a real node that is the node's root
// cgroup, in the lab it is <cgroup2>/switchyard/<lab>/<node>, and every
// process of that node's pods (and `lab exec --node`) runs in it. Never the
// machine's root cgroup.
import fs from 'node:fs';
import path from 'node:path';

/** Where cgroup v2 is mounted (/sys/fs/cgroup on most systems, /sys/fs/cgroup/unified on hybrid ones). */
export function cgroup2Root(): string | undefined {
  let mounts = '';
  try {
    mounts = fs.readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of mounts.split('\n')) {
    const f = line.split(' ');
    if (f[2] === 'cgroup2' && f[1]) return f[1];
  }
  return undefined;
}

export function labCgroupDir(lab: string, root = cgroup2Root()): string | undefined {
  return root ? path.join(root, 'switchyard', lab) : undefined;
}

export function nodeCgroupDir(lab: string, node: string, root = cgroup2Root()): string | undefined {
  const d = labCgroupDir(lab, root);
  return d ? path.join(d, node) : undefined;
}

/** Creates the lab's node cgroups; returns their paths (empty without cgroup v2). */
export function createNodeCgroups(lab: string, nodes: string[]): string[] {
  const out: string[] = [];
  for (const n of nodes) {
    const d = nodeCgroupDir(lab, n);
    if (!d) continue;
    fs.mkdirSync(d, { recursive: true });
    out.push(d);
  }
  return out;
}

/**
 * rmdir of a cgroup, retried for a while on EBUSY: processes just killed
 * leave their cgroup only once the kernel has finished tearing them down.
 */
function rmdirCgroup(dir: string, tries = 30): void {
  for (let i = 0; ; i++) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EBUSY' || i >= tries) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
}

/** Removes the lab's cgroups (after its processes are gone); returns what was removed. */
export function removeLabCgroups(lab: string): { removed: string[]; errors: string[] } {
  const removed: string[] = [];
  const errors: string[] = [];
  const d = labCgroupDir(lab);
  if (!d || !fs.existsSync(d)) return { removed, errors };
  for (const child of fs.readdirSync(d, { withFileTypes: true })) {
    if (!child.isDirectory()) continue;
    const c = path.join(d, child.name);
    try {
      rmdirCgroup(c);
      removed.push(c);
    } catch (err) {
      errors.push(`${c}: ${(err as Error).message}`);
    }
  }
  try {
    rmdirCgroup(d);
    removed.push(d);
    const parent = path.dirname(d);
    if (fs.readdirSync(parent).filter((x) => !x.startsWith('cgroup.') && !x.includes('.')).length === 0) fs.rmdirSync(parent);
  } catch (err) {
    errors.push(`${d}: ${(err as Error).message}`);
  }
  return { removed, errors };
}

/** argv that joins cgroup `dir` and then execs `argv` (the pid stays the same). */
export function inCgroup(dir: string | undefined, argv: string[]): string[] {
  if (!dir) return argv;
  return ['sh', '-c', 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"', 'sh', dir, ...argv];
}

/** `dir` if it exists (labs made before cgroups existed have none). */
export function existingDir(dir: string | undefined): string | undefined {
  return dir && fs.existsSync(dir) ? dir : undefined;
}
