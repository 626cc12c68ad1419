/*
 * Unit tests for stack and near-branch instructions in the modes the differential tests cannot
 * reach natively: 32-bit protected mode with 32- and 16-bit stacks, real mode, VM86 and the
 * operand-size corner cases of 64-bit mode. Each test loads a state with cpu_set_state, steps
 * a few hand-assembled instructions and checks registers and memory.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "tests/test.h"

#define RAM_SIZE (1u << 20)
static uint8_t *ram;

static uint8_t *bus_ram_ptr(void *opaque, uint64_t gpa, bool write)
{
	return gpa < RAM_SIZE ? ram + gpa : NULL;
}

static uint64_t bus_mmio_read(void *opaque, uint64_t gpa, unsigned size)
{
	return ~0ull;
}

static void bus_mmio_write(void *opaque, uint64_t gpa, unsigned size, uint64_t val)
{
}

static uint32_t bus_in(void *opaque, uint16_t port, unsigned size)
{
	return ~0u;
}

static void bus_out(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
}

static const struct cpu_bus bus = {
	.ram_ptr = bus_ram_ptr, .mmio_read = bus_mmio_read, .mmio_write = bus_mmio_write,
	.io_in = bus_in, .io_out = bus_out,
};

#define EXC_GP 13
#define F_VM (1u << 17)
#define F_RF (1u << 16)

static uint32_t rd32(uint64_t pa)
{
	uint32_t v;
	memcpy(&v, ram + pa, 4);
	return v;
}

static uint16_t rd16(uint64_t pa)
{
	uint16_t v;
	memcpy(&v, ram + pa, 2);
	return v;
}

static uint64_t rd64(uint64_t pa)
{
	uint64_t v;
	memcpy(&v, ram + pa, 8);
	return v;
}

static void wr32(uint64_t pa, uint32_t v)
{
	memcpy(ram + pa, &v, 4);
}

/* Flat 32-bit protected mode at CPL 0 (no paging): code at 0x1000, ESP = 0x8000. */
static void prot32(struct cpu *c, struct cpu_state *s)
{
	memset(ram, 0, RAM_SIZE);
	cpu_reset(c);
	cpu_get_state(c, s);
	s->cr0 = 0x11; /* PE ET */
	s->seg[S_CS] = (struct cpu_seg){ .sel = 8, .attr = 0xc09b, .limit = 0xffffffff };
	for (int k = S_ES; k <= S_GS; k++)
		if (k != S_CS)
			s->seg[k] = (struct cpu_seg){ .sel = 0x10, .attr = 0xc093, .limit = 0xffffffff };
	/* GDT at 0x500: null, flat code, flat data. */
	s->gdtr = (struct cpu_dtable){ .base = 0x500, .limit = 0x17 };
	uint64_t gdt[3] = { 0, 0x00cf9b000000ffffull, 0x00cf93000000ffffull };
	memcpy(ram + 0x500, gdt, sizeof(gdt));
	s->rip = 0x1000;
	s->gpr[R_RSP] = 0x8000;
	s->rflags = 2;
}

/* Makes the state CPL 3 with DPL-3 code and stack segments. */
static void to_cpl3(struct cpu_state *s)
{
	s->seg[S_CS].sel = 0x1b;
	s->seg[S_CS].attr = 0xc0fb;
	s->seg[S_SS].sel = 0x23;
	s->seg[S_SS].attr = 0xc0f3;
}

/* Real mode: CS = 0x0100 (code at 0x1000), SS = 0x0800, SP = 0x100. */
static void real_mode(struct cpu *c, struct cpu_state *s)
{
	memset(ram, 0, RAM_SIZE);
	cpu_reset(c);
	cpu_get_state(c, s);
	s->cr0 = 0x10;
	s->seg[S_CS] = (struct cpu_seg){ .sel = 0x100, .base = 0x1000, .attr = 0x9b, .limit = 0xffff };
	for (int k = S_ES; k <= S_GS; k++)
		if (k != S_CS)
			s->seg[k] = (struct cpu_seg){ .sel = 0, .base = 0, .attr = 0x93, .limit = 0xffff };
	s->seg[S_SS] = (struct cpu_seg){ .sel = 0x800, .base = 0x8000, .attr = 0x93, .limit = 0xffff };
	s->rip = 0;
	s->gpr[R_RSP] = 0x100;
	s->rflags = 2;
}

