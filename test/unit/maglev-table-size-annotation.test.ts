// switchyard.io/maglev-table-size: a valid value pins the Service's table
// size whatever its backend count; anything else is refused with a reason
// (in the conversion's problems, which the agent logs, and in the services
// API / `switchyard services`), and the Service keeps the default sizing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAdminServer, type AdminServer } from '../../control-plane/src/admin/server.js';
import { runAdminCommand } from '../../control-plane/src/cli/admin-command.js';
import { computeDesiredState } from '../../control-plane/src/dataplane/desired-state.js';
import { DesiredMapsBuilder } from '../../control-plane/src/dataplane/ebpf/desired-maps.js';
import { DEFAULT_MAGLEV_SIZING } from '../../control-plane/src/dataplane/maglev.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import { MAGLEV_TABLE_SIZE_ANNOTATION, parseTableSizeAnnotation } from '../../control-plane/src/model/maglev-table-size-annotation.js';
import { ServiceTracker, servicePortsOf } from '../../control-plane/src/model/service-tracker.js';
import { ProxyMetrics } from '../../control-plane/src/metrics/proxy-metrics.js';
import { desiredOf, ebpfSource, FakeLoader, FakeSync, program } from './admin-fake.js';
import { service, slice, type Ep } from './fixtures.js';

const annotated = (v: string) => ({ annotations: { [MAGLEV_TABLE_SIZE_ANNOTATION]: v } });
const eps = (n: number): Ep[] => Array.from({ length: n }, (_, i) => ({ ip: `198.19.1.${i + 2}`, node: 'node1', zone: 'zone-a' }));

/** Table sizes the ebpf map builder gives the ClusterIP frontend of "web" for each backend count. */
function tableSizes(tracker: ServiceTracker, counts: number[]): number[] {
  const b = new DesiredMapsBuilder({ seed: 1, sizing: DEFAULT_MAGLEV_SIZING });
  return counts.map((n) => {
    const c = new EndpointSliceCache('node1');
    c.update(slice('web-1', 'web', [{ name: 'http', port: 8080 }], eps(n)));
    const content = b.build(computeDesiredState(tracker.servicePorts(), c.allEndpoints(), { nodeName: 'node1', zone: 'zone-a' }));
    const fe = [...content.services.values()].find((e) => e.key.addr === '198.18.128.10')!;
    assert.equal(content.maglev.get(fe.value.group)!.length, fe.value.tableSize);
    return fe.value.tableSize;
  });
}

