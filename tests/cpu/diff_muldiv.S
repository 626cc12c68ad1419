/*
 * Differential tests for multiplication and division (cpu/muldiv.c): MUL and one-operand IMUL at
 * every size, two- and three-operand IMUL (imm8 and full immediates), DIV and IDIV with register
 * and memory (page-crossing) divisors, from random operands (which make #DE by quotient overflow
 * about half the time) and from constructed ones: no overflow, 128-bit dividends, divide by zero,
 * the most negative dividend divided by -1, and quotients exactly at the limits.
 *
 * MUL/IMUL define only CF and OF; DIV/IDIV define no flag at all.
 */
#include "snippet.h"

/*
 * T(name, flags, instructions...): a snippet in one line, ';' separating instructions. A C macro,
 * not an assembler one: gas splits a macro call's line at ';' before it expands the macro, which
 * would leave all but the first instruction outside the snippet.
 */
#define T(name, fl, ...) SNIPPET name, fl; __VA_ARGS__; END_SNIPPET name

#define CO 0x801 /* CF OF */

/* ---- MUL / one-operand IMUL ---- */
.macro MUL1 op
T(\op\()_r8, CO, \op bl)
T(\op\()_r8_high, CO, \op ch)
T(\op\()_r8_al, CO, \op al)
T(\op\()_r8_ah, CO, \op ah)
T(\op\()_r8_rex, CO, \op r9b)
T(\op\()_r16, CO, \op cx)
T(\op\()_r16_dx, CO, \op dx)
T(\op\()_r32, CO, \op esi)
T(\op\()_r32_eax, CO, \op eax)
T(\op\()_r64, CO, \op r9)
T(\op\()_r64_rdx, CO, \op rdx)
T(\op\()_m8, CO, mov rsi, DT_DATA + 0x2fff; \op byte ptr [rsi])
T(\op\()_m16, CO, mov rsi, DT_DATA + 0xfff; \op word ptr [rsi])
T(\op\()_m32, CO, mov rsi, DT_DATA + 0x1ffe; \op dword ptr [rsi])
T(\op\()_m64, CO, mov rsi, DT_DATA + 0xffd; \op qword ptr [rsi])
/* small operands: no overflow, and results just at the edge */
T(\op\()_r8_small, CO, and eax, 0x0f; and ebx, 0x0f; \op bl)
T(\op\()_r16_small, CO, and eax, 0xff; and ecx, 0x7f; \op cx)
T(\op\()_r32_small, CO, and eax, 0xffff; and esi, 0x7fff; \op esi)
T(\op\()_r64_small, CO, mov eax, eax; and r9d, 0x7fffffff; \op r9)
T(\op\()_r8_signed_small, CO, sar eax, 28; sar ebx, 28; \op bl)
T(\op\()_r16_signed_small, CO, sar eax, 24; sar ecx, 24; \op cx)
T(\op\()_r32_signed_small, CO, sar eax, 16; sar esi, 16; \op esi)
T(\op\()_r64_signed_small, CO, sar rax, 32; sar r9, 32; \op r9)
T(\op\()_r64_minus1, CO, mov rax, -1; mov rcx, -1; \op rcx)
T(\op\()_r64_min, CO, mov rax, 0x8000000000000000; mov rcx, -1; \op rcx)
T(\op\()_r64_min_one, CO, mov rax, 0x8000000000000000; mov rcx, 1; \op rcx)
T(\op\()_r32_min, CO, mov eax, 0x80000000; mov ecx, 1; \op ecx)
T(\op\()_r16_edge, CO, mov ax, 0x100; mov cx, 0x80; \op cx)
T(\op\()_r8_edge, CO, mov al, 0x10; mov cl, 0x08; \op cl)
T(\op\()_r8_edge2, CO, mov al, 0xf0; mov cl, 0x08; \op cl)
.endm
MUL1 mul
MUL1 imul

