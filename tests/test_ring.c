/* SPDX-License-Identifier: MIT */
/*
 * Tests for libvmbus/ring.c: packet round trips of every kind, wrap-around,
 * the never-completely-full rule, batching, signalling decisions, page-list
 * views, a two-thread stress run, and hostile control pages and packets.
 * Layouts from Linux include/linux/hyperv.h and drivers/hv/ring_buffer.c.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmbus/ring.h>

#define GUARD		4096u
#define GUARD_BYTE	0xa5
#define JUNK_BYTE	0xee
#define FEAT		VMBUS_RING_FEAT_PENDING_SEND_SZ

/* Ring memory with guard pages on both sides, and the two sides' views. */
struct tr {
	uint8_t *mem;
	size_t size;
	struct vmbus_ring_ctrl *ctrl;
	uint8_t *data;
	struct vmbus_ring w;	/* writer side */
	struct vmbus_ring r;	/* reader side */
};

static void tr_setup(struct tr *t, size_t size)
{
	t->size = size;
	t->mem = aligned_alloc(4096, 2 * GUARD + HV_PAGE_SIZE + size);
	ck_assert_ptr_nonnull(t->mem);
	memset(t->mem, GUARD_BYTE, GUARD);
	memset(t->mem + GUARD + HV_PAGE_SIZE + size, GUARD_BYTE, GUARD);
	t->ctrl = (struct vmbus_ring_ctrl *)(t->mem + GUARD);
	t->data = t->mem + GUARD + HV_PAGE_SIZE;
	memset(t->ctrl, 0xff, HV_PAGE_SIZE);
	memset(t->data, JUNK_BYTE, size);
	ck_assert_int_eq(vmbus_ring_view_contig(&t->w, t->ctrl, t->data, size), 0);
	vmbus_ring_init(&t->w, FEAT);
	ck_assert_int_eq(vmbus_ring_view_contig(&t->r, t->ctrl, t->data, size), 0);
	ck_assert_int_eq(vmbus_ring_attach(&t->r), 0);
}

static void check_guards(const struct tr *t)
{
	const uint8_t *tail = t->mem + GUARD + HV_PAGE_SIZE + t->size;
	size_t i;

	for (i = 0; i < GUARD; i++) {
		ck_assert_uint_eq(t->mem[i], GUARD_BYTE);
		ck_assert_uint_eq(tail[i], GUARD_BYTE);
	}
}

static void tr_done(struct tr *t)
{
	check_guards(t);
	free(t->mem);
}

/* Place both sides at index idx of a fresh ring, as if idx bytes had
 * already gone through. */
static void tr_move_to(struct tr *t, uint32_t idx)
{
	t->ctrl->write_index = idx;
	t->ctrl->read_index = idx;
	ck_assert_int_eq(vmbus_ring_attach(&t->w), 0);
	ck_assert_int_eq(vmbus_ring_attach(&t->r), 0);
}

static void fill(uint8_t *buf, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 8));
}

static bool same_as_fill(const uint8_t *buf, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != (uint8_t)(seed * 131u + i * 7u + (i >> 8)))
			return false;
	return true;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Write a raw descriptor (as a hostile peer would) at the writer's index
 * and publish write_index = the given value. */
static void put_raw_desc(struct tr *t, uint32_t at, uint16_t type,
			 uint16_t offset8, uint16_t len8)
{
	struct vmpacket_descriptor d = {
		.type = type, .offset8 = offset8, .len8 = len8, .trans_id = 7,
	};

	memcpy(t->data + at, &d, sizeof(d));
}

/* ---- Views, init, attach --------------------------------------------------- */

START_TEST(test_view_args)
{
	static uint8_t data[2 * 4096] __attribute__((aligned(4096)));
	static struct vmbus_ring_ctrl ctrl;
	void *pages[2] = { data, NULL };
	struct vmbus_ring r;

	ck_assert_int_eq(vmbus_ring_view_contig(&r, &ctrl, data, 0), -EINVAL);
	ck_assert_int_eq(vmbus_ring_view_contig(&r, &ctrl, data, 4000), -EINVAL);
	ck_assert_int_eq(vmbus_ring_view_contig(&r, &ctrl, data, 4096 + 8), -EINVAL);
	ck_assert_int_eq(vmbus_ring_view_contig(&r, NULL, data, 4096), -EINVAL);
	ck_assert_int_eq(vmbus_ring_view_contig(&r, &ctrl, data,
			 (size_t)VMBUS_RING_MAX_DATA_SIZE + 4096), -EINVAL);
	ck_assert_int_eq(vmbus_ring_view_pages(&r, &ctrl, pages, 2), -EINVAL);
	ck_assert_int_eq(vmbus_ring_view_pages(&r, &ctrl, pages, 0), -EINVAL);
	ck_assert_int_eq(vmbus_ring_view_pages(&r, &ctrl, pages, 1), 0);
	ck_assert_uint_eq(vmbus_ring_data_size(&r), 4096);
	ck_assert_int_eq(vmbus_ring_view_contig(&r, &ctrl, data, sizeof(data)), 0);
	ck_assert_uint_eq(vmbus_ring_data_size(&r), 8192);
}
END_TEST

START_TEST(test_init_zeroes_control_page)
{
	struct tr t;
	const uint8_t *c;
	size_t i;

	tr_setup(&t, 4096);
	c = (const uint8_t *)t.ctrl;
	ck_assert_uint_eq(t.ctrl->feature_bits, FEAT);
	for (i = 0; i < HV_PAGE_SIZE; i++)
		if (i < 0x40 || i >= 0x44)
			ck_assert_uint_eq(c[i], 0);
	tr_done(&t);
}
END_TEST

START_TEST(test_attach_validates_indices)
{
	struct tr t;
	struct vmbus_ring_pkt pkt;

	tr_setup(&t, 8192);
	t.ctrl->write_index = 8192;
	ck_assert_int_eq(vmbus_ring_attach(&t.r), -ERANGE);
	t.ctrl->write_index = 12;
	ck_assert_int_eq(vmbus_ring_attach(&t.r), -ERANGE);
	t.ctrl->write_index = 0;
	t.ctrl->read_index = 0xfffffff8u;
	ck_assert_int_eq(vmbus_ring_attach(&t.r), -ERANGE);

	/* A ring already in use: both sides continue where it stands. */
	tr_move_to(&t, 8192 - 16);
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, "abc", 3, 1, 0, NULL), 0);
	ck_assert_uint_eq(t.ctrl->write_index, 16);	/* 24 + 8 wrapped */
	ck_assert_uint_eq(get_u64(t.data + 8), (uint64_t)(8192 - 16) << 32);
	ck_assert_int_eq(vmbus_ring_peek(&t.r, &pkt), 0);
	ck_assert_uint_eq(pkt.desc.trans_id, 1);
	tr_done(&t);
}
END_TEST

/* ---- Round trips ---------------------------------------------------------- */