/* 64-bit mode with 0..1 MiB identity-mapped: code at 0x10000, RSP = 0x80000. */
static void long_mode(struct cpu *c, struct cpu_state *s)
{
	memset(ram, 0, RAM_SIZE);
	uint64_t *pml4 = (uint64_t *)(ram + 0x1000), *pdpt = (uint64_t *)(ram + 0x2000);
	uint64_t *pd = (uint64_t *)(ram + 0x3000), *pt = (uint64_t *)(ram + 0x4000);
	pml4[0] = 0x2000 | 7;
	pdpt[0] = 0x3000 | 7;
	pd[0] = 0x4000 | 7;
	for (int k = 0; k < 256; k++)
		pt[k] = (uint64_t)k * 4096 | 7;
	cpu_reset(c);
	cpu_get_state(c, s);
	s->cr0 = 0x80000033;
	s->cr4 = 0x20; /* PAE */
	s->cr3 = 0x1000;
	s->efer = 0x500; /* LME LMA */
	s->seg[S_CS] = (struct cpu_seg){ .sel = 8, .attr = 0xa09b, .limit = 0xffffffff };
	for (int k = S_ES; k <= S_GS; k++)
		if (k != S_CS)
			s->seg[k] = (struct cpu_seg){ .sel = 0x10, .attr = 0xc093, .limit = 0xffffffff };
	s->rip = 0x10000;
	s->gpr[R_RSP] = 0x80000;
	s->rflags = 2;
}

/* Loads s with code at physical pa, executes n instructions one by one and reads the state
 * back. Returns the first exit other than CPU_EXIT_BUDGET (exceptions stop the run). */
static enum cpu_exit run(struct cpu *c, struct cpu_state *s, uint64_t pa, const uint8_t *code, size_t len,
			 unsigned n)
{
	memcpy(ram + pa, code, len);
	cpu_set_state(c, s);
	cpu_set_exception_exits(c, ~0u);
	enum cpu_exit e = CPU_EXIT_BUDGET;
	for (unsigned k = 0; k < n && e == CPU_EXIT_BUDGET; k++)
		e = cpu_step(c);
	cpu_get_state(c, s);
	return e;
}

static void test_prot32_stack32(struct cpu *c)
{
	static const uint8_t code[] = {
		0x50,                         /* push eax */
		0x68, 0x78, 0x56, 0x34, 0x12, /* push 0x12345678 */
		0x6a, 0xfe,                   /* push -2 */
		0x66, 0x68, 0xaa, 0x55,       /* push word 0x55aa */
		0x66, 0x59,                   /* pop cx */
		0x5a,                         /* pop edx */
		0xe8, 0x02, 0x00, 0x00, 0x00, /* call 1f */
		0xeb, 0x06,                   /* jmp 2f */
		0x8b, 0x1c, 0x24,             /* 1: mov ebx, [esp] */
		0xc2, 0x04, 0x00,             /* ret 4 */
		0xc8, 0x08, 0x00, 0x02,       /* 2: enter 8, 2 */
		0x89, 0xe6,                   /* mov esi, esp */
		0x89, 0xef,                   /* mov edi, ebp */
		0xc9,                         /* leave */
	};
	struct cpu_state s;
	prot32(c, &s);
	s.gpr[R_RAX] = 0x11223344;
	s.gpr[R_RCX] = 0xcccc0000;
	s.gpr[R_RBP] = 0x7f00;
	wr32(0x7efc, 0xdeadbeef); /* the enclosing frame's saved frame pointer */
	enum cpu_exit e = run(c, &s, 0x1000, code, sizeof(code), 14);
	CHECK(e == CPU_EXIT_BUDGET, "prot32: runs without exceptions");
	CHECK(s.rip == 0x1000 + sizeof(code), "prot32: EIP at the end (%#llx)", (unsigned long long)s.rip);
	CHECK(s.gpr[R_RCX] == 0xcccc55aa, "prot32: POP CX merges (%#llx)", (unsigned long long)s.gpr[R_RCX]);
	CHECK(s.gpr[R_RDX] == 0xfffffffe, "prot32: PUSH imm8 sign-extends to 32 bits");
	CHECK(s.gpr[R_RBX] == 0x1014, "prot32: CALL pushes the return address (%#llx)",
	      (unsigned long long)s.gpr[R_RBX]);
	CHECK(s.gpr[R_RSI] == 0x7fe8 && s.gpr[R_RDI] == 0x7ff8, "prot32: ENTER 8,2 sets ESP %#llx EBP %#llx",
	      (unsigned long long)s.gpr[R_RSI], (unsigned long long)s.gpr[R_RDI]);
	CHECK(rd32(0x7ff8) == 0x7f00 && rd32(0x7ff4) == 0xdeadbeef && rd32(0x7ff0) == 0x7ff8,
	      "prot32: ENTER frame: saved EBP, copied pointer, new frame pointer");
	CHECK(rd32(0x7ffc) == 0x11223344, "prot32: PUSH EAX");
	CHECK(s.gpr[R_RSP] == 0x7ffc && s.gpr[R_RBP] == 0x7f00, "prot32: LEAVE restores ESP %#llx EBP %#llx",
	      (unsigned long long)s.gpr[R_RSP], (unsigned long long)s.gpr[R_RBP]);
}

