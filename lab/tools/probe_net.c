// sy-probe: socket helpers shared by every mode.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void sleep_ms(long ms)
{
	if (ms <= 0)
		return;
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

const char *err_reason(int err)
{
	switch (err) {
	case -1:
		return "closed";
	case ECONNREFUSED:
		return "refused";
	case ETIMEDOUT:
		return "timeout";
	case EHOSTUNREACH:
	case ENETUNREACH:
		return "unreachable";
	case ECONNRESET:
	case EPIPE:
		return "reset";
	case EADDRINUSE:
		return "addrinuse";
	case EADDRNOTAVAIL:
		return "addrnotavail";
	case ENETDOWN:
		return "netdown";
	case EACCES:
	case EPERM:
		return "denied";
	default:
		return strerror(err);
	}
}

int make_socket(int family, int type, int src_port)
{
	int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (type == SOCK_STREAM) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (src_port) {
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)src_port) };
		struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)src_port) };
		int r = family == AF_INET6 ? bind(fd, (struct sockaddr *)&sa6, sizeof(sa6))
					   : bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		if (r < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
	}
	return fd;
}

static int wait_fd(int fd, short events, long timeout_ms)
{
	uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000u;
	for (;;) {
		uint64_t now = now_us();
		if (now >= deadline)
			return ETIMEDOUT;
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, (int)((deadline - now + 999) / 1000));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (r == 0)
			return ETIMEDOUT;
		return 0;
	}
}

uint16_t sockaddr_port(const struct sockaddr_storage *sa)
{
	if (sa->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

int connect_timeout(int fd, const struct sockaddr_storage *dst, socklen_t len, long timeout_ms)
{
	if (connect(fd, (const struct sockaddr *)dst, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return errno;
	int r = wait_fd(fd, POLLOUT, timeout_ms);
	if (r)
		return r;
	int err = 0;
	socklen_t el = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		return errno;
	return err;
}

int send_all(int fd, const char *buf, size_t len, long timeout_ms)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				int r = wait_fd(fd, POLLOUT, timeout_ms);
				if (r)
					return r;
				continue;
			}
			return errno;
		}
		off += (size_t)n;
	}
	return 0;
}

int read_line(int fd, char *pend, size_t *plen, char *out, size_t cap, long timeout_ms)
{
	uint64_t deadline = now_us() + (uint64_t)timeout_ms * 1000u;
	for (;;) {
		char *nl = memchr(pend, '\n', *plen);
		if (nl) {
			size_t l = (size_t)(nl - pend);
			size_t c = l < cap - 1 ? l : cap - 1;
			memcpy(out, pend, c);
			out[c] = 0;
			memmove(pend, nl + 1, *plen - l - 1);
			*plen -= l + 1;
			chomp(out);
			return 0;
		}
		if (*plen == PEND_CAP)
			*plen = 0;  // an endless line: drop it
		uint64_t now = now_us();
		if (now >= deadline)
			return ETIMEDOUT;
		int r = wait_fd(fd, POLLIN, (long)((deadline - now + 999) / 1000));
		if (r)
			return r;
		ssize_t n = recv(fd, pend + *plen, PEND_CAP - *plen, 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return errno;
		}
		if (n == 0) {
			if (*plen > 0) {
				// A last line without a newline.
				size_t c = *plen < cap - 1 ? *plen : cap - 1;
				memcpy(out, pend, c);
				out[c] = 0;
				*plen = 0;
				chomp(out);
				return 0;
			}
			return -1;
		}
		*plen += (size_t)n;
	}
}

void set_linger0(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

void chomp(char *s)
{
	size_t l = strlen(s);
	while (l > 0 && (s[l - 1] == '\n' || s[l - 1] == '\r'))
		s[--l] = 0;
}
