/* SSE/SSE2 snippets: every floating-point operation in register and memory forms, under each
 * rounding mode, FTZ/DAZ and with single exceptions unmasked; moves, conversions, MXCSR and
 * FXSAVE/FXRSTOR. The harness fills the XMM registers with special values (NaN, inf, denormals,
 * -0, integer-overflowing magnitudes). */
#include "snippet.h"

#define BUF DT_DATA + 0x100

/* Loads MXCSR with an immediate through the stack slot below RSP. */
.macro SETCSR v
	mov dword ptr [rsp - 4], \v
	ldmxcsr [rsp - 4]
.endm

/* One operation in every rounding mode and FTZ/DAZ combination; MXCSR after each is stored. */
.macro FP_MODES op
SNIPPET \op\()_modes, 0
	movaps xmm8, xmm0
	\op xmm8, xmm1
	stmxcsr [rsp - 8]
	SETCSR 0x3f80
	movaps xmm9, xmm2
	\op xmm9, xmm3
	stmxcsr [rsp - 12]
	SETCSR 0x5f80
	movaps xmm10, xmm4
	\op xmm10, xmm5
	stmxcsr [rsp - 16]
	SETCSR 0x7f80
	movaps xmm11, xmm6
	\op xmm11, xmm7
	stmxcsr [rsp - 20]
	SETCSR 0x9fc0
	movaps xmm12, xmm0
	\op xmm12, xmm3
	stmxcsr [rsp - 24]
	SETCSR 0x1fc0
	movaps xmm13, xmm2
	\op xmm13, xmm5
	stmxcsr [rsp - 28]
	SETCSR 0x9f80
	movaps xmm14, xmm4
	\op xmm14, xmm7
	stmxcsr [rsp - 32]
	SETCSR 0xdf80
	\op xmm15, xmm6
END_SNIPPET \op\()_modes
.endm

/* Memory forms: aligned, page-crossing (scalar) and finally misaligned (#GP for 16-byte ones). */
.macro FP_MEM op
SNIPPET \op\()_mem, 0
	mov rbx, BUF
	movups [rbx], xmm1
	\op xmm0, [rbx]
	movups [rbx + 16], xmm3
	\op xmm2, [rbx + 16]
	mov rcx, DT_DATA + 0xff0
	movups [rcx], xmm5
	\op xmm4, [rcx]
	movups [rcx + 12], xmm7
	\op xmm6, [rcx + 12]
	\op xmm8, [rbx + 0x203]
END_SNIPPET \op\()_mem
.endm

/* One exception unmasked: #XM when it occurs, the destination left alone. */
.macro FP_UNMASK op, csr, tag
SNIPPET \op\()_\tag, 0
	SETCSR \csr
	\op xmm0, xmm1
	\op xmm2, xmm3
	\op xmm4, xmm5
	\op xmm6, xmm7
	\op xmm8, xmm9
	\op xmm10, xmm11
END_SNIPPET \op\()_\tag
.endm

.macro FP_ALL op
	FP_MODES \op
	FP_MEM \op
	FP_UNMASK \op, 0x1f00, ie
	FP_UNMASK \op, 0x1e80, de
	FP_UNMASK \op, 0x1d80, ze
	FP_UNMASK \op, 0x1b80, oe
	FP_UNMASK \op, 0x1780, ue
	FP_UNMASK \op, 0x0f80, pe
	FP_UNMASK \op, 0x87c0, ue_ftz
.endm

.irp op, addps, addss, addpd, addsd, subps, subss, subpd, subsd, mulps, mulss, mulpd, mulsd
	FP_ALL \op
.endr
.irp op, divps, divss, divpd, divsd, maxps, maxss, maxpd, maxsd, minps, minss, minpd, minsd
	FP_ALL \op
.endr
.irp op, sqrtps, sqrtss, sqrtpd, sqrtsd, rcpps, rcpss, rsqrtps, rsqrtss
	FP_ALL \op
