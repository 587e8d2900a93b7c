/* SPDX-License-Identifier: MIT */
/*
 * An echo device for the host side of the bus: it offers one channel of
 * class "echo" and sends every in-band packet the guest writes back with
 * the same transaction id and payload: as a completion (VM_PKT_COMP) when
 * the guest asked for one, else as an in-band packet. It exists to
 * exercise and measure the bus, the links and the rings end to end.
 *
 * Packet formats: include/vmbus/proto/vmbus.h (struct vmpacket_descriptor,
 * VM_PKT_*), docs/PROTOCOL.md section 2.
 */
#ifndef VMBUS_EXAMPLES_ECHO_DEV_H
#define VMBUS_EXAMPLES_ECHO_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include <vmbus/log.h>
#include <vmbus/proto/vmbus.h>
#include <vmbus/server.h>

/*
 * The echo class GUID, made up for this project:
 * 6563686f-766d-4275-b373-6c6962766d62. Its first field spells "echo" and
 * its last group "libvmb" in ASCII; version 4 and variant bits are set so
 * it reads as a random GUID. No Hyper-V device uses it.
 */
#define ECHO_DEV_CLASS \
	VMBUS_GUID_INIT(0x6563686fu, 0x766du, 0x4275u, 0xb373u, 0x6c6962766d62ull)

struct echo_dev;

/* Counters since the device was created. */
struct echo_dev_stats {
	uint64_t opened;
	uint64_t closed;
	uint64_t packets;	/* echoed */
	uint64_t bytes;		/* payload bytes echoed */
	uint64_t dropped;	/* packets that were not in-band */
	uint64_t ring_full;	/* replies that waited for room */
};

/*
 * Offer an echo channel on @srv with instance GUID
 * 6563686f-0000-4000-8000-<@index as 12 hex digits>. Must run on the
 * thread that drives the server. Returns 0 or the vmbus_server_add_offer()
 * error (-EEXIST for an index already offered).
 */
int echo_dev_new(struct vmbus_server *srv, uint32_t index,
		 const struct vmbus_log *log, struct echo_dev **out);

/* Withdraw the offer (hot remove; the guest gets a rescind). The device
 * stays allocated and keeps its counters. 0 or -EINVAL if already removed. */
int echo_dev_remove(struct echo_dev *d);

/* Withdraw the offer if it is still there and free the device. */
void echo_dev_free(struct echo_dev *d);

/* True while the guest has the channel open. */
bool echo_dev_is_open(const struct echo_dev *d);

/* The channel's relid, 0 after echo_dev_remove(). */
uint32_t echo_dev_relid(const struct echo_dev *d);

void echo_dev_get_stats(const struct echo_dev *d, struct echo_dev_stats *out);

#endif
