/*
 * Integer arithmetic and logic: ADD, ADC, SUB, SBB, AND, OR, XOR, CMP, TEST, INC, DEC, NEG, NOT,
 * XADD, CMPXCHG, CMPXCHG8B/16B, the BCD adjustments (DAA, DAS, AAA, AAS, AAM, AAD) and the flag
 * instructions (CLC, STC, CMC, LAHF, SAHF, CLD, STD). Flag semantics follow the SDM vol. 2
 * instruction pages; where it calls a flag undefined we pick something deterministic.
 *
 * The two-operand ALU ops are the most frequent instructions after MOV, so the selector picks a
 * handler specialised for operation, operand form (reg/reg, reg/imm, reg/mem, mem/reg, mem/imm)
 * and size; each is a few instructions plus a lazy-flags record (flags.c). LOCK is accepted on the
 * memory forms Zydis lets through; with one CPU thread a locked RMW is an ordinary RMW.
 *
 * Memory RMW forms compute the effective address once and record flags only after the write, so
 * a faulting write leaves all architectural state untouched.
 */
#include "core.h"

/* Sets all six arithmetic flags at once: the stale lazy record needs no materializing. */
static inline void flags_put(struct cpu *c, uint32_t v)
{
	c->lf.op = LF_NONE;
	c->s.rflags = (c->s.rflags & ~(uint64_t)F_ARITH) | (v & F_ARITH);
}

/* SF, ZF and PF of a result of the given size. */
static inline uint32_t szp_flags(uint64_t r, unsigned size)
{
	r &= size_mask(size);
	return (r == 0 ? F_ZF : 0) | (parity8(r) ? F_PF : 0) | ((r >> (size * 8 - 1)) & 1 ? F_SF : 0);
}

/* ---- the two-operand ALU ops ---- */

enum { A_ADD, A_OR, A_ADC, A_SBB, A_AND, A_SUB, A_XOR, A_CMP, A_TEST, A_COUNT };
enum { FORM_RR, FORM_RI, FORM_RM, FORM_MR, FORM_MI, FORM_COUNT };

static inline bool alu_writes(unsigned op)
{
	return op != A_CMP && op != A_TEST;
}

/* Carry in for ADC/SBB (read before anything overwrites the lazy record). */
static inline unsigned alu_cin(struct cpu *c, unsigned op)
{
	return (op == A_ADC || op == A_SBB) ? flag_cf(c) : 0;
}

static inline uint64_t alu_calc(unsigned op, uint64_t a, uint64_t b, unsigned cin)
{
	switch (op) {
	case A_ADD: return a + b;
	case A_ADC: return a + b + cin;
	case A_SUB:
	case A_CMP: return a - b;
	case A_SBB: return a - b - cin;
	case A_AND:
	case A_TEST: return a & b;
	case A_OR: return a | b;
	default: return a ^ b;
	}
}

static inline void alu_flags(struct cpu *c, unsigned op, unsigned size, uint64_t r, uint64_t a, uint64_t b,
			     unsigned cin)
{
	switch (op) {
	case A_ADD: lazy_set(c, LF_ADD, size, r, a, b); break;
	case A_ADC: c->lf.cin = cin; lazy_set(c, LF_ADC, size, r, a, b); break;
	case A_SUB:
	case A_CMP: lazy_set(c, LF_SUB, size, r, a, b); break;
	case A_SBB: c->lf.cin = cin; lazy_set(c, LF_SBB, size, r, a, b); break;
	default: lazy_set(c, LF_LOGIC, size, r, 0, 0); break;
	}
}

