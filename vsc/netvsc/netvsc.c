/* SPDX-License-Identifier: MIT */
/*
 * netvsc: guest NIC client over NVSP and RNDIS. Freestanding; allocates
 * nothing.
 *
 * Sequence: Linux drivers/net/hyperv/netvsc.c (netvsc_connect_vsp,
 * negotiate_nvsp_ver, netvsc_init_buf, netvsc_send_pkt, netvsc_receive,
 * send_recv_completions) and rndis_filter.c (rndis_filter_device_add,
 * rndis_filter_query_device, rndis_netdev_set_hwcaps,
 * rndis_set_subchannel, rndis_set_rss_param_msg, rndis_filter_open_device).
 * Formats: include/vmbus/proto/nvsp.h and rndis.h; docs/PROTOCOL.md §6.
 */
#include <vmbus/netvsc.h>

#include "freestanding.h"

#define ETH_HLEN		14u
#define DEFAULT_MTU		1500u
#define DEFAULT_MAX_TX		256u
#define RSS_TABLE_DEFAULT	128u
#define RNDIS_MAX_XFER		0x4000u	/* what Linux announces in INITIALIZE */
#define RESP_MAX		1024u	/* largest RNDIS control reply taken */
#define NVSP_HDR		sizeof(struct nvsp_message_header)

static const uint32_t nvsp_versions[] = {
	NVSP_PROTOCOL_VERSION_61, NVSP_PROTOCOL_VERSION_6, NVSP_PROTOCOL_VERSION_5,
	NVSP_PROTOCOL_VERSION_4, NVSP_PROTOCOL_VERSION_2, NVSP_PROTOCOL_VERSION_1,
};
#define N_VERSIONS	(sizeof(nvsp_versions) / sizeof(nvsp_versions[0]))

static const uint8_t default_rss_key[NDIS_RSS_HASH_KEY_SIZE_TOEPLITZ] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
	0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
	0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/* Where the bring-up stands. */
enum nv_state {
	ST_IDLE,
	ST_INIT,		/* NVSP INIT sent for nvsp_versions[ver_idx] */
	ST_RECV_BUF,
	ST_SEND_BUF,
	ST_RNDIS,		/* RNDIS control steps */
	ST_SUBCHANNEL,		/* NVSP SUBCHANNEL sent */
	ST_WAIT_SUBCH,		/* waiting for the caller to attach them */
	ST_READY,
	ST_FAILED,
};

/* RNDIS control steps, in Linux's order. */
enum ctrl_step {
	C_INIT,
	C_MTU,
	C_MAC,
	C_HWCAPS,
	C_OFFLOAD_SET,
	C_LINK,
	C_SPEED,
	C_RSS_CAPS,
	C_SUBCH,		/* NVSP, not RNDIS */
	C_RSS_OFF,
	C_RSS_ON,
	C_FILTER,
	C_DONE,
};

struct tx_slot {
	uint32_t section;
	bool used;
	bool gpa;
	void *cookie;
	uint32_t len;
};

struct queue {
	struct netvsc *nv;
	unsigned int index;
	struct vmbus_channel *ch;
};

struct netvsc {
	struct netvsc_config cfg;
	struct vmbus_log log;
	enum nv_state state;
	int err;
	unsigned int ver_idx;
	uint32_t version;

	uint32_t sub_alloc;		/* receive sub-allocation size */
	uint32_t section_size;
	uint32_t nsections;
	uint32_t max_sections;		/* bitmap capacity */
	uint64_t *section_map;		/* 1 = in use */

	struct tx_slot *slots;
	uint32_t *slot_free;
	unsigned int nslot_free;
	unsigned int max_tx;

	/* control */
	enum ctrl_step step;
	uint32_t req_id;
	bool ctrl_busy;			/* control page lent to the host */
	bool awaiting;			/* reply to req_id not in yet */
	uint8_t resp[RESP_MAX];

	/* what the host told */
	uint8_t mac[6];
	uint32_t mtu;
	bool link_up;
	uint32_t link_speed;
	uint32_t offloads;
	uint32_t rss_queues;		/* from RSS capabilities */
	uint32_t rss_table;
	unsigned int nsub;		/* subchannels allocated */
	unsigned int nattached;
	unsigned int nqueues;
	uint32_t send_table[NVSP_SEND_INDIRECTION_TABLE_ENTRIES];

	struct queue q[NETVSC_MAX_QUEUES];
	struct netvsc_stats st;
	uint8_t *pkt_buf;
	/* Markers whose addresses tag the NVSP and RNDIS requests. */
	uint8_t nvsp_tag, ctrl_tag;
};

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static bool range_ok(uint32_t off, uint32_t len, uint32_t lo, uint32_t total)
{
	return off >= lo && (uint64_t)off + len <= total;
}

/* ---- Memory ------------------------------------------------------------------ */

static unsigned int cfg_max_tx(const struct netvsc_config *cfg)
{
	return cfg->max_tx ? cfg->max_tx : DEFAULT_MAX_TX;
}

/* A host may choose any section size from 68 bytes up, so the map is sized
 * for the smallest. */
static uint32_t cfg_max_sections(const struct netvsc_config *cfg)
{
	return cfg->send_buf_size / NVSP_MIN_SECTION_SIZE + 1;
}

size_t netvsc_mem_size(const struct netvsc_config *cfg)
{
	size_t words;

	if (!cfg || cfg->queues > NETVSC_MAX_QUEUES || cfg_max_tx(cfg) > 65535u)
		return 0;
	words = (cfg_max_sections(cfg) + 63) / 64;
	return align8(sizeof(struct netvsc)) + NETVSC_PKT_BUF_SIZE +
	       align8(sizeof(struct tx_slot) * cfg_max_tx(cfg)) +
	       align8(sizeof(uint32_t) * cfg_max_tx(cfg)) + words * sizeof(uint64_t);
}

int netvsc_init(void *mem, size_t mem_size, const struct netvsc_config *cfg,
		struct netvsc **out)
{
	struct netvsc *nv;
	uint8_t *p = mem;
	size_t need;
	unsigned int i;

	if (!mem || ((uintptr_t)mem & 7) || !cfg || !out || !cfg->primary ||
	    !cfg->recv_buf || !cfg->recv_buf_size || !cfg->send_buf ||
	    !cfg->send_buf_size || !cfg->ctrl_buf)
		return -EINVAL;
	need = netvsc_mem_size(cfg);
	if (!need)
		return -EINVAL;
	if (mem_size < need)
		return -ENOSPC;
	memset(mem, 0, need);
	nv = mem;
	p += align8(sizeof(*nv));
	nv->pkt_buf = p;
	p += NETVSC_PKT_BUF_SIZE;
	nv->max_tx = cfg_max_tx(cfg);
	nv->slots = (struct tx_slot *)p;
	p += align8(sizeof(struct tx_slot) * nv->max_tx);
	nv->slot_free = (uint32_t *)p;
	p += align8(sizeof(uint32_t) * nv->max_tx);
	nv->section_map = (uint64_t *)p;
	nv->max_sections = cfg_max_sections(cfg);

