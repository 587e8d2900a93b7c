/* SPDX-License-Identifier: MIT */
/*
 * One partition VP: creation, its KVM_RUN loop and the exits it handles
 * (port I/O, user-space MSRs, faults). KVM interface:
 * Documentation/virt/kvm/api.rst (KVM_RUN exit reasons, KVM_EXIT_X86_RDMSR/
 * WRMSR, immediate_exit) and <linux/kvm.h>.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpuid.h"
#include "io.h"
#include "vm_priv.h"
#include "x86.h"

/* ioctl() that retries when a signal interrupted it before KVM ran. */
static int xioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, req, arg);
	} while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : ret;
}

static int set_cpuid(struct part_vcpu *v)
{
	struct part_vm *vm = v->vm;
	struct kvm_cpuid2 *c;
	size_t sz = sizeof(*c) + vm->cpuid_n * sizeof(c->entries[0]);
	int ret;

	c = calloc(1, sz);
	if (!c)
		return -ENOMEM;
	c->nent = vm->cpuid_n;
	memcpy(c->entries, vm->cpuid, vm->cpuid_n * sizeof(c->entries[0]));
	part_cpuid_set_vp(c->entries, c->nent, v->index);
	ret = xioctl(v->fd, KVM_SET_CPUID2, c);
	free(c);
	return ret < 0 ? ret : 0;
}

static int set_registers(struct part_vcpu *v, uint64_t entry)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int ret;

	ret = xioctl(v->fd, KVM_GET_SREGS, &sregs);
	if (ret < 0)
		return ret;
	part_x86_long_mode_sregs(&sregs);
	ret = xioctl(v->fd, KVM_SET_SREGS, &sregs);
	if (ret < 0)
		return ret;
	part_x86_entry_regs(&regs, entry, v->index);
	ret = xioctl(v->fd, KVM_SET_REGS, &regs);
	if (ret < 0)
		return ret;
	/* With the in-kernel LAPIC every VP but 0 would wait for INIT/SIPI;
	 * the runner starts them all at the entry point instead. */
	ret = xioctl(v->fd, KVM_SET_MP_STATE, &mp);
	return ret < 0 ? ret : 0;
}

int part_vcpu_create(struct part_vm *vm, uint32_t index)
{
	struct part_vcpu *v = &vm->vcpus[index];
	void *run;
	int ret;

	v->vm = vm;
	v->index = index;
	v->fd = -1;
	ret = xioctl(vm->vm_fd, KVM_CREATE_VCPU, (void *)(uintptr_t)index);
	if (ret < 0) {
		part_vm_report(vm, "vmbus-run: KVM_CREATE_VCPU %" PRIu32 ": %s\n",
			       index, strerror(-ret));
		return ret;
	}
	v->fd = ret;
	run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   v->fd, 0);
	if (run == MAP_FAILED) {
		ret = -errno;
		part_vm_report(vm, "vmbus-run: mmap of VP %" PRIu32 " kvm_run: %s\n",
			       index, strerror(-ret));
		return ret;
	}
	v->run = run;
	return 0;
}

int part_vcpu_setup(struct part_vcpu *v, uint64_t entry)
{
	int ret;

	ret = set_cpuid(v);
	if (ret) {
		part_vm_report(v->vm, "vmbus-run: KVM_SET_CPUID2 on VP %" PRIu32
			       ": %s\n", v->index, strerror(-ret));
		return ret;
	}
	ret = set_registers(v, entry);
	if (ret)
		part_vm_report(v->vm, "vmbus-run: setting up VP %" PRIu32
			       " registers: %s\n", v->index, strerror(-ret));
	return ret;
}

void part_vcpu_fini(struct part_vcpu *v)
{
	if (v->run)
		munmap(v->run, v->vm->run_size);
	v->run = NULL;
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}

void part_vcpu_kick(struct part_vcpu *v)
{
	/* immediate_exit covers a VP between its stop check and KVM_RUN;
	 * the signal covers one already inside the guest. */
	if (v->run)
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&v->thread_started, __ATOMIC_ACQUIRE))
		pthread_kill(v->thread, SIGUSR1);
}

