/*
 * Instruction family: the x87 floating-point unit (SDM vol. 1 ch. 8, vol. 2 FADD..FYL2XP1).
 *
 * State lives in c->s.fx, kept directly in FXSAVE layout (SDM vol. 1 §10.5.1) so FXSAVE/FXRSTOR,
 * cpu_get_state() and the MMX aliasing need no conversion:
 *   - st[i] holds ST(i) in stack order (80-bit value in bytes 0..9, bytes 10..15 zero); a push or
 *     pop rotates st[] so each physical register keeps its contents, as FXSAVE would show them;
 *   - ftw is the abridged tag word indexed by physical register (bit p set = R_p valid), where
 *     ST(i) is R_((TOP + i) & 7) and TOP is FSW bits 11..13;
 *   - fop is the 11-bit opcode of the last non-control instruction; fip/fdp hold its address and
 *     its memory operand's: the 64-bit offsets in 64-bit mode, otherwise the 32-bit offset with the
 *     CS/data segment selector in bits 32..47 - exactly the bytes of the 32-bit FXSAVE format.
 *
 * All floating-point computation goes through x87_arith.h. This file handles the register stack,
 * stack faults (IE|SF with C1 = overflow, masked response = the QNaN indefinite), merging each
 * operation's exception flags into FSW, the unmasked-exception rules (no result for IE/DE/ZE,
 * nothing stored to memory for OE/UE) and the deferred #MF: FSW.ES is set while an unmasked flag is
 * pending and the next waiting instruction raises #MF (CR0.NE = 1) or, with CR0.NE = 0, carries on
 * (the external FERR#/IRQ13 path is not modelled). CR0.EM or CR0.TS give #NM.
 *
 * Handlers decode the x87 opcode byte and ModRM themselves (the selector stores ModRM in insn.sub):
 * the operand order Zydis reports differs between forms, the encoding does not.
 */
#include "core.h"
#include "x87_arith.h"

#define X87_TOP_SHIFT 11
#define X87_TOP_MASK (7u << X87_TOP_SHIFT)
#define FCW_MASKS 0x003f

static const x87_f80 x87_indefinite = { 0xc000000000000000ull, 0xffff };

/* ---- the register stack ---- */

static inline unsigned x87_top(const struct cpu *c)
{
	return (c->s.fx.fsw >> X87_TOP_SHIFT) & 7;
}

static inline void set_top(struct cpu *c, unsigned top)
{
	c->s.fx.fsw = (uint16_t)((c->s.fx.fsw & ~X87_TOP_MASK) | ((top & 7) << X87_TOP_SHIFT));
}

static inline unsigned phys(const struct cpu *c, unsigned i)
{
	return (x87_top(c) + i) & 7;
}

static inline bool st_empty(const struct cpu *c, unsigned i)
{
	return !(c->s.fx.ftw >> phys(c, i) & 1);
}

static inline x87_f80 st_get(const struct cpu *c, unsigned i)
{
	x87_f80 v = { 0, 0 };
	memcpy(&v, c->s.fx.st[i & 7], 10);
	return v;
}

static inline void st_set(struct cpu *c, unsigned i, const x87_f80 *v)
{
	uint8_t *r = c->s.fx.st[i & 7];
	memcpy(r, v, 10);
	memset(r + 10, 0, 6);
	c->s.fx.ftw |= (uint8_t)(1u << phys(c, i));
}

/* TOP - 1: the old ST(7) slot becomes ST(0). */
static void st_rotate_push(struct cpu *c)
{
	uint8_t t[16];
	memcpy(t, c->s.fx.st[7], 16);
	memmove(c->s.fx.st[1], c->s.fx.st[0], 7 * 16);
	memcpy(c->s.fx.st[0], t, 16);
	set_top(c, x87_top(c) - 1);
}

/* TOP + 1: the old ST(0) slot becomes ST(7). */
static void st_rotate_pop(struct cpu *c)
{
	uint8_t t[16];
	memcpy(t, c->s.fx.st[0], 16);
	memmove(c->s.fx.st[0], c->s.fx.st[1], 7 * 16);
	memcpy(c->s.fx.st[7], t, 16);
	set_top(c, x87_top(c) + 1);
}

static void st_push(struct cpu *c, const x87_f80 *v)
{
	st_rotate_push(c);
	st_set(c, 0, v);
}

static void st_pop(struct cpu *c)
{
	c->s.fx.ftw &= (uint8_t)~(1u << x87_top(c));
	st_rotate_pop(c);
}

/* ---- status ---- */

/* ES and B summarize the unmasked exception flags (FLDCW/FLDENV re-evaluate them too). */
static void update_es(struct cpu *c)
{
	if (c->s.fx.fsw & ~c->s.fx.fcw & X87_EXC)
		c->s.fx.fsw |= X87_ES | X87_B;
	else
		c->s.fx.fsw &= (uint16_t)~(X87_ES | X87_B);
}

/*
 * Merges an operation's status: its exception flags, and the condition codes in cc (the ones the
 * instruction defines; the others keep their values). Returns true when an exception in `stop`
 * is unmasked: then the destination must not be written.
 */
static bool merge(struct cpu *c, unsigned st, unsigned cc, unsigned stop)
{
	c->s.fx.fsw = (uint16_t)((c->s.fx.fsw & ~cc) | (st & cc) | (st & X87_EXC));
	update_es(c);
	return st & ~c->s.fx.fcw & stop;
}

