/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The datapath monitor: events written to the sy_events ring buffer, read
 * by the loader and streamed to the agent (docs/monitor.md).
 *
 *   SY_EV_DROP, SY_EV_REJECT  always: they are rare, and what an operator
 *                             asks first ("why did my packet vanish?");
 *   SY_EV_TRACE               a translation, when sy_monitor has
 *                             SY_MON_F_TRACE and the filter (frontend,
 *                             backend, client CIDR) matches;
 *   SY_EV_CT_NEW              a new conntrack flow, 1 in ct_sample.
 *
 * The call sites are one line each, next to the counter they go with.
 * With tracing and sampling off, a translated packet pays one inlined
 * ARRAY load and a test (sy_monitor_get()); a full ring buffer loses the
 * event, never the packet (SY_CNT_EVENTS_LOST).
 */
#ifndef SY_EVENTS_H
#define SY_EVENTS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sy_structs.h"
#include "sy_maps.h"
#include "sy_parse.h"
#include "sy_stats.h"

/* struct sy_xlate comes from sy_lb.h, which includes this file first. */
struct sy_xlate;

/* Waking the reader costs microseconds (an irq_work and an epoll wakeup),
 * many times a traced packet's cost: the reader is woken once about
 * SY_EVENTS_WAKE_BYTES of events are waiting, when the record that crosses
 * that mark is submitted, and otherwise reads on its own every 100 ms (the
 * loader's poll timeout). */
#define SY_EVENTS_WAKE_BYTES (64 * (sizeof(struct sy_event) + 8))

static __always_inline void sy_event_submit(struct sy_event *e)
{
	__u64 avail = bpf_ringbuf_query(&sy_events, BPF_RB_AVAIL_DATA);

	bpf_ringbuf_submit(e, avail >= SY_EVENTS_WAKE_BYTES &&
				      avail < SY_EVENTS_WAKE_BYTES +
						      sizeof(*e) + 8 ?
			      BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

/* Reserves an event if this CPU's budget allows (sy_events_budget); NULL
 * when it does not or the ring buffer is full (each counted). */
static __always_inline struct sy_event *sy_event_reserve(void)
{
	__u32 zero = 0;
	struct sy_events_budget *b = bpf_map_lookup_elem(&sy_events_budget, &zero);
	struct sy_event *e;
	__u64 now;

	if (!b)
		return NULL;
	now = bpf_ktime_get_ns();
	if (now - b->window_ns >= SY_NSEC_PER_SEC) {
		b->window_ns = now;
		b->used = 0;
	}
	if (b->used >= SY_EVENTS_PER_CPU_PER_SEC) {
		sy_count(SY_CNT_EVENTS_RATE_LIMITED);
		return NULL;
	}
	b->used++;
	e = bpf_ringbuf_reserve(&sy_events, sizeof(*e), 0);
	if (!e)
		sy_count(SY_CNT_EVENTS_LOST);
	return e;
}

static __always_inline const struct sy_monitor *sy_monitor_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sy_monitor, &zero);
}

/* Reserves and fills the IPv4 part every event has; NULL when the ring
 * buffer is full (counted). */
static __always_inline struct sy_event *
sy_event_start4(__u8 type, const struct sy_pkt *pkt, int hook)
{
	struct sy_event *e = sy_event_reserve();

	if (!e)
		return NULL;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->type = type;
	e->family = 4;
	e->proto = pkt->proto;
	e->hook = hook;
	e->sport = e->nat_sport = pkt->sport;
	e->dport = e->nat_dport = pkt->dport;
	e->saddr[0] = e->nat_saddr[0] = pkt->saddr;
	e->daddr[0] = e->nat_daddr[0] = pkt->daddr;
	return e;
}

/* A drop or a reject (type) of a packet, with its SY_CNT_* reason and the
 * frontend when known (0 otherwise). */
static __always_inline void sy_event_verdict4(__u8 type, const struct sy_pkt *pkt,
					      __u32 fe_id, __u16 reason, int hook)
{
	struct sy_event *e = sy_event_start4(type, pkt, hook);

	if (!e)
		return;
	e->reason = reason;
	e->frontend_id = fe_id;
	sy_event_submit(e);
}

/* An event of the socket hooks (SY_HOOK_SOCK_LB), either family: no packet
 * exists yet, so only the destination the application used is known
 * (source 0); the caller fills daddr/nat_daddr in its family's layout. */
static __always_inline struct sy_event *
sy_event_start_sock(__u8 type, __u8 family, __u8 proto, __be16 dport,
		    __u32 fe_id)
{
	struct sy_event *e = sy_event_reserve();

	if (!e)
		return NULL;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->type = type;
	e->family = family;
	e->proto = proto;
	e->hook = SY_HOOK_SOCK_LB;
	e->frontend_id = fe_id;
	e->dport = e->nat_dport = dport;
	return e;
}

static __always_inline struct sy_event *
sy_event_start_sock4(__u8 type, __u8 proto, __be32 daddr, __be16 dport,
		     __u32 fe_id)
{
	struct sy_event *e = sy_event_start_sock(type, 4, proto, dport, fe_id);

	if (e)
		e->daddr[0] = e->nat_daddr[0] = daddr;
	return e;
}

