/* SPDX-License-Identifier: MIT */
/*
 * Guest memory map (host side): which guest-physical ranges exist, where
 * they live in the host's address space, and bounds-checked ways to reach
 * them: single translations, page lists, copies and iovecs.
 *
 * A page list is the shape every guest-supplied buffer has on VMBus: a
 * byte offset into the first page, a byte count and one page frame number
 * per 4 KiB page touched (struct vmbus_gpa_range in proto/vmbus.h; Linux
 * include/linux/hyperv.h struct gpa_range). Page size is HV_PAGE_SIZE.
 *
 * This header needs no libc (struct iovec is only declared), so the
 * freestanding guest half may include it through gpadl.h.
 */
#ifndef VMBUS_GPA_H
#define VMBUS_GPA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct iovec;
struct vmbus_gpa_map;

/* Regions one map holds at most. Guests have a handful (below and above
 * the 32-bit hole, maybe a few device-backed ranges). */
#define VMBUS_GPA_MAX_REGIONS	16

/*
 * A view of guest memory as pages. A small value type so callers can
 * build one on the stack around a PFN array they already hold (a GPADL
 * range, a GPA-direct packet copied out of a ring): nothing is allocated.
 * The PFN array is read again by every call, so it must be a host-owned
 * copy, never guest-writable memory.
 */
struct vmbus_gpa_pagelist {
	const uint64_t *pfns;	/* pfn_count page frame numbers */
	uint32_t pfn_count;
	uint32_t byte_offset;	/* into the first page, < HV_PAGE_SIZE */
	uint32_t byte_count;	/* bytes in the view, > 0 */
};

/* Create an empty map. Returns NULL when out of memory. */
struct vmbus_gpa_map *vmbus_gpa_map_new(void);

/* Free a map. Pointers obtained from it must no longer be used. */
void vmbus_gpa_map_free(struct vmbus_gpa_map *map);

/*
 * Add the region [gpa, gpa + size) backed by host memory at host. gpa and
 * size must be multiples of HV_PAGE_SIZE and size non-zero (-EINVAL); the
 * end may not wrap in either address space (-EOVERFLOW); it may not overlap
 * an existing region (-EEXIST); the map holds VMBUS_GPA_MAX_REGIONS at most
 * (-ENOSPC). Add every region before the map is shared between threads:
 * look-ups are safe concurrently, additions are not.
 */
int vmbus_gpa_map_add(struct vmbus_gpa_map *map, uint64_t gpa, uint64_t size,
		      void *host);

/* Number of regions in the map. */
unsigned int vmbus_gpa_map_region_count(const struct vmbus_gpa_map *map);

/*
 * Translate [gpa, gpa + len) into a host pointer. The range must lie inside
 * one region. Returns 0 and sets *host, -EINVAL for len 0, -EOVERFLOW when
 * gpa + len wraps, -EFAULT when the range is not entirely inside a region.
 */
int vmbus_gpa_translate(const struct vmbus_gpa_map *map, uint64_t gpa,
			uint64_t len, void **host);

/* Host address of guest page pfn, or NULL when the page is not mapped. */
void *vmbus_gpa_page(const struct vmbus_gpa_map *map, uint64_t pfn);

/*
 * Check a page list: byte_offset < HV_PAGE_SIZE, byte_count > 0 (-EINVAL);
 * the pages the bytes need, ceil((byte_offset + byte_count) / page size),
 * must equal pfn_count when exact, else may not exceed it (-EINVAL); every
 * listed PFN must be mapped (-EFAULT).
 */
int vmbus_gpa_pagelist_check(const struct vmbus_gpa_map *map,
			     const struct vmbus_gpa_pagelist *pl, bool exact);

/*
 * Copy len bytes starting offset bytes into the view out to buf (read) or
 * in from buf (write). -ERANGE when [offset, offset + len) is not inside
 * the view, -EINVAL/-EFAULT as vmbus_gpa_pagelist_check (non-exact); on
 * error nothing was copied. Returns 0.
 */
int vmbus_gpa_pagelist_read(const struct vmbus_gpa_map *map,
			    const struct vmbus_gpa_pagelist *pl,
			    uint32_t offset, void *buf, size_t len);
int vmbus_gpa_pagelist_write(const struct vmbus_gpa_map *map,
			     const struct vmbus_gpa_pagelist *pl,
			     uint32_t offset, const void *buf, size_t len);

/*
 * Describe len bytes starting offset bytes into the view as iovecs that
 * point straight into guest memory (for readv/writev/io_uring). Pages that
 * are adjacent both as guest frames and in host memory share one iovec.
 * Returns the number of iovecs used, -ENOBUFS when iov_max is too few,
 * -ERANGE/-EINVAL/-EFAULT as vmbus_gpa_pagelist_read. len 0 gives 0.
 */
int vmbus_gpa_pagelist_iov(const struct vmbus_gpa_map *map,
			   const struct vmbus_gpa_pagelist *pl,
			   uint32_t offset, uint32_t len,
			   struct iovec *iov, unsigned int iov_max);

#endif
