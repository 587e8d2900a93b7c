/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the guest-facing SynIC surface (libvmbus/synic.c):
 * the HvPostMessage/HvSignalEvent decoder fed arbitrary control words,
 * fast arguments and input pages, and the SynIC fed arbitrary sequences of
 * MSR writes, posts, event flags, EOMs and guest scribbles over its pages.
 * Formats: Hyper-V TLFS via include/vmbus/proto/tlfs.h.
 *
 * Input: byte 0 picks the mode (even: hypercall, odd: SynIC sequence).
 *  hypercall: u64 control, u64 input, u8 opts, then bytes for guest RAM.
 *  sequence:  records of u8 op followed by op-specific argument bytes.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/synic.h>

#define RAM_PAGES	4u
#define RAM_SIZE	(RAM_PAGES * HV_PAGE_SIZE)
#define NVPS		2u
#define QLIMIT		8u

static uint8_t ram[RAM_SIZE] __attribute__((aligned(HV_PAGE_SIZE)));
static struct vmbus_synic_flat_ram flat = { ram, RAM_SIZE };
static const struct vmbus_synic_mem gmem = { vmbus_synic_flat_map, &flat };

/* A cursor over the fuzz input; reads past the end yield zeros. */
struct cur {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct cur *c, size_t bytes)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < bytes; i++) {
		uint64_t b = 0;

		if (c->n) {
			b = *c->p++;
			c->n--;
		}
		v |= b << (8 * i);
	}
	return v;
}

/* ---- Hypercall decoding ------------------------------------------------ */

static uint16_t on_msg(void *opaque, uint32_t id, uint32_t type,
		       const void *payload, uint32_t size)
{
	uint8_t copy[HV_MESSAGE_PAYLOAD_BYTE_COUNT];

	(void)opaque;
	if (size > HV_MESSAGE_PAYLOAD_BYTE_COUNT || type == 0 ||
	    (type & 0x80000000u) || (id != 1 && id != 4))
		__builtin_trap();
	memcpy(copy, payload, size);	/* ASan checks the bound */
	return type == HV_MESSAGE_TYPE_VMBUS ? HV_STATUS_SUCCESS :
					       HV_STATUS_INVALID_PARAMETER;
}

static uint16_t on_event(void *opaque, uint32_t id, uint16_t flag)
{
	(void)opaque;
	if (flag >= HV_EVENT_FLAGS_COUNT || (id != 2 && id != 0x10))
		__builtin_trap();
	return HV_STATUS_SUCCESS;
}

static struct vmbus_synic_conns *conns_get(void)
{
	static struct vmbus_synic_conns *t;

	if (!t) {
		if (vmbus_synic_conns_new(&t) ||
		    vmbus_synic_conns_add_message(t, 1, on_msg, NULL) ||
		    vmbus_synic_conns_add_message(t, 4, on_msg, NULL) ||
		    vmbus_synic_conns_add_event(t, 2, on_event, NULL) ||
		    vmbus_synic_conns_add_event(t, 0x10, on_event, NULL))
			__builtin_trap();
	}
	return t;
}

static void fuzz_hcall(struct cur *c)
{
	struct vmbus_synic_conns *t = conns_get();
	struct vmbus_synic_hcall call;
	uint64_t control, input;
	uint16_t st, st2;
	uint8_t opts;
	size_t n, off;

	control = take(c, 8);
	input = take(c, 8);
	opts = (uint8_t)take(c, 1);
	/* Mostly keep the GPA near RAM so the decoder gets past the bounds. */
	if (opts & 1)
		input %= RAM_SIZE + HV_PAGE_SIZE;
	if (opts & 2)
		control &= 0xffff | HV_HYPERCALL_FAST_BIT;
	/* The rest of the input is guest RAM, from page 0 or page 1. */
	off = opts & 4 ? 0 : HV_PAGE_SIZE;
	n = c->n < RAM_SIZE - off ? c->n : RAM_SIZE - off;
	memset(ram, 0, sizeof(ram));
	memcpy(ram + off, c->p, n);

	st = vmbus_synic_hcall_decode(control, input, &gmem, t, &call);
	if (st == HV_STATUS_SUCCESS) {
		if (call.code == HVCALL_POST_MESSAGE &&
		    (call.post.payload_size > HV_MESSAGE_PAYLOAD_BYTE_COUNT ||
		     call.fast))
			__builtin_trap();
		if (call.code == HVCALL_SIGNAL_EVENT &&
		    call.signal.flag >= HV_EVENT_FLAGS_COUNT)
			__builtin_trap();
		(void)vmbus_synic_hcall_dispatch(t, &call);
	}
	/* The one-shot path must agree with decode on every refusal. */
	st2 = vmbus_synic_hcall_handle(control, input, &gmem, t);
	if (st != HV_STATUS_SUCCESS && st2 != st)
		__builtin_trap();
}

/* ---- SynIC sequences --------------------------------------------------- */

static void on_raise(void *opaque, uint32_t vp, uint32_t sint, uint8_t vector)
{
	(void)opaque;
	if (vp >= NVPS || sint >= HV_SINT_COUNT || vector < HV_SINT_VECTOR_MIN)
		__builtin_trap();
}

