/*
 * x87 arithmetic on the host's x87 unit (the backend behind x87_arith.h).
 *
 * x86-64 hosts have the very unit we emulate, so the exact way to compute an x87 result - with
 * the guest's precision and rounding control, denormal and NaN handling, C1 round-up indicator
 * and transcendental approximations - is to let the host execute the same instruction. Each
 * operation is one inline-assembly sequence:
 *
 *   save the host control word; load an environment (FLDENV) with the guest control word
 *   (exceptions masked or not as the guest has them), the guest's condition codes (so the ones an
 *   instruction leaves alone come out unchanged), no exception flags and an empty stack (which the
 *   ABI guarantees anyway: this file uses no long double); load the operands onto the host stack
 *   run the instruction; read
 *   the status word; clear the flags so no waiting instruction traps; store what is left on the
 *   stack with all exceptions masked (storing an empty register just stores a NaN and pops,
 *   which leaves every register empty again); restore the host control word.
 *
 * An unmasked exception therefore never reaches the host as SIGFPE: it is only reported in the
 * returned status, and the instruction leaves the host stack as the hardware would (not
 * performed for IE/DE/ZE, wrapped exponent for OE/UE), which is what the caller needs.
 */
#include <stddef.h>
#include <string.h>

#include "x87_arith.h"

/* The block the assembly works on; its offsets are spelled out in the strings below. */
struct host_io {
	x87_f80 a;       /* 0 */
	x87_f80 b;       /* 16 */
	x87_f80 r0;      /* 32 */
	x87_f80 r1;      /* 48 */
	uint64_t m;      /* 64: memory operand or integer/float store */
	uint8_t bcd[16]; /* 72 */
	uint16_t cw;     /* 88: guest control word */
	uint16_t sw;     /* 90: status after the operation */
	uint16_t save;   /* 92: host control word */
	uint16_t std;    /* 94: all exceptions masked */
	uint8_t zf, pf, cf; /* 96.. */
	uint8_t pad[5];
	uint32_t env[7];    /* 104: FLDENV image: guest FCW, condition codes, all tags empty */
} __attribute__((aligned(16)));

_Static_assert(offsetof(struct host_io, b) == 16 && offsetof(struct host_io, r0) == 32 &&
	       offsetof(struct host_io, r1) == 48 && offsetof(struct host_io, m) == 64 &&
	       offsetof(struct host_io, bcd) == 72 && offsetof(struct host_io, cw) == 88 &&
	       offsetof(struct host_io, sw) == 90 && offsetof(struct host_io, save) == 92 &&
	       offsetof(struct host_io, std) == 94 && offsetof(struct host_io, zf) == 96 &&
	       offsetof(struct host_io, env) == 104,
	       "host_io layout used by the assembly");

#define A "0(%0)"
#define B "16(%0)"
#define M "64(%0)"
#define BCD "72(%0)"
#define LDA "fldt " A "\n\t"
#define LDBA "fldt " B "\n\tfldt " A "\n\t"

#define STORE0 ""
#define STORE1 "fstpt 32(%0)\n\t"
#define STORE2 "fstpt 32(%0)\n\tfstpt 48(%0)\n\t"

#define HOST(io, body, stores)                                                                     \
	__asm__ volatile("fnstcw 92(%0)\n\t"                                                       \
			 "fldenv 104(%0)\n\t" body "\n\t"                                         \
			 "fnstsw 90(%0)\n\t"                                                       \
			 "fnclex\n\t"                                                              \
			 "fldcw 94(%0)\n\t" stores "fnclex\n\t"                                   \
			 "fldcw 92(%0)"                                                            \
			 :                                                                         \
			 : "r"(io)                                                                 \
			 : "memory", "cc", "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)",    \
			   "st(6)", "st(7)")

static inline void io_init(struct host_io *io, uint32_t ctl)
{
	io->cw = (uint16_t)ctl;
	io->std = 0x037f;
	io->sw = 0;
	memset(io->env, 0, sizeof(io->env));
	io->env[0] = 0xffff0000u | (uint16_t)ctl;
	io->env[1] = 0xffff0000u | ((ctl >> 16) & X87_CC); /* TOP 0, no exception flags */
	io->env[2] = 0xffffffffu;                            /* every register empty */
}