#define STOP_REG (X87_IE | X87_DE | X87_ZE)
/* The status of an exact move: C1 = 0, the other condition codes unchanged. */
#define EXACT(c) ((c)->s.fx.fsw & (X87_C0 | X87_C2 | X87_C3))
#define STOP_MEM (X87_IE | X87_DE | X87_ZE | X87_OE | X87_UE)

/* Stack overflow / underflow (SDM vol. 1 §8.5.1.1). Returns true when IE is masked, i.e. the
 * caller continues with the indefinite as its result. */
static bool stack_fault(struct cpu *c, bool overflow)
{
	c->s.fx.fsw = (uint16_t)((c->s.fx.fsw & ~X87_C1) | X87_IE | X87_SF | (overflow ? X87_C1 : 0));
	update_es(c);
	return c->s.fx.fcw & X87_IE;
}

/* What the arithmetic layer needs to know: FCW and the condition codes in FSW. */
static inline uint32_t ctl(const struct cpu *c)
{
	return X87A_CTL(c->s.fx.fcw, c->s.fx.fsw);
}

static inline void set_cc(struct cpu *c, unsigned mask, unsigned bits)
{
	c->s.fx.fsw = (uint16_t)((c->s.fx.fsw & ~mask) | (bits & mask));
}

/* ---- instruction prologue ---- */

static inline unsigned modrm(const struct insn *i)
{
	return i->sub;
}

static inline unsigned rm(const struct insn *i)
{
	return i->sub & 7;
}

static inline unsigned regf(const struct insn *i)
{
	return (i->sub >> 3) & 7;
}

static inline bool is_mem(const struct insn *i)
{
	return (i->sub >> 6) != 3;
}

/* #NM for EM/TS, then the pending-exception check of waiting instructions (SDM vol. 1 §8.6). */
static inline void check_nm(struct cpu *c)
{
	if (unlikely(c->s.cr0 & (CR0_EM | CR0_TS)))
		cpu_raise_noerr(c, EXC_NM);
}

static inline void check_pending(struct cpu *c)
{
	/* With CR0.NE = 0 the error goes out on FERR# (IRQ13), which we do not model: carry on. */
	if (unlikely(c->s.fx.fsw & X87_ES) && (c->s.cr0 & CR0_NE))
		cpu_raise_noerr(c, EXC_MF);
}

static inline uint64_t sel_in(const struct cpu *c, unsigned seg)
{
	return (uint64_t)c->s.seg[seg].sel << 32;
}

/* Non-control instructions record their opcode, address and memory operand. */
static void record(struct cpu *c, const struct insn *i, bool mem, uint64_t ea)
{
	bool l64 = c->mode == CPU_MODE_LONG64;
	c->s.fx.fop = (uint16_t)(((i->opcode & 7) << 8) | modrm(i));
	c->s.fx.fip = l64 ? c->s.rip : ((uint32_t)c->s.rip | sel_in(c, S_CS));
	if (mem)
		c->s.fx.fdp = l64 ? ea : ((uint32_t)ea | sel_in(c, i->mem.seg));
}

/* The usual prologue of a non-control instruction: returns the memory operand's address. */
static inline uint64_t enter(struct cpu *c, const struct insn *i)
{
	check_nm(c);
	check_pending(c);
	uint64_t ea = is_mem(i) ? insn_ea(c, i) : 0;
	record(c, i, is_mem(i), ea);
	return ea;
}

/* ---- loads ---- */

/* Pushes v after the overflow check; st is the conversion's status (0 for exact loads). Only an
 * unmasked IE (SNaN source) stops a load: a denormal source is loaded even with DE unmasked. */
static void push_result(struct cpu *c, const x87_f80 *v, unsigned st)
{
	if (!st_empty(c, 7)) {
		if (stack_fault(c, true))
			st_push(c, &x87_indefinite);
		return;
	}
	if (merge(c, st, X87_CC, X87_IE))
		return;
	st_push(c, v);
}

static void h_fld(struct cpu *c, const struct insn *i)
{
	uint64_t ea = enter(c, i);
	x87_f80 v = { 0, 0 };
	unsigned st = 0;
	if (!is_mem(i)) {
		if (st_empty(c, rm(i)) && st_empty(c, 7)) {
			if (stack_fault(c, false))
				st_push(c, &x87_indefinite);
			return;
		}
		v = st_get(c, rm(i));
		st = EXACT(c);
	} else {
		switch (i->opcode) {
		case 0xd9: st = x87a_load_f32(ctl(c), &v, (uint32_t)mem_read(c, i->mem.seg, ea, 4)); break;
		case 0xdd: st = x87a_load_f64(ctl(c), &v, mem_read(c, i->mem.seg, ea, 8)); break;
		default: /* DB /5: m80, exact */
			mem_read_buf(c, i->mem.seg, ea, &v, 10);
			st = EXACT(c);
			break;
		}
	}
	push_result(c, &v, st);
}

static void h_fild(struct cpu *c, const struct insn *i)
{
	uint64_t ea = enter(c, i);
	int64_t n;
	if (i->opcode == 0xdb)
		n = (int32_t)mem_read(c, i->mem.seg, ea, 4);
	else if (regf(i) == 5)
		n = (int64_t)mem_read(c, i->mem.seg, ea, 8);
	else
		n = (int16_t)mem_read(c, i->mem.seg, ea, 2);
	x87_f80 v;
	unsigned st = x87a_load_int(ctl(c), &v, n);
	push_result(c, &v, st);
}

