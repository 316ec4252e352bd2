// What the numbers were measured on.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export interface MachineInfo {
  hostname: string;
  kernel: string;
  nproc: number;
  cpuModel: string;
  memTotalBytes: number;
  node: string;
  iptables: string;
  bpftool: string;
  loadavgAtStart: number[];
  gitCommit: string;
  gitDirty: boolean;
  /** What the agents ran: the bundle, or the compiled modules one by one (a bundle older than them is not used; about a second slower to start). */
  agentSource?: 'bundle' | 'modules';
}

function tryExec(file: string, args: string[], cwd?: string): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000, ...(cwd ? { cwd } : {}) }).trim();
  } catch {
    return '';
  }
}

/**
 * What `switchyard agent` of the built tree loads, asked of its own entry
 * (dist/cli/agent-entry.js) in a child: the benchmark sits below the CLI and
 * imports none of it.
 */
function agentSourceOf(repo: string): 'bundle' | 'modules' | undefined {
  const entry = path.join(repo, 'dist', 'cli', 'agent-entry.js');
  const out = tryExec(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(pathToFileURL(entry).href)}); process.stdout.write(m.agentSource());`]);
  return out === 'bundle' || out === 'modules' ? out : undefined;
}

export function machineInfo(repo: string): MachineInfo {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const meminfo = fs.existsSync('/proc/meminfo') ? fs.readFileSync('/proc/meminfo', 'utf8') : '';
  const memKb = Number(/^MemTotal:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? 0);
  return {
    hostname: os.hostname(),
    kernel: tryExec('uname', ['-r']) || os.release(),
    nproc: Number(tryExec('nproc', [])) || os.cpus().length,
    cpuModel: model.trim(),
    memTotalBytes: memKb ? memKb * 1024 : os.totalmem(),
    node: process.version,
    iptables: tryExec('iptables', ['--version']),
    bpftool: tryExec('bpftool', ['version']).split('\n')[0] ?? '',
    loadavgAtStart: os.loadavg().map((x) => Number(x.toFixed(2))),
    gitCommit: tryExec('git', ['rev-parse', 'HEAD'], repo),
    gitDirty: tryExec('git', ['status', '--porcelain', '--untracked-files=no'], repo) !== '',
    agentSource: agentSourceOf(repo),
  };
}
