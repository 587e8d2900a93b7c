/* SPDX-License-Identifier: MIT */
/*
 * Hyper-V hypervisor interface as a guest sees it: hypercall codes and status
 * values, synthetic MSRs, the SynIC message and event-flag pages, and the
 * HvPostMessage input page.
 *
 * Source: Microsoft's Hypervisor Top-Level Functional Specification; Linux
 * include/asm-generic/hyperv-tlfs.h and arch/x86/include/asm/hyperv-tlfs.h.
 */
#ifndef VMBUS_PROTO_TLFS_H
#define VMBUS_PROTO_TLFS_H

#include <stddef.h>
#include <stdint.h>

#define HV_PAGE_SIZE		4096u
#define HV_PAGE_SHIFT		12

/* Hypercall input value (RCX): call code in bits 15:0, fast flag bit 16,
 * rep count 43:32, rep start index 59:48. */
#define HV_HYPERCALL_CODE_MASK		0xffffull
#define HV_HYPERCALL_FAST_BIT		(1ull << 16)
#define HV_HYPERCALL_VARHEAD_SHIFT	17
#define HV_HYPERCALL_VARHEAD_MASK	(0x3ffull << HV_HYPERCALL_VARHEAD_SHIFT)
#define HV_HYPERCALL_REP_COMP_SHIFT	32
#define HV_HYPERCALL_REP_COMP_MASK	(0xfffull << HV_HYPERCALL_REP_COMP_SHIFT)
#define HV_HYPERCALL_REP_START_SHIFT	48
#define HV_HYPERCALL_REP_START_MASK	(0xfffull << HV_HYPERCALL_REP_START_SHIFT)
/* Bits reserved (must be zero) in every form of the control word: 31:27,
 * 47:44 and 63:60 (Linux HV_HYPERCALL_RSVD{0,1,2}_MASK). */
#define HV_HYPERCALL_RSVD_MASK		0xf000f000f8000000ull

/* Hypercall codes. */
#define HVCALL_FLUSH_VIRTUAL_ADDRESS_SPACE	0x0002
#define HVCALL_FLUSH_VIRTUAL_ADDRESS_LIST	0x0003
#define HVCALL_NOTIFY_LONG_SPIN_WAIT		0x0008
#define HVCALL_SEND_IPI				0x000b
#define HVCALL_POST_MESSAGE			0x005c
#define HVCALL_SIGNAL_EVENT			0x005d
#define HVCALL_RETARGET_INTERRUPT		0x007e

/* Hypercall result value (RAX): status in bits 15:0, reps completed 43:32. */
#define HV_HYPERCALL_RESULT_MASK	0xffffull

/* Status codes. */
#define HV_STATUS_SUCCESS			0x0000
#define HV_STATUS_INVALID_HYPERCALL_CODE	0x0002
#define HV_STATUS_INVALID_HYPERCALL_INPUT	0x0003
#define HV_STATUS_INVALID_ALIGNMENT		0x0004
#define HV_STATUS_INVALID_PARAMETER		0x0005
#define HV_STATUS_ACCESS_DENIED			0x0006
#define HV_STATUS_INVALID_PARTITION_STATE	0x0007
#define HV_STATUS_OPERATION_DENIED		0x0008
#define HV_STATUS_UNKNOWN_PROPERTY		0x0009
#define HV_STATUS_PROPERTY_VALUE_OUT_OF_RANGE	0x000a
#define HV_STATUS_INSUFFICIENT_MEMORY		0x000b
#define HV_STATUS_INVALID_PARTITION_ID		0x000d
#define HV_STATUS_INVALID_VP_INDEX		0x000e
#define HV_STATUS_NOT_FOUND			0x0010
#define HV_STATUS_INVALID_PORT_ID		0x0011
#define HV_STATUS_INVALID_CONNECTION_ID		0x0012
#define HV_STATUS_INSUFFICIENT_BUFFERS		0x0013
#define HV_STATUS_NOT_ACKNOWLEDGED		0x0014
#define HV_STATUS_INVALID_VP_STATE		0x0015
#define HV_STATUS_ACKNOWLEDGED			0x0016
#define HV_STATUS_INVALID_SAVE_RESTORE_STATE	0x0017
#define HV_STATUS_INVALID_SYNIC_STATE		0x0018
#define HV_STATUS_OBJECT_IN_USE			0x0019
#define HV_STATUS_TIME_OUT			0x0078

