/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef SY_DETACH_H
#define SY_DETACH_H

#include <stddef.h>
#include <stdint.h>

#include "loader.h"
#include "sy_err.h"

/* Detaches hook (SY_HOOK_TC_INGRESS or SY_HOOK_XDP) from a device, found by
 * its ifindex or, when gone, by its recorded name. Not attached is fine;
 * NOT_FOUND when there is neither such a device nor a record of it. */
int device_detach(struct loader *L, uint32_t hook, const char *ifname,
		  struct sy_err *e);
/* Detaches everything recorded and unpins every link (cleanup). */
int detach_all(struct loader *L, char *err, size_t errlen);

#endif
