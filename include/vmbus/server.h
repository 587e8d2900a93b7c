/* SPDX-License-Identifier: MIT */
/*
 * The host side of the VMBus control plane: a state machine that takes the
 * channel-management messages a guest posts, answers them, offers the
 * devices registered with it, and tells each device when the guest opens,
 * closes or signals its channel.
 *
 * It owns no thread and does no I/O. Whatever carries the bus (a SynIC
 * model, an in-process link) hands it each guest message and each
 * HvSignalEvent, and gets the replies back through an ops table; tests
 * drive it the same way, deterministically.
 *
 * Message formats: include/vmbus/proto/vmbus.h (Linux include/linux/hyperv.h,
 * OpenVMM vmbus_core protocol.rs); docs/PROTOCOL.md section 3. The sequence
 * and state rules follow OpenVMM vm/devices/vmbus/vmbus_server/src/channels.rs
 * and what Linux drivers/hv/channel_mgmt.c, connection.c and channel.c send
 * and expect.
 *
 * Threading: one caller at a time. Device callbacks run inside the server's
 * functions; from a callback a device may call the channel accessors,
 * vmbus_server_channel_signal_guest(), the GPADL reference calls and
 * vmbus_server_add_offer(), but not vmbus_server_handle_message(),
 * vmbus_server_signal(), vmbus_server_reset() or vmbus_server_free(), and
 * not vmbus_server_remove_offer() on the channel being called back.
 */
#ifndef VMBUS_SERVER_H
#define VMBUS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmbus/gpa.h>
#include <vmbus/gpadl.h>
#include <vmbus/ring.h>
#include <vmbus/log.h>
#include <vmbus/proto/vmbus.h>

struct vmbus_server;
struct vmbus_server_channel;

/* Relids the server hands out: 1..VMBUS_SERVER_MAX_RELID. Bit relid of the
 * guest's SINT 2 event-flag bitmap (2048 bits, bit 0 unused) signals the
 * channel, which bounds the count. */
#define VMBUS_SERVER_MAX_RELID		2047u

/* A channel's event connection id is its relid plus this (OpenVMM's layout:
 * SINT 2 in bits 12..15), so it never collides with the message, event and
 * monitor connection ids 1..4. */
#define VMBUS_SERVER_CONN_ID_BASE	0x2000u

/* Failure status in OPENCHANNEL_RESULT, GPADL_CREATED and
 * MODIFYCHANNEL_RESPONSE: NTSTATUS STATUS_UNSUCCESSFUL, what OpenVMM sends.
 * Linux only tests for non-zero. */
#define VMBUS_SERVER_STATUS_FAILURE	0xc0000001u

/* The connection id the server tells a >= 5.0 guest to post messages to
 * (VERSION_RESPONSE msg_conn_id): the classic message port, as OpenVMM's
 * VTL0 server does. Older guests post there anyway. */
#define VMBUS_SERVER_MSG_CONN_ID	VMBUS_MESSAGE_CONNECTION_ID

/*
 * How the server reaches the guest. A value type the caller fills and
 * passes to vmbus_server_new(), which copies it.
 */
struct vmbus_server_ops {
	/*
	 * Deliver one channel message (@len <= 240 bytes, already encoded)
	 * to SINT @sint of VP @vp. The carrier must copy it and queue it
	 * behind a busy slot: the server never retries, and a guest waits
	 * without timeout for most replies. @vp comes from the guest's
	 * INITIATE_CONTACT, so the carrier checks it. Returns 0 or a
	 * negative errno (only logged).
	 */
	int (*send_message)(void *opaque, uint32_t vp, uint32_t sint,
			    const void *data, uint32_t len);
	/*
	 * Signal channel @relid: set event flag @relid in SINT 2 of VP @vp
	 * and interrupt it. @vp is the channel's target VP as the guest set
	 * it (OPENCHANNEL, MODIFYCHANNEL), so the carrier checks it. Returns
	 * 0 or a negative errno (only logged).
	 */
	int (*signal_guest)(void *opaque, uint32_t vp, uint32_t relid);
	void *opaque;
	/* Where the server's log lines go; zeroed discards them. */
	struct vmbus_log log;
};

