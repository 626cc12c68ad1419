/*
 * Differential tests for the string instructions (cpu/string.c): MOVS/STOS/LODS/CMPS/SCAS in all
 * sizes, single and with REP/REPE/REPNE, both DF directions, counts 0, 1 and small; overlapping
 * MOVS (destination just above or below the source), copies and fills long enough and placed so
 * that they cross pages (the bulk path), REPE CMPS stopping at a difference, REPNE SCAS finding a
 * byte, the 32-bit address size (0x67: ESI/EDI/ECX, upper halves ignored and cleared), F2 on
 * MOVS/STOS, and faults part-way through a REP (registers then describe the iterations done).
 * Every snippet leaves DF clear.
 */
#include "snippet.h"

#define A DT_DATA + 0x100
#define B DT_DATA + 0x900

/* The arithmetic flags only: PUSHF also shows IF and friends, which are not ours to compare. */
.macro SAVEF reg
	pushfq
	pop \reg
	and \reg, 0x8d5
.endm

SNIPPET movs_single, F_ALL | F_DF
	cld
	mov rsi, A
	mov rdi, B
	movsb
	movsw
	movsd
	movsq
	std
	movsq
	movsd
	movsw
	movsb
	cld
END_SNIPPET movs_single

SNIPPET rep_movs_forward, F_ALL | F_DF
	cld
	mov rsi, A
	mov rdi, B
	mov ecx, 37
	rep movsb
	mov ecx, 9
	rep movsq
	mov ecx, 5
	rep movsd
	mov ecx, 3
	rep movsw
	mov ecx, 1
	rep movsq
	xor ecx, ecx
	rep movsb                         /* count 0: nothing moves */
END_SNIPPET rep_movs_forward

SNIPPET rep_movs_backward, F_ALL | F_DF
	cld
	mov rsi, A + 0x200
	mov rdi, B + 0x200
	std
	mov ecx, 37
	rep movsb
	mov ecx, 9
	rep movsq
	mov ecx, 5
	rep movsd
	mov ecx, 3
	rep movsw
	cld
END_SNIPPET rep_movs_backward

/* Destination 1, 3, 8 bytes above the source: the byte-at-a-time semantics replicate a pattern. */
SNIPPET rep_movs_overlap_up, F_ALL | F_DF
	cld
	mov rsi, A
	lea rdi, [rsi + 1]
	mov ecx, 100
	rep movsb
	mov rsi, A + 0x200
	lea rdi, [rsi + 3]
	mov ecx, 50
	rep movsq
	mov rsi, A + 0x400
	lea rdi, [rsi + 8]
	mov ecx, 30
	rep movsq
	mov rsi, A + 0x600
	lea rdi, [rsi + 200]
	mov ecx, 1000
	rep movsb
END_SNIPPET rep_movs_overlap_up

SNIPPET rep_movs_overlap_down, F_ALL | F_DF
	cld
	mov rsi, A + 5
	mov rdi, A
	mov ecx, 300
	rep movsb
	mov rsi, A + 0x801
	mov rdi, A + 0x800
	mov ecx, 100
	rep movsd
	/* backward with the destination below the source */
	mov rsi, A + 0x1000
	lea rdi, [rsi - 2]
	std
	mov ecx, 200
	rep movsb
	cld
END_SNIPPET rep_movs_overlap_down

/* Long copies that cross page boundaries at different offsets in source and destination. */
SNIPPET rep_movs_pages, F_ALL | F_DF
	cld
	mov rsi, DT_DATA + 0x10
	mov rdi, DT_DATA + 0x1ff3
	mov ecx, 0xa00
	rep movsb
	mov rsi, DT_DATA + 0x0ff9
	mov rdi, DT_DATA + 0x2004
	mov ecx, 0x150
	rep movsq
	mov rsi, DT_DATA + 0x1ffe
	mov rdi, DT_DATA + 0x0123
	mov ecx, 0x3f1
	rep movsw
END_SNIPPET rep_movs_pages

