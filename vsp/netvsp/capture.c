/* SPDX-License-Identifier: MIT */
/*
 * netvsp frame capture: a classic pcap or pcapng writer guarded by a mutex.
 *
 * Formats: pcap-savefile(5) (24-byte file header, 16-byte record headers,
 * magic 0xa1b23c4d for nanosecond timestamps, link type 1 = Ethernet) and
 * the pcapng draft (SHB 0x0A0D0D0A with byte-order magic 0x1A2B3C4D, IDB
 * type 1 with if_tsresol = 9, EPB type 6 with epb_flags: direction in bits
 * 0-1, 1 inbound, 2 outbound). Records are written in host byte order; both
 * formats carry a byte-order magic so readers adapt.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"

#define PCAP_MAGIC_NSEC		0xa1b23c4du
#define LINKTYPE_ETHERNET	1u

#define PCAPNG_SHB		0x0a0d0d0au
#define PCAPNG_IDB		0x00000001u
#define PCAPNG_EPB		0x00000006u
#define PCAPNG_BOM		0x1a2b3c4du
#define PCAPNG_OPT_END		0
#define PCAPNG_OPT_TSRESOL	9
#define PCAPNG_OPT_EPB_FLAGS	2
#define PCAPNG_DIR_IN		1u
#define PCAPNG_DIR_OUT		2u

struct netvsp_capture {
	pthread_mutex_t lock;
	FILE *f;
	enum netvsp_capture_format fmt;
	int err;		/* first write error; sticky */
	uint64_t written;
	uint64_t dropped;
	struct vmbus_log log;
};

static int put(struct netvsp_capture *cap, const void *p, size_t n)
{
	if (n && fwrite(p, 1, n, cap->f) != n) {
		if (!cap->err) {
			cap->err = errno ? -errno : -EIO;
			vmbus_logf(&cap->log, VMBUS_LOG_ERR,
				   "capture: write failed (%d); capture stopped", cap->err);
		}
		return cap->err;
	}
	return 0;
}

static int put32(struct netvsp_capture *cap, uint32_t v)
{
	return put(cap, &v, sizeof(v));
}

static int write_file_header(struct netvsp_capture *cap)
{
	if (cap->fmt == NETVSP_CAPTURE_PCAP) {
		struct {
			uint32_t magic;
			uint16_t major, minor;
			int32_t thiszone;
			uint32_t sigfigs, snaplen, linktype;
		} h = { PCAP_MAGIC_NSEC, 2, 4, 0, 0, NETVSP_CAPTURE_SNAPLEN,
			LINKTYPE_ETHERNET };

		_Static_assert(sizeof(h) == 24, "pcap file header");
		return put(cap, &h, sizeof(h));
	}

	/* SHB with no options: 28 bytes; section length -1 (unknown). */
	struct {
		uint32_t type, len, bom;
		uint16_t major, minor;
		int64_t section_len;
		uint32_t len2;
	} __attribute__((packed)) shb = { PCAPNG_SHB, 28, PCAPNG_BOM, 1, 0, -1, 28 };
	/* IDB with if_tsresol (1 byte, padded to 4) and opt_endofopt. */
	struct {
		uint32_t type, len;
		uint16_t linktype, reserved;
		uint32_t snaplen;
		uint16_t opt_code, opt_len;
		uint8_t tsresol, pad[3];
		uint16_t end_code, end_len;
		uint32_t len2;
	} __attribute__((packed)) idb = { PCAPNG_IDB, 32, LINKTYPE_ETHERNET, 0,
					  NETVSP_CAPTURE_SNAPLEN, PCAPNG_OPT_TSRESOL, 1, 9,
					  { 0, 0, 0 }, PCAPNG_OPT_END, 0, 32 };

	_Static_assert(sizeof(shb) == 28, "pcapng SHB");
	_Static_assert(sizeof(idb) == 32, "pcapng IDB");
	if (put(cap, &shb, sizeof(shb)))
		return cap->err;
	return put(cap, &idb, sizeof(idb));
}

int netvsp_capture_open(const char *path, enum netvsp_capture_format fmt,
			const struct vmbus_log *log, struct netvsp_capture **out)
{
	struct netvsp_capture *cap;
	int ret;

	*out = NULL;
	if (!path || (fmt != NETVSP_CAPTURE_PCAP && fmt != NETVSP_CAPTURE_PCAPNG))
		return -EINVAL;
	cap = calloc(1, sizeof(*cap));
	if (!cap)
		return -ENOMEM;
	if (log)
		cap->log = *log;
	cap->fmt = fmt;
	cap->f = fopen(path, "wbe");
	if (!cap->f) {
		ret = -errno;
		vmbus_logf(&cap->log, VMBUS_LOG_ERR, "capture: cannot create %s: %s",
			   path, strerror(errno));
		free(cap);
		return ret;
	}
	/* Records arrive one by one from the data path; a large buffer keeps
	 * that to one write(2) per many frames. */
	setvbuf(cap->f, NULL, _IOFBF, 1 << 16);
	pthread_mutex_init(&cap->lock, NULL);
	ret = write_file_header(cap);
	if (ret) {
		fclose(cap->f);
		pthread_mutex_destroy(&cap->lock);
		free(cap);
		return ret;
	}
	*out = cap;
	return 0;
}

