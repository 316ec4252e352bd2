/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Maglev tables: rewritten in place when the size stays (only changed
 * slots), else a fresh inner map swapped into sy_maglev whole. */
#ifndef SY_MAGLEV_TABLES_H
#define SY_MAGLEV_TABLES_H

#include <stdint.h>

#include "loader.h"
#include "sy_err.h"
#include "maglev_slots.h"

/* Largest table size M accepted. */
#define MAGLEV_MAX_M 131071u

/* Longest run of tables swapped in with one batch update of the outer map:
 * an update of a map-in-map from user space waits for an RCU grace period
 * (so no program still uses the old inner map when the syscall returns),
 * ~15 ms each; a batch waits once. */
#define SY_MAGLEV_BATCH 256

/* Creates and fills a fresh inner table of m slots (slot s -> backend_ids[s]);
 * *fd_out owns it on success. */
int maglev_table_create(const uint32_t *backend_ids, uint32_t m, int *fd_out,
			struct sy_err *e);

/* Swaps n (<= SY_MAGLEV_BATCH) tables in at groups[i]: one batch update of
 * sy_maglev, then one update each after what the batch did if it failed.
 * *done gets how many were swapped; on failure, e names groups[*done].
 * The caller still closes fds (the outer map holds its own references). */
int maglev_tables_swap(struct loader *L, const uint32_t *groups,
		       const int *fds, uint32_t n, uint32_t *done,
		       struct sy_err *e);

/* Writes backend_ids[0..m) into group's current table in place when it has
 * m slots: only the changed elements. Returns 1 when done in place, 0 when
 * the group has no table or one of another size (the caller replaces it
 * whole), <0 on error (e says which). *st counts what was written. */
int maglev_table_write_in_place(struct loader *L, uint32_t group,
				const uint32_t *backend_ids, uint32_t m,
				struct maglev_slots_stats *st, struct sy_err *e);

#endif
