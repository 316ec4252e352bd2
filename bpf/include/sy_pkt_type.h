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
 * broadcast and multicast; unicast to another MAC is left to the kernel's
 * classification, which tc then sees (see docs/architecture.md).
 *
 * Both checks read the packet or its context only: no map lookup.
 */
#ifndef SY_PKT_TYPE_H
#define SY_PKT_TYPE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

static __always_inline int sy_skb_not_for_host(const struct __sk_buff *skb)
{
	return skb->pkt_type != PACKET_HOST;
}

/* data: start of an Ethernet frame the parser has already bounds-checked. */
static __always_inline int sy_xdp_not_for_host(const void *data)
{
	const struct ethhdr *eth = data;

	return eth->h_dest[0] & 1; /* I/G bit: broadcast or multicast */
}

#endif /* SY_PKT_TYPE_H */
