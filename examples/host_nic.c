// SPDX-License-Identifier: MIT
/*
 * vmbus-host's network device: a synthetic NIC (netvsp, <vmbus/netvsp.h>)
 * whose frames go to and come from a NIC backend (vsp/netvsp/nic.h: TAP,
 * DPDK, a pcap file or nothing).
 *
 *   guest -> host: the guest signals a channel, the server glue kicks us,
 *   and the poll hook runs netvsp_channel_process(); each frame reaches
 *   frame_tx(), which stages small frames (a copy: the guest may reuse its
 *   send-buffer section as soon as netvsp completes it) and hands the
 *   batch to netvsp_nic_tx() when the channel's batch ends, so a DPDK
 *   port sees bursts and a TAP sees one submission per batch.
 *
 *   host -> guest: the backend's receive descriptor sits in the main poll
 *   loop (a timerfd stands in for a backend that has none, DPDK); every
 *   frame goes to netvsp_rx(). Frames wait in the backend while netvsp's
 *   backlog is full, and the backend is not read at all before the guest
 *   has lent its receive buffer and set a packet filter, so a replayed
 *   file is not thrown away while the guest boots.
 *
 * Counters of every channel (kept across guests) and of the backend are
 * printed at exit and on SIGUSR1.
 *
 * Formats: NVSP/RNDIS in include/vmbus/proto/nvsp.h and rndis.h, the
 * backend spec grammar in vsp/netvsp/nic.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <vmbus/netvsp.h>

#include "host.h"
#include "nic.h"

/* Frames staged per queue before a backend call. */
#define STAGE_FRAMES	NETVSP_NIC_BURST
/* Frames up to this size are staged; larger ones (LSO) go straight out. */
#define STAGE_MAX	2048u
/* NVSP packets handled per channel per loop turn. */
#define CHAN_BUDGET	256u
/* Backend frames read per queue per loop turn. */
#define RX_BUDGET	64u
/* Poll period for a backend without a descriptor. */
#define POLL_NS		100000

struct stage {
	struct netvsp_nic_frame f[STAGE_FRAMES];
	struct iovec iov[STAGE_FRAMES];
	uint8_t *buf;
	unsigned int n;
};

struct host_nic {
	struct host *h;
	unsigned int index;
	char *spec;
	struct netvsp *nv;
	struct netvsp_nic *nic;
	unsigned int queues;		/* backend queue pairs */
	int rx_fd[NETVSP_NIC_MAX_QUEUES];	/* -1: poll on the timer */
	bool polled;			/* some queue has no descriptor */
	int timer_fd, wake_fd, sig_fd;
	bool timer_armed;
	bool ready;			/* the guest can take frames */
	bool rx_blocked;		/* netvsp's backlog is full */
	bool down_reported;
	bool kicked[NETVSP_MAX_QUEUES];
	struct stage stage[NETVSP_NIC_MAX_QUEUES];
	/* Channel counters: live copy, and the sum over channels gone. */
	struct netvsp_channel *seen[NETVSP_MAX_QUEUES];
	struct netvsp_stats last[NETVSP_MAX_QUEUES], past[NETVSP_MAX_QUEUES];
};

/* NICs of this process, for SIGUSR1 (one signalfd serves them all). */
static struct host_nic *all_nics[MAX_DEVICES];
static unsigned int nnics, nlive;
static int usr1_fd = -1;

/* ---- Guest to host -------------------------------------------------------------- */

static void stage_flush(struct host_nic *n, unsigned int q)
{
	struct stage *s = &n->stage[q];

	if (!s->n)
		return;
	/* Drops are counted by reason in the backend's own stats. */
	netvsp_nic_tx(n->nic, q, s->f, s->n);
	s->n = 0;
}

static void stage_flush_all(struct host_nic *n)
{
	unsigned int q;

	for (q = 0; q < n->queues; q++)
		stage_flush(n, q);
}

