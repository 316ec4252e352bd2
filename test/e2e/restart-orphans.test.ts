// An agent restart reads every page of its maps back and deletes what no
// Service needs: a frontend, reverse-NAT entry, backend and Maglev table
// planted by hand with bpftool are gone after the restarted agent's first full
// sync, and every Service keeps working. The lab's loaders run with a 2 KiB
// dump page, so each Maglev table (251 slots, 1 KiB) is a page of its own.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { E2E_IP_FAMILY, Lab, eventually, run } from './harness.js';
import { clientPod, deployment, manifests, service } from './manifests.js';

const SERVICES = 4;
const ORPHAN = { backend: 60001, frontend: 60002, group: 60003, vip: [198, 18, 250, 77] };

const u32 = (n: number): string[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].map(hx);
function hx(n: number): string {
  return n.toString(16).padStart(2, '0');
}
const be16 = (n: number): string[] => [n >>> 8, n & 0xff].map(hx);
const bytes = (a: number[]): string[] => a.map(hx);
function bpftool(...args: string[]): string {
  return execFileSync('bpftool', args, { encoding: 'utf8' });
}
function keysOf(pin: string): number[] {
  const dump = JSON.parse(bpftool('-j', 'map', 'dump', 'pinned', pin)) as Array<{ key: string[] }>;
  return dump.map((e) => Buffer.from(e.key.map((h) => parseInt(h, 16))).readUInt32LE(0));
}
function svcKeys(pin: string): string[] {
  const dump = JSON.parse(bpftool('-j', 'map', 'dump', 'pinned', pin)) as Array<{ key: string[] }>;
  return dump.map((e) => e.key.join(''));
}

// ebpf only: the iptables run of this directory has no maps to read.
describe('agent restart: every page read back, orphans deleted', { timeout: 600_000, skip: process.env.SWITCHYARD_E2E_MODE === 'iptables' }, () => {
  const lab = new Lab(Lab.uniqueName('syo'), 'ebpf', E2E_IP_FAMILY);
  let pins = '';

  before(async () => {
    process.env.SWITCHYARD_LAB_LOADER_ARGS = '--dump-page-bytes 2048';
    await lab.up(1);
    await lab.apply(manifests(
      deployment('web', { replicas: 2 }),
      clientPod('client', 'node1'),
      ...Array.from({ length: SERVICES }, (_, i) => service(`web${i}`, { selector: { app: 'web' } })),
    ));
    await lab.waitReady();
    const dir = readdirSync('/sys/fs/bpf/switchyard').find((d) => d.startsWith(`${lab.name}-n`));
    assert.ok(dir, 'the node\'s pin directory');
    pins = `/sys/fs/bpf/switchyard/${dir}`;
    await eventually('every Service programmed', async () => {
      assert.ok(keysOf(`${pins}/sy_maglev`).length >= SERVICES, 'a table per Service');
      return true;
    }, 60_000);
  });

  after(async () => {
    delete process.env.SWITCHYARD_LAB_LOADER_ARGS;
    await lab.down();
  });

  test('orphans planted with bpftool are gone after the restarted agent\'s first full sync', async () => {
    const tablesBefore = keysOf(`${pins}/sy_maglev`);
    // A frontend no Service has, with its reverse NAT, backend and Maglev table.
    bpftool('map', 'update', 'pinned', `${pins}/sy_backends`, 'key', 'hex', ...u32(ORPHAN.backend),
      'value', 'hex', ...bytes([198, 19, 77, 77]), ...be16(8080), '06', '00', '00', '00', '00', '00', ...u32(0));
    bpftool('map', 'update', 'pinned', `${pins}/sy_revnat`, 'key', 'hex', ...u32(ORPHAN.frontend),
      'value', 'hex', ...bytes(ORPHAN.vip), ...be16(80), '00', '00');
    const inner = `${pins}/orphan_table`;
    bpftool('map', 'create', inner, 'type', 'array', 'key', '4', 'value', '8', 'entries', '126', 'name', 'sy_mg_251', 'flags', '0x1000');
    try {
      bpftool('map', 'update', 'pinned', `${pins}/sy_maglev`, 'key', 'hex', ...u32(ORPHAN.group), 'value', 'pinned', inner);
    } finally {
      execFileSync('rm', ['-f', inner]);
    }
    const svcKey = [...bytes(ORPHAN.vip), ...be16(80), '06', '00'];
    bpftool('map', 'update', 'pinned', `${pins}/sy_services`, 'key', 'hex', ...svcKey, 'value', 'hex',
      ...u32(ORPHAN.frontend), ...u32(ORPHAN.group), '01', '00', '01', '00', ...u32(0), ...u32(251));
    assert.ok(keysOf(`${pins}/sy_maglev`).includes(ORPHAN.group), 'orphan table planted');

    const out = await run(['lab', 'restart-agents', '--name', lab.name, '--mode', 'ebpf', '--timeout', '120'], { timeoutMs: 180_000 });
    assert.equal(out.code, 0, out.stderr);

    await eventually('the orphans are deleted', async () => {
      assert.ok(!keysOf(`${pins}/sy_maglev`).includes(ORPHAN.group), 'orphan Maglev table deleted');
      assert.ok(!keysOf(`${pins}/sy_backends`).includes(ORPHAN.backend), 'orphan backend deleted');
      assert.ok(!keysOf(`${pins}/sy_revnat`).includes(ORPHAN.frontend), 'orphan reverse NAT deleted');
      assert.ok(!svcKeys(`${pins}/sy_services`).includes(svcKey.join('')), 'orphan frontend deleted');
      return true;
    }, 60_000);
    // Every table was read back (the orphan's too): the restarted agent logged them all.
    const logDir = `/run/switchyard/lab/${lab.name}`;
    const log = readFileSync(`${logDir}/node1-agent.log`, 'utf8').split('\n').filter((l) => l.includes('restored programmed state from pinned maps'));
    const last = JSON.parse(log[log.length - 1]!) as { tables: number };
    assert.equal(last.tables, tablesBefore.length + 1, `every table read back (${log[log.length - 1]})`);
    // The Services themselves were kept.
    assert.deepEqual(keysOf(`${pins}/sy_maglev`).sort(), [...tablesBefore].sort());
    assert.ok(existsSync(`${pins}/sy_services`));
    const ipOf = await lab.clusterIP('web0');
    const answers = await lab.probe('client', 'http', ipOf, 80, ['--count', '5', '--timeout-ms', '2000']);
    assert.ok(answers.length === 5 && answers.every((l) => !l.startsWith('ERR')), `web0 answers after the restart: ${answers.join(' | ')}`);
  });
});
