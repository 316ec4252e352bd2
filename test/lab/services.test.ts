import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiError } from '../../lab/src/apiserver/errors.js';
import { Store } from '../../lab/src/apiserver/store.js';
import type { Service } from '../../lab/src/apiserver/types.js';
import { LoadBalancerController } from '../../lab/src/controllers/loadbalancer.js';
import { waitFor } from './helpers.js';

function code(fn: () => unknown): number {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e.code;
    throw e;
  }
  return 0;
}

const svc = (name: string, spec: Record<string, unknown> = {}) => ({
  metadata: { name },
  spec: { selector: { app: name }, ports: [{ port: 80 }], ...spec },
});

describe('ClusterIP allocation (admission)', { timeout: 60_000 }, () => {
  test('defaults and allocation from the service CIDR', () => {
    const s = new Store({ serviceCIDR: '198.18.128.0/29' });
    const a = s.create('services', svc('a'));
    assert.equal(a.spec.clusterIP, '198.18.128.1', 'first usable address');
    assert.deepEqual(a.spec.clusterIPs, ['198.18.128.1']);
    assert.deepEqual(a.spec.ipFamilies, ['IPv4']);
    assert.equal(a.spec.ipFamilyPolicy, 'SingleStack');
    assert.equal(a.spec.type, 'ClusterIP');
    assert.equal(a.spec.sessionAffinity, 'None');
    assert.equal(a.spec.internalTrafficPolicy, 'Cluster');
    assert.equal(a.spec.externalTrafficPolicy, undefined, 'only for external services');
    assert.deepEqual(a.spec.ports, [{ port: 80, protocol: 'TCP', targetPort: 80 }]);
    assert.deepEqual(a.status, { loadBalancer: {} });
    const b = s.create('services', svc('b'));
    assert.equal(b.spec.clusterIP, '198.18.128.2');
    // requested address
    const c = s.create('services', svc('c', { clusterIP: '198.18.128.5' }));
    assert.equal(c.spec.clusterIP, '198.18.128.5');
    assert.equal(code(() => s.create('services', svc('d', { clusterIP: '198.18.128.5' }))), 422, 'already allocated');
    assert.equal(code(() => s.create('services', svc('e', { clusterIP: '10.0.0.1' }))), 422, 'out of range');
    assert.equal(code(() => s.create('services', svc('f', { clusterIP: 'nope' }))), 422);
    // /29: .1-.6 usable; .1 .2 .5 taken -> .3 .4 .6
    assert.deepEqual(['g', 'h', 'i'].map((n) => s.create('services', svc(n)).spec.clusterIP), ['198.18.128.3', '198.18.128.4', '198.18.128.6']);
    assert.equal(code(() => s.create('services', svc('full'))), 422, 'range exhausted');
    // release on delete
    s.delete('services', 'b');
    assert.equal(s.create('services', svc('j')).spec.clusterIP, '198.18.128.2');
    // immutable
    assert.equal(code(() => s.patch('services', 'a', { spec: { clusterIP: '198.18.128.6' } })), 422);
    // omitted on update: kept
    const cur = s.get('services', 'a') as Service;
    const { clusterIP: _ip, clusterIPs: _ips, ...rest } = cur.spec;
    const u = s.update('services', { ...cur, spec: { ...rest, sessionAffinity: 'ClientIP' } });
    assert.equal(u.spec.clusterIP, '198.18.128.1');
    assert.equal(u.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds, 10800);
  });

  test('headless, ExternalName, named targetPort default, validation', () => {
    const s = new Store();
    const h = s.create('services', { metadata: { name: 'h' }, spec: { clusterIP: 'None', selector: { app: 'h' } } });
    assert.equal(h.spec.clusterIP, 'None');
    assert.deepEqual(h.spec.clusterIPs, ['None']);
    const x = s.create('services', { metadata: { name: 'x' }, spec: { type: 'ExternalName', externalName: 'example.com' } });
    assert.equal(x.spec.clusterIP, undefined);
    assert.equal(x.spec.clusterIPs, undefined);
    assert.equal(x.spec.ipFamilies, undefined);
    assert.equal(code(() => s.create('services', { metadata: { name: 'y' }, spec: { type: 'ExternalName' } })), 422, 'externalName required');
    const n = s.create('services', { metadata: { name: 'n' }, spec: { selector: { app: 'n' }, ports: [{ name: 'http', port: 80, targetPort: 'web' }, { name: 'dns', port: 53, protocol: 'UDP' }] } });
    assert.equal(n.spec.ports?.[0]?.targetPort, 'web');
    assert.equal(n.spec.ports?.[1]?.targetPort, 53);
    assert.equal(code(() => s.create('services', { metadata: { name: 'm' }, spec: { ports: [{ port: 80 }, { port: 81 }] } })), 422, 'names required with several ports');
    assert.equal(code(() => s.create('services', { metadata: { name: 'p' }, spec: { ports: [] } })), 422, 'ports required');
    assert.equal(code(() => s.create('services', { metadata: { name: '9svc' }, spec: { ports: [{ port: 80 }] } })), 422, 'DNS-1035 name');
    // ExternalName -> ClusterIP allocates; back releases
    const toCIP = s.patch('services', 'x', { spec: { type: 'ClusterIP', externalName: null, selector: { app: 'x' }, ports: [{ port: 80 }] } });
    assert.ok(toCIP.spec.clusterIP && toCIP.spec.clusterIP !== 'None');
    const ip = toCIP.spec.clusterIP as string;
    const back = s.patch('services', 'x', { spec: { type: 'ExternalName', externalName: 'example.org', clusterIP: null, clusterIPs: null } });
    assert.equal(back.spec.clusterIP, undefined);
    assert.ok(!s.services.ips.has(ip), 'released');
  });

  test('NodePort and LoadBalancer: nodePorts, healthCheckNodePort, release on type change', () => {
    const s = new Store({ nodePortRange: [30000, 30004] });
    const np = s.create('services', svc('np', { type: 'NodePort', ports: [{ name: 'a', port: 80 }, { name: 'b', port: 81, nodePort: 30003 }] }));
    assert.equal(np.spec.ports?.[0]?.nodePort, 30000);
    assert.equal(np.spec.ports?.[1]?.nodePort, 30003);
    assert.equal(np.spec.externalTrafficPolicy, 'Cluster');
    assert.equal(np.spec.healthCheckNodePort, undefined);
    assert.equal(code(() => s.create('services', svc('dup', { type: 'NodePort', ports: [{ port: 80, nodePort: 30003 }] }))), 422);
    assert.equal(code(() => s.create('services', svc('oor', { type: 'NodePort', ports: [{ port: 80, nodePort: 40000 }] }))), 422);
    assert.equal(code(() => s.create('services', svc('cip', { ports: [{ port: 80, nodePort: 30001 }] }))), 422, 'nodePort on ClusterIP');
    assert.equal(code(() => s.create('services', svc('etp', { externalTrafficPolicy: 'Local' }))), 422, 'eTP on ClusterIP');
    // a failed create does not leak ports
    assert.ok(!s.services.nodePorts.has(30001));

    const lb = s.create('services', svc('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }));
    assert.equal(lb.spec.ports?.[0]?.nodePort, 30001);
    assert.equal(lb.spec.healthCheckNodePort, 30002);
    assert.equal(lb.spec.allocateLoadBalancerNodePorts, true);
    // update without nodePorts keeps them
    const cur = s.get('services', 'np') as Service;
    const kept = s.update('services', { ...cur, spec: { ...cur.spec, ports: [{ name: 'a', port: 80 }, { name: 'b', port: 81 }] } });
    assert.deepEqual(kept.spec.ports?.map((p) => p.nodePort), [30000, 30003]);
    // to ClusterIP: nodePorts released
    const c = s.patch('services', 'np', { spec: { type: 'ClusterIP', externalTrafficPolicy: null, ports: [{ name: 'a', port: 80 }, { name: 'b', port: 81 }] } });
    assert.deepEqual(c.spec.ports?.map((p) => p.nodePort), [undefined, undefined]);
    assert.ok(!s.services.nodePorts.has(30000) && !s.services.nodePorts.has(30003));
    // eTP Cluster: healthCheckNodePort released
    const l2 = s.patch('services', 'lb', { spec: { externalTrafficPolicy: 'Cluster' } });
    assert.equal(l2.spec.healthCheckNodePort, undefined);
    assert.ok(!s.services.nodePorts.has(30002));
    s.delete('services', 'lb');
    assert.ok(!s.services.nodePorts.has(30001));
  });

  test('LoadBalancer ingress from the pool, released when the Service goes', async () => {
    const s = new Store();
    const lbc = new LoadBalancerController(s, { pool: '198.18.64.0/30' }).start();
    try {
      s.create('services', svc('lb1', { type: 'LoadBalancer' }));
      s.create('services', svc('lb2', { type: 'LoadBalancer', loadBalancerIP: '198.18.64.1' }));
      s.create('services', svc('plain'));
      const [lb1, lb2] = await waitFor(
        s,
        'services',
        (items) => ['lb1', 'lb2'].every((n) => items.find((i) => i.metadata.name === n)?.status?.loadBalancer?.ingress?.length),
        { what: 'LB ingress', labelSelector: '' },
      ).then((items) => ['lb1', 'lb2'].map((n) => items.find((i) => i.metadata.name === n) as Service));
      assert.deepEqual(lb2?.status?.loadBalancer?.ingress, [{ ip: '198.18.64.1', ipMode: 'VIP' }], 'requested address honoured');
      assert.deepEqual(lb1?.status?.loadBalancer?.ingress, [{ ip: '198.18.64.2', ipMode: 'VIP' }]);
      await lbc.idle();
      assert.deepEqual(s.get('services', 'plain')?.status, { loadBalancer: {} });
      // pool of /30 has 2 usable addresses: a third waits, gets one after lb1 goes
      s.create('services', svc('lb3', { type: 'LoadBalancer' }));
      await lbc.idle();
      assert.equal(s.get('services', 'lb3')?.status?.loadBalancer?.ingress, undefined);
      s.delete('services', 'lb1');
      const [lb3] = await waitFor(s, 'services', (items) => !!items[0]?.status?.loadBalancer?.ingress?.length, { fieldSelector: 'metadata.name=lb3' });
      assert.equal(lb3?.status?.loadBalancer?.ingress?.[0]?.ip, '198.18.64.2');
      // type change clears the status
      s.patch('services', 'lb2', { spec: { type: 'ClusterIP' } });
      await waitFor(s, 'services', (items) => !items[0]?.status?.loadBalancer?.ingress, { fieldSelector: 'metadata.name=lb2' });
    } finally {
      lbc.stop();
    }
  });
});
