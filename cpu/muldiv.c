/*
 * Multiplication and division: MUL, IMUL (one-, two- and three-operand forms), DIV, IDIV
 * (SDM vol. 2 "MUL", "IMUL", "DIV", "IDIV").
 *
 * MUL/IMUL define only CF and OF (set when the result does not fit the destination); we give the
 * undefined SF, ZF, PF from the low half of the result and clear AF, which for the common
 * no-overflow case is exactly a LF_LOGIC record. DIV/IDIV leave every flag (all undefined) as it
 * was. Division faults with #DE on a zero divisor and on a quotient that does not fit, including
 * the most negative dividend divided by -1; the fault is raised before any register changes.
 * 64-bit forms use 128-bit arithmetic, with a plain 64-bit fast path when the high half is just
 * the zero or sign extension of the low half.
 */
#include "core.h"

static inline void flags_put(struct cpu *c, uint32_t v)
{
	c->lf.op = LF_NONE;
	c->s.rflags = (c->s.rflags & ~(uint64_t)F_ARITH) | (v & F_ARITH);
}

/* CF = OF = overflow; SF, ZF, PF from the low result (undefined in the SDM), AF = 0. */
static inline void mul_flags(struct cpu *c, unsigned size, uint64_t lo, bool overflow)
{
	lazy_set(c, LF_LOGIC, size, lo, 0, 0);
	if (unlikely(overflow)) {
		uint64_t r = lo & size_mask(size);
		uint32_t f = F_CF | F_OF | (r == 0 ? F_ZF : 0) | (parity8(r) ? F_PF : 0) |
			((r >> (size * 8 - 1)) & 1 ? F_SF : 0);
		flags_put(c, f);
	}
}

static inline uint64_t src_get(struct cpu *c, const struct insn *i, int n, unsigned size)
{
	if (i->op[n].kind == OPK_MEM)
		return mem_read(c, i->mem.seg, insn_ea(c, i), size);
	return gpr_get(c, i->op[n].reg, size);
}

/* ---- one-operand MUL / IMUL: rDX:rAX (AX for bytes) = rAX * src ---- */

static void mul1(struct cpu *c, const struct insn *i)
{
	unsigned size = i->osize;
	uint64_t s = src_get(c, i, 0, size);
	switch (size) {
	case 1: {
		uint16_t r = (uint16_t)((uint8_t)c->s.gpr[R_RAX] * s);
		gpr_set(c, R_RAX, 2, r);
		mul_flags(c, 1, r, r >> 8);
		break;
	}
	case 2: {
		uint32_t r = (uint32_t)((uint16_t)c->s.gpr[R_RAX] * s);
		gpr_set(c, R_RAX, 2, r);
		gpr_set(c, R_RDX, 2, r >> 16);
		mul_flags(c, 2, r, r >> 16);
		break;
	}
	case 4: {
		uint64_t r = (uint32_t)c->s.gpr[R_RAX] * s;
		gpr_set(c, R_RAX, 4, r);
		gpr_set(c, R_RDX, 4, r >> 32);
		mul_flags(c, 4, r, r >> 32);
		break;
	}
	default: {
		unsigned __int128 r = (unsigned __int128)c->s.gpr[R_RAX] * s;
		c->s.gpr[R_RAX] = (uint64_t)r;
		c->s.gpr[R_RDX] = (uint64_t)(r >> 64);
		mul_flags(c, 8, (uint64_t)r, (uint64_t)(r >> 64) != 0);
		break;
	}
	}
}

static void imul1(struct cpu *c, const struct insn *i)
{
	unsigned size = i->osize;
	uint64_t s = src_get(c, i, 0, size);
	switch (size) {
	case 1: {
		int16_t r = (int16_t)((int8_t)c->s.gpr[R_RAX] * (int8_t)s);
		gpr_set(c, R_RAX, 2, (uint16_t)r);
		mul_flags(c, 1, (uint64_t)r, r != (int8_t)r);
		break;
	}
	case 2: {
		int32_t r = (int16_t)c->s.gpr[R_RAX] * (int16_t)s;
		gpr_set(c, R_RAX, 2, (uint32_t)r);
		gpr_set(c, R_RDX, 2, (uint32_t)r >> 16);
		mul_flags(c, 2, (uint64_t)r, r != (int16_t)r);
		break;
	}
	case 4: {
		int64_t r = (int64_t)(int32_t)c->s.gpr[R_RAX] * (int32_t)s;
		gpr_set(c, R_RAX, 4, (uint64_t)r);
		gpr_set(c, R_RDX, 4, (uint64_t)r >> 32);
		mul_flags(c, 4, (uint64_t)r, r != (int32_t)r);
		break;
	}
	default: {
		__int128 r = (__int128)(int64_t)c->s.gpr[R_RAX] * (int64_t)s;
		c->s.gpr[R_RAX] = (uint64_t)r;
		c->s.gpr[R_RDX] = (uint64_t)((unsigned __int128)r >> 64);
		mul_flags(c, 8, (uint64_t)r, r != (int64_t)r);
		break;
	}
	}
}

