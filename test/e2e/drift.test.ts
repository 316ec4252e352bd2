// The datapath is reconciled, not assumed (ebpf): entries deleted with
// bpftool behind the agent's back on one node (a frontend in sy_services, a
// backend in sy_backends, a Maglev table's outer entry in sy_maglev) are put
// back by the full sync the next periodic drift check brings (it runs beside
// the syncs, docs/maps.md "Drift") and traffic from that node resumes; an
// entry written by hand is removed; the drift metric counts them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { E2E_IP_FAMILY, Lab, ROOT, eventually, ok, tally } from './harness.js';
import { labAdminSocket } from '../../lab/src/netns/layout.js';

const MODE = (process.env.SWITCHYARD_E2E_MODE ?? 'ebpf') as 'ebpf' | 'iptables';
const WHOAMI = readFileSync(path.join(ROOT, 'lab/examples/whoami.yaml'), 'utf8');
const SYNC_PERIOD_S = 3;

type J = Record<string, any>;

function admin(lab: string, node: string, p: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath: labAdminSocket(lab, node), path: p, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${p}: timeout`)));
  });
}

/** Little-endian u32 as bpftool hex bytes. */
function u32le(n: number): string[] {
  return [0, 8, 16, 24].map((s) => ((n >>> s) & 0xff).toString(16).padStart(2, '0'));
}

/** struct sy_svc_key: addr (network order), port (network order), proto, scope. */
function svcKey(addr: string, port: number, proto: number, scope: number): string[] {
  return [...addr.split('.').map((x) => Number(x).toString(16).padStart(2, '0')),
    ((port >> 8) & 0xff).toString(16).padStart(2, '0'), (port & 0xff).toString(16).padStart(2, '0'),
    proto.toString(16).padStart(2, '0'), scope.toString(16).padStart(2, '0')];
}

describe('drift: map entries changed behind the agent\'s back are repaired', { timeout: 600_000, skip: MODE !== 'ebpf' ? 'ebpf mode only' : false }, () => {
  const lab = new Lab(Lab.uniqueName('e2d'), 'ebpf', E2E_IP_FAMILY);
  let node = '';
  let pinDir = '';
  let vip = '';

  // On the lab's own pins (bpffs is not mounted inside `ip netns exec`, and
  // maps are not per network namespace): no network state is touched.
  const bpftool = (args: string[]): Promise<{ code: number; out: string }> => new Promise((resolve) => {
    execFile('bpftool', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
  const has = async (map: string, key: string[]): Promise<boolean> => (await bpftool(['map', 'lookup', 'pinned', `${pinDir}/${map}`, 'key', 'hex', ...key])).code === 0;
  const drift = async (): Promise<Record<string, number>> => {
    const out: Record<string, number> = {};
    for (const m of (await admin(lab.name, node, '/metrics')).matchAll(/^switchyard_datapath_drift_repaired_total\{map="(\w+)"\} (\d+)/gm)) out[m[1]!] = Number(m[2]);
    return out;
  };
  const traffic = async (count = 30): Promise<Map<string, number>> =>
    tally(await lab.probe('client', 'http', vip, 80, ['--count', String(count), '--timeout-ms', '1000']));
  const allAnswered = (got: Map<string, number>): boolean => got.size > 0 && ![...got.keys()].some((k) => k.startsWith('ERR'));

  before(async () => {
    await lab.up(2, [...Lab.agentArgs(), `--sync-period=${SYNC_PERIOD_S}s`]);
    await lab.apply(WHOAMI);
    await lab.waitReady();
    vip = await lab.clusterIP('whoami');
    // The client pod's node: traffic "from that node".
    const client = (await lab.get('pods')).find((p) => p.metadata.name === 'client')!;
    node = client.spec.nodeName as string;
    const info = JSON.parse(await ok(['lab', 'status', '--name', lab.name, '-o', 'json'])) as J;
    pinDir = `/sys/fs/bpf/switchyard/${(info.nodes as J[]).find((n) => n.name === node)!.pinInstance}`;
    await eventually('traffic through the ClusterIP', async () => allAnswered(await traffic(10)), 30_000);
  });

  after(async () => {
    await lab.down();
  });

  test('a deleted frontend, backend and Maglev table come back within a sync period; traffic resumes', async () => {
    const svcs = JSON.parse(await ok(['services', '--lab', lab.name, '--node', node, '--json'])) as J;
    const port = (svcs.services as J[]).find((s) => s.service === 'whoami' && s.port === 80)!;
    const fe = (port.frontends as J[]).find((f) => f.kind === 'ClusterIP')!;
    const be = (fe.backends as J[])[0]!;
    const keys = {
      sy_services: svcKey(fe.address, fe.port, 6, 0),
      sy_backends: u32le(be.id as number),
      sy_maglev: u32le(fe.group as number),
    };
    for (const [map, key] of Object.entries(keys)) assert.ok(await has(map, key), `${map} ${key.join(' ')} present before`);
    const before = await drift();
    for (const [map, key] of Object.entries(keys)) {
      const r = await bpftool(['map', 'delete', 'pinned', `${pinDir}/${map}`, 'key', 'hex', ...key]);
      assert.equal(r.code, 0, r.out);
    }
    const deletedAt = Date.now();
    // The next periodic full sync puts all three back.
    await eventually('entries restored', async () => {
      for (const [map, key] of Object.entries(keys)) if (!(await has(map, key))) return false;
      return true;
    }, 30_000, 250);
    const tookMs = Date.now() - deletedAt;
    process.stdout.write(`# restored ${tookMs} ms after the delete (sync period ${SYNC_PERIOD_S} s)\n`);
    assert.ok(tookMs < (SYNC_PERIOD_S * 2 + 10) * 1000, `restored after ${tookMs} ms`);
    await eventually('traffic from that node resumes', async () => allAnswered(await traffic(30)), 30_000);
    const after = await drift();
    for (const map of Object.keys(keys)) assert.ok((after[map] ?? 0) >= (before[map] ?? 0) + 1, `drift metric of ${map}: ${JSON.stringify(after)}`);
    const info = JSON.parse(await ok(['lab', 'status', '--name', lab.name, '-o', 'json'])) as J;
    const log = readFileSync((info.nodes as J[]).find((x) => x.name === node)!.agent.log as string, 'utf8');
    assert.match(log, /datapath drift repaired/);
  });

  test('an entry written by hand is removed', async () => {
    const key = svcKey('198.18.250.250', 9999, 6, 0);
    const value = [...u32le(0xfff0), ...u32le(0xfff0), '00', '00', '01', '00', ...u32le(0), ...u32le(0)];
    const before = await drift();
    const r = await bpftool(['map', 'update', 'pinned', `${pinDir}/sy_services`, 'key', 'hex', ...key, 'value', 'hex', ...value]);
    assert.equal(r.code, 0, r.out);
    assert.ok(await has('sy_services', key));
    await eventually('the extra entry is gone', async () => !(await has('sy_services', key)), 30_000, 250);
    const after = await drift();
    assert.ok((after.sy_services ?? 0) >= (before.sy_services ?? 0) + 1, JSON.stringify(after));
    assert.ok(allAnswered(await traffic(10)));
  });
});
