/* SPDX-License-Identifier: MIT */
/*
 * netvsp: the NVSP protocol of a Hyper-V synthetic NIC, host side, with
 * RNDIS carried through the RNDIS device model (rndis_dev.c), and the glue
 * that offers the NIC on a vmbus_server.
 *
 * Formats: include/vmbus/proto/nvsp.h, rndis.h. Behaviour follows what
 * Linux drivers/net/hyperv/netvsc.c and rndis_filter.c send and expect
 * (negotiate_nvsp_ver, netvsc_init_buf, netvsc_send_pkt, netvsc_receive,
 * netvsc_send_recv_completion, rndis_set_subchannel), DPDK hn_nvs.c and
 * hn_rxtx.c, and OpenVMM vm/devices/net/netvsp/src/lib.rs (receive buffer
 * sub-allocation, 6144-byte send sections); docs/PROTOCOL.md section 6.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/netvsp.h>
#include <vmbus/ring.h>

#define ETH_HLEN		14u
#define DEFAULT_PKT_BUF		(64u * 1024u)
/* Bytes of a PACKET message copied out of guest memory for parsing: the
 * RNDIS header, PACKET body and per-packet info (Linux needs ~200). */
#define TX_HDR_COPY		512u
/* Cap on the bytes one SEND_RNDIS_PKT may describe (a batch of LSO
 * frames fits easily). */
#define MAX_XFER_BYTES		(4u * 1024u * 1024u)
#define MIN_RNDIS_PKT_HDR	(sizeof(struct rndis_msg_hdr) + sizeof(struct rndis_packet))
#define NVSP_HDR		sizeof(struct nvsp_message_header)
/* Completions that may wait for ring room. Packet intake stops while one
 * waits, so one is the most a channel ever holds; the rest is slack. */
#define PEND_COMPS		2u

static const uint32_t nvsp_versions[] = {
	NVSP_PROTOCOL_VERSION_61, NVSP_PROTOCOL_VERSION_6, NVSP_PROTOCOL_VERSION_5,
	NVSP_PROTOCOL_VERSION_4, NVSP_PROTOCOL_VERSION_2, NVSP_PROTOCOL_VERSION_1,
};

/* One piece of a guest transfer: len bytes at off inside page list pl. */
struct xfer_seg {
	struct vmbus_gpa_pagelist pl;
	uint32_t off;
	uint32_t len;
};

/* The bytes one SEND_RNDIS_PKT names: its send-buffer section, then its
 * GPA-direct ranges, read as one stream (Linux puts the RNDIS header in a
 * section and the frame in pages when a section has room only for the
 * header). */
struct xfer {
	struct xfer_seg seg[1 + NETVSP_MAX_GPA_RANGES];
	unsigned int n;
	uint32_t total;
	uint32_t npfns;
	uint64_t pfns[NETVSP_MAX_GPA_PFNS];
};

/* A completion the host-to-guest ring had no room for yet. */
struct pend_comp {
	uint64_t tid;
	uint32_t len;
	uint8_t data[sizeof(struct nvsp_message)];
};

struct netvsp_channel {
	struct netvsp *nv;
	struct vmbus_channel *ch;
	unsigned int queue;
	struct netvsp_gpadl_ops gpadl;
	uint8_t *pkt_buf;
	size_t pkt_buf_size;
	struct netvsp_stats st;
	struct pend_comp pend[PEND_COMPS];
	unsigned int npend;
	struct xfer xf;
	struct iovec iov[NETVSP_MAX_GPA_PFNS + 2];
	uint8_t ctrl_in[NETVSP_MAX_CTRL_MSG];
	uint8_t ctrl_out[RNDIS_DEV_REPLY_MAX];
	uint8_t tx_hdr[TX_HDR_COPY];
};

/* A guest buffer named by a GPADL: one range, viewed as a page list. */
struct guest_buf {
	struct vmbus_gpadl *gpadl;
	struct netvsp_gpadl_ops ops;
	struct vmbus_gpa_pagelist pl;
	uint32_t size;
	uint16_t id;
};

/* A message waiting for a receive sub-allocation. */
struct rx_entry {
	uint32_t queue;
	uint32_t hdr_len;	/* RNDIS header before the frame (data only) */
	uint32_t len;		/* header and frame */
	bool ctrl;
};

struct glue;

struct netvsp {
	struct netvsp_config cfg;
	struct netvsp_bus_ops bus;
	struct rndis_dev *rd;
	uint32_t sub_alloc;
	uint32_t version;
	uint32_t ndis_version;
	uint64_t guest_caps;
	bool vf;
	unsigned int subchannels;	/* subchannels offered so far */
	struct netvsp_channel *chans[NETVSP_MAX_QUEUES];

	bool have_rx, have_tx;
	struct guest_buf rxb, txb;
	uint32_t rx_count;		/* sub-allocations */
	uint32_t rx_nfree;
	uint32_t *rx_free;		/* stack of free indices */
	uint8_t *rx_in_use;
	uint32_t tx_sections;

	struct rx_entry *bl;
	uint8_t *bl_data;
	uint32_t bl_cap, bl_head, bl_count;

	struct glue *glue;
};

/* ---- Small helpers ----------------------------------------------------------- */

