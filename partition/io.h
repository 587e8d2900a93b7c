/* SPDX-License-Identifier: MIT */
/*
 * Port I/O of a partition VP: the COM1 console, the exit and stop ports
 * and the hypercall ports of guest/abi.h. Decoding is separate from KVM so the
 * rules (what an IN of an unknown port reads, how string I/O is split)
 * are tested without /dev/kvm. UART register map: the 16550 (COM1 at
 * 0x3f8); the rest is this project's own contract.
 */
#ifndef PART_IO_H
#define PART_IO_H

#include <stdbool.h>
#include <stdint.h>

/* What a port access does. @ctx is the caller's; @vp the VP index. */
struct part_io_ops {
	void (*console)(void *ctx, uint8_t byte);
	void (*exit)(void *ctx, uint32_t vp, uint32_t status);
	/* OUT to PART_PORT_HCALL: run the hypercall in the VP's registers. */
	void (*hypercall)(void *ctx, uint32_t vp);
	/* IN from PART_PORT_HCALL_STATUS: the status of the last one. */
	uint32_t (*hypercall_status)(void *ctx, uint32_t vp);
	/* IN from PART_PORT_STOP: non-zero once the runner asks the guest to
	 * stop. May be NULL (reads 0). */
	bool (*stop_requested)(void *ctx);
};

/* Results of part_io_access(). */
enum part_io_result {
	PART_IO_OK = 0,		/* handled */
	PART_IO_UNKNOWN,	/* no device: OUT dropped, IN reads all ones */
	PART_IO_BAD,		/* size not 1, 2 or 4: ignored, @data untouched */
};

/*
 * One access of @size bytes (1, 2 or 4) at @port; @data is the value
 * written (@out) or receives the value read. String I/O (KVM's io.count
 * > 1) is @count accesses of consecutive @size-byte elements of @data.
 */
enum part_io_result part_io_access(const struct part_io_ops *ops, void *ctx,
				   uint32_t vp, uint16_t port, bool out,
				   uint8_t size, uint32_t count, uint8_t *data);

#endif
