/* SPDX-License-Identifier: MIT */
/*
 * Tests of the netvsp RNDIS device: the Linux guest's control sequence
 * (rndis_filter_device_add and friends in drivers/net/hyperv/rndis_filter.c)
 * with exact completions, PACKET parsing with every PPI, receive headers
 * read back the way Linux reads them, the Microsoft RSS verification-suite
 * Toeplitz vectors, and hostile messages of every kind beside each.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/proto/nvsp.h>
#include <vmbus/rndis_dev.h>

static const uint8_t test_mac[6] = { 0x00, 0x15, 0x5d, 0x12, 0x34, 0x56 };

static const uint8_t ms_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
	0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
	0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

#define OFFERED (RNDIS_OFFLOAD_TX_IP4 | RNDIS_OFFLOAD_TX_TCP4 | RNDIS_OFFLOAD_TX_UDP4 | \
		 RNDIS_OFFLOAD_TX_TCP6 | RNDIS_OFFLOAD_TX_UDP6 | RNDIS_OFFLOAD_RX_IP4 | \
		 RNDIS_OFFLOAD_RX_TCP4 | RNDIS_OFFLOAD_RX_UDP4 | RNDIS_OFFLOAD_RX_TCP6 | \
		 RNDIS_OFFLOAD_RX_UDP6 | RNDIS_OFFLOAD_LSO4 | RNDIS_OFFLOAD_LSO6)

static struct rndis_dev *new_dev_cfg(struct rndis_dev_config *cfg)
{
	struct rndis_dev *dev = NULL;

	ck_assert_int_eq(rndis_dev_create(cfg, &dev), 0);
	ck_assert_ptr_nonnull(dev);
	return dev;
}

static struct rndis_dev *new_dev(void)
{
	struct rndis_dev_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.mac, test_mac, 6);
	cfg.offloads = OFFERED;
	cfg.max_queues = 4;
	return new_dev_cfg(&cfg);
}

/* ---- Message builders --------------------------------------------------------- */

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static size_t mk_init(uint8_t *b, uint32_t id)
{
	wr32(b, RNDIS_MSG_INIT);
	wr32(b + 4, 24);
	wr32(b + 8, id);
	wr32(b + 12, RNDIS_MAJOR_VERSION);
	wr32(b + 16, RNDIS_MINOR_VERSION);
	wr32(b + 20, 0x4000);
	return 24;
}

/* QUERY or SET with info at offset 20 of the body, as Linux builds them. */
static size_t mk_req(uint8_t *b, uint32_t type, uint32_t id, uint32_t oid,
		     const void *info, uint32_t info_len)
{
	wr32(b, type);
	wr32(b + 4, 28 + info_len);
	wr32(b + 8, id);
	wr32(b + 12, oid);
	wr32(b + 16, info_len);
	wr32(b + 20, 20);
	wr32(b + 24, 0);
	if (info_len)
		memcpy(b + 28, info, info_len);
	return 28 + info_len;
}

static uint8_t reply[2048];

/* Run one control message; check nothing past the returned length was
 * written. */
static ssize_t ctrl(struct rndis_dev *dev, const void *msg, size_t len)
{
	ssize_t r;
	size_t i;

	memset(reply, 0xa5, sizeof(reply));
	r = rndis_dev_control(dev, msg, len, reply, RNDIS_DEV_REPLY_MAX);
	for (i = r > 0 ? (size_t)r : 0; i < sizeof(reply); i++)
		ck_assert_uint_eq(reply[i], 0xa5);
	return r;
}

static void expect_words(ssize_t r, const uint32_t *w, size_t n)
{
	size_t i;

	ck_assert_int_eq(r, (ssize_t)(n * 4));
	for (i = 0; i < n; i++)
		ck_assert_msg(rd32(reply + 4 * i) == w[i], "word %zu: %#x != %#x", i,
			      rd32(reply + 4 * i), w[i]);
}

static uint32_t query(struct rndis_dev *dev, uint32_t oid, const void *info, uint32_t len,
		      uint32_t *out_len)
{
	uint8_t m[600];
	ssize_t r = ctrl(dev, m, mk_req(m, RNDIS_MSG_QUERY, 77, oid, info, len));

	ck_assert_int_ge(r, 24);
	ck_assert_uint_eq(rd32(reply), RNDIS_MSG_QUERY_C);
	ck_assert_uint_eq(rd32(reply + 4), (uint32_t)r);
	ck_assert_uint_eq(rd32(reply + 8), 77);
	*out_len = rd32(reply + 16);
	if (rd32(reply + 12) == RNDIS_STATUS_SUCCESS) {
		ck_assert_uint_eq(rd32(reply + 20), 16);
		ck_assert_uint_eq(*out_len + 24, (uint32_t)r);
	} else {
		ck_assert_uint_eq(*out_len, 0);
		ck_assert_int_eq(r, 24);
	}
	return rd32(reply + 12);
}

static uint32_t set(struct rndis_dev *dev, uint32_t oid, const void *info, uint32_t len)
{
	static uint8_t m[8192];
	ssize_t r = ctrl(dev, m, mk_req(m, RNDIS_MSG_SET, 91, oid, info, len));

	ck_assert_int_eq(r, 16);
	ck_assert_uint_eq(rd32(reply), RNDIS_MSG_SET_C);
	ck_assert_uint_eq(rd32(reply + 4), 16);
	ck_assert_uint_eq(rd32(reply + 8), 91);
	return rd32(reply + 12);
}

static void init_dev(struct rndis_dev *dev)
{
	uint8_t m[64];

	ck_assert_int_eq(ctrl(dev, m, mk_init(m, 1)), 52);
	ck_assert_uint_eq(rd32(reply + 12), RNDIS_STATUS_SUCCESS);
}

static struct rndis_dev_stats stats(struct rndis_dev *dev)
{
	struct rndis_dev_stats s;

	rndis_dev_get_stats(dev, &s);
	return s;
}

/* The RSS parameter object Linux sends: header, table of n u32 entries,
 * key. Returns its length. */
static uint32_t mk_rss(uint8_t *b, uint16_t flags, uint32_t n, const uint32_t *table)
{
	struct ndis_rss_params p;
	uint32_t i;

	memset(&p, 0, sizeof(p));
	p.header.type = NDIS_OBJECT_TYPE_RSS_PARAMETERS;
	p.header.revision = NDIS_RSS_PARAMS_REVISION_2;
	p.header.size = sizeof(p);
	p.flags = flags;
	p.hash_info = NDIS_HASH_FUNCTION_TOEPLITZ | NDIS_HASH_IPV4 | NDIS_HASH_TCP_IPV4 |
		      NDIS_HASH_IPV6 | NDIS_HASH_TCP_IPV6;
	p.indirect_tabsize = (uint16_t)(4 * n);
	p.indirect_taboffset = sizeof(p);
	p.hashkey_size = 40;
	p.hashkey_offset = sizeof(p) + 4 * n;
	memcpy(b, &p, sizeof(p));
	for (i = 0; i < n; i++)
		wr32(b + sizeof(p) + 4 * i, table[i]);
	memcpy(b + sizeof(p) + 4 * n, ms_key, 40);
	return sizeof(p) + 4 * n + 40;
}

/* ---- Linux control sequence ------------------------------------------------------ */

