// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * BPF_PROG_TEST_RUN suite of the datapath: this file has main(), the shared
 * helpers (sy_test.h) and the sy_tc_ingress tests; external_test.c covers
 * device roles, SNAT, source ranges, hairpin and counters, xdp_test.c sy_xdp.
 * The whole run is in a private network namespace. Nothing is pinned or
 * attached:
 * the skeleton is loaded, its maps are filled from here, and hand-built
 * packets are run through the program. Expected packets are built from
 * scratch with the new addresses/ports and checksums computed by a plain
 * RFC 1071 sum, never by incremental update; the flow hash is a separate
 * implementation of jhash_3words so the datapath header is not tested
 * against itself.
 *
 * Output: one "ok N - name" / "not ok N - name: detail" line per check, then
 * "N passed, M failed". Exit status is non-zero on any failure.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sy_structs.h"
#include "switchyard.skel.h"
#include "sy_test.h"

/* ------------------------------------------------------------------ */
/* Reporting                                                          */

int n_pass, n_fail, n_check;

bool check(bool cond, const char *name, const char *fmt, ...)
{
	n_check++;
	if (cond) {
		n_pass++;
		printf("ok %d - %s\n", n_check, name);
	} else {
		va_list ap;

		n_fail++;
		printf("not ok %d - %s: ", n_check, name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
	return cond;
}

/* ------------------------------------------------------------------ */
/* Independent reference implementations                              */

/* RFC 1071 internet checksum over bytes, big-endian 16-bit words. */
uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Bob Jenkins' lookup3 jhash_3words (final mix), written from the
 * algorithm description rather than copied from the BPF header. */
uint32_t rotl(uint32_t x, int k)
{
	return (x << k) | (x >> (32 - k));
}

uint32_t ref_jhash_3words(uint32_t a, uint32_t b, uint32_t c,
				 uint32_t initval)
{
	uint32_t iv = initval + 0xdeadbeefu + 12u;

	a += iv;
	b += iv;
	c += iv;
	c ^= b; c -= rotl(b, 14);
	a ^= c; a -= rotl(c, 11);
	b ^= a; b -= rotl(a, 25);
	c ^= b; c -= rotl(b, 16);
	a ^= c; a -= rotl(c, 4);
	b ^= a; b -= rotl(a, 14);
	c ^= b; c -= rotl(b, 24);
	return c;
}

/* Addresses are kept in network order (as in the maps); ports host order. */
uint32_t ip4(int a, int b, int c, int d)
{
	return htonl((uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 |
		     (uint32_t)d);
}

const char *ipstr(uint32_t addr)
{
	static char buf[4][INET_ADDRSTRLEN];
	static int i;
	struct in_addr in = { .s_addr = addr };

	i = (i + 1) & 3;
	inet_ntop(AF_INET, &in, buf[i], sizeof(buf[i]));
	return buf[i];
}


uint32_t expected_slot(uint32_t saddr, uint32_t daddr, uint16_t sport,
			      uint16_t dport, uint8_t proto, uint32_t size)
{
	uint32_t h = ref_jhash_3words(ntohl(saddr), ntohl(daddr),
				      (uint32_t)sport << 16 | dport,
				      SEED + proto);
	return h % size;
}

/* ------------------------------------------------------------------ */
/* Packet builder                                                     */



void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Destination MAC of built frames: the address of the device the test run
 * classifies the frame on (eth_type_trans() in BPF_PROG_TEST_RUN), so that
 * the frame is PACKET_HOST; loopback's address (all zero) by default. */
uint8_t eth_dst[6];

size_t build_eth(uint8_t *b, uint16_t ethertype)
{
	static const uint8_t src[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };

	memcpy(b, eth_dst, 6);
	memcpy(b + 6, src, 6);
	put16(b + 12, ethertype);
	return 14;
}

/* Full Ethernet + IPv4 + TCP/UDP/ICMP frame with correct checksums. */
size_t build(uint8_t *b, const struct pktdef *d)
{
	int ihl = d->ihl ? d->ihl : 5;
	size_t l3 = build_eth(b, ETHERTYPE_IPV4);
	size_t l4 = l3 + ihl * 4;
	size_t l4len, tot, i;
	uint8_t *ip = b + l3, *th = b + l4;
	uint32_t s;

	if (d->proto == IPPROTO_TCP)
		l4len = 20 + d->payload;
	else if (d->proto == IPPROTO_UDP)
		l4len = 8 + d->payload;
	else
		l4len = 8 + d->payload; /* ICMP echo */
	tot = ihl * 4 + l4len;

	ip[0] = 0x40 | ihl;
	ip[1] = 0;
	put16(ip + 2, tot);
	put16(ip + 4, 0x1234);
	put16(ip + 6, d->frag_off);
	ip[8] = 64;
	ip[9] = d->proto;
	put16(ip + 10, 0);
	memcpy(ip + 12, &d->saddr, 4);
	memcpy(ip + 16, &d->daddr, 4);
	for (i = 20; i < (size_t)ihl * 4; i++)
		ip[i] = (i + 1 == (size_t)ihl * 4) ? 0 : 1; /* NOPs, then EOL */

	if (d->proto == IPPROTO_TCP) {
		put16(th, d->sport);
		put16(th + 2, d->dport);
		put32(th + 4, 0x01020304);
		put32(th + 8, (d->tcp_flags & TH_ACK) ? 0x0a0b0c0d : 0);
		th[12] = 5 << 4;
		th[13] = d->tcp_flags;
		put16(th + 14, 0xffff);
		put16(th + 16, 0);
		put16(th + 18, 0);
		for (i = 0; i < (size_t)d->payload; i++)
			th[20 + i] = (uint8_t)(i * 7 + 3);
	} else if (d->proto == IPPROTO_UDP) {
		put16(th, d->sport);
		put16(th + 2, d->dport);
		put16(th + 4, l4len);
		put16(th + 6, 0);
		for (i = 0; i < (size_t)d->payload; i++)
			th[8 + i] = (uint8_t)(i * 5 + 1);
	} else {
		th[0] = 8; /* echo request */
		th[1] = 0;
		put16(th + 2, 0);
		put16(th + 4, 0x4242);
		put16(th + 6, 1);
		for (i = 0; i < (size_t)d->payload; i++)
			th[8 + i] = (uint8_t)i;
		put16(th + 2, ~fold(sum16(th, l4len, 0)));
	}

	put16(ip + 10, ~fold(sum16(ip, ihl * 4, 0)));

	if (d->proto == IPPROTO_TCP || d->proto == IPPROTO_UDP) {
		s = sum16(ip + 12, 8, 0); /* pseudo header: saddr, daddr */
		s += d->proto;
		s += l4len;
		s = sum16(th, l4len, s);
		uint16_t c = ~fold(s);

		if (d->proto == IPPROTO_UDP) {
			if (d->udp_zero_csum)
				c = 0;
			else if (c == 0)
				c = 0xffff;
			put16(th + 6, c);
		} else {
			put16(th + 16, c);
		}
	}
	return l3 + tot;
}

/* Verify both checksums of an IPv4 TCP/UDP frame over its real bytes. */
bool csums_valid(const uint8_t *b, size_t len, char *why, size_t wlen)
{
	const uint8_t *ip = b + 14;
	size_t ihl, tot, l4len;
	uint32_t s;
	uint8_t proto;

	if (len < 34) {
		snprintf(why, wlen, "frame too short (%zu)", len);
		return false;
	}
	ihl = (ip[0] & 0xf) * 4;
	tot = get16(ip + 2);
	if (14 + tot > len || tot < ihl) {
		snprintf(why, wlen, "bad total length %zu", tot);
		return false;
	}
	if (fold(sum16(ip, ihl, 0)) != 0xffff) {
		snprintf(why, wlen, "IPv4 header checksum invalid (0x%04x)",
			 get16(ip + 10));
		return false;
	}
	proto = ip[9];
	l4len = tot - ihl;
	if (proto == IPPROTO_UDP && get16(ip + ihl + 6) == 0)
		return true; /* no checksum */
	s = sum16(ip + 12, 8, 0) + proto + l4len;
	s = sum16(ip + ihl, l4len, s);
	if (fold(s) != 0xffff) {
		snprintf(why, wlen, "L4 checksum invalid");
		return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Program and map plumbing                                           */

struct switchyard *skel;
int prog_fd, fd_services, fd_backends, fd_revnat, fd_maglev, fd_ct,
	fd_aff, fd_config;


/* Extra BPF_PROG_TEST_RUN flags (BPF_F_TEST_SKB_CHECKSUM_COMPLETE). */
uint32_t run_flags;
/* __sk_buff.ifindex of the runs (0: the kernel's default, loopback). */
uint32_t run_ifindex;

int run(const uint8_t *in, size_t len, uint8_t *out, size_t *outlen,
	       uint32_t *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = len,
		    .data_out = out, .data_size_out = BUF, .repeat = 1,
		    .flags = run_flags);
	struct __sk_buff ctx = { .ifindex = run_ifindex };
	int err;

	if (run_ifindex) {
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);
	}
	memset(out, 0xaa, BUF);
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return -errno;
	*outlen = opts.data_size_out;
	*retval = opts.retval;
	return 0;
}

/* Runs in through the XDP program prog_fd; with an ifindex, as arriving on
 * that device (xdp_md.ingress_ifindex). */
int run_xdp_prog(int prog_fd_xdp, const uint8_t *in, size_t len, uint8_t *out,
		 size_t *olen, uint32_t *ret, uint32_t ifindex)
{
	struct xdp_md ctx = { .data_end = (uint32_t)len,
			      .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in,
		    .data_size_in = len, .data_out = out,
		    .data_size_out = BUF, .repeat = 1);

	if (ifindex) {
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);
	}
	memset(out, 0xaa, BUF);
	if (bpf_prog_test_run_opts(prog_fd_xdp, &opts))
		return -errno;
	*olen = opts.data_size_out;
	*ret = opts.retval;
	return 0;
}

const char *diff_bytes(const uint8_t *got, size_t glen,
			      const uint8_t *exp, size_t elen)
{
	static char buf[256];
	size_t i;

	if (glen != elen) {
		snprintf(buf, sizeof(buf), "length %zu, expected %zu", glen,
			 elen);
		return buf;
	}
	for (i = 0; i < glen; i++)
		if (got[i] != exp[i]) {
			snprintf(buf, sizeof(buf),
				 "byte %zu is 0x%02x, expected 0x%02x", i,
				 got[i], exp[i]);
			return buf;
		}
	return NULL;
}

uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int add_service(uint32_t addr, uint16_t port, uint8_t proto,
		       uint8_t scope, uint32_t id, uint32_t group,
		       uint16_t count, uint16_t flags, uint32_t aff_timeout,
		       uint32_t table_size)
{
	struct sy_svc_key k;
	struct sy_svc_value v;
	struct sy_revnat rn;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	memset(&rn, 0, sizeof(rn));
	k.addr = addr;
	k.port = htons(port);
	k.proto = proto;
	k.scope = scope;
	v.id = id;
	v.group = group;
	v.count = count;
	v.flags = flags;
	v.affinity_timeout = aff_timeout;
	v.table_size = table_size;
	rn.addr = addr;
	rn.port = htons(port);
	if (bpf_map_update_elem(fd_services, &k, &v, BPF_ANY))
		return -errno;
	if (bpf_map_update_elem(fd_revnat, &id, &rn, BPF_ANY))
		return -errno;
	return 0;
}

/* Backend N lives at 10.200.(N>>8).(N&255), port 9000 + N%500: distinct
 * per id, so the rewritten destination identifies the backend. */
uint32_t be_addr(uint32_t id)
{
	return ip4(10, 200, (id >> 8) & 0xff, id & 0xff);
}

uint16_t be_port(uint32_t id)
{
	return 9000 + id % 500;
}

int add_backend(uint32_t id, uint8_t proto, uint8_t state)
{
	struct sy_backend b;

	memset(&b, 0, sizeof(b));
	b.addr = be_addr(id);
	b.port = htons(be_port(id));
	b.proto = proto;
	b.state = state;
	if (bpf_map_update_elem(fd_backends, &id, &b, BPF_ANY))
		return -errno;
	return 0;
}

int backend_of(uint32_t addr, uint16_t port_host)
{
	uint32_t id = ntohl(addr) & 0xffff;

	if (addr != be_addr(id) || port_host != be_port(id))
		return -1;
	return (int)id;
}

/* Create an inner Maglev table of size m with slot i -> ids[i] and swap it
 * into sy_maglev[group]: (m + 1) / 2 elements of two slots, slot i at
 * element i / 2, index i & 1, the last element of an odd m padded with 0.
 * The fd is closed: the outer map holds the map. */
int set_table(uint32_t group, uint32_t m, const uint32_t *ids)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_INNER_MAP);
	uint32_t i, n = (m + 1) / 2;
	int fd, err = 0;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sy_test_mg", 4,
			    sizeof(struct sy_maglev_slots), n, &o);
	if (fd < 0)
		return -errno;
	for (i = 0; i < n && !err; i++) {
		struct sy_maglev_slots e = { { ids[2 * i],
					       2 * i + 1 < m ? ids[2 * i + 1] : 0 } };

		if (bpf_map_update_elem(fd, &i, &e, BPF_ANY))
			err = -errno;
	}
	if (!err && bpf_map_update_elem(fd_maglev, &group, &fd, BPF_ANY))
		err = -errno;
	close(fd);
	return err;
}

