/* SPDX-License-Identifier: MIT */
/*
 * The emulated partition (see emu.h for what differs from KVM). One VP
 * thread runs the guest in Unicorn and handles its "exits" in hooks: port
 * I/O (ports of guest/abi.h through io.c), CPUID (cpuid.c's table),
 * RDMSR/WRMSR at their sites (the hypervisor model of hv.c), HLT and
 * faults; the main thread waits for the end or the time-out, as in vm.c.
 *
 * Unicorn 2 API: <unicorn/unicorn.h>. x86 facts: Intel SDM vol. 3 (IDT gate
 * layout and 64-bit interrupt stack frame, chapter 6; local APIC register
 * offsets and LVT timer bits, chapter 11; IA32_APIC_BASE); vol. 2 (CPUID,
 * RDMSR 0F 32, WRMSR 0F 30, HLT F4, STI FB).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <unicorn/unicorn.h>

#include <vmbus/proto/tlfs.h>

#include "cpuid.h"
#include "dev.h"
#include "elf_loader.h"
#include "wait.h"
#include "emu.h"
#include "guest/abi.h"
#include "hv.h"
#include "io.h"
#include "x86.h"

#define CPUID_MAX		96u
/* Free low memory (guest/abi.h: between the boot information and the
 * stacks) where the CPUID probe runs before the guest does. */
#define PROBE_GPA		0x9000ull
#define MSR_SITES_MAX		1024u

#define RFLAGS_TF		(1ull << 8)
#define RFLAGS_IF		(1ull << 9)
#define RFLAGS_NT		(1ull << 14)
#define RFLAGS_RF		(1ull << 16)

#define OP_HLT			0xf4
#define OP_STI			0xfb
#define MSR_EFER		0xc0000080u
#define MSR_APIC_BASE		0x1bu
#define APIC_BASE_BSP		(1ull << 8)
#define APIC_BASE_X2APIC	(1ull << 10)
#define APIC_BASE_ENABLE	(1ull << 11)
#define MSR_X2APIC_FIRST	0x800u
#define MSR_X2APIC_LAST		0x8ffu
#define CPUID1_ECX_X2APIC	(1u << 21)

/* The local APIC model. */
#define LAPIC_GPA		0xfee00000ull
#define LAPIC_ID		0x020
#define LAPIC_VERSION		0x030
#define LAPIC_EOI		0x0b0
#define LAPIC_SVR		0x0f0
#define LAPIC_LVT_TIMER		0x320
#define LAPIC_TIMER_INIT	0x380
#define LAPIC_TIMER_CUR		0x390
#define LAPIC_TIMER_DIV		0x3e0
#define LAPIC_SVR_ENABLE	0x100u
#define LAPIC_LVT_MASKED	(1u << 16)
#define LAPIC_TIMER_PERIODIC	(1u << 17)
/* Version 0x14 with 6 LVT entries, what an xAPIC reports. */
#define LAPIC_VERSION_VALUE	0x00050014u

