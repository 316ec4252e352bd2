// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>

#include "log.h"

static enum sy_log_level min_level = SY_LOG_INFO;
static const char *const names[] = { "DEBUG", "INFO", "WARN", "ERROR" };

void sy_log_set_level(enum sy_log_level lvl)
{
	min_level = lvl;
}

static void vlog(enum sy_log_level lvl, const char *fmt, va_list ap)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	char line[2048];
	size_t n;

	if (lvl < min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	fprintf(stderr, "%s.%03ldZ %-5s %s\n", stamp, ts.tv_nsec / 1000000,
		names[lvl], line);
}

void sy_log(enum sy_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(lvl, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	enum sy_log_level lvl;
	char buf[1800];

	switch (level) {
	case LIBBPF_WARN:
		lvl = SY_LOG_WARN;
		break;
	case LIBBPF_INFO:
		lvl = SY_LOG_DEBUG; /* libbpf "info" is chatty */
		break;
	default:
		lvl = SY_LOG_DEBUG;
		break;
	}
	if (lvl < min_level)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	sy_log(lvl, "%s", buf); /* libbpf prefixes "libbpf: " */
	return 0;
}

void sy_log_hook_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}

const char *sy_errstr(int err)
{
	static char buf[160];
	const char *name;

	if (err < 0)
		err = -err;
	name = strerrorname_np(err);
	snprintf(buf, sizeof(buf), "%s (%s)", name ? name : "errno",
		 strerror(err));
	return buf;
}
