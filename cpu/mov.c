/*
 * Data movement: MOV (GPR, memory, immediate and moffs forms), LEA, NOP and friends.
 *
 * Also MOVZX/MOVSX/MOVSXD, XCHG, BSWAP, MOVBE, the CBW and CWD families, CMOVcc, SETcc, XLAT,
 * and the instructions that move nothing architecturally visible: NOP forms, PAUSE, prefetches,
 * cache-line flushes and fences.
 *
 * MOV's register/memory/immediate forms each get a specialised handler picked at decode time,
 * since MOV is the most frequent instruction by far. MOV to and from segment, control and debug
 * registers shares the mnemonic but belongs to the system family (seg.c, system.c); our selector
 * only routes those encodings to the handlers declared below.
 */
#include "core.h"

/* MOV to and from segment, control and debug registers is the system family's (seg.c, system.c). */
extern void mov_sreg_load(struct cpu *c, const struct insn *i);
extern void mov_sreg_store(struct cpu *c, const struct insn *i);
extern void mov_cr(struct cpu *c, const struct insn *i);
extern void mov_dr(struct cpu *c, const struct insn *i);

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

/* ---- extensions, exchanges, byte swaps ---- */

static void movzx(struct cpu *c, const struct insn *i)
{
	gpr_set(c, i->op[0].reg, i->op[0].size, op_get(c, i, 1));
}

/* MOVSX and MOVSXD (MOVSXD without REX.W is a plain 32-bit move, with 0x66 a 16-bit one). */
static void movsx(struct cpu *c, const struct insn *i)
{
	gpr_set(c, i->op[0].reg, i->op[0].size, sign_extend(op_get(c, i, 1), i->op[1].size));
}

static insn_fn movx_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops != 2 || i->op[0].kind != OPK_GPR || (i->op[1].kind != OPK_GPR && i->op[1].kind != OPK_MEM))
		return NULL;
	return i->mnem == ZYDIS_MNEMONIC_MOVZX ? movzx : movsx;
}

static void xchg_rr(struct cpu *c, const struct insn *i)
{
	unsigned size = i->op[0].size;
	uint64_t a = gpr_get(c, i->op[0].reg, size), b = gpr_get(c, i->op[1].reg, size);
	gpr_set(c, i->op[0].reg, size, b);
	gpr_set(c, i->op[1].reg, size, a);
}

/* XCHG with memory is a locked read-modify-write (SDM XCHG): the write access is checked first,
 * so a fault reports a write (as on hardware), and the register changes only after the store. */
static void xchg_mr(struct cpu *c, const struct insn *i)
{
	int r = i->op[0].kind == OPK_GPR ? 0 : 1;
	unsigned size = i->op[r].size;
	uint64_t ea = insn_ea(c, i);
	mem_probe_write(c, i->mem.seg, ea, size);
	uint64_t m = mem_read(c, i->mem.seg, ea, size);
	mem_write(c, i->mem.seg, ea, size, gpr_get(c, i->op[r].reg, size));
	gpr_set(c, i->op[r].reg, size, m);
}

static insn_fn xchg_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops != 2)
		return NULL;
	if (i->op[0].kind == OPK_GPR && i->op[1].kind == OPK_GPR)
		return xchg_rr;
	if ((i->op[0].kind == OPK_MEM && i->op[1].kind == OPK_GPR) ||
	    (i->op[0].kind == OPK_GPR && i->op[1].kind == OPK_MEM))
		return xchg_mr;
	return NULL;
}

static uint64_t bswap(uint64_t v, unsigned size)
{
	switch (size) {
	case 2: return __builtin_bswap16((uint16_t)v);
	case 4: return __builtin_bswap32((uint32_t)v);
	default: return __builtin_bswap64(v);
	}
}

/* BSWAP r16 is undefined in the SDM; Intel and AMD processors clear the low word. */
static void bswap_r(struct cpu *c, const struct insn *i)
{
	unsigned size = i->op[0].size, r = i->op[0].reg;
	gpr_set(c, r, size, size == 2 ? 0 : bswap(gpr_get(c, r, size), size));
}

