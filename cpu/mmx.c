/*
 * Packed-integer and bitwise SIMD instructions on MMX (64-bit) and XMM (128-bit) registers:
 * MMX, the integer additions of SSE, the SSE2 integer forms, and the FP-domain instructions that
 * only move bits (AND/ANDN/OR/XOR PS/PD, SHUFPS/PD, UNPCK PS/PD). SDM vol. 1 ch. 9, §10.4.4,
 * §11.4.3; vol. 2 per instruction.
 *
 * Zydis uses one mnemonic for the MMX and XMM forms, so most instructions are one element-wise
 * function over n = 8 or 16 bytes, picked at decode time (insn.sub indexes simd_ops). The
 * destination is operand 0, the source operand 1 (register, memory or the shift-count immediate),
 * and a shuffle control, if any, the immediate.
 */
#include "simd.h"

typedef void (*vec_fn)(union vec *d, const union vec *s, unsigned n, unsigned imm);

static inline int8_t sat_s8(int v)
{
	return v > 127 ? 127 : v < -128 ? -128 : v;
}

static inline uint8_t sat_u8(int v)
{
	return v > 255 ? 255 : v < 0 ? 0 : v;
}

static inline int16_t sat_s16(int v)
{
	return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}

static inline uint16_t sat_u16(int v)
{
	return v > 65535 ? 65535 : v < 0 ? 0 : v;
}

/* Element-wise operation over lanes of the given field: d.f[k] = expr(a = d.f[k], b = s.f[k]). */
#define EW(name, f, bytes, expr)                                               \
	static void name(union vec *d, const union vec *s, unsigned n, unsigned imm) \
	{                                                                      \
		for (unsigned k = 0; k < n / (bytes); k++) {                   \
			__typeof__(d->f[0]) a = d->f[k], b = s->f[k];          \
			(void)a;                                               \
			(void)b;                                               \
			d->f[k] = (expr);                                      \
		}                                                              \
	}

EW(op_paddb, b, 1, a + b)
EW(op_paddw, w, 2, a + b)
EW(op_paddd, d, 4, a + b)
EW(op_paddq, q, 8, a + b)
EW(op_psubb, b, 1, a - b)
EW(op_psubw, w, 2, a - b)
EW(op_psubd, d, 4, a - b)
EW(op_psubq, q, 8, a - b)
EW(op_paddsb, sb, 1, sat_s8(a + b))
EW(op_paddsw, sw, 2, sat_s16(a + b))
EW(op_paddusb, b, 1, sat_u8(a + b))
EW(op_paddusw, w, 2, sat_u16(a + b))
EW(op_psubsb, sb, 1, sat_s8(a - b))
EW(op_psubsw, sw, 2, sat_s16(a - b))
EW(op_psubusb, b, 1, sat_u8(a - b))
EW(op_psubusw, w, 2, sat_u16(a - b))
EW(op_pmullw, w, 2, (uint16_t)((uint32_t)a * b))
EW(op_pmulhw, sw, 2, (int16_t)(((int32_t)a * b) >> 16))
EW(op_pmulhuw, w, 2, (uint16_t)(((uint32_t)a * b) >> 16))
EW(op_pcmpeqb, b, 1, a == b ? 0xff : 0)
EW(op_pcmpeqw, w, 2, a == b ? 0xffff : 0)
EW(op_pcmpeqd, d, 4, a == b ? 0xffffffffu : 0)
EW(op_pcmpgtb, sb, 1, a > b ? -1 : 0)
EW(op_pcmpgtw, sw, 2, a > b ? -1 : 0)
EW(op_pcmpgtd, sd, 4, a > b ? -1 : 0)
EW(op_pand, q, 8, a & b)
EW(op_pandn, q, 8, ~a & b)
EW(op_por, q, 8, a | b)
EW(op_pxor, q, 8, a ^ b)
EW(op_pavgb, b, 1, (a + b + 1) >> 1)
EW(op_pavgw, w, 2, (a + b + 1) >> 1)
EW(op_pmaxsw, sw, 2, a > b ? a : b)
EW(op_pmaxub, b, 1, a > b ? a : b)
EW(op_pminsw, sw, 2, a < b ? a : b)
EW(op_pminub, b, 1, a < b ? a : b)

static void op_pmuludq(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	for (unsigned k = 0; k < n / 8; k++)
		d->q[k] = (uint64_t)d->d[2 * k] * s->d[2 * k];
}

