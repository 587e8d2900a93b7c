/* SPDX-License-Identifier: MIT */
/*
 * The TAP NIC backend: a Linux tap interface whose frames carry a
 * virtio-net header, so checksum and segmentation requests travel to and
 * from the kernel instead of being done here. One tap queue (file
 * descriptor) per NIC queue, with IFF_MULTI_QUEUE when there are several.
 *
 * I/O goes through one io_uring per queue: a few readv requests stay armed
 * so frames land while the caller sleeps on the ring's fd, and a transmit
 * burst is one submission of writev requests. When io_uring is not there
 * (not built, or io_uring_queue_init fails, e.g. under a seccomp filter)
 * the queue falls back to plain readv/writev on a non-blocking fd.
 *
 * Formats: struct virtio_net_hdr(_mrg_rxbuf), virtio 1.1 section 5.1.6
 * (flags NEEDS_CSUM / DATA_VALID, gso_type, hdr_len, gso_size, csum_start,
 * csum_offset; little endian on a little-endian host); the tun ioctls of
 * Linux include/uapi/linux/if_tun.h.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/virtio_net.h>

#ifdef NETVSP_HAVE_LIBURING
#include <liburing.h>
#endif

#include "nic.h"

#define TAP_RX_SLOTS	8u
#define TAP_RING_SIZE	64u	/* >= TAP_RX_SLOTS + NETVSP_NIC_BURST */
#define TAP_VNET_LEN	sizeof(struct virtio_net_hdr_mrg_rxbuf)
#define TAP_RX_BUF	(TAP_VNET_LEN + NETVSP_NIC_FRAME_MAX)
#define TAG_TX		(1ull << 32)

_Static_assert(sizeof(struct virtio_net_hdr_mrg_rxbuf) == 12, "virtio-net header");
_Static_assert(TAP_RING_SIZE >= TAP_RX_SLOTS + NETVSP_NIC_BURST, "ring size");

struct tap_tx_slot {
	struct virtio_net_hdr_mrg_rxbuf vh;
	uint8_t hdr[NETVSP_NIC_HDR_MAX];
	struct iovec iov[NETVSP_NIC_MAX_IOV + 2];
	unsigned int iovcnt;
	size_t wire_len;	/* bytes writev must take */
	size_t frame_len;	/* as the guest gave it, for the stats */
};

struct tap_queue {
	struct tap_nic *t;
	unsigned int idx;
	int fd;
	bool uring;
#ifdef NETVSP_HAVE_LIBURING
	struct io_uring ring;
#endif
	uint8_t *rxbuf[TAP_RX_SLOTS];
	struct iovec rx_iov[TAP_RX_SLOTS];
	int rx_res[TAP_RX_SLOTS];
	/* Completed reads in completion order, waiting to be delivered. */
	unsigned int ready[TAP_RX_SLOTS];
	unsigned int ready_head, ready_count;
	/* The buffer being delivered: its slot (-1 none), its length, and
	 * how many of its segments the callback already took. */
	int cur;
	size_t cur_len;
	unsigned int cur_skip;
	uint8_t *scratch;
	struct tap_tx_slot *tx;
	unsigned int tx_outstanding;
	unsigned int tx_sent;	/* frames written in the current tap_tx call */
};

struct tap_nic {
	struct netvsp_nic *nic;
	const struct vmbus_log *log;
	char ifname[IFNAMSIZ];
	int sock;		/* for interface flag ioctls */
	unsigned int nq;
	struct tap_queue *q;
};

/* ---- Setup -------------------------------------------------------------------------- */