test('a value from the allowed primes pins the size: 3 to 12 backends all get 16381 slots (default sizing: 509, 1021, 2039)', () => {
  assert.deepEqual(parseTableSizeAnnotation({ [MAGLEV_TABLE_SIZE_ANNOTATION]: '16381' }), { value: '16381', pinned: 16381 });
  assert.deepEqual(parseTableSizeAnnotation({ [MAGLEV_TABLE_SIZE_ANNOTATION]: ' 4093 ' }), { value: ' 4093 ', pinned: 4093 });
  assert.equal(parseTableSizeAnnotation({}), undefined);
  const pinned = new ServiceTracker({ defaultAlgorithm: 'maglev' });
  const conv = pinned.update(service('web', {}, annotated('16381')));
  assert.deepEqual(conv.problems, []);
  assert.deepEqual(conv.ports[0]!.tableSizeAnnotation, { value: '16381', pinned: 16381 });
  const counts = [3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  assert.deepEqual(tableSizes(pinned, counts), counts.map(() => 16381));
  const plain = new ServiceTracker({ defaultAlgorithm: 'maglev' });
  plain.update(service('web', {}));
  assert.deepEqual(tableSizes(plain, counts), [509, 509, 509, 1021, 1021, 1021, 1021, 1021, 2039, 2039]);
});

test('invalid values are refused with a reason and the Service keeps the default sizing', () => {
  const sizing = { floor: 509, ceiling: 65521 };
  const cases: Array<[string, RegExp]> = [
    ['1000', /: 1000 is not one of the allowed primes 251, 509, .*, 131071;/],
    ['7', /: 7 is not one of the allowed primes/],
    ['16381abc', /: not a number/],
    ['', /: not a number/],
    ['-509', /: not a number/],
    ['1e4', /: not a number/],
    ['251', /: 251 is below the agent's table floor 509;/],
    ['131071', /: 131071 is above the agent's table ceiling 65521;/],
  ];
  for (const [value, why] of cases) {
    const t = new ServiceTracker({ defaultAlgorithm: 'maglev', maglevSizing: sizing });
    const conv = t.update(service('web', {}, annotated(value)));
    assert.equal(conv.ports.length, 1, `${JSON.stringify(value)}: the Service is still served`);
    assert.equal(conv.problems.length, 1, `${JSON.stringify(value)}: one problem`);
    const problem = conv.problems[0]!;
    assert.equal(problem.reason, 'invalid-annotation');
    assert.equal(problem.field, 'metadata.annotations[switchyard.io/maglev-table-size]');
    const p = problem.message;
    assert.ok(p.startsWith(`annotation switchyard.io/maglev-table-size=${JSON.stringify(value)} refused: `), p);
    assert.match(p, why);
    assert.match(p, /using the default sizing$/);
    assert.equal(conv.ports[0]!.tableSizeAnnotation!.pinned, undefined);
    assert.equal(conv.ports[0]!.tableSizeAnnotation!.refused, p);
    // 3 backends: the default sizing's 509 (the floor here is 509 too).
    assert.deepEqual(tableSizes(t, [3]), [509], JSON.stringify(value));
  }
});

test('the conversion of a Service without the annotation carries no sizing field', () => {
  const conv = servicePortsOf(service('web', {}), { defaultAlgorithm: 'maglev' });
  assert.equal(conv.ports[0]!.tableSizeAnnotation, undefined);
});

describe('switchyard services and the services API show the table size and how it was chosen', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-mts-'));
  const sock = path.join(dir, 'admin.sock');
  const loader = new FakeLoader();
  const sync = new FakeSync();
  let srv: AdminServer;
  before(async () => {
    const ep3 = (net: number): Ep[] => [2, 3, 4].map((i) => ({ ip: `198.19.${net}.${i}`, node: 'node1', zone: 'zone-a' }));
    sync.lastDesired = desiredOf([
      ['pinned', { clusterIP: '198.18.128.11', clusterIPs: ['198.18.128.11'] }, annotated('16381')],
      ['refused', { clusterIP: '198.18.128.12', clusterIPs: ['198.18.128.12'] }, annotated('1000')],
      ['plain', { clusterIP: '198.18.128.13', clusterIPs: ['198.18.128.13'] }],
    ], [
      ['pinned-1', 'pinned', [{ name: 'http', port: 8080 }], ep3(1)],
      ['refused-1', 'refused', [{ name: 'http', port: 8080 }], ep3(2)],
      ['plain-1', 'plain', [{ name: 'http', port: 8080 }], ep3(3)],
    ]);
    program(loader, sync.lastDesired);
    srv = await startAdminServer({ source: ebpfSource(loader, sync, { maglevSizing: { floor: 251, ceiling: 131071 } }), socketPath: sock });
  });
  after(async () => {
    await srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('API: maglev.tableSize/chosenBy per ServicePort, tableSizing per frontend, the refusal among the problems', async () => {
    const r = await srv.app.inject({ method: 'GET', url: '/v1/services' });
    assert.equal(r.statusCode, 200);
    const rows = (r.json() as { services: Array<Record<string, any>> }).services;
    const by = (name: string) => rows.find((s) => s.service === name)!;
    assert.deepEqual(by('pinned').maglev, { tableSize: 16381, chosenBy: 'annotation', annotation: '16381', annotationRefused: null });
    assert.equal(by('pinned').frontends[0].tableSize, 16381);
    assert.equal(by('pinned').frontends[0].tableSizing, 'annotation');
    assert.deepEqual(by('pinned').problems, []);
    assert.equal(by('refused').maglev.tableSize, 509);
    assert.equal(by('refused').maglev.chosenBy, 'default sizing');
    assert.match(by('refused').maglev.annotationRefused, /1000 is not one of the allowed primes/);
    assert.equal(by('refused').frontends[0].tableSize, 509);
    assert.equal(by('refused').frontends[0].tableSizing, 'default sizing');
    assert.equal(by('refused').problems.length, 1);
    assert.match(by('refused').problems[0], /^annotation switchyard\.io\/maglev-table-size="1000" refused: 1000 is not one of the allowed primes/);
    assert.deepEqual(by('plain').maglev, { tableSize: 509, chosenBy: 'default sizing', annotation: null, annotationRefused: null });
  });

  test('metrics: switchyard_maglev_table_size_refused counts the ServicePorts whose annotation was refused', async () => {
    const m = new ProxyMetrics({ mode: 'ebpf', modeReason: 'test', desired: () => sync.lastDesired });
    assert.match(await m.metrics(), /^switchyard_maglev_table_size_refused 1$/m);
    const none = new ProxyMetrics({ mode: 'ebpf', modeReason: 'test', desired: () => [] });
    assert.match(await none.metrics(), /^switchyard_maglev_table_size_refused 0$/m);
  });

  test('CLI: a sizing line per ServicePort, a SIZED BY column, the refusal as a problem line', async () => {
    let out = '', err = '';
    const code = await runAdminCommand('services', ['--admin-socket', sock], { out: (s) => void (out += s), err: (s) => void (err += s) });
    assert.equal(code, 0, err);
    const block = (name: string) => out.split('\n\n').find((b) => b.startsWith(`default/${name}:http`))!;
    assert.match(block('pinned'), /^ {2}maglev table 16381 slots, by annotation switchyard\.io\/maglev-table-size=16381$/m);
    assert.match(block('pinned'), /198\.18\.128\.11:80\/TCP\s+ClusterIP\s+external\s+\d+\s+\d+\s+3\s+16381\s+annotation\s+ClusterIP/);
    assert.match(block('refused'), /^ {2}maglev table 509 slots, by default sizing \(annotation switchyard\.io\/maglev-table-size=1000 refused\)$/m);
    assert.match(block('refused'), /198\.18\.128\.12:80\/TCP\s+ClusterIP\s+external\s+\d+\s+\d+\s+3\s+509\s+default sizing\s+ClusterIP/);
    assert.match(block('refused'), /^ {2}! annotation switchyard\.io\/maglev-table-size="1000" refused: 1000 is not one of the allowed primes/m);
    assert.match(block('plain'), /^ {2}maglev table 509 slots, by default sizing$/m);
  });
});
