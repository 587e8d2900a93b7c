/* SPDX-License-Identifier: MIT */
/*
 * RNDIS device model of netvsp: control messages (INITIALIZE, QUERY, SET,
 * RESET, KEEPALIVE, HALT), OID answers and settings, PACKET validation in
 * the guest-to-host direction and PACKET framing in the other.
 *
 * Sources: Linux drivers/net/hyperv/rndis_filter.c (the OIDs a Linux guest
 * queries and sets, their buffer sizes and the checks it makes on our
 * answers), netvsc_drv.c (how it builds PACKETs and PPIs), hyperv_net.h;
 * DPDK drivers/net/netvsc/ndis.h; OpenVMM vm/devices/net/netvsp/src/lib.rs
 * (what a host answers to each OID).
 *
 * Every byte of a message is guest-written. Headers and OID objects are
 * copied into locals once, checked with 64-bit arithmetic against the
 * lengths the caller gave, and only the copies are used afterwards.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/rndis_dev.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "RNDIS structures are copied as little-endian");

#define ETH_HLEN		14u
#define ETH_ALEN		6u
#define DEFAULT_LINK_SPEED	10000000000ull
#define DEFAULT_PKTS_PER_MSG	8u
/* Batched PACKETs are aligned to 1 << 3 bytes (what Hyper-V asks for). */
#define PKT_ALIGNMENT_FACTOR	3u
/* Room for max_pkts_per_msg LSO-sized frames and their headers. */
#define MAX_XFER_SIZE		0x100000u
#define TX_BUFFER_SPACE		(256u * 1024u)
#define VENDOR_DRIVER_VERSION	0x00010000u
#define NDIS_DRIVER_VERSION	0x0600u
#define SUPPORTED_FILTER	(NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_MULTICAST | \
				 NDIS_PACKET_TYPE_ALL_MULTICAST | NDIS_PACKET_TYPE_BROADCAST | \
				 NDIS_PACKET_TYPE_PROMISCUOUS)
#define SUPPORTED_HASH_TYPES	(NDIS_HASH_IPV4 | NDIS_HASH_TCP_IPV4 | NDIS_HASH_IPV6 | \
				 NDIS_HASH_IPV6_EX | NDIS_HASH_TCP_IPV6 | \
				 NDIS_HASH_TCP_IPV6_EX | NDIS_HASH_UDP_IPV4 | \
				 NDIS_HASH_UDP_IPV6 | NDIS_HASH_UDP_IPV6_EX)
#define MIN_TCP_HLEN		20u
#define MIN_UDP_HLEN		8u

static const char vendor_description[] = "libvmbus synthetic network adapter";

/* The well-known Microsoft sample key, until the guest sets its own. */
static const uint8_t default_rss_key[NDIS_RSS_HASH_KEY_SIZE_TOEPLITZ] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
	0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
	0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

static const uint32_t supported_oids[] = {
	OID_GEN_SUPPORTED_LIST, OID_GEN_HARDWARE_STATUS, OID_GEN_MEDIA_SUPPORTED,
	OID_GEN_MEDIA_IN_USE, OID_GEN_MAXIMUM_LOOKAHEAD, OID_GEN_MAXIMUM_FRAME_SIZE,
	OID_GEN_LINK_SPEED, OID_GEN_TRANSMIT_BUFFER_SPACE, OID_GEN_RECEIVE_BUFFER_SPACE,
	OID_GEN_TRANSMIT_BLOCK_SIZE, OID_GEN_RECEIVE_BLOCK_SIZE, OID_GEN_VENDOR_ID,
	OID_GEN_VENDOR_DESCRIPTION, OID_GEN_CURRENT_PACKET_FILTER,
	OID_GEN_CURRENT_LOOKAHEAD, OID_GEN_DRIVER_VERSION, OID_GEN_MAXIMUM_TOTAL_SIZE,
	OID_GEN_MAC_OPTIONS, OID_GEN_MEDIA_CONNECT_STATUS, OID_GEN_MAXIMUM_SEND_PACKETS,
	OID_GEN_VENDOR_DRIVER_VERSION, OID_GEN_NETWORK_LAYER_ADDRESSES,
	OID_GEN_RECEIVE_SCALE_CAPABILITIES, OID_GEN_RECEIVE_SCALE_PARAMETERS,
	OID_GEN_RNDIS_CONFIG_PARAMETER, OID_GEN_XMIT_OK, OID_GEN_RCV_OK,
	OID_GEN_XMIT_ERROR, OID_GEN_RCV_ERROR, OID_GEN_RCV_NO_BUFFER,
	OID_GEN_FRIENDLY_NAME, OID_802_3_PERMANENT_ADDRESS, OID_802_3_CURRENT_ADDRESS,
	OID_802_3_MULTICAST_LIST, OID_802_3_MAXIMUM_LIST_SIZE, OID_802_3_MAC_OPTIONS,
	OID_802_3_RCV_ERROR_ALIGNMENT, OID_802_3_XMIT_ONE_COLLISION,
	OID_802_3_XMIT_MORE_COLLISIONS, OID_OFFLOAD_ENCAPSULATION,
	OID_TCP_OFFLOAD_CURRENT_CONFIG, OID_TCP_OFFLOAD_PARAMETERS,
	OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES,
};

_Static_assert(sizeof(supported_oids) <= RNDIS_DEV_QUERY_MAX, "OID list fits a query");

struct rss_state {
	bool enabled;
	uint32_t hash_types;
	uint32_t entries;
	uint8_t key[NDIS_RSS_HASH_KEY_SIZE_TOEPLITZ];
	uint32_t table[NDIS_RSS_INDIRECTION_TABLE_MAX];
};

struct rndis_dev {
	struct rndis_dev_config cfg;
	char *name;
	uint64_t link_speed;
	uint32_t max_mtu;
	uint32_t mtu;
	uint32_t max_pkts;
	uint32_t max_queues;
	uint32_t table_entries;
	bool initialized;
	bool link_up;
	uint8_t mac[ETH_ALEN];
	uint32_t filter;
	uint32_t n_mcast;
	uint8_t mcast[RNDIS_DEV_MCAST_MAX][ETH_ALEN];
	uint32_t offloads;
	struct rss_state rss;
	struct rndis_dev_stats stats;
};

/* Data-path counters may move on several queues at once. */
#define COUNT(dev, field) \
	__atomic_fetch_add(&(dev)->stats.field, 1, __ATOMIC_RELAXED)
#define COUNT_N(dev, field, n) \
	__atomic_fetch_add(&(dev)->stats.field, (n), __ATOMIC_RELAXED)

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* ---- Lifetime ------------------------------------------------------------ */

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

static void reset_state(struct rndis_dev *dev)
{
	dev->filter = 0;
	dev->n_mcast = 0;
	dev->offloads = dev->cfg.offloads;
	memset(&dev->rss, 0, sizeof(dev->rss));
	memcpy(dev->rss.key, default_rss_key, sizeof(dev->rss.key));
}

int rndis_dev_create(const struct rndis_dev_config *cfg, struct rndis_dev **out)
{
	struct rndis_dev *dev;
	uint32_t mtu, entries, queues;

	if (!cfg || !out)
		return -EINVAL;
	mtu = cfg->mtu ? cfg->mtu : RNDIS_DEV_DEFAULT_MTU;
	entries = cfg->indirection_entries ? cfg->indirection_entries :
		  NDIS_RSS_INDIRECTION_TABLE_MAX;
	queues = cfg->max_queues ? cfg->max_queues : 1;
	if ((cfg->mac[0] & 1) || mtu < RNDIS_DEV_MIN_MTU || mtu > RNDIS_DEV_MAX_MTU ||
	    queues > RNDIS_DEV_MAX_QUEUES || !is_pow2(entries) ||
	    entries > NDIS_RSS_INDIRECTION_TABLE_MAX || (cfg->offloads & ~RNDIS_OFFLOAD_ALL))
		return -EINVAL;

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->cfg = *cfg;
	if (cfg->friendly_name) {
		dev->name = strdup(cfg->friendly_name);
		if (!dev->name) {
			free(dev);
			return -ENOMEM;
		}
	}
	dev->cfg.friendly_name = dev->name;
	dev->link_speed = cfg->link_speed ? cfg->link_speed : DEFAULT_LINK_SPEED;
	dev->max_mtu = mtu;
	dev->mtu = mtu;
	dev->max_pkts = cfg->max_pkts_per_msg ? cfg->max_pkts_per_msg : DEFAULT_PKTS_PER_MSG;
	dev->max_queues = queues;
	dev->table_entries = entries;
	dev->link_up = !cfg->link_down;
	memcpy(dev->mac, cfg->mac, ETH_ALEN);
	reset_state(dev);
	*out = dev;
	return 0;
}

