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

/**
 * eps.filter(keep), or eps itself when keep holds for every endpoint (the
 * usual case): one array per Service port instead of one per category (five
 * of them, 100,000 endpoints each at 10,000 x 10). Callers only read them.
 */
export function filterOrSame(eps: EndpointInfo[], keep: (e: EndpointInfo) => boolean): EndpointInfo[] {
  for (let i = 0; i < eps.length; i++) if (!keep(eps[i]!)) return eps.filter(keep);
  return eps;
}

/** Ready endpoints, or with none ready the serving-and-terminating ones. */
export function usable(eps: EndpointInfo[]): EndpointInfo[] {
  const ready = filterOrSame(eps, (e) => e.ready);
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
  const localAll = filterOrSame(eps, (e) => e.isLocal);
  const local = usable(localAll);
  return { cluster, local, hasLocalReady: localAll.some((e) => e.ready) };
}
