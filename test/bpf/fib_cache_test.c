// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * BPF_PROG_TEST_RUN of the route-result cache (sy_fib_cache.h) through
 * sy_xdp, for either family: the callers (xdp_test.c, ipv6_test.c) give a
 * NodePort flow of their namespace's FIB, two packets of it and those
 * packets as the FIB forwards them (every byte). The cache must be filled by
 * the first packet, serve the next (an entry planted with other MACs shows
 * it: the frame carries them), and be bypassed once the generation changed
 * or the entry is older than SY_FIB_CACHE_MAX_AGE_NS.
 */
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sy_test.h"

/* One generation further in sy_fib_gen's value (the low bits: key mode). */
#define GEN_STEP (1u << SY_FIB_GEN_SHIFT)

static const uint8_t PLANT_SMAC[6] = { 0x02, 0, 0, 0, 0xca, 0x01 };
static const uint8_t PLANT_DMAC[6] = { 0x02, 0, 0, 0, 0xca, 0x02 };

static uint32_t gen_get(void)
{
	uint32_t zero = 0, gen = 0;

	bpf_map_lookup_elem(bpf_map__fd(skel->maps.sy_fib_gen), &zero, &gen);
	return gen;
}

void fib_cache_set_gen(uint32_t gen)
{
	uint32_t zero = 0;

	bpf_map_update_elem(bpf_map__fd(skel->maps.sy_fib_gen), &zero, &gen,
			    BPF_ANY);
}

static void cache_clear(void)
{
	int fd = bpf_map__fd(skel->maps.sy_fib_cache);
	struct sy_fib_key k;

	while (bpf_map_get_next_key(fd, NULL, &k) == 0)
		bpf_map_delete_elem(fd, &k);
}

/* The only entry of the cache; false unless there is exactly one. */
static bool cache_only(struct sy_fib_key *k, struct sy_fib_entry *e)
{
	int fd = bpf_map__fd(skel->maps.sy_fib_cache);
	struct sy_fib_key next;

	if (bpf_map_get_next_key(fd, NULL, k) ||
	    bpf_map_get_next_key(fd, k, &next) == 0)
		return false;
	return bpf_map_lookup_elem(fd, k, e) == 0;
}

/* A check name: "fib cache <family>: what". */
static const char *named(const struct fib_cache_case *c, const char *what)
{
	static char name[256];

	snprintf(name, sizeof(name), "fib cache %s: %s", c->family, what);
	return name;
}

/* Runs in and compares the result with exp, whose MACs are replaced by
 * dmac/smac when given. */
static bool fwd_is(const char *name, const struct fib_cache_case *c,
		   const uint8_t *in, size_t len, const uint8_t *exp,
		   size_t elen, const uint8_t *dmac, const uint8_t *smac)
{
	uint8_t out[BUF], want[BUF];
	const char *diff;
	size_t olen;
	uint32_t ret;

	memcpy(want, exp, elen);
	if (dmac) {
		memcpy(want, dmac, 6);
		memcpy(want + 6, smac, 6);
	}
	if (run_xdp_prog(c->fd_xdp, in, len, out, &olen, &ret, c->ifindex))
		return check(false, name, "%s", "test run failed");
	if (ret != XDP_REDIRECT)
		return check(false, name, "returned %u, expected XDP_REDIRECT",
			     ret);
	diff = diff_bytes(out, olen, want, elen);
	return check(!diff, name, "%s", diff ? diff : "");
}

/* The case's next packet forwarded: with the FIB's MACs (dmac NULL) or
 * with dmac/smac. */
static bool next_is(const struct fib_cache_case *c, const char *what,
		    const uint8_t *dmac, const uint8_t *smac)
{
	return fwd_is(named(c, what), c, c->next, c->next_len, c->next_exp,
		      c->next_exp_len, dmac, smac);
}

/* The key mode (sy_fib_gen's SY_FIB_SHORT_KEY_* bits): with the family's
 * short key, another new flow from the same client to the same backend
 * hits the entry the first filled; with the full key it asks the kernel.
 * gen: a generation value without mode bits, two steps unused. */
