/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Frames not addressed to this host. A bridge or a switch floods broadcast,
 * multicast and unknown-unicast frames to every port, so a frame whose IPv4
 * destination is a Service address may reach every node of a segment (and
 * a device in promiscuous mode sees other hosts' unicast). The kernel never
 * forwards such a frame (ip_forward() drops pkt_type != PACKET_HOST); the
 * datapath must not translate, forward or answer it either, or every node
 * that sees it would deliver a copy to a backend.
 *
 * tc: the driver's eth_type_trans() has already classified the frame in
 * skb->pkt_type (PACKET_OTHERHOST, PACKET_BROADCAST, PACKET_MULTICAST).
 * XDP runs before that: the group bit of the destination MAC catches
 * broadcast and multicast, and the device's own address (sy_dev_mac,
 * written by the loader at attach) unicast for another host. A device
 * without an entry is not checked in XDP; tc still is.
 *
 * tc reads the skb only; XDP adds one ARRAY lookup, which the verifier
 * inlines (no helper call).
 */
#ifndef SY_PKT_TYPE_H
#define SY_PKT_TYPE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <bpf/bpf_helpers.h>

#include "sy_structs.h"
#include "sy_maps.h"

static __always_inline int sy_skb_not_for_host(const struct __sk_buff *skb)
{
	return skb->pkt_type != PACKET_HOST;
}

/* data: start of an Ethernet frame the parser has already bounds-checked;
 * ifindex: the ingress device. */
static __always_inline int sy_xdp_not_for_host(const void *data, __u32 ifindex)
{
	const struct ethhdr *eth = data;
	struct sy_dev_mac *dev;
	__u32 d4, m4;
	__u16 d2, m2;

	if (eth->h_dest[0] & 1) /* I/G bit: broadcast or multicast */
		return 1;
	dev = bpf_map_lookup_elem(&sy_dev_mac, &ifindex);
	if (!dev || !dev->set)
		return 0; /* unknown device: tc decides on pkt_type */
	__builtin_memcpy(&d4, eth->h_dest, 4);
	__builtin_memcpy(&d2, eth->h_dest + 4, 2);
	__builtin_memcpy(&m4, dev->addr, 4);
	__builtin_memcpy(&m2, dev->addr + 4, 2);
	return d4 != m4 || d2 != m2;
}

#endif /* SY_PKT_TYPE_H */
