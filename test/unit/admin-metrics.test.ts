// The agent's metrics: kube-proxy's sync metrics move with syncs and
// changes; datapath metrics are read from the maps at scrape time.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { extractAdminOptions, startAgentAdmin } from '../../control-plane/src/admin/agent-admin.js';
import { ProxyMetrics, TRIGGER_TIME_ANNOTATION } from '../../control-plane/src/metrics/proxy-metrics.js';
import { pino } from 'pino';
import { FakeLoader, FakeSync, WEB, WEB_SLICE, desiredOf, program, u32 } from './admin-fake.js';

function value(text: string, name: string, labels = ''): number | undefined {
  const re = new RegExp(`^${name}${labels ? `\\{${labels.replace(/[{}]/g, '\\$&')}\\}` : ''} ([0-9.e+-]+)$`, 'm');
  const m = re.exec(text);
  return m ? Number(m[1]) : undefined;
}

describe('ProxyMetrics', () => {
  test('sync duration, last timestamp, errors; changes pending and total; network programming from the trigger time', async () => {
    const m = new ProxyMetrics({ mode: 'ebpf', modeReason: 'kernel has everything' });
    let t = await m.metrics();
    assert.equal(value(t, 'kubeproxy_sync_proxy_rules_duration_seconds_count'), 0);
    assert.equal(value(t, 'switchyard_mode', 'mode="ebpf",reason="kernel has everything"'), 1);

    const now = Date.now();
    // An EndpointSlice change triggered 2 s before it arrived, a Service change without annotation.
    m.endpointSliceChanged({ metadata: { annotations: { [TRIGGER_TIME_ANNOTATION]: new Date(now - 2000).toISOString() } } });
    m.serviceChanged({ metadata: {} });
    t = await m.metrics();
    assert.equal(value(t, 'kubeproxy_sync_proxy_rules_endpoint_changes_pending'), 1);
    assert.equal(value(t, 'kubeproxy_sync_proxy_rules_service_changes_pending'), 1);
    assert.equal(value(t, 'kubeproxy_sync_proxy_rules_endpoint_changes_total'), 1);

    // A failed sync programs nothing.
    m.observeSync({ at: now + 10, durationMs: 5, changes: 0, ok: false, error: 'loader: UNAVAILABLE: x' }, now);
    t = await m.metrics();
    assert.equal(value(t, 'switchyard_sync_errors_total'), 1);
    assert.equal(value(t, 'switchyard_loader_errors_total'), 1);
    assert.equal(value(t, 'kubeproxy_network_programming_duration_seconds_count'), 0);
    assert.equal(value(t, 'kubeproxy_sync_proxy_rules_endpoint_changes_pending'), 1);

    // The retry programs both.
    m.observeSync({ at: now + 500, durationMs: 100, changes: 4, ok: true }, now);
    t = await m.metrics();
    assert.equal(value(t, 'kubeproxy_sync_proxy_rules_duration_seconds_count'), 2);
    assert.equal(value(t, 'kubeproxy_network_programming_duration_seconds_count'), 2);
    const sum = value(t, 'kubeproxy_network_programming_duration_seconds_sum')!;
    // 2.6 s (from the trigger time) + about 0.6 s (from the arrival).
    assert.ok(sum > 3.1 && sum < 3.4, `sum ${sum}`);
    assert.equal(value(t, 'kubeproxy_network_programming_duration_seconds_bucket', 'le="1"'), 1);
    assert.equal(value(t, 'kubeproxy_network_programming_duration_seconds_bucket', 'le="3"'), 2);
    assert.equal(value(t, 'kubeproxy_sync_proxy_rules_endpoint_changes_pending'), 0);
    assert.equal(value(t, 'kubeproxy_sync_proxy_rules_service_changes_pending'), 0);
    assert.equal(value(t, 'kubeproxy_sync_proxy_rules_last_timestamp_seconds'), (now + 600) / 1000);

    // A change that arrives during a sync waits for the next one.
    m.endpointSliceChanged({});
    m.observeSync({ at: Date.now() - 50, durationMs: 60, changes: 1, ok: true }, 0);
    assert.equal(value(await m.metrics(), 'kubeproxy_sync_proxy_rules_endpoint_changes_pending'), 1);
  });

  test('without change hooks, network programming is measured from the sync loop\'s pending time', async () => {
    const m = new ProxyMetrics({ mode: 'iptables', modeReason: 'forced', iptablesCounts: () => ({ natRules: 12, filterRules: 3 }) });
    const now = Date.now();
    m.observeSync({ at: now, durationMs: 10, changes: 3, ok: true }, now - 1000);
    m.observeSync({ at: now + 100, durationMs: 10, changes: 0, ok: true }, now + 50); // nothing written: not counted
    const t = await m.metrics();
    assert.equal(value(t, 'kubeproxy_network_programming_duration_seconds_count'), 1);
    assert.equal(value(t, 'kubeproxy_sync_proxy_rules_iptables_total', 'table="nat"'), 12);
    assert.equal(value(t, 'kubeproxy_sync_proxy_rules_iptables_total', 'table="filter"'), 3);
  });

  test('map entries, capacities, per-frontend packets and bytes, datapath events: read at scrape time; loader down does not break the scrape', async () => {
    const loader = new FakeLoader();
    const desired = desiredOf([WEB], [WEB_SLICE]);
    const builder = program(loader, desired);
    const feId = builder.frontends[0]!.value.id;
    const le64 = (n: bigint) => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, n, true);
      return b;
    };
    const stats = (p: bigint, by: bigint) => Uint8Array.from([...le64(p), ...le64(by)]);
    loader.define('sy_svc_stats', ['percpu_hash', 8, 16, 65536]);
    loader.set('sy_svc_stats', [{ key: Uint8Array.from([...u32(feId), ...u32(0)]), value: stats(10n, 1500n) }]);
    loader.define('sy_counters', ['percpu_array', 4, 8, 48]);
    loader.set('sy_counters', [{ key: u32(0), value: le64(3n) }, { key: u32(1), value: le64(0n) }, { key: u32(36), value: le64(2n) }, { key: u32(38), value: le64(1n) }]);
    const m = new ProxyMetrics({ mode: 'ebpf', modeReason: 'test', loader, desired: () => desired });

    let t = await m.metrics();
    assert.equal(value(t, 'switchyard_map_entries', 'map="sy_backends"'), 4);
    assert.equal(value(t, 'switchyard_map_max_entries', 'map="sy_conntrack"'), 262144);
    assert.equal(value(t, 'switchyard_loader_up'), 1);
    assert.equal(value(t, 'switchyard_service_packets_total', 'service="default/web:http",frontend="198.18.128.10:80/TCP",hook="tc_ingress"'), 10);
    assert.equal(value(t, 'switchyard_service_bytes_total', 'service="default/web:http",frontend="198.18.128.10:80/TCP",hook="tc_ingress"'), 1500);
    assert.match(t, /switchyard_datapath_events_total\{event="[a-z_0-9]+"\} 3/);
    assert.equal(value(t, 'switchyard_datapath_events_total', 'event="ct_half_close"'), 2);
    assert.equal(value(t, 'switchyard_datapath_events_total', 'event="ct_rst_ignored"'), 1);

    // Traffic: the counters move.
    loader.set('sy_svc_stats', [{ key: Uint8Array.from([...u32(feId), ...u32(0)]), value: stats(25n, 4000n) }]);
    t = await m.metrics();
    assert.equal(value(t, 'switchyard_service_packets_total', 'service="default/web:http",frontend="198.18.128.10:80/TCP",hook="tc_ingress"'), 25);

    loader.down = true;
    t = await m.metrics();
    assert.equal(value(t, 'switchyard_loader_up'), 0);
    // Counted during that scrape, shown from the next one on.
    assert.ok(value(await m.metrics(), 'switchyard_loader_errors_total')! >= 1);
    // One scrape reads the loader's status once, for all the collectors that need it.
    loader.down = false;
    const before = loader.calls;
    await m.metrics();
    assert.equal(loader.calls - before, 1 + 3, 'status once; sy_svc_stats, sy_services, sy_counters');
    assert.equal(value(t, 'switchyard_map_entries', 'map="sy_backends"'), undefined);
  });
});