static void test_prot32_osize16(struct cpu *c)
{
	static const uint8_t code[] = {
		0x66, 0xe8, 0x02, 0x00, /* call word 1f */
		0xeb, 0x05,             /* jmp 2f */
		0x8b, 0x1c, 0x24,       /* 1: mov ebx, [esp] */
		0x66, 0xc3,             /* ret word */
		0x90,                   /* 2: nop */
	};
	struct cpu_state s;
	prot32(c, &s);
	wr32(0x8000, 0xabcd);
	enum cpu_exit e = run(c, &s, 0x1000, code, sizeof(code), 5);
	CHECK(e == CPU_EXIT_BUDGET && s.rip == 0x100c, "prot32 o16: CALL/RET round trip (rip %#llx)",
	      (unsigned long long)s.rip);
	CHECK(s.gpr[R_RBX] == 0xabcd1004, "prot32 o16: CALL pushes a 2-byte IP (%#llx)",
	      (unsigned long long)s.gpr[R_RBX]);
	CHECK(s.gpr[R_RSP] == 0x8000, "prot32 o16: RET pops 2 bytes");

	/* A 16-bit JMP truncates EIP: 0xfffe + 0x10 wraps to 0x000e. */
	static const uint8_t jmp16[] = { 0x66, 0xe9, 0x10, 0x00 };
	prot32(c, &s);
	s.rip = 0xfffa;
	e = run(c, &s, 0xfffa, jmp16, sizeof(jmp16), 1);
	CHECK(e == CPU_EXIT_BUDGET && s.rip == 0xe, "prot32 o16: JMP rel16 wraps at 64K (rip %#llx)",
	      (unsigned long long)s.rip);
}

static void test_cs_limit(struct cpu *c)
{
	static const uint8_t far_jmp[] = { 0xe9, 0xfb, 0x1f, 0x00, 0x00 }; /* jmp 0x3000 */
	static const uint8_t edge_jmp[] = { 0xe9, 0xfa, 0x0f, 0x00, 0x00 }; /* jmp 0x1fff */
	static const uint8_t call_out[] = { 0xe8, 0xfb, 0x1f, 0x00, 0x00 }; /* call 0x3000 */
	struct cpu_state s;
	uint32_t err = 1;

	prot32(c, &s);
	s.seg[S_CS].limit = 0x1fff;
	enum cpu_exit e = run(c, &s, 0x1000, far_jmp, sizeof(far_jmp), 1);
	CHECK(e == CPU_EXIT_EXCEPTION && cpu_last_exception(c, &err) == EXC_GP && err == 0 && s.rip == 0x1000,
	      "CS limit: JMP past the limit is #GP(0) at the JMP");

	prot32(c, &s);
	s.seg[S_CS].limit = 0x1fff;
	e = run(c, &s, 0x1000, edge_jmp, sizeof(edge_jmp), 1);
	CHECK(e == CPU_EXIT_BUDGET && s.rip == 0x1fff, "CS limit: JMP to the limit itself is allowed");

	prot32(c, &s);
	s.seg[S_CS].limit = 0x1fff;
	e = run(c, &s, 0x1000, call_out, sizeof(call_out), 1);
	CHECK(e == CPU_EXIT_EXCEPTION && cpu_last_exception(c, &err) == EXC_GP && s.gpr[R_RSP] == 0x8000 &&
	      rd32(0x7ffc) == 0, "CS limit: CALL past the limit faults before pushing");

	/* Real mode: a 32-bit JMP beyond the 64K limit faults too. */
	static const uint8_t jmp32[] = { 0x66, 0xe9, 0x00, 0x00, 0x01, 0x00 };
	real_mode(c, &s);
	e = run(c, &s, 0x1000, jmp32, sizeof(jmp32), 1);
	CHECK(e == CPU_EXIT_EXCEPTION && cpu_last_exception(c, &err) == EXC_GP && s.rip == 0,
	      "real mode: JMP rel32 past CS limit is #GP(0)");
}

