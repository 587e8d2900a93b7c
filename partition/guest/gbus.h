/* SPDX-License-Identifier: MIT */
/*
 * The self-test guest's bus plumbing: the VMBus client's message loop, a
 * page allocator for ring and buffer memory, opening a channel (ring
 * GPADL, OPENCHANNEL, a channel end over the rings) and lending a buffer
 * through a GPADL, as Linux's vmbus_open()/vmbus_establish_gpadl() do
 * (drivers/hv/channel.c). Interfaces: include/vmbus/client.h, channel.h,
 * ring.h; the SynIC event-flag page: include/vmbus/proto/tlfs.h.
 */
#ifndef GBUS_H
#define GBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmbus/channel.h>
#include <vmbus/client.h>
#include <vmbus/ring.h>

/* Time is TIME_REF_COUNT: 100 ns units. */
#define GBUS_SEC		10000000ull

/* The client the loop feeds (set by the self-test once it exists). */
extern struct vmbus_client *gbus_client;

/* TIME_REF_COUNT now. */
uint64_t gbus_now(void);

/* @bytes of zeroed, page-aligned guest RAM above the image (identity
 * mapped, so the address is the GPA); NULL when RAM runs out. Never
 * freed: the guest runs once. */
void *gbus_alloc(size_t bytes);

/* The device the loop also drives: fn is called every round and returns
 * the packets it handled (or a negative errno). NULL for none. */
typedef int gbus_poll_fn(void *ctx);
void gbus_set_poller(gbus_poll_fn *fn, void *ctx);

/* One round: SINT 2 messages to the client, event flags cleared, the
 * poller run; when nothing happened, halt until an interrupt (a SINT or
 * the timer tick). Returns the work done. */
int gbus_pump(void);

/* Pump until *flag is set or @timeout (100 ns units) passes; whether the
 * flag was set. */
bool gbus_wait(volatile bool *flag, uint64_t timeout);

/* A client request that completes through gbus_done(): its result, after
 * waiting up to @timeout for the completion. */
int gbus_request(int ret, uint64_t timeout);

/* vmbus_client_done_fn for gbus_request() (arg unused). */
void gbus_done(void *arg, int err);

/* An open channel: its ring pages and the guest's end. */
struct gbus_chan {
	uint32_t relid;
	uint32_t conn_id;		/* the offer's, for HvSignalEvent */
	uint8_t *ring;
	uint32_t ring_pages;
	struct vmbus_ring send, recv;
	struct vmbus_channel *ch;
	uint64_t signals;
};

/*
 * Open the channel of @offer with @ring_pages pages of ring (even, >= 4;
 * half each way) and @max_requests request slots on its end. 0, -ENOMEM
 * or the client's error.
 */
int gbus_open(struct gbus_chan *c, const struct vmbus_msg_offer *offer,
	      uint32_t ring_pages, unsigned int max_requests);

/* Close it (CLOSECHANNEL, ring GPADL torn down). 0 or the error. */
int gbus_close(struct gbus_chan *c);

/* Lend @bytes (whole pages) at @buf to the host on channel @relid. */
int gbus_gpadl(uint32_t relid, void *buf, uint32_t bytes, uint32_t *id);

/* Take a lent buffer back. */
int gbus_gpadl_teardown(uint32_t relid, uint32_t id);

#endif
