/*
 * Raising exceptions and delivering interrupts and exceptions through the IVT or the IDT
 * (SDM vol. 3 ch. 6: §6.12 protected mode, §6.14 IA-32e mode, §20.1.4 real mode; §20.3 leaving
 * virtual-8086 mode through an interrupt; vol. 2 INT n pseudo-code for the exact check order).
 *
 * cpu_deliver() builds the whole frame before it commits anything: a fault while reading the IDT,
 * the TSS or the new stack leaves the registers as they were, so the run loop (exec.c) can turn it
 * into #DF or a triple fault by the rules of §6.15 table 6-5.
 *
 * Not modelled: task gates (a task switch is not implemented; an IDT task gate raises #GP with the
 * IDT error code), the CR4.VME/PVI interrupt redirection of virtual-8086 mode.
 */
#include "seg.h"

/* Real mode: a 4-byte IVT entry (offset, segment); FLAGS, CS, IP pushed (SDM vol. 3 §20.1.4). */
static void deliver_real(struct cpu *c, int vec, uint64_t ret_rip)
{
	if ((uint32_t)vec * 4 + 3 > c->s.idtr.limit)
		cpu_gp(c, 0);
	uint32_t entry = (uint32_t)lin_read(c, (uint32_t)(c->s.idtr.base + vec * 4), 4, true);
	uint64_t flags = flags_get(c);
	struct stk st;
	stk_init(c, &st, &c->s.seg[S_SS], c->s.gpr[R_RSP], c->stack_size, true, 0);
	stk_push(c, &st, 2, flags);
	stk_push(c, &st, 2, c->s.seg[S_CS].sel);
	stk_push(c, &st, 2, ret_rip);
	c->s.gpr[R_RSP] = stk_rsp(&st, c->s.gpr[R_RSP]);
	flags_set(c, flags & ~(uint64_t)(F_IF | F_TF | F_AC));
	seg_load_real(c, S_CS, entry >> 16);
	c->s.rip = c->next_rip = entry & 0xffff;
}

/* Checks the code segment a gate points to (shared by legacy and long mode). */
static void gate_target(struct cpu *c, uint16_t sel, uint32_t ext, uint64_t *d, uint64_t *la)
{
	uint32_t err = (sel & 0xfffc) | ext;
	if (!(sel & 0xfffc))
		cpu_gp(c, ext);
	if (!desc_read_la(c, sel, d, la))
		cpu_gp(c, err);
	if (!desc_code(*d) || desc_dpl(*d) > c->cpl)
		cpu_gp(c, err);
	if (!desc_p(*d))
		cpu_raise(c, EXC_NP, err);
}

/* Reads len bytes at offset off of the current TSS; #TS(TR) beyond its limit. */
static uint64_t tss_read(struct cpu *c, uint32_t off, unsigned len, uint32_t ext)
{
	const struct cpu_seg *tr = &c->s.seg[S_TR];
	if (!(tr->attr & SEG_ATTR_P) || off + len - 1 > tr->limit)
		cpu_raise(c, EXC_TS, (tr->sel & 0xfffc) | ext);
	uint64_t la = tr->base + off;
	return lin_read(c, cpu_long_mode(c) ? la : (uint32_t)la, len, true);
}

