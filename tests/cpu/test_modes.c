/*
 * Mode switches and far control transfers (far.c): real mode to 32-bit protected mode (LGDT,
 * MOV CR0, far JMP), far JMP/CALL/RET between code segments and code sizes, a far CALL through a
 * call gate with a stack switch and parameter copying and the RETF back to CPL 3, a 64-bit call
 * gate, entering and leaving virtual-8086 mode (IRETD with VM set, #GP from INT n at IOPL 0).
 */
#include "prot.h"

static struct cpu *c;
static struct cpu_state s;

static void real_mode(uint64_t ip)
{
	memset(ram, 0, RAM_SIZE);
	cpu_reset(c);
	cpu_get_state(c, &s);
	s.seg[S_CS] = (struct cpu_seg){ 0, 0x9b, 0xffff, 0 };
	s.rip = ip;
	s.gpr[R_RSP] = 0x8000;
}

static void test_real_to_protected(void)
{
	static const uint8_t code[] = {
		0x0f, 0x01, 0x16, 0x00, 0x7d,                   /* 7c00: lgdt [0x7d00] */
		0x0f, 0x20, 0xc0,                               /* 7c05: mov eax, cr0 */
		0x66, 0x83, 0xc8, 0x01,                         /* 7c08: or eax, 1 */
		0x0f, 0x22, 0xc0,                               /* 7c0c: mov cr0, eax */
		0x66, 0xea, 0x20, 0x7c, 0x00, 0x00, 0x08, 0x00, /* 7c0f: jmp dword 0x08:0x7c20 */
	};
	static const uint8_t code32[] = {
		0x66, 0xb8, 0x10, 0x00,       /* 7c20: mov ax, 0x10 */
		0x8e, 0xd8,                   /* 7c24: mov ds, ax */
		0x8e, 0xd0,                   /* 7c26: mov ss, ax */
		0xbc, 0x00, 0x90, 0x00, 0x00, /* 7c28: mov esp, 0x9000 */
		0xf4,                         /* 7c2d: hlt */
	};
	real_mode(0x7c00);
	build_gdt32();
	put_code(0x7c00, code, sizeof(code));
	put_code(0x7c20, code32, sizeof(code32));
	wr16(0x7d00, SEL_GDT_END - 1);
	wr32(0x7d02, GDT);
	cpu_set_state(c, &s);
	enum cpu_exit e = cpu_run(c, 100);
	cpu_get_state(c, &s);
	CHECK(e == CPU_EXIT_HLT && s.rip == 0x7c2e, "real to protected mode: reaches the 32-bit hlt (exit %d, rip %#llx)",
	      e, (unsigned long long)s.rip);
	CHECK((s.cr0 & 1) && s.seg[S_CS].sel == SEL_CODE0 && s.seg[S_CS].base == 0 && s.seg[S_CS].limit == 0xffffffff &&
		      (s.seg[S_CS].attr & 0x40ff) == 0x409b,
	      "far jmp loads the 32-bit CS (attr %#x)", s.seg[S_CS].attr);
	CHECK(s.seg[S_DS].limit == 0xffffffff && s.seg[S_SS].sel == SEL_DATA0 && s.gpr[R_RSP] == 0x9000,
	      "32-bit data and stack segments loaded");
}

static void test_real_far(void)
{
	static const uint8_t code[] = {
		0x9a, 0x00, 0x00, 0x00, 0x02, /* 7c00: call 0x0200:0x0000 */
		0xea, 0x00, 0x01, 0x00, 0x03, /* 7c05: jmp 0x0300:0x0100 */
	};
	real_mode(0x7c00);
	put_code(0x7c00, code, sizeof(code));
	ram[0x2000] = 0xcb; /* retf */
	cpu_set_state(c, &s);
	step(c, &s);
	CHECK(s.seg[S_CS].sel == 0x200 && s.seg[S_CS].base == 0x2000 && s.rip == 0 && s.gpr[R_RSP] == 0x7ffc &&
		      rd16(0x7ffc) == 0x7c05 && rd16(0x7ffe) == 0,
	      "real mode: far call pushes CS:IP");
	step(c, &s);
	CHECK(s.seg[S_CS].sel == 0 && s.rip == 0x7c05 && s.gpr[R_RSP] == 0x8000, "real mode: retf");
	step(c, &s);
	CHECK(s.seg[S_CS].sel == 0x300 && s.seg[S_CS].base == 0x3000 && s.rip == 0x100, "real mode: far jmp");
}

