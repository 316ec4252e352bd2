/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The datapath monitor, loader side: writes sy_monitor (what the programs
 * report) and reads the sy_events ring buffer for the subscribers of the
 * server (server.c streams the batches). */
#ifndef SY_MONITOR_H
#define SY_MONITOR_H

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

#include "loader.h"

/* What sy_monitor should hold (MapOp set_monitor, validated by
 * apply_validate.c): client_addr is 0, 4 or 16 bytes. */
struct monitor_setting {
	bool trace;
	uint32_t trace_frontend_id;
	uint32_t trace_backend_id;
	const uint8_t *client_addr;
	size_t client_addr_len;
	uint32_t client_prefix_len;
	uint32_t ct_sample;
};

/* Writes sy_monitor[0]. Returns 0 or -errno. */
int monitor_set(struct loader *L, const struct monitor_setting *m);

/* The events read by one monitor_read(): struct sy_event records back to
 * back. */
struct monitor_batch {
	uint8_t *buf;
	size_t len, cap;
	size_t count;
};

struct monitor;
/* Opens the ring buffer reader; NULL (logged) when the object has no
 * sy_events (an older datapath): the server then runs without events. */
struct monitor *monitor_open(struct loader *L);
void monitor_close(struct monitor *m);
/* The fd to poll for readability. */
int monitor_fd(const struct monitor *m);
/* Takes what the ring buffer holds into the batch (emptied first): at most
 * the ring buffer's size (256 KiB). Returns the number of events or
 * -errno. */
int monitor_read(struct monitor *m, struct monitor_batch *b);

#endif
