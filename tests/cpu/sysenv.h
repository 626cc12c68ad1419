/*
 * Test environment for system-level CPU tests (test_system.c, test_paging.c): guest RAM on a
 * recording bus, guest code assembled in the test file (SNIP), and ready-made machine states
 * (real mode, flat 32-bit protected mode, 64-bit mode at CPL 0 or 3).
 *
 * Guest-physical layout:
 *   0x1000 PML4, 0x2000 PDPT, 0x3000 PD, 0x4000 PT: identity map of 0..2 MiB, 4 KiB user pages
 *   0x5000 GDT, 0x6000 TSS, 0x10000 code, 0x11000 second code page (kernel entry points),
 *   0x20000 data, 0x80000 top of the stack.
 */
#ifndef SOFTVM_TESTS_SYSENV_H
#define SOFTVM_TESTS_SYSENV_H
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "tests/test.h"

#define RAM_SIZE (16u << 20)
#define PML4 0x1000
#define PDPT 0x2000
#define PD 0x3000
#define PT 0x4000
#define GDT 0x5000
#define TSS 0x6000
#define CODE 0x10000
#define KCODE 0x11000
#define DATA 0x20000
#define STACK 0x80000

/* GDT selectors (Linux's layout, so STAR values look familiar). */
#define SEL_KCODE32 0x08
#define SEL_KCODE64 0x10
#define SEL_KDATA 0x18
#define SEL_UCODE32 0x23
#define SEL_UDATA 0x2b
#define SEL_UCODE64 0x33
#define SEL_TSS 0x40

#define A_CODE64 0xa09b
#define A_CODE32 0xc09b
#define A_DATA 0xc093
#define A_DPL3 0x60

static uint8_t *ram;

/* ---- bus ---- */
struct io_rec {
	uint16_t port;
	uint8_t size, out;
	uint32_t val;
};
static struct io_rec io_log[16];
static unsigned io_n;
static uint32_t io_in_value = 0x87654321;

#define BUS_MSR 0x40001234 /* an MSR the bus owns */
static uint64_t bus_msr_value = 0x1122334455667788ull;

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

static uint32_t bus_io_in(void *opaque, uint16_t port, unsigned size)
{
	uint32_t v = size == 4 ? io_in_value : io_in_value & ((1u << (8 * size)) - 1);
	if (io_n < 16)
		io_log[io_n++] = (struct io_rec){ port, (uint8_t)size, 0, v };
	return v;
}

static void bus_io_out(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
	if (io_n < 16)
		io_log[io_n++] = (struct io_rec){ port, (uint8_t)size, 1, val };
}

static bool bus_msr_read(void *opaque, uint32_t msr, uint64_t *val)
{
	if (msr != BUS_MSR)
		return false;
	*val = bus_msr_value;
	return true;
}

static bool bus_msr_write(void *opaque, uint32_t msr, uint64_t val)
{
	if (msr != BUS_MSR)
		return false;
	bus_msr_value = val;
	return true;
}

/* INTR acknowledge: the vector to deliver, or -1. */
static int intr_vector = -1;
static int bus_intr_ack(void *opaque)
{
	return intr_vector;
}

static const struct cpu_bus test_bus = {
	.ram_ptr = bus_ram_ptr, .mmio_read = bus_mmio_read, .mmio_write = bus_mmio_write,
	.io_in = bus_io_in, .io_out = bus_io_out, .msr_read = bus_msr_read, .msr_write = bus_msr_write,
	.intr_ack = bus_intr_ack,
};

/* ---- guest code ----
 * SNIP(name, 16|32|64, "asm; asm; ...") assembles Intel-syntax code into name[]..name_end[]. */
#define SNIP(name, bits, text)                                                                    \
	extern const uint8_t name[], name##_end[];                                                 \
	__asm__(".pushsection .rodata.snip,\"a\"\n.globl " #name "\n.globl " #name "_end\n"         \
		".code" #bits "\n.intel_syntax noprefix\n" #name ":\n" text "\n" #name "_end:\n"   \
		".att_syntax prefix\n.code64\n.popsection\n")

#define LOAD(addr, name) memcpy(ram + (addr), name, (size_t)(name##_end - name))
#define SNIP_LEN(name) ((uint64_t)(name##_end - name))

static uint64_t *pte(uint64_t pa)
{
	return (uint64_t *)(ram + pa);
}

/* 8-byte code/data descriptor, flat 4 GiB: attr as in struct cpu_seg. */
static inline uint64_t flat_desc(uint16_t attr)
{
	return 0xffffull | (0xfull << 48) | ((uint64_t)(attr & 0xff) << 40) | ((uint64_t)(attr & 0xf000) << 40);
}