	nv->cfg = *cfg;
	if (cfg->log)
		nv->log = *cfg->log;
	nv->cfg.log = NULL;
	if (!nv->cfg.queues)
		nv->cfg.queues = 1;
	nv->mtu = cfg->mtu ? cfg->mtu : DEFAULT_MTU;
	for (i = 0; i < nv->max_tx; i++)
		nv->slot_free[i] = nv->max_tx - 1 - i;
	nv->nslot_free = nv->max_tx;
	for (i = 0; i < NETVSC_MAX_QUEUES; i++) {
		nv->q[i].nv = nv;
		nv->q[i].index = i;
	}
	nv->q[0].ch = cfg->primary;
	nv->nqueues = 1;
	nv->state = ST_IDLE;
	*out = nv;
	return 0;
}

/* ---- Bring-up ------------------------------------------------------------------ */

static void fail(struct netvsc *nv, int err, const char *why)
{
	if (nv->state == ST_FAILED)
		return;
	nv->state = ST_FAILED;
	nv->err = err;
	vmbus_logf(&nv->log, VMBUS_LOG_ERR, "netvsc: bring-up failed: %s", why);
	if (nv->cfg.events && nv->cfg.events->ready)
		nv->cfg.events->ready(nv->cfg.ctx, err);
}

static void become_ready(struct netvsc *nv)
{
	nv->state = ST_READY;
	nv->nqueues = 1 + nv->nattached;
	if (nv->cfg.events && nv->cfg.events->ready)
		nv->cfg.events->ready(nv->cfg.ctx, 0);
}

/* An NVSP request that expects a completion. */
static int nvsp_request(struct netvsc *nv, const struct nvsp_message *m)
{
	return vmbus_channel_send_request(nv->q[0].ch, m, sizeof(*m), &nv->nvsp_tag, NULL);
}

/* An NVSP message without completion (NDIS_CONFIG, NDIS_VER). */
static int nvsp_oneway(struct netvsc *nv, const struct nvsp_message *m)
{
	return vmbus_channel_send_inband(nv->q[0].ch, m, sizeof(*m), 0, 0);
}

static int send_init(struct netvsc *nv)
{
	struct nvsp_message m;

	memset(&m, 0, sizeof(m));
	m.hdr.msg_type = NVSP_MSG_TYPE_INIT;
	m.msg.init.min_protocol_ver = nvsp_versions[nv->ver_idx];
	m.msg.init.max_protocol_ver = nvsp_versions[nv->ver_idx];
	nv->state = ST_INIT;
	return nvsp_request(nv, &m);
}

int netvsc_start(struct netvsc *nv)
{
	uint32_t maxv;

	if (!nv)
		return -EINVAL;
	if (nv->state != ST_IDLE)
		return -EALREADY;
	maxv = nv->cfg.max_version ? nv->cfg.max_version : NVSP_PROTOCOL_VERSION_61;
	while (nv->ver_idx < N_VERSIONS && nvsp_versions[nv->ver_idx] > maxv)
		nv->ver_idx++;
	if (nv->ver_idx == N_VERSIONS)
		return -EINVAL;
	return send_init(nv);
}

/* After INIT_COMPLETE: NDIS config (NVSP >= 2), NDIS version, receive
 * buffer. */
static int after_init(struct netvsc *nv)
{
	struct nvsp_message m;
	uint32_t ndis;
	int ret;

	if (nv->version >= NVSP_PROTOCOL_VERSION_2) {
		memset(&m, 0, sizeof(m));
		m.hdr.msg_type = NVSP_MSG2_TYPE_SEND_NDIS_CONFIG;
		m.msg.send_ndis_config.mtu = nv->mtu + ETH_HLEN;
		m.msg.send_ndis_config.capability = NVSP_CAP_IEEE8021Q;
		if (nv->version >= NVSP_PROTOCOL_VERSION_5)
			m.msg.send_ndis_config.capability |= NVSP_CAP_SRIOV | NVSP_CAP_TEAMING;
		if (nv->version >= NVSP_PROTOCOL_VERSION_61)
			m.msg.send_ndis_config.capability |= NVSP_CAP_RSC;
		ret = nvsp_oneway(nv, &m);
		if (ret)
			return ret;
	}
	ndis = nv->version <= NVSP_PROTOCOL_VERSION_4 ? NVSP_NDIS_VERSION_MINOR_6_1 :
							 NVSP_NDIS_VERSION_MINOR_6_30;
	memset(&m, 0, sizeof(m));
	m.hdr.msg_type = NVSP_MSG1_TYPE_SEND_NDIS_VER;
	m.msg.send_ndis_ver.ndis_major_ver = NVSP_NDIS_VERSION_MAJOR;
	m.msg.send_ndis_ver.ndis_minor_ver = ndis;
	ret = nvsp_oneway(nv, &m);
	if (ret)
		return ret;

	memset(&m, 0, sizeof(m));
	m.hdr.msg_type = NVSP_MSG1_TYPE_SEND_RECV_BUF;
	m.msg.send_recv_buf.gpadl_handle = nv->cfg.recv_gpadl;
	m.msg.send_recv_buf.id = NVSP_RECEIVE_BUFFER_ID;
	nv->state = ST_RECV_BUF;
	return nvsp_request(nv, &m);
}

static int send_send_buf(struct netvsc *nv)
{
	struct nvsp_message m;

	memset(&m, 0, sizeof(m));
	m.hdr.msg_type = NVSP_MSG1_TYPE_SEND_SEND_BUF;
	m.msg.send_send_buf.gpadl_handle = nv->cfg.send_gpadl;
	m.msg.send_send_buf.id = NVSP_SEND_BUFFER_ID;
	nv->state = ST_SEND_BUF;
	return nvsp_request(nv, &m);
}

/* ---- RNDIS control requests ------------------------------------------------------ */

/* Build a request of type with body and extra bytes after it in the
 * control page and send it GPA direct, as Linux's rndis_filter does. */
static int ctrl_send(struct netvsc *nv, uint32_t type, const void *body, uint32_t blen,
		     const void *extra, uint32_t elen)
{
	uint8_t *p = nv->cfg.ctrl_buf;
	struct rndis_msg_hdr h;
	struct nvsp_message m;
	struct vmbus_ring_gpa r;
	int ret;

	h.msg_type = type;
	h.msg_len = (uint32_t)sizeof(h) + blen + elen;
	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), body, blen);
	if (elen)
		memcpy(p + sizeof(h) + blen, extra, elen);

	memset(&m, 0, sizeof(m));
	m.hdr.msg_type = NVSP_MSG1_TYPE_SEND_RNDIS_PKT;
	m.msg.send_rndis_pkt.channel_type = NVSP_CHANNEL_TYPE_CONTROL;
	m.msg.send_rndis_pkt.send_buf_section_index = NVSP_INVALID_SECTION_INDEX;
	r.byte_count = h.msg_len;
	r.byte_offset = 0;
	r.pfns = &nv->cfg.ctrl_pfn;
	ret = vmbus_channel_send_request_gpa(nv->q[0].ch, &r, 1, &m, sizeof(m), &nv->ctrl_tag,
					     NULL);
	if (ret)
		return ret;
	nv->ctrl_busy = true;
	nv->awaiting = true;
	return 0;
}

