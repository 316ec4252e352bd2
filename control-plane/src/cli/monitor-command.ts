// `switchyard monitor`: the agent's datapath events as they happen (the
// admin API's GET /v1/monitor server-sent events): drops and rejects with
// their reason, traced translations, sampled new flows, named with the
// Service and backend. One line per event; --json: the event as JSON, one
// object per line. Runs until interrupted, or until --count events.
import http from 'node:http';
import { AdminUnreachable, type AdminTarget } from './admin-client.js';
import { DEFAULT_ADMIN_URL, parseTargetArgs, resolveAdminTarget, UsageError, type AdminIO, type LabAgentPathsLoader, type ParsedAdminArgs } from './admin-command.js';
import { parseAddress, parsePrefix } from '../util/ip.js';

export const MONITOR_USAGE = `usage: switchyard monitor [target] [--type drop|reject|trace|ct]... [--service NS/NAME] [--client CIDR] [--backend IP] [--count N] [--json]
  the datapath's events as they happen: drops and rejects with their reason (always reported),
  Service translations (--type trace: tracing is on in the datapath while you watch), sampled new flows (--type ct);
  default: every type. --client: only clients in CIDR (IPv4 or IPv6); --backend: only events naming that backend. --count N: stop after N events. --json: one JSON object per line.
target (default --admin ${DEFAULT_ADMIN_URL}):
  --admin URL | --admin-socket PATH | --lab NAME --node NODE`;

const FLAGS = { type: 'multi', service: 'value', client: 'value', backend: 'value', count: 'value' } as const;

type J = Record<string, any>;

function hostPort(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** One event as a line of text. */
export function renderMonitorEvent(e: J): string {
  const tuple = `${e.proto} ${hostPort(e.src, e.sport)} -> ${hostPort(e.dst, e.dport)}`;
  const svc = e.service ? ` service ${e.servicePort ?? e.service}${e.frontend ? ` (${e.frontend})` : ''}` : (e.frontendId ? ` frontend ${e.frontendId}` : '');
  const be = e.backend ? ` backend ${e.backend}${e.backendNode ? ` (${e.backendNode})` : ''}` : '';
  const xlate = `${hostPort(e.natSrc, e.natSport)} -> ${hostPort(e.natDst, e.natDport)}`;
  const head = `${e.time} ${e.node} ${e.hook}`;
  switch (e.kind) {
    case 'drop': return `${head} DROP ${e.reason} ${tuple}${svc}\n`;
    case 'reject': return `${head} REJECT ${e.reason} ${tuple}${svc}\n`;
    case 'trace': return `${head} TRACE ${e.reply ? 'reply' : 'forward'}${e.snat ? '+snat' : ''} ${tuple} => ${xlate}${svc}${be}\n`;
    case 'ct': return `${head} CT-NEW ${tuple} => ${xlate}${svc}${be}\n`;
    default: return `${head} ${String(e.kind).toUpperCase()} ${tuple}\n`;
  }
}

/** Reads the event stream; resolves with the exit code. */
function stream(target: AdminTarget, path: string, json: boolean, count: number, io: AdminIO): Promise<number> {
  return new Promise((resolve) => {
    let opts: http.RequestOptions;
    let where: string;
    if ('socketPath' in target) {
      opts = { socketPath: target.socketPath, path, headers: { host: 'switchyard-admin', accept: 'text/event-stream' } };
      where = target.socketPath;
    } else {
      const u = new URL(path, target.url.endsWith('/') ? target.url : `${target.url}/`);
      opts = { host: u.hostname, port: u.port || 80, path: u.pathname + u.search, headers: { accept: 'text/event-stream' } };
      where = target.url;
    }
    let seen = 0;
    let done = false;
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      req.destroy();
      process.off('SIGINT', onSigint);
      resolve(code);
    };
    const onSigint = (): void => finish(0);
    process.once('SIGINT', onSigint);
    const req = http.get(opts, (res) => {
      if (res.statusCode !== 200) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          let msg = body;
          try {
            msg = String(JSON.parse(body).message ?? body);
          } catch { /* not JSON */ }
          io.err(`switchyard monitor: ${res.statusCode}: ${msg}\n`);
          finish(1);
        });
        return;
      }
      let buf = '';
      let kind = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while (!done && (nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.startsWith('event: ')) kind = line.slice(7);
          else if (line.startsWith('data: ')) {
            const data = line.slice(6);
            if (json) io.out(data + '\n');
            else io.out(renderMonitorEvent(JSON.parse(data) as J));
            kind = '';
            if (count > 0 && ++seen >= count) finish(0);
          } else if (line.startsWith(': ') && !line.startsWith(': heartbeat')) io.err(`${line.slice(2)}\n`); // stderr: stdout stays one JSON object per line
        }
        void kind;
      });
      res.on('end', () => {
        if (!done) io.err('switchyard monitor: the agent closed the stream\n');
        finish(done ? 0 : 1);
      });
    });
    req.on('error', (err) => {
      if (done) return;
      io.err(`switchyard monitor: ${err instanceof AdminUnreachable ? err.message : `cannot reach the admin API at ${where}: ${err.message}`}\n`);
      finish(1);
    });
  });
}

const STDIO: AdminIO = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

export async function runMonitorCommand(argv: string[], io: AdminIO = STDIO, lab?: LabAgentPathsLoader): Promise<number> {
  let args: ParsedAdminArgs;
  let count = 0;
  try {
    args = parseTargetArgs('monitor', FLAGS, argv);
    for (const [k, v] of args.query) {
      if (k === 'type' && !['drop', 'reject', 'trace', 'ct'].includes(v)) throw new UsageError(`--type ${JSON.stringify(v)}: use drop, reject, trace or ct`);
      if (k === 'service' && !/^[^/\s]+\/[^/\s]+$/.test(v)) throw new UsageError(`--service ${JSON.stringify(v)}: use NAMESPACE/NAME`);
      if (k === 'client' && !parseAddress(v) && !parsePrefix(v)) throw new UsageError(`--client ${JSON.stringify(v)}: use an IPv4 or IPv6 CIDR or address`);
      if (k === 'backend' && !parseAddress(v)) throw new UsageError(`--backend ${JSON.stringify(v)}: use an IPv4 or IPv6 address`);
      if (k === 'count') {
        count = Number(v);
        if (!Number.isInteger(count) || count < 1) throw new UsageError(`--count ${JSON.stringify(v)}: a positive integer`);
      }
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`switchyard monitor: ${err.message}\n${MONITOR_USAGE}\n`);
    return 2;
  }
  if (args.help) {
    io.out(MONITOR_USAGE + '\n');
    return 0;
  }
  const target = await resolveAdminTarget('monitor', argv, args.target, io, lab);
  if (typeof target === 'number') return target;
  const qs = new URLSearchParams(args.query.filter(([k]) => k !== 'count')).toString();
  const code = await stream(target, qs ? `/v1/monitor?${qs}` : '/v1/monitor', args.json, count, io);
  // Everything printed reaches a pipe before the process exits.
  await new Promise<void>((r) => (process.stdout.writableLength === 0 ? r() : process.stdout.once('drain', () => r())));
  return code;
}