static void test_prot_far(void)
{
	static const uint8_t code[] = {
		0x9a, 0x00, 0x71, 0x00, 0x00, 0x08, 0x00, /* 10000: call 0x08:0x7100 */
		0xea, 0x00, 0x70, 0x00, 0x00, 0x60, 0x00, /* 10007: jmp 0x60:0x7000 (16-bit code) */
	};
	static const uint8_t code16[] = {
		0x66, 0xea, 0x20, 0x00, 0x01, 0x00, 0x08, 0x00, /* 7000: jmp dword 0x08:0x10020 */
	};
	prot32(c, &s, 0);
	put_code(CODE, code, sizeof(code));
	put_code(0x7000, code16, sizeof(code16));
	ram[0x7100] = 0xcb; /* retf */
	step(c, &s);
	CHECK(s.rip == 0x7100 && s.gpr[R_RSP] == STACK0 - 8 && rd32(STACK0 - 8) == CODE + 7 &&
		      rd32(STACK0 - 4) == SEL_CODE0,
	      "far call to the same privilege pushes CS:EIP");
	step(c, &s);
	CHECK(s.rip == CODE + 7 && s.gpr[R_RSP] == STACK0 && s.seg[S_CS].sel == SEL_CODE0, "retf to the same privilege");
	step(c, &s);
	CHECK(s.rip == 0x7000 && s.seg[S_CS].sel == SEL_CODE16 && !(s.seg[S_CS].attr & 0x4000),
	      "far jmp to a 16-bit code segment");
	step(c, &s);
	CHECK(s.rip == CODE + 0x20 && s.seg[S_CS].sel == SEL_CODE0 && (s.seg[S_CS].attr & 0x4000),
	      "jmp dword from 16-bit code back to 32-bit code");

	struct { uint16_t sel; uint32_t off; int vec; uint32_t err; const char *name; } f[] = {
		{ SEL_DATA0, 0, 13, SEL_DATA0, "far jmp to a data segment: #GP(sel)" },
		{ SEL_CODE3 | 3, 0, 13, SEL_CODE3, "far jmp to DPL 3 code at CPL 0: #GP(sel)" },
		{ SEL_CODE16, 0x10000, 13, 0, "far jmp beyond the CS limit: #GP(0)" },
		{ 0, 0, 13, 0, "far jmp to a null selector: #GP(0)" },
		{ SEL_TSS, 0, 13, SEL_TSS, "far jmp to a TSS (no task switches): #GP(sel)" },
	};
	for (unsigned k = 0; k < sizeof(f) / sizeof(f[0]); k++) {
		prot32(c, &s, 0);
		uint8_t jmp[] = { 0xea, 0, 0, 0, 0, 0, 0 }; /* jmp sel:off */
		memcpy(jmp + 1, &f[k].off, 4);
		memcpy(jmp + 5, &f[k].sel, 2);
		put_code(CODE, jmp, sizeof(jmp));
		CHECK(step_faults(c, f[k].vec, f[k].err), "%s", f[k].name);
	}
	prot32(c, &s, 0);
	wr64(GDT + SEL_CODE16, mkdesc(0, 0xffff, 0x001b)); /* not present */
	put_code(CODE, code + 7, 7);
	CHECK(step_faults(c, 11, SEL_CODE16), "far jmp to a not-present code segment: #NP(sel)");
}