static void h_fbld(struct cpu *c, const struct insn *i)
{
	uint64_t ea = enter(c, i);
	uint8_t bcd[10];
	mem_read_buf(c, i->mem.seg, ea, bcd, 10);
	x87_f80 v;
	unsigned st = x87a_load_bcd(ctl(c), &v, bcd);
	push_result(c, &v, st);
}

static void h_fldconst(struct cpu *c, const struct insn *i)
{
	enter(c, i);
	x87_f80 v;
	unsigned st = x87a_load_const(ctl(c), &v, modrm(i) & 7);
	push_result(c, &v, st);
}

/* ---- stores ---- */

enum store_kind { SK_F32, SK_F64, SK_F80, SK_I16, SK_I32, SK_I64, SK_BCD };

/* FST/FSTP/FIST/FISTP/FISTTP/FBSTP to memory: pop says whether to pop, trunc selects FISTTP. */
static void store_mem(struct cpu *c, const struct insn *i, uint64_t ea, enum store_kind k, bool pop, bool trunc)
{
	static const unsigned size[] = { 4, 8, 10, 2, 4, 8, 10 };
	uint16_t fcw = c->s.fx.fcw;
	uint8_t out[16] = { 0 };
	unsigned st = 0;
	if (st_empty(c, 0)) {
		if (!(fcw & X87_IE)) {
			stack_fault(c, false);
			return;
		}
		/* Masked underflow stores the indefinite of the destination format. */
		static const uint8_t indef[][10] = {
			[SK_F32] = { 0, 0, 0xc0, 0xff },
			[SK_F64] = { 0, 0, 0, 0, 0, 0, 0xf8, 0xff },
			[SK_F80] = { 0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff },
			[SK_I16] = { 0, 0x80 },
			[SK_I32] = { 0, 0, 0, 0x80 },
			[SK_I64] = { 0, 0, 0, 0, 0, 0, 0, 0x80 },
			[SK_BCD] = { 0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff },
		};
		mem_write_buf(c, i->mem.seg, ea, indef[k], size[k]);
		stack_fault(c, false);
		if (pop)
			st_pop(c);
		return;
	}
	x87_f80 v = st_get(c, 0);
	switch (k) {
	case SK_F32: {
		uint32_t r;
		st = x87a_store_f32(ctl(c), &r, &v);
		memcpy(out, &r, 4);
		break;
	}
	case SK_F64: {
		uint64_t r;
		st = x87a_store_f64(ctl(c), &r, &v);
		memcpy(out, &r, 8);
		break;
	}
	case SK_F80:
		memcpy(out, &v, 10);
		st = EXACT(c);
		break;
	case SK_I16:
	case SK_I32:
	case SK_I64: {
		uint64_t r;
		st = x87a_store_int(ctl(c), &r, &v, size[k], trunc);
		memcpy(out, &r, 8);
		break;
	}
	case SK_BCD: st = x87a_store_bcd(ctl(c), out, &v); break;
	}
	if (!(st & ~fcw & STOP_MEM))
		mem_write_buf(c, i->mem.seg, ea, out, size[k]);
	if (merge(c, st, X87_CC, STOP_MEM))
		return;
	if (pop)
		st_pop(c);
}

static void h_fst(struct cpu *c, const struct insn *i)
{
	uint64_t ea = enter(c, i);
	/* Memory: D9 /2 /3 m32, DD /2 /3 m64, DB /7 m80. Register: DD D0+i FST, DD D8+i, D9 D8+i,
	 * DF D0+i, DF D8+i FSTP. */
	if (is_mem(i)) {
		bool pop = regf(i) != 2;
		enum store_kind k = i->opcode == 0xd9 ? SK_F32 : i->opcode == 0xdd ? SK_F64 : SK_F80;
		store_mem(c, i, ea, k, pop, false);
		return;
	}
	bool pop = !(i->opcode == 0xdd && regf(i) == 2);
	unsigned d = rm(i);
	if (st_empty(c, 0)) {
		if (!stack_fault(c, false))
			return;
		st_set(c, d, &x87_indefinite);
	} else {
		x87_f80 v = st_get(c, 0);
		st_set(c, d, &v);
		set_cc(c, X87_C1, 0);
	}
	if (pop)
		st_pop(c);
}

static void h_fist(struct cpu *c, const struct insn *i)
{
	uint64_t ea = enter(c, i);
	/* DF /2 /3 m16, DB /2 /3 m32, DF /7 m64 (FISTP); FISTTP: DF /1 m16, DB /1 m32, DD /1 m64. */
	bool trunc = regf(i) == 1;
	bool pop = regf(i) != 2;
	enum store_kind k;
	if (i->opcode == 0xdb)
		k = SK_I32;
	else if (i->opcode == 0xdd || regf(i) == 7)
		k = SK_I64;
	else
		k = SK_I16;
	store_mem(c, i, ea, k, pop, trunc);
}

static void h_fbstp(struct cpu *c, const struct insn *i)
{
	uint64_t ea = enter(c, i);
	store_mem(c, i, ea, SK_BCD, true, false);
}

/* ---- arithmetic ---- */

/* FADD..FDIVR in all forms: D8 (ST(0) op= ST(i) or m32fp), DC (ST(i) op= ST(0) or m64fp), DE (the
 * popping register forms, m16int), DA (m32int). In the DC/DE register forms the Intel names of
 * /4../7 are reversed with respect to the operation on the destination. */
