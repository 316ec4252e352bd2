/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The two conntrack entries of a flow as one: every packet that hits one
 * entry (FORWARD or REPLY) also looks at the other one, the peer, and
 *
 *   - recreates it when it is missing (the LRU evicted it under pressure, or
 *     a restart lost it), from what the hit entry holds: backend, frontend,
 *     SNAT address and port, flags. Counted (SY_CNT_CT_*_RESTORED). An
 *     established flow therefore survives a flood of new flows as long as
 *     one of its entries does, in either direction;
 *   - checks that the peer belongs to this flow (same backend and frontend,
 *     SNAT fields pointing at each other). A peer key holding another flow
 *     (e.g. a reply entry left by an older flow of the same client port to
 *     another backend) is left alone and nothing propagates to it;
 *   - marks the flow established (SY_CT_F_ESTABLISHED, the long lifetime)
 *     when the client ACKs after a reply: a SYN answered only by a SYN-ACK
 *     (half-open, e.g. a flood from spoofed sources) keeps the short one;
 *   - carries the TCP close state to both entries:
 *       FIN: closes its own direction only (SY_CT_F_FIN_FORWARD/REPLY); the
 *            flow keeps its established lifetime while the other direction
 *            is open (half-close), and is CLOSING once both FINs are seen;
 *       RST: sets SY_CT_F_CLOSING (short lifetime) only when it belongs to
 *            the flow: its tuple matched a live entry, the peer entry exists
 *            and matches, and the flow is established (a reply was seen) or
 *            the RST is the backend's answer (reply direction). Sequence
 *            numbers are not tracked, so not checked. Any other RST is still
 *            translated (the endpoint judges it) but counted and ignored.
 *
 * When: on every packet that changes the flow's state (FIN, RST, the first
 * reply), and otherwise on the first packet of an entry in each period of
 * 2^SY_CT_PAIR_CHECK_SHIFT ns (67 ms; also the first packet after a pause).
 * A busy flow thus pays one extra lookup per 67 ms, not per packet, and the
 * lookup also marks the peer as used for the LRU, so a flow that keeps
 * sending keeps both halves. Writes only when something changes. Figures
 * in docs/maps.md.
 *
 * Both families: an IPv6 entry (sy_ct_value6) has sy_ct_value's layout up
 * to flags (asserted in sy_structs.h), so the flow logic reads and writes
 * those fields through struct sy_ct_value; only the NAT fields, the map
 * and a recreated peer differ (fam, a compile-time constant).
 */
#ifndef SY_CT_PAIR_H
#define SY_CT_PAIR_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "sy_structs.h"
#include "sy_maps.h"
#include "sy_parse.h"
#include "sy_stats.h"
#include "sy_addr.h"

#define SY_CT_F_FIN_BOTH (SY_CT_F_FIN_FORWARD | SY_CT_F_FIN_REPLY)
/* Flags that describe the flow, kept equal in both entries. */
#define SY_CT_F_FLOW                                                      \
	(SY_CT_F_SEEN_REPLY | SY_CT_F_ESTABLISHED | SY_CT_F_CLOSING |     \
	 SY_CT_F_SNAT | SY_CT_F_FIN_BOTH)

#define SY_CT_PAIR_CHECK_SHIFT 26 /* 2^26 ns = 67.1 ms */

/* Is this packet to look at the peer entry (see above)? */
static __always_inline int sy_ct_pair_due(const struct sy_ct_value *ct,
					  __u8 dir, __u8 tcp_flags, __u64 now)
{
	if (tcp_flags & (SY_TCP_FIN | SY_TCP_RST))
		return 1;
	if (dir == SY_CT_REPLY && !(ct->flags & SY_CT_F_SEEN_REPLY))
		return 1;
	/* The client's ACK that completes the handshake. */
	if (dir == SY_CT_FORWARD && (tcp_flags & SY_TCP_ACK) &&
	    (ct->flags & (SY_CT_F_SEEN_REPLY | SY_CT_F_ESTABLISHED)) ==
		    SY_CT_F_SEEN_REPLY)
		return 1;
	return (now >> SY_CT_PAIR_CHECK_SHIFT) !=
	       (ct->last_seen >> SY_CT_PAIR_CHECK_SHIFT);
}

/* The peer of an entry is of this flow: same backend and frontend, and the
 * SNAT fields are what this side expects (0 for a flow without SNAT). */
