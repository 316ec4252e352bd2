// GET /v1/monitor: the datapath monitor's events as server-sent events
// (text/event-stream): one `event: <kind>` with a JSON `data:` line per
// event (drop, reject, trace, ct), named with the Service, frontend and
// backend. Watching traces turns tracing on in the datapath while the
// stream is open (monitor/datapath-monitor.ts).
import type { FastifyPluginAsync } from 'fastify';
import { HttpError } from '../errors.js';
import type { RouteOptions } from './common.js';
import type { EventKind } from '../../dataplane/ebpf/datapath-event.js';
import type { MonitorEvent } from '../../monitor/datapath-monitor.js';
import { parseAddress, parsePrefix } from '../../util/ip.js';

interface Query { type?: string[]; service?: string; client?: string; backend?: string }

/** --type / ?type= values and the event kinds each selects ("drop": what did not get through). */
export const MONITOR_TYPES: Record<string, readonly EventKind[]> = {
  drop: ['drop', 'reject'], reject: ['reject'], trace: ['trace'], ct: ['ct'],
};

/** How often a comment line keeps an idle stream (and its proxies) open. */
const HEARTBEAT_MS = 15_000;

/** An event as the stream and `switchyard monitor --json` show it (bigint as a decimal string). */
export function monitorEventJSON(e: MonitorEvent): Record<string, unknown> {
  return { ...e, monotonicNs: e.monotonicNs.toString() };
}

export const monitorRoutes: FastifyPluginAsync<RouteOptions> = async (app, { source }) => {
  // Open streams end when the server closes (they would hold it open).
  const open = new Set<() => void>();
  app.addHook('onClose', async () => {
    for (const end of [...open]) end();
  });
  app.get<{ Querystring: Query }>('/v1/monitor', {
    schema: {
      summary: 'Datapath events as server-sent events: drops and rejects with their reason, traced translations, sampled new flows',
      description: 'One SSE event per datapath event, `event:` its kind (drop, reject, trace, ct), `data:` JSON with the reason, tuple, '
        + 'translation, Service, frontend and backend. type=drop gives drops and rejects; without type, every kind. While a stream '
        + 'wants traces (or ct), the agent turns tracing (or conntrack sampling) on in the datapath; it goes off with the last stream.',
      tags: ['monitor'],
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          type: { type: 'array', items: { type: 'string', enum: Object.keys(MONITOR_TYPES) }, description: 'Event types (repeat for several); default all' },
          service: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', description: 'Only this Service (namespace/name)' },
          client: { type: 'string', description: 'Only clients in this CIDR, IPv4 or IPv6 (a bare address is a /32 or /128)' },
          backend: { type: 'string', description: 'Only events naming the backend with this address, IPv4 or IPv6' },
        },
      },
    },
  }, async (req, reply) => {
    const monitor = source.monitor;
    if (!monitor) throw new HttpError(503, source.mode === 'ebpf' ? 'the datapath monitor is not running' : 'no datapath monitor in iptables mode');
    const kinds = req.query.type?.length ? [...new Set(req.query.type.flatMap((t) => MONITOR_TYPES[t]!))] : undefined;
    // Parsed before the stream opens: a filter that cannot be understood is a 400, never "everything".
    let client;
    if (req.query.client !== undefined) {
      const raw = req.query.client.trim();
      const bare = parseAddress(raw);
      client = bare ? parsePrefix(`${bare.text}/${bare.bytes.length * 8}`) : parsePrefix(raw);
      if (!client) throw new HttpError(400, `query parameter "client": ${JSON.stringify(req.query.client)} is not an IPv4 or IPv6 CIDR or address`);
    }
    let backend;
    if (req.query.backend !== undefined) {
      backend = parseAddress(req.query.backend.trim())?.text;
      if (!backend) throw new HttpError(400, `query parameter "backend": ${JSON.stringify(req.query.backend)} is not an IPv4 or IPv6 address`);
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const sub = monitor.subscribe({ kinds, service: req.query.service, client, backend }, (e) => {
      res.write(`event: ${e.kind}\ndata: ${JSON.stringify(monitorEventJSON(e))}\n\n`);
    });
    await monitor.settled();
    res.write(`: subscribed node=${source.nodeName} types=${(kinds ?? ['all']).join(',')}${req.query.service ? ` service=${req.query.service}` : ''}${client ? ` client=${client.cidr}` : ''}${backend ? ` backend=${backend}` : ''}${monitor.up ? '' : ` (no event stream from the loader yet${monitor.lastError ? `: ${monitor.lastError}` : ''})`}\n\n`);
    const beat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
    beat.unref();
    const done = (): void => {
      clearInterval(beat);
      sub.close();
      open.delete(end);
    };
    const end = (): void => {
      done();
      res.end();
    };
    open.add(end);
    req.raw.on('close', done);
    res.on('close', done);
  });
};
