/* SPDX-License-Identifier: MIT */
/*
 * The DPDK NIC backend: one ethdev port, one rx/tx queue pair per NIC
 * queue (the caller maps them onto VMBus subchannels), polled.
 *
 * Transmit copies each frame into mbufs, so the guest's buffer is free when
 * tx returns. When the port advertises every offload a frame asks for
 * (checksums, TSO, VLAN insertion, chained mbufs for a long frame) they go
 * to the device through the mbuf's ol_flags, with the pseudo-header seed
 * DPDK's offload convention wants; otherwise nic.c does all of them in
 * software and the port gets plain frames. Frames leave in bursts of up to
 * NETVSP_NIC_BURST. tx_frames counts guest frames handed to the port;
 * tx_drop_full counts wire frames (segments) the port would not take.
 *
 * The EAL is initialized once per process (the first DPDK NIC's arguments
 * win); DPDK's own log goes where its EAL arguments send it.
 *
 * Formats: DPDK 22.11 ethdev and mbuf API (rte_ethdev.h, rte_mbuf_core.h:
 * RTE_MBUF_F_TX_* needs l2_len/l3_len/l4_len, tso_segsz; checksum fields
 * seeded with the pseudo-header sum, without the length for TSO).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "nic.h"

#define DPDK_RX_DESC	256u
#define DPDK_TX_DESC	256u
#define DPDK_TX_RETRIES	64u
#define DPDK_MAX_PORTS	RTE_MAX_ETHPORTS

#define WANT_TX_OFFLOADS (RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM | \
			  RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_TSO | \
			  RTE_ETH_TX_OFFLOAD_VLAN_INSERT | RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
#define WANT_RX_OFFLOADS (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM | \
			  RTE_ETH_RX_OFFLOAD_TCP_CKSUM)

/* Process-wide EAL state: rte_eal_init runs once, whatever happens. */
static pthread_mutex_t eal_lock = PTHREAD_MUTEX_INITIALIZER;
static int eal_result = 1;		/* 1: not tried; 0: up; <0: failed */
static char **eal_args;			/* kept: the EAL may hold on to them */
static int eal_nargs;
static bool port_busy[DPDK_MAX_PORTS];
static unsigned int pool_seq;

struct dpdk_queue {
	struct rte_mbuf *tx[NETVSP_NIC_BURST];
	unsigned int ntx;
	struct rte_mbuf *rx[NETVSP_NIC_BURST];
	unsigned int rx_head, rx_count;
	uint8_t *lin, *scratch;
};

struct dpdk_nic {
	struct netvsp_nic *nic;
	const struct vmbus_log *log;
	uint16_t port;
	bool started;
	unsigned int nq;
	uint64_t tx_offloads;
	uint16_t seg_room;		/* data bytes per mbuf */
	struct rte_mempool *pool;
	struct dpdk_queue *q;
};

/* Where netvsp_nic_tx_soft's frames go. */
struct emit_ctx {
	struct dpdk_nic *d;
	unsigned int q;
};

/* ---- EAL ---------------------------------------------------------------------------- */

static bool same_args(const struct netvsp_nic_spec *spec)
{
	int i;

	if (spec->eal_argc != eal_nargs - 1)
		return false;
	for (i = 0; i < spec->eal_argc; i++)
		if (strcmp(spec->eal_argv[i], eal_args[i + 1]))
			return false;
	return true;
}

static int eal_init_once(const struct netvsp_nic_spec *spec, const struct vmbus_log *log)
{
	char **argv;
	int i, ret;

	if (eal_result <= 0) {
		if (eal_result == 0 && !same_args(spec))
			vmbus_logf(log, VMBUS_LOG_WARN, "dpdk: EAL already initialized; "
				   "this NIC's EAL arguments are ignored");
		return eal_result;
	}
	eal_nargs = spec->eal_argc + 1;
	eal_args = calloc((size_t)eal_nargs + 1, sizeof(char *));
	argv = calloc((size_t)eal_nargs + 1, sizeof(char *));
	if (!eal_args || !argv) {
		free(argv);
		return -ENOMEM;	/* not recorded: a later attempt may succeed */
	}
	eal_args[0] = strdup("netvsp");
	for (i = 0; i < spec->eal_argc; i++)
		eal_args[i + 1] = strdup(spec->eal_argv[i]);
	for (i = 0; i < eal_nargs; i++) {
		if (!eal_args[i])
			return -ENOMEM;
		argv[i] = eal_args[i];
	}
	/* rte_eal_init reorders argv; hand it a copy of the pointers so
	 * eal_args keeps the order for same_args(). */
	ret = rte_eal_init(eal_nargs, argv);
	free(argv);
	if (ret < 0) {
		eal_result = rte_errno ? -rte_errno : -EIO;
		vmbus_logf(log, VMBUS_LOG_ERR, "dpdk: rte_eal_init failed: %s",
			   rte_strerror(rte_errno));
		return eal_result;
	}
	eal_result = 0;
	return 0;
}

