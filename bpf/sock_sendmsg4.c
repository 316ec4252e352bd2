// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sy_sendmsg4 (cgroup/sendmsg4): socket-level load balancing, sendmsg()/sendto() of unconnected UDP sockets to a frontend: destination -> backend.
 * See sy_sock.h.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sy_sock.h"

SEC("cgroup/sendmsg4")
int sy_sendmsg4(struct bpf_sock_addr *ctx)
{
	return sy_sock_xlate(ctx, 1);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