static void test_key_mode(const struct fib_cache_case *c, uint32_t gen)
{
	uint32_t short_bit = c->af == 2 ? SY_FIB_SHORT_KEY_V4 : SY_FIB_SHORT_KEY_V6;
	struct sy_fib_entry e;
	struct sy_fib_key k;
	uint64_t hit0, miss0;
	bool one;

	for (int mode = 0; mode < 2; mode++) {
		bool is_short = mode == 0;
		/* The other family's bit never matters to this one. */
		uint32_t val = gen + mode * GEN_STEP +
			(is_short ? short_bit : (SY_FIB_SHORT_KEY_V4 |
						 SY_FIB_SHORT_KEY_V6) & ~short_bit);

		fib_cache_set_gen(val);
		cache_clear();
		fwd_is(named(c, is_short ? "short key: first new flow forwarded with the FIB's MACs"
					 : "full key: first new flow forwarded with the FIB's MACs"),
		       c, c->first, c->first_len, c->first_exp,
		       c->first_exp_len, NULL, NULL);
		one = cache_only(&k, &e);
		if (is_short)
			check(one && k.proto == 0 && k.sport == 0 &&
				      k.dport == 0 && e.gen == val &&
				      (c->af == 2 || ntohl(k.flowinfo) == 0x00a00000),
			      named(c, "short key: one entry, protocol, ports and flow label 0 (IPv6: traffic class 0x0a kept)"),
			      "one %d proto %u sport %u dport %u flowinfo %08x gen %u/%u",
			      one, k.proto, ntohs(k.sport), ntohs(k.dport),
			      ntohl(k.flowinfo), e.gen, val);
		else
			check(one && k.proto == 6 && k.sport && k.dport &&
				      e.gen == val,
			      named(c, "full key: one entry with protocol and ports"),
			      "one %d proto %u sport %u dport %u gen %u/%u", one,
			      k.proto, ntohs(k.sport), ntohs(k.dport), e.gen,
			      val);
		if (!one)
			continue;
		memcpy(e.smac, PLANT_SMAC, 6);
		memcpy(e.dmac, PLANT_DMAC, 6);
		bpf_map_update_elem(bpf_map__fd(skel->maps.sy_fib_cache), &k,
				    &e, BPF_EXIST);
		hit0 = counter(SY_CNT_FIB_CACHE_HIT);
		miss0 = counter(SY_CNT_FIB_CACHE_MISS);
		if (is_short)
			fwd_is(named(c, "short key: a second new flow (other source port, IPv6 other flow label) hits the first's entry: the planted MACs, every other byte as forwarded"),
			       c, c->other, c->other_len, c->other_exp,
			       c->other_exp_len, PLANT_DMAC, PLANT_SMAC);
		else
			fwd_is(named(c, "full key: a second new flow asks the kernel: the FIB's MACs"),
			       c, c->other, c->other_len, c->other_exp,
			       c->other_exp_len, NULL, NULL);
		check(counter(SY_CNT_FIB_CACHE_HIT) - hit0 == is_short &&
			      counter(SY_CNT_FIB_CACHE_MISS) - miss0 == !is_short,
		      named(c, is_short ? "... counted: hit +1, miss +0"
				       : "... counted: hit +0, miss +1"),
		      "hit +%llu miss +%llu",
		      (unsigned long long)(counter(SY_CNT_FIB_CACHE_HIT) - hit0),
		      (unsigned long long)(counter(SY_CNT_FIB_CACHE_MISS) - miss0));
	}
}

