/* SPDX-License-Identifier: MIT */
/*
 * Tests of netvsp's NIC layer: spec parsing, software offloads, the null,
 * pcap, DPDK and TAP backends and the capture writer. DPDK and TAP checks
 * run in forked children (the EAL initializes once per process; the TAP
 * device lives in a network namespace of the child's own) and skip, saying
 * why, where DPDK, root or /dev/net/tun are missing.
 *
 * Formats: pcap files through libpcap; Ethernet, ARP (RFC 826), IPv4, IPv6,
 * UDP and TCP headers built by hand per their RFCs.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "../vsp/netvsp/nic.h"

#define HOST_IP 0x0a4d0001u	/* 10.77.0.1, the kernel's side of a tap */
#define PEER_IP 0x0a4d0002u	/* 10.77.0.2, the guest's side */

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
	static char paths[8][128];
	static int next;
	char *p = paths[next++ % 8];

	snprintf(p, 128, "%s/%s", tmpdir, name);
	return p;
}

/* ---- Frame building and checking (independent of nic.c's code) ---------------------- */

static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0, 0x0a };
static const uint8_t mac_b[6] = { 0x02, 0, 0, 0, 0, 0x0b };

static void w16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static unsigned int r16(const uint8_t *p)
{
	return (unsigned int)p[0] << 8 | p[1];
}

static uint32_t r32(const uint8_t *p)
{
	return (uint32_t)r16(p) << 16 | r16(p + 2);
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	size_t i;

	for (i = 0; i < n; i++)
		s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return s;
}

static unsigned int fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

static size_t eth(uint8_t *b, const uint8_t *dst, const uint8_t *src, unsigned int type)
{
	memcpy(b, dst, 6);
	memcpy(b + 6, src, 6);
	w16(b + 12, type);
	return 14;
}