.endr
.irp op, cvtdq2ps, cvtps2dq, cvttps2dq, cvtdq2pd, cvtpd2dq, cvttpd2dq, cvtps2pd, cvtpd2ps, cvtss2sd, cvtsd2ss
	FP_ALL \op
.endr

/* Compares: every predicate, register and memory forms, then IE unmasked. */
.macro CMP_ALL op
.irp p, 0, 1, 2, 3, 4, 5, 6, 7
SNIPPET \op\()_\p, 0
	\op xmm0, xmm1, \p
	\op xmm2, xmm3, \p
	\op xmm4, xmm4, \p
	SETCSR 0x1fc0
	\op xmm5, xmm6, \p
	mov rbx, BUF
	movups [rbx], xmm8
	\op xmm7, [rbx], \p
END_SNIPPET \op\()_\p
.endr
SNIPPET \op\()_ie, 0
	SETCSR 0x1f00
	\op xmm0, xmm1, 1
	\op xmm2, xmm3, 0
	\op xmm4, xmm5, 4
	\op xmm6, xmm7, 2
END_SNIPPET \op\()_ie
SNIPPET \op\()_de, 0
	SETCSR 0x1e80
	\op xmm0, xmm1, 1
	\op xmm2, xmm3, 0
	\op xmm4, xmm5, 4
	\op xmm6, xmm7, 2
END_SNIPPET \op\()_de
SNIPPET \op\()_misaligned, 0
	\op xmm0, [rsp + 0x101], 0
END_SNIPPET \op\()_misaligned
.endm

.irp op, cmpps, cmpss, cmppd, cmpsd
	CMP_ALL \op
.endr

.macro COMI_ALL op
SNIPPET \op\()_rr, F_ALL
	\op xmm0, xmm1
	setz al
	setp ah
	setc bl
	\op xmm2, xmm3
	pushfq
	SETCSR 0x1fc0
	\op xmm4, xmm5
END_SNIPPET \op\()_rr
SNIPPET \op\()_mem, F_ALL
	mov rbx, BUF
	movups [rbx], xmm1
	\op xmm0, [rbx]
	pushfq
	\op xmm2, [rbx + 0x301]
END_SNIPPET \op\()_mem
SNIPPET \op\()_ie, F_ALL
	SETCSR 0x1f00
	\op xmm0, xmm1
	pushfq
	\op xmm2, xmm3
	pushfq
	\op xmm4, xmm5
END_SNIPPET \op\()_ie
.endm

.irp op, comiss, ucomiss, comisd, ucomisd
	COMI_ALL \op
.endr

/* Float -> integer: 32 and 64-bit destinations, register and memory sources, modes, IE/PE. */
.macro CVT2I op
SNIPPET \op\()_rr, 0
	\op eax, xmm0
	\op rbx, xmm1
	SETCSR 0x3f80
	\op ecx, xmm2
	\op rdx, xmm3
	SETCSR 0x5fc0
	\op esi, xmm4
	\op rdi, xmm5
	SETCSR 0x7f80
	\op r8d, xmm6
	\op r9, xmm7
END_SNIPPET \op\()_rr
SNIPPET \op\()_mem, 0
	mov rbx, DT_DATA + 0xffc
	movups [rbx], xmm1
	\op eax, [rbx]
	\op rcx, [rbx + 4]
	\op edx, [rbx + 0x10]
	\op rsi, [rbx + 0x19]
END_SNIPPET \op\()_mem
SNIPPET \op\()_ie, 0
	SETCSR 0x1f00
	\op eax, xmm0
	\op rbx, xmm1
	\op ecx, xmm2
	\op rdx, xmm3
END_SNIPPET \op\()_ie
SNIPPET \op\()_pe, 0
	SETCSR 0x0f80
	\op rax, xmm0
	\op ebx, xmm1
	\op rcx, xmm2
	\op edx, xmm3
