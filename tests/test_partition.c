/* SPDX-License-Identifier: MIT */
/*
 * Tests for the partition runner (partition/). Without arguments: the
 * parts that need no /dev/kvm: the Hyper-V CPUID table, the synthetic MSR
 * state machine, the ELF loader (hand-made and hostile images), the
 * long-mode set-up, port I/O decoding, the command line, and the
 * hypervisor model driven by the real VMBus client through hypercalls and
 * the SIMP page. With "kvm GUEST.elf": boot the self-test guest in a real
 * partition (default and hostile modes); exits 77 (skipped) with the
 * reason when /dev/kvm is unusable. With "emulate GUEST.elf": boot it on
 * the CPU emulator with a raw scratch disk, a read-only VHDX (qemu-img),
 * the null NIC and a TAP NIC pinged from a network namespace; exits 77
 * when the build has no emulator.
 *
 * Expected values: Hyper-V TLFS via include/vmbus/proto/tlfs.h, Linux
 * mshyperv.c requirements (docs/PROTOCOL.md s. 1 and 7), the ELF-64 gABI,
 * Intel SDM vol. 3 paging and descriptor formats; the disk pattern is the
 * self-test guest's (partition/guest/gdisk.c).
 */
#define _GNU_SOURCE
#include <check.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vmbus/client.h>
#include <vmbus/proto/tlfs.h>
#include <vmbus/proto/vmbus.h>

#include "../partition/cpuid.h"
#include "../partition/elf_loader.h"
#include "../partition/wait.h"
#include "../partition/emu.h"
#include "../partition/guest/abi.h"
#include "../partition/hv.h"
#include "../partition/hvmsr.h"
#include "../partition/io.h"
#include "../partition/opts.h"
#include "../partition/vm.h"
#include "../partition/x86.h"

static const char *guest_elf;	/* from the command line, may be NULL */

/* ======================================================================
 * CPUID
 * ====================================================================== */

static const struct part_cpuid_config ccfg = { .vp_count = 4 };

/* A host table the way KVM_GET_SUPPORTED_CPUID returns it, KVM
 * signature leaves included. */
static uint32_t fake_host(struct kvm_cpuid_entry2 *e)
{
	uint32_t n = 0;

	memset(e, 0, 8 * sizeof(*e));
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0, .eax = 0xd };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 1, .ebx = 0xab000800,
					    .ecx = 0x00200000, .edx = 0x1 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 0,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .edx = 7 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 1,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .edx = 7, .ecx = 0x201 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x40000000,
		.eax = 0x40000001, .ebx = 0x4b4d564b, .ecx = 0x564b4d56,
		.edx = 0x4d };	/* "KVMKVMKVM" */
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x40000001, .eax = 0x1fb };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x40000100, .eax = 1 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x80000000,
					    .eax = 0x80000008 };
	return n;
}

START_TEST(cpuid_hv_leaves)
{
	struct kvm_cpuid_entry2 e[8];
	const struct kvm_cpuid_entry2 *l;
	int n = part_cpuid_hv_leaves(&ccfg, e, 8);

	ck_assert_int_eq(n, 7);
	l = part_cpuid_find(e, n, 0x40000000, 0);
	ck_assert_ptr_nonnull(l);
	ck_assert_uint_eq(l->eax, 0x40000006);
	ck_assert_uint_ge(l->eax, HYPERV_CPUID_MIN);
	ck_assert_mem_eq(&l->ebx, "Micr", 4);
	ck_assert_mem_eq(&l->ecx, "osof", 4);
	ck_assert_mem_eq(&l->edx, "t Hv", 4);
	ck_assert_uint_eq(part_cpuid_find(e, n, 0x40000001, 0)->eax,
			  HV_CPUID_SIGNATURE_EAX);
	l = part_cpuid_find(e, n, 0x40000003, 0);
	ck_assert_uint_eq(l->eax, HV_MSR_HYPERCALL_AVAILABLE |
			  HV_MSR_VP_INDEX_AVAILABLE | HV_MSR_SYNIC_AVAILABLE |
			  HV_MSR_TIME_REF_COUNT_AVAILABLE);
	ck_assert_uint_eq(l->ebx, HV_POST_MESSAGES | HV_SIGNAL_EVENTS);
	ck_assert_uint_eq(l->ebx & (HV_CPU_MANAGEMENT | HV_ISOLATION), 0);
	ck_assert_uint_eq(l->edx, 0);
	l = part_cpuid_find(e, n, 0x40000004, 0);
	ck_assert(l->eax & HV_DEPRECATING_AEOI_RECOMMENDED);
	ck_assert_uint_eq(l->eax & HV_X64_APIC_ACCESS_RECOMMENDED, 0);
	ck_assert_uint_eq(part_cpuid_find(e, n, 0x40000005, 0)->eax, 4);
	ck_assert_ptr_nonnull(part_cpuid_find(e, n, 0x40000006, 0));
	ck_assert_int_eq(part_cpuid_hv_leaves(&ccfg, e, 6), -ENOSPC);
}
END_TEST

START_TEST(cpuid_frequency_bits)
{
	struct part_cpuid_config c = { .vp_count = 1, .tsc_hz = 2000000000ull,
				       .apic_hz = 1000000000ull };
	struct kvm_cpuid_entry2 e[8];
	const struct kvm_cpuid_entry2 *l;

	ck_assert_int_eq(part_cpuid_hv_leaves(&c, e, 8), 7);
	l = part_cpuid_find(e, 7, 0x40000003, 0);
	ck_assert(l->eax & HV_ACCESS_FREQUENCY_MSRS);
	ck_assert(l->edx & PART_HV_FEATURE_FREQUENCY_MSRS);
	/* One frequency alone is not enough to advertise the MSRs. */
	c.apic_hz = 0;
	ck_assert_int_eq(part_cpuid_hv_leaves(&c, e, 8), 7);
	l = part_cpuid_find(e, 7, 0x40000003, 0);
	ck_assert_uint_eq(l->eax & HV_ACCESS_FREQUENCY_MSRS, 0);
	ck_assert_uint_eq(l->edx, 0);
}
END_TEST

START_TEST(cpuid_merge_drops_kvm)
{
	struct kvm_cpuid_entry2 host[8], out[32];
	uint32_t hn = fake_host(host), i;
	const struct kvm_cpuid_entry2 *l;
	int n = part_cpuid_build(host, hn, &ccfg, out, 32);

	ck_assert_int_eq(n, (int)(hn - 3 + 7));
	for (i = 0; i < (uint32_t)n; i++) {
		/* No trace of the KVM signature anywhere. */
		ck_assert(out[i].ebx != 0x4b4d564b);
		ck_assert(out[i].function <= 0x40000006 ||
			  out[i].function >= 0x50000000);
	}
	ck_assert_ptr_null(part_cpuid_find(out, n, 0x40000100, 0));
	l = part_cpuid_find(out, n, 1, 0);
	ck_assert(l->ecx & PART_CPUID_1_ECX_HYPERVISOR);
	ck_assert(l->ecx & 0x00200000);		/* host bits kept */
	ck_assert_uint_eq(l->edx, 1);
	ck_assert_ptr_nonnull(part_cpuid_find(out, n, 0x80000000, 0));
	ck_assert_uint_eq(part_cpuid_find(out, n, 0x40000000, 0)->ebx,
			  0x7263694d);	/* "Micr" */
}
END_TEST

START_TEST(cpuid_merge_errors)
{
	struct kvm_cpuid_entry2 host[8], out[32];
	struct part_cpuid_config zero = { 0 };
	uint32_t hn = fake_host(host);

	ck_assert_int_eq(part_cpuid_build(host, hn, &ccfg, out, 4), -ENOSPC);
	ck_assert_int_eq(part_cpuid_build(host, hn, &ccfg, out, 11), -ENOSPC);
	ck_assert_int_eq(part_cpuid_build(host, hn, &ccfg, out, 12), 12);
	ck_assert_int_eq(part_cpuid_build(host, hn, &zero, out, 32), -EINVAL);
	ck_assert_int_eq(part_cpuid_build(NULL, 1, &ccfg, out, 32), -EINVAL);
	ck_assert_int_eq(part_cpuid_build(NULL, 0, &ccfg, out, 32), 7);
}
END_TEST

START_TEST(cpuid_per_vp)
{
	struct kvm_cpuid_entry2 host[8], out[32];
	uint32_t hn = fake_host(host);
	int n = part_cpuid_build(host, hn, &ccfg, out, 32);

	ck_assert_int_eq(part_cpuid_set_vp(out, n, 3), 3);
	ck_assert_uint_eq(part_cpuid_find(out, n, 1, 0)->ebx, 0x03000800);
	ck_assert_uint_eq(part_cpuid_find(out, n, 0xb, 0)->edx, 3);
	ck_assert_uint_eq(part_cpuid_find(out, n, 0xb, 1)->edx, 3);
	ck_assert_uint_eq(part_cpuid_find(out, n, 0xb, 1)->ecx, 0x201);
	ck_assert_ptr_null(part_cpuid_find(out, n, 0xb, 2));
}
END_TEST

/* ======================================================================
 * Synthetic MSRs
 * ====================================================================== */

#define MRAM_SIZE	(64u * HV_PAGE_SIZE)
static uint8_t *mram;
static struct vmbus_synic_flat_ram mflat;
static struct vmbus_synic *msyn;
static struct part_hvmsr *msr;
static uint64_t fake_now;

static uint64_t fake_clock(void *opaque)
{
	(void)opaque;
	return fake_now;
}

static void noop_raise(void *opaque, uint32_t vp, uint32_t sint, uint8_t vector)
{
	(void)opaque;
	(void)vp;
	(void)sint;
	(void)vector;
}

static void make_msr(uint64_t tsc, uint64_t apic, bool synic)
{
	struct vmbus_synic_config scfg = {
		.vp_count = 2,
		.mem = { vmbus_synic_flat_map, &mflat },
		.raise = noop_raise,
	};
	struct part_hvmsr_config cfg = {
		.vp_count = 2,
		.mem = { vmbus_synic_flat_map, &mflat },
		.clock = fake_clock,
		.tsc_hz = tsc,
		.apic_hz = apic,
	};

	if (synic) {
		ck_assert_int_eq(vmbus_synic_new(&scfg, &msyn), 0);
		cfg.synic = msyn;
	}
	ck_assert_int_eq(part_hvmsr_new(&cfg, &msr), 0);
}

