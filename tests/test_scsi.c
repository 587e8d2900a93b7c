/* SPDX-License-Identifier: MIT */
/*
 * Tests for the storvsp SCSI target (vsp/storvsp/scsi_target.c) against RAM
 * disks: every served command on its happy path with exact bytes, and the
 * hostile-initiator cases with exact status, sense key, ASC and ASCQ.
 * Expected layouts: T10 SPC-4 / SBC-3; SRB codes: include/vmbus/proto/vstor.h.
 */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <vmbus/scsi_target.h>

/* ---- RAM disk ---------------------------------------------------------------- */

struct ramdisk {
	uint8_t *mem;		/* NULL: a null disk that reads zeros */
	uint64_t size;
	int fail_read, fail_write, fail_flush, fail_discard;
	int last_fua;
	unsigned int reads, writes, flushes, discards;
	uint64_t discard_off[8], discard_len[8];
	bool oob;		/* an op went past the disk */
};

static int rd_check(struct ramdisk *d, uint64_t off, uint64_t len)
{
	if (off > d->size || len > d->size - off)
		d->oob = true;
	return d->oob ? -EIO : 0;
}

static int rd_read(void *ctx, uint64_t off, const struct iovec *iov, unsigned int cnt,
		   size_t len)
{
	struct ramdisk *d = ctx;
	unsigned int i;

	d->reads++;
	if (d->fail_read)
		return d->fail_read;
	if (rd_check(d, off, len))
		return -EIO;
	for (i = 0; i < cnt && len; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		if (d->mem)
			memcpy(iov[i].iov_base, d->mem + off, n);
		else
			memset(iov[i].iov_base, 0, n);
		off += n;
		len -= n;
	}
	return 0;
}

static int rd_write(void *ctx, uint64_t off, const struct iovec *iov, unsigned int cnt,
		    size_t len, bool fua)
{
	struct ramdisk *d = ctx;
	unsigned int i;

	d->writes++;
	d->last_fua = fua;
	if (d->fail_write)
		return d->fail_write;
	if (rd_check(d, off, len))
		return -EIO;
	for (i = 0; i < cnt && len; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		if (d->mem)
			memcpy(d->mem + off, iov[i].iov_base, n);
		off += n;
		len -= n;
	}
	return 0;
}

static int rd_flush(void *ctx)
{
	struct ramdisk *d = ctx;

	d->flushes++;
	return d->fail_flush;
}

static int rd_discard(void *ctx, uint64_t off, uint64_t len)
{
	struct ramdisk *d = ctx;

	if (d->discards < 8) {
		d->discard_off[d->discards] = off;
		d->discard_len[d->discards] = len;
	}
	d->discards++;
	if (d->fail_discard)
		return d->fail_discard;
	if (rd_check(d, off, len))
		return -EIO;
	if (d->mem)
		memset(d->mem + off, 0, len);
	return 0;
}

static const struct scsi_disk_ops full_ops = {
	.read = rd_read, .write = rd_write, .flush = rd_flush, .discard = rd_discard,
};
static const struct scsi_disk_ops plain_ops = { .read = rd_read, .write = rd_write };

/*
 * LUN 0: 1 MiB, 512-byte blocks, flush + discard, 64 KiB max transfer.
 * LUN 1: read-only, 16 blocks of 4096, no flush, no discard.
 * LUN 2: null disk of 2^32 + 8 blocks of 512 (capacity overflow cases).
 */
#define L0_SIZE		(1024u * 1024u)
#define L0_BLOCKS	(L0_SIZE / 512u)
#define L0_MAXXFER	(64u * 1024u)
#define L1_SIZE		(16u * 4096u)
#define L2_BLOCKS	((1ull << 32) + 8)
#define NAA0		0x6001234567890abcull

static struct scsi_target *tgt;
static struct ramdisk d0, d1, d2;

static void setup(void)
{
	struct scsi_disk_info i0 = {
		.size = L0_SIZE, .block_size = 512, .max_transfer = L0_MAXXFER,
		.serial = "SER0", .naa = NAA0,
	};
	struct scsi_disk_info i1 = {
		.size = L1_SIZE, .block_size = 4096, .read_only = true,
		.vendor = "ACME", .product = "ReadOnly", .revision = "2",
	};
	struct scsi_disk_info i2 = { .size = L2_BLOCKS * 512, .block_size = 512 };

	memset(&d0, 0, sizeof(d0));
	memset(&d1, 0, sizeof(d1));
	memset(&d2, 0, sizeof(d2));
	d0.size = L0_SIZE;
	d0.mem = calloc(1, L0_SIZE);
	d1.size = L1_SIZE;
	d1.mem = malloc(L1_SIZE);
	memset(d1.mem, 0x5a, L1_SIZE);
	d2.size = L2_BLOCKS * 512;
	ck_assert_ptr_nonnull(d0.mem);
	ck_assert_ptr_nonnull(d1.mem);

	tgt = scsi_target_new(NULL);
	ck_assert_ptr_nonnull(tgt);
	ck_assert_int_eq(scsi_target_add_lun(tgt, 0, &i0, &full_ops, &d0), 0);
	ck_assert_int_eq(scsi_target_add_lun(tgt, 1, &i1, &plain_ops, &d1), 0);
	ck_assert_int_eq(scsi_target_add_lun(tgt, 2, &i2, &full_ops, &d2), 0);
}

static void teardown(void)
{
	ck_assert(!d0.oob && !d1.oob && !d2.oob);
	scsi_target_free(tgt);
	free(d0.mem);
	free(d1.mem);
}

/* ---- Helpers ------------------------------------------------------------------- */

static struct scsi_result run(unsigned int lun, const uint8_t *cdb, size_t cdb_len,
			      void *buf, size_t len, enum scsi_dir dir)
{
	struct scsi_data data = scsi_data_flat(buf, len);
	struct scsi_result r;

	memset(&r, 0xee, sizeof(r));
	ck_assert_int_eq(scsi_target_execute(tgt, lun, cdb, cdb_len, &data, len, dir, &r), 0);
	return r;
}

#define RUN(lun, cdb, buf, len, dir) run(lun, cdb, sizeof(cdb), buf, len, dir)

static void expect_good(const struct scsi_result *r, size_t xfer, size_t data_len)
{
	ck_assert_uint_eq(r->status, SCSI_STATUS_GOOD);
	ck_assert_uint_eq(r->srb_status, SRB_STATUS_SUCCESS);
	ck_assert_uint_eq(r->sense_len, 0);
	ck_assert_uint_eq(r->transferred, xfer);
	ck_assert_uint_eq(r->residual, data_len - xfer);
}

static void expect_sense(const struct scsi_result *r, uint8_t srb, uint8_t key,
			 uint8_t asc, uint8_t ascq)
{
	ck_assert_uint_eq(r->status, SCSI_STATUS_CHECK_CONDITION);
	ck_assert_uint_eq(r->srb_status, srb | SRB_STATUS_AUTOSENSE_VALID);
	ck_assert_uint_eq(r->sense_len, 18);
	ck_assert_uint_eq(r->sense[0], 0x70);
	ck_assert_uint_eq(r->sense[2], key);
	ck_assert_uint_eq(r->sense[7], 10);
	ck_assert_uint_eq(r->sense[12], asc);
	ck_assert_uint_eq(r->sense[13], ascq);
	ck_assert_uint_eq(r->transferred, 0);
}

static void expect_illegal(const struct scsi_result *r, uint8_t asc)
{
	expect_sense(r, SRB_STATUS_INVALID_REQUEST, SCSI_SENSE_ILLEGAL_REQUEST, asc, 0);
}

static uint32_t be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return ((uint64_t)be32(p) << 32) | be32(p + 4);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7 + (i >> 9));
}

/* ---- INQUIRY ----------------------------------------------------------------------- */

START_TEST(inquiry_standard)
{
	uint8_t cdb[6] = { SCSI_OP_INQUIRY, 0, 0, 0, 96, 0 };
	uint8_t b[96];
	struct scsi_result r;

	memset(b, 0xaa, sizeof(b));
	r = RUN(0, cdb, b, sizeof(b), SCSI_DIR_IN);
	expect_good(&r, 36, 96);
	ck_assert_uint_eq(b[0], 0x00);
	ck_assert_uint_eq(b[1], 0x00);
	ck_assert_uint_eq(b[2], 0x06);
	ck_assert_uint_eq(b[3], 0x02);
	ck_assert_uint_eq(b[4], 31);
	ck_assert_uint_eq(b[7], 0x02);
	ck_assert_mem_eq(b + 8, "Msft    Virtual Disk    1.0 ", 28);
	ck_assert_uint_eq(b[36], 0xaa);		/* nothing past the answer */

	r = RUN(1, cdb, b, sizeof(b), SCSI_DIR_IN);
	expect_good(&r, 36, 96);
	ck_assert_mem_eq(b + 8, "ACME    ReadOnly        2   ", 28);

	/* allocation length shorter than the data */
	cdb[4] = 5;
	memset(b, 0xaa, sizeof(b));
	r = RUN(0, cdb, b, sizeof(b), SCSI_DIR_UNKNOWN);
	expect_good(&r, 5, 96);
	ck_assert_uint_eq(b[4], 31);
	ck_assert_uint_eq(b[5], 0xaa);
}
END_TEST

