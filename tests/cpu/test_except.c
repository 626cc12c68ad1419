/*
 * Interrupt and exception delivery (except.c) and the returns from it (IRET in far.c): real mode
 * through the IVT, protected mode with a privilege change through the TSS, long mode with IST
 * stacks and IRETQ back to CPL 3, the IDT error codes, #DF and the triple fault.
 */
#include "prot.h"

static struct cpu *c;
static struct cpu_state s;

static void test_real_mode(void)
{
	static const uint8_t code[] = {
		0xcd, 0x21, /* 7c00: int 0x21 */
		0xf6, 0xf3, /* 7c02: div bl (bl = 0: #DE) */
		0xf4,       /* 7c04: hlt */
	};
	static const uint8_t handler21[] = {
		0xb8, 0x34, 0x12, /* 1010: mov ax, 0x1234 */
		0xcf,             /* 1013: iret */
	};
	static const uint8_t handler0[] = {
		0x89, 0xe5,             /* 2000: mov bp, sp */
		0x83, 0x46, 0x00, 0x02, /* 2002: add word [bp], 2 (skip the div) */
		0xcf,                   /* 2006: iret */
	};
	memset(ram, 0, RAM_SIZE);
	cpu_reset(c);
	cpu_get_state(c, &s);
	s.seg[S_CS] = (struct cpu_seg){ 0, 0x9b, 0xffff, 0 };
	s.seg[S_SS] = (struct cpu_seg){ 0, 0x93, 0xffff, 0 };
	s.rip = 0x7c00;
	s.gpr[R_RSP] = 0x8000;
	s.gpr[R_RBX] = 0;
	s.rflags = 0x202 | 0x40000; /* IF, AC: both cleared by delivery, restored by IRET */
	put_code(0x7c00, code, sizeof(code));
	put_code(0x1010, handler21, sizeof(handler21));
	put_code(0x2000, handler0, sizeof(handler0));
	wr16(0x21 * 4, 0x0010);
	wr16(0x21 * 4 + 2, 0x0100);
	wr16(0, 0x0000);
	wr16(2, 0x0200);
	cpu_set_state(c, &s);

	step(c, &s);
	CHECK(s.seg[S_CS].sel == 0x100 && s.seg[S_CS].base == 0x1000 && s.rip == 0x10 && s.gpr[R_RSP] == 0x7ffa,
	      "real mode: int 0x21 vectors through the IVT");
	CHECK(rd16(0x7ffa) == 0x7c02 && rd16(0x7ffc) == 0 && rd16(0x7ffe) == 0x202, "real mode: IP, CS, FLAGS pushed");
	CHECK(!(s.rflags & 0x40200), "real mode: IF and AC cleared");
	step(c, &s);
	step(c, &s);
	CHECK(s.seg[S_CS].sel == 0 && s.rip == 0x7c02 && s.gpr[R_RSP] == 0x8000 && (s.rflags & 0x200) &&
		      (uint16_t)s.gpr[R_RAX] == 0x1234,
	      "real mode: iret returns and restores FLAGS");
	s.rflags = 0x202;
	cpu_set_state(c, &s);
	step(c, &s);
	CHECK(s.seg[S_CS].sel == 0x200 && s.rip == 0 && rd16(0x7ffa) == 0x7c02,
	      "real mode: #DE pushes the address of the faulting div");
	enum cpu_exit e = cpu_run(c, 100);
	cpu_get_state(c, &s);
	CHECK(e == CPU_EXIT_HLT && s.rip == 0x7c05, "real mode: fault handler returns past the div (exit %d)", e);

	/* IVT limit: vector beyond IDTR.limit is #GP. */
	s.idtr.limit = 0x83;
	s.rip = 0x7c00;
	cpu_set_state(c, &s);
	CHECK(step_faults(c, 13, 0), "real mode: int beyond the IVT limit is #GP");
}