static int frame_tx(void *ctx, unsigned int queue, const struct iovec *iov,
		    unsigned int iovcnt, size_t len, const struct rndis_tx_packet *pkt)
{
	struct host_nic *n = ctx;
	unsigned int q = queue % n->queues;
	struct stage *s = &n->stage[q];
	struct netvsp_nic_frame f;
	uint8_t *dst;
	unsigned int i;
	size_t off = 0;

	memset(&f, 0, sizeof(f));
	netvsp_nic_offload_from_rndis(pkt, &f.ol);
	if (len > STAGE_MAX) {
		/* Keep the order: what is staged leaves first. */
		stage_flush(n, q);
		f.iov = iov;
		f.iovcnt = iovcnt;
		f.len = len;
		return netvsp_nic_tx(n->nic, q, &f, 1) == 1 ? 0 : -EIO;
	}
	dst = s->buf + (size_t)s->n * STAGE_MAX;
	for (i = 0; i < iovcnt && off < len; i++) {
		size_t c = iov[i].iov_len < len - off ? iov[i].iov_len : len - off;

		memcpy(dst + off, iov[i].iov_base, c);
		off += c;
	}
	s->iov[s->n] = (struct iovec){ .iov_base = dst, .iov_len = off };
	f.iov = &s->iov[s->n];
	f.iovcnt = 1;
	f.len = off;
	s->f[s->n++] = f;
	if (s->n == STAGE_FRAMES)
		stage_flush(n, q);
	return 0;
}

static void kick(void *ctx, struct netvsp_channel *c)
{
	struct host_nic *n = ctx;

	/* Only the queue number: the channel may close before we run. */
	n->kicked[netvsp_channel_queue(c)] = true;
}

/* ---- Counters -------------------------------------------------------------------- */

static void stats_add(struct netvsp_stats *to, const struct netvsp_stats *from)
{
	uint64_t *t = (uint64_t *)to;
	const uint64_t *f = (const uint64_t *)from;
	size_t i;

	for (i = 0; i < sizeof(*to) / sizeof(uint64_t); i++)
		t[i] += f[i];
}

/* Fold the counters of channels that went away into past[]. */
static void stats_snapshot(struct host_nic *n)
{
	unsigned int q;

	for (q = 0; q < NETVSP_MAX_QUEUES; q++) {
		struct netvsp_channel *c = netvsp_get_channel(n->nv, q);

		if (c != n->seen[q]) {
			stats_add(&n->past[q], &n->last[q]);
			memset(&n->last[q], 0, sizeof(n->last[q]));
			n->seen[q] = c;
		}
		if (c)
			netvsp_channel_get_stats(c, &n->last[q]);
	}
}

static void print_stats(struct host_nic *n)
{
	unsigned int q;

	stats_snapshot(n);
	for (q = 0; q < NETVSP_MAX_QUEUES; q++) {
		struct netvsp_stats s = n->past[q];
		uint64_t bad;

		stats_add(&s, &n->last[q]);
		if (!n->seen[q] && !s.tx_frames && !s.rx_frames && !s.ctrl_msgs)
			continue;
		bad = s.bad_short + s.bad_type + s.bad_state + s.bad_version + s.bad_section +
		      s.bad_range + s.bad_gpadl + s.bad_completion + s.bad_ctrl + s.ring_errors;
		host_err("nic%u channel %u: guest->host %" PRIu64 " frames %" PRIu64
			 " bytes (dropped: rejected %" PRIu64 ", backend %" PRIu64 "); "
			 "host->guest %" PRIu64 " frames %" PRIu64 " bytes, backlogged %" PRIu64
			 " (dropped: backlog full %" PRIu64 ", filtered %" PRIu64
			 ", too big %" PRIu64 ", not ready %" PRIu64 ", error %" PRIu64
			 "); bad guest input %" PRIu64,
			 n->index, q, s.tx_frames, s.tx_bytes, s.tx_rejected, s.tx_backend_errors,
			 s.rx_frames, s.rx_bytes, s.rx_backlogged, s.rx_drop_backlog,
			 s.rx_drop_filtered, s.rx_drop_too_big, s.rx_drop_not_ready,
			 s.rx_drop_error, bad);
	}
	for (q = 0; q < n->queues; q++) {
		struct netvsp_nic_stats b;

		if (netvsp_nic_get_stats(n->nic, q, &b))
			continue;
		host_err("nic%u backend queue %u: sent %" PRIu64 " frames %" PRIu64
			 " bytes (dropped: invalid %" PRIu64 ", full %" PRIu64 ", error %" PRIu64
			 "); received %" PRIu64 " frames %" PRIu64 " bytes (dropped: invalid %"
			 PRIu64 ", oversize %" PRIu64 ", error %" PRIu64 ")",
			 n->index, q, b.tx_frames, b.tx_bytes, b.tx_drop_invalid, b.tx_drop_full,
			 b.tx_drop_error, b.rx_frames, b.rx_bytes, b.rx_drop_invalid,
			 b.rx_drop_oversize, b.rx_drop_error);
	}
}