static int ctrl_query(struct netvsc *nv, uint32_t oid, const void *in, uint32_t inlen)
{
	struct rndis_query_request q;

	memset(&q, 0, sizeof(q));
	q.req_id = ++nv->req_id;
	q.oid = oid;
	q.info_buflen = inlen;
	q.info_buf_offset = sizeof(q);
	return ctrl_send(nv, RNDIS_MSG_QUERY, &q, sizeof(q), in, inlen);
}

static int ctrl_set(struct netvsc *nv, uint32_t oid, const void *in, uint32_t inlen)
{
	struct rndis_set_request s;

	memset(&s, 0, sizeof(s));
	s.req_id = ++nv->req_id;
	s.oid = oid;
	s.info_buflen = inlen;
	s.info_buf_offset = sizeof(s);
	return ctrl_send(nv, RNDIS_MSG_SET, &s, sizeof(s), in, inlen);
}

static int send_hwcaps_query(struct netvsc *nv)
{
	struct ndis_offload o;

	memset(&o, 0, sizeof(o));
	o.header.type = NDIS_OBJECT_TYPE_OFFLOAD;
	if (nv->version >= NVSP_PROTOCOL_VERSION_5) {
		o.header.revision = NDIS_OFFLOAD_REVISION_3;
		o.header.size = NDIS_OFFLOAD_SIZE_REV3;
	} else if (nv->version >= NVSP_PROTOCOL_VERSION_4) {
		o.header.revision = NDIS_OFFLOAD_REVISION_2;
		o.header.size = NDIS_OFFLOAD_SIZE_REV2;
	} else {
		o.header.revision = NDIS_OFFLOAD_REVISION_1;
		o.header.size = NDIS_OFFLOAD_SIZE_REV1;
	}
	return ctrl_query(nv, OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, &o, o.header.size);
}

static int send_offload_set(struct netvsc *nv)
{
	struct ndis_offload_params p;
	uint32_t size = sizeof(p);

	memset(&p, 0, sizeof(p));
	p.ip_v4_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED;
	if (nv->offloads & NETVSC_OFFLOAD_TCP4_CSUM) {
		p.tcp_ip_v4_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
		if (nv->offloads & NETVSC_OFFLOAD_LSO4)
			p.lso_v2_ipv4 = NDIS_OFFLOAD_PARAMETERS_ENABLED;
		if (nv->offloads & NETVSC_OFFLOAD_UDP4_CSUM)
			p.udp_ip_v4_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
	}
	if (nv->offloads & NETVSC_OFFLOAD_TCP6_CSUM) {
		p.tcp_ip_v6_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
		if (nv->offloads & NETVSC_OFFLOAD_LSO6)
			p.lso_v2_ipv6 = NDIS_OFFLOAD_PARAMETERS_ENABLED;
		if (nv->offloads & NETVSC_OFFLOAD_UDP6_CSUM)
			p.udp_ip_v6_csum = NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
	}
	/* NVSP 4 and older hosts take the 6.1 layout and no UDP checksum. */
	if (nv->version <= NVSP_PROTOCOL_VERSION_4) {
		size = NDIS_OFFLOAD_PARAMETERS_SIZE_REV2;
		p.udp_ip_v4_csum = 0;
		p.udp_ip_v6_csum = 0;
		nv->offloads &= ~(NETVSC_OFFLOAD_UDP4_CSUM | NETVSC_OFFLOAD_UDP6_CSUM);
	}
	/* The IPv4 header checksum is left to the guest, as Linux does. */
	nv->offloads &= ~NETVSC_OFFLOAD_IP4_CSUM;
	p.header.type = NDIS_OBJECT_TYPE_DEFAULT;
	p.header.revision = NDIS_OFFLOAD_PARAMETERS_REVISION_3;
	p.header.size = (uint16_t)size;
	return ctrl_set(nv, OID_TCP_OFFLOAD_PARAMETERS, &p, size);
}

static int send_rss(struct netvsc *nv, bool enable)
{
	/* Parameters, the table (u32 queue numbers) and the key together. */
	uint8_t buf[sizeof(struct ndis_rss_params) + 4 * NDIS_RSS_INDIRECTION_TABLE_MAX +
		    NDIS_RSS_HASH_KEY_SIZE_TOEPLITZ];
	struct ndis_rss_params p;
	uint32_t i, v, tab = nv->rss_table;
	const uint8_t *key = nv->cfg.rss_key ? nv->cfg.rss_key : default_rss_key;

	memset(&p, 0, sizeof(p));
	p.header.type = NDIS_OBJECT_TYPE_RSS_PARAMETERS;
	p.header.revision = NDIS_RSS_PARAMS_REVISION_2;
	p.header.size = NDIS_RSS_PARAMS_SIZE_REV2;
	p.flags = enable ? 0 : NDIS_RSS_PARAM_FLAG_DISABLE_RSS;
	p.hash_info = NDIS_HASH_FUNCTION_TOEPLITZ | NDIS_HASH_IPV4 | NDIS_HASH_TCP_IPV4 |
		      NDIS_HASH_IPV6 | NDIS_HASH_TCP_IPV6;
	p.indirect_tabsize = (uint16_t)(4 * tab);
	p.indirect_taboffset = sizeof(p);
	p.hashkey_size = NDIS_RSS_HASH_KEY_SIZE_TOEPLITZ;
	p.hashkey_offset = sizeof(p) + 4 * tab;
	memcpy(buf, &p, sizeof(p));
	for (i = 0; i < tab; i++) {
		v = i % (1 + nv->nattached);
		memcpy(buf + sizeof(p) + 4 * i, &v, 4);
	}
	memcpy(buf + sizeof(p) + 4 * tab, key, NDIS_RSS_HASH_KEY_SIZE_TOEPLITZ);
	return ctrl_set(nv, OID_GEN_RECEIVE_SCALE_PARAMETERS, buf,
			(uint32_t)(sizeof(p) + 4 * tab + NDIS_RSS_HASH_KEY_SIZE_TOEPLITZ));
}

static int send_subchannel(struct netvsc *nv, uint32_t n)
{
	struct nvsp_message m;

	memset(&m, 0, sizeof(m));
	m.hdr.msg_type = NVSP_MSG5_TYPE_SUBCHANNEL;
	m.msg.subchn_req.op = NVSP_SUBCHANNEL_ALLOCATE;
	m.msg.subchn_req.num_subchannels = n;
	nv->state = ST_SUBCHANNEL;
	return nvsp_request(nv, &m);
}

