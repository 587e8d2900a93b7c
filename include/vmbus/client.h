/* SPDX-License-Identifier: MIT */
/*
 * The guest half of the VMBus control plane: a state machine that connects
 * to the host, learns the channel offers, lends pages (GPADLs), opens and
 * closes channels and answers rescinds. It owns no thread, does no I/O and
 * allocates nothing: it posts channel messages through the hypervisor
 * interface of <vmbus/hv.h>, and the carrier hands it every message that
 * arrives in SINT 2 with vmbus_client_handle_message().
 *
 * Sequences: Linux drivers/hv/connection.c (vmbus_connect,
 * vmbus_negotiate_version), drivers/hv/channel_mgmt.c (offers, rescind,
 * relid release, unload), drivers/hv/channel.c (__vmbus_open, vmbus_close,
 * GPADL establish and teardown); OpenVMM vm/devices/vmbus/vmbus_client.
 * Wire formats: include/vmbus/proto/vmbus.h; docs/PROTOCOL.md section 3.
 *
 * Freestanding-safe.
 *
 * Model. Every request function checks its arguments and the state, posts
 * what it must and returns 0; the reply, when the carrier feeds it in,
 * fires the request's completion callback (a vmbus_client_done_fn with
 * the argument given to the request). Waiting is the caller's business.
 * A request that needs no reply returns VMBUS_CLIENT_COMPLETED instead
 * and its callback is never called. A negative return means nothing was
 * started and the callback will not fire.
 *
 * Rules for the carrier and the callbacks:
 *  - One thread at a time in the client (requests, handle_message).
 *  - vmbus_hv_guest_ops.post_message must not feed a reply back into the
 *    client from inside the call; queue it and feed it afterwards.
 *  - Callbacks may call any request function (open from the offer
 *    callback, close from the rescind callback, ...).
 *
 * Everything the host sends is hostile: malformed, unexpected or unknown
 * replies are dropped with a log line and change nothing.
 */
#ifndef VMBUS_CLIENT_H
#define VMBUS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmbus/gpadl.h>
#include <vmbus/hv.h>
#include <vmbus/log.h>
#include <vmbus/msg.h>

struct vmbus_client;

/* Returned by a request that finished at once (no reply expected). */
#define VMBUS_CLIENT_COMPLETED	1

/* Relids a guest accepts: 1 .. 2047, the bits of the SINT 2 event flags
 * (relid 0 is the bit Hyper-V keeps for the message connection). */
#define VMBUS_CLIENT_MAX_RELID	2047u

/*
 * Completion of one request. err is 0 on success or a negative errno:
 *   -EIO        the host refused (non-zero status in its reply; for
 *               connect: version accepted with a failed connection_state)
 *   -ENODEV     the channel was rescinded before the reply came
 *   -ENOTSUP    connect: the host accepted none of the versions tried
 *   -EPROTO     connect: a 5.0+ host answered without a message
 *               connection id
 *   -ECONNRESET the bus was unloaded while the request was pending
 *   other       posting a follow-up message failed (see post errors below)
 */
typedef void vmbus_client_done_fn(void *arg, int err);

/* Bus events. Any member may be NULL. */
struct vmbus_client_events {
	/* A channel offer, at REQUESTOFFERS time or later (hot add). The
	 * channel is known to the client when this runs, so the callee may
	 * open it at once. offer is a decoded copy, valid during the call. */
	void (*offer)(void *ctx, const struct vmbus_msg_offer *offer);
	/* ALLOFFERS_DELIVERED: every offer present at REQUESTOFFERS time has
	 * been reported. */
	void (*offers_delivered)(void *ctx);
	/* The host took channel relid away. Pending opens and GPADL creations
	 * on it have already failed with -ENODEV. The guest must close the
	 * channel (if open) and tear down its GPADLs; the client posts
	 * RELID_RELEASED by itself once the channel is closed and holds no
	 * GPADL, and then forgets the relid (possibly before this callback's
	 * caller returns, when nothing is left to clean up). */
	void (*rescind)(void *ctx, uint32_t relid);
};

/*
 * How to build a client. A value type the caller fills. max_channels and
 * max_gpadls size the fixed tables that live in the caller's memory: one
 * entry per known channel (offered and not yet released) and one per
 * GPADL being created, existing or being torn down (an open channel's
 * ring GPADL counts).
 */
struct vmbus_client_config {
	struct vmbus_hv_guest hv;		/* post_message is used */
	const struct vmbus_client_events *events; /* may be NULL */
	void *events_ctx;
	const struct vmbus_log *log;		/* copied; NULL for none */
	unsigned int max_channels;		/* 1 .. 2047 */
	unsigned int max_gpadls;		/* 1 .. 65536 */
};

/* Bytes of memory a client with this configuration needs, or 0 if the
 * table sizes are out of range. */
