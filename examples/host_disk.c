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
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <vmbus/link.h>
#include <vmbus/scsi_target.h>
#include <vmbus/storvsp.h>
#include <vmbus/storvsp_disk.h>

#include "format_size.h"
#include "host.h"
#include "ioq.h"

/* The primary and three subchannels, as many as a 12-vCPU Linux guest
 * asks for (one per four vCPUs). */
#define DISK_CHANNELS		4u
/* Requests one queue keeps in the kernel; more wait in the queue. */
#define DISK_QUEUE_DEPTH	128u
/* Longest --disk-control command line. */
#define CONTROL_LINE		4096u

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
	char *lun_path[SCSI_TARGET_MAX_LUNS];	/* as given, without ",ro" */
	unsigned int nluns;
	unsigned int refs;
};

/* One --disk (its LUN) or the --disk-control socket. The first of them
 * also carries the queues' poll hooks. */
struct disk_dev {
	struct disk_ctl *ctl;
	unsigned int lun;
	bool owner;
	/* --disk-control: listening socket, the client being served, and
	 * the command line it is sending. */
	bool control;
	char *path;
	int lfd, cfd;
	char line[CONTROL_LINE];
	size_t len;
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
	/* The queue hands the kernel a group of eight as soon as it has
	 * one, and the rest when the poll hook runs it, after the link
	 * has handed storvsp every packet that is waiting. */
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
	int n = 0;

	if (d->owner && max >= (int)DISK_CHANNELS) {
		for (i = 0; i < DISK_CHANNELS; i++)
			fds[n++] = (struct pollfd){ .fd = storvsp_ioq_fd(d->ctl->q[i]),
						    .events = POLLIN };
	}
	if (d->control && n < max)
		fds[n++] = (struct pollfd){ .fd = d->cfd >= 0 ? d->cfd : d->lfd,
					    .events = POLLIN };
	return n;
}

static void control_poll(struct disk_dev *d, const struct pollfd *fd);

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
	struct disk_dev *d = dev;
	unsigned int i;

	if (d->owner)
		for (i = 0; i < DISK_CHANNELS; i++)
			run_queue(d->ctl, i);
	if (d->control && n > 0)
		control_poll(d, &fds[n - 1]);
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
	for (i = 0; i < SCSI_TARGET_MAX_LUNS; i++) {
		storvsp_disk_close(c->lun[i]);
		free(c->lun_path[i]);
	}
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

/* ---- LUNs ------------------------------------------------------------------------------- */

/* Lowest LUN without a disk, or SCSI_TARGET_MAX_LUNS. */
static unsigned int free_lun(const struct disk_ctl *c)
{
	unsigned int i;

	for (i = 0; i < SCSI_TARGET_MAX_LUNS && c->lun[i]; i++)
		;
	return i;
}

/*
 * Open "PATH[,ro]" and attach it as the lowest free LUN. 0 and *lun, or
 * -errno with the reason in why.
 */
static int lun_attach(struct disk_ctl *c, const char *arg, unsigned int *lun,
		      char *why, size_t whylen)
{
	struct storvsp_disk *disk;
	struct scsi_disk_info info;
	char size[32];
	unsigned int n = free_lun(c);
	int ret;

	if (n == SCSI_TARGET_MAX_LUNS) {
		snprintf(why, whylen, "at most %u disks", SCSI_TARGET_MAX_LUNS);
		return -ENOSPC;
	}
	c->capturing = true;
	c->captured[0] = 0;
	ret = storvsp_disk_open(arg, &c->log, &disk);
	c->capturing = false;
	if (ret) {
		snprintf(why, whylen, "%s", c->captured[0] ? captured_reason(c) : strerror(-ret));
		return ret;
	}
	storvsp_disk_info(disk, &info);
	ret = scsi_target_add_lun(c->tgt, n, &info, storvsp_disk_ops(disk), disk);
	if (ret) {
		snprintf(why, whylen, "cannot attach as LUN %u: %s", n, strerror(-ret));
		storvsp_disk_close(disk);
		return ret;
	}
	c->lun[n] = disk;
	c->lun_path[n] = strndup(arg, strcspn(arg, ","));
	c->nluns++;
	*lun = n;
	format_size(storvsp_disk_size(disk), size, sizeof(size));
	host_err("lun %u: %.*s, %s, %s, %s", n, (int)strcspn(arg, ","), arg,
	    storvsp_disk_format_name(storvsp_disk_format(disk)), size,
	    storvsp_disk_read_only(disk) ? "read-only" : "read-write");
	return 0;
}

