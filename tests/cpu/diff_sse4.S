/* SSE4.1 and SSE4.2 snippets: every instruction in register and memory forms (aligned,
 * misaligned, page-crossing, faulting), saturation and signedness edges, several immediates for
 * the blends, inserts and extracts, ROUND* with every immediate, rounding mode, DAZ and the
 * exceptions unmasked, DPPS/DPPD under the same conditions, CRC32 in every operand size, and the
 * string compares PCMPESTRI/ESTRM/ISTRI/ISTRM with every one of the 256 immediates on strings
 * drawn from small alphabets (many matches, nulls, signed values), random strings, saturating
 * explicit lengths (32- and 64-bit) and page-crossing unaligned memory operands. */
#include "snippet.h"

#define BUF DT_DATA + 0x100

.macro SETCSR v
	mov dword ptr [rsp - 4], \v
	ldmxcsr [rsp - 4]
.endm

/* Saturation edges in XMM14 and XMM15. */
.macro EDGES
	mov rax, 0x80017fff8000ffff
	mov rcx, 0xc000400000000001
	movq xmm14, rax
	movq xmm15, rcx
	punpcklqdq xmm14, xmm15
	mov rax, 0x7fffffff80000000
	mov rcx, 0xffffffff0000ffff
	movq xmm15, rax
	movq xmm13, rcx
	punpcklqdq xmm15, xmm13
.endm

/* ---- packed integer ---- */

.macro INT_XMM op
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
END_SNIPPET \op\()_xmm
SNIPPET \op\()_misaligned, 0
	mov rbx, BUF
	\op xmm5, [rbx + 0x48]
END_SNIPPET \op\()_misaligned
.endm

.irp op, pcmpeqq, pcmpgtq, pmaxsb, pmaxsd, pmaxuw, pmaxud, pminsb, pminsd, pminuw, pminud
	INT_XMM \op
.endr
.irp op, pmulld, pmuldq, packusdw, phminposuw
	INT_XMM \op
.endr

SNIPPET phminposuw_ties, 0
	pcmpeqb xmm0, xmm0
	phminposuw xmm1, xmm0
	pxor xmm2, xmm2
	phminposuw xmm3, xmm2
	mov rax, 0x0005000700050009
	movq xmm4, rax
	punpcklqdq xmm4, xmm4
	phminposuw xmm5, xmm4
END_SNIPPET phminposuw_ties

/* PMOVSX/PMOVZX: register, memory (unaligned, page-crossing) sources. */
.irp op, pmovsxbw, pmovsxbd, pmovsxbq, pmovsxwd, pmovsxwq, pmovsxdq, pmovzxbw, pmovzxbd, pmovzxbq, pmovzxwd, pmovzxwq, pmovzxdq
SNIPPET \op\()_all, 0
	\op xmm0, xmm1
	\op xmm2, xmm2
	\op xmm15, xmm8
	mov rbx, BUF
	\op xmm3, [rbx + 1]
	\op xmm4, [rbx + 0x33]
	mov rcx, DT_DATA + 0xfff
	\op xmm5, [rcx]
	EDGES
	\op xmm6, xmm14
	\op xmm7, xmm15
END_SNIPPET \op\()_all
SNIPPET \op\()_pf, 0
	mov rcx, DT_DATA + 0x2fff
	\op xmm5, [rcx]
END_SNIPPET \op\()_pf
.endr

/* Blends with immediates. */
.macro BLEND_IMM op, imms:vararg
SNIPPET \op\()_imm, 0
	mov rbx, BUF
.irp n, \imms
	movdqa xmm8, xmm0
	\op xmm8, xmm1, \n
	movdqu [rbx + 0x100], xmm8
	add rbx, 16
	movdqa xmm9, xmm2
	\op xmm9, [rbx + 0x40], \n
	pxor xmm3, xmm9
	paddq xmm4, xmm9
.endr
END_SNIPPET \op\()_imm
SNIPPET \op\()_misaligned, 0
	mov rbx, BUF
	\op xmm9, [rbx + 0x44], 3
END_SNIPPET \op\()_misaligned
.endm