static __always_inline int sy_ct_peer_matches_fam(int fam,
						  const struct sy_ct_value *ct,
						  const struct sy_ct_value *peer,
						  const __be32 *nat_addr,
						  __be16 nat_port)
{
	if (peer->backend_id != ct->backend_id ||
	    peer->rev_nat_id != ct->rev_nat_id ||
	    ((peer->flags ^ ct->flags) & SY_CT_F_SNAT))
		return 0;
	if (fam == SY_AF6) {
		const struct sy_ct_value6 *p6 = (const void *)peer;

		return sy_a6_eq(p6->nat_addr, nat_addr) &&
		       p6->nat_port == nat_port;
	}
	return peer->nat_addr == nat_addr[0] && peer->nat_port == nat_port;
}

/* Flags a TCP segment of direction dir adds to its flow, given the flags
 * the flow has (flags) and whether an RST would belong to it (rst_ok). */
static __always_inline __u16 sy_ct_close_marks(__u16 flags, __u8 tcp_flags,
					       __u8 dir, int rst_ok)
{
	__u16 add = 0;

	if (tcp_flags & SY_TCP_FIN)
		add |= dir == SY_CT_FORWARD ? SY_CT_F_FIN_FORWARD :
					      SY_CT_F_FIN_REPLY;
	if (tcp_flags & SY_TCP_RST) {
		if (rst_ok)
			add |= SY_CT_F_CLOSING;
	} else if (dir == SY_CT_FORWARD && (tcp_flags & SY_TCP_ACK) &&
		   (flags & SY_CT_F_SEEN_REPLY)) {
		add |= SY_CT_F_ESTABLISHED;
	}
	if (((flags | add) & SY_CT_F_FIN_BOTH) == SY_CT_F_FIN_BOTH)
		add |= SY_CT_F_CLOSING;
	return add;
}

static __always_inline void sy_ct_count_close(__u16 before, __u16 after,
					      __u8 tcp_flags, int rst_ok)
{
	if ((after & SY_CT_F_CLOSING) && !(before & SY_CT_F_CLOSING))
		sy_count(SY_CNT_CT_CLOSED);
	else if ((after & SY_CT_F_FIN_BOTH) && !(before & SY_CT_F_FIN_BOTH))
		sy_count(SY_CNT_CT_HALF_CLOSE);
	if ((tcp_flags & SY_TCP_RST) && !rst_ok)
		sy_count(SY_CNT_CT_RST_IGNORED);
}

/* A packet of direction dir hit the live entry ct. peer_key is the other
 * entry's key; peer_nat_addr/port what its nat fields must hold (for an
 * SNATed flow: the client, in the reply entry; node:NAT port, in the
 * forward entry; else 0). Refreshes ct, recreates or updates the peer. */
/* A peer entry recreated from ct (see sy_ct_pair_follow_fam()). */
static __always_inline int sy_ct_peer_create(int fam,
					     const struct sy_ct_value *ct,
					     const void *peer_key, __u16 flags,
					     const __be32 *nat_addr,
					     __be16 nat_port, __u64 now)
{
	if (fam == SY_AF6) {
		struct sy_ct_value6 v = {};

		v.last_seen = now;
		v.backend_id = ct->backend_id;
		v.rev_nat_id = ct->rev_nat_id;
		v.flags = flags;
		sy_a6_copy(v.nat_addr, nat_addr);
		v.nat_port = nat_port;
		return bpf_map_update_elem(&sy_conntrack6, peer_key, &v,
					   BPF_NOEXIST);
	} else {
		struct sy_ct_value v = {};

		v.last_seen = now;
		v.backend_id = ct->backend_id;
		v.rev_nat_id = ct->rev_nat_id;
		v.flags = flags;
		v.nat_addr = nat_addr[0];
		v.nat_port = nat_port;
		return bpf_map_update_elem(&sy_conntrack, peer_key, &v,
					   BPF_NOEXIST);
	}
}

/* fam: SY_AF4 (sy_conntrack, peer_key a struct sy_ct_key) or SY_AF6
 * (sy_conntrack6, struct sy_ct_key6; ct points to a struct sy_ct_value6).
 * peer_nat_addr: 1 or 4 words. */