static int tap_open_fd(struct tap_nic *t, bool multi, bool offload)
{
	struct ifreq ifr;
	unsigned int off = offload ? (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) : 0;
	int sz = (int)TAP_VNET_LEN;
	int fd, ret;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		vmbus_logf(t->log, VMBUS_LOG_ERR, "tap: /dev/net/tun: %s", strerror(errno));
		return ret;
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, t->ifname, sizeof(ifr.ifr_name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (multi ? IFF_MULTI_QUEUE : 0);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		vmbus_logf(t->log, VMBUS_LOG_ERR, "tap: TUNSETIFF %s: %s", t->ifname,
			   strerror(errno));
		close(fd);
		return ret;
	}
	/* The kernel may have picked the name (a "%d" pattern): the other
	 * queues must attach to the same interface. */
	memcpy(t->ifname, ifr.ifr_name, sizeof(t->ifname));
	t->ifname[IFNAMSIZ - 1] = '\0';
	if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0 || ioctl(fd, TUNSETOFFLOAD, off) < 0) {
		ret = -errno;
		vmbus_logf(t->log, VMBUS_LOG_ERR, "tap: %s: cannot set virtio-net header "
			   "or offloads: %s", t->ifname, strerror(errno));
		close(fd);
		return ret;
	}
	return fd;
}

static int tap_set_up(struct tap_nic *t)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, t->ifname, sizeof(ifr.ifr_name));
	if (ioctl(t->sock, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(t->sock, SIOCSIFFLAGS, &ifr) < 0)
		return -errno;
	return 0;
}

#ifdef NETVSP_HAVE_LIBURING
static void rx_arm(struct tap_queue *tq, unsigned int slot)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&tq->ring);

	if (!sqe) {
		io_uring_submit(&tq->ring);
		sqe = io_uring_get_sqe(&tq->ring);
	}
	/* The ring is sized for every slot and a full burst; a missing SQE
	 * would be a bug, and the slot simply stays idle. */
	if (!sqe)
		return;
	tq->rx_iov[slot].iov_base = tq->rxbuf[slot];
	tq->rx_iov[slot].iov_len = TAP_RX_BUF;
	io_uring_prep_readv(sqe, tq->fd, &tq->rx_iov[slot], 1, 0);
	io_uring_sqe_set_data64(sqe, slot);
}
#endif

static int queue_init(struct tap_nic *t, struct tap_queue *tq, unsigned int idx, int fd)
{
	unsigned int i;

	tq->t = t;
	tq->idx = idx;
	tq->fd = fd;
	tq->cur = -1;
	tq->scratch = malloc(NETVSP_NIC_FRAME_MAX);
	tq->tx = calloc(NETVSP_NIC_BURST, sizeof(*tq->tx));
	if (!tq->scratch || !tq->tx)
		return -ENOMEM;
	for (i = 0; i < TAP_RX_SLOTS; i++) {
		tq->rxbuf[i] = malloc(TAP_RX_BUF);
		if (!tq->rxbuf[i])
			return -ENOMEM;
	}
#ifdef NETVSP_HAVE_LIBURING
	{
		int ret = io_uring_queue_init(TAP_RING_SIZE, &tq->ring, 0);

		if (ret == 0) {
			tq->uring = true;
			for (i = 0; i < TAP_RX_SLOTS; i++)
				rx_arm(tq, i);
			io_uring_submit(&tq->ring);
		} else if (idx == 0) {
			vmbus_logf(t->log, VMBUS_LOG_INFO, "tap: io_uring unavailable (%s); "
				   "using readv/writev", strerror(-ret));
		}
	}
#endif
	return 0;
}

static void queue_fini(struct tap_queue *tq)
{
	unsigned int i;

#ifdef NETVSP_HAVE_LIBURING
	if (tq->uring)
		io_uring_queue_exit(&tq->ring);	/* cancels the armed reads */
#endif
	if (tq->fd >= 0)
		close(tq->fd);
	for (i = 0; i < TAP_RX_SLOTS; i++)
		free(tq->rxbuf[i]);
	free(tq->scratch);
	free(tq->tx);
}

static void tap_close(void *priv)
{
	struct tap_nic *t = priv;
	unsigned int i;

	for (i = 0; i < t->nq; i++)
		queue_fini(&t->q[i]);
	if (t->sock >= 0)
		close(t->sock);
	free(t->q);
	free(t);
}

