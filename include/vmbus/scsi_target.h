/* SPDX-License-Identifier: MIT */
/*
 * The SCSI target behind storvsp: several logical units, each backed by an
 * abstract disk (an ops table), answering CDBs the way a Hyper-V virtual disk
 * does. It knows nothing of VMBus or of how disk I/O is carried out.
 *
 * Command set and answers follow OpenVMM vm/devices/storage/scsidisk and T10
 * SPC-4 / SBC-3; SRB status values come from include/vmbus/proto/vstor.h.
 *
 * Two ways to run a command:
 *  - scsi_target_execute(): decode, run against the disk ops, answer; all
 *    synchronous.
 *  - scsi_target_decode() first, then either let the caller carry out a plain
 *    read/write/flush/discard itself (an asynchronous backend) and report
 *    with scsi_target_complete_io(), or hand the plan to
 *    scsi_target_execute_plan().
 *
 * Threading: decode/execute/complete may run concurrently from several
 * threads for the same target. Adding or removing a LUN must not overlap any
 * command for that LUN (the caller drains it first).
 *
 * Hostile initiator policy: every length in a CDB or a parameter list is
 * checked against the data buffer the initiator described. When a CDB asks
 * for more bytes than the buffer holds, the command fails before any data
 * moves with CHECK CONDITION, ILLEGAL REQUEST, INVALID FIELD IN CDB (SRB
 * status INVALID_REQUEST). That is the safe answer: a partial transfer with
 * an underrun would let the initiator believe a shorter write was complete.
 */
#ifndef VMBUS_SCSI_TARGET_H
#define VMBUS_SCSI_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <vmbus/log.h>
#include <vmbus/proto/scsi.h>
#include <vmbus/proto/vstor.h>

/* LUN numbers are 0..SCSI_TARGET_MAX_LUNS-1 (a vmscsi_request carries a u8). */
#define SCSI_TARGET_MAX_LUNS			256u
/* Per-UNMAP limit on block descriptors, also reported in VPD B0h. */
#define SCSI_TARGET_MAX_UNMAP_DESCRIPTORS	256u
/* Used when scsi_disk_info.max_transfer is 0. */
#define SCSI_TARGET_DEFAULT_MAX_TRANSFER	(1024u * 1024u)
/* Longest serial number kept (VPD 80h). */
#define SCSI_TARGET_SERIAL_MAX			64u

/*
 * The disk under a LUN. Offsets and lengths are in bytes and always a whole
 * number of logical blocks inside the disk. Each function returns 0 or a
 * negative errno; the target turns errors into MEDIUM ERROR sense (-EROFS
 * into DATA PROTECT). The iovec list covers at least len bytes; only the
 * first len bytes may be touched.
 */
struct scsi_disk_ops {
	int (*read)(void *ctx, uint64_t offset, const struct iovec *iov,
		    unsigned int iovcnt, size_t len);
	int (*write)(void *ctx, uint64_t offset, const struct iovec *iov,
		     unsigned int iovcnt, size_t len, bool fua);
	/* Make earlier writes durable. NULL: no volatile cache. */
	int (*flush)(void *ctx);
	/* Deallocate a range. NULL: UNMAP and WRITE SAME/UNMAP unsupported. */
	int (*discard)(void *ctx, uint64_t offset, uint64_t len);
};

/* Fixed properties of a LUN, copied by scsi_target_add_lun(). */
struct scsi_disk_info {
	uint64_t size;			/* bytes, a non-zero multiple of block_size */
	uint32_t block_size;		/* 512 or 4096 */
	uint32_t max_transfer;		/* bytes per command, 0 = default */
	bool read_only;
	const char *vendor;		/* T10 vendor, up to 8 chars; NULL = "Msft" */
	const char *product;		/* up to 16 chars; NULL = "Virtual Disk" */
	const char *revision;		/* up to 4 chars; NULL = "1.0" */
	const char *serial;		/* up to 64 chars; NULL = none */
	uint64_t naa;			/* NAA designator for VPD 83h, 0 = none */
};

/* Data direction the initiator declared (vmscsi_request.data_in maps as
 * VSTOR_DATA_OUT -> OUT, VSTOR_DATA_IN -> IN, VSTOR_DATA_UNKNOWN -> UNKNOWN). */
enum scsi_dir {
	SCSI_DIR_NONE = 0,	/* no buffer: data_len is treated as 0 */
	SCSI_DIR_IN,		/* device to initiator */
	SCSI_DIR_OUT,		/* initiator to device */
	SCSI_DIR_UNKNOWN,	/* either; the CDB decides */
};

/*
 * The initiator's data buffer: a list of iovecs, or one flat buffer when iov
 * is NULL. A value type so callers can build it on the stack.
 */
struct scsi_data {
	const struct iovec *iov;
	unsigned int iovcnt;
	struct iovec flat;
};

/* Describe a flat buffer. */
static inline struct scsi_data scsi_data_flat(void *buf, size_t len)
{
	struct scsi_data d = { .iov = NULL, .iovcnt = 0,
			       .flat = { .iov_base = buf, .iov_len = len } };
	return d;
}

/* Describe an iovec list (not copied: it must outlive the command). */
static inline struct scsi_data scsi_data_iov(const struct iovec *iov, unsigned int iovcnt)
{
	struct scsi_data d = { .iov = iov, .iovcnt = iovcnt, .flat = { NULL, 0 } };
	return d;
}

