// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* switchyard-loader: loads the Switchyard datapath, keeps its maps pinned
 * and serves the control plane over a unix socket.
 *
 * SIGTERM/SIGINT close the socket and exit 0 without detaching anything or
 * removing pins: the datapath keeps forwarding without the loader, and the
 * next loader of the same instance picks the pinned state up again. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include "loader.h"
#include "log.h"

extern volatile sig_atomic_t sy_stop_signal;

static void usage(FILE *f)
{
	fprintf(f,
"usage: switchyard-loader --instance NAME --socket PATH [options]\n"
"  --pin-root DIR            bpffs directory for pins (default /sys/fs/bpf/switchyard)\n"
"  --max-services N          max entries of sy_services, sy_revnat, sy_maglev\n"
"                            (and sy_services6, sy_revnat6)\n"
"  --max-backends N          max entries of sy_backends (and sy_backends6)\n"
"  --ct-max N                max entries of sy_conntrack (and sy_conntrack6)\n"
"  --map-max-entries NAME=N[,NAME=N...]\n"
"                            max entries of any sized map (sy_services,\n"
"                            sy_backends, sy_revnat, sy_maglev, sy_conntrack,\n"
"                            sy_affinity, sy_svc_stats, sy_source_ranges,\n"
"                            sy_sock_revnat, sy_fib_cache, and the IPv6 twins\n"
"                            sy_services6, sy_backends6, sy_revnat6, sy_conntrack6,\n"
"                            sy_affinity6, sy_source_ranges6, sy_sock_revnat6);\n"
"                            after the flags above. A map already pinned\n"
"                            keeps its size (warning logged)\n"
"  Defaults (30,000 Services x 10 endpoints, docs/maps.md): sy_services,\n"
"  sy_revnat, sy_maglev 131072; sy_backends 393216; the IPv6 twins as their\n"
"  IPv4 maps; others as declared in bpf/include/sy_maps.h\n"
"  --max-message-bytes N     largest accepted request (default 16 MiB)\n"
"  --dump-page-bytes N       keys and values per dump page (default 4 MiB,\n"
"                            at most what one message holds)\n"
"  --tc-mode auto|tcx|clsact how to attach at tc ingress (default auto: tcx,\n"
"                            clsact when the kernel has no tcx)\n"
"  -v, --verbose             debug logging\n");
}

static void on_signal(int sig)
{
	sy_stop_signal = sig;
}

static int parse_u32(const char *opt, const char *s, uint32_t min,
		     uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "switchyard-loader: %s: '%s' is not a number "
			"in [%u, %llu]\n", opt, s, min,
			(unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

/* "sy_services=64,sy_backends=1024": only maps the loader sizes. */
static int parse_map_sizes(const char *arg, struct loader_opts *o)
{
	static const enum sy_map_id sizable[] = {
		SY_MAP_SERVICES, SY_MAP_BACKENDS, SY_MAP_REVNAT, SY_MAP_MAGLEV,
		SY_MAP_CONNTRACK, SY_MAP_AFFINITY, SY_MAP_SVC_STATS,
		SY_MAP_SOURCE_RANGES, SY_MAP_SOCK_REVNAT, SY_MAP_FIB_CACHE,
		SY_MAP_SERVICES6, SY_MAP_BACKENDS6, SY_MAP_REVNAT6,
		SY_MAP_CONNTRACK6, SY_MAP_AFFINITY6, SY_MAP_SOURCE_RANGES6,
		SY_MAP_SOCK_REVNAT6,
	};
	char *copy = strdup(arg), *save = NULL, *item;
	int ret = 0;

	if (!copy)
		return -1;
	for (item = strtok_r(copy, ",", &save); item && !ret;
	     item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		uint64_t v;
		size_t k;

		if (!eq) {
			fprintf(stderr, "switchyard-loader: --map-max-entries: "
				"'%s' is not NAME=N\n", item);
			ret = -1;
			break;
		}
		*eq = 0;
		for (k = 0; k < sizeof(sizable) / sizeof(sizable[0]); k++)
			if (!strcmp(item, sy_map_names[sizable[k]]))
				break;
		if (k == sizeof(sizable) / sizeof(sizable[0])) {
			fprintf(stderr, "switchyard-loader: --map-max-entries: "
				"'%s' is not a map the loader sizes\n", item);
			ret = -1;
			break;
		}
		ret = parse_u32("--map-max-entries", eq + 1, 1, 1u << 26, &v);
		if (!ret)
			o->map_max[sizable[k]] = (uint32_t)v;
	}
	free(copy);
	return ret;
}

static bool valid_instance(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		      c == '.'))
			return false;
	}
	return true;
}

