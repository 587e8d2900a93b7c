/* SPDX-License-Identifier: MIT */
/*
 * One Hyper-V VMBus ring buffer over a memory view: packet writes with the
 * padding and trailer, validated packet reads, batched index publishing,
 * the signalling decisions, and parsers for GPA-direct and transfer-page
 * packets.
 *
 * Formats and rules: Linux include/linux/hyperv.h and
 * drivers/hv/ring_buffer.c (hv_ringbuffer_write, hv_pkt_iter_*,
 * hv_signal_on_write, hv_get_bytes_to_write); OpenVMM
 * vm/devices/vmbus/vmbus_ring (GPA range rules); docs/PROTOCOL.md section 2.
 *
 * Compiles freestanding: only freestanding.h, the compiler's headers and
 * __atomic builtins.
 *
 * Memory ordering. The two sides may be two processes or a guest vCPU and
 * a host thread; they share nothing but this memory, so every cross-side
 * ordering is an explicit atomic or fence:
 *
 *  - Writer: copy the packet and its trailer with plain stores, then store
 *    write_index with RELEASE. A reader that loads write_index with ACQUIRE
 *    then sees the bytes, never a half-written packet.
 *  - Reader: copy the packet out with plain loads, then store read_index
 *    with RELEASE. The writer loads read_index with ACQUIRE before it
 *    reuses that space, so it cannot overwrite bytes still being copied.
 *  - Writer's signal decision: after publishing write_index, a FULL barrier
 *    before loading interrupt_mask and read_index. The reader, when it
 *    unmasks, stores interrupt_mask = 0, issues a full barrier and loads
 *    write_index again. Store-then-load on both sides is the Dekker
 *    pattern: without the barriers each side's store can sit in its store
 *    buffer while it loads the other's stale value, the writer sees "masked"
 *    and the reader sees "empty", and the packet waits forever with nobody
 *    signalled (the lost wake-up that ring_buffer.c's virt_mb() prevents).
 *    With both barriers, at least one side sees the other's store.
 *  - Reader's signal decision: after publishing read_index, a full barrier
 *    before loading pending_send_sz; the writer stores pending_send_sz, a
 *    full barrier, then loads read_index again. Same pattern, same reason:
 *    either the writer sees the freed space and retries, or the reader sees
 *    the request and signals.
 *  - interrupt_mask = 1 is only a hint to spare signals, so it needs no
 *    barrier; a writer that misses it sends one signal too many.
 *
 * Each side caches the peer's index it last loaded (the writer the read
 * index, the reader the write index) and reloads only when the cached value
 * says "no room" or "no more data". Indices only move forward, so a stale
 * value is conservative, and the shared cache line moves between CPUs once
 * per batch instead of once per packet.
 */
#include "freestanding.h"

#include <vmbus/ring.h>

#define DESC_SIZE	((uint32_t)sizeof(struct vmpacket_descriptor))
#define MIN_PKT_SPACE	(DESC_SIZE + VMBUS_RING_TRAILER_SIZE)
#define MAX_PKT_LEN	(0xffffu * VMBUS_PKT_ALIGN)	/* len8 is 16 bits */
#define EXT_HDR_SIZE	24u	/* GPA-direct and xfer-page headers */

