/* SPDX-License-Identifier: MIT */
/*
 * The hypervisor boundary of libvmbus: the only calls the VMBus makes into
 * whatever carries it. Semantics follow the Hyper-V TLFS (HvPostMessage,
 * HvSignalEvent, SynIC message slots and event flags); the status values
 * are the HV_STATUS_* codes of include/vmbus/proto/tlfs.h.
 *
 * Why so small: three carriers implement this interface (the in-process
 * link, the two-process link and the KVM partition runner), and the bus
 * (server.c, client.c), every VSP and every VSC are written against it and
 * nothing else. Each extra call here would have to be built three times and
 * would tempt the bus to depend on one carrier's quirks. Four calls are
 * what Hyper-V itself offers a VMBus endpoint: the guest posts a message or
 * signals an event; the host drops a message into a SINT slot or sets an
 * event flag and interrupts. Everything else (how slots are queued, how a
 * GPA becomes a pointer, how an interrupt is injected) stays inside the
 * carrier, so the same storvsp serves a unit test, a guest process and a
 * real vCPU unchanged.
 *
 * Freestanding-safe: the guest half includes this header and compiles
 * against stdint/stddef/stdbool only.
 */
#ifndef VMBUS_HV_H
#define VMBUS_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Guest side: what a VMBus client (or any guest driver) asks of the
 * hypervisor. Both calls return an HV_STATUS_* code, exactly what the
 * hypercall would put in RAX bits 15:0, so a client retries on
 * HV_STATUS_INVALID_CONNECTION_ID and HV_STATUS_INSUFFICIENT_BUFFERS the
 * way Linux's vmbus_post_msg() does, whatever the carrier.
 */
struct vmbus_hv_guest_ops {
	/*
	 * HvPostMessage: send @size (<= 240) bytes of @payload with
	 * @message_type (HV_MESSAGE_TYPE_VMBUS for the bus) to the port
	 * behind @connection_id. The carrier copies the payload before
	 * returning, so the buffer may be reused at once.
	 */
	uint16_t (*post_message)(void *ctx, uint32_t connection_id,
				 uint32_t message_type, const void *payload,
				 uint32_t size);
	/*
	 * HvSignalEvent: set flag @flag of the event port behind
	 * @connection_id (VMBus always passes flag 0 and encodes the channel
	 * in the connection id).
	 */
	uint16_t (*signal_event)(void *ctx, uint32_t connection_id,
				 uint16_t flag);
};

/*
 * Host side: how the host half reaches a guest VP. Both return 0 or a
 * negative errno; -ENOBUFS means the carrier's queue for that slot is full
 * (the caller may map it to HV_STATUS_INSUFFICIENT_BUFFERS).
 */
struct vmbus_hv_host_ops {
	/*
	 * Put a message into SINT @sint's slot of VP @vp's message page and
	 * interrupt the VP. A busy slot does not lose the message: the
	 * carrier queues it, marks the slot pending and delivers it after
	 * the guest's EOM. Messages to one slot arrive in call order.
	 */
	int (*deliver_message)(void *ctx, uint32_t vp, uint32_t sint,
			       uint32_t message_type, const void *payload,
			       uint32_t size);
	/*
	 * Set bit @flag (< 2048) of SINT @sint's bitmap in VP @vp's event
	 * flags page and interrupt the VP if the bit was clear. Returns 1
	 * if the bit was newly set, 0 if it was already set.
	 */
	int (*set_event)(void *ctx, uint32_t vp, uint32_t sint, uint32_t flag);
};

/*
 * An ops table bound to its context. Small value types: the bus and the
 * devices embed them by value, so they are not opaque.
 */
struct vmbus_hv_guest {
	const struct vmbus_hv_guest_ops *ops;
	void *ctx;
};

struct vmbus_hv_host {
	const struct vmbus_hv_host_ops *ops;
	void *ctx;
};

/* Post a message through the guest-side carrier; returns an HV_STATUS_*. */
static inline uint16_t vmbus_hv_post_message(const struct vmbus_hv_guest *hv,
					     uint32_t connection_id,
					     uint32_t message_type,
					     const void *payload, uint32_t size)
{
	return hv->ops->post_message(hv->ctx, connection_id, message_type,
				     payload, size);
}

/* Signal an event through the guest-side carrier; returns an HV_STATUS_*. */
static inline uint16_t vmbus_hv_signal_event(const struct vmbus_hv_guest *hv,
					     uint32_t connection_id,
					     uint16_t flag)
{
	return hv->ops->signal_event(hv->ctx, connection_id, flag);
}

/* Deliver a message to a guest VP's SINT slot; 0 or negative errno. */
static inline int vmbus_hv_deliver_message(const struct vmbus_hv_host *hv,
					   uint32_t vp, uint32_t sint,
					   uint32_t message_type,
					   const void *payload, uint32_t size)
{
	return hv->ops->deliver_message(hv->ctx, vp, sint, message_type,
					payload, size);
}

/* Set a guest VP's event flag; 1 newly set, 0 already set, or -errno. */
static inline int vmbus_hv_set_event(const struct vmbus_hv_host *hv,
				     uint32_t vp, uint32_t sint, uint32_t flag)
{
	return hv->ops->set_event(hv->ctx, vp, sint, flag);
}

#endif