static void op_pmaddwd(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	for (unsigned k = 0; k < n / 4; k++)
		d->d[k] = (uint32_t)((int32_t)d->sw[2 * k] * s->sw[2 * k] + (int64_t)d->sw[2 * k + 1] * s->sw[2 * k + 1]);
}

static void op_psadbw(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	for (unsigned g = 0; g < n / 8; g++) {
		unsigned sum = 0;
		for (unsigned k = 0; k < 8; k++) {
			int diff = d->b[8 * g + k] - s->b[8 * g + k];
			sum += diff < 0 ? -diff : diff;
		}
		d->q[g] = sum;
	}
}

/* Shifts by the low 64 bits of the source (register, memory or imm8); counts past the element
 * width give 0 (logical) or the sign (arithmetic). */
#define SHIFT(name, f, bits, expr_in, expr_out)                                \
	static void name(union vec *d, const union vec *s, unsigned n, unsigned imm) \
	{                                                                      \
		uint64_t cnt = s->q[0];                                        \
		for (unsigned k = 0; k < n * 8 / (bits); k++)                  \
			d->f[k] = cnt < (bits) ? (expr_in) : (expr_out);      \
	}

SHIFT(op_psllw, w, 16, d->w[k] << cnt, 0)
SHIFT(op_pslld, d, 32, d->d[k] << cnt, 0)
SHIFT(op_psllq, q, 64, d->q[k] << cnt, 0)
SHIFT(op_psrlw, w, 16, d->w[k] >> cnt, 0)
SHIFT(op_psrld, d, 32, d->d[k] >> cnt, 0)
SHIFT(op_psrlq, q, 64, d->q[k] >> cnt, 0)
SHIFT(op_psraw, sw, 16, d->sw[k] >> cnt, d->sw[k] >> 15)
SHIFT(op_psrad, sd, 32, d->sd[k] >> cnt, d->sd[k] >> 31)

static void op_pslldq(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	unsigned cnt = s->q[0] > 16 ? 16 : (unsigned)s->q[0];
	union vec r = { 0 };
	for (unsigned k = cnt; k < 16; k++)
		r.b[k] = d->b[k - cnt];
	*d = r;
}

static void op_psrldq(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	unsigned cnt = s->q[0] > 16 ? 16 : (unsigned)s->q[0];
	union vec r = { 0 };
	for (unsigned k = 0; k + cnt < 16; k++)
		r.b[k] = d->b[k + cnt];
	*d = r;
}

/* Packs: the destination's elements fill the low half of the result, the source's the high. */
static void op_packsswb(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	union vec r;
	unsigned h = n / 2;
	for (unsigned k = 0; k < h; k++) {
		r.sb[k] = sat_s8(d->sw[k]);
		r.sb[h + k] = sat_s8(s->sw[k]);
	}
	memcpy(d, &r, n);
}

static void op_packuswb(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	union vec r;
	unsigned h = n / 2;
	for (unsigned k = 0; k < h; k++) {
		r.b[k] = sat_u8(d->sw[k]);
		r.b[h + k] = sat_u8(s->sw[k]);
	}
	memcpy(d, &r, n);
}

static void op_packssdw(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	union vec r;
	unsigned h = n / 4;
	for (unsigned k = 0; k < h; k++) {
		r.sw[k] = sat_s16(d->sd[k]);
		r.sw[h + k] = sat_s16(s->sd[k]);
	}
	memcpy(d, &r, n);
}

/* Interleaves elements of size es from the low (hi=0) or high half of d and s. */
static inline void unpack(union vec *d, const union vec *s, unsigned n, unsigned es, bool hi)
{
	union vec r;
	unsigned cnt = n / 2 / es, base = hi ? n / 2 : 0;
	for (unsigned k = 0; k < cnt; k++) {
		memcpy(&r.b[2 * k * es], &d->b[base + k * es], es);
		memcpy(&r.b[(2 * k + 1) * es], &s->b[base + k * es], es);
	}
	memcpy(d, &r, n);
}

#define UNPACK(name, es, hi)                                                   \
	static void name(union vec *d, const union vec *s, unsigned n, unsigned imm) \
	{                                                                      \
		unpack(d, s, n, es, hi);                                       \
	}