static void test_call_gate(void)
{
	static const uint8_t user[] = {
		0x9a, 0x00, 0x00, 0x00, 0x00, 0x53, 0x00, /* 10000: call 0x53:0 (call gate, RPL 3) */
	};
	static const uint8_t kernel[] = {
		0x66, 0xb8, 0x10, 0x00, /* 6200: mov ax, 0x10 */
		0x8e, 0xd8,             /* 6204: mov ds, ax */
		0xca, 0x08, 0x00,       /* 6206: retf 8 */
	};
	prot32(c, &s, 3);
	put_code(CODE, user, sizeof(user));
	put_code(0x6200, kernel, sizeof(kernel));
	s.gpr[R_RSP] = STACK3 - 8;
	wr32(STACK3 - 8, 0x11111111);
	wr32(STACK3 - 4, 0x22222222);
	cpu_set_state(c, &s);
	step(c, &s);
	uint32_t sp = STACK0 - 24;
	CHECK(s.seg[S_CS].sel == SEL_CODE0 && s.seg[S_SS].sel == SEL_DATA0 && s.rip == 0x6200 && s.gpr[R_RSP] == sp,
	      "call gate from CPL 3: CPL 0 code on the TSS stack (esp %#llx)", (unsigned long long)s.gpr[R_RSP]);
	CHECK(rd32(sp) == CODE + 7 && rd32(sp + 4) == (SEL_CODE3 | 3) && rd32(sp + 8) == 0x11111111 &&
		      rd32(sp + 12) == 0x22222222 && rd32(sp + 16) == STACK3 - 8 && rd32(sp + 20) == (SEL_DATA3 | 3),
	      "call gate: SS, ESP, 2 parameters, CS, EIP on the inner stack");
	step(c, &s);
	step(c, &s);
	step(c, &s);
	CHECK(s.seg[S_CS].sel == (SEL_CODE3 | 3) && s.seg[S_SS].sel == (SEL_DATA3 | 3) && s.rip == CODE + 7 &&
		      s.gpr[R_RSP] == STACK3,
	      "retf 8 to CPL 3 pops SS:ESP and releases the parameters (esp %#llx)", (unsigned long long)s.gpr[R_RSP]);
	CHECK(s.seg[S_DS].sel == 0 && !(s.seg[S_DS].attr & 0x80), "retf to CPL 3 nulls a DPL 0 DS");

	/* Gate DPL 0 from CPL 3: #GP(gate selector). */
	prot32(c, &s, 3);
	put_code(CODE, user, sizeof(user));
	wr64(GDT + SEL_GATE, mkgate(SEL_CODE0, 0x6200, 12, 0, 2));
	CHECK(step_faults(c, 13, SEL_GATE), "call gate with DPL < CPL: #GP(sel)");
	wr64(GDT + SEL_GATE, mkgate(SEL_CODE0, 0x6200, 12, 3, 2) & ~(1ull << 47));
	CHECK(step_faults(c, 11, SEL_GATE), "not-present call gate: #NP(sel)");
	wr64(GDT + SEL_GATE, mkgate(SEL_DATA0, 0x6200, 12, 3, 2));
	CHECK(step_faults(c, 13, SEL_DATA0), "call gate to a data segment: #GP(target sel)");
	wr64(GDT + SEL_GATE, mkgate(SEL_CODE0, 0x6200, 12, 3, 2));
	wr32(TSS + 8, SEL_RO);
	CHECK(step_faults(c, 10, SEL_RO), "call gate with a read-only SS0: #TS(sel)");
}

static void test_call_gate64(void)
{
	static const uint8_t user[] = {
		0xff, 0x1c, 0x25, 0x00, 0x50, 0x00, 0x00, /* 10000: call far [0x5000] (m16:32) */
	};
	static const uint8_t kernel[] = { 0x48, 0xcb }; /* 7100: retfq */
	long_mode(c, &s, 3);
	put_code(CODE, user, sizeof(user));
	put_code(0x7100, kernel, sizeof(kernel));
	put_gate64(GDT + L_GATE, L_CODE0, 0x7100, 12, 3, 0);
	wr32(0x5000, 0);
	wr16(0x5004, L_GATE | 3);
	cpu_set_state(c, &s);
	step(c, &s);
	uint64_t sp = 0x90000 - 32;
	CHECK(s.seg[S_CS].sel == L_CODE0 && s.seg[S_SS].sel == 0 && s.rip == 0x7100 && s.gpr[R_RSP] == sp &&
		      rd64(sp) == CODE + 7 && rd64(sp + 8) == (L_CODE3 | 3) && rd64(sp + 16) == 0x70000 &&
		      rd64(sp + 24) == (L_DATA3 | 3),
	      "64-bit call gate from CPL 3: RSP0, null SS, 64-bit frame (rsp %#llx)", (unsigned long long)s.gpr[R_RSP]);
	step(c, &s);
	CHECK(s.seg[S_CS].sel == (L_CODE3 | 3) && s.seg[S_SS].sel == (L_DATA3 | 3) && s.rip == CODE + 7 &&
		      s.gpr[R_RSP] == 0x70000,
	      "retfq back to CPL 3");
}

