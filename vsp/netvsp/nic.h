/* SPDX-License-Identifier: MIT */
/*
 * NIC backends of netvsp: where the frames of the synthetic NIC go to and
 * come from. One interface, four backends chosen by a spec string:
 *
 *   tap=NAME[,up][,offload=0|1]      Linux TAP with virtio-net headers, io_uring
 *   dpdk=[port=N,][queues=N,]EAL     a DPDK ethdev port (see "DPDK spec" below)
 *   pcap=IN.pcap[,out=OUT.pcap]      replay a file to the guest, record its frames
 *   pcap=,out=OUT.pcap               record only
 *   pcap=live:IFNAME                 a host interface through libpcap
 *   null                             transmit into nothing, never receive
 *
 * and, for every kind except dpdk (where they lead, see below), trailing
 * generic options:
 *
 *   ,queues=N          queue pairs (1..64), mapped by the caller onto VMBus
 *                      subchannels; tap, dpdk and null take N > 1
 *   ,capture=FILE      record every frame in both directions (capture.h);
 *                      pcapng when FILE ends in ".pcapng", classic pcap otherwise
 *
 * DPDK spec: after "dpdk=" come optional netvsp options, each ending in a
 * comma (port=N, queues=N, capture=FILE), then the EAL arguments. When the
 * EAL part holds whitespace it is split at whitespace, and commas stay
 * inside arguments (device arguments need them); quote the spec in a shell:
 *
 *   --nic 'dpdk=queues=2,--no-huge --no-pci --vdev=net_pcap0,rx_pcap=a.pcap -l 0'
 *
 * Without whitespace it is split at every comma followed by '-', which needs
 * no quoting; short options then take their value attached ("-l0"):
 *
 *   --nic dpdk=port=1,--no-huge,--no-pci,--vdev=net_ring0,--vdev=net_null0,-l0
 *
 * The EAL is initialized once per process, by the first DPDK NIC; later ones
 * reuse it and their EAL arguments are ignored (logged if they differ).
 *
 * Offloads. The guest may ask for IPv4 header, TCP and UDP checksums, TCP
 * segmentation (LSO) and a VLAN tag per frame. A backend that can hand them
 * to its device does (TAP: virtio-net header; DPDK: mbuf ol_flags when the
 * port advertises them); otherwise nic.c does them in software on a private
 * copy of the frame, so every backend puts only complete frames on its wire.
 * Received frames are delivered complete too: a TAP GSO packet is segmented
 * and partial checksums are finished before the callback sees them.
 *
 * Building: nic.c, nic_null.c and nic_tap.c always; nic_pcap.c with
 * -DNETVSP_HAVE_PCAP (libpcap), nic_dpdk.c with -DNETVSP_HAVE_DPDK
 * (libdpdk), and -DNETVSP_HAVE_LIBURING gives the TAP backend io_uring.
 * Opening a kind that is not built in fails with -ENOTSUP.
 *
 * Capture: transmitted frames are recorded as the guest gave them (before
 * offloads, including frames the backend then drops as invalid), received
 * frames as the guest gets them.
 *
 * Threading: calls on one queue (tx, rx_poll, rx_fd) must be serialized:
 * one thread serves both directions of a queue, as one thread serves one
 * VMBus channel. Different queues may run on different threads at once.
 * netvsp_nic_get_stats and netvsp_nic_link_up may run from any thread.
 * open and close are not concurrent with anything on the same NIC.
 *
 * Sources of formats: virtio 1.1 section 5.1.6 (struct virtio_net_hdr) and
 * Linux include/uapi/linux/if_tun.h (TUNSETIFF, TUNSETOFFLOAD,
 * TUNSETVNETHDRSZ); the DPDK 22.11 ethdev and mbuf API; pcap-savefile(5);
 * RFC 791/793/768/8200 and RFC 1071 (checksums); Microsoft NDIS LSO v2 (the
 * guest's TCP length and checksum seed conventions).
 */