UNPACK(op_punpcklbw, 1, false)
UNPACK(op_punpcklwd, 2, false)
UNPACK(op_punpckldq, 4, false)
UNPACK(op_punpcklqdq, 8, false)
UNPACK(op_punpckhbw, 1, true)
UNPACK(op_punpckhwd, 2, true)
UNPACK(op_punpckhdq, 4, true)
UNPACK(op_punpckhqdq, 8, true)

static void op_pshufw(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	for (unsigned k = 0; k < 4; k++)
		d->w[k] = s->w[(imm >> (2 * k)) & 3];
}

static void op_pshufd(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	for (unsigned k = 0; k < 4; k++)
		d->d[k] = s->d[(imm >> (2 * k)) & 3];
}

static void op_pshuflw(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	for (unsigned k = 0; k < 4; k++)
		d->w[k] = s->w[(imm >> (2 * k)) & 3];
	d->q[1] = s->q[1];
}

static void op_pshufhw(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	for (unsigned k = 0; k < 4; k++)
		d->w[4 + k] = s->w[4 + ((imm >> (2 * k)) & 3)];
	d->q[0] = s->q[0];
}

static void op_shufps(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	union vec r;
	r.d[0] = d->d[imm & 3];
	r.d[1] = d->d[(imm >> 2) & 3];
	r.d[2] = s->d[(imm >> 4) & 3];
	r.d[3] = s->d[(imm >> 6) & 3];
	*d = r;
}

static void op_shufpd(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	union vec r;
	r.q[0] = d->q[imm & 1];
	r.q[1] = s->q[(imm >> 1) & 1];
	*d = r;
}

