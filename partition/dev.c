/* SPDX-License-Identifier: MIT */
/*
 * Partition devices: storvsp over the disk layer and netvsp over a NIC
 * backend, registered on the hypervisor model's VMBus server (see dev.h
 * for the threading). Protocols: include/vmbus/storvsp.h, netvsp.h and
 * vsp/netvsp/nic.h; disk formats: include/vmbus/storvsp_disk.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <vmbus/netvsp.h>
#include <vmbus/scsi_target.h>
#include <vmbus/storvsp.h>

#ifdef PART_HAVE_DISKS
#include <vmbus/storvsp_disk.h>
#endif

#include "dev.h"
#include "nic.h"

/* Frames taken from the backend per pass, and how often a receive path
 * that had to leave frames in the backend (netvsp's backlog was full)
 * looks again. */
#define RX_BUDGET		32u
#define RX_RETRY_MS		5
/* netvsp's backlog above which frames stay in the backend. */
#define RX_BACKLOG_HIGH		(NETVSP_DEFAULT_RX_BACKLOG - 16u)

/* A LUN: the disk's own ops wrapped to count what the guest did. */
struct dev_lun {
	struct part_dev *d;
#ifdef PART_HAVE_DISKS
	struct storvsp_disk *disk;
#endif
	const struct scsi_disk_ops *ops;	/* the disk's */
	void *ctx;
	struct scsi_disk_ops wrap;		/* what the target calls */
	uint64_t reads, writes, read_bytes, write_bytes, flushes, errors;
};

struct part_dev {
	struct part_hv *hv;
	struct vmbus_log log;

	struct scsi_target *target;
	struct storvsp *sv;
	struct dev_lun luns[PART_DEV_MAX_DISKS];
	unsigned int nluns;

	struct netvsp_nic *nic;
	struct netvsp *nv;
	int rx_fd;		/* the backend's, -1: poll on a timer */
	int wake_fd;		/* eventfd that ends the receive thread */
	pthread_t rx_thread;
	bool rx_started;
	bool stopping;
	uint64_t rx_passes, rx_held;	/* frames left in the backend: backlog */
};

/* ---- Disks --------------------------------------------------------------- */

#ifdef PART_HAVE_DISKS
static void lun_count(struct dev_lun *l, uint64_t *n, uint64_t *bytes,
		      size_t len, int ret)
{
	__atomic_fetch_add(n, 1, __ATOMIC_RELAXED);
	if (bytes)
		__atomic_fetch_add(bytes, len, __ATOMIC_RELAXED);
	if (ret < 0)
		__atomic_fetch_add(&l->errors, 1, __ATOMIC_RELAXED);
}

static int lun_read(void *ctx, uint64_t off, const struct iovec *iov,
		    unsigned int iovcnt, size_t len)
{
	struct dev_lun *l = ctx;
	int ret = l->ops->read(l->ctx, off, iov, iovcnt, len);

	lun_count(l, &l->reads, &l->read_bytes, len, ret);
	return ret;
}

static int lun_write(void *ctx, uint64_t off, const struct iovec *iov,
		     unsigned int iovcnt, size_t len, bool fua)
{
	struct dev_lun *l = ctx;
	int ret = l->ops->write(l->ctx, off, iov, iovcnt, len, fua);

	lun_count(l, &l->writes, &l->write_bytes, len, ret);
	return ret;
}

static int lun_flush(void *ctx)
{
	struct dev_lun *l = ctx;
	int ret = l->ops->flush(l->ctx);

	lun_count(l, &l->flushes, NULL, 0, ret);
	return ret;
}

static int lun_discard(void *ctx, uint64_t off, uint64_t len)
{
	struct dev_lun *l = ctx;

	return l->ops->discard(l->ctx, off, len);
}

