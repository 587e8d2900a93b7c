/* SPDX-License-Identifier: MIT */
/*
 * Tests for storvsp's per-channel I/O engine (vsp/storvsp/ioq.c) over raw
 * files and libvhdi images: many concurrent reads and writes whose iovecs
 * point into a "guest memory" map (libvmbus/gpa.c), the O_DIRECT and the
 * buffered path, FUA, flush, discard, the doorbell eventfd, libvhdi reads
 * through the worker, the pending list beyond the ring depth, error
 * delivery, and SCSI plans end to end with scsi_target_complete_io().
 *
 * Opcodes and flags: liburing 2.3. Skips (exit 77) where io_uring cannot be
 * set up; the libvhdi case also needs qemu-img.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <vmbus/gpa.h>
#include <vmbus/proto/tlfs.h>
#include <vmbus/scsi_target.h>
#include <vmbus/storvsp_disk.h>

#include "ioq.h"

#define DISK_SIZE	(16u << 20)
#define NREQ		256u
#define GUEST_PAGES	(2 * NREQ)
#define GUEST_GPA	0x100000000ull

static char tmpdir[64];

/* ---- Helpers ---------------------------------------------------------------- */

static char *tpath(const char *name)
{
	static char buf[4][256];
	static unsigned int i;
	char *p = buf[i++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
	return p;
}

__attribute__((format(printf, 1, 2)))
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return st == -1 ? -1 : WEXITSTATUS(st);
}

/* The byte the seed file holds at offset off. */
static uint8_t seed_byte(uint64_t off)
{
	uint64_t x = (off >> 3) * 0x9e3779b97f4a7c15ull;

	return (uint8_t)((x >> 56) ^ (off & 7));
}

