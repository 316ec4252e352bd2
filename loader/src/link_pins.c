// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Pinned bpf_links (tcx, XDP, cgroup), shared by every attach: a link pinned
 * under <pin dir>/links/ outlives the loader, and re-attaching updates it
 * in place to the currently loaded program. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "link_pins.h"
#include "log.h"

int prog_id_of(int prog_fd, uint32_t *id)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int err;

	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(prog_fd, &info, &len);
	if (!err)
		*id = info.id;
	return err;
}

int link_info(int fd, struct link_info_head *li)
{
	__u32 len = sizeof(*li);

	memset(li, 0, sizeof(*li));
	return bpf_obj_get_info_by_fd(fd, li, &len);
}

/* Detaches and unpins a pinned link; absent pins are fine. */
int remove_link_pin(const char *path)
{
	int fd, err;

	fd = bpf_obj_get(path);
	if (fd >= 0) {
		err = bpf_link_detach(fd);
		if (err && err != -ENOLINK && err != -EINVAL && err != -ENODEV)
			log_warn("bpf_link_detach %s: %s", path,
				 sy_errstr(err));
		close(fd);
	}
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return 0;
}

/* Updates the pinned link at path to prog_fd when it is a live link of the
 * expected type on ifindex. Returns 1 when updated, 0 when there is no
 * usable pin (a stale one is removed), <0 on error. */
int update_pinned_link(const char *path, uint32_t type, uint32_t ifindex,
		       int prog_fd)
{
	struct link_info_head li;
	int fd, err;

	if (access(path, F_OK))
		return 0;
	fd = bpf_obj_get(path);
	if (fd < 0) {
		log_warn("%s: unusable pin (%s), replacing it", path,
			 sy_errstr(fd));
		return unlink(path) ? -errno : 0;
	}
	err = link_info(fd, &li);
	if (!err && li.type == type && li.ifindex == ifindex) {
		err = bpf_link_update(fd, prog_fd, NULL);
		close(fd);
		if (!err)
			return 1;
		log_warn("%s: bpf_link_update: %s; recreating the link", path,
			 sy_errstr(err));
	} else {
		log_warn("%s: pinned link is stale (type %u ifindex %u, want "
			 "%u/%u); recreating it", path, li.type, li.ifindex,
			 type, ifindex);
		close(fd);
	}
	return remove_link_pin(path);
}

int create_pinned_link(struct loader *L, const char *path, int prog_fd,
		       uint32_t ifindex, int attach_type, uint32_t flags)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
	char dir[PATH_MAX];
	int fd, err;

	err = sy_path(dir, sizeof(dir), "%s/links", L->pin_dir);
	if (!err)
		err = mkdir_p(dir, 0700);
	if (err)
		return err;
	fd = bpf_link_create(prog_fd, (int)ifindex,
			     (enum bpf_attach_type)attach_type, &opts);
	if (fd < 0)
		return fd;
	err = bpf_obj_pin(fd, path);
	if (err) /* closing the only reference detaches the link */
		log_warn("pin %s: %s", path, sy_errstr(err));
	close(fd);
	return err;
}
