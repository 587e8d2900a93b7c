// SPDX-License-Identifier: MIT
/*
 * vmbus-guest's storage commands: disks, read, write and verify, through
 * the guest SCSI client (include/vmbus/storvsc.h) on the host's synthetic
 * SCSI controller (vmbus-host --disk).
 *
 * Each command opens the controller's primary channel with the link
 * (include/vmbus/link.h), runs storvsc's handshake and LUN scan, and then
 * moves data through buffers in guest RAM that storvsc describes to the
 * host page by page (GPA direct), as a Hyper-V guest does.
 *
 * Wire formats: include/vmbus/proto/vstor.h and scsi.h; sense keys from
 * T10 SPC-4 (table "Sense key descriptions").
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vmbus/link.h>
#include <vmbus/proto/tlfs.h>
#include <vmbus/storvsc.h>

#include "format_size.h"
#include "guest.h"

/* Requests in flight on the channel at most. */
#define SC_MAX_REQUESTS		32u
/* Pages per ring: room for every request's GPA-direct packet at once. */
#define SC_RING_PAGES		32u
/* Bytes per request, capped further by the host's max transfer. */
#define IO_CHUNK		(256u * 1024u)
#define CHUNK_PFNS		(IO_CHUNK / HV_PAGE_SIZE + 2u)
/* verify: requests in flight, and disks verified whole up to this size
 * (larger ones are sampled, first and last chunk included). */
#define VERIFY_WINDOW		8u
#define VERIFY_FULL_MAX		(1ull << 30)
#define VERIFY_SAMPLES		4096u
#define VERIFY_MAX_REPORTS	5u

static const struct vmbus_guid scsi_class = VMBUS_GUID_SCSI;

/* One guest's connection to the SCSI controller. */
struct dsess {
	struct guest *gs;
	struct vmbus_link_guest_channel *gc;
	struct vmbus_link_guest_channel *sub[STORVSC_MAX_CHANNELS];
	unsigned int nsub;
	uint32_t relid;
	struct storvsc *sc;
	void *sc_mem;
	uint64_t sc_gpa;
	uint32_t sc_pages;
	uintptr_t ram;			/* the guest's pointer to GPA 0 */
	bool start_done;
	int start_err;
	bool rescan_wanted;		/* the host said the LUNs changed */
	int64_t idle_since;
};

