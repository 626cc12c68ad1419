/*
 * SSE4.1 and SSE4.2 (SDM vol. 1 §12.10-12.12, vol. 2 per instruction; the string compares in
 * vol. 2 §4.1 "Imm8 Control Byte Operation for PCMPESTRI / PCMPESTRM / PCMPISTRI / PCMPISTRM").
 *
 * Packed-integer instructions are element-wise functions as in mmx.c (XMM forms only); the
 * floating-point ones (ROUND*, DPPS/DPPD) compute in sse_arith.c. Legacy-SSE alignment applies to
 * 16-byte memory operands except for the string compares (PCMPxSTRx), which take any address.
 * POPCNT is in bitops.c, PEXTRW (with its SSE4.1 memory form) in mmx.c.
 */
#include "sse_arith.h"
#include "sse_ext.h"

static inline uint16_t sat_u16(int32_t v)
{
	return v > 65535 ? 65535 : v < 0 ? 0 : (uint16_t)v;
}

/* ---- element-wise and shuffling operations on XMM registers (n = 16) ---- */

#define EW(name, f, bytes, expr)                                               \
	static void name(union vec *d, const union vec *s, unsigned n, unsigned imm) \
	{                                                                      \
		for (unsigned k = 0; k < n / (bytes); k++) {                   \
			__typeof__(d->f[0]) a = d->f[k], b = s->f[k];          \
			d->f[k] = (expr);                                      \
		}                                                              \
	}

EW(op_pcmpeqq, q, 8, a == b ? ~0ull : 0)
EW(op_pcmpgtq, sq, 8, a > b ? -1 : 0)
EW(op_pmaxsb, sb, 1, a > b ? a : b)
EW(op_pmaxsd, sd, 4, a > b ? a : b)
EW(op_pmaxuw, w, 2, a > b ? a : b)
EW(op_pmaxud, d, 4, a > b ? a : b)
EW(op_pminsb, sb, 1, a < b ? a : b)
EW(op_pminsd, sd, 4, a < b ? a : b)
EW(op_pminuw, w, 2, a < b ? a : b)
EW(op_pminud, d, 4, a < b ? a : b)
EW(op_pmulld, d, 4, a * b)

static void op_pmuldq(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	for (unsigned k = 0; k < 2; k++)
		d->sq[k] = (int64_t)d->sd[2 * k] * s->sd[2 * k];
}

static void op_packusdw(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	union vec r;
	for (unsigned k = 0; k < 4; k++) {
		r.w[k] = sat_u16(d->sd[k]);
		r.w[4 + k] = sat_u16(s->sd[k]);
	}
	*d = r;
}

/* BLENDPS/BLENDPD/PBLENDW: element k from the source where imm bit k is set. */
static void op_blendps(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	for (unsigned k = 0; k < 4; k++)
		if (imm >> k & 1)
			d->d[k] = s->d[k];
}

static void op_blendpd(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	for (unsigned k = 0; k < 2; k++)
		if (imm >> k & 1)
			d->q[k] = s->q[k];
}

static void op_pblendw(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	for (unsigned k = 0; k < 8; k++)
		if (imm >> k & 1)
			d->w[k] = s->w[k];
}

/* MPSADBW: eight sums of absolute differences between the source's 4-byte block imm[1:0] and
 * the destination's bytes from offset 4 * imm[2] on, sliding one byte each. */
static void op_mpsadbw(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	unsigned doff = imm & 4, soff = (imm & 3) * 4;
	union vec r;
	for (unsigned k = 0; k < 8; k++) {
		unsigned sum = 0;
		for (unsigned j = 0; j < 4; j++) {
			int diff = d->b[doff + k + j] - s->b[soff + j];
			sum += diff < 0 ? -diff : diff;
		}
		r.w[k] = (uint16_t)sum;
	}
	*d = r;
}

/* PHMINPOSUW: the smallest unsigned word and its (lowest) index; the rest zero. */
static void op_phminposuw(union vec *d, const union vec *s, unsigned n, unsigned imm)
{
	unsigned idx = 0;
	for (unsigned k = 1; k < 8; k++)
		if (s->w[k] < s->w[idx])
			idx = k;
	union vec r = { 0 };
	r.w[0] = s->w[idx];
	r.w[1] = (uint16_t)idx;
	*d = r;
}

