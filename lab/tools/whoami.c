// sy-whoami: the lab's pod workload. An epoll server that tells who it is.
//
//   sy-whoami --name NAME [--tcp PORT]... [--udp PORT]... [--bind ADDR] [--ipv6]
//
// --ipv6: every socket is an IPv6 one on :: (or the --bind address) that
// takes IPv4 too (IPV6_V6ONLY off): a pod of a dual-stack or IPv6 lab serves
// both families on one socket. Peers are printed "a.b.c.d:port" for IPv4
// (IPv4-mapped addresses unmapped) and "[v6]:port" for IPv6. Without it the
// sockets are IPv4 ones, as before.
//
// TCP: the first bytes decide the mode of a connection.
//   HTTP/1.x (starts with a method token): every request gets
//     "HTTP/1.1 200 OK" with body "NAME\n" (path /peer: "NAME ip:port\n", the
//     client address as this server saw it). Keep-alive is honoured
//     (HTTP/1.1 default, "Connection: close" or HTTP/1.0 without keep-alive
//     closes after the answer); pipelined requests are answered in order.
//   Raw lines otherwise: every received line is answered with "NAME\n" (a
//     line starting with "peer?" with "NAME ip:port\n"). Bytes left without
//     a newline when the client half-closes are answered once too. The line
//     "after-eof-ms N" is not answered; instead, once the client half-closes
//     (shutdown(SHUT_WR)), the server waits N ms and then sends "NAME\n"
//     and closes (a reply long after the client's FIN: half-close tests).
// UDP: every datagram is answered with "NAME\n" ("NAME ip:port\n" when it
//   starts with "peer?"). A datagram starting with "size?R" (R bytes, at most
//   65507) is answered with "NAME got=N\n" (N: the bytes received) padded to
//   R bytes: large datagrams both ways, which the network fragments.
//
// Once every socket listens it prints "READY\n" on stdout (the lab runtime
// waits for it). SIGTERM starts "draining": the server logs it and keeps
// serving established AND new connections until it is killed (a model of an
// application that drains slowly); HTTP answers then carry the header
// "X-Sy-Draining: true". SIGPIPE is ignored.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#define MAX_PORTS 64
#define MAX_IN (64 * 1024)
#define MAX_OUT (1024 * 1024)

enum kind { K_TCP_LISTEN = 1, K_UDP = 2, K_CONN = 3 };
enum mode { M_UNKNOWN = 0, M_HTTP = 1, M_LINE = 2 };

struct conn {
	int kind;
	int fd;
	int mode;
	int closing;  // close once the output buffer is flushed
	int rd_shut;  // peer half-closed
	long eof_delay_ms; // "after-eof-ms N": answer N ms after the client's FIN
	char peer[64];
	char *in;
	size_t in_len;
	char *out;
	size_t out_len, out_off;
};

static const char *g_name = "whoami";
static volatile sig_atomic_t g_term;
static int g_draining;
static int g_epfd;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "sy-whoami[%s]: ", g_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void on_term(int sig)
{
	(void)sig;
	g_term = 1;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p) {
		logf_("out of memory");
		exit(1);
	}
	return p;
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		logf_("fcntl: %s", strerror(errno));
		exit(1);
	}
}

static void fmt_peer(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], ip, sizeof(ip));
			snprintf(buf, len, "%s:%u", ip, ntohs(s6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
			snprintf(buf, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
		}
		return;
	}
	const struct sockaddr_in *sa = (const struct sockaddr_in *)ss;
	inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof(ip));
	snprintf(buf, len, "%s:%u", ip, ntohs(sa->sin_port));
}

static struct conn *conn_new(int kind, int fd)
{
	struct conn *c = xmalloc(sizeof(*c));
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->fd = fd;
	return c;
}

