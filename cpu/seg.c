/*
 * Segmentation: descriptor tables, segment register loads and the instructions that inspect or
 * load segments and system segments (SDM vol. 3 ch. 3 and §5.1-5.10; vol. 2 pages of MOV, LDS,
 * LAR, LSL, VERR/VERW, ARPL, SLDT/STR/LLDT/LTR).
 *
 * A segment register's hidden part is kept in struct cpu_seg (cpu.h). A null selector loaded into a
 * data segment register makes it unusable, which we record as attr = 0 (P clear); the MMU's
 * seg_cache_update() turns that into "every access faults" outside 64-bit mode.
 *
 * Also here: struct stk, pushes and pops on an explicit stack segment for except.c and far.c,
 * which must build a frame on a stack that is not yet the current one and must not commit RSP
 * before every access has succeeded.
 */
#include "seg.h"

/* ---- descriptor tables ---- */

static uint64_t lin_mask(const struct cpu *c, uint64_t la)
{
	return cpu_long_mode(c) ? la : (uint32_t)la;
}

/* Linear address of the descriptor for sel (len bytes long), or false past the table's limit. */
static bool desc_addr(struct cpu *c, uint16_t sel, unsigned len, uint64_t *la)
{
	uint64_t base;
	uint32_t limit;
	if (sel & 4) {
		const struct cpu_seg *ldt = &c->s.seg[S_LDTR];
		if (!(ldt->attr & SEG_ATTR_P) || !(ldt->sel & 0xfffc))
			return false;
		base = ldt->base;
		limit = ldt->limit;
	} else {
		base = c->s.gdtr.base;
		limit = c->s.gdtr.limit;
	}
	uint32_t off = sel & 0xfff8;
	if (off + len - 1 > limit)
		return false;
	*la = lin_mask(c, base + off);
	return true;
}

bool desc_read_la(struct cpu *c, uint16_t sel, uint64_t *desc, uint64_t *la)
{
	if (!desc_addr(c, sel, 8, la))
		return false;
	*desc = lin_read(c, *la, 8, true);
	return true;
}

bool desc_read(struct cpu *c, uint16_t sel, uint64_t *desc)
{
	uint64_t la;
	return desc_read_la(c, sel, desc, &la);
}

bool desc_read16(struct cpu *c, uint16_t sel, uint64_t *lo, uint64_t *hi)
{
	uint64_t la;
	if (!desc_addr(c, sel, 16, &la))
		return false;
	*lo = lin_read(c, la, 8, true);
	*hi = lin_read(c, la + 8, 8, true);
	return true;
}

void desc_to_seg(uint64_t desc, uint16_t sel, struct cpu_seg *s)
{
	s->sel = sel;
	s->base = desc_base(desc);
	s->limit = desc_limit(desc);
	s->attr = desc_attr(desc);
}

/* The processor sets the accessed bit with a locked write of the type byte (SDM vol. 3 §3.4.5.1). */
void desc_set_accessed(struct cpu *c, uint64_t la, uint64_t desc)
{
	if (!(desc & (1ull << 40)))
		lin_write(c, la + 5, 1, ((desc >> 40) & 0xff) | 1, true);
}

void seg_set_null(struct cpu *c, unsigned sreg, uint16_t sel)
{
	struct cpu_seg *s = &c->s.seg[sreg];
	s->sel = sel;
	s->limit = 0;
	s->attr = 0;
	/* A null SS (64-bit mode only) still carries the CPL in its DPL, as Intel CPUs keep it. */
	if (sreg == S_SS)
		s->attr = (sel & 3) << SEG_ATTR_DPL_SHIFT;
	/* FS/GS bases are MSRs in 64-bit mode; Intel clears them on a null load from MOV/POP. */
	s->base = 0;
}

static void seg_loaded(struct cpu *c, unsigned sreg)
{
	if (sreg <= S_GS)
		seg_cache_update(c, sreg);
	if (sreg == S_CS || sreg == S_SS)
		cpu_mode_changed(c);
}

