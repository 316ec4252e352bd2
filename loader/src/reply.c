// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdarg.h>

#include "reply.h"

int reply_err(struct reply *r, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	r->resp->code = code;
	r->resp->error = arena_vprintf(r->a, fmt, ap);
	va_end(ap);
	return code;
}

static int code_of(enum sy_err_kind kind)
{
	switch (kind) {
	case SY_ERR_INVALID: return CODE(INVALID);
	case SY_ERR_NOT_FOUND: return CODE(NOT_FOUND);
	case SY_ERR_UNSUPPORTED: return CODE(UNSUPPORTED);
	case SY_ERR_KERNEL:
	default: return CODE(KERNEL);
	}
}

int reply_sy_err(struct reply *r, const struct sy_err *e)
{
	return reply_err(r, code_of(e->kind), "%s", e->msg);
}

int reply_sy_err_at(struct reply *r, const char *at, const struct sy_err *e)
{
	return reply_err(r, code_of(e->kind), "%s: %s", at, e->msg);
}