/* IPv4 + UDP frame; checksum field set to csum. */
static size_t udp4(uint8_t *b, const uint8_t *dmac, const uint8_t *smac, uint32_t saddr,
		   uint32_t daddr, unsigned int sport, unsigned int dport,
		   const void *payload, size_t plen, unsigned int csum)
{
	uint8_t *ip = b + 14, *u = ip + 20;

	eth(b, dmac, smac, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	w16(ip + 2, (unsigned int)(20 + 8 + plen));
	w16(ip + 4, 0x1234);
	ip[8] = 64;
	ip[9] = 17;
	w16(ip + 12, saddr >> 16);
	w16(ip + 14, saddr & 0xffff);
	w16(ip + 16, daddr >> 16);
	w16(ip + 18, daddr & 0xffff);
	w16(ip + 10, ~fold(sum16(ip, 20, 0)) & 0xffff);
	w16(u, sport);
	w16(u + 2, dport);
	w16(u + 4, (unsigned int)(8 + plen));
	w16(u + 6, csum);
	memcpy(u + 8, payload, plen);
	return 14 + 20 + 8 + plen;
}

/* IPv4 or IPv6 + TCP frame with a 20-byte TCP header; IPv4 length and
 * checksums left 0 the way an NDIS LSO v2 guest sends them. */
static size_t tcp_frame(uint8_t *b, bool v6, uint32_t seq, uint8_t flags, const uint8_t *payload,
			size_t plen, unsigned int dport)
{
	size_t l3 = eth(b, mac_b, mac_a, v6 ? 0x86dd : 0x0800), l4;
	uint8_t *ip = b + l3, *t;

	if (v6) {
		memset(ip, 0, 40);
		ip[0] = 0x60;
		ip[6] = 6;
		ip[7] = 64;
		ip[8] = 0xfd;
		ip[23] = 1;
		ip[24] = 0xfd;
		ip[39] = 2;
		l4 = l3 + 40;
	} else {
		memset(ip, 0, 20);
		ip[0] = 0x45;
		w16(ip + 4, 100);
		ip[8] = 64;
		ip[9] = 6;
		ip[12] = 10; ip[13] = 77; ip[15] = 2;
		ip[16] = 10; ip[17] = 77; ip[19] = 1;
		l4 = l3 + 20;
	}
	t = b + l4;
	memset(t, 0, 20);
	w16(t, 40000);
	w16(t + 2, dport);
	t[4] = (uint8_t)(seq >> 24); t[5] = (uint8_t)(seq >> 16);
	t[6] = (uint8_t)(seq >> 8); t[7] = (uint8_t)seq;
	t[11] = 1;	/* ack 1 */
	t[12] = 5 << 4;
	t[13] = flags;
	w16(t + 14, 65535);
	memcpy(t + 20, payload, plen);
	return l4 + 20 + plen;
}

/* Whether the IP and TCP/UDP checksums of a frame verify; also returns
 * the transport header offset. */
static bool csum_ok(const uint8_t *b, size_t len, size_t *l4_out)
{
	size_t l3 = 14, l4, l4len;
	unsigned int et = r16(b + 12), proto;
	uint32_t s;

	if (et == 0x8100) {
		l3 = 18;
		et = r16(b + 16);
	}
	if (et == 0x0800) {
		size_t ihl = (b[l3] & 15u) * 4u;

		if (fold(sum16(b + l3, ihl, 0)) != 0xffff)
			return false;
		l4 = l3 + ihl;
		l4len = l3 + r16(b + l3 + 2) - l4;
		proto = b[l3 + 9];
		s = sum16(b + l3 + 12, 8, 0);
	} else {
		l4 = l3 + 40;
		l4len = r16(b + l3 + 4);
		proto = b[l3 + 6];
		s = sum16(b + l3 + 8, 32, 0);
	}
	if (l4 + l4len > len)
		return false;
	s += proto + (uint32_t)l4len;
	s = sum16(b + l4, l4len, s);
	if (l4_out)
		*l4_out = l4;
	return fold(s) == 0xffff;
}

/* ---- Receive collector --------------------------------------------------------------- */

#define COLL_MAX 128

struct collector {
	unsigned int n;
	size_t len[COLL_MAX];
	uint8_t *frame[COLL_MAX];
	struct netvsp_nic_rx_info info[COLL_MAX];
	int refuse_at;		/* refuse once when n reaches this; -1 never */
	unsigned int refusals;
};

static void coll_init(struct collector *c)
{
	memset(c, 0, sizeof(*c));
	c->refuse_at = -1;
}

static void coll_free(struct collector *c)
{
	unsigned int i;

	for (i = 0; i < c->n; i++)
		free(c->frame[i]);
	c->n = 0;
}

static int collect(void *opaque, unsigned int q, const void *frame, size_t len,
		   const struct netvsp_nic_rx_info *info)
{
	struct collector *c = opaque;

	(void)q;
	if (c->refuse_at >= 0 && c->n == (unsigned int)c->refuse_at) {
		c->refuse_at = -1;
		c->refusals++;
		return 1;
	}
	ck_assert_uint_lt(c->n, COLL_MAX);
	c->frame[c->n] = malloc(len);
	memcpy(c->frame[c->n], frame, len);
	c->len[c->n] = len;
	c->info[c->n] = *info;
	c->n++;
	return 0;
}

static bool fd_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* ---- Spec parsing -------------------------------------------------------------------- */

START_TEST(spec_ok)
{
	struct netvsp_nic_spec s;
	char err[200];

	ck_assert_int_eq(netvsp_nic_spec_parse("tap=vm0,queues=4,up,offload=0", &s, err,
					       sizeof(err)), 0);
	ck_assert_int_eq(s.kind, NETVSP_NIC_TAP);
	ck_assert_str_eq(s.ifname, "vm0");
	ck_assert_uint_eq(s.queues, 4);
	ck_assert(s.up);
	ck_assert(!s.offload);
	netvsp_nic_spec_free(&s);

	ck_assert_int_eq(netvsp_nic_spec_parse("tap=vm1", &s, err, sizeof(err)), 0);
	ck_assert(s.offload && !s.up && s.queues == 1 && !s.capture);
	netvsp_nic_spec_free(&s);

	ck_assert_int_eq(netvsp_nic_spec_parse("pcap=in.pcap,out=o.pcap,capture=c.pcapng", &s,
					       err, sizeof(err)), 0);
	ck_assert_int_eq(s.kind, NETVSP_NIC_PCAP);
	ck_assert_str_eq(s.in_path, "in.pcap");
	ck_assert_str_eq(s.out_path, "o.pcap");
	ck_assert_str_eq(s.capture, "c.pcapng");
	ck_assert(!s.live);
	netvsp_nic_spec_free(&s);

	ck_assert_int_eq(netvsp_nic_spec_parse("pcap=,out=o.pcap", &s, err, sizeof(err)), 0);
	ck_assert_ptr_null(s.in_path);
	ck_assert_str_eq(s.out_path, "o.pcap");
	netvsp_nic_spec_free(&s);

	ck_assert_int_eq(netvsp_nic_spec_parse("pcap=live:eth0", &s, err, sizeof(err)), 0);
	ck_assert(s.live);
	ck_assert_str_eq(s.ifname, "eth0");
	netvsp_nic_spec_free(&s);

	ck_assert_int_eq(netvsp_nic_spec_parse("null,queues=3", &s, err, sizeof(err)), 0);
	ck_assert_int_eq(s.kind, NETVSP_NIC_NULL);
	ck_assert_uint_eq(s.queues, 3);
	netvsp_nic_spec_free(&s);

	/* Whitespace form: commas stay inside device arguments. */
	ck_assert_int_eq(netvsp_nic_spec_parse("dpdk=queues=2,--no-huge --no-pci "
					       "--vdev=net_pcap0,rx_pcap=a.pcap,tx_pcap=b.pcap -l 0",
					       &s, err, sizeof(err)), 0);
	ck_assert_int_eq(s.kind, NETVSP_NIC_DPDK);
	ck_assert_uint_eq(s.queues, 2);
	ck_assert_int_eq(s.port, -1);
	ck_assert_int_eq(s.eal_argc, 5);
	ck_assert_str_eq(s.eal_argv[2], "--vdev=net_pcap0,rx_pcap=a.pcap,tx_pcap=b.pcap");
	ck_assert_str_eq(s.eal_argv[3], "-l");
	ck_assert_str_eq(s.eal_argv[4], "0");
	ck_assert_ptr_null(s.eal_argv[5]);
	netvsp_nic_spec_free(&s);

	/* Comma form: split only before '-'. */
	ck_assert_int_eq(netvsp_nic_spec_parse("dpdk=port=1,--no-huge,--vdev=net_ring0,"
					       "nodeaction=r0:0:CREATE,-l0", &s, err,
					       sizeof(err)), 0);
	ck_assert_int_eq(s.port, 1);
	ck_assert_int_eq(s.eal_argc, 3);
	ck_assert_str_eq(s.eal_argv[0], "--no-huge");
	ck_assert_str_eq(s.eal_argv[1], "--vdev=net_ring0,nodeaction=r0:0:CREATE");
	ck_assert_str_eq(s.eal_argv[2], "-l0");
	netvsp_nic_spec_free(&s);

	ck_assert_int_eq(netvsp_nic_spec_parse("dpdk=", &s, err, sizeof(err)), 0);
	ck_assert_int_eq(s.eal_argc, 0);
	netvsp_nic_spec_free(&s);
}
END_TEST

static const struct {
	const char *spec;
	const char *why;	/* a word the message must contain */
} bad_specs[] = {
	{ "", "empty" },
	{ "bogus=1", "unknown NIC kind" },
	{ "tap", "expected" },
	{ "tap=", "name missing" },
	{ "tap=averyveryverylongname", "not a valid interface name" },
	{ "tap=a/b", "not a valid" },
	{ "tap=x,queues=0", "1..64" },
	{ "tap=x,queues=65", "1..64" },
	{ "tap=x,queues=2x", "1..64" },
	{ "tap=x,queues=", "1..64" },
	{ "tap=x,frob", "unknown option 'frob'" },
	{ "tap=x,capture=", "file name missing" },
	{ "pcap=", "neither" },
	{ "pcap=a.pcap,queues=2", "one queue" },
	{ "pcap=live:", "interface name missing" },
	{ "pcap=live:eth0,out=x.pcap", "unknown option" },
	{ "pcap=a,out=", "needs a file name" },
	{ "null=1", "no argument" },
	{ "null,up", "unknown option 'up'" },
	{ "nullx", "expected" },
	{ "dpdk=port=x,--no-huge", "port number" },
	{ "dpdk=port=70000,--no-huge", "port number" },
	{ "dpdk=bogus=1,--no-huge", "unknown option 'bogus=1'" },
	{ "dpdk=queues=2 --no-huge", "must come first" },
	{ "dpdk=capture=,--no-huge", "file name missing" },
};

START_TEST(spec_bad)
{
	struct netvsp_nic_spec s;
	char err[256];
	const char *str = bad_specs[_i].spec;

	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(netvsp_nic_spec_parse(str, &s, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, bad_specs[_i].why), "'%s': message '%s' lacks '%s'", str, err,
		      bad_specs[_i].why);
	/* Failure leaves nothing to free and the spec empty. */
	ck_assert_ptr_null(s.storage_);
	ck_assert_ptr_null(s.eal_argv);
	/* A zero-length error buffer is fine. */
	ck_assert_int_eq(netvsp_nic_spec_parse(str, &s, NULL, 0), -EINVAL);
}
END_TEST

START_TEST(open_errors)
{
	struct netvsp_nic *nic = (void *)1;

	ck_assert_int_eq(netvsp_nic_open("nope", NULL, &nic), -EINVAL);
	ck_assert_ptr_null(nic);
	ck_assert_int_eq(netvsp_nic_open("pcap=/nonexistent/in.pcap", NULL, &nic), -ENOENT);
	ck_assert_int_eq(netvsp_nic_open("null,capture=/nonexistent/dir/c.pcap", NULL, &nic),
			 -ENOENT);
	ck_assert_ptr_null(nic);
}
END_TEST

/* ---- Software offloads --------------------------------------------------------------- */

struct seglist {
	unsigned int n;
	uint8_t buf[8][2048];
	size_t len[8];
};

static int save_seg(void *opaque, uint8_t *frame, size_t len)
{
	struct seglist *s = opaque;

	ck_assert_uint_lt(s->n, 8);
	ck_assert_uint_le(len, sizeof(s->buf[0]));
	memcpy(s->buf[s->n], frame, len);
	s->len[s->n++] = len;
	return 0;
}

START_TEST(sw_udp_csum)
{
	static uint8_t scratch[NETVSP_NIC_FRAME_MAX];
	struct netvsp_nic_tx_offload ol = { .flags = NETVSP_NIC_TX_CSUM_UDP | NETVSP_NIC_TX_CSUM_IP4,
					    .csum_start = 34 };
	struct seglist *s = calloc(1, sizeof(*s));
	uint8_t f[128];
	size_t len = udp4(f, mac_b, mac_a, 0x0a4d0002, 0x0a4d0001, 5555, 7777, "hello", 5, 0x1234);

	f[24] = f[25] = 0;	/* IPv4 header checksum requested too */
	ck_assert(!csum_ok(f, len, NULL));
	/* Pad to the Ethernet minimum: the checksum must not cover padding. */
	memset(f + len, 0xee, 60 - len);
	ck_assert_int_eq(netvsp_nic_sw_offload(f, 60, &ol, scratch, sizeof(scratch), save_seg, s), 1);
	ck_assert_uint_eq(s->len[0], 60);
	ck_assert(csum_ok(s->buf[0], s->len[0], NULL));
	ck_assert_mem_eq(s->buf[0] + 42, "hello", 5);

	/* Hostile metadata. */
	ol.csum_start = 30;	/* inside the IP header */
	ck_assert_int_eq(netvsp_nic_sw_offload(f, 60, &ol, scratch, sizeof(scratch), save_seg, s),
			 -EINVAL);
	ol.csum_start = 58;	/* header runs past the end */
	ck_assert_int_eq(netvsp_nic_sw_offload(f, 60, &ol, scratch, sizeof(scratch), save_seg, s),
			 -EINVAL);
	ol.csum_start = 34;
	ol.flags = NETVSP_NIC_TX_CSUM_TCP;	/* the IP header says UDP */
	ck_assert_int_eq(netvsp_nic_sw_offload(f, 60, &ol, scratch, sizeof(scratch), save_seg, s),
			 -EINVAL);
	ol.flags = NETVSP_NIC_TX_CSUM_UDP;
	ol.csum_offset = 16;			/* not where UDP keeps it */
	ck_assert_int_eq(netvsp_nic_sw_offload(f, 60, &ol, scratch, sizeof(scratch), save_seg, s),
			 -EINVAL);
	ol.csum_offset = 0;
	w16(f + 16, 2000);			/* IP length past the frame */
	ck_assert_int_eq(netvsp_nic_sw_offload(f, 60, &ol, scratch, sizeof(scratch), save_seg, s),
			 -EINVAL);
	w16(f + 12, 0x0806);			/* not IP at all */
	ck_assert_int_eq(netvsp_nic_sw_offload(f, 60, &ol, scratch, sizeof(scratch), save_seg, s),
			 -EINVAL);
	ck_assert_uint_eq(s->n, 1);
	free(s);
}
END_TEST

static void check_lso(bool v6)
{
	static uint8_t scratch[NETVSP_NIC_FRAME_MAX];
	uint8_t payload[2500], f[3000];
	struct seglist *s = calloc(1, sizeof(*s));
	struct netvsp_nic_tx_offload ol = { .flags = NETVSP_NIC_TX_LSO | NETVSP_NIC_TX_CSUM_TCP,
					    .mss = 1000 };
	size_t len, i, l4, got = 0;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);
	/* FIN|PSH|ACK|CWR: FIN and PSH only on the last segment, CWR only
	 * on the first. */
	len = tcp_frame(f, v6, 1000000, 0x01 | 0x08 | 0x10 | 0x80, payload, sizeof(payload), 80);
	ol.csum_start = v6 ? 54 : 34;
	ck_assert_int_eq(netvsp_nic_sw_offload(f, len, &ol, scratch, sizeof(scratch), save_seg, s),
			 3);
	ck_assert_uint_eq(s->n, 3);
	for (i = 0; i < 3; i++) {
		uint8_t *b = s->buf[i];
		size_t plen = i < 2 ? 1000 : 500;

		ck_assert_uint_eq(s->len[i], ol.csum_start + 20 + plen);
		ck_assert_msg(csum_ok(b, s->len[i], &l4), "segment %zu checksum", i);
		ck_assert_uint_eq(r32(b + l4 + 4), 1000000 + i * 1000);
		ck_assert_uint_eq(b[l4 + 13] & 0x01, i == 2 ? 0x01 : 0);
		ck_assert_uint_eq(b[l4 + 13] & 0x08, i == 2 ? 0x08 : 0);
		ck_assert_uint_eq(b[l4 + 13] & 0x80, i == 0 ? 0x80 : 0);
		ck_assert_uint_eq(b[l4 + 13] & 0x10, 0x10);
		if (!v6)
			ck_assert_uint_eq(r16(b + 18), 100 + i);	/* IPv4 id */
		ck_assert_mem_eq(b + l4 + 20, payload + got, plen);
		got += plen;
	}
	/* A hostile MSS of 1 would make thousands of segments. */
	ol.mss = 1;
	ck_assert_int_eq(netvsp_nic_sw_offload(f, len, &ol, scratch, sizeof(scratch), save_seg, s),
			 -EINVAL);
	ol.mss = 1000;
	f[ol.csum_start + 12] = 0x40;	/* TCP data offset 4 words */
	ck_assert_int_eq(netvsp_nic_sw_offload(f, len, &ol, scratch, sizeof(scratch), save_seg, s),
			 -EINVAL);
	free(s);
}

