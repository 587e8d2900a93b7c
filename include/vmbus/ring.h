/* SPDX-License-Identifier: MIT */
/*
 * One Hyper-V VMBus ring buffer: a 4 KiB control page followed by a data
 * area of whole pages, used by one writer and one reader that may sit in
 * different processes, partitions or vCPUs.
 *
 * Formats and rules: Linux include/linux/hyperv.h (struct hv_ring_buffer,
 * struct vmpacket_descriptor) and drivers/hv/ring_buffer.c; OpenVMM
 * vm/devices/vmbus/vmbus_ring; docs/PROTOCOL.md section 2. The wire structs
 * live in <vmbus/proto/vmbus.h>.
 *
 * The ring knows nothing about channels or events. Every write and every
 * read-index publish reports whether the peer must be signalled; the caller
 * owns the doorbell.
 *
 * Error values (negative errno). Each hostile-peer condition has its own:
 *   -EAGAIN    reader: ring empty. writer: not enough free space right now.
 *   -ENOSPC    writer: the packet can never fit in this ring.
 *   -ERANGE    a peer-written index is >= the data size or not 8-aligned.
 *   -EPROTO    descriptor len8 too small to hold a descriptor (0 or 1).
 *   -EBADMSG   descriptor offset8 below the header or above len8; in the
 *              packet parsers also a malformed GPA range (byte_count 0 or
 *              byte_offset beyond the first page).
 *   -EMSGSIZE  a packet longer than the ring can ever hold (reader), longer
 *              than len8 can express (writer), or len8 beyond the bytes
 *              handed to a parser.
 *   -ENOMSG    a packet that runs past the published write index.
 *   -EOVERFLOW a range count or byte range whose size overflows 32 bits.
 *   -E2BIG     ranges that do not fit in the packet's header area.
 *   -ENOBUFS   the caller's buffer is too small (the packet stays put).
 *   -EINVAL    caller error: bad geometry, bad arguments, wrong packet type.
 *   -ENOTSUP   pending_send_sz requested but the ring lacks the feature bit.
 * No error path reads or writes memory outside the ring or the caller's
 * buffers, and a failed read leaves the ring as it was.
 *
 * Reader protocol (avoids lost wake-ups): on a signal, vmbus_ring_mask(),
 * drain with vmbus_ring_peek()/copy/advance, vmbus_ring_publish(), then
 * vmbus_ring_unmask(); if it returns true, data arrived meanwhile: drain
 * again. A writer that got -EAGAIN calls vmbus_ring_request_space(); if it
 * returns 0 it waits for the reader's signal, then retries and calls
 * vmbus_ring_clear_space_request() once the packet went in.
 */
#ifndef VMBUS_RING_H
#define VMBUS_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmbus/proto/vmbus.h>

/* The largest data area accepted; real rings are a few MiB at most, and
 * keeping sizes below 2^30 lets byte counts travel in an int. */
#define VMBUS_RING_MAX_DATA_SIZE	(1u << 30)

/*
 * One side's view of one ring. A small value type the caller embeds (in a
 * channel, a device, a guest driver's static data) so that nothing here
 * allocates; fill it with vmbus_ring_view_*() and treat the fields as
 * private. It caches the side's own state: the writer's write position and
 * last seen read index, the reader's private read position and last seen
 * write index. A side never reads its own index back from the shared page,
 * so a peer scribbling over it cannot steer our copies. One thread per side
 * at a time.
 */
struct vmbus_ring {
	struct vmbus_ring_ctrl *ctrl;
	uint8_t *data;			/* contiguous data area, or NULL */
	uint8_t *const *pages;		/* or one host pointer per data page */
	uint32_t size;			/* data area bytes */
	uint32_t wr;			/* writer: next write offset */
	uint32_t wr_pub;		/* writer: write_index last published */
	uint32_t rd_seen;		/* writer: read_index last loaded */
	uint32_t rd;			/* reader: next read offset */
	uint32_t rd_pub;		/* reader: read_index last published */
	uint32_t wr_seen;		/* reader: write_index last loaded */
	bool batch;			/* writer: inside a write batch */
};

