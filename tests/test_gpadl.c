/* SPDX-License-Identifier: MIT */
/*
 * Tests for GPADLs: the guest-side encoder (libvmbus/gpadl_build.c) and the
 * host-side table (libvmbus/gpadl.c): round trips of every message-count
 * boundary, then each way a hostile guest can get a GPADL wrong.
 * Wire formats: include/vmbus/proto/vmbus.h (Linux include/linux/hyperv.h).
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <vmbus/gpa.h>
#include <vmbus/gpadl.h>

#define PG	HV_PAGE_SIZE

/* Guest memory: low region of 1 MiB at GPA 0, a hole, then 72 MiB at
 * 4 GiB (room for a 64 MiB GPADL). Untouched pages cost nothing. */
#define LO_GPA		0x0ull
#define LO_SIZE		(1ull << 20)
#define HI_GPA		(4ull << 30)
#define HI_SIZE		(72ull << 20)
#define LO_PFN		(LO_GPA >> HV_PAGE_SHIFT)
#define HI_PFN		(HI_GPA >> HV_PAGE_SHIFT)
#define HOLE_PFN	(LO_PFN + (LO_SIZE >> HV_PAGE_SHIFT))

#define RELID	7
#define OTHER_RELID	9

static uint8_t *lo, *hi;
static struct vmbus_gpa_map *map;
static struct vmbus_gpadl_table *table;

static void make_table(const struct vmbus_gpadl_limits *lim)
{
	vmbus_gpadl_table_free(table);
	table = vmbus_gpadl_table_new(map, lim, NULL);
	ck_assert_ptr_nonnull(table);
}

