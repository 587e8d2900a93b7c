/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by storvsp's disk backends (disk_open.c, disk_uring.c,
 * disk_vhdi.c) and the I/O queue (ioq.c). Not installed. The public view
 * is include/vmbus/storvsp_disk.h and vsp/storvsp/ioq.h.
 */
#ifndef STORVSP_DISK_PRIV_H
#define STORVSP_DISK_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <vmbus/log.h>
#include <vmbus/scsi_target.h>
#include <vmbus/storvsp_disk.h>

#include "ioq.h"

/* iovecs one request may carry (the readv/writev limit). */
#define DISK_IOV_MAX		1024u
/* iovecs kept inside a request before a heap array is needed. */
#define DISK_IOV_INLINE		4u
/* Differencing images stacked at most. */
#define DISK_VHDI_MAX_CHAIN	16u

struct io_uring_sqe;
struct disk_vhdi;

enum disk_backend {
	DISK_BACKEND_FILE,	/* raw, fixed VHD: the kernel does the I/O */
	DISK_BACKEND_VHDI,	/* libvhdi on a worker thread */
};

struct storvsp_disk {
	enum storvsp_disk_format format;
	enum disk_backend backend;
	struct vmbus_log log;
	char *path;
	uint64_t size;			/* guest-visible bytes */
	uint32_t block_size;
	bool read_only;
	char serial[17];
	uint64_t naa;
	const struct scsi_disk_ops *ops;

	/* DISK_BACKEND_FILE */
	int fd;				/* buffered */
	int dfd;			/* O_DIRECT, or -1 */
	uint32_t dio_mem_align;		/* iovec base alignment for dfd */
	uint32_t dio_len_align;		/* offset and iovec length alignment */

	/* DISK_BACKEND_VHDI */
	struct disk_vhdi *vhdi;
};

/*
 * One request inside a queue. Lives in the queue's pool; the iovec window
 * (iov, iovcnt, offset, len) advances when the kernel moves fewer bytes
 * than asked.
 */
struct ioq_req {
	struct ioq_req *next;
	struct storvsp_ioq *q;
	struct storvsp_disk *disk;
	enum storvsp_io_op op;
	bool fua;
	bool direct;			/* the SQE went to the O_DIRECT fd */
	bool no_direct;			/* O_DIRECT refused it once: stay buffered */
	uint64_t offset;
	uint64_t len;
	struct iovec *iov;		/* points into iov_inline or iov_heap */
	unsigned int iovcnt;
	int res;			/* result set by a worker */
	storvsp_ioq_done_fn *done;
	void *cookie;
	struct iovec iov_inline[DISK_IOV_INLINE];
	struct iovec *iov_heap;
	unsigned int iov_cap;		/* entries iov_heap holds */
};

/* 0 when [offset, offset + len) is inside the disk and block aligned,
 * -EIO past the end, -EINVAL misaligned or empty. */
int disk_check_range(const struct storvsp_disk *d, uint64_t offset, uint64_t len);

/*
 * Copy the part of iov[0..iovcnt) that covers the first len bytes into dst
 * (dst_max entries), dropping empty entries and shortening the last one.
 * Returns the number of entries written, -EINVAL when iov holds fewer than
 * len bytes, -E2BIG when more than dst_max entries are needed.
 */
int disk_iov_trim(struct iovec *dst, unsigned int dst_max,
		  const struct iovec *iov, unsigned int iovcnt, uint64_t len);

/* Entries disk_iov_trim() would need, or -EINVAL when iov is too short. */
int disk_iov_count(const struct iovec *iov, unsigned int iovcnt, uint64_t len);

/* Drop the first n bytes of the window given by *iov and *iovcnt (n at most its total). */
void disk_iov_advance(struct iovec **iov, unsigned int *iovcnt, uint64_t n);

/* Set up the raw / fixed-VHD backend on an open fd (taken over): size and
 * format are already known. Opens the O_DIRECT twin when possible. */
int disk_file_init(struct storvsp_disk *d, int fd);

/* Release what disk_file_init() set up. */
void disk_file_fini(struct storvsp_disk *d);

/* Fill sqe for a READ/WRITE/FLUSH/DISCARD request of a file disk, choosing
 * the O_DIRECT fd when the request allows it (sets r->direct). */
void disk_uring_prep(struct ioq_req *r, struct io_uring_sqe *sqe);

/* Open a VHD/VHDX through libvhdi (and its parents), start the worker,
 * fill size, block size and ops. */
int disk_vhdi_init(struct storvsp_disk *d);

/* Stop the worker and close the images. */
void disk_vhdi_fini(struct storvsp_disk *d);

/* Hand a READ to the disk's worker; it later calls ioq_complete_async(). */
void disk_vhdi_queue(struct ioq_req *r);

/* From any thread: r finished with r->res; wake r's queue. */
void ioq_complete_async(struct ioq_req *r);

#endif