/* Keeps what x87.c consumes: exception flags and condition codes. */
static inline unsigned status(const struct host_io *io)
{
	return io->sw & (X87_EXC | X87_CC);
}

static void load_src(struct host_io *io, const void *src, enum x87a_src kind)
{
	switch (kind) {
	case X87A_SRC_F80: memcpy(&io->b, src, 10); break;
	case X87A_SRC_F32:
	case X87A_SRC_I32: memcpy(&io->m, src, 4); break;
	case X87A_SRC_F64: memcpy(&io->m, src, 8); break;
	case X87A_SRC_I16: memcpy(&io->m, src, 2); break;
	}
}

/* Arithmetic: one case per (operand kind, operation); the register form runs D8 /op ST(0), ST(1)
 * with the destination in host ST(0), so both operands keep their roles. */
unsigned x87a_arith(unsigned op, uint32_t ctl, x87_f80 *res, const x87_f80 *dst, const void *src,
		    enum x87a_src kind)
{
	struct host_io io;
	io_init(&io, ctl);
	memcpy(&io.a, dst, 10);
	load_src(&io, src, kind);
	switch (kind) {
	case X87A_SRC_F80:
		switch (op) {
		case X87A_ADD: HOST(&io, LDBA ".byte 0xd8, 0xc1", STORE2); break;
		case X87A_MUL: HOST(&io, LDBA ".byte 0xd8, 0xc9", STORE2); break;
		case X87A_SUB: HOST(&io, LDBA ".byte 0xd8, 0xe1", STORE2); break;
		case X87A_SUBR: HOST(&io, LDBA ".byte 0xd8, 0xe9", STORE2); break;
		case X87A_DIV: HOST(&io, LDBA ".byte 0xd8, 0xf1", STORE2); break;
		case X87A_DIVR: HOST(&io, LDBA ".byte 0xd8, 0xf9", STORE2); break;
		}
		break;
	case X87A_SRC_F32:
		switch (op) {
		case X87A_ADD: HOST(&io, LDA "fadds " M, STORE1); break;
		case X87A_MUL: HOST(&io, LDA "fmuls " M, STORE1); break;
		case X87A_SUB: HOST(&io, LDA "fsubs " M, STORE1); break;
		case X87A_SUBR: HOST(&io, LDA "fsubrs " M, STORE1); break;
		case X87A_DIV: HOST(&io, LDA "fdivs " M, STORE1); break;
		case X87A_DIVR: HOST(&io, LDA "fdivrs " M, STORE1); break;
		}
		break;
	case X87A_SRC_F64:
		switch (op) {
		case X87A_ADD: HOST(&io, LDA "faddl " M, STORE1); break;
		case X87A_MUL: HOST(&io, LDA "fmull " M, STORE1); break;
		case X87A_SUB: HOST(&io, LDA "fsubl " M, STORE1); break;
		case X87A_SUBR: HOST(&io, LDA "fsubrl " M, STORE1); break;
		case X87A_DIV: HOST(&io, LDA "fdivl " M, STORE1); break;
		case X87A_DIVR: HOST(&io, LDA "fdivrl " M, STORE1); break;
		}
		break;
	case X87A_SRC_I16:
		switch (op) {
		case X87A_ADD: HOST(&io, LDA "fiadds " M, STORE1); break;
		case X87A_MUL: HOST(&io, LDA "fimuls " M, STORE1); break;
		case X87A_SUB: HOST(&io, LDA "fisubs " M, STORE1); break;
		case X87A_SUBR: HOST(&io, LDA "fisubrs " M, STORE1); break;
		case X87A_DIV: HOST(&io, LDA "fidivs " M, STORE1); break;
		case X87A_DIVR: HOST(&io, LDA "fidivrs " M, STORE1); break;
		}
		break;
	case X87A_SRC_I32:
		switch (op) {
		case X87A_ADD: HOST(&io, LDA "fiaddl " M, STORE1); break;
		case X87A_MUL: HOST(&io, LDA "fimull " M, STORE1); break;
		case X87A_SUB: HOST(&io, LDA "fisubl " M, STORE1); break;
		case X87A_SUBR: HOST(&io, LDA "fisubrl " M, STORE1); break;
		case X87A_DIV: HOST(&io, LDA "fidivl " M, STORE1); break;
		case X87A_DIVR: HOST(&io, LDA "fidivrl " M, STORE1); break;
		}
		break;
	}
	*res = io.r0;
	return status(&io);
}