static void setup(void)
{
	lo = mmap(NULL, LO_SIZE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	hi = mmap(NULL, HI_SIZE, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert_ptr_ne(lo, MAP_FAILED);
	ck_assert_ptr_ne(hi, MAP_FAILED);
	map = vmbus_gpa_map_new();
	ck_assert_int_eq(vmbus_gpa_map_add(map, LO_GPA, LO_SIZE, lo), 0);
	ck_assert_int_eq(vmbus_gpa_map_add(map, HI_GPA, HI_SIZE, hi), 0);
	table = NULL;
	make_table(NULL);
}

static void teardown(void)
{
	vmbus_gpadl_table_free(table);
	vmbus_gpa_map_free(map);
	munmap(lo, LO_SIZE);
	munmap(hi, HI_SIZE);
}

/* ---- hand-made messages ---------------------------------------------------- */

static uint64_t range_word(uint32_t byte_offset, uint32_t byte_count)
{
	return (uint64_t)byte_count | ((uint64_t)byte_offset << 32);
}

static size_t mk_header(uint8_t *buf, uint32_t relid, uint32_t id,
			uint16_t buflen, uint16_t rangecount,
			const uint64_t *words, size_t nwords)
{
	struct vmbus_channel_gpadl_header h = {
		.header.msgtype = CHANNELMSG_GPADL_HEADER,
		.child_relid = relid,
		.gpadl = id,
		.range_buflen = buflen,
		.rangecount = rangecount,
	};

	memcpy(buf, &h, sizeof(h));
	if (nwords)
		memcpy(buf + sizeof(h), words, nwords * 8);
	return sizeof(h) + nwords * 8;
}

static size_t mk_body(uint8_t *buf, uint32_t msgnumber, uint32_t id,
		      const uint64_t *pfns, size_t n)
{
	struct vmbus_channel_gpadl_body b = {
		.header.msgtype = CHANNELMSG_GPADL_BODY,
		.msgnumber = msgnumber,
		.gpadl = id,
	};

	memcpy(buf, &b, sizeof(b));
	if (n)
		memcpy(buf + sizeof(b), pfns, n * 8);
	return sizeof(b) + n * 8;
}

/* A one-range header whose PFNs (npfn of them) all fit in the message. */
static int send_small(uint32_t relid, uint32_t id, uint64_t first_pfn,
		      uint32_t npfn, struct vmbus_gpadl_result *res)
{
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint64_t w[VMBUS_GPADL_HEADER_WORDS];
	uint32_t i;

	w[0] = range_word(0, npfn * PG);
	for (i = 0; i < npfn; i++)
		w[1 + i] = first_pfn + i;
	return vmbus_gpadl_header(table, msg,
				  mk_header(msg, relid, id, (uint16_t)(8 * (npfn + 1)),
					    1, w, npfn + 1), res);
}

/* Encode with the builder and feed every message; returns the last result. */
static int build_and_feed(const struct vmbus_gpadl_build *b)
{
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	struct vmbus_gpadl_result res;
	uint32_t i;
	int len, ret = -1;

	for (i = 0; i < b->msg_count; i++) {
		len = vmbus_gpadl_build_msg(b, i, msg, sizeof(msg));
		ck_assert_int_gt(len, 0);
		ck_assert_int_le(len, VMBUS_MSG_MAX_SIZE);
		if (i == 0)
			ret = vmbus_gpadl_header(table, msg, (size_t)len, &res);
		else
			ret = vmbus_gpadl_body(table, msg, (size_t)len, &res);
		ck_assert_uint_eq(res.gpadl_id, b->gpadl_id);
		ck_assert_uint_eq(res.child_relid, b->child_relid);
		if (i + 1 < b->msg_count) {
			ck_assert_int_eq(ret, VMBUS_GPADL_INCOMPLETE);
			ck_assert(!res.reply);
		} else {
			ck_assert(res.reply);
		}
	}
	return ret;
}

/* ---- round trips ----------------------------------------------------------- */

/* Pages spread over the high region in a scrambled (but unique) order. */
static uint64_t *scattered_pfns(uint32_t n)
{
	uint64_t *p = malloc(n * sizeof(*p));
	uint32_t i;

	for (i = 0; i < n; i++)
		p[i] = HI_PFN + (((uint64_t)i * 7919u) % n);
	return p;
}

static void roundtrip(uint32_t npages, uint32_t byte_offset, uint32_t expect_msgs)
{
	struct vmbus_gpadl_build b;
	struct vmbus_gpa_pagelist pl;
	const struct vmbus_gpadl *g;
	uint64_t *pfns = scattered_pfns(npages);
	uint32_t byte_count = npages * PG - byte_offset - (byte_offset ? 1 : 0);
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint32_t i;

	ck_assert_int_eq(vmbus_gpadl_build_init_single(&b, RELID, 0x1000 + npages, pfns,
						       byte_offset, byte_count),
			 (int)expect_msgs);
	/* The header carries as much as fits; bodies 28 PFNs each. */
	ck_assert_int_eq(vmbus_gpadl_build_msg(&b, 0, msg, sizeof(msg)),
			 20 + 8 * (npages + 1 < 27 ? npages + 1 : 27));
	if (expect_msgs > 1)
		ck_assert_int_eq(vmbus_gpadl_build_msg(&b, 1, msg, sizeof(msg)),
				 16 + 8 * (npages - 26 < 28 ? npages - 26 : 28));
	ck_assert_int_eq(build_and_feed(&b), 0);

	g = vmbus_gpadl_find(table, 0x1000 + npages);
	ck_assert_ptr_nonnull(g);
	ck_assert_uint_eq(vmbus_gpadl_id(g), 0x1000 + npages);
	ck_assert_uint_eq(vmbus_gpadl_child_relid(g), RELID);
	ck_assert_uint_eq(vmbus_gpadl_range_count(g), 1);
	ck_assert_uint_eq(vmbus_gpadl_pfn_count(g), npages);
	ck_assert_int_eq(vmbus_gpadl_range(g, 0, &pl), 0);
	ck_assert_uint_eq(pl.pfn_count, npages);
	ck_assert_uint_eq(pl.byte_offset, byte_offset);
	ck_assert_uint_eq(pl.byte_count, byte_count);
	ck_assert_int_eq(memcmp(pl.pfns, pfns, npages * sizeof(*pfns)), 0);
	ck_assert_int_eq(vmbus_gpa_pagelist_check(map, &pl, true), 0);
	ck_assert_int_eq(vmbus_gpadl_range(g, 1, &pl), -ERANGE);
	ck_assert_uint_eq(vmbus_gpadl_count(table), 1);
	ck_assert_uint_eq(vmbus_gpadl_pending_count(table), 0);

	if (byte_offset == 0 && byte_count % PG == 0) {
		void **pages = malloc(npages * sizeof(*pages));

		ck_assert_int_eq(vmbus_gpadl_map_pages(table, g, pages, npages),
				 (int)npages);
		for (i = 0; i < npages; i++)
			ck_assert_ptr_eq(pages[i], hi + (pfns[i] - HI_PFN) * PG);
		ck_assert_int_eq(vmbus_gpadl_map_pages(table, g, pages, npages - 1),
				 -ENOBUFS);
		free(pages);
	}
	free(pfns);
}

START_TEST(roundtrip_1)	{ roundtrip(1, 0, 1); } END_TEST
START_TEST(roundtrip_26) { roundtrip(26, 0, 1); } END_TEST
START_TEST(roundtrip_27) { roundtrip(27, 0, 2); } END_TEST
START_TEST(roundtrip_54) { roundtrip(54, 0, 2); } END_TEST
START_TEST(roundtrip_55) { roundtrip(55, 0, 3); } END_TEST
START_TEST(roundtrip_55_offset) { roundtrip(55, 1234, 3); } END_TEST

START_TEST(roundtrip_64mib)
{
	/* 16384 pages: 16385 words = 27 in the header + 585 bodies. The
	 * 16-bit range_buflen is truncated, as Linux sends it. */
	struct vmbus_gpadl_build b;
	uint64_t *pfns = scattered_pfns(16384);

	ck_assert_int_eq(vmbus_gpadl_build_init_single(&b, RELID, 1, pfns, 0,
						       64u << 20), 586);
	ck_assert_uint_eq(b.range_buflen, (uint16_t)(8 * 16385));
	free(pfns);
	roundtrip(16384, 0, 586);
}
END_TEST

START_TEST(roundtrip_multi_range)
{
	uint64_t a[3] = { HI_PFN + 5, HI_PFN + 9, LO_PFN + 1 };
	uint64_t c[30];
	uint64_t d[1] = { LO_PFN + 200 };
	struct vmbus_gpadl_build_range r[3] = {
		{ 100, 2 * PG, a },	/* 3 pages */
		{ 0, 30 * PG, c },
		{ 4000, 96, d },	/* ends exactly at the page end */
	};
	struct vmbus_gpadl_build b;
	struct vmbus_gpa_pagelist pl;
	const struct vmbus_gpadl *g;
	uint8_t bytes[96];
	uint32_t i;

	for (i = 0; i < 30; i++)
		c[i] = HI_PFN + 100 + i;
	/* 4 + 31 + 2 = 37 words: header 27, one body of 10. */
	ck_assert_int_eq(vmbus_gpadl_build_init(&b, RELID, 77, r, 3), 2);
	ck_assert_uint_eq(b.range_buflen, 37 * 8);
	ck_assert_int_eq(build_and_feed(&b), 0);
	g = vmbus_gpadl_find(table, 77);
	ck_assert_ptr_nonnull(g);
	ck_assert_uint_eq(vmbus_gpadl_range_count(g), 3);
	ck_assert_uint_eq(vmbus_gpadl_pfn_count(g), 34);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(vmbus_gpadl_range(g, i, &pl), 0);
		ck_assert_uint_eq(pl.byte_offset, r[i].byte_offset);
		ck_assert_uint_eq(pl.byte_count, r[i].byte_count);
		ck_assert_int_eq(memcmp(pl.pfns, r[i].pfns, pl.pfn_count * 8), 0);
	}
	ck_assert_uint_eq(pl.pfn_count, 1);
	/* The view reaches guest memory where the guest said. */
	memset(lo + 200 * PG + 4000, 0x5a, 96);
	ck_assert_int_eq(vmbus_gpa_pagelist_read(map, &pl, 0, bytes, 96), 0);
	ck_assert_uint_eq(bytes[0], 0x5a);
	ck_assert_uint_eq(bytes[95], 0x5a);
	/* Not a ring shape. */
	ck_assert_int_eq(vmbus_gpadl_map_pages(table, g, NULL, 0), -EINVAL);
}
END_TEST

START_TEST(unnumbered_and_numbered_bodies)
{
	/* All known guests send msgnumber 0; counting 1, 2 is accepted too
	 * when numbers are checked. */
	struct vmbus_gpadl_limits lim;
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint64_t w[27], p[28];
	uint32_t i, id;

	vmbus_gpadl_limits_default(&lim);
	lim.flags = VMBUS_GPADL_F_CHECK_MSGNUMBER;
	make_table(&lim);
	for (i = 0; i < 28; i++)
		p[i] = HI_PFN + 100 + i;
	for (id = 1; id <= 2; id++) {
		w[0] = range_word(0, 82 * PG);	/* 83 words: 27 + 28 + 28 */
		for (i = 1; i < 27; i++)
			w[i] = HI_PFN + i;
		ck_assert_int_eq(vmbus_gpadl_header(table, msg,
				 mk_header(msg, RELID, id, 83 * 8, 1, w, 27), &res),
				 VMBUS_GPADL_INCOMPLETE);
		ck_assert_int_eq(vmbus_gpadl_body(table, msg,
				 mk_body(msg, id == 1 ? 0 : 1, id, p, 28), &res),
				 VMBUS_GPADL_INCOMPLETE);
		ck_assert_int_eq(vmbus_gpadl_body(table, msg,
				 mk_body(msg, id == 1 ? 0 : 2, id, p, 28), &res), 0);
		ck_assert(res.reply);
	}
	ck_assert_uint_eq(vmbus_gpadl_count(table), 2);
}
END_TEST

/* ---- hostile headers --------------------------------------------------------- */

START_TEST(header_too_short)
{
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	size_t len = mk_header(msg, RELID, 1, 16, 1, NULL, 0);

	ck_assert_int_eq(vmbus_gpadl_header(table, msg, len - 1, &res), -EBADMSG);
	ck_assert(!res.reply);
	/* Long enough for the fields but without a single range word. */
	ck_assert_int_eq(vmbus_gpadl_header(table, msg, len, &res), -EINVAL);
	ck_assert(res.reply);
	ck_assert_uint_eq(vmbus_gpadl_count(table), 0);
}
END_TEST

START_TEST(header_wrong_type)
{
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint64_t w[2] = { range_word(0, PG), HI_PFN };
	size_t len = mk_header(msg, RELID, 1, 16, 1, w, 2);

	msg[0] = CHANNELMSG_GPADL_BODY;
	ck_assert_int_eq(vmbus_gpadl_header(table, msg, len, &res), -EBADMSG);
	ck_assert(!res.reply);
}
END_TEST

START_TEST(header_too_long)
{
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE + 8];
	uint64_t w[28];
	uint32_t i;

	w[0] = range_word(0, 27 * PG);
	for (i = 1; i < 28; i++)
		w[i] = HI_PFN + i;
	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 28 * 8, 1, w, 28), &res), -EMSGSIZE);
	ck_assert(res.reply);
	ck_assert_uint_eq(vmbus_gpadl_count(table), 0);
}
END_TEST

