/*
 * The x87 arithmetic backend: every floating-point computation x87.c needs, on 80-bit values
 * held as bit patterns. x87.c owns the register stack, tags, exceptions and memory; this layer
 * only computes. The present backend (x87_arith.c) runs each operation on the host's own x87
 * unit with the guest's control word, which gives bit-identical results, flags and condition
 * codes on x86 hosts; a soft-float backend can replace it behind this interface.
 *
 * Every operation takes ctl = the guest's FCW in bits 0..15 and FSW in bits 16..31 (only its
 * condition codes matter) and returns status bits in FSW positions: the exception flags IE..PE
 * (bits 0..5) the operation raised and all four condition codes after it: the ones it defines (C1 =
 * rounded up, for operations that round) and, unchanged from ctl, the ones it leaves alone. Unmasked exceptions behave as on hardware: for IE, DE and ZE the
 * operation is not performed (the outputs are then meaningless); for OE and UE on a register
 * result the output carries the exponent wrapped by 24576 (SDM vol. 1 §8.5.4, §8.5.5).
 */
#ifndef SOFTVM_CPU_X87_ARITH_H
#define SOFTVM_CPU_X87_ARITH_H

#include <stdint.h>

/* An 80-bit extended-precision value, laid out as in memory (10 bytes used). */
typedef struct {
	uint64_t mant;
	uint16_t se; /* sign (bit 15) and biased exponent */
} x87_f80;

#define X87_IE 0x0001
#define X87_DE 0x0002
#define X87_ZE 0x0004
#define X87_OE 0x0008
#define X87_UE 0x0010
#define X87_PE 0x0020
#define X87_EXC 0x003f
#define X87_SF 0x0040
#define X87_ES 0x0080
#define X87_C0 0x0100
#define X87_C1 0x0200
#define X87_C2 0x0400
#define X87_C3 0x4000
#define X87_CC (X87_C0 | X87_C1 | X87_C2 | X87_C3)
#define X87_B 0x8000

#define X87A_CTL(fcw, fsw) ((uint32_t)(fcw) | (uint32_t)(fsw) << 16)

/* Kinds of the second operand of arithmetic and compares. */
enum x87a_src {
	X87A_SRC_F80, /* another register */
	X87A_SRC_F32, /* m32fp */
	X87A_SRC_F64, /* m64fp */
	X87A_SRC_I16, /* m16int */
	X87A_SRC_I32, /* m32int */
};

/* The arithmetic operations, numbered as ModRM.reg of opcode D8 (1 and 2/3 are MUL, COM/COMP). */
enum x87a_op {
	X87A_ADD = 0, X87A_MUL = 1, X87A_SUB = 4, X87A_SUBR = 5, X87A_DIV = 6, X87A_DIVR = 7,
};

/* *res = dst OP src (SUBR: src - dst, DIVR: src / dst). src points to an x87_f80 or to the raw
 * little-endian memory operand of the given kind. */
unsigned x87a_arith(unsigned op, uint32_t ctl, x87_f80 *res, const x87_f80 *dst, const void *src,
		    enum x87a_src kind);

/* Compares a with src: C3, C2, C0 as FCOM sets them. unordered: FUCOM (IE only for SNaN). */
unsigned x87a_compare(uint32_t ctl, const x87_f80 *a, const void *src, enum x87a_src kind, int unordered);
/* FCOMI/FUCOMI: returns status; *zpc gets ZF, PF, CF in their RFLAGS positions. */
unsigned x87a_comi(uint32_t ctl, const x87_f80 *a, const x87_f80 *b, int unordered, uint32_t *zpc);
unsigned x87a_tst(uint32_t ctl, const x87_f80 *a);
/* FXAM of a non-empty register: C3, C2, C1, C0. */
unsigned x87a_xam(const x87_f80 *a);

/* Loads: FLD m32/m64, FILD m16/m32/m64, FBLD, the constants (FLD1 .. FLDZ by the low 3 bits of
 * their second opcode byte E8..EE). */
unsigned x87a_load_f32(uint32_t ctl, x87_f80 *res, uint32_t v);
unsigned x87a_load_f64(uint32_t ctl, x87_f80 *res, uint64_t v);
unsigned x87a_load_int(uint32_t ctl, x87_f80 *res, int64_t v);
unsigned x87a_load_bcd(uint32_t ctl, x87_f80 *res, const uint8_t bcd[10]);
unsigned x87a_load_const(uint32_t ctl, x87_f80 *res, unsigned which);

/* Stores: FST m32/m64, FIST m16/m32/m64 (size in bytes; trunc: FISTTP), FBSTP. */
unsigned x87a_store_f32(uint32_t ctl, uint32_t *out, const x87_f80 *a);
unsigned x87a_store_f64(uint32_t ctl, uint64_t *out, const x87_f80 *a);
unsigned x87a_store_int(uint32_t ctl, uint64_t *out, const x87_f80 *a, unsigned size, int trunc);
unsigned x87a_store_bcd(uint32_t ctl, uint8_t out[10], const x87_f80 *a);

/* One-operand functions of ST(0), by the second opcode byte (D9 xx): FCHS E0, FABS E1,
 * F2XM1 F0, FSQRT FA, FRNDINT FC, FSIN FE, FCOS FF. */
unsigned x87a_unary(unsigned op2, uint32_t ctl, x87_f80 *res, const x87_f80 *a);

/*
 * Two-operand functions of ST(0) = a and ST(1) = b, by the second opcode byte (D9 xx):
 *   FYL2X F1, FPATAN F3, FYL2XP1 F9: *r0 = the result for ST(1) (then popped into ST(0)).
 *   FPREM F8, FPREM1 F5, FSCALE FD: *r0 = new ST(0); r1 unused. C0..C3 for FPREM.
 *   FXTRACT F4, FPTAN F2, FSINCOS FB: b unused; *r1 = the new value for ST(0)'s old slot
 *     (exponent, tangent, sine) and *r0 = the pushed new ST(0) (significand, 1.0, cosine).
 *     When C2 is set (FPTAN/FSINCOS out of range) nothing is pushed.
 */
unsigned x87a_binary(unsigned op2, uint32_t ctl, x87_f80 *r0, x87_f80 *r1, const x87_f80 *a, const x87_f80 *b);

#endif
