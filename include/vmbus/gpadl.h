/* SPDX-License-Identifier: MIT */
/*
 * GPADLs (guest physical address descriptor lists): how a guest lends
 * pages to the host. Host side: a table that assembles GPADL_HEADER and
 * GPADL_BODY messages into complete GPADLs, validates them against the
 * guest memory map, hands them to users with reference counts and tears
 * them down. Guest side: an encoder that splits a page list into those
 * messages without allocating (freestanding, like the rest of the guest
 * half).
 *
 * Wire formats: include/vmbus/proto/vmbus.h (Linux include/linux/hyperv.h
 * struct vmbus_channel_gpadl_header/body; OpenVMM vmbus_core protocol.rs).
 * Sequence: Linux drivers/hv/channel.c create_gpadl_header() and
 * __vmbus_establish_gpadl(); host checks after OpenVMM vmbus_server
 * channels.rs and QEMU hw/hyperv/vmbus.c. Facts they establish:
 *  - The ranges form one stream of 64-bit words: per range a word holding
 *    {u32 byte_count; u32 byte_offset}, then one PFN per page touched,
 *    ceil((byte_offset + byte_count) / 4096). The header message carries
 *    the start of the stream, body messages the rest, in order.
 *  - range_buflen is the byte size of the whole stream (not of the part in
 *    the header). It is 16 bits wide: Linux stores 8 + 8 * pages truncated
 *    to 16 bits, FreeBSD refuses GPADLs whose stream exceeds 65535 bytes,
 *    OpenVMM's own client refuses them too.
 *  - msgnumber is never set by Linux, FreeBSD, NetBSD or OpenVMM's client
 *    (always 0; OpenVMM calls the field reserved), and neither OpenVMM nor
 *    QEMU look at it. Ordering comes from the message queue alone.
 */
#ifndef VMBUS_GPADL_H
#define VMBUS_GPADL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmbus/gpa.h>
#include <vmbus/proto/vmbus.h>

struct vmbus_log;

/* ---- Guest side: encoding (freestanding) -------------------------------- */

/* Words of the range stream the header and each body message carry. */
#define VMBUS_GPADL_HEADER_WORDS	(VMBUS_GPADL_HEADER_PFNS + 1)
#define VMBUS_GPADL_BODY_WORDS		VMBUS_GPADL_BODY_PFNS

/* One range to describe: a value type the caller fills. */
struct vmbus_gpadl_build_range {
	uint32_t byte_offset;	/* into the first page, < 4096 */
	uint32_t byte_count;	/* > 0 */
	const uint64_t *pfns;	/* ceil((byte_offset + byte_count) / 4096) PFNs */
};

/*
 * An encoder. The caller embeds it (the guest half allocates nothing);
 * fields are filled by vmbus_gpadl_build_init*() and read-only afterwards.
 * The ranges and PFN arrays it points to must stay valid while messages
 * are encoded; after _init_single it points into itself, so do not copy it.
 */
struct vmbus_gpadl_build {
	uint32_t child_relid;
	uint32_t gpadl_id;
	const struct vmbus_gpadl_build_range *ranges;
	uint16_t range_count;
	uint16_t range_buflen;	/* as sent: stream bytes, 16-bit truncated */
	uint32_t words;		/* words in the range stream */
	uint32_t msg_count;	/* header + bodies */
	struct vmbus_gpadl_build_range single;	/* storage for _init_single */
};

/*
 * Prepare to encode a GPADL of range_count ranges. Returns the number of
 * messages needed (>= 1), or -EINVAL for a bad range (no ranges, NULL PFN
 * array, byte_offset >= 4096, byte_count 0) and -E2BIG when several ranges
 * do not fit the 16-bit range_buflen. A single range may exceed it: the
 * field is then truncated as Linux does (this library's host accepts that,
 * since the range's byte_count defines its length; a host that trusts
 * range_buflen may refuse GPADLs above 8190 pages).
 */
int vmbus_gpadl_build_init(struct vmbus_gpadl_build *b, uint32_t child_relid,
			   uint32_t gpadl_id,
			   const struct vmbus_gpadl_build_range *ranges,
			   uint16_t range_count);

/* The same for one range, the way Linux describes every buffer. */
int vmbus_gpadl_build_init_single(struct vmbus_gpadl_build *b,
				  uint32_t child_relid, uint32_t gpadl_id,
				  const uint64_t *pfns, uint32_t byte_offset,
				  uint32_t byte_count);

