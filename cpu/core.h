/*
 * The CPU's internal interface, shared by the decoder, the execution loop, the MMU and the
 * instruction families (alu.c, shift.c, muldiv.c, bitops.c, string.c, stack.c, branch.c, system.c,
 * x87.c, sse.c ...). Nothing outside cpu/ includes this file.
 *
 * How an instruction runs: decode.c turns guest bytes (via Zydis) into a struct insn whose fn is
 * the family's handler; exec.c groups insns into blocks cached by guest-physical address and calls
 * insn->fn(c, insn) for each. Before the call c->rip is the instruction's address and c->next_rip
 * the address after it; a handler that branches writes c->next_rip. A handler that faults calls
 * cpu_raise(), which longjmps back to the run loop with RIP still at the faulting instruction.
 */
#ifndef SOFTVM_CPU_CORE_H
#define SOFTVM_CPU_CORE_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cpu.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* ---- architectural constants (names as in the SDM) ---- */
#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_EM (1ull << 2)
#define CR0_TS (1ull << 3)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_AM (1ull << 18)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR0_PG (1ull << 31)

#define CR4_VME (1ull << 0)
#define CR4_PVI (1ull << 1)
#define CR4_TSD (1ull << 2)
#define CR4_DE (1ull << 3)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define CR4_MCE (1ull << 6)
#define CR4_PGE (1ull << 7)
#define CR4_PCE (1ull << 8)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_UMIP (1ull << 11)
#define CR4_FSGSBASE (1ull << 16)

#define EFER_SCE (1ull << 0)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

#define F_CF (1u << 0)
#define F_PF (1u << 2)
#define F_AF (1u << 4)
#define F_ZF (1u << 6)
#define F_SF (1u << 7)
#define F_TF (1u << 8)
#define F_IF (1u << 9)
#define F_DF (1u << 10)
#define F_OF (1u << 11)
#define F_IOPL (3u << 12)
#define F_IOPL_SHIFT 12
#define F_NT (1u << 14)
#define F_RF (1u << 16)
#define F_VM (1u << 17)
#define F_AC (1u << 18)
#define F_VIF (1u << 19)
#define F_VIP (1u << 20)
#define F_ID (1u << 21)
#define F_ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)

enum {
	EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4, EXC_BR = 5, EXC_UD = 6,
	EXC_NM = 7, EXC_DF = 8, EXC_TS = 10, EXC_NP = 11, EXC_SS = 12, EXC_GP = 13, EXC_PF = 14,
	EXC_MF = 16, EXC_AC = 17, EXC_MC = 18, EXC_XM = 19,
};

/* Page-fault error code bits (SDM vol. 3 §4.7). */
#define PF_P (1u << 0)
#define PF_W (1u << 1)
#define PF_U (1u << 2)
#define PF_RSVD (1u << 3)
#define PF_I (1u << 4)

/* ---- pre-decoded instructions ---- */
struct cpu;
struct insn;
typedef void (*insn_fn)(struct cpu *c, const struct insn *i);

enum opkind {
	OPK_NONE,
	OPK_GPR,  /* reg: 0..15; for 1-byte operands 16..19 mean AH, CH, DH, BH */
	OPK_MEM,  /* the insn's single memory operand (struct insn.mem) */
	OPK_IMM,  /* insn.imm, already sign- or zero-extended to 64 bits as the encoding says */
	OPK_REL,  /* branch displacement in insn.imm (sign-extended); target = next_rip + imm */
	OPK_SEG,  /* reg: S_ES..S_GS */
	OPK_CR,   /* reg: control register number */
	OPK_DR,   /* reg: debug register number */
	OPK_ST,   /* reg: x87 stack index ST(i) */
	OPK_MMX,  /* reg: MM0..MM7 */
	OPK_XMM,  /* reg: XMM0..XMM15 */
	OPK_PTR,  /* far pointer: selector in insn.imm2, offset in insn.imm */
};

