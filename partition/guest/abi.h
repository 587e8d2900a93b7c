/* SPDX-License-Identifier: MIT */
/*
 * The contract between the partition runner (partition/, `vmbus-run`) and
 * the freestanding guest runtime (partition/guest/): the I/O ports the
 * runner emulates, the guest-physical layout it sets up before the first
 * instruction, the register state at entry and the boot-information page.
 *
 * None of this is Hyper-V: a Hyper-V guest only sees CPUID, MSRs and the
 * hypercall page (include/vmbus/proto/tlfs.h). The ports are this
 * project's own choice; 0x3F8 is the PC's COM1 (16550 UART register map).
 *
 * Freestanding-safe: stdint only.
 */
#ifndef PART_GUEST_ABI_H
#define PART_GUEST_ABI_H

#include <stdint.h>

/* ---- I/O ports ----------------------------------------------------------- */

/* COM1: THR at +0 (a byte written is printed), LSR at +5 (reads 0x60:
 * transmitter empty, so a polling driver never waits). */
#define PART_PORT_COM1			0x3f8
#define PART_PORT_COM1_LSR		(PART_PORT_COM1 + 5)
#define PART_UART_LSR_THRE		0x20
#define PART_UART_LSR_TEMT		0x40

/* A 32-bit OUT ends the partition; the value is the guest's exit status. */
#define PART_PORT_EXIT			0xf4

/*
 * An IN reads 1 once the runner wants the guest to wind down (vmbus-run got
 * SIGINT or SIGTERM), else 0. A guest that serves until told to stop polls
 * it and exits with its own status; one that never looks is cut off by the
 * runner's time-out.
 */
#define PART_PORT_STOP			0xf5

/*
 * The hypercall page the runner writes on WRMSR HYPERCALL:
 *     out  $PART_PORT_HCALL, %al     ; the runner reads RCX, RDX, R8
 *     in   $PART_PORT_HCALL_STATUS, %eax   ; and answers the status here
 *     ret
 * Both ports have 8-bit numbers so the sequence needs no register but RAX,
 * which the hypercall ABI already clobbers. The status arrives through the
 * IN instead of a register write so that KVM completes the IN itself and
 * the runner never rewrites registers while an I/O exit is in flight.
 */
#define PART_PORT_HCALL			0xe4
#define PART_PORT_HCALL_STATUS		0xe5

/* ---- Guest-physical layout ------------------------------------------------ */

/*
 * Low memory belongs to the runner; the guest image loads at 1 MiB or
 * higher and may use any RAM above its own end.
 *   0x1000  GDT (null, code64 0x08, data 0x10)
 *   0x2000  PML4, 0x3000 PDPT, 0x4000..0x7fff four page directories that
 *           identity-map the first 4 GiB with 2 MiB pages (the LAPIC at
 *           0xfee00000 included)
 *   0x8000  struct part_boot_info
 *   0x10000 + n * PART_STACK_SIZE: the initial stack of VP n (it grows
 *           down from the end of its slot)
 */
#define PART_GDT_GPA			0x1000ull
#define PART_PML4_GPA			0x2000ull
#define PART_PDPT_GPA			0x3000ull
#define PART_PD_GPA			0x4000ull
#define PART_PD_COUNT			4u
#define PART_BOOT_INFO_GPA		0x8000ull
#define PART_STACK_BASE			0x10000ull
#define PART_STACK_SIZE			0x4000ull
#define PART_MAX_CPUS			32u
#define PART_IMAGE_MIN_GPA		0x100000ull

/* Segment selectors of the runner's GDT. */
#define PART_SEL_CODE			0x08
#define PART_SEL_DATA			0x10

/* ---- Entry state ----------------------------------------------------------- */

/*
 * Every VP starts at the ELF entry point in 64-bit long mode, CPL 0,
 * interrupts disabled, paging as above, with
 *   RSP = the top of its stack slot (16-byte aligned),
 *   RDI = PART_BOOT_INFO_GPA,
 *   RSI = the VP index.
 */

#define PART_BOOT_MAGIC			0x54524150u	/* "PART" */
#define PART_BOOT_VERSION		1u
#define PART_CMDLINE_MAX		256u

/* Written by the runner before any VP runs; read-only for the guest. */
struct part_boot_info {
	uint32_t magic;			/* PART_BOOT_MAGIC */
	uint32_t version;		/* PART_BOOT_VERSION */
	uint64_t mem_size;		/* RAM is [0, mem_size) */
	uint32_t cpu_count;
	uint32_t reserved;
	uint64_t image_end;		/* first byte above the loaded image */
	char cmdline[PART_CMDLINE_MAX];	/* NUL-terminated */
};

_Static_assert(sizeof(struct part_boot_info) == 288, "part_boot_info");

#endif
