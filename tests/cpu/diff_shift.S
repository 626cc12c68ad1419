/*
 * Differential tests for shifts and rotates (cpu/shift.c): SHL/SAL, SHR, SAR, ROL, ROR, RCL, RCR at
 * every size, by 1 (D0/D1), by an immediate (C0/C1, including C1 with count 1) and by CL, on
 * registers (AH..BH included) and memory (page-crossing too), with counts 0, 1, width-1, width,
 * width+1, 31, 32, 33, 63, 64 and 255, and random CL; SHLD/SHRD likewise. RCL/RCR take CF from the
 * random flags.
 *
 * The flags compared follow the SDM: all when the masked count is 0 (nothing may change); for
 * shifts AF is undefined, OF is undefined unless the count is 1 and CF of SHL/SHR is undefined
 * once the count reaches the operand width; rotates leave SF/ZF/PF/AF alone and define OF only
 * for a count of 1. SHLD/SHRD with a 16-bit operand and a count above 16 are undefined: not used.
 */
#include "snippet.h"

/*
 * T(name, flags, instructions...): a snippet in one line, ';' separating instructions. A C macro,
 * not an assembler one: gas splits a macro call's line at ';' before it expands the macro, which
 * would leave all but the first instruction outside the snippet.
 */
#define T(name, fl, ...) SNIPPET name, fl; __VA_ARGS__; END_SNIPPET name

#define SZPC 0x0c5 /* SF ZF PF CF */
#define SZP 0x0c4
#define NO_AF 0x8c5
#define NO_OF 0x0d5

/* S(kind, name, width, count, instructions...): a snippet whose flags mask follows from the
 * instruction kind (0 SHL/SHR, 1 SAR, 2 rotates) and the count; SHF_OPEN picks it. */
#define S(kind, name, w, cnt, ...) SHF_OPEN kind, name, w, cnt; __VA_ARGS__; END_SNIPPET name
.macro SHF_OPEN kind, name, w, cnt
	.if ((\cnt) & (((\w) / 64) * 32 + 31)) == 0
		SNIPPET \name, F_ALL
	.elseif \kind == 2
		.if ((\cnt) & (((\w) / 64) * 32 + 31)) == 1
			SNIPPET \name, F_ALL
		.else
			SNIPPET \name, NO_OF
		.endif
	.elseif ((\cnt) & (((\w) / 64) * 32 + 31)) == 1
		SNIPPET \name, NO_AF
	.elseif (((\cnt) & (((\w) / 64) * 32 + 31)) >= (\w)) && (\kind == 0)
		SNIPPET \name, SZP
	.else
		SNIPPET \name, SZPC
	.endif
.endm

.macro SHIFTS op, kind
	.irp cnt, 0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 255
	S(\kind, \op\()_r8_i\cnt, 8, \cnt, \op bl, \cnt)
	S(\kind, \op\()_r16_i\cnt, 16, \cnt, \op dx, \cnt)
	S(\kind, \op\()_r32_i\cnt, 32, \cnt, \op esi, \cnt)
	S(\kind, \op\()_r64_i\cnt, 64, \cnt, \op r9, \cnt)
	.endr
	.irp cnt, 0, 1, 7, 8, 9, 16, 17, 31, 32, 63, 64, 65, 200
	S(\kind, \op\()_r8h_cl\cnt, 8, \cnt, mov cl, \cnt; \op ah, cl)
	S(\kind, \op\()_r64_cl\cnt, 64, \cnt, mov ecx, \cnt; \op rdi, cl)
	.endr
	.irp cnt, 1, 5, 17
	S(\kind, \op\()_r16_cl\cnt, 16, \cnt, mov ecx, \cnt; \op r10w, cl)
	S(\kind, \op\()_r32_cl\cnt, 32, \cnt, mov ecx, \cnt; \op r11d, cl)
	.endr
	/* random CL */
	S(\kind, \op\()_r8_clrand, 8, 17, \op r12b, cl)
	S(\kind, \op\()_r16_clrand, 16, 17, \op r12w, cl)
	S(\kind, \op\()_r32_clrand, 32, 2, \op r12d, cl)
	S(\kind, \op\()_r64_clrand, 64, 2, \op r12, cl)
	/* memory, page-crossing where the size allows */
	S(\kind, \op\()_m8_1, 8, 1, mov rsi, DT_DATA + 0x2fff; \op byte ptr [rsi], 1)
	S(\kind, \op\()_m16_3, 16, 3, mov rsi, DT_DATA + 0xfff; \op word ptr [rsi], 3)
	S(\kind, \op\()_m32_1, 32, 1, mov rsi, DT_DATA + 0x1ffd; \op dword ptr [rsi], 1)
	S(\kind, \op\()_m32_30, 32, 30, mov rsi, DT_DATA + 0x100; \op dword ptr [rsi + 0x10], 30)
	S(\kind, \op\()_m64_63, 64, 63, mov rsi, DT_DATA + 0xffb; \op qword ptr [rsi], 63)
	S(\kind, \op\()_m64_0, 64, 0, mov rsi, DT_DATA + 0xffb; \op qword ptr [rsi], 0)
	S(\kind, \op\()_m8_cl9, 8, 9, mov cl, 9; mov rsi, DT_DATA + 0x77; \op byte ptr [rsi], cl)
	S(\kind, \op\()_m16_cl16, 16, 16, mov cl, 16; mov rsi, DT_DATA + 0x1fff; \op word ptr [rsi], cl)
	S(\kind, \op\()_m32_clrand, 32, 2, mov rsi, DT_DATA + 0x2ffc; \op dword ptr [rsi], cl)
	S(\kind, \op\()_m64_clrand, 64, 2, and rsi, 0x2ff0; add rsi, DT_DATA; \op qword ptr [rsi + 8], cl)
