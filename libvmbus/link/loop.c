// SPDX-License-Identifier: MIT
/*
 * The loop link: a VMBus host and guest in one process, normally on two
 * threads. Guest RAM is one anonymous mapping registered at GPA 0. The
 * guest's HvPostMessage goes through the SynIC connection table into the
 * host's queue, its HvSignalEvent sets a doorbell bit; both wake the host
 * thread through one eventfd. The host's messages and event flags land in
 * the guest's SIMP and SIEFP pages through the SynIC model, whose
 * interrupt wakes the guest thread through another eventfd.
 *
 * Hypervisor semantics: Hyper-V TLFS via include/vmbus/proto/tlfs.h and
 * <vmbus/synic.h>.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "link_priv.h"

enum loop_state {
	LOOP_NO_GUEST,
	LOOP_GUEST,
	LOOP_GUEST_GONE,	/* freed; the host thread has yet to reset */
};

struct loop_host {
	struct vmbus_link_host h;
	int host_efd;		/* wakes the host thread */
	int guest_efd;		/* the guest's interrupt */
	size_t map_len;
	int state;		/* enum loop_state, atomic */
};

struct loop_guest {
	struct vmbus_link_guest g;
	struct loop_host *lh;
};

static void efd_ring(int fd)
{
	uint64_t one = 1;

	/* Only fails when the counter would overflow, i.e. it is already
	 * signalled. */
	if (write(fd, &one, sizeof(one)) < 0)
		return;
}

static bool efd_take(int fd)
{
	uint64_t v;

	return read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v);
}

/* ---- Host ------------------------------------------------------------------- */

static void loop_raise(struct vmbus_link_host *h)
{
	struct loop_host *lh = (struct loop_host *)h;

	efd_ring(lh->guest_efd);
}

static int loop_process(struct vmbus_link_host *h)
{
	struct loop_host *lh = (struct loop_host *)h;
	int state, n = 0;

	/* Consume the wake-up before looking at its causes, so a cause
	 * that arrives meanwhile rings again. */
	efd_take(lh->host_efd);
	state = __atomic_load_n(&lh->state, __ATOMIC_ACQUIRE);
	if (state != LOOP_NO_GUEST && !h->guest) {
		h->guest = true;
		link_host_event(h, VMBUS_LINK_GUEST_ARRIVED);
		n++;
	}
	if (state == LOOP_GUEST_GONE) {
		link_host_reset(h);
		/* Fresh RAM for the next guest: private anonymous pages read
		 * back as zeros after MADV_DONTNEED. */
		madvise(h->ram, lh->map_len, MADV_DONTNEED);
		h->guest = false;
		__atomic_store_n(&lh->state, LOOP_NO_GUEST, __ATOMIC_RELEASE);
		link_host_event(h, VMBUS_LINK_GUEST_LEFT);
		return n + 1;
	}
	return n + link_host_drain(h);
}

static void loop_destroy(struct vmbus_link_host *h)
{
	struct loop_host *lh = (struct loop_host *)h;

	link_host_fini(h);
	if (h->ram)
		munmap(h->ram, lh->map_len);
	if (lh->host_efd >= 0)
		close(lh->host_efd);
	if (lh->guest_efd >= 0)
		close(lh->guest_efd);
	free(lh);
}

static const struct link_host_ops loop_host_ops = {
	.raise = loop_raise,
	.process = loop_process,
	.destroy = loop_destroy,
};

int vmbus_link_loop_host_new(const struct vmbus_link_host_config *cfg,
			     struct vmbus_link_host **out)
{
	struct loop_host *lh;
	uint64_t ram_size;
	void *ram;
	int ret;

	if (!cfg || !out)
		return -EINVAL;
	ram_size = link_ram_size(cfg->ram_size);
	if (!ram_size)
		return -EINVAL;
	lh = calloc(1, sizeof(*lh));
	if (!lh)
		return -ENOMEM;
	lh->h.ops = &loop_host_ops;
	lh->host_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	lh->guest_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (lh->host_efd < 0 || lh->guest_efd < 0) {
		ret = -errno;
		goto fail;
	}
	lh->map_len = (size_t)ram_size + HV_PAGE_SIZE;
	ram = mmap(NULL, lh->map_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram == MAP_FAILED) {
		ret = -errno;
		goto fail;
	}
	lh->h.ram = ram;
	ret = link_host_init(&lh->h, cfg, ram, &loop_host_ops);
	if (ret)
		goto fail;
	lh->h.fd = lh->host_efd;
	*out = &lh->h;
	return 0;

fail:
	loop_destroy(&lh->h);
	return ret;
}

