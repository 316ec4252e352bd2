// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* SOCK_LB: eight cgroup bpf_links (connect4, sendmsg4, recvmsg4,
 * getpeername4 and their IPv6 twins connect6, sendmsg6, recvmsg6,
 * getpeername6; sy_sock_hooks[]) on a cgroup v2 directory, pinned at
 * <pin dir>/links/sock_<hook>_<escaped cgroup path> ('%' -> "%25",
 * '/' -> "%2F"), so a detach by path finds them even after the cgroup is
 * gone, and status can tell the path. The record in sy_attach is keyed by
 * the cgroup id (the directory's inode number, low 32 bits) and hook
 * SY_HOOK_SOCK_LB. The root of a cgroup hierarchy is always refused. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sy_structs.h"
#include "cgroup_attach.h"
#include "attach_records.h"
#include "link_pins.h"
#include "log.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#define SOCK_PIN_PREFIX "sock_"

/* '%' -> "%25", '/' -> "%2F": a path as one bpffs file name. */
static int escape_path(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = in; *p; p++) {
		const char *rep = *p == '%' ? "%25" : *p == '/' ? "%2F" : NULL;
		size_t n = rep ? 3 : 1;

		if (o + n >= len)
			return -ENAMETOOLONG;
		if (rep)
			memcpy(out + o, rep, 3);
		else
			out[o] = *p;
		o += n;
	}
	out[o] = '\0';
	return 0;
}

