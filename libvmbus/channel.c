/* SPDX-License-Identifier: MIT */
/*
 * One end of an open VMBus channel: packet send and receive over a pair of
 * rings, the signalling policy, completion matching by transaction id and
 * interrupt masking. Freestanding; allocates nothing.
 *
 * Rules: Linux drivers/hv/ring_buffer.c (hv_ringbuffer_write and
 * hv_signal_on_write: signal on empty to non-empty unless masked;
 * hv_pkt_iter_close: signal a writer blocked on pending_send_sz once its
 * space is free), include/linux/hyperv.h, drivers/hv/channel.c
 * (vmbus_sendpacket*); docs/PROTOCOL.md section 2.
 */
#include <vmbus/channel.h>

#include "freestanding.h"

#define MAX_REQUESTS	65535u

struct req_slot {
	uint64_t trans_id;	/* 0: free */
	void *cookie;
};

struct vmbus_channel {
	struct vmbus_ring send;
	struct vmbus_ring recv;
	vmbus_channel_signal_fn *signal;
	void *signal_ctx;
	struct vmbus_log log;
	bool batch;
	bool space_requested;	/* pending_send_sz is set on the send ring */
	unsigned int max_req;
	unsigned int nfree;
	uint32_t seq;
	struct vmbus_channel_stats stats;
	struct req_slot *req;
	uint32_t *free_stack;
};

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

size_t vmbus_channel_mem_size(unsigned int max_requests)
{
	if (max_requests > MAX_REQUESTS)
		return 0;
	return align8(sizeof(struct vmbus_channel)) +
	       sizeof(struct req_slot) * max_requests +
	       sizeof(uint32_t) * max_requests;
}

int vmbus_channel_init(void *mem, size_t mem_size,
		       const struct vmbus_channel_config *cfg,
		       struct vmbus_channel **out)
{
	struct vmbus_channel *ch;
	uint8_t *p = mem;
	unsigned int i;
	size_t need;

	if (!mem || !out || ((uintptr_t)mem & 7) || !cfg || !cfg->send ||
	    !cfg->recv || !cfg->signal || cfg->max_requests > MAX_REQUESTS)
		return -EINVAL;
	need = vmbus_channel_mem_size(cfg->max_requests);
	if (mem_size < need)
		return -ENOSPC;
	memset(mem, 0, need);
	ch = mem;
	p += align8(sizeof(*ch));
	ch->req = (struct req_slot *)p;
	p += sizeof(struct req_slot) * cfg->max_requests;
	ch->free_stack = (uint32_t *)p;

	ch->send = *cfg->send;
	ch->recv = *cfg->recv;
	ch->signal = cfg->signal;
	ch->signal_ctx = cfg->signal_ctx;
	if (cfg->log)
		ch->log = *cfg->log;
	ch->max_req = cfg->max_requests;
	/* Hand out low slots first: easier to read in a trace. */
	for (i = 0; i < ch->max_req; i++)
		ch->free_stack[i] = ch->max_req - 1 - i;
	ch->nfree = ch->max_req;
	*out = ch;
	return 0;
}

static void ring_doorbell(struct vmbus_channel *ch)
{
	ch->stats.signals++;
	ch->signal(ch->signal_ctx);
}

/* ---- Sending --------------------------------------------------------------- */

/* One packet to write: which ring.h writer, and its arguments. */
struct tx {
	uint16_t type;
	uint16_t flags;
	bool sender_owns_set;
	uint16_t pageset_id;
	uint32_t nranges;
	const struct vmbus_ring_gpa *gpa;
	const struct vmbus_xfer_page_range *xfer;
	const void *data;
	size_t len;
	uint64_t trans_id;
};

static int tx_write(struct vmbus_channel *ch, const struct tx *t, bool *signal)
{
	switch (t->type) {
	case VM_PKT_DATA_INBAND:
		return vmbus_ring_send_inband(&ch->send, t->data, t->len,
					      t->trans_id, t->flags, signal);
	case VM_PKT_COMP:
		return vmbus_ring_send_comp(&ch->send, t->data, t->len,
					    t->trans_id, signal);
	case VM_PKT_DATA_USING_GPA_DIRECT:
		return vmbus_ring_send_gpa_direct(&ch->send, t->gpa, t->nranges,
						  t->data, t->len, t->trans_id,
						  t->flags, signal);
	case VM_PKT_DATA_USING_XFER_PAGES:
		return vmbus_ring_send_xfer(&ch->send, t->pageset_id,
					    t->sender_owns_set, t->xfer,
					    t->nranges, t->data, t->len,
					    t->trans_id, t->flags, signal);
	default:
		return -EINVAL;
	}
}