static void h_arith(struct cpu *c, const struct insn *i)
{
	uint64_t ea = enter(c, i);
	unsigned op = regf(i);
	uint8_t mem[8];
	enum x87a_src kind = X87A_SRC_F80;
	unsigned d = 0, s = 0;
	bool pop = false;
	if (is_mem(i)) {
		switch (i->opcode) {
		case 0xd8: kind = X87A_SRC_F32; break;
		case 0xdc: kind = X87A_SRC_F64; break;
		case 0xda: kind = X87A_SRC_I32; break;
		default: kind = X87A_SRC_I16; break;
		}
		static const unsigned sz[] = { [X87A_SRC_F32] = 4, [X87A_SRC_F64] = 8, [X87A_SRC_I16] = 2,
					       [X87A_SRC_I32] = 4 };
		uint64_t v = mem_read(c, i->mem.seg, ea, sz[kind]);
		memcpy(mem, &v, 8);
	} else if (i->opcode == 0xd8) {
		s = rm(i);
	} else {
		d = rm(i);
		if (op >= 4)
			op ^= 1;
		pop = i->opcode == 0xde;
	}
	if (st_empty(c, d) || (kind == X87A_SRC_F80 && st_empty(c, s))) {
		if (!stack_fault(c, false))
			return;
		st_set(c, d, &x87_indefinite);
	} else {
		x87_f80 dv = st_get(c, d), sv, r;
		const void *src = mem;
		if (kind == X87A_SRC_F80) {
			sv = st_get(c, s);
			src = &sv;
		}
		unsigned st = x87a_arith(op, ctl(c), &r, &dv, src, kind);
		if (merge(c, st, X87_CC, STOP_REG))
			return;
		st_set(c, d, &r);
	}
	if (pop)
		st_pop(c);
}

/* ---- compares ---- */

#define CC_UNORDERED (X87_C0 | X87_C2 | X87_C3)

/* FCOM/FCOMP/FCOMPP/FUCOM/FUCOMP/FUCOMPP/FICOM/FICOMP. */
static void h_fcom(struct cpu *c, const struct insn *i)
{
	uint64_t ea = enter(c, i);
	unsigned pops = 0, s = 1;
	bool unordered = false;
	enum x87a_src kind = X87A_SRC_F80;
	uint8_t mem[8];
	if (is_mem(i)) {
		static const uint8_t kinds[8] = { [0] = X87A_SRC_F32, [2] = X87A_SRC_I32, [4] = X87A_SRC_F64,
						  [6] = X87A_SRC_I16 };
		static const uint8_t sizes[8] = { [0] = 4, [2] = 4, [4] = 8, [6] = 2 };
		kind = kinds[i->opcode & 6];
		uint64_t v = mem_read(c, i->mem.seg, ea, sizes[i->opcode & 6]);
		memcpy(mem, &v, 8);
		pops = regf(i) & 1;
	} else {
		unsigned m = modrm(i);
		s = rm(i);
		if (i->opcode == 0xde && m == 0xd9)
			pops = 2; /* FCOMPP */
		else if (i->opcode == 0xda && m == 0xe9)
			pops = 2, unordered = true; /* FUCOMPP */
		else if (i->opcode == 0xdd)
			pops = regf(i) & 1, unordered = true; /* DD E0+i FUCOM, E8+i FUCOMP */
		else
			pops = i->opcode == 0xde ? 1 : regf(i) & 1; /* D8/DC D0 D8, DE D0 */
	}
	if (st_empty(c, 0) || (kind == X87A_SRC_F80 && st_empty(c, s))) {
		set_cc(c, CC_UNORDERED, CC_UNORDERED);
		if (!stack_fault(c, false))
			return;
	} else {
		x87_f80 a = st_get(c, 0), b;
		const void *src = mem;
		if (kind == X87A_SRC_F80) {
			b = st_get(c, s);
			src = &b;
		}
		unsigned st = x87a_compare(ctl(c), &a, src, kind, unordered);
		if (merge(c, st, X87_CC, STOP_REG))
			return;
	}
	while (pops--)
		st_pop(c);
}

/* FCOMI/FCOMIP (DB F0+i, DF F0+i) and FUCOMI/FUCOMIP (DB E8+i, DF E8+i): ZF, PF, CF. */
static void h_fcomi(struct cpu *c, const struct insn *i)
{
	enter(c, i);
	bool pop = i->opcode == 0xdf;
	bool unordered = regf(i) == 5;
	unsigned s = rm(i);
	/* The flags are written even when an unmasked exception keeps the pop from happening. */
	if (st_empty(c, 0) || st_empty(c, s)) {
		flags_set_arith(c, F_ZF | F_PF | F_CF);
		if (!stack_fault(c, false))
			return;
	} else {
		x87_f80 a = st_get(c, 0), b = st_get(c, s);
		uint32_t zpc;
		unsigned st = x87a_comi(ctl(c), &a, &b, unordered, &zpc);
		flags_set_arith(c, zpc);
		if (merge(c, st, 0, STOP_REG)) /* condition codes unchanged, C1 too */
			return;
	}
	if (pop)
		st_pop(c);
}

static void h_ftst(struct cpu *c, const struct insn *i)
{
	enter(c, i);
	if (st_empty(c, 0)) {
		set_cc(c, CC_UNORDERED, CC_UNORDERED);
		stack_fault(c, false);
		return;
	}
	x87_f80 a = st_get(c, 0);
	merge(c, x87a_tst(ctl(c), &a), X87_CC, STOP_REG);
}

