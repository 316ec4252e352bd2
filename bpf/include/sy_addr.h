/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Addresses of either family, for code written once for both. A family is
 * a compile-time constant (SY_AF4, SY_AF6) passed to __always_inline
 * functions: every branch on it folds away, so an IPv4 caller compiles to
 * what it compiled to before the IPv6 path existed. An address is passed as
 * a pointer to network-order words: one for IPv4, four for IPv6 (the bytes
 * of struct in6_addr, as in the *6 maps of sy_structs.h).
 *
 * What differs by family and is chosen here: the conntrack and backend
 * maps, and where a backend entry keeps its state.
 */
#ifndef SY_ADDR_H
#define SY_ADDR_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sy_structs.h"
#include "sy_maps.h"

#define SY_AF4 4
#define SY_AF6 6

/* ---- IPv6 addresses (four network-order words) ------------------------- */

static __always_inline int sy_a6_eq(const __be32 *a, const __be32 *b)
{
	return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) |
		(a[3] ^ b[3])) == 0;
}

static __always_inline int sy_a6_is_zero(const __be32 *a)
{
	return (a[0] | a[1] | a[2] | a[3]) == 0;
}

static __always_inline void sy_a6_copy(__be32 *dst, const __be32 *src)
{
	dst[0] = src[0];
	dst[1] = src[1];
	dst[2] = src[2];
	dst[3] = src[3];
}

/* (a & mask) == net, word by word. */
static __always_inline int sy_a6_in_net(const __be32 *a, const __be32 *net,
					const __be32 *mask)
{
	return (((a[0] & mask[0]) ^ net[0]) | ((a[1] & mask[1]) ^ net[1]) |
		((a[2] & mask[2]) ^ net[2]) | ((a[3] & mask[3]) ^ net[3])) == 0;
}

/* ---- either family ----------------------------------------------------- */

static __always_inline int sy_addr_eq(int fam, const __be32 *a,
				      const __be32 *b)
{
	return fam == SY_AF6 ? sy_a6_eq(a, b) : a[0] == b[0];
}

static __always_inline void *sy_ct_map(int fam)
{
	return fam == SY_AF6 ? (void *)&sy_conntrack6 : (void *)&sy_conntrack;
}

static __always_inline void *sy_backends_map(int fam)
{
	return fam == SY_AF6 ? (void *)&sy_backends6 : (void *)&sy_backends;
}

/* SY_BE_* of a backend entry of family fam. */
static __always_inline __u8 sy_backend_state(int fam, const void *be)
{
	return fam == SY_AF6 ? ((const struct sy_backend6 *)be)->state :
			       ((const struct sy_backend *)be)->state;
}

#endif /* SY_ADDR_H */
