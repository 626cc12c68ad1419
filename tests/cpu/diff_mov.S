/*
 * Differential tests for data movement (cpu/mov.c): MOV in every GPR/memory/immediate/moffs form
 * and size (high-byte registers included), LEA with each address size, MOVZX/MOVSX/MOVSXD,
 * XCHG, BSWAP, MOVBE, CBW..CQO, CMOVcc and SETcc for every condition, XLAT, NOP forms,
 * prefetches, CLFLUSH, fences, UD2, page-crossing operands and faulting accesses.
 */
#include "snippet.h"

#define P DT_DATA + 0x100

SNIPPET mov_rr, F_ALL
	mov rax, rbx
	mov ecx, edx
	mov si, di
	mov r8b, r9b
	mov ah, bh
	mov bl, ch
	mov dh, al
	mov r10w, r11w
	mov r12d, r13d
	mov r14, r15
	mov spl, bpl
	mov dil, sil
END_SNIPPET mov_rr

SNIPPET mov_rm, F_ALL
	mov rbx, P
	mov rax, [rbx]
	mov ecx, [rbx + 8]
	mov dx, [rbx + 17]
	mov sil, [rbx + 3]
	mov ah, [rbx + 5]
	mov ch, [rbx + 6]
	mov r8, [rbx + 0xffd - 0x100]     /* crosses into the second page */
	mov r9d, [rbx + 0xffe - 0x100]
	mov r10w, [rbx + 0xfff - 0x100]
	mov r11, [rbx + rbx * 1 - P - 0x100 + 0x1ff9]
END_SNIPPET mov_rm

SNIPPET mov_mr, F_ALL
	mov rbx, P
	mov [rbx], rax
	mov [rbx + 9], ecx
	mov [rbx + 19], dx
	mov [rbx + 23], sil
	mov [rbx + 24], ah
	mov [rbx + 25], bh
	mov [rbx + 0xffb - 0x100], r8
	mov [rbx + 0x1ffe - 0x100], r9d
	mov [rbx + 0x1fff - 0x100], r10w
END_SNIPPET mov_mr

SNIPPET mov_ri, F_ALL
	mov rax, 0x123456789abcdef0
	mov ecx, -1
	mov dx, 0x1234
	mov bl, 0x80
	mov ch, 0x7f
	mov bh, 0xff
	mov rsi, -5
	mov rdi, 0x7fffffff
	mov r8d, 0x80000000
	mov r9w, -1
	mov r10b, 1
END_SNIPPET mov_ri

SNIPPET mov_mi, F_ALL
	mov rbx, P
	mov qword ptr [rbx], -2
	mov qword ptr [rbx + 8], 0x7fffffff
	mov dword ptr [rbx + 16], 0x89abcdef
	mov word ptr [rbx + 20], 0xfedc
	mov byte ptr [rbx + 22], 0x99
	mov qword ptr [rbx + 0xffc - 0x100], 0x12345678
END_SNIPPET mov_mi

SNIPPET mov_moffs, F_ALL
	movabs al, [DT_DATA + 0x10]
	movabs ax, [DT_DATA + 0x21]
	movabs eax, [DT_DATA + 0x35]
	movabs rax, [DT_DATA + 0xffe]
	movabs [DT_DATA + 0x40], al
	movabs [DT_DATA + 0x51], ax
	movabs [DT_DATA + 0x63], eax
	movabs [DT_DATA + 0x1ffc], rax
	.byte 0x67, 0xa1                  /* mov eax, [moffs32] with a 32-bit address size */
	.long DT_DATA + 0x123
	.byte 0x67, 0x48, 0xa3            /* mov [moffs32], rax */
	.long DT_DATA + 0x203
END_SNIPPET mov_moffs

SNIPPET mov_addr32, F_ALL
	mov ebx, P
	mov ecx, 8
	mov rdx, 0xffffffff00000000
	or rbx, rdx                       /* upper half ignored with a 32-bit address size */
	mov rax, [ebx + ecx * 2]
	mov [ebx + ecx * 4 + 1], rsi
	mov byte ptr [ebx], 7
END_SNIPPET mov_addr32

SNIPPET mov_pf_read, F_ALL
	mov rbx, DT_DATA + DT_DATA_SIZE + 0x100
	mov rax, [rbx]
END_SNIPPET mov_pf_read

SNIPPET mov_pf_write, F_ALL
	mov rbx, DT_DATA + DT_DATA_SIZE - 4
	mov rax, 1
	mov [rbx], rax                    /* crosses into an unmapped page: nothing written */
END_SNIPPET mov_pf_write

SNIPPET mov_gp_noncanonical, F_ALL
	mov rbx, 0x8000000000000000
	mov rax, [rbx]
