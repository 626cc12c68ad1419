/*
 * Differential tests for the x87 FPU (cpu/x87.c, cpu/x87_arith.c). Each snippet starts from an
 * initialized FPU, loads its operands from a table of interesting 80-bit values (zeros, normals,
 * denormals, pseudo-denormals, infinities, QNaN/SNaN, unsupported encodings, integer and
 * double-precision boundaries) picked by the random registers, or from the random data area for
 * memory operands (32/64-bit floats also come from small tables), then runs the instruction under
 * test. The harness compares the whole x87 state (FCW, FSW with TOP, flags and condition codes,
 * tags, every valid register), RFLAGS, registers, memory and exceptions.
 *
 * Every instruction runs with three control words (suffixes):
 *   _d  the FNINIT default (all masked, 64-bit precision, round to nearest);
 *   _r  random precision and rounding control, all exceptions masked; TOP starts at 5 and the
 *       condition codes are set (FXAM) before the instruction;
 *   _u  random precision, rounding and exception masks, then FWAIT: unmasked exceptions leave
 *       results unwritten and arrive as #MF at the FWAIT.
 */
#include "snippet.h"

/* 32 values of 16 bytes (80-bit value + padding), then 16 floats, then 16 doubles. */
.macro TABLES
	.quad 0, 0                            /* +0 */
	.quad 0, 0x8000                       /* -0 */
	.quad 0x8000000000000000, 0x3fff      /* 1 */
	.quad 0x8000000000000000, 0xbfff      /* -1 */
	.quad 0xc000000000000000, 0x3fff      /* 1.5 */
	.quad 0xa000000000000000, 0xc000      /* -2.5 */
	.quad 0xc90fdaa22168c235, 0x4000      /* pi */
	.quad 0xaaaaaaaaaaaaaaab, 0x3ffd      /* 1/3 */
	.quad 0xffffffffffffffff, 0x7ffe      /* largest finite */
	.quad 0xffffffffffffffff, 0xfffe      /* -largest */
	.quad 0x8000000000000000, 0x0001      /* smallest normal */
	.quad 0x0000000000000001, 0x0000      /* smallest denormal */
	.quad 0x4000000000000000, 0x8000      /* -denormal */
	.quad 0x8000000000000000, 0x0000      /* pseudo-denormal */
	.quad 0x8000000000000000, 0x7fff      /* +inf */
	.quad 0x8000000000000000, 0xffff      /* -inf */
	.quad 0xc000000000000000, 0x7fff      /* QNaN */
	.quad 0xc000000000000000, 0xffff      /* QNaN indefinite */
	.quad 0xa000000000000000, 0x7fff      /* SNaN */
	.quad 0xe123456789abcdef, 0xffff      /* -QNaN with payload */
	.quad 0x123456789abcdef0, 0x4000      /* unnormal */
	.quad 0x0000000000000000, 0x7fff      /* pseudo-infinity */
	.quad 0x8000000000000000, 0x403e      /* 2^63 */
	.quad 0x8000000000000000, 0xc03e      /* -2^63 */
	.quad 0xfffe000000000000, 0x400d      /* 32767 */
	.quad 0x8001000000000000, 0xc00e      /* -32769 */
	.quad 0xcccccccccccccccd, 0x3ffb      /* 0.1 */
	.quad 0xde0b6b3a76400000, 0x403a      /* 1e18 */
	.quad 0x8000000000000000, 0x43ff      /* 2^1024: overflows double */
	.quad 0x8000000000000000, 0x3b00      /* tiny: underflows double */
	.quad 0xfffffffffffffbff, 0x3ffe      /* just below 1 */
	.quad 0x8000000000000400, 0x3fff      /* 1 + half an ulp of double */
	/* floats */
	.long 0, 0x80000000, 0x3f800000, 0xbfc00000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7fa00000
	.long 0x00000001, 0x807fffff, 0x7f7fffff, 0x00800000, 0x4f000000, 0xcf000001, 0x3eaaaaab, 0x47000000
	/* doubles */
	.quad 0, 0x8000000000000000, 0x3ff0000000000000, 0xc004000000000000
	.quad 0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000, 0x7ff4000000000000
	.quad 0x0000000000000001, 0x800fffffffffffff, 0x7fefffffffffffff, 0x0010000000000000
	.quad 0x43e0000000000000, 0xc3e0000000000001, 0x3fd5555555555555, 0x40dfffc000000000
.endm

