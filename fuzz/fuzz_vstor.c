/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for storvsp (vsp/storvsp/storvsp.c): a hostile guest
 * writes vstor packets into the guest-to-host ring of one storvsp channel
 * backed by a small RAM disk and a small guest memory map, and the host
 * processes them after each packet. Packets are raw: the input chooses the
 * descriptor type, flags and header size, so in-band packets, GPA-direct
 * packets with any ranges and PFNs, and malformed descriptors all reach
 * the host. The guest drains whatever comes back. Checks that the host
 * never touches memory outside guest RAM and the disk (ASan), never
 * answers with anything but a completion or an unsolicited packet, and
 * that every answer is a vstor packet of a protocol size.
 *
 * Input: records of [type][flags][extra header qwords][body length]
 * followed by the body (the bytes after the descriptor).
 * Formats: include/vmbus/proto/vstor.h and vmbus.h.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/gpa.h>
#include <vmbus/proto/tlfs.h>
#include <vmbus/ring.h>
#include <vmbus/scsi_target.h>
#include <vmbus/storvsp.h>

#define RAM_PAGES	32
#define RAM_GPA		0x100000ull	/* PFN 0x100 */
#define RING_DATA	4		/* data pages per ring */
#define H2G_BASE	(1 + RING_DATA)
#define DISK_SIZE	(64u * 1024u)

static void check(int cond)
{
	if (!cond)
		abort();
}

static uint8_t ram[RAM_PAGES][HV_PAGE_SIZE] __attribute__((aligned(4096)));
static uint8_t disk[DISK_SIZE];
static struct vmbus_gpa_map *map;

static int d_read(void *ctx, uint64_t off, const struct iovec *iov, unsigned int cnt,
		  size_t len)
{
	unsigned int i;

	(void)ctx;
	check(off <= DISK_SIZE && len <= DISK_SIZE - off);
	for (i = 0; i < cnt && len; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		memcpy(iov[i].iov_base, disk + off, n);
		off += n;
		len -= n;
	}
	return 0;
}

static int d_write(void *ctx, uint64_t off, const struct iovec *iov, unsigned int cnt,
		   size_t len, bool fua)
{
	unsigned int i;

	(void)ctx;
	(void)fua;
	check(off <= DISK_SIZE && len <= DISK_SIZE - off);
	for (i = 0; i < cnt && len; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		memcpy(disk + off, iov[i].iov_base, n);
		off += n;
		len -= n;
	}
	return 0;
}

static int d_discard(void *ctx, uint64_t off, uint64_t len)
{
	(void)ctx;
	check(off <= DISK_SIZE && len <= DISK_SIZE - off);
	memset(disk + off, 0, len);
	return 0;
}

static const struct scsi_disk_ops ops = {
	.read = d_read, .write = d_write, .discard = d_discard,
};

static void on_signal(void *ctx)
{
	(void)ctx;
}

