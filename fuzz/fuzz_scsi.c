/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the storvsp SCSI target (vsp/storvsp/scsi_target.c):
 * random CDBs, data lengths, directions and buffer shapes against two RAM
 * LUNs (LUN 0 writable with flush and discard, LUN 1 read-only) and a missing
 * LUN. Buffers are allocated at their exact size so the sanitizers catch any
 * access outside them; the disk ops trap on any access outside the disk.
 *
 * Input: lun(1) dir(1) cdb_len(1) data_len(2, LE) shape(1) err(1)
 *        cdb(16) data(rest). CDB layouts: T10 SPC-4 / SBC-3.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <vmbus/scsi_target.h>

#define HDR_LEN		(7 + 16)
#define L0_SIZE		(64u * 1024u)
#define L1_SIZE		(8u * 4096u)

struct fdisk {
	uint8_t *mem;
	uint64_t size;
	int err;
};

static uint8_t mem0[L0_SIZE], mem1[L1_SIZE];

static void bounds(const struct fdisk *d, uint64_t off, uint64_t len)
{
	if (off > d->size || len > d->size - off)
		__builtin_trap();
}

static int f_read(void *ctx, uint64_t off, const struct iovec *iov, unsigned int cnt,
		  size_t len)
{
	struct fdisk *d = ctx;
	unsigned int i;

	bounds(d, off, len);
	for (i = 0; i < cnt && len; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		memcpy(iov[i].iov_base, d->mem + off, n);
		off += n;
		len -= n;
	}
	if (len)
		__builtin_trap();		/* the target promised enough buffer */
	return d->err;
}

static int f_write(void *ctx, uint64_t off, const struct iovec *iov, unsigned int cnt,
		   size_t len, bool fua)
{
	struct fdisk *d = ctx;
	unsigned int i;

	(void)fua;
	bounds(d, off, len);
	for (i = 0; i < cnt && len; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		memcpy(d->mem + off, iov[i].iov_base, n);
		off += n;
		len -= n;
	}
	if (len)
		__builtin_trap();
	return d->err;
}

static int f_flush(void *ctx)
{
	return ((struct fdisk *)ctx)->err;
}

static int f_discard(void *ctx, uint64_t off, uint64_t len)
{
	struct fdisk *d = ctx;

	bounds(d, off, len);
	memset(d->mem + off, 0, len);
	return d->err;
}

static const struct scsi_disk_ops ops0 = {
	.read = f_read, .write = f_write, .flush = f_flush, .discard = f_discard,
};
static const struct scsi_disk_ops ops1 = { .read = f_read, .write = f_write };

static void check_result(const struct scsi_result *r, size_t data_len)
{
	if (r->sense_len != 0 && r->sense_len != SCSI_SENSE_FIXED_LEN)
		__builtin_trap();
	if (r->status == SCSI_STATUS_GOOD && r->sense_len)
		__builtin_trap();
	if (r->transferred > data_len || r->transferred + r->residual != data_len)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	static const unsigned int luns[4] = { 0, 1, 5, 0 };
	struct fdisk d0 = { mem0, L0_SIZE, 0 }, d1 = { mem1, L1_SIZE, 0 };
	struct scsi_disk_info i0 = { .size = L0_SIZE, .block_size = 512,
				     .max_transfer = 16384, .serial = "F0", .naa = 1 };
	struct scsi_disk_info i1 = { .size = L1_SIZE, .block_size = 4096, .read_only = true };
	struct iovec iov[4];
	uint8_t *seg[4] = { NULL };
	uint8_t cdb[20] = { 0 };
	struct scsi_target *t;
	struct scsi_result r;
	struct scsi_data data;
	size_t data_len, have, cdb_len, i;
	unsigned int lun, nseg;
	enum scsi_dir dir;
	uint8_t shape;

	if (size < HDR_LEN)
		return 0;
	lun = luns[in[0] & 3];
	dir = (enum scsi_dir)(in[1] & 3);
	cdb_len = in[2] % 21;
	data_len = (size_t)in[3] | ((size_t)in[4] << 8);
	shape = in[5];
	d0.err = d1.err = (in[6] & 0x80) ? -EIO : 0;
	memcpy(cdb, in + 7, 16);
	in += HDR_LEN;
	size -= HDR_LEN;

	/* Buffer shape: 1..4 segments; with bit 2 set they hold less than
	 * data_len, as a lying initiator's GPA list would. */
	nseg = (shape & 3) + 1;
	have = (shape & 4) ? data_len / 2 : data_len;
	for (i = 0; i < nseg; i++) {
		size_t n = i + 1 < nseg ? have / nseg : have - (have / nseg) * (nseg - 1);
		size_t c = n < size ? n : size;

		seg[i] = malloc(n ? n : 1);
		if (!seg[i])
			goto out;
		memset(seg[i], 0, n);
		memcpy(seg[i], in, c);
		in += c;
		size -= c;
		iov[i].iov_base = seg[i];
		iov[i].iov_len = n;
	}
	data = nseg == 1 && !(shape & 8) ? scsi_data_flat(seg[0], iov[0].iov_len)
					  : scsi_data_iov(iov, nseg);

	t = scsi_target_new(NULL);
	if (!t)
		goto out;
	if (scsi_target_add_lun(t, 0, &i0, &ops0, &d0) ||
	    scsi_target_add_lun(t, 1, &i1, &ops1, &d1))
		__builtin_trap();

	if (shape & 0x10) {
		/* the split path an asynchronous backend takes */
		struct scsi_io_plan p;
		int op = scsi_target_decode(t, lun, cdb, cdb_len, data_len, dir, &p, &r);

		if (op < 0)
			__builtin_trap();
		if (op == SCSI_PLAN_EMULATE || ((shape & 0x20) && op != SCSI_PLAN_DONE)) {
			if (scsi_target_execute_plan(t, &p, &data, &r))
				__builtin_trap();
		} else if (op != SCSI_PLAN_DONE) {
			if (p.len > (op == SCSI_PLAN_DISCARD || op == SCSI_PLAN_FLUSH
				     ? UINT64_MAX : p.data_len))
				__builtin_trap();
			if (scsi_target_complete_io(t, &p, d0.err, &r))
				__builtin_trap();
		}
		check_result(&r, p.data_len);
	} else {
		if (scsi_target_execute(t, lun, cdb, cdb_len, &data, data_len, dir, &r))
			__builtin_trap();
		check_result(&r, dir == SCSI_DIR_NONE ? 0 : data_len);
	}
	scsi_target_free(t);
out:
	for (i = 0; i < 4; i++)
		free(seg[i]);
	return 0;
}
