/*
 * Segment loads and the segment inspection instructions in protected mode (seg.c): every fault of
 * MOV Sreg / LDS.. with its error code (SDM vol. 2, MOV "Protected Mode Exceptions"), the accessed
 * bit, null selectors, LDT selectors, LAR/LSL/VERR/VERW, ARPL, LLDT/SLDT, LTR/STR.
 */
#include "prot.h"

static struct cpu *c;
static struct cpu_state s;

/* Puts code at CODE in 32-bit protected mode at the given CPL with EAX/ECX/EBX set. */
static void setup(unsigned cpl, const uint8_t *code, size_t len, uint32_t eax, uint32_t ecx, uint32_t ebx)
{
	prot32(c, &s, cpl);
	put_code(CODE, code, len);
	s.gpr[R_RAX] = eax;
	s.gpr[R_RCX] = ecx;
	s.gpr[R_RBX] = ebx;
	cpu_set_state(c, &s);
}

static const uint8_t mov_ds_ax[] = { 0x8e, 0xd8 }; /* mov ds, ax */
static const uint8_t mov_ss_ax[] = { 0x8e, 0xd0 }; /* mov ss, ax */

static void mov_ds_fault(unsigned cpl, uint16_t sel, int vec, uint32_t err, const char *what)
{
	setup(cpl, mov_ds_ax, sizeof(mov_ds_ax), sel, 0, 0);
	bool ok = step_faults(c, vec, err);
	cpu_get_state(c, &s);
	CHECK(ok && s.rip == CODE && s.seg[S_DS].sel == (cpl ? (SEL_DATA3 | 3) : SEL_DATA0),
	      "mov ds, %#x at CPL %u: %s", sel, cpl, what);
}

static void mov_ss_fault(unsigned cpl, uint16_t sel, int vec, uint32_t err, const char *what)
{
	setup(cpl, mov_ss_ax, sizeof(mov_ss_ax), sel, 0, 0);
	bool ok = step_faults(c, vec, err);
	CHECK(ok, "mov ss, %#x at CPL %u: %s", sel, cpl, what);
}

