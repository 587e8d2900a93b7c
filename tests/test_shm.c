// SPDX-License-Identifier: MIT
/*
 * Tests for the shm link (include/vmbus/link.h, libvmbus/link/shm.c): the
 * test process is the host, serving the echo device (examples/echo_dev.c);
 * each guest is a forked child that uses only the guest API. The full bus
 * flow, a guest killed mid-traffic (the host resets and serves the next
 * one), a host that goes away (the guest gets an error), socket path
 * handling, and hostile requests on the socket.
 *
 * Message and page formats: include/vmbus/proto/vmbus.h and tlfs.h; the
 * socket protocol is the one documented in libvmbus/link/shm.c.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vmbus/link.h>
#include <vmbus/proto/tlfs.h>

#include "echo_dev.h"

#define TMO	5000

static void log_stderr(void *opaque, int level, const char *fmt, va_list ap)
{
	fprintf(stderr, "[%s %d] ", (const char *)opaque, level);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static struct vmbus_log test_log(const char *who)
{
	struct vmbus_log l = { 0 };

	if (getenv("VMBUS_TEST_LOG")) {
		l.fn = log_stderr;
		l.opaque = (void *)who;
		l.max_level = VMBUS_LOG_DEBUG;
	}
	return l;
}

/* ---- Guest children: no Check calls, an exit status per failure line ------ */