/* Read and check everything the host wrote. */
static void drain(struct vmbus_ring *r)
{
	uint8_t buf[256];
	const struct vmpacket_descriptor *d = (const void *)buf;
	size_t len;
	uint32_t op, pl;

	while (vmbus_ring_recv(r, buf, sizeof(buf), &len, NULL) == 0) {
		check(len >= sizeof(*d));
		pl = (uint32_t)len - d->offset8 * 8u;
		check(pl == VSTOR_PACKET_SIZE_WIN8 || pl == VSTOR_PACKET_SIZE_PRE_WIN8);
		memcpy(&op, buf + d->offset8 * 8u, sizeof(op));
		if (d->type == VM_PKT_COMP)
			check(op == VSTOR_OPERATION_COMPLETE_IO);
		else
			check(d->type == VM_PKT_DATA_INBAND && d->trans_id == 0 &&
			      (op == VSTOR_OPERATION_ENUMERATE_BUS ||
			       op == VSTOR_OPERATION_REMOVE_DEVICE));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scsi_disk_info info = { .size = DISK_SIZE, .block_size = 512 };
	struct storvsp_config cfg = { 0 };
	struct vmbus_ring gsend, grecv, hsend, hrecv;
	struct storvsp_channel *ch;
	struct scsi_target *t;
	struct storvsp *sv;
	void *pages[2][RING_DATA];
	uint64_t trans_id = 1;
	unsigned int i, npkt = 0;
	size_t pos = 0;

	if (!map) {
		map = vmbus_gpa_map_new();
		check(map && !vmbus_gpa_map_add(map, RAM_GPA, sizeof(ram), ram));
	}
	t = scsi_target_new(NULL);
	check(t && !scsi_target_add_lun(t, 0, &info, &ops, NULL));
	cfg.map = map;
	cfg.target = t;
	cfg.channels = 2;
	cfg.max_transfer = 16 * 1024;
	cfg.queue_depth = 8;
	sv = storvsp_new(&cfg);
	check(sv != NULL);

	memset(ram[0], 0, (size_t)2 * H2G_BASE * HV_PAGE_SIZE);
	check(!vmbus_ring_view_contig(&gsend, (void *)ram[0], ram[1], RING_DATA * HV_PAGE_SIZE));
	check(!vmbus_ring_view_contig(&grecv, (void *)ram[H2G_BASE], ram[H2G_BASE + 1],
				      RING_DATA * HV_PAGE_SIZE));
	vmbus_ring_init(&gsend, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	vmbus_ring_init(&grecv, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	for (i = 0; i < RING_DATA; i++) {
		pages[0][i] = ram[1 + i];
		pages[1][i] = ram[H2G_BASE + 1 + i];
	}
	check(!vmbus_ring_view_pages(&hrecv, (void *)ram[0], pages[0], RING_DATA));
	check(!vmbus_ring_view_pages(&hsend, (void *)ram[H2G_BASE], pages[1], RING_DATA));
	check(!vmbus_ring_attach(&hrecv) && !vmbus_ring_attach(&hsend));
	check(!storvsp_channel_attach(sv, 0, &hsend, &hrecv, on_signal, NULL, &ch));

	while (pos + 4 <= size && npkt < 256) {
		uint8_t type = data[pos], flags = data[pos + 1];
		uint8_t extra = data[pos + 2] & 7, blen = data[pos + 3];
		uint8_t pkt[sizeof(struct vmpacket_descriptor) + 7 * 8 + 255];
		struct vmpacket_descriptor *d = (void *)pkt;
		struct vmbus_ring_sg sg;
		size_t total;
		int ret;

		pos += 4;
		if (blen > size - pos)
			blen = (uint8_t)(size - pos);
		memset(pkt, 0, sizeof(pkt));
		/* type 0xff: the ring's own notion of a packet, offset8 set
		 * from the input as it is; otherwise the usual header size
		 * plus extra qwords (GPA-direct bodies carry their ranges). */
		d->type = type == 0xff ? VM_PKT_DATA_INBAND : type;
		d->flags = flags;
		d->offset8 = (uint16_t)(2 + (type == 0xff ? data[pos - 2] : extra));
		d->trans_id = trans_id++;
		memcpy(pkt + sizeof(*d), data + pos, blen);
		total = sizeof(*d) + blen;
		d->len8 = (uint16_t)((total + 7) / 8);
		pos += blen;
		sg.base = pkt;
		sg.len = total;
		ret = vmbus_ring_write(&gsend, &sg, 1, NULL);
		if (ret == -EAGAIN) {
			storvsp_channel_process(ch);
			drain(&grecv);
			ret = vmbus_ring_write(&gsend, &sg, 1, NULL);
		}
		if (ret)
			break;
		npkt++;
		storvsp_channel_process(ch);
		drain(&grecv);
		if (flags & 0x80)
			storvsp_notify_luns_changed(sv);
	}
	storvsp_channel_process(ch);
	drain(&grecv);
	storvsp_free(sv);
	scsi_target_free(t);
	return 0;
}