void rndis_dev_destroy(struct rndis_dev *dev)
{
	if (!dev)
		return;
	free(dev->name);
	free(dev);
}

/* ---- Accessors ------------------------------------------------------------- */

int rndis_dev_set_mtu(struct rndis_dev *dev, uint32_t mtu)
{
	if (mtu < RNDIS_DEV_MIN_MTU || mtu > dev->max_mtu)
		return -EINVAL;
	dev->mtu = mtu;
	return 0;
}

void rndis_dev_get_stats(const struct rndis_dev *dev, struct rndis_dev_stats *out)
{
	const uint64_t *src = (const uint64_t *)&dev->stats;
	uint64_t *dst = (uint64_t *)out;
	size_t i;

	for (i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

bool rndis_dev_is_initialized(const struct rndis_dev *dev)
{
	return dev->initialized;
}

uint32_t rndis_dev_packet_filter(const struct rndis_dev *dev)
{
	return dev->filter;
}

void rndis_dev_get_mac(const struct rndis_dev *dev, uint8_t mac[6])
{
	memcpy(mac, dev->mac, ETH_ALEN);
}

uint32_t rndis_dev_offloads(const struct rndis_dev *dev)
{
	return dev->offloads;
}

bool rndis_dev_rss_enabled(const struct rndis_dev *dev)
{
	return dev->rss.enabled;
}

/* ---- Query answers ------------------------------------------------------------ */

/* An answer under construction: at most RNDIS_DEV_QUERY_MAX bytes. */
struct answer {
	uint8_t buf[RNDIS_DEV_QUERY_MAX];
	uint32_t len;
};

static void ans_bytes(struct answer *a, const void *p, uint32_t n)
{
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

static void ans_u32(struct answer *a, uint32_t v)
{
	ans_bytes(a, &v, sizeof(v));
}

/* NDIS statistics OIDs answer 64 bits when the requester's buffer can take
 * them, 32 otherwise. */
static void ans_counter(struct answer *a, uint64_t v, uint32_t info_len)
{
	uint32_t v32;

	if (info_len >= sizeof(uint64_t)) {
		ans_bytes(a, &v, sizeof(v));
		return;
	}
	v32 = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
	ans_u32(a, v32);
}

static void fill_offload(uint32_t bits, struct ndis_offload *o)
{
	memset(o, 0, sizeof(*o));
	o->header.type = NDIS_OBJECT_TYPE_OFFLOAD;
	o->header.revision = NDIS_OFFLOAD_REVISION_3;
	o->header.size = NDIS_OFFLOAD_SIZE_REV3;
	o->csum.ip4_txenc = NDIS_OFFLOAD_ENCAP_8023;
	o->csum.ip4_rxenc = NDIS_OFFLOAD_ENCAP_8023;
	o->csum.ip6_txenc = NDIS_OFFLOAD_ENCAP_8023;
	o->csum.ip6_rxenc = NDIS_OFFLOAD_ENCAP_8023;
	if (bits & RNDIS_OFFLOAD_TX_IP4)
		o->csum.ip4_txcsum |= NDIS_CSUM_CAP_IP4 | NDIS_CSUM_CAP_IP4OPT;
	if (bits & RNDIS_OFFLOAD_TX_TCP4)
		o->csum.ip4_txcsum |= NDIS_CSUM_CAP_TCP4 | NDIS_CSUM_CAP_TCP4OPT;
	if (bits & RNDIS_OFFLOAD_TX_UDP4)
		o->csum.ip4_txcsum |= NDIS_CSUM_CAP_UDP4;
	if (bits & RNDIS_OFFLOAD_TX_TCP6)
		o->csum.ip6_txcsum |= NDIS_CSUM_CAP_TCP6 | NDIS_CSUM_CAP_TCP6OPT |
				      NDIS_CSUM_CAP_IP6EXT;
	if (bits & RNDIS_OFFLOAD_TX_UDP6)
		o->csum.ip6_txcsum |= NDIS_CSUM_CAP_UDP6;
	if (bits & RNDIS_OFFLOAD_RX_IP4)
		o->csum.ip4_rxcsum |= NDIS_CSUM_CAP_IP4 | NDIS_CSUM_CAP_IP4OPT;
	if (bits & RNDIS_OFFLOAD_RX_TCP4)
		o->csum.ip4_rxcsum |= NDIS_CSUM_CAP_TCP4 | NDIS_CSUM_CAP_TCP4OPT;
	if (bits & RNDIS_OFFLOAD_RX_UDP4)
		o->csum.ip4_rxcsum |= NDIS_CSUM_CAP_UDP4;
	if (bits & RNDIS_OFFLOAD_RX_TCP6)
		o->csum.ip6_rxcsum |= NDIS_CSUM_CAP_TCP6 | NDIS_CSUM_CAP_TCP6OPT |
				      NDIS_CSUM_CAP_IP6EXT;
	if (bits & RNDIS_OFFLOAD_RX_UDP6)
		o->csum.ip6_rxcsum |= NDIS_CSUM_CAP_UDP6;
	if (bits & RNDIS_OFFLOAD_LSO4) {
		o->lsov2.ip4_encap = NDIS_OFFLOAD_ENCAP_8023;
		o->lsov2.ip4_maxsz = RNDIS_DEV_LSO_MAX_SIZE;
		o->lsov2.ip4_minsg = 2;
	}
	if (bits & RNDIS_OFFLOAD_LSO6) {
		o->lsov2.ip6_encap = NDIS_OFFLOAD_ENCAP_8023;
		o->lsov2.ip6_maxsz = RNDIS_DEV_LSO_MAX_SIZE;
		o->lsov2.ip6_minsg = 2;
		o->lsov2.ip6_opts = NDIS_LSOV2_CAP_IP6EXT | NDIS_LSOV2_CAP_TCP6OPT;
	}
}

/*
 * Answer with the offload object. Linux reads it into a struct of
 * revision 3 size and rejects a longer answer, so the answer never exceeds
 * 156 bytes; a requester whose buffer holds only an older revision gets
 * that revision.
 */
static void ans_offload(uint32_t bits, uint32_t info_len, struct answer *a)
{
	struct ndis_offload o;

	fill_offload(bits, &o);
	if (info_len >= NDIS_OFFLOAD_SIZE_REV1 && info_len < NDIS_OFFLOAD_SIZE_REV2) {
		o.header.revision = NDIS_OFFLOAD_REVISION_1;
		o.header.size = NDIS_OFFLOAD_SIZE_REV1;
	} else if (info_len >= NDIS_OFFLOAD_SIZE_REV2 && info_len < NDIS_OFFLOAD_SIZE_REV3) {
		o.header.revision = NDIS_OFFLOAD_REVISION_2;
		o.header.size = NDIS_OFFLOAD_SIZE_REV2;
	}
	ans_bytes(a, &o, o.header.size);
}

static void ans_rss_caps(const struct rndis_dev *dev, uint32_t info_len, struct answer *a)
{
	struct ndis_rss_caps c;

	memset(&c, 0, sizeof(c));
	c.header.type = NDIS_OBJECT_TYPE_RSS_CAPABILITIES;
	c.header.revision = NDIS_RSS_CAPS_REVISION_2;
	c.header.size = NDIS_RSS_CAPS_SIZE_REV2;
	c.cap_flags = NDIS_HASH_FUNCTION_TOEPLITZ | NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV4 |
		      NDIS_RSS_CAPS_HASH_TYPE_TCP_IPV6 | NDIS_RSS_CAPS_HASH_TYPE_UDP_IPV4 |
		      NDIS_RSS_CAPS_HASH_TYPE_UDP_IPV6;
	c.num_int_msg = 1;
	c.num_recv_queues = dev->max_queues;
	c.num_indirect_entries = (uint16_t)dev->table_entries;
	if (info_len >= NDIS_RSS_CAPS_SIZE_REV1 && info_len < NDIS_RSS_CAPS_SIZE_REV2) {
		c.header.revision = NDIS_RSS_CAPS_REVISION_1;
		c.header.size = NDIS_RSS_CAPS_SIZE_REV1;
	}
	ans_bytes(a, &c, c.header.size);
}

static void ans_encapsulation(struct answer *a)
{
	struct ndis_offload_encapsulation e;

	memset(&e, 0, sizeof(e));
	e.header.type = NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION;
	e.header.revision = NDIS_OFFLOAD_ENCAPSULATION_REVISION_1;
	e.header.size = NDIS_OFFLOAD_ENCAPSULATION_SIZE_REV1;
	e.ipv4_enabled = NDIS_OFFLOAD_SET_ON;
	e.ipv4_encapsulation_type = NDIS_OFFLOAD_ENCAP_8023;
	e.ipv4_header_size = ETH_HLEN;
	e.ipv6_enabled = NDIS_OFFLOAD_SET_ON;
	e.ipv6_encapsulation_type = NDIS_OFFLOAD_ENCAP_8023;
	e.ipv6_header_size = ETH_HLEN;
	ans_bytes(a, &e, sizeof(e));
}

/* UTF-16LE, NUL-terminated, within the answer buffer. */
static void ans_utf16(const char *s, struct answer *a)
{
	size_t i, n = strlen(s);

	if (n > RNDIS_DEV_QUERY_MAX / 2 - 1)
		n = RNDIS_DEV_QUERY_MAX / 2 - 1;
	for (i = 0; i <= n; i++) {
		uint8_t c[2] = { i < n ? (uint8_t)(s[i] & 0x7f) : 0, 0 };

		ans_bytes(a, c, 2);
	}
}

/* Fill the answer to a query; returns an RNDIS status. */
static uint32_t query_oid(const struct rndis_dev *dev, uint32_t oid, uint32_t info_len,
			  struct answer *a)
{
	struct rndis_dev_stats st;
	uint64_t speed;

	switch (oid) {
	case OID_GEN_SUPPORTED_LIST:
		ans_bytes(a, supported_oids, sizeof(supported_oids));
		break;
	case OID_GEN_HARDWARE_STATUS:
		ans_u32(a, 0);	/* NdisHardwareStatusReady */
		break;
	case OID_GEN_MEDIA_SUPPORTED:
	case OID_GEN_MEDIA_IN_USE:
		ans_u32(a, RNDIS_MEDIUM_802_3);
		break;
	case OID_GEN_MAXIMUM_LOOKAHEAD:
	case OID_GEN_CURRENT_LOOKAHEAD:
	case OID_GEN_MAXIMUM_FRAME_SIZE:
		/* The L3 MTU: Linux lowers its MTU to this value. */
		ans_u32(a, dev->mtu);
		break;
	case OID_GEN_MAXIMUM_TOTAL_SIZE:
	case OID_GEN_TRANSMIT_BLOCK_SIZE:
	case OID_GEN_RECEIVE_BLOCK_SIZE:
		ans_u32(a, dev->mtu + ETH_HLEN);
		break;
	case OID_GEN_LINK_SPEED:
		speed = dev->link_speed / 100;	/* in units of 100 bit/s */
		ans_u32(a, speed > UINT32_MAX ? UINT32_MAX : (uint32_t)speed);
		break;
	case OID_GEN_TRANSMIT_BUFFER_SPACE:
	case OID_GEN_RECEIVE_BUFFER_SPACE:
		ans_u32(a, TX_BUFFER_SPACE);
		break;
	case OID_GEN_VENDOR_ID:
		/* The OUI of the permanent address, then a NIC index of 0. */
		ans_u32(a, (uint32_t)dev->cfg.mac[0] | (uint32_t)dev->cfg.mac[1] << 8 |
			   (uint32_t)dev->cfg.mac[2] << 16);
		break;
	case OID_GEN_VENDOR_DESCRIPTION:
		ans_bytes(a, vendor_description, sizeof(vendor_description));
		break;
	case OID_GEN_VENDOR_DRIVER_VERSION:
		ans_u32(a, VENDOR_DRIVER_VERSION);
		break;
	case OID_GEN_DRIVER_VERSION: {
		uint16_t v = NDIS_DRIVER_VERSION;

		ans_bytes(a, &v, sizeof(v));
		break;
	}
	case OID_GEN_CURRENT_PACKET_FILTER:
		ans_u32(a, dev->filter);
		break;
	case OID_GEN_MAC_OPTIONS:
		ans_u32(a, NDIS_MAC_OPTION_COPY_LOOKAHEAD_DATA |
			   NDIS_MAC_OPTION_TRANSFERS_NOT_PEND | NDIS_MAC_OPTION_NO_LOOPBACK |
			   NDIS_MAC_OPTION_8021P_PRIORITY | NDIS_MAC_OPTION_8021Q_VLAN);
		break;
	case OID_GEN_MEDIA_CONNECT_STATUS:
		ans_u32(a, dev->link_up ? NDIS_MEDIA_STATE_CONNECTED :
					  NDIS_MEDIA_STATE_DISCONNECTED);
		break;
	case OID_GEN_MAXIMUM_SEND_PACKETS:
		ans_u32(a, dev->max_pkts);
		break;
	case OID_GEN_FRIENDLY_NAME:
		if (!dev->name)
			return RNDIS_STATUS_NOT_SUPPORTED;
		ans_utf16(dev->name, a);
		break;
	case OID_GEN_XMIT_OK:
	case OID_GEN_RCV_OK:
	case OID_GEN_XMIT_ERROR:
	case OID_GEN_RCV_ERROR:
	case OID_GEN_RCV_NO_BUFFER:
		rndis_dev_get_stats(dev, &st);
		if (oid == OID_GEN_XMIT_OK)
			ans_counter(a, st.tx_packets, info_len);
		else if (oid == OID_GEN_RCV_OK)
			ans_counter(a, st.rx_packets, info_len);
		else if (oid == OID_GEN_XMIT_ERROR)
			ans_counter(a, st.tx_bad_header + st.tx_bad_data + st.tx_bad_oob +
				       st.tx_bad_ppi + st.tx_runt + st.tx_oversize +
				       st.tx_bad_offload, info_len);
		else if (oid == OID_GEN_RCV_ERROR)
			ans_counter(a, st.rx_bad, info_len);
		else
			ans_counter(a, 0, info_len);
		break;
	case OID_802_3_PERMANENT_ADDRESS:
		ans_bytes(a, dev->cfg.mac, ETH_ALEN);
		break;
	case OID_802_3_CURRENT_ADDRESS:
		ans_bytes(a, dev->mac, ETH_ALEN);
		break;
	case OID_802_3_MULTICAST_LIST:
		ans_bytes(a, dev->mcast, dev->n_mcast * ETH_ALEN);
		break;
	case OID_802_3_MAXIMUM_LIST_SIZE:
		ans_u32(a, RNDIS_DEV_MCAST_MAX);
		break;
	case OID_802_3_MAC_OPTIONS:
	case OID_802_3_RCV_ERROR_ALIGNMENT:
	case OID_802_3_XMIT_ONE_COLLISION:
	case OID_802_3_XMIT_MORE_COLLISIONS:
		ans_u32(a, 0);
		break;
	case OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES:
		ans_offload(dev->cfg.offloads, info_len, a);
		break;
	case OID_TCP_OFFLOAD_CURRENT_CONFIG:
		ans_offload(dev->offloads, info_len, a);
		break;
	case OID_OFFLOAD_ENCAPSULATION:
		ans_encapsulation(a);
		break;
	case OID_GEN_RECEIVE_SCALE_CAPABILITIES:
		ans_rss_caps(dev, info_len, a);
		break;
	default:
		return RNDIS_STATUS_NOT_SUPPORTED;
	}
	return RNDIS_STATUS_SUCCESS;
}

/* ---- Sets -------------------------------------------------------------------- */

/* Outcome of a set: the status for the guest and which counter it bumps. */
enum set_result {
	SET_OK,
	SET_UNSUPPORTED,
	SET_BAD_LENGTH,
	SET_BAD_DATA,
};

/*
 * Copy an NDIS object of at most obj_size bytes from the information buffer
 * and check its header: type, a revision of at least 1, a size of at least
 * min_size that the buffer holds. Bytes the guest did not send read as 0.
 */
static enum set_result read_object(const uint8_t *buf, uint32_t len, uint8_t type,
				   uint32_t min_size, void *obj, size_t obj_size)
{
	struct ndis_object_header h;

	if (len < min_size)
		return SET_BAD_LENGTH;
	memset(obj, 0, obj_size);
	memcpy(obj, buf, len < obj_size ? len : obj_size);
	memcpy(&h, obj, sizeof(h));
	if (h.type != type || h.revision < 1 || h.size < min_size)
		return SET_BAD_DATA;
	if (h.size > len)
		return SET_BAD_LENGTH;
	return SET_OK;
}

static enum set_result set_u32(const uint8_t *buf, uint32_t len, uint32_t *v)
{
	if (len != sizeof(*v))
		return SET_BAD_LENGTH;
	memcpy(v, buf, sizeof(*v));
	return SET_OK;
}

static enum set_result set_packet_filter(struct rndis_dev *dev, const uint8_t *buf,
					 uint32_t len)
{
	uint32_t filter;
	enum set_result r = set_u32(buf, len, &filter);

	if (r != SET_OK)
		return r;
	if (filter & ~SUPPORTED_FILTER)
		return SET_UNSUPPORTED;
	dev->filter = filter;
	return SET_OK;
}

static enum set_result set_lookahead(struct rndis_dev *dev, const uint8_t *buf, uint32_t len)
{
	uint32_t v;
	enum set_result r = set_u32(buf, len, &v);

	if (r != SET_OK)
		return r;
	/* Every frame is passed whole; only a lookahead above the MTU is
	 * wrong. */
	return v > dev->mtu ? SET_BAD_DATA : SET_OK;
}

static enum set_result set_multicast_list(struct rndis_dev *dev, const uint8_t *buf,
					  uint32_t len)
{
	uint8_t list[RNDIS_DEV_MCAST_MAX][ETH_ALEN] = { { 0 } };
	uint32_t i, n;

	if (len % ETH_ALEN || len / ETH_ALEN > RNDIS_DEV_MCAST_MAX)
		return SET_BAD_LENGTH;
	n = len / ETH_ALEN;
	if (n)
		memcpy(list, buf, len);
	for (i = 0; i < n; i++)
		if (!(list[i][0] & 1))
			return SET_BAD_DATA;
	memcpy(dev->mcast, list, len);
	dev->n_mcast = n;
	return SET_OK;
}

/* One checksum field: NO_CHANGE keeps, the others set tx and rx. */
static enum set_result apply_csum(uint8_t v, uint32_t tx_bit, uint32_t rx_bit, uint32_t *bits)
{
	switch (v) {
	case NDIS_OFFLOAD_PARAMETERS_NO_CHANGE:
		return SET_OK;
	case NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED:
		*bits &= ~(tx_bit | rx_bit);
		return SET_OK;
	case NDIS_OFFLOAD_PARAMETERS_TX_ENABLED_RX_DISABLED:
		*bits = (*bits | tx_bit) & ~rx_bit;
		return SET_OK;
	case NDIS_OFFLOAD_PARAMETERS_RX_ENABLED_TX_DISABLED:
		*bits = (*bits | rx_bit) & ~tx_bit;
		return SET_OK;
	case NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED:
		*bits |= tx_bit | rx_bit;
		return SET_OK;
	default:
		return SET_BAD_DATA;
	}
}

static enum set_result apply_lso(uint8_t v, uint32_t bit, uint32_t *bits)
{
	switch (v) {
	case NDIS_OFFLOAD_PARAMETERS_NO_CHANGE:
		return SET_OK;
	case NDIS_OFFLOAD_PARAMETERS_DISABLED:
		*bits &= ~bit;
		return SET_OK;
	case NDIS_OFFLOAD_PARAMETERS_ENABLED:
		*bits |= bit;
		return SET_OK;
	default:
		return SET_BAD_DATA;
	}
}

static enum set_result set_offload_params(struct rndis_dev *dev, const uint8_t *buf,
					  uint32_t len)
{
	struct ndis_offload_params p;
	uint32_t bits = dev->offloads;
	enum set_result r;

	r = read_object(buf, len, NDIS_OBJECT_TYPE_DEFAULT, NDIS_OFFLOAD_PARAMETERS_SIZE_REV1,
			&p, sizeof(p));
	if (r != SET_OK)
		return r;
	if (p.lso_v1 == NDIS_OFFLOAD_PARAMETERS_ENABLED)
		return SET_UNSUPPORTED;
	if (apply_csum(p.ip_v4_csum, RNDIS_OFFLOAD_TX_IP4, RNDIS_OFFLOAD_RX_IP4, &bits) ||
	    apply_csum(p.tcp_ip_v4_csum, RNDIS_OFFLOAD_TX_TCP4, RNDIS_OFFLOAD_RX_TCP4, &bits) ||
	    apply_csum(p.udp_ip_v4_csum, RNDIS_OFFLOAD_TX_UDP4, RNDIS_OFFLOAD_RX_UDP4, &bits) ||
	    apply_csum(p.tcp_ip_v6_csum, RNDIS_OFFLOAD_TX_TCP6, RNDIS_OFFLOAD_RX_TCP6, &bits) ||
	    apply_csum(p.udp_ip_v6_csum, RNDIS_OFFLOAD_TX_UDP6, RNDIS_OFFLOAD_RX_UDP6, &bits) ||
	    apply_lso(p.lso_v2_ipv4, RNDIS_OFFLOAD_LSO4, &bits) ||
	    apply_lso(p.lso_v2_ipv6, RNDIS_OFFLOAD_LSO6, &bits))
		return SET_BAD_DATA;
	/* Asking for more than offered is not an error in NDIS: the current
	 * configuration simply stays within the capabilities. */
	dev->offloads = bits & dev->cfg.offloads;
	return SET_OK;
}

static enum set_result check_encap(uint32_t enabled, uint32_t type, uint32_t hdr_size)
{
	if (enabled > NDIS_OFFLOAD_SET_OFF)
		return SET_BAD_DATA;
	if (enabled == NDIS_OFFLOAD_SET_ON &&
	    (type != NDIS_OFFLOAD_ENCAP_8023 || hdr_size != ETH_HLEN))
		return SET_UNSUPPORTED;
	return SET_OK;
}

static enum set_result set_encapsulation(const uint8_t *buf, uint32_t len)
{
	struct ndis_offload_encapsulation e;
	enum set_result r;

	r = read_object(buf, len, NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION,
			NDIS_OFFLOAD_ENCAPSULATION_SIZE_REV1, &e, sizeof(e));
	if (r != SET_OK)
		return r;
	r = check_encap(e.ipv4_enabled, e.ipv4_encapsulation_type, e.ipv4_header_size);
	if (r != SET_OK)
		return r;
	return check_encap(e.ipv6_enabled, e.ipv6_encapsulation_type, e.ipv6_header_size);
}

/* Is [off, off + size) inside a buffer of len bytes, after the fixed part? */
static bool range_ok(uint32_t off, uint32_t size, uint32_t fixed, uint32_t len)
{
	return off >= fixed && (uint64_t)off + size <= len;
}

static enum set_result set_rss_params(struct rndis_dev *dev, const uint8_t *buf, uint32_t len)
{
	struct ndis_rss_params p;
	struct rss_state next = dev->rss;
	enum set_result r;
	uint32_t i, n;

	r = read_object(buf, len, NDIS_OBJECT_TYPE_RSS_PARAMETERS, NDIS_RSS_PARAMS_SIZE_REV1,
			&p, sizeof(p));
	if (r != SET_OK)
		return r;

	/* Linux turns RSS off first, with the rest of the object filled in
	 * but meaningless. */
	if ((p.flags & NDIS_RSS_PARAM_FLAG_DISABLE_RSS) ||
	    (!(p.flags & NDIS_RSS_PARAM_FLAG_HASH_INFO_UNCHANGED) &&
	     !(p.hash_info & NDIS_HASH_FUNCTION_MASK))) {
		dev->rss.enabled = false;
		return SET_OK;
	}

	if (!(p.flags & NDIS_RSS_PARAM_FLAG_HASH_INFO_UNCHANGED)) {
		if ((p.hash_info & NDIS_HASH_FUNCTION_MASK) != NDIS_HASH_FUNCTION_TOEPLITZ)
			return SET_UNSUPPORTED;
		if (p.hash_info & ~(NDIS_HASH_FUNCTION_MASK | NDIS_HASH_TYPE_MASK))
			return SET_BAD_DATA;
		next.hash_types = p.hash_info & SUPPORTED_HASH_TYPES;
	}

	if (!(p.flags & NDIS_RSS_PARAM_FLAG_HASH_KEY_UNCHANGED)) {
		if (p.hashkey_size != NDIS_RSS_HASH_KEY_SIZE_TOEPLITZ)
			return SET_BAD_DATA;
		if (!range_ok(p.hashkey_offset, p.hashkey_size, p.header.size, len))
			return SET_BAD_DATA;
		memcpy(next.key, buf + p.hashkey_offset, sizeof(next.key));
	}

	if (!(p.flags & NDIS_RSS_PARAM_FLAG_ITABLE_UNCHANGED)) {
		if (p.indirect_tabsize % sizeof(uint32_t))
			return SET_BAD_DATA;
		n = p.indirect_tabsize / sizeof(uint32_t);
		if (!is_pow2(n) || n > dev->table_entries)
			return SET_BAD_DATA;
		if (!range_ok(p.indirect_taboffset, p.indirect_tabsize, p.header.size, len))
			return SET_BAD_DATA;
		memcpy(next.table, buf + p.indirect_taboffset, p.indirect_tabsize);
		for (i = 0; i < n; i++)
			if (next.table[i] >= dev->max_queues)
				return SET_BAD_DATA;
		next.entries = n;
	}

	/* Enabling needs a table, from this set or an earlier one. */
	if (!next.entries)
		return SET_BAD_DATA;
	next.enabled = true;
	dev->rss = next;
	return SET_OK;
}

static bool utf16_equals_ascii(const uint8_t *u, uint32_t len, const char *s)
{
	uint32_t i, n = (uint32_t)strlen(s);

	if (len != 2 * n)
		return false;
	for (i = 0; i < n; i++) {
		uint8_t c = u[2 * i];

		if (u[2 * i + 1] != 0)
			return false;
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		if (c != (uint8_t)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]))
			return false;
	}
	return true;
}

static int hex_value(uint8_t lo, uint8_t hi)
{
	if (hi != 0)
		return -1;
	if (lo >= '0' && lo <= '9')
		return lo - '0';
	if (lo >= 'a' && lo <= 'f')
		return lo - 'a' + 10;
	if (lo >= 'A' && lo <= 'F')
		return lo - 'A' + 10;
	return -1;
}

/* "NetworkAddress" = 12 hex digits in UTF-16LE: Linux's way to change the
 * MAC address (rndis_filter_set_device_mac). */
static enum set_result set_network_address(struct rndis_dev *dev, uint32_t type,
					   const uint8_t *val, uint32_t val_len)
{
	uint8_t mac[ETH_ALEN];
	uint32_t i;

	if (type != RNDIS_CONFIG_PARAM_TYPE_STRING || val_len != 4 * ETH_ALEN)
		return SET_BAD_DATA;
	for (i = 0; i < ETH_ALEN; i++) {
		int hi = hex_value(val[4 * i], val[4 * i + 1]);
		int lo = hex_value(val[4 * i + 2], val[4 * i + 3]);

		if (hi < 0 || lo < 0)
			return SET_BAD_DATA;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	if (mac[0] & 1)
		return SET_BAD_DATA;
	if (!dev->cfg.allow_mac_change)
		return SET_UNSUPPORTED;
	memcpy(dev->mac, mac, ETH_ALEN);
	return SET_OK;
}

static enum set_result set_config_parameter(struct rndis_dev *dev, const uint8_t *buf,
					    uint32_t len)
{
	struct rndis_config_parameter_info c;
	uint32_t fixed = sizeof(c);

	if (len < fixed)
		return SET_BAD_LENGTH;
	memcpy(&c, buf, sizeof(c));
	if (!range_ok(c.parameter_name_offset, c.parameter_name_length, fixed, len) ||
	    !range_ok(c.parameter_value_offset, c.parameter_value_length, fixed, len) ||
	    c.parameter_name_length % 2 || c.parameter_value_length % 2)
		return SET_BAD_DATA;
	if (utf16_equals_ascii(buf + c.parameter_name_offset, c.parameter_name_length,
			       "NetworkAddress"))
		return set_network_address(dev, c.parameter_type, buf + c.parameter_value_offset,
					   c.parameter_value_length);
	/* Windows guests push their registry keywords here; none changes
	 * what this device does. */
	return SET_OK;
}

static enum set_result set_oid(struct rndis_dev *dev, uint32_t oid, const uint8_t *buf,
			       uint32_t len)
{
	if (len > RNDIS_DEV_SET_MAX)
		return SET_BAD_LENGTH;
	switch (oid) {
	case OID_GEN_CURRENT_PACKET_FILTER:
		return set_packet_filter(dev, buf, len);
	case OID_GEN_CURRENT_LOOKAHEAD:
		return set_lookahead(dev, buf, len);
	case OID_802_3_MULTICAST_LIST:
		return set_multicast_list(dev, buf, len);
	case OID_TCP_OFFLOAD_PARAMETERS:
		return set_offload_params(dev, buf, len);
	case OID_OFFLOAD_ENCAPSULATION:
		return set_encapsulation(buf, len);
	case OID_GEN_RECEIVE_SCALE_PARAMETERS:
		return set_rss_params(dev, buf, len);
	case OID_GEN_RNDIS_CONFIG_PARAMETER:
		return set_config_parameter(dev, buf, len);
	case OID_GEN_NETWORK_LAYER_ADDRESSES:
		/* Windows tells us its IP addresses; nothing here uses them. */
		return SET_OK;
	default:
		return SET_UNSUPPORTED;
	}
}

static uint32_t set_status(struct rndis_dev *dev, enum set_result r)
{
	switch (r) {
	case SET_OK:
		dev->stats.set_ok++;
		return RNDIS_STATUS_SUCCESS;
	case SET_UNSUPPORTED:
		dev->stats.oid_unsupported++;
		return RNDIS_STATUS_NOT_SUPPORTED;
	case SET_BAD_LENGTH:
		dev->stats.oid_bad_length++;
		return RNDIS_STATUS_INVALID_LENGTH;
	default:
		dev->stats.oid_bad_data++;
		return RNDIS_STATUS_INVALID_DATA;
	}
}

/* ---- Control messages ------------------------------------------------------------ */

/* A control request after its header was checked: body is msg_len - 8 bytes
 * (0 when msg_len lies), framing_ok says whether msg_len was sane. */
struct request {
	uint32_t type;
	uint32_t req_id;
	const uint8_t *body;
	uint32_t body_len;
	bool framing_ok;
};

static ssize_t put_reply(uint8_t *out, size_t cap, uint32_t type, const void *body,
			 uint32_t body_len, const void *extra, uint32_t extra_len)
{
	struct rndis_msg_hdr h;
	size_t total = sizeof(h) + body_len + extra_len;

	if (cap < total)
		return -ENOBUFS;
	h.msg_type = type;
	h.msg_len = (uint32_t)total;
	memcpy(out, &h, sizeof(h));
	memcpy(out + sizeof(h), body, body_len);
	if (extra_len)
		memcpy(out + sizeof(h) + body_len, extra, extra_len);
	return (ssize_t)total;
}

/* Where the information buffer of a QUERY or SET lies: fixed bytes of
 * request come first. NULL buffer with length 0 when none was sent. */
static bool info_buffer(const struct request *rq, uint32_t off, uint32_t len,
			const uint8_t **buf)
{
	*buf = NULL;
	if (len == 0)
		return true;
	if (!range_ok(off, len, sizeof(struct rndis_query_request), rq->body_len))
		return false;
	*buf = rq->body + off;
	return true;
}

static ssize_t do_initialize(struct rndis_dev *dev, const struct request *rq,
			     uint8_t *out, size_t cap)
{
	struct rndis_initialize_request req;
	struct rndis_initialize_complete c;

	memset(&c, 0, sizeof(c));
	c.req_id = rq->req_id;
	if (!rq->framing_ok) {
		c.status = RNDIS_STATUS_INVALID_LENGTH;
	} else {
		memcpy(&req, rq->body, sizeof(req));
		if (req.major_ver != RNDIS_MAJOR_VERSION) {
			c.status = RNDIS_STATUS_BAD_VERSION;
		} else {
			/* A second INITIALIZE starts over, as after a HALT. */
			reset_state(dev);
			dev->initialized = true;
			c.status = RNDIS_STATUS_SUCCESS;
			c.major_ver = RNDIS_MAJOR_VERSION;
			c.minor_ver = RNDIS_MINOR_VERSION;
			c.dev_flags = RNDIS_DF_CONNECTIONLESS;
			c.medium = RNDIS_MEDIUM_802_3;
			c.max_pkt_per_msg = dev->max_pkts;
			c.max_xfer_size = MAX_XFER_SIZE;
			c.pkt_alignment_factor = PKT_ALIGNMENT_FACTOR;
		}
	}
	return put_reply(out, cap, RNDIS_MSG_INIT_C, &c, sizeof(c), NULL, 0);
}

static ssize_t do_query(struct rndis_dev *dev, const struct request *rq, uint8_t *out,
			size_t cap)
{
	struct rndis_query_request req;
	struct rndis_query_complete c;
	struct answer a;
	const uint8_t *info;

	memset(&c, 0, sizeof(c));
	c.req_id = rq->req_id;
	a.len = 0;
	if (!rq->framing_ok) {
		c.status = RNDIS_STATUS_INVALID_LENGTH;
	} else if (!dev->initialized) {
		dev->stats.ctrl_not_ready++;
		c.status = RNDIS_STATUS_ADAPTER_NOT_READY;
	} else {
		memcpy(&req, rq->body, sizeof(req));
		if (!info_buffer(rq, req.info_buf_offset, req.info_buflen, &info)) {
			dev->stats.oid_bad_buffer++;
			c.status = RNDIS_STATUS_INVALID_DATA;
		} else {
			c.status = query_oid(dev, req.oid, req.info_buflen, &a);
			if (c.status == RNDIS_STATUS_SUCCESS)
				dev->stats.query_ok++;
			else
				dev->stats.oid_unsupported++;
		}
	}
	if (c.status == RNDIS_STATUS_SUCCESS) {
		c.info_buflen = a.len;
		c.info_buf_offset = sizeof(c);
	} else {
		a.len = 0;
	}
	return put_reply(out, cap, RNDIS_MSG_QUERY_C, &c, sizeof(c), a.buf, a.len);
}

static ssize_t do_set(struct rndis_dev *dev, const struct request *rq, uint8_t *out,
		      size_t cap)
{
	struct rndis_set_request req;
	struct rndis_set_complete c;
	const uint8_t *info;

	c.req_id = rq->req_id;
	if (!rq->framing_ok) {
		c.status = RNDIS_STATUS_INVALID_LENGTH;
	} else if (!dev->initialized) {
		dev->stats.ctrl_not_ready++;
		c.status = RNDIS_STATUS_ADAPTER_NOT_READY;
	} else {
		memcpy(&req, rq->body, sizeof(req));
		if (!info_buffer(rq, req.info_buf_offset, req.info_buflen, &info)) {
			dev->stats.oid_bad_buffer++;
			c.status = RNDIS_STATUS_INVALID_DATA;
		} else {
			c.status = set_status(dev, set_oid(dev, req.oid, info, req.info_buflen));
		}
	}
	return put_reply(out, cap, RNDIS_MSG_SET_C, &c, sizeof(c), NULL, 0);
}

static ssize_t do_reset(struct rndis_dev *dev, const struct request *rq, uint8_t *out,
			size_t cap)
{
	struct rndis_reset_complete c;

	/* Nothing is in flight inside the device; settings survive a reset,
	 * so the guest need not restore its addressing. */
	c.addressing_reset = 0;
	if (!rq->framing_ok) {
		c.status = RNDIS_STATUS_INVALID_LENGTH;
	} else if (!dev->initialized) {
		dev->stats.ctrl_not_ready++;
		c.status = RNDIS_STATUS_ADAPTER_NOT_READY;
	} else {
		c.status = RNDIS_STATUS_SUCCESS;
	}
	return put_reply(out, cap, RNDIS_MSG_RESET_C, &c, sizeof(c), NULL, 0);
}

static ssize_t do_keepalive(struct rndis_dev *dev, const struct request *rq, uint8_t *out,
			    size_t cap)
{
	struct rndis_keepalive_complete c;

	c.req_id = rq->req_id;
	if (!rq->framing_ok) {
		c.status = RNDIS_STATUS_INVALID_LENGTH;
	} else if (!dev->initialized) {
		dev->stats.ctrl_not_ready++;
		c.status = RNDIS_STATUS_ADAPTER_NOT_READY;
	} else {
		c.status = RNDIS_STATUS_SUCCESS;
	}
	return put_reply(out, cap, RNDIS_MSG_KEEPALIVE_C, &c, sizeof(c), NULL, 0);
}

/* The fixed body of each request type, 0 for types the device refuses. */
static uint32_t request_size(uint32_t type)
{
	switch (type) {
	case RNDIS_MSG_INIT:
		return sizeof(struct rndis_initialize_request);
	case RNDIS_MSG_HALT:
		return sizeof(struct rndis_halt_request);
	case RNDIS_MSG_QUERY:
		return sizeof(struct rndis_query_request);
	case RNDIS_MSG_SET:
		return sizeof(struct rndis_set_request);
	case RNDIS_MSG_RESET:
		return sizeof(struct rndis_reset_request);
	case RNDIS_MSG_KEEPALIVE:
		return sizeof(struct rndis_keepalive_request);
	default:
		return 0;
	}
}

ssize_t rndis_dev_control(struct rndis_dev *dev, const void *msg, size_t len,
			  void *out, size_t cap)
{
	const uint8_t *m = msg;
	struct rndis_msg_hdr h;
	struct request rq;
	uint32_t fixed;
	ssize_t ret;

	/* Every request carries a 32-bit id (RESET a reserved word) right
	 * after the header; without it no completion can be matched. */
	if (!msg || len < sizeof(h) + sizeof(uint32_t)) {
		dev->stats.ctrl_bad_msg++;
		return -EBADMSG;
	}
	memcpy(&h, m, sizeof(h));
	fixed = request_size(h.msg_type);
	if (!fixed) {
		dev->stats.ctrl_bad_type++;
		vmbus_logf(&dev->cfg.log, VMBUS_LOG_DEBUG, "rndis: control type %#x refused",
			   h.msg_type);
		return -EPROTO;
	}
	if (h.msg_len < sizeof(h) + sizeof(uint32_t)) {
		dev->stats.ctrl_bad_msg++;
		return -EBADMSG;
	}

	rq.type = h.msg_type;
	memcpy(&rq.req_id, m + sizeof(h), sizeof(rq.req_id));
	rq.body = m + sizeof(h);
	rq.framing_ok = h.msg_len <= len && h.msg_len - sizeof(h) >= fixed;
	rq.body_len = rq.framing_ok ? h.msg_len - (uint32_t)sizeof(h) : 0;
	if (!rq.framing_ok) {
		dev->stats.ctrl_bad_msg++;
		vmbus_logf(&dev->cfg.log, VMBUS_LOG_DEBUG,
			   "rndis: msg_len %u of type %#x does not fit %zu bytes",
			   h.msg_len, h.msg_type, len);
	}

	switch (rq.type) {
	case RNDIS_MSG_INIT:
		ret = do_initialize(dev, &rq, out, cap);
		break;
	case RNDIS_MSG_HALT:
		/* HALT has no completion; the guest stops using the device. */
		if (rq.framing_ok)
			dev->initialized = false;
		ret = 0;
		break;
	case RNDIS_MSG_QUERY:
		ret = do_query(dev, &rq, out, cap);
		break;
	case RNDIS_MSG_SET:
		ret = do_set(dev, &rq, out, cap);
		break;
	case RNDIS_MSG_RESET:
		ret = do_reset(dev, &rq, out, cap);
		break;
	default:
		ret = do_keepalive(dev, &rq, out, cap);
		break;
	}
	if (ret >= 0)
		dev->stats.ctrl_msgs++;
	return ret;
}

ssize_t rndis_dev_indicate_status(struct rndis_dev *dev, uint32_t status,
				  const void *payload, uint32_t payload_len,
				  void *out, size_t cap)
{
	struct rndis_indicate_status s;

	(void)dev;
	if (payload_len > RNDIS_DEV_QUERY_MAX || (payload_len && !payload))
		return -EINVAL;
	s.status = status;
	s.status_buflen = payload_len;
	s.status_buf_offset = payload_len ? sizeof(s) : 0;
	return put_reply(out, cap, RNDIS_MSG_INDICATE, &s, sizeof(s), payload, payload_len);
}

ssize_t rndis_dev_set_link(struct rndis_dev *dev, bool up, void *out, size_t cap)
{
	ssize_t ret;

	ret = rndis_dev_indicate_status(dev, up ? RNDIS_STATUS_MEDIA_CONNECT :
						  RNDIS_STATUS_MEDIA_DISCONNECT,
					NULL, 0, out, cap);
	if (ret >= 0)
		dev->link_up = up;
	return ret;
}

/* ---- PACKET, guest to host ---------------------------------------------------------- */

struct ppi_values {
	bool csum, lso, vlan, hash;
	uint32_t csum_v, lso_v, vlan_v, hash_v;
};

/* Walk the per-packet info elements in area (len bytes, all readable). */
static int walk_ppis(const uint8_t *area, uint32_t len, struct ppi_values *v)
{
	struct rndis_per_packet_info e;
	uint32_t pos = 0;

	while (pos < len) {
		uint32_t rest = len - pos;
		uint32_t data;

		if (rest < sizeof(e))
			return -EBADMSG;
		memcpy(&e, area + pos, sizeof(e));
		/* A size of 0 would never advance; one shorter than the header
		 * would overlap the next element. */
		if (e.size < sizeof(e) || e.size > rest)
			return -EBADMSG;
		if (e.ppi_offset < sizeof(e) || e.ppi_offset > e.size)
			return -EBADMSG;
		if (!(e.type & RNDIS_PPI_INTERNAL) && e.size - e.ppi_offset >= sizeof(data)) {
			memcpy(&data, area + pos + e.ppi_offset, sizeof(data));
		} else if (e.type == TCPIP_CHKSUM_PKTINFO || e.type == TCP_LARGESEND_PKTINFO ||
			   e.type == IEEE_8021Q_INFO || e.type == NBL_HASH_VALUE) {
			return -EBADMSG;
		} else {
			data = 0;
		}
		switch (e.type) {
		case TCPIP_CHKSUM_PKTINFO:
			v->csum = true;
			v->csum_v = data;
			break;
		case TCP_LARGESEND_PKTINFO:
			v->lso = true;
			v->lso_v = data;
			break;
		case IEEE_8021Q_INFO:
			v->vlan = true;
			v->vlan_v = data;
			break;
		case NBL_HASH_VALUE:
			v->hash = true;
			v->hash_v = data;
			break;
		default:
			break;	/* other types carry nothing the host acts on */
		}
		pos += e.size;
	}
	return 0;
}

/* Turn the offload PPIs into flags, checked against the frame and against
 * what the device offers. */
static int decode_offloads(const struct rndis_dev *dev, const struct ppi_values *v,
			   struct rndis_tx_packet *pkt)
{
	uint32_t offered = dev->cfg.offloads;
	uint32_t thoff;

	if (v->lso) {
		bool v6 = v->lso_v & NDIS_LSO2_INFO_ISIPV6;

		thoff = (v->lso_v & NDIS_LSO2_INFO_THOFF_MASK) >> NDIS_LSO2_INFO_THOFF_SHIFT;
		pkt->mss = v->lso_v & NDIS_LSO2_INFO_MSS_MASK;
		if (!(offered & (v6 ? RNDIS_OFFLOAD_LSO6 : RNDIS_OFFLOAD_LSO4)))
			return -EOPNOTSUPP;
		if (pkt->mss == 0 || thoff < ETH_HLEN ||
		    (uint64_t)thoff + MIN_TCP_HLEN > pkt->frame_len)
			return -EBADMSG;
		pkt->flags |= RNDIS_TX_LSO | RNDIS_TX_CSUM_TCP |
			      (v6 ? RNDIS_TX_IPV6 : (RNDIS_TX_IPV4 | RNDIS_TX_CSUM_IP));
		pkt->l4_offset = (uint16_t)thoff;
		return 0;
	}
	if (v->csum) {
		uint32_t c = v->csum_v;
		bool v4 = c & NDIS_TXCSUM_INFO_IPV4, v6 = c & NDIS_TXCSUM_INFO_IPV6;
		bool tcp = c & NDIS_TXCSUM_INFO_TCPCS, udp = c & NDIS_TXCSUM_INFO_UDPCS;
		bool ip = v4 && (c & NDIS_TXCSUM_INFO_IPCS);
		uint32_t need = 0;

		if ((v4 && v6) || (tcp && udp) || ((tcp || udp || ip) && !v4 && !v6))
			return -EBADMSG;
		if (ip)
			need |= RNDIS_OFFLOAD_TX_IP4;
		if (tcp)
			need |= v4 ? RNDIS_OFFLOAD_TX_TCP4 : RNDIS_OFFLOAD_TX_TCP6;
		if (udp)
			need |= v4 ? RNDIS_OFFLOAD_TX_UDP4 : RNDIS_OFFLOAD_TX_UDP6;
		if ((need & offered) != need)
			return -EOPNOTSUPP;
		if (tcp || udp) {
			thoff = (c & NDIS_TXCSUM_INFO_THOFF_MASK) >> NDIS_TXCSUM_INFO_THOFF_SHIFT;
			if (thoff < ETH_HLEN ||
			    (uint64_t)thoff + (tcp ? MIN_TCP_HLEN : MIN_UDP_HLEN) > pkt->frame_len)
				return -EBADMSG;
			pkt->l4_offset = (uint16_t)thoff;
		}
		pkt->flags |= (v4 ? RNDIS_TX_IPV4 : 0) | (v6 ? RNDIS_TX_IPV6 : 0) |
			      (ip ? RNDIS_TX_CSUM_IP : 0) | (tcp ? RNDIS_TX_CSUM_TCP : 0) |
			      (udp ? RNDIS_TX_CSUM_UDP : 0);
	}
	return 0;
}

static int tx_reject(struct rndis_dev *dev, uint64_t *counter, int err, const char *why)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
	vmbus_logf(&dev->cfg.log, VMBUS_LOG_DEBUG, "rndis: packet rejected: %s", why);
	return err;
}

int rndis_dev_parse_packet(struct rndis_dev *dev, const void *msg, size_t hdr_len,
			   size_t total_len, struct rndis_tx_packet *pkt)
{
	const uint8_t *m = msg;
	const size_t fixed = sizeof(struct rndis_msg_hdr) + sizeof(struct rndis_packet);
	struct rndis_msg_hdr h;
	struct rndis_packet p;
	struct ppi_values v;
	uint32_t body_len, body_hdr_len, max_frame;
	int ret;

	memset(pkt, 0, sizeof(*pkt));
	if (hdr_len > total_len)
		hdr_len = total_len;
	if (!msg || hdr_len < fixed)
		return tx_reject(dev, &dev->stats.tx_bad_header, -EBADMSG, "short header");
	memcpy(&h, m, sizeof(h));
	memcpy(&p, m + sizeof(h), sizeof(p));
	if (h.msg_type != RNDIS_MSG_PACKET || h.msg_len < fixed || h.msg_len > total_len)
		return tx_reject(dev, &dev->stats.tx_bad_header, -EBADMSG, "bad header");

	/* Offsets count from the PACKET body. Everything must lie inside
	 * msg_len; what the device reads itself (OOB, PPIs) must also lie in
	 * the readable part. */
	body_len = h.msg_len - (uint32_t)sizeof(h);
	body_hdr_len = (uint32_t)((hdr_len < h.msg_len ? hdr_len : h.msg_len) - sizeof(h));

	if (p.vc_handle != 0)
		return tx_reject(dev, &dev->stats.tx_bad_oob, -EOPNOTSUPP, "VC handle");
	if ((p.oob_data_len || p.num_oob_data_elements) &&
	    (!p.oob_data_len ||
	     !range_ok(p.oob_data_offset, p.oob_data_len, sizeof(p), body_hdr_len)))
		return tx_reject(dev, &dev->stats.tx_bad_oob, -EBADMSG, "OOB outside");

	if (p.data_len == 0 || !range_ok(p.data_offset, p.data_len, sizeof(p), body_len))
		return tx_reject(dev, &dev->stats.tx_bad_data, -EBADMSG, "data outside");

	memset(&v, 0, sizeof(v));
	if (p.per_pkt_info_len) {
		if (!range_ok(p.per_pkt_info_offset, p.per_pkt_info_len, sizeof(p), body_hdr_len))
			return tx_reject(dev, &dev->stats.tx_bad_ppi, -EBADMSG, "PPI outside");
		if (walk_ppis(m + sizeof(h) + p.per_pkt_info_offset, p.per_pkt_info_len, &v))
			return tx_reject(dev, &dev->stats.tx_bad_ppi, -EBADMSG, "bad PPI");
	}

	pkt->msg_len = h.msg_len;
	pkt->frame_offset = (uint32_t)sizeof(h) + p.data_offset;
	pkt->frame_len = p.data_len;

	if (pkt->frame_len < ETH_HLEN)
		return tx_reject(dev, &dev->stats.tx_runt, -EMSGSIZE, "runt frame");
	/* VLAN tags travel in a PPI, so the frame has a plain 14-byte header. */
	max_frame = v.lso ? RNDIS_DEV_MAX_LSO_FRAME : dev->mtu + ETH_HLEN;
	if (pkt->frame_len > max_frame)
		return tx_reject(dev, &dev->stats.tx_oversize, -EMSGSIZE, "frame too long");

	ret = decode_offloads(dev, &v, pkt);
	if (ret)
		return tx_reject(dev, &dev->stats.tx_bad_offload, ret, "bad offload request");
	if (v.vlan) {
		pkt->flags |= RNDIS_TX_VLAN;
		pkt->vlan_pri = (uint8_t)(v.vlan_v & NDIS_VLAN_INFO_PRI_MASK);
		pkt->vlan_cfi = (v.vlan_v & NDIS_VLAN_INFO_CFI_MASK) ? 1 : 0;
		pkt->vlan_id = (uint16_t)((v.vlan_v & NDIS_VLAN_INFO_ID_MASK) >>
					  NDIS_VLAN_INFO_ID_SHIFT);
	}
	if (v.hash) {
		pkt->flags |= RNDIS_TX_HASH;
		pkt->hash = v.hash_v;
	}
	COUNT(dev, tx_packets);
	COUNT_N(dev, tx_bytes, pkt->frame_len);
	return 0;
}

/* ---- PACKET, host to guest ------------------------------------------------------------ */

static uint8_t *put_ppi(uint8_t *p, uint32_t type, uint32_t value)
{
	struct rndis_per_packet_info e = {
		.size = RNDIS_PPI_SIZE,
		.type = type,
		.ppi_offset = sizeof(e),
	};

	memcpy(p, &e, sizeof(e));
	put32(p + sizeof(e), value);
	return p + RNDIS_PPI_SIZE;
}

ssize_t rndis_dev_build_packet(struct rndis_dev *dev, void *out, size_t cap,
			       uint32_t frame_len, const struct rndis_rx_info *info)
{
	uint32_t flags = info ? info->flags : 0;
	uint32_t n_ppi = 0, hdr_len;
	struct rndis_msg_hdr h;
	struct rndis_packet p;
	uint8_t *o = out, *q;

	if (flags & RNDIS_RX_CSUM)
		n_ppi++;
	if (flags & RNDIS_RX_VLAN)
		n_ppi++;
	if (flags & RNDIS_RX_HASH)
		n_ppi += 2;
	hdr_len = (uint32_t)(sizeof(h) + sizeof(p) + n_ppi * RNDIS_PPI_SIZE);
	if (frame_len == 0 || frame_len > RNDIS_DEV_MAX_LSO_FRAME) {
		COUNT(dev, rx_bad);
		return -EMSGSIZE;
	}
	if (!out || cap < hdr_len) {
		COUNT(dev, rx_bad);
		return -ENOBUFS;
	}

	h.msg_type = RNDIS_MSG_PACKET;
	h.msg_len = hdr_len + frame_len;
	memset(&p, 0, sizeof(p));
	p.data_offset = hdr_len - (uint32_t)sizeof(h);
	p.data_len = frame_len;
	/* Linux takes a PPI offset of 0 to mean "no PPIs". */
	if (n_ppi) {
		p.per_pkt_info_offset = sizeof(p);
		p.per_pkt_info_len = n_ppi * RNDIS_PPI_SIZE;
	}
	memcpy(o, &h, sizeof(h));
	memcpy(o + sizeof(h), &p, sizeof(p));
	q = o + sizeof(h) + sizeof(p);
	if (flags & RNDIS_RX_CSUM)
		q = put_ppi(q, TCPIP_CHKSUM_PKTINFO, info->csum);
	if (flags & RNDIS_RX_VLAN)
		q = put_ppi(q, IEEE_8021Q_INFO,
			    (info->vlan_pri & NDIS_VLAN_INFO_PRI_MASK) |
			    (info->vlan_cfi ? NDIS_VLAN_INFO_CFI_MASK : 0) |
			    ((uint32_t)(info->vlan_id & 0xfff) << NDIS_VLAN_INFO_ID_SHIFT));
	if (flags & RNDIS_RX_HASH) {
		q = put_ppi(q, NBL_HASH_VALUE, info->hash);
		put_ppi(q, NBL_HASH_INFO, info->hash_info);
	}
	COUNT(dev, rx_packets);
	COUNT_N(dev, rx_bytes, frame_len);
	return hdr_len;
}

static bool mac_in_list(const struct rndis_dev *dev, const uint8_t *mac)
{
	uint32_t i;

	for (i = 0; i < dev->n_mcast; i++)
		if (!memcmp(dev->mcast[i], mac, ETH_ALEN))
			return true;
	return false;
}

bool rndis_dev_rx_accept(const struct rndis_dev *dev, const void *frame, size_t len)
{
	static const uint8_t broadcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const uint8_t *dst = frame;
	uint32_t f = dev->filter;

	if (!dev->initialized || !frame || len < ETH_HLEN || !f)
		return false;
	if (f & NDIS_PACKET_TYPE_PROMISCUOUS)
		return true;
	if (!memcmp(dst, broadcast, ETH_ALEN))
		return f & NDIS_PACKET_TYPE_BROADCAST;
	if (dst[0] & 1)
		return (f & NDIS_PACKET_TYPE_ALL_MULTICAST) ||
		       ((f & NDIS_PACKET_TYPE_MULTICAST) && mac_in_list(dev, dst));
	return (f & NDIS_PACKET_TYPE_DIRECTED) && !memcmp(dst, dev->mac, ETH_ALEN);
}

unsigned int rndis_dev_rss_classify(const struct rndis_dev *dev, const void *frame,
				    size_t len, struct rndis_rx_info *info)
{
	uint32_t hash, type;

	if (!dev->rss.enabled || !dev->rss.entries)
		return 0;
	if (rndis_toeplitz_hash_frame(dev->rss.key, dev->rss.hash_types, frame, len,
				      &hash, &type))
		return 0;
	info->flags |= RNDIS_RX_HASH;
	info->hash = hash;
	info->hash_info = NDIS_HASH_FUNCTION_TOEPLITZ | type;
	/* NDIS indexes the table with the low bits of the hash. */
	return dev->rss.table[hash & (dev->rss.entries - 1)];
}
