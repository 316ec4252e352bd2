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
 *      (the outer source becomes the frontend even when a router sent the
 *      error, as the kernel does: the client never learns the backend)
 *    quoted = reply (frontend -> client, after reverse NAT); found by the
 *    FORWARD key {client, frontend, cport, fport}:
 *      embedded  src -> backend:bport, dst -> the SNAT address:port (if any)
 *      outer     dst -> backend, src -> the SNAT address (SNATed flows only)
 *
 *    The decision fills a struct sy_xlate6 (sy_lb6.h) with the outer
 *    packet's new addresses and the flow's ports in its new direction;
 *    the embedded rewrite follows from it:
 *      embedded src:sport <- x.daddr:x.dport
 *      embedded dst:dport <- x.saddr:x.sport (replies of SNATed flows:
 *                            unchanged otherwise)
 *    The rest of the ICMPv6 header (the MTU of a packet too big, the
 *    pointer of a parameter problem) is kept. Checksums: the embedded
 *    TCP/UDP checksum (when quoted and non-zero) covers the embedded
 *    pseudo-header and ports; the ICMPv6 checksum covers the OUTER
 *    pseudo-header (RFC 4443 2.3) and the whole message, so every change
 *    (outer addresses, embedded addresses, ports, embedded checksum) goes
 *    into its RFC 1624 update. IPv6 has no header checksum. The packet's
 *    byte sum does not change (each change is compensated by a checksum
 *    in it), so skb->csum stays right with flags 0. An error whose flow is
 *    unknown passes untouched (counted).
 *
 * 2. A packet that the datapath forwards itself and that is too big for
 *    its egress (bpf_fib_lookup() says BPF_FIB_LKUP_RET_FRAG_NEEDED) is
 *    answered with ICMPv6 packet too big (type 2 code 0) carrying the
 *    egress MTU and quoting the packet as its sender sent it (built by
 *    sy_reject6.h). IPv6 routers never fragment (RFC 8200 5): every
 *    too-big packet gets the answer, rate limited (SY_RL_FRAG_NEEDED, the
 *    bucket of IPv4's fragmentation needed).
 *
 * Decision and rewrite are BPF subprograms with small frames (see
 * sy_reject6.h, "Stack"): the packet is read and written a field at a
 * time. None of this runs on the fast path.
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
#include "sy_addr.h"
#include "sy_parse6.h"
#include "sy_conntrack6.h"
#include "sy_lb6.h"
#include "sy_reject6.h"

#define SY_ICMP6_PASS  0 /* not an error of a tracked flow: untouched */
#define SY_ICMP6_XLATE 1 /* translated */

/* At most this many extension headers are walked in a quote. */
#define SY_ICMP6_EXT_MAX 4

static __always_inline int sy_icmp6_is_error(__u8 type)
{
	return type >= SY_ICMP6_DEST_UNREACH && type <= SY_ICMP6_PARAMPROB;
}

/* The quote of the ICMPv6 error at icmp_off: its embedded TCP/UDP header.
 * Returns in_l4_off << 8 | proto (> 0), 0 when it is no error or quotes
 * another protocol, -1 when it is malformed (a quoted later fragment, a
 * truncated quote, too many extension headers). load: bpf_skb_load_bytes
 * or bpf_xdp_load_bytes. */
#define SY_ICMP6_INNER(ctx, load, icmp_off, len)                              \
	({                                                                    \
		__s64 __r = 0;                                                \
		__u8 __t[8], __nh;                                            \
		__u32 __o = (icmp_off) + 8 + SY_IP6_HDR_LEN;                  \
		if (load(ctx, (icmp_off), __t, 1) < 0)                        \
			__r = -1;                                             \
		else if (!sy_icmp6_is_error(__t[0]))                          \
			__r = 0;                                              \
		else if (load(ctx, (icmp_off) + 8, __t, 8) < 0 ||             \
			 (__t[0] >> 4) != 6)                                  \
			__r = -1;                                             \
		else {                                                        \
			__nh = __t[6];                                        \
			__r = -1;                                             \
			_Pragma("clang loop unroll(disable)")                 \
			for (int __i = 0; __i <= SY_ICMP6_EXT_MAX; __i++) {   \
				if (__nh == IPPROTO_TCP ||                    \
				    __nh == IPPROTO_UDP) {                    \
					__r = (__s64)__o << 8 | __nh;         \
					break;                                \
				}                                             \
				if (__i == SY_ICMP6_EXT_MAX)                  \
					break;                                \
				if (__nh != SY_NEXTHDR_HOP &&                 \
				    __nh != SY_NEXTHDR_ROUTING &&             \
				    __nh != SY_NEXTHDR_DEST &&                \
				    __nh != SY_NEXTHDR_FRAGMENT) {            \
					__r = 0; /* another protocol */       \
					break;                                \
				}                                             \
				if (load(ctx, __o, __t, 4) < 0)               \
					break;                                \
				if (__nh == SY_NEXTHDR_FRAGMENT) {            \
					if (__t[2] || (__t[3] & 0xf8))        \
						break; /* later fragment */   \
					__o += 8;                             \
				} else {                                      \
					__o += ((__u32)__t[1] + 1) * 8;       \
				}                                             \
				__nh = __t[0];                                \
			}                                                     \
			/* RFC 4443: the quote holds the ports at least. */   \
			if (__r > 0 && __o + 8 > (len))                       \
				__r = -1;                                     \
		}                                                             \
		__r;                                                          \
	})

/* Find the flow of the quoted packet and fill x. Returns in_l4_off << 8 |
 * proto (> 0: translate), 0 (pass: not an error, untracked, or not for
 * XDP), -1 (malformed). only_snat: XDP takes errors of SNATed flows only,
 * as it takes only their packets. */
#define SY_ICMP6_DECIDE(ctx, load, pkt, x, only_snat, len, untracked)         \
	({                                                                    \
		struct sy_ct_key6 __k;                                        \
		struct sy_ct_value6 *__ct;                                    \
		__s64 __in = SY_ICMP6_INNER(ctx, load, (pkt)->l4_off, len);   \
		__u32 __io = (pkt)->l4_off + 8, __id;                         \
		__be16 __pt[2];                                               \
		__u8 __p = __in & 0xff, __snat;                               \
		__u64 __now = bpf_ktime_get_ns();                             \
		*(untracked) = 0;                                             \
		if (__in > 0 &&                                               \
		    (load(ctx, __in >> 8, __pt, 4) < 0 ||                     \
		     load(ctx, __io + 24, __k.saddr, 16) < 0 ||               \
		     load(ctx, __io + 8, __k.daddr, 16) < 0))                 \
			__in = -1;                                            \
		if (__in > 0) {                                               \
			*(untracked) = 1; /* until a flow is found */         \
			/* Quoted forward packet: the REPLY key. */           \
			__k.sport = __pt[1];                                  \
			__k.dport = __pt[0];                                  \
			__k.proto = __p;                                      \
			__k.dir = SY_CT_REPLY;                                \
			__k.pad = 0;                                          \
			(x)->cnt = 0;                                         \
			__ct = bpf_map_lookup_elem(&sy_conntrack6, &__k);     \
			if (__ct && !sy_ct_expired(__p, __ct->flags,          \
						   __ct->last_seen, __now)) { \
				struct sy_revnat6 *__rn;                      \
				__snat = !!(__ct->flags & SY_CT_F_SNAT);      \
				__id = __ct->rev_nat_id;                      \
				__rn = bpf_map_lookup_elem(&sy_revnat6, &__id); \
				if ((only_snat && !__snat) || !__rn) {        \
					__in = 0;                             \
				} else {                                      \
					sy_a6_copy((x)->saddr, __rn->addr);   \
					sy_a6_copy((x)->daddr, __snat ?       \
						   __ct->nat_addr : __k.daddr); \
					(x)->sport = __rn->port;              \
					(x)->dport = __snat ? __ct->nat_port :\
							      __pt[0];        \
					(x)->fe_id = __id;                    \
					(x)->reply = 1;                       \
					(x)->snat = __snat;                   \
					*(untracked) = 0;                     \
				}                                             \
			} else {                                              \
				/* Quoted reply: the FORWARD key. */          \
				struct sy_backend6 *__be = NULL;              \
				__k.dir = SY_CT_FORWARD;                      \
				__ct = bpf_map_lookup_elem(&sy_conntrack6, &__k); \
				if (__ct && sy_ct_expired(__p, __ct->flags,   \
							  __ct->last_seen,    \
							  __now))             \
					__ct = NULL;                          \
				if (__ct) {                                   \
					__id = __ct->backend_id;              \
					__be = bpf_map_lookup_elem(&sy_backends6, &__id); \
				}                                             \
				__snat = __ct && (__ct->flags & SY_CT_F_SNAT); \
				if (!__ct || !__be || (only_snat && !__snat) || \
				    (!__snat &&                               \
				     load(ctx, (pkt)->l3_off + 8, (x)->saddr, 16) < 0)) { \
					__in = 0;                             \
				} else {                                      \
					if (__snat)                           \
						sy_a6_copy((x)->saddr,        \
							   __ct->nat_addr);   \
					sy_a6_copy((x)->daddr, __be->addr);   \
					(x)->sport = __snat ? __ct->nat_port :\
							      __pt[1];        \
					(x)->dport = __be->port;              \
					(x)->fe_id = __ct->rev_nat_id;        \
					(x)->reply = 0;                       \
					(x)->snat = __snat;                   \
					*(untracked) = 0;                     \
				}                                             \
			}                                                     \
		}                                                             \
		__in;                                                         \
	})

/* The new value of one word at off (from the 4 bytes at src), its change
 * added to *d. */
#define SY_ICMP6_WORD(ctx, load, store, off, src, d, ...)                     \
	({                                                                    \
		__u32 __w;                                                    \
		int __r = load(ctx, off, &__w, 4);                            \
		if (__r >= 0) {                                               \
			*(d) = sy_csum_add32(*(d), __w, *(const __u32 *)(src)); \
			__r = store(ctx, off, (void *)(src), 4, ##__VA_ARGS__); \
		}                                                             \
		__r;                                                          \
	})

/* Rewrite the error as x says (in = SY_ICMP6_DECIDE's result). Returns 0
 * or -1. store: bpf_skb_store_bytes (flags 0) or bpf_xdp_store_bytes. */
#define SY_ICMP6_APPLY(ctx, load, store, pkt, x, in, ...)                     \
	({                                                                    \
		__u32 __l4 = (in) >> 8, __io = (pkt)->l4_off + 8;             \
		__u32 __dout = 0, __din = 0, __sum;                           \
		__u16 __c, __n;                                               \
		__u8 __p = (in) & 0xff;                                       \
		int __r = 0, __dst = (x)->reply || (x)->snat;                 \
		_Pragma("clang loop unroll(disable)")                         \
		for (int __i = 0; __i < 4 && !__r; __i++) {                   \
			if (SY_ICMP6_WORD(ctx, load, store,                   \
					  (pkt)->l3_off + 8 + __i * 4,        \
					  &(x)->saddr[__i], &__dout,          \
					  ##__VA_ARGS__) < 0 ||               \
			    SY_ICMP6_WORD(ctx, load, store,                   \
					  (pkt)->l3_off + 24 + __i * 4,       \
					  &(x)->daddr[__i], &__dout,          \
					  ##__VA_ARGS__) < 0 ||               \
			    SY_ICMP6_WORD(ctx, load, store, __io + 8 + __i * 4, \
					  &(x)->daddr[__i], &__din,           \
					  ##__VA_ARGS__) < 0 ||               \
			    (__dst &&                                         \
			     SY_ICMP6_WORD(ctx, load, store,                  \
					   __io + 24 + __i * 4,               \
					   &(x)->saddr[__i], &__din,          \
					   ##__VA_ARGS__) < 0))               \
				__r = -1;                                     \
		}                                                             \
		if (!__r) {                                                   \
			/* Ports: src <- x.dport, dst <- x.sport. */          \
			__be16 __np[2] = { (x)->dport,                        \
					   __dst ? (x)->sport : 0 };          \
			__be16 __op[2];                                       \
			if (load(ctx, __l4, __op, 4) < 0)                     \
				__r = -1;                                     \
			else {                                                \
				if (!__dst)                                   \
					__np[1] = __op[1];                    \
				__din = sy_csum_add32(__din,                  \
					__op[0] | (__u32)__op[1] << 16,       \
					__np[0] | (__u32)__np[1] << 16);      \
				if (store(ctx, __l4, __np, 4, ##__VA_ARGS__) < 0) \
					__r = -1;                             \
			}                                                     \
		}                                                             \
		__sum = sy_csum_fold(__din);                                  \
		/* The embedded L4 checksum, if quoted and used. */           \
		__l4 += __p == IPPROTO_TCP ? 16 : 6;                          \
		if (!__r && __l4 + 2 <= (__u32)SY_ICMP6_PKT_LEN(ctx) &&      \
		    load(ctx, __l4, &__c, 2) >= 0 &&                          \
		    (__c || __p == IPPROTO_TCP)) {                            \
			__n = sy_csum_apply(__c, __sum);                      \
			if (__p == IPPROTO_UDP)                               \
				__n = sy_csum_udp(__n);                       \
			__sum = sy_csum_add16(__sum, __c, __n);               \
			if (store(ctx, __l4, &__n, 2, ##__VA_ARGS__) < 0)     \
				__r = -1;                                     \
		}                                                             \
		/* ICMPv6: outer pseudo-header + every changed word. */       \
		if (!__r && load(ctx, (pkt)->l4_off + 2, &__c, 2) >= 0) {     \
			__n = sy_csum_apply(__c, sy_csum_fold(__dout) + __sum); \
			if (store(ctx, (pkt)->l4_off + 2, &__n, 2, ##__VA_ARGS__) < 0) \
				__r = -1;                                     \
		} else {                                                      \
			__r = -1;                                             \
		}                                                             \
		__r;                                                          \
	})

/* The packet length as the L4 offsets count it (offsets from the frame
 * start): skb->len, or the XDP frame's length. */
#define SY_ICMP6_PKT_LEN(ctx) sy_icmp6_len(ctx)
static __always_inline __u32 sy_icmp6_len_skb(struct __sk_buff *skb)
{
	return skb->len;
}
static __always_inline __u32 sy_icmp6_len_xdp(struct xdp_md *ctx)
{
	return ctx->data_end - ctx->data;
}
#define sy_icmp6_len(ctx)                                                     \
	_Generic((ctx), struct __sk_buff *: sy_icmp6_len_skb,                 \
		 struct xdp_md *: sy_icmp6_len_xdp)(ctx)

static __always_inline void sy_icmp6_count(const struct sy_xlate6 *x)
{
	sy_count(x->reply ? SY_CNT_ICMP_ERR_REVNAT : SY_CNT_ICMP_ERR_DNAT);
}

/* tc: the decision (SY_ICMP6_DECIDE, counted). Returns in (> 0), or 0
 * (untouched). A BPF subprogram. */
static __noinline __attribute__((unused)) int
sy_icmp6_tc_decide(struct __sk_buff *skb, const struct sy_pkt6 *pkt,
		   struct sy_xlate6 *x)
{
	__s64 in;
	int untracked;

	in = SY_ICMP6_DECIDE(skb, bpf_skb_load_bytes, pkt, x, 0, skb->len,
			     &untracked);
	if (in < 0) {
		sy_count(SY_CNT_ICMP_ERR_MALFORMED);
		return 0;
	}
	if (in == 0 && untracked)
		sy_count(SY_CNT_ICMP_ERR_UNTRACKED);
	return in;
}

/* tc: the rewrite (SY_ICMP6_APPLY, counted). Returns 0 or -1. A BPF
 * subprogram, called after sy_icmp6_tc_decide() returns: the two frames
 * are never on the stack together. */
static __noinline __attribute__((unused)) int
sy_icmp6_tc_apply(struct __sk_buff *skb, const struct sy_pkt6 *pkt,
		  const struct sy_xlate6 *x, int in)
{
	if (SY_ICMP6_APPLY(skb, bpf_skb_load_bytes, bpf_skb_store_bytes, pkt,
			   x, in, 0) < 0)
		return -1;
	sy_icmp6_count(x);
	return 0;
}

/* tc: translate the unfragmented ICMPv6 packet of pkt if it is an error of
 * a tracked flow. Returns the embedded protocol (> 0: translated, x
 * describes the result as the flow's own translation would), 0 (untouched)
 * or -1 (a store failed: drop the packet). */
static __always_inline int sy_icmp6_tc(struct __sk_buff *skb,
				       const struct sy_pkt6 *pkt,
				       struct sy_xlate6 *x)
{
	int in = sy_icmp6_tc_decide(skb, pkt, x);

	if (in <= 0)
		return 0;
	if (sy_icmp6_tc_apply(skb, pkt, x, in) < 0)
		return -1;
	return in & 0xff;
}

/* XDP: decide only (errors of SNATed flows). Returns in (> 0: the caller
 * looks the route up and then calls sy_icmp6_xdp_apply()), or 0 (pass:
 * tc sees the packet again and counts it). A BPF subprogram. */
static __noinline __attribute__((unused)) int sy_icmp6_xdp(struct xdp_md *ctx,
				   const struct sy_pkt6 *pkt,
				   struct sy_xlate6 *x)
{
	__s64 in;
	int untracked;

	in = SY_ICMP6_DECIDE(ctx, bpf_xdp_load_bytes, pkt, x, 1,
			     ctx->data_end - ctx->data, &untracked);
	return in > 0 ? (int)in : 0;
}

/* XDP: the rewrite decided by sy_icmp6_xdp() (in: its result). Returns 0
 * or -1. A BPF subprogram. */
static __noinline __attribute__((unused)) int sy_icmp6_xdp_apply(struct xdp_md *ctx,
					 const struct sy_pkt6 *pkt,
					 const struct sy_xlate6 *x, int in)
{
	if (SY_ICMP6_APPLY(ctx, bpf_xdp_load_bytes, bpf_xdp_store_bytes, pkt,
			   x, in) < 0)
		return -1;
	sy_icmp6_count(x);
	return 0;
}

/* ---- packet too big ------------------------------------------------------ */

/* Is an answer allowed? Returns 1 (answer), 0 (no answer is due: not
 * TCP/UDP, or a non-unicast source; the caller goes on as before this
 * check), -1 (rate limited: the caller drops). */
static __always_inline int sy_icmp6_too_big_allowed(const struct sy_pkt6 *pkt)
{
	if (pkt->proto != IPPROTO_TCP && pkt->proto != IPPROTO_UDP)
		return 0; /* never an answer to an ICMPv6 error */
	if (!sy_unicast_src6(pkt->saddr)) {
		sy_count(SY_CNT_TOO_BIG_NO_DF);
		return 0;
	}
	if (!sy_rl_take(SY_RL_FRAG_NEEDED, bpf_ktime_get_ns())) {
		sy_count(SY_CNT_FRAG_NEEDED_RATE_LIMITED);
		return -1;
	}
	return 1;
}

/* tc: the packet was translated already; pkt is what it was. Returns
 * TC_ACT_REDIRECT (answer sent), TC_ACT_SHOT, or -1 (no answer is due: the
 * caller goes on). */
static __always_inline int sy_icmp6_too_big_tc(struct __sk_buff *skb,
					       const struct sy_pkt6 *pkt,
					       __u32 mtu)
{
	int ok = sy_icmp6_too_big_allowed(pkt), ret;

	if (ok <= 0)
		return ok < 0 ? TC_ACT_SHOT : -1;
	ret = sy_icmp6_error_skb(skb, pkt, SY_ICMP6_KIND_TOO_BIG, mtu);
	if (ret == TC_ACT_REDIRECT)
		sy_count(SY_CNT_FRAG_NEEDED_SENT);
	return ret;
}

/* XDP: the frame is untouched (XDP rewrites only after a successful
 * lookup) and quoted as it is. Returns XDP_TX (answer written over the
 * frame), XDP_DROP, or -1 (no answer built: XDP_PASS for the caller, tc
 * decides again). A BPF subprogram. */
static __noinline __attribute__((unused)) int sy_icmp6_too_big_xdp_build(struct xdp_md *ctx,
						 const struct sy_pkt6 *pkt,
						 __u32 mtu)
{
	__u32 len = ctx->data_end - ctx->data, qlen, sum;
	__u8 macs[12], ih[8];
	__be16 plen;
	__u16 check;
	void *d, *de;
	__s64 q;

	if (pkt->l3_off != 14 || len <= 14)
		return -1;
	if (bpf_xdp_load_bytes(ctx, 0, macs, 12) < 0 ||
	    bpf_xdp_load_bytes(ctx, 14 + 4, &plen, 2) < 0)
		return XDP_DROP;
	qlen = SY_IP6_HDR_LEN + bpf_ntohs(plen); /* not the padding */
	if (qlen > len - 14)
		qlen = len - 14;
	if (qlen > SY_ICMP6_QUOTE_MAX)
		qlen = SY_ICMP6_QUOTE_MAX;
	/* Trim to the quote, then room in front for the new IPv6 and ICMPv6
	 * headers (the Ethernet header is written anew). */
	if (bpf_xdp_adjust_tail(ctx, (int)(14 + qlen) - (int)len) < 0 ||
	    bpf_xdp_adjust_head(ctx, -(SY_IP6_HDR_LEN + SY_ICMP6_HDR_LEN)) < 0)
		return XDP_DROP;
	ih[0] = SY_ICMP6_PKT_TOO_BIG;
	ih[1] = 0;
	*(__u16 *)&ih[2] = 0;
	*(__be32 *)&ih[4] = bpf_htonl(mtu);
	if (SY_ANSWER6_HDRS(ctx, bpf_xdp_store_bytes, macs, pkt, 8 + qlen,
			    SY_NEXTHDR_ICMPV6) < 0 ||
	    bpf_xdp_store_bytes(ctx, 14 + SY_IP6_HDR_LEN, ih, 8) < 0)
		return XDP_DROP;
	d = (void *)(long)ctx->data;
	de = (void *)(long)ctx->data_end;
	q = sy_csum6_data(d, de, 14 + SY_IP6_HDR_LEN, 8 + qlen);
	if (q < 0)
		return XDP_DROP;
	sum = sy_csum6_pseudo(pkt->daddr, pkt->saddr, 8 + qlen,
			      SY_NEXTHDR_ICMPV6);
	check = sy_csum_finish(sy_csum_fold(sum) + (__u32)q);
	if (bpf_xdp_store_bytes(ctx, 14 + SY_IP6_HDR_LEN + 2, &check, 2) < 0)
		return XDP_DROP;
	return XDP_TX;
}

/* XDP: packet too big for the untouched frame of pkt. Returns XDP_TX,
 * XDP_DROP (rate limited or broken) or XDP_PASS (no answer due, or XDP may
 * not send back out of this device: tc decides again). */
static __always_inline int sy_icmp6_too_big_xdp(struct xdp_md *ctx,
						const struct sy_pkt6 *pkt,
						__u32 mtu, int tx_disabled)
{
	int ok, ret;

	if (tx_disabled)
		return XDP_PASS;
	ok = sy_icmp6_too_big_allowed(pkt);
	if (ok <= 0)
		return ok < 0 ? XDP_DROP : XDP_PASS;
	ret = sy_icmp6_too_big_xdp_build(ctx, pkt, mtu);
	if (ret == XDP_TX)
		sy_count(SY_CNT_FRAG_NEEDED_SENT);
	return ret < 0 ? XDP_PASS : ret;
}

#endif /* SY_ICMP6_H */
