/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef SY_XDP_ATTACH_H
#define SY_XDP_ATTACH_H

#include <stdbool.h>
#include <stdint.h>

#include "loader.h"
#include "sy_err.h"

/* Attaches prog_fd (sy_xdp) to ifname; *mode gets SY_ATTACH_XDP_NATIVE or
 * _GENERIC. */
int xdp_attach(struct loader *L, const char *ifname, uint32_t ifindex,
	       int prog_fd, uint32_t *mode, struct sy_err *e);
/* sy_dev_mac[ifindex]: the device's own MAC for sy_xdp (frames for other
 * hosts), or cleared (set = false, on detach). */
void dev_mac_write(struct loader *L, const char *ifname, uint32_t ifindex,
		   bool set);

#endif
