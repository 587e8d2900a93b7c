// SPDX-License-Identifier: MIT
/*
 * vmbus-host's storage: "--disk PATH[,ro]" puts a disk image on a LUN of
 * one synthetic SCSI controller (storvsp, include/vmbus/storvsp.h). Every
 * --disk adds the next LUN to the same controller; the image format (raw,
 * fixed or dynamic VHD, VHDX) is recognised by storvsp_disk_open()
 * (include/vmbus/storvsp_disk.h, formats from the VHD specification and
 * MS-VHDX).
 *
 * Reads, writes, flushes and discards go to one io_uring queue per channel
 * (vsp/storvsp/ioq.h) with iovecs that point into guest RAM, so data moves
 * between the image and the guest's buffers without a copy here.
 *
 * Why the queues join the host's poll loop instead of getting a thread
 * each: the guest's channel signals reach storvsp through
 * vmbus_link_host_process() (the link demultiplexes one doorbell for every
 * channel and calls storvsp's signalled callback), so the main thread
 * already owns each channel. Completing requests on that same thread keeps
 * storvsp's one-thread-per-channel rule without locks, and the queue's
 * descriptor turning readable is all the loop needs to come back to it.
 *
 * The vstor and SCSI formats: include/vmbus/proto/vstor.h, scsi.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/link.h>
#include <vmbus/scsi_target.h>
#include <vmbus/storvsp.h>
#include <vmbus/storvsp_disk.h>

#include "host.h"
#include "ioq.h"

/* The primary and three subchannels, as many as a 12-vCPU Linux guest
 * asks for (one per four vCPUs). */
#define DISK_CHANNELS		4u
/* Requests one queue keeps in the kernel; more wait in the queue. */
#define DISK_QUEUE_DEPTH	128u

/* 6b736964-0000-4000-8000-000000000000: "disk" in the first field, in the
 * style of the echo device's instance. */
#define DISK_CTL_INSTANCE \
	VMBUS_GUID_INIT(0x6b736964u, 0x0000u, 0x4000u, 0x8000u, 0ull)

/* The controller every --disk shares. */
struct disk_ctl {
	struct host *h;
	struct vmbus_log log;		/* forwards to the host's, or captures */
	bool capturing;
	char captured[256];
	struct scsi_target *tgt;
	struct storvsp *sv;
	struct storvsp_ioq *q[DISK_CHANNELS];
	struct storvsp_disk *lun[SCSI_TARGET_MAX_LUNS];
	unsigned int nluns;
	unsigned int refs;
};

/* One --disk: its LUN. The first one also carries the poll hooks. */
struct disk_dev {
	struct disk_ctl *ctl;
	unsigned int lun;
	bool owner;
};

static struct disk_ctl *the_ctl;

/* ---- Logging ------------------------------------------------------------------- */

/*
 * While a disk opens, its error line is kept so the user gets one message
 * in terms of the option they typed; otherwise lines go to the host's log.
 */
static void disk_log(void *opaque, int level, const char *fmt, va_list ap)
{
	struct disk_ctl *c = opaque;

	if (c->capturing && level <= VMBUS_LOG_ERR) {
		vsnprintf(c->captured, sizeof(c->captured), fmt, ap);
		return;
	}
	if (c->h->log.fn)
		c->h->log.fn(c->h->log.opaque, level, fmt, ap);
}

/* The captured line without its "storvsp disk PATH: " prefix. */
static const char *captured_reason(const struct disk_ctl *c)
{
	const char *p = c->captured;
	const char *colon;

	if (!strncmp(p, "storvsp disk", 12)) {
		colon = strstr(p, ": ");
		if (colon)
			return colon + 2;
	}
	return p;
}

/* "64 MiB", "2 GiB", "1536 KiB", "1000 bytes". */
static void format_size(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
	unsigned int u = 0;

	while (u + 1 < sizeof(units) / sizeof(units[0]) && n && !(n & 1023)) {
		n >>= 10;
		u++;
	}
	snprintf(buf, len, "%llu %s", (unsigned long long)n, units[u]);
}

/* ---- I/O path ------------------------------------------------------------------- */