static void h_fxam(struct cpu *c, const struct insn *i)
{
	enter(c, i);
	x87_f80 a = st_get(c, 0);
	unsigned sign = a.se & 0x8000 ? X87_C1 : 0;
	if (st_empty(c, 0))
		set_cc(c, X87_CC, X87_C3 | X87_C0 | sign);
	else
		set_cc(c, X87_CC, x87a_xam(&a));
}

/* ---- one- and two-operand functions (D9 E0..FF) ---- */

static void h_unary(struct cpu *c, const struct insn *i)
{
	enter(c, i);
	unsigned m = modrm(i);
	if (st_empty(c, 0)) {
		if (stack_fault(c, false))
			st_set(c, 0, &x87_indefinite);
		return;
	}
	x87_f80 a = st_get(c, 0), r;
	unsigned st = x87a_unary(m, ctl(c), &r, &a);
	if (merge(c, st, X87_CC, STOP_REG))
		return;
	st_set(c, 0, &r);
}

/* FYL2X, FPATAN, FYL2XP1 (result to ST(1), pop); FPREM, FPREM1, FSCALE (result to ST(0)). */
static void h_binary(struct cpu *c, const struct insn *i)
{
	enter(c, i);
	unsigned m = modrm(i);
	bool to_st1 = m == 0xf1 || m == 0xf3 || m == 0xf9;
	if (st_empty(c, 0) || st_empty(c, 1)) {
		if (m == 0xf8 || m == 0xf5)
			set_cc(c, X87_C2, 0); /* FPREM: "complete", as the masked result is final */
		if (!stack_fault(c, false))
			return;
		st_set(c, to_st1 ? 1 : 0, &x87_indefinite);
		if (to_st1)
			st_pop(c);
		return;
	}
	x87_f80 a = st_get(c, 0), b = st_get(c, 1), r0, r1;
	unsigned st = x87a_binary(m, ctl(c), &r0, &r1, &a, &b);
	if (merge(c, st, X87_CC, STOP_REG))
		return;
	if (to_st1) {
		st_set(c, 1, &r0);
		st_pop(c);
	} else {
		st_set(c, 0, &r0);
	}
}

/* FXTRACT, FPTAN, FSINCOS: replace ST(0) and push a second result. */
static void h_push2(struct cpu *c, const struct insn *i)
{
	enter(c, i);
	unsigned m = modrm(i);
	if (st_empty(c, 0) || !st_empty(c, 7)) {
		if (m != 0xf4)
			set_cc(c, X87_C2, 0); /* FPTAN/FSINCOS: not "out of range" */
		if (!stack_fault(c, !st_empty(c, 7)))
			return;
		st_set(c, 0, &x87_indefinite);
		st_push(c, &x87_indefinite);
		return;
	}
	x87_f80 a = st_get(c, 0), r0, r1;
	unsigned st = x87a_binary(m, ctl(c), &r0, &r1, &a, &a);
	if (merge(c, st, X87_CC, STOP_REG))
		return;
	if (m != 0xf4 && (st & X87_C2))
		return; /* operand out of range: ST(0) unchanged, nothing pushed */
	st_set(c, 0, &r1);
	st_push(c, &r0);
}

/* ---- register moves and stack control ---- */

static void h_fxch(struct cpu *c, const struct insn *i)
{
	enter(c, i);
	unsigned s = rm(i);
	if (st_empty(c, 0) || st_empty(c, s)) {
		if (!stack_fault(c, false))
			return;
		if (st_empty(c, 0))
			st_set(c, 0, &x87_indefinite);
		if (st_empty(c, s))
			st_set(c, s, &x87_indefinite);
	} else {
		set_cc(c, X87_C1, 0);
	}
	x87_f80 a = st_get(c, 0), b = st_get(c, s);
	st_set(c, 0, &b);
	st_set(c, s, &a);
}

static void h_fcmov(struct cpu *c, const struct insn *i)
{
	enter(c, i);
	/* DA: B, E, BE, U by ModRM.reg 0..3; DB: the negations. */
	static const uint8_t cc_of[4] = { 2, 4, 6, 10 }; /* Jcc condition numbers B, E, BE, P */
	bool take = cond_eval(c, cc_of[regf(i) & 3]);
	if (i->opcode == 0xdb)
		take = !take;
	unsigned s = rm(i);
	if (st_empty(c, 0) || st_empty(c, s)) {
		if (stack_fault(c, false))
			st_set(c, 0, &x87_indefinite);
		return;
	}
	if (take) {
		x87_f80 v = st_get(c, s);
		st_set(c, 0, &v);
	}
}

static void h_ffree(struct cpu *c, const struct insn *i)
{
	enter(c, i);
	c->s.fx.ftw &= (uint8_t)~(1u << phys(c, rm(i)));
	set_cc(c, X87_C1, 0); /* the SDM says undefined; processors clear it */
	if (i->opcode == 0xdf) /* FFREEP */
		st_pop(c);
}

static void h_fincdecstp(struct cpu *c, const struct insn *i)
{
	enter(c, i);
	if (modrm(i) == 0xf7)
		st_rotate_pop(c);
	else
		st_rotate_push(c);
	set_cc(c, X87_C1, 0);
}

static void h_fnop(struct cpu *c, const struct insn *i)
{
	enter(c, i);
}

/* ---- control instructions (no FOP/FIP/FDP update) ---- */

static void x87_reset_state(struct cpu *c)
{
	c->s.fx.fcw = 0x037f;
	c->s.fx.fsw = 0;
	c->s.fx.ftw = 0;
	c->s.fx.fop = 0;
	c->s.fx.fip = 0;
	c->s.fx.fdp = 0;
}

