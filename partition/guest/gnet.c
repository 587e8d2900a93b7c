/* SPDX-License-Identifier: MIT */
/*
 * The self-test's synthetic NIC check: netvsc (libvmbus's guest client,
 * include/vmbus/netvsc.h) on the NIC's primary channel with receive and
 * send buffers lent through GPADLs, the MAC address and link state it
 * learnt, and optionally a responder that answers ARP requests and ICMP
 * echo requests for one IPv4 address until the runner's stop port
 * (guest/abi.h) says to stop.
 *
 * Wire formats: Ethernet II; ARP for IPv4 over Ethernet (RFC 826); IPv4
 * header and its checksum (RFC 791, RFC 1071); ICMP echo (RFC 792).
 */
#include <vmbus/netvsc.h>

#include "freestanding.h"
#include "gbus.h"
#include "rt.h"
#include "selftest.h"

#define RING_PAGES		32u
#define MAX_REQUESTS		320u
#define RECV_BUF		(128u * 1024u)
#define SEND_BUF		(64u * 1024u)
#define READY_TIMEOUT		(10 * GBUS_SEC)
#define FRAME_MAX		1514u
#define REPLY_SLOTS		8u
#define SERVE_BUSY		(GBUS_SEC / 50)		/* 20 ms */

#define ETH_HLEN		14u
#define ETHERTYPE_IPV4		0x0800u
#define ETHERTYPE_ARP		0x0806u
#define ARP_LEN			28u
#define ARP_OP_REQUEST		1u
#define ARP_OP_REPLY		2u
#define IP_PROTO_ICMP		1u
#define ICMP_ECHO_REPLY		0u
#define ICMP_ECHO_REQUEST	8u

struct reply {
	uint8_t frame[FRAME_MAX];
	uint32_t len;
};

struct net_test {
	struct gbus_chan chan;
	struct netvsc *nv;
	uint32_t recv_gpadl, send_gpadl;
	volatile bool ready;
	volatile int ready_err;
	uint8_t mac[6];
	uint32_t ip;			/* host byte order, 0: no responder */
	struct reply replies[REPLY_SLOTS];
	unsigned int nreplies;
	uint64_t frames, arp_replies, echo_replies, send_failures, dropped;
};

static struct net_test nt;

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