START_TEST(test_linux_sequence)
{
	struct rndis_dev *dev = new_dev();
	uint8_t m[1024], info[1024];
	uint32_t len, table[128], i;
	struct ndis_offload caps;
	struct ndis_offload_params op;
	struct ndis_rss_caps rc;
	ssize_t r;

	ck_assert(!rndis_dev_is_initialized(dev));

	/* rndis_filter_init_device */
	{
		const uint32_t w[] = { RNDIS_MSG_INIT_C, 52, 1, RNDIS_STATUS_SUCCESS, 1, 0,
				       RNDIS_DF_CONNECTIONLESS, RNDIS_MEDIUM_802_3, 8,
				       0x100000, 3, 0, 0 };

		expect_words(ctrl(dev, m, mk_init(m, 1)), w, 13);
	}
	ck_assert(rndis_dev_is_initialized(dev));

	/* MTU: query of OID_GEN_MAXIMUM_FRAME_SIZE, 4 bytes expected. */
	{
		const uint32_t w[] = { RNDIS_MSG_QUERY_C, 28, 2, 0, 4, 16, 1500 };

		expect_words(ctrl(dev, m, mk_req(m, RNDIS_MSG_QUERY, 2,
						 OID_GEN_MAXIMUM_FRAME_SIZE, NULL, 0)), w, 7);
	}

	/* MAC: OID_802_3_PERMANENT_ADDRESS, exactly 6 bytes. */
	r = ctrl(dev, m, mk_req(m, RNDIS_MSG_QUERY, 3, OID_802_3_PERMANENT_ADDRESS, NULL, 0));
	ck_assert_int_eq(r, 30);
	{
		const uint32_t w[] = { RNDIS_MSG_QUERY_C, 30, 3, 0, 6, 16 };

		for (i = 0; i < 6; i++)
			ck_assert_uint_eq(rd32(reply + 4 * i), w[i]);
	}
	ck_assert_mem_eq(reply + 24, test_mac, 6);

	/* Friendly name: not configured, Linux ignores the failure. */
	{
		const uint32_t w[] = { RNDIS_MSG_QUERY_C, 24, 4, RNDIS_STATUS_NOT_SUPPORTED, 0, 0 };

		expect_words(ctrl(dev, m, mk_req(m, RNDIS_MSG_QUERY, 4, OID_GEN_FRIENDLY_NAME,
						 NULL, 0)), w, 6);
	}

	/* Hardware offloads: NVSP 5 sends a revision 3 header in a 156-byte
	 * buffer and accepts at most 156 back. */
	memset(info, 0, sizeof(info));
	info[0] = NDIS_OBJECT_TYPE_OFFLOAD;
	info[1] = 3;
	info[2] = 156;
	ck_assert_uint_eq(query(dev, OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, info, 156, &len),
			  RNDIS_STATUS_SUCCESS);
	ck_assert_uint_eq(len, 156);
	memcpy(&caps, reply + 24, sizeof(caps));
	ck_assert_uint_eq(caps.header.type, NDIS_OBJECT_TYPE_OFFLOAD);
	ck_assert_uint_eq(caps.header.revision, 3);
	ck_assert_uint_eq(caps.header.size, 156);
	/* Linux enables IPv4 TCP checksum only with TCP4 | TCP4OPT both set,
	 * and TSO6 only with IP6EXT | TCP6OPT in the LSO options. */
	ck_assert_uint_eq(caps.csum.ip4_txcsum, 0x155);
	ck_assert_uint_eq(caps.csum.ip6_txcsum, 0x055);
	ck_assert_uint_eq(caps.lsov2.ip4_encap, NDIS_OFFLOAD_ENCAP_8023);
	ck_assert_uint_eq(caps.lsov2.ip4_maxsz, 0xf53c);
	ck_assert_uint_eq(caps.lsov2.ip6_opts, 5);
	ck_assert_uint_eq(caps.rsc.ip4, 0);

	/* NVSP 4 guests give a 144-byte buffer: revision 2 back. */
	ck_assert_uint_eq(query(dev, OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, info, 144, &len),
			  RNDIS_STATUS_SUCCESS);
	ck_assert_uint_eq(len, 144);
	ck_assert_uint_eq(reply[25], 2);

	/* rndis_netdev_set_hwcaps: IPv4 header checksum off, the rest on. */
	memset(&op, 0, sizeof(op));
	op.header.type = NDIS_OBJECT_TYPE_DEFAULT;
	op.header.revision = NDIS_OFFLOAD_PARAMETERS_REVISION_3;
	op.header.size = sizeof(op);
	op.ip_v4_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED;
	op.tcp_ip_v4_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
	op.udp_ip_v4_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
	op.tcp_ip_v6_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
	op.udp_ip_v6_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
	op.lso_v2_ipv4 = NDIS_OFFLOAD_PARAMETERS_ENABLED;
	op.lso_v2_ipv6 = NDIS_OFFLOAD_PARAMETERS_ENABLED;
	{
		const uint32_t w[] = { RNDIS_MSG_SET_C, 16, 5, RNDIS_STATUS_SUCCESS };

		expect_words(ctrl(dev, m, mk_req(m, RNDIS_MSG_SET, 5, OID_TCP_OFFLOAD_PARAMETERS,
						 &op, sizeof(op))), w, 4);
	}
	ck_assert_uint_eq(rndis_dev_offloads(dev),
			  OFFERED & ~(RNDIS_OFFLOAD_TX_IP4 | RNDIS_OFFLOAD_RX_IP4));

	/* The current configuration now lacks the IPv4 header bits. */
	ck_assert_uint_eq(query(dev, OID_TCP_OFFLOAD_CURRENT_CONFIG, NULL, 0, &len),
			  RNDIS_STATUS_SUCCESS);
	memcpy(&caps, reply + 24, sizeof(caps));
	ck_assert_uint_eq(caps.csum.ip4_txcsum, 0x054);

	/* Link state (0 = connected), then speed in 100 bit/s units. */
	{
		const uint32_t w[] = { RNDIS_MSG_QUERY_C, 28, 6, 0, 4, 16,
				       NDIS_MEDIA_STATE_CONNECTED };

		expect_words(ctrl(dev, m, mk_req(m, RNDIS_MSG_QUERY, 6,
						 OID_GEN_MEDIA_CONNECT_STATUS, NULL, 0)), w, 7);
	}
	{
		const uint32_t w[] = { RNDIS_MSG_QUERY_C, 28, 7, 0, 4, 16, 100000000 };

		expect_words(ctrl(dev, m, mk_req(m, RNDIS_MSG_QUERY, 7, OID_GEN_LINK_SPEED,
						 NULL, 0)), w, 7);
	}

	/* vRSS: capabilities with an 18-byte buffer (packed struct). */
	memset(info, 0, sizeof(info));
	info[0] = NDIS_OBJECT_TYPE_RSS_CAPABILITIES;
	info[1] = 2;
	info[2] = 18;
	ck_assert_uint_eq(query(dev, OID_GEN_RECEIVE_SCALE_CAPABILITIES, info, 18, &len),
			  RNDIS_STATUS_SUCCESS);
	ck_assert_uint_eq(len, 18);
	memset(&rc, 0, sizeof(rc));
	memcpy(&rc, reply + 24, 18);
	ck_assert_uint_eq(rc.header.type, NDIS_OBJECT_TYPE_RSS_CAPABILITIES);
	ck_assert_uint_eq(rc.header.size, 18);
	ck_assert_uint_eq(rc.num_recv_queues, 4);
	ck_assert_uint_eq(rc.num_indirect_entries, 128);
	ck_assert_uint_eq(rc.cap_flags & NDIS_HASH_FUNCTION_TOEPLITZ, 1);

	/* rndis_filter_set_rss_param: disable first, then the real table. */
	for (i = 0; i < 128; i++)
		table[i] = i % 4;
	ck_assert_uint_eq(set(dev, OID_GEN_RECEIVE_SCALE_PARAMETERS, info,
			      mk_rss(info, NDIS_RSS_PARAM_FLAG_DISABLE_RSS, 128, table)),
			  RNDIS_STATUS_SUCCESS);
	ck_assert(!rndis_dev_rss_enabled(dev));
	ck_assert_uint_eq(set(dev, OID_GEN_RECEIVE_SCALE_PARAMETERS, info,
			      mk_rss(info, 0, 128, table)), RNDIS_STATUS_SUCCESS);
	ck_assert(rndis_dev_rss_enabled(dev));

	/* rndis_filter_open_device: packet filter set with offset 20. */
	{
		uint32_t f = NDIS_PACKET_TYPE_BROADCAST | NDIS_PACKET_TYPE_ALL_MULTICAST |
			     NDIS_PACKET_TYPE_DIRECTED;
		const uint32_t w[] = { RNDIS_MSG_SET_C, 16, 9, RNDIS_STATUS_SUCCESS };

		expect_words(ctrl(dev, m, mk_req(m, RNDIS_MSG_SET, 9,
						 OID_GEN_CURRENT_PACKET_FILTER, &f, 4)), w, 4);
		ck_assert_uint_eq(rndis_dev_packet_filter(dev), f);
	}

	/* KEEPALIVE */
	{
		const uint32_t w[] = { RNDIS_MSG_KEEPALIVE_C, 16, 10, RNDIS_STATUS_SUCCESS };
		uint8_t k[12];

		wr32(k, RNDIS_MSG_KEEPALIVE);
		wr32(k + 4, 12);
		wr32(k + 8, 10);
		expect_words(ctrl(dev, k, 12), w, 4);
	}

	/* rndis_filter_halt_device: no completion, device stops. */
	{
		uint8_t hm[12];

		wr32(hm, RNDIS_MSG_HALT);
		wr32(hm + 4, 12);
		wr32(hm + 8, 11);
		ck_assert_int_eq(ctrl(dev, hm, 12), 0);
		ck_assert(!rndis_dev_is_initialized(dev));
	}

	ck_assert_uint_eq(stats(dev).ctrl_msgs, 16);
	ck_assert_uint_eq(stats(dev).oid_unsupported, 1);
	ck_assert_uint_eq(stats(dev).set_ok, 4);
	rndis_dev_destroy(dev);
}
END_TEST

START_TEST(test_reset_and_reinit)
{
	struct rndis_dev *dev = new_dev();
	uint8_t m[64];
	uint32_t f = NDIS_PACKET_TYPE_DIRECTED;

	init_dev(dev);
	ck_assert_uint_eq(set(dev, OID_GEN_CURRENT_PACKET_FILTER, &f, 4), RNDIS_STATUS_SUCCESS);
	wr32(m, RNDIS_MSG_RESET);
	wr32(m + 4, 12);
	wr32(m + 8, 0);
	{
		const uint32_t w[] = { RNDIS_MSG_RESET_C, 16, RNDIS_STATUS_SUCCESS, 0 };

		expect_words(ctrl(dev, m, 12), w, 4);
	}
	ck_assert_uint_eq(rndis_dev_packet_filter(dev), f);
	/* A second INITIALIZE starts from scratch. */
	init_dev(dev);
	ck_assert_uint_eq(rndis_dev_packet_filter(dev), 0);
	/* Major version 2 is refused. */
	mk_init(m, 5);
	wr32(m + 12, 2);
	ck_assert_int_eq(ctrl(dev, m, 24), 52);
	ck_assert_uint_eq(rd32(reply + 12), RNDIS_STATUS_BAD_VERSION);
	rndis_dev_destroy(dev);
}
END_TEST

