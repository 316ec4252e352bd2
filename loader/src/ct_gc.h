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

#endif