/* Vectors whose exceptions push an error code (SDM table 6-1). */
#define EXC_HAS_ERROR(v)	((v) == 8 || ((v) >= 10 && (v) <= 14) || \
				 (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

/* What made the VP leave the emulator, counted as KVM counts exits. */
enum emu_exit {
	EMU_EXIT_IO,
	EMU_EXIT_MSR,
	EMU_EXIT_CPUID,
	EMU_EXIT_HLT,
	EMU_EXIT_LAPIC,
	EMU_EXIT_KICK,
	EMU_EXIT_EXCEPTION,
	EMU_EXIT_COUNT
};

static const char *const exit_names[EMU_EXIT_COUNT] = {
	"io", "msr", "cpuid", "hlt", "lapic", "kick", "exception",
};

struct emu_lapic {
	uint32_t svr, lvt_timer, init_count, div_conf;
	uint64_t period_ns;		/* 0: timer off */
	uint64_t next_ns;		/* next tick */
};

struct emu_vm {
	const struct part_vm_config *cfg;
	FILE *console, *report;
	pthread_mutex_t report_lock;

	uint8_t *ram;
	uint64_t ram_size;
	struct part_elf_image img;
	struct part_hv *hv;
	struct part_dev *dev;
	struct kvm_cpuid_entry2 cpuid[CPUID_MAX];
	uint32_t cpuid_n;
	uc_engine *uc;
	pthread_t vp;
	uint32_t hcall_status;
	uint64_t apic_base;

	/* Pending vectors (an IRR) and the VP's state, for raisers on any
	 * thread; the LAPIC model is under the same lock. */
	pthread_mutex_t irq_lock;
	pthread_cond_t irq_cond;
	uint64_t irr[4];
	bool in_emu;
	bool deliver_now;		/* a hook asks the loop to deliver */
	int kicked;			/* atomic: look at the state (hook_block()) */
	struct emu_lapic apic;

	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	bool stopping;			/* atomic reads */
	int status;
	bool vp_done;

	/* Where a fault on non-RAM memory went (for the report). */
	uint64_t bad_addr;

	uint64_t exits[EMU_EXIT_COUNT];
	uint64_t irq_raised, irq_blocked, irq_delivered, timer_ticks;
	uint64_t exc_delivered, msr_gp, msr_other, io_unknown, msr_sites;
	uint64_t hcalls, hcall_ns;
};

/* Set on the VP thread: a raise from there happens inside a hook. */
static __thread bool on_vp_thread;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void report(struct emu_vm *vm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void report(struct emu_vm *vm, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&vm->report_lock);
	fputs("vmbus-run: ", vm->report);
	va_start(ap, fmt);
	vfprintf(vm->report, fmt, ap);
	va_end(ap);
	fputc('\n', vm->report);
	fflush(vm->report);
	pthread_mutex_unlock(&vm->report_lock);
}

static void log_line(void *opaque, int level, const char *fmt, va_list ap)
{
	struct emu_vm *vm = opaque;

	(void)level;
	pthread_mutex_lock(&vm->report_lock);
	fputs("vmbus-run: ", vm->report);
	vfprintf(vm->report, fmt, ap);
	fputc('\n', vm->report);
	pthread_mutex_unlock(&vm->report_lock);
}

static uint64_t reg(struct emu_vm *vm, int r)
{
	uint64_t v = 0;

	uc_reg_read(vm->uc, r, &v);
	return v;
}

static void set_reg(struct emu_vm *vm, int r, uint64_t v)
{
	uc_reg_write(vm->uc, r, &v);
}

static void count(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

static bool stopping(struct emu_vm *vm)
{
	return __atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE);
}

/* ---- The run's end ------------------------------------------------------- */

/*
 * Make the VP thread look at its state soon: wake it from HLT, or have
 * the emulator leave at its next block (hook_block()). Unicorn is not
 * stopped from this thread: every run in which a stop landed while the
 * guest was executing (about one ping test in ten under ASan) later
 * crashed the guest with a bad interrupt frame or a garbage pointer. A
 * stop that lands just before uc_emu_start() is lost, so whoever needs
 * it to take repeats it (see wait_vp()).
 */
static void kick(struct emu_vm *vm)
{
	pthread_mutex_lock(&vm->irq_lock);
	pthread_cond_broadcast(&vm->irq_cond);
	if (vm->in_emu)
		__atomic_store_n(&vm->kicked, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vm->irq_lock);
}

/*
 * Every block, on the VP thread: leave when the run ends, or when kicked
 * and the guest can take an interrupt now. With IF clear a stop would
 * deliver nothing; the interrupt waits for the guest's STI (the next
 * block sees IF set) or HLT (halt() looks at the pending ones).
 */
static void hook_block(uc_engine *uc, uint64_t addr, uint32_t size, void *ud)
{
	struct emu_vm *vm = ud;

	(void)addr;
	(void)size;
	if (!__atomic_load_n(&vm->kicked, __ATOMIC_ACQUIRE))
		return;
	if (stopping(vm) || (reg(vm, UC_X86_REG_RFLAGS) & RFLAGS_IF))
		uc_emu_stop(uc);
}

/* The first stop wins and sets the status. */
static void stop(struct emu_vm *vm, int status, bool from_vp)
{
	pthread_mutex_lock(&vm->stop_lock);
	if (vm->stopping) {
		pthread_mutex_unlock(&vm->stop_lock);
		return;
	}
	vm->status = status;
	__atomic_store_n(&vm->stopping, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->stop_cond);
	pthread_mutex_unlock(&vm->stop_lock);
	if (from_vp)
		uc_emu_stop(vm->uc);	/* inside a hook: leave after it */
	else
		kick(vm);
}

static void dump(struct emu_vm *vm)
{
	static const struct { int id; const char *name; } regs[] = {
		{ UC_X86_REG_RIP, "rip" }, { UC_X86_REG_RSP, "rsp" },
		{ UC_X86_REG_RFLAGS, "rflags" }, { UC_X86_REG_RAX, "rax" },
		{ UC_X86_REG_RBX, "rbx" }, { UC_X86_REG_RCX, "rcx" },
		{ UC_X86_REG_RDX, "rdx" }, { UC_X86_REG_RSI, "rsi" },
		{ UC_X86_REG_RDI, "rdi" }, { UC_X86_REG_RBP, "rbp" },
		{ UC_X86_REG_CR0, "cr0" }, { UC_X86_REG_CR3, "cr3" },
		{ UC_X86_REG_CR4, "cr4" },
	};
	size_t i;

	pthread_mutex_lock(&vm->report_lock);
	fprintf(vm->report, "VP 0 (emulated):");
	for (i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		fprintf(vm->report, "%s %s=0x%" PRIx64, i % 5 ? "" : "\n ",
			regs[i].name, reg(vm, regs[i].id));
	fputc('\n', vm->report);
	fflush(vm->report);
	pthread_mutex_unlock(&vm->report_lock);
}

static void crash(struct emu_vm *vm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void crash(struct emu_vm *vm, const char *fmt, ...)
{
	char buf[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	report(vm, "VP 0 %s", buf);
	dump(vm);
	stop(vm, PART_EXIT_CRASH, true);
}

/* ---- Interrupts and exceptions ------------------------------------------- */

static bool ram_range(struct emu_vm *vm, uint64_t gpa, uint64_t len)
{
	return gpa <= vm->ram_size && len <= vm->ram_size - gpa;
}

/*
 * Deliver @vector through the guest's IDT as the CPU would in 64-bit mode
 * at CPL 0: find the gate, align the stack to 16 bytes, push SS, RSP,
 * RFLAGS, CS, RIP (= @rip) and the error code if @has_err, clear TF, NT,
 * RF (and IF for an interrupt gate), continue at the handler. False when
 * the gate is missing or unusable: on real hardware that ends in a triple
 * fault, and the caller reports it so.
 */
static bool deliver(struct emu_vm *vm, unsigned int vector, bool has_err,
		    uint64_t err, uint64_t rip)
{
	uc_x86_mmr idtr;
	uint8_t gate[16];
	uint64_t frame[6], rsp, rflags, handler;
	unsigned int n = 0;
	uint8_t type;

	if (uc_reg_read(vm->uc, UC_X86_REG_IDTR, &idtr) ||
	    (uint64_t)vector * 16 + 15 > idtr.limit ||
	    !ram_range(vm, idtr.base + (uint64_t)vector * 16, 16))
		return false;
	memcpy(gate, vm->ram + idtr.base + (uint64_t)vector * 16, sizeof(gate));
	type = gate[5];
	/* Present, and a 64-bit interrupt (0xE) or trap (0xF) gate without
	 * an IST stack (the runtime uses none; IST would need the TSS). */
	if (!(type & 0x80) || ((type & 0xf) != 0xe && (type & 0xf) != 0xf) ||
	    (gate[4] & 7))
		return false;
	handler = (uint64_t)gate[0] | (uint64_t)gate[1] << 8 |
		  (uint64_t)gate[6] << 16 | (uint64_t)gate[7] << 24 |
		  (uint64_t)gate[8] << 32 | (uint64_t)gate[9] << 40 |
		  (uint64_t)gate[10] << 48 | (uint64_t)gate[11] << 56;
	rsp = reg(vm, UC_X86_REG_RSP);
	rflags = reg(vm, UC_X86_REG_RFLAGS);
	frame[5] = reg(vm, UC_X86_REG_SS);
	frame[4] = rsp;
	frame[3] = rflags;
	frame[2] = reg(vm, UC_X86_REG_CS);
	frame[1] = rip;
	frame[0] = err;
	n = has_err ? 6 : 5;
	rsp = (rsp & ~15ull) - n * 8;
	if (!ram_range(vm, rsp, n * 8))
		return false;
	memcpy(vm->ram + rsp, has_err ? frame : frame + 1, n * 8);
	rflags &= ~(RFLAGS_TF | RFLAGS_NT | RFLAGS_RF);
	if ((type & 0xf) == 0xe)
		rflags &= ~RFLAGS_IF;
	set_reg(vm, UC_X86_REG_RSP, rsp);
	set_reg(vm, UC_X86_REG_RFLAGS, rflags);
	set_reg(vm, UC_X86_REG_RIP, handler);
	return true;
}

static void deliver_exception(struct emu_vm *vm, unsigned int vector,
			      uint64_t rip)
{
	count(&vm->exc_delivered);
	if (!deliver(vm, vector, EXC_HAS_ERROR(vector), 0, rip))
		crash(vm, "shut down (triple fault: exception %u with no usable "
		      "IDT gate) at rip 0x%" PRIx64, vector, rip);
}

static bool irr_any(const struct emu_vm *vm)
{
	return vm->irr[0] | vm->irr[1] | vm->irr[2] | vm->irr[3];
}

/* Highest pending vector, taken out of the IRR; -1 if none. Under
 * irq_lock. */
static int irr_take(struct emu_vm *vm)
{
	int w, b;

	for (w = 3; w >= 0; w--) {
		if (!vm->irr[w])
			continue;
		b = 63 - __builtin_clzll(vm->irr[w]);
		vm->irr[w] &= ~(1ull << b);
		return w * 64 + b;
	}
	return -1;
}

static void irr_set(struct emu_vm *vm, uint8_t vector)
{
	vm->irr[vector / 64] |= 1ull << (vector % 64);
}

/* vmbus_synic_raise_fn: from a VP hook (a hypercall, an EOM) or from the
 * NIC's receive thread. A software-disabled LAPIC drops it, as KVM's does. */
static void raise_sint(void *opaque, uint32_t vp, uint32_t sint, uint8_t vector)
{
	struct emu_vm *vm = opaque;

	(void)vp;
	(void)sint;
	pthread_mutex_lock(&vm->irq_lock);
	if (!(vm->apic.svr & LAPIC_SVR_ENABLE)) {
		vm->irq_blocked++;
		pthread_mutex_unlock(&vm->irq_lock);
		return;
	}
	vm->irq_raised++;
	irr_set(vm, vector);
	if (on_vp_thread) {
		vm->deliver_now = true;
	} else {
		pthread_cond_broadcast(&vm->irq_cond);
		if (vm->in_emu)
			__atomic_store_n(&vm->kicked, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&vm->irq_lock);
}

/* Inside a hook: if the hook made an interrupt pending and the guest can
 * take it, leave the emulator after this instruction so the loop
 * delivers it. */
static void hook_end(struct emu_vm *vm)
{
	bool now;

	pthread_mutex_lock(&vm->irq_lock);
	now = vm->deliver_now;
	vm->deliver_now = false;
	pthread_mutex_unlock(&vm->irq_lock);
	if (now && (reg(vm, UC_X86_REG_RFLAGS) & RFLAGS_IF))
		uc_emu_stop(vm->uc);
}

/* The timer's tick is due: make it pending. Under irq_lock. */
static void timer_check(struct emu_vm *vm, uint64_t now)
{
	struct emu_lapic *a = &vm->apic;

	if (!a->period_ns || now < a->next_ns)
		return;
	if (!(a->lvt_timer & LAPIC_LVT_MASKED) && (a->svr & LAPIC_SVR_ENABLE)) {
		irr_set(vm, (uint8_t)a->lvt_timer);
		vm->timer_ticks++;
	}
	if (a->lvt_timer & LAPIC_TIMER_PERIODIC) {
		a->next_ns += a->period_ns;
		if (a->next_ns <= now)		/* missed ticks merge */
			a->next_ns = now + a->period_ns;
	} else {
		a->period_ns = 0;
	}
}

/*
 * Between two runs of the emulator: deliver the highest pending vector if
 * the guest has IF set. STI holds interrupts off for one more instruction,
 * and the "sti; hlt" idiom relies on it: there the HLT is stepped over and
 * the interrupt returns past it, ending the halt. After an STI and
 * anything else the interrupt comes one instruction early, before that
 * instruction rather than after it: sooner than on hardware, never later,
 * so a one-instruction window such as "sti; nop; cli" still takes it.
 *
 * The shadow instruction is not run with uc_emu_start()'s count: with
 * Unicorn 2.0.1, the start after a counted one does not leave at the
 * guest's next HLT but spins there (for 0.1 s to seconds, or until
 * stopped), and the TAP ping test lost replies whenever a kick took that
 * path.
 */
static void deliver_pending(struct emu_vm *vm)
{
	uint64_t rip = reg(vm, UC_X86_REG_RIP);
	int vector;

	if (!(reg(vm, UC_X86_REG_RFLAGS) & RFLAGS_IF))
		return;
	pthread_mutex_lock(&vm->irq_lock);
	timer_check(vm, now_ns());
	if (!irr_any(vm)) {
		pthread_mutex_unlock(&vm->irq_lock);
		return;
	}
	pthread_mutex_unlock(&vm->irq_lock);
	if (rip && rip - 1 < vm->ram_size && vm->ram[rip - 1] == OP_STI &&
	    rip < vm->ram_size && vm->ram[rip] == OP_HLT)
		set_reg(vm, UC_X86_REG_RIP, ++rip);
	pthread_mutex_lock(&vm->irq_lock);
	vector = irr_take(vm);
	pthread_mutex_unlock(&vm->irq_lock);
	if (vector < 0)
		return;
	if (!deliver(vm, (unsigned int)vector, false, 0, rip)) {
		crash(vm, "shut down (triple fault: interrupt vector %d with no "
		      "usable IDT gate)", vector);
		return;
	}
	count(&vm->irq_delivered);
}

/* HLT: wait for an interrupt the guest can take (IF set), the timer, or
 * the end. With IF clear only the end wakes the VP, as on hardware. */
static void halt(struct emu_vm *vm)
{
	bool intr = reg(vm, UC_X86_REG_RFLAGS) & RFLAGS_IF;
	struct timespec ts;
	uint64_t now;

	pthread_mutex_lock(&vm->irq_lock);
	while (!stopping(vm) && !__atomic_load_n(&vm->kicked, __ATOMIC_ACQUIRE)) {
		now = now_ns();
		if (intr) {
			timer_check(vm, now);
			if (irr_any(vm))
				break;
		}
		if (intr && vm->apic.period_ns) {
			ts.tv_sec = (time_t)(vm->apic.next_ns / 1000000000ull);
			ts.tv_nsec = (long)(vm->apic.next_ns % 1000000000ull);
			pthread_cond_timedwait(&vm->irq_cond, &vm->irq_lock, &ts);
		} else {
			pthread_cond_wait(&vm->irq_cond, &vm->irq_lock);
		}
	}
	__atomic_store_n(&vm->kicked, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vm->irq_lock);
}

/* ---- The local APIC model ------------------------------------------------ */

static uint64_t lapic_read(uc_engine *uc, uint64_t off, unsigned int size,
			   void *ud)
{
	struct emu_vm *vm = ud;
	struct emu_lapic *a = &vm->apic;
	uint64_t v = 0, now;

	(void)uc;
	(void)size;
	count(&vm->exits[EMU_EXIT_LAPIC]);
	pthread_mutex_lock(&vm->irq_lock);
	switch (off) {
	case LAPIC_ID:
		v = 0;
		break;
	case LAPIC_VERSION:
		v = LAPIC_VERSION_VALUE;
		break;
	case LAPIC_SVR:
		v = a->svr;
		break;
	case LAPIC_LVT_TIMER:
		v = a->lvt_timer;
		break;
	case LAPIC_TIMER_INIT:
		v = a->init_count;
		break;
	case LAPIC_TIMER_DIV:
		v = a->div_conf;
		break;
	case LAPIC_TIMER_CUR:
		now = now_ns();
		if (a->period_ns && a->next_ns > now)
			v = (a->next_ns - now) * a->init_count / a->period_ns;
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&vm->irq_lock);
	return v;
}

/* Divide configuration (bits 0, 1, 3) to the divisor: 2^(n+1), 0b111 = 1. */
static uint64_t lapic_divisor(uint32_t conf)
{
	uint32_t n = (conf & 3) | (conf & 8) >> 1;

	return n == 7 ? 1 : 2ull << n;
}

static void lapic_write(uc_engine *uc, uint64_t off, unsigned int size,
			uint64_t value, void *ud)
{
	struct emu_vm *vm = ud;
	struct emu_lapic *a = &vm->apic;
	uint32_t v = (uint32_t)value;

	(void)uc;
	(void)size;
	count(&vm->exits[EMU_EXIT_LAPIC]);
	pthread_mutex_lock(&vm->irq_lock);
	switch (off) {
	case LAPIC_EOI:
		break;		/* no in-service tracking: nothing to do */
	case LAPIC_SVR:
		a->svr = v & 0x1ff;
		break;
	case LAPIC_LVT_TIMER:
		a->lvt_timer = v & (0xff | LAPIC_LVT_MASKED | LAPIC_TIMER_PERIODIC);
		break;
	case LAPIC_TIMER_DIV:
		a->div_conf = v & 0xb;
		break;
	case LAPIC_TIMER_INIT:
		/* One count per nanosecond before the divider (emu.h). */
		a->init_count = v;
		a->period_ns = (uint64_t)v * lapic_divisor(a->div_conf);
		a->next_ns = now_ns() + a->period_ns;
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&vm->irq_lock);
}

/* ---- Port I/O ------------------------------------------------------------ */

static void io_console(void *ctx, uint8_t byte)
{
	struct emu_vm *vm = ctx;

	fputc(byte, vm->console);
	if (byte == '\n')
		fflush(vm->console);
}

static void io_exit(void *ctx, uint32_t vp, uint32_t status)
{
	struct emu_vm *vm = ctx;

	if (vm->cfg->verbose)
		report(vm, "VP %" PRIu32 " wrote exit status %" PRIu32, vp, status);
	stop(vm, status > PART_EXIT_GUEST_MAX ? PART_EXIT_GUEST_MAX : (int)status,
	     true);
}

static void io_hypercall(void *ctx, uint32_t vp)
{
	struct emu_vm *vm = ctx;
	uint64_t t0 = now_ns();

	vm->hcall_status = (uint32_t)part_hv_hypercall(vm->hv, vp,
			reg(vm, UC_X86_REG_RCX), reg(vm, UC_X86_REG_RDX));
	vm->hcall_ns += now_ns() - t0;
	vm->hcalls++;
}

static uint32_t io_hypercall_status(void *ctx, uint32_t vp)
{
	(void)vp;
	return ((struct emu_vm *)ctx)->hcall_status;
}

static bool io_stop_requested(void *ctx)
{
	const volatile int *flag = ((struct emu_vm *)ctx)->cfg->stop_flag;

	return flag && *flag;
}

static const struct part_io_ops io_ops = {
	.console = io_console,
	.exit = io_exit,
	.hypercall = io_hypercall,
	.hypercall_status = io_hypercall_status,
	.stop_requested = io_stop_requested,
};

static void io_done(struct emu_vm *vm, enum part_io_result r, bool out,
		    uint32_t port, int size)
{
	count(&vm->exits[EMU_EXIT_IO]);
	if (r != PART_IO_OK) {
		vm->io_unknown++;
		if (vm->cfg->verbose)
			report(vm, "VP 0: %s of port 0x%x (size %d) ignored",
			       out ? "OUT" : "IN", port, size);
	}
	hook_end(vm);
}

static uint32_t hook_in(uc_engine *uc, uint32_t port, int size, void *ud)
{
	struct emu_vm *vm = ud;
	enum part_io_result r;
	uint32_t v = 0;

	(void)uc;
	r = part_io_access(&io_ops, vm, 0, (uint16_t)port, false, (uint8_t)size,
			   1, (uint8_t *)&v);
	io_done(vm, r, false, port, size);
	return v;
}

static void hook_out(uc_engine *uc, uint32_t port, int size, uint32_t value,
		     void *ud)
{
	struct emu_vm *vm = ud;
	enum part_io_result r;

	(void)uc;
	r = part_io_access(&io_ops, vm, 0, (uint16_t)port, true, (uint8_t)size,
			   1, (uint8_t *)&value);
	io_done(vm, r, true, port, size);
}

/* ---- CPUID --------------------------------------------------------------- */

static int hook_cpuid(uc_engine *uc, void *ud)
{
	struct emu_vm *vm = ud;
	const struct kvm_cpuid_entry2 *e;

	(void)uc;
	count(&vm->exits[EMU_EXIT_CPUID]);
	e = part_cpuid_find(vm->cpuid, vm->cpuid_n,
			    (uint32_t)reg(vm, UC_X86_REG_RAX),
			    (uint32_t)reg(vm, UC_X86_REG_RCX));
	set_reg(vm, UC_X86_REG_RAX, e ? e->eax : 0);
	set_reg(vm, UC_X86_REG_RBX, e ? e->ebx : 0);
	set_reg(vm, UC_X86_REG_RCX, e ? e->ecx : 0);
	set_reg(vm, UC_X86_REG_RDX, e ? e->edx : 0);
	return 1;	/* handled: skip the instruction */
}

/* ---- MSRs ---------------------------------------------------------------- */

static enum part_hvmsr_result apic_base_msr(struct emu_vm *vm, bool write,
					    uint64_t *v)
{
	if (!write) {
		*v = vm->apic_base;
		return PART_HVMSR_OK;
	}
	/* The base stays put and x2APIC is not offered. */
	if ((*v & ~(APIC_BASE_ENABLE | APIC_BASE_BSP)) != LAPIC_GPA)
		return PART_HVMSR_GP;
	vm->apic_base = *v | APIC_BASE_BSP;
	return PART_HVMSR_OK;
}

/* A RDMSR (0F 32) or WRMSR (0F 30) about to run at @addr. Hyper-V MSRs
 * and IA32_APIC_BASE are the runner's; the rest run in Unicorn's CPU
 * model as KVM runs them itself. */
static void hook_msr(uc_engine *uc, uint64_t addr, uint32_t size, void *ud)
{
	struct emu_vm *vm = ud;
	enum part_hvmsr_result r;
	uint32_t msr;
	uint64_t v;
	bool write;

	(void)uc;
	(void)size;
	if (addr + 2 > vm->ram_size || vm->ram[addr] != 0x0f ||
	    (vm->ram[addr + 1] != 0x30 && vm->ram[addr + 1] != 0x32))
		return;
	write = vm->ram[addr + 1] == 0x30;
	msr = (uint32_t)reg(vm, UC_X86_REG_RCX);
	v = (reg(vm, UC_X86_REG_RDX) << 32) | (uint32_t)reg(vm, UC_X86_REG_RAX);
	if (msr >= PART_HVMSR_FIRST && msr <= PART_HVMSR_LAST) {
		count(&vm->exits[EMU_EXIT_MSR]);
		r = write ? part_hv_wrmsr(vm->hv, 0, msr, v)
			  : part_hv_rdmsr(vm->hv, 0, msr, &v);
		/* The hypercall page may hold code translated before. */
		if (write && msr == HV_X64_MSR_HYPERCALL && r == PART_HVMSR_OK &&
		    (v & HV_MSR_ENABLE))
			uc_ctl_remove_cache(vm->uc, v & HV_MSR_PFN_MASK,
					    (v & HV_MSR_PFN_MASK) + HV_PAGE_SIZE);
	} else if (msr == MSR_APIC_BASE) {
		count(&vm->exits[EMU_EXIT_MSR]);
		r = apic_base_msr(vm, write, &v);
	} else if (msr >= MSR_X2APIC_FIRST && msr <= MSR_X2APIC_LAST) {
		count(&vm->exits[EMU_EXIT_MSR]);
		r = PART_HVMSR_GP;	/* not in x2APIC mode */
	} else {
		vm->msr_other++;
		return;
	}
	if (r != PART_HVMSR_OK) {
		vm->msr_gp++;
		if (vm->cfg->verbose)
			report(vm, "VP 0: %s 0x%08" PRIx32 " -> #GP",
			       write ? "WRMSR" : "RDMSR", msr);
		deliver_exception(vm, 13, addr);
		return;
	}
	if (!write) {
		set_reg(vm, UC_X86_REG_RAX, (uint32_t)v);
		set_reg(vm, UC_X86_REG_RDX, v >> 32);
	}
	set_reg(vm, UC_X86_REG_RIP, addr + 2);
	hook_end(vm);
}

/* One code hook per RDMSR/WRMSR byte pair in the image: a hook fires only
 * where an instruction starts, so pairs inside other instructions or data
 * cost nothing. Past MSR_SITES_MAX one hook covers the whole image. */
static int hook_msr_sites(struct emu_vm *vm)
{
	uint64_t a, lo = vm->img.low, hi = vm->img.high;
	uc_hook h;

	for (a = lo; a + 1 < hi; a++) {
		if (vm->ram[a] != 0x0f ||
		    (vm->ram[a + 1] != 0x30 && vm->ram[a + 1] != 0x32))
			continue;
		if (vm->msr_sites == MSR_SITES_MAX)
			return uc_hook_add(vm->uc, &h, UC_HOOK_CODE, hook_msr, vm,
					   lo, hi - 1) ? -EIO : 0;
		if (uc_hook_add(vm->uc, &h, UC_HOOK_CODE, hook_msr, vm, a, a))
			return -EIO;
		vm->msr_sites++;
	}
	return 0;
}

/* ---- Faults -------------------------------------------------------------- */

/* An exception Unicorn raised (int3, #DE, ...) or an INT n: into the
 * guest's IDT, RIP as Unicorn left it (after a trap, at a fault). */
static void hook_intr(uc_engine *uc, uint32_t intno, void *ud)
{
	struct emu_vm *vm = ud;
	uint64_t rip = reg(vm, UC_X86_REG_RIP);

	(void)uc;
	count(&vm->exits[EMU_EXIT_EXCEPTION]);
	if (intno > 255) {
		crash(vm, "raised unknown interrupt %u", intno);
		return;
	}
	if (intno < 32) {
		deliver_exception(vm, intno, rip);
		return;
	}
	count(&vm->exc_delivered);
	if (!deliver(vm, intno, false, 0, rip))
		crash(vm, "shut down (triple fault: INT 0x%x with no usable IDT "
		      "gate) at rip 0x%" PRIx64, intno, rip);
}

static bool hook_unmapped(uc_engine *uc, uc_mem_type type, uint64_t addr,
			  int size, int64_t value, void *ud)
{
	struct emu_vm *vm = ud;

	(void)uc;
	(void)type;
	(void)size;
	(void)value;
	vm->bad_addr = addr;
	return false;
}

/* ---- The VP -------------------------------------------------------------- */

/* uc_emu_start() returned an error: an invalid opcode goes to the guest
 * as #UD (its handler reports it); anything else ends the run. */
static void emu_error(struct emu_vm *vm, uc_err err)
{
	uint64_t rip = reg(vm, UC_X86_REG_RIP);

	switch (err) {
	case UC_ERR_INSN_INVALID:
		count(&vm->exits[EMU_EXIT_EXCEPTION]);
		deliver_exception(vm, 6, rip);
		return;
	case UC_ERR_READ_UNMAPPED:
	case UC_ERR_WRITE_UNMAPPED:
	case UC_ERR_FETCH_UNMAPPED:
		crash(vm, "%s non-RAM address 0x%" PRIx64 " at rip 0x%" PRIx64,
		      err == UC_ERR_WRITE_UNMAPPED ? "wrote" :
		      err == UC_ERR_FETCH_UNMAPPED ? "fetched from" : "read",
		      vm->bad_addr, rip);
		return;
	default:
		crash(vm, "stopped in the emulator: %s at rip 0x%" PRIx64,
		      uc_strerror(err), rip);
		return;
	}
}

static void set_in_emu(struct emu_vm *vm, bool on)
{
	pthread_mutex_lock(&vm->irq_lock);
	vm->in_emu = on;
	pthread_mutex_unlock(&vm->irq_lock);
}

static void *vp_thread(void *arg)
{
	struct emu_vm *vm = arg;
	uint64_t rip;
	uc_err err;

	on_vp_thread = true;
	while (!stopping(vm)) {
		deliver_pending(vm);
		if (stopping(vm))
			break;
		set_in_emu(vm, true);
		err = uc_emu_start(vm->uc, reg(vm, UC_X86_REG_RIP), 0, 0, 0);
		set_in_emu(vm, false);
		if (stopping(vm))
			break;
		if (err != UC_ERR_OK) {
			emu_error(vm, err);
			continue;
		}
		if (__atomic_exchange_n(&vm->kicked, 0, __ATOMIC_ACQ_REL)) {
			count(&vm->exits[EMU_EXIT_KICK]);
			continue;	/* a stop or an interrupt: see above */
		}
		rip = reg(vm, UC_X86_REG_RIP);
		if (rip && rip - 1 < vm->ram_size && vm->ram[rip - 1] == OP_HLT) {
			count(&vm->exits[EMU_EXIT_HLT]);
			halt(vm);
		}
		/* Otherwise a hook stopped it to deliver an interrupt. */
	}
	pthread_mutex_lock(&vm->stop_lock);
	vm->vp_done = true;
	pthread_cond_broadcast(&vm->stop_cond);
	pthread_mutex_unlock(&vm->stop_lock);
	return NULL;
}

/* ---- Setting up ---------------------------------------------------------- */

static int read_image(struct emu_vm *vm, void **buf, size_t *size)
{
	char why[512];
	int ret;

	ret = part_elf_read_file(vm->cfg->guest_path, buf, size, why, sizeof(why));
	if (ret)
		report(vm, "%s", why);
	return ret;
}

static int load_guest(struct emu_vm *vm)
{
	size_t size = 0;
	void *file = NULL;
	int ret;

	ret = read_image(vm, &file, &size);
	if (ret)
		return ret;
	ret = part_elf_load(file, size, vm->ram, vm->ram_size,
			    PART_IMAGE_MIN_GPA, &vm->img);
	free(file);
	if (ret) {
		report(vm, "%s: %s", vm->cfg->guest_path, ret == -ERANGE ?
		       "a segment lies outside guest RAM above 1 MiB" :
		       "not a static x86-64 ELF executable");
		return ret;
	}
	return part_x86_setup_memory(vm->ram, vm->ram_size, vm->cfg->cpus,
				     vm->img.high, vm->cfg->cmdline);
}

/* The long-mode state of guest/abi.h, from the same description KVM
 * gets (x86.c), in Unicorn's registers. */
static int set_entry_state(struct emu_vm *vm)
{
	struct kvm_sregs s;
	struct kvm_regs r;
	uc_x86_mmr gdtr, idtr;
	uc_x86_msr efer;
	int ret = 0;

	memset(&s, 0, sizeof(s));
	part_x86_long_mode_sregs(&s);
	gdtr = (uc_x86_mmr){ .base = s.gdt.base, .limit = s.gdt.limit };
	idtr = (uc_x86_mmr){ .base = s.idt.base, .limit = s.idt.limit };
	efer = (uc_x86_msr){ .rid = MSR_EFER, .value = s.efer };
	ret |= uc_reg_write(vm->uc, UC_X86_REG_GDTR, &gdtr);
	ret |= uc_reg_write(vm->uc, UC_X86_REG_IDTR, &idtr);
	ret |= uc_reg_write(vm->uc, UC_X86_REG_CR3, &s.cr3);
	ret |= uc_reg_write(vm->uc, UC_X86_REG_CR4, &s.cr4);
	ret |= uc_reg_write(vm->uc, UC_X86_REG_MSR, &efer);
	ret |= uc_reg_write(vm->uc, UC_X86_REG_CR0, &s.cr0);
	set_reg(vm, UC_X86_REG_CS, s.cs.selector);
	set_reg(vm, UC_X86_REG_SS, s.ss.selector);
	set_reg(vm, UC_X86_REG_DS, s.ds.selector);
	set_reg(vm, UC_X86_REG_ES, s.es.selector);
	set_reg(vm, UC_X86_REG_FS, s.fs.selector);
	set_reg(vm, UC_X86_REG_GS, s.gs.selector);
	part_x86_entry_regs(&r, vm->img.entry, 0);
	set_reg(vm, UC_X86_REG_RSP, r.rsp);
	set_reg(vm, UC_X86_REG_RDI, r.rdi);
	set_reg(vm, UC_X86_REG_RSI, r.rsi);
	set_reg(vm, UC_X86_REG_RFLAGS, r.rflags);
	set_reg(vm, UC_X86_REG_RIP, r.rip);
	if (ret || reg(vm, UC_X86_REG_CS) != PART_SEL_CODE) {
		report(vm, "the emulator refused the long-mode entry state");
		return -EIO;
	}
	return 0;
}

/* Ask Unicorn's CPU model for one CPUID leaf (no hook is installed yet). */
static int probe_leaf(struct emu_vm *vm, uint32_t leaf,
		      struct kvm_cpuid_entry2 *e)
{
	static const uint8_t code[] = { 0x0f, 0xa2, OP_HLT };	/* cpuid; hlt */

	memcpy(vm->ram + PROBE_GPA, code, sizeof(code));
	set_reg(vm, UC_X86_REG_RAX, leaf);
	set_reg(vm, UC_X86_REG_RCX, 0);
	if (uc_emu_start(vm->uc, PROBE_GPA, 0, 0, 0) != UC_ERR_OK)
		return -EIO;
	memset(e, 0, sizeof(*e));
	e->function = leaf;
	e->eax = (uint32_t)reg(vm, UC_X86_REG_RAX);
	e->ebx = (uint32_t)reg(vm, UC_X86_REG_RBX);
	e->ecx = (uint32_t)reg(vm, UC_X86_REG_RCX);
	e->edx = (uint32_t)reg(vm, UC_X86_REG_RDX);
	return 0;
}

/*
 * The CPUID table: Unicorn's own basic and extended leaves (subleaf 0)
 * stand where KVM_GET_SUPPORTED_CPUID's do, merged with the Hyper-V
 * leaves by cpuid.c; x2APIC is withdrawn because the APIC model is xAPIC.
 */
static int build_cpuid(struct emu_vm *vm)
{
	static const uint32_t bases[] = { 0, 0x80000000u };
	struct kvm_cpuid_entry2 host[CPUID_MAX / 2], *e;
	struct part_cpuid_config ccfg = { .vp_count = 1 };
	uint32_t n = 0, leaf, max;
	size_t b;
	int ret;

	for (b = 0; b < sizeof(bases) / sizeof(bases[0]); b++) {
		if (n == CPUID_MAX / 2 || probe_leaf(vm, bases[b], &host[n]))
			return -EIO;
		max = host[n++].eax;
		for (leaf = bases[b] + 1; leaf <= max && n < CPUID_MAX / 2; leaf++)
			if (probe_leaf(vm, leaf, &host[n++]))
				return -EIO;
	}
	memset(vm->ram + PROBE_GPA, 0, 16);
	ret = part_cpuid_build(host, n, &ccfg, vm->cpuid, CPUID_MAX);
	if (ret < 0)
		return ret;
	vm->cpuid_n = (uint32_t)ret;
	for (e = vm->cpuid; e < vm->cpuid + vm->cpuid_n; e++)
		if (e->function == 1)
			e->ecx &= ~CPUID1_ECX_X2APIC;
	return 0;
}

static int create_hv(struct emu_vm *vm)
{
	struct vmbus_log log = {
		.fn = log_line,
		.opaque = vm,
		.max_level = vm->cfg->verbose ? VMBUS_LOG_DEBUG : VMBUS_LOG_WARN,
	};
	struct part_hv_config hcfg = {
		.vp_count = 1,
		.ram = vm->ram,
		.ram_size = vm->ram_size,
		.raise = raise_sint,
		.raise_opaque = vm,
		.test_offer = vm->cfg->test_offer,
		.log = log,
	};
	struct part_dev_config dcfg = {
		.disks = vm->cfg->disks,
		.disk_count = vm->cfg->disk_count,
		.nic = vm->cfg->nic,
		.log = log,
	};
	int ret;

	ret = part_hv_new(&hcfg, &vm->hv);
	if (ret) {
		report(vm, "hypervisor model: %s", strerror(-ret));
		return ret;
	}
	if (!dcfg.disk_count && !dcfg.nic)
		return 0;
	return part_dev_new(vm->hv, &dcfg, &vm->dev);
}

static int add_hooks(struct emu_vm *vm)
{
	uc_hook h;
	int ret = 0;

	ret |= uc_hook_add(vm->uc, &h, UC_HOOK_INSN, hook_in, vm, 1, 0,
			   UC_X86_INS_IN);
	ret |= uc_hook_add(vm->uc, &h, UC_HOOK_INSN, hook_out, vm, 1, 0,
			   UC_X86_INS_OUT);
	ret |= uc_hook_add(vm->uc, &h, UC_HOOK_INSN, hook_cpuid, vm, 1, 0,
			   UC_X86_INS_CPUID);
	ret |= uc_hook_add(vm->uc, &h, UC_HOOK_INTR, hook_intr, vm, 1, 0);
	ret |= uc_hook_add(vm->uc, &h, UC_HOOK_BLOCK, hook_block, vm, 1, 0);
	ret |= uc_hook_add(vm->uc, &h, UC_HOOK_MEM_UNMAPPED, hook_unmapped, vm,
			   1, 0);
	if (ret || hook_msr_sites(vm)) {
		report(vm, "the emulator refused a hook");
		return -EIO;
	}
	return 0;
}

/* Everything up to the first instruction; a PART_EXIT_* on failure. */
static int prepare(struct emu_vm *vm)
{
	uc_err err;

	vm->ram = mmap(NULL, vm->ram_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->ram == MAP_FAILED) {
		vm->ram = NULL;
		report(vm, "guest RAM of %" PRIu64 " bytes: %s", vm->ram_size,
		       strerror(errno));
		return PART_EXIT_HOST;
	}
	if (load_guest(vm))
		return PART_EXIT_IMAGE;
	err = uc_open(UC_ARCH_X86, UC_MODE_64, &vm->uc);
	if (err) {
		vm->uc = NULL;
		report(vm, "starting the emulator: %s", uc_strerror(err));
		return PART_EXIT_HOST;
	}
	err = uc_mem_map_ptr(vm->uc, 0, vm->ram_size, UC_PROT_ALL, vm->ram);
	if (!err)
		err = uc_mmio_map(vm->uc, LAPIC_GPA, HV_PAGE_SIZE, lapic_read, vm,
				  lapic_write, vm);
	if (err) {
		report(vm, "mapping guest memory in the emulator: %s",
		       uc_strerror(err));
		return PART_EXIT_HOST;
	}
	vm->apic_base = LAPIC_GPA | APIC_BASE_ENABLE | APIC_BASE_BSP;
	if (set_entry_state(vm) || build_cpuid(vm) ||
	    set_entry_state(vm))	/* the probe moved RIP and RAX..RDX */
		return PART_EXIT_HOST;
	if (create_hv(vm))
		return PART_EXIT_HOST;
	return add_hooks(vm) ? PART_EXIT_HOST : 0;
}

/* ---- Run and report ------------------------------------------------------ */

/* Wait for the end or the time-out; then make sure the VP thread ends,
 * repeating the kick for a stop that raced with uc_emu_start(). */
static void wait_vp(struct emu_vm *vm)
{
	struct timespec deadline;
	bool timed_out;

	timed_out = part_wait_stopping(&vm->stop_lock, &vm->stop_cond,
				       &vm->stopping, vm->cfg->timeout_sec);
	if (timed_out) {
		report(vm, "time-out: the guest ran for %u s without writing its "
		       "exit status", vm->cfg->timeout_sec);
		stop(vm, PART_EXIT_TIMEOUT, false);
	}
	pthread_mutex_lock(&vm->stop_lock);
	while (!vm->vp_done) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_nsec += 20 * 1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&vm->stop_cond, &vm->stop_lock, &deadline);
		if (!vm->vp_done) {
			pthread_mutex_unlock(&vm->stop_lock);
			kick(vm);
			pthread_mutex_lock(&vm->stop_lock);
		}
	}
	pthread_mutex_unlock(&vm->stop_lock);
	pthread_join(vm->vp, NULL);
	if (timed_out)
		dump(vm);
}

static void print_counters(struct emu_vm *vm, uint64_t elapsed_ns)
{
	struct part_hv_counters c;
	FILE *f = vm->report;
	unsigned int i;

	pthread_mutex_lock(&vm->report_lock);
	fprintf(f, "vmbus-run: exits (emulated):");
	for (i = 0; i < EMU_EXIT_COUNT; i++)
		if (vm->exits[i])
			fprintf(f, " %s=%" PRIu64, exit_names[i], vm->exits[i]);
	fputc('\n', f);
	part_hv_counters(vm->hv, &c);
	fprintf(f, "vmbus-run: hypercalls: post_message=%" PRIu64
		" signal_event=%" PRIu64 " other=%" PRIu64 " failed=%" PRIu64
		" page_disabled=%" PRIu64 "; host time %.2f us each\n",
		c.hcall_post, c.hcall_signal, c.hcall_other, c.hcall_failed,
		c.hcall_disabled,
		vm->hcalls ? (double)vm->hcall_ns / (double)vm->hcalls / 1000.0 : 0.0);
	fprintf(f, "vmbus-run: messages delivered=%" PRIu64 " failed=%" PRIu64
		"; events set=%" PRIu64 "; msr #GP=%" PRIu64 "\n",
		c.msgs_delivered, c.msgs_failed, c.events_set, c.msr_gp);
	fprintf(f, "vmbus-run: interrupts raised=%" PRIu64 " blocked=%" PRIu64
		" delivered=%" PRIu64 " timer=%" PRIu64 "; exceptions delivered=%"
		PRIu64 "; unknown ports=%" PRIu64 "; MSRs left to the CPU model=%"
		PRIu64 "; MSR sites hooked=%" PRIu64 "\n",
		vm->irq_raised, vm->irq_blocked, vm->irq_delivered,
		vm->timer_ticks, vm->exc_delivered, vm->io_unknown,
		vm->msr_other, vm->msr_sites);
	part_dev_report(vm->dev, f);
	fprintf(f, "vmbus-run: emulated for %.3f s\n", (double)elapsed_ns / 1e9);
	fflush(f);
	pthread_mutex_unlock(&vm->report_lock);
}

static int run(struct emu_vm *vm)
{
	uint64_t t0 = now_ns();
	int ret;

	ret = part_dev_start(vm->dev);
	if (ret) {
		report(vm, "device thread: %s", strerror(-ret));
		return PART_EXIT_HOST;
	}
	ret = pthread_create(&vm->vp, NULL, vp_thread, vm);
	if (ret) {
		report(vm, "VP thread: %s", strerror(ret));
		part_dev_stop(vm->dev);
		return PART_EXIT_HOST;
	}
	wait_vp(vm);
	part_dev_stop(vm->dev);
	print_counters(vm, now_ns() - t0);
	return vm->status;
}

static int init_locks(struct emu_vm *vm)
{
	pthread_condattr_t ca;

	if (pthread_condattr_init(&ca))
		return -ENOMEM;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_cond_init(&vm->stop_cond, &ca)) {
		pthread_condattr_destroy(&ca);
		return -ENOMEM;
	}
	if (pthread_cond_init(&vm->irq_cond, &ca)) {
		pthread_cond_destroy(&vm->stop_cond);
		pthread_condattr_destroy(&ca);
		return -ENOMEM;
	}
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&vm->report_lock, NULL);
	pthread_mutex_init(&vm->irq_lock, NULL);
	pthread_mutex_init(&vm->stop_lock, NULL);
	return 0;
}

static void teardown(struct emu_vm *vm)
{
	part_dev_free(vm->dev);
	part_hv_free(vm->hv);
	if (vm->uc)
		uc_close(vm->uc);
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	pthread_cond_destroy(&vm->stop_cond);
	pthread_cond_destroy(&vm->irq_cond);
	pthread_mutex_destroy(&vm->report_lock);
	pthread_mutex_destroy(&vm->irq_lock);
	pthread_mutex_destroy(&vm->stop_lock);
}

bool part_emu_available(void)
{
	return true;
}

int part_emu_run(const struct part_vm_config *cfg)
{
	struct emu_vm *vm;
	int status;

	if (!cfg || !cfg->guest_path || !cfg->cpus)
		return PART_EXIT_USAGE;
	if (cfg->cpus != 1) {
		fprintf(cfg->report ? cfg->report : stderr,
			"vmbus-run: the CPU emulator runs one VP; use --cpus 1 "
			"(or KVM)\n");
		return PART_EXIT_USAGE;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return PART_EXIT_HOST;
	vm->cfg = cfg;
	vm->console = cfg->console ? cfg->console : stdout;
	vm->report = cfg->report ? cfg->report : stderr;
	vm->ram_size = cfg->mem_size;
	if (init_locks(vm)) {
		free(vm);
		return PART_EXIT_HOST;
	}
	status = prepare(vm);
	if (!status)
		status = run(vm);
	fflush(vm->console);
	teardown(vm);
	free(vm);
	return status;
}