static void test_stack16_in_prot32(struct cpu *c)
{
	static const uint8_t code[] = {
		0x50,                   /* push eax */
		0x53,                   /* push ebx */
		0x59,                   /* pop ecx */
		0x60,                   /* pushad */
		0x61,                   /* popad */
		0xc8, 0x04, 0x00, 0x02, /* enter 4, 2 */
		0x89, 0xe6,             /* mov esi, esp */
		0x89, 0xef,             /* mov edi, ebp */
		0xc9,                   /* leave */
	};
	struct cpu_state s;
	prot32(c, &s);
	s.seg[S_SS] = (struct cpu_seg){ .sel = 0x10, .base = 0x20000, .attr = 0x0093, .limit = 0xffff };
	s.gpr[R_RSP] = 0xabcd0004;
	s.gpr[R_RAX] = 0x11111111;
	s.gpr[R_RBX] = 0x22222222;
	s.gpr[R_RCX] = 0x33333333;
	s.gpr[R_RDX] = 0x44444444;
	s.gpr[R_RBP] = 0x12340010;
	s.gpr[R_RSI] = 0x55555555;
	s.gpr[R_RDI] = 0x66666666;
	wr32(0x2000c, 0x5a5a5a5a);
	enum cpu_exit e = run(c, &s, 0x1000, code, 3, 3);
	CHECK(e == CPU_EXIT_BUDGET, "stack16: push/pop run");
	CHECK(rd32(0x20000) == 0x11111111 && rd32(0x2fffc) == 0x22222222,
	      "stack16: SP wraps from 0 to 0xfffc inside SS");
	CHECK(s.gpr[R_RCX] == 0x22222222 && s.gpr[R_RSP] == 0xabcd0000,
	      "stack16: ESP's upper half is kept (%#llx)", (unsigned long long)s.gpr[R_RSP]);

	s.rip = 0x1003;
	e = run(c, &s, 0x1000, code, sizeof(code), 1);
	CHECK(e == CPU_EXIT_BUDGET && s.gpr[R_RSP] == 0xabcdffe0 && rd32(0x2ffec) == 0xabcd0000 &&
	      rd32(0x2fffc) == 0x11111111 && rd32(0x2ffe0) == 0x66666666,
	      "stack16: PUSHAD pushes the original ESP, EAX first, EDI last");
	s.gpr[R_RAX] = s.gpr[R_RBX] = s.gpr[R_RBP] = s.gpr[R_RDI] = 0;
	s.gpr[R_RCX] = 0;
	e = run(c, &s, 0x1000, code, sizeof(code), 1);
	CHECK(e == CPU_EXIT_BUDGET && s.gpr[R_RSP] == 0xabcd0000 && s.gpr[R_RAX] == 0x11111111 &&
	      s.gpr[R_RCX] == 0x22222222 && s.gpr[R_RBP] == 0x12340010 && s.gpr[R_RDI] == 0x66666666,
	      "stack16: POPAD restores all but ESP");

	e = run(c, &s, 0x1000, code, sizeof(code), 4);
	CHECK(e == CPU_EXIT_BUDGET && s.gpr[R_RSI] == 0xabcdfff0 && s.gpr[R_RDI] == 0xabcdfffc,
	      "stack16: ENTER 4,2 with 16-bit SP (ESP %#llx EBP %#llx)", (unsigned long long)s.gpr[R_RSI],
	      (unsigned long long)s.gpr[R_RDI]);
	CHECK(rd32(0x2fffc) == 0x12340010 && rd32(0x2fff8) == 0x5a5a5a5a && rd32(0x2fff4) == 0xabcdfffc,
	      "stack16: ENTER copies [BP-4] and pushes the frame pointer");
	CHECK(s.gpr[R_RSP] == 0xabcd0000 && s.gpr[R_RBP] == 0x12340010 && s.rip == 0x1000 + sizeof(code),
	      "stack16: LEAVE (ESP %#llx EBP %#llx)", (unsigned long long)s.gpr[R_RSP],
	      (unsigned long long)s.gpr[R_RBP]);
}

