// sy-probe: a bounded client for the lab's tests and benchmarks.
//
//   sy-probe tcp|udp|http HOST PORT [options]
//   sy-probe connect-latency HOST PORT [options]
//   sy-probe hold HOST PORT [--conns N] [--duration-ms D] [--udp] [options]
//   sy-probe transfer HOST PORT --bytes N [--timeout-ms T]   (probe_transfer.c)
//
// tcp/udp/http print one line per request: the reply text (the backend's
// "NAME", or "NAME ip:port" with --peer) or "ERR <reason>" (refused, timeout,
// unreachable, reset, closed, addrinuse, ..., for http also "ERR status NNN").
// Every attempt opens a new connection (a new UDP socket: a new flow) and
// sends --keep requests over it.
//
// Options:
//   --count N         attempts (default 1)
//   --timeout-ms T    per connect / per request (default 1000)
//   --interval-ms I   pause between attempts (hold: between rounds; default 0, hold 200)
//   --src-port P      bind this source port (TCP then closes with RST so the
//                     same 4-tuple can be used again at once)
//   --keep N          requests per connection / UDP socket (default 1)
//   --peer            ask the backend which client address it saw
//   --path P          http path (default /; --peer makes it /peer)
//   --send TEXT       tcp/udp payload (default "hello"; tcp appends "\n")
//   --summary         finish with a line "# ok=N err=M ..." (latency: percentiles)
//   --graceful        connect-latency: close normally instead of with RST
//   --conns N         hold: connections to keep open (default 1)
//   --duration-ms D   hold: how long (default 10000; SIGTERM/SIGINT end it early)
//   --udp             hold: UDP flows (one connected socket each) instead of TCP
//   --bytes N         transfer: bytes to upload (lines of 1000 bytes, each
//                     answered by sy-whoami); --timeout-ms is for the whole
//                     transfer there
//   --size N          udp: send datagrams of N bytes (the message, padded);
//                     the line printed is then "<reply> reply=<bytes>"
//   --reply-size R    udp: ask sy-whoami for an R-byte reply ("size?R" request;
//                     its answer starts "NAME got=<bytes it received>")
//   --half-close      tcp: shutdown(SHUT_WR) after sending the request, then
//                     wait (--timeout-ms) for the answer (with --send
//                     "after-eof-ms N": a reply long after the client's FIN)
//
// Exit status: 0 when every request succeeded, 1 otherwise, 2 for usage errors.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe.h"

static void usage(void)
{
	fprintf(stderr,
		"usage: sy-probe tcp|udp|http|connect-latency|hold|transfer HOST PORT [--count N] [--timeout-ms T]\n"
		"       [--interval-ms I] [--src-port P] [--keep N] [--peer] [--path P] [--send TEXT]\n"
		"       [--summary] [--graceful] [--conns N] [--duration-ms D] [--udp] [--bytes N]\n"
		"       [--size N] [--reply-size R] [--half-close]\n");
	exit(2);
}

