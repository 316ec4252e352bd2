// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Undoing recorded attachments, whatever their hook: a detach request for
 * a device, and cleanup's detach of everything. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>

#include "sy_structs.h"
#include "detach.h"
#include "attach_records.h"
#include "cgroup_attach.h"
#include "link_pins.h"
#include "log.h"
#include "tc_attach.h"
#include "xdp_attach.h"

/* Undoes one recorded attachment. Devices that no longer exist are fine:
 * their tcx/xdp links died with them, and so did their clsact filters. */
static int detach_rec(struct loader *L, const struct rec *rec)
{
	char path[PATH_MAX], name[IF_NAMESIZE];
	int err = 0;

	if (rec->key.hook == SY_HOOK_SOCK_LB) {
		err = cgroup_unpin_cgid(L, rec->key.ifindex);
	} else if (rec->val.mode == SY_ATTACH_CLSACT) {
		/* Only if the ifindex still names the recorded device. */
		if (if_indextoname(rec->key.ifindex, name) &&
		    !strcmp(name, rec->val.ifname))
			err = tc_clsact_detach(rec->key.ifindex);
	} else if (pins_link_path(L, rec->key.hook, rec->val.ifname, path,
				  sizeof(path)) == 0) {
		err = remove_link_pin(path);
	}
	if (err)
		return err;
	if (rec->key.hook == SY_HOOK_XDP)
		dev_mac_write(L, rec->val.ifname, rec->key.ifindex, false);
	err = record_delete(L, &rec->key);
	if (!err)
		log_info("detached %s from %s (ifindex %u, %s)",
			 rec->key.hook == SY_HOOK_XDP ? "sy_xdp" :
			 rec->key.hook == SY_HOOK_SOCK_LB ? "the socket programs" :
							     "the tc program",
			 rec->val.ifname, rec->key.ifindex,
			 attach_mode_name(rec->val.mode));
	return err;
}

int device_detach(struct loader *L, uint32_t hook, const char *ifname,
		  struct sy_err *e)
{
	struct rec_list l = { 0 };
	struct rec found = { 0 };
	bool have = false;
	uint32_t ifindex = if_nametoindex(ifname);
	char path[PATH_MAX];
	int err;

	err = rec_list_load(L, &l);
	if (err < 0) {
		free(l.items);
		return sy_err_set(e, SY_ERR_KERNEL, err, "detach: reading "
				  "sy_attach: %s", sy_errstr(err));
	}
	/* By ifindex first (renamed devices), then by recorded name (devices
	 * that are gone). */
	for (size_t i = 0; i < l.n && !have; i++)
		if (l.items[i].key.hook == hook && ifindex &&
		    l.items[i].key.ifindex == ifindex) {
			found = l.items[i];
			have = true;
		}
	for (size_t i = 0; i < l.n && !have; i++)
		if (l.items[i].key.hook == hook &&
		    !strcmp(l.items[i].val.ifname, ifname)) {
			found = l.items[i];
			have = true;
		}
	free(l.items);

	if (pins_link_path(L, hook, ifname, path, sizeof(path)))
		return sy_err_set(e, SY_ERR_INVALID, -ENAMETOOLONG,
				  "detach.ifname: pin path too long");
	if (!have) {
		if (access(path, F_OK) == 0) {
			/* Pinned but never recorded (interrupted attach). */
			err = remove_link_pin(path);
			if (err)
				return sy_err_set(e, SY_ERR_KERNEL, err,
						  "detach %s: %s", ifname,
						  sy_errstr(err));
			return 0;
		}
		if (!ifindex)
			return sy_err_set(e, SY_ERR_NOT_FOUND, -ENODEV,
					  "detach.ifname: no device '%s' and "
					  "nothing recorded for it", ifname);
		return 0; /* not attached: nothing to do */
	}
	err = detach_rec(L, &found);
	if (err)
		return sy_err_set(e, SY_ERR_KERNEL, err, "detach %s: %s",
				  ifname, sy_errstr(err));
	return 0;
}

int detach_all(struct loader *L, char *errbuf, size_t errlen)
{
	struct rec_list l = { 0 };
	char dir[PATH_MAX];
	int err, ret = 0;

	err = rec_list_load(L, &l);
	if (err < 0) {
		snprintf(errbuf, errlen, "reading sy_attach: %s",
			 sy_errstr(err));
		free(l.items);
		return err;
	}
	for (size_t i = 0; i < l.n; i++) {
		err = detach_rec(L, &l.items[i]);
		if (err) {
			snprintf(errbuf, errlen, "detach %s: %s",
				 l.items[i].val.ifname, sy_errstr(err));
			ret = err;
		}
	}
	free(l.items);

	/* Links pinned but never recorded. */
	if (sy_path(dir, sizeof(dir), "%s/links", L->pin_dir))
		return -ENAMETOOLONG;
	{
		DIR *d = opendir(dir);
		struct dirent *de;

		while (d && (de = readdir(d))) {
			char path[PATH_MAX];

			if (de->d_name[0] == '.')
				continue;
			err = sy_path(path, sizeof(path), "%s/%s", dir,
				      de->d_name);
			if (!err)
				err = remove_link_pin(path);
			if (err) {
				snprintf(errbuf, errlen, "unpin %s: %s", path,
					 sy_errstr(err));
				ret = err;
			}
		}
		if (d)
			closedir(d);
	}
	return ret;
}