START_TEST(header_duplicate_complete)
{
	struct vmbus_gpadl_result res;
	const struct vmbus_gpadl *g;

	ck_assert_int_eq(send_small(RELID, 5, HI_PFN, 2, &res), 0);
	g = vmbus_gpadl_find(table, 5);
	ck_assert_int_eq(send_small(OTHER_RELID, 5, HI_PFN + 10, 1, &res), -EEXIST);
	ck_assert(res.reply);
	ck_assert_uint_eq(res.child_relid, OTHER_RELID);
	/* The original is untouched. */
	ck_assert_ptr_eq(vmbus_gpadl_find(table, 5), g);
	ck_assert_uint_eq(vmbus_gpadl_pfn_count(g), 2);
	ck_assert_uint_eq(vmbus_gpadl_child_relid(g), RELID);
	ck_assert_uint_eq(vmbus_gpadl_count(table), 1);
}
END_TEST

START_TEST(header_duplicate_pending)
{
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint64_t w[2] = { range_word(0, 2 * PG), HI_PFN };

	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 5, 24, 1, w, 2), &res),
			 VMBUS_GPADL_INCOMPLETE);
	ck_assert_int_eq(send_small(RELID, 5, HI_PFN, 1, &res), -EEXIST);
	ck_assert_uint_eq(vmbus_gpadl_pending_count(table), 1);
	/* The pending one still completes. */
	w[0] = HI_PFN + 1;
	ck_assert_int_eq(vmbus_gpadl_body(table, msg, mk_body(msg, 0, 5, w, 1), &res), 0);
	ck_assert_uint_eq(vmbus_gpadl_pfn_count(vmbus_gpadl_find(table, 5)), 2);
}
END_TEST

