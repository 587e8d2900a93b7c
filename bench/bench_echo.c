// SPDX-License-Identifier: MIT
/*
 * bench-echo: VMBus round trips through the echo device
 * (examples/echo_dev.c) over the two links of include/vmbus/link.h:
 *
 *  - loop: guest on the main thread, host on a second thread;
 *  - shm:  guest in this process, host in a forked child.
 *
 * For each link and payload size (64 and 1500 bytes): round-trip latency
 * (one packet in flight; median and p99, µs) and throughput (32 in
 * flight, packets/s). Baselines, measured in the same run between the
 * same two threads or processes: an eventfd ping-pong waited on with
 * poll() for latency (the wake-up the links use, without VMBus), and a
 * SOCK_SEQPACKET socketpair echo of the same payload with the same window
 * for throughput. One JSON object per line: case, value, unit, baseline,
 * ratio (value / baseline).
 *
 * Packet formats: include/vmbus/proto/vmbus.h.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vmbus/link.h>

#include "echo_dev.h"

#define RTT_COUNT	5000
#define RTT_WARMUP	500
#define PPS_COUNT	50000
#define WINDOW		32
#define TMO		5000

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench-echo: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sort in place; *median and *p99 of n samples. */
static void stats(double *v, unsigned int n, double *median, double *p99)
{
	qsort(v, n, sizeof(*v), cmp_double);
	*median = v[n / 2];
	*p99 = v[(n * 99) / 100];
}

static void emit(const char *name, double value, const char *unit, double baseline)
{
	printf("{\"case\": \"%s\", \"value\": %.3f, \"unit\": \"%s\", "
	       "\"baseline\": %.3f, \"ratio\": %.3f}\n",
	       name, value, unit, baseline, baseline > 0 ? value / baseline : 0.0);
	fflush(stdout);
}

/* ---- Baselines: the peer side (a thread or a child process) --------------------- */

static void efd_wait(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v;

	for (;;) {
		if (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
			return;
		poll(&p, 1, -1);
	}
}

static void efd_ring(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0)
		die("eventfd write", errno);
}

struct peer {
	int ping, pong;		/* eventfds, non-blocking */
	int sock;		/* socketpair end */
};

/* Answer every ping with a pong, then echo every datagram until EOF. */
static void peer_run(const struct peer *p)
{
	char buf[2048];
	unsigned int i;
	ssize_t n;

	for (i = 0; i < 2 * (RTT_COUNT + RTT_WARMUP); i++) {
		efd_wait(p->ping);
		efd_ring(p->pong);
	}
	while ((n = recv(p->sock, buf, sizeof(buf), 0)) > 0)
		if (send(p->sock, buf, (size_t)n, 0) != n)
			break;
}

static void *peer_thread(void *arg)
{
	peer_run(arg);
	return NULL;
}

static double baseline_rtt(const struct peer *p, double *p99)
{
	double *v = malloc(sizeof(double) * RTT_COUNT), median;
	unsigned int i;

	for (i = 0; i < RTT_COUNT + RTT_WARMUP; i++) {
		double t0 = now_us();

		efd_ring(p->ping);
		efd_wait(p->pong);
		if (i >= RTT_WARMUP)
			v[i - RTT_WARMUP] = now_us() - t0;
	}
	stats(v, RTT_COUNT, &median, p99);
	free(v);
	return median;
}

static double baseline_pps(int sock, size_t len)
{
	char buf[2048] = { 0 };
	unsigned int sent = 0, got = 0;
	double t0 = now_us();

	while (got < PPS_COUNT) {
		while (sent < PPS_COUNT && sent - got < WINDOW) {
			if (send(sock, buf, len, 0) != (ssize_t)len)
				die("socketpair send", errno);
			sent++;
		}
		if (recv(sock, buf, sizeof(buf), 0) != (ssize_t)len)
			die("socketpair recv", errno);
		got++;
	}
	return PPS_COUNT / ((now_us() - t0) / 1e6);
}

struct baseline {
	double rtt_median[2], rtt_p99[2], pps[2];	/* [0] 64 B, [1] 1500 B */
};

static const size_t sizes[2] = { 64, 1500 };

/* Measure both baselines against a peer thread (@process false) or a
 * forked peer process. */
