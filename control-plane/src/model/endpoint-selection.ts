// Which endpoints take new connections, following kube-proxy's
// CategorizeEndpoints: topology hints narrow the set only when every endpoint
// carries hints for this node; ready endpoints serve; when none is ready, the
// serving-and-terminating ones do; Local traffic policies keep this node's.
import type { EndpointInfo, ServicePortInfo } from './types.js';

export interface NodeTopology {
  nodeName: string;
  zone: string;
}

export interface EndpointCategories {
  /** Endpoints for traffic subject to the cluster-wide policy (iTP/eTP Cluster). */
  cluster: EndpointInfo[];
  /** This node's endpoints, for Local policies. */
  local: EndpointInfo[];
  /** Whether any local endpoint exists in any state kube-proxy counts (for the health check). */
  hasLocalReady: boolean;
}

/** Ready endpoints, or with none ready the serving-and-terminating ones. */
export function usable(eps: EndpointInfo[]): EndpointInfo[] {
  const ready = eps.filter((e) => e.ready);
  if (ready.length > 0) return ready;
  return eps.filter((e) => e.serving && e.terminating);
}

function topologyFiltered(eps: EndpointInfo[], node: NodeTopology): EndpointInfo[] {
  const candidates = eps.filter((e) => e.ready || (e.serving && e.terminating));
  if (candidates.length === 0) return eps;
  // Node hints take precedence, then zone hints; both apply only when every endpoint has them.
  if (candidates.every((e) => e.nodeHints && e.nodeHints.length > 0)) {
    const hinted = eps.filter((e) => e.nodeHints?.includes(node.nodeName));
    if (hinted.length > 0) return hinted;
  }
  if (node.zone && candidates.every((e) => e.zoneHints && e.zoneHints.length > 0)) {
    const hinted = eps.filter((e) => e.zoneHints?.includes(node.zone));
    if (hinted.length > 0) return hinted;
  }
  return eps;
}

export function categorizeEndpoints(svc: ServicePortInfo, eps: EndpointInfo[], node: NodeTopology): EndpointCategories {
  void svc;
  const cluster = usable(topologyFiltered(eps, node));
  const localAll = eps.filter((e) => e.isLocal);
  const local = usable(localAll);
  return { cluster, local, hasLocalReady: localAll.some((e) => e.ready) };
}