/*
 * Outcome of one command; a value type the caller owns. When sense_len is
 * non-zero srb_status already carries SRB_STATUS_AUTOSENSE_VALID; a
 * transport that cannot deliver the sense bytes clears that bit.
 */
struct scsi_result {
	uint8_t status;			/* SCSI_STATUS_* */
	uint8_t srb_status;		/* SRB_STATUS_* for the vstor answer */
	uint8_t sense_len;		/* 0 or SCSI_SENSE_FIXED_LEN */
	uint8_t sense[SCSI_SENSE_FIXED_LEN];	/* fixed format, 0x70 */
	size_t transferred;		/* bytes moved to or from the buffer */
	size_t residual;		/* data_len - transferred */
};

/* What a decoded command needs. */
enum scsi_plan_op {
	SCSI_PLAN_DONE = 0,	/* answered during decode; result is final */
	SCSI_PLAN_READ,		/* read len bytes at offset into the buffer */
	SCSI_PLAN_WRITE,	/* write len bytes of the buffer at offset, fua */
	SCSI_PLAN_FLUSH,	/* flush the disk cache */
	SCSI_PLAN_DISCARD,	/* deallocate len bytes at offset */
	SCSI_PLAN_EMULATE,	/* answered by the target: scsi_target_execute_plan() */
};

/*
 * A validated command: a value type the caller keeps between decode and
 * completion. The CDB is copied in, so the initiator's memory is read once.
 */
struct scsi_io_plan {
	enum scsi_plan_op op;
	unsigned int lun;
	uint8_t cdb[SCSI_MAX_CDB_LEN];
	uint8_t cdb_len;
	enum scsi_dir dir;
	size_t data_len;	/* usable buffer bytes (0 when dir is NONE) */
	uint64_t lba;		/* first logical block */
	uint64_t blocks;	/* logical blocks */
	uint64_t offset;	/* lba in bytes */
	uint64_t len;		/* blocks in bytes */
	size_t xfer;		/* buffer bytes the command moves when it succeeds */
	bool fua;		/* write through: CDB FUA bit or write cache off */
};

struct scsi_target;

/* Create an empty target. log may be NULL (silent); it is copied.
 * Returns NULL when out of memory. */
struct scsi_target *scsi_target_new(const struct vmbus_log *log);

/* Destroy the target and forget every LUN (the disks are not touched).
 * NULL is ignored. */
void scsi_target_free(struct scsi_target *t);

/*
 * Attach a disk as LUN lun. info is copied (strings too); ops and ctx must
 * stay valid until the LUN is removed. read and write are required.
 * Returns 0, -EINVAL for a bad lun, size, block size or ops, -EEXIST when the
 * LUN is present, -ENOMEM.
 */
int scsi_target_add_lun(struct scsi_target *t, unsigned int lun,
			const struct scsi_disk_info *info,
			const struct scsi_disk_ops *ops, void *ctx);

/* Detach LUN lun. Returns 0 or -ENOENT. No command for it may be running. */
int scsi_target_remove_lun(struct scsi_target *t, unsigned int lun);

/* True when LUN lun is attached. */
bool scsi_target_has_lun(const struct scsi_target *t, unsigned int lun);

/*
 * Validate a CDB and turn it into a plan. data_len is the buffer size the
 * initiator declared; dir its direction. Returns the plan's op; for
 * SCSI_PLAN_DONE, *res holds the final answer (an error, or a command that
 * needs no data such as TEST UNIT READY), otherwise *res is untouched.
 * Returns -EINVAL only when t, cdb, plan or res is NULL.
 */
int scsi_target_decode(struct scsi_target *t, unsigned int lun,
		       const uint8_t *cdb, size_t cdb_len, size_t data_len,
		       enum scsi_dir dir, struct scsi_io_plan *plan,
		       struct scsi_result *res);

/*
 * Carry out a decoded plan synchronously through the LUN's disk ops and fill
 * *res. data describes the buffer; it must cover plan->data_len bytes or the
 * command fails with INVALID FIELD IN CDB. Returns 0, or -EINVAL when an
 * argument is NULL.
 */
int scsi_target_execute_plan(struct scsi_target *t, const struct scsi_io_plan *plan,
			     const struct scsi_data *data, struct scsi_result *res);

/*
 * Finish a READ/WRITE/FLUSH/DISCARD plan the caller performed itself: err is
 * 0 or the negative errno of the I/O. Fills *res and records the LUN's sense
 * for REQUEST SENSE. Returns 0, or -EINVAL for a NULL argument or a plan of
 * another kind.
 */
int scsi_target_complete_io(struct scsi_target *t, const struct scsi_io_plan *plan,
			    int err, struct scsi_result *res);

/*
 * Decode and execute one command synchronously. Returns 0 with *res filled,
 * or -EINVAL when t, cdb, data or res is NULL (data may be NULL only when
 * data_len is 0 or dir is SCSI_DIR_NONE).
 */
int scsi_target_execute(struct scsi_target *t, unsigned int lun,
			const uint8_t *cdb, size_t cdb_len,
			const struct scsi_data *data, size_t data_len,
			enum scsi_dir dir, struct scsi_result *res);

#endif
