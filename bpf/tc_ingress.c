// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sy_tc_ingress: service load balancing at tc ingress of every pod-facing
 * veth (node side). Frontends are looked up with scope SY_SCOPE_INTERNAL
 * first, then SY_SCOPE_EXTERNAL; only hairpin flows (a pod reaching itself
 * through a frontend) are source-NATed. See sy_lb.h and sy_tc.h.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sy_tc.h"

SEC("tc")
int sy_tc_ingress(struct __sk_buff *skb)
{
	return sy_tc_main(skb, SY_ROLE_POD);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