/* Synthetic MSRs. */
#define HV_X64_MSR_GUEST_OS_ID		0x40000000
#define HV_X64_MSR_HYPERCALL		0x40000001
#define HV_X64_MSR_VP_INDEX		0x40000002
#define HV_X64_MSR_RESET		0x40000003
#define HV_X64_MSR_VP_RUNTIME		0x40000010
#define HV_X64_MSR_TIME_REF_COUNT	0x40000020
#define HV_X64_MSR_REFERENCE_TSC	0x40000021
#define HV_X64_MSR_TSC_FREQUENCY	0x40000022
#define HV_X64_MSR_APIC_FREQUENCY	0x40000023
#define HV_X64_MSR_VP_ASSIST_PAGE	0x40000073
#define HV_X64_MSR_SCONTROL		0x40000080
#define HV_X64_MSR_SVERSION		0x40000081
#define HV_X64_MSR_SIEFP		0x40000082
#define HV_X64_MSR_SIMP			0x40000083
#define HV_X64_MSR_EOM			0x40000084
#define HV_X64_MSR_SINT0		0x40000090
#define HV_X64_MSR_SINT15		0x4000009f

/* HYPERCALL, SIMP, SIEFP, VP_ASSIST_PAGE: enable bit 0, page frame 63:12. */
#define HV_MSR_ENABLE			(1ull << 0)
#define HV_MSR_PFN_SHIFT		12
#define HV_MSR_PFN_MASK			(~0xfffull)

/* SCONTROL: bit 0 enables the SynIC. */
#define HV_SCONTROL_ENABLE		(1ull << 0)
/* SVERSION reads back the SynIC version. */
#define HV_SYNIC_VERSION_1		0x1

/* SINTx: vector 7:0, masked 16, auto-EOI 17, polling 18. */
#define HV_SINT_VECTOR_MASK		0xffull
#define HV_SINT_MASKED			(1ull << 16)
#define HV_SINT_AUTO_EOI		(1ull << 17)
#define HV_SINT_POLLING			(1ull << 18)
#define HV_SINT_RSVD_MASK		(~0x700ffull)
#define HV_SINT_COUNT			16
/* Vectors below 16 are reserved by the architecture. */
#define HV_SINT_VECTOR_MIN		16

/* SynIC message page. */
#define HV_MESSAGE_SIZE			256
#define HV_MESSAGE_PAYLOAD_BYTE_COUNT	240
#define HV_MESSAGE_PAYLOAD_QWORD_COUNT	30

#define HVMSG_NONE			0x00000000u
#define HVMSG_UNMAPPED_GPA		0x80000000u
#define HVMSG_GPA_INTERCEPT		0x80000001u
#define HVMSG_TIMER_EXPIRED		0x80000010u
#define HVMSG_INVALID_VP_REGISTER_VALUE	0x80000020u
#define HVMSG_UNRECOVERABLE_EXCEPTION	0x80000021u
#define HVMSG_UNSUPPORTED_FEATURE	0x80000022u
#define HVMSG_EVENTLOG_BUFFERCOMPLETE	0x80000040u

/* The message_type a VMBus partition passes to HvPostMessage. */
#define HV_MESSAGE_TYPE_VMBUS		1u

/* hv_message.flags bit 0: another message waits for this slot; the guest
 * writes EOM after freeing it. */
#define HV_MESSAGE_FLAG_PENDING		0x01u

struct hv_message_header {
	uint32_t message_type;
	uint8_t payload_size;
	uint8_t flags;
	uint8_t reserved[2];
	uint64_t sender;	/* port id or connection id */
};

struct hv_message {
	struct hv_message_header header;
	uint64_t payload[HV_MESSAGE_PAYLOAD_QWORD_COUNT];
};

struct hv_message_page {
	struct hv_message sint_message[HV_SINT_COUNT];
};

/* SynIC event flags page: one 2048-bit bitmap per SINT. */
#define HV_EVENT_FLAGS_COUNT		2048u
#define HV_EVENT_FLAGS_BYTE_COUNT	256u

struct hv_synic_event_flags {
	uint8_t flags[HV_EVENT_FLAGS_BYTE_COUNT];
};

struct hv_synic_event_flags_page {
	struct hv_synic_event_flags sintevent_flags[HV_SINT_COUNT];
};