static int tap_open(struct netvsp_nic *nic, const struct netvsp_nic_spec *spec, void **priv)
{
	struct tap_nic *t;
	unsigned int i;
	int ret, fd;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->nic = nic;
	t->log = netvsp_nic_log(nic);
	t->sock = -1;
	strncpy(t->ifname, spec->ifname, IFNAMSIZ - 1);
	t->q = calloc(spec->queues, sizeof(*t->q));
	if (!t->q) {
		free(t);
		return -ENOMEM;
	}
	for (i = 0; i < spec->queues; i++)
		t->q[i].fd = -1;
	for (i = 0; i < spec->queues; i++) {
		fd = tap_open_fd(t, spec->queues > 1, spec->offload);
		t->nq = i + 1;
		if (fd < 0) {
			ret = fd;
			goto fail;
		}
		ret = queue_init(t, &t->q[i], i, fd);
		if (ret)
			goto fail;
	}
	t->sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (t->sock < 0) {
		ret = -errno;
		goto fail;
	}
	if (spec->up) {
		ret = tap_set_up(t);
		if (ret) {
			vmbus_logf(t->log, VMBUS_LOG_ERR, "tap: cannot bring %s up: %s",
				   t->ifname, strerror(-ret));
			goto fail;
		}
	}
	vmbus_logf(t->log, VMBUS_LOG_INFO, "tap: %s, %u queue(s), offloads %s, %s", t->ifname,
		   spec->queues, spec->offload ? "on" : "off",
		   t->q[0].uring ? "io_uring" : "readv/writev");
	*priv = t;
	return 0;
fail:
	tap_close(t);
	return ret;
}

/* ---- Transmit ----------------------------------------------------------------------- */

/* Copy n bytes of frame f from byte off into dst; returns bytes copied. */
static size_t frame_copy(const struct netvsp_nic_frame *f, size_t off, uint8_t *dst, size_t n)
{
	size_t done = 0;
	unsigned int i;

	for (i = 0; i < f->iovcnt && done < n; i++) {
		size_t l = f->iov[i].iov_len, c;

		if (off >= l) {
			off -= l;
			continue;
		}
		c = l - off < n - done ? l - off : n - done;
		memcpy(dst + done, (const uint8_t *)f->iov[i].iov_base + off, c);
		done += c;
		off = 0;
	}
	return done;
}

/* Append the pieces of f from byte off on. Returns false when they do not
 * fit in the slot. */
static bool frame_iov_from(struct tap_tx_slot *s, const struct netvsp_nic_frame *f, size_t off)
{
	unsigned int i;

	for (i = 0; i < f->iovcnt; i++) {
		size_t l = f->iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		if (s->iovcnt == NETVSP_NIC_MAX_IOV + 2)
			return false;
		s->iov[s->iovcnt].iov_base = (uint8_t *)f->iov[i].iov_base + off;
		s->iov[s->iovcnt].iov_len = l - off;
		s->iovcnt++;
		off = 0;
	}
	return true;
}

/*
 * Build the writev for one frame: the virtio-net header, then a private
 * copy of the headers the offloads touch (VLAN tag inserted, IP length,
 * checksum seed), then the rest straight from the caller's pieces.
 */