struct operand {
	uint8_t kind;
	uint8_t size; /* bytes */
	uint8_t reg;
	uint8_t pad;
};

#define MEM_NOREG 0xff
#define MEM_RIP 16 /* base = RIP of the next instruction */

struct memop {
	uint8_t seg;   /* effective segment (override or default) */
	uint8_t base;  /* GPR or MEM_RIP or MEM_NOREG */
	uint8_t index; /* GPR or MEM_NOREG */
	uint8_t scale; /* 1, 2, 4, 8 */
	int64_t disp;
};

/* insn.pfx */
#define PFX_LOCK 0x01
#define PFX_REP 0x02   /* REP / REPE / REPZ */
#define PFX_REPNE 0x04 /* REPNE / REPNZ */
#define PFX_OSIZE 0x08 /* 0x66 was present */
#define PFX_SEGOVR 0x10

struct insn {
	insn_fn fn;
	uint64_t imm;
	uint64_t imm2;  /* second immediate (ENTER's level, far pointer selector) */
	struct memop mem;
	struct operand op[3];
	uint16_t mnem;  /* ZydisMnemonic, for traces and shared handlers */
	uint8_t len;
	uint8_t osize;  /* effective operand size in bytes: 1, 2, 4 or 8 */
	uint8_t asize;  /* effective address size in bytes: 2, 4 or 8 */
	uint8_t pfx;
	uint8_t sub;    /* family-specific: condition code, ALU op, ... set by the family's selector */
	uint8_t nops;   /* visible operands */
	uint8_t opcode; /* last opcode byte */
	uint8_t flags;  /* INSN_* below */
};

/* insn.flags */
#define INSN_ENDS_BLOCK 0x01 /* control transfer or state change: the block ends after it */

/* ---- lazy flags (flags.c) ---- */
enum lazy_op {
	LF_NONE,   /* rflags holds the arithmetic flags exactly */
	LF_ADD,    /* res = a + b */
	LF_ADC,    /* res = a + b + carry_in (carry_in in cin) */
	LF_SUB,    /* res = a - b (also CMP, NEG with a = 0) */
	LF_SBB,    /* res = a - b - cin */
	LF_LOGIC,  /* res; CF = OF = 0, AF = 0 */
	LF_INC,    /* res = a + 1; CF preserved in cin */
	LF_DEC,    /* res = a - 1; CF preserved in cin */
};

struct lazy_flags {
	uint64_t res, a, b;
	uint8_t op;   /* enum lazy_op */
	uint8_t size; /* operand size in bytes */
	uint8_t cin;  /* carry in (ADC/SBB) or preserved CF (INC/DEC) */
};

/* ---- software TLB (mmu.c) ---- */
#define TLB_BITS 8
#define TLB_SIZE (1u << TLB_BITS)
/*
 * An entry answers "page vpage is readable / writable / executable with host pointer
 * vaddr + addend". A tag is the page's linear address; low bits set in a tag force the slow
 * path (TLB_SLOW: MMIO, or a write to a page that holds cached code) while still recording the page.
 */
#define TLB_SLOW 1ull
#define TLB_INVALID (~0ull)

struct tlb_entry {
	uint64_t tag_r, tag_w, tag_x;
	uintptr_t addend;  /* host = linear + addend (RAM pages) */
	uint64_t paddr;    /* guest-physical page */
	uint8_t global;
	uint8_t ram_w;     /* writes may go to host RAM at addend (tag_w may still be slow: code page) */
	uint8_t shift;     /* log2 of the guest page it is a 4 KiB piece of: 12, 21 (2M), 22 (4M), 30 (1G) */
	uint8_t pad[5];
};

/* ---- the processor ---- */
struct block;
struct code_cache;

struct cpu {
	struct cpu_state s; /* rflags arithmetic bits are stale while lf.op != LF_NONE */
	struct lazy_flags lf;
	uint64_t next_rip;