START_TEST(sw_lso4)
{
	check_lso(false);
}
END_TEST

START_TEST(sw_lso6)
{
	check_lso(true);
}
END_TEST

START_TEST(linearize_vlan)
{
	uint8_t f[100], out[200];
	size_t len = udp4(f, mac_b, mac_a, 1, 2, 3, 4, "abcdef", 6, 0);
	struct iovec iov[3] = { { f, 5 }, { f + 5, 20 }, { f + 25, len - 25 } };
	struct netvsp_nic_frame fr = { iov, 3, len, { .flags = NETVSP_NIC_TX_VLAN |
						     NETVSP_NIC_TX_CSUM_UDP, .csum_start = 34,
						     .vlan_tci = 0x2064 } };
	struct netvsp_nic_tx_offload ol;

	ck_assert_int_eq(netvsp_nic_linearize(&fr, out, sizeof(out), &ol), (ssize_t)len + 4);
	ck_assert_mem_eq(out, f, 12);
	ck_assert_uint_eq(r16(out + 12), 0x8100);
	ck_assert_uint_eq(r16(out + 14), 0x2064);
	ck_assert_mem_eq(out + 16, f + 12, len - 12);
	ck_assert_uint_eq(ol.csum_start, 38);
	ck_assert_uint_eq(ol.flags, NETVSP_NIC_TX_CSUM_UDP);

	/* Lengths that disagree with the pieces, too long, too many pieces. */
	fr.len = len + 1;
	ck_assert_int_eq(netvsp_nic_linearize(&fr, out, sizeof(out), &ol), -EINVAL);
	fr.len = len;
	ck_assert_int_eq(netvsp_nic_linearize(&fr, out, len, &ol), -EMSGSIZE);
	fr.iovcnt = NETVSP_NIC_MAX_IOV + 1;
	ck_assert_int_eq(netvsp_nic_linearize(&fr, out, sizeof(out), &ol), -EINVAL);
}
END_TEST

START_TEST(rndis_glue)
{
	struct rndis_tx_packet pkt;
	struct netvsp_nic_tx_offload ol;
	struct netvsp_nic_rx_info in = { NETVSP_NIC_RX_L4_CSUM_OK | NETVSP_NIC_RX_IP_CSUM_OK |
					 NETVSP_NIC_RX_VLAN, 0xa00c };
	struct rndis_rx_info out;
	uint8_t f[100];
	size_t len = udp4(f, mac_b, mac_a, 1, 2, 3, 4, "x", 1, 0);

	memset(&pkt, 0, sizeof(pkt));
	pkt.flags = RNDIS_TX_LSO | RNDIS_TX_CSUM_TCP | RNDIS_TX_CSUM_IP | RNDIS_TX_IPV4 |
		    RNDIS_TX_VLAN;
	pkt.mss = 0x12345;	/* 20 bits in NDIS */
	pkt.l4_offset = 34;
	pkt.vlan_id = 100;
	pkt.vlan_pri = 5;
	pkt.vlan_cfi = 1;
	netvsp_nic_offload_from_rndis(&pkt, &ol);
	ck_assert_uint_eq(ol.flags, NETVSP_NIC_TX_LSO | NETVSP_NIC_TX_CSUM_TCP |
			  NETVSP_NIC_TX_CSUM_IP4 | NETVSP_NIC_TX_VLAN);
	ck_assert_uint_eq(ol.mss, 0xffff);
	ck_assert_uint_eq(ol.csum_start, 34);
	ck_assert_uint_eq(ol.csum_offset, 16);
	ck_assert_uint_eq(ol.vlan_tci, 5u << 13 | 1u << 12 | 100);

	memset(&out, 0, sizeof(out));
	out.flags = RNDIS_RX_HASH;
	netvsp_nic_rx_info_to_rndis(&in, f, len, &out);
	ck_assert_uint_eq(out.flags, RNDIS_RX_HASH | RNDIS_RX_CSUM | RNDIS_RX_VLAN);
	ck_assert_uint_eq(out.csum, NDIS_RXCSUM_INFO_UDPCS_OK | NDIS_RXCSUM_INFO_IPCS_OK);
	ck_assert_uint_eq(out.vlan_id, 12);
	ck_assert_uint_eq(out.vlan_pri, 5);
	ck_assert_uint_eq(out.vlan_cfi, 0);
	/* Not TCP/UDP (ARP): no transport verdict; a runt frame is safe. */
	in.flags = NETVSP_NIC_RX_L4_CSUM_BAD;
	netvsp_nic_rx_info_to_rndis(&in, f, 13, &out);
	ck_assert_uint_eq(out.flags & RNDIS_RX_CSUM, 0);
}
END_TEST

/* ---- Null backend -------------------------------------------------------------------- */

START_TEST(null_backend)
{
	struct netvsp_nic *nic;
	struct netvsp_nic_stats st;
	struct collector c;
	uint8_t f[64];
	uint8_t mac[6];
	struct iovec iov = { f, 60 };
	struct netvsp_nic_frame fr[2] = { { &iov, 1, 60, { 0 } }, { &iov, 1, 60, { 0 } } };

	memset(f, 0, sizeof(f));
	ck_assert_int_eq(netvsp_nic_open("null,queues=2", NULL, &nic), 0);
	ck_assert_int_eq(netvsp_nic_kind(nic), NETVSP_NIC_NULL);
	ck_assert_uint_eq(netvsp_nic_queues(nic), 2);
	ck_assert(netvsp_nic_link_up(nic));
	ck_assert_int_eq(netvsp_nic_mac(nic, mac), -ENOENT);
	ck_assert_int_eq(netvsp_nic_tx(nic, 1, fr, 2), 2);
	ck_assert_int_eq(netvsp_nic_tx(nic, 2, fr, 2), -EINVAL);
	ck_assert_int_eq(netvsp_nic_tx(nic, 0, NULL, 1), -EINVAL);
	ck_assert_int_eq(netvsp_nic_get_stats(nic, 1, &st), 0);
	ck_assert_uint_eq(st.tx_frames, 2);
	ck_assert_uint_eq(st.tx_bytes, 120);
	ck_assert_int_eq(netvsp_nic_get_stats(nic, 0, &st), 0);
	ck_assert_uint_eq(st.tx_frames, 0);
	ck_assert_int_eq(netvsp_nic_get_stats(nic, 2, &st), -EINVAL);
	coll_init(&c);
	ck_assert_int_eq(netvsp_nic_rx_poll(nic, 0, 32, collect, &c), 0);
	ck_assert_int_eq(netvsp_nic_rx_poll(nic, 0, 32, NULL, &c), -EINVAL);
	ck_assert_int_eq(netvsp_nic_rx_poll(nic, 5, 32, collect, &c), -EINVAL);
	ck_assert_int_ge(netvsp_nic_rx_fd(nic, 1), 0);
	ck_assert(!fd_readable(netvsp_nic_rx_fd(nic, 1), 0));
	ck_assert_int_eq(netvsp_nic_rx_fd(nic, 2), -EINVAL);
	netvsp_nic_close(nic);
	netvsp_nic_close(NULL);
}
END_TEST

