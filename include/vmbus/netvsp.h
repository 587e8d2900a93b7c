/* SPDX-License-Identifier: MIT */
/*
 * netvsp: the host side of a Hyper-V synthetic NIC. It speaks NVSP on the
 * device's VMBus channels (version negotiation, NDIS configuration, the
 * receive and send buffers the guest lends, subchannels, data path switch)
 * and carries RNDIS over it: control messages go to the RNDIS device model
 * (<vmbus/rndis_dev.h>), data messages become frames handed to a frame
 * hook, and frames for the guest are framed as RNDIS PACKETs in the
 * guest's receive buffer and announced with transfer-page packets.
 *
 * Formats: include/vmbus/proto/nvsp.h and rndis.h (Linux hyperv_net.h,
 * netvsc.c, rndis_filter.c; DPDK hn_nvs.c, hn_rxtx.c; OpenVMM netvsp
 * lib.rs); docs/PROTOCOL.md section 6.
 *
 * Layout. A struct netvsp is one NIC; a struct netvsp_channel is one of its
 * open VMBus channels, queue 0 being the primary channel and queue n the
 * subchannel with sub_channel_index n. The receive and send buffers are
 * named on the primary channel and shared by every queue, as on Hyper-V.
 *
 * Frame I/O. The backend sees only struct netvsp_frame_ops->tx (a frame the
 * guest sent, as iovecs that point into guest memory, valid during the
 * call, with its offload requests) and calls netvsp_rx() with frames for
 * the guest. A full receive buffer makes frames wait in a bounded backlog
 * until the guest returns sub-allocations; beyond it they are dropped and
 * counted, never written over a sub-allocation the guest still holds.
 *
 * Threading: the library owns no thread. Every call on one struct netvsp
 * and its channels must come from one thread at a time (the VMM's loop
 * calls netvsp_channel_process() when a channel is signalled and
 * netvsp_rx() when the backend has frames).
 *
 * Everything the guest writes is hostile: every NVSP and RNDIS field is
 * read once, checked, and a bad message gets an NVSP failure status and a
 * counter; nothing outside the guest's buffers or RAM is touched.
 */
#ifndef VMBUS_NETVSP_H
#define VMBUS_NETVSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <vmbus/channel.h>
#include <vmbus/gpa.h>
#include <vmbus/gpadl.h>
#include <vmbus/log.h>
#include <vmbus/proto/nvsp.h>
#include <vmbus/rndis_dev.h>
#include <vmbus/server.h>

struct netvsp;
struct netvsp_channel;

/* Send-buffer section size the host announces (OpenVMM's value). */
#define NETVSP_SEND_SECTION_SIZE	6144u
/* Queues (primary + subchannels) one NIC may have. */
#define NETVSP_MAX_QUEUES		RNDIS_DEV_MAX_QUEUES
/* netvsp_rx() queue: classify with the guest's RSS settings. */
#define NETVSP_RX_QUEUE_AUTO		0xffffffffu
/* Default number of frames that may wait for a receive sub-allocation. */
#define NETVSP_DEFAULT_RX_BACKLOG	256u
/* Extra backlog entries only control replies and status indications may
 * use, so a flood of frames cannot starve the guest's RNDIS requests. */
#define NETVSP_CTRL_RESERVE		16u
/* Largest RNDIS control message accepted from the guest. */
#define NETVSP_MAX_CTRL_MSG		(RNDIS_DEV_SET_MAX + 64u)
/* Bounds on one GPA-direct SEND_RNDIS_PKT. */
#define NETVSP_MAX_GPA_RANGES		64u
#define NETVSP_MAX_GPA_PFNS		256u
/* Largest receive-buffer sub-allocation count (a 16 MiB buffer of small
 * sub-allocations stays well below). */
#define NETVSP_MAX_SUB_ALLOCS		65536u

