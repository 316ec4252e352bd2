// The agent starts beside its loader (the DaemonSet's two containers, the
// lab): the loader opens its socket once its programs are verified, a second
// or two later. The agent's wait must notice it then, not a doubled backoff
// step later.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { waitForLoaderAnswer } from '../../control-plane/src/config/loader-wait.js';
import { RequestType, ResponseType } from '../../control-plane/src/dataplane/ebpf/loader-protocol.js';

/** Answers every probe with an empty feature list. */
function fakeLoader(sockPath: string): net.Server {
  const server = net.createServer((sock) => {
    sock.on('data', (d) => {
      const req = RequestType.toObject(RequestType.decodeDelimited(d), { longs: Number }) as { seq: number };
      sock.write(ResponseType.encodeDelimited(ResponseType.fromObject({ seq: req.seq, code: 0, probe: {} })).finish());
    });
  });
  server.listen(sockPath);
  return server;
}

test('a loader that opens its socket 1.5 s after the agent starts waiting is answered within a poll step', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-loader-wait-'));
  const sock = path.join(dir, 'loader.sock');
  let server: net.Server | undefined;
  try {
    const opensAfterMs = 1500;
    let opened = 0;
    setTimeout(() => {
      server = fakeLoader(sock);
      opened = Date.now();
    }, opensAfterMs);
    let waitingSaid = 0;
    const r = await waitForLoaderAnswer(sock, pino({ level: 'silent' }), { onWaiting: () => void waitingSaid++ });
    const late = Date.now() - opened;
    assert.equal(waitingSaid, 1, 'the agent said once that it waits');
    // With the backoff from the start (200, 400, 800 ms: attempts at 0, 0.2, 0.6, 1.4, 3.0 s) it was 1.5 s late.
    assert.ok(late < 400, `answered ${late} ms after the socket opened (waited ${r.waitedMs} ms)`);
  } finally {
    server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
