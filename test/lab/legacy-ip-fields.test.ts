// The lab API server accepts what kube-apiserver accepts in its legacy IP
// fields (leading zeros, IPv6 externalIPs on an IPv4 Service) and stores the
// text verbatim, while still refusing what kube-apiserver refuses.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError } from '../../lab/src/apiserver/errors.js';
import { Store } from '../../lab/src/apiserver/store.js';

function code(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e.code;
    throw e;
  }
  return 0;
}

const svc = (name: string, spec: Record<string, unknown> = {}) => ({ metadata: { name }, spec: { selector: { app: name }, ports: [{ port: 80 }], ...spec } });

test('a ClusterIP with leading zeros is stored verbatim and allocated as the address it names', () => {
  const s = new Store({ serviceCIDR: '198.18.128.0/24' });
  const a = s.create('services', svc('a', { clusterIP: '198.018.128.050' }));
  assert.equal(a.spec.clusterIP, '198.018.128.050');
  assert.equal(code(() => s.create('services', svc('b', { clusterIP: '198.18.128.50' }))), 422, 'the same address, written canonically, is taken');
  assert.equal(code(() => s.create('services', svc('c', { clusterIP: '198.18.300.1' }))), 422);
});

test('externalIPs: leading zeros and IPv6 accepted, garbage refused', () => {
  const s = new Store();
  const a = s.create('services', svc('a', { externalIPs: ['198.051.100.007', 'fd00::5'] }));
  assert.deepEqual(a.spec.externalIPs, ['198.051.100.007', 'fd00::5']);
  assert.equal(code(() => s.create('services', svc('b', { externalIPs: ['not-an-ip'] }))), 422);
  assert.equal(code(() => s.create('services', svc('c', { externalIPs: ['1.2.3.256'] }))), 422);
});

test('EndpointSlice IPv4 addresses with leading zeros are accepted', () => {
  const s = new Store();
  const e = s.create('endpointslices', {
    metadata: { name: 'e', labels: { 'kubernetes.io/service-name': 'x' } }, addressType: 'IPv4',
    ports: [{ name: 'http', port: 80, protocol: 'TCP' }], endpoints: [{ addresses: ['198.019.001.010'] }],
  });
  assert.equal(e.endpoints![0]!.addresses[0], '198.019.001.010');
  assert.equal(code(() => s.create('endpointslices', {
    metadata: { name: 'f' }, addressType: 'IPv4', endpoints: [{ addresses: ['fd00::1'] }],
  })), 422);
});