describe('agent wiring', () => {
  test('extractAdminOptions takes its flags out of the agent argv', () => {
    const { admin, rest } = extractAdminOptions(['--node-name', 'n1', '--admin-bind-address', '127.0.0.1:9999', '--admin-socket=/run/x.sock', '--metrics-bind-address', '', '--mode', 'ebpf']);
    assert.deepEqual(rest, ['--node-name', 'n1', '--mode', 'ebpf']);
    assert.deepEqual(admin.adminBind, { host: '127.0.0.1', port: 9999 });
    assert.equal(admin.adminSocket, '/run/x.sock');
    assert.equal(admin.metricsBind, undefined);
    const d = extractAdminOptions([]).admin;
    assert.deepEqual(d.adminBind, { host: '127.0.0.1', port: 10252 });
    assert.deepEqual(d.metricsBind, { host: '127.0.0.1', port: 10249 });
    assert.throws(() => extractAdminOptions(['--admin-socket', 'rel.sock']), /absolute path/);
    assert.throws(() => extractAdminOptions(['--admin-bind-address', 'x:y']), /not HOST:PORT/);
    assert.throws(() => extractAdminOptions(['--metrics-bind-address']), /needs a value/);
  });

  test('startAgentAdmin: servers up, sync metrics hooked, the loader watchdog requests syncs while the loader is gone', async () => {
    const loader = new FakeLoader();
    const sync = Object.assign(new FakeSync(), {
      onSync: undefined as ((r: any, p: number) => void) | undefined,
      requests: 0,
      requestSync(this: { requests: number }) { this.requests++; },
    });
    const admin = await startAgentAdmin({
      options: { adminBind: { host: '127.0.0.1', port: 0 }, adminSocket: undefined, metricsBind: { host: '127.0.0.1', port: 0 }, loaderWatchMs: 20 },
      proxier: sync, dataplane: Object.assign({ mode: 'ebpf' as const, loader, init: async () => {}, sync: async () => ({ changes: 0, detail: {} }), close: async () => {} }),
      mode: { mode: 'ebpf', reason: 'test' }, nodeName: 'node1', seed: 1, healthTimeoutMs: 1000, log: pino({ level: 'silent' }),
    });
    try {
      sync.onSync!({ at: Date.now(), durationMs: 3, changes: 1, ok: true }, 0);
      const r = await fetch(`http://127.0.0.1:${admin.admin.address!.port}/metrics`);
      assert.match(await r.text(), /kubeproxy_sync_proxy_rules_duration_seconds_count 1/);
      await new Promise((res) => setTimeout(res, 100));
      assert.equal(sync.requests, 0, 'no sync requested while the loader answers');
      loader.down = true;
      await new Promise((res) => setTimeout(res, 100));
      assert.ok(sync.requests >= 2, `syncs requested while down: ${sync.requests}`);
      loader.down = false;
      const before = sync.requests;
      await new Promise((res) => setTimeout(res, 100));
      assert.equal(sync.requests, before + 1, 'one more request when the loader is back');
    } finally {
      await admin.close();
    }
  });

  test('a port already taken is logged and the agent goes on: the unix socket serves the API, /metrics included', async () => {
    const { default: net } = await import('node:net');
    const { default: os } = await import('node:os');
    const { default: fs } = await import('node:fs');
    const path = await import('node:path');
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as { port: number }).port;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-busy-'));
    const errors: string[] = [];
    const log = pino({ level: 'error' }, { write: (l: string) => void errors.push(l) });
    const sync = Object.assign(new FakeSync(), { onSync: undefined, requestSync() {} });
    const admin = await startAgentAdmin({
      options: { adminBind: { host: '127.0.0.1', port }, adminSocket: path.join(dir, 'a.sock'), metricsBind: { host: '127.0.0.1', port }, loaderWatchMs: 0 },
      proxier: sync, dataplane: { mode: 'iptables', init: async () => {}, sync: async () => ({ changes: 0, detail: {} }), close: async () => {} },
      mode: { mode: 'iptables', reason: 'test' }, nodeName: 'node1', seed: 1, healthTimeoutMs: 1000, log,
    });
    try {
      assert.equal(admin.admin.address, undefined);
      assert.equal(errors.length, 2, errors.join('\n'));
      assert.match(errors.join('\n'), /admin API cannot listen/);
      assert.match(errors.join('\n'), /metrics server cannot listen/);
      const { adminGet } = await import('../../control-plane/src/cli/admin-client.js');
      const r = await adminGet({ socketPath: path.join(dir, 'a.sock') }, '/metrics');
      assert.equal(r.status, 200);
      assert.match(r.body, /switchyard_mode\{mode="iptables",reason="test"\} 1/);
    } finally {
      await admin.close();
      busy.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
