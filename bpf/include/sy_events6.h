/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IPv6 drops and rejects for the datapath monitor (sy_events.h). The IPv6
 * paths' frames are near the 512-byte stack limit: tc calls the emitter as
 * a subprogram of its own, XDP inlines it (see sy_event_verdict6()).
 */
#ifndef SY_EVENTS6_H
#define SY_EVENTS6_H

#include "sy_events.h"
#include "sy_parse6.h"

/* info: sy_event6_info(): everything but the packet in one register, so
 * that nothing is spilled to this subprogram's stack (the XDP chain has
 * 16 bytes to spare). */
#define sy_event6_info(type, hook, reason, fe_id)                         \
	((__u64)(fe_id) << 32 | (__u64)((reason) & 0xffff) << 16 |        \
	 (__u64)((type) & 0xff) << 8 | ((hook) & 0xff))

static __always_inline int sy_event_verdict6_inline(const struct sy_pkt6 *pkt,
						    __u64 info)
{
	struct sy_event *e = sy_event_reserve();
	int i;

	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->type = (info >> 8) & 0xff;
	e->hook = info & 0xff;
	e->family = 6;
	e->proto = pkt->proto;
	e->reason = (info >> 16) & 0xffff;
	e->frontend_id = info >> 32;
	e->sport = e->nat_sport = pkt->sport;
	e->dport = e->nat_dport = pkt->dport;
	for (i = 0; i < 4; i++) {
		e->saddr[i] = e->nat_saddr[i] = pkt->saddr[i];
		e->daddr[i] = e->nat_daddr[i] = pkt->daddr[i];
	}
	sy_event_submit(e);
	return 0;
}

/* tc: a subprogram (its frame is not in the IPv6 path's). XDP has no room
 * for one more call level (the verifier counts at least 32 bytes per
 * frame), so it inlines sy_event_verdict6_inline(). */
static __noinline __attribute__((unused)) int
sy_event_verdict6(const struct sy_pkt6 *pkt, __u64 info)
{
	return sy_event_verdict6_inline(pkt, info);
}

#endif /* SY_EVENTS6_H */
