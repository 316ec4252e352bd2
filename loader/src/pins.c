// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The instance's bpffs directory: <pin root>/<instance>/<map name> for every
 * map and links/<hook>_<ifname> for every bpf_link. Pins are what keeps the
 * datapath state across loader restarts. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sy_structs.h"
#include "loader.h"
#include "log.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

int sy_path(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int mkdir_p(const char *path, unsigned int mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

int pins_map_path(struct loader *L, const char *map_name, char *buf,
		  size_t len)
{
	int n = snprintf(buf, len, "%s/%s", L->pin_dir, map_name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pins_link_path(struct loader *L, uint32_t hook, const char *ifname,
		   char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/links/%s_%s", L->pin_dir,
			 hook == SY_HOOK_XDP ? "xdp" : "tc_ingress", ifname);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pins_prepare_dir(struct loader *L)
{
	struct statfs sfs;
	int n, err, fd;

	n = snprintf(L->pin_dir, sizeof(L->pin_dir), "%s/%s", L->opt.pin_root,
		     L->opt.instance);
	if (n < 0 || (size_t)n >= sizeof(L->pin_dir) - 64) {
		log_error("pin directory path too long");
		return -ENAMETOOLONG;
	}
	err = mkdir_p(L->pin_dir, 0700);
	if (err) {
		log_error("mkdir -p %s: %s", L->pin_dir, sy_errstr(err));
		return err;
	}
	if (statfs(L->pin_dir, &sfs) == 0 && sfs.f_type != BPF_FS_MAGIC)
		log_warn("%s is not on a bpf filesystem: pinning will fail",
			 L->pin_dir);

	fd = open(L->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		log_error("open %s: %s", L->pin_dir, sy_errstr(err));
		return err;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		err = -errno;
		if (err == -EWOULDBLOCK)
			log_error("another loader is running for instance %s "
				  "(%s is locked)", L->opt.instance,
				  L->pin_dir);
		else
			log_error("flock %s: %s", L->pin_dir, sy_errstr(err));
		close(fd);
		return err == -EWOULDBLOCK ? -EBUSY : err;
	}
	L->pin_dir_lock_fd = fd;
	log_info("pin directory %s", L->pin_dir);
	return 0;
}

static bool fd_is_bpf_map(int fd)
{
	char link[64], target[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return true; /* no /proc: let the info check decide */
	target[n] = '\0';
	return strcmp(target, "anon_inode:bpf-map") == 0;
}

/* Reuses every pinned map whose layout matches the object's definition. A
 * pin whose layout differs (datapath upgrade that changed a struct) cannot
 * be used by the new program: it is unpinned and recreated, losing that
 * map's state, and the control plane resyncs it. */
int pins_reuse_maps(struct loader *L)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, L->obj) {
		struct bpf_map_info info;
		__u32 len = sizeof(info);
		char name[128], path[PATH_MAX];
		struct stat st;
		bool compat;
		int fd, err;

		if (bpf_map__is_internal(map))
			continue;
		/* A copy: bpf_map__reuse_fd() replaces the map's name. */
		snprintf(name, sizeof(name), "%s", bpf_map__name(map));
		if (pins_map_path(L, name, path, sizeof(path)))
			return -ENAMETOOLONG;
		if (stat(path, &st)) {
			if (errno == ENOENT)
				continue;
			err = -errno;
			log_error("stat %s: %s", path, sy_errstr(err));
			return err;
		}
		fd = bpf_obj_get(path);
		if (fd < 0) {
			log_error("bpf_obj_get %s: %s", path, sy_errstr(fd));
			return fd;
		}
		memset(&info, 0, sizeof(info));
		compat = fd_is_bpf_map(fd) &&
			 bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
			 info.type == bpf_map__type(map) &&
			 info.key_size == bpf_map__key_size(map) &&
			 info.value_size == bpf_map__value_size(map) &&
			 info.map_flags == bpf_map__map_flags(map);
		if (!compat) {
			log_warn("%s: pinned map does not match the datapath's "
				 "definition (type %u key %u value %u flags "
				 "0x%x, want %u/%u/%u/0x%x): recreating it, its "
				 "entries are lost", name, info.type,
				 info.key_size, info.value_size,
				 info.map_flags, bpf_map__type(map),
				 bpf_map__key_size(map),
				 bpf_map__value_size(map),
				 bpf_map__map_flags(map));
			close(fd);
			if (unlink(path)) {
				err = -errno;
				log_error("unlink %s: %s", path,
					  sy_errstr(err));
				return err;
			}
			continue;
		}
		if (info.max_entries != bpf_map__max_entries(map))
			log_warn("%s: pinned map keeps max_entries %u (%u "
				 "requested); a size change needs cleanup",
				 name, info.max_entries,
				 bpf_map__max_entries(map));
		err = bpf_map__reuse_fd(map, fd);
		close(fd);
		if (err) {
			log_error("%s: reuse_fd: %s", name, sy_errstr(err));
			return err;
		}
		log_info("%s: reusing pinned map id %u", name, info.id);
	}
	return 0;
}

int pins_pin_maps(struct loader *L)
{
	struct bpf_map *map;
	int err;

	bpf_object__for_each_map(map, L->obj) {
		char path[PATH_MAX];

		if (bpf_map__is_internal(map))
			continue;
		if (pins_map_path(L, bpf_map__name(map), path, sizeof(path)))
			return -ENAMETOOLONG;
		if (access(path, F_OK) == 0)
			continue; /* reused above */
		err = bpf_obj_pin(bpf_map__fd(map), path);
		if (err) {
			log_error("pin %s: %s", path, sy_errstr(err));
			return err;
		}
		log_info("%s: pinned at %s", bpf_map__name(map), path);
	}
	return 0;
}

static int remove_dir_entries(const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int ret = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		char path[PATH_MAX];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_type == DT_DIR)
			continue; /* only links/, handled by the caller */
		if (sy_path(path, sizeof(path), "%s/%s", dir, de->d_name))
			continue;
		if (unlink(path) && errno != ENOENT) {
			ret = -errno;
			snprintf(err, errlen, "unlink %s: %s", path,
				 sy_errstr(ret));
		}
	}
	closedir(d);
	return ret;
}

/* Unpins everything under the instance directory and removes it. Called by
 * cleanup after every attachment is gone. */
int pins_remove_all(struct loader *L, char *err, size_t errlen)
{
	char links[PATH_MAX];
	int ret;

	if (sy_path(links, sizeof(links), "%s/links", L->pin_dir))
		return -ENAMETOOLONG;
	ret = remove_dir_entries(links, err, errlen);
	if (rmdir(links) && errno != ENOENT && !ret) {
		ret = -errno;
		snprintf(err, errlen, "rmdir %s: %s", links, sy_errstr(ret));
	}
	if (!ret)
		ret = remove_dir_entries(L->pin_dir, err, errlen);
	if (!ret && rmdir(L->pin_dir) && errno != ENOENT) {
		ret = -errno;
		snprintf(err, errlen, "rmdir %s: %s", L->pin_dir,
			 sy_errstr(ret));
	}
	return ret;
}
