// SPDX-License-Identifier: MIT
/*
 * bench-storage: disk I/O through the whole synthetic SCSI path against
 * io_uring straight on the same file.
 *
 * The project's figure: the guest SCSI client (include/vmbus/storvsc.h) on
 * this thread sends READ(16)/WRITE(16) with GPA-direct buffers in guest
 * RAM over the shm link (include/vmbus/link.h); the host half, a second
 * thread, runs vmbus-host's own disk device (examples/host_disk.c: storvsp
 * and one io_uring queue per channel, iovecs into guest RAM) on a 1 GiB
 * file. The baseline: io_uring on the same file with O_DIRECT, the same
 * block size, pattern and queue depth. The host opens its image with an
 * O_DIRECT twin too, so both sides bypass the page cache.
 *
 * Cases, a fixed time each (BENCH_SECONDS, default 2.5): 4 KiB random
 * read at queue depth 1 and 32 (IOPS), 128 KiB sequential read and write
 * at depth 8 (MiB/s). One JSON object per line: case, value, unit,
 * baseline, ratio (value / baseline).
 *
 * The file lives in $BENCH_DIR (default /var/tmp), is created sparse and
 * written once in full, and is unlinked as soon as both sides opened it.
 * vstor and SCSI formats: include/vmbus/proto/vstor.h, scsi.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <vmbus/link.h>
#include <vmbus/proto/tlfs.h>
#include <vmbus/storvsc.h>

#include "host.h"

#define FILE_SIZE	(1ull << 30)
#define MAX_QD		32u
#define MAX_BS		(128u * 1024u)
#define SC_REQUESTS	64u
#define TMO_MS		5000
#define SLICES		5u

struct bench_case {
	const char *name;
	bool write;
	bool random;
	uint32_t bs;
	unsigned int qd;
};

static const struct bench_case cases[] = {
	{ "randread_4k_qd1", false, true, 4096, 1 },
	{ "randread_4k_qd32", false, true, 4096, 32 },
	{ "seqread_128k_qd8", false, false, 128 * 1024, 8 },
	{ "seqwrite_128k_qd8", true, false, 128 * 1024, 8 },
};

static double seconds = 2.5;
static char file_path[4096];
static char sock_dir[256];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void cleanup(void)
{
	char p[300];

	if (file_path[0])
		unlink(file_path);
	if (sock_dir[0]) {
		snprintf(p, sizeof(p), "%s/sock", sock_dir);
		unlink(p);
		rmdir(sock_dir);
	}
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench-storage: %s: %s\n", what, strerror(err < 0 ? -err : err));
	cleanup();
	exit(1);
}

void host_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench-storage host: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void log_line(void *opaque, int level, const char *fmt, va_list ap)
{
	(void)opaque;
	(void)level;
	fprintf(stderr, "bench-storage: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void emit(const struct bench_case *c, double value, double baseline)
{
	printf("{\"case\": \"%s\", \"value\": %.1f, \"unit\": \"%s\", "
	       "\"baseline\": %.1f, \"ratio\": %.3f}\n",
	       c->name, value, c->bs >= MAX_BS ? "MiB/s" : "IOPS", baseline,
	       baseline > 0 ? value / baseline : 0.0);
	fflush(stdout);
}

/* Operations per second into the case's unit. */
static double in_unit(const struct bench_case *c, double ops)
{
	return c->bs >= MAX_BS ? ops * c->bs / 1048576.0 : ops;
}

/* ---- Offsets --------------------------------------------------------------------- */

struct pattern {
	const struct bench_case *c;
	uint64_t rng;
	uint64_t next;
};

static uint64_t next_offset(struct pattern *p)
{
	uint64_t off;

	if (!p->c->random) {
		off = p->next;
		p->next = (p->next + p->c->bs) % FILE_SIZE;
		return off;
	}
	p->rng ^= p->rng << 13;
	p->rng ^= p->rng >> 7;
	p->rng ^= p->rng << 17;
	return (p->rng % (FILE_SIZE / p->c->bs)) * p->c->bs;
}