/* ---- pcap backend -------------------------------------------------------------------- */

#define NREPLAY 6

static size_t replay_frame(unsigned int i, uint8_t *b)
{
	char msg[64];
	int n = snprintf(msg, sizeof(msg), "frame %u %.*s", i, (int)(i * 5), "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");

	return udp4(b, mac_a, mac_b, 0x0a000001, 0x0a000002, 1000 + i, 2000, msg, (size_t)n, 0);
}

static void write_pcap(const char *path, unsigned int n, bool truncate_third)
{
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *d = pcap_dump_open(p, path);
	unsigned int i;

	ck_assert_ptr_nonnull(d);
	for (i = 0; i < n; i++) {
		uint8_t b[256];
		struct pcap_pkthdr h = { { 1700000000, (suseconds_t)i }, 0, 0 };

		h.len = h.caplen = (bpf_u_int32)replay_frame(i, b);
		if (truncate_third && i == 2)
			h.caplen -= 4;	/* snaplen cut: not the frame on the wire */
		pcap_dump((u_char *)d, &h, b);
	}
	pcap_dump_close(d);
	pcap_close(p);
}

START_TEST(pcap_replay)
{
	const char *in = tmp_path("replay.pcap");
	struct netvsp_nic *nic;
	struct netvsp_nic_stats st;
	struct collector c;
	char spec[160];
	unsigned int i;
	int fd;

	write_pcap(in, NREPLAY, false);
	snprintf(spec, sizeof(spec), "pcap=%s", in);
	ck_assert_int_eq(netvsp_nic_open(spec, NULL, &nic), 0);
	fd = netvsp_nic_rx_fd(nic, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert(fd_readable(fd, 0));

	coll_init(&c);
	ck_assert_int_eq(netvsp_nic_rx_poll(nic, 0, 2, collect, &c), 2);
	/* The callback has no room for the third: it must come again. */
	c.refuse_at = 2;
	ck_assert_int_eq(netvsp_nic_rx_poll(nic, 0, 32, collect, &c), 0);
	ck_assert_uint_eq(c.refusals, 1);
	ck_assert(fd_readable(fd, 0));
	ck_assert_int_eq(netvsp_nic_rx_poll(nic, 0, 32, collect, &c), NREPLAY - 2);
	ck_assert_uint_eq(c.n, NREPLAY);
	for (i = 0; i < NREPLAY; i++) {
		uint8_t b[256];
		size_t len = replay_frame(i, b);

		ck_assert_uint_eq(c.len[i], len);
		ck_assert_mem_eq(c.frame[i], b, len);
		ck_assert_uint_eq(c.info[i].flags, 0);
	}
	/* Once only: after the end nothing comes and the fd goes quiet. */
	ck_assert_int_eq(netvsp_nic_rx_poll(nic, 0, 32, collect, &c), 0);
	ck_assert(!fd_readable(fd, 0));
	ck_assert_int_eq(netvsp_nic_get_stats(nic, 0, &st), 0);
	ck_assert_uint_eq(st.rx_frames, NREPLAY);
	coll_free(&c);
	netvsp_nic_close(nic);

	/* A record cut short is dropped and counted, the rest delivered. */
	write_pcap(in, 4, true);
	ck_assert_int_eq(netvsp_nic_open(spec, NULL, &nic), 0);
	coll_init(&c);
	ck_assert_int_eq(netvsp_nic_rx_poll(nic, 0, 32, collect, &c), 3);
	ck_assert_int_eq(netvsp_nic_get_stats(nic, 0, &st), 0);
	ck_assert_uint_eq(st.rx_drop_invalid, 1);
	ck_assert_uint_eq(r16(c.frame[2] + 34), 1003);	/* UDP source port of record 3 */
	coll_free(&c);
	netvsp_nic_close(nic);
}
END_TEST

START_TEST(pcap_out)
{
	const char *out = tmp_path("out.pcap");
	char spec[160], errbuf[PCAP_ERRBUF_SIZE];
	struct netvsp_nic *nic;
	struct netvsp_nic_stats st;
	uint8_t f0[128], f1[128], f2[128], lso[3000], payload[2000];
	size_t l0 = replay_frame(0, f0), l1 = replay_frame(4, f1), l2, llso;
	struct iovec iov0 = { f0, l0 };
	struct iovec iov1[3] = { { f1, 10 }, { f1 + 10, 1 }, { f1 + 11, l1 - 11 } };
	struct iovec iov2, iovl = { lso, 0 };
	struct netvsp_nic_frame fr[5];
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *p;
	unsigned int i;

	l2 = udp4(f2, mac_a, mac_b, 0x0a000001, 0x0a000002, 9, 9, "ck", 2, 0xbeef);
	iov2 = (struct iovec){ f2, l2 };
	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
	llso = tcp_frame(lso, false, 5, 0x10, payload, sizeof(payload), 80);
	iovl.iov_len = llso;
	memset(fr, 0, sizeof(fr));
	fr[0] = (struct netvsp_nic_frame){ &iov0, 1, l0, { 0 } };
	fr[1] = (struct netvsp_nic_frame){ iov1, 3, l1, { 0 } };
	fr[2] = (struct netvsp_nic_frame){ &iov2, 1, l2, { .flags = NETVSP_NIC_TX_CSUM_UDP,
							  .csum_start = 34 } };
	fr[3] = (struct netvsp_nic_frame){ &iovl, 1, llso, { .flags = NETVSP_NIC_TX_LSO |
							   NETVSP_NIC_TX_CSUM_TCP |
							   NETVSP_NIC_TX_CSUM_IP4,
							   .csum_start = 34, .mss = 1460 } };
	/* Hostile: checksum offset beyond the frame. Dropped, not written. */
	fr[4] = (struct netvsp_nic_frame){ &iov0, 1, l0, { .flags = NETVSP_NIC_TX_CSUM_UDP,
							  .csum_start = 400 } };

	snprintf(spec, sizeof(spec), "pcap=,out=%s", out);
	ck_assert_int_eq(netvsp_nic_open(spec, NULL, &nic), 0);
	ck_assert_int_eq(netvsp_nic_tx(nic, 0, fr, 5), 4);
	ck_assert_int_eq(netvsp_nic_get_stats(nic, 0, &st), 0);
	ck_assert_uint_eq(st.tx_frames, 4);
	ck_assert_uint_eq(st.tx_drop_invalid, 1);
	ck_assert_uint_eq(st.tx_sw_segments, 2);
	ck_assert_uint_eq(st.tx_sw_csum, 2);
	netvsp_nic_close(nic);

	p = pcap_open_offline(out, errbuf);
	ck_assert_msg(p != NULL, "%s", errbuf);
	ck_assert_int_eq(pcap_next_ex(p, &h, &data), 1);
	ck_assert_uint_eq(h->caplen, l0);
	ck_assert_mem_eq(data, f0, l0);
	ck_assert_int_eq(pcap_next_ex(p, &h, &data), 1);
	ck_assert_uint_eq(h->caplen, l1);
	ck_assert_mem_eq(data, f1, l1);
	ck_assert_int_eq(pcap_next_ex(p, &h, &data), 1);
	ck_assert_uint_eq(h->caplen, l2);
	ck_assert(csum_ok(data, h->caplen, NULL));
	ck_assert_mem_eq(data + 42, "ck", 2);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(pcap_next_ex(p, &h, &data), 1);
		ck_assert_uint_eq(h->caplen, 54 + (i ? 540 : 1460));
		ck_assert(csum_ok(data, h->caplen, NULL));
		ck_assert_mem_eq(data + 54, payload + i * 1460, h->caplen - 54);
	}
	ck_assert_int_eq(pcap_next_ex(p, &h, &data), PCAP_ERROR_BREAK);
	pcap_close(p);
}
END_TEST

/* ---- Capture ------------------------------------------------------------------------- */

