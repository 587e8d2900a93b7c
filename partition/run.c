/* SPDX-License-Identifier: MIT */
/*
 * vmbus-run: run a 64-bit ELF guest in a KVM partition that presents
 * Hyper-V's CPUID leaves, synthetic MSRs, hypercall page and SynIC, with
 * the libvmbus host bus behind it. Options: opts.h; exit statuses: vm.h.
 */
#include <stdio.h>
#include <string.h>

#include "opts.h"
#include "vm.h"

/* Where meson put the self-test guest; a build without it needs a path. */
#ifndef PART_DEFAULT_GUEST
#define PART_DEFAULT_GUEST NULL
#endif

int main(int argc, char **argv)
{
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
	for (i = 0; i < o.disk_count; i++)
		fprintf(stderr, "vmbus-run: --disk %.*s%s: not wired yet, ignored\n",
			(int)o.disks[i].path_len, o.disks[i].path,
			o.disks[i].ro ? " (read-only)" : "");
	if (o.nic)
		fprintf(stderr, "vmbus-run: --nic %s: not wired yet, ignored\n", o.nic);
	if (o.ip)
		fprintf(stderr, "vmbus-run: --ip %s: not wired yet, ignored\n", o.ip);

	memset(&cfg, 0, sizeof(cfg));
	cfg.guest_path = o.guest ? o.guest : PART_DEFAULT_GUEST;
	if (!cfg.guest_path) {
		fprintf(stderr, "vmbus-run: no guest image given and none built in\n%s",
			part_opts_usage);
		return PART_EXIT_USAGE;
	}
	cfg.mem_size = o.mem_size;
	cfg.cpus = o.cpus;
	cfg.timeout_sec = o.timeout_sec;
	cfg.cmdline = o.cmdline;
	cfg.test_offer = o.test_offer;
	cfg.verbose = o.verbose;
	return part_vm_run(&cfg);
}
