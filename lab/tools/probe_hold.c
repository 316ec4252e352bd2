// sy-probe hold: long-lived flows, to test what happens to established
// connections while services and endpoints change underneath them.
//
// Opens --conns TCP connections (or, with --udp, connected UDP sockets: one
// flow each) and every --interval-ms sends each a line ("ping", or "peer?"
// with --peer) and waits up to --timeout-ms for the answer. It runs for
// --duration-ms or until SIGTERM/SIGINT, then reports.
//
// While running it prints events as they happen:
//   event t=<ms> conn=<i> ERR <reason>
//   event t=<ms> conn=<i> switched <old> -> <new>
// and at the end one line per flow and a summary:
//   conn <i> port=<local port> backend=<first name> last=<last name> ok=<n> err=<n> state=open|closed
//        [switched=<name>,<name>...] [error=<last reason>] [peer=<ip:port the backend saw>]
//   summary conns=<n> open=<n> ok=<n> err=<n> switched=<flows that changed backend> maxgap=<ms>
// and, per flow, answered=<CLOCK_MONOTONIC ms of its last answer, 0 = never>:
// a test compares it with its own monotonic clock (same clock in every
// namespace) to tell a flow that answers again after an event from one that
// broke there.
// maxgap (also per flow, gap=<ms>) is the longest time a flow went without an
// answer: between two answers, or from its start to the first one, or from
// the last answer to the end: a stall of the flow shows there.
// A TCP flow is closed after a reset, EOF or connect failure; a timeout is
// counted and the flow kept. Exit status 0 when no flow saw an error.
// With --src-port P, flow i binds source port P + i.
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe.h"

#define FLOW_BUF 1024
#define NAME_MAX_ 128

struct flow {
	int fd;
	int alive;
	int awaiting;
	int port;
	long ok, err;
	uint64_t last_reply_us;
	uint64_t answered_us; /* last answer, CLOCK_MONOTONIC; 0 = none yet */
	long max_gap_ms;
	char first[NAME_MAX_];
	char last[NAME_MAX_];
	char peer[64];
	char error[48];
	char switched[512];
	char buf[FLOW_BUF];
	size_t blen;
};

static volatile sig_atomic_t g_stop;
static uint64_t g_t0;

static void on_stop(int sig)
{
	(void)sig;
	g_stop = 1;
}

static long elapsed_ms(void)
{
	return (long)((now_us() - g_t0) / 1000u);
}

static void flow_error(struct flow *f, int idx, const char *reason, int fatal)
{
	f->err++;
	snprintf(f->error, sizeof(f->error), "%s", reason);
	printf("event t=%ld conn=%d ERR %s\n", elapsed_ms(), idx, reason);
	f->awaiting = 0;
	if (fatal && f->alive) {
		f->alive = 0;
		close(f->fd);
		f->fd = -1;
	}
}

static void flow_reply(struct flow *f, int idx, char *line)
{
	chomp(line);
	char name[NAME_MAX_];
	snprintf(name, sizeof(name), "%s", line);
	char *sp = strchr(name, ' ');
	if (sp) {
		*sp = 0;
		snprintf(f->peer, sizeof(f->peer), "%s", sp + 1);
	}
	f->ok++;
	f->awaiting = 0;
	uint64_t now = now_us();
	long gap = (long)((now - f->last_reply_us) / 1000u);
	if (gap > f->max_gap_ms)
		f->max_gap_ms = gap;
	f->last_reply_us = now;
	f->answered_us = now;
	if (!f->first[0]) {
		snprintf(f->first, sizeof(f->first), "%s", name);
	} else if (strcmp(f->last, name) != 0) {
		printf("event t=%ld conn=%d switched %s -> %s\n", elapsed_ms(), idx, f->last, name);
		size_t l = strlen(f->switched);
		if (l + strlen(name) + 2 < sizeof(f->switched))
			snprintf(f->switched + l, sizeof(f->switched) - l, "%s%s", l ? "," : "", name);
	}
	snprintf(f->last, sizeof(f->last), "%s", name);
}

static void flow_readable(const struct probe_opts *o, struct flow *f, int idx)
{
	if (o->proto_udp) {
		char d[2048];
		for (;;) {
			ssize_t n = recv(f->fd, d, sizeof(d) - 1, 0);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN && errno != EWOULDBLOCK)
					flow_error(f, idx, err_reason(errno), 0);
				return;
			}
			d[n] = 0;
			if (f->awaiting)
				flow_reply(f, idx, d);
		}
	}
	for (;;) {
		if (f->blen == FLOW_BUF)
			f->blen = 0;
		ssize_t n = recv(f->fd, f->buf + f->blen, FLOW_BUF - f->blen, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				flow_error(f, idx, err_reason(errno), 1);
			break;
		}
		if (n == 0) {
			flow_error(f, idx, "closed", 1);
			return;
		}
		f->blen += (size_t)n;
	}
	if (!f->alive)
		return;
	char *nl;
	while ((nl = memchr(f->buf, '\n', f->blen)) != NULL) {
		size_t l = (size_t)(nl - f->buf);
		char line[FLOW_BUF + 1];
		memcpy(line, f->buf, l);
		line[l] = 0;
		memmove(f->buf, nl + 1, f->blen - l - 1);
		f->blen -= l + 1;
		// A late answer to an earlier (timed out) ping counts too.
		flow_reply(f, idx, line);
	}
}

