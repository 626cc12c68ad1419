/* Packed-integer snippets: every instruction on XMM and (where it exists) MMX registers, register
 * and memory sources, aligned, page-crossing and misaligned memory; shift counts 0, 1, the
 * element width and beyond; the MMX transition of the x87 tags and EMMS. */
#include "snippet.h"

#define BUF DT_DATA + 0x100

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

.macro INT_XMM op
SNIPPET \op\()_xmm, 0
	\op xmm0, xmm1
	\op xmm2, xmm2
	\op xmm15, xmm8
	mov rbx, BUF
	\op xmm3, [rbx]
	\op xmm4, [rbx + 0x30]
	\op xmm5, [rbx + 0x44]
END_SNIPPET \op\()_xmm
.endm

.macro INT_MMX op
SNIPPET \op\()_mmx, 0
	LOADMM
	\op mm0, mm1
	\op mm2, mm2
	\op mm3, [rbx + 0x41]
	\op mm4, [rbx + 0xcfc]
	\op mm7, mm6
END_SNIPPET \op\()_mmx
.endm

.macro INT_BOTH op
	INT_XMM \op
	INT_MMX \op
.endm

.irp op, paddb, paddw, paddd, paddq, psubb, psubw, psubd, psubq
	INT_BOTH \op
.endr
.irp op, paddsb, paddsw, paddusb, paddusw, psubsb, psubsw, psubusb, psubusw
	INT_BOTH \op
.endr
.irp op, pmullw, pmulhw, pmulhuw, pmuludq, pmaddwd, psadbw
	INT_BOTH \op
.endr
.irp op, pcmpeqb, pcmpeqw, pcmpeqd, pcmpgtb, pcmpgtw, pcmpgtd, pand, pandn, por, pxor
	INT_BOTH \op
.endr
.irp op, pavgb, pavgw, pmaxsw, pmaxub, pminsw, pminub
	INT_BOTH \op
.endr
.irp op, packsswb, packssdw, packuswb, punpcklbw, punpcklwd, punpckldq, punpckhbw, punpckhwd, punpckhdq
	INT_BOTH \op
.endr
.irp op, punpcklqdq, punpckhqdq, andps, andnps, orps, xorps, andpd, andnpd, orpd, xorpd
	INT_XMM \op
.endr
.irp op, unpcklps, unpckhps, unpcklpd, unpckhpd
	INT_XMM \op
.endr

/* Shifts: by register/memory counts and by immediates at the interesting boundaries. */
.macro SHIFT_XMM op
SNIPPET \op\()_xmm, 0
	\op xmm0, xmm1
.irp n, 0, 1, 7, 15, 16, 31, 32, 63, 64, 255
	mov eax, \n
	movd xmm14, eax
	movdqa xmm13, xmm2
	\op xmm13, xmm14
	movdqa xmm12, xmm3
	\op xmm12, \n
	pxor xmm2, xmm13
	pxor xmm3, xmm12
.endr
	mov rbx, BUF
	mov qword ptr [rbx], 9
	mov qword ptr [rbx + 8], -1
	\op xmm4, [rbx]
	mov qword ptr [rbx], 0
	mov qword ptr [rbx + 8], 1
	\op xmm5, [rbx]
	movq xmm14, rbx
	\op xmm6, xmm14
END_SNIPPET \op\()_xmm
.endm

.macro SHIFT_MMX op
SNIPPET \op\()_mmx, 0
	LOADMM
	\op mm0, mm1
.irp n, 0, 1, 7, 15, 16, 31, 32, 63, 64, 255
	mov eax, \n
	movd mm7, eax
	movq mm6, mm2
	\op mm6, mm7
	movq mm5, mm3
	\op mm5, \n
	pxor mm2, mm6
	pxor mm3, mm5
.endr
	mov qword ptr [rbx], 5
	\op mm4, [rbx]
	mov rax, 0x100000001
	movq mm7, rax
	\op mm1, mm7
END_SNIPPET \op\()_mmx
.endm

.irp op, psllw, pslld, psllq, psrlw, psrld, psrlq, psraw, psrad
	SHIFT_XMM \op
	SHIFT_MMX \op
.endr

.irp op, pslldq, psrldq
SNIPPET \op\()_all, 0
.irp n, 0, 1, 3, 8, 15, 16, 17, 255
	movdqa xmm13, xmm2
	\op xmm13, \n
	pxor xmm3, xmm13
	paddq xmm2, xmm13
.endr
END_SNIPPET \op\()_all
.endr

