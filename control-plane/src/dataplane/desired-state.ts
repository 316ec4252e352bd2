// One sync's desired state, independent of the back end: for each ServicePort
// the endpoints that take new flows (per traffic scope) and every endpoint
// that may still carry established flows. kube-proxy's "proxier computes the
// whole desired state, the back end applies it" split.
import { categorizeEndpoints, filterOrSame, type NodeTopology } from '../model/endpoint-selection.js';
import type { EndpointInfo, ServicePortInfo } from '../model/types.js';
import type { IPFamily } from '../util/ip.js';

export interface DesiredServicePort {
  svc: ServicePortInfo;
  /** New flows from inside the cluster (ClusterIP), after iTP and topology. */
  internalEndpoints: EndpointInfo[];
  /** New flows from outside (NodePort, ExternalIP, LB), after eTP. */
  externalEndpoints: EndpointInfo[];
  /** Usable endpoints cluster-wide (topology applied) and on this node, before policies. */
  clusterEndpoints: EndpointInfo[];
  localEndpoints: EndpointInfo[];
  /** Every endpoint known for the port, including those that only keep established flows. */
  allEndpoints: EndpointInfo[];
  /** For the eTP=Local health check: local endpoints ready. */
  localReadyCount: number;
}

export function computeDesiredState(
  services: Map<string, ServicePortInfo>,
  endpoints: Map<string, EndpointInfo[]>,
  node: NodeTopology,
): DesiredServicePort[] {
  const out: DesiredServicePort[] = [];
  for (const [key, svc] of [...services].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const eps = endpoints.get(key) ?? [];
    const cat = categorizeEndpoints(svc, eps, node);
    out.push({
      svc,
      internalEndpoints: svc.internalPolicyLocal ? cat.local : cat.cluster,
      externalEndpoints: svc.externalPolicyLocal ? cat.local : cat.cluster,
      clusterEndpoints: cat.cluster,
      localEndpoints: cat.local,
      allEndpoints: filterOrSame(eps, (e) => e.ready || e.serving || e.terminating),
      localReadyCount: eps.filter((e) => e.isLocal && e.ready).length,
    });
  }
  return out;
}

/** A DesiredServicePort's family (svc.family; absent means IPv4). */
export function familyOf(d: DesiredServicePort): IPFamily {
  return d.svc.family ?? 'IPv4';
}

/**
 * The desired state split by family, in order of first appearance: what a
 * back end that programs one table per family (iptables and ip6tables, as
 * kube-proxy's per-family proxiers) renders separately.
 */
export function desiredByFamily(desired: Iterable<DesiredServicePort>): Map<IPFamily, DesiredServicePort[]> {
  const out = new Map<IPFamily, DesiredServicePort[]>();
  for (const d of desired) {
    const f = familyOf(d);
    let l = out.get(f);
    if (!l) out.set(f, (l = []));
    l.push(d);
  }
  return out;
}