static const uint32_t msrs[] = {
	HV_X64_MSR_SCONTROL, HV_X64_MSR_SVERSION, HV_X64_MSR_SIEFP,
	HV_X64_MSR_SIMP, HV_X64_MSR_EOM, HV_X64_MSR_GUEST_OS_ID,
	0x40000085,
};

static uint32_t pick_msr(uint8_t b)
{
	if (b < 16)
		return HV_X64_MSR_SINT0 + b;
	return msrs[b % (sizeof(msrs) / sizeof(msrs[0]))];
}

/* Page MSR values are mostly built from a page index (some beyond RAM). */
static uint64_t pick_value(struct cur *c, uint32_t msr)
{
	uint8_t how = (uint8_t)take(c, 1);

	if (how & 0x80)
		return take(c, 8);
	if (msr == HV_X64_MSR_SIMP || msr == HV_X64_MSR_SIEFP)
		return ((uint64_t)(how % (RAM_PAGES + 2)) << HV_PAGE_SHIFT) |
		       ((how >> 4) & 1);
	if (msr >= HV_X64_MSR_SINT0 && msr <= HV_X64_MSR_SINT15)
		return (how & 0x40 ? HV_SINT_MASKED : 0) | (how & 0x3f ? 0xf3 : 0x5);
	return how & 3;
}

static void fuzz_sequence(struct cur *c)
{
	struct vmbus_synic_config cfg = {
		.vp_count = NVPS, .queue_limit = QLIMIT, .mem = gmem,
		.raise = on_raise,
	};
	struct vmbus_synic *s;
	unsigned int ops = 0;

	memset(ram, 0, sizeof(ram));
	if (vmbus_synic_new(&cfg, &s))
		__builtin_trap();
	while (c->n && ops++ < 512) {
		uint8_t op = (uint8_t)take(c, 1);
		uint32_t vp = (op >> 4) & 1 ? 1 : 0;
		uint8_t payload[HV_MESSAGE_PAYLOAD_BYTE_COUNT + 8];
		uint64_t v;
		uint32_t msr, sint, size, i;
		int ret;

		if (op & 0x20)
			vp = (uint32_t)take(c, 1);	/* sometimes out of range */
		switch (op & 0xf) {
		case 0:
		case 1:
			msr = pick_msr((uint8_t)take(c, 1));
			v = pick_value(c, msr);
			ret = vmbus_synic_wrmsr(s, vp, msr, v);
			if (ret && ret != -EINVAL && ret != -ENOENT)
				__builtin_trap();
			break;
		case 2:
			msr = pick_msr((uint8_t)take(c, 1));
			ret = vmbus_synic_rdmsr(s, vp, msr, &v);
			if (ret && ret != -EINVAL && ret != -ENOENT)
				__builtin_trap();
			break;
		case 3:
		case 4:
			sint = (uint32_t)take(c, 1) % 18;
			size = (uint32_t)take(c, 1);
			for (i = 0; i < size && i < sizeof(payload); i++)
				payload[i] = (uint8_t)take(c, 1);
			ret = vmbus_synic_post(s, vp, sint, (uint32_t)take(c, 1),
					       take(c, 2), payload, size);
			if (ret && ret != -EINVAL && ret != -ENOBUFS)
				__builtin_trap();
			break;
		case 5:
			sint = (uint32_t)take(c, 1) % 18;
			ret = vmbus_synic_set_event(s, vp, sint,
						    (uint32_t)take(c, 2) % 2100);
			if (ret < 0 && ret != -EINVAL && ret != -ENODEV)
				__builtin_trap();
			break;
		case 6:
			/* The guest frees a slot the Linux way (any page may be SIMP). */
			v = take(c, 1);
			i = (uint32_t)(v % RAM_PAGES) * HV_PAGE_SIZE +
			    (uint32_t)((v >> 2) % HV_SINT_COUNT) * HV_MESSAGE_SIZE;
			memset(ram + i, 0, 4);
			if (ram[i + 5] & HV_MESSAGE_FLAG_PENDING)
				(void)vmbus_synic_wrmsr(s, vp, HV_X64_MSR_EOM, 0);
			break;
		case 7:
			/* Hostile guest: scribble anywhere, including live slots. */
			v = take(c, 2) % RAM_SIZE;
			ram[v] = (uint8_t)take(c, 1);
			break;
		case 8:
			(void)vmbus_synic_wrmsr(s, vp, HV_X64_MSR_EOM, take(c, 1));
			break;
		case 9:
			ret = vmbus_synic_retry(s, vp);
			if (ret < 0 && ret != -EINVAL)
				__builtin_trap();
			break;
		case 10:
			if ((take(c, 1) & 0xf) == 0)
				vmbus_synic_reset(s);
			break;
		default:
			sint = (uint32_t)take(c, 1) % HV_SINT_COUNT;
			ret = vmbus_synic_queued(s, vp, sint);
			if (ret > (int)QLIMIT || (ret < 0 && ret != -EINVAL))
				__builtin_trap();
			break;
		}
	}
	vmbus_synic_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cur c = { data, size };

	if (!size)
		return 0;
	if (take(&c, 1) & 1)
		fuzz_sequence(&c);
	else
		fuzz_hcall(&c);
	return 0;
}