/* Requests of any queue still in the kernel or with a worker. */
static unsigned int in_flight(const struct disk_ctl *c)
{
	struct storvsp_ioq_stats st;
	unsigned int i, n = 0;

	for (i = 0; i < DISK_CHANNELS; i++) {
		storvsp_ioq_stats(c->q[i], &st);
		n += st.inflight;
	}
	return n;
}

/* Detach and close LUN n. 0, or -errno with the reason in why. */
static int lun_detach(struct disk_ctl *c, unsigned int n, char *why, size_t whylen)
{
	if (n >= SCSI_TARGET_MAX_LUNS || !c->lun[n]) {
		snprintf(why, whylen, "there is no LUN %u", n);
		return -ENOENT;
	}
	/* A request in flight holds the disk; removing it under one would
	 * pull the image out from under the I/O. */
	if (in_flight(c)) {
		snprintf(why, whylen, "I/O is in flight on the controller, try again");
		return -EBUSY;
	}
	scsi_target_remove_lun(c->tgt, n);
	storvsp_disk_close(c->lun[n]);
	free(c->lun_path[n]);
	c->lun[n] = NULL;
	c->lun_path[n] = NULL;
	c->nluns--;
	host_err("lun %u: removed", n);
	return 0;
}

/* Shared by --disk and --disk-control: the controller, made by the first. */
static struct disk_dev *dev_new(struct host *h)
{
	struct disk_ctl *c = the_ctl;
	struct disk_dev *d = calloc(1, sizeof(*d));

	if (!d) {
		host_err("out of memory");
		return NULL;
	}
	d->lfd = d->cfd = -1;
	if (!c) {
		if (ctl_new(h, &c)) {
			free(d);
			return NULL;
		}
		the_ctl = c;
		d->owner = true;
	}
	c->refs++;
	d->ctl = c;
	return d;
}

/* ---- The --disk kind ---------------------------------------------------------------- */

static int disk_add(struct host *h, const char *arg, void **dev)
{
	struct disk_dev *d;
	char why[300];
	int ret;

	d = dev_new(h);
	if (!d)
		return -ENOMEM;
	*dev = d;	/* freed through disk_free() even when this fails */
	ret = lun_attach(d->ctl, arg, &d->lun, why, sizeof(why));
	if (ret)
		host_err("--disk %s: %s", arg, why);
	return ret;
}

