/* SPDX-License-Identifier: MIT */
/*
 * Toeplitz hash for receive-side scaling, and the NDIS choice of which
 * header fields of a frame feed it.
 *
 * Sources: the Microsoft "Verifying the RSS Hash Calculation" page (input
 * order: source address, destination address, source port, destination
 * port, all in network byte order) and its verification-suite vectors;
 * NDIS_HASH_* types from include/vmbus/proto/rndis.h.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <vmbus/rndis_dev.h>

#define ETH_HLEN		14u
#define ETH_P_IPV4		0x0800u
#define ETH_P_IPV6		0x86ddu
#define ETH_P_8021Q		0x8100u
#define ETH_P_8021AD		0x88a8u
#define IPPROTO_TCP_NUM		6u
#define IPPROTO_UDP_NUM		17u

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t rndis_toeplitz_hash(const uint8_t *key, size_t key_len, const void *data, size_t len)
{
	const uint8_t *d = data;
	uint32_t window = 0;
	uint32_t hash = 0;
	size_t i;
	int bit;

	/* window holds the 32 key bits that start at the current input bit;
	 * each input bit shifts the next key bit in. */
	for (i = 0; i < 4; i++)
		window = window << 8 | (i < key_len ? key[i] : 0);

	for (i = 0; i < len; i++) {
		uint8_t next = i + 4 < key_len ? key[i + 4] : 0;

		for (bit = 7; bit >= 0; bit--) {
			if (d[i] & (1u << bit))
				hash ^= window;
			window = window << 1 | ((next >> bit) & 1u);
		}
	}
	return hash;
}

/* Fold the _EX types onto the plain ones: without walking extension headers
 * the two hash the same fields. */
static uint32_t effective_types(uint32_t types)
{
	if (types & NDIS_HASH_IPV6_EX)
		types |= NDIS_HASH_IPV6;
	if (types & NDIS_HASH_TCP_IPV6_EX)
		types |= NDIS_HASH_TCP_IPV6;
	if (types & NDIS_HASH_UDP_IPV6_EX)
		types |= NDIS_HASH_UDP_IPV6;
	return types;
}

/*
 * Pick the tuple: addr_len bytes of addresses at addrs, ports at l4 when
 * proto and types allow. Fills input and returns its length, 0 if nothing
 * applies.
 */
static size_t pick_tuple(const uint8_t *f, size_t len, size_t addrs, size_t addr_len,
			 size_t l4, unsigned int proto, bool fragment, uint32_t types,
			 uint32_t tcp_type, uint32_t udp_type, uint32_t ip_type,
			 uint8_t *input, uint32_t *type)
{
	bool ports = !fragment && l4 <= len && len - l4 >= 4;

	memcpy(input, f + addrs, 2 * addr_len);
	if (ports && proto == IPPROTO_TCP_NUM && (types & tcp_type)) {
		memcpy(input + 2 * addr_len, f + l4, 4);
		*type = tcp_type;
		return 2 * addr_len + 4;
	}
	if (ports && proto == IPPROTO_UDP_NUM && (types & udp_type)) {
		memcpy(input + 2 * addr_len, f + l4, 4);
		*type = udp_type;
		return 2 * addr_len + 4;
	}
	if (types & ip_type) {
		*type = ip_type;
		return 2 * addr_len;
	}
	return 0;
}

int rndis_toeplitz_hash_frame(const uint8_t key[NDIS_RSS_HASH_KEY_SIZE_TOEPLITZ],
			      uint32_t hash_types, const void *frame, size_t len,
			      uint32_t *hash, uint32_t *hash_type)
{
	const uint8_t *f = frame;
	uint8_t input[36];
	uint32_t types = effective_types(hash_types);
	uint32_t type = 0;
	size_t l3 = ETH_HLEN;
	size_t n = 0;
	uint16_t ethertype;

	if (!frame || len < ETH_HLEN)
		return -ENOENT;
	ethertype = be16(f + 12);
	if (ethertype == ETH_P_8021Q || ethertype == ETH_P_8021AD) {
		if (len < ETH_HLEN + 4)
			return -ENOENT;
		ethertype = be16(f + 16);
		l3 += 4;
	}

	if (ethertype == ETH_P_IPV4) {
		size_t ihl;
		bool fragment;

		if (len - l3 < 20 || (f[l3] >> 4) != 4)
			return -ENOENT;
		ihl = (size_t)(f[l3] & 0xf) * 4;
		if (ihl < 20 || len - l3 < ihl)
			return -ENOENT;
		/* A fragment has no ports, or not the first fragment's. */
		fragment = (be16(f + l3 + 6) & 0x3fffu) != 0;
		n = pick_tuple(f, len, l3 + 12, 4, l3 + ihl, f[l3 + 9], fragment, types,
			       NDIS_HASH_TCP_IPV4, NDIS_HASH_UDP_IPV4, NDIS_HASH_IPV4,
			       input, &type);
	} else if (ethertype == ETH_P_IPV6) {
		if (len - l3 < 40 || (f[l3] >> 4) != 6)
			return -ENOENT;
		n = pick_tuple(f, len, l3 + 8, 16, l3 + 40, f[l3 + 6], false, types,
			       NDIS_HASH_TCP_IPV6, NDIS_HASH_UDP_IPV6, NDIS_HASH_IPV6,
			       input, &type);
	}
	if (n == 0)
		return -ENOENT;

	*hash = rndis_toeplitz_hash(key, NDIS_RSS_HASH_KEY_SIZE_TOEPLITZ, input, n);
	*hash_type = type;
	return 0;
}
