/* SPDX-License-Identifier: MIT */
/*
 * Opening storvsp disk images: parse "PATH[,ro][,raw]", probe the format,
 * validate a VHD footer, derive the SCSI identity, then hand the image to
 * the file backend (disk_uring.c) or the libvhdi backend (disk_vhdi.c).
 *
 * Formats: the VHD footer layout and checksum come from Microsoft's
 * "Virtual Hard Disk Image Format Specification" 1.0 (Hard Disk Footer
 * Format: cookie "conectix" at 0, data offset at 16, current size at 48,
 * disk type at 60, checksum at 64, all big-endian); the VHDX file type
 * identifier "vhdxfile" at offset 0 comes from MS-VHDX section 2.2.1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk.h"

#define VHD_FOOTER_SIZE		512u
#define VHD_OFF_DATA_OFFSET	16u
#define VHD_OFF_CURRENT_SIZE	48u
#define VHD_OFF_DISK_TYPE	60u
#define VHD_OFF_CHECKSUM	64u
#define VHD_TYPE_FIXED		2u
#define VHD_TYPE_DYNAMIC	3u
#define VHD_TYPE_DIFF		4u

static const char vhd_cookie[8] = { 'c', 'o', 'n', 'e', 'c', 't', 'i', 'x' };
static const char vhdx_sig[8] = { 'v', 'h', 'd', 'x', 'f', 'i', 'l', 'e' };

/* ---- Small helpers shared by the backends ---------------------------------- */

int disk_check_range(const struct storvsp_disk *d, uint64_t offset, uint64_t len)
{
	uint64_t mask = d->block_size - 1;

	if (len == 0 || (offset & mask) || (len & mask))
		return -EINVAL;
	if (offset > d->size || len > d->size - offset)
		return -EIO;
	return 0;
}

int disk_iov_count(const struct iovec *iov, unsigned int iovcnt, uint64_t len)
{
	unsigned int i;
	int n = 0;

	for (i = 0; i < iovcnt && len; i++) {
		if (!iov[i].iov_len)
			continue;
		len -= iov[i].iov_len < len ? iov[i].iov_len : len;
		if (n == INT_MAX)
			return -E2BIG;
		n++;
	}
	return len ? -EINVAL : n;
}

int disk_iov_trim(struct iovec *dst, unsigned int dst_max,
		  const struct iovec *iov, unsigned int iovcnt, uint64_t len)
{
	unsigned int i, n = 0;

	for (i = 0; i < iovcnt && len; i++) {
		size_t l = iov[i].iov_len;

		if (!l)
			continue;
		if (n == dst_max)
			return -E2BIG;
		if (l > len)
			l = (size_t)len;
		dst[n].iov_base = iov[i].iov_base;
		dst[n].iov_len = l;
		n++;
		len -= l;
	}
	return len ? -EINVAL : (int)n;
}

void disk_iov_advance(struct iovec **iov, unsigned int *iovcnt, uint64_t n)
{
	struct iovec *v = *iov;
	unsigned int cnt = *iovcnt;

	while (cnt && n >= v->iov_len) {
		n -= v->iov_len;
		v++;
		cnt--;
	}
	if (cnt && n) {
		v->iov_base = (char *)v->iov_base + n;
		v->iov_len -= n;
	}
	*iov = v;
	*iovcnt = cnt;
}

/* ---- Probing ---------------------------------------------------------------- */

static uint32_t get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return ((uint64_t)get_be32(p) << 32) | get_be32(p + 4);
}