START_TEST(inquiry_missing_lun)
{
	uint8_t cdb[6] = { SCSI_OP_INQUIRY, 0, 0, 0, 36, 0 };
	uint8_t vpd[6] = { SCSI_OP_INQUIRY, 1, 0x80, 0, 36, 0 };
	uint8_t b[36];
	struct scsi_result r;

	r = RUN(7, cdb, b, sizeof(b), SCSI_DIR_IN);
	expect_good(&r, 36, 36);
	ck_assert_uint_eq(b[0], 0x7f);		/* qualifier 3, type 1Fh */
	ck_assert_uint_eq(b[8], 0);

	r = RUN(7, vpd, b, sizeof(b), SCSI_DIR_IN);
	expect_sense(&r, SRB_STATUS_INVALID_LUN, SCSI_SENSE_ILLEGAL_REQUEST, 0x25, 0);
	r = RUN(300, cdb, b, sizeof(b), SCSI_DIR_IN);
	ck_assert_uint_eq(b[0], 0x7f);
}
END_TEST

START_TEST(inquiry_bad_fields)
{
	uint8_t page_no_evpd[6] = { SCSI_OP_INQUIRY, 0, 0x80, 0, 36, 0 };
	uint8_t cmddt[6] = { SCSI_OP_INQUIRY, 2, 0, 0, 36, 0 };
	uint8_t bad_vpd[6] = { SCSI_OP_INQUIRY, 1, 0x81, 0, 36, 0 };
	uint8_t b[64];
	struct scsi_result r;

	r = RUN(0, page_no_evpd, b, sizeof(b), SCSI_DIR_IN);
	expect_illegal(&r, 0x24);
	r = RUN(0, cmddt, b, sizeof(b), SCSI_DIR_IN);
	expect_illegal(&r, 0x24);
	r = RUN(0, bad_vpd, b, sizeof(b), SCSI_DIR_IN);
	expect_illegal(&r, 0x24);
}
END_TEST

static struct scsi_result vpd(unsigned int lun, uint8_t page, uint8_t *b, size_t len)
{
	uint8_t cdb[6] = { SCSI_OP_INQUIRY, 1, page, (uint8_t)(len >> 8), (uint8_t)len, 0 };

	memset(b, 0xcc, len);
	return RUN(lun, cdb, b, len, SCSI_DIR_IN);
}

START_TEST(vpd_pages)
{
	static const uint8_t sup[] = { 0, 0, 0, 6, 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 };
	uint8_t b[255];
	struct scsi_result r;

	r = vpd(0, 0x00, b, sizeof(b));
	expect_good(&r, sizeof(sup), sizeof(b));
	ck_assert_mem_eq(b, sup, sizeof(sup));

	r = vpd(0, 0x80, b, sizeof(b));
	expect_good(&r, 8, sizeof(b));
	ck_assert_mem_eq(b, "\x00\x80\x00\x04SER0", 8);
	r = vpd(1, 0x80, b, sizeof(b));
	expect_good(&r, 4, sizeof(b));
	ck_assert_uint_eq(b[3], 0);

	/* T10 vendor ID (ASCII) then NAA (binary) */
	r = vpd(0, 0x83, b, sizeof(b));
	expect_good(&r, 4 + 4 + 28 + 4 + 8, sizeof(b));
	ck_assert_uint_eq(b[1], 0x83);
	ck_assert_uint_eq((b[2] << 8) | b[3], 44);
	ck_assert_uint_eq(b[4], 0x02);
	ck_assert_uint_eq(b[5], 0x01);
	ck_assert_uint_eq(b[7], 28);
	ck_assert_mem_eq(b + 8, "Msft    Virtual Disk    SER0", 28);
	ck_assert_uint_eq(b[36], 0x01);
	ck_assert_uint_eq(b[37], 0x03);
	ck_assert_uint_eq(b[39], 8);
	ck_assert_uint_eq(be64(b + 40), NAA0);
	r = vpd(1, 0x83, b, sizeof(b));
	expect_good(&r, 4 + 4 + 24, sizeof(b));

	r = vpd(0, 0xb0, b, sizeof(b));
	expect_good(&r, 64, sizeof(b));
	ck_assert_uint_eq((b[2] << 8) | b[3], 0x3c);
	ck_assert_uint_eq(b[4] & 1, 1);				/* WSNZ */
	ck_assert_uint_eq(be32(b + 8), L0_MAXXFER / 512);
	ck_assert_uint_eq(be32(b + 20), 0xffffffffu);
	ck_assert_uint_eq(be32(b + 24), SCSI_TARGET_MAX_UNMAP_DESCRIPTORS);
	ck_assert_uint_eq(be32(b + 28), 1);
	ck_assert_uint_eq(b[32], 0x80);
	ck_assert_uint_eq(be64(b + 36), 8u * 1024 * 1024 / 512);
	r = vpd(1, 0xb0, b, sizeof(b));
	ck_assert_uint_eq(be32(b + 8), SCSI_TARGET_DEFAULT_MAX_TRANSFER / 4096);
	ck_assert_uint_eq(be32(b + 20), 0);
	ck_assert_uint_eq(be32(b + 24), 0);

	r = vpd(0, 0xb1, b, sizeof(b));
	expect_good(&r, 64, sizeof(b));
	ck_assert_uint_eq((b[2] << 8) | b[3], 0x3c);
	ck_assert_uint_eq((b[4] << 8) | b[5], 1);

	r = vpd(0, 0xb2, b, sizeof(b));
	expect_good(&r, 8, sizeof(b));
	ck_assert_uint_eq(b[3], 4);
	ck_assert_uint_eq(b[5], 0xe0);		/* LBPU, LBPWS, LBPWS10 */
	ck_assert_uint_eq(b[6], 0x02);
	r = vpd(1, 0xb2, b, sizeof(b));
	ck_assert_uint_eq(b[5], 0);
	ck_assert_uint_eq(b[6], 0);
}
END_TEST

/* ---- READ CAPACITY, REPORT LUNS ------------------------------------------------- */

START_TEST(read_capacity)
{
	uint8_t rc10[10] = { SCSI_OP_READ_CAPACITY_10 };
	uint8_t rc16[16] = { SCSI_OP_SERVICE_ACTION_IN_16, 0x10, [13] = 32 };
	uint8_t b[32];
	struct scsi_result r;

	r = RUN(0, rc10, b, 8, SCSI_DIR_IN);
	expect_good(&r, 8, 8);
	ck_assert_uint_eq(be32(b), L0_BLOCKS - 1);
	ck_assert_uint_eq(be32(b + 4), 512);
	r = RUN(1, rc10, b, 8, SCSI_DIR_IN);
	ck_assert_uint_eq(be32(b), 15);
	ck_assert_uint_eq(be32(b + 4), 4096);
	r = RUN(2, rc10, b, 8, SCSI_DIR_IN);
	ck_assert_uint_eq(be32(b), 0xffffffffu);

	memset(b, 0xcc, sizeof(b));
	r = RUN(0, rc16, b, 32, SCSI_DIR_IN);
	expect_good(&r, 32, 32);
	ck_assert_uint_eq(be64(b), L0_BLOCKS - 1);
	ck_assert_uint_eq(be32(b + 8), 512);
	ck_assert_uint_eq(b[13], 0);
	ck_assert_uint_eq(b[14], 0x80);		/* LBPME */
	ck_assert_uint_eq(b[31], 0);
	r = RUN(1, rc16, b, 32, SCSI_DIR_IN);
	ck_assert_uint_eq(b[14], 0);
	r = RUN(2, rc16, b, 32, SCSI_DIR_IN);
	ck_assert_uint_eq(be64(b), L2_BLOCKS - 1);

	rc16[13] = 12;
	memset(b, 0xcc, sizeof(b));
	r = RUN(0, rc16, b, 32, SCSI_DIR_IN);
	expect_good(&r, 12, 32);
	ck_assert_uint_eq(b[12], 0xcc);
}
END_TEST

