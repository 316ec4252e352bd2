/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Plain-text logging to stderr: "<UTC time> <LEVEL> <message>". */
#ifndef SY_LOG_H
#define SY_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum sy_log_level { SY_LOG_DEBUG, SY_LOG_INFO, SY_LOG_WARN, SY_LOG_ERROR };

void sy_log_set_level(enum sy_log_level lvl);
void sy_log(enum sy_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Routes libbpf's own messages through sy_log (debug ones only with -v). */
void sy_log_hook_libbpf(void);

#define log_debug(...) sy_log(SY_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) sy_log(SY_LOG_INFO, __VA_ARGS__)
#define log_warn(...) sy_log(SY_LOG_WARN, __VA_ARGS__)
#define log_error(...) sy_log(SY_LOG_ERROR, __VA_ARGS__)

/* "ENOENT (No such file or directory)" for a positive errno value; the
 * buffer is static (single-threaded daemon), valid until the next call. */
const char *sy_errstr(int err);

#endif
