// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sy_tc_external: service load balancing at tc ingress of the node's
 * external (underlay) devices: NodePort, ExternalIP and LoadBalancer
 * frontends (and ClusterIPs routed to the node), scope SY_SCOPE_EXTERNAL
 * only. A new flow to a remote backend is source-NATed to the node address
 * unless the frontend is externalTrafficPolicy=Local; its replies, which
 * come back on this device, are translated back. See sy_lb.h and sy_tc.h.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sy_tc.h"

SEC("tc")
int sy_tc_external(struct __sk_buff *skb)
{
	return sy_tc_main(skb, SY_ROLE_EXTERNAL);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