BLEND_IMM blendps, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0xf0, 0xa5
BLEND_IMM blendpd, 0, 1, 2, 3, 0xfc, 0xfd, 0x5a
BLEND_IMM pblendw, 0, 1, 0x80, 0xff, 0xa5, 0x5a, 0x3c, 0x0f, 0xf0, 0x81
BLEND_IMM mpsadbw, 0, 1, 2, 3, 4, 5, 6, 7, 0xf8, 0xff

SNIPPET mpsadbw_edges, 0
	pcmpeqb xmm0, xmm0
	pxor xmm1, xmm1
	mpsadbw xmm0, xmm1, 5
	pxor xmm2, xmm2
	pcmpeqb xmm3, xmm3
	mpsadbw xmm2, xmm3, 2
END_SNIPPET mpsadbw_edges

/* Variable blends: the mask is XMM0 (random), also as the destination. */
.irp op, blendvps, blendvpd, pblendvb
SNIPPET \op\()_all, 0
	\op xmm1, xmm2
	\op xmm3, xmm3
	mov rbx, BUF
	\op xmm4, [rbx + 0x20]
	\op xmm15, xmm9, xmm0
	movdqa xmm5, xmm0
	\op xmm0, xmm6
	\op xmm7, xmm5
	EDGES
	movdqa xmm0, xmm14
	\op xmm8, xmm15
	movdqa xmm0, xmm15
	\op xmm9, xmm14
END_SNIPPET \op\()_all
SNIPPET \op\()_misaligned, 0
	mov rbx, BUF
	\op xmm4, [rbx + 0x21]
END_SNIPPET \op\()_misaligned
.endr

/* ---- moves, inserts, extracts ---- */

SNIPPET movntdqa_all, 0
	mov rbx, BUF
	movntdqa xmm0, [rbx]
	movntdqa xmm15, [rbx + 0x40]
	mov rcx, DT_DATA + 0x1ff0
	movntdqa xmm7, [rcx]
END_SNIPPET movntdqa_all

SNIPPET movntdqa_misaligned, 0
	mov rbx, BUF
	movntdqa xmm0, [rbx + 4]
END_SNIPPET movntdqa_misaligned

SNIPPET pextr_all, 0
	mov rbx, BUF
.irp n, 0, 1, 2, 3, 4, 7, 8, 15, 16, 17, 0x83, 0xff
	pextrb eax, xmm1, \n
	pextrb r9, xmm2, \n
	pextrd ecx, xmm3, \n
	pextrq rdx, xmm4, \n
	extractps esi, xmm5, \n
	extractps r10, xmm6, \n
	pextrb byte ptr [rbx + \n], xmm7, \n
	pextrd dword ptr [rbx + 0x20 + \n], xmm8, \n
	pextrq qword ptr [rbx + 0x40 + \n], xmm9, \n
	extractps dword ptr [rbx + 0x80 + \n], xmm10, \n
	pextrw word ptr [rbx + 0xc0 + \n], xmm11, \n
	add rdi, rax
	add rdi, r9
	add rdi, rcx
	add rdi, rdx
	add rdi, rsi
	add rdi, r10
	rol rdi, 7
.endr
	mov rcx, DT_DATA + 0xffd
	pextrd dword ptr [rcx], xmm12, 1
	pextrq qword ptr [rcx - 4], xmm13, 1
END_SNIPPET pextr_all

SNIPPET pextrq_pf, 0
	mov rcx, DT_DATA + 0x2ffd
	pextrq qword ptr [rcx], xmm13, 1
END_SNIPPET pextrq_pf

SNIPPET pinsr_all, 0
	mov rbx, BUF
.irp n, 0, 1, 2, 3, 5, 7, 8, 15, 16, 17, 0x83, 0xff
	pinsrb xmm1, eax, \n
	pinsrb xmm2, byte ptr [rbx + \n], (\n + 1) & 0xff
	pinsrd xmm3, ecx, \n
	pinsrd xmm4, dword ptr [rbx + 0x21 + \n], \n
	pinsrq xmm5, rdx, \n
	pinsrq xmm6, qword ptr [rbx + 0x43 + \n], \n
	rol rax, 9
	rol rcx, 11
	rol rdx, 13
.endr
	mov rcx, DT_DATA + 0xffd
	pinsrd xmm7, dword ptr [rcx], 2
	pinsrq xmm8, qword ptr [rcx - 2], 0
END_SNIPPET pinsr_all

SNIPPET insertps_all, 0
	mov rbx, BUF