void seg_set_cs(struct cpu *c, uint16_t sel, uint64_t desc, uint64_t la, unsigned cpl)
{
	desc_set_accessed(c, la, desc);
	desc_to_seg(desc | (1ull << 40), (sel & 0xfffc) | cpl, &c->s.seg[S_CS]);
	seg_cache_update(c, S_CS);
}

void seg_check_ss(struct cpu *c, uint16_t sel, unsigned cpl, int vec, uint32_t ext, uint64_t *desc, uint64_t *la)
{
	if (!(sel & 0xfffc))
		cpu_raise(c, vec, ext);
	uint32_t err = (sel & 0xfffc) | ext;
	if (!desc_read_la(c, sel, desc, la))
		cpu_raise(c, vec, err);
	if ((sel & 3) != cpl || !desc_data_w(*desc) || desc_dpl(*desc) != cpl)
		cpu_raise(c, vec, err);
	if (!desc_p(*desc))
		cpu_raise(c, EXC_SS, err);
}

void seg_drop_inaccessible(struct cpu *c, unsigned cpl)
{
	static const uint8_t regs[] = { S_ES, S_DS, S_FS, S_GS };
	for (unsigned k = 0; k < sizeof(regs); k++) {
		struct cpu_seg *s = &c->s.seg[regs[k]];
		if (!(s->attr & SEG_ATTR_P) || !(s->attr & SEG_ATTR_S))
			continue;
		bool conforming_code = (s->attr & 0xc) == 0xc;
		unsigned dpl = (s->attr & SEG_ATTR_DPL) >> SEG_ATTR_DPL_SHIFT;
		if (!conforming_code && dpl < cpl) {
			uint64_t base = s->base;
			seg_set_null(c, regs[k], 0);
			if (c->mode == CPU_MODE_LONG64 && regs[k] >= S_FS)
				s->base = base;
			seg_cache_update(c, regs[k]);
		}
	}
}

/* ---- segment register loads ---- */

void seg_load_real(struct cpu *c, unsigned sreg, uint16_t sel)
{
	struct cpu_seg *s = &c->s.seg[sreg];
	s->sel = sel;
	s->base = (uint64_t)sel << 4;
	if (c->s.rflags & F_VM) {
		/* Virtual-8086 segments: 64 KiB, DPL 3, read/write accessed (SDM vol. 3 §20.1.1). */
		s->limit = 0xffff;
		s->attr = SEG_ATTR_P | SEG_ATTR_S | (3 << SEG_ATTR_DPL_SHIFT) | 3;
	} else if (!(s->attr & SEG_ATTR_P)) {
		/* Real mode keeps the limit and attributes ("unreal mode") but a segment left unusable
		 * by protected mode becomes usable again. */
		s->attr = SEG_ATTR_P | SEG_ATTR_S | (sreg == S_CS ? 0xb : 3);
	}
	seg_loaded(c, sreg);
}

void seg_load(struct cpu *c, unsigned sreg, uint16_t sel)
{
	if (!cpu_protected(c)) {
		seg_load_real(c, sreg, sel);
		return;
	}
	unsigned rpl = sel & 3, cpl = c->cpl;
	uint32_t err = sel & 0xfffc;
	if (!err) {
		if (sreg == S_SS && (c->mode != CPU_MODE_LONG64 || cpl == 3 || rpl != cpl))
			cpu_gp(c, 0);
		seg_set_null(c, sreg, sel);
		seg_loaded(c, sreg);
		return;
	}
	uint64_t d, la;
	if (!desc_read_la(c, sel, &d, &la))
		cpu_gp(c, err);
	if (sreg == S_SS) {
		if (rpl != cpl || !desc_data_w(d) || desc_dpl(d) != cpl)
			cpu_gp(c, err);
		if (!desc_p(d))
			cpu_raise(c, EXC_SS, err);
	} else {
		if (!desc_s(d) || (desc_code(d) && !(desc_type(d) & 2)))
			cpu_gp(c, err);
		if (!desc_conforming(d) && (rpl > desc_dpl(d) || cpl > desc_dpl(d)))
			cpu_gp(c, err);
		if (!desc_p(d))
			cpu_raise(c, EXC_NP, err);
	}
	desc_set_accessed(c, la, d);
	desc_to_seg(d | (1ull << 40), sel, &c->s.seg[sreg]);
	seg_loaded(c, sreg);
}