static const struct simd_op {
	ZydisMnemonic m;
	vec_fn fn;
} simd_ops[] = {
	{ ZYDIS_MNEMONIC_PADDB, op_paddb }, { ZYDIS_MNEMONIC_PADDW, op_paddw },
	{ ZYDIS_MNEMONIC_PADDD, op_paddd }, { ZYDIS_MNEMONIC_PADDQ, op_paddq },
	{ ZYDIS_MNEMONIC_PSUBB, op_psubb }, { ZYDIS_MNEMONIC_PSUBW, op_psubw },
	{ ZYDIS_MNEMONIC_PSUBD, op_psubd }, { ZYDIS_MNEMONIC_PSUBQ, op_psubq },
	{ ZYDIS_MNEMONIC_PADDSB, op_paddsb }, { ZYDIS_MNEMONIC_PADDSW, op_paddsw },
	{ ZYDIS_MNEMONIC_PADDUSB, op_paddusb }, { ZYDIS_MNEMONIC_PADDUSW, op_paddusw },
	{ ZYDIS_MNEMONIC_PSUBSB, op_psubsb }, { ZYDIS_MNEMONIC_PSUBSW, op_psubsw },
	{ ZYDIS_MNEMONIC_PSUBUSB, op_psubusb }, { ZYDIS_MNEMONIC_PSUBUSW, op_psubusw },
	{ ZYDIS_MNEMONIC_PMULLW, op_pmullw }, { ZYDIS_MNEMONIC_PMULHW, op_pmulhw },
	{ ZYDIS_MNEMONIC_PMULHUW, op_pmulhuw }, { ZYDIS_MNEMONIC_PMULUDQ, op_pmuludq },
	{ ZYDIS_MNEMONIC_PMADDWD, op_pmaddwd }, { ZYDIS_MNEMONIC_PSADBW, op_psadbw },
	{ ZYDIS_MNEMONIC_PCMPEQB, op_pcmpeqb }, { ZYDIS_MNEMONIC_PCMPEQW, op_pcmpeqw },
	{ ZYDIS_MNEMONIC_PCMPEQD, op_pcmpeqd }, { ZYDIS_MNEMONIC_PCMPGTB, op_pcmpgtb },
	{ ZYDIS_MNEMONIC_PCMPGTW, op_pcmpgtw }, { ZYDIS_MNEMONIC_PCMPGTD, op_pcmpgtd },
	{ ZYDIS_MNEMONIC_PAND, op_pand }, { ZYDIS_MNEMONIC_PANDN, op_pandn },
	{ ZYDIS_MNEMONIC_POR, op_por }, { ZYDIS_MNEMONIC_PXOR, op_pxor },
	{ ZYDIS_MNEMONIC_ANDPS, op_pand }, { ZYDIS_MNEMONIC_ANDNPS, op_pandn },
	{ ZYDIS_MNEMONIC_ORPS, op_por }, { ZYDIS_MNEMONIC_XORPS, op_pxor },
	{ ZYDIS_MNEMONIC_ANDPD, op_pand }, { ZYDIS_MNEMONIC_ANDNPD, op_pandn },
	{ ZYDIS_MNEMONIC_ORPD, op_por }, { ZYDIS_MNEMONIC_XORPD, op_pxor },
	{ ZYDIS_MNEMONIC_PAVGB, op_pavgb }, { ZYDIS_MNEMONIC_PAVGW, op_pavgw },
	{ ZYDIS_MNEMONIC_PMAXSW, op_pmaxsw }, { ZYDIS_MNEMONIC_PMAXUB, op_pmaxub },
	{ ZYDIS_MNEMONIC_PMINSW, op_pminsw }, { ZYDIS_MNEMONIC_PMINUB, op_pminub },
	{ ZYDIS_MNEMONIC_PSLLW, op_psllw }, { ZYDIS_MNEMONIC_PSLLD, op_pslld },
	{ ZYDIS_MNEMONIC_PSLLQ, op_psllq }, { ZYDIS_MNEMONIC_PSRLW, op_psrlw },
	{ ZYDIS_MNEMONIC_PSRLD, op_psrld }, { ZYDIS_MNEMONIC_PSRLQ, op_psrlq },
	{ ZYDIS_MNEMONIC_PSRAW, op_psraw }, { ZYDIS_MNEMONIC_PSRAD, op_psrad },
	{ ZYDIS_MNEMONIC_PSLLDQ, op_pslldq }, { ZYDIS_MNEMONIC_PSRLDQ, op_psrldq },
	{ ZYDIS_MNEMONIC_PACKSSWB, op_packsswb }, { ZYDIS_MNEMONIC_PACKSSDW, op_packssdw },
	{ ZYDIS_MNEMONIC_PACKUSWB, op_packuswb },
	{ ZYDIS_MNEMONIC_PUNPCKLBW, op_punpcklbw }, { ZYDIS_MNEMONIC_PUNPCKLWD, op_punpcklwd },
	{ ZYDIS_MNEMONIC_PUNPCKLDQ, op_punpckldq }, { ZYDIS_MNEMONIC_PUNPCKLQDQ, op_punpcklqdq },
	{ ZYDIS_MNEMONIC_PUNPCKHBW, op_punpckhbw }, { ZYDIS_MNEMONIC_PUNPCKHWD, op_punpckhwd },
	{ ZYDIS_MNEMONIC_PUNPCKHDQ, op_punpckhdq }, { ZYDIS_MNEMONIC_PUNPCKHQDQ, op_punpckhqdq },
	{ ZYDIS_MNEMONIC_UNPCKLPS, op_punpckldq }, { ZYDIS_MNEMONIC_UNPCKHPS, op_punpckhdq },
	{ ZYDIS_MNEMONIC_UNPCKLPD, op_punpcklqdq }, { ZYDIS_MNEMONIC_UNPCKHPD, op_punpckhqdq },
	{ ZYDIS_MNEMONIC_PSHUFW, op_pshufw }, { ZYDIS_MNEMONIC_PSHUFD, op_pshufd },
	{ ZYDIS_MNEMONIC_PSHUFLW, op_pshuflw }, { ZYDIS_MNEMONIC_PSHUFHW, op_pshufhw },
	{ ZYDIS_MNEMONIC_SHUFPS, op_shufps }, { ZYDIS_MNEMONIC_SHUFPD, op_shufpd },
};

static uint8_t simd_op_index[ZYDIS_MNEMONIC_MAX_VALUE + 1];

static void simd_binop(struct cpu *c, const struct insn *i)
{
	bool mmx = simd_check(c, i, false);
	union vec d, s;
	unsigned n = mmx ? 8 : 16;
	vec_read(c, i, 1, &s, true);
	if (i->op[1].kind == OPK_IMM)
		s.q[0] = (uint8_t)i->imm;
	if (mmx) {
		d.q[0] = mm_get(c, i->op[0].reg);
		simd_ops[i->sub].fn(&d, &s, n, (uint8_t)i->imm);
		mmx_enter(c);
		mm_set(c, i->op[0].reg, d.q[0]);
	} else {
		xmm_get(c, i->op[0].reg, &d);
		simd_ops[i->sub].fn(&d, &s, n, (uint8_t)i->imm);
		xmm_set(c, i->op[0].reg, &d);
	}
}

