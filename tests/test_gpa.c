/* SPDX-License-Identifier: MIT */
/*
 * Tests for the guest memory map (libvmbus/gpa.c): regions, translations at
 * their edges, page lists, copies and iovecs. Guest memory is surrounded by
 * PROT_NONE guard pages, so any access outside it kills the test.
 * Page-list shape: struct vmbus_gpa_range (include/vmbus/proto/vmbus.h).
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include <vmbus/gpa.h>
#include <vmbus/proto/tlfs.h>

#define PG	HV_PAGE_SIZE

/*
 * Guest layout: region A, 4 pages at GPA 0; hole; region B, 8 pages at GPA
 * 1 MiB; region C, 2 pages at GPA 1 MiB + 32 KiB (GPA-adjacent to B, but a
 * guard page apart in host memory). Host: guard, A, guard, B, guard, C,
 * guard.
 */
#define A_GPA	0x0ull
#define A_PAGES	4
#define B_GPA	0x100000ull
#define B_PAGES	8
#define C_GPA	(B_GPA + B_PAGES * PG)
#define C_PAGES	2
#define A_PFN	(A_GPA >> HV_PAGE_SHIFT)
#define B_PFN	(B_GPA >> HV_PAGE_SHIFT)
#define C_PFN	(C_GPA >> HV_PAGE_SHIFT)

static uint8_t *arena;
static size_t arena_len;
static uint8_t *host_a, *host_b, *host_c;
static struct vmbus_gpa_map *map;

