// sy-probe connect-latency: how long connect() takes, one line per attempt.
//
// Each attempt opens a new TCP connection and prints the time from connect()
// to the completed handshake in microseconds (an integer), or "ERR <reason>".
// The connection is then closed with a RST (no TIME_WAIT piles up over long
// runs) unless --graceful. With --summary a last line
// "# n=N ok=K err=E min=.. p50=.. p90=.. p99=.. max=.. mean=.." follows (µs).
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *v, long n, double p)
{
	long i = (long)(p * (double)(n - 1) + 0.5);
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return v[i];
}

int run_connect_latency(const struct probe_opts *o)
{
	uint64_t *samples = calloc((size_t)o->count, sizeof(uint64_t));
	if (!samples) {
		fprintf(stderr, "sy-probe: out of memory\n");
		return 2;
	}
	long ok = 0, bad = 0;
	for (long i = 0; i < o->count; i++) {
		if (i > 0)
			sleep_ms(o->interval_ms);
		int fd = make_socket(o->dst.ss_family, SOCK_STREAM, o->src_port);
		if (fd < 0) {
			printf("ERR %s\n", err_reason(-fd));
			bad++;
			continue;
		}
		if (!o->graceful || o->src_port)
			set_linger0(fd);
		uint64_t t0 = now_us();
		int r = connect_timeout(fd, &o->dst, o->dst_len, o->timeout_ms);
		uint64_t t1 = now_us();
		if (r) {
			printf("ERR %s\n", err_reason(r));
			bad++;
		} else {
			printf("%llu\n", (unsigned long long)(t1 - t0));
			samples[ok++] = t1 - t0;
		}
		close(fd);
	}
	if (o->summary) {
		if (ok > 0) {
			qsort(samples, (size_t)ok, sizeof(uint64_t), cmp_u64);
			uint64_t sum = 0;
			for (long i = 0; i < ok; i++)
				sum += samples[i];
			printf("# n=%ld ok=%ld err=%ld min=%llu p50=%llu p90=%llu p99=%llu max=%llu mean=%llu\n",
			       o->count, ok, bad, (unsigned long long)samples[0],
			       (unsigned long long)pct(samples, ok, 0.50), (unsigned long long)pct(samples, ok, 0.90),
			       (unsigned long long)pct(samples, ok, 0.99), (unsigned long long)samples[ok - 1],
			       (unsigned long long)(sum / (uint64_t)ok));
		} else {
			printf("# n=%ld ok=0 err=%ld\n", o->count, bad);
		}
	}
	free(samples);
	return bad ? 1 : 0;
}