START_TEST(test_more_oids)
{
	struct rndis_dev_config cfg;
	struct rndis_dev *dev;
	uint8_t cp[128];
	uint32_t len, i, val;
	bool found = false;
	const char *name = "NetworkAddress", *mac = "02aabbccddee";
	uint8_t now[6];

	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.mac, test_mac, 6);
	cfg.friendly_name = "eth-test";
	cfg.mtu = 9000;
	cfg.link_speed = 1000000000ull;
	dev = new_dev_cfg(&cfg);
	init_dev(dev);

	ck_assert_uint_eq(query(dev, OID_GEN_SUPPORTED_LIST, NULL, 0, &len),
			  RNDIS_STATUS_SUCCESS);
	ck_assert_uint_eq(len % 4, 0);
	for (i = 0; i < len / 4; i++)
		found |= rd32(reply + 24 + 4 * i) == OID_GEN_RECEIVE_SCALE_CAPABILITIES;
	ck_assert(found);

	ck_assert_uint_eq(query(dev, OID_GEN_FRIENDLY_NAME, NULL, 0, &len), 0);
	ck_assert_uint_eq(len, 18);	/* 8 UTF-16 characters and a NUL */
	ck_assert_uint_eq(reply[24], 'e');
	ck_assert_uint_eq(reply[25], 0);
	ck_assert_uint_eq(reply[24 + 14], 't');
	ck_assert_uint_eq(reply[24 + 16], 0);

	ck_assert_uint_eq(query(dev, OID_GEN_MAXIMUM_TOTAL_SIZE, NULL, 0, &len), 0);
	ck_assert_uint_eq(rd32(reply + 24), 9014);
	ck_assert_int_eq(rndis_dev_set_mtu(dev, 1500), 0);
	ck_assert_int_eq(rndis_dev_set_mtu(dev, 9001), -EINVAL);
	ck_assert_int_eq(rndis_dev_set_mtu(dev, 67), -EINVAL);
	ck_assert_uint_eq(query(dev, OID_GEN_MAXIMUM_FRAME_SIZE, NULL, 0, &len), 0);
	ck_assert_uint_eq(rd32(reply + 24), 1500);
	ck_assert_uint_eq(query(dev, OID_GEN_LINK_SPEED, NULL, 0, &len), 0);
	ck_assert_uint_eq(rd32(reply + 24), 10000000);

	/* Counters: 32 bits for a small buffer, 64 for an 8-byte one. */
	ck_assert_uint_eq(query(dev, OID_GEN_XMIT_OK, NULL, 0, &len), 0);
	ck_assert_uint_eq(len, 4);
	ck_assert_uint_eq(query(dev, OID_GEN_RCV_OK, cp, 8, &len), 0);
	ck_assert_uint_eq(len, 8);
	ck_assert_uint_eq(query(dev, OID_GEN_VENDOR_DESCRIPTION, NULL, 0, &len), 0);
	ck_assert_uint_eq(reply[24 + len - 1], 0);
	ck_assert_uint_eq(query(dev, OID_802_3_MAXIMUM_LIST_SIZE, NULL, 0, &len), 0);
	ck_assert_uint_eq(rd32(reply + 24), RNDIS_DEV_MCAST_MAX);
	ck_assert_uint_eq(query(dev, OID_OFFLOAD_ENCAPSULATION, NULL, 0, &len), 0);
	ck_assert_uint_eq(len, NDIS_OFFLOAD_ENCAPSULATION_SIZE_REV1);
	/* RSS parameters are set-only here. */
	ck_assert_uint_eq(query(dev, OID_GEN_RECEIVE_SCALE_PARAMETERS, NULL, 0, &len),
			  RNDIS_STATUS_NOT_SUPPORTED);
	ck_assert_uint_eq(query(dev, 0x12345678, NULL, 0, &len), RNDIS_STATUS_NOT_SUPPORTED);
	ck_assert_uint_eq(set(dev, 0x12345678, NULL, 0), RNDIS_STATUS_NOT_SUPPORTED);

	/* rndis_filter_set_device_mac: "NetworkAddress" = 12 hex UTF-16
	 * characters; refused unless the configuration allows it. */
	memset(cp, 0, sizeof(cp));
	wr32(cp, 20);
	wr32(cp + 4, 28);
	wr32(cp + 8, RNDIS_CONFIG_PARAM_TYPE_STRING);
	wr32(cp + 12, 48);
	wr32(cp + 16, 24);
	for (i = 0; i < 14; i++)
		cp[20 + 2 * i] = (uint8_t)name[i];
	for (i = 0; i < 12; i++)
		cp[48 + 2 * i] = (uint8_t)mac[i];
	ck_assert_uint_eq(set(dev, OID_GEN_RNDIS_CONFIG_PARAMETER, cp, 72),
			  RNDIS_STATUS_NOT_SUPPORTED);
	rndis_dev_get_mac(dev, now);
	ck_assert_mem_eq(now, test_mac, 6);
	rndis_dev_destroy(dev);

	cfg.allow_mac_change = true;
	dev = new_dev_cfg(&cfg);
	init_dev(dev);
	ck_assert_uint_eq(set(dev, OID_GEN_RNDIS_CONFIG_PARAMETER, cp, 72),
			  RNDIS_STATUS_SUCCESS);
	rndis_dev_get_mac(dev, now);
	ck_assert_uint_eq(now[0], 0x02);
	ck_assert_uint_eq(now[5], 0xee);
	ck_assert_uint_eq(query(dev, OID_802_3_CURRENT_ADDRESS, NULL, 0, &len), 0);
	ck_assert_mem_eq(reply + 24, now, 6);
	ck_assert_uint_eq(query(dev, OID_802_3_PERMANENT_ADDRESS, NULL, 0, &len), 0);
	ck_assert_mem_eq(reply + 24, test_mac, 6);
	/* Hostile: a value offset past the buffer, a bad digit. */
	wr32(cp + 12, 60);
	ck_assert_uint_eq(set(dev, OID_GEN_RNDIS_CONFIG_PARAMETER, cp, 72),
			  RNDIS_STATUS_INVALID_DATA);
	wr32(cp + 12, 0xfffffff0u);
	ck_assert_uint_eq(set(dev, OID_GEN_RNDIS_CONFIG_PARAMETER, cp, 72),
			  RNDIS_STATUS_INVALID_DATA);
	wr32(cp + 12, 48);
	cp[48] = 'g';
	ck_assert_uint_eq(set(dev, OID_GEN_RNDIS_CONFIG_PARAMETER, cp, 72),
			  RNDIS_STATUS_INVALID_DATA);
	ck_assert_uint_eq(set(dev, OID_GEN_RNDIS_CONFIG_PARAMETER, cp, 19),
			  RNDIS_STATUS_INVALID_LENGTH);
	/* Other keywords are accepted and ignored. */
	cp[20] = 'X';
	ck_assert_uint_eq(set(dev, OID_GEN_RNDIS_CONFIG_PARAMETER, cp, 72),
			  RNDIS_STATUS_SUCCESS);

	val = 1000;
	ck_assert_uint_eq(set(dev, OID_GEN_CURRENT_LOOKAHEAD, &val, 4), RNDIS_STATUS_SUCCESS);
	val = 100000;
	ck_assert_uint_eq(set(dev, OID_GEN_CURRENT_LOOKAHEAD, &val, 4),
			  RNDIS_STATUS_INVALID_DATA);
	rndis_dev_destroy(dev);
}
END_TEST

