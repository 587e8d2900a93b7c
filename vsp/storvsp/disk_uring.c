/* SPDX-License-Identifier: MIT */
/*
 * File backend of storvsp disks (raw images, fixed VHDs, block devices):
 * synchronous scsi_disk_ops with preadv/pwritev2/fdatasync/fallocate, and
 * the io_uring SQE preparation the per-channel queue (ioq.c) uses.
 *
 * Two descriptors per image: a buffered one that always works and an
 * O_DIRECT one used when a request meets the alignment statx(2) reports
 * (STATX_DIOALIGN, Linux 6.1; Documentation/filesystems/direct-io in the
 * kernel tree). Opcodes: liburing 2.3 io_uring_prep_readv/writev/fsync/
 * fallocate; FUA maps to RWF_DSYNC (preadv2(2)).
 *
 * A fixed VHD's footer lies past the guest-visible size, so every request
 * is checked against that size here too: it is never read or written.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "disk.h"

/* iovecs trimmed on the stack by the synchronous path before it allocates. */
#define SYNC_IOV_STACK		32u

#define PUNCH_MODE		(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)

/* ---- Synchronous ops -------------------------------------------------------- */

/* Trimmed copy of the caller's iovecs (so len bounds what is touched). */
static int sync_iov(const struct iovec *iov, unsigned int cnt, uint64_t len,
		    struct iovec *stack, struct iovec **out)
{
	int n = disk_iov_count(iov, cnt, len);
	struct iovec *v = stack;