/*
 * What a device offers. A value type the device fills; the server copies it.
 * Channels of one device share if_type and if_instance: the primary has
 * sub_channel_index 0, its subchannels 1, 2, ...
 */
struct vmbus_server_offer {
	struct vmbus_guid if_type;	/* device class, e.g. VMBUS_GUID_SCSI */
	struct vmbus_guid if_instance;	/* this device */
	uint8_t user_def[VMBUS_OFFER_USER_DEFINED_SIZE];
	uint16_t sub_channel_index;
	uint16_t chn_flags;		/* VMBUS_CHANNEL_* */
	uint16_t mmio_megabytes;
};

/*
 * What the guest asked for in OPENCHANNEL, as passed to the opened
 * callback. The ring GPADL is one range of whole pages, at least 4: the
 * guest-to-host ring (the host reads it) starts at page 0, the
 * host-to-guest ring (the host writes it) at page downstream_offset, and
 * each is a control page plus at least one data page. Map the pages with
 * vmbus_server_channel_ring_pages().
 */
struct vmbus_server_open_info {
	uint32_t ring_gpadl_id;
	uint32_t ring_pages;		/* pages in the ring GPADL */
	uint32_t downstream_offset;	/* first page of the host-to-guest ring */
	uint32_t target_vp;		/* VP the guest wants interrupts on */
	uint32_t open_id;
	uint8_t userdata[VMBUS_OPEN_USER_DATA_SIZE];
};

/*
 * A device's callbacks. @ctx is what the device passed to
 * vmbus_server_add_offer(). Only opened and closed are required.
 */
struct vmbus_server_device_ops {
	/*
	 * The guest opened the channel. The ring GPADL is referenced for the
	 * device until closed() returns. Return 0 to accept (the guest gets
	 * OPENCHANNEL_RESULT status 0, then one signal) or a negative errno
	 * to refuse (status VMBUS_SERVER_STATUS_FAILURE; closed() is not
	 * called).
	 */
	int (*opened)(struct vmbus_server_channel *ch,
		      const struct vmbus_server_open_info *info, void *ctx);
	/*
	 * The channel is closed: by the guest (CLOSECHANNEL), by UNLOAD, a new
	 * INITIATE_CONTACT, vmbus_server_reset(), vmbus_server_free(), or by
	 * the device's own vmbus_server_remove_offer(). Stop using the rings
	 * and put every GPADL reference taken on this channel before
	 * returning: the GPADLs may be freed right after.
	 */
	void (*closed)(struct vmbus_server_channel *ch, void *ctx);
	/* The guest signalled the open channel (HvSignalEvent on its
	 * connection id). Optional. */
	void (*signalled)(struct vmbus_server_channel *ch, void *ctx);
	/* The guest moved the channel's interrupts to @target_vp
	 * (MODIFYCHANNEL); signals already go there. Optional. */
	void (*modified)(struct vmbus_server_channel *ch, uint32_t target_vp,
			 void *ctx);
};

/* ---- Server ------------------------------------------------------------ */

/*
 * Create a disconnected server. @ops->send_message and @ops->signal_guest
 * are required. GPADLs are checked against @map, which must outlive the
 * server. Returns NULL when an argument is missing or memory runs out.
 */
struct vmbus_server *vmbus_server_new(const struct vmbus_server_ops *ops,
				      const struct vmbus_gpa_map *map);

/*
 * Close every open channel (closed callbacks run), drop every GPADL and
 * channel, and free the server. Sends nothing to the guest. NULL is a no-op.
 */
void vmbus_server_free(struct vmbus_server *srv);