static void test_real_mode(struct cpu *c)
{
	static const uint8_t code[] = {
		0x50,                               /* push ax */
		0x68, 0x34, 0x12,                   /* push 0x1234 */
		0x5b,                               /* pop bx */
		0x59,                               /* pop cx */
		0x60,                               /* pusha */
		0x61,                               /* popa */
		0xe8, 0x02, 0x00,                   /* call 1f */
		0xeb, 0x05,                         /* jmp 2f */
		0x89, 0xe6,                         /* 1: mov si, sp */
		0xc2, 0x02, 0x00,                   /* ret 2 */
		0xc8, 0x04, 0x00, 0x01,             /* 2: enter 4, 1 */
		0xc9,                               /* leave */
		0x66, 0x68, 0x78, 0x56, 0x34, 0x12, /* push dword 0x12345678 */
		0x66, 0x5a,                         /* pop edx */
		0x68, 0x00, 0x03,                   /* push 0x300 */
		0x1f,                               /* pop ds */
	};
	struct cpu_state s;
	real_mode(c, &s);
	s.gpr[R_RAX] = 0xaaaa;
	s.gpr[R_RBP] = 0x80;
	enum cpu_exit e = run(c, &s, 0x1000, code, sizeof(code), 4);
	CHECK(e == CPU_EXIT_BUDGET && s.gpr[R_RBX] == 0x1234 && s.gpr[R_RCX] == 0xaaaa && s.gpr[R_RSP] == 0x100,
	      "real: PUSH/POP word forms");
	e = run(c, &s, 0x1000, code, sizeof(code), 1);
	CHECK(e == CPU_EXIT_BUDGET && s.gpr[R_RSP] == 0xf0 && rd16(0x80f6) == 0x100 && rd16(0x80fe) == 0xaaaa,
	      "real: PUSHA");
	e = run(c, &s, 0x1000, code, sizeof(code), 4);
	CHECK(e == CPU_EXIT_BUDGET && s.gpr[R_RSI] == 0xfe && rd16(0x80fe) == 0x000b && s.rip == 0x0b &&
	      s.gpr[R_RSP] == 0x102, "real: CALL pushes IP, RET 2 releases 2 more bytes (sp %#llx ip %#llx)",
	      (unsigned long long)s.gpr[R_RSP], (unsigned long long)s.rip);
	e = run(c, &s, 0x1000, code, sizeof(code), 2);
	CHECK(e == CPU_EXIT_BUDGET && s.gpr[R_RSP] == 0xfa && s.gpr[R_RBP] == 0x100 && rd16(0x8100) == 0x80 &&
	      rd16(0x80fe) == 0x100, "real: ENTER 4,1 (sp %#llx bp %#llx)", (unsigned long long)s.gpr[R_RSP],
	      (unsigned long long)s.gpr[R_RBP]);
	e = run(c, &s, 0x1000, code, sizeof(code), 1);
	CHECK(e == CPU_EXIT_BUDGET && s.gpr[R_RSP] == 0x102 && s.gpr[R_RBP] == 0x80, "real: LEAVE");
	e = run(c, &s, 0x1000, code, sizeof(code), 2);
	CHECK(e == CPU_EXIT_BUDGET && s.gpr[R_RDX] == 0x12345678 && s.gpr[R_RSP] == 0x102,
	      "real: 32-bit PUSH/POP with 0x66");
	e = run(c, &s, 0x1000, code, sizeof(code), 2);
	CHECK(e == CPU_EXIT_BUDGET && s.seg[S_DS].sel == 0x300 && s.seg[S_DS].base == 0x3000 &&
	      s.gpr[R_RSP] == 0x102 && s.rip == sizeof(code), "real: POP DS loads base = sel << 4");

	/* IP wraps at 64K; LOOP and JCXZ use CX. */
	static const uint8_t wrap[] = { 0xeb, 0x10 };
	real_mode(c, &s);
	s.rip = 0xfffc;
	e = run(c, &s, 0x1000 + 0xfffc, wrap, sizeof(wrap), 1);
	CHECK(e == CPU_EXIT_BUDGET && s.rip == 0x000e, "real: JMP short wraps IP (%#llx)", (unsigned long long)s.rip);

	static const uint8_t loop_self[] = { 0xe2, 0xfe, 0xe3, 0xfe };
	real_mode(c, &s);
	s.gpr[R_RCX] = 0x12340000;
	e = run(c, &s, 0x1000, loop_self, sizeof(loop_self), 1);
	CHECK(e == CPU_EXIT_BUDGET && s.gpr[R_RCX] == 0x1234ffff && s.rip == 0,
	      "real: LOOP decrements CX only and branches (%#llx)", (unsigned long long)s.gpr[R_RCX]);
	s.rip = 2;
	s.gpr[R_RCX] = 0x10000;
	e = run(c, &s, 0x1000, loop_self, sizeof(loop_self), 1);
	CHECK(e == CPU_EXIT_BUDGET && s.rip == 2, "real: JCXZ tests CX only");

	/* POP SS loads SS and the stack continues there. */
	static const uint8_t popss[] = { 0x68, 0x00, 0x09, 0x17, 0x50 };
	real_mode(c, &s);
	s.gpr[R_RAX] = 0x4242;
	e = run(c, &s, 0x1000, popss, sizeof(popss), 3);
	CHECK(e == CPU_EXIT_BUDGET && s.seg[S_SS].base == 0x9000 && s.gpr[R_RSP] == 0xfe && rd16(0x90fe) == 0x4242,
	      "real: POP SS then PUSH uses the new stack");
}

