/*
 * Far control transfers: far JMP, far CALL (directly and through call gates), far RET, IRET in
 * every mode, and INT n / INT3 / INTO / INT1 (SDM vol. 2 pages of those instructions; vol. 3 §5.8
 * call gates, §6.14.3 IRET in IA-32e mode, §20.3 returning to virtual-8086 mode).
 *
 * Like except.c, every check and every stack access happens before the first register is
 * committed, so a fault leaves the instruction restartable.
 *
 * Not modelled: task switches (far JMP/CALL to a TSS or task gate and IRET with NT set raise #GP,
 * see task_switch()), the CR4.VME extensions of virtual-8086 mode (VIF/VIP handling of IRET/INT).
 */
#include "seg.h"

/* A task switch would happen here (SDM vol. 3 §7.3). We do not implement one: #GP(err). */
void task_switch(struct cpu *c, uint32_t err)
{
	cpu_gp(c, err);
}

/* True when the code descriptor d runs as 64-bit code (IA-32e mode, L = 1). */
static bool code64(const struct cpu *c, uint64_t d)
{
	return cpu_long_mode(c) && desc_l(d);
}

/* The new RIP must be canonical (64-bit target) or within the new CS limit: #GP(0). */
static void check_rip(struct cpu *c, uint64_t d, uint64_t rip)
{
	if (code64(c, d) ? !is_canonical(rip) : rip > desc_limit(d))
		cpu_gp(c, 0);
}

static uint64_t read_code_desc(struct cpu *c, uint16_t sel, uint64_t *la)
{
	uint64_t d;
	if (!(sel & 0xfffc))
		cpu_gp(c, 0);
	if (!desc_read_la(c, sel, &d, la))
		cpu_gp(c, sel & 0xfffc);
	return d;
}

/* A direct far JMP/CALL to a code segment (SDM vol. 2 JMP "CONFORMING/NONCONFORMING-CODE-SEGMENT"). */
static void check_code_direct(struct cpu *c, uint16_t sel, uint64_t d)
{
	uint32_t err = sel & 0xfffc;
	if (desc_conforming(d) ? desc_dpl(d) > c->cpl : ((sel & 3) > c->cpl || desc_dpl(d) != c->cpl))
		cpu_gp(c, err);
	if (!desc_p(d))
		cpu_raise(c, EXC_NP, err);
	if (cpu_long_mode(c) && desc_l(d) && desc_db(d))
		cpu_gp(c, err);
}

/* The target of a far pointer operand: ptr16:xx immediate or m16:xx in memory. */
static void far_operand(struct cpu *c, const struct insn *i, uint16_t *sel, uint64_t *off)
{
	if (i->op[0].kind == OPK_PTR) {
		*off = i->imm & size_mask(i->osize);
		*sel = (uint16_t)i->imm2;
		return;
	}
	if (i->op[0].kind != OPK_MEM)
		cpu_ud(c);
	uint64_t ea = insn_ea(c, i);
	*off = mem_read(c, i->mem.seg, ea, i->osize);
	*sel = (uint16_t)mem_read(c, i->mem.seg, (ea + i->osize) & size_mask(i->asize), 2);
}

/* A call gate (legacy 8-byte or IA-32e 16-byte): checks it and its target code segment. */
struct gate {
	uint16_t sel;      /* target code segment */
	uint64_t off;      /* target offset */
	unsigned size;     /* 2, 4 or 8: width of pushed values */
	unsigned nparams;  /* legacy gates: parameter count to copy */
	uint64_t cs, cs_la;
};

