// SPDX-License-Identifier: MIT
/*
 * The guest half both links share: SynIC enablement, the VMBus interrupt
 * handler (SIMP slot 2 and the SINT 2 event flags), the bus client, a page
 * allocator over guest RAM, and blocking helpers to connect, open, close
 * and unload.
 *
 * The handler follows what a Hyper-V guest does: Linux
 * drivers/hv/hv.c (hv_synic_enable_regs: SIMP, SIEFP, SINT, then
 * SCONTROL), drivers/hv/vmbus_drv.c (vmbus_on_msg_dpc copies the message,
 * vmbus_signal_eom frees the slot, full barrier, EOM only if the pending
 * flag is set; vmbus_chan_sched takes event bits with an atomic exchange).
 * Page formats: include/vmbus/proto/tlfs.h. The channel connection-id
 * layout: <vmbus/server.h> (VMBUS_SERVER_CONN_ID_BASE + relid).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "link_priv.h"

/* The status a hypercall gets once the host is gone: the client turns any
 * status but the two retryable ones into -EIO at once. */
#define STATUS_HOST_GONE	HV_STATUS_INVALID_PARTITION_STATE

#define SIMP_PAGE	1u
#define SIEFP_PAGE	2u
#define FIRST_FREE_PAGE	3u

struct vmbus_link_guest_channel {
	struct vmbus_link_guest *g;
	uint32_t relid;
	uint32_t connection_id;
	uint32_t ring_pages;		/* per ring */
	uint64_t gpa;			/* both rings, 2 * ring_pages pages */
	uint64_t *pfns;
	struct vmbus_channel *end;
	void *end_mem;
	vmbus_link_guest_channel_fn *event;
	void *event_ctx;
	struct link_done open_done, close_done;
	struct vmbus_link_guest_channel *next_zombie;
};

/* ---- Hypercalls ------------------------------------------------------------ */

static uint16_t hv_post(void *ctx, uint32_t connection_id, uint32_t message_type,
			const void *payload, uint32_t size)
{
	struct vmbus_link_guest *g = ctx;

	if (g->dead)
		return STATUS_HOST_GONE;
	return g->ops->post(g, connection_id, message_type, payload, size);
}

/*
 * HvSignalEvent on a channel's connection id: set the relid's doorbell bit
 * and wake the host only if the bit was clear; a set bit means the host
 * has not taken it yet and will see this signal with it.
 */
static uint16_t hv_signal(void *ctx, uint32_t connection_id, uint16_t flag)
{
	struct vmbus_link_guest *g = ctx;
	uint32_t relid = connection_id - VMBUS_SERVER_CONN_ID_BASE;
	uint64_t bit, old;

	if (flag >= HV_EVENT_FLAGS_COUNT)
		return HV_STATUS_INVALID_PARAMETER;
	if (connection_id & ~HV_CONNECTION_ID_MASK)
		return HV_STATUS_INVALID_HYPERCALL_INPUT;
	if (connection_id <= VMBUS_SERVER_CONN_ID_BASE ||
	    relid >= HV_EVENT_FLAGS_COUNT)
		return HV_STATUS_INVALID_CONNECTION_ID;
	/* A channel's event port has a single flag. */
	if (flag != 0)
		return HV_STATUS_INVALID_PARAMETER;
	if (g->dead)
		return STATUS_HOST_GONE;
	bit = 1ull << (relid % 64);
	old = __atomic_fetch_or(&g->doorbell->bits[relid / 64], bit,
				__ATOMIC_SEQ_CST);
	if (!(old & bit))
		g->ops->kick(g);
	return HV_STATUS_SUCCESS;
}

static const struct vmbus_hv_guest_ops guest_hv_ops = {
	.post_message = hv_post,
	.signal_event = hv_signal,
};

struct vmbus_hv_guest vmbus_link_guest_hv(struct vmbus_link_guest *g)
{
	struct vmbus_hv_guest hv = { .ops = &guest_hv_ops, .ctx = g };

	return hv;
}

