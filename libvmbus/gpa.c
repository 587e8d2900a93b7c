/* SPDX-License-Identifier: MIT */
/*
 * Guest memory map: GPA ranges to host pointers, page lists, copies and
 * iovecs, all bounds-checked against the regions the VMM registered.
 *
 * Page-list shape: struct vmbus_gpa_range in include/vmbus/proto/vmbus.h
 * (Linux include/linux/hyperv.h struct gpa_range; OpenVMM
 * vm/devices/vmbus/vmbus_ring/src/gparange.rs).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <vmbus/gpa.h>
#include <vmbus/proto/tlfs.h>

#define PAGE_MASK_LOW	((uint64_t)HV_PAGE_SIZE - 1)

struct gpa_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
};

struct vmbus_gpa_map {
	struct gpa_region regions[VMBUS_GPA_MAX_REGIONS];
	unsigned int count;
	/* Index of the region the last look-up hit. Look-ups may run on many
	 * threads at once, so it is read and written with relaxed atomics:
	 * a stale value only costs a scan. */
	unsigned int hint;
};

struct vmbus_gpa_map *vmbus_gpa_map_new(void)
{
	return calloc(1, sizeof(struct vmbus_gpa_map));
}

void vmbus_gpa_map_free(struct vmbus_gpa_map *map)
{
	free(map);
}

unsigned int vmbus_gpa_map_region_count(const struct vmbus_gpa_map *map)
{
	return map->count;
}

int vmbus_gpa_map_add(struct vmbus_gpa_map *map, uint64_t gpa, uint64_t size,
		      void *host)
{
	struct gpa_region *r;
	unsigned int i;

	if (!host || size == 0 || (gpa & PAGE_MASK_LOW) || (size & PAGE_MASK_LOW))
		return -EINVAL;
	if (size - 1 > UINT64_MAX - gpa)
		return -EOVERFLOW;
	if (size > SIZE_MAX || size - 1 > UINTPTR_MAX - (uintptr_t)host)
		return -EOVERFLOW;
	for (i = 0; i < map->count; i++) {
		r = &map->regions[i];
		/* Inclusive ends: a region may reach the top of the space. */
		if (gpa <= r->gpa + (r->size - 1) && r->gpa <= gpa + (size - 1))
			return -EEXIST;
	}
	if (map->count == VMBUS_GPA_MAX_REGIONS)
		return -ENOSPC;
	r = &map->regions[map->count];
	r->gpa = gpa;
	r->size = size;
	r->host = host;
	map->count++;
	return 0;
}

static bool region_has(const struct gpa_region *r, uint64_t gpa)
{
	return gpa >= r->gpa && gpa - r->gpa < r->size;
}

/* The region holding gpa, or NULL. */
static const struct gpa_region *find_region(const struct vmbus_gpa_map *map,
					    uint64_t gpa)
{
	unsigned int hint = __atomic_load_n(&map->hint, __ATOMIC_RELAXED);
	unsigned int n = map->count;
	unsigned int i;

	if (hint < n && region_has(&map->regions[hint], gpa))
		return &map->regions[hint];
	for (i = 0; i < n; i++) {
		if (region_has(&map->regions[i], gpa)) {
			__atomic_store_n((unsigned int *)&map->hint, i,
					 __ATOMIC_RELAXED);
			return &map->regions[i];
		}
	}
	return NULL;
}

int vmbus_gpa_translate(const struct vmbus_gpa_map *map, uint64_t gpa,
			uint64_t len, void **host)
{
	const struct gpa_region *r;
	uint64_t off;

	if (len == 0)
		return -EINVAL;
	if (len - 1 > UINT64_MAX - gpa)
		return -EOVERFLOW;
	r = find_region(map, gpa);
	if (!r)
		return -EFAULT;
	off = gpa - r->gpa;
	if (len > r->size - off)
		return -EFAULT;
	*host = r->host + off;
	return 0;
}

void *vmbus_gpa_page(const struct vmbus_gpa_map *map, uint64_t pfn)
{
	const struct gpa_region *r;
	uint64_t gpa;

	if (pfn > (UINT64_MAX >> HV_PAGE_SHIFT))
		return NULL;
	gpa = pfn << HV_PAGE_SHIFT;
	/* Regions are page-aligned, so a page inside one lies wholly in it. */
	r = find_region(map, gpa);
	return r ? r->host + (gpa - r->gpa) : NULL;
}

/* Pages [byte_offset, byte_offset + byte_count) touches; 64-bit so the
 * sum of two guest-controlled 32-bit values cannot wrap. */
static uint64_t pages_needed(uint32_t byte_offset, uint32_t byte_count)
{
	return ((uint64_t)byte_offset + byte_count + PAGE_MASK_LOW) >> HV_PAGE_SHIFT;
}

