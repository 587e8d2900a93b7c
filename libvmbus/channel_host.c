/* SPDX-License-Identifier: MIT */
/*
 * Host-only part of the channel layer: a channel doorbell as an eventfd, so
 * a VSP can wait for the guest's signals in its own event loop (poll,
 * epoll, io_uring) instead of a thread per channel. Linux eventfd(2)
 * semantics; the signalling rules it serves are in channel.c.
 */
#define _GNU_SOURCE
#include <vmbus/channel.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

int vmbus_channel_notifier_open(struct vmbus_channel_notifier *n)
{
	int fd;

	if (!n)
		return -EINVAL;
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0) {
		n->fd = -1;
		return -errno;
	}
	n->fd = fd;
	return 0;
}

void vmbus_channel_notifier_close(struct vmbus_channel_notifier *n)
{
	if (!n || n->fd < 0)
		return;
	close(n->fd);
	n->fd = -1;
}

int vmbus_channel_notifier_fd(const struct vmbus_channel_notifier *n)
{
	return n ? n->fd : -1;
}

int vmbus_channel_notifier_signal(struct vmbus_channel_notifier *n)
{
	uint64_t one = 1;
	ssize_t r;

	if (!n || n->fd < 0)
		return -EBADF;
	do {
		r = write(n->fd, &one, sizeof(one));
	} while (r < 0 && errno == EINTR);
	/* EAGAIN: the counter is at its maximum, so a wake-up is pending
	 * anyway and nothing is lost. */
	if (r < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

void vmbus_channel_notifier_signal_fn(void *ctx)
{
	vmbus_channel_notifier_signal(ctx);
}

int64_t vmbus_channel_notifier_clear(struct vmbus_channel_notifier *n)
{
	uint64_t v;
	ssize_t r;

	if (!n || n->fd < 0)
		return -EBADF;
	do {
		r = read(n->fd, &v, sizeof(v));
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (r != sizeof(v))
		return -EIO;
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

int vmbus_channel_notifier_wait(struct vmbus_channel_notifier *n,
				int timeout_ms)
{
	struct pollfd pfd;
	int64_t got;
	int r;

	if (!n || n->fd < 0)
		return -EBADF;
	for (;;) {
		got = vmbus_channel_notifier_clear(n);
		if (got != 0)
			return got > 0 ? 1 : (int)got;
		pfd.fd = n->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		r = poll(&pfd, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return 0;
	}
}
