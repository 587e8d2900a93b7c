/* SPDX-License-Identifier: MIT */
/*
 * netvsc: the guest side of a Hyper-V synthetic NIC. It brings the NIC up
 * the way Linux's hv_netvsc does (NVSP version negotiation newest first,
 * NDIS configuration and version, receive and send buffers, RNDIS
 * INITIALIZE, the queries for MTU, MAC address, offload capabilities and
 * link state, offload parameters, RSS and subchannels when the host offers
 * two queues or more, the packet filter) and then moves Ethernet frames:
 * small ones copied into send-buffer sections, large ones by GPA direct
 * from pages the caller names; received frames come out of the receive
 * buffer through a callback, and each transfer-page packet is completed
 * after it.
 *
 * Sequence and formats: Linux drivers/net/hyperv/netvsc.c
 * (netvsc_connect_vsp, negotiate_nvsp_ver, netvsc_init_buf, netvsc_send,
 * netvsc_receive) and rndis_filter.c (rndis_filter_device_add,
 * rndis_set_subchannel); include/vmbus/proto/nvsp.h and rndis.h;
 * docs/PROTOCOL.md section 6.
 *
 * Freestanding: no libc beyond mem*, no allocation. The caller hands in the
 * state memory, the receive and send buffers (with the GPADLs it created
 * for them on the primary channel, e.g. with vmbus_client_gpadl_create())
 * and one page for RNDIS control requests, and the open channel ends.
 *
 * Model: nothing blocks. netvsc_start() sends the first message; every
 * later step happens inside netvsc_process() when the host's answer
 * arrives, and events->ready reports the end of the sequence. One thread
 * at a time per struct netvsc; callbacks run inside netvsc_process().
 *
 * Everything the host writes is hostile: replies, offsets and lengths are
 * checked against the buffers before use; a bad reply fails the bring-up,
 * a bad receive range is completed with a failure status.
 */
#ifndef VMBUS_NETVSC_H
#define VMBUS_NETVSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmbus/channel.h>
#include <vmbus/log.h>
#include <vmbus/proto/nvsp.h>
#include <vmbus/proto/rndis.h>

struct netvsc;

#define NETVSC_MAX_QUEUES	64u
/* The control page: RNDIS requests are built there and sent GPA direct. */
#define NETVSC_CTRL_BUF_SIZE	4096u
/* Bytes of memory reserved for copying one packet out of a ring. */
#define NETVSC_PKT_BUF_SIZE	8192u
/* RNDIS header and per-packet info in front of a transmitted frame. */
#define NETVSC_TX_HDR_MAX	(sizeof(struct rndis_msg_hdr) + \
				 sizeof(struct rndis_packet) + 4u * RNDIS_PPI_SIZE)

/* Offload requests for one transmitted frame (struct netvsc_tx_info). */
#define NETVSC_TX_CSUM_IP	(1u << 0)	/* IPv4 header checksum */
#define NETVSC_TX_CSUM_TCP	(1u << 1)
#define NETVSC_TX_CSUM_UDP	(1u << 2)
#define NETVSC_TX_LSO		(1u << 3)	/* segment to mss */
#define NETVSC_TX_IPV4		(1u << 4)
#define NETVSC_TX_IPV6		(1u << 5)
#define NETVSC_TX_VLAN		(1u << 6)	/* tag with vlan_id / vlan_pri */
#define NETVSC_TX_HASH		(1u << 7)	/* pass the flow hash */

/* A value type: what to ask the host to do with a frame. */
struct netvsc_tx_info {
	uint32_t flags;		/* NETVSC_TX_* */
	uint32_t mss;		/* NETVSC_TX_LSO */
	uint16_t l4_offset;	/* transport header offset in the frame */
	uint16_t vlan_id;
	uint8_t vlan_pri;
	uint32_t hash;
};

