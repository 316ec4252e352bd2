// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The route watcher (route_watch.h). The messages are not parsed: any of
 * them may change what bpf_fib_lookup() answers for some flow (a route, a
 * nexthop, a neighbour's MAC or state, a device's MTU or state, an address,
 * a policy rule, forwarding on a device), and telling which flows is the
 * kernel's job; the datapath simply asks it again. A burst of messages read
 * in one go is one bump. Rule, route and nexthop messages also make it
 * dump the rules and routes again for the cache's key mode
 * (fib_key_mode.c), written with the generation. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>

#include "fib_key_mode.h"
#include "log.h"
#include "route_watch.h"
#include "sy_structs.h"

/* Room for a burst (a link going down withdraws all its routes) before the
 * kernel drops messages; an overflow is a bump anyway. */
#define ROUTE_WATCH_RCVBUF (1 << 20)

struct route_watch {
	int fd;
	int gen_fd;    /* sy_fib_gen */
	uint32_t gen;  /* the generation written last (without the mode) */
	uint32_t mode; /* the key mode written last (SY_FIB_SHORT_KEY_*) */
	struct fib_key_facts facts;
	struct timespec sysctl_due; /* next look at the hash policy */
};

/* The multipath hash policy sysctls send no notification (netconf
 * announces forwarding, rp_filter and the like only): read every so often;
 * until then a change of policy can cost what the 1 s age bound allows
 * beyond this period. */
#define ROUTE_WATCH_SYSCTL_PERIOD_S 2

/* The generation field of sy_fib_gen's value. */
#define GEN_MAX (UINT32_MAX >> SY_FIB_GEN_SHIFT)

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
#define SY_RTM_NEWNEXTHOP 104
#define SY_RTM_DELNEXTHOP 105

static int write_gen(int gen_fd, uint32_t gen)
{
	uint32_t zero = 0;

	return bpf_map_update_elem(gen_fd, &zero, &gen, BPF_ANY) ? -errno : 0;
}

/* The next generation (never 0) with the key mode: no entry of the last
 * value, under either mode, is used again. */
static int bump(struct route_watch *w, uint32_t mode)
{
	uint32_t next = w->gen < GEN_MAX ? w->gen + 1 : 1;
	int err = write_gen(w->gen_fd, next << SY_FIB_GEN_SHIFT | mode);

	if (err) {
		log_error("route watch: sy_fib_gen: %s", sy_errstr(err));
		return err;
	}
	if (mode != w->mode)
		log_info("route watch: short key IPv4 %s, IPv6 %s",
			 mode & SY_FIB_SHORT_KEY_V4 ? "on" : "off",
			 mode & SY_FIB_SHORT_KEY_V6 ? "on" : "off");
	w->gen = next;
	w->mode = mode;
	return 0;
}

static void sysctl_schedule(struct route_watch *w)
{
	clock_gettime(CLOCK_MONOTONIC, &w->sysctl_due);
	w->sysctl_due.tv_sec += ROUTE_WATCH_SYSCTL_PERIOD_S;
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
		w->gen = gen >> SY_FIB_GEN_SHIFT;
	fib_key_facts_read(&w->facts);
	if (bump(w, fib_key_mode(&w->facts)))
		goto fail;
	sysctl_schedule(w);
	log_info("route watch: on (generation %u, short key IPv4 %s, IPv6 %s)",
		 w->gen, w->mode & SY_FIB_SHORT_KEY_V4 ? "on" : "off",
		 w->mode & SY_FIB_SHORT_KEY_V6 ? "on" : "off");
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

/* Does the message change what fib_key_facts_read() would read? */
static bool changes_facts(const char *buf, ssize_t n)
{
	for (const struct nlmsghdr *h = (const void *)buf; NLMSG_OK(h, n);
	     h = NLMSG_NEXT(h, n))
		switch (h->nlmsg_type) {
		case RTM_NEWROUTE: case RTM_DELROUTE:
		case RTM_NEWRULE: case RTM_DELRULE:
		case SY_RTM_NEWNEXTHOP: case SY_RTM_DELNEXTHOP:
			return true;
		}
	return false;
}

int route_watch_read(struct route_watch *w)
{
	char buf[8192];
	bool changed = false, facts = false;

	for (;;) {
		ssize_t n = recv(w->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0) {
			changed = true;
			facts = facts || changes_facts(buf, n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENOBUFS) {
			log_warn("route watch: notifications lost (ENOBUFS)");
			changed = facts = true;
			continue;
		}
		break; /* EAGAIN: drained */
	}
	if (facts)
		fib_key_facts_read(&w->facts);
	return changed ? bump(w, fib_key_mode(&w->facts)) : 0;
}

int route_watch_tick(struct route_watch *w, struct timespec *timeout)
{
	struct timespec now;
	uint32_t mode;
	int err = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > w->sysctl_due.tv_sec ||
	    (now.tv_sec == w->sysctl_due.tv_sec &&
	     now.tv_nsec >= w->sysctl_due.tv_nsec)) {
		mode = fib_key_mode(&w->facts);
		if (mode != w->mode)
			err = bump(w, mode);
		sysctl_schedule(w);
		now.tv_sec -= ROUTE_WATCH_SYSCTL_PERIOD_S;
	}
	timeout->tv_sec = w->sysctl_due.tv_sec - now.tv_sec;
	timeout->tv_nsec = w->sysctl_due.tv_nsec - now.tv_nsec;
	if (timeout->tv_nsec < 0) {
		timeout->tv_nsec += 1000000000L;
		timeout->tv_sec--;
	}
	if (timeout->tv_sec < 0)
		timeout->tv_sec = timeout->tv_nsec = 0;
	return err;
}