static void test_mov_sreg(void)
{
	/* A good load: hidden part from the descriptor, accessed bit set in the GDT. */
	setup(0, mov_ds_ax, sizeof(mov_ds_ax), SEL_DATA0, 0, 0);
	wr64(GDT + SEL_DATA0, mkdesc(0x12345000, 0xfffff, 0x0092)); /* base 0x12345000, byte limit */
	step(c, &s);
	CHECK(s.seg[S_DS].sel == SEL_DATA0 && s.seg[S_DS].base == 0x12345000 && s.seg[S_DS].limit == 0xfffff &&
		      s.seg[S_DS].attr == 0x93 && s.rip == CODE + 2,
	      "mov ds loads base/limit/attr (base %#llx limit %#x attr %#x)", (unsigned long long)s.seg[S_DS].base,
	      s.seg[S_DS].limit, s.seg[S_DS].attr);
	CHECK(ram[GDT + SEL_DATA0 + 5] == 0x93, "mov ds sets the accessed bit in the GDT");

	/* Null selector: allowed, then any access through DS is #GP(0). */
	static const uint8_t null_then_read[] = {
		0x8e, 0xd8,                   /* mov ds, ax */
		0xa1, 0x00, 0x01, 0x00, 0x00, /* mov eax, [0x100] */
	};
	setup(0, null_then_read, sizeof(null_then_read), 3, 0, 0);
	step(c, &s);
	CHECK(s.seg[S_DS].sel == 3 && !(s.seg[S_DS].attr & 0x80), "mov ds, null selector (RPL 3) is allowed");
	CHECK(step_faults(c, 13, 0), "access through a null DS is #GP(0)");

	mov_ds_fault(0, SEL_NP, 11, SEL_NP, "not present -> #NP(sel)");
	mov_ds_fault(0, SEL_XO, 13, SEL_XO, "execute-only code -> #GP(sel)");
	mov_ds_fault(0, SEL_GDT_END, 13, SEL_GDT_END, "beyond the GDT limit -> #GP(sel)");
	mov_ds_fault(0, SEL_TSS, 13, SEL_TSS, "system descriptor -> #GP(sel)");
	mov_ds_fault(0, 0x0c, 13, 0x0c, "LDT selector with a null LDTR -> #GP(sel)");
	mov_ds_fault(0, SEL_DATA0 | 3, 13, SEL_DATA0, "RPL 3 > DPL 0 -> #GP(sel without RPL)");
	mov_ds_fault(3, SEL_DATA0 | 3, 13, SEL_DATA0, "CPL 3 > DPL 0 -> #GP(sel)");
	mov_ds_fault(3, SEL_RCODE | 3, 13, SEL_RCODE, "non-conforming code DPL 0 at CPL 3 -> #GP(sel)");

	setup(0, mov_ds_ax, sizeof(mov_ds_ax), SEL_RCODE, 0, 0);
	step(c, &s);
	CHECK(s.seg[S_DS].sel == SEL_RCODE && s.rip == CODE + 2, "mov ds, readable code segment");
	setup(3, mov_ds_ax, sizeof(mov_ds_ax), SEL_CCODE | 3, 0, 0);
	step(c, &s);
	CHECK(s.seg[S_DS].sel == (SEL_CCODE | 3) && s.rip == CODE + 2,
	      "mov ds, conforming code DPL 0 at CPL 3 (no privilege check)");

	/* LDT selectors after LLDT. */
	static const uint8_t lldt_then_load[] = {
		0x0f, 0x00, 0xd1, /* lldt cx */
		0x8e, 0xd8,       /* mov ds, ax */
	};
	setup(0, lldt_then_load, sizeof(lldt_then_load), 0x0f, SEL_LDT, 0);
	step(c, &s);
	CHECK(s.seg[S_LDTR].sel == SEL_LDT && s.seg[S_LDTR].base == LDT && s.seg[S_LDTR].limit == 0x1f,
	      "lldt loads LDTR");
	step(c, &s);
	CHECK(s.seg[S_DS].sel == 0x0f && s.seg[S_DS].base == 0x100000 && s.seg[S_DS].limit == 0xffff,
	      "mov ds, LDT selector");
	setup(0, lldt_then_load, sizeof(lldt_then_load), 0x1f, SEL_LDT, 0);
	step(c, &s);
	CHECK(step_faults(c, 13, 0x1c), "LDT selector beyond the LDT limit -> #GP(sel)");

	/* SS */
	mov_ss_fault(0, 0, 13, 0, "null -> #GP(0)");
	mov_ss_fault(0, SEL_RO, 13, SEL_RO, "read-only data -> #GP(sel)");
	mov_ss_fault(0, SEL_RCODE, 13, SEL_RCODE, "code -> #GP(sel)");
	mov_ss_fault(0, SEL_DATA0 | 3, 13, SEL_DATA0, "RPL != CPL -> #GP(sel)");
	mov_ss_fault(0, SEL_DATA3, 13, SEL_DATA3, "DPL != CPL -> #GP(sel)");
	mov_ss_fault(3, SEL_DATA0 | 3, 13, SEL_DATA0, "DPL 0 at CPL 3 -> #GP(sel)");
	mov_ss_fault(0, SEL_NP, 12, SEL_NP, "not present -> #SS(sel)");

	static const uint8_t ss_then_intr[] = {
		0x8e, 0xd0, /* mov ss, ax */
	};
	setup(0, ss_then_intr, sizeof(ss_then_intr), SEL_DATA0, 0, 0);
	step(c, &s);
	CHECK(s.seg[S_SS].sel == SEL_DATA0 && s.rip == CODE + 2, "mov ss, good selector");

	/* MOV CS is #UD; MOV r32, Sreg stores the selector zero-extended. */
	static const uint8_t mov_cs[] = { 0x8e, 0xc8 }; /* mov cs, ax */
	setup(0, mov_cs, sizeof(mov_cs), SEL_CODE0, 0, 0);
	CHECK(step_faults(c, 6, 0), "mov cs, ax is #UD");
	static const uint8_t store[] = {
		0x8c, 0xd8,             /* mov eax, ds */
		0x8c, 0x13,             /* mov [ebx], ss */
	};
	setup(0, store, sizeof(store), 0xffffffff, 0, 0x5000);
	wr32(0x5000, 0xaaaaaaaa);
	step(c, &s);
	CHECK(s.gpr[R_RAX] == SEL_DATA0, "mov eax, ds zero-extends (eax %#llx)", (unsigned long long)s.gpr[R_RAX]);
	step(c, &s);
	CHECK(rd32(0x5000) == (0xaaaa0000 | SEL_DATA0), "mov m16, ss writes 16 bits");
}