static void msr_setup(void)
{
	mram = calloc(1, MRAM_SIZE);
	mflat = (struct vmbus_synic_flat_ram){ mram, MRAM_SIZE };
	fake_now = 5000;
	msyn = NULL;
	make_msr(0, 0, true);
}

static void msr_teardown(void)
{
	part_hvmsr_free(msr);
	vmbus_synic_free(msyn);
	free(mram);
}

static uint64_t rd(uint32_t vp, uint32_t m)
{
	uint64_t v = 0xdeadbeef;

	ck_assert_int_eq(part_hvmsr_rdmsr(msr, vp, m, &v), PART_HVMSR_OK);
	return v;
}

START_TEST(msr_guest_os_id_and_hypercall)
{
	const uint64_t page = 0x5000;

	ck_assert_uint_eq(rd(0, HV_X64_MSR_GUEST_OS_ID), 0);
	/* Before GUEST_OS_ID the write is ignored, as KVM does. */
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_HYPERCALL,
					  page | HV_MSR_ENABLE), PART_HVMSR_OK);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_HYPERCALL), 0);
	ck_assert(!part_hvmsr_hypercall_enabled(msr));
	ck_assert_uint_eq(mram[page], 0);

	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 1, HV_X64_MSR_GUEST_OS_ID,
					  0x8100000000060000ull), PART_HVMSR_OK);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_GUEST_OS_ID), 0x8100000000060000ull);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_HYPERCALL,
					  page | HV_MSR_ENABLE), PART_HVMSR_OK);
	ck_assert_uint_eq(rd(1, HV_X64_MSR_HYPERCALL), page | HV_MSR_ENABLE);
	ck_assert(part_hvmsr_hypercall_enabled(msr));
	/* out $0xe4,%al ; in $0xe5,%eax ; ret ; then INT3 */
	ck_assert_uint_eq(mram[page + 0], 0xe6);
	ck_assert_uint_eq(mram[page + 1], PART_PORT_HCALL);
	ck_assert_uint_eq(mram[page + 2], 0xe5);
	ck_assert_uint_eq(mram[page + 3], PART_PORT_HCALL_STATUS);
	ck_assert_uint_eq(mram[page + 4], 0xc3);
	ck_assert_uint_eq(mram[page + 5], 0xcc);
	ck_assert_uint_eq(mram[page + HV_PAGE_SIZE - 1], 0xcc);
	ck_assert_uint_eq(mram[page + HV_PAGE_SIZE], 0);

	/* GUEST_OS_ID 0 disables the page but keeps its address. */
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_GUEST_OS_ID, 0),
			 PART_HVMSR_OK);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_HYPERCALL), page);
	ck_assert(!part_hvmsr_hypercall_enabled(msr));
}
END_TEST

START_TEST(msr_hypercall_hostile)
{
	const uint64_t good = 0x6000 | HV_MSR_ENABLE;

	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_GUEST_OS_ID, 1),
			 PART_HVMSR_OK);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_HYPERCALL, good),
			 PART_HVMSR_OK);
	/* Outside RAM: just past the end, far away, the last page of 2^64. */
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_HYPERCALL,
					  MRAM_SIZE | HV_MSR_ENABLE), PART_HVMSR_GP);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_HYPERCALL,
					  0xfee00000ull | HV_MSR_ENABLE), PART_HVMSR_GP);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_HYPERCALL,
					  ~0xfffull | HV_MSR_ENABLE), PART_HVMSR_GP);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_HYPERCALL), good);
	/* The last page of RAM is fine. */
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_HYPERCALL,
					  (MRAM_SIZE - HV_PAGE_SIZE) | HV_MSR_ENABLE),
			 PART_HVMSR_OK);
	/* Reserved bits 11:2, each end. */
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_HYPERCALL,
					  good | 1ull << 2), PART_HVMSR_GP);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_HYPERCALL,
					  good | 1ull << 11), PART_HVMSR_GP);
	/* A disabled page outside RAM is only an address: accepted. */
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_HYPERCALL,
					  0xfee00000ull), PART_HVMSR_OK);
	ck_assert(!part_hvmsr_hypercall_enabled(msr));
}
END_TEST

START_TEST(msr_hypercall_locked)
{
	const uint64_t locked = 0x7000 | HV_MSR_ENABLE | PART_HVMSR_HYPERCALL_LOCKED;

	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_GUEST_OS_ID, 1),
			 PART_HVMSR_OK);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_HYPERCALL, locked),
			 PART_HVMSR_OK);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_HYPERCALL, locked),
			 PART_HVMSR_OK);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 1, HV_X64_MSR_HYPERCALL,
					  0x8000 | HV_MSR_ENABLE), PART_HVMSR_GP);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_HYPERCALL, 0),
			 PART_HVMSR_GP);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_HYPERCALL), locked);
	ck_assert(part_hvmsr_hypercall_enabled(msr));
}
END_TEST

START_TEST(msr_vp_index_and_time)
{
	ck_assert_uint_eq(rd(0, HV_X64_MSR_VP_INDEX), 0);
	ck_assert_uint_eq(rd(1, HV_X64_MSR_VP_INDEX), 1);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_VP_INDEX, 0),
			 PART_HVMSR_GP);
	/* 100 ns units since creation (the fake clock read 5000 ns then). */
	ck_assert_uint_eq(rd(0, HV_X64_MSR_TIME_REF_COUNT), 0);
	fake_now = 5000 + 12345;
	ck_assert_uint_eq(rd(1, HV_X64_MSR_TIME_REF_COUNT), 123);
	fake_now = 5000 + 10ull * 1000000000;
	ck_assert_uint_eq(rd(0, HV_X64_MSR_TIME_REF_COUNT), 100000000);
	fake_now = 0;	/* a clock going back never makes it wrap */
	ck_assert_uint_eq(rd(0, HV_X64_MSR_TIME_REF_COUNT), 0);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_TIME_REF_COUNT, 0),
			 PART_HVMSR_GP);
}
END_TEST

START_TEST(msr_frequencies)
{
	uint64_t v;

	/* Not configured: #GP both ways. */
	ck_assert_int_eq(part_hvmsr_rdmsr(msr, 0, HV_X64_MSR_TSC_FREQUENCY, &v),
			 PART_HVMSR_GP);
	ck_assert_int_eq(part_hvmsr_rdmsr(msr, 0, HV_X64_MSR_APIC_FREQUENCY, &v),
			 PART_HVMSR_GP);
	part_hvmsr_free(msr);
	make_msr(2400000000ull, 1000000000ull, false);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_TSC_FREQUENCY), 2400000000ull);
	ck_assert_uint_eq(rd(1, HV_X64_MSR_APIC_FREQUENCY), 1000000000ull);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_TSC_FREQUENCY, 1),
			 PART_HVMSR_GP);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_APIC_FREQUENCY, 1),
			 PART_HVMSR_GP);
}
END_TEST

START_TEST(msr_unknown_and_range)
{
	uint64_t v = 77;

	ck_assert_int_eq(part_hvmsr_rdmsr(msr, 0, HV_X64_MSR_RESET, &v), PART_HVMSR_GP);
	ck_assert_int_eq(part_hvmsr_rdmsr(msr, 0, HV_X64_MSR_VP_RUNTIME, &v),
			 PART_HVMSR_GP);
	ck_assert_int_eq(part_hvmsr_rdmsr(msr, 0, HV_X64_MSR_REFERENCE_TSC, &v),
			 PART_HVMSR_GP);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_VP_ASSIST_PAGE, 1),
			 PART_HVMSR_GP);
	ck_assert_int_eq(part_hvmsr_rdmsr(msr, 0, PART_HVMSR_LAST, &v), PART_HVMSR_GP);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, PART_HVMSR_LAST, 0), PART_HVMSR_GP);
	ck_assert_uint_eq(v, 77);
	/* Outside the range it is someone else's MSR. */
	ck_assert_int_eq(part_hvmsr_rdmsr(msr, 0, PART_HVMSR_LAST + 1, &v),
			 PART_HVMSR_NOT_HV);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, PART_HVMSR_FIRST - 1, 0),
			 PART_HVMSR_NOT_HV);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, 0x1b, 0), PART_HVMSR_NOT_HV);
	/* A VP that does not exist. */
	ck_assert_int_eq(part_hvmsr_rdmsr(msr, 2, HV_X64_MSR_VP_INDEX, &v),
			 PART_HVMSR_GP);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 2, HV_X64_MSR_GUEST_OS_ID, 1),
			 PART_HVMSR_GP);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_GUEST_OS_ID), 0);
}
END_TEST

START_TEST(msr_synic_routing)
{
	uint64_t v;

	ck_assert_uint_eq(rd(0, HV_X64_MSR_SVERSION), HV_SYNIC_VERSION_1);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_SVERSION, 2),
			 PART_HVMSR_GP);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 1, HV_X64_MSR_SIMP,
					  0x3000 | HV_MSR_ENABLE), PART_HVMSR_OK);
	ck_assert_uint_eq(rd(1, HV_X64_MSR_SIMP), 0x3000 | HV_MSR_ENABLE);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_SIMP), 0);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_SIMP,
					  MRAM_SIZE | HV_MSR_ENABLE), PART_HVMSR_GP);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_SIEFP,
					  (1ull << 40) | HV_MSR_ENABLE), PART_HVMSR_GP);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_SINT0 + 2,
					  HV_SINT_MASKED | 1ull << 20), PART_HVMSR_GP);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_SINT0 + 2, 0xf3),
			 PART_HVMSR_OK);
	ck_assert_uint_eq(rd(0, HV_X64_MSR_SINT0 + 2), 0xf3);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_SCONTROL, 3),
			 PART_HVMSR_GP);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_EOM, 0), PART_HVMSR_OK);

	/* Without a SynIC its MSRs do not exist. */
	part_hvmsr_free(msr);
	make_msr(0, 0, false);
	ck_assert_int_eq(part_hvmsr_rdmsr(msr, 0, HV_X64_MSR_SVERSION, &v),
			 PART_HVMSR_GP);
	ck_assert_int_eq(part_hvmsr_wrmsr(msr, 0, HV_X64_MSR_SCONTROL, 1),
			 PART_HVMSR_GP);
}
END_TEST

