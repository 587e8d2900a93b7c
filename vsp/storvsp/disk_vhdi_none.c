/* SPDX-License-Identifier: MIT */
/*
 * Stand-in for the libvhdi backend in builds without libvhdi: VHD (dynamic
 * and differencing) and VHDX images are refused with a message that says
 * why. Raw images and fixed VHDs do not need it.
 */
#include <errno.h>

#include "disk.h"

int disk_vhdi_init(struct storvsp_disk *d)
{
	vmbus_logf(&d->log, VMBUS_LOG_ERR,
		   "storvsp disk %s: %s images need libvhdi, and this build has none",
		   d->path, storvsp_disk_format_name(d->format));
	return -ENOTSUP;
}

void disk_vhdi_fini(struct storvsp_disk *d)
{
	(void)d;
}

void disk_vhdi_queue(struct ioq_req *r)
{
	r->res = -ENOTSUP;
	ioq_complete_async(r);
}
