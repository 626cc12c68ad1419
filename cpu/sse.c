/*
 * SSE and SSE2: data movement, floating-point arithmetic, compares and conversions on XMM
 * registers, the MMX<->XMM conversions, MXCSR access and FXSAVE/FXRSTOR (SDM vol. 1 ch. 10-11,
 * vol. 2 per instruction). Packed-integer and bitwise instructions are in mmx.c; the arithmetic
 * itself is in sse_arith.c.
 *
 * SIMD floating-point exceptions (SDM vol. 1 §11.5): sse_arith computes with every exception
 * masked and reports the flags; here, when one of them is unmasked, the destination is left
 * alone and #XM (or #UD without CR4.OSXMMEXCPT) is raised. If an unmasked exception is one of
 * the pre-computation kind (invalid, denormal, divide-by-zero) the instruction stops before
 * computing, so only those flags are recorded; otherwise every flag detected is recorded.
 */
#include "simd.h"
#include "sse_arith.h"
#include "string_ops.h"

#define MXCSR_PRECOMP (MXCSR_IE | MXCSR_DE | MXCSR_ZE)

/* Records the exception flags of a computation, or raises the SIMD exception when one is
 * unmasked (before any destination is written). */
static void sse_exceptions(struct cpu *c, uint32_t fl)
{
	uint32_t mx = c->s.fx.mxcsr;
	uint32_t unmasked = fl & ~(mx >> MXCSR_MASK_SHIFT) & MXCSR_FLAGS;
	if (unlikely(unmasked)) {
		if (unmasked & MXCSR_PRECOMP)
			fl &= MXCSR_PRECOMP;
		c->s.fx.mxcsr = mx | fl;
		cpu_raise_noerr(c, (c->s.cr4 & CR4_OSXMMEXCPT) ? EXC_XM : EXC_UD);
	}
	c->s.fx.mxcsr = mx | fl;
}

/* ---- data movement ---- */

/* Writes v (zero above its valid bytes) to operand 0: an XMM destination takes op[0].size bytes
 * and keeps the rest, MMX and GPR destinations take their size, memory its size. */
static void vec_write(struct cpu *c, const struct insn *i, const union vec *v, bool aligned, bool mmx)
{
	const struct operand *o = &i->op[0];
	switch (o->kind) {
	case OPK_XMM:
		memcpy(c->s.fx.xmm[o->reg], v, o->size);
		break;
	case OPK_MMX:
		mmx_enter(c);
		mm_set(c, o->reg, v->q[0]);
		return;
	case OPK_GPR:
		gpr_set(c, o->reg, o->size, v->q[0]);
		break;
	default: {
		uint64_t ea = insn_ea(c, i);
		if (o->size == 16) {
			if (aligned)
				simd_check_align(c, i->mem.seg, ea);
			mem_write_buf(c, i->mem.seg, ea, v, 16);
		} else {
			mem_write(c, i->mem.seg, ea, o->size, v->q[0]);
		}
		break;
	}
	}
	if (mmx)
		mmx_enter(c);
}

/* MOVAPS/MOVUPS/MOVSS/MOVD/MOVQ/MOVDQA/MOVNT* ...: operand 1's bytes (op[1].size of them) go to
 * operand 0, zero-extended to its size. insn.sub: 1 = 16-byte memory operands must be aligned. */
static void simd_mov(struct cpu *c, const struct insn *i)
{
	bool mmx = simd_check(c, i, false);
	union vec v;
	vec_read(c, i, 1, &v, i->sub);
	unsigned n = i->op[1].size;
	if (n < 16)
		memset(v.b + n, 0, 16 - n);
	vec_write(c, i, &v, i->sub, mmx);
}

static insn_fn simd_mov_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops != 2 || i->op[1].size == 0 || i->op[1].size > 16)
		return NULL;
	switch (i->mnem) {
	case ZYDIS_MNEMONIC_MOVAPS: case ZYDIS_MNEMONIC_MOVAPD: case ZYDIS_MNEMONIC_MOVDQA:
	case ZYDIS_MNEMONIC_MOVNTPS: case ZYDIS_MNEMONIC_MOVNTPD: case ZYDIS_MNEMONIC_MOVNTDQ:
		i->sub = 1;
		break;
	}
	return simd_mov;
}