static void h_fninit(struct cpu *c, const struct insn *i)
{
	check_nm(c);
	x87_reset_state(c);
}

static void h_fnclex(struct cpu *c, const struct insn *i)
{
	check_nm(c);
	c->s.fx.fsw &= (uint16_t)~(X87_EXC | X87_SF | X87_ES | X87_B);
}

/* FENI, FDISI, FSETPM: 8087/80287 controls, no-ops since the 80387. */
static void h_fnop_legacy(struct cpu *c, const struct insn *i)
{
	check_nm(c);
}

static void h_fwait(struct cpu *c, const struct insn *i)
{
	if (unlikely((c->s.cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS)))
		cpu_raise_noerr(c, EXC_NM);
	check_pending(c);
}

static void h_fldcw(struct cpu *c, const struct insn *i)
{
	check_nm(c);
	check_pending(c);
	uint16_t v = (uint16_t)mem_read(c, i->mem.seg, insn_ea(c, i), 2);
	c->s.fx.fcw = (uint16_t)((v & 0x1f3f) | 0x0040);
	update_es(c);
}

static void h_fnstcw(struct cpu *c, const struct insn *i)
{
	check_nm(c);
	mem_write(c, i->mem.seg, insn_ea(c, i), 2, c->s.fx.fcw);
}

static void h_fnstsw(struct cpu *c, const struct insn *i)
{
	check_nm(c);
	if (is_mem(i))
		mem_write(c, i->mem.seg, insn_ea(c, i), 2, c->s.fx.fsw);
	else
		gpr_set(c, R_RAX, 2, c->s.fx.fsw);
}

/* The full tag word (SDM vol. 1 §8.1.7): 00 valid, 01 zero, 10 special, 11 empty, by physical
 * register. */
static uint16_t full_tags(const struct cpu *c)
{
	uint16_t tw = 0;
	unsigned top = x87_top(c);
	for (unsigned p = 0; p < 8; p++) {
		unsigned t;
		if (!(c->s.fx.ftw >> p & 1)) {
			t = 3;
		} else {
			x87_f80 v = st_get(c, (p - top) & 7);
			unsigned e = v.se & 0x7fff;
			if (e == 0x7fff)
				t = 2;
			else if (e == 0)
				t = v.mant ? 2 : 1;
			else
				t = v.mant >> 63 ? 0 : 2;
		}
		tw |= (uint16_t)(t << (2 * p));
	}
	return tw;
}

static inline bool real_layout(const struct cpu *c)
{
	return c->mode == CPU_MODE_REAL || c->mode == CPU_MODE_VM86;
}

/* Builds the 14- or 28-byte environment image (SDM vol. 1 §8.1.10, figures 8-9..8-12). */
static unsigned env_store(struct cpu *c, const struct insn *i, uint8_t *img)
{
	const struct cpu_fxstate *fx = &c->s.fx;
	uint32_t ip = (uint32_t)fx->fip, dp = (uint32_t)fx->fdp;
	uint16_t cs = (uint16_t)(fx->fip >> 32), ds = (uint16_t)(fx->fdp >> 32);
	uint16_t tw = full_tags(c), op = fx->fop & 0x7ff;
	if (c->mode == CPU_MODE_LONG64) {
		/* fip/fdp hold 64-bit offsets here, no selectors: report the current CS and DS. */
		cs = c->s.seg[S_CS].sel;
		ds = c->s.seg[S_DS].sel;
	}
	if (i->osize == 2) {
		uint16_t w[7] = { fx->fcw, fx->fsw, tw, 0, 0, 0, 0 };
		if (real_layout(c)) {
			uint32_t lip = ip + ((uint32_t)cs << 4), ldp = dp + ((uint32_t)ds << 4);
			w[3] = (uint16_t)lip;
			w[4] = (uint16_t)(((lip >> 16) & 0xf) << 12 | op);
			w[5] = (uint16_t)ldp;
			w[6] = (uint16_t)(((ldp >> 16) & 0xf) << 12);
		} else {
			w[3] = (uint16_t)ip;
			w[4] = cs;
			w[5] = (uint16_t)dp;
			w[6] = ds;
		}
		memcpy(img, w, 14);
		return 14;
	}
	uint32_t d[7] = { 0xffff0000u | fx->fcw, 0xffff0000u | fx->fsw, 0xffff0000u | tw, 0, 0, 0, 0 };
	if (real_layout(c)) {
		uint32_t lip = ip + ((uint32_t)cs << 4), ldp = dp + ((uint32_t)ds << 4);
		d[3] = 0xffff0000u | (lip & 0xffff);
		d[4] = ((lip >> 16) << 12) | op;
		d[5] = 0xffff0000u | (ldp & 0xffff);
		d[6] = (ldp >> 16) << 12;
	} else {
		d[3] = ip;
		d[4] = cs | ((uint32_t)op << 16);
		d[5] = dp;
		d[6] = 0xffff0000u | ds;
	}
	memcpy(img, d, 28);
	return 28;
}