static void unescape_path(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = in; *p && o + 1 < len; p++) {
		if (!strncmp(p, "%25", 3)) {
			out[o++] = '%';
			p += 2;
		} else if (!strncmp(p, "%2F", 3)) {
			out[o++] = '/';
			p += 2;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

static int sock_link_path(struct loader *L, int i, const char *cgpath,
			  char *buf, size_t len)
{
	char esc[NAME_MAX + 1];

	if (escape_path(cgpath, esc, sizeof(esc) - 32))
		return -ENAMETOOLONG;
	return sy_path(buf, len, "%s/links/" SOCK_PIN_PREFIX "%s_%s",
		       L->pin_dir, sy_sock_hooks[i].pin, esc);
}

/* Lexical normalisation for a path that no longer exists: no repeated or
 * trailing slashes. */
static void normalize_path(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = in; *p && o + 1 < len; p++) {
		if (*p == '/' && o > 0 && out[o - 1] == '/')
			continue;
		out[o++] = *p;
	}
	while (o > 1 && out[o - 1] == '/')
		o--;
	out[o] = '\0';
}

/* Validates op.cgroup_path into canon (the real path when it exists).
 * Refuses anything that is not a cgroup v2 directory below the root of its
 * hierarchy. *exists says whether it exists. */
int cgroup_path_check(const char *op, const char *given, char *canon,
		      bool must_exist, bool *exists, struct sy_err *e)
{
	char parent[PATH_MAX];
	struct statfs sfs;

	if (!given || !given[0])
		return sy_err_set(e, SY_ERR_INVALID, -EINVAL, "%s.cgroup_path: "
				  "required for the SOCK_LB hook", op);
	if (given[0] != '/')
		return sy_err_set(e, SY_ERR_INVALID, -EINVAL, "%s.cgroup_path: "
				  "'%s' is not an absolute path", op, given);
	*exists = realpath(given, canon) != NULL;
	if (!*exists) {
		if (must_exist)
			return sy_err_set(e, SY_ERR_NOT_FOUND, -errno,
					  "%s.cgroup_path: '%s': %s", op,
					  given, strerror(errno));
		normalize_path(given, canon, PATH_MAX);
	}
	if (!strcmp(canon, "/") || !strcmp(canon, "/sys/fs/cgroup") ||
	    !strcmp(canon, "/sys/fs/cgroup/unified"))
		return sy_err_set(e, SY_ERR_INVALID, -EINVAL, "%s.cgroup_path: "
				  "'%s' is a root cgroup; attach to a cgroup "
				  "below it", op, given);
	if (!*exists)
		return 0;
	if (statfs(canon, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC)
		return sy_err_set(e, SY_ERR_INVALID, -EINVAL, "%s.cgroup_path: "
				  "'%s' is not a cgroup v2 directory", op,
				  given);
	snprintf(parent, sizeof(parent), "%s", canon);
	if (statfs(dirname(parent), &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC)
		return sy_err_set(e, SY_ERR_INVALID, -EINVAL, "%s.cgroup_path: "
				  "'%s' is the root of a cgroup v2 hierarchy; "
				  "attach to a cgroup below it", op, given);
	return 0;
}

/* Low 32 bits of the cgroup id a pinned cgroup link is on (0: none, gone,
 * or not a cgroup link). */
static uint32_t pinned_link_cgid(const char *path)
{
	struct link_info_head li;
	int fd = bpf_obj_get(path);
	uint32_t id = 0;

	if (fd < 0)
		return 0;
	if (link_info(fd, &li) == 0 && li.type == BPF_LINK_TYPE_CGROUP)
		id = li.ifindex; /* the union's cgroup_id, low half */
	close(fd);
	return id;
}

static void sock_record_delete(struct loader *L, uint32_t cgid)
{
	struct sy_attach_key key = { .ifindex = cgid,
				     .hook = SY_HOOK_SOCK_LB };

	record_delete(L, &key);
}

int cgroup_attach(struct loader *L, const char *canon, uint32_t *cgid_out,
		  uint32_t *prog_id_out, struct sy_err *e)
{
	struct sy_attach_key key = { 0 };
	struct sy_attach_value val = { 0 };
	char path[PATH_MAX], base[PATH_MAX];
	bool created[SY_SOCK_PROGS] = { false };
	uint32_t cgid, prog_id = 0;
	struct stat st;
	int ret = 0, err = 0, cg_fd, i;

	cg_fd = open(canon, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0 || fstat(cg_fd, &st)) {
		err = -errno;
		if (cg_fd >= 0)
			close(cg_fd);
		return sy_err_set(e, SY_ERR_KERNEL, err, "attach %s: open: %s",
				  canon, sy_errstr(err));
	}
	cgid = (uint32_t)st.st_ino;

	for (i = 0; i < SY_SOCK_PROGS; i++) {
		int prog_fd = bpf_program__fd(L->sock_progs[i]);
		uint32_t old;

		if (sock_link_path(L, i, canon, path, sizeof(path))) {
			ret = sy_err_set(e, SY_ERR_INVALID, -ENAMETOOLONG,
					 "attach.cgroup_path: too long for a "
					 "link pin name");
			break;
		}
		/* A cgroup re-created under the same path: its old record
		 * goes (the stale link is replaced below). */
		old = pinned_link_cgid(path);
		if (old && old != cgid)
			sock_record_delete(L, old);
		err = update_pinned_link(path, BPF_LINK_TYPE_CGROUP, cgid,
					 prog_fd);
		if (err == 1)
			continue;
		if (err == 0) {
			err = create_pinned_link(L, path, prog_fd,
						 (uint32_t)cg_fd,
						 sy_sock_hooks[i].attach_type,
						 0);
			if (!err) {
				created[i] = true;
				continue;
			}
		}
		ret = sy_err_set(e, SY_ERR_KERNEL, err, "attach %s: %s link: %s",
				 canon, sy_sock_hooks[i].pin, sy_errstr(err));
		break;
	}
	close(cg_fd);
	if (ret) {
		/* All or nothing: undo the links this request created. */
		for (int j = 0; j < SY_SOCK_PROGS; j++)
			if (created[j] &&
			    !sock_link_path(L, j, canon, path, sizeof(path)))
				remove_link_pin(path);
		return ret;
	}

	err = prog_id_of(bpf_program__fd(L->sock_progs[0]), &prog_id);
	if (err)
		log_warn("prog info: %s", sy_errstr(err));
	key.ifindex = cgid;
	key.hook = SY_HOOK_SOCK_LB;
	val.mode = SY_ATTACH_CGROUP;
	val.prog_id = prog_id;
	snprintf(base, sizeof(base), "%s", canon);
	strncpy(val.ifname, basename(base), sizeof(val.ifname) - 1);
	err = record_put(L, &key, &val);
	if (err)
		return sy_err_set(e, SY_ERR_KERNEL, err, "attach %s: recording "
				  "in sy_attach: %s", canon, sy_errstr(err));
	log_info("attached the socket programs (connect4, sendmsg4, recvmsg4, "
		 "getpeername4, connect6, sendmsg6, recvmsg6, getpeername6) to "
		 "cgroup %s (id %u)", canon, cgid);
	*cgid_out = cgid;
	*prog_id_out = prog_id;
	return 0;
}

int cgroup_detach(struct loader *L, const char *canon, bool exists,
		  bool *found_out, struct sy_err *e)
{
	char path[PATH_MAX];
	uint32_t cgid = 0;
	bool found = false;
	struct stat st;
	int err;

	*found_out = false;
	if (exists && stat(canon, &st) == 0)
		cgid = (uint32_t)st.st_ino;
	for (int i = 0; i < SY_SOCK_PROGS; i++) {
		uint32_t id;

		if (sock_link_path(L, i, canon, path, sizeof(path)))
			return sy_err_set(e, SY_ERR_INVALID, -ENAMETOOLONG,
					  "detach.cgroup_path: too long for a "
					  "link pin name");
		if (access(path, F_OK))
			continue;
		found = true;
		id = pinned_link_cgid(path);
		if (id && !cgid)
			cgid = id;
		err = remove_link_pin(path);
		if (err)
			return sy_err_set(e, SY_ERR_KERNEL, err, "detach %s: %s",
					  canon, sy_errstr(err));
	}
	if (cgid) {
		sock_record_delete(L, cgid);
	} else if (found) {
		/* The cgroup is gone and so is its id: forget the records of
		 * that directory name no remaining link pin refers to. */
		struct rec_list l = { 0 };
		char base[PATH_MAX], gone[PATH_MAX];

		snprintf(base, sizeof(base), "%s", canon);
		if (rec_list_load(L, &l) >= 0)
			for (size_t i = 0; i < l.n; i++) {
				struct rec *rec = &l.items[i];

				if (rec->key.hook == SY_HOOK_SOCK_LB &&
				    !strncmp(rec->val.ifname, basename(base),
					     sizeof(rec->val.ifname) - 1) &&
				    !cgroup_path_of(L, rec->key.ifindex, gone,
						    sizeof(gone)))
					sock_record_delete(L, rec->key.ifindex);
			}
		free(l.items);
	}
	if (found)
		log_info("detached the socket programs from cgroup %s", canon);
	*found_out = found;
	return 0;
}

/* Calls fn for every socket link pin (links/sock_*). */
static int sock_pins_each(struct loader *L,
			  int (*fn)(const char *path, const char *name,
				    void *ctx),
			  void *ctx)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int ret = 0;

	if (sy_path(dir, sizeof(dir), "%s/links", L->pin_dir))
		return -ENAMETOOLONG;
	d = opendir(dir);
	if (!d)
		return 0;
	while (!ret && (de = readdir(d))) {
		if (strncmp(de->d_name, SOCK_PIN_PREFIX,
			    strlen(SOCK_PIN_PREFIX)))
			continue;
		if (sy_path(path, sizeof(path), "%s/%s", dir, de->d_name))
			continue;
		ret = fn(path, de->d_name, ctx);
	}
	closedir(d);
	return ret;
}

struct cgid_ctx {
	uint32_t cgid;
	char *found;     /* cgroup_path_of: the unescaped path */
	size_t len;
	int err;
};

static int unpin_if_cgid(const char *path, const char *name, void *ctx_)
{
	struct cgid_ctx *ctx = ctx_;
	int err;

	(void)name;
	if (pinned_link_cgid(path) != ctx->cgid)
		return 0;
	err = remove_link_pin(path);
	if (err)
		ctx->err = err;
	return 0;
}

/* The links of a recorded cgroup (detach_rec: cleanup). Links whose cgroup
 * is gone no longer tell their cgroup; cleanup's sweep of links/ gets them. */
int cgroup_unpin_cgid(struct loader *L, uint32_t cgid)
{
	struct cgid_ctx ctx = { .cgid = cgid };
	int err = sock_pins_each(L, unpin_if_cgid, &ctx);

	return err ? err : ctx.err;
}

static int path_if_cgid(const char *path, const char *name, void *ctx_)
{
	static const char pfx[] = SOCK_PIN_PREFIX "connect4_";
	struct cgid_ctx *ctx = ctx_;

	if (strncmp(name, pfx, sizeof(pfx) - 1) ||
	    pinned_link_cgid(path) != ctx->cgid)
		return 0;
	unescape_path(name + sizeof(pfx) - 1, ctx->found, ctx->len);
	return 1;
}

/* The path a recorded cgroup was attached with, from its connect4 link pin
 * (false if the pin or the cgroup is gone). */
bool cgroup_path_of(struct loader *L, uint32_t cgid, char *buf, size_t len)
{
	struct cgid_ctx ctx = { .cgid = cgid, .found = buf, .len = len };

	return sock_pins_each(L, path_if_cgid, &ctx) == 1;
}
