// SPDX-License-Identifier: MIT
/*
 * What vmbus-host's device kinds share: the host state, the table entry a
 * kind fills, and the error printer. Each kind lives in its own file
 * (host_*.c) and is listed in vmbus-host.c's table.
 */
#ifndef VMBUS_EXAMPLES_HOST_H
#define VMBUS_EXAMPLES_HOST_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include <vmbus/link.h>

#define PROG		"vmbus-host"
#define MAX_DEVICES	64
#define MAX_POLLFDS	256

struct host;

/* A kind of device the host can serve, chosen by a command-line option. */
struct dev_kind {
	const char *option;	/* e.g. "--echo" */
	const char *arg;	/* argument syntax, NULL if it takes none */
	const char *help;
	/* Parse @arg and register the device on the server; *dev is the
	 * device's state for the hooks below. 0 or -errno (with a message
	 * printed). */
	int (*add)(struct host *h, const char *arg, void **dev);
	/* Optional: fill up to @max descriptors to poll; returns how many. */
	int (*pollfds)(void *dev, struct pollfd *fds, int max);
	/* Optional: the poll results for those descriptors. */
	void (*poll)(void *dev, const struct pollfd *fds, int n);
	void (*free)(void *dev);
};

struct device {
	const struct dev_kind *kind;
	const char *arg;
	void *dev;
	int first_fd, nfds;	/* its slice of the poll array */
};

struct host {
	const char *socket_path;
	uint64_t ram_mib;
	bool once;
	int verbose;
	struct vmbus_log log;
	struct vmbus_link_host *link;
	struct device devs[MAX_DEVICES];
	unsigned int ndevs;
	unsigned int echo_count;
	bool guest_left;
};

/* Print "vmbus-host: " and the message on standard error. */
__attribute__((format(printf, 1, 2)))
void host_err(const char *fmt, ...);

/* The kinds in their own files. */
extern const struct dev_kind echo_kind;
extern const struct dev_kind disk_kind, disk_control_kind;
extern const struct dev_kind nic_kind, nic_capture_kind, nic_queues_kind;

#endif
