// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sy_recvmsg4 (cgroup/recvmsg4): socket-level load balancing, recvmsg()/recvfrom() of UDP sockets: a backend source shows as the frontend.
 * See sy_sock.h.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sy_sock.h"

SEC("cgroup/recvmsg4")
int sy_recvmsg4(struct bpf_sock_addr *ctx)
{
	return sy_sock_show_frontend(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