static int parse_args(int argc, char **argv, struct loader_opts *o)
{
	enum { O_INSTANCE = 256, O_SOCKET, O_PIN_ROOT, O_MAX_SVC, O_MAX_BE,
	       O_CT_MAX, O_MAX_MSG, O_TC_MODE, O_DUMP_PAGE, O_MAP_MAX };
	static const struct option longopts[] = {
		{ "instance", required_argument, NULL, O_INSTANCE },
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "pin-root", required_argument, NULL, O_PIN_ROOT },
		{ "max-services", required_argument, NULL, O_MAX_SVC },
		{ "max-backends", required_argument, NULL, O_MAX_BE },
		{ "ct-max", required_argument, NULL, O_CT_MAX },
		{ "map-max-entries", required_argument, NULL, O_MAP_MAX },
		{ "max-message-bytes", required_argument, NULL, O_MAX_MSG },
		{ "tc-mode", required_argument, NULL, O_TC_MODE },
		{ "dump-page-bytes", required_argument, NULL, O_DUMP_PAGE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t v;
	int c;

	o->pin_root = "/sys/fs/bpf/switchyard";
	o->max_message_bytes = 16u << 20;
	o->dump_page_bytes = 4u << 20;
	o->max_services = SY_DEFAULT_MAX_SERVICES;
	o->max_backends = SY_DEFAULT_MAX_BACKENDS;
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case O_INSTANCE:
			o->instance = optarg;
			break;
		case O_SOCKET:
			o->socket_path = optarg;
			break;
		case O_PIN_ROOT:
			o->pin_root = optarg;
			break;
		case O_MAX_SVC:
			if (parse_u32("--max-services", optarg, 1, 1u << 24, &v))
				return -1;
			o->max_services = (uint32_t)v;
			break;
		case O_MAX_BE:
			if (parse_u32("--max-backends", optarg, 1, 1u << 24, &v))
				return -1;
			o->max_backends = (uint32_t)v;
			break;
		case O_CT_MAX:
			if (parse_u32("--ct-max", optarg, 1, 1u << 26, &v))
				return -1;
			o->ct_max = (uint32_t)v;
			break;
		case O_MAP_MAX:
			if (parse_map_sizes(optarg, o))
				return -1;
			break;
		case O_MAX_MSG:
			if (parse_u32("--max-message-bytes", optarg, 64,
				      1u << 30, &v))
				return -1;
			o->max_message_bytes = (size_t)v;
			break;
		case O_DUMP_PAGE:
			if (parse_u32("--dump-page-bytes", optarg, 64,
				      1u << 30, &v))
				return -1;
			o->dump_page_bytes = (size_t)v;
			break;
		case O_TC_MODE:
			if (!strcmp(optarg, "auto"))
				o->tc_mode = TC_MODE_AUTO;
			else if (!strcmp(optarg, "tcx"))
				o->tc_mode = TC_MODE_TCX;
			else if (!strcmp(optarg, "clsact"))
				o->tc_mode = TC_MODE_CLSACT;
			else {
				fprintf(stderr, "switchyard-loader: --tc-mode: "
					"auto, tcx or clsact\n");
				return -1;
			}
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "switchyard-loader: unexpected argument '%s'\n",
			argv[optind]);
		return -1;
	}
	if (!o->instance || !o->socket_path) {
		fprintf(stderr, "switchyard-loader: --instance and --socket are "
			"required\n");
		usage(stderr);
		return -1;
	}
	if (!valid_instance(o->instance)) {
		fprintf(stderr, "switchyard-loader: --instance: 1-64 characters "
			"of [A-Za-z0-9._-]\n");
		return -1;
	}
	if (o->pin_root[0] != '/') {
		fprintf(stderr, "switchyard-loader: --pin-root must be an "
			"absolute path\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct loader L = { .pin_dir_lock_fd = -1 };
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	struct sigaction sa;
	sigset_t set;
	int err;

	if (parse_args(argc, argv, &L.opt))
		return 2;
	sy_log_set_level(L.opt.verbose ? SY_LOG_DEBUG : SY_LOG_INFO);
	sy_log_hook_libbpf();

	/* TERM/INT stay blocked except inside ppoll(), so a signal never
	 * interrupts a request half way. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK. */
	setrlimit(RLIMIT_MEMLOCK, &rl);

	log_info("switchyard-loader starting: instance %s, socket %s, pid %d",
		 L.opt.instance, L.opt.socket_path, (int)getpid());
	err = pins_prepare_dir(&L);
	if (!err)
		err = datapath_open_load(&L);
	if (!err)
		err = server_run(&L);
	datapath_close(&L);
	if (L.pin_dir_lock_fd >= 0)
		close(L.pin_dir_lock_fd);
	if (err) {
		log_error("exiting on error: %s", sy_errstr(err));
		return 1;
	}
	log_info("exiting");
	return 0;
}
