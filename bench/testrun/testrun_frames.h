/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the per-packet cost tools (ct_cost.c, ext_cost.c) share: a crafted
 * Ethernet + IPv4 + TCP frame with correct checksums, and the percentile
 * sort. Host-side code (no BPF), so plain loops are fine here.
 */
#ifndef SY_TESTRUN_FRAMES_H
#define SY_TESTRUN_FRAMES_H

#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)(p[n - 1] << 8);
	return s;
}

static inline uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Ethernet + IPv4 (DF) + TCP, no payload, checksums right; addresses host
 * order; dmac/smac may be NULL (zero MACs). Returns the length (54). */
static inline size_t tcp_frame(uint8_t *b, const uint8_t *dmac,
			       const uint8_t *smac, uint32_t sa, uint32_t da,
			       uint16_t sp, uint16_t dp_, uint8_t flags)
{
	uint8_t *ip = b + 14, *th = b + 34, ph[12];

	memset(b, 0, 54);
	if (dmac)
		memcpy(b, dmac, 6);
	if (smac)
		memcpy(b + 6, smac, 6);
	b[12] = 0x08;
	ip[0] = 0x45;
	ip[3] = 40;
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = 6;
	*(uint32_t *)(ip + 12) = htonl(sa);
	*(uint32_t *)(ip + 16) = htonl(da);
	*(uint16_t *)(ip + 10) = htons(fold(sum16(ip, 20, 0)));
	*(uint16_t *)th = htons(sp);
	*(uint16_t *)(th + 2) = htons(dp_);
	th[12] = 0x50;
	th[13] = flags;
	*(uint16_t *)(th + 14) = htons(64240);
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = 6;
	ph[10] = 0;
	ph[11] = 20;
	*(uint16_t *)(th + 16) = htons(fold(sum16(th, 20, sum16(ph, 12, 0))));
	return 54;
}

/* Ethernet + IPv6 + TCP, no payload, checksum right; addresses as 16
 * network-order bytes. Returns the length (74). */
static inline size_t tcp6_frame(uint8_t *b, const uint8_t *sa,
				const uint8_t *da, uint16_t sp, uint16_t dp_,
				uint8_t flags)
{
	uint8_t *ip = b + 14, *th = b + 54;
	uint32_t s;

	memset(b, 0, 74);
	b[12] = 0x86;
	b[13] = 0xdd;
	ip[0] = 0x60;
	ip[5] = 20;
	ip[6] = 6;
	ip[7] = 64;
	memcpy(ip + 8, sa, 16);
	memcpy(ip + 24, da, 16);
	*(uint16_t *)th = htons(sp);
	*(uint16_t *)(th + 2) = htons(dp_);
	th[12] = 0x50;
	th[13] = flags;
	*(uint16_t *)(th + 14) = htons(64240);
	s = sum16(ip + 8, 32, 0) + 6 + 20;
	*(uint16_t *)(th + 16) = htons(fold(sum16(th, 20, s)));
	return 74;
}

static inline int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

#endif