/* ---- The file ----------------------------------------------------------------------- */

static void make_file(void)
{
	const char *dir = getenv("BENCH_DIR");
	uint64_t off;
	void *buf;
	int fd, err;

	if (!dir || !dir[0])
		dir = "/var/tmp";
	snprintf(file_path, sizeof(file_path), "%s/bench-storage.XXXXXX", dir);
	fd = mkostemp(file_path, O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		file_path[0] = 0;
		die(dir, errno);
	}
	if (ftruncate(fd, (off_t)FILE_SIZE))
		die("ftruncate", errno);
	err = posix_memalign(&buf, 4096, 1 << 20);
	if (err)
		die("posix_memalign", err);
	memset(buf, 0x6b, 1 << 20);
	/* Every block allocated and written, so reads hit the device; with
	 * O_DIRECT, so the page cache is not filled with it. */
	for (off = 0; off < FILE_SIZE; off += 1 << 20)
		if (pwrite(fd, buf, 1 << 20, (off_t)off) != 1 << 20)
			die("writing the file", errno ? errno : EIO);
	if (fsync(fd))
		die("fsync", errno);
	close(fd);
	free(buf);
}

/* ---- Baseline: io_uring on the file ------------------------------------------------ */

/* One slice of the baseline: completions and seconds into *ops, *secs. */
static void run_baseline(int fd, const struct bench_case *c, struct pattern *p,
			 double secs, double *ops, double *took)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	uint8_t *bufs;
	uint64_t done = 0;
	unsigned int free_idx[MAX_QD], nfree = 0, inflight = 0;
	double t0, t1 = 0;
	bool stopping = false;
	int ret;

	ret = io_uring_queue_init(c->qd, &ring, 0);
	if (ret)
		die("io_uring_queue_init", ret);
	ret = posix_memalign((void **)&bufs, 4096, (size_t)c->qd * c->bs);
	if (ret)
		die("posix_memalign", ret);
	memset(bufs, 0x3c, (size_t)c->qd * c->bs);
	while (nfree < c->qd) {
		free_idx[nfree] = nfree;
		nfree++;
	}
	t0 = now_s();
	for (;;) {
		for (; !stopping && inflight < c->qd; inflight++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			unsigned int idx = free_idx[--nfree];
			uint8_t *b = bufs + (size_t)idx * c->bs;

			if (c->write)
				io_uring_prep_write(sqe, fd, b, c->bs, next_offset(p));
			else
				io_uring_prep_read(sqe, fd, b, c->bs, next_offset(p));
			io_uring_sqe_set_data64(sqe, idx);
		}
		if (!inflight)
			break;
		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR)
			die("io_uring_submit_and_wait", ret);
		while (io_uring_peek_cqe(&ring, &cqe) == 0) {
			if (cqe->res != (int)c->bs)
				die("baseline I/O", cqe->res < 0 ? cqe->res : -EIO);
			free_idx[nfree++] = (unsigned int)io_uring_cqe_get_data64(cqe);
			io_uring_cqe_seen(&ring, cqe);
			inflight--;
			if (!stopping)
				done++;
		}
		if (!stopping && now_s() - t0 >= secs) {
			stopping = true;
			t1 = now_s();
		}
	}
	io_uring_queue_exit(&ring);
	free(bufs);
	*ops += (double)done;
	*took += t1 - t0;
}

/* ---- Host half: vmbus-host's disk device on a thread ---------------------------------- */

struct host_thread {
	struct host h;
	void *dev;
	int stop_fd;
	pthread_t tid;
};