void test_fib_cache(const struct fib_cache_case *c)
{
	int fd = bpf_map__fd(skel->maps.sy_fib_cache);
	uint64_t hit0 = counter(SY_CNT_FIB_CACHE_HIT);
	uint64_t miss0 = counter(SY_CNT_FIB_CACHE_MISS);
	uint32_t gen = gen_get();
	struct sy_fib_entry e, planted;
	struct sy_fib_key k;
	const char *name;
	bool one;

	cache_clear();
	name = named(c, "first packet of a NodePort flow: looked up (miss +1), forwarded with the FIB's MACs");
	fwd_is(name, c, c->first, c->first_len, c->first_exp,
	       c->first_exp_len, NULL, NULL);
	name = named(c, "... counted: SY_CNT_FIB_CACHE_MISS +1, _HIT +0");
	check(counter(SY_CNT_FIB_CACHE_MISS) == miss0 + 1 &&
		      counter(SY_CNT_FIB_CACHE_HIT) == hit0,
	      name, "miss +%llu hit +%llu",
	      (unsigned long long)(counter(SY_CNT_FIB_CACHE_MISS) - miss0),
	      (unsigned long long)(counter(SY_CNT_FIB_CACHE_HIT) - hit0));
	one = cache_only(&k, &e);
	name = named(c, "... one entry: key (family, arrival device), value egress device, FIB MACs, MTU 1500, current generation, stamped now");
	check(one && k.family == c->af && k.ifindex == c->ifindex &&
		      e.ifindex == c->egress && e.mtu == 1500 &&
		      e.gen == gen && !memcmp(e.smac, c->first_exp + 6, 6) &&
		      !memcmp(e.dmac, c->first_exp, 6) &&
		      mono_ns() - e.stamp_ns < 1000000000ull,
	      name,
	      "one %d family %u ifindex %u -> %u mtu %u gen %u (now %u)", one,
	      k.family, k.ifindex, e.ifindex, e.mtu, e.gen, gen);
	if (!one)
		return;

	/* Served from the cache: the planted MACs are in the frame. */
	planted = e;
	memcpy(planted.smac, PLANT_SMAC, 6);
	memcpy(planted.dmac, PLANT_DMAC, 6);
	bpf_map_update_elem(fd, &k, &planted, BPF_EXIST);
	hit0 = counter(SY_CNT_FIB_CACHE_HIT);
	next_is(c, "next packet uses the cached route: the planted MACs, every other byte as forwarded (hit +1)",
		PLANT_DMAC, PLANT_SMAC);
	name = named(c, "... counted: SY_CNT_FIB_CACHE_HIT +1");
	check(counter(SY_CNT_FIB_CACHE_HIT) == hit0 + 1, name, "hit +%llu",
	      (unsigned long long)(counter(SY_CNT_FIB_CACHE_HIT) - hit0));

	/* A route change reported: the generation moves on (same mode). */
	fib_cache_set_gen(gen + GEN_STEP);
	next_is(c, "after a generation bump the route is looked up again: the FIB's MACs",
		NULL, NULL);
	name = named(c, "... and the entry is refreshed with the new generation");
	check(bpf_map_lookup_elem(fd, &k, &e) == 0 && e.gen == gen + GEN_STEP &&
		      !memcmp(e.dmac, c->next_exp, 6),
	      name, "gen %u", e.gen);

	/* No report, but the entry is older than the bound. */
	planted.gen = gen + GEN_STEP;
	planted.stamp_ns = mono_ns() - 1000000000ull - 1000000ull;
	bpf_map_update_elem(fd, &k, &planted, BPF_EXIST);
	next_is(c, "an entry older than SY_FIB_CACHE_MAX_AGE_NS (1 s) is not used: the FIB's MACs",
		NULL, NULL);
	/* ... while a younger one is. */
	planted.stamp_ns = mono_ns() - 900000000ull;
	bpf_map_update_elem(fd, &k, &planted, BPF_EXIST);
	next_is(c, "... one of 0.9 s still is: the planted MACs",
		PLANT_DMAC, PLANT_SMAC);

	/* The MTU verdict from the entry, as the kernel's: longer than the
	 * route's MTU is FRAG_NEEDED (sy_xdp: no DF / IPv6, so the packet
	 * goes to the stack untouched); as long as the MTU still fits. */
	planted.stamp_ns = mono_ns();
	planted.mtu = (uint16_t)(c->next_len - 14 - 1);
	bpf_map_update_elem(fd, &k, &planted, BPF_EXIST);
	{
		uint8_t out[BUF];
		size_t olen;
		uint32_t ret = 0;
		const char *diff = "test run failed";

		if (!run_xdp_prog(c->fd_xdp, c->next, c->next_len, out, &olen,
				  &ret, c->ifindex))
			diff = diff_bytes(out, olen, c->next, c->next_len);
		check(ret == XDP_PASS && !diff,
		      named(c, "cached MTU one byte below the packet: too big (FRAG_NEEDED), XDP_PASS untouched"),
		      "ret %u %s", ret, diff ? diff : "");
	}
	planted.mtu = (uint16_t)(c->next_len - 14);
	bpf_map_update_elem(fd, &k, &planted, BPF_EXIST);
	next_is(c, "cached MTU equal to the packet's length: forwarded (the planted MACs)",
		PLANT_DMAC, PLANT_SMAC);

	/* Generation 0: no loader watches routes, the cache is off. */
	fib_cache_set_gen(0);
	next_is(c, "generation 0 (no route watcher): the FIB is asked, the fresh planted entry ignored",
		NULL, NULL);
	test_key_mode(c, (gen & ~(GEN_STEP - 1)) + 2 * GEN_STEP);
	fib_cache_set_gen(gen + 4 * GEN_STEP);
	cache_clear(); /* the planted entry must not serve later tests */
}