/* One ALU operation on an operand form; everything but c and i is a compile-time constant. */
static inline __attribute__((always_inline)) void alu_do(struct cpu *c, const struct insn *i, unsigned op,
							 unsigned form, unsigned size)
{
	uint64_t m = size_mask(size), a, b, ea = 0;
	unsigned cin = alu_cin(c, op);

	switch (form) {
	case FORM_RR:
		a = gpr_get(c, i->op[0].reg, size);
		b = gpr_get(c, i->op[1].reg, size);
		break;
	case FORM_RI:
		a = gpr_get(c, i->op[0].reg, size);
		b = i->imm & m;
		break;
	case FORM_RM:
		a = gpr_get(c, i->op[0].reg, size);
		b = mem_read(c, i->mem.seg, insn_ea(c, i), size);
		break;
	case FORM_MR:
		ea = insn_ea(c, i);
		a = mem_read(c, i->mem.seg, ea, size);
		b = gpr_get(c, i->op[1].reg, size);
		break;
	default:
		ea = insn_ea(c, i);
		a = mem_read(c, i->mem.seg, ea, size);
		b = i->imm & m;
		break;
	}
	uint64_t r = alu_calc(op, a, b, cin) & m;
	if (alu_writes(op)) {
		if (form == FORM_MR || form == FORM_MI)
			mem_write(c, i->mem.seg, ea, size, r);
		else
			gpr_set(c, i->op[0].reg, size, r);
	}
	alu_flags(c, op, size, r, a, b, cin);
}

#define ALU_H(op, form, size)                                                   \
	static void alu_##op##_##form##_##size(struct cpu *c, const struct insn *i) \
	{                                                                       \
		alu_do(c, i, op, form, size);                                   \
	}
#define ALU_H_SIZES(op, form) ALU_H(op, form, 1) ALU_H(op, form, 2) ALU_H(op, form, 4) ALU_H(op, form, 8)
#define ALU_H_FORMS(op)                                                                               \
	ALU_H_SIZES(op, FORM_RR) ALU_H_SIZES(op, FORM_RI) ALU_H_SIZES(op, FORM_RM) ALU_H_SIZES(op, FORM_MR) \
	ALU_H_SIZES(op, FORM_MI)
ALU_H_FORMS(A_ADD)
ALU_H_FORMS(A_OR)
ALU_H_FORMS(A_ADC)
ALU_H_FORMS(A_SBB)
ALU_H_FORMS(A_AND)
ALU_H_FORMS(A_SUB)
ALU_H_FORMS(A_XOR)
ALU_H_FORMS(A_CMP)
ALU_H_FORMS(A_TEST)

#define ALU_T_SIZES(op, form) { alu_##op##_##form##_1, alu_##op##_##form##_2, alu_##op##_##form##_4, alu_##op##_##form##_8 }
#define ALU_T_FORMS(op)                                                                                    \
	{ ALU_T_SIZES(op, FORM_RR), ALU_T_SIZES(op, FORM_RI), ALU_T_SIZES(op, FORM_RM), ALU_T_SIZES(op, FORM_MR), \
	  ALU_T_SIZES(op, FORM_MI) }

static const insn_fn alu_table[A_COUNT][FORM_COUNT][4] = {
	ALU_T_FORMS(A_ADD), ALU_T_FORMS(A_OR), ALU_T_FORMS(A_ADC), ALU_T_FORMS(A_SBB), ALU_T_FORMS(A_AND),
	ALU_T_FORMS(A_SUB), ALU_T_FORMS(A_XOR), ALU_T_FORMS(A_CMP), ALU_T_FORMS(A_TEST),
};

static int size_index(unsigned size)
{
	switch (size) {
	case 1: return 0;
	case 2: return 1;
	case 4: return 2;
	case 8: return 3;
	default: return -1;
	}
}

static int alu_op_of(unsigned mnem)
{
	switch (mnem) {
	case ZYDIS_MNEMONIC_ADD: return A_ADD;
	case ZYDIS_MNEMONIC_OR: return A_OR;
	case ZYDIS_MNEMONIC_ADC: return A_ADC;
	case ZYDIS_MNEMONIC_SBB: return A_SBB;
	case ZYDIS_MNEMONIC_AND: return A_AND;
	case ZYDIS_MNEMONIC_SUB: return A_SUB;
	case ZYDIS_MNEMONIC_XOR: return A_XOR;
	case ZYDIS_MNEMONIC_CMP: return A_CMP;
	case ZYDIS_MNEMONIC_TEST: return A_TEST;
	default: return -1;
	}
}