/* MOVSD: the SSE2 move, or the string instruction when it has no operands. */
static insn_fn movsd_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops == 0)
		return string_select(i, zi, zo);
	return simd_mov_select(i, zi, zo);
}

/* MOVNTI m32/m64, r: a plain store (no SSE state involved). */
static void movnti(struct cpu *c, const struct insn *i)
{
	op_set(c, i, 0, op_get(c, i, 1));
}

/* MOVHPS/MOVHPD: the high quadword to or from memory. */
static void movhp(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	uint64_t ea = insn_ea(c, i);
	if (i->op[0].kind == OPK_MEM) {
		mem_write(c, i->mem.seg, ea, 8, ((const union vec *)c->s.fx.xmm[i->op[1].reg])->q[1]);
	} else {
		uint64_t v = mem_read(c, i->mem.seg, ea, 8);
		memcpy(c->s.fx.xmm[i->op[0].reg] + 8, &v, 8);
	}
}

/* MOVHLPS: low quadword = source's high quadword; MOVLHPS: high = source's low. */
static void movhlps(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	memmove(c->s.fx.xmm[i->op[0].reg], c->s.fx.xmm[i->op[1].reg] + 8, 8);
}

static void movlhps(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	memmove(c->s.fx.xmm[i->op[0].reg] + 8, c->s.fx.xmm[i->op[1].reg], 8);
}

/* MOVMSKPS / MOVMSKPD: the element sign bits into a GPR. */
static void movmskps(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	union vec s;
	xmm_get(c, i->op[1].reg, &s);
	unsigned m = 0;
	for (unsigned k = 0; k < 4; k++)
		m |= (s.d[k] >> 31) << k;
	gpr_set(c, i->op[0].reg, i->op[0].size == 8 ? 8 : 4, m);
}

static void movmskpd(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	union vec s;
	xmm_get(c, i->op[1].reg, &s);
	unsigned m = (unsigned)(s.q[0] >> 63) | (unsigned)(s.q[1] >> 63) << 1;
	gpr_set(c, i->op[0].reg, i->op[0].size == 8 ? 8 : 4, m);
}

/* ---- arithmetic, compares, conversions ---- */

/* xmm = op(xmm, xmm/mem); insn.sub is the enum sse_fop. */
static void sse_fp(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	union vec d, s;
	vec_read(c, i, 1, &s, true);
	xmm_get(c, i->op[0].reg, &d);
	sse_exceptions(c, sse_fop(i->sub, &d, &s, c->s.fx.mxcsr));
	xmm_set(c, i->op[0].reg, &d);
}