#ifndef NETVSP_NIC_H
#define NETVSP_NIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <vmbus/log.h>
#include <vmbus/rndis_dev.h>

#include "capture.h"

struct netvsp_nic;

/* Queue pairs a NIC may have (matches the most RSS queues RNDIS offers). */
#define NETVSP_NIC_MAX_QUEUES	64u
/* Frames a backend moves per device call; larger tx arrays are chunked. */
#define NETVSP_NIC_BURST	32u
/* Largest frame in either direction: an LSO or GSO frame of 64 KiB of IP
 * plus Ethernet and VLAN headers, with room to spare. */
#define NETVSP_NIC_FRAME_MAX	65600u
/* Most pieces one transmitted frame may come in. */
#define NETVSP_NIC_MAX_IOV	64u
/* Smallest LSO segment size accepted: a hostile guest must not make the
 * host cut one frame into thousands. */
#define NETVSP_NIC_MIN_MSS	64u

/* ---- Transmit (guest to wire) ----------------------------------------------------- */

#define NETVSP_NIC_TX_CSUM_IP4	(1u << 0)	/* fill in the IPv4 header checksum */
#define NETVSP_NIC_TX_CSUM_TCP	(1u << 1)	/* fill in the TCP checksum */
#define NETVSP_NIC_TX_CSUM_UDP	(1u << 2)	/* fill in the UDP checksum */
#define NETVSP_NIC_TX_LSO	(1u << 3)	/* cut into TCP segments of mss payload */
#define NETVSP_NIC_TX_VLAN	(1u << 4)	/* insert an 802.1Q tag with vlan_tci */

/*
 * What the guest asked the NIC to do to one frame. A plain value type,
 * embedded in struct netvsp_nic_frame. Offsets count from the first byte
 * of the frame as given (before any VLAN tag is inserted).
 */
struct netvsp_nic_tx_offload {
	uint32_t flags;		/* NETVSP_NIC_TX_* */
	uint16_t csum_start;	/* transport header: TCP/UDP checksum and LSO */
	uint16_t csum_offset;	/* checksum field from csum_start: 16 TCP, 6 UDP;
				 * 0 means "the usual one for the protocol" */
	uint16_t mss;		/* NETVSP_NIC_TX_LSO: TCP payload per segment */
	uint16_t vlan_tci;	/* NETVSP_NIC_TX_VLAN: PCP(3) DEI(1) VID(12) */
};

/*
 * One frame to transmit: iovcnt pieces (at most NETVSP_NIC_MAX_IOV) that
 * may point straight into guest memory, len bytes in all. The backend reads
 * them during netvsp_nic_tx only.
 */
struct netvsp_nic_frame {
	const struct iovec *iov;
	unsigned int iovcnt;
	size_t len;
	struct netvsp_nic_tx_offload ol;
};

/*
 * Transmit n frames on queue q. When this returns the backend has copied
 * or finished with every frame, so the caller may complete the guest's
 * buffers at once, whatever the outcome of each frame. A frame the backend
 * could not send (invalid offload metadata or length, device queue full,
 * I/O error) is dropped and counted in the queue's stats by reason.
 * Returns the number of frames handed on to the device, or -EINVAL for a
 * queue out of range or a NULL array with n > 0.
 */
int netvsp_nic_tx(struct netvsp_nic *nic, unsigned int q,
		  const struct netvsp_nic_frame *frames, unsigned int n);

/* ---- Receive (wire to guest) ------------------------------------------------------ */

#define NETVSP_NIC_RX_IP_CSUM_OK	(1u << 0)	/* IPv4 header checksum verified */
#define NETVSP_NIC_RX_IP_CSUM_BAD	(1u << 1)	/* IPv4 header checksum wrong */
#define NETVSP_NIC_RX_L4_CSUM_OK	(1u << 2)	/* TCP/UDP checksum verified or
							 * computed by the host */