/* ---- Interrupt handler ----------------------------------------------------- */

static int handle_messages(struct vmbus_link_guest *g)
{
	struct hv_message *slot = &g->simp->sint_message[VMBUS_MESSAGE_SINT];
	uint64_t buf[HV_MESSAGE_PAYLOAD_QWORD_COUNT];
	int n = 0;

	/* Bounded so a host that refills the slot forever cannot keep the
	 * guest here; the next interrupt or call continues. */
	while (n < 1024) {
		uint32_t type = __atomic_load_n(&slot->header.message_type,
						__ATOMIC_ACQUIRE);
		uint32_t size;

		if (type == HVMSG_NONE)
			break;
		size = __atomic_load_n(&slot->header.payload_size, __ATOMIC_RELAXED);
		if (size > HV_MESSAGE_PAYLOAD_BYTE_COUNT)
			size = HV_MESSAGE_PAYLOAD_BYTE_COUNT;
		memcpy(buf, slot->payload, size);
		/* Free the slot, then look for the pending flag: the host
		 * sets the flag before it looks at the type again, so one of
		 * us always sees the other's store. */
		__atomic_store_n(&slot->header.message_type, HVMSG_NONE,
				 __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (__atomic_load_n(&slot->header.flags, __ATOMIC_RELAXED) &
		    HV_MESSAGE_FLAG_PENDING) {
			if (g->ops->wrmsr(g, HV_X64_MSR_EOM, 0) == -ECONNRESET)
				g->dead = true;
		}
		if (type == HV_MESSAGE_TYPE_VMBUS)
			vmbus_client_handle_message(g->cl, buf, size);
		else
			vmbus_logf(&g->log, VMBUS_LOG_DEBUG,
				   "link: guest: SINT 2 message type 0x%x ignored", type);
		n++;
	}
	return n;
}

static int handle_events(struct vmbus_link_guest *g)
{
	uint64_t *words = (uint64_t *)g->siefp->sintevent_flags[VMBUS_MESSAGE_SINT].flags;
	unsigned int w;
	int n = 0;

	for (w = 0; w < HV_EVENT_FLAGS_COUNT / 64; w++) {
		uint64_t bits;

		if (!__atomic_load_n(&words[w], __ATOMIC_RELAXED))
			continue;
		bits = __atomic_exchange_n(&words[w], 0, __ATOMIC_SEQ_CST);
		while (bits) {
			uint32_t relid = w * 64 + (uint32_t)__builtin_ctzll(bits);
			struct vmbus_link_guest_channel *gc = g->chans[relid];

			bits &= bits - 1;
			if (gc && gc->event)
				gc->event(gc, gc->event_ctx);
			n++;
		}
	}
	return n;
}

static int run_handler(struct vmbus_link_guest *g)
{
	int n = handle_messages(g);

	n += handle_events(g);
	return g->dead ? -ECONNRESET : n;
}

int vmbus_link_guest_wait(struct vmbus_link_guest *g, int timeout_ms)
{
	int ret;

	if (!g)
		return -EINVAL;
	if (g->dead)
		return -ECONNRESET;
	ret = g->ops->wait(g, timeout_ms);
	if (ret < 0) {
		g->dead = true;
		return ret;
	}
	return run_handler(g);
}

int vmbus_link_guest_process(struct vmbus_link_guest *g)
{
	return vmbus_link_guest_wait(g, 0);
}

int vmbus_link_guest_fd(const struct vmbus_link_guest *g)
{
	return g ? g->fd : -1;
}

bool vmbus_link_guest_alive(const struct vmbus_link_guest *g)
{
	return g && !g->dead;
}

struct vmbus_client *vmbus_link_guest_client(struct vmbus_link_guest *g)
{
	return g ? g->cl : NULL;
}

/* ---- Blocking helpers ------------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Deadline for a timeout in ms (-1: none). */
static int64_t deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Run the handler until *flag is set or the deadline passes. */
static int wait_flag(struct vmbus_link_guest *g, const bool *flag,
		     int64_t deadline)
{
	int ret;

	ret = run_handler(g);
	if (ret < 0)
		return ret;
	while (!*flag) {
		int wait = -1;

		if (deadline >= 0) {
			int64_t left = deadline - now_ms();

			if (left <= 0)
				return -ETIMEDOUT;
			wait = left > 1000000 ? 1000000 : (int)left;
		}
		ret = vmbus_link_guest_wait(g, wait);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static void done_cb(void *arg, int err)
{
	struct link_done *d = arg;

	d->err = err;
	d->done = true;
}

static void ev_offer(void *ctx, const struct vmbus_msg_offer *offer)
{
	struct vmbus_link_guest *g = ctx;

	if (g->user_events && g->user_events->offer)
		g->user_events->offer(g->user_ctx, offer);
}

static void ev_offers_delivered(void *ctx)
{
	struct vmbus_link_guest *g = ctx;

	g->offers_delivered = true;
	if (g->user_events && g->user_events->offers_delivered)
		g->user_events->offers_delivered(g->user_ctx);
}

static void ev_rescind(void *ctx, uint32_t relid)
{
	struct vmbus_link_guest *g = ctx;

	if (g->user_events && g->user_events->rescind)
		g->user_events->rescind(g->user_ctx, relid);
}

int vmbus_link_guest_connect(struct vmbus_link_guest *g, int timeout_ms)
{
	struct vmbus_client_connect_params params = { 0 };
	int64_t deadline = deadline_of(timeout_ms);
	int ret;

	if (!g)
		return -EINVAL;
	if (g->dead)
		return -ECONNRESET;
	g->connect_done.done = false;
	g->offers_delivered = false;
	ret = vmbus_client_connect(g->cl, &params, done_cb, &g->connect_done);
	if (ret < 0)
		return g->dead ? -ECONNRESET : ret;
	ret = wait_flag(g, &g->connect_done.done, deadline);
	if (ret)
		return ret;
	if (g->connect_done.err)
		return g->connect_done.err;
	ret = vmbus_client_request_offers(g->cl);
	if (ret < 0)
		return g->dead ? -ECONNRESET : ret;
	return wait_flag(g, &g->offers_delivered, deadline);
}

int vmbus_link_guest_unload(struct vmbus_link_guest *g, int timeout_ms)
{
	unsigned int i;
	int ret;

	if (!g)
		return -EINVAL;
	if (g->dead)
		return -ECONNRESET;
	for (i = 0; i < HV_EVENT_FLAGS_COUNT; i++)
		if (g->chans[i])
			return -EBUSY;
	g->unload_done.done = false;
	ret = vmbus_client_unload(g->cl, done_cb, &g->unload_done);
	if (ret == VMBUS_CLIENT_COMPLETED)
		return 0;
	if (ret < 0)
		return g->dead ? -ECONNRESET : ret;
	ret = wait_flag(g, &g->unload_done.done, deadline_of(timeout_ms));
	return ret ? ret : g->unload_done.err;
}

/* ---- Guest pages ------------------------------------------------------------ */

static bool page_used(const struct vmbus_link_guest *g, uint32_t pfn)
{
	return g->page_bits[pfn / 64] & (1ull << (pfn % 64));
}

static void page_mark(struct vmbus_link_guest *g, uint32_t pfn, bool used)
{
	if (used)
		g->page_bits[pfn / 64] |= 1ull << (pfn % 64);
	else
		g->page_bits[pfn / 64] &= ~(1ull << (pfn % 64));
}

void *vmbus_link_guest_alloc_pages(struct vmbus_link_guest *g, uint32_t npages,
				   uint64_t *gpa)
{
	uint32_t start, run = 0, pfn;

	if (!g || !gpa || npages == 0 || npages > g->page_count)
		return NULL;
	/* First fit: allocations are few and long-lived (rings, buffers). */
	for (pfn = FIRST_FREE_PAGE, start = pfn; pfn < g->page_count; pfn++) {
		if (page_used(g, pfn)) {
			run = 0;
			start = pfn + 1;
			continue;
		}
		if (++run == npages)
			break;
	}
	if (run < npages)
		return NULL;
	for (pfn = start; pfn < start + npages; pfn++)
		page_mark(g, pfn, true);
	*gpa = (uint64_t)start * HV_PAGE_SIZE;
	memset(g->ram + *gpa, 0, (size_t)npages * HV_PAGE_SIZE);
	return g->ram + *gpa;
}

void vmbus_link_guest_free_pages(struct vmbus_link_guest *g, uint64_t gpa,
				 uint32_t npages)
{
	uint64_t first, pfn;

	if (!g || gpa % HV_PAGE_SIZE)
		return;
	first = gpa / HV_PAGE_SIZE;
	if (first < FIRST_FREE_PAGE || first >= g->page_count ||
	    npages > g->page_count - first)
		return;
	for (pfn = first; pfn < first + npages; pfn++)
		page_mark(g, (uint32_t)pfn, false);
}

void *vmbus_link_guest_ptr(struct vmbus_link_guest *g, uint64_t gpa,
			   uint64_t len)
{
	if (!g || gpa > g->ram_size || len > g->ram_size - gpa)
		return NULL;
	return g->ram + gpa;
}

/* ---- Channels ---------------------------------------------------------------- */

static void chan_signal(void *ctx)
{
	struct vmbus_link_guest_channel *gc = ctx;

	hv_signal(gc->g, gc->connection_id, 0);
}

static void chan_free(struct vmbus_link_guest_channel *gc, bool pages)
{
	if (pages)
		vmbus_link_guest_free_pages(gc->g, gc->gpa, 2 * gc->ring_pages);
	free(gc->pfns);
	free(gc->end_mem);
	free(gc);
}

/* A channel whose request never completed: the client may still call back
 * into it and the host may still use its rings, so it is kept until the
 * guest is freed. */
static void chan_zombie(struct vmbus_link_guest_channel *gc)
{
	struct vmbus_link_guest *g = gc->g;

	if (g->chans[gc->relid] == gc)
		g->chans[gc->relid] = NULL;
	gc->next_zombie = g->zombies;
	g->zombies = gc;
}

static int chan_rings(struct vmbus_link_guest_channel *gc,
		      const struct vmbus_link_guest_open *p, void *mem)
{
	struct vmbus_channel_config cfg = { 0 };
	struct vmbus_ring send, recv;
	uint8_t *base = mem;
	size_t data = (size_t)(gc->ring_pages - 1) * HV_PAGE_SIZE;
	size_t ring = (size_t)gc->ring_pages * HV_PAGE_SIZE;
	size_t need;
	int ret;

	ret = vmbus_ring_view_contig(&send, (struct vmbus_ring_ctrl *)base,
				     base + HV_PAGE_SIZE, data);
	if (!ret)
		ret = vmbus_ring_view_contig(&recv, (struct vmbus_ring_ctrl *)(base + ring),
					     base + ring + HV_PAGE_SIZE, data);
	if (ret)
		return ret;
	vmbus_ring_init(&send, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	vmbus_ring_init(&recv, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	need = vmbus_channel_mem_size(p->max_requests);
	if (!need)
		return -EINVAL;
	gc->end_mem = malloc(need);
	if (!gc->end_mem)
		return -ENOMEM;
	cfg.send = &send;
	cfg.recv = &recv;
	cfg.signal = chan_signal;
	cfg.signal_ctx = gc;
	cfg.max_requests = p->max_requests;
	cfg.log = &gc->g->log;
	return vmbus_channel_init(gc->end_mem, need, &cfg, &gc->end);
}

int vmbus_link_guest_channel_open(struct vmbus_link_guest *g, uint32_t relid,
				  const struct vmbus_link_guest_open *params,
				  int timeout_ms,
				  struct vmbus_link_guest_channel **out)
{
	struct vmbus_link_guest_open p = { 0 };
	struct vmbus_client_open_params op = { 0 };
	struct vmbus_link_guest_channel *gc;
	struct vmbus_msg_offer offer;
	uint32_t i, npages;
	void *mem;
	int ret;

	if (!g || !out || relid == 0 || relid >= HV_EVENT_FLAGS_COUNT)
		return -EINVAL;
	if (g->dead)
		return -ECONNRESET;
	if (params)
		p = *params;
	if (!p.ring_pages)
		p.ring_pages = 16;
	if (p.ring_pages < 2 || p.ring_pages > (1u << 18))
		return -EINVAL;
	if (g->chans[relid])
		return -EBUSY;
	ret = vmbus_client_get_offer(g->cl, relid, &offer);
	if (ret)
		return ret;

	gc = calloc(1, sizeof(*gc));
	if (!gc)
		return -ENOMEM;
	gc->g = g;
	gc->relid = relid;
	gc->connection_id = offer.connection_id;
	gc->ring_pages = p.ring_pages;
	gc->event = p.event;
	gc->event_ctx = p.event_ctx;
	npages = 2 * p.ring_pages;
	gc->pfns = calloc(npages, sizeof(*gc->pfns));
	mem = vmbus_link_guest_alloc_pages(g, npages, &gc->gpa);
	if (!gc->pfns || !mem) {
		ret = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < npages; i++)
		gc->pfns[i] = gc->gpa / HV_PAGE_SIZE + i;
	ret = chan_rings(gc, &p, mem);
	if (ret)
		goto fail;

	op.pfns = gc->pfns;
	op.page_count = npages;
	op.downstream_page_offset = p.ring_pages;
	op.target_vp = 0;
	op.userdata = p.userdata;
	op.userdata_len = p.userdata_len;
	ret = vmbus_client_open(g->cl, relid, &op, done_cb, &gc->open_done);
	if (ret < 0) {
		ret = g->dead ? -ECONNRESET : ret;
		goto fail;
	}
	ret = wait_flag(g, &gc->open_done.done, deadline_of(timeout_ms));
	if (ret) {
		chan_zombie(gc);
		return ret;
	}
	if (gc->open_done.err) {
		/* The client tore the ring GPADL down before failing. */
		ret = gc->open_done.err;
		goto fail;
	}
	g->chans[relid] = gc;
	*out = gc;
	return 0;

fail:
	chan_free(gc, mem != NULL);
	return ret;
}

struct vmbus_channel *vmbus_link_guest_channel_end(struct vmbus_link_guest_channel *gc)
{
	return gc ? gc->end : NULL;
}

uint32_t vmbus_link_guest_channel_relid(const struct vmbus_link_guest_channel *gc)
{
	return gc ? gc->relid : 0;
}

uint32_t vmbus_link_guest_channel_max_payload(const struct vmbus_link_guest_channel *gc)
{
	/* A packet needs strictly less than the data area (the ring is
	 * never filled completely): descriptor (16) and trailer (8) plus
	 * 8 bytes kept free. */
	if (!gc)
		return 0;
	return (gc->ring_pages - 1) * HV_PAGE_SIZE -
	       (uint32_t)(sizeof(struct vmpacket_descriptor) +
			  VMBUS_RING_TRAILER_SIZE + VMBUS_PKT_ALIGN);
}

int vmbus_link_guest_channel_close(struct vmbus_link_guest_channel *gc,
				   int timeout_ms)
{
	struct vmbus_link_guest *g;
	int ret;

	if (!gc)
		return -EINVAL;
	g = gc->g;
	if (g->dead) {
		chan_zombie(gc);
		return -ECONNRESET;
	}
	ret = vmbus_client_close(g->cl, gc->relid, done_cb, &gc->close_done);
	if (ret < 0 && g->dead) {
		chan_zombie(gc);
		return -ECONNRESET;
	}
	if (ret < 0)
		return ret;
	g->chans[gc->relid] = NULL;
	if (ret == VMBUS_CLIENT_COMPLETED) {
		/* Closed, but the ring GPADL could not be torn down: the
		 * host may keep the pages, so they are never reused. */
		chan_free(gc, false);
		return 0;
	}
	ret = wait_flag(g, &gc->close_done.done, deadline_of(timeout_ms));
	if (ret) {
		chan_zombie(gc);
		return ret;
	}
	ret = gc->close_done.err;
	chan_free(gc, ret == 0);
	return ret;
}

/* ---- Set-up -------------------------------------------------------------------- */

int link_guest_init(struct vmbus_link_guest *g,
		    const struct vmbus_link_guest_config *cfg, void *ram,
		    uint64_t ram_size, struct link_doorbell *doorbell)
{
	struct vmbus_client_config ccfg = { 0 };
	size_t need;
	uint32_t pfn;
	int ret;

	g->log = cfg->log;
	g->ram = ram;
	g->ram_size = ram_size;
	g->doorbell = doorbell;
	g->page_count = (uint32_t)(ram_size / HV_PAGE_SIZE);
	g->page_bits = calloc((g->page_count + 63) / 64, sizeof(uint64_t));
	if (!g->page_bits)
		return -ENOMEM;
	for (pfn = 0; pfn < FIRST_FREE_PAGE; pfn++)
		page_mark(g, pfn, true);
	g->simp = (struct hv_message_page *)(g->ram + SIMP_PAGE * HV_PAGE_SIZE);
	g->siefp = (struct hv_synic_event_flags_page *)(g->ram + SIEFP_PAGE * HV_PAGE_SIZE);

	g->user_events = cfg->events;
	g->user_ctx = cfg->events_ctx;
	g->events.offer = ev_offer;
	g->events.offers_delivered = ev_offers_delivered;
	g->events.rescind = ev_rescind;
	ccfg.hv = vmbus_link_guest_hv(g);
	ccfg.events = &g->events;
	ccfg.events_ctx = g;
	ccfg.log = &g->log;
	ccfg.max_channels = cfg->max_channels ? cfg->max_channels : 64;
	ccfg.max_gpadls = cfg->max_gpadls ? cfg->max_gpadls : 256;
	need = vmbus_client_mem_size(&ccfg);
	if (!need)
		return -EINVAL;
	g->cl_mem = malloc(need);
	if (!g->cl_mem)
		return -ENOMEM;
	ret = vmbus_client_init(g->cl_mem, need, &ccfg, &g->cl);
	if (ret)
		return ret;

	/* The order Linux enables its SynIC in; SINT 2 unmasked last but
	 * one, so nothing is delivered before SCONTROL turns it on. */
	ret = g->ops->wrmsr(g, HV_X64_MSR_SIMP,
			    (uint64_t)SIMP_PAGE * HV_PAGE_SIZE | HV_MSR_ENABLE);
	if (!ret)
		ret = g->ops->wrmsr(g, HV_X64_MSR_SIEFP,
				    (uint64_t)SIEFP_PAGE * HV_PAGE_SIZE | HV_MSR_ENABLE);
	if (!ret)
		ret = g->ops->wrmsr(g, HV_X64_MSR_SINT0 + VMBUS_MESSAGE_SINT,
				    HYPERVISOR_CALLBACK_VECTOR);
	if (!ret)
		ret = g->ops->wrmsr(g, HV_X64_MSR_SCONTROL, HV_SCONTROL_ENABLE);
	return ret;
}

void link_guest_fini(struct vmbus_link_guest *g)
{
	unsigned int i;

	for (i = 0; i < HV_EVENT_FLAGS_COUNT; i++) {
		if (g->chans[i])
			chan_free(g->chans[i], false);
		g->chans[i] = NULL;
	}
	while (g->zombies) {
		struct vmbus_link_guest_channel *gc = g->zombies;

		g->zombies = gc->next_zombie;
		chan_free(gc, false);
	}
	free(g->cl_mem);
	g->cl_mem = NULL;
	g->cl = NULL;
	free(g->page_bits);
	g->page_bits = NULL;
}

void vmbus_link_guest_free(struct vmbus_link_guest *g)
{
	if (g)
		g->ops->destroy(g);
}