size_t vmbus_client_mem_size(const struct vmbus_client_config *cfg);

/*
 * Build a client in mem (mem_size bytes, 8-byte aligned, at least
 * vmbus_client_mem_size()). The memory belongs to the client until the
 * caller stops using it; there is nothing to free. -EINVAL for a bad
 * configuration (no post_message, table sizes out of range), a misaligned
 * or NULL mem; -ENOSPC if mem_size is too small.
 */
int vmbus_client_init(void *mem, size_t mem_size,
		      const struct vmbus_client_config *cfg,
		      struct vmbus_client **out);

/*
 * Posting. Every request posts with HvPostMessage (message type 1) to the
 * message connection. HV_STATUS_INSUFFICIENT_BUFFERS and
 * HV_STATUS_INVALID_CONNECTION_ID are retried up to 100 times (Linux's
 * vmbus_post_msg() does the same with delays; a carrier that wants delays
 * sleeps inside post_message). A post that still fails makes the request
 * return -EAGAIN (those two statuses) or -EIO (any other).
 */

/* What INITIATE_CONTACT carries besides the version. */
struct vmbus_client_connect_params {
	uint32_t target_vcpu;	/* VP that takes the bus messages (Linux: 0) */
	uint8_t msg_vtl;	/* from 5.0: the VTL the guest runs in (0) */
	/* Below 5.0 only: the GPA of the page whose second half holds the
	 * guest-to-host interrupt bits (Linux's vmbus_connection.int_page).
	 * From 5.0 on the message carries msg_sint = 2 instead. */
	uint64_t interrupt_page;
	/* GPAs of the two monitor pages, host-to-guest then guest-to-host;
	 * Linux always passes them, 0 means none. */
	uint64_t monitor_page1;
	uint64_t monitor_page2;
	/* Newest version to ask for; 0 means VERSION_WIN10_V5_3. */
	uint32_t max_version;
};

/*
 * Negotiate a protocol version: INITIATE_CONTACT with each version of
 * vmbus_versions[] not above max_version, newest first (5.3 down to 2.4,
 * Linux's list), until the host answers version_supported = 1. Versions
 * from 5.0 are asked on connection id 4, older ones on connection id 1; a
 * post refused with HV_STATUS_INVALID_CONNECTION_ID (an old host knows no
 * connection 4) moves on to the next version as Linux does. Once accepted,
 * messages go to the msg_conn_id of the reply (5.0 and later) or to
 * connection 1. done fires with 0 (see vmbus_client_version()), -ENOTSUP,
 * -EPROTO or a post error. -EALREADY unless disconnected; -EINVAL for a
 * bad argument or a max_version below 2.4.
 */
int vmbus_client_connect(struct vmbus_client *cl,
			 const struct vmbus_client_connect_params *params,
			 vmbus_client_done_fn *done, void *arg);

/* The negotiated version, 0 when not connected. */
uint32_t vmbus_client_version(const struct vmbus_client *cl);

/* The connection id messages are posted to, 0 when not connected. */
uint32_t vmbus_client_msg_conn_id(const struct vmbus_client *cl);

/* True between a successful connect and the end of an unload. */
bool vmbus_client_connected(const struct vmbus_client *cl);

/*
 * Post REQUESTOFFERS. Offers then arrive through events->offer and the
 * end of the list through events->offers_delivered. -ENOTCONN when not
 * connected, -EALREADY if already asked.
 */
int vmbus_client_request_offers(struct vmbus_client *cl);

/* Copy the offer of known channel relid into *out. -ENOENT if unknown. */
int vmbus_client_get_offer(const struct vmbus_client *cl, uint32_t relid,
			   struct vmbus_msg_offer *out);

/*
 * Lend pages to the host for channel relid: post GPADL_HEADER and as many
 * GPADL_BODY messages as the ranges need (vmbus_gpadl_build), then wait
 * for GPADL_CREATED. *gpadl gets the new handle at once. done fires with
 * 0 or -EIO (the host refused; the handle is gone), or -ENODEV (rescind).
 * Returns -ENOTCONN, -ENOENT (unknown relid), -ENODEV (rescinded),
 * -ENOSPC (GPADL table full), -EINVAL / -E2BIG (bad ranges, from
 * vmbus_gpadl_build_init()) or a post error. If a body message fails to
 * post after the header went out the handle is dropped and the error
 * returned; the host discards the partial GPADL when the relid goes.
 */
int vmbus_client_gpadl_create(struct vmbus_client *cl, uint32_t relid,
			      const struct vmbus_gpadl_build_range *ranges,
			      uint16_t range_count, uint32_t *gpadl,
			      vmbus_client_done_fn *done, void *arg);