unsigned x87a_compare(uint32_t ctl, const x87_f80 *a, const void *src, enum x87a_src kind, int unordered)
{
	struct host_io io;
	io_init(&io, ctl);
	memcpy(&io.a, a, 10);
	load_src(&io, src, kind);
	switch (kind) {
	case X87A_SRC_F80:
		if (unordered)
			HOST(&io, LDBA ".byte 0xdd, 0xe1", STORE2); /* FUCOM ST(1) */
		else
			HOST(&io, LDBA ".byte 0xd8, 0xd1", STORE2); /* FCOM ST(1) */
		break;
	case X87A_SRC_F32: HOST(&io, LDA "fcoms " M, STORE1); break;
	case X87A_SRC_F64: HOST(&io, LDA "fcoml " M, STORE1); break;
	case X87A_SRC_I16: HOST(&io, LDA "ficoms " M, STORE1); break;
	case X87A_SRC_I32: HOST(&io, LDA "ficoml " M, STORE1); break;
	}
	return status(&io);
}

unsigned x87a_comi(uint32_t ctl, const x87_f80 *a, const x87_f80 *b, int unordered, uint32_t *zpc)
{
	struct host_io io;
	io_init(&io, ctl);
	memcpy(&io.a, a, 10);
	memcpy(&io.b, b, 10);
	io.zf = io.pf = io.cf = 0;
	if (unordered)
		HOST(&io, LDBA ".byte 0xdb, 0xe9\n\tsetz 96(%0)\n\tsetp 97(%0)\n\tsetc 98(%0)", STORE2);
	else
		HOST(&io, LDBA ".byte 0xdb, 0xf1\n\tsetz 96(%0)\n\tsetp 97(%0)\n\tsetc 98(%0)", STORE2);
	*zpc = (io.zf ? 0x40u : 0) | (io.pf ? 0x04u : 0) | (io.cf ? 0x01u : 0);
	return status(&io);
}

unsigned x87a_tst(uint32_t ctl, const x87_f80 *a)
{
	struct host_io io;
	io_init(&io, ctl);
	memcpy(&io.a, a, 10);
	HOST(&io, LDA "ftst", STORE1);
	return status(&io);
}

unsigned x87a_xam(const x87_f80 *a)
{
	struct host_io io;
	io_init(&io, 0x037f);
	memcpy(&io.a, a, 10);
	HOST(&io, LDA "fxam", STORE1);
	return status(&io);
}

unsigned x87a_load_f32(uint32_t ctl, x87_f80 *res, uint32_t v)
{
	struct host_io io;
	io_init(&io, ctl);
	io.m = v;
	HOST(&io, "flds " M, STORE1);
	*res = io.r0;
	return status(&io);
}

unsigned x87a_load_f64(uint32_t ctl, x87_f80 *res, uint64_t v)
{
	struct host_io io;
	io_init(&io, ctl);
	io.m = v;
	HOST(&io, "fldl " M, STORE1);
	*res = io.r0;
	return status(&io);
}

unsigned x87a_load_int(uint32_t ctl, x87_f80 *res, int64_t v)
{
	struct host_io io;
	io_init(&io, ctl);
	io.m = (uint64_t)v;
	HOST(&io, "fildll " M, STORE1);
	*res = io.r0;
	return status(&io);
}

unsigned x87a_load_bcd(uint32_t ctl, x87_f80 *res, const uint8_t bcd[10])
{
	struct host_io io;
	io_init(&io, ctl);
	memcpy(io.bcd, bcd, 10);
	HOST(&io, "fbld " BCD, STORE1);
	*res = io.r0;
	return status(&io);
}

unsigned x87a_load_const(uint32_t ctl, x87_f80 *res, unsigned which)
{
	struct host_io io;
	io_init(&io, ctl);
	switch (which & 7) {
	case 0: HOST(&io, "fld1", STORE1); break;
	case 1: HOST(&io, "fldl2t", STORE1); break;
	case 2: HOST(&io, "fldl2e", STORE1); break;
	case 3: HOST(&io, "fldpi", STORE1); break;
	case 4: HOST(&io, "fldlg2", STORE1); break;
	case 5: HOST(&io, "fldln2", STORE1); break;
	default: HOST(&io, "fldz", STORE1); break;
	}
	*res = io.r0;
	return status(&io);
}

