// The command runner has no fixed timeout: a child that keeps using CPU runs
// to the end however long it takes, and is reported while it runs; a child
// that makes no progress (no CPU time, no output) is killed. Real processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandExec, type RunningCommand } from '../../control-plane/src/dataplane/iptables/runner.js';

test('a child busy for longer than the stall limit is not killed, and is reported while it runs', async () => {
  const reports: RunningCommand[] = [];
  const exec = commandExec([], { stallMs: 800, checkEveryMs: 200, onRunning: (r) => reports.push(r) });
  // About 3 s of CPU (four times the stall limit), then an answer.
  const r = await exec([process.execPath, '-e', 'const t = Date.now(); let x = 0; while (Date.now() - t < 3000) x++; console.log("done", x > 0)']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /done true/);
  assert.ok(reports.length >= 3, `${reports.length} reports`);
  const last = reports.at(-1)!;
  assert.ok(last.elapsedMs > 800 && last.cpuMs > 0 && last.idleMs < 800, JSON.stringify(last));
});

test('a child that makes no progress is killed after the stall limit', async () => {
  const exec = commandExec([], { stallMs: 600, checkEveryMs: 200 });
  const started = Date.now();
  const r = await exec(['sleep', '30']);
  assert.equal(r.code, 124);
  assert.match(r.stderr, /made no progress/);
  assert.ok(Date.now() - started < 20_000);
});
