// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* XDP: a bpf_link pinned at <pin dir>/links/xdp_<ifname>, native mode with
 * a fallback to generic (skb) mode, and the device's MAC in sy_dev_mac. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sy_structs.h"
#include "xdp_attach.h"
#include "attach_records.h"
#include "link_pins.h"
#include "log.h"

/* sy_dev_mac[ifindex]: the device's own MAC for sy_xdp (frames for other
 * hosts), or cleared (set = 0: XDP does not check unicast frames there). */
void dev_mac_write(struct loader *L, const char *ifname, uint32_t ifindex,
		   bool set)
{
	struct sy_dev_mac dm = { 0 };
	struct ifreq ifr = { 0 };
	int fd;

	if (ifindex >= bpf_map__max_entries(L->maps[SY_MAP_DEV_MAC])) {
		if (set)
			log_info("%s: ifindex %u beyond sy_dev_mac: XDP leaves "
				 "unicast frames for other hosts to tc", ifname,
				 ifindex);
		return;
	}
	if (set) {
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && ioctl(fd, SIOCGIFHWADDR, &ifr) == 0 &&
		    ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER) {
			memcpy(dm.addr, ifr.ifr_hwaddr.sa_data, 6);
			dm.set = 1;
		}
		if (fd >= 0)
			close(fd);
		if (!dm.set)
			log_info("%s: no Ethernet address: XDP leaves unicast "
				 "frames for other hosts to tc", ifname);
	}
	if (bpf_map_update_elem(sy_map_fd(L, SY_MAP_DEV_MAC), &ifindex, &dm,
				BPF_ANY))
		log_warn("%s: sy_dev_mac[%u]: %s", ifname, ifindex,
			 sy_errstr(-errno));
}

int xdp_attach(struct loader *L, const char *ifname, uint32_t ifindex,
	       int prog_fd, uint32_t *mode, struct sy_err *e)
{
	struct sy_attach_value prev;
	char path[PATH_MAX];
	int err;

	if (pins_link_path(L, SY_HOOK_XDP, ifname, path, sizeof(path)))
		return sy_err_set(e, SY_ERR_INVALID, -ENAMETOOLONG,
				  "attach.ifname: pin path too long");
	dev_mac_write(L, ifname, ifindex, true);
	err = update_pinned_link(path, BPF_LINK_TYPE_XDP, ifindex, prog_fd);
	if (err == 1) {
		*mode = record_get(L, ifindex, SY_HOOK_XDP, &prev) == 0 ?
				prev.mode : SY_ATTACH_XDP_NATIVE;
		return 0;
	}
	if (err < 0)
		return sy_err_set(e, SY_ERR_KERNEL, err, "attach %s: replacing "
				  "the pinned xdp link: %s", ifname,
				  sy_errstr(err));
	err = create_pinned_link(L, path, prog_fd, ifindex, BPF_XDP,
				 XDP_FLAGS_DRV_MODE);
	if (!err) {
		*mode = SY_ATTACH_XDP_NATIVE;
		return 0;
	}
	log_info("%s: native XDP failed (%s), trying generic", ifname,
		 sy_errstr(err));
	err = create_pinned_link(L, path, prog_fd, ifindex, BPF_XDP,
				 XDP_FLAGS_SKB_MODE);
	if (err)
		return sy_err_set(e, SY_ERR_KERNEL, err, "attach %s: xdp link: "
				  "%s", ifname, sy_errstr(err));
	*mode = SY_ATTACH_XDP_GENERIC;
	return 0;
}
