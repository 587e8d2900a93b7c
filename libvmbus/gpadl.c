/* SPDX-License-Identifier: MIT */
/*
 * GPADL table (host side): assembles GPADL_HEADER + GPADL_BODY messages,
 * validates the ranges against the guest memory map, hands complete GPADLs
 * out with reference counts and tears them down.
 *
 * Formats: include/vmbus/proto/vmbus.h (Linux include/linux/hyperv.h).
 * Behaviour checked against Linux drivers/hv/channel.c (what guests send),
 * OpenVMM vm/devices/vmbus/vmbus_server/src/channels.rs and
 * vmbus_ring/src/gparange.rs, QEMU hw/hyperv/vmbus.c (what hosts accept).
 * See include/vmbus/gpadl.h for the wire facts this relies on.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/gpadl.h>
#include <vmbus/log.h>

#define WORD		sizeof(uint64_t)
#define NBUCKETS	1024u	/* power of two */

struct gpadl_range {
	uint32_t byte_offset;
	uint32_t byte_count;
	uint32_t first;		/* index of its first PFN in words[] */
	uint32_t npfns;
};

struct vmbus_gpadl {
	struct vmbus_gpadl *next;	/* hash chain, or the zombie list */
	uint32_t id;
	uint32_t relid;
	uint16_t rangecount;
	uint16_t range_buflen;
	bool complete;
	bool zombie;		/* removed while referenced */
	uint32_t refs;
	uint32_t bodies;	/* body messages received */
	uint32_t msgnumber_mode;	/* 0 unknown, 1 all zero, 2 counting */
	uint32_t nwords;	/* words the stream has */
	uint32_t filled;	/* words received */
	uint32_t npfns;		/* PFNs over all ranges, once complete */
	struct gpadl_range *ranges;	/* once complete */
	uint64_t *words;	/* the range stream, host copy */
};

struct vmbus_gpadl_table {
	const struct vmbus_gpa_map *map;
	const struct vmbus_log *log;
	struct vmbus_gpadl_limits lim;
	unsigned int count;	/* in buckets, complete or not */
	unsigned int pending;
	uint64_t total_words;	/* charged to everything alive, zombies too */
	struct vmbus_gpadl *zombies;
	struct vmbus_gpadl *buckets[NBUCKETS];
};

void vmbus_gpadl_limits_default(struct vmbus_gpadl_limits *l)
{
	l->max_gpadls = 8192;
	l->max_pending = 128;
	l->max_gpadl_pfns = 262144;
	l->max_total_pfns = 4194304;
	l->flags = 0;
}

struct vmbus_gpadl_table *vmbus_gpadl_table_new(const struct vmbus_gpa_map *map,
						const struct vmbus_gpadl_limits *limits,
						const struct vmbus_log *log)
{
	struct vmbus_gpadl_table *t;
	struct vmbus_gpadl_limits lim;

	if (!map)
		return NULL;
	if (limits)
		lim = *limits;
	else
		vmbus_gpadl_limits_default(&lim);
	if (!lim.max_gpadls || !lim.max_pending || !lim.max_gpadl_pfns ||
	    !lim.max_total_pfns)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->map = map;
	t->log = log;
	t->lim = lim;
	return t;
}

static void gpadl_free(struct vmbus_gpadl_table *t, struct vmbus_gpadl *g)
{
	t->total_words -= g->nwords;
	free(g->ranges);
	free(g->words);
	free(g);
}

void vmbus_gpadl_table_free(struct vmbus_gpadl_table *t)
{
	struct vmbus_gpadl *g, *next;
	unsigned int i;

	if (!t)
		return;
	for (i = 0; i < NBUCKETS; i++) {
		for (g = t->buckets[i]; g; g = next) {
			next = g->next;
			gpadl_free(t, g);
		}
	}
	for (g = t->zombies; g; g = next) {
		next = g->next;
		gpadl_free(t, g);
	}
	free(t);
}

