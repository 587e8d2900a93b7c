/* SPDX-License-Identifier: MIT */
/*
 * The RNDIS device model of netvsp: what a Hyper-V synthetic NIC answers to
 * the guest's RNDIS control messages, how it validates the guest's PACKET
 * messages, how it frames the frames it hands to the guest, and the
 * Toeplitz hash behind receive-side scaling. It knows nothing of VMBus,
 * NVSP or backends: it takes bytes and gives bytes, so the NVSP layer, tests
 * and fuzzers drive it alike.
 *
 * Formats: include/vmbus/proto/rndis.h (Linux hyperv_net.h, rndis_filter.c;
 * DPDK ndis.h; OpenVMM rndisprot.rs). Toeplitz: the Microsoft RSS
 * verification suite.
 *
 * Threading: control calls (rndis_dev_control, rndis_dev_set_link,
 * rndis_dev_set_mtu) must be serialized with each other and with
 * rndis_dev_rss_classify / rndis_dev_rx_accept. rndis_dev_parse_packet and
 * rndis_dev_build_packet may run on several queues at once: they only read
 * the configuration and update counters atomically.
 */
#ifndef VMBUS_RNDIS_DEV_H
#define VMBUS_RNDIS_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <vmbus/log.h>
#include <vmbus/proto/rndis.h>

struct rndis_dev;

/* Offloads, as offered in the configuration and as reported enabled by
 * rndis_dev_offloads(). TX = guest to host, RX = host to guest. */
#define RNDIS_OFFLOAD_TX_IP4		(1u << 0)	/* IPv4 header checksum */
#define RNDIS_OFFLOAD_TX_TCP4		(1u << 1)
#define RNDIS_OFFLOAD_TX_UDP4		(1u << 2)
#define RNDIS_OFFLOAD_TX_TCP6		(1u << 3)
#define RNDIS_OFFLOAD_TX_UDP6		(1u << 4)
#define RNDIS_OFFLOAD_RX_IP4		(1u << 5)
#define RNDIS_OFFLOAD_RX_TCP4		(1u << 6)
#define RNDIS_OFFLOAD_RX_UDP4		(1u << 7)
#define RNDIS_OFFLOAD_RX_TCP6		(1u << 8)
#define RNDIS_OFFLOAD_RX_UDP6		(1u << 9)
#define RNDIS_OFFLOAD_LSO4		(1u << 10)
#define RNDIS_OFFLOAD_LSO6		(1u << 11)
#define RNDIS_OFFLOAD_ALL		0xfffu

/* Limits. */
#define RNDIS_DEV_DEFAULT_MTU		1500u
#define RNDIS_DEV_MIN_MTU		68u
#define RNDIS_DEV_MAX_MTU		9216u
#define RNDIS_DEV_MAX_QUEUES		64u
#define RNDIS_DEV_MCAST_MAX		32u
/* An LSO frame: Ethernet header, a 40-byte IPv6 header and the largest IP
 * payload. */
#define RNDIS_DEV_MAX_LSO_FRAME		(14u + 40u + 65535u)
/* The largest LSO payload offered (what Hyper-V offers). */
#define RNDIS_DEV_LSO_MAX_SIZE		0xf53cu
/* Largest OID answer, and an out buffer for rndis_dev_control() of this
 * size is always enough. */
#define RNDIS_DEV_QUERY_MAX		512u
#define RNDIS_DEV_REPLY_MAX		(sizeof(struct rndis_msg_hdr) + \
					 sizeof(struct rndis_query_complete) + RNDIS_DEV_QUERY_MAX)
/* Largest SET information buffer accepted (Linux never sends more than a
 * page). */
#define RNDIS_DEV_SET_MAX		4096u
/* Largest header rndis_dev_build_packet() writes: PACKET and four PPIs. */
#define RNDIS_DEV_RX_HDR_MAX		(sizeof(struct rndis_msg_hdr) + \
					 sizeof(struct rndis_packet) + 4u * RNDIS_PPI_SIZE)