static void io_done(void *cookie, int res)
{
	storvsp_request_complete(cookie, res);
}

static int submit_io(void *ctx, struct storvsp_request *req,
		     const struct scsi_io_plan *plan, const struct iovec *iov,
		     unsigned int iovcnt)
{
	struct disk_ctl *c = ctx;
	struct storvsp_channel *ch = storvsp_request_channel(req);
	unsigned int idx;

	if (!ch || plan->lun >= SCSI_TARGET_MAX_LUNS || !c->lun[plan->lun])
		return -ENODEV;
	idx = storvsp_channel_index(ch);
	if (idx >= DISK_CHANNELS)
		return -EINVAL;
	/* Reaches the kernel when the poll hook runs the queue, after the
	 * link has handed storvsp every packet that is waiting: one
	 * io_uring_enter for the whole batch. */
	return storvsp_ioq_submit_plan(c->q[idx], c->lun[plan->lun], plan, iov,
				       iovcnt, io_done, req);
}

/*
 * Push what storvsp queued and deliver completions, their answers in one
 * batch; then read what the guest sent meanwhile (answers free table
 * slots, and a guest sends its next requests as soon as it sees them)
 * and go round again while that brings new requests.
 */
static void run_queue(struct disk_ctl *c, unsigned int i)
{
	struct storvsp_channel *ch;
	int n;

	for (;;) {
		ch = storvsp_channel_get(c->sv, i);
		storvsp_channel_batch_begin(ch);
		n = storvsp_ioq_run(c->q[i], false);
		storvsp_channel_batch_end(ch);
		if (n < 0) {
			host_err("disk queue %u: %s", i, strerror(-n));
			return;
		}
		if (!ch || storvsp_channel_process(ch) <= 0)
			return;
	}
}

static int disk_pollfds(void *dev, struct pollfd *fds, int max)
{
	struct disk_dev *d = dev;
	unsigned int i;

	if (!d->owner || max < (int)DISK_CHANNELS)
		return 0;
	for (i = 0; i < DISK_CHANNELS; i++)
		fds[i] = (struct pollfd){ .fd = storvsp_ioq_fd(d->ctl->q[i]), .events = POLLIN };
	return DISK_CHANNELS;
}

/*
 * Every queue, readable or not: requests storvsp took during this round
 * of vmbus_link_host_process() are still to be submitted, all of them in
 * one io_uring_enter per queue.
 *
 * No polling: spinning on the rings for a few tens of microseconds after
 * I/O moved, so the guest's next requests and the disk's completions are
 * caught without a wake-up, cost more than it saved where this was
 * measured (virtual CPUs shared with the hypervisor's own I/O threads:
 * bench-storage lost up to half its IOPS). On dedicated cores it would
 * be worth having again.
 */
static void disk_poll(void *dev, const struct pollfd *fds, int n)
{
	struct disk_ctl *c = ((struct disk_dev *)dev)->ctl;
	unsigned int i;

	(void)fds;
	(void)n;
	for (i = 0; i < DISK_CHANNELS; i++)
		run_queue(c, i);
}

/* ---- Controller ------------------------------------------------------------------- */

static void ctl_free(struct disk_ctl *c)
{
	unsigned int i;

	/* Queues first: they wait for I/O still writing guest memory, and
	 * storvsp must hold no request when it goes. */
	for (i = 0; i < DISK_CHANNELS; i++)
		storvsp_ioq_free(c->q[i]);
	storvsp_free(c->sv);
	scsi_target_free(c->tgt);
	for (i = 0; i < SCSI_TARGET_MAX_LUNS; i++)
		storvsp_disk_close(c->lun[i]);
	free(c);
}