END_SNIPPET \op\()_pe
.endm

.irp op, cvtss2si, cvttss2si, cvtsd2si, cvttsd2si
	CVT2I \op
.endr

.macro CVTFI op
SNIPPET \op\()_all, 0
	\op xmm0, eax
	\op xmm1, rbx
	SETCSR 0x3f80
	\op xmm2, ecx
	\op xmm3, rdx
	SETCSR 0x5f80
	\op xmm4, esi
	\op xmm5, rdi
	SETCSR 0x7f80
	\op xmm6, r8d
	\op xmm7, r9
	mov r10, BUF
	\op xmm8, dword ptr [r10]
	\op xmm9, qword ptr [r10 + 8]
	\op xmm10, qword ptr [r10 + 0xefd]
	SETCSR 0x0f80
	\op xmm11, r11
	\op xmm12, r12
	\op xmm13, r13
	\op xmm14, r14
	\op xmm15, r15
END_SNIPPET \op\()_all
.endm

.irp op, cvtsi2ss, cvtsi2sd
	CVTFI \op
.endr

/* Conversions with MMX operands. */
.macro LOADMM
	mov rbx, DT_DATA + 0x300
	movq mm0, [rbx]
	movq mm1, [rbx + 8]
	movq mm2, [rbx + 16]
	movq mm3, [rbx + 24]
.endm

SNIPPET cvtpi2ps_all, 0
	LOADMM
	cvtpi2ps xmm0, mm0
	cvtpi2ps xmm1, [rbx + 32]
	SETCSR 0x3f80
	cvtpi2ps xmm2, mm1
	SETCSR 0x0f80
	cvtpi2ps xmm3, mm2
	cvtpi2ps xmm4, mm3
END_SNIPPET cvtpi2ps_all

SNIPPET cvtpi2ps_mem_nommx, 0
	mov rbx, DT_DATA + 0x300
	cvtpi2ps xmm1, [rbx + 32]
END_SNIPPET cvtpi2ps_mem_nommx

SNIPPET cvtpi2pd_all, 0
	LOADMM
	cvtpi2pd xmm0, mm0
	cvtpi2pd xmm1, [rbx + 32]
	cvtpi2pd xmm2, mm3
END_SNIPPET cvtpi2pd_all

.macro CVT2PI op, src16
SNIPPET \op\()_all, 0
	LOADMM
	\op mm0, xmm0
	\op mm1, xmm1
	SETCSR 0x3f80
	\op mm2, xmm2
	SETCSR 0x5f80
	mov rbx, BUF
	movups [rbx], xmm3
	\op mm3, [rbx]
	\op mm4, xmm4
	SETCSR 0x1f00
	\op mm5, xmm5
	\op mm6, xmm6
	\op mm7, xmm7
END_SNIPPET \op\()_all
SNIPPET \op\()_pe, 0
	LOADMM
	SETCSR 0x0f80
	\op mm0, xmm0
	\op mm1, xmm1
	\op mm2, xmm2
END_SNIPPET \op\()_pe
.endm

.irp op, cvtps2pi, cvttps2pi, cvtpd2pi, cvttpd2pi
	CVT2PI \op
.endr

SNIPPET cvtpd2pi_misaligned, 0
	cvtpd2pi mm0, [rsp + 8]
END_SNIPPET cvtpd2pi_misaligned

/* ---- moves ---- */

.macro MOV_ALIGNED op
SNIPPET \op\()_all, 0
	\op xmm0, xmm1
	\op xmm9, xmm15
	mov rbx, BUF
	\op [rbx], xmm2
	\op xmm3, [rbx + 0x40]
	\op [rbx + 0x10], xmm12
	\op xmm13, [rbx + 0x20]
	\op [rbx + 0x28], xmm4