/* One piece of a gather list. */
struct vmbus_ring_sg {
	const void *base;
	size_t len;
};

/* The next packet, as vmbus_ring_peek() validated it. */
struct vmbus_ring_pkt {
	struct vmpacket_descriptor desc; /* private copy, fields checked */
	uint32_t len;			/* len8 * 8: descriptor to padding */
	uint32_t offset;		/* offset8 * 8: start of the payload */
	uint32_t pos;			/* private: ring offset of the packet */
};

/* Payload bytes of a peeked packet (includes the sender's padding). */
static inline uint32_t vmbus_ring_pkt_payload_len(const struct vmbus_ring_pkt *pkt)
{
	return pkt->len - pkt->offset;
}

/* Ring bytes a packet of pktlen bytes (descriptor included) occupies:
 * padded to 8, plus the trailer. What vmbus_ring_request_space() wants. */
static inline size_t vmbus_ring_pkt_size(size_t pktlen)
{
	return ((pktlen + VMBUS_PKT_ALIGN - 1) & ~(size_t)(VMBUS_PKT_ALIGN - 1)) +
	       VMBUS_RING_TRAILER_SIZE;
}

/* ---- Setting up a view ---------------------------------------------------- */

/* View a ring whose data area is one contiguous mapping of data_size bytes
 * (a non-zero multiple of 4096, at most VMBUS_RING_MAX_DATA_SIZE). Touches
 * no shared memory; follow with vmbus_ring_init() or vmbus_ring_attach(). */
int vmbus_ring_view_contig(struct vmbus_ring *r, struct vmbus_ring_ctrl *ctrl,
			   void *data, size_t data_size);

/* View a ring whose npages data pages are mapped one by one (a host mapping
 * a guest's GPADL). pages[i] maps data page i, 4096 bytes each; the array
 * must outlive the view. */
int vmbus_ring_view_pages(struct vmbus_ring *r, struct vmbus_ring_ctrl *ctrl,
			  void *const *pages, size_t npages);

/* Make the ring fresh: zero the control page (indices, mask, pending size)
 * and set feature_bits (normally VMBUS_RING_FEAT_PENDING_SEND_SZ). Done by
 * the side that allocates the ring, before the peer sees it. */
void vmbus_ring_init(struct vmbus_ring *r, uint32_t feature_bits);

/* Adopt a ring the peer set up: read both indices once, check them and
 * seed the private positions. -ERANGE if either is out of range. */
int vmbus_ring_attach(struct vmbus_ring *r);

/* Size of the data area in bytes. */
uint32_t vmbus_ring_data_size(const struct vmbus_ring *r);

/* Reader: bytes between the private read position and the peer's write
 * index, or -ERANGE. */
int vmbus_ring_bytes_to_read(struct vmbus_ring *r);

/* Writer: free bytes as the reader's index shows them now (a write needs
 * strictly more than its vmbus_ring_pkt_size()), or -ERANGE. */
int vmbus_ring_bytes_to_write(struct vmbus_ring *r);

/* ---- Writing ----------------------------------------------------------- */

/*
 * Every write returns 0, or a negative errno and leaves the ring untouched.
 * On success *signal (if signal is not NULL) says whether the reader must be
 * signalled: the reader had not masked interrupts and had consumed
 * everything before this write. A NULL signal skips that decision and its
 * full barrier, for polling peers. Inside a write batch *signal is false;
 * vmbus_ring_write_batch_end() decides for the whole batch.
 */

/* Write one raw packet gathered from nsg pieces. The first bytes must be a
 * complete, correct struct vmpacket_descriptor; this only pads and adds the
 * trailer. */
int vmbus_ring_write(struct vmbus_ring *r, const struct vmbus_ring_sg *sg,
		     unsigned int nsg, bool *signal);