static void read_call_gate(struct cpu *c, uint16_t sel, uint64_t d, struct gate *g)
{
	uint32_t err = sel & 0xfffc;
	unsigned t = desc_type(d);
	if (cpu_long_mode(c)) {
		uint64_t lo, hi;
		if (t != DT_CALL || !desc_read16(c, sel, &lo, &hi) || ((hi >> 40) & 0x1f))
			cpu_gp(c, err);
		g->off = gate_off(d) | (hi << 32);
		g->size = 8;
		g->nparams = 0;
	} else {
		g->off = t == DT_CALL ? gate_off(d) : (uint16_t)d;
		g->size = t == DT_CALL ? 4 : 2;
		g->nparams = (d >> 32) & 0x1f;
	}
	if (desc_dpl(d) < c->cpl || (sel & 3) > desc_dpl(d))
		cpu_gp(c, err);
	if (!desc_p(d))
		cpu_raise(c, EXC_NP, err);
	g->sel = gate_sel(d);
	g->cs = read_code_desc(c, g->sel, &g->cs_la);
	uint32_t cerr = g->sel & 0xfffc;
	if (!desc_code(g->cs) || desc_dpl(g->cs) > c->cpl)
		cpu_gp(c, cerr);
	if (cpu_long_mode(c) && (!desc_l(g->cs) || desc_db(g->cs)))
		cpu_gp(c, cerr);
	if (!desc_p(g->cs))
		cpu_raise(c, EXC_NP, cerr);
	check_rip(c, g->cs, g->off);
}

static void commit_cs(struct cpu *c, uint16_t sel, uint64_t d, uint64_t la, unsigned cpl, uint64_t rip)
{
	seg_set_cs(c, sel, d, la, cpl);
	c->next_rip = rip;
	cpu_mode_changed(c);
}

void far_jmp(struct cpu *c, const struct insn *i)
{
	uint16_t sel;
	uint64_t off;
	far_operand(c, i, &sel, &off);
	if (!cpu_protected(c)) {
		if (off > c->s.seg[S_CS].limit)
			cpu_gp(c, 0);
		seg_load_real(c, S_CS, sel);
		c->next_rip = off;
		return;
	}
	uint64_t la, d = read_code_desc(c, sel, &la);
	if (desc_s(d)) {
		if (!desc_code(d))
			cpu_gp(c, sel & 0xfffc);
		check_code_direct(c, sel, d);
		check_rip(c, d, off);
		commit_cs(c, sel, d, la, c->cpl, off);
		return;
	}
	unsigned t = desc_type(d);
	if (t == DT_CALL16 || t == DT_CALL) {
		struct gate g;
		read_call_gate(c, sel, d, &g);
		/* JMP through a call gate never changes privilege: the target must be at CPL. */
		if (!desc_conforming(g.cs) && desc_dpl(g.cs) != c->cpl)
			cpu_gp(c, g.sel & 0xfffc);
		commit_cs(c, g.sel, g.cs, g.cs_la, c->cpl, g.off);
		return;
	}
	if (!cpu_long_mode(c) && (t == DT_TASK || t == DT_TSS16 || t == DT_TSS))
		task_switch(c, sel & 0xfffc);
	cpu_gp(c, sel & 0xfffc);
}

/* CALL through a call gate to a more privileged non-conforming segment: switch to the inner
 * stack from the TSS, push the caller's SS:ESP, copy the parameters (legacy gates), CS:EIP. */