static void movbe_load(struct cpu *c, const struct insn *i)
{
	unsigned size = i->op[0].size;
	gpr_set(c, i->op[0].reg, size, bswap(mem_read(c, i->mem.seg, insn_ea(c, i), size), size));
}

static void movbe_store(struct cpu *c, const struct insn *i)
{
	unsigned size = i->op[0].size;
	mem_write(c, i->mem.seg, insn_ea(c, i), size, bswap(gpr_get(c, i->op[1].reg, size), size));
}

static insn_fn movbe_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops != 2)
		return NULL;
	if (i->op[0].kind == OPK_GPR && i->op[1].kind == OPK_MEM)
		return movbe_load;
	if (i->op[0].kind == OPK_MEM && i->op[1].kind == OPK_GPR)
		return movbe_store;
	return NULL;
}

/* CBW / CWDE / CDQE: rAX = sign-extended lower half of itself. */
static void cbw(struct cpu *c, const struct insn *i)
{
	unsigned size = i->osize;
	gpr_set(c, R_RAX, size, sign_extend(gpr_get(c, R_RAX, size / 2), size / 2));
}

/* CWD / CDQ / CQO: rDX = copies of rAX's sign bit. */
static void cwd(struct cpu *c, const struct insn *i)
{
	unsigned size = i->osize;
	uint64_t sign = gpr_get(c, R_RAX, size) >> (size * 8 - 1);
	gpr_set(c, R_RDX, size, sign ? ~0ull : 0);
}

/* ---- CMOVcc, SETcc, XLAT ---- */

static const ZydisMnemonic cmov_mnem[16] = {
	ZYDIS_MNEMONIC_CMOVO, ZYDIS_MNEMONIC_CMOVNO, ZYDIS_MNEMONIC_CMOVB, ZYDIS_MNEMONIC_CMOVNB,
	ZYDIS_MNEMONIC_CMOVZ, ZYDIS_MNEMONIC_CMOVNZ, ZYDIS_MNEMONIC_CMOVBE, ZYDIS_MNEMONIC_CMOVNBE,
	ZYDIS_MNEMONIC_CMOVS, ZYDIS_MNEMONIC_CMOVNS, ZYDIS_MNEMONIC_CMOVP, ZYDIS_MNEMONIC_CMOVNP,
	ZYDIS_MNEMONIC_CMOVL, ZYDIS_MNEMONIC_CMOVNL, ZYDIS_MNEMONIC_CMOVLE, ZYDIS_MNEMONIC_CMOVNLE,
};

static const ZydisMnemonic setcc_mnem[16] = {
	ZYDIS_MNEMONIC_SETO, ZYDIS_MNEMONIC_SETNO, ZYDIS_MNEMONIC_SETB, ZYDIS_MNEMONIC_SETNB,
	ZYDIS_MNEMONIC_SETZ, ZYDIS_MNEMONIC_SETNZ, ZYDIS_MNEMONIC_SETBE, ZYDIS_MNEMONIC_SETNBE,
	ZYDIS_MNEMONIC_SETS, ZYDIS_MNEMONIC_SETNS, ZYDIS_MNEMONIC_SETP, ZYDIS_MNEMONIC_SETNP,
	ZYDIS_MNEMONIC_SETL, ZYDIS_MNEMONIC_SETNL, ZYDIS_MNEMONIC_SETLE, ZYDIS_MNEMONIC_SETNLE,
};

/* The source is read (and may fault) whatever the condition; a 32-bit destination is
 * zero-extended even when the condition is false (SDM CMOVcc). */
static void cmov(struct cpu *c, const struct insn *i)
{
	unsigned size = i->op[0].size, r = i->op[0].reg;
	uint64_t v = op_get(c, i, 1);
	gpr_set(c, r, size, cond_eval(c, i->sub) ? v : gpr_get(c, r, size));
}