/* Pushes table entry (reg & 31). */
.macro LOADV r
	mov ecx, \r
	and ecx, 31
	shl ecx, 4
	fld tbyte ptr [rdi + rcx]
.endm

/* [rsi] = a table float / double, or (bit 4 of edx set) the random data already there. */
.macro M32
	test edx, 16
	jnz 3f
	mov ecx, edx
	and ecx, 15
	mov ecx, [rdi + 512 + rcx * 4]
	mov [rsi], ecx
3:
.endm
.macro M64
	test edx, 16
	jnz 3f
	mov ecx, edx
	and ecx, 15
	mov rcx, [rdi + 576 + rcx * 8]
	mov [rsi], rcx
3:
.endm

/* Operand setups. */
.macro L0
.endm
.macro L1
	LOADV eax
.endm
.macro L2
	LOADV ebx
	LOADV eax
.endm
.macro L3
	LOADV ebp
	LOADV ebx
	LOADV eax
.endm
.macro L1M32
	LOADV eax
	M32
.endm
.macro L1M64
	LOADV eax
	M64
.endm
.macro L0M32
	M32
.endm
.macro L0M64
	M64
.endm
/* A full stack: the next push overflows. */
.macro L8
	LOADV eax
	LOADV ebx
	LOADV ebp
	LOADV r8d
	LOADV r9d
	LOADV r10d
	LOADV r11d
	LOADV r12d
.endm

/* cw: 0 default, 1 random PC/RC masked, 2 random PC/RC/masks (+ FWAIT after the op). */
.macro CW mode
	.if \mode == 1
	mov ecx, r15d
	and ecx, 0x0f00
	or ecx, 0x3f
	push rcx
	fldcw [rsp]
	pop rcx
	.endif
	.if \mode == 2
	mov ecx, r15d
	and ecx, 0x0f3f
	push rcx
	fldcw [rsp]
	pop rcx
	.endif
.endm

.macro X name, mode, setup, op:vararg
SNIPPET \name, F_ALL
	jmp 1f
	.balign 16
2:	TABLES
1:	pushfq
	lea rdi, [rip + 2b]
	mov ecx, esi
	and ecx, 0x1fff
	lea rsi, [rcx + DT_DATA]
	fninit
	.if \mode == 1
	fdecstp      /* TOP != 0: physical and stack order differ */
	fdecstp
	fdecstp
	.endif
	\setup
	.if \mode == 1
	fxam         /* condition codes from the operand's class, to see which ones survive */
	.endif
	fnclex
	CW \mode
	popfq
	\op
	.if \mode == 2
	fwait
	.endif
END_SNIPPET \name
.endm

/* An instruction under the three control words. */
.macro XV name, setup, op:vararg
X \name\()_d, 0, \setup, \op
X \name\()_r, 1, \setup, \op
X \name\()_u, 2, \setup, \op
.endm

/* ---- loads ---- */
XV fld_m32, L0M32, fld dword ptr [rsi]
XV fld_m64, L0M64, fld qword ptr [rsi]
XV fld_m80, L0, fld tbyte ptr [rsi]
XV fld_st1, L2, fld st(1)
XV fld_st0, L1, fld st(0)
XV fld_empty, L1, fld st(3)
XV fld_overflow, L8, fld st(3)
XV fld_m32_overflow, L8, fld dword ptr [rsi]
XV fild_m16, L0, fild word ptr [rsi]
XV fild_m32, L0, fild dword ptr [rsi]
XV fild_m64, L0, fild qword ptr [rsi]
XV fbld, L0, fbld tbyte ptr [rsi]
XV fld1, L0, fld1
XV fldl2t, L0, fldl2t
XV fldl2e, L0, fldl2e
XV fldpi, L0, fldpi
XV fldlg2, L0, fldlg2
XV fldln2, L0, fldln2
XV fldz, L1, fldz
XV fldpi_overflow, L8, fldpi

