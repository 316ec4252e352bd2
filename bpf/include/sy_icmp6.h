/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMPv6 for translated IPv6 flows (sy_icmp.h for IPv4), as the kernel's
 * conntrack does it for kube-proxy (nf_nat_icmpv6_reply_translation()):
 *
 * 1. ICMPv6 errors (destination unreachable, packet too big, time
 *    exceeded, parameter problem: types 1-4) quoting a packet of a tracked
 *    flow are translated, found by the embedded IPv6 + TCP/UDP header
 *    (extension headers in the quote are walked; a quoted later fragment
 *    has no ports and is not matched). The same two cases as IPv4:
 *
 *    quoted = forward packet (client -> backend, after DNAT/SNAT); found by
 *    the REPLY key {backend, client|node, bport, cport|NAT port}:
 *      embedded  src -> client:cport, dst -> frontend:port
 *      outer     src -> frontend, dst -> client
 *    quoted = reply (frontend -> client, after reverse NAT); found by the
 *    FORWARD key {client, frontend, cport, fport}:
 *      embedded  src -> backend:bport, dst -> the SNAT address:port (if any)
 *      outer     dst -> backend, src -> the SNAT address (SNATed flows only)
 *
 *    The rest of the ICMPv6 header (the MTU of a packet too big, the
 *    pointer of a parameter problem) is kept. Checksums: the embedded
 *    TCP/UDP checksum (when quoted and non-zero) covers the embedded
 *    pseudo-header and ports; the ICMPv6 checksum covers the OUTER
 *    pseudo-header (RFC 4443 2.3) and the whole message, so every change
 *    (outer addresses, embedded addresses, ports, embedded checksum) goes
 *    into its RFC 1624 update. IPv6 has no header checksum. The packet's
 *    byte sum does not change (each change is compensated by a checksum
 *    in the packet), so skb->csum stays right with flags 0.
 *
 * 2. A packet that the datapath forwards itself and that is too big for
 *    the egress device (bpf_fib_lookup() says BPF_FIB_LKUP_RET_FRAG_NEEDED)
 *    is answered with ICMPv6 packet too big (type 2 code 0, RFC 4443 3.2)
 *    carrying the egress MTU and quoting the packet as its sender sent it
 *    (before any translation, so that the sender's socket matches it), as
 *    much as fits in 1280 bytes. IPv6 routers never fragment (RFC 8200 5):
 *    every too-big packet gets the answer; rate limited (SY_RL_FRAG_NEEDED,
 *    the bucket of IPv4's fragmentation needed).
 *
 * The interfaces take offsets and addresses (l3_off: the outer IPv6
 * header; l4_off: the ICMPv6 or TCP/UDP header after the extension
 * headers, as sy_parse6.h finds them) and describe a translated error's
 * flow in a struct sy_xlate6 (sy_lb6.h), for the caller's forwarding
 * decision (sy_hooks6.h). None of this runs on the fast path.
 */
#ifndef SY_ICMP6_H
#define SY_ICMP6_H

#include <stddef.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sy_structs.h"
#include "sy_maps.h"
#include "sy_csum.h"
#include "sy_stats.h"
#include "sy_ratelimit.h"
#include "sy_reject6.h"
#include "sy_addr.h"
#include "sy_parse6.h"
#include "sy_conntrack6.h"
#include "sy_lb6.h"

#define SY_ICMP6_PASS  0 /* not an error of a tracked flow: untouched */
#define SY_ICMP6_XLATE 1 /* translated */

/* At most this many extension headers are walked in a quote. */
#define SY_ICMP6_EXT_MAX 4

/* An ICMPv6 error as read from the packet: outer addresses, ICMPv6 header,
 * embedded IPv6 header (first 40 bytes), embedded ports and L4 checksum. */
struct sy_icmp6_err {
	__be32 saddr[4];  /* outer, at l3_off + 8 */
	__be32 daddr[4];
	__u8 type;        /* ICMPv6 header */
	__u8 code;
	__u16 icheck;
	__be32 rest;
	struct sy_ip6 ip; /* embedded IPv6 header */
	__be16 sport;     /* embedded L4 ports */
	__be16 dport;
	__u16 l4sum;      /* embedded TCP/UDP checksum, if l4sum_off */
	__u8 proto;       /* embedded upper-layer protocol */
	__u8 pad;
	__u32 l3_off;
	__u32 icmp_off;
	__u32 in_l4_off;
	__u32 l4sum_off;  /* 0: the embedded L4 checksum is not rewritten */
};

static __always_inline int sy_icmp6_is_error(__u8 type)
{
	return type >= SY_ICMP6_DEST_UNREACH && type <= SY_ICMP6_PARAMPROB;
}

/* Walk the quote's extension headers from the embedded IPv6 header at
 * off. Returns 0 with e->proto and e->in_l4_off set, 1 when the quote
 * holds no TCP/UDP header to match (another protocol), -1 if malformed (a
 * quoted later fragment, or too many headers). */
#define SY_ICMP6_WALK(ctx, load, e, off)                                      \
	({                                                                    \
		int __r = 1;                                                  \
		__u8 __nh = (e)->ip.nexthdr, __x[2];                          \
		__u32 __o = (off) + SY_IP6_HDR_LEN;                           \
		__be16 __fo;                                                  \
		for (int __i = 0; __i <= SY_ICMP6_EXT_MAX; __i++) {             \
			if (__nh == IPPROTO_TCP || __nh == IPPROTO_UDP) {     \
				(e)->proto = __nh;                            \
				(e)->in_l4_off = __o;                         \
				__r = 0;                                      \
				break;                                        \
			}                                                     \
			if (__i == SY_ICMP6_EXT_MAX) {                          \
				__r = -1;                                     \
				break;                                        \
			}                                                     \
			if (__nh != SY_NEXTHDR_HOP && __nh != SY_NEXTHDR_ROUTING && \
			    __nh != SY_NEXTHDR_DEST && __nh != SY_NEXTHDR_FRAGMENT) { \
				__r = 1;                                      \
				break;                                        \
			}                                                     \
			if (load(ctx, __o, __x, 2) < 0) {                     \
				__r = -1;                                     \
				break;                                        \
			}                                                     \
			if (__nh == SY_NEXTHDR_FRAGMENT) {                         \
				if (load(ctx, __o + 2, &__fo, 2) < 0 ||       \
				    (__fo & bpf_htons(0xfff8))) {             \
					__r = -1;                             \
					break;                                \
				}                                             \
				__o += 8;                                     \
			} else {                                              \
				__o += ((__u32)__x[1] + 1) * 8;               \
			}                                                     \
			__nh = __x[0];                                        \
		}                                                             \
		__r;                                                          \
	})

/* Loads an ICMPv6 error at l3_off/icmp_off from an skb or an XDP frame
 * (load: bpf_skb_load_bytes or bpf_xdp_load_bytes; len: the packet
 * length). Returns 1 when it is an error about TCP/UDP that can be
 * matched, 0 when it is no error (echo, ND, ...) or quotes another
 * protocol, -1 when it is malformed. */
#define SY_ICMP6_LOAD(ctx, load, e, l3, icmp, len)                            \
	({                                                                    \
		int __r = 0, __w;                                             \
		(e)->l3_off = (l3);                                           \
		(e)->icmp_off = (icmp);                                       \
		(e)->l4sum_off = 0;                                           \
		if (load(ctx, (e)->l3_off + 8, (e)->saddr, 32) < 0 ||         \
		    load(ctx, (e)->icmp_off, &(e)->type, 8) < 0)              \
			__r = -1;                                             \
		else if (!sy_icmp6_is_error((e)->type))                       \
			__r = 0;                                              \
		else if (load(ctx, (e)->icmp_off + 8, &(e)->ip, 40) < 0 ||    \
			 (bpf_ntohl((e)->ip.vtc_flow) >> 28) != 6)            \
			__r = -1;                                             \
		else if ((__w = SY_ICMP6_WALK(ctx, load, e,                   \
					      (e)->icmp_off + 8)) != 0)       \
			__r = __w < 0 ? -1 : 0;                               \
		else if ((e)->in_l4_off + 8 > (len) ||                        \
			 load(ctx, (e)->in_l4_off, &(e)->sport, 4) < 0)       \
			__r = -1; /* RFC 4443: quotes that much at least */   \
		else {                                                        \
			if ((e)->proto == IPPROTO_UDP)                        \
				(e)->l4sum_off = (e)->in_l4_off + 6;          \
			else if ((e)->in_l4_off + 18 <= (len))                \
				(e)->l4sum_off = (e)->in_l4_off + 16;         \
			if ((e)->l4sum_off &&                                 \
			    load(ctx, (e)->l4sum_off, &(e)->l4sum, 2) < 0)    \
				__r = -1;                                     \
			else {                                                \
				if (!(e)->l4sum)                              \
					(e)->l4sum_off = 0; /* none: stays */ \
				__r = 1;                                      \
			}                                                     \
		}                                                             \
		__r;                                                          \
	})

/* dst = src (16 bytes), the change added to diff d. */
static __always_inline __u32 sy_addr6_set(__u32 d, __be32 *dst,
					  const __be32 *src)
{
#pragma clang loop unroll(full)
	for (int i = 0; i < 4; i++) {
		d = sy_csum_add32(d, dst[i], src[i]);
		dst[i] = src[i];
	}
	return d;
}

/* Find the flow of the quoted packet and rewrite e, checksums included.
 * XDP (xdp_only_snat) only takes errors of SNATed flows, as it only takes
 * their packets; the rest is left to tc. */
static __always_inline int sy_icmp6_decide(struct sy_icmp6_err *e,
					   int xdp_only_snat, __u64 now,
					   struct sy_xlate6 *f)
{
	struct sy_ct_value6 *ct;
	struct sy_ct_key6 key;
	__u32 d_in = 0, d_out = 0, id, l4;
	__be16 old_sport = e->sport, old_dport = e->dport;
	__u16 old_l4sum = e->l4sum;
	__u8 snat;

	f->cnt = 0;
	/* Quoted forward packet: its reverse is the flow's REPLY key. */
	sy_ct_key6_fill(&key, e->ip.daddr, e->ip.saddr, e->dport, e->sport,
		      e->proto, SY_CT_REPLY);
	ct = bpf_map_lookup_elem(&sy_conntrack6, &key);
	if (ct && !sy_ct_expired(e->proto, ct->flags, ct->last_seen, now)) {
		struct sy_revnat6 *rn;
		__be32 client[4];
		__be16 cport;

		snat = !!(ct->flags & SY_CT_F_SNAT);
		if (xdp_only_snat && !snat)
			return SY_ICMP6_PASS;
		id = ct->rev_nat_id;
		rn = bpf_map_lookup_elem(&sy_revnat6, &id);
		if (!rn)
			return SY_ICMP6_PASS;
		__builtin_memcpy(client, snat ? ct->nat_addr : e->ip.saddr, 16);
		cport = snat ? ct->nat_port : e->sport;
		d_in = sy_addr6_set(d_in, e->ip.saddr, client);
		d_in = sy_addr6_set(d_in, e->ip.daddr, rn->addr);
		e->sport = cport;
		e->dport = rn->port;
		d_out = sy_addr6_set(d_out, e->saddr, rn->addr);
		d_out = sy_addr6_set(d_out, e->daddr, client);
		f->reply = 1;
		f->snat = snat;
		f->sport = rn->port;
		f->dport = cport;
		f->fe_id = id;
	} else {
		struct sy_backend6 *be;

		/* Quoted reply: its reverse is the flow's FORWARD key. */
		key.dir = SY_CT_FORWARD;
		ct = bpf_map_lookup_elem(&sy_conntrack6, &key);
		if (!ct || sy_ct_expired(e->proto, ct->flags, ct->last_seen, now))
			return SY_ICMP6_PASS;
		snat = !!(ct->flags & SY_CT_F_SNAT);
		if (xdp_only_snat && !snat)
			return SY_ICMP6_PASS;
		id = ct->backend_id;
		be = bpf_map_lookup_elem(&sy_backends6, &id);
		if (!be)
			return SY_ICMP6_PASS;
		d_in = sy_addr6_set(d_in, e->ip.saddr, be->addr);
		e->sport = be->port;
		if (snat) {
			d_in = sy_addr6_set(d_in, e->ip.daddr, ct->nat_addr);
			e->dport = ct->nat_port;
			d_out = sy_addr6_set(d_out, e->saddr, ct->nat_addr);
		}
		d_out = sy_addr6_set(d_out, e->daddr, be->addr);
		f->reply = 0;
		f->snat = snat;
		f->sport = e->dport;
		f->dport = be->port;
		f->fe_id = ct->rev_nat_id;
	}
	__builtin_memcpy(f->saddr, e->saddr, 16);
	__builtin_memcpy(f->daddr, e->daddr, 16);

	/* Embedded addresses and ports: the embedded L4 checksum (its
	 * pseudo-header holds the embedded addresses) and the ICMPv6 one. */
	d_in = sy_csum_add32(d_in, old_sport | (__u32)old_dport << 16,
			     e->sport | (__u32)e->dport << 16);
	l4 = sy_csum_fold(d_in);
	if (e->l4sum_off) {
		e->l4sum = sy_csum_apply(old_l4sum, l4);
		if (e->proto == IPPROTO_UDP)
			e->l4sum = sy_csum_udp(e->l4sum);
		l4 = sy_csum_add16(l4, old_l4sum, e->l4sum);
	}
	/* ICMPv6: outer pseudo-header addresses + every changed word. */
	e->icheck = sy_csum_apply(e->icheck, sy_csum_fold(d_out) + l4);
	return SY_ICMP6_XLATE;
}

/* Write e back (store: bpf_skb_store_bytes or bpf_xdp_store_bytes; the
 * skb variant gets flags 0: the packet's sum does not change). */
#define SY_ICMP6_STORE(ctx, store, e, ...)                                     \
	({                                                                     \
		int __r = 0;                                                   \
		if (store(ctx, (e)->l3_off + 8, (e)->saddr, 32, ##__VA_ARGS__) < 0 || \
		    store(ctx, (e)->icmp_off + 2, &(e)->icheck, 2, ##__VA_ARGS__) < 0 || \
		    store(ctx, (e)->icmp_off + 8 + 8, (e)->ip.saddr, 32, ##__VA_ARGS__) < 0 || \
		    store(ctx, (e)->in_l4_off, &(e)->sport, 4, ##__VA_ARGS__) < 0) \
			__r = -1;                                              \
		else if ((e)->l4sum_off &&                                     \
			 store(ctx, (e)->l4sum_off, &(e)->l4sum, 2, ##__VA_ARGS__) < 0) \
			__r = -1;                                              \
		__r;                                                           \
	})

static __always_inline void sy_icmp6_count(const struct sy_xlate6 *f)
{
	sy_count(f->reply ? SY_CNT_ICMP_ERR_REVNAT : SY_CNT_ICMP_ERR_DNAT);
}

/* tc: translate the ICMPv6 error at l3_off/icmp_off in place. Returns
 * SY_ICMP6_XLATE (f describes the result as the flow's own translation
 * would, *in_proto is the embedded protocol), SY_ICMP6_PASS (untouched),
 * or -1 (a store failed: drop the packet). */
static __always_inline int sy_icmp6_tc(struct __sk_buff *skb, __u32 l3_off,
				       __u32 icmp_off, struct sy_xlate6 *f,
				       __u8 *in_proto)
{
	struct sy_icmp6_err e;
	int ret;

	ret = SY_ICMP6_LOAD(skb, bpf_skb_load_bytes, &e, l3_off, icmp_off,
			    skb->len);
	if (ret <= 0) {
		if (ret < 0)
			sy_count(SY_CNT_ICMP_ERR_MALFORMED);
		return SY_ICMP6_PASS;
	}
	if (sy_icmp6_decide(&e, 0, bpf_ktime_get_ns(), f) != SY_ICMP6_XLATE) {
		sy_count(SY_CNT_ICMP_ERR_UNTRACKED);
		return SY_ICMP6_PASS;
	}
	if (SY_ICMP6_STORE(skb, bpf_skb_store_bytes, &e, 0) < 0)
		return -1;
	sy_icmp6_count(f);
	*in_proto = e.proto;
	return SY_ICMP6_XLATE;
}

/* XDP: read and decide only (errors of SNATed flows); the caller looks the
 * route up first and writes e with sy_icmp6_xdp_store() only if it can
 * forward. What XDP passes, tc sees again (and counts). */
static __always_inline int sy_icmp6_xdp(struct xdp_md *ctx, __u32 l3_off,
					__u32 icmp_off, struct sy_icmp6_err *e,
					struct sy_xlate6 *f)
{
	__u32 len = ctx->data_end - ctx->data;

	if (SY_ICMP6_LOAD(ctx, bpf_xdp_load_bytes, e, l3_off, icmp_off, len) <= 0)
		return SY_ICMP6_PASS;
	return sy_icmp6_decide(e, 1, bpf_ktime_get_ns(), f);
}

static __always_inline int sy_icmp6_xdp_store(struct xdp_md *ctx,
					      struct sy_icmp6_err *e,
					      const struct sy_xlate6 *f)
{
	if (SY_ICMP6_STORE(ctx, bpf_xdp_store_bytes, e) < 0)
		return -1;
	sy_icmp6_count(f);
	return 0;
}

/* ---- packet too big ------------------------------------------------------ */

/* The tuple of a packet as its sender sent it (before any translation). */
struct sy_tuple6 {
	__be32 saddr[4];
	__be32 daddr[4];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 no_l4;      /* a later fragment: no L4 header to restore */
	__u8 pad[2];
};

/* Is an answer allowed? Returns 1 (answer), 0 (no answer is due: not
 * TCP/UDP, or a non-unicast source; the caller goes on as before this
 * check), -1 (rate limited: the caller drops). */
static __always_inline int sy_icmp6_too_big_allowed(const struct sy_tuple6 *o)
{
	if (o->proto != IPPROTO_TCP && o->proto != IPPROTO_UDP)
		return 0; /* never an answer to an ICMPv6 error */
	if (!sy_unicast_src6(o->saddr)) {
		sy_count(SY_CNT_TOO_BIG_NO_DF);
		return 0;
	}
	if (!sy_rl_take(SY_RL_FRAG_NEEDED, bpf_ktime_get_ns())) {
		sy_count(SY_CNT_FRAG_NEEDED_RATE_LIMITED);
		return -1;
	}
	return 1;
}

static __always_inline void sy_icmp6_too_big_hdrs(struct sy_icmp6_hdrs *h,
						  const __u8 *macs,
						  const struct sy_tuple6 *o,
						  __u32 mtu)
{
	sy_eth_answer(&h->eth, macs, bpf_htons(ETH_P_IPV6));
	/* From the address the sender addressed, to the sender. */
	sy_ip6_answer(&h->ip, 0, IPPROTO_ICMPV6, o->daddr, o->saddr);
	h->type = SY_ICMP6_PKT_TOO_BIG;
	h->code = 0;
	h->data = bpf_htonl(mtu);
}

/* tc: the packet at l3_off (TCP/UDP at l4_off) was translated already; o
 * is what it was. Answers with packet too big for mtu, quoting the packet
 * with its addresses, ports and L4 checksum as sent. Returns
 * TC_ACT_REDIRECT (answer sent), TC_ACT_SHOT, or -1 (no answer is due:
 * the caller goes on). */
static __always_inline int sy_icmp6_too_big_tc(struct __sk_buff *skb,
					       __u32 l3_off, __u32 l4_off,
					       const struct sy_tuple6 *o,
					       __u32 mtu)
{
	struct sy_icmp6_hdrs h = {};
	__u32 d = 0, q_l4 = l4_off - l3_off, sum_off, w;
	__be32 ports, old_ports;
	__u8 macs[12];
	__u16 l4sum;
	int ok, qlen;

	ok = sy_icmp6_too_big_allowed(o);
	if (ok < 0)
		return TC_ACT_SHOT;
	if (!ok)
		return -1;
	if (bpf_skb_load_bytes(skb, 0, macs, 12) < 0)
		return TC_ACT_SHOT;
	sy_icmp6_too_big_hdrs(&h, macs, o, mtu);
	qlen = sy_icmp6_build_skb(skb, &h, l3_off);
	if (qlen < 0)
		return TC_ACT_SHOT;
	/* The answer is in the packet with a checksum over the translated
	 * quote: undo the translation in the quote (addresses, ports, the
	 * L4 checksum if quoted and used), word by word to keep the stack
	 * small, and update both checksums. */
#pragma clang loop unroll(full)
	for (int i = 0; i < 8; i++) {
		if (bpf_skb_load_bytes(skb, SY_ICMP6_HDRS_LEN + 8 + i * 4, &w,
				       4) < 0)
			return TC_ACT_SHOT;
		d = sy_csum_add32(d, w, i < 4 ? o->saddr[i] : o->daddr[i - 4]);
	}
	d = sy_csum_fold(d);
	if (o->no_l4) /* a later fragment: addresses only */
		goto addrs;
	if (bpf_skb_load_bytes(skb, SY_ICMP6_HDRS_LEN + q_l4, &old_ports, 4) < 0)
		return TC_ACT_SHOT;
	ports = o->sport | (__u32)o->dport << 16;
	d = sy_csum_fold(sy_csum_add32(d, old_ports, ports));
	if (bpf_skb_store_bytes(skb, SY_ICMP6_HDRS_LEN + q_l4, &ports, 4, 0) < 0)
		return TC_ACT_SHOT;
	sum_off = SY_ICMP6_HDRS_LEN + q_l4 + (o->proto == IPPROTO_TCP ? 16 : 6);
	if (sum_off + 2 <= SY_ICMP6_HDRS_LEN + (__u32)qlen) {
		__u16 n;

		if (bpf_skb_load_bytes(skb, sum_off, &l4sum, 2) < 0)
			return TC_ACT_SHOT;
		if (!(o->proto == IPPROTO_UDP && !l4sum)) {
			n = sy_csum_apply(l4sum, d);
			if (o->proto == IPPROTO_UDP)
				n = sy_csum_udp(n);
			d = sy_csum_add16(d, l4sum, n);
			if (bpf_skb_store_bytes(skb, sum_off, &n, 2, 0) < 0)
				return TC_ACT_SHOT;
		}
	}
addrs:
	h.check = sy_csum_apply(h.check, d);
	if (bpf_skb_store_bytes(skb, SY_ICMP6_HDRS_LEN + 8, o->saddr, 32, 0) < 0 ||
	    bpf_skb_store_bytes(skb, 14 + 40 + 2, &h.check, 2,
				BPF_F_RECOMPUTE_CSUM) < 0)
		return TC_ACT_SHOT;
	sy_count(SY_CNT_FRAG_NEEDED_SENT);
	return bpf_redirect(skb->ifindex, 0);
}

/* XDP: the frame is untouched (XDP rewrites only after a successful
 * lookup): it is quoted as it is. Returns XDP_TX (answer written over the
 * frame), XDP_DROP (rate limited or broken), or XDP_PASS (no answer due,
 * or XDP may not send back out of this device: tc decides again). */
static __always_inline int sy_icmp6_too_big_xdp(struct xdp_md *ctx,
						__u32 l3_off,
						const struct sy_tuple6 *o,
						__u32 mtu, int tx_disabled)
{
	struct sy_icmp6_hdrs h = {};
	__u32 len = ctx->data_end - ctx->data, qlen;
	__u8 macs[12];
	int ok;

	if (tx_disabled || l3_off != 14 || len <= l3_off)
		return XDP_PASS;
	ok = sy_icmp6_too_big_allowed(o);
	if (ok < 0)
		return XDP_DROP;
	if (!ok)
		return XDP_PASS;
	if (bpf_xdp_load_bytes(ctx, 0, macs, 12) < 0)
		return XDP_DROP;
	qlen = len - l3_off;
	if (qlen > SY_ICMP6_QUOTE_MAX)
		qlen = SY_ICMP6_QUOTE_MAX;
	/* Trim to the quote, then room in front for Ethernet + IPv6 +
	 * ICMPv6 (the old Ethernet header is overwritten by the new IPv6
	 * header's room: 48 bytes more in all). */
	if (bpf_xdp_adjust_tail(ctx, (int)(l3_off + qlen) - (int)len) < 0 ||
	    bpf_xdp_adjust_head(ctx, -(SY_IP6_HDR_LEN + SY_ICMP6_HDR_LEN)) < 0)
		return XDP_DROP;
	sy_icmp6_too_big_hdrs(&h, macs, o, mtu);
	h.ip.payload_len = bpf_htons(8 + qlen);
	h.check = 0;
	if (SY_ICMP6_CSUM(ctx, sy_csum6_xdp_range, &h, qlen) < 0 ||
	    bpf_xdp_store_bytes(ctx, 0, (__u8 *)&h + 2, SY_ICMP6_HDRS_LEN) < 0)
		return XDP_DROP;
	sy_count(SY_CNT_FRAG_NEEDED_SENT);
	return XDP_TX;
}

#endif /* SY_ICMP6_H */