START_TEST(read_capacity_hostile)
{
	uint8_t rc10[10] = { SCSI_OP_READ_CAPACITY_10, 0, 0, 0, 0, 1 };
	uint8_t lbas[16] = { SCSI_OP_SERVICE_ACTION_IN_16, 0x12, [13] = 32 };
	uint8_t rc16[16] = { SCSI_OP_SERVICE_ACTION_IN_16, 0x10, [12] = 1 };
	uint8_t b[32];
	struct scsi_result r;

	r = RUN(0, rc10, b, 8, SCSI_DIR_IN);		/* LBA without PMI */
	expect_illegal(&r, 0x24);
	rc10[5] = 0;
	r = RUN(0, rc10, b, 7, SCSI_DIR_IN);		/* buffer too small */
	expect_illegal(&r, 0x24);
	r = RUN(0, lbas, b, 32, SCSI_DIR_IN);		/* GET LBA STATUS */
	expect_illegal(&r, 0x24);
	r = RUN(0, rc16, b, 32, SCSI_DIR_IN);		/* 256-byte allocation */
	expect_illegal(&r, 0x24);
}
END_TEST

START_TEST(report_luns)
{
	uint8_t cdb[12] = { SCSI_OP_REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	uint8_t b[256];
	struct scsi_result r;

	memset(b, 0xcc, sizeof(b));
	r = RUN(9, cdb, b, sizeof(b), SCSI_DIR_IN);	/* any LUN may ask */
	expect_good(&r, 32, sizeof(b));
	ck_assert_uint_eq(be32(b), 24);
	ck_assert_uint_eq(be32(b + 4), 0);
	ck_assert_uint_eq(be64(b + 8), 0);
	ck_assert_uint_eq(be64(b + 16), 0x0001000000000000ull);
	ck_assert_uint_eq(be64(b + 24), 0x0002000000000000ull);
	ck_assert_uint_eq(b[32], 0xcc);

	ck_assert_int_eq(scsi_target_remove_lun(tgt, 1), 0);
	r = RUN(0, cdb, b, sizeof(b), SCSI_DIR_IN);
	expect_good(&r, 24, sizeof(b));
	ck_assert_uint_eq(be64(b + 16), 0x0002000000000000ull);

	cdb[2] = 1;					/* well-known LUNs only */
	r = RUN(0, cdb, b, sizeof(b), SCSI_DIR_IN);
	expect_good(&r, 8, sizeof(b));
	ck_assert_uint_eq(be32(b), 0);

	cdb[2] = 3;
	r = RUN(0, cdb, b, sizeof(b), SCSI_DIR_IN);
	expect_illegal(&r, 0x24);
	cdb[2] = 0;
	cdb[8] = 0;
	cdb[9] = 15;					/* below the 16-byte minimum */
	r = RUN(0, cdb, b, sizeof(b), SCSI_DIR_IN);
	expect_illegal(&r, 0x24);
	cdb[9] = 16;
	r = RUN(0, cdb, b, 16, SCSI_DIR_IN);
	expect_good(&r, 16, 16);
	ck_assert_uint_eq(be32(b), 16);			/* full length, truncated list */
}
END_TEST

/* ---- READ / WRITE ------------------------------------------------------------------- */

static void make_rw(uint8_t *cdb, size_t len, bool write, uint64_t lba, uint32_t blocks,
		    uint8_t flags)
{
	memset(cdb, 0, len);
	switch (len) {
	case 6:
		cdb[0] = write ? SCSI_OP_WRITE_6 : SCSI_OP_READ_6;
		cdb[1] = (uint8_t)((lba >> 16) & 0x1f);
		cdb[2] = (uint8_t)(lba >> 8);
		cdb[3] = (uint8_t)lba;
		cdb[4] = (uint8_t)blocks;
		break;
	case 10:
		cdb[0] = write ? SCSI_OP_WRITE_10 : SCSI_OP_READ_10;
		cdb[1] = flags;
		put32(cdb + 2, (uint32_t)lba);
		cdb[7] = (uint8_t)(blocks >> 8);
		cdb[8] = (uint8_t)blocks;
		break;
	case 12:
		cdb[0] = write ? SCSI_OP_WRITE_12 : SCSI_OP_READ_12;
		cdb[1] = flags;
		put32(cdb + 2, (uint32_t)lba);
		put32(cdb + 6, blocks);
		break;
	default:
		cdb[0] = write ? SCSI_OP_WRITE_16 : SCSI_OP_READ_16;
		cdb[1] = flags;
		put64(cdb + 2, lba);
		put32(cdb + 10, blocks);
		break;
	}
}

static struct scsi_result rw(unsigned int lun, size_t cdblen, bool write, uint64_t lba,
			     uint32_t blocks, uint8_t flags, void *buf, size_t len)
{
	uint8_t cdb[16];

	make_rw(cdb, cdblen, write, lba, blocks, flags);
	return run(lun, cdb, cdblen, buf, len, write ? SCSI_DIR_OUT : SCSI_DIR_IN);
}

START_TEST(read_write_roundtrip)
{
	static const size_t sizes[] = { 6, 10, 12, 16 };
	uint8_t out[4096], in[4096];
	struct scsi_result r;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		uint64_t lba = 100 + i * 20;

		fill(out, sizeof(out), (uint8_t)(i * 31 + 1));
		r = rw(0, sizes[i], true, lba, 8, 0, out, sizeof(out));
		expect_good(&r, 4096, 4096);
		ck_assert_mem_eq(d0.mem + lba * 512, out, 4096);
		memset(in, 0, sizeof(in));
		r = rw(0, sizes[i], false, lba, 8, 0, in, sizeof(in));
		expect_good(&r, 4096, 4096);
		ck_assert_mem_eq(in, out, sizeof(in));
	}
	/* a larger buffer leaves a residual */
	r = rw(0, 10, false, 0, 1, 0, in, sizeof(in));
	expect_good(&r, 512, 4096);
	/* the read-only LUN reads */
	r = rw(1, 16, false, 15, 1, 0, in, 4096);
	expect_good(&r, 4096, 4096);
	ck_assert_uint_eq(in[4095], 0x5a);
}
END_TEST

START_TEST(read6_zero_means_256)
{
	uint8_t *b = malloc(256 * 512);
	struct scsi_result r;

	ck_assert_ptr_nonnull(b);
	fill(d0.mem + 512 * 1000, 256 * 512, 9);
	/* LUN 0's 64 KiB limit is 128 blocks: use LUN 2 for the size check. */
	r = rw(0, 6, false, 1000, 0, 0, b, 256 * 512);
	expect_illegal(&r, 0x24);
	ck_assert_uint_eq(d0.reads, 0);
	r = rw(2, 6, false, 0, 0, 0, b, 256 * 512);
	expect_good(&r, 256 * 512, 256 * 512);
	ck_assert_uint_eq(d2.reads, 1);
	r = rw(2, 6, false, 0, 0, 0, b, 255 * 512);	/* buffer one block short */
	expect_illegal(&r, 0x24);
	ck_assert_uint_eq(d2.reads, 1);
	free(b);
}
END_TEST

START_TEST(read_write_iovec)
{
	uint8_t out[1536], a[100], b2[1000], c[436], in[1536];
	struct iovec iov[3] = { { a, sizeof(a) }, { b2, sizeof(b2) }, { c, sizeof(c) } };
	struct scsi_data data = scsi_data_iov(iov, 3);
	uint8_t cdb[16];
	struct scsi_result r;

	fill(out, sizeof(out), 77);
	memcpy(a, out, 100);
	memcpy(b2, out + 100, 1000);
	memcpy(c, out + 1100, 436);
	make_rw(cdb, 10, true, 7, 3, 0);
	ck_assert_int_eq(scsi_target_execute(tgt, 0, cdb, 10, &data, 1536, SCSI_DIR_OUT, &r), 0);
	expect_good(&r, 1536, 1536);
	ck_assert_mem_eq(d0.mem + 7 * 512, out, 1536);

	memset(a, 0, sizeof(a));
	memset(b2, 0, sizeof(b2));
	memset(c, 0, sizeof(c));
	make_rw(cdb, 10, false, 7, 3, 0);
	ck_assert_int_eq(scsi_target_execute(tgt, 0, cdb, 10, &data, 1536, SCSI_DIR_IN, &r), 0);
	expect_good(&r, 1536, 1536);
	memcpy(in, a, 100);
	memcpy(in + 100, b2, 1000);
	memcpy(in + 1100, c, 436);
	ck_assert_mem_eq(in, out, sizeof(in));

	/* declared length beyond what the iovecs hold */
	ck_assert_int_eq(scsi_target_execute(tgt, 0, cdb, 10, &data, 2048, SCSI_DIR_IN, &r), 0);
	expect_illegal(&r, 0x24);
	ck_assert_uint_eq(d0.reads, 1);
}
END_TEST

