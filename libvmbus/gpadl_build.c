/* SPDX-License-Identifier: MIT */
/*
 * GPADL encoder (guest side, freestanding): splits a page list into one
 * GPADL_HEADER and as many GPADL_BODY messages as needed, encoding any one
 * of them on demand into a caller buffer.
 *
 * Formats and split: include/vmbus/proto/vmbus.h; Linux drivers/hv/channel.c
 * create_gpadl_header() (header filled first, then bodies of 28 PFNs,
 * range_buflen covering the whole stream, msgnumber left 0).
 */
#include "freestanding.h"

#include <vmbus/gpadl.h>

#define WORD	sizeof(uint64_t)

static uint64_t range_words(const struct vmbus_gpadl_build_range *r)
{
	return 1 + (((uint64_t)r->byte_offset + r->byte_count + HV_PAGE_SIZE - 1)
		    >> HV_PAGE_SHIFT);
}

int vmbus_gpadl_build_init(struct vmbus_gpadl_build *b, uint32_t child_relid,
			   uint32_t gpadl_id,
			   const struct vmbus_gpadl_build_range *ranges,
			   uint16_t range_count)
{
	uint64_t words = 0;
	uint64_t bodies;
	uint16_t i;

	if (!ranges || range_count == 0)
		return -EINVAL;
	for (i = 0; i < range_count; i++) {
		const struct vmbus_gpadl_build_range *r = &ranges[i];

		if (!r->pfns || r->byte_offset >= HV_PAGE_SIZE || r->byte_count == 0)
			return -EINVAL;
		words += range_words(r);
	}
	/* Ranges beyond the first would have no length on the wire but
	 * range_buflen, so it must be exact for them. */
	if (range_count > 1 && words * WORD > UINT16_MAX)
		return -E2BIG;
	bodies = 0;
	if (words > VMBUS_GPADL_HEADER_WORDS)
		bodies = (words - VMBUS_GPADL_HEADER_WORDS + VMBUS_GPADL_BODY_WORDS - 1)
			 / VMBUS_GPADL_BODY_WORDS;
	if (bodies >= INT32_MAX)
		return -E2BIG;

	b->child_relid = child_relid;
	b->gpadl_id = gpadl_id;
	b->ranges = ranges;
	b->range_count = range_count;
	b->range_buflen = (uint16_t)(words * WORD);
	b->words = (uint32_t)words;
	b->msg_count = (uint32_t)(1 + bodies);
	return (int)b->msg_count;
}

int vmbus_gpadl_build_init_single(struct vmbus_gpadl_build *b,
				  uint32_t child_relid, uint32_t gpadl_id,
				  const uint64_t *pfns, uint32_t byte_offset,
				  uint32_t byte_count)
{
	b->single.pfns = pfns;
	b->single.byte_offset = byte_offset;
	b->single.byte_count = byte_count;
	return vmbus_gpadl_build_init(b, child_relid, gpadl_id, &b->single, 1);
}

/* Write count words of the range stream, from word first on, to dst. A
 * range contributes its {byte_count, byte_offset} word, then its PFNs. */
static void put_words(const struct vmbus_gpadl_build *b, uint8_t *dst,
		      uint32_t first, uint32_t count)
{
	const struct vmbus_gpadl_build_range *r = b->ranges;
	uint64_t pos = first;
	uint32_t i;

	/* Find the range word first falls in; callers stay below b->words. */
	while (pos >= range_words(r)) {
		pos -= range_words(r);
		r++;
	}
	for (i = 0; i < count; i++) {
		uint64_t v;

		if (pos == range_words(r)) {
			r++;
			pos = 0;
		}
		if (pos == 0)
			v = (uint64_t)r->byte_count | ((uint64_t)r->byte_offset << 32);
		else
			v = r->pfns[pos - 1];
		memcpy(dst + (size_t)i * WORD, &v, WORD);
		pos++;
	}
}

int vmbus_gpadl_build_msg(const struct vmbus_gpadl_build *b, uint32_t index,
			  void *buf, size_t buf_len)
{
	uint32_t first, count;
	size_t hdr, len;

	if (index >= b->msg_count)
		return -EINVAL;
	if (index == 0) {
		first = 0;
		count = b->words < VMBUS_GPADL_HEADER_WORDS ?
			b->words : VMBUS_GPADL_HEADER_WORDS;
		hdr = sizeof(struct vmbus_channel_gpadl_header);
	} else {
		first = VMBUS_GPADL_HEADER_WORDS +
			(index - 1) * VMBUS_GPADL_BODY_WORDS;
		count = b->words - first;
		if (count > VMBUS_GPADL_BODY_WORDS)
			count = VMBUS_GPADL_BODY_WORDS;
		hdr = sizeof(struct vmbus_channel_gpadl_body);
	}
	len = hdr + (size_t)count * WORD;
	if (buf_len < len)
		return -ENOBUFS;

	if (index == 0) {
		struct vmbus_channel_gpadl_header h;

		memset(&h, 0, sizeof(h));
		h.header.msgtype = CHANNELMSG_GPADL_HEADER;
		h.child_relid = b->child_relid;
		h.gpadl = b->gpadl_id;
		h.range_buflen = b->range_buflen;
		h.rangecount = b->range_count;
		memcpy(buf, &h, sizeof(h));
	} else {
		struct vmbus_channel_gpadl_body h;

		memset(&h, 0, sizeof(h));
		h.header.msgtype = CHANNELMSG_GPADL_BODY;
		h.msgnumber = 0;
		h.gpadl = b->gpadl_id;
		memcpy(buf, &h, sizeof(h));
	}
	put_words(b, (uint8_t *)buf + hdr, first, count);
	return (int)len;
}