static void call_gate_inner(struct cpu *c, const struct gate *g)
{
	unsigned dpl = desc_dpl(g->cs);
	const struct cpu_seg *tr = &c->s.seg[S_TR];
	uint32_t tr_err = tr->sel & 0xfffc;
	uint64_t old_rsp = c->s.gpr[R_RSP];
	uint16_t old_ss = c->s.seg[S_SS].sel;
	struct stk st;
	struct cpu_seg nss;
	uint64_t ss_desc = 0, ss_la = 0;

	if (!(tr->attr & SEG_ATTR_P))
		cpu_raise(c, EXC_TS, tr_err);
	if (cpu_long_mode(c)) {
		uint32_t o = 4 + dpl * 8;
		if (o + 7 > tr->limit)
			cpu_raise(c, EXC_TS, tr_err);
		uint64_t rsp = lin_read(c, tr->base + o, 8, true);
		static const struct cpu_seg flat = { 0, 0, 0, 0 };
		stk_init(c, &st, &flat, rsp, 8, true, 0);
	} else {
		uint16_t ss;
		uint32_t sp;
		bool tss32 = tr->attr & 8;
		uint32_t o = tss32 ? 4 + dpl * 8 : 2 + dpl * 4;
		if (o + (tss32 ? 5 : 3) > tr->limit)
			cpu_raise(c, EXC_TS, tr_err);
		sp = (uint32_t)lin_read(c, (uint32_t)(tr->base + o), tss32 ? 4 : 2, true);
		ss = (uint16_t)lin_read(c, (uint32_t)(tr->base + o + (tss32 ? 4 : 2)), 2, true);
		seg_check_ss(c, ss, dpl, EXC_TS, 0, &ss_desc, &ss_la);
		desc_to_seg(ss_desc | (1ull << 40), ss, &nss);
		stk_init(c, &st, &nss, sp, (nss.attr & SEG_ATTR_DB) ? 4 : 2, true, ss & 0xfffc);
	}

	stk_push(c, &st, g->size, old_ss);
	stk_push(c, &st, g->size, old_rsp);
	if (g->nparams) {
		struct stk old;
		stk_init(c, &old, &c->s.seg[S_SS], old_rsp, c->stack_size, c->cpl < 3, 0);
		for (int k = (int)g->nparams - 1; k >= 0; k--)
			stk_push(c, &st, g->size, stk_peek(c, &old, (uint64_t)k * g->size, g->size));
	}
	stk_push(c, &st, g->size, c->s.seg[S_CS].sel);
	stk_push(c, &st, g->size, c->next_rip);

	uint64_t cs = g->cs;
	desc_mark_accessed(c, g->cs_la, &cs);
	if (!cpu_long_mode(c))
		desc_mark_accessed(c, ss_la, &ss_desc);
	if (cpu_long_mode(c)) {
		seg_set_null(c, S_SS, dpl);
		c->s.gpr[R_RSP] = st.sp;
	} else {
		c->s.seg[S_SS] = nss;
		c->s.gpr[R_RSP] = stk_rsp(&st, old_rsp);
	}
	commit_cs(c, g->sel, cs, g->cs_la, dpl, g->off);
}

/* Pushes CS:xIP of the return address on the current stack (same privilege). */
static void push_return(struct cpu *c, unsigned size)
{
	struct stk st;
	stk_init(c, &st, &c->s.seg[S_SS], c->s.gpr[R_RSP], c->stack_size, c->cpl < 3, 0);
	stk_push(c, &st, size, c->s.seg[S_CS].sel);
	stk_push(c, &st, size, c->next_rip);
	c->s.gpr[R_RSP] = stk_rsp(&st, c->s.gpr[R_RSP]);
}

void far_call(struct cpu *c, const struct insn *i)
{
	uint16_t sel;
	uint64_t off;
	far_operand(c, i, &sel, &off);
	if (!cpu_protected(c)) {
		if (off > c->s.seg[S_CS].limit)
			cpu_gp(c, 0);
		push_return(c, i->osize);
		seg_load_real(c, S_CS, sel);
		c->next_rip = off;
		return;
	}
	uint64_t la, d = read_code_desc(c, sel, &la);
	if (desc_s(d)) {
		if (!desc_code(d))
			cpu_gp(c, sel & 0xfffc);
		check_code_direct(c, sel, d);
		check_rip(c, d, off);
		desc_mark_accessed(c, la, &d);
		push_return(c, i->osize);
		commit_cs(c, sel, d, la, c->cpl, off);
		return;
	}
	unsigned t = desc_type(d);
	if (t == DT_CALL16 || t == DT_CALL) {
		struct gate g;
		read_call_gate(c, sel, d, &g);
		if (!desc_conforming(g.cs) && desc_dpl(g.cs) < c->cpl) {
			call_gate_inner(c, &g);
			return;
		}
		desc_mark_accessed(c, g.cs_la, &g.cs);
		push_return(c, g.size);
		commit_cs(c, g.sel, g.cs, g.cs_la, c->cpl, g.off);
		return;
	}
	if (!cpu_long_mode(c) && (t == DT_TASK || t == DT_TSS16 || t == DT_TSS))
		task_switch(c, sel & 0xfffc);
	cpu_gp(c, sel & 0xfffc);
}

/* The code segment a far RET or IRET returns to (SDM vol. 2 RET "PROTECTED-MODE"). */
static uint64_t check_return_cs(struct cpu *c, uint16_t sel, uint64_t *la)
{
	uint32_t err = sel & 0xfffc;
	uint64_t d = read_code_desc(c, sel, la);
	unsigned rpl = sel & 3;
	if (!desc_code(d) || rpl < c->cpl)
		cpu_gp(c, err);
	if (desc_conforming(d) ? desc_dpl(d) > rpl : desc_dpl(d) != rpl)
		cpu_gp(c, err);
	if (!desc_p(d))
		cpu_raise(c, EXC_NP, err);
	if (cpu_long_mode(c) && desc_l(d) && desc_db(d))
		cpu_gp(c, err);
	return d;
}