/* A buffer in guest RAM. */
struct gbuf {
	uint8_t *va;
	uint64_t gpa;
	uint32_t pages;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Errors in words ------------------------------------------------------------- */

static const char *sense_key_name(uint8_t key)
{
	static const char *const names[16] = {
		"NO SENSE", "RECOVERED ERROR", "NOT READY", "MEDIUM ERROR",
		"HARDWARE ERROR", "ILLEGAL REQUEST", "UNIT ATTENTION", "DATA PROTECT",
		"BLANK CHECK", "VENDOR SPECIFIC", "COPY ABORTED", "ABORTED COMMAND",
		"RESERVED", "VOLUME OVERFLOW", "MISCOMPARE", "COMPLETED",
	};

	return names[key & 15];
}

static const char *error_words(enum storvsc_error e)
{
	switch (e) {
	case STORVSC_ERR_NOT_READY:
		return "the disk is not ready";
	case STORVSC_ERR_MEDIUM:
		return "the disk reported an I/O error";
	case STORVSC_ERR_WRITE_PROTECTED:
		return "the disk is write-protected";
	case STORVSC_ERR_ILLEGAL_REQUEST:
		return "the disk rejected the command as invalid";
	case STORVSC_ERR_LBA_OUT_OF_RANGE:
		return "the range lies past the end of the disk";
	case STORVSC_ERR_UNIT_ATTENTION:
		return "the disk changed under us (unit attention), try again";
	case STORVSC_ERR_LUN_NOT_SUPPORTED:
		return "there is no such LUN";
	case STORVSC_ERR_ABORTED:
		return "the command was aborted";
	default:
		return "the command failed";
	}
}

/* "lun 1: write at LBA 2048 refused: the disk is write-protected (DATA PROTECT)" */
static void report_failure(unsigned int lun, const char *op, uint64_t lba,
			   const struct storvsc_result *r)
{
	bool refused = r->error == STORVSC_ERR_WRITE_PROTECTED ||
		       r->error == STORVSC_ERR_ILLEGAL_REQUEST ||
		       r->error == STORVSC_ERR_LBA_OUT_OF_RANGE ||
		       r->error == STORVSC_ERR_LUN_NOT_SUPPORTED;
	char where[48] = "";
	char why[64];

	if (lba != UINT64_MAX)
		snprintf(where, sizeof(where), " at LBA %llu", (unsigned long long)lba);
	if (r->sense_key && (r->error == STORVSC_ERR_WRITE_PROTECTED ||
			     r->error == STORVSC_ERR_NOT_READY ||
			     r->error == STORVSC_ERR_UNIT_ATTENTION))
		snprintf(why, sizeof(why), "%s", sense_key_name(r->sense_key));
	else if (r->sense_key)
		snprintf(why, sizeof(why), "%s, ASC %02Xh/%02Xh",
			 sense_key_name(r->sense_key), r->asc, r->ascq);
	else
		snprintf(why, sizeof(why), "SRB status 0x%02x, SCSI status 0x%02x",
			 r->srb_status, r->scsi_status);
	guest_err("lun %u: %s%s %s: %s (%s)", lun, op, where, refused ? "refused" : "failed",
	    error_words(r->error), why);
}

/* A request that never left: storvsc said no before sending. */
static void report_submit(unsigned int lun, const char *op, uint64_t lba, int err)
{
	switch (err) {
	case -ENODEV:
		guest_err("lun %u: %s at LBA %llu: no such disk", lun, op,
		    (unsigned long long)lba);
		break;
	case -ENOTCONN:
		guest_err("lun %u: %s: the SCSI controller is not initialized", lun, op);
		break;
	default:
		guest_err("lun %u: %s at LBA %llu could not be sent: %s", lun, op,
		    (unsigned long long)lba, strerror(-err));
		break;
	}
}

/* ---- Session ---------------------------------------------------------------------- */

static uint64_t virt_to_pfn(void *ctx, const void *va)
{
	const struct dsess *s = ctx;

	return ((uintptr_t)va - s->ram) >> 12;
}

static void on_rescan(void *ctx)
{
	((struct dsess *)ctx)->rescan_wanted = true;
}

static const struct storvsc_events sess_events = { .rescan = on_rescan };

static void started(void *arg, int err)
{
	struct dsess *s = arg;

	s->start_err = err;
	s->start_done = true;
}

/* One round: handle what the host sent, and when nothing came wait for an
 * interrupt. 0, or 1 after a message. */
static int sess_pump(struct dsess *s, const char *what)
{
	int n = storvsc_process(s->sc);

	if (n < 0) {
		guest_err("%s: the SCSI channel failed: %s", what, strerror(-n));
		return 1;
	}
	if (n > 0) {
		s->idle_since = now_ms();
		return 0;
	}
	if (now_ms() - s->idle_since > s->gs->timeout_ms) {
		guest_err("%s: the host did not answer within %d ms", what, s->gs->timeout_ms);
		return 1;
	}
	n = vmbus_link_guest_wait(s->gs->g, 100);
	if (n < 0) {
		guest_link_err(s->gs, what, n);
		return 1;
	}
	return 0;
}

static void sess_close(struct dsess *s)
{
	int64_t until = now_ms() + s->gs->timeout_ms;
	int ret;

	/* The host may still be writing into buffers of requests that are
	 * out: wait for them before the channel and the buffers go. */
	while (s->sc && storvsc_in_flight(s->sc) && now_ms() < until &&
	       vmbus_link_guest_alive(s->gs->g)) {
		if (storvsc_process(s->sc) < 0)
			break;
		vmbus_link_guest_wait(s->gs->g, 100);
	}
	/* Subchannels first, as Linux does; the primary's close ends the
	 * controller's session. */
	while (s->nsub) {
		ret = vmbus_link_guest_channel_close(s->sub[--s->nsub], s->gs->timeout_ms);
		if (ret && vmbus_link_guest_alive(s->gs->g))
			guest_link_err(s->gs, "closing a SCSI subchannel", ret);
	}
	if (s->gc) {
		ret = vmbus_link_guest_channel_close(s->gc, s->gs->timeout_ms);
		if (ret && vmbus_link_guest_alive(s->gs->g))
			guest_link_err(s->gs, "closing the SCSI channel", ret);
		s->gc = NULL;
	}
	if (s->sc_mem)
		vmbus_link_guest_free_pages(s->gs->g, s->sc_gpa, s->sc_pages);
	s->sc_mem = NULL;
	s->sc = NULL;
}

/* The offer of subchannel @index of the controller, or NULL. */
static const struct vmbus_msg_offer *sub_offer(const struct dsess *s,
					       const struct vmbus_msg_offer *primary,
					       unsigned int index)
{
	unsigned int i;

	for (i = 0; i < s->gs->noffers; i++) {
		const struct vmbus_msg_offer *o = &s->gs->offers[i];

		if (o->sub_channel_index == index &&
		    !memcmp(&o->if_type, &primary->if_type, sizeof(o->if_type)) &&
		    !memcmp(&o->if_instance, &primary->if_instance, sizeof(o->if_instance)))
			return o;
	}
	return NULL;
}

/*
 * The subchannels the host agreed to: it offers them on the bus after
 * CREATE_SUB_CHANNELS; open each as it arrives and give it to storvsc,
 * which then spreads requests over all channels. 0, or 1 after a message.
 */
static int open_subchannels(struct dsess *s)
{
	struct vmbus_link_guest_open op = {
		.ring_pages = SC_RING_PAGES, .max_requests = SC_MAX_REQUESTS,
	};
	const struct vmbus_msg_offer *primary = NULL, *o;
	unsigned int i, want = storvsc_subchannels_created(s->sc);
	int64_t until = now_ms() + s->gs->timeout_ms;
	int ret;

	if (s->gs->subchannels && !want)
		guest_err("warning: the host granted no subchannels (it offers %u); "
		    "using the primary channel alone", storvsc_host_subchannels(s->sc));
	else if (want < s->gs->subchannels)
		guest_err("warning: asked for %u subchannels, the host granted %u",
		    s->gs->subchannels, want);
	for (i = 0; i < s->gs->noffers; i++)
		if (s->gs->offers[i].child_relid == s->relid)
			primary = &s->gs->offers[i];
	for (i = 1; primary && i <= want; i++) {
		while (!(o = sub_offer(s, primary, i))) {
			if (now_ms() > until) {
				guest_err("subchannel %u of %u was never offered", i, want);
				return 1;
			}
			ret = vmbus_link_guest_wait(s->gs->g, 100);
			if (ret < 0) {
				guest_link_err(s->gs, "waiting for the SCSI subchannels", ret);
				return 1;
			}
			/* The primary pointer stays valid: offers only append. */
		}
		ret = vmbus_link_guest_channel_open(s->gs->g, o->child_relid, &op,
						    s->gs->timeout_ms, &s->sub[s->nsub]);
		if (ret) {
			guest_link_err(s->gs, "opening a SCSI subchannel", ret);
			return 1;
		}
		s->nsub++;
		ret = storvsc_add_channel(s->sc, vmbus_link_guest_channel_end(s->sub[s->nsub - 1]));
		if (ret) {
			guest_err("cannot use SCSI subchannel %u: %s", i, strerror(-ret));
			return 1;
		}
	}
	return 0;
}

/* Open the controller, start storvsc, scan the LUNs. 0, or 1 after a
 * message (nothing left open). */
static int sess_open(struct guest *gs, struct dsess *s)
{
	struct vmbus_link_guest_open op = {
		.ring_pages = SC_RING_PAGES, .max_requests = SC_MAX_REQUESTS,
	};
	struct storvsc_config cfg = { 0 };
	uint32_t relid = 0;
	unsigned int i;
	size_t need;
	int ret;

	memset(s, 0, sizeof(*s));
	s->gs = gs;
	for (i = 0; i < gs->noffers; i++)
		if (!memcmp(&gs->offers[i].if_type, &scsi_class, sizeof(scsi_class)) &&
		    gs->offers[i].sub_channel_index == 0) {
			relid = gs->offers[i].child_relid;
			break;
		}
	if (!relid) {
		guest_err("the host offers no SCSI controller (start vmbus-host with --disk PATH)");
		return 1;
	}
	s->relid = relid;
	s->ram = (uintptr_t)vmbus_link_guest_ptr(gs->g, 0, HV_PAGE_SIZE);
	ret = vmbus_link_guest_channel_open(gs->g, relid, &op, gs->timeout_ms, &s->gc);
	if (ret) {
		s->gc = NULL;
		guest_link_err(gs, "opening the SCSI channel", ret);
		return 1;
	}
	cfg.primary = vmbus_link_guest_channel_end(s->gc);
	cfg.log = &gs->log;
	cfg.max_requests = SC_MAX_REQUESTS;
	cfg.max_luns = STORVSC_MAX_LUNS;
	cfg.subchannels = gs->subchannels;
	cfg.events = &sess_events;
	cfg.events_ctx = s;
	cfg.virt_to_pfn = virt_to_pfn;
	cfg.virt_ctx = s;
	need = storvsc_mem_size(&cfg);
	s->sc_pages = (uint32_t)((need + HV_PAGE_SIZE - 1) / HV_PAGE_SIZE);
	s->sc_mem = need ? vmbus_link_guest_alloc_pages(gs->g, s->sc_pages, &s->sc_gpa) : NULL;
	if (!s->sc_mem) {
		guest_err("no guest RAM left for the SCSI client (give vmbus-host more --ram)");
		goto fail;
	}
	ret = storvsc_init(s->sc_mem, (size_t)s->sc_pages * HV_PAGE_SIZE, &cfg, &s->sc);
	if (!ret)
		ret = storvsc_start(s->sc, started, s);
	if (ret) {
		guest_err("cannot start the SCSI client: %s", strerror(-ret));
		goto fail;
	}
	s->idle_since = now_ms();
	while (!s->start_done)
		if (sess_pump(s, "starting the SCSI controller"))
			goto fail;
	if (s->start_err) {
		guest_err("the SCSI controller did not start: %s%s", strerror(-s->start_err),
		    s->start_err == -ENOTSUP ? " (no common vstor version)" : "");
		goto fail;
	}
	if (open_subchannels(s))
		goto fail;
	return 0;
fail:
	sess_close(s);
	return 1;
}

/* The scan result for @lun, or 1 after a message. */
static int sess_lun(const struct dsess *s, unsigned int lun, struct storvsc_lun *out)
{
	unsigned int i, n = storvsc_lun_count(s->sc);
	char have[256];
	size_t len = 0;

	for (i = 0; i < n; i++) {
		storvsc_lun_info(s->sc, i, out);
		if (out->lun == lun) {
			if (!out->block_size) {
				guest_err("lun %u is not a disk (device type 0x%02x)", lun,
				    out->device_type);
				return 1;
			}
			return 0;
		}
	}
	for (i = 0; i < n && len + 8 < sizeof(have); i++) {
		struct storvsc_lun l;

		storvsc_lun_info(s->sc, i, &l);
		len += (size_t)snprintf(have + len, sizeof(have) - len, "%s%u", i ? ", " : "", l.lun);
	}
	if (n)
		guest_err("lun %u: no such LUN (the host has LUN%s %s)", lun, n == 1 ? "" : "s", have);
	else
		guest_err("lun %u: no such LUN (the host has none)", lun);
	return 1;
}

static int buf_alloc(struct dsess *s, uint32_t bytes, struct gbuf *b)
{
	b->pages = (bytes + HV_PAGE_SIZE - 1) / HV_PAGE_SIZE;
	b->va = vmbus_link_guest_alloc_pages(s->gs->g, b->pages, &b->gpa);
	if (!b->va) {
		guest_err("no guest RAM left for a %u KiB buffer (give vmbus-host more --ram)",
		    bytes >> 10);
		return 1;
	}
	return 0;
}

static void buf_free(struct dsess *s, struct gbuf *b)
{
	if (b->va)
		vmbus_link_guest_free_pages(s->gs->g, b->gpa, b->pages);
	b->va = NULL;
}

/* The storvsc description of @len bytes at byte @off of @b. */
static struct storvsc_buf buf_desc(const struct gbuf *b, uint32_t off, uint32_t len,
				   uint64_t *pfns)
{
	uint64_t first = (b->gpa + off) >> 12;
	uint32_t in_page = (uint32_t)((b->gpa + off) & (HV_PAGE_SIZE - 1));
	uint32_t i, n = (in_page + len + HV_PAGE_SIZE - 1) / HV_PAGE_SIZE;

	for (i = 0; i < n; i++)
		pfns[i] = first + i;
	return (struct storvsc_buf){ .pfns = pfns, .offset = in_page, .len = len };
}

/* Largest request for this LUN: the host's limit, our chunk, whole blocks. */
static uint32_t chunk_bytes(const struct dsess *s, const struct storvsc_lun *l)
{
	uint32_t c = storvsc_max_transfer(s->sc);

	if (!c || c > IO_CHUNK)
		c = IO_CHUNK;
	return c / l->block_size * l->block_size;
}

enum io_op { IO_READ, IO_WRITE, IO_FLUSH };

static const char *const op_names[] = { "read", "write", "flush" };

/* Send one request; a full ring or request table is waited out. 0, or 1
 * after a message. */
static int io_submit(struct dsess *s, enum io_op op, unsigned int lun, uint64_t lba,
		     uint32_t blocks, const struct storvsc_buf *b,
		     storvsc_io_done_fn *done, void *arg)
{
	int ret;

	for (;;) {
		switch (op) {
		case IO_READ:
			ret = storvsc_read(s->sc, lun, lba, blocks, b, done, arg);
			break;
		case IO_WRITE:
			ret = storvsc_write(s->sc, lun, lba, blocks, b, false, done, arg);
			break;
		default:
			ret = storvsc_flush(s->sc, lun, done, arg);
			break;
		}
		if (ret != -EAGAIN)
			break;
		if (sess_pump(s, op_names[op]))
			return 1;
	}
	if (ret) {
		report_submit(lun, op_names[op], lba, ret);
		return 1;
	}
	return 0;
}

struct io_wait {
	bool done;
	struct storvsc_result res;
};

static void io_wait_done(void *arg, const struct storvsc_result *res)
{
	struct io_wait *w = arg;

	w->res = *res;
	w->done = true;
}

/* One request, waited for. 0, or 1 after a message. */
static int io_sync(struct dsess *s, enum io_op op, unsigned int lun, uint64_t lba,
		   uint32_t blocks, const struct gbuf *b, uint32_t off, uint32_t len)
{
	uint64_t pfns[CHUNK_PFNS];
	struct storvsc_buf desc;
	struct io_wait w = { 0 };

	if (b)
		desc = buf_desc(b, off, len, pfns);
	if (io_submit(s, op, lun, lba, blocks, b ? &desc : NULL, io_wait_done, &w))
		return 1;
	s->idle_since = now_ms();
	while (!w.done)
		if (sess_pump(s, op_names[op]))
			return 1;
	if (w.res.error != STORVSC_OK) {
		report_failure(lun, op_names[op], op == IO_FLUSH ? UINT64_MAX : lba, &w.res);
		return 1;
	}
	return 0;
}

/* ---- Arguments -------------------------------------------------------------------- */

static int parse_lun(const char *cmd, const char *s, unsigned int *lun)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (!*s || *end || v >= STORVSC_MAX_LUNS) {
		guest_err("%s: '%s' is not a LUN (0..%u)", cmd, s, STORVSC_MAX_LUNS - 1);
		return 1;
	}
	*lun = (unsigned int)v;
	return 0;
}