/* A connect()/sendmsg() refused by the socket hooks. */
static __always_inline void sy_event_sock_reject4(__u8 proto, __be32 daddr,
						  __be16 dport, __u32 fe_id)
{
	struct sy_event *e = sy_event_start_sock4(SY_EV_REJECT, proto, daddr,
						  dport, fe_id);

	if (!e)
		return;
	e->reason = SY_CNT_SOCK_REJECT;
	sy_event_submit(e);
}

/* Does the trace filter want a socket hook's translation (either family)?
 * The socket's source address is not known at connect()/sendmsg(), so a
 * filter on the client CIDR never matches a socket translation (it cannot
 * be told). */
static __always_inline int sy_monitor_wants_sock_trace(__u32 fe_id,
						       __u32 be_id)
{
	const struct sy_monitor *m = sy_monitor_get();

	return m && (m->flags & SY_MON_F_TRACE) &&
	       !(m->trace_frontend_id && m->trace_frontend_id != fe_id) &&
	       !(m->trace_backend_id && m->trace_backend_id != be_id) &&
	       m->client_family == 0;
}

/* A connect()/sendmsg() translated by the socket hooks: SY_EV_TRACE when
 * tracing is on and the filter matches. */
static __always_inline void sy_event_sock_trace4(__u8 proto, __be32 daddr,
						 __be16 dport, __u32 fe_id,
						 __u32 be_id, __be32 be_addr,
						 __be16 be_port)
{
	struct sy_event *e;

	if (!sy_monitor_wants_sock_trace(fe_id, be_id))
		return;
	e = sy_event_start_sock4(SY_EV_TRACE, proto, daddr, dport, fe_id);
	if (!e)
		return;
	e->backend_id = be_id;
	e->nat_dport = be_port;
	e->nat_daddr[0] = be_addr;
	sy_event_submit(e);
}

/* Does an IPv4 client match the trace filter's CIDR? */
static __always_inline int sy_monitor_client_match4(const struct sy_monitor *m,
						    __be32 client)
{
	__u32 len = m->client_prefix_len;
	__u32 mask;

	if (m->client_family == 0)
		return 1;
	if (m->client_family != 4)
		return 0;
	if (len == 0)
		return 1;
	mask = len >= 32 ? 0xffffffffu : ~(0xffffffffu >> len);
	return (bpf_ntohl(client) & mask) == bpf_ntohl(m->client_addr[0]);
}

/* Fills the translation of x into e. */
#define sy_event_fill_xlate4(e, x)                                             \
	do {                                                                   \
		(e)->frontend_id = (x)->fe_id;                                 \
		(e)->backend_id = (x)->be_id;                                  \
		(e)->flags = ((x)->reply ? SY_EV_F_REPLY : 0) |                \
			     ((x)->snat ? SY_EV_F_SNAT : 0);                   \
		(e)->nat_saddr[0] = (x)->saddr;                                \
		(e)->nat_daddr[0] = (x)->daddr;                                \
		(e)->nat_sport = (x)->sport;                                   \
		(e)->nat_dport = (x)->dport;                                   \
	} while (0)

/* A translation done (x, from sy_lb_decide()): SY_EV_TRACE when tracing is
 * on and the filter matches. The client is the source of a forward packet
 * and the (restored) destination of a reply. */
#define sy_event_trace4(pkt, x, hook)                                          \
	do {                                                                   \
		const struct sy_monitor *m_ = sy_monitor_get();                \
		struct sy_event *e_;                                           \
		if (!m_ || !(m_->flags & SY_MON_F_TRACE))                      \
			break;                                                 \
		if ((m_->trace_frontend_id &&                                  \
		     m_->trace_frontend_id != (x)->fe_id) ||                   \
		    (m_->trace_backend_id &&                                   \
		     m_->trace_backend_id != (x)->be_id) ||                    \
		    !sy_monitor_client_match4(m_, (x)->reply ? (x)->daddr :    \
							       (pkt)->saddr)) \
			break;                                                 \
		e_ = sy_event_start4(SY_EV_TRACE, (pkt), (hook));              \
		if (!e_)                                                       \
			break;                                                 \
		sy_event_fill_xlate4(e_, (x));                                 \
		sy_event_submit(e_);                                     \
	} while (0)

/* A conntrack flow just created for x: SY_EV_CT_NEW for 1 in ct_sample. */
#define sy_event_ct_new4(pkt, x, hook)                                         \
	do {                                                                   \
		const struct sy_monitor *m_ = sy_monitor_get();                \
		struct sy_event *e_;                                           \
		if (!m_ || !m_->ct_sample)                                     \
			break;                                                 \
		if (m_->ct_sample > 1 &&                                       \
		    bpf_get_prandom_u32() % m_->ct_sample)                     \
			break;                                                 \
		e_ = sy_event_start4(SY_EV_CT_NEW, (pkt), (hook));             \
		if (!e_)                                                       \
			break;                                                 \
		sy_event_fill_xlate4(e_, (x));                                 \
		sy_event_submit(e_);                                     \
	} while (0)

#endif /* SY_EVENTS_H */
