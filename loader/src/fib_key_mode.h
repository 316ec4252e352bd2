/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Which families may key the route-result cache per route decision (the
 * short key: no protocol, ports or IPv6 flow label; bpf/include/
 * sy_fib_cache.h) instead of per flow: where none of the inputs it leaves
 * out can change what bpf_fib_lookup() answers in this namespace. */
#ifndef SY_FIB_KEY_MODE_H
#define SY_FIB_KEY_MODE_H

#include <stdbool.h>
#include <stdint.h>

/* What the netlink dumps said, per family ([0] IPv4, [1] IPv6); false when
 * a dump failed or held something not understood (fail closed). */
struct fib_key_facts {
	bool rules_safe[2];  /* no rule selects on protocol, ports, flow label */
	bool single_path[2]; /* no multipath route, no nexthop object */
};

/* Dumps the rules and routes (at start and after a rule, route or nexthop
 * notification). */
void fib_key_facts_read(struct fib_key_facts *f);

/* SY_FIB_SHORT_KEY_V4 | SY_FIB_SHORT_KEY_V6 (sy_structs.h) for the
 * families whose rules, multipath routes and multipath hash policy (read
 * here: the sysctls send no notification) let the short key give the
 * kernel's answer. */
uint32_t fib_key_mode(const struct fib_key_facts *f);

#endif
