/* SPDX-License-Identifier: MIT */
/*
 * NIC backend selection for netvsp: the spec parser, the dispatch to the
 * backend, the capture hook, and the software offloads every backend falls
 * back on (checksums, TCP segmentation, VLAN insertion).
 *
 * Formats: Ethernet II and 802.1Q (IEEE 802.1Q), IPv4 (RFC 791), IPv6
 * (RFC 8200), TCP (RFC 793), UDP (RFC 768), the Internet checksum
 * (RFC 1071), NDIS LSO v2 conventions (the guest zeroes the IP length),
 * and the RNDIS per-packet info decoded by rndis_dev.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nic.h"

#define ETH_HLEN	14u
#define ETH_P_IP	0x0800u
#define ETH_P_IPV6	0x86ddu
#define ETH_P_8021Q	0x8100u
#define ETH_P_8021AD	0x88a8u
#define IPPROTO_TCP_	6u
#define IPPROTO_UDP_	17u
#define TCP_FIN		0x01u
#define TCP_PSH		0x08u
#define TCP_CWR		0x80u

struct netvsp_nic {
	const struct netvsp_nic_backend *be;
	void *priv;
	enum netvsp_nic_kind kind;
	unsigned int queues;
	struct vmbus_log log;
	struct netvsp_capture *capture;		/* read with __atomic */
	struct netvsp_capture *owned_capture;
	struct netvsp_nic_stats *stats;		/* one per queue */
};

/* ---- Byte helpers ------------------------------------------------------------------- */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* ---- Checksums ---------------------------------------------------------------------- */

