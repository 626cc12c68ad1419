/*
 * Differential tests for the integer ALU family (cpu/alu.c): ADD, OR, ADC, SBB, AND, SUB, XOR, CMP,
 * TEST in every operand form and size (register, the short accumulator forms, sign-extended imm8,
 * full immediates, memory in both directions, page-crossing memory, LOCK), INC, DEC, NEG, NOT,
 * XADD, CMPXCHG, CMPXCHG8B/16B (with the 16-byte alignment #GP), the flag instructions, and #UD for
 * the BCD instructions in 64-bit mode. One instruction under test per snippet, so the flags
 * compared are that instruction's; ADC/SBB take CF from the random flags.
 */
#include "snippet.h"

/*
 * T(name, flags, instructions...): a snippet in one line, ';' separating instructions. A C macro,
 * not an assembler one: gas splits a macro call's line at ';' before it expands the macro, which
 * would leave all but the first instruction outside the snippet.
 */
#define T(name, fl, ...) SNIPPET name, fl; __VA_ARGS__; END_SNIPPET name

/* Points rsi at a random 16-byte aligned spot in the data (room for 16 bytes). */
.macro RANDPTR reg=rsi
	and \reg, 0x2ff0
	add \reg, DT_DATA
.endm

.macro BIN op, lockable=1
T(\op\()_rr8, F_ALL, \op al, bl)
T(\op\()_rr8_high, F_ALL, \op ah, ch)
T(\op\()_rr8_mixed, F_ALL, \op dh, bl)
T(\op\()_rr8_rex, F_ALL, \op sil, r9b)
T(\op\()_rr8_same, F_ALL, \op r10b, r10b)
T(\op\()_rr16, F_ALL, \op cx, r11w)
T(\op\()_rr16_same, F_ALL, \op dx, dx)
T(\op\()_rr32, F_ALL, \op edx, r12d)
T(\op\()_rr32_same, F_ALL, \op edi, edi)
T(\op\()_rr64, F_ALL, \op r13, rbp)
T(\op\()_rr64_same, F_ALL, \op rax, rax)
/* small values so the carries and borrows at the top and AF come out both ways */
T(\op\()_rr8_small, F_ALL, and eax, 0x1f1f; and ebx, 0x0f0f; \op al, bl)
T(\op\()_rr32_edge, F_ALL, mov ecx, 0x7fffffff; \op ecx, 1)
T(\op\()_rr64_edge, F_ALL, mov rcx, 0x8000000000000000; mov rdx, -1; \op rcx, rdx)
T(\op\()_rr16_edge, F_ALL, mov cx, 0x8000; \op cx, cx)

T(\op\()_acc8, F_ALL, \op al, 0x85)
T(\op\()_acc16, F_ALL, \op ax, 0x8001)
T(\op\()_acc32, F_ALL, \op eax, 0x80000000)
T(\op\()_acc64, F_ALL, \op rax, 0x7fffffff)
T(\op\()_acc64_neg, F_ALL, \op rax, -0x7000000)
T(\op\()_ri8, F_ALL, \op bl, 0x7f)
T(\op\()_ri8_high, F_ALL, \op bh, 0xff)
T(\op\()_ri8_rex, F_ALL, \op r14b, 0x80)
T(\op\()_ri16, F_ALL, \op cx, 0x1234)
T(\op\()_ri16_s8, F_ALL, \op dx, -3)
T(\op\()_ri32, F_ALL, \op esi, 0x89abcdef)
T(\op\()_ri32_s8, F_ALL, \op edi, 0x7f)
T(\op\()_ri64, F_ALL, \op r9, -0x12345678)
T(\op\()_ri64_pos, F_ALL, \op r9, 0x12345678)
T(\op\()_ri64_s8, F_ALL, \op r10, -128)
T(\op\()_ri64_one, F_ALL, \op r11, 1)
T(\op\()_ri32_zero, F_ALL, \op r11d, 0)

