/*
 * Shared scaffolding for the protection unit tests (test_seg.c, test_except.c, test_modes.c):
 * a RAM-only bus, descriptor and gate encoders, and ready-made 32-bit protected-mode and 64-bit
 * long-mode environments built from the public API.
 *
 * Guest-physical layout (identity-mapped in long mode):
 *   0x1000 GDT, 0x2000 IDT, 0x3000 TSS, 0x4000 LDT, 0x10000 code, 0x6000.. handlers,
 *   0x7000 user stack, 0x9000 ring-0 stack; long mode page tables at 0x20000.
 */
#ifndef SOFTVM_TESTS_CPU_PROT_H
#define SOFTVM_TESTS_CPU_PROT_H
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "tests/test.h"

#define RAM_SIZE (2u << 20)
#define GDT 0x1000
#define IDT 0x2000
#define TSS 0x3000
#define LDT 0x4000
#define CODE 0x10000
#define STACK3 0x7000
#define STACK0 0x9000
#define PML4 0x20000

/* Exception exits for every fault vector; not #DE (0), #BP (3), #OF (4), so that the software
 * interrupts of the tests (INT3, INT 0x40/0x80: exec.c tests exits with vec & 31) are delivered. */
#define EXC_MASK_ALL 0xffffffe6u

static uint8_t *ram;

static uint8_t *bus_ram_ptr(void *opaque, uint64_t gpa, bool write)
{
	return gpa < RAM_SIZE ? ram + (gpa & ~0xfffull) : NULL;
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
	return 0xffffffff;
}
static void bus_out(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
}

static const struct cpu_bus test_bus = {
	.ram_ptr = bus_ram_ptr, .mmio_read = bus_mmio_read, .mmio_write = bus_mmio_write,
	.io_in = bus_in, .io_out = bus_out,
};

static inline uint64_t rd64(uint64_t pa) { uint64_t v; memcpy(&v, ram + pa, 8); return v; }
static inline uint32_t rd32(uint64_t pa) { uint32_t v; memcpy(&v, ram + pa, 4); return v; }
static inline uint16_t rd16(uint64_t pa) { uint16_t v; memcpy(&v, ram + pa, 2); return v; }
static inline void wr64(uint64_t pa, uint64_t v) { memcpy(ram + pa, &v, 8); }
static inline void wr32(uint64_t pa, uint32_t v) { memcpy(ram + pa, &v, 4); }
static inline void wr16(uint64_t pa, uint16_t v) { memcpy(ram + pa, &v, 2); }

static inline void put_code(uint64_t pa, const uint8_t *code, size_t len)
{
	memcpy(ram + pa, code, len);
}

/* Segment descriptor from base, byte-granular limit and attr in cpu_seg format
 * (type/S/DPL/P in bits 0..7, AVL/L/DB/G in bits 12..15; G is chosen here from the limit). */
static inline uint64_t mkdesc(uint32_t base, uint32_t limit, uint16_t attr)
{
	attr &= ~0x8000;
	if (limit > 0xfffff) {
		limit >>= 12;
		attr |= 0x8000;
	}
	return (limit & 0xffffull) | ((uint64_t)(base & 0xffffff) << 16) | ((uint64_t)(attr & 0xff) << 40) |
	       ((uint64_t)(limit >> 16 & 0xf) << 48) | ((uint64_t)(attr >> 12 & 0xf) << 52) |
	       ((uint64_t)(base >> 24) << 56);
}

/* Legacy gate: type (4 call16, 5 task, 6/7 int/trap16, 12 call32, 14/15 int/trap32). */
static inline uint64_t mkgate(uint16_t sel, uint32_t off, unsigned type, unsigned dpl, unsigned params)
{
	return (off & 0xffff) | ((uint64_t)sel << 16) | ((uint64_t)(params & 0x1f) << 32) |
	       ((uint64_t)(type | (dpl << 5) | 0x80) << 40) | ((uint64_t)(off >> 16) << 48);
}

/* 64-bit gate (two quadwords) at pa. */
static inline void put_gate64(uint64_t pa, uint16_t sel, uint64_t off, unsigned type, unsigned dpl, unsigned ist)
{
	wr64(pa, (off & 0xffff) | ((uint64_t)sel << 16) | ((uint64_t)ist << 32) |
			 ((uint64_t)(type | (dpl << 5) | 0x80) << 40) | ((off >> 16 & 0xffff) << 48));
	wr64(pa + 8, off >> 32);
}