/* PMOVSX / PMOVZX: the source's low elements of size from, extended to size to. */
static inline void pmovx(union vec *d, const union vec *s, unsigned from, unsigned to, bool sgn)
{
	union vec r;
	for (unsigned k = 0; k < 16 / to; k++) {
		uint64_t v = 0;
		memcpy(&v, s->b + k * from, from);
		if (sgn)
			v = sign_extend(v, from);
		memcpy(r.b + k * to, &v, to);
	}
	*d = r;
}

#define PMOVX(name, from, to, sgn)                                             \
	static void name(union vec *d, const union vec *s, unsigned n, unsigned imm) \
	{                                                                      \
		pmovx(d, s, from, to, sgn);                                    \
	}

PMOVX(op_pmovsxbw, 1, 2, true)
PMOVX(op_pmovsxbd, 1, 4, true)
PMOVX(op_pmovsxbq, 1, 8, true)
PMOVX(op_pmovsxwd, 2, 4, true)
PMOVX(op_pmovsxwq, 2, 8, true)
PMOVX(op_pmovsxdq, 4, 8, true)
PMOVX(op_pmovzxbw, 1, 2, false)
PMOVX(op_pmovzxbd, 1, 4, false)
PMOVX(op_pmovzxbq, 1, 8, false)
PMOVX(op_pmovzxwd, 2, 4, false)
PMOVX(op_pmovzxwq, 2, 8, false)
PMOVX(op_pmovzxdq, 4, 8, false)

static const struct {
	ZydisMnemonic m;
	vec_fn fn;
} sse4_ops[] = {
	{ ZYDIS_MNEMONIC_PCMPEQQ, op_pcmpeqq }, { ZYDIS_MNEMONIC_PCMPGTQ, op_pcmpgtq },
	{ ZYDIS_MNEMONIC_PMAXSB, op_pmaxsb }, { ZYDIS_MNEMONIC_PMAXSD, op_pmaxsd },
	{ ZYDIS_MNEMONIC_PMAXUW, op_pmaxuw }, { ZYDIS_MNEMONIC_PMAXUD, op_pmaxud },
	{ ZYDIS_MNEMONIC_PMINSB, op_pminsb }, { ZYDIS_MNEMONIC_PMINSD, op_pminsd },
	{ ZYDIS_MNEMONIC_PMINUW, op_pminuw }, { ZYDIS_MNEMONIC_PMINUD, op_pminud },
	{ ZYDIS_MNEMONIC_PMULLD, op_pmulld }, { ZYDIS_MNEMONIC_PMULDQ, op_pmuldq },
	{ ZYDIS_MNEMONIC_PACKUSDW, op_packusdw }, { ZYDIS_MNEMONIC_BLENDPS, op_blendps },
	{ ZYDIS_MNEMONIC_BLENDPD, op_blendpd }, { ZYDIS_MNEMONIC_PBLENDW, op_pblendw },
	{ ZYDIS_MNEMONIC_MPSADBW, op_mpsadbw }, { ZYDIS_MNEMONIC_PHMINPOSUW, op_phminposuw },
	{ ZYDIS_MNEMONIC_PMOVSXBW, op_pmovsxbw }, { ZYDIS_MNEMONIC_PMOVSXBD, op_pmovsxbd },
	{ ZYDIS_MNEMONIC_PMOVSXBQ, op_pmovsxbq }, { ZYDIS_MNEMONIC_PMOVSXWD, op_pmovsxwd },
	{ ZYDIS_MNEMONIC_PMOVSXWQ, op_pmovsxwq }, { ZYDIS_MNEMONIC_PMOVSXDQ, op_pmovsxdq },
	{ ZYDIS_MNEMONIC_PMOVZXBW, op_pmovzxbw }, { ZYDIS_MNEMONIC_PMOVZXBD, op_pmovzxbd },
	{ ZYDIS_MNEMONIC_PMOVZXBQ, op_pmovzxbq }, { ZYDIS_MNEMONIC_PMOVZXWD, op_pmovzxwd },
	{ ZYDIS_MNEMONIC_PMOVZXWQ, op_pmovzxwq }, { ZYDIS_MNEMONIC_PMOVZXDQ, op_pmovzxdq },
};