T(\op\()_rm8, F_ALL, mov rsi, DT_DATA + 0x123; \op al, [rsi])
T(\op\()_rm8_high, F_ALL, mov rsi, DT_DATA + 0x17; \op ch, [rsi])
T(\op\()_rm16, F_ALL, mov rsi, DT_DATA + 0x200; \op cx, [rsi + 0x20])
T(\op\()_rm16_cross, F_ALL, mov rsi, DT_DATA + 0xfff; \op r8w, [rsi])
T(\op\()_rm32, F_ALL, mov rsi, DT_DATA; mov edi, 0x55; \op edx, [rsi + rdi*4 + 8])
T(\op\()_rm32_cross, F_ALL, mov rsi, DT_DATA + 0xffd; \op edx, [rsi])
T(\op\()_rm64, F_ALL, \op r8, [DT_DATA + 0x2000])
T(\op\()_rm64_cross, F_ALL, mov rbx, DT_DATA + 0x1ffb; \op r15, [rbx])
T(\op\()_rm64_rand, F_ALL, RANDPTR; \op rax, [rsi + 8])

T(\op\()_mr8, F_ALL, mov rdi, DT_DATA + 0x321; \op [rdi], bl)
T(\op\()_mr8_high, F_ALL, mov rdi, DT_DATA + 0x2fff; \op [rdi], ah)
T(\op\()_mr16, F_ALL, mov rdi, DT_DATA + 0x40; \op [rdi], dx)
T(\op\()_mr16_cross, F_ALL, mov rdi, DT_DATA + 0x1fff; \op [rdi], r9w)
T(\op\()_mr32, F_ALL, mov rdi, DT_DATA + 0x1000; \op [rdi - 4], eax)
T(\op\()_mr32_cross, F_ALL, mov rdi, DT_DATA + 0xffe; \op [rdi], ecx)
T(\op\()_mr64, F_ALL, mov rdi, DT_DATA + 0x800; \op [rdi], r12)
T(\op\()_mr64_cross, F_ALL, mov rdi, DT_DATA + 0xffd; \op [rdi], rsi)
T(\op\()_mr64_rand, F_ALL, RANDPTR rdi; \op [rdi], rdx)
.endm

/* Memory-immediate forms; compiled separately so 'op' can be a size-suffixed instruction. */
.macro BINMI op
T(\op\()_mi8, F_ALL, mov rsi, DT_DATA + 0x10; \op byte ptr [rsi], 0x9c)
T(\op\()_mi16, F_ALL, mov rsi, DT_DATA + 0xfff; \op word ptr [rsi], 0x4321)
T(\op\()_mi16_s8, F_ALL, mov rsi, DT_DATA + 0x22; \op word ptr [rsi], -2)
T(\op\()_mi32, F_ALL, mov rsi, DT_DATA + 0xffe; \op dword ptr [rsi], 0x87654321)
T(\op\()_mi32_s8, F_ALL, mov rsi, DT_DATA + 0x1ff; \op dword ptr [rsi], 0x40)
T(\op\()_mi64, F_ALL, mov rsi, DT_DATA + 0x1ffc; \op qword ptr [rsi], -0x789abcd)
T(\op\()_mi64_s8, F_ALL, mov rsi, DT_DATA + 0x2ff8; \op qword ptr [rsi], 1)
.endm

.macro BINLOCK op
T(lock_\op\()_mr8, F_ALL, mov rdi, DT_DATA + 0x99; lock \op [rdi], cl)
T(lock_\op\()_mr16, F_ALL, mov rdi, DT_DATA + 0x9a; lock \op [rdi], cx)
T(lock_\op\()_mr32, F_ALL, mov rdi, DT_DATA + 0xffd; lock \op [rdi], ecx)
T(lock_\op\()_mr64, F_ALL, RANDPTR rdi; lock \op [rdi], rcx)
T(lock_\op\()_mi32, F_ALL, mov rdi, DT_DATA + 0x400; lock \op dword ptr [rdi], 0x11223344)
T(lock_\op\()_mi64_s8, F_ALL, mov rdi, DT_DATA + 0x1ff9; lock \op qword ptr [rdi], -5)
.endm

.irp op, add, or, adc, sbb, and, sub, xor, cmp
BIN \op
BINMI \op
.endr
.irp op, add, or, adc, sbb, and, sub, xor
BINLOCK \op
.endr

