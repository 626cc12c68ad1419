/*
 * SSE-SSE4.1 floating-point arithmetic on the host's SSE unit (see sse_arith.h).
 *
 * Each operation is one host instruction bracketed by LDMXCSR of the guest's control bits (all
 * exceptions masked, flags clear) and STMXCSR to collect the flags, then the host MXCSR is put
 * back. Rounding, FTZ, DAZ, NaN propagation, integer indefinite and the RCP/RSQRT approximations
 * are thus exactly those of the processor we run on. Instructions whose immediate selects the
 * operation (DPPS/DPPD) go through a table of host stubs, one per immediate.
 */
#include <stdbool.h>

#include "sse_arith.h"

typedef float v4sf __attribute__((vector_size(16)));

/* The MXCSR the host runs with: guest rounding/FTZ/DAZ, all exceptions masked, no flags. */
static inline uint32_t host_mxcsr(uint32_t guest)
{
	return (guest & (MXCSR_RC | MXCSR_FTZ | MXCSR_DAZ)) | MXCSR_MASKS;
}

#define RUN2(mn)                                                                                    \
	asm volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t" mn " %[b], %[a]\n\tstmxcsr %[o]\n\tldmxcsr %[h]" \
		     : [a] "+x"(a), [h] "=m"(hostcsr), [o] "=m"(out)                                \
		     : [b] "x"(b), [g] "m"(g))

#define OP2(op, mn)     \
	case op:        \
		RUN2(mn); \
		break

static bool denormal32(uint32_t v)
{
	return !(v & 0x7f800000) && (v & 0x007fffff);
}

static bool denormal64(uint64_t v)
{
	return !(v & 0x7ff0000000000000ull) && (v & 0x000fffffffffffffull);
}

/* With underflow unmasked, a tiny result raises UE even when exact (the masked run reports UE
 * only for tiny and inexact results). Only operations that can produce a tiny result from
 * normal operands count: an exact denormal from these is tiny. */
static uint32_t unmasked_underflow(unsigned op, const union vec *r)
{
	unsigned lanes32 = 0, lanes64 = 0;
	switch (op) {
	case SF_ADDPS: case SF_SUBPS: case SF_MULPS: case SF_DIVPS: lanes32 = 4; break;
	case SF_ADDSS: case SF_SUBSS: case SF_MULSS: case SF_DIVSS: case SF_CVTSD2SS: lanes32 = 1; break;
	case SF_CVTPD2PS: lanes32 = 2; break;
	case SF_ADDPD: case SF_SUBPD: case SF_MULPD: case SF_DIVPD: lanes64 = 2; break;
	case SF_ADDSD: case SF_SUBSD: case SF_MULSD: case SF_DIVSD: lanes64 = 1; break;
	case SF_ADDSUBPS: case SF_HADDPS: case SF_HSUBPS: lanes32 = 4; break;
	case SF_ADDSUBPD: case SF_HADDPD: case SF_HSUBPD: lanes64 = 2; break;
	default: return 0;
	}
	for (unsigned k = 0; k < lanes32; k++)
		if (denormal32(r->d[k]))
			return MXCSR_UE;
	for (unsigned k = 0; k < lanes64; k++)
		if (denormal64(r->q[k]))
			return MXCSR_UE;
	return 0;
}

/* Whether a op b (0 add, 1 sub, 2 mul, 3 div) is inexact when rounded to the single or double
 * significand with an unbounded exponent: the host x87 with precision control 24 or 53 bits has
 * exponent range to spare. */
