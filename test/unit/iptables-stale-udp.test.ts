import { test } from 'node:test';
import assert from 'node:assert/strict';
import { staleUdpDeletions } from '../../control-plane/src/dataplane/iptables/stale-udp.js';
import { computeDesiredState } from '../../control-plane/src/dataplane/desired-state.js';
import { ServiceTracker } from '../../control-plane/src/model/service-tracker.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import { service, slice } from './fixtures.js';

function desired(ips: string[]) {
  const t = new ServiceTracker({ defaultAlgorithm: 'maglev' });
  t.update(service('dns', { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'tcp', port: 53, protocol: 'TCP' }] }));
  const c = new EndpointSliceCache('node1');
  c.update(slice('a', 'dns', [{ name: 'dns', port: 5353, protocol: 'UDP' }, { name: 'tcp', port: 5353 }], ips.map((ip) => ({ ip }))));
  return computeDesiredState(t.servicePorts(), c.allEndpoints(), { nodeName: 'node1', zone: '' });
}

test('a UDP endpoint that goes away has its conntrack entries deleted (TCP ones are left alone)', () => {
  const d = staleUdpDeletions(desired(['198.19.1.2', '198.19.1.3']), desired(['198.19.1.2']));
  assert.deepEqual(d.map((x) => x.args.join(' ')), ['-p udp --orig-dst 198.18.128.10 --orig-port-dst 53 --dst-nat 198.19.1.3']);
});

test('a UDP Service that gets its first endpoint has its cached REJECT flows deleted', () => {
  const d = staleUdpDeletions(desired([]), desired(['198.19.1.2']));
  assert.deepEqual(d.map((x) => x.args.join(' ')), ['-p udp --orig-dst 198.18.128.10 --orig-port-dst 53']);
  assert.deepEqual(staleUdpDeletions(desired(['198.19.1.2']), desired(['198.19.1.2'])), []);
});
