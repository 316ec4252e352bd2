// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sy_recvmsg6 (cgroup/recvmsg6): socket-level load balancing, recvmsg()/recvfrom() of UDP sockets: a backend source shows as the frontend.
 * AF_INET6 sockets; IPv4-mapped destinations go to the IPv4 maps. See sy_sock6.h.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sy_sock6.h"

SEC("cgroup/recvmsg6")
int sy_recvmsg6(struct bpf_sock_addr *ctx)
{
	return sy_sock6_show_frontend(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