static void test_load_far_ptr(void)
{
	static const uint8_t lds[] = { 0xc5, 0x03 };             /* lds eax, [ebx] */
	static const uint8_t lss[] = { 0x0f, 0xb2, 0x23 };       /* lss esp, [ebx] */
	static const uint8_t lfs16[] = { 0x66, 0x0f, 0xb4, 0x0b }; /* lfs cx, [ebx] */
	setup(0, lds, sizeof(lds), 0, 0, 0x5000);
	wr32(0x5000, 0xdeadbeef);
	wr16(0x5004, SEL_RCODE);
	step(c, &s);
	CHECK(s.gpr[R_RAX] == 0xdeadbeef && s.seg[S_DS].sel == SEL_RCODE, "lds eax, m16:32");
	setup(0, lds, sizeof(lds), 0x1111, 0, 0x5000);
	wr32(0x5000, 0xdeadbeef);
	wr16(0x5004, SEL_NP);
	bool ok = step_faults(c, 11, SEL_NP);
	cpu_get_state(c, &s);
	CHECK(ok && s.gpr[R_RAX] == 0x1111 && s.seg[S_DS].sel == SEL_DATA0, "lds with a not-present selector: #NP, "
											"nothing changed");
	setup(0, lss, sizeof(lss), 0, 0, 0x5000);
	wr32(0x5000, 0x8000);
	wr16(0x5004, SEL_DATA0);
	step(c, &s);
	CHECK(s.gpr[R_RSP] == 0x8000 && s.seg[S_SS].sel == SEL_DATA0, "lss esp, m16:32");
	setup(0, lss, sizeof(lss), 0, 0, 0x5000);
	wr32(0x5000, 0x8000);
	wr16(0x5004, SEL_RO);
	CHECK(step_faults(c, 13, SEL_RO), "lss with read-only data: #GP(sel)");
	setup(0, lfs16, sizeof(lfs16), 0, 0xffff0000, 0x5000);
	wr16(0x5000, 0x1234);
	wr16(0x5002, SEL_DATA0);
	step(c, &s);
	CHECK(s.gpr[R_RCX] == 0xffff1234 && s.seg[S_FS].sel == SEL_DATA0, "lfs cx, m16:16");
}

static bool zf(void)
{
	return s.rflags & 0x40;
}