/* ---- Host to guest ---------------------------------------------------------------- */

static int frame_rx(void *opaque, unsigned int q, const void *frame, size_t len,
		    const struct netvsp_nic_rx_info *info)
{
	struct host_nic *n = opaque;
	struct rndis_rx_info ri;

	(void)q;
	/* A full backlog: leave the frame in the backend until the guest
	 * returns receive buffers, rather than drop it here. */
	if (netvsp_rx_backlog(n->nv) >= NETVSP_DEFAULT_RX_BACKLOG) {
		n->rx_blocked = true;
		return 1;
	}
	memset(&ri, 0, sizeof(ri));
	netvsp_nic_rx_info_to_rndis(info, frame, len, &ri);
	/* Drops are counted by netvsp, by reason. */
	netvsp_rx(n->nv, NETVSP_RX_QUEUE_AUTO, frame, len, &ri);
	return 0;
}

static bool guest_ready(struct host_nic *n)
{
	struct rndis_dev *rd = netvsp_rndis(n->nv);
	uint32_t sub = 0, count = 0, used = 0;

	netvsp_rx_buffer_info(n->nv, &sub, &count, &used);
	return count && rndis_dev_is_initialized(rd) && rndis_dev_packet_filter(rd);
}

/* Returns true when a queue may have more frames right away. */
static bool rx_poll(struct host_nic *n, unsigned int q)
{
	int ret = netvsp_nic_rx_poll(n->nic, q, RX_BUDGET, frame_rx, n);

	/* Failed reads are counted in the backend's stats (rx_drop_error)
	 * and retried; say so only once a device is gone. */
	if (ret == -ENETDOWN && !n->down_reported) {
		host_err("nic%u: the backend's device went away", n->index);
		n->down_reported = true;
	}
	if (ret < 0)
		return false;
	return ret == (int)RX_BUDGET && !n->rx_blocked;
}

/* ---- Poll hooks ------------------------------------------------------------------- */

static void set_timer(struct host_nic *n, bool on)
{
	struct itimerspec it = { 0 };

	if (n->timer_fd < 0 || on == n->timer_armed)
		return;
	if (on) {
		it.it_value.tv_nsec = POLL_NS;
		it.it_interval.tv_nsec = POLL_NS;
	}
	timerfd_settime(n->timer_fd, 0, &it, NULL);
	n->timer_armed = on;
}

static int nic_pollfds(void *dev, struct pollfd *fds, int max)
{
	struct host_nic *n = dev;
	unsigned int q;
	int k = 0;

	if (max < 2)
		return 0;
	fds[k++] = (struct pollfd){ .fd = n->wake_fd, .events = POLLIN };
	fds[k++] = (struct pollfd){ .fd = n->sig_fd, .events = POLLIN };
	set_timer(n, n->ready && n->polled && !n->rx_blocked);
	if (n->timer_armed && k < max)
		fds[k++] = (struct pollfd){ .fd = n->timer_fd, .events = POLLIN };
	for (q = 0; q < n->queues && k < max; q++)
		fds[k++] = (struct pollfd){
			.fd = n->ready && !n->rx_blocked ? n->rx_fd[q] : -1,
			.events = POLLIN,
		};
	return k;
}