/* What the host said about a received frame (struct netvsc_rx_info). */
#define NETVSC_RX_CSUM		(1u << 0)	/* csum holds NDIS_RXCSUM_INFO_* */
#define NETVSC_RX_VLAN		(1u << 1)
#define NETVSC_RX_HASH		(1u << 2)	/* hash, hash_info valid */

struct netvsc_rx_info {
	uint32_t flags;
	uint32_t csum;
	uint16_t vlan_id;
	uint8_t vlan_pri;
	uint8_t vlan_cfi;
	uint32_t hash;
	uint32_t hash_info;
};

/* Offloads the host offers (netvsc_offloads()), from
 * OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES; the ones enabled with
 * OID_TCP_OFFLOAD_PARAMETERS. */
#define NETVSC_OFFLOAD_IP4_CSUM		(1u << 0)
#define NETVSC_OFFLOAD_TCP4_CSUM	(1u << 1)
#define NETVSC_OFFLOAD_UDP4_CSUM	(1u << 2)
#define NETVSC_OFFLOAD_TCP6_CSUM	(1u << 3)
#define NETVSC_OFFLOAD_UDP6_CSUM	(1u << 4)
#define NETVSC_OFFLOAD_LSO4		(1u << 5)
#define NETVSC_OFFLOAD_LSO6		(1u << 6)

/* Callbacks; any may be NULL. ctx is netvsc_config.ctx. */
struct netvsc_events {
	/* The bring-up ended: err 0 (netvsc_state() is NETVSC_READY) or a
	 * negative errno (-EPROTO no NVSP version accepted, -EIO the host
	 * refused or answered badly). */
	void (*ready)(void *ctx, int err);
	/* The host allocated count subchannels (indices 1..count). Open them
	 * and hand each end to netvsc_attach_subchannel(); RSS is set up once
	 * all are attached. */
	void (*subchannels)(void *ctx, unsigned int count);
	/* A frame arrived on queue. frame lies in the receive buffer and is
	 * only valid during the call (the transfer-page packet is completed
	 * right after); the host could still write it, so treat it as data. */
	void (*rx)(void *ctx, unsigned int queue, const void *frame, uint32_t len,
		   const struct netvsc_rx_info *info);
	/* The host indicated a link change. */
	void (*link)(void *ctx, bool up);
	/* A netvsc_send_gpa() frame was completed: its pages are free. */
	void (*tx_done)(void *ctx, void *cookie, bool ok);
};

/* How to build a client; a value type the caller fills (copied). */
struct netvsc_config {
	struct vmbus_channel *primary;	/* open guest end of the primary channel */
	void *recv_buf;			/* receive buffer and its GPADL */
	uint32_t recv_buf_size;
	uint32_t recv_gpadl;
	void *send_buf;			/* send buffer and its GPADL */
	uint32_t send_buf_size;
	uint32_t send_gpadl;
	void *ctrl_buf;			/* NETVSC_CTRL_BUF_SIZE bytes, one page */
	uint64_t ctrl_pfn;		/* its guest page number */
	uint32_t mtu;			/* 0: 1500 (announced + 14 in NDIS_CONFIG) */
	unsigned int queues;		/* queues wanted, 1..64; 0: 1 */
	uint32_t max_version;		/* newest NVSP version to try; 0: 6.1 */
	const uint8_t *rss_key;		/* 40 bytes; NULL: the Microsoft sample key */
	unsigned int max_tx;		/* frames in flight on all queues; 0: 256 */
	const struct netvsc_events *events;
	void *ctx;
	const struct vmbus_log *log;	/* copied; NULL for none */
};

/* Counters. */
struct netvsc_stats {
	uint64_t tx_frames;
	uint64_t tx_bytes;
	uint64_t tx_failed;		/* completions with a failure status */
	uint64_t rx_frames;
	uint64_t rx_bytes;
	uint64_t rx_bad;		/* receive ranges or RNDIS messages refused */
	uint64_t bad_packets;		/* host packets of no known kind */
	uint64_t comp_errors;		/* receive completions the ring refused */
};

/* netvsc_state() values besides negative errnos. */
#define NETVSC_STARTING		0
#define NETVSC_READY		1