void part_vcpu_dump(struct part_vcpu *v)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	bool have_sregs;

	if (v->fd < 0)
		return;
	if (xioctl(v->fd, KVM_GET_REGS, &regs) < 0) {
		part_vm_report(v->vm, "VP %" PRIu32 ": KVM_GET_REGS: %s\n",
			       v->index, strerror(errno));
		return;
	}
	have_sregs = xioctl(v->fd, KVM_GET_SREGS, &sregs) >= 0;
	pthread_mutex_lock(&v->vm->report_lock);
	part_x86_dump(v->vm->report, v->index, &regs, have_sregs ? &sregs : NULL);
	fflush(v->vm->report);
	pthread_mutex_unlock(&v->vm->report_lock);
}

/* ---- Port I/O -------------------------------------------------------------- */

static void io_console(void *ctx, uint8_t byte)
{
	struct part_vm *vm = ((struct part_vcpu *)ctx)->vm;

	pthread_mutex_lock(&vm->console_lock);
	fputc(byte, vm->console);
	if (byte == '\n')
		fflush(vm->console);
	pthread_mutex_unlock(&vm->console_lock);
}

static void io_exit(void *ctx, uint32_t vp, uint32_t status)
{
	struct part_vm *vm = ((struct part_vcpu *)ctx)->vm;

	if (vm->cfg->verbose)
		part_vm_report(vm, "vmbus-run: VP %" PRIu32
			       " wrote exit status %" PRIu32 "\n", vp, status);
	part_vm_stop(vm, status > PART_EXIT_GUEST_MAX ? PART_EXIT_GUEST_MAX
						      : (int)status);
}

static void io_hypercall(void *ctx, uint32_t vp)
{
	struct part_vcpu *v = ctx;
	struct kvm_regs regs;
	int ret;

	/* Registers are only read here; the status goes back through the
	 * IN that follows (see PART_PORT_HCALL in guest/abi.h). */
	ret = xioctl(v->fd, KVM_GET_REGS, &regs);
	if (ret < 0) {
		part_vm_report(v->vm, "vmbus-run: KVM_GET_REGS on VP %" PRIu32
			       ": %s\n", vp, strerror(-ret));
		part_vm_stop(v->vm, PART_EXIT_HOST);
		return;
	}
	v->hcall_status = (uint32_t)part_hv_hypercall(v->vm->hv, vp, regs.rcx,
						      regs.rdx);
}

static uint32_t io_hypercall_status(void *ctx, uint32_t vp)
{
	(void)vp;
	return ((struct part_vcpu *)ctx)->hcall_status;
}

static bool io_stop_requested(void *ctx)
{
	const volatile int *flag = ((struct part_vcpu *)ctx)->vm->cfg->stop_flag;

	return flag && *flag;
}

static const struct part_io_ops io_ops = {
	.console = io_console,
	.exit = io_exit,
	.hypercall = io_hypercall,
	.hypercall_status = io_hypercall_status,
	.stop_requested = io_stop_requested,
};

static void handle_io(struct part_vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	enum part_io_result r;

	/* KVM places the data inside the kvm_run mapping; refuse anything
	 * that would reach past it rather than trust the offset. */
	if (run->io.data_offset > v->vm->run_size ||
	    (uint64_t)run->io.size * run->io.count >
	    v->vm->run_size - run->io.data_offset) {
		part_vm_report(v->vm, "vmbus-run: VP %" PRIu32
			       ": I/O data outside kvm_run\n", v->index);
		part_vm_stop(v->vm, PART_EXIT_HOST);
		return;
	}
	r = part_io_access(&io_ops, v, v->index, run->io.port,
			   run->io.direction == KVM_EXIT_IO_OUT, run->io.size,
			   run->io.count, data);
	if (r != PART_IO_OK) {
		part_count(&v->vm->io_unknown);
		if (v->vm->cfg->verbose)
			part_vm_report(v->vm, "vmbus-run: VP %" PRIu32
				       ": %s of port 0x%x (size %u) ignored\n",
				       v->index,
				       run->io.direction == KVM_EXIT_IO_OUT ?
				       "OUT" : "IN", run->io.port, run->io.size);
	}
}

