/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef SY_LINK_PINS_H
#define SY_LINK_PINS_H

#include <stdint.h>
#include <linux/types.h>

#include "loader.h"

/* bpf_link_info as the kernel fills it for tcx and xdp links: the union
 * starts at offset 16 and both begin with the ifindex (a cgroup link: the
 * low half of its cgroup id). */
struct link_info_head {
	__u32 type;
	__u32 id;
	__u32 prog_id;
	__u32 pad;
	__u32 ifindex;
	__u32 attach_type;
	__u8 rest[48];
};

int link_info(int fd, struct link_info_head *li);
int prog_id_of(int prog_fd, uint32_t *id);

/* Detaches and unpins a pinned link; absent pins are fine. */
int remove_link_pin(const char *path);
/* Updates the pinned link at path to prog_fd when it is a live link of the
 * expected type on ifindex. Returns 1 when updated, 0 when there is no
 * usable pin (a stale one is removed), <0 on error. */
int update_pinned_link(const char *path, uint32_t type, uint32_t ifindex,
		       int prog_fd);
/* Creates a link of prog_fd on target (ifindex or cgroup fd) and pins it. */
int create_pinned_link(struct loader *L, const char *path, int prog_fd,
		       uint32_t ifindex, int attach_type, uint32_t flags);

#endif
