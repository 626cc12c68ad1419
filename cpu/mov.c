/*
 * Data movement: MOV (GPR, memory, immediate and moffs forms), LEA, NOP and friends.
 *
 * MOV's register/memory/immediate forms each get a specialised handler picked at decode time,
 * since MOV is the most frequent instruction by far. MOV to and from segment, control and debug
 * registers shares the mnemonic but belongs to the system family (seg.c, system.c); our selector
 * only routes those encodings to the handlers declared below.
 */
#include "core.h"

/*
 * Implemented by the system family. The weak definitions here only keep the library linkable
 * until those land: they raise #UD, and the strong definitions in seg.c / system.c replace them.
 */
extern void mov_sreg_load(struct cpu *c, const struct insn *i);
extern void mov_sreg_store(struct cpu *c, const struct insn *i);
extern void mov_cr(struct cpu *c, const struct insn *i);
extern void mov_dr(struct cpu *c, const struct insn *i);

__attribute__((weak)) void mov_sreg_load(struct cpu *c, const struct insn *i)
{
	cpu_ud(c);
}

__attribute__((weak)) void mov_sreg_store(struct cpu *c, const struct insn *i)
{
	cpu_ud(c);
}

__attribute__((weak)) void mov_cr(struct cpu *c, const struct insn *i)
{
	cpu_ud(c);
}

__attribute__((weak)) void mov_dr(struct cpu *c, const struct insn *i)
{
	cpu_ud(c);
}

/* ---- MOV ---- */

static void mov_rr64(struct cpu *c, const struct insn *i)
{
	c->s.gpr[i->op[0].reg] = c->s.gpr[i->op[1].reg];
}

static void mov_rr32(struct cpu *c, const struct insn *i)
{
	c->s.gpr[i->op[0].reg] = (uint32_t)c->s.gpr[i->op[1].reg];
}

static void mov_rr(struct cpu *c, const struct insn *i)
{
	gpr_set(c, i->op[0].reg, i->op[0].size, gpr_get(c, i->op[1].reg, i->op[1].size));
}

static void mov_rm64(struct cpu *c, const struct insn *i)
{
	c->s.gpr[i->op[0].reg] = mem_read(c, i->mem.seg, insn_ea(c, i), 8);
}

static void mov_rm(struct cpu *c, const struct insn *i)
{
	gpr_set(c, i->op[0].reg, i->op[0].size, mem_read(c, i->mem.seg, insn_ea(c, i), i->op[0].size));
}

static void mov_mr(struct cpu *c, const struct insn *i)
{
	mem_write(c, i->mem.seg, insn_ea(c, i), i->op[0].size, gpr_get(c, i->op[1].reg, i->op[1].size));
}

static void mov_ri64(struct cpu *c, const struct insn *i)
{
	c->s.gpr[i->op[0].reg] = i->imm;
}

static void mov_ri(struct cpu *c, const struct insn *i)
{
	gpr_set(c, i->op[0].reg, i->op[0].size, i->imm);
}

static void mov_mi(struct cpu *c, const struct insn *i)
{
	mem_write(c, i->mem.seg, insn_ea(c, i), i->op[0].size, i->imm);
}

static insn_fn mov_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops != 2)
		return NULL;
	unsigned d = i->op[0].kind, s = i->op[1].kind;
	switch (d) {
	case OPK_GPR:
		switch (s) {
		case OPK_GPR:
			if (i->op[0].size != i->op[1].size)
				return NULL;
			return i->op[0].size == 8 ? mov_rr64 : i->op[0].size == 4 ? mov_rr32 : mov_rr;
		case OPK_MEM: return i->op[0].size == 8 ? mov_rm64 : mov_rm;
		case OPK_IMM: return i->op[0].size == 8 ? mov_ri64 : mov_ri;
		case OPK_SEG: return mov_sreg_store;
		case OPK_CR: return mov_cr;
		case OPK_DR: return mov_dr;
		}
		return NULL;
	case OPK_MEM:
		switch (s) {
		case OPK_GPR: return mov_mr;
		case OPK_IMM: return mov_mi;
		case OPK_SEG: return mov_sreg_store;
		}
		return NULL;
	case OPK_SEG:
		/* Loading SS blocks interrupts for one instruction; any segment load may change mode. */
		i->flags |= INSN_ENDS_BLOCK;
		return mov_sreg_load;
	case OPK_CR:
		i->flags |= INSN_ENDS_BLOCK;
		return mov_cr;
	case OPK_DR:
		i->flags |= INSN_ENDS_BLOCK;
		return mov_dr;
	}
	return NULL;
}

/* ---- LEA, NOP ---- */

/* The address is computed in the address size and then truncated or zero-extended to the operand
 * size (SDM LEA, table 3-54); no memory is accessed and no segment applies. */
static void lea(struct cpu *c, const struct insn *i)
{
	gpr_set(c, i->op[0].reg, i->op[0].size, insn_ea(c, i));
}

static insn_fn lea_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops != 2 || i->op[0].kind != OPK_GPR || i->op[1].kind != OPK_MEM)
		return NULL;
	return lea;
}

/* NOP, multi-byte NOP (0F 1F /0: the memory operand is never accessed), PAUSE, fences. */
static void nop(struct cpu *c, const struct insn *i)
{
}

void mov_init(void)
{
	insn_register(ZYDIS_MNEMONIC_MOV, NULL, mov_select, 0);
	insn_register(ZYDIS_MNEMONIC_LEA, NULL, lea_select, 0);
	insn_register(ZYDIS_MNEMONIC_NOP, nop, NULL, 0);
}