static void test_pushf_popf(struct cpu *c)
{
	/* push imm32; popfd; pushfd */
	static const uint8_t code[] = { 0x68, 0x01, 0x32, 0x23, 0x00, 0x9d, 0x9c };
	/* push word imm16; popf (16-bit); pushfd */
	static const uint8_t code16[] = { 0x66, 0x68, 0x01, 0x32, 0x66, 0x9d, 0x9c };
	struct cpu_state s;
	enum cpu_exit e;

	/* CPL 0: IOPL and IF load; VM (bit 17) never does, RF is cleared. */
	prot32(c, &s);
	s.rflags = 2 | F_RF;
	e = run(c, &s, 0x1000, code, sizeof(code), 3);
	CHECK(e == CPU_EXIT_BUDGET && (s.rflags & 0x3f7fd7) == 0x203203, "popf CPL0: IOPL, IF, ID load (%#llx)",
	      (unsigned long long)s.rflags);
	CHECK(rd32(0x7ffc) == 0x203203, "pushfd: VM and RF read as 0 (%#x)", rd32(0x7ffc));

	static const uint8_t pushfd[] = { 0x9c };
	prot32(c, &s);
	s.rflags = 2 | F_RF;
	e = run(c, &s, 0x1000, pushfd, sizeof(pushfd), 1);
	CHECK(e == CPU_EXIT_BUDGET && rd32(0x7ffc) == 2, "pushfd: RF is not pushed (%#x)", rd32(0x7ffc));

	/* CPL 3, IOPL 0: neither IF nor IOPL change. */
	prot32(c, &s);
	to_cpl3(&s);
	e = run(c, &s, 0x1000, code, sizeof(code), 2);
	CHECK(e == CPU_EXIT_BUDGET && (s.rflags & 0x3f7fd7) == 0x200003, "popf CPL3 IOPL0: IF/IOPL kept (%#llx)",
	      (unsigned long long)s.rflags);

	/* CPL 3, IOPL 3: IF changes, IOPL does not. */
	prot32(c, &s);
	to_cpl3(&s);
	s.rflags = 0x3002;
	static const uint8_t clear_iopl[] = { 0x68, 0x01, 0x02, 0x00, 0x00, 0x9d };
	e = run(c, &s, 0x1000, clear_iopl, sizeof(clear_iopl), 2);
	CHECK(e == CPU_EXIT_BUDGET && (s.rflags & 0x3f7fd7) == 0x3203, "popf CPL3 IOPL3: IF loads, IOPL kept (%#llx)",
	      (unsigned long long)s.rflags);

	/* CPL 3, 16-bit POPF. */
	prot32(c, &s);
	to_cpl3(&s);
	e = run(c, &s, 0x1000, code16, sizeof(code16), 2);
	CHECK(e == CPU_EXIT_BUDGET && (s.rflags & 0x3f7fd7) == 0x0003, "popf16 CPL3: IF/IOPL kept (%#llx)",
	      (unsigned long long)s.rflags);

	/* Real mode: everything in the low 16 bits loads. */
	static const uint8_t real_popf[] = { 0x68, 0x01, 0x32, 0x9d };
	real_mode(c, &s);
	e = run(c, &s, 0x1000, real_popf, sizeof(real_popf), 2);
	CHECK(e == CPU_EXIT_BUDGET && (s.rflags & 0x3f7fd7) == 0x3203, "popf real mode: IOPL and IF load (%#llx)",
	      (unsigned long long)s.rflags);

	/* VM86: IOPL < 3 makes PUSHF and POPF #GP(0); with IOPL 3 POPF loads IF but not IOPL. */
	static const uint8_t vm_pushf[] = { 0x9c };
	real_mode(c, &s);
	s.cr0 = 0x11;
	s.rflags = 2 | F_VM;
	s.seg[S_CS].attr = 0xf3;
	for (int k = S_ES; k <= S_GS; k++)
		if (k != S_CS)
			s.seg[k].attr = 0xf3;
	struct cpu_state vm = s;
	e = run(c, &s, 0x1000, vm_pushf, sizeof(vm_pushf), 1);
	uint32_t err = 1;
	CHECK(e == CPU_EXIT_EXCEPTION && cpu_last_exception(c, &err) == EXC_GP && err == 0 && s.gpr[R_RSP] == 0x100,
	      "VM86 IOPL0: PUSHF is #GP(0)");
	s = vm;
	s.rflags = 0x3002 | F_VM;
	static const uint8_t vm_popf[] = { 0x68, 0x01, 0x02, 0x9d, 0x9c };
	e = run(c, &s, 0x1000, vm_popf, sizeof(vm_popf), 3);
	CHECK(e == CPU_EXIT_BUDGET && (s.rflags & 0x3f7fd7) == (0x3203 | F_VM) && rd16(0x80fe) == 0x3203,
	      "VM86 IOPL3: POPF loads IF, keeps IOPL and VM (%#llx)", (unsigned long long)s.rflags);
}