/* Protected mode: CPL 3 -> 0 through the TSS, and back with IRETD. */
static void test_prot_privilege(void)
{
	static const uint8_t user[] = {
		0xcd, 0x80,             /* 10000: int 0x80 */
		0x66, 0xb8, 0x10, 0x00, /* 10002: mov ax, 0x10 */
		0x8e, 0xd8,             /* 10006: mov ds, ax (DPL 0 at CPL 3: #GP(0x10)) */
		0xcd, 0x0d,             /* 10008: int 0x0d (gate DPL 0: #GP(0x6a)) */
	};
	static const uint8_t iret[] = { 0xcf }; /* iretd */
	prot32(c, &s, 3);
	put_code(CODE, user, sizeof(user));
	put_code(0x6100, iret, 1);
	wr64(IDT + 0x80 * 8, mkgate(SEL_CODE0, 0x6100, 15, 3, 0)); /* trap gate, DPL 3 */
	wr64(IDT + 13 * 8, mkgate(SEL_CODE0, 0x6000, 14, 0, 0));   /* interrupt gate, DPL 0 */
	wr64(IDT + 0x0d * 8, mkgate(SEL_CODE0, 0x6000, 14, 0, 0));
	s.rflags = 0x202;
	cpu_set_state(c, &s);

	step(c, &s);
	uint32_t sp = STACK0 - 20;
	CHECK(s.seg[S_CS].sel == SEL_CODE0 && s.seg[S_SS].sel == SEL_DATA0 && s.gpr[R_RSP] == sp && s.rip == 0x6100,
	      "int 0x80 from CPL 3: CS:EIP from the gate, SS:ESP from the TSS (esp %#llx)",
	      (unsigned long long)s.gpr[R_RSP]);
	CHECK(rd32(sp) == CODE + 2 && rd32(sp + 4) == (SEL_CODE3 | 3) && rd32(sp + 8) == 0x202 &&
		      rd32(sp + 12) == STACK3 && rd32(sp + 16) == (SEL_DATA3 | 3),
	      "int 0x80: EIP, CS, EFLAGS, ESP, SS on the ring-0 stack");
	CHECK(s.rflags & 0x200, "trap gate keeps IF");
	CHECK(ram[GDT + SEL_DATA0 + 5] & 1, "SS load through the TSS sets the accessed bit");
	step(c, &s);
	CHECK(s.seg[S_CS].sel == (SEL_CODE3 | 3) && s.seg[S_SS].sel == (SEL_DATA3 | 3) && s.gpr[R_RSP] == STACK3 &&
		      s.rip == CODE + 2 && s.seg[S_DS].sel == (SEL_DATA3 | 3),
	      "iretd back to CPL 3 pops SS:ESP");

	step(c, &s);
	step(c, &s);
	CHECK(s.rip == 0x6000 && s.gpr[R_RSP] == STACK0 - 24 && rd32(STACK0 - 24) == SEL_DATA0 &&
		      rd32(STACK0 - 20) == CODE + 6 && !(s.rflags & 0x200),
	      "#GP(0x10) at CPL 3: error code and faulting EIP pushed, IF cleared by the interrupt gate");

	prot32(c, &s, 3);
	put_code(CODE, user, sizeof(user));
	wr64(IDT + 13 * 8, mkgate(SEL_CODE0, 0x6000, 14, 0, 0));
	wr64(IDT + 0x0d * 8, mkgate(SEL_CODE0, 0x6000, 14, 0, 0));
	s.rip = CODE + 8;
	cpu_set_state(c, &s);
	step(c, &s);
	CHECK(s.rip == 0x6000 && rd32(STACK0 - 24) == 0x0d * 8 + 2 && rd32(STACK0 - 20) == CODE + 8,
	      "int 0x0d through a DPL 0 gate at CPL 3: #GP(vector*8+2)");

	prot32(c, &s, 3);
	put_code(CODE, user, sizeof(user));
	wr64(IDT + 0x80 * 8, mkgate(SEL_CODE0, 0x6100, 15, 3, 0) & ~(1ull << 47));
	cpu_set_state(c, &s);
	CHECK(step_faults(c, 11, 0x80 * 8 + 2), "int 0x80 through a not-present gate: #NP(vector*8+2)");
	wr64(TSS + 8, 0);
	wr64(IDT + 0x80 * 8, mkgate(SEL_CODE0, 0x6100, 15, 3, 0));
	CHECK(step_faults(c, 10, 0), "int 0x80 with a null SS0 in the TSS: #TS(0)");
	wr64(TSS + 8, SEL_DATA3);
	CHECK(step_faults(c, 10, SEL_DATA3), "int 0x80 with a DPL 3 SS0 in the TSS: #TS(sel)");
	wr64(TSS + 8, SEL_DATA0);
	wr64(IDT + 0x80 * 8, mkgate(SEL_DATA0, 0x6100, 15, 3, 0));
	CHECK(step_faults(c, 13, SEL_DATA0), "gate to a data segment: #GP(sel)");
	wr64(IDT + 0x80 * 8, mkgate(SEL_CODE0, 0x6100, 5, 3, 0) | (9ull << 40) /* type 13: reserved */);
	CHECK(step_faults(c, 13, 0x80 * 8 + 2), "reserved gate type: #GP(vector*8+2)");
	s.idtr.limit = 0x80 * 8 + 6;
	cpu_set_state(c, &s);
	CHECK(step_faults(c, 13, 0x80 * 8 + 2), "gate beyond the IDT limit: #GP(vector*8+2)");
}