/* Write a packet of the given type with a bare descriptor (offset8 = 2) and
 * the payload gathered from sg. */
int vmbus_ring_sendv(struct vmbus_ring *r, uint16_t type, uint16_t flags,
		     uint64_t trans_id, const struct vmbus_ring_sg *sg,
		     unsigned int nsg, bool *signal);

/* VM_PKT_DATA_INBAND with len bytes of payload. flags: typically
 * VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED or 0. */
int vmbus_ring_send_inband(struct vmbus_ring *r, const void *data, size_t len,
			   uint64_t trans_id, uint16_t flags, bool *signal);

/* VM_PKT_COMP answering trans_id. */
int vmbus_ring_send_comp(struct vmbus_ring *r, const void *data, size_t len,
			 uint64_t trans_id, bool *signal);

/* One GPA range to send: byte_count bytes starting byte_offset into the
 * first page; pfns holds ceil((byte_offset + byte_count) / 4096) entries. */
struct vmbus_ring_gpa {
	uint32_t byte_count;
	uint32_t byte_offset;
	const uint64_t *pfns;
};

/* VM_PKT_DATA_USING_GPA_DIRECT: descriptor, reserved, range_count, the
 * ranges with their PFNs, then len bytes of payload. -EINVAL for a range
 * with byte_count 0 or byte_offset >= 4096. */
int vmbus_ring_send_gpa_direct(struct vmbus_ring *r,
			       const struct vmbus_ring_gpa *ranges,
			       uint32_t nranges, const void *data, size_t len,
			       uint64_t trans_id, uint16_t flags, bool *signal);

/* VM_PKT_DATA_USING_XFER_PAGES: descriptor, pageset id, sender_owns_set,
 * range_count, the ranges, then len bytes of payload. */
int vmbus_ring_send_xfer(struct vmbus_ring *r, uint16_t pageset_id,
			 bool sender_owns_set,
			 const struct vmbus_xfer_page_range *ranges,
			 uint32_t nranges, const void *data, size_t len,
			 uint64_t trans_id, uint16_t flags, bool *signal);

/* Start a write batch: following writes fill the ring but the write index
 * is published only by vmbus_ring_write_batch_end(), so the reader sees
 * the batch at once and pays one cache-line transfer for it. */
void vmbus_ring_write_batch_begin(struct vmbus_ring *r);

/* Publish everything written since vmbus_ring_write_batch_begin() and
 * decide the signal for the batch as a whole (signal may be NULL). */
void vmbus_ring_write_batch_end(struct vmbus_ring *r, bool *signal);

/* Writer out of room: ask the reader to signal once more than bytes are
 * free (bytes = vmbus_ring_pkt_size() of the blocked packet), then look
 * again. 1: the room is there now, retry at once. 0: wait for the signal.
 * -ENOTSUP: the ring lacks VMBUS_RING_FEAT_PENDING_SEND_SZ (poll instead).
 * -ERANGE: the reader's index is bad. */
int vmbus_ring_request_space(struct vmbus_ring *r, uint32_t bytes);

/* Withdraw the request once the blocked packet went in. */
void vmbus_ring_clear_space_request(struct vmbus_ring *r);

/* ---- Reading ----------------------------------------------------------- */

/* Validate the packet at the private read position and fill *pkt with a
 * checked copy of its descriptor. Peeking again returns the same packet.
 * -EAGAIN when empty; otherwise the errors listed at the top. */
int vmbus_ring_peek(struct vmbus_ring *r, struct vmbus_ring_pkt *pkt);

/* Copy len bytes starting off bytes into the peeked packet (0 = the
 * descriptor, pkt->offset = the payload) to dst, across the ring's wrap and
 * page boundaries. -EINVAL if the range leaves the packet. */
int vmbus_ring_copy(struct vmbus_ring *r, const struct vmbus_ring_pkt *pkt,
		    uint32_t off, void *dst, size_t len);

