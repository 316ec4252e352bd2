// The datapath monitor, agent side, against a stand-in loader socket: events
// of the loader's stream are named with their Service, counted in the
// metrics and served as server-sent events (GET /v1/monitor) to the
// subscribers whose filter they match; tracing is written on (SetMonitor)
// while a subscriber wants traces and off after the last one left.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildAdminApp } from '../../control-plane/src/admin/server.js';
import { eventCodec } from '../../control-plane/src/dataplane/ebpf/datapath-event.js';
import type { MapOp_op } from '../../control-plane/src/dataplane/ebpf/loader-messages.js';
import { RequestType, ResponseType } from '../../control-plane/src/dataplane/ebpf/loader-protocol.js';
import { SY_ENUMS, SY_STRUCTS } from '../../control-plane/src/dataplane/ebpf/sy-layout.generated.js';
import { ProxyMetrics } from '../../control-plane/src/metrics/proxy-metrics.js';
import { DatapathMonitor } from '../../control-plane/src/monitor/datapath-monitor.js';
import { runMonitorCommand } from '../../control-plane/src/cli/monitor-command.js';
import { ipv4ToBytes } from '../../control-plane/src/util/ipv4.js';
import { DesiredMapsBuilder } from '../../control-plane/src/dataplane/ebpf/desired-maps.js';
import { FakeLoader, FakeSync, SEED, WEB, WEB_SLICE, desiredOf, ebpfSource, program } from './admin-fake.js';
import { CHROMIUM, chromiumMissing } from './admin-browser.js';

/** A struct sy_event as the datapath writes it. */
function rawEvent(e: { type: number; reason?: number; frontendId: number; backendId?: number; src: string; sport: number; dst: string; dport: number }): Uint8Array {
  const b = eventCodec.encode({ type: e.type, family: 4, proto: 6, hook: 0, reason: e.reason ?? 0, frontendId: e.frontendId, backendId: e.backendId ?? 0,
    sport: e.sport, dport: e.dport, natSport: e.sport, natDport: e.dport });
  for (const [f, a] of [['saddr', e.src], ['nat_saddr', e.src], ['daddr', e.dst], ['nat_daddr', e.dst]] as const) b.set(ipv4ToBytes(a), SY_STRUCTS.sy_event.fields[f].offset);
  return b;
}

/** A stand-in for the loader's socket: answers the monitor request, then sends what push() is given. */
class FakeEventLoader {
  readonly path = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sy-mon-')), 'loader.sock');
  private readonly server: net.Server;
  private sub: { sock: net.Socket; seq: number } | undefined;

  constructor() {
    this.server = net.createServer((sock) => {
      sock.on('data', (d) => {
        const req = RequestType.toObject(RequestType.decodeDelimited(d), { longs: Number }) as { seq: number; monitor?: object };
        if (!req.monitor) return;
        this.sub = { sock, seq: req.seq };
        sock.write(ResponseType.encodeDelimited(ResponseType.fromObject({ seq: req.seq, code: 0, monitor: {} })).finish());
      });
    });
  }

  listen(): Promise<void> {
    return new Promise((r) => this.server.listen(this.path, () => r()));
  }

  get subscribed(): boolean {
    return !!this.sub;
  }

  push(events: Uint8Array[]): void {
    this.sub!.sock.write(ResponseType.encodeDelimited(ResponseType.fromObject({ seq: this.sub!.seq, code: 0, monitor: { events, missed: 0 } })).finish());
  }

  close(): void {
    this.sub?.sock.destroy();
    this.server.close();
    fs.rmSync(path.dirname(this.path), { recursive: true, force: true });
  }
}

