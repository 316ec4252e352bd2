// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sy_sendmsg6 (cgroup/sendmsg6): socket-level load balancing, sendmsg()/sendto() of unconnected UDP sockets to a frontend: destination -> backend.
 * AF_INET6 sockets; IPv4-mapped destinations go to the IPv4 maps. See sy_sock6.h.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sy_sock6.h"

SEC("cgroup/sendmsg6")
int sy_sendmsg6(struct bpf_sock_addr *ctx)
{
	return sy_sock6_xlate(ctx, 1);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
