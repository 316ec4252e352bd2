/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The Service CIDR (the range ClusterIPs are allocated from, kube-apiserver's
 * --service-cluster-ip-range; sy_config.svc_net/svc_mask, written by the
 * loader from the agent's flag of the same name).
 *
 * A packet addressed to it can never be a reply of a tracked flow: a reply
 * entry's destination is the flow's client (a pod, the node, an external
 * host) or the node's SNAT address, never a ClusterIP (the loader refuses a
 * CIDR that holds the node address). sy_lb_decide() therefore skips the
 * reply lookup for such a packet: one conntrack lookup (a miss) less on
 * every packet to a ClusterIP (new flow, handshake ACK, established).
 * Without a CIDR (mask 0) every packet is looked up as a reply first.
 */
#ifndef SY_SERVICE_CIDR_H
#define SY_SERVICE_CIDR_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "sy_structs.h"
#include "sy_maps.h"

static __always_inline int sy_to_service_cidr(__be32 daddr)
{
	__u32 zero = 0;
	struct sy_config *cfg = bpf_map_lookup_elem(&sy_config, &zero);
	__be32 mask;

	if (!cfg)
		return 0;
	mask = cfg->svc_mask;
	return mask && (daddr & mask) == cfg->svc_net;
}

#endif /* SY_SERVICE_CIDR_H */
