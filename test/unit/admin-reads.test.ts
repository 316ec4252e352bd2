// Admin reads never walk the service maps for a single answer: explain and a
// conntrack flow query use the loader's lookup op, a conntrack listing joins
// its entries by lookups, metrics read only counters; and reads are limited
// in concurrency (503 beyond a bounded queue).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildAdminApp } from '../../control-plane/src/admin/server.js';
import { DesiredMapsBuilder } from '../../control-plane/src/dataplane/ebpf/desired-maps.js';
import { ProxyMetrics } from '../../control-plane/src/metrics/proxy-metrics.js';
import { FakeLoader, FakeSync, SEED, WEB, WEB_SLICE, desiredOf, ebpfSource, encCtKey, encCtValue, program } from './admin-fake.js';

const SERVICE_MAPS = ['sy_services', 'sy_backends', 'sy_revnat', 'sy_maglev', 'sy_conntrack', 'sy_affinity'];
const walked = (reads: string[]) => reads.filter((r) => SERVICE_MAPS.some((m) => r === `dump ${m}`));

function setup() {
  const loader = new FakeLoader();
  const sync = new FakeSync();
  sync.lastDesired = desiredOf([WEB], [WEB_SLICE]);
  program(loader, sync.lastDesired);
  const beId = (addr: string) => {
    const e = loader.maps.get('sy_backends')!.entries.find((x) => x.value[2] === Number(addr.split('.')[2]) && x.value[3] === Number(addr.split('.')[3]))!;
    return new DataView(e.key.buffer, e.key.byteOffset).getUint32(0, true);
  };
  const svc = loader.maps.get('sy_services')!.entries[0]!;
  const feId = new DataView(svc.value.buffer, svc.value.byteOffset).getUint32(0, true);
  const now = process.hrtime.bigint();
  loader.set('sy_conntrack', [
    { key: encCtKey({ saddr: '198.19.1.50', daddr: '198.18.128.10', sport: 40000, dport: 80, proto: 6, dir: 0 }), value: encCtValue({ lastSeen: now, backendId: beId('198.19.2.2'), revNatId: feId, flags: 1 }) },
    { key: encCtKey({ saddr: '198.19.2.2', daddr: '198.19.1.50', sport: 8080, dport: 40000, proto: 6, dir: 1 }), value: encCtValue({ lastSeen: now, backendId: beId('198.19.2.2'), revNatId: feId, flags: 1 }) },
    { key: encCtKey({ saddr: '198.19.1.51', daddr: '198.18.128.10', sport: 40001, dport: 80, proto: 6, dir: 0 }), value: encCtValue({ lastSeen: now, backendId: beId('198.19.1.2'), revNatId: feId }) },
  ]);
  return { loader, sync };
}

