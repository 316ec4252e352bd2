// Crash safety: a lab whose daemon is killed with SIGKILL (no chance to stop
// its pods) is removed completely by runCleanup from the state files.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { readStateDocs } from '../../lab/src/netns/state.js';
import { cleanup, clusterBuilt, ensureTools, eventually, lab, labOk, leftovers, pidAlive, rootSkipReason, uniqueLabName } from './helpers.js';

const skip = rootSkipReason() ?? (clusterBuilt() ? undefined : 'lab/src/cluster.ts is not built yet');

const PODS = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: crash}
spec:
  replicas: 2
  selector: {matchLabels: {app: crash}}
  template:
    metadata: {labels: {app: crash}}
    spec:
      containers:
        - {name: w, image: switchyard/whoami, ports: [{containerPort: 8080}]}
`;

describe('cleanup after a daemon crash (cleanup --stale spares running labs)', { skip, timeout: 240_000 }, () => {
  const name = uniqueLabName('crash');
  // --name right after the command word: after `--` it would belong to exec's command.
  const L = (args: string[]): string[] => [args[0]!, '--name', name, ...args.slice(1)];

  before(async () => {
    ensureTools();
    await labOk(L(['up', '--nodes', '2', '--no-agents']), { timeoutMs: 120_000 });
  });

  after(async () => {
    if (leftovers(name).length > 0) await cleanup(name);
  });

  test('SIGKILL the daemon, then runCleanup removes namespaces, processes and the state directory', async () => {
    await labOk(L(['apply', '-f', '-']), { input: PODS });
    await labOk(L(['wait-ready', '--timeout', '60']), { timeoutMs: 90_000 });
    const dir = `/run/switchyard/lab/${name}`;
    const docs = readStateDocs(dir).docs;
    const daemon = docs.flatMap((d) => d.processes).find((p) => p.role === 'daemon')!;
    const pods = docs.flatMap((d) => d.processes).filter((p) => p.role === 'pod');
    assert.equal(pods.length, 2);
    assert.ok(docs.flatMap((d) => d.namespaces).some((n) => n.startsWith(`${name}-p-crash-`)), 'pod namespaces recorded');

    // `cleanup --stale` (what the test runner does before a run) leaves a lab whose daemon runs alone.
    const live = await cleanup(name, { stale: true });
    assert.equal(live.code, 0, live.stdout + live.stderr);
    assert.match(live.stdout, /nothing left behind/);
    assert.ok(fs.existsSync(dir) && pidAlive(daemon.pid), 'a running lab is not touched');

    process.kill(daemon.pid, 'SIGKILL');
    await eventually('the daemon is gone', () => !pidAlive(daemon.pid), 10_000);
    for (const p of pods) assert.ok(pidAlive(p.pid), 'the pod servers outlive the daemon');
    const st = await lab(L(['status']));
    assert.equal(st.code, 1);
    assert.match(st.stderr, /not running/);

    // Just crashed: left for the grace period (a `lab down` may be under way).
    const fresh = await cleanup(name, { stale: true });
    assert.match(fresh.stdout, /nothing left behind/);
    assert.ok(fs.existsSync(dir));
    // Its state files as if the crash were a minute old: now it is a leftover, and --stale removes it all.
    const old = new Date(Date.now() - 60_000);
    for (const f of [...fs.readdirSync(dir).map((n) => `${dir}/${n}`), dir]) fs.utimesSync(f, old, old);
    const r = await cleanup(name, { stale: true });
    assert.match(r.stdout, /was left behind: its daemon \(pid \d+\) is gone/);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /killed 2 process\(es\), deleted 7 namespace\(s\)/);
    for (const p of pods) assert.ok(!pidAlive(p.pid), `pod pid ${p.pid} still alive`);
    assert.ok(!fs.existsSync(dir));
    assert.deepEqual(leftovers(name), []);

    // Idempotent: nothing left to do.
    const again = await cleanup(name);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /nothing recorded/);
  });
});
