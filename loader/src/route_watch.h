/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The route watcher: keeps the datapath's route-result cache honest
 * (bpf/include/sy_fib_cache.h) by bumping sy_fib_gen on every route,
 * nexthop, neighbour, link, address, rule and netconf notification of the
 * loader's network namespace. */
#ifndef SY_ROUTE_WATCH_H
#define SY_ROUTE_WATCH_H

#include <time.h>

#include "loader.h"

struct route_watch;
/* Subscribes and bumps the generation once (changes made while no loader
 * watched). NULL (logged) when the socket cannot be had: sy_fib_gen is then
 * set to 0, which turns the cache off (every packet asks the kernel). */
struct route_watch *route_watch_open(struct loader *L);
void route_watch_close(struct route_watch *w);
/* The fd to poll for readability. */
int route_watch_fd(const struct route_watch *w);
/* Drains the socket; bumps the generation once if anything (or an overflow,
 * ENOBUFS) was read. Returns 0 or -errno (the map write failed). */
int route_watch_read(struct route_watch *w);
/* Every round of the server: looks at the multipath hash sysctls when due
 * and bumps if the key mode changed; *timeout: how long until the next
 * look (the server's poll sleeps no longer). 0 or -errno. */
int route_watch_tick(struct route_watch *w, struct timespec *timeout);

#endif
