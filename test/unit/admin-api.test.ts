// The admin API's routes against a fake loader (fastify inject): what they
// answer, and how they refuse bad input.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildAdminApp, startAdminServer } from '../../control-plane/src/admin/server.js';
import { ProxyMetrics } from '../../control-plane/src/metrics/proxy-metrics.js';
import { renderStatus } from '../../control-plane/src/cli/admin-command.js';
import { FakeLoader, FakeSync, WEB, WEB_SLICE, desiredOf, ebpfSource, program, u32 } from './admin-fake.js';

const le64 = (n: bigint): Uint8Array => { const a = new Uint8Array(8); new DataView(a.buffer).setBigUint64(0, n, true); return a; };

describe('admin API, ebpf mode', () => {
  const loader = new FakeLoader();
  const sync = new FakeSync();
  const metrics = new ProxyMetrics({ mode: 'ebpf', modeReason: 'test', loader });
  let app: FastifyInstance;

  before(async () => {
    sync.lastDesired = desiredOf([WEB, ['api', { clusterIP: '198.18.128.20', clusterIPs: ['198.18.128.20'], ports: [{ name: 'grpc', port: 9000, protocol: 'TCP' }] }]],
      [WEB_SLICE, ['api-1', 'api', [{ name: 'grpc', port: 9000 }], [{ ip: '198.19.1.9', node: 'node1' }]]]);
    program(loader, sync.lastDesired);
    app = await buildAdminApp({
      source: ebpfSource(loader, sync, { snat: { range: { min: 1024, max: 29999 }, source: 'default', localPortRange: { min: 32768, max: 60999 } } }),
      metrics,
    });
  });
  after(async () => app.close());

  const get = async (url: string) => {
    const r = await app.inject({ method: 'GET', url });
    return { status: r.statusCode, body: r.headers['content-type']?.toString().includes('json') ? r.json() : r.body, type: String(r.headers['content-type']) };
  };

  test('GET /v1/services: frontends, backends with state and Maglev shares, joined with names', async () => {
    const r = await get('/v1/services');
    assert.equal(r.status, 200);
    const web = r.body.services.find((s: any) => s.name === 'default/web:http');
    assert.ok(web, JSON.stringify(r.body.services.map((s: any) => s.name)));
    assert.equal(web.frontends.length, 1);
    const f = web.frontends[0];
    assert.equal(f.kind, 'ClusterIP');
    assert.equal(f.address, '198.18.128.10');
    assert.equal(f.port, 80);
    assert.equal(f.protocol, 'TCP');
    assert.equal(f.scope, 'external');
    assert.deepEqual(f.flags, ['ClusterIP']);
    assert.equal(f.count, 3);
    assert.equal(f.tableSize, 509);
    assert.equal(f.algorithm, 'maglev');
    // Table backends: the three ready ones; shares sum to 1.
    assert.deepEqual(f.backends.map((b: any) => b.address).sort(), ['198.19.1.2', '198.19.1.3', '198.19.2.2']);
    assert.ok(Math.abs(f.backends.reduce((n: number, b: any) => n + b.share, 0) - 1) < 1e-9);
    for (const b of f.backends) assert.ok(b.share > 0.3 && b.share < 0.37, `share ${b.share}`);
    // Service backends: all four, the terminating one too, with node, zone and locality.
    assert.equal(web.backends.length, 4);
    const term = web.backends.find((b: any) => b.address === '198.19.2.3');
    assert.equal(term.state, 'terminating');
    assert.equal(term.local, false);
    assert.equal(term.node, 'node2');
    const local = web.backends.find((b: any) => b.address === '198.19.1.2');
    assert.equal(local.state, 'active');
    assert.equal(local.local, true);
    assert.equal(local.zone, 'zone-a');
    assert.deepEqual(web.problems, []);
    // Filters.
    const one = await get('/v1/services?name=api');
    assert.deepEqual(one.body.services.map((s: any) => s.name), ['default/api:grpc']);
    assert.equal((await get('/v1/services?namespace=other')).body.services.length, 0);
  });

  test('a frontend the agent does not know and a desired backend missing from the map are reported', async () => {
    const saved = loader.maps.get('sy_backends')!.entries;
    loader.set('sy_backends', saved.filter((e) => e.value[3] !== 9)); // drop 198.19.1.9
    const before = sync.lastDesired;
    sync.lastDesired = before.filter((d) => d.svc.name.name !== 'web');
    try {
      const r = await get('/v1/services');
      const unknown = r.body.services.find((s: any) => s.name.startsWith('unknown/'));
      assert.ok(unknown, 'orphan frontend listed');
      assert.match(unknown.problems[0], /not in the agent's desired state/);
      const api = r.body.services.find((s: any) => s.name === 'default/api:grpc');
      assert.ok(api.problems.some((p: string) => /198\.19\.1\.9:9000 is not in sy_backends/.test(p)), JSON.stringify(api.problems));
    } finally {
      loader.set('sy_backends', saved);
      sync.lastDesired = before;
    }
  });

  test('GET /v1/maps lists every map; /v1/maps/:name decodes, pages and filters', async () => {
    const maps = await get('/v1/maps');
    assert.equal(maps.status, 200);
    const names = maps.body.maps.map((m: any) => m.name);
    for (const n of ['sy_services', 'sy_backends', 'sy_revnat', 'sy_maglev', 'sy_conntrack', 'sy_config']) assert.ok(names.includes(n), n);
    const be = maps.body.maps.find((m: any) => m.name === 'sy_backends');
    assert.equal(be.entries, 5);
    assert.equal(be.maxEntries, 65536);
    assert.equal(be.keySize, 4);
    assert.equal(be.pinPath, '/sys/fs/bpf/switchyard/test/sy_backends');

    const all = await get('/v1/maps/sy_backends');
    assert.equal(all.status, 200);
    assert.equal(all.body.total, 5);
    assert.deepEqual(all.body.fields, ['id', 'addr', 'port', 'proto', 'state', 'local', 'zone']);
    const term = all.body.items.find((i: any) => i.addr === '198.19.2.3');
    assert.deepEqual({ port: term.port, proto: term.proto, state: term.state, local: term.local }, { port: 8080, proto: 'TCP', state: 'terminating', local: false });

    const paged = await get('/v1/maps/sy_backends?limit=2&offset=1');
    assert.equal(paged.body.items.length, 2);
    assert.deepEqual(paged.body.items, all.body.items.slice(1, 3));
    const active = await get('/v1/maps/sy_backends?filter=state=active&filter=local=true');
    assert.deepEqual(active.body.items.map((i: any) => i.addr).sort(), ['198.19.1.2', '198.19.1.3', '198.19.1.9']);

    const svc = await get('/v1/maps/sy_services?filter=flags=ClusterIP');
    assert.equal(svc.body.total, 2);
    assert.equal(svc.body.items[0].kind, 'ClusterIP');
    const mg = await get('/v1/maps/sy_maglev');
    const t = mg.body.items.find((i: any) => i.tableSize === 509);
    assert.equal(t.backends.reduce((n: number, b: any) => n + b.slots, 0), 509);
    assert.equal(t.table, undefined);
    const full = await get('/v1/maps/sy_maglev?slots=true');
    assert.equal(full.body.items.find((i: any) => i.tableSize === 509).table.length, 509);
    const cfg = await get('/v1/maps/sy_config');
    assert.deepEqual(cfg.body.items[0], { index: 0, flowHashSeed: 0x5317c4d1, flags: 0, nodeAddr: '198.18.0.11', snatPortMin: 0, snatPortMax: 0, hostNetnsCookie: '4099', serviceCIDR: '' });
  });

  test('bad input: 400/404 with messages naming the problem; counted; the server keeps serving', async () => {
    const cases: Array<[string, number, RegExp]> = [
      ['/v1/maps/sy_nope', 404, /unknown map "sy_nope" \(maps: .*sy_backends/],
      ['/v1/maps/sy_backends?limit=-1', 400, /query parameter "limit" must be >= 0/],
      ['/v1/maps/sy_backends?limit=abc', 400, /"limit" must be an integer/],
      ['/v1/maps/sy_backends?offset=-3', 400, /"offset" must be >= 0/],
      ['/v1/maps/sy_backends?colour=red', 400, /unknown query parameter "colour" \(allowed: limit, offset, filter, slots, table\)/],
      ['/v1/maps?x=1', 400, /unknown query parameter "x" \(none allowed\)/],
      ['/v1/maps/sy_backends?filter=bogus=1', 400, /map sy_backends has no field "bogus" \(fields: id, addr, port/],
      ['/v1/maps/sy_backends?filter=noequals', 400, /"filter" must look like field=value/],
      ['/v1/maps/sy_backends?table=nat', 400, /"table" applies to the iptables mode only/],
      ['/v1/maps/bad%20name', 400, /path parameter "name" has the wrong form/],
      ['/v1/services?foo=bar', 400, /unknown query parameter "foo" \(allowed: namespace, name\)/],
      ['/v1/explain?src=1.2.3&dst=198.18.128.10&dport=80', 400, /query parameter "src" must be an IPv4 or IPv6 address \(got "1.2.3"\)/],
      ['/v1/explain?src=198.19.1.5&dst=198.18.128.10', 400, /missing query parameter "dport"/],
      ['/v1/explain?src=198.19.1.5&dst=198.18.128.10&dport=70000', 400, /"dport" must be <= 65535/],
      ['/v1/explain?src=198.19.1.5&dst=198.18.128.10&dport=80&proto=icmp', 400, /"proto" must be one of tcp, udp, TCP, UDP/],
      ['/v1/conntrack?client=not-an-ip', 400, /"client" must be an IPv4 or IPv6 address/],
      ['/v1/conntrack?limit=-5', 400, /"limit" must be >= 0/],
      ['/v1/conntrack?dir=sideways', 400, /"dir" must be one of forward, reply/],
      ['/v1/nothing', 404, /no route GET \/v1\/nothing; see \/openapi.json/],
      ['/ui/evil.exe', 400, /path parameter "file"/],
    ];
    for (const [url, status, re] of cases) {
      const r = await get(url);
      assert.equal(r.status, status, `${url}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.statusCode, status, url);
      assert.match(r.body.message, re, url);
      assert.ok(r.body.error, url);
    }
    const m = await metrics.metrics();
    const rejected = [...m.matchAll(/^switchyard_admin_rejected_requests_total\{[^}]*\} (\d+)$/gm)].reduce((n, x) => n + Number(x[1]), 0);
    assert.equal(rejected, cases.length);
    assert.match(m, /switchyard_admin_rejected_requests_total\{route="\/v1\/maps\/:name",code="404"\} 1/);
    assert.equal((await get('/v1/services')).status, 200);
  });

  test('the loader gone: 503 naming it, and back', async () => {
    loader.down = true;
    try {
      const r = await get('/v1/maps/sy_backends');
      assert.equal(r.status, 503);
      assert.match(r.body.message, /loader: UNAVAILABLE/);
      const s = await get('/v1/status');
      assert.equal(s.status, 200);
      assert.equal(s.body.loader.up, false);
    } finally {
      loader.down = false;
    }
    assert.equal((await get('/v1/maps/sy_backends')).status, 200);
  });

  test('GET /v1/conntrack joins entries with backends, frontends and Services; filters', async () => {
    const now = process.hrtime.bigint();
    const { encCtKey, encCtValue } = await import('./admin-fake.js');
    const beId = (addr: string) => {
      const e = loader.maps.get('sy_backends')!.entries.find((x) => x.value[3] === Number(addr.split('.')[3]) && x.value[2] === Number(addr.split('.')[2]))!;
      return new DataView(e.key.buffer, e.key.byteOffset).getUint32(0, true);
    };
    const svcEntry = loader.maps.get('sy_services')!.entries.find((e) => e.key[3] === 10)!;
    const feId = new DataView(svcEntry.value.buffer, svcEntry.value.byteOffset).getUint32(0, true);
    loader.set('sy_conntrack', [
      { key: encCtKey({ saddr: '198.19.1.50', daddr: '198.18.128.10', sport: 40000, dport: 80, proto: 6, dir: 0 }), value: encCtValue({ lastSeen: now, backendId: beId('198.19.2.2'), revNatId: feId, tcpFlags: 0x12, flags: 0x21 }) },
      { key: encCtKey({ saddr: '198.19.2.2', daddr: '198.19.1.50', sport: 8080, dport: 40000, proto: 6, dir: 1 }), value: encCtValue({ lastSeen: now, backendId: beId('198.19.2.2'), revNatId: feId, tcpFlags: 0x12, flags: 1 }) },
      { key: encCtKey({ saddr: '198.19.1.51', daddr: '198.18.128.10', sport: 40001, dport: 80, proto: 6, dir: 0 }), value: encCtValue({ lastSeen: now - 120_000_000_000n, backendId: 999, revNatId: feId, tcpFlags: 0x2 }) },
      // A hairpin flow, SNATed to the node: the reply entry is keyed by the node address, the client is in nat_addr.
      { key: encCtKey({ saddr: '198.19.1.2', daddr: '198.18.128.10', sport: 40002, dport: 80, proto: 6, dir: 0 }), value: encCtValue({ lastSeen: now, backendId: beId('198.19.1.2'), revNatId: feId, flags: 5, nat: ['198.18.0.11', 40002] }) },
      { key: encCtKey({ saddr: '198.19.1.2', daddr: '198.18.0.11', sport: 8080, dport: 40002, proto: 6, dir: 1 }), value: encCtValue({ lastSeen: now, backendId: beId('198.19.1.2'), revNatId: feId, flags: 5, nat: ['198.19.1.2', 40002] }) },
    ]);
    try {
      const all = await get('/v1/conntrack');
      assert.equal(all.status, 200);
      assert.equal(all.body.total, 5);
      const hairpin = all.body.items.filter((i: any) => i.client === '198.19.1.2');
      assert.equal(hairpin.length, 2, 'both entries of the SNATed flow name the real client');
      assert.deepEqual(hairpin.map((i: any) => [i.dir, i.clientPort, i.nat, i.flags.join()]).sort(),
        [['forward', 40002, '198.18.0.11:40002', 'SeenReply,SNAT'], ['reply', 40002, '198.19.1.2:40002', 'SeenReply,SNAT']]);
      const fwd = all.body.items.find((i: any) => i.dir === 'forward' && i.client === '198.19.1.50');
      assert.equal(fwd.service, 'default/web:http');
      assert.equal(fwd.frontend, '198.18.128.10:80');
      assert.equal(fwd.backend, '198.19.2.2:8080');
      assert.equal(fwd.expired, false);
      assert.equal(fwd.lifetimeSeconds, 21600);
      assert.deepEqual(fwd.flags, ['SeenReply', 'Established']);
      assert.deepEqual(fwd.tcpFlags, ['SYN', 'ACK']);
      const rep = all.body.items.find((i: any) => i.dir === 'reply' && i.nat === null);
      assert.equal(rep.client, '198.19.1.50');
      assert.equal(rep.clientPort, 40000);
      const stale = all.body.items.find((i: any) => i.client === '198.19.1.51');
      assert.equal(stale.expired, true);
      assert.equal(stale.backend, null);
      assert.equal(stale.backendState, 'gone');

      assert.equal((await get('/v1/conntrack?client=198.19.1.50')).body.total, 2);
      assert.equal((await get('/v1/conntrack?client=198.19.1.50&dir=reply')).body.total, 1);
      assert.equal((await get('/v1/conntrack?backend=198.19.2.2')).body.total, 2);
      assert.equal((await get('/v1/conntrack?client=198.19.1.2')).body.total, 2);
      assert.equal((await get('/v1/conntrack?backend=198.19.2.2:9999')).body.total, 0);
      assert.equal((await get('/v1/conntrack?service=default/web')).body.total, 5);
      assert.equal((await get('/v1/conntrack?service=default/web:http')).body.total, 5);
      assert.equal((await get('/v1/conntrack?service=198.18.128.10:80')).body.total, 5);
      assert.equal((await get('/v1/conntrack?service=default/api')).body.total, 0);
      assert.equal((await get('/v1/conntrack?expired=true')).body.total, 1);
      assert.equal((await get('/v1/conntrack?limit=1')).body.items.length, 1);
    } finally {
      loader.set('sy_conntrack', []);
    }
  });

  test('GET /openapi.json documents every route with its parameters', async () => {
    const r = await get('/openapi.json');
    assert.equal(r.status, 200);
    const doc = r.body;
    assert.equal(doc.openapi, '3.0.3');
    for (const p of ['/v1/services', '/v1/maps', '/v1/maps/{name}', '/v1/conntrack', '/v1/explain', '/v1/status', '/healthz', '/metrics']) assert.ok(doc.paths[p]?.get, p);
    const explain = doc.paths['/v1/explain'].get;
    const params = Object.fromEntries(explain.parameters.map((p: any) => [p.name, p]));
    assert.deepEqual(Object.keys(params).sort(), ['dport', 'dst', 'from', 'proto', 'sport', 'src']);
    assert.equal(params.src.required, true);
    assert.match(params.src.description, /IPv4 or IPv6/);
    assert.equal(params.sport.required, false);
    assert.equal(params.dport.schema.maximum, 65535);
    assert.ok(explain.responses['400']);
    const byName = doc.paths['/v1/maps/{name}'].get;
    assert.equal(byName.parameters.find((p: any) => p.name === 'name').in, 'path');
    assert.ok(byName.responses['404']);
    assert.equal(doc.paths['/'], undefined);
  });

  test('/healthz and /livez follow the sync loop as kube-proxy: 503 once a change waited past the health timeout, 200 after recovery', async () => {
    assert.equal((await get('/healthz')).status, 200);
    // One failed sync (or a refused Service) is not unhealthy: the proxy is still syncing.
    sync.lastError = 'loader: UNAVAILABLE: gone';
    assert.equal((await get('/healthz')).status, 200);
    // Changes pending for longer than the timeout (60 s here) are.
    sync.oldestPendingChange = Date.now() - 61_000;
    const bad = await get('/healthz');
    assert.equal(bad.status, 503);
    assert.ok(bad.body.lastUpdated && bad.body.currentTime);
    assert.equal((await get('/livez')).status, 503);
    sync.lastError = undefined;
    sync.oldestPendingChange = 0;
    assert.equal((await get('/livez')).status, 200);
  });

  test('GET /v1/status: mode, sync history, loader', async () => {
    sync.history.push({ at: Date.now() - 1000, durationMs: 12, changes: 5, ok: true }, { at: Date.now(), durationMs: 3, changes: 0, ok: false, error: 'x' });
    const r = await get('/v1/status?history=1');
    assert.equal(r.body.mode, 'ebpf');
    assert.equal(r.body.node, 'node1');
    assert.equal(r.body.sync.history.length, 1);
    assert.equal(r.body.sync.history[0].error, 'x');
    assert.equal(r.body.servicePorts, 2);
    assert.equal(r.body.loader.instance, 'test');
    assert.deepEqual(r.body.snat, { portRange: '1024-29999', source: 'default', ipLocalPortRange: '32768-60999' });
    // Datapath counters by name (per-CPU copies summed), conntrack ones included.
    loader.define('sy_counters', ['percpu_array', 4, 8, 48]);
    const twoCpus = (n: bigint) => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, n, true); new DataView(b.buffer).setBigUint64(8, 1n, true); return b; };
    loader.set('sy_counters', [{ key: u32(36), value: twoCpus(4n) }, { key: u32(32), value: twoCpus(0n) }]);
    const c = await get('/v1/status');
    assert.deepEqual(c.body.datapathEvents, [{ event: 'ct_reply_restored', count: 1 }, { event: 'ct_half_close', count: 5 }]);
    assert.match(renderStatus(c.body), /SNAT ports 1024-29999 \(default; node's ip_local_port_range 32768-60999\)/);
    assert.match(renderStatus(c.body), /datapath events: ct_reply_restored 1, ct_half_close 5/);
    assert.equal((await get('/v1/status?history=501')).status, 400);
    // Non-zero datapath counters, by name (per-CPU copies summed).
    loader.define('sy_counters', ['percpu_array', 4, 8, 48]);
    loader.set('sy_counters', [{ key: u32(0), value: le64(3n) }, { key: u32(1), value: le64(0n) }, { key: u32(27), value: new Uint8Array([...le64(1n), ...le64(1n)]) }]);
    assert.deepEqual((await get('/v1/status')).body.datapathEvents, [{ event: 'tc_dnat', count: 3 }, { event: 'drop_frag_no_first', count: 2 }]);
  });

  test('the status page and its assets are served locally', async () => {
    const page = await get('/ui/');
    assert.equal(page.status, 200);
    assert.match(page.type, /text\/html/);
    assert.match(page.body, /<script src="\/ui\/app.js">/);
    assert.doesNotMatch(page.body, /https?:\/\/(?!www\.w3\.org)/, 'nothing from elsewhere');
    const js = await get('/ui/app.js');
    assert.equal(js.status, 200);
    assert.match(js.type, /javascript/);
    assert.equal((await get('/ui/style.css')).status, 200);
    assert.equal((await get('/ui/nothere.js')).status, 404);
    const root = await app.inject({ method: 'GET', url: '/' });
    assert.equal(root.statusCode, 302);
    assert.equal(root.headers.location, '/ui/');
  });

  test('GET /metrics on the admin API', async () => {
    const r = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(r.statusCode, 200);
    assert.match(r.body, /switchyard_map_entries\{map="sy_backends"\} 5/);
  });
});

describe('admin API, iptables mode', () => {
  const SAVE = `# Generated by iptables-save
*filter
:INPUT ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
-A INPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-XYZ - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A KUBE-SERVICES -d 198.18.128.10/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-XYZ
-A KUBE-SVC-XYZ -j KUBE-SEP-AAA
COMMIT
`;
  const sync = new FakeSync();
  let app: FastifyInstance;
  let saveFails = false;
  before(async () => {
    sync.lastDesired = desiredOf([WEB], [WEB_SLICE]);
    app = await buildAdminApp({
      source: {
        mode: 'iptables', modeReason: 'test', nodeName: 'node1', seed: 1, healthTimeoutMs: 60_000, sync,
        iptables: { lastRestoreInput: '*nat\n:KUBE-SERVICES - [0:0]\nCOMMIT\n', save: async () => { if (saveFails) throw new Error('no iptables'); return SAVE; } },
      },
    });
  });
  after(async () => app.close());

  test('/v1/maps lists tables and chains; /v1/maps/:chain its rules, by table', async () => {
    const r = (await app.inject('/v1/maps')).json();
    assert.equal(r.mode, 'iptables');
    assert.equal(r.rulesSource, 'iptables-save');
    const nat = r.tables.find((t: any) => t.table === 'nat');
    assert.deepEqual(nat.chains.find((c: any) => c.chain === 'KUBE-SERVICES'), { chain: 'KUBE-SERVICES', builtin: false, rules: 1 });
    const both = (await app.inject('/v1/maps/KUBE-SERVICES')).json();
    assert.deepEqual(both.tables, ['filter', 'nat']);
    assert.equal(both.total, 1);
    assert.equal(both.items[0].target, 'KUBE-SVC-XYZ');
    const f = (await app.inject('/v1/maps/INPUT?table=filter')).json();
    assert.equal(f.items[0].rule, '-A INPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
    const missing = await app.inject('/v1/maps/KUBE-NOPE');
    assert.equal(missing.statusCode, 404);
    assert.match(missing.json().message, /unknown chain "KUBE-NOPE"/);
    assert.equal((await app.inject('/v1/maps/INPUT?slots=true')).statusCode, 400);
    assert.equal((await app.inject('/v1/maps/INPUT?table=bogus')).statusCode, 400);
    assert.equal((await app.inject('/v1/conntrack')).statusCode, 404);
    saveFails = true;
    try {
      assert.equal((await app.inject('/v1/maps')).json().rulesSource, 'last-restore-input');
    } finally {
      saveFails = false;
    }
  });

  test('/v1/services shows kube-proxy chains and endpoints; explain lists the random candidates', async () => {
    const r = (await app.inject('/v1/services')).json();
    const web = r.services[0];
    assert.equal(web.name, 'default/web:http');
    assert.equal(web.chains[0].role, 'cluster');
    assert.match(web.chains[0].chain, /^KUBE-SVC-[A-Z2-7]{16}$/);
    assert.equal(web.backends.length, 4);
    assert.equal(web.backends.filter((b: any) => b.probability !== null).length, 3);
    assert.match(web.backends[0].chain, /^KUBE-SEP-/);
    const ex = (await app.inject('/v1/explain?src=198.19.1.50&dst=198.18.128.10&dport=80')).json();
    assert.equal(ex.verdict, 'dnat');
    assert.equal(ex.candidates.length, 3);
    assert.equal(ex.service, 'default/web:http');
    const none = (await app.inject('/v1/explain?src=198.19.1.50&dst=198.18.128.99&dport=80')).json();
    assert.equal(none.verdict, 'pass');
  });
});

describe('admin server listeners', () => {
  test('TCP and a unix socket (mode 0600) serve the same app; the socket is removed on close', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-admin-'));
    const sock = path.join(dir, 'sub', 'admin.sock');
    const loader = new FakeLoader();
    loader.set('sy_config', [{ key: u32(0), value: new Uint8Array(24) }]);
    const srv = await startAdminServer({ source: ebpfSource(loader, new FakeSync()), bind: { host: '127.0.0.1', port: 0 }, socketPath: sock });
    try {
      assert.equal(fs.statSync(sock).mode & 0o777, 0o600);
      const viaSocket = await new Promise<string>((resolve, reject) => {
        http.get({ socketPath: sock, path: '/v1/maps' }, (res) => {
          let b = '';
          res.on('data', (d) => (b += d));
          res.on('end', () => resolve(b));
        }).on('error', reject);
      });
      assert.equal(JSON.parse(viaSocket).instance, 'test');
      const viaTcp = await fetch(`http://127.0.0.1:${srv.address!.port}/v1/maps`);
      assert.equal(((await viaTcp.json()) as { instance: string }).instance, 'test');
    } finally {
      await srv.close();
    }
    assert.equal(fs.existsSync(sock), false);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