/*
 * The frame hook: where transmitted frames go. A value type the caller
 * fills. tx is called once per frame the guest sends on queue; iov/iovcnt
 * cover exactly len bytes of the frame, in guest memory (the guest may
 * still be writing them: treat them as data only), valid until tx returns.
 * pkt is the decoded RNDIS PACKET (offload requests: checksum, LSO, VLAN,
 * hash). Return 0 when the frame was taken, a negative errno when it was
 * dropped (counted as tx_backend_errors; the guest still gets success, as
 * from a NIC that dropped the frame on the wire). NULL tx drops silently.
 */
struct netvsp_frame_ops {
	int (*tx)(void *ctx, unsigned int queue, const struct iovec *iov,
		  unsigned int iovcnt, size_t len, const struct rndis_tx_packet *pkt);
	void *ctx;
};

/*
 * How the NIC asks its bus for subchannels (NVSP SUBCHANNEL ALLOCATE).
 * offer is called with the sub_channel_index of the first new subchannel
 * and how many are wanted; it returns how many it offered (the indices
 * first .. first + n - 1), or a negative errno. The server glue
 * (netvsp_server_attach) supplies its own; without either, subchannel
 * requests are answered with 0 allocated.
 */
struct netvsp_bus_ops {
	int (*offer_subchannels)(void *ctx, unsigned int first, unsigned int count);
	void *ctx;
};

/* Configuration of one NIC; a value type the caller fills (copied). */
struct netvsp_config {
	struct rndis_dev_config rndis;	/* MAC, MTU, offloads, max_queues... */
	struct netvsp_frame_ops frames;
	struct netvsp_bus_ops bus;
	const struct vmbus_gpa_map *map;	/* guest RAM; must outlive the NIC */
	/* Receive-buffer sub-allocation size; 0: an RNDIS PACKET header plus
	 * a frame of the configured MTU + 14, rounded up to 64. Must hold a
	 * control reply (RNDIS_DEV_REPLY_MAX) and be at most 65535. */
	uint32_t rx_sub_alloc_size;
	uint32_t rx_backlog;	/* 0: NETVSP_DEFAULT_RX_BACKLOG */
	/* Newest NVSP version to accept (an older host); 0: 6.1. */
	uint32_t max_version;
	struct vmbus_log log;
};

/* Counters of one channel. Each hostile-guest check has its own. */
struct netvsp_stats {
	/* host to guest */
	uint64_t rx_frames;		/* frames placed in the receive buffer */
	uint64_t rx_bytes;
	uint64_t rx_backlogged;		/* frames that had to wait for a sub-allocation */
	uint64_t rx_drop_backlog;	/* dropped: no sub-allocation and backlog full */
	uint64_t rx_drop_filtered;	/* dropped by the guest's packet filter */
	uint64_t rx_drop_too_big;	/* frame does not fit one sub-allocation */
	uint64_t rx_drop_not_ready;	/* no receive buffer or RNDIS not initialized */
	uint64_t rx_drop_error;		/* ring or guest-memory error while sending */
	uint64_t ctrl_replies;		/* control replies and indications sent */
	/* guest to host */
	uint64_t tx_frames;		/* frames handed to the frame hook */
	uint64_t tx_bytes;
	uint64_t tx_rejected;		/* PACKET messages the RNDIS model refused */
	uint64_t tx_backend_errors;	/* frames the hook refused */
	uint64_t ctrl_msgs;		/* RNDIS control messages handled */
	uint64_t completions;		/* guest completions of receive packets */
	/* hostile or out-of-sequence guest input */
	uint64_t bad_short;		/* NVSP message too short for its type */
	uint64_t bad_type;		/* unknown NVSP type, channel type or packet type */
	uint64_t bad_state;		/* message out of sequence (before INIT/buffers...) */
	uint64_t bad_version;		/* INIT with no version this host speaks */
	uint64_t bad_section;		/* section index or size past the send buffer */
	uint64_t bad_range;		/* GPA-direct range malformed or outside guest RAM */
	uint64_t bad_gpadl;		/* buffer GPADL unknown, wrong shape or too small */
	uint64_t bad_completion;	/* completion for no outstanding sub-allocation */
	uint64_t bad_ctrl;		/* control message too long or not a request */
	uint64_t ring_errors;		/* completions lost to a broken ring */
};