/*
 * Device configuration, filled in by the caller (a plain value type so it
 * can be built on the stack). Zero fields take the default named.
 */
struct rndis_dev_config {
	uint8_t mac[6];			/* permanent address; must be unicast */
	uint32_t mtu;			/* largest L3 MTU; 0: 1500 */
	uint64_t link_speed;		/* bits per second; 0: 10 Gbit/s */
	bool link_down;			/* start with the medium disconnected */
	bool allow_mac_change;		/* accept "NetworkAddress" config sets */
	uint32_t offloads;		/* RNDIS_OFFLOAD_* offered to the guest */
	uint16_t max_queues;		/* RSS receive queues offered; 0: 1 */
	uint16_t indirection_entries;	/* RSS table size, power of 2; 0: 128 */
	uint32_t max_pkts_per_msg;	/* PACKETs per message; 0: 8 */
	const char *friendly_name;	/* ASCII; NULL: the OID is not supported */
	struct vmbus_log log;
};

/* Counters; one per outcome, so a test or an operator can tell which check
 * a hostile guest tripped. */
struct rndis_dev_stats {
	uint64_t ctrl_msgs;		/* control messages answered */
	uint64_t ctrl_bad_msg;		/* too short, msg_len outside the buffer */
	uint64_t ctrl_bad_type;		/* not a request type the device takes */
	uint64_t ctrl_not_ready;	/* request before INITIALIZE / after HALT */
	uint64_t query_ok;
	uint64_t set_ok;
	uint64_t oid_unsupported;	/* unknown OID or unsupported setting */
	uint64_t oid_bad_buffer;	/* information buffer outside the message */
	uint64_t oid_bad_length;	/* buffer too short or too long for the OID */
	uint64_t oid_bad_data;		/* contents invalid (object header, RSS...) */
	uint64_t tx_packets;
	uint64_t tx_bytes;
	uint64_t tx_bad_header;		/* short, wrong type, msg_len outside */
	uint64_t tx_bad_data;		/* data offset/length outside, empty */
	uint64_t tx_bad_oob;		/* OOB area outside, VC handle set */
	uint64_t tx_bad_ppi;		/* PPI area or element malformed */
	uint64_t tx_runt;		/* frame shorter than an Ethernet header */
	uint64_t tx_oversize;		/* frame above MTU + 14 without LSO */
	uint64_t tx_bad_offload;	/* offload request invalid or not offered */
	uint64_t rx_packets;
	uint64_t rx_bytes;
	uint64_t rx_bad;		/* build requests refused */
};

/* ---- Lifetime ------------------------------------------------------------------ */

/*
 * Create a device from cfg (copied). Returns 0 and *out, -EINVAL for an
 * invalid configuration (multicast MAC, MTU outside [68, 9216], queues above
 * 64, a table size not a power of two or above 128), -ENOMEM.
 */
int rndis_dev_create(const struct rndis_dev_config *cfg, struct rndis_dev **out);

/* Free a device; NULL is a no-op. */
void rndis_dev_destroy(struct rndis_dev *dev);

/* ---- Control path ---------------------------------------------------------------- */

/*
 * Handle one RNDIS control message of len bytes (guest-written; read once)
 * and write the completion to out (cap bytes). Returns the completion's
 * length, 0 for a message that takes no completion (HALT), -EBADMSG when
 * the message is too short to carry a request id (no completion can be
 * built), -EPROTO for a message type the device does not take (PACKET,
 * completions, INDICATE, unknown), -ENOBUFS if cap is too small
 * (RNDIS_DEV_REPLY_MAX always suffices). A malformed request that carries
 * an id gets a completion with an RNDIS failure status.
 */
ssize_t rndis_dev_control(struct rndis_dev *dev, const void *msg, size_t len,
			  void *out, size_t cap);

/*
 * Build an INDICATE_STATUS message with status and an optional payload (the
 * status buffer) into out. Returns its length, -ENOBUFS, -EINVAL (payload
 * above RNDIS_DEV_QUERY_MAX).
 */
