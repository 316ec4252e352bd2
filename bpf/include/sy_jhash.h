/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * jhash_3words exactly as in <linux/jhash.h> (Bob Jenkins' lookup3 final
 * mix), and the IPv4 flow hash built on it. The control plane re-implements
 * both to predict Maglev slots, so any change here breaks that contract
 * (see the flow hash note in sy_structs.h).
 */
#ifndef SY_JHASH_H
#define SY_JHASH_H

#include <linux/types.h>
#include <bpf/bpf_endian.h>

#define SY_JHASH_INITVAL 0xdeadbeef

static __always_inline __u32 sy_rol32(__u32 word, unsigned int shift)
{
	return (word << shift) | (word >> ((-shift) & 31));
}

#define __sy_jhash_final(a, b, c)               \
	{                                       \
		c ^= b; c -= sy_rol32(b, 14);   \
		a ^= c; a -= sy_rol32(c, 11);   \
		b ^= a; b -= sy_rol32(a, 25);   \
		c ^= b; c -= sy_rol32(b, 16);   \
		a ^= c; a -= sy_rol32(c, 4);    \
		b ^= a; b -= sy_rol32(a, 14);   \
		c ^= b; c -= sy_rol32(b, 24);   \
	}

static __always_inline __u32 sy_jhash_3words(__u32 a, __u32 b, __u32 c,
					     __u32 initval)
{
	initval += SY_JHASH_INITVAL + (3 << 2);
	a += initval;
	b += initval;
	c += initval;
	__sy_jhash_final(a, b, c);
	return c;
}

/* The flow hash of an IPv4 tuple (sy_structs.h, "Flow hash"): the Maglev
 * slot of tc and XDP (seed: sy_config.flow_hash_seed), and the SNAT port
 * candidates (sy_conntrack.h). */
static __always_inline __u32 sy_flow_hash(__be32 saddr, __be32 daddr,
					  __be16 sport, __be16 dport,
					  __u8 proto, __u32 seed)
{
	return sy_jhash_3words(bpf_ntohl(saddr), bpf_ntohl(daddr),
			       ((__u32)bpf_ntohs(sport) << 16) |
				       bpf_ntohs(dport),
			       seed + proto);
}

/* The flow hash of an IPv6 tuple: the same 3-word hash, each 16-byte
 * address folded to one word by XOR of its four words (host order):
 *   a = ntohl(s0) ^ ntohl(s1) ^ ntohl(s2) ^ ntohl(s3), b likewise of the
 *   destination, c and initval as for IPv4.
 * The control plane predicts Maglev slots with it (docs/maps.md, "The flow
 * hash"). */
static __always_inline __u32 sy_flow_hash6(const __be32 *saddr,
					   const __be32 *daddr, __be16 sport,
					   __be16 dport, __u8 proto, __u32 seed)
{
	return sy_jhash_3words(bpf_ntohl(saddr[0] ^ saddr[1] ^ saddr[2] ^
					 saddr[3]),
			       bpf_ntohl(daddr[0] ^ daddr[1] ^ daddr[2] ^
					 daddr[3]),
			       ((__u32)bpf_ntohs(sport) << 16) |
				       bpf_ntohs(dport),
			       seed + proto);
}

#endif /* SY_JHASH_H */