static void test_vm86(void)
{
	static const uint8_t enter[] = { 0xcf };                   /* 10000: iretd (to VM86) */
	static const uint8_t handler[] = { 0x83, 0xc4, 0x04, 0xcf }; /* 6000: add esp, 4; iretd */
	static const uint8_t v86[] = { 0xcd, 0x21 };               /* 0800:0010: int 0x21 */
	prot32(c, &s, 0);
	put_code(CODE, enter, sizeof(enter));
	put_code(0x6000, handler, sizeof(handler));
	put_code(0x8010, v86, sizeof(v86));
	wr64(IDT + 13 * 8, mkgate(SEL_CODE0, 0x6000, 14, 0, 0));
	uint32_t frame[] = { 0x10, 0x800, 0x20202, 0x1000, 0x900, 0xa00, 0xb00, 0xc00, 0xd00 };
	s.gpr[R_RSP] = STACK0 - sizeof(frame);
	memcpy(ram + s.gpr[R_RSP], frame, sizeof(frame));
	cpu_set_state(c, &s);
	step(c, &s);
	CHECK((s.rflags & 0x20000) && s.seg[S_CS].sel == 0x800 && s.seg[S_CS].base == 0x8000 && s.rip == 0x10 &&
		      s.seg[S_SS].base == 0x9000 && s.gpr[R_RSP] == 0x1000 && s.seg[S_ES].base == 0xa000 &&
		      s.seg[S_DS].base == 0xb000 && s.seg[S_FS].base == 0xc000 && s.seg[S_GS].base == 0xd000 &&
		      s.seg[S_DS].limit == 0xffff && s.seg[S_DS].attr == 0xf3,
	      "iretd with VM set enters virtual-8086 mode");
	step(c, &s);
	uint32_t sp = STACK0 - 40;
	CHECK(!(s.rflags & 0x20000) && s.seg[S_CS].sel == SEL_CODE0 && s.rip == 0x6000 && s.gpr[R_RSP] == sp &&
		      s.seg[S_DS].sel == 0 && s.seg[S_GS].sel == 0,
	      "int 0x21 at IOPL 0 in VM86: #GP to the CPL 0 handler, data segments nulled (esp %#llx)",
	      (unsigned long long)s.gpr[R_RSP]);
	CHECK(rd32(sp) == 0 && rd32(sp + 4) == 0x10 && rd32(sp + 8) == 0x800 && rd32(sp + 12) == 0x20202 &&
		      rd32(sp + 16) == 0x1000 && rd32(sp + 20) == 0x900 && rd32(sp + 24) == 0xa00 &&
		      rd32(sp + 28) == 0xb00 && rd32(sp + 32) == 0xc00 && rd32(sp + 36) == 0xd00,
	      "VM86 exit frame: error, EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS");
	step(c, &s);
	step(c, &s);
	CHECK((s.rflags & 0x20000) && s.seg[S_CS].sel == 0x800 && s.rip == 0x10 && s.seg[S_DS].sel == 0xb00 &&
		      s.gpr[R_RSP] == 0x1000,
	      "iretd from the handler returns to virtual-8086 mode");
}

/* IRET inside virtual-8086 mode: allowed at IOPL 3 (IOPL and VM unchanged), #GP(0) below. */
static void test_vm86_iret(void)
{
	prot32(c, &s, 0);
	ram[0x8010] = 0xcf; /* 0800:0010: iret */
	s.rflags = 0x23202; /* VM, IOPL 3, IF */
	for (int k = S_ES; k <= S_GS; k++)
		s.seg[k] = (struct cpu_seg){ 0x800, 0xf3, 0xffff, 0x8000 };
	s.rip = 0x10;
	s.gpr[R_RSP] = 0x100;
	wr16(0x8100, 0x20);   /* IP */
	wr16(0x8102, 0x900);  /* CS */
	wr16(0x8104, 0x0ad7); /* FLAGS: CF PF AF ZF SF IF OF, IOPL 0 (ignored) */
	cpu_set_state(c, &s);
	step(c, &s);
	CHECK(s.seg[S_CS].sel == 0x900 && s.seg[S_CS].base == 0x9000 && s.rip == 0x20 && s.gpr[R_RSP] == 0x106 &&
		      (s.rflags & 0x3fffff) == 0x23ad7,
	      "VM86 iret at IOPL 3 keeps VM and IOPL (rflags %#llx)", (unsigned long long)s.rflags);
	s.rflags = 0x20202;
	s.rip = 0x10;
	s.seg[S_CS] = (struct cpu_seg){ 0x800, 0xf3, 0xffff, 0x8000 };
	s.gpr[R_RSP] = 0x100;
	cpu_set_state(c, &s);
	CHECK(step_faults(c, 13, 0), "VM86 iret at IOPL 0: #GP(0)");
}

int main(void)
{
	c = test_cpu();
	test_real_to_protected();
	test_real_far();
	test_prot_far();
	test_call_gate();
	test_call_gate64();
	test_vm86();
	test_vm86_iret();
	cpu_destroy(c);
	TEST_EXIT();
}
