/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef SY_CGROUP_ATTACH_H
#define SY_CGROUP_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loader.h"
#include "sy_err.h"

/* Validates a cgroup path given to op ("attach", "detach") into canon
 * (PATH_MAX bytes; the real path when it exists, else normalised):
 * a cgroup v2 directory below the root of its hierarchy. A missing path is
 * NOT_FOUND when must_exist; *exists says whether it exists. */
int cgroup_path_check(const char *op, const char *given, char *canon,
		      bool must_exist, bool *exists, struct sy_err *e);
/* Attaches the socket programs to canon (all or none) and records it;
 * *cgid gets the cgroup id, *prog_id the connect4 program's id. */
int cgroup_attach(struct loader *L, const char *canon, uint32_t *cgid,
		  uint32_t *prog_id, struct sy_err *e);
/* Removes the links pinned for canon, and its record; *found says whether
 * there were any. */
int cgroup_detach(struct loader *L, const char *canon, bool exists,
		  bool *found, struct sy_err *e);
/* Removes the links of a recorded cgroup id (cleanup). */
int cgroup_unpin_cgid(struct loader *L, uint32_t cgid);
/* The path a recorded cgroup id was attached with (false: unknown). */
bool cgroup_path_of(struct loader *L, uint32_t cgid, char *buf, size_t len);

#endif