static bool inexact_unbounded(unsigned kind, bool dbl, long double a, long double b)
{
	uint16_t old, cw = dbl ? 0x027f : 0x007f, sw;
	long double r;
	switch (kind) {
	case 0:
		asm volatile("fnstcw %[old]\n\tfldcw %[cw]\n\tfnclex\n\tfadd %%st(1), %%st\n\tfnstsw %[sw]\n\tfnclex\n\tfldcw %[old]"
			     : "=t"(r), [sw] "=m"(sw), [old] "=m"(old) : "0"(a), "u"(b), [cw] "m"(cw));
		break;
	case 1:
		asm volatile("fnstcw %[old]\n\tfldcw %[cw]\n\tfnclex\n\tfsub %%st(1), %%st\n\tfnstsw %[sw]\n\tfnclex\n\tfldcw %[old]"
			     : "=t"(r), [sw] "=m"(sw), [old] "=m"(old) : "0"(a), "u"(b), [cw] "m"(cw));
		break;
	case 2:
		asm volatile("fnstcw %[old]\n\tfldcw %[cw]\n\tfnclex\n\tfmul %%st(1), %%st\n\tfnstsw %[sw]\n\tfnclex\n\tfldcw %[old]"
			     : "=t"(r), [sw] "=m"(sw), [old] "=m"(old) : "0"(a), "u"(b), [cw] "m"(cw));
		break;
	default:
		asm volatile("fnstcw %[old]\n\tfldcw %[cw]\n\tfnclex\n\tfdiv %%st(1), %%st\n\tfnstsw %[sw]\n\tfnclex\n\tfldcw %[old]"
			     : "=t"(r), [sw] "=m"(sw), [old] "=m"(old) : "0"(a), "u"(b), [cw] "m"(cw));
		break;
	}
	(void)r;
	return sw & 0x20;
}

static long double lane_f32(uint32_t v, uint32_t mxcsr)
{
	float f;
	if ((mxcsr & MXCSR_DAZ) && denormal32(v))
		v &= 0x80000000u;
	memcpy(&f, &v, 4);
	return f;
}

static long double lane_f64(uint64_t v, uint32_t mxcsr)
{
	double f;
	if ((mxcsr & MXCSR_DAZ) && denormal64(v))
		v &= 0x8000000000000000ull;
	memcpy(&f, &v, 8);
	return f;
}

/* The SSE3 additions as lane-wise a op b: *sub has bit k set where lane k subtracts. */
static bool sse3_lanes(unsigned op, const union vec *d, const union vec *s, union vec *a, union vec *b,
		       unsigned *sub)
{
	switch (op) {
	case SF_ADDSUBPS: *a = *d; *b = *s; *sub = 0x5; return true;
	case SF_ADDSUBPD: *a = *d; *b = *s; *sub = 0x1; return true;
	case SF_HADDPS: case SF_HSUBPS:
		for (unsigned k = 0; k < 2; k++) {
			a->d[k] = d->d[2 * k];
			b->d[k] = d->d[2 * k + 1];
			a->d[2 + k] = s->d[2 * k];
			b->d[2 + k] = s->d[2 * k + 1];
		}
		*sub = op == SF_HSUBPS ? 0xf : 0;
		return true;
	case SF_HADDPD: case SF_HSUBPD:
		a->q[0] = d->q[0];
		b->q[0] = d->q[1];
		a->q[1] = s->q[0];
		b->q[1] = s->q[1];
		*sub = op == SF_HSUBPD ? 0x3 : 0;
		return true;
	default: return false;
	}
}

/* The flags of one lane computed alone with every exception masked: x op y (kind 0 add, 1 sub,
 * 2 mul, 3 div) or, for cvt, the double x converted to single. */
static uint32_t lane_masked_flags(unsigned kind, bool dbl, bool cvt, uint64_t x, uint64_t y, uint32_t mxcsr)
{
	static const uint8_t ops[2][4] = {
		{ SF_ADDSS, SF_SUBSS, SF_MULSS, SF_DIVSS }, { SF_ADDSD, SF_SUBSD, SF_MULSD, SF_DIVSD },
	};
	union vec a = { 0 }, b = { 0 };
	if (cvt) {
		b.q[0] = x;
		return sse_fop(SF_CVTSD2SS, &a, &b, mxcsr | MXCSR_MASKS);
	}
	a.q[0] = x;
	b.q[0] = y;
	return sse_fop(ops[dbl][kind], &a, &b, mxcsr | MXCSR_MASKS);
}

/*
 * With overflow or underflow unmasked the processor delivers the result with its exponent
 * adjusted (SDM vol. 1 §11.5.2.3, §11.5.2.4) and reports PE when that result is inexact, which
 * differs from the masked run's PE (an overflow to infinity is always inexact). Recomputes PE so,
 * lane by lane: a lane whose overflow or underflow traps counts with its unbounded result, any
 * other lane (a masked overflow or underflow included) with its masked result.
 */