START_TEST(msr_new_errors)
{
	struct part_hvmsr_config cfg = {
		.vp_count = 1,
		.mem = { vmbus_synic_flat_map, &mflat },
	};
	struct part_hvmsr *h;

	ck_assert_int_eq(part_hvmsr_new(NULL, &h), -EINVAL);
	cfg.vp_count = 0;
	ck_assert_int_eq(part_hvmsr_new(&cfg, &h), -EINVAL);
	cfg.vp_count = 4097;
	ck_assert_int_eq(part_hvmsr_new(&cfg, &h), -EINVAL);
	cfg.vp_count = 1;
	cfg.mem.map = NULL;
	ck_assert_int_eq(part_hvmsr_new(&cfg, &h), -EINVAL);
	part_hvmsr_free(NULL);
}
END_TEST

/* ======================================================================
 * ELF loader
 * ====================================================================== */

#define ERAM_SIZE	(4u << 20)
#define IMG_MAX		8192
static uint8_t *eram;
static uint8_t img[IMG_MAX];
static size_t img_len;

/* A valid image: text (RX, 0x100 bytes at 1 MiB) and data (RW, 0x40
 * bytes of file, 0x1000 in memory at 1 MiB + 64 KiB). */
static void make_image(void)
{
	Elf64_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64,
			     ELFDATA2LSB, EV_CURRENT },
		.e_type = ET_EXEC,
		.e_machine = EM_X86_64,
		.e_version = EV_CURRENT,
		.e_entry = 0x100010,
		.e_phoff = sizeof(Elf64_Ehdr),
		.e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr),
		.e_phnum = 3,
	};
	Elf64_Phdr ph[3] = {
		{ .p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = 0x200,
		  .p_vaddr = 0x100000, .p_paddr = 0x100000, .p_filesz = 0x100,
		  .p_memsz = 0x100 },
		{ .p_type = PT_NOTE, .p_offset = 0, .p_filesz = 0 },
		{ .p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_offset = 0x300,
		  .p_vaddr = 0x110000, .p_paddr = 0x110000, .p_filesz = 0x40,
		  .p_memsz = 0x1000 },
	};
	size_t i;

	memset(img, 0, sizeof(img));
	memcpy(img, &eh, sizeof(eh));
	memcpy(img + sizeof(eh), ph, sizeof(ph));
	for (i = 0x200; i < 0x340; i++)
		img[i] = (uint8_t)(i * 7 + 1);
	img_len = 0x340;
}

static Elf64_Ehdr *ehdr(void)
{
	return (Elf64_Ehdr *)img;
}

static Elf64_Phdr *phdr(unsigned int i)
{
	return (Elf64_Phdr *)(img + sizeof(Elf64_Ehdr)) + i;
}

static void elf_setup(void)
{
	eram = malloc(ERAM_SIZE);
	memset(eram, 0xa5, ERAM_SIZE);
	make_image();
}

static void elf_teardown(void)
{
	free(eram);
}

/* The image is refused with @err and RAM is untouched. */
static void refused(int err)
{
	struct part_elf_image out = { .entry = 42 };
	size_t i;

	ck_assert_int_eq(part_elf_load(img, img_len, eram, ERAM_SIZE,
				       PART_IMAGE_MIN_GPA, &out), err);
	ck_assert_uint_eq(out.entry, 42);
	for (i = 0x100000; i < 0x112000; i++)
		if (eram[i] != 0xa5)
			ck_abort_msg("RAM changed at 0x%zx", i);
}

struct stopper {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
};

