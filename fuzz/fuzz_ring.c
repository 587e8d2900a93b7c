/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for libvmbus/ring.c: a hostile peer controls the whole
 * ring (control page and data area). Reads every packet it can, parses
 * each as GPA-direct and transfer-page, walks the ranges, and writes into
 * the same ring as the other side would. Layouts from Linux
 * include/linux/hyperv.h and drivers/hv/ring_buffer.c.
 *
 * Input: u32 write_index, read_index, interrupt_mask, pending_send_sz,
 * feature_bits; u8 data pages - 1 (mod 4); u8 flags (bit 0: page-list
 * view); 2 bytes unused; then the data area's first bytes (the rest is 0).
 * Every buffer is malloc'ed at its exact size so ASan sees any overrun.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/ring.h>

#define HDR_LEN		24
#define MAX_PAGES	4
#define MAX_STEPS	64

static volatile uint64_t sink;

static void *dup_exact(const void *src, size_t len)
{
	void *p = malloc(len ? len : 1);

	if (p && len)
		memcpy(p, src, len);
	return p;
}

static void walk_parsers(const uint8_t *pkt, size_t len)
{
	struct vmbus_ring_gpa_iter gi;
	struct vmbus_ring_gpa_range gr;
	struct vmbus_ring_xfer_iter xi;
	struct vmbus_xfer_page_range xr;
	uint32_t i;

	if (vmbus_ring_parse_gpa_direct(pkt, len, &gi) >= 0) {
		while (vmbus_ring_gpa_next(&gi, &gr))
			for (i = 0; i < gr.pfn_count; i++)
				sink += vmbus_ring_gpa_pfn(&gr, i);
		for (i = 0; i < gi.payload_len; i++)
			sink += gi.payload[i];
	}
	if (vmbus_ring_parse_xfer(pkt, len, &xi) >= 0) {
		while (vmbus_ring_xfer_next(&xi, &xr))
			sink += xr.byte_count + xr.byte_offset;
		for (i = 0; i < xi.payload_len; i++)
			sink += xi.payload[i];
	}
}

/* Parse the packet as it came, then as each type a parser accepts, so the
 * range walkers see every packet body. */
static void parse_all_ways(const uint8_t *pkt, size_t len)
{
	uint8_t *copy;
	uint16_t type;

	walk_parsers(pkt, len);
	if (len < 2)
		return;
	copy = dup_exact(pkt, len);
	if (!copy)
		return;
	type = VM_PKT_DATA_USING_GPA_DIRECT;
	memcpy(copy, &type, 2);
	walk_parsers(copy, len);
	type = VM_PKT_DATA_USING_XFER_PAGES;
	memcpy(copy, &type, 2);
	walk_parsers(copy, len);
	free(copy);
}

static void read_side(struct vmbus_ring *r)
{
	struct vmbus_ring_pkt pkt;
	uint8_t *buf;
	bool sig;
	int i;

	sink += (uint64_t)vmbus_ring_bytes_to_read(r);
	vmbus_ring_mask(r);
	for (i = 0; i < MAX_STEPS; i++) {
		if (vmbus_ring_peek(r, &pkt))
			break;
		buf = malloc(pkt.len);
		if (!buf)
			break;
		if (vmbus_ring_copy(r, &pkt, 0, buf, pkt.len) == 0)
			parse_all_ways(buf, pkt.len);
		free(buf);
		if (vmbus_ring_advance(r, &pkt))
			break;
		if (i % 5 == 4)
			vmbus_ring_publish(r, &sig);
	}
	vmbus_ring_publish(r, &sig);
	sink += vmbus_ring_unmask(r);
}

static void write_side(struct vmbus_ring *w, const uint8_t *seed, size_t n)
{
	static const uint64_t pfns[3] = { 1, 2, 3 };
	struct vmbus_ring_gpa g = { .byte_count = 9000, .byte_offset = 7,
				    .pfns = pfns };
	struct vmbus_xfer_page_range x[2] = { { 10, 20 }, { 30, 40 } };
	size_t len = n > 3000 ? 3000 : n;
	bool sig;

	sink += (uint64_t)vmbus_ring_bytes_to_write(w);
	vmbus_ring_write_batch_begin(w);
	vmbus_ring_send_inband(w, seed, len, 1, 0, &sig);
	vmbus_ring_send_gpa_direct(w, &g, 1, seed, len / 2, 2, 0, &sig);
	vmbus_ring_write_batch_end(w, &sig);
	vmbus_ring_send_xfer(w, 5, true, x, 2, seed, len / 3, 3, 0, &sig);
	vmbus_ring_send_comp(w, seed, len / 4, 4, &sig);
	sink += (uint64_t)vmbus_ring_request_space(w, (uint32_t)len + 1);
	vmbus_ring_clear_space_request(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmbus_ring_ctrl *ctrl;
	struct vmbus_ring r, w;
	uint8_t *area = NULL;
	void *pages[MAX_PAGES] = { 0 };
	size_t npages, body, i;
	bool page_list;

	if (size < HDR_LEN)
		return 0;
	/* Parsers straight on the raw input, at its exact length. */
	{
		uint8_t *raw = dup_exact(data + HDR_LEN, size - HDR_LEN);

		if (raw) {
			walk_parsers(raw, size - HDR_LEN);
			free(raw);
		}
	}

	npages = (size_t)(data[20] % MAX_PAGES) + 1;
	page_list = data[21] & 1;
	body = size - HDR_LEN;
	ctrl = calloc(1, sizeof(*ctrl));
	if (!ctrl)
		return 0;
	memcpy(&ctrl->write_index, data + 0, 4);
	memcpy(&ctrl->read_index, data + 4, 4);
	memcpy(&ctrl->interrupt_mask, data + 8, 4);
	memcpy(&ctrl->pending_send_sz, data + 12, 4);
	memcpy(&ctrl->feature_bits, data + 16, 4);

	if (page_list) {
		for (i = 0; i < npages; i++) {
			size_t off = i * HV_PAGE_SIZE, n = 0;

			pages[i] = calloc(1, HV_PAGE_SIZE);
			if (!pages[i])
				goto out;
			if (body > off)
				n = body - off < HV_PAGE_SIZE ? body - off : HV_PAGE_SIZE;
			memcpy(pages[i], data + HDR_LEN + off, n);
		}
		if (vmbus_ring_view_pages(&r, ctrl, pages, npages) ||
		    vmbus_ring_view_pages(&w, ctrl, pages, npages))
			goto out;
	} else {
		area = calloc(1, npages * HV_PAGE_SIZE);
		if (!area)
			goto out;
		memcpy(area, data + HDR_LEN,
		       body < npages * HV_PAGE_SIZE ? body : npages * HV_PAGE_SIZE);
		if (vmbus_ring_view_contig(&r, ctrl, area, npages * HV_PAGE_SIZE) ||
		    vmbus_ring_view_contig(&w, ctrl, area, npages * HV_PAGE_SIZE))
			goto out;
	}

	/* A failed attach leaves the positions at 0: read on regardless, the
	 * peer's indices are re-checked on every load. */
	vmbus_ring_attach(&r);
	vmbus_ring_attach(&w);
	read_side(&r);
	write_side(&w, data + HDR_LEN, body);
	read_side(&r);
out:
	for (i = 0; i < MAX_PAGES; i++)
		free(pages[i]);
	free(area);
	free(ctrl);
	return 0;
}
