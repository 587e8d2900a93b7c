/* SPDX-License-Identifier: MIT */
/*
 * The hypervisor a partition's guest talks to, minus KVM: guest memory as
 * a vmbus_gpa_map, the SynIC, the synthetic MSRs (hvmsr.c), the hypercall
 * entry point and the VMBus server behind connection ids 1 and 4. The
 * runner feeds it MSR exits and hypercall-port exits and gives it a
 * callback that interrupts a VP; tests feed it the same way from a plain
 * buffer, so everything here runs without /dev/kvm.
 *
 * Sources: Hyper-V TLFS (hypercall ABI, SynIC) via include/vmbus/proto/
 * tlfs.h; VMBus connection ids: include/vmbus/proto/vmbus.h
 * (docs/PROTOCOL.md section 1).
 */
#ifndef PART_HV_H
#define PART_HV_H

#include <stdbool.h>
#include <stdint.h>

#include <vmbus/log.h>
#include <vmbus/server.h>
#include <vmbus/synic.h>

#include "hvmsr.h"

/* Interface id of the test offer (vmbus-run's own, not a Hyper-V class):
 * a channel that accepts open and close and ignores its rings. */
#define PART_TEST_OFFER_GUID	VMBUS_GUID_INIT(0x5d0b4f6a, 0x2c1e, 0x4b7d, \
						0x9a35, 0x7e81c04d2b96ull)

/* Channels with relids 1..PART_HV_MAX_RELID can be signalled (their event
 * connection ids are registered when the model is built). */
#define PART_HV_MAX_RELID	256u

/* Counters, all monotonic; read with part_hv_counters(). */
struct part_hv_counters {
	uint64_t hcall_post;		/* HvPostMessage calls */
	uint64_t hcall_signal;		/* HvSignalEvent calls */
	uint64_t hcall_other;		/* any other code */
	uint64_t hcall_failed;		/* calls answered with a non-zero status */
	uint64_t hcall_disabled;	/* port used with the page disabled */
	uint64_t msgs_delivered;	/* server messages posted to a SIMP slot */
	uint64_t msgs_failed;
	uint64_t events_set;		/* event flags set for a channel */
	uint64_t msr_gp;		/* MSR accesses answered with #GP */
};

/* Creation parameters (a value type the caller fills). */
struct part_hv_config {
	uint32_t vp_count;
	void *ram;			/* guest RAM: GPAs [0, ram_size) */
	uint64_t ram_size;		/* a multiple of 4 KiB */
	vmbus_synic_raise_fn *raise;	/* interrupt a VP (required) */
	void *raise_opaque;
	part_clock_fn *clock;		/* NULL: CLOCK_MONOTONIC */
	void *clock_opaque;
	uint64_t tsc_hz, apic_hz;	/* frequency MSRs, 0 for none */
	bool test_offer;		/* register the test offer */
	struct vmbus_log log;
};

struct part_hv;

/* Build it all; 0, -EINVAL or -ENOMEM (or the first library error). */
int part_hv_new(const struct part_hv_config *cfg, struct part_hv **out);

/* Free (NULL is fine). No VP may be running. */
void part_hv_free(struct part_hv *hv);

/* The guest-memory map (valid for the lifetime of @hv). */
const struct vmbus_gpa_map *part_hv_gpa_map(const struct part_hv *hv);

/*
 * The VMBus server, for devices to register their offers on before the
 * guest runs. Device callbacks run inside HvPostMessage/HvSignalEvent on
 * the calling VP's thread, with the bus lock held.
 */
struct vmbus_server *part_hv_server(struct part_hv *hv);

/*
 * The bus lock: every call into the server, or into a device registered
 * on it, from outside a hypercall (a NIC's receive thread) must hold it,
 * because the server and the devices take one caller at a time.
 */
void part_hv_lock(struct part_hv *hv);
void part_hv_unlock(struct part_hv *hv);

/* MSR exits of VP @vp, see part_hvmsr_wrmsr()/_rdmsr(). */
enum part_hvmsr_result part_hv_wrmsr(struct part_hv *hv, uint32_t vp,
				     uint32_t msr, uint64_t value);
enum part_hvmsr_result part_hv_rdmsr(struct part_hv *hv, uint32_t vp,
				     uint32_t msr, uint64_t *value);

/*
 * A hypercall of VP @vp with RCX = @control, RDX = @input (R8, the output
 * GPA, is unused by the calls implemented). Returns the RAX value: the
 * HV_STATUS_* in bits 15:0, reps completed (always 0) above. With the
 * hypercall page disabled the call fails with
 * HV_STATUS_INVALID_HYPERCALL_CODE, as a stray VMCALL would on Hyper-V.
 */
uint64_t part_hv_hypercall(struct part_hv *hv, uint32_t vp, uint64_t control,
			   uint64_t input);

/* A snapshot of the counters. */
void part_hv_counters(const struct part_hv *hv, struct part_hv_counters *out);

#endif
