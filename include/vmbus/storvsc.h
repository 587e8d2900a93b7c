/* SPDX-License-Identifier: MIT */
/*
 * storvsc: the guest side of the Hyper-V synthetic SCSI controller, with an
 * asynchronous block API (read, write, flush, unmap) on top of the vstor
 * protocol.
 *
 * Sequence and wire formats: Linux drivers/scsi/storvsc_drv.c
 * (storvsc_channel_init: BEGIN_INITIALIZATION, QUERY_PROTOCOL_VERSION
 * trying 6.2, 6.0, 5.1, QUERY_PROPERTIES, END_INITIALIZATION,
 * CREATE_SUB_CHANNELS; storvsc_queuecommand/storvsc_do_io: the SRB fields
 * and GPA-direct data; storvsc_on_channel_callback: completions and the
 * unsolicited ENUMERATE_BUS/REMOVE_DEVICE); include/vmbus/proto/vstor.h;
 * docs/PROTOCOL.md section 5. The LUN scan follows the SCSI midlayer:
 * REPORT LUNS, then INQUIRY, READ CAPACITY(16) and MODE SENSE(6) (write
 * protect) per LUN.
 *
 * FREESTANDING: compiles with -ffreestanding against libvmbus/freestanding.h
 * and allocates nothing; the caller hands in the memory. It sits on struct
 * vmbus_channel ends the caller opened (with client.c or otherwise) and
 * never waits: every request returns at once, and its callback fires from
 * storvsc_process(), which the caller runs when the channel is signalled.
 * Timeouts are the caller's business (Linux allows each control step 5 s).
 *
 * Data buffers are guest-physical: a struct storvsc_buf names the pages
 * (the guest knows the frames of its own buffers). storvsc's own small
 * buffers (LUN scan data, UNMAP parameter lists) live in the memory given
 * to storvsc_init(), which must therefore be guest memory that the
 * virt_to_pfn callback can translate.
 *
 * Threading: one thread at a time in the client (requests and process).
 * Callbacks may submit new requests but must not call storvsc_process().
 * Everything the host sends is checked: short or malformed replies fail
 * the request they answer (STORVSC_ERR_OTHER), unknown ones are dropped.
 */
#ifndef VMBUS_STORVSC_H
#define VMBUS_STORVSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmbus/channel.h>
#include <vmbus/log.h>
#include <vmbus/proto/vstor.h>

struct storvsc;

/* Channels one client drives: the primary and its subchannels. */
#define STORVSC_MAX_CHANNELS	64u
/* LUNs a scan can report (a vmscsi_request addresses LUNs with a u8). */
#define STORVSC_MAX_LUNS	256u
/* Size of the internal buffer LUN scans use. */
#define STORVSC_SCAN_BUF_SIZE	4096u

/* What a failed request means for the caller, from the SRB status and the
 * sense data. */
enum storvsc_error {
	STORVSC_OK = 0,
	STORVSC_ERR_NOT_READY,		/* sense key NOT READY */
	STORVSC_ERR_MEDIUM,		/* MEDIUM ERROR or HARDWARE ERROR */
	STORVSC_ERR_WRITE_PROTECTED,	/* DATA PROTECT */
	STORVSC_ERR_ILLEGAL_REQUEST,	/* ILLEGAL REQUEST (other ASCs), or an
					 * SRB the host refused as invalid */
	STORVSC_ERR_LBA_OUT_OF_RANGE,	/* ILLEGAL REQUEST, ASC 21h */
	STORVSC_ERR_UNIT_ATTENTION,	/* UNIT ATTENTION: retry, maybe rescan */
	STORVSC_ERR_LUN_NOT_SUPPORTED,	/* ASC 25h, or SRB status INVALID_LUN */
	STORVSC_ERR_ABORTED,		/* ABORTED COMMAND, SRB aborted/reset */
	STORVSC_ERR_OTHER,		/* anything else, malformed replies too */
};

/* Outcome of one request, valid during its callback. A value type. */
struct storvsc_result {
	enum storvsc_error error;
	uint8_t scsi_status;		/* SCSI_STATUS_* */
	uint8_t srb_status;		/* as the host sent it, flags included */
	uint8_t sense_key;		/* 0 when no sense data came back */
	uint8_t asc;
	uint8_t ascq;
	uint32_t vstor_status;		/* vstor_packet.status (NTSTATUS) */
	uint32_t transferred;		/* bytes moved (never above the buffer) */
};

