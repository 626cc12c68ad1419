/*
 * Stack instructions: PUSH/POP (registers, memory, immediates, segment registers), PUSHF/POPF,
 * PUSHA/POPA, ENTER and LEAVE, plus the push()/pop() primitives every family uses.
 *
 * The stack pointer's width is the stack-address size (c->stack_size: SS.B, or 8 in 64-bit mode),
 * independent of the operand size that says how many bytes move (SDM vol. 1 §6.2.3). Every
 * instruction reads or writes the stack before it commits RSP, so a fault leaves RSP as it was.
 * PUSH/POP of a 64-bit register in 64-bit mode get their own handlers: they are among the most
 * frequent instructions in compiled code.
 */
#include "core.h"

static inline uint64_t sp_get(struct cpu *c)
{
	return c->s.gpr[R_RSP] & size_mask(c->stack_size);
}

/* Writes SP, ESP or RSP according to the stack-address size. */
static inline void sp_set(struct cpu *c, uint64_t v)
{
	gpr_set(c, R_RSP, c->stack_size, v);
}

void push(struct cpu *c, unsigned size, uint64_t v)
{
	uint64_t sp = (c->s.gpr[R_RSP] - size) & size_mask(c->stack_size);
	mem_write(c, S_SS, sp, size, v);
	sp_set(c, sp);
}

uint64_t pop(struct cpu *c, unsigned size)
{
	uint64_t sp = sp_get(c);
	uint64_t v = mem_read(c, S_SS, sp, size);
	sp_set(c, sp + size);
	return v;
}

static bool real_or_vm86(const struct cpu *c)
{
	return c->mode == CPU_MODE_REAL || c->mode == CPU_MODE_VM86;
}

static unsigned iopl(const struct cpu *c)
{
	return (c->s.rflags & F_IOPL) >> F_IOPL_SHIFT;
}

/* ---- PUSH ---- */

static void push_r64(struct cpu *c, const struct insn *i)
{
	uint64_t sp = c->s.gpr[R_RSP] - 8;
	mem_write(c, S_SS, sp, 8, c->s.gpr[i->op[0].reg]);
	c->s.gpr[R_RSP] = sp;
}

/* Register, memory and immediate forms: the value is read before RSP moves (PUSH RSP pushes
 * the old value, PUSH [RSP+8] addresses with the old RSP). */
static void push_op(struct cpu *c, const struct insn *i)
{
	push(c, i->osize, op_get(c, i, 0));
}

/*
 * PUSH Sreg with a 32- or 64-bit operand size moves RSP by the operand size but writes only the
 * 16-bit selector, leaving the rest of the slot as it was, as recent Intel processors do
 * (SDM vol. 2B, PUSH: "Operation" notes).
 */
static void push_sreg(struct cpu *c, const struct insn *i)
{
	uint64_t sp = (c->s.gpr[R_RSP] - i->osize) & size_mask(c->stack_size);
	if (i->osize > 2)
		mem_probe_write(c, S_SS, sp, i->osize);
	mem_write(c, S_SS, sp, 2, c->s.seg[i->op[0].reg].sel);
	sp_set(c, sp);
}

static insn_fn push_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	switch (i->op[0].kind) {
	case OPK_SEG:
		return push_sreg;
	case OPK_GPR:
		if (zi->machine_mode == ZYDIS_MACHINE_MODE_LONG_64 && i->osize == 8)
			return push_r64;
		return push_op;
	case OPK_MEM:
	case OPK_IMM:
		return push_op;
	default:
		return NULL;
	}
}

/* ---- POP ---- */

static void pop_r64(struct cpu *c, const struct insn *i)
{
	uint64_t v = mem_read(c, S_SS, c->s.gpr[R_RSP], 8);
	c->s.gpr[R_RSP] += 8;
	c->s.gpr[i->op[0].reg] = v; /* POP RSP: the loaded value wins over the increment */
}

static void pop_reg(struct cpu *c, const struct insn *i)
{
	uint64_t v = pop(c, i->osize);
	gpr_set(c, i->op[0].reg, i->osize, v);
}

/* POP m: the address is computed with the already incremented RSP (SDM vol. 2B, POP), but RSP
 * must not change if the write faults. */
