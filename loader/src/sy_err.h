/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The error of a kernel-level operation (attach, map writes, Maglev tables,
 * conntrack GC): a negative errno, what kind of failure it is and a message
 * naming what failed. Those operations know nothing of the wire protocol;
 * request handlers turn a struct sy_err into a reply (reply.h). */
#ifndef SY_ERR_H
#define SY_ERR_H

#define SY_ERR_MSG_LEN 1024

/* What kind of failure; handlers map it to an ErrorCode of loader.proto. */
enum sy_err_kind {
	SY_ERR_KERNEL,      /* a bpf()/netlink/system call failed */
	SY_ERR_INVALID,     /* an argument cannot work (a name too long for a pin) */
	SY_ERR_NOT_FOUND,   /* a device, cgroup or entry does not exist */
	SY_ERR_UNSUPPORTED, /* the kernel lacks what the operation needs */
};

struct sy_err {
	int err;                 /* negative errno, 0 when none */
	enum sy_err_kind kind;
	char msg[SY_ERR_MSG_LEN];
};

/* Fills e and returns err (a negative errno; -EINVAL when err is 0, so a
 * failure never reads as success). */
int sy_err_set(struct sy_err *e, enum sy_err_kind kind, int err,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
