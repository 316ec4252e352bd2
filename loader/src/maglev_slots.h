/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* In-place Maglev table updates: only the elements whose slots changed are
 * written into the existing inner map (Katran's programHashRing). No outer
 * map update, hence no RCU grace period. Depends on libbpf only, so the
 * BPF_PROG_TEST_RUN suite links it and runs packets between its writes. */
#ifndef SY_MAGLEV_SLOTS_H
#define SY_MAGLEV_SLOTS_H

#include <stdint.h>

/* What one in-place write did. */
struct maglev_slots_stats {
	uint32_t slots_changed;  /* slots whose backend id differs */
	uint32_t elems_written;  /* inner-map elements written (2 slots each) */
};

/* Called after each element write when given (tests interleave packets);
 * a non-zero return stops the write with that error. */
typedef int (*maglev_slots_step_fn)(void *ctx, uint32_t elem);

/* Whether inner (an fd) is an inner table of exactly m slots: an ARRAY of
 * (m + 1) / 2 struct sy_maglev_slots. 1 yes, 0 no, <0 -errno. */
int maglev_slots_fits(int inner, uint32_t m);

/* Makes inner hold backend_ids[0..m) by writing only the elements that
 * differ from what it holds now (read whole first). Every slot holds the
 * old or the new id at every instant: the caller adds new backends before
 * and deletes gone ones after. With step, one update per element and step
 * after each; else one batch update (the kernel writes it element by
 * element just the same). Returns 0 or -errno; *st says what was written. */
int maglev_slots_write(int inner, const uint32_t *backend_ids, uint32_t m,
		       struct maglev_slots_stats *st,
		       maglev_slots_step_fn step, void *ctx);

#endif
