// `switchyard status|services|maps [NAME]|conntrack|explain`: the admin API
// from the command line. Flags are named as the API's query parameters;
// tables by default, --json for the API's answer as is. Target: --admin URL
// (default http://127.0.0.1:10252), --admin-socket PATH, or --lab NAME
// --node NAME for an agent of the namespace lab (its admin socket in the
// lab's state directory; without one, the command is re-run inside the
// node's network namespace against 127.0.0.1). The lab's layout is not known
// here: control-plane never imports the lab, so the caller (cli/) gives it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { AdminHttpError, AdminUnreachable, adminJSON, type AdminTarget } from './admin-client.js';

export const ADMIN_COMMANDS = ['status', 'services', 'maps', 'conntrack', 'explain'] as const;
export type AdminCommand = (typeof ADMIN_COMMANDS)[number];

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:10252';

/**
 * Where a lab's node agent answers: the lab's own layout
 * (lab/src/netns/layout.ts labAgentPaths), handed in by cli/.
 */
export interface LabAgentPaths {
  /** The lab's state directory (exists while the lab does). */
  stateDir(lab: string): string;
  /** The admin socket the lab gives the node's agent. */
  adminSocket(lab: string, node: string): string;
  /** The node's network namespace. */
  nodeNetns(lab: string, node: string): string;
  /** The switchyard entry point, to re-run a command inside the node's namespace. */
  cliMain: string;
}

/** Gives the lab's paths; rejects with a message when the lab is not installed (the agent's image). */
export type LabAgentPathsLoader = () => Promise<LabAgentPaths>;

export const ADMIN_USAGE = `usage: switchyard <command> [target] [options]
commands (the agent's admin API):
  status [--history N]                       mode, health, sync loop, loader
  services [--namespace NS] [--name NAME]    ServicePorts as programmed: frontends, backends, Maglev shares
  maps [NAME] [--limit N] [--offset N] [--filter FIELD=VALUE]... [--slots] [--table T]
                                             pinned maps (iptables mode: chains); NAME: its entries decoded
  conntrack [--service S] [--client IP] [--backend IP[:PORT]] [--dir forward|reply] [--expired true|false] [--limit N]
            [--saddr IP --sport PORT --daddr IP --dport PORT [--proto tcp|udp]]   one flow's entries (IPv4 or IPv6)
  explain --src IP --dst IP --dport PORT [--proto tcp|udp] [--sport PORT] [--from pod|external]
                                             IP: IPv4, or IPv6 as fd00::1 or [fd00::1]
                                             which frontend, slot, backend and NAT a packet gets
target (default --admin ${DEFAULT_ADMIN_URL}):
  --admin URL | --admin-socket PATH | --lab NAME --node NODE (lab default "sy"; NODE: node1, n1 or 1)
output: tables; --json for the API's JSON`;

export type FlagKind = 'value' | 'multi' | 'bool';

const COMMON: Record<string, FlagKind> = { admin: 'value', 'admin-socket': 'value', lab: 'value', node: 'value', json: 'bool', help: 'bool' };
const QUERY: Record<AdminCommand, Record<string, FlagKind>> = {
  status: { history: 'value' },
  services: { namespace: 'value', name: 'value' },
  maps: { limit: 'value', offset: 'value', filter: 'multi', slots: 'bool', table: 'value' },
  conntrack: {
    service: 'value', client: 'value', backend: 'value', dir: 'value', expired: 'value', limit: 'value', offset: 'value',
    saddr: 'value', daddr: 'value', sport: 'value', dport: 'value', proto: 'value',
  },
  explain: { src: 'value', dst: 'value', dport: 'value', sport: 'value', proto: 'value', from: 'value' },
};

export class UsageError extends Error {}

export interface ParsedAdminArgs {
  target: AdminTarget | { lab: string; node: string };
  json: boolean;
  help: boolean;
  query: Array<[string, string]>;
  positional: string[];
}

export function parseAdminArgs(cmd: AdminCommand, argv: string[]): ParsedAdminArgs {
  return parseTargetArgs(cmd, QUERY[cmd], argv, cmd === 'maps' ? 1 : 0);
}