/* ---- Setup -------------------------------------------------------------------------- */

static int pick_port(const struct netvsp_nic_spec *spec, const struct vmbus_log *log,
		     uint16_t *port)
{
	uint16_t p;

	if (spec->port >= 0) {
		if (spec->port >= DPDK_MAX_PORTS || !rte_eth_dev_is_valid_port((uint16_t)spec->port)) {
			vmbus_logf(log, VMBUS_LOG_ERR, "dpdk: no port %d (%u available)",
				   spec->port, rte_eth_dev_count_avail());
			return -ENODEV;
		}
		if (port_busy[spec->port]) {
			vmbus_logf(log, VMBUS_LOG_ERR, "dpdk: port %d is already in use",
				   spec->port);
			return -EBUSY;
		}
		*port = (uint16_t)spec->port;
		return 0;
	}
	RTE_ETH_FOREACH_DEV(p) {
		if (!port_busy[p]) {
			*port = p;
			return 0;
		}
	}
	vmbus_logf(log, VMBUS_LOG_ERR, "dpdk: no free ethdev port (the EAL probed %u; "
		   "add --vdev=net_null0 or a PCI device)", rte_eth_dev_count_avail());
	return -ENODEV;
}

static int port_setup(struct dpdk_nic *d, unsigned int nq)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	uint16_t nrx = DPDK_RX_DESC, ntx = DPDK_TX_DESC;
	char name[RTE_MEMPOOL_NAMESIZE];
	unsigned int i, n_mbufs;
	int socket = rte_eth_dev_socket_id(d->port);
	int ret;

	if (socket < 0)
		socket = (int)rte_socket_id();
	ret = rte_eth_dev_info_get(d->port, &info);
	if (ret)
		return ret;
	if (nq > info.max_rx_queues || nq > info.max_tx_queues) {
		vmbus_logf(d->log, VMBUS_LOG_ERR, "dpdk: port %u has at most %u rx / %u tx "
			   "queues; %u asked for", d->port, info.max_rx_queues,
			   info.max_tx_queues, nq);
		return -EINVAL;
	}
	memset(&conf, 0, sizeof(conf));
	d->tx_offloads = info.tx_offload_capa & WANT_TX_OFFLOADS;
	conf.txmode.offloads = d->tx_offloads;
	conf.rxmode.offloads = info.rx_offload_capa & WANT_RX_OFFLOADS;
	ret = rte_eth_dev_configure(d->port, (uint16_t)nq, (uint16_t)nq, &conf);
	if (ret) {
		vmbus_logf(d->log, VMBUS_LOG_ERR, "dpdk: port %u: configure: %s", d->port,
			   strerror(-ret));
		return ret;
	}
	ret = rte_eth_dev_adjust_nb_rx_tx_desc(d->port, &nrx, &ntx);
	if (ret)
		return ret;

	n_mbufs = nq * ((unsigned int)nrx + ntx + 2 * NETVSP_NIC_BURST) + 512;
	snprintf(name, sizeof(name), "netvsp%u_%u", d->port, pool_seq++);
	d->pool = rte_pktmbuf_pool_create(name, n_mbufs, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					  socket);
	if (!d->pool) {
		vmbus_logf(d->log, VMBUS_LOG_ERR, "dpdk: mbuf pool of %u: %s", n_mbufs,
			   rte_strerror(rte_errno));
		return -ENOMEM;
	}
	d->seg_room = (uint16_t)(RTE_MBUF_DEFAULT_BUF_SIZE - RTE_PKTMBUF_HEADROOM);
	for (i = 0; i < nq; i++) {
		ret = rte_eth_rx_queue_setup(d->port, (uint16_t)i, nrx, (unsigned int)socket,
					     NULL, d->pool);
		if (!ret)
			ret = rte_eth_tx_queue_setup(d->port, (uint16_t)i, ntx,
						     (unsigned int)socket, NULL);
		if (ret) {
			vmbus_logf(d->log, VMBUS_LOG_ERR, "dpdk: port %u queue %u: %s",
				   d->port, i, strerror(-ret));
			return ret;
		}
	}
	ret = rte_eth_dev_start(d->port);
	if (ret) {
		vmbus_logf(d->log, VMBUS_LOG_ERR, "dpdk: port %u: start: %s", d->port,
			   strerror(-ret));
		return ret;
	}
	d->started = true;
	/* The guest picks its own address and multicast groups. */
	rte_eth_promiscuous_enable(d->port);
	return 0;
}

