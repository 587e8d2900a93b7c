/* SPDX-License-Identifier: MIT */
/*
 * Port I/O dispatch for partition VPs. COM1: 16550 register map (THR at
 * +0, LSR at +5); the other ports: partition/guest/abi.h.
 */
#include <string.h>

#include "guest/abi.h"
#include "io.h"

static uint32_t load(const uint8_t *p, uint8_t size)
{
	uint32_t v = 0;

	memcpy(&v, p, size);	/* little-endian host, like the guest */
	return v;
}

static void store(uint8_t *p, uint8_t size, uint32_t v)
{
	memcpy(p, &v, size);
}

static enum part_io_result one_out(const struct part_io_ops *ops, void *ctx,
				   uint32_t vp, uint16_t port, uint32_t v)
{
	switch (port) {
	case PART_PORT_COM1:
		ops->console(ctx, (uint8_t)v);
		return PART_IO_OK;
	case PART_PORT_COM1 + 1 ... PART_PORT_COM1 + 7:
		return PART_IO_OK;	/* UART set-up: nothing to model */
	case PART_PORT_EXIT:
		ops->exit(ctx, vp, v);
		return PART_IO_OK;
	case PART_PORT_HCALL:
		ops->hypercall(ctx, vp);
		return PART_IO_OK;
	default:
		return PART_IO_UNKNOWN;
	}
}

static enum part_io_result one_in(const struct part_io_ops *ops, void *ctx,
				  uint32_t vp, uint16_t port, uint32_t *v)
{
	switch (port) {
	case PART_PORT_COM1_LSR:
		*v = PART_UART_LSR_THRE | PART_UART_LSR_TEMT;
		return PART_IO_OK;
	case PART_PORT_COM1 ... PART_PORT_COM1 + 4:
	case PART_PORT_COM1 + 6 ... PART_PORT_COM1 + 7:
		*v = 0;		/* no input, no modem lines */
		return PART_IO_OK;
	case PART_PORT_HCALL_STATUS:
		*v = ops->hypercall_status(ctx, vp);
		return PART_IO_OK;
	case PART_PORT_STOP:
		*v = ops->stop_requested && ops->stop_requested(ctx);
		return PART_IO_OK;
	default:
		*v = 0xffffffffu;	/* what an empty ISA bus reads */
		return PART_IO_UNKNOWN;
	}
}

enum part_io_result part_io_access(const struct part_io_ops *ops, void *ctx,
				   uint32_t vp, uint16_t port, bool out,
				   uint8_t size, uint32_t count, uint8_t *data)
{
	enum part_io_result res = PART_IO_OK, r;
	uint32_t i, v;

	if (size != 1 && size != 2 && size != 4)
		return PART_IO_BAD;
	for (i = 0; i < count; i++) {
		uint8_t *p = data + (size_t)i * size;

		if (out) {
			r = one_out(ops, ctx, vp, port, load(p, size));
		} else {
			r = one_in(ops, ctx, vp, port, &v);
			store(p, size, v);
		}
		if (r != PART_IO_OK)
			res = r;
	}
	return res;
}