static uint8_t sse4_index[ZYDIS_MNEMONIC_MAX_VALUE + 1];

static void sse4_binop(struct cpu *c, const struct insn *i)
{
	sse_ext_binop(c, i, sse4_ops[i->sub].fn);
}

static insn_fn sse4_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops < 2 || i->op[0].kind != OPK_XMM)
		return NULL;
	i->sub = sse4_index[zi->mnemonic];
	return sse4_binop;
}

/* BLENDVPS/BLENDVPD/PBLENDVB xmm, xmm/m128 (aligned), <XMM0>: element from the source where
 * the mask element's sign bit in XMM0 is set. insn.sub: element size. */
static void blendv(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	union vec d, s, m;
	vec_read(c, i, 1, &s, true);
	xmm_get(c, i->op[0].reg, &d);
	xmm_get(c, 0, &m);
	for (unsigned k = 0; k < 16; k += i->sub)
		if (m.b[k + i->sub - 1] & 0x80)
			memcpy(d.b + k, s.b + k, i->sub);
	xmm_set(c, i->op[0].reg, &d);
}

static insn_fn blendv_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops < 2 || i->op[0].kind != OPK_XMM)
		return NULL;
	i->sub = zi->mnemonic == ZYDIS_MNEMONIC_PBLENDVB ? 1 : zi->mnemonic == ZYDIS_MNEMONIC_BLENDVPS ? 4 : 8;
	return blendv;
}

/* ---- moves, inserts and extracts ---- */

/* MOVNTDQA xmm, m128: an aligned load (the non-temporal hint has no effect here). */
static void movntdqa(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	union vec s;
	vec_read(c, i, 1, &s, true);
	xmm_set(c, i->op[0].reg, &s);
}

static insn_fn mem_source_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	return i->nops == 2 && i->op[1].kind == OPK_MEM ? movntdqa : NULL;
}

/* PEXTRB/PEXTRD/PEXTRQ/EXTRACTPS r/m, xmm, imm8: element imm (modulo the count) of size
 * insn.sub to memory, or zero-extended to a 32/64-bit register. */
static void pextr(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	union vec s;
	unsigned es = i->sub;
	xmm_get(c, i->op[1].reg, &s);
	uint64_t v = 0;
	memcpy(&v, s.b + (i->imm & (16 / es - 1)) * es, es);
	if (i->op[0].kind == OPK_MEM)
		mem_write(c, i->mem.seg, insn_ea(c, i), es, v);
	else
		gpr_set(c, i->op[0].reg, es == 8 ? 8 : 4, v);
}

static insn_fn pextr_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops != 3 || i->op[1].kind != OPK_XMM)
		return NULL;
	switch (zi->mnemonic) {
	case ZYDIS_MNEMONIC_PEXTRB: i->sub = 1; break;
	case ZYDIS_MNEMONIC_PEXTRQ: i->sub = 8; break;
	default: i->sub = 4; break;
	}
	return pextr;
}

/* PINSRB/PINSRD/PINSRQ xmm, r/m, imm8: element imm (modulo the count) of size insn.sub from a
 * register's low bits or memory. */
static void pinsr(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	unsigned es = i->sub;
	uint64_t v = i->op[1].kind == OPK_MEM ? mem_read(c, i->mem.seg, insn_ea(c, i), es)
					      : gpr_get(c, i->op[1].reg, es == 8 ? 8 : 4);
	union vec d;
	xmm_get(c, i->op[0].reg, &d);
	memcpy(d.b + (i->imm & (16 / es - 1)) * es, &v, es);
	xmm_set(c, i->op[0].reg, &d);
}

static insn_fn pinsr_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops != 3 || i->op[0].kind != OPK_XMM)
		return NULL;
	switch (zi->mnemonic) {
	case ZYDIS_MNEMONIC_PINSRB: i->sub = 1; break;
	case ZYDIS_MNEMONIC_PINSRQ: i->sub = 8; break;
	default: i->sub = 4; break;
	}
	return pinsr;
}

/* INSERTPS xmm, xmm/m32, imm8: a single (source element imm[7:6], or the m32) into element
 * imm[5:4], then the elements in imm[3:0] zeroed. */
