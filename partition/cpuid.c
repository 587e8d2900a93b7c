/* SPDX-License-Identifier: MIT */
/*
 * Hyper-V CPUID leaves and their merge with the host's supported CPUID.
 * Leaf layouts: Hyper-V TLFS "Hypervisor CPUID leaves"; bit names from
 * include/vmbus/proto/tlfs.h (Linux hyperv-tlfs.h). Requirements of a
 * Linux guest: arch/x86/kernel/cpu/mshyperv.c (docs/PROTOCOL.md s. 7).
 */
#include <errno.h>
#include <string.h>

#include <vmbus/proto/tlfs.h>

#include "cpuid.h"

/* Version the partition claims in 0x40000002: build 14393 of 10.0, the
 * numbers QEMU reports by default; Linux only prints them. */
#define HV_VERSION_BUILD	0x3839u
#define HV_VERSION_MAJOR_MINOR	0x000a0000u

/* TLFS leaf 0x40000006, implementation hardware features (not in
 * proto/tlfs.h). All zero: no hardware assists are offered. */
#define HV_CPUID_HW_FEATURES	0x40000006u

/* 0x40000004 EBX: spinlock retries before notifying; all ones = never. */
#define HV_SPINLOCK_NEVER	0xffffffffu

/* Pack four ASCII bytes the way CPUID returns strings (first byte low). */
static uint32_t str4(const char *s)
{
	return (uint32_t)(uint8_t)s[0] | (uint32_t)(uint8_t)s[1] << 8 |
	       (uint32_t)(uint8_t)s[2] << 16 | (uint32_t)(uint8_t)s[3] << 24;
}

static void leaf(struct kvm_cpuid_entry2 *e, uint32_t fn, uint32_t a,
		 uint32_t b, uint32_t c, uint32_t d)
{
	memset(e, 0, sizeof(*e));
	e->function = fn;
	e->eax = a;
	e->ebx = b;
	e->ecx = c;
	e->edx = d;
}

int part_cpuid_hv_leaves(const struct part_cpuid_config *cfg,
			 struct kvm_cpuid_entry2 *out, uint32_t max)
{
	const uint32_t n = PART_CPUID_HV_MAX_LEAF - PART_CPUID_HV_RANGE_FIRST + 1;
	uint32_t priv_lo, priv_hi, misc = 0;

	if (max < n)
		return -ENOSPC;
	/* What the runner implements, and nothing else: a bit a guest sees
	 * makes it use the feature without asking again. */
	priv_lo = HV_MSR_TIME_REF_COUNT_AVAILABLE | HV_MSR_SYNIC_AVAILABLE |
		  HV_MSR_HYPERCALL_AVAILABLE | HV_MSR_VP_INDEX_AVAILABLE;
	priv_hi = HV_POST_MESSAGES | HV_SIGNAL_EVENTS;
	if (cfg->tsc_hz && cfg->apic_hz) {
		priv_lo |= HV_ACCESS_FREQUENCY_MSRS;
		misc |= PART_HV_FEATURE_FREQUENCY_MSRS;
	}

	leaf(&out[0], HYPERV_CPUID_VENDOR_AND_MAX_FUNCTIONS,
	     PART_CPUID_HV_MAX_LEAF, str4("Micr"), str4("osof"), str4("t Hv"));
	leaf(&out[1], HYPERV_CPUID_INTERFACE, HV_CPUID_SIGNATURE_EAX, 0, 0, 0);
	leaf(&out[2], HYPERV_CPUID_VERSION, HV_VERSION_BUILD,
	     HV_VERSION_MAJOR_MINOR, 0, 0);
	leaf(&out[3], HYPERV_CPUID_FEATURES, priv_lo, priv_hi, 0, misc);
	/* Auto-EOI deprecated: the SINT handler writes the LAPIC EOI itself,
	 * which is all the in-kernel LAPIC supports. */
	leaf(&out[4], HYPERV_CPUID_ENLIGHTMENT_INFO,
	     HV_DEPRECATING_AEOI_RECOMMENDED | PART_HV_RELAXED_TIMING,
	     HV_SPINLOCK_NEVER, 0, 0);
	leaf(&out[5], HYPERV_CPUID_IMPLEMENT_LIMITS, cfg->vp_count,
	     cfg->vp_count, 0, 0);
	leaf(&out[6], HV_CPUID_HW_FEATURES, 0, 0, 0, 0);
	return (int)n;
}

int part_cpuid_build(const struct kvm_cpuid_entry2 *host, uint32_t host_n,
		     const struct part_cpuid_config *cfg,
		     struct kvm_cpuid_entry2 *out, uint32_t max)
{
	uint32_t i, n = 0;
	int ret;

	if ((!host && host_n) || !cfg || !out || !cfg->vp_count)
		return -EINVAL;
	for (i = 0; i < host_n; i++) {
		const struct kvm_cpuid_entry2 *h = &host[i];

		if (h->function >= PART_CPUID_HV_RANGE_FIRST &&
		    h->function <= PART_CPUID_HV_RANGE_LAST)
			continue;
		if (n == max)
			return -ENOSPC;
		out[n] = *h;
		if (h->function == 1)
			out[n].ecx |= PART_CPUID_1_ECX_HYPERVISOR;
		n++;
	}
	ret = part_cpuid_hv_leaves(cfg, out + n, max - n);
	if (ret < 0)
		return ret;
	return (int)(n + (uint32_t)ret);
}

int part_cpuid_set_vp(struct kvm_cpuid_entry2 *e, uint32_t n, uint32_t vp)
{
	uint32_t i;
	int patched = 0;

	for (i = 0; i < n; i++) {
		if (e[i].function == 1) {
			e[i].ebx = (e[i].ebx & 0x00ffffffu) | (vp & 0xffu) << 24;
			patched++;
		} else if (e[i].function == 0xb || e[i].function == 0x1f) {
			e[i].edx = vp;
			patched++;
		}
	}
	return patched;
}

const struct kvm_cpuid_entry2 *part_cpuid_find(const struct kvm_cpuid_entry2 *e,
					       uint32_t n, uint32_t function,
					       uint32_t index)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (e[i].function != function)
			continue;
		if ((e[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) &&
		    e[i].index != index)
			continue;
		return &e[i];
	}
	return NULL;
}
