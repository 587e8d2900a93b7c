/* SPDX-License-Identifier: MIT */
/*
 * Frame capture for netvsp: every frame that crosses the synthetic NIC, in
 * either direction, appended to a capture file that tcpdump, tshark and
 * Wireshark read. It works with any NIC backend because it sits above them
 * (nic.c feeds it), and it needs no libpcap: the file formats are small.
 *
 * Formats: the classic libpcap file format (pcap-savefile(5), LINKTYPE_ETHERNET
 * from the tcpdump.org link-layer header type registry) and pcapng (IETF
 * draft-ietf-opsawg-pcapng: Section Header, Interface Description and
 * Enhanced Packet Blocks, the epb_flags direction bits, if_tsresol).
 *
 * Threading: every call may come from any thread; a mutex serializes the
 * writes, so the queues of a multi-queue NIC can share one capture.
 */
#ifndef NETVSP_CAPTURE_H
#define NETVSP_CAPTURE_H

#include <stdint.h>
#include <sys/uio.h>

#include <vmbus/log.h>

struct netvsp_capture;

enum netvsp_capture_format {
	NETVSP_CAPTURE_PCAP,	/* classic pcap, nanosecond timestamps; no direction */
	NETVSP_CAPTURE_PCAPNG,	/* pcapng; each frame marked inbound or outbound */
};

/* Direction, seen from the guest's NIC. */
enum netvsp_capture_dir {
	NETVSP_CAPTURE_TX,	/* sent by the guest (pcapng "outbound") */
	NETVSP_CAPTURE_RX,	/* delivered to the guest (pcapng "inbound") */
};

/* Every frame netvsp handles fits; an LSO frame is recorded whole. */
#define NETVSP_CAPTURE_SNAPLEN	262144u

/*
 * Create (truncate) path and write the file header. log may be NULL; it is
 * copied. Returns 0 and *out, -EINVAL (NULL path, unknown format), -ENOMEM,
 * or the negative errno of open/write.
 */
int netvsp_capture_open(const char *path, enum netvsp_capture_format fmt,
			const struct vmbus_log *log, struct netvsp_capture **out);

/*
 * Record one Ethernet frame given as iovcnt pieces (read once each, so a
 * frame still in guest memory is copied as it is at this moment). With
 * vlan_tci in [0, 0xffff] an 802.1Q tag carrying it is inserted after the
 * MAC addresses, so a tag that travelled beside the frame (RNDIS per-packet
 * info, a stripped receive tag) shows in the file; pass -1 for none.
 * Frames longer than NETVSP_CAPTURE_SNAPLEN are cut to it (the record keeps
 * the original length). Returns 0, -EINVAL (frame shorter than 12 bytes
 * with a tag, or empty), or the sticky errno of an earlier failed write:
 * after the first write error nothing more is written and every frame
 * counts as dropped.
 */
int netvsp_capture_frame(struct netvsp_capture *cap, enum netvsp_capture_dir dir,
			 const struct iovec *iov, unsigned int iovcnt, int32_t vlan_tci);

/* Push buffered records to the file. Returns 0 or a negative errno. */
int netvsp_capture_flush(struct netvsp_capture *cap);

/* Frames written and frames dropped (write errors, bad arguments). */
void netvsp_capture_counts(struct netvsp_capture *cap, uint64_t *written, uint64_t *dropped);

/*
 * Flush, close and free; NULL is a no-op. Returns 0, or the first write or
 * close error (the file may then be incomplete).
 */
int netvsp_capture_close(struct netvsp_capture *cap);

#endif
