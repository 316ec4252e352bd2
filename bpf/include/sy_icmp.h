/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMP for translated flows, as the kernel's conntrack does it for
 * kube-proxy (RELATED packets, nf_nat_icmp_reply_translation()):
 *
 * 1. ICMP errors (destination unreachable, time exceeded, parameter
 *    problem) quoting a packet of a tracked flow are translated. The flow is
 *    found by the embedded IPv4 + TCP/UDP header (Katran routes ICMP errors
 *    the same way): the quoted packet left this node translated, so its
 *    reversed tuple is a conntrack key.
 *
 *    quoted = forward packet (client -> backend, after DNAT/SNAT); found by
 *    the REPLY key {backend, client|node, bport, cport|NAT port}:
 *      embedded  src -> client:cport, dst -> frontend:port
 *      outer     src -> frontend, dst -> client
 *      (the outer source becomes the frontend even when a router sent the
 *      error, as the kernel does: the client never learns the backend)
 *    quoted = reply (frontend -> client, after reverse NAT); found by the
 *    FORWARD key {client, frontend, cport, fport}:
 *      embedded  src -> backend:bport, dst -> the SNAT address:port (if any)
 *      outer     dst -> backend, src -> the SNAT address (SNATed flows only)
 *
 *    Checksums: the outer IPv4 header, the embedded IPv4 header and the
 *    ICMP checksum (over the whole message) stay exact, by RFC 1624
 *    incremental updates of every changed word; the embedded TCP/UDP
 *    checksum is updated the same way when it lies inside the quote (TCP
 *    quotes of 8 bytes do not carry it) and is non-zero, like the kernel's
 *    l4proto manip_pkt. The conntrack entries are not refreshed.
 *    An error whose embedded flow is unknown passes untouched (counted).
 *
 * 2. A DF packet that the datapath forwards itself (bpf_fib_lookup) and
 *    that is too big for the egress (BPF_FIB_LKUP_RET_FRAG_NEEDED) is
 *    answered with ICMP fragmentation needed (type 3 code 4, next-hop MTU
 *    from mtu_result) quoting the packet as its sender sent it (before any
 *    translation), so that the sender's socket matches it; the answer comes
 *    from the address the sender addressed and leaves by the arrival device.
 *    Rate limited per node (sy_ratelimit.h). Without DF: counted, and the
 *    packet goes where it went before this check (XDP: to tc; tc: to the
 *    stack, which fragments what it may route; see SY_CNT_TOO_BIG_NO_DF).
 *
 * None of this runs on the fast path: only for IPPROTO_ICMP packets, and
 * for packets whose forwarding lookup already failed.
 */
#ifndef SY_ICMP_H
#define SY_ICMP_H

#include <stddef.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sy_structs.h"
#include "sy_maps.h"
#include "sy_parse.h"
#include "sy_csum.h"
#include "sy_conntrack.h"
#include "sy_stats.h"
#include "sy_reject.h"
#include "sy_ratelimit.h"
#include "sy_lb.h"

#define SY_ICMP_T_TIME_EXCEEDED 11
#define SY_ICMP_T_PARAMETERPROB 12
#define SY_ICMP_C_FRAG_NEEDED   4

#define SY_ICMP_PASS  0 /* not an error of a tracked flow: untouched */
#define SY_ICMP_XLATE 1 /* translated (sy_icmp_err holds the new bytes) */

/* An ICMP error as the datapath reads and rewrites it: the outer addresses
 * with the outer header checksum, the ICMP header, the embedded IPv4 header
 * (first 20 bytes; options are neither read nor changed) and the first
 * bytes of the embedded TCP/UDP header. Offsets say where each part lives
 * in the packet. */
struct sy_icmp_err {
	/* outer IPv4 header, bytes 8..19 */
	__u8 ttl;
	__u8 protocol;
	__u16 check;
	__be32 saddr;
	__be32 daddr;
	/* ICMP header */
	__u8 type;
	__u8 code;
	__u16 icheck;
	__be32 rest;
	/* embedded IPv4 header, then the embedded ports */
	struct sy_ip4 ip;
	__be16 sport;
	__be16 dport;
	__u16 l4sum;    /* embedded TCP/UDP checksum, if l4sum_off */
	__u16 pad;
	__u32 l3_off;   /* outer IPv4 header */
	__u32 icmp_off;
	__u32 in_l4_off;
	__u32 l4sum_off; /* 0: the embedded L4 checksum is not rewritten */
};