static void pop_mem(struct cpu *c, const struct insn *i)
{
	uint64_t sp = sp_get(c);
	uint64_t v = mem_read(c, S_SS, sp, i->osize);
	uint64_t old = c->s.gpr[R_RSP];
	sp_set(c, sp + i->osize);
	uint64_t ea = insn_ea(c, i);
	uint64_t new_rsp = c->s.gpr[R_RSP];
	c->s.gpr[R_RSP] = old;
	mem_write(c, i->mem.seg, ea, i->osize, v);
	c->s.gpr[R_RSP] = new_rsp;
}

/* POP Sreg: the selector is loaded with all its checks before RSP moves. POP SS inhibits
 * interrupts until after the next instruction (SDM vol. 3 §6.8.3). */
static void pop_sreg(struct cpu *c, const struct insn *i)
{
	unsigned sreg = i->op[0].reg;
	unsigned width = c->stack_size;
	uint64_t sp = sp_get(c);
	uint16_t sel = (uint16_t)mem_read(c, S_SS, sp, i->osize);
	if (real_or_vm86(c))
		seg_load_real(c, sreg, sel);
	else
		seg_load(c, sreg, sel);
	gpr_set(c, R_RSP, width, sp + i->osize);
	if (sreg == S_SS)
		c->intr_shadow = 1;
}

static insn_fn pop_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	switch (i->op[0].kind) {
	case OPK_SEG:
		if (i->op[0].reg == S_CS)
			return NULL;
		if (i->op[0].reg == S_SS)
			i->flags |= INSN_ENDS_BLOCK;
		return pop_sreg;
	case OPK_GPR:
		if (zi->machine_mode == ZYDIS_MACHINE_MODE_LONG_64 && i->osize == 8)
			return pop_r64;
		return pop_reg;
	case OPK_MEM:
		return pop_mem;
	default:
		return NULL;
	}
}

/* ---- PUSHF / POPF (SDM vol. 2B, PUSHF/PUSHFD/PUSHFQ and POPF/POPFD/POPFQ) ---- */

static void pushf(struct cpu *c, const struct insn *i)
{
	if (c->mode == CPU_MODE_VM86 && iopl(c) < 3)
		cpu_gp(c, 0);
	/* VM and RF read as zero in the pushed image. */
	push(c, i->osize, flags_get(c) & ~(uint64_t)(F_VM | F_RF));
}

static void popf(struct cpu *c, const struct insn *i)
{
	if (c->mode == CPU_MODE_VM86 && iopl(c) < 3)
		cpu_gp(c, 0);
	unsigned n = i->osize;
	uint64_t sp = sp_get(c);
	uint64_t v = mem_read(c, S_SS, sp, n);
	uint64_t old = flags_get(c);

	/* VM, VIF and VIP are never loaded; IOPL only at CPL 0 (VM86 counts as CPL 3); IF only
	 * when CPL <= IOPL. Real mode behaves as CPL 0. */
	uint64_t mask = F_ARITH | F_TF | F_IF | F_DF | F_IOPL | F_NT | F_AC | F_ID;
	if (c->mode == CPU_MODE_VM86) {
		mask &= ~(uint64_t)F_IOPL;
	} else if (c->mode != CPU_MODE_REAL) {
		if (c->cpl > 0)
			mask &= ~(uint64_t)F_IOPL;
		if (c->cpl > iopl(c))
			mask &= ~(uint64_t)F_IF;
	}
	if (n == 2)
		mask &= 0xffff;
	uint64_t nf = (old & ~mask) | (v & mask);
	if (n != 2)
		nf &= ~(uint64_t)F_RF;
	sp_set(c, sp + n);
	flags_set(c, nf);
	/* A newly set IF or TF, or a change of AC, must be seen before the next instruction. */
	if ((nf & ~old & (F_IF | F_TF)) || ((nf ^ old) & F_AC))
		cpu_end_block(c);
}

/* ---- PUSHA / POPA (not in 64-bit mode) ---- */

static void pusha(struct cpu *c, const struct insn *i)
{
	unsigned n = i->osize;
	uint64_t mask = size_mask(c->stack_size);
	uint64_t sp = sp_get(c);
	uint64_t orig_sp = c->s.gpr[R_RSP];
	for (unsigned r = R_RAX; r <= R_RDI; r++) {
		sp = (sp - n) & mask;
		mem_write(c, S_SS, sp, n, r == R_RSP ? orig_sp : c->s.gpr[r]);
	}
	sp_set(c, sp);
}