static const struct {
	ZydisMnemonic m;
	uint8_t op;
} sse_fp_ops[] = {
	{ ZYDIS_MNEMONIC_ADDPS, SF_ADDPS }, { ZYDIS_MNEMONIC_ADDSS, SF_ADDSS },
	{ ZYDIS_MNEMONIC_ADDPD, SF_ADDPD }, { ZYDIS_MNEMONIC_ADDSD, SF_ADDSD },
	{ ZYDIS_MNEMONIC_SUBPS, SF_SUBPS }, { ZYDIS_MNEMONIC_SUBSS, SF_SUBSS },
	{ ZYDIS_MNEMONIC_SUBPD, SF_SUBPD }, { ZYDIS_MNEMONIC_SUBSD, SF_SUBSD },
	{ ZYDIS_MNEMONIC_MULPS, SF_MULPS }, { ZYDIS_MNEMONIC_MULSS, SF_MULSS },
	{ ZYDIS_MNEMONIC_MULPD, SF_MULPD }, { ZYDIS_MNEMONIC_MULSD, SF_MULSD },
	{ ZYDIS_MNEMONIC_DIVPS, SF_DIVPS }, { ZYDIS_MNEMONIC_DIVSS, SF_DIVSS },
	{ ZYDIS_MNEMONIC_DIVPD, SF_DIVPD }, { ZYDIS_MNEMONIC_DIVSD, SF_DIVSD },
	{ ZYDIS_MNEMONIC_MAXPS, SF_MAXPS }, { ZYDIS_MNEMONIC_MAXSS, SF_MAXSS },
	{ ZYDIS_MNEMONIC_MAXPD, SF_MAXPD }, { ZYDIS_MNEMONIC_MAXSD, SF_MAXSD },
	{ ZYDIS_MNEMONIC_MINPS, SF_MINPS }, { ZYDIS_MNEMONIC_MINSS, SF_MINSS },
	{ ZYDIS_MNEMONIC_MINPD, SF_MINPD }, { ZYDIS_MNEMONIC_MINSD, SF_MINSD },
	{ ZYDIS_MNEMONIC_SQRTPS, SF_SQRTPS }, { ZYDIS_MNEMONIC_SQRTSS, SF_SQRTSS },
	{ ZYDIS_MNEMONIC_SQRTPD, SF_SQRTPD }, { ZYDIS_MNEMONIC_SQRTSD, SF_SQRTSD },
	{ ZYDIS_MNEMONIC_RCPPS, SF_RCPPS }, { ZYDIS_MNEMONIC_RCPSS, SF_RCPSS },
	{ ZYDIS_MNEMONIC_RSQRTPS, SF_RSQRTPS }, { ZYDIS_MNEMONIC_RSQRTSS, SF_RSQRTSS },
	{ ZYDIS_MNEMONIC_CVTDQ2PS, SF_CVTDQ2PS }, { ZYDIS_MNEMONIC_CVTPS2DQ, SF_CVTPS2DQ },
	{ ZYDIS_MNEMONIC_CVTTPS2DQ, SF_CVTTPS2DQ }, { ZYDIS_MNEMONIC_CVTDQ2PD, SF_CVTDQ2PD },
	{ ZYDIS_MNEMONIC_CVTPD2DQ, SF_CVTPD2DQ }, { ZYDIS_MNEMONIC_CVTTPD2DQ, SF_CVTTPD2DQ },
	{ ZYDIS_MNEMONIC_CVTPS2PD, SF_CVTPS2PD }, { ZYDIS_MNEMONIC_CVTPD2PS, SF_CVTPD2PS },
	{ ZYDIS_MNEMONIC_CVTSS2SD, SF_CVTSS2SD }, { ZYDIS_MNEMONIC_CVTSD2SS, SF_CVTSD2SS },
};

static uint8_t sse_fp_index[ZYDIS_MNEMONIC_MAX_VALUE + 1];

static insn_fn sse_fp_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	if (i->nops != 2 || i->op[0].kind != OPK_XMM)
		return NULL;
	i->sub = sse_fp_ops[sse_fp_index[zi->mnemonic]].op;
	return sse_fp;
}

/* CMPPS/CMPSS/CMPPD/CMPSD xmm, xmm/mem, imm8: insn.sub is the enum sse_cmpform. */
static void sse_cmpop(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	union vec d, s;
	vec_read(c, i, 1, &s, true);
	xmm_get(c, i->op[0].reg, &d);
	sse_exceptions(c, sse_cmp(i->sub, i->imm & 7, &d, &s, c->s.fx.mxcsr));
	xmm_set(c, i->op[0].reg, &d);
}

static insn_fn sse_cmp_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	switch (zi->mnemonic) {
	case ZYDIS_MNEMONIC_CMPPS: i->sub = SC_PS; break;
	case ZYDIS_MNEMONIC_CMPSS: i->sub = SC_SS; break;
	case ZYDIS_MNEMONIC_CMPPD: i->sub = SC_PD; break;
	default:
		if (i->nops == 0)
			return string_select(i, zi, zo); /* the string CMPSD */
		i->sub = SC_SD;
		break;
	}
	return i->nops == 3 && i->op[0].kind == OPK_XMM ? sse_cmpop : NULL;
}

/* COMISS/UCOMISS/COMISD/UCOMISD: ZF, PF, CF from the compare; OF, SF, AF cleared.
 * insn.sub bit 0: double, bit 1: unordered (quiet) form. */
