// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The route-result cache's key mode (fib_key_mode.h). bpf_fib_lookup()
 * hands the kernel the protocol, the ports and (IPv6) the flow label of the
 * packet; they change its answer only through
 *   - a policy rule selecting on them: FRA_IP_PROTO, FRA_SPORT_RANGE,
 *     FRA_DPORT_RANGE (fib_rule_match), and the attributes newer than these
 *     headers (FRA_DSCP, FRA_FLOWLABEL, port masks, ...), which are taken
 *     as selecting on them since they are not understood here;
 *   - the hash that picks a path of a multipath route (RTA_MULTIPATH, or a
 *     nexthop object, RTA_NH_ID, which may be a group): fib_multipath_hash
 *     without an skb hashes the addresses only under policy 0 and 2, the
 *     ports and protocol under 1, the fib_multipath_hash_fields under 3;
 *     rt6_multipath_hash hashes the flow label and the protocol already
 *     under 0 and 2 (L3), the ports under 1, the fields under 3.
 * The TOS / traffic class, the arrival device and both addresses stay in
 * the short key (rules with tos, iif, from; IPv6 source routing). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "log.h"
#include "fib_key_mode.h"
#include "sy_structs.h"

#ifndef RTA_NH_ID
#define RTA_NH_ID 30
#endif

/* fib_multipath_hash_fields bits that are not addresses: IP_PROTO,
 * FLOWLABEL, SRC_PORT, DST_PORT (the inner ones need an skb). */
#define HASH_FIELDS_NOT_L3 0x3c

enum dump_verdict { DUMP_SAFE, DUMP_UNSAFE };

/* One attribute of a rule: does it leave the short key safe? */
static bool rule_attr_safe(unsigned short type)
{
	switch (type & NLA_TYPE_MASK) {
	case FRA_IP_PROTO:
	case FRA_SPORT_RANGE:
	case FRA_DPORT_RANGE:
		return false;
	default:
		return (type & NLA_TYPE_MASK) < FRA_IP_PROTO;
	}
}

static bool rule_safe(const struct nlmsghdr *h)
{
	const struct fib_rule_hdr *frh = NLMSG_DATA(h);
	int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*frh));
	const struct rtattr *a = (const void *)((const char *)frh +
						NLMSG_ALIGN(sizeof(*frh)));

	if (len < 0)
		return false;
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (!rule_attr_safe(a->rta_type))
			return false;
	return true;
}

static bool route_single_path(const struct nlmsghdr *h)
{
	const struct rtmsg *rtm = NLMSG_DATA(h);
	int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*rtm));
	const struct rtattr *a = RTM_RTA(rtm);

	if (len < 0)
		return false;
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == RTA_MULTIPATH || a->rta_type == RTA_NH_ID)
			return false;
	return true;
}

/* Dumps type (RTM_GETRULE / RTM_GETROUTE) of family and asks each answer
 * whether it is safe. -errno when the dump failed. */
static int dump(int fd, int type, int family, int *verdict)
{
	struct {
		struct nlmsghdr h;
		struct rtmsg m; /* the same size as struct fib_rule_hdr */
	} req = {
		.h.nlmsg_len = sizeof(req),
		.h.nlmsg_type = type,
		.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		.h.nlmsg_seq = 1,
		.m.rtm_family = family,
	};
	static char buf[32768]; /* a dump's datagrams are at most 32 KiB */

	*verdict = DUMP_SAFE;
	if (send(fd, &req, sizeof(req), 0) < 0)
		return -errno;
	for (;;) {
		/* MSG_TRUNC: the datagram's real length, so a cut one is an
		 * error rather than rules or routes not looked at. */
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		if ((size_t)n > sizeof(buf))
			return -EMSGSIZE;
		for (; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				return e->error ? e->error : -EPROTO;
			}
			if (h->nlmsg_type == RTM_NEWRULE && !rule_safe(h))
				*verdict = DUMP_UNSAFE;
			if (h->nlmsg_type == RTM_NEWROUTE &&
			    !route_single_path(h))
				*verdict = DUMP_UNSAFE;
		}
	}
}

/* The sysctl's value, -1 when it cannot be read. */
static long read_sysctl(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* Does the multipath hash of a lookup without an skb ignore the protocol,
 * the ports and the flow label? */
static bool hash_ignores_l4(int family)
{
	const char *dir = family == AF_INET ? "/proc/sys/net/ipv4"
					    : "/proc/sys/net/ipv6";
	char path[96];
	long policy, fields;

	snprintf(path, sizeof(path), "%s/fib_multipath_hash_policy", dir);
	policy = read_sysctl(path);
	if (policy == 3) {
		snprintf(path, sizeof(path), "%s/fib_multipath_hash_fields",
			 dir);
		fields = read_sysctl(path);
		return fields >= 0 && !(fields & HASH_FIELDS_NOT_L3);
	}
	/* IPv6's L3 hash (0, 2) has the flow label and the protocol. */
	return family == AF_INET && (policy == 0 || policy == 2);
}

/* -errno logged: the family then counts as unsafe. */
static bool dump_safe(int fd, int type, int family)
{
	int verdict, err = dump(fd, type, family, &verdict);

	if (err)
		log_warn("route watch: %s dump (family %d): %s; full key",
			 type == RTM_GETRULE ? "rule" : "route", family,
			 sy_errstr(err));
	return !err && verdict == DUMP_SAFE;
}

void fib_key_facts_read(struct fib_key_facts *f)
{
	static const int families[2] = { AF_INET, AF_INET6 };
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval to = { .tv_sec = 2 };
	int fd;

	memset(f, 0, sizeof(*f));
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &to, sizeof(to)) < 0) {
		log_warn("route watch: netlink dump socket: %s; full key",
			 sy_errstr(-errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	for (int i = 0; i < 2; i++) {
		f->rules_safe[i] = dump_safe(fd, RTM_GETRULE, families[i]);
		f->single_path[i] = dump_safe(fd, RTM_GETROUTE, families[i]);
	}
	close(fd);
}

uint32_t fib_key_mode(const struct fib_key_facts *f)
{
	uint32_t mode = 0;

	if (f->rules_safe[0] && (f->single_path[0] || hash_ignores_l4(AF_INET)))
		mode |= SY_FIB_SHORT_KEY_V4;
	if (f->rules_safe[1] && (f->single_path[1] || hash_ignores_l4(AF_INET6)))
		mode |= SY_FIB_SHORT_KEY_V6;
	return mode;
}
