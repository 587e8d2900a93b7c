// SPDX-License-Identifier: MIT
/*
 * netvsc over a link guest (see netvsc_link.h). The bring-up order follows
 * Linux drivers/net/hyperv (netvsc_device_add: open the primary channel,
 * then netvsc_connect_vsp, whose buffer GPADLs netvsc_init_buf creates on
 * the primary; rndis_set_subchannel opens each subchannel offer of the
 * same instance), which <vmbus/netvsc.h> drives once it has the channel
 * and the buffers. Offer fields: include/vmbus/proto/vmbus.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmbus/client.h>
#include <vmbus/gpadl.h>

#include "netvsc_link.h"

#define PAGE		4096u
/* Channel request slots: netvsc's transmit slots plus control requests. */
#define MAX_REQUESTS	320u

struct nl_queue {
	struct netvsc_link *nl;
	unsigned int q;
	struct vmbus_link_guest_channel *gc;
};

struct netvsc_link {
	struct vmbus_link_guest *g;
	struct netvsc_link_config cfg;
	struct netvsc_events ev;	/* ours, passing rx/link/tx_done on */
	struct netvsc *nv;
	void *nv_mem;
	struct nl_queue q[NETVSC_MAX_QUEUES];
	void *recv, *send, *ctrl;
	uint64_t recv_gpa, send_gpa, ctrl_gpa;
	uint32_t recv_gpadl, send_gpadl;
	bool ready;
	int ready_err;
	unsigned int sub_count;		/* subchannels the host allocated */
	bool sub_pending;
	bool dead;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Events ------------------------------------------------------------------------ */

static void ev_ready(void *ctx, int err)
{
	struct netvsc_link *nl = ctx;

	nl->ready = true;
	nl->ready_err = err;
}

static void ev_subchannels(void *ctx, unsigned int count)
{
	struct netvsc_link *nl = ctx;

	/* Opening blocks, which a callback must not: main work picks it up. */
	nl->sub_count = count;
	nl->sub_pending = true;
}

static void ev_rx(void *ctx, unsigned int queue, const void *frame, uint32_t len,
		  const struct netvsc_rx_info *info)
{
	struct netvsc_link *nl = ctx;

	if (nl->cfg.events && nl->cfg.events->rx)
		nl->cfg.events->rx(nl->cfg.ctx, queue, frame, len, info);
}

static void ev_link(void *ctx, bool up)
{
	struct netvsc_link *nl = ctx;

	if (nl->cfg.events && nl->cfg.events->link)
		nl->cfg.events->link(nl->cfg.ctx, up);
}

static void ev_tx_done(void *ctx, void *cookie, bool ok)
{
	struct netvsc_link *nl = ctx;

	if (nl->cfg.events && nl->cfg.events->tx_done)
		nl->cfg.events->tx_done(nl->cfg.ctx, cookie, ok);
}

static void chan_event(struct vmbus_link_guest_channel *gc, void *ctx)
{
	struct nl_queue *q = ctx;

	(void)gc;
	if (q->nl->nv)
		netvsc_process(q->nl->nv, q->q, 0);
}

/* ---- Blocking helpers ---------------------------------------------------------------- */

struct done {
	bool fired;
	int err;
};

static void done_cb(void *arg, int err)
{
	struct done *d = arg;

	d->fired = true;
	d->err = err;
}

/* Run the interrupt handler until *flag is set; 0, -ETIMEDOUT or -ECONNRESET. */
static int wait_for(struct netvsc_link *nl, const bool *flag)
{
	int64_t end = now_ms() + nl->cfg.timeout_ms;

	while (!*flag) {
		int64_t left = end - now_ms();
		int ret;

		if (left <= 0)
			return -ETIMEDOUT;
		ret = vmbus_link_guest_wait(nl->g, left > 100 ? 100 : (int)left);
		if (ret < 0) {
			nl->dead = ret == -ECONNRESET;
			return ret;
		}
	}
	return 0;
}

static int gpadl_create(struct netvsc_link *nl, uint64_t gpa, uint32_t pages, uint32_t *id)
{
	struct vmbus_client *cl = vmbus_link_guest_client(nl->g);
	struct vmbus_gpadl_build_range r;
	struct done d = { 0 };
	uint64_t *pfns;
	uint32_t i;
	int ret;

	pfns = malloc(sizeof(*pfns) * pages);
	if (!pfns)
		return -ENOMEM;
	for (i = 0; i < pages; i++)
		pfns[i] = gpa / PAGE + i;
	r.byte_offset = 0;
	r.byte_count = pages * PAGE;
	r.pfns = pfns;
	ret = vmbus_client_gpadl_create(cl, nl->cfg.relid, &r, 1, id, done_cb, &d);
	if (ret == VMBUS_CLIENT_COMPLETED)
		ret = 0;
	else if (!ret)
		ret = wait_for(nl, &d.fired);
	if (!ret)
		ret = d.fired ? d.err : 0;
	free(pfns);
	return ret;
}

static int gpadl_teardown(struct netvsc_link *nl, uint32_t id)
{
	struct done d = { 0 };
	int ret;

	ret = vmbus_client_gpadl_teardown(vmbus_link_guest_client(nl->g), nl->cfg.relid, id,
					  done_cb, &d);
	if (ret == VMBUS_CLIENT_COMPLETED)
		return 0;
	if (!ret)
		ret = wait_for(nl, &d.fired);
	return ret ? ret : d.err;
}

static int open_queue(struct netvsc_link *nl, unsigned int q, uint32_t relid)
{
	struct vmbus_link_guest_open op = { 0 };
	int ret;

	op.ring_pages = nl->cfg.ring_pages;
	op.max_requests = MAX_REQUESTS;
	op.event = chan_event;
	op.event_ctx = &nl->q[q];
	nl->q[q].nl = nl;
	nl->q[q].q = q;
	ret = vmbus_link_guest_channel_open(nl->g, relid, &op, nl->cfg.timeout_ms, &nl->q[q].gc);
	if (ret == -ECONNRESET)
		nl->dead = true;
	return ret;
}

/* The relid of subchannel index of our instance, once offered; 0 if not yet. */
static uint32_t sub_relid(struct netvsc_link *nl, const struct vmbus_msg_offer *primary,
			  unsigned int index)
{
	unsigned int i, n = *nl->cfg.noffers;

	for (i = 0; i < n; i++) {
		const struct vmbus_msg_offer *o = &nl->cfg.offers[i];

		if (o->sub_channel_index == index &&
		    vmbus_guid_equal(&o->if_instance, &primary->if_instance) &&
		    vmbus_guid_equal(&o->if_type, &primary->if_type))
			return o->child_relid;
	}
	return 0;
}

static int open_subchannels(struct netvsc_link *nl)
{
	const struct vmbus_msg_offer *primary = NULL;
	unsigned int i, n = *nl->cfg.noffers, q;
	int64_t end = now_ms() + nl->cfg.timeout_ms;
	int ret;

	nl->sub_pending = false;
	for (i = 0; i < n; i++)
		if (nl->cfg.offers[i].child_relid == nl->cfg.relid)
			primary = &nl->cfg.offers[i];
	if (!primary)
		return -ENOENT;
	for (q = 1; q <= nl->sub_count && q < NETVSC_MAX_QUEUES; q++) {
		uint32_t relid;

		/* The offers may still be on their way. */
		while (!(relid = sub_relid(nl, primary, q))) {
			if (now_ms() > end)
				return -ETIMEDOUT;
			ret = vmbus_link_guest_wait(nl->g, 100);
			if (ret < 0)
				return ret;
		}
		ret = open_queue(nl, q, relid);
		if (ret)
			return ret;
		ret = netvsc_attach_subchannel(nl->nv, q, vmbus_link_guest_channel_end(nl->q[q].gc));
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- Open and close ------------------------------------------------------------------ */

static void *alloc_pages(struct netvsc_link *nl, uint32_t pages, uint64_t *gpa)
{
	return vmbus_link_guest_alloc_pages(nl->g, pages, gpa);
}

int netvsc_link_open(struct vmbus_link_guest *g, const struct netvsc_link_config *cfg,
		     struct netvsc_link **out)
{
	struct netvsc_config nc;
	struct netvsc_link *nl;
	size_t sz;
	int ret;

	if (!g || !cfg || !out || !cfg->relid || !cfg->offers || !cfg->noffers)
		return -EINVAL;
	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	nl->g = g;
	nl->cfg = *cfg;
	if (!nl->cfg.ring_pages)
		nl->cfg.ring_pages = 128;
	if (!nl->cfg.recv_pages)
		nl->cfg.recv_pages = 1024;
	if (!nl->cfg.send_pages)
		nl->cfg.send_pages = 256;
	if (nl->cfg.timeout_ms <= 0)
		nl->cfg.timeout_ms = 5000;
	nl->ev.ready = ev_ready;
	nl->ev.subchannels = ev_subchannels;
	nl->ev.rx = ev_rx;
	nl->ev.link = ev_link;
	nl->ev.tx_done = ev_tx_done;

	ret = open_queue(nl, 0, cfg->relid);
	if (ret)
		goto fail;
	nl->recv = alloc_pages(nl, nl->cfg.recv_pages, &nl->recv_gpa);
	nl->send = alloc_pages(nl, nl->cfg.send_pages, &nl->send_gpa);
	nl->ctrl = alloc_pages(nl, 1, &nl->ctrl_gpa);
	if (!nl->recv || !nl->send || !nl->ctrl) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = gpadl_create(nl, nl->recv_gpa, nl->cfg.recv_pages, &nl->recv_gpadl);
	if (!ret)
		ret = gpadl_create(nl, nl->send_gpa, nl->cfg.send_pages, &nl->send_gpadl);
	if (ret)
		goto fail;

	memset(&nc, 0, sizeof(nc));
	nc.primary = vmbus_link_guest_channel_end(nl->q[0].gc);
	nc.recv_buf = nl->recv;
	nc.recv_buf_size = nl->cfg.recv_pages * PAGE;
	nc.recv_gpadl = nl->recv_gpadl;
	nc.send_buf = nl->send;
	nc.send_buf_size = nl->cfg.send_pages * PAGE;
	nc.send_gpadl = nl->send_gpadl;
	nc.ctrl_buf = nl->ctrl;
	nc.ctrl_pfn = nl->ctrl_gpa / PAGE;
	nc.mtu = cfg->mtu;
	nc.queues = cfg->queues ? cfg->queues : 1;
	nc.events = &nl->ev;
	nc.ctx = nl;
	nc.log = &nl->cfg.log;
	sz = netvsc_mem_size(&nc);
	nl->nv_mem = sz ? aligned_alloc(8, (sz + 7) & ~(size_t)7) : NULL;
	if (!nl->nv_mem) {
		ret = sz ? -ENOMEM : -EINVAL;
		goto fail;
	}
	ret = netvsc_init(nl->nv_mem, sz, &nc, &nl->nv);
	if (ret)
		goto fail;
	ret = netvsc_start(nl->nv);
	if (ret)
		goto fail;
	/* Subchannels come in the middle of the bring-up: open them when
	 * asked, then wait for the end. */
	for (;;) {
		bool stop = false;
		int64_t end = now_ms() + nl->cfg.timeout_ms;

		while (!nl->ready && !nl->sub_pending) {
			if (now_ms() > end) {
				ret = -ETIMEDOUT;
				goto fail;
			}
			ret = vmbus_link_guest_wait(g, 100);
			if (ret < 0) {
				nl->dead = ret == -ECONNRESET;
				goto fail;
			}
		}
		if (nl->sub_pending) {
			ret = open_subchannels(nl);
			if (ret)
				goto fail;
		} else {
			stop = true;
		}
		if (stop)
			break;
	}
	if (nl->ready_err) {
		ret = nl->ready_err;
		goto fail;
	}
	*out = nl;
	return 0;
fail:
	netvsc_link_close(nl, cfg->timeout_ms > 0 ? cfg->timeout_ms : 5000);
	return ret;
}

int netvsc_link_close(struct netvsc_link *nl, int timeout_ms)
{
	unsigned int q;
	int ret, first = 0;

	if (!nl)
		return 0;
	nl->cfg.timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
	if (!vmbus_link_guest_alive(nl->g))
		nl->dead = true;
	/* Subchannels first, as Linux closes them before the primary. */
	for (q = NETVSC_MAX_QUEUES; q-- > 0;) {
		if (!nl->q[q].gc)
			continue;
		if (nl->dead) {
			/* Nothing to tell a host that is gone; the link frees
			 * the rings with the guest. */
			nl->q[q].gc = NULL;
			continue;
		}
		ret = vmbus_link_guest_channel_close(nl->q[q].gc, nl->cfg.timeout_ms);
		if (ret && !first)
			first = ret;
		nl->q[q].gc = NULL;
	}
	nl->nv = NULL;
	/* The host gave the buffers back when the primary closed; now the
	 * GPADLs can go. */
	if (!nl->dead && nl->recv_gpadl) {
		ret = gpadl_teardown(nl, nl->recv_gpadl);
		if (ret && !first)
			first = ret;
	}
	if (!nl->dead && nl->send_gpadl) {
		ret = gpadl_teardown(nl, nl->send_gpadl);
		if (ret && !first)
			first = ret;
	}
	if (!nl->dead) {
		if (nl->recv)
			vmbus_link_guest_free_pages(nl->g, nl->recv_gpa, nl->cfg.recv_pages);
		if (nl->send)
			vmbus_link_guest_free_pages(nl->g, nl->send_gpa, nl->cfg.send_pages);
		if (nl->ctrl)
			vmbus_link_guest_free_pages(nl->g, nl->ctrl_gpa, 1);
	}
	free(nl->nv_mem);
	free(nl);
	return first;
}

struct netvsc *netvsc_link_nic(struct netvsc_link *nl)
{
	return nl->nv;
}

struct vmbus_channel *netvsc_link_channel(struct netvsc_link *nl, unsigned int q)
{
	if (q >= NETVSC_MAX_QUEUES || !nl->q[q].gc)
		return NULL;
	return vmbus_link_guest_channel_end(nl->q[q].gc);
}

int netvsc_link_poll(struct netvsc_link *nl)
{
	unsigned int q, n = netvsc_num_queues(nl->nv);
	int total = 0, ret;

	for (q = 0; q < n; q++) {
		ret = netvsc_process(nl->nv, q, 0);
		if (ret < 0)
			return ret;
		total += ret;
	}
	return total;
}