static void sse_comis(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	union vec a, b;
	uint32_t zpc;
	vec_read(c, i, 1, &b, true);
	xmm_get(c, i->op[0].reg, &a);
	sse_exceptions(c, sse_comi(i->sub & 1, i->sub & 2, &a, &b, c->s.fx.mxcsr, &zpc));
	flags_set_arith(c, zpc);
}

/* CVT(T)SS2SI / CVT(T)SD2SI r32/r64, xmm/mem. insn.sub bit 0: double, bit 1: truncate. */
static void sse_cvt2si(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	union vec s;
	uint64_t r;
	vec_read(c, i, 1, &s, true);
	unsigned size = i->op[0].size == 8 ? 8 : 4;
	sse_exceptions(c, sse_cvt_to_int(i->sub & 1, i->sub & 2, size, &s, c->s.fx.mxcsr, &r));
	gpr_set(c, i->op[0].reg, size, r);
}

/* CVTSI2SS / CVTSI2SD xmm, r/m32 or r/m64. insn.sub: double. */
static void sse_cvtsi2(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	union vec d;
	unsigned size = i->op[1].size == 8 ? 8 : 4;
	uint64_t v = i->op[1].kind == OPK_MEM ? mem_read(c, i->mem.seg, insn_ea(c, i), size)
					      : gpr_get(c, i->op[1].reg, size);
	xmm_get(c, i->op[0].reg, &d);
	sse_exceptions(c, sse_cvt_from_int(i->sub, size, &d, v, c->s.fx.mxcsr));
	xmm_set(c, i->op[0].reg, &d);
}

/* Conversions with an MMX operand (packed doublewords in an MM register or m64):
 * CVTPI2PS, CVTPI2PD, CVT(T)PS2PI, CVT(T)PD2PI. insn.sub is the sse_fop of the packed XMM
 * conversion that computes the same elements. */
static void sse_cvtpi(struct cpu *c, const struct insn *i)
{
	bool mmx = simd_check(c, i, true);
	union vec d, s, r = { 0 };
	vec_read(c, i, 1, &s, true);
	if (i->op[1].kind == OPK_XMM && i->op[1].size == 8)
		s.q[1] = 0; /* CVT(T)PS2PI reads two singles only */
	uint32_t fl = sse_fop(i->sub, &r, &s, c->s.fx.mxcsr);
	sse_exceptions(c, fl);
	if (i->op[0].kind == OPK_MMX) {
		mmx_enter(c);
		mm_set(c, i->op[0].reg, r.q[0]);
		return;
	}
	if (i->sub == SF_CVTDQ2PS) {
		xmm_get(c, i->op[0].reg, &d);
		d.q[0] = r.q[0]; /* CVTPI2PS keeps the high quadword */
		r = d;
	}
	xmm_set(c, i->op[0].reg, &r);
	if (mmx)
		mmx_enter(c);
}

/* ---- MXCSR and FXSAVE/FXRSTOR ---- */

static void ldmxcsr(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	uint32_t v = (uint32_t)mem_read(c, i->mem.seg, insn_ea(c, i), 4);
	if (v & ~(uint32_t)MXCSR_WRITABLE)
		cpu_gp(c, 0);
	c->s.fx.mxcsr = v;
}

static void stmxcsr(struct cpu *c, const struct insn *i)
{
	simd_check_sse(c);
	mem_write(c, i->mem.seg, insn_ea(c, i), 4, c->s.fx.mxcsr);
}

/* FXSAVE/FXRSTOR raise #NM for CR0.EM as well as CR0.TS (SDM vol. 2 FXSAVE). */
static uint64_t fx_prologue(struct cpu *c, const struct insn *i)
{
	if (c->s.cr0 & (CR0_EM | CR0_TS))
		cpu_raise_noerr(c, EXC_NM);
	uint64_t ea = insn_ea(c, i);
	simd_check_align(c, i->mem.seg, ea);
	return ea;
}

/* Bytes of the FXSAVE image the processor writes: through XMM15 in 64-bit mode, XMM7 elsewhere. */
static unsigned fx_image_size(const struct cpu *c)
{
	return c->mode == CPU_MODE_LONG64 ? 416 : 288;
}

