/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Flushes of flow state: the conntrack entries of one backend or frontend,
 * the affinity entries of one group. */
#ifndef SY_CT_FLUSH_H
#define SY_CT_FLUSH_H

#include <stdint.h>

#include "loader.h"
#include "sy_err.h"

/* Deletes the sy_conntrack and sy_conntrack6 entries (both directions) whose backend is
 * backend_id or whose frontend is rev_nat_id (0: not matched on), of
 * protocol proto (0: any). *deleted gets the number removed, also on
 * failure. at labels the log line. */
int ct_flush(struct loader *L, uint32_t backend_id, uint32_t rev_nat_id,
	     uint32_t proto, const char *at, uint64_t *deleted,
	     struct sy_err *e);

/* Deletes the sy_affinity and sy_affinity6 entries of a group. */
int affinity_flush(struct loader *L, uint32_t group, const char *at,
		   struct sy_err *e);

#endif
