/*
 * Near control transfers: JMP, Jcc, CALL, RET, JCXZ/JECXZ/JRCXZ and LOOP/LOOPE/LOOPNE.
 *
 * A near branch's target is truncated to the operand size (16-bit code wraps at 64 KiB) and then
 * checked before anything else changes: outside 64-bit mode against the CS limit, in 64-bit mode
 * for canonical form; either failure is #GP(0) at the branch itself (SDM vol. 2A, JMP/Jcc/CALL;
 * vol. 2B, RET). In 64-bit mode the operand size of near branches is always 64 bits: Intel
 * processors ignore a 0x66 prefix there (AMD's do not) and so does the Zydis decoder by default.
 *
 * Far JMP/CALL/RET share mnemonics with the near forms; the selectors route them to the handlers
 * of the protection family (far.c).
 */
#include "core.h"

/* Far transfers are the protection family's (far.c). */
extern void far_jmp(struct cpu *c, const struct insn *i);
extern void far_call(struct cpu *c, const struct insn *i);
extern void far_ret(struct cpu *c, const struct insn *i);

static inline bool canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/* Validates a target for the operand size osize and returns it truncated; raises #GP(0). */
static inline uint64_t near_target(struct cpu *c, uint64_t t, unsigned osize)
{
	if (c->mode == CPU_MODE_LONG64) {
		if (unlikely(!canonical(t)))
			cpu_gp(c, 0);
		return t;
	}
	t &= size_mask(osize);
	if (unlikely(t > c->s.seg[S_CS].limit))
		cpu_gp(c, 0);
	return t;
}

/* ---- Jcc ---- */

/*
 * Jcc does not end its block: decoding goes on along the not-taken path, and a taken Jcc leaves
 * the block (exit_block), so runs of code with rarely taken branches execute as one block.
 */

/* 64-bit Jcc, one handler per condition so the common conditions are evaluated inline. */
#define JCC64(cc)                                                            \
	static void jcc64_##cc(struct cpu *c, const struct insn *i)          \
	{                                                                    \
		if (cond_fast(c, cc)) {                                      \
			uint64_t t = c->next_rip + i->imm;                   \
			if (unlikely(!canonical(t)))                         \
				cpu_gp(c, 0);                                \
			c->next_rip = t;                                     \
			c->exit_block = 1;                                   \
		}                                                            \
	}
JCC64(0) JCC64(1) JCC64(2) JCC64(3) JCC64(4) JCC64(5) JCC64(6) JCC64(7)
JCC64(8) JCC64(9) JCC64(10) JCC64(11) JCC64(12) JCC64(13) JCC64(14) JCC64(15)

static const insn_fn jcc64_fn[16] = {
	jcc64_0, jcc64_1, jcc64_2, jcc64_3, jcc64_4, jcc64_5, jcc64_6, jcc64_7,
	jcc64_8, jcc64_9, jcc64_10, jcc64_11, jcc64_12, jcc64_13, jcc64_14, jcc64_15,
};

static void jcc(struct cpu *c, const struct insn *i)
{
	if (cond_eval(c, i->sub)) {
		c->next_rip = near_target(c, c->next_rip + i->imm, i->osize);
		c->exit_block = 1;
	}
}

static insn_fn jcc_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	/* 70+cc and 0F 80+cc: the low opcode nibble is the condition (SDM vol. 2 §B.1.4.7). */
	i->sub = i->opcode & 0xf;
	return zi->machine_mode == ZYDIS_MACHINE_MODE_LONG_64 ? jcc64_fn[i->sub] : jcc;
}

/* ---- JMP ---- */

static void jmp_rel64(struct cpu *c, const struct insn *i)
{
	uint64_t t = c->next_rip + i->imm;
	if (unlikely(!canonical(t)))
		cpu_gp(c, 0);
	c->next_rip = t;
}

static void jmp_rel(struct cpu *c, const struct insn *i)
{
	c->next_rip = near_target(c, c->next_rip + i->imm, i->osize);
}

static void jmp_rm(struct cpu *c, const struct insn *i)
{
	c->next_rip = near_target(c, op_get(c, i, 0), i->osize);
}

static insn_fn jmp_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (zi->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR)
		return far_jmp;
	if (i->op[0].kind == OPK_REL)
		return zi->machine_mode == ZYDIS_MACHINE_MODE_LONG_64 ? jmp_rel64 : jmp_rel;
	return jmp_rm;
}

/* ---- CALL ---- */

static void call_rel64(struct cpu *c, const struct insn *i)
{
	uint64_t t = c->next_rip + i->imm;
	if (unlikely(!canonical(t)))
		cpu_gp(c, 0);
	uint64_t sp = c->s.gpr[R_RSP] - 8;
	mem_write(c, S_SS, sp, 8, c->next_rip);
	c->s.gpr[R_RSP] = sp;
	c->next_rip = t;
}