/* LOCK is only legal with a memory destination (Zydis already enforces this; cheap to re-check). */
static bool lock_ok(const struct insn *i)
{
	return !(i->pfx & PFX_LOCK) || i->op[0].kind == OPK_MEM;
}

static insn_fn alu_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	int op = alu_op_of(i->mnem), sz = size_index(i->osize), form;
	if (op < 0 || sz < 0 || i->nops != 2 || !lock_ok(i))
		return NULL;
	unsigned k0 = i->op[0].kind, k1 = i->op[1].kind;
	if (k0 == OPK_GPR && k1 == OPK_GPR)
		form = FORM_RR;
	else if (k0 == OPK_GPR && k1 == OPK_IMM)
		form = FORM_RI;
	else if (k0 == OPK_GPR && k1 == OPK_MEM)
		form = FORM_RM;
	else if (k0 == OPK_MEM && k1 == OPK_GPR)
		form = FORM_MR;
	else if (k0 == OPK_MEM && k1 == OPK_IMM)
		form = FORM_MI;
	else
		return NULL;
	return alu_table[op][form][sz];
}

/* ---- INC, DEC, NEG, NOT ---- */

enum { U_INC, U_DEC, U_NEG, U_NOT, U_COUNT };

static inline __attribute__((always_inline)) void unary_do(struct cpu *c, const struct insn *i, unsigned op,
							   bool mem, unsigned size)
{
	uint64_t m = size_mask(size), ea = 0, a, r;
	if (mem) {
		ea = insn_ea(c, i);
		a = mem_read(c, i->mem.seg, ea, size);
	} else {
		a = gpr_get(c, i->op[0].reg, size);
	}
	switch (op) {
	case U_INC: r = (a + 1) & m; break;
	case U_DEC: r = (a - 1) & m; break;
	case U_NEG: r = (0 - a) & m; break;
	default: r = ~a & m; break;
	}
	/* INC/DEC keep CF: read it before the write can change nothing, record it after. */
	unsigned cf = (op == U_INC || op == U_DEC) ? flag_cf(c) : 0;
	if (mem)
		mem_write(c, i->mem.seg, ea, size, r);
	else
		gpr_set(c, i->op[0].reg, size, r);
	switch (op) {
	case U_INC: c->lf.cin = cf; lazy_set(c, LF_INC, size, r, a, 1); break;
	case U_DEC: c->lf.cin = cf; lazy_set(c, LF_DEC, size, r, a, 1); break;
	case U_NEG: lazy_set(c, LF_SUB, size, r, 0, a); break;
	default: break; /* NOT: no flags */
	}
}

#define UN_H(op, mem, size)                                                    \
	static void un_##op##_##mem##_##size(struct cpu *c, const struct insn *i) \
	{                                                                      \
		unary_do(c, i, op, mem, size);                                 \
	}
#define UN_H_SIZES(op, mem) UN_H(op, mem, 1) UN_H(op, mem, 2) UN_H(op, mem, 4) UN_H(op, mem, 8)
#define UN_H_FORMS(op) UN_H_SIZES(op, 0) UN_H_SIZES(op, 1)
UN_H_FORMS(U_INC)
UN_H_FORMS(U_DEC)
UN_H_FORMS(U_NEG)
UN_H_FORMS(U_NOT)

#define UN_T_SIZES(op, mem) { un_##op##_##mem##_1, un_##op##_##mem##_2, un_##op##_##mem##_4, un_##op##_##mem##_8 }
#define UN_T_FORMS(op) { UN_T_SIZES(op, 0), UN_T_SIZES(op, 1) }

static const insn_fn unary_table[U_COUNT][2][4] = {
	UN_T_FORMS(U_INC), UN_T_FORMS(U_DEC), UN_T_FORMS(U_NEG), UN_T_FORMS(U_NOT),
};

