/* SPDX-License-Identifier: MIT */
/*
 * The self-test guest's bus plumbing (see gbus.h). The channel-open order
 * and ring layout follow Linux drivers/hv/channel.c (__vmbus_open: one
 * GPADL over both rings, the host-to-guest ring at the downstream offset);
 * event flags are cleared before the rings are looked at, as
 * vmbus_chan_sched() does, so a signal after the look raises a new
 * interrupt. Formats: include/vmbus/proto/vmbus.h and tlfs.h.
 */
#include <vmbus/proto/tlfs.h>
#include <vmbus/proto/vmbus.h>

#include "freestanding.h"
#include "gbus.h"
#include "hvg.h"
#include "rt.h"

#define PAGE		4096u

struct vmbus_client *gbus_client;

static uint64_t heap_next;
static gbus_poll_fn *poller;
static void *poller_ctx;
static volatile bool req_done;
static volatile int req_err;

uint64_t gbus_now(void)
{
	return rt_rdmsr(HV_X64_MSR_TIME_REF_COUNT);
}

void *gbus_alloc(size_t bytes)
{
	uint64_t start, end;

	if (!heap_next)
		heap_next = (rt_boot->image_end + PAGE - 1) & ~(uint64_t)(PAGE - 1);
	start = heap_next;
	end = start + ((bytes + PAGE - 1) & ~(size_t)(PAGE - 1));
	/* Keep a page below the top of RAM untouched. */
	if (end < start || end > rt_boot->mem_size - PAGE)
		return NULL;
	heap_next = end;
	memset((void *)(uintptr_t)start, 0, end - start);
	return (void *)(uintptr_t)start;
}

void gbus_set_poller(gbus_poll_fn *fn, void *ctx)
{
	poller = fn;
	poller_ctx = ctx;
}

/* Clear SINT 2's event flags; true if any was set. */
static bool take_events(void)
{
	volatile uint64_t *w = (volatile uint64_t *)
		hvg_siefp.sintevent_flags[VMBUS_MESSAGE_SINT].flags;
	bool any = false;
	unsigned int i;

	for (i = 0; i < HV_EVENT_FLAGS_BYTE_COUNT / 8; i++) {
		if (!w[i])
			continue;
		__atomic_exchange_n(&w[i], 0, __ATOMIC_SEQ_CST);
		any = true;
	}
	return any;
}

int gbus_pump(void)
{
	uint8_t buf[HV_MESSAGE_PAYLOAD_BYTE_COUNT];
	uint32_t type;
	int len, n = 0, r;

	while ((len = hvg_take_message(&type, buf)) >= 0) {
		if (type == HV_MESSAGE_TYPE_VMBUS && gbus_client)
			vmbus_client_handle_message(gbus_client, buf, (size_t)len);
		n++;
	}
	if (take_events())
		n++;
	if (poller) {
		r = poller(poller_ctx);
		if (r > 0)
			n += r;
	}
	if (!n)
		rt_wait_irq();
	return n;
}

bool gbus_wait(volatile bool *flag, uint64_t timeout)
{
	uint64_t end = gbus_now() + timeout;

	while (!*flag) {
		if (gbus_now() > end)
			return false;
		gbus_pump();
	}
	return true;
}

void gbus_done(void *arg, int err)
{
	(void)arg;
	req_err = err;
	req_done = true;
}

int gbus_request(int ret, uint64_t timeout)
{
	if (ret == VMBUS_CLIENT_COMPLETED)
		return 0;
	if (ret < 0)
		return ret;
	if (!gbus_wait(&req_done, timeout))
		return -ETIMEDOUT;
	return req_err;
}

/* Start a client request: clear the completion first. */
static void request_begin(void)
{
	req_done = false;
	req_err = 0;
}

static uint64_t *pfn_list(const void *buf, uint32_t pages)
{
	uint64_t *pfns = gbus_alloc(pages * sizeof(uint64_t));
	uint32_t i;

	if (!pfns)
		return NULL;
	for (i = 0; i < pages; i++)
		pfns[i] = ((uintptr_t)buf >> 12) + i;
	return pfns;
}

static void chan_signal(void *ctx)
{
	struct gbus_chan *c = ctx;

	c->signals++;
	hvg_guest_ops.signal_event(NULL, c->conn_id, 0);
}

int gbus_open(struct gbus_chan *c, const struct vmbus_msg_offer *offer,
	      uint32_t ring_pages, unsigned int max_requests)
{
	struct vmbus_client_open_params p;
	struct vmbus_channel_config cc;
	uint32_t half = ring_pages / 2;
	size_t msize;
	uint64_t *pfns;
	void *mem;
	int ret;

	memset(c, 0, sizeof(*c));
	c->relid = offer->child_relid;
	c->conn_id = offer->connection_id;
	c->ring_pages = ring_pages;
	c->ring = gbus_alloc((size_t)ring_pages * PAGE);
	pfns = pfn_list(c->ring, ring_pages);
	msize = vmbus_channel_mem_size(max_requests);
	mem = gbus_alloc(msize);
	if (!c->ring || !pfns || !mem || ring_pages < 4 || ring_pages % 2)
		return -ENOMEM;
	/* The guest sends on the first half, receives on the second. */
	ret = vmbus_ring_view_contig(&c->send, (struct vmbus_ring_ctrl *)c->ring,
				     c->ring + PAGE, (size_t)(half - 1) * PAGE);
	if (!ret)
		ret = vmbus_ring_view_contig(&c->recv,
			(struct vmbus_ring_ctrl *)(c->ring + (size_t)half * PAGE),
			c->ring + (size_t)(half + 1) * PAGE,
			(size_t)(half - 1) * PAGE);
	if (ret)
		return ret;
	vmbus_ring_init(&c->send, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	vmbus_ring_init(&c->recv, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	memset(&cc, 0, sizeof(cc));
	cc.send = &c->send;
	cc.recv = &c->recv;
	cc.signal = chan_signal;
	cc.signal_ctx = c;
	cc.max_requests = max_requests;
	ret = vmbus_channel_init(mem, msize, &cc, &c->ch);
	if (ret)
		return ret;
	memset(&p, 0, sizeof(p));
	p.pfns = pfns;
	p.page_count = ring_pages;
	p.downstream_page_offset = half;
	p.target_vp = 0;
	request_begin();
	return gbus_request(vmbus_client_open(gbus_client, c->relid, &p,
					      gbus_done, NULL), 5 * GBUS_SEC);
}

int gbus_close(struct gbus_chan *c)
{
	request_begin();
	return gbus_request(vmbus_client_close(gbus_client, c->relid, gbus_done,
					       NULL), 5 * GBUS_SEC);
}

int gbus_gpadl(uint32_t relid, void *buf, uint32_t bytes, uint32_t *id)
{
	struct vmbus_gpadl_build_range r = {
		.byte_offset = 0,
		.byte_count = bytes,
		.pfns = pfn_list(buf, (bytes + PAGE - 1) / PAGE),
	};

	if (!r.pfns)
		return -ENOMEM;
	request_begin();
	return gbus_request(vmbus_client_gpadl_create(gbus_client, relid, &r, 1,
						      id, gbus_done, NULL),
			    5 * GBUS_SEC);
}

int gbus_gpadl_teardown(uint32_t relid, uint32_t id)
{
	request_begin();
	return gbus_request(vmbus_client_gpadl_teardown(gbus_client, relid, id,
							gbus_done, NULL),
			    5 * GBUS_SEC);
}