/*
 * Take back GPADL gpadl of channel relid: post GPADL_TEARDOWN and wait for
 * GPADL_TORNDOWN; the pages are the guest's again when done fires (0).
 * -ENOENT: no such created GPADL on relid. -EBUSY: it is the ring of an
 * open channel (close the channel instead).
 */
int vmbus_client_gpadl_teardown(struct vmbus_client *cl, uint32_t relid,
				uint32_t gpadl, vmbus_client_done_fn *done,
				void *arg);

/*
 * Both rings of a channel in one page list. The guest-to-host ring
 * (control page, then its data pages) starts at page 0, the host-to-guest
 * ring at downstream_page_offset. The caller prepares both control pages
 * first (vmbus_ring_init() in <vmbus/ring.h>); the client only sends the
 * page numbers.
 */
struct vmbus_client_open_params {
	const uint64_t *pfns;		/* page_count guest page numbers */
	uint32_t page_count;
	uint32_t downstream_page_offset;
	uint32_t target_vp;		/* VP the host signals for this channel */
	const void *userdata;		/* OPENCHANNEL user data, may be NULL */
	size_t userdata_len;		/* at most 120 */
};

/*
 * Open channel relid the way Linux's __vmbus_open() does: create the ring
 * GPADL (one range covering all pages), then post OPENCHANNEL with
 * openid = relid, the GPADL handle, target_vp, the downstream page offset
 * and the user data, and wait for OPENCHANNEL_RESULT. done fires with 0
 * once the host opened the channel. If the host refuses (-EIO) or the
 * channel is rescinded meanwhile (-ENODEV), the ring GPADL is torn down
 * first, so when done fires with an error the ring pages are free again.
 * Returns -EINVAL (each ring needs at least two pages, userdata too long,
 * 2^20 pages or more), -ENOENT, -ENODEV, -EBUSY (not closed), -ENOSPC,
 * or a post error.
 */
int vmbus_client_open(struct vmbus_client *cl, uint32_t relid,
		      const struct vmbus_client_open_params *params,
		      vmbus_client_done_fn *done, void *arg);

/* The ring GPADL handle of an open channel, 0 if it is not open. */
uint32_t vmbus_client_ring_gpadl(const struct vmbus_client *cl, uint32_t relid);

/*
 * Close open channel relid: post CLOSECHANNEL (the host sends no reply),
 * then tear the ring GPADL down; done fires with 0 after GPADL_TORNDOWN,
 * when the ring pages are the guest's again. If the channel was rescinded
 * and nothing else of it remains, RELID_RELEASED follows. -EBUSY if the
 * channel is not open (opening or closing), -ENOENT if unknown; if the
 * CLOSECHANNEL post fails the error is returned and the channel stays open;
 * if only the GPADL_TEARDOWN post fails, the ring GPADL is leaked (never
 * reused, as Linux does), the channel is closed and VMBUS_CLIENT_COMPLETED
 * is returned.
 */
int vmbus_client_close(struct vmbus_client *cl, uint32_t relid,
		       vmbus_client_done_fn *done, void *arg);

/*
 * MODIFYCHANNEL: ask the host to signal VP target_vp for channel relid
 * from now on. Needs version 4.1 or later (-EOPNOTSUPP below). From 5.3
 * the host answers MODIFYCHANNEL_RESPONSE and done fires with 0 or -EIO;
 * before that there is no answer and VMBUS_CLIENT_COMPLETED is returned.
 * -EBUSY while one is pending on the channel.
 */
int vmbus_client_modify_channel(struct vmbus_client *cl, uint32_t relid,
				uint32_t target_vp, vmbus_client_done_fn *done,
				void *arg);

/*
 * Disconnect from the bus: post UNLOAD and wait for UNLOAD_RESPONSE. The
 * host then forgets every channel and GPADL, so when done fires (0) every
 * channel and GPADL the client knew is gone, and every request still
 * pending has completed with -ECONNRESET; connect may be called again.
 * Versions below 3.0 know no unload (Linux skips it too): the client
 * resets at once and returns VMBUS_CLIENT_COMPLETED. -ENOTCONN when not
 * connected.
 */
int vmbus_client_unload(struct vmbus_client *cl, vmbus_client_done_fn *done,
			void *arg);

/*
 * Feed one message that arrived in SINT 2 (the payload, len <= 240 bytes).
 * Returns 0 when the message was acted on; a negative errno when it was
 * dropped (and logged): the vmbus_msg_decode() errors, -EPROTO for a type
 * a host may not send or a reply nobody waits for, -ENOENT for an unknown
 * relid or GPADL, -EEXIST for an offer of a relid already known, -ENOSPC
 * for an offer that does not fit the channel table, -ERANGE for a relid
 * out of range. The client's state is unchanged by a dropped message.
 */
int vmbus_client_handle_message(struct vmbus_client *cl, const void *data,
				size_t len);

#endif