static void *host_main(void *arg)
{
	struct host_thread *ht = arg;
	struct pollfd fds[MAX_POLLFDS];
	int n, ret;

	for (;;) {
		fds[0] = (struct pollfd){ .fd = vmbus_link_host_fd(ht->h.link), .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = ht->stop_fd, .events = POLLIN };
		n = disk_kind.pollfds(ht->dev, fds + 2, MAX_POLLFDS - 2);
		if (poll(fds, (nfds_t)(n + 2), -1) < 0 && errno != EINTR)
			die("poll", errno);
		if (fds[1].revents & POLLIN)
			return NULL;
		/* Only when the link has something: a wake-up for disk
		 * completions alone saves the link's epoll_wait, and a
		 * system call is worth saving (1.4 µs each where this was
		 * written). vmbus-host always calls it. */
		if (fds[0].revents) {
			ret = vmbus_link_host_process(ht->h.link);
			if (ret < 0)
				die("host link", ret);
		}
		disk_kind.poll(ht->dev, fds + 2, n);
	}
}

static void host_start(struct host_thread *ht)
{
	struct vmbus_link_host_config cfg = { 0 };
	char sock[300];
	int ret;

	snprintf(sock_dir, sizeof(sock_dir), "%s/bench-storage.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(sock_dir)) {
		sock_dir[0] = 0;
		die("mkdtemp", errno);
	}
	snprintf(sock, sizeof(sock), "%s/sock", sock_dir);
	ht->h.socket_path = strdup(sock);
	ht->h.log.fn = log_line;
	ht->h.log.max_level = VMBUS_LOG_WARN;
	cfg.socket_path = ht->h.socket_path;
	cfg.log = ht->h.log;
	ret = vmbus_link_shm_host_new(&cfg, &ht->h.link);
	if (ret)
		die("vmbus_link_shm_host_new", ret);
	if (disk_kind.add(&ht->h, file_path, &ht->dev))
		die("adding the disk", EINVAL);
	ht->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (ht->stop_fd < 0)
		die("eventfd", errno);
	ret = pthread_create(&ht->tid, NULL, host_main, ht);
	if (ret)
		die("pthread_create", ret);
}

static void host_stop(struct host_thread *ht)
{
	uint64_t one = 1;

	if (write(ht->stop_fd, &one, sizeof(one)) != sizeof(one))
		die("stopping the host", errno);
	pthread_join(ht->tid, NULL);
	disk_kind.free(ht->dev);
	vmbus_link_host_free(ht->h.link);
	close(ht->stop_fd);
	free((char *)ht->h.socket_path);
}

/* ---- Guest half: storvsc over the link --------------------------------------------------- */

struct guest_side {
	struct vmbus_link_guest *g;
	struct vmbus_link_guest_channel *gc;
	struct storvsc *sc;
	uintptr_t ram;
	struct vmbus_msg_offer scsi;
	bool have_scsi;
	bool started;
	int start_err;
};

struct gslot {
	struct run *r;
	uint8_t *va;
	uint64_t pfn;
	uint64_t pfns[MAX_BS / HV_PAGE_SIZE];
};

struct run {
	struct guest_side *gs;
	const struct bench_case *c;
	struct pattern p;
	struct gslot slot[MAX_QD];
	uint64_t done;
	unsigned int inflight;
	bool stopping;
	int err;
};

static void on_offer(void *ctx, const struct vmbus_msg_offer *o)
{
	struct guest_side *gs = ctx;
	const struct vmbus_guid scsi = VMBUS_GUID_SCSI;

	if (!memcmp(&o->if_type, &scsi, sizeof(scsi)) && o->sub_channel_index == 0) {
		gs->scsi = *o;
		gs->have_scsi = true;
	}
}

static const struct vmbus_client_events guest_events = { .offer = on_offer };

static uint64_t virt_to_pfn(void *ctx, const void *va)
{
	return ((uintptr_t)va - ((struct guest_side *)ctx)->ram) >> 12;
}

static void on_started(void *arg, int err)
{
	struct guest_side *gs = arg;

	gs->start_err = err;
	gs->started = true;
}

