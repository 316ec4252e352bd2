/* IPv6 frames for the BPF tests: Ethernet + IPv6 (+ extension headers) +
 * TCP/UDP, built from scratch with the L4 checksum from a plain RFC 1071
 * sum over the IPv6 pseudo header (RFC 8200 8.1), never by incremental
 * update; and the independent check of a frame's L4 checksum. Addresses
 * are in fd00::/8 only. */
#ifndef SY_TEST_PACKETS6_H
#define SY_TEST_PACKETS6_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>

#include "sy_test.h"

struct ip6 {
	uint8_t b[16];
};

/* fd00:0:0:<net>::<host> */
static inline struct ip6 ip6a(uint16_t net, uint32_t host)
{
	struct ip6 a;

	memset(&a, 0, sizeof(a));
	a.b[0] = 0xfd;
	a.b[6] = net >> 8;
	a.b[7] = net & 0xff;
	a.b[12] = host >> 24;
	a.b[13] = host >> 16;
	a.b[14] = host >> 8;
	a.b[15] = host;
	return a;
}

static inline const char *ip6str(struct ip6 a)
{
	static char buf[4][INET6_ADDRSTRLEN];
	static int i;

	i = (i + 1) & 3;
	inet_ntop(AF_INET6, a.b, buf[i], sizeof(buf[i]));
	return buf[i];
}

static inline bool ip6eq(struct ip6 a, struct ip6 b)
{
	return memcmp(a.b, b.b, 16) == 0;
}

#define EXT6_MAX 8
/* Extension headers a frame may carry (pktdef6.ext): */
#define X6_HOP   0  /* hop-by-hop, 8 bytes: PadN */
#define X6_DEST  60 /* destination options, 16 bytes: PadN */
#define X6_RT    43 /* routing type 4 header, 8 bytes, segments left rt_left */
#define X6_FRAG  44 /* fragment header: frag_off (host order field value), id */
#define X6_AH    51 /* authentication header, 12 bytes */

struct pktdef6 {
	struct ip6 saddr, daddr;
	uint16_t sport, dport; /* host order */
	uint8_t proto;
	uint8_t tcp_flags;
	int payload;           /* payload bytes after the L4 header */
	uint8_t ext[EXT6_MAX]; /* X6_* in order */
	int n_ext;
	uint8_t rt_left;       /* X6_RT: segments left */
	uint16_t frag_off;     /* X6_FRAG: offset << 3 | M */
	bool udp_zero_csum;    /* UDP checksum field 0 (not allowed) */
	bool pw_set;           /* payload's first 16-bit word is pw */
	uint16_t pw;
	uint8_t hop;           /* hop limit; 0 means 64 */
};

static inline struct pktdef6 tcp6(struct ip6 s, struct ip6 d, uint16_t sp,
				  uint16_t dp, uint8_t flags)
{
	struct pktdef6 p;

	memset(&p, 0, sizeof(p));
	p.saddr = s;
	p.daddr = d;
	p.sport = sp;
	p.dport = dp;
	p.proto = IPPROTO_TCP;
	p.tcp_flags = flags;
	p.payload = (flags & TH_SYN) ? 0 : 13;
	return p;
}

static inline struct pktdef6 udp6(struct ip6 s, struct ip6 d, uint16_t sp,
				  uint16_t dp)
{
	struct pktdef6 p = tcp6(s, d, sp, dp, 0);

	p.proto = IPPROTO_UDP;
	p.payload = 21;
	return p;
}

/* Sum of the IPv6 pseudo header of an upper-layer packet of len bytes. */
static inline uint32_t pseudo6(const uint8_t *ip6, uint32_t len, uint8_t nh)
{
	uint32_t s = sum16(ip6 + 8, 32, 0);

	s += len >> 16;
	s += len & 0xffff;
	s += nh;
	return s;
}