	/* derived from state, recomputed by cpu_mode_changed() */
	uint8_t cpl;
	uint8_t mode;       /* CPU_MODE_* */
	uint8_t code_size;  /* 2, 4 or 8: default operand/address size of CS */
	uint8_t stack_size; /* 2, 4 or 8: SS.B, or 8 in 64-bit mode */
	uint8_t seg_checks; /* segment base/limit apply (not 64-bit mode) */
	uint8_t dec_mode;   /* decode.h DEC_* for the current code type */

	/* interrupts and run control; the run loop tests the first six at once through events */
	union {
		struct {
			volatile uint8_t intr_line;
			volatile uint8_t nmi_pending;
			volatile uint8_t stop_requested;
			uint8_t intr_shadow;  /* STI / MOV SS: no interrupt before the next instruction completes */
			uint8_t halted;
			uint8_t single_insn;  /* run one instruction, then check interrupts again (after a shadow) */
			uint8_t exit_block;   /* leave the current block after this instruction */
			uint8_t nmi_blocked;  /* set when an NMI is delivered; IRET clears it (SDM vol. 3 §6.7.1) */
		};
		uint64_t events;
	};
	uint8_t in_delivery;  /* nested exception tracking for #DF / triple fault */
	int8_t first_exc;     /* exception being delivered, for the double-fault rules */
	uint8_t triple_fault;

	/* pending exception raised by cpu_raise() */
	int exc_vec;
	uint32_t exc_err;
	uint8_t exc_has_err;
	uint32_t exc_exits; /* cpu_set_exception_exits() mask */

	/* per data segment: linear base and valid offset range, recomputed by seg_cache_update() */
	struct seg_cache {
		uint64_t base;
		uint64_t lo, hi; /* valid offsets are lo..hi inclusive */
		uint8_t readable, writable;
	} sc[6];

	struct tlb_entry tlb[2][TLB_SIZE]; /* [0] supervisor, [1] user (CPL 3) */
	/* For INVLPG: which entries are 4 KiB pieces of large pages, and a Bloom mask of those large
	 * pages (a superset: rebuilt when INVLPG scans the entries). */
	uint64_t tlb_large[2][TLB_SIZE / 64];
	uint64_t tlb_large_pages[16];
	/* bumped by TLB flushes that may change the translation of code the code cache's jump cache
	 * was reached through: cached code lookups keyed on it go stale */
	uint64_t tlb_gen;
	/* Bloom masks of the linear pages (one mask per page size: 4K, 2M, 4M, 1G) that code was
	 * fetched through since tlb_gen last changed: INVLPG of other pages keeps the jump cache. */
	uint64_t code_pages[4];

	struct code_cache *cc;
	struct cpu_bus bus;
	uint64_t icount;
	int64_t tsc_offset; /* guest TSC = host ticks + offset (cpuid.c) */
	FILE *trace;

	/* x87 internals live in struct cpu_fxstate s.fx; the stack top is in fsw bits 11..13. */

	sigjmp_buf jmp;
	void *decoder_ctx; /* decode.c */
};

enum { CPU_MODE_REAL, CPU_MODE_VM86, CPU_MODE_PROT16, CPU_MODE_PROT32, CPU_MODE_COMPAT, CPU_MODE_LONG64 };

/* ---- faults (cpu_raise: exec.c; cpu_deliver: except.c) ---- */
/* Raise an exception from inside a handler: never returns (longjmp to the run loop). */
__attribute__((noreturn)) void cpu_raise(struct cpu *c, int vec, uint32_t err);
__attribute__((noreturn)) void cpu_raise_noerr(struct cpu *c, int vec);
#define cpu_gp(c, err) cpu_raise((c), EXC_GP, (err))
#define cpu_ud(c) cpu_raise_noerr((c), EXC_UD)
/* Deliver interrupt/exception vec through the IDT (real, protected or long mode).
 * is_soft: INT n/INT3/INTO (privilege check against gate DPL, return to next_rip). */
