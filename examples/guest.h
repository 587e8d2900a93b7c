// SPDX-License-Identifier: MIT
/*
 * What vmbus-guest's commands share: the guest state, the table entry a
 * command fills, and the error printers. Commands for each device class
 * live in their own files (guest_*.c) and are listed in vmbus-guest.c.
 */
#ifndef VMBUS_EXAMPLES_GUEST_H
#define VMBUS_EXAMPLES_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include <vmbus/link.h>
#include <vmbus/msg.h>

#define PROG		"vmbus-guest"
#define MAX_OFFERS	256

struct guest {
	const char *socket_path;
	int timeout_ms;
	int verbose;
	unsigned int subchannels;	/* storage: subchannels to ask for */
	struct vmbus_log log;
	struct vmbus_link_guest *g;
	struct vmbus_msg_offer offers[MAX_OFFERS];
	unsigned int noffers;
};

/* A command: "vmbus-guest [OPTIONS] NAME ARGS...". */
struct guest_command {
	const char *name;
	const char *args;
	const char *help;
	/* argv[0] is the command name. Returns the exit status. */
	int (*run)(struct guest *gs, int argc, char **argv);
};

/* Print "vmbus-guest: " and the message on standard error. */
__attribute__((format(printf, 1, 2)))
void guest_err(const char *fmt, ...);

/* Explain a link or bus error (negative errno) in the user's terms. */
void guest_link_err(const struct guest *gs, const char *what, int ret);

/* "scsi", "ide", "network", "echo" or "unknown". */
const char *guest_class_name(const struct vmbus_guid *g);

/* Storage commands (guest_disk.c). */
extern const struct guest_command disks_command, read_command, write_command,
	verify_command, watch_command;
extern const struct guest_command nic_command, tap_command;	/* guest_nic.c */

#endif