ssize_t rndis_dev_indicate_status(struct rndis_dev *dev, uint32_t status,
				  const void *payload, uint32_t payload_len,
				  void *out, size_t cap);

/*
 * Record a link change and build the INDICATE_STATUS (MEDIA_CONNECT or
 * MEDIA_DISCONNECT) that tells the guest. Returns its length or -ENOBUFS.
 */
ssize_t rndis_dev_set_link(struct rndis_dev *dev, bool up, void *out, size_t cap);

/*
 * Set the MTU the device reports, e.g. from NVSP SEND_NDIS_CONFIG (whose
 * value includes the 14-byte Ethernet header: pass it minus 14). Must lie in
 * [68, configured MTU]; -EINVAL otherwise.
 */
int rndis_dev_set_mtu(struct rndis_dev *dev, uint32_t mtu);

/* Copy the counters. */
void rndis_dev_get_stats(const struct rndis_dev *dev, struct rndis_dev_stats *out);

/* True between a successful INITIALIZE and HALT. */
bool rndis_dev_is_initialized(const struct rndis_dev *dev);

/* The packet filter the guest set (NDIS_PACKET_TYPE_*); 0 means "deliver
 * nothing", as after INITIALIZE. */
uint32_t rndis_dev_packet_filter(const struct rndis_dev *dev);

/* The current MAC address (the permanent one unless the guest changed it). */
void rndis_dev_get_mac(const struct rndis_dev *dev, uint8_t mac[6]);

/* Offloads currently enabled (RNDIS_OFFLOAD_*): offered and not turned off
 * by the guest's OID_TCP_OFFLOAD_PARAMETERS. */
uint32_t rndis_dev_offloads(const struct rndis_dev *dev);

/* True when the guest enabled RSS with OID_GEN_RECEIVE_SCALE_PARAMETERS. */
bool rndis_dev_rss_enabled(const struct rndis_dev *dev);

/* ---- Data path: guest to host ------------------------------------------------------ */

#define RNDIS_TX_CSUM_IP	(1u << 0)	/* compute the IPv4 header checksum */
#define RNDIS_TX_CSUM_TCP	(1u << 1)	/* compute the TCP checksum */
#define RNDIS_TX_CSUM_UDP	(1u << 2)	/* compute the UDP checksum */
#define RNDIS_TX_LSO		(1u << 3)	/* segment to mss (LSO v2) */
#define RNDIS_TX_IPV4		(1u << 4)
#define RNDIS_TX_IPV6		(1u << 5)
#define RNDIS_TX_VLAN		(1u << 6)	/* insert an 802.1Q tag */
#define RNDIS_TX_HASH		(1u << 7)	/* the guest's flow hash is in hash */

/* One decoded PACKET message. Offsets count from the start of the message
 * (its RNDIS header). */
struct rndis_tx_packet {
	uint32_t msg_len;	/* bytes the message occupies; the next starts here */
	uint32_t frame_offset;
	uint32_t frame_len;
	uint32_t flags;		/* RNDIS_TX_* */
	uint32_t mss;		/* RNDIS_TX_LSO */
	uint16_t l4_offset;	/* transport header in the frame: checksum, LSO */
	uint16_t vlan_id;	/* RNDIS_TX_VLAN */
	uint8_t vlan_pri;
	uint8_t vlan_cfi;
	uint32_t hash;		/* RNDIS_TX_HASH */
};

/*
 * Validate the PACKET message at msg and decode it into *pkt. hdr_len bytes
 * are readable at msg (they must hold the RNDIS header, the PACKET body, any
 * OOB area and the per-packet info); total_len is the length of the whole
 * transfer the message lies in (send-buffer section, or the sum of the
 * GPA-direct ranges, where the frame may lie outside the first range). The
 * frame is at pkt->frame_offset; the caller finds it in its own buffers.
 *
 * Several PACKET messages in one transfer: call again at msg + msg_len with
 * the lengths reduced by msg_len, until they reach 0.
 *
 * Returns 0; -EBADMSG for a malformed message (header, data range, OOB,
 * PPI, offload parameters), -EMSGSIZE for a frame shorter than 14 bytes or
 * longer than MTU + 14 without LSO (or RNDIS_DEV_MAX_LSO_FRAME with it),
 * -EOPNOTSUPP for a VC handle or an offload the device does not offer.
 * Every failure bumps one counter.
 */