/*
 * Take one message the guest posted: @len bytes at @data (hostile; read
 * once), which arrived on message connection id @connection_id.
 * INITIATE_CONTACT must arrive on 4 for versions >= 5.0 and on 1 before;
 * every other message on VMBUS_SERVER_MSG_CONN_ID. Replies go out through
 * ops->send_message before this returns.
 *
 * Returns 0 when the message was valid and acted on, or a negative errno
 * when it was refused, in which case a failure reply may still have been
 * sent (e.g. OPENCHANNEL_RESULT with a non-zero status) and a line was
 * logged:
 *  -EBADMSG/-EMSGSIZE/-ENOMSG  malformed, too long, or unknown type
 *  -EPROTO      a host-to-guest type, wrong connection id, or a type the
 *               negotiated version does not have
 *  -ENOTCONN    anything but INITIATE_CONTACT while disconnected
 *  -ENOTSUP     unsupported version, SINT or VTL (version_supported = 0),
 *               or an hvsocket TL_CONNECT_REQUEST (refused: no services)
 *  -ENOENT      unknown relid or GPADL id
 *  -EALREADY    REQUESTOFFERS twice, or opening an open channel
 *  -EINVAL      a bad ring GPADL, offset or target VP, or a state that
 *               does not allow the message
 *  -EINPROGRESS GPADL_TEARDOWN of a GPADL a channel still uses: the
 *               GPADL_TORNDOWN follows when the last user lets go
 *  others       from the GPADL table (vmbus_gpadl_header()/_body()) or
 *               the device's opened callback
 */
int vmbus_server_handle_message(struct vmbus_server *srv, uint32_t connection_id,
				const void *data, size_t len);

/*
 * The guest called HvSignalEvent on @connection_id: tell the device whose
 * open channel has that event connection id. Returns 0, or -ENOENT when no
 * open channel has it (the carrier may answer
 * HV_STATUS_INVALID_CONNECTION_ID).
 */
int vmbus_server_signal(struct vmbus_server *srv, uint32_t connection_id);

/*
 * The guest went away without UNLOAD (its process died, the VM was reset):
 * close every open channel (closed callbacks run), drop every GPADL and
 * every rescinded channel, and go back to disconnected. Sends nothing.
 * Registered offers stay and are offered again after the next
 * INITIATE_CONTACT and REQUESTOFFERS.
 */
void vmbus_server_reset(struct vmbus_server *srv);

/* True between an accepted INITIATE_CONTACT and UNLOAD or reset. */
bool vmbus_server_connected(const struct vmbus_server *srv);

/* The negotiated protocol version, 0 while disconnected. */
uint32_t vmbus_server_version(const struct vmbus_server *srv);

/* The GPADL table, for vmbus_gpadl_find()/vmbus_gpadl_map_pages() and the
 * counters. Valid for the server's lifetime. */
const struct vmbus_gpadl_table *vmbus_server_gpadl_table(const struct vmbus_server *srv);

/* ---- Offers ------------------------------------------------------------ */

/*
 * Register a channel. The lowest free relid is assigned now and kept while
 * the channel lives. If the guest has already asked for offers, the offer
 * is sent at once (hot add); otherwise it goes out with the next
 * REQUESTOFFERS. A subchannel (sub_channel_index > 0) needs its primary
 * (same if_type and if_instance, index 0) registered first.
 * Returns 0 and sets *@out, or:
 *  -EINVAL  a NULL argument or a missing required callback
 *  -EEXIST  the same if_type, if_instance and sub_channel_index is
 *           registered (a rescinded one awaiting release does not count)
 *  -ENOENT  a subchannel without its primary
 *  -ENOSPC  every relid is in use
 *  -ENOMEM  out of memory
 */
int vmbus_server_add_offer(struct vmbus_server *srv,
			   const struct vmbus_server_offer *offer,
			   const struct vmbus_server_device_ops *ops, void *ctx,
			   struct vmbus_server_channel **out);

