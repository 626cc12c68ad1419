/*
 * Differential tests for near control transfers (cpu/branch.c): every Jcc condition in its rel8
 * and rel32 forms from random and computed flags, JMP/CALL/RET in their relative, register and
 * memory forms, RET imm16, JRCXZ/JECXZ, LOOP/LOOPE/LOOPNE with 64- and 32-bit counters, and
 * #GP(0) for non-canonical targets.
 */
#include "snippet.h"

/* Records each condition's outcome as one bit of \reg using only flag-preserving LEA, most
 * significant bit = O ... least significant = G. */
.macro JCC_ALL reg, pfx=
	mov \reg, 0
	.irp cc, o, no, b, ae, e, ne, be, a, s, ns, p, np, l, ge, le, g
	lea \reg, [\reg + \reg]
	\pfx j\cc 91f
	lea \reg, [\reg + 1]
91:
	.endr
.endm

SNIPPET jcc8_random_flags, F_ALL
	JCC_ALL r8
END_SNIPPET jcc8_random_flags

SNIPPET jcc32_random_flags, F_ALL
	JCC_ALL r8, {disp32}
END_SNIPPET jcc32_random_flags

SNIPPET jcc_after_cmp, F_ALL
	cmp rax, rbx
	JCC_ALL r8
	cmp ecx, edx
	JCC_ALL r9
	cmp si, di
	JCC_ALL r10
	cmp al, bl
	JCC_ALL r11
	cmp rax, rax
	JCC_ALL r12
END_SNIPPET jcc_after_cmp

SNIPPET jcc_after_arith, F_ALL
	add rax, rbx
	JCC_ALL r8
	inc ecx
	JCC_ALL r9
	dec dl
	JCC_ALL r10
	test esi, edi
	JCC_ALL r11
	sub bx, ax
	JCC_ALL r12
	adc rdi, rsi
	JCC_ALL r13
	sbb eax, edx
	JCC_ALL r14
	neg rcx
	JCC_ALL r15
END_SNIPPET jcc_after_arith

SNIPPET jcc_after_logic, F_ALL
	test al, bl
	JCC_ALL r8
	and cx, dx
	JCC_ALL r9
	xor rsi, rdi
	JCC_ALL r10
	or r11d, r12d
	JCC_ALL r13
	cmp bh, ch
	JCC_ALL r14
	sub r15w, ax
	JCC_ALL rbx
END_SNIPPET jcc_after_logic

SNIPPET jcc_backward_count, F_ALL
	mov ecx, 37
	mov eax, 0
1:	add eax, ecx
	dec ecx
	jnz 1b
	mov edx, 100
	mov ebx, 0
2:	add ebx, 7
	sub edx, 3
	{disp32} jg 2b
END_SNIPPET jcc_backward_count

SNIPPET jmp_forms, F_ALL
	mov eax, 0
	jmp 1f
	mov eax, 1
1:	{disp32} jmp 2f
	mov eax, 2
2:	lea rbx, [rip + 3f]
	jmp rbx
	mov eax, 3
3:	mov rcx, DT_DATA + 0x100
	lea rdx, [rip + 4f]
	mov [rcx], rdx
	jmp qword ptr [rcx]
	mov eax, 4
4:	lea rdx, [rip + 5f]
	mov [rcx + 0xefd], rdx
	jmp qword ptr [rcx + 0xefd] /* page-crossing pointer */
	mov eax, 5
5:
END_SNIPPET jmp_forms

SNIPPET call_ret_rel, F_ALL
	mov eax, 0
	call 1f
	add eax, 10
	jmp 2f
1:	mov rbx, [rsp]
	add eax, 1
	ret
2:
END_SNIPPET call_ret_rel

SNIPPET call_ret_imm, F_ALL
	mov rsi, rsp
	push 11
	push 22
	call 1f
	jmp 2f
1:	mov rax, [rsp + 8]
	mov rbx, [rsp + 16]
	ret 16
2:	sub rsi, rsp
END_SNIPPET call_ret_imm

SNIPPET call_reg_mem, F_ALL
	mov eax, 0
	lea rbx, [rip + 1f]
	call rbx
	mov rcx, DT_DATA + 0x200
	mov [rcx], rbx
	call qword ptr [rcx]
	push rbx
	call qword ptr [rsp] /* the target is read with the old RSP */
	pop rdx
	pop rdx
	jmp 2f
1:	add eax, 1
	mov rdi, [rsp]
	ret