START_TEST(fua_reaches_backend)
{
	uint8_t b[512] = { 1 };
	struct scsi_result r;

	r = rw(0, 10, true, 0, 1, SCSI_RW_FUA, b, sizeof(b));
	expect_good(&r, 512, 512);
	ck_assert_int_eq(d0.last_fua, 1);
	r = rw(0, 10, true, 0, 1, 0, b, sizeof(b));
	ck_assert_int_eq(d0.last_fua, 0);
	r = rw(0, 16, true, 0, 1, SCSI_RW_FUA, b, sizeof(b));
	ck_assert_int_eq(d0.last_fua, 1);
	r = rw(0, 12, true, 0, 1, SCSI_RW_FUA | SCSI_RW_DPO, b, sizeof(b));
	ck_assert_int_eq(d0.last_fua, 1);
	r = rw(0, 6, true, 0, 1, 0, b, sizeof(b));
	ck_assert_int_eq(d0.last_fua, 0);
	ck_assert_uint_eq(d0.writes, 5);
}
END_TEST

START_TEST(write_protected)
{
	uint8_t b[4096];
	struct scsi_result r;

	memset(b, 0x11, sizeof(b));
	r = rw(1, 10, true, 0, 1, 0, b, sizeof(b));
	expect_sense(&r, SRB_STATUS_ERROR, SCSI_SENSE_DATA_PROTECT, 0x27, 0);
	ck_assert_uint_eq(d1.writes, 0);
	ck_assert_uint_eq(d1.mem[0], 0x5a);
	/* range is checked before write protection */
	r = rw(1, 10, true, 16, 1, 0, b, sizeof(b));
	expect_illegal(&r, 0x21);
}
END_TEST

START_TEST(rw_hostile)
{
	uint8_t b[8192];
	uint8_t cdb[16];
	struct scsi_result r;

	memset(b, 0xab, sizeof(b));
	/* transfer length larger than the buffer: nothing moves */
	r = rw(0, 10, false, 0, 4, 0, b, 1024);
	expect_illegal(&r, 0x24);
	ck_assert_uint_eq(r.residual, 1024);
	ck_assert_uint_eq(b[0], 0xab);
	r = rw(0, 10, true, 0, 4, 0, b, 1024);
	expect_illegal(&r, 0x24);
	ck_assert_uint_eq(d0.reads + d0.writes, 0);

	/* past the end, and overflowing 64 bits */
	r = rw(0, 10, false, L0_BLOCKS - 1, 2, 0, b, sizeof(b));
	expect_illegal(&r, 0x21);
	r = rw(0, 16, false, L0_BLOCKS, 0, 0, b, sizeof(b));
	expect_illegal(&r, 0x21);
	r = rw(0, 16, false, UINT64_MAX, 2, 0, b, sizeof(b));
	expect_illegal(&r, 0x21);
	r = rw(0, 16, true, UINT64_MAX - 1, 0xffffffffu, 0, b, sizeof(b));
	expect_illegal(&r, 0x21);
	r = rw(2, 16, false, L2_BLOCKS - 1, 0xffffffffu, 0, b, sizeof(b));
	expect_illegal(&r, 0x21);
	r = rw(0, 6, false, 0x1fffff, 1, 0, b, sizeof(b));
	expect_illegal(&r, 0x21);

	/* over the LUN's transfer limit */
	r = rw(0, 12, false, 0, L0_MAXXFER / 512 + 1, 0, b, sizeof(b));
	expect_illegal(&r, 0x24);

	/* protection information, relative addressing */
	r = rw(0, 10, false, 0, 1, 0x20, b, sizeof(b));
	expect_illegal(&r, 0x24);
	r = rw(0, 12, false, 0, 1, 0x01, b, sizeof(b));
	expect_illegal(&r, 0x24);

	/* direction contradicting the opcode, or no buffer at all */
	make_rw(cdb, 10, false, 0, 1, 0);
	r = run(0, cdb, 10, b, 512, SCSI_DIR_OUT);
	expect_illegal(&r, 0x24);
	r = run(0, cdb, 10, b, 512, SCSI_DIR_NONE);
	expect_illegal(&r, 0x24);
	ck_assert_uint_eq(r.residual, 0);
	make_rw(cdb, 10, true, 0, 1, 0);
	r = run(0, cdb, 10, b, 512, SCSI_DIR_IN);
	expect_illegal(&r, 0x24);

	/* CDB shorter than its opcode, empty, too long */
	r = run(0, cdb, 6, b, 512, SCSI_DIR_OUT);
	expect_illegal(&r, 0x24);
	r = run(0, cdb, 0, b, 512, SCSI_DIR_OUT);
	expect_illegal(&r, 0x24);
	r = run(0, cdb, 17, b, 512, SCSI_DIR_OUT);
	expect_illegal(&r, 0x24);
	ck_assert_uint_eq(d0.reads + d0.writes, 0);

	/* zero blocks is not an error and moves nothing */
	r = rw(0, 10, true, 5, 0, 0, b, sizeof(b));
	expect_good(&r, 0, sizeof(b));
	ck_assert_uint_eq(d0.writes, 0);
}
END_TEST

START_TEST(io_errors)
{
	uint8_t b[512];
	uint8_t sync[10] = { SCSI_OP_SYNCHRONIZE_CACHE_10 };
	struct scsi_result r;

	d0.fail_read = -EIO;
	r = rw(0, 10, false, 0, 1, 0, b, sizeof(b));
	expect_sense(&r, SRB_STATUS_ERROR, SCSI_SENSE_MEDIUM_ERROR, 0x11, 0);
	d0.fail_write = -EIO;
	r = rw(0, 16, true, 0, 1, 0, b, sizeof(b));
	expect_sense(&r, SRB_STATUS_ERROR, SCSI_SENSE_MEDIUM_ERROR, 0x0c, 0);
	d0.fail_write = -EROFS;
	r = rw(0, 16, true, 0, 1, 0, b, sizeof(b));
	expect_sense(&r, SRB_STATUS_ERROR, SCSI_SENSE_DATA_PROTECT, 0x27, 0);
	d0.fail_flush = -EIO;
	r = RUN(0, sync, NULL, 0, SCSI_DIR_NONE);
	expect_sense(&r, SRB_STATUS_ERROR, SCSI_SENSE_MEDIUM_ERROR, 0x0c, 0);
}
END_TEST

/* ---- Cache, verify, unit commands -------------------------------------------------- */