static uint32_t trapped_precision(unsigned op, const union vec *a, const union vec *b, uint32_t mxcsr)
{
	unsigned kind = 0, lanes;
	unsigned sub = 0; /* lanes that subtract (SSE3 forms) */
	bool dbl, cvt = false;
	union vec la, lb;
	if (sse3_lanes(op, a, b, &la, &lb, &sub)) {
		dbl = op == SF_ADDSUBPD || op == SF_HADDPD || op == SF_HSUBPD;
		lanes = dbl ? 2 : 4;
	} else {
		switch (op) {
		case SF_ADDPS: case SF_ADDSS: case SF_ADDPD: case SF_ADDSD: kind = 0; break;
		case SF_SUBPS: case SF_SUBSS: case SF_SUBPD: case SF_SUBSD: kind = 1; break;
		case SF_MULPS: case SF_MULSS: case SF_MULPD: case SF_MULSD: kind = 2; break;
		case SF_DIVPS: case SF_DIVSS: case SF_DIVPD: case SF_DIVSD: kind = 3; break;
		case SF_CVTPD2PS: kind = 0; cvt = true; break;
		case SF_CVTSD2SS: kind = 0; cvt = true; break;
		default: return 0;
		}
		switch (op) {
		case SF_ADDPS: case SF_SUBPS: case SF_MULPS: case SF_DIVPS: lanes = 4; dbl = false; break;
		case SF_ADDSS: case SF_SUBSS: case SF_MULSS: case SF_DIVSS: lanes = 1; dbl = false; break;
		case SF_ADDPD: case SF_SUBPD: case SF_MULPD: case SF_DIVPD: lanes = 2; dbl = true; break;
		case SF_CVTPD2PS: lanes = 2; dbl = false; break;
		default: lanes = 1; dbl = op != SF_CVTSD2SS; break;
		}
		la = *a;
		lb = *b;
	}
	for (unsigned k = 0; k < lanes; k++) {
		unsigned kd = sub >> k & 1 ? 1 : kind;
		uint64_t xb, yb;
		long double x, y;
		if (cvt) {
			xb = lb.q[k];
			yb = 0;
			x = lane_f64(xb, mxcsr);
			y = 0;
		} else if (dbl) {
			xb = la.q[k];
			yb = lb.q[k];
			x = lane_f64(xb, mxcsr);
			y = lane_f64(yb, mxcsr);
		} else {
			xb = la.d[k];
			yb = lb.d[k];
			x = lane_f32((uint32_t)xb, mxcsr);
			y = lane_f32((uint32_t)yb, mxcsr);
		}
		uint32_t lf = lane_masked_flags(kd, dbl, cvt, xb, yb, mxcsr);
		bool trapped = ((lf & MXCSR_OE) && !(mxcsr & (MXCSR_OE << MXCSR_MASK_SHIFT))) ||
			       ((lf & MXCSR_UE) && !(mxcsr & MXCSR_UM));
		if (trapped ? inexact_unbounded(kd, dbl, x, y) : (lf & MXCSR_PE) != 0)
			return MXCSR_PE;
	}
	return 0;
}