static void *stop_later(void *arg)
{
	struct stopper *st = arg;

	usleep(20000);
	pthread_mutex_lock(&st->lock);
	st->stopping = true;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

/* The run ends on a stop, or on the time-out when none comes. */
START_TEST(wait_stopping)
{
	struct stopper st = { .stopping = false };
	pthread_condattr_t ca;
	struct timespec t0, t1;
	pthread_t th;

	pthread_mutex_init(&st.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st.cond, &ca);
	ck_assert_int_eq(pthread_create(&th, NULL, stop_later, &st), 0);
	ck_assert(!part_wait_stopping(&st.lock, &st.cond, &st.stopping, 30));
	pthread_join(th, NULL);
	ck_assert(st.stopping);

	st.stopping = false;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert(part_wait_stopping(&st.lock, &st.cond, &st.stopping, 1));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_ge(t1.tv_sec - t0.tv_sec, 1);
	pthread_cond_destroy(&st.cond);
	pthread_condattr_destroy(&ca);
	pthread_mutex_destroy(&st.lock);
}
END_TEST

START_TEST(elf_read_file)
{
	char dir[] = "/tmp/vmbus-elf-XXXXXX", path[64], why[256];
	static const char bytes[] = "\x7f" "ELF and more";
	void *buf = NULL;
	size_t size = 0;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/img", dir);
	/* Missing: the errno, and the path in the sentence. */
	ck_assert_int_eq(part_elf_read_file(path, &buf, &size, why, sizeof(why)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(why, path));
	/* Empty: refused. */
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(part_elf_read_file(path, &buf, &size, why, sizeof(why)), -EINVAL);
	/* A directory: refused. */
	ck_assert_int_eq(part_elf_read_file(dir, &buf, &size, why, sizeof(why)), -EINVAL);
	/* Read whole. */
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fwrite(bytes, 1, sizeof(bytes), f);
	fclose(f);
	ck_assert_int_eq(part_elf_read_file(path, &buf, &size, why, sizeof(why)), 0);
	ck_assert_uint_eq(size, sizeof(bytes));
	ck_assert_mem_eq(buf, bytes, sizeof(bytes));
	free(buf);
	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(elf_loads)
{
	struct part_elf_image out;
	size_t i;

	ck_assert_int_eq(part_elf_load(img, img_len, eram, ERAM_SIZE,
				       PART_IMAGE_MIN_GPA, &out), 0);
	ck_assert_uint_eq(out.entry, 0x100010);
	ck_assert_uint_eq(out.low, 0x100000);
	ck_assert_uint_eq(out.high, 0x111000);
	ck_assert_uint_eq(out.segments, 2);
	ck_assert_mem_eq(eram + 0x100000, img + 0x200, 0x100);
	ck_assert_mem_eq(eram + 0x110000, img + 0x300, 0x40);
	for (i = 0x110040; i < 0x111000; i++)
		ck_assert_uint_eq(eram[i], 0);		/* bss zeroed */
	ck_assert_uint_eq(eram[0x100100], 0xa5);	/* nothing beyond */
	ck_assert_uint_eq(eram[0x111000], 0xa5);
	ck_assert_uint_eq(eram[0xfffff], 0xa5);
}
END_TEST

START_TEST(elf_bad_headers)
{
	img_len = sizeof(Elf64_Ehdr) - 1;
	refused(-ENOEXEC);
	make_image();
	img[0] = 0x7e;
	refused(-ENOEXEC);
	make_image();
	img[EI_CLASS] = ELFCLASS32;
	refused(-ENOEXEC);
	make_image();
	img[EI_DATA] = ELFDATA2MSB;
	refused(-ENOEXEC);
	make_image();
	img[EI_VERSION] = 0;
	refused(-ENOEXEC);
	make_image();
	ehdr()->e_type = ET_DYN;
	refused(-ENOEXEC);
	make_image();
	ehdr()->e_machine = EM_386;
	refused(-ENOEXEC);
	make_image();
	ehdr()->e_version = 2;
	refused(-ENOEXEC);
	make_image();
	ehdr()->e_phentsize = sizeof(Elf64_Phdr) - 8;
	refused(-ENOEXEC);
	make_image();
	ehdr()->e_phnum = 0;
	refused(-ENOEXEC);
	make_image();
	ehdr()->e_phnum = PART_ELF_MAX_PHDRS + 1;
	refused(-ENOEXEC);
}
END_TEST

START_TEST(elf_bad_phdr_table)
{
	/* Table offsets that overflow or run past the file. */
	ehdr()->e_phoff = UINT64_MAX - 8;
	refused(-ENOEXEC);
	make_image();
	ehdr()->e_phoff = img_len - sizeof(Elf64_Phdr);
	refused(-ENOEXEC);
	make_image();
	ehdr()->e_phoff = img_len;
	ehdr()->e_phnum = 1;
	refused(-ENOEXEC);
	make_image();
	/* The table ends exactly at the end of a truncated file: the table
	 * is fine, but the segment bytes are gone. */
	img_len = sizeof(Elf64_Ehdr) + 3 * sizeof(Elf64_Phdr);
	refused(-ENOEXEC);
}
END_TEST

START_TEST(elf_bad_segments)
{
	phdr(0)->p_filesz = 0x101;	/* filesz > memsz */
	refused(-ENOEXEC);
	make_image();
	phdr(2)->p_offset = img_len - 0x20;	/* past the file end */
	refused(-ENOEXEC);
	make_image();
	phdr(2)->p_offset = UINT64_MAX - 0x10;	/* offset + filesz wraps */
	refused(-ENOEXEC);
	make_image();
	phdr(2)->p_vaddr = 0x7000000;		/* vaddr != paddr */
	refused(-ENOEXEC);
	make_image();
	phdr(2)->p_paddr = phdr(2)->p_vaddr = 0x100080;	/* overlaps text */
	refused(-ENOEXEC);
	make_image();
	phdr(0)->p_flags = PF_R;		/* entry not executable */
	refused(-ENOEXEC);
	make_image();
	ehdr()->e_entry = 0x100100;		/* one past the text */
	refused(-ENOEXEC);
	make_image();
	phdr(0)->p_type = PT_NULL;
	phdr(2)->p_type = PT_NULL;		/* nothing to load */
	refused(-ENOEXEC);
}
END_TEST

START_TEST(elf_outside_ram)
{
	phdr(2)->p_paddr = phdr(2)->p_vaddr = ERAM_SIZE - 0x800; /* ends past RAM */
	refused(-ERANGE);
	make_image();
	phdr(2)->p_paddr = phdr(2)->p_vaddr = UINT64_MAX - 0x100; /* wraps */
	refused(-ERANGE);
	make_image();
	phdr(2)->p_memsz = UINT64_MAX;
	refused(-ERANGE);
	make_image();
	phdr(2)->p_paddr = phdr(2)->p_vaddr = 0x8000;	/* runner's low memory */
	refused(-ERANGE);
	make_image();
	/* Ending exactly at the end of RAM is fine. */
	phdr(2)->p_paddr = phdr(2)->p_vaddr = ERAM_SIZE - 0x1000;
	ck_assert_int_eq(part_elf_load(img, img_len, eram, ERAM_SIZE,
				       PART_IMAGE_MIN_GPA,
				       &(struct part_elf_image){ 0 }), 0);
	ck_assert_int_eq(part_elf_load(NULL, img_len, eram, ERAM_SIZE, 0,
				       &(struct part_elf_image){ 0 }), -EINVAL);
}
END_TEST

/* The real self-test guest, when the build passed its path. */
START_TEST(elf_real_guest)
{
	struct part_elf_image out;
	uint8_t *file;
	long n;
	FILE *f;

	if (!guest_elf)
		return;
	f = fopen(guest_elf, "rb");
	ck_assert_ptr_nonnull(f);
	file = malloc(1 << 20);
	n = (long)fread(file, 1, 1 << 20, f);
	fclose(f);
	ck_assert_int_gt(n, (long)sizeof(Elf64_Ehdr));
	ck_assert_int_eq(part_elf_load(file, (size_t)n, eram, ERAM_SIZE,
				       PART_IMAGE_MIN_GPA, &out), 0);
	ck_assert_uint_eq(out.low, PART_IMAGE_MIN_GPA);
	ck_assert_uint_ge(out.entry, out.low);
	ck_assert_uint_lt(out.entry, out.high);
	/* The entry is _start: CLI first. */
	ck_assert_uint_eq(eram[out.entry], 0xfa);
	free(file);
}
END_TEST

/* ======================================================================
 * Long mode set-up
 * ====================================================================== */

static uint64_t get64(const uint8_t *ram, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, ram + gpa, sizeof(v));
	return v;
}

START_TEST(x86_memory)
{
	const uint64_t size = 64ull << 20;
	uint8_t *ram = malloc(size);
	struct part_boot_info bi;
	char long_cmd[400];

	memset(ram, 0xee, size);
	ck_assert_int_eq(part_x86_setup_memory(ram, size, 2, 0x123000,
					       "hostile x"), 0);
	ck_assert_uint_eq(get64(ram, PART_GDT_GPA), 0);
	ck_assert_uint_eq(get64(ram, PART_GDT_GPA + 8), 0x00af9b000000ffffull);
	ck_assert_uint_eq(get64(ram, PART_GDT_GPA + 16), 0x00cf93000000ffffull);
	ck_assert_uint_eq(get64(ram, PART_PML4_GPA), PART_PDPT_GPA | 3);
	ck_assert_uint_eq(get64(ram, PART_PML4_GPA + 8), 0);
	ck_assert_uint_eq(get64(ram, PART_PDPT_GPA + 3 * 8), (PART_PD_GPA + 0x3000) | 3);
	ck_assert_uint_eq(get64(ram, PART_PDPT_GPA + 4 * 8), 0);
	ck_assert_uint_eq(get64(ram, PART_PD_GPA), 0x83);
	ck_assert_uint_eq(get64(ram, PART_PD_GPA + 8), (2ull << 20) | 0x83);
	/* The LAPIC page: 0xfee00000 is in the 2 MiB page 0x7f7. */
	ck_assert_uint_eq(get64(ram, PART_PD_GPA + 0x7f7 * 8), 0xfee00000ull | 0x83);
	ck_assert_uint_eq(get64(ram, PART_PD_GPA + 2047 * 8), 0xffe00000ull | 0x83);
	memcpy(&bi, ram + PART_BOOT_INFO_GPA, sizeof(bi));
	ck_assert_uint_eq(bi.magic, PART_BOOT_MAGIC);
	ck_assert_uint_eq(bi.version, PART_BOOT_VERSION);
	ck_assert_uint_eq(bi.mem_size, size);
	ck_assert_uint_eq(bi.cpu_count, 2);
	ck_assert_uint_eq(bi.image_end, 0x123000);
	ck_assert_str_eq(bi.cmdline, "hostile x");
	ck_assert_uint_eq(ram[PART_IMAGE_MIN_GPA], 0xee);	/* image untouched */

	memset(long_cmd, 'a', sizeof(long_cmd) - 1);
	long_cmd[sizeof(long_cmd) - 1] = '\0';
	ck_assert_int_eq(part_x86_setup_memory(ram, size, 1, 0, long_cmd), 0);
	memcpy(&bi, ram + PART_BOOT_INFO_GPA, sizeof(bi));
	ck_assert_uint_eq(strlen(bi.cmdline), PART_CMDLINE_MAX - 1);

	ck_assert_int_eq(part_x86_setup_memory(ram, size, 0, 0, NULL), -EINVAL);
	ck_assert_int_eq(part_x86_setup_memory(ram, size, PART_MAX_CPUS + 1, 0,
					       NULL), -EINVAL);
	ck_assert_int_eq(part_x86_setup_memory(ram, size - 4096, 1, 0, NULL),
			 -EINVAL);
	ck_assert_int_eq(part_x86_setup_memory(ram, 1ull << 20, 1, 0, NULL),
			 -EINVAL);
	ck_assert_int_eq(part_x86_setup_memory(ram, PART_MEM_MAX + (2ull << 20),
					       1, 0, NULL), -EINVAL);
	free(ram);
}
END_TEST

START_TEST(x86_registers)
{
	struct kvm_sregs s;
	struct kvm_regs r;

	memset(&s, 0x5a, sizeof(s));
	part_x86_long_mode_sregs(&s);
	ck_assert_uint_eq(s.cr0 & (PART_CR0_PE | PART_CR0_PG),
			  PART_CR0_PE | PART_CR0_PG);
	ck_assert(s.cr4 & PART_CR4_PAE);
	ck_assert_uint_eq(s.efer, PART_EFER_LME | PART_EFER_LMA);
	ck_assert_uint_eq(s.cr3, PART_PML4_GPA);
	ck_assert_uint_eq(s.cs.selector, PART_SEL_CODE);
	ck_assert_uint_eq(s.cs.l, 1);
	ck_assert_uint_eq(s.cs.db, 0);	/* L=1 needs D=0 */
	ck_assert_uint_eq(s.cs.present, 1);
	ck_assert_uint_eq(s.ss.selector, PART_SEL_DATA);
	ck_assert_uint_eq(s.ss.l, 0);
	ck_assert_uint_eq(s.ds.type, 3);
	ck_assert_uint_eq(s.gdt.base, PART_GDT_GPA);
	ck_assert_uint_eq(s.gdt.limit, 23);
	ck_assert_uint_eq(s.tr.selector, 0x5a5a);	/* KVM's TR kept */

	part_x86_entry_regs(&r, 0x100000, 3);
	ck_assert_uint_eq(r.rip, 0x100000);
	ck_assert_uint_eq(r.rdi, PART_BOOT_INFO_GPA);
	ck_assert_uint_eq(r.rsi, 3);
	ck_assert_uint_eq(r.rflags, 2);
	ck_assert_uint_eq(r.rsp % 16, 0);
	ck_assert_uint_eq(r.rsp, PART_STACK_BASE + 4 * PART_STACK_SIZE);
	/* Every stack lies between the boot page and the image. */
	ck_assert_uint_gt(part_x86_stack_top(0) - PART_STACK_SIZE,
			  PART_BOOT_INFO_GPA + sizeof(struct part_boot_info));
	ck_assert_uint_le(part_x86_stack_top(PART_MAX_CPUS - 1), PART_IMAGE_MIN_GPA);
}
END_TEST

/* ======================================================================
 * Port I/O
 * ====================================================================== */

static char con[64];
static unsigned int con_len, hcalls;
static uint32_t exit_status = 0xffff, exit_vp;

static void t_console(void *ctx, uint8_t b)
{
	(void)ctx;
	if (con_len < sizeof(con) - 1)
		con[con_len++] = (char)b;
}

static void t_exit(void *ctx, uint32_t vp, uint32_t st)
{
	(void)ctx;
	exit_vp = vp;
	exit_status = st;
}

static void t_hcall(void *ctx, uint32_t vp)
{
	(void)ctx;
	(void)vp;
	hcalls++;
}

static uint32_t t_hstatus(void *ctx, uint32_t vp)
{
	(void)ctx;
	return 0x12 + vp;
}

static const struct part_io_ops t_ops = { t_console, t_exit, t_hcall, t_hstatus,
					  NULL };

START_TEST(io_ports)
{
	uint8_t d[16];
	uint32_t v;

	memset(con, 0, sizeof(con));
	con_len = hcalls = 0;
	d[0] = 'h';
	ck_assert_int_eq(part_io_access(&t_ops, NULL, 0, 0x3f8, true, 1, 1, d), PART_IO_OK);
	memcpy(d, "ello", 4);	/* rep outsb */
	ck_assert_int_eq(part_io_access(&t_ops, NULL, 0, 0x3f8, true, 1, 4, d), PART_IO_OK);
	ck_assert_str_eq(con, "hello");
	ck_assert_int_eq(part_io_access(&t_ops, NULL, 0, 0x3fd, false, 1, 1, d), PART_IO_OK);
	ck_assert_uint_eq(d[0], 0x60);
	ck_assert_int_eq(part_io_access(&t_ops, NULL, 0, 0x3fb, true, 1, 1, d), PART_IO_OK);
	v = 7;
	ck_assert_int_eq(part_io_access(&t_ops, NULL, 3, PART_PORT_EXIT, true, 4, 1,
					(uint8_t *)&v), PART_IO_OK);
	ck_assert_uint_eq(exit_status, 7);
	ck_assert_uint_eq(exit_vp, 3);
	ck_assert_int_eq(part_io_access(&t_ops, NULL, 1, PART_PORT_HCALL, true, 1, 1, d),
			 PART_IO_OK);
	ck_assert_uint_eq(hcalls, 1);
	v = 0;
	ck_assert_int_eq(part_io_access(&t_ops, NULL, 1, PART_PORT_HCALL_STATUS, false,
					4, 1, (uint8_t *)&v), PART_IO_OK);
	ck_assert_uint_eq(v, 0x13);
	/* The stop port reads 0 without a stop_requested op. */
	v = 0xffffffff;
	ck_assert_int_eq(part_io_access(&t_ops, NULL, 0, PART_PORT_STOP, false,
					1, 1, (uint8_t *)&v), PART_IO_OK);
	ck_assert_uint_eq(v, 0xffffff00);
	/* Nothing there: OUT dropped, IN reads all ones, in every size. */
	memset(d, 0, sizeof(d));
	ck_assert_int_eq(part_io_access(&t_ops, NULL, 0, 0x80, false, 2, 3, d),
			 PART_IO_UNKNOWN);
	ck_assert_uint_eq(d[5], 0xff);
	ck_assert_uint_eq(d[6], 0);
	ck_assert_int_eq(part_io_access(&t_ops, NULL, 0, 0x80, true, 1, 1, d),
			 PART_IO_UNKNOWN);
	memset(d, 0, sizeof(d));
	ck_assert_int_eq(part_io_access(&t_ops, NULL, 0, 0x3fd, false, 3, 1, d),
			 PART_IO_BAD);
	ck_assert_uint_eq(d[0], 0);
	ck_assert_uint_eq(hcalls, 1);
	ck_assert_uint_eq(exit_status, 7);
}
END_TEST

/* ======================================================================
 * Command line
 * ====================================================================== */

static int parse(struct part_opts *o, char *err, const char *const *args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"vmbus-run";
	while (*args)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	return part_opts_parse(argc, argv, o, err, 160);
}

START_TEST(opts_good)
{
	struct part_opts o;
	char err[160];

	ck_assert_int_eq(parse(&o, err, (const char *const[]){ NULL }), 0);
	ck_assert_uint_eq(o.mem_size, 64ull << 20);
	ck_assert_uint_eq(o.cpus, 1);
	ck_assert_uint_eq(o.timeout_sec, 30);
	ck_assert(o.test_offer);
	ck_assert_ptr_null(o.guest);
	ck_assert_str_eq(o.cmdline, "");

	ck_assert_int_eq(parse(&o, err, (const char *const[]){
		"--mem", "128M", "--cpus=4", "--timeout", "0", "--disk", "a.img",
		"--disk=b.vhd,ro", "--nic", "tap0", "--ip", "10.0.0.2/24",
		"--no-test-offer", "--verbose", "g.elf", "hostile", "--x", NULL }), 0);
	ck_assert_uint_eq(o.mem_size, 128ull << 20);
	ck_assert_uint_eq(o.cpus, 4);
	ck_assert_uint_eq(o.timeout_sec, 0);
	ck_assert_uint_eq(o.disk_count, 2);
	ck_assert_uint_eq(o.disks[0].path_len, 5);
	ck_assert(!o.disks[0].ro);
	ck_assert_uint_eq(o.disks[1].path_len, 5);
	ck_assert(!strncmp(o.disks[1].path, "b.vhd", 5));
	ck_assert(o.disks[1].ro);
	ck_assert_str_eq(o.nic, "tap0");
	ck_assert_str_eq(o.ip, "10.0.0.2/24");
	ck_assert(!o.test_offer);
	ck_assert(o.verbose);
	ck_assert_str_eq(o.guest, "g.elf");
	ck_assert_str_eq(o.cmdline, "hostile --x");

	ck_assert_int_eq(parse(&o, err, (const char *const[]){
		"--mem=1G", "--", "--odd.elf", NULL }), 0);
	ck_assert_uint_eq(o.mem_size, 1ull << 30);
	ck_assert_str_eq(o.guest, "--odd.elf");
	ck_assert_int_eq(parse(&o, err, (const char *const[]){ "--help", NULL }), 0);
	ck_assert(o.help);
}
END_TEST

static bool stop_yes(void *ctx)
{
	return *(const int *)ctx != 0;
}

START_TEST(io_stop_port)
{
	struct part_io_ops ops = t_ops;
	int flag = 0;
	uint8_t d = 0xaa;

	ops.stop_requested = stop_yes;
	ck_assert_int_eq(part_io_access(&ops, &flag, 0, PART_PORT_STOP, false, 1,
					1, &d), PART_IO_OK);
	ck_assert_uint_eq(d, 0);
	flag = 1;
	ck_assert_int_eq(part_io_access(&ops, &flag, 0, PART_PORT_STOP, false, 1,
					1, &d), PART_IO_OK);
	ck_assert_uint_eq(d, 1);
	/* An OUT to it does nothing, like any port without a device. */
	ck_assert_int_eq(part_io_access(&ops, &flag, 0, PART_PORT_STOP, true, 1,
					1, &d), PART_IO_UNKNOWN);
}
END_TEST

START_TEST(opts_accel)
{
	struct part_opts o;
	char err[160];

	ck_assert_int_eq(parse(&o, err, (const char *const[]){ NULL }), 0);
	ck_assert_int_eq(o.accel, PART_ACCEL_AUTO);
	ck_assert_int_eq(parse(&o, err, (const char *const[]){
		"--accel", "emulate", NULL }), 0);
	ck_assert_int_eq(o.accel, PART_ACCEL_EMULATE);
	ck_assert_int_eq(parse(&o, err, (const char *const[]){
		"--accel=kvm", NULL }), 0);
	ck_assert_int_eq(o.accel, PART_ACCEL_KVM);
	ck_assert_int_eq(parse(&o, err, (const char *const[]){
		"--accel=auto", NULL }), 0);
	ck_assert_int_eq(o.accel, PART_ACCEL_AUTO);
	err[0] = '\0';
	ck_assert_int_eq(parse(&o, err, (const char *const[]){
		"--accel", "qemu", NULL }), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "kvm, emulate or auto"));
	ck_assert_int_eq(parse(&o, err, (const char *const[]){ "--accel", NULL }),
			 -EINVAL);
}
END_TEST

START_TEST(opts_bad)
{
	const char *const *bad[] = {
		(const char *const[]){ "--mem", "3M", NULL },	/* not 2M-aligned */
		(const char *const[]){ "--mem", "1M", NULL },
		(const char *const[]){ "--mem", "4G", NULL },
		(const char *const[]){ "--mem", "12Q", NULL },
		(const char *const[]){ "--mem", "-2M", NULL },
		(const char *const[]){ "--mem", "99999999999999999999G", NULL },
		(const char *const[]){ "--mem", NULL },
		(const char *const[]){ "--cpus", "0", NULL },
		(const char *const[]){ "--cpus", "33", NULL },
		(const char *const[]){ "--cpus", "1x", NULL },
		(const char *const[]){ "--timeout", "86401", NULL },
		(const char *const[]){ "--disk", ",ro", NULL },
		(const char *const[]){ "--disk", "a,rw", NULL },
		(const char *const[]){ "--ip", "10.0.0.1", NULL },
		(const char *const[]){ "--ip", "10.0.0.256/24", NULL },
		(const char *const[]){ "--ip", "10.0.0.1/33", NULL },
		(const char *const[]){ "--ip", "10.0.0.1/24junk", NULL },
		(const char *const[]){ "--nic=", NULL },
		(const char *const[]){ "--bogus", NULL },
		(const char *const[]){ "--verbose=1", NULL },
		(const char *const[]){ "--averyveryverylongoption", NULL },
	};
	static const char *const nine[] = { "--disk", "1", "--disk", "2",
		"--disk", "3", "--disk", "4", "--disk", "5", "--disk", "6",
		"--disk", "7", "--disk", "8", "--disk", "9", NULL };
	struct part_opts o;
	char err[160], big[300];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(parse(&o, err, bad[i]) == -EINVAL, "case %zu", i);
		ck_assert_msg(err[0] != '\0', "no reason for case %zu", i);
	}
	ck_assert_int_eq(parse(&o, err, nine), -EINVAL);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(parse(&o, err, (const char *const[]){ "g.elf", big, NULL }),
			 -E2BIG);
	big[PART_CMDLINE_MAX - 1] = '\0';
	ck_assert_int_eq(parse(&o, err, (const char *const[]){ "g.elf", big, NULL }), 0);
	ck_assert_uint_eq(strlen(o.cmdline), PART_CMDLINE_MAX - 1);
	ck_assert_int_eq(parse(&o, err, (const char *const[]){ "g.elf", big, "y",
							       NULL }), -E2BIG);
}
END_TEST

