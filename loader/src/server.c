// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unix stream socket, poll loop and framing. Every message is a protobuf
 * varint length followed by that many bytes (protobufjs encodeDelimited).
 * Single-threaded: a request is decoded, executed and its response queued
 * before the next one is looked at. Clients take turns, one request each per
 * round: a reader with many requests queued (dump pages, lookups) delays a
 * writer on another connection by at most one request, never by its queue. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "handlers.h"
#include "log.h"
#include "monitor.h"
#include "route_watch.h"
#include "sy_structs.h"

#define MAX_CLIENTS 64
#define READ_CHUNK (64 * 1024)
#define OUT_HIGH_WATER (4u << 20) /* stop reading a client above this */
#define VARINT_MAX 10
#define EXIT_FLUSH_TIMEOUT_MS 5000
#define MONITOR_READ_NS (100 * 1000000L) /* sy_events read at least this often */

volatile sig_atomic_t sy_stop_signal;

struct client {
	int fd;
	unsigned int id;
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	bool eof;        /* peer shut its write side */
	bool closing;    /* no more input: close once output is flushed */
	bool exit_after; /* cleanup answered: stop the daemon after flush */
	bool more_input; /* complete frames may be buffered: serve next round */
	bool subscribed; /* monitor: events are streamed to it */
	uint64_t sub_seq;  /* the seq of its monitor request */
	uint64_t missed;   /* events it did not get (output queue full) */
};

struct server {
	struct loader *L;
	int lfd;
	ino_t sock_ino;
	struct client *clients[MAX_CLIENTS];
	int nclients;
	unsigned int next_id;
	bool stop;
	struct timespec exit_deadline;
	bool exit_pending;
	struct monitor *mon;         /* NULL: a datapath without sy_events */
	struct monitor_batch batch;
	struct route_watch *routes;  /* NULL: route-result cache off */
};

/* ---- socket ---------------------------------------------------------- */

static int socket_in_use(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	strcpy(sa.sun_path, path);
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ret;
}

static int server_listen(struct server *S)
{
	const char *path = S->L->opt.socket_path;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_error("socket path too long (max %zu bytes): %s",
			  sizeof(sa.sun_path) - 1, path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("%s exists and is not a socket", path);
			return -EEXIST;
		}
		if (socket_in_use(path)) {
			log_error("%s: another process is listening", path);
			return -EADDRINUSE;
		}
		log_info("removing stale socket %s", path);
		if (unlink(path) && errno != ENOENT) {
			err = -errno;
			log_error("unlink %s: %s", path, sy_errstr(err));
			return err;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		log_error("socket: %s", sy_errstr(err));
		return err;
	}
	old = umask(0177);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (err) {
		err = -errno;
		log_error("bind %s: %s", path, sy_errstr(err));
		close(fd);
		return err;
	}
	if (chmod(path, 0600) || listen(fd, 64)) {
		err = -errno;
		log_error("chmod/listen %s: %s", path, sy_errstr(err));
		close(fd);
		unlink(path);
		return err;
	}
	if (stat(path, &st) == 0)
		S->sock_ino = st.st_ino;
	S->lfd = fd;
	log_info("listening on %s", path);
	return 0;
}