/* ---- two- and three-operand IMUL ---- */
T(imul2_r16, CO, imul cx, dx)
T(imul2_r32, CO, imul esi, edi)
T(imul2_r64, CO, imul r8, r9)
T(imul2_r64_same, CO, imul rax, rax)
T(imul2_r32_same, CO, imul r10d, r10d)
T(imul2_m16, CO, mov rsi, DT_DATA + 0x1fff; imul bx, [rsi])
T(imul2_m32, CO, mov rsi, DT_DATA + 0xffd; imul ebx, [rsi])
T(imul2_m64, CO, and rsi, 0x2ff0; add rsi, DT_DATA; imul rbx, [rsi + 8])
T(imul2_r16_small, CO, sar ecx, 24; sar edx, 24; imul cx, dx)
T(imul2_r32_small, CO, sar esi, 16; sar edi, 16; imul esi, edi)
T(imul2_r64_small, CO, sar r8, 32; sar r9, 32; imul r8, r9)
T(imul2_r64_edge, CO, mov r8, 0x4000000000000000; mov r9, 2; imul r8, r9)
T(imul2_r64_edge_neg, CO, mov r8, 0x4000000000000000; mov r9, -2; imul r8, r9)
T(imul2_r32_edge, CO, mov r8d, 0x40000000; mov r9d, -2; imul r8d, r9d)
T(imul2_r16_edge, CO, mov r8w, 0x4000; mov r9w, 2; imul r8w, r9w)
T(imul3_r16_i8, CO, imul cx, dx, -7)
T(imul3_r16_i16, CO, imul cx, dx, 0x7fff)
T(imul3_r32_i8, CO, imul esi, edi, 0x7f)
T(imul3_r32_i32, CO, imul esi, edi, -0x12345678)
T(imul3_r64_i8, CO, imul r8, r9, -128)
T(imul3_r64_i32, CO, imul r8, r9, 0x12345678)
T(imul3_r64_same, CO, imul rax, rax, 3)
T(imul3_m16, CO, mov rsi, DT_DATA + 0xfff; imul bx, [rsi], 1000)
T(imul3_m32, CO, mov rsi, DT_DATA + 0x1ffd; imul ebx, [rsi], -3)
T(imul3_m64, CO, mov rsi, DT_DATA + 0x2ff8; imul rbx, [rsi], 0x7fffffff)
T(imul3_r32_small, CO, sar edi, 20; imul esi, edi, 100)
T(imul3_r64_small, CO, sar r9, 40; imul r8, r9, -100000)
T(imul3_r16_one, CO, imul r11w, r12w, 1)
T(imul3_r64_zero, CO, imul r11, r12, 0)

/* ---- DIV ---- */
T(div_r8, 0, div bl)
T(div_r8_high, 0, div ch)
T(div_r8_ah, 0, div ah)
T(div_r16, 0, div cx)
T(div_r32, 0, div esi)
T(div_r64, 0, div r9)
T(div_m8, 0, mov rsi, DT_DATA + 0x77; div byte ptr [rsi])
T(div_m16, 0, mov rsi, DT_DATA + 0xfff; div word ptr [rsi])
T(div_m32, 0, mov rsi, DT_DATA + 0x1ffd; div dword ptr [rsi])
T(div_m64, 0, mov rsi, DT_DATA + 0xffa; div qword ptr [rsi])
T(div_r8_ok, 0, movzx eax, al; or bl, 1; div bl)
T(div_r16_ok, 0, xor edx, edx; or cx, 1; div cx)
T(div_r32_ok, 0, xor edx, edx; or esi, 1; div esi)
T(div_r64_ok, 0, xor edx, edx; or r9, 1; div r9)
T(div_r8_wide, 0, or bl, 0x80; mov ah, bl; shr ah, 1; div bl)
T(div_r16_wide, 0, or cx, 0x8000; mov dx, cx; shr dx, 1; div cx)
T(div_r32_wide, 0, or esi, 0x80000000; mov edx, esi; shr edx, 1; div esi)
T(div_r64_wide, 0, bts r9, 63; mov rdx, r9; shr rdx, 1; div r9)
T(div_r64_wide_small, 0, mov rdx, r9; shr rdx, 3; or r9, 1; div r9)
T(div_r64_wide_max, 0, mov rdx, r9; dec rdx; div r9)
T(div_r64_hi_eq, 0, mov rdx, r9; div r9)
T(div_r8_zero, 0, xor ebx, ebx; div bl)
T(div_r16_zero, 0, xor ecx, ecx; div cx)
T(div_r32_zero, 0, xor esi, esi; div esi)
T(div_r64_zero, 0, xor r9d, r9d; div r9)
T(div_m64_zero, 0, mov rsi, DT_DATA + 0x100; mov qword ptr [rsi], 0; xor edx, edx; div qword ptr [rsi])
T(div_r8_max_q, 0, mov ax, 0x1ff; mov bl, 2; div bl)
T(div_r8_over_q, 0, mov ax, 0x200; mov bl, 2; div bl)
T(div_r32_max_q, 0, mov edx, 1; mov eax, -1; mov ecx, 2; div ecx)
T(div_r32_over_q, 0, mov edx, 2; xor eax, eax; mov ecx, 2; div ecx)
T(div_r64_one, 0, mov r9, 1; xor edx, edx; div r9)