/* Protected mode and virtual-8086 mode through a 16- or 32-bit interrupt or trap gate. */
static void deliver_prot(struct cpu *c, int vec, bool has_err, uint32_t err, bool is_soft, uint64_t ret_rip)
{
	uint32_t ext = !is_soft;
	uint32_t idt_err = (uint32_t)vec * 8 + 2 + ext;
	if ((uint32_t)vec * 8 + 7 > c->s.idtr.limit)
		cpu_gp(c, idt_err);
	uint64_t g = lin_read(c, (uint32_t)(c->s.idtr.base + vec * 8), 8, true);
	unsigned t = desc_type(g);
	if (desc_s(g) || !(t == DT_TASK || t == DT_INT16 || t == DT_TRAP16 || t == DT_INT || t == DT_TRAP))
		cpu_gp(c, idt_err);
	if (is_soft && desc_dpl(g) < c->cpl)
		cpu_gp(c, (uint32_t)vec * 8 + 2);
	if (!desc_p(g))
		cpu_raise(c, EXC_NP, idt_err);
	if (t == DT_TASK)
		task_switch(c, idt_err);

	unsigned gsize = (t & 8) ? 4 : 2;
	uint16_t sel = gate_sel(g);
	uint32_t off = gsize == 4 ? gate_off(g) : (uint16_t)g;
	uint64_t cs, cs_la;
	gate_target(c, sel, ext, &cs, &cs_la);
	unsigned dpl = desc_dpl(cs);
	bool vm = c->s.rflags & F_VM;
	bool inner = !desc_conforming(cs) && dpl < c->cpl;
	if ((vm && !inner) || (vm && dpl != 0))
		cpu_gp(c, (sel & 0xfffc) | ext);
	unsigned new_cpl = inner ? dpl : c->cpl;

	struct stk st;
	struct cpu_seg nss;
	uint64_t ss_desc = 0, ss_la = 0;
	uint64_t old_rsp = c->s.gpr[R_RSP];
	if (inner) {
		uint16_t ss;
		uint32_t sp;
		if (c->s.seg[S_TR].attr & 8) { /* 32-bit TSS: ESPn at 4 + 8n, SSn at 8 + 8n */
			sp = (uint32_t)tss_read(c, 4 + dpl * 8, 4, ext);
			ss = (uint16_t)tss_read(c, 8 + dpl * 8, 2, ext);
		} else { /* 16-bit TSS: SPn at 2 + 4n, SSn at 4 + 4n */
			sp = (uint16_t)tss_read(c, 2 + dpl * 4, 2, ext);
			ss = (uint16_t)tss_read(c, 4 + dpl * 4, 2, ext);
		}
		seg_check_ss(c, ss, dpl, EXC_TS, ext, &ss_desc, &ss_la);
		desc_to_seg(ss_desc | (1ull << 40), ss, &nss);
		stk_init(c, &st, &nss, sp, (nss.attr & SEG_ATTR_DB) ? 4 : 2, true, (ss & 0xfffc) | ext);
	} else {
		stk_init(c, &st, &c->s.seg[S_SS], old_rsp, c->stack_size, c->cpl < 3, ext);
	}
	if (off > desc_limit(cs))
		cpu_gp(c, ext);

	uint64_t flags = flags_get(c);
	if (vm) {
		stk_push(c, &st, gsize, c->s.seg[S_GS].sel);
		stk_push(c, &st, gsize, c->s.seg[S_FS].sel);
		stk_push(c, &st, gsize, c->s.seg[S_DS].sel);
		stk_push(c, &st, gsize, c->s.seg[S_ES].sel);
	}
	if (inner) {
		stk_push(c, &st, gsize, c->s.seg[S_SS].sel);
		stk_push(c, &st, gsize, old_rsp);
	}
	stk_push(c, &st, gsize, flags);
	stk_push(c, &st, gsize, c->s.seg[S_CS].sel);
	stk_push(c, &st, gsize, ret_rip);
	if (has_err)
		stk_push(c, &st, gsize, err);

	/* Commit. */
	desc_mark_accessed(c, cs_la, &cs);
	if (inner) {
		desc_set_accessed(c, ss_la, ss_desc);
		c->s.seg[S_SS] = nss;
		c->s.gpr[R_RSP] = stk_rsp(&st, old_rsp);
	} else {
		c->s.gpr[R_RSP] = stk_rsp(&st, old_rsp);
	}
	if (vm) {
		static const uint8_t regs[] = { S_ES, S_DS, S_FS, S_GS };
		for (unsigned k = 0; k < sizeof(regs); k++)
			seg_set_null(c, regs[k], 0);
	}
	seg_set_cs(c, sel, cs, cs_la, new_cpl);
	uint64_t clear = F_TF | F_NT | F_RF | F_VM | (t & 1 ? 0 : F_IF);
	flags_set(c, flags & ~clear);
	c->s.rip = c->next_rip = off;
	cpu_mode_changed(c);
}

