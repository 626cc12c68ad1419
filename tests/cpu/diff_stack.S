/*
 * Differential tests for the stack family (cpu/stack.c): PUSH/POP of registers, immediates and
 * memory in 64- and 16-bit operand sizes, the RSP-relative corner cases the SDM spells out
 * (PUSH RSP, POP RSP, PUSH/POP [RSP+n]), page-crossing and faulting stack accesses, PUSHF/POPF
 * at CPL 3 (IF and IOPL must not change), ENTER with nesting levels and LEAVE.
 */
#include "snippet.h"

SNIPPET push_pop_r64, F_ALL
	push rax
	push rbx
	push r15
	pop rcx
	pop rdx
	pop r8
	push r12
	pop r12
END_SNIPPET push_pop_r64

SNIPPET push_pop_r16, F_ALL
	push ax
	push bx
	pop cx
	pop r9w
	push r10w
	pop dx
END_SNIPPET push_pop_r16

SNIPPET push_imm, F_ALL
	push 5
	push -3
	push 0x12345678
	push -0x12345678
	pushw 0x1234
	pushw -2
	pop ax
	pop bx
	pop rcx
	pop rdx
	pop rsi
	pop rdi
END_SNIPPET push_imm

SNIPPET push_pop_mem, F_ALL
	mov rbx, DT_DATA + 0x100
	push qword ptr [rbx]
	push word ptr [rbx + 8]
	pop word ptr [rbx + 0x20]
	pop qword ptr [rbx + 0x28]
	push qword ptr [rbx + 0xefd] /* page-crossing source */
	pop qword ptr [rbx + 0xeff]  /* page-crossing destination */
END_SNIPPET push_pop_mem

/* PUSH [RSP+n] addresses with RSP before the push; POP [RSP+n] with RSP after the pop. */
SNIPPET push_pop_mem_rsp, F_ALL
	push qword ptr [rsp + 8]
	pop qword ptr [rsp + 8]
	push qword ptr [rsp]
	pop qword ptr [rsp]
	push word ptr [rsp + 2]
	pop word ptr [rsp + 4]
	mov rax, [rsp]
	mov rbx, [rsp + 8]
END_SNIPPET push_pop_mem_rsp

SNIPPET push_pop_rsp, F_ALL
	push rsp /* the old value */
	pop rax
	push sp
	pop bx
	lea rcx, [rsp - 24]
	push rcx
	pop rsp /* the popped value, not the incremented one */
	push rsp
	pop rdx
	mov rsi, rsp
	push ax
	pop sp
	mov rdi, rsp
	mov rsp, rsi
END_SNIPPET push_pop_rsp

SNIPPET push_pop_page_cross, F_ALL
	mov rsp, DT_DATA + 0x1004
	push rax
	push rbx
	mov rsp, DT_DATA + 0x2001
	push cx
	pop rdx
	mov rsp, DT_DATA + 0xffc
	pop rsi
	pop di
END_SNIPPET push_pop_page_cross

/* A faulting push or pop leaves RSP unchanged. */
SNIPPET push_fault, F_ALL
	mov rsp, DT_DATA + 4
	push rax
END_SNIPPET push_fault

SNIPPET pop_fault, F_ALL
	mov rsp, DT_DATA + DT_DATA_SIZE - 4
	pop rax
END_SNIPPET pop_fault

SNIPPET pop_mem_fault, F_ALL
	mov rbx, DT_DATA - 8
	pop qword ptr [rbx]
END_SNIPPET pop_mem_fault

SNIPPET call_push_fault, F_ALL
	mov rsp, DT_DATA + 7
	call 1f
1:
END_SNIPPET call_push_fault

/* The flags a CPL-3 POPF may change round-trip; IF and IOPL keep their values (IF = 1,
 * IOPL = 0 under Linux); RF and VM read as zero. TF and AC are kept clear: they would trap. */
SNIPPET pushf_popf_cpl3, F_ALL | F_DF
	pushfq
	pop r8
	mov rax, rbx
	and rax, ~0x40100 /* TF, AC */
	xor rax, 0x3200   /* try to flip IF and IOPL */
	push rax
	popfq
	pushfq
	pop r9
	mov rax, rcx
	and rax, ~0x40100
	push ax
	popfw
	pushfw
	pop r10w
	pushfq
	pop r11
	push r8
	popfq
END_SNIPPET pushf_popf_cpl3

SNIPPET popf_id_nt, F_ALL | F_DF
	pushfq
	xor qword ptr [rsp], 0x204000 /* ID and NT */
	popfq
	pushfq
	pop rax
	and rbx, ~0x40100
	push rbx
	popfq
	pushfq
	pop rcx
END_SNIPPET popf_id_nt

/* ENTER with levels 0, 1, 2, 5 and level 33 (taken mod 32); RBP points at a chain of frames. */
.macro ENTER_CASE alloc, level
	mov rbp, DT_DATA + 0x1800
	mov rsp, DT_DATA + 0x1400
	enter \alloc, \level
	mov r8, rsp
	mov r9, rbp
	mov r10, [rsp]
	leave
.endm

SNIPPET enter_levels, F_ALL
	ENTER_CASE 0, 0
	mov r11, rsp
	mov r12, rbp
	ENTER_CASE 16, 1
	mov r13, rsp
	ENTER_CASE 0x28, 2
	mov r14, rsp
	ENTER_CASE 8, 5
	mov r15, rsp
	mov rbp, DT_DATA + 0x1800
	mov rsp, DT_DATA + 0x1400
	enter 0x1234, 33
	mov rax, rsp
	mov rbx, rbp
END_SNIPPET enter_levels

SNIPPET enter_leave_16, F_ALL
	mov rbp, DT_DATA + 0x1800
	mov rsp, DT_DATA + 0x1400
	enterw 0x10, 3
	mov r8, rsp
	mov r9, rbp
	mov rbp, DT_DATA + 0x1700
	leavew
	mov r10, rsp
	mov r11, rbp
	mov rsp, DT_DATA + 0x1400
	mov rbp, 0x123456789abc /* level 0: RBP is only pushed, so it need not point anywhere */
	enterw 8, 0
	mov r12, rsp
	mov r13, rbp
END_SNIPPET enter_leave_16

SNIPPET leave_64, F_ALL
	mov rbp, DT_DATA + 0x1808
	leave
	mov rax, rsp
	mov rbx, rbp
END_SNIPPET leave_64

/* ENTER probes the final stack pointer for a write: allocating into the guard page below the
 * data faults at the ENTER with RSP and RBP unchanged. */
SNIPPET enter_alloc_fault, F_ALL
	mov rbp, DT_DATA + 0x1800
	mov rsp, DT_DATA + 0x100
	enter 0x1000, 1
END_SNIPPET enter_alloc_fault

SNIPPET enter_alloc_ok, F_ALL
	mov rbp, DT_DATA + 0x1800
	mov rsp, DT_DATA + 0x2100
	enter 0x2000, 1
	mov rax, [rsp]
END_SNIPPET enter_alloc_ok

/* POP [RSP-8] stores to the old top of stack (the address uses the incremented RSP). */
SNIPPET pop_mem_rsp_minus, F_ALL
	push rax
	pop qword ptr [rsp - 8]
	mov rbx, [rsp - 8]
	push cx
	pop word ptr [rsp - 2]
	mov dx, [rsp - 2]
END_SNIPPET pop_mem_rsp_minus
