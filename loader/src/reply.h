/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The Response a request handler fills, and short names for the protobuf-c
 * types generated from loader.proto. Depends on nothing of the loader but
 * the per-request arena: any layer may report through it without calling
 * back into the dispatcher. */
#ifndef SY_REPLY_H
#define SY_REPLY_H

#include "loader.pb-c.h"
#include "arena.h"
#include "sy_err.h"

/* ---- generated names, shortened -------------------------------------- */
#define PB(name) Switchyard__Loader__V1__##name
#define PB_INIT(NAME) SWITCHYARD__LOADER__V1__##NAME##__INIT
#define CODE(name) SWITCHYARD__LOADER__V1__ERROR_CODE__##name
#define REQ_OP(name) SWITCHYARD__LOADER__V1__REQUEST__OP_##name
#define RES(name) SWITCHYARD__LOADER__V1__RESPONSE__RESULT_##name
#define MAPOP(name) SWITCHYARD__LOADER__V1__MAP_OP__OP_##name
#define HOOK(name) SWITCHYARD__LOADER__V1__HOOK__##name
#define ROLE(name) SWITCHYARD__LOADER__V1__ROLE__##name

typedef PB(Request) sy_request;
typedef PB(Response) sy_response;

/* Everything a handler allocates for its Response lives in the arena. */
struct reply {
	sy_response *resp;
	struct arena *a;
};

/* Sets code and a formatted error message; returns code. */
int reply_err(struct reply *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The error of a kernel-level operation as the reply: its kind picks the
 * code (KERNEL, INVALID, NOT_FOUND, UNSUPPORTED), its message is the
 * error. Returns the code. */
int reply_sy_err(struct reply *r, const struct sy_err *e);
/* The same, the message prefixed with "<at>: " (e.g. "ops[3].set_maglev"). */
int reply_sy_err_at(struct reply *r, const char *at, const struct sy_err *e);

#endif
