// Datapath counters (sy_counters) reach the operator by name: the names
// follow SY_CNT_* in bpf/include/sy_structs.h, and a counter the datapath
// moves shows in GET /v1/status, `switchyard status`, GET /v1/maps/sy_counters
// and the Prometheus metrics. Also the sy_icmp_rate buckets decode.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildAdminApp } from '../../control-plane/src/admin/server.js';
import { renderStatus } from '../../control-plane/src/cli/admin-command.js';
import { ProxyMetrics } from '../../control-plane/src/metrics/proxy-metrics.js';
import { counterName } from '../../control-plane/src/dataplane/ebpf/map-values.js';
import { ROOT } from '../deploy/manifests.js';
import { FakeLoader, FakeSync, WEB, WEB_SLICE, desiredOf, ebpfSource, program, u32 } from './admin-fake.js';

const STRUCTS = readFileSync(path.join(ROOT, 'bpf/include/sy_structs.h'), 'utf8');

/** SY_CNT_<NAME> = <index> (members of enum sy_counter) from the header (SY_CNT_MAX excluded). */
function headerCounters(): Map<number, string> {
  const m = new Map<number, string>();
  for (const [, name, idx] of STRUCTS.matchAll(/^\s*SY_CNT_([A-Z0-9_]+)\s*=\s*(\d+)/gm)) {
    if (name !== 'MAX') m.set(Number(idx), name!.toLowerCase());
  }
  return m;
}

const le64 = (n: bigint): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n, true);
  return b;
};

describe('datapath events', () => {
  test('every SY_CNT_* of sy_structs.h has its name (lower case) in DATAPATH_COUNTER_NAMES', () => {
    const h = headerCounters();
    for (const i of [16, 17, 18, 19, 20, 21, 22, 23]) assert.ok(h.has(i), `SY_CNT index ${i} defined`);
    for (const [i, name] of h) assert.equal(counterName(i), name, `index ${i}`);
    assert.match(STRUCTS, /^\s*SY_CNT_MAX\s*=\s*48,$/m);
  });

  describe('a counter the datapath moves is visible everywhere', () => {
    const loader = new FakeLoader();
    const sync = new FakeSync();
    const metrics = new ProxyMetrics({ mode: 'ebpf', modeReason: 'test', loader });
    let app: FastifyInstance;
    // Two CPUs' copies per counter, as the loader returns them summed or not.
    const cnt = (a: bigint, b = 0n) => Uint8Array.from([...le64(a), ...le64(b)]);

    before(async () => {
      sync.lastDesired = desiredOf([WEB], [WEB_SLICE]);
      program(loader, sync.lastDesired);
      loader.define('sy_counters', ['percpu_array', 4, 8, 48]);
      loader.set('sy_counters', Array.from({ length: 48 }, (_, i) => ({
        key: u32(i), value: i === 16 ? cnt(3n, 1n) : i === 20 ? cnt(2n) : i === 22 ? cnt(7n) : cnt(0n),
      })));
      loader.define('sy_icmp_rate', ['array', 4, 16, 2]);
      const bucket = (tokens: number, last: bigint) => {
        const b = new Uint8Array(16);
        const v = new DataView(b.buffer);
        v.setUint32(4, tokens, true);
        v.setBigUint64(8, last, true);
        return b;
      };
      loader.set('sy_icmp_rate', [{ key: u32(0), value: bucket(49, 123n) }, { key: u32(1), value: bucket(50, 0n) }]);
      app = await buildAdminApp({ source: ebpfSource(loader, sync), metrics });
    });
    after(async () => app.close());

    const get = async (url: string) => (await app.inject({ method: 'GET', url })).json();

    test('GET /v1/status lists the events that happened, by name; `switchyard status` prints them', async () => {
      const s = await get('/v1/status');
      assert.deepEqual(s.datapathEvents, [
        { event: 'icmp_err_revnat', count: 4 }, { event: 'frag_needed_sent', count: 2 }, { event: 'reject_rate_limited', count: 7 },
      ]);
      const text = renderStatus(s);
      assert.match(text, /datapath events: icmp_err_revnat 4, frag_needed_sent 2, reject_rate_limited 7/);
    });

    test('GET /v1/maps/sy_counters and /v1/maps/sy_icmp_rate decode', async () => {
      const c = await get('/v1/maps/sy_counters?limit=100');
      const byIndex = new Map((c.items as Array<{ index: number; event: string; count: number }>).map((e) => [e.index, e]));
      assert.deepEqual(byIndex.get(16), { index: 16, event: 'icmp_err_revnat', count: 4 });
      assert.deepEqual(byIndex.get(21), { index: 21, event: 'frag_needed_rate_limited', count: 0 });
      const r = await get('/v1/maps/sy_icmp_rate');
      assert.deepEqual(r.items, [
        { index: 0, bucket: 'reject', tokens: 49, lastNs: '123' },
        { index: 1, bucket: 'frag_needed', tokens: 50, lastNs: '0' },
      ]);
    });

    test('Prometheus: switchyard_datapath_events_total{event="icmp_err_revnat"}', async () => {
      const t = await metrics.metrics();
      assert.match(t, /^switchyard_datapath_events_total\{event="icmp_err_revnat"\} 4$/m);
      assert.match(t, /^switchyard_datapath_events_total\{event="too_big_no_df"\} 0$/m);
    });

    test('the loader down: status still answers, without events', async () => {
      loader.down = true;
      try {
        const s = await get('/v1/status');
        assert.equal(s.datapathEvents, null);
        assert.equal(s.loader.up, false);
      } finally {
        loader.down = false;
      }
    });
  });
});