void ct_key(struct sy_ct_key *k, uint32_t saddr, uint32_t daddr,
		   uint16_t sport, uint16_t dport, uint8_t proto, uint8_t dir)
{
	memset(k, 0, sizeof(*k));
	k->saddr = saddr;
	k->daddr = daddr;
	k->sport = htons(sport);
	k->dport = htons(dport);
	k->proto = proto;
	k->dir = dir;
}

bool ct_get(uint32_t saddr, uint32_t daddr, uint16_t sport,
		   uint16_t dport, uint8_t proto, uint8_t dir,
		   struct sy_ct_value *v)
{
	struct sy_ct_key k;

	ct_key(&k, saddr, daddr, sport, dport, proto, dir);
	return bpf_map_lookup_elem(fd_ct, &k, v) == 0;
}

/* ------------------------------------------------------------------ */
/* Generic expectations                                               */

/* Run d; expect TC_ACT_OK and exactly the frame built from d with the
 * destination replaced (and checksums recomputed from scratch). */
bool expect_rewrite(const char *name, const struct pktdef *d,
			   const struct pktdef *want)
{
	uint8_t in[BUF], out[BUF], exp[BUF];
	size_t len, elen, olen;
	uint32_t ret;
	const char *diff;
	char why[128];
	int err;

	len = build(in, d);
	elen = build(exp, want);
	err = run(in, len, out, &olen, &ret);
	if (err)
		return check(false, name, "test run failed: %s", strerror(-err));
	if (ret != TC_ACT_OK)
		return check(false, name, "returned %u, expected TC_ACT_OK", ret);
	if (!csums_valid(out, olen, why, sizeof(why)))
		return check(false, name, "%s", why);
	diff = diff_bytes(out, olen, exp, elen);
	if (diff)
		return check(false, name, "%s", diff);
	return check(true, name, "%s", "");
}

bool expect_dnat(const char *name, const struct pktdef *d,
			uint32_t addr, uint16_t port)
{
	struct pktdef want = *d;

	want.daddr = addr;
	want.dport = port;
	return expect_rewrite(name, d, &want);
}

/* Raw frame must come out byte-identical with TCX_NEXT (untouched: the
 * next program of the tcx chain runs). */
bool raw_unchanged(const uint8_t *in, size_t len, char *why,
			  size_t wlen)
{
	uint8_t out[BUF];
	size_t olen;
	uint32_t ret;
	const char *diff;
	int err;

	err = run(in, len, out, &olen, &ret);
	if (err) {
		snprintf(why, wlen, "test run failed: %s", strerror(-err));
		return false;
	}
	if (ret != (uint32_t)TCX_NEXT) {
		snprintf(why, wlen, "returned %d, expected TCX_NEXT (-1)",
			 (int)ret);
		return false;
	}
	diff = diff_bytes(out, olen, in, len);
	if (diff) {
		snprintf(why, wlen, "%s", diff);
		return false;
	}
	return true;
}

bool expect_unchanged_raw(const char *name, const uint8_t *in,
				 size_t len)
{
	char why[256];

	if (!raw_unchanged(in, len, why, sizeof(why)))
		return check(false, name, "%s", why);
	return check(true, name, "%s", "");
}

bool expect_unchanged(const char *name, const struct pktdef *d)
{
	uint8_t in[BUF];

	return expect_unchanged_raw(name, in, build(in, d));
}

bool expect_ret(const char *name, const struct pktdef *d,
		       uint32_t want)
{
	uint8_t in[BUF], out[BUF];
	size_t len, olen;
	uint32_t ret;
	int err;

	len = build(in, d);
	err = run(in, len, out, &olen, &ret);
	if (err)
		return check(false, name, "test run failed: %s", strerror(-err));
	return check(ret == want, name, "returned %u, expected %u", ret, want);
}

/* Expected TCP reset, built from scratch: MACs of the test frames swapped,
 * IPv4 without options (TOS 0, ID 0, DF, TTL 64), TCP header without
 * options, window 0, both checksums by plain RFC 1071 sums. */