START_TEST(test_inband_roundtrip)
{
	struct tr t;
	struct vmbus_ring_pkt pkt;
	uint8_t payload[5] = { 1, 2, 3, 4, 5 }, out[8];
	bool sig;

	tr_setup(&t, 4096);
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, payload, 5, 0x1122334455667788ull,
			 VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, &sig), 0);
	ck_assert(sig);
	/* 16 + 5 padded to 24, then the trailer. */
	ck_assert_uint_eq(t.ctrl->write_index, 32);
	ck_assert_uint_eq(get_u64(t.data + 24), 0);
	ck_assert_uint_eq(t.data[21], 0);	/* padding zeroed, not junk */
	ck_assert_uint_eq(t.data[23], 0);
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, payload, 3, 9, 0, &sig), 0);
	ck_assert(!sig);
	ck_assert_uint_eq(get_u64(t.data + 32 + 24), (uint64_t)32 << 32);

	ck_assert_int_eq(vmbus_ring_peek(&t.r, &pkt), 0);
	ck_assert_uint_eq(pkt.desc.type, VM_PKT_DATA_INBAND);
	ck_assert_uint_eq(pkt.desc.offset8, 2);
	ck_assert_uint_eq(pkt.desc.len8, 3);
	ck_assert_uint_eq(pkt.desc.flags, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
	ck_assert_uint_eq(pkt.desc.trans_id, 0x1122334455667788ull);
	ck_assert_uint_eq(pkt.len, 24);
	ck_assert_uint_eq(pkt.offset, 16);
	ck_assert_uint_eq(vmbus_ring_pkt_payload_len(&pkt), 8);
	ck_assert_int_eq(vmbus_ring_copy(&t.r, &pkt, pkt.offset, out, 8), 0);
	ck_assert_mem_eq(out, payload, 5);
	ck_assert_uint_eq(out[5] | out[6] | out[7], 0);
	ck_assert_int_eq(vmbus_ring_advance(&t.r, &pkt), 0);
	ck_assert_int_eq(vmbus_ring_peek(&t.r, &pkt), 0);
	ck_assert_uint_eq(pkt.desc.trans_id, 9);
	ck_assert_int_eq(vmbus_ring_advance(&t.r, &pkt), 0);
	ck_assert_int_eq(vmbus_ring_peek(&t.r, &pkt), -EAGAIN);
	ck_assert_int_eq(vmbus_ring_publish(&t.r, &sig), 0);
	ck_assert_uint_eq(t.ctrl->read_index, 64);
	tr_done(&t);
}
END_TEST

START_TEST(test_comp_and_sendv_and_raw)
{
	struct tr t;
	uint8_t buf[128], a[3] = { 'a', 'b', 'c' }, b[10];
	struct vmbus_ring_sg sg[3] = { { a, 3 }, { NULL, 0 }, { b, 10 } };
	struct vmpacket_descriptor d = { .type = VM_PKT_SYNCH, .offset8 = 2,
					 .len8 = 3, .trans_id = 77 };
	struct vmbus_ring_sg raw[2] = { { &d, sizeof(d) }, { "xyzw", 4 } };
	struct vmpacket_descriptor got;
	size_t len;

	tr_setup(&t, 4096);
	fill(b, sizeof(b), 3);
	ck_assert_int_eq(vmbus_ring_send_comp(&t.w, "ok", 2, 42, NULL), 0);
	ck_assert_int_eq(vmbus_ring_sendv(&t.w, VM_PKT_DATA_INBAND, 0, 43, sg, 3, NULL), 0);
	ck_assert_int_eq(vmbus_ring_write(&t.w, raw, 2, NULL), 0);

	ck_assert_int_eq(vmbus_ring_recv(&t.r, buf, sizeof(buf), &len, NULL), 0);
	memcpy(&got, buf, sizeof(got));
	ck_assert_uint_eq(got.type, VM_PKT_COMP);
	ck_assert_uint_eq(got.flags, 0);
	ck_assert_uint_eq(got.trans_id, 42);
	ck_assert_uint_eq(len, 24);
	ck_assert_mem_eq(buf + 16, "ok", 2);

	ck_assert_int_eq(vmbus_ring_recv(&t.r, buf, sizeof(buf), &len, NULL), 0);
	memcpy(&got, buf, sizeof(got));
	ck_assert_uint_eq(got.trans_id, 43);
	ck_assert_uint_eq(got.len8, 4);		/* 16 + 13 -> 32 */
	ck_assert_uint_eq(len, 32);
	ck_assert_mem_eq(buf + 16, a, 3);
	ck_assert_mem_eq(buf + 19, b, 10);

	ck_assert_int_eq(vmbus_ring_recv(&t.r, buf, sizeof(buf), &len, NULL), 0);
	memcpy(&got, buf, sizeof(got));
	ck_assert_uint_eq(got.type, VM_PKT_SYNCH);
	ck_assert_uint_eq(got.trans_id, 77);
	ck_assert_mem_eq(buf + 16, "xyzw", 4);
	ck_assert_int_eq(vmbus_ring_recv(&t.r, buf, sizeof(buf), &len, NULL), -EAGAIN);
	tr_done(&t);
}
END_TEST

START_TEST(test_gpa_direct_roundtrip)
{
	struct tr t;
	uint64_t pfn_a[2] = { 0x1234, 0xabcdef0123ull }, pfn_b[1] = { 0x77 };
	struct vmbus_ring_gpa ranges[2] = {
		{ .byte_count = 8000, .byte_offset = 100, .pfns = pfn_a },
		{ .byte_count = 4096, .byte_offset = 0, .pfns = pfn_b },
	};
	uint8_t payload[40], buf[256];
	struct vmbus_ring_gpa_iter it;
	struct vmbus_ring_gpa_range rg;
	struct vmpacket_descriptor d;
	size_t len;

	tr_setup(&t, 4096);
	fill(payload, sizeof(payload), 9);
	ck_assert_int_eq(vmbus_ring_send_gpa_direct(&t.w, ranges, 2, payload, 40,
			 5, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED, NULL), 0);
	ck_assert_int_eq(vmbus_ring_recv(&t.r, buf, sizeof(buf), &len, NULL), 0);
	memcpy(&d, buf, sizeof(d));
	ck_assert_uint_eq(d.type, VM_PKT_DATA_USING_GPA_DIRECT);
	ck_assert_uint_eq(d.offset8, (24 + 8 + 16 + 8 + 8) / 8);
	ck_assert_uint_eq(d.len8, (64 + 40) / 8);
	ck_assert_uint_eq(len, 104);

	ck_assert_int_eq(vmbus_ring_parse_gpa_direct(buf, len, &it), 2);
	ck_assert(vmbus_ring_gpa_next(&it, &rg));
	ck_assert_uint_eq(rg.byte_count, 8000);
	ck_assert_uint_eq(rg.byte_offset, 100);
	ck_assert_uint_eq(rg.pfn_count, 2);
	ck_assert_uint_eq(vmbus_ring_gpa_pfn(&rg, 0), 0x1234);
	ck_assert_uint_eq(vmbus_ring_gpa_pfn(&rg, 1), 0xabcdef0123ull);
	ck_assert(vmbus_ring_gpa_next(&it, &rg));
	ck_assert_uint_eq(rg.byte_count, 4096);
	ck_assert_uint_eq(rg.pfn_count, 1);
	ck_assert_uint_eq(vmbus_ring_gpa_pfn(&rg, 0), 0x77);
	ck_assert(!vmbus_ring_gpa_next(&it, &rg));
	ck_assert_uint_eq(it.payload_len, 40);
	ck_assert_mem_eq(it.payload, payload, 40);

	/* Caller errors in ranges never reach the ring. */
	ranges[1].byte_offset = 4096;
	ck_assert_int_eq(vmbus_ring_send_gpa_direct(&t.w, ranges, 2, NULL, 0, 5, 0,
			 NULL), -EINVAL);
	ranges[1].byte_offset = 0;
	ranges[1].byte_count = 0;
	ck_assert_int_eq(vmbus_ring_send_gpa_direct(&t.w, ranges, 2, NULL, 0, 5, 0,
			 NULL), -EINVAL);
	ck_assert_uint_eq(t.ctrl->write_index, 112);
	tr_done(&t);
}
END_TEST