START_TEST(test_multicast_and_filter)
{
	struct rndis_dev *dev = new_dev();
	uint8_t list[7 * 6], frame[64];
	uint32_t len, f;

	/* Nothing is accepted before INITIALIZE or with filter 0. */
	memset(frame, 0, sizeof(frame));
	memcpy(frame, test_mac, 6);
	ck_assert(!rndis_dev_rx_accept(dev, frame, 60));
	init_dev(dev);
	ck_assert(!rndis_dev_rx_accept(dev, frame, 60));

	memset(list, 0, sizeof(list));
	list[0] = 0x01; list[5] = 0x01;
	list[6] = 0x33; list[7] = 0x33; list[11] = 0x02;
	ck_assert_uint_eq(set(dev, OID_802_3_MULTICAST_LIST, list, 12), RNDIS_STATUS_SUCCESS);
	ck_assert_uint_eq(query(dev, OID_802_3_MULTICAST_LIST, NULL, 0, &len), 0);
	ck_assert_uint_eq(len, 12);
	ck_assert_mem_eq(reply + 24, list, 12);

	f = NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_MULTICAST;
	ck_assert_uint_eq(set(dev, OID_GEN_CURRENT_PACKET_FILTER, &f, 4), RNDIS_STATUS_SUCCESS);
	ck_assert(rndis_dev_rx_accept(dev, frame, 60));
	frame[5] ^= 1;
	ck_assert(!rndis_dev_rx_accept(dev, frame, 60));
	memcpy(frame, list + 6, 6);
	ck_assert(rndis_dev_rx_accept(dev, frame, 60));
	frame[5] = 0x09;
	ck_assert(!rndis_dev_rx_accept(dev, frame, 60));
	memset(frame, 0xff, 6);
	ck_assert(!rndis_dev_rx_accept(dev, frame, 60));
	f |= NDIS_PACKET_TYPE_BROADCAST;
	ck_assert_uint_eq(set(dev, OID_GEN_CURRENT_PACKET_FILTER, &f, 4), RNDIS_STATUS_SUCCESS);
	ck_assert(rndis_dev_rx_accept(dev, frame, 60));
	ck_assert(!rndis_dev_rx_accept(dev, frame, 13));
	f = NDIS_PACKET_TYPE_PROMISCUOUS;
	ck_assert_uint_eq(set(dev, OID_GEN_CURRENT_PACKET_FILTER, &f, 4), RNDIS_STATUS_SUCCESS);
	frame[0] = 0x02;
	ck_assert(rndis_dev_rx_accept(dev, frame, 60));

	/* Hostile lists: not whole addresses, too many, a unicast entry. */
	ck_assert_uint_eq(set(dev, OID_802_3_MULTICAST_LIST, list, 7), RNDIS_STATUS_INVALID_LENGTH);
	{
		uint8_t big[33 * 6];

		memset(big, 0x01, sizeof(big));
		ck_assert_uint_eq(set(dev, OID_802_3_MULTICAST_LIST, big, sizeof(big)),
				  RNDIS_STATUS_INVALID_LENGTH);
	}
	list[6] = 0x02;
	ck_assert_uint_eq(set(dev, OID_802_3_MULTICAST_LIST, list, 12), RNDIS_STATUS_INVALID_DATA);
	/* The failed sets left the list alone. */
	ck_assert_uint_eq(query(dev, OID_802_3_MULTICAST_LIST, NULL, 0, &len), 0);
	ck_assert_uint_eq(len, 12);
	/* An empty list clears it. */
	ck_assert_uint_eq(set(dev, OID_802_3_MULTICAST_LIST, NULL, 0), RNDIS_STATUS_SUCCESS);
	ck_assert_uint_eq(query(dev, OID_802_3_MULTICAST_LIST, NULL, 0, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_uint_eq(stats(dev).oid_bad_length, 2);
	ck_assert_uint_eq(stats(dev).oid_bad_data, 1);
	rndis_dev_destroy(dev);
}
END_TEST

START_TEST(test_indicate_status)
{
	struct rndis_dev *dev = new_dev();
	uint32_t len, speed = 100000;
	uint8_t small[16];

	init_dev(dev);
	memset(reply, 0, sizeof(reply));
	{
		const uint32_t w[] = { RNDIS_MSG_INDICATE, 20, RNDIS_STATUS_MEDIA_DISCONNECT, 0, 0 };
		ssize_t r = rndis_dev_set_link(dev, false, reply, sizeof(reply));

		expect_words(r, w, 5);
	}
	ck_assert_uint_eq(query(dev, OID_GEN_MEDIA_CONNECT_STATUS, NULL, 0, &len), 0);
	ck_assert_uint_eq(rd32(reply + 24), NDIS_MEDIA_STATE_DISCONNECTED);
	{
		const uint32_t w[] = { RNDIS_MSG_INDICATE, 20, RNDIS_STATUS_MEDIA_CONNECT, 0, 0 };

		expect_words(rndis_dev_set_link(dev, true, reply, sizeof(reply)), w, 5);
	}
	/* Link speed change carries a u32 at status_buf_offset 12. */
	{
		const uint32_t w[] = { RNDIS_MSG_INDICATE, 24, RNDIS_STATUS_LINK_SPEED_CHANGE, 4,
				       12, 100000 };

		expect_words(rndis_dev_indicate_status(dev, RNDIS_STATUS_LINK_SPEED_CHANGE,
						       &speed, 4, reply, sizeof(reply)), w, 6);
	}
	ck_assert_int_eq(rndis_dev_set_link(dev, false, small, 19), -ENOBUFS);
	ck_assert_uint_eq(query(dev, OID_GEN_MEDIA_CONNECT_STATUS, NULL, 0, &len), 0);
	ck_assert_uint_eq(rd32(reply + 24), NDIS_MEDIA_STATE_CONNECTED);
	ck_assert_int_eq(rndis_dev_indicate_status(dev, 0, NULL, 4, reply, sizeof(reply)),
			 -EINVAL);
	rndis_dev_destroy(dev);
}
END_TEST

/* ---- Hostile control messages ------------------------------------------------------ */

START_TEST(test_hostile_control_framing)
{
	struct rndis_dev *dev = new_dev();
	uint8_t m[64];
	size_t n;

	/* Too short for a request id. */
	wr32(m, RNDIS_MSG_QUERY);
	wr32(m + 4, 28);
	ck_assert_int_eq(ctrl(dev, m, 8), -EBADMSG);
	ck_assert_int_eq(ctrl(dev, m, 11), -EBADMSG);
	/* msg_len under the header and an id. */
	n = mk_req(m, RNDIS_MSG_QUERY, 5, OID_GEN_LINK_SPEED, NULL, 0);
	wr32(m + 4, 11);
	ck_assert_int_eq(ctrl(dev, m, n), -EBADMSG);
	ck_assert_uint_eq(stats(dev).ctrl_bad_msg, 3);

	/* Types the device does not take. */
	wr32(m, RNDIS_MSG_PACKET);
	wr32(m + 4, 28);
	ck_assert_int_eq(ctrl(dev, m, n), -EPROTO);
	wr32(m, RNDIS_MSG_INDICATE);
	ck_assert_int_eq(ctrl(dev, m, n), -EPROTO);
	wr32(m, RNDIS_MSG_QUERY_C);
	ck_assert_int_eq(ctrl(dev, m, n), -EPROTO);
	wr32(m, 0x1234);
	ck_assert_int_eq(ctrl(dev, m, n), -EPROTO);
	ck_assert_uint_eq(stats(dev).ctrl_bad_type, 4);

	/* Before INITIALIZE: not ready. */
	n = mk_req(m, RNDIS_MSG_QUERY, 5, OID_GEN_LINK_SPEED, NULL, 0);
	{
		const uint32_t w[] = { RNDIS_MSG_QUERY_C, 24, 5, RNDIS_STATUS_ADAPTER_NOT_READY,
				       0, 0 };

		expect_words(ctrl(dev, m, n), w, 6);
	}
	ck_assert_uint_eq(stats(dev).ctrl_not_ready, 1);
	init_dev(dev);

	/* msg_len larger than the buffer: completion with INVALID_LENGTH. */
	wr32(m + 4, 1000);
	{
		const uint32_t w[] = { RNDIS_MSG_QUERY_C, 24, 5, RNDIS_STATUS_INVALID_LENGTH, 0, 0 };

		expect_words(ctrl(dev, m, n), w, 6);
	}
	/* msg_len too small for a QUERY. */
	wr32(m + 4, 16);
	ck_assert_int_eq(ctrl(dev, m, n), 24);
	ck_assert_uint_eq(rd32(reply + 12), RNDIS_STATUS_INVALID_LENGTH);
	/* Same for INITIALIZE and SET and KEEPALIVE. */
	mk_init(m, 8);
	wr32(m + 4, 20);
	ck_assert_int_eq(ctrl(dev, m, 24), 52);
	ck_assert_uint_eq(rd32(reply + 12), RNDIS_STATUS_INVALID_LENGTH);
	ck_assert_uint_eq(rd32(reply + 24), 0);
	n = mk_req(m, RNDIS_MSG_SET, 9, OID_GEN_CURRENT_PACKET_FILTER, "\x01\0\0\0", 4);
	ck_assert_int_eq(ctrl(dev, m, n - 1), 16);
	ck_assert_uint_eq(rd32(reply + 12), RNDIS_STATUS_INVALID_LENGTH);
	ck_assert_uint_eq(rndis_dev_packet_filter(dev), 0);
	ck_assert_uint_eq(stats(dev).ctrl_bad_msg, 7);

	/* A HALT with a lying length does not halt. */
	wr32(m, RNDIS_MSG_HALT);
	wr32(m + 4, 400);
	ck_assert_int_eq(ctrl(dev, m, 12), 0);
	ck_assert(rndis_dev_is_initialized(dev));

	/* Out buffer too small for the completion. */
	n = mk_req(m, RNDIS_MSG_QUERY, 5, OID_GEN_LINK_SPEED, NULL, 0);
	ck_assert_int_eq(rndis_dev_control(dev, m, n, reply, 27), -ENOBUFS);
	ck_assert_int_eq(rndis_dev_control(dev, m, n, reply, 28), 28);
	rndis_dev_destroy(dev);
}
END_TEST

START_TEST(test_hostile_info_buffer)
{
	struct rndis_dev *dev = new_dev();
	uint8_t m[128];
	size_t n;
	uint32_t f = NDIS_PACKET_TYPE_DIRECTED;

	init_dev(dev);
	/* Length past the message. */
	n = mk_req(m, RNDIS_MSG_SET, 3, OID_GEN_CURRENT_PACKET_FILTER, &f, 4);
	wr32(m + 16, 100);
	ck_assert_int_eq(ctrl(dev, m, n), 16);
	ck_assert_uint_eq(rd32(reply + 12), RNDIS_STATUS_INVALID_DATA);
	/* Offset + length wrapping 32 bits. */
	wr32(m + 16, 0x20);
	wr32(m + 20, 0xfffffff0u);
	ck_assert_int_eq(ctrl(dev, m, n), 16);
	ck_assert_uint_eq(rd32(reply + 12), RNDIS_STATUS_INVALID_DATA);
	/* Offset inside the request fields. */
	wr32(m + 16, 4);
	wr32(m + 20, 4);
	ck_assert_int_eq(ctrl(dev, m, n), 16);
	ck_assert_uint_eq(rd32(reply + 12), RNDIS_STATUS_INVALID_DATA);
	ck_assert_uint_eq(rndis_dev_packet_filter(dev), 0);
	/* The same for a query. */
	n = mk_req(m, RNDIS_MSG_QUERY, 4, OID_GEN_LINK_SPEED, NULL, 0);
	wr32(m + 16, 8);
	ck_assert_int_eq(ctrl(dev, m, n), 24);
	ck_assert_uint_eq(rd32(reply + 12), RNDIS_STATUS_INVALID_DATA);
	ck_assert_uint_eq(stats(dev).oid_bad_buffer, 4);

	/* Filter buffers too short, too long; bits not supported. */
	ck_assert_uint_eq(set(dev, OID_GEN_CURRENT_PACKET_FILTER, &f, 2),
			  RNDIS_STATUS_INVALID_LENGTH);
	ck_assert_uint_eq(set(dev, OID_GEN_CURRENT_PACKET_FILTER, m, 8),
			  RNDIS_STATUS_INVALID_LENGTH);
	f = NDIS_PACKET_TYPE_MAC_FRAME;
	ck_assert_uint_eq(set(dev, OID_GEN_CURRENT_PACKET_FILTER, &f, 4),
			  RNDIS_STATUS_NOT_SUPPORTED);
	/* Any set above the size cap. */
	{
		static uint8_t big[RNDIS_DEV_SET_MAX + 4];

		ck_assert_uint_eq(set(dev, OID_GEN_NETWORK_LAYER_ADDRESSES, big, sizeof(big)),
				  RNDIS_STATUS_INVALID_LENGTH);
		ck_assert_uint_eq(set(dev, OID_GEN_NETWORK_LAYER_ADDRESSES, big, 16),
				  RNDIS_STATUS_SUCCESS);
	}
	ck_assert_uint_eq(stats(dev).oid_bad_length, 3);
	ck_assert_uint_eq(stats(dev).oid_unsupported, 1);
	rndis_dev_destroy(dev);
}
END_TEST

START_TEST(test_hostile_offload_objects)
{
	struct rndis_dev *dev = new_dev();
	struct ndis_offload_params op;
	struct ndis_offload_encapsulation e;

	init_dev(dev);
	memset(&op, 0, sizeof(op));
	op.header.type = NDIS_OBJECT_TYPE_DEFAULT;
	op.header.revision = 2;
	op.header.size = NDIS_OFFLOAD_PARAMETERS_SIZE_REV2;
	op.tcp_ip_v4_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED;
	/* Linux at NVSP 4 sends 22 bytes. */
	ck_assert_uint_eq(set(dev, OID_TCP_OFFLOAD_PARAMETERS, &op, 22), RNDIS_STATUS_SUCCESS);
	ck_assert_uint_eq(rndis_dev_offloads(dev) & RNDIS_OFFLOAD_TX_TCP4, 0);

	ck_assert_uint_eq(set(dev, OID_TCP_OFFLOAD_PARAMETERS, &op, 10),
			  RNDIS_STATUS_INVALID_LENGTH);
	op.header.size = 40;	/* more than was sent */
	ck_assert_uint_eq(set(dev, OID_TCP_OFFLOAD_PARAMETERS, &op, 22),
			  RNDIS_STATUS_INVALID_LENGTH);
	op.header.size = 12;	/* less than revision 1 */
	ck_assert_uint_eq(set(dev, OID_TCP_OFFLOAD_PARAMETERS, &op, 22), RNDIS_STATUS_INVALID_DATA);
	op.header.size = 22;
	op.header.type = NDIS_OBJECT_TYPE_OFFLOAD;
	ck_assert_uint_eq(set(dev, OID_TCP_OFFLOAD_PARAMETERS, &op, 22), RNDIS_STATUS_INVALID_DATA);
	op.header.type = NDIS_OBJECT_TYPE_DEFAULT;
	op.header.revision = 0;
	ck_assert_uint_eq(set(dev, OID_TCP_OFFLOAD_PARAMETERS, &op, 22), RNDIS_STATUS_INVALID_DATA);
	op.header.revision = 2;
	op.tcp_ip_v4_csum = 9;
	ck_assert_uint_eq(set(dev, OID_TCP_OFFLOAD_PARAMETERS, &op, 22), RNDIS_STATUS_INVALID_DATA);
	op.tcp_ip_v4_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
	op.lso_v2_ipv6 = 3;
	ck_assert_uint_eq(set(dev, OID_TCP_OFFLOAD_PARAMETERS, &op, 22), RNDIS_STATUS_INVALID_DATA);
	op.lso_v2_ipv6 = 0;
	op.lso_v1 = NDIS_OFFLOAD_PARAMETERS_ENABLED;
	ck_assert_uint_eq(set(dev, OID_TCP_OFFLOAD_PARAMETERS, &op, 22),
			  RNDIS_STATUS_NOT_SUPPORTED);
	/* None of the failed sets touched the configuration. */
	ck_assert_uint_eq(rndis_dev_offloads(dev) & RNDIS_OFFLOAD_TX_TCP4, 0);

	memset(&e, 0, sizeof(e));
	e.header.type = NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION;
	e.header.revision = 1;
	e.header.size = sizeof(e);
	e.ipv4_enabled = NDIS_OFFLOAD_SET_ON;
	e.ipv4_encapsulation_type = NDIS_OFFLOAD_ENCAP_8023;
	e.ipv4_header_size = 14;
	ck_assert_uint_eq(set(dev, OID_OFFLOAD_ENCAPSULATION, &e, sizeof(e)),
			  RNDIS_STATUS_SUCCESS);
	e.ipv4_header_size = 18;
	ck_assert_uint_eq(set(dev, OID_OFFLOAD_ENCAPSULATION, &e, sizeof(e)),
			  RNDIS_STATUS_NOT_SUPPORTED);
	e.ipv4_header_size = 14;
	e.ipv6_enabled = 7;
	ck_assert_uint_eq(set(dev, OID_OFFLOAD_ENCAPSULATION, &e, sizeof(e)),
			  RNDIS_STATUS_INVALID_DATA);
	ck_assert_uint_eq(set(dev, OID_OFFLOAD_ENCAPSULATION, &e, 27),
			  RNDIS_STATUS_INVALID_LENGTH);
	ck_assert_uint_eq(stats(dev).oid_bad_data, 6);
	ck_assert_uint_eq(stats(dev).oid_bad_length, 3);
	ck_assert_uint_eq(stats(dev).oid_unsupported, 2);
	rndis_dev_destroy(dev);
}
END_TEST

START_TEST(test_hostile_rss)
{
	struct rndis_dev *dev = new_dev();
	uint8_t b[2048];
	uint32_t table[256], i, len;
	struct ndis_rss_params p;
	struct rndis_rx_info info;
	uint8_t frame[64];
	unsigned int q0;

	init_dev(dev);
	for (i = 0; i < 256; i++)
		table[i] = (i * 7 + 1) % 4;
	len = mk_rss(b, 0, 128, table);
	ck_assert_uint_eq(set(dev, OID_GEN_RECEIVE_SCALE_PARAMETERS, b, len),
			  RNDIS_STATUS_SUCCESS);

	/* A TCP/IPv4 frame to classify before and after each hostile set. */
	memset(frame, 0, sizeof(frame));
	frame[12] = 0x08;
	frame[14] = 0x45;
	frame[23] = 6;
	memset(&info, 0, sizeof(info));
	q0 = rndis_dev_rss_classify(dev, frame, 54, &info);

#define RSS_FAILS(status) do {							\
		ck_assert_uint_eq(set(dev, OID_GEN_RECEIVE_SCALE_PARAMETERS, b, len), \
				  status);					\
		ck_assert(rndis_dev_rss_enabled(dev));				\
		memset(&info, 0, sizeof(info));					\
		ck_assert_uint_eq(rndis_dev_rss_classify(dev, frame, 54, &info), q0); \
	} while (0)

	/* Key offset past the buffer, and wrapping. */
	len = mk_rss(b, 0, 128, table);
	memcpy(&p, b, sizeof(p));
	p.hashkey_offset = len - 39;
	memcpy(b, &p, sizeof(p));
	RSS_FAILS(RNDIS_STATUS_INVALID_DATA);
	p.hashkey_offset = 0xffffffe0u;
	memcpy(b, &p, sizeof(p));
	RSS_FAILS(RNDIS_STATUS_INVALID_DATA);
	/* Key inside the fixed header. */
	p.hashkey_offset = 8;
	memcpy(b, &p, sizeof(p));
	RSS_FAILS(RNDIS_STATUS_INVALID_DATA);
	/* Key size other than 40. */
	len = mk_rss(b, 0, 128, table);
	memcpy(&p, b, sizeof(p));
	p.hashkey_size = 16;
	memcpy(b, &p, sizeof(p));
	RSS_FAILS(RNDIS_STATUS_INVALID_DATA);
	/* Table offset outside, wrapping. */
	len = mk_rss(b, 0, 128, table);
	memcpy(&p, b, sizeof(p));
	p.indirect_taboffset = 0xffffffffu;
	memcpy(b, &p, sizeof(p));
	RSS_FAILS(RNDIS_STATUS_INVALID_DATA);
	p.indirect_taboffset = len - 100;
	memcpy(b, &p, sizeof(p));
	RSS_FAILS(RNDIS_STATUS_INVALID_DATA);
	/* Table sizes: not a power of two, too large, not whole entries. */
	len = mk_rss(b, 0, 3, table);
	RSS_FAILS(RNDIS_STATUS_INVALID_DATA);
	len = mk_rss(b, 0, 256, table);
	RSS_FAILS(RNDIS_STATUS_INVALID_DATA);
	len = mk_rss(b, 0, 128, table);
	memcpy(&p, b, sizeof(p));
	p.indirect_tabsize = 510;
	memcpy(b, &p, sizeof(p));
	RSS_FAILS(RNDIS_STATUS_INVALID_DATA);
	/* A queue the device did not offer. */
	table[5] = 4;
	len = mk_rss(b, 0, 128, table);
	RSS_FAILS(RNDIS_STATUS_INVALID_DATA);
	table[5] = (5 * 7 + 1) % 4;
	/* Hash function other than Toeplitz; unknown bits. */
	len = mk_rss(b, 0, 128, table);
	memcpy(&p, b, sizeof(p));
	p.hash_info = 2 | NDIS_HASH_IPV4;
	memcpy(b, &p, sizeof(p));
	RSS_FAILS(RNDIS_STATUS_NOT_SUPPORTED);
	p.hash_info = NDIS_HASH_FUNCTION_TOEPLITZ | 0x80000000u;
	memcpy(b, &p, sizeof(p));
	RSS_FAILS(RNDIS_STATUS_INVALID_DATA);
	/* Object header: too short a buffer, a size under revision 1, wrong
	 * type. */
	len = 20;
	RSS_FAILS(RNDIS_STATUS_INVALID_LENGTH);
	len = mk_rss(b, 0, 128, table);
	memcpy(&p, b, sizeof(p));
	p.header.size = 20;
	memcpy(b, &p, sizeof(p));
	RSS_FAILS(RNDIS_STATUS_INVALID_DATA);
	p.header.size = sizeof(p);
	p.header.type = NDIS_OBJECT_TYPE_RSS_CAPABILITIES;
	memcpy(b, &p, sizeof(p));
	RSS_FAILS(RNDIS_STATUS_INVALID_DATA);
#undef RSS_FAILS

	/* Table-unchanged sets with garbage table fields are fine. */
	len = mk_rss(b, NDIS_RSS_PARAM_FLAG_ITABLE_UNCHANGED, 128, table);
	memcpy(&p, b, sizeof(p));
	p.indirect_taboffset = 0xffffffffu;
	p.indirect_tabsize = 3;
	memcpy(b, &p, sizeof(p));
	ck_assert_uint_eq(set(dev, OID_GEN_RECEIVE_SCALE_PARAMETERS, b, len),
			  RNDIS_STATUS_SUCCESS);
	memset(&info, 0, sizeof(info));
	ck_assert_uint_eq(rndis_dev_rss_classify(dev, frame, 54, &info), q0);
	ck_assert_uint_eq(stats(dev).oid_bad_data, 13);
	ck_assert_uint_eq(stats(dev).oid_bad_length, 1);
	ck_assert_uint_eq(stats(dev).oid_unsupported, 1);

	/* A device with one queue and no table yet cannot enable RSS with
	 * an unchanged table. */
	rndis_dev_destroy(dev);
	dev = new_dev();
	init_dev(dev);
	len = mk_rss(b, NDIS_RSS_PARAM_FLAG_ITABLE_UNCHANGED, 128, table);
	ck_assert_uint_eq(set(dev, OID_GEN_RECEIVE_SCALE_PARAMETERS, b, len),
			  RNDIS_STATUS_INVALID_DATA);
	ck_assert(!rndis_dev_rss_enabled(dev));
	rndis_dev_destroy(dev);
}
END_TEST

/* ---- Packets, guest to host ------------------------------------------------------------ */

struct ppi_spec {
	uint32_t type;
	uint32_t value;
};

/*
 * A PACKET as Linux's netvsc_xmit builds it: header, PACKET body, PPIs of
 * 16 bytes right after the body, then the frame. Returns msg_len.
 */
static uint32_t mk_packet(uint8_t *b, const struct ppi_spec *ppis, unsigned int n,
			  uint32_t frame_len)
{
	uint32_t ppi_len = 16 * n, hdr = 8 + 36 + ppi_len, i;

	memset(b, 0, hdr);
	wr32(b, RNDIS_MSG_PACKET);
	wr32(b + 4, hdr + frame_len);
	wr32(b + 8, 36 + ppi_len);		/* data_offset */
	wr32(b + 12, frame_len);
	wr32(b + 8 + 20, n ? 36 : 0);		/* per_pkt_info_offset */
	wr32(b + 8 + 24, ppi_len);
	for (i = 0; i < n; i++) {
		uint8_t *e = b + 44 + 16 * i;

		wr32(e, 16);
		wr32(e + 4, ppis[i].type);
		wr32(e + 8, 12);
		wr32(e + 12, ppis[i].value);
	}
	for (i = 0; i < frame_len; i++)
		b[hdr + i] = (uint8_t)i;
	return hdr + frame_len;
}

static uint8_t pkt_buf[80000];

START_TEST(test_packet_plain)
{
	struct rndis_dev *dev = new_dev();
	struct rndis_tx_packet t;
	uint32_t n = mk_packet(pkt_buf, NULL, 0, 60);

	ck_assert_int_eq(rndis_dev_parse_packet(dev, pkt_buf, n, n, &t), 0);
	ck_assert_uint_eq(t.msg_len, 104);
	ck_assert_uint_eq(t.frame_offset, 44);
	ck_assert_uint_eq(t.frame_len, 60);
	ck_assert_uint_eq(t.flags, 0);
	ck_assert_uint_eq(pkt_buf[t.frame_offset + 59], 59);
	ck_assert_uint_eq(stats(dev).tx_packets, 1);
	ck_assert_uint_eq(stats(dev).tx_bytes, 60);
	rndis_dev_destroy(dev);
}
END_TEST

START_TEST(test_packet_every_ppi)
{
	struct rndis_dev *dev = new_dev();
	struct rndis_tx_packet t;
	uint32_t n;

	/* TCP/IPv4 checksum with transport offset 34. */
	{
		struct ppi_spec p[] = { { TCPIP_CHKSUM_PKTINFO, NDIS_TXCSUM_INFO_IPV4 |
					  NDIS_TXCSUM_INFO_TCPCS | NDIS_TXCSUM_INFO_IPCS |
					  (34u << 16) } };

		n = mk_packet(pkt_buf, p, 1, 80);
		ck_assert_int_eq(rndis_dev_parse_packet(dev, pkt_buf, n, n, &t), 0);
		ck_assert_uint_eq(t.flags, RNDIS_TX_IPV4 | RNDIS_TX_CSUM_TCP | RNDIS_TX_CSUM_IP);
		ck_assert_uint_eq(t.l4_offset, 34);
		ck_assert_uint_eq(t.frame_offset, 60);
	}
	/* UDP/IPv6 checksum. */
	{
		struct ppi_spec p[] = { { TCPIP_CHKSUM_PKTINFO, NDIS_TXCSUM_INFO_IPV6 |
					  NDIS_TXCSUM_INFO_UDPCS | (54u << 16) } };

		n = mk_packet(pkt_buf, p, 1, 80);
		ck_assert_int_eq(rndis_dev_parse_packet(dev, pkt_buf, n, n, &t), 0);
		ck_assert_uint_eq(t.flags, RNDIS_TX_IPV6 | RNDIS_TX_CSUM_UDP);
		ck_assert_uint_eq(t.l4_offset, 54);
	}
	/* LSO v2 over IPv6, 9000-byte frame, MSS 1440. */
	{
		struct ppi_spec p[] = { { TCP_LARGESEND_PKTINFO, 1440 | (54u << 20) |
					  NDIS_LSO2_INFO_ISLSO2 | NDIS_LSO2_INFO_ISIPV6 } };

		n = mk_packet(pkt_buf, p, 1, 9000);
		ck_assert_int_eq(rndis_dev_parse_packet(dev, pkt_buf, n, n, &t), 0);
		ck_assert_uint_eq(t.flags, RNDIS_TX_LSO | RNDIS_TX_CSUM_TCP | RNDIS_TX_IPV6);
		ck_assert_uint_eq(t.mss, 1440);
		ck_assert_uint_eq(t.l4_offset, 54);
		ck_assert_uint_eq(t.frame_len, 9000);
	}
	/* LSO over IPv4 at the 64 KiB limit. */
	{
		struct ppi_spec p[] = { { TCP_LARGESEND_PKTINFO, 1460 | (34u << 20) |
					  NDIS_LSO2_INFO_ISLSO2 } };

		n = mk_packet(pkt_buf, p, 1, RNDIS_DEV_MAX_LSO_FRAME);
		ck_assert_int_eq(rndis_dev_parse_packet(dev, pkt_buf, n, n, &t), 0);
		ck_assert_uint_eq(t.flags, RNDIS_TX_LSO | RNDIS_TX_CSUM_TCP | RNDIS_TX_IPV4 |
					   RNDIS_TX_CSUM_IP);
	}
	/* VLAN 100, priority 5, and the hash Linux adds with several queues,
	 * plus an unknown PPI and an internal one that are skipped. */
	{
		struct ppi_spec p[] = {
			{ 11, 0xdeadbeef },
			{ IEEE_8021Q_INFO, 5 | (100u << 4) },
			{ RNDIS_PKTINFO_ID, 0x01020304 },
			{ NBL_HASH_VALUE, 0x51ccc178 },
		};

		n = mk_packet(pkt_buf, p, 4, 60);
		ck_assert_int_eq(rndis_dev_parse_packet(dev, pkt_buf, n, n, &t), 0);
		ck_assert_uint_eq(t.flags, RNDIS_TX_VLAN | RNDIS_TX_HASH);
		ck_assert_uint_eq(t.vlan_id, 100);
		ck_assert_uint_eq(t.vlan_pri, 5);
		ck_assert_uint_eq(t.vlan_cfi, 0);
		ck_assert_uint_eq(t.hash, 0x51ccc178);
		ck_assert_uint_eq(t.frame_offset, 44 + 64);
	}
	ck_assert_uint_eq(stats(dev).tx_packets, 5);
	rndis_dev_destroy(dev);
}
END_TEST

START_TEST(test_packet_multi_and_gpa_direct)
{
	struct rndis_dev *dev = new_dev();
	struct rndis_tx_packet t;
	struct ppi_spec p[] = { { NBL_HASH_VALUE, 7 } };
	uint32_t a, b, off = 0, count = 0, total;

	/* Two messages in one send-buffer section; the first padded to 8
	 * bytes the way netvsc_copy_to_send_buf does (msg_len grows). */
	a = mk_packet(pkt_buf, NULL, 0, 61);	/* 105 bytes */
	wr32(pkt_buf + 4, 112);
	b = mk_packet(pkt_buf + 112, p, 1, 70);
	total = 112 + b;
	while (off < total) {
		ck_assert_int_eq(rndis_dev_parse_packet(dev, pkt_buf + off, total - off,
							total - off, &t), 0);
		ck_assert_uint_eq(t.frame_len, count ? 70 : 61);
		off += t.msg_len;
		count++;
	}
	ck_assert_uint_eq(count, 2);
	ck_assert_uint_eq(off, total);
	ck_assert_uint_eq(a, 105);

	/* GPA direct: only the header range is readable; the frame lies in
	 * later ranges of the same transfer. */
	a = mk_packet(pkt_buf, p, 1, 1400);
	ck_assert_int_eq(rndis_dev_parse_packet(dev, pkt_buf, 60, a, &t), 0);
	ck_assert_uint_eq(t.frame_offset, 60);
	ck_assert_uint_eq(t.flags, RNDIS_TX_HASH);
	/* ...but the PPIs must lie in the readable part. */
	ck_assert_int_eq(rndis_dev_parse_packet(dev, pkt_buf, 59, a, &t), -EBADMSG);
	ck_assert_uint_eq(stats(dev).tx_bad_ppi, 1);
	rndis_dev_destroy(dev);
}
END_TEST

START_TEST(test_packet_hostile)
{
	struct rndis_dev *dev = new_dev();
	struct rndis_tx_packet t;
	uint32_t n;
	struct rndis_dev_stats s;

#define PARSE(len) rndis_dev_parse_packet(dev, pkt_buf, (len), (len), &t)

	/* Header: short, wrong type, msg_len outside or too small. */
	n = mk_packet(pkt_buf, NULL, 0, 60);
	ck_assert_int_eq(PARSE(43), -EBADMSG);
	wr32(pkt_buf, RNDIS_MSG_QUERY);
	ck_assert_int_eq(PARSE(n), -EBADMSG);
	wr32(pkt_buf, RNDIS_MSG_PACKET);
	wr32(pkt_buf + 4, n + 1);
	ck_assert_int_eq(PARSE(n), -EBADMSG);
	wr32(pkt_buf + 4, 40);
	ck_assert_int_eq(PARSE(n), -EBADMSG);
	ck_assert_int_eq(rndis_dev_parse_packet(dev, NULL, 0, 0, &t), -EBADMSG);
	ck_assert_uint_eq(stats(dev).tx_bad_header, 5);

	/* Data: offset + length overflowing, past msg_len, into the body,
	 * empty. */
	n = mk_packet(pkt_buf, NULL, 0, 60);
	wr32(pkt_buf + 8, 0xfffffff0u);
	wr32(pkt_buf + 12, 0x20);
	ck_assert_int_eq(PARSE(n), -EBADMSG);
	wr32(pkt_buf + 8, 36);
	wr32(pkt_buf + 12, 61);
	ck_assert_int_eq(PARSE(n), -EBADMSG);
	wr32(pkt_buf + 8, 20);
	wr32(pkt_buf + 12, 60);
	ck_assert_int_eq(PARSE(n), -EBADMSG);
	wr32(pkt_buf + 8, 36);
	wr32(pkt_buf + 12, 0);
	ck_assert_int_eq(PARSE(n), -EBADMSG);
	ck_assert_uint_eq(stats(dev).tx_bad_data, 4);

	/* OOB: elements without an area, an area outside; VC handle. */
	n = mk_packet(pkt_buf, NULL, 0, 60);
	wr32(pkt_buf + 8 + 16, 1);
	ck_assert_int_eq(PARSE(n), -EBADMSG);
	wr32(pkt_buf + 8 + 16, 0);
	wr32(pkt_buf + 8 + 8, 36);
	wr32(pkt_buf + 8 + 12, 0xfffffff0u);
	ck_assert_int_eq(PARSE(n), -EBADMSG);
	wr32(pkt_buf + 8 + 12, 0);
	wr32(pkt_buf + 8 + 28, 1);
	ck_assert_int_eq(PARSE(n), -EOPNOTSUPP);
	ck_assert_uint_eq(stats(dev).tx_bad_oob, 3);

	/* PPIs: size 0, size under the header, past the end of the area,
	 * data offset past the element, too little data, area outside. */
	{
		struct ppi_spec p[] = { { IEEE_8021Q_INFO, 1 << 4 } };
		uint8_t *e = pkt_buf + 44;

		n = mk_packet(pkt_buf, p, 1, 60);
		wr32(e, 0);
		ck_assert_int_eq(PARSE(n), -EBADMSG);
		wr32(e, 8);
		ck_assert_int_eq(PARSE(n), -EBADMSG);
		wr32(e, 20);
		ck_assert_int_eq(PARSE(n), -EBADMSG);
		wr32(e, 16);
		wr32(e + 8, 17);
		ck_assert_int_eq(PARSE(n), -EBADMSG);
		wr32(e + 8, 4);
		ck_assert_int_eq(PARSE(n), -EBADMSG);
		wr32(e + 8, 14);
		ck_assert_int_eq(PARSE(n), -EBADMSG);
		wr32(e + 8, 12);
		wr32(pkt_buf + 8 + 24, 12);	/* area too short for the element */
		ck_assert_int_eq(PARSE(n), -EBADMSG);
		wr32(pkt_buf + 8 + 24, 16);
		wr32(pkt_buf + 8 + 20, 0xfffffff8u);
		ck_assert_int_eq(PARSE(n), -EBADMSG);
		wr32(pkt_buf + 8 + 20, 8);	/* area over the PACKET body */
		ck_assert_int_eq(PARSE(n), -EBADMSG);
		wr32(pkt_buf + 8 + 20, 36);
		ck_assert_int_eq(PARSE(n), 0);
	}
	ck_assert_uint_eq(stats(dev).tx_bad_ppi, 9);

	/* Sizes: runt; one byte over MTU + 14 without LSO; exactly fits. */
	n = mk_packet(pkt_buf, NULL, 0, 13);
	ck_assert_int_eq(PARSE(n), -EMSGSIZE);
	n = mk_packet(pkt_buf, NULL, 0, 1515);
	ck_assert_int_eq(PARSE(n), -EMSGSIZE);
	n = mk_packet(pkt_buf, NULL, 0, 1514);
	ck_assert_int_eq(PARSE(n), 0);
	{
		struct ppi_spec p[] = { { TCP_LARGESEND_PKTINFO, 1460 | (34u << 20) |
					  NDIS_LSO2_INFO_ISLSO2 } };

		n = mk_packet(pkt_buf, p, 1, RNDIS_DEV_MAX_LSO_FRAME + 1);
		ck_assert_int_eq(PARSE(n), -EMSGSIZE);
	}
	ck_assert_uint_eq(stats(dev).tx_runt, 1);
	ck_assert_uint_eq(stats(dev).tx_oversize, 2);

	/* Offload requests: MSS 0, transport offset past the frame, both IP
	 * versions, TCP and UDP at once, checksum without an IP version. */
	{
		struct ppi_spec p[1];

		p[0].type = TCP_LARGESEND_PKTINFO;
		p[0].value = 0 | (34u << 20) | NDIS_LSO2_INFO_ISLSO2;
		n = mk_packet(pkt_buf, p, 1, 4000);
		ck_assert_int_eq(PARSE(n), -EBADMSG);
		p[0].value = 1460 | (1000u << 20) | NDIS_LSO2_INFO_ISLSO2;
		n = mk_packet(pkt_buf, p, 1, 900);
		ck_assert_int_eq(PARSE(n), -EBADMSG);
		p[0].type = TCPIP_CHKSUM_PKTINFO;
		p[0].value = NDIS_TXCSUM_INFO_IPV4 | NDIS_TXCSUM_INFO_TCPCS | (50u << 16);
		n = mk_packet(pkt_buf, p, 1, 60);
		ck_assert_int_eq(PARSE(n), -EBADMSG);
		p[0].value = NDIS_TXCSUM_INFO_IPV4 | NDIS_TXCSUM_INFO_IPV6;
		n = mk_packet(pkt_buf, p, 1, 60);
		ck_assert_int_eq(PARSE(n), -EBADMSG);
		p[0].value = NDIS_TXCSUM_INFO_IPV4 | NDIS_TXCSUM_INFO_TCPCS |
			     NDIS_TXCSUM_INFO_UDPCS | (34u << 16);
		n = mk_packet(pkt_buf, p, 1, 60);
		ck_assert_int_eq(PARSE(n), -EBADMSG);
		p[0].value = NDIS_TXCSUM_INFO_TCPCS | (34u << 16);
		n = mk_packet(pkt_buf, p, 1, 60);
		ck_assert_int_eq(PARSE(n), -EBADMSG);
		p[0].value = NDIS_TXCSUM_INFO_IPV4 | NDIS_TXCSUM_INFO_TCPCS | (4u << 16);
		n = mk_packet(pkt_buf, p, 1, 60);
		ck_assert_int_eq(PARSE(n), -EBADMSG);
	}
	ck_assert_uint_eq(stats(dev).tx_bad_offload, 7);
	rndis_dev_destroy(dev);

	/* Offloads the device does not offer. */
	{
		struct rndis_dev_config cfg;
		struct ppi_spec p[] = { { TCP_LARGESEND_PKTINFO, 1460 | (34u << 20) |
					  NDIS_LSO2_INFO_ISLSO2 } };

		memset(&cfg, 0, sizeof(cfg));
		memcpy(cfg.mac, test_mac, 6);
		cfg.offloads = RNDIS_OFFLOAD_TX_TCP6;
		dev = new_dev_cfg(&cfg);
		n = mk_packet(pkt_buf, p, 1, 3000);
		ck_assert_int_eq(PARSE(n), -EOPNOTSUPP);
		p[0].type = TCPIP_CHKSUM_PKTINFO;
		p[0].value = NDIS_TXCSUM_INFO_IPV4 | NDIS_TXCSUM_INFO_TCPCS | (34u << 16);
		n = mk_packet(pkt_buf, p, 1, 60);
		ck_assert_int_eq(PARSE(n), -EOPNOTSUPP);
		p[0].value = NDIS_TXCSUM_INFO_IPV6 | NDIS_TXCSUM_INFO_TCPCS | (54u << 16);
		n = mk_packet(pkt_buf, p, 1, 80);
		ck_assert_int_eq(PARSE(n), 0);
		rndis_dev_get_stats(dev, &s);
		ck_assert_uint_eq(s.tx_bad_offload, 2);
		ck_assert_uint_eq(s.tx_packets, 1);
		rndis_dev_destroy(dev);
	}
#undef PARSE
}
END_TEST

/* ---- Packets, host to guest --------------------------------------------------------- */

/*
 * Read a PACKET back the way Linux's rndis_filter_receive_data and
 * rndis_get_ppi do: check the data range, then find a PPI by type.
 */
static const uint8_t *linux_get_ppi(const uint8_t *msg, uint32_t buflen, uint32_t type)
{
	uint32_t off = rd32(msg + 8 + 20), len = rd32(msg + 8 + 24);
	uint32_t rpkt_len = buflen - 8;
	const uint8_t *ppi;

	if (off == 0)
		return NULL;
	ck_assert_uint_ge(off, 36);
	ck_assert_uint_le(off, rpkt_len);
	ck_assert_uint_ge(len, 12);
	ck_assert_uint_le(len, rpkt_len - off);
	ppi = msg + 8 + off;
	while (len > 0) {
		uint32_t size = rd32(ppi), t = rd32(ppi + 4), po = rd32(ppi + 8);

		ck_assert_uint_le(size, len);
		ck_assert_uint_lt(po, size);
		if (t == type) {
			ck_assert_uint_ge(size - po, 4);
			return ppi + po;
		}
		len -= size;
		ppi += size;
	}
	return NULL;
}

START_TEST(test_build_receive)
{
	struct rndis_dev *dev = new_dev();
	struct rndis_rx_info info;
	uint8_t out[256];
	ssize_t h;
	uint32_t msg_len;
	const uint8_t *v;

	/* No PPIs. */
	h = rndis_dev_build_packet(dev, out, sizeof(out), 60, NULL);
	ck_assert_int_eq(h, 44);
	ck_assert_uint_eq(rd32(out), RNDIS_MSG_PACKET);
	ck_assert_uint_eq(rd32(out + 4), 104);
	ck_assert_uint_eq(rd32(out + 8), 36);
	ck_assert_uint_eq(rd32(out + 12), 60);
	ck_assert_ptr_null(linux_get_ppi(out, 104, TCPIP_CHKSUM_PKTINFO));

	/* Every PPI. */
	memset(&info, 0, sizeof(info));
	info.flags = RNDIS_RX_CSUM | RNDIS_RX_VLAN | RNDIS_RX_HASH;
	info.csum = NDIS_RXCSUM_INFO_TCPCS_OK | NDIS_RXCSUM_INFO_IPCS_OK;
	info.vlan_id = 0xabc;
	info.vlan_pri = 6;
	info.vlan_cfi = 1;
	info.hash = 0x51ccc178;
	info.hash_info = NDIS_HASH_FUNCTION_TOEPLITZ | NDIS_HASH_TCP_IPV4;
	h = rndis_dev_build_packet(dev, out, sizeof(out), 1514, &info);
	ck_assert_int_eq(h, RNDIS_DEV_RX_HDR_MAX);
	msg_len = rd32(out + 4);
	ck_assert_uint_eq(msg_len, (uint32_t)h + 1514);
	/* Linux's checks: data_offset inside, data_len fits after it. */
	ck_assert_uint_lt(rd32(out + 8), msg_len - 8);
	ck_assert_uint_ge(msg_len - 8 - rd32(out + 8), rd32(out + 12));
	ck_assert_uint_eq(8 + rd32(out + 8), (uint32_t)h);

	v = linux_get_ppi(out, msg_len, TCPIP_CHKSUM_PKTINFO);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(rd32(v), NDIS_RXCSUM_INFO_TCPCS_OK | NDIS_RXCSUM_INFO_IPCS_OK);
	v = linux_get_ppi(out, msg_len, IEEE_8021Q_INFO);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(rd32(v), 6 | 8 | (0xabcu << 4));
	v = linux_get_ppi(out, msg_len, NBL_HASH_VALUE);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(rd32(v), 0x51ccc178);
	v = linux_get_ppi(out, msg_len, NBL_HASH_INFO);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(rd32(v), 0x201);

	/* Refusals. */
	ck_assert_int_eq(rndis_dev_build_packet(dev, out, h - 1, 1514, &info), -ENOBUFS);
	ck_assert_int_eq(rndis_dev_build_packet(dev, out, sizeof(out), 0, &info), -EMSGSIZE);
	ck_assert_int_eq(rndis_dev_build_packet(dev, out, sizeof(out),
						RNDIS_DEV_MAX_LSO_FRAME + 1, NULL), -EMSGSIZE);
	ck_assert_uint_eq(stats(dev).rx_packets, 2);
	ck_assert_uint_eq(stats(dev).rx_bytes, 1574);
	ck_assert_uint_eq(stats(dev).rx_bad, 3);
	rndis_dev_destroy(dev);
}
END_TEST

/* ---- Toeplitz ---------------------------------------------------------------------- */

struct v4_vector {
	uint8_t src[4], dst[4];
	uint16_t sport, dport;
	uint32_t ip, tcp;
};

/* Microsoft RSS verification suite (also 82599 datasheet 7.1.2.8.3). */
static const struct v4_vector v4_vectors[] = {
	{ { 66, 9, 149, 187 }, { 161, 142, 100, 80 }, 2794, 1766, 0x323e8fc2, 0x51ccc178 },
	{ { 199, 92, 111, 2 }, { 65, 69, 140, 83 }, 14230, 4739, 0xd718262a, 0xc626b0ea },
	{ { 24, 19, 198, 95 }, { 12, 22, 207, 184 }, 12898, 38024, 0xd2d0a5de, 0x5c2b394a },
	{ { 38, 27, 205, 30 }, { 209, 142, 163, 6 }, 48228, 2217, 0x82989176, 0xafc7327f },
	{ { 153, 39, 163, 191 }, { 202, 188, 127, 2 }, 44251, 1303, 0x5d1809c5, 0x10e828a2 },
};

struct v6_vector {
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint32_t ip, tcp;
};

static const struct v6_vector v6_vectors[] = {
	{ /* 3ffe:2501:200:1fff::7 -> 3ffe:2501:200:3::1 */
	  { 0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x07 },
	  { 0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 0x01 },
	  2794, 1766, 0x2cc18cd5, 0x40207d3d },
	{ /* 3ffe:501:8::260:97ff:fe40:efab -> ff02::1 */
	  { 0x3f, 0xfe, 0x05, 0x01, 0x00, 0x08, 0, 0, 0x02, 0x60, 0x97, 0xff, 0xfe, 0x40,
	    0xef, 0xab },
	  { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01 },
	  14230, 4739, 0x0f0c461c, 0xdde51bbf },
	{ /* 3ffe:1900:4545:3:200:f8ff:fe21:67cf -> fe80::200:f8ff:fe21:67cf */
	  { 0x3f, 0xfe, 0x19, 0x00, 0x45, 0x45, 0x00, 0x03, 0x02, 0x00, 0xf8, 0xff, 0xfe,
	    0x21, 0x67, 0xcf },
	  { 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x00, 0xf8, 0xff, 0xfe, 0x21, 0x67, 0xcf },
	  44251, 38024, 0x4b61e985, 0x02d1feef },
};

START_TEST(test_toeplitz_vectors)
{
	uint8_t in[36];
	size_t i;

	for (i = 0; i < sizeof(v4_vectors) / sizeof(v4_vectors[0]); i++) {
		const struct v4_vector *v = &v4_vectors[i];

		memcpy(in, v->src, 4);
		memcpy(in + 4, v->dst, 4);
		in[8] = v->sport >> 8;
		in[9] = v->sport & 0xff;
		in[10] = v->dport >> 8;
		in[11] = v->dport & 0xff;
		ck_assert_uint_eq(rndis_toeplitz_hash(ms_key, 40, in, 8), v->ip);
		ck_assert_uint_eq(rndis_toeplitz_hash(ms_key, 40, in, 12), v->tcp);
	}
	for (i = 0; i < sizeof(v6_vectors) / sizeof(v6_vectors[0]); i++) {
		const struct v6_vector *v = &v6_vectors[i];

		memcpy(in, v->src, 16);
		memcpy(in + 16, v->dst, 16);
		in[32] = v->sport >> 8;
		in[33] = v->sport & 0xff;
		in[34] = v->dport >> 8;
		in[35] = v->dport & 0xff;
		ck_assert_uint_eq(rndis_toeplitz_hash(ms_key, 40, in, 32), v->ip);
		ck_assert_uint_eq(rndis_toeplitz_hash(ms_key, 40, in, 36), v->tcp);
	}
	/* A short key reads as zero-extended, never past its end. */
	ck_assert_uint_eq(rndis_toeplitz_hash(ms_key, 4, in, 36),
			  rndis_toeplitz_hash((const uint8_t[40]){ 0x6d, 0x5a, 0x56, 0xda }, 40,
					      in, 36));
	ck_assert_uint_eq(rndis_toeplitz_hash(ms_key, 40, in, 0), 0);
}
END_TEST

/* An Ethernet frame with an IPv4 header and a transport header. */
static size_t mk_v4_frame(uint8_t *f, const struct v4_vector *v, uint8_t proto, bool vlan)
{
	size_t l3 = vlan ? 18 : 14;

	memset(f, 0, 128);
	if (vlan) {
		f[12] = 0x81;
		f[16] = 0x08;
	} else {
		f[12] = 0x08;
	}
	f[l3] = 0x45;
	f[l3 + 9] = proto;
	memcpy(f + l3 + 12, v->src, 4);
	memcpy(f + l3 + 16, v->dst, 4);
	f[l3 + 20] = v->sport >> 8;
	f[l3 + 21] = v->sport & 0xff;
	f[l3 + 22] = v->dport >> 8;
	f[l3 + 23] = v->dport & 0xff;
	return l3 + 40;
}

START_TEST(test_toeplitz_frames)
{
	const uint32_t all = NDIS_HASH_IPV4 | NDIS_HASH_TCP_IPV4 | NDIS_HASH_UDP_IPV4 |
			     NDIS_HASH_IPV6 | NDIS_HASH_TCP_IPV6 | NDIS_HASH_UDP_IPV6;
	uint8_t f[128];
	uint32_t h, t;
	size_t n, i;

	for (i = 0; i < 5; i++) {
		n = mk_v4_frame(f, &v4_vectors[i], 6, false);
		ck_assert_int_eq(rndis_toeplitz_hash_frame(ms_key, all, f, n, &h, &t), 0);
		ck_assert_uint_eq(h, v4_vectors[i].tcp);
		ck_assert_uint_eq(t, NDIS_HASH_TCP_IPV4);
		ck_assert_int_eq(rndis_toeplitz_hash_frame(ms_key, NDIS_HASH_IPV4, f, n, &h, &t), 0);
		ck_assert_uint_eq(h, v4_vectors[i].ip);
		ck_assert_uint_eq(t, NDIS_HASH_IPV4);
	}
	/* UDP hashes the same tuple, under its own type. */
	n = mk_v4_frame(f, &v4_vectors[0], 17, false);
	ck_assert_int_eq(rndis_toeplitz_hash_frame(ms_key, all, f, n, &h, &t), 0);
	ck_assert_uint_eq(h, 0x51ccc178);
	ck_assert_uint_eq(t, NDIS_HASH_UDP_IPV4);
	/* UDP not enabled: addresses only. */
	ck_assert_int_eq(rndis_toeplitz_hash_frame(ms_key, NDIS_HASH_IPV4 | NDIS_HASH_TCP_IPV4,
						   f, n, &h, &t), 0);
	ck_assert_uint_eq(h, 0x323e8fc2);
	/* A fragment has no ports. */
	n = mk_v4_frame(f, &v4_vectors[0], 6, false);
	f[14 + 6] = 0x20;	/* more fragments */
	ck_assert_int_eq(rndis_toeplitz_hash_frame(ms_key, all, f, n, &h, &t), 0);
	ck_assert_uint_eq(h, 0x323e8fc2);
	ck_assert_int_eq(rndis_toeplitz_hash_frame(ms_key, NDIS_HASH_TCP_IPV4, f, n, &h, &t),
			 -ENOENT);
	/* An 802.1Q tag in the frame. */
	n = mk_v4_frame(f, &v4_vectors[1], 6, true);
	ck_assert_int_eq(rndis_toeplitz_hash_frame(ms_key, all, f, n, &h, &t), 0);
	ck_assert_uint_eq(h, 0xc626b0ea);
	/* Truncated transport header: addresses only; truncated IP: nothing. */
	n = mk_v4_frame(f, &v4_vectors[0], 6, false);
	ck_assert_int_eq(rndis_toeplitz_hash_frame(ms_key, all, f, 14 + 20 + 3, &h, &t), 0);
	ck_assert_uint_eq(t, NDIS_HASH_IPV4);
	ck_assert_int_eq(rndis_toeplitz_hash_frame(ms_key, all, f, 14 + 19, &h, &t), -ENOENT);
	f[14] = 0x44;	/* IHL under 5 */
	ck_assert_int_eq(rndis_toeplitz_hash_frame(ms_key, all, f, n, &h, &t), -ENOENT);
	f[14] = 0x4f;	/* IHL of 60 bytes past the frame */
	ck_assert_int_eq(rndis_toeplitz_hash_frame(ms_key, all, f, 14 + 40, &h, &t), -ENOENT);
	/* Not IP. */
	f[12] = 0x08;
	f[13] = 0x06;
	ck_assert_int_eq(rndis_toeplitz_hash_frame(ms_key, all, f, n, &h, &t), -ENOENT);
	ck_assert_int_eq(rndis_toeplitz_hash_frame(ms_key, all, f, 10, &h, &t), -ENOENT);

	/* IPv6 TCP, and the _EX type standing in for the plain one. */
	for (i = 0; i < 3; i++) {
		const struct v6_vector *v = &v6_vectors[i];

		memset(f, 0, sizeof(f));
		f[12] = 0x86;
		f[13] = 0xdd;
		f[14] = 0x60;
		f[14 + 6] = 6;
		memcpy(f + 14 + 8, v->src, 16);
		memcpy(f + 14 + 24, v->dst, 16);
		f[54] = v->sport >> 8;
		f[55] = v->sport & 0xff;
		f[56] = v->dport >> 8;
		f[57] = v->dport & 0xff;
		ck_assert_int_eq(rndis_toeplitz_hash_frame(ms_key, all, f, 74, &h, &t), 0);
		ck_assert_uint_eq(h, v->tcp);
		ck_assert_uint_eq(t, NDIS_HASH_TCP_IPV6);
		ck_assert_int_eq(rndis_toeplitz_hash_frame(ms_key, NDIS_HASH_IPV6_EX, f, 74,
							   &h, &t), 0);
		ck_assert_uint_eq(h, v->ip);
		ck_assert_uint_eq(t, NDIS_HASH_IPV6);
	}
	ck_assert_int_eq(rndis_toeplitz_hash_frame(ms_key, all, f, 14 + 39, &h, &t), -ENOENT);
}
END_TEST

START_TEST(test_rss_classify)
{
	struct rndis_dev *dev = new_dev();
	struct rndis_rx_info info;
	uint8_t b[1024], f[128];
	uint32_t table[128], i;
	size_t n;

	init_dev(dev);
	n = mk_v4_frame(f, &v4_vectors[0], 6, false);
	memset(&info, 0, sizeof(info));
	ck_assert_uint_eq(rndis_dev_rss_classify(dev, f, n, &info), 0);
	ck_assert_uint_eq(info.flags, 0);

	for (i = 0; i < 128; i++)
		table[i] = (i * 7 + 1) % 4;
	ck_assert_uint_eq(set(dev, OID_GEN_RECEIVE_SCALE_PARAMETERS, b, mk_rss(b, 0, 128, table)),
			  RNDIS_STATUS_SUCCESS);
	/* 0x51ccc178 & 127 = 120 -> (120 * 7 + 1) % 4 = 1 */
	ck_assert_uint_eq(rndis_dev_rss_classify(dev, f, n, &info), 1);
	ck_assert_uint_eq(info.flags, RNDIS_RX_HASH);
	ck_assert_uint_eq(info.hash, 0x51ccc178);
	ck_assert_uint_eq(info.hash_info, NDIS_HASH_FUNCTION_TOEPLITZ | NDIS_HASH_TCP_IPV4);

	/* An 8-entry table indexes with the low 3 bits: 120 & 7 = 0. */
	ck_assert_uint_eq(set(dev, OID_GEN_RECEIVE_SCALE_PARAMETERS, b, mk_rss(b, 0, 8, table)),
			  RNDIS_STATUS_SUCCESS);
	memset(&info, 0, sizeof(info));
	ck_assert_uint_eq(rndis_dev_rss_classify(dev, f, n, &info), table[0]);

	/* Not IP: no hash, queue 0. */
	f[13] = 0x06;
	memset(&info, 0, sizeof(info));
	ck_assert_uint_eq(rndis_dev_rss_classify(dev, f, n, &info), 0);
	ck_assert_uint_eq(info.flags, 0);
	rndis_dev_destroy(dev);
}
END_TEST

START_TEST(test_create_config)
{
	struct rndis_dev_config cfg;
	struct rndis_dev *dev = NULL;

	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.mac, test_mac, 6);
	cfg.mac[0] = 0x01;
	ck_assert_int_eq(rndis_dev_create(&cfg, &dev), -EINVAL);
	cfg.mac[0] = 0x00;
	cfg.mtu = 67;
	ck_assert_int_eq(rndis_dev_create(&cfg, &dev), -EINVAL);
	cfg.mtu = RNDIS_DEV_MAX_MTU + 1;
	ck_assert_int_eq(rndis_dev_create(&cfg, &dev), -EINVAL);
	cfg.mtu = 0;
	cfg.indirection_entries = 96;
	ck_assert_int_eq(rndis_dev_create(&cfg, &dev), -EINVAL);
	cfg.indirection_entries = 256;
	ck_assert_int_eq(rndis_dev_create(&cfg, &dev), -EINVAL);
	cfg.indirection_entries = 0;
	cfg.max_queues = 65;
	ck_assert_int_eq(rndis_dev_create(&cfg, &dev), -EINVAL);
	cfg.max_queues = 0;
	cfg.offloads = 1u << 20;
	ck_assert_int_eq(rndis_dev_create(&cfg, &dev), -EINVAL);
	ck_assert_ptr_null(dev);
	ck_assert_int_eq(rndis_dev_create(NULL, &dev), -EINVAL);
	rndis_dev_destroy(NULL);
}
END_TEST