#define NETVSP_NIC_RX_L4_CSUM_BAD	(1u << 3)	/* TCP/UDP checksum wrong */
#define NETVSP_NIC_RX_VLAN		(1u << 4)	/* the device stripped an 802.1Q
							 * tag; it is in vlan_tci */

/* What the backend knows about a received frame (a value type). */
struct netvsp_nic_rx_info {
	uint32_t flags;		/* NETVSP_NIC_RX_* */
	uint16_t vlan_tci;
};

/*
 * Receive callback: one complete Ethernet frame of len bytes (at most
 * NETVSP_NIC_FRAME_MAX), valid only during the call. Return 0 when the
 * frame was taken. Any other value means "no room now": the backend keeps
 * the frame, netvsp_nic_rx_poll returns, and the next poll of the queue
 * offers the same frame first. (The queue's fd may then not be readable:
 * the caller polls again when it has room, e.g. when the guest returns
 * receive buffers.)
 */
typedef int netvsp_nic_rx_fn(void *opaque, unsigned int q, const void *frame, size_t len,
			     const struct netvsp_nic_rx_info *info);

/*
 * Deliver up to budget received frames of queue q to fn, in arrival order.
 * Returns the number taken by fn (0 when nothing was waiting or fn refused
 * the first; budget when more may be waiting, so poll again before
 * waiting on the fd), -EINVAL for a bad queue or NULL fn, or a negative errno when
 * the device failed (-EIO, -ENETDOWN); frames already taken stay taken.
 * Malformed frames from the device are dropped and counted, never
 * delivered.
 */
int netvsp_nic_rx_poll(struct netvsp_nic *nic, unsigned int q, unsigned int budget,
		       netvsp_nic_rx_fn *fn, void *opaque);

/*
 * A file descriptor that becomes readable (POLLIN, level-triggered) when
 * queue q may have frames to receive; the caller only waits on it, never
 * reads it. -1 for a backend that must be polled (DPDK), -EINVAL for a bad
 * queue. The null backend's fd never becomes readable.
 */
int netvsp_nic_rx_fd(struct netvsp_nic *nic, unsigned int q);

/* ---- Lifetime and state ----------------------------------------------------------- */

/* A parsed spec. A value type so tests and front ends can inspect it; the
 * strings point into storage the spec owns (netvsp_nic_spec_free). */
enum netvsp_nic_kind {
	NETVSP_NIC_NULL,
	NETVSP_NIC_TAP,
	NETVSP_NIC_DPDK,
	NETVSP_NIC_PCAP,
};

struct netvsp_nic_spec {
	enum netvsp_nic_kind kind;
	unsigned int queues;	/* 1..NETVSP_NIC_MAX_QUEUES */
	const char *capture;	/* capture file, or NULL */
	/* tap */
	const char *ifname;	/* tap name; pcap live interface */
	bool up;		/* tap: set IFF_UP after creating it */
	bool offload;		/* tap: kernel checksum/TSO offloads (default on) */
	/* pcap */
	bool live;
	const char *in_path;	/* file to replay, or NULL */
	const char *out_path;	/* file to record into, or NULL */
	/* dpdk */
	int port;		/* ethdev port id, -1 for the first one probed */
	int eal_argc;		/* EAL arguments, program name excluded */
	char **eal_argv;	/* NULL-terminated */
	char *storage_;		/* owned; holds the strings above */
};

/*
 * Parse a spec string (grammar at the top of this file) into *spec. On
 * failure returns -EINVAL (syntax, unknown kind or option, value out of
 * range) or -ENOMEM, leaves *spec empty, and writes a one-line reason into
 * err (errlen bytes, may be 0). Backends not built in still parse; opening
 * them reports -ENOTSUP.
 */
int netvsp_nic_spec_parse(const char *str, struct netvsp_nic_spec *spec,
			  char *err, size_t errlen);

/* Free what netvsp_nic_spec_parse allocated; a zeroed spec is fine. */
void netvsp_nic_spec_free(struct netvsp_nic_spec *spec);