static void conn_free(struct conn *c)
{
	epoll_ctl(g_epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static int ep_mod(struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };
	return epoll_ctl(g_epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void out_append(struct conn *c, const char *data, size_t len)
{
	if (c->out_len + len > MAX_OUT) {
		// The client does not read its answers; stop talking to it.
		c->closing = 1;
		return;
	}
	char *n = realloc(c->out, c->out_len + len);
	if (!n) {
		logf_("out of memory");
		exit(1);
	}
	c->out = n;
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
}

// Writes what it can. Returns -1 when the connection must be closed.
static int conn_flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				// After the peer's half-close only writability matters
				// (a level-triggered RDHUP would spin).
				ep_mod(c, c->rd_shut ? EPOLLOUT : EPOLLIN | EPOLLOUT | EPOLLRDHUP);
				return 0;
			}
			return -1;
		}
		c->out_off += (size_t)n;
	}
	c->out_len = c->out_off = 0;
	if (c->closing || c->rd_shut)
		return -1;
	ep_mod(c, EPOLLIN | EPOLLRDHUP);
	return 0;
}

static const char *methods[] = { "GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE " };

// M_HTTP, M_LINE, or M_UNKNOWN when more bytes are needed to decide.
static int detect_mode(const char *buf, size_t len)
{
	int maybe = 0;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		size_t ml = strlen(methods[i]);
		size_t n = len < ml ? len : ml;
		if (memcmp(buf, methods[i], n) == 0) {
			if (len >= ml)
				return M_HTTP;
			maybe = 1;
		}
	}
	if (maybe && !memchr(buf, '\n', len))
		return M_UNKNOWN;
	return M_LINE;
}

static void answer_line(struct conn *c, const char *line, size_t len)
{
	char msg[256];
	int n;
	if (len > 13 && memcmp(line, "after-eof-ms ", 13) == 0) {
		c->eof_delay_ms = strtol(line + 13, NULL, 10);
		if (c->eof_delay_ms < 0 || c->eof_delay_ms > 600000)
			c->eof_delay_ms = 0;
		return;
	}
	if (len >= 5 && memcmp(line, "peer?", 5) == 0)
		n = snprintf(msg, sizeof(msg), "%s %s\n", g_name, c->peer);
	else
		n = snprintf(msg, sizeof(msg), "%s\n", g_name);
	out_append(c, msg, (size_t)n);
}

static void consume(struct conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

static void handle_lines(struct conn *c)
{
	for (;;) {
		char *nl = memchr(c->in, '\n', c->in_len);
		if (!nl)
			break;
		size_t l = (size_t)(nl - c->in);
		answer_line(c, c->in, l);
		consume(c, l + 1);
	}
	if (c->rd_shut && c->in_len > 0) {
		answer_line(c, c->in, c->in_len);
		c->in_len = 0;
	}
	if (c->in_len >= MAX_IN) {
		// An endless line: answer it once and forget it.
		answer_line(c, c->in, c->in_len);
		c->in_len = 0;
	}
}

static int header_is(const char *line, size_t len, const char *name, const char **val, size_t *vlen)
{
	size_t nl = strlen(name);
	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return 0;
	const char *v = line + nl + 1;
	const char *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	*val = v;
	*vlen = (size_t)(end - v);
	return 1;
}

static int has_token(const char *v, size_t vlen, const char *tok)
{
	size_t tl = strlen(tok);
	for (size_t i = 0; i + tl <= vlen; i++) {
		if (strncasecmp(v + i, tok, tl) == 0 && (i == 0 || v[i - 1] == ' ' || v[i - 1] == ',') &&
		    (i + tl == vlen || v[i + tl] == ' ' || v[i + tl] == ',' || v[i + tl] == ';'))
			return 1;
	}
	return 0;
}

static void http_reply(struct conn *c, int status, const char *reason, const char *body, int head, int keep)
{
	char hdr[512];
	size_t blen = strlen(body);
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: %s\r\n%s\r\n",
			 status, reason, blen, keep ? "keep-alive" : "close",
			 g_draining ? "X-Sy-Draining: true\r\n" : "");
	out_append(c, hdr, (size_t)n);
	if (!head)
		out_append(c, body, blen);
	if (!keep)
		c->closing = 1;
}