END_SNIPPET mov_gp_noncanonical

SNIPPET lea_forms, F_ALL
	lea rax, [rbx + rcx * 4 + 0x12]
	lea r8d, [rbx + rcx * 8 - 1]
	lea r9w, [rdx + rsi]
	lea r10d, [edx + esi * 2 + 0x7fffffff]
	lea r11, [edx - 1]
	lea r12w, [edi + 3]
	lea r13, [rip + 0x100]
	lea r14, [rsp + rbp]
	lea r15, [0x12345678]
END_SNIPPET lea_forms

SNIPPET nop_forms, F_ALL | F_DF
	nop
	.byte 0x66, 0x90
	nop dword ptr [rax + rax * 1 + 0]
	nop word ptr [rbx + rcx * 4 + 0x12345678]
	.byte 0x0f, 0x1f, 0x00            /* nop [rax] with a random rax: never accessed */
	pause
	.byte 0xf3, 0x0f, 0x1e, 0xfa      /* endbr64 */
	lfence
	mfence
	sfence
	mov rbx, P
	prefetcht0 [rbx]
	prefetcht1 [rbx]
	prefetcht2 [rbx]
	prefetchnta [rbx]
	prefetchw [rbx]
	prefetcht0 [rax]                  /* prefetches never fault */
	clflush [rbx]
END_SNIPPET nop_forms

SNIPPET clflush_pf, F_ALL
	mov rbx, DT_DATA + DT_DATA_SIZE + 0x100
	clflush [rbx]
END_SNIPPET clflush_pf

SNIPPET ud2_raises_ud, F_ALL
	mov eax, 1
	ud2
END_SNIPPET ud2_raises_ud

SNIPPET movzx_movsx, F_ALL
	mov rbx, P
	movzx eax, bl
	movzx ecx, ah
	movzx dx, dh
	movzx rsi, word ptr [rbx + 3]
	movzx edi, byte ptr [rbx + 0xfff - 0x100]
	movzx r8, r9b
	movzx r10w, byte ptr [rbx + 9]
	movsx r11, bl
	movsx ebp, bh
	movsx r13w, r13b
	movsx r14, word ptr [rbx + 5]
	movsx r15d, word ptr [rbx + 0xfff - 0x100]
	movsx eax, byte ptr [rbx + 7]
	movsxd rcx, edx
	movsxd rdx, dword ptr [rbx + 11]
	.byte 0x63, 0xf7                  /* movsxd esi, edi: a plain 32-bit move */
	.byte 0x66, 0x63, 0xf8            /* movsxd di, ax */
END_SNIPPET movzx_movsx

SNIPPET xchg_forms, F_ALL
	mov rbx, P
	xchg rax, rcx
	xchg edx, esi
	xchg di, r8w
	xchg al, ah
	xchg dh, cl
	xchg r9b, r10b
	xchg r11, [rbx]
	xchg [rbx + 9], r12d
	xchg r13w, [rbx + 0xfff - 0x100]
	xchg [rbx + 30], ch
	.byte 0x87, 0xc0                  /* xchg eax, eax zero-extends rax */
	.byte 0x41, 0x90                  /* xchg r8d, eax */
	.byte 0x48, 0x91                  /* xchg rcx, rax */
	.byte 0x66, 0x92                  /* xchg dx, ax */
END_SNIPPET xchg_forms

SNIPPET xchg_mem_pf, F_ALL
	mov rbx, DT_DATA + DT_DATA_SIZE - 2
	xchg [rbx], eax                   /* #PF: eax keeps its value */
END_SNIPPET xchg_mem_pf

SNIPPET bswap_forms, F_ALL
	bswap eax
	bswap rcx
	bswap r9d
	bswap r10
	.byte 0x66, 0x0f, 0xcb            /* bswap bx: low word becomes 0 */
END_SNIPPET bswap_forms

SNIPPET movbe_forms, F_ALL
	mov rbx, P
	movbe ax, [rbx]
	movbe ecx, [rbx + 5]
	movbe rdx, [rbx + 0xffd - 0x100]
	movbe [rbx + 16], si
	movbe [rbx + 21], edi
	movbe [rbx + 0xffa - 0x100], r8
END_SNIPPET movbe_forms

SNIPPET cbw_cwd_family, F_ALL
	mov r8, rax
	cbw
	mov r9, rax
	mov rax, r8
	cwde
	mov r10, rax
	mov rax, r8
	cdqe
	mov r11, rax
	mov rax, r8
	cwd
	mov r12, rdx
	cdq
	mov r13, rdx
	cqo
END_SNIPPET cbw_cwd_family