static insn_fn unary_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	int op, sz = size_index(i->osize);
	switch (i->mnem) {
	case ZYDIS_MNEMONIC_INC: op = U_INC; break;
	case ZYDIS_MNEMONIC_DEC: op = U_DEC; break;
	case ZYDIS_MNEMONIC_NEG: op = U_NEG; break;
	case ZYDIS_MNEMONIC_NOT: op = U_NOT; break;
	default: return NULL;
	}
	if (sz < 0 || i->nops != 1 || !lock_ok(i))
		return NULL;
	if (i->op[0].kind == OPK_GPR)
		return unary_table[op][0][sz];
	if (i->op[0].kind == OPK_MEM)
		return unary_table[op][1][sz];
	return NULL;
}

/* ---- XADD, CMPXCHG, CMPXCHG8B, CMPXCHG16B ---- */

static void xadd(struct cpu *c, const struct insn *i)
{
	unsigned size = i->osize, src = i->op[1].reg;
	uint64_t m = size_mask(size), b = gpr_get(c, src, size), a, ea = 0;
	if (i->op[0].kind == OPK_MEM) {
		ea = insn_ea(c, i);
		a = mem_read(c, i->mem.seg, ea, size);
	} else {
		a = gpr_get(c, i->op[0].reg, size);
	}
	uint64_t r = (a + b) & m;
	/* SDM: TEMP = SRC + DEST; SRC = DEST; DEST = TEMP (so XADD r, r leaves the sum). */
	if (i->op[0].kind == OPK_MEM) {
		mem_write(c, i->mem.seg, ea, size, r);
		gpr_set(c, src, size, a);
	} else {
		gpr_set(c, src, size, a);
		gpr_set(c, i->op[0].reg, size, r);
	}
	lazy_set(c, LF_ADD, size, r, a, b);
}

static void cmpxchg(struct cpu *c, const struct insn *i)
{
	unsigned size = i->osize;
	uint64_t acc = gpr_get(c, R_RAX, size), src = gpr_get(c, i->op[1].reg, size), d, ea = 0;
	bool mem = i->op[0].kind == OPK_MEM;
	if (mem) {
		ea = insn_ea(c, i);
		d = mem_read(c, i->mem.seg, ea, size);
	} else {
		d = gpr_get(c, i->op[0].reg, size);
	}
	if (acc == d) {
		if (mem)
			mem_write(c, i->mem.seg, ea, size, src);
		else
			gpr_set(c, i->op[0].reg, size, src);
	} else {
		/* The processor always writes the destination (the old value back) when it is memory;
		 * a register destination is left alone and only the accumulator is loaded. */
		if (mem)
			mem_write(c, i->mem.seg, ea, size, d);
		gpr_set(c, R_RAX, size, d);
	}
	lazy_set(c, LF_SUB, size, (acc - d), acc, d);
}

static void set_zf_only(struct cpu *c, bool zf)
{
	uint64_t f = flags_get(c);
	flags_put(c, (uint32_t)((f & ~(uint64_t)F_ZF) | (zf ? F_ZF : 0)));
}

static void cmpxchg8b(struct cpu *c, const struct insn *i)
{
	uint64_t ea = insn_ea(c, i);
	uint64_t d = mem_read(c, i->mem.seg, ea, 8);
	uint64_t cmp = (uint32_t)c->s.gpr[R_RAX] | (c->s.gpr[R_RDX] << 32);
	if (d == cmp) {
		mem_write(c, i->mem.seg, ea, 8, (uint32_t)c->s.gpr[R_RBX] | (c->s.gpr[R_RCX] << 32));
		set_zf_only(c, true);
	} else {
		mem_write(c, i->mem.seg, ea, 8, d);
		gpr_set(c, R_RAX, 4, d);
		gpr_set(c, R_RDX, 4, d >> 32);
		set_zf_only(c, false);
	}
}