static int send_step(struct netvsc *nv)
{
	struct rndis_initialize_request ir;
	uint32_t filter, want;
	struct ndis_rss_caps rc;

	switch (nv->step) {
	case C_INIT:
		memset(&ir, 0, sizeof(ir));
		ir.req_id = ++nv->req_id;
		ir.major_ver = RNDIS_MAJOR_VERSION;
		ir.minor_ver = RNDIS_MINOR_VERSION;
		ir.max_xfer_size = RNDIS_MAX_XFER;
		return ctrl_send(nv, RNDIS_MSG_INIT, &ir, sizeof(ir), NULL, 0);
	case C_MTU:
		return ctrl_query(nv, OID_GEN_MAXIMUM_FRAME_SIZE, NULL, 0);
	case C_MAC:
		return ctrl_query(nv, OID_802_3_PERMANENT_ADDRESS, NULL, 0);
	case C_HWCAPS:
		return send_hwcaps_query(nv);
	case C_OFFLOAD_SET:
		return send_offload_set(nv);
	case C_LINK:
		return ctrl_query(nv, OID_GEN_MEDIA_CONNECT_STATUS, NULL, 0);
	case C_SPEED:
		return ctrl_query(nv, OID_GEN_LINK_SPEED, NULL, 0);
	case C_RSS_CAPS:
		memset(&rc, 0, sizeof(rc));
		rc.header.type = NDIS_OBJECT_TYPE_RSS_CAPABILITIES;
		rc.header.revision = NDIS_RSS_CAPS_REVISION_2;
		rc.header.size = sizeof(rc);
		return ctrl_query(nv, OID_GEN_RECEIVE_SCALE_CAPABILITIES, &rc, sizeof(rc));
	case C_SUBCH:
		want = min_u32(min_u32(nv->cfg.queues, nv->rss_queues), NETVSC_MAX_QUEUES);
		return send_subchannel(nv, want - 1);
	case C_RSS_OFF:
		return send_rss(nv, false);
	case C_RSS_ON:
		return send_rss(nv, true);
	case C_FILTER:
		filter = NDIS_PACKET_TYPE_BROADCAST | NDIS_PACKET_TYPE_ALL_MULTICAST |
			 NDIS_PACKET_TYPE_DIRECTED;
		return ctrl_set(nv, OID_GEN_CURRENT_PACKET_FILTER, &filter, sizeof(filter));
	case C_DONE:
		become_ready(nv);
		return 0;
	}
	return -EINVAL;
}

/* Send the next step once the previous reply and the control page are both
 * back. */
static void advance(struct netvsc *nv)
{
	int ret;

	if (nv->state != ST_RNDIS || nv->ctrl_busy || nv->awaiting)
		return;
	ret = send_step(nv);
	if (ret)
		fail(nv, -EIO, "control request not sent");
}

/* Decode a QUERY_C for the current request into its answer bytes. */
static bool query_answer(struct netvsc *nv, uint32_t msg_len, const uint8_t **info,
			 uint32_t *len)
{
	struct rndis_query_complete qc;
	uint32_t body = msg_len - (uint32_t)sizeof(struct rndis_msg_hdr);

	memcpy(&qc, nv->resp + sizeof(struct rndis_msg_hdr), sizeof(qc));
	if (qc.status != RNDIS_STATUS_SUCCESS ||
	    !range_ok(qc.info_buf_offset, qc.info_buflen, sizeof(qc), body))
		return false;
	*info = nv->resp + sizeof(struct rndis_msg_hdr) + qc.info_buf_offset;
	*len = qc.info_buflen;
	return true;
}

static void read_hwcaps(struct netvsc *nv, const struct ndis_offload *o)
{
	uint32_t f = 0;

	if (o->csum.ip4_txcsum & NDIS_CSUM_CAP_IP4)
		f |= NETVSC_OFFLOAD_IP4_CSUM;
	if (o->csum.ip4_txcsum & NDIS_CSUM_CAP_TCP4) {
		f |= NETVSC_OFFLOAD_TCP4_CSUM;
		if (o->lsov2.ip4_encap & NDIS_OFFLOAD_ENCAP_8023)
			f |= NETVSC_OFFLOAD_LSO4;
		if (o->csum.ip4_txcsum & NDIS_CSUM_CAP_UDP4)
			f |= NETVSC_OFFLOAD_UDP4_CSUM;
	}
	if (o->csum.ip6_txcsum & NDIS_CSUM_CAP_TCP6) {
		f |= NETVSC_OFFLOAD_TCP6_CSUM;
		if (o->lsov2.ip6_encap & NDIS_OFFLOAD_ENCAP_8023)
			f |= NETVSC_OFFLOAD_LSO6;
		if (o->csum.ip6_txcsum & NDIS_CSUM_CAP_UDP6)
			f |= NETVSC_OFFLOAD_UDP6_CSUM;
	}
	nv->offloads = f;
}

/* The reply to the current step, msg_len bytes in nv->resp. Returns the
 * next step or -1 after failing. */
static int step_reply(struct netvsc *nv, uint32_t type, uint32_t msg_len)
{
	const uint8_t *body = nv->resp + sizeof(struct rndis_msg_hdr);
	struct rndis_initialize_complete ic;
	struct rndis_set_complete sc;
	struct ndis_offload o;
	struct ndis_rss_caps rc;
	const uint8_t *info = NULL;
	uint32_t len = 0, v;
	bool ok;

	if (nv->step == C_INIT) {
		if (type != RNDIS_MSG_INIT_C || msg_len < sizeof(struct rndis_msg_hdr) + sizeof(ic))
			goto bad;
		memcpy(&ic, body, sizeof(ic));
		if (ic.status != RNDIS_STATUS_SUCCESS)
			goto bad;
		return C_MTU;
	}
	if (nv->step == C_OFFLOAD_SET || nv->step == C_RSS_OFF || nv->step == C_RSS_ON ||
	    nv->step == C_FILTER) {
		if (type != RNDIS_MSG_SET_C || msg_len < sizeof(struct rndis_msg_hdr) + sizeof(sc))
			goto bad;
		memcpy(&sc, body, sizeof(sc));
		ok = sc.status == RNDIS_STATUS_SUCCESS;
		switch (nv->step) {
		case C_OFFLOAD_SET:
			if (!ok)
				goto bad;
			return C_LINK;
		case C_RSS_OFF:
			return C_RSS_ON;	/* failures ignored, as Linux does */
		case C_RSS_ON:
			return C_FILTER;
		default:
			return C_DONE;
		}
	}
	if (type != RNDIS_MSG_QUERY_C ||
	    msg_len < sizeof(struct rndis_msg_hdr) + sizeof(struct rndis_query_complete))
		goto bad;
	ok = query_answer(nv, msg_len, &info, &len);
	switch (nv->step) {
	case C_MTU:
		if (ok && len == 4) {
			memcpy(&v, info, 4);
			if (v >= NVSP_MIN_SECTION_SIZE && v < nv->mtu)
				nv->mtu = v;
		}
		return C_MAC;
	case C_MAC:
		if (!ok || len != 6)
			goto bad;
		memcpy(nv->mac, info, 6);
		return C_HWCAPS;
	case C_HWCAPS:
		if (!ok || len > sizeof(o) || len < NDIS_OFFLOAD_SIZE_REV1)
			goto bad;
		memset(&o, 0, sizeof(o));
		memcpy(&o, info, len);
		if (o.header.type != NDIS_OBJECT_TYPE_OFFLOAD || o.header.revision < 1 ||
		    o.header.size > len || o.header.size < NDIS_OFFLOAD_SIZE_REV1)
			goto bad;
		read_hwcaps(nv, &o);
		return C_OFFLOAD_SET;
	case C_LINK:
		if (ok && len == 4) {
			memcpy(&v, info, 4);
			nv->link_up = v == NDIS_MEDIA_STATE_CONNECTED;
		}
		return nv->version >= NVSP_PROTOCOL_VERSION_5 ? C_SPEED : C_FILTER;
	case C_SPEED:
		if (ok && len == 4)
			memcpy(&nv->link_speed, info, 4);
		return C_RSS_CAPS;
	case C_RSS_CAPS:
		if (!ok || len < NDIS_RSS_CAPS_SIZE_REV1 || len > sizeof(rc))
			return C_FILTER;
		memset(&rc, 0, sizeof(rc));
		memcpy(&rc, info, len);
		nv->rss_queues = rc.num_recv_queues;
		nv->rss_table = rc.num_indirect_entries &&
				rc.num_indirect_entries <= NDIS_RSS_INDIRECTION_TABLE_MAX ?
				rc.num_indirect_entries : RSS_TABLE_DEFAULT;
		if (nv->rss_queues < 2 || nv->cfg.queues < 2)
			return C_FILTER;
		return C_SUBCH;
	default:
		goto bad;
	}
bad:
	fail(nv, -EIO, "RNDIS request refused or answered badly");
	return -1;
}