SNIPPET rep_movs_fault, F_ALL | F_DF
	cld
	mov rsi, DT_DATA + 0x100
	mov rdi, DT_DATA + DT_DATA_SIZE - 0x85
	mov ecx, 0x100
	rep movsb                         /* #PF after 0x85 bytes: RCX, RSI, RDI tell */
END_SNIPPET rep_movs_fault

SNIPPET rep_movsq_fault_src, F_ALL | F_DF
	cld
	mov rsi, DT_DATA + DT_DATA_SIZE - 0x44
	mov rdi, DT_DATA + 0x100
	mov ecx, 0x20
	rep movsq                         /* #PF on the 9th qword, which straddles the end */
END_SNIPPET rep_movsq_fault_src

SNIPPET stos_single, F_ALL | F_DF
	cld
	mov rdi, A
	stosb
	stosw
	stosd
	stosq
	std
	stosq
	stosd
	stosw
	stosb
	cld
END_SNIPPET stos_single

SNIPPET rep_stos, F_ALL | F_DF
	cld
	mov rdi, A
	mov ecx, 33
	rep stosb
	mov ecx, 7
	rep stosw
	mov ecx, 9
	rep stosd
	mov ecx, 11
	rep stosq
	xor ecx, ecx
	rep stosq
	std
	mov ecx, 13
	rep stosq
	mov ecx, 21
	rep stosb
	cld
END_SNIPPET rep_stos

SNIPPET rep_stos_pages, F_ALL | F_DF
	cld
	mov rdi, DT_DATA + 0x0e01
	mov ecx, 0x1a00
	rep stosb
	mov rdi, DT_DATA + 0x0ffd
	mov ecx, 0x201
	rep stosq
	mov rdi, DT_DATA + 0x2ffe
	std
	mov ecx, 0x1701
	rep stosw
	cld
END_SNIPPET rep_stos_pages

SNIPPET rep_stos_fault, F_ALL | F_DF
	cld
	mov rdi, DT_DATA + DT_DATA_SIZE - 0x20
	mov ecx, 0x10
	rep stosd                         /* faults on the 9th dword */
END_SNIPPET rep_stos_fault

SNIPPET repne_movs_stos, F_ALL | F_DF
	cld
	mov rsi, A
	mov rdi, B
	mov ecx, 19
	repne movsb                       /* F2 acts as REP for MOVS/STOS */
	mov ecx, 5
	repne stosd
END_SNIPPET repne_movs_stos

SNIPPET lods_all, F_ALL | F_DF
	cld
	mov rsi, A
	lodsb
	mov r8, rax
	lodsw
	mov r9, rax
	lodsd
	mov r10, rax
	lodsq
	mov r11, rax
	std
	lodsd
	mov r12, rax
	mov ecx, 5
	rep lodsw
	cld
	mov ecx, 3
	rep lodsq
	xor ecx, ecx
	rep lodsb
END_SNIPPET lods_all

SNIPPET cmps_single, F_ALL | F_DF
	cld
	mov rsi, A
	mov rdi, B
	cmpsb
	SAVEF r8
	cmpsw
	SAVEF r9
	cmpsd
	SAVEF r10
	cmpsq
	SAVEF r11
	mov rdi, rsi
	cmpsq                             /* equal: ZF */
END_SNIPPET cmps_single

/* Copies 64 bytes from A to B, changes byte k of the copy, then compares with REPE CMPS. */
.macro REPE_CMPS_AT k, insn, count
	mov rsi, A
	mov rdi, B
	mov ecx, 8
	rep movsq
	mov rsi, A
	mov rdi, B
	xor byte ptr [rdi + \k], 0x40
	mov ecx, \count
	repe \insn
.endm