static inline uint32_t load_acquire(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline uint32_t load_relaxed(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void store_release(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline void store_relaxed(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static inline void full_barrier(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* After copying peer-written bytes into a local: the empty asm claims to
 * change the local, so the compiler cannot re-read shared memory in its
 * place (a double fetch) and must use the one copy. */
#define PIN_LOCAL(x)	__asm__ __volatile__("" : "+m"(x))

/* How far ahead of the packet being written to ask for cache lines in
 * exclusive state. The reader's core holds the lines from the last lap;
 * without the hint each store waits for that core to let go. */
#define PREFETCH_AHEAD	512u

static inline void prefetch_for_write(const uint8_t *p)
{
#if defined(__x86_64__) || defined(__i386__)
	/* PREFETCHW, not the read hint __builtin_prefetch(p, 1) gives on a
	 * baseline x86-64 target; CPUs without it treat it as a NOP. */
	__asm__ __volatile__("prefetchw %0" : : "m"(*p));
#else
	__builtin_prefetch(p, 1);
#endif
}

static inline bool index_ok(const struct vmbus_ring *r, uint32_t idx)
{
	return idx < r->size && !(idx & (VMBUS_PKT_ALIGN - 1));
}

/* Callers keep off < 2 * size. */
static inline uint32_t ring_wrap(const struct vmbus_ring *r, uint32_t off)
{
	return off >= r->size ? off - r->size : off;
}

/* Bytes from offset "from" forward to offset "to". */
static inline uint32_t ring_dist(const struct vmbus_ring *r, uint32_t from,
				 uint32_t to)
{
	return to >= from ? to - from : r->size - from + to;
}

/* ---- Byte movers: off < size, len <= size --------------------------------- */

static void pages_put(const struct vmbus_ring *r, uint32_t off,
		      const uint8_t *src, uint32_t len)
{
	while (len) {
		uint32_t in_page = off & (HV_PAGE_SIZE - 1);
		uint32_t n = HV_PAGE_SIZE - in_page;

		if (n > len)
			n = len;
		memcpy(r->pages[off / HV_PAGE_SIZE] + in_page, src, n);
		src += n;
		len -= n;
		off = ring_wrap(r, off + n);
	}
}

static void pages_get(const struct vmbus_ring *r, uint32_t off, uint8_t *dst,
		      uint32_t len)
{
	while (len) {
		uint32_t in_page = off & (HV_PAGE_SIZE - 1);
		uint32_t n = HV_PAGE_SIZE - in_page;

		if (n > len)
			n = len;
		memcpy(dst, r->pages[off / HV_PAGE_SIZE] + in_page, n);
		dst += n;
		len -= n;
		off = ring_wrap(r, off + n);
	}
}

static void ring_put_slow(const struct vmbus_ring *r, uint32_t off,
			  const void *src, uint32_t len)
{
	uint32_t first;

	if (!r->data) {
		pages_put(r, off, src, len);
		return;
	}
	first = r->size - off;
	memcpy(r->data + off, src, first);
	memcpy(r->data, (const uint8_t *)src + first, len - first);
}

static void ring_get_slow(const struct vmbus_ring *r, uint32_t off, void *dst,
			  uint32_t len)
{
	uint32_t first;

	if (!r->data) {
		pages_get(r, off, dst, len);
		return;
	}
	first = r->size - off;
	memcpy(dst, r->data + off, first);
	memcpy((uint8_t *)dst + first, r->data, len - first);
}

/* The common case, a contiguous view and no wrap, is one memcpy; inlined,
 * so the fixed-size copies of descriptors and trailers become plain moves
 * where the compiler may expand memcpy. */
static __attribute__((always_inline)) inline void
ring_put(const struct vmbus_ring *r, uint32_t off, const void *src, uint32_t len)
{
	if (__builtin_expect(r->data && len <= r->size - off, 1))
		memcpy(r->data + off, src, len);
	else
		ring_put_slow(r, off, src, len);
}

static __attribute__((always_inline)) inline void
ring_get(const struct vmbus_ring *r, uint32_t off, void *dst, uint32_t len)
{
	if (__builtin_expect(r->data && len <= r->size - off, 1))
		memcpy(dst, r->data + off, len);
	else
		ring_get_slow(r, off, dst, len);
}

/* ---- Views ---------------------------------------------------------------- */

static void view_reset(struct vmbus_ring *r, struct vmbus_ring_ctrl *ctrl,
		       uint32_t size)
{
	memset(r, 0, sizeof(*r));
	r->ctrl = ctrl;
	r->size = size;
}

int vmbus_ring_view_contig(struct vmbus_ring *r, struct vmbus_ring_ctrl *ctrl,
			   void *data, size_t data_size)
{
	if (!r || !ctrl || !data || !data_size ||
	    data_size > VMBUS_RING_MAX_DATA_SIZE || data_size % HV_PAGE_SIZE)
		return -EINVAL;
	view_reset(r, ctrl, (uint32_t)data_size);
	r->data = data;
	return 0;
}

int vmbus_ring_view_pages(struct vmbus_ring *r, struct vmbus_ring_ctrl *ctrl,
			  void *const *pages, size_t npages)
{
	size_t i;

	if (!r || !ctrl || !pages || !npages ||
	    npages > VMBUS_RING_MAX_DATA_SIZE / HV_PAGE_SIZE)
		return -EINVAL;
	for (i = 0; i < npages; i++)
		if (!pages[i])
			return -EINVAL;
	view_reset(r, ctrl, (uint32_t)(npages * HV_PAGE_SIZE));
	r->pages = (uint8_t *const *)pages;
	return 0;
}

void vmbus_ring_init(struct vmbus_ring *r, uint32_t feature_bits)
{
	memset(r->ctrl, 0, sizeof(*r->ctrl));
	r->ctrl->feature_bits = feature_bits;
	r->wr = r->wr_pub = r->rd_seen = 0;
	r->rd = r->rd_pub = r->wr_seen = 0;
	r->batch = false;
	/* Whatever hands the ring to the peer next must not overtake this. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

int vmbus_ring_attach(struct vmbus_ring *r)
{
	uint32_t wr = load_acquire(&r->ctrl->write_index);
	uint32_t rd = load_acquire(&r->ctrl->read_index);

	if (!index_ok(r, wr) || !index_ok(r, rd))
		return -ERANGE;
	r->wr = r->wr_pub = r->wr_seen = wr;
	r->rd = r->rd_pub = r->rd_seen = rd;
	r->batch = false;
	return 0;
}

uint32_t vmbus_ring_data_size(const struct vmbus_ring *r)
{
	return r->size;
}

int vmbus_ring_bytes_to_read(struct vmbus_ring *r)
{
	uint32_t wr = load_acquire(&r->ctrl->write_index);

	if (!index_ok(r, wr))
		return -ERANGE;
	r->wr_seen = wr;
	return (int)ring_dist(r, r->rd, wr);
}

int vmbus_ring_bytes_to_write(struct vmbus_ring *r)
{
	uint32_t rd = load_acquire(&r->ctrl->read_index);

	if (!index_ok(r, rd))
		return -ERANGE;
	r->rd_seen = rd;
	return (int)(r->size - ring_dist(r, rd, r->wr));
}

/* ---- Writing -------------------------------------------------------------- */

/* One packet being written at the private write position. */
struct ring_tx {
	uint32_t start;		/* ring offset of the descriptor */
	uint32_t done;		/* bytes of the packet written so far */
	uint32_t padded;	/* packet bytes including padding */
	uint8_t *linear;	/* whole packet in one piece at this address */
};

static __attribute__((always_inline)) inline int
tx_begin(struct vmbus_ring *r, size_t pktlen, struct ring_tx *tx)
{
	uint32_t total, space, rd;

	if (pktlen < DESC_SIZE)
		return -EINVAL;
	if (pktlen > MAX_PKT_LEN)
		return -EMSGSIZE;
	total = (uint32_t)vmbus_ring_pkt_size(pktlen);
	/* Free space must stay above the packet, so even an empty ring
	 * cannot take total == size. */
	if (total >= r->size)
		return -ENOSPC;
	space = r->size - ring_dist(r, r->rd_seen, r->wr);
	if (space <= total) {
		rd = load_acquire(&r->ctrl->read_index);
		if (!index_ok(r, rd))
			return -ERANGE;
		r->rd_seen = rd;
		space = r->size - ring_dist(r, rd, r->wr);
		if (space <= total)
			return -EAGAIN;
	}
	tx->start = r->wr;
	tx->done = 0;
	tx->padded = total - VMBUS_RING_TRAILER_SIZE;
	tx->linear = NULL;
	if (r->data && total <= r->size - tx->start) {
		tx->linear = r->data + tx->start;
		/* Zero the last word first; the packet's bytes then overwrite
		 * all but the padding, which costs one store instead of a
		 * variable-length fill. */
		memset(tx->linear + tx->padded - VMBUS_PKT_ALIGN, 0, VMBUS_PKT_ALIGN);
		if (r->size - tx->start > PREFETCH_AHEAD)
			prefetch_for_write(tx->linear + PREFETCH_AHEAD);
	}
	return 0;
}

static __attribute__((always_inline)) inline void
tx_put(const struct vmbus_ring *r, struct ring_tx *tx, const void *src,
       uint32_t len)
{
	if (tx->linear)
		memcpy(tx->linear + tx->done, src, len);
	else if (len)
		ring_put(r, ring_wrap(r, tx->start + tx->done), src, len);
	tx->done += len;
}

static void tx_publish(struct vmbus_ring *r, bool *signal)
{
	uint32_t old = r->wr_pub;
	uint32_t rd;

	if (signal)
		*signal = false;
	if (old == r->wr)
		return;
	store_release(&r->ctrl->write_index, r->wr);
	r->wr_pub = r->wr;
	if (!signal)
		return;
	full_barrier();
	if (load_acquire(&r->ctrl->interrupt_mask))
		return;
	/* The acquire above keeps this load after the mask load, so an
	 * unmask we saw brings the read_index published before it. */
	rd = load_relaxed(&r->ctrl->read_index);
	*signal = rd == old;
}

/* Zero the padding, add the trailer, and publish unless batching. */
static __attribute__((always_inline)) inline void
tx_end(struct vmbus_ring *r, struct ring_tx *tx, bool *signal)
{
	static const uint8_t zeros[VMBUS_PKT_ALIGN];
	uint64_t trailer = (uint64_t)tx->start << 32;

	if (tx->linear) {
		memcpy(tx->linear + tx->padded, &trailer, sizeof(trailer));
	} else {
		tx_put(r, tx, zeros, tx->padded - tx->done);
		tx_put(r, tx, &trailer, sizeof(trailer));
	}
	r->wr = ring_wrap(r, tx->start + tx->padded + VMBUS_RING_TRAILER_SIZE);
	if (r->batch) {
		if (signal)
			*signal = false;
		return;
	}
	tx_publish(r, signal);
}

static int sg_total(const struct vmbus_ring_sg *sg, unsigned int nsg,
		    size_t *total)
{
	size_t sum = 0;
	unsigned int i;

	if (nsg && !sg)
		return -EINVAL;
	for (i = 0; i < nsg; i++) {
		if (sg[i].len && !sg[i].base)
			return -EINVAL;
		if (sg[i].len > MAX_PKT_LEN - sum)
			return -EMSGSIZE;
		sum += sg[i].len;
	}
	*total = sum;
	return 0;
}

static void tx_put_sg(const struct vmbus_ring *r, struct ring_tx *tx,
		      const struct vmbus_ring_sg *sg, unsigned int nsg)
{
	unsigned int i;

	for (i = 0; i < nsg; i++)
		if (sg[i].len)
			tx_put(r, tx, sg[i].base, (uint32_t)sg[i].len);
}

static void desc_fill(struct vmpacket_descriptor *d, uint16_t type,
		      uint32_t hdrlen, size_t pktlen, uint16_t flags,
		      uint64_t trans_id)
{
	d->type = type;
	d->offset8 = (uint16_t)(hdrlen / VMBUS_PKT_ALIGN);
	d->len8 = (uint16_t)((pktlen + VMBUS_PKT_ALIGN - 1) / VMBUS_PKT_ALIGN);
	d->flags = flags;
	d->trans_id = trans_id;
}

int vmbus_ring_write(struct vmbus_ring *r, const struct vmbus_ring_sg *sg,
		     unsigned int nsg, bool *signal)
{
	struct ring_tx tx;
	size_t len;
	int ret;

	ret = sg_total(sg, nsg, &len);
	if (!ret)
		ret = tx_begin(r, len, &tx);
	if (ret)
		return ret;
	tx_put_sg(r, &tx, sg, nsg);
	tx_end(r, &tx, signal);
	return 0;
}

int vmbus_ring_sendv(struct vmbus_ring *r, uint16_t type, uint16_t flags,
		     uint64_t trans_id, const struct vmbus_ring_sg *sg,
		     unsigned int nsg, bool *signal)
{
	struct vmpacket_descriptor d;
	struct ring_tx tx;
	size_t len;
	int ret;

	ret = sg_total(sg, nsg, &len);
	if (ret)
		return ret;
	if (len > MAX_PKT_LEN - DESC_SIZE)
		return -EMSGSIZE;
	len += DESC_SIZE;
	ret = tx_begin(r, len, &tx);
	if (ret)
		return ret;
	desc_fill(&d, type, DESC_SIZE, len, flags, trans_id);
	tx_put(r, &tx, &d, DESC_SIZE);
	tx_put_sg(r, &tx, sg, nsg);
	tx_end(r, &tx, signal);
	return 0;
}

/*
 * The common case of send_simple(): a contiguous view, the packet ends
 * before the end of the data area, and the cached read index already shows
 * room. The packet is then stored in place with no per-piece bookkeeping.
 * Returns false, having touched nothing, when any of that does not hold;
 * the general path then decides (and reloads the read index if need be).
 * len is at most MAX_PKT_LEN - DESC_SIZE.
 */
static __attribute__((always_inline)) inline bool
send_linear(struct vmbus_ring *r, uint16_t type, const void *data,
	    uint32_t len, uint64_t trans_id, uint16_t flags, bool *signal)
{
	uint32_t total = (uint32_t)vmbus_ring_pkt_size(DESC_SIZE + len);
	uint32_t wr = r->wr, size = r->size, padded, next;
	struct vmpacket_descriptor d;
	uint64_t trailer;
	uint8_t *p;

	/* wr and rd_seen are both below size, so the distance is too;
	 * "space > total" also keeps total < size. */
	if (!r->data || total > size - wr ||
	    size - ring_dist(r, r->rd_seen, wr) <= total)
		return false;
	p = r->data + wr;
	padded = total - VMBUS_RING_TRAILER_SIZE;
	if (size - wr > PREFETCH_AHEAD)
		prefetch_for_write(p + PREFETCH_AHEAD);
	desc_fill(&d, type, DESC_SIZE, DESC_SIZE + len, flags, trans_id);
	/* Last word first: the payload then covers all but the padding. */
	memset(p + padded - VMBUS_PKT_ALIGN, 0, VMBUS_PKT_ALIGN);
	memcpy(p, &d, DESC_SIZE);
	trailer = (uint64_t)wr << 32;
	memcpy(p + padded, &trailer, sizeof(trailer));
	next = wr + total;
	r->wr = next == size ? 0 : next;
	/* The payload last: fewer values live across the call. Nothing is
	 * visible to the reader before the write index is published. */
	if (len)
		memcpy(p + DESC_SIZE, data, len);
	if (r->batch) {
		if (signal)
			*signal = false;
	} else {
		tx_publish(r, signal);
	}
	return true;
}

/* Everything send_linear() leaves: wrap, paged view, reload of the read
 * index. Kept out of line so the fast path saves few registers. */
static __attribute__((noinline)) int
send_general(struct vmbus_ring *r, uint16_t type, const void *data,
	     size_t len, uint64_t trans_id, uint16_t flags, bool *signal)
{
	struct vmpacket_descriptor d;
	struct ring_tx tx;
	int ret;

	ret = tx_begin(r, DESC_SIZE + len, &tx);
	if (ret)
		return ret;
	desc_fill(&d, type, DESC_SIZE, DESC_SIZE + len, flags, trans_id);
	tx_put(r, &tx, &d, DESC_SIZE);
	if (len)
		tx_put(r, &tx, data, (uint32_t)len);
	tx_end(r, &tx, signal);
	return 0;
}

/* Inlined into each caller: small packets are the hot case, and a call
 * with its register saves costs as much as the checks. */
static __attribute__((always_inline)) inline int
send_simple(struct vmbus_ring *r, uint16_t type, const void *data, size_t len,
	    uint64_t trans_id, uint16_t flags, bool *signal)
{
	if (len && !data)
		return -EINVAL;
	if (len > MAX_PKT_LEN - DESC_SIZE)
		return -EMSGSIZE;
	if (send_linear(r, type, data, (uint32_t)len, trans_id, flags, signal))
		return 0;
	return send_general(r, type, data, len, trans_id, flags, signal);
}

int vmbus_ring_send_inband(struct vmbus_ring *r, const void *data, size_t len,
			   uint64_t trans_id, uint16_t flags, bool *signal)
{
	return send_simple(r, VM_PKT_DATA_INBAND, data, len, trans_id, flags,
			   signal);
}

int vmbus_ring_send_comp(struct vmbus_ring *r, const void *data, size_t len,
			 uint64_t trans_id, bool *signal)
{
	return send_simple(r, VM_PKT_COMP, data, len, trans_id, 0, signal);
}

static uint64_t gpa_pfn_count(uint32_t byte_count, uint32_t byte_offset)
{
	return ((uint64_t)byte_count + byte_offset + HV_PAGE_SIZE - 1) /
	       HV_PAGE_SIZE;
}

int vmbus_ring_send_gpa_direct(struct vmbus_ring *r,
			       const struct vmbus_ring_gpa *ranges,
			       uint32_t nranges, const void *data, size_t len,
			       uint64_t trans_id, uint16_t flags, bool *signal)
{
	struct vmpacket_descriptor d;
	struct ring_tx tx;
	uint32_t word[2];
	uint64_t hdr = EXT_HDR_SIZE;
	uint32_t i;
	int ret;

	if ((nranges && !ranges) || (len && !data))
		return -EINVAL;
	for (i = 0; i < nranges; i++) {
		const struct vmbus_ring_gpa *g = &ranges[i];

		if (!g->byte_count || g->byte_offset >= HV_PAGE_SIZE || !g->pfns)
			return -EINVAL;
		hdr += sizeof(struct vmbus_gpa_range) +
		       gpa_pfn_count(g->byte_count, g->byte_offset) * sizeof(uint64_t);
		if (hdr > MAX_PKT_LEN)
			return -EMSGSIZE;
	}
	if (len > MAX_PKT_LEN - hdr)
		return -EMSGSIZE;
	ret = tx_begin(r, hdr + len, &tx);
	if (ret)
		return ret;
	desc_fill(&d, VM_PKT_DATA_USING_GPA_DIRECT, (uint32_t)hdr, hdr + len,
		  flags, trans_id);
	tx_put(r, &tx, &d, DESC_SIZE);
	word[0] = 0;		/* reserved */
	word[1] = nranges;
	tx_put(r, &tx, word, sizeof(word));
	for (i = 0; i < nranges; i++) {
		const struct vmbus_ring_gpa *g = &ranges[i];

		word[0] = g->byte_count;
		word[1] = g->byte_offset;
		tx_put(r, &tx, word, sizeof(word));
		tx_put(r, &tx, g->pfns, (uint32_t)(sizeof(uint64_t) *
			gpa_pfn_count(g->byte_count, g->byte_offset)));
	}
	if (len)
		tx_put(r, &tx, data, (uint32_t)len);
	tx_end(r, &tx, signal);
	return 0;
}

int vmbus_ring_send_xfer(struct vmbus_ring *r, uint16_t pageset_id,
			 bool sender_owns_set,
			 const struct vmbus_xfer_page_range *ranges,
			 uint32_t nranges, const void *data, size_t len,
			 uint64_t trans_id, uint16_t flags, bool *signal)
{
	struct vmbus_xfer_page_header h;
	struct ring_tx tx;
	uint64_t hdr;
	int ret;

	if ((nranges && !ranges) || (len && !data))
		return -EINVAL;
	hdr = EXT_HDR_SIZE + (uint64_t)nranges * sizeof(*ranges);
	if (hdr > MAX_PKT_LEN || len > MAX_PKT_LEN - hdr)
		return -EMSGSIZE;
	ret = tx_begin(r, hdr + len, &tx);
	if (ret)
		return ret;
	memset(&h, 0, sizeof(h));
	desc_fill(&h.desc, VM_PKT_DATA_USING_XFER_PAGES, (uint32_t)hdr,
		  hdr + len, flags, trans_id);
	h.xfer_pageset_id = pageset_id;
	h.sender_owns_set = sender_owns_set ? 1 : 0;
	h.range_count = nranges;
	tx_put(r, &tx, &h, sizeof(h));
	if (nranges)
		tx_put(r, &tx, ranges, (uint32_t)(nranges * sizeof(*ranges)));
	if (len)
		tx_put(r, &tx, data, (uint32_t)len);
	tx_end(r, &tx, signal);
	return 0;
}

void vmbus_ring_write_batch_begin(struct vmbus_ring *r)
{
	r->batch = true;
}

void vmbus_ring_write_batch_end(struct vmbus_ring *r, bool *signal)
{
	r->batch = false;
	tx_publish(r, signal);
}

int vmbus_ring_request_space(struct vmbus_ring *r, uint32_t bytes)
{
	uint32_t rd;

	/* The reader judges free space by the published write index; with
	 * unpublished bytes it would think the writer has room and never
	 * signal. */
	if (!bytes || r->batch)
		return -EINVAL;
	if (!(load_relaxed(&r->ctrl->feature_bits) & VMBUS_RING_FEAT_PENDING_SEND_SZ))
		return -ENOTSUP;
	store_relaxed(&r->ctrl->pending_send_sz, bytes);
	full_barrier();
	rd = load_acquire(&r->ctrl->read_index);
	if (!index_ok(r, rd))
		return -ERANGE;
	r->rd_seen = rd;
	return r->size - ring_dist(r, rd, r->wr) > bytes ? 1 : 0;
}

void vmbus_ring_clear_space_request(struct vmbus_ring *r)
{
	store_relaxed(&r->ctrl->pending_send_sz, 0);
}

/* ---- Reading -------------------------------------------------------------- */

/* Bytes readable at the private position; reloads the peer's write index
 * only when the cached one shows fewer than need. */
static __attribute__((always_inline)) inline int
rx_avail(struct vmbus_ring *r, uint32_t need, uint32_t *avail)
{
	uint32_t a = ring_dist(r, r->rd, r->wr_seen);
	uint32_t wr;

	if (a < need) {
		wr = load_acquire(&r->ctrl->write_index);
		if (!index_ok(r, wr))
			return -ERANGE;
		r->wr_seen = wr;
		a = ring_dist(r, r->rd, wr);
	}
	*avail = a;
	return 0;
}

int vmbus_ring_peek(struct vmbus_ring *r, struct vmbus_ring_pkt *pkt)
{
	struct vmpacket_descriptor d;
	uint32_t avail, len, space;
	int ret;

	ret = rx_avail(r, MIN_PKT_SPACE, &avail);
	if (ret)
		return ret;
	if (!avail)
		return -EAGAIN;
	if (avail < MIN_PKT_SPACE)
		return -ENOMSG;
	ring_get(r, r->rd, &d, DESC_SIZE);
	PIN_LOCAL(d);
	if (d.len8 < DESC_SIZE / VMBUS_PKT_ALIGN)
		return -EPROTO;
	len = (uint32_t)d.len8 * VMBUS_PKT_ALIGN;
	space = len + VMBUS_RING_TRAILER_SIZE;
	if (space >= r->size)
		return -EMSGSIZE;
	if (space > avail) {
		ret = rx_avail(r, space, &avail);
		if (ret)
			return ret;
		if (space > avail)
			return -ENOMSG;
	}
	if (d.offset8 < DESC_SIZE / VMBUS_PKT_ALIGN || d.offset8 > d.len8)
		return -EBADMSG;
	pkt->desc = d;
	pkt->len = len;
	pkt->offset = (uint32_t)d.offset8 * VMBUS_PKT_ALIGN;
	pkt->pos = r->rd;
	return 0;
}

static bool pkt_ok(const struct vmbus_ring *r, const struct vmbus_ring_pkt *pkt)
{
	return pkt->pos < r->size && pkt->len >= DESC_SIZE &&
	       pkt->len < r->size && !(pkt->len & (VMBUS_PKT_ALIGN - 1));
}

int vmbus_ring_copy(struct vmbus_ring *r, const struct vmbus_ring_pkt *pkt,
		    uint32_t off, void *dst, size_t len)
{
	if (!pkt_ok(r, pkt) || off > pkt->len || len > pkt->len - off ||
	    (len && !dst))
		return -EINVAL;
	if (len)
		ring_get(r, ring_wrap(r, pkt->pos + off), dst, (uint32_t)len);
	return 0;
}

int vmbus_ring_advance(struct vmbus_ring *r, const struct vmbus_ring_pkt *pkt)
{
	if (!pkt_ok(r, pkt) || pkt->pos != r->rd)
		return -EINVAL;
	r->rd = ring_wrap(r, r->rd + pkt->len + VMBUS_RING_TRAILER_SIZE);
	return 0;
}

int vmbus_ring_publish(struct vmbus_ring *r, bool *signal)
{
	uint32_t old = r->rd_pub, now = r->rd;
	uint32_t pending, wr, space, freed, before;

	if (signal)
		*signal = false;
	if (old == now)
		return 0;
	store_release(&r->ctrl->read_index, now);
	r->rd_pub = now;
	if (!signal)
		return 0;
	full_barrier();
	if (!(load_relaxed(&r->ctrl->feature_bits) & VMBUS_RING_FEAT_PENDING_SEND_SZ))
		return 0;
	pending = load_acquire(&r->ctrl->pending_send_sz);
	if (!pending)
		return 0;
	wr = load_relaxed(&r->ctrl->write_index);
	if (!index_ok(r, wr))
		return -ERANGE;
	space = r->size - ring_dist(r, now, wr);
	freed = ring_dist(r, old, now);
	before = space > freed ? space - freed : 0;
	/* Signal only on the edge from "not enough" to "enough": a writer
	 * that was never blocked, or is still blocked, gains nothing. */
	*signal = before <= pending && space > pending;
	return 0;
}

int vmbus_ring_recv(struct vmbus_ring *r, void *buf, size_t buflen,
		    size_t *pktlen, bool *signal)
{
	struct vmbus_ring_pkt pkt;
	int ret;

	if (signal)
		*signal = false;
	ret = vmbus_ring_peek(r, &pkt);
	if (ret)
		return ret;
	if (pktlen)
		*pktlen = pkt.len;
	if (!buf || buflen < pkt.len)
		return -ENOBUFS;
	ring_get(r, pkt.pos, buf, pkt.len);
	vmbus_ring_advance(r, &pkt);
	return vmbus_ring_publish(r, signal);
}

void vmbus_ring_mask(struct vmbus_ring *r)
{
	store_relaxed(&r->ctrl->interrupt_mask, 1);
}

bool vmbus_ring_unmask(struct vmbus_ring *r)
{
	uint32_t wr;

	store_release(&r->ctrl->interrupt_mask, 0);
	full_barrier();
	wr = load_acquire(&r->ctrl->write_index);
	if (index_ok(r, wr))
		r->wr_seen = wr;
	return wr != r->rd;
}

/* ---- Parsing copied-out packets ------------------------------------------- */

static inline uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Check the descriptor of a packet copy; on success *pkt_len and *hdr_len
 * are len8 * 8 and offset8 * 8. */
static int parse_desc(const uint8_t *p, size_t len, uint16_t type,
		      uint32_t *pkt_len, uint32_t *hdr_len)
{
	struct vmpacket_descriptor d;

	if (!p)
		return -EINVAL;
	if (len < DESC_SIZE)
		return -EMSGSIZE;
	memcpy(&d, p, DESC_SIZE);
	PIN_LOCAL(d);
	if (d.type != type)
		return -EINVAL;
	if (d.len8 < DESC_SIZE / VMBUS_PKT_ALIGN)
		return -EPROTO;
	if ((size_t)d.len8 * VMBUS_PKT_ALIGN > len)
		return -EMSGSIZE;
	if (d.offset8 < EXT_HDR_SIZE / VMBUS_PKT_ALIGN || d.offset8 > d.len8)
		return -EBADMSG;
	*pkt_len = (uint32_t)d.len8 * VMBUS_PKT_ALIGN;
	*hdr_len = (uint32_t)d.offset8 * VMBUS_PKT_ALIGN;
	return 0;
}

int vmbus_ring_parse_gpa_direct(const void *pkt, size_t len,
				struct vmbus_ring_gpa_iter *it)
{
	const uint8_t *p = pkt, *q, *end;
	uint32_t pkt_len, hdr_len, count, i;
	int ret;

	ret = parse_desc(p, len, VM_PKT_DATA_USING_GPA_DIRECT, &pkt_len, &hdr_len);
	if (ret)
		return ret;
	count = get_u32(p + offsetof(struct vmbus_gpa_direct_header, range_count));
	/* A range is at least its 8-byte header and one PFN: 16 bytes. A
	 * 32-bit product would wrap for counts this large. */
	if (count > UINT32_MAX / 16)
		return -EOVERFLOW;
	if (count * 16 > hdr_len - EXT_HDR_SIZE)
		return -E2BIG;
	q = p + EXT_HDR_SIZE;
	end = p + hdr_len;
	for (i = 0; i < count; i++) {
		uint32_t bc, bo;
		uint64_t npfn;

		if (end - q < (ptrdiff_t)sizeof(struct vmbus_gpa_range))
			return -E2BIG;
		bc = get_u32(q);
		bo = get_u32(q + 4);
		if (!bc || bo >= HV_PAGE_SIZE)
			return -EBADMSG;
		if ((uint64_t)bc + bo + HV_PAGE_SIZE - 1 > UINT32_MAX)
			return -EOVERFLOW;
		npfn = gpa_pfn_count(bc, bo);
		q += sizeof(struct vmbus_gpa_range);
		if ((uint64_t)(end - q) / sizeof(uint64_t) < npfn)
			return -E2BIG;
		q += npfn * sizeof(uint64_t);
	}
	it->next = p + EXT_HDR_SIZE;
	it->left = count;
	it->payload = p + hdr_len;
	it->payload_len = pkt_len - hdr_len;
	return (int)count;
}

bool vmbus_ring_gpa_next(struct vmbus_ring_gpa_iter *it,
			 struct vmbus_ring_gpa_range *out)
{
	if (!it->left)
		return false;
	out->byte_count = get_u32(it->next);
	out->byte_offset = get_u32(it->next + 4);
	out->pfn_count = (uint32_t)gpa_pfn_count(out->byte_count, out->byte_offset);
	out->pfns = it->next + sizeof(struct vmbus_gpa_range);
	it->next = out->pfns + (size_t)out->pfn_count * sizeof(uint64_t);
	it->left--;
	return true;
}

int vmbus_ring_parse_xfer(const void *pkt, size_t len,
			  struct vmbus_ring_xfer_iter *it)
{
	const uint8_t *p = pkt;
	uint32_t pkt_len, hdr_len, count, i;
	uint16_t id;
	int ret;

	ret = parse_desc(p, len, VM_PKT_DATA_USING_XFER_PAGES, &pkt_len, &hdr_len);
	if (ret)
		return ret;
	memcpy(&id, p + offsetof(struct vmbus_xfer_page_header, xfer_pageset_id),
	       sizeof(id));
	count = get_u32(p + offsetof(struct vmbus_xfer_page_header, range_count));
	if (count > UINT32_MAX / sizeof(struct vmbus_xfer_page_range))
		return -EOVERFLOW;
	if (count * sizeof(struct vmbus_xfer_page_range) > hdr_len - EXT_HDR_SIZE)
		return -E2BIG;
	for (i = 0; i < count; i++) {
		const uint8_t *q = p + EXT_HDR_SIZE + (size_t)i * 8;

		if ((uint64_t)get_u32(q) + get_u32(q + 4) > UINT32_MAX)
			return -EOVERFLOW;
	}
	it->next = p + EXT_HDR_SIZE;
	it->left = count;
	it->pageset_id = id;
	it->sender_owns_set =
		p[offsetof(struct vmbus_xfer_page_header, sender_owns_set)] != 0;
	it->payload = p + hdr_len;
	it->payload_len = pkt_len - hdr_len;
	return (int)count;
}

bool vmbus_ring_xfer_next(struct vmbus_ring_xfer_iter *it,
			  struct vmbus_xfer_page_range *out)
{
	if (!it->left)
		return false;
	out->byte_count = get_u32(it->next);
	out->byte_offset = get_u32(it->next + 4);
	it->next += sizeof(struct vmbus_xfer_page_range);
	it->left--;
	return true;
}
