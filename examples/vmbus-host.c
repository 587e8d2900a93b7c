// SPDX-License-Identifier: MIT
/*
 * vmbus-host: serve VMBus devices to one guest process at a time over the
 * shm link (include/vmbus/link.h): guest RAM is a memfd this process
 * creates, the guest attaches through a UNIX socket, and when it leaves
 * the bus is reset and the next guest is served.
 *
 * Devices come from a table of kinds (below): each has an option, a
 * function that registers it with the bus server, and optional poll hooks
 * so a device that owns descriptors (a disk's io_uring, a NIC's TAP) can
 * join the main loop. The echo device (echo_dev.h) needs none: it runs
 * inside vmbus_link_host_process() when the guest signals it.
 *
 * Wire formats: include/vmbus/proto/vmbus.h; the link's socket protocol
 * is described in libvmbus/link/shm.c.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <vmbus/link.h>

#include "echo_dev.h"
#include "socket_path.h"
#include "host.h"

/* ---- Logging ---------------------------------------------------------------- */

static void log_line(void *opaque, int level, const char *fmt, va_list ap)
{
	(void)opaque;
	fprintf(stderr, "%s: %s", PROG, level <= VMBUS_LOG_WARN ? "warning: " : "");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void host_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- Device kinds -------------------------------------------------------------- */

static int echo_add(struct host *h, const char *arg, void **dev)
{
	struct echo_dev *d;
	int ret;

	(void)arg;
	ret = echo_dev_new(vmbus_link_host_server(h->link), h->echo_count, &h->log, &d);
	if (ret) {
		host_err("cannot add echo device %u: %s", h->echo_count, strerror(-ret));
		return ret;
	}
	h->echo_count++;
	*dev = d;
	return 0;
}

static void echo_free_dev(void *dev)
{
	echo_dev_free(dev);
}

const struct dev_kind echo_kind = {
	.option = "--echo",
	.help = "offer an echo device (class 6563686f-766d-4275-b373-6c6962766d62);\n"
		"\t\t\trepeat for more than one",
	.add = echo_add,
	.free = echo_free_dev,
};

static const struct dev_kind *const kinds[] = {
	&echo_kind,
	&disk_kind, &disk_control_kind,
	&nic_kind, &nic_capture_kind, &nic_queues_kind,
	/* Storage (--disk PATH[,ro]) and network (--nic SPEC) devices plug
	 * in here, with pollfds/poll hooks for their own descriptors. */
};

#define NKINDS	(sizeof(kinds) / sizeof(kinds[0]))

/* ---- Command line --------------------------------------------------------------- */

static void usage(FILE *f)
{
	char path[256];
	unsigned int i;

	default_socket(path, sizeof(path));
	fprintf(f,
		"Usage: " PROG " [OPTIONS] [DEVICES]\n"
		"Serve VMBus devices to one guest process at a time (vmbus-guest, or any\n"
		"program using vmbus_link_shm_guest_new()). When the guest leaves, its\n"
		"channels are closed, the bus is reset and the next guest is served.\n"
		"\n"
		"Options:\n"
		"  --socket PATH         UNIX socket to listen on (default %s)\n"
		"  --ram MIB             guest RAM in MiB (default %llu)\n"
		"  --once                exit after the first guest leaves\n"
		"  -v, --verbose         more log lines (twice: protocol debugging)\n"
		"  -h, --help            this text\n"
		"\n"
		"Devices:\n", path, (unsigned long long)(VMBUS_LINK_RAM_DEFAULT >> 20));
	for (i = 0; i < NKINDS; i++)
		fprintf(f, "  %s%s%-*s%s\n", kinds[i]->option, kinds[i]->arg ? " " : "",
			(int)(22 - strlen(kinds[i]->option) - (kinds[i]->arg ? 1 : 0)),
			kinds[i]->arg ? kinds[i]->arg : "", kinds[i]->help);
	fprintf(f,
		"\n"
		"SIGINT or SIGTERM stop the host cleanly. Example:\n"
		"  " PROG " --socket /tmp/vm.sock --echo &\n"
		"  vmbus-guest --socket /tmp/vm.sock echo\n");
}

/* Returns 0, 1 to exit successfully (help), or -1 on a usage error. */
static int parse_args(struct host *h, int argc, char **argv, char *pathbuf,
		      size_t pathlen)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		unsigned int k;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 1;
		}
		if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			h->verbose++;
			continue;
		}
		if (!strcmp(a, "-vv")) {
			h->verbose += 2;
			continue;
		}
		if (!strcmp(a, "--once")) {
			h->once = true;
			continue;
		}
		if (!strcmp(a, "--socket") || !strcmp(a, "--ram")) {
			if (i + 1 >= argc) {
				host_err("%s needs an argument", a);
				return -1;
			}
			if (!strcmp(a, "--socket")) {
				h->socket_path = argv[++i];
			} else {
				char *end;

				h->ram_mib = strtoull(argv[++i], &end, 0);
				if (*end || h->ram_mib == 0 || h->ram_mib > (64u << 10)) {
					host_err("--ram wants a size in MiB between 1 and 65536, not '%s'",
					    argv[i]);
					return -1;
				}
			}
			continue;
		}
		for (k = 0; k < NKINDS; k++)
			if (!strcmp(a, kinds[k]->option))
				break;
		if (k == NKINDS) {
			host_err("unknown option '%s' (try --help)", a);
			return -1;
		}
		if (h->ndevs == MAX_DEVICES) {
			host_err("at most %d devices", MAX_DEVICES);
			return -1;
		}
		h->devs[h->ndevs].kind = kinds[k];
		if (kinds[k]->arg) {
			if (i + 1 >= argc) {
				host_err("%s needs %s", a, kinds[k]->arg);
				return -1;
			}
			h->devs[h->ndevs].arg = argv[++i];
		}
		h->ndevs++;
	}
	if (!h->socket_path) {
		default_socket(pathbuf, pathlen);
		h->socket_path = pathbuf;
	}
	return 0;
}

