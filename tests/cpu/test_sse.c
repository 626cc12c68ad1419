/*
 * Unit tests of the SIMD availability checks that a user-mode differential test cannot reach:
 * CR0.EM, CR0.TS, CR4.OSFXSR and CR4.OSXMMEXCPT for SSE, MMX and FXSAVE instructions, and
 * unmasked SIMD exceptions as #XM or #UD.
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

/* Runs one instruction (bytes) in 64-bit mode with the given CR0/CR4 bits changed; returns the
 * exception vector or -1. RAX points at 16-byte aligned data. */
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
	s.fx.fcw = 0x37f;
	s.fx.mxcsr = mxcsr;
	s.fx.mxcsr_mask = 0xffff;
	float one = 1.0f, zero = 0.0f;
	memcpy(s.fx.xmm[0], &one, 4);
	memcpy(s.fx.xmm[1], &zero, 4);
	cpu_set_state(c, &s);
	cpu_set_exception_exits(c, ~0u);
	enum cpu_exit r = cpu_run(c, 2);
	if (out)
		cpu_get_state(c, out);
	if (r != CPU_EXIT_EXCEPTION)
		return -1;
	return cpu_last_exception(c, NULL);
}

int main(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	struct cpu *c = cpu_create(&bus);
	const uint8_t addps[] = { 0x0f, 0x58, 0xc1 };
	const uint8_t paddb_mm[] = { 0x0f, 0xfc, 0xc1 };
	const uint8_t paddb_xmm[] = { 0x66, 0x0f, 0xfc, 0xc1 };
	const uint8_t fxsave[] = { 0x0f, 0xae, 0x00 };
	const uint8_t ldmxcsr[] = { 0x0f, 0xae, 0x10 };
	const uint8_t divss[] = { 0xf3, 0x0f, 0x5e, 0xc1 };
	const uint8_t emms[] = { 0x0f, 0x77 };
	const uint8_t cvtpi2ps_mm[] = { 0x0f, 0x2a, 0xc1 };
	struct cpu_state s;

	CHECK(run1(c, addps, 3, 0, 0, 0x1f80, NULL) == -1, "sse: ADDPS runs with OSFXSR");
	CHECK(run1(c, addps, 3, CR0_TS, 0, 0x1f80, NULL) == 7, "sse: ADDPS with CR0.TS is #NM");
	CHECK(run1(c, addps, 3, CR0_EM, 0, 0x1f80, NULL) == 6, "sse: ADDPS with CR0.EM is #UD");
	CHECK(run1(c, addps, 3, CR0_EM | CR0_TS, 0, 0x1f80, NULL) == 6, "sse: ADDPS #UD before #NM");
	CHECK(run1(c, addps, 3, 0, CR4_OSFXSR, 0x1f80, NULL) == 6, "sse: ADDPS without OSFXSR is #UD");
	CHECK(run1(c, paddb_xmm, 4, 0, CR4_OSFXSR, 0x1f80, NULL) == 6, "sse: PADDB xmm without OSFXSR is #UD");
	CHECK(run1(c, ldmxcsr, 3, 0, CR4_OSFXSR, 0x1f80, NULL) == 6, "sse: LDMXCSR without OSFXSR is #UD");
	CHECK(run1(c, paddb_mm, 3, 0, CR4_OSFXSR, 0x1f80, &s) == -1 && s.fx.ftw == 0xff,
	      "mmx: PADDB mm runs without OSFXSR and tags all valid");
	CHECK(run1(c, paddb_mm, 3, CR0_TS, 0, 0x1f80, NULL) == 7, "mmx: PADDB mm with CR0.TS is #NM");
	CHECK(run1(c, paddb_mm, 3, CR0_EM, 0, 0x1f80, NULL) == 6, "mmx: PADDB mm with CR0.EM is #UD");
	CHECK(run1(c, emms, 2, CR0_TS, 0, 0x1f80, NULL) == 7, "mmx: EMMS with CR0.TS is #NM");
	CHECK(run1(c, cvtpi2ps_mm, 3, 0, CR4_OSFXSR, 0x1f80, NULL) == 6, "sse: CVTPI2PS without OSFXSR is #UD");
	CHECK(run1(c, fxsave, 3, CR0_EM, 0, 0x1f80, NULL) == 7, "sse: FXSAVE with CR0.EM is #NM");
	CHECK(run1(c, fxsave, 3, CR0_TS, 0, 0x1f80, NULL) == 7, "sse: FXSAVE with CR0.TS is #NM");
	CHECK(run1(c, fxsave, 3, 0, 0, 0x1f80, NULL) == -1, "sse: FXSAVE runs");
	CHECK(run1(c, divss, 4, 0, 0, 0x1f80, &s) == -1 && (s.fx.mxcsr & 0x3f) == 0x4,
	      "sse: masked divide by zero sets ZE");
	CHECK(run1(c, divss, 4, 0, 0, 0x1d80, &s) == 19 && s.fx.mxcsr == 0x1d84, "sse: unmasked ZE is #XM");
	CHECK(run1(c, divss, 4, 0, CR4_OSXMMEXCPT, 0x1d80, &s) == 6 && s.fx.mxcsr == 0x1d84,
	      "sse: unmasked ZE without OSXMMEXCPT is #UD");
	uint32_t inf = 0x7f800000, got;
	memcpy(&got, s.fx.xmm[0], 4);
	CHECK(got != inf, "sse: #XM leaves the destination alone");
	cpu_destroy(c);
	free(ram);
	TEST_EXIT();
}