/* TEST has no reg,mem form of its own (the assembler swaps it) and no imm8 sign-extended form. */
T(test_rr8, F_ALL, test al, bl)
T(test_rr8_high, F_ALL, test ah, ch)
T(test_rr8_rex, F_ALL, test sil, r9b)
T(test_rr16, F_ALL, test cx, r11w)
T(test_rr32, F_ALL, test edx, r12d)
T(test_rr32_same, F_ALL, test edi, edi)
T(test_rr64, F_ALL, test r13, rbp)
T(test_rr64_same, F_ALL, test rax, rax)
T(test_rr64_zero, F_ALL, xor eax, eax; test rax, rax)
T(test_acc8, F_ALL, test al, 0x85)
T(test_acc16, F_ALL, test ax, 0x8001)
T(test_acc32, F_ALL, test eax, 0x80000000)
T(test_acc64, F_ALL, test rax, -0x7000000)
T(test_ri8, F_ALL, test bl, 0x7f)
T(test_ri8_high, F_ALL, test bh, 0x81)
T(test_ri16, F_ALL, test cx, 0x8421)
T(test_ri32, F_ALL, test esi, 0x89abcdef)
T(test_ri64, F_ALL, test r9, -0x12345678)
T(test_mr8, F_ALL, mov rdi, DT_DATA + 0x321; test [rdi], bl)
T(test_mr16, F_ALL, mov rdi, DT_DATA + 0x1fff; test [rdi], r9w)
T(test_mr32, F_ALL, mov rdi, DT_DATA + 0xffe; test [rdi], ecx)
T(test_mr64, F_ALL, RANDPTR rdi; test [rdi], rdx)
T(test_mi8, F_ALL, mov rsi, DT_DATA + 0x10; test byte ptr [rsi], 0x9c)
T(test_mi16, F_ALL, mov rsi, DT_DATA + 0xfff; test word ptr [rsi], 0x4321)
T(test_mi32, F_ALL, mov rsi, DT_DATA + 0xffe; test dword ptr [rsi], 0x87654321)
T(test_mi64, F_ALL, mov rsi, DT_DATA + 0x1ffc; test qword ptr [rsi], -0x789abcd)

/* RIP-relative memory operands (the snippet runs at DT_CODE; the displacement is to the data). */
SNIPPET add_riprel, F_ALL
1:	add dword ptr [rip + DT_DATA + 0x40 - DT_CODE - (1b - .Lstart_add_riprel) - 7], 5
END_SNIPPET add_riprel
SNIPPET sub_riprel_reg, F_ALL
1:	sub rax, [rip + DT_DATA + 0xffd - DT_CODE - (1b - .Lstart_sub_riprel_reg) - 7]
END_SNIPPET sub_riprel_reg

/* Chains: flags of one feed the next (ADC/SBB carry propagation through a multiword add). */
T(adc_chain, F_ALL, mov rsi, DT_DATA + 0x100; add rax, [rsi]; adc rbx, [rsi + 8]; adc rcx, [rsi + 16]; adc edx, 0; adc dl, dh)
T(sbb_chain, F_ALL, mov rsi, DT_DATA + 0x100; sub [rsi], rax; sbb [rsi + 8], rbx; sbb cx, [rsi + 16]; sbb edx, edx; sbb al, 0)
T(cmp_sbb_mask, F_ALL, cmp rax, rbx; sbb rcx, rcx; cmp edx, esi; sbb edi, edi; cmp al, 0x80; adc r8d, 0)

