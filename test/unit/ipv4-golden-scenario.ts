// An IPv4 cluster's map programming, end to end from Service and slice
// objects to loader ops: ClusterIP, NodePort with eTP=Local, ExternalIP, a
// LoadBalancer with source ranges, ClientIP affinity, a terminating endpoint,
// a scale-up and a deletion. The modules come as arguments so the same
// scenario runs against this tree and against an older build (the digest in
// ipv6-desired-maps.test.ts was recorded from the build before IPv6, commit
// 663e075, with test/unit/ipv4-golden-record.mjs).
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';

export interface ScenarioModules {
  ServiceTracker: new (opts: { defaultAlgorithm: 'maglev' }) => { update(s: V1Service): unknown; servicePorts(): Map<string, unknown> };
  EndpointSliceCache: new (node: string) => { update(s: V1EndpointSlice): unknown; delete(s: V1EndpointSlice): unknown; allEndpoints(): Map<string, unknown[]> };
  computeDesiredState: (s: Map<string, unknown>, e: Map<string, unknown[]>, n: { nodeName: string; zone: string }) => unknown[];
  DesiredMapsBuilder: new (o: { seed: number; sizing: { floor: number; ceiling: number } }) => { nodeAddresses: string[]; nodeIP: string; build(d: unknown[]): unknown };
  diffMaps: (a: unknown, b: unknown) => { ops: unknown[] };
  emptyMapsContent: () => unknown;
}

const svc = (name: string, spec: Record<string, unknown>, status?: Record<string, unknown>): V1Service => ({
  apiVersion: 'v1', kind: 'Service',
  metadata: { name, namespace: 'default', creationTimestamp: new Date('2026-01-01T00:00:00Z') },
  spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, protocol: 'TCP' }], ...spec },
  ...(status ? { status } : {}),
}) as V1Service;

const slice = (name: string, service: string, port: number, eps: Array<{ ip: string; node: string; ready?: boolean; terminating?: boolean }>): V1EndpointSlice => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
  metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
  ports: [{ name: 'http', port, protocol: 'TCP' }],
  endpoints: eps.map((e) => ({ addresses: [e.ip], nodeName: e.node, conditions: { ready: e.ready ?? true, serving: e.ready ?? true, terminating: e.terminating ?? false } })),
});

/** The ops of each step, as JSON (typed arrays as plain arrays, bytes as arrays). */
export function ipv4ScenarioOps(m: ScenarioModules): string {
  const t = new m.ServiceTracker({ defaultAlgorithm: 'maglev' });
  const c = new m.EndpointSliceCache('node1');
  const b = new m.DesiredMapsBuilder({ seed: 0x5317c4d1, sizing: { floor: 251, ceiling: 131071 } });
  b.nodeAddresses = ['198.18.0.11'];
  b.nodeIP = '198.18.0.11';
  const node = { nodeName: 'node1', zone: '' };
  const steps: unknown[] = [];
  let have = m.emptyMapsContent();
  const step = (): void => {
    const want = b.build(m.computeDesiredState(t.servicePorts(), c.allEndpoints(), node));
    steps.push(m.diffMaps(have, want).ops);
    have = want;
  };
  t.update(svc('web', { clusterIP: '198.18.128.10', clusterIPs: ['198.18.128.10'], externalIPs: ['198.18.200.1'], sessionAffinity: 'ClientIP' }));
  t.update(svc('np', { type: 'NodePort', clusterIP: '198.18.128.11', clusterIPs: ['198.18.128.11'], externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }] }));
  t.update(svc('lb', { type: 'LoadBalancer', clusterIP: '198.18.128.12', clusterIPs: ['198.18.128.12'], loadBalancerSourceRanges: ['198.18.0.0/24', '198.19.7.9/16'], ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30081 }] },
    { loadBalancer: { ingress: [{ ip: '198.18.210.1' }] } }));
  c.update(slice('web-1', 'web', 8080, [{ ip: '198.19.1.2', node: 'node1' }, { ip: '198.19.2.2', node: 'node2' }, { ip: '198.19.2.3', node: 'node2', ready: false, terminating: true }]));
  c.update(slice('np-1', 'np', 8081, [{ ip: '198.19.1.5', node: 'node1' }, { ip: '198.19.2.5', node: 'node2' }]));
  c.update(slice('lb-1', 'lb', 8082, [{ ip: '198.18.0.11', node: 'node1' }, { ip: '198.19.2.7', node: 'node2' }]));
  step();
  c.update(slice('web-1', 'web', 8080, [{ ip: '198.19.1.2', node: 'node1' }, { ip: '198.19.2.2', node: 'node2' }, { ip: '198.19.2.4', node: 'node2' }]));
  step();
  c.delete(slice('np-1', 'np', 8081, []));
  step();
  return JSON.stringify(steps, (_k, v: unknown) => (v instanceof Uint8Array || v instanceof Uint32Array ? [...v] : v));
}