static inline void gdt_build(void)
{
	*pte(GDT + SEL_KCODE32) = flat_desc(A_CODE32);
	*pte(GDT + SEL_KCODE64) = flat_desc(A_CODE64);
	*pte(GDT + SEL_KDATA) = flat_desc(A_DATA);
	*pte(GDT + (SEL_UCODE32 & ~3)) = flat_desc(A_CODE32 | A_DPL3);
	*pte(GDT + (SEL_UDATA & ~3)) = flat_desc(A_DATA | A_DPL3);
	*pte(GDT + (SEL_UCODE64 & ~3)) = flat_desc(A_CODE64 | A_DPL3);
}

static inline void seg_set(struct cpu_state *s, int k, uint16_t sel, uint16_t attr)
{
	s->seg[k] = (struct cpu_seg){ .sel = sel, .attr = attr, .limit = 0xffffffff, .base = 0 };
}

/* Identity map of 0..2 MiB with 4 KiB user/writable pages. */
static inline void map_identity_2m(void)
{
	*pte(PML4) = PDPT | 7;
	*pte(PDPT) = PD | 7;
	*pte(PD) = PT | 7;
	for (int k = 0; k < 512; k++)
		*pte(PT + 8 * k) = (uint64_t)k * 4096 | 7;
}

static inline void env_clear(struct cpu *c, struct cpu_state *s)
{
	memset(ram, 0, RAM_SIZE);
	io_n = 0;
	intr_vector = -1;
	cpu_set_intr(c, false);
	cpu_reset(c);
	cpu_get_state(c, s);
	gdt_build();
	s->gdtr = (struct cpu_dtable){ .base = GDT, .limit = 0x7f };
	s->gpr[R_RSP] = STACK;
	s->rip = CODE;
	s->rflags = 2;
}

/* 64-bit mode with 4-level paging, at CPL 0 or 3. */
static inline void env_long(struct cpu *c, struct cpu_state *s, int cpl)
{
	env_clear(c, s);
	map_identity_2m();
	s->cr0 = 0x80000033; /* PG NE ET MP PE */
	s->cr4 = 0x6a0;      /* OSXMMEXCPT OSFXSR PGE PAE */
	s->cr3 = PML4;
	s->efer = 0xd01; /* NXE LMA LME SCE */
	if (cpl == 3) {
		seg_set(s, S_CS, SEL_UCODE64, A_CODE64 | A_DPL3);
		for (int k = S_ES; k <= S_GS; k++)
			if (k != S_CS)
				seg_set(s, k, SEL_UDATA, A_DATA | A_DPL3);
	} else {
		seg_set(s, S_CS, SEL_KCODE64, A_CODE64);
		for (int k = S_ES; k <= S_GS; k++)
			if (k != S_CS)
				seg_set(s, k, SEL_KDATA, A_DATA);
	}
}

/* Flat 32-bit protected mode, paging off, at CPL 0 or 3. */
static inline void env_prot32(struct cpu *c, struct cpu_state *s, int cpl)
{
	env_clear(c, s);
	s->cr0 = 0x00000033;
	s->cr4 = 0x600;
	if (cpl == 3) {
		seg_set(s, S_CS, SEL_UCODE32, A_CODE32 | A_DPL3);
		for (int k = S_ES; k <= S_GS; k++)
			if (k != S_CS)
				seg_set(s, k, SEL_UDATA, A_DATA | A_DPL3);
	} else {
		seg_set(s, S_CS, SEL_KCODE32, A_CODE32);
		for (int k = S_ES; k <= S_GS; k++)
			if (k != S_CS)
				seg_set(s, k, SEL_KDATA, A_DATA);
	}
}

/* Real mode, CS = DS = ... = 0, IP = CODE & 0xffff with CS base CODE & ~0xffff. */
static inline void env_real(struct cpu *c, struct cpu_state *s)
{
	env_clear(c, s);
	s->seg[S_CS].sel = CODE >> 4;
	s->seg[S_CS].base = CODE;
	s->rip = 0;
	s->gpr[R_RSP] = 0xfff0;
}

/* Runs from state s until an exception (all are intercepted), HLT or the budget; s is updated. */
static inline enum cpu_exit run_state(struct cpu *c, struct cpu_state *s)
{
	cpu_set_state(c, s);
	cpu_set_exception_exits(c, ~0u);
	enum cpu_exit r = cpu_run(c, 100000);
	cpu_get_state(c, s);
	return r;
}

/* The exception the run ended with, -1 if it did not end with one. */
static inline int run_exc(struct cpu *c, struct cpu_state *s, uint32_t *err)
{
	enum cpu_exit r = run_state(c, s);
	if (r != CPU_EXIT_EXCEPTION)
		return -1;
	return cpu_last_exception(c, err);
}

#endif