static void call_rel(struct cpu *c, const struct insn *i)
{
	uint64_t t = near_target(c, c->next_rip + i->imm, i->osize);
	push(c, i->osize, c->next_rip);
	c->next_rip = t;
}

/* CALL r/m reads its target (with the old RSP) and checks it before pushing. */
static void call_rm(struct cpu *c, const struct insn *i)
{
	uint64_t t = near_target(c, op_get(c, i, 0), i->osize);
	push(c, i->osize, c->next_rip);
	c->next_rip = t;
}

static insn_fn call_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (zi->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR)
		return far_call;
	if (i->op[0].kind == OPK_REL)
		return zi->machine_mode == ZYDIS_MACHINE_MODE_LONG_64 ? call_rel64 : call_rel;
	return call_rm;
}

/* ---- RET ---- */

static void ret64(struct cpu *c, const struct insn *i)
{
	uint64_t t = mem_read(c, S_SS, c->s.gpr[R_RSP], 8);
	if (unlikely(!canonical(t)))
		cpu_gp(c, 0);
	c->s.gpr[R_RSP] += 8;
	c->next_rip = t;
}

/* RET and RET imm16: RSP moves only once the return address has been validated. */
static void ret_near(struct cpu *c, const struct insn *i)
{
	unsigned n = i->osize;
	uint64_t mask = size_mask(c->stack_size);
	uint64_t sp = c->s.gpr[R_RSP] & mask;
	uint64_t t = near_target(c, mem_read(c, S_SS, sp, n), n);
	uint64_t imm = i->nops ? (i->imm & 0xffff) : 0;
	gpr_set(c, R_RSP, c->stack_size, sp + n + imm);
	c->next_rip = t;
}

static insn_fn ret_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (zi->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR)
		return far_ret;
	if (zi->machine_mode == ZYDIS_MACHINE_MODE_LONG_64 && i->nops == 0)
		return ret64;
	return ret_near;
}

/* ---- JCXZ / LOOP: the counter is CX, ECX or RCX by address size ---- */

static void jcxz(struct cpu *c, const struct insn *i)
{
	if (gpr_get(c, R_RCX, i->asize) == 0)
		c->next_rip = near_target(c, c->next_rip + i->imm, i->osize);
}

/* i->sub: 0 LOOP, 1 LOOPE, 2 LOOPNE. The counter is written only after the target is
 * validated, so a faulting LOOP can be restarted. */
static void loop(struct cpu *c, const struct insn *i)
{
	uint64_t cnt = (gpr_get(c, R_RCX, i->asize) - 1) & size_mask(i->asize);
	bool take = cnt != 0;
	if (take && i->sub)
		take = flag_zf(c) == (i->sub == 1);
	if (take)
		c->next_rip = near_target(c, c->next_rip + i->imm, i->osize);
	gpr_set(c, R_RCX, i->asize, cnt);
}

static insn_fn loop_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	i->sub = i->mnem == ZYDIS_MNEMONIC_LOOPE ? 1 : i->mnem == ZYDIS_MNEMONIC_LOOPNE ? 2 : 0;
	return loop;
}

void branch_init(void)
{
	static const ZydisMnemonic jccs[] = {
		ZYDIS_MNEMONIC_JO, ZYDIS_MNEMONIC_JNO, ZYDIS_MNEMONIC_JB, ZYDIS_MNEMONIC_JNB,
		ZYDIS_MNEMONIC_JZ, ZYDIS_MNEMONIC_JNZ, ZYDIS_MNEMONIC_JBE, ZYDIS_MNEMONIC_JNBE,
		ZYDIS_MNEMONIC_JS, ZYDIS_MNEMONIC_JNS, ZYDIS_MNEMONIC_JP, ZYDIS_MNEMONIC_JNP,
		ZYDIS_MNEMONIC_JL, ZYDIS_MNEMONIC_JNL, ZYDIS_MNEMONIC_JLE, ZYDIS_MNEMONIC_JNLE,
	};
	for (unsigned k = 0; k < sizeof(jccs) / sizeof(jccs[0]); k++)
		insn_register(jccs[k], jcc, jcc_select, 0);
	insn_register(ZYDIS_MNEMONIC_JMP, jmp_rel, jmp_select, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_CALL, call_rel, call_select, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_RET, ret_near, ret_select, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_JCXZ, jcxz, NULL, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_JECXZ, jcxz, NULL, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_JRCXZ, jcxz, NULL, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_LOOP, loop, loop_select, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_LOOPE, loop, loop_select, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_LOOPNE, loop, loop_select, INSN_ENDS_BLOCK);
}
