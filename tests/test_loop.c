// SPDX-License-Identifier: MIT
/*
 * Tests for the loop link (include/vmbus/link.h, libvmbus/link/loop.c):
 * a host thread serving the echo device (examples/echo_dev.c) and the
 * test's own thread as the guest. Connect, offers, open, echo of many
 * sizes, hot add, hot remove (rescind, close, relid released and reused),
 * close, unload, reconnect, a guest that vanishes, and hostile hypercalls.
 *
 * Message and page formats: include/vmbus/proto/vmbus.h and tlfs.h.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <vmbus/link.h>
#include <vmbus/proto/tlfs.h>

#include "echo_dev.h"

#define TMO	5000	/* ms for any single blocking step */

static void log_stderr(void *opaque, int level, const char *fmt, va_list ap)
{
	(void)opaque;
	fprintf(stderr, "[%d] ", level);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static struct vmbus_log test_log(void)
{
	struct vmbus_log l = { 0 };

	if (getenv("VMBUS_TEST_LOG")) {
		l.fn = log_stderr;
		l.max_level = VMBUS_LOG_DEBUG;
	}
	return l;
}

/* ---- The host thread ---------------------------------------------------------- */

typedef void host_fn(void *arg);

static struct {
	struct vmbus_link_host *h;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int cmd_efd;
	host_fn *cmd;
	void *cmd_arg;
	bool stop;
	int arrived, left;
	struct echo_dev *dev[4];
} H = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void guest_event(void *ctx, enum vmbus_link_guest_event ev)
{
	(void)ctx;
	if (ev == VMBUS_LINK_GUEST_ARRIVED)
		H.arrived++;
	else
		H.left++;
}

static void *host_main(void *arg)
{
	struct pollfd pfd[2] = {
		{ .fd = vmbus_link_host_fd(H.h), .events = POLLIN },
		{ .fd = H.cmd_efd, .events = POLLIN },
	};

	(void)arg;
	for (;;) {
		uint64_t v;

		poll(pfd, 2, 100);
		ck_assert_int_ge(vmbus_link_host_process(H.h), 0);
		if (read(H.cmd_efd, &v, sizeof(v)) < 0)
			continue;
		pthread_mutex_lock(&H.lock);
		if (H.cmd) {
			/* Whatever the guest did before the call is handled
			 * first, as the caller expects. */
			ck_assert_int_ge(vmbus_link_host_process(H.h), 0);
			H.cmd(H.cmd_arg);
			H.cmd = NULL;
			pthread_cond_broadcast(&H.cond);
		}
		if (H.stop) {
			pthread_mutex_unlock(&H.lock);
			return NULL;
		}
		pthread_mutex_unlock(&H.lock);
	}
}

/* Run fn(arg) on the host thread and wait for it. */
static void host_call(host_fn *fn, void *arg)
{
	uint64_t one = 1;

	pthread_mutex_lock(&H.lock);
	H.cmd = fn;
	H.cmd_arg = arg;
	ck_assert_int_eq(write(H.cmd_efd, &one, sizeof(one)), sizeof(one));
	while (H.cmd)
		pthread_cond_wait(&H.cond, &H.lock);
	pthread_mutex_unlock(&H.lock);
}

static void nop(void *arg)
{
	(void)arg;
}

static void host_start(void)
{
	struct vmbus_link_host_config cfg = {
		.ram_size = 8u << 20,
		.guest_event = guest_event,
		.log = test_log(),
	};
	struct vmbus_log log = test_log();

	H.stop = false;
	H.arrived = H.left = 0;
	memset(H.dev, 0, sizeof(H.dev));
	H.cmd_efd = eventfd(0, EFD_NONBLOCK);
	ck_assert_int_ge(H.cmd_efd, 0);
	ck_assert_int_eq(vmbus_link_loop_host_new(&cfg, &H.h), 0);
	ck_assert_int_eq(echo_dev_new(vmbus_link_host_server(H.h), 0, &log, &H.dev[0]), 0);
	ck_assert_int_eq(pthread_create(&H.thread, NULL, host_main, NULL), 0);
}

static void set_stop(void *arg)
{
	(void)arg;
	H.stop = true;
}

static void host_stop(void)
{
	unsigned int i;

	host_call(set_stop, NULL);
	pthread_join(H.thread, NULL);
	for (i = 0; i < 4; i++)
		echo_dev_free(H.dev[i]);
	vmbus_link_host_free(H.h);
	close(H.cmd_efd);
}

/* ---- The guest side ------------------------------------------------------------ */

static struct {
	struct vmbus_msg_offer offers[16];
	unsigned int noffers;
	uint32_t rescinded[16];
	unsigned int nrescinds;
	unsigned int delivered;
} G;

static void ev_offer(void *ctx, const struct vmbus_msg_offer *o)
{
	(void)ctx;
	ck_assert_uint_lt(G.noffers, 16);
	G.offers[G.noffers++] = *o;
}

static void ev_delivered(void *ctx)
{
	(void)ctx;
	G.delivered++;
}

static void ev_rescind(void *ctx, uint32_t relid)
{
	(void)ctx;
	ck_assert_uint_lt(G.nrescinds, 16);
	G.rescinded[G.nrescinds++] = relid;
}

static const struct vmbus_client_events events = {
	.offer = ev_offer,
	.offers_delivered = ev_delivered,
	.rescind = ev_rescind,
};

static struct vmbus_link_guest *guest_new(void)
{
	struct vmbus_link_guest_config cfg = {
		.events = &events,
		.log = test_log(),
	};
	struct vmbus_link_guest *g;
	int ret, tries = 0;

	memset(&G, 0, sizeof(G));
	/* The host thread may still be resetting after a previous guest. */
	while ((ret = vmbus_link_loop_guest_new(H.h, &cfg, &g)) == -EBUSY && tries++ < 500)
		usleep(1000);
	ck_assert_int_eq(ret, 0);
	return g;
}

static const struct vmbus_guid echo_class = ECHO_DEV_CLASS;

/* The relid of the first echo offer seen from index @from. */
static uint32_t echo_relid(unsigned int from)
{
	unsigned int i;

	for (i = from; i < G.noffers; i++)
		if (!memcmp(&G.offers[i].if_type, &echo_class, sizeof(echo_class)))
			return G.offers[i].child_relid;
	return 0;
}

static void fill(uint8_t *p, uint32_t len, uint32_t seed)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

/* Send one request of @len bytes and check its echo. */
static void echo_one(struct vmbus_link_guest *g, struct vmbus_channel *ch,
		     uint8_t *tx, uint8_t *rx, size_t rxlen, uint32_t len,
		     uint32_t seed)
{
	struct vmbus_channel_packet pkt;
	uint64_t tid;
	int cookie, ret;

	fill(tx, len, seed);
	/* The host publishes its read index after replying, so a large
	 * packet may find the ring still full: wait for the host's signal
	 * (pending_send_sz asks for it) and try again. */
	while ((ret = vmbus_channel_send_request(ch, tx, len, &cookie, &tid)) == -EAGAIN)
		ck_assert_int_ge(vmbus_link_guest_wait(g, TMO), 0);
	ck_assert_int_eq(ret, 0);
	for (;;) {
		ret = vmbus_channel_recv_next(ch, rx, rxlen, &pkt);
		ck_assert_int_ge(ret, 0);
		if (ret == 1)
			break;
		ck_assert_int_ge(vmbus_link_guest_wait(g, TMO), 0);
	}
	ck_assert_int_eq(vmbus_channel_recv_end(ch), 0);
	ck_assert_uint_eq(pkt.type, VM_PKT_COMP);
	ck_assert_uint_eq(pkt.trans_id, tid);
	ck_assert_ptr_eq(pkt.cookie, &cookie);
	/* The echo carries the payload as the ring holds it: padded to 8. */
	ck_assert_uint_eq(pkt.payload_len, (len + 7) & ~7u);
	ck_assert_int_eq(memcmp(pkt.payload, tx, len), 0);
}

/* Many sizes, from empty to the largest the ring takes, in an order that
 * wraps the ring at many different offsets. */
static void echo_sizes(struct vmbus_link_guest *g, struct vmbus_link_guest_channel *gc,
		       unsigned int rounds)
{
	struct vmbus_channel *ch = vmbus_link_guest_channel_end(gc);
	uint32_t max = vmbus_link_guest_channel_max_payload(gc);
	uint32_t fixed[] = { 0, 1, 7, 8, 9, 63, 64, 65, 255, 1500, 4095, 4096,
			     4097, 9000, max / 2, max - 9, max - 8, max - 1, max };
	size_t buflen = max + 64;
	uint8_t *tx = malloc(buflen), *rx = malloc(buflen);
	unsigned int i;

	ck_assert_ptr_nonnull(tx);
	ck_assert_ptr_nonnull(rx);
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (fixed[i] <= max)
			echo_one(g, ch, tx, rx, buflen, fixed[i], i);
	for (i = 0; i < rounds; i++)
		echo_one(g, ch, tx, rx, buflen, (i * 2654435761u) % (max + 1), i);
	/* One byte more than fits can never be sent. */
	ck_assert_int_eq(vmbus_channel_send_inband(ch, tx, max + 1, 1, 0), -ENOSPC);
	free(tx);
	free(rx);
}

static struct vmbus_link_guest_channel *open_echo(struct vmbus_link_guest *g,
						  uint32_t relid, uint32_t ring_pages)
{
	struct vmbus_link_guest_open p = { .ring_pages = ring_pages, .max_requests = 16 };
	struct vmbus_link_guest_channel *gc;

	ck_assert_uint_ne(relid, 0);
	ck_assert_int_eq(vmbus_link_guest_channel_open(g, relid, &p, TMO, &gc), 0);
	ck_assert_uint_eq(vmbus_link_guest_channel_relid(gc), relid);
	ck_assert_uint_eq(vmbus_link_guest_channel_max_payload(gc),
			  (ring_pages - 1) * 4096 - 32);
	return gc;
}

/* Wait until cond() holds, running the guest's interrupt handler. */
static void guest_until(struct vmbus_link_guest *g, bool (*cond)(void))
{
	int i;

	for (i = 0; i < 100 && !cond(); i++)
		ck_assert_int_ge(vmbus_link_guest_wait(g, 50), 0);
	ck_assert(cond());
}

/* ---- Host commands --------------------------------------------------------------- */

static bool srv_connected;
static struct echo_dev_stats stats0;

static void query(void *arg)
{
	(void)arg;
	srv_connected = vmbus_server_connected(vmbus_link_host_server(H.h));
	echo_dev_get_stats(H.dev[0], &stats0);
}

static void add_dev(void *arg)
{
	unsigned int i = (unsigned int)(uintptr_t)arg;
	struct vmbus_log log = test_log();

	ck_assert_int_eq(echo_dev_new(vmbus_link_host_server(H.h), i, &log, &H.dev[i]), 0);
}

static void remove_dev(void *arg)
{
	unsigned int i = (unsigned int)(uintptr_t)arg;

	ck_assert_int_eq(echo_dev_remove(H.dev[i]), 0);
}

static bool two_offers(void)
{
	return G.noffers == 2;
}

static bool one_rescind(void)
{
	return G.nrescinds == 1;
}

static bool three_offers(void)
{
	return G.noffers == 3;
}

/* ---- Tests ------------------------------------------------------------------------- */

START_TEST(full_flow)
{
	struct vmbus_link_guest_channel *gc, *gc1;
	struct vmbus_link_guest *g;
	uint32_t relid, relid1;

	host_start();
	g = guest_new();
	ck_assert_int_eq(vmbus_link_guest_connect(g, TMO), 0);
	ck_assert_uint_eq(vmbus_client_version(vmbus_link_guest_client(g)), VERSION_WIN10_V5_3);
	ck_assert_uint_eq(G.delivered, 1);
	ck_assert_uint_eq(G.noffers, 1);
	relid = echo_relid(0);
	ck_assert_uint_eq(G.offers[0].connection_id, VMBUS_SERVER_CONN_ID_BASE + relid);
	host_call(query, NULL);
	ck_assert(srv_connected);
	ck_assert_int_eq(H.arrived, 1);

	gc = open_echo(g, relid, 4);
	host_call(query, NULL);
	ck_assert_uint_eq(stats0.opened, 1);
	echo_sizes(g, gc, 300);

	/* Hot add: a device registered while the guest is connected. */
	host_call(add_dev, (void *)1);
	guest_until(g, two_offers);
	relid1 = echo_relid(1);
	ck_assert_uint_ne(relid1, relid);
	gc1 = open_echo(g, relid1, 2);
	echo_sizes(g, gc1, 20);

	/* Hot remove of an open channel: rescind, the guest closes and
	 * tears down, RELID_RELEASED frees the relid for the next offer. */
	host_call(remove_dev, (void *)1);
	guest_until(g, one_rescind);
	ck_assert_uint_eq(G.rescinded[0], relid1);
	ck_assert_int_eq(vmbus_link_guest_channel_close(gc1, TMO), 0);
	ck_assert_int_eq(vmbus_client_get_offer(vmbus_link_guest_client(g), relid1,
						&G.offers[15]), -ENOENT);
	host_call(add_dev, (void *)2);
	guest_until(g, three_offers);
	ck_assert_uint_eq(G.offers[2].child_relid, relid1);

	/* The first channel still echoes. */
	echo_sizes(g, gc, 20);
	/* Unload refuses while a channel is open. */
	ck_assert_int_eq(vmbus_link_guest_unload(g, TMO), -EBUSY);
	ck_assert_int_eq(vmbus_link_guest_channel_close(gc, TMO), 0);
	host_call(query, NULL);
	ck_assert_uint_eq(stats0.closed, 1);
	ck_assert_int_eq(vmbus_link_guest_unload(g, TMO), 0);
	host_call(query, NULL);
	ck_assert(!srv_connected);

	/* Reconnect on the same guest: every offer comes again. */
	memset(&G, 0, sizeof(G));
	ck_assert_int_eq(vmbus_link_guest_connect(g, TMO), 0);
	ck_assert_uint_eq(G.noffers, 2);
	gc = open_echo(g, echo_relid(0), 8);
	echo_sizes(g, gc, 50);
	ck_assert_int_eq(vmbus_link_guest_channel_close(gc, TMO), 0);
	ck_assert_int_eq(vmbus_link_guest_unload(g, TMO), 0);
	vmbus_link_guest_free(g);
	host_stop();
	ck_assert_int_eq(H.left, 1);
}
END_TEST

/* The guest goes away with a channel open: the host resets the bus, the
 * device sees its channel closed, and a new guest starts from scratch. */
START_TEST(guest_vanishes)
{
	struct vmbus_link_guest_channel *gc;
	struct vmbus_link_guest *g;

	host_start();
	g = guest_new();
	ck_assert_int_eq(vmbus_link_guest_connect(g, TMO), 0);
	gc = open_echo(g, echo_relid(0), 4);
	echo_sizes(g, gc, 10);
	vmbus_link_guest_free(g);
	host_call(nop, NULL);
	host_call(query, NULL);
	ck_assert(!srv_connected);
	ck_assert_uint_eq(stats0.closed, 1);
	ck_assert_int_eq(H.left, 1);

	g = guest_new();
	ck_assert_int_eq(vmbus_link_guest_connect(g, TMO), 0);
	ck_assert_uint_eq(G.noffers, 1);
	gc = open_echo(g, echo_relid(0), 4);
	echo_sizes(g, gc, 10);
	ck_assert_int_eq(vmbus_link_guest_channel_close(gc, TMO), 0);
	vmbus_link_guest_free(g);
	host_stop();
	ck_assert_int_eq(H.arrived, 2);
}
END_TEST

/* Hypercalls a broken or hostile guest makes get the statuses Hyper-V
 * gives, and nothing they carry disturbs the bus. */
START_TEST(hostile_hypercalls)
{
	struct vmbus_link_guest_channel *gc;
	struct vmbus_link_guest *g;
	struct vmbus_hv_guest hv;
	uint8_t junk[240];
	unsigned int i;

	host_start();
	g = guest_new();
	hv = vmbus_link_guest_hv(g);
	/* Signals: only channel connection ids with flag 0. */
	ck_assert_uint_eq(vmbus_hv_signal_event(&hv, 0x1234, 0), HV_STATUS_INVALID_CONNECTION_ID);
	ck_assert_uint_eq(vmbus_hv_signal_event(&hv, VMBUS_SERVER_CONN_ID_BASE, 0),
			  HV_STATUS_INVALID_CONNECTION_ID);
	ck_assert_uint_eq(vmbus_hv_signal_event(&hv, VMBUS_SERVER_CONN_ID_BASE + 2048, 0),
			  HV_STATUS_INVALID_CONNECTION_ID);
	ck_assert_uint_eq(vmbus_hv_signal_event(&hv, VMBUS_SERVER_CONN_ID_BASE + 1, 1),
			  HV_STATUS_INVALID_PARAMETER);
	ck_assert_uint_eq(vmbus_hv_signal_event(&hv, VMBUS_SERVER_CONN_ID_BASE + 1, 2048),
			  HV_STATUS_INVALID_PARAMETER);
	ck_assert_uint_eq(vmbus_hv_signal_event(&hv, 0x1000000 | 0x2001, 0),
			  HV_STATUS_INVALID_HYPERCALL_INPUT);
	/* A signal for a channel that is not open goes nowhere. */
	ck_assert_uint_eq(vmbus_hv_signal_event(&hv, VMBUS_SERVER_CONN_ID_BASE + 77, 0),
			  HV_STATUS_SUCCESS);
	/* Posts: checked by the SynIC table, then by the bus. */
	memset(junk, 0xa5, sizeof(junk));
	ck_assert_uint_eq(vmbus_hv_post_message(&hv, 7, 1, junk, 16), HV_STATUS_INVALID_CONNECTION_ID);
	ck_assert_uint_eq(vmbus_hv_post_message(&hv, 1, 0, junk, 16), HV_STATUS_INVALID_PARAMETER);
	ck_assert_uint_eq(vmbus_hv_post_message(&hv, 1, 2, junk, 16), HV_STATUS_INVALID_PARAMETER);
	ck_assert_uint_eq(vmbus_hv_post_message(&hv, 1, 1, junk, 241), HV_STATUS_INVALID_PARAMETER);
	ck_assert_uint_eq(vmbus_hv_post_message(&hv, 0x1000001, 1, junk, 16),
			  HV_STATUS_INVALID_PARAMETER);
	/* Garbage the server refuses: accepted by the hypercall, dropped. */
	for (i = 0; i <= 240; i += 8)
		ck_assert_uint_eq(vmbus_hv_post_message(&hv, 1, 1, junk, i), HV_STATUS_SUCCESS);
	host_call(nop, NULL);
	host_call(query, NULL);
	ck_assert(!srv_connected);

	/* The bus still works for the same guest. */
	ck_assert_int_eq(vmbus_link_guest_connect(g, TMO), 0);
	gc = open_echo(g, echo_relid(0), 4);
	for (i = 0; i < 2047; i += 13)
		vmbus_hv_signal_event(&hv, VMBUS_SERVER_CONN_ID_BASE + 1 + i, 0);
	echo_sizes(g, gc, 10);
	/* Opening it again is refused without touching the open one. */
	ck_assert_int_eq(vmbus_link_guest_channel_open(g, echo_relid(0), NULL, TMO, &gc), -EBUSY);
	ck_assert_int_eq(vmbus_link_guest_channel_open(g, 999, NULL, TMO, &gc), -ENOENT);
	ck_assert_int_eq(vmbus_link_guest_channel_close(gc, TMO), 0);
	vmbus_link_guest_free(g);
	host_stop();
}
END_TEST

START_TEST(config_and_memory)
{
	struct vmbus_link_host_config cfg = { .ram_size = 12345 };
	struct vmbus_link_guest_config gcfg = { 0 };
	struct vmbus_link_guest *g, *g2;
	struct vmbus_link_host *h;
	uint64_t gpa, gpa2;
	uint8_t *p, *p2;

	ck_assert_int_eq(vmbus_link_loop_host_new(&cfg, &h), -EINVAL);
	cfg.ram_size = 4096;
	ck_assert_int_eq(vmbus_link_loop_host_new(&cfg, &h), -EINVAL);
	cfg.ram_size = VMBUS_LINK_RAM_MIN;
	ck_assert_int_eq(vmbus_link_loop_host_new(&cfg, &h), 0);
	ck_assert_int_eq(vmbus_link_loop_guest_new(h, &gcfg, &g), 0);
	ck_assert_int_eq(vmbus_link_loop_guest_new(h, &gcfg, &g2), -EBUSY);
	ck_assert_int_ge(vmbus_link_guest_fd(g), 0);
	ck_assert(vmbus_link_guest_alive(g));

	/* Pages 0-2 hold nothing and the SynIC pages: never handed out. */
	p = vmbus_link_guest_alloc_pages(g, 2, &gpa);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(gpa, 3 * 4096);
	ck_assert_ptr_eq(vmbus_link_guest_ptr(g, gpa, 8192), p);
	p2 = vmbus_link_guest_alloc_pages(g, 1, &gpa2);
	ck_assert_uint_eq(gpa2, 5 * 4096);
	ck_assert_ptr_null(vmbus_link_guest_alloc_pages(g, 64, &gpa2));
	ck_assert_ptr_null(vmbus_link_guest_alloc_pages(g, 0, &gpa2));
	vmbus_link_guest_free_pages(g, gpa, 2);
	vmbus_link_guest_free_pages(g, 0, 3);		/* ignored: reserved */
	vmbus_link_guest_free_pages(g, 4096 * 60, 100);	/* ignored: outside */
	p = vmbus_link_guest_alloc_pages(g, 2, &gpa);
	ck_assert_uint_eq(gpa, 3 * 4096);
	ck_assert_ptr_null(vmbus_link_guest_alloc_pages(g, 59, &gpa2));
	ck_assert_ptr_nonnull(vmbus_link_guest_alloc_pages(g, 58, &gpa2));
	(void)p2;
	ck_assert_ptr_null(vmbus_link_guest_ptr(g, VMBUS_LINK_RAM_MIN, 1));
	ck_assert_ptr_null(vmbus_link_guest_ptr(g, 8, UINT64_MAX));
	ck_assert_ptr_nonnull(vmbus_link_guest_ptr(g, VMBUS_LINK_RAM_MIN - 1, 1));

	/* The host's SynIC sees the guest's MSR writes. */
	ck_assert_int_eq(vmbus_link_host_process(h), 1);	/* arrived */
	ck_assert(vmbus_link_host_has_guest(h));
	p = vmbus_link_guest_ptr(g, VMBUS_LINK_RAM_MIN - 4096, 4096);
	p[17] = 0x55;
	vmbus_link_guest_free(g);
	ck_assert_int_eq(vmbus_link_loop_guest_new(h, &gcfg, &g2), -EBUSY);
	ck_assert_int_ge(vmbus_link_host_process(h), 1);	/* left */
	ck_assert(!vmbus_link_host_has_guest(h));
	ck_assert_int_eq(vmbus_link_loop_guest_new(h, &gcfg, &g2), 0);
	/* Fresh RAM for the new guest. */
	p = vmbus_link_guest_ptr(g2, VMBUS_LINK_RAM_MIN - 4096, 4096);
	ck_assert_uint_eq(p[17], 0);
	p = vmbus_link_guest_alloc_pages(g2, 1, &gpa);
	ck_assert_uint_eq(gpa, 3 * 4096);
	vmbus_link_guest_free(g2);
	vmbus_link_host_free(h);
}
END_TEST

static Suite *loop_suite(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = tcase_create("loop");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, full_flow);
	tcase_add_test(tc, guest_vanishes);
	tcase_add_test(tc, hostile_hypercalls);
	tcase_add_test(tc, config_and_memory);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(loop_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
