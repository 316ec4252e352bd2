// The status page in headless Chromium against a fake datapath: no console
// errors, every Service shown, the charts drawn (DOM and pixels).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAdminServer } from '../../control-plane/src/admin/server.js';
import { chromiumMissing, inspectStatusPage } from './admin-browser.js';
import { FakeLoader, FakeSync, WEB, WEB_SLICE, desiredOf, ebpfSource, program } from './admin-fake.js';

const missing = chromiumMissing();

test('status page: services, Maglev share chart, sync latency, map pressure', { skip: missing, timeout: 120_000 }, async () => {
  const loader = new FakeLoader();
  const sync = new FakeSync();
  sync.lastDesired = desiredOf([WEB, ['dns', { clusterIP: '198.18.128.53', clusterIPs: ['198.18.128.53'], ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }]],
    [WEB_SLICE, ['dns-1', 'dns', [{ name: 'dns', port: 5353, protocol: 'UDP' }], [{ ip: '198.19.1.7', node: 'node1' }, { ip: '198.19.2.7', node: 'node2' }]]]);
  program(loader, sync.lastDesired);
  const t0 = Date.now() - 60_000;
  for (let i = 0; i < 40; i++) sync.history.push({ at: t0 + i * 1500, durationMs: 2 + (i % 7) * 3, changes: i % 3, ok: i !== 20, ...(i === 20 ? { error: 'loader: UNAVAILABLE' } : {}) });
  const srv = await startAdminServer({ source: ebpfSource(loader, sync), bind: { host: '127.0.0.1', port: 0 } });
  const shot = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sy-ui-')), 'status.png');
  try {
    const r = await inspectStatusPage(`http://127.0.0.1:${srv.address!.port}/ui/`, { expectServices: ['default/web:http', 'default/dns:dns'], screenshot: shot });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.services.sort(), ['default/dns:dns', 'default/web:http']);
    // Three table backends for web (one third each), two for dns.
    assert.equal(r.bars['default/web:http']!.length, 3);
    assert.equal(r.bars['default/dns:dns']!.length, 2);
    for (const w of r.bars['default/web:http']!) assert.ok(w > 80 && w < 95, `bar width ${w} (1/3 of 260 px)`);
    assert.equal(r.syncBars, 40);
    assert.ok(r.pressureBars >= 5, `pressure bars ${r.pressureBars}`);
    assert.ok(r.colouredPixels > 3 * 80 * 10, `coloured pixels ${r.colouredPixels}`);
    assert.match(r.summary, /healthy/);
    assert.ok(fs.statSync(shot).size > 10_000, 'screenshot written');
  } finally {
    await srv.close();
    fs.rmSync(path.dirname(shot), { recursive: true, force: true });
  }
});
