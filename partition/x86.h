/* SPDX-License-Identifier: MIT */
/*
 * The x86-64 machine state the runner prepares before a VP's first
 * instruction: the low-memory tables of guest/abi.h (GDT, identity page
 * tables with 2 MiB pages, boot information) and the long-mode register
 * state handed to KVM_SET_SREGS / KVM_SET_REGS. Pure functions over a RAM
 * buffer and KVM's register structs, so they are tested without /dev/kvm.
 *
 * Formats: Intel SDM vol. 3 (4-level paging, segment descriptors, CR0,
 * CR4, EFER); register structs: <linux/kvm.h> (asm/kvm.h).
 */
#ifndef PART_X86_H
#define PART_X86_H

#include <stdint.h>
#include <stdio.h>

#include <linux/kvm.h>

/* RAM the runner accepts: room for its tables, the stacks and an image at
 * 1 MiB; at most 3 GiB so RAM stays below the IOAPIC/LAPIC at 0xfec00000. */
#define PART_MEM_MIN		(2ull << 20)
#define PART_MEM_MAX		(3ull << 30)

#define PART_CR0_PE		(1ull << 0)
#define PART_CR0_MP		(1ull << 1)
#define PART_CR0_ET		(1ull << 4)
#define PART_CR0_NE		(1ull << 5)
#define PART_CR0_WP		(1ull << 16)
#define PART_CR0_PG		(1ull << 31)
#define PART_CR4_PAE		(1ull << 5)
#define PART_CR4_OSFXSR		(1ull << 9)
#define PART_CR4_OSXMMEXCPT	(1ull << 10)
#define PART_EFER_LME		(1ull << 8)
#define PART_EFER_LMA		(1ull << 10)

/* Page-table entry bits. */
#define PART_PTE_P		(1ull << 0)
#define PART_PTE_RW		(1ull << 1)
#define PART_PTE_PS		(1ull << 7)

/*
 * Write the GDT, the page tables and the boot information into @ram
 * (guest-physical [0, @ram_size)). @cmdline may be NULL; it is truncated
 * to PART_CMDLINE_MAX - 1 bytes. Returns 0, -EINVAL when @ram_size is not
 * a multiple of 2 MiB inside [PART_MEM_MIN, PART_MEM_MAX] or @cpus is not
 * 1..PART_MAX_CPUS.
 */
int part_x86_setup_memory(void *ram, uint64_t ram_size, uint32_t cpus,
			  uint64_t image_end, const char *cmdline);

/* Turn KVM's reset-state special registers into flat 64-bit long mode
 * using the tables above (the TR and LDT KVM set up are kept). */
void part_x86_long_mode_sregs(struct kvm_sregs *s);

/* The general registers of VP @vp at entry (see guest/abi.h). */
void part_x86_entry_regs(struct kvm_regs *r, uint64_t entry, uint32_t vp);

/* The initial stack pointer of VP @vp. */
uint64_t part_x86_stack_top(uint32_t vp);

/* Print registers for a report (a crash, a time-out); @s may be NULL. */
void part_x86_dump(FILE *f, uint32_t vp, const struct kvm_regs *r,
		   const struct kvm_sregs *s);

#endif