/* Ring bytes the packet takes, for pending_send_sz. Only asked after the
 * ring said -EAGAIN, so the arguments were valid and the sum is small. */
static uint32_t tx_ring_size(const struct tx *t)
{
	uint64_t n = t->len;
	uint32_t i;

	switch (t->type) {
	case VM_PKT_DATA_USING_GPA_DIRECT:
		n += sizeof(struct vmbus_gpa_direct_header);
		for (i = 0; i < t->nranges; i++)
			n += sizeof(struct vmbus_gpa_range) + sizeof(uint64_t) *
			     (((uint64_t)t->gpa[i].byte_offset +
			       t->gpa[i].byte_count + HV_PAGE_SIZE - 1) / HV_PAGE_SIZE);
		break;
	case VM_PKT_DATA_USING_XFER_PAGES:
		n += sizeof(struct vmbus_xfer_page_header) +
		     (uint64_t)t->nranges * sizeof(struct vmbus_xfer_page_range);
		break;
	default:
		n += sizeof(struct vmpacket_descriptor);
		break;
	}
	n = vmbus_ring_pkt_size((size_t)n);
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

static int do_send(struct vmbus_channel *ch, const struct tx *t)
{
	bool signal = false;
	int ret, room, tries;

	for (tries = 0; ; tries++) {
		ret = tx_write(ch, t, &signal);
		if (ret != -EAGAIN)
			break;
		/* Inside a batch the unpublished bytes would make the
		 * reader misjudge the space; the caller ends the batch. */
		if (ch->batch || tries > 0)
			goto full;
		room = vmbus_ring_request_space(&ch->send, tx_ring_size(t));
		if (room == -ENOTSUP)
			goto full;
		if (room < 0)
			return room;
		ch->space_requested = true;
		if (room == 0)
			goto full;
		/* The reader made room meanwhile: try once more. */
	}
	if (ret)
		return ret;
	if (ch->space_requested) {
		vmbus_ring_clear_space_request(&ch->send);
		ch->space_requested = false;
	}
	ch->stats.packets_sent++;
	if (signal)
		ring_doorbell(ch);
	return 0;

full:
	ch->stats.ring_full++;
	return -EAGAIN;
}

int vmbus_channel_send_inband(struct vmbus_channel *ch, const void *data,
			      size_t len, uint64_t trans_id, uint16_t flags)
{
	struct tx t = {
		.type = VM_PKT_DATA_INBAND, .flags = flags,
		.data = data, .len = len, .trans_id = trans_id,
	};

	if (!ch)
		return -EINVAL;
	return do_send(ch, &t);
}

int vmbus_channel_send_gpa_direct(struct vmbus_channel *ch,
				  const struct vmbus_ring_gpa *ranges,
				  uint32_t nranges, const void *data,
				  size_t len, uint64_t trans_id,
				  uint16_t flags)
{
	struct tx t = {
		.type = VM_PKT_DATA_USING_GPA_DIRECT, .flags = flags,
		.gpa = ranges, .nranges = nranges,
		.data = data, .len = len, .trans_id = trans_id,
	};

	if (!ch)
		return -EINVAL;
	return do_send(ch, &t);
}

int vmbus_channel_send_xfer(struct vmbus_channel *ch, uint16_t pageset_id,
			    bool sender_owns_set,
			    const struct vmbus_xfer_page_range *ranges,
			    uint32_t nranges, const void *data, size_t len,
			    uint64_t trans_id, uint16_t flags)
{
	struct tx t = {
		.type = VM_PKT_DATA_USING_XFER_PAGES, .flags = flags,
		.pageset_id = pageset_id, .sender_owns_set = sender_owns_set,
		.xfer = ranges, .nranges = nranges,
		.data = data, .len = len, .trans_id = trans_id,
	};

	if (!ch)
		return -EINVAL;
	return do_send(ch, &t);
}

int vmbus_channel_send_comp(struct vmbus_channel *ch, const void *data,
			    size_t len, uint64_t trans_id)
{
	struct tx t = {
		.type = VM_PKT_COMP, .data = data, .len = len,
		.trans_id = trans_id,
	};

	if (!ch)
		return -EINVAL;
	return do_send(ch, &t);
}

/* ---- Requests --------------------------------------------------------------- */

/*
 * trans_id = sequence << 32 | (slot + 1): the low half finds the slot in
 * O(1), the high half tells a stale or forged id from the live one, and
 * the id is never 0 (the value hosts use for unsolicited packets).
 */
static struct req_slot *req_lookup(struct vmbus_channel *ch, uint64_t trans_id)
{
	uint32_t idx = (uint32_t)trans_id;
	struct req_slot *s;

	if (idx == 0 || idx > ch->max_req)
		return NULL;
	s = &ch->req[idx - 1];
	return s->trans_id == trans_id ? s : NULL;
}

static void req_release(struct vmbus_channel *ch, struct req_slot *s)
{
	s->trans_id = 0;
	s->cookie = NULL;
	ch->free_stack[ch->nfree++] = (uint32_t)(s - ch->req);
}

static int send_request(struct vmbus_channel *ch, struct tx *t, void *cookie,
			uint64_t *trans_id)
{
	struct req_slot *s;
	uint32_t idx;
	int ret;

	if (!ch)
		return -EINVAL;
	if (!ch->nfree)
		return -ENOBUFS;
	idx = ch->free_stack[--ch->nfree];
	s = &ch->req[idx];
	s->trans_id = ((uint64_t)++ch->seq << 32) | (idx + 1);
	s->cookie = cookie;
	t->trans_id = s->trans_id;
	t->flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED;
	ret = do_send(ch, t);
	if (ret) {
		req_release(ch, s);
		return ret;
	}
	if (trans_id)
		*trans_id = t->trans_id;
	return 0;
}

int vmbus_channel_send_request(struct vmbus_channel *ch, const void *data,
			       size_t len, void *cookie, uint64_t *trans_id)
{
	struct tx t = { .type = VM_PKT_DATA_INBAND, .data = data, .len = len };

	return send_request(ch, &t, cookie, trans_id);
}

int vmbus_channel_send_request_gpa(struct vmbus_channel *ch,
				   const struct vmbus_ring_gpa *ranges,
				   uint32_t nranges, const void *data,
				   size_t len, void *cookie, uint64_t *trans_id)
{
	struct tx t = {
		.type = VM_PKT_DATA_USING_GPA_DIRECT, .gpa = ranges,
		.nranges = nranges, .data = data, .len = len,
	};

	return send_request(ch, &t, cookie, trans_id);
}

void *vmbus_channel_cancel_request(struct vmbus_channel *ch, uint64_t trans_id)
{
	struct req_slot *s = ch ? req_lookup(ch, trans_id) : NULL;
	void *cookie;

	if (!s)
		return NULL;
	cookie = s->cookie;
	req_release(ch, s);
	return cookie;
}

unsigned int vmbus_channel_outstanding(const struct vmbus_channel *ch)
{
	return ch ? ch->max_req - ch->nfree : 0;
}

void vmbus_channel_send_batch_begin(struct vmbus_channel *ch)
{
	ch->batch = true;
	vmbus_ring_write_batch_begin(&ch->send);
}

void vmbus_channel_send_batch_end(struct vmbus_channel *ch)
{
	bool signal = false;

	ch->batch = false;
	vmbus_ring_write_batch_end(&ch->send, &signal);
	if (signal)
		ring_doorbell(ch);
}

/* ---- Receiving --------------------------------------------------------------- */

int vmbus_channel_recv_next(struct vmbus_channel *ch, void *buf, size_t buflen,
			    struct vmbus_channel_packet *pkt)
{
	struct vmbus_ring_pkt p;
	struct req_slot *s;
	uint8_t *b = buf;
	int ret;

	if (!ch || !pkt)
		return -EINVAL;
	memset(pkt, 0, sizeof(*pkt));
	ret = vmbus_ring_peek(&ch->recv, &p);
	if (ret == -EAGAIN)
		return 0;
	if (ret) {
		vmbus_logf(&ch->log, VMBUS_LOG_ERR,
			   "vmbus channel: bad receive ring, error %d", -ret);
		return ret;
	}
	pkt->len = p.len;
	if (!buf || buflen < p.len)
		return -ENOBUFS;
	ret = vmbus_ring_copy(&ch->recv, &p, 0, buf, p.len);
	if (ret)
		return ret;
	/* The peer may have rewritten the descriptor since the peek; the
	 * copy holds the checked one, so parsers see consistent bytes. */
	memcpy(b, &p.desc, sizeof(p.desc));
	ret = vmbus_ring_advance(&ch->recv, &p);
	if (ret)
		return ret;

	pkt->type = p.desc.type;
	pkt->flags = p.desc.flags;
	pkt->trans_id = p.desc.trans_id;
	pkt->data = b;
	pkt->payload = b + p.offset;
	pkt->payload_len = vmbus_ring_pkt_payload_len(&p);
	ch->stats.packets_received++;

	if (pkt->type == VM_PKT_COMP) {
		s = req_lookup(ch, pkt->trans_id);
		if (s) {
			pkt->cookie = s->cookie;
			req_release(ch, s);
		} else {
			pkt->comp_status = -ENOENT;
			ch->stats.unknown_completions++;
			vmbus_logf(&ch->log, VMBUS_LOG_DEBUG,
				   "vmbus channel: completion for unknown trans_id %#llx",
				   (unsigned long long)pkt->trans_id);
		}
	}
	return 1;
}

int vmbus_channel_recv_end(struct vmbus_channel *ch)
{
	bool signal = false;
	int ret;

	if (!ch)
		return -EINVAL;
	ret = vmbus_ring_publish(&ch->recv, &signal);
	if (signal)
		ring_doorbell(ch);
	return ret;
}

/* Drain up to max packets; *stopped tells whether fn asked to stop. */
static int recv_batch(struct vmbus_channel *ch, void *buf, size_t buflen,
		      unsigned int max, vmbus_channel_packet_fn *fn, void *ctx,
		      bool *stopped)
{
	struct vmbus_channel_packet pkt;
	unsigned int n = 0;
	int ret = 0, end;

	*stopped = false;
	while (!max || n < max) {
		ret = vmbus_channel_recv_next(ch, buf, buflen, &pkt);
		if (ret <= 0)
			break;
		n++;
		if (fn && fn(ctx, &pkt)) {
			*stopped = true;
			break;
		}
	}
	end = vmbus_channel_recv_end(ch);
	if (n)
		return (int)n;
	return ret < 0 ? ret : end;
}

int vmbus_channel_recv_batch(struct vmbus_channel *ch, void *buf,
			     size_t buflen, unsigned int max,
			     vmbus_channel_packet_fn *fn, void *ctx)
{
	bool stopped;

	if (!ch)
		return -EINVAL;
	return recv_batch(ch, buf, buflen, max, fn, ctx, &stopped);
}

void vmbus_channel_mask(struct vmbus_channel *ch)
{
	vmbus_ring_mask(&ch->recv);
}

bool vmbus_channel_unmask(struct vmbus_channel *ch)
{
	return vmbus_ring_unmask(&ch->recv);
}

int vmbus_channel_process(struct vmbus_channel *ch, void *buf, size_t buflen,
			  unsigned int budget, vmbus_channel_packet_fn *fn,
			  void *ctx)
{
	unsigned int total = 0;
	bool stopped;
	int n;

	if (!ch)
		return -EINVAL;
	for (;;) {
		vmbus_ring_mask(&ch->recv);
		n = recv_batch(ch, buf, buflen, budget ? budget - total : 0,
			       fn, ctx, &stopped);
		if (n < 0) {
			vmbus_ring_unmask(&ch->recv);
			return n;
		}
		total += (unsigned int)n;
		/* Out of budget, or told to stop: stay masked, the caller
		 * comes back without needing a signal. */
		if (stopped || (budget && total >= budget))
			return (int)total;
		if (!vmbus_ring_unmask(&ch->recv))
			return (int)total;
	}
}

void vmbus_channel_get_stats(const struct vmbus_channel *ch,
			     struct vmbus_channel_stats *out)
{
	*out = ch->stats;
}