// Answers every complete request in the input buffer.
static void handle_http(struct conn *c)
{
	while (!c->closing && c->in_len > 0) {
		// Find the end of the header block ("\r\n\r\n" or "\n\n").
		size_t hend = 0, i;
		for (i = 0; i < c->in_len; i++) {
			if (c->in[i] != '\n')
				continue;
			if (i + 1 < c->in_len && c->in[i + 1] == '\n') {
				hend = i + 2;
				break;
			}
			if (i + 2 < c->in_len && c->in[i + 1] == '\r' && c->in[i + 2] == '\n') {
				hend = i + 3;
				break;
			}
		}
		if (!hend) {
			if (c->in_len >= MAX_IN) {
				http_reply(c, 431, "Request Header Fields Too Large", "header too large\n", 0, 0);
				c->in_len = 0;
			} else if (c->rd_shut) {
				c->in_len = 0;  // truncated request: nothing to answer
			}
			return;
		}
		// Request line.
		const char *p = c->in, *end = c->in + hend;
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
		const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
		int head = (size_t)(eol - p) >= 5 && memcmp(p, "HEAD ", 5) == 0;
		int http10 = sp2 && (size_t)(eol - sp2) >= 9 && memcmp(sp2 + 1, "HTTP/1.0", 8) == 0;
		char path[256] = "/";
		if (sp1) {
			const char *ps = sp1 + 1;
			const char *pe = sp2 ? sp2 : eol;
			size_t pl = (size_t)(pe - ps);
			if (pl >= sizeof(path))
				pl = sizeof(path) - 1;
			memcpy(path, ps, pl);
			path[pl] = 0;
			char *q = strchr(path, '?');
			if (q)
				*q = 0;
		}
		int keep = !http10;
		size_t clen = 0;
		int chunked = 0;
		for (const char *l = eol + 1; l < end;) {
			const char *le = memchr(l, '\n', (size_t)(end - l));
			if (!le)
				break;
			const char *v;
			size_t vlen;
			if (header_is(l, (size_t)(le - l), "Content-Length", &v, &vlen)) {
				clen = (size_t)strtoull(v, NULL, 10);
			} else if (header_is(l, (size_t)(le - l), "Connection", &v, &vlen)) {
				if (has_token(v, vlen, "close"))
					keep = 0;
				else if (has_token(v, vlen, "keep-alive"))
					keep = 1;
			} else if (header_is(l, (size_t)(le - l), "Transfer-Encoding", &v, &vlen)) {
				chunked = 1;
			}
			l = le + 1;
		}
		if (chunked) {
			// Not worth a parser in a test server: answer, then close.
			keep = 0;
			clen = 0;
		}
		if (hend + clen > c->in_len) {
			if (hend + clen > MAX_IN) {
				// A large body: answer now and drop the connection afterwards.
				keep = 0;
				clen = c->in_len - hend;
			} else {
				if (c->rd_shut)
					c->in_len = 0;
				return;  // wait for the body
			}
		}
		char body[256];
		if (strcmp(path, "/peer") == 0)
			snprintf(body, sizeof(body), "%s %s\n", g_name, c->peer);
		else
			snprintf(body, sizeof(body), "%s\n", g_name);
		http_reply(c, 200, "OK", body, head, keep);
		consume(c, hend + clen);
	}
	if (c->closing)
		c->in_len = 0;
}

struct late_reply {
	int fd;
	long delay_ms;
	char msg[128];
};

static void *late_reply_run(void *arg)
{
	struct late_reply *r = arg;
	struct timespec ts = { r->delay_ms / 1000, (r->delay_ms % 1000) * 1000000L };
	int flags = fcntl(r->fd, F_GETFL);

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	fcntl(r->fd, F_SETFL, flags & ~O_NONBLOCK);
	if (send(r->fd, r->msg, strlen(r->msg), MSG_NOSIGNAL) < 0)
		logf_("late reply: %s", strerror(errno));
	close(r->fd);
	free(r);
	return NULL;
}

// The client half-closed a connection that asked for a late reply: a thread
// of its own sleeps, answers on a duplicate of the socket, and closes it.
static void late_reply(struct conn *c)
{
	struct late_reply *r = xmalloc(sizeof(*r));
	pthread_t t;

	r->fd = dup(c->fd);
	r->delay_ms = c->eof_delay_ms;
	snprintf(r->msg, sizeof(r->msg), "%s\n", g_name);
	if (r->fd < 0 || pthread_create(&t, NULL, late_reply_run, r) != 0) {
		logf_("late reply: cannot start (%s)", strerror(errno));
		if (r->fd >= 0)
			close(r->fd);
		free(r);
	} else {
		pthread_detach(t);
	}
	conn_free(c);
}

