/* SPDX-License-Identifier: MIT */
/*
 * The self-test's synthetic SCSI controller check: storvsc (libvmbus's
 * guest client, include/vmbus/storvsc.h) on the controller's primary
 * channel, the LUN list its scan found, then per disk either a patterned
 * write, flush, read-back and verify pass (writable) or a read of the
 * first block and a write that must come back DATA PROTECT (read-only).
 * The pattern is this project's own; tests/test_partition.c rebuilds it
 * to check the disk image from the host side.
 */
#include <vmbus/storvsc.h>

#include "freestanding.h"
#include "gbus.h"
#include "rt.h"
#include "selftest.h"

#define RING_PAGES		32u
#define MAX_REQUESTS		16u
#define MAX_LUNS		8u
/* The pass: this much from the start of each writable disk, and one
 * chunk at its end, moved in chunks of at most CHUNK bytes. */
#define PASS_BYTES		(2u << 20)
#define CHUNK			(64u * 1024u)
#define CHUNK_PAGES		(CHUNK / 4096u)
#define IO_TIMEOUT		(10 * GBUS_SEC)
/* Word k (8 bytes at disk offset 8k) of the pattern. */
#define PATTERN_MUL		0x9e3779b97f4a7c15ull

struct disk_test {
	struct gbus_chan chan;
	struct storvsc *sc;
	volatile bool started;
	volatile int start_err;
	volatile bool io_done;
	struct storvsc_result res;
	uint8_t *buf;
	uint64_t pfns[CHUNK_PAGES];
};

static struct disk_test dt;

static int poll_storvsc(void *ctx)
{
	struct disk_test *t = ctx;

	return storvsc_process(t->sc);
}

static uint64_t virt_to_pfn(void *ctx, const void *va)
{
	(void)ctx;
	return (uintptr_t)va >> 12;	/* identity-mapped (abi.h) */
}

static void on_started(void *arg, int err)
{
	(void)arg;
	dt.start_err = err;
	dt.started = true;
}

static void on_io(void *arg, const struct storvsc_result *res)
{
	(void)arg;
	dt.res = *res;
	dt.io_done = true;
}

/* One synchronous request: 0, a negative errno (not sent, or no answer
 * in time) or the storvsc_error it completed with. */
static int disk_io(int op, unsigned int lun, uint64_t off, uint32_t bytes,
		   uint32_t block)
{
	struct storvsc_buf b = { .pfns = dt.pfns, .offset = 0, .len = bytes };
	int ret;

	dt.io_done = false;
	switch (op) {
	case 'r':
		ret = storvsc_read(dt.sc, lun, off / block, bytes / block, &b,
				   on_io, NULL);
		break;
	case 'w':
		ret = storvsc_write(dt.sc, lun, off / block, bytes / block, &b,
				    false, on_io, NULL);
		break;
	default:
		ret = storvsc_flush(dt.sc, lun, on_io, NULL);
		break;
	}
	if (ret < 0)
		return ret;
	if (!gbus_wait(&dt.io_done, IO_TIMEOUT))
		return -ETIMEDOUT;
	return (int)dt.res.error;
}

static void fill(uint64_t off, uint32_t bytes)
{
	uint64_t *w = (uint64_t *)dt.buf, k = off / 8;
	uint32_t i;

	for (i = 0; i < bytes / 8; i++)
		w[i] = (k + i + 1) * PATTERN_MUL;
}

/* Words of the buffer that differ from the pattern at @off. */
static uint32_t mismatches(uint64_t off, uint32_t bytes)
{
	const uint64_t *w = (const uint64_t *)dt.buf;
	uint64_t k = off / 8;
	uint32_t i, bad = 0;

	for (i = 0; i < bytes / 8; i++)
		if (w[i] != (k + i + 1) * PATTERN_MUL)
			bad++;
	return bad;
}

/* Write [off, off + len) in chunks; 0 or the first failure. */
static int write_range(unsigned int lun, uint64_t off, uint64_t len,
		       uint32_t chunk, uint32_t block)
{
	uint64_t done;
	int ret;

	for (done = 0; done < len; done += chunk) {
		uint32_t n = len - done < chunk ? (uint32_t)(len - done) : chunk;

		fill(off + done, n);
		ret = disk_io('w', lun, off + done, n, block);
		if (ret)
			return ret;
	}
	return 0;
}

/* Read [off, off + len) back; the failure, or the mismatching words in
 * *bad. */
static int verify_range(unsigned int lun, uint64_t off, uint64_t len,
			uint32_t chunk, uint32_t block, uint32_t *bad)
{
	uint64_t done;
	int ret;

	for (done = 0; done < len; done += chunk) {
		uint32_t n = len - done < chunk ? (uint32_t)(len - done) : chunk;

		memset(dt.buf, 0, n);
		ret = disk_io('r', lun, off + done, n, block);
		if (ret)
			return ret;
		*bad += mismatches(off + done, n);
	}
	return 0;
}