/*
 * FXSAVE / FXSAVE64 (SDM vol. 1 §10.5.1). The state is kept in the 64-bit image layout; the
 * 32-bit form (no REX.W) stores FPU IP/DP as 32-bit offsets with the selectors (bits 32..47 of
 * fip/fdp) beside them.
 */
static void fxsave(struct cpu *c, const struct insn *i)
{
	uint64_t ea = fx_prologue(c, i);
	struct cpu_fxstate img = c->s.fx;
	img.mxcsr_mask = MXCSR_WRITABLE;
	img.rsvd1 = 0;
	if (i->mnem != ZYDIS_MNEMONIC_FXSAVE64) {
		img.fip &= 0xffffffffffffull;
		img.fdp &= 0xffffffffffffull;
	}
	for (unsigned k = 0; k < 8; k++)
		memset(img.st[k] + 10, 0, 6);
	/* The processor checks the whole 512-byte area, reporting a fault at its last byte. */
	mem_probe_write(c, i->mem.seg, ea + 511, 1);
	mem_write_buf(c, i->mem.seg, ea, &img, fx_image_size(c));
}

static void fxrstor(struct cpu *c, const struct insn *i)
{
	uint64_t ea = fx_prologue(c, i);
	struct cpu_fxstate img;
	unsigned n = fx_image_size(c);
	mem_read(c, i->mem.seg, ea + 511, 1);
	mem_read_buf(c, i->mem.seg, ea, &img, n);
	if (img.mxcsr & ~(uint32_t)MXCSR_WRITABLE)
		cpu_gp(c, 0);
	if (i->mnem != ZYDIS_MNEMONIC_FXRSTOR64) {
		img.fip &= 0xffffffffffffull;
		img.fdp &= 0xffffffffffffull;
	}
	struct cpu_fxstate *fx = &c->s.fx;
	fx->fcw = img.fcw;
	fx->fsw = img.fsw;
	fx->ftw = img.ftw;
	fx->fop = img.fop & 0x7ff;
	fx->fip = img.fip;
	fx->fdp = img.fdp;
	fx->mxcsr = img.mxcsr;
	memcpy(fx->st, img.st, sizeof(fx->st));
	memcpy(fx->xmm, img.xmm, n - offsetof(struct cpu_fxstate, xmm));
}

/* ---- registration ---- */

static void reg_all(const ZydisMnemonic *m, size_t n, insn_fn fn, insn_select_fn sel)
{
	for (size_t k = 0; k < n; k++)
		insn_register(m[k], fn, sel, 0);
}

#define REG_ALL(arr, fn, sel) reg_all(arr, sizeof(arr) / sizeof(arr[0]), fn, sel)

static insn_fn sse_cvt2si_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	switch (zi->mnemonic) {
	case ZYDIS_MNEMONIC_CVTSS2SI: i->sub = 0; break;
	case ZYDIS_MNEMONIC_CVTSD2SI: i->sub = 1; break;
	case ZYDIS_MNEMONIC_CVTTSS2SI: i->sub = 2; break;
	default: i->sub = 3; break;
	}
	return sse_cvt2si;
}

static insn_fn sse_cvtsi2_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	i->sub = zi->mnemonic == ZYDIS_MNEMONIC_CVTSI2SD;
	return sse_cvtsi2;
}

static insn_fn sse_comis_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	switch (zi->mnemonic) {
	case ZYDIS_MNEMONIC_COMISS: i->sub = 0; break;
	case ZYDIS_MNEMONIC_COMISD: i->sub = 1; break;
	case ZYDIS_MNEMONIC_UCOMISS: i->sub = 2; break;
	default: i->sub = 3; break;
	}
	return sse_comis;
}

static insn_fn sse_cvtpi_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	switch (zi->mnemonic) {
	case ZYDIS_MNEMONIC_CVTPI2PS: i->sub = SF_CVTDQ2PS; break;
	case ZYDIS_MNEMONIC_CVTPI2PD: i->sub = SF_CVTDQ2PD; break;
	case ZYDIS_MNEMONIC_CVTPS2PI: i->sub = SF_CVTPS2DQ; break;
	case ZYDIS_MNEMONIC_CVTTPS2PI: i->sub = SF_CVTTPS2DQ; break;
	case ZYDIS_MNEMONIC_CVTPD2PI: i->sub = SF_CVTPD2DQ; break;
	default: i->sub = SF_CVTTPD2DQ; break;
	}
	return sse_cvtpi;
}