/* IA-32e mode: 16-byte gates to 64-bit code, IST stacks, SS:RSP always pushed (SDM vol. 3 §6.14). */
static void deliver_long(struct cpu *c, int vec, bool has_err, uint32_t err, bool is_soft, uint64_t ret_rip)
{
	uint32_t ext = !is_soft;
	uint32_t idt_err = (uint32_t)vec * 8 + 2 + ext;
	if ((uint32_t)vec * 16 + 15 > c->s.idtr.limit)
		cpu_gp(c, idt_err);
	uint64_t lo = lin_read(c, c->s.idtr.base + vec * 16, 8, true);
	uint64_t hi = lin_read(c, c->s.idtr.base + vec * 16 + 8, 8, true);
	unsigned t = desc_type(lo);
	if (desc_s(lo) || (t != DT_INT && t != DT_TRAP))
		cpu_gp(c, idt_err);
	if (is_soft && desc_dpl(lo) < c->cpl)
		cpu_gp(c, (uint32_t)vec * 8 + 2);
	if (!desc_p(lo))
		cpu_raise(c, EXC_NP, idt_err);

	uint16_t sel = gate_sel(lo);
	uint64_t off = gate_off(lo) | (hi << 32);
	unsigned ist = (lo >> 32) & 7;
	uint64_t cs, cs_la;
	gate_target(c, sel, ext, &cs, &cs_la);
	if (!desc_l(cs) || desc_db(cs))
		cpu_gp(c, (sel & 0xfffc) | ext);
	unsigned dpl = desc_dpl(cs);
	bool inner = !desc_conforming(cs) && dpl < c->cpl;
	unsigned new_cpl = inner ? dpl : c->cpl;

	uint64_t old_rsp = c->s.gpr[R_RSP], rsp = old_rsp;
	if (ist)
		rsp = tss_read(c, 0x24 + (ist - 1) * 8, 8, ext);
	else if (inner)
		rsp = tss_read(c, 4 + dpl * 8, 8, ext);
	if (!is_canonical(off))
		cpu_gp(c, ext);

	static const struct cpu_seg flat = { 0, 0, 0, 0 };
	struct stk st;
	stk_init(c, &st, &flat, rsp & ~0xfull, 8, new_cpl < 3, ext);
	uint64_t flags = flags_get(c);
	stk_push(c, &st, 8, c->s.seg[S_SS].sel);
	stk_push(c, &st, 8, old_rsp);
	stk_push(c, &st, 8, flags);
	stk_push(c, &st, 8, c->s.seg[S_CS].sel);
	stk_push(c, &st, 8, ret_rip);
	if (has_err)
		stk_push(c, &st, 8, err);

	/* Commit: a privilege change loads SS with the null selector at the new CPL. */
	desc_mark_accessed(c, cs_la, &cs);
	if (inner)
		seg_set_null(c, S_SS, new_cpl);
	c->s.gpr[R_RSP] = st.sp;
	seg_set_cs(c, sel, cs, cs_la, new_cpl);
	uint64_t clear = F_TF | F_NT | F_RF | F_VM | (t & 1 ? 0 : F_IF);
	flags_set(c, flags & ~clear);
	c->s.rip = c->next_rip = off;
	cpu_mode_changed(c);
}

void cpu_deliver(struct cpu *c, int vec, bool has_err, uint32_t err, bool is_soft, uint64_t ret_rip)
{
	switch (c->mode) {
	case CPU_MODE_REAL:
		deliver_real(c, vec, ret_rip);
		break;
	case CPU_MODE_LONG64:
	case CPU_MODE_COMPAT:
		deliver_long(c, vec, has_err, err, is_soft, ret_rip);
		break;
	default:
		deliver_prot(c, vec, has_err, err, is_soft, ret_rip);
		break;
	}
	c->halted = 0;
}