/* An RNDIS control completion arrived (msg_len bytes at p, in the receive
 * buffer). */
static int ctrl_reply(struct netvsc *nv, const uint8_t *p, uint32_t type, uint32_t msg_len)
{
	uint32_t req_id;
	int next;

	if (msg_len > sizeof(nv->resp) ||
	    msg_len < sizeof(struct rndis_msg_hdr) + sizeof(req_id))
		return -EBADMSG;
	memcpy(nv->resp, p, msg_len);
	memcpy(&req_id, nv->resp + sizeof(struct rndis_msg_hdr), sizeof(req_id));
	if (nv->state != ST_RNDIS || !nv->awaiting || req_id != nv->req_id)
		return -ENOENT;	/* stale or unasked: ignore */
	nv->awaiting = false;
	next = step_reply(nv, type, msg_len);
	if (next < 0)
		return 0;
	nv->step = (enum ctrl_step)next;
	advance(nv);
	return 0;
}

/* ---- NVSP completions ---------------------------------------------------------- */

static void nvsp_reply(struct netvsc *nv, const struct vmbus_channel_packet *pkt)
{
	struct nvsp_message m;
	uint32_t len = pkt->payload_len;
	const struct nvsp_1_receive_buffer_section *s;
	int ret = 0;

	memset(&m, 0, sizeof(m));
	memcpy(&m, pkt->payload, min_u32(len, sizeof(m)));
	switch (nv->state) {
	case ST_INIT:
		if (len < NVSP_HDR + sizeof(m.msg.init_complete) ||
		    m.hdr.msg_type != NVSP_MSG_TYPE_INIT_COMPLETE) {
			fail(nv, -EPROTO, "bad INIT_COMPLETE");
			return;
		}
		if (m.msg.init_complete.status != NVSP_STAT_SUCCESS) {
			if (++nv->ver_idx == N_VERSIONS) {
				fail(nv, -EPROTO, "no NVSP version accepted");
				return;
			}
			ret = send_init(nv);
			break;
		}
		nv->version = nvsp_versions[nv->ver_idx];
		ret = after_init(nv);
		break;
	case ST_RECV_BUF:
		s = &m.msg.send_recv_buf_complete.sections[0];
		if (len < NVSP_HDR + sizeof(m.msg.send_recv_buf_complete) ||
		    m.hdr.msg_type != NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE ||
		    m.msg.send_recv_buf_complete.status != NVSP_STAT_SUCCESS ||
		    m.msg.send_recv_buf_complete.num_sections != 1 || s->offset != 0 ||
		    s->sub_alloc_size < NVSP_MIN_SECTION_SIZE ||
		    (uint64_t)s->sub_alloc_size * s->num_sub_allocs > nv->cfg.recv_buf_size) {
			fail(nv, -EIO, "receive buffer refused");
			return;
		}
		nv->sub_alloc = s->sub_alloc_size;
		ret = send_send_buf(nv);
		break;
	case ST_SEND_BUF:
		if (len < NVSP_HDR + sizeof(m.msg.send_send_buf_complete) ||
		    m.hdr.msg_type != NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE ||
		    m.msg.send_send_buf_complete.status != NVSP_STAT_SUCCESS ||
		    m.msg.send_send_buf_complete.section_size < NVSP_MIN_SECTION_SIZE ||
		    m.msg.send_send_buf_complete.section_size > nv->cfg.send_buf_size) {
			fail(nv, -EIO, "send buffer refused");
			return;
		}
		nv->section_size = m.msg.send_send_buf_complete.section_size;
		nv->nsections = min_u32(nv->cfg.send_buf_size / nv->section_size,
					nv->max_sections);
		nv->state = ST_RNDIS;
		nv->step = C_INIT;
		advance(nv);
		return;
	case ST_SUBCHANNEL:
		if (len < NVSP_HDR + sizeof(m.msg.subchn_comp) ||
		    m.hdr.msg_type != NVSP_MSG5_TYPE_SUBCHANNEL ||
		    m.msg.subchn_comp.status != NVSP_STAT_SUCCESS ||
		    m.msg.subchn_comp.num_subchannels >=
			    min_u32(nv->cfg.queues, nv->rss_queues)) {
			fail(nv, -EIO, "subchannel request refused");
			return;
		}
		nv->nsub = m.msg.subchn_comp.num_subchannels;
		if (!nv->nsub) {
			nv->state = ST_RNDIS;
			nv->step = C_FILTER;
			advance(nv);
			return;
		}
		nv->state = ST_WAIT_SUBCH;
		if (nv->cfg.events && nv->cfg.events->subchannels)
			nv->cfg.events->subchannels(nv->cfg.ctx, nv->nsub);
		return;
	default:
		nv->st.bad_packets++;
		return;
	}
	if (ret)
		fail(nv, -EIO, "NVSP request not sent");
}

int netvsc_attach_subchannel(struct netvsc *nv, unsigned int queue, struct vmbus_channel *ch)
{
	if (!nv || !ch || queue == 0 || queue >= NETVSC_MAX_QUEUES)
		return -EINVAL;
	if (!nv->nsub || queue > nv->nsub)
		return -EPROTO;
	if (nv->q[queue].ch)
		return -EEXIST;
	nv->q[queue].ch = ch;
	nv->nattached++;
	if (nv->state == ST_WAIT_SUBCH && nv->nattached == nv->nsub) {
		nv->state = ST_RNDIS;
		nv->step = C_RSS_OFF;
		advance(nv);
	} else if (nv->state == ST_READY) {
		nv->nqueues = 1 + nv->nattached;
	}
	return 0;
}

/* ---- Send path ------------------------------------------------------------------- */

