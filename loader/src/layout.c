// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The layout version pinned with the maps (<pin dir>/sy_layout, an array of
 * one u32: SY_LAYOUT_VERSION of the datapath that created them), and the
 * migration a loader runs when it finds another version there.
 *
 * Migration, in order (docs/maps.md, "Layout version"):
 *  1. before loading: every map pin is moved to <pin dir>/old-layout/; the
 *     old programs keep running on the old maps (their links hold them);
 *  2. the new object is loaded with fresh maps, sized like the old ones, and
 *     pinned;
 *  3. every entry is copied from the old map of the same name: as it is when
 *     key and value sizes match, a value that grew gets its old bytes first
 *     and zeros after (structs only grow by appending fields); a map whose
 *     key changed, or whose value shrank, starts empty (the control plane
 *     refills the service maps; conntrack entries would be lost) and that is
 *     logged; Maglev tables (inner maps) are shared by id into the new
 *     sy_maglev;
 *  4. every pinned link (tcx, XDP, cgroup) is switched to the new program of
 *     the same name (bpf_link_update), so from now on only the new maps are
 *     used, and sy_attach records the new program ids;
 *  5. conntrack, affinity and socket reverse-NAT entries the old programs
 *     created between 3 and 4 are copied too (those not yet in the new map);
 *  6. old-layout/ is removed and sy_layout written.
 * A loader that dies in the middle finds old-layout/ on its next start and
 * runs the migration again from it (the new pins are dropped first).
 * An established flow keeps its conntrack entry, backend and reverse-NAT
 * entry throughout, so it is not dropped. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sy_structs.h"
#include "loader.h"
#include "log.h"
#include "map_iter.h"

#define LAYOUT_PIN "sy_layout"
#define OLD_DIR "old-layout"

/* Pins made before sy_layout existed have the layout of its version 1. */
#define LAYOUT_UNVERSIONED 1

static int read_version(const char *path, uint32_t *version)
{
	uint32_t key = 0;
	int fd, err;

	fd = bpf_obj_get(path);
	if (fd < 0)
		return fd;
	err = bpf_map_lookup_elem(fd, &key, version);
	close(fd);
	return err;
}

static int old_dir_path(struct loader *L, char *buf, size_t len)
{
	return sy_path(buf, len, "%s/%s", L->pin_dir, OLD_DIR);
}

/* Map pins of the instance directory: every regular entry but links/ and
 * old-layout/. */
static int for_each_map_pin(const char *dir,
			    int (*fn)(const char *dir, const char *name,
				      void *ctx),
			    void *ctx)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int err = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (!err && (de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type == DT_DIR)
			continue;
		err = fn(dir, de->d_name, ctx);
	}
	closedir(d);
	return err;
}

static int move_pin(const char *dir, const char *name, void *ctx)
{
	const char *to = ctx;
	char a[PATH_MAX], b[PATH_MAX];

	if (sy_path(a, sizeof(a), "%s/%s", dir, name) ||
	    sy_path(b, sizeof(b), "%s/%s", to, name))
		return -ENAMETOOLONG;
	if (rename(a, b))
		return -errno;
	return 0;
}

static int drop_pin(const char *dir, const char *name, void *ctx)
{
	char a[PATH_MAX];

	(void)ctx;
	if (sy_path(a, sizeof(a), "%s/%s", dir, name))
		return -ENAMETOOLONG;
	if (unlink(a) && errno != ENOENT)
		return -errno;
	return 0;
}

int layout_prepare(struct loader *L)
{
	char path[PATH_MAX], old[PATH_MAX];
	uint32_t version = LAYOUT_UNVERSIONED;
	struct stat st;
	int err;

	L->layout_old_dir[0] = '\0';
	if (pins_map_path(L, LAYOUT_PIN, path, sizeof(path)) ||
	    old_dir_path(L, old, sizeof(old)))
		return -ENAMETOOLONG;

	if (stat(old, &st) == 0 && S_ISDIR(st.st_mode)) {
		/* An interrupted migration: start it again from the old maps;
		 * the new pins it left are partial. */
		log_warn("%s exists: a layout migration was interrupted; "
			 "running it again from the old maps", old);
		err = for_each_map_pin(L->pin_dir, drop_pin, NULL);
		if (err)
			return err;
		snprintf(L->layout_old_dir, sizeof(L->layout_old_dir), "%s",
			 old);
		return 0;
	}
	err = read_version(path, &version);
	if (err == -ENOENT) {
		if (pins_map_path(L, "sy_services", path, sizeof(path)))
			return -ENAMETOOLONG;
		if (access(path, F_OK))
			return 0; /* no pins: a fresh datapath */
		version = LAYOUT_UNVERSIONED;
	} else if (err) {
		log_error("%s: reading the layout version: %s", path,
			  sy_errstr(err));
		return err;
	}
	if (version == SY_LAYOUT_VERSION) {
		log_info("pinned maps have layout version %u: reusing them",
			 version);
		return 0;
	}
	log_warn("pinned maps have layout version %u, this datapath %u: "
		 "migrating them (the old maps serve until the new ones are "
		 "filled)", version, SY_LAYOUT_VERSION);
	if (mkdir(old, 0700) && errno != EEXIST)
		return -errno;
	err = for_each_map_pin(L->pin_dir, move_pin, old);
	if (err) {
		log_error("moving the pins to %s: %s", old, sy_errstr(err));
		return err;
	}
	snprintf(L->layout_old_dir, sizeof(L->layout_old_dir), "%s", old);
	return 0;
}