/* A byte count: decimal or 0x hex, with an optional K, M or G (binary). */
static int parse_bytes(const char *cmd, const char *what, const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (end != s && *end && !end[1]) {
		switch (*end) {
		case 'k': case 'K': shift = 10; end++; break;
		case 'm': case 'M': shift = 20; end++; break;
		case 'g': case 'G': shift = 30; end++; break;
		}
	}
	if (end == s || *end || *s == '-' || errno || (shift && v > (UINT64_MAX >> shift))) {
		guest_err("%s: '%s' is not a %s in bytes (e.g. 4096, 0x1000, 64K, 1M)", cmd, s,
		    what);
		return 1;
	}
	*out = (uint64_t)v << shift;
	return 0;
}

/* ---- disks ------------------------------------------------------------------------- */

/* "lun 0: 8 MiB (16384 blocks of 512 bytes), read-write, Msft Virtual Disk" */
static void print_lun(const char *prefix, const struct storvsc_lun *l)
{
	char size[32];

	if (!l->block_size) {
		printf("%slun %u: device type 0x%02x, not a disk, %s %s\n", prefix, l->lun,
		       l->device_type, l->vendor, l->product);
		return;
	}
	format_size(l->blocks * l->block_size, size, sizeof(size));
	printf("%slun %u: %s (%llu blocks of %u bytes), %s, %s %s\n", prefix, l->lun, size,
	       (unsigned long long)l->blocks, l->block_size,
	       l->read_only ? "read-only" : "read-write", l->vendor, l->product);
}