int rndis_dev_parse_packet(struct rndis_dev *dev, const void *msg, size_t hdr_len,
			   size_t total_len, struct rndis_tx_packet *pkt);

/* ---- Data path: host to guest ------------------------------------------------------ */

#define RNDIS_RX_CSUM		(1u << 0)	/* csum holds NDIS_RXCSUM_INFO_* */
#define RNDIS_RX_VLAN		(1u << 1)	/* the frame carried this 802.1Q tag */
#define RNDIS_RX_HASH		(1u << 2)	/* hash and hash_info are valid */

/* What the host knows about a received frame. */
struct rndis_rx_info {
	uint32_t flags;		/* RNDIS_RX_* */
	uint32_t csum;
	uint16_t vlan_id;
	uint8_t vlan_pri;
	uint8_t vlan_cfi;
	uint32_t hash;		/* Toeplitz value */
	uint32_t hash_info;	/* NDIS_HASH_FUNCTION_TOEPLITZ | NDIS_HASH_<type> */
};

/*
 * Write the PACKET header (RNDIS header, PACKET body, one PPI per flag in
 * info, which may be NULL) for a frame of frame_len bytes into out. The
 * caller copies the frame right after it; msg_len covers both. Returns the
 * header length (at most RNDIS_DEV_RX_HDR_MAX), -ENOBUFS, -EMSGSIZE for a
 * frame of 0 bytes or above RNDIS_DEV_MAX_LSO_FRAME.
 */
ssize_t rndis_dev_build_packet(struct rndis_dev *dev, void *out, size_t cap,
			       uint32_t frame_len, const struct rndis_rx_info *info);

/*
 * Whether the guest's packet filter (and multicast list, and MAC) lets this
 * Ethernet frame in. False before INITIALIZE and for frames under 14 bytes.
 */
bool rndis_dev_rx_accept(const struct rndis_dev *dev, const void *frame, size_t len);

/*
 * Receive-side scaling for an Ethernet frame: with RSS enabled and a hash
 * type of the guest's matching the frame, set RNDIS_RX_HASH, hash and
 * hash_info in *info and return the queue the indirection table names.
 * Otherwise return 0 (the primary channel) and leave *info alone. The queue
 * is below the configured max_queues; the caller maps it onto the channels
 * it actually opened.
 */
unsigned int rndis_dev_rss_classify(const struct rndis_dev *dev, const void *frame,
				    size_t len, struct rndis_rx_info *info);

/* ---- Toeplitz hash (toeplitz.c) ------------------------------------------------------ */

/*
 * The Toeplitz hash of len bytes of data under key (key_len bytes; bits
 * past its end count as zero, so a 40-byte key covers 36 input bytes, an
 * IPv6 4-tuple).
 */
uint32_t rndis_toeplitz_hash(const uint8_t *key, size_t key_len, const void *data, size_t len);

/*
 * Hash an Ethernet frame (optionally with one 802.1Q/802.1ad tag) the NDIS
 * way: source and destination address, then source and destination port for
 * TCP or UDP when hash_types (NDIS_HASH_*) asks for it and the packet is not
 * a fragment, else the addresses alone if NDIS_HASH_IPV4 / NDIS_HASH_IPV6 is
 * set. The _EX types count as their plain types (extension headers are not
 * followed). Stores the hash and the NDIS_HASH_* type used; returns 0, or
 * -ENOENT when no enabled type applies (not IP, truncated, ...).
 */
int rndis_toeplitz_hash_frame(const uint8_t key[NDIS_RSS_HASH_KEY_SIZE_TOEPLITZ],
			      uint32_t hash_types, const void *frame, size_t len,
			      uint32_t *hash, uint32_t *hash_type);

#endif
