/* SPDX-License-Identifier: MIT */
/*
 * The Hyper-V synthetic MSRs of a partition, as a state machine with no
 * KVM in it: GUEST_OS_ID and HYPERCALL (partition-wide), VP_INDEX,
 * TIME_REF_COUNT, the frequency MSRs, and the SynIC MSRs, which it hands
 * to vmbus_synic_wrmsr()/_rdmsr(). The vCPU loop maps each result to
 * "done" or "inject #GP".
 *
 * MSR numbers and bit layouts: Hyper-V TLFS (partition and VP MSRs, the
 * hypercall page) via include/vmbus/proto/tlfs.h. Behaviour where the
 * TLFS leaves room follows KVM arch/x86/kvm/hyperv.c (a HYPERCALL write
 * before GUEST_OS_ID is ignored; GUEST_OS_ID 0 disables the page; a page
 * that cannot be written faults the WRMSR).
 */
#ifndef PART_HVMSR_H
#define PART_HVMSR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmbus/log.h>
#include <vmbus/synic.h>

/* MSRs the partition owns: everything in this range exits to the runner. */
#define PART_HVMSR_FIRST		0x40000000u
#define PART_HVMSR_LAST			0x400000ffu

/* HYPERCALL MSR: bit 1 locks the value until reset; bits 11:2 reserved. */
#define PART_HVMSR_HYPERCALL_LOCKED	(1ull << 1)
#define PART_HVMSR_HYPERCALL_RSVD	0xffcull

/* Bytes the runner writes at the start of an enabled hypercall page
 * (see PART_PORT_HCALL in guest/abi.h). */
#define PART_HVMSR_HCALL_CODE_SIZE	5u
extern const uint8_t part_hvmsr_hcall_code[PART_HVMSR_HCALL_CODE_SIZE];

enum part_hvmsr_result {
	PART_HVMSR_OK = 0,	/* done; a read filled *value */
	PART_HVMSR_GP,		/* the guest gets #GP, nothing changed */
	PART_HVMSR_NOT_HV,	/* outside PART_HVMSR_FIRST..LAST */
};

/* Monotonic time in nanoseconds. */
typedef uint64_t part_clock_fn(void *opaque);

/* Creation parameters (a value type the caller fills). */
struct part_hvmsr_config {
	uint32_t vp_count;		/* 1..4096 */
	struct vmbus_synic_mem mem;	/* guest RAM, for the hypercall page */
	struct vmbus_synic *synic;	/* NULL: SynIC MSRs raise #GP */
	part_clock_fn *clock;		/* NULL: CLOCK_MONOTONIC */
	void *clock_opaque;
	uint64_t tsc_hz;		/* both non-zero: the frequency */
	uint64_t apic_hz;		/*   MSRs read back these values */
	struct vmbus_log log;		/* copied; zeroed discards */
};

/* Opaque MSR state of one partition. */
struct part_hvmsr;

/*
 * Create the power-on state: GUEST_OS_ID and HYPERCALL 0, the reference
 * time counting from now. 0, -EINVAL (no map, vp_count 0 or > 4096) or
 * -ENOMEM.
 */
int part_hvmsr_new(const struct part_hvmsr_config *cfg, struct part_hvmsr **out);

/* Free (NULL is fine). */
void part_hvmsr_free(struct part_hvmsr *h);

/*
 * Guest WRMSR on VP @vp:
 *  - GUEST_OS_ID: any value; 0 clears HYPERCALL's enable bit.
 *  - HYPERCALL: #GP for reserved bits 11:2, for a change while locked
 *    (rewriting the same value is allowed) and for an enabled page that is
 *    not guest RAM. Ignored (reads back unchanged) while GUEST_OS_ID is 0.
 *    Enabling writes the hypercall code at the page start and fills the
 *    rest of the page with INT3.
 *  - VP_INDEX, TIME_REF_COUNT, TSC_FREQUENCY, APIC_FREQUENCY: read-only, #GP.
 *  - SynIC MSRs: vmbus_synic_wrmsr() (its -EINVAL is #GP).
 *  - any other MSR in the range, or @vp out of range: #GP.
 */
enum part_hvmsr_result part_hvmsr_wrmsr(struct part_hvmsr *h, uint32_t vp,
					uint32_t msr, uint64_t value);

/*
 * Guest RDMSR on VP @vp: GUEST_OS_ID, HYPERCALL, VP_INDEX (= @vp),
 * TIME_REF_COUNT (100 ns units since creation), TSC/APIC_FREQUENCY when
 * configured, the SynIC MSRs; #GP for anything else in the range.
 */
enum part_hvmsr_result part_hvmsr_rdmsr(struct part_hvmsr *h, uint32_t vp,
					uint32_t msr, uint64_t *value);

/* True while the hypercall page is enabled (the hypercall port answers). */
bool part_hvmsr_hypercall_enabled(struct part_hvmsr *h);

#endif