/* ---- stacks ---- */

void stk_init(struct cpu *c, struct stk *st, const struct cpu_seg *ss, uint64_t rsp, unsigned ssize, bool sys,
	      uint32_t err)
{
	st->mask = size_mask(ssize);
	st->sp = rsp & st->mask;
	st->base = ss->base;
	st->lm = ssize == 8;
	st->check = !st->lm;
	st->sys = sys;
	st->err = err;
	unsigned type = ss->attr & SEG_ATTR_TYPE;
	if ((ss->attr & SEG_ATTR_S) && (type & 0xc) == 4) {
		st->lo = (uint64_t)ss->limit + 1;
		st->hi = (ss->attr & SEG_ATTR_DB) ? 0xffffffff : 0xffff;
	} else {
		st->lo = 0;
		st->hi = ss->limit;
	}
}

static uint64_t stk_la(struct cpu *c, const struct stk *st, uint64_t off, unsigned size)
{
	if (st->check && (off < st->lo || off + size - 1 > st->hi))
		cpu_raise(c, EXC_SS, st->err);
	uint64_t la = st->base + off;
	if (!st->lm)
		return (uint32_t)la;
	if (!is_canonical(la) || !is_canonical(la + size - 1))
		cpu_raise(c, EXC_SS, st->err);
	return la;
}

void stk_push(struct cpu *c, struct stk *st, unsigned size, uint64_t v)
{
	uint64_t sp = (st->sp - size) & st->mask;
	lin_write(c, stk_la(c, st, sp, size), size, v, st->sys);
	st->sp = sp;
}

uint64_t stk_pop(struct cpu *c, struct stk *st, unsigned size)
{
	uint64_t v = lin_read(c, stk_la(c, st, st->sp, size), size, st->sys);
	st->sp = (st->sp + size) & st->mask;
	return v;
}

uint64_t stk_peek(struct cpu *c, struct stk *st, uint64_t off, unsigned size)
{
	return lin_read(c, stk_la(c, st, (st->sp + off) & st->mask, size), size, st->sys);
}

/* ---- instructions ---- */

void mov_sreg_load(struct cpu *c, const struct insn *i)
{
	unsigned sr = i->op[0].reg;
	if (sr == S_CS || sr > S_GS)
		cpu_ud(c);
	seg_load(c, sr, (uint16_t)op_get(c, i, 1));
	if (sr == S_SS) {
		/* No interrupt or debug trap until the next instruction (the SS:RSP pair) completes. */
		c->intr_shadow = 1;
		cpu_end_block(c);
	}
}

void mov_sreg_store(struct cpu *c, const struct insn *i)
{
	unsigned sr = i->op[1].reg;
	if (sr > S_GS)
		cpu_ud(c);
	op_set(c, i, 0, c->s.seg[sr].sel);
}

/* LDS/LES/LFS/LGS/LSS: offset then selector from memory; i->sub = segment register. */
static void h_load_far_ptr(struct cpu *c, const struct insn *i)
{
	unsigned osz = i->op[0].size;
	uint64_t ea = insn_ea(c, i);
	uint64_t off = mem_read(c, i->mem.seg, ea, osz);
	uint16_t sel = (uint16_t)mem_read(c, i->mem.seg, (ea + osz) & size_mask(i->asize), 2);
	seg_load(c, i->sub, sel);
	gpr_set(c, i->op[0].reg, osz, off);
	if (i->sub == S_SS)
		cpu_end_block(c);
}

static insn_fn sel_load_far_ptr(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	switch (i->mnem) {
	case ZYDIS_MNEMONIC_LDS: i->sub = S_DS; break;
	case ZYDIS_MNEMONIC_LES: i->sub = S_ES; break;
	case ZYDIS_MNEMONIC_LFS: i->sub = S_FS; break;
	case ZYDIS_MNEMONIC_LGS: i->sub = S_GS; break;
	default: i->sub = S_SS; break;
	}
	if (i->nops < 2 || i->op[0].kind != OPK_GPR || i->op[1].kind != OPK_MEM)
		return NULL;
	return h_load_far_ptr;
}