/* ---- two- and three-operand IMUL: dest = truncate(src1 * src2) ---- */

static inline __attribute__((always_inline)) void imul_do(struct cpu *c, const struct insn *i, unsigned size,
							  bool three)
{
	uint64_t a, b;
	if (three) {
		a = src_get(c, i, 1, size);
		b = i->imm;
	} else {
		a = gpr_get(c, i->op[0].reg, size);
		b = src_get(c, i, 1, size);
	}
	int64_t r;
	bool ovf;
	switch (size) {
	case 2:
		r = (int64_t)(int16_t)a * (int16_t)b;
		ovf = r != (int16_t)r;
		break;
	case 4:
		r = (int64_t)(int32_t)a * (int32_t)b;
		ovf = r != (int32_t)r;
		break;
	default:
		ovf = __builtin_mul_overflow((int64_t)a, (int64_t)b, &r);
		break;
	}
	gpr_set(c, i->op[0].reg, size, (uint64_t)r);
	mul_flags(c, size, (uint64_t)r, ovf);
}

static void imul2_16(struct cpu *c, const struct insn *i)
{
	imul_do(c, i, 2, false);
}

static void imul2_32(struct cpu *c, const struct insn *i)
{
	imul_do(c, i, 4, false);
}

static void imul2_64(struct cpu *c, const struct insn *i)
{
	imul_do(c, i, 8, false);
}

static void imul3_16(struct cpu *c, const struct insn *i)
{
	imul_do(c, i, 2, true);
}

static void imul3_32(struct cpu *c, const struct insn *i)
{
	imul_do(c, i, 4, true);
}

static void imul3_64(struct cpu *c, const struct insn *i)
{
	imul_do(c, i, 8, true);
}

/* ---- DIV / IDIV ---- */

static __attribute__((noreturn, cold)) void divide_error(struct cpu *c)
{
	cpu_raise_noerr(c, EXC_DE);
}

static void div_(struct cpu *c, const struct insn *i)
{
	unsigned size = i->osize;
	uint64_t d = src_get(c, i, 0, size);
	if (d == 0)
		divide_error(c);
	switch (size) {
	case 1: {
		uint64_t n = (uint16_t)c->s.gpr[R_RAX], q = n / d;
		if (q > 0xff)
			divide_error(c);
		gpr_set(c, R_RAX, 2, (n % d) << 8 | q);
		break;
	}
	case 2: {
		uint64_t n = (uint16_t)c->s.gpr[R_RAX] | (uint64_t)(uint16_t)c->s.gpr[R_RDX] << 16, q = n / d;
		if (q > 0xffff)
			divide_error(c);
		gpr_set(c, R_RAX, 2, q);
		gpr_set(c, R_RDX, 2, n % d);
		break;
	}
	case 4: {
		uint64_t n = (uint32_t)c->s.gpr[R_RAX] | c->s.gpr[R_RDX] << 32, q = n / d;
		if (q > 0xffffffffull)
			divide_error(c);
		gpr_set(c, R_RAX, 4, q);
		gpr_set(c, R_RDX, 4, n % d);
		break;
	}
	default: {
		uint64_t hi = c->s.gpr[R_RDX], lo = c->s.gpr[R_RAX];
		if (hi >= d) /* the quotient would need more than 64 bits */
			divide_error(c);
		if (hi == 0) {
			c->s.gpr[R_RAX] = lo / d;
			c->s.gpr[R_RDX] = lo % d;
		} else {
			unsigned __int128 n = (unsigned __int128)hi << 64 | lo;
			c->s.gpr[R_RAX] = (uint64_t)(n / d);
			c->s.gpr[R_RDX] = (uint64_t)(n % d);
		}
		break;
	}
	}
}