/* ---- Main loop ------------------------------------------------------------------- */

static void guest_event(void *ctx, enum vmbus_link_guest_event ev)
{
	struct host *h = ctx;

	/* The link logs both events itself (at -v). */
	if (ev == VMBUS_LINK_GUEST_LEFT)
		h->guest_left = true;
}

static int signal_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static int run(struct host *h, int sfd)
{
	struct pollfd fds[MAX_POLLFDS];
	unsigned int i;

	for (;;) {
		int n = 0, ret;

		fds[n++] = (struct pollfd){ .fd = vmbus_link_host_fd(h->link), .events = POLLIN };
		fds[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		for (i = 0; i < h->ndevs; i++) {
			struct device *d = &h->devs[i];

			d->first_fd = n;
			d->nfds = d->kind->pollfds ?
				  d->kind->pollfds(d->dev, fds + n, MAX_POLLFDS - n) : 0;
			n += d->nfds;
		}
		if (poll(fds, (nfds_t)n, -1) < 0 && errno != EINTR) {
			host_err("poll: %s", strerror(errno));
			return 1;
		}
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si) && h->verbose)
				host_err("signal %u: stopping", si.ssi_signo);
			return 0;
		}
		ret = vmbus_link_host_process(h->link);
		if (ret < 0) {
			host_err("link failed: %s", strerror(-ret));
			return 1;
		}
		for (i = 0; i < h->ndevs; i++) {
			struct device *d = &h->devs[i];

			if (d->kind->poll && d->nfds)
				d->kind->poll(d->dev, fds + d->first_fd, d->nfds);
		}
		if (h->once && h->guest_left)
			return 0;
	}
}

int main(int argc, char **argv)
{
	struct vmbus_link_host_config cfg = { 0 };
	struct host h = { 0 };
	char pathbuf[256];
	unsigned int i;
	int ret, sfd, status = 1;

	ret = parse_args(&h, argc, argv, pathbuf, sizeof(pathbuf));
	if (ret)
		return ret > 0 ? 0 : 2;
	h.log.fn = log_line;
	h.log.max_level = h.verbose >= 2 ? VMBUS_LOG_DEBUG :
			  h.verbose ? VMBUS_LOG_INFO : VMBUS_LOG_WARN;

	sfd = signal_fd();
	if (sfd < 0) {
		host_err("signalfd: %s", strerror(errno));
		return 1;
	}
	cfg.socket_path = h.socket_path;
	cfg.ram_size = h.ram_mib << 20;
	cfg.guest_event = guest_event;
	cfg.ctx = &h;
	cfg.log = h.log;
	ret = vmbus_link_shm_host_new(&cfg, &h.link);
	if (ret) {
		if (ret == -EADDRINUSE)
			host_err("another host is already listening on %s", h.socket_path);
		else if (ret == -EINVAL)
			host_err("cannot listen on '%s': path too long or empty", h.socket_path);
		else
			host_err("cannot listen on %s: %s", h.socket_path, strerror(-ret));
		close(sfd);
		return 1;
	}
	for (i = 0; i < h.ndevs; i++) {
		struct device *d = &h.devs[i];

		if (d->kind->add(&h, d->arg, &d->dev))
			goto out;
	}
	host_err("serving %u device%s on %s (%llu MiB guest RAM)", h.ndevs,
	    h.ndevs == 1 ? "" : "s", h.socket_path,
	    (unsigned long long)((cfg.ram_size ? cfg.ram_size : VMBUS_LINK_RAM_DEFAULT) >> 20));
	status = run(&h, sfd);
out:
	for (i = 0; i < h.ndevs; i++)
		if (h.devs[i].dev)
			h.devs[i].kind->free(h.devs[i].dev);
	vmbus_link_host_free(h.link);
	close(sfd);
	return status;
}
