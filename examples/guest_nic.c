// SPDX-License-Identifier: MIT
/*
 * vmbus-guest's network commands, over netvsc (<vmbus/netvsc.h>, brought
 * up by netvsc_link.c):
 *
 *   nic                 bring the synthetic NIC up and print what the host
 *                       says about it: MAC, MTU, link state, queues
 *   tap NAME            bridge it to a TAP device of this process's network
 *                       namespace, so the kernel here uses the synthetic NIC
 *                       as its Ethernet port: the TAP takes the NIC's MAC
 *                       and MTU, frames the kernel sends go out through
 *                       netvsc, frames the host gives netvsc go to the
 *                       kernel. --dump FILE records what the host gave.
 *
 * The TAP works the way a guest's netvsc driver would sit under the
 * kernel: it takes the kernel's offloads (partial checksums, TCP
 * segmentation) when the host enabled the matching ones, and hands them
 * on as RNDIS per-packet info instead of doing the work here. A frame is
 * read straight into guest RAM; if it does not fit a send-buffer section
 * (a 64 KiB TCP segment) it goes to the host GPA-direct, without a copy,
 * and its buffer is reused when the host completes it.
 *
 * Formats: virtio 1.1 section 5.1.6 (struct virtio_net_hdr) and Linux
 * include/uapi/linux/if_tun.h (TUNSETIFF, TUNSETOFFLOAD, IFF_VNET_HDR);
 * netdevice(7) (SIOCSIFHWADDR, SIOCSIFMTU, SIOCSIFFLAGS); the LSO field
 * conventions of Linux drivers/net/hyperv/netvsc_drv.c (netvsc_xmit: IP
 * length and checksum zeroed, TCP checksum seeded without the length).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#ifdef NETVSP_HAVE_LIBURING
#include <liburing.h>
#endif

#include <vmbus/netvsc.h>

#include "capture.h"
#include "guest.h"
#include "netvsc_link.h"

/* TAP buffers in guest RAM: room for the virtio-net header and the
 * largest segment the kernel hands a TAP (64 KiB of IP plus Ethernet). */
#define TAP_BUFS	64u
#define TAP_BUF_PAGES	17u
#define TAP_BUF_SIZE	(TAP_BUF_PAGES * 4096u)
/* Frames read from the TAP per turn. */
#define TAP_BUDGET	64u
/* Frames for the kernel queued for one io_uring submission; each slot
 * holds the virtio-net header and a frame of up to WR_SLOT_SIZE bytes. */
#define WR_SLOTS	128u
#define WR_SLOT_SIZE	2048u

/* struct virtio_net_hdr (virtio 1.1, 5.1.6), as TAP reads and writes it. */
struct vnet_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};

#define VNET_F_NEEDS_CSUM	1u
#define VNET_F_DATA_VALID	2u
#define VNET_GSO_NONE		0u
#define VNET_GSO_TCPV4		1u
#define VNET_GSO_TCPV6		4u
#define VNET_GSO_ECN		0x80u

struct tap_buf {
	uint8_t *p;
	uint64_t pfns[TAP_BUF_PAGES];
	bool busy;		/* lent to the host (GPA direct) */
};

struct gnic {
	struct guest *gs;
	struct netvsc_link *nl;
	struct netvsc *nv;
	unsigned int queues;
	/* tap */
	int fd;
	struct tap_buf bufs[TAP_BUFS];
	int pending;			/* buffer holding a frame that found no room */
	size_t pending_len;
	bool tx_blocked;		/* wait for completions before reading more */
	struct netvsp_capture *dump;
	uint64_t count;			/* stop after this many received; 0: never */
	uint64_t received;
	bool link_changed, link_up;
#ifdef NETVSP_HAVE_LIBURING
	/* Writes to the TAP, batched: one system call per interrupt rather
	 * than one per frame. */
	bool uring;
	struct io_uring ring;
	uint8_t *wr;			/* WR_SLOTS slots */
	struct iovec wr_iov[WR_SLOTS];
	unsigned int wr_free[WR_SLOTS], wr_nfree, wr_queued;
#endif
	/* counters of the bridge itself */
	uint64_t tap_in, tap_in_bytes, tap_lso, tap_out, tap_out_bytes;
	uint64_t drop_bad, drop_send, drop_write, waits;
};

