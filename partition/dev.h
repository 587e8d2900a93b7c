/* SPDX-License-Identifier: MIT */
/*
 * The synthetic devices of a partition: one SCSI controller (storvsp) with
 * a LUN per --disk, and one NIC (netvsp) on a NIC backend (--nic), offered
 * on the hypervisor model's VMBus server. Both the KVM and the emulated
 * partition use them the same way.
 *
 * Where the work happens: a guest's HvSignalEvent reaches the device's
 * signalled callback through part_hv_hypercall() -> vmbus_server_signal(),
 * so ring processing (disk I/O included) runs on the signalling VP's
 * thread with the bus lock held. Frames from the NIC backend arrive on a
 * receive thread of this module, which takes the same lock around
 * netvsp_rx(). One lock thus serialises everything the server, storvsp and
 * netvsp require to be single-threaded.
 *
 * Formats and protocols: include/vmbus/storvsp.h, netvsp.h, vsp/netvsp/
 * nic.h (and the sources they cite).
 */
#ifndef PART_DEV_H
#define PART_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <vmbus/log.h>

#include "hv.h"

#define PART_DEV_MAX_DISKS	8u

/* The SCSI controller's and the NIC's instance GUIDs (this project's own);
 * the NIC's MAC address is locally administered. */
#define PART_DEV_SCSI_INSTANCE	VMBUS_GUID_INIT(0x5d0b4f6a, 0x2c1e, 0x4b7d, \
						0x9a35, 0x000000005c51ull)
#define PART_DEV_NIC_INSTANCE	VMBUS_GUID_INIT(0x5d0b4f6a, 0x2c1e, 0x4b7d, \
						0x9a35, 0x00000000ae70ull)
#define PART_DEV_NIC_MAC	{ 0x02, 0x15, 0x5d, 0x00, 0x07, 0x02 }

/* One disk: @path_len bytes at @path (not NUL-terminated: it may point
 * into "PATH,ro"), read-only or not. A value type. */
struct part_dev_disk {
	const char *path;
	size_t path_len;
	bool ro;
};

/* What to build (a value type the caller fills). */
struct part_dev_config {
	const struct part_dev_disk *disks;
	unsigned int disk_count;	/* 0..PART_DEV_MAX_DISKS */
	const char *nic;		/* NIC spec (vsp/netvsp/nic.h) or NULL */
	struct vmbus_log log;		/* copied */
};

struct part_dev;

/*
 * Open the disks and the NIC backend and offer the devices on @hv's server
 * (before the guest runs). Returns 0 and *@out, or a negative errno with
 * the reason logged: the disk or NIC open errors, -ENOTSUP when this build
 * has no disk backend, -EINVAL for too many disks.
 */
int part_dev_new(struct part_hv *hv, const struct part_dev_config *cfg,
		 struct part_dev **out);

/* Start the NIC's receive thread (nothing without a NIC). 0 or -errno. */
int part_dev_start(struct part_dev *d);

/* Stop the receive thread; no device work runs afterwards except from a
 * VP's hypercall, so stop the VPs first. */
void part_dev_stop(struct part_dev *d);

/* Withdraw the offers, close the disks and the NIC. NULL is fine. Before
 * part_hv_free(). */
void part_dev_free(struct part_dev *d);

/* Print the device counters, one "vmbus-run: ..." line per device. */
void part_dev_report(struct part_dev *d, FILE *f);

#endif