static insn_fn simd_binop_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops < 2 || (i->op[0].kind != OPK_MMX && i->op[0].kind != OPK_XMM))
		return NULL;
	i->sub = simd_op_index[zi->mnemonic];
	return simd_binop;
}

/* PMOVMSKB r, mm/xmm: the byte sign bits. */
static void pmovmskb(struct cpu *c, const struct insn *i)
{
	bool mmx = simd_check(c, i, false);
	union vec s;
	vec_read(c, i, 1, &s, true);
	unsigned mask = 0;
	for (unsigned k = 0; k < (mmx ? 8u : 16u); k++)
		mask |= (unsigned)(s.b[k] >> 7) << k;
	if (mmx)
		mmx_enter(c);
	gpr_set(c, i->op[0].reg, i->op[0].size == 8 ? 8 : 4, mask);
}

/* PEXTRW r, mm/xmm, imm8 (and the SSE4.1 m16 form): zero-extended word. */
static void pextrw(struct cpu *c, const struct insn *i)
{
	bool mmx = simd_check(c, i, false);
	union vec s;
	vec_read(c, i, 1, &s, true);
	uint16_t w = s.w[i->imm & (mmx ? 3 : 7)];
	if (i->op[0].kind == OPK_MEM) {
		mem_write(c, i->mem.seg, insn_ea(c, i), 2, w);
	} else {
		gpr_set(c, i->op[0].reg, i->op[0].size == 8 ? 8 : 4, w);
	}
	if (mmx)
		mmx_enter(c);
}

/* PINSRW mm/xmm, r32/m16, imm8. */
static void pinsrw(struct cpu *c, const struct insn *i)
{
	bool mmx = simd_check(c, i, false);
	uint16_t w = (uint16_t)(i->op[1].kind == OPK_MEM ? mem_read(c, i->mem.seg, insn_ea(c, i), 2)
				 : gpr_get(c, i->op[1].reg, 4));
	if (mmx) {
		uint64_t v = mm_get(c, i->op[0].reg);
		unsigned sh = (i->imm & 3) * 16;
		v = (v & ~(0xffffull << sh)) | ((uint64_t)w << sh);
		mmx_enter(c);
		mm_set(c, i->op[0].reg, v);
	} else {
		union vec d;
		xmm_get(c, i->op[0].reg, &d);
		d.w[i->imm & 7] = w;
		xmm_set(c, i->op[0].reg, &d);
	}
}

/* MASKMOVQ / MASKMOVDQU: byte-masked store of operand 0 to DS:rDI (segment override allowed).
 * The whole span is checked first, page by page as the processor reports faults (even with an
 * all-zero mask), so a fault stores nothing. */
static void maskmov(struct cpu *c, const struct insn *i)
{
	bool mmx = simd_check(c, i, false);
	union vec d, m;
	unsigned n = mmx ? 8 : 16;
	vec_read(c, i, 0, &d, false);
	vec_read(c, i, 1, &m, false);
	uint64_t amask = size_mask(i->asize);
	uint64_t ea = c->s.gpr[R_RDI] & amask;
	unsigned first = 0x1000 - ((c->sc[i->mem.seg].base + ea) & 0xfff);
	if (first >= n) {
		mem_probe_write(c, i->mem.seg, ea, n);
	} else {
		mem_probe_write(c, i->mem.seg, ea, first);
		mem_probe_write(c, i->mem.seg, (ea + first) & amask, n - first);
	}
	for (unsigned k = 0; k < n; k++)
		if (m.b[k] & 0x80)
			mem_write(c, i->mem.seg, (ea + k) & amask, 1, d.b[k]);
	if (mmx)
		mmx_enter(c);
}

/* EMMS: every x87 tag empty (SDM vol. 2 EMMS). */
static void emms(struct cpu *c, const struct insn *i)
{
	simd_check_mmx(c);
	c->s.fx.ftw = 0;
}

void mmx_init(void)
{
	for (unsigned k = 0; k < sizeof(simd_ops) / sizeof(simd_ops[0]); k++) {
		simd_op_index[simd_ops[k].m] = (uint8_t)k;
		insn_register(simd_ops[k].m, NULL, simd_binop_select, 0);
	}
	insn_register(ZYDIS_MNEMONIC_PMOVMSKB, pmovmskb, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_PEXTRW, pextrw, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_PINSRW, pinsrw, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_MASKMOVQ, maskmov, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_MASKMOVDQU, maskmov, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_EMMS, emms, NULL, 0);
}