/*
 * Parse str and open the NIC it names; log may be NULL (it is copied and
 * used for the NIC's lifetime: errors, link changes, dropped frames at
 * debug level). Returns 0 and *out, or -EINVAL (bad spec; the reason is
 * logged), -ENOTSUP (backend not built in), -ENODEV (no such port or
 * interface), -EPERM/-EACCES (no right to create a TAP device...), or the
 * backend's errno.
 */
int netvsp_nic_open(const char *str, const struct vmbus_log *log, struct netvsp_nic **out);

/* Stop the device, free everything, close an owned capture; NULL is a no-op. */
void netvsp_nic_close(struct netvsp_nic *nic);

/* The backend kind. */
enum netvsp_nic_kind netvsp_nic_kind(const struct netvsp_nic *nic);

/* Number of queue pairs, 1..NETVSP_NIC_MAX_QUEUES. */
unsigned int netvsp_nic_queues(const struct netvsp_nic *nic);

/*
 * The backend's own MAC address, for a backend that owns a NIC port the
 * guest may take over (DPDK). Returns 0, or -ENOENT when the backend has
 * none to give: a TAP or live interface address belongs to the host's end
 * of the link, and the guest needs an address of its own there.
 */
int netvsp_nic_mac(struct netvsp_nic *nic, uint8_t mac[6]);

/* Whether the link is up now (TAP: interface up and running; DPDK: port
 * link status; pcap and null: always). */
bool netvsp_nic_link_up(struct netvsp_nic *nic);

/* Per-queue counters. Drops are counted by reason so an operator can tell
 * a hostile guest (invalid) from a slow device (full). */
struct netvsp_nic_stats {
	uint64_t tx_frames;		/* frames handed on to the device */
	uint64_t tx_bytes;		/* their length as the guest gave them */
	uint64_t tx_drop_invalid;	/* bad length, iovec or offload metadata */
	uint64_t tx_drop_full;		/* device queue or buffers exhausted */
	uint64_t tx_drop_error;		/* the device's send call failed */
	uint64_t tx_sw_csum;		/* frames whose checksums nic.c computed */
	uint64_t tx_sw_segments;	/* segments nic.c cut from LSO frames */
	uint64_t rx_frames;		/* frames taken by the callback */
	uint64_t rx_bytes;
	uint64_t rx_drop_invalid;	/* malformed: bad virtio-net header, cut short */
	uint64_t rx_drop_oversize;	/* above NETVSP_NIC_FRAME_MAX */
	uint64_t rx_drop_error;		/* the device's receive call failed */
	uint64_t rx_sw_csum;		/* partial checksums finished by nic.c */
	uint64_t rx_sw_segments;	/* segments cut from GSO packets */
};

/* Copy queue q's counters. Returns 0 or -EINVAL. */
int netvsp_nic_get_stats(struct netvsp_nic *nic, unsigned int q, struct netvsp_nic_stats *out);

/*
 * Record every frame from now on into cap (not owned; it must outlive the
 * NIC or be detached with NULL first); NULL stops recording. Swapping
 * between captures the caller owns is safe while queues run (a frame sees
 * the old or the new one). Replacing the capture the spec opened closes
 * it, so do that only while no queue is inside tx or rx_poll.
 */
void netvsp_nic_set_capture(struct netvsp_nic *nic, struct netvsp_capture *cap);

/* ---- Glue to the RNDIS device model ---------------------------------------------- */

/*
 * Translate the offload requests of a decoded RNDIS PACKET into NIC
 * metadata (checksum flags with csum_start at the transport header, LSO
 * with its MSS, the VLAN tag).
 */
void netvsp_nic_offload_from_rndis(const struct rndis_tx_packet *pkt,
				   struct netvsp_nic_tx_offload *ol);

/*
 * Translate receive information into what rndis_dev_build_packet takes:
 * checksum results (TCP or UDP, found by looking at the frame) and the
 * VLAN tag. Leaves the hash fields of *out alone (RSS fills them).
 */
