/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the GPADL table (libvmbus/gpadl.c) and the page-list
 * helpers it hands out (libvmbus/gpa.c). Message formats:
 * include/vmbus/proto/vmbus.h (Linux include/linux/hyperv.h).
 *
 * Input: one flags byte (VMBUS_GPADL_F_* in its low two bits), then records
 * of a length byte followed by that many message bytes. Each message goes
 * where its msgtype says, as the bus server would send it: GPADL_HEADER,
 * GPADL_BODY, GPADL_TEARDOWN; OPENCHANNEL takes a reference on its ring
 * GPADL, CLOSECHANNEL drops that channel's references, RESCIND removes a
 * channel's GPADLs, UNLOAD removes all. Other types are fed to the header
 * or body handler to exercise their type checks. The table is freed after
 * every input, so leaks show.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <vmbus/gpa.h>
#include <vmbus/gpadl.h>

#define PG		HV_PAGE_SIZE
#define NPAGES		16
#define MAX_REFS	8

/* Two 16-page regions: PFNs 0..15 and 256..271, nothing in between. */
static uint8_t mem_lo[NPAGES * PG] __attribute__((aligned(4096)));
static uint8_t mem_hi[NPAGES * PG] __attribute__((aligned(4096)));
static struct vmbus_gpa_map *map;

struct ref {
	uint32_t relid;
	struct vmbus_gpadl *g;
};

static uint32_t rd32(const uint8_t *p, size_t len, size_t off)
{
	uint32_t v = 0;

	if (off + 4 <= len)
		memcpy(&v, p + off, 4);
	return v;
}

/* Use what a complete GPADL gives a device, the way a device would. */
static void exercise(struct vmbus_gpadl_table *t, uint32_t id)
{
	const struct vmbus_gpadl *g = vmbus_gpadl_find(t, id);
	struct vmbus_gpa_pagelist pl;
	struct iovec iov[8];
	void *pages[64];
	uint8_t buf[64];
	uint32_t i, n;
	int ret;

	if (!g)
		abort();	/* reported complete but not findable */
	n = vmbus_gpadl_range_count(g);
	for (i = 0; i < n; i++) {
		if (vmbus_gpadl_range(g, i, &pl))
			abort();
		if (vmbus_gpa_pagelist_check(map, &pl, true))
			abort();	/* a complete GPADL is always valid */
		ret = vmbus_gpa_pagelist_read(map, &pl, 0, buf,
					      pl.byte_count < sizeof(buf) ?
					      pl.byte_count : sizeof(buf));
		if (ret)
			abort();
		vmbus_gpa_pagelist_write(map, &pl, pl.byte_count - 1, buf, 1);
		vmbus_gpa_pagelist_iov(map, &pl, 0, pl.byte_count, iov, 8);
	}
	ret = vmbus_gpadl_map_pages(t, g, pages, 64);
	if (ret > 0)
		for (i = 0; i < (uint32_t)ret; i++)
			((volatile uint8_t *)pages[i])[PG - 1] ^= 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmbus_gpadl_limits lim;
	struct vmbus_gpadl_table *t;
	struct vmbus_gpadl_result res;
	struct ref refs[MAX_REFS];
	unsigned int nrefs = 0, i;
	size_t pos = 1;
	int ret;

	if (!map) {
		map = vmbus_gpa_map_new();
		if (!map || vmbus_gpa_map_add(map, 0, sizeof(mem_lo), mem_lo) ||
		    vmbus_gpa_map_add(map, 256 * PG, sizeof(mem_hi), mem_hi))
			abort();
	}
	if (size < 1)
		return 0;
	vmbus_gpadl_limits_default(&lim);
	lim.max_gpadls = 16;
	lim.max_pending = 4;
	lim.max_gpadl_pfns = 64;
	lim.max_total_pfns = 256;
	lim.flags = data[0] & 3;
	t = vmbus_gpadl_table_new(map, &lim, NULL);
	if (!t)
		abort();

	while (pos < size) {
		size_t len = data[pos++];
		const uint8_t *msg;
		uint32_t type;

		if (len > size - pos)
			len = size - pos;
		/* A private copy: the handlers must not rely on the input
		 * staying around, and ASan sees reads past len. */
		msg = len ? memcpy(malloc(len), data + pos, len) : NULL;
		pos += len;
		type = rd32(msg, len, 0);

		switch (type) {
		case CHANNELMSG_GPADL_HEADER:
			ret = vmbus_gpadl_header(t, msg, len, &res);
			if (ret == 0)
				exercise(t, res.gpadl_id);
			break;
		case CHANNELMSG_GPADL_BODY:
			ret = vmbus_gpadl_body(t, msg, len, &res);
			if (ret == 0)
				exercise(t, res.gpadl_id);
			break;
		case CHANNELMSG_GPADL_TEARDOWN:
			vmbus_gpadl_teardown(t, rd32(msg, len, 8), rd32(msg, len, 12));
			break;
		case CHANNELMSG_OPENCHANNEL:
			if (nrefs < MAX_REFS &&
			    !vmbus_gpadl_get(t, rd32(msg, len, 8), rd32(msg, len, 16),
					     &refs[nrefs].g)) {
				refs[nrefs].relid = rd32(msg, len, 8);
				nrefs++;
			}
			break;
		case CHANNELMSG_CLOSECHANNEL:
			for (i = 0; i < nrefs;) {
				if (refs[i].relid == rd32(msg, len, 8)) {
					vmbus_gpadl_put(t, refs[i].g);
					refs[i] = refs[--nrefs];
				} else {
					i++;
				}
			}
			break;
		case CHANNELMSG_RESCIND_CHANNELOFFER:
			vmbus_gpadl_remove_channel(t, rd32(msg, len, 8));
			break;
		case CHANNELMSG_UNLOAD:
			vmbus_gpadl_remove_all(t);
			break;
		default:
			if (len & 1)
				vmbus_gpadl_body(t, msg ? msg : data, len, &res);
			else
				vmbus_gpadl_header(t, msg ? msg : data, len, &res);
			break;
		}
		free((void *)msg);
		if (vmbus_gpadl_pending_count(t) > lim.max_pending ||
		    vmbus_gpadl_count(t) > lim.max_gpadls)
			abort();
	}
	for (i = 0; i < nrefs; i++)
		vmbus_gpadl_put(t, refs[i].g);
	vmbus_gpadl_table_free(t);
	return 0;
}