uint32_t netvsp_nic_csum_add(uint32_t sum, const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t s = sum;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		s += (uint32_t)b[len - 1] << 8;
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

uint16_t netvsp_nic_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

int netvsp_nic_csum_complete(uint8_t *buf, size_t len, size_t start, size_t off)
{
	uint16_t c;

	if (start > len || off > len - start || len - start - off < 2)
		return -EINVAL;
	c = (uint16_t)~netvsp_nic_csum_fold(netvsp_nic_csum_add(0, buf + start, len - start));
	put16(buf + start + off, c ? c : 0xffff);
	return 0;
}

/* ---- Header parsing ----------------------------------------------------------------- */

#define L4_FLAGS (NETVSP_NIC_TX_CSUM_TCP | NETVSP_NIC_TX_CSUM_UDP | NETVSP_NIC_TX_LSO)

int netvsp_nic_parse_headers(const uint8_t *b, size_t avail, size_t frame_len,
			     const struct netvsp_nic_tx_offload *ol, struct netvsp_nic_hdrs *h)
{
	uint32_t flags = ol->flags;
	size_t l3 = ETH_HLEN, l4, min_l4, ip_end;
	uint16_t et;

	memset(h, 0, sizeof(*h));
	if (avail > frame_len)
		avail = frame_len;
	if (avail < ETH_HLEN || (flags & NETVSP_NIC_TX_VLAN))
		return -EINVAL;
	et = get16(b + 12);
	if (et == ETH_P_8021Q || et == ETH_P_8021AD) {
		if (avail < 18)
			return -EINVAL;
		et = get16(b + 16);
		l3 = 18;
	}
	h->l3 = (uint16_t)l3;
	if (et == ETH_P_IP) {
		if (avail < l3 + 20 || (b[l3] >> 4) != 4)
			return -EINVAL;
		h->v4 = true;
		h->l3_len = (uint16_t)((b[l3] & 15u) * 4u);
		if (h->l3_len < 20 || avail < l3 + h->l3_len)
			return -EINVAL;
		ip_end = l3 + get16(b + l3 + 2);
	} else if (et == ETH_P_IPV6) {
		if (avail < l3 + 40 || (b[l3] >> 4) != 6)
			return -EINVAL;
		h->l3_len = 40;
		ip_end = l3 + 40 + get16(b + l3 + 4);
	} else {
		return -EINVAL;
	}
	h->hdr_len = (uint16_t)(l3 + h->l3_len);
	if ((flags & NETVSP_NIC_TX_CSUM_IP4) && !h->v4)
		return -EINVAL;
	if (!(flags & L4_FLAGS))
		return 0;

	if ((flags & NETVSP_NIC_TX_CSUM_TCP) && (flags & NETVSP_NIC_TX_CSUM_UDP))
		return -EINVAL;
	if ((flags & NETVSP_NIC_TX_LSO) && (flags & NETVSP_NIC_TX_CSUM_UDP))
		return -EINVAL;
	h->proto = (flags & NETVSP_NIC_TX_CSUM_UDP) ? IPPROTO_UDP_ : IPPROTO_TCP_;
	h->csum_offset = h->proto == IPPROTO_TCP_ ? 16 : 6;
	if (ol->csum_offset && ol->csum_offset != h->csum_offset)
		return -EINVAL;
	if (h->v4 && b[l3 + 9] != h->proto)
		return -EINVAL;

	l4 = ol->csum_start;
	min_l4 = l3 + (h->v4 ? h->l3_len : 40u);
	if (l4 < min_l4)
		return -EINVAL;
	if (h->proto == IPPROTO_TCP_) {
		if (avail < l4 + 20)
			return -EINVAL;
		h->l4_len = (uint16_t)((b[l4 + 12] >> 4) * 4u);
		if (h->l4_len < 20)
			return -EINVAL;
	} else {
		h->l4_len = 8;
	}
	if (avail < l4 + h->l4_len)
		return -EINVAL;
	h->l4 = (uint16_t)l4;
	h->l3_len = (uint16_t)(l4 - l3);
	h->hdr_len = (uint16_t)(l4 + h->l4_len);

	if (flags & NETVSP_NIC_TX_LSO) {
		/* The guest leaves the IP length 0 (NDIS LSO v2); the frame
		 * length is what counts. */
		if (ol->mss < NETVSP_NIC_MIN_MSS || frame_len - l3 > 0xffffu + (h->v4 ? 0 : 40))
			return -EINVAL;
		h->l4_total = (uint32_t)(frame_len - l4);
		return 0;
	}
	/* A short frame may be padded on the wire; the checksum covers the
	 * IP payload only, so the IP length decides. */
	if (ip_end > frame_len || ip_end < (size_t)h->hdr_len)
		return -EINVAL;
	h->l4_total = (uint32_t)(ip_end - l4);
	return 0;
}

void netvsp_nic_set_ip_len(uint8_t *b, const struct netvsp_nic_hdrs *h, size_t frame_len)
{
	if (h->v4)
		put16(b + h->l3 + 2, (uint16_t)(frame_len - h->l3));
	else
		put16(b + h->l3 + 4, (uint16_t)(frame_len - h->l3 - 40));
}

void netvsp_nic_ip4_csum(uint8_t *b, const struct netvsp_nic_hdrs *h)
{
	size_t ihl = (b[h->l3] & 15u) * 4u;

	put16(b + h->l3 + 10, 0);
	put16(b + h->l3 + 10,
	      (uint16_t)~netvsp_nic_csum_fold(netvsp_nic_csum_add(0, b + h->l3, ihl)));
}

uint16_t netvsp_nic_pseudo_sum(const uint8_t *b, const struct netvsp_nic_hdrs *h,
			       uint32_t l4_len)
{
	uint32_t s;

	if (h->v4)
		s = netvsp_nic_csum_add(0, b + h->l3 + 12, 8);
	else
		s = netvsp_nic_csum_add(0, b + h->l3 + 8, 32);
	s += h->proto;
	s += l4_len >> 16;
	s += l4_len & 0xffff;
	return netvsp_nic_csum_fold(s);
}

/* Checksums of one finished frame (no LSO left to do). */
static void sw_csum(uint8_t *b, const struct netvsp_nic_hdrs *h, uint32_t flags)
{
	if (h->v4 && (flags & (NETVSP_NIC_TX_CSUM_IP4 | NETVSP_NIC_TX_LSO)))
		netvsp_nic_ip4_csum(b, h);
	if (h->proto) {
		uint8_t *field = b + h->l4 + h->csum_offset;
		uint32_t s;
		uint16_t c;

		put16(field, 0);
		s = netvsp_nic_pseudo_sum(b, h, h->l4_total);
		s = netvsp_nic_csum_add(s, b + h->l4, h->l4_total);
		c = (uint16_t)~netvsp_nic_csum_fold(s);
		/* 0 means "no checksum" in UDP; 0xffff is the same value. */
		put16(field, c || h->proto == IPPROTO_TCP_ ? c : 0xffff);
	}
}

/* ---- Software offloads -------------------------------------------------------------- */

int netvsp_nic_sw_offload(uint8_t *buf, size_t len, const struct netvsp_nic_tx_offload *ol,
			  uint8_t *scratch, size_t scratch_cap,
			  netvsp_nic_emit_fn *emit, void *opaque)
{
	struct netvsp_nic_hdrs h;
	size_t payload, off, mss, seg;
	uint32_t seq;
	uint16_t id;
	uint8_t tcp_flags;
	int ret, count = 0;

	if (!(ol->flags & (NETVSP_NIC_TX_CSUM_IP4 | L4_FLAGS))) {
		if (ol->flags & NETVSP_NIC_TX_VLAN)
			return -EINVAL;
		ret = emit(opaque, buf, len);
		return ret < 0 ? ret : 1;
	}
	ret = netvsp_nic_parse_headers(buf, len, len, ol, &h);
	if (ret)
		return ret;
	if (!(ol->flags & NETVSP_NIC_TX_LSO)) {
		sw_csum(buf, &h, ol->flags);
		ret = emit(opaque, buf, len);
		return ret < 0 ? ret : 1;
	}

	payload = len - h.hdr_len;
	mss = ol->mss < payload ? ol->mss : payload;
	if (!scratch || scratch_cap < (size_t)h.hdr_len + mss)
		return -EINVAL;
	seq = get32(buf + h.l4 + 4);
	id = h.v4 ? get16(buf + h.l3 + 4) : 0;
	tcp_flags = buf[h.l4 + 13];
	off = 0;
	do {
		uint8_t fl = tcp_flags;
		size_t slen;

		seg = payload - off < mss ? payload - off : mss;
		slen = h.hdr_len + seg;
		memcpy(scratch, buf, h.hdr_len);
		memcpy(scratch + h.hdr_len, buf + h.hdr_len + off, seg);
		netvsp_nic_set_ip_len(scratch, &h, slen);
		if (h.v4)
			put16(scratch + h.l3 + 4, (uint16_t)(id + count));
		put32(scratch + h.l4 + 4, seq + (uint32_t)off);
		if (off + seg < payload)
			fl &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (off)
			fl &= (uint8_t)~TCP_CWR;
		scratch[h.l4 + 13] = fl;
		h.l4_total = (uint32_t)(slen - h.l4);
		sw_csum(scratch, &h, ol->flags);
		ret = emit(opaque, scratch, slen);
		if (ret < 0)
			return ret;
		count++;
		off += seg;
	} while (off < payload);
	return count;
}

ssize_t netvsp_nic_linearize(const struct netvsp_nic_frame *f, uint8_t *buf, size_t cap,
			     struct netvsp_nic_tx_offload *ol)
{
	bool vlan = f->ol.flags & NETVSP_NIC_TX_VLAN;
	size_t total = 0, out = 0, i;

	*ol = f->ol;
	if (!f->iov || f->iovcnt == 0 || f->iovcnt > NETVSP_NIC_MAX_IOV)
		return -EINVAL;
	for (i = 0; i < f->iovcnt; i++) {
		if (f->iov[i].iov_len > NETVSP_NIC_FRAME_MAX)
			return -EMSGSIZE;
		total += f->iov[i].iov_len;
	}
	if (total != f->len || total == 0)
		return -EINVAL;
	if (vlan && total < ETH_HLEN)
		return -EINVAL;
	if (total + (vlan ? 4 : 0) > cap)
		return -EMSGSIZE;
	for (i = 0; i < f->iovcnt; i++) {
		const uint8_t *p = f->iov[i].iov_base;
		size_t n = f->iov[i].iov_len;

		/* The tag goes after the two MAC addresses. */
		if (vlan && out < 12 && out + n >= 12) {
			size_t head = 12 - out;

			memcpy(buf + out, p, head);
			buf[12] = ETH_P_8021Q >> 8;
			buf[13] = ETH_P_8021Q & 0xff;
			put16(buf + 14, f->ol.vlan_tci);
			out = 16;
			p += head;
			n -= head;
			vlan = false;
		}
		memcpy(buf + out, p, n);
		out += n;
	}
	if (f->ol.flags & NETVSP_NIC_TX_VLAN) {
		ol->flags &= ~NETVSP_NIC_TX_VLAN;
		if (ol->flags & L4_FLAGS)
			ol->csum_start = (uint16_t)(ol->csum_start + 4);
	}
	return (ssize_t)out;
}

struct soft_ctx {
	struct netvsp_nic *nic;
	unsigned int q;
	netvsp_nic_emit_fn *emit;
	void *opaque;
};

int netvsp_nic_tx_soft(struct netvsp_nic *nic, unsigned int q, const struct netvsp_nic_frame *f,
		       uint8_t *lin, uint8_t *scratch, netvsp_nic_emit_fn *emit, void *opaque)
{
	struct netvsp_nic_tx_offload ol;
	ssize_t len;
	int ret;

	len = netvsp_nic_linearize(f, lin, NETVSP_NIC_FRAME_MAX, &ol);
	if (len < 0) {
		NETVSP_NIC_STAT(nic, q, tx_drop_invalid, 1);
		return -EINVAL;
	}
	ret = netvsp_nic_sw_offload(lin, (size_t)len, &ol, scratch, NETVSP_NIC_FRAME_MAX,
				    emit, opaque);
	if (ret == -EINVAL) {
		NETVSP_NIC_STAT(nic, q, tx_drop_invalid, 1);
		vmbus_logf(&nic->log, VMBUS_LOG_DEBUG,
			   "nic: q%u: frame dropped: offload request does not fit it", q);
		return ret;
	}
	if (ret > 0) {
		if (ol.flags & (NETVSP_NIC_TX_CSUM_IP4 | L4_FLAGS))
			NETVSP_NIC_STAT(nic, q, tx_sw_csum, 1);
		if (ol.flags & NETVSP_NIC_TX_LSO)
			NETVSP_NIC_STAT(nic, q, tx_sw_segments, (uint64_t)ret);
	}
	return ret;
}

/* ---- RNDIS glue --------------------------------------------------------------------- */

void netvsp_nic_offload_from_rndis(const struct rndis_tx_packet *pkt,
				   struct netvsp_nic_tx_offload *ol)
{
	memset(ol, 0, sizeof(*ol));
	if (pkt->flags & RNDIS_TX_CSUM_IP)
		ol->flags |= NETVSP_NIC_TX_CSUM_IP4;
	if (pkt->flags & RNDIS_TX_CSUM_TCP) {
		ol->flags |= NETVSP_NIC_TX_CSUM_TCP;
		ol->csum_offset = 16;
	}
	if (pkt->flags & RNDIS_TX_CSUM_UDP) {
		ol->flags |= NETVSP_NIC_TX_CSUM_UDP;
		ol->csum_offset = 6;
	}
	if (pkt->flags & (RNDIS_TX_CSUM_TCP | RNDIS_TX_CSUM_UDP | RNDIS_TX_LSO))
		ol->csum_start = pkt->l4_offset;
	if (pkt->flags & RNDIS_TX_LSO) {
		ol->flags |= NETVSP_NIC_TX_LSO;
		/* NDIS allows 20 bits; above 64 KiB it cannot cut anything. */
		ol->mss = pkt->mss > 0xffff ? 0xffff : (uint16_t)pkt->mss;
	}
	if (pkt->flags & RNDIS_TX_VLAN) {
		ol->flags |= NETVSP_NIC_TX_VLAN;
		ol->vlan_tci = (uint16_t)((pkt->vlan_pri & 7u) << 13 | (pkt->vlan_cfi & 1u) << 12 |
					  (pkt->vlan_id & 0xfffu));
	}
}

/* The transport protocol of an Ethernet frame, 0 if not found. */
static uint8_t frame_l4_proto(const uint8_t *b, size_t len)
{
	size_t l3 = ETH_HLEN;
	uint16_t et;

	if (len < ETH_HLEN)
		return 0;
	et = get16(b + 12);
	if (et == ETH_P_8021Q || et == ETH_P_8021AD) {
		if (len < 18)
			return 0;
		et = get16(b + 16);
		l3 = 18;
	}
	if (et == ETH_P_IP && len >= l3 + 20)
		return b[l3 + 9];
	if (et == ETH_P_IPV6 && len >= l3 + 40)
		return b[l3 + 6];
	return 0;
}

void netvsp_nic_rx_info_to_rndis(const struct netvsp_nic_rx_info *in, const void *frame,
				 size_t len, struct rndis_rx_info *out)
{
	uint8_t proto = frame_l4_proto(frame, len);
	uint32_t c = 0;

	if (in->flags & NETVSP_NIC_RX_IP_CSUM_OK)
		c |= NDIS_RXCSUM_INFO_IPCS_OK;
	if (in->flags & NETVSP_NIC_RX_IP_CSUM_BAD)
		c |= NDIS_RXCSUM_INFO_IPCS_FAILED;
	if (proto == IPPROTO_TCP_) {
		if (in->flags & NETVSP_NIC_RX_L4_CSUM_OK)
			c |= NDIS_RXCSUM_INFO_TCPCS_OK;
		if (in->flags & NETVSP_NIC_RX_L4_CSUM_BAD)
			c |= NDIS_RXCSUM_INFO_TCPCS_FAILED;
	} else if (proto == IPPROTO_UDP_) {
		if (in->flags & NETVSP_NIC_RX_L4_CSUM_OK)
			c |= NDIS_RXCSUM_INFO_UDPCS_OK;
		if (in->flags & NETVSP_NIC_RX_L4_CSUM_BAD)
			c |= NDIS_RXCSUM_INFO_UDPCS_FAILED;
	}
	out->flags &= ~(RNDIS_RX_CSUM | RNDIS_RX_VLAN);
	out->csum = c;
	if (c)
		out->flags |= RNDIS_RX_CSUM;
	if (in->flags & NETVSP_NIC_RX_VLAN) {
		out->flags |= RNDIS_RX_VLAN;
		out->vlan_id = in->vlan_tci & 0xfffu;
		out->vlan_cfi = (in->vlan_tci >> 12) & 1u;
		out->vlan_pri = (uint8_t)(in->vlan_tci >> 13);
	}
}

/* ---- Spec parsing ------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4)))
static int spec_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno || *end || *out > max)
		return -EINVAL;
	return 0;
}

/* Options every kind takes. Returns 1 when opt was one, 0 when not, or
 * -EINVAL with err filled in. */
static int generic_option(struct netvsp_nic_spec *spec, char *opt, char *err, size_t errlen)
{
	unsigned long v;

	if (!strncmp(opt, "queues=", 7)) {
		if (parse_uint(opt + 7, NETVSP_NIC_MAX_QUEUES, &v) || v == 0)
			return spec_err(err, errlen, "queues=%s: expected 1..%u", opt + 7,
					NETVSP_NIC_MAX_QUEUES);
		spec->queues = (unsigned int)v;
		return 1;
	}
	if (!strncmp(opt, "capture=", 8)) {
		if (!opt[8])
			return spec_err(err, errlen, "capture=: file name missing");
		spec->capture = opt + 8;
		return 1;
	}
	return 0;
}

/* Split s at commas in place; returns the next piece and advances *s. */
static char *next_item(char **s)
{
	char *item = *s, *comma;

	if (!item)
		return NULL;
	comma = strchr(item, ',');
	if (comma) {
		*comma = '\0';
		*s = comma + 1;
	} else {
		*s = NULL;
	}
	return item;
}

static int parse_tap(struct netvsp_nic_spec *spec, char *rest, char *err, size_t errlen)
{
	char *name = next_item(&rest), *opt;
	int r;

	if (!name || !*name)
		return spec_err(err, errlen, "tap: interface name missing (tap=NAME)");
	if (strlen(name) > 15 || strpbrk(name, "/: \t"))
		return spec_err(err, errlen, "tap=%s: not a valid interface name "
				"(at most 15 characters, no '/', ':' or spaces)", name);
	spec->ifname = name;
	while ((opt = next_item(&rest))) {
		r = generic_option(spec, opt, err, errlen);
		if (r < 0)
			return r;
		if (r)
			continue;
		if (!strcmp(opt, "up"))
			spec->up = true;
		else if (!strcmp(opt, "offload=0") || !strcmp(opt, "offload=off"))
			spec->offload = false;
		else if (!strcmp(opt, "offload=1") || !strcmp(opt, "offload=on"))
			spec->offload = true;
		else
			return spec_err(err, errlen, "tap: unknown option '%s' (expected up, "
					"offload=0|1, queues=N, capture=FILE)", opt);
	}
	return 0;
}

static int parse_pcap(struct netvsp_nic_spec *spec, char *rest, char *err, size_t errlen)
{
	char *in = next_item(&rest), *opt;
	int r;

	if (!in)
		return spec_err(err, errlen, "pcap: expected pcap=IN.pcap[,out=OUT.pcap], "
				"pcap=,out=OUT.pcap or pcap=live:IFNAME");
	if (!strncmp(in, "live:", 5)) {
		spec->live = true;
		spec->ifname = in + 5;
		if (!*spec->ifname)
			return spec_err(err, errlen, "pcap=live: interface name missing");
	} else if (*in) {
		spec->in_path = in;
	}
	while ((opt = next_item(&rest))) {
		r = generic_option(spec, opt, err, errlen);
		if (r < 0)
			return r;
		if (r)
			continue;
		if (!strncmp(opt, "out=", 4) && !spec->live) {
			if (!opt[4])
				return spec_err(err, errlen, "pcap: out= needs a file name");
			spec->out_path = opt + 4;
		} else {
			return spec_err(err, errlen, "pcap: unknown option '%s' (expected %s"
					"queues=1, capture=FILE)", opt,
					spec->live ? "" : "out=FILE, ");
		}
	}
	if (!spec->live && !spec->in_path && !spec->out_path)
		return spec_err(err, errlen, "pcap: neither an input file nor out= given");
	if (spec->queues != 1)
		return spec_err(err, errlen, "pcap: one queue only (a file replays in order)");
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

static int parse_dpdk(struct netvsp_nic_spec *spec, char *rest, char *err, size_t errlen)
{
	unsigned long v;
	size_t max_args;
	char *p;
	int r;

	/* Leading netvsp options: "name=value," pieces before the first
	 * argument starting with '-'. */
	while (rest && *rest && *rest != '-' && !is_space(*rest)) {
		char *opt = next_item(&rest);

		if (strpbrk(opt, " \t\n"))
			return spec_err(err, errlen, "dpdk: '%s': options (port=, queues=, "
					"capture=) must come first, each ending in ','", opt);
		r = generic_option(spec, opt, err, errlen);
		if (r < 0)
			return r;
		if (r)
			continue;
		if (!strncmp(opt, "port=", 5)) {
			if (parse_uint(opt + 5, 65535, &v))
				return spec_err(err, errlen, "dpdk: port=%s: expected a port "
						"number", opt + 5);
			spec->port = (int)v;
		} else {
			return spec_err(err, errlen, "dpdk: unknown option '%s' (expected "
					"port=N, queues=N, capture=FILE, then EAL arguments "
					"starting with '-')", opt);
		}
	}

	max_args = rest ? strlen(rest) / 2 + 2 : 1;
	spec->eal_argv = calloc(max_args, sizeof(char *));
	if (!spec->eal_argv)
		return -ENOMEM;
	if (!rest || !*rest)
		return 0;

	if (strpbrk(rest, " \t\n")) {
		/* Whitespace form: commas belong to the arguments. */
		p = rest;
		for (;;) {
			while (is_space(*p))
				*p++ = '\0';
			if (!*p)
				break;
			spec->eal_argv[spec->eal_argc++] = p;
			while (*p && !is_space(*p))
				p++;
		}
	} else {
		/* Comma form: a comma followed by '-' starts an argument. */
		p = rest;
		spec->eal_argv[spec->eal_argc++] = p;
		for (; *p; p++) {
			if (*p == ',' && p[1] == '-') {
				*p = '\0';
				spec->eal_argv[spec->eal_argc++] = p + 1;
			}
		}
	}
	for (r = 0; r < spec->eal_argc; r++)
		if (!spec->eal_argv[r][0])
			return spec_err(err, errlen, "dpdk: empty EAL argument");
	return 0;
}

void netvsp_nic_spec_free(struct netvsp_nic_spec *spec)
{
	if (!spec)
		return;
	free(spec->eal_argv);
	free(spec->storage_);
	memset(spec, 0, sizeof(*spec));
}

int netvsp_nic_spec_parse(const char *str, struct netvsp_nic_spec *spec,
			  char *err, size_t errlen)
{
	char *s, *rest;
	int ret;

	memset(spec, 0, sizeof(*spec));
	if (err && errlen)
		err[0] = '\0';
	if (!str || !*str)
		return spec_err(err, errlen, "empty NIC spec (expected tap=NAME, dpdk=EAL-ARGS, "
				"pcap=FILE or null)");
	s = strdup(str);
	if (!s)
		return -ENOMEM;
	spec->storage_ = s;
	spec->queues = 1;
	spec->port = -1;
	spec->offload = true;

	rest = s + strcspn(s, "=,");
	if (!strncmp(s, "null", 4) && (s[4] == '\0' || s[4] == ',')) {
		char *opt;

		spec->kind = NETVSP_NIC_NULL;
		rest = s[4] ? s + 5 : NULL;
		ret = 0;
		while (!ret && (opt = next_item(&rest))) {
			ret = generic_option(spec, opt, err, errlen);
			if (ret == 0)
				ret = spec_err(err, errlen, "null: unknown option '%s' (expected "
					       "queues=N, capture=FILE)", opt);
			else if (ret > 0)
				ret = 0;
		}
	} else if (!strncmp(s, "null=", 5)) {
		ret = spec_err(err, errlen, "null takes no argument, only ,queues=N and "
			       ",capture=FILE");
	} else if (*rest != '=') {
		ret = spec_err(err, errlen, "NIC spec '%s': expected tap=NAME, dpdk=EAL-ARGS, "
			       "pcap=FILE or null", str);
	} else {
		*rest++ = '\0';
		if (!strcmp(s, "tap")) {
			spec->kind = NETVSP_NIC_TAP;
			ret = parse_tap(spec, rest, err, errlen);
		} else if (!strcmp(s, "pcap")) {
			spec->kind = NETVSP_NIC_PCAP;
			ret = parse_pcap(spec, rest, err, errlen);
		} else if (!strcmp(s, "dpdk")) {
			spec->kind = NETVSP_NIC_DPDK;
			ret = parse_dpdk(spec, rest, err, errlen);
		} else {
			ret = spec_err(err, errlen, "unknown NIC kind '%s' (expected tap, dpdk, "
				       "pcap or null)", s);
		}
	}
	if (ret)
		netvsp_nic_spec_free(spec);
	return ret;
}

/* ---- The NIC ------------------------------------------------------------------------ */

static const struct netvsp_nic_backend *backend_for(enum netvsp_nic_kind kind)
{
	switch (kind) {
	case NETVSP_NIC_NULL:
		return &netvsp_nic_null_backend;
	case NETVSP_NIC_TAP:
		return &netvsp_nic_tap_backend;
#ifdef NETVSP_HAVE_PCAP
	case NETVSP_NIC_PCAP:
		return &netvsp_nic_pcap_backend;
#endif
#ifdef NETVSP_HAVE_DPDK
	case NETVSP_NIC_DPDK:
		return &netvsp_nic_dpdk_backend;
#endif
	default:
		return NULL;
	}
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

int netvsp_nic_open(const char *str, const struct vmbus_log *log, struct netvsp_nic **out)
{
	static const char *const kinds[] = { "null", "tap", "dpdk", "pcap" };
	struct netvsp_nic_spec spec;
	struct netvsp_nic *nic;
	char err[256];
	int ret;

	*out = NULL;
	nic = calloc(1, sizeof(*nic));
	if (!nic)
		return -ENOMEM;
	if (log)
		nic->log = *log;
	ret = netvsp_nic_spec_parse(str, &spec, err, sizeof(err));
	if (ret) {
		vmbus_logf(&nic->log, VMBUS_LOG_ERR, "nic: %s", ret == -ENOMEM ? "out of memory" : err);
		free(nic);
		return ret;
	}
	nic->kind = spec.kind;
	nic->queues = spec.queues;
	nic->be = backend_for(spec.kind);
	if (!nic->be) {
		vmbus_logf(&nic->log, VMBUS_LOG_ERR, "nic: the %s backend is not built in",
			   (unsigned int)spec.kind < sizeof(kinds) / sizeof(kinds[0]) ?
			   kinds[spec.kind] : "requested");
		ret = -ENOTSUP;
		goto fail;
	}
	nic->stats = calloc(nic->queues, sizeof(*nic->stats));
	if (!nic->stats) {
		ret = -ENOMEM;
		goto fail;
	}
	if (spec.capture) {
		ret = netvsp_capture_open(spec.capture, ends_with(spec.capture, ".pcapng") ?
					  NETVSP_CAPTURE_PCAPNG : NETVSP_CAPTURE_PCAP,
					  &nic->log, &nic->owned_capture);
		if (ret)
			goto fail;
		nic->capture = nic->owned_capture;
	}
	ret = nic->be->open(nic, &spec, &nic->priv);
	if (ret) {
		vmbus_logf(&nic->log, VMBUS_LOG_ERR, "nic: cannot open '%s': %s", str,
			   strerror(-ret));
		goto fail;
	}
	netvsp_nic_spec_free(&spec);
	*out = nic;
	return 0;
fail:
	netvsp_capture_close(nic->owned_capture);
	free(nic->stats);
	free(nic);
	netvsp_nic_spec_free(&spec);
	return ret;
}

void netvsp_nic_close(struct netvsp_nic *nic)
{
	if (!nic)
		return;
	nic->be->close(nic->priv);
	netvsp_capture_close(nic->owned_capture);
	free(nic->stats);
	free(nic);
}

enum netvsp_nic_kind netvsp_nic_kind(const struct netvsp_nic *nic)
{
	return nic->kind;
}

unsigned int netvsp_nic_queues(const struct netvsp_nic *nic)
{
	return nic->queues;
}

const struct vmbus_log *netvsp_nic_log(const struct netvsp_nic *nic)
{
	return &nic->log;
}

int netvsp_nic_mac(struct netvsp_nic *nic, uint8_t mac[6])
{
	return nic->be->mac ? nic->be->mac(nic->priv, mac) : -ENOENT;
}

bool netvsp_nic_link_up(struct netvsp_nic *nic)
{
	return nic->be->link_up ? nic->be->link_up(nic->priv) : true;
}

void netvsp_nic_stat_add(struct netvsp_nic *nic, unsigned int q, size_t field, uint64_t n)
{
	uint64_t *c = (uint64_t *)((uint8_t *)&nic->stats[q] + field);

	/* Single writer per queue: a relaxed load and store keep readers
	 * from seeing torn values without a locked instruction. */
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

int netvsp_nic_get_stats(struct netvsp_nic *nic, unsigned int q, struct netvsp_nic_stats *out)
{
	const uint64_t *src;
	uint64_t *dst = (uint64_t *)out;
	size_t i;

	if (!nic || q >= nic->queues || !out)
		return -EINVAL;
	src = (const uint64_t *)&nic->stats[q];
	for (i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	return 0;
}

void netvsp_nic_set_capture(struct netvsp_nic *nic, struct netvsp_capture *cap)
{
	struct netvsp_capture *owned = nic->owned_capture;

	__atomic_store_n(&nic->capture, cap, __ATOMIC_RELEASE);
	if (owned && owned != cap) {
		nic->owned_capture = NULL;
		/* Frames on other queues may still be writing to it; the
		 * caller's contract (no concurrent data path while swapping
		 * an owned capture out) is what makes this close safe. */
		netvsp_capture_close(owned);
	}
}

int netvsp_nic_tx(struct netvsp_nic *nic, unsigned int q,
		  const struct netvsp_nic_frame *frames, unsigned int n)
{
	struct netvsp_capture *cap;
	unsigned int i;

	if (!nic || q >= nic->queues || (!frames && n))
		return -EINVAL;
	if (n == 0)
		return 0;
	cap = __atomic_load_n(&nic->capture, __ATOMIC_ACQUIRE);
	if (cap) {
		for (i = 0; i < n; i++) {
			const struct netvsp_nic_frame *f = &frames[i];

			if (f->iov && f->iovcnt <= NETVSP_NIC_MAX_IOV)
				netvsp_capture_frame(cap, NETVSP_CAPTURE_TX, f->iov, f->iovcnt,
						     (f->ol.flags & NETVSP_NIC_TX_VLAN) ?
						     f->ol.vlan_tci : -1);
		}
	}
	return nic->be->tx(nic->priv, q, frames, n);
}

struct rx_tramp {
	struct netvsp_nic *nic;
	struct netvsp_capture *cap;
	netvsp_nic_rx_fn *fn;
	void *opaque;
};

static int rx_trampoline(void *opaque, unsigned int q, const void *frame, size_t len,
			 const struct netvsp_nic_rx_info *info)
{
	struct rx_tramp *t = opaque;
	int ret = t->fn(t->opaque, q, frame, len, info);

	if (ret)
		return ret;
	NETVSP_NIC_STAT(t->nic, q, rx_frames, 1);
	NETVSP_NIC_STAT(t->nic, q, rx_bytes, len);
	if (t->cap) {
		struct iovec iov = { (void *)frame, len };

		netvsp_capture_frame(t->cap, NETVSP_CAPTURE_RX, &iov, 1,
				     (info->flags & NETVSP_NIC_RX_VLAN) ? info->vlan_tci : -1);
	}
	return 0;
}

int netvsp_nic_rx_poll(struct netvsp_nic *nic, unsigned int q, unsigned int budget,
		       netvsp_nic_rx_fn *fn, void *opaque)
{
	struct rx_tramp t;

	if (!nic || q >= nic->queues || !fn)
		return -EINVAL;
	if (budget == 0)
		return 0;
	t.nic = nic;
	t.cap = __atomic_load_n(&nic->capture, __ATOMIC_ACQUIRE);
	t.fn = fn;
	t.opaque = opaque;
	return nic->be->rx(nic->priv, q, budget, rx_trampoline, &t);
}

int netvsp_nic_rx_fd(struct netvsp_nic *nic, unsigned int q)
{
	if (!nic || q >= nic->queues)
		return -EINVAL;
	return nic->be->rx_fd(nic->priv, q);
}
