// SPDX-License-Identifier: MIT
/*
 * netvsc over a link guest (<vmbus/link.h>): the plumbing a guest program
 * needs around the freestanding client of <vmbus/netvsc.h>. It opens the
 * primary channel of a network offer, lends the receive and send buffers
 * (guest RAM pages and their GPADLs), runs the bring-up to the end, opens
 * the subchannels the host allocates, and takes it all down again. Used by
 * vmbus-guest's network commands and by bench-net.
 *
 * Channel signals run netvsc_process() for their queue from the link's
 * interrupt handler (vmbus_link_guest_process / _wait), so received frames
 * and completions reach the events given here from there.
 */
#ifndef VMBUS_EXAMPLES_NETVSC_LINK_H
#define VMBUS_EXAMPLES_NETVSC_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include <vmbus/link.h>
#include <vmbus/msg.h>
#include <vmbus/netvsc.h>

struct netvsc_link;

/* A value type the caller fills (copied). */
struct netvsc_link_config {
	uint32_t relid;			/* the primary channel's offer */
	/* Where subchannel offers show up (the caller's offer event keeps
	 * appending to offers[] and counting in *noffers). */
	const struct vmbus_msg_offer *offers;
	const unsigned int *noffers;
	unsigned int queues;		/* wanted; 0: 1 */
	uint32_t ring_pages;		/* per ring; 0: 128 */
	uint32_t recv_pages;		/* receive buffer; 0: 1024 (4 MiB) */
	uint32_t send_pages;		/* send buffer; 0: 256 (1 MiB) */
	uint32_t mtu;			/* 0: 1500 */
	/* rx, link and tx_done are passed on (ready and subchannels are
	 * handled here); ctx is theirs. */
	const struct netvsc_events *events;
	void *ctx;
	struct vmbus_log log;
	int timeout_ms;
};

/*
 * Blocking: bring the NIC up. Returns 0 and *out, or a negative errno:
 * the link's (-ETIMEDOUT, -ECONNRESET, -ENOMEM for guest RAM), the
 * client's, or the bring-up's (-EPROTO, -EIO).
 */
int netvsc_link_open(struct vmbus_link_guest *g, const struct netvsc_link_config *cfg,
		     struct netvsc_link **out);

/* Blocking: close the channels and take back the buffers (skipped when
 * the host is gone), then free. Returns 0 or the first error. */
int netvsc_link_close(struct netvsc_link *nl, int timeout_ms);

struct netvsc *netvsc_link_nic(struct netvsc_link *nl);

/* The guest end of queue q's channel, or NULL. */
struct vmbus_channel *netvsc_link_channel(struct netvsc_link *nl, unsigned int q);

/* Run netvsc_process() on every queue, as a poller would. Returns the
 * packets handled or a negative errno. */
int netvsc_link_poll(struct netvsc_link *nl);

#endif