/* ---- INC, DEC, NEG, NOT ---- */
.macro UNARY op, fl
T(\op\()_r8, \fl, \op al)
T(\op\()_r8_high, \fl, \op bh)
T(\op\()_r8_rex, \fl, \op r12b)
T(\op\()_r16, \fl, \op si)
T(\op\()_r32, \fl, \op edi)
T(\op\()_r64, \fl, \op r8)
T(\op\()_m8, \fl, mov rsi, DT_DATA + 0x2fff; \op byte ptr [rsi])
T(\op\()_m16, \fl, mov rsi, DT_DATA + 0xfff; \op word ptr [rsi])
T(\op\()_m32, \fl, mov rsi, DT_DATA + 0x1ffe; \op dword ptr [rsi])
T(\op\()_m64, \fl, RANDPTR; \op qword ptr [rsi + 4])
T(\op\()_lock_m32, \fl, mov rsi, DT_DATA + 0x1234; lock \op dword ptr [rsi])
T(\op\()_lock_m64, \fl, mov rsi, DT_DATA + 0xffc; lock \op qword ptr [rsi])
/* the boundaries: 0, -1, the sign boundary, and the AF boundary */
T(\op\()_edge0, \fl, xor ecx, ecx; \op ecx)
T(\op\()_edge_m1, \fl, mov rcx, -1; \op rcx)
T(\op\()_edge_min8, \fl, mov cl, 0x80; \op cl)
T(\op\()_edge_max8, \fl, mov cl, 0x7f; \op cl)
T(\op\()_edge_min16, \fl, mov cx, 0x8000; \op cx)
T(\op\()_edge_max16, \fl, mov cx, 0x7fff; \op cx)
T(\op\()_edge_min32, \fl, mov ecx, 0x80000000; \op ecx)
T(\op\()_edge_max32, \fl, mov ecx, 0x7fffffff; \op ecx)
T(\op\()_edge_min64, \fl, mov rcx, 0x8000000000000000; \op rcx)
T(\op\()_edge_max64, \fl, mov rcx, 0x7fffffffffffffff; \op rcx)
T(\op\()_edge_af, \fl, mov dl, 0x0f; \op dl)
T(\op\()_edge_af2, \fl, mov dl, 0x10; \op dl)
.endm
UNARY inc, F_ALL
UNARY dec, F_ALL
UNARY neg, F_ALL
UNARY not, F_ALL

/* ---- XADD ---- */
T(xadd_rr8, F_ALL, xadd al, bl)
T(xadd_rr8_high, F_ALL, xadd ah, ch)
T(xadd_rr16, F_ALL, xadd cx, dx)
T(xadd_rr32, F_ALL, xadd esi, edi)
T(xadd_rr64, F_ALL, xadd r8, r9)
T(xadd_rr64_same, F_ALL, xadd r10, r10)
T(xadd_rr32_same, F_ALL, xadd r10d, r10d)
T(xadd_m8, F_ALL, mov rsi, DT_DATA + 0x77; xadd [rsi], cl)
T(xadd_m16, F_ALL, mov rsi, DT_DATA + 0xfff; xadd [rsi], cx)
T(xadd_m32, F_ALL, mov rsi, DT_DATA + 0xffd; xadd [rsi], ecx)
T(xadd_m64, F_ALL, RANDPTR; xadd [rsi], rcx)
T(xadd_lock_m32, F_ALL, mov rsi, DT_DATA + 0x2ffc; lock xadd [rsi], edx)
T(xadd_lock_m64, F_ALL, mov rsi, DT_DATA + 0xff9; lock xadd [rsi], rdx)
T(xadd_lock_m8_high, F_ALL, mov rsi, DT_DATA + 0xfff; lock xadd [rsi], dh)

/* ---- CMPXCHG: random operands (mostly unequal) and forced equality ---- */
T(cmpxchg_rr8, F_ALL, cmpxchg bl, cl)
T(cmpxchg_rr8_high, F_ALL, cmpxchg bh, ch)
T(cmpxchg_rr16, F_ALL, cmpxchg bx, cx)
T(cmpxchg_rr32, F_ALL, cmpxchg ebx, ecx)
T(cmpxchg_rr64, F_ALL, cmpxchg rbx, rcx)
T(cmpxchg_rr8_eq, F_ALL, mov al, bl; cmpxchg bl, cl)
T(cmpxchg_rr16_eq, F_ALL, mov ax, bx; cmpxchg bx, cx)
T(cmpxchg_rr32_eq, F_ALL, mov rax, rbx; cmpxchg ebx, ecx)
T(cmpxchg_rr64_eq, F_ALL, mov rax, rbx; cmpxchg rbx, rcx)
T(cmpxchg_rr32_acc, F_ALL, cmpxchg eax, ecx)
T(cmpxchg_rr32_acc_src, F_ALL, cmpxchg ecx, eax)
T(cmpxchg_m8, F_ALL, mov rsi, DT_DATA + 0x55; cmpxchg [rsi], dl)
T(cmpxchg_m16, F_ALL, mov rsi, DT_DATA + 0x1fff; cmpxchg [rsi], dx)
T(cmpxchg_m32, F_ALL, mov rsi, DT_DATA + 0xffd; cmpxchg [rsi], edx)
T(cmpxchg_m64, F_ALL, RANDPTR; cmpxchg [rsi], rdx)
T(cmpxchg_m8_eq, F_ALL, mov rsi, DT_DATA + 0x55; mov al, [rsi]; cmpxchg [rsi], dl)
T(cmpxchg_m16_eq, F_ALL, mov rsi, DT_DATA + 0x1fff; mov ax, [rsi]; cmpxchg [rsi], dx)
T(cmpxchg_m32_eq, F_ALL, mov rsi, DT_DATA + 0xffd; mov eax, [rsi]; lock cmpxchg [rsi], edx)
T(cmpxchg_m64_eq, F_ALL, RANDPTR; mov rax, [rsi]; lock cmpxchg [rsi], rdx)
T(cmpxchg_lock_m64, F_ALL, mov rsi, DT_DATA + 0x1ffc; lock cmpxchg [rsi], rdx)