START_TEST(header_bad_byte_offset)
{
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint64_t w[3] = { range_word(PG, 1), HI_PFN, HI_PFN + 1 };

	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 24, 1, w, 3), &res), -EINVAL);
	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 16, 1, w, 2), &res), -EINVAL);
	ck_assert(res.reply);
	ck_assert_uint_eq(vmbus_gpadl_count(table), 0);
}
END_TEST

START_TEST(header_zero_byte_count)
{
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint64_t w[2] = { range_word(0, 0), HI_PFN };

	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 16, 1, w, 2), &res), -EINVAL);
	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 8, 1, w, 1), &res), -EINVAL);
}
END_TEST

START_TEST(header_zero_rangecount)
{
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint64_t w[2] = { range_word(0, PG), HI_PFN };

	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 16, 0, w, 2), &res), -EINVAL);
}
END_TEST

START_TEST(header_buflen_mismatch)
{
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint64_t w[3] = { range_word(0, 2 * PG), HI_PFN, HI_PFN + 1 };

	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 16, 1, w, 3), &res), -EINVAL);
	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 32, 1, w, 3), &res), -EINVAL);
	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 23, 1, w, 3), &res), -EINVAL);
	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 24, 1, w, 3), &res), 0);
}
END_TEST

START_TEST(header_buflen_16bit_alias)
{
	/* 9000 pages: a stream of 72008 bytes. Linux sends it truncated to
	 * 6472; anything else is refused. */
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint64_t w[27];
	uint32_t i;

	w[0] = range_word(0, 9000 * PG);
	for (i = 1; i < 27; i++)
		w[i] = HI_PFN + i;
	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 0xffff, 1, w, 27), &res), -EINVAL);
	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 0xfff8, 1, w, 27), &res), -EINVAL);
	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, (uint16_t)72008, 1, w, 27), &res),
			 VMBUS_GPADL_INCOMPLETE);
}
END_TEST

START_TEST(header_32bit_overflow)
{
	/* byte_offset + byte_count wraps 32 bits: 4095 + 0xffffffff would be
	 * 4094, "one page"; really 1048577 pages, over the per-GPADL limit. */
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint64_t w[2] = { range_word(PG - 1, UINT32_MAX), HI_PFN };
	uint64_t words = 1 + 1048577;

	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 24, 1, w, 2), &res), -EINVAL);
	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, (uint16_t)(words * 8), 1, w, 2), &res),
			 -E2BIG);
	ck_assert_uint_eq(vmbus_gpadl_count(table), 0);
}
END_TEST

START_TEST(header_more_words_than_declared)
{
	struct vmbus_gpadl_limits lim;
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint64_t w[4] = { range_word(0, 2 * PG), HI_PFN, HI_PFN + 1, HI_PFN + 2 };

	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 24, 1, w, 4), &res), -E2BIG);
	/* Trailing bytes that are not a whole word. */
	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 24, 1, w, 3) + 4, &res), -EINVAL);
	ck_assert_uint_eq(vmbus_gpadl_count(table), 0);

	/* Firmware that posts padded messages, when allowed. */
	vmbus_gpadl_limits_default(&lim);
	lim.flags = VMBUS_GPADL_F_LENIENT_LENGTH;
	make_table(&lim);
	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 24, 1, w, 4) + 4, &res), 0);
	ck_assert_uint_eq(vmbus_gpadl_pfn_count(vmbus_gpadl_find(table, 1)), 2);
}
END_TEST

START_TEST(header_pfn_outside_map)
{
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint64_t w[3] = { range_word(0, 2 * PG), HI_PFN, HOLE_PFN };

	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 24, 1, w, 3), &res), -EFAULT);
	w[2] = UINT64_MAX;
	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 24, 1, w, 3), &res), -EFAULT);
	ck_assert(res.reply);
	ck_assert_uint_eq(vmbus_gpadl_count(table), 0);
}
END_TEST

/* ---- hostile multi-range layouts ----------------------------------------- */

START_TEST(multi_range_bad_buflen)
{
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint64_t w[4] = { range_word(0, PG), HI_PFN, range_word(0, PG), HI_PFN + 1 };

	/* Not whole words; too short for two ranges. */
	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 30, 2, w, 4), &res), -EINVAL);
	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 24, 2, w, 3), &res), -EINVAL);
	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 32, 2, w, 4), &res), 0);
}
END_TEST

START_TEST(multi_range_not_tiling)
{
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	/* Second range claims two pages, the stream has room for one. */
	uint64_t w[4] = { range_word(0, PG), HI_PFN, range_word(0, 2 * PG), HI_PFN + 1 };
	/* Two one-page ranges and a stray word after them. */
	uint64_t x[5] = { range_word(0, PG), HI_PFN, range_word(0, PG), HI_PFN + 1,
			  HI_PFN + 2 };
	/* Second range's word is invalid. */
	uint64_t y[4] = { range_word(0, PG), HI_PFN, range_word(PG, PG), HI_PFN + 1 };

	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 32, 2, w, 4), &res), -EINVAL);
	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 40, 2, x, 5), &res), -EINVAL);
	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 1, 32, 2, y, 4), &res), -EINVAL);
	ck_assert_uint_eq(vmbus_gpadl_count(table), 0);
}
END_TEST

/* ---- hostile bodies --------------------------------------------------------- */

/* Start GPADL id with one range of npages pages, the first in the header. */
static void start_pending(uint32_t id, uint32_t npages)
{
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint64_t w[2] = { range_word(0, npages * PG), HI_PFN };

	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, id, (uint16_t)(8 * (npages + 1)), 1, w, 2),
			 &res), VMBUS_GPADL_INCOMPLETE);
	ck_assert(!res.reply);
}