void cpu_deliver(struct cpu *c, int vec, bool has_err, uint32_t err, bool is_soft, uint64_t ret_rip);

/* INT n / INT3 / INTO: delivers software interrupt vec (or stops the run if intercepted).
 * The return address pushed is c->next_rip. Implemented in exec.c. */
void cpu_soft_interrupt(struct cpu *c, int vec);

/* ---- registers ---- */
static inline uint64_t size_mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static inline uint64_t sign_extend(uint64_t v, unsigned size)
{
	switch (size) {
	case 1: return (uint64_t)(int64_t)(int8_t)v;
	case 2: return (uint64_t)(int64_t)(int16_t)v;
	case 4: return (uint64_t)(int64_t)(int32_t)v;
	default: return v;
	}
}

/* Reads a GPR operand of the given size (reg 16..19 = AH..BH for size 1). */
static inline uint64_t gpr_get(struct cpu *c, unsigned reg, unsigned size)
{
	switch (size) {
	case 1: return reg < 16 ? (uint8_t)c->s.gpr[reg] : (uint8_t)(c->s.gpr[reg - 16] >> 8);
	case 2: return (uint16_t)c->s.gpr[reg];
	case 4: return (uint32_t)c->s.gpr[reg];
	default: return c->s.gpr[reg];
	}
}

/* Writes a GPR with x86-64 rules: 32-bit writes zero-extend, 8/16-bit writes merge. */
static inline void gpr_set(struct cpu *c, unsigned reg, unsigned size, uint64_t v)
{
	switch (size) {
	case 1:
		if (reg < 16)
			c->s.gpr[reg] = (c->s.gpr[reg] & ~0xffull) | (uint8_t)v;
		else
			c->s.gpr[reg - 16] = (c->s.gpr[reg - 16] & ~0xff00ull) | ((uint64_t)(uint8_t)v << 8);
		break;
	case 2: c->s.gpr[reg] = (c->s.gpr[reg] & ~0xffffull) | (uint16_t)v; break;
	case 4: c->s.gpr[reg] = (uint32_t)v; break;
	default: c->s.gpr[reg] = v; break;
	}
}

/* ---- memory (mmu.c) ----
 * Every guest access goes through these. seg is S_ES..S_GS; off is the effective address (already
 * masked to the address size). They apply segmentation, paging, permission checks and raise the
 * right fault. size is 1, 2, 4, 8 (or 10/16 for mem_read_buf/mem_write_buf). */
static inline uint64_t mem_read(struct cpu *c, unsigned seg, uint64_t off, unsigned size);
static inline void mem_write(struct cpu *c, unsigned seg, uint64_t off, unsigned size, uint64_t val);
/* The full paths (segment checks, TLB miss, MMIO, page crossing): the inline versions below
 * only handle a TLB hit in 64-bit mode. */
uint64_t mem_read_slow(struct cpu *c, unsigned seg, uint64_t off, unsigned size);
void mem_write_slow(struct cpu *c, unsigned seg, uint64_t off, unsigned size, uint64_t val);
void mem_read_buf(struct cpu *c, unsigned seg, uint64_t off, void *buf, unsigned size);
void mem_write_buf(struct cpu *c, unsigned seg, uint64_t off, const void *buf, unsigned size);
/* Checks that a write of size bytes at seg:off would succeed (for instructions that must not
 * partially complete, e.g. before popping into a destination). Raises the fault if not. */
void mem_probe_write(struct cpu *c, unsigned seg, uint64_t off, unsigned size);

/* Linear-address accesses. sys=true makes it a supervisor ("implicit") access regardless of CPL,
 * as for descriptor-table and TSS reads (SDM vol. 3 §4.6). */
uint64_t lin_read(struct cpu *c, uint64_t la, unsigned size, bool sys);
void lin_write(struct cpu *c, uint64_t la, unsigned size, uint64_t val, bool sys);