static void dpdk_close(void *priv)
{
	struct dpdk_nic *d = priv;
	unsigned int i;

	if (d->started) {
		/* Drain what the port still holds for us (a ring vdev keeps
		 * our own mbufs), so the pool can go. */
		for (i = 0; i < d->nq; i++) {
			struct rte_mbuf *m[NETVSP_NIC_BURST];
			uint16_t n;
			int rounds = 0;

			rte_pktmbuf_free_bulk(d->q[i].rx + d->q[i].rx_head, d->q[i].rx_count);
			while ((n = rte_eth_rx_burst(d->port, (uint16_t)i, m,
						     NETVSP_NIC_BURST)) && rounds++ < 1024)
				rte_pktmbuf_free_bulk(m, n);
		}
		rte_eth_dev_stop(d->port);
	}
	if (d->q) {
		for (i = 0; i < d->nq; i++) {
			rte_pktmbuf_free_bulk(d->q[i].tx, d->q[i].ntx);
			free(d->q[i].lin);
			free(d->q[i].scratch);
		}
	}
	rte_mempool_free(d->pool);
	pthread_mutex_lock(&eal_lock);
	if (d->port < DPDK_MAX_PORTS)
		port_busy[d->port] = false;
	pthread_mutex_unlock(&eal_lock);
	free(d->q);
	free(d);
}

static int dpdk_open(struct netvsp_nic *nic, const struct netvsp_nic_spec *spec, void **priv)
{
	struct dpdk_nic *d;
	unsigned int i;
	int ret;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->nic = nic;
	d->log = netvsp_nic_log(nic);
	d->port = UINT16_MAX;
	d->nq = spec->queues;

	pthread_mutex_lock(&eal_lock);
	ret = eal_init_once(spec, d->log);
	if (!ret)
		ret = pick_port(spec, d->log, &d->port);
	if (!ret)
		port_busy[d->port] = true;
	pthread_mutex_unlock(&eal_lock);
	if (ret) {
		d->port = UINT16_MAX;
		goto fail;
	}
	d->q = calloc(d->nq, sizeof(*d->q));
	if (!d->q) {
		ret = -ENOMEM;
		goto fail;
	}
	for (i = 0; i < d->nq; i++) {
		d->q[i].lin = malloc(NETVSP_NIC_FRAME_MAX);
		d->q[i].scratch = malloc(NETVSP_NIC_FRAME_MAX);
		if (!d->q[i].lin || !d->q[i].scratch) {
			ret = -ENOMEM;
			goto fail;
		}
	}
	ret = port_setup(d, d->nq);
	if (ret)
		goto fail;
	vmbus_logf(d->log, VMBUS_LOG_INFO, "dpdk: port %u, %u queue(s), tx offloads 0x%llx",
		   d->port, d->nq, (unsigned long long)d->tx_offloads);
	*priv = d;
	return 0;
fail:
	dpdk_close(d);
	return ret < 0 ? ret : -EIO;
}

/* ---- Transmit ----------------------------------------------------------------------- */

