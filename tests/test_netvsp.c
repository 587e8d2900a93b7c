/* SPDX-License-Identifier: MIT */
/*
 * Tests for netvsp (vsp/netvsp/netvsp.c) and netvsc (vsc/netvsc/netvsc.c):
 * both ends of a synthetic NIC over in-memory channel pairs whose rings,
 * receive and send buffers live in one array of "guest RAM" the host sees
 * through a GPA map; GPADLs are registered in a GPADL table directly, and
 * one test goes through the real bus server and client. The sequence
 * checked is Linux's (netvsc.c, rndis_filter.c; PROTOCOL.md section 6).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/channel.h>
#include <vmbus/client.h>
#include <vmbus/gpa.h>
#include <vmbus/gpadl.h>
#include <vmbus/msg.h>
#include <vmbus/netvsc.h>
#include <vmbus/netvsp.h>
#include <vmbus/ring.h>
#include <vmbus/server.h>

/* ---- Guest RAM layout (pages) ------------------------------------------------ */

#define RAM_PAGES	320
#define RAM_GPA		0x200000ull
#define PFN(i)		((RAM_GPA >> 12) + (i))
#define RING_PAGES	16		/* per ring: control + 15 data */
#define QUEUES		4
#define RECV_PAGE	128		/* receive buffer: up to 64 pages */
#define SEND_PAGE	192		/* send buffer: 16 pages (10 sections) */
#define SEND_PAGES	16
#define CTRL_PAGE	208
#define BIG_PAGE	210		/* frames sent by GPA direct */
#define SRV_RING_PAGE	240		/* rings for the server test */
#define RELID		1

static uint8_t ram[RAM_PAGES][4096] __attribute__((aligned(4096)));
/* A byte pointer to page i that may run on into the following pages. */
#define RAMP(i)		((uint8_t *)ram + (size_t)(i) * 4096)

/* ---- Recorders ---------------------------------------------------------------- */

struct txrec {
	unsigned int queue;
	size_t len;
	unsigned int iovcnt;
	struct rndis_tx_packet pkt;
	uint8_t data[10000];
};

struct rxrec {
	unsigned int queue;
	uint32_t len;
	struct netvsc_rx_info info;
	uint8_t data[2048];
};

/* What the guest put on the primary ring, seen by a reader that never
 * publishes (so the host's reads are unaffected). */
struct trace {
	uint16_t pkt_type;
	uint32_t nvsp;
	uint32_t a, b, c;
	uint32_t rndis, oid;
};

#define MAX_TRACE 128

struct env {
	struct vmbus_gpa_map *map;
	struct vmbus_gpadl_table *gt;
	struct netvsp *nv;
	struct netvsc *gc;
	unsigned int nq;
	struct vmbus_channel *gch[QUEUES], *hch[QUEUES];
	struct netvsp_channel *nch[QUEUES];
	bool host_sig[QUEUES], guest_sig[QUEUES];
	uint32_t recv_gpadl, send_gpadl;

	struct vmbus_ring spy;
	struct trace tr[MAX_TRACE];
	unsigned int ntr;

	struct txrec tx[8];
	unsigned int ntx;
	int tx_ret;
	struct rxrec rx[48];
	unsigned int nrx;
	int links[8];
	unsigned int nlinks;
	int ready_err;
	unsigned int ready_calls;
	unsigned int sub_event;
	void *tx_done_cookie;
	bool tx_done_ok;
	unsigned int tx_done_calls;
	bool auto_attach;
};

static struct env E;
static uint64_t gmem[QUEUES][1024];
static uint64_t hmem[QUEUES][1024];
static uint64_t gcmem[8192];

static const uint8_t host_mac[6] = { 0x00, 0x15, 0x5d, 0x01, 0x02, 0x03 };

/* ---- Channel pairs ------------------------------------------------------------- */

static void sig_host(void *ctx)
{
	*(bool *)ctx = true;
}

static void sig_guest(void *ctx)
{
	*(bool *)ctx = true;
}

static uint8_t *ring_base(unsigned int q)
{
	return RAMP(q * 2 * RING_PAGES);
}

