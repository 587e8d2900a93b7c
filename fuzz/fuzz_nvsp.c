/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for netvsp (vsp/netvsp/netvsp.c): a hostile guest drives one
 * NIC through its primary channel with arbitrary NVSP messages (in-band,
 * and SEND_RNDIS_PKT with random section indices and GPA-direct ranges),
 * arbitrary bytes in its send buffer and RAM (so RNDIS control and data
 * messages are fuzzed too), completions with arbitrary transaction ids,
 * frames from the backend and link changes. The frame hook checks that
 * every frame lies inside guest RAM. Formats: include/vmbus/proto/nvsp.h,
 * rndis.h.
 *
 * Input: a sequence of operations, each one opcode byte and its operands;
 * see run_op().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/channel.h>
#include <vmbus/gpa.h>
#include <vmbus/gpadl.h>
#include <vmbus/netvsp.h>
#include <vmbus/ring.h>

#define RAM_PAGES	64
#define RAM_GPA		0x100000ull
#define PFN(i)		((RAM_GPA >> 12) + (i))
#define RING_PAGES	8
#define RECV_PAGE	16
#define SEND_PAGE	24
#define DATA_PAGE	32
#define RELID		1
#define RECV_GPADL	0x10
#define SEND_GPADL	0x11

static uint8_t ram[RAM_PAGES * 4096] __attribute__((aligned(4096)));
static uint64_t gmem[512], hmem[512];

struct fz {
	struct vmbus_gpa_map *map;
	struct vmbus_gpadl_table *gt;
	struct netvsp *nv;
	struct netvsp_channel *nc;
	struct vmbus_channel *g, *h;
	const uint8_t *p;
	size_t left;
};

static void no_signal(void *ctx)
{
	(void)ctx;
}

static int null_tx(void *ctx, unsigned int queue, const struct iovec *iov, unsigned int n,
		   size_t len, const struct rndis_tx_packet *pkt)
{
	size_t sum = 0;
	unsigned int i;

	(void)ctx;
	(void)queue;
	(void)pkt;
	for (i = 0; i < n; i++) {
		const uint8_t *b = iov[i].iov_base;

		if (b < ram || b + iov[i].iov_len > ram + sizeof(ram))
			abort();
		sum += iov[i].iov_len;
	}
	if (sum != len)
		abort();
	return 0;
}

static int tbl_get(void *ctx, uint32_t id, struct vmbus_gpadl **out)
{
	return vmbus_gpadl_get(ctx, RELID, id, out);
}

static void tbl_put(void *ctx, struct vmbus_gpadl *g)
{
	vmbus_gpadl_put(ctx, g);
}

static int gpadl(struct vmbus_gpadl_table *t, uint32_t id, unsigned int first, unsigned int n)
{
	uint64_t pfns[16];
	struct vmbus_gpadl_build b;
	struct vmbus_gpadl_result res;
	uint8_t buf[VMBUS_MSG_MAX_SIZE];
	unsigned int i;
	int len;

	for (i = 0; i < n; i++)
		pfns[i] = PFN(first + i);
	if (vmbus_gpadl_build_init_single(&b, RELID, id, pfns, 0, n * 4096) != 1)
		return -1;
	len = vmbus_gpadl_build_msg(&b, 0, buf, sizeof(buf));
	return len > 0 ? vmbus_gpadl_header(t, buf, (size_t)len, &res) : -1;
}