static void test_segments(struct cpu *c)
{
	struct cpu_state s;
	enum cpu_exit e;

	/* PUSH ES with a 32-bit operand: ESP moves by 4, only the selector's 2 bytes are written. */
	static const uint8_t push_es[] = { 0x06 };
	prot32(c, &s);
	wr32(0x7ffc, 0xaaaaaaaa);
	e = run(c, &s, 0x1000, push_es, sizeof(push_es), 1);
	CHECK(e == CPU_EXIT_BUDGET && s.gpr[R_RSP] == 0x7ffc && rd32(0x7ffc) == 0xaaaa0010,
	      "PUSH ES (o32): 16-bit write into a 4-byte slot (%#x)", rd32(0x7ffc));

	/* POP DS through the GDT, and a bad selector faulting with ESP unchanged. */
	static const uint8_t pop_ds[] = { 0x6a, 0x10, 0x1f, 0x6a, 0x33, 0x1f };
	prot32(c, &s);
	s.seg[S_DS] = (struct cpu_seg){ 0 };
	e = run(c, &s, 0x1000, pop_ds, sizeof(pop_ds), 2);
	CHECK(e == CPU_EXIT_BUDGET && s.seg[S_DS].sel == 0x10 && s.seg[S_DS].limit == 0xffffffff &&
	      s.gpr[R_RSP] == 0x8000, "POP DS loads a GDT descriptor");
	uint32_t err = 0;
	e = run(c, &s, 0x1000, pop_ds, sizeof(pop_ds), 2);
	int vec = cpu_last_exception(c, &err);
	CHECK(e == CPU_EXIT_EXCEPTION && vec == EXC_GP && err == 0x30 &&
	      s.gpr[R_RSP] == 0x7ffc && s.rip == 0x1005 && s.seg[S_DS].sel == 0x10,
	      "POP DS with a selector past the GDT: #GP(sel), ESP unchanged (err %#x)", err);
}

