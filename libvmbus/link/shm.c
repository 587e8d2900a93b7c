// SPDX-License-Identifier: MIT
/*
 * The shm link: a VMBus host and guest in two processes.
 *
 * The host listens on a UNIX seqpacket socket. For each guest it creates
 * guest RAM as a sealed memfd (RAM at offset 0 = GPA 0, then one doorbell
 * page) and two eventfds, and sends them in its hello (SCM_RIGHTS):
 *
 *   guest -> host  socket: WRMSR (SynIC MSRs: SIMP/SIEFP/SINT/SCONTROL/EOM)
 *                  and POST (HvPostMessage), each answered with a status;
 *                  doorbell page bit + eventfd: HvSignalEvent on a channel
 *   host -> guest  SIMP/SIEFP pages in guest RAM + eventfd: the interrupt
 *
 * So the guest reaches the host only as a Hyper-V guest would: posted
 * messages, signalled events and SynIC MSR writes. The fast path (channel
 * signals both ways) is one eventfd write and one wake-up per direction;
 * the socket carries control traffic only. A hang-up on the socket is how
 * each side learns that the other is gone.
 *
 * Everything the guest sends is hostile: each request is copied once into
 * a local buffer and checked; a malformed request drops the guest. The
 * memfd is sealed against resizing, so a guest cannot make host accesses
 * fault by shrinking it.
 *
 * Hypervisor semantics: Hyper-V TLFS via include/vmbus/proto/tlfs.h and
 * <vmbus/synic.h>. The wire format below is this library's own.
 */
#define _GNU_SOURCE	/* memfd_create, accept4, file seals */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "link_priv.h"

#define SHM_MAGIC	0x4c424d56u	/* "VMBL" */
#define SHM_VERSION	1u
#define SHM_NFDS	3		/* memfd, doorbell eventfd, irq eventfd */

enum shm_op {
	SHM_OP_WRMSR = 1,
	SHM_OP_POST = 2,
};

/* Host -> guest, once, with the descriptors (status 0) or without them
 * (status = -errno, e.g. -EBUSY). */
struct shm_hello {
	uint32_t magic;
	uint16_t version;
	uint16_t nfds;
	int32_t status;
	uint32_t reserved;
	uint64_t ram_size;
	uint64_t doorbell_offset;
};

/* Guest -> host. WRMSR: arg = MSR, value. POST: arg = connection id,
 * message_type, size, payload. */
struct shm_req {
	uint32_t op;
	uint32_t arg;
	uint64_t value;
	uint32_t message_type;
	uint32_t size;
	uint64_t payload[HV_MESSAGE_PAYLOAD_QWORD_COUNT];
};

#define SHM_REQ_HDR	offsetof(struct shm_req, payload)

/* Host -> guest, one per request. */
struct shm_rep {
	uint32_t op;
	int32_t result;		/* WRMSR: 0/-errno; POST: HV status */
};

/* epoll tags */
enum { TAG_LISTEN = 1, TAG_CONN, TAG_DOORBELL };

struct shm_host {
	struct vmbus_link_host h;
	struct sockaddr_un addr;
	int lfd;		/* listening socket */
	int epfd;		/* h.fd */
	int cfd;		/* the guest's connection, -1 without a guest */
	int memfd;		/* guest RAM and doorbell */
	int db_efd;		/* guest -> host doorbell */
	int irq_efd;		/* host -> guest interrupt */
	size_t map_len;
	bool bound;
};

struct shm_guest {
	struct vmbus_link_guest g;
	int sock;
	int db_efd;
	int irq_efd;
	int epfd;		/* g.fd: irq eventfd and socket */
	void *map;
	size_t map_len;
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void efd_ring(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0)
		return;	/* counter saturated: already signalled */
}

static bool efd_take(int fd)
{
	uint64_t v;

	return read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v);
}

/* ---- Host: guest RAM ---------------------------------------------------------- */

