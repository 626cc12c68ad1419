/*
 * Shared internals of the SIMD families (sse.c, mmx.c): the vector register type, MMX register
 * access through the x87 register file, the availability checks every MMX/SSE instruction makes
 * and operand loading with the legacy-SSE alignment rule.
 *
 * MMX registers alias the x87 physical registers' 64-bit mantissas (SDM vol. 1 §9.5): MMi is R_i,
 * which s.fx.st holds in ST order (FXSAVE layout), i.e. at st[(i - TOP) & 7]. An MMX instruction
 * sets TOP = 0 and tags every register valid; a write sets the exponent bits 64..79 to ones.
 */
#ifndef SOFTVM_CPU_SIMD_H
#define SOFTVM_CPU_SIMD_H

#include <stdbool.h>

#include "core.h"

union vec {
	uint8_t b[16];
	int8_t sb[16];
	uint16_t w[8];
	int16_t sw[8];
	uint32_t d[4];
	int32_t sd[4];
	uint64_t q[2];
	int64_t sq[2];
	float f[4];
	double fd[2];
} __attribute__((aligned(16)));

/* MXCSR (SDM vol. 1 §10.2.3) */
#define MXCSR_IE 0x0001
#define MXCSR_DE 0x0002
#define MXCSR_ZE 0x0004
#define MXCSR_OE 0x0008
#define MXCSR_UE 0x0010
#define MXCSR_PE 0x0020
#define MXCSR_FLAGS 0x003f
#define MXCSR_DAZ 0x0040
#define MXCSR_MASKS 0x1f80
#define MXCSR_MASK_SHIFT 7
#define MXCSR_UM 0x0800
#define MXCSR_RC 0x6000
#define MXCSR_FTZ 0x8000
/* Bits LDMXCSR/FXRSTOR accept (MXCSR_MASK as FXSAVE reports it): everything up to FTZ, with DAZ. */
#define MXCSR_WRITABLE 0xffff
#define MXCSR_DEFAULT 0x1f80

#define FSW_ES 0x0080
#define FSW_TOP_SHIFT 11
#define FSW_TOP (7u << FSW_TOP_SHIFT)

static inline unsigned x87_top(const struct cpu *c)
{
	return (c->s.fx.fsw >> FSW_TOP_SHIFT) & 7;
}

/* MMi as currently stored (before or after the MMX transition). */
static inline uint64_t mm_get(const struct cpu *c, unsigned n)
{
	uint64_t v;
	memcpy(&v, c->s.fx.st[(n - x87_top(c)) & 7], 8);
	return v;
}

/* The MMX transition: TOP = 0 (rotating ST-ordered storage so physical registers stay put),
 * every tag valid. */
static inline void mmx_enter(struct cpu *c)
{
	unsigned top = x87_top(c);
	if (top) {
		uint8_t old[8][16];
		memcpy(old, c->s.fx.st, sizeof(old));
		for (unsigned p = 0; p < 8; p++)
			memcpy(c->s.fx.st[p], old[(p - top) & 7], 16);
		c->s.fx.fsw &= ~FSW_TOP;
	}
	c->s.fx.ftw = 0xff;
}

/* Writes MMi; call after mmx_enter(). */
static inline void mm_set(struct cpu *c, unsigned n, uint64_t v)
{
	uint8_t *r = c->s.fx.st[n & 7];
	memcpy(r, &v, 8);
	r[8] = r[9] = 0xff;
}

/* #UD / #NM for instructions touching XMM state or MXCSR (SDM vol. 2, legacy-SSE exception tables). */
static inline void simd_check_sse(struct cpu *c)
{
	if (unlikely((c->s.cr0 & CR0_EM) || !(c->s.cr4 & CR4_OSFXSR)))
		cpu_ud(c);
	if (unlikely(c->s.cr0 & CR0_TS))
		cpu_raise_noerr(c, EXC_NM);
}

/* #UD / #NM / #MF for instructions touching MMX registers (SDM vol. 3 table 12-1). */
static inline void simd_check_mmx(struct cpu *c)
{
	if (unlikely(c->s.cr0 & CR0_EM))
		cpu_ud(c);
	if (unlikely(c->s.cr0 & CR0_TS))
		cpu_raise_noerr(c, EXC_NM);
	/* A pending unmasked x87 exception; with CR0.NE = 0 it would go to FERR#, not modelled. */
	if (unlikely((c->s.fx.fsw & FSW_ES) && (c->s.cr0 & CR0_NE)))
		cpu_raise_noerr(c, EXC_MF);
}

/* Checks for an instruction by its operands: MMX register operands need the MMX checks,
 * XMM operands (or sse=true: MXCSR users) the SSE ones; mixed forms need both. Returns true when
 * an MMX register is involved (the caller then does the MMX transition when it commits). */
static inline bool simd_check(struct cpu *c, const struct insn *i, bool sse)
{
	bool mmx = false, xmm = sse;
	for (unsigned k = 0; k < i->nops; k++) {
		mmx |= i->op[k].kind == OPK_MMX;
		xmm |= i->op[k].kind == OPK_XMM;
	}
	if (xmm)
		simd_check_sse(c);
	if (mmx)
		simd_check_mmx(c);
	return mmx;
}

/* Legacy SSE 16-byte memory operands must be aligned (SDM vol. 1 §11.6.9): #GP(0). */
static inline void simd_check_align(struct cpu *c, unsigned seg, uint64_t ea)
{
	if (unlikely((c->sc[seg].base + ea) & 15))
		cpu_gp(c, 0);
}

/* Reads operand k into v (zero above its size). Registers are read whole. */
static inline void vec_read(struct cpu *c, const struct insn *i, unsigned k, union vec *v, bool aligned)
{
	const struct operand *o = &i->op[k];
	switch (o->kind) {
	case OPK_XMM:
		memcpy(v, c->s.fx.xmm[o->reg], 16);
		break;
	case OPK_MMX:
		v->q[0] = mm_get(c, o->reg);
		v->q[1] = 0;
		break;
	case OPK_MEM: {
		uint64_t ea = insn_ea(c, i);
		v->q[0] = v->q[1] = 0;
		if (o->size == 16) {
			if (aligned)
				simd_check_align(c, i->mem.seg, ea);
			mem_read_buf(c, i->mem.seg, ea, v, 16);
		} else {
			v->q[0] = mem_read(c, i->mem.seg, ea, o->size);
		}
		break;
	}
	case OPK_GPR:
		v->q[0] = gpr_get(c, o->reg, o->size);
		v->q[1] = 0;
		break;
	default:
		v->q[0] = i->imm;
		v->q[1] = 0;
		break;
	}
}

static inline void xmm_get(const struct cpu *c, unsigned n, union vec *v)
{
	memcpy(v, c->s.fx.xmm[n], 16);
}

static inline void xmm_set(struct cpu *c, unsigned n, const union vec *v)
{
	memcpy(c->s.fx.xmm[n], v, 16);
}

#endif
