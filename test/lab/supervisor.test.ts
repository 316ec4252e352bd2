// The lab daemon's supervision (lab/src/daemon/supervisor.ts) with real
// processes: one that dies is started again after the backoff and counted;
// one stopped by the lab, or that finished its job, stays down.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { ManagedProcess } from '../../lab/src/daemon/processes.js';
import { BACKOFF_MIN_MS, SupervisedProcess } from '../../lab/src/daemon/supervisor.js';
import { StateFile } from '../../lab/src/netns/state.js';

async function until(what: string, pred: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('lab process supervision', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sy-supervisor-'));
  const state = new StateFile(path.join(dir, 'state.json'), 'suptest', 'test');
  const log = pino({ level: 'silent' });
  const spawnSleep = (onExit: (p: ManagedProcess) => void): ManagedProcess =>
    new ManagedProcess('agent', 'node1', ['sleep', '30'], path.join(dir, 'sleep.log'), 'sleep 30', state, onExit);

  test('a killed process is restarted after the backoff, with its restart counted', async () => {
    const sup = new SupervisedProcess('agent', 'node1', spawnSleep, log);
    try {
      const first = sup.pid!;
      process.kill(first, 'SIGKILL');
      const killedAt = Date.now();
      await until('restarted', () => sup.restarts === 1 && sup.isAlive);
      assert.notEqual(sup.pid, first);
      assert.ok(Date.now() - killedAt >= BACKOFF_MIN_MS - 50, 'waited for the backoff');
      const info = sup.info();
      assert.equal(info.restarts, 1);
      assert.equal(info.stoppedReason, null);
      // The second death waits twice as long.
      process.kill(sup.pid!, 'SIGKILL');
      await until('in backoff', () => sup.info().nextRestartAt !== null);
      const due = Date.parse(sup.info().nextRestartAt!) - Date.now();
      assert.ok(due > BACKOFF_MIN_MS, `second backoff ${due} ms`);
      await until('restarted twice', () => sup.restarts === 2 && sup.isAlive, 10_000);
    } finally {
      await sup.stop(1000);
    }
    assert.equal(sup.isAlive, false);
    assert.equal(sup.downForGood, true);
    await new Promise((r) => setTimeout(r, BACKOFF_MIN_MS + 300));
    assert.equal(sup.isAlive, false, 'a process the lab stopped is not restarted');
  });

  test('an asked-for restart (an upgrade) is immediate and resets the crash backoff', async () => {
    const sup = new SupervisedProcess('loader', 'node1', spawnSleep, log);
    try {
      // Three crashes in a row: the next crash would wait 8 s.
      for (let i = 1; i <= 3; i++) {
        process.kill(sup.pid!, 'SIGKILL');
        await until(`crash ${i} restarted`, () => sup.restarts === i && sup.isAlive, 15_000);
      }
      for (let i = 4; i <= 6; i++) {
        const old = sup.pid!;
        const askedAt = Date.now();
        assert.equal(sup.restartNow(), old);
        await until(`upgrade ${i} restarted`, () => sup.restarts === i && sup.isAlive && sup.pid !== old, 5_000);
        assert.ok(Date.now() - askedAt < BACKOFF_MIN_MS, `upgrade ${i} restarted without backoff (${Date.now() - askedAt} ms)`);
      }
      // The next crash starts from the shortest backoff again.
      process.kill(sup.pid!, 'SIGKILL');
      await until('in backoff', () => sup.info().nextRestartAt !== null);
      const due = Date.parse(sup.info().nextRestartAt!) - Date.now();
      assert.ok(due <= BACKOFF_MIN_MS, `backoff after the upgrades ${due} ms`);
      await until('restarted after the crash', () => sup.restarts === 7 && sup.isAlive, 5_000);
    } finally {
      await sup.stop(1000);
    }
  });

  test('a process that finished its job stays down', async () => {
    const sup = new SupervisedProcess('loader', 'node1', spawnSleep, log, () => 'it cleaned up');
    process.kill(sup.pid!, 'SIGTERM');
    await until('exited', () => !sup.isAlive);
    await new Promise((r) => setTimeout(r, BACKOFF_MIN_MS + 300));
    assert.equal(sup.isAlive, false);
    assert.equal(sup.restarts, 0);
    assert.equal(sup.info().stoppedReason, 'it cleaned up');
    assert.equal(sup.downForGood, true);
  });

  test('cleanup', () => {
    rmSync(dir, { recursive: true, force: true });
  });
});