/* ======================================================================
 * The hypervisor model with the real client on top
 * ====================================================================== */

#define HRAM_SIZE	(1u << 20)
#define H_HCALL		0x10000ull
#define H_SIMP		0x11000ull
#define H_SIEFP		0x12000ull
#define H_INPUT		0x13000ull

static uint8_t *hram;
static struct part_hv *hv;
static unsigned int hv_irqs;
static uint8_t hv_last_vector;
static struct vmbus_client *hcl;
static bool h_done, h_offers;
static int h_err;
static unsigned int h_offer_count;
static struct vmbus_guid h_offer_type;

static void hv_raise(void *opaque, uint32_t vp, uint32_t sint, uint8_t vector)
{
	(void)opaque;
	ck_assert_uint_eq(vp, 0);
	ck_assert_uint_eq(sint, VMBUS_MESSAGE_SINT);
	hv_irqs++;
	hv_last_vector = vector;
}

/* The guest's HvPostMessage: an input page in RAM and a hypercall. */
static uint16_t h_post(void *ctx, uint32_t conn, uint32_t type,
		       const void *payload, uint32_t size)
{
	struct hv_input_post_message in = {
		.connection_id = conn,
		.message_type = type,
		.payload_size = size,
	};

	(void)ctx;
	memcpy(in.payload, payload, size);
	memcpy(hram + H_INPUT, &in, sizeof(in));
	return (uint16_t)part_hv_hypercall(hv, 0, HVCALL_POST_MESSAGE, H_INPUT);
}

static uint16_t h_signal(void *ctx, uint32_t conn, uint16_t flag)
{
	(void)ctx;
	return (uint16_t)part_hv_hypercall(hv, 0, HVCALL_SIGNAL_EVENT |
					   HV_HYPERCALL_FAST_BIT,
					   conn | (uint64_t)flag << 32);
}

static const struct vmbus_hv_guest_ops h_ops = { h_post, h_signal };

static void h_on_offer(void *ctx, const struct vmbus_msg_offer *o)
{
	(void)ctx;
	h_offer_count++;
	h_offer_type = o->if_type;
}

static void h_on_delivered(void *ctx)
{
	(void)ctx;
	h_offers = true;
}

static const struct vmbus_client_events h_events = {
	.offer = h_on_offer,
	.offers_delivered = h_on_delivered,
};

