/*
 * Shifts and rotates: SHL/SAL, SHR, SAR, ROL, ROR, RCL, RCR, SHLD, SHRD (SDM vol. 2B "SAL/SAR/SHL/SHR",
 * "RCL/RCR/ROL/ROR", "SHLD", "SHRD").
 *
 * The count is masked to 5 bits (6 with a 64-bit operand); a masked count of 0 changes no flag.
 * RCL/RCR rotate through CF over width+1 bits (so 8- and 16-bit counts work modulo 9 and 17).
 * Where the SDM leaves a flag undefined we compute it deterministically: OF for counts above 1
 * uses the count-1 formula, AF is cleared, CF of SHL/SHR past the width is the bit the wide shift
 * would have moved out (0). SHLD/SHRD with a 16-bit operand and a count above 16 (undefined) shift
 * the 48-bit pattern dest:src:dest, as Intel parts do.
 *
 * No lazy-flags kind fits shifts, so they set all six arithmetic flags eagerly; since every one of
 * them is written, the stale lazy record never needs materializing (rotates do need it, as they
 * keep SF/ZF/PF/AF).
 */
#include "core.h"

static inline void flags_put(struct cpu *c, uint32_t v)
{
	c->lf.op = LF_NONE;
	c->s.rflags = (c->s.rflags & ~(uint64_t)F_ARITH) | (v & F_ARITH);
}

static inline uint32_t szp_flags(uint64_t r, unsigned size)
{
	return (r == 0 ? F_ZF : 0) | (parity8(r) ? F_PF : 0) | ((r >> (size * 8 - 1)) & 1 ? F_SF : 0);
}

/* Replaces CF and OF, keeping the other arithmetic flags. */
static inline void flags_put_cf_of(struct cpu *c, unsigned cf, unsigned of)
{
	uint32_t f = (uint32_t)flags_get(c) & ~(F_CF | F_OF);
	flags_put(c, f | (cf ? F_CF : 0) | (of ? F_OF : 0));
}

enum { S_ROL, S_ROR, S_RCL, S_RCR, S_SHL, S_SHR, S_SAR, S_COUNT_OPS };

static inline __attribute__((always_inline)) void shift_do(struct cpu *c, const struct insn *i, unsigned op,
							   bool mem, bool by_cl, unsigned size)
{
	const unsigned w = size * 8;
	const uint64_t m = size_mask(size);
	unsigned cnt = (by_cl ? (unsigned)c->s.gpr[R_RCX] : (unsigned)i->imm) & (size == 8 ? 63 : 31);
	uint64_t ea = 0, a, r;

	if (mem) {
		ea = insn_ea(c, i);
		a = mem_read(c, i->mem.seg, ea, size);
	} else {
		a = gpr_get(c, i->op[0].reg, size);
	}
	if (cnt == 0) {
		/* Nothing changes, except that a 32-bit register destination is still written. */
		if (!mem && size == 4)
			gpr_set(c, i->op[0].reg, 4, a);
		return;
	}

	unsigned cf, of;
	uint32_t fl = 0;
	switch (op) {
	case S_SHL:
		r = (a << cnt) & m;
		cf = cnt <= w ? (a >> (w - cnt)) & 1 : 0;
		of = ((r >> (w - 1)) & 1) ^ cf;
		fl = szp_flags(r, size);
		break;
	case S_SHR:
		r = a >> cnt;
		cf = (a >> (cnt - 1)) & 1;
		of = (a >> (w - 1)) & 1;
		fl = szp_flags(r, size);
		break;
	case S_SAR: {
		int64_t sa = (int64_t)sign_extend(a, size);
		r = (uint64_t)(sa >> cnt) & m;
		cf = (uint64_t)(sa >> (cnt - 1)) & 1;
		of = 0;
		fl = szp_flags(r, size);
		break;
	}
	case S_ROL: {
		unsigned rc = cnt & (w - 1);
		r = rc ? ((a << rc) | (a >> (w - rc))) & m : a;
		cf = r & 1;
		of = ((r >> (w - 1)) & 1) ^ cf;
		break;
	}
	case S_ROR: {
		unsigned rc = cnt & (w - 1);
		r = rc ? ((a >> rc) | (a << (w - rc))) & m : a;
		cf = (r >> (w - 1)) & 1;
		of = cf ^ ((r >> (w - 2)) & 1);
		break;
	}
	default: { /* RCL, RCR: rotate the (w+1)-bit value CF:dest */
		unsigned tc = size == 1 ? cnt % 9 : size == 2 ? cnt % 17 : cnt;
		unsigned old_cf = flag_cf(c);
		unsigned __int128 v = ((unsigned __int128)old_cf << w) | a;
		unsigned __int128 vm = ((unsigned __int128)1 << (w + 1)) - 1;
		if (tc) {
			if (op == S_RCL)
				v = ((v << tc) | (v >> (w + 1 - tc))) & vm;
			else
				v = ((v >> tc) | (v << (w + 1 - tc))) & vm;
		}
		r = (uint64_t)v & m;
		cf = (unsigned)(v >> w) & 1;
		if (op == S_RCL)
			of = ((r >> (w - 1)) & 1) ^ cf;
		else
			of = ((a >> (w - 1)) & 1) ^ old_cf;
		break;
	}
	}

	if (mem)
		mem_write(c, i->mem.seg, ea, size, r);
	else
		gpr_set(c, i->op[0].reg, size, r);
	if (op >= S_SHL)
		flags_put(c, fl | (cf ? F_CF : 0) | (of ? F_OF : 0));
	else
		flags_put_cf_of(c, cf, of);
}