SNIPPET cbw_cwd_signs, F_ALL
	mov eax, 0x80
	cbw
	mov ebx, 0x8000
	xchg eax, ebx
	cwde
	mov rcx, 0x80000000
	xchg rax, rcx
	cdqe
	mov rdx, -1
	mov eax, 0x7fff
	cwd
	mov esi, edx
	mov eax, 0x80000000
	cdq
	mov edi, edx
	mov rax, 0x7fffffffffffffff
	cqo
END_SNIPPET cbw_cwd_signs

.macro ALL_CC op, d, s
	.irp cc, o, no, b, ae, e, ne, be, a, s, ns, p, np, l, ge, le, g
	\op\cc \d, \s
	.endr
.endm

SNIPPET cmov64_rr, F_ALL
	ALL_CC cmov, rax, rbx
END_SNIPPET cmov64_rr

/* Each condition writes its own register so a false condition's zero-extension shows. */
SNIPPET cmov32_rr, F_ALL
	cmovo eax, ebx
	cmovno ecx, ebx
	cmovb edx, ebx
	cmovae esi, ebx
	cmove edi, ebx
	cmovne r8d, ebx
	cmovbe r9d, ebx
	cmova r10d, ebx
	cmovs r11d, ebx
	cmovns r12d, ebx
	cmovp r13d, ebx
	cmovnp r14d, ebx
	cmovl r15d, ebx
	cmovge ebp, ebx
	cmovle ebx, eax
	cmovg eax, ecx
END_SNIPPET cmov32_rr

SNIPPET cmov16_rr, F_ALL
	cmovo ax, bx
	cmovno cx, bx
	cmovb dx, bx
	cmovae si, bx
	cmove di, bx
	cmovne r8w, bx
	cmovbe r9w, bx
	cmova r10w, bx
	cmovs r11w, bx
	cmovns r12w, bx
	cmovp r13w, bx
	cmovnp r14w, bx
	cmovl r15w, bx
	cmovge bp, bx
	cmovle bx, ax
	cmovg ax, cx
END_SNIPPET cmov16_rr

SNIPPET cmov_mem, F_ALL
	mov rbx, P
	cmovo rax, [rbx]
	cmovno ecx, [rbx + 8]
	cmovc dx, [rbx + 0xfff - 0x100]
	cmovnc esi, [rbx + 3]
	cmovz rdi, [rbx + 5]
	cmovnz r8d, [rbx + 7]
	cmovs r9, [rbx + 9]
	cmovns r10d, [rbx + 11]
END_SNIPPET cmov_mem

SNIPPET cmov_false_still_faults, F_ALL
	mov rbx, DT_DATA + DT_DATA_SIZE + 0x100
	cmp eax, eax
	cmovne rax, [rbx]
END_SNIPPET cmov_false_still_faults

SNIPPET cmov_after_cmp, F_ALL
	cmp rax, rbx
	ALL_CC cmov, rcx, rdx
	cmp esi, edi
	ALL_CC cmov, r8d, r9d
	cmp al, al
	ALL_CC cmov, r10, r11
END_SNIPPET cmov_after_cmp

SNIPPET setcc_reg, F_ALL
	seto al
	setno ah
	setb bl
	setae bh
	sete cl
	setne ch
	setbe dl
	seta dh
	sets sil
	setns dil
	setp r8b
	setnp r9b
	setl r10b
	setge r11b
	setle r12b
	setg r13b
END_SNIPPET setcc_reg

SNIPPET setcc_mem, F_ALL
	mov rbx, P
	seto [rbx]
	setno [rbx + 1]
	setb [rbx + 2]
	setae [rbx + 3]
	sete [rbx + 4]
	setne [rbx + 5]
	setbe [rbx + 6]
	seta [rbx + 7]
	sets [rbx + 8]
	setns [rbx + 9]
	setp [rbx + 10]
	setnp [rbx + 11]
	setl [rbx + 12]
	setge [rbx + 13]
	setle [rbx + 14]
	setg [rbx + 0xfff - 0x100]
END_SNIPPET setcc_mem

SNIPPET setcc_after_sub, F_ALL
	sub rax, rbx
	seta cl
	setg ch
	setl dl
	setbe dh
	sub ax, ax
	sete sil
	setle dil
	setp r8b
END_SNIPPET setcc_after_sub

SNIPPET xlat_forms, F_ALL
	mov rbx, P
	xlatb
	mov r8, rax
	mov ebx, DT_DATA + 0x2f80
	mov rcx, 0x1234000000000000
	or rbx, rcx
	.byte 0x67, 0xd7                  /* xlat with ebx: upper half of rbx ignored */
END_SNIPPET xlat_forms
