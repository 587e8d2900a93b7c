/* SPDX-License-Identifier: MIT */
/*
 * The emulated partition: the same guest image, memory layout, long-mode
 * entry state, ports, CPUID, Hyper-V MSRs, hypercalls, SynIC and devices
 * as the KVM partition (vm.h), with the Unicorn CPU emulator running the
 * instructions instead of KVM. For machines without a usable /dev/kvm;
 * much slower, one VP.
 *
 * Differences from KVM, all invisible to a guest that follows guest/abi.h:
 *  - one VP only (--cpus 1);
 *  - the local APIC is a small model (xAPIC MMIO at 0xfee00000: ID, version,
 *    SVR, EOI, LVT timer, initial/current count, divide; CPUID does not
 *    offer x2APIC); its timer counts nanoseconds, as KVM's does;
 *  - interrupts (the SINT vector, timer ticks) are delivered through the
 *    guest's IDT by the runner when the guest has IF set: at HLT, after
 *    the instruction that made them pending, or when another thread
 *    raised them; a timer tick falls due only at such a stop, so a guest
 *    spinning with IF set and no port or MSR access sees no ticks.
 *    Exceptions the CPU raises, and #GP for a refused Hyper-V MSR access,
 *    take the same path;
 *  - RDMSR/WRMSR are caught at the instruction sites found in the loaded
 *    image, so code the guest writes at run time may not touch Hyper-V
 *    MSRs (the hypercall page does not);
 *  - the IDT and the stack are read and written at their guest-physical
 *    addresses, which guest/abi.h's identity map makes the same;
 *  - no TSC or APIC frequency MSRs are offered.
 *
 * Emulator API: Unicorn 2 <unicorn/unicorn.h>; interrupt and exception
 * delivery in 64-bit mode: Intel SDM vol. 3, chapter 6 ("64-bit mode IDT",
 * "stack frame"); local APIC registers: SDM vol. 3, chapter 11.
 */
#ifndef PART_EMU_H
#define PART_EMU_H

#include <stdbool.h>

#include "vm.h"

/* True when this build has the emulator (Unicorn was found). */
bool part_emu_available(void);

/* part_vm_run() on the emulator; the same statuses. PART_EXIT_USAGE for
 * more than one VP, PART_EXIT_NO_KVM when the emulator is not built in. */
int part_emu_run(const struct part_vm_config *cfg);

#endif
