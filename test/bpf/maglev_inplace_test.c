// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * In-place Maglev table updates never expose a slot naming a deleted
 * backend. A real change (a Maglev table over backends {1,2,3}, then over
 * {1,2,4}: 3 leaves, 4 joins, same M) is applied in the order the agent
 * sends it (upsert the joining backend; set_maglev, which the loader writes
 * in place with maglev_slots_write, the loader's own code, linked here; then
 * the deferred delete of the leaving backend), and between every step (after
 * every single element write too) a packet of a new flow is sent through
 * BPF_PROG_TEST_RUN for every one of the M slots. Each must be DNATed to a
 * backend that is in sy_backends and that the old or the new table names
 * at that slot. The same probes run against two naive orders (the leaving
 * backend deleted before the slots are rewritten; the joining backend added
 * after) must catch dropped packets: that shows the probes can fail.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sy_test.h"
#include "maglev_slots.h"

#define MG_VIP   ip4(10, 96, 0, 60)
#define MG_PORT  5353
#define MG_GROUP 60
#define MG_SVC   60
#define MG_M     251u
#define MG_B1 801
#define MG_B2 802
#define MG_B3 803 /* leaves */
#define MG_B4 804 /* joins */

/* The paper's population: each backend walks its permutation (offset,
 * skip from two hashes of its identity) and takes its next free slot. */
static void maglev_build(const uint32_t *ids, int n, uint32_t m, uint32_t *t)
{
	uint32_t next[8] = { 0 }, off[8], skip[8], filled = 0;

	for (int i = 0; i < n; i++) {
		uint32_t h1 = ref_jhash_3words(ids[i], 0x9e3779b9u, 1, 7);
		uint32_t h2 = ref_jhash_3words(ids[i], 0x85ebca6bu, 2, 11);

		off[i] = h1 % m;
		skip[i] = h2 % (m - 1) + 1;
	}
	for (uint32_t s = 0; s < m; s++)
		t[s] = 0;
	while (filled < m) {
		for (int i = 0; i < n && filled < m; i++) {
			uint32_t c;

			do {
				c = (off[i] + (uint64_t)next[i]++ * skip[i]) % m;
			} while (t[c]);
			t[c] = ids[i];
			filled++;
		}
	}
}

struct probe_ctx {
	const uint32_t *old_t, *new_t;
	uint32_t round;       /* source address of this round's flows */
	int steps, bad;       /* probe rounds run, slots that failed */
	char first[200];      /* the first failure */
};

static bool backend_present(uint32_t id)
{
	struct sy_backend b;

	return bpf_map_lookup_elem(fd_backends, &id, &b) == 0;
}

/* One new UDP flow per slot (a fresh source address each round, so no
 * conntrack entry answers for the table). */
static int probe_all(void *vctx, uint32_t elem)
{
	struct probe_ctx *c = vctx;
	uint32_t saddr = ip4(10, 77, (c->round >> 8) & 0xff, c->round & 0xff);
	uint16_t port_of[MG_M];
	uint32_t found = 0;

	(void)elem;
	c->round++;
	c->steps++;
	memset(port_of, 0, sizeof(port_of));
	for (uint32_t p = 1024; p < 65536 && found < MG_M; p++) {
		uint32_t s = expected_slot(saddr, MG_VIP, (uint16_t)p, MG_PORT,
					   IPPROTO_UDP, MG_M);

		if (!port_of[s]) {
			port_of[s] = (uint16_t)p;
			found++;
		}
	}
	for (uint32_t s = 0; s < MG_M; s++) {
		struct pktdef d = udp(saddr, MG_VIP, port_of[s], MG_PORT);
		uint32_t ret = 0;
		int got;

		if (!port_of[s])
			continue;
		got = dnat_target(&d, &ret);
		if (got > 0 && backend_present((uint32_t)got) &&
		    ((uint32_t)got == c->old_t[s] || (uint32_t)got == c->new_t[s]))
			continue;
		if (!c->bad++)
			snprintf(c->first, sizeof(c->first), "probe round %d, "
				 "slot %u (old %u, new %u): backend %d, verdict "
				 "%d", c->steps, s, c->old_t[s], c->new_t[s], got,
				 (int)ret);
	}
	return 0;
}

/* The group's inner map (the test owns the fd). */
static int inner_fd(void)
{
	uint32_t group = MG_GROUP, id;

	if (bpf_map_lookup_elem(fd_maglev, &group, &id))
		return -errno;
	return bpf_map_get_fd_by_id(id);
}

enum order { AGENT_ORDER, DELETE_FIRST, ADD_LAST };

/* Old table installed whole, then the change in the given order, probing
 * after every step. Returns the failed probes; *written the elements. */