/* ---- Bring-up ---------------------------------------------------------------------- */

static uint32_t find_nic(const struct guest *gs)
{
	const struct vmbus_guid net = VMBUS_GUID_NET;
	unsigned int i;

	for (i = 0; i < gs->noffers; i++)
		if (vmbus_guid_equal(&gs->offers[i].if_type, &net) &&
		    gs->offers[i].sub_channel_index == 0)
			return gs->offers[i].child_relid;
	return 0;
}

#ifdef NETVSP_HAVE_LIBURING
static void wr_reap(struct gnic *n)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&n->ring, &cqe) == 0) {
		unsigned int slot = (unsigned int)io_uring_cqe_get_data64(cqe);

		if (cqe->res < 0) {
			n->drop_write++;
		} else {
			n->tap_out++;
			n->tap_out_bytes += (uint64_t)cqe->res - sizeof(struct vnet_hdr);
		}
		if (slot < WR_SLOTS)
			n->wr_free[n->wr_nfree++] = slot;
		io_uring_cqe_seen(&n->ring, cqe);
	}
}

/* Hand the queued writes to the kernel. */
static void wr_flush(struct gnic *n)
{
	if (!n->uring)
		return;
	if (n->wr_queued) {
		io_uring_submit(&n->ring);
		n->wr_queued = 0;
	}
	wr_reap(n);
}

/* Queue a copy of the frame; false when it must be written directly. */
static bool wr_queue(struct gnic *n, const struct vnet_hdr *vh, const void *frame,
		     uint32_t len)
{
	struct io_uring_sqe *sqe;
	unsigned int slot;
	uint8_t *p;

	if (!n->uring || len > WR_SLOT_SIZE)
		return false;
	if (!n->wr_nfree) {
		/* All slots in flight: wait for the oldest writes. */
		io_uring_submit_and_wait(&n->ring, 1);
		n->wr_queued = 0;
		wr_reap(n);
	}
	sqe = io_uring_get_sqe(&n->ring);
	if (!sqe || !n->wr_nfree)
		return false;
	slot = n->wr_free[--n->wr_nfree];
	p = n->wr + (size_t)slot * (WR_SLOT_SIZE + sizeof(*vh));
	memcpy(p, vh, sizeof(*vh));
	memcpy(p + sizeof(*vh), frame, len);
	n->wr_iov[slot] = (struct iovec){ .iov_base = p, .iov_len = sizeof(*vh) + len };
	io_uring_prep_writev(sqe, n->fd, &n->wr_iov[slot], 1, 0);
	io_uring_sqe_set_data64(sqe, slot);
	if (++n->wr_queued == WR_SLOTS / 2)
		wr_flush(n);
	return true;
}

static void wr_setup(struct gnic *n)
{
	unsigned int i;

	n->wr = malloc((size_t)WR_SLOTS * (WR_SLOT_SIZE + sizeof(struct vnet_hdr)));
	if (!n->wr || io_uring_queue_init(WR_SLOTS, &n->ring, 0)) {
		free(n->wr);
		n->wr = NULL;
		return;		/* plain writes then */
	}
	for (i = 0; i < WR_SLOTS; i++)
		n->wr_free[i] = WR_SLOTS - 1 - i;
	n->wr_nfree = WR_SLOTS;
	n->uring = true;
}

static void wr_teardown(struct gnic *n)
{
	if (!n->uring)
		return;
	wr_flush(n);
	while (n->wr_nfree < WR_SLOTS && io_uring_submit_and_wait(&n->ring, 1) >= 0)
		wr_reap(n);
	io_uring_queue_exit(&n->ring);
	free(n->wr);
	n->uring = false;
}
#else
static void wr_flush(struct gnic *n)
{
	(void)n;
}