static int cmd_disks(struct guest *gs, int argc, char **argv)
{
	struct dsess s;
	unsigned int i, n;

	(void)argv;
	if (argc > 1) {
		guest_err("disks takes no arguments");
		return 2;
	}
	if (sess_open(gs, &s))
		return 1;
	n = storvsc_lun_count(s.sc);
	for (i = 0; i < n; i++) {
		struct storvsc_lun l;

		storvsc_lun_info(s.sc, i, &l);
		print_lun("", &l);
	}
	if (!n)
		printf("(no LUNs)\n");
	printf("controller: vstor %u.%u, %u channel%s (the primary and %u subchannel%s)\n",
	       storvsc_version(s.sc) >> 8, storvsc_version(s.sc) & 0xff, s.nsub + 1,
	       s.nsub ? "s" : "", s.nsub, s.nsub == 1 ? "" : "s");
	sess_close(&s);
	return 0;
}

/* ---- watch ---------------------------------------------------------------------------- */

struct lun_set {
	struct storvsc_lun l[STORVSC_MAX_LUNS];
	unsigned int n;
};

static void lun_set_read(const struct dsess *s, struct lun_set *set)
{
	unsigned int i;

	set->n = storvsc_lun_count(s->sc);
	if (set->n > STORVSC_MAX_LUNS)
		set->n = STORVSC_MAX_LUNS;
	for (i = 0; i < set->n; i++)
		storvsc_lun_info(s->sc, i, &set->l[i]);
}

