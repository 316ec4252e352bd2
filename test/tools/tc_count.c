// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sy-tc-count: attaches tc_count.bpf.c (a packet counter that always passes
 * to the next program) to the tc ingress of a device of the current network
 * namespace, AFTER every program already there, the way a second vendor's
 * program would be added next to Switchyard's:
 *
 *   sy-tc-count tcx IFNAME      tcx link with BPF_F_AFTER (the chain's end)
 *   sy-tc-count clsact IFNAME   direct-action filter, priority 0xfff0
 *
 * It prints "ready" once attached, then answers every stdin line holding an
 * IPv4 address with the number of packets to that address it has seen. At
 * EOF (or SIGTERM) it detaches and exits. Test tooling only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tc_count.skel.h"

/* uapi values, absent from older headers */
#define SY_BPF_TCX_INGRESS 46
#define SY_BPF_F_AFTER (1U << 4)
#define CLSACT_PRIO 0xfff0
#define CLSACT_HANDLE 0xc0

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tco, .handle = CLSACT_HANDLE,
		    .priority = CLSACT_PRIO);
	struct tc_count *skel;
	char line[128];
	int ifindex, link = -1, clsact, err, prog;

	if (argc != 3 || (strcmp(argv[1], "tcx") && strcmp(argv[1], "clsact"))) {
		fprintf(stderr, "usage: sy-tc-count tcx|clsact IFNAME\n");
		return 2;
	}
	clsact = !strcmp(argv[1], "clsact");
	ifindex = (int)if_nametoindex(argv[2]);
	if (!ifindex) {
		fprintf(stderr, "sy-tc-count: no device %s\n", argv[2]);
		return 1;
	}
	skel = tc_count__open_and_load();
	if (!skel) {
		fprintf(stderr, "sy-tc-count: load: %s\n", strerror(errno));
		return 1;
	}
	prog = bpf_program__fd(skel->progs.count_tc);
	if (clsact) {
		hook.ifindex = ifindex;
		err = bpf_tc_hook_create(&hook);
		if (err && err != -EEXIST) {
			fprintf(stderr, "sy-tc-count: clsact: %s\n", strerror(-err));
			return 1;
		}
		tco.prog_fd = prog;
		err = bpf_tc_attach(&hook, &tco);
	} else {
		LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = SY_BPF_F_AFTER);

		link = bpf_link_create(prog, ifindex, SY_BPF_TCX_INGRESS, &lo);
		err = link < 0 ? link : 0;
	}
	if (err) {
		fprintf(stderr, "sy-tc-count: attach %s: %s\n", argv[2], strerror(-err));
		return 1;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");
	while (!stop && fgets(line, sizeof(line), stdin)) {
		__u32 addr;
		__u64 n = 0;

		line[strcspn(line, "\r\n")] = 0;
		if (inet_pton(AF_INET, line, &addr) != 1) {
			printf("ERR bad address\n");
			continue;
		}
		bpf_map_lookup_elem(bpf_map__fd(skel->maps.counts), &addr, &n);
		printf("%llu\n", (unsigned long long)n);
	}
	if (clsact) {
		tco.prog_fd = 0;
		tco.prog_id = 0;
		tco.flags = 0;
		bpf_tc_detach(&hook, &tco);
	}
	if (link >= 0)
		close(link);
	tc_count__destroy(skel);
	return 0;
}
