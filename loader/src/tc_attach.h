/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef SY_TC_ATTACH_H
#define SY_TC_ATTACH_H

#include <stdbool.h>
#include <stdint.h>

#include "loader.h"
#include "sy_err.h"

/* Attaches prog_fd to ifname's tc ingress (tcx, or clsact as --tc-mode and
 * the existing attachment say); *mode gets SY_ATTACH_TCX or _CLSACT. */
int tc_attach(struct loader *L, const char *ifname, uint32_t ifindex,
	      int prog_fd, uint32_t *mode, struct sy_err *e);
/* Removes our clsact filters of the device (only ours). */
int tc_clsact_detach(uint32_t ifindex);
/* Whether program id is sy_tc_external (else the pod-facing sy_tc_ingress):
 * the record keeps the program id, and the program says which one it is. */
bool tc_prog_is_external(uint32_t id);

#endif