size_t build_rst(uint8_t *b, uint32_t saddr, uint32_t daddr,
			uint16_t sport, uint16_t dport, uint32_t seq,
			uint32_t ack, uint8_t flags)
{
	static const uint8_t dst[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
	const uint8_t *src = eth_dst;
	uint8_t *ip = b + 14, *th = b + 34;
	uint32_t s;

	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	put16(b + 12, ETHERTYPE_IPV4);
	memset(ip, 0, 40);
	ip[0] = 0x45;
	put16(ip + 2, 40);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = IPPROTO_TCP;
	memcpy(ip + 12, &saddr, 4);
	memcpy(ip + 16, &daddr, 4);
	put16(ip + 10, ~fold(sum16(ip, 20, 0)));
	put16(th, sport);
	put16(th + 2, dport);
	put32(th + 4, seq);
	put32(th + 8, ack);
	th[12] = 5 << 4;
	th[13] = flags;
	s = sum16(ip + 12, 8, 0) + IPPROTO_TCP + 20;
	put16(th + 16, ~fold(sum16(th, 20, s)));
	return 54;
}

/* Expected ICMP port unreachable quoting qlen bytes of the original IPv4
 * packet (its header and the first 8 bytes of the datagram). */
size_t build_icmp_unreach(uint8_t *b, uint32_t saddr, uint32_t daddr,
				 const uint8_t *quote, size_t qlen)
{
	static const uint8_t dst[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
	const uint8_t *src = eth_dst;
	uint8_t *ip = b + 14, *ic = b + 34;

	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	put16(b + 12, ETHERTYPE_IPV4);
	memset(ip, 0, 28);
	ip[0] = 0x45;
	ip[1] = 0xc0;
	put16(ip + 2, 20 + 8 + qlen);
	ip[8] = 64;
	ip[9] = IPPROTO_ICMP;
	memcpy(ip + 12, &saddr, 4);
	memcpy(ip + 16, &daddr, 4);
	put16(ip + 10, ~fold(sum16(ip, 20, 0)));
	ic[0] = 3;
	ic[1] = 3;
	memcpy(ic + 8, quote, qlen);
	put16(ic + 2, ~fold(sum16(ic, 8 + qlen, 0)));
	return 14 + 28 + qlen;
}

/* Run a raw frame, expect retval want and exactly the frame exp; the IPv4
 * header checksum and the L4 (TCP/UDP with pseudo header, or ICMP)
 * checksum are also verified over the bytes received. */
bool expect_frame(const char *name, const uint8_t *in, size_t len,
			 const uint8_t *exp, size_t elen, uint32_t want,
			 bool icmp)
{
	uint8_t out[BUF];
	size_t olen;
	uint32_t ret;
	const char *diff;
	char why[128];
	int err;

	err = run(in, len, out, &olen, &ret);
	if (err)
		return check(false, name, "test run failed: %s", strerror(-err));
	if (ret != want)
		return check(false, name, "returned %u, expected %u", ret, want);
	if (icmp) {
		size_t ihl = (out[14] & 0xf) * 4, tot = get16(out + 16);

		if (olen < 14 + 28 || fold(sum16(out + 14, ihl, 0)) != 0xffff)
			return check(false, name, "IPv4 header checksum invalid");
		if (14 + tot > olen ||
		    fold(sum16(out + 14 + ihl, tot - ihl, 0)) != 0xffff)
			return check(false, name, "ICMP checksum invalid");
	} else if (!csums_valid(out, olen, why, sizeof(why))) {
		return check(false, name, "%s", why);
	}
	diff = diff_bytes(out, olen, exp, elen);
	if (diff)
		return check(false, name, "%s", diff);
	return check(true, name, "%s", "");
}

/* Run d and report which backend it was DNATed to (-1: not DNATed). */
int dnat_target(const struct pktdef *d, uint32_t *ret_out)
{
	uint8_t in[BUF], out[BUF];
	size_t len, olen;
	uint32_t ret, daddr;
	int err;

	len = build(in, d);
	err = run(in, len, out, &olen, &ret);
	if (ret_out)
		*ret_out = err ? 0xffffffff : ret;
	if (err || ret != TC_ACT_OK || olen < 14 + 24)
		return -1;
	memcpy(&daddr, out + 14 + 16, 4);
	return backend_of(daddr,
			  get16(out + 14 + (out[14] & 0xf) * 4 + 2));
}

/* ------------------------------------------------------------------ */
/* Fixture                                                            */


uint32_t tab1[7], tab2[251], tab3[251], tab4[7];

static int setup(void)
{
	struct sy_config cfg;
	uint32_t zero = 0, i;
	int err = 0;

	memset(&cfg, 0, sizeof(cfg));
	cfg.flow_hash_seed = SEED;
	cfg.node_addr = ip4(192, 168, 0, 1);
	if (bpf_map_update_elem(fd_config, &zero, &cfg, BPF_ANY))
		return -errno;

	/* group 1: 7 slots, 7 distinct backends 101..107 */
	for (i = 0; i < 7; i++) {
		tab1[i] = 101 + i;
		err = err ?: add_backend(tab1[i], IPPROTO_TCP, SY_BE_ACTIVE);
	}
	/* group 2: 251 slots, one backend per slot 1000..1250 */
	for (i = 0; i < 251; i++) {
		tab2[i] = 1000 + i;
		err = err ?: add_backend(tab2[i], IPPROTO_UDP, SY_BE_ACTIVE);
	}
	/* group 3: 251 slots over 5 backends 301..305 */
	for (i = 0; i < 251; i++)
		tab3[i] = 301 + i % 5;
	for (i = 0; i < 5; i++)
		err = err ?: add_backend(301 + i, IPPROTO_TCP, SY_BE_ACTIVE);
	/* group 4: random */
	for (i = 0; i < 7; i++) {
		tab4[i] = 401 + i;
		err = err ?: add_backend(tab4[i], IPPROTO_TCP, SY_BE_ACTIVE);
	}
	err = err ?: set_table(1, 7, tab1);
	err = err ?: set_table(2, 251, tab2);
	err = err ?: set_table(3, 251, tab3);
	err = err ?: set_table(4, 7, tab4);
	err = err ?: set_table(6, 7, tab1);

	err = err ?: add_service(VIP_A, 80, IPPROTO_TCP, SY_SCOPE_EXTERNAL,
				 SVC_A_TCP, 1, 7, SY_SVC_F_CLUSTERIP, 0, 7);
	err = err ?: add_service(VIP_A, 53, IPPROTO_UDP, SY_SCOPE_EXTERNAL,
				 SVC_A_UDP, 2, 251, SY_SVC_F_CLUSTERIP, 0, 251);
	err = err ?: add_service(VIP_AFF, 443, IPPROTO_TCP, SY_SCOPE_EXTERNAL,
				 SVC_AFF, 3, 5,
				 SY_SVC_F_CLUSTERIP | SY_SVC_F_AFFINITY, 10800,
				 251);
	err = err ?: add_service(VIP_RND, 80, IPPROTO_TCP, SY_SCOPE_EXTERNAL,
				 SVC_RND, 4, 7,
				 SY_SVC_F_CLUSTERIP | SY_SVC_F_RANDOM, 0, 7);
	err = err ?: add_service(VIP_NOEP, 80, IPPROTO_TCP, SY_SCOPE_EXTERNAL,
				 10, 10, 0, SY_SVC_F_CLUSTERIP, 0, 7);
	err = err ?: add_service(VIP_NOEP, 53, IPPROTO_UDP, SY_SCOPE_EXTERNAL,
				 15, 15, 0, SY_SVC_F_CLUSTERIP, 0, 7);
	err = err ?: add_service(VIP_DROP, 80, IPPROTO_TCP, SY_SCOPE_EXTERNAL,
				 16, 16, 0,
				 SY_SVC_F_CLUSTERIP | SY_SVC_F_DROP_NO_EP, 0, 7);
	err = err ?: add_service(VIP_DROP, 53, IPPROTO_UDP, SY_SCOPE_EXTERNAL,
				 17, 17, 0,
				 SY_SVC_F_CLUSTERIP | SY_SVC_F_DROP_NO_EP, 0, 7);
	err = err ?: add_service(VIP_NOTB, 80, IPPROTO_TCP, SY_SCOPE_EXTERNAL,
				 11, 11, 3, SY_SVC_F_CLUSTERIP, 0, 7);
	err = err ?: add_service(VIP_ZERO, 80, IPPROTO_TCP, SY_SCOPE_EXTERNAL,
				 12, 1, 3, SY_SVC_F_CLUSTERIP, 0, 0);
	err = err ?: add_service(VIP_INT, 80, IPPROTO_TCP, SY_SCOPE_INTERNAL,
				 13, 1, 7, SY_SVC_F_CLUSTERIP, 0, 7);
	err = err ?: add_service(VIP_SMALL, 80, IPPROTO_TCP, SY_SCOPE_EXTERNAL,
				 14, 6, 7, SY_SVC_F_CLUSTERIP, 0, 11);
	return err;
}

struct pktdef tcp(uint32_t saddr, uint32_t daddr, uint16_t sport,
			 uint16_t dport, uint8_t flags)
{
	struct pktdef d;

	memset(&d, 0, sizeof(d));
	d.saddr = saddr;
	d.daddr = daddr;
	d.sport = sport;
	d.dport = dport;
	d.proto = IPPROTO_TCP;
	d.tcp_flags = flags;
	d.payload = (flags & TH_SYN) ? 0 : 13;
	return d;
}

struct pktdef udp(uint32_t saddr, uint32_t daddr, uint16_t sport,
			 uint16_t dport)
{
	struct pktdef d;

	memset(&d, 0, sizeof(d));
	d.saddr = saddr;
	d.daddr = daddr;
	d.sport = sport;
	d.dport = dport;
	d.proto = IPPROTO_UDP;
	d.payload = 21;
	return d;
}

/* ------------------------------------------------------------------ */
/* Tests                                                              */

static void test_tcp_dnat_and_ct(void)
{
	uint32_t slot = expected_slot(CLIENT, VIP_A, 40000, 80, IPPROTO_TCP, 7);
	uint32_t be = tab1[slot];
	struct pktdef syn = tcp(CLIENT, VIP_A, 40000, 80, TH_SYN);
	struct pktdef ack = tcp(CLIENT, VIP_A, 40000, 80, TH_ACK | TH_PSH);
	struct pktdef rep, want;
	struct sy_ct_value v;
	uint64_t t0 = mono_ns(), t1;
	bool ok;

	expect_dnat("TCP SYN to ClusterIP is DNATed to the Maglev backend",
		    &syn, be_addr(be), be_port(be));
	t1 = mono_ns();

	ok = ct_get(CLIENT, VIP_A, 40000, 80, IPPROTO_TCP, SY_CT_FORWARD, &v);
	check(ok && v.backend_id == be && v.rev_nat_id == SVC_A_TCP &&
		      v.tcp_flags == TH_SYN && v.flags == 0 &&
		      v.last_seen >= t0 && v.last_seen <= t1 && v.pad == 0,
	      "forward CT entry {client, VIP, sport, 80, TCP, FORWARD}",
	      "found=%d backend=%u rev_nat=%u tcp_flags=0x%x flags=0x%x last_seen=%llu (window %llu..%llu)",
	      ok, v.backend_id, v.rev_nat_id, v.tcp_flags, v.flags,
	      (unsigned long long)v.last_seen, (unsigned long long)t0,
	      (unsigned long long)t1);

	ok = ct_get(be_addr(be), CLIENT, be_port(be), 40000, IPPROTO_TCP,
		    SY_CT_REPLY, &v);
	check(ok && v.backend_id == be && v.rev_nat_id == SVC_A_TCP &&
		      v.tcp_flags == 0 && v.flags == 0 && v.last_seen >= t0 &&
		      v.last_seen <= t1,
	      "reply CT entry {backend, client, bport, sport, TCP, REPLY}",
	      "found=%d backend=%u rev_nat=%u tcp_flags=0x%x flags=0x%x",
	      ok, v.backend_id, v.rev_nat_id, v.tcp_flags, v.flags);

	/* SYN-ACK from the backend: source restored to VIP:80. */
	rep = tcp(be_addr(be), CLIENT, be_port(be), 40000, TH_SYN | TH_ACK);
	want = rep;
	want.saddr = VIP_A;
	want.sport = 80;
	expect_rewrite("TCP reply is reverse-NATed to VIP:80 with valid checksums",
		       &rep, &want);
	ok = ct_get(be_addr(be), CLIENT, be_port(be), 40000, IPPROTO_TCP,
		    SY_CT_REPLY, &v);
	check(ok && (v.flags & SY_CT_F_SEEN_REPLY) &&
		      v.tcp_flags == (TH_SYN | TH_ACK),
	      "reply CT entry marked SEEN_REPLY with the reply's TCP flags",
	      "found=%d flags=0x%x tcp_flags=0x%x", ok, v.flags, v.tcp_flags);
	ok = ct_get(CLIENT, VIP_A, 40000, 80, IPPROTO_TCP, SY_CT_FORWARD, &v);
	check(ok && (v.flags & SY_CT_F_SEEN_REPLY),
	      "forward CT entry marked SEEN_REPLY after the first reply",
	      "found=%d flags=0x%x", ok, v.flags);

	expect_dnat("TCP data packet of the flow goes to the same backend",
		    &ack, be_addr(be), be_port(be));
	ok = ct_get(CLIENT, VIP_A, 40000, 80, IPPROTO_TCP, SY_CT_FORWARD, &v);
	check(ok && v.tcp_flags == (TH_SYN | TH_ACK | TH_PSH) &&
		      v.backend_id == be,
	      "forward CT entry accumulates TCP flags",
	      "found=%d tcp_flags=0x%x backend=%u", ok, v.tcp_flags,
	      v.backend_id);

	/* A FIN closes the client's direction only (half-close). */
	ack.tcp_flags = TH_FIN | TH_ACK;
	expect_dnat("TCP FIN of the flow goes to the same backend", &ack,
		    be_addr(be), be_port(be));
	ok = ct_get(CLIENT, VIP_A, 40000, 80, IPPROTO_TCP, SY_CT_FORWARD, &v);
	check(ok && (v.flags & SY_CT_F_FIN_FORWARD) &&
		      !(v.flags & SY_CT_F_CLOSING),
	      "FIN sets SY_CT_F_FIN_FORWARD, not SY_CT_F_CLOSING (half-close)",
	      "found=%d flags=0x%x", ok, v.flags);
}

static void test_slots(void)
{
	char detail[256] = "";
	int i, bad = 0;

	for (i = 0; i < 300 && !bad; i++) {
		uint32_t saddr = ip4(10, 1 + i % 3, (i * 37) & 0xff, 1 + i % 250);
		uint16_t sport = 1024 + i * 211;
		struct pktdef d = tcp(saddr, VIP_A, sport, 80, TH_SYN);
		uint32_t slot = expected_slot(saddr, VIP_A, sport, 80,
					      IPPROTO_TCP, 7);
		int got = dnat_target(&d, NULL);

		if (got != (int)tab1[slot]) {
			bad = 1;
			snprintf(detail, sizeof(detail),
				 "%s:%u -> backend %d, expected slot %u (backend %u)",
				 ipstr(saddr), sport, got, slot, tab1[slot]);
		}
	}
	check(!bad, "TCP slot equals jhash_3words(...) % 7 for 300 tuples",
	      "%s", detail);

	bad = 0;

	for (i = 0; i < 300 && !bad; i++) {
		uint32_t saddr = ip4(172, 16, (i * 13) & 0xff, (i * 101) & 0xff);
		uint16_t sport = 30000 + i * 97;
		struct pktdef d = udp(saddr, VIP_A, sport, 53);
		uint32_t slot = expected_slot(saddr, VIP_A, sport, 53,
					      IPPROTO_UDP, 251);
		int got = dnat_target(&d, NULL);

		if (got != (int)tab2[slot]) {
			bad = 1;
			snprintf(detail, sizeof(detail),
				 "%s:%u -> backend %d, expected slot %u (backend %u)",
				 ipstr(saddr), sport, got, slot, tab2[slot]);
		}
	}
	check(!bad, "UDP slot equals jhash_3words(...) % 251 for 300 tuples",
	      "%s", detail);
}

static void test_udp(void)
{
	uint32_t slot = expected_slot(CLIENT, VIP_A, 5353, 53, IPPROTO_UDP, 251);
	uint32_t be = tab2[slot], nb;
	struct pktdef d = udp(CLIENT, VIP_A, 5353, 53);
	struct pktdef z = udp(CLIENT, VIP_A, 5354, 53);
	struct pktdef rep, want;
	struct sy_ct_value v;
	uint8_t in[BUF], out[BUF];
	size_t len, olen;
	uint32_t ret;
	bool ok;
	int got;

	expect_dnat("UDP to ClusterIP is DNATed (nonzero checksum updated)", &d,
		    be_addr(be), be_port(be));
	ok = ct_get(CLIENT, VIP_A, 5353, 53, IPPROTO_UDP, SY_CT_FORWARD, &v);
	check(ok && v.backend_id == be && v.rev_nat_id == SVC_A_UDP &&
		      v.tcp_flags == 0,
	      "UDP forward CT entry", "found=%d backend=%u rev_nat=%u", ok,
	      v.backend_id, v.rev_nat_id);
	ok = ct_get(be_addr(be), CLIENT, be_port(be), 5353, IPPROTO_UDP,
		    SY_CT_REPLY, &v);
	check(ok && v.backend_id == be && v.rev_nat_id == SVC_A_UDP,
	      "UDP reply CT entry", "found=%d backend=%u rev_nat=%u", ok,
	      v.backend_id, v.rev_nat_id);

	rep = udp(be_addr(be), CLIENT, be_port(be), 5353);
	want = rep;
	want.saddr = VIP_A;
	want.sport = 53;
	expect_rewrite("UDP reply is reverse-NATed to VIP:53", &rep, &want);

	/* Zero checksum must stay zero, on DNAT and on reverse NAT. */
	z.udp_zero_csum = true;
	slot = expected_slot(CLIENT, VIP_A, 5354, 53, IPPROTO_UDP, 251);
	nb = tab2[slot];
	expect_dnat("UDP with zero checksum is DNATed and the checksum stays 0",
		    &z, be_addr(nb), be_port(nb));
	len = build(in, &z);
	run(in, len, out, &olen, &ret);
	check(olen == len && get16(out + 14 + 20 + 6) == 0,
	      "UDP zero checksum field is still 0x0000 after DNAT",
	      "checksum 0x%04x", get16(out + 14 + 20 + 6));
	rep = udp(be_addr(nb), CLIENT, be_port(nb), 5354);
	rep.udp_zero_csum = true;
	want = rep;
	want.saddr = VIP_A;
	want.sport = 53;
	expect_rewrite("UDP reply with zero checksum is reverse-NATed, checksum stays 0",
		       &rep, &want);

	/* Backend deleted: with the table still pointing at it the new pick
	 * misses (drop); once the control plane replaced the slot the UDP
	 * flow reselects and its CT entry is overwritten. */
	bpf_map_delete_elem(fd_backends, &be);
	expect_ret("UDP flow whose backend is gone and still in the table is dropped",
		   &d, TC_ACT_SHOT);
	tab2[slot = expected_slot(CLIENT, VIP_A, 5353, 53, IPPROTO_UDP, 251)] =
		1250 + 1;
	add_backend(1251, IPPROTO_UDP, SY_BE_ACTIVE);
	set_table(2, 251, tab2);
	got = dnat_target(&d, &ret);
	check(got == 1251, "UDP flow whose backend was deleted reselects",
	      "got backend %d (ret %u), expected 1251", got, ret);
	ok = ct_get(CLIENT, VIP_A, 5353, 53, IPPROTO_UDP, SY_CT_FORWARD, &v);
	check(ok && v.backend_id == 1251,
	      "UDP forward CT entry overwritten with the new backend",
	      "found=%d backend=%u", ok, v.backend_id);
	ok = ct_get(be_addr(1251), CLIENT, be_port(1251), 5353, IPPROTO_UDP,
		    SY_CT_REPLY, &v);
	check(ok && v.backend_id == 1251, "UDP reply CT entry for the new backend",
	      "found=%d backend=%u", ok, v.backend_id);
}

static void test_table_swap_and_backend_delete(void)
{
	uint32_t slot = expected_slot(CLIENT, VIP_A, 41000, 80, IPPROTO_TCP, 7);
	uint32_t be = tab1[slot], newtab[7], i;
	struct pktdef syn = tcp(CLIENT, VIP_A, 41000, 80, TH_SYN);
	struct pktdef ack = tcp(CLIENT, VIP_A, 41000, 80, TH_ACK);
	struct pktdef other = tcp(CLIENT, VIP_A, 41001, 80, TH_SYN);
	struct sy_ct_value v;
	bool ok;

	expect_dnat("flow F established before the table swap", &syn,
		    be_addr(be), be_port(be));

	for (i = 0; i < 7; i++)
		newtab[i] = 201;
	add_backend(201, IPPROTO_TCP, SY_BE_ACTIVE);
	check(set_table(1, 7, newtab) == 0,
	      "Maglev table of group 1 swapped (all slots -> backend 201)",
	      "set_table failed");

	expect_dnat("established flow F keeps its backend after the table swap",
		    &ack, be_addr(be), be_port(be));
	expect_dnat("new flow after the swap uses the new table", &other,
		    be_addr(201), be_port(201));

	bpf_map_delete_elem(fd_backends, &be);
	{
		/* The segment carries ACK 0x0a0b0c0d: the reset takes its
		 * sequence number from it, no ACK (RFC 793). */
		uint8_t in[BUF], exp[BUF];
		size_t len = build(in, &ack);
		size_t elen = build_rst(exp, VIP_A, CLIENT, 80, 41000,
					0x0a0b0c0d, 0, TH_RST);

		expect_frame("TCP non-SYN of a flow whose backend was deleted gets a RST from VIP:80",
			     in, len, exp, elen, TC_ACT_REDIRECT, false);
	}
	ok = ct_get(CLIENT, VIP_A, 41000, 80, IPPROTO_TCP, SY_CT_FORWARD, &v);
	check(!ok, "the reset flow's forward CT entry is deleted",
	      "found=%d backend=%u", ok, v.backend_id);
	expect_dnat("TCP SYN of a flow whose backend was deleted reselects",
		    &syn, be_addr(201), be_port(201));
	ok = ct_get(CLIENT, VIP_A, 41000, 80, IPPROTO_TCP, SY_CT_FORWARD, &v);
	check(ok && v.backend_id == 201 && v.rev_nat_id == SVC_A_TCP,
	      "forward CT entry overwritten by the reselecting SYN",
	      "found=%d backend=%u", ok, v.backend_id);
	expect_dnat("flow continues on the reselected backend", &ack,
		    be_addr(201), be_port(201));

	/* A terminating backend keeps established flows. */
	add_backend(201, IPPROTO_TCP, SY_BE_TERMINATING);
	expect_dnat("established flow keeps a TERMINATING backend", &ack,
		    be_addr(201), be_port(201));
	add_backend(201, IPPROTO_TCP, SY_BE_ACTIVE);

	/* restore group 1 for later tests */
	add_backend(be, IPPROTO_TCP, SY_BE_ACTIVE);
	set_table(1, 7, tab1);
}

static void test_affinity(void)
{
	uint32_t slot = expected_slot(CLIENT2, VIP_AFF, 0, 443, IPPROTO_TCP, 251);
	uint32_t be = tab3[slot], other, rot[251], i;
	struct sy_affinity_key ak;
	struct sy_affinity_value av;
	struct sy_svc_key sk;
	struct sy_svc_value sv;
	char detail[160] = "";
	uint64_t t0 = mono_ns();
	bool ok, same = true;
	int got;

	for (i = 0; i < 20 && same; i++) {
		struct pktdef d = tcp(CLIENT2, VIP_AFF, 50000 + i * 17, 443,
				      TH_SYN);

		got = dnat_target(&d, NULL);
		if (got != (int)be) {
			same = false;
			snprintf(detail, sizeof(detail),
				 "sport %u -> backend %d, expected %u",
				 50000 + i * 17, got, be);
		}
	}
	check(same, "affinity: first pick uses the hash with sport = 0 (20 source ports)",
	      "%s", detail);

	memset(&ak, 0, sizeof(ak));
	ak.client = CLIENT2;
	ak.group = 3;
	ok = bpf_map_lookup_elem(fd_aff, &ak, &av) == 0;
	check(ok && av.backend_id == be && av.last_used >= t0 &&
		      av.last_used <= mono_ns(),
	      "affinity entry {client, group} written with the chosen backend",
	      "found=%d backend=%u", ok, av.backend_id);

	/* Change the table so the hash now points elsewhere: the client must
	 * stay on its affinity backend while the tuple changes. */
	for (i = 0; i < 251; i++)
		rot[i] = 301 + (i + 1) % 5;
	set_table(3, 251, rot);
	for (i = 0, same = true; i < 20 && same; i++) {
		struct pktdef d = tcp(CLIENT2, VIP_AFF, 51000 + i * 31, 443,
				      TH_SYN);

		got = dnat_target(&d, NULL);
		if (got != (int)be) {
			same = false;
			snprintf(detail, sizeof(detail),
				 "sport %u -> backend %d, expected %u",
				 51000 + i * 31, got, be);
		}
	}
	check(same, "affinity keeps the client on its backend after the table changed",
	      "%s", detail);
	{
		struct pktdef d = tcp(CLIENT, VIP_AFF, 51000, 443, TH_SYN);
		uint32_t s2 = expected_slot(CLIENT, VIP_AFF, 0, 443,
					    IPPROTO_TCP, 251);

		got = dnat_target(&d, NULL);
		check(got == (int)rot[s2],
		      "another client without affinity entry uses the new table",
		      "backend %d, expected %u", got, rot[s2]);
	}

	/* The affinity entry decides, not the hash: point it elsewhere. */
	other = 301 + (be - 301 + 2) % 5;
	av.backend_id = other;
	av.last_used = mono_ns();
	bpf_map_update_elem(fd_aff, &ak, &av, BPF_ANY);
	{
		struct pktdef d = tcp(CLIENT2, VIP_AFF, 52000, 443, TH_SYN);

		expect_dnat("affinity entry's backend is used for a new tuple",
			    &d, be_addr(other), be_port(other));
	}

	/* Terminating affinity backend: back to Maglev, entry refreshed. */
	add_backend(other, IPPROTO_TCP, SY_BE_TERMINATING);
	{
		struct pktdef d = tcp(CLIENT2, VIP_AFF, 52001, 443, TH_SYN);

		expect_dnat("affinity to a TERMINATING backend falls back to Maglev",
			    &d, be_addr(rot[slot]), be_port(rot[slot]));
		ok = bpf_map_lookup_elem(fd_aff, &ak, &av) == 0;
		check(ok && av.backend_id == rot[slot],
		      "affinity entry rewritten with the Maglev choice",
		      "found=%d backend=%u, expected %u", ok, av.backend_id,
		      rot[slot]);
	}
	add_backend(other, IPPROTO_TCP, SY_BE_ACTIVE);

	/* Expired entry: timeout 1 s, last used 2 s ago. */
	memset(&sk, 0, sizeof(sk));
	sk.addr = VIP_AFF;
	sk.port = htons(443);
	sk.proto = IPPROTO_TCP;
	bpf_map_lookup_elem(fd_services, &sk, &sv);
	sv.affinity_timeout = 1;
	bpf_map_update_elem(fd_services, &sk, &sv, BPF_ANY);
	av.backend_id = other;
	av.last_used = mono_ns() - 2000000000ull;
	bpf_map_update_elem(fd_aff, &ak, &av, BPF_ANY);
	{
		struct pktdef d = tcp(CLIENT2, VIP_AFF, 52002, 443, TH_SYN);

		expect_dnat("expired affinity entry is ignored (Maglev pick)", &d,
			    be_addr(rot[slot]), be_port(rot[slot]));
		ok = bpf_map_lookup_elem(fd_aff, &ak, &av) == 0;
		check(ok && av.backend_id == rot[slot] &&
			      mono_ns() - av.last_used < 1000000000ull,
		      "expired affinity entry refreshed",
		      "found=%d backend=%u", ok, av.backend_id);
	}
	/* Fresh entry (younger than 1 s) is honoured again. */
	av.backend_id = other;
	av.last_used = mono_ns();
	bpf_map_update_elem(fd_aff, &ak, &av, BPF_ANY);
	{
		struct pktdef d = tcp(CLIENT2, VIP_AFF, 52003, 443, TH_SYN);

		expect_dnat("fresh affinity entry within the timeout is honoured",
			    &d, be_addr(other), be_port(other));
	}
	sv.affinity_timeout = 10800;
	bpf_map_update_elem(fd_services, &sk, &sv, BPF_ANY);
	set_table(3, 251, tab3);
}

static void test_random(void)
{
	bool valid = true, spread = false;
	int i, got, first = -1;

	for (i = 0; i < 64; i++) {
		struct pktdef d = tcp(CLIENT, VIP_RND, 20000 + i, 80, TH_SYN);

		got = dnat_target(&d, NULL);
		if (got < 401 || got > 407)
			valid = false;
		if (first < 0)
			first = got;
		else if (got != first)
			spread = true;
	}
	check(valid && spread,
	      "SY_SVC_F_RANDOM picks table backends (64 flows, more than one backend)",
	      "valid=%d spread=%d", valid, spread);
}

static void test_drops(void)
{
	struct pktdef d;

	d = tcp(CLIENT, VIP_DROP, 1234, 80, TH_SYN);
	expect_ret("service with count 0 and SY_SVC_F_DROP_NO_EP drops TCP (TC_ACT_SHOT)",
		   &d, TC_ACT_SHOT);
	d = udp(CLIENT, VIP_DROP, 1234, 53);
	expect_ret("service with count 0 and SY_SVC_F_DROP_NO_EP drops UDP (TC_ACT_SHOT)",
		   &d, TC_ACT_SHOT);
	d = tcp(CLIENT, VIP_NOTB, 1234, 80, TH_SYN);
	expect_ret("service without Maglev table drops", &d, TC_ACT_SHOT);
	d = tcp(CLIENT, VIP_ZERO, 1234, 80, TH_SYN);
	expect_ret("service with table_size 0 drops", &d, TC_ACT_SHOT);
	/* VIP_INT (only a SY_SCOPE_INTERNAL entry): test_scope_roles(). */
	{
		/* table_size 11 over an inner map of 7: slots >= 7 miss. */
		int i, shot = 0, okk = 0, bad = 0;

		for (i = 0; i < 64; i++) {
			uint32_t ret, s = expected_slot(CLIENT, VIP_SMALL,
							3000 + i, 80,
							IPPROTO_TCP, 11);
			struct pktdef t = tcp(CLIENT, VIP_SMALL, 3000 + i, 80,
					      TH_SYN);
			int got = dnat_target(&t, &ret);

			if (s >= 7 ? ret == TC_ACT_SHOT :
				     got == (int)tab1[s])
				s >= 7 ? shot++ : okk++;
			else
				bad++;
		}
		check(!bad && shot && okk,
		      "slot beyond the inner map's size drops, others DNAT",
		      "bad=%d shot=%d ok=%d", bad, shot, okk);
	}
}

static void test_passthrough(void)
{
	uint8_t b[BUF];
	size_t n;
	struct pktdef d;

	d = tcp(CLIENT, VIP_A, 1234, 8080, TH_SYN);
	expect_unchanged("TCP to a non-service port passes unchanged", &d);
	d = tcp(CLIENT, ip4(10, 0, 0, 99), 1234, 80, TH_SYN);
	expect_unchanged("TCP to a non-service address passes unchanged", &d);
	d = udp(CLIENT, VIP_A, 1234, 80);
	expect_unchanged("UDP to a TCP-only service port passes unchanged", &d);
	d = tcp(CLIENT, VIP_A, 1234, 80, 0);
	d.proto = IPPROTO_ICMP;
	expect_unchanged("ICMP echo to a VIP passes unchanged", &d);
	d = tcp(CLIENT, VIP_A, 1234, 80, 0);
	d.proto = 132; /* SCTP: parsed as unknown */
	d.payload = 12;
	expect_unchanged("SCTP (unsupported L4) to a VIP passes unchanged", &d);

	/* IPv6 TCP SYN to some address */
	n = build_eth(b, ETHERTYPE_IPV6);
	{
		static const uint8_t ip6[40 + 20] = {
			0x60, 0, 0, 0, 0, 20, 6, 64,
			0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
			0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
			0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0,
			0x50, 0x02, 0xff, 0xff, 0x12, 0x34, 0, 0,
		};
		memcpy(b + n, ip6, sizeof(ip6));
		n += sizeof(ip6);
	}
	expect_unchanged_raw("IPv6 TCP packet passes unchanged", b, n);

	/* ARP request for the VIP */
	n = build_eth(b, ETHERTYPE_ARP);
	{
		uint8_t arp[28] = { 0, 1, 8, 0, 6, 4, 0, 1,
				    2, 0, 0, 0, 0, 2 };
		uint32_t spa = CLIENT, tpa = VIP_A;

		memcpy(arp + 14, &spa, 4);
		memcpy(arp + 24, &tpa, 4);
		memcpy(b + n, arp, sizeof(arp));
		n += sizeof(arp);
	}
	expect_unchanged_raw("ARP request for a VIP passes unchanged", b, n);

	/* 802.1Q-tagged IPv4 TCP SYN to a VIP: not parsed, passes. */
	{
		uint8_t inner[BUF];
		size_t il;

		d = tcp(CLIENT, VIP_A, 1234, 80, TH_SYN);
		il = build(inner, &d);
		n = build_eth(b, ETHERTYPE_VLAN);
		put16(b + 14, 100);
		put16(b + 16, ETHERTYPE_IPV4);
		memcpy(b + 18, inner + 14, il - 14);
		n = il + 4;
	}
	expect_unchanged_raw("VLAN-tagged IPv4 to a VIP passes unchanged", b, n);

	/* IHL < 5 and IP version != 4 */
	d = tcp(CLIENT, VIP_A, 1234, 80, TH_SYN);
	n = build(b, &d);
	b[14] = 0x44;
	expect_unchanged_raw("IPv4 with IHL 4 passes unchanged", b, n);
	n = build(b, &d);
	b[14] = 0x55;
	expect_unchanged_raw("ethertype IPv4 with IP version 5 passes unchanged",
			     b, n);
}

static void test_truncated(void)
{
	struct {
		const char *name;
		struct pktdef d;
	} cases[] = {
		{ "truncated TCP SYN to a VIP (cut at 14..53) passes unchanged",
		  tcp(CLIENT, VIP_A, 42000, 80, TH_SYN) },
		{ "truncated UDP to a VIP (cut at 14..41) passes unchanged",
		  udp(CLIENT, VIP_A, 42000, 53) },
		{ "truncated IHL-6 TCP SYN to a VIP (cut at 14..57) passes unchanged",
		  tcp(CLIENT, VIP_A, 42001, 80, TH_SYN) },
	};
	unsigned int c;

	cases[2].d.ihl = 6;
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint8_t b[BUF], out[BUF];
		size_t hdr, cut, olen;
		char why[256] = "", first[300] = "", name[200];
		int bad = 0, ran = 0, refused = 0;

		build(b, &cases[c].d);
		hdr = 14 + (cases[c].d.ihl ? cases[c].d.ihl : 5) * 4 +
		      (cases[c].d.proto == IPPROTO_TCP ? 20 : 8);
		for (cut = 14; cut < hdr; cut++) {
			uint32_t ret;

			/* Kernels with "bpf: reject short IPv4/IPv6 inputs in
			 * bpf_prog_test_run_skb" (2026 stable) refuse an
			 * ETH_P_IP frame shorter than 14 + 20 bytes with
			 * EINVAL before running the program; that is the
			 * only refusal accepted here. */
			if (cut < 14 + 20 &&
			    run(b, cut, out, &olen, &ret) == -EINVAL) {
				refused++;
				continue;
			}
			ran++;
			if (!raw_unchanged(b, cut, why, sizeof(why))) {
				if (!bad++)
					snprintf(first, sizeof(first),
						 "cut at %zu: %s", cut, why);
			}
		}
		snprintf(name, sizeof(name),
			 "%s [%d lengths run%s]", cases[c].name, ran,
			 refused ? ", 14..33 refused by this kernel's test_run (IPv4 < 20 bytes)" : "");
		check(!bad && ran > 0, name, "%d lengths failed, first %s", bad,
		      first);
	}
}

static void test_options_and_fragments(void)
{
	struct pktdef d = tcp(CLIENT, VIP_A, 43000, 80, TH_SYN);
	uint32_t slot = expected_slot(CLIENT, VIP_A, 43000, 80, IPPROTO_TCP, 7);
	struct pktdef u = udp(CLIENT, VIP_A, 43001, 53);
	uint32_t us = expected_slot(CLIENT, VIP_A, 43001, 53, IPPROTO_UDP, 251);
	struct pktdef rep, want;

	d.ihl = 6;
	expect_dnat("IPv4 with options (IHL 6) TCP is DNATed, options kept", &d,
		    be_addr(tab1[slot]), be_port(tab1[slot]));
	rep = tcp(be_addr(tab1[slot]), CLIENT, be_port(tab1[slot]), 43000,
		  TH_SYN | TH_ACK);
	rep.ihl = 6;
	want = rep;
	want.saddr = VIP_A;
	want.sport = 80;
	expect_rewrite("IPv4 with options (IHL 6) reply is reverse-NATed", &rep,
		       &want);
	u.ihl = 6;
	expect_dnat("IPv4 with options (IHL 6) UDP is DNATed", &u,
		    be_addr(tab2[us]), be_port(tab2[us]));

	/* Fragments: frag_test.c. */
	d = tcp(CLIENT, VIP_A, 43004, 80, TH_SYN);
	d.frag_off = 0x4000; /* DF only: not a fragment */
	slot = expected_slot(CLIENT, VIP_A, 43004, 80, IPPROTO_TCP, 7);
	expect_dnat("DF-only packet is not a fragment and is DNATed", &d,
		    be_addr(tab1[slot]), be_port(tab1[slot]));
}

/* With BPF_F_TEST_SKB_CHECKSUM_COMPLETE the kernel sets skb->csum over the
 * input and fails the run with EINVAL unless skb->csum still matches the
 * packet afterwards: this is the state of skbs from NICs with
 * CHECKSUM_COMPLETE on the underlay device. */
static void test_checksum_complete(void)
{
	struct pktdef d, rep, want;
	uint32_t s;

	run_flags = BPF_F_TEST_SKB_CHECKSUM_COMPLETE;
	d = tcp(CLIENT, ip4(10, 0, 0, 99), 1, 2, TH_SYN);
	if (!expect_unchanged("CHECKSUM_COMPLETE: test_run flag supported (pass-through packet)",
			      &d))
		goto out;

	d = tcp(CLIENT, VIP_A, 45000, 80, TH_SYN);
	s = tab1[expected_slot(CLIENT, VIP_A, 45000, 80, IPPROTO_TCP, 7)];
	expect_dnat("CHECKSUM_COMPLETE: TCP DNAT keeps skb->csum valid", &d,
		    be_addr(s), be_port(s));
	rep = tcp(be_addr(s), CLIENT, be_port(s), 45000, TH_SYN | TH_ACK);
	want = rep;
	want.saddr = VIP_A;
	want.sport = 80;
	expect_rewrite("CHECKSUM_COMPLETE: TCP reverse NAT keeps skb->csum valid",
		       &rep, &want);

	d = udp(CLIENT, VIP_A, 45001, 53);
	s = tab2[expected_slot(CLIENT, VIP_A, 45001, 53, IPPROTO_UDP, 251)];
	expect_dnat("CHECKSUM_COMPLETE: UDP DNAT keeps skb->csum valid", &d,
		    be_addr(s), be_port(s));
	d = udp(CLIENT, VIP_A, 45002, 53);
	d.udp_zero_csum = true;
	s = tab2[expected_slot(CLIENT, VIP_A, 45002, 53, IPPROTO_UDP, 251)];
	expect_dnat("CHECKSUM_COMPLETE: UDP zero-checksum DNAT keeps skb->csum valid",
		    &d, be_addr(s), be_port(s));
	rep = udp(be_addr(s), CLIENT, be_port(s), 45002);
	rep.udp_zero_csum = true;
	want = rep;
	want.saddr = VIP_A;
	want.sport = 53;
	expect_rewrite("CHECKSUM_COMPLETE: UDP zero-checksum reverse NAT keeps skb->csum valid",
		       &rep, &want);
	d = tcp(CLIENT, VIP_A, 45003, 80, TH_SYN);
	d.ihl = 6;
	s = tab1[expected_slot(CLIENT, VIP_A, 45003, 80, IPPROTO_TCP, 7)];
	expect_dnat("CHECKSUM_COMPLETE: IHL-6 TCP DNAT keeps skb->csum valid", &d,
		    be_addr(s), be_port(s));
out:
	run_flags = 0;
}

static void test_revnat_missing(void)
{
	/* Reply CT entry whose frontend (rev NAT) is gone: nothing to
	 * restore, packet passes untouched. */
	struct sy_ct_key k;
	struct sy_ct_value v;
	struct pktdef d = tcp(ip4(10, 200, 9, 9), CLIENT, 7777, 44000, TH_ACK);

	ct_key(&k, d.saddr, d.daddr, 7777, 44000, IPPROTO_TCP, SY_CT_REPLY);
	memset(&v, 0, sizeof(v));
	v.last_seen = mono_ns();
	v.backend_id = 9;
	v.rev_nat_id = 999;
	bpf_map_update_elem(fd_ct, &k, &v, BPF_ANY);
	expect_unchanged("reply whose reverse-NAT entry is gone passes unchanged",
			 &d);
}

bool ct_absent(uint32_t saddr, uint32_t daddr, uint16_t sport,
		      uint16_t dport, uint8_t proto)
{
	struct sy_ct_value v;

	return !ct_get(saddr, daddr, sport, dport, proto, SY_CT_FORWARD, &v);
}

/* TCP to a frontend with count 0: a reset from VIP:port to the client. */
static void test_reject_tcp(void)
{
	uint8_t in[BUF], exp[BUF];
	struct pktdef d;
	size_t len, elen;

	/* SYN, no ACK: <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>. Same length in
	 * and out (54 bytes): nothing trimmed. */
	d = tcp(CLIENT, VIP_NOEP, 47000, 80, TH_SYN);
	len = build(in, &d);
	elen = build_rst(exp, VIP_NOEP, CLIENT, 80, 47000, 0, 0x01020305,
			 TH_RST | TH_ACK);
	expect_frame("count 0: TCP SYN gets RST|ACK from VIP:80, seq 0, ack = seq + 1 (TC_ACT_REDIRECT)",
		     in, len, exp, elen, TC_ACT_REDIRECT, false);
	check(ct_absent(CLIENT, VIP_NOEP, 47000, 80, IPPROTO_TCP),
	      "count 0: a rejected SYN creates no CT entry", "%s", "entry found");

	/* No ACK, 13 bytes of payload: ack = seq + 13; payload trimmed. */
	d = tcp(CLIENT, VIP_NOEP, 47001, 80, TH_PSH);
	len = build(in, &d);
	elen = build_rst(exp, VIP_NOEP, CLIENT, 80, 47001, 0, 0x01020304 + 13,
			 TH_RST | TH_ACK);
	expect_frame("count 0: no-ACK segment with 13 payload bytes: ack = seq + 13, payload trimmed",
		     in, len, exp, elen, TC_ACT_REDIRECT, false);

	/* FIN without ACK, 5 bytes: ack = seq + 5 + 1. */
	d = tcp(CLIENT, VIP_NOEP, 47002, 80, TH_FIN);
	d.payload = 5;
	len = build(in, &d);
	elen = build_rst(exp, VIP_NOEP, CLIENT, 80, 47002, 0, 0x01020304 + 6,
			 TH_RST | TH_ACK);
	expect_frame("count 0: FIN without ACK and 5 payload bytes: ack = seq + 5 + 1",
		     in, len, exp, elen, TC_ACT_REDIRECT, false);

	/* ACK set: <SEQ=SEG.ACK><CTL=RST>, no ACK flag. */
	d = tcp(CLIENT, VIP_NOEP, 47003, 80, TH_ACK | TH_PSH);
	len = build(in, &d);
	elen = build_rst(exp, VIP_NOEP, CLIENT, 80, 47003, 0x0a0b0c0d, 0,
			 TH_RST);
	expect_frame("count 0: segment with ACK gets RST with seq = its ack_seq",
		     in, len, exp, elen, TC_ACT_REDIRECT, false);

	/* IPv4 options: the reset has a plain 20-byte header. */
	d = tcp(CLIENT, VIP_NOEP, 47004, 80, TH_SYN);
	d.ihl = 7;
	len = build(in, &d);
	elen = build_rst(exp, VIP_NOEP, CLIENT, 80, 47004, 0, 0x01020305,
			 TH_RST | TH_ACK);
	expect_frame("count 0: SYN with IPv4 options (IHL 7) gets a RST without options",
		     in, len, exp, elen, TC_ACT_REDIRECT, false);

	/* Never a reset for a reset; never towards a non-unicast source. */
	d = tcp(CLIENT, VIP_NOEP, 47005, 80, TH_RST | TH_ACK);
	expect_ret("count 0: a RST is dropped, not answered", &d, TC_ACT_SHOT);
	d = tcp(ip4(0, 0, 0, 0), VIP_NOEP, 47006, 80, TH_SYN);
	expect_ret("count 0: SYN from 0.0.0.0 is dropped, not answered", &d,
		   TC_ACT_SHOT);
	d = tcp(ip4(224, 0, 0, 5), VIP_NOEP, 47006, 80, TH_SYN);
	expect_ret("count 0: SYN from a multicast source is dropped, not answered",
		   &d, TC_ACT_SHOT);

	/* CHECKSUM_COMPLETE, same length: skb->csum must follow the bytes. */
	run_flags = BPF_F_TEST_SKB_CHECKSUM_COMPLETE;
	d = tcp(CLIENT, VIP_NOEP, 47007, 80, TH_SYN);
	len = build(in, &d);
	elen = build_rst(exp, VIP_NOEP, CLIENT, 80, 47007, 0, 0x01020305,
			 TH_RST | TH_ACK);
	expect_frame("CHECKSUM_COMPLETE: RST written over a same-length SYN keeps skb->csum valid",
		     in, len, exp, elen, TC_ACT_REDIRECT, false);
	run_flags = 0;
}

/* UDP to a frontend with count 0: ICMP port unreachable quoting the
 * datagram's IPv4 header and UDP header. */
static void test_reject_udp(void)
{
	static const struct {
		const char *name;
		int payload, ihl;
		bool zero_csum, complete;
	} cases[] = {
		{ "count 0: UDP (21 bytes) gets ICMP port unreachable from the VIP (packet grown)",
		  21, 5, false, false },
		{ "count 0: empty UDP datagram gets ICMP port unreachable (grown by 28)",
		  0, 5, false, false },
		{ "count 0: UDP (300 bytes) gets ICMP port unreachable (trimmed)",
		  300, 5, false, false },
		{ "count 0: UDP with IPv4 options (IHL 8): options quoted",
		  10, 8, false, false },
		{ "count 0: UDP with IHL 15 (60-byte header) quoted whole",
		  40, 15, false, false },
		{ "count 0: UDP without checksum gets ICMP port unreachable",
		  21, 5, true, false },
		{ "CHECKSUM_COMPLETE: ICMP written over a same-length datagram keeps skb->csum valid",
		  28, 5, false, true },
	};
	uint8_t in[BUF], exp[BUF];
	struct pktdef d;
	size_t len, elen, q;
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		d = udp(CLIENT, VIP_NOEP, 48000 + i, 53);
		d.payload = cases[i].payload;
		d.ihl = cases[i].ihl;
		d.udp_zero_csum = cases[i].zero_csum;
		len = build(in, &d);
		q = cases[i].ihl * 4 + 8;
		elen = build_icmp_unreach(exp, VIP_NOEP, CLIENT, in + 14, q);
		run_flags = cases[i].complete ?
				    BPF_F_TEST_SKB_CHECKSUM_COMPLETE : 0;
		expect_frame(cases[i].name, in, len, exp, elen,
			     TC_ACT_REDIRECT, true);
		run_flags = 0;
	}
	check(ct_absent(CLIENT, VIP_NOEP, 48000, 53, IPPROTO_UDP),
	      "count 0: a rejected datagram creates no CT entry", "%s",
	      "entry found");
	d = udp(ip4(255, 255, 255, 255), VIP_NOEP, 48100, 53);
	expect_ret("count 0: UDP from 255.255.255.255 is dropped, not answered",
		   &d, TC_ACT_SHOT);
}

