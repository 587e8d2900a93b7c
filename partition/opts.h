/* SPDX-License-Identifier: MIT */
/*
 * Command line of `vmbus-run`: parsed into a value type with no side
 * effects, so the rules are unit-tested. The syntax is this project's own:
 *
 *   vmbus-run [--accel kvm|emulate|auto] [--mem SIZE] [--cpus N]
 *             [--timeout SEC] [--disk PATH[,ro]]... [--nic SPEC]
 *             [--ip ADDR/PREFIX] [--no-test-offer] [--verbose]
 *             [GUEST.elf [GUEST-ARGS...]]
 *
 * Everything after the image path is the guest's command line (joined
 * with spaces into struct part_boot_info.cmdline).
 */
#ifndef PART_OPTS_H
#define PART_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest/abi.h"
#include "vm.h"

#define PART_OPTS_MAX_DISKS	8u
#define PART_OPTS_DEFAULT_MEM	(64ull << 20)
#define PART_OPTS_DEFAULT_TIMEOUT 30u

struct part_opts_disk {
	const char *path;	/* points into argv */
	size_t path_len;
	bool ro;
};

struct part_opts {
	enum part_accel accel;		/* default PART_ACCEL_AUTO */
	uint64_t mem_size;
	uint32_t cpus;
	unsigned int timeout_sec;	/* 0: no time-out */
	struct part_opts_disk disks[PART_OPTS_MAX_DISKS];
	unsigned int disk_count;
	const char *nic;
	const char *ip;
	const char *guest;		/* NULL: the built-in self-test image */
	char cmdline[PART_CMDLINE_MAX];
	bool test_offer;
	bool verbose;
	bool help;
};

/*
 * Parse a size: a decimal number with an optional K, M or G suffix
 * (binary units). 0 or -EINVAL (empty, junk, zero) or -ERANGE (overflow).
 */
int part_opts_size(const char *s, uint64_t *out);

/*
 * Parse argv[1..argc). Options take their value as the next argument or
 * after '='. On error returns -EINVAL (or -E2BIG for a guest command line
 * longer than PART_CMDLINE_MAX - 1) and writes a one-line reason to @err.
 * Checks: --mem a multiple of 2 MiB within the runner's limits; --cpus
 * 1..PART_MAX_CPUS; --timeout 0..86400; at most PART_OPTS_MAX_DISKS disks,
 * each "PATH" or "PATH,ro" with a non-empty path; --ip "A.B.C.D/N", N <= 32;
 * --accel one of kvm, emulate, auto.
 */
int part_opts_parse(int argc, char **argv, struct part_opts *o, char *err,
		    size_t errlen);

/* The --help text. */
extern const char part_opts_usage[];

#endif