/* Translates a linear address for debugger reads: -1 if not mapped. */
int64_t mmu_translate_debug(struct cpu *c, uint64_t la);
void tlb_flush_all(struct cpu *c);
void tlb_flush_nonglobal(struct cpu *c);
void tlb_flush_page(struct cpu *c, uint64_t la);
/* Recomputes c->sc[sreg] after a segment register or the mode changed (seg.c calls it). */
void seg_cache_update(struct cpu *c, unsigned sreg);
/* Host pointer to the start of the code page holding linear address la (instruction fetch,
 * with permission checks and #PF), its guest-physical address in *paddr; NULL if not RAM. */
const uint8_t *mmu_fetch_page(struct cpu *c, uint64_t la, uint64_t *paddr);

static inline uint64_t load_host(const uint8_t *p, unsigned size)
{
	switch (size) {
	case 1: return *p;
	case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
	case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
	default: { uint64_t v; memcpy(&v, p, 8); return v; }
	}
}

static inline void store_host(uint8_t *p, unsigned size, uint64_t v)
{
	switch (size) {
	case 1: *p = (uint8_t)v; break;
	case 2: { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); break; }
	case 4: { uint32_t x = (uint32_t)v; memcpy(p, &x, 4); break; }
	default: memcpy(p, &v, 8); break;
	}
}

/* The per-access fast path: 64-bit mode (no segment checks) and a TLB hit within one page. */
static inline uint64_t mem_read(struct cpu *c, unsigned seg, uint64_t off, unsigned size)
{
	if (likely(!c->seg_checks)) {
		uint64_t la = c->sc[seg].base + off;
		const struct tlb_entry *e = &c->tlb[c->cpl == 3][(la >> 12) & (TLB_SIZE - 1)];
		if (likely(e->tag_r == (la & ~0xfffull) && (la & 0xfff) + size <= 0x1000))
			return load_host((const uint8_t *)(uintptr_t)(la + e->addend), size);
	}
	return mem_read_slow(c, seg, off, size);
}

static inline void mem_write(struct cpu *c, unsigned seg, uint64_t off, unsigned size, uint64_t val)
{
	if (likely(!c->seg_checks)) {
		uint64_t la = c->sc[seg].base + off;
		const struct tlb_entry *e = &c->tlb[c->cpl == 3][(la >> 12) & (TLB_SIZE - 1)];
		if (likely(e->tag_w == (la & ~0xfffull) && (la & 0xfff) + size <= 0x1000)) {
			store_host((uint8_t *)(uintptr_t)(la + e->addend), size, val);
			return;
		}
	}
	mem_write_slow(c, seg, off, size, val);
}

/* Computes the effective address (offset within the segment) of the insn's memory operand. */
static inline uint64_t insn_ea(struct cpu *c, const struct insn *i)
{
	uint64_t ea = (uint64_t)i->mem.disp;
	if (i->mem.base != MEM_NOREG)
		ea += i->mem.base == MEM_RIP ? c->next_rip : c->s.gpr[i->mem.base];
	if (i->mem.index != MEM_NOREG)
		ea += c->s.gpr[i->mem.index] * i->mem.scale;
	return ea & size_mask(i->asize);
}

/* ---- generic operand access for handlers ---- */
static inline uint64_t op_get(struct cpu *c, const struct insn *i, int n)
{
	const struct operand *o = &i->op[n];
	switch (o->kind) {
	case OPK_GPR: return gpr_get(c, o->reg, o->size);
	case OPK_MEM: return mem_read(c, i->mem.seg, insn_ea(c, i), o->size);
	case OPK_IMM: return i->imm; /* already extended as the encoding says */
	default: return 0;
	}
}

static inline void op_set(struct cpu *c, const struct insn *i, int n, uint64_t v)
{
	const struct operand *o = &i->op[n];
	if (o->kind == OPK_GPR)
		gpr_set(c, o->reg, o->size, v);
	else
		mem_write(c, i->mem.seg, insn_ea(c, i), o->size, v);
}