/** Flags of a command that talks to an agent: its own (`query`) and the target's. */
export function parseTargetArgs(cmd: string, query: Record<string, FlagKind>, argv: string[], maxPositional = 0): ParsedAdminArgs {
  const spec = { ...COMMON, ...query };
  const values = new Map<string, string[]>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h') {
      values.set('help', ['true']);
      continue;
    }
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq > 0 ? eq : undefined);
    const kind = spec[name];
    if (!kind) throw new UsageError(`${cmd}: unknown option --${name} (options: ${Object.keys(query).map((k) => `--${k}`).join(' ') || 'none'})`);
    let v = 'true';
    if (kind !== 'bool') {
      if (eq > 0) v = a.slice(eq + 1);
      else {
        const n = argv[++i];
        if (n === undefined) throw new UsageError(`option --${name} needs a value`);
        v = n;
      }
    } else if (eq > 0) v = a.slice(eq + 1);
    values.set(name, kind === 'multi' ? [...(values.get(name) ?? []), v] : [v]);
  }
  const one = (k: string): string | undefined => values.get(k)?.[0];
  if (positional.length > maxPositional) throw new UsageError(`${cmd}: unexpected argument ${JSON.stringify(positional[maxPositional])}`);
  let target: ParsedAdminArgs['target'];
  const chosen = ['admin', 'admin-socket', 'node'].filter((k) => values.has(k));
  if (chosen.length > 1) throw new UsageError(`use one of --admin, --admin-socket, --lab/--node (got ${chosen.map((k) => `--${k}`).join(', ')})`);
  if (values.has('lab') && !values.has('node')) throw new UsageError('--lab needs --node NODE (the agent to ask)');
  if (one('node') !== undefined) {
    const n = one('node')!;
    const m = /^(?:node|n)?([1-9][0-9]*)$/.exec(n);
    if (!m) throw new UsageError(`--node ${JSON.stringify(n)}: use node1, n1 or 1`);
    target = { lab: one('lab') ?? 'sy', node: `node${m[1]}` };
  } else if (one('admin-socket') !== undefined) target = { socketPath: one('admin-socket')! };
  else target = { url: one('admin') ?? DEFAULT_ADMIN_URL };
  const out: Array<[string, string]> = [];
  for (const k of Object.keys(query)) for (const v of values.get(k) ?? []) out.push([k, v]);
  return { target, json: values.has('json'), help: values.has('help'), query: out, positional };
}

/** The API path of a command. */
export function adminPath(cmd: AdminCommand, positional: string[], query: Array<[string, string]>): string {
  const base = cmd === 'maps' ? (positional[0] ? `/v1/maps/${encodeURIComponent(positional[0])}` : '/v1/maps') : `/v1/${cmd}`;
  const qs = new URLSearchParams(query).toString();
  return qs ? `${base}?${qs}` : base;
}

// ---- output ------------------------------------------------------------------

export function formatTable(headers: string[], rows: Array<Array<string | number | boolean | null | undefined>>, indent = ''): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]?.length ?? 0)));
  const line = (r: string[]): string => indent + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2))).join('').trimEnd();
  return [line(headers), ...cells.map(line)].join('\n') + '\n';
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (Array.isArray(v)) return v.length === 0 ? '-' : v.map((x) => (typeof x === 'object' ? Object.values(x as object).join(':') : String(x))).join(',');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

type J = Record<string, any>;

