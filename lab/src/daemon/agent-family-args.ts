// The agent flags that depend on the lab's IP families, as kube-proxy would
// be started on such a node:
//
//   ipv4  --node-ip <IPv4> --cluster-cidr 198.19.0.0/16
//         --service-cluster-ip-range 198.18.128.0/17 --health-bind-address 0.0.0.0:10256
//         (unchanged from the IPv4-only lab)
//   dual  --node-ip <IPv4>,<IPv6> --cluster-cidr 198.19.0.0/16,fd00:198:19::/48
//         --service-cluster-ip-range 198.18.128.0/17,fd00:198:18:128::/112
//         --health-bind-address [::]:10256 (one socket, both families)
//   ipv6  --health-bind-address [::]:10256 only
//
// A dual lab names both node addresses, as kubelet's --node-ip "v4,v6" does:
// the agent serves the families of the addresses it is given, so both.
// --cluster-cidr takes one CIDR per family (kube-proxy's "v4,v6"). An
// IPv6-only lab gives no --node-ip, --cluster-cidr or
// --service-cluster-ip-range: the agent learns its IPv6 address and family
// from the Node's InternalIPs.
import { AGENT_HEALTH_PORT, CLUSTER_CIDR, CLUSTER_CIDR6, hostIPOf, planFamilies, type LabPlan, type NodePlan } from '../netns/plan.js';

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
  const v6 = fams.includes('IPv6') ? hostIPOf(node, 'IPv6') : undefined;
  return {
    nodeIP: ['--node-ip', v6 ? `${v4},${v6}` : v4],
    ranges: ['--cluster-cidr', v6 ? `${CLUSTER_CIDR},${CLUSTER_CIDR6}` : CLUSTER_CIDR, '--service-cluster-ip-range', serviceRanges.join(','), ...health],
  };
}