static struct netvsp_channel *chan_for(const struct netvsp *nv, unsigned int q)
{
	if (q < NETVSP_MAX_QUEUES && nv->chans[q])
		return nv->chans[q];
	return nv->chans[0];
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static void put_guest_buf(struct guest_buf *b)
{
	if (b->gpadl && b->ops.put)
		b->ops.put(b->ops.ctx, b->gpadl);
	memset(b, 0, sizeof(*b));
}

/* ---- Lifetime ------------------------------------------------------------------- */

int netvsp_create(const struct netvsp_config *cfg, struct netvsp **out)
{
	struct netvsp *nv;
	uint32_t mtu, sub;
	int ret;

	if (!cfg || !out || !cfg->map)
		return -EINVAL;
	mtu = cfg->rndis.mtu ? cfg->rndis.mtu : RNDIS_DEV_DEFAULT_MTU;
	sub = cfg->rx_sub_alloc_size;
	if (!sub)
		sub = (uint32_t)((RNDIS_DEV_RX_HDR_MAX + mtu + ETH_HLEN + 63u) & ~63u);
	if (sub < RNDIS_DEV_REPLY_MAX || sub < NVSP_MIN_SECTION_SIZE ||
	    sub > NVSP_MAX_RECV_SECTION_SIZE)
		return -EINVAL;

	nv = calloc(1, sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	nv->cfg = *cfg;
	nv->bus = cfg->bus;
	nv->sub_alloc = sub;
	nv->bl_cap = (cfg->rx_backlog ? cfg->rx_backlog : NETVSP_DEFAULT_RX_BACKLOG) +
		     NETVSP_CTRL_RESERVE;
	nv->bl = calloc(nv->bl_cap, sizeof(*nv->bl));
	nv->bl_data = malloc((size_t)nv->bl_cap * sub);
	if (!nv->bl || !nv->bl_data) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = rndis_dev_create(&cfg->rndis, &nv->rd);
	if (ret)
		goto fail;
	*out = nv;
	return 0;
fail:
	free(nv->bl);
	free(nv->bl_data);
	free(nv);
	return ret;
}

static void drop_rx_buffer(struct netvsp *nv)
{
	put_guest_buf(&nv->rxb);
	free(nv->rx_free);
	free(nv->rx_in_use);
	nv->rx_free = NULL;
	nv->rx_in_use = NULL;
	nv->rx_count = nv->rx_nfree = 0;
	nv->have_rx = false;
	/* Nothing can reach the guest without the buffer. */
	nv->bl_head = nv->bl_count = 0;
}

static void drop_tx_buffer(struct netvsp *nv)
{
	put_guest_buf(&nv->txb);
	nv->tx_sections = 0;
	nv->have_tx = false;
}

void netvsp_destroy(struct netvsp *nv)
{
	unsigned int q;

	if (!nv)
		return;
	netvsp_server_detach(nv);
	for (q = NETVSP_MAX_QUEUES; q-- > 0;)
		if (nv->chans[q])
			netvsp_channel_detach(nv->chans[q]);
	drop_rx_buffer(nv);
	drop_tx_buffer(nv);
	rndis_dev_destroy(nv->rd);
	free(nv->bl);
	free(nv->bl_data);
	free(nv);
}

struct rndis_dev *netvsp_rndis(struct netvsp *nv)
{
	return nv->rd;
}

uint32_t netvsp_version(const struct netvsp *nv)
{
	return nv->version;
}

uint32_t netvsp_ndis_version(const struct netvsp *nv)
{
	return nv->ndis_version;
}

uint64_t netvsp_guest_caps(const struct netvsp *nv)
{
	return nv->guest_caps;
}

bool netvsp_datapath_vf(const struct netvsp *nv)
{
	return nv->vf;
}

void netvsp_rx_buffer_info(const struct netvsp *nv, uint32_t *sub_alloc_size,
			   uint32_t *count, uint32_t *in_use)
{
	if (sub_alloc_size)
		*sub_alloc_size = nv->have_rx ? nv->sub_alloc : 0;
	if (count)
		*count = nv->rx_count;
	if (in_use)
		*in_use = nv->rx_count - nv->rx_nfree;
}

unsigned int netvsp_rx_backlog(const struct netvsp *nv)
{
	return nv->bl_count;
}

/* ---- Receive path: the guest's receive buffer ------------------------------------ */

/*
 * Put hdr + data into a free sub-allocation and announce it on channel c
 * with a transfer-page packet whose trans_id names the sub-allocation.
 * -EAGAIN when no sub-allocation is free or the ring is full (nothing
 * changed), -EIO on a memory or ring error.
 */
static int send_now(struct netvsp *nv, struct netvsp_channel *c, const void *hdr,
		    uint32_t hl, const void *data, uint32_t dl, bool ctrl)
{
	struct nvsp_message m;
	struct vmbus_xfer_page_range r;
	uint32_t idx, off;
	int ret;

	if (!nv->rx_nfree)
		return -EAGAIN;
	idx = nv->rx_free[nv->rx_nfree - 1];
	off = idx * nv->sub_alloc;
	if ((hl && vmbus_gpa_pagelist_write(nv->cfg.map, &nv->rxb.pl, off, hdr, hl)) ||
	    (dl && vmbus_gpa_pagelist_write(nv->cfg.map, &nv->rxb.pl, off + hl, data, dl))) {
		c->st.rx_drop_error++;
		return -EIO;
	}
	memset(&m, 0, sizeof(m));
	m.hdr.msg_type = NVSP_MSG1_TYPE_SEND_RNDIS_PKT;
	m.msg.send_rndis_pkt.channel_type = ctrl ? NVSP_CHANNEL_TYPE_CONTROL :
						   NVSP_CHANNEL_TYPE_DATA;
	m.msg.send_rndis_pkt.send_buf_section_index = NVSP_INVALID_SECTION_INDEX;
	r.byte_count = hl + dl;
	r.byte_offset = off;
	ret = vmbus_channel_send_xfer(c->ch, nv->rxb.id, false, &r, 1, &m, sizeof(m),
				      (uint64_t)idx + 1,
				      VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
	if (ret == -EAGAIN)
		return -EAGAIN;
	if (ret) {
		c->st.ring_errors++;
		return -EIO;
	}
	nv->rx_nfree--;
	nv->rx_in_use[idx] = 1;
	if (ctrl) {
		c->st.ctrl_replies++;
	} else {
		c->st.rx_frames++;
		c->st.rx_bytes += dl;
	}
	return 0;
}

/* Queue a message behind the others. 1, or -EAGAIN when full. Data may
 * use all but NETVSP_CTRL_RESERVE entries. */
static int enqueue(struct netvsp *nv, unsigned int q, const void *hdr, uint32_t hl,
		   const void *data, uint32_t dl, bool ctrl)
{
	uint32_t limit = ctrl ? nv->bl_cap : nv->bl_cap - NETVSP_CTRL_RESERVE;
	uint32_t slot;
	uint8_t *p;

	if (nv->bl_count >= limit)
		return -EAGAIN;
	slot = (nv->bl_head + nv->bl_count) % nv->bl_cap;
	p = nv->bl_data + (size_t)slot * nv->sub_alloc;
	if (hl)
		memcpy(p, hdr, hl);
	if (dl)
		memcpy(p + hl, data, dl);
	nv->bl[slot].queue = q;
	nv->bl[slot].hdr_len = hl;
	nv->bl[slot].len = hl + dl;
	nv->bl[slot].ctrl = ctrl;
	nv->bl_count++;
	return 1;
}

/* Send what waits, oldest first, while sub-allocations and ring room last. */
static void flush_backlog(struct netvsp *nv)
{
	while (nv->bl_count && nv->rx_nfree) {
		struct rx_entry *e = &nv->bl[nv->bl_head];
		struct netvsp_channel *c = chan_for(nv, e->queue);
		const uint8_t *p = nv->bl_data + (size_t)nv->bl_head * nv->sub_alloc;
		int ret;

		if (!c)
			return;
		ret = send_now(nv, c, p, e->hdr_len, p + e->hdr_len, e->len - e->hdr_len,
			       e->ctrl);
		if (ret == -EAGAIN)
			return;
		nv->bl_head = (nv->bl_head + 1) % nv->bl_cap;
		nv->bl_count--;
	}
}

/* Hand a message to the guest now, or queue it. 0 sent, 1 queued, -EAGAIN
 * backlog full, -EIO. */
static int deliver(struct netvsp *nv, struct netvsp_channel *c, const void *hdr,
		   uint32_t hl, const void *data, uint32_t dl, bool ctrl)
{
	int ret;

	if (!nv->bl_count && nv->rx_nfree) {
		ret = send_now(nv, c, hdr, hl, data, dl, ctrl);
		if (ret != -EAGAIN)
			return ret;
	}
	return enqueue(nv, c->queue, hdr, hl, data, dl, ctrl);
}

int netvsp_rx(struct netvsp *nv, unsigned int queue, const void *frame, size_t len,
	      const struct rndis_rx_info *info)
{
	uint8_t hdr[RNDIS_DEV_RX_HDR_MAX];
	struct rndis_rx_info ri;
	struct netvsp_channel *c;
	ssize_t hl;
	int ret;

	if (!nv)
		return -EINVAL;
	memset(&ri, 0, sizeof(ri));
	if (info)
		ri = *info;
	if (queue == NETVSP_RX_QUEUE_AUTO)
		queue = frame && len ? rndis_dev_rss_classify(nv->rd, frame, len, &ri) : 0;
	c = chan_for(nv, queue);
	if (!c)
		return -ENOTCONN;
	if (!frame || len == 0 || len > nv->sub_alloc - MIN_RNDIS_PKT_HDR) {
		c->st.rx_drop_too_big++;
		return -EMSGSIZE;
	}
	if (!nv->have_rx || !rndis_dev_is_initialized(nv->rd)) {
		c->st.rx_drop_not_ready++;
		return -ENOTCONN;
	}
	if (!rndis_dev_rx_accept(nv->rd, frame, len)) {
		c->st.rx_drop_filtered++;
		return -EPERM;
	}
	hl = rndis_dev_build_packet(nv->rd, hdr, sizeof(hdr), (uint32_t)len, &ri);
	if (hl < 0 || (size_t)hl + len > nv->sub_alloc) {
		c->st.rx_drop_too_big++;
		return -EMSGSIZE;
	}
	ret = deliver(nv, c, hdr, (uint32_t)hl, frame, (uint32_t)len, false);
	if (ret == 1)
		c->st.rx_backlogged++;
	else if (ret == -EAGAIN)
		c->st.rx_drop_backlog++;
	return ret;
}

int netvsp_set_link(struct netvsp *nv, bool up)
{
	uint8_t msg[RNDIS_DEV_REPLY_MAX];
	struct netvsp_channel *c;
	ssize_t n;
	int ret;

	n = rndis_dev_set_link(nv->rd, up, msg, sizeof(msg));
	if (n < 0)
		return -EIO;
	c = nv->chans[0];
	if (!c || !nv->have_rx || !rndis_dev_is_initialized(nv->rd))
		return 0;
	ret = deliver(nv, c, msg, (uint32_t)n, NULL, 0, true);
	return ret < 0 ? -EIO : 0;
}

/* ---- NVSP replies ------------------------------------------------------------------ */

/* The ring refused a completion for a reason waiting cannot cure. */
static void comp_lost(struct netvsp_channel *c, uint64_t tid, int err)
{
	c->st.ring_errors++;
	vmbus_logf(&c->nv->cfg.log, VMBUS_LOG_WARN,
		   "netvsp: queue %u: completion %#llx lost (%d)", c->queue,
		   (unsigned long long)tid, err);
}

/*
 * Complete the guest packet tid. A full ring must not drop it: Linux
 * frees a send section only when its completion arrives and waits for
 * its control replies without a timeout. So it waits in c->pend, behind
 * any older one, and packet intake stops until flush_comps() sent it.
 */
static void send_comp(struct netvsp_channel *c, uint64_t tid, const void *data, uint32_t len)
{
	struct pend_comp *p;
	int ret = -EAGAIN;

	if (!c->npend)
		ret = vmbus_channel_send_comp(c->ch, data, len, tid);
	if (!ret)
		return;
	if (ret != -EAGAIN || c->npend >= PEND_COMPS || len > sizeof(p->data)) {
		comp_lost(c, tid, ret);
		return;
	}
	p = &c->pend[c->npend++];
	p->tid = tid;
	p->len = len;
	if (len)
		memcpy(p->data, data, len);
}

/*
 * Send the waiting completions, oldest first. Called outside any send
 * batch, so a ring still full sets pending_send_sz and the guest signals
 * once its reads made room. 0 when none waits, -EAGAIN otherwise.
 */
static int flush_comps(struct netvsp_channel *c)
{
	unsigned int done = 0;
	int ret;

	while (done < c->npend) {
		const struct pend_comp *p = &c->pend[done];

		ret = vmbus_channel_send_comp(c->ch, p->len ? p->data : NULL, p->len, p->tid);
		if (ret == -EAGAIN)
			break;
		if (ret)
			comp_lost(c, p->tid, ret);
		done++;
	}
	if (done) {
		memmove(c->pend, c->pend + done, (c->npend - done) * sizeof(c->pend[0]));
		c->npend -= done;
	}
	return c->npend ? -EAGAIN : 0;
}

/* Answer the packet trans_id with an NVSP message of type and body. */
static void reply(struct netvsp_channel *c, uint64_t tid, uint32_t type,
		  const void *body, size_t body_len)
{
	struct nvsp_message m;

	memset(&m, 0, sizeof(m));
	m.hdr.msg_type = type;
	memcpy(&m.msg, body, body_len);
	send_comp(c, tid, &m, sizeof(m));
}

/* A failure answer to message type: the status sits first in the body of
 * every completion except INIT_COMPLETE's. */
static void reply_fail(struct netvsp_channel *c, uint64_t tid, uint32_t type)
{
	struct nvsp_message_init_complete ic;
	uint32_t st = NVSP_STAT_FAIL;

	switch (type) {
	case NVSP_MSG_TYPE_INIT:
		memset(&ic, 0, sizeof(ic));
		ic.status = NVSP_STAT_FAIL;
		reply(c, tid, NVSP_MSG_TYPE_INIT_COMPLETE, &ic, sizeof(ic));
		return;
	case NVSP_MSG1_TYPE_SEND_RECV_BUF:
		type = NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE;
		break;
	case NVSP_MSG1_TYPE_SEND_SEND_BUF:
		type = NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE;
		break;
	case NVSP_MSG1_TYPE_SEND_RNDIS_PKT:
		type = NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE;
		break;
	default:
		break;	/* SUBCHANNEL and unknown types echo their own type */
	}
	reply(c, tid, type, &st, sizeof(st));
}

/* A completion without payload: what Linux waits for after
 * SWITCH_DATA_PATH, and what any other request without a defined answer
 * gets when it asks for one. */
static void reply_empty(struct netvsp_channel *c, uint64_t tid)
{
	send_comp(c, tid, NULL, 0);
}

/* ---- NVSP control messages --------------------------------------------------------- */

static int msg_init(struct netvsp_channel *c, const struct nvsp_message *m, uint64_t tid)
{
	struct netvsp *nv = c->nv;
	struct nvsp_message_init_complete ic;
	uint32_t lo = m->msg.init.min_protocol_ver, hi = m->msg.init.max_protocol_ver;
	uint32_t top = nv->cfg.max_version ? nv->cfg.max_version : NVSP_PROTOCOL_VERSION_61;
	size_t i;

	if (c->queue != 0 || nv->have_rx || nv->have_tx) {
		c->st.bad_state++;
		return -EPROTO;
	}
	memset(&ic, 0, sizeof(ic));
	ic.status = NVSP_STAT_FAIL;
	for (i = 0; i < sizeof(nvsp_versions) / sizeof(nvsp_versions[0]); i++) {
		if (nvsp_versions[i] >= lo && nvsp_versions[i] <= hi && nvsp_versions[i] <= top) {
			ic.negotiated_protocol_ver = nvsp_versions[i];
			ic.status = NVSP_STAT_SUCCESS;
			break;
		}
	}
	if (ic.status != NVSP_STAT_SUCCESS) {
		c->st.bad_version++;
		vmbus_logf(&nv->cfg.log, VMBUS_LOG_INFO,
			   "netvsp: NVSP version %#x..%#x not supported", lo, hi);
	}
	nv->version = ic.negotiated_protocol_ver;
	reply(c, tid, NVSP_MSG_TYPE_INIT_COMPLETE, &ic, sizeof(ic));
	return 0;
}

/* Reference the GPADL the guest named and view it as one page list. */
static int get_guest_buf(struct netvsp_channel *c, uint32_t gpadl_id, uint16_t id,
			 uint32_t min_size, struct guest_buf *b)
{
	struct vmbus_gpadl *g = NULL;

	memset(b, 0, sizeof(*b));
	if (!c->gpadl.get || c->gpadl.get(c->gpadl.ctx, gpadl_id, &g) || !g)
		goto bad;
	b->gpadl = g;
	b->ops = c->gpadl;
	b->id = id;
	if (vmbus_gpadl_range_count(g) != 1 || vmbus_gpadl_range(g, 0, &b->pl) ||
	    b->pl.byte_count < min_size) {
		put_guest_buf(b);
		goto bad;
	}
	b->size = b->pl.byte_count;
	return 0;
bad:
	c->st.bad_gpadl++;
	vmbus_logf(&c->nv->cfg.log, VMBUS_LOG_INFO,
		   "netvsp: queue %u: GPADL %#x unusable as a buffer", c->queue, gpadl_id);
	return -EINVAL;
}

static int msg_recv_buf(struct netvsp_channel *c, const struct nvsp_message *m, uint64_t tid)
{
	struct netvsp *nv = c->nv;
	struct nvsp_1_message_send_receive_buffer_complete rc;
	uint32_t i, count;

	if (c->queue != 0 || !nv->version || nv->have_rx) {
		c->st.bad_state++;
		return -EPROTO;
	}
	if (get_guest_buf(c, m->msg.send_recv_buf.gpadl_handle, m->msg.send_recv_buf.id,
			  nv->sub_alloc, &nv->rxb))
		return -EINVAL;
	count = min_u32(nv->rxb.size / nv->sub_alloc, NETVSP_MAX_SUB_ALLOCS);
	nv->rx_free = malloc(count * sizeof(*nv->rx_free));
	nv->rx_in_use = calloc(count, 1);
	if (!nv->rx_free || !nv->rx_in_use) {
		drop_rx_buffer(nv);
		return -ENOMEM;
	}
	/* Hand out low sub-allocations first. */
	for (i = 0; i < count; i++)
		nv->rx_free[i] = count - 1 - i;
	nv->rx_count = nv->rx_nfree = count;
	nv->have_rx = true;

	memset(&rc, 0, sizeof(rc));
	rc.status = NVSP_STAT_SUCCESS;
	rc.num_sections = 1;
	rc.sections[0].offset = 0;
	rc.sections[0].sub_alloc_size = nv->sub_alloc;
	rc.sections[0].num_sub_allocs = count;
	rc.sections[0].end_offset = nv->sub_alloc * count;
	reply(c, tid, NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE, &rc, sizeof(rc));
	return 0;
}

static int msg_send_buf(struct netvsp_channel *c, const struct nvsp_message *m, uint64_t tid)
{
	struct netvsp *nv = c->nv;
	struct nvsp_1_message_send_send_buffer_complete sc;

	if (c->queue != 0 || !nv->version || nv->have_tx) {
		c->st.bad_state++;
		return -EPROTO;
	}
	if (get_guest_buf(c, m->msg.send_send_buf.gpadl_handle, m->msg.send_send_buf.id,
			  NETVSP_SEND_SECTION_SIZE, &nv->txb))
		return -EINVAL;
	nv->tx_sections = nv->txb.size / NETVSP_SEND_SECTION_SIZE;
	nv->have_tx = true;
	sc.status = NVSP_STAT_SUCCESS;
	sc.section_size = NETVSP_SEND_SECTION_SIZE;
	reply(c, tid, NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE, &sc, sizeof(sc));
	return 0;
}

static int msg_subchannel(struct netvsp_channel *c, const struct nvsp_message *m, uint64_t tid)
{
	struct netvsp *nv = c->nv;
	struct nvsp_5_subchannel_complete sc;
	uint32_t want, max_sub;
	int got;

	if (c->queue != 0 || nv->version < NVSP_PROTOCOL_VERSION_5) {
		c->st.bad_state++;
		return -EPROTO;
	}
	if (m->msg.subchn_req.op != NVSP_SUBCHANNEL_ALLOCATE) {
		c->st.bad_type++;
		return -EPROTO;
	}
	max_sub = (nv->cfg.rndis.max_queues ? nv->cfg.rndis.max_queues : 1) - 1u;
	want = min_u32(m->msg.subchn_req.num_subchannels, max_sub);
	if (want > nv->subchannels && nv->bus.offer_subchannels) {
		got = nv->bus.offer_subchannels(nv->bus.ctx, nv->subchannels + 1,
						want - nv->subchannels);
		if (got > 0)
			nv->subchannels += min_u32((uint32_t)got, want - nv->subchannels);
	}
	sc.status = NVSP_STAT_SUCCESS;
	sc.num_subchannels = min_u32(want, nv->subchannels);
	reply(c, tid, NVSP_MSG5_TYPE_SUBCHANNEL, &sc, sizeof(sc));
	return 0;
}

/* ---- SEND_RNDIS_PKT ---------------------------------------------------------------- */

static int xfer_add(struct xfer *x, const struct vmbus_gpa_pagelist *pl, uint32_t off,
		    uint32_t len)
{
	if (x->n >= sizeof(x->seg) / sizeof(x->seg[0]) ||
	    (uint64_t)x->total + len > MAX_XFER_BYTES)
		return -E2BIG;
	x->seg[x->n].pl = *pl;
	x->seg[x->n].off = off;
	x->seg[x->n].len = len;
	x->n++;
	x->total += len;
	return 0;
}

/* Copy len bytes at off of the transfer to buf. */
static int xfer_read(const struct netvsp *nv, const struct xfer *x, uint32_t off,
		     void *buf, uint32_t len)
{
	uint8_t *d = buf;
	unsigned int i;

	for (i = 0; i < x->n && len; i++) {
		const struct xfer_seg *s = &x->seg[i];
		uint32_t n;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		n = min_u32(s->len - off, len);
		if (vmbus_gpa_pagelist_read(nv->cfg.map, &s->pl, s->off + off, d, n))
			return -EFAULT;
		d += n;
		len -= n;
		off = 0;
	}
	return len ? -ERANGE : 0;
}

/* Describe len bytes at off of the transfer as iovecs into guest memory. */
static int xfer_iov(const struct netvsp *nv, const struct xfer *x, uint32_t off,
		    uint32_t len, struct iovec *iov, unsigned int max)
{
	unsigned int i, used = 0;
	int n;

	for (i = 0; i < x->n && len; i++) {
		const struct xfer_seg *s = &x->seg[i];
		uint32_t k;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		k = min_u32(s->len - off, len);
		n = vmbus_gpa_pagelist_iov(nv->cfg.map, &s->pl, s->off + off, k,
					   iov + used, max - used);
		if (n < 0)
			return n;
		used += (unsigned int)n;
		len -= k;
		off = 0;
	}
	return len ? -ERANGE : (int)used;
}

/* Gather the section and the GPA-direct ranges of the packet into c->xf.
 * Returns 0 or the NVSP failure, counted. */
static int build_xfer(struct netvsp_channel *c, const struct vmbus_channel_packet *pkt,
		      uint32_t idx, uint32_t ssize)
{
	struct netvsp *nv = c->nv;
	struct xfer *x = &c->xf;
	struct vmbus_ring_gpa_iter it;
	struct vmbus_ring_gpa_range r;
	struct vmbus_gpa_pagelist pl;
	uint32_t i;
	int n;

	x->n = 0;
	x->total = 0;
	x->npfns = 0;
	if (idx != NVSP_INVALID_SECTION_INDEX) {
		if (!nv->have_tx) {
			c->st.bad_state++;
			return -EPROTO;
		}
		if (idx >= nv->tx_sections || ssize > NETVSP_SEND_SECTION_SIZE) {
			c->st.bad_section++;
			return -ERANGE;
		}
		if (ssize)
			xfer_add(x, &nv->txb.pl, idx * NETVSP_SEND_SECTION_SIZE, ssize);
	}
	if (pkt->type != VM_PKT_DATA_USING_GPA_DIRECT)
		return 0;
	n = vmbus_ring_parse_gpa_direct(pkt->data, pkt->len, &it);
	if (n < 0 || (uint32_t)n > NETVSP_MAX_GPA_RANGES)
		goto bad;
	while (vmbus_ring_gpa_next(&it, &r)) {
		if (r.pfn_count > NETVSP_MAX_GPA_PFNS - x->npfns)
			goto bad;
		for (i = 0; i < r.pfn_count; i++)
			x->pfns[x->npfns + i] = vmbus_ring_gpa_pfn(&r, i);
		pl.pfns = x->pfns + x->npfns;
		pl.pfn_count = r.pfn_count;
		pl.byte_offset = r.byte_offset;
		pl.byte_count = r.byte_count;
		x->npfns += r.pfn_count;
		if (vmbus_gpa_pagelist_check(nv->cfg.map, &pl, true) ||
		    xfer_add(x, &pl, 0, r.byte_count))
			goto bad;
	}
	return 0;
bad:
	c->st.bad_range++;
	return -EFAULT;
}

static int rndis_control(struct netvsp_channel *c)
{
	struct netvsp *nv = c->nv;
	uint32_t len = c->xf.total;
	ssize_t n;

	if (len > sizeof(c->ctrl_in)) {
		c->st.bad_ctrl++;
		return -EMSGSIZE;
	}
	if (xfer_read(nv, &c->xf, 0, c->ctrl_in, len)) {
		c->st.bad_range++;
		return -EFAULT;
	}
	c->st.ctrl_msgs++;
	n = rndis_dev_control(nv->rd, c->ctrl_in, len, c->ctrl_out, sizeof(c->ctrl_out));
	if (n < 0) {
		c->st.bad_ctrl++;
		return (int)n;
	}
	if (n > 0 && deliver(nv, c, c->ctrl_out, (uint32_t)n, NULL, 0, true) < 0)
		vmbus_logf(&nv->cfg.log, VMBUS_LOG_WARN,
			   "netvsp: queue %u: control reply dropped", c->queue);
	return 0;
}

static int rndis_data(struct netvsp_channel *c)
{
	struct netvsp *nv = c->nv;
	const struct xfer *x = &c->xf;
	struct rndis_tx_packet p;
	uint32_t off = 0;
	int n, ret;

	while (off < x->total) {
		uint32_t rest = x->total - off;
		uint32_t hl = min_u32(rest, TX_HDR_COPY);

		if (xfer_read(nv, x, off, c->tx_hdr, hl)) {
			c->st.bad_range++;
			return -EFAULT;
		}
		ret = rndis_dev_parse_packet(nv->rd, c->tx_hdr, hl, rest, &p);
		if (ret) {
			c->st.tx_rejected++;
			return ret;
		}
		n = xfer_iov(nv, x, off + p.frame_offset, p.frame_len, c->iov,
			     sizeof(c->iov) / sizeof(c->iov[0]));
		if (n < 0) {
			c->st.bad_range++;
			return n;
		}
		if (!nv->cfg.frames.tx ||
		    nv->cfg.frames.tx(nv->cfg.frames.ctx, c->queue, c->iov, (unsigned int)n,
				      p.frame_len, &p))
			c->st.tx_backend_errors++;
		c->st.tx_frames++;
		c->st.tx_bytes += p.frame_len;
		off += p.msg_len;
	}
	return 0;
}

static int msg_rndis_pkt(struct netvsp_channel *c, const struct vmbus_channel_packet *pkt,
			 const struct nvsp_message *m)
{
	struct netvsp *nv = c->nv;
	uint32_t ctype = m->msg.send_rndis_pkt.channel_type;
	int ret;

	if (!nv->version || !nv->have_rx) {
		c->st.bad_state++;
		return -EPROTO;
	}
	if (ctype != NVSP_CHANNEL_TYPE_DATA && ctype != NVSP_CHANNEL_TYPE_CONTROL) {
		c->st.bad_type++;
		return -EPROTO;
	}
	ret = build_xfer(c, pkt, m->msg.send_rndis_pkt.send_buf_section_index,
			 m->msg.send_rndis_pkt.send_buf_section_size);
	if (ret)
		return ret;
	return ctype == NVSP_CHANNEL_TYPE_CONTROL ? rndis_control(c) : rndis_data(c);
}

/* ---- Dispatch ------------------------------------------------------------------------ */

/* Bytes of body each guest-to-host type needs. 0: a type the host takes
 * with no body; -1: not a type the host takes. */
static int body_size(uint32_t type)
{
	switch (type) {
	case NVSP_MSG_TYPE_INIT:
		return sizeof(struct nvsp_message_init);
	case NVSP_MSG1_TYPE_SEND_NDIS_VER:
		return sizeof(struct nvsp_1_message_send_ndis_version);
	case NVSP_MSG1_TYPE_SEND_RECV_BUF:
		return sizeof(struct nvsp_1_message_send_receive_buffer);
	case NVSP_MSG1_TYPE_REVOKE_RECV_BUF:
		return sizeof(struct nvsp_1_message_revoke_receive_buffer);
	case NVSP_MSG1_TYPE_SEND_SEND_BUF:
		return sizeof(struct nvsp_1_message_send_send_buffer);
	case NVSP_MSG1_TYPE_REVOKE_SEND_BUF:
		return sizeof(struct nvsp_1_message_revoke_send_buffer);
	case NVSP_MSG1_TYPE_SEND_RNDIS_PKT:
		return sizeof(struct nvsp_1_message_send_rndis_packet);
	case NVSP_MSG2_TYPE_SEND_NDIS_CONFIG:
		return sizeof(struct nvsp_2_send_ndis_config);
	case NVSP_MSG4_TYPE_SWITCH_DATA_PATH:
		return sizeof(struct nvsp_4_sw_datapath);
	case NVSP_MSG5_TYPE_SUBCHANNEL:
		return sizeof(struct nvsp_5_subchannel_request);
	default:
		return -1;
	}
}

/* Messages that need no answer: handle, return 0 or a negative errno
 * (already counted). */
static int msg_oneway(struct netvsp_channel *c, const struct nvsp_message *m)
{
	struct netvsp *nv = c->nv;
	uint32_t mtu;

	if (c->queue != 0 || !nv->version) {
		c->st.bad_state++;
		return -EPROTO;
	}
	switch (m->hdr.msg_type) {
	case NVSP_MSG1_TYPE_SEND_NDIS_VER:
		nv->ndis_version = (m->msg.send_ndis_ver.ndis_major_ver << 16) |
				   (m->msg.send_ndis_ver.ndis_minor_ver & 0xffffu);
		return 0;
	case NVSP_MSG2_TYPE_SEND_NDIS_CONFIG:
		if (nv->version < NVSP_PROTOCOL_VERSION_2) {
			c->st.bad_state++;
			return -EPROTO;
		}
		nv->guest_caps = m->msg.send_ndis_config.capability;
		mtu = m->msg.send_ndis_config.mtu;
		if (mtu < ETH_HLEN || rndis_dev_set_mtu(nv->rd, mtu - ETH_HLEN))
			vmbus_logf(&nv->cfg.log, VMBUS_LOG_INFO,
				   "netvsp: guest MTU %u refused, keeping the configured one", mtu);
		return 0;
	case NVSP_MSG1_TYPE_REVOKE_RECV_BUF:
		if (!nv->have_rx) {
			c->st.bad_state++;
			return -EPROTO;
		}
		drop_rx_buffer(nv);
		return 0;
	case NVSP_MSG1_TYPE_REVOKE_SEND_BUF:
		if (!nv->have_tx) {
			c->st.bad_state++;
			return -EPROTO;
		}
		drop_tx_buffer(nv);
		return 0;
	case NVSP_MSG4_TYPE_SWITCH_DATA_PATH:
		if (m->msg.active_dp.active_datapath > NVSP_DATAPATH_VF) {
			c->st.bad_type++;
			return -EPROTO;
		}
		nv->vf = m->msg.active_dp.active_datapath == NVSP_DATAPATH_VF;
		return 0;
	default:
		c->st.bad_type++;
		return -EPROTO;
	}
}

static void handle_nvsp(struct netvsp_channel *c, const struct vmbus_channel_packet *pkt)
{
	bool want = pkt->flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED;
	uint64_t tid = pkt->trans_id;
	struct nvsp_message m;
	uint32_t len = pkt->payload_len;
	int need, ret;

	memset(&m, 0, sizeof(m));
	memcpy(&m, pkt->payload, min_u32(len, sizeof(m)));
	if (len < NVSP_HDR) {
		c->st.bad_short++;
		if (want)
			reply_fail(c, tid, NVSP_MSG_TYPE_NONE);
		return;
	}
	need = body_size(m.hdr.msg_type);
	if (need < 0) {
		c->st.bad_type++;
		vmbus_logf(&c->nv->cfg.log, VMBUS_LOG_DEBUG, "netvsp: queue %u: NVSP type %u refused",
			   c->queue, m.hdr.msg_type);
		if (want)
			reply_fail(c, tid, m.hdr.msg_type);
		return;
	}
	if (len < NVSP_HDR + (uint32_t)need) {
		c->st.bad_short++;
		if (want)
			reply_fail(c, tid, m.hdr.msg_type);
		return;
	}
	/* Only SEND_RNDIS_PKT may carry GPA-direct ranges. */
	if (pkt->type == VM_PKT_DATA_USING_GPA_DIRECT &&
	    m.hdr.msg_type != NVSP_MSG1_TYPE_SEND_RNDIS_PKT) {
		c->st.bad_type++;
		if (want)
			reply_fail(c, tid, m.hdr.msg_type);
		return;
	}

	switch (m.hdr.msg_type) {
	case NVSP_MSG_TYPE_INIT:
		ret = msg_init(c, &m, tid);
		break;
	case NVSP_MSG1_TYPE_SEND_RECV_BUF:
		ret = msg_recv_buf(c, &m, tid);
		break;
	case NVSP_MSG1_TYPE_SEND_SEND_BUF:
		ret = msg_send_buf(c, &m, tid);
		break;
	case NVSP_MSG5_TYPE_SUBCHANNEL:
		ret = msg_subchannel(c, &m, tid);
		break;
	case NVSP_MSG1_TYPE_SEND_RNDIS_PKT:
		ret = msg_rndis_pkt(c, pkt, &m);
		if (want) {
			uint32_t st = ret ? NVSP_STAT_FAIL : NVSP_STAT_SUCCESS;
			struct nvsp_message r;

			/* Linux's own receive completions are 8 bytes; keep the
			 * busiest message short. */
			memset(&r, 0, sizeof(r));
			r.hdr.msg_type = NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE;
			r.msg.send_rndis_pkt_complete.status = st;
			send_comp(c, tid, &r, NVSP_HDR + sizeof(st));
		}
		return;
	default:
		ret = msg_oneway(c, &m);
		if (want) {
			if (ret)
				reply_fail(c, tid, m.hdr.msg_type);
			else
				reply_empty(c, tid);
		}
		return;
	}
	if (ret && want)
		reply_fail(c, tid, m.hdr.msg_type);
}

/* The guest returned a receive sub-allocation. */
static void handle_comp(struct netvsp_channel *c, const struct vmbus_channel_packet *pkt)
{
	struct netvsp *nv = c->nv;
	uint64_t tid = pkt->trans_id;
	uint32_t idx;

	if (!nv->have_rx || tid == 0 || tid > nv->rx_count) {
		c->st.bad_completion++;
		return;
	}
	idx = (uint32_t)(tid - 1);
	if (!nv->rx_in_use[idx]) {
		c->st.bad_completion++;
		return;
	}
	nv->rx_in_use[idx] = 0;
	nv->rx_free[nv->rx_nfree++] = idx;
	c->st.completions++;
}

static int on_packet(void *ctx, const struct vmbus_channel_packet *pkt)
{
	struct netvsp_channel *c = ctx;

	switch (pkt->type) {
	case VM_PKT_DATA_INBAND:
	case VM_PKT_DATA_USING_GPA_DIRECT:
		handle_nvsp(c, pkt);
		break;
	case VM_PKT_COMP:
		handle_comp(c, pkt);
		break;
	default:
		c->st.bad_type++;
		break;
	}
	/* A completion is waiting for room: take no packet that would owe
	 * another. */
	return c->npend != 0;
}

/*
 * Like OpenVMM's netvsp and Linux hosts, stop taking guest packets while
 * the completion owed for one cannot be written; the guest, reading its
 * ring, signals through pending_send_sz and the next call resumes. The
 * completions of a pass go out in one send batch (one publish, at most
 * one signal); a batch cannot set pending_send_sz, so the waiting
 * completion is retried after the batch ends.
 */
int netvsp_channel_process(struct netvsp_channel *c, unsigned int budget)
{
	unsigned int total = 0;
	int n = 0;

	if (!c)
		return -EINVAL;
	while (!flush_comps(c) && (!budget || total < budget)) {
		vmbus_channel_send_batch_begin(c->ch);
		n = vmbus_channel_process(c->ch, c->pkt_buf, c->pkt_buf_size,
					  budget ? budget - total : 0, on_packet, c);
		vmbus_channel_send_batch_end(c->ch);
		if (n < 0) {
			c->st.ring_errors++;
			vmbus_logf(&c->nv->cfg.log, VMBUS_LOG_ERR,
				   "netvsp: queue %u: receive ring unusable (%d)", c->queue, n);
			break;
		}
		total += (unsigned int)n;
		if (!c->npend)
			break;
	}
	flush_backlog(c->nv);
	return n < 0 ? n : (int)total;
}

/* ---- Channels ---------------------------------------------------------------------- */

int netvsp_channel_attach(struct netvsp *nv, const struct netvsp_channel_config *cfg,
			  struct netvsp_channel **out)
{
	struct netvsp_channel *c;

	if (!nv || !cfg || !cfg->ch || !out || cfg->queue >= NETVSP_MAX_QUEUES)
		return -EINVAL;
	if (nv->chans[cfg->queue])
		return -EEXIST;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->pkt_buf_size = cfg->pkt_buf_size ? cfg->pkt_buf_size : DEFAULT_PKT_BUF;
	c->pkt_buf = malloc(c->pkt_buf_size);
	if (!c->pkt_buf) {
		free(c);
		return -ENOMEM;
	}
	c->nv = nv;
	c->ch = cfg->ch;
	c->queue = cfg->queue;
	c->gpadl = cfg->gpadl;
	nv->chans[cfg->queue] = c;
	*out = c;
	return 0;
}

void netvsp_channel_detach(struct netvsp_channel *c)
{
	struct netvsp *nv;

	if (!c)
		return;
	nv = c->nv;
	if (c->queue == 0) {
		drop_rx_buffer(nv);
		drop_tx_buffer(nv);
		nv->version = 0;
		nv->ndis_version = 0;
		nv->guest_caps = 0;
		nv->vf = false;
	}
	nv->chans[c->queue] = NULL;
	free(c->pkt_buf);
	free(c);
}

unsigned int netvsp_channel_queue(const struct netvsp_channel *c)
{
	return c->queue;
}

void netvsp_channel_get_stats(const struct netvsp_channel *c, struct netvsp_stats *out)
{
	*out = c->st;
}

int netvsp_get_stats(const struct netvsp *nv, unsigned int queue, struct netvsp_stats *out)
{
	if (queue >= NETVSP_MAX_QUEUES || !nv->chans[queue])
		return -ENOENT;
	*out = nv->chans[queue]->st;
	return 0;
}

struct netvsp_channel *netvsp_get_channel(const struct netvsp *nv, unsigned int queue)
{
	return queue < NETVSP_MAX_QUEUES ? nv->chans[queue] : NULL;
}

/* ---- VMBus server glue ------------------------------------------------------------------ */

struct glue_chan {
	struct glue *g;
	unsigned int queue;
	struct vmbus_server_channel *sch;
	struct vmbus_channel *ch;
	struct netvsp_channel *nc;
	void *mem;
	void **pages;
};

struct glue {
	struct netvsp *nv;
	struct vmbus_server *srv;
	struct netvsp_server_config cfg;
	struct glue_chan gc[NETVSP_MAX_QUEUES];
};

static int glue_gpadl_get(void *ctx, uint32_t id, struct vmbus_gpadl **out)
{
	return vmbus_server_channel_gpadl_get(ctx, id, out);
}

static void glue_gpadl_put(void *ctx, struct vmbus_gpadl *g)
{
	vmbus_server_channel_gpadl_put(ctx, g);
}

static void glue_signal(void *ctx)
{
	vmbus_server_channel_signal_guest(ctx);
}

static void glue_free_chan(struct glue_chan *gc)
{
	free(gc->mem);
	free(gc->pages);
	gc->mem = NULL;
	gc->pages = NULL;
	gc->ch = NULL;
	gc->nc = NULL;
}

static int glue_opened(struct vmbus_server_channel *sch,
		       const struct vmbus_server_open_info *info, void *ctx)
{
	struct glue_chan *gc = ctx;
	struct glue *g = gc->g;
	struct vmbus_ring send, recv;
	struct vmbus_channel_config cc;
	struct netvsp_channel_config nc;
	unsigned int maxreq = g->cfg.max_requests ? g->cfg.max_requests : 64;
	size_t memsz;
	int ret;

	gc->pages = calloc(info->ring_pages ? info->ring_pages : 1, sizeof(void *));
	memsz = vmbus_channel_mem_size(maxreq);
	gc->mem = memsz ? aligned_alloc(8, (memsz + 7) & ~(size_t)7) : NULL;
	if (!gc->pages || !gc->mem) {
		ret = -ENOMEM;
		goto fail;
	}
	/* The host reads the guest-to-host ring at page 0 and writes the
	 * host-to-guest ring at the downstream offset. */
	ret = vmbus_server_channel_rings(sch, gc->pages, info->ring_pages, &send, &recv);
	if (ret)
		goto fail;
	memset(&cc, 0, sizeof(cc));
	cc.send = &send;
	cc.recv = &recv;
	cc.signal = glue_signal;
	cc.signal_ctx = sch;
	cc.max_requests = maxreq;
	cc.log = &g->nv->cfg.log;
	ret = vmbus_channel_init(gc->mem, memsz, &cc, &gc->ch);
	if (ret)
		goto fail;
	memset(&nc, 0, sizeof(nc));
	nc.ch = gc->ch;
	nc.queue = gc->queue;
	nc.gpadl.get = glue_gpadl_get;
	nc.gpadl.put = glue_gpadl_put;
	nc.gpadl.ctx = sch;
	ret = netvsp_channel_attach(g->nv, &nc, &gc->nc);
	if (ret)
		goto fail;
	return 0;
fail:
	glue_free_chan(gc);
	return ret;
}

static void glue_closed(struct vmbus_server_channel *sch, void *ctx)
{
	struct glue_chan *gc = ctx;

	(void)sch;
	netvsp_channel_detach(gc->nc);
	glue_free_chan(gc);
}

static void glue_signalled(struct vmbus_server_channel *sch, void *ctx)
{
	struct glue_chan *gc = ctx;
	struct glue *g = gc->g;

	(void)sch;
	if (!gc->nc)
		return;
	if (g->cfg.kick)
		g->cfg.kick(g->cfg.kick_ctx, gc->nc);
	else
		netvsp_channel_process(gc->nc, 0);
}

static const struct vmbus_server_device_ops glue_ops = {
	.opened = glue_opened,
	.closed = glue_closed,
	.signalled = glue_signalled,
};

static int glue_offer(struct glue *g, unsigned int index)
{
	struct vmbus_server_offer o;
	struct vmbus_guid net = VMBUS_GUID_NET;
	struct glue_chan *gc = &g->gc[index];

	memset(&o, 0, sizeof(o));
	o.if_type = net;
	o.if_instance = g->cfg.instance;
	o.sub_channel_index = (uint16_t)index;
	gc->g = g;
	gc->queue = index;
	return vmbus_server_add_offer(g->srv, &o, &glue_ops, gc, &gc->sch);
}

static int glue_offer_subchannels(void *ctx, unsigned int first, unsigned int count)
{
	struct glue *g = ctx;
	unsigned int i;
	int done = 0;

	for (i = first; i < first + count && i < NETVSP_MAX_QUEUES; i++) {
		if (glue_offer(g, i))
			break;
		done++;
	}
	return done;
}

int netvsp_server_attach(struct netvsp *nv, struct vmbus_server *srv,
			 const struct netvsp_server_config *cfg)
{
	struct glue *g;
	int ret;

	if (!nv || !srv || !cfg)
		return -EINVAL;
	if (nv->glue)
		return -EBUSY;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->nv = nv;
	g->srv = srv;
	g->cfg = *cfg;
	ret = glue_offer(g, 0);
	if (ret) {
		free(g);
		return ret;
	}
	nv->glue = g;
	nv->bus.offer_subchannels = glue_offer_subchannels;
	nv->bus.ctx = g;
	nv->subchannels = 0;
	return 0;
}

void netvsp_server_detach(struct netvsp *nv)
{
	struct glue *g;
	unsigned int q;

	if (!nv || !nv->glue)
		return;
	g = nv->glue;
	/* Subchannels first: the server wants a primary under them. */
	for (q = NETVSP_MAX_QUEUES; q-- > 0;) {
		if (g->gc[q].sch)
			vmbus_server_remove_offer(g->srv, g->gc[q].sch);
		g->gc[q].sch = NULL;
	}
	nv->glue = NULL;
	nv->bus = nv->cfg.bus;
	nv->subchannels = 0;
	free(g);
}
