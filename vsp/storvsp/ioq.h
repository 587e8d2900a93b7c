/* SPDX-License-Identifier: MIT */
/*
 * storvsp's per-channel I/O engine: one io_uring that waits both for the
 * channel's doorbell (an eventfd the carrier writes when the guest signals)
 * and for the disk I/O of that channel.
 *
 * Requests carry iovecs that point straight into guest memory (built with
 * vmbus_gpa_pagelist_iov()); data is never copied. Raw and fixed-VHD disks
 * are served by io_uring itself (vsp/storvsp/disk_uring.c); libvhdi disks by
 * a worker thread per disk that signals the queue through an eventfd the
 * ring polls (vsp/storvsp/disk_vhdi.c), so a slow image read never stalls
 * the loop.
 *
 * Opcodes and flags: liburing 2.3 / Linux io_uring (IORING_OP_READV,
 * WRITEV with RWF_DSYNC, FSYNC with IORING_FSYNC_DATASYNC, FALLOCATE with
 * FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, POLL_ADD).
 *
 * Threading: a queue belongs to one thread, which calls every function
 * below; callbacks run on that thread from storvsp_ioq_run() (and
 * storvsp_ioq_free()), never from storvsp_ioq_submit(). Several queues may
 * share one disk.
 */
#ifndef VMBUS_STORVSP_IOQ_H
#define VMBUS_STORVSP_IOQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <vmbus/log.h>
#include <vmbus/scsi_target.h>
#include <vmbus/storvsp_disk.h>

/* What a request does. */
enum storvsp_io_op {
	STORVSP_IO_READ = 1,	/* len bytes at offset into the iovecs */
	STORVSP_IO_WRITE,	/* len bytes of the iovecs to offset; fua: write through */
	STORVSP_IO_FLUSH,	/* make earlier writes durable; offset/len/iov unused */
	STORVSP_IO_DISCARD,	/* deallocate len bytes at offset; iov unused */
};

/*
 * Completion of one request: res is 0 when every byte moved (or the flush
 * or discard succeeded), else a negative errno; hand it to
 * scsi_target_complete_io(). Called exactly once per accepted request.
 */
typedef void storvsp_ioq_done_fn(void *cookie, int res);

/* The doorbell rang: the guest signalled, drain the channel's ring. */
typedef void storvsp_ioq_doorbell_fn(void *opaque);

/* Counters, a value type filled by storvsp_ioq_stats(). */
struct storvsp_ioq_stats {
	uint64_t submitted;	/* requests accepted */
	uint64_t completed;	/* callbacks delivered */
	uint64_t errors;	/* of which with res < 0 */
	uint64_t direct;	/* read/write SQEs issued on the O_DIRECT fd */
	uint64_t buffered;	/* read/write SQEs issued on the buffered fd */
	uint64_t worker;	/* requests served by a libvhdi worker */
	uint64_t doorbells;	/* doorbell callbacks */
	uint64_t deferred;	/* requests that waited on the pending list */
	unsigned int inflight;	/* accepted and not yet completed */
	unsigned int pending;	/* waiting for a free submission slot now */
};

struct storvsp_ioq;

/*
 * Create a queue. depth is the io_uring size (1..4096, rounded up to a
 * power of two); more requests than that are kept on a pending list, never
 * refused. doorbell_fd is an eventfd the queue polls and reads (it must be
 * its only reader), or -1 for none; on_doorbell (may be NULL) is then
 * called with opaque. log may be NULL; it is copied. Returns 0 and sets
 * *out, -EINVAL for bad arguments, -ENOMEM, or what io_uring_queue_init()
 * said (for example -ENOSYS or -EPERM where io_uring is forbidden).
 */
int storvsp_ioq_new(unsigned int depth, int doorbell_fd,
		    storvsp_ioq_doorbell_fn *on_doorbell, void *opaque,
		    const struct vmbus_log *log, struct storvsp_ioq **out);

/*
 * Destroy a queue. Requests still waiting for a submission slot complete
 * with -ECANCELED; those already in the kernel or with a worker are waited
 * for (they may be writing guest memory) and complete with their result.
 * Must not be called from a callback. NULL is ignored.
 */
void storvsp_ioq_free(struct storvsp_ioq *q);

/*
 * Queue one request on disk d. iov/iovcnt must describe at least len bytes
 * for READ and WRITE; the array is copied (trimmed to len), the memory it
 * points at must stay valid until the callback. offset and len must be
 * multiples of the disk's block size and len non-zero for READ, WRITE and
 * DISCARD. The request reaches the kernel at the next storvsp_ioq_run(),
 * or at once when it completes a group of several queued since (the disk
 * then starts on them while the caller queues the rest). Either way its
 * callback runs only from storvsp_ioq_run() or storvsp_ioq_free().
 * Returns 0 when accepted (done will be called with cookie), or a negative
 * errno and done is never called: -EINVAL (bad arguments, too many
 * iovecs), -EIO (a range past the guest-visible size: never issued),
 * -EROFS (WRITE or DISCARD on a read-only disk), -ENOMEM.
 */
int storvsp_ioq_submit(struct storvsp_ioq *q, struct storvsp_disk *d,
		       enum storvsp_io_op op, uint64_t offset, uint64_t len,
		       const struct iovec *iov, unsigned int iovcnt, bool fua,
		       storvsp_ioq_done_fn *done, void *cookie);

/*
 * storvsp_ioq_submit() for a plan from scsi_target_decode(): READ, WRITE
 * (with the plan's fua), FLUSH and DISCARD map one to one; the transfer is
 * plan->xfer bytes at plan->offset for READ/WRITE, plan->len for DISCARD.
 * -EINVAL for any other plan op. Same returns as storvsp_ioq_submit().
 */
int storvsp_ioq_submit_plan(struct storvsp_ioq *q, struct storvsp_disk *d,
			    const struct scsi_io_plan *plan,
			    const struct iovec *iov, unsigned int iovcnt,
			    storvsp_ioq_done_fn *done, void *cookie);

/*
 * Run the loop once: hand pending requests to the kernel, wait for at
 * least one event when wait is true (unless nothing could ever arrive: no
 * doorbell and nothing in flight), then deliver every completion to its
 * callback and a rung doorbell to on_doorbell. Callbacks may submit. Returns
 * the number of events delivered (0 when interrupted by a signal), or a
 * negative errno from io_uring.
 */
int storvsp_ioq_run(struct storvsp_ioq *q, bool wait);

/* The io_uring file descriptor, for a caller that multiplexes several
 * queues with epoll: it turns readable when completions wait, then call
 * storvsp_ioq_run(q, false). */
int storvsp_ioq_fd(const struct storvsp_ioq *q);

/* Copy the counters into *st. */
void storvsp_ioq_stats(const struct storvsp_ioq *q, struct storvsp_ioq_stats *st);

#endif