/* A raw image whose content seed_byte() predicts. */
static const char *make_raw(const char *name, uint64_t size)
{
	const char *p = tpath(name);
	int fd = open(p, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	uint8_t *buf = malloc(1 << 20);
	uint64_t off, i;

	ck_assert_int_ge(fd, 0);
	ck_assert_ptr_nonnull(buf);
	for (off = 0; off < size; off += 1 << 20) {
		for (i = 0; i < (1 << 20); i++)
			buf[i] = seed_byte(off + i);
		ck_assert_int_eq(pwrite(fd, buf, 1 << 20, (off_t)off), 1 << 20);
	}
	close(fd);
	free(buf);
	return p;
}

static struct storvsp_disk *open_disk(const char *spec)
{
	struct storvsp_disk *d = NULL;

	ck_assert_int_eq(storvsp_disk_open(spec, NULL, &d), 0);
	return d;
}

struct comp {
	int res;
	unsigned int calls;
	unsigned int order;
};

static unsigned int order_counter;

static void on_done(void *cookie, int res)
{
	struct comp *c = cookie;

	c->res = res;
	c->calls++;
	c->order = ++order_counter;
}

/* Run the loop until every completion in c[0..n) arrived (bounded). */
static void run_until(struct storvsp_ioq *q, struct comp *c, unsigned int n)
{
	unsigned int i, spins;

	for (spins = 0; spins < 100000; spins++) {
		for (i = 0; i < n && c[i].calls; i++)
			;
		if (i == n)
			return;
		ck_assert_int_ge(storvsp_ioq_run(q, true), 0);
	}
	ck_abort_msg("completions did not arrive");
}

static struct storvsp_ioq *new_queue(unsigned int depth, int doorbell,
				     storvsp_ioq_doorbell_fn *fn, void *opaque)
{
	struct storvsp_ioq *q = NULL;

	ck_assert_int_eq(storvsp_ioq_new(depth, doorbell, fn, opaque, NULL, &q), 0);
	return q;
}

/* Guest memory: pages mapped at GUEST_GPA, handed out in a shuffled
 * order so a two-page buffer is usually not contiguous on the host. */
struct guest {
	uint8_t *mem;
	struct vmbus_gpa_map *map;
	uint64_t pfn[GUEST_PAGES];
};

static void guest_init(struct guest *g)
{
	unsigned int i;

	g->mem = aligned_alloc(HV_PAGE_SIZE, GUEST_PAGES * HV_PAGE_SIZE);
	ck_assert_ptr_nonnull(g->mem);
	memset(g->mem, 0x5c, GUEST_PAGES * HV_PAGE_SIZE);
	g->map = vmbus_gpa_map_new();
	ck_assert_ptr_nonnull(g->map);
	ck_assert_int_eq(vmbus_gpa_map_add(g->map, GUEST_GPA, GUEST_PAGES * HV_PAGE_SIZE,
					   g->mem), 0);
	for (i = 0; i < GUEST_PAGES; i++)
		g->pfn[i] = GUEST_GPA / HV_PAGE_SIZE + i;
	for (i = GUEST_PAGES - 1; i > 0; i--) {
		unsigned int j = (unsigned int)rand() % (i + 1);
		uint64_t t = g->pfn[i];

		g->pfn[i] = g->pfn[j];
		g->pfn[j] = t;
	}
}

static void guest_fini(struct guest *g)
{
	vmbus_gpa_map_free(g->map);
	free(g->mem);
}

static uint8_t *guest_page(struct guest *g, uint64_t pfn)
{
	return vmbus_gpa_page(g->map, pfn);
}

/* ---- Concurrency, paths, data ----------------------------------------------- */

START_TEST(concurrent_rw)
{
	const char *p = make_raw("c.img", DISK_SIZE);
	struct storvsp_disk *d = open_disk(p);
	struct storvsp_ioq *q = new_queue(NREQ, -1, NULL, NULL);
	static struct comp c[NREQ];
	struct storvsp_ioq_stats st;
	unsigned int blocks = DISK_SIZE / 4096, i, k;
	unsigned int *perm = malloc(blocks * sizeof(*perm));
	struct guest g;
	int fd;

	guest_init(&g);
	memset(c, 0, sizeof(c));
	ck_assert_ptr_nonnull(perm);
	for (i = 0; i < blocks; i++)
		perm[i] = i;
	for (i = blocks - 1; i > 0; i--) {
		unsigned int j = (unsigned int)rand() % (i + 1), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	/* Even requests read a random block into one guest page; odd ones
	 * write a page of their own byte. Distinct blocks, so no overlap. */
	for (i = 0; i < NREQ; i++) {
		struct vmbus_gpa_pagelist pl = { &g.pfn[i], 1, 0, HV_PAGE_SIZE };
		struct iovec iov[2];
		int n = vmbus_gpa_pagelist_iov(g.map, &pl, 0, HV_PAGE_SIZE, iov, 2);
		uint64_t off = (uint64_t)perm[i] * 4096;

		ck_assert_int_eq(n, 1);
		if (i & 1)
			memset(guest_page(&g, g.pfn[i]), (int)i, HV_PAGE_SIZE);
		ck_assert_int_eq(storvsp_ioq_submit(q, d, (i & 1) ? STORVSP_IO_WRITE : STORVSP_IO_READ,
						    off, 4096, iov, (unsigned int)n, false,
						    on_done, &c[i]), 0);
	}
	storvsp_ioq_stats(q, &st);
	ck_assert_uint_eq(st.inflight, NREQ);
	run_until(q, c, NREQ);
	for (i = 0; i < NREQ; i++) {
		uint8_t *pg = guest_page(&g, g.pfn[i]);
		uint64_t off = (uint64_t)perm[i] * 4096;

		ck_assert_uint_eq(c[i].calls, 1);
		ck_assert_int_eq(c[i].res, 0);
		if (i & 1)
			continue;
		for (k = 0; k < 4096; k++)
			ck_assert_uint_eq(pg[k], seed_byte(off + k));
	}
	/* What the writes left in the file. */
	fd = open(p, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	for (i = 1; i < NREQ; i += 2) {
		uint8_t buf[4096];

		ck_assert_int_eq(pread(fd, buf, sizeof(buf), (off_t)perm[i] * 4096), 4096);
		for (k = 0; k < 4096; k++)
			ck_assert_uint_eq(buf[k], (uint8_t)i);
	}
	close(fd);
	storvsp_ioq_stats(q, &st);
	ck_assert_uint_eq(st.submitted, NREQ);
	ck_assert_uint_eq(st.completed, NREQ);
	ck_assert_uint_eq(st.errors, 0);
	ck_assert_uint_eq(st.inflight, 0);
	if (storvsp_disk_direct(d))
		ck_assert_uint_eq(st.direct, NREQ);	/* every iovec page aligned */
	else
		printf("note: no O_DIRECT on %s, direct path not exercised\n", tmpdir);
	storvsp_ioq_free(q);
	storvsp_disk_close(d);
	guest_fini(&g);
	free(perm);
}
END_TEST

START_TEST(direct_and_buffered_paths)
{
	const char *p = make_raw("b.img", 1 << 20);
	struct storvsp_disk *d = open_disk(p);
	struct storvsp_ioq *q = new_queue(16, -1, NULL, NULL);
	struct storvsp_ioq_stats st;
	struct comp c[3] = { { 0 } };
	uint8_t *mem = aligned_alloc(4096, 4 * 4096);
	struct iovec al[2], un[2], two[2];
	unsigned int k;

	ck_assert_ptr_nonnull(mem);
	memset(mem, 0, 4 * 4096);
	/* Two 2 KiB pieces at aligned addresses: O_DIRECT can take them. */
	al[0] = (struct iovec){ mem, 2048 };
	al[1] = (struct iovec){ mem + 4096 + 2048, 2048 };
	/* 1000 + 3096 bytes: lengths not block multiples, page cache only. */
	un[0] = (struct iovec){ mem + 2 * 4096, 1000 };
	un[1] = (struct iovec){ mem + 2 * 4096 + 1000, 3096 };
	ck_assert_int_eq(storvsp_ioq_submit(q, d, STORVSP_IO_READ, 8192, 4096, al, 2, false,
					    on_done, &c[0]), 0);
	ck_assert_int_eq(storvsp_ioq_submit(q, d, STORVSP_IO_READ, 65536, 4096, un, 2, false,
					    on_done, &c[1]), 0);
	run_until(q, c, 2);
	ck_assert_int_eq(c[0].res, 0);
	ck_assert_int_eq(c[1].res, 0);
	for (k = 0; k < 2048; k++) {
		ck_assert_uint_eq(mem[k], seed_byte(8192 + k));
		ck_assert_uint_eq(mem[4096 + 2048 + k], seed_byte(8192 + 2048 + k));
	}
	for (k = 0; k < 4096; k++)
		ck_assert_uint_eq(mem[2 * 4096 + k], seed_byte(65536 + k));
	storvsp_ioq_stats(q, &st);
	ck_assert_uint_eq(st.buffered, 1);
	if (storvsp_disk_direct(d))
		ck_assert_uint_eq(st.direct, 1);

	/* An unaligned write with FUA lands where it should. */
	memset(mem + 3 * 4096, 0xf1, 4096);
	two[0] = (struct iovec){ mem + 3 * 4096 + 1, 511 };
	two[1] = (struct iovec){ mem + 3 * 4096 + 512, 1 };
	ck_assert_int_eq(storvsp_ioq_submit(q, d, STORVSP_IO_WRITE, 512, 512, two, 2, true,
					    on_done, &c[2]), 0);
	run_until(q, &c[2], 1);
	ck_assert_int_eq(c[2].res, 0);
	{
		uint8_t buf[1024];
		int fd = open(p, O_RDONLY);

		ck_assert_int_eq(pread(fd, buf, sizeof(buf), 0), 1024);
		close(fd);
		for (k = 0; k < 512; k++)
			ck_assert_uint_eq(buf[k], seed_byte(k));
		for (k = 512; k < 1024; k++)
			ck_assert_uint_eq(buf[k], 0xf1);
	}
	storvsp_ioq_stats(q, &st);
	ck_assert_uint_eq(st.buffered, 2);
	storvsp_ioq_free(q);
	storvsp_disk_close(d);
	free(mem);
}
END_TEST

START_TEST(fua_flush_discard)
{
	const char *p = make_raw("f.img", 1 << 20);
	struct storvsp_disk *d = open_disk(p);
	struct storvsp_ioq *q = new_queue(8, -1, NULL, NULL);
	struct comp c[4] = { { 0 } };
	uint8_t *mem = aligned_alloc(4096, 65536);
	struct iovec v = { mem, 65536 };
	struct stat before, after;
	unsigned int k;

	ck_assert_ptr_nonnull(mem);
	memset(mem, 0x6b, 65536);
	ck_assert_int_eq(storvsp_ioq_submit(q, d, STORVSP_IO_WRITE, 131072, 65536, &v, 1, true,
					    on_done, &c[0]), 0);
	run_until(q, c, 1);
	ck_assert_int_eq(c[0].res, 0);
	ck_assert_int_eq(storvsp_ioq_submit(q, d, STORVSP_IO_FLUSH, 0, 0, NULL, 0, false,
					    on_done, &c[1]), 0);
	run_until(q, &c[1], 1);
	ck_assert_int_eq(c[1].res, 0);

	ck_assert_int_eq(stat(p, &before), 0);
	ck_assert_int_eq(storvsp_ioq_submit(q, d, STORVSP_IO_DISCARD, 131072, 65536, NULL, 0,
					    false, on_done, &c[2]), 0);
	run_until(q, &c[2], 1);
	ck_assert_int_eq(c[2].res, 0);
	ck_assert_int_eq(stat(p, &after), 0);
	ck_assert_int_eq(after.st_size, before.st_size);	/* KEEP_SIZE */
	ck_assert_int_lt(after.st_blocks, before.st_blocks);	/* a hole */

	memset(mem, 0xff, 65536);
	ck_assert_int_eq(storvsp_ioq_submit(q, d, STORVSP_IO_READ, 131072, 65536, &v, 1, false,
					    on_done, &c[3]), 0);
	run_until(q, &c[3], 1);
	ck_assert_int_eq(c[3].res, 0);
	for (k = 0; k < 65536; k++)
		ck_assert_uint_eq(mem[k], 0);
	storvsp_ioq_free(q);
	storvsp_disk_close(d);
	free(mem);
}
END_TEST

START_TEST(deeper_than_ring)
{
	const char *p = make_raw("deep.img", 1 << 20);
	struct storvsp_disk *d = open_disk(p);
	struct storvsp_ioq *q = new_queue(4, -1, NULL, NULL);
	static struct comp c[100];
	static uint8_t mem[100][512];
	struct storvsp_ioq_stats st;
	unsigned int i, k;

	memset(c, 0, sizeof(c));
	for (i = 0; i < 100; i++) {
		struct iovec v = { mem[i], 512 };

		ck_assert_int_eq(storvsp_ioq_submit(q, d, STORVSP_IO_READ, (uint64_t)i * 512, 512,
						    &v, 1, false, on_done, &c[i]), 0);
	}
	storvsp_ioq_stats(q, &st);
	ck_assert_uint_eq(st.pending, 96);
	ck_assert_uint_eq(st.deferred, 96);
	run_until(q, c, 100);
	for (i = 0; i < 100; i++) {
		ck_assert_int_eq(c[i].res, 0);
		for (k = 0; k < 512; k++)
			ck_assert_uint_eq(mem[i][k], seed_byte(i * 512 + k));
	}
	storvsp_ioq_stats(q, &st);
	ck_assert_uint_eq(st.pending, 0);
	ck_assert_uint_eq(st.completed, 100);
	storvsp_ioq_free(q);
	storvsp_disk_close(d);
}
END_TEST

/* The ring's fd turns readable within ms milliseconds: completions wait. */
static bool ring_readable(struct storvsp_ioq *q, int ms)
{
	struct pollfd p = { .fd = storvsp_ioq_fd(q), .events = POLLIN };
	int n;

	do
		n = poll(&p, 1, ms);
	while (n < 0 && errno == EINTR);
	ck_assert_int_ge(n, 0);
	return n == 1;
}

/* Queued requests go to the kernel in groups of eight without waiting for
 * a run; fewer wait for it. */
START_TEST(submits_in_groups)
{
	const char *p = make_raw("group.img", 1 << 20);
	struct storvsp_disk *d = open_disk(p);
	struct storvsp_ioq *q = new_queue(32, -1, NULL, NULL);
	static struct comp c[11];
	static uint8_t mem[11][512];
	unsigned int i, k;

	memset(c, 0, sizeof(c));
	for (i = 0; i < 11; i++) {
		struct iovec v = { mem[i], 512 };

		if (i == 7)
			ck_assert(!ring_readable(q, 100));
		ck_assert_int_eq(storvsp_ioq_submit(q, d, STORVSP_IO_READ, (uint64_t)i * 4096,
						    512, &v, 1, false, on_done, &c[i]), 0);
	}
	/* The first eight are in the kernel and complete with no run... */
	ck_assert(ring_readable(q, 5000));
	for (i = 0; i < 11; i++)
		ck_assert_uint_eq(c[i].calls, 0);
	/* ...and the run delivers them and sends the other three. */
	run_until(q, c, 11);
	for (i = 0; i < 11; i++) {
		ck_assert_int_eq(c[i].res, 0);
		ck_assert_uint_eq(c[i].calls, 1);
		for (k = 0; k < 512; k++)
			ck_assert_uint_eq(mem[i][k], seed_byte(i * 4096 + k));
	}
	storvsp_ioq_free(q);
	storvsp_disk_close(d);
}
END_TEST

/* ---- Doorbell --------------------------------------------------------------- */

struct bell {
	struct storvsp_ioq *q;
	struct storvsp_disk *d;
	unsigned int rang;
	struct comp c;
	uint8_t buf[512];
};

/* What a protocol layer does: the guest signalled, so drain the ring and
 * submit what it found. */
static void on_bell(void *opaque)
{
	struct bell *b = opaque;
	struct iovec v = { b->buf, sizeof(b->buf) };

	b->rang++;
	ck_assert_int_eq(storvsp_ioq_submit(b->q, b->d, STORVSP_IO_READ, 4096, 512, &v, 1,
					    false, on_done, &b->c), 0);
}

static void *ring_later(void *arg)
{
	int fd = *(int *)arg;
	uint64_t one = 1;
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	ck_assert_int_eq(write(fd, &one, sizeof(one)), 8);
	return NULL;
}

START_TEST(doorbell_wakes_loop)
{
	const char *p = make_raw("bell.img", 1 << 20);
	struct bell b;
	struct storvsp_ioq_stats st;
	pthread_t th;
	uint64_t v;
	int efd = eventfd(0, EFD_NONBLOCK), n, total = 0;
	unsigned int k;

	ck_assert_int_ge(efd, 0);
	memset(&b, 0, sizeof(b));
	b.d = open_disk(p);
	b.q = new_queue(8, efd, on_bell, &b);
	ck_assert_int_ge(storvsp_ioq_fd(b.q), 0);
	/* Nothing rang yet: a non-waiting run delivers nothing. */
	ck_assert_int_eq(storvsp_ioq_run(b.q, false), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, ring_later, &efd), 0);
	/* The waiting run sleeps until the other thread writes the fd. */
	while (!b.rang) {
		n = storvsp_ioq_run(b.q, true);
		ck_assert_int_ge(n, 0);
		total += n;
	}
	pthread_join(th, NULL);
	ck_assert_int_ge(total, 1);
	ck_assert_uint_eq(b.rang, 1);
	/* The queue read the counter back to zero. */
	ck_assert_int_eq(read(efd, &v, sizeof(v)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	/* The read submitted from the callback completes. */
	run_until(b.q, &b.c, 1);
	ck_assert_int_eq(b.c.res, 0);
	for (k = 0; k < 512; k++)
		ck_assert_uint_eq(b.buf[k], seed_byte(4096 + k));
	/* A second ring is seen too: the poll was re-armed. */
	v = 1;
	ck_assert_int_eq(write(efd, &v, sizeof(v)), 8);
	while (b.rang < 2)
		ck_assert_int_ge(storvsp_ioq_run(b.q, true), 0);
	run_until(b.q, &b.c, 1);
	storvsp_ioq_stats(b.q, &st);
	ck_assert_uint_eq(st.doorbells, 2);
	storvsp_ioq_free(b.q);
	storvsp_disk_close(b.d);
	close(efd);
}
END_TEST

/* ---- libvhdi through the worker --------------------------------------------- */

START_TEST(vhdi_worker)
{
	const char *x = tpath("w.vhdx");
	const char *r = make_raw("side.img", 1 << 20);
	struct storvsp_disk *dx, *dr;
	struct storvsp_ioq *q;
	struct storvsp_ioq_stats st;
	static struct comp c[33];
	uint8_t *big = malloc(32u << 20), small[4096];
	struct iovec v;
	unsigned int i, last_vhdi = 0, k;
	int efd = eventfd(0, EFD_NONBLOCK);
	uint64_t one = 1;

	if (sh("qemu-img --version >/dev/null 2>&1")) {
		printf("note: qemu-img missing, libvhdi worker not tested\n");
		return;
	}
	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(sh("qemu-img create -q -f vhdx %s 32M && qemu-io -f vhdx -c 'write -P 0x2e 0 32M' %s >/dev/null",
			    x, x), 0);
	dx = open_disk(x);
	dr = open_disk(r);
	q = new_queue(16, efd, NULL, NULL);
	memset(c, 0, sizeof(c));
	memset(big, 0, 32u << 20);
	/* 32 MiB of libvhdi reads queue up on the worker... */
	for (i = 0; i < 32; i++) {
		v = (struct iovec){ big + ((size_t)i << 20), 1u << 20 };
		ck_assert_int_eq(storvsp_ioq_submit(q, dx, STORVSP_IO_READ, (uint64_t)i << 20,
						    1u << 20, &v, 1, false, on_done, &c[i]), 0);
	}
	/* ...while a raw read and the doorbell are served at once. */
	v = (struct iovec){ small, sizeof(small) };
	ck_assert_int_eq(storvsp_ioq_submit(q, dr, STORVSP_IO_READ, 0, 4096, &v, 1, false,
					    on_done, &c[32]), 0);
	ck_assert_int_eq(write(efd, &one, sizeof(one)), 8);
	run_until(q, c, 33);
	for (i = 0; i < 32; i++) {
		ck_assert_int_eq(c[i].res, 0);
		if (c[i].order > last_vhdi)
			last_vhdi = c[i].order;
	}
	ck_assert_int_eq(c[32].res, 0);
	ck_assert_uint_lt(c[32].order, last_vhdi);
	for (k = 0; k < 4096; k++)
		ck_assert_uint_eq(small[k], seed_byte(k));
	for (k = 0; k < (32u << 20); k += 4093)
		ck_assert_uint_eq(big[k], 0x2e);
	storvsp_ioq_stats(q, &st);
	ck_assert_uint_eq(st.worker, 32);
	ck_assert_uint_eq(st.doorbells, 1);

	/* Writes and discards never reach a read-only image; a flush is
	 * a no-op that still completes. */
	ck_assert_int_eq(storvsp_ioq_submit(q, dx, STORVSP_IO_WRITE, 0, 4096, &v, 1, false,
					    on_done, &c[0]), -EROFS);
	ck_assert_int_eq(storvsp_ioq_submit(q, dx, STORVSP_IO_DISCARD, 0, 4096, NULL, 0, false,
					    on_done, &c[0]), -EROFS);
	c[0].calls = 0;
	ck_assert_int_eq(storvsp_ioq_submit(q, dx, STORVSP_IO_FLUSH, 0, 0, NULL, 0, false,
					    on_done, &c[0]), 0);
	run_until(q, c, 1);
	ck_assert_int_eq(c[0].res, 0);
	/* Past the end of the image: refused before the worker. */
	ck_assert_int_eq(storvsp_ioq_submit(q, dx, STORVSP_IO_READ, 32u << 20, 4096, &v, 1,
					    false, on_done, &c[0]), -EIO);
	storvsp_ioq_free(q);
	storvsp_disk_close(dx);
	storvsp_disk_close(dr);
	close(efd);
	free(big);
}
END_TEST

/* ---- Errors ----------------------------------------------------------------- */

START_TEST(errors_reach_callback)
{
	const char *p = make_raw("shrink.img", 1 << 20);
	struct storvsp_disk *d = open_disk(p);
	struct storvsp_ioq *q = new_queue(8, -1, NULL, NULL);
	struct comp c[2] = { { 0 } };
	uint8_t *mem = aligned_alloc(4096, 8192);
	struct iovec v = { mem, 4096 }, shortv = { mem, 1024 };

	ck_assert_ptr_nonnull(mem);
	/* Refused at submission, no callback. */
	ck_assert_int_eq(storvsp_ioq_submit(q, d, STORVSP_IO_READ, 1 << 20, 4096, &v, 1, false,
					    on_done, &c[0]), -EIO);
	ck_assert_int_eq(storvsp_ioq_submit(q, d, STORVSP_IO_WRITE, (1 << 20) - 512, 1024, &v, 1,
					    false, on_done, &c[0]), -EIO);
	ck_assert_int_eq(storvsp_ioq_submit(q, d, STORVSP_IO_READ, 100, 512, &v, 1, false,
					    on_done, &c[0]), -EINVAL);
	ck_assert_int_eq(storvsp_ioq_submit(q, d, STORVSP_IO_READ, 0, 4096, &shortv, 1, false,
					    on_done, &c[0]), -EINVAL);
	ck_assert_int_eq(storvsp_ioq_submit(q, d, STORVSP_IO_READ, 0, 0, &v, 1, false,
					    on_done, &c[0]), -EINVAL);
	ck_assert_int_eq(storvsp_ioq_submit(q, d, (enum storvsp_io_op)99, 0, 512, &v, 1, false,
					    on_done, &c[0]), -EINVAL);
	ck_assert_int_eq(storvsp_ioq_submit(q, d, STORVSP_IO_READ, 0, 512, &v, 1, false,
					    NULL, NULL), -EINVAL);
	ck_assert_uint_eq(c[0].calls, 0);

	/* The image shrinks under the disk: a read inside the visible size
	 * finds end of file, on both paths, and reports -EIO. */
	ck_assert_int_eq(truncate(p, 256 * 1024), 0);
	ck_assert_int_eq(storvsp_ioq_submit(q, d, STORVSP_IO_READ, 512 * 1024, 4096, &v, 1, false,
					    on_done, &c[0]), 0);
	shortv = (struct iovec){ mem + 4097, 1024 };
	ck_assert_int_eq(storvsp_ioq_submit(q, d, STORVSP_IO_READ, 512 * 1024, 1024, &shortv, 1,
					    false, on_done, &c[1]), 0);
	run_until(q, c, 2);
	ck_assert_int_eq(c[0].res, -EIO);
	ck_assert_int_eq(c[1].res, -EIO);
	{
		struct storvsp_ioq_stats st;

		storvsp_ioq_stats(q, &st);
		ck_assert_uint_eq(st.errors, 2);
	}
	storvsp_ioq_free(q);
	storvsp_disk_close(d);
	free(mem);
}
END_TEST

START_TEST(read_only_raw_refuses_writes)
{
	const char *p = make_raw("ro.img", 65536);
	char spec[300];
	struct storvsp_disk *d;
	struct storvsp_ioq *q = new_queue(8, -1, NULL, NULL);
	struct comp c = { 0 };
	uint8_t buf[512];
	struct iovec v = { buf, sizeof(buf) };

	snprintf(spec, sizeof(spec), "%s,ro", p);
	d = open_disk(spec);
	ck_assert_int_eq(storvsp_ioq_submit(q, d, STORVSP_IO_WRITE, 0, 512, &v, 1, false,
					    on_done, &c), -EROFS);
	ck_assert_int_eq(storvsp_ioq_submit(q, d, STORVSP_IO_DISCARD, 0, 512, NULL, 0, false,
					    on_done, &c), -EROFS);
	ck_assert_uint_eq(c.calls, 0);
	storvsp_ioq_free(q);
	storvsp_disk_close(d);
}
END_TEST

START_TEST(free_completes_everything)
{
	const char *p = make_raw("free.img", 1 << 20);
	struct storvsp_disk *d = open_disk(p);
	struct storvsp_ioq *q = new_queue(2, -1, NULL, NULL);
	static struct comp c[10];
	static uint8_t mem[10][512];
	unsigned int i, ok = 0, cancelled = 0;

	memset(c, 0, sizeof(c));
	for (i = 0; i < 10; i++) {
		struct iovec v = { mem[i], 512 };

		ck_assert_int_eq(storvsp_ioq_submit(q, d, STORVSP_IO_READ, (uint64_t)i * 512, 512,
						    &v, 1, false, on_done, &c[i]), 0);
	}
	/* Two are in the submission ring, eight wait for a slot. */
	storvsp_ioq_free(q);
	for (i = 0; i < 10; i++) {
		ck_assert_uint_eq(c[i].calls, 1);
		if (c[i].res == 0)
			ok++;
		else if (c[i].res == -ECANCELED)
			cancelled++;
	}
	ck_assert_uint_eq(ok, 2);
	ck_assert_uint_eq(cancelled, 8);
	storvsp_disk_close(d);
}
END_TEST

/* ---- SCSI plans end to end -------------------------------------------------- */

struct plan_io {
	struct scsi_target *t;
	struct scsi_io_plan plan;
	struct scsi_result res;
	unsigned int calls;
};

static void on_plan_done(void *cookie, int err)
{
	struct plan_io *io = cookie;

	io->calls++;
	ck_assert_int_eq(scsi_target_complete_io(io->t, &io->plan, err, &io->res), 0);
}

static void plan_rw(struct plan_io *io, struct storvsp_ioq *q, struct storvsp_disk *d,
		    uint8_t op, uint32_t lba, uint16_t blocks, uint8_t *buf, size_t len)
{
	uint8_t cdb[10] = { op, 0, (uint8_t)(lba >> 24), (uint8_t)(lba >> 16),
			    (uint8_t)(lba >> 8), (uint8_t)lba, 0,
			    (uint8_t)(blocks >> 8), (uint8_t)blocks, 0 };
	struct iovec v = { buf, len };
	int op_plan;

	io->calls = 0;
	op_plan = scsi_target_decode(io->t, 0, cdb, sizeof(cdb), len,
				     op == SCSI_OP_READ_10 ? SCSI_DIR_IN : SCSI_DIR_OUT,
				     &io->plan, &io->res);
	ck_assert_int_eq(op_plan, op == SCSI_OP_READ_10 ? SCSI_PLAN_READ : SCSI_PLAN_WRITE);
	ck_assert_int_eq(storvsp_ioq_submit_plan(q, d, &io->plan, &v, 1, on_plan_done, io), 0);
	while (!io->calls)
		ck_assert_int_ge(storvsp_ioq_run(q, true), 0);
}

START_TEST(scsi_plans)
{
	const char *p = make_raw("plan.img", 1 << 20);
	struct storvsp_disk *d = open_disk(p);
	struct storvsp_ioq *q = new_queue(8, -1, NULL, NULL);
	struct scsi_disk_info info;
	struct plan_io io;
	uint8_t *buf = aligned_alloc(4096, 8192);
	unsigned int k;

	ck_assert_ptr_nonnull(buf);
	storvsp_disk_info(d, &info);
	io.t = scsi_target_new(NULL);
	ck_assert_ptr_nonnull(io.t);
	ck_assert_int_eq(scsi_target_add_lun(io.t, 0, &info, storvsp_disk_ops(d), d), 0);

	memset(buf, 0x81, 8192);
	plan_rw(&io, q, d, SCSI_OP_WRITE_10, 16, 16, buf, 8192);
	ck_assert_uint_eq(io.res.status, SCSI_STATUS_GOOD);
	memset(buf, 0, 8192);
	plan_rw(&io, q, d, SCSI_OP_READ_10, 15, 2, buf, 1024);
	ck_assert_uint_eq(io.res.status, SCSI_STATUS_GOOD);
	ck_assert_uint_eq(io.res.transferred, 1024);
	for (k = 0; k < 512; k++) {
		ck_assert_uint_eq(buf[k], seed_byte(15 * 512 + k));
		ck_assert_uint_eq(buf[512 + k], 0x81);
	}
	/* A failing read turns into MEDIUM ERROR sense. */
	ck_assert_int_eq(truncate(p, 4096), 0);
	plan_rw(&io, q, d, SCSI_OP_READ_10, 100, 1, buf, 512);
	ck_assert_uint_eq(io.res.status, SCSI_STATUS_CHECK_CONDITION);
	ck_assert_uint_eq(io.res.sense[2] & 0x0f, SCSI_SENSE_MEDIUM_ERROR);
	{
		struct scsi_io_plan emu = { .op = SCSI_PLAN_EMULATE };

		ck_assert_int_eq(storvsp_ioq_submit_plan(q, d, &emu, NULL, 0, on_plan_done, &io),
				 -EINVAL);
	}
	scsi_target_free(io.t);
	storvsp_ioq_free(q);
	storvsp_disk_close(d);
	free(buf);
}
END_TEST

static Suite *ioq_suite(void)
{
	Suite *s = suite_create("storvsp_ioq");
	TCase *tc = tcase_create("ioq");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, concurrent_rw);
	tcase_add_test(tc, direct_and_buffered_paths);
	tcase_add_test(tc, fua_flush_discard);
	tcase_add_test(tc, deeper_than_ring);
	tcase_add_test(tc, submits_in_groups);
	tcase_add_test(tc, doorbell_wakes_loop);
	tcase_add_test(tc, vhdi_worker);
	tcase_add_test(tc, errors_reach_callback);
	tcase_add_test(tc, read_only_raw_refuses_writes);
	tcase_add_test(tc, free_completes_everything);
	tcase_add_test(tc, scsi_plans);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	struct storvsp_ioq *q = NULL;
	SRunner *sr;
	int failed, err;

	err = storvsp_ioq_new(8, -1, NULL, NULL, NULL, &q);
	if (err) {
		printf("SKIP: io_uring unavailable here (%s)\n", strerror(-err));
		return 77;
	}
	storvsp_ioq_free(q);
	srand(1234);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_ioq.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	sr = srunner_create(ioq_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	sh("rm -rf '%s'", tmpdir);
	return failed ? 1 : 0;
}
