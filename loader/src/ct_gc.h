/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Garbage collection of sy_conntrack and sy_conntrack6: expired and orphaned
 * entries. */
#ifndef SY_CT_GC_H
#define SY_CT_GC_H

#include <stdint.h>

#include "loader.h"
#include "sy_err.h"

struct ct_gc_stats {
	uint64_t scanned;
	uint64_t expired;
	uint64_t orphaned_backend;  /* backend_id not in sy_backends(6) */
	uint64_t orphaned_frontend; /* rev_nat_id not in sy_revnat(6) */
};

/* Entries removed: expired + orphaned. */
uint64_t ct_gc_deleted(const struct ct_gc_stats *st);

/* Deletes every expired or orphaned entry; *st counts them (also what was
 * removed before a failure). at labels the log line. */
int ct_gc(struct loader *L, const char *at, struct ct_gc_stats *st,
	  struct sy_err *e);

/* One slice of a walk: from cursor (0: a new walk) for about budget_ns (0:
 * to the end; at least one batch either way). *next is where the next
 * slice starts, 0 when the walk is done. *st counts this slice only. */
int ct_gc_slice(struct loader *L, uint64_t cursor, uint64_t budget_ns,
		struct ct_gc_stats *st, uint64_t *next, struct sy_err *e);

#endif
