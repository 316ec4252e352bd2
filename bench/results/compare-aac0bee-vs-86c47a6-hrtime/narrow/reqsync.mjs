// requestSync() -> dataplane.sync() called, with the Proxier of tree T (minSyncPeriod 0), N changes.
const [,, T, N] = process.argv;
const { Proxier } = await import(`${T}/dist/control-plane/src/sync/proxier.js`);
const { ServiceTracker } = await import(`${T}/dist/control-plane/src/model/service-tracker.js`);
const { EndpointSliceCache } = await import(`${T}/dist/control-plane/src/model/endpoint-slice-cache.js`);
const { service } = await import(`${T}/dist/test/unit/fixtures.js`);
const { pino } = await import('/work/main/node_modules/pino/pino.js');
let t0 = 0; const d = []; let done;
const dp = { mode: 'ebpf', capabilities: { partialSync: true, conntrackGC: true }, async init() {}, async close() {},
  async sync(_x, changed) { if (t0) d.push(performance.now() - t0); t0 = 0; done?.(); return { changes: 1, detail: {} }; } };
const tr = new ServiceTracker({ defaultAlgorithm: 'maglev' });
const p = new Proxier(tr, new EndpointSliceCache('node1'), dp, () => ({ nodeName: 'node1', zone: '' }), { minSyncPeriodMs: 0, syncPeriodMs: 3600000 }, pino({ level: 'silent' }));
p.start(); await new Promise((r) => setTimeout(r, 50));
for (let i = 0; i < Number(N); i++) {
  tr.update(service(`s${i}`, { clusterIP: `198.18.${128 + (i >> 8)}.${i & 255}`, clusterIPs: [`198.18.${128 + (i >> 8)}.${i & 255}`] }));
  const w = new Promise((r) => (done = r));
  t0 = performance.now(); p.requestSync(); await w;
  await new Promise((r) => setTimeout(r, 3));
}
p.stop();
const v = d.sort((a, b) => a - b); const q = (x) => (v[Math.floor(x * (v.length - 1))] * 1000).toFixed(0);
console.log(T.split('/').pop(), 'requestSync -> sync µs: min', q(0), 'p50', q(0.5), 'p90', q(0.9), 'n', v.length);