void sse_init(void)
{
	static const ZydisMnemonic movs[] = {
		ZYDIS_MNEMONIC_MOVAPS, ZYDIS_MNEMONIC_MOVAPD, ZYDIS_MNEMONIC_MOVDQA,
		ZYDIS_MNEMONIC_MOVUPS, ZYDIS_MNEMONIC_MOVUPD, ZYDIS_MNEMONIC_MOVDQU,
		ZYDIS_MNEMONIC_MOVNTPS, ZYDIS_MNEMONIC_MOVNTPD, ZYDIS_MNEMONIC_MOVNTDQ, ZYDIS_MNEMONIC_MOVNTQ,
		ZYDIS_MNEMONIC_MOVSS, ZYDIS_MNEMONIC_MOVD, ZYDIS_MNEMONIC_MOVQ,
		ZYDIS_MNEMONIC_MOVLPS, ZYDIS_MNEMONIC_MOVLPD, ZYDIS_MNEMONIC_MOVQ2DQ, ZYDIS_MNEMONIC_MOVDQ2Q,
	};
	REG_ALL(movs, NULL, simd_mov_select);
	insn_register(ZYDIS_MNEMONIC_MOVSD, NULL, movsd_select, 0);
	insn_register(ZYDIS_MNEMONIC_MOVHPS, movhp, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_MOVHPD, movhp, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_MOVHLPS, movhlps, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_MOVLHPS, movlhps, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_MOVMSKPS, movmskps, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_MOVMSKPD, movmskpd, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_MOVNTI, movnti, NULL, 0);

	for (unsigned k = 0; k < sizeof(sse_fp_ops) / sizeof(sse_fp_ops[0]); k++) {
		sse_fp_index[sse_fp_ops[k].m] = (uint8_t)k;
		insn_register(sse_fp_ops[k].m, NULL, sse_fp_select, 0);
	}
	static const ZydisMnemonic cmps[] = {
		ZYDIS_MNEMONIC_CMPPS, ZYDIS_MNEMONIC_CMPSS, ZYDIS_MNEMONIC_CMPPD, ZYDIS_MNEMONIC_CMPSD,
	};
	REG_ALL(cmps, NULL, sse_cmp_select);
	static const ZydisMnemonic comis[] = {
		ZYDIS_MNEMONIC_COMISS, ZYDIS_MNEMONIC_COMISD, ZYDIS_MNEMONIC_UCOMISS, ZYDIS_MNEMONIC_UCOMISD,
	};
	REG_ALL(comis, NULL, sse_comis_select);
	static const ZydisMnemonic cvt2si[] = {
		ZYDIS_MNEMONIC_CVTSS2SI, ZYDIS_MNEMONIC_CVTSD2SI, ZYDIS_MNEMONIC_CVTTSS2SI, ZYDIS_MNEMONIC_CVTTSD2SI,
	};
	REG_ALL(cvt2si, NULL, sse_cvt2si_select);
	insn_register(ZYDIS_MNEMONIC_CVTSI2SS, NULL, sse_cvtsi2_select, 0);
	insn_register(ZYDIS_MNEMONIC_CVTSI2SD, NULL, sse_cvtsi2_select, 0);
	static const ZydisMnemonic cvtpi[] = {
		ZYDIS_MNEMONIC_CVTPI2PS, ZYDIS_MNEMONIC_CVTPI2PD, ZYDIS_MNEMONIC_CVTPS2PI,
		ZYDIS_MNEMONIC_CVTTPS2PI, ZYDIS_MNEMONIC_CVTPD2PI, ZYDIS_MNEMONIC_CVTTPD2PI,
	};
	REG_ALL(cvtpi, NULL, sse_cvtpi_select);

	insn_register(ZYDIS_MNEMONIC_LDMXCSR, ldmxcsr, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_STMXCSR, stmxcsr, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_FXSAVE, fxsave, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_FXSAVE64, fxsave, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_FXRSTOR, fxrstor, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_FXRSTOR64, fxrstor, NULL, 0);
}