static void guest_pump(struct guest_side *gs)
{
	int n = storvsc_process(gs->sc);

	if (n < 0)
		die("storvsc_process", n);
	if (n == 0) {
		n = vmbus_link_guest_wait(gs->g, TMO_MS);
		if (n < 0)
			die("guest wait", n);
	}
}

static void guest_start(struct guest_side *gs, const char *sock)
{
	struct vmbus_link_guest_config cfg = { .events = &guest_events, .events_ctx = gs };
	struct vmbus_link_guest_open op = { .ring_pages = 32, .max_requests = SC_REQUESTS };
	struct storvsc_config sc = { 0 };
	uint64_t gpa;
	uint32_t pages;
	double t0;
	void *mem;
	int ret;

	cfg.log.fn = log_line;
	cfg.log.max_level = VMBUS_LOG_WARN;
	ret = vmbus_link_shm_guest_new(sock, &cfg, &gs->g);
	if (ret)
		die("vmbus_link_shm_guest_new", ret);
	ret = vmbus_link_guest_connect(gs->g, TMO_MS);
	if (ret)
		die("connecting the bus", ret);
	if (!gs->have_scsi)
		die("no SCSI offer", ENODEV);
	gs->ram = (uintptr_t)vmbus_link_guest_ptr(gs->g, 0, HV_PAGE_SIZE);
	ret = vmbus_link_guest_channel_open(gs->g, gs->scsi.child_relid, &op, TMO_MS, &gs->gc);
	if (ret)
		die("opening the SCSI channel", ret);
	sc.primary = vmbus_link_guest_channel_end(gs->gc);
	sc.log = &cfg.log;
	sc.max_requests = SC_REQUESTS;
	sc.max_luns = 8;
	sc.virt_to_pfn = virt_to_pfn;
	sc.virt_ctx = gs;
	pages = (uint32_t)((storvsc_mem_size(&sc) + HV_PAGE_SIZE - 1) / HV_PAGE_SIZE);
	mem = vmbus_link_guest_alloc_pages(gs->g, pages, &gpa);
	if (!mem)
		die("guest RAM for storvsc", ENOMEM);
	ret = storvsc_init(mem, (size_t)pages * HV_PAGE_SIZE, &sc, &gs->sc);
	if (!ret)
		ret = storvsc_start(gs->sc, on_started, gs);
	if (ret)
		die("storvsc_start", ret);
	t0 = now_s();
	while (!gs->started) {
		if (now_s() - t0 > TMO_MS / 1000.0)
			die("storvsc start", ETIMEDOUT);
		guest_pump(gs);
	}
	if (gs->start_err)
		die("storvsc start", gs->start_err);
	if (storvsc_lun_count(gs->sc) != 1)
		die("LUN scan", ENODEV);
}

static void guest_stop(struct guest_side *gs)
{
	int ret = vmbus_link_guest_channel_close(gs->gc, TMO_MS);

	if (ret)
		die("closing the SCSI channel", ret);
	ret = vmbus_link_guest_unload(gs->g, TMO_MS);
	if (ret)
		die("unloading", ret);
	vmbus_link_guest_free(gs->g);
}

static void slot_submit(struct gslot *s);

static void slot_done(void *arg, const struct storvsc_result *res)
{
	struct gslot *s = arg;
	struct run *r = s->r;

	r->inflight--;
	if (res->error != STORVSC_OK || res->transferred != r->c->bs) {
		if (!r->err)
			r->err = -EIO;
		r->stopping = true;
		return;
	}
	if (r->stopping)
		return;
	r->done++;
	/* Straight back out from the completion, as a queue-depth-bound
	 * workload does. */
	slot_submit(s);
}