/* #DF when delivering #GP fails, and the triple fault when #DF fails too. */
static void test_double_triple(void)
{
	static const uint8_t code[] = {
		0x66, 0xb8, 0x38, 0x00, /* mov ax, 0x38 (execute-only code) */
		0x8e, 0xd8,             /* mov ds, ax: #GP(0x38) */
	};
	prot32(c, &s, 0);
	put_code(CODE, code, sizeof(code));
	wr64(IDT + 13 * 8, mkgate(SEL_CODE0, 0x6000, 14, 0, 0) & ~(1ull << 47)); /* #GP gate not present */
	wr64(IDT + 8 * 8, mkgate(SEL_CODE0, 0x6800, 14, 0, 0));
	cpu_set_state(c, &s);
	step(c, &s);
	step(c, &s);
	CHECK(s.rip == 0x6800 && s.gpr[R_RSP] == STACK0 - 16 && rd32(STACK0 - 16) == 0 && rd32(STACK0 - 12) == CODE + 4,
	      "#GP with a not-present #GP gate becomes #DF(0) (rip %#llx)", (unsigned long long)s.rip);

	prot32(c, &s, 0);
	put_code(CODE, code, sizeof(code));
	wr64(IDT + 13 * 8, mkgate(SEL_CODE0, 0x6000, 14, 0, 0) & ~(1ull << 47));
	cpu_set_state(c, &s);
	enum cpu_exit e = cpu_run(c, 10);
	CHECK(e == CPU_EXIT_TRIPLE_FAULT, "#GP, then #NP for the gate, then no #DF gate: triple fault (exit %d)", e);
}

/* Long mode: IST stacks, RSP0, 16-byte alignment, IRETQ to CPL 3. */
static void test_long_mode(void)
{
	static const uint8_t user[] = {
		0xcc,             /* 10000: int3 (gate: IST 1) */
		0xcd, 0x40,       /* 10001: int 0x40 (gate: RSP0) */
		0x8e, 0xd8,       /* 10003: mov ds, eax (eax = 0x10: #GP(0x10)) */
	};
	static const uint8_t iretq[] = { 0x48, 0xcf }; /* iretq */
	long_mode(c, &s, 3);
	put_code(CODE, user, sizeof(user));
	put_code(0x7000, iretq, 2);
	put_gate64(IDT + 3 * 16, L_CODE0, 0x7000, 14, 3, 1);
	put_gate64(IDT + 0x40 * 16, L_CODE0, 0x7000, 15, 3, 0);
	put_gate64(IDT + 13 * 16, L_CODE0, 0x7000, 14, 0, 0);
	wr64(TSS + 0x24, 0xa0008); /* IST1, not 16-byte aligned */
	s.gpr[R_RSP] = 0x70008;
	s.gpr[R_RAX] = L_DATA0;
	s.rflags = 0x202;
	cpu_set_state(c, &s);

	step(c, &s);
	uint64_t sp = 0xa0000 - 40;
	CHECK(s.seg[S_CS].sel == L_CODE0 && s.seg[S_SS].sel == 0 && s.gpr[R_RSP] == sp && s.rip == 0x7000 &&
		      !(s.rflags & 0x200),
	      "int3 at CPL 3 through an IST gate: aligned IST stack, null SS, IF clear (rsp %#llx)",
	      (unsigned long long)s.gpr[R_RSP]);
	CHECK(rd64(sp) == CODE + 1 && rd64(sp + 8) == (L_CODE3 | 3) && rd64(sp + 16) == 0x202 &&
		      rd64(sp + 24) == 0x70008 && rd64(sp + 32) == (L_DATA3 | 3),
	      "64-bit frame: RIP, CS, RFLAGS, RSP, SS");
	step(c, &s);
	CHECK(s.seg[S_CS].sel == (L_CODE3 | 3) && s.seg[S_SS].sel == (L_DATA3 | 3) && s.gpr[R_RSP] == 0x70008 &&
		      s.rip == CODE + 1 && (s.rflags & 0x200),
	      "iretq back to CPL 3");

	step(c, &s);
	sp = 0x90000 - 40;
	CHECK(s.gpr[R_RSP] == sp && rd64(sp) == CODE + 3 && (s.rflags & 0x200), "int 0x40: RSP0 from the TSS, trap gate");
	step(c, &s);

	step(c, &s);
	sp = 0x90000 - 48;
	CHECK(s.rip == 0x7000 && s.gpr[R_RSP] == sp && rd64(sp) == L_DATA0 && rd64(sp + 8) == CODE + 3,
	      "#GP(0x10) in 64-bit mode: error code pushed");

	/* Same privilege in 64-bit mode: SS:RSP still pushed, stack aligned. */
	long_mode(c, &s, 0);
	put_code(CODE, user, sizeof(user));
	put_code(0x7000, iretq, 2);
	put_gate64(IDT + 0x40 * 16, L_CODE0, 0x7000, 14, 0, 0);
	s.rip = CODE + 1;
	s.gpr[R_RSP] = 0x70008;
	cpu_set_state(c, &s);
	step(c, &s);
	CHECK(s.gpr[R_RSP] == 0x70000 - 40 && rd64(0x70000 - 16) == 0x70008 && rd64(0x70000 - 8) == L_DATA0 &&
		      s.seg[S_SS].sel == L_DATA0,
	      "64-bit same-privilege interrupt: aligned, SS:RSP pushed");
	step(c, &s);
	CHECK(s.gpr[R_RSP] == 0x70008 && s.rip == CODE + 3 && s.seg[S_SS].sel == L_DATA0,
	      "iretq at the same privilege pops SS:RSP");

	/* A 32-bit gate type in the 64-bit IDT is invalid. */
	long_mode(c, &s, 0);
	put_code(CODE, user, sizeof(user));
	put_gate64(IDT + 0x40 * 16, L_CODE0, 0x7000, 6, 0, 0);
	s.rip = CODE + 1;
	cpu_set_state(c, &s);
	CHECK(step_faults(c, 13, 0x40 * 8 + 2), "16-bit gate type in long mode: #GP(vector*8+2)");
	put_gate64(IDT + 0x40 * 16, L_CODE32_3, 0x7000, 14, 3, 0);
	CHECK(step_faults(c, 13, L_CODE32_3), "long-mode gate to a 32-bit code segment: #GP(sel)");
}