static void h_on_done(void *arg, int err)
{
	(void)arg;
	h_err = err;
	h_done = true;
}

/* What the guest's SINT handler does: take slot 2, free it, EOM if
 * pending, hand the message to the client. Returns messages taken. */
static int h_drain(void)
{
	struct hv_message *m = (struct hv_message *)(hram + H_SIMP) +
			       VMBUS_MESSAGE_SINT;
	uint8_t buf[HV_MESSAGE_PAYLOAD_BYTE_COUNT];
	int n = 0;

	while (m->header.message_type != HVMSG_NONE) {
		uint8_t len = m->header.payload_size;

		ck_assert_uint_eq(m->header.message_type, HV_MESSAGE_TYPE_VMBUS);
		ck_assert_uint_le(len, sizeof(buf));
		memcpy(buf, m->payload, len);
		m->header.message_type = HVMSG_NONE;
		if (m->header.flags & HV_MESSAGE_FLAG_PENDING)
			ck_assert_int_eq(part_hv_wrmsr(hv, 0, HV_X64_MSR_EOM, 0),
					 PART_HVMSR_OK);
		vmbus_client_handle_message(hcl, buf, len);
		n++;
	}
	return n;
}

static void hv_setup(void)
{
	struct part_hv_config cfg = {
		.vp_count = 1,
		.ram_size = HRAM_SIZE,
		.raise = hv_raise,
		.test_offer = true,
	};

	hram = calloc(1, HRAM_SIZE);
	cfg.ram = hram;
	ck_assert_int_eq(part_hv_new(&cfg, &hv), 0);
	hv_irqs = 0;
	h_done = h_offers = false;
	h_offer_count = 0;
}

static void hv_teardown(void)
{
	part_hv_free(hv);
	free(hram);
}

/* Linux's order: GUEST_OS_ID, HYPERCALL, SIMP, SIEFP, SINT2, SCONTROL. */
static void h_enable(void)
{
	ck_assert_int_eq(part_hv_wrmsr(hv, 0, HV_X64_MSR_GUEST_OS_ID,
				       0x8100ull << 48), PART_HVMSR_OK);
	ck_assert_int_eq(part_hv_wrmsr(hv, 0, HV_X64_MSR_HYPERCALL,
				       H_HCALL | HV_MSR_ENABLE), PART_HVMSR_OK);
	ck_assert_int_eq(part_hv_wrmsr(hv, 0, HV_X64_MSR_SIMP,
				       H_SIMP | HV_MSR_ENABLE), PART_HVMSR_OK);
	ck_assert_int_eq(part_hv_wrmsr(hv, 0, HV_X64_MSR_SIEFP,
				       H_SIEFP | HV_MSR_ENABLE), PART_HVMSR_OK);
	ck_assert_int_eq(part_hv_wrmsr(hv, 0, HV_X64_MSR_SINT0 + VMBUS_MESSAGE_SINT,
				       HYPERVISOR_CALLBACK_VECTOR), PART_HVMSR_OK);
	ck_assert_int_eq(part_hv_wrmsr(hv, 0, HV_X64_MSR_SCONTROL, 1),
			 PART_HVMSR_OK);
}

START_TEST(hv_client_connects)
{
	static uint8_t mem[32768] __attribute__((aligned(64)));
	const struct vmbus_guid want = PART_TEST_OFFER_GUID;
	struct vmbus_client_config cfg = {
		.hv = { &h_ops, NULL },
		.events = &h_events,
		.max_channels = 8,
		.max_gpadls = 8,
	};
	struct vmbus_client_connect_params params = { 0 };
	struct part_hv_counters c;
	int ret, rounds;

	h_enable();
	ck_assert_int_eq(vmbus_client_init(mem, sizeof(mem), &cfg, &hcl), 0);
	ret = vmbus_client_connect(hcl, &params, h_on_done, NULL);
	ck_assert_int_eq(ret, 0);
	for (rounds = 0; !h_done && rounds < 10; rounds++)
		h_drain();
	ck_assert(h_done);
	ck_assert_int_eq(h_err, 0);
	ck_assert_uint_eq(vmbus_client_version(hcl), VERSION_WIN10_V5_3);
	ck_assert_uint_ge(hv_irqs, 1);
	ck_assert_uint_eq(hv_last_vector, HYPERVISOR_CALLBACK_VECTOR);

	ck_assert_int_eq(vmbus_client_request_offers(hcl), 0);
	for (rounds = 0; !h_offers && rounds < 10; rounds++)
		h_drain();
	ck_assert(h_offers);
	ck_assert_uint_eq(h_offer_count, 1);
	ck_assert_mem_eq(&h_offer_type, &want, sizeof(want));

	h_done = false;
	ret = vmbus_client_unload(hcl, h_on_done, NULL);
	ck_assert_int_eq(ret, 0);
	for (rounds = 0; !h_done && rounds < 10; rounds++)
		h_drain();
	ck_assert(h_done);
	ck_assert(!vmbus_client_connected(hcl));

	part_hv_counters(hv, &c);
	ck_assert_uint_ge(c.hcall_post, 3);	/* contact, offers, unload */
	ck_assert_uint_eq(c.hcall_failed, 0);
	ck_assert_uint_ge(c.msgs_delivered, 4);	/* version, offer, all, unload */
	ck_assert_uint_eq(c.msgs_failed, 0);
}
END_TEST

START_TEST(hv_hypercall_rules)
{
	struct part_hv_counters c;
	uint64_t v;

	/* Page not enabled yet: the port answers "no such call". */
	ck_assert_uint_eq(part_hv_hypercall(hv, 0, HVCALL_POST_MESSAGE, H_INPUT),
			  HV_STATUS_INVALID_HYPERCALL_CODE);
	h_enable();
	/* Every input the decoder refuses, through the runner's entry. */
	ck_assert_uint_eq(part_hv_hypercall(hv, 0, HVCALL_POST_MESSAGE, HRAM_SIZE),
			  HV_STATUS_INVALID_ALIGNMENT);
	ck_assert_uint_eq(part_hv_hypercall(hv, 0, HVCALL_POST_MESSAGE,
					    H_INPUT + HV_PAGE_SIZE - 8),
			  HV_STATUS_INVALID_ALIGNMENT);
	ck_assert_uint_eq(part_hv_hypercall(hv, 0, 0x99, H_INPUT),
			  HV_STATUS_INVALID_HYPERCALL_CODE);
	ck_assert_uint_eq(part_hv_hypercall(hv, 0, HVCALL_POST_MESSAGE | 1ull << 27,
					    H_INPUT),
			  HV_STATUS_INVALID_HYPERCALL_INPUT);
	/* A message type other than VMBus on the bus's connection. */
	memcpy(hram + H_INPUT, &(struct hv_input_post_message){
		.connection_id = 1, .message_type = 2, .payload_size = 8 }, 16);
	ck_assert_uint_eq(part_hv_hypercall(hv, 0, HVCALL_POST_MESSAGE, H_INPUT),
			  HV_STATUS_INVALID_PARAMETER);
	/* The test offer's event connection exists but its channel is not
	 * open, so the server does not know it. */
	ck_assert_uint_eq(part_hv_hypercall(hv, 0, HVCALL_SIGNAL_EVENT |
					    HV_HYPERCALL_FAST_BIT,
					    VMBUS_SERVER_CONN_ID_BASE + 1),
			  HV_STATUS_INVALID_CONNECTION_ID);
	ck_assert_uint_eq(part_hv_hypercall(hv, 0, HVCALL_SIGNAL_EVENT |
					    HV_HYPERCALL_FAST_BIT, 0x7fff),
			  HV_STATUS_INVALID_CONNECTION_ID);
	/* A message to nobody must not have disturbed the SIMP slot. */
	ck_assert_uint_eq(((struct hv_message *)(hram + H_SIMP))[2].header.message_type,
			  HVMSG_NONE);
	ck_assert_int_eq(part_hv_rdmsr(hv, 0, HV_X64_MSR_VP_INDEX, &v), PART_HVMSR_OK);
	ck_assert_int_eq(part_hv_rdmsr(hv, 0, 0x400000f0, &v), PART_HVMSR_GP);
	part_hv_counters(hv, &c);
	ck_assert_uint_eq(c.hcall_disabled, 1);
	ck_assert_uint_eq(c.hcall_post, 4);
	ck_assert_uint_eq(c.hcall_signal, 2);
	ck_assert_uint_eq(c.hcall_other, 1);
	ck_assert_uint_eq(c.hcall_failed, 7);
	ck_assert_uint_eq(c.msr_gp, 1);
	ck_assert_uint_eq(hv_irqs, 0);
}
END_TEST

START_TEST(hv_new_errors)
{
	struct part_hv_config cfg = { .vp_count = 1, .ram_size = 4096 };
	struct part_hv *h;

	ck_assert_int_eq(part_hv_new(&cfg, &h), -EINVAL);	/* no RAM */
	cfg.ram = hram;
	ck_assert_int_eq(part_hv_new(&cfg, &h), -EINVAL);	/* no raise */
	cfg.raise = hv_raise;
	cfg.ram_size = 4097;
	ck_assert_int_eq(part_hv_new(&cfg, &h), -EINVAL);	/* gpa map refuses */
	cfg.ram_size = 4096;
	ck_assert_int_eq(part_hv_new(&cfg, &h), 0);
	part_hv_free(h);
	part_hv_free(NULL);
}
END_TEST

/* ======================================================================
 * Under KVM
 * ====================================================================== */

/* Run the guest with @cmdline; its console output in @out (malloc'd). */
static int run_guest(const char *path, const char *cmdline, char **out)
{
	struct part_vm_config cfg = {
		.mem_size = 64ull << 20,
		.cpus = 2,
		.timeout_sec = 30,
		.guest_path = path,
		.cmdline = cmdline,
		.test_offer = true,
	};
	size_t len = 0;
	FILE *f;
	int st;

	f = open_memstream(out, &len);
	ck_assert_ptr_nonnull(f);
	cfg.console = f;
	st = part_vm_run(&cfg);
	fclose(f);
	fputs(*out, stdout);
	return st;
}

START_TEST(kvm_selftest)
{
	char *out = NULL;
	int st = run_guest(guest_elf, "", &out);

	ck_assert_int_eq(st, 0);
	ck_assert_ptr_nonnull(strstr(out, "PASS: connected to the VMBus"));
	ck_assert_ptr_nonnull(strstr(out, "the runner's test offer is present"));
	ck_assert_ptr_nonnull(strstr(out, "failed: OK"));
	ck_assert_ptr_null(strstr(out, "FAIL:"));
	free(out);
}
END_TEST