static bool wr_queue(struct gnic *n, const struct vnet_hdr *vh, const void *frame,
		     uint32_t len)
{
	(void)n;
	(void)vh;
	(void)frame;
	(void)len;
	return false;
}

static void wr_setup(struct gnic *n)
{
	(void)n;
}

static void wr_teardown(struct gnic *n)
{
	(void)n;
}
#endif

/* A frame from the host: to the kernel, with what the host checked. */
static void on_rx(void *ctx, unsigned int queue, const void *frame, uint32_t len,
		  const struct netvsc_rx_info *info)
{
	struct gnic *n = ctx;
	struct vnet_hdr vh = { 0 };
	struct iovec iov[2];

	(void)queue;
	n->received++;
	iov[1] = (struct iovec){ .iov_base = (void *)frame, .iov_len = len };
	if (n->dump)
		netvsp_capture_frame(n->dump, NETVSP_CAPTURE_RX, &iov[1], 1, -1);
	if (n->fd < 0)
		return;
	if ((info->flags & NETVSC_RX_CSUM) &&
	    (info->csum & (NDIS_RXCSUM_INFO_TCPCS_OK | NDIS_RXCSUM_INFO_UDPCS_OK)) &&
	    !(info->csum & (NDIS_RXCSUM_INFO_TCPCS_FAILED | NDIS_RXCSUM_INFO_UDPCS_FAILED)))
		vh.flags = VNET_F_DATA_VALID;
	iov[0] = (struct iovec){ .iov_base = &vh, .iov_len = sizeof(vh) };
	/* frame lies in the receive buffer, which goes back to the host
	 * when we return: a queued write takes a copy, a direct one is done
	 * before we return. */
	if (wr_queue(n, &vh, frame, len))
		return;
	if (writev(n->fd, iov, 2) < 0) {
		n->drop_write++;
		return;
	}
	n->tap_out++;
	n->tap_out_bytes += len;
}

static void on_link(void *ctx, bool up)
{
	struct gnic *n = ctx;

	n->link_changed = true;
	n->link_up = up;
}

static void on_tx_done(void *ctx, void *cookie, bool ok)
{
	struct gnic *n = ctx;
	struct tap_buf *b = cookie;

	(void)ok;
	b->busy = false;
	n->tx_blocked = false;
}

static const struct netvsc_events gnic_events = {
	.rx = on_rx,
	.link = on_link,
	.tx_done = on_tx_done,
};

static int gnic_up(struct guest *gs, struct gnic *n, unsigned int queues)
{
	struct netvsc_link_config cfg = { 0 };
	int ret;

	cfg.relid = find_nic(gs);
	if (!cfg.relid) {
		guest_err("the host offers no network device (start vmbus-host with --nic)");
		return 1;
	}
	cfg.offers = gs->offers;
	cfg.noffers = &gs->noffers;
	cfg.queues = queues;
	cfg.events = &gnic_events;
	cfg.ctx = n;
	cfg.log = gs->log;
	cfg.timeout_ms = gs->timeout_ms;
	n->gs = gs;
	ret = netvsc_link_open(gs->g, &cfg, &n->nl);
	if (ret) {
		if (ret == -EPROTO || ret == -EIO)
			guest_err("the network device refused the bring-up (%s)", strerror(-ret));
		else
			guest_link_err(gs, "bringing the network device up", ret);
		return 1;
	}
	n->nv = netvsc_link_nic(n->nl);
	n->queues = netvsc_num_queues(n->nv);
	return 0;
}

static int gnic_down(struct gnic *n)
{
	int ret = netvsc_link_close(n->nl, n->gs->timeout_ms);

	n->nl = NULL;
	n->nv = NULL;
	if (ret && vmbus_link_guest_alive(n->gs->g)) {
		guest_link_err(n->gs, "closing the network device", ret);
		return 1;
	}
	return 0;
}