START_TEST(test_xfer_roundtrip)
{
	struct tr t;
	struct vmbus_xfer_page_range ranges[3] = {
		{ 1514, 0 }, { 60, 4096 }, { 9000, 8192 },
	};
	struct vmbus_ring_xfer_iter it;
	struct vmbus_xfer_page_range x;
	struct vmpacket_descriptor d;
	uint8_t buf[256];
	size_t len;
	int i;

	tr_setup(&t, 4096);
	ck_assert_int_eq(vmbus_ring_send_xfer(&t.w, 0xcafe, true, ranges, 3,
			 "nvsp-msg", 8, 11, 0, NULL), 0);
	ck_assert_int_eq(vmbus_ring_recv(&t.r, buf, sizeof(buf), &len, NULL), 0);
	memcpy(&d, buf, sizeof(d));
	ck_assert_uint_eq(d.type, VM_PKT_DATA_USING_XFER_PAGES);
	ck_assert_uint_eq(d.offset8, (24 + 24) / 8);
	ck_assert_uint_eq(d.len8, (48 + 8) / 8);
	ck_assert_int_eq(vmbus_ring_parse_xfer(buf, len, &it), 3);
	ck_assert_uint_eq(it.pageset_id, 0xcafe);
	ck_assert(it.sender_owns_set);
	for (i = 0; i < 3; i++) {
		ck_assert(vmbus_ring_xfer_next(&it, &x));
		ck_assert_uint_eq(x.byte_count, ranges[i].byte_count);
		ck_assert_uint_eq(x.byte_offset, ranges[i].byte_offset);
	}
	ck_assert(!vmbus_ring_xfer_next(&it, &x));
	ck_assert_uint_eq(it.payload_len, 8);
	ck_assert_mem_eq(it.payload, "nvsp-msg", 8);
	/* Each parser refuses the other's packet type. */
	ck_assert_int_eq(vmbus_ring_parse_gpa_direct(buf, len, NULL), -EINVAL);
	tr_done(&t);
}
END_TEST

/* ---- Wrap-around ------------------------------------------------------------ */

/* Start one packet at every 8-byte position of the ring, with lengths that
 * put the wrap inside the descriptor, the payload, the padding and the
 * trailer. */
START_TEST(test_wrap_every_alignment)
{
	static const size_t lens[] = { 0, 1, 8, 13, 100, 777 };
	uint8_t in[800], out[1024];
	struct tr t;
	uint32_t at;
	size_t i, len;

	tr_setup(&t, 4096);
	for (at = 0; at < 4096; at += 8) {
		for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			struct vmpacket_descriptor d;
			uint32_t exp_next = (uint32_t)((at + vmbus_ring_pkt_size(16 + lens[i])) % 4096);
			uint32_t trailer_at = (exp_next + 4096 - 8) % 4096;
			uint8_t tr8[8];
			size_t k;

			tr_move_to(&t, at);
			fill(in, lens[i], at + (uint32_t)i);
			ck_assert_int_eq(vmbus_ring_send_inband(&t.w, in, lens[i], at, 0, NULL), 0);
			ck_assert_uint_eq(t.ctrl->write_index, exp_next);
			for (k = 0; k < 8; k++)
				tr8[k] = t.data[(trailer_at + k) % 4096];
			ck_assert_uint_eq(get_u64(tr8), (uint64_t)at << 32);
			ck_assert_int_eq(vmbus_ring_recv(&t.r, out, sizeof(out), &len, NULL), 0);
			memcpy(&d, out, sizeof(d));
			ck_assert_uint_eq(d.trans_id, at);
			ck_assert(same_as_fill(out + 16, lens[i], at + (uint32_t)i));
			ck_assert_uint_eq(t.ctrl->read_index, exp_next);
		}
	}
	tr_done(&t);
}
END_TEST

/* GPA-direct and transfer-page packets built across the end of the data
 * area, at every 8-byte position, still parse to what was sent. */
START_TEST(test_wrap_gpa_xfer)
{
	uint64_t pfns[3] = { 11, 22, 33 };
	struct vmbus_ring_gpa g = { .byte_count = 9000, .byte_offset = 8, .pfns = pfns };
	struct vmbus_xfer_page_range x[2] = { { 1, 2 }, { 3, 4 } };
	struct vmbus_ring_gpa_iter gi;
	struct vmbus_ring_gpa_range gr;
	struct vmbus_ring_xfer_iter xi;
	struct vmbus_xfer_page_range xr;
	uint8_t out[256];
	struct tr t;
	uint32_t at;
	size_t len;

	tr_setup(&t, 4096);
	for (at = 0; at < 4096; at += 8) {
		tr_move_to(&t, at);
		ck_assert_int_eq(vmbus_ring_send_gpa_direct(&t.w, &g, 1, "pay", 3, at, 0,
				 NULL), 0);
		ck_assert_int_eq(vmbus_ring_send_xfer(&t.w, 9, false, x, 2, "ld", 2, at, 0,
				 NULL), 0);
		ck_assert_int_eq(vmbus_ring_recv(&t.r, out, sizeof(out), &len, NULL), 0);
		ck_assert_int_eq(vmbus_ring_parse_gpa_direct(out, len, &gi), 1);
		ck_assert(vmbus_ring_gpa_next(&gi, &gr));
		ck_assert_uint_eq(gr.pfn_count, 3);
		ck_assert_uint_eq(vmbus_ring_gpa_pfn(&gr, 2), 33);
		ck_assert_mem_eq(gi.payload, "pay", 3);
		ck_assert_uint_eq(gi.payload[3], 0);	/* padding zeroed */
		ck_assert_int_eq(vmbus_ring_recv(&t.r, out, sizeof(out), &len, NULL), 0);
		ck_assert_int_eq(vmbus_ring_parse_xfer(out, len, &xi), 2);
		ck_assert(vmbus_ring_xfer_next(&xi, &xr));
		ck_assert(vmbus_ring_xfer_next(&xi, &xr));
		ck_assert_uint_eq(xr.byte_count, 3);
		ck_assert_uint_eq(xr.byte_offset, 4);
		ck_assert_mem_eq(xi.payload, "ld", 2);
	}
	tr_done(&t);
}
END_TEST

