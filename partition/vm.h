/* SPDX-License-Identifier: MIT */
/*
 * A partition that looks like Hyper-V to its guest: the whole run of one
 * guest image, from opening /dev/kvm (or starting the CPU emulator, emu.h)
 * to the counters printed at the end. `vmbus-run` (run.c) is a thin CLI
 * around part_vm_run(); the tests call it directly.
 *
 * KVM interface: Linux Documentation/virt/kvm/api.rst and <linux/kvm.h>.
 */
#ifndef PART_VM_H
#define PART_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dev.h"

/* Exit statuses of part_vm_run() and of vmbus-run. A guest's own status
 * passes through, clamped to PART_EXIT_GUEST_MAX. */
#define PART_EXIT_GUEST_MAX	63
#define PART_EXIT_USAGE		64
#define PART_EXIT_IMAGE		65	/* guest image unreadable or invalid */
#define PART_EXIT_NO_KVM	66	/* /dev/kvm missing or lacks a feature */
#define PART_EXIT_HOST		67	/* a host call failed (memory, ioctl) */
#define PART_EXIT_TIMEOUT	68
#define PART_EXIT_CRASH		69	/* triple fault, failed entry, MMIO */

/* What runs the guest's instructions. */
enum part_accel {
	PART_ACCEL_AUTO = 0,	/* KVM when usable, else the emulator (said so) */
	PART_ACCEL_KVM,
	PART_ACCEL_EMULATE,	/* the Unicorn CPU emulator (emu.h) */
};

/* How to run (a value type the caller fills). */
struct part_vm_config {
	enum part_accel accel;
	uint64_t mem_size;		/* multiple of 2 MiB, 2 MiB .. 3 GiB */
	uint32_t cpus;			/* 1 .. PART_MAX_CPUS */
	unsigned int timeout_sec;	/* 0: none */
	const char *guest_path;		/* ELF64 image */
	const char *cmdline;		/* the guest's; may be NULL */
	bool test_offer;		/* offer the test channel */
	const struct part_dev_disk *disks;	/* storvsp LUNs */
	unsigned int disk_count;	/* 0..PART_DEV_MAX_DISKS */
	const char *nic;		/* netvsp backend spec, or NULL */
	/* Non-zero once the guest should wind down: PART_PORT_STOP reads 1.
	 * May be NULL (never). Set it from a signal handler or a thread. */
	const volatile int *stop_flag;
	bool verbose;			/* log bus and hypervisor events */
	FILE *console;			/* COM1 output; NULL: stdout */
	FILE *report;			/* diagnostics; NULL: stderr */
};

/*
 * Check that /dev/kvm can run a partition: it opens, speaks API version
 * 12 and has every capability the runner needs. Returns 0, or a negative
 * errno with a one-line reason in @why (e.g. "/dev/kvm: No such file or
 * directory").
 */
int part_kvm_probe(char *why, size_t len);

/*
 * Load @cfg->guest_path, run it until it writes the exit port, crashes or
 * times out, print the counters to the report stream, and return one of
 * the PART_EXIT_* statuses (or the guest's status). PART_ACCEL_AUTO runs
 * the emulator, with a line on the report stream saying why, when
 * part_kvm_probe() fails; PART_EXIT_NO_KVM when neither can run.
 */
int part_vm_run(const struct part_vm_config *cfg);

#endif