#define CHILD_CHECK(cond) do {							\
	if (!(cond)) {								\
		fprintf(stderr, "guest: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		_exit(100 + __LINE__ % 100);					\
	}									\
} while (0)

static struct {
	struct vmbus_msg_offer offers[16];
	unsigned int noffers;
	unsigned int nrescinds;
	uint32_t rescinded;
} G;

static void ev_offer(void *ctx, const struct vmbus_msg_offer *o)
{
	(void)ctx;
	if (G.noffers < 16)
		G.offers[G.noffers++] = *o;
}

static void ev_rescind(void *ctx, uint32_t relid)
{
	(void)ctx;
	G.nrescinds++;
	G.rescinded = relid;
}

static const struct vmbus_client_events events = {
	.offer = ev_offer,
	.rescind = ev_rescind,
};

static const struct vmbus_guid echo_class = ECHO_DEV_CLASS;

static uint32_t echo_relid(unsigned int from)
{
	unsigned int i;

	for (i = from; i < G.noffers; i++)
		if (!memcmp(&G.offers[i].if_type, &echo_class, sizeof(echo_class)))
			return G.offers[i].child_relid;
	return 0;
}

static struct vmbus_link_guest *child_guest(const char *path)
{
	struct vmbus_link_guest_config cfg = {
		.events = &events,
		.log = test_log("guest"),
	};
	struct vmbus_link_guest *g;

	memset(&G, 0, sizeof(G));
	CHILD_CHECK(vmbus_link_shm_guest_new(path, &cfg, &g) == 0);
	return g;
}

/* One request of len bytes, its echo checked. */
static void child_echo(struct vmbus_link_guest *g, struct vmbus_link_guest_channel *gc,
		       uint32_t len, uint32_t seed)
{
	static uint8_t tx[65536], rx[65600];
	struct vmbus_channel *ch = vmbus_link_guest_channel_end(gc);
	struct vmbus_channel_packet pkt;
	uint64_t tid;
	uint32_t i;
	int ret, cookie;

	CHILD_CHECK(len <= sizeof(tx));
	for (i = 0; i < len; i++)
		tx[i] = (uint8_t)(seed * 31 + i * 3);
	while ((ret = vmbus_channel_send_request(ch, tx, len, &cookie, &tid)) == -EAGAIN)
		CHILD_CHECK(vmbus_link_guest_wait(g, TMO) >= 0);
	CHILD_CHECK(ret == 0);
	while ((ret = vmbus_channel_recv_next(ch, rx, sizeof(rx), &pkt)) == 0)
		CHILD_CHECK(vmbus_link_guest_wait(g, TMO) >= 0);
	CHILD_CHECK(ret == 1);
	CHILD_CHECK(vmbus_channel_recv_end(ch) == 0);
	CHILD_CHECK(pkt.type == VM_PKT_COMP && pkt.trans_id == tid && pkt.cookie == &cookie);
	CHILD_CHECK(pkt.payload_len == ((len + 7) & ~7u));
	CHILD_CHECK(memcmp(pkt.payload, tx, len) == 0);
}

static void child_echo_sizes(struct vmbus_link_guest *g,
			     struct vmbus_link_guest_channel *gc, unsigned int n)
{
	uint32_t max = vmbus_link_guest_channel_max_payload(gc);
	unsigned int i;

	child_echo(g, gc, 0, 0);
	child_echo(g, gc, max, 1);
	child_echo(g, gc, max - 1, 2);
	for (i = 0; i < n; i++)
		child_echo(g, gc, (i * 2654435761u) % (max + 1), i);
}

static struct vmbus_link_guest_channel *child_open(struct vmbus_link_guest *g,
						   uint32_t relid)
{
	struct vmbus_link_guest_open p = { .ring_pages = 4, .max_requests = 4 };
	struct vmbus_link_guest_channel *gc;

	CHILD_CHECK(relid != 0);
	CHILD_CHECK(vmbus_link_guest_channel_open(g, relid, &p, TMO, &gc) == 0);
	return gc;
}

/* Tell the host side a step was reached (one byte on the pipe). */
static void child_step(int fd, char c)
{
	CHILD_CHECK(write(fd, &c, 1) == 1);
}

static void child_until(struct vmbus_link_guest *g, const unsigned int *v,
			unsigned int want)
{
	int i;

	for (i = 0; i < 200 && *v < want; i++)
		CHILD_CHECK(vmbus_link_guest_wait(g, 50) >= 0);
	CHILD_CHECK(*v >= want);
}

/* ---- The host side ------------------------------------------------------------ */

static struct {
	char dir[64];
	char path[128];
	struct vmbus_link_host *h;
	struct echo_dev *dev[4];
	int arrived, left;
	int step_rd, step_wr;
} S;

static void guest_event(void *ctx, enum vmbus_link_guest_event ev)
{
	(void)ctx;
	if (ev == VMBUS_LINK_GUEST_ARRIVED)
		S.arrived++;
	else
		S.left++;
}

static void host_start(void)
{
	struct vmbus_link_host_config cfg = {
		.ram_size = 4u << 20,
		.guest_event = guest_event,
		.log = test_log("host"),
	};
	struct vmbus_log log = test_log("echo");
	int p[2];

	memset(&S, 0, sizeof(S));
	strcpy(S.dir, "/tmp/vmbus-test-shm-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(S.dir));
	snprintf(S.path, sizeof(S.path), "%s/sock", S.dir);
	cfg.socket_path = S.path;
	ck_assert_int_eq(vmbus_link_shm_host_new(&cfg, &S.h), 0);
	ck_assert_int_eq(echo_dev_new(vmbus_link_host_server(S.h), 0, &log, &S.dev[0]), 0);
	ck_assert_int_eq(pipe(p), 0);
	S.step_rd = p[0];
	S.step_wr = p[1];
}

static void host_stop(void)
{
	unsigned int i;

	for (i = 0; i < 4; i++)
		echo_dev_free(S.dev[i]);
	vmbus_link_host_free(S.h);
	close(S.step_rd);
	close(S.step_wr);
	rmdir(S.dir);
}

static pid_t fork_guest(void (*fn)(void))
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	return pid;
}

/*
 * Serve until the child exits (returns its wait status) or, with @step,
 * until it reports a step (returns the step byte). Bounded by @ms.
 */
static int serve(pid_t pid, bool step, int ms)
{
	struct pollfd pfd[2] = {
		{ .fd = vmbus_link_host_fd(S.h), .events = POLLIN },
		{ .fd = S.step_rd, .events = POLLIN },
	};
	int i, status;
	char c;

	for (i = 0; i < ms / 10; i++) {
		poll(pfd, 2, 10);
		ck_assert_int_ge(vmbus_link_host_process(S.h), 0);
		if (step && (pfd[1].revents & POLLIN)) {
			ck_assert_int_eq(read(S.step_rd, &c, 1), 1);
			return c;
		}
		if (pid > 0 && waitpid(pid, &status, WNOHANG) == pid) {
			/* What the guest did last (hang-up included). */
			while (vmbus_link_host_process(S.h) > 0)
				;
			return status;
		}
	}
	ck_assert_msg(pid < 0, "guest did not finish in time");
	return -1;
}

static void serve_idle(int ms)
{
	serve(-1, false, ms + 10);
}

/* ---- Full flow ------------------------------------------------------------------ */

static void flow_guest(void)
{
	struct vmbus_link_guest_channel *gc, *gc1;
	struct vmbus_link_guest *g = child_guest(S.path);
	uint32_t relid, relid1;

	CHILD_CHECK(vmbus_link_guest_connect(g, TMO) == 0);
	CHILD_CHECK(G.noffers == 1);
	relid = echo_relid(0);
	gc = child_open(g, relid);
	child_echo_sizes(g, gc, 200);

	child_step(S.step_wr, 'A');		/* host: hot add */
	child_until(g, &G.noffers, 2);
	relid1 = echo_relid(1);
	CHILD_CHECK(relid1 && relid1 != relid);
	gc1 = child_open(g, relid1);
	child_echo_sizes(g, gc1, 20);

	child_step(S.step_wr, 'R');		/* host: hot remove */
	child_until(g, &G.nrescinds, 1);
	CHILD_CHECK(G.rescinded == relid1);
	CHILD_CHECK(vmbus_link_guest_channel_close(gc1, TMO) == 0);
	child_step(S.step_wr, 'B');		/* host: add again */
	child_until(g, &G.noffers, 3);
	CHILD_CHECK(G.offers[2].child_relid == relid1);

	child_echo_sizes(g, gc, 20);
	CHILD_CHECK(vmbus_link_guest_channel_close(gc, TMO) == 0);
	CHILD_CHECK(vmbus_link_guest_unload(g, TMO) == 0);

	memset(&G, 0, sizeof(G));
	CHILD_CHECK(vmbus_link_guest_connect(g, TMO) == 0);
	CHILD_CHECK(G.noffers == 2);
	gc = child_open(g, echo_relid(0));
	child_echo_sizes(g, gc, 20);
	CHILD_CHECK(vmbus_link_guest_channel_close(gc, TMO) == 0);
	CHILD_CHECK(vmbus_link_guest_unload(g, TMO) == 0);
	vmbus_link_guest_free(g);
}

START_TEST(full_flow)
{
	struct vmbus_log log = test_log("echo");
	struct echo_dev_stats st;
	pid_t pid;
	int status;

	host_start();
	pid = fork_guest(flow_guest);
	ck_assert_int_eq(serve(pid, true, 20000), 'A');
	ck_assert(vmbus_link_host_has_guest(S.h));
	ck_assert_int_eq(echo_dev_new(vmbus_link_host_server(S.h), 1, &log, &S.dev[1]), 0);
	ck_assert_int_eq(serve(pid, true, 20000), 'R');
	ck_assert(echo_dev_is_open(S.dev[1]));
	ck_assert_int_eq(echo_dev_remove(S.dev[1]), 0);
	ck_assert_int_eq(serve(pid, true, 20000), 'B');
	ck_assert_int_eq(echo_dev_new(vmbus_link_host_server(S.h), 2, &log, &S.dev[2]), 0);
	status = serve(pid, false, 20000);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "guest failed: status 0x%x", status);
	echo_dev_get_stats(S.dev[0], &st);
	ck_assert_uint_eq(st.opened, 2);
	ck_assert_uint_eq(st.closed, 2);
	ck_assert_uint_ge(st.packets, 2 * 20 + 200 + 9);
	echo_dev_get_stats(S.dev[1], &st);
	ck_assert_uint_eq(st.opened, 1);
	ck_assert_uint_eq(st.closed, 1);
	ck_assert_int_eq(S.arrived, 1);
	ck_assert_int_eq(S.left, 1);
	ck_assert(!vmbus_link_host_has_guest(S.h));
	host_stop();
}
END_TEST

/* ---- A guest killed mid-traffic ------------------------------------------------- */

static void busy_guest(void)
{
	struct vmbus_link_guest *g = child_guest(S.path);
	struct vmbus_link_guest_channel *gc;
	unsigned int i;

	CHILD_CHECK(vmbus_link_guest_connect(g, TMO) == 0);
	gc = child_open(g, echo_relid(0));
	for (i = 0; ; i++) {
		child_echo(g, gc, (i * 2654435761u) % 4000, i);
		if (i == 100)
			child_step(S.step_wr, 'E');
	}
}

static void second_guest(void)
{
	struct vmbus_link_guest *g = child_guest(S.path);
	struct vmbus_link_guest_channel *gc;

	CHILD_CHECK(vmbus_link_guest_connect(g, TMO) == 0);
	CHILD_CHECK(G.noffers == 1);
	gc = child_open(g, echo_relid(0));
	child_echo_sizes(g, gc, 50);
	CHILD_CHECK(vmbus_link_guest_channel_close(gc, TMO) == 0);
	CHILD_CHECK(vmbus_link_guest_unload(g, TMO) == 0);
	vmbus_link_guest_free(g);
}

START_TEST(guest_killed)
{
	struct echo_dev_stats st;
	pid_t pid;
	int status, i;

	host_start();
	pid = fork_guest(busy_guest);
	ck_assert_int_eq(serve(pid, true, 20000), 'E');
	/* Let traffic run a little more, then kill it mid-flight. */
	serve_idle(30);
	ck_assert(echo_dev_is_open(S.dev[0]));
	kill(pid, SIGKILL);
	status = serve(pid, false, 5000);
	ck_assert(WIFSIGNALED(status));
	for (i = 0; i < 100 && S.left == 0; i++)
		serve_idle(10);
	ck_assert_int_eq(S.left, 1);
	ck_assert(!vmbus_link_host_has_guest(S.h));
	ck_assert(!vmbus_server_connected(vmbus_link_host_server(S.h)));
	ck_assert(!echo_dev_is_open(S.dev[0]));
	echo_dev_get_stats(S.dev[0], &st);
	ck_assert_uint_eq(st.opened, 1);
	ck_assert_uint_eq(st.closed, 1);
	ck_assert_uint_gt(st.packets, 100);
	ck_assert_uint_eq(vmbus_gpadl_count(vmbus_server_gpadl_table(vmbus_link_host_server(S.h))), 0);

	/* The next guest connects on the same path and echoes. */
	pid = fork_guest(second_guest);
	status = serve(pid, false, 20000);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "guest failed: status 0x%x", status);
	echo_dev_get_stats(S.dev[0], &st);
	ck_assert_uint_eq(st.opened, 2);
	ck_assert_uint_eq(st.closed, 2);
	ck_assert_int_eq(S.arrived, 2);
	host_stop();
}
END_TEST