END_SNIPPET \op\()_all
SNIPPET \op\()_load_misaligned, 0
	mov rbx, BUF
	\op xmm3, [rbx + 4]
END_SNIPPET \op\()_load_misaligned
.endm

.irp op, movaps, movapd, movdqa
	MOV_ALIGNED \op
.endr

.macro MOV_UNALIGNED op
SNIPPET \op\()_all, 0
	\op xmm0, xmm1
	\op xmm9, xmm15
	mov rbx, BUF
	\op [rbx + 1], xmm2
	\op xmm3, [rbx + 0x43]
	mov rcx, DT_DATA + 0xff7
	\op [rcx], xmm12
	\op xmm13, [rcx + 0x1000]
	\op [rcx + 0x2000], xmm14
END_SNIPPET \op\()_all
SNIPPET \op\()_pf, 0
	mov rcx, DT_DATA + 0x2ff8
	\op xmm3, [rcx]
END_SNIPPET \op\()_pf
SNIPPET \op\()_pf_store, 0
	mov rcx, DT_DATA + 0x2ff8
	\op [rcx], xmm3
END_SNIPPET \op\()_pf_store
.endm

.irp op, movups, movupd, movdqu
	MOV_UNALIGNED \op
.endr

.macro MOV_NT op
SNIPPET \op\()_all, 0
	mov rbx, BUF
	\op [rbx], xmm2
	\op [rbx + 0x30], xmm11
	\op [rbx + 0x48], xmm4
END_SNIPPET \op\()_all
.endm

.irp op, movntps, movntpd, movntdq
	MOV_NT \op
.endr

SNIPPET movnti_all, 0
	mov rbx, BUF
	movnti [rbx + 3], eax
	movnti [rbx + 0x11], rcx
	movnti [rbx + 0xefe], rdx
END_SNIPPET movnti_all

SNIPPET movntq_all, 0
	LOADMM
	movntq [rbx + 0x41], mm2
	movntq [rbx + 0xcfc], mm3
END_SNIPPET movntq_all

SNIPPET movss_all, 0
	movss xmm0, xmm1
	movss xmm9, xmm15
	mov rbx, BUF
	movss [rbx + 1], xmm2
	movss xmm3, [rbx + 0x43]
	movss xmm4, [rbx + 0xefe]
	movss [rbx + 0x1efd], xmm5
END_SNIPPET movss_all

SNIPPET movsd_all, 0
	movsd xmm0, xmm1
	movsd xmm9, xmm15
	mov rbx, BUF
	movsd [rbx + 1], xmm2
	movsd xmm3, [rbx + 0x43]
	movsd xmm4, [rbx + 0xefa]
	movsd [rbx + 0x1efd], xmm5
END_SNIPPET movsd_all

/* The string MOVSD and CMPSD share the SSE2 mnemonics. */
SNIPPET movsd_string, 0
	cld
	mov rsi, BUF
	mov rdi, BUF + 0x80
	movsd
	mov rcx, 5
	rep movsd
END_SNIPPET movsd_string

SNIPPET cmpsd_string, F_ALL
	cld
	mov rsi, BUF
	mov rdi, BUF + 0x80
	cmpsd
END_SNIPPET cmpsd_string

.macro MOV_HALF op
SNIPPET \op\()_all, 0
	mov rbx, BUF
	\op xmm0, [rbx]
	\op xmm1, [rbx + 0xefc]
	\op [rbx + 0x41], xmm2
	\op [rbx + 0xefd], xmm3
END_SNIPPET \op\()_all
.endm

.irp op, movlps, movhps, movlpd, movhpd
	MOV_HALF \op
.endr

SNIPPET movhlps_movlhps, 0
	movhlps xmm0, xmm1
	movlhps xmm2, xmm3
	movhlps xmm4, xmm4
	movlhps xmm14, xmm9
END_SNIPPET movhlps_movlhps