static void test_lar_lsl_verr(void)
{
	static const uint8_t lar[] = { 0x0f, 0x02, 0xc1 };  /* lar eax, cx */
	static const uint8_t lsl[] = { 0x0f, 0x03, 0xc1 };  /* lsl eax, cx */
	static const uint8_t verr[] = { 0x0f, 0x00, 0xe1 }; /* verr cx */
	static const uint8_t verw[] = { 0x0f, 0x00, 0xe9 }; /* verw cx */

	setup(0, lar, sizeof(lar), 0x55, SEL_CODE0, 0);
	step(c, &s);
	/* Bits 19:16 of the result are undefined (SDM vol. 2, LAR). */
	CHECK(zf() && (s.gpr[R_RAX] & ~0xf0000ull) == 0x00c09b00, "lar code segment (eax %#llx)", (unsigned long long)s.gpr[R_RAX]);
	setup(0, lar, sizeof(lar), 0x55, SEL_NP, 0);
	step(c, &s);
	CHECK(zf() && (s.gpr[R_RAX] & ~0xf0000ull) == 0x00c01300, "lar works on a not-present segment");
	setup(0, lar, sizeof(lar), 0x55, SEL_GATE, 0);
	step(c, &s);
	CHECK(zf() && (s.gpr[R_RAX] & 0xff00) == 0xec00, "lar call gate");
	setup(0, lar, sizeof(lar), 0x55, 0, 0);
	s.rflags |= 0x40;
	cpu_set_state(c, &s);
	step(c, &s);
	CHECK(!zf() && s.gpr[R_RAX] == 0x55, "lar null selector: ZF=0, destination unchanged");
	setup(3, lar, sizeof(lar), 0x55, SEL_DATA0 | 3, 0);
	step(c, &s);
	CHECK(!zf() && s.gpr[R_RAX] == 0x55, "lar DPL 0 data at CPL 3: ZF=0");
	setup(3, lar, sizeof(lar), 0x55, SEL_CCODE | 3, 0);
	step(c, &s);
	CHECK(zf(), "lar conforming code at CPL 3: ZF=1");
	setup(0, lar, sizeof(lar), 0x55, SEL_GDT_END, 0);
	step(c, &s);
	CHECK(!zf(), "lar beyond the GDT limit: ZF=0");

	setup(0, lsl, sizeof(lsl), 0, SEL_CODE0, 0);
	step(c, &s);
	CHECK(zf() && s.gpr[R_RAX] == 0xffffffff, "lsl page-granular limit");
	setup(0, lsl, sizeof(lsl), 0, SEL_TSS, 0);
	step(c, &s);
	CHECK(zf() && s.gpr[R_RAX] == 0x67, "lsl TSS");
	setup(0, lsl, sizeof(lsl), 7, SEL_GATE, 0);
	step(c, &s);
	CHECK(!zf() && s.gpr[R_RAX] == 7, "lsl call gate: ZF=0");

	struct { const uint8_t *code; uint16_t sel; unsigned cpl; bool want; const char *name; } v[] = {
		{ verr, SEL_DATA0, 0, true, "verr data" },
		{ verw, SEL_DATA0, 0, true, "verw writable data" },
		{ verr, SEL_RCODE, 0, true, "verr readable code" },
		{ verw, SEL_RCODE, 0, false, "verw code" },
		{ verr, SEL_XO, 0, false, "verr execute-only code" },
		{ verw, SEL_RO, 0, false, "verw read-only data" },
		{ verr, SEL_DATA0 | 3, 3, false, "verr DPL 0 at CPL 3" },
		{ verr, SEL_CCODE | 3, 3, true, "verr conforming code at CPL 3" },
		{ verr, SEL_TSS, 0, false, "verr TSS" },
		{ verw, 0, 0, false, "verw null" },
	};
	for (unsigned k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
		setup(v[k].cpl, v[k].code, 3, 0, v[k].sel, 0);
		s.rflags ^= v[k].want ? 0 : 0x40;
		cpu_set_state(c, &s);
		step(c, &s);
		CHECK(zf() == v[k].want && s.rip == CODE + 3, "%s: ZF=%d", v[k].name, v[k].want);
	}

	/* Real mode: #UD. */
	cpu_reset(c);
	cpu_get_state(c, &s);
	s.seg[S_CS] = (struct cpu_seg){ 0, 0x9b, 0xffff, 0 };
	s.rip = 0x7c00;
	put_code(0x7c00, lar, sizeof(lar));
	cpu_set_state(c, &s);
	CHECK(step_faults(c, 6, 0), "lar in real mode is #UD");
}

static void test_arpl(void)
{
	static const uint8_t arpl[] = { 0x63, 0xc8 }; /* arpl ax, cx */
	setup(0, arpl, sizeof(arpl), 0xabcd0010, 3, 0);
	step(c, &s);
	CHECK(zf() && s.gpr[R_RAX] == 0xabcd0013, "arpl raises RPL: ZF=1");
	setup(0, arpl, sizeof(arpl), 0x13, 1, 0);
	step(c, &s);
	CHECK(!zf() && s.gpr[R_RAX] == 0x13, "arpl leaves a higher RPL: ZF=0");
}