static void disk_free(void *dev)
{
	struct disk_dev *d = dev;

	if (d->control) {
		if (d->cfd >= 0)
			close(d->cfd);
		if (d->lfd >= 0) {
			close(d->lfd);
			unlink(d->path);
		}
		free(d->path);
	}
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

/* ---- The --disk-control kind ------------------------------------------------------------ */

/*
 * A UNIX stream socket for changing the disks while the guest runs. A
 * client sends one line and gets one back:
 *   add PATH[,ro]   ->  "ok lun N"
 *   remove LUN      ->  "ok"
 *   list            ->  "ok" and one "lun N: PATH..." line per disk
 * or "error: REASON". After add and remove the guest is told that its
 * LUNs changed (an unsolicited ENUMERATE_BUS), and rescans as Linux does.
 */
static void reply(struct disk_dev *d, const char *fmt, ...)
{
	char buf[600];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	/* A client that does not read its answer loses it. */
	if (send(d->cfd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return;
}

static void tell_guest(struct disk_ctl *c)
{
	int ret = storvsp_notify_luns_changed(c->sv);

	/* No guest, or one still starting: it scans when it gets there. */
	if (ret && ret != -ENOTCONN)
		host_err("cannot tell the guest its LUNs changed: %s", strerror(-ret));
}

static void control_command(struct disk_dev *d, char *line)
{
	struct disk_ctl *c = d->ctl;
	char why[300], *arg, *end;
	unsigned int lun, i;
	unsigned long v;

	line[strcspn(line, "\r\n")] = 0;
	arg = strchr(line, ' ');
	if (arg)
		*arg++ = 0;
	if (!strcmp(line, "add") && arg && *arg) {
		if (lun_attach(c, arg, &lun, why, sizeof(why))) {
			reply(d, "error: %s: %s", arg, why);
			return;
		}
		tell_guest(c);
		reply(d, "ok lun %u", lun);
	} else if (!strcmp(line, "remove") && arg && *arg) {
		v = strtoul(arg, &end, 10);
		if (*end || v >= SCSI_TARGET_MAX_LUNS) {
			reply(d, "error: '%s' is not a LUN number", arg);
			return;
		}
		if (lun_detach(c, (unsigned int)v, why, sizeof(why))) {
			reply(d, "error: %s", why);
			return;
		}
		tell_guest(c);
		reply(d, "ok");
	} else if (!strcmp(line, "list") && !arg) {
		reply(d, "ok");
		for (i = 0; i < SCSI_TARGET_MAX_LUNS; i++)
			if (c->lun[i])
				reply(d, "lun %u: %s, %s, %s", i,
				      c->lun_path[i] ? c->lun_path[i] : "?",
				      storvsp_disk_format_name(storvsp_disk_format(c->lun[i])),
				      storvsp_disk_read_only(c->lun[i]) ? "read-only" : "read-write");
	} else {
		reply(d, "error: unknown command (add PATH[,ro], remove LUN, list)");
	}
}

static void control_poll(struct disk_dev *d, const struct pollfd *fd)
{
	ssize_t n;
	char *nl;

	if (d->cfd < 0) {
		if (fd->revents & POLLIN) {
			d->cfd = accept4(d->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			d->len = 0;
		}
		return;
	}
	if (!fd->revents)
		return;
	n = recv(d->cfd, d->line + d->len, sizeof(d->line) - 1 - d->len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		d->len += (size_t)n;
		d->line[d->len] = 0;
		nl = strchr(d->line, '\n');
		if (!nl && d->len < sizeof(d->line) - 1)
			return;	/* the rest of the line is on its way */
		if (nl)
			control_command(d, d->line);
		else
			reply(d, "error: command line too long");
	}
	/* One command per connection: done, or the client went away. */
	close(d->cfd);
	d->cfd = -1;
}

static int control_add(struct host *h, const char *arg, void **dev)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct disk_dev *d;

	if (strlen(arg) >= sizeof(sa.sun_path)) {
		host_err("--disk-control %s: path too long for a UNIX socket", arg);
		return -ENAMETOOLONG;
	}
	d = dev_new(h);
	if (!d)
		return -ENOMEM;
	*dev = d;
	d->control = true;
	memcpy(sa.sun_path, arg, strlen(arg));
	d->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (d->lfd < 0 || bind(d->lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(d->lfd, 4)) {
		host_err("--disk-control %s: %s%s", arg, strerror(errno),
		    errno == EADDRINUSE ? " (remove the stale socket first)" : "");
		if (d->lfd >= 0)
			close(d->lfd);
		d->lfd = -1;
		return -errno;
	}
	d->path = strdup(arg);
	if (!d->path) {
		close(d->lfd);
		unlink(arg);
		d->lfd = -1;
		host_err("out of memory");
		return -ENOMEM;
	}
	return 0;
}

const struct dev_kind disk_control_kind = {
	.option = "--disk-control",
	.arg = "SOCKET",
	.help = "add and remove disks while the guest runs, through\n"
		"\t\t\ta UNIX socket: 'add PATH[,ro]', 'remove LUN', 'list'\n"
		"\t\t\t(one line per connection; see vmbus-ctl)",
	.add = control_add,
	.pollfds = disk_pollfds,
	.poll = disk_poll,
	.free = disk_free,
};