/* The new maps keep the old ones' sizes (as reused pins do). */
int layout_keep_sizes(struct loader *L)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, L->obj) {
		struct bpf_map_info info;
		__u32 len = sizeof(info);
		char path[PATH_MAX];
		int fd, err;

		if (bpf_map__is_internal(map))
			continue;
		if (sy_path(path, sizeof(path), "%s/%s", L->layout_old_dir,
			    bpf_map__name(map)))
			return -ENAMETOOLONG;
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		err = bpf_obj_get_info_by_fd(fd, &info, &len);
		close(fd);
		if (!err && info.max_entries &&
		    info.type == bpf_map__type(map) &&
		    info.max_entries != bpf_map__max_entries(map))
			bpf_map__set_max_entries(map, info.max_entries);
	}
	return 0;
}

struct copy_ctx {
	int to;
	bool inner;           /* map-in-map: the value is an inner map id */
	uint32_t in_size;     /* bytes of one old value as read */
	uint32_t out_size;    /* bytes of one new value as written */
	uint8_t *buf;
	uint64_t flags;       /* BPF_ANY or BPF_NOEXIST */
	uint32_t copied, failed;
	int first_err;
};

static int copy_cb(const void *key, const void *value, void *ctx_)
{
	struct copy_ctx *c = ctx_;
	int err;

	if (c->inner) {
		int fd = bpf_map_get_fd_by_id(*(const uint32_t *)value);

		if (fd < 0)
			return 0; /* replaced meanwhile */
		err = bpf_map_update_elem(c->to, key, &fd, c->flags);
		close(fd);
	} else {
		memset(c->buf, 0, c->out_size);
		memcpy(c->buf, value, c->in_size < c->out_size ? c->in_size :
								  c->out_size);
		err = bpf_map_update_elem(c->to, key, c->buf, c->flags);
	}
	if (err == -EEXIST && c->flags == BPF_NOEXIST)
		return 0;
	if (err) {
		if (!c->failed++)
			c->first_err = err;
		return 0;
	}
	c->copied++;
	return 0;
}

/* Copies every entry of the old map `from` into the new map. Returns the
 * number copied, or <0 when the layouts cannot be translated. */
static int copy_map(struct bpf_map *map, int from, uint64_t flags)
{
	struct bpf_map_info oi, ni;
	__u32 len = sizeof(oi);
	struct copy_ctx c = { .to = bpf_map__fd(map), .flags = flags };
	const char *name = bpf_map__name(map);
	bool percpu;
	int err;

	memset(&oi, 0, sizeof(oi));
	memset(&ni, 0, sizeof(ni));
	if ((err = bpf_obj_get_info_by_fd(from, &oi, &len)))
		return err;
	len = sizeof(ni);
	if ((err = bpf_obj_get_info_by_fd(c.to, &ni, &len)))
		return err;
	c.inner = ni.type == BPF_MAP_TYPE_HASH_OF_MAPS ||
		  ni.type == BPF_MAP_TYPE_ARRAY_OF_MAPS;
	percpu = map_value_buf_size(ni.type, ni.value_size) != ni.value_size;
	if (oi.key_size != ni.key_size || oi.value_size > ni.value_size ||
	    (percpu && oi.value_size != ni.value_size) ||
	    (c.inner && oi.type != ni.type)) {
		log_warn("%s: layout changed (key %u -> %u, value %u -> %u "
			 "bytes) and cannot be translated: it starts empty",
			 name, oi.key_size, ni.key_size, oi.value_size,
			 ni.value_size);
		return -EOPNOTSUPP;
	}
	c.in_size = map_value_buf_size(oi.type, oi.value_size);
	c.out_size = map_value_buf_size(ni.type, ni.value_size);
	c.buf = calloc(1, c.out_size ? c.out_size : 1);
	if (!c.buf)
		return -ENOMEM;
	err = map_iter(from, oi.key_size, c.in_size,
		       (uint64_t)oi.max_entries * 2 + 1024, copy_cb, &c);
	free(c.buf);
	if (err < 0)
		return err;
	if (c.failed)
		log_warn("%s: %u entries could not be copied (first error: "
			 "%s)", name, c.failed, sy_errstr(c.first_err));
	return (int)c.copied;
}

