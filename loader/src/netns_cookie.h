/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef SY_NETNS_COOKIE_H
#define SY_NETNS_COOKIE_H

#include <stdint.h>

/* Cookie of the network namespace the loader runs in (the node's), written
 * to sy_config.host_netns_cookie; 0 when the kernel cannot say. */
uint64_t host_netns_cookie(void);

#endif