static long num_arg(const char *s, long min, long max)
{
	char *e;
	long v = strtol(s, &e, 10);
	if (*s == 0 || *e != 0 || v < min || v > max) {
		fprintf(stderr, "sy-probe: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static void print_err(int err)
{
	printf("ERR %s\n", err_reason(err));
}

static void finish_summary(const struct probe_opts *o, long ok, long bad)
{
	if (o->summary)
		printf("# ok=%ld err=%ld\n", ok, bad);
}

int run_tcp(const struct probe_opts *o)
{
	long ok = 0, bad = 0;
	static char pend[PEND_CAP];
	char line[1024], msg[1024];
	snprintf(msg, sizeof(msg), "%s\n", o->peer ? "peer?" : o->send);
	for (long i = 0; i < o->count; i++) {
		if (i > 0)
			sleep_ms(o->interval_ms);
		int fd = make_socket(o->dst.ss_family, SOCK_STREAM, o->src_port);
		if (fd < 0) {
			print_err(-fd);
			bad += o->keep;
			continue;
		}
		if (o->src_port)
			set_linger0(fd);
		int r = connect_timeout(fd, &o->dst, o->dst_len, o->timeout_ms);
		if (r) {
			print_err(r);
			bad += o->keep;
			close(fd);
			continue;
		}
		size_t plen = 0;
		for (long k = 0; k < o->keep; k++) {
			r = send_all(fd, msg, strlen(msg), o->timeout_ms);
			if (!r && o->half_close && shutdown(fd, SHUT_WR) < 0)
				r = errno;
			if (!r)
				r = read_line(fd, pend, &plen, line, sizeof(line), o->timeout_ms);
			if (r) {
				print_err(r);
				bad += o->keep - k;
				break;
			}
			printf("%s\n", line);
			ok++;
		}
		close(fd);
	}
	finish_summary(o, ok, bad);
	return bad ? 1 : 0;
}

// The datagram to send: the message, or with --size/--reply-size a
// "size?R" request padded to --size bytes. Returns its length.
static size_t udp_request(const struct probe_opts *o, char *out, size_t cap)
{
	const char *msg = o->peer ? "peer?" : o->send;
	size_t n;

	if (o->reply_size)
		n = (size_t)snprintf(out, cap, "size?%ld\n", o->reply_size);
	else
		n = (size_t)snprintf(out, cap, "%s", msg);
	if ((size_t)o->size > n && (size_t)o->size <= cap) {
		for (size_t i = n; i < (size_t)o->size; i++)
			out[i] = (char)('a' + i % 26);
		n = (size_t)o->size;
	}
	return n;
}

int run_udp(const struct probe_opts *o)
{
	long ok = 0, bad = 0;
	static char buf[65536], req[65536];
	size_t req_len = udp_request(o, req, sizeof(req));
	for (long i = 0; i < o->count; i++) {
		if (i > 0)
			sleep_ms(o->interval_ms);
		int fd = make_socket(o->dst.ss_family, SOCK_DGRAM, o->src_port);
		if (fd < 0) {
			print_err(-fd);
			bad += o->keep;
			continue;
		}
		// A connected UDP socket reports ICMP errors (port unreachable ->
		// ECONNREFUSED) on the next receive.
		if (connect(fd, (const struct sockaddr *)&o->dst, o->dst_len) < 0) {
			print_err(errno);
			bad += o->keep;
			close(fd);
			continue;
		}
		for (long k = 0; k < o->keep; k++) {
			if (send(fd, req, req_len, MSG_NOSIGNAL) < 0) {
				print_err(errno);
				bad++;
				continue;
			}
			uint64_t deadline = now_us() + (uint64_t)o->timeout_ms * 1000u;
			int err = ETIMEDOUT;
			for (;;) {
				uint64_t now = now_us();
				if (now >= deadline)
					break;
				struct timeval tv = { .tv_sec = (long)((deadline - now) / 1000000u),
						      .tv_usec = (long)((deadline - now) % 1000000u) };
				fd_set rs;
				FD_ZERO(&rs);
				FD_SET(fd, &rs);
				int s = select(fd + 1, &rs, NULL, NULL, &tv);
				if (s < 0 && errno == EINTR)
					continue;
				if (s <= 0)
					break;
				ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
				if (n < 0) {
					if (errno == EINTR || errno == EAGAIN)
						continue;
					err = errno;
					break;
				}
				buf[n] = 0;
				if (o->size || o->reply_size) {
					// First line, then the datagram's length.
					char *nl = memchr(buf, '\n', (size_t)n);
					if (nl)
						*nl = 0;
					snprintf(nl ? nl : buf + n, sizeof(buf) - (size_t)((nl ? nl : buf + n) - buf),
						 " reply=%zd", n);
				}
				chomp(buf);
				err = 0;
				break;
			}
			if (err) {
				print_err(err);
				bad++;
			} else {
				printf("%s\n", buf);
				ok++;
			}
		}
		close(fd);
	}
	finish_summary(o, ok, bad);
	return bad ? 1 : 0;
}

// Reads one HTTP response. Returns 0 and fills status/body, or an error as read_line.
static int http_response(int fd, char *pend, size_t *plen, int *status, char *body, size_t cap, int *server_close,
			 long timeout_ms)
{
	char line[2048];
	int r = read_line(fd, pend, plen, line, sizeof(line), timeout_ms);
	if (r)
		return r;
	if (strncmp(line, "HTTP/1.", 7) != 0 || strlen(line) < 12)
		return EPROTO;
	*status = atoi(line + 9);
	long clen = -1;
	*server_close = 0;
	for (;;) {
		r = read_line(fd, pend, plen, line, sizeof(line), timeout_ms);
		if (r)
			return r;
		if (line[0] == 0)
			break;
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			clen = atol(line + 15);
		else if (strncasecmp(line, "Connection:", 11) == 0 && strcasestr(line + 11, "close"))
			*server_close = 1;
	}
	// Body: Content-Length bytes, or everything until EOF.
	size_t got = 0;
	uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000u;
	for (;;) {
		size_t want = clen >= 0 ? (size_t)clen : (size_t)-1;
		size_t take = *plen < want - got ? *plen : want - got;
		size_t room = got < cap - 1 ? cap - 1 - got : 0;
		if (room > 0)
			memcpy(body + got, pend, take < room ? take : room);
		got += take;
		memmove(pend, pend + take, *plen - take);
		*plen -= take;
		if (clen >= 0 && got >= (size_t)clen)
			break;
		if (now_us() >= deadline)
			return ETIMEDOUT;
		fd_set rs;
		FD_ZERO(&rs);
		FD_SET(fd, &rs);
		struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 };
		if (select(fd + 1, &rs, NULL, NULL, &tv) <= 0)
			continue;
		ssize_t n = recv(fd, pend, PEND_CAP, 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return errno;
		}
		if (n == 0) {
			if (clen >= 0)
				return -1;
			break;
		}
		*plen = (size_t)n;
	}
	body[got < cap - 1 ? got : cap - 1] = 0;
	chomp(body);
	return 0;
}

int run_http(const struct probe_opts *o)
{
	long ok = 0, bad = 0;
	static char pend[PEND_CAP];
	char req[1024], body[1024], hostport[128];
	const char *path = o->peer ? "/peer" : o->path;
	// An IPv6 literal goes in brackets in the Host header.
	snprintf(hostport, sizeof(hostport), strchr(o->host, ':') ? "[%s]:%u" : "%s:%u", o->host, sockaddr_port(&o->dst));
	for (long i = 0; i < o->count; i++) {
		if (i > 0)
			sleep_ms(o->interval_ms);
		int fd = make_socket(o->dst.ss_family, SOCK_STREAM, o->src_port);
		if (fd < 0) {
			print_err(-fd);
			bad += o->keep;
			continue;
		}
		if (o->src_port)
			set_linger0(fd);
		int r = connect_timeout(fd, &o->dst, o->dst_len, o->timeout_ms);
		if (r) {
			print_err(r);
			bad += o->keep;
			close(fd);
			continue;
		}
		size_t plen = 0;
		for (long k = 0; k < o->keep; k++) {
			int last = k == o->keep - 1;
			snprintf(req, sizeof(req),
				 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: sy-probe\r\nConnection: %s\r\n\r\n", path,
				 hostport, last ? "close" : "keep-alive");
			int status = 0, sclose = 0;
			r = send_all(fd, req, strlen(req), o->timeout_ms);
			if (!r)
				r = http_response(fd, pend, &plen, &status, body, sizeof(body), &sclose, o->timeout_ms);
			if (r) {
				if (r == EPROTO)
					printf("ERR protocol\n");
				else
					print_err(r);
				bad += o->keep - k;
				break;
			}
			if (status != 200) {
				printf("ERR status %d\n", status);
				bad++;
			} else {
				printf("%s\n", body);
				ok++;
			}
			if (sclose && !last) {
				printf("ERR closed\n");
				bad += o->keep - k - 1;
				break;
			}
		}
		close(fd);
	}
	finish_summary(o, ok, bad);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct probe_opts o = {
		.count = 1,
		.timeout_ms = 1000,
		.interval_ms = -1,
		.keep = 1,
		.path = "/",
		.send = "hello",
		.conns = 1,
		.duration_ms = 10000,
	};
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 4)
		usage();
	o.mode = argv[1];
	o.host = argv[2];
	long port = num_arg(argv[3], 1, 65535);
	for (int i = 4; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--peer") == 0) {
			o.peer = 1;
			continue;
		} else if (strcmp(a, "--summary") == 0) {
			o.summary = 1;
			continue;
		} else if (strcmp(a, "--graceful") == 0) {
			o.graceful = 1;
			continue;
		} else if (strcmp(a, "--udp") == 0) {
			o.proto_udp = 1;
			continue;
		} else if (strcmp(a, "--half-close") == 0) {
			o.half_close = 1;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (strcmp(a, "--count") == 0)
			o.count = num_arg(v, 1, 100000000);
		else if (strcmp(a, "--timeout-ms") == 0)
			o.timeout_ms = num_arg(v, 1, 3600000);
		else if (strcmp(a, "--interval-ms") == 0)
			o.interval_ms = num_arg(v, 0, 3600000);
		else if (strcmp(a, "--src-port") == 0)
			o.src_port = (int)num_arg(v, 1, 65535);
		else if (strcmp(a, "--keep") == 0)
			o.keep = num_arg(v, 1, 1000000);
		else if (strcmp(a, "--path") == 0)
			o.path = v;
		else if (strcmp(a, "--send") == 0)
			o.send = v;
		else if (strcmp(a, "--conns") == 0)
			o.conns = num_arg(v, 1, 10000);
		else if (strcmp(a, "--size") == 0)
			o.size = num_arg(v, 1, 65507);
		else if (strcmp(a, "--reply-size") == 0)
			o.reply_size = num_arg(v, 1, 65507);
		else if (strcmp(a, "--duration-ms") == 0)
			o.duration_ms = num_arg(v, 0, 86400000);
		else if (strcmp(a, "--bytes") == 0)
			o.bytes = num_arg(v, 1, 1L << 32);
		else
			usage();
	}
	if (strlen(o.send) > 900 || strlen(o.path) > 900)
		usage();

	// Either family: the host's own (an IPv6 literal gives an AF_INET6 socket).
	struct addrinfo hints = { .ai_family = AF_UNSPEC }, *res = NULL;
	int gr = getaddrinfo(o.host, NULL, &hints, &res);
	if (gr != 0 || !res) {
		fprintf(stderr, "sy-probe: cannot resolve %s: %s\n", o.host, gai_strerror(gr));
		return 2;
	}
	memcpy(&o.dst, res->ai_addr, res->ai_addrlen);
	o.dst_len = res->ai_addrlen;
	freeaddrinfo(res);
	if (o.dst.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&o.dst)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)&o.dst)->sin_port = htons((uint16_t)port);

	if (strcmp(o.mode, "tcp") == 0) {
		if (o.interval_ms < 0)
			o.interval_ms = 0;
		return run_tcp(&o);
	}
	if (strcmp(o.mode, "udp") == 0) {
		if (o.interval_ms < 0)
			o.interval_ms = 0;
		return run_udp(&o);
	}
	if (strcmp(o.mode, "http") == 0) {
		if (o.interval_ms < 0)
			o.interval_ms = 0;
		return run_http(&o);
	}
	if (strcmp(o.mode, "connect-latency") == 0) {
		if (o.interval_ms < 0)
			o.interval_ms = 0;
		return run_connect_latency(&o);
	}
	if (strcmp(o.mode, "hold") == 0) {
		if (o.interval_ms < 0)
			o.interval_ms = 200;
		return run_hold(&o);
	}
	if (strcmp(o.mode, "transfer") == 0) {
		if (o.bytes <= 0)
			usage();
		return run_transfer(&o);
	}
	usage();
	return 2;
}