static int tshark_count(const char *path, const char *fields, char *out, size_t cap)
{
	char cmd[512];
	FILE *f;
	int lines = 0;
	size_t used = 0;

	snprintf(cmd, sizeof(cmd), "tshark -n -r '%s' %s 2>/dev/null", path, fields);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (fgets(out + used, (int)(cap - used), f)) {
		lines++;
		used += strlen(out + used);
		if (cap - used < 2)
			used = 0;
	}
	return pclose(f) == 0 ? lines : -1;
}

static bool have_tshark(void)
{
	return system("command -v tshark >/dev/null 2>&1") == 0;
}

static void capture_roundtrip(const char *capname)
{
	const char *in = tmp_path("cap_in.pcap"), *cap = tmp_path(capname);
	char spec[200], errbuf[PCAP_ERRBUF_SIZE], out[4096];
	struct netvsp_nic *nic;
	struct collector c;
	uint8_t f[128];
	size_t len = replay_frame(9, f);
	struct iovec iov[2] = { { f, 7 }, { f + 7, len - 7 } };
	struct netvsp_nic_frame fr[2] = {
		{ iov, 2, len, { 0 } },
		{ iov, 2, len, { .flags = NETVSP_NIC_TX_VLAN, .vlan_tci = 42 } },
	};
	struct pcap_pkthdr *h;
	const u_char *data;
	unsigned int i;
	pcap_t *p;
	int n;

	write_pcap(in, 3, false);
	snprintf(spec, sizeof(spec), "pcap=%s,capture=%s", in, cap);
	ck_assert_int_eq(netvsp_nic_open(spec, NULL, &nic), 0);
	coll_init(&c);
	ck_assert_int_eq(netvsp_nic_rx_poll(nic, 0, 32, collect, &c), 3);
	/* No out file: the frames go nowhere, but the capture sees them. */
	ck_assert_int_eq(netvsp_nic_tx(nic, 0, fr, 2), 2);
	netvsp_nic_close(nic);

	p = pcap_open_offline(cap, errbuf);
	ck_assert_msg(p != NULL, "%s", errbuf);
	ck_assert_int_eq(pcap_datalink(p), DLT_EN10MB);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(pcap_next_ex(p, &h, &data), 1);
		ck_assert_uint_eq(h->caplen, c.len[i]);
		ck_assert_mem_eq(data, c.frame[i], c.len[i]);
	}
	ck_assert_int_eq(pcap_next_ex(p, &h, &data), 1);
	ck_assert_uint_eq(h->caplen, len);
	ck_assert_mem_eq(data, f, len);
	ck_assert_int_eq(pcap_next_ex(p, &h, &data), 1);
	ck_assert_uint_eq(h->caplen, len + 4);
	ck_assert_uint_eq(r16(data + 12), 0x8100);
	ck_assert_uint_eq(r16(data + 14), 42);
	ck_assert_mem_eq(data + 16, f + 12, len - 12);
	ck_assert_int_eq(pcap_next_ex(p, &h, &data), PCAP_ERROR_BREAK);
	pcap_close(p);
	coll_free(&c);

	if (!have_tshark()) {
		fprintf(stderr, "test_nic: tshark not found; skipping the tshark read of %s\n", cap);
		return;
	}
	n = tshark_count(cap, "-T fields -e frame.number -e udp.srcport -e vlan.id", out,
			 sizeof(out));
	ck_assert_msg(n == 5, "tshark listed %d frames of %s", n, cap);
	ck_assert_msg(strstr(out, "1009\t42"), "tshark output lacks the tagged frame: %s", out);
	if (strstr(capname, ".pcapng")) {
		/* epb_flags direction: 1 inbound (to the guest), 2 outbound. */
		n = tshark_count(cap, "-T fields -e frame.packet_flags_direction", out,
				 sizeof(out));
		ck_assert_int_eq(n, 5);
		ck_assert_msg(strstr(out, "0x1\n0x1\n0x1\n0x2\n0x2") ||
			      strstr(out, "0x00000001\n0x00000001\n0x00000001\n0x00000002\n0x00000002"),
			      "directions: %s", out);
	}
}

START_TEST(capture_pcap)
{
	capture_roundtrip("cap.pcap");
}
END_TEST

START_TEST(capture_pcapng)
{
	capture_roundtrip("cap.pcapng");
}
END_TEST

static void *capture_writer(void *arg)
{
	struct netvsp_capture *cap = arg;
	uint8_t f[100];
	struct iovec iov = { f, 0 };
	int i;

	for (i = 0; i < 500; i++) {
		iov.iov_len = replay_frame((unsigned int)(i % 6), f);
		ck_assert_int_eq(netvsp_capture_frame(cap, NETVSP_CAPTURE_TX, &iov, 1, -1), 0);
	}
	return NULL;
}

START_TEST(capture_threads)
{
	const char *path = tmp_path("threads.pcap");
	char errbuf[PCAP_ERRBUF_SIZE];
	struct netvsp_capture *cap;
	pthread_t t[4];
	uint64_t written, dropped;
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *p;
	int i, n = 0;
	struct iovec bad = { (void *)"x", 1 };

	ck_assert_int_eq(netvsp_capture_open(path, NETVSP_CAPTURE_PCAP, NULL, &cap), 0);
	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, capture_writer, cap);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	/* A tag cannot go into a frame without MAC addresses. */
	ck_assert_int_eq(netvsp_capture_frame(cap, NETVSP_CAPTURE_RX, &bad, 1, 5), -EINVAL);
	netvsp_capture_counts(cap, &written, &dropped);
	ck_assert_uint_eq(written, 2000);
	ck_assert_uint_eq(dropped, 1);
	ck_assert_int_eq(netvsp_capture_close(cap), 0);

	/* Interleaved records, none torn: every record parses and is one of
	 * the frames written. */
	p = pcap_open_offline(path, errbuf);
	ck_assert_ptr_nonnull(p);
	while (pcap_next_ex(p, &h, &data) == 1) {
		uint8_t f[100];
		size_t len = replay_frame(r16(data + 34) - 1000u, f);

		ck_assert_uint_eq(h->caplen, len);
		ck_assert_mem_eq(data, f, len);
		n++;
	}
	ck_assert_int_eq(n, 2000);
	pcap_close(p);
	ck_assert_int_eq(netvsp_capture_open(NULL, NETVSP_CAPTURE_PCAP, NULL, &cap), -EINVAL);
	ck_assert_int_eq(netvsp_capture_open(path, (enum netvsp_capture_format)7, NULL, &cap),
			 -EINVAL);
}
END_TEST

/* ---- DPDK ---------------------------------------------------------------------------- */

static void if_addr(const char *name, uint32_t addr, uint8_t mac[6]);
static int udp_socket(uint32_t addr, unsigned int port);

/*
 * net_tap advertises checksum offloads, so a frame with a request goes out
 * with ol_flags and the PMD finishes it; the kernel behind the tap checks
 * the checksums and delivers only a correct datagram.
 */
static void dpdk_tap_offload(struct vmbus_log *log)
{
	struct netvsp_nic *nic;
	uint8_t host_mac[6], f[128];
	struct iovec iov;
	struct netvsp_nic_frame fr;
	char buf[32];
	int s, ret;

	ret = netvsp_nic_open("dpdk=port=2", log, &nic);
	ck_assert_int_eq(ret, 0);
	if_addr("nvdtap0", HOST_IP, host_mac);
	s = udp_socket(HOST_IP, 7777);
	iov = (struct iovec){ f, udp4(f, host_mac, mac_a, PEER_IP, HOST_IP, 5555, 7777, "viahw",
				      5, 0x4321) };
	f[24] = f[25] = 0;
	fr = (struct netvsp_nic_frame){ &iov, 1, iov.iov_len,
					{ .flags = NETVSP_NIC_TX_CSUM_UDP | NETVSP_NIC_TX_CSUM_IP4,
					  .csum_start = 34 } };
	ck_assert_int_eq(netvsp_nic_tx(nic, 0, &fr, 1), 1);
	ret = (int)recv(s, buf, sizeof(buf), 0);
	ck_assert_msg(ret == 5, "datagram through net_tap with offloads lost (%d)", ret);
	ck_assert_mem_eq(buf, "viahw", 5);
	close(s);
	netvsp_nic_close(nic);
}

struct logbuf {
	char text[4096];
};

static void log_to_buf(void *opaque, int level, const char *fmt, va_list ap)
{
	struct logbuf *l = opaque;
	size_t used = strlen(l->text);

	(void)level;
	if (used + 2 < sizeof(l->text)) {
		vsnprintf(l->text + used, sizeof(l->text) - used - 1, fmt, ap);
		strcat(l->text, "\n");
	}
}

