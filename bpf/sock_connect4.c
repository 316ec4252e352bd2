// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sy_connect4 (cgroup/connect4): socket-level load balancing, connect() of TCP and UDP sockets to a frontend: destination -> backend.
 * See sy_sock.h.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sy_sock.h"

SEC("cgroup/connect4")
int sy_connect4(struct bpf_sock_addr *ctx)
{
	return sy_sock_xlate(ctx, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
