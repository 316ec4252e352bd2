// `switchyard status|services|maps|conntrack|explain`: flags named as the
// API's query parameters, tables or --json, errors from the API shown.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAdminServer, type AdminServer } from '../../control-plane/src/admin/server.js';
import { adminPath, parseAdminArgs, runAdminCommand, type AdminIO } from '../../control-plane/src/cli/admin-command.js';
import { runAdminCommand as runWithLab } from '../../cli/admin.js';
import { labAdminSocket } from '../../lab/src/netns/layout.js';
import { flowHash } from '../../control-plane/src/dataplane/flow-hash.js';
import { FakeLoader, FakeSync, SEED, WEB, WEB_SLICE, desiredOf, ebpfSource, program } from './admin-fake.js';

async function capture(fn: (io: AdminIO) => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await fn({ out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

test('flags become query parameters; targets', () => {
  const a = parseAdminArgs('explain', ['--src', '198.19.1.5', '--dst=198.18.128.10', '--dport', '80', '--sport', '4000', '--json']);
  assert.deepEqual(a.query, [['src', '198.19.1.5'], ['dst', '198.18.128.10'], ['dport', '80'], ['sport', '4000']]);
  assert.equal(a.json, true);
  assert.deepEqual(a.target, { url: 'http://127.0.0.1:10252' });
  assert.equal(adminPath('explain', [], a.query), '/v1/explain?src=198.19.1.5&dst=198.18.128.10&dport=80&sport=4000');
  const m = parseAdminArgs('maps', ['sy_backends', '--filter', 'state=active', '--filter', 'local=true', '--slots', '--admin-socket', '/run/a.sock']);
  assert.equal(adminPath('maps', m.positional, m.query), '/v1/maps/sy_backends?filter=state%3Dactive&filter=local%3Dtrue&slots=true');
  assert.deepEqual(m.target, { socketPath: '/run/a.sock' });
  assert.deepEqual(parseAdminArgs('status', ['--lab', 'e2a', '--node', 'n2']).target, { lab: 'e2a', node: 'node2' });
  assert.deepEqual(parseAdminArgs('status', ['--node', '1']).target, { lab: 'sy', node: 'node1' });
  assert.equal(labAdminSocket('e2a', 'node2'), '/run/switchyard/lab/e2a/node2-admin.sock');
  assert.throws(() => parseAdminArgs('services', ['--colour', 'red']), /unknown option --colour \(options: --namespace --name\)/);
  assert.throws(() => parseAdminArgs('status', ['--admin', 'http://x', '--node', '1']), /use one of/);
  assert.throws(() => parseAdminArgs('status', ['--lab', 'x']), /--lab needs --node/);
  assert.throws(() => parseAdminArgs('status', ['extra']), /unexpected argument "extra"/);
  assert.throws(() => parseAdminArgs('explain', ['--src']), /needs a value/);
});

describe('against a running admin API (unix socket)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-cli-'));
  const sock = path.join(dir, 'admin.sock');
  const loader = new FakeLoader();
  const sync = new FakeSync();
  let srv: AdminServer;
  before(async () => {
    sync.lastDesired = desiredOf([WEB], [WEB_SLICE]);
    program(loader, sync.lastDesired);
    sync.history.push({ at: Date.now(), durationMs: 7, changes: 9, ok: true });
    srv = await startAdminServer({ source: ebpfSource(loader, sync), socketPath: sock });
  });
  after(async () => {
    await srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const cli = (cmd: string, ...args: string[]) => capture((io) => runAdminCommand(cmd, [...args, '--admin-socket', sock], io));

  test('status, services, maps, conntrack print tables', async () => {
    let r = await cli('status');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /node node1 {2}mode ebpf \(test\) {2}healthy/);
    assert.match(r.out, /loader: instance test/);
    assert.match(r.out, /7 ms\s+9\s+ok/);
    r = await cli('services');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^default\/web:http {2}ClusterIP {2}TCP/m);
    assert.match(r.out, /198\.18\.128\.10:80\/TCP\s+ClusterIP\s+external\s+\d+\s+\d+\s+3\s+509\s+default sizing\s+ClusterIP/);
    assert.match(r.out, /198\.19\.2\.3:8080\s+\d+\s+terminating\s+no\s+node2\s+zone-b\s+-/);
    assert.match(r.out, /198\.19\.1\.2:8080\s+\d+\s+active\s+yes\s+node1\s+zone-a\s+3\d\.\d% of ClusterIP/);
    r = await cli('maps');
    assert.match(r.out, /^sy_backends\s+hash\s+4\s+16\s+65536\s+4\s+0\.0%/m);
    r = await cli('maps', 'sy_backends', '--filter', 'state=terminating');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^ID\s+ADDR\s+PORT\s+PROTO\s+STATE\s+LOCAL\s+ZONE$/m);
    assert.match(r.out, /198\.19\.2\.3\s+8080\s+TCP\s+terminating\s+false/);
    assert.match(r.out, /showing 1 of 1/);
    r = await cli('conntrack');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /showing 0 of 0/);
  });

  test('explain prints the steps and the backend flowHash picks; --json is the API answer', async () => {
    const r = await cli('explain', '--src', '198.19.1.77', '--dst', '198.18.128.10', '--dport', '80', '--sport', '40000');
    assert.equal(r.code, 0, r.err);
    const slot = flowHash({ saddr: '198.19.1.77', daddr: '198.18.128.10', sport: 40000, dport: 80, proto: 6 }, SEED) % 509;
    assert.match(r.out, new RegExp(`mod 509 = slot ${slot} -> backend`));
    assert.match(r.out, new RegExp(`verdict: dnat {2}service default/web:http {2}backend 198\\.19\\.\\d\\.\\d:8080 .* decided by maglev {2}slot ${slot}/509`));
    const j = await cli('explain', '--src', '198.19.1.77', '--dst', '198.18.128.10', '--dport', '80', '--sport', '40000', '--json');
    assert.equal(JSON.parse(j.out).maglev.slot, slot);
  });

  test('API errors: exit 1 with the message; usage errors: exit 2', async () => {
    let r = await cli('explain', '--src', '1.2.3', '--dst', '198.18.128.10', '--dport', '80');
    assert.equal(r.code, 1);
    assert.match(r.err, /400: query parameter "src" must be an IPv4 or IPv6 address/);
    r = await cli('maps', 'sy_nope');
    assert.equal(r.code, 1);
    assert.match(r.err, /404: unknown map "sy_nope"/);
    r = await cli('maps', '--limit', '-1');
    assert.equal(r.code, 1);
    r = await capture((io) => runAdminCommand('services', ['--bogus'], io));
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown option --bogus/);
    r = await capture((io) => runAdminCommand('status', ['--admin-socket', path.join(dir, 'none.sock')], io));
    assert.equal(r.code, 1);
    assert.match(r.err, /cannot reach the admin API at .*none\.sock/);
    r = await capture((io) => runWithLab('status', ['--lab', 'nosuchlab', '--node', '1'], io));
    assert.equal(r.code, 1);
    assert.match(r.err, /no lab "nosuchlab" \(\/run\/switchyard\/lab\/nosuchlab does not exist\)/);
    // control-plane alone (no lab given, as in the agent's image): --lab is refused, not guessed.
    r = await capture((io) => runAdminCommand('status', ['--lab', 'nosuchlab', '--node', '1'], io));
    assert.equal(r.code, 1);
    assert.match(r.err, /--lab\/--node: the lab is not part of this build/);
  });
});