START_TEST(test_nvsp_layout)
{
	struct nvsp_message msg;

	/* What a Linux guest puts on the wire for INIT. */
	memset(&msg, 0, sizeof(msg));
	msg.hdr.msg_type = NVSP_MSG_TYPE_INIT;
	msg.msg.init.min_protocol_ver = NVSP_PROTOCOL_VERSION_61;
	msg.msg.init.max_protocol_ver = NVSP_PROTOCOL_VERSION_61;
	ck_assert_uint_eq(sizeof(msg), 40);
	ck_assert_uint_eq(rd32((uint8_t *)&msg + 4), 0x60001);
	ck_assert_uint_eq(NVSP_MSG1_TYPE_SEND_RNDIS_PKT, 107);
	ck_assert_uint_eq(NVSP_MSG2_TYPE_SEND_NDIS_CONFIG, 125);
	ck_assert_uint_eq(NVSP_MSG4_TYPE_SWITCH_DATA_PATH, 129);
	ck_assert_uint_eq(NVSP_MSG5_TYPE_SUBCHANNEL, 133);
	ck_assert_uint_eq(offsetof(struct nvsp_message, msg.send_recv_buf_complete.sections[0].end_offset),
			  24);
}
END_TEST

static Suite *rndis_suite(void)
{
	Suite *s = suite_create("rndis");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_linux_sequence);
	tcase_add_test(tc, test_reset_and_reinit);
	tcase_add_test(tc, test_more_oids);
	tcase_add_test(tc, test_multicast_and_filter);
	tcase_add_test(tc, test_indicate_status);
	tcase_add_test(tc, test_hostile_control_framing);
	tcase_add_test(tc, test_hostile_info_buffer);
	tcase_add_test(tc, test_hostile_offload_objects);
	tcase_add_test(tc, test_hostile_rss);
	tcase_add_test(tc, test_packet_plain);
	tcase_add_test(tc, test_packet_every_ppi);
	tcase_add_test(tc, test_packet_multi_and_gpa_direct);
	tcase_add_test(tc, test_packet_hostile);
	tcase_add_test(tc, test_build_receive);
	tcase_add_test(tc, test_toeplitz_vectors);
	tcase_add_test(tc, test_toeplitz_frames);
	tcase_add_test(tc, test_rss_classify);
	tcase_add_test(tc, test_create_config);
	tcase_add_test(tc, test_nvsp_layout);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(rndis_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