export function renderStatus(s: J): string {
  let out = `node ${s.node}  mode ${s.mode} (${s.modeReason})  ${s.healthy ? 'healthy' : 'UNHEALTHY'}\n`;
  out += `syncs ${s.sync.count}, last success ${ago(s.sync.lastSuccess)}${s.sync.lastError ? `, last error: ${s.sync.lastError}` : ''}${s.sync.pendingSince ? `, changes pending since ${ago(s.sync.pendingSince)}` : ''}\n`;
  out += `${s.servicePorts} service ports, ${s.endpoints} endpoints\n`;
  for (const r of (s.refused ?? []) as J[]) out += `REFUSED ${r.service}: ${r.reason} (${r.attempts} attempts, since ${ago(r.since)}, next retry ${r.retryAt})\n`;
  const maps = (s.maps ?? []) as J[];
  if (maps.length) out += `maps: ${maps.map((m) => `${m.map} ${m.entries}/${m.capacity || '?'}${m.warning ? ' WARNING' : ''}`).join(', ')}\n`;
  for (const m of maps) if (m.warning) out += `WARNING ${m.map} is ${pct(m.ratio)} full: Services needing new entries will be refused once it is full\n`;
  if (s.drift && s.drift.repaired > 0) out += `drift repaired: ${s.drift.repaired} entries (${Object.entries(s.drift.byMap as Record<string, number>).map(([k, v]) => `${k} ${v}`).join(', ')})\n`;
  if (s.loader) {
    out += s.loader.up
      ? `loader: instance ${s.loader.instance}, ${s.loader.requests} requests, ${s.loader.errors} errors; attached: ${(s.loader.attachments as J[]).map((a) => `${a.ifname}(${a.mode})`).join(' ') || 'nothing'}\n`
      : `loader: DOWN (${s.loader.error})\n`;
  }
  const events = (s.datapathEvents ?? []) as J[];
  if (events.length) out += `datapath events: ${events.map((e) => `${e.event} ${e.count}`).join(', ')}\n`;
  const objects = s.objects as J | null | undefined;
  if (objects && (objects.objectsWithProblems > 0 || (objects.conflicts as J[]).length > 0)) {
    out += `\n${objects.objectsWithProblems} objects with problems, ${(objects.conflicts as J[]).length} frontend conflicts:\n`;
    for (const c of objects.conflicts as J[]) out += `  ! ${c.loser}: ${c.kind} ${c.addr}:${c.port}/${c.protocol} not programmed: ${c.reason}\n`;
    for (const o of (objects.problems as J[]).slice(0, 50)) {
      for (const p of o.problems as J[]) out += `  ! ${o.kind} ${o.namespace}/${o.name} ${p.field}: ${p.reason}: ${p.message}\n`;
    }
  }
  if (s.loaderWait?.waiting) out += `loader: WAITING for it since ${ago(s.loaderWait.since)} (no fallback, no cleanup while it is absent)\n`;
  if (s.apiServer) {
    out += s.apiServer.connected
      ? `API server: connected (${s.apiServer.outages} outage(s) so far, ${s.apiServer.silentWatchRestarts} silent watch(es) restarted)\n`
      : `API server: UNREACHABLE since ${ago(s.apiServer.disconnectedSince)} (${s.apiServer.lastError ?? 'not listed yet'}); the datapath keeps its last state, reconnecting with backoff\n`;
  }
  if (s.snat) out += `SNAT ports ${s.snat.portRange} (${s.snat.source}; node's ip_local_port_range ${s.snat.ipLocalPortRange})\n`;
  const hist = (s.sync.history as J[]).slice(-10);
  if (hist.length) {
    out += '\nrecent syncs:\n' + formatTable(['AT', 'DURATION', 'CHANGES', 'RESULT'],
      hist.map((h) => [new Date(h.at).toISOString(), `${h.durationMs} ms`, h.changes, h.ok ? 'ok' : `failed: ${h.error}`]), '  ');
  }
  return out;
}

/** "maglev table 16381 slots, by annotation switchyard.io/maglev-table-size=16381" and the like. */
export function maglevSizingLine(m: J): string {
  const annotation = m.annotation === null || m.annotation === undefined ? '' : ` switchyard.io/maglev-table-size=${m.annotation}`;
  if (m.tableSize === null) return `maglev table: none (no endpoints)${annotation ? `;${annotation}${m.annotationRefused ? ' (refused)' : ''}` : ''}`;
  if (m.chosenBy === 'annotation') return `maglev table ${m.tableSize} slots, by annotation${annotation}`;
  return `maglev table ${m.tableSize} slots, by ${m.chosenBy}${m.annotationRefused ? ` (annotation${annotation} refused)` : ''}`;
}

export function renderServices(r: J): string {
  const services = r.services as J[];
  if (services.length === 0) return 'no service ports\n';
  let out = '';
  for (const s of services) {
    out += `${s.name}  ${s.type || '?'}  ${s.protocol}  ${s.algorithm ?? ''}${s.affinityTimeoutSeconds ? `  affinity ${s.affinityTimeoutSeconds}s` : ''}  eTP=${s.externalTrafficPolicy} iTP=${s.internalTrafficPolicy}\n`;
    if (r.mode === 'iptables') {
      out += formatTable(['FRONTEND', 'KIND'], (s.frontends as J[]).map((f) => [`${f.address}:${f.port}/${f.protocol}`, f.kind]), '  ');
      out += formatTable(['CHAIN', 'ROLE', 'PROGRAMMED', 'RULES'], (s.chains as J[]).map((c) => [c.chain, c.role, c.programmed ? 'yes' : 'NO', c.rules]), '  ');
      out += formatTable(['BACKEND', 'STATE', 'LOCAL', 'ZONE', 'CHAIN', 'PROGRAMMED', 'PROBABILITY'],
        (s.backends as J[]).map((b) => [`${b.address}:${b.port}`, b.state, b.local ? 'yes' : 'no', b.zone || '-', b.chain, b.programmed ? 'yes' : 'NO', b.probability === null ? '-' : pct(b.probability)]), '  ');
    } else {
      if (s.maglev) out += `  ${maglevSizingLine(s.maglev as J)}\n`;
      out += formatTable(['FRONTEND', 'KIND', 'SCOPE', 'ID', 'GROUP', 'COUNT', 'SLOTS', 'SIZED BY', 'FLAGS'],
        (s.frontends as J[]).map((f) => [`${f.address}:${f.port}/${f.protocol}`, f.kind, f.scope, f.id, f.group, f.count, f.tableSize, f.tableSizing ?? '-', cell(f.flags)]), '  ');
      const shares = new Map<number, string[]>();
      for (const f of s.frontends as J[]) {
        for (const b of f.backends as J[]) {
          const k = b.id as number;
          shares.set(k, [...(shares.get(k) ?? []), `${pct(b.share)} of ${f.kind}${f.scope === 'internal' ? '(int)' : ''}`]);
        }
      }
      out += formatTable(['BACKEND', 'ID', 'STATE', 'LOCAL', 'NODE', 'ZONE', 'MAGLEV SHARE'],
        (s.backends as J[]).map((b) => [`${b.address}:${b.port}`, b.id, b.state, b.local ? 'yes' : 'no', b.node || '-', b.zone || '-', (b.id !== null && shares.get(b.id)?.join(', ')) || '-']), '  ');
    }
    for (const p of [...(s.problems as string[]), ...((s.frontends as J[]).flatMap((f) => (f.problems ?? []) as string[]))]) out += `  ! ${p}\n`;
    out += '\n';
  }
  return out;
}

