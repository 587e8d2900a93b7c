/* SPDX-License-Identifier: MIT */
/*
 * storvsp: the host side of the Hyper-V synthetic SCSI controller. It speaks
 * the vstor protocol over one primary VMBus channel and its subchannels and
 * feeds the SCSI commands it receives to a struct scsi_target.
 *
 * Wire formats: include/vmbus/proto/vstor.h. Protocol sequence and host
 * answers: Linux drivers/scsi/storvsc_drv.c (what a guest sends and
 * expects) and OpenVMM vm/devices/storage/storvsp (how a host answers:
 * NTSTATUS values, version list, properties, reset handling);
 * docs/PROTOCOL.md section 5.
 *
 * Model. A struct storvsp is one controller. Each of its channels (index 0
 * is the primary, 1..N the subchannels) is a struct storvsp_channel built
 * on an open channel end; storvsp_channel_process() drains what the guest
 * wrote and answers it. The protocol state (negotiated version, ready) is
 * the controller's and is driven by the primary channel only; a subchannel
 * serves I/O once the primary finished initialization.
 *
 * Channels come from one of two places:
 *  - storvsp_register() offers the controller on a struct vmbus_server;
 *    the server's opened/closed/signalled callbacks then attach, detach and
 *    process channels, and CREATE_SUB_CHANNELS makes storvsp offer the
 *    subchannels itself;
 *  - storvsp_channel_attach() builds a channel from ring views the caller
 *    mapped (tests, carriers that open channels their own way).
 *
 * Every EXECUTE_SRB becomes a struct storvsp_request that lives until its
 * COMPLETE_IO is on the ring. Without a submit function (see the config)
 * the command runs synchronously through scsi_target_execute_plan(). With
 * one, plain reads, writes, flushes and discards go to the backend, which
 * later calls storvsp_request_complete(); everything else still runs
 * synchronously.
 *
 * Hostile guest policy: every packet is copied out of the ring before it is
 * parsed, every length and GPA range is checked against the packet and the
 * guest memory map, and each bad packet gets a COMPLETE_IO with an error
 * status (NTSTATUS in vstor_packet.status, an SRB status and, for SCSI
 * errors, sense data) while the channel keeps serving. Only a ring the
 * guest corrupted, or a packet larger than STORVSP_MAX_PACKET, fails the
 * channel (every later process call returns the error).
 *
 * Threading: one thread at a time per channel (process, request
 * completion, and for the primary the notify calls); different channels of
 * one controller may run on different threads. Attach, detach,
 * register/unregister and free are not concurrent with anything else.
 */
#ifndef VMBUS_STORVSP_H
#define VMBUS_STORVSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <vmbus/channel.h>
#include <vmbus/gpa.h>
#include <vmbus/log.h>
#include <vmbus/proto/vmbus.h>
#include <vmbus/proto/vstor.h>
#include <vmbus/scsi_target.h>
#include <vmbus/server.h>

struct storvsp;
struct storvsp_channel;
struct storvsp_request;

/* What QUERY_PROPERTIES reports when the config leaves max_transfer 0:
 * 256 KiB, the value OpenVMM and Hyper-V report. */
#define STORVSP_DEFAULT_MAX_TRANSFER	(256u * 1024u)
/* Upper bound for max_transfer (the target's own per-command limit still
 * applies on top). */
#define STORVSP_MAX_TRANSFER_LIMIT	(8u * 1024u * 1024u)
/* EXECUTE_SRB requests one channel holds at once when the config leaves
 * queue_depth 0, and the largest depth accepted. */
#define STORVSP_DEFAULT_QUEUE_DEPTH	256u
#define STORVSP_MAX_QUEUE_DEPTH		4096u
/* Channels per controller: the primary and up to 63 subchannels. */
#define STORVSP_MAX_CHANNELS		64u
/* GPA ranges one EXECUTE_SRB may carry (Linux sends one). */
#define STORVSP_MAX_RANGES		16u
/* Largest packet a channel accepts; anything longer fails the channel
 * (a legitimate EXECUTE_SRB of 8 MiB needs about 16.5 KiB). */
#define STORVSP_MAX_PACKET		(64u * 1024u)