static struct vmbus_gpadl **bucket(const struct vmbus_gpadl_table *t, uint32_t id)
{
	/* Guests count ids up from 1 or so; a multiplicative hash spreads
	 * them and any other pattern a guest picks. */
	uint32_t h = (id * 2654435761u) >> 22;

	return (struct vmbus_gpadl **)&t->buckets[h & (NBUCKETS - 1)];
}

static struct vmbus_gpadl *lookup(const struct vmbus_gpadl_table *t, uint32_t id)
{
	struct vmbus_gpadl *g;

	for (g = *bucket(t, id); g; g = g->next)
		if (g->id == id)
			return g;
	return NULL;
}

static void unlink_gpadl(struct vmbus_gpadl_table *t, struct vmbus_gpadl *g)
{
	struct vmbus_gpadl **pp;

	for (pp = bucket(t, g->id); *pp; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	}
	g->next = NULL;
	t->count--;
	if (!g->complete)
		t->pending--;
}

/* Take g out of the table; free it unless a user still holds it. */
static void remove_gpadl(struct vmbus_gpadl_table *t, struct vmbus_gpadl *g)
{
	unlink_gpadl(t, g);
	if (g->refs) {
		g->zombie = true;
		g->next = t->zombies;
		t->zombies = g;
	} else {
		gpadl_free(t, g);
	}
}

/* Range {byte_count, byte_offset} word, as stored little-endian on the wire. */
static uint32_t word_count(uint64_t w)
{
	return (uint32_t)w;
}

static uint32_t word_offset(uint64_t w)
{
	return (uint32_t)(w >> 32);
}

/* PFNs a range touches, in 64 bits: both inputs are guest-controlled. */
static uint64_t range_pfns(uint32_t byte_offset, uint32_t byte_count)
{
	return ((uint64_t)byte_offset + byte_count + HV_PAGE_SIZE - 1) >> HV_PAGE_SHIFT;
}

static bool range_ok(uint32_t byte_offset, uint32_t byte_count)
{
	return byte_offset < HV_PAGE_SIZE && byte_count != 0;
}

/*
 * The stream is complete: split it into ranges that must tile it exactly,
 * and check every PFN against the memory map. Works only on the host copy.
 */
static int finalize(struct vmbus_gpadl_table *t, struct vmbus_gpadl *g)
{
	struct gpadl_range *ranges;
	uint64_t pos = 0, npfns = 0;
	uint32_t r, i;

	ranges = calloc(g->rangecount, sizeof(*ranges));
	if (!ranges)
		return -ENOMEM;
	for (r = 0; r < g->rangecount; r++) {
		uint64_t w, n;

		if (pos >= g->nwords)
			goto bad;
		w = g->words[pos++];
		if (!range_ok(word_offset(w), word_count(w)))
			goto bad;
		n = range_pfns(word_offset(w), word_count(w));
		if (n > g->nwords - pos)
			goto bad;
		ranges[r].byte_offset = word_offset(w);
		ranges[r].byte_count = word_count(w);
		ranges[r].first = (uint32_t)pos;
		ranges[r].npfns = (uint32_t)n;
		for (i = 0; i < n; i++) {
			if (!vmbus_gpa_page(t->map, g->words[pos + i])) {
				vmbus_logf(t->log, VMBUS_LOG_WARN,
					   "gpadl %u: pfn %#llx not guest memory",
					   g->id,
					   (unsigned long long)g->words[pos + i]);
				free(ranges);
				return -EFAULT;
			}
		}
		pos += n;
		npfns += n;
	}
	if (pos != g->nwords)
		goto bad;
	g->ranges = ranges;
	g->npfns = (uint32_t)npfns;
	g->complete = true;
	return 0;
bad:
	vmbus_logf(t->log, VMBUS_LOG_WARN,
		   "gpadl %u: ranges do not tile the %u-word list", g->id,
		   g->nwords);
	free(ranges);
	return -EINVAL;
}

/*
 * Words a message payload of plen bytes contributes: whole words only
 * (strict) or the leading whole words (lenient), capped at what the GPADL
 * still lacks unless strict, where excess is an error.
 */