/* RFC 1071 checksum of @len bytes (complemented, ready to store). */
static uint16_t inet_csum(const uint8_t *p, uint32_t len)
{
	uint32_t sum = 0, i;

	for (i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* A slot for a reply; sent after netvsc_process() returns, because the
 * receive callback runs inside it. */
static struct reply *reply_slot(void)
{
	if (nt.nreplies == REPLY_SLOTS) {
		nt.dropped++;
		return NULL;
	}
	return &nt.replies[nt.nreplies++];
}

static void answer_arp(const uint8_t *f, uint32_t len)
{
	const uint8_t *a = f + ETH_HLEN;
	struct reply *r;
	uint8_t *o;

	if (len < ETH_HLEN + ARP_LEN || get16(a) != 1 ||
	    get16(a + 2) != ETHERTYPE_IPV4 || a[4] != 6 || a[5] != 4 ||
	    get16(a + 6) != ARP_OP_REQUEST || get32(a + 24) != nt.ip)
		return;
	r = reply_slot();
	if (!r)
		return;
	o = r->frame;
	memcpy(o, a + 8, 6);			/* to the asker */
	memcpy(o + 6, nt.mac, 6);
	put16(o + 12, ETHERTYPE_ARP);
	memcpy(o + ETH_HLEN, a, 6);		/* htype, ptype, hlen, plen */
	put16(o + ETH_HLEN + 6, ARP_OP_REPLY);
	memcpy(o + ETH_HLEN + 8, nt.mac, 6);
	put32(o + ETH_HLEN + 14, nt.ip);
	memcpy(o + ETH_HLEN + 18, a + 8, 10);	/* asker's MAC and IP */
	/* Pad to the 60-byte Ethernet minimum. */
	memset(o + ETH_HLEN + ARP_LEN, 0, 60 - ETH_HLEN - ARP_LEN);
	r->len = 60;
	nt.arp_replies++;
}

static void answer_icmp(const uint8_t *f, uint32_t len)
{
	const uint8_t *ip = f + ETH_HLEN;
	uint32_t ihl, total;
	struct reply *r;
	uint8_t *o, *oip, *icmp;

	if (len < ETH_HLEN + 20 || (ip[0] >> 4) != 4)
		return;
	ihl = (uint32_t)(ip[0] & 0xf) * 4;
	total = get16(ip + 2);
	if (ihl < 20 || total < ihl + 8 || total > len - ETH_HLEN ||
	    ip[9] != IP_PROTO_ICMP || get32(ip + 16) != nt.ip ||
	    (get16(ip + 6) & 0x3fff) ||		/* a fragment */
	    ip[ihl] != ICMP_ECHO_REQUEST || ip[ihl + 1] != 0 ||
	    inet_csum(ip, ihl) != 0)
		return;
	r = reply_slot();
	if (!r)
		return;
	o = r->frame;
	memcpy(o, f + 6, 6);
	memcpy(o + 6, nt.mac, 6);
	put16(o + 12, ETHERTYPE_IPV4);
	oip = o + ETH_HLEN;
	memcpy(oip, ip, total);
	put32(oip + 12, nt.ip);
	memcpy(oip + 16, ip + 12, 4);		/* back to the sender */
	oip[8] = 64;				/* TTL */
	put16(oip + 10, 0);
	put16(oip + 10, inet_csum(oip, ihl));
	icmp = oip + ihl;
	icmp[0] = ICMP_ECHO_REPLY;
	put16(icmp + 2, 0);
	put16(icmp + 2, inet_csum(icmp, total - ihl));
	r->len = ETH_HLEN + total;
	if (r->len < 60) {
		memset(o + r->len, 0, 60 - r->len);
		r->len = 60;
	}
	nt.echo_replies++;
}

static void on_rx(void *ctx, unsigned int queue, const void *frame, uint32_t len,
		  const struct netvsc_rx_info *info)
{
	static uint8_t f[FRAME_MAX];

	(void)ctx;
	(void)queue;
	(void)info;
	nt.frames++;
	/* The host could still write the receive buffer: work on a copy. */
	if (len > FRAME_MAX || len < ETH_HLEN || !nt.ip)
		return;
	memcpy(f, frame, len);
	switch (get16(f + 12)) {
	case ETHERTYPE_ARP:
		answer_arp(f, len);
		break;
	case ETHERTYPE_IPV4:
		answer_icmp(f, len);
		break;
	default:
		break;
	}
}

static void on_ready(void *ctx, int err)
{
	(void)ctx;
	nt.ready_err = err;
	nt.ready = true;
}

static void on_link(void *ctx, bool up)
{
	(void)ctx;
	rt_printf("net: link %s\n", up ? "up" : "down");
}

static const struct netvsc_events events = {
	.ready = on_ready,
	.rx = on_rx,
	.link = on_link,
};

static int poll_netvsc(void *ctx)
{
	struct net_test *t = ctx;
	unsigned int i;
	int n, ret;

	n = netvsc_process(t->nv, 0, 0);
	for (i = 0; i < t->nreplies; i++) {
		ret = netvsc_send(t->nv, 0, t->replies[i].frame,
				  t->replies[i].len, NULL);
		if (ret)
			t->send_failures++;
	}
	if (t->nreplies && n >= 0)
		n += (int)t->nreplies;
	t->nreplies = 0;
	return n;
}

/*
 * Busy with interrupts off, as a guest at work is. A frame that comes
 * meanwhile leaves its interrupt pending, to be taken at the next
 * "sti; hlt" the moment the STI opens the window: the hand-over a
 * runner has to get right (the CPU emulator's kick path), made the common
 * case rather than an unlucky one.
 */
static void busy(uint64_t units)
{
	uint64_t end = gbus_now() + units;

	while (gbus_now() < end)
		;
}

static void serve(void)
{
	uint32_t ip = nt.ip;

	rt_printf("net: serving ARP and ping on %u.%u.%u.%u until told to stop\n",
		  ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
	while (!(rt_inb(PART_PORT_STOP) & 1)) {
		busy(SERVE_BUSY);
		gbus_pump();
	}
	rt_printf("net: stop requested; %llu frame(s) received, answered %llu "
		  "ARP and %llu echo request(s)\n",
		  (unsigned long long)nt.frames,
		  (unsigned long long)nt.arp_replies,
		  (unsigned long long)nt.echo_replies);
	st_check(!nt.send_failures && !nt.dropped,
		 "net: every reply sent (%llu failed, %llu dropped)",
		 (unsigned long long)nt.send_failures,
		 (unsigned long long)nt.dropped);
}

static int start_netvsc(const struct vmbus_msg_offer *offer)
{
	struct netvsc_config cfg;
	void *recv, *send, *ctrl, *mem;
	size_t need;
	int ret;

	recv = gbus_alloc(RECV_BUF);
	send = gbus_alloc(SEND_BUF);
	ctrl = gbus_alloc(NETVSC_CTRL_BUF_SIZE);
	if (!recv || !send || !ctrl)
		return -ENOMEM;
	ret = gbus_gpadl(offer->child_relid, recv, RECV_BUF, &nt.recv_gpadl);
	if (!ret)
		ret = gbus_gpadl(offer->child_relid, send, SEND_BUF, &nt.send_gpadl);
	if (ret)
		return ret;
	memset(&cfg, 0, sizeof(cfg));
	cfg.primary = nt.chan.ch;
	cfg.recv_buf = recv;
	cfg.recv_buf_size = RECV_BUF;
	cfg.recv_gpadl = nt.recv_gpadl;
	cfg.send_buf = send;
	cfg.send_buf_size = SEND_BUF;
	cfg.send_gpadl = nt.send_gpadl;
	cfg.ctrl_buf = ctrl;
	cfg.ctrl_pfn = (uintptr_t)ctrl >> 12;
	cfg.events = &events;
	need = netvsc_mem_size(&cfg);
	mem = need ? gbus_alloc(need) : NULL;
	if (!mem)
		return -ENOMEM;
	ret = netvsc_init(mem, need, &cfg, &nt.nv);
	if (ret)
		return ret;
	gbus_set_poller(poll_netvsc, &nt);
	ret = netvsc_start(nt.nv);
	if (ret)
		return ret;
	return gbus_wait(&nt.ready, READY_TIMEOUT) ? nt.ready_err : -ETIMEDOUT;
}

void st_net_test(const struct vmbus_msg_offer *offer, uint32_t ip)
{
	int ret;

	memset(&nt, 0, sizeof(nt));
	nt.ip = ip;
	rt_printf("net: NIC on relid %u\n", offer->child_relid);
	ret = gbus_open(&nt.chan, offer, RING_PAGES, MAX_REQUESTS);
	st_check(!ret, "net: channel opened (error %d)", ret);
	if (ret)
		return;
	ret = start_netvsc(offer);
	st_check(!ret, "net: netvsc brought the NIC up (error %d)", ret);
	if (!ret) {
		netvsc_get_mac(nt.nv, nt.mac);
		rt_printf("net: MAC %02x:%02x:%02x:%02x:%02x:%02x, MTU %u, "
			  "NVSP 0x%x, link %s\n", nt.mac[0], nt.mac[1], nt.mac[2],
			  nt.mac[3], nt.mac[4], nt.mac[5], netvsc_mtu(nt.nv),
			  netvsc_nvsp_version(nt.nv),
			  netvsc_link_up(nt.nv) ? "up" : "down");
		if (ip)
			serve();
	}
	gbus_set_poller(NULL, NULL);
	ret = gbus_close(&nt.chan);
	st_check(!ret, "net: channel closed (error %d)", ret);
	ret = 0;
	if (nt.recv_gpadl)
		ret = gbus_gpadl_teardown(offer->child_relid, nt.recv_gpadl);
	if (!ret && nt.send_gpadl)
		ret = gbus_gpadl_teardown(offer->child_relid, nt.send_gpadl);
	st_check(!ret, "net: buffers taken back (error %d)", ret);
}