/* ---- flags (flags.c) ---- */
uint64_t flags_get(struct cpu *c);            /* full RFLAGS, arithmetic bits materialized */
void flags_set(struct cpu *c, uint64_t value); /* writes RFLAGS as is (callers apply masks) */
bool flag_cf_slow(struct cpu *c);
static inline bool flag_cf(struct cpu *c);
bool flag_zf(struct cpu *c);
bool flag_sf(struct cpu *c);
bool flag_of(struct cpu *c);
bool flag_pf(struct cpu *c);
bool flag_af(struct cpu *c);
/* Condition code 0..15 as in Jcc/SETcc/CMOVcc (O, NO, B, AE, E, NE, BE, A, S, NS, P, NP, L, GE, LE, G). */
bool cond_eval(struct cpu *c, unsigned cc);

/* cond_eval for a compile-time condition code: the conditions the common lazy records answer
 * directly (ZF and SF of any record; everything after CMP/SUB and logic ops) are inlined, the rest
 * goes to cond_eval. Values shifted left by 64 - 8 * size compare like the size-bit values they
 * hold, signed and unsigned, so no masking or sign extension is needed. */
static inline __attribute__((always_inline)) bool cond_fast(struct cpu *c, unsigned cc)
{
	const struct lazy_flags *f = &c->lf;
	unsigned op = f->op, sh = 64 - 8 * f->size, neg = cc & 1;
	if (op == LF_NONE)
		return cond_eval(c, cc);
	switch (cc >> 1) {
	case 2: return (f->res == 0) ^ neg;              /* E: every record's res is masked */
	case 4: return ((f->res << sh) >> 63) ^ neg;     /* S */
	default: break;
	}
	if (op == LF_SUB) {
		uint64_t a = f->a << sh, b = f->b << sh;
		switch (cc >> 1) {
		case 1: return (a < b) ^ neg;                    /* B */
		case 3: return (a <= b) ^ neg;                   /* BE */
		case 6: return ((int64_t)a < (int64_t)b) ^ neg;  /* L */
		case 7: return ((int64_t)a <= (int64_t)b) ^ neg; /* LE */
		default: break;
		}
	} else if (op == LF_LOGIC) {
		/* CF = OF = 0 */
		bool sf = (f->res << sh) >> 63, zf = f->res == 0;
		switch (cc >> 1) {
		case 0:
		case 1: return neg;                  /* O, B */
		case 3: return zf ^ neg;             /* BE */
		case 6: return sf ^ neg;             /* L */
		case 7: return (zf || sf) ^ neg;     /* LE */
		default: break;
		}
	}
	return cond_eval(c, cc);
}

/* CF, inline (INC/DEC and ADC/SBB read it often); flag_cf_slow for other records. */
static inline bool flag_cf(struct cpu *c)
{
	const struct lazy_flags *f = &c->lf;
	unsigned sh = 64 - 8 * f->size;
	switch (f->op) {
	case LF_NONE: return c->s.rflags & F_CF;
	case LF_SUB: return (f->a << sh) < (f->b << sh);
	case LF_SBB: return f->cin ? (f->a << sh) <= (f->b << sh) : (f->a << sh) < (f->b << sh);
	case LF_ADD: return (f->res << sh) < (f->a << sh);
	case LF_ADC: return f->cin ? (f->res << sh) <= (f->a << sh) : (f->res << sh) < (f->a << sh);
	case LF_LOGIC: return false;
	case LF_INC:
	case LF_DEC: return f->cin;
	default: return flag_cf_slow(c);
	}
}

static inline void lazy_set(struct cpu *c, enum lazy_op op, unsigned size, uint64_t res, uint64_t a, uint64_t b)
{
	c->lf.op = op;
	c->lf.size = size;
	c->lf.res = res & size_mask(size);
	c->lf.a = a;
	c->lf.b = b;
}

/* Sets the six arithmetic flags eagerly (for instructions whose flags do not fit a lazy op):
 * bits outside F_ARITH in value are ignored. */
