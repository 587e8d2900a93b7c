/* SPDX-License-Identifier: MIT */
/*
 * Hyper-V partition and VP MSRs (not the SynIC ones, which live in
 * libvmbus/synic.c). Layouts: Hyper-V TLFS via include/vmbus/proto/tlfs.h;
 * behaviour where the TLFS is silent: KVM arch/x86/kvm/hyperv.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmbus/proto/tlfs.h>

#include "guest/abi.h"
#include "hvmsr.h"

#define HVMSR_MAX_VPS	4096u

const uint8_t part_hvmsr_hcall_code[PART_HVMSR_HCALL_CODE_SIZE] = {
	0xe6, PART_PORT_HCALL,		/* out %al, $PART_PORT_HCALL */
	0xe5, PART_PORT_HCALL_STATUS,	/* in $PART_PORT_HCALL_STATUS, %eax */
	0xc3,				/* ret */
};

struct part_hvmsr {
	struct part_hvmsr_config cfg;
	uint64_t start_ns;
	/* Partition-wide MSRs: any VP may write them, so they share a lock. */
	pthread_mutex_t lock;
	uint64_t guest_os_id;
	uint64_t hypercall;
};

static uint64_t monotonic_ns(void *opaque)
{
	struct timespec ts;

	(void)opaque;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(const struct part_hvmsr *h)
{
	return h->cfg.clock(h->cfg.clock_opaque);
}

int part_hvmsr_new(const struct part_hvmsr_config *cfg, struct part_hvmsr **out)
{
	struct part_hvmsr *h;

	if (!cfg || !out || !cfg->mem.map || !cfg->vp_count ||
	    cfg->vp_count > HVMSR_MAX_VPS)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	if (pthread_mutex_init(&h->lock, NULL)) {
		free(h);
		return -ENOMEM;
	}
	h->cfg = *cfg;
	if (!h->cfg.clock) {
		h->cfg.clock = monotonic_ns;
		h->cfg.clock_opaque = NULL;
	}
	h->start_ns = now_ns(h);
	*out = h;
	return 0;
}

void part_hvmsr_free(struct part_hvmsr *h)
{
	if (!h)
		return;
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/* Overlay the page with the exit sequence; INT3 elsewhere, so a guest that
 * jumps into the middle of the page traps instead of running stale bytes. */
static bool write_hypercall_page(struct part_hvmsr *h, uint64_t gpa)
{
	uint8_t *page = h->cfg.mem.map(h->cfg.mem.opaque, gpa, HV_PAGE_SIZE);

	if (!page)
		return false;
	memcpy(page, part_hvmsr_hcall_code, sizeof(part_hvmsr_hcall_code));
	memset(page + sizeof(part_hvmsr_hcall_code), 0xcc,
	       HV_PAGE_SIZE - sizeof(part_hvmsr_hcall_code));
	return true;
}

static enum part_hvmsr_result wr_hypercall(struct part_hvmsr *h, uint64_t value)
{
	enum part_hvmsr_result r = PART_HVMSR_OK;

	if (value & PART_HVMSR_HYPERCALL_RSVD)
		return PART_HVMSR_GP;
	pthread_mutex_lock(&h->lock);
	if (h->hypercall & PART_HVMSR_HYPERCALL_LOCKED) {
		if (value != h->hypercall)
			r = PART_HVMSR_GP;
	} else if (!h->guest_os_id) {
		/* KVM's rule: no hypercalls before the guest says who it is. */
		vmbus_logf(&h->cfg.log, VMBUS_LOG_DEBUG,
			   "HYPERCALL write 0x%llx before GUEST_OS_ID ignored",
			   (unsigned long long)value);
	} else if (!(value & HV_MSR_ENABLE)) {
		h->hypercall = value;
	} else if (!write_hypercall_page(h, value & HV_MSR_PFN_MASK)) {
		vmbus_logf(&h->cfg.log, VMBUS_LOG_DEBUG,
			   "HYPERCALL page 0x%llx is not guest RAM",
			   (unsigned long long)(value & HV_MSR_PFN_MASK));
		r = PART_HVMSR_GP;
	} else {
		h->hypercall = value;
	}
	pthread_mutex_unlock(&h->lock);
	return r;
}

static enum part_hvmsr_result synic_result(int ret)
{
	/* -ENOENT: not a SynIC MSR either, so an unknown one in our range. */
	return ret ? PART_HVMSR_GP : PART_HVMSR_OK;
}

enum part_hvmsr_result part_hvmsr_wrmsr(struct part_hvmsr *h, uint32_t vp,
					uint32_t msr, uint64_t value)
{
	if (msr < PART_HVMSR_FIRST || msr > PART_HVMSR_LAST)
		return PART_HVMSR_NOT_HV;
	if (vp >= h->cfg.vp_count)
		return PART_HVMSR_GP;
	switch (msr) {
	case HV_X64_MSR_GUEST_OS_ID:
		pthread_mutex_lock(&h->lock);
		h->guest_os_id = value;
		if (!value)
			h->hypercall &= ~HV_MSR_ENABLE;
		pthread_mutex_unlock(&h->lock);
		return PART_HVMSR_OK;
	case HV_X64_MSR_HYPERCALL:
		return wr_hypercall(h, value);
	case HV_X64_MSR_VP_INDEX:
	case HV_X64_MSR_TIME_REF_COUNT:
	case HV_X64_MSR_TSC_FREQUENCY:
	case HV_X64_MSR_APIC_FREQUENCY:
		return PART_HVMSR_GP;
	default:
		if (!h->cfg.synic)
			return PART_HVMSR_GP;
		return synic_result(vmbus_synic_wrmsr(h->cfg.synic, vp, msr, value));
	}
}

enum part_hvmsr_result part_hvmsr_rdmsr(struct part_hvmsr *h, uint32_t vp,
					uint32_t msr, uint64_t *value)
{
	bool freq = h->cfg.tsc_hz && h->cfg.apic_hz;
	uint64_t now;

	if (msr < PART_HVMSR_FIRST || msr > PART_HVMSR_LAST)
		return PART_HVMSR_NOT_HV;
	if (vp >= h->cfg.vp_count)
		return PART_HVMSR_GP;
	switch (msr) {
	case HV_X64_MSR_GUEST_OS_ID:
		pthread_mutex_lock(&h->lock);
		*value = h->guest_os_id;
		pthread_mutex_unlock(&h->lock);
		return PART_HVMSR_OK;
	case HV_X64_MSR_HYPERCALL:
		pthread_mutex_lock(&h->lock);
		*value = h->hypercall;
		pthread_mutex_unlock(&h->lock);
		return PART_HVMSR_OK;
	case HV_X64_MSR_VP_INDEX:
		*value = vp;
		return PART_HVMSR_OK;
	case HV_X64_MSR_TIME_REF_COUNT:
		/* A clock that stepped back must not make the count run
		 * backwards past the start. */
		now = now_ns(h);
		*value = now > h->start_ns ? (now - h->start_ns) / 100 : 0;
		return PART_HVMSR_OK;
	case HV_X64_MSR_TSC_FREQUENCY:
		if (!freq)
			return PART_HVMSR_GP;
		*value = h->cfg.tsc_hz;
		return PART_HVMSR_OK;
	case HV_X64_MSR_APIC_FREQUENCY:
		if (!freq)
			return PART_HVMSR_GP;
		*value = h->cfg.apic_hz;
		return PART_HVMSR_OK;
	default:
		if (!h->cfg.synic)
			return PART_HVMSR_GP;
		return synic_result(vmbus_synic_rdmsr(h->cfg.synic, vp, msr, value));
	}
}

bool part_hvmsr_hypercall_enabled(struct part_hvmsr *h)
{
	bool on;

	pthread_mutex_lock(&h->lock);
	on = h->hypercall & HV_MSR_ENABLE;
	pthread_mutex_unlock(&h->lock);
	return on;
}