.irp n, 0x00, 0x01, 0x0f, 0x10, 0x20, 0x30, 0x40, 0x80, 0xc0, 0x55, 0xaa, 0xe4, 0x1b, 0x3e, 0x8d, 0xff
	movaps xmm8, xmm0
	insertps xmm8, xmm1, \n
	movdqu [rbx + 0x100], xmm8
	add rbx, 16
	movaps xmm9, xmm2
	insertps xmm9, dword ptr [rbx + 3], \n
	pxor xmm3, xmm9
	paddq xmm4, xmm9
.endr
	mov rcx, DT_DATA + 0xffe
	insertps xmm5, dword ptr [rcx], 0x20
	insertps xmm6, xmm6, 0x4c
END_SNIPPET insertps_all

/* ---- PTEST ---- */

SNIPPET ptest_all, F_ALL
	ptest xmm0, xmm1
	pushfq
	ptest xmm2, xmm2
	pushfq
	pxor xmm3, xmm3
	ptest xmm3, xmm4
	pushfq
	ptest xmm4, xmm3
	pushfq
	pcmpeqb xmm5, xmm5
	ptest xmm5, xmm6
	pushfq
	ptest xmm6, xmm5
	pushfq
	movdqa xmm7, xmm8
	pandn xmm7, xmm9
	ptest xmm8, xmm7
	pushfq
	mov rbx, BUF
	ptest xmm9, [rbx + 0x10]
	pushfq
	movdqa [rbx + 0x20], xmm10
	ptest xmm10, [rbx + 0x20]
	pushfq
	ptest xmm11, xmm12
END_SNIPPET ptest_all

SNIPPET ptest_misaligned, F_ALL
	mov rbx, BUF
	ptest xmm9, [rbx + 0x18]
END_SNIPPET ptest_misaligned

/* ---- ROUND ---- */

.macro ROUND_ALL op, src16
SNIPPET \op\()_imm, 0
	mov rbx, BUF
.irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0xf0, 0x73
	movaps xmm8, xmm0
	\op xmm8, xmm1, \n
	movdqu [rbx], xmm8
	movaps xmm9, xmm2
	\op xmm9, xmm3, \n
	movdqu [rbx + 16], xmm9
	movaps xmm10, xmm4
	\op xmm10, xmm5, \n
	movdqu [rbx + 32], xmm10
	add rbx, 48
	stmxcsr [rbx]
	add rbx, 4
.endr
END_SNIPPET \op\()_imm
SNIPPET \op\()_modes, 0
	mov rbx, BUF
.irp csr, 0x1f80, 0x3f80, 0x5f80, 0x7f80, 0x1fc0, 0x9f80, 0xffc0
	SETCSR \csr
	movaps xmm8, xmm0
	\op xmm8, xmm1, 4
	movaps xmm9, xmm2
	\op xmm9, xmm3, 12
	movaps xmm10, xmm4
	\op xmm10, xmm5, 1
	movaps xmm11, xmm6
	\op xmm11, xmm7, 8
	movdqu [rbx], xmm8
	movdqu [rbx + 16], xmm9
	movdqu [rbx + 32], xmm10
	movdqu [rbx + 48], xmm11
	stmxcsr [rbx + 64]
	add rbx, 68
.endr
END_SNIPPET \op\()_modes
SNIPPET \op\()_mem, 0
	mov rbx, BUF
	movups [rbx], xmm1
	\op xmm0, [rbx], 0
	\op xmm2, [rbx + 0x30], 9
	mov rcx, DT_DATA + \src16
	\op xmm4, [rcx], 4
	\op xmm6, [rbx + 0x203], 2
END_SNIPPET \op\()_mem
.irp n, 0, 3, 4, 8, 11, 12
SNIPPET \op\()_pe_\n, 0
	SETCSR 0x0f80
	\op xmm0, xmm1, \n
	\op xmm2, xmm3, \n
	\op xmm4, xmm5, \n
	\op xmm6, xmm7, \n
	\op xmm8, xmm9, \n
END_SNIPPET \op\()_pe_\n
.endr
SNIPPET \op\()_ie, 0
	SETCSR 0x1f00
	\op xmm0, xmm1, 0
	\op xmm2, xmm3, 9
	\op xmm4, xmm5, 4
	\op xmm6, xmm7, 2
