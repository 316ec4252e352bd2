// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sy_getpeername6 (cgroup/getpeername6): socket-level load balancing, getpeername(): a backend peer shows as the frontend.
 * AF_INET6 sockets; IPv4-mapped destinations go to the IPv4 maps. See sy_sock6.h.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sy_sock6.h"

SEC("cgroup/getpeername6")
int sy_getpeername6(struct bpf_sock_addr *ctx)
{
	return sy_sock6_show_frontend(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