#define SH_H(op, mem, cl, size)                                                          \
	static void sh_##op##_##mem##_##cl##_##size(struct cpu *c, const struct insn *i) \
	{                                                                                \
		shift_do(c, i, op, mem, cl, size);                                       \
	}
#define SH_H_SIZES(op, mem, cl) SH_H(op, mem, cl, 1) SH_H(op, mem, cl, 2) SH_H(op, mem, cl, 4) SH_H(op, mem, cl, 8)
#define SH_H_FORMS(op) SH_H_SIZES(op, 0, 0) SH_H_SIZES(op, 0, 1) SH_H_SIZES(op, 1, 0) SH_H_SIZES(op, 1, 1)
SH_H_FORMS(S_ROL)
SH_H_FORMS(S_ROR)
SH_H_FORMS(S_RCL)
SH_H_FORMS(S_RCR)
SH_H_FORMS(S_SHL)
SH_H_FORMS(S_SHR)
SH_H_FORMS(S_SAR)

#define SH_T_SIZES(op, mem, cl) \
	{ sh_##op##_##mem##_##cl##_1, sh_##op##_##mem##_##cl##_2, sh_##op##_##mem##_##cl##_4, sh_##op##_##mem##_##cl##_8 }
#define SH_T_FORMS(op) { { SH_T_SIZES(op, 0, 0), SH_T_SIZES(op, 0, 1) }, { SH_T_SIZES(op, 1, 0), SH_T_SIZES(op, 1, 1) } }

/* [op][mem][by_cl][size] */
static const insn_fn shift_table[S_COUNT_OPS][2][2][4] = {
	SH_T_FORMS(S_ROL), SH_T_FORMS(S_ROR), SH_T_FORMS(S_RCL), SH_T_FORMS(S_RCR),
	SH_T_FORMS(S_SHL), SH_T_FORMS(S_SHR), SH_T_FORMS(S_SAR),
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

/* The count operand: an immediate (including the implicit 1 of D0/D1) or CL. */
static int count_kind(const struct insn *i, int n)
{
	if (i->op[n].kind == OPK_IMM)
		return 0;
	if (i->op[n].kind == OPK_GPR && i->op[n].reg == R_RCX && i->op[n].size == 1)
		return 1;
	return -1;
}

static insn_fn shift_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	int op, sz = size_index(i->osize);
	switch (i->mnem) {
	case ZYDIS_MNEMONIC_ROL: op = S_ROL; break;
	case ZYDIS_MNEMONIC_ROR: op = S_ROR; break;
	case ZYDIS_MNEMONIC_RCL: op = S_RCL; break;
	case ZYDIS_MNEMONIC_RCR: op = S_RCR; break;
	case ZYDIS_MNEMONIC_SHL: op = S_SHL; break; /* Zydis names D0..D3 /6 (SAL) SHL too */
	case ZYDIS_MNEMONIC_SHR: op = S_SHR; break;
	case ZYDIS_MNEMONIC_SAR: op = S_SAR; break;
	default: return NULL;
	}
	if (sz < 0 || i->nops != 2 || (i->pfx & PFX_LOCK))
		return NULL;
	int ck = count_kind(i, 1);
	if (ck < 0 || (i->op[0].kind != OPK_GPR && i->op[0].kind != OPK_MEM))
		return NULL;
	return shift_table[op][i->op[0].kind == OPK_MEM][ck][sz];
}

/* ---- SHLD / SHRD ---- */

static inline __attribute__((always_inline)) void dshift_do(struct cpu *c, const struct insn *i, bool left,
							    unsigned size)
{
	const unsigned w = size * 8;
	const uint64_t m = size_mask(size);
	bool mem = i->op[0].kind == OPK_MEM;
	unsigned cnt = (i->op[2].kind == OPK_IMM ? (unsigned)i->imm : (unsigned)c->s.gpr[R_RCX]) & (size == 8 ? 63 : 31);
	uint64_t ea = 0, a, b = gpr_get(c, i->op[1].reg, size), r;
	unsigned cf;

	if (mem) {
		ea = insn_ea(c, i);
		a = mem_read(c, i->mem.seg, ea, size);
	} else {
		a = gpr_get(c, i->op[0].reg, size);
	}
	if (cnt == 0) {
		if (!mem && size == 4)
			gpr_set(c, i->op[0].reg, 4, a);
		return;
	}
	if (size == 2) {
		uint64_t v = a << 32 | b << 16 | a;
		if (left) {
			r = (v >> (32 - cnt)) & m;
			cf = (v >> (48 - cnt)) & 1;
		} else {
			r = (v >> cnt) & m;
			cf = (v >> (cnt - 1)) & 1;
		}
	} else if (left) {
		r = ((a << cnt) | (b >> (w - cnt))) & m;
		cf = (a >> (w - cnt)) & 1;
	} else {
		r = ((a >> cnt) | (b << (w - cnt))) & m;
		cf = (a >> (cnt - 1)) & 1;
	}
	unsigned of = ((r ^ a) >> (w - 1)) & 1;

	if (mem)
		mem_write(c, i->mem.seg, ea, size, r);
	else
		gpr_set(c, i->op[0].reg, size, r);
	flags_put(c, szp_flags(r, size) | (cf ? F_CF : 0) | (of ? F_OF : 0));
}

static void shld16(struct cpu *c, const struct insn *i)
{
	dshift_do(c, i, true, 2);
}

static void shld32(struct cpu *c, const struct insn *i)
{
	dshift_do(c, i, true, 4);
}

static void shld64(struct cpu *c, const struct insn *i)
{
	dshift_do(c, i, true, 8);
}

static void shrd16(struct cpu *c, const struct insn *i)
{
	dshift_do(c, i, false, 2);
}

static void shrd32(struct cpu *c, const struct insn *i)
{
	dshift_do(c, i, false, 4);
}

static void shrd64(struct cpu *c, const struct insn *i)
{
	dshift_do(c, i, false, 8);
}

static insn_fn dshift_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	static const insn_fn tab[2][3] = { { shrd16, shrd32, shrd64 }, { shld16, shld32, shld64 } };
	int sz = size_index(i->osize);
	if (sz < 1 || i->nops != 3 || (i->pfx & PFX_LOCK) || count_kind(i, 2) < 0 || i->op[1].kind != OPK_GPR)
		return NULL;
	if (i->op[0].kind != OPK_GPR && i->op[0].kind != OPK_MEM)
		return NULL;
	return tab[i->mnem == ZYDIS_MNEMONIC_SHLD][sz - 1];
}

void shift_init(void)
{
	static const ZydisMnemonic ops[] = {
		ZYDIS_MNEMONIC_ROL, ZYDIS_MNEMONIC_ROR, ZYDIS_MNEMONIC_RCL, ZYDIS_MNEMONIC_RCR,
		ZYDIS_MNEMONIC_SHL, ZYDIS_MNEMONIC_SHR, ZYDIS_MNEMONIC_SAR,
	};
	for (unsigned k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
		insn_register(ops[k], NULL, shift_select, 0);
	insn_register(ZYDIS_MNEMONIC_SHLD, NULL, dshift_select, 0);
	insn_register(ZYDIS_MNEMONIC_SHRD, NULL, dshift_select, 0);
}