static const struct storvsc_lun *lun_find(const struct lun_set *set, unsigned int lun)
{
	unsigned int i;

	for (i = 0; i < set->n; i++)
		if (set->l[i].lun == lun)
			return &set->l[i];
	return NULL;
}

static void scanned(void *arg, int err)
{
	struct dsess *s = arg;

	s->start_err = err;
	s->start_done = true;
}

/*
 * List the LUNs, then stay attached for SECONDS and report each change
 * the host announces: it sends ENUMERATE_BUS, storvsc calls the rescan
 * event, and a new REPORT LUNS scan says what came and went.
 */
static int cmd_watch(struct guest *gs, int argc, char **argv)
{
	static struct lun_set before, after;
	struct dsess s;
	unsigned int i;
	char *end;
	long secs;
	int64_t until;
	int ret, status = 0;

	secs = argc == 2 ? strtol(argv[1], &end, 10) : -1;
	if (argc != 2 || *end || secs <= 0 || secs > 86400) {
		guest_err("watch wants a number of seconds (1 to 86400)");
		return 2;
	}
	if (sess_open(gs, &s))
		return 1;
	lun_set_read(&s, &before);
	for (i = 0; i < before.n; i++)
		print_lun("", &before.l[i]);
	printf("watching for %ld s\n", secs);
	fflush(stdout);
	until = now_ms() + secs * 1000;
	while (now_ms() < until) {
		if (s.rescan_wanted) {
			s.rescan_wanted = false;
			s.start_done = false;
			ret = storvsc_rescan(s.sc, scanned, &s);
			if (ret == -EBUSY) {
				s.rescan_wanted = true;	/* after the scan running now */
			} else if (ret) {
				guest_err("rescan: %s", strerror(-ret));
				status = 1;
				break;
			} else {
				s.idle_since = now_ms();
				while (!s.start_done)
					if (sess_pump(&s, "rescanning the LUNs")) {
						status = 1;
						goto out;
					}
				if (s.start_err) {
					guest_err("rescan failed: %s", strerror(-s.start_err));
					status = 1;
					break;
				}
				lun_set_read(&s, &after);
				for (i = 0; i < after.n; i++)
					if (!lun_find(&before, after.l[i].lun))
						print_lun("added: ", &after.l[i]);
				for (i = 0; i < before.n; i++)
					if (!lun_find(&after, before.l[i].lun))
						printf("removed: lun %u\n", before.l[i].lun);
				fflush(stdout);
				before = after;
			}
		}
		if (storvsc_process(s.sc) < 0) {
			guest_err("watch: the SCSI channel failed");
			status = 1;
			break;
		}
		ret = vmbus_link_guest_wait(gs->g, 100);
		if (ret < 0) {
			guest_link_err(gs, "watching", ret);
			status = 1;
			break;
		}
	}
out:
	sess_close(&s);
	return status;
}

/* ---- read ---------------------------------------------------------------------------- */

/* Check that [off, off + len) lies on the disk. */
static int range_ok(const struct storvsc_lun *l, uint64_t off, uint64_t len)
{
	uint64_t size = l->blocks * l->block_size;
	char sz[32];

	format_size(size, sz, sizeof(sz));
	if (off > size) {
		guest_err("lun %u: offset %llu lies past the end of the disk (%s)", l->lun,
		    (unsigned long long)off, sz);
		return 1;
	}
	if (len > size - off) {
		guest_err("lun %u: %llu bytes at offset %llu reach past the end of the disk (%s)",
		    l->lun, (unsigned long long)len, (unsigned long long)off, sz);
		return 1;
	}
	return 0;
}