/*
 * Hand a decoded read, write, flush or discard to an asynchronous backend.
 * iov/iovcnt describe plan->data_len bytes of guest memory (the data
 * buffer; empty for flush and discard) and stay valid until the request is
 * completed. Return 0 when the backend took the request and will call
 * storvsp_request_complete() later, or a negative errno to have it
 * completed at once with that error (SCSI MEDIUM ERROR sense).
 */
typedef int storvsp_submit_fn(void *ctx, struct storvsp_request *req,
			      const struct scsi_io_plan *plan,
			      const struct iovec *iov, unsigned int iovcnt);

/*
 * How to build a controller. A value type the caller fills; storvsp_new()
 * copies it.
 */
struct storvsp_config {
	const struct vmbus_log *log;		/* copied; NULL for none */
	const struct vmbus_gpa_map *map;	/* guest memory, required */
	struct scsi_target *target;		/* required */
	/* 1 + the number of subchannels the guest may ask for
	 * (1 .. STORVSP_MAX_CHANNELS); 0 means 1. */
	unsigned int channels;
	/* Bytes per EXECUTE_SRB, a multiple of 4096 up to
	 * STORVSP_MAX_TRANSFER_LIMIT; 0 = STORVSP_DEFAULT_MAX_TRANSFER. */
	uint32_t max_transfer;
	/* Newest vstor version accepted (VMSTOR_PROTO_VERSION_*); 0 =
	 * VMSTOR_PROTO_VERSION_WIN10. Versions above it get
	 * VSTOR_STATUS_REVISION_MISMATCH, so a guest falls back. */
	uint16_t max_version;
	/* Requests in flight per channel; 0 = STORVSP_DEFAULT_QUEUE_DEPTH. */
	unsigned int queue_depth;
	/* Optional asynchronous backend (see storvsp_submit_fn). */
	storvsp_submit_fn *submit;
	void *submit_ctx;
};

/* ---- Controller ---------------------------------------------------------- */

/*
 * Create a controller. map and target must outlive it. Returns NULL for a
 * missing map or target, a value out of range, or out of memory.
 */
struct storvsp *storvsp_new(const struct storvsp_config *cfg);

/*
 * Unregister from the server (if registered), detach every channel and free
 * the controller. Requests still with an asynchronous backend must have
 * completed. NULL is ignored.
 */
void storvsp_free(struct storvsp *sv);

/* The negotiated vstor version, 0 before QUERY_PROTOCOL_VERSION succeeded
 * (and again after the primary channel closed). */
uint16_t storvsp_version(const struct storvsp *sv);

/* True from END_INITIALIZATION until the primary channel closes. */
bool storvsp_ready(const struct storvsp *sv);

/* Subchannels the guest asked for with CREATE_SUB_CHANNELS (0 if none). */
unsigned int storvsp_subchannels_requested(const struct storvsp *sv);

/*
 * Tell the guest its LUNs changed (hot add or remove on the target):
 * an unsolicited ENUMERATE_BUS (transaction id 0) on the primary channel,
 * after which a Linux guest rescans the bus. Sent now, or after the next
 * storvsp_channel_process() of the primary if its ring is full. Returns 0,
 * -ENOTCONN when the primary is not attached or not ready, -EOPNOTSUPP
 * when the negotiated version predates WIN7 (the guest knows no rescan).
 * Run it on the primary channel's thread.
 */
int storvsp_notify_luns_changed(struct storvsp *sv);

/* The same with REMOVE_DEVICE, which a Linux guest also treats as "rescan". */
int storvsp_notify_remove_device(struct storvsp *sv);

/* ---- VMBus server glue ------------------------------------------------------- */

/*
 * Offer the controller on srv as a SCSI channel (class VMBUS_GUID_SCSI,
 * this instance GUID, user_def all zero as OpenVMM and Hyper-V offer SCSI
 * controllers). From then on the server's callbacks drive it: opened maps
 * the ring GPADL and attaches the channel, signalled processes it, closed
 * detaches it. A CREATE_SUB_CHANNELS from the guest offers subchannels
 * 1..count with the same GUIDs. srv must outlive the registration. Returns
 * 0, -EALREADY if registered, or the vmbus_server_add_offer() error.
 */
int storvsp_register(struct storvsp *sv, struct vmbus_server *srv,
		     const struct vmbus_guid *instance);