/* Many packets of varying size with the reader lagging, so the indices
 * wrap hundreds of times with several packets in flight. */
START_TEST(test_wrap_stream)
{
	uint8_t in[600], out[700];
	uint32_t sent = 0, got = 0;
	struct tr t;
	size_t len;
	int ret;

	tr_setup(&t, 8192);
	while (got < 20000) {
		size_t plen = (sent * 37u) % 580;

		fill(in, plen, sent);
		ret = vmbus_ring_send_inband(&t.w, in, plen, sent, 0, NULL);
		if (ret == 0) {
			sent++;
			if (sent % 3)
				continue;
		} else {
			ck_assert_int_eq(ret, -EAGAIN);
		}
		while (got < sent) {
			struct vmpacket_descriptor d;

			ck_assert_int_eq(vmbus_ring_recv(&t.r, out, sizeof(out), &len, NULL), 0);
			memcpy(&d, out, sizeof(d));
			ck_assert_uint_eq(d.trans_id, got);
			ck_assert(same_as_fill(out + 16, (got * 37u) % 580, got));
			got++;
			if (got % 2)
				break;
		}
	}
	tr_done(&t);
}
END_TEST

/* ---- Full ring ------------------------------------------------------------ */

START_TEST(test_exactly_full)
{
	static uint8_t in[4096];
	struct vmbus_ring_pkt pkt;
	struct tr t;

	tr_setup(&t, 4096);
	ck_assert_int_eq(vmbus_ring_bytes_to_write(&t.w), 4096);
	/* total == size can never fit: one byte must stay free. */
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, in, 4096 - 16 - 8, 1, 0, NULL),
			 -ENOSPC);
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, in, 4096 - 16 - 16, 1, 0, NULL), 0);
	ck_assert_int_eq(vmbus_ring_bytes_to_write(&t.w), 8);
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, in, 0, 2, 0, NULL), -EAGAIN);
	ck_assert_uint_eq(t.ctrl->write_index, 4096 - 8);

	/* Free space equal to the packet's total is still "no room". */
	ck_assert_int_eq(vmbus_ring_peek(&t.r, &pkt), 0);
	ck_assert_int_eq(vmbus_ring_advance(&t.r, &pkt), 0);
	ck_assert_int_eq(vmbus_ring_publish(&t.r, NULL), 0);
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, in, 4096 - 16 - 64, 3, 0, NULL), 0);
	ck_assert_int_eq(vmbus_ring_bytes_to_write(&t.w), 56);
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, in, 56 - 16 - 8, 4, 0, NULL), -EAGAIN);
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, in, 56 - 16 - 16, 4, 0, NULL), 0);
	ck_assert_int_eq(vmbus_ring_bytes_to_write(&t.w), 8);
	ck_assert_int_eq(vmbus_ring_bytes_to_read(&t.r), 4096 - 8);
	tr_done(&t);
}
END_TEST

START_TEST(test_writer_size_limits)
{
	size_t size = 1u << 20;
	uint8_t *in = calloc(1, 600000);
	struct tr t;

	tr_setup(&t, size);
	/* len8 is 16 bits: a packet may be at most 0xffff * 8 bytes. */
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, in, 0xffffu * 8 - 16 + 1, 1, 0,
			 NULL), -EMSGSIZE);
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, in, 0xffffu * 8 - 16, 1, 0, NULL), 0);
	ck_assert_uint_eq(t.ctrl->write_index, 0xffffu * 8 + 8);
	ck_assert_int_eq(vmbus_ring_write(&t.w, NULL, 0, NULL), -EINVAL);
	free(in);
	tr_done(&t);
}
END_TEST

/* ---- Batching ------------------------------------------------------------- */

START_TEST(test_batch_read_publishes_once)
{
	struct vmbus_ring_pkt pkt;
	uint32_t i, last = 0;
	uint64_t id;
	struct tr t;
	bool sig;

	tr_setup(&t, 4096);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(vmbus_ring_send_inband(&t.w, &i, sizeof(i), i, 0, NULL), 0);
	for (i = 0; i < 10; i++) {
		ck_assert_int_eq(vmbus_ring_peek(&t.r, &pkt), 0);
		ck_assert_int_eq(vmbus_ring_copy(&t.r, &pkt, 8, &id, 8), 0);
		ck_assert_uint_eq(id, i);
		ck_assert_int_eq(vmbus_ring_advance(&t.r, &pkt), 0);
		ck_assert_uint_eq(t.ctrl->read_index, 0);
		last = pkt.pos;
	}
	ck_assert_int_eq(vmbus_ring_peek(&t.r, &pkt), -EAGAIN);
	ck_assert_int_eq(vmbus_ring_bytes_to_read(&t.r), 0);
	ck_assert_int_eq(vmbus_ring_publish(&t.r, &sig), 0);
	ck_assert(!sig);
	ck_assert_uint_eq(t.ctrl->read_index, t.ctrl->write_index);
	ck_assert_uint_eq(t.ctrl->read_index, last + 32);
	tr_done(&t);
}
END_TEST

START_TEST(test_batch_write_publishes_once)
{
	struct tr t;
	uint32_t i;
	bool sig = true;

	tr_setup(&t, 4096);
	vmbus_ring_write_batch_begin(&t.w);
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(vmbus_ring_send_inband(&t.w, &i, 4, i, 0, &sig), 0);
		ck_assert(!sig);
		ck_assert_uint_eq(t.ctrl->write_index, 0);
	}
	ck_assert_int_eq(vmbus_ring_bytes_to_read(&t.r), 0);
	ck_assert_int_eq(vmbus_ring_request_space(&t.w, 64), -EINVAL);
	vmbus_ring_write_batch_end(&t.w, &sig);
	ck_assert(sig);		/* the ring went from empty to non-empty */
	ck_assert_uint_eq(t.ctrl->write_index, 5 * 32);
	ck_assert_int_eq(vmbus_ring_bytes_to_read(&t.r), 5 * 32);
	/* An empty batch publishes nothing and signals nothing. */
	vmbus_ring_write_batch_begin(&t.w);
	vmbus_ring_write_batch_end(&t.w, &sig);
	ck_assert(!sig);
	tr_done(&t);
}
END_TEST

/* ---- Signalling ----------------------------------------------------------- */

