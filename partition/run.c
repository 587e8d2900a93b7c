/* SPDX-License-Identifier: MIT */
/*
 * vmbus-run: run a 64-bit ELF guest in a partition that presents Hyper-V's
 * CPUID leaves, synthetic MSRs, hypercall page and SynIC, with the libvmbus
 * host bus and its devices behind it, on KVM or on the CPU emulator.
 * Options: opts.h; exit statuses: vm.h; the stop port: guest/abi.h.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "opts.h"
#include "vm.h"

/* Where meson put the self-test guest; a build without it needs a path. */
#ifndef PART_DEFAULT_GUEST
#define PART_DEFAULT_GUEST NULL
#endif

/* A serving guest gets this long between the stop request that the
 * time-out makes and the time-out itself. */
#define STOP_GRACE_SEC	3u

static volatile int stop_flag;

/* SIGINT/SIGTERM (once; the next one kills) and the early SIGALRM ask the
 * guest to wind down through PART_PORT_STOP. */
static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void catch_stop_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_flags = 0;
	sigaction(SIGALRM, &sa, NULL);
}

/* " ip=ADDR/PREFIX" after the guest's own arguments. */
static int add_ip(struct part_opts *o)
{
	size_t used = strlen(o->cmdline);
	int n;

	n = snprintf(o->cmdline + used, sizeof(o->cmdline) - used, "%sip=%s",
		     used ? " " : "", o->ip);
	return n < 0 || (size_t)n >= sizeof(o->cmdline) - used ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct part_dev_disk disks[PART_OPTS_MAX_DISKS];
	struct part_vm_config cfg;
	struct part_opts o;
	char err[160];
	unsigned int i;

	if (part_opts_parse(argc, argv, &o, err, sizeof(err))) {
		fprintf(stderr, "vmbus-run: %s\n%s", err, part_opts_usage);
		return PART_EXIT_USAGE;
	}
	if (o.help) {
		fputs(part_opts_usage, stdout);
		return 0;
	}
	if (o.ip && add_ip(&o)) {
		fprintf(stderr, "vmbus-run: guest command line longer than %u "
			"bytes with ip=%s\n", PART_CMDLINE_MAX - 1, o.ip);
		return PART_EXIT_USAGE;
	}
	if (o.ip && !o.nic)
		fprintf(stderr, "vmbus-run: --ip %s without --nic: the guest has "
			"no NIC to answer on\n", o.ip);

	memset(&cfg, 0, sizeof(cfg));
	cfg.guest_path = o.guest ? o.guest : PART_DEFAULT_GUEST;
	if (!cfg.guest_path) {
		fprintf(stderr, "vmbus-run: no guest image given and none built in\n%s",
			part_opts_usage);
		return PART_EXIT_USAGE;
	}
	for (i = 0; i < o.disk_count; i++)
		disks[i] = (struct part_dev_disk){
			.path = o.disks[i].path,
			.path_len = o.disks[i].path_len,
			.ro = o.disks[i].ro,
		};
	cfg.accel = o.accel;
	cfg.mem_size = o.mem_size;
	cfg.cpus = o.cpus;
	cfg.timeout_sec = o.timeout_sec;
	cfg.cmdline = o.cmdline;
	cfg.test_offer = o.test_offer;
	cfg.verbose = o.verbose;
	cfg.disks = disks;
	cfg.disk_count = o.disk_count;
	cfg.nic = o.nic;
	cfg.stop_flag = &stop_flag;
	catch_stop_signals();
	if (o.ip && o.timeout_sec > 2 * STOP_GRACE_SEC)
		alarm(o.timeout_sec - STOP_GRACE_SEC);
	return part_vm_run(&cfg);
}