static void measure_baselines(bool process, struct baseline *b)
{
	struct peer p;
	int sv[2], s;
	pthread_t t;
	pid_t pid = 0;

	p.ping = eventfd(0, EFD_NONBLOCK);
	p.pong = eventfd(0, EFD_NONBLOCK);
	if (p.ping < 0 || p.pong < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv))
		die("baseline set-up", errno);
	p.sock = sv[1];
	if (process) {
		pid = fork();
		if (pid < 0)
			die("fork", errno);
		if (pid == 0) {
			close(sv[0]);
			peer_run(&p);
			_exit(0);
		}
	} else if (pthread_create(&t, NULL, peer_thread, &p)) {
		die("pthread_create", EAGAIN);
	}
	for (s = 0; s < 2; s++)
		b->rtt_median[s] = baseline_rtt(&p, &b->rtt_p99[s]);
	for (s = 0; s < 2; s++)
		b->pps[s] = baseline_pps(sv[0], sizes[s]);
	shutdown(sv[0], SHUT_RDWR);
	if (process)
		waitpid(pid, NULL, 0);
	else
		pthread_join(t, NULL);
	close(sv[0]);
	close(sv[1]);
	close(p.ping);
	close(p.pong);
}

/* ---- The host side ------------------------------------------------------------------ */

/* Serve until @stop_fd is readable or hung up. */
static void host_loop(struct vmbus_link_host *h, int stop_fd)
{
	struct pollfd p[2] = {
		{ .fd = vmbus_link_host_fd(h), .events = POLLIN },
		{ .fd = stop_fd, .events = POLLIN },
	};

	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			die("poll", errno);
		if (p[1].revents)
			return;
		if (vmbus_link_host_process(h) < 0)
			die("host process", EIO);
	}
}

struct loop_host_arg {
	struct vmbus_link_host *h;
	int stop_fd;
};

static void *loop_host_thread(void *arg)
{
	struct loop_host_arg *a = arg;

	host_loop(a->h, a->stop_fd);
	return NULL;
}

/* ---- The guest side ------------------------------------------------------------------ */

static uint32_t echo_relid;

static void ev_offer(void *ctx, const struct vmbus_msg_offer *o)
{
	const struct vmbus_guid echo = ECHO_DEV_CLASS;

	(void)ctx;
	if (!echo_relid && !memcmp(&o->if_type, &echo, sizeof(echo)))
		echo_relid = o->child_relid;
}

static const struct vmbus_client_events events = { .offer = ev_offer };

static const struct vmbus_link_guest_config guest_cfg = { .events = &events };

/* Receive one completion, waiting for the host's interrupt if needed. */
static void recv_one(struct vmbus_link_guest *g, struct vmbus_channel *ch,
		     uint8_t *buf, size_t len)
{
	struct vmbus_channel_packet pkt;
	int ret;

	while ((ret = vmbus_channel_recv_next(ch, buf, len, &pkt)) == 0)
		if (vmbus_link_guest_wait(g, TMO) < 0)
			die("guest wait", ECONNRESET);
	if (ret < 0 || pkt.type != VM_PKT_COMP)
		die("echo receive", ret < 0 ? ret : EPROTO);
}

static unsigned int rtt_full;

static double vmbus_rtt(struct vmbus_link_guest *g, struct vmbus_channel *ch,
			size_t len, double *p99)
{
	double *v = malloc(sizeof(double) * RTT_COUNT), median;
	uint8_t tx[2048] = { 0 }, rx[4096];
	unsigned int i;
	int ret;

	for (i = 0; i < RTT_COUNT + RTT_WARMUP; i++) {
		double t0 = now_us();

		/* The host publishes its read index just after replying, so
		 * a send may still find the ring full: wait for its signal. */
		while ((ret = vmbus_channel_send_request(ch, tx, len, NULL, NULL)) == -EAGAIN) {
			rtt_full++;
			if (vmbus_link_guest_wait(g, TMO) < 0)
				die("guest wait", ECONNRESET);
		}
		if (ret)
			die("echo send", ret);
		recv_one(g, ch, rx, sizeof(rx));
		vmbus_channel_recv_end(ch);
		if (i >= RTT_WARMUP)
			v[i - RTT_WARMUP] = now_us() - t0;
	}
	stats(v, RTT_COUNT, &median, p99);
	free(v);
	if (getenv("BENCH_DEBUG"))
		fprintf(stderr, "rtt: %u sends found the ring full\n", rtt_full);
	return median;
}

static double vmbus_pps(struct vmbus_link_guest *g, struct vmbus_channel *ch,
			size_t len)
{
	uint8_t tx[2048] = { 0 }, rx[4096];
	struct vmbus_channel_packet pkt;
	unsigned int sent = 0, got = 0;
	double t0 = now_us();
	int ret;

	while (got < PPS_COUNT) {
		bool progress = false;

		while (sent < PPS_COUNT && sent - got < WINDOW) {
			ret = vmbus_channel_send_request(ch, tx, len, NULL, NULL);
			if (ret == -EAGAIN)
				break;
			if (ret)
				die("echo send", ret);
			sent++;
			progress = true;
		}
		while ((ret = vmbus_channel_recv_next(ch, rx, sizeof(rx), &pkt)) == 1) {
			got++;
			progress = true;
		}
		if (ret < 0)
			die("echo receive", ret);
		vmbus_channel_recv_end(ch);
		if (!progress && vmbus_link_guest_wait(g, TMO) < 0)
			die("guest wait", ECONNRESET);
	}
	return PPS_COUNT / ((now_us() - t0) / 1e6);
}