START_TEST(test_signal_on_write)
{
	uint8_t buf[64];
	struct tr t;
	size_t len;
	bool sig;

	tr_setup(&t, 4096);
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, "a", 1, 1, 0, &sig), 0);
	ck_assert(sig);				/* empty -> non-empty */
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, "b", 1, 2, 0, &sig), 0);
	ck_assert(!sig);			/* reader has not caught up */

	/* The reader took one but not all: still no signal. */
	ck_assert_int_eq(vmbus_ring_recv(&t.r, buf, sizeof(buf), &len, NULL), 0);
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, "c", 1, 3, 0, &sig), 0);
	ck_assert(!sig);

	/* Drained and published: the next write signals again. */
	ck_assert_int_eq(vmbus_ring_recv(&t.r, buf, sizeof(buf), &len, NULL), 0);
	ck_assert_int_eq(vmbus_ring_recv(&t.r, buf, sizeof(buf), &len, NULL), 0);
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, "d", 1, 4, 0, &sig), 0);
	ck_assert(sig);

	/* Masked reader: no signal even from empty. */
	ck_assert_int_eq(vmbus_ring_recv(&t.r, buf, sizeof(buf), &len, NULL), 0);
	vmbus_ring_mask(&t.r);
	ck_assert_uint_eq(t.ctrl->interrupt_mask, 1);
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, "e", 1, 5, 0, &sig), 0);
	ck_assert(!sig);
	tr_done(&t);
}
END_TEST

START_TEST(test_mask_unmask_recheck)
{
	struct vmbus_ring_pkt pkt;
	struct tr t;
	bool sig;

	tr_setup(&t, 4096);
	vmbus_ring_mask(&t.r);
	ck_assert(!vmbus_ring_unmask(&t.r));	/* nothing there */
	ck_assert_uint_eq(t.ctrl->interrupt_mask, 0);

	vmbus_ring_mask(&t.r);
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, "x", 1, 1, 0, &sig), 0);
	ck_assert(!sig);			/* masked: writer stays quiet */
	ck_assert(vmbus_ring_unmask(&t.r));	/* ...so unmask must report it */
	ck_assert_int_eq(vmbus_ring_peek(&t.r, &pkt), 0);
	ck_assert_int_eq(vmbus_ring_advance(&t.r, &pkt), 0);
	ck_assert_int_eq(vmbus_ring_publish(&t.r, NULL), 0);
	ck_assert(!vmbus_ring_unmask(&t.r));
	tr_done(&t);
}
END_TEST

/* Fill the ring with 31 packets of 128 bytes of ring space each (3968 of
 * 4096 bytes), leaving 128 free. */
static void fill_31(struct tr *t)
{
	uint8_t in[104] = { 0 };
	int i;

	for (i = 0; i < 31; i++)
		ck_assert_int_eq(vmbus_ring_send_inband(&t->w, in, sizeof(in), i, 0,
				 NULL), 0);
	ck_assert_int_eq(vmbus_ring_bytes_to_write(&t->w), 128);
}

static void read_n(struct tr *t, int n)
{
	struct vmbus_ring_pkt pkt;

	while (n--) {
		ck_assert_int_eq(vmbus_ring_peek(&t->r, &pkt), 0);
		ck_assert_int_eq(vmbus_ring_advance(&t->r, &pkt), 0);
	}
}

START_TEST(test_signal_pending_send_sz)
{
	static uint8_t big[600];
	uint32_t need = (uint32_t)vmbus_ring_pkt_size(16 + sizeof(big)); /* 624 */
	struct tr t;
	bool sig;

	tr_setup(&t, 4096);
	fill_31(&t);
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, big, sizeof(big), 99, 0, NULL),
			 -EAGAIN);
	ck_assert_int_eq(vmbus_ring_request_space(&t.w, need), 0);
	ck_assert_uint_eq(t.ctrl->pending_send_sz, need);

	/* 128 + 2 * 128 = 384 free: not across 624 yet. */
	read_n(&t, 2);
	ck_assert_int_eq(vmbus_ring_publish(&t.r, &sig), 0);
	ck_assert(!sig);
	/* 384 + 256 = 640 > 624: crossed. */
	read_n(&t, 2);
	ck_assert_int_eq(vmbus_ring_publish(&t.r, &sig), 0);
	ck_assert(sig);
	/* Already above before this read: no second signal. */
	read_n(&t, 1);
	ck_assert_int_eq(vmbus_ring_publish(&t.r, &sig), 0);
	ck_assert(!sig);

	ck_assert_int_eq(vmbus_ring_request_space(&t.w, need), 1);
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, big, sizeof(big), 99, 0, NULL), 0);
	vmbus_ring_clear_space_request(&t.w);
	ck_assert_uint_eq(t.ctrl->pending_send_sz, 0);
	/* No request standing: reading never signals. */
	read_n(&t, 3);
	ck_assert_int_eq(vmbus_ring_publish(&t.r, &sig), 0);
	ck_assert(!sig);
	tr_done(&t);
}
END_TEST

START_TEST(test_signal_exact_boundary)
{
	struct tr t;
	bool sig;

	/* Landing exactly on pending_send_sz is still "not enough". */
	tr_setup(&t, 4096);
	fill_31(&t);
	ck_assert_int_eq(vmbus_ring_request_space(&t.w, 384), 0);
	read_n(&t, 2);				/* free: 384 */
	ck_assert_int_eq(vmbus_ring_publish(&t.r, &sig), 0);
	ck_assert(!sig);
	read_n(&t, 1);				/* free: 512 */
	ck_assert_int_eq(vmbus_ring_publish(&t.r, &sig), 0);
	ck_assert(sig);
	tr_done(&t);
}
END_TEST

START_TEST(test_signal_feature_bit_off)
{
	struct tr t;
	bool sig;

	tr_setup(&t, 4096);
	vmbus_ring_init(&t.w, 0);
	ck_assert_int_eq(vmbus_ring_attach(&t.r), 0);
	fill_31(&t);
	ck_assert_int_eq(vmbus_ring_request_space(&t.w, 600), -ENOTSUP);
	ck_assert_uint_eq(t.ctrl->pending_send_sz, 0);
	/* Even a pending size planted by the peer is ignored. */
	t.ctrl->pending_send_sz = 600;
	read_n(&t, 31);
	ck_assert_int_eq(vmbus_ring_publish(&t.r, &sig), 0);
	ck_assert(!sig);
	tr_done(&t);
}
END_TEST

/* ---- Page-list view ------------------------------------------------------- */