/* ---- reading ------------------------------------------------------------ */

static __always_inline int sy_icmp_is_error(__u8 type)
{
	return type == SY_ICMP_DEST_UNREACH ||
	       type == SY_ICMP_T_TIME_EXCEEDED ||
	       type == SY_ICMP_T_PARAMETERPROB;
}

/* After the outer part and the ICMP header were loaded: is the embedded
 * header one we can match? Sets the offsets. Returns 0, or -1 (malformed:
 * counted by the caller). */
static __always_inline int sy_icmp_check_inner(struct sy_icmp_err *e,
					       __u32 len)
{
	__u32 ihl_len = (e->ip.ver_ihl & 0xf) * 4;

	if ((e->ip.ver_ihl >> 4) != 4 || ihl_len < 20)
		return -1;
	/* A later fragment quotes no ports. */
	if (e->ip.frag_off & bpf_htons(SY_IP_OFFSET))
		return -1;
	e->in_l4_off = e->icmp_off + 8 + ihl_len;
	/* RFC 792: the quote holds at least 8 bytes of the datagram. */
	if (e->in_l4_off + 8 > len)
		return -1;
	e->l4sum_off = 0;
	if (e->ip.protocol == IPPROTO_UDP)
		e->l4sum_off = e->in_l4_off + 6;
	else if (e->in_l4_off + 18 <= len)
		e->l4sum_off = e->in_l4_off + 16; /* whole TCP header quoted */
	return 0;
}

/* Loads an ICMP error from an skb or an XDP frame (load is
 * bpf_skb_load_bytes or bpf_xdp_load_bytes). Returns 1 when it is an error
 * about TCP/UDP that can be matched, 0 when it is no error (echo, ...) or
 * quotes another protocol, -1 when it is malformed. */
#define SY_ICMP_LOAD(ctx, load, pkt, e, len)                                    \
	({                                                                      \
		int __r = 0;                                                    \
		(e)->l3_off = (pkt)->l3_off;                                    \
		(e)->icmp_off = (pkt)->l4_off;                                  \
		if (load(ctx, (e)->l3_off + 8, &(e)->ttl, 12) < 0 ||            \
		    load(ctx, (e)->icmp_off, &(e)->type, 8) < 0)                \
			__r = -1;                                               \
		else if (!sy_icmp_is_error((e)->type))                          \
			__r = 0;                                                \
		else if (load(ctx, (e)->icmp_off + 8, &(e)->ip, 20) < 0)        \
			__r = -1;                                               \
		else if ((e)->ip.protocol != IPPROTO_TCP &&                     \
			 (e)->ip.protocol != IPPROTO_UDP)                       \
			__r = 0;                                                \
		else if (sy_icmp_check_inner(e, len) < 0 ||                     \
			 load(ctx, (e)->in_l4_off, &(e)->sport, 4) < 0)         \
			__r = -1;                                               \
		else if ((e)->l4sum_off &&                                      \
			 load(ctx, (e)->l4sum_off, &(e)->l4sum, 2) < 0)         \
			__r = -1;                                               \
		else {                                                          \
			if ((e)->ip.protocol == IPPROTO_UDP && !(e)->l4sum)     \
				(e)->l4sum_off = 0; /* no checksum: stays 0 */  \
			__r = 1;                                                \
		}                                                               \
		__r;                                                            \
	})

/* ---- the decision -------------------------------------------------------- */

/* Find the flow of the quoted packet and write the new addresses and ports
 * into e (checksums untouched yet). x describes the outer packet as the
 * flow's own translation would (reply, snat, new outer addresses, the
 * flow's ports) for the caller's forwarding decision. XDP
 * (hook SY_HOOK_XDP) only takes errors of SNATed flows, as it only takes
 * their packets; the rest is left to tc. */