static void flush_tx(struct dpdk_nic *d, unsigned int q)
{
	struct dpdk_queue *dq = &d->q[q];
	unsigned int sent = 0, tries = 0, n = dq->ntx;
	uint16_t ok;

	while (sent < n) {
		ok = rte_eth_tx_prepare(d->port, (uint16_t)q, dq->tx + sent, (uint16_t)(n - sent));
		if (ok < n - sent) {
			/* The driver rejects this one; the rest may go. */
			unsigned int bad = sent + ok;

			rte_pktmbuf_free(dq->tx[bad]);
			memmove(dq->tx + bad, dq->tx + bad + 1,
				(n - bad - 1) * sizeof(dq->tx[0]));
			n--;
			NETVSP_NIC_STAT(d->nic, q, tx_drop_invalid, 1);
			continue;
		}
		ok = rte_eth_tx_burst(d->port, (uint16_t)q, dq->tx + sent, (uint16_t)(n - sent));
		sent += ok;
		if (!ok && ++tries > DPDK_TX_RETRIES)
			break;
	}
	if (sent < n) {
		rte_pktmbuf_free_bulk(dq->tx + sent, n - sent);
		NETVSP_NIC_STAT(d->nic, q, tx_drop_full, n - sent);
	}
	dq->ntx = 0;
}

/* Copy len bytes from the pieces into a fresh mbuf chain. */
static struct rte_mbuf *to_mbufs(struct dpdk_nic *d, const struct iovec *iov, size_t len)
{
	struct rte_mbuf *head, *m;
	size_t off = 0;
	unsigned int i = 0;

	if (len > d->seg_room && !(d->tx_offloads & RTE_ETH_TX_OFFLOAD_MULTI_SEGS))
		return NULL;
	head = rte_pktmbuf_alloc(d->pool);
	if (!head)
		return NULL;
	m = head;
	while (len) {
		size_t room = (size_t)d->seg_room - m->data_len, chunk;
		uint8_t *dst;

		if (!room) {
			struct rte_mbuf *next = rte_pktmbuf_alloc(d->pool);

			if (!next || rte_pktmbuf_chain(head, next)) {
				rte_pktmbuf_free(next);
				rte_pktmbuf_free(head);
				return NULL;
			}
			m = next;
			continue;
		}
		while (iov[i].iov_len == off) {
			i++;
			off = 0;
		}
		chunk = iov[i].iov_len - off;
		chunk = chunk < room ? chunk : room;
		chunk = chunk < len ? chunk : len;
		dst = rte_pktmbuf_mtod_offset(m, uint8_t *, m->data_len);
		memcpy(dst, (const uint8_t *)iov[i].iov_base + off, chunk);
		m->data_len = (uint16_t)(m->data_len + chunk);
		head->pkt_len += (uint32_t)chunk;
		off += chunk;
		len -= chunk;
	}
	return head;
}

static void enqueue(struct dpdk_nic *d, unsigned int q, struct rte_mbuf *m)
{
	struct dpdk_queue *dq = &d->q[q];

	dq->tx[dq->ntx++] = m;
	if (dq->ntx == NETVSP_NIC_BURST)
		flush_tx(d, q);
}

static int emit_mbuf(void *opaque, uint8_t *frame, size_t len)
{
	struct emit_ctx *c = opaque;
	struct iovec iov = { frame, len };
	struct rte_mbuf *m = to_mbufs(c->d, &iov, len);

	if (!m)
		return len > c->d->seg_room ? -EMSGSIZE : -ENOBUFS;
	enqueue(c->d, c->q, m);
	return 0;
}

/* Offloads the port can do for this frame, as DPDK capability bits. */
static uint64_t offloads_needed(const struct netvsp_nic_frame *f, size_t len, uint16_t seg_room)
{
	uint32_t fl = f->ol.flags;
	uint64_t need = 0;

	if (fl & NETVSP_NIC_TX_CSUM_IP4)
		need |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
	if (fl & NETVSP_NIC_TX_CSUM_TCP)
		need |= RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
	if (fl & NETVSP_NIC_TX_CSUM_UDP)
		need |= RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	if (fl & NETVSP_NIC_TX_LSO)
		need |= RTE_ETH_TX_OFFLOAD_TCP_TSO | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
	if (fl & NETVSP_NIC_TX_VLAN)
		need |= RTE_ETH_TX_OFFLOAD_VLAN_INSERT;
	if (len > seg_room)
		need |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	return need;
}

