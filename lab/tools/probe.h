// sy-probe: the lab's compiled client for tests and benchmarks.
// Shared declarations of the probe modes (probe_main.c, probe_net.c,
// probe_latency.c, probe_hold.c, probe_transfer.c).
#ifndef SY_PROBE_H
#define SY_PROBE_H

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>

struct probe_opts {
	const char *mode;        // tcp | udp | http | connect-latency | hold
	const char *host;
	struct sockaddr_storage dst; // IPv4 or IPv6 (the host's family)
	socklen_t dst_len;
	long count;              // attempts (connections / datagram sockets)
	long timeout_ms;         // per operation
	long interval_ms;        // pause between attempts (hold: between rounds)
	int src_port;            // 0 = ephemeral
	long keep;               // requests per connection (tcp/udp/http)
	int peer;                // ask the backend for the address it saw
	const char *path;        // http path
	const char *send;        // tcp/udp payload (a line; "\n" appended for tcp)
	int summary;             // print a "# ..." summary line at the end
	int graceful;            // connect-latency: close normally, not with RST
	long conns;              // hold: connections
	long duration_ms;        // hold: how long to hold
	int proto_udp;           // hold: UDP flows instead of TCP
	long bytes;              // transfer: bytes to upload
	long size;               // udp: datagram bytes (0: just the message)
	long reply_size;         // udp: ask the server for a reply of this many bytes
	int half_close;          // tcp: shutdown(SHUT_WR) after sending, then read
};

// ---- probe_net.c ----
uint64_t now_us(void);
void sleep_ms(long ms);
// A short token for an errno: refused, timeout, unreachable, reset, ...
const char *err_reason(int err);
// Non-blocking socket of the given family and type, bound to src_port when non-zero.
// Returns the fd or -errno.
int make_socket(int family, int type, int src_port);
// Connects fd to dst within timeout_ms. 0 or a positive errno.
int connect_timeout(int fd, const struct sockaddr_storage *dst, socklen_t len, long timeout_ms);
// The port of an IPv4 or IPv6 socket address, host order.
uint16_t sockaddr_port(const struct sockaddr_storage *sa);
// Sends everything within timeout_ms. 0 or a positive errno.
int send_all(int fd, const char *buf, size_t len, long timeout_ms);
// Reads one '\n'-terminated line (without the newline, NUL-terminated) into
// out (cap bytes). Bytes after the line stay in *pend (of *plen bytes, a
// buffer of PEND_CAP bytes). 0, a positive errno, or -1 for EOF ("closed").
#define PEND_CAP 65536
int read_line(int fd, char *pend, size_t *plen, char *out, size_t cap, long timeout_ms);
// Sets SO_LINGER {1,0} so close() sends a RST and leaves no TIME_WAIT.
void set_linger0(int fd);
void chomp(char *s);

// ---- modes ----
int run_tcp(const struct probe_opts *o);
int run_udp(const struct probe_opts *o);
int run_http(const struct probe_opts *o);
int run_connect_latency(const struct probe_opts *o);
int run_hold(const struct probe_opts *o);
int run_transfer(const struct probe_opts *o);

#endif
