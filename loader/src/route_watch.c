// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The route watcher (route_watch.h). The messages are not parsed: any of
 * them may change what bpf_fib_lookup() answers for some flow (a route, a
 * nexthop, a neighbour's MAC or state, a device's MTU or state, an address,
 * a policy rule, forwarding on a device), and telling which flows is the
 * kernel's job; the datapath simply asks it again. A burst of messages read
 * in one go is one bump. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>

#include "log.h"
#include "route_watch.h"

/* Room for a burst (a link going down withdraws all its routes) before the
 * kernel drops messages; an overflow is a bump anyway. */
#define ROUTE_WATCH_RCVBUF (1 << 20)

struct route_watch {
	int fd;
	int gen_fd;    /* sy_fib_gen */
	uint32_t gen;  /* the value written last */
};

static const unsigned int groups[] = {
	RTNLGRP_LINK, RTNLGRP_NEIGH,
	RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV4_RULE,
	RTNLGRP_IPV4_NETCONF,
	RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV6_ROUTE, RTNLGRP_IPV6_RULE,
	RTNLGRP_IPV6_NETCONF,
};
/* Nexthop objects (kernel >= 5.3; routes that use them are not announced
 * again when the nexthop changes); not fatal where unknown. */
#define SY_RTNLGRP_NEXTHOP 32

static int write_gen(int gen_fd, uint32_t gen)
{
	uint32_t zero = 0;

	return bpf_map_update_elem(gen_fd, &zero, &gen, BPF_ANY) ? -errno : 0;
}

/* The next generation: never 0 (cache off). */
static int bump(struct route_watch *w)
{
	uint32_t next = w->gen + 1 ? w->gen + 1 : 1;
	int err = write_gen(w->gen_fd, next);

	if (err) {
		log_error("route watch: sy_fib_gen: %s", sy_errstr(err));
		return err;
	}
	w->gen = next;
	return 0;
}

struct route_watch *route_watch_open(struct loader *L)
{
	int gen_fd = sy_map_fd(L, SY_MAP_FIB_GEN);
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct route_watch *w;
	uint32_t zero = 0, gen = 0;
	int rcvbuf = ROUTE_WATCH_RCVBUF, nh = SY_RTNLGRP_NEXTHOP;

	w = calloc(1, sizeof(*w));
	if (!w)
		goto fail;
	w->gen_fd = gen_fd;
	w->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       NETLINK_ROUTE);
	if (w->fd < 0 || bind(w->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail_errno;
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (setsockopt(w->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
			       &groups[i], sizeof(groups[i])) < 0)
			goto fail_errno;
	if (setsockopt(w->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &nh,
		       sizeof(nh)) < 0)
		log_warn("route watch: no nexthop notifications: %s",
			 sy_errstr(-errno));
	if (setsockopt(w->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		       sizeof(rcvbuf)) < 0)
		log_warn("route watch: SO_RCVBUF: %s", sy_errstr(-errno));
	/* Continue from the pinned value: entries written under an earlier
	 * loader carry generations up to it. */
	if (bpf_map_lookup_elem(gen_fd, &zero, &gen) == 0)
		w->gen = gen;
	if (bump(w))
		goto fail;
	log_info("route watch: on (sy_fib_gen %u)", w->gen);
	return w;

fail_errno:
	log_error("route watch: netlink socket: %s; route-result cache off",
		  sy_errstr(-errno));
fail:
	if (write_gen(gen_fd, 0))
		log_error("route watch: cannot turn the route-result cache off "
			  "(sy_fib_gen); entries are bounded by their age only");
	route_watch_close(w);
	return NULL;
}

void route_watch_close(struct route_watch *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}

int route_watch_fd(const struct route_watch *w)
{
	return w->fd;
}

int route_watch_read(struct route_watch *w)
{
	char buf[8192];
	bool changed = false;

	for (;;) {
		ssize_t n = recv(w->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0) {
			changed = true;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENOBUFS) {
			log_warn("route watch: notifications lost (ENOBUFS)");
			changed = true;
			continue;
		}
		break; /* EAGAIN: drained */
	}
	return changed ? bump(w) : 0;
}