static int copy_all(struct loader *L, bool catch_up)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, L->obj) {
		const char *name = bpf_map__name(map);
		char path[PATH_MAX];
		int fd, n;

		if (bpf_map__is_internal(map))
			continue;
		/* A ring buffer (sy_events) holds records in flight, not
		 * entries: nothing to carry over. */
		if (bpf_map__type(map) == BPF_MAP_TYPE_RINGBUF)
			continue;
		/* The catch-up pass: maps the old programs write. */
		if (catch_up && strcmp(name, "sy_conntrack") &&
		    strcmp(name, "sy_affinity") && strcmp(name, "sy_sock_revnat"))
			continue;
		if (sy_path(path, sizeof(path), "%s/%s", L->layout_old_dir,
			    name))
			return -ENAMETOOLONG;
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue; /* a map the old datapath did not have */
		n = copy_map(map, fd, catch_up ? BPF_NOEXIST : BPF_ANY);
		close(fd);
		if (n == -EOPNOTSUPP)
			continue;
		if (n < 0) {
			log_error("%s: copying the old entries: %s", name,
				  sy_errstr(n));
			return n;
		}
		if (n || !catch_up)
			log_info("%s: %u entries %s", name, (unsigned)n,
				 catch_up ? "created meanwhile copied" :
					    "copied from the old layout");
	}
	return 0;
}

static struct bpf_program *prog_named_like(struct loader *L, uint32_t id)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id), err;

	if (fd < 0)
		return NULL;
	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	if (err)
		return NULL;
	return bpf_object__find_program_by_name(L->obj, info.name);
}

static int prog_id(struct bpf_program *p)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len))
		return 0;
	return (int)info.id;
}

static int switch_link(const char *dir, const char *name, void *ctx)
{
	struct loader *L = ctx;
	struct bpf_link_info info;
	__u32 len = sizeof(info);
	struct bpf_program *p;
	char path[PATH_MAX];
	int fd, err;

	if (sy_path(path, sizeof(path), "%s/%s", dir, name))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	p = err ? NULL : prog_named_like(L, info.prog_id);
	if (!p) {
		log_warn("%s: no program of the new datapath matches; left as "
			 "it is until re-attached", path);
		close(fd);
		return 0;
	}
	err = bpf_link_update(fd, bpf_program__fd(p), NULL);
	close(fd);
	if (err)
		log_warn("%s: bpf_link_update: %s; the old program serves until "
			 "re-attached", path, sy_errstr(err));
	else
		log_info("%s: now runs the new %s", path,
			 bpf_program__name(p));
	return 0;
}

/* sy_attach records the attached program's id: point it at the new one. */
static int retarget_record(const void *key, const void *value, void *ctx)
{
	struct loader *L = ctx;
	struct sy_attach_value v;
	struct bpf_program *p;

	memcpy(&v, value, sizeof(v));
	p = prog_named_like(L, v.prog_id);
	if (p && (v.prog_id = (uint32_t)prog_id(p)))
		bpf_map_update_elem(sy_map_fd(L, SY_MAP_ATTACH), key, &v,
				    BPF_EXIST);
	return 0;
}

int layout_migrate(struct loader *L)
{
	char links[PATH_MAX];
	int err;

	if (!L->layout_old_dir[0])
		return 0;
	err = copy_all(L, false);
	if (err)
		return err;
	if (sy_path(links, sizeof(links), "%s/links", L->pin_dir))
		return -ENAMETOOLONG;
	/* Records first: an old program's id (and name) is gone once no
	 * link holds it. */
	map_iter(sy_map_fd(L, SY_MAP_ATTACH), sizeof(struct sy_attach_key),
		 sizeof(struct sy_attach_value), 4096, retarget_record, L);
	err = for_each_map_pin(links, switch_link, L);
	if (err)
		return err;
	err = copy_all(L, true);
	if (err)
		return err;
	err = for_each_map_pin(L->layout_old_dir, drop_pin, NULL);
	if (!err && rmdir(L->layout_old_dir))
		err = -errno;
	if (err) {
		log_error("removing %s: %s", L->layout_old_dir, sy_errstr(err));
		return err;
	}
	log_info("layout migration to version %u done", SY_LAYOUT_VERSION);
	L->layout_old_dir[0] = '\0';
	return 0;
}

int layout_write(struct loader *L)
{
	uint32_t key = 0, version = SY_LAYOUT_VERSION;
	char path[PATH_MAX];
	int fd, err;

	if (pins_map_path(L, LAYOUT_PIN, path, sizeof(path)))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, LAYOUT_PIN, 4, 4, 1,
				    NULL);
		if (fd < 0) {
			log_error("creating sy_layout: %s", sy_errstr(fd));
			return fd;
		}
		err = bpf_obj_pin(fd, path);
		if (err) {
			log_error("pin %s: %s", path, sy_errstr(err));
			close(fd);
			return err;
		}
	}
	err = bpf_map_update_elem(fd, &key, &version, BPF_ANY);
	close(fd);
	if (err)
		log_error("writing %s: %s", path, sy_errstr(err));
	return err;
}