describe('admin reads through the lookup op', () => {
  test('explain of a tracked flow reads single keys only', async () => {
    const { loader, sync } = setup();
    const app = await buildAdminApp({ source: ebpfSource(loader, sync) });
    try {
      loader.reads.length = 0;
      const r = await app.inject('/v1/explain?src=198.19.1.50&sport=40000&dst=198.18.128.10&dport=80');
      assert.equal(r.statusCode, 200, r.body);
      const ex = r.json();
      assert.equal(ex.decidedBy, 'conntrack');
      assert.equal(ex.backend.address, '198.19.2.2');
      assert.equal(ex.service, 'default/web:http');
      assert.deepEqual(walked(loader.reads), [], `no service map walked: ${loader.reads.join(', ')}`);
      assert.ok(loader.reads.includes('lookup sy_conntrack 2'), loader.reads.join(', '));
      assert.ok(loader.reads.some((x) => x.startsWith('lookup sy_services')), loader.reads.join(', '));
    } finally {
      await app.close();
    }
  });

  test('a conntrack flow query returns the entry and its reply by lookups; a partial key is a 400', async () => {
    const { loader, sync } = setup();
    const app = await buildAdminApp({ source: ebpfSource(loader, sync) });
    try {
      loader.reads.length = 0;
      const r = await app.inject('/v1/conntrack?saddr=198.19.1.50&sport=40000&daddr=198.18.128.10&dport=80');
      assert.equal(r.statusCode, 200, r.body);
      const items = r.json().items;
      assert.deepEqual(items.map((i: any) => [i.dir, i.client, i.backend, i.service]).sort(),
        [['forward', '198.19.1.50', '198.19.2.2:8080', 'default/web:http'], ['reply', '198.19.1.50', '198.19.2.2:8080', 'default/web:http']]);
      assert.deepEqual(walked(loader.reads), [], `no map walked: ${loader.reads.join(', ')}`);
      // From the reply's key: the same flow.
      const rep = await app.inject('/v1/conntrack?saddr=198.19.2.2&sport=8080&daddr=198.19.1.50&dport=40000');
      assert.equal(rep.json().items.length, 2);
      const none = await app.inject('/v1/conntrack?saddr=198.19.1.99&sport=1&daddr=198.18.128.10&dport=80');
      assert.equal(none.json().total, 0);
      const bad = await app.inject('/v1/conntrack?saddr=198.19.1.50&sport=40000');
      assert.equal(bad.statusCode, 400);
      assert.match(bad.json().message, /a flow key needs saddr, daddr, sport and dport \(missing: daddr, dport\)/);
    } finally {
      await app.close();
    }
  });

  test('a conntrack listing walks sy_conntrack only; names come from lookups', async () => {
    const { loader, sync } = setup();
    const app = await buildAdminApp({ source: ebpfSource(loader, sync) });
    try {
      loader.reads.length = 0;
      const r = await app.inject('/v1/conntrack');
      assert.equal(r.json().total, 3);
      assert.ok(r.json().items.every((i: any) => i.service === 'default/web:http'));
      assert.deepEqual(walked(loader.reads), ['dump sy_conntrack'], loader.reads.join(', '));
    } finally {
      await app.close();
    }
  });

  test('metrics: counters and capacities from the loader, entries and names from what the agent programmed', async () => {
    const { loader, sync } = setup();
    const b = new DesiredMapsBuilder({ seed: SEED, sizing: { floor: 251, ceiling: 131071 } });
    b.nodeAddresses = ['198.18.0.11'];
    const content = b.build(sync.lastDesired);
    loader.define('sy_svc_stats', ['percpu_hash', 8, 16, 65536]);
    loader.define('sy_counters', ['percpu_array', 4, 8, 16]);
    const m = new ProxyMetrics({ mode: 'ebpf', modeReason: 'test', loader, desired: () => sync.lastDesired, programmed: () => content });
    loader.reads.length = 0;
    const t = await m.metrics();
    // The flow maps are counted by the loader on the first scrape, then at most every flowCountTtlMs.
    assert.deepEqual(loader.reads.sort(), ['dump sy_counters', 'dump sy_svc_stats', 'status (counts sy_conntrack,sy_affinity,sy_sock_revnat,sy_conntrack6,sy_affinity6,sy_sock_revnat6)', 'status (no counts)']);
    assert.match(t, new RegExp(`switchyard_map_entries\\{map="sy_backends"\\} ${content.backends.size}\\b`));
    assert.match(t, /switchyard_map_entries\{map="sy_conntrack"\} 3\b/);
    assert.match(t, /switchyard_map_max_entries\{map="sy_conntrack"\} 262144/);
    loader.reads.length = 0;
    await m.metrics();
    assert.deepEqual(loader.reads.sort(), ['dump sy_counters', 'dump sy_svc_stats', 'status (no counts)'], 'the next scrape: counters only');
  });
});

describe('admin read concurrency', () => {
  test('a burst beyond running + queued reads gets 503 at once; the admitted ones complete', async () => {
    const { loader, sync } = setup();
    // Lookups wait for a gate: the first reads hold their slots.
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const lookup = loader.lookup.bind(loader);
    loader.lookup = async (map, keys) => {
      await gate;
      return lookup(map, keys);
    };
    const app = await buildAdminApp({ source: ebpfSource(loader, sync), readLimits: { concurrency: 1, queue: 2 } });
    try {
      const url = '/v1/explain?src=198.19.1.50&sport=40000&dst=198.18.128.10&dport=80';
      const order: string[] = [];
      const burst = Array.from({ length: 10 }, (_, i) => app.inject(url).then((r) => {
        order.push(`${r.statusCode}`);
        return r;
      }));
      // The refused ones answer while the admitted ones still wait on the gate.
      while (order.length < 7) await new Promise((r) => setImmediate(r));
      assert.deepEqual(order, Array(7).fill('503'));
      open();
      const rs = await Promise.all(burst);
      assert.equal(rs.filter((r) => r.statusCode === 200).length, 3);
      const refused = rs.find((r) => r.statusCode === 503)!;
      assert.match(refused.json().message, /too many admin reads of the maps at once \(1 running, 2 queued, limits 1 and 2\): retry later/);
      assert.equal((await app.inject(url)).statusCode, 200, 'served again once the burst is over');
    } finally {
      await app.close();
    }
  });
});