static void insertps(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	union vec d, s;
	unsigned imm = (uint8_t)i->imm;
	vec_read(c, i, 1, &s, false);
	uint32_t v = i->op[1].kind == OPK_MEM ? s.d[0] : s.d[imm >> 6];
	xmm_get(c, i->op[0].reg, &d);
	d.d[(imm >> 4) & 3] = v;
	for (unsigned k = 0; k < 4; k++)
		if (imm >> k & 1)
			d.d[k] = 0;
	xmm_set(c, i->op[0].reg, &d);
}

/* ---- tests, string compares, CRC32 ---- */

/* PTEST xmm, xmm/m128 (aligned): ZF = (d AND s) == 0, CF = (NOT d AND s) == 0, others clear. */
static void ptest(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	union vec d, s;
	vec_read(c, i, 1, &s, true);
	xmm_get(c, i->op[0].reg, &d);
	bool zf = !((d.q[0] & s.q[0]) | (d.q[1] & s.q[1]));
	bool cf = !((~d.q[0] & s.q[0]) | (~d.q[1] & s.q[1]));
	flags_set_arith(c, (zf ? F_ZF : 0) | (cf ? F_CF : 0));
}

/* Element k of a string in the format imm[1:0]: unsigned bytes, unsigned words, signed bytes,
 * signed words. */
static inline int str_elem(const union vec *v, unsigned k, unsigned fmt)
{
	switch (fmt & 3) {
	case 0: return v->b[k];
	case 1: return v->w[k];
	case 2: return v->sb[k];
	default: return v->sw[k];
	}
}

/* Length of an implicit (null-terminated) string: the index of its first zero element. */
static unsigned implicit_len(const union vec *v, unsigned fmt, unsigned ub)
{
	unsigned k = 0;
	while (k < ub && str_elem(v, k, fmt))
		k++;
	return k;
}

/* Length of an explicit string: |RAX| or |RDX| (|EAX|/|EDX| without REX.W), at most ub. */
static unsigned explicit_len(uint64_t v, unsigned size, unsigned ub)
{
	int64_t x = size == 8 ? (int64_t)v : (int32_t)v;
	uint64_t mag = x < 0 ? -(uint64_t)x : (uint64_t)x;
	return mag > ub ? ub : (unsigned)mag;
}

/*
 * IntRes2 of a string compare of a (operand 1: the set, ranges or substring; la valid elements)
 * against b (operand 2: the string; lb valid elements) under control byte imm: aggregation
 * imm[3:2] with the SDM's rules for invalid elements (table 4-7), then polarity imm[5:4].
 */
static uint32_t str_compare(const union vec *a, unsigned la, const union vec *b, unsigned lb, unsigned imm)
{
	unsigned ub = imm & 1 ? 8 : 16;
	uint32_t res = 0;
	switch ((imm >> 2) & 3) {
	case 0: /* equal any: b[j] is one of a[0..la) */
		for (unsigned j = 0; j < lb; j++)
			for (unsigned k = 0; k < la; k++)
				if (str_elem(a, k, imm) == str_elem(b, j, imm)) {
					res |= 1u << j;
					break;
				}
		break;
	case 1: /* ranges: a[2k] <= b[j] <= a[2k + 1] for some complete valid pair */
		for (unsigned j = 0; j < lb; j++) {
			int v = str_elem(b, j, imm);
			for (unsigned k = 0; k + 1 < la; k += 2)
				if (str_elem(a, k, imm) <= v && v <= str_elem(a, k + 1, imm)) {
					res |= 1u << j;
					break;
				}
		}
		break;
	case 2: /* equal each: a[j] == b[j]; two invalid elements compare equal */
		for (unsigned j = 0; j < ub; j++) {
			bool eq = j < la && j < lb ? str_elem(a, j, imm) == str_elem(b, j, imm) : j >= la && j >= lb;
			res |= (uint32_t)eq << j;
		}
		break;
	default: /* equal ordered: a[0..la) starts at b[j], as far as b's elements go */
		for (unsigned j = 0; j < ub; j++) {
			bool match = true;
			for (unsigned k = 0; k < la && j + k < ub && match; k++)
				match = j + k < lb && str_elem(a, k, imm) == str_elem(b, j + k, imm);
			res |= (uint32_t)match << j;
		}
		break;
	}
	switch ((imm >> 4) & 3) {
	case 1: res ^= (1u << ub) - 1; break;  /* negative */
	case 3: res ^= (1u << lb) - 1; break;  /* masked negative: valid elements only */
	default: break;
	}
	return res;
}

/* PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM xmm1, xmm2/m128 (any alignment), imm8.
 * insn.sub bit 0: explicit lengths (RAX/RDX), bit 1: mask result (XMM0) instead of index (ECX). */
static void pcmpstr(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	union vec a, b;
	unsigned imm = (uint8_t)i->imm, ub = imm & 1 ? 8 : 16, la, lb;
	vec_read(c, i, 1, &b, false);
	xmm_get(c, i->op[0].reg, &a);
	if (i->sub & 1) {
		unsigned size = i->osize == 8 ? 8 : 4;
		la = explicit_len(c->s.gpr[R_RAX], size, ub);
		lb = explicit_len(c->s.gpr[R_RDX], size, ub);
	} else {
		la = implicit_len(&a, imm, ub);
		lb = implicit_len(&b, imm, ub);
	}
	uint32_t res = str_compare(&a, la, &b, lb, imm);
	if (i->sub & 2) {
		union vec m = { 0 };
		if (imm & 0x40) {
			for (unsigned k = 0; k < ub; k++)
				if (res >> k & 1)
					memset(m.b + k * (16 / ub), 0xff, 16 / ub);
		} else {
			m.d[0] = res;
		}
		xmm_set(c, 0, &m);
	} else {
		unsigned idx = !res ? ub : imm & 0x40 ? 31 - (unsigned)__builtin_clz(res) : (unsigned)__builtin_ctz(res);
		gpr_set(c, R_RCX, 4, idx);
	}
	flags_set_arith(c, (res ? F_CF : 0) | (lb < ub ? F_ZF : 0) | (la < ub ? F_SF : 0) | (res & 1 ? F_OF : 0));
}

static insn_fn pcmpstr_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops != 3 || i->op[0].kind != OPK_XMM)
		return NULL;
	switch (zi->mnemonic) {
	case ZYDIS_MNEMONIC_PCMPISTRI: i->sub = 0; break;
	case ZYDIS_MNEMONIC_PCMPESTRI: i->sub = 1; break;
	case ZYDIS_MNEMONIC_PCMPISTRM: i->sub = 2; break;
	default: i->sub = 3; break;
	}
	return pcmpstr;
}

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) without pre- or post-inversion, as the
 * CRC32 instruction computes it. */
static uint32_t crc32c_table[256];

static void crc32c_init(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t r = n;
		for (int k = 0; k < 8; k++)
			r = (r >> 1) ^ (r & 1 ? 0x82f63b78u : 0);
		crc32c_table[n] = r;
	}
}

/* CRC32 r32/r64, r/m8/16/32/64: accumulates the source's bytes, low first, into the low 32 bits
 * of the destination; the result is zero-extended. A general-purpose instruction: no SSE state. */
static void crc32(struct cpu *c, const struct insn *i)
{
	unsigned n = i->op[1].size;
	uint64_t v = op_get(c, i, 1);
	uint32_t crc = (uint32_t)c->s.gpr[i->op[0].reg];
	for (unsigned k = 0; k < n; k++)
		crc = crc32c_table[(crc ^ (uint8_t)(v >> 8 * k)) & 0xff] ^ (crc >> 8);
	gpr_set(c, i->op[0].reg, 4, crc);
}

static insn_fn crc32_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops != 2 || i->op[0].kind != OPK_GPR || i->op[0].reg >= 16 || i->op[1].size > 8)
		return NULL;
	return crc32;
}

/* ---- floating point ---- */

/* ROUNDPS/ROUNDPD (aligned m128), ROUNDSS/ROUNDSD (m32/m64) xmm, xmm/m, imm8.
 * insn.sub is the enum sse_cmpform. */
static void sse_roundop(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	union vec d, s;
	vec_read(c, i, 1, &s, true);
	xmm_get(c, i->op[0].reg, &d);
	sse_ext_exceptions(c, sse_round(i->sub, (uint8_t)i->imm, &d, &s, c->s.fx.mxcsr));
	xmm_set(c, i->op[0].reg, &d);
}