/* Shuffles with several immediates. */
.irp op, pshufd, pshufhw, pshuflw, shufps, shufpd
SNIPPET \op\()_all, 0
.irp n, 0x00, 0x1b, 0xe4, 0x4e, 0xff, 0x93, 0x01, 0x02
	\op xmm0, xmm1, \n
	pxor xmm2, xmm0
.endr
	mov rbx, BUF
	\op xmm3, [rbx + 0x20], 0x6c
	\op xmm4, xmm4, 0xb1
	\op xmm5, [rbx + 0x28], 0x6c
END_SNIPPET \op\()_all
.endr

SNIPPET pshufw_all, 0
	LOADMM
.irp n, 0x00, 0x1b, 0xe4, 0x4e, 0xff, 0x93
	pshufw mm0, mm1, \n
	pxor mm2, mm0
.endr
	pshufw mm3, [rbx + 0x23], 0x6c
	pshufw mm4, mm4, 0xb1
END_SNIPPET pshufw_all

SNIPPET pmovmskb_all, 0
	LOADMM
	pmovmskb eax, xmm0
	pmovmskb rcx, xmm15
	pmovmskb edx, mm1
	pmovmskb r9, mm2
END_SNIPPET pmovmskb_all

SNIPPET pextrw_pinsrw, 0
	LOADMM
.irp n, 0, 1, 3, 5, 7, 9
	pextrw eax, xmm1, \n
	pinsrw xmm2, eax, \n + 2
	pextrw ecx, mm1, \n
	pinsrw mm2, ecx, \n + 1
.endr
	pextrw r8, xmm5, 6
	pinsrw xmm3, word ptr [rbx + 0xcff], 5
	pinsrw mm3, word ptr [rbx + 0x41], 2
	pinsrw xmm4, r9d, 0
END_SNIPPET pextrw_pinsrw

SNIPPET maskmovq_all, 0
	LOADMM
	mov rdi, BUF + 3
	maskmovq mm0, mm1
	mov rdi, DT_DATA + 0xffc
	maskmovq mm2, mm3
	mov eax, 0
	movd mm4, eax
	mov rdi, DT_DATA + 0x3000
	maskmovq mm5, mm4
END_SNIPPET maskmovq_all

SNIPPET maskmovdqu_all, 0
	mov rdi, BUF + 3
	maskmovdqu xmm0, xmm1
	mov rdi, DT_DATA + 0xff8
	maskmovdqu xmm2, xmm3
	pxor xmm4, xmm4
	mov rdi, DT_DATA + 0x3000
	maskmovdqu xmm5, xmm4
END_SNIPPET maskmovdqu_all

SNIPPET maskmovdqu_pf, 0
	pcmpeqb xmm4, xmm4
	mov rdi, DT_DATA + 0x2ff8
	maskmovdqu xmm5, xmm4
END_SNIPPET maskmovdqu_pf

SNIPPET xmm_misaligned, 0
	paddb xmm0, [rsp + 8]
END_SNIPPET xmm_misaligned

SNIPPET xmm_pf, 0
	mov rbx, DT_DATA + 0x3000
	pxor xmm0, [rbx]
END_SNIPPET xmm_pf

SNIPPET mmx_pf, 0
	LOADMM
	mov rbx, DT_DATA + 0x2ffc
	paddb mm0, [rbx]
END_SNIPPET mmx_pf

/* The MMX transition: tags all valid (compared), then EMMS empties them. */
SNIPPET emms_after_mmx, 0
	LOADMM
	paddb mm0, mm1
	movq [rbx + 0x80], mm0
	emms
END_SNIPPET emms_after_mmx

SNIPPET mmx_tags, 0
	mov rbx, BUF
	movq mm3, [rbx]
END_SNIPPET mmx_tags

/* MMX after x87 pushes: TOP returns to 0 with the physical registers in place. */
SNIPPET mmx_after_x87_push, 0
	fld1
	fldz
	fldpi
	mov rbx, BUF
	movq mm1, [rbx]
	paddw mm1, [rbx + 8]
	movq mm7, mm1
END_SNIPPET mmx_after_x87_push

SNIPPET mmx_read_after_x87_push, 0
	fld1
	fldpi
	movq rax, mm6
	movq rcx, mm7
	movd edx, mm5
END_SNIPPET mmx_read_after_x87_push

SNIPPET x87_after_emms, 0
	mov rbx, BUF
	movq mm2, [rbx]
	emms
	fld1
	fldpi
	faddp st(1), st
END_SNIPPET x87_after_emms

SNIPPET mmx_pending_x87_exception, 0
	mov word ptr [rsp - 2], 0x37e
	fldcw [rsp - 2]
	fldz
	fld1
	fdiv st, st(1)
	movq mm0, mm1
END_SNIPPET mmx_pending_x87_exception
