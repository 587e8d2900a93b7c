/* SPDX-License-Identifier: MIT */
/*
 * Partition guest runtime. COM1 is a 16550 (THR at +0, LSR at +5, bit 5
 * transmitter empty); IDT gate and local APIC register layouts: Intel SDM
 * vol. 3 (chapters 6 and 10/11); ports and entry state: abi.h.
 */
#include "freestanding.h"
#include "rt.h"

const struct part_boot_info *rt_boot;
volatile uint64_t rt_ticks;
volatile uint64_t rt_sint_count;

/* ---- The C library pieces the compiler and libvmbus expect -------------- */

/* String instructions rather than loops: a compiler may turn a copy loop
 * back into a call to memcpy, which here would be itself. */
void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;

	__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	const uint8_t *s = src;
	uint8_t *d = dst;

	if (d <= s || d >= s + n)
		return memcpy(dst, src, n);
	/* Overlap with dst above src: copy backwards. */
	d += n - 1;
	s += n - 1;
	__asm__ volatile("std; rep movsb; cld"
			 : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	void *d = dst;

	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x < *y ? -1 : 1;
	return 0;
}

size_t rt_strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

/* Is @word one of the space-separated words of @s? */
bool rt_has_word(const char *s, const char *word)
{
	size_t wl = rt_strlen(word);

	while (*s) {
		size_t n = 0;

		while (*s == ' ')
			s++;
		while (s[n] && s[n] != ' ')
			n++;
		if (n == wl && !memcmp(s, word, n))
			return true;
		s += n;
	}
	return false;
}

/* ---- Console --------------------------------------------------------------- */

void rt_putc(char c)
{
	while (!(rt_inb(PART_PORT_COM1_LSR) & PART_UART_LSR_THRE))
		;
	rt_outb(PART_PORT_COM1, (uint8_t)c);
}

void rt_puts(const char *s)
{
	while (*s)
		rt_putc(*s++);
}

static int put_num(uint64_t v, unsigned int base, bool upper, int width,
		   char pad, bool neg)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char buf[24];
	int n = 0, out = 0;

	do {
		buf[n++] = digits[v % base];
		v /= base;
	} while (v);
	if (neg && pad == '0') {
		rt_putc('-');
		out++;
		width--;
	}
	for (; width > n + (neg && pad != '0'); width--, out++)
		rt_putc(pad);
	if (neg && pad != '0') {
		rt_putc('-');
		out++;
	}
	while (n) {
		rt_putc(buf[--n]);
		out++;
	}
	return out;
}

/* %c %s %d %i %u %x %X %p %%, flag 0, a width, length l, ll or z. */
int rt_vprintf(const char *fmt, va_list ap)
{
	int out = 0;

	for (; *fmt; fmt++) {
		int width = 0, lng = 0;
		char pad = ' ';
		uint64_t u;
		int64_t s;

		if (*fmt != '%') {
			rt_putc(*fmt);
			out++;
			continue;
		}
		fmt++;
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 'c':
			rt_putc((char)va_arg(ap, int));
			out++;
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);
			int len;

			if (!str)
				str = "(null)";
			len = (int)rt_strlen(str);
			for (; width > len; width--, out++)
				rt_putc(' ');
			rt_puts(str);
			out += len;
			break;
		}
		case 'd':
		case 'i':
			s = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			u = s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
			out += put_num(u, 10, false, width, pad, s < 0);
			break;
		case 'u':
		case 'x':
		case 'X':
			u = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int);
			out += put_num(u, *fmt == 'u' ? 10 : 16, *fmt == 'X',
				       width, pad, false);
			break;
		case 'p':
			rt_puts("0x");
			out += 2 + put_num((uintptr_t)va_arg(ap, void *), 16,
					   false, 0, ' ', false);
			break;
		case '%':
			rt_putc('%');
			out++;
			break;
		default:
			return out;	/* unknown conversion: stop */
		}
	}
	return out;
}

int rt_printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = rt_vprintf(fmt, ap);
	va_end(ap);
	return n;
}