2:
END_SNIPPET call_reg_mem

/* Recursive factorial: nested CALL/RET with a real stack discipline. */
SNIPPET call_recursive, F_ALL
	mov ecx, 12
	call 1f
	jmp 3f
1:	cmp ecx, 1
	ja 2f
	mov eax, 1
	ret
2:	push rcx
	dec ecx
	call 1b
	pop rcx
	imul eax, ecx
	ret
3:	cmp eax, 479001600 /* 12!; IMUL leaves SF, ZF, AF, PF undefined */
END_SNIPPET call_recursive

SNIPPET loop_count, F_ALL
	mov ecx, 10
	mov eax, 0
1:	add eax, 3
	loop 1b
	mov rcx, 1
	mov ebx, 0
2:	inc ebx
	loop 2b /* RCX becomes 0: one iteration */
	mov edx, 0
	mov rcx, 0xfffffffffffffffe
	loop 3f /* RCX stays non-zero: taken */
	mov edx, 1
3:
END_SNIPPET loop_count

SNIPPET loop_addr32, F_ALL
	mov rcx, 0xffffffff00000005
	mov eax, 0
1:	inc eax
	addr32 loop 1b
	mov rdx, rcx
	mov rcx, 0x1234567800000001
	addr32 loop 2f /* ECX becomes 0: falls through */
	mov ebx, 1
2:
END_SNIPPET loop_addr32

SNIPPET loope_loopne_data, F_ALL
	mov rsi, DT_DATA + 0x300
	mov ecx, 64
1:	test byte ptr [rsi], 3
	lea rsi, [rsi + 1]
	loope 1b
	mov r8, rcx
	mov r9, rsi
	mov ecx, 64
2:	test byte ptr [rsi], 3
	lea rsi, [rsi + 1]
	loopne 2b
	mov r10, rcx
	mov r11, rsi
	mov ecx, 1
	cmp eax, eax
	loope 3f /* count reaches zero: not taken even with ZF = 1 */
	mov edx, 7
3:
END_SNIPPET loope_loopne_data

SNIPPET jrcxz_jecxz, F_ALL
	mov r8d, 0
	jrcxz 1f
	lea r8, [r8 + 1]
1:	jecxz 2f
	lea r8, [r8 + 2]
2:	mov rcx, 0x100000000
	jrcxz 3f
	lea r8, [r8 + 4]
3:	jecxz 4f
	lea r8, [r8 + 8]
4:	mov ecx, 0
	jrcxz 5f
	lea r8, [r8 + 16]
5:
END_SNIPPET jrcxz_jecxz

SNIPPET jmp_noncanonical, F_ALL
	mov rax, 0x0000800000000000
	jmp rax
END_SNIPPET jmp_noncanonical

SNIPPET call_noncanonical, F_ALL
	mov rax, 0xffff7fffffffff00
	call rax /* #GP(0) at the CALL: nothing pushed */
END_SNIPPET call_noncanonical

SNIPPET ret_noncanonical, F_ALL
	mov rax, 0x0001000000000000
	push rax
	ret /* #GP(0) at the RET: RSP still points at the bad address */
END_SNIPPET ret_noncanonical

SNIPPET ret_imm_large, F_ALL
	mov rsi, rsp
	call 1f
	jmp 2f
1:	ret 0x208
2:	sub rsi, rsp
END_SNIPPET ret_imm_large

/* CALL [EBX] with a 32-bit address size, and the CALL/POP idiom for reading RIP. */
SNIPPET call_addr32_pop_rip, F_ALL
	mov ebx, DT_DATA + 0x40
	lea rax, [rip + 1f]
	mov [rbx], rax
	addr32 call qword ptr [ebx]
	jmp 2f
1:	pop rcx
	lea rdx, [rip + 1b]
	sub rcx, rdx
	jmp qword ptr [rsp - 8]
2:
END_SNIPPET call_addr32_pop_rip

SNIPPET loop_addr32_cc, F_ALL
	mov rsi, DT_DATA + 0x500
	mov rcx, 0x5555555500000020
1:	test byte ptr [rsi], 1
	lea rsi, [rsi + 1]
	addr32 loopne 1b
	mov r8, rcx
	mov rcx, 0xaaaaaaaa00000020
2:	test byte ptr [rsi], 1
	lea rsi, [rsi + 1]
	addr32 loope 2b
END_SNIPPET loop_addr32_cc
