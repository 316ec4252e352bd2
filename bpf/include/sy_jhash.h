/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * jhash_3words exactly as in <linux/jhash.h> (Bob Jenkins' lookup3 final
 * mix). The control plane re-implements it to predict Maglev slots, so any
 * change here breaks that contract (see the flow hash note in sy_structs.h).
 */
#ifndef SY_JHASH_H
#define SY_JHASH_H

#include <linux/types.h>

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

#endif /* SY_JHASH_H */