static int tx_prepare(struct tap_tx_slot *s, const struct netvsp_nic_frame *f)
{
	struct netvsp_nic_tx_offload ol = f->ol;
	bool vlan = ol.flags & NETVSP_NIC_TX_VLAN;
	size_t total = 0, copy, avail, wire_len, used;
	struct netvsp_nic_hdrs h;
	unsigned int i;

	memset(&s->vh, 0, sizeof(s->vh));
	s->iovcnt = 1;
	s->iov[0].iov_base = &s->vh;
	s->iov[0].iov_len = TAP_VNET_LEN;
	if (!f->iov || f->iovcnt == 0 || f->iovcnt > NETVSP_NIC_MAX_IOV)
		return -EINVAL;
	for (i = 0; i < f->iovcnt; i++)
		total += f->iov[i].iov_len;
	if (total != f->len || total < 14 || total > NETVSP_NIC_FRAME_MAX - 4)
		return -EINVAL;
	s->frame_len = total;
	wire_len = total + (vlan ? 4 : 0);
	s->wire_len = TAP_VNET_LEN + wire_len;

	if (!ol.flags)
		return frame_iov_from(s, f, 0) ? 0 : -EINVAL;

	/* Headers into the slot, tag spliced in after the MAC addresses. */
	copy = total < NETVSP_NIC_HDR_MAX - 4 ? total : NETVSP_NIC_HDR_MAX - 4;
	if (vlan) {
		frame_copy(f, 0, s->hdr, 12);
		s->hdr[12] = 0x81;
		s->hdr[13] = 0x00;
		s->hdr[14] = (uint8_t)(ol.vlan_tci >> 8);
		s->hdr[15] = (uint8_t)ol.vlan_tci;
		frame_copy(f, 12, s->hdr + 16, copy - 12);
		avail = copy + 4;
		ol.flags &= ~NETVSP_NIC_TX_VLAN;
		if (ol.flags & (NETVSP_NIC_TX_CSUM_TCP | NETVSP_NIC_TX_CSUM_UDP | NETVSP_NIC_TX_LSO))
			ol.csum_start = (uint16_t)(ol.csum_start + 4);
	} else {
		frame_copy(f, 0, s->hdr, copy);
		avail = copy;
	}

	if (ol.flags) {
		if (netvsp_nic_parse_headers(s->hdr, avail, wire_len, &ol, &h))
			return -EINVAL;
		if (ol.flags & NETVSP_NIC_TX_LSO)
			netvsp_nic_set_ip_len(s->hdr, &h, wire_len);
		if (h.v4 && (ol.flags & (NETVSP_NIC_TX_CSUM_IP4 | NETVSP_NIC_TX_LSO)))
			netvsp_nic_ip4_csum(s->hdr, &h);
		if (h.proto) {
			uint16_t seed = netvsp_nic_pseudo_sum(s->hdr, &h, h.l4_total);

			s->hdr[h.l4 + h.csum_offset] = (uint8_t)(seed >> 8);
			s->hdr[h.l4 + h.csum_offset + 1] = (uint8_t)seed;
			s->vh.hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
			s->vh.hdr.csum_start = htole16(h.l4);
			s->vh.hdr.csum_offset = htole16(h.csum_offset);
		}
		if (ol.flags & NETVSP_NIC_TX_LSO) {
			s->vh.hdr.gso_type = h.v4 ? VIRTIO_NET_HDR_GSO_TCPV4 :
						    VIRTIO_NET_HDR_GSO_TCPV6;
			s->vh.hdr.gso_size = htole16(ol.mss);
			s->vh.hdr.hdr_len = htole16(h.hdr_len);
		}
		used = h.hdr_len;
	} else {
		used = 16;	/* only the tag: MAC addresses and tag */
	}
	s->iov[1].iov_base = s->hdr;
	s->iov[1].iov_len = used;
	s->iovcnt = 2;
	return frame_iov_from(s, f, used - (vlan ? 4 : 0)) ? 0 : -EINVAL;
}

static void tx_account(struct tap_queue *tq, struct tap_tx_slot *s, ssize_t res)
{
	struct netvsp_nic *nic = tq->t->nic;

	if (res == (ssize_t)s->wire_len) {
		NETVSP_NIC_STAT(nic, tq->idx, tx_frames, 1);
		NETVSP_NIC_STAT(nic, tq->idx, tx_bytes, s->frame_len);
		tq->tx_sent++;
	} else if (res == -EINVAL || res == -EMSGSIZE) {
		/* The kernel refused the virtio-net header or the length. */
		NETVSP_NIC_STAT(nic, tq->idx, tx_drop_invalid, 1);
	} else if (res == -EAGAIN || res == -ENOBUFS || res == -ENOMEM) {
		NETVSP_NIC_STAT(nic, tq->idx, tx_drop_full, 1);
	} else {
		NETVSP_NIC_STAT(nic, tq->idx, tx_drop_error, 1);
		vmbus_logf(tq->t->log, VMBUS_LOG_DEBUG, "tap: %s q%u: write: %zd",
			   tq->t->ifname, tq->idx, res);
	}
}

