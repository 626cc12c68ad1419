/*
 * SSE3 and SSSE3 (SDM vol. 1 §12.3-12.4, vol. 2 per instruction).
 *
 * SSE3: the horizontal and alternating floating-point additions (arithmetic in sse_arith.c), the
 * duplicating moves and LDDQU. FISTTP is in x87.c. MONITOR/MWAIT are not implemented: CPUID does
 * not report MONITOR, so they stay #UD.
 *
 * SSSE3: packed-integer instructions in MMX and XMM forms (one element-wise function over
 * n = 8 or 16 bytes, as in mmx.c), all with legacy-SSE alignment for 16-byte memory operands.
 */
#include "sse_arith.h"
#include "sse_ext.h"

/* ---- SSE3 ---- */

/* ADDSUBPS/PD, HADDPS/PD, HSUBPS/PD xmm, xmm/m128 (aligned). insn.sub is the enum sse_fop. */
static void sse3_fp(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	union vec d, s;
	vec_read(c, i, 1, &s, true);
	xmm_get(c, i->op[0].reg, &d);
	sse_ext_exceptions(c, sse_fop(i->sub, &d, &s, c->s.fx.mxcsr));
	xmm_set(c, i->op[0].reg, &d);
}

static insn_fn sse3_fp_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops != 2 || i->op[0].kind != OPK_XMM)
		return NULL;
	switch (zi->mnemonic) {
	case ZYDIS_MNEMONIC_ADDSUBPS: i->sub = SF_ADDSUBPS; break;
	case ZYDIS_MNEMONIC_ADDSUBPD: i->sub = SF_ADDSUBPD; break;
	case ZYDIS_MNEMONIC_HADDPS: i->sub = SF_HADDPS; break;
	case ZYDIS_MNEMONIC_HADDPD: i->sub = SF_HADDPD; break;
	case ZYDIS_MNEMONIC_HSUBPS: i->sub = SF_HSUBPS; break;
	default: i->sub = SF_HSUBPD; break;
	}
	return sse3_fp;
}

/* MOVDDUP xmm, xmm/m64: the low quadword twice (8-byte memory operand, no alignment). */
static void movddup(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	union vec s;
	vec_read(c, i, 1, &s, false);
	s.q[1] = s.q[0];
	xmm_set(c, i->op[0].reg, &s);
}

/* MOVSHDUP / MOVSLDUP xmm, xmm/m128 (aligned): odd (sub = 1) or even singles duplicated. */
static void movsdup(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	union vec s;
	vec_read(c, i, 1, &s, true);
	unsigned odd = i->sub;
	s.d[0] = s.d[odd];
	s.d[1] = s.d[odd];
	s.d[2] = s.d[2 + odd];
	s.d[3] = s.d[2 + odd];
	xmm_set(c, i->op[0].reg, &s);
}

static insn_fn movsdup_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	i->sub = zi->mnemonic == ZYDIS_MNEMONIC_MOVSHDUP;
	return movsdup;
}

/* LDDQU xmm, m128: an unaligned load. */
static void lddqu(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	union vec s;
	vec_read(c, i, 1, &s, false);
	xmm_set(c, i->op[0].reg, &s);
}

/* ---- SSSE3 ---- */

static inline int16_t sat_s16(int v)
{
	return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}

#define EW(name, f, bytes, expr)                                               \
	static void name(union vec *d, const union vec *s, unsigned n, unsigned imm) \
	{                                                                      \
		for (unsigned k = 0; k < n / (bytes); k++) {                   \
			__typeof__(d->f[0]) a = d->f[k], b = s->f[k];          \
			(void)a;                                               \
			d->f[k] = (expr);                                      \
		}                                                              \
	}

EW(op_pabsb, sb, 1, b < 0 ? -b : b)
EW(op_pabsw, sw, 2, b < 0 ? -b : b)
EW(op_pabsd, sd, 4, b < 0 ? (int32_t)-(uint32_t)b : b)
EW(op_psignb, sb, 1, b < 0 ? -a : b ? a : 0)
EW(op_psignw, sw, 2, b < 0 ? -a : b ? a : 0)
EW(op_psignd, sd, 4, b < 0 ? (int32_t)-(uint32_t)a : b ? a : 0)
/* (a * b + 0x4000) >> 15, i.e. the product's bits 15..30 rounded (SDM PMULHRSW). */
EW(op_pmulhrsw, sw, 2, (int16_t)((((int32_t)a * b >> 14) + 1) >> 1))

/* Horizontal operations: adjacent pairs of the destination fill the low half of the result,
 * pairs of the source the high half; the pair's first element is the left operand. */
#define HORIZ(name, f, bytes, expr)                                            \
	static void name(union vec *d, const union vec *s, unsigned n, unsigned imm) \
	{                                                                      \
		union vec r;                                                   \
		unsigned h = n / (2 * (bytes));                                \
		for (unsigned k = 0; k < h; k++) {                             \
			__typeof__(d->f[0]) a = d->f[2 * k], b = d->f[2 * k + 1]; \
			r.f[k] = (expr);                                       \
			a = s->f[2 * k];                                       \
			b = s->f[2 * k + 1];                                   \
			r.f[h + k] = (expr);                                   \
		}                                                              \
		memcpy(d, &r, n);                                              \
	}

