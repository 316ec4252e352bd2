import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkedRequest } from '../../control-plane/src/dataplane/ebpf/loader-client.js';
import { RequestType } from '../../control-plane/src/dataplane/ebpf/loader-protocol.js';

const addr = Buffer.from([198, 18, 0, 1]);

test('map writes are encoded as built: a Uint32Array table gives the bytes fromObject gives for an array', () => {
  const table = Uint32Array.from({ length: 251 }, (_, i) => 1 + (i % 3));
  const ops = [
    { upsertBackend: { id: 1, addr, port: 8080, proto: 6 } },
    { setMaglev: { group: 4, backendIds: table } },
    { upsertService: { key: { addr, port: 80, proto: 6, scope: 0 }, id: 2, group: 4, count: 3, tableSize: 251 } },
  ];
  const fast = RequestType.encodeDelimited(checkedRequest({ seq: 1, apply: { ops } })).finish();
  const slowOps = ops.map((op) => ('setMaglev' in op ? { setMaglev: { group: 4, backendIds: Array.from(table) } } : op));
  const slow = RequestType.encodeDelimited(RequestType.fromObject({ seq: 1, apply: { ops: slowOps } })).finish();
  assert.deepEqual(Buffer.from(fast), Buffer.from(slow));
  // The table is not copied.
  const req = checkedRequest({ seq: 1, apply: { ops } }) as { apply: { ops: Array<{ setMaglev?: { backendIds: unknown } }> } };
  assert.equal(req.apply.ops[1]!.setMaglev!.backendIds, table);
});

test('ops that do not fit loader.proto are refused with the field named', () => {
  assert.throws(() => checkedRequest({ seq: 1, apply: { ops: [{ upsertBackend: { id: 'x', addr, port: 80, proto: 6 } }] } }), /does not fit loader.proto: .*id/);
  assert.throws(() => checkedRequest({ seq: 1, apply: { ops: [{ setMaglev: { group: 1, backendIds: [1, -2] } }] } }), /backendIds: uint32 values expected/);
  assert.throws(() => checkedRequest({ seq: 1, apply: { ops: [{ setMaglev: { group: 'g', backendIds: [1] } }] } }), /group/);
  // Other requests still go through fromObject + verify.
  assert.doesNotThrow(() => checkedRequest({ seq: 1, dump: { map: 'sy_services' } }));
});