/* The wrapper has the same optional members as the disk it wraps. */
static void lun_wrap(struct dev_lun *l)
{
	l->wrap.read = lun_read;
	l->wrap.write = lun_write;
	l->wrap.flush = l->ops->flush ? lun_flush : NULL;
	l->wrap.discard = l->ops->discard ? lun_discard : NULL;
}

static int open_disk(struct part_dev *d, const struct part_dev_disk *spec)
{
	struct dev_lun *l = &d->luns[d->nluns];
	struct scsi_disk_info info;
	char *s;
	int ret;

	s = malloc(spec->path_len + 4);
	if (!s)
		return -ENOMEM;
	memcpy(s, spec->path, spec->path_len);
	strcpy(s + spec->path_len, spec->ro ? ",ro" : "");
	ret = storvsp_disk_open(s, &d->log, &l->disk);
	free(s);
	if (ret)
		return ret;	/* storvsp_disk_open() logged the reason */
	l->d = d;
	l->ops = storvsp_disk_ops(l->disk);
	l->ctx = l->disk;
	storvsp_disk_info(l->disk, &info);
	lun_wrap(l);
	ret = scsi_target_add_lun(d->target, d->nluns, &info, &l->wrap, l);
	if (ret) {
		storvsp_disk_close(l->disk);
		l->disk = NULL;
		vmbus_logf(&d->log, VMBUS_LOG_ERR, "disk %.*s: adding LUN %u: %s",
			   (int)spec->path_len, spec->path, d->nluns,
			   strerror(-ret));
		return ret;
	}
	vmbus_logf(&d->log, VMBUS_LOG_INFO, "disk %.*s: LUN %u, %s, %" PRIu64
		   " bytes%s", (int)spec->path_len, spec->path, d->nluns,
		   storvsp_disk_format_name(storvsp_disk_format(l->disk)),
		   info.size, info.read_only ? ", read-only" : "");
	d->nluns++;
	return 0;
}

static void close_disk(struct dev_lun *l)
{
	storvsp_disk_close(l->disk);
	l->disk = NULL;
}
#else
static int open_disk(struct part_dev *d, const struct part_dev_disk *spec)
{
	vmbus_logf(&d->log, VMBUS_LOG_ERR, "disk %.*s: this vmbus-run was built "
		   "without the disk backend (liburing)", (int)spec->path_len,
		   spec->path);
	return -ENOTSUP;
}

static void close_disk(struct dev_lun *l)
{
	(void)l;
}
#endif

static int add_storage(struct part_dev *d, const struct part_dev_config *cfg)
{
	const struct vmbus_guid inst = PART_DEV_SCSI_INSTANCE;
	struct storvsp_config scfg;
	unsigned int i;
	int ret;

	d->target = scsi_target_new(&d->log);
	if (!d->target)
		return -ENOMEM;
	for (i = 0; i < cfg->disk_count; i++) {
		ret = open_disk(d, &cfg->disks[i]);
		if (ret)
			return ret;
	}
	memset(&scfg, 0, sizeof(scfg));
	scfg.log = &d->log;
	scfg.map = part_hv_gpa_map(d->hv);
	scfg.target = d->target;
	scfg.channels = 1;
	d->sv = storvsp_new(&scfg);
	if (!d->sv)
		return -ENOMEM;
	ret = storvsp_register(d->sv, part_hv_server(d->hv), &inst);
	if (ret)
		vmbus_logf(&d->log, VMBUS_LOG_ERR, "offering the SCSI controller: %s",
			   strerror(-ret));
	return ret;
}

/* ---- NIC ----------------------------------------------------------------- */

/* netvsp's frame hook: a frame the guest sent goes to the backend. */
static int nic_tx(void *ctx, unsigned int queue, const struct iovec *iov,
		  unsigned int iovcnt, size_t len, const struct rndis_tx_packet *pkt)
{
	struct part_dev *d = ctx;
	struct netvsp_nic_frame f = { .iov = iov, .iovcnt = iovcnt, .len = len };

	(void)queue;
	netvsp_nic_offload_from_rndis(pkt, &f.ol);
	return netvsp_nic_tx(d->nic, 0, &f, 1) == 1 ? 0 : -EIO;
}