static int change(enum order o, const uint32_t *old_t, const uint32_t *new_t,
		  uint32_t *written, char *first, size_t flen)
{
	static uint32_t round;
	struct probe_ctx c = { .old_t = old_t, .new_t = new_t };
	struct maglev_slots_stats st = { 0 };
	uint32_t b3 = MG_B3, b4 = MG_B4;
	int fd, err;

	c.round = round;
	add_backend(MG_B1, IPPROTO_UDP, SY_BE_ACTIVE);
	add_backend(MG_B2, IPPROTO_UDP, SY_BE_ACTIVE);
	add_backend(MG_B3, IPPROTO_UDP, SY_BE_ACTIVE);
	bpf_map_delete_elem(fd_backends, &b4);
	err = set_table(MG_GROUP, MG_M, old_t);
	fd = err ? -1 : inner_fd();
	if (fd < 0) {
		snprintf(first, flen, "setup failed: %d", err ? err : fd);
		return -1;
	}
	probe_all(&c, 0);
	if (o == DELETE_FIRST) {
		bpf_map_delete_elem(fd_backends, &b3);
		probe_all(&c, 0);
	}
	if (o != ADD_LAST) {
		add_backend(MG_B4, IPPROTO_UDP, SY_BE_ACTIVE);
		probe_all(&c, 0);
	}
	err = maglev_slots_write(fd, new_t, MG_M, &st, probe_all, &c);
	if (o == ADD_LAST) {
		add_backend(MG_B4, IPPROTO_UDP, SY_BE_ACTIVE);
		probe_all(&c, 0);
	}
	if (o != DELETE_FIRST) {
		bpf_map_delete_elem(fd_backends, &b3);
		probe_all(&c, 0);
	}
	close(fd);
	round = c.round;
	*written = st.elems_written;
	snprintf(first, flen, "%s", err ? strerror(-err) : c.first);
	return err ? -1 : c.bad;
}

void test_maglev_in_place(void)
{
	const uint32_t old_ids[3] = { MG_B1, MG_B2, MG_B3 };
	const uint32_t new_ids[3] = { MG_B1, MG_B2, MG_B4 };
	uint32_t old_t[MG_M], new_t[MG_M], written = 0, moved = 0, elems = 0;
	char first[200] = "";
	int bad;

	maglev_build(old_ids, 3, MG_M, old_t);
	maglev_build(new_ids, 3, MG_M, new_t);
	for (uint32_t s = 0; s < MG_M; s++)
		moved += old_t[s] != new_t[s];
	for (uint32_t i = 0; i < (MG_M + 1) / 2; i++)
		elems += old_t[2 * i] != new_t[2 * i] ||
			 (2 * i + 1 < MG_M && old_t[2 * i + 1] != new_t[2 * i + 1]);
	if (add_service(MG_VIP, MG_PORT, IPPROTO_UDP, SY_SCOPE_EXTERNAL,
			MG_SVC, MG_GROUP, 3, SY_SVC_F_CLUSTERIP, 0, MG_M)) {
		check(false, "maglev in place: setup", "add_service failed");
		return;
	}

	bad = change(AGENT_ORDER, old_t, new_t, &written, first, sizeof(first));
	check(bad == 0, "in-place Maglev update in the agent's order: every slot "
	      "DNATs to a present backend of the old or new table after every "
	      "step", "%d failed probes; first: %s", bad, first);
	check(written == elems && elems < (MG_M + 1) / 2,
	      "in-place write touches only the elements whose slots changed",
	      "written %u, changed elements %u of %u (%u slots moved)",
	      written, elems, (MG_M + 1) / 2, moved);
	printf("# agent order: %u of %u slots moved, %u of %u elements written, "
	       "each followed by %u probes\n", moved, MG_M, written,
	       (MG_M + 1) / 2, MG_M);

	bad = change(DELETE_FIRST, old_t, new_t, &written, first, sizeof(first));
	check(bad > 0, "the probes catch a naive order that deletes the leaving "
	      "backend before its slots are rewritten", "%d failed probes", bad);
	printf("# delete-first order: %d failed probes; first: %s\n", bad, first);
	bad = change(ADD_LAST, old_t, new_t, &written, first, sizeof(first));
	check(bad > 0, "the probes catch a naive order that adds the joining "
	      "backend after slots name it", "%d failed probes", bad);
	printf("# add-last order: %d failed probes; first: %s\n", bad, first);

	/* The back-to-back batch the loader issues without a step hook. */
	{
		struct maglev_slots_stats st;
		int fd = inner_fd();

		set_table(MG_GROUP, MG_M, old_t);
		close(fd);
		fd = inner_fd();
		check(fd >= 0 && maglev_slots_write(fd, new_t, MG_M, &st, NULL,
						    NULL) == 0 &&
		      st.elems_written == elems && st.slots_changed == moved,
		      "batch in-place write: the changed elements and slots",
		      "written %u (want %u), slots %u (want %u)",
		      st.elems_written, elems, st.slots_changed, moved);
		if (fd >= 0)
			close(fd);
	}
}