/* The SS popped by a far RET or IRET returning to privilege rpl: a null SS is allowed only for a
 * return to 64-bit code at CPL < 3. *ss_null is set for that case. */
static void check_return_ss(struct cpu *c, uint16_t ss, unsigned rpl, uint64_t cs, uint64_t *d, uint64_t *la,
			    bool *ss_null)
{
	*ss_null = false;
	if (!(ss & 0xfffc)) {
		if (code64(c, cs) && rpl < 3 && (ss & 3) == rpl) {
			*ss_null = true;
			return;
		}
		cpu_gp(c, 0);
	}
	uint32_t err = ss & 0xfffc;
	if (!desc_read_la(c, ss, d, la))
		cpu_gp(c, err);
	if ((ss & 3) != rpl || !desc_data_w(*d) || desc_dpl(*d) != rpl)
		cpu_gp(c, err);
	if (!desc_p(*d))
		cpu_raise(c, EXC_SS, err);
	desc_mark_accessed(c, *la, d);
}

/* New RSP after a return that loads SS: a 16-bit stack keeps the upper bits of RSP. */
static uint64_t new_rsp(struct cpu *c, uint64_t cs, uint64_t ssd, bool ss_null, uint64_t v)
{
	if (code64(c, cs))
		return v;
	if (!ss_null && desc_db(ssd))
		return (uint32_t)v;
	return (c->s.gpr[R_RSP] & ~0xffffull) | (uint16_t)v;
}

/* Commits SS after a return to an outer level (or an IRETQ). */
static void commit_ss(struct cpu *c, uint16_t ss, uint64_t d, uint64_t la, bool ss_null)
{
	if (ss_null) {
		seg_set_null(c, S_SS, ss);
	} else {
		desc_to_seg(d, ss, &c->s.seg[S_SS]);
	}
	seg_cache_update(c, S_SS);
}

void far_ret(struct cpu *c, const struct insn *i)
{
	unsigned osz = i->osize;
	uint64_t imm = (i->nops && i->op[0].kind == OPK_IMM) ? (uint16_t)i->imm : 0;
	struct stk st;
	stk_init(c, &st, &c->s.seg[S_SS], c->s.gpr[R_RSP], c->stack_size, c->cpl < 3, 0);
	uint64_t rip = stk_pop(c, &st, osz);
	uint16_t sel = (uint16_t)stk_pop(c, &st, osz);

	if (!cpu_protected(c)) {
		if (rip > c->s.seg[S_CS].limit)
			cpu_gp(c, 0);
		st.sp = (st.sp + imm) & st.mask;
		c->s.gpr[R_RSP] = stk_rsp(&st, c->s.gpr[R_RSP]);
		seg_load_real(c, S_CS, sel);
		c->next_rip = rip;
		return;
	}
	uint64_t la, d = check_return_cs(c, sel, &la);
	unsigned rpl = sel & 3;
	check_rip(c, d, rip);
	desc_mark_accessed(c, la, &d);
	if (rpl == c->cpl) {
		st.sp = (st.sp + imm) & st.mask;
		c->s.gpr[R_RSP] = stk_rsp(&st, c->s.gpr[R_RSP]);
		commit_cs(c, sel, d, la, rpl, rip);
		return;
	}
	/* Return to an outer privilege level: the caller's SS:ESP follow the parameters. */
	st.sp = (st.sp + imm) & st.mask;
	uint64_t rsp = stk_pop(c, &st, osz);
	uint16_t ss = (uint16_t)stk_pop(c, &st, osz);
	uint64_t ssd = 0, ssla = 0;
	bool ss_null;
	check_return_ss(c, ss, rpl, d, &ssd, &ssla, &ss_null);
	rsp = new_rsp(c, d, ssd, ss_null, rsp + imm);
	commit_ss(c, ss, ssd, ssla, ss_null);
	c->s.gpr[R_RSP] = rsp;
	seg_set_cs(c, sel, d, la, rpl);
	seg_drop_inaccessible(c, rpl);
	c->next_rip = rip;
	cpu_mode_changed(c);
}

