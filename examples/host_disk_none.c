// SPDX-License-Identifier: MIT
/*
 * vmbus-host's --disk when the build found no liburing: the disk layer
 * (vsp/storvsp/ioq.h) needs it, so the option only explains why it is
 * missing. The real one is host_disk.c.
 */
#include <errno.h>

#include "host.h"

static int disk_add(struct host *h, const char *arg, void **dev)
{
	(void)h;
	(void)dev;
	host_err("--disk %s: this vmbus-host was built without liburing, which disks need", arg);
	return -ENOTSUP;
}

static void disk_free(void *dev)
{
	(void)dev;
}

const struct dev_kind disk_kind = {
	.option = "--disk",
	.arg = "PATH[,ro]",
	.help = "(not available: built without liburing)",
	.add = disk_add,
	.free = disk_free,
};

static int control_add(struct host *h, const char *arg, void **dev)
{
	(void)h;
	(void)dev;
	host_err("--disk-control %s: this vmbus-host was built without liburing, which disks need",
	    arg);
	return -ENOTSUP;
}

const struct dev_kind disk_control_kind = {
	.option = "--disk-control",
	.arg = "SOCKET",
	.help = "(not available: built without liburing)",
	.add = control_add,
	.free = disk_free,
};