static inline struct cpu_seg seg_of(uint16_t sel, uint64_t desc)
{
	struct cpu_seg s;
	s.sel = sel;
	s.base = ((desc >> 16) & 0xffffff) | ((desc >> 32) & 0xff000000);
	s.limit = (uint32_t)((desc & 0xffff) | ((desc >> 32) & 0xf0000));
	if (desc & (1ull << 55))
		s.limit = (s.limit << 12) | 0xfff;
	s.attr = (uint16_t)(((desc >> 40) & 0xff) | ((desc >> 40) & 0xf000));
	return s;
}

/* The 32-bit protected-mode GDT used by the tests. */
enum {
	SEL_CODE0 = 0x08,   /* 32-bit code, DPL 0 */
	SEL_DATA0 = 0x10,   /* 32-bit data, DPL 0 (accessed bit clear in the GDT) */
	SEL_CODE3 = 0x18,   /* 32-bit code, DPL 3 */
	SEL_DATA3 = 0x20,   /* 32-bit data, DPL 3 */
	SEL_TSS = 0x28,     /* 32-bit available TSS at TSS */
	SEL_NP = 0x30,      /* writable data, not present */
	SEL_XO = 0x38,      /* execute-only code */
	SEL_RCODE = 0x40,   /* readable code, DPL 0 */
	SEL_RO = 0x48,      /* read-only data, DPL 0 */
	SEL_GATE = 0x50,    /* 32-bit call gate, DPL 3 -> SEL_CODE0:0x6200, 2 parameters */
	SEL_LDT = 0x58,     /* LDT at LDT, 4 entries */
	SEL_CODE16 = 0x60,  /* 16-bit code, DPL 0, base 0, limit 0xffff */
	SEL_CCODE = 0x68,   /* conforming readable code, DPL 0 */
	SEL_GDT_END = 0x70,
};

static inline void build_gdt32(void)
{
	memset(ram + GDT, 0, 0x100);
	wr64(GDT + SEL_CODE0, mkdesc(0, 0xffffffff, 0x409b));
	wr64(GDT + SEL_DATA0, mkdesc(0, 0xffffffff, 0x4092));
	wr64(GDT + SEL_CODE3, mkdesc(0, 0xffffffff, 0x40fb));
	wr64(GDT + SEL_DATA3, mkdesc(0, 0xffffffff, 0x40f3));
	wr64(GDT + SEL_TSS, mkdesc(TSS, 0x67, 0x89));
	wr64(GDT + SEL_NP, mkdesc(0, 0xffffffff, 0x4013));
	wr64(GDT + SEL_XO, mkdesc(0, 0xffffffff, 0x4099));
	wr64(GDT + SEL_RCODE, mkdesc(0, 0xffffffff, 0x409b));
	wr64(GDT + SEL_RO, mkdesc(0, 0xffffffff, 0x4091));
	wr64(GDT + SEL_GATE, mkgate(SEL_CODE0, 0x6200, 12, 3, 2));
	wr64(GDT + SEL_LDT, mkdesc(LDT, 0x1f, 0x82));
	wr64(GDT + SEL_CODE16, mkdesc(0, 0xffff, 0x009b));
	wr64(GDT + SEL_CCODE, mkdesc(0, 0xffffffff, 0x409f));
	/* LDT: entry 1 = DPL 3 data at base 0x100000. */
	memset(ram + LDT, 0, 0x20);
	wr64(LDT + 8, mkdesc(0x100000, 0xffff, 0x00f3));
	/* TSS: ESP0 = STACK0, SS0 = SEL_DATA0. */
	memset(ram + TSS, 0, 0x68);
	wr32(TSS + 4, STACK0);
	wr32(TSS + 8, SEL_DATA0);
}

/* 32-bit protected mode, flat, CPL 0 (cpl = 3: CPL 3 code and data), running at CODE. */
static inline void prot32(struct cpu *c, struct cpu_state *s, unsigned cpl)
{
	memset(ram, 0, RAM_SIZE);
	build_gdt32();
	cpu_reset(c);
	cpu_get_state(c, s);
	s->cr0 = 0x11; /* PE ET */
	s->gdtr = (struct cpu_dtable){ GDT, SEL_GDT_END - 1 };
	s->idtr = (struct cpu_dtable){ IDT, 0x7ff };
	uint16_t cs = cpl ? SEL_CODE3 | 3 : SEL_CODE0, ds = cpl ? SEL_DATA3 | 3 : SEL_DATA0;
	s->seg[S_CS] = seg_of(cs, rd64(GDT + (cs & ~7)) | (1ull << 40));
	for (int k = S_ES; k <= S_GS; k++)
		if (k != S_CS)
			s->seg[k] = seg_of(ds, rd64(GDT + (ds & ~7)) | (1ull << 40));
	s->seg[S_TR] = seg_of(SEL_TSS, rd64(GDT + SEL_TSS) | (2ull << 40));
	s->seg[S_LDTR] = (struct cpu_seg){ 0, 0, 0, 0 };
	s->rip = CODE;
	s->gpr[R_RSP] = cpl ? STACK3 : STACK0;
	s->rflags = 2;
	cpu_set_state(c, s);
}