START_TEST(body_unknown_gpadl)
{
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint64_t p = HI_PFN;

	start_pending(1, 3);
	ck_assert_int_eq(vmbus_gpadl_body(table, msg, mk_body(msg, 0, 2, &p, 1), &res),
			 -ENOENT);
	ck_assert(!res.reply);
	ck_assert_uint_eq(vmbus_gpadl_pending_count(table), 1);
}
END_TEST

START_TEST(body_for_complete_gpadl)
{
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint64_t p = HI_PFN;

	ck_assert_int_eq(send_small(RELID, 3, HI_PFN, 1, &res), 0);
	ck_assert_int_eq(vmbus_gpadl_body(table, msg, mk_body(msg, 0, 3, &p, 1), &res),
			 -EALREADY);
	ck_assert(!res.reply);
	ck_assert_ptr_nonnull(vmbus_gpadl_find(table, 3));
}
END_TEST

START_TEST(body_too_short_or_wrong_type)
{
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint64_t p = HI_PFN + 1;
	size_t len;

	start_pending(1, 2);
	ck_assert_int_eq(vmbus_gpadl_body(table, msg, 15, &res), -EBADMSG);
	len = mk_body(msg, 0, 1, &p, 1);
	msg[0] = CHANNELMSG_GPADL_HEADER;
	ck_assert_int_eq(vmbus_gpadl_body(table, msg, len, &res), -EBADMSG);
	ck_assert(!res.reply);
	/* Nothing was consumed: the right body still completes it. */
	ck_assert_int_eq(vmbus_gpadl_body(table, msg, mk_body(msg, 0, 1, &p, 1), &res), 0);
}
END_TEST

START_TEST(body_without_pfns)
{
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];

	start_pending(1, 2);
	ck_assert_int_eq(vmbus_gpadl_body(table, msg, mk_body(msg, 0, 1, NULL, 0), &res),
			 -EINVAL);
	ck_assert(res.reply);
	ck_assert_uint_eq(res.child_relid, RELID);
	ck_assert_uint_eq(vmbus_gpadl_count(table), 0);
}
END_TEST

START_TEST(body_overruns_total)
{
	struct vmbus_gpadl_limits lim;
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint64_t p[3] = { HI_PFN + 1, HI_PFN + 2, HI_PFN + 3 };

	start_pending(1, 3);
	ck_assert_int_eq(vmbus_gpadl_body(table, msg, mk_body(msg, 0, 1, p, 3), &res),
			 -E2BIG);
	ck_assert(res.reply);
	ck_assert_uint_eq(vmbus_gpadl_count(table), 0);
	ck_assert_uint_eq(vmbus_gpadl_pending_count(table), 0);
	/* The id is free again. */
	start_pending(1, 3);
	ck_assert_int_eq(vmbus_gpadl_body(table, msg, mk_body(msg, 0, 1, p, 2) + 3, &res),
			 -EINVAL);

	vmbus_gpadl_limits_default(&lim);
	lim.flags = VMBUS_GPADL_F_LENIENT_LENGTH;
	make_table(&lim);
	start_pending(1, 3);
	ck_assert_int_eq(vmbus_gpadl_body(table, msg, mk_body(msg, 0, 1, p, 3), &res), 0);
	ck_assert_uint_eq(vmbus_gpadl_pfn_count(vmbus_gpadl_find(table, 1)), 3);
}
END_TEST

START_TEST(body_too_long)
{
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE + 8];
	uint64_t p[29];
	uint32_t i;

	for (i = 0; i < 29; i++)
		p[i] = HI_PFN + 1 + i;
	start_pending(1, 40);
	ck_assert_int_eq(vmbus_gpadl_body(table, msg, mk_body(msg, 0, 1, p, 29), &res),
			 -EMSGSIZE);
	ck_assert(res.reply);
	ck_assert_uint_eq(vmbus_gpadl_count(table), 0);
}
END_TEST

START_TEST(body_pfn_outside_map)
{
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint64_t p[2] = { HI_PFN + 1, HOLE_PFN };

	start_pending(1, 3);
	ck_assert_int_eq(vmbus_gpadl_body(table, msg, mk_body(msg, 0, 1, p, 2), &res),
			 -EFAULT);
	ck_assert(res.reply);
	ck_assert_uint_eq(res.child_relid, RELID);
	ck_assert_uint_eq(vmbus_gpadl_count(table), 0);
}
END_TEST

START_TEST(body_msgnumber_out_of_order)
{
	struct vmbus_gpadl_limits lim;
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint64_t p = HI_PFN + 1;

	/* Not checked by default: what OpenVMM and QEMU do. */
	start_pending(1, 3);
	ck_assert_int_eq(vmbus_gpadl_body(table, msg, mk_body(msg, 9, 1, &p, 1), &res),
			 VMBUS_GPADL_INCOMPLETE);

	vmbus_gpadl_limits_default(&lim);
	lim.flags = VMBUS_GPADL_F_CHECK_MSGNUMBER;
	make_table(&lim);
	start_pending(1, 3);
	ck_assert_int_eq(vmbus_gpadl_body(table, msg, mk_body(msg, 2, 1, &p, 1), &res),
			 -EPROTO);
	ck_assert(res.reply);
	ck_assert_uint_eq(vmbus_gpadl_count(table), 0);
	/* 1 then 1 again. */
	start_pending(1, 3);
	ck_assert_int_eq(vmbus_gpadl_body(table, msg, mk_body(msg, 1, 1, &p, 1), &res),
			 VMBUS_GPADL_INCOMPLETE);
	ck_assert_int_eq(vmbus_gpadl_body(table, msg, mk_body(msg, 1, 1, &p, 1), &res),
			 -EPROTO);
	/* 0 then numbered: mixing is refused. */
	start_pending(1, 3);
	ck_assert_int_eq(vmbus_gpadl_body(table, msg, mk_body(msg, 0, 1, &p, 1), &res),
			 VMBUS_GPADL_INCOMPLETE);
	ck_assert_int_eq(vmbus_gpadl_body(table, msg, mk_body(msg, 2, 1, &p, 1), &res),
			 -EPROTO);
	ck_assert_uint_eq(vmbus_gpadl_count(table), 0);
}
END_TEST