void rt_exit(uint32_t status)
{
	rt_outl(PART_PORT_EXIT, status);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* ---- MSRs ------------------------------------------------------------------ */

void rt_wrmsr(uint32_t msr, uint64_t value)
{
	if (rt_wrmsr_safe(msr, value)) {
		rt_printf("FATAL: WRMSR 0x%x <- 0x%llx raised #GP\n", msr,
			  (unsigned long long)value);
		rt_exit(RT_EXIT_FAULT);
	}
}

uint64_t rt_rdmsr(uint32_t msr)
{
	uint64_t v = 0;

	if (rt_rdmsr_safe(msr, &v)) {
		rt_printf("FATAL: RDMSR 0x%x raised #GP\n", msr);
		rt_exit(RT_EXIT_FAULT);
	}
	return v;
}

/* ---- Interrupts ------------------------------------------------------------ */

extern const uint64_t rt_isr_table[32];
extern const uint64_t rt_isr_vec224, rt_isr_vec243, rt_isr_vec255;
extern const char rt_wrmsr_insn[], rt_wrmsr_fixup[];
extern const char rt_rdmsr_insn[], rt_rdmsr_fixup[];

struct idt_gate {
	uint16_t off0;
	uint16_t sel;
	uint8_t ist;
	uint8_t type;		/* present, DPL 0, 64-bit interrupt gate */
	uint16_t off1;
	uint32_t off2;
	uint32_t zero;
};

static struct idt_gate idt[256] __attribute__((aligned(16)));

static void set_gate(unsigned int vec, uint64_t handler)
{
	idt[vec].off0 = (uint16_t)handler;
	idt[vec].sel = PART_SEL_CODE;
	idt[vec].ist = 0;
	idt[vec].type = 0x8e;
	idt[vec].off1 = (uint16_t)(handler >> 16);
	idt[vec].off2 = (uint32_t)(handler >> 32);
	idt[vec].zero = 0;
}

void rt_idt_init(void)
{
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
	unsigned int i;

	for (i = 0; i < 32; i++)
		set_gate(i, rt_isr_table[i]);
	set_gate(RT_VEC_TIMER, rt_isr_vec224);
	set_gate(RT_VEC_SINT, rt_isr_vec243);
	set_gate(RT_VEC_SPURIOUS, rt_isr_vec255);
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

_Static_assert(sizeof(struct idt_gate) == 16, "idt gate");

static bool x2apic;

#define LAPIC_MMIO		0xfee00000ul
#define LAPIC_EOI		0x0b0
#define LAPIC_SVR		0x0f0
#define LAPIC_LVT_TIMER		0x320
#define LAPIC_TIMER_INIT	0x380
#define LAPIC_TIMER_DIV		0x3e0
#define LAPIC_SVR_ENABLE	0x100
#define LAPIC_TIMER_PERIODIC	(1u << 17)
#define LAPIC_DIV_1		0xb
#define MSR_APIC_BASE		0x1b
#define APIC_BASE_ENABLE	(1ull << 11)
#define APIC_BASE_X2APIC	(1ull << 10)
#define MSR_X2APIC_BASE		0x800
#define CPUID1_ECX_X2APIC	(1u << 21)
/* KVM's APIC timer counts one tick per nanosecond with divide-by-1. */
#define LAPIC_TICKS_PER_NS	1

static void lapic_write(uint32_t reg, uint32_t v)
{
	if (x2apic)
		rt_wrmsr(MSR_X2APIC_BASE + (reg >> 4), v);
	else
		*(volatile uint32_t *)(LAPIC_MMIO + reg) = v;
}

void rt_lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

bool rt_lapic_init(uint64_t period_ns)
{
	uint64_t base = rt_rdmsr(MSR_APIC_BASE);

	x2apic = rt_cpuid(1, 0).ecx & CPUID1_ECX_X2APIC;
	base |= APIC_BASE_ENABLE;
	if (x2apic)
		base |= APIC_BASE_X2APIC;
	rt_wrmsr(MSR_APIC_BASE, base);
	lapic_write(LAPIC_SVR, LAPIC_SVR_ENABLE | RT_VEC_SPURIOUS);
	if (period_ns) {
		lapic_write(LAPIC_TIMER_DIV, LAPIC_DIV_1);
		lapic_write(LAPIC_LVT_TIMER, LAPIC_TIMER_PERIODIC | RT_VEC_TIMER);
		lapic_write(LAPIC_TIMER_INIT,
			    (uint32_t)(period_ns * LAPIC_TICKS_PER_NS));
	}
	return x2apic;
}

static const char *const exc_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "?",
	"#TS", "#NP", "#SS", "#GP", "#PF", "?", "#MF", "#AC", "#MC", "#XM",
	"#VE", "#CP",
};

void rt_isr(struct rt_frame *f);

void rt_isr(struct rt_frame *f)
{
	uint64_t cr2;

	if (f->vector == 13 && f->rip == (uintptr_t)rt_wrmsr_insn) {
		f->rip = (uintptr_t)rt_wrmsr_fixup;
		return;
	}
	if (f->vector == 13 && f->rip == (uintptr_t)rt_rdmsr_insn) {
		f->rip = (uintptr_t)rt_rdmsr_fixup;
		return;
	}
	switch (f->vector) {
	case RT_VEC_TIMER:
		rt_ticks++;
		rt_lapic_eoi();
		return;
	case RT_VEC_SINT:
		rt_sint_count++;
		rt_lapic_eoi();
		return;
	case RT_VEC_SPURIOUS:
		return;		/* a spurious interrupt takes no EOI */
	default:
		break;
	}
	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	rt_printf("FATAL: exception %llu (%s) error 0x%llx at rip 0x%llx "
		  "rsp 0x%llx cr2 0x%llx\n",
		  (unsigned long long)f->vector,
		  f->vector < 32 && exc_names[f->vector] ? exc_names[f->vector] : "?",
		  (unsigned long long)f->error, (unsigned long long)f->rip,
		  (unsigned long long)f->rsp, (unsigned long long)cr2);
	rt_exit(RT_EXIT_FAULT);
}

/* ---- Entry ------------------------------------------------------------------ */

void rt_entry(const struct part_boot_info *boot, uint32_t vp)
	__attribute__((noreturn));

void rt_entry(const struct part_boot_info *boot, uint32_t vp)
{
	if (vp != 0) {
		/* Other VPs park until the partition ends. */
		for (;;)
			__asm__ volatile("cli; hlt");
	}
	rt_boot = boot;
	rt_idt_init();
	if (boot->magic != PART_BOOT_MAGIC || boot->version != PART_BOOT_VERSION) {
		rt_puts("FATAL: no boot information from the runner\n");
		rt_exit(RT_EXIT_FAULT);
	}
	rt_exit((uint32_t)guest_main(boot));
}