/* ---- The host goes away ---------------------------------------------------------- */

static void orphan_guest(void)
{
	struct vmbus_link_guest *g = child_guest(S.path);
	struct vmbus_link_guest_channel *gc;
	int ret, i;

	CHILD_CHECK(vmbus_link_guest_connect(g, TMO) == 0);
	gc = child_open(g, echo_relid(0));
	child_step(S.step_wr, 'O');
	for (i = 0, ret = 0; i < 500 && ret >= 0; i++)
		ret = vmbus_link_guest_wait(g, 20);
	CHILD_CHECK(ret == -ECONNRESET);
	CHILD_CHECK(!vmbus_link_guest_alive(g));
	CHILD_CHECK(vmbus_link_guest_process(g) == -ECONNRESET);
	CHILD_CHECK(vmbus_link_guest_channel_close(gc, TMO) == -ECONNRESET);
	CHILD_CHECK(vmbus_link_guest_connect(g, TMO) == -ECONNRESET);
	vmbus_link_guest_free(g);
}

START_TEST(host_goes_away)
{
	struct vmbus_link_guest_config cfg = { 0 };
	struct vmbus_link_guest *g;
	int status;
	pid_t pid;

	host_start();
	pid = fork_guest(orphan_guest);
	ck_assert_int_eq(serve(pid, true, 20000), 'O');
	echo_dev_free(S.dev[0]);
	S.dev[0] = NULL;
	vmbus_link_host_free(S.h);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "guest failed: status 0x%x", status);
	/* The socket path is gone with the host. */
	ck_assert_int_eq(vmbus_link_shm_guest_new(S.path, &cfg, &g), -ENOENT);
	close(S.step_rd);
	close(S.step_wr);
	rmdir(S.dir);
}
END_TEST

