// Scratch changes for warming the change path after a start. The first
// EndpointSlice change after a cold start was the slowest of a benchmark's
// flips: its sync ran code a cold start never runs, or runs once (a Maglev
// table for a new backend set: 1.4-1.9 ms for the first two, 0.22 ms from the
// third on, V8 optimising only what ran often), and its build took 2.8 ms
// where the next ones took 0.3 (10,000 Services x 10, docs/benchmarks.md).
// These changes run that code a few times on objects of their own, through
// scratch trackers here and a scratch map builder in the back end
// (Dataplane.warmUp): nothing the agent tracks or programmed is touched.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { computeDesiredState, type DesiredServicePort } from '../dataplane/desired-state.js';
import { EndpointSliceCache, SERVICE_NAME_LABEL } from '../model/endpoint-slice-cache.js';
import type { NodeTopology } from '../model/endpoint-selection.js';
import { serviceKeyOf, type ServiceKey } from '../model/service-key.js';
import { ServiceTracker } from '../model/service-tracker.js';
import type { IPFamily } from '../util/ip.js';

/** Changes made: each one slice update, as a flip (one endpoint out, then back). */
export const WARM_ROUNDS = 12;
const ENDPOINTS = 10;
const NAMESPACE = 'switchyard-warm-up';

/** Documentation addresses (RFC 5737, RFC 3849): never written to any map. */
function address(family: IPFamily, host: number): string {
  return family === 'IPv6' ? `2001:db8::${host.toString(16)}` : `192.0.2.${host}`;
}

function scratchService(family: IPFamily): V1Service {
  const ip = address(family, 10);
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name: 'scratch', namespace: NAMESPACE, uid: 'switchyard-warm-up', creationTimestamp: new Date(0) },
    spec: { type: 'ClusterIP', clusterIP: ip, clusterIPs: [ip], ipFamilies: [family], ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] },
  };
}

function scratchSlice(family: IPFamily, out: number | undefined, nodeName: string): V1EndpointSlice {
  const endpoints = [];
  for (let i = 0; i < ENDPOINTS; i++) {
    if (i === out) continue;
    endpoints.push({ addresses: [address(family, 100 + i)], conditions: { ready: true, serving: true, terminating: false }, nodeName: i === 0 ? nodeName : 'elsewhere' });
  }
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: family,
    metadata: { name: 'scratch-1', namespace: NAMESPACE, labels: { [SERVICE_NAME_LABEL]: 'scratch' } },
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints,
  };
}

/**
 * The desired state of one scratch Service, first whole, then after each of
 * `rounds` slice changes, computed as the proxier computes a changed
 * Service (trackers, then computeDesiredState).
 */
export function scratchChanges(node: NodeTopology, family: IPFamily, rounds = WARM_ROUNDS): Array<Map<ServiceKey, DesiredServicePort[]>> {
  const services = new ServiceTracker({ defaultAlgorithm: 'maglev', ipFamilies: [family] });
  const endpoints = new EndpointSliceCache(node.nodeName, { ipFamilies: [family] });
  const svc = scratchService(family);
  const key = serviceKeyOf(svc.metadata);
  services.update(svc);
  const out: Array<Map<ServiceKey, DesiredServicePort[]>> = [];
  for (let r = 0; r <= rounds; r++) {
    // Round 0: every endpoint; then one out (each in turn) and back in.
    endpoints.update(scratchSlice(family, r === 0 || r % 2 === 0 ? undefined : (r >> 1) % ENDPOINTS, node.nodeName));
    services.takeChanged();
    endpoints.takeChanged();
    out.push(new Map([[key, computeDesiredState(services.portsOfService(key, family), endpoints.endpointsOfService(key, family), node)]]));
  }
  return out;
}
