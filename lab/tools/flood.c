// sy-flood: a bounded SYN flood for the lab's tests (new flows by the
// hundred thousand, e.g. against a Service while established connections
// must keep working). Needs CAP_NET_RAW; run it only inside a lab namespace.
//
//   sy-flood --dst IP --port P --src IP [--src-count K] --count N
//            [--max-ms T] [--pps R] [--seed S]
//
// Sends N TCP SYNs (raw socket with the IP header included: IP_HDRINCL for
// IPv4, IPPROTO_RAW for IPv6) to IP:P, each from a random source port
// (1024-65535) of one of K consecutive source addresses starting at --src
// (K = 1 by default; K addresses give K * 64512 distinct tuples), with random
// sequence numbers and IPv4 ids / IPv6 flow labels. --dst's family chooses;
// --src must be of the same family. Stops after N packets or T ms
// (default 60000), whichever comes first; --pps paces it (0 = as fast as
// the socket takes them). The replies (SYN-ACKs, resets) are not read.
// Prints "# sent=N errors=E elapsed_ms=M" and exits 0 when N were sent.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_COUNT 10000000L
#define MAX_MS    600000L

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

// xorshift64*: fast, seeded, good enough for ports and sequence numbers.
static uint64_t rng_state;
static uint32_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t sum16(const void *p, size_t len, uint32_t s)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		s += (uint32_t)(b[len - 1] << 8);
	return s;
}

static void usage(void)
{
	fprintf(stderr, "usage: sy-flood --dst IP --port P --src IP [--src-count K] --count N [--max-ms T] [--pps R] [--seed S]\n"
		"       (IP: IPv4 or IPv6, --src of --dst's family)\n");
	exit(2);
}

static long num(const char *s, long min, long max)
{
	char *e;
	long v = strtol(s, &e, 10);

	if (!*s || *e || v < min || v > max) {
		fprintf(stderr, "sy-flood: bad number '%s' (%ld..%ld)\n", s, min, max);
		exit(2);
	}
	return v;
}

// An address of either family: family AF_INET (4 bytes) or AF_INET6 (16).
struct addr {
	int family;
	uint8_t b[16];
};

static struct addr address(const char *opt, const char *s)
{
	struct addr a = { 0 };

	if (inet_pton(AF_INET, s, a.b) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, s, a.b) == 1)
		a.family = AF_INET6;
	else {
		fprintf(stderr, "sy-flood: %s '%s' is not an IPv4 or IPv6 address\n", opt, s);
		exit(2);
	}
	return a;
}

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

// The IP header of a SYN from saddr to daddr (20 bytes for IPv4, 40 for
// IPv6; the kernel fills the IPv4 checksum). Returns its length.
static size_t ip_header(uint8_t *pkt, int family, const uint8_t *saddr, const uint8_t *daddr)
{
	if (family == AF_INET) {
		struct iphdr *ip = (struct iphdr *)pkt;

		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = htons(20 + 20);
		ip->id = (uint16_t)rnd();
		ip->ttl = 64;
		ip->protocol = IPPROTO_TCP;
		memcpy(&ip->saddr, saddr, 4);
		memcpy(&ip->daddr, daddr, 4);
		return 20;
	}
	struct ip6_hdr *ip6 = (struct ip6_hdr *)pkt;

	ip6->ip6_flow = htonl(6u << 28 | (rnd() & 0xfffffu));
	ip6->ip6_plen = htons(20);
	ip6->ip6_nxt = IPPROTO_TCP;
	ip6->ip6_hlim = 64;
	memcpy(&ip6->ip6_src, saddr, 16);
	memcpy(&ip6->ip6_dst, daddr, 16);
	return 40;
}

