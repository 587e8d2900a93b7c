/* SPDX-License-Identifier: MIT */
/*
 * Hyper-V enlightenments of the partition guest. The order of MSR writes
 * and the checks follow Linux (mshyperv.c ms_hyperv_platform/init_platform,
 * hv_init.c hyperv_init, hv.c hv_synic_enable_regs, vmbus_drv.c
 * vmbus_signal_eom); layouts: Hyper-V TLFS via include/vmbus/proto/tlfs.h.
 */
#include <vmbus/proto/vmbus.h>

#include "freestanding.h"
#include "hvg.h"
#include "rt.h"

uint8_t hvg_hypercall_page[HV_PAGE_SIZE] __attribute__((aligned(HV_PAGE_SIZE)));
struct hv_message_page hvg_simp __attribute__((aligned(HV_PAGE_SIZE)));
struct hv_synic_event_flags_page hvg_siefp __attribute__((aligned(HV_PAGE_SIZE)));
/* The TLFS wants hypercall input blocks not to cross a page; a page-aligned
 * one never does. */
struct hv_input_post_message hvg_post_input __attribute__((aligned(HV_PAGE_SIZE)));

static uint32_t str4(const char *s)
{
	return (uint32_t)(uint8_t)s[0] | (uint32_t)(uint8_t)s[1] << 8 |
	       (uint32_t)(uint8_t)s[2] << 16 | (uint32_t)(uint8_t)s[3] << 24;
}

const char *hvg_discover(struct hvg_info *info)
{
	struct rt_cpuid c;

	if (!(rt_cpuid(1, 0).ecx & (1u << 31)))
		return "CPUID 1 ECX bit 31 (hypervisor present) is clear";
	c = rt_cpuid(HYPERV_CPUID_VENDOR_AND_MAX_FUNCTIONS, 0);
	if (c.ebx != str4("Micr") || c.ecx != str4("osof") || c.edx != str4("t Hv"))
		return "CPUID 0x40000000 is not \"Microsoft Hv\"";
	if (c.eax < HYPERV_CPUID_MIN || c.eax > HYPERV_CPUID_MAX)
		return "CPUID 0x40000000 max leaf out of range";
	info->max_leaf = c.eax;
	if (rt_cpuid(HYPERV_CPUID_INTERFACE, 0).eax != HV_CPUID_SIGNATURE_EAX)
		return "CPUID 0x40000001 is not \"Hv#1\"";
	c = rt_cpuid(HYPERV_CPUID_VERSION, 0);
	info->build = c.eax;
	info->version = c.ebx;
	c = rt_cpuid(HYPERV_CPUID_FEATURES, 0);
	info->features = c.eax;
	info->privileges = c.ebx;
	info->misc = c.edx;
	info->hints = rt_cpuid(HYPERV_CPUID_ENLIGHTMENT_INFO, 0).eax;
	info->max_vps = rt_cpuid(HYPERV_CPUID_IMPLEMENT_LIMITS, 0).eax;
	if (!(info->features & HV_MSR_HYPERCALL_AVAILABLE) ||
	    !(info->features & HV_MSR_VP_INDEX_AVAILABLE))
		return "hypercall or VP index MSRs not offered";
	return NULL;
}

const char *hvg_enable_hypercalls(void)
{
	uint64_t v;

	rt_wrmsr(HV_X64_MSR_GUEST_OS_ID, HVG_GUEST_OS_ID);
	v = rt_rdmsr(HV_X64_MSR_HYPERCALL);
	v = (v & ~HV_MSR_PFN_MASK) | (uintptr_t)hvg_hypercall_page | HV_MSR_ENABLE;
	rt_wrmsr(HV_X64_MSR_HYPERCALL, v);
	if (!(rt_rdmsr(HV_X64_MSR_HYPERCALL) & HV_MSR_ENABLE))
		return "HYPERCALL does not read back enabled";
	return NULL;
}

uint64_t hvg_hypercall(uint64_t control, uint64_t input, uint64_t output)
{
	register uint64_t r8 __asm__("r8") = output;
	void *page = hvg_hypercall_page;
	uint64_t status;

	/* The page's code clobbers RAX only; R9-R11 are listed as Linux
	 * does, so any hypervisor's page is safe to call. */
	__asm__ volatile("call *%[page]"
			 : "=a"(status), "+c"(control), "+d"(input), "+r"(r8)
			 : [page] "m"(page)
			 : "cc", "memory", "r9", "r10", "r11");
	return status;
}

