// Memory: the agent's (and loader's) resident set from /proc/<pid>/status,
// the kernel memory of the node's BPF maps (memlock as bpftool reports it,
// inner Maglev tables included) or the size of the iptables rule set.
import fs from 'node:fs';
import path from 'node:path';
import { PIN_ROOT } from '../lab/src/netns/plan.js';
import { execCollect, type BenchLab } from './lab-driver.js';
import type { Mode } from './options.js';
import { summarize, unavailable, type FigureOrNot } from './stats.js';

function statusKb(pid: number, field: string): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

const RSS_READINGS = 10;
const RSS_INTERVAL_MS = 300;

function one(what: string, unit: string, v: number, note?: string): FigureOrNot {
  return summarize(what, unit, [v], 1, note);
}

interface BpftoolMap { id: number; name?: string; type?: string; bytes_memlock?: number; max_entries?: number }

async function bpftoolJSON<T>(args: string[]): Promise<T> {
  const r = await execCollect('bpftool', ['-j', ...args], { timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`bpftool ${args.join(' ')}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as T;
}

/** Inner map ids held by a hash-of-maps (bpftool prints the value bytes, little-endian u32). */
function innerIds(dump: Array<{ value?: unknown; formatted?: { value?: unknown } }>): number[] {
  const ids: number[] = [];
  for (const e of dump) {
    const v = e.value ?? e.formatted?.value;
    if (typeof v === 'number') ids.push(v);
    else if (Array.isArray(v) && v.length >= 4) {
      const b = v.slice(0, 4).map((x) => (typeof x === 'string' ? parseInt(x, 16) : Number(x)));
      ids.push((b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0);
    }
  }
  return ids;
}

export async function measureMemory(lab: BenchLab, mode: Mode, node = 'node1'): Promise<Record<string, FigureOrNot>> {
  const out: Record<string, FigureOrNot> = {};
  const info = await lab.info();
  const n = info.nodes.find((x) => x.name === node);
  const agentPid = n?.agent?.pid;
  if (!agentPid) throw new Error(`no agent pid for ${node}`);
  // VmRSS moves with the garbage collector: read it RSS_READINGS times,
  // RSS_INTERVAL_MS apart, while the agent idles, so the figure has a spread.
  const rss: number[] = [];
  for (let i = 0; i < RSS_READINGS; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, RSS_INTERVAL_MS));
    const kb = statusKb(agentPid, 'VmRSS');
    if (kb !== undefined) rss.push(kb * 1024);
  }
  const hwm = statusKb(agentPid, 'VmHWM');
  if (rss.length === 0 || hwm === undefined) throw new Error(`cannot read /proc/${agentPid}/status`);
  out['memory.agent_rss'] = summarize('agent (control plane) resident set, VmRSS', 'bytes', rss, 1,
    `pid ${agentPid}, /proc/<pid>/status, ${rss.length} readings ${RSS_INTERVAL_MS} ms apart while idle`);
  out['memory.agent_peak_rss'] = one('agent resident set high-water mark since its start (cold start included), VmHWM', 'bytes', hwm * 1024);

  if (mode === 'ebpf') {
    const loaderPid = n?.loader?.pid;
    const lrss = loaderPid ? statusKb(loaderPid, 'VmRSS') : undefined;
    if (lrss !== undefined) out['memory.loader_rss'] = one('loader resident set, VmRSS', 'bytes', lrss * 1024);
    const dir = path.join(PIN_ROOT, (n as { pinInstance?: string }).pinInstance ?? `${lab.name}-n${node.replace('node', '')}`);
    const pins = fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isFile()).map((d) => path.join(dir, d.name));
    const pinned = await Promise.all(pins.map((p) => bpftoolJSON<BpftoolMap>(['map', 'show', 'pinned', p])));
    const maglev = pins.find((p) => p.endsWith('/sy_maglev'));
    const inner = maglev ? innerIds(await bpftoolJSON<Array<{ value?: unknown }>>(['map', 'dump', 'pinned', maglev])) : [];
    const all = await bpftoolJSON<BpftoolMap[]>(['map', 'show']);
    const byId = new Map(all.map((m) => [m.id, m]));
    const innerBytes = inner.reduce((s, id) => s + (byId.get(id)?.bytes_memlock ?? 0), 0);
    const pinnedBytes = pinned.reduce((s, m) => s + (m.bytes_memlock ?? 0), 0);
    const breakdown = pinned.map((m) => `${m.name}=${m.bytes_memlock}`).join(' ');
    out['memory.bpf_maps'] = one('kernel memory of the node\'s BPF maps (memlock), inner Maglev tables included', 'bytes', pinnedBytes + innerBytes,
      `${pinned.length} pinned maps + ${inner.length} inner Maglev tables; ${breakdown} inner=${innerBytes}`);
    out['memory.bpf_maglev_tables'] = inner.length > 0
      ? one('kernel memory of the inner Maglev tables (memlock)', 'bytes', innerBytes, `${inner.length} tables`)
      : unavailable('kernel memory of the inner Maglev tables (memlock)', 'bytes', 'no inner tables found');
  } else {
    const saves: Array<{ tool: string; text: string }> = [];
    // A pinned back end is read with its own tool (a second save of 330,000 chains costs minutes).
    const tools = mode === 'iptables-legacy' ? ['iptables-legacy-save'] : mode === 'iptables-nft' ? ['iptables-nft-save'] : ['iptables-save', 'iptables-legacy-save', 'iptables-nft-save'];
    for (const tool of tools) {
      const r = await lab.execIn(lab.nodeNetns(node), undefined, [tool], 300_000);
      if (r.code === 0) saves.push({ tool, text: r.stdout });
    }
    const kube = saves.filter((s) => s.text.includes('KUBE-SERVICES')).sort((a, b) => b.text.length - a.text.length)[0];
    if (!kube) throw new Error('no iptables-save output with KUBE-SERVICES in the node namespace');
    const rules = kube.text.split('\n').filter((l) => l.startsWith('-A ')).length;
    const chains = kube.text.split('\n').filter((l) => l.startsWith(':')).length;
    out['memory.iptables_save'] = one('size of the rule set as iptables-save prints it', 'bytes', Buffer.byteLength(kube.text), `${kube.tool}; ${chains} chains`);
    out['memory.iptables_rules'] = one('iptables rules in the node namespace (-A lines)', 'rules', rules, kube.tool);
    out['memory.kernel_rules'] = unavailable('kernel memory of the iptables rules', 'bytes',
      'the kernel does not account memory per rule set (no memlock or cgroup figure for x_tables/nf_tables rules); see memory.iptables_save and memory.iptables_rules');
  }
  return out;
}
