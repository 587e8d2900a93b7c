/* SPDX-License-Identifier: MIT */
/*
 * The guest's view of Hyper-V: discovery through CPUID, the partition
 * MSRs, the hypercall page, the SynIC pages and SINT 2, and the
 * vmbus_hv_guest_ops a VMBus client posts through. The sequence is the
 * one Linux follows (arch/x86/kernel/cpu/mshyperv.c, arch/x86/hyperv/
 * hv_init.c, drivers/hv/hv.c hv_synic_enable_regs); formats: Hyper-V TLFS
 * via include/vmbus/proto/tlfs.h.
 */
#ifndef HVG_H
#define HVG_H

#include <stdbool.h>
#include <stdint.h>

#include <vmbus/hv.h>
#include <vmbus/proto/tlfs.h>

/* What CPUID told us. */
struct hvg_info {
	uint32_t max_leaf;
	uint32_t features;	/* 0x40000003 EAX */
	uint32_t privileges;	/* 0x40000003 EBX */
	uint32_t misc;		/* 0x40000003 EDX */
	uint32_t hints;		/* 0x40000004 EAX */
	uint32_t build, version;
	uint32_t max_vps;
};

/* Linux's guest OS id layout: vendor 0x8100 (Linux) in bits 63:48. */
#define HVG_GUEST_OS_ID		(0x8100ull << 48 | 6ull << 16)

/* The pages the guest gives the hypervisor (page-aligned, in .bss). */
extern uint8_t hvg_hypercall_page[HV_PAGE_SIZE];
extern struct hv_message_page hvg_simp;
extern struct hv_synic_event_flags_page hvg_siefp;
extern struct hv_input_post_message hvg_post_input;

/*
 * Check the CPUID leaves the way Linux does before it trusts Hyper-V:
 * CPUID 1 ECX bit 31, "Microsoft Hv" with a max leaf in
 * [HYPERV_CPUID_MIN, HYPERV_CPUID_MAX], "Hv#1", the hypercall and VP index
 * privileges. Returns NULL on success or what is missing.
 */
const char *hvg_discover(struct hvg_info *info);

/* Write GUEST_OS_ID, then enable the hypercall page. NULL or the error. */
const char *hvg_enable_hypercalls(void);

/* Raw hypercall through the page: RCX, RDX, R8 in, RAX out. */
uint64_t hvg_hypercall(uint64_t control, uint64_t input, uint64_t output);

/* Program SIMP, SIEFP, SINT2 (= @vector, unmasked) and SCONTROL. */
const char *hvg_synic_enable(uint8_t vector);

/* Mask SINT2 and disable SCONTROL, SIMP and SIEFP again. */
void hvg_synic_disable(void);

/*
 * Take the message in SINT 2's slot, if any: copy it to @buf (240 bytes),
 * free the slot and write EOM when another message is pending, as Linux's
 * vmbus_signal_eom() does. Returns the payload length, or -1 if the slot
 * was empty; *@type gets the message type.
 */
int hvg_take_message(uint32_t *type, void *buf);

/* HvPostMessage / HvSignalEvent for a vmbus_client (ctx unused). */
extern const struct vmbus_hv_guest_ops hvg_guest_ops;

#endif