START_TEST(dpdk_ring)
{
#ifndef NETVSP_HAVE_DPDK
	fprintf(stderr, "test_nic: built without DPDK; skipping the DPDK test\n");
#else
	static struct logbuf lb;
	struct vmbus_log log = { log_to_buf, &lb, VMBUS_LOG_DEBUG };
	/* Whitespace form, with a device argument holding commas. */
	char spec[256];
	bool tap = geteuid() == 0 && !access("/dev/net/tun", R_OK | W_OK) &&
		   unshare(CLONE_NEWNET) == 0;
	struct netvsp_nic *ring, *null, *again;
	struct netvsp_nic_stats st;
	struct collector c;
	uint8_t f[8][128], lso[3000], payload[2000], mac[6];
	struct iovec iov[8], iovl;
	struct netvsp_nic_frame fr[9];
	unsigned int i;
	int ret, tries;

	snprintf(spec, sizeof(spec), "dpdk=port=0,--no-huge --no-pci --no-shconf -l 0 "
		 "--log-level=*:critical --vdev=net_ring0 --vdev=net_null0,size=64 %s",
		 tap ? "--vdev=net_tap0,iface=nvdtap0" : "");
	ret = netvsp_nic_open(spec, &log, &ring);
	if (ret && strstr(lb.text, "rte_eal_init failed")) {
		fprintf(stderr, "test_nic: DPDK EAL does not start here; skipping the DPDK "
			"test:\n%s", lb.text);
		return;
	}
	ck_assert_msg(ret == 0, "open: %d\n%s", ret, lb.text);
	ck_assert_int_eq(netvsp_nic_rx_fd(ring, 0), -1);
	ck_assert_int_eq(netvsp_nic_mac(ring, mac), 0);

	memset(fr, 0, sizeof(fr));
	for (i = 0; i < 8; i++) {
		size_t len = replay_frame(i, f[i]);

		iov[i] = (struct iovec){ f[i], len };
		fr[i] = (struct netvsp_nic_frame){ &iov[i], 1, len, { 0 } };
	}
	/* One with a checksum request: net_ring offers no offloads, so it
	 * must come back with the checksum done in software. */
	fr[7].ol = (struct netvsp_nic_tx_offload){ .flags = NETVSP_NIC_TX_CSUM_UDP,
						   .csum_start = 34 };
	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 3);
	iovl = (struct iovec){ lso, tcp_frame(lso, true, 77, 0x18, payload, sizeof(payload), 80) };
	fr[8] = (struct netvsp_nic_frame){ &iovl, 1, iovl.iov_len,
					   { .flags = NETVSP_NIC_TX_LSO | NETVSP_NIC_TX_CSUM_TCP,
					     .csum_start = 54, .mss = 1000 } };
	ck_assert_int_eq(netvsp_nic_tx(ring, 0, fr, 9), 9);

	/* net_ring: what queue 0 sends, queue 0 receives. */
	coll_init(&c);
	for (tries = 0; c.n < 10 && tries < 100; tries++)
		netvsp_nic_rx_poll(ring, 0, 32, collect, &c);
	ck_assert_uint_eq(c.n, 10);
	for (i = 0; i < 7; i++) {
		ck_assert_uint_eq(c.len[i], iov[i].iov_len);
		ck_assert_mem_eq(c.frame[i], f[i], iov[i].iov_len);
	}
	ck_assert(csum_ok(c.frame[7], c.len[7], NULL));
	ck_assert_mem_eq(c.frame[7] + 42, f[7] + 42, iov[7].iov_len - 42);
	for (i = 8; i < 10; i++) {
		ck_assert_uint_eq(c.len[i], 74 + 1000);
		ck_assert(csum_ok(c.frame[i], c.len[i], NULL));
		ck_assert_mem_eq(c.frame[i] + 74, payload + (i - 8) * 1000, 1000);
	}
	coll_free(&c);
	ck_assert_int_eq(netvsp_nic_get_stats(ring, 0, &st), 0);
	ck_assert_uint_eq(st.tx_frames, 9);
	ck_assert_uint_eq(st.tx_sw_segments, 2);
	ck_assert_uint_eq(st.rx_frames, 10);

	/* The port is taken; the EAL is not initialized twice. */
	lb.text[0] = '\0';
	ck_assert_int_eq(netvsp_nic_open("dpdk=port=0,--no-huge", &log, &again), -EBUSY);
	ck_assert_msg(strstr(lb.text, "ignored"), "%s", lb.text);
	ck_assert_int_eq(netvsp_nic_open("dpdk=port=9", &log, &again), -ENODEV);

	/* Comma form; net_null swallows a burst. */
	ck_assert_int_eq(netvsp_nic_open("dpdk=port=1,--no-huge,--no-pci", &log, &null), 0);
	ck_assert_int_eq(netvsp_nic_tx(null, 0, fr, 8), 8);
	ck_assert_int_eq(netvsp_nic_get_stats(null, 0, &st), 0);
	ck_assert_uint_eq(st.tx_frames, 8);
	ck_assert_uint_eq(st.tx_drop_full, 0);
	netvsp_nic_close(null);

	/* Reopen after close. */
	netvsp_nic_close(ring);
	ck_assert_int_eq(netvsp_nic_open("dpdk=port=0,--no-huge", &log, &ring), 0);
	ck_assert_int_eq(netvsp_nic_tx(ring, 0, fr, 1), 1);
	coll_init(&c);
	ck_assert_int_eq(netvsp_nic_rx_poll(ring, 0, 32, collect, &c), 1);
	ck_assert_mem_eq(c.frame[0], f[0], iov[0].iov_len);
	coll_free(&c);
	netvsp_nic_close(ring);

	if (tap)
		dpdk_tap_offload(&log);
	else
		fprintf(stderr, "test_nic: no root or /dev/net/tun; skipping the DPDK net_tap "
			"offload check\n");
#endif
}
END_TEST

/* ---- TAP ----------------------------------------------------------------------------- */


/* Enter a network namespace of our own; false (with a reason) when the
 * TAP test cannot run here. */
static bool tap_env(void)
{
	if (access("/dev/net/tun", R_OK | W_OK)) {
		fprintf(stderr, "test_nic: /dev/net/tun unavailable (%s); skipping the TAP "
			"test\n", strerror(errno));
		return false;
	}
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "test_nic: cannot create a network namespace (%s; needs root "
			"or CAP_SYS_ADMIN); skipping the TAP test\n", strerror(errno));
		return false;
	}
	return true;
}

static void if_addr(const char *name, uint32_t addr, uint8_t mac[6])
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, name);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(addr);
	ck_assert_int_eq(ioctl(s, SIOCSIFADDR, &ifr), 0);
	sin->sin_addr.s_addr = htonl(0xffffff00u);
	ck_assert_int_eq(ioctl(s, SIOCSIFNETMASK, &ifr), 0);
	ck_assert_int_eq(ioctl(s, SIOCGIFHWADDR, &ifr), 0);
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(s);
}

static int udp_socket(uint32_t addr, unsigned int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				   .sin_addr.s_addr = htonl(addr) };
	struct timeval tv = { 1, 0 };
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	ck_assert_int_eq(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return s;
}

/* Poll every queue of the NIC until a frame matching pred arrives (or 2 s
 * pass); a multi-queue tap spreads the kernel's frames over its queues. */
static int wait_frame(struct netvsp_nic *nic, struct collector *c,
		      bool (*pred)(const uint8_t *, size_t))
{
	unsigned int i, q, nq = netvsp_nic_queues(nic), from = 0;
	struct pollfd p[NETVSP_NIC_MAX_QUEUES];
	int tries;

	for (q = 0; q < nq; q++)
		p[q] = (struct pollfd){ .fd = netvsp_nic_rx_fd(nic, q), .events = POLLIN };
	for (tries = 0; tries < 200; tries++) {
		if (poll(p, nq, 10) <= 0)
			continue;
		for (q = 0; q < nq; q++)
			netvsp_nic_rx_poll(nic, q, 32, collect, c);
		for (i = from; i < c->n; i++)
			if (pred(c->frame[i], c->len[i]))
				return (int)i;
		from = c->n;
	}
	return -1;
}

static bool is_arp_for_peer(const uint8_t *b, size_t len)
{
	return len >= 42 && r16(b + 12) == 0x0806 && r16(b + 20) == 1 &&
	       r32(b + 38) == PEER_IP;
}

static bool is_udp_to_peer(const uint8_t *b, size_t len)
{
	return len >= 42 && r16(b + 12) == 0x0800 && b[23] == 17 && r32(b + 30) == PEER_IP &&
	       r16(b + 36) == 9999;
}


