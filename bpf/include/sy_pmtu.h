/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Path MTU of a packet that tc DNATed and hands back to the stack (a pod's
 * packet to a ClusterIP whose backend the stack routes elsewhere).
 *
 * Without this check the stack forwards the packet, finds it too big for
 * the route (say `mtu lock 1280` towards another node's pod subnet) and
 * answers with ICMP fragmentation needed / ICMPv6 packet too big quoting the
 * DNATed header (destination: the backend). That answer goes to the sender
 * through no program of ours; its socket, connected to the frontend, matches
 * nothing and never learns the MTU: the transfer stalls.
 *
 * So tc asks the route first, as ip_forward() / ip6_forward() will judge
 * the packet: bpf_fib_lookup() with tot_len (the packet, or one segment of
 * a GSO packet) checks it against the route's MTU, learned PMTU exceptions
 * included (bpf_check_mtu() would only know a device's MTU, not the
 * route's). When it is too big, the packet is dropped and the sender gets
 * the same answer as for packets tc forwards itself (sy_icmp_too_big_tc(),
 * sy_tc6_too_big(): from the frontend, quoting the packet as sent, rate
 * limited, counted in frag_needed_sent).
 *
 * Cost: one route lookup for each packet that could be too big, through
 * the route-result cache (sy_fib_cache.h: the kernel is asked once per
 * route and second, and a hit gives the kernel's MTU verdict), nothing for
 * the others:
 *   IPv4: DF set (without DF the stack fragments it: no answer is due) and
 *         longer than 68 bytes (RFC 791: every link takes 68; a route MTU
 *         set below that is not honoured here), so pure ACKs and SYNs are
 *         never checked;
 *   IPv6: longer than 1280 bytes (ip6_forward() never judges a packet
 *         against less than IPV6_MIN_MTU).
 * Replies (reverse NAT) are not checked: the one who learns from the
 * stack's answer there is a backend, whose peer address is the client's,
 * which the reverse NAT leaves alone.
 */
#ifndef SY_PMTU_H
#define SY_PMTU_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sy_structs.h"
#include "sy_parse.h"
#include "sy_parse6.h"
#include "sy_reject.h"
#include "sy_icmp.h"
#include "sy_hooks6.h"
#include "sy_fib.h"
#include "sy_fib_cache.h"
#include "sy_lb.h"
#include "sy_lb6.h"

#define SY_PMTU_MIN4 68   /* RFC 791: the smallest IPv4 MTU */
#define SY_PMTU_MIN6 1280 /* IPV6_MIN_MTU */

/* IPv6: sy_fwd_seg_len() of the packet (payload_len from its header). */
static __always_inline __u16 sy_fwd6_len(struct __sk_buff *skb,
					 const struct sy_pkt6 *pkt,
					 __be16 payload_len)
{
	return sy_fwd_seg_len(skb, pkt->l3_off, pkt->l4_off, pkt->proto,
			      SY_IP6_HDR_LEN + bpf_ntohs(payload_len));
}

/* IPv4: the DNATed packet (pkt: as it was; x: the rewrite) is going to the
 * stack. Returns TC_ACT_OK (it fits, or no answer is due: the stack takes
 * it), TC_ACT_REDIRECT (too big: answered) or TC_ACT_SHOT (too big, answer
 * rate limited). */
static __always_inline int sy_pmtu_check4(struct __sk_buff *skb,
					  const struct sy_pkt *pkt,
					  const struct sy_xlate *x, __u64 now)
{
	struct bpf_fib_lookup fib = {};
	struct sy_ip4 h; /* first 8 bytes: TOS, length, DF */
	__u16 len;
	int rc;

	/* skb->len: the frame, at least the packet (a GSO packet: all its
	 * segments); short ones are done without a helper call. */
	if (x->reply || skb->len <= pkt->l3_off + SY_PMTU_MIN4)
		return TC_ACT_OK;
	if (bpf_skb_load_bytes(skb, pkt->l3_off, &h, 8) < 0 ||
	    !(h.frag_off & bpf_htons(SY_IP_DF)))
		return TC_ACT_OK;
	len = sy_icmp_fwd_len(skb, pkt, h.tot_len);
	if (len <= SY_PMTU_MIN4)
		return TC_ACT_OK;
	sy_fib_fill4(&fib, x, pkt->proto, h.tos, len, skb->ifindex);
	if (sy_fib_lookup_cached(skb, &fib, now) !=
	    BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return TC_ACT_OK;
	rc = sy_icmp_too_big_tc(skb, pkt, x, h.frag_off, fib.mtu_result);
	return rc < 0 ? TC_ACT_OK : rc;
}

/* IPv6: the same for a DNATed IPv6 packet going to the stack. */
static __always_inline int sy_pmtu_check6(struct __sk_buff *skb,
					  const struct sy_pkt6 *pkt,
					  const struct sy_xlate6 *x, __u64 now)
{
	struct bpf_fib_lookup fib = {};
	__u8 h[6]; /* flowinfo, payload length */
	__u16 len;
	int rc;

	if (x->reply || skb->len <= pkt->l3_off + SY_PMTU_MIN6)
		return TC_ACT_OK;
	if (bpf_skb_load_bytes(skb, pkt->l3_off, h, 6) < 0)
		return TC_ACT_OK;
	len = sy_fwd6_len(skb, pkt, *(__be16 *)(h + 4));
	if (len <= SY_PMTU_MIN6)
		return TC_ACT_OK;
	sy_fib_fill6(&fib, x->saddr, x->daddr, x->sport, x->dport, pkt->proto,
		     *(__be32 *)h & bpf_htonl(0x0fffffff), len, skb->ifindex);
	if (sy_fib_lookup_cached(skb, &fib, now) !=
	    BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return TC_ACT_OK;
	rc = sy_tc6_too_big(skb, pkt, fib.mtu_result);
	return rc == SY_HOOK6_CONTINUE ? TC_ACT_OK : rc;
}

#endif /* SY_PMTU_H */