static __always_inline void
sy_ct_pair_follow_fam(int fam, struct sy_ct_value *ct, __u8 dir,
		      const void *peer_key, const __be32 *peer_nat_addr,
		      __be16 peer_nat_port, __u8 tcp_flags, __u64 now)
{
	struct sy_ct_value *peer;
	__u16 flags = ct->flags, add = 0;
	int rst_ok = 0;

	if (!sy_ct_pair_due(ct, dir, tcp_flags, now)) {
		/* The common case of a busy flow: refresh ct only. */
		ct->last_seen = now;
		if ((ct->tcp_flags | tcp_flags) != ct->tcp_flags)
			ct->tcp_flags |= tcp_flags;
		return;
	}

	peer = bpf_map_lookup_elem(sy_ct_map(fam), peer_key);

	/* Lean path for the client's segments other than FIN and RST when the
	 * peer is this flow's: the handshake ACK of every TCP flow takes it
	 * (and the periodic check of a busy flow's forward entry). Same result
	 * as the full path below, fewer branches. */
	if (dir == SY_CT_FORWARD && peer &&
	    !(tcp_flags & (SY_TCP_FIN | SY_TCP_RST)) &&
	    sy_ct_peer_matches_fam(fam, ct, peer, peer_nat_addr,
				   peer_nat_port)) {
		__u16 pflags = peer->flags;

		flags |= pflags & SY_CT_F_FLOW;
		if ((tcp_flags & SY_TCP_ACK) && (flags & SY_CT_F_SEEN_REPLY))
			flags |= SY_CT_F_ESTABLISHED;
		if ((flags & SY_CT_F_FIN_BOTH) == SY_CT_F_FIN_BOTH)
			flags |= SY_CT_F_CLOSING;
		if ((pflags | flags) != pflags)
			peer->flags = pflags | (flags & SY_CT_F_FLOW);
		ct->last_seen = now;
		if ((ct->tcp_flags | tcp_flags) != ct->tcp_flags)
			ct->tcp_flags |= tcp_flags;
		if (flags != ct->flags)
			ct->flags = flags;
		return;
	}

	/* A reply establishes the flow, except an RST (a refused SYN). */
	if (dir == SY_CT_REPLY && !(tcp_flags & SY_TCP_RST))
		add = SY_CT_F_SEEN_REPLY;

	if (!peer) {
		rst_ok = (flags & SY_CT_F_SEEN_REPLY) || dir == SY_CT_REPLY;
		add |= sy_ct_close_marks(flags | add, tcp_flags, dir, rst_ok);
		if (sy_ct_peer_create(fam, ct, peer_key,
				      (flags | add) & SY_CT_F_FLOW,
				      peer_nat_addr, peer_nat_port, now) == 0)
			sy_count(dir == SY_CT_FORWARD ?
					 SY_CNT_CT_REPLY_RESTORED :
					 SY_CNT_CT_FORWARD_RESTORED);
		else
			sy_count(SY_CNT_CT_RESTORE_FAILED);
	} else if (sy_ct_peer_matches_fam(fam, ct, peer, peer_nat_addr,
					  peer_nat_port)) {
		__u16 pflags = peer->flags;

		flags |= pflags & SY_CT_F_FLOW;
		rst_ok = (flags & SY_CT_F_SEEN_REPLY) || dir == SY_CT_REPLY;
		add |= sy_ct_close_marks(flags | add, tcp_flags, dir, rst_ok);
		if ((pflags | flags | add) != pflags)
			peer->flags = pflags | ((flags | add) & SY_CT_F_FLOW);
	} else {
		/* Another flow's entry: neither touched nor trusted. */
		sy_count(SY_CNT_CT_PAIR_MISMATCH);
		add |= sy_ct_close_marks(flags | add, tcp_flags, dir, 0);
	}
	if (tcp_flags & (SY_TCP_FIN | SY_TCP_RST))
		sy_ct_count_close(ct->flags, flags | add, tcp_flags, rst_ok);

	/* Refresh ct. Plain stores: the fields are advisory (GC, debugging),
	 * a lost race between CPUs is harmless; writes are skipped when
	 * nothing changes to keep the cache line clean. */
	ct->last_seen = now;
	if ((ct->tcp_flags | tcp_flags) != ct->tcp_flags)
		ct->tcp_flags |= tcp_flags;
	if ((flags | add) != ct->flags)
		ct->flags = flags | add;
}

/* IPv4 (sy_lb.h, sy_icmp.h). */
static __always_inline void sy_ct_pair_follow(struct sy_ct_value *ct,
					      __u8 dir,
					      const struct sy_ct_key *peer_key,
					      __be32 peer_nat_addr,
					      __be16 peer_nat_port,
					      __u8 tcp_flags, __u64 now)
{
	sy_ct_pair_follow_fam(SY_AF4, ct, dir, peer_key, &peer_nat_addr,
			      peer_nat_port, tcp_flags, now);
}

#endif /* SY_CT_PAIR_H */