START_TEST(kvm_hostile)
{
	char *out = NULL;
	int st = run_guest(guest_elf, "hostile", &out);

	ck_assert_int_eq(st, 0);
	ck_assert_ptr_nonnull(strstr(out, "PASS: SIMP page outside RAM -> #GP"));
	ck_assert_ptr_nonnull(strstr(out, "PASS: post input crossing a page"));
	ck_assert_ptr_null(strstr(out, "FAIL:"));
	free(out);
}
END_TEST

START_TEST(kvm_bad_image)
{
	struct part_vm_config cfg = {
		.mem_size = 16ull << 20, .cpus = 1, .timeout_sec = 5,
		.guest_path = "/proc/self/status",	/* not an ELF */
	};

	ck_assert_int_eq(part_vm_run(&cfg), PART_EXIT_IMAGE);
	cfg.guest_path = "/nonexistent/guest.elf";
	ck_assert_int_eq(part_vm_run(&cfg), PART_EXIT_IMAGE);
}
END_TEST

/* ======================================================================
 * On the CPU emulator
 * ====================================================================== */

#define EMU_TIMEOUT_SEC	60u
#define EMU_DISK_SIZE	(8u << 20)
#define VHDX_SIZE	(4u << 20)
/* The self-test guest's disk pass (partition/guest/gdisk.c): the first
 * 2 MiB and the last 64 KiB, word k of the disk = (k + 1) * this. */
#define PASS_BYTES	(2u << 20)
#define PASS_TAIL	(64u * 1024u)
#define PATTERN_MUL	0x9e3779b97f4a7c15ull

/* Console and report of one emulated run (malloc'd, NUL-terminated). */
struct emu_out {
	char *console, *report;
	int status;
};

static void emu_run(struct part_vm_config *cfg, struct emu_out *out)
{
	size_t clen = 0, rlen = 0;
	FILE *c, *r;

	c = open_memstream(&out->console, &clen);
	r = open_memstream(&out->report, &rlen);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(r);
	cfg->console = c;
	cfg->report = r;
	out->status = part_vm_run(cfg);
	fclose(c);
	fclose(r);
	/* Into the test log: the figures are worth keeping. */
	fputs(out->console, stdout);
	fputs(out->report, stdout);
	fflush(stdout);
}

static void emu_free(struct emu_out *out)
{
	free(out->console);
	free(out->report);
}

static struct part_vm_config emu_config(const char *cmdline)
{
	return (struct part_vm_config){
		.accel = PART_ACCEL_EMULATE,
		.mem_size = 64ull << 20,
		.cpus = 1,
		.timeout_sec = EMU_TIMEOUT_SEC,
		.guest_path = guest_elf,
		.cmdline = cmdline,
		.test_offer = true,
	};
}

static void assert_has(const char *text, const char *want)
{
	ck_assert_msg(strstr(text, want), "missing \"%s\"", want);
}

START_TEST(emu_selftest)
{
	struct part_vm_config cfg = emu_config("");
	struct emu_out o;

	emu_run(&cfg, &o);
	ck_assert_int_eq(o.status, 0);
	assert_has(o.console, "PASS: connected to the VMBus");
	assert_has(o.console, "the runner's test offer is present");
	assert_has(o.console, "hv: hypercall round trip");
	assert_has(o.console, "failed: OK");
	ck_assert_ptr_null(strstr(o.console, "FAIL:"));
	assert_has(o.report, "exits (emulated): io=");
	assert_has(o.report, "messages delivered=4 failed=0");
	emu_free(&o);
}
END_TEST

START_TEST(emu_hostile)
{
	struct part_vm_config cfg = emu_config("hostile");
	struct emu_out o;

	emu_run(&cfg, &o);
	ck_assert_int_eq(o.status, 0);
	/* Each refused MSR access reached the guest as a #GP through its
	 * IDT, as KVM would inject it. */
	assert_has(o.console, "PASS: SIMP page outside RAM -> #GP");
	assert_has(o.console, "PASS: unknown MSR 0x400000f0 write -> #GP");
	assert_has(o.console, "PASS: post input crossing a page");
	assert_has(o.console, "PASS: hypercall with the page disabled");
	ck_assert_ptr_null(strstr(o.console, "FAIL:"));
	assert_has(o.report, "msr #GP=14");
	assert_has(o.report, "exceptions delivered=14");
	emu_free(&o);
}
END_TEST

START_TEST(emu_errors)
{
	struct part_dev_disk missing = { "/nonexistent/disk.img", 21, false };
	struct part_vm_config cfg = emu_config("");
	struct emu_out o;

	cfg.cpus = 2;
	emu_run(&cfg, &o);
	ck_assert_int_eq(o.status, PART_EXIT_USAGE);
	assert_has(o.report, "runs one VP");
	emu_free(&o);

	cfg = emu_config("");
	cfg.guest_path = "/proc/self/status";
	emu_run(&cfg, &o);
	ck_assert_int_eq(o.status, PART_EXIT_IMAGE);
	emu_free(&o);

	cfg = emu_config("");
	cfg.disks = &missing;
	cfg.disk_count = 1;
	emu_run(&cfg, &o);
	ck_assert_int_eq(o.status, PART_EXIT_HOST);
	assert_has(o.report, "/nonexistent/disk.img");
	emu_free(&o);

	cfg = emu_config("");
	cfg.nic = "nosuchkind";
	emu_run(&cfg, &o);
	ck_assert_int_eq(o.status, PART_EXIT_HOST);
	assert_has(o.report, "nosuchkind");
	emu_free(&o);
}
END_TEST

/* Without KVM, auto says so and runs the emulator. */
START_TEST(emu_auto_fallback)
{
	struct part_vm_config cfg = emu_config("");
	struct emu_out o;
	char why[256];

	if (!part_kvm_probe(why, sizeof(why))) {
		printf("SKIP: KVM is usable here, auto would not fall back\n");
		return;
	}
	cfg.accel = PART_ACCEL_AUTO;
	emu_run(&cfg, &o);
	ck_assert_int_eq(o.status, 0);
	assert_has(o.report, "KVM is unusable here (/dev/kvm: ");
	assert_has(o.report, "running the guest on the Unicorn CPU emulator "
		   "instead, much slower");
	assert_has(o.console, "failed: OK");
	emu_free(&o);
}
END_TEST

static char tmpdir[64];