static int ram_fd_new(size_t len)
{
	int fd = memfd_create("vmbus-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int err;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/*
 * Give the next guest fresh RAM: a new memfd mapped over the old one at
 * the same address, so the GPA map, the SynIC and the server keep valid
 * pointers while the previous guest keeps nothing of ours.
 */
static void ram_renew(struct shm_host *sh)
{
	int fd = ram_fd_new(sh->map_len);

	if (fd >= 0 &&
	    mmap(sh->h.ram, sh->map_len, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, fd, 0) != MAP_FAILED) {
		close_fd(&sh->memfd);
		sh->memfd = fd;
		return;
	}
	vmbus_logf(&sh->h.log, VMBUS_LOG_WARN,
		   "link: shm: cannot renew guest RAM (%s); zeroing it", strerror(errno));
	if (fd >= 0)
		close(fd);
	memset(sh->h.ram, 0, sh->map_len);
}

/* ---- Host: guests ----------------------------------------------------------- */

static int send_hello(int fd, const struct shm_hello *hello, const int *fds,
		      unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * SHM_NFDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)hello, .iov_len = sizeof(*hello) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (nfds) {
		memset(&u, 0, sizeof(u));
		msg.msg_control = u.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	if (sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(*hello))
		return -errno ? -errno : -EIO;
	return 0;
}

static int ep_add(int epfd, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	if (tag == TAG_CONN)
		ev.events |= EPOLLRDHUP;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static void detach(struct shm_host *sh)
{
	if (sh->cfd < 0)
		return;
	epoll_ctl(sh->epfd, EPOLL_CTL_DEL, sh->cfd, NULL);
	epoll_ctl(sh->epfd, EPOLL_CTL_DEL, sh->db_efd, NULL);
	close_fd(&sh->cfd);
	close_fd(&sh->db_efd);
	close_fd(&sh->irq_efd);
	link_host_reset(&sh->h);
	ram_renew(sh);
	sh->h.guest = false;
	vmbus_logf(&sh->h.log, VMBUS_LOG_INFO, "link: shm: guest left, bus reset");
	link_host_event(&sh->h, VMBUS_LINK_GUEST_LEFT);
}

static void reject(int fd, int status)
{
	struct shm_hello hello = {
		.magic = SHM_MAGIC, .version = SHM_VERSION, .status = status,
	};

	send_hello(fd, &hello, NULL, 0);
	close(fd);
}

static int attach(struct shm_host *sh, int fd)
{
	struct shm_hello hello = {
		.magic = SHM_MAGIC, .version = SHM_VERSION, .nfds = SHM_NFDS,
		.ram_size = sh->h.ram_size, .doorbell_offset = sh->h.ram_size,
	};
	int fds[SHM_NFDS];
	int ret;

	sh->db_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	sh->irq_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sh->db_efd < 0 || sh->irq_efd < 0) {
		ret = -errno;
		goto fail;
	}
	fds[0] = sh->memfd;
	fds[1] = sh->db_efd;
	fds[2] = sh->irq_efd;
	ret = send_hello(fd, &hello, fds, SHM_NFDS);
	if (!ret)
		ret = ep_add(sh->epfd, sh->db_efd, TAG_DOORBELL);
	if (!ret)
		ret = ep_add(sh->epfd, fd, TAG_CONN);
	if (ret) {
		epoll_ctl(sh->epfd, EPOLL_CTL_DEL, sh->db_efd, NULL);
		goto fail;
	}
	sh->cfd = fd;
	sh->h.guest = true;
	vmbus_logf(&sh->h.log, VMBUS_LOG_INFO, "link: shm: guest attached");
	link_host_event(&sh->h, VMBUS_LINK_GUEST_ARRIVED);
	return 0;

fail:
	vmbus_logf(&sh->h.log, VMBUS_LOG_WARN, "link: shm: cannot attach a guest: %s",
		   strerror(-ret));
	close_fd(&sh->db_efd);
	close_fd(&sh->irq_efd);
	close(fd);
	return ret;
}

static int accept_guests(struct shm_host *sh)
{
	int n = 0;

	for (;;) {
		int fd = accept4(sh->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0)
			return n;
		n++;
		if (sh->cfd >= 0) {
			vmbus_logf(&sh->h.log, VMBUS_LOG_INFO,
				   "link: shm: turned a second guest away");
			reject(fd, -EBUSY);
			continue;
		}
		attach(sh, fd);
	}
}

/* One request, already copied out of the socket (len bytes). Returns 0,
 * or -EPROTO for a request that gets the guest dropped. */
static int handle_request(struct shm_host *sh, const struct shm_req *req,
			  size_t len)
{
	struct shm_rep rep = { .op = req->op };
	uint32_t size;

	if (len < SHM_REQ_HDR)
		return -EPROTO;
	switch (req->op) {
	case SHM_OP_WRMSR:
		rep.result = vmbus_synic_wrmsr(sh->h.synic, 0, req->arg, req->value);
		break;
	case SHM_OP_POST:
		size = req->size;
		if (size > HV_MESSAGE_PAYLOAD_BYTE_COUNT) {
			/* What the hypercall says for a size above 240. */
			rep.result = HV_STATUS_INVALID_PARAMETER;
			break;
		}
		if (len < SHM_REQ_HDR + size)
			return -EPROTO;
		rep.result = vmbus_synic_conns_post(sh->h.conns, req->arg,
						    req->message_type, req->payload,
						    size);
		break;
	default:
		return -EPROTO;
	}
	/* The guest waits for each answer before its next request, so a
	 * full socket means it is not listening: drop it. */
	if (send(sh->cfd, &rep, sizeof(rep), MSG_NOSIGNAL | MSG_DONTWAIT) !=
	    (ssize_t)sizeof(rep))
		return -EPROTO;
	return 0;
}

/* Returns the requests handled, or -ECONNRESET when the guest is gone. */
static int serve_guest(struct shm_host *sh)
{
	struct shm_req req;
	int n = 0;

	for (;;) {
		ssize_t len = recv(sh->cfd, &req, sizeof(req), MSG_DONTWAIT | MSG_TRUNC);

		if (len < 0 && (errno == EAGAIN || errno == EINTR))
			return n;
		if (len <= 0)
			return -ECONNRESET;
		if ((size_t)len > sizeof(req) ||
		    handle_request(sh, &req, (size_t)len)) {
			vmbus_logf(&sh->h.log, VMBUS_LOG_WARN,
				   "link: shm: malformed request from the guest, dropping it");
			return -ECONNRESET;
		}
		n++;
		/* In posting order, before the next request. */
		n += link_host_drain(&sh->h);
	}
}

static void shm_raise(struct vmbus_link_host *h)
{
	efd_ring(((struct shm_host *)h)->irq_efd);
}

static int shm_process(struct vmbus_link_host *h)
{
	struct shm_host *sh = (struct shm_host *)h;
	struct epoll_event ev[4];
	int i, nev, n = 0, ret;

	nev = epoll_wait(sh->epfd, ev, 4, 0);
	if (nev < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < nev; i++) {
		switch (ev[i].data.u32) {
		case TAG_LISTEN:
			n += accept_guests(sh);
			break;
		case TAG_DOORBELL:
			if (sh->db_efd >= 0)
				efd_take(sh->db_efd);
			break;
		case TAG_CONN:
			if (sh->cfd < 0)
				break;
			ret = serve_guest(sh);
			if (ret < 0) {
				detach(sh);
				/* Later events may name descriptors just
				 * closed; epoll reports what is left again. */
				return n + 1;
			}
			n += ret;
			break;
		}
	}
	if (sh->cfd >= 0)
		n += link_host_drain(h);
	return n;
}

static void shm_destroy(struct vmbus_link_host *h)
{
	struct shm_host *sh = (struct shm_host *)h;

	close_fd(&sh->cfd);
	close_fd(&sh->db_efd);
	close_fd(&sh->irq_efd);
	link_host_fini(h);
	if (h->ram)
		munmap(h->ram, sh->map_len);
	close_fd(&sh->memfd);
	close_fd(&sh->epfd);
	close_fd(&sh->lfd);
	if (sh->bound)
		unlink(sh->addr.sun_path);
	free(sh);
}

static const struct link_host_ops shm_host_ops = {
	.raise = shm_raise,
	.process = shm_process,
	.destroy = shm_destroy,
};

/* Bind, replacing a socket file nobody listens on any more. */
static int bind_socket(struct shm_host *sh)
{
	struct stat st;
	int probe, ret;

	if (!bind(sh->lfd, (struct sockaddr *)&sh->addr, sizeof(sh->addr)))
		return 0;
	if (errno != EADDRINUSE)
		return -errno;
	if (lstat(sh->addr.sun_path, &st) || !S_ISSOCK(st.st_mode))
		return -EADDRINUSE;
	probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return -errno;
	ret = connect(probe, (struct sockaddr *)&sh->addr, sizeof(sh->addr));
	close(probe);
	if (!ret || errno != ECONNREFUSED)
		return -EADDRINUSE;
	unlink(sh->addr.sun_path);
	return bind(sh->lfd, (struct sockaddr *)&sh->addr, sizeof(sh->addr)) ? -errno : 0;
}

int vmbus_link_shm_host_new(const struct vmbus_link_host_config *cfg,
			    struct vmbus_link_host **out)
{
	struct shm_host *sh;
	uint64_t ram_size;
	void *ram;
	int ret;

	if (!cfg || !out || !cfg->socket_path)
		return -EINVAL;
	ram_size = link_ram_size(cfg->ram_size);
	if (!ram_size || strlen(cfg->socket_path) >= sizeof(sh->addr.sun_path) ||
	    !cfg->socket_path[0])
		return -EINVAL;
	sh = calloc(1, sizeof(*sh));
	if (!sh)
		return -ENOMEM;
	sh->h.ops = &shm_host_ops;
	sh->cfd = sh->db_efd = sh->irq_efd = sh->memfd = sh->epfd = sh->lfd = -1;
	sh->addr.sun_family = AF_UNIX;
	strcpy(sh->addr.sun_path, cfg->socket_path);
	sh->map_len = (size_t)ram_size + HV_PAGE_SIZE;

	sh->memfd = ram_fd_new(sh->map_len);
	if (sh->memfd < 0) {
		ret = sh->memfd;
		goto fail;
	}
	ram = mmap(NULL, sh->map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		   sh->memfd, 0);
	if (ram == MAP_FAILED) {
		ret = -errno;
		goto fail;
	}
	sh->h.ram = ram;
	ret = link_host_init(&sh->h, cfg, ram, &shm_host_ops);
	if (ret)
		goto fail;

	sh->epfd = epoll_create1(EPOLL_CLOEXEC);
	sh->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (sh->epfd < 0 || sh->lfd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = bind_socket(sh);
	if (ret)
		goto fail;
	sh->bound = true;
	if (listen(sh->lfd, 4)) {
		ret = -errno;
		goto fail;
	}
	ret = ep_add(sh->epfd, sh->lfd, TAG_LISTEN);
	if (ret)
		goto fail;
	sh->h.fd = sh->epfd;
	*out = &sh->h;
	return 0;

fail:
	shm_destroy(&sh->h);
	return ret;
}

/* ---- Guest ------------------------------------------------------------------- */

/* One request and its answer. -ECONNRESET when the host is gone. */
static int guest_call(struct shm_guest *sg, struct shm_req *req, size_t len,
		      int32_t *result)
{
	struct shm_rep rep;
	ssize_t n;

	if (send(sg->sock, req, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -ECONNRESET;
	do {
		n = recv(sg->sock, &rep, sizeof(rep), 0);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(rep) || rep.op != req->op)
		return -ECONNRESET;
	*result = rep.result;
	return 0;
}

static int shm_wrmsr(struct vmbus_link_guest *g, uint32_t msr, uint64_t value)
{
	struct shm_guest *sg = (struct shm_guest *)g;
	struct shm_req req = { .op = SHM_OP_WRMSR, .arg = msr, .value = value };
	int32_t result;

	if (guest_call(sg, &req, SHM_REQ_HDR, &result)) {
		g->dead = true;
		return -ECONNRESET;
	}
	return result > 0 ? -EPROTO : result;
}

static uint16_t shm_post(struct vmbus_link_guest *g, uint32_t connection_id,
			 uint32_t message_type, const void *payload,
			 uint32_t size)
{
	struct shm_guest *sg = (struct shm_guest *)g;
	struct shm_req req = {
		.op = SHM_OP_POST, .arg = connection_id,
		.message_type = message_type, .size = size,
	};
	int32_t result;

	if (size > HV_MESSAGE_PAYLOAD_BYTE_COUNT)
		return HV_STATUS_INVALID_PARAMETER;
	if (size)
		memcpy(req.payload, payload, size);
	if (guest_call(sg, &req, SHM_REQ_HDR + size, &result)) {
		g->dead = true;
		return HV_STATUS_INVALID_PARTITION_STATE;
	}
	return (uint16_t)result;
}

static void shm_kick(struct vmbus_link_guest *g)
{
	efd_ring(((struct shm_guest *)g)->db_efd);
}

static int shm_wait(struct vmbus_link_guest *g, int timeout_ms)
{
	struct shm_guest *sg = (struct shm_guest *)g;
	struct pollfd pfd[2] = {
		{ .fd = sg->irq_efd, .events = POLLIN },
		{ .fd = sg->sock, .events = POLLIN },
	};
	ssize_t n;
	char c;

	/* A blocking wait comes after finding nothing to do, so a read
	 * before the poll would nearly always fail: one system call lost
	 * per wake-up. A look without waiting is one read at best. */
	if (timeout_ms == 0 && efd_take(sg->irq_efd))
		return 1;
	if (poll(pfd, 2, timeout_ms) <= 0)
		return 0;
	/* The host never speaks unasked: a readable socket is a hang-up,
	 * or a host that does not follow the protocol. */
	if (pfd[1].revents) {
		n = recv(sg->sock, &c, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n >= 0 || (errno != EAGAIN && errno != EINTR))
			return -ECONNRESET;
	}
	return efd_take(sg->irq_efd) ? 1 : 0;
}

static void shm_guest_destroy(struct vmbus_link_guest *g)
{
	struct shm_guest *sg = (struct shm_guest *)g;

	link_guest_fini(g);
	if (sg->map)
		munmap(sg->map, sg->map_len);
	close_fd(&sg->sock);
	close_fd(&sg->db_efd);
	close_fd(&sg->irq_efd);
	close_fd(&sg->epfd);
	free(sg);
}

static const struct link_guest_ops shm_guest_ops = {
	.wrmsr = shm_wrmsr,
	.post = shm_post,
	.kick = shm_kick,
	.wait = shm_wait,
	.destroy = shm_guest_destroy,
};

/* Receive the hello and its descriptors; fds[] gets SHM_NFDS of them. */
static int recv_hello(int sock, struct shm_hello *hello, int *fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * SHM_NFDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = hello, .iov_len = sizeof(*hello) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	struct cmsghdr *c;
	unsigned int i, got = 0;
	ssize_t n;

	/* A host that accepted answers at once; bound the wait anyway. */
	if (poll(&pfd, 1, 10000) <= 0)
		return -ETIMEDOUT;
	n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		size_t nfd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (got < SHM_NFDS)
				fds[got++] = fd;
			else
				close(fd);
		}
	}
	if (n == 0)
		return -ECONNRESET;
	if (n != (ssize_t)sizeof(*hello) || hello->magic != SHM_MAGIC ||
	    hello->version != SHM_VERSION || (msg.msg_flags & MSG_CTRUNC))
		return -EPROTO;
	if (hello->status)
		return hello->status < 0 ? hello->status : -EPROTO;
	if (got != SHM_NFDS || hello->nfds != SHM_NFDS)
		return -EPROTO;
	return 0;
}

static int guest_map(struct shm_guest *sg, const struct shm_hello *hello,
		     int memfd)
{
	struct stat st;

	if (!link_ram_size(hello->ram_size) ||
	    hello->doorbell_offset != hello->ram_size)
		return -EPROTO;
	sg->map_len = (size_t)hello->ram_size + HV_PAGE_SIZE;
	if (fstat(memfd, &st) || (uint64_t)st.st_size < sg->map_len)
		return -EPROTO;
	sg->map = mmap(NULL, sg->map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       memfd, 0);
	if (sg->map == MAP_FAILED) {
		sg->map = NULL;
		return -errno;
	}
	return 0;
}

int vmbus_link_shm_guest_new(const char *path,
			     const struct vmbus_link_guest_config *cfg,
			     struct vmbus_link_guest **out)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct shm_hello hello;
	struct shm_guest *sg;
	int fds[SHM_NFDS] = { -1, -1, -1 };
	int ret;

	if (!path || !cfg || !out || !path[0] || strlen(path) >= sizeof(addr.sun_path))
		return -EINVAL;
	strcpy(addr.sun_path, path);
	sg = calloc(1, sizeof(*sg));
	if (!sg)
		return -ENOMEM;
	sg->g.ops = &shm_guest_ops;
	sg->db_efd = sg->irq_efd = sg->epfd = -1;
	sg->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sg->sock < 0) {
		ret = -errno;
		goto fail;
	}
	if (connect(sg->sock, (struct sockaddr *)&addr, sizeof(addr))) {
		ret = -errno;
		goto fail;
	}
	ret = recv_hello(sg->sock, &hello, fds);
	if (!ret)
		ret = guest_map(sg, &hello, fds[0]);
	close_fd(&fds[0]);
	sg->db_efd = fds[1];
	sg->irq_efd = fds[2];
	if (ret)
		goto fail;
	sg->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sg->epfd < 0) {
		ret = -errno;
		goto fail;
	}
	if (ep_add(sg->epfd, sg->irq_efd, 1) || ep_add(sg->epfd, sg->sock, TAG_CONN)) {
		ret = -errno;
		goto fail;
	}
	sg->g.fd = sg->epfd;
	ret = link_guest_init(&sg->g, cfg, sg->map, hello.ram_size,
			      (struct link_doorbell *)((uint8_t *)sg->map + hello.ram_size));
	if (ret)
		goto fail;
	*out = &sg->g;
	return 0;

fail:
	shm_guest_destroy(&sg->g);
	return ret;
}