uint32_t sse_fop(unsigned op, union vec *d, const union vec *s, uint32_t mxcsr)
{
	const union vec in = *d;
	v4sf a, b;
	uint32_t g = host_mxcsr(mxcsr), hostcsr, out = 0;
	memcpy(&a, d, 16);
	memcpy(&b, s, 16);
	switch (op) {
	OP2(SF_ADDPS, "addps"); OP2(SF_ADDSS, "addss"); OP2(SF_ADDPD, "addpd"); OP2(SF_ADDSD, "addsd");
	OP2(SF_SUBPS, "subps"); OP2(SF_SUBSS, "subss"); OP2(SF_SUBPD, "subpd"); OP2(SF_SUBSD, "subsd");
	OP2(SF_MULPS, "mulps"); OP2(SF_MULSS, "mulss"); OP2(SF_MULPD, "mulpd"); OP2(SF_MULSD, "mulsd");
	OP2(SF_DIVPS, "divps"); OP2(SF_DIVSS, "divss"); OP2(SF_DIVPD, "divpd"); OP2(SF_DIVSD, "divsd");
	OP2(SF_MAXPS, "maxps"); OP2(SF_MAXSS, "maxss"); OP2(SF_MAXPD, "maxpd"); OP2(SF_MAXSD, "maxsd");
	OP2(SF_MINPS, "minps"); OP2(SF_MINSS, "minss"); OP2(SF_MINPD, "minpd"); OP2(SF_MINSD, "minsd");
	OP2(SF_SQRTPS, "sqrtps"); OP2(SF_SQRTSS, "sqrtss"); OP2(SF_SQRTPD, "sqrtpd"); OP2(SF_SQRTSD, "sqrtsd");
	OP2(SF_RCPPS, "rcpps"); OP2(SF_RCPSS, "rcpss"); OP2(SF_RSQRTPS, "rsqrtps"); OP2(SF_RSQRTSS, "rsqrtss");
	OP2(SF_CVTDQ2PS, "cvtdq2ps"); OP2(SF_CVTPS2DQ, "cvtps2dq"); OP2(SF_CVTTPS2DQ, "cvttps2dq");
	OP2(SF_CVTDQ2PD, "cvtdq2pd"); OP2(SF_CVTPD2DQ, "cvtpd2dq"); OP2(SF_CVTTPD2DQ, "cvttpd2dq");
	OP2(SF_CVTPS2PD, "cvtps2pd"); OP2(SF_CVTPD2PS, "cvtpd2ps");
	OP2(SF_CVTSS2SD, "cvtss2sd"); OP2(SF_CVTSD2SS, "cvtsd2ss");
	OP2(SF_ADDSUBPS, "addsubps"); OP2(SF_ADDSUBPD, "addsubpd");
	OP2(SF_HADDPS, "haddps"); OP2(SF_HADDPD, "haddpd"); OP2(SF_HSUBPS, "hsubps"); OP2(SF_HSUBPD, "hsubpd");
	default: return 0;
	}
	memcpy(d, &a, 16);
	out &= MXCSR_FLAGS;
	if (!(mxcsr & MXCSR_UM) && !(out & MXCSR_UE))
		out |= unmasked_underflow(op, d);
	if (out & ~(mxcsr >> MXCSR_MASK_SHIFT) & (MXCSR_OE | MXCSR_UE))
		out = (out & ~MXCSR_PE) | trapped_precision(op, &in, s, mxcsr);
	return out;
}

#define CMP8(mn)                                                                                     \
	switch (pred) {                                                                              \
	case 0: RUN2(mn " $0,"); break;                                                              \
	case 1: RUN2(mn " $1,"); break;                                                              \
	case 2: RUN2(mn " $2,"); break;                                                              \
	case 3: RUN2(mn " $3,"); break;                                                              \
	case 4: RUN2(mn " $4,"); break;                                                              \
	case 5: RUN2(mn " $5,"); break;                                                              \
	case 6: RUN2(mn " $6,"); break;                                                              \
	default: RUN2(mn " $7,"); break;                                                             \
	}

uint32_t sse_cmp(unsigned form, unsigned pred, union vec *d, const union vec *s, uint32_t mxcsr)
{
	v4sf a, b;
	uint32_t g = host_mxcsr(mxcsr), hostcsr, out = 0;
	memcpy(&a, d, 16);
	memcpy(&b, s, 16);
	switch (form) {
	case SC_PS: CMP8("cmpps"); break;
	case SC_SS: CMP8("cmpss"); break;
	case SC_PD: CMP8("cmppd"); break;
	default: CMP8("cmpsd"); break;
	}
	memcpy(d, &a, 16);
	return out & MXCSR_FLAGS;
}

#define COMI(mn)                                                                                      \
	asm volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t" mn " %[b], %[a]\n\tstmxcsr %[o]\n\tldmxcsr %[h]" \
		     : [h] "=m"(hostcsr), [o] "=m"(out), "=@ccz"(zf), "=@ccp"(pf), "=@ccc"(cf)         \
		     : [a] "x"(va), [b] "x"(vb), [g] "m"(g))

uint32_t sse_comi(bool dbl, bool unordered_quiet, const union vec *a, const union vec *b, uint32_t mxcsr,
		  uint32_t *zpc)
{
	v4sf va, vb;
	uint32_t g = host_mxcsr(mxcsr), hostcsr, out;
	bool zf, pf, cf;
	memcpy(&va, a, 16);
	memcpy(&vb, b, 16);
	if (dbl) {
		if (unordered_quiet)
			COMI("ucomisd");
		else
			COMI("comisd");
	} else {
		if (unordered_quiet)
			COMI("ucomiss");
		else
			COMI("comiss");
	}
	*zpc = (zf ? F_ZF : 0) | (pf ? F_PF : 0) | (cf ? F_CF : 0);
	return out & MXCSR_FLAGS;
}

