// sy-flood: a bounded SYN flood for the lab's tests (new flows by the
// hundred thousand, e.g. against a Service while established connections
// must keep working). Needs CAP_NET_RAW; run it only inside a lab namespace.
//
//   sy-flood --dst IP --port P --src IP [--src-count K] --count N
//            [--max-ms T] [--pps R] [--seed S]
//
// Sends N TCP SYNs (raw socket, IP_HDRINCL) to IP:P, each from a random
// source port (1024-65535) of one of K consecutive source addresses starting
// at --src (K = 1 by default; K addresses give K * 64512 distinct tuples),
// with random sequence numbers and IP ids. Stops after N packets or T ms
// (default 60000), whichever comes first; --pps paces it (0 = as fast as
// the socket takes them). The replies (SYN-ACKs, resets) are not read.
// Prints "# sent=N errors=E elapsed_ms=M" and exits 0 when N were sent.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
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
	fprintf(stderr, "usage: sy-flood --dst IP --port P --src IP [--src-count K] --count N [--max-ms T] [--pps R] [--seed S]\n");
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

int main(int argc, char **argv)
{
	struct in_addr dst = { 0 }, src = { 0 };
	long port = 0, src_count = 1, count = 0, max_ms = 60000, pps = 0;
	uint64_t seed = 0x5eedf100dULL ^ (uint64_t)getpid();

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (!strcmp(a, "--dst")) {
			if (inet_pton(AF_INET, v, &dst) != 1)
				usage();
		} else if (!strcmp(a, "--src")) {
			if (inet_pton(AF_INET, v, &src) != 1)
				usage();
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
	if (!dst.s_addr || !src.s_addr || !port || !count)
		usage();
	rng_state = seed ? seed : 1;

	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		fprintf(stderr, "sy-flood: raw socket: %s\n", strerror(errno));
		return 1;
	}
	int sndbuf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));

	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = dst };
	uint8_t pkt[40];
	struct iphdr *ip = (struct iphdr *)pkt;
	struct tcphdr *tcp = (struct tcphdr *)(pkt + 20);
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
		uint32_t saddr = htonl(ntohl(src.s_addr) + rnd() % (uint32_t)src_count);

		memset(pkt, 0, sizeof(pkt));
		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = htons(sizeof(pkt));
		ip->id = (uint16_t)rnd();
		ip->ttl = 64;
		ip->protocol = IPPROTO_TCP;
		ip->saddr = saddr;
		ip->daddr = dst.s_addr;
		tcp->source = htons((uint16_t)(1024 + rnd() % (65536 - 1024)));
		tcp->dest = htons((uint16_t)port);
		tcp->seq = rnd();
		tcp->doff = 5;
		tcp->syn = 1;
		tcp->window = htons(64240);
		{
			// Pseudo header + TCP header (the kernel fills the IP checksum).
			uint8_t ph[12];

			memcpy(ph, &ip->saddr, 4);
			memcpy(ph + 4, &ip->daddr, 4);
			ph[8] = 0;
			ph[9] = IPPROTO_TCP;
			ph[10] = 0;
			ph[11] = 20;
			tcp->check = htons(csum_fold(sum16(tcp, 20, sum16(ph, 12, 0))));
		}
		if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
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