unsigned x87a_store_f32(uint32_t ctl, uint32_t *out, const x87_f80 *a)
{
	struct host_io io;
	io_init(&io, ctl);
	memcpy(&io.a, a, 10);
	io.m = 0;
	HOST(&io, LDA "fstps " M, STORE1);
	*out = (uint32_t)io.m;
	return status(&io);
}

unsigned x87a_store_f64(uint32_t ctl, uint64_t *out, const x87_f80 *a)
{
	struct host_io io;
	io_init(&io, ctl);
	memcpy(&io.a, a, 10);
	io.m = 0;
	HOST(&io, LDA "fstpl " M, STORE1);
	*out = io.m;
	return status(&io);
}

unsigned x87a_store_int(uint32_t ctl, uint64_t *out, const x87_f80 *a, unsigned size, int trunc)
{
	struct host_io io;
	io_init(&io, ctl);
	memcpy(&io.a, a, 10);
	io.m = 0;
	switch (size) {
	case 2:
		if (trunc)
			HOST(&io, LDA "fisttps " M, STORE1);
		else
			HOST(&io, LDA "fistps " M, STORE1);
		break;
	case 4:
		if (trunc)
			HOST(&io, LDA "fisttpl " M, STORE1);
		else
			HOST(&io, LDA "fistpl " M, STORE1);
		break;
	default:
		if (trunc)
			HOST(&io, LDA "fisttpll " M, STORE1);
		else
			HOST(&io, LDA "fistpll " M, STORE1);
		break;
	}
	*out = io.m;
	return status(&io);
}

unsigned x87a_store_bcd(uint32_t ctl, uint8_t out[10], const x87_f80 *a)
{
	struct host_io io;
	io_init(&io, ctl);
	memcpy(&io.a, a, 10);
	memset(io.bcd, 0, sizeof(io.bcd));
	HOST(&io, LDA "fbstp " BCD, STORE1);
	memcpy(out, io.bcd, 10);
	return status(&io);
}

unsigned x87a_unary(unsigned op2, uint32_t ctl, x87_f80 *res, const x87_f80 *a)
{
	struct host_io io;
	io_init(&io, ctl);
	memcpy(&io.a, a, 10);
	switch (op2) {
	case 0xe0: HOST(&io, LDA "fchs", STORE1); break;
	case 0xe1: HOST(&io, LDA "fabs", STORE1); break;
	case 0xf0: HOST(&io, LDA "f2xm1", STORE1); break;
	case 0xfa: HOST(&io, LDA "fsqrt", STORE1); break;
	case 0xfc: HOST(&io, LDA "frndint", STORE1); break;
	case 0xfe: HOST(&io, LDA "fsin", STORE1); break;
	default: HOST(&io, LDA "fcos", STORE1); break;
	}
	*res = io.r0;
	return status(&io);
}

unsigned x87a_binary(unsigned op2, uint32_t ctl, x87_f80 *r0, x87_f80 *r1, const x87_f80 *a, const x87_f80 *b)
{
	struct host_io io;
	io_init(&io, ctl);
	memcpy(&io.a, a, 10);
	memcpy(&io.b, b, 10);
	switch (op2) {
	case 0xf1: HOST(&io, LDBA "fyl2x", STORE2); break;
	case 0xf3: HOST(&io, LDBA "fpatan", STORE2); break;
	case 0xf9: HOST(&io, LDBA "fyl2xp1", STORE2); break;
	case 0xf8: HOST(&io, LDBA "fprem", STORE2); break;
	case 0xf5: HOST(&io, LDBA "fprem1", STORE2); break;
	case 0xfd: HOST(&io, LDBA "fscale", STORE2); break;
	case 0xf4: HOST(&io, LDA "fxtract", STORE2); break;
	case 0xf2: HOST(&io, LDA "fptan", STORE2); break;
	default: HOST(&io, LDA "fsincos", STORE2); break;
	}
	*r0 = io.r0;
	*r1 = io.r1;
	return status(&io);
}
