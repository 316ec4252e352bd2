// sy-probe transfer: one TCP connection that uploads --bytes N to a
// sy-whoami in line mode and reads its answers, for tests of bulk transfers
// (path-MTU discovery through NATed flows).
//
// The N bytes go as lines of TRANSFER_LINE bytes (the last one shorter),
// each ending in '\n'; sy-whoami answers every line with "NAME\n". Sending
// and reading run together (poll), so neither side's buffers fill up. After
// the last byte the write side is shut down; the transfer succeeds when one
// answer per line came back before --timeout-ms (for the whole transfer)
// and all answers are the same name.
//
// Output: "NAME bytes=N lines=L ms=T pmtu=P" (P: the socket's path MTU,
// IP_MTU or IPV6_MTU, at the end), or "ERR <reason> sent=S answers=A pmtu=P".
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe.h"

#define TRANSFER_LINE 1000

/* The socket's path MTU: IP_MTU, or IPV6_MTU for an IPv6 socket. */
static int path_mtu(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int mtu = 0;
	socklen_t l = sizeof(mtu);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -1;
	if (ss.ss_family == AF_INET6 ? getsockopt(fd, IPPROTO_IPV6, IPV6_MTU, &mtu, &l) < 0
				     : getsockopt(fd, IPPROTO_IP, IP_MTU, &mtu, &l) < 0)
		return -1;
	return mtu;
}

int run_transfer(const struct probe_opts *o)
{
	long total = o->bytes, lines = (total + TRANSFER_LINE - 1) / TRANSFER_LINE;
	long sent = 0, answers = 0;
	uint64_t start = now_us(), deadline = start + (uint64_t)o->timeout_ms * 1000u;
	char chunk[TRANSFER_LINE * 16], in[4096], name[256] = "", cur[256];
	size_t cur_len = 0;
	int fd, err, shut = 0, bad_name = 0;

	// Every line: 'x's then '\n'; chunk holds 16 of them.
	memset(chunk, 'x', sizeof(chunk));
	for (int i = 1; i <= 16; i++)
		chunk[i * TRANSFER_LINE - 1] = '\n';

	fd = make_socket(o->dst.ss_family, SOCK_STREAM, o->src_port);
	if (fd < 0) {
		printf("ERR %s sent=0 answers=0 pmtu=-1\n", err_reason(-fd));
		return 1;
	}
	err = connect_timeout(fd, &o->dst, o->dst_len, o->timeout_ms);
	if (err) {
		printf("ERR %s sent=0 answers=0 pmtu=-1\n", err_reason(err));
		close(fd);
		return 1;
	}
	while (answers < lines) {
		uint64_t now = now_us();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r;

		if (now >= deadline) {
			err = ETIMEDOUT;
			break;
		}
		if (sent < total)
			p.events |= POLLOUT;
		r = poll(&p, 1, (int)((deadline - now + 999) / 1000));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			break;
		}
		if (p.revents & POLLOUT) {
			// The next bytes of the stream: offset sent % TRANSFER_LINE
			// within a line; the last line ends at total with '\n'.
			long left = total - sent, off = sent % TRANSFER_LINE;
			size_t n = sizeof(chunk) - (size_t)off;
			ssize_t w;

			if ((long)n > left)
				n = (size_t)left;
			if (left <= (long)n && n > 0) {
				// Last piece: make its final byte a newline.
				char last[sizeof(chunk)];

				memcpy(last, chunk + off, n);
				last[n - 1] = '\n';
				w = send(fd, last, n, MSG_NOSIGNAL);
			} else {
				w = send(fd, chunk + off, n, MSG_NOSIGNAL);
			}
			if (w < 0 && errno != EAGAIN && errno != EINTR) {
				err = errno;
				break;
			}
			if (w > 0)
				sent += w;
			if (sent == total && !shut) {
				shutdown(fd, SHUT_WR);
				shut = 1;
			}
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(fd, in, sizeof(in), 0);

			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n < 0) {
				err = errno;
				break;
			}
			if (n == 0) {
				err = -1; // closed early
				break;
			}
			for (ssize_t i = 0; i < n; i++) {
				if (in[i] != '\n') {
					if (cur_len < sizeof(cur) - 1)
						cur[cur_len++] = in[i];
					continue;
				}
				cur[cur_len] = 0;
				if (!answers)
					snprintf(name, sizeof(name), "%s", cur);
				else if (strcmp(name, cur) != 0)
					bad_name = 1;
				answers++;
				cur_len = 0;
			}
		}
	}
	int mtu = path_mtu(fd);
	if (answers == lines && !bad_name) {
		printf("%s bytes=%ld lines=%ld ms=%llu pmtu=%d\n", name, total, lines,
		       (unsigned long long)((now_us() - start) / 1000), mtu);
		close(fd);
		return 0;
	}
	printf("ERR %s sent=%ld answers=%ld pmtu=%d\n",
	       bad_name ? "mixed-answers" : err == -1 ? "closed" : err_reason(err ? err : ETIMEDOUT),
	       sent, answers, mtu);
	close(fd);
	return 1;
}