static int payload_words(const struct vmbus_gpadl_table *t, size_t plen,
			 uint32_t room, uint32_t *out)
{
	bool lenient = t->lim.flags & VMBUS_GPADL_F_LENIENT_LENGTH;
	size_t n = plen / WORD;

	if (!lenient && plen % WORD)
		return -EINVAL;
	if (n == 0)
		return -EINVAL;
	if (n > room) {
		if (!lenient)
			return -E2BIG;
		n = room;
	}
	*out = (uint32_t)n;
	return 0;
}

/* Words the whole stream must have, from the header's fields and, for a
 * single range, its first word. */
static int stream_words(const struct vmbus_channel_gpadl_header *h,
			uint64_t first_word, uint64_t *out)
{
	uint64_t words;

	if (h->rangecount == 0)
		return -EINVAL;
	if (h->rangecount == 1) {
		if (!range_ok(word_offset(first_word), word_count(first_word)))
			return -EINVAL;
		words = 1 + range_pfns(word_offset(first_word),
				       word_count(first_word));
		/* Linux stores the stream size truncated to 16 bits. */
		if ((uint16_t)(words * WORD) != h->range_buflen)
			return -EINVAL;
	} else {
		/* Several ranges: nothing but range_buflen says how long the
		 * stream is, so it must be exact; each range needs its word
		 * and at least one PFN. */
		if (h->range_buflen % WORD)
			return -EINVAL;
		words = h->range_buflen / WORD;
		if (words < 2u * h->rangecount)
			return -EINVAL;
	}
	*out = words;
	return 0;
}

static int check_capacity(struct vmbus_gpadl_table *t, uint64_t words)
{
	if (t->count >= t->lim.max_gpadls)
		return -ENOSPC;
	if (words > t->lim.max_gpadl_pfns)
		return -E2BIG;
	if (t->total_words > t->lim.max_total_pfns ||
	    words > t->lim.max_total_pfns - t->total_words)
		return -ENOMEM;
	return 0;
}

static int add_header(struct vmbus_gpadl_table *t, const uint8_t *msg,
		      size_t len, const struct vmbus_channel_gpadl_header *h)
{
	const size_t hlen = sizeof(*h);
	struct vmbus_gpadl *g;
	uint64_t first_word = 0, words;
	uint32_t n;
	int ret;

	if (len > VMBUS_MSG_MAX_SIZE)
		return -EMSGSIZE;
	if (lookup(t, h->gpadl))
		return -EEXIST;
	if (len - hlen >= WORD)
		memcpy(&first_word, msg + hlen, WORD);
	else
		return -EINVAL;
	ret = stream_words(h, first_word, &words);
	if (ret)
		return ret;
	ret = check_capacity(t, words);
	if (ret)
		return ret;
	ret = payload_words(t, len - hlen, (uint32_t)words, &n);
	if (ret)
		return ret;
	/* Only a GPADL that must wait for bodies takes a pending slot. */
	if (n < words && t->pending >= t->lim.max_pending)
		return -EAGAIN;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->words = malloc((size_t)words * WORD);
	if (!g->words) {
		free(g);
		return -ENOMEM;
	}
	g->id = h->gpadl;
	g->relid = h->child_relid;
	g->rangecount = h->rangecount;
	g->range_buflen = h->range_buflen;
	g->nwords = (uint32_t)words;
	memcpy(g->words, msg + hlen, (size_t)n * WORD);
	/* The message may still be guest-writable: keep the word the length
	 * was derived from, not a second read of it. */
	g->words[0] = first_word;
	g->filled = n;
	t->total_words += g->nwords;

	if (g->filled == g->nwords) {
		ret = finalize(t, g);
		if (ret) {
			gpadl_free(t, g);
			return ret;
		}
	}
	g->next = *bucket(t, g->id);
	*bucket(t, g->id) = g;
	t->count++;
	if (!g->complete) {
		t->pending++;
		return VMBUS_GPADL_INCOMPLETE;
	}
	return 0;
}

int vmbus_gpadl_header(struct vmbus_gpadl_table *t, const void *msg, size_t len,
		       struct vmbus_gpadl_result *res)
{
	struct vmbus_channel_gpadl_header h;
	int ret;