export function renderMaps(r: J): string {
  if (r.mode === 'iptables') {
    let out = `rules from ${r.rulesSource}\n`;
    for (const t of r.tables as J[]) out += `table ${t.table}\n` + formatTable(['CHAIN', 'BUILTIN', 'RULES'], (t.chains as J[]).map((c) => [c.chain, c.builtin ? 'yes' : 'no', c.rules]), '  ');
    return out;
  }
  return `instance ${r.instance}  pins ${r.pinDir}\n` + formatTable(['MAP', 'TYPE', 'KEY', 'VALUE', 'MAX', 'IN USE', 'PRESSURE', 'PIN'],
    (r.maps as J[]).map((m) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries, m.entries, m.pressure === null ? '-' : pct(m.pressure), m.pinPath || '-']));
}

export function renderMapEntries(r: J): string {
  const items = r.items as J[];
  const fields = r.fields as string[];
  const head = r.map ? `${r.map.name}: ${r.map.entries} of ${r.map.maxEntries} entries${r.truncated ? ' (dump truncated by the loader)' : ''}` : `chain ${r.chain} (${(r.tables as string[]).join(', ')}), rules from ${r.rulesSource}`;
  const shown = `showing ${items.length} of ${r.total}${r.offset ? ` from ${r.offset}` : ''}`;
  if (items.length === 0) return `${head}\n${shown}\n`;
  if (r.chain !== undefined) return `${head}\n` + items.map((i) => `${i.table} ${i.index}: ${i.rule}`).join('\n') + `\n${shown}\n`;
  return `${head}\n` + formatTable(fields.map((f) => f.toUpperCase()), items.map((i) => fields.map((f) => cell(i[f])))) + `${shown}\n`;
}

/** addr:port, IPv6 in brackets. */
function hostPort(addr: string, port: unknown): string {
  return addr.includes(':') ? `[${addr}]:${String(port)}` : `${addr}:${String(port)}`;
}

export function renderConntrack(r: J): string {
  const items = r.items as J[];
  return formatTable(['DIR', 'PROTO', 'CLIENT', 'FRONTEND', 'BACKEND', 'SERVICE', 'AGE', 'LIFETIME', 'FLAGS', 'TCP', 'NAT'],
    items.map((c) => [c.dir, c.proto, hostPort(c.client, c.clientPort), c.frontend, c.backend ?? `gone(${c.backendId})`, c.service,
      `${Math.round(c.ageSeconds)}s`, c.expired ? 'expired' : `${c.lifetimeSeconds}s`, cell(c.flags), cell(c.tcpFlags), c.nat]))
    + `showing ${items.length} of ${r.total} (map holds ${r.entries} of ${r.maxEntries ?? '?'})${r.truncated ? ', dump truncated by the loader' : ''}\n`;
}