#define CVT2I(mn, w)                                                                                    \
	asm volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t" mn " %[b], %" w "[r]\n\tstmxcsr %[o]\n\tldmxcsr %[h]" \
		     : [r] "=r"(r), [h] "=m"(hostcsr), [o] "=m"(out)                                      \
		     : [b] "x"(vb), [g] "m"(g))

uint32_t sse_cvt_to_int(bool dbl, bool trunc, unsigned size, const union vec *s, uint32_t mxcsr, uint64_t *res)
{
	v4sf vb;
	uint32_t g = host_mxcsr(mxcsr), hostcsr, out;
	uint64_t r = 0;
	memcpy(&vb, s, 16);
	switch ((dbl ? 4 : 0) | (trunc ? 2 : 0) | (size == 8)) {
	case 0: CVT2I("cvtss2si", "k"); break;
	case 1: CVT2I("cvtss2si", "q"); break;
	case 2: CVT2I("cvttss2si", "k"); break;
	case 3: CVT2I("cvttss2si", "q"); break;
	case 4: CVT2I("cvtsd2si", "k"); break;
	case 5: CVT2I("cvtsd2si", "q"); break;
	case 6: CVT2I("cvttsd2si", "k"); break;
	default: CVT2I("cvttsd2si", "q"); break;
	}
	*res = size == 8 ? r : (uint32_t)r;
	return out & MXCSR_FLAGS;
}

#define CVTFI(mn, w)                                                                                    \
	asm volatile("stmxcsr %[h]\n\tldmxcsr %[g]\n\t" mn " %" w "[v], %[a]\n\tstmxcsr %[o]\n\tldmxcsr %[h]" \
		     : [a] "+x"(a), [h] "=m"(hostcsr), [o] "=m"(out)                                      \
		     : [v] "r"(v), [g] "m"(g))

uint32_t sse_cvt_from_int(bool dbl, unsigned size, union vec *d, uint64_t v, uint32_t mxcsr)
{
	v4sf a;
	uint32_t g = host_mxcsr(mxcsr), hostcsr, out;
	memcpy(&a, d, 16);
	switch ((dbl ? 2 : 0) | (size == 8)) {
	case 0: CVTFI("cvtsi2ssl", "k"); break;
	case 1: CVTFI("cvtsi2ssq", "q"); break;
	case 2: CVTFI("cvtsi2sdl", "k"); break;
	default: CVTFI("cvtsi2sdq", "q"); break;
	}
	memcpy(d, &a, 16);
	return out & MXCSR_FLAGS;
}

/* ROUNDxx with the immediate's rounding mode put into MXCSR.RC and the instruction told to use
 * it: the same rounding, and a suppressed precision exception is just not reported. */
uint32_t sse_round(unsigned form, unsigned imm, union vec *d, const union vec *s, uint32_t mxcsr)
{
	v4sf a, b;
	uint32_t g = host_mxcsr(mxcsr), hostcsr, out = 0;
	if (!(imm & 4))
		g = (g & ~(uint32_t)MXCSR_RC) | (imm & 3) << 13;
	memcpy(&a, d, 16);
	memcpy(&b, s, 16);
	switch (form) {
	case SC_PS: RUN2("roundps $4,"); break;
	case SC_SS: RUN2("roundss $4,"); break;
	case SC_PD: RUN2("roundpd $4,"); break;
	default: RUN2("roundsd $4,"); break;
	}
	memcpy(d, &a, 16);
	out &= MXCSR_FLAGS;
	if (imm & 8)
		out &= ~(uint32_t)MXCSR_PE;
	return out;
}

/*
 * DPPS/DPPD take their immediate as part of the operation (which products, which result lanes),
 * so each immediate has its own host stub: 256 of each, 32 bytes apart, called as
 * v4sf stub(v4sf d, v4sf s, struct stub_csr *) with the MXCSR swap done inside.
 */
struct stub_csr {
	uint32_t guest, host, out;
};

typedef v4sf (*dp_stub)(v4sf d, v4sf s, struct stub_csr *csr);