END_SNIPPET \op\()_ie
SNIPPET \op\()_de, 0
	SETCSR 0x1e80
	\op xmm0, xmm1, 0
	\op xmm2, xmm3, 9
	\op xmm4, xmm5, 4
	\op xmm6, xmm7, 2
END_SNIPPET \op\()_de
/* Signalling NaNs and denormals, which the random states rarely hold in every lane. */
SNIPPET \op\()_snan, 0
	mov rax, 0x7f800001ff800003
	mov rcx, 0x7ff0000000000005
	movq xmm0, rax
	movq xmm1, rcx
	punpcklqdq xmm0, xmm1
	movaps xmm2, xmm0
	\op xmm2, xmm0, 0
	mov rax, 0x00000001807fffff
	mov rcx, 0x800fffffffffffff
	movq xmm3, rax
	movq xmm4, rcx
	punpcklqdq xmm3, xmm4
	\op xmm5, xmm3, 2
	SETCSR 0x1fc0
	\op xmm6, xmm3, 1
	SETCSR 0x1f00
	\op xmm7, xmm0, 8
END_SNIPPET \op\()_snan
.endm

ROUND_ALL roundps, 0xff0
ROUND_ALL roundpd, 0x1000
ROUND_ALL roundss, 0xffe
ROUND_ALL roundsd, 0xffc

SNIPPET roundps_misaligned, 0
	mov rbx, BUF
	roundps xmm0, [rbx + 4], 0
END_SNIPPET roundps_misaligned

SNIPPET roundpd_misaligned, 0
	mov rbx, BUF
	roundpd xmm0, [rbx + 8], 0
END_SNIPPET roundpd_misaligned

/* ---- DPPS / DPPD ---- */

.macro DP_ALL op, imm
SNIPPET \op\()_\imm\()_modes, 0
	movaps xmm8, xmm0
	\op xmm8, xmm1, \imm
	stmxcsr [rsp - 8]
	SETCSR 0x3f80
	movaps xmm9, xmm2
	\op xmm9, xmm3, \imm
	stmxcsr [rsp - 12]
	SETCSR 0x5f80
	movaps xmm10, xmm4
	\op xmm10, xmm5, \imm
	stmxcsr [rsp - 16]
	SETCSR 0x7f80
	movaps xmm11, xmm6
	\op xmm11, xmm7, \imm
	stmxcsr [rsp - 20]
	SETCSR 0x9fc0
	movaps xmm12, xmm0
	\op xmm12, xmm3, \imm
	stmxcsr [rsp - 24]
	SETCSR 0x1fc0
	movaps xmm13, xmm2
	\op xmm13, xmm5, \imm
	stmxcsr [rsp - 28]
	SETCSR 0x9f80
	\op xmm15, xmm6, \imm
	mov rbx, BUF
	\op xmm14, [rbx + 0x40], \imm
END_SNIPPET \op\()_\imm\()_modes
.irp csr, 0x1f00, 0x1e80, 0x1b80, 0x1780, 0x0f80
SNIPPET \op\()_\imm\()_\csr, 0
	SETCSR \csr
	\op xmm0, xmm1, \imm
	\op xmm2, xmm3, \imm
	\op xmm4, xmm5, \imm
	\op xmm6, xmm7, \imm
	\op xmm8, xmm9, \imm
END_SNIPPET \op\()_\imm\()_\csr
.endr
.endm

.irp imm, 0xff, 0xf1, 0x00, 0x0f, 0xf0, 0x31, 0x7f, 0x1e, 0xa5, 0x5a, 0xc3, 0x92
	DP_ALL dpps, \imm
.endr
.irp imm, 0x33, 0x31, 0x32, 0x13, 0x23, 0x00, 0x03, 0x30, 0x11, 0x22, 0xff, 0xcc
	DP_ALL dppd, \imm
.endr

SNIPPET dpps_misaligned, 0
	mov rbx, BUF
	dpps xmm0, [rbx + 4], 0xff
END_SNIPPET dpps_misaligned

/* ---- CRC32 (flags are left alone) ---- */