/* ---- Lifetime ---------------------------------------------------------------- */

/*
 * Create a NIC (and its RNDIS device) from cfg. Returns 0 and *out,
 * -EINVAL for a bad configuration (no map, a sub-allocation size below the
 * control reply size or above 65535, the rndis_dev_create() checks),
 * -ENOMEM.
 */
int netvsp_create(const struct netvsp_config *cfg, struct netvsp **out);

/* Free a NIC. Its server offers are withdrawn (netvsp_server_detach) and
 * channels still attached are detached first (their buffer GPADLs are put
 * back), so a server the NIC is attached to must still exist: free the NIC
 * before the server. NULL is a no-op. */
void netvsp_destroy(struct netvsp *nv);

/* The RNDIS device model of the NIC (to read its state and counters). */
struct rndis_dev *netvsp_rndis(struct netvsp *nv);

/* NVSP version negotiated on the primary channel, 0 before INIT. */
uint32_t netvsp_version(const struct netvsp *nv);

/* NDIS version the guest announced with SEND_NDIS_VER (major << 16 | minor),
 * 0 if none. */
uint32_t netvsp_ndis_version(const struct netvsp *nv);

/* NVSP_CAP_* bits of the guest's SEND_NDIS_CONFIG. */
uint64_t netvsp_guest_caps(const struct netvsp *nv);

/* True when the guest switched the data path to its VF (SWITCH_DATA_PATH). */
bool netvsp_datapath_vf(const struct netvsp *nv);

/* Receive-buffer geometry once the guest lent it: sub-allocation size and
 * count, and how many are held by the guest now. 0s before. */
void netvsp_rx_buffer_info(const struct netvsp *nv, uint32_t *sub_alloc_size,
			   uint32_t *count, uint32_t *in_use);

/* Frames waiting in the backlog (all queues). */
unsigned int netvsp_rx_backlog(const struct netvsp *nv);

/* ---- Channels ------------------------------------------------------------------ */

/*
 * How netvsp reaches the GPADLs the guest names in SEND_RECV_BUF and
 * SEND_SEND_BUF: take a reference on GPADL gpadl_id of this channel (0 or
 * a negative errno) and put it back. With a vmbus_server these are
 * vmbus_server_channel_gpadl_get/put; with a bare table vmbus_gpadl_get/put.
 */
struct netvsp_gpadl_ops {
	int (*get)(void *ctx, uint32_t gpadl_id, struct vmbus_gpadl **out);
	void (*put)(void *ctx, struct vmbus_gpadl *g);
	void *ctx;
};

/* One channel to attach; a value type the caller fills. */
struct netvsp_channel_config {
	struct vmbus_channel *ch;	/* host end of the open channel */
	unsigned int queue;		/* 0: primary; n: subchannel index n */
	struct netvsp_gpadl_ops gpadl;	/* needed on the primary */
	size_t pkt_buf_size;		/* receive copy buffer; 0: 64 KiB */
};

/*
 * Attach an open channel as queue cfg->queue. -EINVAL for a bad argument
 * or a queue at or above NETVSP_MAX_QUEUES, -EEXIST when that queue is
 * attached, -ENOMEM.
 */
int netvsp_channel_attach(struct netvsp *nv, const struct netvsp_channel_config *cfg,
			  struct netvsp_channel **out);

/*
 * Detach a channel (it was closed). For the primary this revokes the
 * receive and send buffers (putting their GPADLs back), drops the backlog
 * and resets the NVSP state, so a reopened primary starts over.
 */