static void drain_fd(int fd)
{
	uint64_t v;

	if (fd >= 0 && read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		host_err("nic: reading an event descriptor: %s", strerror(errno));
}

static void nic_poll(void *dev, const struct pollfd *fds, int nfds)
{
	struct host_nic *n = dev;
	bool more = false;
	unsigned int q;
	int i;

	for (i = 0; i < nfds; i++) {
		if (!(fds[i].revents & POLLIN))
			continue;
		if (fds[i].fd == n->sig_fd) {
			struct signalfd_siginfo si;

			if (read(n->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				for (q = 0; q < nnics; q++)
					if (all_nics[q])
						print_stats(all_nics[q]);
		} else if (fds[i].fd == n->wake_fd || fds[i].fd == n->timer_fd) {
			drain_fd(fds[i].fd);
		}
	}
	/* What the guest sent: NVSP, frames, completions of receive buffers. */
	for (q = 0; q < NETVSP_MAX_QUEUES; q++) {
		struct netvsp_channel *c;
		int ret;

		if (!n->kicked[q])
			continue;
		n->kicked[q] = false;
		c = netvsp_get_channel(n->nv, q);
		if (!c)
			continue;
		ret = netvsp_channel_process(c, CHAN_BUDGET);
		/* At the budget the ring stays masked: no signal will come. */
		if (ret == (int)CHAN_BUDGET) {
			n->kicked[q] = true;
			more = true;
		}
	}
	stage_flush_all(n);
	n->ready = guest_ready(n);
	if (n->rx_blocked && netvsp_rx_backlog(n->nv) < NETVSP_DEFAULT_RX_BACKLOG / 2)
		n->rx_blocked = false;
	if (n->ready && !n->rx_blocked)
		for (q = 0; q < n->queues; q++)
			if (rx_poll(n, q) && n->rx_fd[q] < 0)
				more = true;
	stats_snapshot(n);
	if (more) {
		uint64_t one = 1;

		if (write(n->wake_fd, &one, sizeof(one)) < 0)
			host_err("nic: waking the loop: %s", strerror(errno));
	}
}

/* ---- Setup ------------------------------------------------------------------------ */

/* The options that follow this --nic on the command line. */
static const char *nic_option(struct host *h, const char *arg, const struct dev_kind *opt)
{
	const char *val = NULL;
	unsigned int i;
	bool mine = false;

	for (i = 0; i < h->ndevs; i++) {
		const struct device *d = &h->devs[i];

		if (d->kind == &nic_kind) {
			if (mine)
				break;
			mine = d->arg == arg;
		} else if (mine && d->kind == opt) {
			val = d->arg;
		}
	}
	return val;
}

/* The backend spec with --queues and --capture folded in. */
static char *build_spec(struct host *h, const char *arg)
{
	const char *cap = nic_option(h, arg, &nic_capture_kind);
	const char *qs = nic_option(h, arg, &nic_queues_kind);
	size_t len = strlen(arg) + (cap ? strlen(cap) : 0) + (qs ? strlen(qs) : 0) + 32;
	char *s = malloc(len);

	if (!s)
		return NULL;
	if (!strncmp(arg, "dpdk=", 5)) {
		/* DPDK takes its own options first, each ending in a comma. */
		snprintf(s, len, "dpdk=%s%s%s%s%s%s", qs ? "queues=" : "", qs ? qs : "",
			 qs ? "," : "", cap ? "capture=" : "", cap ? cap : "", cap ? "," : "");
		strncat(s, arg + 5, len - strlen(s) - 1);
	} else {
		snprintf(s, len, "%s%s%s%s%s", arg, qs ? ",queues=" : "", qs ? qs : "",
			 cap ? ",capture=" : "", cap ? cap : "");
	}
	return s;
}

static void nic_free(void *dev)
{
	struct host_nic *n = dev;
	unsigned int q;

	if (!n)
		return;
	if (n->nv && n->nic)
		print_stats(n);
	/* The NIC goes before the server (netvsp_destroy withdraws its
	 * offers); the host frees the link after its devices. */
	netvsp_destroy(n->nv);
	netvsp_nic_close(n->nic);
	for (q = 0; q < NETVSP_NIC_MAX_QUEUES; q++)
		free(n->stage[q].buf);
	if (n->timer_fd >= 0)
		close(n->timer_fd);
	if (n->wake_fd >= 0)
		close(n->wake_fd);
	for (q = 0; q < nnics; q++)
		if (all_nics[q] == n) {
			all_nics[q] = NULL;
			nlive--;
		}
	if (!nlive && usr1_fd >= 0) {
		close(usr1_fd);
		usr1_fd = -1;
	}
	free(n->spec);
	free(n);
}

static int open_fds(struct host_nic *n)
{
	sigset_t set;

	n->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (n->wake_fd < 0)
		return -errno;
	if (n->polled) {
		n->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (n->timer_fd < 0)
			return -errno;
	}
	if (usr1_fd < 0) {
		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		if (sigprocmask(SIG_BLOCK, &set, NULL))
			return -errno;
		usr1_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
		if (usr1_fd < 0)
			return -errno;
	}
	n->sig_fd = usr1_fd;
	return 0;
}

static void make_mac(struct host_nic *n, uint8_t mac[6])
{
	uint32_t r = (uint32_t)getpid() * 2654435761u + n->index * 40503u;

	if (!netvsp_nic_mac(n->nic, mac))
		return;
	/* Hyper-V's OUI, as a Hyper-V host would hand out. */
	mac[0] = 0x00;
	mac[1] = 0x15;
	mac[2] = 0x5d;
	mac[3] = (uint8_t)(r >> 16);
	mac[4] = (uint8_t)(r >> 8);
	mac[5] = (uint8_t)(r + n->index);
}

static int nic_add(struct host *h, const char *arg, void **dev)
{
	struct netvsp_server_config sc = { 0 };
	struct netvsp_config cfg;
	struct host_nic *n;
	unsigned int q;
	int ret;

	if (nnics == MAX_DEVICES)
		return -ENOSPC;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->h = h;
	n->index = nnics;
	n->timer_fd = n->wake_fd = n->sig_fd = -1;
	n->spec = build_spec(h, arg);
	if (!n->spec) {
		free(n);
		return -ENOMEM;
	}
	ret = netvsp_nic_open(n->spec, &h->log, &n->nic);
	if (ret) {
		if (ret == -ENOTSUP)
			host_err("--nic %s: that backend is not built in", n->spec);
		else if (ret == -EPERM || ret == -EACCES)
			host_err("--nic %s: not allowed (creating a TAP device needs CAP_NET_ADMIN)",
				 n->spec);
		else if (ret != -EINVAL)
			host_err("--nic %s: %s", n->spec, strerror(-ret));
		else
			host_err("--nic %s: bad device spec (see --help)", n->spec);
		goto fail;
	}
	n->queues = netvsp_nic_queues(n->nic);
	for (q = 0; q < n->queues; q++) {
		n->rx_fd[q] = netvsp_nic_rx_fd(n->nic, q);
		if (n->rx_fd[q] < 0) {
			n->rx_fd[q] = -1;
			n->polled = true;
		}
		n->stage[q].buf = malloc((size_t)STAGE_FRAMES * STAGE_MAX);
		if (!n->stage[q].buf) {
			ret = -ENOMEM;
			goto fail;
		}
	}
	ret = open_fds(n);
	if (ret) {
		host_err("--nic: %s", strerror(-ret));
		goto fail;
	}
	memset(&cfg, 0, sizeof(cfg));
	make_mac(n, cfg.rndis.mac);
	cfg.rndis.offloads = RNDIS_OFFLOAD_ALL;	/* nic.c does what the device cannot */
	cfg.rndis.max_queues = (uint16_t)n->queues;
	cfg.rndis.friendly_name = "vmbus-host NIC";
	cfg.rndis.log = h->log;
	cfg.frames.tx = frame_tx;
	cfg.frames.ctx = n;
	cfg.map = vmbus_link_host_gpa_map(h->link);
	cfg.log = h->log;
	ret = netvsp_create(&cfg, &n->nv);
	if (ret) {
		host_err("--nic: cannot create the NIC: %s", strerror(-ret));
		goto fail;
	}
	/* Instance 6e657476-7370-4000-8000-0000000000NN: "netvsp", index. */
	sc.instance = (struct vmbus_guid)VMBUS_GUID_INIT(0x6e657476u, 0x7370u, 0x4000u,
							 0x8000u, (uint64_t)n->index);
	sc.kick = kick;
	sc.kick_ctx = n;
	ret = netvsp_server_attach(n->nv, vmbus_link_host_server(h->link), &sc);
	if (ret) {
		host_err("--nic: cannot offer the NIC: %s", strerror(-ret));
		goto fail;
	}
	netvsp_set_link(n->nv, true);
	all_nics[nnics++] = n;
	nlive++;
	if (h->verbose)
		host_err("nic%u: %s, %u queue%s, MAC %02x:%02x:%02x:%02x:%02x:%02x", n->index,
			 n->spec, n->queues, n->queues == 1 ? "" : "s", cfg.rndis.mac[0],
			 cfg.rndis.mac[1], cfg.rndis.mac[2], cfg.rndis.mac[3], cfg.rndis.mac[4],
			 cfg.rndis.mac[5]);
	*dev = n;
	return 0;
fail:
	nic_free(n);
	return ret;
}

const struct dev_kind nic_kind = {
	.option = "--nic",
	.arg = "SPEC",
	.help = "offer a synthetic NIC (netvsp) on backend SPEC:\n"
		"\t\t\t  tap=NAME[,up][,offload=0|1]   a TAP device\n"
		"\t\t\t  dpdk=[port=N,]EAL-ARGS        a DPDK port (EAL args\n"
		"\t\t\t      split at \",-\" or at spaces)\n"
		"\t\t\t  pcap=IN.pcap[,out=OUT.pcap]   replay IN to the guest,\n"
		"\t\t\t      record what it sends in OUT\n"
		"\t\t\t  pcap=live:IFNAME              a host interface (libpcap)\n"
		"\t\t\t  null                          drop what the guest sends\n"
		"\t\t\tany of them may end in ,queues=N and ,capture=FILE;\n"
		"\t\t\tSIGUSR1 prints the NIC's counters",
	.add = nic_add,
	.pollfds = nic_pollfds,
	.poll = nic_poll,
	.free = nic_free,
};

/* --capture and --queues only qualify the --nic before them; nic_add reads
 * them from the device list, so they add nothing themselves. */
static int nic_opt_add(struct host *h, const char *arg, void **dev)
{
	bool after_nic = false;
	unsigned int i;

	*dev = NULL;
	for (i = 0; i < h->ndevs; i++) {
		if (h->devs[i].kind == &nic_kind)
			after_nic = true;
		else if (h->devs[i].arg == arg)
			break;
	}
	if (after_nic)
		return 0;
	host_err("--capture and --queues belong after a --nic");
	return -EINVAL;
}

static void nic_opt_free(void *dev)
{
	(void)dev;
}

const struct dev_kind nic_capture_kind = {
	.option = "--capture",
	.arg = "FILE",
	.help = "record every frame of the --nic before it in FILE\n"
		"\t\t\t(pcapng if FILE ends in .pcapng, else pcap)",
	.add = nic_opt_add,
	.free = nic_opt_free,
};

const struct dev_kind nic_queues_kind = {
	.option = "--queues",
	.arg = "N",
	.help = "queue pairs (VMBus subchannels) of the --nic before it",
	.add = nic_opt_add,
	.free = nic_opt_free,
};
