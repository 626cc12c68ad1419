/*
 * SSE, SSE2, SSE3 and SSE4.1 floating-point arithmetic: the only code that computes on guest
 * floating-point values (sse.c, sse3.c and sse4.c decide what to compute and apply the
 * architectural exception rules). The current
 * backend runs the host's own SSE instruction with the guest's MXCSR loaded, which is bit-exact
 * on an x86-64 host; a soft-float backend can replace sse_arith.c behind this interface.
 *
 * Every function takes the guest MXCSR, computes as if every exception were masked (the caller
 * discards the result when an unmasked one was raised) and returns the exception flags raised
 * (MXCSR bits 0..5). Where the guest has underflow unmasked, a tiny exact result also reports UE
 * (SDM vol. 1 §11.5.2.4: unmasked underflow is signalled on tininess alone), and where an
 * unmasked overflow or underflow is raised, PE says whether the result with its exponent
 * adjusted (unbounded) is inexact, as the processor reports it with the trap. DPPS/DPPD, a
 * sequence of steps, reports its trap itself (sse_dp).
 */
#ifndef SOFTVM_CPU_SSE_ARITH_H
#define SOFTVM_CPU_SSE_ARITH_H

#include <stdint.h>

#include "simd.h"

/* Two-operand operations d = op(d, s) with the register semantics of the SSE instruction of the
 * same name (scalar forms keep d's upper elements; packed conversions write all of d). */
enum sse_fop {
	SF_ADDPS, SF_ADDSS, SF_ADDPD, SF_ADDSD,
	SF_SUBPS, SF_SUBSS, SF_SUBPD, SF_SUBSD,
	SF_MULPS, SF_MULSS, SF_MULPD, SF_MULSD,
	SF_DIVPS, SF_DIVSS, SF_DIVPD, SF_DIVSD,
	SF_MAXPS, SF_MAXSS, SF_MAXPD, SF_MAXSD,
	SF_MINPS, SF_MINSS, SF_MINPD, SF_MINSD,
	SF_SQRTPS, SF_SQRTSS, SF_SQRTPD, SF_SQRTSD,
	SF_RCPPS, SF_RCPSS, SF_RSQRTPS, SF_RSQRTSS,
	SF_CVTDQ2PS, SF_CVTPS2DQ, SF_CVTTPS2DQ, SF_CVTDQ2PD, SF_CVTPD2DQ, SF_CVTTPD2DQ,
	SF_CVTPS2PD, SF_CVTPD2PS, SF_CVTSS2SD, SF_CVTSD2SS,
	/* SSE3: d = (d0 - s0, d1 + s1, ...); horizontal: (d0 op d1, d2 op d3, s0 op s1, s2 op s3) */
	SF_ADDSUBPS, SF_ADDSUBPD, SF_HADDPS, SF_HADDPD, SF_HSUBPS, SF_HSUBPD,
	SF_COUNT
};

/* Element formats for compares: CMPPS, CMPSS, CMPPD, CMPSD. */
enum sse_cmpform { SC_PS, SC_SS, SC_PD, SC_SD };

uint32_t sse_fop(unsigned op, union vec *d, const union vec *s, uint32_t mxcsr);
/* CMPccPS/SS/PD/SD with predicate pred (0..7): d = mask of (d pred s). */
uint32_t sse_cmp(unsigned form, unsigned pred, union vec *d, const union vec *s, uint32_t mxcsr);
/* COMISS/UCOMISS (dbl=false) or COMISD/UCOMISD: *zpc gets ZF/PF/CF in RFLAGS positions. */
uint32_t sse_comi(bool dbl, bool unordered_quiet, const union vec *a, const union vec *b, uint32_t mxcsr,
		  uint32_t *zpc);
/* CVT(T)SS2SI / CVT(T)SD2SI to a 32- or 64-bit integer (size 4 or 8). */
uint32_t sse_cvt_to_int(bool dbl, bool trunc, unsigned size, const union vec *s, uint32_t mxcsr, uint64_t *res);
/* CVTSI2SS / CVTSI2SD from a 32- or 64-bit integer into element 0 of d. */
uint32_t sse_cvt_from_int(bool dbl, unsigned size, union vec *d, uint64_t v, uint32_t mxcsr);

/* ROUNDPS/ROUNDSS/ROUNDPD/ROUNDSD (SSE4.1): the forms of enum sse_cmpform; imm is the
 * instruction's immediate (bits 0..1 rounding mode, 2 use MXCSR.RC, 3 suppress precision). */
uint32_t sse_round(unsigned form, unsigned imm, union vec *d, const union vec *s, uint32_t mxcsr);
/* DPPS (dbl=false) / DPPD (SSE4.1) with the instruction's immediate: d = dot product of d and s.
 * The instruction is a sequence of steps (multiplies, then additions), each of which can raise an
 * unmasked exception: then *trap is set, d is left alone and the flags returned are the ones the
 * processor records (the earlier steps' and the faulting step's); the caller raises #XM. */
uint32_t sse_dp(bool dbl, unsigned imm, union vec *d, const union vec *s, uint32_t mxcsr, bool *trap);

#endif