static void conn_readable(struct conn *c)
{
	for (;;) {
		if (!c->in)
			c->in = xmalloc(MAX_IN);
		if (c->in_len >= MAX_IN)
			break;
		ssize_t n = recv(c->fd, c->in + c->in_len, MAX_IN - c->in_len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_free(c);
			return;
		}
		if (n == 0) {
			c->rd_shut = 1;
			break;
		}
		c->in_len += (size_t)n;
		if (c->in_len >= MAX_IN)
			break;
	}
	if (c->mode == M_UNKNOWN && c->in_len > 0) {
		c->mode = detect_mode(c->in, c->in_len);
		if (c->mode == M_UNKNOWN && c->rd_shut)
			c->mode = M_LINE;
	}
	if (c->mode == M_LINE)
		handle_lines(c);
	else if (c->mode == M_HTTP)
		handle_http(c);
	if (c->rd_shut && c->eof_delay_ms > 0 && c->out_len == 0) {
		late_reply(c);
		return;
	}
	if (c->rd_shut && c->out_len == 0) {
		conn_free(c);
		return;
	}
	if (conn_flush(c) < 0)
		conn_free(c);
}

static void accept_all(struct conn *l)
{
	for (;;) {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof(sa);
		int fd = accept4(l->fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				logf_("accept: %s", strerror(errno));
			return;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = conn_new(K_CONN, fd);
		fmt_peer(&sa, c->peer, sizeof(c->peer));
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
		if (epoll_ctl(g_epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			logf_("epoll_ctl: %s", strerror(errno));
			close(fd);
			free(c);
		}
	}
}

// "size?R": the reply length asked for, or 0.
static size_t udp_reply_size(const char *buf, ssize_t n)
{
	char tmp[16];
	size_t l;
	long r;

	if (n < 6 || memcmp(buf, "size?", 5) != 0)
		return 0;
	l = (size_t)n - 5 < sizeof(tmp) - 1 ? (size_t)n - 5 : sizeof(tmp) - 1;
	memcpy(tmp, buf + 5, l);
	tmp[l] = 0;
	r = strtol(tmp, NULL, 10);
	return r > 0 && r <= 65507 ? (size_t)r : 0;
}

static void udp_readable(struct conn *u)
{
	static char buf[65536], big[65536];
	for (;;) {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof(sa);
		ssize_t n = recvfrom(u->fd, buf, sizeof(buf), 0, (struct sockaddr *)&sa, &sl);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;  // EAGAIN, or an ICMP error queued for an earlier reply
		}
		char msg[256], peer[64];
		size_t want = udp_reply_size(buf, n);
		int m;
		if (want) {
			m = snprintf(big, sizeof(big), "%s got=%zd\n", g_name, n);
			for (size_t i = (size_t)m; i < want; i++)
				big[i] = (char)('A' + i % 26);
			sendto(u->fd, big, want > (size_t)m ? want : (size_t)m, MSG_NOSIGNAL,
			       (struct sockaddr *)&sa, sl);
			continue;
		}
		if (n >= 5 && memcmp(buf, "peer?", 5) == 0) {
			fmt_peer(&sa, peer, sizeof(peer));
			m = snprintf(msg, sizeof(msg), "%s %s\n", g_name, peer);
		} else {
			m = snprintf(msg, sizeof(msg), "%s\n", g_name);
		}
		sendto(u->fd, msg, (size_t)m, MSG_NOSIGNAL, (struct sockaddr *)&sa, sl);
	}
}

static int parse_port(const char *s)
{
	char *e;
	long v = strtol(s, &e, 10);
	if (*s == 0 || *e != 0 || v < 1 || v > 65535)
		return -1;
	return (int)v;
}

static void usage(void)
{
	fprintf(stderr, "usage: sy-whoami --name NAME [--tcp PORT]... [--udp PORT]... [--bind ADDR] [--ipv6]\n");
	exit(2);
}

// The listening address: IPv4, or IPv6 (--ipv6, taking IPv4 too).
struct bind_spec {
	int ipv6;
	struct in_addr v4;
	struct in6_addr v6;
};

static int open_socket(int type, const struct bind_spec *b, int port)
{
	int fd = socket(b->ipv6 ? AF_INET6 : AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		logf_("socket: %s", strerror(errno));
		exit(1);
	}
	int one = 1, zero = 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = b->v4 };
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = b->v6 };
	if (b->ipv6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0) {
		logf_("IPV6_V6ONLY: %s", strerror(errno));
		exit(1);
	}
	struct sockaddr *addr = b->ipv6 ? (struct sockaddr *)&sa6 : (struct sockaddr *)&sa;
	socklen_t alen = b->ipv6 ? sizeof(sa6) : sizeof(sa);
	if (bind(fd, addr, alen) < 0) {
		logf_("bind %s port %d: %s", type == SOCK_STREAM ? "tcp" : "udp", port, strerror(errno));
		exit(1);
	}
	if (type == SOCK_STREAM && listen(fd, 1024) < 0) {
		logf_("listen port %d: %s", port, strerror(errno));
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	int tcp[MAX_PORTS], udp[MAX_PORTS], ntcp = 0, nudp = 0;
	struct bind_spec bind_addr = { .ipv6 = 0, .v4 = { .s_addr = htonl(INADDR_ANY) }, .v6 = IN6ADDR_ANY_INIT };

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--ipv6") == 0) {
			bind_addr.ipv6 = 1;
			continue;
		}
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		if (strcmp(a, "--name") == 0) {
			g_name = v;
		} else if (strcmp(a, "--tcp") == 0 || strcmp(a, "--udp") == 0) {
			int p = parse_port(v);
			if (p < 0)
				usage();
			if (a[2] == 't') {
				if (ntcp == MAX_PORTS)
					usage();
				tcp[ntcp++] = p;
			} else {
				if (nudp == MAX_PORTS)
					usage();
				udp[nudp++] = p;
			}
		} else if (strcmp(a, "--bind") == 0) {
			if (strchr(v, ':')) {
				if (inet_pton(AF_INET6, v, &bind_addr.v6) != 1)
					usage();
				bind_addr.ipv6 = 1;
			} else if (inet_pton(AF_INET, v, &bind_addr.v4) != 1) {
				usage();
			}
		} else {
			usage();
		}
	}
	if (bind_addr.ipv6 && bind_addr.v4.s_addr != htonl(INADDR_ANY))
		usage();  // an IPv4 --bind with --ipv6: say which one
	if (strlen(g_name) > 200) {
		fprintf(stderr, "sy-whoami: name too long\n");
		return 2;
	}

	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);

	g_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (g_epfd < 0) {
		logf_("epoll_create1: %s", strerror(errno));
		return 1;
	}
	for (int i = 0; i < ntcp + nudp; i++) {
		int is_tcp = i < ntcp;
		int port = is_tcp ? tcp[i] : udp[i - ntcp];
		int fd = open_socket(is_tcp ? SOCK_STREAM : SOCK_DGRAM, &bind_addr, port);
		struct conn *c = conn_new(is_tcp ? K_TCP_LISTEN : K_UDP, fd);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		if (epoll_ctl(g_epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			logf_("epoll_ctl: %s", strerror(errno));
			return 1;
		}
	}
	set_nonblock(STDOUT_FILENO);
	printf("READY\n");
	fflush(stdout);
	logf_("serving %d tcp and %d udp port(s)", ntcp, nudp);

	struct epoll_event evs[64];
	for (;;) {
		if (g_term && !g_draining) {
			g_draining = 1;
			logf_("SIGTERM: draining, still serving until killed");
		}
		int n = epoll_wait(g_epfd, evs, 64, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			logf_("epoll_wait: %s", strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			switch (c->kind) {
			case K_TCP_LISTEN:
				accept_all(c);
				break;
			case K_UDP:
				udp_readable(c);
				break;
			case K_CONN:
				if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
					conn_free(c);
				} else if (evs[i].events & (EPOLLIN | EPOLLRDHUP)) {
					conn_readable(c);
				} else if (evs[i].events & EPOLLOUT) {
					if (conn_flush(c) < 0)
						conn_free(c);
				}
				break;
			}
		}
	}
}