static void w32(uint8_t *p, uint32_t v)
{
	w16(p, v >> 16);
	w16(p + 2, v & 0xffff);
}

/* IPv4/TCP from the peer to the kernel's side; a SYN carries an MSS
 * option. Checksums are left for the NIC. */
static size_t tcp4_host(uint8_t *b, const uint8_t *hmac, unsigned int sport, unsigned int dport,
			uint32_t seq, uint32_t ack, uint8_t flags, const uint8_t *pl, size_t plen)
{
	size_t thl = (flags & 0x02) ? 24 : 20;
	uint8_t *ip = b + 14, *t = ip + 20;

	eth(b, hmac, mac_a, 0x0800);
	memset(ip, 0, 20 + thl);
	ip[0] = 0x45;
	w16(ip + 2, (unsigned int)(20 + thl + plen));
	ip[8] = 64;
	ip[9] = 6;
	w32(ip + 12, PEER_IP);
	w32(ip + 16, HOST_IP);
	w16(t, sport);
	w16(t + 2, dport);
	w32(t + 4, seq);
	w32(t + 8, ack);
	t[12] = (uint8_t)(thl / 4 << 4);
	t[13] = flags;
	w16(t + 14, 65535);
	if (thl == 24) {
		t[20] = 2;
		t[21] = 4;
		w16(t + 22, 1460);
	}
	if (plen)
		memcpy(t + thl, pl, plen);
	return 14 + 20 + thl + plen;
}

static unsigned int match_port;

static bool is_tcp(const uint8_t *b, size_t len)
{
	return len >= 54 && r16(b + 12) == 0x0800 && b[23] == 6;
}

static bool is_syn_to_peer(const uint8_t *b, size_t len)
{
	return is_tcp(b, len) && r32(b + 30) == PEER_IP && r16(b + 36) == 80 &&
	       (b[47] & 0x12) == 0x02;
}

static bool is_rst_to_peer(const uint8_t *b, size_t len)
{
	return is_tcp(b, len) && r32(b + 30) == PEER_IP && r16(b + 36) == match_port &&
	       (b[47] & 0x04);
}

/* The kernel's TCP stream to the peer: connect, answer the handshake by
 * hand, and have it send more than one TSO packet's worth. With kernel
 * offloads on, GSO packets reach the backend and must come out as
 * MTU-sized segments with valid checksums, in sequence. */
static void tap_tcp_rx(struct netvsp_nic *nic, const uint8_t *host_mac, bool offload)
{
	static uint8_t data[30000];
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(80),
				  .sin_addr.s_addr = htonl(PEER_IP) };
	struct netvsp_nic_stats st;
	struct collector c;
	uint8_t f[128];
	struct iovec iov;
	struct netvsp_nic_frame fr;
	uint32_t isn, next;
	unsigned int sport, q, i, got = 0;
	uint64_t segs = 0;
	int s, k, tries;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13 + 1);
	s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	connect(s, (struct sockaddr *)&to, sizeof(to));
	coll_init(&c);
	k = wait_frame(nic, &c, is_syn_to_peer);
	ck_assert_msg(k >= 0, "no SYN from the kernel");
	sport = r16(c.frame[k] + 34);
	isn = r32(c.frame[k] + 38);
	iov = (struct iovec){ f, tcp4_host(f, host_mac, 80, sport, 5000, isn + 1, 0x12, NULL, 0) };
	fr = (struct netvsp_nic_frame){ &iov, 1, iov.iov_len,
					{ .flags = NETVSP_NIC_TX_CSUM_IP4 | NETVSP_NIC_TX_CSUM_TCP,
					  .csum_start = 34 } };
	ck_assert_int_eq(netvsp_nic_tx(nic, 0, &fr, 1), 1);
	for (tries = 0; tries < 100; tries++) {
		struct pollfd p = { .fd = s, .events = POLLOUT };

		if (poll(&p, 1, 20) == 1)
			break;
	}
	ck_assert_int_eq(send(s, data, sizeof(data), 0) > 14000, 1);

	/* Collect the data frames of the first flight and check them. */
	next = isn + 1;
	for (tries = 0; tries < 100 && got < 14000; tries++) {
		coll_free(&c);
		if (wait_frame(nic, &c, is_tcp) < 0)
			break;
		for (i = 0; i < c.n; i++) {
			const uint8_t *b = c.frame[i];
			size_t l4, plen;

			if (!is_tcp(b, c.len[i]) || r16(b + 34) != sport)
				continue;
			ck_assert_uint_le(c.len[i], 1514);
			ck_assert_msg(csum_ok(b, c.len[i], &l4), "bad checksum on a segment");
			ck_assert(c.info[i].flags & NETVSP_NIC_RX_L4_CSUM_OK || !offload);
			plen = c.len[i] - l4 - (b[l4 + 12] >> 4) * 4u;
			if (!plen)
				continue;
			ck_assert_uint_eq(r32(b + l4 + 4), next);
			ck_assert_mem_eq(b + c.len[i] - plen, data + (next - isn - 1), plen);
			next += (uint32_t)plen;
			got += (unsigned int)plen;
		}
	}
	ck_assert_msg(got >= 14000, "only %u bytes of the stream arrived", got);
	for (q = 0; q < netvsp_nic_queues(nic); q++) {
		ck_assert_int_eq(netvsp_nic_get_stats(nic, q, &st), 0);
		segs += st.rx_sw_segments;
	}
	if (offload)
		ck_assert_msg(segs > 0, "no GSO packet was cut; kernel TSO not in use?");
	else
		ck_assert_uint_eq(segs, 0);
	coll_free(&c);
	close(s);
}

/* An LSO frame from the guest to a closed port: the kernel only answers
 * with a reset if the IP header we completed (length, checksum) is
 * right. An AF_PACKET socket sees the frame as the kernel got it; its
 * checksum field must be the seed that completes to a valid checksum. */
static void tap_tcp_lso(struct netvsp_nic *nic, const uint8_t *host_mac, int pkt)
{
	static uint8_t f[4000];
	uint8_t payload[3000], in[4096];
	struct collector c;
	struct iovec iov;
	struct netvsp_nic_frame fr;
	size_t len;
	ssize_t n;
	int k, tries;
	bool seen = false;

	memset(payload, 0x5a, sizeof(payload));
	match_port = 41000;
	len = tcp4_host(f, host_mac, match_port, 9, 7000, 1, 0x10, payload, sizeof(payload));
	w16(f + 16, 0);		/* NDIS LSO v2: the guest leaves the IP length 0 */
	iov = (struct iovec){ f, len };
	fr = (struct netvsp_nic_frame){ &iov, 1, len,
					{ .flags = NETVSP_NIC_TX_LSO | NETVSP_NIC_TX_CSUM_TCP |
						   NETVSP_NIC_TX_CSUM_IP4,
					  .csum_start = 34, .mss = 1000 } };
	ck_assert_int_eq(netvsp_nic_tx(nic, 0, &fr, 1), 1);
	coll_init(&c);
	k = wait_frame(nic, &c, is_rst_to_peer);
	ck_assert_msg(k >= 0, "no reset for the LSO frame");
	coll_free(&c);

	for (tries = 0; tries < 50 && !seen; tries++) {
		n = recv(pkt, in, sizeof(in), MSG_DONTWAIT);
		if (n < 0) {
			usleep(10000);
			continue;
		}
		if (n < 54 || !is_tcp(in, (size_t)n) || r16(in + 34) != match_port)
			continue;
		/* Finish the checksum the way a device would, then verify. */
		if (!csum_ok(in, (size_t)n, NULL)) {
			uint32_t sum = sum16(in + 34, (size_t)n - 34, 0);

			w16(in + 50, ~fold(sum) & 0xffff);
		}
		ck_assert_msg(csum_ok(in, (size_t)n, NULL), "TCP seed/checksum wrong (%zd bytes)", n);
		seen = true;
	}
	ck_assert_msg(seen, "AF_PACKET did not see the LSO frame");
}