static __always_inline int sy_icmp_decide(struct sy_icmp_err *e, int hook,
					  __u64 now, struct sy_xlate *x)
{
	__u8 proto = e->ip.protocol;
	struct sy_ct_value *ct;
	struct sy_ct_key key;
	__u32 id;
	__u8 snat;

	x->fe_id = 0;
	x->cnt = 0;
	/* Quoted forward packet: its reverse is the flow's REPLY key. */
	sy_ct_key_fill(&key, e->ip.daddr, e->ip.saddr, e->dport, e->sport,
		       proto, SY_CT_REPLY);
	ct = bpf_map_lookup_elem(&sy_conntrack, &key);
	if (ct && !sy_ct_is_expired(ct, proto, now)) {
		struct sy_revnat *rn;
		__be32 client;
		__be16 cport;

		snat = !!(ct->flags & SY_CT_F_SNAT);
		if (hook == SY_HOOK_XDP && !snat)
			return SY_ICMP_PASS;
		id = ct->rev_nat_id;
		client = snat ? ct->nat_addr : e->ip.saddr;
		cport = snat ? ct->nat_port : e->sport;
		rn = bpf_map_lookup_elem(&sy_revnat, &id);
		if (!rn)
			return SY_ICMP_PASS;
		e->ip.saddr = client;
		e->sport = cport;
		e->ip.daddr = rn->addr;
		e->dport = rn->port;
		e->saddr = rn->addr;
		e->daddr = client;
		x->reply = 1;
		x->snat = snat;
		x->saddr = rn->addr;
		x->sport = rn->port;
		x->daddr = client;
		x->dport = cport;
		x->fe_id = id;
		return SY_ICMP_XLATE;
	}

	/* Quoted reply: its reverse is the flow's FORWARD key. */
	key.dir = SY_CT_FORWARD;
	ct = bpf_map_lookup_elem(&sy_conntrack, &key);
	if (ct && !sy_ct_is_expired(ct, proto, now)) {
		struct sy_backend *be;

		snat = !!(ct->flags & SY_CT_F_SNAT);
		if (hook == SY_HOOK_XDP && !snat)
			return SY_ICMP_PASS;
		id = ct->backend_id;
		be = bpf_map_lookup_elem(&sy_backends, &id);
		if (!be)
			return SY_ICMP_PASS;
		e->ip.saddr = be->addr;
		e->sport = be->port;
		if (snat) {
			e->ip.daddr = ct->nat_addr;
			e->dport = ct->nat_port;
			e->saddr = ct->nat_addr;
		}
		e->daddr = be->addr;
		x->reply = 0;
		x->snat = snat;
		x->saddr = e->saddr;
		x->sport = e->dport;
		x->daddr = be->addr;
		x->dport = be->port;
		x->fe_id = ct->rev_nat_id;
		return SY_ICMP_XLATE;
	}
	return SY_ICMP_PASS;
}

/* The checksums of e after sy_icmp_decide(), from the old values o. */
static __always_inline void sy_icmp_csums(const struct sy_icmp_err *o,
					  struct sy_icmp_err *e)
{
	__u32 d;

	/* Outer IPv4 header. */
	d = sy_csum_add32(0, o->saddr, e->saddr);
	d = sy_csum_add32(d, o->daddr, e->daddr);
	e->check = sy_csum_apply(o->check, d);

	/* Embedded IPv4 header: its addresses. */
	d = sy_csum_add32(0, o->ip.saddr, e->ip.saddr);
	d = sy_csum_add32(d, o->ip.daddr, e->ip.daddr);
	e->ip.check = sy_csum_apply(o->ip.check, d);

	/* Embedded L4 checksum: pseudo-header addresses and the ports. */
	if (e->l4sum_off) {
		__u32 l = sy_csum_add32(d, o->sport | (__u32)o->dport << 16,
					e->sport | (__u32)e->dport << 16);

		e->l4sum = sy_csum_apply(o->l4sum, l);
		if (e->ip.protocol == IPPROTO_UDP)
			e->l4sum = sy_csum_udp(e->l4sum);
	}

	/* ICMP checksum: every changed word of the message. */
	d = sy_csum_add32(d, o->sport | (__u32)o->dport << 16,
			  e->sport | (__u32)e->dport << 16);
	d = sy_csum_add16(d, o->ip.check, e->ip.check);
	if (e->l4sum_off)
		d = sy_csum_add16(d, o->l4sum, e->l4sum);
	e->icheck = sy_csum_apply(o->icheck, d);
}

/* Write e back (store is bpf_skb_store_bytes or bpf_xdp_store_bytes; the
 * skb variant gets flags 0: every change is compensated by its checksum,
 * so the packet's sum, and skb->csum, stay the same). */
