// The one full collection after the first sync (util/startup-gc.ts): the
// agent runs without V8's memory reducer and collects once itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { StartupCollection } from '../../control-plane/src/util/startup-gc.js';

const turn = () => new Promise<void>((r) => setImmediate(r));

function capture() {
  const lines: Array<{ msg: string; ms?: number; heapUsedMiB?: number[] }> = [];
  return { lines, log: pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as never) }) };
}

test('collects once, after the first successful sync, off the sync listener', async (t) => {
  const g = globalThis as { gc?: () => void };
  const had = g.gc;
  let calls = 0;
  g.gc = () => void calls++;
  t.after(() => (g.gc = had));
  const { lines, log } = capture();
  const c = new StartupCollection(log);
  c.afterSync();
  assert.equal(calls, 0, 'not inside the listener');
  await turn();
  assert.equal(calls, 1);
  c.afterSync();
  c.afterSync();
  await turn();
  assert.equal(calls, 1, 'once per process');
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.msg, 'full garbage collection after the first sync');
  assert.equal(lines[0]!.heapUsedMiB!.length, 2, 'heap before and after');
});

test('does nothing without gc() (a node started without --expose-gc)', async (t) => {
  const g = globalThis as { gc?: () => void };
  const had = g.gc;
  delete g.gc;
  t.after(() => (g.gc = had));
  const { lines, log } = capture();
  new StartupCollection(log).afterSync();
  await turn();
  assert.deepEqual(lines, []);
});

test('the agent is started with the flags it relies on', async () => {
  const { AGENT_NODE_FLAGS } = await import('../../control-plane/src/cli/agent-node-flags.js');
  assert.ok(AGENT_NODE_FLAGS.includes('--expose-gc'), 'gc() for the collection after the first sync');
  assert.ok(AGENT_NODE_FLAGS.includes('--no-memory-reducer'), 'no memory-reducing collections at random times');
});