/* ---- limits -------------------------------------------------------------------- */

START_TEST(limit_pending)
{
	struct vmbus_gpadl_limits lim;
	struct vmbus_gpadl_result res;
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint64_t p = HI_PFN + 1;
	uint64_t w[2] = { range_word(0, 2 * PG), HI_PFN };

	vmbus_gpadl_limits_default(&lim);
	lim.max_pending = 2;
	make_table(&lim);
	start_pending(1, 2);
	start_pending(2, 2);
	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 3, 24, 1, w, 2), &res), -EAGAIN);
	ck_assert(res.reply);
	ck_assert_uint_eq(vmbus_gpadl_count(table), 2);
	/* A GPADL complete in its header needs no pending slot. */
	ck_assert_int_eq(send_small(RELID, 4, HI_PFN, 1, &res), 0);
	/* Completing one makes room. */
	ck_assert_int_eq(vmbus_gpadl_body(table, msg, mk_body(msg, 0, 1, &p, 1), &res), 0);
	ck_assert_int_eq(vmbus_gpadl_header(table, msg,
			 mk_header(msg, RELID, 3, 24, 1, w, 2), &res),
			 VMBUS_GPADL_INCOMPLETE);
}
END_TEST

START_TEST(limit_gpadls)
{
	struct vmbus_gpadl_limits lim;
	struct vmbus_gpadl_result res;
	uint32_t id;

	vmbus_gpadl_limits_default(&lim);
	lim.max_gpadls = 4;
	make_table(&lim);
	for (id = 1; id <= 4; id++)
		ck_assert_int_eq(send_small(RELID, id, HI_PFN, 1, &res), 0);
	ck_assert_int_eq(send_small(RELID, 5, HI_PFN, 1, &res), -ENOSPC);
	ck_assert_int_eq(vmbus_gpadl_teardown(table, RELID, 2), 0);
	ck_assert_int_eq(send_small(RELID, 5, HI_PFN, 1, &res), 0);
}
END_TEST

START_TEST(limit_pfns)
{
	struct vmbus_gpadl_limits lim;
	struct vmbus_gpadl_result res;

	vmbus_gpadl_limits_default(&lim);
	lim.max_gpadl_pfns = 11;	/* 10 pages + the range word */
	lim.max_total_pfns = 25;
	make_table(&lim);
	ck_assert_int_eq(send_small(RELID, 1, HI_PFN, 11, &res), -E2BIG);
	ck_assert_int_eq(send_small(RELID, 1, HI_PFN, 10, &res), 0);
	ck_assert_int_eq(send_small(RELID, 2, HI_PFN, 10, &res), 0);
	ck_assert_int_eq(send_small(RELID, 3, HI_PFN, 4, &res), -ENOMEM);
	ck_assert_int_eq(send_small(RELID, 3, HI_PFN, 2, &res), 0);
	/* Pending GPADLs are charged in full, up front. */
	ck_assert_int_eq(vmbus_gpadl_remove_channel(table, RELID), 3);
	start_pending(10, 10);
	start_pending(11, 10);
	ck_assert_int_eq(send_small(RELID, 12, HI_PFN, 4, &res), -ENOMEM);
}
END_TEST

START_TEST(limits_zero_refused)
{
	struct vmbus_gpadl_limits lim;

	vmbus_gpadl_limits_default(&lim);
	lim.max_pending = 0;
	ck_assert_ptr_null(vmbus_gpadl_table_new(map, &lim, NULL));
	ck_assert_ptr_null(vmbus_gpadl_table_new(NULL, NULL, NULL));
}
END_TEST

/* ---- references, teardown, removal -------------------------------------------- */

START_TEST(teardown_rules)
{
	struct vmbus_gpadl_result res;
	struct vmbus_gpadl *g, *g2;

	ck_assert_int_eq(send_small(RELID, 1, HI_PFN, 4, &res), 0);
	start_pending(2, 3);
	ck_assert_int_eq(vmbus_gpadl_teardown(table, RELID, 99), -ENOENT);
	ck_assert_int_eq(vmbus_gpadl_teardown(table, OTHER_RELID, 1), -EPERM);
	ck_assert_int_eq(vmbus_gpadl_teardown(table, RELID, 2), -EINPROGRESS);

	ck_assert_int_eq(vmbus_gpadl_get(table, OTHER_RELID, 1, &g), -EPERM);
	ck_assert_int_eq(vmbus_gpadl_get(table, RELID, 2, &g), -ENOENT);
	ck_assert_int_eq(vmbus_gpadl_get(table, RELID, 1, &g), 0);
	ck_assert_int_eq(vmbus_gpadl_get(table, RELID, 1, &g2), 0);
	ck_assert_ptr_eq(g, g2);
	ck_assert_int_eq(vmbus_gpadl_teardown(table, RELID, 1), -EBUSY);
	vmbus_gpadl_put(table, g2);
	ck_assert_int_eq(vmbus_gpadl_teardown(table, RELID, 1), -EBUSY);
	vmbus_gpadl_put(table, g);
	ck_assert_int_eq(vmbus_gpadl_teardown(table, RELID, 1), 0);
	ck_assert_ptr_null(vmbus_gpadl_find(table, 1));
	ck_assert_int_eq(vmbus_gpadl_teardown(table, RELID, 1), -ENOENT);
	ck_assert_uint_eq(vmbus_gpadl_count(table), 1);
}
END_TEST

