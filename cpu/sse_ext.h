/*
 * Shared by the SSE3/SSSE3 (sse3.c) and SSE4.1/SSE4.2 (sse4.c) families: the SIMD floating-point
 * exception rule and the generic "d = op(d, s)" handler for packed-integer instructions in MMX
 * (64-bit) and XMM (128-bit) forms.
 */
#ifndef SOFTVM_CPU_SSE_EXT_H
#define SOFTVM_CPU_SSE_EXT_H

#include "simd.h"

/* Records the exception flags of a computation, or raises the SIMD exception when one is
 * unmasked (before any destination is written). As in sse.c: when an unmasked exception is of
 * the pre-computation kind (invalid, denormal, divide-by-zero) only those flags are recorded. */
static inline void sse_ext_exceptions(struct cpu *c, uint32_t fl)
{
	const uint32_t precomp = MXCSR_IE | MXCSR_DE | MXCSR_ZE;
	uint32_t mx = c->s.fx.mxcsr;
	uint32_t unmasked = fl & ~(mx >> MXCSR_MASK_SHIFT) & MXCSR_FLAGS;
	if (unlikely(unmasked)) {
		if (unmasked & precomp)
			fl &= precomp;
		c->s.fx.mxcsr = mx | fl;
		cpu_raise_noerr(c, (c->s.cr4 & CR4_OSXMMEXCPT) ? EXC_XM : EXC_UD);
	}
	c->s.fx.mxcsr = mx | fl;
}

/* d = op(d, s) over n = 8 (MMX) or 16 (XMM) bytes; imm is the instruction's imm8, if any. */
typedef void (*vec_fn)(union vec *d, const union vec *s, unsigned n, unsigned imm);

/*
 * Runs fn with operand 0 (MMX or XMM register) as d and operand 1 (register or memory) as s.
 * Both forms check the SSE state (the SSSE3 MMX forms are legacy-SSE encoded: SDM vol. 2 table
 * 2-21 applies) and the MMX forms the x87 state too; 16-byte memory operands must be aligned.
 */
static inline void sse_ext_binop(struct cpu *c, const struct insn *i, vec_fn fn)
{
	bool mmx = simd_check(c, i, true);
	union vec d, s;
	vec_read(c, i, 1, &s, true);
	if (mmx) {
		d.q[0] = mm_get(c, i->op[0].reg);
		d.q[1] = 0;
		fn(&d, &s, 8, (uint8_t)i->imm);
		mmx_enter(c);
		mm_set(c, i->op[0].reg, d.q[0]);
	} else {
		xmm_get(c, i->op[0].reg, &d);
		fn(&d, &s, 16, (uint8_t)i->imm);
		xmm_set(c, i->op[0].reg, &d);
	}
}

#endif