/* HvPostMessage input page. */
struct hv_input_post_message {
	uint32_t connection_id;
	uint32_t reserved;
	uint32_t message_type;
	uint32_t payload_size;
	uint64_t payload[HV_MESSAGE_PAYLOAD_QWORD_COUNT];
};

/* HvSignalEvent is a fast call: RDX = connection id (bits 23:0) and flag
 * number (bits 47:32). */
#define HV_SIGNAL_EVENT_CONNID_MASK	0x00ffffffull
#define HV_SIGNAL_EVENT_FLAG_SHIFT	32
#define HV_SIGNAL_EVENT_FLAG_MASK	0xffffull
#define HV_CONNECTION_ID_MASK		0x00ffffffu

/* CPUID leaves a Hyper-V guest reads. */
#define HYPERV_CPUID_VENDOR_AND_MAX_FUNCTIONS	0x40000000
#define HYPERV_CPUID_INTERFACE			0x40000001
#define HYPERV_CPUID_VERSION			0x40000002
#define HYPERV_CPUID_FEATURES			0x40000003
#define HYPERV_CPUID_ENLIGHTMENT_INFO		0x40000004
#define HYPERV_CPUID_IMPLEMENT_LIMITS		0x40000005
#define HYPERV_CPUID_CPU_MANAGEMENT_FEATURES	0x40000007
#define HYPERV_CPUID_NESTED_FEATURES		0x4000000a
#define HYPERV_CPUID_MIN			0x40000005
#define HYPERV_CPUID_MAX			0x4000ffff
#define HV_CPUID_SIGNATURE_EAX			0x31237648 /* "Hv#1" */

/* 0x40000003 EAX: partition privilege mask, low half. */
#define HV_MSR_VP_RUNTIME_AVAILABLE		(1u << 0)
#define HV_MSR_TIME_REF_COUNT_AVAILABLE		(1u << 1)
#define HV_MSR_SYNIC_AVAILABLE			(1u << 2)
#define HV_MSR_SYNTIMER_AVAILABLE		(1u << 3)
#define HV_MSR_APIC_ACCESS_AVAILABLE		(1u << 4)
#define HV_MSR_HYPERCALL_AVAILABLE		(1u << 5)
#define HV_MSR_VP_INDEX_AVAILABLE		(1u << 6)
#define HV_MSR_RESET_AVAILABLE			(1u << 7)
#define HV_MSR_STAT_PAGES_AVAILABLE		(1u << 8)
#define HV_MSR_REFERENCE_TSC_AVAILABLE		(1u << 9)
#define HV_MSR_GUEST_IDLE_AVAILABLE		(1u << 10)
#define HV_ACCESS_FREQUENCY_MSRS		(1u << 11)
/* 0x40000003 EBX: partition privilege mask, high half. */
#define HV_CREATE_PARTITIONS			(1u << 0)
#define HV_ACCESS_PARTITION_ID			(1u << 1)
#define HV_POST_MESSAGES			(1u << 4)
#define HV_SIGNAL_EVENTS			(1u << 5)
#define HV_CPU_MANAGEMENT			(1u << 12)
#define HV_ISOLATION				(1u << 22)
/* 0x40000004 EAX. */
#define HV_X64_APIC_ACCESS_RECOMMENDED		(1u << 3)
#define HV_DEPRECATING_AEOI_RECOMMENDED		(1u << 9)

/* The vector Linux programs into the VMBus SINT. */
#define HYPERVISOR_CALLBACK_VECTOR		0xf3

_Static_assert(sizeof(struct hv_message_header) == 16, "hv_message_header");
_Static_assert(offsetof(struct hv_message_header, payload_size) == 4, "payload_size");
_Static_assert(offsetof(struct hv_message_header, flags) == 5, "flags");
_Static_assert(offsetof(struct hv_message_header, sender) == 8, "sender");
_Static_assert(sizeof(struct hv_message) == HV_MESSAGE_SIZE, "hv_message");
_Static_assert(sizeof(struct hv_message_page) == HV_PAGE_SIZE, "hv_message_page");
_Static_assert(sizeof(struct hv_synic_event_flags_page) == HV_PAGE_SIZE, "event flags page");
_Static_assert(sizeof(struct hv_input_post_message) == 256, "hv_input_post_message");
_Static_assert(offsetof(struct hv_input_post_message, payload) == 16, "post payload");

#endif