int run_hold(const struct probe_opts *o)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	long n = o->conns;
	struct flow *flows = calloc((size_t)n, sizeof(struct flow));
	struct pollfd *pfds = calloc((size_t)n, sizeof(struct pollfd));
	int *pidx = calloc((size_t)n, sizeof(int));
	if (!flows || !pfds || !pidx) {
		fprintf(stderr, "sy-probe: out of memory\n");
		return 2;
	}
	g_t0 = now_us();
	for (long i = 0; i < n && !g_stop; i++) {
		struct flow *f = &flows[i];
		f->fd = -1;
		// --src-port P: flow i binds P + i.
		int fd = make_socket(o->dst.ss_family, o->proto_udp ? SOCK_DGRAM : SOCK_STREAM,
				     o->src_port ? o->src_port + (int)i : 0);
		if (fd < 0) {
			flow_error(f, (int)i, err_reason(-fd), 1);
			continue;
		}
		int r;
		if (o->proto_udp)
			r = connect(fd, (const struct sockaddr *)&o->dst, o->dst_len) < 0 ? errno : 0;
		else
			r = connect_timeout(fd, &o->dst, o->dst_len, o->timeout_ms);
		if (r) {
			close(fd);
			flow_error(f, (int)i, err_reason(r), 1);
			continue;
		}
		struct sockaddr_storage local;
		socklen_t ll = sizeof(local);
		if (getsockname(fd, (struct sockaddr *)&local, &ll) == 0)
			f->port = sockaddr_port(&local);
		f->fd = fd;
		f->alive = 1;
		f->last_reply_us = now_us();
	}

	const char *msg = o->proto_udp ? (o->peer ? "peer?" : "ping") : (o->peer ? "peer?\n" : "ping\n");
	uint64_t end = g_t0 + (uint64_t)o->duration_ms * 1000u;
	while (!g_stop) {
		uint64_t round = now_us();
		if (round >= end)
			break;
		for (long i = 0; i < n; i++) {
			struct flow *f = &flows[i];
			if (!f->alive)
				continue;
			if (send(f->fd, msg, strlen(msg), MSG_NOSIGNAL) < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					flow_error(f, (int)i, "blocked", 0);
				else
					flow_error(f, (int)i, err_reason(errno), !o->proto_udp);
				continue;
			}
			f->awaiting = 1;
		}
		uint64_t deadline = round + (uint64_t)o->timeout_ms * 1000u;
		while (!g_stop) {
			int np = 0;
			for (long i = 0; i < n; i++) {
				if (flows[i].alive && flows[i].awaiting) {
					pfds[np].fd = flows[i].fd;
					pfds[np].events = POLLIN;
					pfds[np].revents = 0;
					pidx[np++] = (int)i;
				}
			}
			uint64_t now = now_us();
			if (np == 0 || now >= deadline)
				break;
			int r = poll(pfds, (nfds_t)np, (int)((deadline - now + 999) / 1000));
			if (r < 0 && errno != EINTR)
				break;
			for (int k = 0; k < np && r > 0; k++)
				if (pfds[k].revents)
					flow_readable(o, &flows[pidx[k]], pidx[k]);
		}
		for (long i = 0; i < n; i++)
			if (flows[i].alive && flows[i].awaiting && !g_stop)
				flow_error(&flows[i], (int)i, "timeout", 0);
		uint64_t next = round + (uint64_t)o->interval_ms * 1000u;
		uint64_t now = now_us();
		if (next > end)
			next = end;
		if (next > now && !g_stop)
			sleep_ms((long)((next - now + 999) / 1000));
	}

	long open = 0, ok = 0, err = 0, switched = 0, maxgap = 0;
	uint64_t t_end = now_us();
	for (long i = 0; i < n; i++) {
		struct flow *f = &flows[i];
		if (f->last_reply_us) {
			long tail = (long)((t_end - f->last_reply_us) / 1000u);
			if (tail > f->max_gap_ms)
				f->max_gap_ms = tail;
		}
		if (f->max_gap_ms > maxgap)
			maxgap = f->max_gap_ms;
		printf("conn %ld port=%d backend=%s last=%s ok=%ld err=%ld state=%s gap=%ld answered=%llu", i, f->port,
		       f->first[0] ? f->first : "-", f->last[0] ? f->last : "-", f->ok, f->err,
		       f->alive ? "open" : "closed", f->max_gap_ms,
		       (unsigned long long)(f->answered_us / 1000u));
		if (f->switched[0])
			printf(" switched=%s", f->switched);
		if (f->error[0])
			printf(" error=%s", f->error);
		if (f->peer[0])
			printf(" peer=%s", f->peer);
		printf("\n");
		open += f->alive;
		ok += f->ok;
		err += f->err;
		switched += f->switched[0] != 0;
		if (f->fd >= 0)
			close(f->fd);
	}
	printf("summary conns=%ld open=%ld ok=%ld err=%ld switched=%ld maxgap=%ld\n", n, open, ok, err, switched, maxgap);
	free(flows);
	free(pfds);
	free(pidx);
	return err ? 1 : 0;
}