static int cmd_read(struct guest *gs, int argc, char **argv)
{
	struct storvsc_lun l;
	struct gbuf b = { 0 };
	struct dsess s;
	uint64_t off, len, pos, end;
	unsigned int lun;
	uint32_t chunk;
	int status = 1;

	if (argc != 4) {
		guest_err("usage: read LUN OFFSET LENGTH");
		return 2;
	}
	if (parse_lun("read", argv[1], &lun) ||
	    parse_bytes("read", "offset", argv[2], &off) ||
	    parse_bytes("read", "length", argv[3], &len))
		return 2;
	if (sess_open(gs, &s))
		return 1;
	if (sess_lun(&s, lun, &l) || range_ok(&l, off, len))
		goto out;
	chunk = chunk_bytes(&s, &l);
	if (buf_alloc(&s, chunk, &b))
		goto out;
	for (pos = off, end = off + len; pos < end;) {
		uint32_t head = (uint32_t)(pos % l.block_size);
		uint64_t want = head + (end - pos);
		uint32_t span, n;

		want = (want + l.block_size - 1) / l.block_size * l.block_size;
		span = want < chunk ? (uint32_t)want : chunk;
		if (io_sync(&s, IO_READ, lun, pos / l.block_size, span / l.block_size, &b, 0, span))
			goto out;
		n = span - head;
		if (n > end - pos)
			n = (uint32_t)(end - pos);
		if (fwrite(b.va + head, 1, n, stdout) != n) {
			guest_err("read: writing to standard output: %s", strerror(errno));
			goto out;
		}
		pos += n;
	}
	if (fflush(stdout)) {
		guest_err("read: writing to standard output: %s", strerror(errno));
		goto out;
	}
	status = 0;
out:
	buf_free(&s, &b);
	sess_close(&s);
	return status;
}

/* ---- write -------------------------------------------------------------------------- */

/* Fill buf with up to len bytes of standard input: less only at its end.
 * Returns the count, or -1 after a message. */