/* ---- Paths and hostile sockets ------------------------------------------------------ */

START_TEST(paths)
{
	struct vmbus_link_host_config cfg = { 0 };
	struct vmbus_link_guest_config gcfg = { 0 };
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct vmbus_link_host *h2;
	struct vmbus_link_guest *g;
	char longpath[200];
	int fd;

	host_start();
	/* A second host on a live path is refused; the first keeps it. */
	cfg.socket_path = S.path;
	ck_assert_int_eq(vmbus_link_shm_host_new(&cfg, &h2), -EADDRINUSE);
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = 0;
	cfg.socket_path = longpath;
	ck_assert_int_eq(vmbus_link_shm_host_new(&cfg, &h2), -EINVAL);
	cfg.socket_path = NULL;
	ck_assert_int_eq(vmbus_link_shm_host_new(&cfg, &h2), -EINVAL);
	ck_assert_int_eq(vmbus_link_shm_guest_new(longpath, &gcfg, &g), -EINVAL);
	host_stop();

	/* Nobody there; a stale socket file nobody listens on. */
	strcpy(S.dir, "/tmp/vmbus-test-shm-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(S.dir));
	snprintf(S.path, sizeof(S.path), "%s/sock", S.dir);
	ck_assert_int_eq(vmbus_link_shm_guest_new(S.path, &gcfg, &g), -ENOENT);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	strcpy(a.sun_path, S.path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd);
	ck_assert_int_eq(vmbus_link_shm_guest_new(S.path, &gcfg, &g), -ECONNREFUSED);
	/* A host replaces the stale file. */
	cfg.socket_path = S.path;
	ck_assert_int_eq(vmbus_link_shm_host_new(&cfg, &h2), 0);
	vmbus_link_host_free(h2);
	ck_assert_int_eq(access(S.path, F_OK), -1);
	rmdir(S.dir);
}
END_TEST

/* The request layout of libvmbus/link/shm.c, as a hostile guest sends it. */
struct raw_req {
	uint32_t op;
	uint32_t arg;
	uint64_t value;
	uint32_t message_type;
	uint32_t size;
	uint8_t payload[240];
};

struct raw_rep {
	uint32_t op;
	int32_t result;
};

/* Connect a raw client and take the host's hello (closing its fds).
 * Returns the socket; *status gets the hello's status. */
static int raw_connect(int *status)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char buf[64], cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	ssize_t n;
	int fd, i;

	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	strcpy(a.sun_path, S.path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	serve_idle(20);
	n = recvmsg(fd, &msg, MSG_DONTWAIT);
	ck_assert_int_eq(n, 32);
	memcpy(status, buf + 8, sizeof(*status));
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		for (i = 0; i < (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)); i++)
			close(((int *)CMSG_DATA(c))[i]);
	return fd;
}