#ifdef NETVSP_HAVE_LIBURING
static void rx_complete(struct tap_queue *tq, unsigned int slot, int res);

/* Handle one completion, transmit or receive. */
static void handle_cqe(struct tap_queue *tq, struct io_uring_cqe *cqe)
{
	uint64_t data = io_uring_cqe_get_data64(cqe);

	if (data & TAG_TX) {
		tx_account(tq, &tq->tx[(unsigned int)data], cqe->res);
		tq->tx_outstanding--;
	} else if (data < TAP_RX_SLOTS) {
		rx_complete(tq, (unsigned int)data, cqe->res);
	}
	io_uring_cqe_seen(&tq->ring, cqe);
}

static int tx_uring(struct tap_queue *tq, unsigned int n)
{
	struct io_uring_cqe *cqe;
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&tq->ring);

		if (!sqe) {
			io_uring_submit(&tq->ring);
			sqe = io_uring_get_sqe(&tq->ring);
		}
		if (!sqe) {
			NETVSP_NIC_STAT(tq->t->nic, tq->idx, tx_drop_full, 1);
			continue;
		}
		io_uring_prep_writev(sqe, tq->fd, tq->tx[i].iov, tq->tx[i].iovcnt, 0);
		io_uring_sqe_set_data64(sqe, TAG_TX | i);
		tq->tx_outstanding++;
	}
	io_uring_submit(&tq->ring);
	/* The caller completes the guest's buffers when we return, so every
	 * write must be finished; tun writes complete inline, so this rarely
	 * sleeps. */
	while (tq->tx_outstanding) {
		ret = io_uring_wait_cqe(&tq->ring, &cqe);
		if (ret == -EINTR)
			continue;
		if (ret < 0)
			return ret;
		handle_cqe(tq, cqe);
	}
	return 0;
}
#endif

static int tap_tx(void *priv, unsigned int q, const struct netvsp_nic_frame *frames,
		  unsigned int n)
{
	struct tap_nic *t = priv;
	struct tap_queue *tq = &t->q[q];
	unsigned int done = 0, i, k;

	tq->tx_sent = 0;
	while (done < n) {
		unsigned int chunk = n - done < NETVSP_NIC_BURST ? n - done : NETVSP_NIC_BURST;

		for (i = 0, k = 0; i < chunk; i++) {
			if (tx_prepare(&tq->tx[k], &frames[done + i])) {
				NETVSP_NIC_STAT(t->nic, q, tx_drop_invalid, 1);
				continue;
			}
			k++;
		}
		done += chunk;
#ifdef NETVSP_HAVE_LIBURING
		if (tq->uring) {
			int ret = tx_uring(tq, k);

			if (ret < 0) {
				vmbus_logf(t->log, VMBUS_LOG_ERR, "tap: %s q%u: io_uring wait: %s",
					   t->ifname, q, strerror(-ret));
				return ret;
			}
			continue;
		}
#endif
		for (i = 0; i < k; i++) {
			ssize_t r = writev(tq->fd, tq->tx[i].iov, (int)tq->tx[i].iovcnt);

			tx_account(tq, &tq->tx[i], r < 0 ? -errno : r);
		}
	}
	return (int)tq->tx_sent;
}

/* ---- Receive ------------------------------------------------------------------------ */

#ifdef NETVSP_HAVE_LIBURING
static void rx_complete(struct tap_queue *tq, unsigned int slot, int res)
{
	if (res == -ECANCELED) {
		/* The thread that armed it exited; arm it again from here. */
		rx_arm(tq, slot);
		return;
	}
	tq->rx_res[slot] = res;
	tq->ready[(tq->ready_head + tq->ready_count) % TAP_RX_SLOTS] = slot;
	tq->ready_count++;
}
#endif