/* A frame from the backend: to the guest, unless netvsp's backlog is so
 * full that it would drop it; then it stays in the backend for later. */
static int nic_rx(void *opaque, unsigned int q, const void *frame, size_t len,
		  const struct netvsp_nic_rx_info *info)
{
	struct part_dev *d = opaque;
	struct rndis_rx_info ri;

	(void)q;
	if (netvsp_rx_backlog(d->nv) >= RX_BACKLOG_HIGH) {
		d->rx_held++;
		return 1;
	}
	memset(&ri, 0, sizeof(ri));
	netvsp_nic_rx_info_to_rndis(info, frame, len, &ri);
	netvsp_rx(d->nv, NETVSP_RX_QUEUE_AUTO, frame, len, &ri);
	return 0;
}

static bool rx_stopping(struct part_dev *d)
{
	return __atomic_load_n(&d->stopping, __ATOMIC_ACQUIRE);
}

static void *rx_thread(void *arg)
{
	struct part_dev *d = arg;
	struct pollfd p[2];
	bool more = false;
	int n, timeout;

	while (!rx_stopping(d)) {
		p[0] = (struct pollfd){ .fd = d->wake_fd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = more ? -1 : d->rx_fd,
					.events = POLLIN };
		timeout = more || d->rx_fd < 0 ? RX_RETRY_MS : -1;
		if (poll(p, 2, timeout) < 0 && errno != EINTR)
			break;
		if (rx_stopping(d))
			break;
		part_hv_lock(d->hv);
		n = netvsp_nic_rx_poll(d->nic, 0, RX_BUDGET, nic_rx, d);
		part_hv_unlock(d->hv);
		d->rx_passes++;
		if (n < 0) {
			vmbus_logf(&d->log, VMBUS_LOG_ERR, "NIC receive: %s",
				   strerror(-n));
			break;
		}
		/* A full pass, or frames left behind: look again soon
		 * instead of waiting for the fd. */
		more = (unsigned int)n == RX_BUDGET ||
		       netvsp_rx_backlog(d->nv) >= RX_BACKLOG_HIGH;
	}
	return NULL;
}

static int add_nic(struct part_dev *d, const char *spec)
{
	struct netvsp_config ncfg;
	struct netvsp_server_config scfg;
	const uint8_t mac[6] = PART_DEV_NIC_MAC;
	int ret;

	ret = netvsp_nic_open(spec, &d->log, &d->nic);
	if (ret) {
		vmbus_logf(&d->log, VMBUS_LOG_ERR, "--nic %s: %s", spec,
			   strerror(-ret));
		return ret;
	}
	memset(&ncfg, 0, sizeof(ncfg));
	memcpy(ncfg.rndis.mac, mac, sizeof(mac));
	netvsp_nic_mac(d->nic, ncfg.rndis.mac);	/* a port's own, if any */
	ncfg.rndis.link_down = !netvsp_nic_link_up(d->nic);
	ncfg.rndis.friendly_name = "vmbus-run NIC";
	ncfg.rndis.log = d->log;
	ncfg.frames.tx = nic_tx;
	ncfg.frames.ctx = d;
	ncfg.map = part_hv_gpa_map(d->hv);
	ncfg.log = d->log;
	ret = netvsp_create(&ncfg, &d->nv);
	if (ret) {
		vmbus_logf(&d->log, VMBUS_LOG_ERR, "netvsp: %s", strerror(-ret));
		return ret;
	}
	/* kick NULL: the glue processes a signalled channel at once, on the
	 * signalling VP's thread under the bus lock (dev.h). */
	memset(&scfg, 0, sizeof(scfg));
	scfg.instance = (struct vmbus_guid)PART_DEV_NIC_INSTANCE;
	ret = netvsp_server_attach(d->nv, part_hv_server(d->hv), &scfg);
	if (ret) {
		vmbus_logf(&d->log, VMBUS_LOG_ERR, "offering the NIC: %s",
			   strerror(-ret));
		return ret;
	}
	d->rx_fd = netvsp_nic_rx_fd(d->nic, 0);
	if (d->rx_fd < 0)
		d->rx_fd = -1;
	return 0;
}

