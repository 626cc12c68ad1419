/*
 * Protection internals shared by seg.c (segment loads), except.c (interrupt and exception
 * delivery) and far.c (far control transfers), plus the handlers other families dispatch to
 * for encodings they share a Zydis mnemonic with (MOV Sreg in mov.c; far JMP/CALL/RET in
 * branch.c). Descriptor layout: SDM vol. 3 §3.4.5, gates §5.8.3 / §6.11 / §6.14.1.
 */
#ifndef SOFTVM_CPU_SEG_H
#define SOFTVM_CPU_SEG_H
#include "core.h"

/* ---- descriptor fields (an 8-byte descriptor as a uint64_t) ---- */
static inline uint64_t desc_base(uint64_t d)
{
	return ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000);
}

static inline uint32_t desc_limit(uint64_t d)
{
	uint32_t l = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	return (d & (1ull << 55)) ? (l << 12) | 0xfff : l;
}

static inline uint16_t desc_attr(uint64_t d)
{
	return (uint16_t)(((d >> 40) & 0xff) | ((d >> 40) & 0xf000));
}

static inline unsigned desc_type(uint64_t d) { return (d >> 40) & 0xf; }
static inline bool desc_s(uint64_t d) { return (d >> 44) & 1; }
static inline unsigned desc_dpl(uint64_t d) { return (d >> 45) & 3; }
static inline bool desc_p(uint64_t d) { return (d >> 47) & 1; }
static inline bool desc_l(uint64_t d) { return (d >> 53) & 1; }
static inline bool desc_db(uint64_t d) { return (d >> 54) & 1; }
static inline bool desc_code(uint64_t d) { return desc_s(d) && (d & (1ull << 43)); }
static inline bool desc_conforming(uint64_t d) { return desc_code(d) && (d & (1ull << 42)); }
static inline bool desc_data_w(uint64_t d) { return desc_s(d) && !(d & (1ull << 43)) && (d & (1ull << 41)); }

/* Gate fields (call, interrupt, trap gates; legacy 8-byte form). */
static inline uint16_t gate_sel(uint64_t d) { return (uint16_t)(d >> 16); }
static inline uint32_t gate_off(uint64_t d) { return (uint32_t)((d & 0xffff) | ((d >> 32) & 0xffff0000)); }

/* System descriptor types (S = 0). */
enum {
	DT_TSS16 = 1, DT_LDT = 2, DT_TSS16_BUSY = 3, DT_CALL16 = 4, DT_TASK = 5, DT_INT16 = 6, DT_TRAP16 = 7,
	DT_TSS = 9, DT_TSS_BUSY = 11, DT_CALL = 12, DT_INT = 14, DT_TRAP = 15,
};

static inline bool cpu_long_mode(const struct cpu *c)
{
	return c->mode == CPU_MODE_LONG64 || c->mode == CPU_MODE_COMPAT;
}

static inline bool cpu_protected(const struct cpu *c)
{
	return c->mode != CPU_MODE_REAL && c->mode != CPU_MODE_VM86;
}

static inline bool is_canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/* ---- descriptor tables (seg.c) ---- */
/* Like desc_read, also returning the descriptor's linear address (for the accessed/busy bits). */
bool desc_read_la(struct cpu *c, uint16_t sel, uint64_t *desc, uint64_t *la);
/* 16-byte system descriptor (long mode LDT/TSS/call gate): false if past the table limit. */
bool desc_read16(struct cpu *c, uint16_t sel, uint64_t *lo, uint64_t *hi);
/* Sets the accessed bit of the descriptor at la (no-op if already set). */
void desc_set_accessed(struct cpu *c, uint64_t la, uint64_t desc);
/* Sets the accessed bit and records it in *d: done before the first register is committed, so a
 * fault on the descriptor-table write leaves the instruction restartable. */
static inline void desc_mark_accessed(struct cpu *c, uint64_t la, uint64_t *d)
{
	desc_set_accessed(c, la, *d);
	*d |= 1ull << 40;
}
/* Makes sreg a null (unusable) segment with selector sel. */
void seg_set_null(struct cpu *c, unsigned sreg, uint16_t sel);
/* Loads CS from a code descriptor as the new CS with RPL = cpl and sets its accessed bit.
 * Does not call cpu_mode_changed (the caller does, once all state is in place). */
void seg_set_cs(struct cpu *c, uint16_t sel, uint64_t desc, uint64_t la, unsigned cpl);
/* Checks sel as the stack segment for privilege level cpl (SS load on a privilege change):
 * raises vec(sel) (#TS or #GP) on a bad selector/descriptor, #SS(sel) when not present. */
void seg_check_ss(struct cpu *c, uint16_t sel, unsigned cpl, int vec, uint32_t ext, uint64_t *desc, uint64_t *la);
/* After a return to an outer privilege level: DS/ES/FS/GS that the new CPL may not use become null
 * (SDM vol. 2, RET / IRET "RETURN-TO-OUTER-PRIVILEGE-LEVEL"). */
void seg_drop_inaccessible(struct cpu *c, unsigned cpl);

/* ---- stack accesses on an explicit stack (seg.c) ----
 * Pushes/pops at an SS:RSP that may not be the current one (the inner stack of a privilege
 * change), with the limit checks of that segment; nothing is committed to RSP until the caller
 * does so, so a fault leaves the registers untouched. */
struct stk {
	uint64_t base, sp, mask; /* sp is an offset, wrapped with mask (address size of SS) */
	uint64_t lo, hi;         /* valid offsets (expand-down aware) when check */
	uint32_t err;            /* #SS error code */
	bool check, lm, sys;
};
/* ss: the stack segment (hidden part); ssize: 2, 4 or 8; sys: supervisor access. */
void stk_init(struct cpu *c, struct stk *st, const struct cpu_seg *ss, uint64_t rsp, unsigned ssize, bool sys,
	      uint32_t err);
void stk_push(struct cpu *c, struct stk *st, unsigned size, uint64_t v);
uint64_t stk_pop(struct cpu *c, struct stk *st, unsigned size);
/* Reads at sp + off without popping. */
uint64_t stk_peek(struct cpu *c, struct stk *st, uint64_t off, unsigned size);
/* New RSP value: bits above the stack's width are kept from old_rsp. */
static inline uint64_t stk_rsp(const struct stk *st, uint64_t old_rsp)
{
	return (old_rsp & ~st->mask) | (st->sp & st->mask);
}

/* Task switches are not implemented (far.c): raises #GP(err) where one would start, for IDT task
 * gates (except.c), far JMP/CALL to a TSS or task gate and IRET with NT set. */
__attribute__((noreturn)) void task_switch(struct cpu *c, uint32_t err);

/* ---- handlers other families dispatch to ---- */
void mov_sreg_load(struct cpu *c, const struct insn *i);  /* MOV Sreg, r/m16 (8E) */
void mov_sreg_store(struct cpu *c, const struct insn *i); /* MOV r/m, Sreg (8C) */
void far_jmp(struct cpu *c, const struct insn *i);        /* JMP ptr16:xx / JMP m16:xx */
void far_call(struct cpu *c, const struct insn *i);       /* CALL ptr16:xx / CALL m16:xx */
void far_ret(struct cpu *c, const struct insn *i);        /* RETF / RETF imm16 (CA, CB) */
#endif