START_TEST(remove_channel_keeps_others)
{
	struct vmbus_gpadl_result res;

	ck_assert_int_eq(send_small(RELID, 1, HI_PFN, 1, &res), 0);
	ck_assert_int_eq(send_small(OTHER_RELID, 2, HI_PFN, 1, &res), 0);
	start_pending(3, 5);
	ck_assert_uint_eq(vmbus_gpadl_remove_channel(table, RELID), 2);
	ck_assert_ptr_null(vmbus_gpadl_find(table, 1));
	ck_assert_ptr_nonnull(vmbus_gpadl_find(table, 2));
	ck_assert_uint_eq(vmbus_gpadl_count(table), 1);
	ck_assert_uint_eq(vmbus_gpadl_pending_count(table), 0);
	ck_assert_uint_eq(vmbus_gpadl_remove_all(table), 1);
	ck_assert_uint_eq(vmbus_gpadl_count(table), 0);
}
END_TEST

START_TEST(remove_while_referenced)
{
	/* A rescinded channel's ring GPADL may still be mapped: it leaves the
	 * table (its id is free again) but lives until the last put. */
	struct vmbus_gpadl_limits lim;
	struct vmbus_gpadl_result res;
	struct vmbus_gpa_pagelist pl;
	struct vmbus_gpadl *g;

	vmbus_gpadl_limits_default(&lim);
	lim.max_total_pfns = 8;
	make_table(&lim);
	ck_assert_int_eq(send_small(RELID, 1, HI_PFN + 3, 4, &res), 0);
	ck_assert_int_eq(vmbus_gpadl_get(table, RELID, 1, &g), 0);
	ck_assert_uint_eq(vmbus_gpadl_remove_all(table), 1);
	ck_assert_ptr_null(vmbus_gpadl_find(table, 1));
	ck_assert_int_eq(vmbus_gpadl_range(g, 0, &pl), 0);
	ck_assert_uint_eq(pl.pfns[3], HI_PFN + 6);
	/* Still charged against the budget until put. */
	ck_assert_int_eq(send_small(RELID, 1, HI_PFN, 4, &res), -ENOMEM);
	ck_assert_int_eq(send_small(RELID, 1, HI_PFN, 2, &res), 0);
	vmbus_gpadl_put(table, g);
	ck_assert_int_eq(send_small(RELID, 2, HI_PFN, 4, &res), 0);
}
END_TEST

START_TEST(map_pages_needs_whole_pages)
{
	struct vmbus_gpadl_build b;
	const struct vmbus_gpadl *g;
	uint64_t pfns[2] = { HI_PFN, HI_PFN + 1 };
	void *pages[2];

	ck_assert_int_eq(vmbus_gpadl_build_init_single(&b, RELID, 1, pfns, 8, PG), 1);
	ck_assert_int_eq(build_and_feed(&b), 0);
	g = vmbus_gpadl_find(table, 1);
	ck_assert_int_eq(vmbus_gpadl_map_pages(table, g, pages, 2), -EINVAL);
	ck_assert_int_eq(vmbus_gpadl_build_init_single(&b, RELID, 2, pfns, 0, PG + 8), 1);
	ck_assert_int_eq(build_and_feed(&b), 0);
	g = vmbus_gpadl_find(table, 2);
	ck_assert_int_eq(vmbus_gpadl_map_pages(table, g, pages, 2), -EINVAL);
}
END_TEST

/* ---- the encoder's own checks ---------------------------------------------------- */

START_TEST(build_rejects_bad_input)
{
	struct vmbus_gpadl_build b;
	uint64_t pfns[2] = { 1, 2 };
	struct vmbus_gpadl_build_range r[2] = { { 0, PG, pfns }, { 0, PG, NULL } };
	static uint64_t big[8200];
	struct vmbus_gpadl_build_range rb[2] = { { 0, 4100 * PG, big }, { 0, 4100 * PG, big } };
	uint8_t msg[VMBUS_MSG_MAX_SIZE];

	ck_assert_int_eq(vmbus_gpadl_build_init_single(&b, 1, 1, pfns, PG, 1), -EINVAL);
	ck_assert_int_eq(vmbus_gpadl_build_init_single(&b, 1, 1, pfns, 0, 0), -EINVAL);
	ck_assert_int_eq(vmbus_gpadl_build_init_single(&b, 1, 1, NULL, 0, PG), -EINVAL);
	ck_assert_int_eq(vmbus_gpadl_build_init(&b, 1, 1, r, 0), -EINVAL);
	ck_assert_int_eq(vmbus_gpadl_build_init(&b, 1, 1, r, 2), -EINVAL);
	ck_assert_int_eq(vmbus_gpadl_build_init(&b, 1, 1, rb, 2), -E2BIG);

	ck_assert_int_eq(vmbus_gpadl_build_init_single(&b, 1, 1, pfns, 0, 2 * PG), 1);
	ck_assert_int_eq(vmbus_gpadl_build_msg(&b, 1, msg, sizeof(msg)), -EINVAL);
	ck_assert_int_eq(vmbus_gpadl_build_msg(&b, 0, msg, 20 + 23), -ENOBUFS);
	ck_assert_int_eq(vmbus_gpadl_build_msg(&b, 0, msg, 20 + 24), 44);
}
END_TEST

