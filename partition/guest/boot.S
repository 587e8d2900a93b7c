/* SPDX-License-Identifier: MIT */
/*
 * Entry point, interrupt stubs and fault-tolerant MSR accessors of the
 * partition guest runtime. The runner enters _start in 64-bit long mode
 * with RSP, RDI and RSI set as partition/guest/abi.h describes; the
 * interrupt frame layout is the Intel SDM's (vol. 3, "64-bit mode stack
 * frame"); struct rt_frame in rt.h mirrors what isr_common pushes.
 */
	.code64
	.section .text.boot, "ax"
	.globl _start
_start:
	cli
	cld
	xor	%ebp, %ebp
	call	rt_entry		/* (boot info, VP index); never returns */
1:	cli
	hlt
	jmp	1b

	.text

/* Exceptions that push an error code: 8, 10-14, 17, 21, 29, 30. */
.macro ISR_NOERR n
isr_\n:
	pushq	$0
	pushq	$\n
	jmp	isr_common
.endm
.macro ISR_ERR n
isr_\n:
	pushq	$\n
	jmp	isr_common
.endm

ISR_NOERR 0
ISR_NOERR 1
ISR_NOERR 2
ISR_NOERR 3
ISR_NOERR 4
ISR_NOERR 5
ISR_NOERR 6
ISR_NOERR 7
ISR_ERR 8
ISR_NOERR 9
ISR_ERR 10
ISR_ERR 11
ISR_ERR 12
ISR_ERR 13
ISR_ERR 14
ISR_NOERR 15
ISR_NOERR 16
ISR_ERR 17
ISR_NOERR 18
ISR_NOERR 19
ISR_NOERR 20
ISR_ERR 21
ISR_NOERR 22
ISR_NOERR 23
ISR_NOERR 24
ISR_NOERR 25
ISR_NOERR 26
ISR_NOERR 27
ISR_NOERR 28
ISR_ERR 29
ISR_ERR 30
ISR_NOERR 31
/* The device vectors the runtime uses (RT_VEC_* in rt.h). */
ISR_NOERR 224
ISR_NOERR 243
ISR_NOERR 255

isr_common:
	push	%rax
	push	%rcx
	push	%rdx
	push	%rbx
	push	%rbp
	push	%rsi
	push	%rdi
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	mov	%rsp, %rdi
	mov	%rsp, %rbx		/* callee-saved: survives the call */
	and	$-16, %rsp
	call	rt_isr
	mov	%rbx, %rsp
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rdi
	pop	%rsi
	pop	%rbp
	pop	%rbx
	pop	%rdx
	pop	%rcx
	pop	%rax
	add	$16, %rsp		/* vector and error code */
	iretq

	.section .rodata
	.globl rt_isr_table
	.balign 8
rt_isr_table:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad	isr_\n
	.endr
	.globl rt_isr_vec224, rt_isr_vec243, rt_isr_vec255
rt_isr_vec224:
	.quad	isr_224
rt_isr_vec243:
	.quad	isr_243
rt_isr_vec255:
	.quad	isr_255

	.text
/*
 * int rt_wrmsr_safe(uint32_t msr, uint64_t value): 0, or -1 when the
 * WRMSR raised #GP (rt_isr moves RIP to the fix-up).
 */
	.globl rt_wrmsr_safe, rt_wrmsr_insn, rt_wrmsr_fixup
rt_wrmsr_safe:
	mov	%edi, %ecx
	mov	%rsi, %rax
	mov	%rsi, %rdx
	shr	$32, %rdx
rt_wrmsr_insn:
	wrmsr
	xor	%eax, %eax
	ret
rt_wrmsr_fixup:
	mov	$-1, %eax
	ret

/* int rt_rdmsr_safe(uint32_t msr, uint64_t *value): 0 or -1 on #GP. */
	.globl rt_rdmsr_safe, rt_rdmsr_insn, rt_rdmsr_fixup
rt_rdmsr_safe:
	mov	%edi, %ecx
rt_rdmsr_insn:
	rdmsr
	shl	$32, %rdx
	or	%rdx, %rax
	mov	%rax, (%rsi)
	xor	%eax, %eax
	ret
rt_rdmsr_fixup:
	mov	$-1, %eax
	ret

	.section .note.GNU-stack, "", @progbits