int main(int argc, char **argv)
{
	struct addr dst = { 0 }, src = { 0 };
	long port = 0, src_count = 1, count = 0, max_ms = 60000, pps = 0;
	uint64_t seed = 0x5eedf100dULL ^ (uint64_t)getpid();

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (!strcmp(a, "--dst")) {
			dst = address(a, v);
		} else if (!strcmp(a, "--src")) {
			src = address(a, v);
		} else if (!strcmp(a, "--port")) {
			port = num(v, 1, 65535);
		} else if (!strcmp(a, "--src-count")) {
			src_count = num(v, 1, 256);
		} else if (!strcmp(a, "--count")) {
			count = num(v, 1, MAX_COUNT);
		} else if (!strcmp(a, "--max-ms")) {
			max_ms = num(v, 1, MAX_MS);
		} else if (!strcmp(a, "--pps")) {
			pps = num(v, 0, 10000000);
		} else if (!strcmp(a, "--seed")) {
			seed = (uint64_t)num(v, 1, 0x7fffffffL);
		} else {
			usage();
		}
		i++;
	}
	if (!dst.family || !src.family || !port || !count)
		usage();
	if (src.family != dst.family) {
		fprintf(stderr, "sy-flood: --src and --dst are of different families\n");
		exit(2);
	}
	rng_state = seed ? seed : 1;

	const int family = dst.family;
	const size_t alen = addr_len(family);
	// IPPROTO_RAW: the packet carries its IP header, for either family.
	int fd = socket(family, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		fprintf(stderr, "sy-flood: raw socket: %s\n", strerror(errno));
		return 1;
	}
	int sndbuf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));

	struct sockaddr_storage to = { 0 };
	socklen_t to_len;
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&to;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, dst.b, 4);
		to_len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&to;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, dst.b, 16);
		to_len = sizeof(*sin6);
	}
	// The last 32 bits of --src, the part the K source addresses differ in.
	uint32_t src_low;
	memcpy(&src_low, src.b + alen - 4, 4);
	src_low = ntohl(src_low);

	uint8_t pkt[60];
	uint64_t t0 = now_ms(), deadline = t0 + (uint64_t)max_ms;
	long sent = 0, errors = 0;

	for (long n = 0; n < count; n++) {
		if ((n & 255) == 0) {
			uint64_t t = now_ms();
			if (t >= deadline)
				break;
			// Pacing: never ahead of n / pps seconds.
			if (pps > 0) {
				uint64_t due = t0 + (uint64_t)n * 1000u / (uint64_t)pps;
				if (due > t)
					usleep((useconds_t)((due - t) * 1000u));
			}
		}
		uint8_t saddr[16];
		uint32_t low = htonl(src_low + rnd() % (uint32_t)src_count);

		memcpy(saddr, src.b, alen);
		memcpy(saddr + alen - 4, &low, 4);

		memset(pkt, 0, sizeof(pkt));
		size_t iplen = ip_header(pkt, family, saddr, dst.b);
		struct tcphdr *tcp = (struct tcphdr *)(pkt + iplen);

		tcp->source = htons((uint16_t)(1024 + rnd() % (65536 - 1024)));
		tcp->dest = htons((uint16_t)port);
		tcp->seq = rnd();
		tcp->doff = 5;
		tcp->syn = 1;
		tcp->window = htons(64240);
		// The pseudo header's sum is the same expression for both
		// families: addresses, protocol, TCP length (RFC 793, RFC 8200 8.1).
		uint32_t ph = sum16(saddr, alen, sum16(dst.b, alen, 0)) + IPPROTO_TCP + 20;
		tcp->check = htons(csum_fold(sum16(tcp, 20, ph)));

		if (sendto(fd, pkt, iplen + 20, 0, (struct sockaddr *)&to, to_len) < 0) {
			if (errno == ENOBUFS || errno == EAGAIN) {
				usleep(100);
				n--; // retry this one
				if (++errors > count)
					break;
				continue;
			}
			errors++;
			if (errors > 1000)
				break;
			continue;
		}
		sent++;
	}
	printf("# sent=%ld errors=%ld elapsed_ms=%llu\n", sent, errors, (unsigned long long)(now_ms() - t0));
	close(fd);
	return sent == count ? 0 : 1;
}