static insn_fn round_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops != 3 || i->op[0].kind != OPK_XMM)
		return NULL;
	switch (zi->mnemonic) {
	case ZYDIS_MNEMONIC_ROUNDPS: i->sub = SC_PS; break;
	case ZYDIS_MNEMONIC_ROUNDSS: i->sub = SC_SS; break;
	case ZYDIS_MNEMONIC_ROUNDPD: i->sub = SC_PD; break;
	default: i->sub = SC_SD; break;
	}
	return sse_roundop;
}

/* DPPS/DPPD xmm, xmm/m128 (aligned), imm8. insn.sub: double. */
static void sse_dpop(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	union vec d, s;
	vec_read(c, i, 1, &s, true);
	xmm_get(c, i->op[0].reg, &d);
	bool trap;
	uint32_t fl = sse_dp(i->sub, (uint8_t)i->imm, &d, &s, c->s.fx.mxcsr, &trap);
	if (trap) {
		c->s.fx.mxcsr |= fl;
		cpu_raise_noerr(c, (c->s.cr4 & CR4_OSXMMEXCPT) ? EXC_XM : EXC_UD);
	}
	sse_ext_exceptions(c, fl);
	xmm_set(c, i->op[0].reg, &d);
}

static insn_fn dp_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops != 3 || i->op[0].kind != OPK_XMM)
		return NULL;
	i->sub = zi->mnemonic == ZYDIS_MNEMONIC_DPPD;
	return sse_dpop;
}

void sse4_init(void)
{
	crc32c_init();
	for (unsigned k = 0; k < sizeof(sse4_ops) / sizeof(sse4_ops[0]); k++) {
		sse4_index[sse4_ops[k].m] = (uint8_t)k;
		insn_register(sse4_ops[k].m, NULL, sse4_select, 0);
	}
	insn_register(ZYDIS_MNEMONIC_BLENDVPS, NULL, blendv_select, 0);
	insn_register(ZYDIS_MNEMONIC_BLENDVPD, NULL, blendv_select, 0);
	insn_register(ZYDIS_MNEMONIC_PBLENDVB, NULL, blendv_select, 0);
	insn_register(ZYDIS_MNEMONIC_MOVNTDQA, NULL, mem_source_select, 0);
	insn_register(ZYDIS_MNEMONIC_PEXTRB, NULL, pextr_select, 0);
	insn_register(ZYDIS_MNEMONIC_PEXTRD, NULL, pextr_select, 0);
	insn_register(ZYDIS_MNEMONIC_PEXTRQ, NULL, pextr_select, 0);
	insn_register(ZYDIS_MNEMONIC_EXTRACTPS, NULL, pextr_select, 0);
	insn_register(ZYDIS_MNEMONIC_PINSRB, NULL, pinsr_select, 0);
	insn_register(ZYDIS_MNEMONIC_PINSRD, NULL, pinsr_select, 0);
	insn_register(ZYDIS_MNEMONIC_PINSRQ, NULL, pinsr_select, 0);
	insn_register(ZYDIS_MNEMONIC_INSERTPS, insertps, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_PTEST, ptest, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_PCMPESTRI, NULL, pcmpstr_select, 0);
	insn_register(ZYDIS_MNEMONIC_PCMPESTRM, NULL, pcmpstr_select, 0);
	insn_register(ZYDIS_MNEMONIC_PCMPISTRI, NULL, pcmpstr_select, 0);
	insn_register(ZYDIS_MNEMONIC_PCMPISTRM, NULL, pcmpstr_select, 0);
	insn_register(ZYDIS_MNEMONIC_CRC32, NULL, crc32_select, 0);
	insn_register(ZYDIS_MNEMONIC_ROUNDPS, NULL, round_select, 0);
	insn_register(ZYDIS_MNEMONIC_ROUNDPD, NULL, round_select, 0);
	insn_register(ZYDIS_MNEMONIC_ROUNDSS, NULL, round_select, 0);
	insn_register(ZYDIS_MNEMONIC_ROUNDSD, NULL, round_select, 0);
	insn_register(ZYDIS_MNEMONIC_DPPS, NULL, dp_select, 0);
	insn_register(ZYDIS_MNEMONIC_DPPD, NULL, dp_select, 0);
}