struct deliver_ctx {
	struct tap_queue *tq;
	netvsp_nic_rx_fn *fn;
	void *opaque;
	struct netvsp_nic_rx_info info;
	unsigned int seen;	/* segments passed, delivered now or before */
	unsigned int skip;	/* segments delivered by an earlier poll */
	unsigned int budget;
	unsigned int delivered;
	bool gso;		/* the buffer is a GSO packet being cut */
};

static int deliver_one(void *opaque, uint8_t *frame, size_t len)
{
	struct deliver_ctx *c = opaque;

	if (c->seen < c->skip) {
		c->seen++;
		return 0;
	}
	if (c->delivered == c->budget)
		return -EAGAIN;
	if (c->fn(c->opaque, c->tq->idx, frame, len, &c->info))
		return -EAGAIN;
	c->seen++;
	c->delivered++;
	if (c->gso)
		NETVSP_NIC_STAT(c->tq->t->nic, c->tq->idx, rx_sw_segments, 1);
	return 0;
}

/*
 * Hand one tap buffer (virtio-net header and frame, n bytes) to the
 * callback, finishing checksums and cutting GSO packets first. Returns
 * true when the buffer is finished with (delivered or dropped), false when
 * the callback refused or the budget ran out part way (c->seen says how
 * far it got).
 */