	if (n < 0)
		return n;
	if ((unsigned int)n > SYNC_IOV_STACK) {
		v = calloc((size_t)n, sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	*out = v;
	return disk_iov_trim(v, (unsigned int)n, iov, cnt, len);
}

/* Move the whole window, retrying short transfers; a transfer of zero
 * bytes means the file shrank under us. */
static int sync_rw(struct storvsp_disk *d, bool write, uint64_t off,
		   struct iovec *v, unsigned int n, uint64_t len, bool fua)
{
	while (len) {
		unsigned int cnt = n > DISK_IOV_MAX ? DISK_IOV_MAX : n;
		ssize_t r;

		if (write)
			r = pwritev2(d->fd, v, (int)cnt, (off_t)off, fua ? RWF_DSYNC : 0);
		else
			r = preadv(d->fd, v, (int)cnt, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		off += (uint64_t)r;
		len -= (uint64_t)r;
		disk_iov_advance(&v, &n, (uint64_t)r);
	}
	return 0;
}

static int file_io(struct storvsp_disk *d, bool write, uint64_t off,
		   const struct iovec *iov, unsigned int cnt, size_t len, bool fua)
{
	struct iovec stack[SYNC_IOV_STACK], *v = NULL;
	int n, err;

	err = disk_check_range(d, off, len);
	if (err) {
		vmbus_logf(&d->log, VMBUS_LOG_ERR,
			   "storvsp disk %s: refused %s of %zu bytes at %llu",
			   d->path, write ? "write" : "read", len, (unsigned long long)off);
		return err;
	}
	if (write && d->read_only)
		return -EROFS;
	n = sync_iov(iov, cnt, len, stack, &v);
	if (n < 0)
		return n;
	err = sync_rw(d, write, off, v, (unsigned int)n, len, fua);
	if (v != stack)
		free(v);
	return err;
}

static int file_read(void *ctx, uint64_t off, const struct iovec *iov,
		     unsigned int cnt, size_t len)
{
	return file_io(ctx, false, off, iov, cnt, len, false);
}

static int file_write(void *ctx, uint64_t off, const struct iovec *iov,
		      unsigned int cnt, size_t len, bool fua)
{
	return file_io(ctx, true, off, iov, cnt, len, fua);
}

static int file_flush(void *ctx)
{
	struct storvsp_disk *d = ctx;

	return fdatasync(d->fd) < 0 ? -errno : 0;
}

static int file_discard(void *ctx, uint64_t off, uint64_t len)
{
	struct storvsp_disk *d = ctx;
	int err = disk_check_range(d, off, len);

	if (err)
		return err;
	if (d->read_only)
		return -EROFS;
	if (fallocate(d->fd, PUNCH_MODE, (off_t)off, (off_t)len) == 0)
		return 0;
	/* Discard is a hint (the target reports no LBPRZ): a filesystem that
	 * cannot punch holes simply keeps the data. */
	return errno == EOPNOTSUPP ? 0 : -errno;
}

static const struct scsi_disk_ops file_ops_rw = {
	.read = file_read,
	.write = file_write,
	.flush = file_flush,
	.discard = file_discard,
};

static const struct scsi_disk_ops file_ops_ro = {
	.read = file_read,
	.write = file_write,
};

/* ---- Setup ------------------------------------------------------------------ */

/* Learn what O_DIRECT needs on this file. Returns false when it is not
 * usable at all. */
static bool dio_alignment(struct storvsp_disk *d, int dfd)
{
	struct statx stx;
	struct stat st;
	int bs;

	memset(&stx, 0, sizeof(stx));
	if (statx(dfd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN)) {
		if (!stx.stx_dio_offset_align || !stx.stx_dio_mem_align)
			return false;
		d->dio_len_align = stx.stx_dio_offset_align;
		d->dio_mem_align = stx.stx_dio_mem_align;
		return true;
	}
	if (fstat(dfd, &st) == 0 && S_ISBLK(st.st_mode) &&
	    ioctl(dfd, BLKSSZGET, &bs) == 0 && bs > 0) {
		d->dio_len_align = (uint32_t)bs;
		d->dio_mem_align = (uint32_t)bs;
		return true;
	}
	/* An older kernel that cannot tell: a page satisfies every
	 * filesystem Linux has. */
	d->dio_len_align = 4096;
	d->dio_mem_align = 4096;
	return true;
}

static bool pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* Open the O_DIRECT twin of d->fd, making sure the path still names the
 * same file (it could have been replaced between the two opens). */
static void open_direct(struct storvsp_disk *d)
{
	struct stat a, b;
	int dfd;

	dfd = open(d->path, (d->read_only ? O_RDONLY : O_RDWR) | O_DIRECT | O_CLOEXEC);
	if (dfd < 0) {
		vmbus_logf(&d->log, VMBUS_LOG_DEBUG,
			   "storvsp disk %s: no O_DIRECT (%s), buffered I/O only",
			   d->path, strerror(errno));
		return;
	}
	if (fstat(d->fd, &a) < 0 || fstat(dfd, &b) < 0 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino ||
	    !dio_alignment(d, dfd) || !pow2(d->dio_len_align) || !pow2(d->dio_mem_align)) {
		close(dfd);
		return;
	}
	d->dfd = dfd;
}

int disk_file_init(struct storvsp_disk *d, int fd)
{
	d->fd = fd;
	d->dfd = -1;
	d->ops = d->read_only ? &file_ops_ro : &file_ops_rw;
	open_direct(d);
	return 0;
}

void disk_file_fini(struct storvsp_disk *d)
{
	if (d->dfd >= 0)
		close(d->dfd);
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	d->dfd = -1;
}

/* ---- io_uring --------------------------------------------------------------- */

static bool aligned(uint64_t v, uint32_t a)
{
	return (v & (a - 1)) == 0;
}

static bool can_direct(const struct ioq_req *r)
{
	const struct storvsp_disk *d = r->disk;
	unsigned int i;

	if (d->dfd < 0 || r->no_direct)
		return false;
	if (!aligned(r->offset, d->dio_len_align) || !aligned(r->len, d->dio_len_align))
		return false;
	for (i = 0; i < r->iovcnt; i++) {
		if (!aligned((uintptr_t)r->iov[i].iov_base, d->dio_mem_align) ||
		    !aligned(r->iov[i].iov_len, d->dio_len_align))
			return false;
	}
	return true;
}

void disk_uring_prep(struct ioq_req *r, struct io_uring_sqe *sqe)
{
	const struct storvsp_disk *d = r->disk;
	int fd;

	r->direct = false;
	switch (r->op) {
	case STORVSP_IO_READ:
	case STORVSP_IO_WRITE:
		r->direct = can_direct(r);
		fd = r->direct ? d->dfd : d->fd;
		if (r->op == STORVSP_IO_READ) {
			io_uring_prep_readv(sqe, fd, r->iov, r->iovcnt, r->offset);
		} else {
			io_uring_prep_writev(sqe, fd, r->iov, r->iovcnt, r->offset);
			sqe->rw_flags = r->fua ? RWF_DSYNC : 0;
		}
		break;
	case STORVSP_IO_FLUSH:
		io_uring_prep_fsync(sqe, d->fd, IORING_FSYNC_DATASYNC);
		break;
	case STORVSP_IO_DISCARD:
		io_uring_prep_fallocate(sqe, d->fd, PUNCH_MODE, r->offset, r->len);
		break;
	}
	io_uring_sqe_set_data(sqe, r);
}