	memset(res, 0, sizeof(*res));
	if (len < sizeof(h))
		return -EBADMSG;
	/* One copy of the fixed part; only the copy is looked at again. */
	memcpy(&h, msg, sizeof(h));
	if (h.header.msgtype != CHANNELMSG_GPADL_HEADER)
		return -EBADMSG;
	res->gpadl_id = h.gpadl;
	res->child_relid = h.child_relid;
	ret = add_header(t, msg, len, &h);
	res->reply = ret != VMBUS_GPADL_INCOMPLETE;
	if (ret < 0)
		vmbus_logf(t->log, VMBUS_LOG_WARN,
			   "gpadl %u relid %u: header refused (%d)", h.gpadl,
			   h.child_relid, ret);
	return ret;
}

static int check_msgnumber(struct vmbus_gpadl_table *t, struct vmbus_gpadl *g,
			   uint32_t msgnumber)
{
	uint32_t mode = msgnumber ? 2 : 1;

	if (!(t->lim.flags & VMBUS_GPADL_F_CHECK_MSGNUMBER))
		return 0;
	if (g->msgnumber_mode && g->msgnumber_mode != mode)
		return -EPROTO;
	if (mode == 2 && msgnumber != g->bodies + 1)
		return -EPROTO;
	g->msgnumber_mode = mode;
	return 0;
}

static int body_append(struct vmbus_gpadl_table *t, struct vmbus_gpadl *g,
		       const uint8_t *msg, size_t len,
		       const struct vmbus_channel_gpadl_body *b)
{
	const size_t hlen = sizeof(*b);
	uint32_t n;
	int ret;

	if (len > VMBUS_MSG_MAX_SIZE)
		return -EMSGSIZE;
	ret = check_msgnumber(t, g, b->msgnumber);
	if (ret)
		return ret;
	ret = payload_words(t, len - hlen, g->nwords - g->filled, &n);
	if (ret)
		return ret;
	memcpy(g->words + g->filled, msg + hlen, (size_t)n * WORD);
	g->filled += n;
	g->bodies++;
	if (g->filled < g->nwords)
		return VMBUS_GPADL_INCOMPLETE;
	ret = finalize(t, g);
	if (ret)
		return ret;
	t->pending--;
	return 0;
}

int vmbus_gpadl_body(struct vmbus_gpadl_table *t, const void *msg, size_t len,
		     struct vmbus_gpadl_result *res)
{
	struct vmbus_channel_gpadl_body b;
	struct vmbus_gpadl *g;
	int ret;

	memset(res, 0, sizeof(*res));
	if (len < sizeof(b))
		return -EBADMSG;
	memcpy(&b, msg, sizeof(b));
	if (b.header.msgtype != CHANNELMSG_GPADL_BODY)
		return -EBADMSG;
	res->gpadl_id = b.gpadl;
	g = lookup(t, b.gpadl);
	if (!g) {
		vmbus_logf(t->log, VMBUS_LOG_WARN,
			   "gpadl %u: body for no gpadl in assembly", b.gpadl);
		return -ENOENT;
	}
	if (g->complete)
		return -EALREADY;
	res->child_relid = g->relid;
	ret = body_append(t, g, msg, len, &b);
	res->reply = ret != VMBUS_GPADL_INCOMPLETE;
	if (ret < 0) {
		vmbus_logf(t->log, VMBUS_LOG_WARN,
			   "gpadl %u relid %u: body %u refused (%d)", b.gpadl,
			   g->relid, g->bodies + 1, ret);
		remove_gpadl(t, g);
	}
	return ret;
}

int vmbus_gpadl_teardown(struct vmbus_gpadl_table *t, uint32_t child_relid,
			 uint32_t gpadl_id)
{
	struct vmbus_gpadl *g = lookup(t, gpadl_id);

	if (!g)
		return -ENOENT;
	if (g->relid != child_relid)
		return -EPERM;
	if (!g->complete)
		return -EINPROGRESS;
	if (g->refs)
		return -EBUSY;
	remove_gpadl(t, g);
	return 0;
}

