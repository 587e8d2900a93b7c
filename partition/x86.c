/* SPDX-License-Identifier: MIT */
/*
 * Long-mode start state for partition VPs. Descriptor, paging and control
 * register formats: Intel SDM vol. 3 (chapters 3, 4 and 2); the guest
 * contract: partition/guest/abi.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "guest/abi.h"
#include "x86.h"

#define SZ_2M		(2ull << 20)
#define SZ_1G		(1ull << 30)

/* Flat descriptors: 64-bit code (L=1, D=0) and 32-bit-style data, both
 * with the accessed bit already set so the CPU never writes the GDT. */
#define GDT_CODE64	0x00af9b000000ffffull
#define GDT_DATA	0x00cf93000000ffffull

static void put64(void *ram, uint64_t gpa, uint64_t v)
{
	memcpy((uint8_t *)ram + gpa, &v, sizeof(v));
}

int part_x86_setup_memory(void *ram, uint64_t ram_size, uint32_t cpus,
			  uint64_t image_end, const char *cmdline)
{
	struct part_boot_info bi;
	uint64_t i;

	if (!ram || ram_size < PART_MEM_MIN || ram_size > PART_MEM_MAX ||
	    ram_size % SZ_2M || !cpus || cpus > PART_MAX_CPUS)
		return -EINVAL;
	memset(ram, 0, PART_IMAGE_MIN_GPA);

	put64(ram, PART_GDT_GPA + PART_SEL_CODE, GDT_CODE64);
	put64(ram, PART_GDT_GPA + PART_SEL_DATA, GDT_DATA);

	/* Map all 4 GiB, not just RAM: the xAPIC page at 0xfee00000 must be
	 * reachable, and an access above RAM then exits as MMIO, which the
	 * runner reports, instead of a page fault inside the guest. */
	put64(ram, PART_PML4_GPA, PART_PDPT_GPA | PART_PTE_P | PART_PTE_RW);
	for (i = 0; i < PART_PD_COUNT; i++)
		put64(ram, PART_PDPT_GPA + i * 8,
		      (PART_PD_GPA + i * 0x1000) | PART_PTE_P | PART_PTE_RW);
	for (i = 0; i < PART_PD_COUNT * 512; i++)
		put64(ram, PART_PD_GPA + i * 8,
		      i * SZ_2M | PART_PTE_P | PART_PTE_RW | PART_PTE_PS);

	memset(&bi, 0, sizeof(bi));
	bi.magic = PART_BOOT_MAGIC;
	bi.version = PART_BOOT_VERSION;
	bi.mem_size = ram_size;
	bi.cpu_count = cpus;
	bi.image_end = image_end;
	if (cmdline) {
		size_t n = strnlen(cmdline, PART_CMDLINE_MAX - 1);

		memcpy(bi.cmdline, cmdline, n);
	}
	memcpy((uint8_t *)ram + PART_BOOT_INFO_GPA, &bi, sizeof(bi));
	return 0;
}

static void flat_segment(struct kvm_segment *seg, uint16_t sel, uint8_t type,
			 bool code)
{
	memset(seg, 0, sizeof(*seg));
	seg->base = 0;
	seg->limit = 0xffffffff;
	seg->selector = sel;
	seg->type = type;
	seg->present = 1;
	seg->dpl = 0;
	seg->s = 1;
	seg->g = 1;
	seg->l = code;
	seg->db = !code;
}

void part_x86_long_mode_sregs(struct kvm_sregs *s)
{
	flat_segment(&s->cs, PART_SEL_CODE, 0xb, true);
	flat_segment(&s->ds, PART_SEL_DATA, 0x3, false);
	s->es = s->ds;
	s->fs = s->ds;
	s->gs = s->ds;
	s->ss = s->ds;
	s->gdt.base = PART_GDT_GPA;
	s->gdt.limit = 3 * 8 - 1;
	/* No IDT until the guest loads one: an early fault is a triple
	 * fault, which the runner reports with the registers. */
	s->idt.base = 0;
	s->idt.limit = 0;
	s->cr3 = PART_PML4_GPA;
	s->cr4 = PART_CR4_PAE | PART_CR4_OSFXSR | PART_CR4_OSXMMEXCPT;
	s->cr0 = PART_CR0_PE | PART_CR0_MP | PART_CR0_ET | PART_CR0_NE |
		 PART_CR0_WP | PART_CR0_PG;
	s->efer = PART_EFER_LME | PART_EFER_LMA;
}

uint64_t part_x86_stack_top(uint32_t vp)
{
	return PART_STACK_BASE + ((uint64_t)vp + 1) * PART_STACK_SIZE;
}

void part_x86_entry_regs(struct kvm_regs *r, uint64_t entry, uint32_t vp)
{
	memset(r, 0, sizeof(*r));
	r->rip = entry;
	r->rsp = part_x86_stack_top(vp);
	r->rdi = PART_BOOT_INFO_GPA;
	r->rsi = vp;
	r->rflags = 0x2;	/* bit 1 is always set; IF clear */
}

void part_x86_dump(FILE *f, uint32_t vp, const struct kvm_regs *r,
		   const struct kvm_sregs *s)
{
	fprintf(f, "VP %" PRIu32 " registers:\n", vp);
	fprintf(f, "  rip %016llx  rsp %016llx  rflags %016llx\n",
		r->rip, r->rsp, r->rflags);
	fprintf(f, "  rax %016llx  rbx %016llx  rcx %016llx  rdx %016llx\n",
		r->rax, r->rbx, r->rcx, r->rdx);
	fprintf(f, "  rsi %016llx  rdi %016llx  rbp %016llx  r8  %016llx\n",
		r->rsi, r->rdi, r->rbp, r->r8);
	fprintf(f, "  r9  %016llx  r10 %016llx  r11 %016llx  r12 %016llx\n",
		r->r9, r->r10, r->r11, r->r12);
	fprintf(f, "  r13 %016llx  r14 %016llx  r15 %016llx\n",
		r->r13, r->r14, r->r15);
	if (!s)
		return;
	fprintf(f, "  cr0 %016llx  cr2 %016llx  cr3 %016llx  cr4 %016llx\n",
		s->cr0, s->cr2, s->cr3, s->cr4);
	fprintf(f, "  efer %016llx  cs %04x  ss %04x  idt %016llx/%04x\n",
		s->efer, s->cs.selector, s->ss.selector, s->idt.base,
		s->idt.limit);
}