static void tap_checks(const char *name, const char *opts)
{
	struct netvsp_nic *nic;
	struct netvsp_nic_stats st;
	struct collector c;
	uint8_t host_mac[6], arp[42], f[128], mac[6];
	struct iovec iov;
	struct netvsp_nic_frame fr;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9999),
				  .sin_addr.s_addr = htonl(PEER_IP) };
	char buf[64], spec[64];
	uint64_t rx;
	int s, i, ret, pkt;

	snprintf(spec, sizeof(spec), "tap=%s%s", name, opts);
	ret = netvsp_nic_open(spec, NULL, &nic);
	ck_assert_msg(ret == 0, "open %s: %s", spec, strerror(-ret));
	ck_assert_int_eq(netvsp_nic_mac(nic, mac), -ENOENT);
	if_addr(name, HOST_IP, host_mac);
	ck_assert(netvsp_nic_link_up(nic));
	pkt = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	ck_assert_int_ge(pkt, 0);
	{
		struct sockaddr_ll sll = { .sll_family = AF_PACKET,
					   .sll_protocol = htons(ETH_P_ALL),
					   .sll_ifindex = (int)if_nametoindex(name) };

		ck_assert_int_eq(bind(pkt, (struct sockaddr *)&sll, sizeof(sll)), 0);
	}

	/* Kernel to backend: a datagram to the peer first needs ARP. */
	s = udp_socket(HOST_IP, 7777);
	ck_assert_int_eq(sendto(s, "ping", 4, 0, (struct sockaddr *)&to, sizeof(to)), 4);
	coll_init(&c);
	i = wait_frame(nic, &c, is_arp_for_peer);
	ck_assert_msg(i >= 0, "no ARP request for the peer seen at the backend");
	ck_assert_mem_eq(c.frame[i] + 6, host_mac, 6);

	/* Backend to kernel: answer the ARP; the queued datagram follows. */
	eth(arp, host_mac, mac_a, 0x0806);
	w16(arp + 14, 1);
	w16(arp + 16, 0x0800);
	arp[18] = 6;
	arp[19] = 4;
	w16(arp + 20, 2);
	memcpy(arp + 22, mac_a, 6);
	w16(arp + 28, PEER_IP >> 16);
	w16(arp + 30, PEER_IP & 0xffff);
	memcpy(arp + 32, host_mac, 6);
	w16(arp + 38, HOST_IP >> 16);
	w16(arp + 40, HOST_IP & 0xffff);
	iov = (struct iovec){ arp, sizeof(arp) };
	fr = (struct netvsp_nic_frame){ &iov, 1, sizeof(arp), { 0 } };
	ck_assert_int_eq(netvsp_nic_tx(nic, 0, &fr, 1), 1);
	i = wait_frame(nic, &c, is_udp_to_peer);
	ck_assert_msg(i >= 0, "the datagram did not follow the ARP reply");
	ck_assert_mem_eq(c.frame[i] + 42, "ping", 4);
	ck_assert_mem_eq(c.frame[i], mac_a, 6);
	/* Whether the kernel left the checksum partial or not, the guest
	 * gets it complete. */
	ck_assert(csum_ok(c.frame[i], c.len[i], NULL));
	coll_free(&c);

	/* Checksum offload: a garbage checksum with a request is fixed; the
	 * same frame without the request is dropped by the kernel. */
	ret = (int)udp4(f, host_mac, mac_a, PEER_IP, HOST_IP, 5555, 7777, "nocsum", 6, 0);
	iov = (struct iovec){ f, (size_t)ret };
	fr = (struct netvsp_nic_frame){ &iov, 1, (size_t)ret, { 0 } };
	f[40] = 0x12;
	f[41] = 0x34;
	ck_assert_int_eq(netvsp_nic_tx(nic, 0, &fr, 1), 1);
	ck_assert_int_eq(recv(s, buf, sizeof(buf), 0), -1);
	udp4(f, host_mac, mac_a, PEER_IP, HOST_IP, 5555, 7777, "csumok", 6, 0x1234);
	fr.ol = (struct netvsp_nic_tx_offload){ .flags = NETVSP_NIC_TX_CSUM_UDP |
						NETVSP_NIC_TX_CSUM_IP4, .csum_start = 34 };
	f[24] = f[25] = 0;	/* IP header checksum left to the NIC as well */
	ck_assert_int_eq(netvsp_nic_tx(nic, 0, &fr, 1), 1);
	ret = (int)recv(s, buf, sizeof(buf), 0);
	ck_assert_int_eq(ret, 6);
	ck_assert_mem_eq(buf, "csumok", 6);

	tap_tcp_lso(nic, host_mac, pkt);
	tap_tcp_rx(nic, host_mac, !strstr(opts, "offload=0"));

	/* Hostile offload metadata never reaches the kernel. */
	fr.ol.csum_start = 2000;
	ck_assert_int_eq(netvsp_nic_tx(nic, 0, &fr, 1), 0);
	ck_assert_int_eq(netvsp_nic_get_stats(nic, 0, &st), 0);
	ck_assert_uint_eq(st.tx_drop_invalid, 1);
	ck_assert_uint_eq(st.tx_frames, 5);
	rx = st.rx_frames;
	if (netvsp_nic_queues(nic) > 1) {
		ck_assert_int_eq(netvsp_nic_get_stats(nic, 1, &st), 0);
		rx += st.rx_frames;
	}
	ck_assert_uint_ge(rx, 2);
	close(s);
	close(pkt);
	netvsp_nic_close(nic);
}

START_TEST(tap_backend)
{
	if (!tap_env())
		return;
	tap_checks("nvtap0", ",up");
	/* Again without kernel offloads and with two queues; the first
	 * interface went away with its fd. */
	tap_checks("nvtap1", ",up,offload=0,queues=2");
}
END_TEST


static bool is_marked(const uint8_t *b, size_t len)
{
	return len >= 46 && r16(b + 12) == 0x0800 && !memcmp(b + 42, "mark", 4);
}

/* pcap=live on a tap interface: what the live handle injects leaves the
 * tap (the TAP backend receives it), and what the TAP backend writes
 * arrives on the interface (the live handle captures it). */
START_TEST(pcap_live)
{
	struct netvsp_nic *tap, *live;
	struct collector c;
	uint8_t f[128];
	struct iovec iov;
	struct netvsp_nic_frame fr;
	int i;

	if (!tap_env())
		return;
	ck_assert_int_eq(netvsp_nic_open("tap=nvtap2,up", NULL, &tap), 0);
	ck_assert_int_eq(netvsp_nic_open("pcap=live:nvtap2", NULL, &live), 0);
	ck_assert_int_ge(netvsp_nic_rx_fd(live, 0), 0);
	iov = (struct iovec){ f, udp4(f, mac_a, mac_b, PEER_IP, HOST_IP, 1, 2, "mark", 4, 0) };
	fr = (struct netvsp_nic_frame){ &iov, 1, iov.iov_len, { .flags = NETVSP_NIC_TX_CSUM_UDP,
								 .csum_start = 34 } };

	ck_assert_int_eq(netvsp_nic_tx(live, 0, &fr, 1), 1);
	coll_init(&c);
	i = wait_frame(tap, &c, is_marked);
	ck_assert_msg(i >= 0, "frame injected by pcap not seen on the tap");
	ck_assert(csum_ok(c.frame[i], c.len[i], NULL));
	coll_free(&c);

	ck_assert_int_eq(netvsp_nic_tx(tap, 0, &fr, 1), 1);
	i = wait_frame(live, &c, is_marked);
	ck_assert_msg(i >= 0, "frame written to the tap not captured live");
	/* The kernel took it with a partial checksum, and libpcap shows it
	 * as it is (see nic_pcap.c): only the bytes are compared. */
	ck_assert_uint_eq(c.len[i], iov.iov_len);
	ck_assert_mem_eq(c.frame[i], f, 40);
	coll_free(&c);
	netvsp_nic_close(live);
	netvsp_nic_close(tap);
}
END_TEST

/* ---- Main ---------------------------------------------------------------------------- */

static void rm_tmpdir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd))
		fprintf(stderr, "test_nic: could not remove %s\n", tmpdir);
}

int main(void)
{
	Suite *s = suite_create("nic");
	TCase *tc = tcase_create("spec");
	SRunner *sr;
	int failed;

	strcpy(tmpdir, "/tmp/test_nic.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	tcase_add_test(tc, spec_ok);
	tcase_add_loop_test(tc, spec_bad, 0, (int)(sizeof(bad_specs) / sizeof(bad_specs[0])));
	tcase_add_test(tc, open_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("offload");
	tcase_add_test(tc, sw_udp_csum);
	tcase_add_test(tc, sw_lso4);
	tcase_add_test(tc, sw_lso6);
	tcase_add_test(tc, linearize_vlan);
	tcase_add_test(tc, rndis_glue);
	suite_add_tcase(s, tc);

	tc = tcase_create("backends");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, null_backend);
	tcase_add_test(tc, pcap_replay);
	tcase_add_test(tc, pcap_out);
	tcase_add_test(tc, capture_pcap);
	tcase_add_test(tc, capture_pcapng);
	tcase_add_test(tc, capture_threads);
	tcase_add_test(tc, dpdk_ring);
	tcase_add_test(tc, tap_backend);
	tcase_add_test(tc, pcap_live);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	/* DPDK's EAL starts once per process and the TAP test changes
	 * namespace: both need a process of their own. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	rm_tmpdir();
	return failed ? 1 : 0;
}