static insn_fn cmov_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops != 2 || i->op[0].kind != OPK_GPR || (i->op[1].kind != OPK_GPR && i->op[1].kind != OPK_MEM))
		return NULL;
	i->sub = zi->opcode & 0xf;
	return cmov;
}

static void setcc(struct cpu *c, const struct insn *i)
{
	op_set(c, i, 0, cond_eval(c, i->sub));
}

static insn_fn setcc_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops != 1 || (i->op[0].kind != OPK_GPR && i->op[0].kind != OPK_MEM))
		return NULL;
	i->sub = zi->opcode & 0xf;
	return setcc;
}

/* AL = seg:[rBX + AL], the sum wrapping in the address size. */
static void xlat(struct cpu *c, const struct insn *i)
{
	uint64_t ea = (c->s.gpr[R_RBX] + (uint8_t)c->s.gpr[R_RAX]) & size_mask(i->asize);
	gpr_set(c, R_RAX, 1, mem_read(c, i->mem.seg, ea, 1));
}

/* The decoder drops the segment of hidden memory operands that name ES or SS; take XLAT's
 * source segment (DS or the override) from Zydis directly. */
static insn_fn xlat_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	for (unsigned k = 0; k < zi->operand_count; k++)
		if (zo[k].type == ZYDIS_OPERAND_TYPE_MEMORY && zo[k].mem.segment != ZYDIS_REGISTER_NONE)
			i->mem.seg = (uint8_t)ZydisRegisterGetId(zo[k].mem.segment);
	return xlat;
}

/* ---- no architectural effect ---- */

static void fence(struct cpu *c, const struct insn *i)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* CLFLUSH / CLFLUSHOPT / CLWB fault like a byte load (SDM CLFLUSH) and otherwise do nothing to
 * memory we model without caches. Prefetches never fault, so they are plain NOPs. */
static void clflush(struct cpu *c, const struct insn *i)
{
	mem_read(c, i->mem.seg, insn_ea(c, i), 1);
}

static void ud(struct cpu *c, const struct insn *i)
{
	cpu_ud(c);
}

void mov_init(void)
{
	insn_register(ZYDIS_MNEMONIC_MOV, NULL, mov_select, 0);
	insn_register(ZYDIS_MNEMONIC_LEA, NULL, lea_select, 0);
	insn_register(ZYDIS_MNEMONIC_NOP, nop, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_PAUSE, nop, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_ENDBR32, nop, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_ENDBR64, nop, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_PREFETCH, nop, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_PREFETCHNTA, nop, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_PREFETCHT0, nop, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_PREFETCHT1, nop, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_PREFETCHT2, nop, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_PREFETCHW, nop, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_CLFLUSH, clflush, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_CLFLUSHOPT, clflush, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_CLWB, clflush, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_LFENCE, fence, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_MFENCE, fence, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_SFENCE, fence, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_UD0, ud, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_UD1, ud, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_UD2, ud, NULL, 0);

	insn_register(ZYDIS_MNEMONIC_MOVZX, NULL, movx_select, 0);
	insn_register(ZYDIS_MNEMONIC_MOVSX, NULL, movx_select, 0);
	insn_register(ZYDIS_MNEMONIC_MOVSXD, NULL, movx_select, 0);
	insn_register(ZYDIS_MNEMONIC_XCHG, NULL, xchg_select, 0);
	insn_register(ZYDIS_MNEMONIC_BSWAP, bswap_r, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_MOVBE, NULL, movbe_select, 0);
	insn_register(ZYDIS_MNEMONIC_CBW, cbw, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_CWDE, cbw, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_CDQE, cbw, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_CWD, cwd, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_CDQ, cwd, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_CQO, cwd, NULL, 0);
	for (unsigned cc = 0; cc < 16; cc++) {
		insn_register(cmov_mnem[cc], NULL, cmov_select, 0);
		insn_register(setcc_mnem[cc], NULL, setcc_select, 0);
	}
	insn_register(ZYDIS_MNEMONIC_XLAT, NULL, xlat_select, 0);
}