void netvsp_nic_rx_info_to_rndis(const struct netvsp_nic_rx_info *in, const void *frame,
				 size_t len, struct rndis_rx_info *out);

/* ---- Software offloads (shared by the backends, exposed for tests) --------------- */

/*
 * Called once per finished frame by netvsp_nic_sw_offload. The buffer is
 * writable and valid during the call only. Return 0 to go on, a negative
 * errno to stop.
 */
typedef int netvsp_nic_emit_fn(void *opaque, uint8_t *frame, size_t len);

/*
 * Apply ol to the private, writable frame buf of len bytes: the VLAN tag
 * must already be in the frame (ol->flags without NETVSP_NIC_TX_VLAN),
 * checksums are computed from scratch (whatever seed the field holds), and
 * an LSO frame is cut into segments assembled in scratch (scratch_cap >=
 * NETVSP_NIC_FRAME_MAX), each with its IP length, IPv4 id, TCP sequence
 * number, flags and checksums set. emit sees each result in order; without
 * LSO it sees buf itself, once. Returns the number of frames emitted, or
 * -EINVAL when the metadata does not match the frame (offsets outside it,
 * not IPv4/IPv6, wrong protocol, bad header lengths, mss below
 * NETVSP_NIC_MIN_MSS), or the first error emit returned.
 */
int netvsp_nic_sw_offload(uint8_t *buf, size_t len, const struct netvsp_nic_tx_offload *ol,
			  uint8_t *scratch, size_t scratch_cap,
			  netvsp_nic_emit_fn *emit, void *opaque);

/*
 * Gather frame f into buf (cap bytes), inserting its VLAN tag if it asks
 * for one, and write the metadata that then applies to the linear copy
 * into *ol (offsets moved past the tag, NETVSP_NIC_TX_VLAN cleared).
 * Returns the copy's length, or -EINVAL (no data, too many pieces, length
 * disagreeing with the pieces, a tag on a frame under 14 bytes, offsets out
 * of range) or -EMSGSIZE (longer than cap).
 */
ssize_t netvsp_nic_linearize(const struct netvsp_nic_frame *f, uint8_t *buf, size_t cap,
			     struct netvsp_nic_tx_offload *ol);

/* RFC 1071 sum of len bytes at p added to sum, not folded. Sums chained
 * this way must split at even offsets. */
uint32_t netvsp_nic_csum_add(uint32_t sum, const void *p, size_t len);

/* Fold a 32-bit sum to 16 bits (not complemented). */
uint16_t netvsp_nic_csum_fold(uint32_t sum);

/*
 * Finish a partial checksum the virtio-net way: sum buf from start to len,
 * complement, store big-endian at start + off (0 stored as 0xffff). The
 * field must hold the pseudo-header seed. Returns 0 or -EINVAL when the
 * offsets lie outside the buffer.
 */
int netvsp_nic_csum_complete(uint8_t *buf, size_t len, size_t start, size_t off);

/* ---- Backend side (nic.c and nic_*.c only) ------------------------------------------ */

/*
 * What nic.c asks of a backend. priv is the backend's own state, made by
 * open. tx and rx keep the contracts of netvsp_nic_tx and
 * netvsp_nic_rx_poll (nic.c has checked q and the pointers, records the
 * capture, and counts rx_frames/rx_bytes of what fn takes); the backend
 * counts everything else in the queue's stats. link_up and mac may be
 * NULL (always up; -ENOENT).
 */
struct netvsp_nic_backend {
	const char *name;
	int (*open)(struct netvsp_nic *nic, const struct netvsp_nic_spec *spec, void **priv);
	void (*close)(void *priv);
	int (*tx)(void *priv, unsigned int q, const struct netvsp_nic_frame *frames,
		  unsigned int n);
	int (*rx)(void *priv, unsigned int q, unsigned int budget, netvsp_nic_rx_fn *fn,
		  void *opaque);
	int (*rx_fd)(void *priv, unsigned int q);
	bool (*link_up)(void *priv);
	int (*mac)(void *priv, uint8_t mac[6]);
};

