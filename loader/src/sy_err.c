// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "sy_err.h"

int sy_err_set(struct sy_err *e, enum sy_err_kind kind, int err,
	       const char *fmt, ...)
{
	va_list ap;

	e->err = err ? err : -EINVAL;
	e->kind = kind;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return e->err;
}