/* ---- stores ---- */
XV fst_m32, L1, fst dword ptr [rsi]
XV fstp_m32, L2, fstp dword ptr [rsi]
XV fst_m64, L1, fst qword ptr [rsi]
XV fstp_m64, L2, fstp qword ptr [rsi]
XV fstp_m80, L2, fstp tbyte ptr [rsi]
XV fst_m32_empty, L0, fst dword ptr [rsi]
XV fstp_m64_empty, L0, fstp qword ptr [rsi]
XV fstp_m80_empty, L0, fstp tbyte ptr [rsi]
XV fst_st3, L2, fst st(3)
XV fstp_st1, L2, fstp st(1)
XV fstp_st0, L2, fstp st(0)
XV fstp_st2_empty, L0, fstp st(2)
XV fstp1_alias, L2, .byte 0xd9, 0xd9  /* FSTP1 ST(1) */
XV fstp8_alias, L2, .byte 0xdf, 0xd1  /* FSTP8 ST(1) */
XV fstp9_alias, L2, .byte 0xdf, 0xd9  /* FSTP9 ST(1) */
XV fist_m16, L1, fist word ptr [rsi]
XV fist_m32, L1, fist dword ptr [rsi]
XV fistp_m16, L2, fistp word ptr [rsi]
XV fistp_m32, L2, fistp dword ptr [rsi]
XV fistp_m64, L2, fistp qword ptr [rsi]
XV fistp_m64_empty, L0, fistp qword ptr [rsi]
XV fisttp_m16, L2, fisttp word ptr [rsi]
XV fisttp_m32, L2, fisttp dword ptr [rsi]
XV fisttp_m64, L2, fisttp qword ptr [rsi]
XV fbstp, L2, fbstp tbyte ptr [rsi]
XV fbstp_empty, L0, fbstp tbyte ptr [rsi]
XV fist_scaled, L1, fld st(0); fmul st(0), st(0); fistp dword ptr [rsi]; fist word ptr [rsi + 4]

/* ---- arithmetic: every form ---- */
.macro ARITH name, r
XV \name\()_st0_st1, L2, .byte 0xd8, 0xc1 + (\r << 3)
XV \name\()_st0_st0, L1, .byte 0xd8, 0xc0 + (\r << 3)
XV \name\()_st2_st0, L3, .byte 0xdc, 0xc2 + ((\r ^ (\r >> 2)) << 3)
XV \name\()p_st1_st0, L2, .byte 0xde, 0xc1 + ((\r ^ (\r >> 2)) << 3)
XV \name\()p_st2_st0, L3, .byte 0xde, 0xc2 + ((\r ^ (\r >> 2)) << 3)
XV \name\()_m32, L1M32, .byte 0xd8, 0x06 + (\r << 3)
XV \name\()_m64, L1M64, .byte 0xdc, 0x06 + (\r << 3)
XV \name\()_m16int, L1, .byte 0xde, 0x06 + (\r << 3)
XV \name\()_m32int, L1, .byte 0xda, 0x06 + (\r << 3)
XV \name\()_empty, L1, .byte 0xd8, 0xc1 + (\r << 3)
XV \name\()p_empty, L1, .byte 0xde, 0xc1 + ((\r ^ (\r >> 2)) << 3)
XV \name\()_m64_empty, L0M64, .byte 0xdc, 0x06 + (\r << 3)
.endm
ARITH fadd, 0
ARITH fmul, 1
ARITH fsub, 4
ARITH fsubr, 5
ARITH fdiv, 6
ARITH fdivr, 7

/* ---- compares ---- */
XV fcom_st1, L2, fcom st(1)
XV fcom_st0, L1, fcom st(0)
XV fcomp_st1, L2, fcomp st(1)
XV fcompp, L3, fcompp
XV fucom_st1, L2, fucom st(1)
XV fucomp_st1, L2, fucomp st(1)
XV fucompp, L3, fucompp
XV fcom_m32, L1M32, fcom dword ptr [rsi]
XV fcom_m64, L1M64, fcom qword ptr [rsi]
XV fcomp_m64, L2, fcomp qword ptr [rsi]
XV ficom_m16, L1, ficom word ptr [rsi]
XV ficom_m32, L1, ficom dword ptr [rsi]
XV ficomp_m16, L2, ficomp word ptr [rsi]
XV fcom2_alias, L2, .byte 0xdc, 0xd1
XV fcomp3_alias, L2, .byte 0xdc, 0xd9
XV fcomp5_alias, L2, .byte 0xde, 0xd1
XV fcom_empty, L1, fcom st(2)
XV fcompp_empty, L1, fcompp
XV fcomi, L2, fcomi st(0), st(1)
XV fcomip, L2, fcomip st(0), st(1)
XV fucomi, L2, fucomi st(0), st(1)
XV fucomip, L3, fucomip st(0), st(2)
XV fcomi_empty, L1, fcomi st(0), st(4)
XV ftst, L1, ftst
XV ftst_empty, L0, ftst
XV fxam, L1, fxam
XV fxam_empty, L0, fxam
XV fxam_empty_stale, L2, ffree st(0); fxam