void netvsp_channel_detach(struct netvsp_channel *c);

/*
 * Handle what the guest sent on the channel: NVSP messages, SEND_RNDIS_PKT
 * (control and data) and completions of receive packets, at most budget
 * packets (0: no limit), then retry backlogged frames. Call when the
 * channel is signalled. A completion that finds the host-to-guest ring
 * full is held, and no further guest packet is read, until the guest frees
 * room and signals (pending_send_sz); on a ring without that feature the
 * caller must call again to make progress. Returns the packets handled, or
 * a negative errno when the ring is broken (the channel is then unusable).
 */
int netvsp_channel_process(struct netvsp_channel *c, unsigned int budget);

/* Queue number of a channel. */
unsigned int netvsp_channel_queue(const struct netvsp_channel *c);

/* Copy a channel's counters. */
void netvsp_channel_get_stats(const struct netvsp_channel *c, struct netvsp_stats *out);

/* Copy the counters of queue q; -ENOENT if no channel is attached there. */
int netvsp_get_stats(const struct netvsp *nv, unsigned int queue, struct netvsp_stats *out);

/* ---- Frames and link ------------------------------------------------------------ */

/*
 * Give the guest a frame of len bytes on queue (NETVSP_RX_QUEUE_AUTO: the
 * guest's RSS choice; a queue without a channel falls back to the primary).
 * info (may be NULL) adds checksum/VLAN/hash per-packet info. The frame is
 * copied before this returns. Returns 0 when sent, 1 when it waits in the
 * backlog, or a negative errno when dropped (and counted): -EAGAIN backlog
 * full, -EPERM refused by the guest's packet filter, -EMSGSIZE too large
 * for a sub-allocation or empty, -ENOTCONN receive buffer not lent or
 * RNDIS not initialized, -EIO a ring or memory error.
 */
int netvsp_rx(struct netvsp *nv, unsigned int queue, const void *frame, size_t len,
	      const struct rndis_rx_info *info);

/*
 * Set the link state and tell the guest with an RNDIS INDICATE_STATUS
 * (MEDIA_CONNECT / MEDIA_DISCONNECT) on the primary channel. Before the
 * guest can take it (no receive buffer yet) only the state is recorded; the
 * guest reads it with OID_GEN_MEDIA_CONNECT_STATUS. Returns 0 or -EIO.
 */
int netvsp_set_link(struct netvsp *nv, bool up);

/* ---- VMBus server glue ------------------------------------------------------------ */

/* What the glue needs; a value type the caller fills. */
struct netvsp_server_config {
	struct vmbus_guid instance;	/* if_instance of the NIC's channels */
	/* The guest signalled channel c: the caller's loop should call
	 * netvsp_channel_process(c). NULL: the glue processes at once, from
	 * inside vmbus_server_signal(). */
	void (*kick)(void *ctx, struct netvsp_channel *c);
	void *kick_ctx;
	unsigned int max_requests;	/* channel request slots; 0: 64 */
};

/*
 * Offer the NIC on srv (class VMBUS_GUID_NET). When the guest opens a
 * channel the glue maps its rings (vmbus_server_channel_ring_pages), builds
 * the host channel end (signalling with vmbus_server_channel_signal_guest)
 * and attaches it; on close it detaches it. Subchannel requests are
 * answered by offering more channels of the same instance. One server per
 * NIC. Returns 0, -EBUSY if already attached, or vmbus_server_add_offer()
 * errors.
 */
int netvsp_server_attach(struct netvsp *nv, struct vmbus_server *srv,
			 const struct netvsp_server_config *cfg);

/* Withdraw every offer of the NIC (hot remove); open channels are closed
 * and detached first. */
void netvsp_server_detach(struct netvsp *nv);

/* The channel attached as queue (through the glue or not), or NULL. */
struct netvsp_channel *netvsp_get_channel(const struct netvsp *nv, unsigned int queue);

#endif