static int setup(struct fz *f)
{
	struct vmbus_ring gs, gr, hs, hr;
	struct vmbus_channel_config c;
	struct netvsp_config nc;
	struct netvsp_channel_config cc;
	size_t data = (RING_PAGES - 1) * 4096;
	uint8_t *b = ram;

	memset(ram, 0, sizeof(ram));
	f->map = vmbus_gpa_map_new();
	if (!f->map || vmbus_gpa_map_add(f->map, RAM_GPA, sizeof(ram), ram))
		return -1;
	f->gt = vmbus_gpadl_table_new(f->map, NULL, NULL);
	if (!f->gt || gpadl(f->gt, RECV_GPADL, RECV_PAGE, 8) || gpadl(f->gt, SEND_GPADL, SEND_PAGE, 8))
		return -1;
	if (vmbus_ring_view_contig(&gs, (void *)b, b + 4096, data) ||
	    vmbus_ring_view_contig(&gr, (void *)(b + RING_PAGES * 4096),
				   b + (RING_PAGES + 1) * 4096, data))
		return -1;
	vmbus_ring_init(&gs, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	vmbus_ring_init(&gr, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	hs = gr;
	hr = gs;
	if (vmbus_ring_attach(&hs) || vmbus_ring_attach(&hr))
		return -1;
	memset(&c, 0, sizeof(c));
	c.send = &gs;
	c.recv = &gr;
	c.signal = no_signal;
	if (vmbus_channel_init(gmem, sizeof(gmem), &c, &f->g))
		return -1;
	c.send = &hs;
	c.recv = &hr;
	if (vmbus_channel_init(hmem, sizeof(hmem), &c, &f->h))
		return -1;

	memset(&nc, 0, sizeof(nc));
	memcpy(nc.rndis.mac, "\x00\x15\x5d\x00\x00\x01", 6);
	nc.rndis.offloads = RNDIS_OFFLOAD_ALL;
	nc.rndis.max_queues = 4;
	nc.frames.tx = null_tx;
	nc.map = f->map;
	nc.rx_backlog = 4;
	if (netvsp_create(&nc, &f->nv))
		return -1;
	memset(&cc, 0, sizeof(cc));
	cc.ch = f->h;
	cc.gpadl.get = tbl_get;
	cc.gpadl.put = tbl_put;
	cc.gpadl.ctx = f->gt;
	return netvsp_channel_attach(f->nv, &cc, &f->nc);
}

static void teardown(struct fz *f)
{
	netvsp_destroy(f->nv);
	vmbus_gpadl_table_free(f->gt);
	vmbus_gpa_map_free(f->map);
}

static bool take(struct fz *f, void *out, size_t n)
{
	if (f->left < n)
		return false;
	memcpy(out, f->p, n);
	f->p += n;
	f->left -= n;
	return true;
}

/* Read what the host sent; complete transfer-page packets when asked. */
static void drain_guest(struct fz *f, bool complete)
{
	static uint8_t buf[8192];
	struct vmbus_channel_packet pkt;

	while (vmbus_channel_recv_next(f->g, buf, sizeof(buf), &pkt) == 1)
		if (complete && pkt.type == VM_PKT_DATA_USING_XFER_PAGES)
			vmbus_channel_send_comp(f->g, NULL, 0, pkt.trans_id);
	vmbus_channel_recv_end(f->g);
}

static bool run_op(struct fz *f)
{
	uint8_t op, n, flags;
	uint8_t msg[64];
	uint16_t off, v16;
	struct vmbus_ring_gpa r[4];
	uint64_t pfns[4][3];
	unsigned int i, k;

	if (!take(f, &op, 1))
		return false;
	switch (op % 8) {
	case 0:	/* in-band NVSP message: len, flags, bytes */
		if (!take(f, &n, 1) || !take(f, &flags, 1))
			return false;
		n %= sizeof(msg) + 1;
		if (!take(f, msg, n))
			return false;
		vmbus_channel_send_inband(f->g, msg, n, 1000 + op,
					  flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
		break;
	case 1:	/* GPA-direct: 16 NVSP bytes, range count, ranges */
		if (!take(f, msg, 16) || !take(f, &n, 1))
			return false;
		n = (uint8_t)(n % 4 + 1);
		for (i = 0; i < n; i++) {
			uint8_t page;

			if (!take(f, &off, 2) || !take(f, &v16, 2) || !take(f, &page, 1))
				return false;
			r[i].byte_offset = off % 4096;
			r[i].byte_count = (uint32_t)(v16 % 8192) + 1;
			k = (r[i].byte_offset + r[i].byte_count + 4095) / 4096;
			for (uint32_t j = 0; j < k; j++)
				/* Pages past the end of RAM stay outside it. */
				pfns[i][j] = page & 0x80 ? PFN(0) + 0x1000 + page + j :
					     PFN(DATA_PAGE + (page + j) % (RAM_PAGES - DATA_PAGE));
			r[i].pfns = pfns[i];
		}
		vmbus_channel_send_gpa_direct(f->g, r, n, msg, 16, 2000,
					      VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
		break;
	case 2:	/* bytes into the send buffer: offset, len, bytes */
	case 3:	/* bytes into the data pages */
		if (!take(f, &off, 2) || !take(f, &n, 1))
			return false;
		n %= sizeof(msg) + 1;
		if (!take(f, msg, n))
			return false;
		i = op % 8 == 2 ? SEND_PAGE * 4096u + off % (8 * 4096u - 64) :
				  DATA_PAGE * 4096u + (uint32_t)off * 4 % (32 * 4096u - 64);
		memcpy(ram + i, msg, n);
		break;
	case 4:	/* a completion with any transaction id */
		if (!take(f, &v16, 2))
			return false;
		vmbus_channel_send_comp(f->g, NULL, 0, v16 % 64);
		break;
	case 5:	/* a frame from the backend: queue, len */
		if (!take(f, &n, 1) || !take(f, &v16, 2))
			return false;
		netvsp_rx(f->nv, n % 8 == 7 ? NETVSP_RX_QUEUE_AUTO : n % 8, ram + DATA_PAGE * 4096,
			  v16 % 3000, NULL);
		break;
	case 6:
		netvsp_set_link(f->nv, op & 0x80);
		break;
	case 7:
		drain_guest(f, op & 0x80);
		break;
	}
	netvsp_channel_process(f->nc, 0);
	/* Keep the host-to-guest ring from filling for good. */
	if (op & 0x40)
		drain_guest(f, true);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;

	memset(&f, 0, sizeof(f));
	if (setup(&f) == 0) {
		f.p = data;
		f.left = size;
		while (run_op(&f))
			;
	}
	teardown(&f);
	return 0;
}