/* ---- one- and two-operand functions ---- */
XV fchs, L1, fchs
XV fabs, L1, fabs
XV fchs_empty, L0, fchs
XV fsqrt, L1, fsqrt
XV frndint, L1, frndint
XV f2xm1, L1, f2xm1
XV fsin, L1, fsin
XV fcos, L1, fcos
XV fsincos, L1, fsincos
XV fptan, L1, fptan
XV fxtract, L1, fxtract
XV fsqrt_empty, L0, fsqrt
XV fsincos_empty, L0, fsincos
XV fptan_overflow, L8, fptan
XV fxtract_overflow, L8, fxtract
XV fprem, L2, fprem
XV fprem1, L2, fprem1
XV fscale, L2, fscale
XV fpatan, L2, fpatan
XV fyl2x, L2, fyl2x
XV fyl2xp1, L2, fyl2xp1
XV fprem_empty, L1, fprem
XV fpatan_empty, L1, fpatan
/* small arguments: in range for F2XM1/FYL2XP1, reduction loops for FPREM */
XV f2xm1_small, L1, fld1; fdivp st(1), st(0); f2xm1
XV fyl2xp1_small, L2, fld1; fdivr st(0), st(1); fyl2xp1
XV fprem_loop, L2, fld1; fscale; fstp st(1); fxch; fprem; fnstsw ax; fprem1

/* ---- moves and stack control ---- */
XV fxch_st1, L2, fxch st(1)
XV fxch_st3, L3, fxch st(3)
XV fxch_empty, L1, fxch st(2)
XV fxch4_alias, L2, .byte 0xdd, 0xc9
XV fxch7_alias, L2, .byte 0xdf, 0xc9
XV ffree, L3, ffree st(1)
XV ffreep, L3, .byte 0xdf, 0xc1
XV fincstp, L2, fincstp
XV fdecstp, L2, fdecstp
XV fnop, L2, fnop
XV fcmovb, L2, fcmovb st(0), st(1)
XV fcmove, L2, fcmove st(0), st(1)
XV fcmovbe, L2, fcmovbe st(0), st(1)
XV fcmovu, L2, fcmovu st(0), st(1)
XV fcmovnb, L2, fcmovnb st(0), st(1)
XV fcmovne, L2, fcmovne st(0), st(1)
XV fcmovnbe, L2, fcmovnbe st(0), st(1)
XV fcmovnu, L2, fcmovnu st(0), st(1)
XV fcmov_empty, L1, fcmove st(0), st(3)

/* ---- control ---- */
XV fninit, L3, fninit
XV fnclex, L2, fdiv st(0), st(0); fnclex
XV fldcw_fnstcw, L1, mov word ptr [rsi], 0x1e7f; fldcw [rsi]; fnstcw [rsi + 2]; mov [rsi], r14w; fldcw [rsi]; fnstcw [rsi + 4]
XV fnstsw_ax, L2, fadd st(0), st(1); fnstsw ax
XV fnstsw_m16, L2, fcom st(1); fnstsw [rsi]
XV fnstenv, L3, fcom st(1); fnstenv [rsi]; fnstcw [rsi + 28]
XV fnstenv_16, L3, fcom st(1); data16 fnstenv [rsi]
XV fldenv, L3, fnstenv [rsi]; fld1; fld1; fldenv [rsi]
XV fldenv_random, L0, mov word ptr [rsi + 4], 0; fldenv [rsi]
XV fnsave_frstor, L3, fnsave [rsi]; fld1; fld1; frstor [rsi]
XV fnsave, L3, fadd st(0), st(0); fnsave [rsi]
XV fnsave_16, L3, data16 fnsave [rsi]
XV frstor_random, L0, mov dword ptr [rsi + 4], 0; frstor [rsi]
XV fwait_pending, L2, fdiv st(0), st(0); fwait

/* ---- a few whole computations ---- */
XV poly, L2, fld st(0); fmul st(0), st(1); fadd st(0), st(2); fdiv st(0), st(1); fsqrt; fstp qword ptr [rsi]; fnstsw ax
XV sequence, L3, fadd st(0), st(1); fxch st(2); fsubp st(1), st(0); fmulp st(1), st(0); fistp dword ptr [rsi]; fnstsw ax