START_TEST(sync_cache_verify_unit)
{
	uint8_t sync10[10] = { SCSI_OP_SYNCHRONIZE_CACHE_10, 0, 0, 0, 0, 10, 0, 0, 5 };
	uint8_t sync16[16] = { SCSI_OP_SYNCHRONIZE_CACHE_16 };
	uint8_t ver10[10] = { SCSI_OP_VERIFY_10, 0, 0, 0, 0, 0, 0, 0x08, 0 };
	uint8_t ver12[12] = { SCSI_OP_VERIFY_12, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	uint8_t ver16[16] = { SCSI_OP_VERIFY_16 };
	uint8_t tur[6] = { SCSI_OP_TEST_UNIT_READY };
	uint8_t stop[6] = { SCSI_OP_START_STOP_UNIT, 1, 0, 0, 0, 0 };
	uint8_t start[6] = { SCSI_OP_START_STOP_UNIT, 0, 0, 0, 1, 0 };
	struct scsi_result r;

	r = RUN(0, sync10, NULL, 0, SCSI_DIR_NONE);
	expect_good(&r, 0, 0);
	r = RUN(0, sync16, NULL, 0, SCSI_DIR_NONE);
	expect_good(&r, 0, 0);
	ck_assert_uint_eq(d0.flushes, 2);
	r = RUN(1, sync16, NULL, 0, SCSI_DIR_NONE);	/* no cache, nothing to do */
	expect_good(&r, 0, 0);
	put64(sync16 + 2, L0_BLOCKS);
	r = RUN(0, sync16, NULL, 0, SCSI_DIR_NONE);
	expect_illegal(&r, 0x21);
	ck_assert_uint_eq(d0.flushes, 2);

	r = RUN(0, ver10, NULL, 0, SCSI_DIR_NONE);
	expect_good(&r, 0, 0);
	put32(ver12 + 2, L0_BLOCKS - 1);
	r = RUN(0, ver12, NULL, 0, SCSI_DIR_NONE);
	expect_good(&r, 0, 0);
	ver12[9] = 2;
	r = RUN(0, ver12, NULL, 0, SCSI_DIR_NONE);
	expect_illegal(&r, 0x21);
	put64(ver16 + 2, UINT64_MAX);
	ver16[13] = 1;
	r = RUN(0, ver16, NULL, 0, SCSI_DIR_NONE);
	expect_illegal(&r, 0x21);
	ver10[1] = 0x02;				/* BYTCHK */
	r = RUN(0, ver10, NULL, 0, SCSI_DIR_NONE);
	expect_illegal(&r, 0x24);
	ck_assert_uint_eq(d0.reads, 0);

	r = RUN(0, tur, NULL, 0, SCSI_DIR_NONE);
	expect_good(&r, 0, 0);
	r = RUN(0, start, NULL, 0, SCSI_DIR_NONE);
	expect_good(&r, 0, 0);
	ck_assert_uint_eq(d0.flushes, 2);
	r = RUN(0, stop, NULL, 0, SCSI_DIR_NONE);
	expect_good(&r, 0, 0);
	ck_assert_uint_eq(d0.flushes, 3);
}
END_TEST

START_TEST(unknown_and_missing)
{
	uint8_t pr_in[10] = { SCSI_OP_PERSISTENT_RESERVE_IN };
	uint8_t vendor[6] = { 0xc0 };
	uint8_t tur[6] = { SCSI_OP_TEST_UNIT_READY };
	uint8_t b[512];
	struct scsi_result r;

	r = RUN(0, pr_in, b, sizeof(b), SCSI_DIR_IN);
	expect_illegal(&r, 0x20);
	r = RUN(0, vendor, NULL, 0, SCSI_DIR_NONE);
	expect_illegal(&r, 0x20);
	r = RUN(5, tur, NULL, 0, SCSI_DIR_NONE);
	expect_sense(&r, SRB_STATUS_INVALID_LUN, SCSI_SENSE_ILLEGAL_REQUEST, 0x25, 0);
	r = rw(5, 10, false, 0, 1, 0, b, sizeof(b));
	expect_sense(&r, SRB_STATUS_INVALID_LUN, SCSI_SENSE_ILLEGAL_REQUEST, 0x25, 0);
	r = RUN(5, vendor, NULL, 0, SCSI_DIR_NONE);
	expect_sense(&r, SRB_STATUS_INVALID_LUN, SCSI_SENSE_ILLEGAL_REQUEST, 0x25, 0);
}
END_TEST

START_TEST(request_sense)
{
	uint8_t rs[6] = { SCSI_OP_REQUEST_SENSE, 0, 0, 0, 18, 0 };
	uint8_t bad[6] = { 0xc1 };
	uint8_t tur[6] = { SCSI_OP_TEST_UNIT_READY };
	uint8_t b[32];
	struct scsi_result r;

	r = RUN(0, bad, NULL, 0, SCSI_DIR_NONE);
	expect_illegal(&r, 0x20);
	memset(b, 0, sizeof(b));
	r = RUN(0, rs, b, sizeof(b), SCSI_DIR_IN);
	expect_good(&r, 18, sizeof(b));
	ck_assert_uint_eq(b[0], 0x70);
	ck_assert_uint_eq(b[2], SCSI_SENSE_ILLEGAL_REQUEST);
	ck_assert_uint_eq(b[7], 10);
	ck_assert_uint_eq(b[12], 0x20);
	/* taken: the next one reports no sense */
	r = RUN(0, rs, b, sizeof(b), SCSI_DIR_IN);
	expect_good(&r, 18, sizeof(b));
	ck_assert_uint_eq(b[2], 0);
	ck_assert_uint_eq(b[12], 0);

	/* a good command clears an older sense; LUNs keep their own */
	r = RUN(0, bad, NULL, 0, SCSI_DIR_NONE);
	r = RUN(1, bad, NULL, 0, SCSI_DIR_NONE);
	r = RUN(0, tur, NULL, 0, SCSI_DIR_NONE);
	r = RUN(0, rs, b, sizeof(b), SCSI_DIR_IN);
	ck_assert_uint_eq(b[2], 0);
	r = RUN(1, rs, b, sizeof(b), SCSI_DIR_IN);
	ck_assert_uint_eq(b[12], 0x20);

	/* short allocation, missing LUN, descriptor format */
	rs[4] = 3;
	memset(b, 0xcc, sizeof(b));
	r = RUN(0, rs, b, sizeof(b), SCSI_DIR_IN);
	expect_good(&r, 3, sizeof(b));
	ck_assert_uint_eq(b[3], 0xcc);
	rs[4] = 18;
	r = RUN(4, rs, b, sizeof(b), SCSI_DIR_IN);
	expect_good(&r, 18, sizeof(b));
	ck_assert_uint_eq(b[2], SCSI_SENSE_ILLEGAL_REQUEST);
	ck_assert_uint_eq(b[12], 0x25);
	rs[1] = 1;
	r = RUN(0, rs, b, sizeof(b), SCSI_DIR_IN);
	expect_illegal(&r, 0x24);
	rs[1] = 0;
	r = RUN(0, rs, b, 10, SCSI_DIR_IN);		/* buffer under the allocation */
	expect_illegal(&r, 0x24);
}
END_TEST

/* ---- MODE SENSE / MODE SELECT ---------------------------------------------------- */

START_TEST(mode_sense)
{
	uint8_t ms6[6] = { SCSI_OP_MODE_SENSE_6, 0, 0x3f, 0, 255, 0 };
	uint8_t ms10[10] = { SCSI_OP_MODE_SENSE_10, 0x08, 0x08, 0, 0, 0, 0, 0, 255 };
	uint8_t b[255];
	struct scsi_result r;

	memset(b, 0xcc, sizeof(b));
	r = RUN(0, ms6, b, sizeof(b), SCSI_DIR_IN);
	expect_good(&r, 32, sizeof(b));
	ck_assert_uint_eq(b[0], 31);
	ck_assert_uint_eq(b[1], 0);
	ck_assert_uint_eq(b[2], 0x10);			/* DPOFUA, not WP */
	ck_assert_uint_eq(b[3], 8);
	ck_assert_uint_eq(be32(b + 4), L0_BLOCKS);
	ck_assert_uint_eq(be32(b + 8), 512);
	ck_assert_uint_eq(b[12], 0x08);
	ck_assert_uint_eq(b[13], 0x12);
	ck_assert_uint_eq(b[14], 0x04);			/* WCE */
	ck_assert_uint_eq(b[31], 0);
	ck_assert_uint_eq(b[32], 0xcc);

	r = RUN(1, ms6, b, sizeof(b), SCSI_DIR_IN);
	ck_assert_uint_eq(b[2], 0x90);			/* WP */
	ck_assert_uint_eq(be32(b + 8), 4096);
	ck_assert_uint_eq(b[14], 0);
	r = RUN(2, ms6, b, sizeof(b), SCSI_DIR_IN);
	ck_assert_uint_eq(be32(b + 4), 0xffffffffu);

	/* MODE SENSE(10), DBD, caching page only */
	r = RUN(0, ms10, b, sizeof(b), SCSI_DIR_IN);
	expect_good(&r, 28, sizeof(b));
	ck_assert_uint_eq((b[0] << 8) | b[1], 26);
	ck_assert_uint_eq(b[3], 0x10);
	ck_assert_uint_eq((b[6] << 8) | b[7], 0);
	ck_assert_uint_eq(b[8], 0x08);
	ck_assert_uint_eq(b[10], 0x04);
	r = RUN(1, ms10, b, sizeof(b), SCSI_DIR_IN);
	ck_assert_uint_eq(b[3], 0x90);

	/* long LBA descriptor */
	ms10[1] = 0x10;
	r = RUN(2, ms10, b, sizeof(b), SCSI_DIR_IN);
	expect_good(&r, 44, sizeof(b));
	ck_assert_uint_eq(b[4], 1);
	ck_assert_uint_eq((b[6] << 8) | b[7], 16);
	ck_assert_uint_eq(be64(b + 8), L2_BLOCKS);
	ck_assert_uint_eq(be32(b + 20), 512);

	/* changeable values: only WCE, and only with a cache */
	ms6[2] = 0x48;
	r = RUN(0, ms6, b, sizeof(b), SCSI_DIR_IN);
	ck_assert_uint_eq(be32(b + 4), 0);
	ck_assert_uint_eq(b[14], 0x04);
	r = RUN(1, ms6, b, sizeof(b), SCSI_DIR_IN);
	ck_assert_uint_eq(b[14], 0);

	/* truncated by allocation length */
	ms6[2] = 0x3f;
	ms6[4] = 4;
	memset(b, 0xcc, sizeof(b));
	r = RUN(0, ms6, b, sizeof(b), SCSI_DIR_IN);
	expect_good(&r, 4, sizeof(b));
	ck_assert_uint_eq(b[0], 31);
	ck_assert_uint_eq(b[4], 0xcc);
}
END_TEST

START_TEST(mode_sense_hostile)
{
	uint8_t saved[6] = { SCSI_OP_MODE_SENSE_6, 0, 0xc8, 0, 64, 0 };
	uint8_t page[6] = { SCSI_OP_MODE_SENSE_6, 0, 0x1c, 0, 64, 0 };
	uint8_t sub[6] = { SCSI_OP_MODE_SENSE_6, 0, 0x08, 0x01, 64, 0 };
	uint8_t big[10] = { SCSI_OP_MODE_SENSE_10, 0, 0x3f, 0, 0, 0, 0, 0x10, 0 };
	uint8_t b[64];
	struct scsi_result r;

	r = RUN(0, saved, b, sizeof(b), SCSI_DIR_IN);
	expect_illegal(&r, 0x39);
	r = RUN(0, page, b, sizeof(b), SCSI_DIR_IN);
	expect_illegal(&r, 0x24);
	r = RUN(0, sub, b, sizeof(b), SCSI_DIR_IN);
	expect_illegal(&r, 0x24);
	r = RUN(0, big, b, sizeof(b), SCSI_DIR_IN);	/* 4 KiB allocation, 64 B buffer */
	expect_illegal(&r, 0x24);
}
END_TEST

static struct scsi_result mode_select10(unsigned int lun, const uint8_t *list, size_t len)
{
	uint8_t cdb[10] = { SCSI_OP_MODE_SELECT_10, 0x10, 0, 0, 0, 0, 0,
			    (uint8_t)(len >> 8), (uint8_t)len };
	uint8_t buf[512];

	memcpy(buf, list, len);
	return run(lun, cdb, sizeof(cdb), buf, len, SCSI_DIR_OUT);
}

START_TEST(mode_select)
{
	uint8_t list[8 + 20] = { [8] = 0x08, [9] = 0x12 };
	uint8_t ms6[6] = { SCSI_OP_MODE_SENSE_6, 0x08, 0x08, 0, 64, 0 };
	uint8_t sel6[6] = { SCSI_OP_MODE_SELECT_6, 0x10, 0, 0, 4 + 8 + 20, 0 };
	uint8_t l6[32] = { 0, 0, 0, 8, [10] = 0x02 };
	uint8_t b[64], w[512] = { 0 };
	struct scsi_result r;

	/* write cache off: every write becomes FUA */
	r = mode_select10(0, list, sizeof(list));
	expect_good(&r, sizeof(list), sizeof(list));
	r = RUN(0, ms6, b, sizeof(b), SCSI_DIR_IN);
	ck_assert_uint_eq(b[4 + 2], 0);
	r = rw(0, 10, true, 0, 1, 0, w, sizeof(w));
	ck_assert_int_eq(d0.last_fua, 1);

	/* MODE SELECT(6) with a block descriptor repeating the block size */
	l6[4 + 8] = 0x08;
	l6[4 + 9] = 0x12;
	l6[4 + 10] = 0x04;
	r = RUN(0, sel6, l6, sizeof(l6), SCSI_DIR_OUT);
	expect_good(&r, 32, 32);
	r = RUN(0, ms6, b, sizeof(b), SCSI_DIR_IN);
	ck_assert_uint_eq(b[4 + 2], 0x04);
	r = rw(0, 10, true, 0, 1, 0, w, sizeof(w));
	ck_assert_int_eq(d0.last_fua, 0);

	/* header only, and zero length, are accepted */
	r = mode_select10(0, list, 8);
	expect_good(&r, 8, 8);
	r = mode_select10(0, list, 0);
	expect_good(&r, 0, 0);
	/* WCE=0 on a disk without cache is no change */
	r = mode_select10(1, list, sizeof(list));
	expect_good(&r, sizeof(list), sizeof(list));
}
END_TEST

START_TEST(mode_select_hostile)
{
	uint8_t list[64] = { [8] = 0x08, [9] = 0x12 };
	uint8_t sp[10] = { SCSI_OP_MODE_SELECT_10, 0x11, 0, 0, 0, 0, 0, 0, 28 };
	uint8_t ms6[6] = { SCSI_OP_MODE_SENSE_6, 0x08, 0x08, 0, 64, 0 };
	uint8_t b[64];
	struct scsi_result r;

	r = RUN(0, sp, list, 28, SCSI_DIR_OUT);			/* save pages */
	expect_illegal(&r, 0x24);
	sp[1] = 0x10;
	r = RUN(0, sp, list, 20, SCSI_DIR_OUT);			/* list > buffer */
	expect_illegal(&r, 0x24);
	r = mode_select10(0, list, 7);				/* < header */
	expect_illegal(&r, 0x1a);
	list[7] = 32;						/* descriptors past end */
	r = mode_select10(0, list, 28);
	expect_illegal(&r, 0x1a);
	list[7] = 4;						/* not whole descriptors */
	r = mode_select10(0, list, 28);
	expect_illegal(&r, 0x26);
	list[7] = 8;						/* wrong block size */
	list[8 + 5] = 0x00; list[8 + 6] = 0x10; list[8 + 7] = 0x00;
	list[16] = 0x08; list[17] = 0x12;
	r = mode_select10(0, list, 36);
	expect_illegal(&r, 0x26);
	memset(list, 0, sizeof(list));
	list[8] = 0x08;
	list[9] = 0x30;						/* page runs past end */
	r = mode_select10(0, list, 28);
	expect_illegal(&r, 0x1a);
	list[9] = 0x12;
	list[10] = 0x01;					/* RCD cannot change */
	r = mode_select10(0, list, 28);
	expect_illegal(&r, 0x26);
	list[10] = 0x04;
	r = mode_select10(1, list, 28);				/* no cache to enable */
	expect_illegal(&r, 0x26);
	list[8] = 0x0a;						/* unknown page */
	r = mode_select10(0, list, 28);
	expect_illegal(&r, 0x26);
	list[8] = 0x48;						/* sub-page format */
	r = mode_select10(0, list, 28);
	expect_illegal(&r, 0x26);

	/* a valid caching page followed by junk changes nothing */
	list[8] = 0x08;
	list[10] = 0x00;
	list[28] = 0x0a;
	list[29] = 0x02;
	r = mode_select10(0, list, 32);
	expect_illegal(&r, 0x26);
	r = RUN(0, ms6, b, sizeof(b), SCSI_DIR_IN);
	ck_assert_uint_eq(b[4 + 2], 0x04);
	list[28] = 0x08;
	r = mode_select10(0, list, 29);				/* one stray byte */
	expect_illegal(&r, 0x1a);
	r = RUN(0, ms6, b, sizeof(b), SCSI_DIR_IN);
	ck_assert_uint_eq(b[4 + 2], 0x04);
}
END_TEST

/* ---- WRITE SAME / UNMAP ------------------------------------------------------------- */

START_TEST(write_same)
{
	uint8_t ws10[10] = { SCSI_OP_WRITE_SAME_10, 0, 0, 0, 0, 10, 0, 0, 4 };
	uint8_t ws16[16] = { SCSI_OP_WRITE_SAME_16, 0x08 };
	uint8_t blk[512];
	struct scsi_result r;
	unsigned int i;

	fill(blk, sizeof(blk), 3);
	r = RUN(0, ws10, blk, sizeof(blk), SCSI_DIR_OUT);
	expect_good(&r, 512, 512);
	for (i = 0; i < 4; i++)
		ck_assert_mem_eq(d0.mem + (10 + i) * 512, blk, 512);
	ck_assert_uint_eq(d0.mem[14 * 512], 0);

	/* UNMAP bit: a discard of the range */
	put64(ws16 + 2, 11);
	put32(ws16 + 10, 2);
	r = RUN(0, ws16, blk, sizeof(blk), SCSI_DIR_OUT);
	expect_good(&r, 512, 512);
	ck_assert_uint_eq(d0.discards, 1);
	ck_assert_uint_eq(d0.discard_off[0], 11 * 512);
	ck_assert_uint_eq(d0.discard_len[0], 2 * 512);
	ck_assert_uint_eq(d0.mem[11 * 512], 0);
	ck_assert_mem_eq(d0.mem + 13 * 512, blk, 512);

	/* the biggest plain WRITE SAME, batched */
	ws16[1] = 0;
	put64(ws16 + 2, 0);
	put32(ws16 + 10, 16384);
	r = RUN(2, ws16, blk, sizeof(blk), SCSI_DIR_OUT);
	expect_good(&r, 512, 512);
	ck_assert_uint_eq(d2.writes, 16384 / 64);
	put32(ws16 + 10, 16385);
	r = RUN(2, ws16, blk, sizeof(blk), SCSI_DIR_OUT);
	expect_illegal(&r, 0x24);
}
END_TEST

START_TEST(write_same_hostile)
{
	uint8_t ws10[10] = { SCSI_OP_WRITE_SAME_10, 0, 0, 0, 0, 0, 0, 0, 0 };
	uint8_t ws16[16] = { SCSI_OP_WRITE_SAME_16 };
	uint8_t blk[4096] = { 0 };
	struct scsi_result r;

	r = RUN(0, ws10, blk, 512, SCSI_DIR_OUT);		/* zero blocks, WSNZ */
	expect_illegal(&r, 0x24);
	ws10[8] = 1;
	r = RUN(0, ws10, blk, 511, SCSI_DIR_OUT);		/* less than a block */
	expect_illegal(&r, 0x24);
	ws10[1] = 0x10;						/* ANCHOR */
	r = RUN(0, ws10, blk, 512, SCSI_DIR_OUT);
	expect_illegal(&r, 0x24);
	ws10[1] = 0x08;						/* UNMAP, no discard op */
	r = RUN(1, ws10, blk, 4096, SCSI_DIR_OUT);
	expect_illegal(&r, 0x24);
	ws10[1] = 0;
	r = RUN(1, ws10, blk, 4096, SCSI_DIR_OUT);
	expect_sense(&r, SRB_STATUS_ERROR, SCSI_SENSE_DATA_PROTECT, 0x27, 0);
	ws16[1] = 0x01;						/* NDOB */
	ws16[13] = 1;
	r = RUN(0, ws16, blk, 512, SCSI_DIR_OUT);
	expect_illegal(&r, 0x24);
	ws16[1] = 0x08;
	put64(ws16 + 2, UINT64_MAX);
	r = RUN(0, ws16, blk, 512, SCSI_DIR_OUT);
	expect_illegal(&r, 0x21);
	ck_assert_uint_eq(d0.writes + d0.discards + d1.writes, 0);
}
END_TEST

static struct scsi_result unmap(unsigned int lun, const uint8_t *list, size_t plen,
				size_t buflen)
{
	uint8_t cdb[10] = { SCSI_OP_UNMAP, 0, 0, 0, 0, 0, 0,
			    (uint8_t)(plen >> 8), (uint8_t)plen };

	return run(lun, cdb, sizeof(cdb), (void *)list, buflen, SCSI_DIR_OUT);
}

static void unmap_desc(uint8_t *list, unsigned int i, uint64_t lba, uint32_t n)
{
	put64(list + 8 + i * 16, lba);
	put32(list + 8 + i * 16 + 8, n);
}

static void unmap_hdr(uint8_t *list, unsigned int count)
{
	unsigned int bdl = count * 16;

	list[0] = (uint8_t)((bdl + 6) >> 8);
	list[1] = (uint8_t)(bdl + 6);
	list[2] = (uint8_t)(bdl >> 8);
	list[3] = (uint8_t)bdl;
}

START_TEST(unmap_ok)
{
	uint8_t list[8 + 3 * 16 + 5] = { 0 };
	struct scsi_result r;

	memset(d0.mem, 0x77, L0_SIZE);
	unmap_hdr(list, 3);
	unmap_desc(list, 0, 4, 2);
	unmap_desc(list, 1, 100, 0);			/* empty: skipped */
	unmap_desc(list, 2, L0_BLOCKS - 1, 1);
	r = unmap(0, list, 8 + 48, 8 + 48);
	expect_good(&r, 56, 56);
	ck_assert_uint_eq(d0.discards, 2);
	ck_assert_uint_eq(d0.discard_off[0], 4 * 512);
	ck_assert_uint_eq(d0.discard_len[0], 2 * 512);
	ck_assert_uint_eq(d0.discard_off[1], (L0_BLOCKS - 1) * 512ull);
	ck_assert_uint_eq(d0.mem[4 * 512], 0);
	ck_assert_uint_eq(d0.mem[6 * 512], 0x77);

	/* block descriptor length larger than the list: clipped; a trailing
	 * partial descriptor is ignored */
	list[2] = 0xff;
	list[3] = 0xff;
	r = unmap(0, list, 8 + 16 + 5, sizeof(list));
	expect_good(&r, 29, sizeof(list));
	ck_assert_uint_eq(d0.discards, 3);

	/* a backend that cannot unmap is not an error */
	d0.fail_discard = -EOPNOTSUPP;
	r = unmap(0, list, 24, 24);
	expect_good(&r, 24, 24);
	d0.fail_discard = -EIO;
	r = unmap(0, list, 24, 24);
	expect_sense(&r, SRB_STATUS_ERROR, SCSI_SENSE_MEDIUM_ERROR, 0x0c, 0);

	/* zero parameter list: nothing */
	r = unmap(0, list, 0, 0);
	expect_good(&r, 0, 0);
	ck_assert_uint_eq(d0.discards, 5);
}
END_TEST

START_TEST(unmap_hostile)
{
	size_t big = 8 + (SCSI_TARGET_MAX_UNMAP_DESCRIPTORS + 1) * 16;
	uint8_t *list = calloc(1, big);
	uint8_t cdb[10] = { SCSI_OP_UNMAP, 1, 0, 0, 0, 0, 0, 0, 24 };
	struct scsi_result r;

	ck_assert_ptr_nonnull(list);
	r = unmap(0, list, 4, 4);				/* under the header */
	expect_illegal(&r, 0x1a);
	r = unmap(0, list, 24, 16);				/* list > buffer */
	expect_illegal(&r, 0x24);
	r = RUN(0, cdb, list, 24, SCSI_DIR_OUT);		/* ANCHOR */
	expect_illegal(&r, 0x24);

	unmap_hdr(list, SCSI_TARGET_MAX_UNMAP_DESCRIPTORS + 1);	/* too many */
	r = unmap(0, list, big, big);
	expect_illegal(&r, 0x26);

	/* one good range then a bad one: nothing is discarded */
	unmap_hdr(list, 2);
	unmap_desc(list, 0, 0, 1);
	unmap_desc(list, 1, L0_BLOCKS, 1);
	r = unmap(0, list, 40, 40);
	expect_illegal(&r, 0x21);
	unmap_desc(list, 1, UINT64_MAX - 0xf, 0x20);		/* wraps 64 bits */
	r = unmap(0, list, 40, 40);
	expect_illegal(&r, 0x21);
	unmap_desc(list, 1, 1, 0xffffffffu);
	r = unmap(0, list, 40, 40);
	expect_illegal(&r, 0x21);
	ck_assert_uint_eq(d0.discards, 0);

	/* no discard op, read-only */
	unmap_desc(list, 1, 1, 1);
	r = unmap(1, list, 40, 40);
	expect_illegal(&r, 0x20);
	free(list);
}
END_TEST

/* ---- Decode API ----------------------------------------------------------------------- */

START_TEST(decode_plan)
{
	struct scsi_io_plan p;
	struct scsi_result r;
	uint8_t cdb[16];
	uint8_t inq[6] = { SCSI_OP_INQUIRY, 0, 0, 0, 36, 0 };
	uint8_t tur[6] = { SCSI_OP_TEST_UNIT_READY };
	uint8_t ws[16] = { SCSI_OP_WRITE_SAME_16, 0x08, [9] = 4, [13] = 2 };
	uint8_t rs[6] = { SCSI_OP_REQUEST_SENSE, 0, 0, 0, 18, 0 };
	uint8_t b[18];
	struct scsi_data data = scsi_data_flat(b, sizeof(b));

	make_rw(cdb, 16, true, 40, 3, SCSI_RW_FUA);
	ck_assert_int_eq(scsi_target_decode(tgt, 0, cdb, 16, 2048, SCSI_DIR_OUT, &p, &r),
			 SCSI_PLAN_WRITE);
	ck_assert_uint_eq(p.lba, 40);
	ck_assert_uint_eq(p.blocks, 3);
	ck_assert_uint_eq(p.offset, 40 * 512);
	ck_assert_uint_eq(p.len, 1536);
	ck_assert_uint_eq(p.xfer, 1536);
	ck_assert(p.fua);
	ck_assert_int_eq(scsi_target_complete_io(tgt, &p, 0, &r), 0);
	expect_good(&r, 1536, 2048);
	ck_assert_uint_eq(d0.writes, 0);			/* caller did the I/O */

	make_rw(cdb, 10, false, 1, 1, 0);
	ck_assert_int_eq(scsi_target_decode(tgt, 0, cdb, 10, 512, SCSI_DIR_IN, &p, &r),
			 SCSI_PLAN_READ);
	ck_assert(!p.fua);
	ck_assert_int_eq(scsi_target_complete_io(tgt, &p, -EIO, &r), 0);
	expect_sense(&r, SRB_STATUS_ERROR, SCSI_SENSE_MEDIUM_ERROR, 0x11, 0);
	/* and the error is what REQUEST SENSE reports next */
	ck_assert_int_eq(scsi_target_execute(tgt, 0, rs, 6, &data, 18, SCSI_DIR_IN, &r), 0);
	ck_assert_uint_eq(b[2], SCSI_SENSE_MEDIUM_ERROR);
	ck_assert_uint_eq(b[12], 0x11);

	ck_assert_int_eq(scsi_target_decode(tgt, 0, ws, 16, 512, SCSI_DIR_OUT, &p, &r),
			 SCSI_PLAN_DISCARD);
	ck_assert_uint_eq(p.offset, 4 * 512);
	ck_assert_uint_eq(p.len, 2 * 512);

	ck_assert_int_eq(scsi_target_decode(tgt, 0, inq, 6, 36, SCSI_DIR_IN, &p, &r),
			 SCSI_PLAN_EMULATE);
	ck_assert_int_eq(scsi_target_complete_io(tgt, &p, 0, &r), -EINVAL);
	ck_assert_int_eq(scsi_target_decode(tgt, 0, tur, 6, 0, SCSI_DIR_NONE, &p, &r),
			 SCSI_PLAN_DONE);
	expect_good(&r, 0, 0);
	ck_assert_int_eq(scsi_target_execute_plan(tgt, &p, NULL, &r), -EINVAL);
	ck_assert_int_eq(scsi_target_decode(NULL, 0, tur, 6, 0, SCSI_DIR_NONE, &p, &r),
			 -EINVAL);

	/* the plan holds its own copy of the CDB */
	make_rw(cdb, 10, false, 2, 1, 0);
	ck_assert_int_eq(scsi_target_decode(tgt, 0, cdb, 10, 512, SCSI_DIR_IN, &p, &r),
			 SCSI_PLAN_READ);
	memset(cdb, 0xff, sizeof(cdb));
	ck_assert_uint_eq(p.cdb[0], SCSI_OP_READ_10);
	ck_assert_uint_eq(p.lba, 2);
}
END_TEST

START_TEST(lun_management)
{
	struct scsi_disk_info info = { .size = 4096, .block_size = 512 };
	struct scsi_disk_ops no_read = { .write = rd_write };

	ck_assert_int_eq(scsi_target_add_lun(tgt, 0, &info, &full_ops, &d0), -EEXIST);
	ck_assert_int_eq(scsi_target_add_lun(tgt, 256, &info, &full_ops, &d0), -EINVAL);
	ck_assert_int_eq(scsi_target_add_lun(tgt, 3, &info, &no_read, &d0), -EINVAL);
	info.block_size = 1024;
	ck_assert_int_eq(scsi_target_add_lun(tgt, 3, &info, &full_ops, &d0), -EINVAL);
	info.block_size = 4096;
	info.size = 6000;
	ck_assert_int_eq(scsi_target_add_lun(tgt, 3, &info, &full_ops, &d0), -EINVAL);
	info.size = 0;
	ck_assert_int_eq(scsi_target_add_lun(tgt, 3, &info, &full_ops, &d0), -EINVAL);
	info.size = 8192;
	info.max_transfer = 100;
	ck_assert_int_eq(scsi_target_add_lun(tgt, 3, &info, &full_ops, &d0), -EINVAL);
	info.max_transfer = 0;
	ck_assert(!scsi_target_has_lun(tgt, 3));
	ck_assert_int_eq(scsi_target_add_lun(tgt, 3, &info, &full_ops, &d0), 0);
	ck_assert(scsi_target_has_lun(tgt, 3));
	ck_assert_int_eq(scsi_target_remove_lun(tgt, 3), 0);
	ck_assert_int_eq(scsi_target_remove_lun(tgt, 3), -ENOENT);
	ck_assert(!scsi_target_has_lun(tgt, 3));
	ck_assert(!scsi_target_has_lun(tgt, 1000));
}
END_TEST

static int log_lines;

static void count_log(void *opaque, int level, const char *fmt, va_list ap)
{
	(void)opaque;
	(void)fmt;
	(void)ap;
	if (level == VMBUS_LOG_WARN)
		log_lines++;
}

START_TEST(errors_logged_and_ro_discard)
{
	struct vmbus_log log = { .fn = count_log };
	struct scsi_disk_info info = { .size = 8192, .block_size = 512, .read_only = true };
	uint8_t ws10[10] = { SCSI_OP_WRITE_SAME_10, 0, 0, 0, 0, 0, 0, 0, 2 };
	uint8_t list[24] = { 0, 22, 0, 16, [15] = 1, [19] = 1 };
	uint8_t cdb[16], blk[512] = { 0 };
	struct scsi_target *t2 = scsi_target_new(&log);
	struct scsi_data data = scsi_data_flat(blk, sizeof(blk));
	struct scsi_io_plan p;
	struct scsi_result r;

	/* a failing WRITE SAME is a write error, and is logged */
	ck_assert_ptr_nonnull(t2);
	ck_assert_int_eq(scsi_target_add_lun(t2, 0, &info, &full_ops, &d0), 0);
	info.read_only = false;
	ck_assert_int_eq(scsi_target_add_lun(t2, 1, &info, &full_ops, &d0), 0);
	d0.fail_write = -EIO;
	log_lines = 0;
	ck_assert_int_eq(scsi_target_execute(t2, 1, ws10, 10, &data, 512, SCSI_DIR_OUT, &r), 0);
	expect_sense(&r, SRB_STATUS_ERROR, SCSI_SENSE_MEDIUM_ERROR, 0x0c, 0);
	ck_assert_int_eq(log_lines, 1);

	/* UNMAP on a read-only LUN that could discard */
	data = scsi_data_flat(list, sizeof(list));
	cdb[0] = SCSI_OP_UNMAP;
	memset(cdb + 1, 0, 15);
	cdb[8] = 24;
	ck_assert_int_eq(scsi_target_execute(t2, 0, cdb, 10, &data, 24, SCSI_DIR_OUT, &r), 0);
	expect_sense(&r, SRB_STATUS_ERROR, SCSI_SENSE_DATA_PROTECT, 0x27, 0);
	ck_assert_uint_eq(d0.discards, 0);

	/* a LUN that went away between decode and execution */
	make_rw(cdb, 10, false, 0, 1, 0);
	data = scsi_data_flat(blk, sizeof(blk));
	ck_assert_int_eq(scsi_target_decode(t2, 1, cdb, 10, 512, SCSI_DIR_IN, &p, &r),
			 SCSI_PLAN_READ);
	ck_assert_int_eq(scsi_target_remove_lun(t2, 1), 0);
	ck_assert_int_eq(scsi_target_execute_plan(t2, &p, &data, &r), 0);
	expect_sense(&r, SRB_STATUS_INVALID_LUN, SCSI_SENSE_ILLEGAL_REQUEST, 0x25, 0);
	ck_assert_uint_eq(d0.reads, 0);
	scsi_target_free(t2);
}
END_TEST

static Suite *scsi_suite(void)
{
	Suite *s = suite_create("scsi_target");
	TCase *tc = tcase_create("commands");
	TCase *th = tcase_create("hostile");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_checked_fixture(th, setup, teardown);
	tcase_add_test(tc, inquiry_standard);
	tcase_add_test(tc, inquiry_missing_lun);
	tcase_add_test(tc, vpd_pages);
	tcase_add_test(tc, read_capacity);
	tcase_add_test(tc, report_luns);
	tcase_add_test(tc, read_write_roundtrip);
	tcase_add_test(tc, read6_zero_means_256);
	tcase_add_test(tc, read_write_iovec);
	tcase_add_test(tc, fua_reaches_backend);
	tcase_add_test(tc, sync_cache_verify_unit);
	tcase_add_test(tc, request_sense);
	tcase_add_test(tc, mode_sense);
	tcase_add_test(tc, mode_select);
	tcase_add_test(tc, write_same);
	tcase_add_test(tc, unmap_ok);
	tcase_add_test(tc, decode_plan);
	tcase_add_test(tc, lun_management);
	tcase_add_test(th, inquiry_bad_fields);
	tcase_add_test(th, read_capacity_hostile);
	tcase_add_test(th, write_protected);
	tcase_add_test(th, rw_hostile);
	tcase_add_test(th, io_errors);
	tcase_add_test(th, unknown_and_missing);
	tcase_add_test(th, mode_sense_hostile);
	tcase_add_test(th, mode_select_hostile);
	tcase_add_test(th, write_same_hostile);
	tcase_add_test(th, unmap_hostile);
	tcase_add_test(th, errors_logged_and_ro_discard);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, th);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(scsi_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