/* Bytes of state memory for this configuration, or 0 if it is invalid. */
size_t netvsc_mem_size(const struct netvsc_config *cfg);

/*
 * Build a client in mem (8-byte aligned, netvsc_mem_size() bytes). -EINVAL
 * for a bad configuration (no primary, no buffers, buffers of 0 bytes, no
 * control page, queues above 64) or misaligned mem, -ENOSPC if mem_size is
 * too small.
 */
int netvsc_init(void *mem, size_t mem_size, const struct netvsc_config *cfg,
		struct netvsc **out);

/* Start the bring-up: NVSP INIT with the newest version. 0 or the channel
 * send error; -EALREADY if started before. */
int netvsc_start(struct netvsc *nv);

/*
 * Handle what the host sent on queue (0: primary): answers that move the
 * bring-up on, send completions, received frames and indications. At most
 * budget packets (0: no limit). Returns the packets handled or a negative
 * errno (-EINVAL no such queue, or a ring error).
 */
int netvsc_process(struct netvsc *nv, unsigned int queue, unsigned int budget);

/* Hand in the open guest end of subchannel queue (1..count of
 * events->subchannels). -EINVAL bad queue, -EEXIST already attached,
 * -EPROTO no subchannels were allocated. */
int netvsc_attach_subchannel(struct netvsc *nv, unsigned int queue, struct vmbus_channel *ch);

/* NETVSC_STARTING, NETVSC_READY, or the negative errno the bring-up failed with. */
int netvsc_state(const struct netvsc *nv);

/* Negotiated NVSP version (0 before). */
uint32_t netvsc_nvsp_version(const struct netvsc *nv);

/* The permanent MAC address the host reported. */
void netvsc_get_mac(const struct netvsc *nv, uint8_t mac[6]);

/* The MTU in use: the configured one, lowered to the host's
 * OID_GEN_MAXIMUM_FRAME_SIZE. */
uint32_t netvsc_mtu(const struct netvsc *nv);

/* Link state: from OID_GEN_MEDIA_CONNECT_STATUS, then indications. */
bool netvsc_link_up(const struct netvsc *nv);

/* OID_GEN_LINK_SPEED in units of 100 bit/s (0 if not queried: NVSP < 5). */
uint32_t netvsc_link_speed(const struct netvsc *nv);

/* Offloads enabled on the host (NETVSC_OFFLOAD_*). */
uint32_t netvsc_offloads(const struct netvsc *nv);

/* Queues usable for sending and receiving (1 + attached subchannels once
 * ready). */
unsigned int netvsc_num_queues(const struct netvsc *nv);

/* Copy the counters. */
void netvsc_get_stats(const struct netvsc *nv, struct netvsc_stats *out);

/*
 * Send a frame of len bytes on queue, copied (with its RNDIS header) into
 * a free send-buffer section; frame may be reused on return. -ENOTCONN
 * before ready, -EINVAL bad queue or len 0, -EMSGSIZE when header and frame
 * exceed a section (use netvsc_send_gpa), -EAGAIN no free section or slot,
 * or the channel's send error (-EAGAIN ring full: retry later).
 */
int netvsc_send(struct netvsc *nv, unsigned int queue, const void *frame, uint32_t len,
		const struct netvsc_tx_info *info);

/*
 * Send a frame of len bytes that lies in guest memory byte_offset bytes
 * into the pages pfns (ceil((byte_offset + len) / 4096) of them), without
 * copying it: the RNDIS header goes into a send-buffer section and the
 * frame follows as a GPA-direct range. The pages must stay untouched until
 * events->tx_done(cookie). Errors as netvsc_send (-EINVAL also for a bad
 * byte_offset or NULL pfns).
 */
int netvsc_send_gpa(struct netvsc *nv, unsigned int queue, const uint64_t *pfns,
		    uint32_t byte_offset, uint32_t len, const struct netvsc_tx_info *info,
		    void *cookie);

#endif