/* CMPXCHG8B/16B change only ZF; the others must survive. */
T(cmpxchg8b_ne, F_ALL, mov rsi, DT_DATA + 0x300; cmpxchg8b [rsi])
T(cmpxchg8b_eq, F_ALL, mov rsi, DT_DATA + 0x300; mov eax, [rsi]; mov edx, [rsi + 4]; cmpxchg8b [rsi])
T(cmpxchg8b_eq_cross, F_ALL, mov rsi, DT_DATA + 0xffd; mov eax, [rsi]; mov edx, [rsi + 4]; lock cmpxchg8b [rsi])
T(cmpxchg8b_ne_cross, F_ALL, mov rsi, DT_DATA + 0x1ffe; lock cmpxchg8b [rsi])
T(cmpxchg8b_half_eq, F_ALL, mov rsi, DT_DATA + 0x300; mov eax, [rsi]; cmpxchg8b [rsi])
T(cmpxchg16b_ne, F_ALL, mov rsi, DT_DATA + 0x1ff0; cmpxchg16b [rsi])
T(cmpxchg16b_eq, F_ALL, RANDPTR; mov rax, [rsi]; mov rdx, [rsi + 8]; lock cmpxchg16b [rsi])
T(cmpxchg16b_half_eq, F_ALL, RANDPTR; mov rdx, [rsi + 8]; cmpxchg16b [rsi])
T(cmpxchg16b_misaligned, F_ALL, mov rsi, DT_DATA + 0x308; cmpxchg16b [rsi])
T(cmpxchg16b_misaligned_eq, F_ALL, mov rsi, DT_DATA + 0x301; mov rax, [rsi]; mov rdx, [rsi + 8]; lock cmpxchg16b [rsi])

/* ---- flag instructions ---- */
T(clc, F_ALL, clc)
T(stc, F_ALL, stc)
T(cmc, F_ALL, cmc)
T(cmc_after_add, F_ALL, add rax, rbx; cmc)
T(stc_after_sub, F_ALL, sub ecx, edx; stc)
T(clc_after_inc, F_ALL, inc r8; clc)
T(lahf, F_ALL, lahf)
T(lahf_after_sub, F_ALL, sub rcx, rdx; lahf)
T(lahf_after_logic, F_ALL, xor ecx, r9d; lahf)
T(sahf, F_ALL, sahf)
T(sahf_after_add, F_ALL, add rax, rdx; sahf)
T(lahf_sahf_roundtrip, F_ALL, dec r11; lahf; mov bl, ah; xor ah, 0xd5; sahf; lahf)
T(cld, F_ALL | F_DF, cld)
T(std_cld, F_ALL | F_DF, std; mov rax, rbx; cld)
T(std_only, F_ALL | F_DF, std)

/* BCD instructions do not exist in 64-bit mode: #UD on both sides. */
T(daa_ud, F_ALL, .byte 0x27)
T(das_ud, F_ALL, .byte 0x2f)
T(aaa_ud, F_ALL, .byte 0x37)
T(aas_ud, F_ALL, .byte 0x3f)
T(aam_ud, F_ALL, .byte 0xd4, 0x0a)
T(aad_ud, F_ALL, .byte 0xd5, 0x0a)
/* LOCK on a register destination or a non-lockable instruction is #UD. */
T(lock_add_reg_ud, F_ALL, .byte 0xf0, 0x01, 0xc0)
T(lock_cmp_mem_ud, F_ALL, mov rsi, DT_DATA; .byte 0xf0, 0x39, 0x06)