static void writable_pass(const struct storvsc_lun *l, uint32_t chunk)
{
	uint64_t size = l->blocks * l->block_size;
	uint64_t head = size < PASS_BYTES ? size : PASS_BYTES;
	uint64_t tail_off = size - chunk, t0, ms;
	bool tail = size >= PASS_BYTES + chunk;
	uint32_t bad = 0;
	int ret;

	t0 = gbus_now();
	ret = write_range(l->lun, 0, head, chunk, l->block_size);
	if (!ret && tail)
		ret = write_range(l->lun, tail_off, chunk, chunk, l->block_size);
	st_check(!ret, "disk: LUN %u: wrote %llu bytes (error %d)", l->lun,
		 (unsigned long long)(head + (tail ? chunk : 0)), ret);
	ret = disk_io('f', l->lun, 0, 0, l->block_size);
	st_check(!ret, "disk: LUN %u: flushed (error %d)", l->lun, ret);
	ret = verify_range(l->lun, 0, head, chunk, l->block_size, &bad);
	if (!ret && tail)
		ret = verify_range(l->lun, tail_off, chunk, chunk, l->block_size,
				   &bad);
	ms = (gbus_now() - t0) / 10000;
	st_check(!ret && !bad, "disk: LUN %u: read back and verified (error %d, "
		 "%u words differ)", l->lun, ret, bad);
	rt_printf("disk: LUN %u: write/verify pass of %llu bytes took %llu ms\n",
		  l->lun, (unsigned long long)(head + (tail ? chunk : 0)),
		  (unsigned long long)ms);
}

static void read_only_pass(const struct storvsc_lun *l)
{
	const uint8_t *b = dt.buf;
	int ret;

	memset(dt.buf, 0, l->block_size);
	ret = disk_io('r', l->lun, 0, l->block_size, l->block_size);
	st_check(!ret, "disk: LUN %u: read the first block (error %d)", l->lun,
		 ret);
	rt_printf("disk: LUN %u: first bytes %02x %02x %02x %02x\n", l->lun,
		  b[0], b[1], b[2], b[3]);
	ret = disk_io('w', l->lun, 0, l->block_size, l->block_size);
	st_check(ret == STORVSC_ERR_WRITE_PROTECTED,
		 "disk: LUN %u: a write is refused as write-protected (error %d)",
		 l->lun, ret);
}

void st_disk_test(const struct vmbus_msg_offer *offer)
{
	struct storvsc_config cfg;
	struct storvsc_lun l;
	unsigned int i, n;
	uint32_t chunk;
	size_t need;
	void *mem;
	int ret;

	memset(&dt, 0, sizeof(dt));
	rt_printf("scsi: controller on relid %u\n", offer->child_relid);
	ret = gbus_open(&dt.chan, offer, RING_PAGES, MAX_REQUESTS);
	st_check(!ret, "scsi: channel opened (error %d)", ret);
	if (ret)
		return;
	memset(&cfg, 0, sizeof(cfg));
	cfg.primary = dt.chan.ch;
	cfg.max_requests = MAX_REQUESTS;
	cfg.max_luns = MAX_LUNS;
	cfg.virt_to_pfn = virt_to_pfn;
	need = storvsc_mem_size(&cfg);
	mem = need ? gbus_alloc(need) : NULL;
	dt.buf = gbus_alloc(CHUNK);
	ret = mem && dt.buf ? storvsc_init(mem, need, &cfg, &dt.sc) : -ENOMEM;
	st_check(!ret, "scsi: storvsc initialised (error %d)", ret);
	if (ret)
		goto close;
	for (i = 0; i < CHUNK_PAGES; i++)
		dt.pfns[i] = ((uintptr_t)dt.buf >> 12) + i;
	gbus_set_poller(poll_storvsc, &dt);
	ret = storvsc_start(dt.sc, on_started, NULL);
	if (!ret)
		ret = gbus_wait(&dt.started, IO_TIMEOUT) ? dt.start_err : -ETIMEDOUT;
	st_check(!ret, "scsi: handshake and LUN scan (error %d)", ret);
	if (ret)
		goto unpoll;
	n = storvsc_lun_count(dt.sc);
	chunk = storvsc_max_transfer(dt.sc);
	if (chunk > CHUNK || !chunk)
		chunk = CHUNK;
	rt_printf("scsi: vstor version 0x%x, max transfer %u bytes, %u disk(s)\n",
		  storvsc_version(dt.sc), storvsc_max_transfer(dt.sc), n);
	for (i = 0; i < n; i++) {
		if (storvsc_lun_info(dt.sc, i, &l) || !l.block_size)
			continue;
		rt_printf("disk: LUN %u: %llu bytes in %u-byte blocks, %s, "
			  "\"%s %s\"\n", l.lun,
			  (unsigned long long)(l.blocks * l.block_size),
			  l.block_size, l.read_only ? "read-only" : "writable",
			  l.vendor, l.product);
		if (l.read_only)
			read_only_pass(&l);
		else
			writable_pass(&l, chunk - chunk % l.block_size);
	}
unpoll:
	gbus_set_poller(NULL, NULL);
close:
	ret = gbus_close(&dt.chan);
	st_check(!ret, "scsi: channel closed (error %d)", ret);
}
