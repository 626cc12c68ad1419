/*
 * Unit tests of the availability checks for SSE3/SSSE3/SSE4 instructions that a user-mode
 * differential test cannot reach: CR0.EM, CR0.TS, CR4.OSFXSR and CR4.OSXMMEXCPT for the XMM and
 * the SSSE3 MMX forms; CRC32, a general-purpose instruction, ignores all of them.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "tests/test.h"

#define RAM_SIZE (1u << 20)
#define PML4 0x1000
#define PDPT 0x2000
#define PD 0x3000
#define PT 0x4000
#define CODE 0x10000
#define DATA 0x20000

#define CR0_EM 0x4
#define CR0_TS 0x8
#define CR4_OSFXSR 0x200
#define CR4_OSXMMEXCPT 0x400

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

static const struct cpu_bus bus = { .ram_ptr = bus_ram_ptr, .mmio_read = bus_mmio_read, .mmio_write = bus_mmio_write };

/* Runs one instruction in 64-bit mode with the given CR0 bits set and CR4 bits cleared; XMM0 = 1.0f,
 * XMM1 = 1.5f, ECX = 0x5a. Returns the exception vector or -1. */
static int run1(struct cpu *c, const uint8_t *code, unsigned len, uint64_t cr0_set, uint64_t cr4_clear, uint32_t mxcsr,
		struct cpu_state *out)
{
	struct cpu_state s;
	memset(ram, 0, RAM_SIZE);
	uint64_t *pt = (uint64_t *)ram;
	pt[PML4 / 8] = PDPT | 7;
	pt[PDPT / 8] = PD | 7;
	pt[PD / 8] = PT | 7;
	for (int k = 0; k < 256; k++)
		pt[PT / 8 + k] = (uint64_t)k * 4096 | 7;
	memcpy(ram + CODE, code, len);
	ram[CODE + len] = 0xf4; /* HLT */
	cpu_reset(c);
	cpu_get_state(c, &s);
	s.cr0 = 0x80000033 | cr0_set;
	s.cr4 = (0x6a0 | CR4_OSFXSR | CR4_OSXMMEXCPT) & ~cr4_clear;
	s.cr3 = PML4;
	s.efer = 0xd01;
	s.seg[S_CS] = (struct cpu_seg){ .sel = 8, .attr = 0xa09b, .limit = 0xffffffff };
	for (int k = S_ES; k <= S_GS; k++)
		if (k != S_CS)
			s.seg[k] = (struct cpu_seg){ .sel = 16, .attr = 0xc093, .limit = 0xffffffff };
	s.rip = CODE;
	s.rflags = 2;
	s.gpr[R_RSP] = 0x80000;
	s.gpr[R_RAX] = DATA;
	s.gpr[R_RCX] = 0x5a;
	s.fx.fcw = 0x37f;
	s.fx.mxcsr = mxcsr;
	s.fx.mxcsr_mask = 0xffff;
	float one = 1.0f, onehalf = 1.5f;
	memcpy(s.fx.xmm[0], &one, 4);
	memcpy(s.fx.xmm[1], &onehalf, 4);
	cpu_set_state(c, &s);
	cpu_set_exception_exits(c, ~0u);
	enum cpu_exit r = cpu_run(c, 2);
	if (out)
		cpu_get_state(c, out);
	if (r != CPU_EXIT_EXCEPTION)
		return -1;
	return cpu_last_exception(c, NULL);
}

struct form {
	const char *name;
	uint8_t len;
	uint8_t bytes[8];
};