#define SY_ICMP_STORE(ctx, store, e, ...)                                        \
	({                                                                       \
		int __r = 0;                                                     \
		if (store(ctx, (e)->l3_off + 8, &(e)->ttl, 12, ##__VA_ARGS__) < 0 || \
		    store(ctx, (e)->icmp_off + 2, &(e)->icheck, 2, ##__VA_ARGS__) < 0 || \
		    store(ctx, (e)->icmp_off + 8, &(e)->ip, 20, ##__VA_ARGS__) < 0 || \
		    store(ctx, (e)->in_l4_off, &(e)->sport, 4, ##__VA_ARGS__) < 0) \
			__r = -1;                                                \
		else if ((e)->l4sum_off &&                                       \
			 store(ctx, (e)->l4sum_off, &(e)->l4sum, 2, ##__VA_ARGS__) < 0) \
			__r = -1;                                                \
		__r;                                                             \
	})

static __always_inline void sy_icmp_count(const struct sy_xlate *x)
{
	sy_count(x->reply ? SY_CNT_ICMP_ERR_REVNAT : SY_CNT_ICMP_ERR_DNAT);
}

/* tc: translate an ICMP error of a tracked flow in place. Returns
 * SY_ICMP_XLATE (x and pkt->proto = the embedded protocol describe the
 * result for sy_src_is_node()), SY_ICMP_PASS, or -1 (a store failed: the
 * packet must be dropped). */
static __always_inline int sy_icmp_tc(struct __sk_buff *skb,
				      struct sy_pkt *pkt, struct sy_xlate *x)
{
	struct sy_icmp_err e, o;
	int ret;

	ret = SY_ICMP_LOAD(skb, bpf_skb_load_bytes, pkt, &e, skb->len);
	if (ret <= 0) {
		if (ret < 0)
			sy_count(SY_CNT_ICMP_ERR_MALFORMED);
		return SY_ICMP_PASS;
	}
	o = e;
	if (sy_icmp_decide(&e, SY_HOOK_TC_INGRESS, bpf_ktime_get_ns(), x) !=
	    SY_ICMP_XLATE) {
		sy_count(SY_CNT_ICMP_ERR_UNTRACKED);
		return SY_ICMP_PASS;
	}
	sy_icmp_csums(&o, &e);
	if (SY_ICMP_STORE(skb, bpf_skb_store_bytes, &e, 0) < 0)
		return -1;
	sy_icmp_count(x);
	pkt->proto = o.ip.protocol;
	return SY_ICMP_XLATE;
}

/* XDP: read and decide only (the caller looks the route up first and
 * rewrites with sy_icmp_xdp_store() only if it can forward). */
static __always_inline int sy_icmp_xdp(struct xdp_md *ctx,
				       const struct sy_pkt *pkt,
				       struct sy_icmp_err *e,
				       struct sy_xlate *x)
{
	struct sy_icmp_err o;
	__u32 len = ctx->data_end - ctx->data;
	int ret;

	/* What XDP passes, tc sees again: tc counts the errors it leaves. */
	ret = SY_ICMP_LOAD(ctx, bpf_xdp_load_bytes, pkt, e, len);
	if (ret <= 0)
		return SY_ICMP_PASS;
	o = *e;
	if (sy_icmp_decide(e, SY_HOOK_XDP, bpf_ktime_get_ns(), x) !=
	    SY_ICMP_XLATE)
		return SY_ICMP_PASS;
	sy_icmp_csums(&o, e);
	return SY_ICMP_XLATE;
}

static __always_inline int sy_icmp_xdp_store(struct xdp_md *ctx,
					     struct sy_icmp_err *e,
					     const struct sy_xlate *x)
{
	if (SY_ICMP_STORE(ctx, bpf_xdp_store_bytes, e) < 0)
		return -1;
	sy_icmp_count(x);
	return 0;
}

/* ---- fragmentation needed ------------------------------------------------ */

/* The answer: Ethernet (MACs swapped), IPv4, ICMP header; the quote (the
 * IPv4 header, then 8 bytes of L4) follows in the packet. */
struct sy_icmp_too_big {
	struct sy_eth_pad eth;
	struct sy_ip4 ip;
	__u8 type;
	__u8 code;
	__u16 check;
	__be16 unused;
	__be16 mtu;
	__u8 qip[60];  /* quoted IPv4 header (zero after its length) */
	__u8 ql4[8];   /* quoted first 8 bytes of L4 */
};

/* The L3 length of one packet as it will leave: len (the packet's), or
 * for a GSO skb one segment (headers + gso_size), as the kernel's
 * ip_exceeds_mtu() and ip6_pkt_too_big() judge it. Either family. */
static __always_inline __u16 sy_fwd_seg_len(struct __sk_buff *skb,
					    __u32 l3_off, __u32 l4_off,
					    __u8 proto, __u16 len)
{
	__u32 gso = skb->gso_size, hdrs = l4_off - l3_off;
	__u8 doff;

	if (!gso)
		return len;
	if (proto == IPPROTO_TCP) {
		if (bpf_skb_load_bytes(skb, l4_off + 12, &doff, 1) < 0)
			return len;
		hdrs += (doff >> 4) * 4;
	} else {
		hdrs += 8;
	}
	return hdrs + gso;
}

/* IPv4: sy_fwd_seg_len() of the packet (tot_len from its header). */
static __always_inline __u16 sy_icmp_fwd_len(struct __sk_buff *skb,
					     const struct sy_pkt *pkt,
					     __be16 tot_len)
{
	return sy_fwd_seg_len(skb, pkt->l3_off, pkt->l4_off, pkt->proto,
			      bpf_ntohs(tot_len));
}

/* Is an answer allowed? Counts and says no when the packet has no DF (the
 * caller forwards it as it is) or the rate limit is reached (the caller
 * drops it). Returns 1 (answer), 0 (no DF), -1 (rate limited). */
static __always_inline int sy_icmp_too_big_allowed(__be16 frag_off,
						   const struct sy_pkt *pkt)
{
	if (!(frag_off & bpf_htons(SY_IP_DF)) ||
	    !sy_unicast_src(pkt->saddr)) {
		sy_count(SY_CNT_TOO_BIG_NO_DF);
		return 0;
	}
	if (!sy_rl_take(SY_RL_FRAG_NEEDED, bpf_ktime_get_ns())) {
		sy_count(SY_CNT_FRAG_NEEDED_RATE_LIMITED);
		return -1;
	}
	return 1;
}

/* Fill the answer's headers and checksums; f->qip and f->ql4 hold the
 * original packet's header and first L4 bytes. Returns the frame length. */
static __always_inline __u32 sy_icmp_too_big_fill(struct sy_icmp_too_big *f,
						  const struct sy_pkt *pkt,
						  __u32 ihl_len, __u16 mtu)
{
	__u32 quote_len = ihl_len + 8;

	sy_reject_ip(&f->ip, SY_ICMP_TOS, 20 + 8 + quote_len, 0,
		     IPPROTO_ICMP, pkt->daddr, pkt->saddr);
	f->type = SY_ICMP_DEST_UNREACH;
	f->code = SY_ICMP_C_FRAG_NEEDED;
	f->unused = 0;
	f->mtu = bpf_htons(mtu);
	f->check = 0;
	/* qip is zero after the header and ql4 follows it in the packet at an
	 * even offset, so the sum over both buffers is the sum of the quote. */
	f->check = sy_csum_finish(sy_csum_words(
		(const __u16 *)&f->type, (8 + 60 + 8) / 2, 0));
	return 14 + 20 + 8 + quote_len;
}

/* tc: the packet was translated already (pkt holds what it was); quote it
 * as it was sent. Returns TC_ACT_REDIRECT (answer sent), TC_ACT_SHOT, or
 * -1 when no answer is due (no DF: the caller goes on). */
static __always_inline int sy_icmp_too_big_tc(struct __sk_buff *skb,
					      const struct sy_pkt *pkt,
					      const struct sy_xlate *x,
					      __be16 frag_off, __u16 mtu)
{
	struct sy_icmp_too_big f = {};
	__u32 ihl_len = pkt->l4_off - pkt->l3_off, len;
	__be32 *qaddr;
	__be16 *qport, *qsum;
	__u16 *qcheck;
	__u32 d;
	int ok;

	if (pkt->proto != IPPROTO_TCP && pkt->proto != IPPROTO_UDP)
		return -1; /* never an answer to an ICMP error */
	ok = sy_icmp_too_big_allowed(frag_off, pkt);
	if (ok < 0)
		return TC_ACT_SHOT;
	if (!ok)
		return -1;
	if (ihl_len < 20 || ihl_len > 60)
		return TC_ACT_SHOT;
	if (bpf_skb_load_bytes(skb, pkt->l3_off, f.qip, ihl_len) < 0 ||
	    bpf_skb_load_bytes(skb, pkt->l4_off, f.ql4, 8) < 0 ||
	    sy_reject_eth(skb, &f.eth) < 0)
		return TC_ACT_SHOT;

	/* Undo the translation in the quote: addresses (and the header
	 * checksum), ports, and the UDP checksum if it is there. */
	qaddr = (__be32 *)(f.qip + 12);
	qcheck = (__u16 *)(f.qip + 10);
	d = sy_csum_add32(0, qaddr[0], pkt->saddr);
	d = sy_csum_add32(d, qaddr[1], pkt->daddr);
	*qcheck = sy_csum_apply(*qcheck, d);
	qaddr[0] = pkt->saddr;
	qaddr[1] = pkt->daddr;
	qport = (__be16 *)f.ql4;
	qsum = (__be16 *)(f.ql4 + 6);
	if (pkt->proto == IPPROTO_UDP && *qsum) {
		d = sy_csum_add16(d, qport[0], pkt->sport);
		d = sy_csum_add16(d, qport[1], pkt->dport);
		*qsum = sy_csum_udp(sy_csum_apply(*qsum, d));
	}
	qport[0] = pkt->sport;
	qport[1] = pkt->dport;

	len = sy_icmp_too_big_fill(&f, pkt, ihl_len, mtu);
	if (bpf_skb_change_tail(skb, len, 0) < 0 ||
	    bpf_skb_store_bytes(skb, 0, (const __u8 *)&f + 2, 14 + 20 + 8,
				BPF_F_RECOMPUTE_CSUM) < 0 ||
	    bpf_skb_store_bytes(skb, 14 + 20 + 8, f.qip, ihl_len,
				BPF_F_RECOMPUTE_CSUM) < 0 ||
	    bpf_skb_store_bytes(skb, 14 + 20 + 8 + ihl_len, f.ql4, 8,
				BPF_F_RECOMPUTE_CSUM) < 0)
		return TC_ACT_SHOT;
	sy_count(SY_CNT_FRAG_NEEDED_SENT);
	return bpf_redirect(skb->ifindex, 0);
}

/* XDP: the packet is untouched (XDP rewrites only after a successful
 * lookup). Returns XDP_TX (answer written over the frame), XDP_DROP (rate
 * limited or broken), or XDP_PASS (no DF, or XDP may not send back out of
 * this device: tc sees the packet and decides again). */
static __always_inline int sy_icmp_too_big_xdp(struct xdp_md *ctx,
					       const struct sy_pkt *pkt,
					       __u16 mtu, int tx_disabled)
{
	struct sy_icmp_too_big f = {};
	__u32 ihl_len = pkt->l4_off - pkt->l3_off, len, old_len;
	__be16 frag_off;
	__u8 macs[12];
	int ok;

	if (tx_disabled)
		return XDP_PASS;
	if (bpf_xdp_load_bytes(ctx, pkt->l3_off + 6, &frag_off, 2) < 0)
		return XDP_PASS;
	ok = sy_icmp_too_big_allowed(frag_off, pkt);
	if (ok < 0)
		return XDP_DROP;
	if (!ok)
		return XDP_PASS;
	if (ihl_len < 20 || ihl_len > 60)
		return XDP_DROP;
	if (bpf_xdp_load_bytes(ctx, pkt->l3_off, f.qip, ihl_len) < 0 ||
	    bpf_xdp_load_bytes(ctx, pkt->l4_off, f.ql4, 8) < 0 ||
	    bpf_xdp_load_bytes(ctx, 0, macs, 12) < 0)
		return XDP_DROP;
	sy_eth_answer(&f.eth, macs, bpf_htons(ETH_P_IP));

	len = sy_icmp_too_big_fill(&f, pkt, ihl_len, mtu);
	old_len = ctx->data_end - ctx->data;
	if (len > old_len ||
	    bpf_xdp_adjust_tail(ctx, (int)len - (int)old_len) < 0 ||
	    bpf_xdp_store_bytes(ctx, 0, (__u8 *)&f + 2, 14 + 20 + 8) < 0 ||
	    bpf_xdp_store_bytes(ctx, 14 + 20 + 8, f.qip, ihl_len) < 0 ||
	    bpf_xdp_store_bytes(ctx, 14 + 20 + 8 + ihl_len, f.ql4, 8) < 0)
		return XDP_DROP;
	sy_count(SY_CNT_FRAG_NEEDED_SENT);
	return XDP_TX;
}

#endif /* SY_ICMP_H */