START_TEST(test_page_list_same_bytes)
{
	enum { NP = 4 };
	uint8_t *scattered = aligned_alloc(4096, (2 * NP + 1) * 4096);
	void *pages[NP];
	static struct vmbus_ring_ctrl ctrl2;
	struct vmbus_ring pw, pr;
	uint8_t in[3000], out[3100];
	struct tr t;
	uint32_t i, seq;
	size_t len;
	int k;

	ck_assert_ptr_nonnull(scattered);
	memset(scattered, 0x3c, (2 * NP + 1) * 4096);
	/* Data page i lives at slot 2 * (NP - 1 - i) + 1: reversed with gaps. */
	for (i = 0; i < NP; i++) {
		pages[i] = scattered + (2 * (NP - 1 - i) + 1) * 4096;
		memset(pages[i], JUNK_BYTE, 4096);
	}
	tr_setup(&t, NP * 4096);
	ck_assert_int_eq(vmbus_ring_view_pages(&pw, &ctrl2, pages, NP), 0);
	vmbus_ring_init(&pw, FEAT);
	ck_assert_int_eq(vmbus_ring_view_pages(&pr, &ctrl2, pages, NP), 0);
	ck_assert_int_eq(vmbus_ring_attach(&pr), 0);

	for (seq = 0; seq < 200; seq++) {
		size_t plen = (seq * 613u) % 2900;

		fill(in, plen, seq);
		ck_assert_int_eq(vmbus_ring_send_inband(&t.w, in, plen, seq, 0, NULL), 0);
		ck_assert_int_eq(vmbus_ring_send_inband(&pw, in, plen, seq, 0, NULL), 0);
		ck_assert_uint_eq(t.ctrl->write_index, ctrl2.write_index);
		for (i = 0; i < NP; i++)
			ck_assert_mem_eq(pages[i], t.data + i * 4096, 4096);
		ck_assert_int_eq(vmbus_ring_recv(&pr, out, sizeof(out), &len, NULL), 0);
		ck_assert(same_as_fill(out + 16, plen, seq));
		ck_assert_int_eq(vmbus_ring_recv(&t.r, out, sizeof(out), &len, NULL), 0);
	}
	/* The gaps between the scattered pages stay untouched. */
	for (k = 0; k < NP + 1; k++) {
		const uint8_t *gap = scattered + 2 * k * 4096;

		for (i = 0; i < 4096; i++)
			ck_assert_uint_eq(gap[i], 0x3c);
	}
	free(scattered);
	tr_done(&t);
}
END_TEST

/* ---- Two threads ---------------------------------------------------------- */

#define STRESS_COUNT 200000u

struct stress {
	struct tr t;
	sem_t rx_bell;		/* writer -> reader */
	sem_t tx_bell;		/* reader -> writer */
	uint32_t bad;
	uint32_t timeouts;
};

static bool bell_wait(struct stress *s, sem_t *bell)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	if (sem_timedwait(bell, &ts) == 0)
		return true;
	__atomic_add_fetch(&s->timeouts, 1, __ATOMIC_RELAXED);
	return false;
}

static void *stress_writer(void *arg)
{
	struct stress *s = arg;
	uint8_t in[400];
	uint32_t seq;
	bool sig;
	int ret;

	for (seq = 0; seq < STRESS_COUNT; seq++) {
		size_t plen = 8 + (seq * 29u) % 380;

		memcpy(in, &seq, 4);
		fill(in + 4, plen - 4, seq);
		for (;;) {
			ret = vmbus_ring_send_inband(&s->t.w, in, plen, seq, 0, &sig);
			if (ret != -EAGAIN)
				break;
			ret = vmbus_ring_request_space(&s->t.w,
				(uint32_t)vmbus_ring_pkt_size(16 + plen));
			if (ret == 0 && !bell_wait(s, &s->tx_bell))
				return NULL;
		}
		vmbus_ring_clear_space_request(&s->t.w);
		if (ret) {
			s->bad++;
			return NULL;
		}
		if (sig)
			sem_post(&s->rx_bell);
	}
	return NULL;
}

static void *stress_reader(void *arg)
{
	struct stress *s = arg;
	struct vmbus_ring_pkt pkt;
	uint8_t out[400];
	uint32_t expect = 0, n, got;
	bool sig;

	while (expect < STRESS_COUNT) {
		if (!bell_wait(s, &s->rx_bell))
			return NULL;
		do {
			vmbus_ring_mask(&s->t.r);
			n = 0;
			while (vmbus_ring_peek(&s->t.r, &pkt) == 0) {
				uint32_t plen = vmbus_ring_pkt_payload_len(&pkt);

				if (plen > sizeof(out) ||
				    vmbus_ring_copy(&s->t.r, &pkt, pkt.offset, out, plen))
					s->bad++;
				memcpy(&got, out, 4);
				if (got != expect || pkt.desc.trans_id != expect ||
				    !same_as_fill(out + 4, 4 + (expect * 29u) % 380, expect))
					s->bad++;
				expect++;
				vmbus_ring_advance(&s->t.r, &pkt);
				if (++n % 16 == 0) {
					vmbus_ring_publish(&s->t.r, &sig);
					if (sig)
						sem_post(&s->tx_bell);
				}
			}
			vmbus_ring_publish(&s->t.r, &sig);
			if (sig)
				sem_post(&s->tx_bell);
		} while (vmbus_ring_unmask(&s->t.r));
	}
	return NULL;
}

START_TEST(test_two_thread_stress)
{
	struct stress s;
	pthread_t a, b;

	memset(&s, 0, sizeof(s));
	tr_setup(&s.t, 8192);
	sem_init(&s.rx_bell, 0, 0);
	sem_init(&s.tx_bell, 0, 0);
	pthread_create(&b, NULL, stress_reader, &s);
	pthread_create(&a, NULL, stress_writer, &s);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	ck_assert_uint_eq(s.timeouts, 0);
	ck_assert_uint_eq(s.bad, 0);
	ck_assert_uint_eq(s.t.ctrl->read_index, s.t.ctrl->write_index);
	tr_done(&s.t);
}
END_TEST

/* ---- Hostile peer: indices and descriptors -------------------------------- */

/* Run one peek against a hostile ring and check that it fails the same way
 * twice, moves nothing and leaves the caller's packet struct alone. */
static int hostile_peek(struct tr *t)
{
	struct vmbus_ring_pkt pkt;
	uint32_t rd = t->ctrl->read_index;
	int ret, ret2;

	memset(&pkt, 0x77, sizeof(pkt));
	ret = vmbus_ring_peek(&t->r, &pkt);
	ret2 = vmbus_ring_peek(&t->r, &pkt);
	ck_assert_int_eq(ret, ret2);
	if (ret)
		ck_assert_uint_eq(pkt.len, 0x77777777u);
	ck_assert_uint_eq(t->ctrl->read_index, rd);
	check_guards(t);
	return ret;
}

START_TEST(test_hostile_write_index)
{
	struct tr t;

	tr_setup(&t, 4096);
	t.ctrl->write_index = 4096;
	ck_assert_int_eq(hostile_peek(&t), -ERANGE);
	t.ctrl->write_index = 0xfffffff8u;
	ck_assert_int_eq(hostile_peek(&t), -ERANGE);
	t.ctrl->write_index = 36;
	ck_assert_int_eq(hostile_peek(&t), -ERANGE);
	ck_assert_int_eq(vmbus_ring_bytes_to_read(&t.r), -ERANGE);
	ck_assert(vmbus_ring_unmask(&t.r));	/* go look, and find the error */
	tr_done(&t);
}
END_TEST

START_TEST(test_hostile_read_index)
{
	static uint8_t in[2100];
	struct tr t;

	tr_setup(&t, 4096);
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, in, 2000, 1, 0, NULL), 0);
	t.ctrl->read_index = 5000;
	ck_assert_int_eq(vmbus_ring_bytes_to_write(&t.w), -ERANGE);
	/* 2072 bytes free as last seen: this fits without a fresh look. */
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, in, 8, 2, 0, NULL), 0);
	/* This one needs a fresh look at read_index, which is bad. */
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, in, 2100, 3, 0, NULL), -ERANGE);
	ck_assert_int_eq(vmbus_ring_request_space(&t.w, 2132), -ERANGE);
	ck_assert_uint_eq(t.ctrl->pending_send_sz, 2132);
	t.ctrl->read_index = 4;
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, in, 2100, 3, 0, NULL), -ERANGE);
	ck_assert_uint_eq(t.ctrl->write_index, 2024 + 32);
	tr_done(&t);
}
END_TEST

