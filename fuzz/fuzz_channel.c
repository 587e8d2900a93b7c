/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the channel layer (libvmbus/channel.c) reading a
 * ring the peer filled with anything: the first 8 input bytes are the
 * peer's write index and pending_send_sz, the rest is the data area. The
 * end has requests outstanding, so completions are matched too; every
 * packet that asks for a completion gets one on the send ring. Checks that
 * the read index only moves inside the ring and that packet views stay
 * inside the caller's buffer.
 *
 * Formats: include/vmbus/proto/vmbus.h (Linux hyperv.h, ring_buffer.c).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/channel.h>

static void check(int cond)
{
	if (!cond)
		abort();
}

#define DATA_SIZE	(2 * 4096)

struct page_ring {
	struct vmbus_ring_ctrl ctrl;
	uint8_t data[DATA_SIZE];
} __attribute__((aligned(4096)));

static struct page_ring rx, tx;
static uint8_t buf[DATA_SIZE];
static struct vmbus_channel *ch;
static unsigned int signals;
static size_t buflen;

static void on_signal(void *ctx)
{
	(void)ctx;
	signals++;
}

static int on_packet(void *ctx, const struct vmbus_channel_packet *pkt)
{
	const uint8_t *p = pkt->data;
	struct vmbus_ring_gpa_iter gi;
	struct vmbus_ring_gpa_range gr;
	struct vmbus_ring_xfer_iter xi;
	struct vmbus_xfer_page_range xr;

	(void)ctx;
	check(p == buf);
	check(pkt->len <= buflen && pkt->payload_len <= pkt->len);
	check((const uint8_t *)pkt->payload + pkt->payload_len == p + pkt->len);
	if (pkt->type == VM_PKT_COMP)
		check((pkt->cookie != NULL) == (pkt->comp_status == 0));
	if (pkt->type == VM_PKT_DATA_USING_GPA_DIRECT &&
	    vmbus_ring_parse_gpa_direct(p, pkt->len, &gi) >= 0)
		while (vmbus_ring_gpa_next(&gi, &gr))
			if (gr.pfn_count)
				(void)vmbus_ring_gpa_pfn(&gr, gr.pfn_count - 1);
	if (pkt->type == VM_PKT_DATA_USING_XFER_PAGES &&
	    vmbus_ring_parse_xfer(p, pkt->len, &xi) >= 0)
		while (vmbus_ring_xfer_next(&xi, &xr))
			;
	if (pkt->flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED)
		vmbus_channel_send_comp(ch, NULL, 0, pkt->trans_id);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t mem[1024];
	struct vmbus_ring send, recv;
	struct vmbus_channel_config cfg = { 0 };
	uint32_t wr, pend;
	unsigned int i;
	int n;

	if (size < 8)
		return 0;
	memcpy(&wr, data, 4);
	memcpy(&pend, data + 4, 4);
	memset(&rx, 0, sizeof(rx));
	memset(&tx, 0, sizeof(tx));
	size -= 8;
	memcpy(rx.data, data + 8, size < DATA_SIZE ? size : DATA_SIZE);

	check(vmbus_ring_view_contig(&recv, &rx.ctrl, rx.data, DATA_SIZE) == 0);
	check(vmbus_ring_view_contig(&send, &tx.ctrl, tx.data, DATA_SIZE) == 0);
	vmbus_ring_init(&recv, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	vmbus_ring_init(&send, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	rx.ctrl.write_index = wr;
	rx.ctrl.pending_send_sz = pend;

	cfg.send = &send;
	cfg.recv = &recv;
	cfg.signal = on_signal;
	cfg.max_requests = 4;
	check(vmbus_channel_init(mem, sizeof(mem), &cfg, &ch) == 0);
	for (i = 0; i < 4; i++)
		check(vmbus_channel_send_request(ch, "r", 1, (void *)(uintptr_t)(i + 1),
						 NULL) == 0);

	buflen = sizeof(buf);
	n = vmbus_channel_process(ch, buf, buflen, 64, on_packet, NULL);
	check(n <= 64);
	check(rx.ctrl.read_index < DATA_SIZE && !(rx.ctrl.read_index & 7));
	check(vmbus_channel_outstanding(ch) <= 4);
	/* Once more with a small buffer: must refuse, not overrun. */
	buflen = 64;
	n = vmbus_channel_recv_batch(ch, buf, buflen, 8, on_packet, NULL);
	check(n <= 8);
	check(rx.ctrl.read_index < DATA_SIZE && !(rx.ctrl.read_index & 7));
	return 0;
}