.endm

SHIFTS shl, 0
SHIFTS shr, 0
SHIFTS sar, 1
SHIFTS rol, 2
SHIFTS ror, 2
SHIFTS rcl, 2
SHIFTS rcr, 2

/* The C1 /r ib encoding with a count of 1 (assemblers pick D1) and SAL's /6 alias of SHL. */
T(shl_c1_1, NO_AF, .byte 0xc1, 0xe6, 0x01)
T(shr_c1_1, NO_AF, .byte 0xc1, 0xee, 0x01)
T(sar_c1_1, NO_AF, .byte 0xc1, 0xfe, 0x01)
T(rol_c1_1, F_ALL, .byte 0xc1, 0xc6, 0x01)
T(rcr_c0_1, F_ALL, .byte 0xc0, 0xde, 0x01)
T(sal6_d1, NO_AF, .byte 0xd1, 0xf6)
T(sal6_d3_64, SZPC, .byte 0x48, 0xd3, 0xf6)
T(sal6_c0, SZPC, .byte 0xc0, 0xf3, 0x03)

/* SAR of known negative/positive values, SHR/SHL across the sign, rotates of patterns. */
T(sar_neg_big, SZPC, mov rax, 0x8000000000000001; sar rax, 63)
T(sar_neg8_big, SZPC, mov al, 0x81; mov cl, 20; sar al, cl)
T(sar_pos16_big, SZPC, mov ax, 0x7001; mov cl, 31; sar ax, cl)
T(shl_to_zero, SZPC, mov eax, 0x80000000; shl eax, 1)
T(shl_one_of, NO_AF, mov eax, 0x40000000; shl eax, 1)
T(shr_one_of, NO_AF, mov rax, 0x8000000000000000; shr rax, 1)
T(rol_one_pattern, F_ALL, mov al, 0x81; rol al, 1)
T(ror_one_pattern, F_ALL, mov al, 0x81; ror al, 1)
T(ror_one_pattern16, F_ALL, mov ax, 0x4000; ror ax, 1)
T(rcl_chain, NO_OF, stc; rcl rax, 1; rcl rbx, 1; rcl ecx, 1; rcl dx, 1; rcl sil, 1; rcl rdi, 5)
T(rcr_chain, NO_OF, clc; rcr rax, 1; rcr rbx, 1; rcr ecx, 1; rcr dx, 1; rcr sil, 1; rcr rdi, 5)
T(rcl_8_by9, NO_OF, mov cl, 9; rcl bl, cl)
T(rcl_8_by18, NO_OF, mov cl, 18; rcl bl, cl)
T(rcr_16_by17, NO_OF, mov cl, 17; rcr bx, cl)
T(rcr_16_by34, NO_OF, mov cl, 31; rcr bx, cl)
T(rol_8_by8, NO_OF, rol bl, 8)
T(ror_16_by16, NO_OF, ror bx, 16)
T(rol_8_by24, NO_OF, mov cl, 24; rol bl, cl)

/* ---- SHLD / SHRD ---- */
#define D(op, name, w, cnt, ...) DSH_OPEN name, w, cnt; __VA_ARGS__; END_SNIPPET name
.macro DSH_OPEN name, w, cnt
	.if ((\cnt) & (((\w) / 64) * 32 + 31)) == 0
		SNIPPET \name, F_ALL
	.elseif ((\cnt) & (((\w) / 64) * 32 + 31)) == 1
		SNIPPET \name, NO_AF
	.else
		SNIPPET \name, SZPC
	.endif
.endm

.macro DSHIFTS op
	.irp cnt, 0, 1, 2, 8, 15, 16
	D(\op, \op\()_r16_i\cnt, 16, \cnt, \op ax, bx, \cnt)
	D(\op, \op\()_r16_cl\cnt, 16, \cnt, mov cl, \cnt; \op r8w, r9w, cl)
	.endr
	.irp cnt, 0, 1, 2, 16, 31, 32, 33, 63, 255
	D(\op, \op\()_r32_i\cnt, 32, \cnt, \op edx, esi, \cnt)
	D(\op, \op\()_r64_i\cnt, 64, \cnt, \op rdx, rdi, \cnt)
	D(\op, \op\()_r64_cl\cnt, 64, \cnt, mov cl, \cnt; \op r10, r11, cl)
	.endr
	.irp cnt, 1, 31, 32, 33
	D(\op, \op\()_r32_cl\cnt, 32, \cnt, mov cl, \cnt; \op r12d, r13d, cl)
	.endr
	D(\op, \op\()_r32_clrand, 32, 2, \op r14d, r15d, cl)
	D(\op, \op\()_r64_clrand, 64, 2, \op r14, r15, cl)
	D(\op, \op\()_r16_clrand, 16, 2, and cl, 15; \op r14w, r15w, cl)
	D(\op, \op\()_r64_same, 64, 2, \op rax, rax, 7)
	D(\op, \op\()_m16_cross, 16, 5, mov rsi, DT_DATA + 0xfff; \op [rsi], bx, 5)
	D(\op, \op\()_m32_cross, 32, 1, mov rsi, DT_DATA + 0xffd; \op [rsi], ebx, 1)
	D(\op, \op\()_m64_cross, 64, 40, mov rsi, DT_DATA + 0x1ffa; \op [rsi], rbx, 40)
	D(\op, \op\()_m64_clrand, 64, 2, and rsi, 0x2ff0; add rsi, DT_DATA; \op [rsi], rbx, cl)
	D(\op, \op\()_m32_cl0, 32, 0, mov cl, 32; mov rsi, DT_DATA + 0x200; \op [rsi], ebx, cl)
.endm

DSHIFTS shld
DSHIFTS shrd