void plant_ct(uint32_t saddr, uint32_t daddr, uint16_t sport,
		     uint16_t dport, uint8_t proto, uint8_t dir,
		     uint32_t backend, uint32_t revnat, uint16_t flags,
		     uint64_t age_ns)
{
	struct sy_ct_key k;
	struct sy_ct_value v;

	ct_key(&k, saddr, daddr, sport, dport, proto, dir);
	memset(&v, 0, sizeof(v));
	v.last_seen = mono_ns() - age_ns;
	v.backend_id = backend;
	v.rev_nat_id = revnat;
	v.flags = flags;
	bpf_map_update_elem(fd_ct, &k, &v, BPF_ANY);
}


/* Entries idle for longer than their lifetime are treated as absent: the
 * packet is a new flow (Maglev pick, entry overwritten). */
static void test_ct_expiry(void)
{
	static const struct {
		const char *name;
		uint8_t proto;
		uint8_t tcp_flags; /* of the packet */
		uint16_t ct_flags;
		uint64_t age_s;
		bool expired;
	} cases[] = {
		{ "TCP entry without reply, idle 61 s (> 60 s): expired, reselects",
		  IPPROTO_TCP, TH_ACK, 0, 61, true },
		{ "TCP entry without reply, idle 50 s: still used",
		  IPPROTO_TCP, TH_ACK, 0, 50, false },
		{ "TCP established entry, idle 61 s: still used (6 h lifetime)",
		  IPPROTO_TCP, TH_ACK, SY_CT_F_SEEN_REPLY | SY_CT_F_ESTABLISHED, 61, false },
		{ "TCP established entry, idle 6 h + 1 s: expired, reselects",
		  IPPROTO_TCP, TH_ACK, SY_CT_F_SEEN_REPLY | SY_CT_F_ESTABLISHED, 21601, true },
		{ "TCP half-open entry (reply seen, no ACK from the client), idle 61 s: expired, reselects",
		  IPPROTO_TCP, TH_ACK, SY_CT_F_SEEN_REPLY, 61, true },
		{ "TCP closing entry, idle 11 s (> 10 s): expired, reselects",
		  IPPROTO_TCP, TH_ACK, SY_CT_F_SEEN_REPLY | SY_CT_F_CLOSING, 11,
		  true },
		{ "TCP closing entry, idle 5 s: still used",
		  IPPROTO_TCP, TH_ACK, SY_CT_F_SEEN_REPLY | SY_CT_F_CLOSING, 5,
		  false },
		{ "TCP SYN on a closing entry (tuple reused): reselects with fresh flags",
		  IPPROTO_TCP, TH_SYN, SY_CT_F_SEEN_REPLY | SY_CT_F_CLOSING, 1,
		  true },
		{ "TCP SYN on an open entry (retransmission): keeps its backend",
		  IPPROTO_TCP, TH_SYN, 0, 1, false },
		{ "UDP entry idle 61 s (> 60 s): expired, reselects",
		  IPPROTO_UDP, 0, SY_CT_F_SEEN_REPLY, 61, true },
		{ "UDP entry idle 30 s: still used",
		  IPPROTO_UDP, 0, SY_CT_F_SEEN_REPLY, 30, false },
	};
	uint64_t uptime_ns = mono_ns();
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool tcpc = cases[i].proto == IPPROTO_TCP;
		uint16_t sport = 46000 + i, dport = tcpc ? 80 : 53;
		uint32_t m = tcpc ? 7 : 251, *tab = tcpc ? tab1 : tab2;
		uint32_t slot = expected_slot(CLIENT, VIP_A, sport, dport,
					      cases[i].proto, m);
		uint32_t pick = tab[slot], planted = tab[(slot + 1) % m];
		uint32_t want = cases[i].expired ? pick : planted;
		uint32_t svc = tcpc ? SVC_A_TCP : SVC_A_UDP;
		uint64_t age = cases[i].age_s * SEC_NS;
		struct pktdef d = tcpc ? tcp(CLIENT, VIP_A, sport, dport,
					     cases[i].tcp_flags) :
					 udp(CLIENT, VIP_A, sport, dport);
		struct sy_ct_value v;
		bool ok;

		if (age + SEC_NS > uptime_ns) {
			n_check++;
			n_pass++;
			printf("ok %d - %s # SKIP uptime %llu s is below the age\n",
			       n_check, cases[i].name,
			       (unsigned long long)(uptime_ns / SEC_NS));
			continue;
		}
		plant_ct(CLIENT, VIP_A, sport, dport, cases[i].proto,
			 SY_CT_FORWARD, planted, svc, cases[i].ct_flags, age);
		expect_dnat(cases[i].name, &d, be_addr(want), be_port(want));
		ok = ct_get(CLIENT, VIP_A, sport, dport, cases[i].proto,
			    SY_CT_FORWARD, &v);
		if (cases[i].expired)
			check(ok && v.backend_id == pick &&
				      v.flags == 0 &&
				      mono_ns() - v.last_seen < SEC_NS,
			      "... the expired entry is overwritten (new backend, flags 0, fresh last_seen)",
			      "found=%d backend=%u (want %u) flags=0x%x", ok,
			      v.backend_id, pick, v.flags);
		else
			check(ok && v.backend_id == planted &&
				      mono_ns() - v.last_seen < SEC_NS,
			      "... the live entry is kept and refreshed",
			      "found=%d backend=%u (want %u)", ok,
			      v.backend_id, planted);
	}

	/* Reply direction: an expired reply entry is not reverse-NATed. */
	{
		uint32_t be = 101;
		struct pktdef rep = udp(be_addr(be), CLIENT, be_port(be), 46100);
		struct pktdef want = rep;

		rep.proto = IPPROTO_UDP;
		plant_ct(be_addr(be), CLIENT, be_port(be), 46100, IPPROTO_UDP,
			 SY_CT_REPLY, be, SVC_A_UDP, SY_CT_F_SEEN_REPLY,
			 61 * SEC_NS);
		expect_unchanged("UDP reply whose reply entry is expired passes unchanged",
				 &rep);
		plant_ct(be_addr(be), CLIENT, be_port(be), 46100, IPPROTO_UDP,
			 SY_CT_REPLY, be, SVC_A_UDP, SY_CT_F_SEEN_REPLY,
			 30 * SEC_NS);
		want.saddr = VIP_A;
		want.sport = 53;
		expect_rewrite("UDP reply whose reply entry is live is reverse-NATed",
			       &rep, &want);
	}
}