static void setup(void)
{
	arena_len = (size_t)(1 + A_PAGES + 1 + B_PAGES + 1 + C_PAGES + 1) * PG;
	arena = mmap(NULL, arena_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(arena, MAP_FAILED);
	host_a = arena + PG;
	host_b = host_a + (A_PAGES + 1) * PG;
	host_c = host_b + (B_PAGES + 1) * PG;
	ck_assert_int_eq(mprotect(host_a, A_PAGES * PG, PROT_READ | PROT_WRITE), 0);
	ck_assert_int_eq(mprotect(host_b, B_PAGES * PG, PROT_READ | PROT_WRITE), 0);
	ck_assert_int_eq(mprotect(host_c, C_PAGES * PG, PROT_READ | PROT_WRITE), 0);
	memset(host_a, 0xaa, A_PAGES * PG);
	memset(host_b, 0xbb, B_PAGES * PG);
	memset(host_c, 0xcc, C_PAGES * PG);

	map = vmbus_gpa_map_new();
	ck_assert_ptr_nonnull(map);
	ck_assert_int_eq(vmbus_gpa_map_add(map, A_GPA, A_PAGES * PG, host_a), 0);
	ck_assert_int_eq(vmbus_gpa_map_add(map, B_GPA, B_PAGES * PG, host_b), 0);
	ck_assert_int_eq(vmbus_gpa_map_add(map, C_GPA, C_PAGES * PG, host_c), 0);
}

static void teardown(void)
{
	vmbus_gpa_map_free(map);
	munmap(arena, arena_len);
}

/* ---- regions ------------------------------------------------------------ */

START_TEST(add_rejects_unaligned_and_empty)
{
	static uint8_t page[PG] __attribute__((aligned(PG)));

	ck_assert_int_eq(vmbus_gpa_map_add(map, 0x200001, PG, page), -EINVAL);
	ck_assert_int_eq(vmbus_gpa_map_add(map, 0x200000, PG + 1, page), -EINVAL);
	ck_assert_int_eq(vmbus_gpa_map_add(map, 0x200000, 0, page), -EINVAL);
	ck_assert_int_eq(vmbus_gpa_map_add(map, 0x200000, PG, NULL), -EINVAL);
	ck_assert_uint_eq(vmbus_gpa_map_region_count(map), 3);
}
END_TEST

START_TEST(add_rejects_wrapping_region)
{
	static uint8_t page[PG] __attribute__((aligned(PG)));

	ck_assert_int_eq(vmbus_gpa_map_add(map, UINT64_MAX - PG + 1, 2 * PG, page),
			 -EOVERFLOW);
	ck_assert_int_eq(vmbus_gpa_map_add(map, 0x200000, UINT64_MAX & ~(uint64_t)(PG - 1),
					   page), -EOVERFLOW);
	/* The very last page of the space is fine: its end is 2^64, exactly. */
	ck_assert_int_eq(vmbus_gpa_map_add(map, UINT64_MAX - PG + 1, PG, page), 0);
	ck_assert_ptr_eq(vmbus_gpa_page(map, UINT64_MAX >> HV_PAGE_SHIFT), page);
}
END_TEST

START_TEST(add_rejects_overlaps)
{
	static uint8_t pages[16 * PG] __attribute__((aligned(PG)));

	/* Same start, inside, straddling the start, straddling the end,
	 * swallowing a whole region. */
	ck_assert_int_eq(vmbus_gpa_map_add(map, B_GPA, PG, pages), -EEXIST);
	ck_assert_int_eq(vmbus_gpa_map_add(map, B_GPA + 2 * PG, PG, pages), -EEXIST);
	ck_assert_int_eq(vmbus_gpa_map_add(map, B_GPA - PG, 2 * PG, pages), -EEXIST);
	ck_assert_int_eq(vmbus_gpa_map_add(map, A_GPA + 3 * PG, 2 * PG, pages), -EEXIST);
	ck_assert_int_eq(vmbus_gpa_map_add(map, B_GPA - PG, 12 * PG, pages), -EEXIST);
	/* Touching without overlapping is fine on both sides. */
	ck_assert_int_eq(vmbus_gpa_map_add(map, B_GPA - PG, PG, pages), 0);
	ck_assert_int_eq(vmbus_gpa_map_add(map, A_GPA + A_PAGES * PG, PG, pages + PG), 0);
	ck_assert_uint_eq(vmbus_gpa_map_region_count(map), 5);
}
END_TEST

START_TEST(add_rejects_when_full)
{
	static uint8_t page[PG] __attribute__((aligned(PG)));
	unsigned int i;

	for (i = 3; i < VMBUS_GPA_MAX_REGIONS; i++)
		ck_assert_int_eq(vmbus_gpa_map_add(map, 0x10000000ull + i * 2 * PG,
						   PG, page), 0);
	ck_assert_int_eq(vmbus_gpa_map_add(map, 0x20000000ull, PG, page), -ENOSPC);
	ck_assert_uint_eq(vmbus_gpa_map_region_count(map), VMBUS_GPA_MAX_REGIONS);
}
END_TEST

/* ---- translation ---------------------------------------------------------- */

START_TEST(translate_region_edges)
{
	void *p = NULL;

	ck_assert_int_eq(vmbus_gpa_translate(map, A_GPA, 1, &p), 0);
	ck_assert_ptr_eq(p, host_a);
	ck_assert_int_eq(vmbus_gpa_translate(map, A_GPA, A_PAGES * PG, &p), 0);
	ck_assert_ptr_eq(p, host_a);
	ck_assert_int_eq(vmbus_gpa_translate(map, A_GPA + A_PAGES * PG - 1, 1, &p), 0);
	ck_assert_ptr_eq(p, host_a + A_PAGES * PG - 1);
	ck_assert_int_eq(vmbus_gpa_translate(map, B_GPA + 5 * PG + 17, 100, &p), 0);
	ck_assert_ptr_eq(p, host_b + 5 * PG + 17);
	ck_assert_int_eq(vmbus_gpa_translate(map, C_GPA + 2 * PG - 8, 8, &p), 0);
	ck_assert_ptr_eq(p, host_c + 2 * PG - 8);
}
END_TEST

START_TEST(translate_rejects_outside)
{
	void *p = (void *)1;

	/* One byte past a region's end, in the hole, past everything. */
	ck_assert_int_eq(vmbus_gpa_translate(map, A_GPA + A_PAGES * PG - 1, 2, &p), -EFAULT);
	ck_assert_int_eq(vmbus_gpa_translate(map, A_GPA + A_PAGES * PG, 1, &p), -EFAULT);
	ck_assert_int_eq(vmbus_gpa_translate(map, B_GPA - 1, 1, &p), -EFAULT);
	ck_assert_int_eq(vmbus_gpa_translate(map, C_GPA + C_PAGES * PG, 1, &p), -EFAULT);
	/* B and C are adjacent as GPAs but are two regions: no range spans them. */
	ck_assert_int_eq(vmbus_gpa_translate(map, C_GPA - 4, 8, &p), -EFAULT);
	ck_assert_ptr_eq(p, (void *)1);
}
END_TEST

START_TEST(translate_rejects_wrap_and_empty)
{
	void *p = (void *)1;

	ck_assert_int_eq(vmbus_gpa_translate(map, B_GPA, 0, &p), -EINVAL);
	ck_assert_int_eq(vmbus_gpa_translate(map, B_GPA, UINT64_MAX, &p), -EOVERFLOW);
	ck_assert_int_eq(vmbus_gpa_translate(map, UINT64_MAX, 2, &p), -EOVERFLOW);
	/* A length that wraps onto region A must not be taken for a small one. */
	ck_assert_int_eq(vmbus_gpa_translate(map, B_GPA, UINT64_MAX - B_GPA + 2, &p),
			 -EOVERFLOW);
	ck_assert_ptr_eq(p, (void *)1);
}
END_TEST

START_TEST(translate_alternating_regions)
{
	unsigned int i;
	void *p;

	/* The remembered region must never answer for another. */
	for (i = 0; i < 64; i++) {
		uint64_t gpa = (i % 3 == 0) ? A_GPA + (i % A_PAGES) * PG :
			       (i % 3 == 1) ? B_GPA + (i % B_PAGES) * PG :
					      C_GPA + (i % C_PAGES) * PG;
		uint8_t *want = (i % 3 == 0) ? host_a + (i % A_PAGES) * PG :
				(i % 3 == 1) ? host_b + (i % B_PAGES) * PG :
					       host_c + (i % C_PAGES) * PG;

		ck_assert_int_eq(vmbus_gpa_translate(map, gpa, PG, &p), 0);
		ck_assert_ptr_eq(p, want);
		ck_assert_int_eq(vmbus_gpa_translate(map, gpa + 0x40000, 1, &p), -EFAULT);
	}
}
END_TEST

START_TEST(page_lookup)
{
	ck_assert_ptr_eq(vmbus_gpa_page(map, A_PFN + 3), host_a + 3 * PG);
	ck_assert_ptr_eq(vmbus_gpa_page(map, B_PFN), host_b);
	ck_assert_ptr_eq(vmbus_gpa_page(map, C_PFN + 1), host_c + PG);
	ck_assert_ptr_null(vmbus_gpa_page(map, A_PFN + 4));
	ck_assert_ptr_null(vmbus_gpa_page(map, C_PFN + 2));
	ck_assert_ptr_null(vmbus_gpa_page(map, UINT64_MAX));
	/* A PFN whose GPA wraps to 0 must not alias region A. */
	ck_assert_ptr_null(vmbus_gpa_page(map, 1ull << 52));
}
END_TEST

/* ---- page lists ----------------------------------------------------------- */

START_TEST(pagelist_check_shapes)
{
	uint64_t pfns[3] = { B_PFN + 1, B_PFN, A_PFN + 2 };
	struct vmbus_gpa_pagelist pl = { pfns, 3, 100, 2 * PG };

	ck_assert_int_eq(vmbus_gpa_pagelist_check(map, &pl, true), 0);
	pl.byte_count = 2 * PG - 100;		/* fits two pages */
	ck_assert_int_eq(vmbus_gpa_pagelist_check(map, &pl, true), -EINVAL);
	ck_assert_int_eq(vmbus_gpa_pagelist_check(map, &pl, false), 0);
	pl.byte_count = 3 * PG - 99;		/* needs four */
	ck_assert_int_eq(vmbus_gpa_pagelist_check(map, &pl, false), -EINVAL);
	pl.byte_count = 1;
	pl.byte_offset = PG;
	ck_assert_int_eq(vmbus_gpa_pagelist_check(map, &pl, false), -EINVAL);
	pl.byte_offset = 0;
	pl.byte_count = 0;
	ck_assert_int_eq(vmbus_gpa_pagelist_check(map, &pl, false), -EINVAL);
}
END_TEST

START_TEST(pagelist_check_no_32bit_wrap)
{
	uint64_t pfns[2] = { B_PFN, B_PFN + 1 };
	/* 4095 + 0xffffffff wraps in 32 bits to 4094, "one page". */
	struct vmbus_gpa_pagelist pl = { pfns, 1, PG - 1, UINT32_MAX };

	ck_assert_int_eq(vmbus_gpa_pagelist_check(map, &pl, false), -EINVAL);
	ck_assert_int_eq(vmbus_gpa_pagelist_check(map, &pl, true), -EINVAL);
}
END_TEST

START_TEST(pagelist_check_unmapped_pfn)
{
	uint64_t pfns[3] = { B_PFN, A_PFN + A_PAGES, B_PFN + 1 };
	struct vmbus_gpa_pagelist pl = { pfns, 3, 0, 3 * PG };

	ck_assert_int_eq(vmbus_gpa_pagelist_check(map, &pl, true), -EFAULT);
	pfns[1] = UINT64_MAX;
	ck_assert_int_eq(vmbus_gpa_pagelist_check(map, &pl, true), -EFAULT);
}
END_TEST

START_TEST(copy_roundtrip_across_pages)
{
	/* Scattered, out-of-order pages from two regions. */
	uint64_t pfns[4] = { B_PFN + 6, A_PFN + 1, C_PFN, B_PFN + 2 };
	struct vmbus_gpa_pagelist pl = { pfns, 4, 300, 3 * PG + 500 };
	uint8_t *src = malloc(pl.byte_count), *dst = malloc(pl.byte_count);
	uint32_t i;

	for (i = 0; i < pl.byte_count; i++)
		src[i] = (uint8_t)(i * 7 + 3);
	ck_assert_int_eq(vmbus_gpa_pagelist_write(map, &pl, 0, src, pl.byte_count), 0);

	/* Where the bytes landed, and what stayed untouched around them. */
	ck_assert_int_eq(memcmp(host_b + 6 * PG + 300, src, PG - 300), 0);
	ck_assert_uint_eq(host_b[6 * PG + 299], 0xbb);
	ck_assert_int_eq(memcmp(host_a + PG, src + PG - 300, PG), 0);
	ck_assert_int_eq(memcmp(host_c, src + 2 * PG - 300, PG), 0);
	ck_assert_int_eq(memcmp(host_b + 2 * PG, src + 3 * PG - 300, 800), 0);
	ck_assert_uint_eq(host_b[2 * PG + 800], 0xbb);
	ck_assert_uint_eq(host_a[0], 0xaa);
	ck_assert_uint_eq(host_a[2 * PG], 0xaa);

	memset(dst, 0, pl.byte_count);
	ck_assert_int_eq(vmbus_gpa_pagelist_read(map, &pl, 0, dst, pl.byte_count), 0);
	ck_assert_int_eq(memcmp(src, dst, pl.byte_count), 0);

	/* A window in the middle, crossing one page boundary. */
	memset(dst, 0, 64);
	ck_assert_int_eq(vmbus_gpa_pagelist_read(map, &pl, PG - 300 - 32, dst, 64), 0);
	ck_assert_int_eq(memcmp(dst, src + PG - 300 - 32, 64), 0);
	free(src);
	free(dst);
}
END_TEST

START_TEST(copy_rejects_outside_view)
{
	uint64_t pfns[2] = { B_PFN, B_PFN + 1 };
	struct vmbus_gpa_pagelist pl = { pfns, 2, 0, PG + 10 };
	uint8_t buf[32];

	memset(buf, 0x55, sizeof(buf));
	ck_assert_int_eq(vmbus_gpa_pagelist_write(map, &pl, PG, buf, 11), -ERANGE);
	ck_assert_int_eq(vmbus_gpa_pagelist_write(map, &pl, UINT32_MAX, buf, 2), -ERANGE);
	ck_assert_int_eq(vmbus_gpa_pagelist_read(map, &pl, 0, buf, (size_t)PG + 11), -ERANGE);
	ck_assert_uint_eq(host_b[PG], 0xbb);
	ck_assert_uint_eq(host_b[PG + 10], 0xbb);
	/* The last byte of the view is reachable. */
	ck_assert_int_eq(vmbus_gpa_pagelist_write(map, &pl, PG + 9, buf, 1), 0);
	ck_assert_uint_eq(host_b[PG + 9], 0x55);
	ck_assert_uint_eq(host_b[PG + 10], 0xbb);
}
END_TEST

START_TEST(copy_never_leaves_guest_memory)
{
	/* The page after region A is a guard page in the host: a copy that
	 * reached it would fault. The map must refuse before touching it. */
	uint64_t pfns[2] = { A_PFN + A_PAGES - 1, A_PFN + A_PAGES };
	struct vmbus_gpa_pagelist pl = { pfns, 2, PG - 16, 32 };
	uint8_t buf[32] = { 0 };

	ck_assert_int_eq(vmbus_gpa_pagelist_write(map, &pl, 0, buf, 32), -EFAULT);
	ck_assert_int_eq(vmbus_gpa_pagelist_read(map, &pl, 8, buf, 24), -EFAULT);
	/* Only the pages an access touches count: the mapped first page of
	 * the same view reads fine. */
	ck_assert_int_eq(vmbus_gpa_pagelist_read(map, &pl, 0, buf, 16), 0);
	ck_assert_uint_eq(buf[0], 0xaa);
	memset(buf, 0, sizeof(buf));
	ck_assert_uint_eq(host_a[A_PAGES * PG - 16], 0xaa);
	/* The same view ending within A's last page is fine. */
	pl.pfn_count = 1;
	pl.byte_count = 16;
	ck_assert_int_eq(vmbus_gpa_pagelist_write(map, &pl, 0, buf, 16), 0);
	ck_assert_uint_eq(host_a[A_PAGES * PG - 1], 0);
}
END_TEST

/* ---- iovecs --------------------------------------------------------------- */

START_TEST(iov_merges_adjacent_pages)
{
	uint64_t pfns[4] = { B_PFN + 1, B_PFN + 2, B_PFN + 3, B_PFN + 4 };
	struct vmbus_gpa_pagelist pl = { pfns, 4, 10, 4 * PG - 20 };
	struct iovec iov[4];

	ck_assert_int_eq(vmbus_gpa_pagelist_iov(map, &pl, 0, pl.byte_count, iov, 4), 1);
	ck_assert_ptr_eq(iov[0].iov_base, host_b + PG + 10);
	ck_assert_uint_eq(iov[0].iov_len, 4 * PG - 20);
	/* A window inside. */
	ck_assert_int_eq(vmbus_gpa_pagelist_iov(map, &pl, PG, 2 * PG, iov, 1), 1);
	ck_assert_ptr_eq(iov[0].iov_base, host_b + 2 * PG + 10);
	ck_assert_uint_eq(iov[0].iov_len, 2 * PG);
}
END_TEST

START_TEST(iov_splits_discontiguous_pages)
{
	/* B+1, B+2 merge; B+5 is a jump; B+7 -> C+0 are adjacent GPAs but a
	 * guard page apart in the host; B+4 comes backwards. */
	uint64_t pfns[6] = { B_PFN + 1, B_PFN + 2, B_PFN + 5, B_PFN + 7, C_PFN, B_PFN + 4 };
	struct vmbus_gpa_pagelist pl = { pfns, 6, 0, 6 * PG };
	struct iovec iov[8];
	size_t total = 0;
	int n, i;

	n = vmbus_gpa_pagelist_iov(map, &pl, 0, pl.byte_count, iov, 8);
	ck_assert_int_eq(n, 5);
	ck_assert_ptr_eq(iov[0].iov_base, host_b + PG);
	ck_assert_uint_eq(iov[0].iov_len, 2 * PG);
	ck_assert_ptr_eq(iov[1].iov_base, host_b + 5 * PG);
	ck_assert_ptr_eq(iov[2].iov_base, host_b + 7 * PG);
	ck_assert_ptr_eq(iov[3].iov_base, host_c);
	ck_assert_ptr_eq(iov[4].iov_base, host_b + 4 * PG);
	for (i = 0; i < n; i++)
		total += iov[i].iov_len;
	ck_assert_uint_eq(total, pl.byte_count);
}
END_TEST

START_TEST(iov_reports_short_array)
{
	uint64_t pfns[3] = { B_PFN + 1, B_PFN + 3, B_PFN + 5 };
	struct vmbus_gpa_pagelist pl = { pfns, 3, 0, 3 * PG };
	struct iovec iov[3];

	ck_assert_int_eq(vmbus_gpa_pagelist_iov(map, &pl, 0, pl.byte_count, iov, 2), -ENOBUFS);
	ck_assert_int_eq(vmbus_gpa_pagelist_iov(map, &pl, 0, pl.byte_count, iov, 0), -ENOBUFS);
	ck_assert_int_eq(vmbus_gpa_pagelist_iov(map, &pl, 0, pl.byte_count, iov, 3), 3);
	ck_assert_int_eq(vmbus_gpa_pagelist_iov(map, &pl, 0, 0, iov, 0), 0);
	ck_assert_int_eq(vmbus_gpa_pagelist_iov(map, &pl, 1, pl.byte_count, iov, 3), -ERANGE);
}
END_TEST

static Suite *gpa_suite(void)
{
	Suite *s = suite_create("gpa");
	TCase *tc = tcase_create("map");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, add_rejects_unaligned_and_empty);
	tcase_add_test(tc, add_rejects_wrapping_region);
	tcase_add_test(tc, add_rejects_overlaps);
	tcase_add_test(tc, add_rejects_when_full);
	tcase_add_test(tc, translate_region_edges);
	tcase_add_test(tc, translate_rejects_outside);
	tcase_add_test(tc, translate_rejects_wrap_and_empty);
	tcase_add_test(tc, translate_alternating_regions);
	tcase_add_test(tc, page_lookup);
	tcase_add_test(tc, pagelist_check_shapes);
	tcase_add_test(tc, pagelist_check_no_32bit_wrap);
	tcase_add_test(tc, pagelist_check_unmapped_pfn);
	tcase_add_test(tc, copy_roundtrip_across_pages);
	tcase_add_test(tc, copy_rejects_outside_view);
	tcase_add_test(tc, copy_never_leaves_guest_memory);
	tcase_add_test(tc, iov_merges_adjacent_pages);
	tcase_add_test(tc, iov_splits_discontiguous_pages);
	tcase_add_test(tc, iov_reports_short_array);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(gpa_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
