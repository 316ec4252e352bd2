/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The datapath monitor's events of IPv6 translations (sy_events.h):
 * SY_EV_TRACE when tracing is on and the filter (frontend, backend, client
 * CIDR of either family) matches, SY_EV_CT_NEW for 1 in ct_sample new
 * flows; family 6, the same fields as IPv4's (docs/maps.md, "sy_events").
 *
 * The call sites (sy_event_trace6(), sy_event_ct_new6()) pay what IPv4's
 * do with tracing and sampling off: one inlined ARRAY load and a test.
 * The filter and the record are written by sy_event_xlate6(): in tc a
 * subprogram of its own, so that its frame is not in the IPv6 path's (that
 * path is near the 512-byte stack limit); XDP has no room for one more call
 * level (sy_events6.h) and inlines it.
 *
 * Included by sy_lb6.h after struct sy_xlate6.
 */
#ifndef SY_TRACE6_H
#define SY_TRACE6_H

#include "sy_events6.h"

/* Does an IPv6 client match the trace filter's CIDR? */
static __always_inline int sy_monitor_client_match6(const struct sy_monitor *m,
						    const __be32 *client)
{
	__u32 len = m->client_prefix_len;
	int i;

	if (m->client_family == 0)
		return 1;
	if (m->client_family != 6)
		return 0;
#pragma unroll
	for (i = 0; i < 4; i++) {
		__u32 bits = len > 32 * i ? len - 32 * i : 0;
		__u32 mask = bits == 0 ? 0 :
			     bits >= 32 ? 0xffffffffu : ~(0xffffffffu >> bits);

		if ((bpf_ntohl(client[i]) & mask) !=
		    bpf_ntohl(m->client_addr[i]))
			return 0;
	}
	return 1;
}

/* info: sy_event6_info(type, hook, 0, 0). Filters (SY_EV_TRACE) or
 * samples (SY_EV_CT_NEW), then writes the event of x. */
static __always_inline int sy_event_xlate6_inline(const struct sy_pkt6 *pkt,
						  const struct sy_xlate6 *x,
						  __u64 info)
{
	const struct sy_monitor *m = sy_monitor_get();
	__u8 type = (info >> 8) & 0xff;
	struct sy_event *e;
	int i;

	if (!m)
		return 0;
	if (type == SY_EV_TRACE) {
		if ((m->trace_frontend_id && m->trace_frontend_id != x->fe_id) ||
		    (m->trace_backend_id && m->trace_backend_id != x->be_id) ||
		    !sy_monitor_client_match6(m, x->reply ? x->daddr :
							     pkt->saddr))
			return 0;
	} else if (m->ct_sample > 1 &&
		   bpf_get_prandom_u32() % m->ct_sample) {
		return 0;
	}
	e = sy_event_reserve();
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->type = type;
	e->hook = info & 0xff;
	e->family = 6;
	e->proto = pkt->proto;
	e->frontend_id = x->fe_id;
	e->backend_id = x->be_id;
	e->flags = (x->reply ? SY_EV_F_REPLY : 0) | (x->snat ? SY_EV_F_SNAT : 0);
	e->sport = pkt->sport;
	e->dport = pkt->dport;
	e->nat_sport = x->sport;
	e->nat_dport = x->dport;
	for (i = 0; i < 4; i++) {
		e->saddr[i] = pkt->saddr[i];
		e->daddr[i] = pkt->daddr[i];
		e->nat_saddr[i] = x->saddr[i];
		e->nat_daddr[i] = x->daddr[i];
	}
	sy_event_submit(e);
	return 0;
}

static __noinline __attribute__((unused)) int
sy_event_xlate6(const struct sy_pkt6 *pkt, const struct sy_xlate6 *x,
		__u64 info)
{
	return sy_event_xlate6_inline(pkt, x, info);
}

/* Writes the event: a subprogram in tc, inlined in XDP (hook is a
 * constant at each call site). */
#define sy_event_xlate6_at(pkt, x, type, hook)                                 \
	do {                                                                   \
		if ((hook) == SY_HOOK_XDP)                                     \
			sy_event_xlate6_inline((pkt), (x),                     \
					       sy_event6_info(type, hook, 0, 0)); \
		else                                                           \
			sy_event_xlate6((pkt), (x),                            \
					sy_event6_info(type, hook, 0, 0));     \
	} while (0)

/* A translation done (x, from sy_lb6_decide()). */
#define sy_event_trace6(pkt, x, hook)                                          \
	do {                                                                   \
		const struct sy_monitor *m_ = sy_monitor_get();                \
		if (m_ && (m_->flags & SY_MON_F_TRACE))                        \
			sy_event_xlate6_at(pkt, x, SY_EV_TRACE, hook);         \
	} while (0)

/* A conntrack flow just created for x. */
#define sy_event_ct_new6(pkt, x, hook)                                         \
	do {                                                                   \
		const struct sy_monitor *m_ = sy_monitor_get();                \
		if (m_ && m_->ct_sample)                                       \
			sy_event_xlate6_at(pkt, x, SY_EV_CT_NEW, hook);        \
	} while (0)

/* An event of the IPv6 socket hooks (connect6/sendmsg6): as
 * sy_event_start_sock4(), with the 16-byte destination. */
static __always_inline struct sy_event *
sy_event_start_sock6(__u8 type, __u8 proto, const __be32 *daddr, __be16 dport,
		     __u32 fe_id)
{
	struct sy_event *e = sy_event_start_sock(type, 6, proto, dport, fe_id);
	int i;

	if (!e)
		return NULL;
	for (i = 0; i < 4; i++)
		e->daddr[i] = e->nat_daddr[i] = daddr[i];
	return e;
}

/* A connect6()/sendmsg6() refused (no endpoints). */
static __always_inline void sy_event_sock_reject6(__u8 proto,
						  const __be32 *daddr,
						  __be16 dport, __u32 fe_id)
{
	struct sy_event *e = sy_event_start_sock6(SY_EV_REJECT, proto, daddr,
						  dport, fe_id);

	if (!e)
		return;
	e->reason = SY_CNT_SOCK_REJECT;
	sy_event_submit(e);
}

/* A connect6()/sendmsg6() translated: SY_EV_TRACE as
 * sy_event_sock_trace4() (a client filter never matches a socket). */
static __always_inline void sy_event_sock_trace6(__u8 proto,
						 const __be32 *daddr,
						 __be16 dport, __u32 fe_id,
						 __u32 be_id,
						 const __be32 *be_addr,
						 __be16 be_port)
{
	struct sy_event *e;
	int i;

	if (!sy_monitor_wants_sock_trace(fe_id, be_id))
		return;
	e = sy_event_start_sock6(SY_EV_TRACE, proto, daddr, dport, fe_id);
	if (!e)
		return;
	e->backend_id = be_id;
	e->nat_dport = be_port;
	for (i = 0; i < 4; i++)
		e->nat_daddr[i] = be_addr[i];
	sy_event_submit(e);
}

#endif /* SY_TRACE6_H */