static unsigned int remove_matching(struct vmbus_gpadl_table *t, bool all,
				    uint32_t child_relid)
{
	unsigned int i, n = 0;

	for (i = 0; i < NBUCKETS; i++) {
		struct vmbus_gpadl *g = t->buckets[i], *next;

		for (; g; g = next) {
			next = g->next;
			if (all || g->relid == child_relid) {
				remove_gpadl(t, g);
				n++;
			}
		}
	}
	return n;
}

unsigned int vmbus_gpadl_remove_channel(struct vmbus_gpadl_table *t,
					uint32_t child_relid)
{
	return remove_matching(t, false, child_relid);
}

unsigned int vmbus_gpadl_remove_all(struct vmbus_gpadl_table *t)
{
	return remove_matching(t, true, 0);
}

unsigned int vmbus_gpadl_count(const struct vmbus_gpadl_table *t)
{
	return t->count;
}

unsigned int vmbus_gpadl_pending_count(const struct vmbus_gpadl_table *t)
{
	return t->pending;
}

const struct vmbus_gpadl *vmbus_gpadl_find(const struct vmbus_gpadl_table *t,
					   uint32_t gpadl_id)
{
	const struct vmbus_gpadl *g = lookup(t, gpadl_id);

	return g && g->complete ? g : NULL;
}

int vmbus_gpadl_get(struct vmbus_gpadl_table *t, uint32_t child_relid,
		    uint32_t gpadl_id, struct vmbus_gpadl **out)
{
	struct vmbus_gpadl *g = lookup(t, gpadl_id);

	if (!g || !g->complete)
		return -ENOENT;
	if (g->relid != child_relid)
		return -EPERM;
	if (g->refs == UINT32_MAX)
		return -EOVERFLOW;
	g->refs++;
	*out = g;
	return 0;
}

void vmbus_gpadl_put(struct vmbus_gpadl_table *t, struct vmbus_gpadl *g)
{
	struct vmbus_gpadl **pp;

	if (!g || !g->refs)
		return;
	if (--g->refs || !g->zombie)
		return;
	for (pp = &t->zombies; *pp; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	}
	gpadl_free(t, g);
}

uint32_t vmbus_gpadl_id(const struct vmbus_gpadl *g)
{
	return g->id;
}

uint32_t vmbus_gpadl_child_relid(const struct vmbus_gpadl *g)
{
	return g->relid;
}

uint32_t vmbus_gpadl_range_count(const struct vmbus_gpadl *g)
{
	return g->complete ? g->rangecount : 0;
}

uint32_t vmbus_gpadl_pfn_count(const struct vmbus_gpadl *g)
{
	return g->npfns;
}

int vmbus_gpadl_range(const struct vmbus_gpadl *g, uint32_t index,
		      struct vmbus_gpa_pagelist *pl)
{
	const struct gpadl_range *r;

	if (!g->complete || index >= g->rangecount)
		return -ERANGE;
	r = &g->ranges[index];
	pl->pfns = g->words + r->first;
	pl->pfn_count = r->npfns;
	pl->byte_offset = r->byte_offset;
	pl->byte_count = r->byte_count;
	return 0;
}

int vmbus_gpadl_map_pages(const struct vmbus_gpadl_table *t,
			  const struct vmbus_gpadl *g, void **pages,
			  uint32_t max)
{
	const struct gpadl_range *r;
	uint32_t i;

	if (!g->complete || g->rangecount != 1)
		return -EINVAL;
	r = &g->ranges[0];
	if (r->byte_offset != 0 || r->byte_count % HV_PAGE_SIZE)
		return -EINVAL;
	if (r->npfns > max)
		return -ENOBUFS;
	if (r->npfns > INT32_MAX)
		return -E2BIG;
	for (i = 0; i < r->npfns; i++) {
		pages[i] = vmbus_gpa_page(t->map, g->words[r->first + i]);
		if (!pages[i])
			return -EFAULT;
	}
	return (int)r->npfns;
}
