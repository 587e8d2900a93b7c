/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for what a partition guest can throw at the runner
 * without KVM in the way: arbitrary WRMSR/RDMSR sequences on the Hyper-V
 * MSR range (partition/hvmsr.c and the SynIC of libvmbus/synic.c behind
 * it), hypercalls through the runner's entry point (partition/hv.c, with
 * the VMBus server and its test offer behind it), and, when the first byte
 * asks for it, the rest of the input as a guest ELF image
 * (partition/elf.c). MSR numbers and layouts: include/vmbus/proto/tlfs.h.
 *
 * Input: a sequence of records
 *   op (1 byte), vp (1 byte), then per op:
 *   0 WRMSR: msr selector (1), value (8)
 *   1 RDMSR: msr selector (1)
 *   2 WRMSR of a page address: msr selector (1), page (1), low bits (2)
 *   3 hypercall: control (8), input (8)
 *   4 guest writes RAM: offset (2), byte (1)
 * A first byte of 0xe1 instead makes the rest an ELF image.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/proto/tlfs.h>

#include "../partition/elf_loader.h"
#include "../partition/hv.h"

#define RAM_SIZE	(64u * 1024)
#define ELF_RAM_SIZE	(2u << 20)
#define VPS		2

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
static uint8_t *elf_ram;
static uint64_t fake_ns;

/* The MSRs worth hitting most, then raw offsets into the range. */
static const uint32_t msrs[] = {
	HV_X64_MSR_GUEST_OS_ID, HV_X64_MSR_HYPERCALL, HV_X64_MSR_VP_INDEX,
	HV_X64_MSR_RESET, HV_X64_MSR_TIME_REF_COUNT, HV_X64_MSR_REFERENCE_TSC,
	HV_X64_MSR_TSC_FREQUENCY, HV_X64_MSR_APIC_FREQUENCY,
	HV_X64_MSR_SCONTROL, HV_X64_MSR_SVERSION, HV_X64_MSR_SIEFP,
	HV_X64_MSR_SIMP, HV_X64_MSR_EOM, HV_X64_MSR_SINT0,
	HV_X64_MSR_SINT0 + 1, HV_X64_MSR_SINT0 + 2, HV_X64_MSR_SINT15,
	0x3fffffff, 0x40000100,
};

static uint32_t pick_msr(uint8_t sel)
{
	if (sel < sizeof(msrs) / sizeof(msrs[0]))
		return msrs[sel];
	return 0x40000000u + sel;
}

static uint64_t fake_clock(void *opaque)
{
	(void)opaque;
	return fake_ns += 250;
}

static void raise_noop(void *opaque, uint32_t vp, uint32_t sint, uint8_t vector)
{
	(void)opaque;
	if (vp >= VPS || sint >= HV_SINT_COUNT || vector < HV_SINT_VECTOR_MIN)
		abort();
}

static uint64_t get(const uint8_t **p, size_t *n, size_t len)
{
	uint64_t v = 0;

	if (len > *n)
		len = *n;
	memcpy(&v, *p, len);
	*p += len;
	*n -= len;
	return v;
}

static void run_msrs(const uint8_t *d, size_t n)
{
	struct part_hv_config cfg = {
		.vp_count = VPS,
		.ram = ram,
		.ram_size = RAM_SIZE,
		.raise = raise_noop,
		.clock = fake_clock,
		.tsc_hz = 1000000000ull,
		.apic_hz = 1000000000ull,
		.test_offer = true,
	};
	uint64_t last_ref[VPS] = { 0 };
	struct part_hv *hv;

	memset(ram, 0, sizeof(ram));
	if (part_hv_new(&cfg, &hv))
		abort();
	while (n >= 2) {
		uint8_t op = (uint8_t)get(&d, &n, 1) % 5;
		uint32_t vp = (uint32_t)get(&d, &n, 1) % (VPS + 1);
		uint32_t msr;
		uint64_t v, in;

		switch (op) {
		case 0:
			msr = pick_msr((uint8_t)get(&d, &n, 1));
			part_hv_wrmsr(hv, vp, msr, get(&d, &n, 8));
			break;
		case 1:
			msr = pick_msr((uint8_t)get(&d, &n, 1));
			v = 0;
			if (part_hv_rdmsr(hv, vp, msr, &v) != PART_HVMSR_OK)
				break;
			if (msr == HV_X64_MSR_VP_INDEX && v != vp)
				abort();
			if (msr == HV_X64_MSR_TIME_REF_COUNT) {
				if (v < last_ref[vp])
					abort();
				last_ref[vp] = v;
			}
			break;
		case 2:
			msr = pick_msr((uint8_t)get(&d, &n, 1));
			v = get(&d, &n, 1) * (uint64_t)HV_PAGE_SIZE;
			v |= get(&d, &n, 2) & 0xfff;
			part_hv_wrmsr(hv, vp, msr, v);
			break;
		case 3:
			v = get(&d, &n, 8);
			in = get(&d, &n, 8);
			part_hv_hypercall(hv, vp, v, in);
			break;
		case 4:
			v = get(&d, &n, 2) % RAM_SIZE;
			ram[v] = (uint8_t)get(&d, &n, 1);
			break;
		}
	}
	part_hv_free(hv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct part_elf_image img;

	if (size && data[0] == 0xe1) {
		if (!elf_ram && !(elf_ram = malloc(ELF_RAM_SIZE)))
			abort();
		if (!part_elf_load(data + 1, size - 1, elf_ram, ELF_RAM_SIZE,
				   0x1000, &img) &&
		    (img.entry < img.low || img.entry >= img.high ||
		     img.high > ELF_RAM_SIZE || img.low < 0x1000))
			abort();
		return 0;
	}
	run_msrs(data, size);
	return 0;
}
