// SPDX-License-Identifier: MIT
/*
 * bench-net: frames per second from a guest to a DPDK port through the
 * whole synthetic-NIC stack, against DPDK alone.
 *
 *   guest thread: netvsc (<vmbus/netvsc.h>, brought up by
 *     examples/netvsc_link.c) on the loop link, sending 64- and 1500-byte
 *     frames from send-buffer sections as fast as it can, one doorbell
 *     per batch;
 *   host thread: the bus server and netvsp (<vmbus/netvsp.h>), polled;
 *     frames are staged per batch and handed to the NIC library
 *     (vsp/netvsp/nic.h) on DPDK's net_null PMD, one queue.
 *
 * The baseline, measured in the same run on a second net_null port: the
 * same frames copied into mbufs and sent with rte_eth_tx_burst in bursts
 * of the size the stack hands the NIC (NETVSP_NIC_BURST). Each case runs
 * for a fixed time (--seconds, default 2). One JSON object per line:
 * case, value, unit, baseline, ratio (value / baseline). The TCP part
 * (iperf3 through vmbus-host and vmbus-guest against a veth pair) is
 * bench_net.sh, which needs root.
 *
 * Formats: include/vmbus/proto/nvsp.h, rndis.h; the DPDK 22.11 ethdev and
 * mbuf API.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <vmbus/link.h>
#include <vmbus/netvsc.h>
#include <vmbus/netvsp.h>

#include "netvsc_link.h"
#include "nic.h"

#define BURST		NETVSP_NIC_BURST
#define STAGE_MAX	2048u
/* Frames the guest sends per doorbell. */
#define GUEST_BATCH	64u
/* net_null0 carries the stack, net_null1 the baseline. */
#define NIC_SPEC	"dpdk=port=0,--no-huge,--no-pci,--no-shconf,-m256,-l0," \
			"--no-telemetry,--log-level=lib.eal:error,--vdev=net_null0,--vdev=net_null1"
#define BASE_PORT	1

static double seconds = 2.0;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench-net: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static void emit(const char *name, double value, const char *unit, double baseline)
{
	printf("{\"case\": \"%s\", \"value\": %.1f, \"unit\": \"%s\", "
	       "\"baseline\": %.1f, \"ratio\": %.3f}\n",
	       name, value, unit, baseline, baseline > 0 ? value / baseline : 0.0);
	fflush(stdout);
}