/*
 * Withdraw a channel (hot remove). If it is open, it is closed first and
 * the closed callback runs before this returns. If the guest knows the
 * channel it gets RESCIND_CHANNELOFFER; the relid stays taken until the
 * guest answers RELID_RELEASED (after its CLOSECHANNEL and GPADL
 * teardowns), or disconnects. No callback runs after this returns and
 * @ch must not be used again. Returns 0, -EINVAL for NULL or a channel
 * already removed, -EBUSY when called from one of @ch's own callbacks.
 */
int vmbus_server_remove_offer(struct vmbus_server *srv,
			      struct vmbus_server_channel *ch);

/* ---- Channels ---------------------------------------------------------- */

/* The channel's relid (child_relid in every message about it). */
uint32_t vmbus_server_channel_relid(const struct vmbus_server_channel *ch);

/* The event connection id the guest signals the channel on. */
uint32_t vmbus_server_channel_connection_id(const struct vmbus_server_channel *ch);

/* The VP the guest wants the channel's interrupts on (OPENCHANNEL, then
 * MODIFYCHANNEL). Meaningful while open. */
uint32_t vmbus_server_channel_target_vp(const struct vmbus_server_channel *ch);

/* True from a successful opened callback until closed. Also true during
 * the opened callback itself. */
bool vmbus_server_channel_is_open(const struct vmbus_server_channel *ch);

/* The open channel's ring GPADL (referenced while open), NULL when closed. */
const struct vmbus_gpadl *vmbus_server_channel_ring_gpadl(const struct vmbus_server_channel *ch);

/* First page of the host-to-guest ring inside the ring GPADL; 0 when closed. */
uint32_t vmbus_server_channel_downstream_offset(const struct vmbus_server_channel *ch);

/*
 * Host pointers to every page of the open channel's ring GPADL: pages[i] is
 * GPADL page i, so the guest-to-host ring is pages[0 .. downstream_offset)
 * and the host-to-guest ring pages[downstream_offset .. count). Returns the
 * page count, -ENOTCONN when the channel is not open, -ENOBUFS when @max is
 * too small, -EFAULT when a page is no longer mapped.
 */
int vmbus_server_channel_ring_pages(const struct vmbus_server_channel *ch,
				    void **pages, uint32_t max);

/*
 * The host's two ring views of an open channel, attached and checked:
 * @recv over the guest-to-host ring, @send over the host-to-guest ring.
 * @pages (room for @max pointers) receives the page pointers and must stay
 * alive as long as the views are used. Returns 0, or the errors of
 * vmbus_server_channel_ring_pages() and of vmbus_ring_attach() (a ring
 * whose indices the guest left out of range).
 */
int vmbus_server_channel_rings(const struct vmbus_server_channel *ch,
			       void **pages, uint32_t max,
			       struct vmbus_ring *send, struct vmbus_ring *recv);

/*
 * Interrupt the guest for this channel (event flag = relid on the channel's
 * target VP). Returns 0, -ENOTCONN when the channel is not open, or the
 * carrier's error.
 */
int vmbus_server_channel_signal_guest(struct vmbus_server_channel *ch);

/*
 * Reference a complete GPADL the guest created for this channel (a device's
 * receive or send buffer). While referenced, the guest's GPADL_TEARDOWN is
 * held back; GPADL_TORNDOWN goes out at the last put. Put every reference
 * before the closed callback returns. 0 and *@out, -ENOENT unknown or
 * incomplete, -EPERM another channel's, -ENOTCONN channel not open.
 */
int vmbus_server_channel_gpadl_get(struct vmbus_server_channel *ch,
				   uint32_t gpadl_id, struct vmbus_gpadl **out);

/* Put a reference taken with vmbus_server_channel_gpadl_get(). */
void vmbus_server_channel_gpadl_put(struct vmbus_server_channel *ch,
				    struct vmbus_gpadl *g);

#endif