/* ---- MSRs ------------------------------------------------------------------ */

static void handle_msr(struct part_vcpu *v, bool write)
{
	struct kvm_run *run = v->run;
	uint32_t msr = run->msr.index;
	enum part_hvmsr_result r;
	uint64_t value = 0;

	if (write)
		r = part_hv_wrmsr(v->vm->hv, v->index, msr, run->msr.data);
	else
		r = part_hv_rdmsr(v->vm->hv, v->index, msr, &value);
	if (r == PART_HVMSR_NOT_HV)
		part_count(&v->vm->msr_other);	/* unknown to KVM and to us */
	if (r != PART_HVMSR_OK) {
		run->msr.error = 1;	/* KVM injects #GP */
		if (v->vm->cfg->verbose)
			part_vm_report(v->vm, "vmbus-run: VP %" PRIu32
				       ": %s 0x%08" PRIx32 " -> #GP\n", v->index,
				       write ? "WRMSR" : "RDMSR", msr);
		return;
	}
	run->msr.error = 0;
	if (!write)
		run->msr.data = value;
}

/* ---- The loop -------------------------------------------------------------- */

static void crash(struct part_vcpu *v, const char *what)
{
	part_vm_report(v->vm, "vmbus-run: VP %" PRIu32 " %s\n", v->index, what);
	part_vcpu_dump(v);
	part_vm_stop(v->vm, PART_EXIT_CRASH);
}

/* Handle one exit; false when the VP must stop. */
static bool handle_exit(struct part_vcpu *v)
{
	struct kvm_run *run = v->run;
	char buf[160];

	part_count(&v->vm->exits[run->exit_reason < PART_EXIT_REASONS ?
				 run->exit_reason : PART_EXIT_REASONS - 1]);
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		return true;
	case KVM_EXIT_X86_RDMSR:
		handle_msr(v, false);
		return true;
	case KVM_EXIT_X86_WRMSR:
		handle_msr(v, true);
		return true;
	case KVM_EXIT_INTR:
	case KVM_EXIT_HLT:
		/* HLT exits only without an in-kernel LAPIC; run again. */
		return true;
	case KVM_EXIT_MMIO:
		snprintf(buf, sizeof(buf), "%s non-RAM address 0x%llx (%u bytes)",
			 run->mmio.is_write ? "wrote" : "read",
			 (unsigned long long)run->mmio.phys_addr, run->mmio.len);
		crash(v, buf);
		return false;
	case KVM_EXIT_SHUTDOWN:
		crash(v, "shut down (triple fault: an exception with no usable IDT)");
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(buf, sizeof(buf), "failed VM entry, hardware reason 0x%llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		crash(v, buf);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(buf, sizeof(buf), "KVM internal error, suberror %u",
			 run->internal.suberror);
		crash(v, buf);
		return false;
	default:
		snprintf(buf, sizeof(buf), "unexpected exit reason %u",
			 run->exit_reason);
		crash(v, buf);
		return false;
	}
}

static bool stopping(struct part_vm *vm)
{
	return __atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE);
}

void *part_vcpu_thread(void *arg)
{
	struct part_vcpu *v = arg;
	int ret;

	while (!stopping(v->vm)) {
		ret = ioctl(v->fd, KVM_RUN, 0);
		if (ret < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;	/* kicked: look at stopping */
			part_vm_report(v->vm, "vmbus-run: KVM_RUN on VP %" PRIu32
				       ": %s\n", v->index, strerror(errno));
			part_vm_stop(v->vm, PART_EXIT_HOST);
			break;
		}
		if (!handle_exit(v))
			break;
	}
	return NULL;
}