static ssize_t read_stdin(uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(0, buf + got, len - got);

		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			guest_err("write: reading standard input: %s", strerror(errno));
			return -1;
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/*
 * Offsets and lengths need not be block-aligned: a partial first or last
 * block is read, patched and written back whole (read-modify-write). Each
 * request waits for the one before, so the patched blocks never race.
 */
static int cmd_write(struct guest *gs, int argc, char **argv)
{
	struct storvsc_lun l;
	struct gbuf b = { 0 };
	struct dsess s;
	uint8_t *stage = NULL;
	uint64_t off, pos, size;
	unsigned int lun, rmw = 0;
	uint32_t chunk, bs;
	int status = 1;

	if (argc != 3) {
		guest_err("usage: write LUN OFFSET < DATA");
		return 2;
	}
	if (parse_lun("write", argv[1], &lun) || parse_bytes("write", "offset", argv[2], &off))
		return 2;
	if (sess_open(gs, &s))
		return 1;
	if (sess_lun(&s, lun, &l) || range_ok(&l, off, 0))
		goto out;
	bs = l.block_size;
	size = l.blocks * bs;
	chunk = chunk_bytes(&s, &l);
	stage = malloc(chunk);
	if (!stage) {
		guest_err("out of memory");
		goto out;
	}
	if (buf_alloc(&s, chunk, &b))
		goto out;
	for (pos = off;;) {
		uint32_t head = (uint32_t)(pos % bs), span;
		uint64_t lba = pos / bs;
		ssize_t n = read_stdin(stage, chunk - head);

		if (n < 0)
			goto out;
		if (n == 0)
			break;
		if ((uint64_t)n > size - pos) {
			char sz[32];

			format_size(size, sz, sizeof(sz));
			guest_err("lun %u: the input runs past the end of the disk (%s); nothing"
			    " from offset %llu on was written", lun, sz, (unsigned long long)pos);
			/* What went before stays written: make it durable. */
			if (pos > off)
				io_sync(&s, IO_FLUSH, lun, 0, 0, NULL, 0, 0);
			goto out;
		}
		span = (uint32_t)((head + (uint64_t)n + bs - 1) / bs * bs);
		if (head) {
			if (io_sync(&s, IO_READ, lun, lba, 1, &b, 0, bs))
				goto out;
			rmw++;
		}
		if ((head + (uint32_t)n) % bs && !(head && span == bs)) {
			if (io_sync(&s, IO_READ, lun, lba + span / bs - 1, 1, &b, span - bs, bs))
				goto out;
			rmw++;
		}
		memcpy(b.va + head, stage, (size_t)n);
		if (io_sync(&s, IO_WRITE, lun, lba, span / bs, &b, 0, span))
			goto out;
		pos += (uint64_t)n;
		if ((uint32_t)n < chunk - head)
			break;
	}
	if (pos > off && io_sync(&s, IO_FLUSH, lun, 0, 0, NULL, 0, 0))
		goto out;
	printf("lun %u: wrote %llu bytes at offset %llu", lun, (unsigned long long)(pos - off),
	       (unsigned long long)off);
	if (rmw)
		printf(" (read-modify-write of %u partial block%s)", rmw, rmw == 1 ? "" : "s");
	printf("%s\n", pos > off ? ", flushed" : "");
	status = 0;
out:
	free(stage);
	buf_free(&s, &b);
	sess_close(&s);
	return status;
}

/* ---- verify -------------------------------------------------------------------------- */

#define STAMP_MAGIC	0x5646594253554d42ull	/* "BMUSBYFV" */

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/*
 * Each block starts with a stamp (magic ^ run seed, its own LBA) and
 * continues with bytes derived from both, so a block that landed at the
 * wrong LBA, or is left from an earlier run, is told apart from a
 * corrupted one.
 */
static void fill_block(uint8_t *p, uint32_t bs, uint64_t seed, uint64_t lba)
{
	uint64_t w[2] = { STAMP_MAGIC ^ seed, lba };
	uint64_t x = mix64(seed ^ (lba * 0x2545f4914f6cdd1dull));
	uint32_t i;

	memcpy(p, w, sizeof(w));
	for (i = sizeof(w); i + 8 <= bs; i += 8) {
		x = mix64(x);
		memcpy(p + i, &x, 8);
	}
}

struct vslot {
	bool busy, done;
	uint64_t lba;
	uint32_t blocks;
	uint32_t off;		/* where the data starts in the buffer */
	struct gbuf b;
	struct storvsc_result res;
};

struct verify {
	struct dsess *s;
	struct storvsc_lun l;
	uint32_t chunk;
	uint64_t nchunks;	/* chunks on the disk */
	uint64_t count;		/* chunks visited */
	uint64_t seed;
	uint64_t bad_blocks, checked_blocks;
	unsigned int reports;
	uint8_t *expect;
	struct vslot slot[VERIFY_WINDOW];
	bool tty;
};

/* The chunk visited i-th: all of them on a small disk, an even spread
 * (first and last included) on a large one. */
static uint64_t visit_chunk(const struct verify *v, uint64_t i)
{
	if (v->count == v->nchunks || v->count < 2)
		return i;
	return i * (v->nchunks - 1) / (v->count - 1);
}

static void vslot_done(void *arg, const struct storvsc_result *res)
{
	struct vslot *sl = arg;

	sl->res = *res;
	sl->done = true;
}

static void check_block(struct verify *v, const uint8_t *got, uint64_t lba)
{
	uint32_t bs = v->l.block_size, i;
	uint64_t w[2];

	fill_block(v->expect, bs, v->seed, lba);
	v->checked_blocks++;
	if (!memcmp(got, v->expect, bs))
		return;
	v->bad_blocks++;
	if (v->reports++ >= VERIFY_MAX_REPORTS)
		return;
	memcpy(w, got, sizeof(w));
	if (w[0] == (STAMP_MAGIC ^ v->seed) && w[1] != lba) {
		guest_err("lun %u: LBA %llu holds the data written to LBA %llu", v->l.lun,
		    (unsigned long long)lba, (unsigned long long)w[1]);
		return;
	}
	for (i = 0; i < bs && !got[i]; i++)
		;
	if (i == bs) {
		guest_err("lun %u: LBA %llu reads back as zeros", v->l.lun, (unsigned long long)lba);
		return;
	}
	for (i = 0; i < bs && got[i] == v->expect[i]; i++)
		;
	guest_err("lun %u: LBA %llu reads back different from byte %u on (0x%02x, expected 0x%02x)",
	    v->l.lun, (unsigned long long)lba, i, got[i], v->expect[i]);
}

static void progress(const struct verify *v, const char *phase, uint64_t done)
{
	if (v->tty)
		fprintf(stderr, "\rverify lun %u: %s %3u%%", v->l.lun, phase,
			(unsigned int)(done * 100 / v->count));
}

/* Write or read back every visited chunk with VERIFY_WINDOW in flight.
 * 0, or 1 after a message. */
static int verify_pass(struct verify *v, bool write)
{
	const char *phase = write ? "writing" : "reading";
	uint64_t next = 0, finished = 0, disk = v->l.blocks * v->l.block_size;
	uint32_t bs = v->l.block_size;
	unsigned int k;

	while (finished < v->count) {
		bool moved = false;

		for (k = 0; k < VERIFY_WINDOW; k++) {
			struct vslot *sl = &v->slot[k];
			uint64_t pfns[CHUNK_PFNS], start;
			struct storvsc_buf desc;
			uint32_t i, len;

			if (sl->busy && sl->done) {
				sl->busy = false;
				finished++;
				moved = true;
				if (sl->res.error != STORVSC_OK) {
					if (v->tty)
						fputc('\n', stderr);
					report_failure(v->l.lun, write ? "write" : "read", sl->lba,
						       &sl->res);
					return 1;
				}
				if (!write)
					for (i = 0; i < sl->blocks; i++)
						check_block(v, sl->b.va + sl->off + i * bs,
							    sl->lba + i);
				if (finished % 64 == 0)
					progress(v, phase, finished);
			}
			if (sl->busy || next == v->count)
				continue;
			start = visit_chunk(v, next++) * v->chunk;
			len = disk - start < v->chunk ? (uint32_t)(disk - start) : v->chunk;
			/* Buffers start at ever different places in their page,
			 * so the host sees GPA ranges with every kind of offset. */
			sl->off = (uint32_t)(next % 8) * 512;
			sl->lba = start / bs;
			sl->blocks = len / bs;
			if (write)
				for (i = 0; i < sl->blocks; i++)
					fill_block(sl->b.va + sl->off + i * bs, bs, v->seed,
						   sl->lba + i);
			else
				memset(sl->b.va + sl->off, 0xa5, len);
			desc = buf_desc(&sl->b, sl->off, len, pfns);
			sl->busy = true;
			sl->done = false;
			if (io_submit(v->s, write ? IO_WRITE : IO_READ, v->l.lun, sl->lba,
				      sl->blocks, &desc, vslot_done, sl)) {
				sl->busy = false;
				return 1;
			}
			moved = true;
		}
		if (moved)
			v->s->idle_since = now_ms();
		else if (sess_pump(v->s, "verify"))
			return 1;
	}
	progress(v, phase, finished);
	if (v->tty)
		fputc('\n', stderr);
	else
		fprintf(stderr, "verify lun %u: %s done\n", v->l.lun, phase);
	return 0;
}

static int cmd_verify(struct guest *gs, int argc, char **argv)
{
	struct verify v;
	struct dsess s;
	unsigned int lun, k;
	int64_t t0, t1, t2;
	char size[32];
	int status = 1;

	if (argc != 2) {
		guest_err("usage: verify LUN");
		return 2;
	}
	if (parse_lun("verify", argv[1], &lun))
		return 2;
	if (sess_open(gs, &s))
		return 1;
	memset(&v, 0, sizeof(v));
	v.s = &s;
	if (sess_lun(&s, lun, &v.l))
		goto out;
	if (v.l.read_only) {
		guest_err("lun %u: verify overwrites the disk, and the host serves this one read-only",
		    lun);
		goto out;
	}
	v.chunk = chunk_bytes(&s, &v.l);
	v.nchunks = (v.l.blocks * v.l.block_size + v.chunk - 1) / v.chunk;
	v.count = v.l.blocks * v.l.block_size <= VERIFY_FULL_MAX || v.nchunks < VERIFY_SAMPLES ?
		  v.nchunks : VERIFY_SAMPLES;
	v.seed = mix64((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
	v.tty = isatty(2);
	v.expect = malloc(v.l.block_size);
	if (!v.expect) {
		guest_err("out of memory");
		goto out;
	}
	for (k = 0; k < VERIFY_WINDOW; k++)
		if (buf_alloc(&s, v.chunk + HV_PAGE_SIZE, &v.slot[k].b))
			goto out;
	format_size(v.l.blocks * v.l.block_size, size, sizeof(size));
	fprintf(stderr, "verify lun %u: %s, %s in %llu chunks of %u KiB, %u in flight\n", lun,
		size, v.count == v.nchunks ? "all of it" : "a sample",
		(unsigned long long)v.count, v.chunk >> 10, VERIFY_WINDOW);
	t0 = now_ms();
	if (verify_pass(&v, true))
		goto out;
	if (io_sync(&s, IO_FLUSH, lun, 0, 0, NULL, 0, 0))
		goto out;
	t1 = now_ms();
	if (verify_pass(&v, false))
		goto out;
	t2 = now_ms();
	if (v.bad_blocks) {
		printf("verify lun %u: %llu of %llu blocks read back wrong\n", lun,
		       (unsigned long long)v.bad_blocks, (unsigned long long)v.checked_blocks);
		goto out;
	}
	printf("verify lun %u: %llu blocks of %u bytes written, flushed and read back intact"
	       " (write %lld ms, read %lld ms)\n", lun, (unsigned long long)v.checked_blocks,
	       v.l.block_size, (long long)(t1 - t0), (long long)(t2 - t1));
	status = 0;
out:
	for (k = 0; k < VERIFY_WINDOW; k++)
		if (!v.slot[k].busy)
			buf_free(&s, &v.slot[k].b);
	free(v.expect);
	sess_close(&s);
	return status;
}

/* ---- Command table entries ------------------------------------------------------------- */

const struct guest_command disks_command = {
	"disks", "", "list the SCSI controller's LUNs: size, block size, read-only,\n"
	"\t\t\tvendor and product", cmd_disks
};

const struct guest_command watch_command = {
	"watch", "SECONDS",
	"list the LUNs, then print each LUN the host adds or removes\n"
	"\t\t\t(vmbus-host --disk-control) for SECONDS", cmd_watch
};

const struct guest_command read_command = {
	"read", "LUN OFFSET LENGTH",
	"copy LENGTH bytes at byte OFFSET of a disk to standard output\n"
	"\t\t\t(any alignment; K, M, G suffixes accepted)", cmd_read
};

const struct guest_command write_command = {
	"write", "LUN OFFSET",
	"write standard input to a disk at byte OFFSET and flush; partial\n"
	"\t\t\tblocks are read, patched and written back", cmd_write
};

const struct guest_command verify_command = {
	"verify", "LUN",
	"OVERWRITE a scratch disk with stamped patterns, flush, read them\n"
	"\t\t\tback and check every block (disks above 1 GiB: 4096 chunks\n"
	"\t\t\tspread over the disk); nothing is restored", cmd_verify
};