static int parse_uint(const char *cmd, const char *opt, const char *val, unsigned long max,
		      unsigned long *out)
{
	char *end;

	*out = strtoul(val, &end, 0);
	if (*end || !*val || *out > max) {
		guest_err("%s: bad value '%s' for %s", cmd, val, opt);
		return 2;
	}
	return 0;
}

static void print_nic(struct gnic *n)
{
	uint8_t mac[6];
	uint32_t v = netvsc_nvsp_version(n->nv);

	netvsc_get_mac(n->nv, mac);
	printf("nic: MAC %02x:%02x:%02x:%02x:%02x:%02x  MTU %u  link %s  queues %u"
	       "  (NVSP %u.%u, link speed %u Mbit/s, offloads 0x%x)\n",
	       mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], netvsc_mtu(n->nv),
	       netvsc_link_up(n->nv) ? "up" : "down", netvsc_num_queues(n->nv), v >> 16,
	       v & 0xffff, netvsc_link_speed(n->nv) / 10000, netvsc_offloads(n->nv));
	fflush(stdout);
}

static int cmd_nic(struct guest *gs, int argc, char **argv)
{
	struct gnic n = { .fd = -1 };
	unsigned long queues = 1;
	int i, status;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--queues") && i + 1 < argc) {
			if (parse_uint("nic", argv[i], argv[i + 1], NETVSC_MAX_QUEUES, &queues) ||
			    !queues)
				return 2;
			i++;
			continue;
		}
		guest_err("nic: unknown argument '%s' (try --help)", argv[i]);
		return 2;
	}
	status = gnic_up(gs, &n, (unsigned int)queues);
	if (status)
		return status;
	print_nic(&n);
	return gnic_down(&n);
}

/* ---- The TAP device ------------------------------------------------------------------ */

/* Create TAP name with virtio-net headers and the offloads the host took. */
static int tap_open(const char *name, uint32_t offloads)
{
	const uint32_t csum = NETVSC_OFFLOAD_TCP4_CSUM | NETVSC_OFFLOAD_UDP4_CSUM |
			      NETVSC_OFFLOAD_TCP6_CSUM | NETVSC_OFFLOAD_UDP6_CSUM;
	unsigned int tun = 0;
	struct ifreq ifr;
	int fd, ret;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr))
		goto fail;
	/* The kernel may leave a checksum to us only if the host takes every
	 * kind of it; segmentation needs checksums too. */
	if ((offloads & csum) == csum) {
		tun = TUN_F_CSUM;
		if (offloads & NETVSC_OFFLOAD_LSO4)
			tun |= TUN_F_TSO4;
		if (offloads & NETVSC_OFFLOAD_LSO6)
			tun |= TUN_F_TSO6;
	}
	if (ioctl(fd, TUNSETOFFLOAD, tun))
		goto fail;
	return fd;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

/* Give the TAP the NIC's address and MTU and bring it up. */
static int tap_configure(const char *name, const uint8_t mac[6], uint32_t mtu)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = 0;

	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	if (ioctl(s, SIOCSIFHWADDR, &ifr))
		ret = -errno;
	ifr.ifr_mtu = (int)mtu;
	if (!ret && ioctl(s, SIOCSIFMTU, &ifr))
		ret = -errno;
	if (!ret && ioctl(s, SIOCGIFFLAGS, &ifr))
		ret = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!ret && ioctl(s, SIOCSIFFLAGS, &ifr))
		ret = -errno;
	close(s);
	return ret;
}

static int bufs_alloc(struct gnic *n)
{
	unsigned int i, k;
	uint64_t gpa;

	for (i = 0; i < TAP_BUFS; i++) {
		n->bufs[i].p = vmbus_link_guest_alloc_pages(n->gs->g, TAP_BUF_PAGES, &gpa);
		if (!n->bufs[i].p)
			return -ENOMEM;
		for (k = 0; k < TAP_BUF_PAGES; k++)
			n->bufs[i].pfns[k] = gpa / 4096 + k;
	}
	return 0;
}

