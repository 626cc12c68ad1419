/*
 * Lazy arithmetic flags.
 *
 * Most instructions that write flags record (operation, size, result, operands) in c->lf instead
 * of computing six flags nobody may read (SDM vol. 1 §3.4.3.1 lists them). The flags are computed
 * when read: by a conditional instruction (cond_eval has fast paths for CMP/SUB and logic results,
 * the common producers of Jcc), by PUSHF/LAHF/interrupt delivery (flags_get), or by an instruction
 * that changes only some flags (flags_set_arith materializes first).
 */
#include "core.h"

static inline uint64_t sign_bit(unsigned size)
{
	return 1ull << (size * 8 - 1);
}

bool flag_cf_slow(struct cpu *c)
{
	const struct lazy_flags *f = &c->lf;
	uint64_t m = size_mask(f->size);
	uint64_t a = f->a & m, b = f->b & m;
	switch (f->op) {
	case LF_ADD: return f->res < a;
	case LF_ADC: return f->cin ? f->res <= a : f->res < a;
	case LF_SUB: return a < b;
	case LF_SBB: return f->cin ? a <= b : a < b;
	case LF_LOGIC: return false;
	case LF_INC:
	case LF_DEC: return f->cin;
	default: return c->s.rflags & F_CF;
	}
}

bool flag_zf(struct cpu *c)
{
	if (c->lf.op == LF_NONE)
		return c->s.rflags & F_ZF;
	return c->lf.res == 0;
}

bool flag_sf(struct cpu *c)
{
	if (c->lf.op == LF_NONE)
		return c->s.rflags & F_SF;
	return c->lf.res & sign_bit(c->lf.size);
}

bool flag_pf(struct cpu *c)
{
	if (c->lf.op == LF_NONE)
		return c->s.rflags & F_PF;
	return parity8(c->lf.res);
}

bool flag_af(struct cpu *c)
{
	const struct lazy_flags *f = &c->lf;
	switch (f->op) {
	case LF_ADD:
	case LF_ADC:
	case LF_SUB:
	case LF_SBB: return (f->a ^ f->b ^ f->res) & 0x10;
	case LF_INC:
	case LF_DEC: return (f->a ^ f->res) & 0x10;
	case LF_LOGIC: return false;
	default: return c->s.rflags & F_AF;
	}
}

bool flag_of(struct cpu *c)
{
	const struct lazy_flags *f = &c->lf;
	if (f->op == LF_NONE)
		return c->s.rflags & F_OF;
	uint64_t sb = sign_bit(f->size);
	switch (f->op) {
	case LF_ADD:
	case LF_ADC: return ((f->a ^ f->res) & (f->b ^ f->res)) & sb;
	case LF_SUB:
	case LF_SBB: return ((f->a ^ f->b) & (f->a ^ f->res)) & sb;
	case LF_INC: return f->res == sb;
	case LF_DEC: return f->res == sb - 1;
	case LF_LOGIC: return false;
	default: return c->s.rflags & F_OF;
	}
}

/* All six flags of the lazy record in one pass (the flag_* functions above, combined). */
static uint32_t lazy_flags_all(const struct cpu *c)
{
	const struct lazy_flags *f = &c->lf;
	uint64_t sb = sign_bit(f->size), m = size_mask(f->size);
	uint64_t res = f->res, a = f->a, b = f->b;
	uint32_t v = (res == 0 ? F_ZF : 0) | (res & sb ? F_SF : 0) | (parity8(res) ? F_PF : 0);
	bool cf, of;
	switch (f->op) {
	case LF_ADD:
	case LF_ADC:
		cf = f->op == LF_ADC && f->cin ? res <= (a & m) : res < (a & m);
		of = ((a ^ res) & (b ^ res)) & sb;
		v |= (a ^ b ^ res) & 0x10 ? F_AF : 0;
		break;
	case LF_SUB:
	case LF_SBB:
		cf = f->op == LF_SBB && f->cin ? (a & m) <= (b & m) : (a & m) < (b & m);
		of = ((a ^ b) & (a ^ res)) & sb;
		v |= (a ^ b ^ res) & 0x10 ? F_AF : 0;
		break;
	case LF_INC:
	case LF_DEC:
		cf = f->cin;
		of = f->op == LF_INC ? res == sb : res == sb - 1;
		v |= (a ^ res) & 0x10 ? F_AF : 0;
		break;
	case LF_LOGIC:
		cf = of = false;
		break;
	default:
		return (uint32_t)c->s.rflags & F_ARITH;
	}
	return v | (cf ? F_CF : 0) | (of ? F_OF : 0);
}

uint64_t flags_get(struct cpu *c)
{
	if (c->lf.op != LF_NONE) {
		c->s.rflags = (c->s.rflags & ~(uint64_t)F_ARITH) | lazy_flags_all(c);
		c->lf.op = LF_NONE;
	}
	return c->s.rflags | 2; /* bit 1 always reads as 1 */
}

void flags_set(struct cpu *c, uint64_t value)
{
	c->lf.op = LF_NONE;
	c->s.rflags = value | 2;
}

bool cond_eval(struct cpu *c, unsigned cc)
{
	const struct lazy_flags *f = &c->lf;
	bool r;

	if (f->op == LF_SUB) {
		/* CMP/SUB: compare the operands directly instead of rebuilding flags. */
		uint64_t m = size_mask(f->size);
		uint64_t a = f->a & m, b = f->b & m;
		int64_t sa = (int64_t)sign_extend(a, f->size), sb = (int64_t)sign_extend(b, f->size);
		switch (cc >> 1) {
		case 1: r = a < b; break;             /* B */
		case 2: r = a == b; break;            /* E */
		case 3: r = a <= b; break;            /* BE */
		case 6: r = sa < sb; break;           /* L */
		case 7: r = sa <= sb; break;          /* LE */
		default: goto generic;
		}
		return r ^ (cc & 1);
	}
generic:
	switch (cc >> 1) {
	case 0: r = flag_of(c); break;
	case 1: r = flag_cf(c); break;
	case 2: r = flag_zf(c); break;
	case 3: r = flag_cf(c) || flag_zf(c); break;
	case 4: r = flag_sf(c); break;
	case 5: r = flag_pf(c); break;
	case 6: r = flag_sf(c) != flag_of(c); break;
	default: r = flag_zf(c) || (flag_sf(c) != flag_of(c)); break;
	}
	return r ^ (cc & 1);
}
