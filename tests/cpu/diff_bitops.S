/*
 * Differential tests for the bit instructions (cpu/bitops.c): BT/BTS/BTR/BTC with register and
 * immediate offsets on registers and memory (including signed register offsets that address bits
 * far outside the operand, both directions), BSF/BSR with zero and non-zero sources, POPCNT,
 * LZCNT and TZCNT in every size. Only flags the SDM defines are compared: BT* define CF and leave
 * ZF alone; BSF/BSR define ZF; LZCNT/TZCNT define CF and ZF; POPCNT defines all six.
 */
#include "snippet.h"

#define P DT_DATA + 0x1800

.macro BT_REG op
	\op rax, rbx
	\op ecx, edx
	\op si, di
	\op r8, 63
	\op r9d, 31
	\op r10w, 15
	\op r11, 64 + 5                   /* immediate taken modulo the width */
	\op r12d, 200
	\op r13w, 17
.endm

SNIPPET bt_reg, F_CF | F_ZF
	BT_REG bt
END_SNIPPET bt_reg

SNIPPET bts_reg, F_CF | F_ZF
	BT_REG bts
END_SNIPPET bts_reg

SNIPPET btr_reg, F_CF | F_ZF
	BT_REG btr
END_SNIPPET btr_reg

SNIPPET btc_reg, F_CF | F_ZF
	BT_REG btc
END_SNIPPET btc_reg

/* Memory operand, immediate offset: modulo the width, never outside the operand. */
.macro BT_MEM_IMM op
	mov rbx, P
	\op qword ptr [rbx], 63
	\op dword ptr [rbx + 8], 37
	\op word ptr [rbx + 13], 21
	\op qword ptr [rbx + 0x1ffd - 0x1800], 70
.endm

SNIPPET bt_mem_imm, F_CF | F_ZF
	BT_MEM_IMM bt
	setc al
END_SNIPPET bt_mem_imm

SNIPPET bts_mem_imm, F_CF | F_ZF
	BT_MEM_IMM bts
END_SNIPPET bts_mem_imm

SNIPPET btr_mem_imm, F_CF | F_ZF
	BT_MEM_IMM btr
END_SNIPPET btr_mem_imm

SNIPPET btc_mem_imm, F_CF | F_ZF
	BT_MEM_IMM btc
END_SNIPPET btc_mem_imm

/*
 * Memory operand, register offset: a signed bit number relative to the operand's address.
 * The random offsets are confined to +-0x4000 bits (+-2 KiB) around P; 16-bit offsets may use
 * their full range (+-4 KiB).
 */
.macro BT_MEM_REG op
	mov rbx, P
	mov rcx, rax
	and rcx, 0x7fff
	sub rcx, 0x4000
	\op [rbx], rcx
	mov edx, esi
	and edx, 0x7fff
	sub edx, 0x4000
	\op [rbx + 4], edx
	\op [rbx + 2], di
	mov r8, -1
	\op [rbx], r8                     /* bit 7 of the byte below */
	mov r9d, 0x20
	\op [rbx + 1], r9d
	mov r10, -0x3fff
	\op [rbx], r10
.endm

SNIPPET bt_mem_reg, F_CF | F_ZF
	BT_MEM_REG bt
END_SNIPPET bt_mem_reg

SNIPPET bts_mem_reg, F_CF | F_ZF
	BT_MEM_REG bts
END_SNIPPET bts_mem_reg

SNIPPET btr_mem_reg, F_CF | F_ZF
	BT_MEM_REG btr
END_SNIPPET btr_mem_reg

SNIPPET btc_mem_reg, F_CF | F_ZF
	BT_MEM_REG btc
END_SNIPPET btc_mem_reg

SNIPPET lock_bts_btr_btc, F_CF | F_ZF
	mov rbx, P
	lock bts qword ptr [rbx], 5
	lock btr [rbx + 8], eax
	lock btc word ptr [rbx + 0xfff - 0x1800 + 0x1000], 3
END_SNIPPET lock_bts_btr_btc

SNIPPET bt_mem_pf, F_CF | F_ZF
	mov rbx, DT_DATA + DT_DATA_SIZE - 8
	mov rcx, 64
	bts [rbx], rcx                    /* the next qword is past the data: #PF */
END_SNIPPET bt_mem_pf

SNIPPET bsf_bsr_rr, F_ZF
	bsf rax, rbx
	bsf ecx, edx
	bsf si, di
	bsr r8, r9
	bsr r10d, r11d
	bsr r12w, r13w
END_SNIPPET bsf_bsr_rr

SNIPPET bsf_bsr_zero_source, F_ZF
	xor ebx, ebx
	bsf rax, rbx
	bsf ecx, ebx                      /* destination unchanged, upper half too */
	bsf dx, bx
	bsr rsi, rbx
	bsr edi, ebx
	bsr r8w, bx
	mov r9, 1
	bsf r10, r9
	bsr r11, r9
	mov r12, 0x8000000000000000
	bsf r13, r12
	bsr r14, r12
END_SNIPPET bsf_bsr_zero_source

SNIPPET bsf_bsr_mem, F_ZF
	mov rbx, P
	bsf rax, [rbx]
	bsr ecx, [rbx + 5]
	bsf dx, [rbx + 0xfff - 0x1800 + 0x1000]
	mov qword ptr [rbx + 16], 0
	bsr rsi, [rbx + 16]
	bsf edi, [rbx + 16]
END_SNIPPET bsf_bsr_mem

.macro COUNT_ALL op
	\op rax, rbx
	\op ecx, edx
	\op si, di
	xor r8d, r8d
	\op r9, r8
	\op r10d, r8d
	\op r11w, r8w
	mov r12, -1
	\op r13, r12
	\op r14d, r12d
	\op r15w, r12w
	mov rbx, P
	\op rbp, [rbx]
	\op eax, [rbx + 9]
	\op cx, [rbx + 0xfff - 0x1800 + 0x1000]
.endm

SNIPPET popcnt_all, F_ALL
	COUNT_ALL popcnt
END_SNIPPET popcnt_all

SNIPPET popcnt_zero_flags, F_ALL
	xor ecx, ecx
	popcnt rax, rcx
END_SNIPPET popcnt_zero_flags

SNIPPET lzcnt_all, F_CF | F_ZF
	COUNT_ALL lzcnt
END_SNIPPET lzcnt_all

SNIPPET tzcnt_all, F_CF | F_ZF
	COUNT_ALL tzcnt
END_SNIPPET tzcnt_all

SNIPPET lzcnt_tzcnt_flags, F_CF | F_ZF
	mov rbx, 0x8000000000000000
	lzcnt rax, rbx                    /* result 0: ZF */
	mov r8, 0
	adc r8, 0
	mov ecx, 1
	tzcnt edx, ecx                    /* result 0: ZF */
	mov r9, 0
	adc r9, 0
	xor esi, esi
	lzcnt di, si                      /* zero source: CF, result 16 */
	mov r10, 0
	adc r10, 0
	tzcnt r11, rsi
END_SNIPPET lzcnt_tzcnt_flags