static void env_load(struct cpu *c, const struct insn *i, const uint8_t *img)
{
	struct cpu_fxstate *fx = &c->s.fx;
	uint16_t cw, sw, tw, op;
	uint64_t ip, dp;
	if (i->osize == 2) {
		uint16_t w[7];
		memcpy(w, img, 14);
		cw = w[0], sw = w[1], tw = w[2];
		if (real_layout(c)) {
			ip = w[3] | (uint32_t)(w[4] >> 12) << 16;
			op = w[4] & 0x7ff;
			dp = w[5] | (uint32_t)(w[6] >> 12) << 16;
		} else {
			ip = w[3] | (uint64_t)w[4] << 32;
			op = fx->fop;
			dp = w[5] | (uint64_t)w[6] << 32;
		}
	} else {
		uint32_t d[7];
		memcpy(d, img, 28);
		cw = (uint16_t)d[0], sw = (uint16_t)d[1], tw = (uint16_t)d[2];
		if (real_layout(c)) {
			ip = (d[3] & 0xffff) | ((d[4] >> 12) & 0xffff) << 16;
			op = d[4] & 0x7ff;
			dp = (d[5] & 0xffff) | ((d[6] >> 12) & 0xffff) << 16;
		} else {
			ip = d[3] | (uint64_t)(d[4] & 0xffff) << 32;
			op = (d[4] >> 16) & 0x7ff;
			dp = d[5] | (uint64_t)(d[6] & 0xffff) << 32;
		}
	}
	if (c->mode == CPU_MODE_LONG64) {
		ip = (uint32_t)ip;
		dp = (uint32_t)dp;
	}
	fx->fcw = (uint16_t)((cw & 0x1f3f) | 0x0040);
	fx->fsw = sw;
	uint8_t ftw = 0;
	for (unsigned p = 0; p < 8; p++)
		if (((tw >> (2 * p)) & 3) != 3)
			ftw |= (uint8_t)(1u << p);
	fx->ftw = ftw;
	fx->fop = op;
	fx->fip = ip;
	fx->fdp = dp;
	update_es(c);
}

static void h_fnstenv(struct cpu *c, const struct insn *i)
{
	check_nm(c);
	uint8_t img[28];
	unsigned n = env_store(c, i, img);
	mem_write_buf(c, i->mem.seg, insn_ea(c, i), img, n);
	c->s.fx.fcw |= FCW_MASKS; /* FNSTENV masks all exceptions afterwards */
	update_es(c);
}

static void h_fldenv(struct cpu *c, const struct insn *i)
{
	check_nm(c);
	check_pending(c);
	uint8_t img[28];
	mem_read_buf(c, i->mem.seg, insn_ea(c, i), img, i->osize == 2 ? 14 : 28);
	env_load(c, i, img);
}

static void h_fnsave(struct cpu *c, const struct insn *i)
{
	check_nm(c);
	uint8_t img[108];
	unsigned n = env_store(c, i, img);
	for (unsigned k = 0; k < 8; k++)
		memcpy(img + n + 10 * k, c->s.fx.st[k], 10);
	mem_write_buf(c, i->mem.seg, insn_ea(c, i), img, n + 80);
	x87_reset_state(c);
}

static void h_frstor(struct cpu *c, const struct insn *i)
{
	check_nm(c);
	check_pending(c);
	uint8_t img[108];
	unsigned n = i->osize == 2 ? 14 : 28;
	mem_read_buf(c, i->mem.seg, insn_ea(c, i), img, n + 80);
	env_load(c, i, img);
	for (unsigned k = 0; k < 8; k++) {
		memcpy(c->s.fx.st[k], img + n + 10 * k, 10);
		memset(c->s.fx.st[k] + 10, 0, 6);
	}
}

/* ---- registration ---- */

/* Keeps the ModRM byte for the handlers (they decode the x87 opcode map themselves). */
static insn_fn x87_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	i->sub = (uint8_t)(zi->raw.modrm.mod << 6 | zi->raw.modrm.reg << 3 | zi->raw.modrm.rm);
	return i->fn;
}

