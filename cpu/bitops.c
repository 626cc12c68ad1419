/*
 * Bit instructions: BT/BTS/BTR/BTC, BSF/BSR, POPCNT, LZCNT, TZCNT (SDM vol. 2 under each name).
 *
 * Flags the SDM leaves undefined are left unchanged, which is what the processors we test
 * against do for BT*; differential tests compare only the defined ones.
 */
#include "core.h"

/* Sets CF and ZF (when zf_mask has F_ZF) and keeps the other arithmetic flags. */
static void set_cf_zf(struct cpu *c, bool cf, bool zf, uint32_t mask)
{
	uint32_t f = (uint32_t)flags_get(c) & ~mask;
	flags_set_arith(c, f | (cf ? F_CF : 0) | (zf ? F_ZF : 0));
}

/* ---- BT, BTS, BTR, BTC ---- */

enum { BT_TEST, BT_SET, BT_RESET, BT_COMPLEMENT };

static uint64_t bt_apply(unsigned op, uint64_t v, uint64_t bit)
{
	switch (op) {
	case BT_SET: return v | bit;
	case BT_RESET: return v & ~bit;
	case BT_COMPLEMENT: return v ^ bit;
	default: return v;
	}
}

/* Register destination, bit offset from a register or imm8: taken modulo the operand width. */
static void bt_reg(struct cpu *c, const struct insn *i)
{
	unsigned size = i->op[0].size;
	unsigned n = (unsigned)op_get(c, i, 1) & (size * 8 - 1);
	uint64_t v = gpr_get(c, i->op[0].reg, size), bit = 1ull << n;
	if (i->sub != BT_TEST)
		gpr_set(c, i->op[0].reg, size, bt_apply(i->sub, v, bit));
	set_cf_zf(c, v & bit, false, F_CF);
}

/*
 * Memory destination. An imm8 offset is taken modulo the width; a register offset is a signed
 * number that can address bits outside the operand: the operand-sized word that holds the bit is
 * at ea + (offset SAR log2(width)) * size (SDM BT, "bit base" addressing).
 */
static void bt_mem(struct cpu *c, const struct insn *i)
{
	unsigned size = i->op[0].size, width = size * 8;
	uint64_t ea = insn_ea(c, i), n;
	if (i->op[1].kind == OPK_IMM) {
		n = i->imm & (width - 1);
	} else {
		int64_t off = (int64_t)sign_extend(gpr_get(c, i->op[1].reg, size), size);
		int shift = __builtin_ctz(width);
		ea = (ea + (uint64_t)(off >> shift) * size) & size_mask(i->asize);
		n = (uint64_t)off & (width - 1);
	}
	/* BTS/BTR/BTC are read-modify-writes: a fault on the access reports a write. */
	if (i->sub != BT_TEST)
		mem_probe_write(c, i->mem.seg, ea, size);
	uint64_t v = mem_read(c, i->mem.seg, ea, size), bit = 1ull << n;
	if (i->sub != BT_TEST)
		mem_write(c, i->mem.seg, ea, size, bt_apply(i->sub, v, bit));
	set_cf_zf(c, v & bit, false, F_CF);
}

static insn_fn bt_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops != 2 || (i->op[1].kind != OPK_GPR && i->op[1].kind != OPK_IMM))
		return NULL;
	switch (i->mnem) {
	case ZYDIS_MNEMONIC_BTS: i->sub = BT_SET; break;
	case ZYDIS_MNEMONIC_BTR: i->sub = BT_RESET; break;
	case ZYDIS_MNEMONIC_BTC: i->sub = BT_COMPLEMENT; break;
	default: i->sub = BT_TEST; break;
	}
	if (i->op[0].kind == OPK_GPR)
		return bt_reg;
	if (i->op[0].kind == OPK_MEM)
		return bt_mem;
	return NULL;
}

/* ---- bit scans and counts ---- */

/* A zero source sets ZF and leaves the destination unchanged, all 64 bits of it (AMD documents
 * this; Intel calls the destination undefined). CF, OF, SF, AF, PF are undefined: kept. */
static void bsf(struct cpu *c, const struct insn *i)
{
	uint64_t v = op_get(c, i, 1);
	if (v)
		gpr_set(c, i->op[0].reg, i->op[0].size, (uint64_t)__builtin_ctzll(v));
	set_cf_zf(c, false, v == 0, F_ZF);
}

static void bsr(struct cpu *c, const struct insn *i)
{
	uint64_t v = op_get(c, i, 1);
	if (v)
		gpr_set(c, i->op[0].reg, i->op[0].size, (uint64_t)(63 - __builtin_clzll(v)));
	set_cf_zf(c, false, v == 0, F_ZF);
}

/* POPCNT clears OF, SF, AF, CF, PF and sets ZF for a zero source. */
static void popcnt(struct cpu *c, const struct insn *i)
{
	uint64_t v = op_get(c, i, 1);
	gpr_set(c, i->op[0].reg, i->op[0].size, (uint64_t)__builtin_popcountll(v));
	flags_set_arith(c, v ? 0 : F_ZF);
}

/* LZCNT / TZCNT: CF = source is zero (result = width), ZF = result is zero; OF, SF, AF, PF
 * undefined (kept). */
static void lzcnt(struct cpu *c, const struct insn *i)
{
	unsigned size = i->op[0].size, width = size * 8;
	uint64_t v = op_get(c, i, 1);
	unsigned n = v ? (unsigned)__builtin_clzll(v) - (64 - width) : width;
	gpr_set(c, i->op[0].reg, size, n);
	set_cf_zf(c, v == 0, n == 0, F_CF | F_ZF);
}

static void tzcnt(struct cpu *c, const struct insn *i)
{
	unsigned size = i->op[0].size, width = size * 8;
	uint64_t v = op_get(c, i, 1);
	unsigned n = v ? (unsigned)__builtin_ctzll(v) : width;
	gpr_set(c, i->op[0].reg, size, n);
	set_cf_zf(c, v == 0, n == 0, F_CF | F_ZF);
}

static insn_fn scan_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops != 2 || i->op[0].kind != OPK_GPR || (i->op[1].kind != OPK_GPR && i->op[1].kind != OPK_MEM))
		return NULL;
	switch (i->mnem) {
	case ZYDIS_MNEMONIC_BSF: return bsf;
	case ZYDIS_MNEMONIC_BSR: return bsr;
	case ZYDIS_MNEMONIC_POPCNT: return popcnt;
	case ZYDIS_MNEMONIC_LZCNT: return lzcnt;
	case ZYDIS_MNEMONIC_TZCNT: return tzcnt;
	}
	return NULL;
}

void bitops_init(void)
{
	insn_register(ZYDIS_MNEMONIC_BT, NULL, bt_select, 0);
	insn_register(ZYDIS_MNEMONIC_BTS, NULL, bt_select, 0);
	insn_register(ZYDIS_MNEMONIC_BTR, NULL, bt_select, 0);
	insn_register(ZYDIS_MNEMONIC_BTC, NULL, bt_select, 0);
	insn_register(ZYDIS_MNEMONIC_BSF, NULL, scan_select, 0);
	insn_register(ZYDIS_MNEMONIC_BSR, NULL, scan_select, 0);
	insn_register(ZYDIS_MNEMONIC_POPCNT, NULL, scan_select, 0);
	insn_register(ZYDIS_MNEMONIC_LZCNT, NULL, scan_select, 0);
	insn_register(ZYDIS_MNEMONIC_TZCNT, NULL, scan_select, 0);
}