/*
 * Encode message index (0 = GPADL_HEADER, 1.. = GPADL_BODY) into buf.
 * The header carries as many words as fit (26 PFNs after a single range's
 * header word), each body 28 PFNs. Bodies carry msgnumber 0, as every
 * known guest sends. Returns the message length (what HvPostMessage takes
 * as payload_size), -EINVAL for an index past the last message,
 * -ENOBUFS when buf_len is below the message length
 * (VMBUS_MSG_MAX_SIZE always suffices).
 */
int vmbus_gpadl_build_msg(const struct vmbus_gpadl_build *b, uint32_t index,
			  void *buf, size_t buf_len);

/* ---- Host side: the GPADL table (hosted) --------------------------------- */

/* The table is a plain data structure: no locks, no threads. The bus
 * server that owns it calls it from one thread at a time. */
struct vmbus_gpadl_table;
struct vmbus_gpadl;

/* The table's bounds on what a guest may make the host allocate. A value
 * type the caller fills (start from vmbus_gpadl_limits_default()). A "PFN
 * slot" is one word of a range stream: each range costs one more than its
 * pages. */
struct vmbus_gpadl_limits {
	uint32_t max_gpadls;	/* complete and in assembly together */
	uint32_t max_pending;	/* in assembly at once */
	uint32_t max_gpadl_pfns;	/* PFN slots in one GPADL */
	uint64_t max_total_pfns;	/* PFN slots over the whole table */
	uint32_t flags;		/* VMBUS_GPADL_F_* */
};

/* Accept messages longer than their content needs and ignore the excess
 * (OpenVMM notes that UEFI always posts the maximum message length). Off:
 * a message carrying more words than the GPADL declared fails it, and
 * message payloads must be whole words. */
#define VMBUS_GPADL_F_LENIENT_LENGTH	0x1u
/* Check msgnumber: 0 in every body (what all known guests send) or 1, 2,
 * 3... in order of arrival; anything else fails the GPADL. Off: ignored,
 * as OpenVMM and QEMU do. */
#define VMBUS_GPADL_F_CHECK_MSGNUMBER	0x2u

/* Fill l with the defaults: 8192 GPADLs, 128 pending, 262144 PFN slots per
 * GPADL (1 GiB), 4194304 PFN slots in all (16 GiB lent, 32 MiB of host
 * memory for the lists), strict lengths, msgnumber not checked. */
void vmbus_gpadl_limits_default(struct vmbus_gpadl_limits *l);

/* Create a table that validates PFNs against map (which must outlive it).
 * limits NULL means the defaults; log may be NULL. NULL when out of memory
 * or a limit is 0. */
struct vmbus_gpadl_table *vmbus_gpadl_table_new(const struct vmbus_gpa_map *map,
						const struct vmbus_gpadl_limits *limits,
						const struct vmbus_log *log);

/* Free the table and every GPADL in it. Every reference must have been put
 * back before; a GPADL still referenced is freed all the same. */
void vmbus_gpadl_table_free(struct vmbus_gpadl_table *t);

/* What a GPADL message asks of the bus: when reply is set, send
 * GPADL_CREATED for (child_relid, gpadl_id) with success when the call
 * returned 0, else a failure status. reply is clear while more bodies are
 * awaited and when there is nobody to answer (a body for an unknown GPADL
 * does not say which channel it is for; a message too short to name one). */
struct vmbus_gpadl_result {
	uint32_t gpadl_id;
	uint32_t child_relid;
	bool reply;
};

/* Return value of the message handlers: the GPADL is still in assembly. */
#define VMBUS_GPADL_INCOMPLETE	1

/*
 * Feed a GPADL_HEADER message (len bytes from the message header on; the
 * buffer is read once, so it may still be guest-visible). Returns 0 when
 * the GPADL is complete and valid, VMBUS_GPADL_INCOMPLETE when bodies must
 * follow, or a negative errno and no GPADL is kept:
 *  -EBADMSG	shorter than the header, or not a GPADL_HEADER
 *  -EMSGSIZE	longer than VMBUS_MSG_MAX_SIZE
 *  -EEXIST	gpadl id already complete or in assembly (that one is kept)
 *  -EINVAL	rangecount 0, a range with byte_offset >= 4096 or byte_count
 *		0, range_buflen inconsistent with the ranges or the message,
 *		payload not whole words (strict mode), no words at all
 *  -E2BIG	more words than declared (strict mode), or over max_gpadl_pfns
 *  -EFAULT	a PFN outside the guest memory map
 *  -EAGAIN	max_pending GPADLs already in assembly
 *  -ENOSPC	max_gpadls reached
 *  -ENOMEM	max_total_pfns reached, or out of memory
 */