static int section_alloc(struct netvsc *nv, uint32_t *out)
{
	uint32_t w, b;

	/* Lowest free bit of each word in one step: this runs per frame. */
	for (w = 0; w * 64 < nv->nsections; w++) {
		if (nv->section_map[w] == ~0ull)
			continue;
		b = (uint32_t)__builtin_ctzll(~nv->section_map[w]);
		if (w * 64 + b >= nv->nsections)
			break;
		nv->section_map[w] |= 1ull << b;
		*out = w * 64 + b;
		return 0;
	}
	return -EAGAIN;
}

static void section_free(struct netvsc *nv, uint32_t s)
{
	if (s < nv->nsections)
		nv->section_map[s / 64] &= ~(1ull << (s % 64));
}

static uint8_t *put_ppi(uint8_t *p, uint32_t type, uint32_t value)
{
	struct rndis_per_packet_info e = {
		.size = RNDIS_PPI_SIZE,
		.type = type,
		.ppi_offset = sizeof(e),
	};

	memcpy(p, &e, sizeof(e));
	memcpy(p + sizeof(e), &value, sizeof(value));
	return p + RNDIS_PPI_SIZE;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* Bytes of per-packet info build_tx_header() writes for ti. */
static uint32_t tx_ppi_len(const struct netvsc_tx_info *ti)
{
	uint32_t flags = ti ? ti->flags : 0;
	uint32_t n = 0;

	if (flags & NETVSC_TX_VLAN)
		n++;
	if (flags & (NETVSC_TX_LSO | NETVSC_TX_CSUM_IP | NETVSC_TX_CSUM_TCP |
		     NETVSC_TX_CSUM_UDP))
		n++;
	if (flags & NETVSC_TX_HASH)
		n++;
	return n * (uint32_t)RNDIS_PPI_SIZE;
}

/* Length of the PACKET header build_tx_header() writes for ti. */
static uint32_t tx_header_len(const struct netvsc_tx_info *ti)
{
	return (uint32_t)(sizeof(struct rndis_msg_hdr) + sizeof(struct rndis_packet)) +
	       tx_ppi_len(ti);
}

/*
 * Write the PACKET header for a frame of len bytes at out, in place and
 * field by field: staging it in a local struct and copying that out costs
 * a store-forwarding stall per frame. out has room for tx_header_len(ti).
 */
static void build_tx_header(uint8_t *out, uint32_t len, const struct netvsc_tx_info *ti)
{
	const size_t ph = sizeof(struct rndis_msg_hdr);
	uint32_t flags = ti ? ti->flags : 0;
	uint32_t plen = tx_ppi_len(ti);
	uint8_t *q = out + ph + sizeof(struct rndis_packet);
	uint32_t v;

	memset(out, 0, ph + sizeof(struct rndis_packet));
	put_u32(out + offsetof(struct rndis_msg_hdr, msg_type), RNDIS_MSG_PACKET);
	put_u32(out + offsetof(struct rndis_msg_hdr, msg_len),
		(uint32_t)(ph + sizeof(struct rndis_packet)) + plen + len);
	put_u32(out + ph + offsetof(struct rndis_packet, data_offset),
		(uint32_t)sizeof(struct rndis_packet) + plen);
	put_u32(out + ph + offsetof(struct rndis_packet, data_len), len);
	if (plen) {
		put_u32(out + ph + offsetof(struct rndis_packet, per_pkt_info_offset),
			(uint32_t)sizeof(struct rndis_packet));
		put_u32(out + ph + offsetof(struct rndis_packet, per_pkt_info_len), plen);
	}

	if (flags & NETVSC_TX_VLAN)
		q = put_ppi(q, IEEE_8021Q_INFO, (ti->vlan_pri & NDIS_VLAN_INFO_PRI_MASK) |
				((uint32_t)(ti->vlan_id & 0xfff) << NDIS_VLAN_INFO_ID_SHIFT));
	if (flags & NETVSC_TX_LSO) {
		v = NDIS_LSO2_INFO_ISLSO2 | (ti->mss & NDIS_LSO2_INFO_MSS_MASK) |
		    (((uint32_t)ti->l4_offset << NDIS_LSO2_INFO_THOFF_SHIFT) &
		     NDIS_LSO2_INFO_THOFF_MASK);
		if (flags & NETVSC_TX_IPV6)
			v |= NDIS_LSO2_INFO_ISIPV6;
		q = put_ppi(q, TCP_LARGESEND_PKTINFO, v);
	} else if (flags & (NETVSC_TX_CSUM_IP | NETVSC_TX_CSUM_TCP | NETVSC_TX_CSUM_UDP)) {
		v = (flags & NETVSC_TX_IPV6) ? NDIS_TXCSUM_INFO_IPV6 : NDIS_TXCSUM_INFO_IPV4;
		if (flags & NETVSC_TX_CSUM_TCP)
			v |= NDIS_TXCSUM_INFO_TCPCS;
		if (flags & NETVSC_TX_CSUM_UDP)
			v |= NDIS_TXCSUM_INFO_UDPCS;
		if (flags & NETVSC_TX_CSUM_IP)
			v |= NDIS_TXCSUM_INFO_IPCS;
		v |= ((uint32_t)ti->l4_offset << NDIS_TXCSUM_INFO_THOFF_SHIFT) &
		     NDIS_TXCSUM_INFO_THOFF_MASK;
		q = put_ppi(q, TCPIP_CHKSUM_PKTINFO, v);
	}
	if (flags & NETVSC_TX_HASH)
		put_ppi(q, NBL_HASH_VALUE, ti->hash);
}

/* Take a slot and a section; -EAGAIN when either is exhausted. */
static int tx_begin(struct netvsc *nv, unsigned int queue, struct tx_slot **slot)
{
	struct tx_slot *s;
	uint32_t sec;

	if (nv->state != ST_READY)
		return -ENOTCONN;
	if (queue >= nv->nqueues || !nv->q[queue].ch)
		return -EINVAL;
	if (!nv->nslot_free || section_alloc(nv, &sec))
		return -EAGAIN;
	s = &nv->slots[nv->slot_free[--nv->nslot_free]];
	s->section = sec;
	s->used = true;
	s->gpa = false;
	s->cookie = NULL;
	*slot = s;
	return 0;
}

static void tx_release(struct netvsc *nv, struct tx_slot *s)
{
	section_free(nv, s->section);
	s->used = false;
	nv->slot_free[nv->nslot_free++] = (uint32_t)(s - nv->slots);
}

static void rndis_pkt_msg(struct nvsp_message *m, uint32_t section, uint32_t size)
{
	memset(m, 0, sizeof(*m));
	m->hdr.msg_type = NVSP_MSG1_TYPE_SEND_RNDIS_PKT;
	m->msg.send_rndis_pkt.channel_type = NVSP_CHANNEL_TYPE_DATA;
	m->msg.send_rndis_pkt.send_buf_section_index = section;
	m->msg.send_rndis_pkt.send_buf_section_size = size;
}

int netvsc_send(struct netvsc *nv, unsigned int queue, const void *frame, uint32_t len,
		const struct netvsc_tx_info *info)
{
	struct nvsp_message m;
	struct tx_slot *s;
	uint8_t *dst;
	uint32_t hl;
	int ret;

	if (!nv || !frame || !len)
		return -EINVAL;
	hl = tx_header_len(info);
	if (nv->state == ST_READY && (uint64_t)hl + len > nv->section_size)
		return -EMSGSIZE;
	ret = tx_begin(nv, queue, &s);
	if (ret)
		return ret;
	dst = (uint8_t *)nv->cfg.send_buf + (size_t)s->section * nv->section_size;
	build_tx_header(dst, len, info);
	memcpy(dst + hl, frame, len);
	s->len = len;
	rndis_pkt_msg(&m, s->section, hl + len);
	ret = vmbus_channel_send_request(nv->q[queue].ch, &m, sizeof(m), s, NULL);
	if (ret)
		tx_release(nv, s);
	return ret;
}

int netvsc_send_gpa(struct netvsc *nv, unsigned int queue, const uint64_t *pfns,
		    uint32_t byte_offset, uint32_t len, const struct netvsc_tx_info *info,
		    void *cookie)
{
	struct vmbus_ring_gpa r;
	struct nvsp_message m;
	struct tx_slot *s;
	uint32_t hl;
	int ret;

	if (!nv || !pfns || !len || byte_offset >= 4096)
		return -EINVAL;
	/* A host may name sections smaller than the largest header. */
	hl = tx_header_len(info);
	if (nv->state == ST_READY && hl > nv->section_size)
		return -EMSGSIZE;
	ret = tx_begin(nv, queue, &s);
	if (ret)
		return ret;
	/* The header alone goes in the section, the frame stays in place:
	 * the host reads the section, then the range, as one message. */
	build_tx_header((uint8_t *)nv->cfg.send_buf + (size_t)s->section * nv->section_size,
			len, info);
	s->gpa = true;
	s->cookie = cookie;
	s->len = len;
	rndis_pkt_msg(&m, s->section, hl);
	r.byte_count = len;
	r.byte_offset = byte_offset;
	r.pfns = pfns;
	ret = vmbus_channel_send_request_gpa(nv->q[queue].ch, &r, 1, &m, sizeof(m), s, NULL);
	if (ret)
		tx_release(nv, s);
	return ret;
}

static void tx_complete(struct netvsc *nv, struct tx_slot *s,
			const struct vmbus_channel_packet *pkt)
{
	struct nvsp_message m;
	bool ok;

	memset(&m, 0, sizeof(m));
	memcpy(&m, pkt->payload, min_u32(pkt->payload_len, sizeof(m)));
	ok = pkt->payload_len >= NVSP_HDR + sizeof(m.msg.send_rndis_pkt_complete) &&
	     m.hdr.msg_type == NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE &&
	     m.msg.send_rndis_pkt_complete.status == NVSP_STAT_SUCCESS;
	if (ok) {
		nv->st.tx_frames++;
		nv->st.tx_bytes += s->len;
	} else {
		nv->st.tx_failed++;
	}
	if (s->gpa && nv->cfg.events && nv->cfg.events->tx_done)
		nv->cfg.events->tx_done(nv->cfg.ctx, s->cookie, ok);
	tx_release(nv, s);
}

/* ---- Receive path ---------------------------------------------------------------- */

static void walk_rx_ppis(const uint8_t *a, uint32_t len, struct netvsc_rx_info *ri)
{
	struct rndis_per_packet_info e;
	uint32_t pos = 0, v;

	while (len - pos >= sizeof(e)) {
		memcpy(&e, a + pos, sizeof(e));
		if (e.size < sizeof(e) || e.size > len - pos || e.ppi_offset < sizeof(e) ||
		    e.ppi_offset > e.size)
			return;
		if (e.size - e.ppi_offset >= sizeof(v)) {
			memcpy(&v, a + pos + e.ppi_offset, sizeof(v));
			switch (e.type) {
			case TCPIP_CHKSUM_PKTINFO:
				ri->flags |= NETVSC_RX_CSUM;
				ri->csum = v;
				break;
			case IEEE_8021Q_INFO:
				ri->flags |= NETVSC_RX_VLAN;
				ri->vlan_pri = (uint8_t)(v & NDIS_VLAN_INFO_PRI_MASK);
				ri->vlan_cfi = (v & NDIS_VLAN_INFO_CFI_MASK) ? 1 : 0;
				ri->vlan_id = (uint16_t)((v & NDIS_VLAN_INFO_ID_MASK) >>
							 NDIS_VLAN_INFO_ID_SHIFT);
				break;
			case NBL_HASH_VALUE:
				ri->flags |= NETVSC_RX_HASH;
				ri->hash = v;
				break;
			case NBL_HASH_INFO:
				ri->hash_info = v;
				break;
			default:
				break;
			}
		}
		pos += e.size;
	}
}

/* One PACKET message of msg_len bytes at p (inside the receive buffer). */
static int rx_packet(struct netvsc *nv, unsigned int queue, const uint8_t *p, uint32_t msg_len)
{
	struct rndis_packet pk;
	struct netvsc_rx_info ri;
	uint32_t body = msg_len - (uint32_t)sizeof(struct rndis_msg_hdr);
	/* A PPI area worth walking is small; copy it so the host cannot
	 * change it under the walk. */
	uint8_t ppis[256];

	if (body < sizeof(pk))
		return -EBADMSG;
	memcpy(&pk, p + sizeof(struct rndis_msg_hdr), sizeof(pk));
	if (!pk.data_len || !range_ok(pk.data_offset, pk.data_len, sizeof(pk), body))
		return -EBADMSG;
	memset(&ri, 0, sizeof(ri));
	if (pk.per_pkt_info_offset && pk.per_pkt_info_len) {
		if (!range_ok(pk.per_pkt_info_offset, pk.per_pkt_info_len, sizeof(pk), body) ||
		    pk.per_pkt_info_len > sizeof(ppis))
			return -EBADMSG;
		memcpy(ppis, p + sizeof(struct rndis_msg_hdr) + pk.per_pkt_info_offset,
		       pk.per_pkt_info_len);
		walk_rx_ppis(ppis, pk.per_pkt_info_len, &ri);
	}
	nv->st.rx_frames++;
	nv->st.rx_bytes += pk.data_len;
	if (nv->cfg.events && nv->cfg.events->rx)
		nv->cfg.events->rx(nv->cfg.ctx, queue,
				   p + sizeof(struct rndis_msg_hdr) + pk.data_offset, pk.data_len,
				   &ri);
	return 0;
}

static void indicate(struct netvsc *nv, const uint8_t *p, uint32_t msg_len)
{
	struct rndis_indicate_status is;
	bool up;

	if (msg_len < sizeof(struct rndis_msg_hdr) + sizeof(is))
		return;
	memcpy(&is, p + sizeof(struct rndis_msg_hdr), sizeof(is));
	if (is.status != RNDIS_STATUS_MEDIA_CONNECT && is.status != RNDIS_STATUS_MEDIA_DISCONNECT)
		return;
	up = is.status == RNDIS_STATUS_MEDIA_CONNECT;
	nv->link_up = up;
	if (nv->cfg.events && nv->cfg.events->link)
		nv->cfg.events->link(nv->cfg.ctx, up);
}

/* One RNDIS message of at most len bytes at p. */
static int rx_rndis(struct netvsc *nv, unsigned int queue, const uint8_t *p, uint32_t len)
{
	struct rndis_msg_hdr h;

	if (len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, p, sizeof(h));
	if (h.msg_len < sizeof(h) || h.msg_len > len)
		return -EBADMSG;
	switch (h.msg_type) {
	case RNDIS_MSG_PACKET:
		return rx_packet(nv, queue, p, h.msg_len);
	case RNDIS_MSG_INIT_C:
	case RNDIS_MSG_QUERY_C:
	case RNDIS_MSG_SET_C:
		ctrl_reply(nv, p, h.msg_type, h.msg_len);
		return 0;
	case RNDIS_MSG_INDICATE:
		indicate(nv, p, h.msg_len);
		return 0;
	default:
		return -EBADMSG;
	}
}

static void rx_xfer(struct netvsc *nv, unsigned int queue, const struct vmbus_channel_packet *pkt)
{
	struct vmbus_ring_xfer_iter it;
	struct vmbus_xfer_page_range r;
	struct nvsp_message_header mh;
	uint32_t status = NVSP_STAT_SUCCESS;
	struct {
		struct nvsp_message_header hdr;
		uint32_t status;
	} __attribute__((packed)) comp;

	memset(&it, 0, sizeof(it));
	if (vmbus_ring_parse_xfer(pkt->data, pkt->len, &it) < 0 || it.payload_len < sizeof(mh))
		goto bad;
	memcpy(&mh, it.payload, sizeof(mh));
	if (mh.msg_type != NVSP_MSG1_TYPE_SEND_RNDIS_PKT ||
	    it.pageset_id != NVSP_RECEIVE_BUFFER_ID || !nv->sub_alloc)
		goto bad;
	while (vmbus_ring_xfer_next(&it, &r)) {
		if (!range_ok(r.byte_offset, r.byte_count, 0, nv->cfg.recv_buf_size) ||
		    r.byte_count > nv->sub_alloc ||
		    rx_rndis(nv, queue, (const uint8_t *)nv->cfg.recv_buf + r.byte_offset,
			     r.byte_count)) {
			nv->st.rx_bad++;
			status = NVSP_STAT_FAIL;
		}
	}
	goto done;
bad:
	nv->st.rx_bad++;
	status = NVSP_STAT_FAIL;
done:
	comp.hdr.msg_type = NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE;
	comp.status = status;
	if (vmbus_channel_send_comp(nv->q[queue].ch, &comp, sizeof(comp), pkt->trans_id))
		nv->st.comp_errors++;
}

/* Host-initiated in-band messages. */
static void rx_inband(struct netvsc *nv, const struct vmbus_channel_packet *pkt)
{
	struct nvsp_message_header mh;
	struct nvsp_5_send_indirect_table t;
	const uint8_t *p = pkt->payload;
	uint32_t len = pkt->payload_len;

	if (len < sizeof(mh)) {
		nv->st.bad_packets++;
		return;
	}
	memcpy(&mh, p, sizeof(mh));
	if (mh.msg_type == NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE) {
		if (len < sizeof(mh) + sizeof(t))
			goto bad;
		memcpy(&t, p + sizeof(mh), sizeof(t));
		if (t.count != NVSP_SEND_INDIRECTION_TABLE_ENTRIES ||
		    !range_ok(t.offset, t.count * 4u, 0, len))
			goto bad;
		memcpy(nv->send_table, p + t.offset, sizeof(nv->send_table));
		return;
	}
	/* VF association and the like: nothing a synthetic-only guest does. */
	return;
bad:
	nv->st.bad_packets++;
}

/* The host is done with the control page. A refusal means no RNDIS reply
 * will come, so the bring-up cannot go on. */
static void ctrl_done(struct netvsc *nv, const struct vmbus_channel_packet *pkt)
{
	struct nvsp_message m;

	nv->ctrl_busy = false;
	memset(&m, 0, sizeof(m));
	memcpy(&m, pkt->payload, min_u32(pkt->payload_len, sizeof(m)));
	if (pkt->payload_len < NVSP_HDR + sizeof(m.msg.send_rndis_pkt_complete) ||
	    m.hdr.msg_type != NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE ||
	    m.msg.send_rndis_pkt_complete.status != NVSP_STAT_SUCCESS) {
		if (nv->awaiting && nv->state == ST_RNDIS)
			fail(nv, -EIO, "control message refused");
		return;
	}
	advance(nv);
}

static int on_packet(void *ctx, const struct vmbus_channel_packet *pkt)
{
	struct queue *q = ctx;
	struct netvsc *nv = q->nv;
	uint8_t *c;

	switch (pkt->type) {
	case VM_PKT_COMP:
		c = pkt->cookie;
		if (!c) {
			nv->st.bad_packets++;
		} else if (c == &nv->nvsp_tag) {
			nvsp_reply(nv, pkt);
		} else if (c == &nv->ctrl_tag) {
			ctrl_done(nv, pkt);
		} else if (c >= (uint8_t *)nv->slots &&
			   c < (uint8_t *)(nv->slots + nv->max_tx)) {
			tx_complete(nv, (struct tx_slot *)(void *)c, pkt);
		} else {
			nv->st.bad_packets++;
		}
		break;
	case VM_PKT_DATA_USING_XFER_PAGES:
		rx_xfer(nv, q->index, pkt);
		break;
	case VM_PKT_DATA_INBAND:
		rx_inband(nv, pkt);
		break;
	default:
		nv->st.bad_packets++;
		break;
	}
	return 0;
}

int netvsc_process(struct netvsc *nv, unsigned int queue, unsigned int budget)
{
	if (!nv || queue >= NETVSC_MAX_QUEUES || !nv->q[queue].ch)
		return -EINVAL;
	return vmbus_channel_process(nv->q[queue].ch, nv->pkt_buf, NETVSC_PKT_BUF_SIZE, budget,
				     on_packet, &nv->q[queue]);
}

/* ---- Accessors -------------------------------------------------------------------- */

int netvsc_state(const struct netvsc *nv)
{
	if (nv->state == ST_FAILED)
		return nv->err;
	return nv->state == ST_READY ? NETVSC_READY : NETVSC_STARTING;
}

uint32_t netvsc_nvsp_version(const struct netvsc *nv)
{
	return nv->version;
}

void netvsc_get_mac(const struct netvsc *nv, uint8_t mac[6])
{
	memcpy(mac, nv->mac, 6);
}

uint32_t netvsc_mtu(const struct netvsc *nv)
{
	return nv->mtu;
}

bool netvsc_link_up(const struct netvsc *nv)
{
	return nv->link_up;
}

uint32_t netvsc_link_speed(const struct netvsc *nv)
{
	return nv->link_speed;
}

uint32_t netvsc_offloads(const struct netvsc *nv)
{
	return nv->offloads;
}

unsigned int netvsc_num_queues(const struct netvsc *nv)
{
	return nv->nqueues;
}

void netvsc_get_stats(const struct netvsc *nv, struct netvsc_stats *out)
{
	*out = nv->st;
}
