// The drift check beside the syncs (drift-check.ts) against a loader whose
// sy_backends is an in-memory map read in pages: entries changed, added or
// removed behind the agent's back count; an entry a sync writes while the map
// is read does not, even when the page that shows it arrives before the
// agent learns its write landed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkDrift, writtenContent, type WriteGauge } from '../../control-plane/src/dataplane/ebpf/drift-check.js';
import type { DumpPage } from '../../control-plane/src/dataplane/ebpf/loader-client.js';
import { LoaderError } from '../../control-plane/src/dataplane/ebpf/loader-client.js';
import { emptyMapsContent } from '../../control-plane/src/dataplane/ebpf/maps-content.js';
import { backendCodec, decodeU32, encodeU32, type BackendValue } from '../../control-plane/src/dataplane/ebpf/map-values.js';

const PAGE = 4;

function backend(i: number, port = 8080): BackendValue {
  return { addr: `198.19.1.${i}`, port, proto: 6, state: 0, flags: 0, zone: 0 };
}

/** sy_backends as the kernel holds it, read PAGE entries a page in key order; `beforeAnswer` runs as a page is answered. */
function fakeLoader(kernel: Map<number, BackendValue>, beforeAnswer: (page: number) => void) {
  let pages = 0;
  return {
    pages: () => pages,
    async dumpPage(map: string, cursor: Uint8Array): Promise<DumpPage> {
      if (map !== 'sy_backends') throw new LoaderError('NOT_FOUND', `no map ${map}`);
      beforeAnswer(pages++);
      const after = cursor.length === 0 ? -1 : decodeU32(cursor);
      const keys = [...kernel.keys()].filter((k) => k > after).sort((a, b) => a - b);
      const take = keys.slice(0, PAGE);
      return {
        info: { name: map, type: 'hash', keySize: 4, valueSize: 12, maxEntries: 1024, entries: kernel.size, pinPath: '', id: 1 },
        entries: take.map((k) => ({ key: encodeU32(k), value: backendCodec.encode(kernel.get(k)!) })),
        nextCursor: take.length > 0 ? encodeU32(take[take.length - 1]!) : new Uint8Array(0),
        more: keys.length > PAGE,
      };
    },
  };
}

test('drift is what changed behind the agent; a write during the read is not drift', async () => {
  const belief = emptyMapsContent();
  const kernel = new Map<number, BackendValue>();
  for (let i = 1; i <= 16; i++) {
    belief.backends.set(i, backend(i));
    kernel.set(i, backend(i));
  }
  // Behind the agent's back: 9 changed, 12 deleted, 20 added.
  kernel.set(9, backend(9, 9999));
  kernel.delete(12);
  kernel.set(20, backend(20));
  const written = writtenContent();
  const writes: WriteGauge = { epoch: 0, inFlight: 0 };
  // While page 1 (keys 5..8) is read, a sync writes backend 6 and, in another batch, deletes 15: the
  // kernel has them before the page is answered, the agent commits them only after.
  const loader = fakeLoader(kernel, (page) => {
    if (page !== 1) return;
    writes.epoch += 2;
    writes.inFlight += 2;
    kernel.set(6, backend(6, 7000));
    kernel.delete(15);
    setImmediate(() => {
      writes.inFlight -= 2;
      belief.backends.set(6, backend(6, 7000));
      written.backends.set(6, backend(6, 7000));
      belief.backends.delete(15);
      written.backends.delete(15);
    });
  });
  const r = await checkDrift({ loader, belief, written, writes, read: new Set(['sy_backends']), quietTimeoutMs: 1000 });
  assert.deepEqual(r, { drift: { sy_backends: 3 }, incomplete: [] }, '9 changed, 12 missing, 20 extra; 6 and 15 were the agent\'s own writes');
  assert.equal(loader.pages(), 5, 'the page read while the writes were on their way was read again');
});

test('an entry changed behind the agent while no write is on its way is drift', async () => {
  const belief = emptyMapsContent();
  const kernel = new Map<number, BackendValue>();
  for (let i = 1; i <= 8; i++) {
    belief.backends.set(i, backend(i));
    kernel.set(i, backend(i));
  }
  const written = writtenContent();
  const writes: WriteGauge = { epoch: 0, inFlight: 0 };
  const loader = fakeLoader(kernel, (page) => {
    if (page === 0) kernel.set(2, backend(2, 1234));
  });
  const r = await checkDrift({ loader, belief, written, writes, read: new Set(['sy_backends']), quietTimeoutMs: 1000 });
  assert.deepEqual(r.drift, { sy_backends: 1 });
});

test('writes that never leave a quiet moment leave the map unjudged, not drifted', async () => {
  const belief = emptyMapsContent();
  const kernel = new Map<number, BackendValue>([[1, backend(1, 1)]]);
  belief.backends.set(1, backend(1));
  const writes: WriteGauge = { epoch: 0, inFlight: 0 };
  const loader = fakeLoader(kernel, () => {
    writes.epoch++;
  });
  const r = await checkDrift({ loader, belief, written: writtenContent(), writes, read: new Set(['sy_backends']), quietTimeoutMs: 30 });
  assert.deepEqual(r, { drift: {}, incomplete: ['sy_backends'] });
});