/* A request's completion; res is valid during the call only. */
typedef void storvsc_io_done_fn(void *arg, const struct storvsc_result *res);

/* Completion of storvsc_start()/storvsc_rescan(): 0 or a negative errno. */
typedef void storvsc_done_fn(void *arg, int err);

/* The guest frame number of the page holding va (the carrier knows its
 * memory layout). */
typedef uint64_t storvsc_virt_to_pfn_fn(void *ctx, const void *va);

/*
 * A data buffer in guest-physical pages, as one GPA range: len bytes
 * starting offset bytes into the page pfns[0], continuing at the start of
 * pfns[1], pfns[2], ... (ceil((offset + len) / 4096) frames, in any order
 * in guest memory). A value type; the PFN array is read while the request
 * is submitted only.
 */
struct storvsc_buf {
	const uint64_t *pfns;
	uint32_t offset;		/* < 4096 */
	uint32_t len;			/* > 0 */
};

/* What the scan learnt about one LUN. A value type. */
struct storvsc_lun {
	uint8_t lun;
	uint8_t device_type;		/* INQUIRY peripheral device type */
	bool read_only;			/* MODE SENSE write-protect bit */
	uint32_t block_size;		/* bytes; 0 for non-disk devices */
	uint64_t blocks;		/* capacity in logical blocks */
	char vendor[9];			/* INQUIRY vendor, NUL-terminated */
	char product[17];		/* INQUIRY product, NUL-terminated */
};

/* Unsolicited host events. Any member may be NULL. */
struct storvsc_events {
	/* ENUMERATE_BUS or REMOVE_DEVICE: LUNs were added or removed; call
	 * storvsc_rescan() (outside storvsc_process()) to learn which. */
	void (*rescan)(void *ctx);
};

/* How to build a client. A value type the caller fills. */
struct storvsc_config {
	struct vmbus_channel *primary;		/* open primary channel, required */
	const struct vmbus_log *log;		/* copied; NULL for none */
	/* Requests in flight at once over all channels (1 .. 65535); each
	 * channel end must also have room for the requests sent on it. */
	unsigned int max_requests;
	unsigned int max_luns;			/* LUN table size, 1 .. 256 */
	/* Subchannels to ask for when the host offers multichannel (Linux:
	 * one per four vCPUs); the host's maximum caps it. */
	unsigned int subchannels;
	/* Newest version to try (VMSTOR_PROTO_VERSION_WIN8 .. _WIN10);
	 * 0 = VMSTOR_PROTO_VERSION_WIN10. */
	uint16_t max_version;
	storvsc_virt_to_pfn_fn *virt_to_pfn;	/* required */
	void *virt_ctx;
	const struct storvsc_events *events;	/* may be NULL */
	void *events_ctx;
};

/* Bytes of memory (guest memory, see above) a client with this
 * configuration needs, or 0 if the configuration is out of range. */
size_t storvsc_mem_size(const struct storvsc_config *cfg);

/*
 * Build a client in mem (8-byte aligned, at least storvsc_mem_size()
 * bytes). Nothing is sent yet. -EINVAL for a bad configuration or
 * misaligned memory, -ENOSPC if mem_size is too small.
 */
int storvsc_init(void *mem, size_t mem_size, const struct storvsc_config *cfg,
		 struct storvsc **out);

/*
 * Run the Linux handshake on the primary channel (BEGIN_INITIALIZATION;
 * QUERY_PROTOCOL_VERSION with 6.2, 6.0, 5.1 in turn until the host answers
 * status 0; QUERY_PROPERTIES; END_INITIALIZATION; CREATE_SUB_CHANNELS if
 * the host offers multichannel and subchannels were asked for), then scan
 * the LUNs. done fires with 0, -ENOTSUP (every version refused), -EIO (a
 * step answered with a non-zero status), -EPROTO (a malformed answer) or a
 * send error. A refused CREATE_SUB_CHANNELS is not fatal (Linux goes on
 * with the primary alone). Returns 0, -EALREADY if started, or the send
 * error.
 */
int storvsc_start(struct storvsc *sc, storvsc_done_fn *done, void *arg);

/* Scan the LUNs again (after a rescan event). done fires with 0, or with
 * the REPORT LUNS failure. -EBUSY while initialization or a scan runs. */
int storvsc_rescan(struct storvsc *sc, storvsc_done_fn *done, void *arg);

/* True once initialization and the first scan finished. */
bool storvsc_ready(const struct storvsc *sc);

/* The negotiated version, 0 before. */
uint16_t storvsc_version(const struct storvsc *sc);