static void popa(struct cpu *c, const struct insn *i)
{
	unsigned n = i->osize;
	uint64_t mask = size_mask(c->stack_size);
	uint64_t sp = sp_get(c);
	uint64_t v[8];
	for (int r = R_RDI; r >= R_RAX; r--) {
		v[r] = mem_read(c, S_SS, sp, n);
		sp = (sp + n) & mask;
	}
	for (unsigned r = R_RAX; r <= R_RDI; r++)
		if (r != R_RSP)
			gpr_set(c, r, n, v[r]);
	sp_set(c, sp);
}

/* PUSHA/POPA are invalid in 64-bit mode (the decoder already rejects 60/61 there). */
static insn_fn pusha_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	return zi->machine_mode == ZYDIS_MACHINE_MODE_LONG_64 ? NULL : pusha;
}

static insn_fn popa_select(struct insn *i, const ZydisDecodedInstruction *zi, const ZydisDecodedOperand *zo)
{
	return zi->machine_mode == ZYDIS_MACHINE_MODE_LONG_64 ? NULL : popa;
}

/* ---- ENTER / LEAVE (SDM vol. 2A, ENTER; AMD APM vol. 3, ENTER) ---- */

/*
 * ENTER imm16, imm8: push rBP, copy level-1 frame pointers from the enclosing frame, push the
 * new frame pointer, then allocate imm16 bytes. Frame-pointer arithmetic runs at the stack-address
 * size; each copied slot and the new rBP are operand-size wide, the frame pointer being the whole
 * register after the first push (upper ESP bits included on a 16-bit stack). The final stack
 * pointer is probed for a write as the processor does. All stack traffic happens before RSP/RBP
 * change, so a fault leaves both registers intact.
 */
static void enter(struct cpu *c, const struct insn *i)
{
	unsigned n = i->osize;
	unsigned level = i->imm2 & 31;
	uint64_t alloc = i->imm & 0xffff;
	uint64_t mask = size_mask(c->stack_size);
	uint64_t sp = (sp_get(c) - n) & mask;

	mem_write(c, S_SS, sp, n, c->s.gpr[R_RBP]);
	uint64_t frame = (c->s.gpr[R_RSP] & ~mask) | sp;
	if (level > 0) {
		uint64_t bp = c->s.gpr[R_RBP] & mask;
		for (unsigned k = 1; k < level; k++) {
			bp = (bp - n) & mask;
			uint64_t v = mem_read(c, S_SS, bp, n);
			sp = (sp - n) & mask;
			mem_write(c, S_SS, sp, n, v);
		}
		sp = (sp - n) & mask;
		mem_write(c, S_SS, sp, n, frame);
	}
	sp = (sp - alloc) & mask;
	mem_probe_write(c, S_SS, sp, n);
	gpr_set(c, R_RBP, n, frame);
	sp_set(c, sp);
}

static void leave(struct cpu *c, const struct insn *i)
{
	unsigned n = i->osize;
	uint64_t sp = c->s.gpr[R_RBP] & size_mask(c->stack_size);
	uint64_t v = mem_read(c, S_SS, sp, n);
	sp_set(c, sp + n);
	gpr_set(c, R_RBP, n, v);
}

void stack_init(void)
{
	insn_register(ZYDIS_MNEMONIC_PUSH, push_op, push_select, 0);
	insn_register(ZYDIS_MNEMONIC_POP, pop_reg, pop_select, 0);
	insn_register(ZYDIS_MNEMONIC_PUSHF, pushf, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_PUSHFD, pushf, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_PUSHFQ, pushf, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_POPF, popf, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_POPFD, popf, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_POPFQ, popf, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_PUSHA, pusha, pusha_select, 0);
	insn_register(ZYDIS_MNEMONIC_PUSHAD, pusha, pusha_select, 0);
	insn_register(ZYDIS_MNEMONIC_POPA, popa, popa_select, 0);
	insn_register(ZYDIS_MNEMONIC_POPAD, popa, popa_select, 0);
	insn_register(ZYDIS_MNEMONIC_ENTER, enter, NULL, 0);
	insn_register(ZYDIS_MNEMONIC_LEAVE, leave, NULL, 0);
}