static int read_exact(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* The footer checksum is the one's complement of the byte sum with the
 * checksum field itself counted as zero. */
static uint32_t vhd_checksum(const uint8_t *f)
{
	uint32_t sum = 0;
	unsigned int i;

	for (i = 0; i < VHD_FOOTER_SIZE; i++)
		if (i < VHD_OFF_CHECKSUM || i >= VHD_OFF_CHECKSUM + 4)
			sum += f[i];
	return ~sum;
}

/*
 * Decide the format from the first and last bytes of the file. For a fixed
 * VHD also set the guest size, after checking the footer agrees with the
 * file: the data must end exactly where the footer starts.
 */
static int probe(struct storvsp_disk *d, int fd, uint64_t fsize)
{
	uint8_t head[8] = { 0 }, foot[VHD_FOOTER_SIZE];
	bool head_vhd;
	uint32_t type;
	uint64_t cur;
	int err;

	if (fsize >= sizeof(head)) {
		err = read_exact(fd, head, sizeof(head), 0);
		if (err)
			goto io_error;
	}
	if (!memcmp(head, vhdx_sig, sizeof(vhdx_sig))) {
		d->format = STORVSP_DISK_VHDX;
		return 0;
	}
	head_vhd = !memcmp(head, vhd_cookie, sizeof(vhd_cookie));
	if (fsize < VHD_FOOTER_SIZE) {
		if (head_vhd)
			goto corrupt_missing;
		d->format = STORVSP_DISK_RAW;
		return 0;
	}
	err = read_exact(fd, foot, sizeof(foot), fsize - VHD_FOOTER_SIZE);
	if (err)
		goto io_error;
	if (memcmp(foot, vhd_cookie, sizeof(vhd_cookie))) {
		/* A dynamic VHD keeps a copy of the footer at 0: the one at
		 * the end is missing, so the image was truncated. */
		if (head_vhd)
			goto corrupt_missing;
		d->format = STORVSP_DISK_RAW;
		return 0;
	}
	if (get_be32(foot + VHD_OFF_CHECKSUM) != vhd_checksum(foot)) {
		vmbus_logf(&d->log, VMBUS_LOG_ERR,
			   "storvsp disk %s: VHD footer checksum mismatch (corrupt image)",
			   d->path);
		return -EBADMSG;
	}
	type = get_be32(foot + VHD_OFF_DISK_TYPE);
	cur = get_be64(foot + VHD_OFF_CURRENT_SIZE);
	switch (type) {
	case VHD_TYPE_FIXED:
		if (get_be64(foot + VHD_OFF_DATA_OFFSET) != UINT64_MAX ||
		    cur != fsize - VHD_FOOTER_SIZE) {
			vmbus_logf(&d->log, VMBUS_LOG_ERR,
				   "storvsp disk %s: fixed VHD footer says %llu bytes, file holds %llu (corrupt image)",
				   d->path, (unsigned long long)cur,
				   (unsigned long long)(fsize - VHD_FOOTER_SIZE));
			return -EBADMSG;
		}
		d->format = STORVSP_DISK_VHD_FIXED;
		d->size = cur;
		return 0;
	case VHD_TYPE_DYNAMIC:
	case VHD_TYPE_DIFF:
		if (!head_vhd)
			goto corrupt_missing;
		d->format = type == VHD_TYPE_DIFF ? STORVSP_DISK_VHD_DIFF
						  : STORVSP_DISK_VHD_DYNAMIC;
		return 0;
	default:
		vmbus_logf(&d->log, VMBUS_LOG_ERR,
			   "storvsp disk %s: unsupported VHD disk type %u", d->path, type);
		return -EINVAL;
	}

corrupt_missing:
	vmbus_logf(&d->log, VMBUS_LOG_ERR,
		   "storvsp disk %s: VHD header without a footer at the end (corrupt image)",
		   d->path);
	return -EBADMSG;
io_error:
	vmbus_logf(&d->log, VMBUS_LOG_ERR, "storvsp disk %s: cannot read: %s",
		   d->path, strerror(-err));
	return err;
}

/* ---- Identity --------------------------------------------------------------- */

static uint64_t fnv1a(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len--) {
		h ^= *b++;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Stable across restarts of the host for the same file, different for two
 * files: the guest uses the serial and NAA to recognise its disks. */
static void make_identity(struct storvsp_disk *d, const struct stat *st)
{
	uint64_t h = 0xcbf29ce484222325ull, dev = st->st_dev, ino = st->st_ino;
	char *real = realpath(d->path, NULL);
	const char *p = real ? real : d->path;

	h = fnv1a(h, &dev, sizeof(dev));
	h = fnv1a(h, &ino, sizeof(ino));
	h = fnv1a(h, p, strlen(p));
	free(real);
	snprintf(d->serial, sizeof(d->serial), "%016llX", (unsigned long long)h);
	/* NAA 3: locally assigned, the other 60 bits are ours. */
	d->naa = (3ull << 60) | (h & 0x0fffffffffffffffull);
}

/* ---- Spec ------------------------------------------------------------------- */

static int parse_spec(struct storvsp_disk *d, const char *spec, bool *ro, bool *raw)
{
	const char *comma = strchr(spec, ',');
	size_t plen = comma ? (size_t)(comma - spec) : strlen(spec);

	*ro = false;
	*raw = false;
	if (plen == 0)
		return -EINVAL;
	d->path = strndup(spec, plen);
	if (!d->path)
		return -ENOMEM;
	while (comma) {
		const char *opt = comma + 1;
		size_t olen;

		comma = strchr(opt, ',');
		olen = comma ? (size_t)(comma - opt) : strlen(opt);
		if (olen == 2 && !memcmp(opt, "ro", 2)) {
			*ro = true;
		} else if (olen == 3 && !memcmp(opt, "raw", 3)) {
			*raw = true;
		} else {
			vmbus_logf(&d->log, VMBUS_LOG_ERR,
				   "storvsp disk %s: unknown option '%.*s'",
				   d->path, (int)olen, opt);
			return -EINVAL;
		}
	}
	return 0;
}

static int file_size(struct storvsp_disk *d, int fd, const struct stat *st, uint64_t *size)
{
	if (S_ISREG(st->st_mode)) {
		*size = (uint64_t)st->st_size;
		return 0;
	}
	if (S_ISBLK(st->st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size) == 0)
			return 0;
		return -errno;
	}
	vmbus_logf(&d->log, VMBUS_LOG_ERR,
		   "storvsp disk %s: not a regular file or block device", d->path);
	return -EINVAL;
}

static bool is_vhdi_format(enum storvsp_disk_format f)
{
	return f == STORVSP_DISK_VHD_DYNAMIC || f == STORVSP_DISK_VHD_DIFF ||
	       f == STORVSP_DISK_VHDX;
}

/* ---- Public ----------------------------------------------------------------- */

int storvsp_disk_open(const char *spec, const struct vmbus_log *log,
		      struct storvsp_disk **out)
{
	struct storvsp_disk *d;
	struct stat st;
	uint64_t fsize = 0;
	bool ro, raw;
	int fd, err, open_err = 0;

	if (!spec || !out)
		return -EINVAL;
	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	if (log)
		d->log = *log;
	d->fd = -1;
	d->dfd = -1;
	d->block_size = 512;
	err = parse_spec(d, spec, &ro, &raw);
	if (err) {
		if (err == -EINVAL && d->path == NULL)
			vmbus_logf(&d->log, VMBUS_LOG_ERR, "storvsp disk: empty path in '%s'", spec);
		goto fail;
	}
	fd = open(d->path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0 && !ro && (errno == EACCES || errno == EROFS)) {
		/* Maybe an image libvhdi serves read-only anyway: probe it
		 * read-only and refuse below if it is not one. */
		open_err = -errno;
		fd = open(d->path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		err = -errno;
		vmbus_logf(&d->log, VMBUS_LOG_ERR, "storvsp disk %s: cannot open: %s",
			   d->path, strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		close(fd);
		goto fail;
	}
	err = file_size(d, fd, &st, &fsize);
	if (!err && !raw)
		err = probe(d, fd, fsize);
	else if (!err)
		d->format = STORVSP_DISK_RAW;
	if (err) {
		close(fd);
		goto fail;
	}
	make_identity(d, &st);

	if (is_vhdi_format(d->format)) {
		/* libvhdi opens the image (and its parents) itself. */
		close(fd);
		if (!ro)
			vmbus_logf(&d->log, VMBUS_LOG_WARN,
				   "storvsp disk %s: %s images are served read-only",
				   d->path, storvsp_disk_format_name(d->format));
		d->read_only = true;
		d->backend = DISK_BACKEND_VHDI;
		err = disk_vhdi_init(d);
		if (err)
			goto fail;
		*out = d;
		return 0;
	}

	if (open_err) {
		vmbus_logf(&d->log, VMBUS_LOG_ERR, "storvsp disk %s: cannot open for writing: %s",
			   d->path, strerror(-open_err));
		close(fd);
		err = open_err;
		goto fail;
	}
	if (d->format == STORVSP_DISK_RAW)
		d->size = fsize;
	if (d->size == 0 || d->size % d->block_size) {
		vmbus_logf(&d->log, VMBUS_LOG_ERR,
			   "storvsp disk %s: size %llu is not a non-zero multiple of %u",
			   d->path, (unsigned long long)d->size, d->block_size);
		close(fd);
		err = -EINVAL;
		goto fail;
	}
	d->read_only = ro;
	d->backend = DISK_BACKEND_FILE;
	err = disk_file_init(d, fd);
	if (err)
		goto fail;
	vmbus_logf(&d->log, VMBUS_LOG_DEBUG, "storvsp disk %s: %s, %llu bytes%s%s",
		   d->path, storvsp_disk_format_name(d->format),
		   (unsigned long long)d->size, ro ? ", read-only" : "",
		   d->dfd >= 0 ? ", O_DIRECT" : "");
	*out = d;
	return 0;

fail:
	free(d->path);
	free(d);
	return err;
}

void storvsp_disk_close(struct storvsp_disk *d)
{
	if (!d)
		return;
	if (d->backend == DISK_BACKEND_VHDI)
		disk_vhdi_fini(d);
	else
		disk_file_fini(d);
	free(d->path);
	free(d);
}

enum storvsp_disk_format storvsp_disk_format(const struct storvsp_disk *d)
{
	return d->format;
}

const char *storvsp_disk_format_name(enum storvsp_disk_format f)
{
	switch (f) {
	case STORVSP_DISK_RAW:
		return "raw";
	case STORVSP_DISK_VHD_FIXED:
		return "vhd-fixed";
	case STORVSP_DISK_VHD_DYNAMIC:
		return "vhd-dynamic";
	case STORVSP_DISK_VHD_DIFF:
		return "vhd-diff";
	case STORVSP_DISK_VHDX:
		return "vhdx";
	}
	return "?";
}

uint64_t storvsp_disk_size(const struct storvsp_disk *d)
{
	return d->size;
}

uint32_t storvsp_disk_block_size(const struct storvsp_disk *d)
{
	return d->block_size;
}

bool storvsp_disk_read_only(const struct storvsp_disk *d)
{
	return d->read_only;
}

bool storvsp_disk_direct(const struct storvsp_disk *d)
{
	return d->backend == DISK_BACKEND_FILE && d->dfd >= 0;
}

void storvsp_disk_info(const struct storvsp_disk *d, struct scsi_disk_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = d->size;
	info->block_size = d->block_size;
	info->read_only = d->read_only;
	info->vendor = "Msft";
	info->product = "Virtual Disk";
	info->revision = "1.0";
	info->serial = d->serial;
	info->naa = d->naa;
}

const struct scsi_disk_ops *storvsp_disk_ops(const struct storvsp_disk *d)
{
	return d->ops;
}