START_TEST(test_hostile_descriptors)
{
	struct tr t;

	tr_setup(&t, 4096);
	/* len8 == 0 and len8 == 1: no room for the descriptor itself. */
	put_raw_desc(&t, 0, VM_PKT_DATA_INBAND, 2, 0);
	t.ctrl->write_index = 64;
	ck_assert_int_eq(hostile_peek(&t), -EPROTO);
	put_raw_desc(&t, 0, VM_PKT_DATA_INBAND, 2, 1);
	ck_assert_int_eq(hostile_peek(&t), -EPROTO);

	/* offset8 above len8, or inside the descriptor. */
	put_raw_desc(&t, 0, VM_PKT_DATA_INBAND, 5, 4);
	ck_assert_int_eq(hostile_peek(&t), -EBADMSG);
	put_raw_desc(&t, 0, VM_PKT_DATA_INBAND, 1, 4);
	ck_assert_int_eq(hostile_peek(&t), -EBADMSG);
	put_raw_desc(&t, 0, VM_PKT_DATA_INBAND, 0, 4);
	ck_assert_int_eq(hostile_peek(&t), -EBADMSG);
	/* offset8 == len8 is a packet without payload: fine. */
	put_raw_desc(&t, 0, VM_PKT_DATA_INBAND, 4, 4);
	ck_assert_int_eq(hostile_peek(&t), 0);

	/* Longer than the ring could ever hold. */
	put_raw_desc(&t, 0, VM_PKT_DATA_INBAND, 2, 0xffff);
	ck_assert_int_eq(hostile_peek(&t), -EMSGSIZE);
	put_raw_desc(&t, 0, VM_PKT_DATA_INBAND, 2, 4096 / 8 - 1);
	ck_assert_int_eq(hostile_peek(&t), -EMSGSIZE);

	/* Fits the ring but runs past the published write index. */
	put_raw_desc(&t, 0, VM_PKT_DATA_INBAND, 2, 8);	/* 64 + 8 > 64 */
	ck_assert_int_eq(hostile_peek(&t), -ENOMSG);
	/* Fewer bytes published than the smallest packet. */
	t.ctrl->write_index = 16;
	ck_assert_int_eq(hostile_peek(&t), -ENOMSG);
	tr_done(&t);
}
END_TEST

START_TEST(test_hostile_wrap_past_write_index)
{
	struct tr t;
	uint8_t d[16];
	struct vmpacket_descriptor desc = { .type = VM_PKT_DATA_INBAND,
					    .offset8 = 2, .len8 = 20 };

	/* A packet starting 16 bytes before the end claims 160 bytes, so it
	 * wraps; the peer published only 64 bytes past the wrap. */
	tr_setup(&t, 4096);
	tr_move_to(&t, 4096 - 16);
	memcpy(d, &desc, 16);
	memcpy(t.data + 4096 - 16, d, 16);
	t.ctrl->write_index = 64;
	ck_assert_int_eq(hostile_peek(&t), -ENOMSG);
	/* Published far enough: the same bytes are a good packet. */
	t.ctrl->write_index = 160 + 8 - 16;
	ck_assert_int_eq(hostile_peek(&t), 0);
	tr_done(&t);
}
END_TEST

START_TEST(test_copy_advance_recv_args)
{
	struct vmbus_ring_pkt pkt, bad;
	uint8_t out[64];
	struct tr t;
	size_t len = 0;

	tr_setup(&t, 4096);
	ck_assert_int_eq(vmbus_ring_send_inband(&t.w, "0123456789", 10, 1, 0, NULL), 0);
	ck_assert_int_eq(vmbus_ring_peek(&t.r, &pkt), 0);
	memset(out, 0x11, sizeof(out));
	ck_assert_int_eq(vmbus_ring_copy(&t.r, &pkt, 20, out, 13), -EINVAL);
	ck_assert_int_eq(vmbus_ring_copy(&t.r, &pkt, 33, out, 0), -EINVAL);
	ck_assert_int_eq(vmbus_ring_copy(&t.r, &pkt, 16, out, 4), 0);
	ck_assert_mem_eq(out, "0123", 4);
	ck_assert_uint_eq(out[4], 0x11);		/* not a byte more */
	bad = pkt;
	bad.pos = 8;
	ck_assert_int_eq(vmbus_ring_advance(&t.r, &bad), -EINVAL);
	bad = pkt;
	bad.pos = 4096;
	ck_assert_int_eq(vmbus_ring_copy(&t.r, &bad, 0, out, 8), -EINVAL);

	/* A buffer too small keeps the packet where it is. */
	ck_assert_int_eq(vmbus_ring_recv(&t.r, out, 31, &len, NULL), -ENOBUFS);
	ck_assert_uint_eq(len, 32);
	ck_assert_uint_eq(out[16], 0x11);	/* buffer untouched */
	ck_assert_int_eq(vmbus_ring_recv(&t.r, out, 32, &len, NULL), 0);
	ck_assert_mem_eq(out + 16, "0123456789", 10);
	tr_done(&t);
}
END_TEST

/* ---- Hostile packets handed to the parsers -------------------------------- */

/* Build a GPA-direct packet copy: header, then the given 64-bit words. */
static size_t gpa_pkt(uint8_t *buf, uint16_t offset8, uint16_t len8,
		      uint32_t count, const uint64_t *words, size_t nwords)
{
	struct vmbus_gpa_direct_header h = {
		.desc = { .type = VM_PKT_DATA_USING_GPA_DIRECT, .offset8 = offset8,
			  .len8 = len8 },
		.range_count = count,
	};

	memset(buf, 0, (size_t)len8 * 8 + 64);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), words, nwords * 8);
	return (size_t)len8 * 8;
}

static uint64_t range_word(uint32_t byte_count, uint32_t byte_offset)
{
	return (uint64_t)byte_offset << 32 | byte_count;
}