/* Step the private read position past the peeked packet; the peer sees
 * nothing until vmbus_ring_publish(). -EINVAL if pkt is not the packet at
 * the read position. */
int vmbus_ring_advance(struct vmbus_ring *r, const struct vmbus_ring_pkt *pkt);

/* Publish the private read position as read_index (once per batch). On
 * return *signal (if not NULL) says whether the writer must be signalled:
 * it asked via pending_send_sz, the ring has the feature bit, and free
 * space went from <= pending_send_sz to > it. Returns 0, or -ERANGE if the
 * write index seen for that decision is bad (the index is published all
 * the same). */
int vmbus_ring_publish(struct vmbus_ring *r, bool *signal);

/* Read the next whole packet (descriptor included) into buf, step past it
 * and publish. *pktlen gets its length; if buflen is too small it is
 * -ENOBUFS, *pktlen says how much is needed and the packet stays. */
int vmbus_ring_recv(struct vmbus_ring *r, void *buf, size_t buflen,
		    size_t *pktlen, bool *signal);

/* Reader: tell writers not to signal (while draining). */
void vmbus_ring_mask(struct vmbus_ring *r);

/* Reader: allow signals again, then look once more. true means data
 * arrived (or the write index went bad) since the last peek: drain again
 * rather than sleep, or a packet could wait forever without a signal. */
bool vmbus_ring_unmask(struct vmbus_ring *r);

/* ---- Parsing packets already copied out of the ring ------------------- */

/* A GPA-direct packet, checked by vmbus_ring_parse_gpa_direct(). */
struct vmbus_ring_gpa_iter {
	const uint8_t *next;		/* next range header */
	uint32_t left;			/* ranges not yet returned */
	const uint8_t *payload;		/* bytes after the header area */
	uint32_t payload_len;
};

/* One range from a parsed GPA-direct packet. The PFNs point into the
 * caller's packet copy and may be unaligned: read them with
 * vmbus_ring_gpa_pfn(). */
struct vmbus_ring_gpa_range {
	uint32_t byte_count;
	uint32_t byte_offset;
	uint32_t pfn_count;
	const uint8_t *pfns;
};

/* Check a whole VM_PKT_DATA_USING_GPA_DIRECT packet of len bytes (as copied
 * out by vmbus_ring_copy/recv) and set up *it to walk its ranges. Returns
 * range_count (>= 0) or a negative errno; every range was checked, so the
 * walk cannot fail. */
int vmbus_ring_parse_gpa_direct(const void *pkt, size_t len,
				struct vmbus_ring_gpa_iter *it);

/* Next range of a parsed GPA-direct packet; false after the last. */
bool vmbus_ring_gpa_next(struct vmbus_ring_gpa_iter *it,
			 struct vmbus_ring_gpa_range *out);

/* PFN i (< pfn_count) of a range. */
static inline uint64_t vmbus_ring_gpa_pfn(const struct vmbus_ring_gpa_range *rg,
					  uint32_t i)
{
	uint64_t v;

	__builtin_memcpy(&v, rg->pfns + (size_t)i * sizeof(v), sizeof(v));
	return v;
}

/* A transfer-page packet, checked by vmbus_ring_parse_xfer(). */
struct vmbus_ring_xfer_iter {
	const uint8_t *next;
	uint32_t left;
	uint16_t pageset_id;
	bool sender_owns_set;
	const uint8_t *payload;
	uint32_t payload_len;
};

/* Check a whole VM_PKT_DATA_USING_XFER_PAGES packet and set up *it. Returns
 * range_count or a negative errno. Each range's byte_offset + byte_count is
 * known not to overflow 32 bits; checking it against the transfer page set
 * is the caller's job. */
int vmbus_ring_parse_xfer(const void *pkt, size_t len,
			  struct vmbus_ring_xfer_iter *it);

/* Next range of a parsed transfer-page packet; false after the last. */
bool vmbus_ring_xfer_next(struct vmbus_ring_xfer_iter *it,
			  struct vmbus_xfer_page_range *out);

#endif
