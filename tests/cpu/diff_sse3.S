/* SSE3 and SSSE3 snippets: the SSE3 floating-point operations in register and memory forms under
 * each rounding mode, FTZ/DAZ and single exceptions unmasked (the harness fills the XMM registers
 * with NaNs, infinities, denormals and -0); the duplicating moves and LDDQU with aligned,
 * misaligned, page-crossing and faulting operands; every SSSE3 instruction in MMX and XMM forms
 * with saturation edges, PALIGNR and PSHUFB with every kind of count and index. */
#include "snippet.h"

#define BUF DT_DATA + 0x100

.macro SETCSR v
	mov dword ptr [rsp - 4], \v
	ldmxcsr [rsp - 4]
.endm

/* ---- SSE3 floating point ---- */

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
	\op xmm1, xmm1
END_SNIPPET \op\()_modes
.endm

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
	\op xmm8, [rbx + 0x203]
END_SNIPPET \op\()_mem
.endm

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

.irp op, addsubps, addsubpd, haddps, haddpd, hsubps, hsubpd
	FP_MODES \op
	FP_MEM \op
	FP_UNMASK \op, 0x1f00, ie
	FP_UNMASK \op, 0x1e80, de
	FP_UNMASK \op, 0x1b80, oe
	FP_UNMASK \op, 0x1780, ue
	FP_UNMASK \op, 0x0f80, pe
	FP_UNMASK \op, 0x87c0, ue_ftz
	FP_UNMASK \op, 0x1380, oe_ue
.endr

/* Exact tiny results and overflow with the traps unmasked (values the random state rarely has). */
.irp op, addsubps, haddps, hsubps
SNIPPET \op\()_tiny, 0
	mov eax, 0x00800001
	movd xmm0, eax
	pshufd xmm0, xmm0, 0
	mov eax, 0x00800000
	movd xmm1, eax
	pshufd xmm1, xmm1, 0
	movaps xmm2, xmm0
	\op xmm2, xmm1
	SETCSR 0x1780
	\op xmm0, xmm1
END_SNIPPET \op\()_tiny
SNIPPET \op\()_huge, 0
	mov eax, 0x7f7fffff
	movd xmm0, eax
	pshufd xmm0, xmm0, 0
	movaps xmm1, xmm0
	movaps xmm2, xmm0
	\op xmm2, xmm1
	SETCSR 0x1b80
	\op xmm0, xmm1
END_SNIPPET \op\()_huge
.endr

.irp op, addsubpd, haddpd, hsubpd
SNIPPET \op\()_tiny, 0
	mov rax, 0x0010000000000001
	movq xmm0, rax
	punpcklqdq xmm0, xmm0
	mov rax, 0x0010000000000000
	movq xmm1, rax
	punpcklqdq xmm1, xmm1
	movaps xmm2, xmm0
	\op xmm2, xmm1
	SETCSR 0x1780
	\op xmm0, xmm1
END_SNIPPET \op\()_tiny
SNIPPET \op\()_huge, 0
	mov rax, 0x7fefffffffffffff
	movq xmm0, rax
	punpcklqdq xmm0, xmm0
	movaps xmm1, xmm0
	movaps xmm2, xmm0
	\op xmm2, xmm1
	SETCSR 0x1b80
	\op xmm0, xmm1
END_SNIPPET \op\()_huge
.endr

/* ---- SSE3 moves ---- */

SNIPPET movddup_all, 0
	movddup xmm0, xmm1
	movddup xmm9, xmm15
	movddup xmm2, xmm2
	mov rbx, BUF
	movddup xmm3, [rbx]
	movddup xmm4, [rbx + 0x43]
	mov rcx, DT_DATA + 0xffc
	movddup xmm5, [rcx]
END_SNIPPET movddup_all

SNIPPET movddup_pf, 0
	mov rcx, DT_DATA + 0x2ffc
	movddup xmm5, [rcx]
END_SNIPPET movddup_pf

.irp op, movshdup, movsldup
SNIPPET \op\()_all, 0
	\op xmm0, xmm1
	\op xmm9, xmm15
	\op xmm2, xmm2
	mov rbx, BUF
	\op xmm3, [rbx]
	\op xmm4, [rbx + 0x30]
	mov rcx, DT_DATA + 0x1000
	\op xmm5, [rcx]
END_SNIPPET \op\()_all
SNIPPET \op\()_misaligned, 0
	mov rbx, BUF
	\op xmm3, [rbx + 8]
END_SNIPPET \op\()_misaligned
.endr

SNIPPET lddqu_all, 0
	mov rbx, BUF
	lddqu xmm0, [rbx]
	lddqu xmm1, [rbx + 0x13]
	mov rcx, DT_DATA + 0xff7
	lddqu xmm15, [rcx]
END_SNIPPET lddqu_all

SNIPPET lddqu_pf, 0
	mov rcx, DT_DATA + 0x2ff9
	lddqu xmm3, [rcx]
END_SNIPPET lddqu_pf

/* MONITOR and MWAIT are not reported by CPUID and raise #UD in softvm; FISTTP is in diff_x87. */

/* ---- SSSE3 ---- */

/* MM0..MM7 from the random data (RBX then points at it). */
.macro LOADMM
	mov rbx, DT_DATA + 0x300
	movq mm0, [rbx]
	movq mm1, [rbx + 8]
	movq mm2, [rbx + 16]
	movq mm3, [rbx + 24]
	movq mm4, [rbx + 32]
	movq mm5, [rbx + 40]
	movq mm6, [rbx + 48]
	movq mm7, [rbx + 56]
.endm