static void set_zf(struct cpu *c, bool zf)
{
	uint64_t f = flags_get(c);
	flags_set_arith(c, (uint32_t)(zf ? f | F_ZF : f & ~(uint64_t)F_ZF));
}

static void require_protected(struct cpu *c)
{
	if (!cpu_protected(c))
		cpu_ud(c);
}

enum { CHK_LAR, CHK_LSL, CHK_VERR, CHK_VERW };

/* The checks LAR, LSL, VERR and VERW share (SDM vol. 2): true when sel names a descriptor the
 * instruction may report on at the current CPL and RPL. */
static bool sel_accessible(struct cpu *c, uint16_t sel, unsigned what, uint64_t *d)
{
	if (!(sel & 0xfffc) || !desc_read(c, sel, d))
		return false;
	unsigned dpl = desc_dpl(*d), rpl = sel & 3;
	bool priv_ok = dpl >= c->cpl && dpl >= rpl;
	if (!desc_s(*d)) {
		if (what == CHK_VERR || what == CHK_VERW)
			return false;
		unsigned t = desc_type(*d);
		bool ok;
		if (cpu_long_mode(c))
			ok = t == DT_LDT || t == DT_TSS || t == DT_TSS_BUSY || (what == CHK_LAR && t == DT_CALL);
		else
			ok = t == DT_TSS16 || t == DT_LDT || t == DT_TSS16_BUSY || t == DT_TSS || t == DT_TSS_BUSY ||
			     (what == CHK_LAR && (t == DT_CALL16 || t == DT_TASK || t == DT_CALL));
		return ok && priv_ok;
	}
	switch (what) {
	case CHK_VERR:
		if (desc_code(*d) && !(desc_type(*d) & 2))
			return false;
		break;
	case CHK_VERW:
		return desc_data_w(*d) && priv_ok;
	}
	return desc_conforming(*d) || priv_ok;
}

static void h_lar_lsl(struct cpu *c, const struct insn *i)
{
	require_protected(c);
	uint16_t sel = (uint16_t)op_get(c, i, 1);
	bool lar = i->mnem == ZYDIS_MNEMONIC_LAR;
	uint64_t d;
	if (!sel_accessible(c, sel, lar ? CHK_LAR : CHK_LSL, &d)) {
		set_zf(c, false);
		return;
	}
	uint64_t v = lar ? (d >> 32) & (i->op[0].size == 2 ? 0xff00 : 0x00f0ff00) : desc_limit(d);
	gpr_set(c, i->op[0].reg, i->op[0].size, v);
	set_zf(c, true);
}

static void h_verr_verw(struct cpu *c, const struct insn *i)
{
	require_protected(c);
	uint16_t sel = (uint16_t)op_get(c, i, 0);
	uint64_t d;
	set_zf(c, sel_accessible(c, sel, i->mnem == ZYDIS_MNEMONIC_VERR ? CHK_VERR : CHK_VERW, &d));
}

static void h_arpl(struct cpu *c, const struct insn *i)
{
	require_protected(c);
	uint16_t src = (uint16_t)gpr_get(c, i->op[1].reg, 2);
	uint16_t dst;
	uint64_t ea = 0;
	if (i->op[0].kind == OPK_MEM) {
		ea = insn_ea(c, i);
		dst = (uint16_t)mem_read(c, i->mem.seg, ea, 2);
	} else {
		dst = (uint16_t)gpr_get(c, i->op[0].reg, 2);
	}
	if ((dst & 3) < (src & 3)) {
		dst = (dst & ~3) | (src & 3);
		if (i->op[0].kind == OPK_MEM)
			mem_write(c, i->mem.seg, ea, 2, dst);
		else
			gpr_set(c, i->op[0].reg, 2, dst);
		set_zf(c, true);
	} else {
		set_zf(c, false);
	}
}

