/* SPDX-License-Identifier: MIT */
/*
 * Tests for the channel layer (libvmbus/channel.c, channel_host.c): two
 * channel ends over one pair of rings in memory, end A's send ring being
 * end B's receive ring and the other way round. Signalling rules from
 * Linux drivers/hv/ring_buffer.c (PROTOCOL.md §2).
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmbus/channel.h>

#define DATA_MAX	(16 * 4096)

struct test_ring {
	struct vmbus_ring_ctrl ctrl;
	uint8_t data[DATA_MAX];
} __attribute__((aligned(4096)));

static struct test_ring ring_ab, ring_ba;	/* A -> B, B -> A */
static uint64_t mem_a[4096], mem_b[4096];
static struct vmbus_channel *a, *b;

struct sigcount {
	unsigned int n;
};

static struct sigcount sig_a, sig_b;	/* doorbells rung by A (toward B), by B */

static void count_signal(void *ctx)
{
	__atomic_fetch_add(&((struct sigcount *)ctx)->n, 1, __ATOMIC_RELAXED);
}

/* Build both ends; A initialises both rings, B attaches. */
static void make_pair(size_t ab_size, size_t ba_size, unsigned int max_req,
		      vmbus_channel_signal_fn *sig_fn_a, void *sig_ctx_a,
		      vmbus_channel_signal_fn *sig_fn_b, void *sig_ctx_b)
{
	struct vmbus_ring a_send, a_recv, b_send, b_recv;
	struct vmbus_channel_config cfg;

	memset(&ring_ab, 0, sizeof(ring_ab));
	memset(&ring_ba, 0, sizeof(ring_ba));
	ck_assert_int_eq(vmbus_ring_view_contig(&a_send, &ring_ab.ctrl, ring_ab.data, ab_size), 0);
	ck_assert_int_eq(vmbus_ring_view_contig(&a_recv, &ring_ba.ctrl, ring_ba.data, ba_size), 0);
	ck_assert_int_eq(vmbus_ring_view_contig(&b_send, &ring_ba.ctrl, ring_ba.data, ba_size), 0);
	ck_assert_int_eq(vmbus_ring_view_contig(&b_recv, &ring_ab.ctrl, ring_ab.data, ab_size), 0);
	vmbus_ring_init(&a_send, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	vmbus_ring_init(&a_recv, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	ck_assert_int_eq(vmbus_ring_attach(&b_send), 0);
	ck_assert_int_eq(vmbus_ring_attach(&b_recv), 0);

	memset(&cfg, 0, sizeof(cfg));
	cfg.send = &a_send;
	cfg.recv = &a_recv;
	cfg.signal = sig_fn_a;
	cfg.signal_ctx = sig_ctx_a;
	cfg.max_requests = max_req;
	ck_assert_uint_le(vmbus_channel_mem_size(max_req), sizeof(mem_a));
	ck_assert_int_eq(vmbus_channel_init(mem_a, sizeof(mem_a), &cfg, &a), 0);
	cfg.send = &b_send;
	cfg.recv = &b_recv;
	cfg.signal = sig_fn_b;
	cfg.signal_ctx = sig_ctx_b;
	ck_assert_int_eq(vmbus_channel_init(mem_b, sizeof(mem_b), &cfg, &b), 0);
}

static void setup(void)
{
	sig_a.n = sig_b.n = 0;
	make_pair(4 * 4096, 4 * 4096, 8, count_signal, &sig_a, count_signal, &sig_b);
}

/* ---- Packet collection ---------------------------------------------------------- */

#define MAX_SEEN 64

struct seen {
	unsigned int n;
	struct {
		uint16_t type;
		uint16_t flags;
		uint64_t trans_id;
		uint32_t len;
		uint32_t payload_len;
		uint8_t bytes[1024];	/* the whole packet */
		void *cookie;
		int comp_status;
	} p[MAX_SEEN];
	unsigned int stop_after;	/* 0: never */
};

static int collect(void *ctx, const struct vmbus_channel_packet *pkt)
{
	struct seen *s = ctx;

	ck_assert_uint_lt(s->n, MAX_SEEN);
	s->p[s->n].type = pkt->type;
	s->p[s->n].flags = pkt->flags;
	s->p[s->n].trans_id = pkt->trans_id;
	s->p[s->n].len = pkt->len;
	s->p[s->n].payload_len = pkt->payload_len;
	s->p[s->n].cookie = pkt->cookie;
	s->p[s->n].comp_status = pkt->comp_status;
	ck_assert_uint_le(pkt->len, sizeof(s->p[0].bytes));
	ck_assert_ptr_eq((const uint8_t *)pkt->payload,
			 (const uint8_t *)pkt->data + (pkt->len - pkt->payload_len));
	memcpy(s->p[s->n].bytes, pkt->data, pkt->len);
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

static uint8_t rxbuf[DATA_MAX];

/* ---- Tests ---------------------------------------------------------------------- */

START_TEST(init_checks)
{
	struct vmbus_channel_config cfg;
	struct vmbus_channel *c;
	struct vmbus_ring r;

	ck_assert_int_eq(vmbus_ring_view_contig(&r, &ring_ab.ctrl, ring_ab.data, 4096), 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.send = &r;
	cfg.recv = &r;
	ck_assert_int_eq(vmbus_channel_init(mem_a, sizeof(mem_a), &cfg, &c), -EINVAL);
	cfg.signal = count_signal;
	ck_assert_int_eq(vmbus_channel_init(mem_a, 8, &cfg, &c), -ENOSPC);
	ck_assert_int_eq(vmbus_channel_init((uint8_t *)mem_a + 1, sizeof(mem_a) - 8,
					    &cfg, &c), -EINVAL);
	ck_assert_uint_eq(vmbus_channel_mem_size(70000), 0);
	ck_assert_uint_gt(vmbus_channel_mem_size(16), vmbus_channel_mem_size(0));
}
END_TEST

START_TEST(inband_and_signalling)
{
	struct seen s = { 0 };
	struct vmbus_channel_stats st;

	ck_assert_int_eq(vmbus_channel_send_inband(a, "hello", 5, 0x1234, 0), 0);
	ck_assert_uint_eq(sig_a.n, 1);		/* empty -> non-empty */
	ck_assert_int_eq(vmbus_channel_send_inband(a, "world!!!", 8, 0x99,
						   VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED), 0);
	ck_assert_uint_eq(sig_a.n, 1);		/* was not empty */

	ck_assert_int_eq(vmbus_channel_recv_batch(b, rxbuf, sizeof(rxbuf), 0, collect, &s), 2);
	ck_assert_uint_eq(s.n, 2);
	ck_assert_uint_eq(s.p[0].type, VM_PKT_DATA_INBAND);
	ck_assert_uint_eq(s.p[0].trans_id, 0x1234);
	ck_assert_uint_eq(s.p[0].len, 24);
	ck_assert_uint_eq(s.p[0].payload_len, 8);	/* padded */
	ck_assert_mem_eq(s.p[0].bytes + 16, "hello", 5);
	ck_assert_uint_eq(s.p[1].flags, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
	ck_assert_mem_eq(s.p[1].bytes + 16, "world!!!", 8);
	ck_assert_uint_eq(sig_b.n, 0);		/* A never waited for room */

	/* Empty again: the next packet signals. */
	ck_assert_int_eq(vmbus_channel_recv_batch(b, rxbuf, sizeof(rxbuf), 0, collect, &s), 0);
	ck_assert_int_eq(vmbus_channel_send_inband(a, "x", 1, 1, 0), 0);
	ck_assert_uint_eq(sig_a.n, 2);
	vmbus_channel_get_stats(a, &st);
	ck_assert_uint_eq(st.signals, 2);
	ck_assert_uint_eq(st.packets_sent, 3);
	vmbus_channel_get_stats(b, &st);
	ck_assert_uint_eq(st.packets_received, 2);
}
END_TEST

START_TEST(no_signal_while_masked)
{
	struct seen s = { 0 };

	vmbus_channel_mask(b);
	ck_assert_uint_eq(ring_ab.ctrl.interrupt_mask, 1);
	ck_assert_int_eq(vmbus_channel_send_inband(a, "m", 1, 1, 0), 0);
	ck_assert_uint_eq(sig_a.n, 0);
	/* Unmask finds the packet that came without a signal. */
	ck_assert(vmbus_channel_unmask(b));
	ck_assert_int_eq(vmbus_channel_recv_batch(b, rxbuf, sizeof(rxbuf), 0, collect, &s), 1);
	ck_assert(!vmbus_channel_unmask(b));
	ck_assert_int_eq(vmbus_channel_send_inband(a, "n", 1, 2, 0), 0);
	ck_assert_uint_eq(sig_a.n, 1);
}
END_TEST

START_TEST(gpa_direct)
{
	static const uint64_t p1[] = { 0x1000, 0x1001 };
	static const uint64_t p2[] = { 0x77777 };
	const struct vmbus_ring_gpa ranges[] = {
		{ .byte_count = 5000, .byte_offset = 100, .pfns = p1 },
		{ .byte_count = 512, .byte_offset = 0, .pfns = p2 },
	};
	struct vmbus_ring_gpa_iter it;
	struct vmbus_ring_gpa_range rg;
	struct seen s = { 0 };

	ck_assert_int_eq(vmbus_channel_send_gpa_direct(a, ranges, 2, "srb-data", 8, 42,
						       VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED), 0);
	ck_assert_uint_eq(sig_a.n, 1);
	ck_assert_int_eq(vmbus_channel_recv_batch(b, rxbuf, sizeof(rxbuf), 0, collect, &s), 1);
	ck_assert_uint_eq(s.p[0].type, VM_PKT_DATA_USING_GPA_DIRECT);
	ck_assert_uint_eq(s.p[0].trans_id, 42);
	ck_assert_int_eq(vmbus_ring_parse_gpa_direct(s.p[0].bytes, s.p[0].len, &it), 2);
	ck_assert(vmbus_ring_gpa_next(&it, &rg));
	ck_assert_uint_eq(rg.byte_count, 5000);
	ck_assert_uint_eq(rg.byte_offset, 100);
	ck_assert_uint_eq(rg.pfn_count, 2);
	ck_assert_uint_eq(vmbus_ring_gpa_pfn(&rg, 1), 0x1001);
	ck_assert(vmbus_ring_gpa_next(&it, &rg));
	ck_assert_uint_eq(vmbus_ring_gpa_pfn(&rg, 0), 0x77777);
	ck_assert(!vmbus_ring_gpa_next(&it, &rg));
	ck_assert_mem_eq(it.payload, "srb-data", 8);
	ck_assert_mem_eq(s.p[0].bytes + (s.p[0].len - s.p[0].payload_len), "srb-data", 8);
	/* Bad range: refused, nothing written, no signal. */
	{
		const struct vmbus_ring_gpa bad = { 0, 0, p1 };

		ck_assert_int_eq(vmbus_channel_send_gpa_direct(a, &bad, 1, NULL, 0, 1, 0),
				 -EINVAL);
		ck_assert_uint_eq(sig_a.n, 1);
	}
}
END_TEST

START_TEST(xfer_pages)
{
	const struct vmbus_xfer_page_range ranges[] = {
		{ .byte_count = 1514, .byte_offset = 0 },
		{ .byte_count = 60, .byte_offset = 6144 },
	};
	struct vmbus_ring_xfer_iter it;
	struct vmbus_xfer_page_range r;
	struct seen s = { 0 };

	ck_assert_int_eq(vmbus_channel_send_xfer(b, 0xcafe, false, ranges, 2, "rndis", 5, 7,
						 VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED), 0);
	ck_assert_uint_eq(sig_b.n, 1);
	ck_assert_int_eq(vmbus_channel_recv_batch(a, rxbuf, sizeof(rxbuf), 0, collect, &s), 1);
	ck_assert_uint_eq(s.p[0].type, VM_PKT_DATA_USING_XFER_PAGES);
	ck_assert_int_eq(vmbus_ring_parse_xfer(s.p[0].bytes, s.p[0].len, &it), 2);
	ck_assert_uint_eq(it.pageset_id, 0xcafe);
	ck_assert(vmbus_ring_xfer_next(&it, &r));
	ck_assert_uint_eq(r.byte_count, 1514);
	ck_assert(vmbus_ring_xfer_next(&it, &r));
	ck_assert_uint_eq(r.byte_offset, 6144);
	ck_assert(!vmbus_ring_xfer_next(&it, &r));
	/* The guest answers the receive with a completion. */
	ck_assert_int_eq(vmbus_channel_send_comp(a, "ok", 2, 7), 0);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(vmbus_channel_recv_batch(b, rxbuf, sizeof(rxbuf), 0, collect, &s), 1);
	ck_assert_uint_eq(s.p[0].type, VM_PKT_COMP);
	ck_assert_uint_eq(s.p[0].trans_id, 7);
	/* B sent no request: the completion is reported as unknown. */
	ck_assert_int_eq(s.p[0].comp_status, -ENOENT);
	ck_assert_ptr_null(s.p[0].cookie);
}
END_TEST

/* B answers every request packet with a completion carrying its payload. */
static int echo_comp(void *ctx, const struct vmbus_channel_packet *pkt)
{
	struct vmbus_channel *ch = ctx;

	if (pkt->flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED)
		ck_assert_int_eq(vmbus_channel_send_comp(ch, pkt->payload,
							 pkt->payload_len,
							 pkt->trans_id), 0);
	return 0;
}

START_TEST(completions_by_trans_id)
{
	int cookies[8];
	uint64_t tid[8], t;
	struct seen s = { 0 };
	struct vmbus_channel_stats st;
	unsigned int i;

	for (i = 0; i < 8; i++) {
		uint32_t v = i * 11;

		ck_assert_int_eq(vmbus_channel_send_request(a, &v, 4, &cookies[i], &tid[i]), 0);
		ck_assert_uint_ne(tid[i], 0);
		if (i)
			ck_assert_uint_ne(tid[i], tid[i - 1]);
	}
	ck_assert_uint_eq(vmbus_channel_outstanding(a), 8);
	ck_assert_int_eq(vmbus_channel_send_request(a, "x", 1, NULL, &t), -ENOBUFS);

	ck_assert_int_eq(vmbus_channel_recv_batch(b, rxbuf, sizeof(rxbuf), 0, echo_comp, b), 8);
	ck_assert_int_eq(vmbus_channel_recv_batch(a, rxbuf, sizeof(rxbuf), 0, collect, &s), 8);
	for (i = 0; i < 8; i++) {
		uint32_t v;

		ck_assert_uint_eq(s.p[i].type, VM_PKT_COMP);
		ck_assert_int_eq(s.p[i].comp_status, 0);
		ck_assert_ptr_eq(s.p[i].cookie, &cookies[i]);
		memcpy(&v, s.p[i].bytes + 16, 4);
		ck_assert_uint_eq(v, i * 11);
	}
	ck_assert_uint_eq(vmbus_channel_outstanding(a), 0);

	/* Stale, forged and cancelled ids are reported, never matched. */
	ck_assert_int_eq(vmbus_channel_send_request(a, "y", 1, &cookies[0], &t), 0);
	ck_assert_int_eq(vmbus_channel_send_comp(b, NULL, 0, tid[0]), 0);	/* stale */
	ck_assert_int_eq(vmbus_channel_send_comp(b, NULL, 0, t + (1ull << 32)), 0);
	ck_assert_int_eq(vmbus_channel_send_comp(b, NULL, 0, 0), 0);
	ck_assert_int_eq(vmbus_channel_send_comp(b, NULL, 0, 0xffffffffull), 0);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(vmbus_channel_recv_batch(a, rxbuf, sizeof(rxbuf), 0, collect, &s), 4);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(s.p[i].comp_status, -ENOENT);
	ck_assert_uint_eq(vmbus_channel_outstanding(a), 1);
	ck_assert_ptr_eq(vmbus_channel_cancel_request(a, t), &cookies[0]);
	ck_assert_ptr_null(vmbus_channel_cancel_request(a, t));
	ck_assert_int_eq(vmbus_channel_send_comp(b, NULL, 0, t), 0);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(vmbus_channel_recv_batch(a, rxbuf, sizeof(rxbuf), 0, collect, &s), 1);
	ck_assert_int_eq(s.p[0].comp_status, -ENOENT);
	vmbus_channel_get_stats(a, &st);
	ck_assert_uint_eq(st.unknown_completions, 5);
}
END_TEST

START_TEST(request_gpa_completion)
{
	static const uint64_t pfn[] = { 0x4242 };
	const struct vmbus_ring_gpa r = { 4096, 0, pfn };
	struct seen s = { 0 };
	uint64_t t;
	int cookie;

	ck_assert_int_eq(vmbus_channel_send_request_gpa(a, &r, 1, "cdb", 3, &cookie, &t), 0);
	ck_assert_int_eq(vmbus_channel_recv_batch(b, rxbuf, sizeof(rxbuf), 0, collect, &s), 1);
	ck_assert_uint_eq(s.p[0].type, VM_PKT_DATA_USING_GPA_DIRECT);
	ck_assert_uint_eq(s.p[0].flags, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
	ck_assert_uint_eq(s.p[0].trans_id, t);
	ck_assert_int_eq(vmbus_channel_send_comp(b, NULL, 0, t), 0);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(vmbus_channel_recv_batch(a, rxbuf, sizeof(rxbuf), 0, collect, &s), 1);
	ck_assert_ptr_eq(s.p[0].cookie, &cookie);
	/* A failed send frees its slot. */
	{
		const struct vmbus_ring_gpa bad = { 0, 0, pfn };

		ck_assert_int_eq(vmbus_channel_send_request_gpa(a, &bad, 1, NULL, 0,
								&cookie, &t), -EINVAL);
		ck_assert_uint_eq(vmbus_channel_outstanding(a), 0);
	}
}
END_TEST

START_TEST(ring_full_pending_send_sz)
{
	uint8_t big[1000];
	struct seen s = { 0 };
	struct vmbus_channel_stats st;
	unsigned int sent = 0, sig_b_before;
	int ret;

	/* One data page: each packet takes 1024 bytes with its trailer, and
	 * free space must stay above a packet, so three fit. */
	sig_a.n = sig_b.n = 0;
	make_pair(4096, 4096, 8, count_signal, &sig_a, count_signal, &sig_b);
	memset(big, 0xab, sizeof(big));
	while ((ret = vmbus_channel_send_inband(a, big, sizeof(big), sent, 0)) == 0)
		sent++;
	ck_assert_int_eq(ret, -EAGAIN);
	ck_assert_uint_eq(sent, 3);
	ck_assert_uint_eq(ring_ab.ctrl.pending_send_sz, vmbus_ring_pkt_size(16 + 1000));
	vmbus_channel_get_stats(a, &st);
	ck_assert_uint_eq(st.ring_full, 1);

	/* Reading one packet frees enough: the reader signals once. */
	sig_b_before = sig_b.n;
	ck_assert_int_eq(vmbus_channel_recv_batch(b, rxbuf, sizeof(rxbuf), 1, collect, &s), 1);
	ck_assert_uint_eq(sig_b.n, sig_b_before + 1);
	/* Further reads do not signal again: the writer is no longer short. */
	ck_assert_int_eq(vmbus_channel_recv_batch(b, rxbuf, sizeof(rxbuf), 1, collect, &s), 1);
	ck_assert_uint_eq(sig_b.n, sig_b_before + 1);
	ck_assert_int_eq(vmbus_channel_send_inband(a, big, sizeof(big), 99, 0), 0);
	ck_assert_uint_eq(ring_ab.ctrl.pending_send_sz, 0);
	/* A packet larger than the ring can ever hold. */
	ck_assert_int_eq(vmbus_channel_send_inband(a, rxbuf, 5000, 1, 0), -ENOSPC);
}
END_TEST

START_TEST(batch_receive_publishes_once)
{
	struct vmbus_channel_packet pkt;
	struct seen s = { 0 };
	unsigned int i;

	for (i = 0; i < 5; i++)
		ck_assert_int_eq(vmbus_channel_send_inband(a, &i, sizeof(i), i, 0), 0);
	ck_assert_int_eq(vmbus_channel_recv_next(b, rxbuf, sizeof(rxbuf), &pkt), 1);
	ck_assert_uint_eq(pkt.trans_id, 0);
	ck_assert_int_eq(vmbus_channel_recv_next(b, rxbuf, sizeof(rxbuf), &pkt), 1);
	ck_assert_uint_eq(pkt.trans_id, 1);
	/* Nothing published yet. */
	ck_assert_uint_eq(ring_ab.ctrl.read_index, 0);
	ck_assert_int_eq(vmbus_channel_recv_end(b), 0);
	ck_assert_uint_eq(ring_ab.ctrl.read_index, 2 * (16 + 8 + 8));

	ck_assert_int_eq(vmbus_channel_recv_batch(b, rxbuf, sizeof(rxbuf), 2, collect, &s), 2);
	ck_assert_uint_eq(s.p[1].trans_id, 3);
	s.stop_after = 3;
	ck_assert_int_eq(vmbus_channel_recv_batch(b, rxbuf, sizeof(rxbuf), 0, collect, &s), 1);
	ck_assert_int_eq(vmbus_channel_recv_next(b, rxbuf, sizeof(rxbuf), &pkt), 0);

	/* Too small a buffer: the packet stays and says what it needs. */
	ck_assert_int_eq(vmbus_channel_send_inband(a, rxbuf, 100, 77, 0), 0);
	ck_assert_int_eq(vmbus_channel_recv_next(b, rxbuf, 64, &pkt), -ENOBUFS);
	ck_assert_uint_eq(pkt.len, 16 + 104);
	ck_assert_int_eq(vmbus_channel_recv_next(b, rxbuf, sizeof(rxbuf), &pkt), 1);
	ck_assert_uint_eq(pkt.trans_id, 77);
}
END_TEST

START_TEST(process_budget_and_mask)
{
	struct seen s = { 0 };
	unsigned int i;

	for (i = 0; i < 3; i++)
		ck_assert_int_eq(vmbus_channel_send_inband(a, &i, sizeof(i), i, 0), 0);
	ck_assert_int_eq(vmbus_channel_process(b, rxbuf, sizeof(rxbuf), 2, collect, &s), 2);
	ck_assert_uint_eq(ring_ab.ctrl.interrupt_mask, 1);	/* call again */
	ck_assert_int_eq(vmbus_channel_send_inband(a, "q", 1, 3, 0), 0);
	ck_assert_uint_eq(sig_a.n, 1);				/* masked */
	ck_assert_int_eq(vmbus_channel_process(b, rxbuf, sizeof(rxbuf), 0, collect, &s), 2);
	ck_assert_uint_eq(ring_ab.ctrl.interrupt_mask, 0);
	ck_assert_uint_eq(s.n, 4);
	ck_assert_uint_eq(s.p[3].trans_id, 3);
	ck_assert_int_eq(vmbus_channel_send_inband(a, "r", 1, 4, 0), 0);
	ck_assert_uint_eq(sig_a.n, 2);
}
END_TEST

START_TEST(send_batch_signals_once)
{
	struct seen s = { 0 };

	vmbus_channel_send_batch_begin(a);
	ck_assert_int_eq(vmbus_channel_send_inband(a, "1", 1, 1, 0), 0);
	ck_assert_int_eq(vmbus_channel_send_inband(a, "2", 1, 2, 0), 0);
	ck_assert_uint_eq(sig_a.n, 0);
	ck_assert_uint_eq(ring_ab.ctrl.write_index, 0);
	vmbus_channel_send_batch_end(a);
	ck_assert_uint_eq(sig_a.n, 1);
	ck_assert_int_eq(vmbus_channel_recv_batch(b, rxbuf, sizeof(rxbuf), 0, collect, &s), 2);
}
END_TEST

START_TEST(hostile_ring)
{
	struct vmbus_channel_packet pkt;
	struct vmpacket_descriptor d;

	/* A write index that is out of range or not 8-aligned. */
	ring_ab.ctrl.write_index = 4 * 4096 + 8;
	ck_assert_int_lt(vmbus_channel_recv_next(b, rxbuf, sizeof(rxbuf), &pkt), 0);
	ring_ab.ctrl.write_index = 3;
	ck_assert_int_lt(vmbus_channel_recv_next(b, rxbuf, sizeof(rxbuf), &pkt), 0);
	ck_assert_int_lt(vmbus_channel_process(b, rxbuf, sizeof(rxbuf), 0, NULL, NULL), 0);
	ck_assert_uint_eq(ring_ab.ctrl.interrupt_mask, 0);

	/* A descriptor claiming 0 length, and one claiming more than written. */
	memset(&d, 0, sizeof(d));
	d.type = VM_PKT_DATA_INBAND;
	d.offset8 = 2;
	d.len8 = 0;
	memcpy(ring_ab.data, &d, sizeof(d));
	ring_ab.ctrl.write_index = 24;
	ck_assert_int_eq(vmbus_channel_recv_next(b, rxbuf, sizeof(rxbuf), &pkt), -EPROTO);
	d.len8 = 200;
	memcpy(ring_ab.data, &d, sizeof(d));
	ck_assert_int_lt(vmbus_channel_recv_next(b, rxbuf, sizeof(rxbuf), &pkt), 0);
	/* offset8 beyond len8. */
	d.len8 = 2;
	d.offset8 = 3;
	memcpy(ring_ab.data, &d, sizeof(d));
	ck_assert_int_eq(vmbus_channel_recv_next(b, rxbuf, sizeof(rxbuf), &pkt), -EBADMSG);
	/* Nothing was consumed. */
	ck_assert_uint_eq(ring_ab.ctrl.read_index, 0);
	/* A hostile read index on A's send ring. */
	ring_ab.ctrl.read_index = 12345;
	ring_ab.ctrl.write_index = 0;
	ck_assert_int_eq(vmbus_channel_send_inband(a, rxbuf, 3 * 4096, 1, 0), 0);
	ck_assert_int_lt(vmbus_channel_send_inband(a, rxbuf, 3 * 4096, 1, 0), 0);
}
END_TEST

START_TEST(eventfd_notifier)
{
	struct vmbus_channel_notifier n;

	ck_assert_int_eq(vmbus_channel_notifier_open(&n), 0);
	ck_assert_int_ge(vmbus_channel_notifier_fd(&n), 0);
	ck_assert_int_eq(vmbus_channel_notifier_wait(&n, 0), 0);
	ck_assert_int_eq(vmbus_channel_notifier_signal(&n), 0);
	vmbus_channel_notifier_signal_fn(&n);
	ck_assert_int_eq(vmbus_channel_notifier_clear(&n), 2);
	ck_assert_int_eq(vmbus_channel_notifier_clear(&n), 0);
	ck_assert_int_eq(vmbus_channel_notifier_signal(&n), 0);
	ck_assert_int_eq(vmbus_channel_notifier_wait(&n, 1000), 1);
	ck_assert_int_eq(vmbus_channel_notifier_wait(&n, 10), 0);
	vmbus_channel_notifier_close(&n);
	ck_assert_int_eq(vmbus_channel_notifier_fd(&n), -1);
	vmbus_channel_notifier_close(&n);
	ck_assert_int_eq(vmbus_channel_notifier_signal(&n), -EBADF);
}
END_TEST

START_TEST(eventfd_as_doorbell)
{
	struct vmbus_channel_notifier na, nb;
	struct seen s = { 0 };

	ck_assert_int_eq(vmbus_channel_notifier_open(&na), 0);
	ck_assert_int_eq(vmbus_channel_notifier_open(&nb), 0);
	make_pair(4096, 4096, 4, vmbus_channel_notifier_signal_fn, &nb,
		  vmbus_channel_notifier_signal_fn, &na);
	ck_assert_int_eq(vmbus_channel_send_inband(a, "ping", 4, 1, 0), 0);
	ck_assert_int_eq(vmbus_channel_send_inband(a, "ping", 4, 2, 0), 0);
	ck_assert_int_eq(vmbus_channel_notifier_clear(&nb), 1);
	ck_assert_int_eq(vmbus_channel_notifier_clear(&na), 0);
	ck_assert_int_eq(vmbus_channel_process(b, rxbuf, sizeof(rxbuf), 0, collect, &s), 2);
	ck_assert_int_eq(vmbus_channel_send_inband(b, "pong", 4, 1, 0), 0);
	ck_assert_int_eq(vmbus_channel_notifier_wait(&na, 1000), 1);
	vmbus_channel_notifier_close(&na);
	vmbus_channel_notifier_close(&nb);
}
END_TEST

/* ---- Two threads ---------------------------------------------------------------- */

#define ECHO_COUNT	20000u
#define ECHO_PAYLOAD	256u
#define ECHO_WINDOW	32u

struct echo {
	struct vmbus_channel_notifier na, nb;
	unsigned int served;		/* B: requests answered */
	unsigned int done;		/* A: completions matched */
	unsigned int bad;
	int stop;
	int b_error;
	uint8_t rx_a[2 * 4096], rx_b[2 * 4096];
};

static struct echo echo;

static bool deadline_passed(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec - start->tv_sec > 60;
}

static int echo_serve(void *ctx, const struct vmbus_channel_packet *pkt)
{
	struct echo *e = ctx;

	(void)ctx;
	if (pkt->type != VM_PKT_DATA_INBAND ||
	    vmbus_channel_send_comp(b, pkt->payload, pkt->payload_len,
				    pkt->trans_id) != 0) {
		e->b_error = 1;
		return 1;
	}
	e->served++;
	return 0;
}

static void *echo_thread(void *arg)
{
	struct echo *e = arg;
	struct timespec start;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!__atomic_load_n(&e->stop, __ATOMIC_ACQUIRE) && !e->b_error &&
	       !deadline_passed(&start)) {
		n = vmbus_channel_process(b, e->rx_b, sizeof(e->rx_b), 0,
					  echo_serve, e);
		if (n < 0) {
			e->b_error = n;
			break;
		}
		vmbus_channel_notifier_wait(&e->nb, 100);
	}
	return NULL;
}

static int echo_check(void *ctx, const struct vmbus_channel_packet *pkt)
{
	struct echo *e = ctx;
	uint32_t idx;

	if (pkt->type != VM_PKT_COMP || pkt->comp_status != 0 ||
	    pkt->payload_len != ECHO_PAYLOAD) {
		e->bad++;
		return 0;
	}
	memcpy(&idx, pkt->payload, sizeof(idx));
	if ((uintptr_t)pkt->cookie != (uintptr_t)idx + 1)
		e->bad++;
	e->done++;
	return 0;
}

START_TEST(two_thread_echo)
{
	uint8_t msg[ECHO_PAYLOAD];
	struct timespec start;
	pthread_t t;
	uint32_t next = 0;
	unsigned int eagain = 0;
	int ret;

	memset(&echo, 0, sizeof(echo));
	ck_assert_int_eq(vmbus_channel_notifier_open(&echo.na), 0);
	ck_assert_int_eq(vmbus_channel_notifier_open(&echo.nb), 0);
	/* A's ring is smaller than a full window of requests, so A runs
	 * into -EAGAIN and depends on B's pending_send_sz signal. */
	make_pair(2 * 4096, 4 * 4096, ECHO_WINDOW,
		  vmbus_channel_notifier_signal_fn, &echo.nb,
		  vmbus_channel_notifier_signal_fn, &echo.na);
	ck_assert_int_eq(pthread_create(&t, NULL, echo_thread, &echo), 0);

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (echo.done < ECHO_COUNT && !deadline_passed(&start)) {
		while (next < ECHO_COUNT) {
			memset(msg, (int)(next & 0xff), sizeof(msg));
			memcpy(msg, &next, sizeof(next));
			ret = vmbus_channel_send_request(a, msg, sizeof(msg),
							 (void *)((uintptr_t)next + 1),
							 NULL);
			if (ret == -EAGAIN)
				eagain++;
			if (ret)
				break;
			next++;
		}
		ck_assert(ret == 0 || ret == -EAGAIN || ret == -ENOBUFS);
		ck_assert_int_ge(vmbus_channel_process(a, echo.rx_a, sizeof(echo.rx_a), 0,
						       echo_check, &echo), 0);
		if (echo.done < ECHO_COUNT)
			vmbus_channel_notifier_wait(&echo.na, 100);
	}
	__atomic_store_n(&echo.stop, 1, __ATOMIC_RELEASE);
	vmbus_channel_notifier_signal(&echo.nb);
	pthread_join(t, NULL);

	ck_assert_int_eq(echo.b_error, 0);
	ck_assert_uint_eq(echo.done, ECHO_COUNT);
	ck_assert_uint_eq(echo.served, ECHO_COUNT);
	ck_assert_uint_eq(echo.bad, 0);
	ck_assert_uint_eq(vmbus_channel_outstanding(a), 0);
	ck_assert_uint_gt(eagain, 0);
	vmbus_channel_notifier_close(&echo.na);
	vmbus_channel_notifier_close(&echo.nb);
}
END_TEST

static Suite *channel_suite(void)
{
	Suite *s = suite_create("channel");
	TCase *tc;

	tc = tcase_create("packets");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, init_checks);
	tcase_add_test(tc, inband_and_signalling);
	tcase_add_test(tc, no_signal_while_masked);
	tcase_add_test(tc, gpa_direct);
	tcase_add_test(tc, xfer_pages);
	tcase_add_test(tc, completions_by_trans_id);
	tcase_add_test(tc, request_gpa_completion);
	tcase_add_test(tc, ring_full_pending_send_sz);
	tcase_add_test(tc, batch_receive_publishes_once);
	tcase_add_test(tc, process_budget_and_mask);
	tcase_add_test(tc, send_batch_signals_once);
	tcase_add_test(tc, hostile_ring);
	suite_add_tcase(s, tc);

	tc = tcase_create("notify");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, eventfd_notifier);
	tcase_add_test(tc, eventfd_as_doorbell);
	tcase_add_test(tc, two_thread_echo);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(channel_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