/* The host's max_transfer_bytes rounded down to whole pages (0 before). */
uint32_t storvsc_max_transfer(const struct storvsc *sc);

/* Subchannels the host can open (max_channel_cnt, 0 without multichannel). */
unsigned int storvsc_host_subchannels(const struct storvsc *sc);

/* Subchannels the host agreed to create (0 if none were asked for). The
 * host offers them on the bus; open each and pass it to
 * storvsc_add_channel(). */
unsigned int storvsc_subchannels_created(const struct storvsc *sc);

/*
 * Use another open channel of the device (a subchannel) for I/O; requests
 * are spread over all channels round-robin. -EINVAL for NULL, -ENOSPC when
 * STORVSC_MAX_CHANNELS are in use, -EEXIST if already added.
 */
int storvsc_add_channel(struct storvsc *sc, struct vmbus_channel *ch);

/*
 * Drain every channel and fire the callbacks of what arrived. Requests the
 * callbacks send are published when it returns, with at most one signal
 * per channel; inside it a full ring gives them -EAGAIN (retry after it
 * returned: the requests already sent will complete). Returns the packets
 * handled, or a negative errno from a channel whose receive ring is
 * corrupt or holds a packet too large to be a vstor packet (that channel
 * is then unusable).
 */
int storvsc_process(struct storvsc *sc);

/* Number of LUNs the last scan found. */
unsigned int storvsc_lun_count(const struct storvsc *sc);

/* LUN number idx (< storvsc_lun_count()) of the last scan into *out.
 * -ENOENT if idx is out of range. */
int storvsc_lun_info(const struct storvsc *sc, unsigned int idx,
		     struct storvsc_lun *out);

/* Requests waiting for their completion. */
unsigned int storvsc_in_flight(const struct storvsc *sc);

/*
 * Block I/O on a LUN the scan found with a non-zero block size. buf must
 * cover exactly blocks * block_size bytes, at most storvsc_max_transfer().
 * Every call returns 0 (done fires later with the result) or a negative
 * errno and nothing was sent:
 *   -ENOTCONN  not initialized
 *   -ENODEV    the LUN is not in the scan results (or is not a disk)
 *   -EINVAL    bad buffer, zero blocks, or a range past 2^64
 *   -E2BIG     larger than the host's max transfer
 *   -EAGAIN    no request slot, or every channel's ring is full: retry
 *              after completions arrived
 * READ(16)/WRITE(16) are used; fua sets the FUA bit of the write.
 */
int storvsc_read(struct storvsc *sc, unsigned int lun, uint64_t lba,
		 uint32_t blocks, const struct storvsc_buf *buf,
		 storvsc_io_done_fn *done, void *arg);
int storvsc_write(struct storvsc *sc, unsigned int lun, uint64_t lba,
		  uint32_t blocks, const struct storvsc_buf *buf, bool fua,
		  storvsc_io_done_fn *done, void *arg);

/* SYNCHRONIZE CACHE(10) for the whole LUN. Errors as storvsc_read(). */
int storvsc_flush(struct storvsc *sc, unsigned int lun,
		  storvsc_io_done_fn *done, void *arg);

/* UNMAP one range of blocks (the parameter list lives in the request
 * slot). Errors as storvsc_read(). */
int storvsc_unmap(struct storvsc *sc, unsigned int lun, uint64_t lba,
		  uint32_t blocks, storvsc_io_done_fn *done, void *arg);

/* Data direction of a raw command. */
enum storvsc_dir {
	STORVSC_DIR_NONE = 0,
	STORVSC_DIR_IN,		/* device to guest memory */
	STORVSC_DIR_OUT,	/* guest memory to device */
};

/*
 * Send any CDB (1..16 bytes) to any LUN, with buf (NULL when dir is
 * STORVSC_DIR_NONE). The LUN need not be in the scan results. Errors as
 * storvsc_read().
 */
int storvsc_scsi(struct storvsc *sc, unsigned int lun, const uint8_t *cdb,
		 unsigned int cdb_len, enum storvsc_dir dir,
		 const struct storvsc_buf *buf, storvsc_io_done_fn *done,
		 void *arg);

/* Map sense data (fixed 70h/71h or descriptor 72h/73h format, len bytes)
 * to an error; *key, *asc, *ascq (may be NULL) get the raw codes, zero if
 * the sense is too short. */
enum storvsc_error storvsc_decode_sense(const uint8_t *sense, size_t len,
					uint8_t *key, uint8_t *asc, uint8_t *ascq);

#endif
