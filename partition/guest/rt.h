/* SPDX-License-Identifier: MIT */
/*
 * Freestanding runtime of the partition guest: console on COM1, a small
 * printf, port and MSR access (with #GP caught where asked), CPUID, the
 * IDT, the local APIC (x2APIC when CPUID offers it, else xAPIC MMIO at
 * 0xfee00000) and the exit port. Formats: Intel SDM vol. 3 (IDT gates,
 * local APIC registers); the runner contract: abi.h.
 */
#ifndef RT_H
#define RT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi.h"

/* Interrupt vectors (their stubs are in boot.S). */
#define RT_VEC_TIMER		224
#define RT_VEC_SINT		243	/* HYPERVISOR_CALLBACK_VECTOR, as Linux */
#define RT_VEC_SPURIOUS		255

/* Exit status for an unexpected exception. */
#define RT_EXIT_FAULT		60

/* What isr_common pushed, lowest address first. */
struct rt_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

/* Set by rt_entry() before guest_main(). */
extern const struct part_boot_info *rt_boot;

/* The program: returns the exit status. Runs on VP 0; other VPs halt. */
int guest_main(const struct part_boot_info *boot);

/* Called on every device interrupt (timer, SINT) after the EOI. */
extern volatile uint64_t rt_ticks;
extern volatile uint64_t rt_sint_count;

/* ---- Console and exit ----------------------------------------------------- */
void rt_putc(char c);
void rt_puts(const char *s);
int rt_vprintf(const char *fmt, va_list ap);
int rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void rt_exit(uint32_t status);

/* ---- Ports, CPUID, MSRs --------------------------------------------------- */
static inline void rt_outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void rt_outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t rt_inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

struct rt_cpuid {
	uint32_t eax, ebx, ecx, edx;
};

static inline struct rt_cpuid rt_cpuid(uint32_t leaf, uint32_t sub)
{
	struct rt_cpuid r;

	__asm__ volatile("cpuid"
			 : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
			 : "a"(leaf), "c"(sub));
	return r;
}

/* 0, or -1 when the access raised #GP (the fault is swallowed). */
int rt_wrmsr_safe(uint32_t msr, uint64_t value);
int rt_rdmsr_safe(uint32_t msr, uint64_t *value);

/* An MSR access that must work: a #GP here ends the guest with a report. */
void rt_wrmsr(uint32_t msr, uint64_t value);
uint64_t rt_rdmsr(uint32_t msr);

static inline void rt_barrier(void)
{
	__asm__ volatile("mfence" : : : "memory");
}

/* Enable interrupts, halt until one arrives, disable them again. */
static inline void rt_wait_irq(void)
{
	__asm__ volatile("sti; hlt; cli" : : : "memory");
}

/* ---- IDT and local APIC ---------------------------------------------------- */

/* Load the IDT: exceptions report and exit, device vectors count. */
void rt_idt_init(void);

/* Software-enable the local APIC and start a periodic timer of @period_ns
 * (0: no timer). Returns true when x2APIC mode is in use. */
bool rt_lapic_init(uint64_t period_ns);

void rt_lapic_eoi(void);

/* ---- Strings -------------------------------------------------------------- */
size_t rt_strlen(const char *s);
bool rt_has_word(const char *s, const char *word);

#endif