START_TEST(test_hostile_gpa_direct)
{
	uint8_t buf[1024];
	struct vmbus_ring_gpa_iter it;
	uint64_t w[8];
	size_t len;

	/* Good: one range of two pages, 16 bytes of payload. */
	w[0] = range_word(5000, 10);
	w[1] = 1;
	w[2] = 2;
	len = gpa_pkt(buf, 6, 8, 1, w, 3);
	ck_assert_int_eq(vmbus_ring_parse_gpa_direct(buf, len, &it), 1);
	ck_assert_uint_eq(it.payload_len, 16);

	/* A count whose 16-byte-per-range size wraps 32 bits. */
	gpa_pkt(buf, 6, 8, 0x10000000u, w, 3);
	ck_assert_int_eq(vmbus_ring_parse_gpa_direct(buf, len, &it), -EOVERFLOW);
	/* A count larger than the header area holds. */
	gpa_pkt(buf, 6, 8, 2, w, 3);
	ck_assert_int_eq(vmbus_ring_parse_gpa_direct(buf, len, &it), -E2BIG);
	/* One range whose PFN list runs past the header area. */
	w[0] = range_word(3 * 4096, 0);
	gpa_pkt(buf, 6, 8, 1, w, 3);
	ck_assert_int_eq(vmbus_ring_parse_gpa_direct(buf, len, &it), -E2BIG);
	/* Two ranges that fit by count but not by PFNs. */
	w[0] = range_word(4096, 0);
	w[2] = range_word(8192, 0);
	gpa_pkt(buf, 7, 8, 2, w, 4);
	ck_assert_int_eq(vmbus_ring_parse_gpa_direct(buf, 64, &it), -E2BIG);
	/* Malformed ranges. */
	w[0] = range_word(0, 0);
	gpa_pkt(buf, 6, 8, 1, w, 3);
	ck_assert_int_eq(vmbus_ring_parse_gpa_direct(buf, len, &it), -EBADMSG);
	w[0] = range_word(10, 4096);
	gpa_pkt(buf, 6, 8, 1, w, 3);
	ck_assert_int_eq(vmbus_ring_parse_gpa_direct(buf, len, &it), -EBADMSG);
	/* byte_offset + byte_count past 32 bits. */
	w[0] = range_word(0xfffff000u, 0xfff);
	gpa_pkt(buf, 6, 8, 1, w, 3);
	ck_assert_int_eq(vmbus_ring_parse_gpa_direct(buf, len, &it), -EOVERFLOW);

	/* Descriptor faults. */
	w[0] = range_word(5000, 10);
	gpa_pkt(buf, 6, 8, 1, w, 3);
	ck_assert_int_eq(vmbus_ring_parse_gpa_direct(buf, len - 8, &it), -EMSGSIZE);
	ck_assert_int_eq(vmbus_ring_parse_gpa_direct(buf, 8, &it), -EMSGSIZE);
	gpa_pkt(buf, 2, 8, 1, w, 3);	/* header area smaller than 24 */
	ck_assert_int_eq(vmbus_ring_parse_gpa_direct(buf, len, &it), -EBADMSG);
	gpa_pkt(buf, 9, 8, 1, w, 3);
	ck_assert_int_eq(vmbus_ring_parse_gpa_direct(buf, len, &it), -EBADMSG);
	gpa_pkt(buf, 6, 1, 1, w, 3);
	ck_assert_int_eq(vmbus_ring_parse_gpa_direct(buf, len, &it), -EPROTO);
	buf[0] = VM_PKT_DATA_INBAND;
	ck_assert_int_eq(vmbus_ring_parse_gpa_direct(buf, len, &it), -EINVAL);
}
END_TEST

static size_t xfer_pkt(uint8_t *buf, uint16_t offset8, uint16_t len8,
		       uint32_t count, const uint64_t *words, size_t nwords)
{
	struct vmbus_xfer_page_header h = {
		.desc = { .type = VM_PKT_DATA_USING_XFER_PAGES, .offset8 = offset8,
			  .len8 = len8 },
		.xfer_pageset_id = 3,
		.range_count = count,
	};

	memset(buf, 0, (size_t)len8 * 8 + 64);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), words, nwords * 8);
	return (size_t)len8 * 8;
}

START_TEST(test_hostile_xfer)
{
	uint8_t buf[2048];
	struct vmbus_ring_xfer_iter it;
	uint64_t w[4] = { range_word(100, 0), range_word(200, 4096) };
	size_t len;

	len = xfer_pkt(buf, 5, 6, 2, w, 2);
	ck_assert_int_eq(vmbus_ring_parse_xfer(buf, len, &it), 2);
	ck_assert(!it.sender_owns_set);
	ck_assert_uint_eq(it.pageset_id, 3);
	/* 0x20000000 * 8 wraps to 0 in 32 bits. */
	xfer_pkt(buf, 5, 6, 0x20000000u, w, 2);
	ck_assert_int_eq(vmbus_ring_parse_xfer(buf, len, &it), -EOVERFLOW);
	xfer_pkt(buf, 5, 6, 3, w, 2);
	ck_assert_int_eq(vmbus_ring_parse_xfer(buf, len, &it), -E2BIG);
	w[1] = range_word(0x80000000u, 0x80000000u);
	xfer_pkt(buf, 5, 6, 2, w, 2);
	ck_assert_int_eq(vmbus_ring_parse_xfer(buf, len, &it), -EOVERFLOW);
	xfer_pkt(buf, 7, 6, 2, w, 2);
	ck_assert_int_eq(vmbus_ring_parse_xfer(buf, len, &it), -EBADMSG);
	xfer_pkt(buf, 5, 0, 2, w, 2);
	ck_assert_int_eq(vmbus_ring_parse_xfer(buf, len, &it), -EPROTO);
	xfer_pkt(buf, 5, 200, 2, w, 2);
	ck_assert_int_eq(vmbus_ring_parse_xfer(buf, len, &it), -EMSGSIZE);
}
END_TEST

static Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("core");
	TCase *th = tcase_create("hostile");
	TCase *ts = tcase_create("stress");

	tcase_add_test(tc, test_view_args);
	tcase_add_test(tc, test_init_zeroes_control_page);
	tcase_add_test(tc, test_attach_validates_indices);
	tcase_add_test(tc, test_inband_roundtrip);
	tcase_add_test(tc, test_comp_and_sendv_and_raw);
	tcase_add_test(tc, test_gpa_direct_roundtrip);
	tcase_add_test(tc, test_xfer_roundtrip);
	tcase_add_test(tc, test_wrap_every_alignment);
	tcase_add_test(tc, test_wrap_gpa_xfer);
	tcase_add_test(tc, test_wrap_stream);
	tcase_add_test(tc, test_exactly_full);
	tcase_add_test(tc, test_writer_size_limits);
	tcase_add_test(tc, test_batch_read_publishes_once);
	tcase_add_test(tc, test_batch_write_publishes_once);
	tcase_add_test(tc, test_signal_on_write);
	tcase_add_test(tc, test_mask_unmask_recheck);
	tcase_add_test(tc, test_signal_pending_send_sz);
	tcase_add_test(tc, test_signal_exact_boundary);
	tcase_add_test(tc, test_signal_feature_bit_off);
	tcase_add_test(tc, test_page_list_same_bytes);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tcase_add_test(th, test_hostile_write_index);
	tcase_add_test(th, test_hostile_read_index);
	tcase_add_test(th, test_hostile_descriptors);
	tcase_add_test(th, test_hostile_wrap_past_write_index);
	tcase_add_test(th, test_copy_advance_recv_args);
	tcase_add_test(th, test_hostile_gpa_direct);
	tcase_add_test(th, test_hostile_xfer);
	suite_add_tcase(s, th);

	tcase_add_test(ts, test_two_thread_stress);
	tcase_set_timeout(ts, 120);
	suite_add_tcase(s, ts);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ring_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