int vmbus_gpadl_header(struct vmbus_gpadl_table *t, const void *msg, size_t len,
		       struct vmbus_gpadl_result *res);

/*
 * Feed a GPADL_BODY message. Returns as vmbus_gpadl_header(); errors other
 * than -ENOENT/-EALREADY/-EBADMSG discard the GPADL in assembly:
 *  -ENOENT	no GPADL with this id is in assembly (no reply)
 *  -EALREADY	the GPADL with this id is already complete (no reply; it
 *		is kept)
 *  -EBADMSG	shorter than the body header or not a GPADL_BODY (no reply)
 *  -EMSGSIZE	longer than VMBUS_MSG_MAX_SIZE
 *  -EPROTO	msgnumber out of sequence (VMBUS_GPADL_F_CHECK_MSGNUMBER)
 *  -EINVAL	no PFNs, payload not whole words (strict), bad ranges
 *  -E2BIG	more words than the GPADL declared (strict mode)
 *  -EFAULT	a PFN outside the guest memory map
 */
int vmbus_gpadl_body(struct vmbus_gpadl_table *t, const void *msg, size_t len,
		     struct vmbus_gpadl_result *res);

/*
 * GPADL_TEARDOWN: remove the complete GPADL gpadl_id of child_relid. The
 * caller answers GPADL_TORNDOWN on 0. -ENOENT unknown id, -EPERM when it
 * belongs to another channel, -EINPROGRESS while still in assembly (as
 * OpenVMM), -EBUSY while a user holds a reference (an open ring).
 */
int vmbus_gpadl_teardown(struct vmbus_gpadl_table *t, uint32_t child_relid,
			 uint32_t gpadl_id);

/*
 * Drop every GPADL of child_relid (channel closed after a rescind, relid
 * released) or of every channel (unload), complete or in assembly. GPADLs
 * still referenced leave the table at once (their id may be reused) and
 * are freed when the last reference is put. Returns how many were removed.
 */
unsigned int vmbus_gpadl_remove_channel(struct vmbus_gpadl_table *t,
					uint32_t child_relid);
unsigned int vmbus_gpadl_remove_all(struct vmbus_gpadl_table *t);

/* GPADLs in the table: complete ones and those in assembly. */
unsigned int vmbus_gpadl_count(const struct vmbus_gpadl_table *t);
unsigned int vmbus_gpadl_pending_count(const struct vmbus_gpadl_table *t);

/* Look up complete GPADL gpadl_id without taking a reference; NULL when
 * unknown or in assembly. Valid until the table changes. */
const struct vmbus_gpadl *vmbus_gpadl_find(const struct vmbus_gpadl_table *t,
					   uint32_t gpadl_id);

/*
 * Take a reference on complete GPADL gpadl_id of child_relid (OPENCHANNEL
 * naming its ring GPADL). 0 and *out set, -ENOENT unknown or in assembly,
 * -EPERM another channel's. While referenced the GPADL cannot be torn down.
 */
int vmbus_gpadl_get(struct vmbus_gpadl_table *t, uint32_t child_relid,
		    uint32_t gpadl_id, struct vmbus_gpadl **out);

/* Drop a reference taken with vmbus_gpadl_get(). */
void vmbus_gpadl_put(struct vmbus_gpadl_table *t, struct vmbus_gpadl *g);

/* Identity of a complete GPADL. */
uint32_t vmbus_gpadl_id(const struct vmbus_gpadl *g);
uint32_t vmbus_gpadl_child_relid(const struct vmbus_gpadl *g);

/* Number of ranges, and of PFNs over all ranges. */
uint32_t vmbus_gpadl_range_count(const struct vmbus_gpadl *g);
uint32_t vmbus_gpadl_pfn_count(const struct vmbus_gpadl *g);

/* Range index as a page-list view (pointing into the GPADL, valid while it
 * lives). -ERANGE for an index past the last range. */
int vmbus_gpadl_range(const struct vmbus_gpadl *g, uint32_t index,
		      struct vmbus_gpa_pagelist *pl);

/*
 * Resolve a GPADL made of one range of whole pages (byte_offset 0,
 * byte_count a multiple of 4096: what a ring buffer GPADL is) into host
 * page pointers, pages[i] for PFN i. Returns the page count, -EINVAL for
 * any other shape, -ENOBUFS when max is too small, -EFAULT if a page is
 * no longer mapped.
 */
int vmbus_gpadl_map_pages(const struct vmbus_gpadl_table *t,
			  const struct vmbus_gpadl *g, void **pages,
			  uint32_t max);

#endif