static void make_frame(uint8_t *f, size_t len)
{
	size_t i;

	memset(f, 0xff, 6);
	memcpy(f + 6, "\x00\x15\x5d\x00\x00\x01", 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	for (i = 14; i < len; i++)
		f[i] = (uint8_t)i;
}

/* ---- Baseline: DPDK alone ----------------------------------------------------------- */

static struct rte_mempool *pool;

static void base_setup(void)
{
	struct rte_eth_conf conf;
	int ret;

	pool = rte_pktmbuf_pool_create("bench_net", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       (int)rte_socket_id());
	if (!pool)
		die("mbuf pool", rte_errno);
	memset(&conf, 0, sizeof(conf));
	ret = rte_eth_dev_configure(BASE_PORT, 1, 1, &conf);
	if (!ret)
		ret = rte_eth_rx_queue_setup(BASE_PORT, 0, 512, (unsigned int)rte_socket_id(),
					     NULL, pool);
	if (!ret)
		ret = rte_eth_tx_queue_setup(BASE_PORT, 0, 512, (unsigned int)rte_socket_id(),
					     NULL);
	if (!ret)
		ret = rte_eth_dev_start(BASE_PORT);
	if (ret)
		die("baseline port", ret);
}

/* What the NIC library does per frame, minus the stack: an mbuf, a copy,
 * a burst. */
static double base_pps(size_t len)
{
	struct rte_mbuf *m[BURST];
	uint8_t frame[1514];
	uint64_t sent = 0;
	double t0, t;
	unsigned int i;

	make_frame(frame, len);
	t0 = now_s();
	do {
		for (unsigned int rep = 0; rep < 64; rep++) {
			uint16_t ok, k = 0;

			if (rte_pktmbuf_alloc_bulk(pool, m, BURST))
				die("mbuf alloc", ENOMEM);
			for (i = 0; i < BURST; i++)
				memcpy(rte_pktmbuf_append(m[i], (uint16_t)len), frame, len);
			while (k < BURST) {
				ok = rte_eth_tx_burst(BASE_PORT, 0, m + k, (uint16_t)(BURST - k));
				k = (uint16_t)(k + ok);
			}
			sent += BURST;
		}
		t = now_s();
	} while (t - t0 < seconds);
	return (double)sent / (t - t0);
}

/* ---- Host thread ---------------------------------------------------------------------- */

struct host_side {
	struct vmbus_link_host *h;
	struct netvsp *nv;
	struct netvsp_nic *nic;
	struct netvsp_nic_frame f[BURST];
	struct iovec iov[BURST];
	uint8_t *stage;
	unsigned int n;
	atomic_bool stop;
};

static void flush(struct host_side *hs)
{
	if (hs->n)
		netvsp_nic_tx(hs->nic, 0, hs->f, hs->n);
	hs->n = 0;
}

static int frame_tx(void *ctx, unsigned int queue, const struct iovec *iov,
		    unsigned int iovcnt, size_t len, const struct rndis_tx_packet *pkt)
{
	struct host_side *hs = ctx;
	struct netvsp_nic_frame *f = &hs->f[hs->n];
	uint8_t *dst = hs->stage + (size_t)hs->n * STAGE_MAX;
	size_t off = 0;
	unsigned int i;

	(void)queue;
	if (len > STAGE_MAX)
		return -EMSGSIZE;
	for (i = 0; i < iovcnt && off < len; i++) {
		size_t c = iov[i].iov_len < len - off ? iov[i].iov_len : len - off;

		memcpy(dst + off, iov[i].iov_base, c);
		off += c;
	}
	memset(f, 0, sizeof(*f));
	netvsp_nic_offload_from_rndis(pkt, &f->ol);
	hs->iov[hs->n] = (struct iovec){ dst, off };
	f->iov = &hs->iov[hs->n];
	f->iovcnt = 1;
	f->len = off;
	if (++hs->n == BURST)
		flush(hs);
	return 0;
}

/*
 * The EAL pinned the main thread (the guest) to lcore 0 and new threads
 * inherit that: give the host the other CPUs, or the two would take turns
 * on one.
 */
static void pin_away_from_main(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;
	long i;

	if (n < 2)
		return;
	CPU_ZERO(&set);
	for (i = 1; i < n && i < CPU_SETSIZE; i++)
		CPU_SET(i, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *host_thread(void *arg)
{
	struct host_side *hs = arg;
	unsigned int turns = 0;

	/* An lcore id gives the mbuf pool its per-thread cache. */
	if (rte_thread_register())
		fprintf(stderr, "bench-net: warning: rte_thread_register failed\n");
	pin_away_from_main();
	pthread_setname_np(pthread_self(), "bench-net-host");
	while (!atomic_load_explicit(&hs->stop, memory_order_relaxed)) {
		struct netvsp_channel *c;

		int n = 0;

		/* Polled: the bus (a system call) only when the channel is
		 * idle, or now and then; the data path needs no doorbells. */
		c = netvsp_get_channel(hs->nv, 0);
		if (c) {
			n = netvsp_channel_process(c, 256);
			if (n < 0)
				die("netvsp", EIO);
		}
		flush(hs);
		if (!n || ++turns % 64 == 0) {
			if (vmbus_link_host_process(hs->h) < 0)
				die("host process", EIO);
		}
	}
	rte_thread_unregister();
	return NULL;
}

/* The glue processes from our loop, so a kick needs no action. */
static void kick(void *ctx, struct netvsp_channel *c)
{
	(void)ctx;
	(void)c;
}

/* ---- Guest side ------------------------------------------------------------------------ */

static struct vmbus_msg_offer offers[64];
static unsigned int noffers;

static void ev_offer(void *ctx, const struct vmbus_msg_offer *o)
{
	(void)ctx;
	if (noffers < 64)
		offers[noffers++] = *o;
}

static const struct vmbus_client_events client_events = { .offer = ev_offer };

/* Send len-byte frames for the configured time. Returns frames the NIC
 * sent per second. */
static double stack_pps(struct host_side *hs, struct netvsc_link *nl, size_t len)
{
	struct netvsc *nv = netvsc_link_nic(nl);
	struct vmbus_channel *ch = netvsc_link_channel(nl, 0);
	struct netvsp_nic_stats s0, s1;
	uint8_t frame[1514];
	double t0, t;
	int ret;

	make_frame(frame, len);
	netvsp_nic_get_stats(hs->nic, 0, &s0);
	t0 = now_s();
	do {
		for (unsigned int rep = 0; rep < 64; rep++) {
			unsigned int i;

			vmbus_channel_send_batch_begin(ch);
			for (i = 0; i < GUEST_BATCH; i++) {
				ret = netvsc_send(nv, 0, frame, (uint32_t)len, NULL);
				if (ret == -EAGAIN)
					break;
				if (ret)
					die("netvsc_send", ret);
			}
			vmbus_channel_send_batch_end(ch);
			/* Completions free the sections. */
			if (netvsc_process(nv, 0, 0) < 0)
				die("netvsc_process", EIO);
		}
		t = now_s();
	} while (t - t0 < seconds);
	/* What is still in flight (a few hundred frames at most) is not
	 * counted. */
	netvsp_nic_get_stats(hs->nic, 0, &s1);
	if (getenv("BENCH_NET_VERBOSE")) {
		struct netvsc_stats gs;
		struct vmbus_channel_stats cs;

		netvsc_get_stats(nv, &gs);
		vmbus_channel_get_stats(ch, &cs);
		fprintf(stderr, "bench-net: %zu bytes: guest sent %llu (failed %llu), "
			"rang %llu doorbells\n", len, (unsigned long long)gs.tx_frames,
			(unsigned long long)gs.tx_failed, (unsigned long long)cs.signals);
	}
	return (double)(s1.tx_frames - s0.tx_frames) / (t - t0);
}

int main(int argc, char **argv)
{
	struct vmbus_link_host_config hcfg = { .ram_size = 64u << 20 };
	struct vmbus_link_guest_config gcfg = { .events = &client_events };
	struct netvsp_server_config sc = { 0 };
	struct netvsc_link_config lc = { 0 };
	struct host_side hs = { 0 };
	struct netvsp_config nc;
	struct vmbus_link_guest *g;
	struct netvsc_link *nl;
	const size_t sizes[] = { 64, 1500 };
	double base[2];
	pthread_t t;
	unsigned int i;
	int ret;

	if (argc == 3 && !strcmp(argv[1], "--seconds"))
		seconds = atof(argv[2]);
	if (seconds <= 0 || (argc != 1 && argc != 3)) {
		fprintf(stderr, "usage: bench-net [--seconds S]\n");
		return 2;
	}
	ret = netvsp_nic_open(NIC_SPEC, NULL, &hs.nic);
	if (ret)
		die("opening DPDK net_null (" NIC_SPEC ")", ret);
	base_setup();
	for (i = 0; i < 2; i++)
		base[i] = base_pps(sizes[i]);

	hs.stage = malloc((size_t)BURST * STAGE_MAX);
	if (!hs.stage)
		die("stage", ENOMEM);
	ret = vmbus_link_loop_host_new(&hcfg, &hs.h);
	if (ret)
		die("loop host", ret);
	memset(&nc, 0, sizeof(nc));
	memcpy(nc.rndis.mac, "\x00\x15\x5d\x00\x00\x02", 6);
	nc.rndis.offloads = RNDIS_OFFLOAD_ALL;
	nc.frames.tx = frame_tx;
	nc.frames.ctx = &hs;
	nc.map = vmbus_link_host_gpa_map(hs.h);
	ret = netvsp_create(&nc, &hs.nv);
	if (ret)
		die("netvsp", ret);
	sc.instance.b[0] = 0x42;
	sc.kick = kick;
	ret = netvsp_server_attach(hs.nv, vmbus_link_host_server(hs.h), &sc);
	if (ret)
		die("netvsp attach", ret);
	if (pthread_create(&t, NULL, host_thread, &hs))
		die("pthread_create", EAGAIN);

	ret = vmbus_link_loop_guest_new(hs.h, &gcfg, &g);
	if (!ret)
		ret = vmbus_link_guest_connect(g, 5000);
	if (ret)
		die("guest", ret);
	lc.offers = offers;
	lc.noffers = &noffers;
	for (i = 0; i < noffers; i++)
		if (offers[i].sub_channel_index == 0)
			lc.relid = offers[i].child_relid;
	lc.timeout_ms = 5000;
	ret = netvsc_link_open(g, &lc, &nl);
	if (ret)
		die("netvsc bring-up", ret);

	for (i = 0; i < 2; i++) {
		char name[64];
		double v = stack_pps(&hs, nl, sizes[i]);

		snprintf(name, sizeof(name), "netvsc_to_dpdk_null_%zu_bytes_1_queue", sizes[i]);
		emit(name, v, "packets/s", base[i]);
	}

	netvsc_link_close(nl, 5000);
	vmbus_link_guest_unload(g, 5000);
	vmbus_link_guest_free(g);
	atomic_store(&hs.stop, true);
	pthread_join(t, NULL);
	netvsp_destroy(hs.nv);
	vmbus_link_host_free(hs.h);
	netvsp_nic_close(hs.nic);
	rte_eth_dev_stop(BASE_PORT);
	free(hs.stage);
	return 0;
}