static int ctl_new(struct host *h, struct disk_ctl **out)
{
	struct vmbus_guid inst = DISK_CTL_INSTANCE;
	struct storvsp_config cfg = { 0 };
	struct disk_ctl *c;
	unsigned int i;
	int ret;

	c = calloc(1, sizeof(*c));
	if (!c) {
		host_err("out of memory");
		return -ENOMEM;
	}
	c->h = h;
	c->log.fn = disk_log;
	c->log.opaque = c;
	c->log.max_level = h->log.max_level;
	c->tgt = scsi_target_new(&c->log);
	if (!c->tgt) {
		host_err("out of memory");
		free(c);
		return -ENOMEM;
	}
	for (i = 0; i < DISK_CHANNELS; i++) {
		ret = storvsp_ioq_new(DISK_QUEUE_DEPTH, -1, NULL, NULL, &c->log, &c->q[i]);
		if (ret) {
			host_err("cannot set up io_uring for the disks: %s%s", strerror(-ret),
			    ret == -EPERM || ret == -ENOSYS ?
			    " (io_uring is disabled or forbidden here)" : "");
			goto fail;
		}
	}
	cfg.log = &c->log;
	cfg.map = vmbus_link_host_gpa_map(h->link);
	cfg.target = c->tgt;
	cfg.channels = DISK_CHANNELS;
	cfg.submit = submit_io;
	cfg.submit_ctx = c;
	c->sv = storvsp_new(&cfg);
	if (!c->sv) {
		host_err("cannot create the SCSI controller");
		ret = -ENOMEM;
		goto fail;
	}
	ret = storvsp_register(c->sv, vmbus_link_host_server(h->link), &inst);
	if (ret) {
		host_err("cannot offer the SCSI controller: %s", strerror(-ret));
		goto fail;
	}
	*out = c;
	return 0;
fail:
	ctl_free(c);
	return ret;
}

/* ---- The --disk kind ---------------------------------------------------------------- */

static int disk_add(struct host *h, const char *arg, void **dev)
{
	struct disk_ctl *c = the_ctl;
	struct storvsp_disk *disk;
	struct scsi_disk_info info;
	struct disk_dev *d;
	char size[32];
	int ret;

	if (c && c->nluns == SCSI_TARGET_MAX_LUNS) {
		host_err("--disk %s: at most %u disks", arg, SCSI_TARGET_MAX_LUNS);
		return -ENOSPC;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		host_err("out of memory");
		return -ENOMEM;
	}
	if (!c) {
		ret = ctl_new(h, &c);
		if (ret) {
			free(d);
			return ret;
		}
		the_ctl = c;
		d->owner = true;
	}
	c->refs++;
	d->ctl = c;
	*dev = d;	/* freed through disk_free() even when this fails */

	c->capturing = true;
	c->captured[0] = 0;
	ret = storvsp_disk_open(arg, &c->log, &disk);
	c->capturing = false;
	if (ret) {
		if (c->captured[0])
			host_err("--disk %s: %s", arg, captured_reason(c));
		else
			host_err("--disk %s: %s", arg, strerror(-ret));
		return ret;
	}
	d->lun = c->nluns;
	storvsp_disk_info(disk, &info);
	ret = scsi_target_add_lun(c->tgt, d->lun, &info, storvsp_disk_ops(disk), disk);
	if (ret) {
		host_err("--disk %s: cannot attach as LUN %u: %s", arg, d->lun, strerror(-ret));
		storvsp_disk_close(disk);
		return ret;
	}
	c->lun[d->lun] = disk;
	c->nluns++;
	format_size(storvsp_disk_size(disk), size, sizeof(size));
	host_err("lun %u: %.*s, %s, %s, %s", d->lun, (int)strcspn(arg, ","), arg,
	    storvsp_disk_format_name(storvsp_disk_format(disk)), size,
	    storvsp_disk_read_only(disk) ? "read-only" : "read-write");
	return 0;
}

static void disk_free(void *dev)
{
	struct disk_dev *d = dev;

	if (d->ctl && --d->ctl->refs == 0) {
		if (the_ctl == d->ctl)
			the_ctl = NULL;
		ctl_free(d->ctl);
	}
	free(d);
}

const struct dev_kind disk_kind = {
	.option = "--disk",
	.arg = "PATH[,ro]",
	.help = "a disk image on the next LUN of one SCSI controller:\n"
		"\t\t\traw, fixed VHD (read-write), dynamic VHD or VHDX\n"
		"\t\t\t(read-only); ',ro' forces read-only; repeatable",
	.add = disk_add,
	.pollfds = disk_pollfds,
	.poll = disk_poll,
	.free = disk_free,
};