/* FIN or RST in either direction closes both entries of the flow. */
static void test_ct_closing(void)
{
	uint32_t slot = expected_slot(CLIENT, VIP_A, 46200, 80, IPPROTO_TCP, 7);
	uint32_t be = tab1[slot];
	struct pktdef syn = tcp(CLIENT, VIP_A, 46200, 80, TH_SYN);
	struct pktdef rst = tcp(CLIENT, VIP_A, 46200, 80, TH_RST | TH_ACK);
	struct pktdef rep = tcp(be_addr(be), CLIENT, be_port(be), 46200,
				TH_SYN | TH_ACK);
	struct sy_ct_value f, r;
	bool okf, okr;

	expect_dnat("closing: SYN DNATed", &syn, be_addr(be), be_port(be));
	rep.tcp_flags = TH_SYN | TH_ACK;
	{
		struct pktdef want = rep;

		want.saddr = VIP_A;
		want.sport = 80;
		expect_rewrite("closing: SYN-ACK reverse-NATed", &rep, &want);
	}
	expect_dnat("closing: client RST DNATed to the backend", &rst,
		    be_addr(be), be_port(be));
	okf = ct_get(CLIENT, VIP_A, 46200, 80, IPPROTO_TCP, SY_CT_FORWARD, &f);
	okr = ct_get(be_addr(be), CLIENT, be_port(be), 46200, IPPROTO_TCP,
		     SY_CT_REPLY, &r);
	check(okf && okr && (f.flags & SY_CT_F_CLOSING) &&
		      (r.flags & SY_CT_F_CLOSING),
	      "client RST sets SY_CT_F_CLOSING on both entries",
	      "fwd found=%d flags=0x%x, reply found=%d flags=0x%x", okf,
	      f.flags, okr, r.flags);

	/* Backend FIN on a fresh flow half-closes it, on both entries. */
	syn.sport = 46201;
	slot = expected_slot(CLIENT, VIP_A, 46201, 80, IPPROTO_TCP, 7);
	be = tab1[slot];
	expect_dnat("closing: second flow DNATed", &syn, be_addr(be),
		    be_port(be));
	rep = tcp(be_addr(be), CLIENT, be_port(be), 46201, TH_FIN | TH_ACK);
	{
		struct pktdef want = rep;

		want.saddr = VIP_A;
		want.sport = 80;
		expect_rewrite("closing: backend FIN reverse-NATed", &rep, &want);
	}
	okf = ct_get(CLIENT, VIP_A, 46201, 80, IPPROTO_TCP, SY_CT_FORWARD, &f);
	okr = ct_get(be_addr(be), CLIENT, be_port(be), 46201, IPPROTO_TCP,
		     SY_CT_REPLY, &r);
	check(okf && okr && f.flags == (SY_CT_F_SEEN_REPLY | SY_CT_F_FIN_REPLY) &&
		      r.flags == (SY_CT_F_SEEN_REPLY | SY_CT_F_FIN_REPLY),
	      "backend FIN sets SEEN_REPLY|FIN_REPLY (half-close, not CLOSING) on both entries",
	      "fwd found=%d flags=0x%x, reply found=%d flags=0x%x", okf,
	      f.flags, okr, r.flags);
}

