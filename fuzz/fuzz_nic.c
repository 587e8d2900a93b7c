/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for netvsp's NIC layer: the offload metadata a guest sends
 * with a frame (checksum, LSO, VLAN requests; the frame split into pieces)
 * run through linearization, header parsing and the software offloads, and
 * the --nic spec parser. Input layout: byte 0 selects; for offloads, 12
 * bytes of metadata (flags, csum_start, csum_offset, mss, vlan_tci, two
 * split points, header window), then the frame. Formats: nic.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../vsp/netvsp/nic.h"

static uint8_t lin[NETVSP_NIC_FRAME_MAX], scratch[NETVSP_NIC_FRAME_MAX];

static int emit(void *opaque, uint8_t *frame, size_t len)
{
	volatile uint8_t sink;

	(void)opaque;
	/* Every emitted frame must be readable over its whole length. */
	if (len)
		sink = frame[0] ^ frame[len - 1];
	(void)sink;
	return len > NETVSP_NIC_FRAME_MAX ? -1 : 0;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void fuzz_offload(const uint8_t *data, size_t size)
{
	struct netvsp_nic_tx_offload ol, lo;
	struct netvsp_nic_hdrs h;
	struct netvsp_nic_frame f;
	struct iovec iov[3];
	uint8_t *frame;
	size_t len, a, b;
	ssize_t n;

	if (size < 12)
		return;
	ol.flags = data[0] & 0x1f;
	ol.csum_start = rd16(data + 1);
	ol.csum_offset = data[3];
	ol.mss = rd16(data + 4);
	ol.vlan_tci = rd16(data + 6);
	len = size - 12;
	/* A private heap copy so ASan sees reads past the frame. */
	frame = malloc(len ? len : 1);
	memcpy(frame, data + 12, len);
	a = len ? data[8] % (len + 1) : 0;
	b = a + (len - a ? data[9] % (len - a + 1) : 0);
	iov[0] = (struct iovec){ frame, a };
	iov[1] = (struct iovec){ frame + a, b - a };
	iov[2] = (struct iovec){ frame + b, len - b };
	f = (struct netvsp_nic_frame){ iov, 3, len, ol };

	n = netvsp_nic_linearize(&f, lin, sizeof(lin), &lo);
	if (n >= 0) {
		netvsp_nic_sw_offload(lin, (size_t)n, &lo, scratch, sizeof(scratch), emit, NULL);
		/* A device backend looks at a window of headers only. */
		lo.flags &= ~NETVSP_NIC_TX_VLAN;
		if (!netvsp_nic_parse_headers(lin, data[10] % (NETVSP_NIC_HDR_MAX + 1), (size_t)n,
					      &lo, &h)) {
			if (lo.flags & NETVSP_NIC_TX_LSO)
				netvsp_nic_set_ip_len(lin, &h, (size_t)n);
			if (h.v4)
				netvsp_nic_ip4_csum(lin, &h);
			if (h.proto)
				netvsp_nic_pseudo_sum(lin, &h, h.l4_total);
		}
	}
	if (len >= 4)
		netvsp_nic_csum_complete(frame, len, rd16(data + 1), data[3]);
	free(frame);
}

static void fuzz_spec(const uint8_t *data, size_t size)
{
	struct netvsp_nic_spec spec;
	char *s = malloc(size + 1);
	char err[128];
	int i;

	memcpy(s, data, size);
	s[size] = '\0';
	if (netvsp_nic_spec_parse(s, &spec, err, sizeof(err)) == 0) {
		for (i = 0; i < spec.eal_argc; i++)
			if (!spec.eal_argv[i] || !spec.eal_argv[i][0])
				abort();
		netvsp_nic_spec_free(&spec);
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		fuzz_spec(data + 1, size - 1);
	else
		fuzz_offload(data + 1, size - 1);
	return 0;
}