/* Saturation edges in XMM14/XMM15 (and MM6/MM7): words 0x7fff 0x8000 0x8001 0xffff 1 0 0x4000 0xc000,
 * bytes 0x7f 0x80 0x81 0xff 0x01 0x00 0x40 0xc0 ... */
.macro EDGES
	mov rax, 0x80017fff8000ffff
	mov rcx, 0xc000400000000001
	movq xmm14, rax
	movq xmm15, rcx
	punpcklqdq xmm14, xmm15
	mov rax, 0x7f7f8080ffff7f80
	mov rcx, 0x81c040017fff8000
	movq xmm15, rax
	movq xmm13, rcx
	punpcklqdq xmm15, xmm13
.endm

.macro SSSE3_XMM op
SNIPPET \op\()_xmm, 0
	\op xmm0, xmm1
	\op xmm2, xmm2
	\op xmm15, xmm8
	mov rbx, BUF
	\op xmm3, [rbx]
	\op xmm4, [rbx + 0x30]
	mov rcx, DT_DATA + 0x1000
	\op xmm5, [rcx]
	EDGES
	movdqa xmm6, xmm14
	\op xmm6, xmm15
	movdqa xmm7, xmm15
	\op xmm7, xmm14
	movdqa xmm8, xmm14
	\op xmm8, xmm14
	movdqa xmm9, xmm15
	\op xmm9, xmm15
END_SNIPPET \op\()_xmm
SNIPPET \op\()_xmm_misaligned, 0
	mov rbx, BUF
	\op xmm5, [rbx + 0x44]
END_SNIPPET \op\()_xmm_misaligned
SNIPPET \op\()_xmm_pf, 0
	mov rbx, DT_DATA + 0x3000
	\op xmm5, [rbx]
END_SNIPPET \op\()_xmm_pf
.endm

.macro SSSE3_MMX op
SNIPPET \op\()_mmx, 0
	LOADMM
	\op mm0, mm1
	\op mm2, mm2
	\op mm3, [rbx + 0x41]
	\op mm4, [rbx + 0xcfc]
	\op mm7, mm6
	EDGES
	movdq2q mm6, xmm14
	movdq2q mm7, xmm15
	movq mm5, mm6
	\op mm5, mm7
	movq mm1, mm7
	\op mm1, mm6
	psrldq xmm14, 8
	psrldq xmm15, 8
	movdq2q mm6, xmm14
	movdq2q mm7, xmm15
	\op mm6, mm7
	\op mm7, mm7
END_SNIPPET \op\()_mmx
SNIPPET \op\()_mmx_pf, 0
	LOADMM
	mov rbx, DT_DATA + 0x2ffc
	\op mm0, [rbx]
END_SNIPPET \op\()_mmx_pf
.endm

.irp op, pabsb, pabsw, pabsd, psignb, psignw, psignd, pmulhrsw, pmaddubsw
	SSSE3_XMM \op
	SSSE3_MMX \op
.endr
.irp op, phaddw, phaddd, phaddsw, phsubw, phsubd, phsubsw, pshufb
	SSSE3_XMM \op
	SSSE3_MMX \op
.endr

/* PSHUFB with indices from a small set, so that both the zeroing bit and index bits 4..6 vary. */
SNIPPET pshufb_indices, 0
	LOADMM
	mov rax, 0x8f7f1f0f10080100
	mov rcx, 0x0706050403020190
	movq xmm14, rax
	movq xmm15, rcx
	punpcklqdq xmm14, xmm15
	pshufb xmm0, xmm14
	movq mm7, rax
	pshufb mm0, mm7
	movq mm6, rcx
	pshufb mm1, mm6
END_SNIPPET pshufb_indices

/* PALIGNR: every count class, in both forms. */
SNIPPET palignr_xmm, 0
.irp n, 0, 1, 3, 8, 15, 16, 17, 24, 31, 32, 33, 128, 255
	movdqa xmm13, xmm2
	palignr xmm13, xmm1, \n
	pxor xmm3, xmm13
	paddq xmm4, xmm13
.endr
	mov rbx, BUF
	palignr xmm5, [rbx + 0x20], 5
	palignr xmm6, xmm6, 9
	palignr xmm15, xmm8, 20
END_SNIPPET palignr_xmm

SNIPPET palignr_xmm_misaligned, 0
	mov rbx, BUF
	palignr xmm5, [rbx + 0x21], 5
END_SNIPPET palignr_xmm_misaligned

SNIPPET palignr_mmx, 0
	LOADMM
.irp n, 0, 1, 3, 7, 8, 9, 15, 16, 17, 255
	movq mm7, mm2
	palignr mm7, mm1, \n
	pxor mm3, mm7
	paddq mm4, mm7
.endr
	palignr mm5, [rbx + 0xcfd], 3
	palignr mm6, mm6, 4
END_SNIPPET palignr_mmx

/* One lane overflowing with OE masked (always inexact) while another traps on underflow: the
 * #XM reports PE for the masked overflow's lane. */
SNIPPET hsubpd_masked_oe_ue_trap, 0
	mov rax, 0x7fecbbd7fcb5fa4a
	mov rcx, 0xffef9732c8b11bf4
	movq xmm0, rax
	movq xmm2, rcx
	punpcklqdq xmm0, xmm2
	mov rax, 0x800e57336fb375c8
	mov rcx, 0x000000003fcd8c56
	movq xmm1, rax
	movq xmm2, rcx
	punpcklqdq xmm1, xmm2
	SETCSR 0x1780
	hsubpd xmm0, xmm1
END_SNIPPET hsubpd_masked_oe_ue_trap