static void test_ldt_tr(void)
{
	static const uint8_t lldt[] = { 0x0f, 0x00, 0xd1 };  /* lldt cx */
	static const uint8_t sldt[] = { 0x0f, 0x00, 0xc0 };  /* sldt eax */
	static const uint8_t ltr[] = { 0x0f, 0x00, 0xd9 };   /* ltr cx */
	static const uint8_t str[] = { 0x0f, 0x00, 0xc8 };   /* str eax */
	setup(0, lldt, 3, 0, SEL_DATA0, 0);
	CHECK(step_faults(c, 13, SEL_DATA0), "lldt with a data segment: #GP(sel)");
	setup(0, lldt, 3, 0, 0x5c, 0);
	CHECK(step_faults(c, 13, 0x5c), "lldt with TI=1: #GP(sel)");
	setup(3, lldt, 3, 0, SEL_LDT, 0);
	CHECK(step_faults(c, 13, 0), "lldt at CPL 3: #GP(0)");
	setup(0, lldt, 3, 0, SEL_LDT, 0);
	wr64(GDT + SEL_LDT, mkdesc(LDT, 0x1f, 0x02));
	CHECK(step_faults(c, 11, SEL_LDT), "lldt with a not-present LDT: #NP(sel)");
	setup(0, lldt, 3, 0, 0, 0);
	step(c, &s);
	CHECK(s.seg[S_LDTR].sel == 0 && !(s.seg[S_LDTR].attr & 0x80), "lldt with null makes LDTR unusable");
	setup(0, sldt, 3, 0xffffffff, 0, 0);
	s.seg[S_LDTR] = seg_of(SEL_LDT, rd64(GDT + SEL_LDT));
	cpu_set_state(c, &s);
	step(c, &s);
	CHECK(s.gpr[R_RAX] == SEL_LDT, "sldt eax");

	setup(0, ltr, 3, 0, SEL_TSS, 0);
	s.seg[S_TR] = (struct cpu_seg){ 0, 0, 0, 0 };
	cpu_set_state(c, &s);
	step(c, &s);
	CHECK(s.seg[S_TR].sel == SEL_TSS && s.seg[S_TR].base == TSS && (s.seg[S_TR].attr & 0xf) == 11 &&
		      ram[GDT + SEL_TSS + 5] == 0x8b,
	      "ltr loads TR and marks the TSS busy");
	setup(0, ltr, 3, 0, SEL_TSS, 0);
	wr64(GDT + SEL_TSS, mkdesc(TSS, 0x67, 0x8b));
	CHECK(step_faults(c, 13, SEL_TSS), "ltr with a busy TSS: #GP(sel)");
	setup(0, ltr, 3, 0, 0, 0);
	CHECK(step_faults(c, 13, 0), "ltr with null: #GP(0)");
	setup(0, ltr, 3, 0, SEL_DATA0, 0);
	CHECK(step_faults(c, 13, SEL_DATA0), "ltr with a data segment: #GP(sel)");
	setup(0, str, 3, 0xffffffff, 0, 0);
	step(c, &s);
	CHECK(s.gpr[R_RAX] == SEL_TSS, "str eax");
}

/* 64-bit mode: null SS at CPL 0 is allowed, at CPL 3 it is #GP(0); null FS clears the base. */
static void test_long_null(void)
{
	static const uint8_t code[] = {
		0x8e, 0xd0, /* mov ss, eax */
		0x8e, 0xe0, /* mov fs, eax */
	};
	long_mode(c, &s, 0);
	put_code(CODE, code, sizeof(code));
	s.gpr[R_RAX] = 0;
	s.seg[S_FS].base = 0x1234;
	cpu_set_state(c, &s);
	step(c, &s);
	CHECK(s.seg[S_SS].sel == 0 && s.rip == CODE + 2, "64-bit mode: mov ss, null at CPL 0");
	step(c, &s);
	CHECK(s.seg[S_FS].sel == 0 && s.seg[S_FS].base == 0, "64-bit mode: mov fs, null");
	long_mode(c, &s, 3);
	put_code(CODE, code, sizeof(code));
	s.gpr[R_RAX] = 3;
	cpu_set_state(c, &s);
	CHECK(step_faults(c, 13, 0), "64-bit mode: mov ss, null at CPL 3 is #GP(0)");
}

/* IA-32e mode: LTR reads a 16-byte TSS descriptor (base bits 63:32 in the upper half). */
static void test_long_ltr(void)
{
	static const uint8_t ltr[] = { 0x0f, 0x00, 0xd9 }; /* ltr cx */
	long_mode(c, &s, 0);
	put_code(CODE, ltr, sizeof(ltr));
	wr64(GDT + L_TSS + 8, 1);
	s.gpr[R_RCX] = L_TSS;
	s.seg[S_TR] = (struct cpu_seg){ 0, 0, 0, 0 };
	cpu_set_state(c, &s);
	step(c, &s);
	CHECK(s.seg[S_TR].sel == L_TSS && s.seg[S_TR].base == 0x100000000ull + TSS && (s.seg[S_TR].attr & 0xf) == 11,
	      "long mode: ltr loads a 64-bit TSS base (%#llx)", (unsigned long long)s.seg[S_TR].base);
	long_mode(c, &s, 0);
	put_code(CODE, ltr, sizeof(ltr));
	wr64(GDT + L_TSS + 8, 0x1f0000000000ull); /* upper half with a non-zero type field */
	s.gpr[R_RCX] = L_TSS;
	cpu_set_state(c, &s);
	CHECK(step_faults(c, 13, L_TSS), "long mode: ltr with a bad upper descriptor half: #GP(sel)");
}

int main(void)
{
	c = test_cpu();
	test_mov_sreg();
	test_load_far_ptr();
	test_lar_lsl_verr();
	test_arpl();
	test_ldt_tr();
	test_long_null();
	test_long_ltr();
	cpu_destroy(c);
	TEST_EXIT();
}
