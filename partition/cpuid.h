/* SPDX-License-Identifier: MIT */
/*
 * The CPUID table a partition's VPs see: the host's KVM_GET_SUPPORTED_CPUID
 * leaves with every hypervisor leaf (0x40000000 and up, where KVM puts its
 * "KVMKVMKVM" signature) replaced by the Hyper-V leaves 0x40000000..
 * 0x40000006 a Linux guest probes.
 *
 * Leaf contents: Hyper-V TLFS (hypervisor CPUID leaves) and Linux
 * arch/x86/include/asm/hyperv-tlfs.h; what a guest requires:
 * arch/x86/kernel/cpu/mshyperv.c and docs/PROTOCOL.md sections 1 and 7.
 */
#ifndef PART_CPUID_H
#define PART_CPUID_H

#include <stdint.h>

#include <linux/kvm.h>

/* The last Hyper-V leaf the partition reports (CPUID 0x40000000 EAX). */
#define PART_CPUID_HV_MAX_LEAF		0x40000006u

/* The hypervisor range KVM and Hyper-V share; host leaves there are dropped. */
#define PART_CPUID_HV_RANGE_FIRST	0x40000000u
#define PART_CPUID_HV_RANGE_LAST	0x4fffffffu

/* CPUID 1 ECX bit 31: "running under a hypervisor". */
#define PART_CPUID_1_ECX_HYPERVISOR	(1u << 31)

/* 0x40000003 EDX bit 8: the frequency MSRs exist (Linux
 * HV_FEATURE_FREQUENCY_MSRS_AVAILABLE; not in proto/tlfs.h). */
#define PART_HV_FEATURE_FREQUENCY_MSRS	(1u << 8)

/* 0x40000004 EAX bit 5: relaxed timing, no watchdogs (Linux
 * HV_X64_RELAXED_TIMING_RECOMMENDED). */
#define PART_HV_RELAXED_TIMING		(1u << 5)

/* What the Hyper-V leaves describe (a value type the caller fills). */
struct part_cpuid_config {
	uint32_t vp_count;	/* 1..PART_MAX_CPUS, reported in 0x40000005 */
	/* Both non-zero: TSC_FREQUENCY/APIC_FREQUENCY are advertised. */
	uint64_t tsc_hz;
	uint64_t apic_hz;
};

/*
 * Fill the Hyper-V leaves 0x40000000..PART_CPUID_HV_MAX_LEAF into @out
 * (room for @max entries). Returns the number written (7) or -ENOSPC.
 */
int part_cpuid_hv_leaves(const struct part_cpuid_config *cfg,
			 struct kvm_cpuid_entry2 *out, uint32_t max);

/*
 * Merge: copy the @host_n host leaves except those in the hypervisor range,
 * force CPUID 1 ECX bit 31 (a Hyper-V guest looks at 0x40000000 only when
 * it is set), then append the Hyper-V leaves. Returns the entry count,
 * -EINVAL for a NULL argument or a vp_count of 0, or -ENOSPC when @max is
 * too small.
 */
int part_cpuid_build(const struct kvm_cpuid_entry2 *host, uint32_t host_n,
		     const struct part_cpuid_config *cfg,
		     struct kvm_cpuid_entry2 *out, uint32_t max);

/*
 * Make a merged table VP-specific: the initial APIC id in CPUID 1 EBX
 * 31:24 and the x2APIC id in EDX of every subleaf of 0xB and 0x1F become
 * @vp (KVM gives VP n APIC id n). Returns the number of fields patched.
 */
int part_cpuid_set_vp(struct kvm_cpuid_entry2 *e, uint32_t n, uint32_t vp);

/* The entry for @function/@index, or NULL. Entries without
 * KVM_CPUID_FLAG_SIGNIFCANT_INDEX match any index. */
const struct kvm_cpuid_entry2 *part_cpuid_find(const struct kvm_cpuid_entry2 *e,
					       uint32_t n, uint32_t function,
					       uint32_t index);

#endif