int main(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	struct cpu *c = cpu_create(&bus);
	struct cpu_state s;
	static const struct form xmm_forms[] = {
		{ "HADDPS", 4, { 0xf2, 0x0f, 0x7c, 0xc1 } },
		{ "MOVDDUP", 4, { 0xf2, 0x0f, 0x12, 0xc1 } },
		{ "PSHUFB xmm", 5, { 0x66, 0x0f, 0x38, 0x00, 0xc1 } },
		{ "PSHUFB mm", 4, { 0x0f, 0x38, 0x00, 0xc1 } },
		{ "PALIGNR mm", 5, { 0x0f, 0x3a, 0x0f, 0xc1, 0x03 } },
		{ "PMULLD", 5, { 0x66, 0x0f, 0x38, 0x40, 0xc1 } },
		{ "ROUNDSS", 6, { 0x66, 0x0f, 0x3a, 0x0a, 0xc1, 0x08 } },
		{ "DPPS", 6, { 0x66, 0x0f, 0x3a, 0x40, 0xc1, 0xff } },
		{ "PTEST", 5, { 0x66, 0x0f, 0x38, 0x17, 0xc1 } },
		{ "PCMPISTRI", 6, { 0x66, 0x0f, 0x3a, 0x63, 0xc1, 0x0c } },
		{ "PCMPESTRM", 6, { 0x66, 0x0f, 0x3a, 0x60, 0xc1, 0x0c } },
		{ "PCMPGTQ", 5, { 0x66, 0x0f, 0x38, 0x37, 0xc1 } },
		{ "PEXTRB", 6, { 0x66, 0x0f, 0x3a, 0x14, 0xc0, 0x01 } },
	};
	for (unsigned k = 0; k < sizeof(xmm_forms) / sizeof(xmm_forms[0]); k++) {
		const struct form *f = &xmm_forms[k];
		CHECK(run1(c, f->bytes, f->len, 0, 0, 0x1f80, NULL) == -1, "sse4: %s runs", f->name);
		CHECK(run1(c, f->bytes, f->len, CR0_TS, 0, 0x1f80, NULL) == 7, "sse4: %s with CR0.TS is #NM", f->name);
		CHECK(run1(c, f->bytes, f->len, CR0_EM, 0, 0x1f80, NULL) == 6, "sse4: %s with CR0.EM is #UD", f->name);
		CHECK(run1(c, f->bytes, f->len, CR0_EM | CR0_TS, 0, 0x1f80, NULL) == 6, "sse4: %s #UD before #NM",
		      f->name);
		CHECK(run1(c, f->bytes, f->len, 0, CR4_OSFXSR, 0x1f80, NULL) == 6, "sse4: %s without OSFXSR is #UD",
		      f->name);
	}
	const uint8_t pshufb_mm[] = { 0x0f, 0x38, 0x00, 0xc1 };
	CHECK(run1(c, pshufb_mm, 4, 0, 0, 0x1f80, &s) == -1 && s.fx.ftw == 0xff, "sse4: PSHUFB mm tags all valid");

	const uint8_t crc32[] = { 0xf2, 0x0f, 0x38, 0xf0, 0xc1 }; /* crc32 eax, cl */
	/* CRC-32C of the byte 0x5a from 0x20000, as the host's CRC32 computes it */
	CHECK(run1(c, crc32, 5, CR0_TS | CR0_EM, CR4_OSFXSR, 0x1f80, &s) == -1 && s.gpr[R_RAX] == 0x3ac7f0eb,
	      "sse4: CRC32 ignores CR0.TS, CR0.EM and CR4.OSFXSR");

	/* ROUNDSS xmm0, xmm1, 0: 1.5 to nearest even is 2.0, inexact. */
	const uint8_t roundss[] = { 0x66, 0x0f, 0x3a, 0x0a, 0xc1, 0x00 };
	const uint8_t roundss_nope[] = { 0x66, 0x0f, 0x3a, 0x0a, 0xc1, 0x08 };
	uint32_t got;
	CHECK(run1(c, roundss, 6, 0, 0, 0x1f80, &s) == -1 && (s.fx.mxcsr & 0x3f) == 0x20 &&
	      (memcpy(&got, s.fx.xmm[0], 4), got == 0x40000000), "sse4: ROUNDSS 1.5 gives 2.0 and PE");
	CHECK(run1(c, roundss, 6, 0, 0, 0x0f80, &s) == 19 && s.fx.mxcsr == 0x0fa0 &&
	      (memcpy(&got, s.fx.xmm[0], 4), got == 0x3f800000), "sse4: ROUNDSS unmasked PE is #XM, destination kept");
	CHECK(run1(c, roundss, 6, 0, CR4_OSXMMEXCPT, 0x0f80, &s) == 6 && s.fx.mxcsr == 0x0fa0,
	      "sse4: ROUNDSS unmasked PE without OSXMMEXCPT is #UD");
	CHECK(run1(c, roundss_nope, 6, 0, 0, 0x0f80, &s) == -1 && s.fx.mxcsr == 0x0f80,
	      "sse4: ROUNDSS with imm8 bit 3 suppresses PE");

	const uint8_t monitor[] = { 0x0f, 0x01, 0xc8 };
	const uint8_t mwait[] = { 0x0f, 0x01, 0xc9 };
	CHECK(run1(c, monitor, 3, 0, 0, 0x1f80, NULL) == 6, "sse3: MONITOR is #UD (not in CPUID)");
	CHECK(run1(c, mwait, 3, 0, 0, 0x1f80, NULL) == 6, "sse3: MWAIT is #UD (not in CPUID)");
	const uint8_t lock_pshufb[] = { 0xf0, 0x66, 0x0f, 0x38, 0x00, 0xc1 };
	CHECK(run1(c, lock_pshufb, 6, 0, 0, 0x1f80, NULL) == 6, "sse4: LOCK PSHUFB is #UD");
	const uint8_t lock_crc32[] = { 0xf0, 0xf2, 0x0f, 0x38, 0xf0, 0x00 };
	CHECK(run1(c, lock_crc32, 6, 0, 0, 0x1f80, NULL) == 6, "sse4: LOCK CRC32 is #UD");
	cpu_destroy(c);
	free(ram);
	TEST_EXIT();
}
