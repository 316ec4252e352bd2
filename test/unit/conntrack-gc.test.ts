// sy_conntrack's GC has one schedule: bursts of "soon" coalesce into one
// walk, the periodic walk keeps going, and two walks never overlap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { ConntrackGcSchedule } from '../../control-plane/src/dataplane/ebpf/conntrack-gc.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = pino({ level: 'silent' });

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('a burst of soon() calls costs one walk', async () => {
  let walks = 0;
  const s = new ConntrackGcSchedule(async () => (walks++, 0), log, 3_600_000);
  for (let i = 0; i < 20; i++) s.soon(20);
  await until('the walk', () => walks > 0);
  await sleep(100);
  assert.equal(walks, 1);
  s.stop();
});

test('the periodic walk repeats until stop(); walks never overlap', async () => {
  let walks = 0, running = 0, maxRunning = 0;
  const s = new ConntrackGcSchedule(async () => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    await sleep(15);
    running--;
    walks++;
    return 1;
  }, log, 5);
  s.start();
  // soon() while a walk runs: it waits for that walk.
  for (let i = 0; i < 10; i++) {
    s.soon(1);
    await sleep(3);
  }
  await until('three walks', () => walks >= 3);
  s.stop();
  await until('the running walk to end', () => running === 0);
  const after = walks;
  await sleep(100);
  assert.equal(walks, after, 'no walk after stop()');
  assert.equal(maxRunning, 1);
});

test('a failing walk is logged and the schedule goes on', async () => {
  let walks = 0;
  const s = new ConntrackGcSchedule(async () => {
    walks++;
    throw new Error('loader gone');
  }, log, 5);
  s.start();
  await until('two walks', () => walks >= 2);
  s.stop();
});