/* 128-by-64 signed division; false when the quotient does not fit 64 bits. */
static bool idiv128(uint64_t hi, uint64_t lo, int64_t d, uint64_t *q, uint64_t *r)
{
	if (hi == (uint64_t)((int64_t)lo >> 63)) {
		/* The dividend fits 64 bits: only INT64_MIN / -1 overflows. */
		if (d == -1) {
			if (lo == 1ull << 63)
				return false;
			*q = 0 - lo;
			*r = 0;
			return true;
		}
		*q = (uint64_t)((int64_t)lo / d);
		*r = (uint64_t)((int64_t)lo % d);
		return true;
	}
	bool neg_n = hi >> 63, neg_d = d < 0;
	unsigned __int128 n = (unsigned __int128)hi << 64 | lo;
	if (neg_n)
		n = -n;
	uint64_t ud = neg_d ? 0 - (uint64_t)d : (uint64_t)d;
	if ((uint64_t)(n >> 64) >= ud)
		return false;
	uint64_t uq = (uint64_t)(n / ud), ur = (uint64_t)(n % ud);
	bool neg_q = neg_n != neg_d;
	if (uq > (neg_q ? 1ull << 63 : (1ull << 63) - 1))
		return false;
	*q = neg_q ? 0 - uq : uq;
	*r = neg_n ? 0 - ur : ur;
	return true;
}

static void idiv(struct cpu *c, const struct insn *i)
{
	unsigned size = i->osize;
	uint64_t d = src_get(c, i, 0, size);
	if (d == 0)
		divide_error(c);
	switch (size) {
	case 1: {
		int32_t n = (int16_t)c->s.gpr[R_RAX], sd = (int8_t)d, q = n / sd;
		if (q != (int8_t)q)
			divide_error(c);
		gpr_set(c, R_RAX, 2, (uint16_t)((uint8_t)(n % sd) << 8 | (uint8_t)q));
		break;
	}
	case 2: {
		int64_t n = (int32_t)((uint16_t)c->s.gpr[R_RAX] | (uint32_t)(uint16_t)c->s.gpr[R_RDX] << 16);
		int64_t sd = (int16_t)d, q = n / sd;
		if (q != (int16_t)q)
			divide_error(c);
		gpr_set(c, R_RAX, 2, (uint64_t)q);
		gpr_set(c, R_RDX, 2, (uint64_t)(n % sd));
		break;
	}
	case 4: {
		int64_t n = (int64_t)((uint32_t)c->s.gpr[R_RAX] | c->s.gpr[R_RDX] << 32), sd = (int32_t)d;
		if (sd == -1 && n == INT64_MIN)
			divide_error(c); /* also avoids the host's own overflow trap */
		int64_t q = n / sd;
		if (q != (int32_t)q)
			divide_error(c);
		gpr_set(c, R_RAX, 4, (uint64_t)q);
		gpr_set(c, R_RDX, 4, (uint64_t)(n % sd));
		break;
	}
	default: {
		uint64_t q, r;
		if (!idiv128(c->s.gpr[R_RDX], c->s.gpr[R_RAX], (int64_t)d, &q, &r))
			divide_error(c);
		c->s.gpr[R_RAX] = q;
		c->s.gpr[R_RDX] = r;
		break;
	}
	}
}

static int size_index(unsigned size)
{
	switch (size) {
	case 1: return 0;
	case 2: return 1;
	case 4: return 2;
	case 8: return 3;
	default: return -1;
	}
}

static bool rm_operand(const struct insn *i, int n)
{
	return i->op[n].kind == OPK_GPR || i->op[n].kind == OPK_MEM;
}

static insn_fn muldiv_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	static const insn_fn imul2[3] = { imul2_16, imul2_32, imul2_64 };
	static const insn_fn imul3[3] = { imul3_16, imul3_32, imul3_64 };
	int sz = size_index(i->osize);
	if (sz < 0 || i->nops < 1 || (i->pfx & PFX_LOCK) || !rm_operand(i, 0))
		return NULL;
	switch (i->mnem) {
	case ZYDIS_MNEMONIC_MUL: return i->nops == 1 ? mul1 : NULL;
	case ZYDIS_MNEMONIC_DIV: return i->nops == 1 ? div_ : NULL;
	case ZYDIS_MNEMONIC_IDIV: return i->nops == 1 ? idiv : NULL;
	case ZYDIS_MNEMONIC_IMUL:
		if (i->nops == 1)
			return imul1;
		if (sz == 0 || i->op[0].kind != OPK_GPR || !rm_operand(i, 1))
			return NULL;
		if (i->nops == 2)
			return imul2[sz - 1];
		return i->op[2].kind == OPK_IMM ? imul3[sz - 1] : NULL;
	default: return NULL;
	}
}

void muldiv_init(void)
{
	insn_register(ZYDIS_MNEMONIC_MUL, NULL, muldiv_select, 0);
	insn_register(ZYDIS_MNEMONIC_IMUL, NULL, muldiv_select, 0);
	insn_register(ZYDIS_MNEMONIC_DIV, NULL, muldiv_select, 0);
	insn_register(ZYDIS_MNEMONIC_IDIV, NULL, muldiv_select, 0);
}
