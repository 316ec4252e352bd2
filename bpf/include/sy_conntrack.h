/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Connection tracking for service flows. Each DNATed flow has two entries in
 * sy_conntrack: FORWARD keyed by the tuple as the client sent it (so later
 * packets keep their backend whatever happens to the Maglev table), and
 * REPLY keyed by the tuple the backend answers with (so its source can be
 * restored to the frontend). Timestamps are bpf_ktime_get_ns()
 * (CLOCK_MONOTONIC); userspace garbage collection must use the same clock.
 */
#ifndef SY_CONNTRACK_H
#define SY_CONNTRACK_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "sy_structs.h"
#include "sy_maps.h"
#include "sy_config.h"
#include "sy_parse.h"
#include "sy_jhash.h"
#include "sy_stats.h"

/* Keys are hashed bytewise: always build them fully, padding included. */
static __always_inline void sy_ct_key_fill(struct sy_ct_key *key, __be32 saddr,
					   __be32 daddr, __be16 sport,
					   __be16 dport, __u8 proto, __u8 dir)
{
	key->saddr = saddr;
	key->daddr = daddr;
	key->sport = sport;
	key->dport = dport;
	key->proto = proto;
	key->dir = dir;
	key->pad = 0;
}

static __always_inline int sy_ct_is_expired(const struct sy_ct_value *ct,
					    __u8 proto, __u64 now)
{
	return sy_ct_expired(proto, ct->flags, ct->last_seen, now);
}

/* A SYN (without ACK) on a flow whose FIN or RST was seen is a new
 * connection reusing the tuple: it starts over (new pick, fresh flags). */
static __always_inline int sy_ct_reopens(const struct sy_ct_value *ct,
					 __u8 tcp_flags)
{
	return (ct->flags & SY_CT_F_CLOSING) &&
	       (tcp_flags & (SY_TCP_SYN | SY_TCP_ACK)) == SY_TCP_SYN;
}

/* Create (or overwrite) both entries of a new flow. Failure to insert is not
 * fatal: the next packet simply selects again, which Maglev makes stable. */
static __always_inline void sy_ct_create(const struct sy_pkt *pkt,
					 __be32 be_addr, __be16 be_port,
					 __u32 backend_id, __u32 rev_nat_id,
					 __u64 now)
{
	struct sy_ct_value val = {};
	struct sy_ct_key key;

	val.last_seen = now;
	val.backend_id = backend_id;
	val.rev_nat_id = rev_nat_id;
	val.tcp_flags = pkt->tcp_flags;
	if (pkt->tcp_flags & (SY_TCP_FIN | SY_TCP_RST))
		val.flags = SY_CT_F_CLOSING;

	sy_ct_key_fill(&key, pkt->saddr, pkt->daddr, pkt->sport, pkt->dport,
		       pkt->proto, SY_CT_FORWARD);
	bpf_map_update_elem(&sy_conntrack, &key, &val, BPF_ANY);

	val.tcp_flags = 0;
	val.flags = 0;
	sy_ct_key_fill(&key, be_addr, pkt->saddr, be_port, pkt->sport,
		       pkt->proto, SY_CT_REPLY);
	bpf_map_update_elem(&sy_conntrack, &key, &val, BPF_ANY);
}

/* A NAT port candidate: the client's own port first when it lies in the
 * range (as Linux masquerading does), then ports hashed from the flow's
 * tuple. Deterministic: a flow whose entries were both lost (restart, LRU)
 * is given the same port again, so the backend sees the same connection. */
static __always_inline __be16 sy_snat_candidate(const struct sy_pkt *pkt,
						int i, __u16 min, __u16 max)
{
	__u16 cport = bpf_ntohs(pkt->sport);
	__u32 h;

	if (i == 0 && cport >= min && cport <= max)
		return pkt->sport;
	h = sy_flow_hash(pkt->saddr, pkt->daddr, pkt->sport, pkt->dport,
			 pkt->proto, SY_JHASH_INITVAL + i);
	return bpf_htons(min + h % ((__u32)max - min + 1));
}

/* Create both entries of a new flow whose source is NATed to nat_addr:port.
 * The port is chosen so that the reply key {backend, nat_addr, bport, port,
 * REPLY} is free: absent, expired, or the reply entry of a previous flow of
 * this very tuple (same client address and port, same frontend). Claiming it
 * is one insert with
 * BPF_NOEXIST, so two CPUs never get the same port. Returns 0 and the port
 * (network order) in *nat_port, or -1 when every candidate was taken. */
static __always_inline int sy_ct_create_snat(const struct sy_pkt *pkt,
					     __be32 be_addr, __be16 be_port,
					     __u32 backend_id,
					     __u32 rev_nat_id, __u64 now,
					     __be32 nat_addr,
					     __be16 *nat_port)
{
	struct sy_ct_value val = {};
	struct sy_ct_key key;
	__be16 port = 0;
	__u16 pmin, pmax;
	int found = 0;

	sy_snat_range(&pmin, &pmax);

	/* The reply entry: restores the client as destination. */
	val.last_seen = now;
	val.backend_id = backend_id;
	val.rev_nat_id = rev_nat_id;
	val.flags = SY_CT_F_SNAT;
	val.nat_addr = pkt->saddr;
	val.nat_port = pkt->sport;

	for (int i = 0; i <= SY_SNAT_TRIES; i++) {
		struct sy_ct_value *cur;

		port = sy_snat_candidate(pkt, i, pmin, pmax);
		sy_ct_key_fill(&key, be_addr, nat_addr, be_port, port,
			       pkt->proto, SY_CT_REPLY);
		cur = bpf_map_lookup_elem(&sy_conntrack, &key);
		if (cur) {
			/* Same client address, port and frontend (and, by
			 * the key, protocol and backend): the previous flow
			 * of this very tuple, which this one replaces. */
			if (!sy_ct_is_expired(cur, pkt->proto, now) &&
			    !((cur->flags & SY_CT_F_SNAT) &&
			      cur->nat_addr == pkt->saddr &&
			      cur->nat_port == pkt->sport &&
			      cur->rev_nat_id == rev_nat_id)) {
				sy_count(SY_CNT_SNAT_PORT_BUSY);
				continue;
			}
			if (bpf_map_update_elem(&sy_conntrack, &key, &val,
						BPF_EXIST) == 0) {
				found = 1;
				break;
			}
			continue;
		}
		if (bpf_map_update_elem(&sy_conntrack, &key, &val,
					BPF_NOEXIST) == 0) {
			found = 1;
			break;
		}
		sy_count(SY_CNT_SNAT_PORT_BUSY);
	}
	if (!found)
		return -1;

	/* The forward entry: the source the client's packets get. */
	val.tcp_flags = pkt->tcp_flags;
	val.flags = SY_CT_F_SNAT;
	if (pkt->tcp_flags & (SY_TCP_FIN | SY_TCP_RST))
		val.flags |= SY_CT_F_CLOSING;
	val.nat_addr = nat_addr;
	val.nat_port = port;
	sy_ct_key_fill(&key, pkt->saddr, pkt->daddr, pkt->sport, pkt->dport,
		       pkt->proto, SY_CT_FORWARD);
	bpf_map_update_elem(&sy_conntrack, &key, &val, BPF_ANY);
	*nat_port = port;
	return 0;
}

#endif /* SY_CONNTRACK_H */
