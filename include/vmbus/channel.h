/* SPDX-License-Identifier: MIT */
/*
 * One end of an open VMBus channel, as a VSP (host) or a VSC (guest) uses
 * it: a send ring, a receive ring and a way to signal the peer. It sends
 * packets under the Hyper-V signalling rules, receives them in batches,
 * matches completions to requests by transaction id and masks interrupts
 * while polling.
 *
 * Rules: Linux drivers/hv/ring_buffer.c and include/linux/hyperv.h
 * (vmbus_sendpacket*, hv_pkt_iter_*, hv_signal_on_write,
 * hv_pkt_iter_close); docs/PROTOCOL.md section 2. Ring mechanics live in
 * <vmbus/ring.h>; this layer decides when to ring the doorbell.
 *
 * The core (everything above the "host only" section) is freestanding and
 * allocates nothing: the caller hands in the memory. One thread at a time
 * uses one end; the two ends may run on different threads, processes or
 * partitions.
 */
#ifndef VMBUS_CHANNEL_H
#define VMBUS_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmbus/log.h>
#include <vmbus/ring.h>

struct vmbus_channel;

/* Ring the peer's doorbell: HvSignalEvent with the channel's connection id
 * in a guest, an event flag plus interrupt (or an eventfd) in a host. */
typedef void vmbus_channel_signal_fn(void *ctx);

/*
 * How to build one end. A value type the caller fills. send and recv are
 * ring views already set up with vmbus_ring_view_*() and
 * vmbus_ring_init() (the side that allocated the rings) or
 * vmbus_ring_attach() (the other side); the channel copies them, and the
 * caller's copies must not be used afterwards. A guest sends on the
 * guest-to-host ring (page 0 of the ring GPADL) and receives on the
 * host-to-guest ring; a host the other way round.
 */
struct vmbus_channel_config {
	const struct vmbus_ring *send;
	const struct vmbus_ring *recv;
	vmbus_channel_signal_fn *signal;	/* required */
	void *signal_ctx;
	/* Requests that may wait for a completion at once (0 .. 65535). */
	unsigned int max_requests;
	const struct vmbus_log *log;		/* copied; NULL for none */
};

/* Bytes of memory an end with max_requests request slots needs, or 0 if
 * max_requests is out of range. */
size_t vmbus_channel_mem_size(unsigned int max_requests);

/*
 * Build an end in mem (8-byte aligned, at least vmbus_channel_mem_size()
 * bytes). -EINVAL for a bad configuration or misaligned memory, -ENOSPC if
 * mem_size is too small.
 */
int vmbus_channel_init(void *mem, size_t mem_size,
		       const struct vmbus_channel_config *cfg,
		       struct vmbus_channel **out);

/* ---- Sending --------------------------------------------------------------- */

/*
 * Inside a send batch (below) a full ring returns -EAGAIN without setting
 * pending_send_sz: end the batch, then retry.
 *
 * Every send writes one packet and signals the peer when ring.h says so:
 * the reader had not masked interrupts and had read everything before this
 * packet. Returns 0, or a negative errno and nothing was written:
 *   -EAGAIN  the ring has no room now. pending_send_sz has been set so the
 *            reader signals once enough space is free; retry after that
 *            signal (or poll, for rings without the feature).
 *   -ENOSPC  the packet can never fit in this ring.
 *   -EINVAL  bad arguments (see ring.h), -ERANGE a bad read index.
 * flags is 0 or VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED.
 */

/* VM_PKT_DATA_INBAND carrying len bytes of data. */
int vmbus_channel_send_inband(struct vmbus_channel *ch, const void *data,
			      size_t len, uint64_t trans_id, uint16_t flags);

/* VM_PKT_DATA_USING_GPA_DIRECT: the ranges, then len bytes of data. */
int vmbus_channel_send_gpa_direct(struct vmbus_channel *ch,
				  const struct vmbus_ring_gpa *ranges,
				  uint32_t nranges, const void *data,
				  size_t len, uint64_t trans_id,
				  uint16_t flags);

/* VM_PKT_DATA_USING_XFER_PAGES: ranges of transfer page set pageset_id,
 * then len bytes of data. */
int vmbus_channel_send_xfer(struct vmbus_channel *ch, uint16_t pageset_id,
			    bool sender_owns_set,
			    const struct vmbus_xfer_page_range *ranges,
			    uint32_t nranges, const void *data, size_t len,
			    uint64_t trans_id, uint16_t flags);

/* VM_PKT_COMP answering the packet that carried trans_id. */
int vmbus_channel_send_comp(struct vmbus_channel *ch, const void *data,
			    size_t len, uint64_t trans_id);

/*
 * A request: an in-band packet with COMPLETION_REQUESTED whose trans_id
 * the channel picks and remembers with cookie. The VM_PKT_COMP that
 * echoes it hands the cookie back (struct vmbus_channel_packet.cookie).
 * *trans_id (may be NULL) gets the id. -ENOBUFS when every request slot
 * is taken; the send errors above otherwise (the slot is released).
 */
int vmbus_channel_send_request(struct vmbus_channel *ch, const void *data,
			       size_t len, void *cookie, uint64_t *trans_id);

/* The same as a GPA-direct packet (a storvsc EXECUTE_SRB, a large frame). */
int vmbus_channel_send_request_gpa(struct vmbus_channel *ch,
				   const struct vmbus_ring_gpa *ranges,
				   uint32_t nranges, const void *data,
				   size_t len, void *cookie, uint64_t *trans_id);

/*
 * Forget an outstanding request without a completion (the peer went away,
 * or the caller timed it out); returns its cookie, or NULL if trans_id is
 * not outstanding. A completion arriving later is reported as unknown.
 */
void *vmbus_channel_cancel_request(struct vmbus_channel *ch, uint64_t trans_id);

