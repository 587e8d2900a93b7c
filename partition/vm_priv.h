/* SPDX-License-Identifier: MIT */
/*
 * What vm.c and vcpu.c share: the partition and VP objects of one run.
 * KVM interface: Documentation/virt/kvm/api.rst, <linux/kvm.h>.
 */
#ifndef PART_VM_PRIV_H
#define PART_VM_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <linux/kvm.h>

#include "guest/abi.h"
#include "hv.h"
#include "vm.h"

/* Exit reasons counted one by one; higher ones share the last slot. */
#define PART_EXIT_REASONS	64

struct part_vm;

struct part_vcpu {
	struct part_vm *vm;
	uint32_t index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;	/* set by the main thread, read by all */
	uint32_t hcall_status;	/* answered on PART_PORT_HCALL_STATUS */
};

struct part_vm {
	const struct part_vm_config *cfg;
	FILE *console, *report;
	pthread_mutex_t console_lock, report_lock;

	int kvm_fd, vm_fd, mem_fd;
	void *ram;
	uint64_t ram_size;
	size_t run_size;
	struct part_hv *hv;
	struct part_dev *dev;

	struct kvm_cpuid_entry2 *cpuid;	/* merged table */
	uint32_t cpuid_n;

	struct part_vcpu vcpus[PART_MAX_CPUS];
	uint32_t vcpu_count;

	/* Stop protocol: the first stop() wins and sets status. */
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	bool stopping;
	int status;

	uint64_t exits[PART_EXIT_REASONS];
	uint64_t irq_injected, irq_blocked, irq_failed;
	uint64_t io_unknown, msr_other;
};

/* Bump a counter from any thread. */
static inline void part_count(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

/* End the run with @status unless it already ended; wakes the main thread
 * and kicks every VP out of KVM_RUN. Safe from any thread. */
void part_vm_stop(struct part_vm *vm, int status);

/* Printf to the report stream under its lock. */
void part_vm_report(struct part_vm *vm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Create VP @index: its fd and kvm_run mapping. 0 or a negative errno
 * (reported). */
int part_vcpu_create(struct part_vm *vm, uint32_t index);

/* Give a created VP the merged CPUID (with its APIC id), the long-mode
 * registers at @entry and the runnable MP state. 0 or -errno (reported). */
int part_vcpu_setup(struct part_vcpu *v, uint64_t entry);

/* The VP thread: KVM_RUN and exit handling until the run stops. */
void *part_vcpu_thread(void *arg);

/* Make the VP leave KVM_RUN soon (immediate_exit plus a signal). */
void part_vcpu_kick(struct part_vcpu *v);

/* Print the VP's registers to the report stream (caller holds no lock;
 * only from the VP's own thread or after it ended). */
void part_vcpu_dump(struct part_vcpu *v);

/* Unmap and close. */
void part_vcpu_fini(struct part_vcpu *v);

#endif
