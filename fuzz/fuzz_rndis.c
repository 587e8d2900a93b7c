/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the netvsp RNDIS device: arbitrary bytes as control
 * messages, as PACKET messages (whole, split GPA-direct style, and batched),
 * and as received frames (filter, RSS, Toeplitz, receive header), all
 * against one long-lived device so state built by one input meets the
 * next. Formats: include/vmbus/proto/rndis.h.
 *
 * Input: byte 0 picks the mode, byte 1 a split point, the rest is the
 * message. Invariants on the outputs are checked with __builtin_trap().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/rndis_dev.h>

static struct rndis_dev *dev;
static uint8_t reply[RNDIS_DEV_REPLY_MAX];

static void init_device(void)
{
	static const uint8_t init_msg[24] = {
		0x02, 0, 0, 0, 24, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0,
	};
	struct rndis_dev_config cfg;

	if (!dev) {
		memset(&cfg, 0, sizeof(cfg));
		cfg.mac[0] = 0x02;
		cfg.mac[5] = 0x01;
		cfg.offloads = RNDIS_OFFLOAD_ALL;
		cfg.max_queues = 4;
		cfg.friendly_name = "fuzz";
		cfg.allow_mac_change = true;
		if (rndis_dev_create(&cfg, &dev))
			__builtin_trap();
	}
	if (!rndis_dev_is_initialized(dev) &&
	    rndis_dev_control(dev, init_msg, sizeof(init_msg), reply, sizeof(reply)) != 52)
		__builtin_trap();
}

static void fuzz_control(const uint8_t *m, size_t len)
{
	ssize_t r = rndis_dev_control(dev, m, len, reply, sizeof(reply));
	uint32_t msg_len;

	if (r > 0) {
		memcpy(&msg_len, reply + 4, 4);
		if ((size_t)r > sizeof(reply) || msg_len != (uint32_t)r)
			__builtin_trap();
	}
}

static void check_packet(const struct rndis_tx_packet *t, size_t total)
{
	if (t->msg_len > total || t->frame_len == 0 ||
	    (uint64_t)t->frame_offset + t->frame_len > t->msg_len)
		__builtin_trap();
}

/* The readable header part in its own allocation, so any read past
 * hdr_len is caught even though the fuzzer's buffer continues. */
static void fuzz_packet_split(const uint8_t *m, size_t len, uint8_t split)
{
	struct rndis_tx_packet t;
	size_t hdr_len = len ? (size_t)split * len / 255 : 0;
	uint8_t *hdr = malloc(hdr_len ? hdr_len : 1);

	if (!hdr)
		return;
	memcpy(hdr, m, hdr_len);
	if (rndis_dev_parse_packet(dev, hdr, hdr_len, len, &t) == 0)
		check_packet(&t, len);
	free(hdr);
}

static void fuzz_packets(const uint8_t *m, size_t len)
{
	struct rndis_tx_packet t;
	size_t off = 0;

	while (off < len) {
		if (rndis_dev_parse_packet(dev, m + off, len - off, len - off, &t))
			break;
		check_packet(&t, len - off);
		off += t.msg_len;
	}
}

static void fuzz_frame(const uint8_t *m, size_t len, uint8_t sel)
{
	struct rndis_rx_info info;
	uint8_t out[RNDIS_DEV_RX_HDR_MAX];
	uint32_t h, type;
	ssize_t r;

	memset(&info, 0, sizeof(info));
	if (rndis_dev_rss_classify(dev, m, len, &info) >= RNDIS_DEV_MAX_QUEUES)
		__builtin_trap();
	(void)rndis_dev_rx_accept(dev, m, len);
	/* The first 40 bytes double as a key for the bare hash. */
	if (len >= NDIS_RSS_HASH_KEY_SIZE_TOEPLITZ)
		(void)rndis_toeplitz_hash_frame(m, (uint32_t)sel << 8,
						m + NDIS_RSS_HASH_KEY_SIZE_TOEPLITZ,
						len - NDIS_RSS_HASH_KEY_SIZE_TOEPLITZ, &h, &type);
	info.flags |= sel & (RNDIS_RX_CSUM | RNDIS_RX_VLAN);
	r = rndis_dev_build_packet(dev, out, sizeof(out), (uint32_t)len, &info);
	if (r > (ssize_t)sizeof(out))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *m;
	size_t len;

	init_device();
	if (size < 2)
		return 0;
	m = data + 2;
	len = size - 2;
	switch (data[0] & 3) {
	case 0:
		fuzz_control(m, len);
		break;
	case 1:
		fuzz_packet_split(m, len, data[1]);
		break;
	case 2:
		fuzz_packets(m, len);
		break;
	default:
		fuzz_frame(m, len, data[1]);
		break;
	}
	return 0;
}