/* Requests waiting for their completion. */
unsigned int vmbus_channel_outstanding(const struct vmbus_channel *ch);

/* Group sends: the packets become visible together at batch_end, which
 * signals at most once for all of them (begin starts the group, end
 * publishes it). */
void vmbus_channel_send_batch_begin(struct vmbus_channel *ch);
void vmbus_channel_send_batch_end(struct vmbus_channel *ch);

/* ---- Receiving -------------------------------------------------------------- */

/*
 * A received packet. data/len is the whole packet (descriptor first) as
 * copied into the caller's buffer, so it cannot change under the reader;
 * the descriptor fields below are the checked copies to rely on (the
 * descriptor in data is overwritten with them). Parse GPA-direct and
 * transfer-page packets with vmbus_ring_parse_gpa_direct() /
 * vmbus_ring_parse_xfer() on data/len.
 */
struct vmbus_channel_packet {
	uint16_t type;			/* enum vmbus_packet_type */
	uint16_t flags;
	uint64_t trans_id;
	const void *data;
	uint32_t len;
	const void *payload;		/* data + offset8 * 8 */
	uint32_t payload_len;
	/* VM_PKT_COMP only: the cookie of the matching request and 0, or
	 * NULL and -ENOENT when no request has this trans_id. */
	void *cookie;
	int comp_status;
};

/*
 * Iterate: next copies the packet at the read position into buf and fills
 * *pkt (valid until the next call). Returns 1 for a packet, 0 when the
 * ring is empty, -ENOBUFS if buflen is below the packet (pkt->len says how
 * much is needed; the packet stays), or a ring error for a hostile ring
 * (the packet stays, so the end should be shut down). The peer sees the
 * freed space only at vmbus_channel_recv_end(), which publishes the read
 * index once and signals the peer if it was waiting for room.
 */
int vmbus_channel_recv_next(struct vmbus_channel *ch, void *buf, size_t buflen,
			    struct vmbus_channel_packet *pkt);
int vmbus_channel_recv_end(struct vmbus_channel *ch);

/* Called per packet by the batch functions; a non-zero return stops the
 * batch after this packet (which counts as consumed). */
typedef int vmbus_channel_packet_fn(void *ctx,
				    const struct vmbus_channel_packet *pkt);

/*
 * Receive up to max packets (0: no limit) through fn, then publish and
 * signal as recv_end does. Returns how many were handed to fn, or a
 * negative errno from recv_next when none was (a later error is returned
 * by the next call, after the packets before it were consumed).
 */
int vmbus_channel_recv_batch(struct vmbus_channel *ch, void *buf,
			     size_t buflen, unsigned int max,
			     vmbus_channel_packet_fn *fn, void *ctx);

/*
 * Interrupt masking for polling readers. vmbus_channel_mask() tells the
 * writer not to signal; vmbus_channel_unmask() allows it again and returns
 * true if packets arrived meanwhile, which must then be drained (no
 * signal will come for them).
 */
void vmbus_channel_mask(struct vmbus_channel *ch);
bool vmbus_channel_unmask(struct vmbus_channel *ch);

/*
 * The usual response to a signal: mask, drain through fn, unmask, and
 * drain again while unmask finds more. Stops after budget packets (0: no
 * limit) or when fn returns non-zero; the ring then stays masked and the
 * caller must call again (the peer will not signal meanwhile). Returns the
 * packets handled or a negative errno (the ring is left unmasked on
 * error).
 */
int vmbus_channel_process(struct vmbus_channel *ch, void *buf, size_t buflen,
			  unsigned int budget, vmbus_channel_packet_fn *fn,
			  void *ctx);

/* ---- Statistics --------------------------------------------------------------- */

struct vmbus_channel_stats {
	uint64_t signals;		/* doorbells rung toward the peer */
	uint64_t packets_sent;
	uint64_t packets_received;
	uint64_t ring_full;		/* sends that returned -EAGAIN */
	uint64_t unknown_completions;
};

/* Copy the end's counters (since init) into *out. */
void vmbus_channel_get_stats(const struct vmbus_channel *ch,
			     struct vmbus_channel_stats *out);

/* ---- Host only (libvmbus/channel_host.c, not freestanding) ------------------- */

/*
 * A channel doorbell as an eventfd: the carrier rings it when the peer
 * signals (vmbus_channel_notifier_signal(), or
 * vmbus_channel_notifier_signal_fn as the peer end's signal function when
 * both ends live in one process), and a VSP polls its fd in its own event
 * loop. A value type the caller embeds.
 */
struct vmbus_channel_notifier {
	int fd;		/* -1 when closed */
};

/* Create a non-blocking eventfd. 0 or -errno. */
int vmbus_channel_notifier_open(struct vmbus_channel_notifier *n);

/* Close it; fd becomes -1, so closing again does nothing. */
void vmbus_channel_notifier_close(struct vmbus_channel_notifier *n);

/* The fd to poll for POLLIN. */
int vmbus_channel_notifier_fd(const struct vmbus_channel_notifier *n);

/* Ring it. 0 or -errno. */
int vmbus_channel_notifier_signal(struct vmbus_channel_notifier *n);

/* A vmbus_channel_signal_fn whose ctx is a struct vmbus_channel_notifier. */
void vmbus_channel_notifier_signal_fn(void *ctx);

/* Consume pending signals: how many arrived since the last clear (0 if
 * none), or -errno. */
int64_t vmbus_channel_notifier_clear(struct vmbus_channel_notifier *n);

/* Wait up to timeout_ms (-1: forever) for a signal and consume it. 1 when
 * signalled, 0 on timeout, -errno on error. */
int vmbus_channel_notifier_wait(struct vmbus_channel_notifier *n,
				int timeout_ms);

#endif