static bool deliver_buffer(struct deliver_ctx *c, uint8_t *buf, size_t n)
{
	struct tap_queue *tq = c->tq;
	struct netvsp_nic *nic = tq->t->nic;
	struct virtio_net_hdr vh;
	struct netvsp_nic_tx_offload ol;
	uint8_t *frame = buf + TAP_VNET_LEN;
	size_t len;
	uint8_t gso;
	int ret;

	if (n > TAP_RX_BUF) {
		NETVSP_NIC_STAT(nic, tq->idx, rx_drop_oversize, 1);
		return true;
	}
	if (n < TAP_VNET_LEN + 14) {
		NETVSP_NIC_STAT(nic, tq->idx, rx_drop_invalid, 1);
		return true;
	}
	len = n - TAP_VNET_LEN;
	memcpy(&vh, buf, sizeof(vh));
	gso = vh.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	memset(&ol, 0, sizeof(ol));
	memset(&c->info, 0, sizeof(c->info));
	c->gso = gso != VIRTIO_NET_HDR_GSO_NONE;

	if (gso == VIRTIO_NET_HDR_GSO_NONE && (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
		if (netvsp_nic_csum_complete(frame, len, le16toh(vh.csum_start),
					     le16toh(vh.csum_offset))) {
			NETVSP_NIC_STAT(nic, tq->idx, rx_drop_invalid, 1);
			return true;
		}
		NETVSP_NIC_STAT(nic, tq->idx, rx_sw_csum, 1);
		/* Done once: a retry after a refusal must not sum again. */
		vh.flags = VIRTIO_NET_HDR_F_DATA_VALID;
		memcpy(buf, &vh, sizeof(vh));
	}
	if (vh.flags & VIRTIO_NET_HDR_F_DATA_VALID)
		c->info.flags |= NETVSP_NIC_RX_L4_CSUM_OK;

	if (gso != VIRTIO_NET_HDR_GSO_NONE) {
		if ((gso != VIRTIO_NET_HDR_GSO_TCPV4 && gso != VIRTIO_NET_HDR_GSO_TCPV6) ||
		    !(vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
			NETVSP_NIC_STAT(nic, tq->idx, rx_drop_invalid, 1);
			return true;
		}
		ol.flags = NETVSP_NIC_TX_LSO | NETVSP_NIC_TX_CSUM_TCP |
			   (gso == VIRTIO_NET_HDR_GSO_TCPV4 ? NETVSP_NIC_TX_CSUM_IP4 : 0);
		ol.csum_start = le16toh(vh.csum_start);
		ol.mss = le16toh(vh.gso_size);
		c->info.flags = NETVSP_NIC_RX_L4_CSUM_OK |
				(gso == VIRTIO_NET_HDR_GSO_TCPV4 ? NETVSP_NIC_RX_IP_CSUM_OK : 0);
	}
	ret = netvsp_nic_sw_offload(frame, len, &ol, tq->scratch, NETVSP_NIC_FRAME_MAX,
				    deliver_one, c);
	if (ret == -EAGAIN)
		return false;
	if (ret < 0) {
		NETVSP_NIC_STAT(nic, tq->idx, rx_drop_invalid, 1);
		return true;
	}
	return true;
}

/* Deliver the held buffer, if any. Returns false when it is still held. */
static bool deliver_current(struct deliver_ctx *c)
{
	struct tap_queue *tq = c->tq;

	if (tq->cur < 0)
		return true;
	c->seen = 0;
	c->skip = tq->cur_skip;
	if (!deliver_buffer(c, tq->rxbuf[tq->cur], tq->cur_len)) {
		tq->cur_skip = c->seen;
		return false;
	}
#ifdef NETVSP_HAVE_LIBURING
	if (tq->uring)
		rx_arm(tq, (unsigned int)tq->cur);
#endif
	tq->cur = -1;
	tq->cur_skip = 0;
	return true;
}

static int tap_rx(void *priv, unsigned int q, unsigned int budget, netvsp_nic_rx_fn *fn,
		  void *opaque)
{
	struct tap_nic *t = priv;
	struct tap_queue *tq = &t->q[q];
	struct deliver_ctx c = { .tq = tq, .fn = fn, .opaque = opaque, .budget = budget };
	int err = 0;

#ifdef NETVSP_HAVE_LIBURING
	if (tq->uring) {
		struct io_uring_cqe *cqe;

		while (io_uring_peek_cqe(&tq->ring, &cqe) == 0)
			handle_cqe(tq, cqe);
	}
#endif
	while (deliver_current(&c) && c.delivered < budget) {
		int res;
		unsigned int slot;

#ifdef NETVSP_HAVE_LIBURING
		if (tq->uring) {
			if (!tq->ready_count)
				break;
			slot = tq->ready[tq->ready_head];
			tq->ready_head = (tq->ready_head + 1) % TAP_RX_SLOTS;
			tq->ready_count--;
			res = tq->rx_res[slot];
		} else
#endif
		{
			slot = 0;
			res = (int)read(tq->fd, tq->rxbuf[0], TAP_RX_BUF);
			if (res < 0)
				res = -errno;
			if (res == -EAGAIN)
				break;
		}
		if (res < 0) {
			NETVSP_NIC_STAT(t->nic, q, rx_drop_error, 1);
			vmbus_logf(t->log, VMBUS_LOG_DEBUG, "tap: %s q%u: read: %s", t->ifname,
				   q, strerror(-res));
			err = res;
#ifdef NETVSP_HAVE_LIBURING
			if (tq->uring)
				rx_arm(tq, slot);
#endif
			break;
		}
		tq->cur = (int)slot;
		tq->cur_len = (size_t)res;
		tq->cur_skip = 0;
	}
#ifdef NETVSP_HAVE_LIBURING
	if (tq->uring)
		io_uring_submit(&tq->ring);
#endif
	if (err && !c.delivered)
		return err == -EBADFD || err == -ENETDOWN ? -ENETDOWN : -EIO;
	return (int)c.delivered;
}

static int tap_rx_fd(void *priv, unsigned int q)
{
	struct tap_nic *t = priv;

#ifdef NETVSP_HAVE_LIBURING
	if (t->q[q].uring)
		return t->q[q].ring.ring_fd;
#endif
	return t->q[q].fd;
}

static bool tap_link_up(void *priv)
{
	struct tap_nic *t = priv;
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, t->ifname, sizeof(ifr.ifr_name));
	if (ioctl(t->sock, SIOCGIFFLAGS, &ifr) < 0)
		return false;
	return (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
}

const struct netvsp_nic_backend netvsp_nic_tap_backend = {
	.name = "tap",
	.open = tap_open,
	.close = tap_close,
	.tx = tap_tx,
	.rx = tap_rx,
	.rx_fd = tap_rx_fd,
	.link_up = tap_link_up,
};