static void emu_setup(void)
{
	strcpy(tmpdir, "/tmp/test_partition.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* Remove what the test made in tmpdir, then the folder. */
static void emu_teardown(void)
{
	static const char *const names[] = {
		"raw.img", "want.img", "ro.vhdx", "console.txt", "ping.txt",
	};
	char path[128];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

static bool have_program(const char *name)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

/* A file of @size bytes: zeros, and the guest's pattern where its pass
 * writes when @pattern. */
static void make_disk_image(const char *path, size_t size, bool pattern)
{
	uint64_t *w = calloc(1, size);
	size_t k;
	FILE *f;

	ck_assert_ptr_nonnull(w);
	for (k = 0; pattern && k < size / 8; k++)
		if (k < PASS_BYTES / 8 || k >= (size - PASS_TAIL) / 8)
			w[k] = (k + 1) * PATTERN_MUL;
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(w, 1, size, f), size);
	ck_assert_int_eq(fclose(f), 0);
	free(w);
}

static void read_whole_file(const char *path, void *buf, size_t size)
{
	FILE *f = fopen(path, "rb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fread(buf, 1, size, f), size);
	fclose(f);
}

START_TEST(emu_disks)
{
	char raw[128], want[128], vhdx[128], cmd[512];
	struct part_dev_disk disks[2];
	struct part_vm_config cfg = emu_config("");
	bool qemu = have_program("qemu-img") && have_program("qemu-io");
	uint8_t *got, *exp;
	struct emu_out o;

	snprintf(raw, sizeof(raw), "%s/raw.img", tmpdir);
	snprintf(want, sizeof(want), "%s/want.img", tmpdir);
	snprintf(vhdx, sizeof(vhdx), "%s/ro.vhdx", tmpdir);
	make_disk_image(raw, EMU_DISK_SIZE, false);
	disks[0] = (struct part_dev_disk){ raw, strlen(raw), false };
	cfg.disks = disks;
	cfg.disk_count = 1;
	if (qemu) {
		snprintf(cmd, sizeof(cmd), "qemu-img create -q -f vhdx %s %u && "
			 "qemu-io -f vhdx -c 'write -P 0x33 0 1M' %s >/dev/null",
			 vhdx, VHDX_SIZE, vhdx);
		ck_assert_int_eq(system(cmd), 0);
		disks[1] = (struct part_dev_disk){ vhdx, strlen(vhdx), true };
		cfg.disk_count = 2;
	} else {
		printf("SKIP: the read-only VHDX part (no qemu-img/qemu-io)\n");
	}
	emu_run(&cfg, &o);
	ck_assert_int_eq(o.status, 0);
	ck_assert_ptr_null(strstr(o.console, "FAIL:"));
	assert_has(o.console, "disk: LUN 0: 8388608 bytes in 512-byte blocks, "
		   "writable");
	assert_has(o.console, "PASS: disk: LUN 0: read back and verified "
		   "(error 0, 0 words differ)");
	assert_has(o.report, "disk LUN 0: reads=");
	if (qemu) {
		assert_has(o.console, "disk: LUN 1: 4194304 bytes in 512-byte "
			   "blocks, read-only");
		assert_has(o.console, "disk: LUN 1: first bytes 33 33 33 33");
		assert_has(o.console, "PASS: disk: LUN 1: a write is refused as "
			   "write-protected");
	}
	emu_free(&o);

	/* The host sees what the guest wrote, and nothing else. */
	make_disk_image(want, EMU_DISK_SIZE, true);
	got = malloc(EMU_DISK_SIZE);
	exp = malloc(EMU_DISK_SIZE);
	ck_assert(got && exp);
	read_whole_file(raw, got, EMU_DISK_SIZE);
	read_whole_file(want, exp, EMU_DISK_SIZE);
	ck_assert_int_eq(memcmp(got, exp, EMU_DISK_SIZE), 0);
	free(got);
	free(exp);
	if (qemu) {
		snprintf(cmd, sizeof(cmd), "qemu-img compare -q -f raw -F raw "
			 "%s %s", raw, want);
		ck_assert_int_eq(system(cmd), 0);
		/* The VHDX kept its data. */
		snprintf(cmd, sizeof(cmd), "qemu-io -f vhdx -r -c "
			 "'read -P 0x33 0 1M' %s | grep -q 'read 1048576'", vhdx);
		ck_assert_int_eq(system(cmd), 0);
	}
}
END_TEST

START_TEST(emu_null_nic)
{
	struct part_vm_config cfg = emu_config("");
	struct emu_out o;

	cfg.nic = "null";
	emu_run(&cfg, &o);
	ck_assert_int_eq(o.status, 0);
	ck_assert_ptr_null(strstr(o.console, "FAIL:"));
	assert_has(o.console, "PASS: net: netvsc brought the NIC up");
	assert_has(o.console, "net: MAC 02:15:5d:00:07:02, MTU 1500");
	assert_has(o.console, "link up");
	assert_has(o.console, "PASS: net: buffers taken back");
	assert_has(o.report, "vmbus-run: NIC: guest->wire frames=");
	emu_free(&o);
}
END_TEST

/* ---- A TAP NIC in a network namespace, pinged ------------------------------ */

static volatile int tap_stop;

static void on_term(int sig)
{
	(void)sig;
	tap_stop = 1;
}

/*
 * The runner's process: a network namespace of its own (gone when the
 * process is), a TAP with the host end 10.99.7.1/24, the guest on
 * 10.99.7.2; SIGTERM sets the stop port. Exits with the run's status.
 */
static void tap_runner(const char *console)
{
	struct part_vm_config cfg = emu_config("ip=10.99.7.2/24");
	struct sigaction sa;
	FILE *f;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	if (unshare(CLONE_NEWNET) ||
	    system("ip link set lo up && ip tuntap add dev vr0 mode tap && "
		   "ip addr add 10.99.7.1/24 dev vr0 && ip link set vr0 up"))
		_exit(100);
	f = fopen(console, "w");
	if (!f)
		_exit(101);
	setvbuf(f, NULL, _IOLBF, 0);
	cfg.console = f;
	cfg.nic = "tap=vr0";
	cfg.stop_flag = &tap_stop;
	_exit(part_vm_run(&cfg));
}

/* Wait until @path holds @text, up to @sec seconds. */
static bool wait_for_text(const char *path, const char *text, unsigned int sec)
{
	char buf[16384];
	unsigned int i;
	size_t n;
	FILE *f;

	for (i = 0; i < sec * 10; i++) {
		f = fopen(path, "r");
		if (f) {
			n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			buf[n] = '\0';
			if (strstr(buf, text))
				return true;
		}
		usleep(100000);
	}
	return false;
}

/* Wait for @pid at most @sec seconds, then kill it; its wait status. */
static int reap(pid_t pid, unsigned int sec)
{
	unsigned int i;
	int st = 0;

	for (i = 0; i < sec * 10; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return st;
		usleep(100000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return st;
}

START_TEST(emu_tap_ping)
{
	char console[128], ping_out[128], nspath[64], *text;
	pid_t runner, pinger;
	int st, fd;
	size_t n;
	FILE *f;

	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) ||
	    !have_program("ip") || !have_program("ping")) {
		printf("SKIP: TAP ping needs root, /dev/net/tun, ip and ping\n");
		return;
	}
	snprintf(console, sizeof(console), "%s/console.txt", tmpdir);
	snprintf(ping_out, sizeof(ping_out), "%s/ping.txt", tmpdir);
	fflush(stdout);
	runner = fork();
	ck_assert_int_ge(runner, 0);
	if (!runner)
		tap_runner(console);
	if (!wait_for_text(console, "net: serving ARP and ping on 10.99.7.2", 30)) {
		kill(runner, SIGKILL);
		waitpid(runner, &st, 0);
		ck_abort_msg("the guest never started serving (runner status 0x%x)",
			     st);
	}
	/* ping from inside the runner's namespace. */
	snprintf(nspath, sizeof(nspath), "/proc/%d/ns/net", (int)runner);
	pinger = fork();
	ck_assert_int_ge(pinger, 0);
	if (!pinger) {
		fd = open(nspath, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET))
			_exit(102);
		fd = open(ping_out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0)
			_exit(103);
		execlp("ping", "ping", "-n", "-c", "3", "-W", "5", "10.99.7.2",
		       (char *)NULL);
		_exit(104);
	}
	st = reap(pinger, 30);
	kill(runner, SIGTERM);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "ping failed (wait status 0x%x)", st);
	st = reap(runner, 30);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		/* The guest's own words say why. */
		f = fopen(console, "r");
		if (f) {
			text = calloc(1, 65536);
			if (text) {
				n = fread(text, 1, 65535, f);
				printf("guest console:\n%s\n", text + (n > 4096 ? n - 4096 : 0));
				free(text);
			}
			fclose(f);
		}
		fflush(stdout);
	}
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "runner ended with wait status 0x%x", st);

	text = calloc(1, 65536);
	ck_assert_ptr_nonnull(text);
	f = fopen(ping_out, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(text, 1, 65535, f);
	fclose(f);
	text[n] = '\0';
	fputs(text, stdout);
	assert_has(text, "3 packets transmitted, 3 received");
	f = fopen(console, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(text, 1, 65535, f);
	fclose(f);
	text[n] = '\0';
	fputs(text, stdout);
	assert_has(text, "net: stop requested;");
	assert_has(text, "and 3 echo request(s)");
	assert_has(text, "PASS: net: every reply sent");
	ck_assert_ptr_null(strstr(text, "FAIL:"));
	free(text);
}
END_TEST

/* ====================================================================== */

static Suite *unit_suite(void)
{
	Suite *s = suite_create("partition");
	TCase *tc;

	tc = tcase_create("cpuid");
	tcase_add_test(tc, cpuid_hv_leaves);
	tcase_add_test(tc, cpuid_frequency_bits);
	tcase_add_test(tc, cpuid_merge_drops_kvm);
	tcase_add_test(tc, cpuid_merge_errors);
	tcase_add_test(tc, cpuid_per_vp);
	suite_add_tcase(s, tc);

	tc = tcase_create("hvmsr");
	tcase_add_checked_fixture(tc, msr_setup, msr_teardown);
	tcase_add_test(tc, msr_guest_os_id_and_hypercall);
	tcase_add_test(tc, msr_hypercall_hostile);
	tcase_add_test(tc, msr_hypercall_locked);
	tcase_add_test(tc, msr_vp_index_and_time);
	tcase_add_test(tc, msr_frequencies);
	tcase_add_test(tc, msr_unknown_and_range);
	tcase_add_test(tc, msr_synic_routing);
	tcase_add_test(tc, msr_new_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("elf");
	tcase_add_checked_fixture(tc, elf_setup, elf_teardown);
	tcase_add_test(tc, elf_read_file);
	tcase_add_test(tc, wait_stopping);
	tcase_add_test(tc, elf_loads);
	tcase_add_test(tc, elf_bad_headers);
	tcase_add_test(tc, elf_bad_phdr_table);
	tcase_add_test(tc, elf_bad_segments);
	tcase_add_test(tc, elf_outside_ram);
	tcase_add_test(tc, elf_real_guest);
	suite_add_tcase(s, tc);

	tc = tcase_create("x86");
	tcase_add_test(tc, x86_memory);
	tcase_add_test(tc, x86_registers);
	suite_add_tcase(s, tc);

	tc = tcase_create("io_opts");
	tcase_add_test(tc, io_ports);
	tcase_add_test(tc, io_stop_port);
	tcase_add_test(tc, opts_good);
	tcase_add_test(tc, opts_accel);
	tcase_add_test(tc, opts_bad);
	suite_add_tcase(s, tc);

	tc = tcase_create("hv");
	tcase_add_checked_fixture(tc, hv_setup, hv_teardown);
	tcase_add_test(tc, hv_client_connects);
	tcase_add_test(tc, hv_hypercall_rules);
	tcase_add_test(tc, hv_new_errors);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *kvm_suite(void)
{
	Suite *s = suite_create("partition-kvm");
	TCase *tc = tcase_create("kvm");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, kvm_selftest);
	tcase_add_test(tc, kvm_hostile);
	tcase_add_test(tc, kvm_bad_image);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *emu_suite(void)
{
	Suite *s = suite_create("partition-emu");
	TCase *tc = tcase_create("emulate");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, emu_setup, emu_teardown);
	tcase_add_test(tc, emu_selftest);
	tcase_add_test(tc, emu_hostile);
	tcase_add_test(tc, emu_errors);
	tcase_add_test(tc, emu_auto_fallback);
	tcase_add_test(tc, emu_disks);
	tcase_add_test(tc, emu_null_nic);
	tcase_add_test(tc, emu_tap_ping);
	suite_add_tcase(s, tc);
	return s;
}

/*
 * test_partition [GUEST.elf]        unit tests (GUEST.elf: also load it)
 * test_partition kvm GUEST.elf      boot it under KVM; 77 when unusable
 * test_partition emulate GUEST.elf  boot it on the CPU emulator; 77 when
 *                                   the build has none
 */
int main(int argc, char **argv)
{
	bool kvm = argc > 1 && !strcmp(argv[1], "kvm");
	bool emu = argc > 1 && !strcmp(argv[1], "emulate");
	char why[256];
	SRunner *sr;
	int failed;

	if (kvm || emu) {
		if (argc < 3) {
			fprintf(stderr, "usage: %s kvm|emulate GUEST.elf\n", argv[0]);
			return 2;
		}
		guest_elf = argv[2];
	}
	if (kvm) {
		if (part_kvm_probe(why, sizeof(why))) {
			printf("SKIP: KVM partition tests: %s\n", why);
			return 77;
		}
		sr = srunner_create(kvm_suite());
	} else if (emu) {
		if (!part_emu_available()) {
			printf("SKIP: emulated partition tests: this build has no "
			       "Unicorn CPU emulator (libunicorn-dev)\n");
			return 77;
		}
		sr = srunner_create(emu_suite());
	} else {
		guest_elf = argc > 1 ? argv[1] : NULL;
		sr = srunner_create(unit_suite());
	}
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