extern const struct netvsp_nic_backend netvsp_nic_null_backend;
extern const struct netvsp_nic_backend netvsp_nic_tap_backend;
extern const struct netvsp_nic_backend netvsp_nic_pcap_backend;
extern const struct netvsp_nic_backend netvsp_nic_dpdk_backend;

/* The NIC's log sink (never NULL). */
const struct vmbus_log *netvsp_nic_log(const struct netvsp_nic *nic);

/* Add n to the counter at byte offset field of queue q's stats; the
 * queue's own thread is the only writer. Use NETVSP_NIC_STAT. */
void netvsp_nic_stat_add(struct netvsp_nic *nic, unsigned int q, size_t field, uint64_t n);
#define NETVSP_NIC_STAT(nic, q, field, n) \
	netvsp_nic_stat_add((nic), (q), offsetof(struct netvsp_nic_stats, field), (n))

/* Header bytes a backend copies to apply offloads: Ethernet and VLAN, IP
 * with options or extension headers up to the 10-bit transport offset
 * NDIS can express, and the largest TCP header. */
#define NETVSP_NIC_HDR_MAX	1152u

/* Where the headers of a frame with offload requests are. */
struct netvsp_nic_hdrs {
	uint16_t l3;		/* IP header: 14, or 18 behind one tag */
	uint16_t l4;		/* transport header (0 without an L4 request) */
	uint16_t l3_len;	/* l4 - l3, or the IPv4 header length */
	uint16_t l4_len;	/* TCP header length or 8 (0 without L4 request) */
	uint16_t hdr_len;	/* bytes of headers: l4 + l4_len, or l3 + l3_len */
	uint16_t csum_offset;	/* 16 TCP, 6 UDP */
	uint8_t proto;		/* 6 or 17 (0 without an L4 request) */
	bool v4;
	uint32_t l4_total;	/* transport header + payload: from the IP
				 * length, or the frame length for LSO */
};

/*
 * Check ol against the first avail bytes of a frame of frame_len bytes (a
 * private copy; VLAN already inserted, NETVSP_NIC_TX_VLAN clear) and find
 * its headers. Every header ol needs must lie within avail; for LSO, the
 * mss must be at least NETVSP_NIC_MIN_MSS. Returns 0 or -EINVAL.
 */
int netvsp_nic_parse_headers(const uint8_t *b, size_t avail, size_t frame_len,
			     const struct netvsp_nic_tx_offload *ol, struct netvsp_nic_hdrs *h);

/* Write the IPv4 total length (IPv6 payload length) an LSO frame of
 * frame_len bytes has; guests leave them 0 under NDIS LSO v2. */
void netvsp_nic_set_ip_len(uint8_t *b, const struct netvsp_nic_hdrs *h, size_t frame_len);

/* Compute and store the IPv4 header checksum. */
void netvsp_nic_ip4_csum(uint8_t *b, const struct netvsp_nic_hdrs *h);

/* The folded, uncomplemented pseudo-header sum over the addresses, the
 * protocol and l4_len: the seed devices expect in the checksum field. */
uint16_t netvsp_nic_pseudo_sum(const uint8_t *b, const struct netvsp_nic_hdrs *h,
			       uint32_t l4_len);

/*
 * Transmit f entirely in software: linearize into lin (NETVSP_NIC_FRAME_MAX
 * bytes), apply its offloads with scratch (same size) and pass each wire
 * frame to emit. Counts tx_drop_invalid, tx_sw_csum and tx_sw_segments of
 * queue q. Returns the number of frames emitted, -EINVAL (counted), or
 * emit's error (the caller counts that).
 */
int netvsp_nic_tx_soft(struct netvsp_nic *nic, unsigned int q, const struct netvsp_nic_frame *f,
		       uint8_t *lin, uint8_t *scratch, netvsp_nic_emit_fn *emit, void *opaque);

#endif