static void h_sldt_str(struct cpu *c, const struct insn *i)
{
	require_protected(c);
	if ((c->s.cr4 & CR4_UMIP) && c->cpl > 0)
		cpu_gp(c, 0);
	op_set(c, i, 0, c->s.seg[i->mnem == ZYDIS_MNEMONIC_SLDT ? S_LDTR : S_TR].sel);
}

/* Reads the GDT descriptor of an LDT or TSS for LLDT/LTR (16 bytes in IA-32e mode): returns the
 * 8-byte descriptor and the upper half of the base; faults as those instructions do. */
static uint64_t sys_desc_read(struct cpu *c, uint16_t sel, uint64_t *la, uint32_t *base_hi)
{
	uint32_t err = sel & 0xfffc;
	uint64_t d, hi = 0;
	if (sel & 4)
		cpu_gp(c, err);
	if (!desc_read_la(c, sel, &d, la))
		cpu_gp(c, err);
	if (cpu_long_mode(c)) {
		if (!desc_read16(c, sel, &d, &hi))
			cpu_gp(c, err);
		/* The upper half's type field must be 0 (SDM vol. 3 §7.2.3). */
		if ((hi >> 40) & 0x1f)
			cpu_gp(c, err);
		if (!is_canonical(desc_base(d) | (hi << 32)))
			cpu_gp(c, err);
	}
	*base_hi = (uint32_t)hi;
	return d;
}

static void h_lldt(struct cpu *c, const struct insn *i)
{
	require_protected(c);
	if (c->cpl != 0)
		cpu_gp(c, 0);
	uint16_t sel = (uint16_t)op_get(c, i, 0);
	if (!(sel & 0xfffc)) {
		seg_set_null(c, S_LDTR, sel);
		return;
	}
	uint64_t la;
	uint32_t base_hi;
	uint64_t d = sys_desc_read(c, sel, &la, &base_hi);
	if (desc_s(d) || desc_type(d) != DT_LDT)
		cpu_gp(c, sel & 0xfffc);
	if (!desc_p(d))
		cpu_raise(c, EXC_NP, sel & 0xfffc);
	desc_to_seg(d, sel, &c->s.seg[S_LDTR]);
	c->s.seg[S_LDTR].base |= (uint64_t)base_hi << 32;
}

static void h_ltr(struct cpu *c, const struct insn *i)
{
	require_protected(c);
	if (c->cpl != 0)
		cpu_gp(c, 0);
	uint16_t sel = (uint16_t)op_get(c, i, 0);
	if (!(sel & 0xfffc))
		cpu_gp(c, 0);
	uint64_t la;
	uint32_t base_hi;
	uint64_t d = sys_desc_read(c, sel, &la, &base_hi);
	unsigned t = desc_type(d);
	if (desc_s(d) || !(t == DT_TSS || (t == DT_TSS16 && !cpu_long_mode(c))))
		cpu_gp(c, sel & 0xfffc);
	if (!desc_p(d))
		cpu_raise(c, EXC_NP, sel & 0xfffc);
	d |= 2ull << 40; /* busy */
	lin_write(c, la + 5, 1, (d >> 40) & 0xff, true);
	desc_to_seg(d, sel, &c->s.seg[S_TR]);
	c->s.seg[S_TR].base |= (uint64_t)base_hi << 32;
}

void seg_init(void)
{
	static const ZydisMnemonic lxs[] = { ZYDIS_MNEMONIC_LDS, ZYDIS_MNEMONIC_LES, ZYDIS_MNEMONIC_LFS,
					     ZYDIS_MNEMONIC_LGS, ZYDIS_MNEMONIC_LSS };
	for (unsigned k = 0; k < sizeof(lxs) / sizeof(lxs[0]); k++)
		insn_register(lxs[k], NULL, sel_load_far_ptr, 0);
	insn_register(ZYDIS_MNEMONIC_LAR, h_lar_lsl, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_LSL, h_lar_lsl, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_VERR, h_verr_verw, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_VERW, h_verr_verw, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_ARPL, h_arpl, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_SLDT, h_sldt_str, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_STR, h_sldt_str, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_LLDT, h_lldt, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_LTR, h_ltr, NULL, 0);
}