/* ---- IRET ---- */

/* The RFLAGS an IRET at privilege cpl loads from tmp (SDM vol. 2 IRET, "RETURN-TO-SAME-
 * PRIVILEGE-LEVEL"): IF only when CPL <= IOPL, IOPL/VIF/VIP only at CPL 0; VM never here. */
static uint64_t iret_flags(uint64_t old, uint64_t tmp, unsigned osz, unsigned cpl)
{
	uint64_t m = F_ARITH | F_TF | F_DF | F_NT;
	if (osz >= 4)
		m |= F_RF | F_AC | F_ID;
	if (cpl <= ((old & F_IOPL) >> F_IOPL_SHIFT))
		m |= F_IF;
	if (cpl == 0) {
		m |= F_IOPL;
		if (osz >= 4)
			m |= F_VIF | F_VIP;
	}
	return (old & ~m) | (tmp & m) | 2;
}

static void iret_real(struct cpu *c, unsigned osz)
{
	struct stk st;
	stk_init(c, &st, &c->s.seg[S_SS], c->s.gpr[R_RSP], c->stack_size, c->cpl < 3, 0);
	uint64_t rip = stk_pop(c, &st, osz);
	uint16_t sel = (uint16_t)stk_pop(c, &st, osz);
	uint64_t tmp = stk_pop(c, &st, osz);
	if (rip > c->s.seg[S_CS].limit)
		cpu_gp(c, 0);
	uint64_t old = flags_get(c), m;
	if (c->mode == CPU_MODE_VM86) /* IOPL 3 (checked by the caller): VM, IOPL, VIF, VIP stay */
		m = F_ARITH | F_TF | F_IF | F_DF | F_NT | (osz == 4 ? F_RF | F_AC | F_ID : 0);
	else
		m = F_ARITH | F_TF | F_IF | F_DF | F_IOPL | F_NT | (osz == 4 ? F_RF | F_AC | F_ID : 0);
	c->s.gpr[R_RSP] = stk_rsp(&st, c->s.gpr[R_RSP]);
	flags_set(c, (old & ~m) | (tmp & m) | 2);
	seg_load_real(c, S_CS, sel);
	c->next_rip = rip;
	cpu_mode_changed(c);
}

/* IRETD at CPL 0 with VM set in the popped EFLAGS: back to virtual-8086 mode (SDM vol. 2 IRET
 * "RETURN-TO-VIRTUAL-8086-MODE"). */
static void iret_to_vm86(struct cpu *c, struct stk *st, uint64_t rip, uint16_t cs, uint64_t tmp)
{
	uint64_t esp = stk_pop(c, st, 4);
	uint16_t sel[5];
	sel[0] = (uint16_t)stk_pop(c, st, 4); /* SS */
	sel[1] = (uint16_t)stk_pop(c, st, 4); /* ES */
	sel[2] = (uint16_t)stk_pop(c, st, 4); /* DS */
	sel[3] = (uint16_t)stk_pop(c, st, 4); /* FS */
	sel[4] = (uint16_t)stk_pop(c, st, 4); /* GS */
	flags_set(c, (tmp & 0x3f7fd5) | 2);
	static const uint8_t regs[5] = { S_SS, S_ES, S_DS, S_FS, S_GS };
	seg_load_real(c, S_CS, cs);
	for (unsigned k = 0; k < 5; k++)
		seg_load_real(c, regs[k], sel[k]);
	c->s.gpr[R_RSP] = (uint32_t)esp;
	c->next_rip = (uint16_t)rip;
	cpu_mode_changed(c);
}