/* ---- IDIV ---- */
T(idiv_r8, 0, idiv bl)
T(idiv_r8_high, 0, idiv ch)
T(idiv_r16, 0, idiv cx)
T(idiv_r32, 0, idiv esi)
T(idiv_r64, 0, idiv r9)
T(idiv_m8, 0, mov rsi, DT_DATA + 0x2fff; idiv byte ptr [rsi])
T(idiv_m16, 0, mov rsi, DT_DATA + 0xfff; idiv word ptr [rsi])
T(idiv_m32, 0, mov rsi, DT_DATA + 0xffe; idiv dword ptr [rsi])
T(idiv_m64, 0, mov rsi, DT_DATA + 0x1ffc; idiv qword ptr [rsi])
T(idiv_r8_sext, 0, cbw; or bl, 1; idiv bl)
T(idiv_r16_sext, 0, cwd; or cx, 1; idiv cx)
T(idiv_r32_sext, 0, cdq; or esi, 1; idiv esi)
T(idiv_r64_sext, 0, cqo; or r9, 1; idiv r9)
T(idiv_r8_sext_small, 0, cbw; sar bl, 5; idiv bl)
T(idiv_r64_sext_small, 0, cqo; sar r9, 50; idiv r9)
T(idiv_r16_wide, 0, mov dx, cx; sar dx, 2; idiv cx)
T(idiv_r32_wide, 0, mov edx, esi; sar edx, 2; idiv esi)
T(idiv_r64_wide, 0, mov rdx, r9; sar rdx, 2; idiv r9)
T(idiv_r64_wide_neg, 0, mov rdx, r9; sar rdx, 2; not rdx; idiv r9)
T(idiv_r8_zero, 0, xor ebx, ebx; idiv bl)
T(idiv_r16_zero, 0, xor ecx, ecx; idiv cx)
T(idiv_r32_zero, 0, xor esi, esi; idiv esi)
T(idiv_r64_zero, 0, xor r9d, r9d; cqo; idiv r9)
T(idiv_r8_min_m1, 0, mov ax, 0xff80; mov bl, -1; idiv bl)
T(idiv_r16_min_m1, 0, mov ax, 0x8000; cwd; mov cx, -1; idiv cx)
T(idiv_r32_min_m1, 0, mov eax, 0x80000000; cdq; mov esi, -1; idiv esi)
T(idiv_r64_min_m1, 0, mov rax, 0x8000000000000000; cqo; mov r9, -1; idiv r9)
T(idiv_r64_m1, 0, cqo; mov r9, -1; idiv r9)
T(idiv_r8_q_min, 0, mov ax, 0xff00; mov bl, 2; idiv bl)
T(idiv_r8_q_max, 0, mov ax, 0x00fe; mov bl, 2; idiv bl)
T(idiv_r8_q_over, 0, mov ax, 0x0100; mov bl, 2; idiv bl)
T(idiv_r8_q_under, 0, mov ax, 0xfefe; mov bl, 2; idiv bl)
T(idiv_r16_q_min, 0, mov dx, -1; mov ax, 0x8000; mov cx, 1; idiv cx)
T(idiv_r32_q_min, 0, mov edx, 0; mov eax, 0x80000000; mov esi, -1; idiv esi)
T(idiv_r64_q_min, 0, xor edx, edx; mov rax, 0x8000000000000000; mov r9, -1; idiv r9)
T(idiv_r64_q_over, 0, xor edx, edx; mov rax, 0x8000000000000000; mov r9, 1; idiv r9)
T(idiv_r64_q_max, 0, xor edx, edx; mov rax, 0x7fffffffffffffff; mov r9, 1; idiv r9)
T(idiv_r64_big_neg, 0, mov rdx, -0x4000000000000000; xor eax, eax; mov r9, 0x7fffffffffffffff; idiv r9)
T(idiv_r64_minmin, 0, mov rdx, 0x8000000000000000; xor eax, eax; mov r9, -1; idiv r9)
T(idiv_r64_rem_sign, 0, mov rax, -7; cqo; mov r9, 2; idiv r9)
T(idiv_r32_rem_sign, 0, mov eax, 7; cdq; mov esi, -2; idiv esi)