static void test_long_mode(struct cpu *c)
{
	struct cpu_state s;
	enum cpu_exit e;

	/* Intel ignores 0x66 on near branches in 64-bit mode: no truncation to 16 bits. */
	static const uint8_t jmp66[] = { 0x66, 0xe9, 0x00, 0x00, 0x01, 0x00 };
	long_mode(c, &s);
	e = run(c, &s, 0x10000, jmp66, sizeof(jmp66), 1);
	CHECK(e == CPU_EXIT_BUDGET && s.rip == 0x20006, "64-bit: 0x66 JMP rel32 keeps 64-bit RIP (%#llx)",
	      (unsigned long long)s.rip);

	static const uint8_t call66[] = { 0x66, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x66, 0xc3 };
	long_mode(c, &s);
	e = run(c, &s, 0x10000, call66, sizeof(call66), 1);
	CHECK(e == CPU_EXIT_BUDGET && s.gpr[R_RSP] == 0x7fff8 && rd64(0x7fff8) == 0x10006 && s.rip == 0x10006,
	      "64-bit: 0x66 CALL pushes 8 bytes");
	e = run(c, &s, 0x10000, call66, sizeof(call66), 1);
	CHECK(e == CPU_EXIT_BUDGET && s.gpr[R_RSP] == 0x80000 && s.rip == 0x10006, "64-bit: 0x66 RET pops 8 bytes");

	/* PUSH/POP FS in 64-bit mode: 8-byte slot, 16-bit write (o64), 2 bytes with 0x66. */
	static const uint8_t pushfs[] = { 0x0f, 0xa0, 0x66, 0x0f, 0xa0 };
	long_mode(c, &s);
	s.seg[S_FS].sel = 0x10;
	memset(ram + 0x7fff0, 0xee, 16);
	e = run(c, &s, 0x10000, pushfs, sizeof(pushfs), 2);
	CHECK(e == CPU_EXIT_BUDGET && s.gpr[R_RSP] == 0x7fff6 && rd64(0x7fff8) == 0xeeeeeeeeeeee0010ull &&
	      rd16(0x7fff6) == 0x10, "64-bit: PUSH FS in o64 and o16");

	/* ENTER with level 0 in 64-bit mode and a large allocation. */
	static const uint8_t enter64[] = { 0xc8, 0x00, 0x10, 0x00 };
	long_mode(c, &s);
	s.gpr[R_RBP] = 0x123456789ull;
	e = run(c, &s, 0x10000, enter64, sizeof(enter64), 1);
	CHECK(e == CPU_EXIT_BUDGET && s.gpr[R_RBP] == 0x7fff8 && s.gpr[R_RSP] == 0x7fff8 - 0x1000 &&
	      rd64(0x7fff8) == 0x123456789ull, "64-bit: ENTER 0x1000, 0");
}

int main(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	struct cpu *c = cpu_create(&bus);
	if (!ram || !c)
		return 2;
	test_prot32_stack32(c);
	test_prot32_osize16(c);
	test_cs_limit(c);
	test_stack16_in_prot32(c);
	test_real_mode(c);
	test_pushf_popf(c);
	test_segments(c);
	test_long_mode(c);
	cpu_destroy(c);
	free(ram);
	TEST_EXIT();
}