/* ---- Guest -------------------------------------------------------------------- */

static int loop_wrmsr(struct vmbus_link_guest *g, uint32_t msr, uint64_t value)
{
	struct loop_guest *lg = (struct loop_guest *)g;

	return vmbus_synic_wrmsr(lg->lh->h.synic, 0, msr, value);
}

static uint16_t loop_post(struct vmbus_link_guest *g, uint32_t connection_id,
			  uint32_t message_type, const void *payload,
			  uint32_t size)
{
	struct loop_guest *lg = (struct loop_guest *)g;
	struct timespec pause = { .tv_nsec = 100000 };
	uint16_t status;
	int tries;

	/* A full queue means the host thread is behind: give it time, as a
	 * guest that retries HvPostMessage would. */
	for (tries = 0; ; tries++) {
		status = vmbus_synic_conns_post(lg->lh->h.conns, connection_id,
						message_type, payload, size);
		if (status != HV_STATUS_INSUFFICIENT_BUFFERS || tries == 1000)
			break;
		efd_ring(lg->lh->host_efd);
		nanosleep(&pause, NULL);
	}
	if (status == HV_STATUS_SUCCESS)
		efd_ring(lg->lh->host_efd);
	return status;
}

static void loop_kick(struct vmbus_link_guest *g)
{
	efd_ring(((struct loop_guest *)g)->lh->host_efd);
}

static int loop_wait(struct vmbus_link_guest *g, int timeout_ms)
{
	struct loop_guest *lg = (struct loop_guest *)g;
	struct pollfd pfd = { .fd = lg->lh->guest_efd, .events = POLLIN };

	if (efd_take(pfd.fd))
		return 1;
	if (timeout_ms == 0)
		return 0;
	if (poll(&pfd, 1, timeout_ms) <= 0)
		return 0;
	return efd_take(pfd.fd) ? 1 : 0;
}

static void loop_guest_destroy(struct vmbus_link_guest *g)
{
	struct loop_guest *lg = (struct loop_guest *)g;
	struct loop_host *lh = lg->lh;

	link_guest_fini(g);
	free(lg);
	__atomic_store_n(&lh->state, LOOP_GUEST_GONE, __ATOMIC_RELEASE);
	efd_ring(lh->host_efd);
}

static const struct link_guest_ops loop_guest_ops = {
	.wrmsr = loop_wrmsr,
	.post = loop_post,
	.kick = loop_kick,
	.wait = loop_wait,
	.destroy = loop_guest_destroy,
};

int vmbus_link_loop_guest_new(struct vmbus_link_host *h,
			      const struct vmbus_link_guest_config *cfg,
			      struct vmbus_link_guest **out)
{
	struct loop_host *lh = (struct loop_host *)h;
	struct loop_guest *lg;
	int expected = LOOP_NO_GUEST;
	int ret;

	if (!h || !cfg || !out || h->ops != &loop_host_ops)
		return -EINVAL;
	lg = calloc(1, sizeof(*lg));
	if (!lg)
		return -ENOMEM;
	if (!__atomic_compare_exchange_n(&lh->state, &expected, LOOP_GUEST, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		free(lg);
		return -EBUSY;
	}
	lg->lh = lh;
	lg->g.ops = &loop_guest_ops;
	lg->g.fd = lh->guest_efd;
	efd_take(lh->guest_efd);	/* the previous guest's interrupts */
	ret = link_guest_init(&lg->g, cfg, h->ram, h->ram_size, h->doorbell);
	if (ret) {
		/* The SynIC may be half enabled: let the host reset it. */
		loop_guest_destroy(&lg->g);
		return ret;
	}
	efd_ring(lh->host_efd);
	*out = &lg->g;
	return 0;
}