SNIPPET repe_cmps_stop, F_ALL | F_DF
	cld
	REPE_CMPS_AT 13, cmpsb, 64
	mov r8, rcx
	mov r9, rsi
	mov r10, rdi
	REPE_CMPS_AT 13, cmpsw, 32
	mov r11, rcx
	REPE_CMPS_AT 13, cmpsd, 16
	mov r12, rcx
	REPE_CMPS_AT 13, cmpsq, 8
	mov r13, rcx
	REPE_CMPS_AT 63, cmpsb, 10        /* no difference within the count: runs out */
	mov r14, rcx
	REPE_CMPS_AT 0, cmpsb, 10         /* differs at once */
END_SNIPPET repe_cmps_stop

SNIPPET repne_cmps, F_ALL | F_DF
	cld
	mov rsi, A
	mov rdi, B
	mov ecx, 40
	repne cmpsb                       /* random data: stops at the first equal byte, if any */
	mov r8, rcx
	mov rsi, A
	mov rdi, A
	mov ecx, 40
	repne cmpsd                       /* equal at once */
END_SNIPPET repne_cmps

SNIPPET repe_cmps_backward, F_ALL | F_DF
	cld
	REPE_CMPS_AT 5, cmpsb, 64
	mov rsi, A + 63
	mov rdi, B + 63
	std
	mov ecx, 64
	repe cmpsb
	cld
END_SNIPPET repe_cmps_backward

SNIPPET scas_single, F_ALL | F_DF
	cld
	mov rdi, A
	scasb
	SAVEF r8
	scasw
	SAVEF r9
	scasd
	SAVEF r10
	scasq
END_SNIPPET scas_single

SNIPPET repne_scas_find, F_ALL | F_DF
	cld
	mov rdi, A
	mov ecx, 64
	rep stosb                         /* 64 copies of AL */
	mov byte ptr [A + 41], 0
	mov rdi, A
	mov ecx, 100
	xor eax, eax
	repne scasb                       /* finds the zero at 41 */
	mov r8, rcx
	mov r9, rdi
	mov rdi, A
	mov ecx, 30
	repne scasb                       /* runs out first */
	mov r10, rcx
	mov rdi, A + 0x200
	mov eax, [rdi + 12]
	mov ecx, 20
	repne scasd
END_SNIPPET repne_scas_find

SNIPPET repe_scas, F_ALL | F_DF
	cld
	mov rdi, A
	mov ecx, 20
	rep stosq
	mov rdi, A
	mov ecx, 30
	repe scasq                        /* stops after the 21st qword unless it happens to match */
	mov r8, rcx
	mov rdi, A
	mov ecx, 10
	repe scasw
	mov r9, rcx
	mov rdi, A + 0x100
	std
	mov ecx, 10
	repe scasb
	cld
END_SNIPPET repe_scas

/* 0x67: ESI/EDI/ECX are used; the upper halves are ignored and the updates zero-extend. */
SNIPPET addr32_string, F_ALL | F_DF
	cld
	mov rdx, 0x5a5a000000000000
	mov esi, A
	or rsi, rdx
	mov edi, B
	or rdi, rdx
	mov ecx, 23
	or rcx, rdx
	addr32 rep movsb
	mov r8, rsi
	mov r9, rdi
	mov r10, rcx
	mov edi, B + 0x100
	or rdi, rdx
	mov ecx, 7
	addr32 rep stosd
	mov r11, rdi
	mov esi, A
	addr32 lodsw
	mov r12, rsi
	mov esi, A
	mov edi, A
	mov ecx, 9
	or rcx, rdx
	addr32 repe cmpsb
	mov r13, rcx
	mov edi, B
	addr32 scasb
END_SNIPPET addr32_string

SNIPPET addr32_no_count_upper, F_ALL | F_DF
	cld
	mov rsi, A
	mov rdi, B
	mov rcx, 0x100000003              /* ECX = 3 */
	addr32 rep movsb
END_SNIPPET addr32_no_count_upper

SNIPPET string_seg_override, F_ALL | F_DF
	cld
	mov rsi, A
	mov rdi, B
	movs byte ptr es:[rdi], byte ptr ss:[rsi]
	lods dword ptr ds:[rsi]
	cmps qword ptr ss:[rsi], qword ptr es:[rdi]
END_SNIPPET string_seg_override