HORIZ(op_phaddw, w, 2, (uint16_t)(a + b))
HORIZ(op_phaddd, d, 4, a + b)
HORIZ(op_phaddsw, sw, 2, sat_s16(a + b))
HORIZ(op_phsubw, w, 2, (uint16_t)(a - b))
HORIZ(op_phsubd, d, 4, a - b)
HORIZ(op_phsubsw, sw, 2, sat_s16(a - b))

/* PMADDUBSW: unsigned bytes of the destination times signed bytes of the source, adjacent
 * products added with signed saturation. */
static void op_pmaddubsw(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	for (unsigned k = 0; k < n / 2; k++)
		d->sw[k] = sat_s16(d->b[2 * k] * s->sb[2 * k] + d->b[2 * k + 1] * s->sb[2 * k + 1]);
}

/* PSHUFB: each source byte selects a destination byte (low 3 or 4 bits) or zero (bit 7). */
static void op_pshufb(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	union vec r;
	for (unsigned k = 0; k < n; k++)
		r.b[k] = (s->b[k] & 0x80) ? 0 : d->b[s->b[k] & (n - 1)];
	memcpy(d, &r, n);
}

/* PALIGNR: destination:source as one 2n-byte value, shifted right by imm bytes (zeros in). */
static void op_palignr(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	uint8_t t[32];
	memcpy(t, s, n);
	memcpy(t + n, d, n);
	for (unsigned k = 0; k < n; k++)
		d->b[k] = imm + k < 2 * n ? t[imm + k] : 0;
}

static const struct {
	ZydisMnemonic m;
	vec_fn fn;
} ssse3_ops[] = {
	{ ZYDIS_MNEMONIC_PABSB, op_pabsb }, { ZYDIS_MNEMONIC_PABSW, op_pabsw }, { ZYDIS_MNEMONIC_PABSD, op_pabsd },
	{ ZYDIS_MNEMONIC_PSIGNB, op_psignb }, { ZYDIS_MNEMONIC_PSIGNW, op_psignw },
	{ ZYDIS_MNEMONIC_PSIGND, op_psignd }, { ZYDIS_MNEMONIC_PMULHRSW, op_pmulhrsw },
	{ ZYDIS_MNEMONIC_PHADDW, op_phaddw }, { ZYDIS_MNEMONIC_PHADDD, op_phaddd },
	{ ZYDIS_MNEMONIC_PHADDSW, op_phaddsw }, { ZYDIS_MNEMONIC_PHSUBW, op_phsubw },
	{ ZYDIS_MNEMONIC_PHSUBD, op_phsubd }, { ZYDIS_MNEMONIC_PHSUBSW, op_phsubsw },
	{ ZYDIS_MNEMONIC_PMADDUBSW, op_pmaddubsw }, { ZYDIS_MNEMONIC_PSHUFB, op_pshufb },
	{ ZYDIS_MNEMONIC_PALIGNR, op_palignr },
};

static uint8_t ssse3_index[ZYDIS_MNEMONIC_MAX_VALUE + 1];

static void ssse3_binop(struct cpu *c, const struct insn *i)
{
	sse_ext_binop(c, i, ssse3_ops[i->sub].fn);
}

static insn_fn ssse3_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops < 2 || (i->op[0].kind != OPK_MMX && i->op[0].kind != OPK_XMM))
		return NULL;
	i->sub = ssse3_index[zi->mnemonic];
	return ssse3_binop;
}

void sse3_init(void)
{
	static const ZydisMnemonic fp[] = {
		ZYDIS_MNEMONIC_ADDSUBPS, ZYDIS_MNEMONIC_ADDSUBPD, ZYDIS_MNEMONIC_HADDPS,
		ZYDIS_MNEMONIC_HADDPD, ZYDIS_MNEMONIC_HSUBPS, ZYDIS_MNEMONIC_HSUBPD,
	};
	for (unsigned k = 0; k < sizeof(fp) / sizeof(fp[0]); k++)
		insn_register(fp[k], NULL, sse3_fp_select, 0);
	insn_register(ZYDIS_MNEMONIC_MOVDDUP, movddup, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_MOVSHDUP, NULL, movsdup_select, 0);
	insn_register(ZYDIS_MNEMONIC_MOVSLDUP, NULL, movsdup_select, 0);
	insn_register(ZYDIS_MNEMONIC_LDDQU, lddqu, NULL, 0);

	for (unsigned k = 0; k < sizeof(ssse3_ops) / sizeof(ssse3_ops[0]); k++) {
		ssse3_index[ssse3_ops[k].m] = (uint8_t)k;
		insn_register(ssse3_ops[k].m, NULL, ssse3_select, 0);
	}
}