SNIPPET movmsk_all, 0
	movmskps eax, xmm0
	movmskps rbx, xmm1
	movmskpd ecx, xmm2
	movmskpd rdx, xmm3
	movmskps r9d, xmm15
END_SNIPPET movmsk_all

SNIPPET movd_movq_xmm, 0
	movd xmm0, eax
	movq xmm1, rbx
	movd ecx, xmm2
	movq rdx, xmm3
	movq xmm4, xmm5
	mov rsi, BUF
	movd xmm6, [rsi + 3]
	movq xmm7, [rsi + 0xefa]
	movd [rsi + 0x21], xmm8
	movq [rsi + 0x31], xmm9
	movq xmm10, xmm10
	movd r8d, xmm11
END_SNIPPET movd_movq_xmm

SNIPPET movd_movq_mmx, 0
	LOADMM
	movd mm4, eax
	movq mm5, rcx
	movd edx, mm0
	movq rsi, mm1
	movq mm6, mm2
	movq mm7, [rbx + 0xcfd]
	movq [rbx + 0x81], mm3
	movd [rbx + 0x91], mm4
	movd mm0, [rbx + 0x95]
END_SNIPPET movd_movq_mmx

SNIPPET movq2dq_movdq2q, 0
	LOADMM
	movq2dq xmm0, mm1
	movdq2q mm2, xmm3
	movq2dq xmm15, mm2
END_SNIPPET movq2dq_movdq2q

/* ---- MXCSR ---- */

SNIPPET ldmxcsr_stmxcsr, 0
	SETCSR 0xffff
	stmxcsr [rsp - 8]
	addps xmm0, xmm1
	SETCSR 0x1f80
	stmxcsr [rsp - 12]
	mov dword ptr [rsp - 16], 0x1f83
	ldmxcsr [rsp - 16]
	stmxcsr [rsp - 0x101]
END_SNIPPET ldmxcsr_stmxcsr

SNIPPET ldmxcsr_reserved, 0
	mov dword ptr [rsp - 4], 0x11f80
	ldmxcsr [rsp - 4]
END_SNIPPET ldmxcsr_reserved

SNIPPET ldmxcsr_reserved_high, 0
	mov dword ptr [rsp - 4], 0x80001f80
	ldmxcsr [rsp - 4]
END_SNIPPET ldmxcsr_reserved_high

/* ---- FXSAVE / FXRSTOR: the MXCSR_MASK field (host-model specific) is cleared. ---- */

SNIPPET fxsave_fxrstor, 0
	mov rbx, DT_DATA + 0x1000
	SETCSR 0x1fa3
	fxsave64 [rbx]
	mov dword ptr [rbx + 28], 0
	fxsave [rbx + 0x200]
	mov dword ptr [rbx + 0x200 + 28], 0
	mov rcx, DT_DATA + 0x400
	mov dword ptr [rcx + 24], 0x9f80
	mov word ptr [rcx], 0x37f
	mov dword ptr [rcx + 2], 0
	mov qword ptr [rcx + 8], 0
	mov qword ptr [rcx + 16], 0
	fxrstor64 [rcx]
	stmxcsr [rbx + 0x1f8]
	pxor xmm0, xmm0
	fxrstor [rbx]
END_SNIPPET fxsave_fxrstor

SNIPPET fxsave_misaligned, 0
	mov rbx, DT_DATA + 0x1008
	fxsave [rbx]
END_SNIPPET fxsave_misaligned

SNIPPET fxrstor_bad_mxcsr, 0
	mov rbx, DT_DATA + 0x1000
	fxsave [rbx]
	mov dword ptr [rbx + 28], 0
	mov dword ptr [rbx + 24], 0x41f80
	fxrstor [rbx]
END_SNIPPET fxrstor_bad_mxcsr

SNIPPET fxsave_pf, 0
	mov rbx, DT_DATA + 0x2f00
	fxsave [rbx]
END_SNIPPET fxsave_pf