static void bufs_free(struct gnic *n)
{
	unsigned int i;

	/* Buffers the host may still hold stay allocated (the guest RAM
	 * goes with the link anyway). */
	for (i = 0; i < TAP_BUFS; i++)
		if (n->bufs[i].p && !n->bufs[i].busy)
			vmbus_link_guest_free_pages(n->gs->g, n->bufs[i].pfns[0] * 4096,
						    TAP_BUF_PAGES);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The folded pseudo-header sum over the addresses and the protocol, with
 * a length of 0: the TCP checksum seed an LSO frame carries. */
static uint16_t lso_seed(const uint8_t *ip, bool v6)
{
	uint32_t sum = 6;	/* TCP */
	unsigned int i, off = v6 ? 8 : 12, len = v6 ? 32 : 8;

	for (i = 0; i < len; i += 2)
		sum += get16(ip + off + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * Turn the virtio-net header of a frame the kernel sent into netvsc's
 * offload requests. Returns 0, or -EINVAL for a frame the host cannot be
 * asked to finish (it is dropped).
 */
static int tx_info(const struct vnet_hdr *vh, uint8_t *f, size_t len,
		   struct netvsc_tx_info *ti)
{
	uint8_t gso = vh->gso_type & (uint8_t)~VNET_GSO_ECN;
	uint16_t start = vh->csum_start, off = vh->csum_offset;
	bool v6;

	memset(ti, 0, sizeof(*ti));
	if (!(vh->flags & VNET_F_NEEDS_CSUM))
		return gso == VNET_GSO_NONE ? 0 : -EINVAL;
	if (len < 14)
		return -EINVAL;
	if (get16(f + 12) == 0x0800)
		v6 = false;
	else if (get16(f + 12) == 0x86dd)
		v6 = true;
	else
		return -EINVAL;
	if (start < 14 + (v6 ? 40 : 20) || (size_t)start + off + 2 > len ||
	    (off != 16 && off != 6))
		return -EINVAL;
	ti->flags = (v6 ? NETVSC_TX_IPV6 : NETVSC_TX_IPV4) |
		    (off == 16 ? NETVSC_TX_CSUM_TCP : NETVSC_TX_CSUM_UDP);
	ti->l4_offset = start;
	if (gso == VNET_GSO_NONE)
		return 0;
	if (gso != (v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4) || off != 16 || !vh->gso_size)
		return -EINVAL;
	ti->flags = (v6 ? NETVSC_TX_IPV6 : NETVSC_TX_IPV4) | NETVSC_TX_LSO;
	ti->mss = vh->gso_size;
	if (v6) {
		put16(f + 14 + 4, 0);		/* payload length */
	} else {
		put16(f + 14 + 2, 0);		/* total length */
		put16(f + 14 + 10, 0);		/* header checksum */
	}
	put16(f + start + 16, lso_seed(f + 14, v6));
	return 0;
}

/* Send the frame in buffer i (len bytes with its virtio-net header).
 * Returns 0 (sent or dropped) or -EAGAIN (no room now: keep it). */
static int tap_send(struct gnic *n, unsigned int i, size_t len)
{
	struct tap_buf *b = &n->bufs[i];
	struct vnet_hdr vh;
	struct netvsc_tx_info ti;
	uint8_t *f = b->p + sizeof(vh);
	uint32_t flen = (uint32_t)(len - sizeof(vh));
	int ret;

	memcpy(&vh, b->p, sizeof(vh));
	if (tx_info(&vh, f, flen, &ti)) {
		n->drop_bad++;
		return 0;
	}
	ret = netvsc_send(n->nv, 0, f, flen, &ti);
	if (ret == -EMSGSIZE) {
		/* Too big for a section: the host reads it where it is. */
		ret = netvsc_send_gpa(n->nv, 0, b->pfns, (uint32_t)sizeof(vh), flen, &ti, b);
		if (!ret)
			b->busy = true;
	}
	if (ret == -EAGAIN)
		return -EAGAIN;
	if (ret) {
		n->drop_send++;
		return 0;
	}
	n->tap_in++;
	n->tap_in_bytes += flen;
	if (ti.flags & NETVSC_TX_LSO)
		n->tap_lso++;
	return 0;
}

static int free_buf(const struct gnic *n)
{
	unsigned int i;

	for (i = 0; i < TAP_BUFS; i++)
		if (!n->bufs[i].busy && (int)i != n->pending)
			return (int)i;
	return -1;
}

/* Read and send up to TAP_BUDGET frames. Returns 0 or -errno of a failed
 * TAP read. */
static int tap_pump(struct gnic *n)
{
	struct vmbus_channel *ch = netvsc_link_channel(n->nl, 0);
	unsigned int k;
	int ret = 0;

	/* One doorbell for the whole batch. */
	vmbus_channel_send_batch_begin(ch);
	for (k = 0; k < TAP_BUDGET; k++) {
		int i = n->pending;
		size_t len = n->pending_len;

		if (i < 0) {
			ssize_t r;

			i = free_buf(n);
			if (i < 0) {
				n->tx_blocked = true;	/* until a tx_done */
				break;
			}
			r = read(n->fd, n->bufs[i].p, TAP_BUF_SIZE);
			if (r < 0) {
				if (errno != EAGAIN && errno != EINTR)
					ret = -errno;
				break;
			}
			if ((size_t)r <= sizeof(struct vnet_hdr)) {
				n->drop_bad++;
				continue;
			}
			len = (size_t)r;
		}
		if (tap_send(n, (unsigned int)i, len) == -EAGAIN) {
			n->pending = i;
			n->pending_len = len;
			n->tx_blocked = true;
			n->waits++;
			break;
		}
		n->pending = -1;
	}
	vmbus_channel_send_batch_end(ch);
	return ret;
}

static void tap_counters(struct gnic *n)
{
	struct netvsc_stats s;

	netvsc_get_stats(n->nv, &s);
	printf("tap: netvsc sent %" PRIu64 " frames %" PRIu64 " bytes (failed %" PRIu64
	       "), received %" PRIu64 " frames %" PRIu64 " bytes (refused %" PRIu64 ")\n",
	       s.tx_frames, s.tx_bytes, s.tx_failed, s.rx_frames, s.rx_bytes, s.rx_bad);
	printf("tap: from the TAP %" PRIu64 " frames %" PRIu64 " bytes (%" PRIu64
	       " segmentation offloads), to the TAP %" PRIu64 " frames %" PRIu64 " bytes; "
	       "dropped: bad offload %" PRIu64 ", send error %" PRIu64 ", write error %" PRIu64
	       "; waits for room %" PRIu64 "\n",
	       n->tap_in, n->tap_in_bytes, n->tap_lso, n->tap_out, n->tap_out_bytes,
	       n->drop_bad, n->drop_send, n->drop_write, n->waits);
	fflush(stdout);
}

static int signal_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Move frames until a signal, the host leaving, or --count. Returns the
 * exit status. */
static int tap_loop(struct gnic *n, int sfd)
{
	struct pollfd fds[3];
	int ret;

	for (;;) {
		if (n->count && n->received >= n->count)
			return 0;
		fds[0] = (struct pollfd){ .fd = vmbus_link_guest_fd(n->gs->g), .events = POLLIN };
		fds[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		/* A blocked send waits for the host's completions, which come
		 * as an interrupt; the TAP stays readable meanwhile. */
		fds[2] = (struct pollfd){ .fd = n->tx_blocked ? -1 : n->fd, .events = POLLIN };
		if (poll(fds, 3, -1) < 0 && errno != EINTR) {
			guest_err("tap: poll: %s", strerror(errno));
			return 1;
		}
		if (fds[1].revents & POLLIN)
			return 0;
		/* Completions, received frames, link indications. */
		ret = vmbus_link_guest_process(n->gs->g);
		wr_flush(n);
		if (ret < 0) {
			guest_link_err(n->gs, "tap", ret);
			return 1;
		}
		if (n->link_changed) {
			n->link_changed = false;
			if (n->gs->verbose)
				guest_err("tap: link %s", n->link_up ? "up" : "down");
		}
		if (n->pending >= 0 || fds[2].revents & POLLIN)
			n->tx_blocked = false;
		if (!n->tx_blocked) {
			ret = tap_pump(n);
			if (ret) {
				guest_err("tap: reading the TAP: %s", strerror(-ret));
				return 1;
			}
		}
	}
}

static int cmd_tap(struct guest *gs, int argc, char **argv)
{
	struct gnic n = { .fd = -1, .pending = -1 };
	unsigned long count = 0;
	const char *name = NULL, *dump = NULL;
	uint8_t mac[6];
	int i, ret, sfd, status;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--count") && i + 1 < argc) {
			if (parse_uint("tap", argv[i], argv[i + 1], 1000000000ul, &count))
				return 2;
			i++;
		} else if (!strcmp(argv[i], "--dump") && i + 1 < argc) {
			dump = argv[++i];
		} else if (argv[i][0] != '-' && !name) {
			name = argv[i];
		} else {
			guest_err("tap: unknown argument '%s' (try --help)", argv[i]);
			return 2;
		}
	}
	if (!name || strlen(name) >= IFNAMSIZ) {
		guest_err("tap: give a TAP interface name (up to %d characters)", IFNAMSIZ - 1);
		return 2;
	}
	n.count = count;
	sfd = signal_fd();
	if (sfd < 0) {
		guest_err("tap: signalfd: %s", strerror(errno));
		return 1;
	}
	if (dump) {
		ret = netvsp_capture_open(dump, strstr(dump, ".pcapng") ? NETVSP_CAPTURE_PCAPNG :
					  NETVSP_CAPTURE_PCAP, &gs->log, &n.dump);
		if (ret) {
			guest_err("tap: cannot create %s: %s", dump, strerror(-ret));
			status = 1;
			goto out;
		}
	}
	status = gnic_up(gs, &n, 1);
	if (status)
		goto out;
	ret = bufs_alloc(&n);
	if (ret) {
		guest_err("tap: no guest RAM left for TAP buffers (start the host with more --ram)");
		status = 1;
		goto down;
	}
	ret = tap_open(name, netvsc_offloads(n.nv));
	if (ret >= 0) {
		n.fd = ret;
		wr_setup(&n);
		netvsc_get_mac(n.nv, mac);
		ret = tap_configure(name, mac, netvsc_mtu(n.nv));
	}
	if (ret < 0) {
		guest_err("tap: cannot set up TAP device %s: %s%s", name, strerror(-ret),
			  ret == -EPERM || ret == -EACCES ? " (needs CAP_NET_ADMIN)" : "");
		status = 1;
	} else {
		print_nic(&n);
		printf("tap: %s is up, bridged to the synthetic NIC\n", name);
		fflush(stdout);
		status = tap_loop(&n, sfd);
		tap_counters(&n);
	}
	wr_teardown(&n);
	if (n.fd >= 0)
		close(n.fd);
	n.fd = -1;
down:
	if (gnic_down(&n) && !status)
		status = 1;
	bufs_free(&n);
out:
	if (n.dump)
		netvsp_capture_close(n.dump);
	close(sfd);
	return status;
}

const struct guest_command nic_command = {
	"nic", "[--queues N]",
	"bring the synthetic NIC up (with N queues, default 1) and print its\n"
	"\t\t\tMAC address, MTU, link state and queues", cmd_nic
};

const struct guest_command tap_command = {
	"tap", "NAME [--dump FILE.pcap] [--count N]",
	"bridge the synthetic NIC to TAP device NAME here (it takes the NIC's\n"
	"\t\t\tMAC and MTU); runs until SIGINT/SIGTERM, the host leaving, or N\n"
	"\t\t\tframes received; --dump records received frames; prints counters",
	cmd_tap
};