export function renderExplain(r: J): string {
  let out = `${hostPort(r.tuple.src, r.tuple.sport ?? '*')} -> ${hostPort(r.tuple.dst, r.tuple.dport)}/${r.tuple.proto}${r.program ? ` (${r.program})` : ''}\n`;
  (r.steps as string[]).forEach((s, i) => (out += `  ${i + 1}. ${s}\n`));
  const be = r.backend as J | null;
  out += `verdict: ${r.verdict}`;
  if (r.service) out += `  service ${r.service}`;
  if (be) out += `  backend ${hostPort(be.address, be.port)} (id ${be.id}, ${be.state}${be.local ? ', local' : ''})`;
  if (r.decidedBy) out += `  decided by ${r.decidedBy}`;
  if (r.maglev && r.maglev.slot !== null) out += `  slot ${r.maglev.slot}/${r.maglev.tableSize}`;
  out += '\n';
  if (r.nat?.snat) out += `SNAT to ${r.nat.snat.to} (${r.nat.snat.reason})\n`;
  const cand = (r.candidates ?? []) as J[];
  if (!be && cand.length) out += formatTable(['CANDIDATE', 'SHARE'], cand.map((c) => [hostPort(c.address, c.port), pct(c.share)]), '  ');
  return out;
}

const RENDER: Record<AdminCommand, (r: J, positional: string[]) => string> = {
  status: renderStatus,
  services: renderServices,
  maps: (r, pos) => (pos[0] ? renderMapEntries(r) : renderMaps(r)),
  conntrack: renderConntrack,
  explain: renderExplain,
};

/** Re-runs this command inside the node's network namespace against 127.0.0.1 (no admin socket). */
export function runInNodeNetns(cmd: string, argv: string[], paths: LabAgentPaths, lab: string, node: string, io: AdminIO): Promise<number> {
  const ns = paths.nodeNetns(lab, node);
  const strip = new Set(['--lab', '--node']);
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const name = a.split('=')[0]!;
    if (strip.has(name)) {
      if (!a.includes('=')) i++;
      continue;
    }
    rest.push(a);
  }
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, paths.cliMain, cmd, ...rest, '--admin', DEFAULT_ADMIN_URL], { stdio: 'inherit' });
    child.on('error', (err) => {
      io.err(`switchyard ${cmd}: cannot enter ${ns}: ${err.message}\n`);
      resolve(1);
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

export interface AdminIO { out(s: string): void; err(s: string): void }

/**
 * The admin API a command talks to. A lab node's agent is reached through
 * its admin socket; without one, the command is re-run inside the node's
 * namespace and its exit code is returned (as for an error: a number).
 */
export async function resolveAdminTarget(cmd: string, argv: string[], target: ParsedAdminArgs['target'], io: AdminIO,
  lab?: LabAgentPathsLoader): Promise<AdminTarget | number> {
  if (!('lab' in target)) return target;
  let paths: LabAgentPaths;
  try {
    if (!lab) throw new Error('the lab is not part of this build');
    paths = await lab();
  } catch (err) {
    io.err(`switchyard ${cmd}: --lab/--node: ${(err as Error).message}\n`);
    return 1;
  }
  const sock = paths.adminSocket(target.lab, target.node);
  if (existsSync(sock)) return { socketPath: sock };
  const dir = paths.stateDir(target.lab);
  if (!existsSync(dir)) {
    io.err(`switchyard ${cmd}: no lab ${JSON.stringify(target.lab)} (${dir} does not exist)\n`);
    return 1;
  }
  return runInNodeNetns(cmd, argv, paths, target.lab, target.node, io);
}

const STDIO: AdminIO = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

/**
 * Runs one admin command; `lab` gives the lab's paths for --lab/--node
 * (without it, those targets are refused: a build without the lab).
 */
export async function runAdminCommand(cmd: string, argv: string[], io: AdminIO = STDIO, lab?: LabAgentPathsLoader): Promise<number> {
  if (!(ADMIN_COMMANDS as readonly string[]).includes(cmd)) {
    io.err(`switchyard: unknown command ${JSON.stringify(cmd)}\n${ADMIN_USAGE}\n`);
    return 2;
  }
  const c = cmd as AdminCommand;
  let args: ParsedAdminArgs;
  try {
    args = parseAdminArgs(c, argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`switchyard ${cmd}: ${err.message}\n${ADMIN_USAGE}\n`);
    return 2;
  }
  if (args.help) {
    io.out(ADMIN_USAGE + '\n');
    return 0;
  }
  const target = await resolveAdminTarget(cmd, argv, args.target, io, lab);
  if (typeof target === 'number') return target;
  try {
    const r = await adminJSON(target, adminPath(c, args.positional, args.query));
    io.out(args.json ? JSON.stringify(r, null, 2) + '\n' : RENDER[c](r, args.positional));
    return 0;
  } catch (err) {
    if (err instanceof AdminHttpError) io.err(`switchyard ${cmd}: ${err.status}: ${err.message}\n`);
    else if (err instanceof AdminUnreachable) io.err(`switchyard ${cmd}: ${err.message}\n`);
    else throw err;
    return 1;
  }
}
