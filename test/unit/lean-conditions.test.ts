// Endpoint conditions in the informer caches: equal ones are one shared
// frozen object; anything that is not just the three booleans stays as it came.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1EndpointSlice } from '@kubernetes/client-node';
import { leanEndpointSlice } from '../../control-plane/src/k8s/lean-objects.js';

const slice = (conditions: unknown[]): V1EndpointSlice => ({
  addressType: 'IPv4', metadata: { name: 's' }, ports: [],
  endpoints: conditions.map((c, i) => ({ addresses: [`198.19.0.${i + 1}`], ...(c === undefined ? {} : { conditions: c as object }) })),
});

test('equal conditions are one frozen object; other shapes and values stay as they came', () => {
  const odd = { ready: true, extra: 1 }, notBool = { ready: 'yes' }, empty = {};
  const eps = leanEndpointSlice(slice([
    { ready: true, serving: true, terminating: false },
    { ready: true, serving: true, terminating: false },
    { ready: false, serving: true, terminating: true },
    { ready: true },
    odd, notBool, empty, undefined,
  ])).endpoints!;
  const c = eps.map((e) => e.conditions);
  assert.equal(c[0], c[1]);
  assert.ok(Object.isFrozen(c[0]));
  assert.deepEqual(c[0], { ready: true, serving: true, terminating: false });
  assert.notEqual(c[0], c[2]);
  assert.deepEqual(c[2], { ready: false, serving: true, terminating: true });
  assert.deepEqual(c[3], { ready: true }, 'absent fields stay absent (their defaults are the reader\'s)');
  assert.notEqual(c[3], c[0]);
  assert.equal(c[4], odd);
  assert.equal(c[5], notBool);
  assert.deepEqual(c[6], {});
  assert.equal(c[7], undefined);
});