static void cmpxchg16b(struct cpu *c, const struct insn *i)
{
	unsigned seg = i->mem.seg;
	uint64_t ea = insn_ea(c, i), m = size_mask(i->asize);
	if ((c->sc[seg].base + ea) & 15)
		cpu_gp(c, 0);
	uint64_t lo = mem_read(c, seg, ea, 8), hi = mem_read(c, seg, (ea + 8) & m, 8);
	if (lo == c->s.gpr[R_RAX] && hi == c->s.gpr[R_RDX]) {
		/* 16-byte aligned: both halves are on one page, so the second write cannot fault alone. */
		mem_write(c, seg, ea, 8, c->s.gpr[R_RBX]);
		mem_write(c, seg, (ea + 8) & m, 8, c->s.gpr[R_RCX]);
		set_zf_only(c, true);
	} else {
		mem_write(c, seg, ea, 8, lo);
		mem_write(c, seg, (ea + 8) & m, 8, hi);
		c->s.gpr[R_RAX] = lo;
		c->s.gpr[R_RDX] = hi;
		set_zf_only(c, false);
	}
}

static insn_fn rmw_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (!lock_ok(i) || size_index(i->osize) < 0)
		return NULL;
	switch (i->mnem) {
	case ZYDIS_MNEMONIC_XADD: return xadd;
	case ZYDIS_MNEMONIC_CMPXCHG: return cmpxchg;
	case ZYDIS_MNEMONIC_CMPXCHG8B: return i->op[0].kind == OPK_MEM ? cmpxchg8b : NULL;
	case ZYDIS_MNEMONIC_CMPXCHG16B: return i->op[0].kind == OPK_MEM ? cmpxchg16b : NULL;
	default: return NULL;
	}
}

/* ---- BCD adjustments (legacy and compatibility modes only; Zydis rejects them in 64-bit) ---- */

static void daa(struct cpu *c, const struct insn *i)
{
	uint8_t al = (uint8_t)c->s.gpr[R_RAX], old_al = al;
	bool old_cf = flag_cf(c), af = flag_af(c), cf = false;
	if ((al & 0x0f) > 9 || af) {
		cf = old_cf || al > 0xf9;
		al += 6;
		af = true;
	} else {
		af = false;
	}
	if (old_al > 0x99 || old_cf) {
		al += 0x60;
		cf = true;
	} else {
		cf = false;
	}
	gpr_set(c, R_RAX, 1, al);
	flags_put(c, szp_flags(al, 1) | (cf ? F_CF : 0) | (af ? F_AF : 0));
}

static void das(struct cpu *c, const struct insn *i)
{
	uint8_t al = (uint8_t)c->s.gpr[R_RAX], old_al = al;
	bool old_cf = flag_cf(c), af = flag_af(c), cf = false;
	if ((al & 0x0f) > 9 || af) {
		cf = old_cf || al < 6;
		al -= 6;
		af = true;
	} else {
		af = false;
	}
	if (old_al > 0x99 || old_cf) {
		al -= 0x60;
		cf = true;
	}
	gpr_set(c, R_RAX, 1, al);
	flags_put(c, szp_flags(al, 1) | (cf ? F_CF : 0) | (af ? F_AF : 0));
}

/* AAA/AAS: SDM defines AF and CF; OF, SF, ZF, PF are undefined (we derive SF/ZF/PF from AL). */
static void aaa(struct cpu *c, const struct insn *i)
{
	uint16_t ax = (uint16_t)c->s.gpr[R_RAX];
	bool adj = (ax & 0x0f) > 9 || flag_af(c);
	if (adj)
		ax += 0x106;
	ax &= 0xff0f;
	gpr_set(c, R_RAX, 2, ax);
	flags_put(c, szp_flags(ax, 1) | (adj ? F_CF | F_AF : 0));
}

static void aas(struct cpu *c, const struct insn *i)
{
	uint16_t ax = (uint16_t)c->s.gpr[R_RAX];
	bool adj = (ax & 0x0f) > 9 || flag_af(c);
	if (adj) {
		ax -= 6;
		ax -= 0x100;
	}
	ax &= 0xff0f;
	gpr_set(c, R_RAX, 2, ax);
	flags_put(c, szp_flags(ax, 1) | (adj ? F_CF | F_AF : 0));
}