static void slot_submit(struct gslot *s)
{
	struct run *r = s->r;
	uint64_t off = next_offset(&r->p);
	struct storvsc_buf b = { .pfns = s->pfns, .offset = 0, .len = r->c->bs };
	int ret;

	if (r->c->write)
		ret = storvsc_write(r->gs->sc, 0, off / 512, r->c->bs / 512, &b, false,
				    slot_done, s);
	else
		ret = storvsc_read(r->gs->sc, 0, off / 512, r->c->bs / 512, &b, slot_done, s);
	if (ret) {
		if (!r->err)
			r->err = ret;
		r->stopping = true;
		return;
	}
	r->inflight++;
}

/* One slice through the guest: completions and seconds into *ops, *secs. */
static void run_vmbus(struct guest_side *gs, const struct bench_case *c, struct pattern *p,
		      double secs, double *ops, double *took)
{
	static struct run r;
	unsigned int i, k;
	uint64_t gpa;
	double t0, t1 = 0;

	memset(&r, 0, sizeof(r));
	r.gs = gs;
	r.c = c;
	r.p = *p;
	for (i = 0; i < c->qd; i++) {
		struct gslot *s = &r.slot[i];

		s->r = &r;
		s->va = vmbus_link_guest_alloc_pages(gs->g, c->bs / HV_PAGE_SIZE, &gpa);
		if (!s->va)
			die("guest RAM for buffers", ENOMEM);
		memset(s->va, 0x3c, c->bs);
		s->pfn = gpa >> 12;
		for (k = 0; k < c->bs / HV_PAGE_SIZE; k++)
			s->pfns[k] = s->pfn + k;
	}
	t0 = now_s();
	for (i = 0; i < c->qd; i++)
		slot_submit(&r.slot[i]);
	while (r.inflight) {
		if (!r.stopping && now_s() - t0 >= secs) {
			r.stopping = true;
			t1 = now_s();
		}
		guest_pump(gs);
	}
	if (r.err)
		die(c->name, r.err);
	for (i = 0; i < c->qd; i++)
		vmbus_link_guest_free_pages(gs->g, r.slot[i].pfn << 12, c->bs / HV_PAGE_SIZE);
	*p = r.p;
	*ops += (double)r.done;
	*took += t1 - t0;
}

/*
 * A case: both sides in SLICES alternating turns of equal length, so a
 * burst of load from elsewhere on the machine (or the disk's own moods)
 * falls on both alike. Each side continues its own offset sequence.
 */
static void run_case(int fd, struct guest_side *gs, const struct bench_case *c)
{
	struct pattern pb = { .c = c, .rng = 0x9e3779b97f4a7c15ull };
	struct pattern pv = pb;
	double bops = 0, bsecs = 0, vops = 0, vsecs = 0;
	unsigned int i;

	for (i = 0; i < SLICES; i++) {
		run_baseline(fd, c, &pb, seconds / SLICES, &bops, &bsecs);
		run_vmbus(gs, c, &pv, seconds / SLICES, &vops, &vsecs);
	}
	emit(c, in_unit(c, vops / vsecs), in_unit(c, bops / bsecs));
}

int main(void)
{
	struct host_thread ht;
	struct guest_side gs;
	const char *s = getenv("BENCH_SECONDS");
	const char *only = getenv("BENCH_CASE");
	unsigned int i;
	int fd;

	if (s && atof(s) > 0)
		seconds = atof(s);
	memset(&ht, 0, sizeof(ht));
	memset(&gs, 0, sizeof(gs));
	make_file();
	fd = open(file_path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		die("O_DIRECT open (the file system must support it)", errno);
	host_start(&ht);
	/* Both sides hold it open: nothing is left behind if we die. */
	unlink(file_path);
	file_path[0] = 0;
	guest_start(&gs, ht.h.socket_path);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!only || strstr(cases[i].name, only))
			run_case(fd, &gs, &cases[i]);
	guest_stop(&gs);
	host_stop(&ht);
	close(fd);
	cleanup();
	return 0;
}