START_TEST(build_wire_bytes)
{
	/* Fields at their wire offsets, bodies numbered 0 like Linux. */
	struct vmbus_gpadl_build b;
	uint64_t pfns[30];
	uint8_t msg[VMBUS_MSG_MAX_SIZE];
	uint32_t v32;
	uint16_t v16;
	uint64_t v64;
	int i;

	for (i = 0; i < 30; i++)
		pfns[i] = 0x1000 + i;
	ck_assert_int_eq(vmbus_gpadl_build_init_single(&b, 0x11, 0x22, pfns, 5, 30 * PG - 5),
			 2);
	ck_assert_int_eq(vmbus_gpadl_build_msg(&b, 0, msg, sizeof(msg)), 236);
	memcpy(&v32, msg, 4);
	ck_assert_uint_eq(v32, CHANNELMSG_GPADL_HEADER);
	memcpy(&v32, msg + 8, 4);
	ck_assert_uint_eq(v32, 0x11);
	memcpy(&v32, msg + 12, 4);
	ck_assert_uint_eq(v32, 0x22);
	memcpy(&v16, msg + 16, 2);
	ck_assert_uint_eq(v16, 31 * 8);
	memcpy(&v16, msg + 18, 2);
	ck_assert_uint_eq(v16, 1);
	memcpy(&v32, msg + 20, 4);	/* byte_count first, as in gpa_range */
	ck_assert_uint_eq(v32, 30 * PG - 5);
	memcpy(&v32, msg + 24, 4);
	ck_assert_uint_eq(v32, 5);
	memcpy(&v64, msg + 28, 8);
	ck_assert_uint_eq(v64, 0x1000);
	memcpy(&v64, msg + 228, 8);
	ck_assert_uint_eq(v64, 0x1000 + 25);

	ck_assert_int_eq(vmbus_gpadl_build_msg(&b, 1, msg, sizeof(msg)), 16 + 4 * 8);
	memcpy(&v32, msg, 4);
	ck_assert_uint_eq(v32, CHANNELMSG_GPADL_BODY);
	memcpy(&v32, msg + 8, 4);
	ck_assert_uint_eq(v32, 0);
	memcpy(&v32, msg + 12, 4);
	ck_assert_uint_eq(v32, 0x22);
	memcpy(&v64, msg + 16, 8);
	ck_assert_uint_eq(v64, 0x1000 + 26);
	memcpy(&v64, msg + 40, 8);
	ck_assert_uint_eq(v64, 0x1000 + 29);
}
END_TEST

static Suite *gpadl_suite(void)
{
	Suite *s = suite_create("gpadl");
	TCase *rt = tcase_create("roundtrip");
	TCase *hdr = tcase_create("header");
	TCase *body = tcase_create("body");
	TCase *life = tcase_create("lifetime");

	tcase_add_checked_fixture(rt, setup, teardown);
	tcase_set_timeout(rt, 60);
	tcase_add_test(rt, roundtrip_1);
	tcase_add_test(rt, roundtrip_26);
	tcase_add_test(rt, roundtrip_27);
	tcase_add_test(rt, roundtrip_54);
	tcase_add_test(rt, roundtrip_55);
	tcase_add_test(rt, roundtrip_55_offset);
	tcase_add_test(rt, roundtrip_64mib);
	tcase_add_test(rt, roundtrip_multi_range);
	tcase_add_test(rt, unnumbered_and_numbered_bodies);
	tcase_add_test(rt, build_rejects_bad_input);
	tcase_add_test(rt, build_wire_bytes);
	suite_add_tcase(s, rt);

	tcase_add_checked_fixture(hdr, setup, teardown);
	tcase_add_test(hdr, header_too_short);
	tcase_add_test(hdr, header_wrong_type);
	tcase_add_test(hdr, header_too_long);
	tcase_add_test(hdr, header_duplicate_complete);
	tcase_add_test(hdr, header_duplicate_pending);
	tcase_add_test(hdr, header_bad_byte_offset);
	tcase_add_test(hdr, header_zero_byte_count);
	tcase_add_test(hdr, header_zero_rangecount);
	tcase_add_test(hdr, header_buflen_mismatch);
	tcase_add_test(hdr, header_buflen_16bit_alias);
	tcase_add_test(hdr, header_32bit_overflow);
	tcase_add_test(hdr, header_more_words_than_declared);
	tcase_add_test(hdr, header_pfn_outside_map);
	tcase_add_test(hdr, multi_range_bad_buflen);
	tcase_add_test(hdr, multi_range_not_tiling);
	suite_add_tcase(s, hdr);

	tcase_add_checked_fixture(body, setup, teardown);
	tcase_add_test(body, body_unknown_gpadl);
	tcase_add_test(body, body_for_complete_gpadl);
	tcase_add_test(body, body_too_short_or_wrong_type);
	tcase_add_test(body, body_without_pfns);
	tcase_add_test(body, body_overruns_total);
	tcase_add_test(body, body_too_long);
	tcase_add_test(body, body_pfn_outside_map);
	tcase_add_test(body, body_msgnumber_out_of_order);
	suite_add_tcase(s, body);

	tcase_add_checked_fixture(life, setup, teardown);
	tcase_add_test(life, limit_pending);
	tcase_add_test(life, limit_gpadls);
	tcase_add_test(life, limit_pfns);
	tcase_add_test(life, limits_zero_refused);
	tcase_add_test(life, teardown_rules);
	tcase_add_test(life, remove_channel_keeps_others);
	tcase_add_test(life, remove_while_referenced);
	tcase_add_test(life, map_pages_needs_whole_pages);
	suite_add_tcase(s, life);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(gpadl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