#define DP_STUBS(name, mn)                                                   \
	".pushsection .text\n"                                               \
	".balign 32\n"                                                       \
	".globl " name "\n"                                                  \
	".hidden " name "\n"                                                 \
	name ":\n"                                                           \
	".set .Ldp_imm, 0\n"                                                 \
	".rept 256\n"                                                        \
	".balign 32\n"                                                       \
	"stmxcsr 4(%rdi)\n"                                                  \
	"ldmxcsr (%rdi)\n"                                                   \
	mn " $.Ldp_imm, %xmm1, %xmm0\n"                                      \
	"stmxcsr 8(%rdi)\n"                                                  \
	"ldmxcsr 4(%rdi)\n"                                                  \
	"ret\n"                                                              \
	".set .Ldp_imm, .Ldp_imm + 1\n"                                      \
	".endr\n"                                                            \
	".popsection\n"

asm(DP_STUBS("softvm_dpps_stubs", "dpps"));
asm(DP_STUBS("softvm_dppd_stubs", "dppd"));
extern const char softvm_dpps_stubs[], softvm_dppd_stubs[];

/* The flags a step records when one of them is unmasked: only the pre-computation ones if one of
 * those is unmasked (the step stopped before computing), else all. */
static uint32_t step_trap(uint32_t fl, uint32_t mxcsr)
{
	uint32_t unmasked = fl & ~(mxcsr >> MXCSR_MASK_SHIFT) & MXCSR_FLAGS;
	const uint32_t precomp = MXCSR_IE | MXCSR_DE | MXCSR_ZE;
	return unmasked & precomp ? fl & precomp : fl;
}

/*
 * With exceptions unmasked the steps run one by one as the SDM's DPPS/DPPD pseudocode has them
 * (products of the selected lanes, unselected ones +0.0; then pairwise sums; then the total) to
 * find the step that traps; each step computes through sse_fop so tiny exact results and the
 * precision of trapped results follow the same rules as the plain operations.
 */
static bool dp_steps(bool dbl, unsigned imm, const union vec *d, const union vec *s, uint32_t mxcsr, uint32_t *flags)
{
	union vec a = *d, b = *s, x = { 0 }, y = { 0 };
	uint32_t acc = 0, fl;
	for (unsigned k = 0; k < (dbl ? 2u : 4u); k++) {
		if (imm >> (4 + k) & 1)
			continue;
		if (dbl)
			a.q[k] = b.q[k] = 0;
		else
			a.d[k] = b.d[k] = 0;
	}
	for (unsigned step = 0; step < (dbl ? 2u : 3u); step++) {
		switch (step) {
		case 0:
			fl = sse_fop(dbl ? SF_MULPD : SF_MULPS, &a, &b, mxcsr);
			break;
		case 1:
			if (dbl) {
				x.q[0] = a.q[0];
				y.q[0] = a.q[1];
				fl = sse_fop(SF_ADDSD, &x, &y, mxcsr);
			} else {
				x.d[0] = a.d[0];
				y.d[0] = a.d[1];
				x.d[1] = a.d[2];
				y.d[1] = a.d[3];
				fl = sse_fop(SF_ADDPS, &x, &y, mxcsr);
			}
			break;
		default:
			a = x;
			memset(&b, 0, sizeof(b));
			b.d[0] = x.d[1];
			a.d[1] = 0;
			fl = sse_fop(SF_ADDSS, &a, &b, mxcsr);
			break;
		}
		if (fl & ~(mxcsr >> MXCSR_MASK_SHIFT) & MXCSR_FLAGS) {
			*flags = acc | step_trap(fl, mxcsr);
			return true;
		}
		acc |= fl;
	}
	return false;
}

uint32_t sse_dp(bool dbl, unsigned imm, union vec *d, const union vec *s, uint32_t mxcsr, bool *trap)
{
	uint32_t flags;
	*trap = (mxcsr & MXCSR_MASKS) != MXCSR_MASKS && dp_steps(dbl, imm, d, s, mxcsr, &flags);
	if (*trap)
		return flags;
	struct stub_csr csr = { host_mxcsr(mxcsr), 0, 0 };
	v4sf a, b;
	memcpy(&a, d, 16);
	memcpy(&b, s, 16);
	dp_stub fn = (dp_stub)(uintptr_t)((dbl ? softvm_dppd_stubs : softvm_dpps_stubs) + 32 * (imm & 0xff));
	a = fn(a, b, &csr);
	memcpy(d, &a, 16);
	return csr.out & MXCSR_FLAGS;
}