/* Hand f to the device with its offloads in ol_flags. Returns 0, -EINVAL
 * (metadata does not fit the frame) or -ENOBUFS. */
static int tx_hw(struct dpdk_nic *d, unsigned int q, const struct netvsp_nic_frame *f)
{
	struct netvsp_nic_tx_offload ol = f->ol;
	struct netvsp_nic_hdrs h;
	struct rte_mbuf *m;
	uint8_t *b;
	uint64_t olf = 0;

	m = to_mbufs(d, f->iov, f->len);
	if (!m)
		return -ENOBUFS;
	ol.flags &= ~NETVSP_NIC_TX_VLAN;
	b = rte_pktmbuf_mtod(m, uint8_t *);
	if (ol.flags) {
		if (netvsp_nic_parse_headers(b, m->data_len, f->len, &ol, &h)) {
			rte_pktmbuf_free(m);
			return -EINVAL;
		}
		m->l2_len = h.l3;
		m->l3_len = h.l3_len;
		m->l4_len = h.l4_len;
		olf |= h.v4 ? RTE_MBUF_F_TX_IPV4 : RTE_MBUF_F_TX_IPV6;
		if (ol.flags & NETVSP_NIC_TX_LSO)
			netvsp_nic_set_ip_len(b, &h, f->len);
		if (h.v4 && (ol.flags & (NETVSP_NIC_TX_CSUM_IP4 | NETVSP_NIC_TX_LSO))) {
			olf |= RTE_MBUF_F_TX_IP_CKSUM;
			b[h.l3 + 10] = 0;
			b[h.l3 + 11] = 0;
		}
		if (h.proto) {
			bool tso = ol.flags & NETVSP_NIC_TX_LSO;
			uint16_t seed = netvsp_nic_pseudo_sum(b, &h, tso ? 0 : h.l4_total);

			b[h.l4 + h.csum_offset] = (uint8_t)(seed >> 8);
			b[h.l4 + h.csum_offset + 1] = (uint8_t)seed;
			if (tso) {
				olf |= RTE_MBUF_F_TX_TCP_SEG;
				m->tso_segsz = ol.mss;
			} else {
				olf |= h.proto == 6 ? RTE_MBUF_F_TX_TCP_CKSUM :
						      RTE_MBUF_F_TX_UDP_CKSUM;
			}
		}
	}
	if (f->ol.flags & NETVSP_NIC_TX_VLAN) {
		olf |= RTE_MBUF_F_TX_VLAN;
		m->vlan_tci = f->ol.vlan_tci;
	}
	m->ol_flags = olf;
	enqueue(d, q, m);
	return 0;
}

static bool frame_ok(const struct netvsp_nic_frame *f)
{
	size_t total = 0;
	unsigned int i;

	if (!f->iov || !f->iovcnt || f->iovcnt > NETVSP_NIC_MAX_IOV)
		return false;
	for (i = 0; i < f->iovcnt; i++)
		total += f->iov[i].iov_len;
	return total == f->len && total >= 14 && total <= NETVSP_NIC_FRAME_MAX - 4;
}

static int dpdk_tx(void *priv, unsigned int q, const struct netvsp_nic_frame *frames,
		   unsigned int n)
{
	struct dpdk_nic *d = priv;
	struct emit_ctx ctx = { d, q };
	unsigned int i, sent = 0;
	int ret;

	for (i = 0; i < n; i++) {
		const struct netvsp_nic_frame *f = &frames[i];
		uint64_t need;

		if (!frame_ok(f)) {
			NETVSP_NIC_STAT(d->nic, q, tx_drop_invalid, 1);
			continue;
		}
		need = offloads_needed(f, f->len, d->seg_room);
		if ((need & d->tx_offloads) == need) {
			ret = tx_hw(d, q, f);
			if (ret == -EINVAL)
				NETVSP_NIC_STAT(d->nic, q, tx_drop_invalid, 1);
		} else {
			ret = netvsp_nic_tx_soft(d->nic, q, f, d->q[q].lin, d->q[q].scratch,
						 emit_mbuf, &ctx);
			if (ret == -EMSGSIZE)
				NETVSP_NIC_STAT(d->nic, q, tx_drop_invalid, 1);
		}
		if (ret == -ENOBUFS)
			NETVSP_NIC_STAT(d->nic, q, tx_drop_full, 1);
		if (ret < 0)
			continue;
		NETVSP_NIC_STAT(d->nic, q, tx_frames, 1);
		NETVSP_NIC_STAT(d->nic, q, tx_bytes, f->len);
		sent++;
	}
	if (d->q[q].ntx)
		flush_tx(d, q);
	return (int)sent;
}