const char *hvg_synic_enable(uint8_t vector)
{
	uint64_t v;

	v = rt_rdmsr(HV_X64_MSR_SIMP);
	v = (v & ~HV_MSR_PFN_MASK) | (uintptr_t)&hvg_simp | HV_MSR_ENABLE;
	rt_wrmsr(HV_X64_MSR_SIMP, v);
	v = rt_rdmsr(HV_X64_MSR_SIEFP);
	v = (v & ~HV_MSR_PFN_MASK) | (uintptr_t)&hvg_siefp | HV_MSR_ENABLE;
	rt_wrmsr(HV_X64_MSR_SIEFP, v);
	/* Not auto-EOI: CPUID 0x40000004 asks for it to go unused. */
	rt_wrmsr(HV_X64_MSR_SINT0 + VMBUS_MESSAGE_SINT, vector);
	v = rt_rdmsr(HV_X64_MSR_SCONTROL);
	rt_wrmsr(HV_X64_MSR_SCONTROL, v | HV_SCONTROL_ENABLE);
	if (!(rt_rdmsr(HV_X64_MSR_SIMP) & HV_MSR_ENABLE) ||
	    !(rt_rdmsr(HV_X64_MSR_SIEFP) & HV_MSR_ENABLE))
		return "SIMP/SIEFP do not read back enabled";
	if ((rt_rdmsr(HV_X64_MSR_SINT0 + VMBUS_MESSAGE_SINT) &
	     (HV_SINT_MASKED | HV_SINT_VECTOR_MASK)) != vector)
		return "SINT2 does not read back unmasked with its vector";
	return NULL;
}

void hvg_synic_disable(void)
{
	rt_wrmsr(HV_X64_MSR_SINT0 + VMBUS_MESSAGE_SINT, HV_SINT_MASKED);
	rt_wrmsr(HV_X64_MSR_SCONTROL, 0);
	rt_wrmsr(HV_X64_MSR_SIMP, 0);
	rt_wrmsr(HV_X64_MSR_SIEFP, 0);
}

int hvg_take_message(uint32_t *type, void *buf)
{
	volatile struct hv_message *m = &hvg_simp.sint_message[VMBUS_MESSAGE_SINT];
	uint32_t t = m->header.message_type;
	uint8_t len, flags;

	if (t == HVMSG_NONE)
		return -1;
	rt_barrier();	/* the type is written last: read the rest after it */
	len = m->header.payload_size;
	if (len > HV_MESSAGE_PAYLOAD_BYTE_COUNT)
		len = HV_MESSAGE_PAYLOAD_BYTE_COUNT;
	flags = m->header.flags;
	memcpy(buf, (const void *)m->payload, len);
	m->header.message_type = HVMSG_NONE;
	rt_barrier();
	/* Pending is read again after freeing the slot: a message queued
	 * meanwhile has set it, and then the host waits for this EOM. */
	if ((flags | m->header.flags) & HV_MESSAGE_FLAG_PENDING)
		rt_wrmsr(HV_X64_MSR_EOM, 0);
	*type = t;
	return len;
}

static uint16_t post_message(void *ctx, uint32_t connection_id,
			     uint32_t message_type, const void *payload,
			     uint32_t size)
{
	(void)ctx;
	if (size > HV_MESSAGE_PAYLOAD_BYTE_COUNT)
		return HV_STATUS_INVALID_PARAMETER;
	hvg_post_input.connection_id = connection_id;
	hvg_post_input.reserved = 0;
	hvg_post_input.message_type = message_type;
	hvg_post_input.payload_size = size;
	memcpy(hvg_post_input.payload, payload, size);
	return (uint16_t)hvg_hypercall(HVCALL_POST_MESSAGE,
				       (uintptr_t)&hvg_post_input, 0);
}

static uint16_t signal_event(void *ctx, uint32_t connection_id, uint16_t flag)
{
	(void)ctx;
	return (uint16_t)hvg_hypercall(HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT,
				       connection_id |
				       (uint64_t)flag << HV_SIGNAL_EVENT_FLAG_SHIFT,
				       0);
}

const struct vmbus_hv_guest_ops hvg_guest_ops = {
	.post_message = post_message,
	.signal_event = signal_event,
};
