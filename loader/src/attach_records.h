/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef SY_ATTACH_RECORDS_H
#define SY_ATTACH_RECORDS_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "sy_structs.h"
#include "loader.h"

struct rec {
	struct sy_attach_key key;
	struct sy_attach_value val;
};

struct rec_list {
	struct rec *items; /* malloc'd: the caller frees items */
	size_t n, cap;
};

/* "tcx", "clsact", "xdp-native", "xdp-generic", "cgroup" (SY_ATTACH_*). */
const char *attach_mode_name(uint32_t mode);

int rec_list_load(struct loader *L, struct rec_list *l);
int record_get(struct loader *L, uint32_t ifindex, uint32_t hook,
	       struct sy_attach_value *val);
int record_put(struct loader *L, const struct sy_attach_key *key,
	       const struct sy_attach_value *val);
/* Absent records are fine. */
int record_delete(struct loader *L, const struct sy_attach_key *key);

/* A device that was deleted and recreated under the same name gets a new
 * ifindex: forget the records of its previous incarnations. */
void forget_stale_records(struct loader *L, const char *ifname, uint32_t hook,
			  uint32_t ifindex);

#endif
