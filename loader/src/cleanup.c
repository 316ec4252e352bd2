// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* cleanup: detach everything this instance attached, unpin its maps and
 * links, remove its pin directory, then exit once the reply is sent. */
#include "handlers.h"
#include "detach.h"
#include "log.h"

int handle_cleanup(struct loader *L, const PB(CleanupRequest) *req,
		   struct reply *r)
{
	char err[512] = "";

	(void)req;
	if (detach_all(L, err, sizeof(err)))
		/* Keep the pins: a program still attached would otherwise be
		 * orphaned. The caller can retry. */
		return reply_err(r, CODE(KERNEL), "cleanup: %s", err);
	if (pins_remove_all(L, err, sizeof(err)))
		return reply_err(r, CODE(KERNEL), "cleanup: %s", err);
	log_info("cleanup: attachments removed, %s unpinned; exiting",
		 L->pin_dir);
	L->exit_after_reply = true;
	return CODE(OK);
}