/* ---- Life cycle ---------------------------------------------------------- */

int part_dev_new(struct part_hv *hv, const struct part_dev_config *cfg,
		 struct part_dev **out)
{
	struct part_dev *d;
	int ret = 0;

	if (!hv || !cfg || !out || cfg->disk_count > PART_DEV_MAX_DISKS ||
	    (cfg->disk_count && !cfg->disks))
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->hv = hv;
	d->log = cfg->log;
	d->rx_fd = -1;
	d->wake_fd = -1;
	if (cfg->disk_count)
		ret = add_storage(d, cfg);
	if (!ret && cfg->nic)
		ret = add_nic(d, cfg->nic);
	if (ret) {
		part_dev_free(d);
		return ret;
	}
	*out = d;
	return 0;
}

int part_dev_start(struct part_dev *d)
{
	int ret;

	if (!d || !d->nic)
		return 0;
	d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->wake_fd < 0)
		return -errno;
	ret = pthread_create(&d->rx_thread, NULL, rx_thread, d);
	if (ret)
		return -ret;
	d->rx_started = true;
	return 0;
}

void part_dev_stop(struct part_dev *d)
{
	uint64_t one = 1;

	if (!d || !d->rx_started)
		return;
	__atomic_store_n(&d->stopping, true, __ATOMIC_RELEASE);
	if (write(d->wake_fd, &one, sizeof(one)) < 0)
		vmbus_logf(&d->log, VMBUS_LOG_WARN, "waking the NIC thread: %s",
			   strerror(errno));
	pthread_join(d->rx_thread, NULL);
	d->rx_started = false;
}

void part_dev_free(struct part_dev *d)
{
	unsigned int i;

	if (!d)
		return;
	part_dev_stop(d);
	/* netvsp and storvsp withdraw their offers; the server still exists. */
	netvsp_destroy(d->nv);
	netvsp_nic_close(d->nic);
	storvsp_free(d->sv);
	scsi_target_free(d->target);
	for (i = 0; i < d->nluns; i++)
		close_disk(&d->luns[i]);
	if (d->wake_fd >= 0)
		close(d->wake_fd);
	free(d);
}

void part_dev_report(struct part_dev *d, FILE *f)
{
	struct netvsp_nic_stats ns;
	unsigned int i;

	if (!d)
		return;
	for (i = 0; i < d->nluns; i++) {
		struct dev_lun *l = &d->luns[i];

		fprintf(f, "vmbus-run: disk LUN %u: reads=%" PRIu64 " (%" PRIu64
			" bytes) writes=%" PRIu64 " (%" PRIu64 " bytes) flushes=%"
			PRIu64 " errors=%" PRIu64 "\n", i, l->reads, l->read_bytes,
			l->writes, l->write_bytes, l->flushes, l->errors);
	}
	if (d->nic && !netvsp_nic_get_stats(d->nic, 0, &ns))
		fprintf(f, "vmbus-run: NIC: guest->wire frames=%" PRIu64 " (%" PRIu64
			" bytes, dropped %" PRIu64 "); wire->guest frames=%" PRIu64
			" (%" PRIu64 " bytes); receive passes=%" PRIu64
			" held back=%" PRIu64 "\n", ns.tx_frames, ns.tx_bytes,
			ns.tx_drop_invalid + ns.tx_drop_full + ns.tx_drop_error,
			ns.rx_frames, ns.rx_bytes, d->rx_passes, d->rx_held);
}