static void run_guest(struct vmbus_link_guest *g, const char *link,
		      const struct baseline *b)
{
	struct vmbus_link_guest_open op = { .ring_pages = 16, .max_requests = WINDOW };
	struct vmbus_link_guest_channel *gc;
	struct vmbus_channel *ch;
	char name[64];
	double median, p99;
	int ret, s;

	echo_relid = 0;
	ret = vmbus_link_guest_connect(g, TMO);
	if (ret)
		die("connect", ret);
	if (!echo_relid)
		die("no echo offer", ENODEV);
	ret = vmbus_link_guest_channel_open(g, echo_relid, &op, TMO, &gc);
	if (ret)
		die("open", ret);
	ch = vmbus_link_guest_channel_end(gc);
	for (s = 0; s < 2; s++) {
		median = vmbus_rtt(g, ch, sizes[s], &p99);
		snprintf(name, sizeof(name), "%s_rtt_median_%zu", link, sizes[s]);
		emit(name, median, "us", b->rtt_median[s]);
		snprintf(name, sizeof(name), "%s_rtt_p99_%zu", link, sizes[s]);
		emit(name, p99, "us", b->rtt_p99[s]);
	}
	for (s = 0; s < 2; s++) {
		snprintf(name, sizeof(name), "%s_pps_%zu", link, sizes[s]);
		emit(name, vmbus_pps(g, ch, sizes[s]), "packets/s", b->pps[s]);
	}
	ret = vmbus_link_guest_channel_close(gc, TMO);
	if (!ret)
		ret = vmbus_link_guest_unload(g, TMO);
	if (ret)
		die("close", ret);
}

static void bench_loop(void)
{
	struct vmbus_link_host_config cfg = { .ram_size = 16u << 20 };
	struct loop_host_arg a;
	struct vmbus_link_guest *g;
	struct echo_dev *dev;
	struct baseline b;
	pthread_t t;
	int stop = eventfd(0, EFD_NONBLOCK), ret;

	measure_baselines(false, &b);
	ret = vmbus_link_loop_host_new(&cfg, &a.h);
	if (ret)
		die("loop host", ret);
	ret = echo_dev_new(vmbus_link_host_server(a.h), 0, NULL, &dev);
	if (ret)
		die("echo device", ret);
	a.stop_fd = stop;
	if (pthread_create(&t, NULL, loop_host_thread, &a))
		die("pthread_create", EAGAIN);
	ret = vmbus_link_loop_guest_new(a.h, &guest_cfg, &g);
	if (ret)
		die("loop guest", ret);
	run_guest(g, "loop", &b);
	vmbus_link_guest_free(g);
	efd_ring(stop);
	pthread_join(t, NULL);
	echo_dev_free(dev);
	vmbus_link_host_free(a.h);
	close(stop);
}

static void bench_shm(void)
{
	struct vmbus_link_host_config cfg = { .ram_size = 16u << 20 };
	char dir[] = "/tmp/bench-echo-XXXXXX", path[64];
	struct vmbus_link_guest *g = NULL;
	struct baseline b;
	int stop[2], ret, tries;
	pid_t pid;

	measure_baselines(true, &b);
	if (!mkdtemp(dir) || pipe(stop))
		die("set-up", errno);
	snprintf(path, sizeof(path), "%s/sock", dir);
	pid = fork();
	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		struct vmbus_link_host *h;
		struct echo_dev *dev;

		close(stop[1]);
		cfg.socket_path = path;
		ret = vmbus_link_shm_host_new(&cfg, &h);
		if (ret)
			die("shm host", ret);
		ret = echo_dev_new(vmbus_link_host_server(h), 0, NULL, &dev);
		if (ret)
			die("echo device", ret);
		host_loop(h, stop[0]);
		echo_dev_free(dev);
		vmbus_link_host_free(h);
		_exit(0);
	}
	close(stop[0]);
	for (tries = 0; tries < 500; tries++) {
		ret = vmbus_link_shm_guest_new(path, &guest_cfg, &g);
		if (ret != -ENOENT && ret != -ECONNREFUSED)
			break;
		usleep(2000);
	}
	if (ret)
		die("shm guest", ret);
	run_guest(g, "shm", &b);
	vmbus_link_guest_free(g);
	close(stop[1]);
	waitpid(pid, NULL, 0);
	rmdir(dir);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	bench_loop();
	bench_shm();
	return 0;
}