static void h_iret(struct cpu *c, const struct insn *i)
{
	unsigned osz = i->osize;
	if (c->mode == CPU_MODE_REAL) {
		iret_real(c, osz);
		goto done;
	}
	if (c->mode == CPU_MODE_VM86) {
		/* Without CR4.VME, IRET in virtual-8086 mode is IOPL-sensitive (SDM vol. 3 §20.2.7). */
		if (((c->s.rflags & F_IOPL) >> F_IOPL_SHIFT) != 3)
			cpu_gp(c, 0);
		iret_real(c, osz);
		goto done;
	}
	uint64_t old = flags_get(c);
	if (old & F_NT) {
		if (cpu_long_mode(c))
			cpu_gp(c, 0);
		task_switch(c, (uint16_t)lin_read(c, (uint32_t)c->s.seg[S_TR].base, 2, true) & 0xfffc);
	}
	struct stk st;
	stk_init(c, &st, &c->s.seg[S_SS], c->s.gpr[R_RSP], c->stack_size, c->cpl < 3, 0);
	uint64_t rip = stk_pop(c, &st, osz);
	uint16_t sel = (uint16_t)stk_pop(c, &st, osz);
	uint64_t tmp = stk_pop(c, &st, osz);
	if (osz == 2)
		tmp = (old & ~0xffffull) | (uint16_t)tmp;

	if ((tmp & F_VM) && c->cpl == 0 && osz == 4 && !cpu_long_mode(c)) {
		iret_to_vm86(c, &st, rip, sel, tmp);
		goto done;
	}
	uint64_t la, d = check_return_cs(c, sel, &la);
	unsigned rpl = sel & 3;
	check_rip(c, d, rip);
	desc_mark_accessed(c, la, &d);
	uint64_t flags = iret_flags(old, tmp, osz, c->cpl);
	if (rpl == c->cpl && c->mode != CPU_MODE_LONG64) {
		c->s.gpr[R_RSP] = stk_rsp(&st, c->s.gpr[R_RSP]);
		flags_set(c, flags);
		commit_cs(c, sel, d, la, rpl, rip);
		goto done;
	}
	/* Outer privilege level, or any IRET in 64-bit mode: SS:RSP are popped too. */
	uint64_t rsp = stk_pop(c, &st, osz);
	uint16_t ss = (uint16_t)stk_pop(c, &st, osz);
	uint64_t ssd = 0, ssla = 0;
	bool ss_null;
	check_return_ss(c, ss, rpl, d, &ssd, &ssla, &ss_null);
	rsp = new_rsp(c, d, ssd, ss_null, rsp);
	commit_ss(c, ss, ssd, ssla, ss_null);
	c->s.gpr[R_RSP] = rsp;
	flags_set(c, flags);
	unsigned old_cpl = c->cpl;
	seg_set_cs(c, sel, d, la, rpl);
	if (rpl > old_cpl)
		seg_drop_inaccessible(c, rpl);
	c->next_rip = rip;
	cpu_mode_changed(c);
done:
	/* IRET ends NMI blocking (SDM vol. 3 §6.7.1). */
	c->nmi_blocked = 0;
}

/* ---- software interrupts ---- */

static void h_int(struct cpu *c, const struct insn *i)
{
	/* INT n is IOPL-sensitive in virtual-8086 mode (no CR4.VME redirection). */
	if (c->mode == CPU_MODE_VM86 && ((c->s.rflags & F_IOPL) >> F_IOPL_SHIFT) < 3)
		cpu_gp(c, 0);
	cpu_soft_interrupt(c, (uint8_t)i->imm);
}

static void h_int3(struct cpu *c, const struct insn *i)
{
	cpu_soft_interrupt(c, EXC_BP);
}

static void h_into(struct cpu *c, const struct insn *i)
{
	if (flag_of(c))
		cpu_soft_interrupt(c, EXC_OF);
}

/* INT1 (ICEBP, F1) raises #DB like a hardware event: no gate DPL check (SDM vol. 3 §6.12.1.1). */
static void h_int1(struct cpu *c, const struct insn *i)
{
	if (c->exc_exits & (1u << EXC_DB))
		cpu_soft_interrupt(c, EXC_DB); /* stops the run at the instruction */
	cpu_deliver(c, EXC_DB, false, 0, false, c->next_rip);
	cpu_end_block(c);
}

void far_init(void)
{
	insn_register(ZYDIS_MNEMONIC_IRET, h_iret, NULL, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_IRETD, h_iret, NULL, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_IRETQ, h_iret, NULL, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_INT, h_int, NULL, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_INT3, h_int3, NULL, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_INTO, h_into, NULL, INSN_ENDS_BLOCK);
	insn_register(ZYDIS_MNEMONIC_INT1, h_int1, NULL, INSN_ENDS_BLOCK);
}