/* Withdraw every offer made by storvsp_register() (hot remove: open
 * channels are closed and detached first). Nothing if not registered. */
void storvsp_unregister(struct storvsp *sv);

/* ---- Channels -------------------------------------------------------------------- */

/*
 * Attach channel index (0 = primary) on a pair of ring views the caller set
 * up (vmbus_ring_view_*() then vmbus_ring_attach(); the host sends on the
 * host-to-guest ring and receives on the guest-to-host one, see
 * <vmbus/channel.h>). The views are copied. signal rings the guest's
 * doorbell. Attaching the primary restarts the protocol at
 * BEGIN_INITIALIZATION. Returns 0 and *out, -EINVAL for a bad argument or
 * an index beyond the configured channels, -EBUSY if index is attached,
 * -ENOMEM.
 */
int storvsp_channel_attach(struct storvsp *sv, unsigned int index,
			   const struct vmbus_ring *send,
			   const struct vmbus_ring *recv,
			   vmbus_channel_signal_fn *signal, void *signal_ctx,
			   struct storvsp_channel **out);

/*
 * Stop using a channel's rings and forget it. Requests an asynchronous
 * backend still holds keep their memory until they complete (their
 * completions are then dropped). Detaching the primary returns the
 * controller to "not initialized". NULL is ignored.
 */
void storvsp_channel_detach(struct storvsp_channel *ch);

/* The attached channel with this index, or NULL. */
struct storvsp_channel *storvsp_channel_get(struct storvsp *sv,
					    unsigned int index);

/* The channel's index (0 = primary). */
unsigned int storvsp_channel_index(const struct storvsp_channel *ch);

/*
 * Handle everything the guest wrote: first send completions that waited
 * for ring space, then read and answer packets until the ring is empty
 * (interrupts masked meanwhile, then unmasked and checked again), the
 * request table is full, or the send ring is. Call it on every guest
 * signal, after storvsp_request_complete() calls, and whenever the caller's
 * loop wants. Returns the number of packets read (>= 0), or a negative
 * errno once the channel has failed (a corrupt ring: -ERANGE, -EPROTO,
 * ...; a packet above STORVSP_MAX_PACKET: -EMSGSIZE); a failed channel
 * stays failed until detached.
 */
int storvsp_channel_process(struct storvsp_channel *ch);

/*
 * Group the answers of a pass of storvsp_request_complete() calls on one
 * channel: between begin and end they are written to the ring, and end
 * makes them visible together with at most one signal. Without it a guest
 * quick enough to empty the ring between two answers is signalled (and
 * woken) once per answer. The guest is also asked not to signal while the
 * batch lasts, so call storvsp_channel_process() after the outermost end
 * (not in between): it reads what came meanwhile and lets the guest signal
 * again. Pairs may nest; NULL is ignored.
 */
void storvsp_channel_batch_begin(struct storvsp_channel *ch);
void storvsp_channel_batch_end(struct storvsp_channel *ch);

/* Counters of one channel since attach. */
struct storvsp_channel_stats {
	uint64_t packets;		/* packets read from the guest */
	uint64_t srbs;			/* EXECUTE_SRB packets executed */
	uint64_t bad_packets;		/* answered with an error status */
	uint64_t deferred;		/* completions that waited for ring space */
	uint64_t in_flight;		/* requests now held (gauge) */
};

/* Copy the channel's counters into *out. */
void storvsp_channel_get_stats(const struct storvsp_channel *ch,
			       struct storvsp_channel_stats *out);

/* ---- Asynchronous completion ----------------------------------------------------- */

/*
 * Finish a request a storvsp_submit_fn accepted: err is 0 or the negative
 * errno of the I/O. Builds the COMPLETE_IO (scsi_target_complete_io() sets
 * the SCSI status and sense) and sends it, or queues it until ring space
 * frees. Call it on the thread of the request's channel; afterwards call
 * storvsp_channel_process() on that channel if it stopped reading because
 * its request table was full. Completing a request whose channel was
 * detached only releases it.
 */
void storvsp_request_complete(struct storvsp_request *req, int err);

/* The channel a request arrived on (NULL once that channel was detached). */
struct storvsp_channel *storvsp_request_channel(const struct storvsp_request *req);

#endif