/* ---- Receive ------------------------------------------------------------------------ */

static void rx_info(const struct rte_mbuf *m, struct netvsp_nic_rx_info *info)
{
	uint64_t f = m->ol_flags;

	info->flags = 0;
	info->vlan_tci = 0;
	if ((f & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
		info->flags |= NETVSP_NIC_RX_IP_CSUM_OK;
	else if ((f & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD)
		info->flags |= NETVSP_NIC_RX_IP_CSUM_BAD;
	if ((f & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
		info->flags |= NETVSP_NIC_RX_L4_CSUM_OK;
	else if ((f & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_BAD)
		info->flags |= NETVSP_NIC_RX_L4_CSUM_BAD;
	if (f & RTE_MBUF_F_RX_VLAN_STRIPPED) {
		info->flags |= NETVSP_NIC_RX_VLAN;
		info->vlan_tci = m->vlan_tci;
	}
}

static int dpdk_rx(void *priv, unsigned int q, unsigned int budget, netvsp_nic_rx_fn *fn,
		   void *opaque)
{
	struct dpdk_nic *d = priv;
	struct dpdk_queue *dq = &d->q[q];
	unsigned int done = 0;

	while (done < budget) {
		struct netvsp_nic_rx_info info;
		struct rte_mbuf *m;
		const void *data;

		if (!dq->rx_count) {
			dq->rx_head = 0;
			dq->rx_count = rte_eth_rx_burst(d->port, (uint16_t)q, dq->rx,
							NETVSP_NIC_BURST);
			if (!dq->rx_count)
				break;
		}
		m = dq->rx[dq->rx_head];
		if (m->pkt_len > NETVSP_NIC_FRAME_MAX || m->pkt_len < 14) {
			if (m->pkt_len < 14)
				NETVSP_NIC_STAT(d->nic, q, rx_drop_invalid, 1);
			else
				NETVSP_NIC_STAT(d->nic, q, rx_drop_oversize, 1);
			goto consumed;
		}
		data = rte_pktmbuf_read(m, 0, m->pkt_len, dq->lin);
		if (!data) {
			NETVSP_NIC_STAT(d->nic, q, rx_drop_invalid, 1);
			goto consumed;
		}
		rx_info(m, &info);
		if (fn(opaque, q, data, m->pkt_len, &info))
			break;	/* kept at rx_head for the next poll */
		done++;
consumed:
		rte_pktmbuf_free(m);
		dq->rx_head++;
		dq->rx_count--;
	}
	return (int)done;
}

static int dpdk_rx_fd(void *priv, unsigned int q)
{
	(void)priv;
	(void)q;
	return -1;
}

static bool dpdk_link_up(void *priv)
{
	struct dpdk_nic *d = priv;
	struct rte_eth_link link;

	memset(&link, 0, sizeof(link));
	if (rte_eth_link_get_nowait(d->port, &link))
		return false;
	return link.link_status == RTE_ETH_LINK_UP;
}

static int dpdk_mac(void *priv, uint8_t mac[6])
{
	struct dpdk_nic *d = priv;
	struct rte_ether_addr a;

	if (rte_eth_macaddr_get(d->port, &a))
		return -ENOENT;
	memcpy(mac, a.addr_bytes, 6);
	return 0;
}

const struct netvsp_nic_backend netvsp_nic_dpdk_backend = {
	.name = "dpdk",
	.open = dpdk_open,
	.close = dpdk_close,
	.tx = dpdk_tx,
	.rx = dpdk_rx,
	.rx_fd = dpdk_rx_fd,
	.link_up = dpdk_link_up,
	.mac = dpdk_mac,
};
