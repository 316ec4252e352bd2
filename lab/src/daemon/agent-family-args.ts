// The agent flags that depend on the lab's IP families, as kube-proxy would
// be started on such a node:
//
//   ipv4  --node-ip <IPv4> --cluster-cidr 198.19.0.0/16
//         --service-cluster-ip-range 198.18.128.0/17 --health-bind-address 0.0.0.0:10256
//         (unchanged from the IPv4-only lab)
//   dual  --node-ip <IPv4> --cluster-cidr 198.19.0.0/16
//         --service-cluster-ip-range 198.18.128.0/17,fd00:198:18:128::/112
//         --health-bind-address [::]:10256 (one socket, both families)
//   ipv6  --health-bind-address [::]:10256 only
//
// The node's IPv6 address reaches the agent the way kube-proxy learns its
// node IPs: the Node object's InternalIPs (both families, primary first).
// --cluster-cidr stays IPv4-only in a dual lab because the agent takes one
// IPv4 CIDR there (kube-proxy takes "v4,v6"); an IPv6-only lab gives no
// --node-ip, --cluster-cidr or --service-cluster-ip-range, which all expect
// IPv4 today.
import { AGENT_HEALTH_PORT, CLUSTER_CIDR, hostIPOf, planFamilies, type LabPlan, type NodePlan } from '../netns/plan.js';

export interface AgentFamilyArgs {
  nodeIP: string[];
  ranges: string[];
}

export function agentFamilyArgs(plan: LabPlan, node: NodePlan): AgentFamilyArgs {
  const fams = planFamilies(plan);
  const v4 = hostIPOf(node, 'IPv4');
  const health = ['--health-bind-address', fams.includes('IPv6') ? `[::]:${AGENT_HEALTH_PORT}` : `0.0.0.0:${AGENT_HEALTH_PORT}`];
  if (!fams.includes('IPv4') || v4 === undefined) return { nodeIP: [], ranges: health };
  const serviceRanges = plan.serviceCIDRs ?? [plan.serviceCIDR];
  return {
    nodeIP: ['--node-ip', v4],
    ranges: ['--cluster-cidr', CLUSTER_CIDR, '--service-cluster-ip-range', serviceRanges.join(','), ...health],
  };
}