void x87_init(void)
{
	static const struct {
		ZydisMnemonic m;
		insn_fn fn;
	} tab[] = {
		{ ZYDIS_MNEMONIC_FLD, h_fld },
		{ ZYDIS_MNEMONIC_FILD, h_fild },
		{ ZYDIS_MNEMONIC_FBLD, h_fbld },
		{ ZYDIS_MNEMONIC_FLD1, h_fldconst },
		{ ZYDIS_MNEMONIC_FLDL2T, h_fldconst },
		{ ZYDIS_MNEMONIC_FLDL2E, h_fldconst },
		{ ZYDIS_MNEMONIC_FLDPI, h_fldconst },
		{ ZYDIS_MNEMONIC_FLDLG2, h_fldconst },
		{ ZYDIS_MNEMONIC_FLDLN2, h_fldconst },
		{ ZYDIS_MNEMONIC_FLDZ, h_fldconst },
		{ ZYDIS_MNEMONIC_FST, h_fst },
		{ ZYDIS_MNEMONIC_FSTP, h_fst },
		{ ZYDIS_MNEMONIC_FSTPNCE, h_fst },
		{ ZYDIS_MNEMONIC_FIST, h_fist },
		{ ZYDIS_MNEMONIC_FISTP, h_fist },
		{ ZYDIS_MNEMONIC_FISTTP, h_fist },
		{ ZYDIS_MNEMONIC_FBSTP, h_fbstp },
		{ ZYDIS_MNEMONIC_FADD, h_arith },
		{ ZYDIS_MNEMONIC_FADDP, h_arith },
		{ ZYDIS_MNEMONIC_FIADD, h_arith },
		{ ZYDIS_MNEMONIC_FMUL, h_arith },
		{ ZYDIS_MNEMONIC_FMULP, h_arith },
		{ ZYDIS_MNEMONIC_FIMUL, h_arith },
		{ ZYDIS_MNEMONIC_FSUB, h_arith },
		{ ZYDIS_MNEMONIC_FSUBP, h_arith },
		{ ZYDIS_MNEMONIC_FISUB, h_arith },
		{ ZYDIS_MNEMONIC_FSUBR, h_arith },
		{ ZYDIS_MNEMONIC_FSUBRP, h_arith },
		{ ZYDIS_MNEMONIC_FISUBR, h_arith },
		{ ZYDIS_MNEMONIC_FDIV, h_arith },
		{ ZYDIS_MNEMONIC_FDIVP, h_arith },
		{ ZYDIS_MNEMONIC_FIDIV, h_arith },
		{ ZYDIS_MNEMONIC_FDIVR, h_arith },
		{ ZYDIS_MNEMONIC_FDIVRP, h_arith },
		{ ZYDIS_MNEMONIC_FIDIVR, h_arith },
		{ ZYDIS_MNEMONIC_FCOM, h_fcom },
		{ ZYDIS_MNEMONIC_FCOMP, h_fcom },
		{ ZYDIS_MNEMONIC_FCOMPP, h_fcom },
		{ ZYDIS_MNEMONIC_FUCOM, h_fcom },
		{ ZYDIS_MNEMONIC_FUCOMP, h_fcom },
		{ ZYDIS_MNEMONIC_FUCOMPP, h_fcom },
		{ ZYDIS_MNEMONIC_FICOM, h_fcom },
		{ ZYDIS_MNEMONIC_FICOMP, h_fcom },
		{ ZYDIS_MNEMONIC_FCOMI, h_fcomi },
		{ ZYDIS_MNEMONIC_FCOMIP, h_fcomi },
		{ ZYDIS_MNEMONIC_FUCOMI, h_fcomi },
		{ ZYDIS_MNEMONIC_FUCOMIP, h_fcomi },
		{ ZYDIS_MNEMONIC_FTST, h_ftst },
		{ ZYDIS_MNEMONIC_FXAM, h_fxam },
		{ ZYDIS_MNEMONIC_FCHS, h_unary },
		{ ZYDIS_MNEMONIC_FABS, h_unary },
		{ ZYDIS_MNEMONIC_F2XM1, h_unary },
		{ ZYDIS_MNEMONIC_FSQRT, h_unary },
		{ ZYDIS_MNEMONIC_FRNDINT, h_unary },
		{ ZYDIS_MNEMONIC_FSIN, h_unary },
		{ ZYDIS_MNEMONIC_FCOS, h_unary },
		{ ZYDIS_MNEMONIC_FYL2X, h_binary },
		{ ZYDIS_MNEMONIC_FPATAN, h_binary },
		{ ZYDIS_MNEMONIC_FYL2XP1, h_binary },
		{ ZYDIS_MNEMONIC_FPREM, h_binary },
		{ ZYDIS_MNEMONIC_FPREM1, h_binary },
		{ ZYDIS_MNEMONIC_FSCALE, h_binary },
		{ ZYDIS_MNEMONIC_FXTRACT, h_push2 },
		{ ZYDIS_MNEMONIC_FPTAN, h_push2 },
		{ ZYDIS_MNEMONIC_FSINCOS, h_push2 },
		{ ZYDIS_MNEMONIC_FXCH, h_fxch },
		{ ZYDIS_MNEMONIC_FCMOVB, h_fcmov },
		{ ZYDIS_MNEMONIC_FCMOVE, h_fcmov },
		{ ZYDIS_MNEMONIC_FCMOVBE, h_fcmov },
		{ ZYDIS_MNEMONIC_FCMOVU, h_fcmov },
		{ ZYDIS_MNEMONIC_FCMOVNB, h_fcmov },
		{ ZYDIS_MNEMONIC_FCMOVNE, h_fcmov },
		{ ZYDIS_MNEMONIC_FCMOVNBE, h_fcmov },
		{ ZYDIS_MNEMONIC_FCMOVNU, h_fcmov },
		{ ZYDIS_MNEMONIC_FFREE, h_ffree },
		{ ZYDIS_MNEMONIC_FFREEP, h_ffree },
		{ ZYDIS_MNEMONIC_FINCSTP, h_fincdecstp },
		{ ZYDIS_MNEMONIC_FDECSTP, h_fincdecstp },
		{ ZYDIS_MNEMONIC_FNOP, h_fnop },
		{ ZYDIS_MNEMONIC_FNINIT, h_fninit },
		{ ZYDIS_MNEMONIC_FNCLEX, h_fnclex },
		{ ZYDIS_MNEMONIC_FENI8087_NOP, h_fnop_legacy },
		{ ZYDIS_MNEMONIC_FDISI8087_NOP, h_fnop_legacy },
		{ ZYDIS_MNEMONIC_FSETPM287_NOP, h_fnop_legacy },
		{ ZYDIS_MNEMONIC_FWAIT, h_fwait },
		{ ZYDIS_MNEMONIC_FLDCW, h_fldcw },
		{ ZYDIS_MNEMONIC_FNSTCW, h_fnstcw },
		{ ZYDIS_MNEMONIC_FNSTSW, h_fnstsw },
		{ ZYDIS_MNEMONIC_FNSTENV, h_fnstenv },
		{ ZYDIS_MNEMONIC_FLDENV, h_fldenv },
		{ ZYDIS_MNEMONIC_FNSAVE, h_fnsave },
		{ ZYDIS_MNEMONIC_FRSTOR, h_frstor },
	};
	for (size_t k = 0; k < sizeof(tab) / sizeof(tab[0]); k++)
		insn_register(tab[k].m, tab[k].fn, x87_select, 0);
}