static int raw_call(int fd, const struct raw_req *req, size_t len,
		    struct raw_rep *rep)
{
	ck_assert_int_eq(send(fd, req, len, 0), (ssize_t)len);
	serve_idle(20);
	return (int)recv(fd, rep, sizeof(*rep), MSG_DONTWAIT);
}

START_TEST(hostile_socket)
{
	struct raw_req req = { 0 };
	struct raw_rep rep;
	int fd, fd2, status;

	host_start();
	fd = raw_connect(&status);
	ck_assert_int_eq(status, 0);
	ck_assert(vmbus_link_host_has_guest(S.h));
	/* A second guest is turned away while one is attached. */
	fd2 = raw_connect(&status);
	ck_assert_int_eq(status, -EBUSY);
	close(fd2);

	/* MSR writes outside the SynIC, or refused by it. */
	req.op = 1;
	req.arg = 0x40000001;	/* HV_X64_MSR_HYPERCALL: not the SynIC's */
	ck_assert_int_eq(raw_call(fd, &req, 24, &rep), sizeof(rep));
	ck_assert_int_eq(rep.result, -ENOENT);
	req.arg = HV_X64_MSR_SIMP;
	req.value = (64ull << 20) | 1;	/* outside guest RAM */
	ck_assert_int_eq(raw_call(fd, &req, 24, &rep), sizeof(rep));
	ck_assert_int_eq(rep.result, -EINVAL);
	/* Posts: a size above 240, a bad connection id, a junk message. */
	req.op = 2;
	req.arg = 1;
	req.message_type = 1;
	req.size = 1000;
	ck_assert_int_eq(raw_call(fd, &req, 24, &rep), sizeof(rep));
	ck_assert_int_eq(rep.result, HV_STATUS_INVALID_PARAMETER);
	req.arg = 9;
	req.size = 8;
	ck_assert_int_eq(raw_call(fd, &req, 32, &rep), sizeof(rep));
	ck_assert_int_eq(rep.result, HV_STATUS_INVALID_CONNECTION_ID);
	req.arg = 1;
	memset(req.payload, 0xee, sizeof(req.payload));
	ck_assert_int_eq(raw_call(fd, &req, 32, &rep), sizeof(rep));
	ck_assert_int_eq(rep.result, HV_STATUS_SUCCESS);
	ck_assert(!vmbus_server_connected(vmbus_link_host_server(S.h)));
	/* A datagram shorter than the size it claims drops the guest. */
	req.size = 100;
	ck_assert_int_eq(raw_call(fd, &req, 40, &rep), 0);
	ck_assert_int_eq(S.left, 1);
	close(fd);

	/* So does an unknown request, and a runt. */
	fd = raw_connect(&status);
	ck_assert_int_eq(status, 0);
	req.op = 77;
	ck_assert_int_eq(raw_call(fd, &req, 24, &rep), 0);
	ck_assert_int_eq(S.left, 2);
	close(fd);
	fd = raw_connect(&status);
	ck_assert_int_eq(raw_call(fd, &req, 3, &rep), 0);
	ck_assert_int_eq(S.left, 3);
	close(fd);
	/* And an oversized one. */
	fd = raw_connect(&status);
	{
		uint8_t big[600] = { 1 };

		ck_assert_int_eq(send(fd, big, sizeof(big), 0), (ssize_t)sizeof(big));
		serve_idle(20);
		ck_assert_int_eq(recv(fd, &rep, sizeof(rep), MSG_DONTWAIT), 0);
	}
	ck_assert_int_eq(S.left, 4);
	close(fd);
	ck_assert_int_eq(S.arrived, 4);

	/* A real guest is served normally after all that. */
	{
		pid_t pid = fork_guest(second_guest);

		status = serve(pid, false, 20000);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "guest failed: status 0x%x", status);
	}
	host_stop();
}
END_TEST

static Suite *shm_suite(void)
{
	Suite *s = suite_create("shm");
	TCase *tc = tcase_create("shm");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, full_flow);
	tcase_add_test(tc, guest_killed);
	tcase_add_test(tc, host_goes_away);
	tcase_add_test(tc, paths);
	tcase_add_test(tc, hostile_socket);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(shm_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