static inline size_t build6(uint8_t *b, const struct pktdef6 *d)
{
	size_t l3 = build_eth(b, ETHERTYPE_IPV6), off, l4len, i;
	uint8_t *ip = b + l3, *th;
	uint8_t *nhp = ip + 6;
	uint16_t c;

	l4len = (d->proto == IPPROTO_TCP ? 20 : 8) + d->payload;
	memset(ip, 0, 40);
	ip[0] = 0x60; /* traffic class 0x0a, flow label 0x12345 */
	ip[1] = 0x0a << 4 | 0x01;
	ip[2] = 0x23;
	ip[3] = 0x45;
	ip[7] = d->hop ? d->hop : 64;
	memcpy(ip + 8, d->saddr.b, 16);
	memcpy(ip + 24, d->daddr.b, 16);
	off = 40;
	for (int e = 0; e < d->n_ext; e++) {
		uint8_t *h = ip + off;
		size_t hl;

		*nhp = d->ext[e];
		switch (d->ext[e]) {
		case X6_DEST:
			hl = 16;
			memset(h, 0, hl);
			h[1] = 1;
			h[2] = 1; /* PadN */
			h[3] = 12;
			break;
		case X6_RT:
			hl = 8;
			memset(h, 0, hl);
			h[1] = 0;
			h[2] = 4; /* segment routing type, no segments listed */
			h[3] = d->rt_left;
			break;
		case X6_FRAG:
			hl = 8;
			memset(h, 0, hl);
			put16(h + 2, d->frag_off);
			put32(h + 4, 0xabcd1234);
			break;
		case X6_AH:
			hl = 12;
			memset(h, 0, hl);
			h[1] = 1; /* (12 / 4) - 2 */
			break;
		default: /* X6_HOP */
			hl = 8;
			memset(h, 0, hl);
			h[2] = 1; /* PadN */
			h[3] = 4;
			break;
		}
		nhp = h;
		off += hl;
	}
	*nhp = d->proto;
	put16(ip + 4, off - 40 + l4len);
	th = ip + off;
	put16(th, d->sport);
	put16(th + 2, d->dport);
	if (d->proto == IPPROTO_TCP) {
		put32(th + 4, 0x01020304);
		put32(th + 8, (d->tcp_flags & TH_ACK) ? 0x0a0b0c0d : 0);
		th[12] = 5 << 4;
		th[13] = d->tcp_flags;
		put16(th + 14, 0xffff);
		put16(th + 16, 0);
		put16(th + 18, 0);
		for (i = 0; i < (size_t)d->payload; i++)
			th[20 + i] = (uint8_t)(i * 7 + 3);
		if (d->pw_set && d->payload >= 2)
			put16(th + 20, d->pw);
		c = ~fold(sum16(th, l4len, pseudo6(ip, l4len, d->proto)));
		put16(th + 16, c);
	} else {
		put16(th + 4, l4len);
		put16(th + 6, 0);
		for (i = 0; i < (size_t)d->payload; i++)
			th[8 + i] = (uint8_t)(i * 5 + 1);
		if (d->pw_set && d->payload >= 2)
			put16(th + 8, d->pw);
		c = ~fold(sum16(th, l4len, pseudo6(ip, l4len, d->proto)));
		if (c == 0)
			c = 0xffff; /* RFC 8200 8.1 */
		put16(th + 6, d->udp_zero_csum ? 0 : c);
	}
	return l3 + off + l4len;
}

/* The L4 checksum of an IPv6 TCP/UDP frame, over its real bytes (the
 * extension headers walked as build6() writes them). */
static inline bool csums_valid6(const uint8_t *b, size_t len, char *why,
				size_t wlen)
{
	const uint8_t *ip = b + 14;
	size_t off = 40, plen;
	uint8_t nh;

	if (len < 14 + 40) {
		snprintf(why, wlen, "frame too short (%zu)", len);
		return false;
	}
	plen = get16(ip + 4);
	if (14 + 40 + plen > len) {
		snprintf(why, wlen, "payload length %zu beyond the frame", plen);
		return false;
	}
	nh = ip[6];
	while (nh == 0 || nh == 43 || nh == 60 || nh == 44) {
		size_t hl = nh == 44 ? 8 : ((size_t)ip[off + 1] + 1) * 8;

		nh = ip[off];
		off += hl;
	}
	if (nh == IPPROTO_UDP && get16(ip + off + 6) == 0) {
		snprintf(why, wlen, "UDP checksum 0 over IPv6");
		return false;
	}
	if (fold(sum16(ip + off, 40 + plen - off,
		       pseudo6(ip, 40 + plen - off, nh))) != 0xffff) {
		snprintf(why, wlen, "L4 checksum invalid");
		return false;
	}
	return true;
}

/* The reference IPv6 flow hash (docs/maps.md, "The flow hash"): each
 * address folded to one host-order word by XOR of its four words. */
static inline uint32_t fold6(struct ip6 a)
{
	uint32_t w = 0;

	for (int i = 0; i < 16; i += 4)
		w ^= (uint32_t)a.b[i] << 24 | (uint32_t)a.b[i + 1] << 16 |
		     (uint32_t)a.b[i + 2] << 8 | a.b[i + 3];
	return w;
}

static inline uint32_t expected_slot6(struct ip6 s, struct ip6 d,
				      uint16_t sport, uint16_t dport,
				      uint8_t proto, uint32_t size)
{
	return ref_jhash_3words(fold6(s), fold6(d),
				(uint32_t)sport << 16 | dport, SEED + proto) %
	       size;
}

#endif