static void server_unlink_socket(struct server *S)
{
	struct stat st;

	/* Only our own socket: a successor may already have replaced it. */
	if (stat(S->L->opt.socket_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_ino == S->sock_ino)
		unlink(S->L->opt.socket_path);
}

/* ---- clients --------------------------------------------------------- */

static void client_free(struct client *c)
{
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static void server_drop(struct server *S, int idx, const char *why)
{
	struct client *c = S->clients[idx];

	log_debug("client %u: closed (%s)", c->id, why);
	if (c->exit_after)
		S->stop = true; /* the cleanup caller went away: exit anyway */
	client_free(c);
	S->clients[idx] = S->clients[--S->nclients];
}

static int out_reserve(struct client *c, size_t more)
{
	size_t need, cap;
	uint8_t *p;

	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	need = c->out_len + more;
	if (need <= c->out_cap)
		return 0;
	if (c->out_off) { /* compact first */
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		need = c->out_len + more;
		if (need <= c->out_cap)
			return 0;
	}
	cap = c->out_cap ? c->out_cap : 4096;
	while (cap < need)
		cap *= 2;
	p = realloc(c->out, cap);
	if (!p)
		return -ENOMEM;
	c->out = p;
	c->out_cap = cap;
	return 0;
}

static size_t varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static int queue_response(struct server *S, struct client *c,
			  sy_response *resp)
{
	size_t size = switchyard__loader__v1__response__get_packed_size(resp);
	uint8_t *p;

	if (resp->code != CODE(OK))
		S->L->errors++;
	if (out_reserve(c, size + VARINT_MAX)) {
		log_error("client %u: cannot buffer a %zu-byte response",
			  c->id, size);
		return -ENOMEM;
	}
	p = c->out + c->out_len;
	p += varint_put(p, size);
	switchyard__loader__v1__response__pack(resp, p);
	c->out_len = (size_t)(p - c->out) + size;
	return 0;
}

static int queue_error(struct server *S, struct client *c, int code,
		       const char *msg)
{
	sy_response resp = PB_INIT(RESPONSE);

	S->L->requests++;
	resp.code = code;
	resp.error = (char *)msg;
	log_warn("client %u: %s", c->id, msg);
	return queue_response(S, c, &resp);
}

/* ---- monitor ---------------------------------------------------------- */

/* The monitor request: answered here, since it changes what the
 * connection receives from now on. */
static void subscribe(struct server *S, struct client *c, sy_response *resp,
		      struct reply *r)
{
	static PB(MonitorEvents) none = PB_INIT(MONITOR_EVENTS);

	if (!S->mon) {
		resp->code = reply_err(r, CODE(UNSUPPORTED), "monitor: the "
				       "datapath has no sy_events ring buffer");
		return;
	}
	c->subscribed = true;
	c->sub_seq = resp->seq;
	resp->result_case = RES(MONITOR);
	resp->monitor = &none;
	log_info("client %u: subscribed to datapath events", c->id);
}

static int queue_response(struct server *S, struct client *c,
			  sy_response *resp);

/* Reads the ring buffer and queues the batch to every subscriber; a
 * subscriber above the high-water mark misses it (counted, told with its
 * next batch). Read even without subscribers, so the kernel's buffer never
 * stays full. */
static void server_events(struct server *S)
{
	PB(MonitorEvents) ev = PB_INIT(MONITOR_EVENTS);
	ProtobufCBinaryData *items;
	int n = monitor_read(S->mon, &S->batch);

	if (n <= 0)
		return;
	items = calloc((size_t)n, sizeof(*items));
	if (!items) {
		log_error("monitor: out of memory for %d events", n);
		return;
	}
	for (int i = 0; i < n; i++) {
		items[i].data = S->batch.buf + (size_t)i * sizeof(struct sy_event);
		items[i].len = sizeof(struct sy_event);
	}
	ev.n_events = (size_t)n;
	ev.events = items;
	for (int i = 0; i < S->nclients; i++) {
		struct client *c = S->clients[i];
		sy_response resp = PB_INIT(RESPONSE);

		if (!c->subscribed || c->closing)
			continue;
		if (c->out_len - c->out_off >= OUT_HIGH_WATER) {
			c->missed += (uint64_t)n;
			continue;
		}
		ev.missed = c->missed;
		resp.seq = c->sub_seq;
		resp.result_case = RES(MONITOR);
		resp.monitor = &ev;
		if (queue_response(S, c, &resp) == 0)
			c->missed = 0;
		else
			c->missed += (uint64_t)n;
	}
	free(items);
}

static int handle_frame(struct server *S, struct client *c,
			const uint8_t *buf, size_t len)
{
	sy_response resp = PB_INIT(RESPONSE);
	struct arena a = { 0 };
	struct reply r = { .resp = &resp, .a = &a };
	sy_request *req;
	int err;

	S->L->requests++;
	req = switchyard__loader__v1__request__unpack(NULL, len, buf);
	if (req && req->op_case == REQ_OP(MONITOR)) {
		resp.seq = req->seq;
		subscribe(S, c, &resp, &r);
		switchyard__loader__v1__request__free_unpacked(req, NULL);
	} else if (!req) {
		resp.code = CODE(MALFORMED);
		resp.error = arena_printf(&a, "request of %zu bytes does not "
					  "decode as a Request", len);
		log_warn("client %u: %s", c->id, resp.error);
	} else {
		resp.seq = req->seq;
		dispatch(S->L, req, &r);
		switchyard__loader__v1__request__free_unpacked(req, NULL);
	}
	err = queue_response(S, c, &resp);
	arena_free(&a);
	if (S->L->exit_after_reply) {
		S->L->exit_after_reply = false;
		c->exit_after = true;
		c->closing = true;
		S->exit_pending = true;
		clock_gettime(CLOCK_MONOTONIC, &S->exit_deadline);
		S->exit_deadline.tv_sec += EXIT_FLUSH_TIMEOUT_MS / 1000;
	}
	return err;
}

/* Parses and executes one complete frame from the input buffer (the other
 * clients get their turn before the next one). Returns <0 when the
 * connection must be dropped at once. */
static int process_input(struct server *S, struct client *c)
{
	size_t off = 0;
	int err = 0, served = 0;

	c->more_input = false;

	/* Once cleanup has answered, nothing else runs: the pins are gone. */
	while (!c->closing && !S->exit_pending &&
	       c->out_len - c->out_off < OUT_HIGH_WATER) {
		size_t avail = c->in_len - off, hdr = 0;
		uint64_t len = 0;
		bool bad = false;

		for (size_t i = 0; i < avail && i < VARINT_MAX; i++) {
			uint8_t b = c->in[off + i];

			if (i == VARINT_MAX - 1 && (b & 0xfe))
				bad = true; /* more than 64 bits */
			len |= (uint64_t)(b & 0x7f) << (7 * i);
			if (!(b & 0x80)) {
				hdr = i + 1;
				break;
			}
		}
		if (!hdr && avail >= VARINT_MAX)
			bad = true;
		if (bad || (hdr && len > S->L->opt.max_message_bytes)) {
			char msg[160];

			if (bad)
				snprintf(msg, sizeof(msg),
					 "length prefix is not a valid varint");
			else
				snprintf(msg, sizeof(msg),
					 "message length %llu exceeds the "
					 "limit of %zu bytes; closing",
					 (unsigned long long)len,
					 S->L->opt.max_message_bytes);
			err = queue_error(S, c, CODE(OVERSIZED), msg);
			c->closing = true;
			off = c->in_len; /* the stream cannot be resynchronised */
			break;
		}
		if (!hdr || avail - hdr < len) {
			if (c->eof && avail) {
				char msg[160];

				snprintf(msg, sizeof(msg),
					 "truncated request: stream ended "
					 "after %zu of %llu bytes", avail - hdr,
					 hdr ? (unsigned long long)len : 0ull);
				err = queue_error(S, c, CODE(MALFORMED), msg);
				off = c->in_len;
				c->closing = true;
			}
			break;
		}
		if (served) {
			c->more_input = true; /* next round */
			break;
		}
		err = handle_frame(S, c, c->in + off + hdr, (size_t)len);
		off += hdr + (size_t)len;
		served++;
		if (err)
			break;
	}
	if (off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	if (c->eof && c->in_len == 0)
		c->closing = true;
	return err;
}

static int client_read(struct server *S, struct client *c)
{
	size_t want = READ_CHUNK;
	ssize_t n;

	if (c->in_cap - c->in_len < want) {
		size_t cap = c->in_cap ? c->in_cap : READ_CHUNK;
		uint8_t *p;

		while (cap - c->in_len < want)
			cap *= 2;
		p = realloc(c->in, cap);
		if (!p)
			return -ENOMEM;
		c->in = p;
		c->in_cap = cap;
	}
	n = recv(c->fd, c->in + c->in_len, want, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		return -errno;
	}
	if (n == 0)
		c->eof = true;
	c->in_len += (size_t)n;
	return process_input(S, c);
}

static int client_flush(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -errno;
		}
		c->out_off += (size_t)n;
	}
	/* Release big buffers (large dumps) once drained. */
	if (c->out_cap > (1u << 20)) {
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	c->out_off = c->out_len = 0;
	return 0;
}

static void server_accept(struct server *S)
{
	while (S->nclients < MAX_CLIENTS) {
		struct client *c;
		int fd;

		fd = accept4(S->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept: %s", sy_errstr(errno));
			return;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			log_error("out of memory accepting a client");
			close(fd);
			return;
		}
		c->fd = fd;
		c->id = ++S->next_id;
		S->clients[S->nclients++] = c;
		log_debug("client %u: connected", c->id);
	}
}

static int poll_timeout(struct server *S, struct timespec *ts)
{
	struct timespec now;
	long ms;

	if (!S->exit_pending)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (S->exit_deadline.tv_sec - now.tv_sec) * 1000 +
	     (S->exit_deadline.tv_nsec - now.tv_nsec) / 1000000;
	if (ms <= 0) {
		log_warn("cleanup reply not collected in time; exiting");
		S->stop = true;
		ms = 0;
	}
	ts->tv_sec = ms / 1000;
	ts->tv_nsec = (ms % 1000) * 1000000;
	return 1;
}

int server_run(struct loader *L)
{
	struct server S = { .L = L, .lfd = -1 };
	struct pollfd pfd[MAX_CLIENTS + 3];
	sigset_t unblocked;
	int err;

	err = server_listen(&S);
	if (err)
		return err;
	S.mon = monitor_open(L);
	S.routes = route_watch_open(L);
	sigprocmask(SIG_SETMASK, NULL, &unblocked);
	sigdelset(&unblocked, SIGTERM);
	sigdelset(&unblocked, SIGINT);

	while (!S.stop && !sy_stop_signal) {
		struct client *snapshot[MAX_CLIENTS];
		struct timespec ts;
		int n = 0, nc = S.nclients, has_to, ret, routes_idx = -1;

		pfd[n].fd = S.lfd;
		pfd[n].events = S.nclients < MAX_CLIENTS && !S.exit_pending ?
					POLLIN : 0;
		n++;
		for (int i = 0; i < nc; i++) {
			struct client *c = S.clients[i];

			snapshot[i] = c;
			pfd[n].fd = c->fd;
			pfd[n].events = 0;
			if (!c->closing && !c->eof &&
			    c->out_len - c->out_off < OUT_HIGH_WATER)
				pfd[n].events |= POLLIN;
			if (c->out_len > c->out_off)
				pfd[n].events |= POLLOUT;
			n++;
		}
		if (S.mon) { /* last: the clients' indexes stay i + 1 */
			pfd[n].fd = monitor_fd(S.mon);
			pfd[n].events = POLLIN;
			n++;
		}
		if (S.routes) {
			routes_idx = n;
			pfd[n].fd = route_watch_fd(S.routes);
			pfd[n].events = POLLIN;
			n++;
		}
		has_to = poll_timeout(&S, &ts);
		if (S.stop)
			break;
		for (int i = 0; i < nc; i++) {
			if (S.clients[i]->more_input) {
				/* buffered requests: just look for new input */
				ts.tv_sec = ts.tv_nsec = 0;
				has_to = 1;
				break;
			}
		}
		/* The datapath wakes the reader only once events piled up
		 * (sy_events.h): read the rest at least every 100 ms. */
		if (S.mon && (!has_to || ts.tv_sec > 0 ||
			      ts.tv_nsec > MONITOR_READ_NS)) {
			ts.tv_sec = 0;
			ts.tv_nsec = MONITOR_READ_NS;
			has_to = 1;
		}
		if (S.routes) {
			struct timespec due;

			route_watch_tick(S.routes, &due);
			if (!has_to || due.tv_sec < ts.tv_sec ||
			    (due.tv_sec == ts.tv_sec &&
			     due.tv_nsec < ts.tv_nsec))
				ts = due;
			has_to = 1;
		}
		ret = ppoll(pfd, n, has_to ? &ts : NULL, &unblocked);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			log_error("ppoll: %s", sy_errstr(errno));
			err = -errno;
			break;
		}
		if (pfd[0].revents & POLLIN)
			server_accept(&S);
		/* First: a route change reaches the datapath before anything
		 * else is served. */
		if (routes_idx >= 0 && pfd[routes_idx].revents)
			route_watch_read(S.routes);
		/* Before the clients: their flush below sends the batch.
		 * Every round, woken or not (see MONITOR_READ_NS). */
		if (S.mon)
			server_events(&S);

		for (int i = 0; i < nc; i++) {
			struct client *c = snapshot[i];
			short rev = pfd[i + 1].revents;
			int idx, cerr = 0;

			for (idx = 0; idx < S.nclients; idx++)
				if (S.clients[idx] == c)
					break;
			if (idx == S.nclients)
				continue;
			if (rev & (POLLIN | POLLHUP | POLLERR) &&
			    pfd[i + 1].events & POLLIN)
				cerr = client_read(&S, c);
			if (!cerr && rev & POLLERR && !(pfd[i + 1].events &
							 POLLIN))
				cerr = -EPIPE;
			if (!cerr && c->out_len > c->out_off)
				cerr = client_flush(c);
			/* Backpressure released, or this client's turn for
			 * its next buffered request. */
			if (!cerr && c->in_len && !c->closing &&
			    (c->out_len == c->out_off || c->more_input) &&
			    !(rev & POLLIN && pfd[i + 1].events & POLLIN))
				cerr = process_input(&S, c);
			if (!cerr && c->out_len > c->out_off)
				cerr = client_flush(c);
			if (cerr) {
				server_drop(&S, idx, sy_errstr(cerr));
				continue;
			}
			if (c->out_len == c->out_off && c->exit_after) {
				S.stop = true;
				server_drop(&S, idx, "cleanup done");
				continue;
			}
			if (c->closing && c->out_len == c->out_off)
				server_drop(&S, idx, c->eof ? "end of stream" :
							      "closing");
		}
	}

	if (sy_stop_signal)
		log_info("signal %d: stopping (datapath and pins stay in place)",
			 (int)sy_stop_signal);
	for (int i = 0; i < S.nclients; i++)
		client_free(S.clients[i]);
	if (S.lfd >= 0)
		close(S.lfd);
	monitor_close(S.mon);
	route_watch_close(S.routes);
	free(S.batch.buf);
	server_unlink_socket(&S);
	return err;
}