static inline void flags_set_arith(struct cpu *c, uint32_t value)
{
	if (c->lf.op != LF_NONE)
		flags_get(c); /* materializes into s.rflags and sets LF_NONE */
	c->s.rflags = (c->s.rflags & ~(uint64_t)F_ARITH) | (value & F_ARITH);
}

static inline bool parity8(uint64_t v)
{
	return !__builtin_parity((unsigned)(v & 0xff)); /* PF = even number of set bits */
}

/* ---- stack (stack.c) ---- */
void push(struct cpu *c, unsigned size, uint64_t v);
uint64_t pop(struct cpu *c, unsigned size);

/* ---- segments and modes (seg.c) ---- */
/* Loads a data/stack segment register by selector with all protected-mode checks; raises faults. */
void seg_load(struct cpu *c, unsigned sreg, uint16_t sel);
/* Loads a segment register in real/VM86 mode (base = sel << 4). */
void seg_load_real(struct cpu *c, unsigned sreg, uint16_t sel);
/* Reads the 8-byte descriptor for sel from the GDT/LDT: false if past the table limit. */
bool desc_read(struct cpu *c, uint16_t sel, uint64_t *desc);
/* Fills a cpu_seg's hidden part from a descriptor. */
void desc_to_seg(uint64_t desc, uint16_t sel, struct cpu_seg *s);
/* Recomputes mode, cpl, code/stack size after CR0/EFER/CS/SS/RFLAGS.VM change. */
void cpu_mode_changed(struct cpu *c);

/* ---- I/O (io.c) ---- */
/* Checks IOPL and the TSS I/O bitmap (SDM vol. 1 §19.5); raises #GP(0) when not permitted. */
void io_check(struct cpu *c, uint16_t port, unsigned size);

/* ---- registration of handlers (decode.c) ----
 * Each family file has an init function (listed in decode.c) that registers a handler for each
 * Zydis mnemonic it implements. A selector, when given, runs at decode time and may pick a
 * more specific handler or fill insn.sub; it returns NULL to make the encoding #UD. */
#include <Zydis/Zydis.h>
typedef insn_fn (*insn_select_fn)(struct insn *i, const ZydisDecodedInstruction *zi,
				  const ZydisDecodedOperand *zo);
void insn_register(ZydisMnemonic m, insn_fn fn, insn_select_fn sel, uint8_t flags);

/* family init functions */
void alu_init(void);
void shift_init(void);
void muldiv_init(void);
void bitops_init(void);
void string_init(void);
void stack_init(void);
void branch_init(void);
void mov_init(void);
void system_init(void);
void x87_init(void);
void sse_init(void);
void sse3_init(void); /* sse3.c: SSE3 and SSSE3 */
void sse4_init(void); /* sse4.c: SSE4.1 and SSE4.2 */
void mmx_init(void);
void seg_init(void);  /* seg.c: MOV Sreg, LDS.., LAR/LSL/VERR/VERW, ARPL, LLDT/LTR.. */
void far_init(void);  /* far.c: far JMP/CALL/RET, IRET, INT n */

/* ---- code cache (exec.c) ---- */
void code_invalidate_phys(struct cpu *c, uint64_t paddr, uint64_t len);
/* True when cached blocks were decoded from guest-physical page ppage (4 KiB aligned). */
bool code_page_has_code(struct cpu *c, uint64_t ppage);
/* Ends the current block after this instruction (mode changes, STI, writes to code ...). */
static inline void cpu_end_block(struct cpu *c)
{
	c->exit_block = 1;
}

/* ---- MSRs and CPUID (msr.c, cpuid.c) ---- */
bool msr_read(struct cpu *c, uint32_t msr, uint64_t *val);
bool msr_write(struct cpu *c, uint32_t msr, uint64_t val);
void cpuid_query(struct cpu *c, uint32_t leaf, uint32_t sub, uint32_t out[4]);
uint64_t cpu_rdtsc(struct cpu *c);

#endif
