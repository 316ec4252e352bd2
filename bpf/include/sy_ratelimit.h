/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Per-node rate limit of the answers the datapath generates itself (REJECT
 * resets and port unreachables, ICMP fragmentation needed), as the kernel
 * limits icmp_send() with its global token bucket (net.ipv4.icmp_msgs_per_sec
 * = 1000, net.ipv4.icmp_msgs_burst = 50): one bucket per kind of answer in
 * sy_icmp_rate, shared by every CPU and program of the node (spin lock).
 * When a bucket is empty the packet that would have been answered is dropped
 * and counted (SY_CNT_*_RATE_LIMITED), like the kernel drops it silently.
 */
#ifndef SY_RATELIMIT_H
#define SY_RATELIMIT_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "sy_structs.h"
#include "sy_maps.h"

/* Refill: one token every SY_RL_NS_PER_TOKEN (SY_RL_RATE_PER_SEC tokens per
 * second); a token not yet earned is kept in last_ns, which advances by whole
 * tokens only. A bucket whose last_ns lies in the future (written by another
 * CPU meanwhile) gets no refill. */
#define SY_RL_NS_PER_TOKEN (SY_NSEC_PER_SEC / SY_RL_RATE_PER_SEC)

/* Take one token from bucket idx (SY_RL_*). Returns 1 if the answer may be
 * sent, 0 if it must be suppressed. A missing bucket (cannot happen: ARRAY)
 * fails closed. */
static __always_inline int sy_rl_take(__u32 idx, __u64 now)
{
	struct sy_rate_bucket *b = bpf_map_lookup_elem(&sy_icmp_rate, &idx);
	__u64 elapsed, add;
	int ok = 0;

	if (!b)
		return 0;
	bpf_spin_lock(&b->lock);
	elapsed = now > b->last_ns ? now - b->last_ns : 0;
	if (elapsed >= SY_RL_BURST * SY_RL_NS_PER_TOKEN) {
		b->tokens = SY_RL_BURST; /* idle long enough: full bucket */
		b->last_ns = now;
	} else if (elapsed >= SY_RL_NS_PER_TOKEN) {
		add = elapsed / SY_RL_NS_PER_TOKEN;
		b->last_ns += add * SY_RL_NS_PER_TOKEN;
		b->tokens = b->tokens + add > SY_RL_BURST ? SY_RL_BURST :
							    b->tokens + add;
	}
	if (b->tokens > 0) {
		b->tokens--;
		ok = 1;
	}
	bpf_spin_unlock(&b->lock);
	return ok;
}

#endif /* SY_RATELIMIT_H */