/* 16-bit gates, INTO, INT1 and INT3's gate DPL check. */
static void test_soft_forms(void)
{
	static const uint8_t code[] = {
		0xcd, 0x30, /* 7800: int 0x30 (16-bit interrupt gate) */
		0xce,       /* 7802: into (OF clear: nothing) */
		0xce,       /* 7803: into (OF set: #OF) */
	};
	static const uint8_t iret16[] = { 0x66, 0xcf }; /* 6000: iret (16-bit) */
	prot32(c, &s, 0);
	put_code(0x7800, code, sizeof(code));
	put_code(0x6000, iret16, 2);
	wr64(IDT + 0x30 * 8, mkgate(SEL_CODE0, 0x6000, 6, 0, 0));
	wr64(IDT + 4 * 8, mkgate(SEL_CODE0, 0x6100, 15, 0, 0));
	s.rip = 0x7800;
	s.rflags = 0x202;
	cpu_set_state(c, &s);
	step(c, &s);
	CHECK(s.rip == 0x6000 && s.gpr[R_RSP] == STACK0 - 6 && rd16(STACK0 - 6) == 0x7802 &&
		      rd16(STACK0 - 4) == SEL_CODE0 && rd16(STACK0 - 2) == 0x202 && !(s.rflags & 0x200),
	      "16-bit interrupt gate: 16-bit IP, CS, FLAGS pushed");
	step(c, &s);
	CHECK(s.rip == 0x7802 && s.gpr[R_RSP] == STACK0 && (s.rflags & 0x200), "16-bit iret returns");
	step(c, &s);
	CHECK(s.rip == 0x7803, "into with OF clear does nothing");
	s.rflags |= 0x800;
	cpu_set_state(c, &s);
	step(c, &s);
	CHECK(s.rip == 0x6100 && rd32(STACK0 - 12) == 0x7804, "into with OF set raises #OF after the instruction");

	static const uint8_t user[] = {
		0xcc, /* 10000: int3 (gate DPL 0 at CPL 3: #GP(3*8+2)) */
		0xf1, /* 10001: int1 (no gate DPL check) */
	};
	prot32(c, &s, 3);
	put_code(CODE, user, sizeof(user));
	wr64(IDT + 3 * 8, mkgate(SEL_CODE0, 0x6100, 14, 0, 0));
	wr64(IDT + 1 * 8, mkgate(SEL_CODE0, 0x6200, 14, 0, 0));
	wr64(IDT + 13 * 8, mkgate(SEL_CODE0, 0x6000, 14, 0, 0));
	cpu_set_state(c, &s);
	step(c, &s);
	CHECK(s.rip == 0x6000 && rd32(STACK0 - 24) == 3 * 8 + 2 && rd32(STACK0 - 20) == CODE,
	      "int3 through a DPL 0 gate at CPL 3: #GP(0x1a) at the int3");
	prot32(c, &s, 3);
	put_code(CODE, user, sizeof(user));
	wr64(IDT + 1 * 8, mkgate(SEL_CODE0, 0x6200, 14, 0, 0));
	s.rip = CODE + 1;
	cpu_set_state(c, &s);
	step(c, &s);
	CHECK(s.rip == 0x6200 && rd32(STACK0 - 20) == CODE + 2, "int1 delivers #DB past the instruction, no DPL check");
}

int main(void)
{
	c = test_cpu();
	test_real_mode();
	test_prot_privilege();
	test_double_triple();
	test_long_mode();
	test_soft_forms();
	cpu_destroy(c);
	TEST_EXIT();
}