/** GET /v1/monitor: the `data:` objects as they arrive. */
function sse(port: number, query: string): { events: Array<Record<string, any>>; opened: Promise<void>; close(): void } {
  const events: Array<Record<string, any>> = [];
  let opened!: () => void;
  let refused!: (err: Error) => void;
  const p = new Promise<void>((r, j) => { opened = r; refused = j; });
  const req = http.get({ host: '127.0.0.1', port, path: `/v1/monitor?${query}` }, (res) => {
    let buf = '';
    if (res.statusCode !== 200) {
      res.setEncoding('utf8').on('data', (d: string) => (buf += d)).on('end', () => refused(new Error(`GET /v1/monitor?${query}: ${res.statusCode} ${buf}`)));
      return;
    }
    res.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      if (buf.includes(': subscribed')) opened();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('data: ')) events.push(JSON.parse(line.slice(6)));
      }
    });
  });
  req.on('error', () => undefined);
  return { events, opened: p, close: () => req.destroy() };
}

async function until<T>(what: string, fn: () => T | undefined | false, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('datapath monitor (agent): names, metrics, SSE, tracing while watched', () => {
  const loader = new FakeEventLoader();
  const applied: MapOp_op[] = [];
  let monitor: DatapathMonitor;
  let app: FastifyInstance;
  let port = 0;
  let metrics: ProxyMetrics;
  let webFrontend = 0;

  before(async () => {
    await loader.listen();
    const desired = desiredOf([WEB], [WEB_SLICE]);
    const maps = new DesiredMapsBuilder({ seed: SEED, sizing: { floor: 251, ceiling: 131071 } }).build(desired);
    webFrontend = [...maps.services.values()][0]!.value.id;
    const fake = new FakeLoader();
    const sync = new FakeSync();
    sync.lastDesired = desired;
    program(fake, desired);
    metrics = new ProxyMetrics({ mode: 'ebpf', modeReason: 'test' });
    monitor = new DatapathMonitor({
      socketPath: loader.path, apply: async (ops) => applied.push(...ops), nodeName: 'node1',
      programmed: () => maps, desired: () => desired, registry: metrics.registry,
    });
    monitor.start();
    app = await buildAdminApp({ source: ebpfSource(fake, sync, { monitor }), metrics });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as net.AddressInfo).port;
    await until('the subscription', () => loader.subscribed && monitor.up);
  });

  after(async () => {
    monitor?.close();
    await app?.close();
    loader.close();
  });

  test('a drop reaches a drop subscriber named with its Service and reason, not a trace subscriber; the metric counts it', async () => {
    const drops = sse(port, 'type=drop');
    const traces = sse(port, 'type=trace&service=default/web');
    await drops.opened;
    await traces.opened;
    const svcAddr = [...desiredOf([WEB], [WEB_SLICE])][0]!.svc.clusterIP;
    loader.push([rawEvent({ type: SY_ENUMS.sy_event_type.SY_EV_DROP, reason: SY_ENUMS.sy_counter.SY_CNT_DROP_SOURCE_RANGE, frontendId: webFrontend,
      src: '198.18.0.200', sport: 40000, dst: svcAddr, dport: 80 })]);
    const e = await until('the drop event', () => drops.events[0]);
    assert.equal(e.kind, 'drop');
    assert.equal(e.reason, 'drop_source_range');
    assert.equal(e.service, 'default/web');
    assert.equal(e.servicePort, 'default/web:http');
    assert.match(e.frontend, /^ClusterIP /);
    assert.equal(e.src, '198.18.0.200');
    assert.equal(e.node, 'node1');
    assert.equal(traces.events.length, 0, 'the trace subscriber gets no drop');
    const text = await metrics.registry.metrics();
    assert.match(text, /switchyard_monitor_events_total\{kind="drop",reason="drop_source_range",service="default\/web"\} 1/);
    drops.close();
    traces.close();
  });

  test('tracing is written on while a trace subscriber is there, and off after it left', async () => {
    const tracing = () => applied.filter((o) => 'setMonitor' in o).map((o) => (o as { setMonitor: { trace: boolean } }).setMonitor.trace);
    await until('tracing off after the last trace subscriber of the previous test', () => tracing().at(-1) === false);
    const t = sse(port, 'type=trace');
    await t.opened;
    await until('tracing on', () => tracing().at(-1) === true);
    loader.push([rawEvent({ type: SY_ENUMS.sy_event_type.SY_EV_TRACE, frontendId: webFrontend, backendId: 1, src: '198.19.1.9', sport: 5000, dst: '198.18.128.1', dport: 80 })]);
    const e = await until('the trace event', () => t.events[0]);
    assert.equal(e.kind, 'trace');
    assert.equal(e.service, 'default/web');
    t.close();
    await until('tracing off', () => tracing().at(-1) === false);
  });

  test('client and backend filters: each subscriber gets only its clients\' and backend\'s events; one shared filter goes to the datapath; a bad filter is a counted 400', async () => {
    const monitorOps = () => applied.filter((o) => 'setMonitor' in o).map((o) => (o as { setMonitor: { trace: boolean; traceBackendId?: number; clientAddr?: Uint8Array; clientPrefixLen?: number } }).setMonitor);
    await until('tracing off after the previous test', () => monitorOps().at(-1)?.trace === false);
    // Which backend id 1 is, as the agent names it.
    const all = sse(port, 'type=trace');
    await all.opened;
    loader.push([rawEvent({ type: SY_ENUMS.sy_event_type.SY_EV_TRACE, frontendId: webFrontend, backendId: 1, src: '198.18.0.200', sport: 5000, dst: '198.18.128.1', dport: 80 })]);
    const named = await until('a named trace', () => all.events[0]);
    const beAddr = /^([^:]+):/.exec(named.backend as string)![1]!;
    all.close();
    await until('tracing off', () => monitorOps().at(-1)?.trace === false);

    const near = sse(port, 'type=trace&client=198.18.0.0/24');
    const far = sse(port, 'type=trace&client=198.19.0.0/16');
    const v6 = sse(port, 'type=trace&client=fd00::/8');
    const be = sse(port, `type=trace&backend=${beAddr}`);
    const other = sse(port, 'type=trace&backend=198.19.9.9');
    for (const s of [near, far, v6, be, other]) await s.opened;
    // Different client filters among the subscribers: the datapath traces every client, the agent filters.
    await until('tracing on', () => monitorOps().at(-1)?.trace === true);
    assert.equal(monitorOps().at(-1)!.clientPrefixLen ?? 0, 0, 'no single client CIDR in the datapath while the subscribers differ');
    loader.push([
      rawEvent({ type: SY_ENUMS.sy_event_type.SY_EV_TRACE, frontendId: webFrontend, backendId: 1, src: '198.18.0.200', sport: 5001, dst: '198.18.128.1', dport: 80 }),
      rawEvent({ type: SY_ENUMS.sy_event_type.SY_EV_TRACE, frontendId: webFrontend, backendId: 2, src: '198.19.1.9', sport: 5002, dst: '198.18.128.1', dport: 80 }),
    ]);
    await until('near and far events', () => near.events.length >= 1 && far.events.length >= 1 && be.events.length >= 1);
    await new Promise((r) => setTimeout(r, 200)); // anything misrouted would have arrived by now
    assert.deepEqual(near.events.map((e) => e.sport), [5001]);
    assert.deepEqual(far.events.map((e) => e.sport), [5002]);
    assert.deepEqual(v6.events.map((e) => e.sport), [], 'an IPv6 CIDR never matches an IPv4 client');
    assert.deepEqual(be.events.map((e) => e.sport), [5001], `only backend ${beAddr}'s event`);
    assert.deepEqual(other.events.map((e) => e.sport), []);
    for (const s of [far, v6, be, other]) s.close();
    // Only one client CIDR wanted: the datapath filters too.
    await until('the datapath filter on 198.18.0.0/24', () => {
      const m = monitorOps().at(-1)!;
      return m.trace && m.clientPrefixLen === 24 && Buffer.from(m.clientAddr ?? []).equals(Buffer.from([198, 18, 0, 0]));
    });
    near.close();
    await until('tracing off', () => monitorOps().at(-1)?.trace === false);

    for (const [q, msg] of [['client=198.18.0.0/33', /"client"/], ['client=nonsense', /"client"/], ['backend=198.19.1.0/24', /"backend"/]] as const) {
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => http.get({ host: '127.0.0.1', port, path: `/v1/monitor?${q}` }, (r) => {
        let body = '';
        r.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: r.statusCode!, body }));
      }).on('error', reject));
      assert.equal(res.status, 400, `${q}: ${res.body}`);
      assert.match((JSON.parse(res.body) as { message: string }).message, msg);
    }
    assert.match(await metrics.registry.metrics(), /switchyard_admin_rejected[a-z_]*\{[^}]*route="\/v1\/monitor"[^}]*code="400"[^}]*\} 3/);
  });

  test('switchyard monitor --client/--backend: passed to the stream; a value that is no CIDR or address is a usage error', async () => {
    for (const [args, msg] of [[['--client', '10.0.0.0/40'], /--client "10.0.0.0\/40"/], [['--backend', 'fd00::/64'], /--backend "fd00::\/64"/]] as const) {
      let err = '';
      const code = await runMonitorCommand([...args, '--admin', `http://127.0.0.1:${port}`], { out: () => undefined, err: (t) => (err += t) });
      assert.equal(code, 2, err);
      assert.match(err, msg);
    }
    let out = '';
    const run = runMonitorCommand(['--type', 'trace', '--client', '198.18.0.0/24', '--backend', '198.19.1.2', '--count', '1', '--json', '--admin', `http://127.0.0.1:${port}`],
      { out: (t) => (out += t), err: () => undefined });
    await until('the one client CIDR and backend in the datapath', () => {
      const m = [...applied].reverse().find((o) => 'setMonitor' in o)?.setMonitor;
      return m?.trace === true && m.clientPrefixLen === 24;
    });
    const trace = (backendId: number, src: string, sport: number) =>
      rawEvent({ type: SY_ENUMS.sy_event_type.SY_EV_TRACE, frontendId: webFrontend, backendId, src, sport, dst: '198.18.128.1', dport: 80 });
    // Another client, then another backend, then the one the filters select: --count 1 ends on the third.
    loader.push([trace(1, '198.19.1.9', 6001)]);
    loader.push([trace(2, '198.18.0.200', 6002)]);
    loader.push([trace(1, '198.18.0.200', 6003)]);
    assert.equal(await run, 0);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.map((e) => e.sport), [6003]);
  });

  // The issue asks for the drop within 2 s; tests assert no timing (a loaded
  // machine would make it flaky): the time it took is reported instead.
  test('the status page\'s live feed shows a drop as it happens, without console errors (headless Chromium)', { skip: chromiumMissing(), timeout: 120_000 }, async (t) => {
    const { chromium } = await import('playwright-core');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-chromium-'));
    const ctx = await chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    const errors: string[] = [];
    try {
      const page = await ctx.newPage();
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(`console: ${m.text()}`);
      });
      page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
      await page.goto(`http://127.0.0.1:${port}/ui/`, { waitUntil: 'load', timeout: 30_000 });
      await page.waitForFunction(() => document.getElementById('feed-state')?.textContent === 'live', undefined, { timeout: 30_000 });
      await monitor.settled();
      const sent = Date.now();
      loader.push([rawEvent({ type: SY_ENUMS.sy_event_type.SY_EV_REJECT, reason: SY_ENUMS.sy_counter.SY_CNT_REJECT_TCP, frontendId: webFrontend,
        src: '198.19.1.9', sport: 41000, dst: '198.18.128.1', dport: 80 })]);
      await page.waitForFunction(() => Number(document.body.dataset.feedEvents || 0) >= 1, undefined, { timeout: 30_000 });
      t.diagnostic(`the drop showed on the page ${Date.now() - sent} ms after the loader sent it`);
      const row = await page.evaluate(() => document.querySelector('#feed tbody tr')?.textContent ?? '');
      assert.match(row, /reject.*reject_tcp.*198\.19\.1\.9:41000.*default\/web:http/);
      assert.deepEqual(errors, []);
    } finally {
      await ctx.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