/* AAM/AAD: SF, ZF, PF from AL; OF, AF, CF undefined (cleared). */
static void aam(struct cpu *c, const struct insn *i)
{
	uint8_t base = (uint8_t)i->imm, al = (uint8_t)c->s.gpr[R_RAX];
	if (base == 0)
		cpu_raise_noerr(c, EXC_DE);
	uint8_t ah = al / base;
	al = al % base;
	gpr_set(c, R_RAX, 2, (uint16_t)(ah << 8 | al));
	flags_put(c, szp_flags(al, 1));
}

static void aad(struct cpu *c, const struct insn *i)
{
	uint8_t base = (uint8_t)i->imm, al = (uint8_t)c->s.gpr[R_RAX], ah = (uint8_t)(c->s.gpr[R_RAX] >> 8);
	al = (uint8_t)(al + ah * base);
	gpr_set(c, R_RAX, 2, al);
	flags_put(c, szp_flags(al, 1));
}

/* ---- flag instructions ---- */

static void clc(struct cpu *c, const struct insn *i)
{
	flags_put(c, (uint32_t)flags_get(c) & ~F_CF);
}

static void stc(struct cpu *c, const struct insn *i)
{
	flags_put(c, (uint32_t)flags_get(c) | F_CF);
}

static void cmc(struct cpu *c, const struct insn *i)
{
	flags_put(c, (uint32_t)flags_get(c) ^ F_CF);
}

static void cld(struct cpu *c, const struct insn *i)
{
	c->s.rflags &= ~(uint64_t)F_DF;
}

static void std_(struct cpu *c, const struct insn *i)
{
	c->s.rflags |= F_DF;
}

/* LAHF: AH = SF:ZF:0:AF:0:PF:1:CF. */
static void lahf(struct cpu *c, const struct insn *i)
{
	gpr_set(c, 16 + R_RAX, 1, (flags_get(c) & (F_SF | F_ZF | F_AF | F_PF | F_CF)) | 2);
}

/* SAHF: SF, ZF, AF, PF, CF from AH; OF unchanged. */
static void sahf(struct cpu *c, const struct insn *i)
{
	uint32_t ah = (uint8_t)(c->s.gpr[R_RAX] >> 8);
	uint32_t f = (uint32_t)flags_get(c);
	flags_put(c, (f & F_OF) | (ah & (F_SF | F_ZF | F_AF | F_PF | F_CF)));
}

void alu_init(void)
{
	static const ZydisMnemonic binops[] = {
		ZYDIS_MNEMONIC_ADD, ZYDIS_MNEMONIC_OR, ZYDIS_MNEMONIC_ADC, ZYDIS_MNEMONIC_SBB, ZYDIS_MNEMONIC_AND,
		ZYDIS_MNEMONIC_SUB, ZYDIS_MNEMONIC_XOR, ZYDIS_MNEMONIC_CMP, ZYDIS_MNEMONIC_TEST,
	};
	for (unsigned k = 0; k < sizeof(binops) / sizeof(binops[0]); k++)
		insn_register(binops[k], NULL, alu_select, 0);
	insn_register(ZYDIS_MNEMONIC_INC, NULL, unary_select, 0);
	insn_register(ZYDIS_MNEMONIC_DEC, NULL, unary_select, 0);
	insn_register(ZYDIS_MNEMONIC_NEG, NULL, unary_select, 0);
	insn_register(ZYDIS_MNEMONIC_NOT, NULL, unary_select, 0);
	insn_register(ZYDIS_MNEMONIC_XADD, NULL, rmw_select, 0);
	insn_register(ZYDIS_MNEMONIC_CMPXCHG, NULL, rmw_select, 0);
	insn_register(ZYDIS_MNEMONIC_CMPXCHG8B, NULL, rmw_select, 0);
	insn_register(ZYDIS_MNEMONIC_CMPXCHG16B, NULL, rmw_select, 0);
	insn_register(ZYDIS_MNEMONIC_DAA, daa, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_DAS, das, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_AAA, aaa, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_AAS, aas, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_AAM, aam, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_AAD, aad, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_CLC, clc, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_STC, stc, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_CMC, cmc, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_CLD, cld, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_STD, std_, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_LAHF, lahf, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_SAHF, sahf, NULL, 0);
}