/* The long-mode GDT: null, 0x08 code64 DPL0, 0x10 data DPL0, 0x18 data DPL3, 0x20 code64 DPL3,
 * 0x28 code32 DPL3 (compatibility mode), 0x30 TSS64 (16 bytes), 0x40 call gate64 (16 bytes). */
enum { L_CODE0 = 0x08, L_DATA0 = 0x10, L_DATA3 = 0x18, L_CODE3 = 0x20, L_CODE32_3 = 0x28, L_TSS = 0x30,
       L_GATE = 0x40, L_GDT_END = 0x50 };

static inline void long_mode(struct cpu *c, struct cpu_state *s, unsigned cpl)
{
	memset(ram, 0, RAM_SIZE);
	/* identity-map the first 2 MiB with a 2 MiB page: PML4 -> PDPT -> PD (PS) */
	wr64(PML4, (PML4 + 0x1000) | 7);
	wr64(PML4 + 0x1000, (PML4 + 0x2000) | 7);
	wr64(PML4 + 0x2000, 0x87);
	wr64(GDT + L_CODE0, mkdesc(0, 0xffffffff, 0xa09b));
	wr64(GDT + L_DATA0, mkdesc(0, 0xffffffff, 0xc093));
	wr64(GDT + L_DATA3, mkdesc(0, 0xffffffff, 0xc0f3));
	wr64(GDT + L_CODE3, mkdesc(0, 0xffffffff, 0xa0fb));
	wr64(GDT + L_CODE32_3, mkdesc(0, 0xffffffff, 0xc0fb));
	wr64(GDT + L_TSS, mkdesc(TSS, 0x67, 0x89));
	wr64(GDT + L_TSS + 8, 0);
	wr64(TSS + 4, 0x90000); /* RSP0 */
	cpu_reset(c);
	cpu_get_state(c, s);
	s->cr0 = 0x80000011; /* PG PE ET */
	s->cr4 = 0x20;       /* PAE */
	s->cr3 = PML4;
	s->efer = 0x500; /* LME LMA */
	s->gdtr = (struct cpu_dtable){ GDT, L_GDT_END - 1 };
	s->idtr = (struct cpu_dtable){ IDT, 0xfff };
	uint16_t cs = cpl ? L_CODE3 | 3 : L_CODE0, ds = cpl ? L_DATA3 | 3 : L_DATA0;
	s->seg[S_CS] = seg_of(cs, rd64(GDT + (cs & ~7)) | (1ull << 40));
	for (int k = S_ES; k <= S_GS; k++)
		if (k != S_CS)
			s->seg[k] = seg_of(ds, rd64(GDT + (ds & ~7)) | (1ull << 40));
	s->seg[S_TR] = seg_of(L_TSS, rd64(GDT + L_TSS) | (2ull << 40));
	s->seg[S_LDTR] = (struct cpu_seg){ 0, 0, 0, 0 };
	s->rip = CODE;
	s->gpr[R_RSP] = 0x70000;
	s->rflags = 2;
	cpu_set_state(c, s);
}

/* Runs one instruction; returns the exit reason, leaves the state in *s. */
static inline enum cpu_exit step(struct cpu *c, struct cpu_state *s)
{
	enum cpu_exit e = cpu_step(c);
	cpu_get_state(c, s);
	return e;
}

/* Runs one instruction expecting exception vec with error code err (exception exits on). */
static inline bool step_faults(struct cpu *c, int vec, uint32_t err)
{
	cpu_set_exception_exits(c, EXC_MASK_ALL);
	enum cpu_exit e = cpu_step(c);
	cpu_set_exception_exits(c, 0);
	uint32_t got_err = 0;
	int got = cpu_last_exception(c, &got_err);
	if (e != CPU_EXIT_EXCEPTION || got != vec || got_err != err) {
		printf("  (exit %d, vector %d err %#x; wanted vector %d err %#x)\n", e, got, got_err, vec, err);
		return false;
	}
	return true;
}

static inline struct cpu *test_cpu(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	memset(ram, 0, RAM_SIZE);
	return cpu_create(&test_bus);
}
#endif
