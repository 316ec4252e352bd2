import { test } from 'node:test';
import assert from 'node:assert/strict';
import { staleUdpDeletions } from '../../control-plane/src/dataplane/iptables/stale-udp.js';
import { computeDesiredState } from '../../control-plane/src/dataplane/desired-state.js';
import { ServiceTracker } from '../../control-plane/src/model/service-tracker.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import { service, slice, type Ep } from './fixtures.js';

function desired(eps: Array<string | Ep>, spec: Record<string, unknown> = {}) {
  const t = new ServiceTracker({ defaultAlgorithm: 'maglev' });
  t.update(service('dns', { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'tcp', port: 53, protocol: 'TCP' }], ...spec }));
  const c = new EndpointSliceCache('node1');
  c.update(slice('a', 'dns', [{ name: 'dns', port: 5353, protocol: 'UDP' }, { name: 'tcp', port: 5353 }], eps.map((e) => (typeof e === 'string' ? { ip: e } : e))));
  return computeDesiredState(t.servicePorts(), c.allEndpoints(), { nodeName: 'node1', zone: '' });
}

const udpPort = (d: ReturnType<typeof desired>) => d.find((x) => x.svc.protocol === 'UDP')!;

const TERMINATING = { ready: false, serving: true, terminating: true };
const STOPPED = { ready: false, serving: false, terminating: true };

test('a UDP endpoint that goes away has its conntrack entries deleted (TCP ones are left alone)', () => {
  const d = staleUdpDeletions(desired(['198.19.1.2', '198.19.1.3']), desired(['198.19.1.2']));
  assert.deepEqual(d.map((x) => x.args.join(' ')), ['-p udp --orig-dst 198.18.128.10 --orig-port-dst 53 --reply-src 198.19.1.3']);
});

test('a UDP Service that gets its first endpoint has its cached REJECT flows deleted', () => {
  const d = staleUdpDeletions(desired([]), desired(['198.19.1.2']));
  assert.deepEqual(d.map((x) => x.args.join(' ')), ['-p udp --orig-dst 198.18.128.10 --orig-port-dst 53']);
  assert.deepEqual(staleUdpDeletions(desired(['198.19.1.2']), desired(['198.19.1.2'])), []);
});

// kube-proxy's CleanStaleEntries keeps the flows of every serving endpoint:
// a terminating pod that still serves keeps its UDP flows (as TCP keeps its
// connections) while new flows go to the ready ones.
test('a UDP endpoint that starts terminating keeps its flows while it serves; they go once it stops serving', () => {
  const before = desired(['198.19.1.2', '198.19.1.3']);
  const terminating = desired(['198.19.1.2', { ip: '198.19.1.3', ...TERMINATING }]);
  assert.deepEqual(udpPort(terminating).internalEndpoints.map((e) => e.ip), ['198.19.1.2'], 'no new flows to the terminating endpoint');
  assert.deepEqual(staleUdpDeletions(before, terminating), []);
  const stopped = desired(['198.19.1.2', { ip: '198.19.1.3', ...STOPPED }]);
  assert.deepEqual(staleUdpDeletions(terminating, stopped).map((x) => x.args.join(' ')), ['-p udp --orig-dst 198.18.128.10 --orig-port-dst 53 --reply-src 198.19.1.3']);
  // Not ready and not terminating (a readiness probe failing): not serving either.
  const unready = desired(['198.19.1.2', { ip: '198.19.1.3', ready: false }]);
  assert.deepEqual(staleUdpDeletions(before, unready).map((x) => x.args.join(' ')), ['-p udp --orig-dst 198.18.128.10 --orig-port-dst 53 --reply-src 198.19.1.3']);
});

test('a traffic policy that takes an endpoint out of new flows leaves its UDP flows alone', () => {
  const cluster = desired([{ ip: '198.19.1.2', node: 'node1' }, { ip: '198.19.1.3', node: 'node2' }]);
  const local = desired([{ ip: '198.19.1.2', node: 'node1' }, { ip: '198.19.1.3', node: 'node2' }], { internalTrafficPolicy: 'Local' });
  assert.deepEqual(udpPort(local).internalEndpoints.map((e) => e.ip), ['198.19.1.2']);
  assert.deepEqual(staleUdpDeletions(cluster, local), []);
});

test('only terminating endpoints serving (no ready one): not a Service without endpoints, nothing deleted', () => {
  const d = staleUdpDeletions(desired([{ ip: '198.19.1.2', ...TERMINATING }]), desired([{ ip: '198.19.1.2', ...TERMINATING }, '198.19.1.3']));
  assert.deepEqual(d, []);
});