/* Write up to limit bytes of the frame, with the tag spliced in at byte 12.
 * Returns the bytes written (the record's captured length). */
static int put_frame(struct netvsp_capture *cap, const struct iovec *iov, unsigned int iovcnt,
		     int32_t vlan_tci, uint32_t limit)
{
	uint8_t tag[4] = { 0x81, 0x00, (uint8_t)(vlan_tci >> 8), (uint8_t)vlan_tci };
	uint32_t done = 0;	/* frame bytes consumed, tag not counted */
	uint32_t room = limit;
	bool tagged = vlan_tci < 0;
	unsigned int i;

	for (i = 0; i < iovcnt && room; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t n = iov[i].iov_len;

		while (n && room) {
			size_t chunk = n < room ? n : room;

			if (!tagged && done + chunk > 12)
				chunk = 12 - done;
			if (chunk && put(cap, p, chunk))
				return cap->err;
			p += chunk;
			n -= chunk;
			done += (uint32_t)chunk;
			room -= (uint32_t)chunk;
			if (!tagged && done == 12) {
				uint32_t t = room < 4 ? room : 4;

				if (put(cap, tag, t))
					return cap->err;
				room -= t;
				tagged = true;
			}
		}
	}
	return 0;
}

int netvsp_capture_frame(struct netvsp_capture *cap, enum netvsp_capture_dir dir,
			 const struct iovec *iov, unsigned int iovcnt, int32_t vlan_tci)
{
	static const uint8_t zero[4];
	struct timespec ts;
	uint64_t total = 0;
	uint32_t orig, caplen;
	unsigned int i;
	int ret;

	if (!cap)
		return -EINVAL;
	for (i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (vlan_tci > 0xffff)
		vlan_tci = -1;
	if (total == 0 || (vlan_tci >= 0 && total < 12)) {
		__atomic_fetch_add(&cap->dropped, 1, __ATOMIC_RELAXED);
		return -EINVAL;
	}
	if (vlan_tci >= 0)
		total += 4;
	orig = total > UINT32_MAX ? UINT32_MAX : (uint32_t)total;
	caplen = orig < NETVSP_CAPTURE_SNAPLEN ? orig : NETVSP_CAPTURE_SNAPLEN;
	clock_gettime(CLOCK_REALTIME, &ts);

	pthread_mutex_lock(&cap->lock);
	if (cap->err) {
		ret = cap->err;
		goto drop;
	}
	if (cap->fmt == NETVSP_CAPTURE_PCAP) {
		uint32_t rec[4] = { (uint32_t)ts.tv_sec, (uint32_t)ts.tv_nsec, caplen, orig };

		if (put(cap, rec, sizeof(rec)))
			goto fail;
		if (put_frame(cap, iov, iovcnt, vlan_tci, caplen))
			goto fail;
	} else {
		uint64_t t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		uint32_t pad = (4 - (caplen & 3)) & 3;
		/* 28 fixed + data + 12 of epb_flags (code, len, value) + 4 end
		 * of options + 4 trailing length. */
		uint32_t blen = 28 + caplen + pad + 8 + 4 + 4;
		uint32_t hdr[7] = { PCAPNG_EPB, blen, 0, (uint32_t)(t >> 32), (uint32_t)t,
				    caplen, orig };
		uint16_t opt[2] = { PCAPNG_OPT_EPB_FLAGS, 4 };
		uint32_t flags = dir == NETVSP_CAPTURE_RX ? PCAPNG_DIR_IN : PCAPNG_DIR_OUT;

		if (put(cap, hdr, sizeof(hdr)) ||
		    put_frame(cap, iov, iovcnt, vlan_tci, caplen) ||
		    put(cap, zero, pad) || put(cap, opt, sizeof(opt)) || put32(cap, flags) ||
		    put32(cap, PCAPNG_OPT_END) || put32(cap, blen))
			goto fail;
	}
	cap->written++;
	pthread_mutex_unlock(&cap->lock);
	return 0;
fail:
	ret = cap->err;
drop:
	__atomic_fetch_add(&cap->dropped, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&cap->lock);
	return ret;
}

int netvsp_capture_flush(struct netvsp_capture *cap)
{
	int ret;

	if (!cap)
		return -EINVAL;
	pthread_mutex_lock(&cap->lock);
	if (!cap->err && fflush(cap->f) != 0)
		cap->err = errno ? -errno : -EIO;
	ret = cap->err;
	pthread_mutex_unlock(&cap->lock);
	return ret;
}

void netvsp_capture_counts(struct netvsp_capture *cap, uint64_t *written, uint64_t *dropped)
{
	pthread_mutex_lock(&cap->lock);
	if (written)
		*written = cap->written;
	if (dropped)
		*dropped = __atomic_load_n(&cap->dropped, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&cap->lock);
}

int netvsp_capture_close(struct netvsp_capture *cap)
{
	int ret;

	if (!cap)
		return 0;
	ret = netvsp_capture_flush(cap);
	if (fclose(cap->f) != 0 && !ret)
		ret = errno ? -errno : -EIO;
	pthread_mutex_destroy(&cap->lock);
	free(cap);
	return ret;
}
