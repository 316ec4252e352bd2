// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The socket programs tell the node's own sockets from pods' by the cookie
 * of the node's network namespace, the one the loader runs in. 0 when the
 * kernel cannot say (before 5.14): then SY_CFG_F_POD_UDP_CONNECT_TC has no
 * effect and connect() translates every UDP socket, as without it. */
#include <unistd.h>
#include <sys/socket.h>

#include "netns_cookie.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71 /* Linux 5.14, <asm-generic/socket.h> */
#endif

uint64_t host_netns_cookie(void)
{
	static uint64_t cookie;
	static int known;
	socklen_t len = sizeof(cookie);
	int fd;

	if (known)
		return cookie;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0)
		cookie = 0;
	close(fd);
	known = 1;
	return cookie;
}