int vmbus_gpa_pagelist_check(const struct vmbus_gpa_map *map,
			     const struct vmbus_gpa_pagelist *pl, bool exact)
{
	uint64_t need;
	uint32_t i;

	if (pl->byte_offset >= HV_PAGE_SIZE || pl->byte_count == 0)
		return -EINVAL;
	need = pages_needed(pl->byte_offset, pl->byte_count);
	if (exact ? need != pl->pfn_count : need > pl->pfn_count)
		return -EINVAL;
	if (!pl->pfns)
		return -EINVAL;
	for (i = 0; i < pl->pfn_count; i++)
		if (!vmbus_gpa_page(map, pl->pfns[i]))
			return -EFAULT;
	return 0;
}

/*
 * Walk [offset, offset + len) of a checked view page by page, calling fn
 * with each host piece. The view was checked, so every page is mapped.
 */
typedef int (*piece_fn)(void *ctx, uint64_t pfn, uint8_t *host, size_t n);

static int walk(const struct vmbus_gpa_map *map,
		const struct vmbus_gpa_pagelist *pl, uint32_t offset,
		uint64_t len, piece_fn fn, void *ctx)
{
	uint64_t pos;
	int ret;

	if (pl->byte_offset >= HV_PAGE_SIZE || pl->byte_count == 0 || !pl->pfns ||
	    pages_needed(pl->byte_offset, pl->byte_count) > pl->pfn_count)
		return -EINVAL;
	if (len > pl->byte_count || offset > pl->byte_count - len)
		return -ERANGE;
	pos = (uint64_t)pl->byte_offset + offset;
	/* Only the pages this access touches, all of them before any is
	 * used: a large buffer costs no more per access than a small one. */
	if (len) {
		uint64_t first = pos >> HV_PAGE_SHIFT, last = (pos + len - 1) >> HV_PAGE_SHIFT;

		for (; first <= last; first++)
			if (!vmbus_gpa_page(map, pl->pfns[first]))
				return -EFAULT;
	}
	while (len) {
		uint64_t idx = pos >> HV_PAGE_SHIFT;
		uint64_t in_page = pos & PAGE_MASK_LOW;
		uint64_t n = HV_PAGE_SIZE - in_page;
		uint8_t *page;

		if (n > len)
			n = len;
		page = vmbus_gpa_page(map, pl->pfns[idx]);
		if (!page)
			return -EFAULT;
		ret = fn(ctx, pl->pfns[idx], page + in_page, (size_t)n);
		if (ret)
			return ret;
		pos += n;
		len -= n;
	}
	return 0;
}

struct copy_ctx {
	uint8_t *buf;
	bool to_guest;
};

static int copy_piece(void *ctx, uint64_t pfn, uint8_t *host, size_t n)
{
	struct copy_ctx *c = ctx;

	(void)pfn;
	if (c->to_guest)
		memcpy(host, c->buf, n);
	else
		memcpy(c->buf, host, n);
	c->buf += n;
	return 0;
}

int vmbus_gpa_pagelist_read(const struct vmbus_gpa_map *map,
			    const struct vmbus_gpa_pagelist *pl,
			    uint32_t offset, void *buf, size_t len)
{
	struct copy_ctx c = { .buf = buf, .to_guest = false };

	return walk(map, pl, offset, len, copy_piece, &c);
}

int vmbus_gpa_pagelist_write(const struct vmbus_gpa_map *map,
			     const struct vmbus_gpa_pagelist *pl,
			     uint32_t offset, const void *buf, size_t len)
{
	struct copy_ctx c = { .buf = (uint8_t *)buf, .to_guest = true };

	return walk(map, pl, offset, len, copy_piece, &c);
}

struct iov_ctx {
	struct iovec *iov;
	unsigned int max;
	unsigned int used;
	uint64_t last_pfn;
};

static int iov_piece(void *ctx, uint64_t pfn, uint8_t *host, size_t n)
{
	struct iov_ctx *c = ctx;
	struct iovec *prev = c->used ? &c->iov[c->used - 1] : NULL;

	if (prev && pfn == c->last_pfn + 1 &&
	    (uint8_t *)prev->iov_base + prev->iov_len == host) {
		prev->iov_len += n;
	} else {
		if (c->used == c->max)
			return -ENOBUFS;
		c->iov[c->used].iov_base = host;
		c->iov[c->used].iov_len = n;
		c->used++;
	}
	c->last_pfn = pfn;
	return 0;
}

int vmbus_gpa_pagelist_iov(const struct vmbus_gpa_map *map,
			   const struct vmbus_gpa_pagelist *pl,
			   uint32_t offset, uint32_t len,
			   struct iovec *iov, unsigned int iov_max)
{
	struct iov_ctx c = { .iov = iov, .max = iov_max };
	int ret;

	ret = walk(map, pl, offset, len, iov_piece, &c);
	return ret ? ret : (int)c.used;
}