int main(void)
{
	int err;

	/* A private network namespace for the whole run: the XDP tests look
	 * routes and neighbours up (bpf_fib_lookup) and create a veth pair;
	 * none of it may see or touch the machine's own namespace. It goes
	 * away with the process. */
	if (!check(unshare(CLONE_NEWNET) == 0, "private network namespace (unshare CLONE_NEWNET)",
		   "%s", strerror(errno)))
		return 1;
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	skel = switchyard__open();
	if (!check(skel != NULL, "open skeleton", "%s", strerror(errno)))
		goto out;
	err = switchyard__load(skel);
	if (!check(err == 0, "load skeleton (verifier accepts sy_tc_ingress)",
		   "%s", strerror(-err)))
		goto out;

	prog_fd = bpf_program__fd(skel->progs.sy_tc_ingress);
	fd_services = bpf_map__fd(skel->maps.sy_services);
	fd_backends = bpf_map__fd(skel->maps.sy_backends);
	fd_revnat = bpf_map__fd(skel->maps.sy_revnat);
	fd_maglev = bpf_map__fd(skel->maps.sy_maglev);
	fd_ct = bpf_map__fd(skel->maps.sy_conntrack);
	fd_aff = bpf_map__fd(skel->maps.sy_affinity);
	fd_config = bpf_map__fd(skel->maps.sy_config);
	/* As under a loader watching routes: the route-result cache on
	 * (generation 1, the full per-flow key). */
	fib_cache_set_gen(1 << SY_FIB_GEN_SHIFT);

	err = setup();
	if (!check(err == 0, "fill maps (inner ARRAY maps of 7 and 251 slots, two per element, with BPF_F_INNER_MAP)",
		   "%s", strerror(-err)))
		goto out;

	test_tcp_dnat_and_ct();
	test_slots();
	test_udp();
	test_table_swap_and_backend_delete();
	test_affinity();
	test_random();
	test_drops();
	test_passthrough();
	test_truncated();
	test_options_and_fragments();
	test_checksum_complete();
	test_revnat_missing();
	test_reject_tcp();
	test_reject_udp();
	test_ct_expiry();
	test_ct_closing();
	test_scope_roles();
	test_external();
	test_frag();
	test_conntrack();
	test_service_cidr();
	test_events();
	test_xdp();
	test_icmp();
	test_ipv6();
	test_icmp6();
	test_maglev_in_place();

out:
	switchyard__destroy(skel);
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