static void make_pair(unsigned int q)
{
	struct vmbus_ring g2h_g, h2g_g, g2h_h, h2g_h;
	struct vmbus_channel_config c = { 0 };
	uint8_t *b = ring_base(q);
	size_t data = (RING_PAGES - 1) * 4096;

	ck_assert_int_eq(vmbus_ring_view_contig(&g2h_g, (void *)b, b + 4096, data), 0);
	ck_assert_int_eq(vmbus_ring_view_contig(&h2g_g, (void *)(b + RING_PAGES * 4096),
						b + (RING_PAGES + 1) * 4096, data), 0);
	vmbus_ring_init(&g2h_g, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	vmbus_ring_init(&h2g_g, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	g2h_h = g2h_g;
	h2g_h = h2g_g;
	ck_assert_int_eq(vmbus_ring_attach(&g2h_h), 0);
	ck_assert_int_eq(vmbus_ring_attach(&h2g_h), 0);

	c.send = &g2h_g;
	c.recv = &h2g_g;
	c.signal = sig_host;
	c.signal_ctx = &E.host_sig[q];
	c.max_requests = 300;
	ck_assert_uint_le(vmbus_channel_mem_size(300), sizeof(gmem[q]));
	ck_assert_int_eq(vmbus_channel_init(gmem[q], sizeof(gmem[q]), &c, &E.gch[q]), 0);
	c.send = &h2g_h;
	c.recv = &g2h_h;
	c.signal = sig_guest;
	c.signal_ctx = &E.guest_sig[q];
	c.max_requests = 0;
	ck_assert_int_eq(vmbus_channel_init(hmem[q], sizeof(hmem[q]), &c, &E.hch[q]), 0);
	if (q == 0) {
		E.spy = g2h_g;
		ck_assert_int_eq(vmbus_ring_attach(&E.spy), 0);
	}
}

static int tbl_get(void *ctx, uint32_t id, struct vmbus_gpadl **out)
{
	return vmbus_gpadl_get(ctx, RELID, id, out);
}

static void tbl_put(void *ctx, struct vmbus_gpadl *g)
{
	vmbus_gpadl_put(ctx, g);
}

static void attach_host(unsigned int q)
{
	struct netvsp_channel_config cc = { 0 };

	cc.ch = E.hch[q];
	cc.queue = q;
	cc.gpadl.get = tbl_get;
	cc.gpadl.put = tbl_put;
	cc.gpadl.ctx = E.gt;
	ck_assert_int_eq(netvsp_channel_attach(E.nv, &cc, &E.nch[q]), 0);
}

/* Register a GPADL of npages pages from page first, byte_count bytes. */
static void make_gpadl(uint32_t id, unsigned int first, unsigned int npages, uint32_t bytes)
{
	uint64_t pfns[128];
	struct vmbus_gpadl_build b;
	struct vmbus_gpadl_result res;
	uint8_t buf[VMBUS_MSG_MAX_SIZE];
	unsigned int i;
	int n, len, ret = -1;

	for (i = 0; i < npages; i++)
		pfns[i] = PFN(first + i);
	n = vmbus_gpadl_build_init_single(&b, RELID, id, pfns, 0, bytes);
	ck_assert_int_gt(n, 0);
	for (i = 0; i < (unsigned int)n; i++) {
		len = vmbus_gpadl_build_msg(&b, i, buf, sizeof(buf));
		ck_assert_int_gt(len, 0);
		ret = i == 0 ? vmbus_gpadl_header(E.gt, buf, (size_t)len, &res) :
			       vmbus_gpadl_body(E.gt, buf, (size_t)len, &res);
	}
	ck_assert_int_eq(ret, 0);
}

/* ---- Host hooks ---------------------------------------------------------------- */

static int hook_tx(void *ctx, unsigned int queue, const struct iovec *iov, unsigned int iovcnt,
		   size_t len, const struct rndis_tx_packet *pkt)
{
	struct txrec *t;
	size_t off = 0;
	unsigned int i;

	(void)ctx;
	ck_assert_uint_lt(E.ntx, 8);
	t = &E.tx[E.ntx++];
	t->queue = queue;
	t->len = len;
	t->iovcnt = iovcnt;
	t->pkt = *pkt;
	ck_assert_uint_le(len, sizeof(t->data));
	for (i = 0; i < iovcnt; i++) {
		ck_assert_uint_le(off + iov[i].iov_len, len);
		memcpy(t->data + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	ck_assert_uint_eq(off, len);
	return E.tx_ret;
}

static int bus_offer(void *ctx, unsigned int first, unsigned int count)
{
	unsigned int i;

	(void)ctx;
	for (i = first; i < first + count && i < QUEUES; i++) {
		make_pair(i);
		attach_host(i);
	}
	E.nq = i;
	return (int)(i - first);
}

/* ---- Guest events ---------------------------------------------------------------- */

static void ev_ready(void *ctx, int err)
{
	(void)ctx;
	E.ready_err = err;
	E.ready_calls++;
}

static void ev_sub(void *ctx, unsigned int count)
{
	unsigned int i;

	(void)ctx;
	E.sub_event = count;
	if (!E.auto_attach)
		return;
	/* The host side made the pairs when it offered them. */
	for (i = 1; i <= count; i++)
		ck_assert_int_eq(netvsc_attach_subchannel(E.gc, i, E.gch[i]), 0);
}

static void ev_rx(void *ctx, unsigned int queue, const void *frame, uint32_t len,
		  const struct netvsc_rx_info *info)
{
	struct rxrec *r;

	(void)ctx;
	ck_assert_uint_lt(E.nrx, 48);
	r = &E.rx[E.nrx++];
	r->queue = queue;
	r->len = len;
	r->info = *info;
	ck_assert_uint_le(len, sizeof(r->data));
	memcpy(r->data, frame, len);
}

static void ev_link(void *ctx, bool up)
{
	(void)ctx;
	ck_assert_uint_lt(E.nlinks, 8);
	E.links[E.nlinks++] = up;
}

static void ev_tx_done(void *ctx, void *cookie, bool ok)
{
	(void)ctx;
	E.tx_done_cookie = cookie;
	E.tx_done_ok = ok;
	E.tx_done_calls++;
}

static const struct netvsc_events events = {
	.ready = ev_ready,
	.subchannels = ev_sub,
	.rx = ev_rx,
	.link = ev_link,
	.tx_done = ev_tx_done,
};

/* ---- The spy and the pump ---------------------------------------------------------- */

static void spy_poll(void)
{
	static uint8_t buf[8192];
	struct vmbus_ring_pkt p;

	while (vmbus_ring_peek(&E.spy, &p) == 0) {
		struct trace *t;
		struct nvsp_message m;
		const struct vmpacket_descriptor *d = (const void *)buf;

		ck_assert_uint_le(p.len, sizeof(buf));
		ck_assert_int_eq(vmbus_ring_copy(&E.spy, &p, 0, buf, p.len), 0);
		ck_assert_int_eq(vmbus_ring_advance(&E.spy, &p), 0);
		ck_assert_uint_lt(E.ntr, MAX_TRACE);
		t = &E.tr[E.ntr++];
		memset(t, 0, sizeof(*t));
		t->pkt_type = d->type;
		memset(&m, 0, sizeof(m));
		if (p.len - p.offset >= 4)
			memcpy(&m, buf + p.offset, p.len - p.offset < sizeof(m) ?
				   p.len - p.offset : sizeof(m));
		t->nvsp = m.hdr.msg_type;
		memcpy(&t->a, m.msg.pad, 4);
		memcpy(&t->b, m.msg.pad + 4, 4);
		memcpy(&t->c, m.msg.pad + 8, 8 > 4 ? 4 : 4);
		if (d->type == VM_PKT_DATA_USING_GPA_DIRECT && m.msg.send_rndis_pkt.channel_type == 1) {
			struct vmbus_ring_gpa_iter it;
			struct vmbus_ring_gpa_range r;
			const uint8_t *page;

			ck_assert_int_ge(vmbus_ring_parse_gpa_direct(buf, p.len, &it), 1);
			ck_assert(vmbus_ring_gpa_next(&it, &r));
			page = RAMP(vmbus_ring_gpa_pfn(&r, 0) - PFN(0)) + r.byte_offset;
			memcpy(&t->rndis, page, 4);
			if (t->rndis == RNDIS_MSG_QUERY || t->rndis == RNDIS_MSG_SET)
				memcpy(&t->oid, page + 12, 4);
		}
	}
}

static void pump(void)
{
	unsigned int i, q;
	bool any;

	for (i = 0; i < 10000; i++) {
		any = false;
		spy_poll();
		for (q = 0; q < QUEUES; q++) {
			if (E.host_sig[q] && E.nch[q]) {
				E.host_sig[q] = false;
				ck_assert_int_ge(netvsp_channel_process(E.nch[q], 0), 0);
				any = true;
			}
		}
		for (q = 0; q < QUEUES; q++) {
			if (E.guest_sig[q] && E.gc && (q == 0 || netvsc_num_queues(E.gc) > q ||
						     E.sub_event >= q)) {
				E.guest_sig[q] = false;
				if (netvsc_process(E.gc, q, 0) == -EINVAL)
					E.guest_sig[q] = true;
				else
					any = true;
			}
		}
		if (!any)
			return;
	}
	ck_abort_msg("pump did not settle");
}

/* ---- Setup --------------------------------------------------------------------- */

struct opts {
	uint32_t host_max_version;
	uint16_t host_queues;
	unsigned int guest_queues;
	unsigned int recv_pages;
	uint32_t recv_bytes;		/* 0: recv_pages whole pages */
	uint32_t rx_backlog;
	bool no_guest;
};

static void env_setup(const struct opts *o)
{
	struct netvsp_config nc;
	struct netvsc_config gcfg;
	unsigned int rp = o->recv_pages ? o->recv_pages : 64;

	memset(&E, 0, sizeof(E));
	memset(ram, 0, sizeof(ram));
	E.map = vmbus_gpa_map_new();
	ck_assert_ptr_nonnull(E.map);
	ck_assert_int_eq(vmbus_gpa_map_add(E.map, RAM_GPA, sizeof(ram), ram), 0);
	E.gt = vmbus_gpadl_table_new(E.map, NULL, NULL);
	ck_assert_ptr_nonnull(E.gt);

	memset(&nc, 0, sizeof(nc));
	memcpy(nc.rndis.mac, host_mac, 6);
	nc.rndis.offloads = RNDIS_OFFLOAD_ALL;
	nc.rndis.max_queues = o->host_queues ? o->host_queues : 1;
	nc.frames.tx = hook_tx;
	nc.bus.offer_subchannels = bus_offer;
	nc.map = E.map;
	nc.rx_backlog = o->rx_backlog;
	nc.max_version = o->host_max_version;
	ck_assert_int_eq(netvsp_create(&nc, &E.nv), 0);

	make_pair(0);
	E.nq = 1;
	attach_host(0);
	E.recv_gpadl = 0x100;
	E.send_gpadl = 0x101;
	make_gpadl(E.recv_gpadl, RECV_PAGE, rp, o->recv_bytes ? o->recv_bytes : rp * 4096);
	make_gpadl(E.send_gpadl, SEND_PAGE, SEND_PAGES, SEND_PAGES * 4096);
	E.auto_attach = true;
	if (o->no_guest)
		return;

	memset(&gcfg, 0, sizeof(gcfg));
	gcfg.primary = E.gch[0];
	gcfg.recv_buf = RAMP(RECV_PAGE);
	gcfg.recv_buf_size = o->recv_bytes ? o->recv_bytes : rp * 4096;
	gcfg.recv_gpadl = E.recv_gpadl;
	gcfg.send_buf = RAMP(SEND_PAGE);
	gcfg.send_buf_size = SEND_PAGES * 4096;
	gcfg.send_gpadl = E.send_gpadl;
	gcfg.ctrl_buf = ram[CTRL_PAGE];
	gcfg.ctrl_pfn = PFN(CTRL_PAGE);
	gcfg.queues = o->guest_queues;
	gcfg.events = &events;
	ck_assert_uint_le(netvsc_mem_size(&gcfg), sizeof(gcmem));
	ck_assert_int_eq(netvsc_init(gcmem, sizeof(gcmem), &gcfg, &E.gc), 0);
}

static void env_teardown(void)
{
	netvsp_destroy(E.nv);
	vmbus_gpadl_table_free(E.gt);
	vmbus_gpa_map_free(E.map);
	E.nv = NULL;
}

static void bring_up(const struct opts *o)
{
	env_setup(o);
	ck_assert_int_eq(netvsc_start(E.gc), 0);
	pump();
	ck_assert_uint_eq(E.ready_calls, 1);
	ck_assert_int_eq(E.ready_err, 0);
	ck_assert_int_eq(netvsc_state(E.gc), NETVSC_READY);
}

/* Guest messages of the trace, without the guest's completions. */
static unsigned int requests(struct trace *out, unsigned int max)
{
	unsigned int i, n = 0;

	for (i = 0; i < E.ntr && n < max; i++)
		if (E.tr[i].pkt_type != VM_PKT_COMP)
			out[n++] = E.tr[i];
	return n;
}

/* ---- Raw guest: hand-made NVSP messages on the primary --------------------------------- */

static uint64_t raw_tid = 0x7000;

/* Send an NVSP message of len bytes; answer (if any) into *r, its payload
 * length returned (-1: none). */
static int raw_inband(const void *msg, size_t len, bool want, struct nvsp_message *r)
{
	static uint8_t buf[4096];
	struct vmbus_channel_packet pkt;
	uint64_t tid = ++raw_tid;
	int got = -1;

	ck_assert_int_eq(vmbus_channel_send_inband(E.gch[0], msg, len, tid,
		want ? VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED : 0), 0);
	E.host_sig[0] = false;
	ck_assert_int_ge(netvsp_channel_process(E.nch[0], 0), 0);
	while (vmbus_channel_recv_next(E.gch[0], buf, sizeof(buf), &pkt) == 1) {
		if (pkt.type == VM_PKT_COMP && pkt.trans_id == tid) {
			memset(r, 0, sizeof(*r));
			memcpy(r, pkt.payload, pkt.payload_len < sizeof(*r) ? pkt.payload_len :
									      sizeof(*r));
			got = (int)pkt.payload_len;
		}
	}
	vmbus_channel_recv_end(E.gch[0]);
	E.guest_sig[0] = false;
	return got;
}

static int raw_msg(uint32_t type, const void *body, size_t blen, struct nvsp_message *r)
{
	struct nvsp_message m;

	memset(&m, 0, sizeof(m));
	m.hdr.msg_type = type;
	if (blen)
		memcpy(&m.msg, body, blen);
	return raw_inband(&m, sizeof(m), true, r);
}

static void raw_init(uint32_t ver)
{
	struct nvsp_message_init in = { ver, ver };
	struct nvsp_message r;

	ck_assert_int_eq(raw_msg(NVSP_MSG_TYPE_INIT, &in, sizeof(in), &r), 40);
	ck_assert_uint_eq(r.hdr.msg_type, NVSP_MSG_TYPE_INIT_COMPLETE);
	ck_assert_uint_eq(r.msg.init_complete.status, NVSP_STAT_SUCCESS);
}

static struct netvsp_stats host_stats(unsigned int q)
{
	struct netvsp_stats s;

	ck_assert_int_eq(netvsp_get_stats(E.nv, q, &s), 0);
	return s;
}

/* SEND_RNDIS_PKT on the raw guest: returns the completion status. */
static uint32_t raw_rndis(uint32_t ctype, uint32_t idx, uint32_t size,
			  const struct vmbus_ring_gpa *ranges, uint32_t nranges)
{
	static uint8_t buf[4096];
	struct vmbus_channel_packet pkt;
	struct nvsp_message m;
	uint64_t tid = ++raw_tid;
	uint32_t st = 0xdead;

	memset(&m, 0, sizeof(m));
	m.hdr.msg_type = NVSP_MSG1_TYPE_SEND_RNDIS_PKT;
	m.msg.send_rndis_pkt.channel_type = ctype;
	m.msg.send_rndis_pkt.send_buf_section_index = idx;
	m.msg.send_rndis_pkt.send_buf_section_size = size;
	if (nranges)
		ck_assert_int_eq(vmbus_channel_send_gpa_direct(E.gch[0], ranges, nranges, &m,
			sizeof(m), tid, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED), 0);
	else
		ck_assert_int_eq(vmbus_channel_send_inband(E.gch[0], &m, sizeof(m), tid,
			VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED), 0);
	ck_assert_int_ge(netvsp_channel_process(E.nch[0], 0), 0);
	while (vmbus_channel_recv_next(E.gch[0], buf, sizeof(buf), &pkt) == 1) {
		if (pkt.type == VM_PKT_COMP && pkt.trans_id == tid) {
			ck_assert_uint_eq(pkt.payload_len, 8);
			memcpy(&m, pkt.payload, 8);
			ck_assert_uint_eq(m.hdr.msg_type, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE);
			st = m.msg.send_rndis_pkt_complete.status;
		}
	}
	vmbus_channel_recv_end(E.gch[0]);
	E.guest_sig[0] = false;
	E.host_sig[0] = false;
	return st;
}

/* An Ethernet frame to the host MAC with a recognisable payload. */
static void make_frame(uint8_t *f, size_t len, uint8_t seed, const uint8_t *dst)
{
	size_t i;

	memcpy(f, dst, 6);
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
	f[12] = 0x08;
	f[13] = 0x00;
	for (i = 14; i < len; i++)
		f[i] = (uint8_t)(seed + i * 7);
}

/* ---- Tests: bring-up ----------------------------------------------------------- */

START_TEST(init_sequence)
{
	struct opts o = { 0 };
	struct trace t[40];
	uint32_t sub, count, inuse;
	uint8_t mac[6];
	unsigned int n, i;
	static const uint32_t oids[] = {
		0, OID_GEN_MAXIMUM_FRAME_SIZE, OID_802_3_PERMANENT_ADDRESS,
		OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, OID_TCP_OFFLOAD_PARAMETERS,
		OID_GEN_MEDIA_CONNECT_STATUS, OID_GEN_LINK_SPEED,
		OID_GEN_RECEIVE_SCALE_CAPABILITIES, OID_GEN_CURRENT_PACKET_FILTER,
	};
	static const uint32_t types[] = {
		RNDIS_MSG_INIT, RNDIS_MSG_QUERY, RNDIS_MSG_QUERY, RNDIS_MSG_QUERY,
		RNDIS_MSG_SET, RNDIS_MSG_QUERY, RNDIS_MSG_QUERY, RNDIS_MSG_QUERY,
		RNDIS_MSG_SET,
	};

	bring_up(&o);
	n = requests(t, 40);
	ck_assert_uint_eq(n, 5 + 9);
	ck_assert_uint_eq(t[0].nvsp, NVSP_MSG_TYPE_INIT);
	ck_assert_uint_eq(t[0].a, NVSP_PROTOCOL_VERSION_61);
	ck_assert_uint_eq(t[0].b, NVSP_PROTOCOL_VERSION_61);
	ck_assert_uint_eq(t[1].nvsp, NVSP_MSG2_TYPE_SEND_NDIS_CONFIG);
	ck_assert_uint_eq(t[1].a, 1500 + 14);
	ck_assert_uint_eq(t[2].nvsp, NVSP_MSG1_TYPE_SEND_NDIS_VER);
	ck_assert_uint_eq(t[2].a, 6);
	ck_assert_uint_eq(t[2].b, 30);
	ck_assert_uint_eq(t[3].nvsp, NVSP_MSG1_TYPE_SEND_RECV_BUF);
	ck_assert_uint_eq(t[3].a, E.recv_gpadl);
	ck_assert_uint_eq(t[3].b & 0xffff, NVSP_RECEIVE_BUFFER_ID);
	ck_assert_uint_eq(t[4].nvsp, NVSP_MSG1_TYPE_SEND_SEND_BUF);
	ck_assert_uint_eq(t[4].a, E.send_gpadl);
	for (i = 0; i < 9; i++) {
		ck_assert_uint_eq(t[5 + i].pkt_type, VM_PKT_DATA_USING_GPA_DIRECT);
		ck_assert_uint_eq(t[5 + i].nvsp, NVSP_MSG1_TYPE_SEND_RNDIS_PKT);
		ck_assert_uint_eq(t[5 + i].a, NVSP_CHANNEL_TYPE_CONTROL);
		ck_assert_uint_eq(t[5 + i].b, NVSP_INVALID_SECTION_INDEX);
		ck_assert_uint_eq(t[5 + i].rndis, types[i]);
		if (i)
			ck_assert_uint_eq(t[5 + i].oid, oids[i]);
	}

	/* Host side agrees. */
	ck_assert_uint_eq(netvsp_version(E.nv), NVSP_PROTOCOL_VERSION_61);
	ck_assert_uint_eq(netvsp_ndis_version(E.nv), 0x6001e);
	ck_assert_uint_eq(netvsp_guest_caps(E.nv), NVSP_CAP_IEEE8021Q | NVSP_CAP_SRIOV |
			  NVSP_CAP_TEAMING | NVSP_CAP_RSC);
	netvsp_rx_buffer_info(E.nv, &sub, &count, &inuse);
	ck_assert_uint_ge(sub, 68);
	ck_assert_uint_ge(sub, 1514 + 44);
	ck_assert_uint_eq(count, 64 * 4096 / sub);
	ck_assert_uint_eq(inuse, 0);
	ck_assert(rndis_dev_is_initialized(netvsp_rndis(E.nv)));
	ck_assert_uint_eq(rndis_dev_packet_filter(netvsp_rndis(E.nv)),
			  NDIS_PACKET_TYPE_BROADCAST | NDIS_PACKET_TYPE_ALL_MULTICAST |
			  NDIS_PACKET_TYPE_DIRECTED);

	/* What the guest learned. */
	netvsc_get_mac(E.gc, mac);
	ck_assert_mem_eq(mac, host_mac, 6);
	ck_assert_uint_eq(netvsc_mtu(E.gc), 1500);
	ck_assert(netvsc_link_up(E.gc));
	ck_assert_uint_eq(netvsc_link_speed(E.gc), 100000000);	/* 10 Gbit/s in 100 bit/s */
	ck_assert_uint_eq(netvsc_nvsp_version(E.gc), NVSP_PROTOCOL_VERSION_61);
	ck_assert_uint_eq(netvsc_offloads(E.gc) & (NETVSC_OFFLOAD_TCP4_CSUM | NETVSC_OFFLOAD_LSO4),
			  NETVSC_OFFLOAD_TCP4_CSUM | NETVSC_OFFLOAD_LSO4);
	ck_assert_uint_eq(netvsc_offloads(E.gc) & NETVSC_OFFLOAD_IP4_CSUM, 0);
	ck_assert_uint_eq(netvsc_num_queues(E.gc), 1);
	ck_assert_uint_eq(host_stats(0).ctrl_msgs, 9);
	ck_assert_uint_eq(host_stats(0).ctrl_replies, 9);
	ck_assert_uint_eq(host_stats(0).completions, 9);
	ck_assert_int_eq(netvsc_start(E.gc), -EALREADY);
	env_teardown();
}
END_TEST

START_TEST(version_fallback)
{
	struct opts o = { .host_max_version = NVSP_PROTOCOL_VERSION_5 };
	struct trace t[40];
	unsigned int n;

	bring_up(&o);
	n = requests(t, 40);
	ck_assert_uint_ge(n, 5);
	ck_assert_uint_eq(t[0].nvsp, NVSP_MSG_TYPE_INIT);
	ck_assert_uint_eq(t[0].a, NVSP_PROTOCOL_VERSION_61);
	ck_assert_uint_eq(t[1].nvsp, NVSP_MSG_TYPE_INIT);
	ck_assert_uint_eq(t[1].a, NVSP_PROTOCOL_VERSION_6);
	ck_assert_uint_eq(t[2].nvsp, NVSP_MSG_TYPE_INIT);
	ck_assert_uint_eq(t[2].a, NVSP_PROTOCOL_VERSION_5);
	ck_assert_uint_eq(t[3].nvsp, NVSP_MSG2_TYPE_SEND_NDIS_CONFIG);
	ck_assert_uint_eq(host_stats(0).bad_version, 2);
	ck_assert_uint_eq(netvsc_nvsp_version(E.gc), NVSP_PROTOCOL_VERSION_5);
	ck_assert_uint_eq(netvsp_ndis_version(E.nv), 0x6001e);
	/* No RSC below 6.1. */
	ck_assert_uint_eq(netvsp_guest_caps(E.nv) & NVSP_CAP_RSC, 0);
	env_teardown();

	/* NVSP 4: NDIS 6.1 and no link speed / RSS queries. */
	o.host_max_version = NVSP_PROTOCOL_VERSION_4;
	bring_up(&o);
	ck_assert_uint_eq(netvsp_ndis_version(E.nv), 0x60001);
	ck_assert_uint_eq(netvsc_link_speed(E.gc), 0);
	ck_assert_uint_eq(host_stats(0).ctrl_msgs, 7);
	env_teardown();

	/* NVSP 1: no NDIS_CONFIG at all. */
	o.host_max_version = NVSP_PROTOCOL_VERSION_1;
	bring_up(&o);
	n = requests(t, 40);
	ck_assert_uint_eq(t[5].a, NVSP_PROTOCOL_VERSION_1);
	ck_assert_uint_eq(t[6].nvsp, NVSP_MSG1_TYPE_SEND_NDIS_VER);
	ck_assert_uint_eq(netvsp_guest_caps(E.nv), 0);
	ck_assert_uint_eq(host_stats(0).bad_version, 5);
	env_teardown();
}
END_TEST

START_TEST(no_version_accepted)
{
	struct opts o = { .host_max_version = 1 };	/* below every version */

	env_setup(&o);
	ck_assert_int_eq(netvsc_start(E.gc), 0);
	pump();
	ck_assert_uint_eq(E.ready_calls, 1);
	ck_assert_int_eq(E.ready_err, -EPROTO);
	ck_assert_int_eq(netvsc_state(E.gc), -EPROTO);
	ck_assert_uint_eq(host_stats(0).bad_version, 6);
	env_teardown();
}
END_TEST

/* ---- Tests: frames ------------------------------------------------------------------- */

START_TEST(tx_small_and_large)
{
	struct opts o = { 0 };
	struct netvsc_tx_info ti = { 0 };
	struct netvsc_stats gs;
	uint8_t f[1514];
	uint64_t pfns[4];
	uint8_t *big = RAMP(BIG_PAGE) + 100;
	int cookie;
	unsigned int i;

	bring_up(&o);
	make_frame(f, sizeof(f), 3, host_mac);
	ti.flags = NETVSC_TX_CSUM_TCP | NETVSC_TX_IPV4 | NETVSC_TX_VLAN;
	ti.l4_offset = 34;
	ti.vlan_id = 42;
	ti.vlan_pri = 5;
	ck_assert_int_eq(netvsc_send(E.gc, 0, f, sizeof(f), &ti), 0);
	ck_assert_int_eq(netvsc_send(E.gc, 0, f, 60, NULL), 0);
	pump();
	ck_assert_uint_eq(E.ntx, 2);
	ck_assert_uint_eq(E.tx[0].len, sizeof(f));
	ck_assert_mem_eq(E.tx[0].data, f, sizeof(f));
	ck_assert_uint_eq(E.tx[0].pkt.flags & (RNDIS_TX_CSUM_TCP | RNDIS_TX_IPV4 | RNDIS_TX_VLAN),
			  RNDIS_TX_CSUM_TCP | RNDIS_TX_IPV4 | RNDIS_TX_VLAN);
	ck_assert_uint_eq(E.tx[0].pkt.l4_offset, 34);
	ck_assert_uint_eq(E.tx[0].pkt.vlan_id, 42);
	ck_assert_uint_eq(E.tx[0].pkt.vlan_pri, 5);
	ck_assert_uint_eq(E.tx[1].len, 60);
	ck_assert_mem_eq(E.tx[1].data, f, 60);
	ck_assert_uint_eq(E.tx[1].pkt.flags, 0);
	/* Both completed with success; the sections are free again. */
	netvsc_get_stats(E.gc, &gs);
	ck_assert_uint_eq(gs.tx_frames, 2);
	ck_assert_uint_eq(gs.tx_failed, 0);
	for (i = 0; i < 40; i++) {
		ck_assert_int_eq(netvsc_send(E.gc, 0, f, 100, NULL), 0);
		E.ntx = 0;
		pump();
	}
	ck_assert_int_eq(netvsc_send(E.gc, 0, f, 6144, NULL), -EMSGSIZE);

	/* LSO frame by GPA direct across three pages. */
	E.ntx = 0;
	for (i = 0; i < 9000; i++)
		big[i] = (uint8_t)(i * 13 + 1);
	memcpy(big, host_mac, 6);
	for (i = 0; i < 4; i++)
		pfns[i] = PFN(BIG_PAGE + i);
	memset(&ti, 0, sizeof(ti));
	ti.flags = NETVSC_TX_LSO | NETVSC_TX_IPV4;
	ti.mss = 1448;
	ti.l4_offset = 34;
	ck_assert_int_eq(netvsc_send_gpa(E.gc, 0, pfns, 100, 9000, &ti, &cookie), 0);
	pump();
	ck_assert_uint_eq(E.ntx, 1);
	ck_assert_uint_eq(E.tx[0].len, 9000);
	ck_assert_uint_ge(E.tx[0].iovcnt, 1);
	ck_assert_mem_eq(E.tx[0].data, big, 9000);
	ck_assert_uint_eq(E.tx[0].pkt.flags & RNDIS_TX_LSO, RNDIS_TX_LSO);
	ck_assert_uint_eq(E.tx[0].pkt.mss, 1448);
	ck_assert_uint_eq(E.tx_done_calls, 1);
	ck_assert_ptr_eq(E.tx_done_cookie, &cookie);
	ck_assert(E.tx_done_ok);
	ck_assert_uint_eq(host_stats(0).tx_frames, 43);

	/* A backend refusal is counted; the guest still gets success. */
	E.ntx = 0;
	E.tx_ret = -ENOBUFS;
	ck_assert_int_eq(netvsc_send(E.gc, 0, f, 100, NULL), 0);
	pump();
	ck_assert_uint_eq(host_stats(0).tx_backend_errors, 1);
	netvsc_get_stats(E.gc, &gs);
	ck_assert_uint_eq(gs.tx_failed, 0);
	env_teardown();
}
END_TEST

START_TEST(rx_frames)
{
	struct opts o = { 0 };
	struct rndis_rx_info ri = { 0 };
	uint8_t f[1514], bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t other[6] = { 0x02, 0x99, 0x99, 0x99, 0x99, 0x99 };
	uint32_t inuse;

	bring_up(&o);
	make_frame(f, sizeof(f), 9, host_mac);
	ri.flags = RNDIS_RX_CSUM | RNDIS_RX_VLAN | RNDIS_RX_HASH;
	ri.csum = NDIS_RXCSUM_INFO_TCPCS_OK | NDIS_RXCSUM_INFO_IPCS_OK;
	ri.vlan_id = 7;
	ri.vlan_pri = 3;
	ri.hash = 0x12345678;
	ri.hash_info = NDIS_HASH_FUNCTION_TOEPLITZ | NDIS_HASH_TCP_IPV4;
	ck_assert_int_eq(netvsp_rx(E.nv, 0, f, sizeof(f), &ri), 0);
	netvsp_rx_buffer_info(E.nv, NULL, NULL, &inuse);
	ck_assert_uint_eq(inuse, 1);
	make_frame(f, 64, 1, bc);
	ck_assert_int_eq(netvsp_rx(E.nv, 0, f, 64, NULL), 0);
	/* Not for us: the guest's filter (directed, broadcast, all-multi). */
	make_frame(f, 64, 1, other);
	ck_assert_int_eq(netvsp_rx(E.nv, 0, f, 64, NULL), -EPERM);
	ck_assert_uint_eq(host_stats(0).rx_drop_filtered, 1);
	pump();
	ck_assert_uint_eq(E.nrx, 2);
	make_frame(f, sizeof(f), 9, host_mac);
	ck_assert_uint_eq(E.rx[0].len, sizeof(f));
	ck_assert_mem_eq(E.rx[0].data, f, sizeof(f));
	ck_assert_uint_eq(E.rx[0].info.flags, NETVSC_RX_CSUM | NETVSC_RX_VLAN | NETVSC_RX_HASH);
	ck_assert_uint_eq(E.rx[0].info.csum, ri.csum);
	ck_assert_uint_eq(E.rx[0].info.vlan_id, 7);
	ck_assert_uint_eq(E.rx[0].info.vlan_pri, 3);
	ck_assert_uint_eq(E.rx[0].info.hash, 0x12345678);
	ck_assert_uint_eq(E.rx[0].info.hash_info, ri.hash_info);
	ck_assert_uint_eq(E.rx[1].len, 64);
	ck_assert_uint_eq(E.rx[1].info.flags, 0);
	/* Completions gave the sub-allocations back. */
	netvsp_rx_buffer_info(E.nv, NULL, NULL, &inuse);
	ck_assert_uint_eq(inuse, 0);
	ck_assert_uint_eq(host_stats(0).rx_frames, 2);
	/* Too big for a sub-allocation, and empty. */
	ck_assert_int_eq(netvsp_rx(E.nv, 0, RAMP(BIG_PAGE), 4000, NULL), -EMSGSIZE);
	ck_assert_int_eq(netvsp_rx(E.nv, 0, f, 0, NULL), -EMSGSIZE);
	ck_assert_uint_eq(host_stats(0).rx_drop_too_big, 2);
	env_teardown();
}
END_TEST

START_TEST(rx_exhaustion)
{
	/* Four sub-allocations of 1664 bytes, a backlog of three. */
	struct opts o = { .recv_pages = 2, .rx_backlog = 3 };
	uint8_t f[600], snap[4][700];
	uint32_t sub, count, inuse;
	unsigned int i;

	bring_up(&o);
	netvsp_rx_buffer_info(E.nv, &sub, &count, &inuse);
	ck_assert_uint_eq(count, 4);
	ck_assert_uint_eq(inuse, 0);
	for (i = 0; i < 4; i++) {
		make_frame(f, sizeof(f), (uint8_t)i, host_mac);
		ck_assert_int_eq(netvsp_rx(E.nv, 0, f, sizeof(f), NULL), 0);
	}
	for (i = 0; i < 4; i++)
		memcpy(snap[i], RAMP(RECV_PAGE) + i * sub, sizeof(snap[i]));
	for (i = 4; i < 7; i++) {
		make_frame(f, sizeof(f), (uint8_t)i, host_mac);
		ck_assert_int_eq(netvsp_rx(E.nv, 0, f, sizeof(f), NULL), 1);
	}
	for (i = 7; i < 10; i++) {
		make_frame(f, sizeof(f), (uint8_t)i, host_mac);
		ck_assert_int_eq(netvsp_rx(E.nv, 0, f, sizeof(f), NULL), -EAGAIN);
	}
	ck_assert_uint_eq(netvsp_rx_backlog(E.nv), 3);
	ck_assert_uint_eq(host_stats(0).rx_backlogged, 3);
	ck_assert_uint_eq(host_stats(0).rx_drop_backlog, 3);
	/* Nothing the guest holds was written over. */
	for (i = 0; i < 4; i++)
		ck_assert_mem_eq(snap[i], RAMP(RECV_PAGE) + i * sub, sizeof(snap[i]));
	/* A status indication may still use the reserve. */
	ck_assert_int_eq(netvsp_set_link(E.nv, false), 0);
	ck_assert_uint_eq(netvsp_rx_backlog(E.nv), 4);

	pump();
	ck_assert_uint_eq(E.nrx, 7);
	for (i = 0; i < 7; i++) {
		make_frame(f, sizeof(f), (uint8_t)i, host_mac);
		ck_assert_uint_eq(E.rx[i].len, sizeof(f));
		ck_assert_mem_eq(E.rx[i].data, f, sizeof(f));
	}
	ck_assert_uint_eq(E.nlinks, 1);
	ck_assert_int_eq(E.links[0], 0);
	ck_assert_uint_eq(netvsp_rx_backlog(E.nv), 0);
	netvsp_rx_buffer_info(E.nv, NULL, NULL, &inuse);
	ck_assert_uint_eq(inuse, 0);
	ck_assert_uint_eq(host_stats(0).completions, 9 + 8);
	env_teardown();
}
END_TEST

START_TEST(link_changes)
{
	struct opts o = { 0 };

	bring_up(&o);
	ck_assert(netvsc_link_up(E.gc));
	ck_assert_int_eq(netvsp_set_link(E.nv, false), 0);
	pump();
	ck_assert_uint_eq(E.nlinks, 1);
	ck_assert_int_eq(E.links[0], 0);
	ck_assert(!netvsc_link_up(E.gc));
	ck_assert_int_eq(netvsp_set_link(E.nv, true), 0);
	pump();
	ck_assert_uint_eq(E.nlinks, 2);
	ck_assert_int_eq(E.links[1], 1);
	ck_assert(netvsc_link_up(E.gc));
	env_teardown();

	/* Down before the guest came: it learns it from the query. */
	env_setup(&o);
	ck_assert_int_eq(netvsp_set_link(E.nv, false), 0);
	ck_assert_int_eq(netvsc_start(E.gc), 0);
	pump();
	ck_assert_int_eq(netvsc_state(E.gc), NETVSC_READY);
	ck_assert(!netvsc_link_up(E.gc));
	ck_assert_uint_eq(E.nlinks, 0);
	env_teardown();
}
END_TEST

START_TEST(subchannels_and_rss)
{
	struct opts o = { .host_queues = 4, .guest_queues = 4 };
	struct trace t[60];
	struct rndis_rx_info ri;
	uint8_t f[80];
	unsigned int n, i, want, found = 0;

	bring_up(&o);
	ck_assert_uint_eq(E.sub_event, 3);
	ck_assert_uint_eq(netvsc_num_queues(E.gc), 4);
	ck_assert(rndis_dev_rss_enabled(netvsp_rndis(E.nv)));
	n = requests(t, 60);
	for (i = 0; i < n; i++) {
		if (t[i].nvsp == NVSP_MSG5_TYPE_SUBCHANNEL) {
			ck_assert_uint_eq(t[i].a, NVSP_SUBCHANNEL_ALLOCATE);
			ck_assert_uint_eq(t[i].b, 3);
			found++;
		}
	}
	ck_assert_uint_eq(found, 1);

	/* Guest sends on queue 2. */
	make_frame(f, sizeof(f), 5, host_mac);
	ck_assert_int_eq(netvsc_send(E.gc, 2, f, sizeof(f), NULL), 0);
	pump();
	ck_assert_uint_eq(E.ntx, 1);
	ck_assert_uint_eq(E.tx[0].queue, 2);
	ck_assert_uint_eq(host_stats(2).tx_frames, 1);

	/* A TCP/IPv4 frame lands on the queue RSS picks. */
	memset(f, 0, sizeof(f));
	memcpy(f, host_mac, 6);
	f[12] = 0x08;
	f[14] = 0x45;
	f[16] = 0;
	f[17] = 66;
	f[23] = 6;	/* TCP */
	memcpy(f + 26, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	memcpy(f + 34, "\x30\x39\x00\x50", 4);
	f[46] = 0x50;
	for (i = 0; i < 8; i++) {
		f[29] = (uint8_t)i;
		memset(&ri, 0, sizeof(ri));
		want = rndis_dev_rss_classify(netvsp_rndis(E.nv), f, sizeof(f), &ri);
		ck_assert_uint_eq(ri.flags & RNDIS_RX_HASH, RNDIS_RX_HASH);
		E.nrx = 0;
		ck_assert_int_eq(netvsp_rx(E.nv, NETVSP_RX_QUEUE_AUTO, f, sizeof(f), NULL), 0);
		pump();
		ck_assert_uint_eq(E.nrx, 1);
		ck_assert_uint_eq(E.rx[0].queue, want);
		ck_assert_uint_eq(E.rx[0].info.hash, ri.hash);
	}
	env_teardown();
}
END_TEST

START_TEST(subchannels_declined)
{
	/* Host offers one queue: no SUBCHANNEL request, no RSS. */
	struct opts o = { .host_queues = 1, .guest_queues = 4 };
	struct trace t[60];
	unsigned int n, i;

	bring_up(&o);
	ck_assert_uint_eq(E.sub_event, 0);
	ck_assert_uint_eq(netvsc_num_queues(E.gc), 1);
	n = requests(t, 60);
	for (i = 0; i < n; i++)
		ck_assert_uint_ne(t[i].nvsp, NVSP_MSG5_TYPE_SUBCHANNEL);
	env_teardown();
}
END_TEST

/* ---- Tests: hostile guest ----------------------------------------------------------- */

START_TEST(hostile_before_buffers)
{
	struct opts o = { .no_guest = true };
	struct nvsp_message r;
	struct nvsp_1_message_send_receive_buffer rb = { 0 };
	struct nvsp_message_init bad = { 0x10000, 0x10000 };
	struct nvsp_5_subchannel_request sr = { NVSP_SUBCHANNEL_ALLOCATE, 2 };
	uint32_t t = 200;
	uint8_t two[2] = { 1, 0 };

	env_setup(&o);
	/* Anything but INIT first. */
	ck_assert_uint_eq(raw_rndis(0, NVSP_INVALID_SECTION_INDEX, 0, NULL, 0), NVSP_STAT_FAIL);
	ck_assert_uint_eq(host_stats(0).bad_state, 1);
	rb.gpadl_handle = E.recv_gpadl;
	rb.id = NVSP_RECEIVE_BUFFER_ID;
	ck_assert_int_eq(raw_msg(NVSP_MSG1_TYPE_SEND_RECV_BUF, &rb, sizeof(rb), &r), 40);
	ck_assert_uint_eq(r.hdr.msg_type, NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE);
	ck_assert_uint_eq(r.msg.send_recv_buf_complete.status, NVSP_STAT_FAIL);
	ck_assert_uint_eq(host_stats(0).bad_state, 2);

	/* An unsupported version. */
	ck_assert_int_eq(raw_msg(NVSP_MSG_TYPE_INIT, &bad, sizeof(bad), &r), 40);
	ck_assert_uint_eq(r.msg.init_complete.status, NVSP_STAT_FAIL);
	ck_assert_uint_eq(host_stats(0).bad_version, 1);
	raw_init(NVSP_PROTOCOL_VERSION_4);

	/* SEND_RNDIS_PKT before the buffers exist. */
	ck_assert_uint_eq(raw_rndis(1, NVSP_INVALID_SECTION_INDEX, 0, NULL, 0), NVSP_STAT_FAIL);
	ck_assert_uint_eq(host_stats(0).bad_state, 3);
	/* SUBCHANNEL needs NVSP 5. */
	ck_assert_int_eq(raw_msg(NVSP_MSG5_TYPE_SUBCHANNEL, &sr, sizeof(sr), &r), 40);
	ck_assert_uint_eq(r.hdr.msg_type, NVSP_MSG5_TYPE_SUBCHANNEL);
	ck_assert_uint_eq(r.msg.subchn_comp.status, NVSP_STAT_FAIL);
	ck_assert_uint_eq(host_stats(0).bad_state, 4);

	/* Unknown GPADL. */
	rb.gpadl_handle = 0x999;
	ck_assert_int_eq(raw_msg(NVSP_MSG1_TYPE_SEND_RECV_BUF, &rb, sizeof(rb), &r), 40);
	ck_assert_uint_eq(r.msg.send_recv_buf_complete.status, NVSP_STAT_FAIL);
	ck_assert_uint_eq(host_stats(0).bad_gpadl, 1);
	/* Too small for one sub-allocation. */
	make_gpadl(0x102, RECV_PAGE + 60, 1, 1000);
	rb.gpadl_handle = 0x102;
	ck_assert_int_eq(raw_msg(NVSP_MSG1_TYPE_SEND_RECV_BUF, &rb, sizeof(rb), &r), 40);
	ck_assert_uint_eq(r.msg.send_recv_buf_complete.status, NVSP_STAT_FAIL);
	ck_assert_uint_eq(host_stats(0).bad_gpadl, 2);
	/* Send buffer smaller than a section. */
	ck_assert_int_eq(raw_msg(NVSP_MSG1_TYPE_SEND_SEND_BUF, &rb, sizeof(rb), &r), 40);
	ck_assert_uint_eq(r.hdr.msg_type, NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE);
	ck_assert_uint_eq(r.msg.send_send_buf_complete.status, NVSP_STAT_FAIL);
	ck_assert_uint_eq(host_stats(0).bad_gpadl, 3);

	/* Unknown types and short messages. */
	ck_assert_int_eq(raw_msg(t, NULL, 0, &r), 40);
	ck_assert_uint_eq(r.hdr.msg_type, 200);
	ck_assert_uint_eq(r.msg.send_rndis_pkt_complete.status, NVSP_STAT_FAIL);
	ck_assert_int_eq(raw_msg(NVSP_MSG5_TYPE_OID_QUERY_EX, NULL, 0, &r), 40);
	ck_assert_int_eq(raw_msg(NVSP_MSG_TYPE_INIT_COMPLETE, NULL, 0, &r), 40);
	ck_assert_uint_eq(host_stats(0).bad_type, 3);
	/* The ring pads to 8 bytes, so "short" means shorter than the type
	 * needs: an empty payload, a 4-byte RECV_BUF, a 4-byte SUBCHANNEL. */
	ck_assert_int_eq(raw_inband(two, 0, true, &r), 40);
	ck_assert_uint_eq(r.hdr.msg_type, NVSP_MSG_TYPE_NONE);
	ck_assert_uint_eq(r.msg.send_rndis_pkt_complete.status, NVSP_STAT_FAIL);
	t = NVSP_MSG1_TYPE_SEND_RECV_BUF;
	ck_assert_int_eq(raw_inband(&t, sizeof(t), true, &r), 40);
	ck_assert_uint_eq(r.hdr.msg_type, NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE);
	ck_assert_uint_eq(r.msg.send_recv_buf_complete.status, NVSP_STAT_FAIL);
	t = NVSP_MSG5_TYPE_SUBCHANNEL;
	ck_assert_int_eq(raw_inband(&t, sizeof(t), true, &r), 40);
	ck_assert_uint_eq(r.msg.subchn_comp.status, NVSP_STAT_FAIL);
	ck_assert_uint_eq(host_stats(0).bad_short, 3);
	/* Not asking for an answer gets none, and is still counted. */
	t = NVSP_MSG1_TYPE_SEND_RECV_BUF;
	ck_assert_int_eq(raw_inband(&t, sizeof(t), false, &r), -1);
	ck_assert_uint_eq(host_stats(0).bad_short, 4);
	/* The channel still works. */
	rb.gpadl_handle = E.recv_gpadl;
	ck_assert_int_eq(raw_msg(NVSP_MSG1_TYPE_SEND_RECV_BUF, &rb, sizeof(rb), &r), 40);
	ck_assert_uint_eq(r.msg.send_recv_buf_complete.status, NVSP_STAT_SUCCESS);
	ck_assert_uint_eq(r.msg.send_recv_buf_complete.num_sections, 1);
	/* A second one is out of sequence. */
	ck_assert_int_eq(raw_msg(NVSP_MSG1_TYPE_SEND_RECV_BUF, &rb, sizeof(rb), &r), 40);
	ck_assert_uint_eq(r.msg.send_recv_buf_complete.status, NVSP_STAT_FAIL);
	ck_assert_uint_eq(host_stats(0).bad_state, 5);
	env_teardown();
}
END_TEST

/* A valid RNDIS PACKET with a 60-byte frame at dst. */
static uint32_t put_packet(uint8_t *dst, uint32_t data_offset_adj)
{
	struct rndis_msg_hdr h = { RNDIS_MSG_PACKET, 8 + 36 + 60 };
	struct rndis_packet p = { 0 };

	p.data_offset = 36 + data_offset_adj;
	p.data_len = 60;
	memcpy(dst, &h, sizeof(h));
	memcpy(dst + 8, &p, sizeof(p));
	make_frame(dst + 44, 60, 0, host_mac);
	return h.msg_len;
}

START_TEST(hostile_data)
{
	struct opts o = { 0 };
	struct vmbus_ring_gpa g;
	uint64_t pfns[2];
	uint8_t *sec0 = RAMP(SEND_PAGE);
	uint32_t len;
	struct netvsp_stats before;

	bring_up(&o);
	before = host_stats(0);
	/* A good packet in section 0, then the same shape broken each way. */
	len = put_packet(sec0, 0);
	ck_assert_uint_eq(raw_rndis(0, 0, len, NULL, 0), NVSP_STAT_SUCCESS);
	ck_assert_uint_eq(E.ntx, 1);
	ck_assert_uint_eq(raw_rndis(0, 10, len, NULL, 0), NVSP_STAT_FAIL);	/* past buffer */
	ck_assert_uint_eq(raw_rndis(0, 0xfffffffe, len, NULL, 0), NVSP_STAT_FAIL);
	ck_assert_uint_eq(raw_rndis(0, 0, 6145, NULL, 0), NVSP_STAT_FAIL);	/* past section */
	ck_assert_uint_eq(host_stats(0).bad_section, before.bad_section + 3);
	ck_assert_uint_eq(raw_rndis(2, 0, len, NULL, 0), NVSP_STAT_FAIL);	/* channel type */
	ck_assert_uint_eq(host_stats(0).bad_type, before.bad_type + 1);
	put_packet(sec0, 100);						/* data outside */
	ck_assert_uint_eq(raw_rndis(0, 0, len, NULL, 0), NVSP_STAT_FAIL);
	ck_assert_uint_eq(raw_rndis(0, 0, 20, NULL, 0), NVSP_STAT_FAIL);	/* short */
	ck_assert_uint_eq(host_stats(0).tx_rejected, before.tx_rejected + 2);

	/* GPA direct across two pages that are not neighbours: a good one,
	 * then one with a page outside RAM. */
	{
		uint8_t tmp[128];

		put_packet(tmp, 0);
		memcpy(RAMP(BIG_PAGE) + 4000, tmp, 96);
		memcpy(ram[BIG_PAGE + 2], tmp + 96, len - 96);
	}
	pfns[0] = PFN(BIG_PAGE);
	pfns[1] = PFN(BIG_PAGE + 2);
	g.byte_offset = 4000;
	g.byte_count = len;
	g.pfns = pfns;
	ck_assert_uint_eq(raw_rndis(0, NVSP_INVALID_SECTION_INDEX, 0, &g, 1), NVSP_STAT_SUCCESS);
	ck_assert_uint_eq(E.ntx, 2);
	ck_assert_uint_eq(E.tx[1].len, 60);
	ck_assert_uint_eq(E.tx[1].iovcnt, 2);
	ck_assert_mem_eq(E.tx[1].data, E.tx[0].data, 60);
	pfns[1] = 0x7777777;
	ck_assert_uint_eq(raw_rndis(0, NVSP_INVALID_SECTION_INDEX, 0, &g, 1), NVSP_STAT_FAIL);
	ck_assert_uint_eq(host_stats(0).bad_range, before.bad_range + 1);
	/* A control message too long to be one, and one the device does not
	 * take (a PACKET on the control path). */
	pfns[1] = PFN(BIG_PAGE + 1);
	g.byte_count = NETVSP_MAX_CTRL_MSG + 1;
	g.byte_offset = 0;
	ck_assert_uint_eq(raw_rndis(1, NVSP_INVALID_SECTION_INDEX, 0, &g, 1), NVSP_STAT_FAIL);
	ck_assert_uint_eq(raw_rndis(1, 0, len, NULL, 0), NVSP_STAT_FAIL);
	ck_assert_uint_eq(host_stats(0).bad_ctrl, before.bad_ctrl + 2);
	/* Nothing reached the hook from the bad ones. */
	ck_assert_uint_eq(E.ntx, 2);

	/* Completions of sub-allocations that are not out. */
	ck_assert_int_eq(vmbus_channel_send_comp(E.gch[0], NULL, 0, 9999), 0);
	ck_assert_int_eq(vmbus_channel_send_comp(E.gch[0], NULL, 0, 0), 0);
	ck_assert_int_eq(vmbus_channel_send_comp(E.gch[0], NULL, 0, 1), 0);
	ck_assert_int_ge(netvsp_channel_process(E.nch[0], 0), 0);
	ck_assert_uint_eq(host_stats(0).bad_completion, before.bad_completion + 3);

	/* The NIC still works. */
	pump();
	E.ntx = 0;
	ck_assert_int_eq(netvsc_send(E.gc, 0, RAMP(BIG_PAGE) + 4044, 60, NULL), 0);
	pump();
	ck_assert_uint_eq(E.ntx, 1);
	env_teardown();
}
END_TEST

START_TEST(revoke_and_reopen)
{
	struct opts o = { 0 };
	struct nvsp_1_message_revoke_receive_buffer rv = { NVSP_RECEIVE_BUFFER_ID };
	struct nvsp_message r;
	uint8_t f[64];

	bring_up(&o);
	ck_assert_int_eq(raw_msg(NVSP_MSG1_TYPE_REVOKE_RECV_BUF, &rv, sizeof(rv), &r), 0);
	make_frame(f, sizeof(f), 0, host_mac);
	ck_assert_int_eq(netvsp_rx(E.nv, 0, f, sizeof(f), NULL), -ENOTCONN);
	ck_assert_uint_eq(host_stats(0).rx_drop_not_ready, 1);
	/* The GPADL reference went back: the table lets it go. */
	ck_assert_int_eq(vmbus_gpadl_teardown(E.gt, RELID, E.recv_gpadl), 0);
	ck_assert_int_eq(vmbus_gpadl_teardown(E.gt, RELID, E.send_gpadl), -EBUSY);
	netvsp_channel_detach(E.nch[0]);
	E.nch[0] = NULL;
	ck_assert_int_eq(vmbus_gpadl_teardown(E.gt, RELID, E.send_gpadl), 0);
	ck_assert_uint_eq(netvsp_version(E.nv), 0);
	env_teardown();
}
END_TEST

/* ---- Completions under a full host-to-guest ring --------------------------------- */

#define FLOOD_MAX	6000u

/*
 * A guest that keeps sending SEND_RNDIS_PKT (and now and then an empty-
 * answer SWITCH_DATA_PATH) without reading its receive ring. The host must
 * stop taking packets once it cannot write their completions, not drop
 * them, and deliver every one once the guest reads again, woken only by
 * the guest's pending_send_sz signal.
 */
START_TEST(completions_survive_full_ring)
{
	static uint8_t seen[FLOOD_MAX];
	static uint8_t buf[4096];
	struct opts o = { .no_guest = true };
	struct nvsp_1_message_send_receive_buffer rb = { 0 };
	struct vmbus_channel_packet pkt;
	struct vmbus_channel_stats hs;
	struct nvsp_message m, r;
	unsigned int i, sent = 0, got = 0, empty = 0, wakeups = 0;
	uint64_t base;
	bool stuck = false;
	int ret, n;

	env_setup(&o);
	raw_init(NVSP_PROTOCOL_VERSION_61);
	rb.gpadl_handle = E.recv_gpadl;
	rb.id = NVSP_RECEIVE_BUFFER_ID;
	ck_assert_int_eq(raw_msg(NVSP_MSG1_TYPE_SEND_RECV_BUF, &rb, sizeof(rb), &r), 40);
	ck_assert_uint_eq(r.msg.send_recv_buf_complete.status, NVSP_STAT_SUCCESS);
	memset(seen, 0, sizeof(seen));
	base = raw_tid + 1000;

	for (i = 0; i < 4 * FLOOD_MAX && sent < FLOOD_MAX; i++) {
		memset(&m, 0, sizeof(m));
		if (sent % 7 == 3) {
			m.hdr.msg_type = NVSP_MSG4_TYPE_SWITCH_DATA_PATH;
			m.msg.active_dp.active_datapath = NVSP_DATAPATH_SYNTHETIC;
		} else {
			m.hdr.msg_type = NVSP_MSG1_TYPE_SEND_RNDIS_PKT;
			m.msg.send_rndis_pkt.channel_type = NVSP_CHANNEL_TYPE_DATA;
			m.msg.send_rndis_pkt.send_buf_section_index = NVSP_INVALID_SECTION_INDEX;
		}
		ret = vmbus_channel_send_inband(E.gch[0], &m, sizeof(m), base + sent,
						VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
		if (!ret) {
			sent++;
			continue;
		}
		ck_assert_int_eq(ret, -EAGAIN);
		/* The guest's ring is full: let the host take what it can. */
		E.host_sig[0] = false;
		n = netvsp_channel_process(E.nch[0], 0);
		ck_assert_int_ge(n, 0);
		if (n == 0) {
			stuck = true;
			break;
		}
	}
	/* Both rings filled: far more completions are owed than the
	 * host-to-guest ring holds, and the host stopped reading. */
	ck_assert(stuck);
	ck_assert_uint_gt(sent, (RING_PAGES - 1) * 4096 / 24);
	vmbus_channel_get_stats(E.hch[0], &hs);
	ck_assert_uint_gt(hs.ring_full, 0);
	ck_assert_uint_eq(host_stats(0).ring_errors, 0);
	/* A signal without room changes nothing and loses nothing. */
	ck_assert_int_eq(netvsp_channel_process(E.nch[0], 0), 0);
	ck_assert(!E.host_sig[0]);

	/* The guest reads now; the host runs only when signalled. */
	for (i = 0; i < 100000 && got < sent; i++) {
		while (vmbus_channel_recv_next(E.gch[0], buf, sizeof(buf), &pkt) == 1) {
			uint64_t k = pkt.trans_id - base;

			ck_assert_uint_eq(pkt.type, VM_PKT_COMP);
			ck_assert_uint_lt(k, sent);
			ck_assert_uint_eq(seen[k], 0);
			seen[k] = 1;
			got++;
			if (k % 7 == 3) {
				ck_assert_uint_eq(pkt.payload_len, 0);
				empty++;
				continue;
			}
			ck_assert_uint_eq(pkt.payload_len, 8);
			memcpy(&r, pkt.payload, 8);
			ck_assert_uint_eq(r.hdr.msg_type, NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE);
			ck_assert_uint_eq(r.msg.send_rndis_pkt_complete.status, NVSP_STAT_SUCCESS);
		}
		ck_assert_int_eq(vmbus_channel_recv_end(E.gch[0]), 0);
		if (!E.host_sig[0])
			break;
		E.host_sig[0] = false;
		wakeups++;
		ck_assert_int_ge(netvsp_channel_process(E.nch[0], 0), 0);
	}
	ck_assert_uint_eq(got, sent);
	ck_assert_uint_eq(empty, (sent + 3) / 7);
	ck_assert_uint_gt(wakeups, 0);
	ck_assert_uint_eq(host_stats(0).ring_errors, 0);
	ck_assert_uint_eq(host_stats(0).bad_type + host_stats(0).bad_state, 0);
	ck_assert_int_eq(vmbus_channel_recv_next(E.gch[0], buf, sizeof(buf), &pkt), 0);
	/* And the channel still answers. */
	ck_assert_uint_eq(raw_rndis(NVSP_CHANNEL_TYPE_DATA, NVSP_INVALID_SECTION_INDEX, 0,
				    NULL, 0), NVSP_STAT_SUCCESS);
	env_teardown();
}
END_TEST

/* ---- Through the real bus server and client --------------------------------------- */

#define SQ_LEN 64

struct srv_env {
	struct vmbus_server *srv;
	struct vmbus_client *cl;
	uint8_t q[SQ_LEN][VMBUS_MSG_MAX_SIZE];
	uint32_t qlen[SQ_LEN];
	unsigned int qh, qt;
	uint32_t relid[QUEUES], conn[QUEUES];
	unsigned int noffers;
	int done_calls, done_err;
	bool host_kick[QUEUES];
	struct netvsp_channel *kicked[QUEUES];
};

static struct srv_env S;
static uint64_t climem[4096];

static int s_send_message(void *opaque, uint32_t vp, uint32_t sint, const void *data,
			  uint32_t len)
{
	(void)opaque;
	(void)vp;
	(void)sint;
	ck_assert_uint_lt(S.qt - S.qh, SQ_LEN);
	memcpy(S.q[S.qt % SQ_LEN], data, len);
	S.qlen[S.qt % SQ_LEN] = len;
	S.qt++;
	return 0;
}

static int s_signal_guest(void *opaque, uint32_t vp, uint32_t relid)
{
	unsigned int i;

	(void)opaque;
	(void)vp;
	for (i = 0; i < QUEUES; i++)
		if (S.relid[i] == relid)
			E.guest_sig[i] = true;
	return 0;
}

static uint16_t c_post(void *ctx, uint32_t conn_id, uint32_t type, const void *payload,
		       uint32_t size)
{
	(void)ctx;
	(void)type;
	vmbus_server_handle_message(S.srv, conn_id, payload, size);
	return HV_STATUS_SUCCESS;
}

static uint16_t c_signal(void *ctx, uint32_t conn_id, uint16_t flag)
{
	(void)ctx;
	(void)flag;
	return vmbus_server_signal(S.srv, conn_id) ? HV_STATUS_INVALID_CONNECTION_ID :
						     HV_STATUS_SUCCESS;
}

static const struct vmbus_hv_guest_ops c_ops = {
	.post_message = c_post,
	.signal_event = c_signal,
};

static void s_pump_bus(void)
{
	while (S.qh != S.qt) {
		unsigned int i = S.qh++ % SQ_LEN;

		vmbus_client_handle_message(S.cl, S.q[i], S.qlen[i]);
	}
}

static void c_offer(void *ctx, const struct vmbus_msg_offer *o)
{
	(void)ctx;
	ck_assert_uint_lt(o->sub_channel_index, QUEUES);
	S.relid[o->sub_channel_index] = o->child_relid;
	S.conn[o->sub_channel_index] = o->connection_id;
	S.noffers++;
}

static const struct vmbus_client_events c_events = { .offer = c_offer };

static void c_done(void *arg, int err)
{
	(void)arg;
	S.done_calls++;
	S.done_err = err;
}

static void s_kick(void *ctx, struct netvsp_channel *c)
{
	(void)ctx;
	S.host_kick[netvsp_channel_queue(c)] = true;
	S.kicked[netvsp_channel_queue(c)] = c;
}

static void c_sig(void *ctx)
{
	unsigned int q = (unsigned int)(uintptr_t)ctx;

	ck_assert_uint_eq(c_signal(NULL, S.conn[q], 0), HV_STATUS_SUCCESS);
}

/* Open queue q through the client: rings at SRV_RING_PAGE + 8 q. */
static void s_open(unsigned int q)
{
	static uint64_t pfns[QUEUES][8];
	struct vmbus_client_open_params op = { 0 };
	struct vmbus_ring gs, gr;
	struct vmbus_channel_config cc = { 0 };
	unsigned int base = SRV_RING_PAGE + 8 * q, i;

	ck_assert_int_eq(vmbus_ring_view_contig(&gs, (void *)ram[base], ram[base + 1], 3 * 4096), 0);
	ck_assert_int_eq(vmbus_ring_view_contig(&gr, (void *)ram[base + 4], ram[base + 5],
						3 * 4096), 0);
	vmbus_ring_init(&gs, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	vmbus_ring_init(&gr, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	for (i = 0; i < 8; i++)
		pfns[q][i] = PFN(base + i);
	op.pfns = pfns[q];
	op.page_count = 8;
	op.downstream_page_offset = 4;
	S.done_calls = 0;
	ck_assert_int_eq(vmbus_client_open(S.cl, S.relid[q], &op, c_done, NULL), 0);
	s_pump_bus();
	ck_assert_int_eq(S.done_calls, 1);
	ck_assert_int_eq(S.done_err, 0);
	cc.send = &gs;
	cc.recv = &gr;
	cc.signal = c_sig;
	cc.signal_ctx = (void *)(uintptr_t)q;
	cc.max_requests = 300;
	ck_assert_int_eq(vmbus_channel_init(gmem[q], sizeof(gmem[q]), &cc, &E.gch[q]), 0);
}

static uint32_t s_gpadl(unsigned int first, unsigned int pages)
{
	static uint64_t pfns[2][64];
	static unsigned int which;
	struct vmbus_gpadl_build_range r;
	uint64_t *p = pfns[which++ % 2];
	uint32_t id;
	unsigned int i;

	for (i = 0; i < pages; i++)
		p[i] = PFN(first + i);
	r.byte_offset = 0;
	r.byte_count = pages * 4096;
	r.pfns = p;
	S.done_calls = 0;
	ck_assert_int_eq(vmbus_client_gpadl_create(S.cl, S.relid[0], &r, 1, &id, c_done, NULL), 0);
	s_pump_bus();
	ck_assert_int_eq(S.done_calls, 1);
	ck_assert_int_eq(S.done_err, 0);
	return id;
}

static void s_ev_sub(void *ctx, unsigned int count)
{
	unsigned int i;

	(void)ctx;
	E.sub_event = count;
	s_pump_bus();	/* the subchannel offers */
	for (i = 1; i <= count; i++) {
		s_open(i);
		ck_assert_int_eq(netvsc_attach_subchannel(E.gc, i, E.gch[i]), 0);
	}
}

static const struct netvsc_events s_events = {
	.ready = ev_ready,
	.subchannels = s_ev_sub,
	.rx = ev_rx,
	.link = ev_link,
};

static void s_pump(void)
{
	unsigned int i, q;
	bool any;

	for (i = 0; i < 10000; i++) {
		any = false;
		for (q = 0; q < QUEUES; q++) {
			if (S.host_kick[q]) {
				S.host_kick[q] = false;
				ck_assert_int_ge(netvsp_channel_process(S.kicked[q], 0), 0);
				any = true;
			}
			if (E.guest_sig[q] && E.gch[q] && (q == 0 || E.sub_event >= q)) {
				E.guest_sig[q] = false;
				ck_assert_int_ge(netvsc_process(E.gc, q, 0), 0);
				any = true;
			}
		}
		if (!any)
			return;
	}
	ck_abort_msg("server pump did not settle");
}

START_TEST(through_server)
{
	struct vmbus_server_ops sops = {
		.send_message = s_send_message,
		.signal_guest = s_signal_guest,
	};
	struct vmbus_client_config ccfg = { 0 };
	struct vmbus_client_connect_params cp = { 0 };
	struct netvsp_server_config scfg = { 0 };
	struct netvsp_config nc;
	struct netvsc_config gcfg;
	uint8_t f[200];
	uint32_t rg, sg;

	memset(&E, 0, sizeof(E));
	memset(&S, 0, sizeof(S));
	memset(ram, 0, sizeof(ram));
	E.map = vmbus_gpa_map_new();
	ck_assert_int_eq(vmbus_gpa_map_add(E.map, RAM_GPA, sizeof(ram), ram), 0);
	S.srv = vmbus_server_new(&sops, E.map);
	ck_assert_ptr_nonnull(S.srv);

	memset(&nc, 0, sizeof(nc));
	memcpy(nc.rndis.mac, host_mac, 6);
	nc.rndis.max_queues = 3;
	nc.frames.tx = hook_tx;
	nc.map = E.map;
	ck_assert_int_eq(netvsp_create(&nc, &E.nv), 0);
	scfg.instance.b[0] = 0x42;
	scfg.kick = s_kick;
	ck_assert_int_eq(netvsp_server_attach(E.nv, S.srv, &scfg), 0);
	ck_assert_int_eq(netvsp_server_attach(E.nv, S.srv, &scfg), -EBUSY);

	ccfg.hv.ops = &c_ops;
	ccfg.events = &c_events;
	ccfg.max_channels = 8;
	ccfg.max_gpadls = 16;
	ck_assert_uint_le(vmbus_client_mem_size(&ccfg), sizeof(climem));
	ck_assert_int_eq(vmbus_client_init(climem, sizeof(climem), &ccfg, &S.cl), 0);
	ck_assert_int_eq(vmbus_client_connect(S.cl, &cp, c_done, NULL), 0);
	s_pump_bus();
	ck_assert_int_eq(vmbus_client_request_offers(S.cl), 0);
	s_pump_bus();
	ck_assert_uint_eq(S.noffers, 1);
	s_open(0);
	ck_assert_ptr_nonnull(netvsp_get_channel(E.nv, 0));
	rg = s_gpadl(RECV_PAGE, 32);
	sg = s_gpadl(SEND_PAGE, SEND_PAGES);

	memset(&gcfg, 0, sizeof(gcfg));
	gcfg.primary = E.gch[0];
	gcfg.recv_buf = RAMP(RECV_PAGE);
	gcfg.recv_buf_size = 32 * 4096;
	gcfg.recv_gpadl = rg;
	gcfg.send_buf = RAMP(SEND_PAGE);
	gcfg.send_buf_size = SEND_PAGES * 4096;
	gcfg.send_gpadl = sg;
	gcfg.ctrl_buf = ram[CTRL_PAGE];
	gcfg.ctrl_pfn = PFN(CTRL_PAGE);
	gcfg.queues = 4;
	gcfg.events = &s_events;
	ck_assert_int_eq(netvsc_init(gcmem, sizeof(gcmem), &gcfg, &E.gc), 0);
	ck_assert_int_eq(netvsc_start(E.gc), 0);
	s_pump();
	ck_assert_int_eq(netvsc_state(E.gc), NETVSC_READY);
	ck_assert_uint_eq(E.sub_event, 2);
	ck_assert_uint_eq(S.noffers, 3);
	ck_assert_uint_eq(netvsc_num_queues(E.gc), 3);
	ck_assert_ptr_nonnull(netvsp_get_channel(E.nv, 2));

	make_frame(f, sizeof(f), 4, host_mac);
	ck_assert_int_eq(netvsc_send(E.gc, 1, f, sizeof(f), NULL), 0);
	s_pump();
	ck_assert_uint_eq(E.ntx, 1);
	ck_assert_uint_eq(E.tx[0].queue, 1);
	ck_assert_mem_eq(E.tx[0].data, f, sizeof(f));
	ck_assert_int_eq(netvsp_rx(E.nv, 2, f, sizeof(f), NULL), 0);
	s_pump();
	ck_assert_uint_eq(E.nrx, 1);
	ck_assert_uint_eq(E.rx[0].queue, 2);
	ck_assert_mem_eq(E.rx[0].data, f, sizeof(f));

	/* Hot remove closes every channel and puts the buffer GPADLs back. */
	netvsp_server_detach(E.nv);
	ck_assert_ptr_null(netvsp_get_channel(E.nv, 0));
	ck_assert_ptr_null(netvsp_get_channel(E.nv, 2));
	ck_assert_uint_eq(netvsp_version(E.nv), 0);
	netvsp_destroy(E.nv);
	vmbus_server_free(S.srv);
	vmbus_gpa_map_free(E.map);
}
END_TEST

/* ---- Guest-side hostility and API checks ---------------------------------------------- */

START_TEST(guest_api_checks)
{
	struct opts o = { 0 };
	struct netvsc_config gcfg = { 0 };
	uint8_t f[64];

	env_setup(&o);
	ck_assert_int_eq(netvsc_send(E.gc, 0, f, sizeof(f), NULL), -ENOTCONN);
	ck_assert_int_eq(netvsc_attach_subchannel(E.gc, 1, E.gch[0]), -EPROTO);
	ck_assert_int_eq(netvsc_process(E.gc, 5, 0), -EINVAL);
	ck_assert_int_eq(netvsc_init(gcmem, sizeof(gcmem), &gcfg, &E.gc), -EINVAL);
	gcfg.queues = 65;
	ck_assert_uint_eq(netvsc_mem_size(&gcfg), 0);
	env_teardown();
}
END_TEST

START_TEST(guest_hostile_host)
{
	/* A host that answers INIT with a bad receive-buffer reply. */
	struct opts o = { .no_guest = false };
	struct netvsc_config gcfg;
	struct nvsp_message m;
	static uint8_t buf[4096];
	struct vmbus_channel_packet pkt;
	struct vmbus_xfer_page_range r = { 100, 1 << 20 };
	struct netvsc_stats gs;

	env_setup(&o);
	(void)gcfg;
	ck_assert_int_eq(netvsc_start(E.gc), 0);
	/* Answer INIT ourselves on the host end. */
	ck_assert_int_eq(vmbus_channel_recv_next(E.hch[0], buf, sizeof(buf), &pkt), 1);
	vmbus_channel_recv_end(E.hch[0]);
	memset(&m, 0, sizeof(m));
	m.hdr.msg_type = NVSP_MSG_TYPE_INIT_COMPLETE;
	m.msg.init_complete.status = NVSP_STAT_SUCCESS;
	ck_assert_int_eq(vmbus_channel_send_comp(E.hch[0], &m, sizeof(m), pkt.trans_id), 0);
	/* A transfer-page packet pointing outside the receive buffer. */
	memset(&m, 0, sizeof(m));
	m.hdr.msg_type = NVSP_MSG1_TYPE_SEND_RNDIS_PKT;
	ck_assert_int_eq(vmbus_channel_send_xfer(E.hch[0], NVSP_RECEIVE_BUFFER_ID, false, &r, 1,
						 &m, sizeof(m), 77,
						 VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED), 0);
	ck_assert_int_ge(netvsc_process(E.gc, 0, 0), 2);
	/* It was completed with a failure, not read. */
	netvsc_get_stats(E.gc, &gs);
	ck_assert_uint_eq(gs.rx_bad, 1);
	ck_assert_uint_eq(gs.rx_frames, 0);
	/* Then a RECV_BUF_COMPLETE with two sections fails the bring-up. */
	while (vmbus_channel_recv_next(E.hch[0], buf, sizeof(buf), &pkt) == 1) {
		if (pkt.type == VM_PKT_COMP) {
			memcpy(&m, pkt.payload, 8);
			ck_assert_uint_eq(pkt.trans_id, 77);
			ck_assert_uint_eq(m.msg.send_rndis_pkt_complete.status, NVSP_STAT_FAIL);
			continue;
		}
		memcpy(&m, pkt.payload, 4);
		if (m.hdr.msg_type != NVSP_MSG1_TYPE_SEND_RECV_BUF)
			continue;
		memset(&m, 0, sizeof(m));
		m.hdr.msg_type = NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE;
		m.msg.send_recv_buf_complete.status = NVSP_STAT_SUCCESS;
		m.msg.send_recv_buf_complete.num_sections = 2;
		m.msg.send_recv_buf_complete.sections[0].sub_alloc_size = 2048;
		m.msg.send_recv_buf_complete.sections[0].num_sub_allocs = 4;
		ck_assert_int_eq(vmbus_channel_send_comp(E.hch[0], &m, sizeof(m), pkt.trans_id), 0);
	}
	vmbus_channel_recv_end(E.hch[0]);
	ck_assert_int_ge(netvsc_process(E.gc, 0, 0), 1);
	ck_assert_int_eq(netvsc_state(E.gc), -EIO);
	ck_assert_uint_eq(E.ready_calls, 1);
	env_teardown();
}
END_TEST

/*
 * Rewrite the section size of the host's SEND_BUF_COMPLETE in the
 * host-to-guest ring before the guest reads it: the host always offers
 * NETVSP_SEND_SECTION_SIZE, and a real one may offer as little as 68.
 */
static bool patch_send_buf_complete(uint32_t size)
{
	uint8_t *d = ring_base(0) + (RING_PAGES + 1) * 4096;
	size_t n = (RING_PAGES - 1) * 4096, off;
	uint32_t w[3];

	for (off = 0; off + sizeof(w) <= n; off += 4) {
		memcpy(w, d + off, sizeof(w));
		if (w[0] == NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE &&
		    w[1] == NVSP_STAT_SUCCESS && w[2] == NETVSP_SEND_SECTION_SIZE) {
			memcpy(d + off + 8, &size, 4);
			return true;
		}
	}
	return false;
}

START_TEST(tx_header_larger_than_section)
{
	/* One section of NVSP_MIN_SECTION_SIZE bytes, then a guard region:
	 * a header written past the section lands in the guard. */
	struct opts o = { .no_guest = true };
	struct netvsc_config gcfg;
	struct netvsc_tx_info ti = { 0 };
	uint8_t *send = RAMP(SEND_PAGE);
	uint8_t *big = RAMP(BIG_PAGE) + 100;
	uint8_t guard[256];
	uint64_t pfns[1] = { PFN(BIG_PAGE) };
	bool patched = false;
	int cookie;
	unsigned int i;

	env_setup(&o);
	memset(&gcfg, 0, sizeof(gcfg));
	gcfg.primary = E.gch[0];
	gcfg.recv_buf = RAMP(RECV_PAGE);
	gcfg.recv_buf_size = 64 * 4096;
	gcfg.recv_gpadl = E.recv_gpadl;
	gcfg.send_buf = send;
	gcfg.send_buf_size = NVSP_MIN_SECTION_SIZE;
	gcfg.send_gpadl = E.send_gpadl;
	gcfg.ctrl_buf = ram[CTRL_PAGE];
	gcfg.ctrl_pfn = PFN(CTRL_PAGE);
	gcfg.events = &events;
	ck_assert_uint_le(netvsc_mem_size(&gcfg), sizeof(gcmem));
	ck_assert_int_eq(netvsc_init(gcmem, sizeof(gcmem), &gcfg, &E.gc), 0);
	memset(guard, 0xa5, sizeof(guard));
	memcpy(send + NVSP_MIN_SECTION_SIZE, guard, sizeof(guard));

	ck_assert_int_eq(netvsc_start(E.gc), 0);
	for (i = 0; i < 100 && !patched; i++) {
		ck_assert(E.host_sig[0]);
		E.host_sig[0] = false;
		ck_assert_int_ge(netvsp_channel_process(E.nch[0], 0), 0);
		patched = patch_send_buf_complete(NVSP_MIN_SECTION_SIZE);
		if (E.guest_sig[0]) {
			E.guest_sig[0] = false;
			ck_assert_int_ge(netvsc_process(E.gc, 0, 0), 0);
		}
	}
	ck_assert(patched);
	E.guest_sig[0] = true;
	pump();
	ck_assert_uint_eq(E.ready_calls, 1);
	ck_assert_int_eq(E.ready_err, 0);
	ck_assert_int_eq(netvsc_state(E.gc), NETVSC_READY);

	/* VLAN, LSO (which carries the checksum request) and hash: three
	 * per-packet infos, an 80-byte header for a 68-byte section. */
	for (i = 0; i < 1000; i++)
		big[i] = (uint8_t)(i * 11 + 3);
	memcpy(big, host_mac, 6);
	ti.flags = NETVSC_TX_CSUM_TCP | NETVSC_TX_LSO | NETVSC_TX_IPV4 | NETVSC_TX_VLAN |
		   NETVSC_TX_HASH;
	ti.mss = 1448;
	ti.l4_offset = 34;
	ti.vlan_id = 7;
	ti.hash = 0x12345678;
	ck_assert_int_eq(netvsc_send_gpa(E.gc, 0, pfns, 100, 1000, &ti, &cookie), -EMSGSIZE);
	ck_assert_mem_eq(send + NVSP_MIN_SECTION_SIZE, guard, sizeof(guard));
	pump();
	ck_assert_uint_eq(E.ntx, 0);
	ck_assert_uint_eq(E.tx_done_calls, 0);

	/* A header that fits still goes, through the same single section. */
	ck_assert_int_eq(netvsc_send_gpa(E.gc, 0, pfns, 100, 1000, NULL, &cookie), 0);
	ck_assert_mem_eq(send + NVSP_MIN_SECTION_SIZE, guard, sizeof(guard));
	pump();
	ck_assert_uint_eq(E.ntx, 1);
	ck_assert_uint_eq(E.tx[0].len, 1000);
	ck_assert_mem_eq(E.tx[0].data, big, 1000);
	ck_assert_uint_eq(E.tx[0].pkt.flags, 0);
	ck_assert_uint_eq(E.tx_done_calls, 1);
	ck_assert_ptr_eq(E.tx_done_cookie, &cookie);
	ck_assert(E.tx_done_ok);
	env_teardown();
}
END_TEST

static Suite *netvsp_suite(void)
{
	Suite *s = suite_create("netvsp");
	TCase *tc;

	tc = tcase_create("init");
	tcase_add_test(tc, init_sequence);
	tcase_add_test(tc, version_fallback);
	tcase_add_test(tc, no_version_accepted);
	suite_add_tcase(s, tc);

	tc = tcase_create("frames");
	tcase_add_test(tc, tx_small_and_large);
	tcase_add_test(tc, rx_frames);
	tcase_add_test(tc, rx_exhaustion);
	tcase_add_test(tc, link_changes);
	suite_add_tcase(s, tc);

	tc = tcase_create("queues");
	tcase_add_test(tc, subchannels_and_rss);
	tcase_add_test(tc, subchannels_declined);
	tcase_add_test(tc, through_server);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_test(tc, hostile_before_buffers);
	tcase_add_test(tc, hostile_data);
	tcase_add_test(tc, revoke_and_reopen);
	tcase_add_test(tc, guest_api_checks);
	tcase_add_test(tc, guest_hostile_host);
	tcase_add_test(tc, completions_survive_full_ring);
	tcase_add_test(tc, tx_header_larger_than_section);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(netvsp_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