SNIPPET crc32_all, F_ALL
	crc32 eax, bl
	crc32 eax, ah
	crc32 ecx, dx
	crc32 esi, edi
	crc32 r8, r9
	crc32 r10, r11b
	crc32 r12d, r13w
	crc32 rdx, rax
	mov rbx, BUF
	crc32 eax, byte ptr [rbx + 1]
	crc32 rcx, byte ptr [rbx + 2]
	crc32 esi, word ptr [rbx + 3]
	crc32 edi, dword ptr [rbx + 5]
	crc32 r9, qword ptr [rbx + 9]
	mov r11, DT_DATA + 0xffd
	crc32 r14d, dword ptr [r11]
	crc32 r15, qword ptr [r11 - 2]
	mov ecx, 32
1:	crc32 rax, qword ptr [rbx + rcx * 8]
	crc32 edx, byte ptr [rbx + rcx]
	dec ecx
	jnz 1b
END_SNIPPET crc32_all

SNIPPET crc32_pf, F_ALL
	mov r11, DT_DATA + 0x2ffd
	crc32 r15, qword ptr [r11]
END_SNIPPET crc32_pf

/* ---- the string compares: one snippet per instruction and immediate ---- */

/* Runs one compare and stores its flags, ECX and XMM0 in slot n of the buffer at R15. */
.macro STR_RUN op, imm, a, b, n
	\op \a, \b, \imm
	pushfq
	pop r10
	mov [r15 + \n * 32], r10
	mov [r15 + \n * 32 + 8], rcx
	movdqu [r15 + \n * 32 + 16], xmm0
.endm

.macro STR_SNIPPET op, imm
SNIPPET \op\()_\imm, F_ALL
	mov r15, BUF
	/* random strings, the harness's lengths in RAX/RDX (edge values) */
	STR_RUN \op, \imm, xmm3, xmm4, 0
	rex.w \op xmm5, xmm4, \imm
	pushfq
	pop r10
	mov [r15 + 0x20 * 9], r10
	mov [r15 + 0x20 * 9 + 8], rcx
	/* alphabet {0..3} per byte: many matches and nulls; lengths -6..25 */
	mov r8, 0x0303030303030303
	movq xmm14, r8
	punpcklqdq xmm14, xmm14
	movdqa xmm8, xmm1
	movdqa xmm9, xmm2
	pand xmm8, xmm14
	pand xmm9, xmm14
	mov eax, esi
	and eax, 0x1f
	sub eax, 6
	mov edx, edi
	and edx, 0x1f
	sub edx, 6
	STR_RUN \op, \imm, xmm8, xmm9, 1
	STR_RUN \op, \imm, xmm9, xmm8, 2
	STR_RUN \op, \imm, xmm9, xmm9, 3
	/* alphabet {0..3, 0x80..0x83} (negative when signed), null-free needle */
	mov r8, 0x8383838383838383
	movq xmm14, r8
	punpcklqdq xmm14, xmm14
	mov r8, 0x0101010101010101
	movq xmm13, r8
	punpcklqdq xmm13, xmm13
	movdqa xmm10, xmm6
	movdqa xmm11, xmm7
	pand xmm10, xmm14
	por xmm10, xmm13
	pand xmm11, xmm14
	rol eax, 3
	STR_RUN \op, \imm, xmm10, xmm11, 4
	/* memory operand, unaligned and crossing a page */
	mov r9, DT_DATA + 0xff9
	movdqu [r9], xmm9
	STR_RUN \op, \imm, xmm8, [r9], 5
	mov eax, 16
	mov edx, 3
	STR_RUN \op, \imm, xmm10, [r9], 6
	/* 64-bit lengths */
	mov rax, r11
	mov rdx, r12
	rex.w \op xmm8, xmm9, \imm
	pushfq
	pop r10
	mov [r15 + 0x20 * 7], r10
	mov [r15 + 0x20 * 7 + 8], rcx
	mov rax, -5
	mov rdx, 0x8000000000000000
	rex.w \op xmm8, xmm11, \imm
END_SNIPPET \op\()_\imm
.endm

.irp op, pcmpestri, pcmpestrm, pcmpistri, pcmpistrm
.irp hi, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, a, b, c, d, e, f
.irp lo, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, a, b, c, d, e, f
	STR_SNIPPET \op, 0x\hi\lo
.endr
.endr
.endr

.irp op, pcmpestri, pcmpistrm
SNIPPET \op\()_pf, F_ALL
	mov r9, DT_DATA + 0x2ff9
	\op xmm1, [r9], 0x0c
END_SNIPPET \op\()_pf
.endr
