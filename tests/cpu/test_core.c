/*
 * Unit tests of the CPU core: the run loop, the code cache and its invalidation (self-modifying
 * code, DMA writes), the TLB and the page walker (accessed/dirty bits, faults and CR2), page-
 * crossing instructions and the exception-exit interface.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "tests/test.h"

#define RAM_SIZE (4u << 20)
static uint8_t *ram;

static uint8_t *bus_ram_ptr(void *opaque, uint64_t gpa, bool write)
{
	if (gpa >= 0xffff0000ull) /* reset vector: alias of the top 64 KiB of the first MiB (ROM) */
		return write ? NULL : ram + 0xf0000 + (gpa & 0xf000);
	return gpa < RAM_SIZE ? ram + gpa : NULL;
}
static uint64_t mmio_last_addr, mmio_writes;
static uint64_t bus_mmio_read(void *opaque, uint64_t gpa, unsigned size)
{
	mmio_last_addr = gpa;
	return 0x5a5a5a5a5a5a5a5aull;
}
static void bus_mmio_write(void *opaque, uint64_t gpa, unsigned size, uint64_t val)
{
	mmio_last_addr = gpa;
	mmio_writes++;
}
static uint32_t bus_in(void *opaque, uint16_t port, unsigned size)
{
	return 0xffffffff;
}
static void bus_out(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
}

static const struct cpu_bus bus = {
	.ram_ptr = bus_ram_ptr, .mmio_read = bus_mmio_read, .mmio_write = bus_mmio_write,
	.io_in = bus_in, .io_out = bus_out,
};

/* Guest-physical layout for the long-mode tests. */
#define PML4 0x1000
#define PDPT 0x2000
#define PD 0x3000
#define PT 0x4000
#define CODE 0x10000 /* identity-mapped, first 2 MiB via PT */

static uint64_t *pte(uint64_t pa)
{
	return (uint64_t *)(ram + pa);
}

/* 4-level paging: identity-map 0..2 MiB with 4 KiB pages (present, writable, user). */
static void long_mode(struct cpu *c, struct cpu_state *s)
{
	memset(ram, 0, RAM_SIZE);
	*pte(PML4) = PDPT | 7;
	*pte(PDPT) = PD | 7;
	*pte(PD) = PT | 7;
	for (int k = 0; k < 512; k++)
		*pte(PT + 8 * k) = (uint64_t)k * 4096 | 7;
	cpu_reset(c);
	cpu_get_state(c, s);
	s->cr0 = 0x80000033; /* PG PE MP ET NE */
	s->cr4 = 0x6a0;      /* PAE PGE OSFXSR OSXMMEXCPT */
	s->cr3 = PML4;
	s->efer = 0xd01; /* SCE LME LMA NXE */
	s->seg[S_CS] = (struct cpu_seg){ .sel = 8, .attr = 0xa09b, .limit = 0xffffffff };
	for (int k = S_ES; k <= S_GS; k++)
		if (k != S_CS)
			s->seg[k] = (struct cpu_seg){ .sel = 16, .attr = 0xc093, .limit = 0xffffffff };
	s->rip = CODE;
	s->gpr[R_RSP] = 0x80000;
	s->rflags = 2;
}

static enum cpu_exit run(struct cpu *c, struct cpu_state *s, const void *code, size_t len)
{
	memcpy(ram + CODE, code, len);
	cpu_set_state(c, s);
	cpu_set_exception_exits(c, ~0u);
	if (getenv("CORE_TRACE"))
		cpu_set_trace(c, stderr);
	enum cpu_exit r = cpu_run(c, 100000);
	cpu_get_state(c, s);
	return r;
}

static void test_real_mode_reset(struct cpu *c)
{
	struct cpu_state s;
	memset(ram, 0, RAM_SIZE);
	/* F000:FFF0: mov ax, 0x1234 ; mov bx, ax ; ud2 */
	static const uint8_t code[] = { 0xb8, 0x34, 0x12, 0x89, 0xc3, 0x0f, 0x0b };
	memcpy(ram + 0xffff0, code, sizeof(code));
	cpu_reset(c);
	cpu_set_exception_exits(c, ~0u);
	enum cpu_exit r = cpu_run(c, 1000);
	cpu_get_state(c, &s);
	uint32_t err;
	CHECK(r == CPU_EXIT_EXCEPTION && cpu_last_exception(c, &err) == 6, "core: reset vector runs, UD2 raises #UD");
	CHECK((s.gpr[R_RBX] & 0xffff) == 0x1234 && s.rip == 0xfff5, "core: real-mode MOVs at F000:FFF0 (bx=%llx ip=%llx)",
	      (unsigned long long)s.gpr[R_RBX], (unsigned long long)s.rip);
}

static void test_long_mode_basic(struct cpu *c)
{
	struct cpu_state s;
	long_mode(c, &s);
	/* mov rax, 0x1122334455667788 ; mov [0x20000], rax ; mov ecx, [0x20004] ; ud2 */
	static const uint8_t code[] = { 0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
					0x48, 0x89, 0x04, 0x25, 0x00, 0x00, 0x02, 0x00,
					0x8b, 0x0c, 0x25, 0x04, 0x00, 0x02, 0x00, 0x0f, 0x0b };
	enum cpu_exit r = run(c, &s, code, sizeof(code));
	CHECK(r == CPU_EXIT_EXCEPTION && cpu_last_exception(c, NULL) == 6, "core: long mode runs to UD2");
	CHECK(s.gpr[R_RCX] == 0x11223344 && *(uint64_t *)(ram + 0x20000) == 0x1122334455667788ull,
	      "core: 64-bit loads and stores through the TLB");
	/* Accessed and dirty bits: PTE of page 0x20 has A and D, the code page only A. */
	CHECK((*pte(PT + 8 * 0x20) & 0x60) == 0x60, "core: dirty and accessed bits written back");
	CHECK((*pte(PT + 8 * 0x10) & 0x60) == 0x20, "core: code page accessed, not dirty");
	CHECK((*pte(PML4) & 0x20) && (*pte(PDPT) & 0x20) && (*pte(PD) & 0x20), "core: accessed bits in upper levels");
}

static void test_page_fault(struct cpu *c)
{
	struct cpu_state s;
	long_mode(c, &s);
	*pte(PT + 8 * 0x30) = 0; /* page 0x30000 not present */
	*pte(PT + 8 * 0x31) = 0x31000 | 5; /* read-only, user */
	/* mov eax, [0x30010] */
	static const uint8_t rd[] = { 0x8b, 0x04, 0x25, 0x10, 0x00, 0x03, 0x00 };
	enum cpu_exit r = run(c, &s, rd, sizeof(rd));
	uint32_t err;
	int vec = cpu_last_exception(c, &err);
	CHECK(r == CPU_EXIT_EXCEPTION && vec == 14 && err == 0 && s.cr2 == 0x30010 && s.rip == CODE,
	      "core: #PF not-present read, error 0, CR2, RIP at the instruction (vec=%d err=%x cr2=%llx)", vec, err,
	      (unsigned long long)s.cr2);
	/* mov [0x31008], eax with CR0.WP: protection fault, error P|W */
	static const uint8_t wr[] = { 0x89, 0x04, 0x25, 0x08, 0x10, 0x03, 0x00 };
	long_mode(c, &s);
	*pte(PT + 8 * 0x31) = 0x31000 | 5;
	s.cr0 |= 1u << 16;
	r = run(c, &s, wr, sizeof(wr));
	vec = cpu_last_exception(c, &err);
	CHECK(r == CPU_EXIT_EXCEPTION && vec == 14 && err == 3 && s.cr2 == 0x31008, "core: #PF write to read-only page with WP (err=%x)",
	      err);
	/* Without WP, supervisor writes to read-only pages succeed. */
	long_mode(c, &s);
	*pte(PT + 8 * 0x31) = 0x31000 | 5;
	static const uint8_t wr2[] = { 0x89, 0x04, 0x25, 0x08, 0x10, 0x03, 0x00, 0x0f, 0x0b };
	s.gpr[R_RAX] = 0xabcd;
	r = run(c, &s, wr2, sizeof(wr2));
	CHECK(cpu_last_exception(c, NULL) == 6 && *(uint32_t *)(ram + 0x31008) == 0xabcd, "core: CR0.WP=0 supervisor write");
	/* A write that crosses into a non-present page faults without writing the first page. */
	long_mode(c, &s);
	*pte(PT + 8 * 0x30) = 0;
	static const uint8_t cross[] = { 0x48, 0x89, 0x04, 0x25, 0xfc, 0xff, 0x02, 0x00 }; /* mov [0x2fffc], rax */
	s.gpr[R_RAX] = ~0ull;
	r = run(c, &s, cross, sizeof(cross));
	vec = cpu_last_exception(c, &err);
	CHECK(vec == 14 && s.cr2 == 0x30000 && err == 2 && *(uint32_t *)(ram + 0x2fffc) == 0,
	      "core: page-crossing write faults on the second page, nothing written (cr2=%llx err=%x)",
	      (unsigned long long)s.cr2, err);
	/* User access to a supervisor page. */
	long_mode(c, &s);
	*pte(PT + 8 * 0x30) = 0x30000 | 3;
	s.seg[S_CS].sel = 0x2b;
	s.seg[S_CS].attr = 0xa0fb;
	s.seg[S_SS].sel = 0x23;
	s.seg[S_SS].attr = 0xc0f3;
	r = run(c, &s, rd, sizeof(rd));
	vec = cpu_last_exception(c, &err);
	CHECK(vec == 14 && err == 5, "core: CPL 3 read of a supervisor page: error P|U (err=%x)", err);
	/* NX: executing from a page with XD set. */
	long_mode(c, &s);
	*pte(PT + 8 * 0x10) |= 1ull << 63;
	r = run(c, &s, rd, sizeof(rd));
	vec = cpu_last_exception(c, &err);
	CHECK(vec == 14 && err == 0x11 && s.cr2 == CODE, "core: fetch from an NX page: error P|I (err=%x)", err);
	/* Reserved bit in a PTE. */
	long_mode(c, &s);
	*pte(PT + 8 * 0x30) = 0x30000 | 3 | (1ull << 45);
	r = run(c, &s, rd, sizeof(rd));
	vec = cpu_last_exception(c, &err);
	CHECK(vec == 14 && err == 9, "core: reserved PTE bit: error P|RSVD (err=%x)", err);
}

static void test_smc(struct cpu *c)
{
	struct cpu_state s;
	long_mode(c, &s);
	/* mov byte [CODE+11], 0x42 ; mov eax, 0x00000001 (imm patched to 0x42 before it runs) ; ud2 */
	static const uint8_t code[] = { 0xc6, 0x04, 0x25, 0x0b, 0x00, 0x01, 0x00, 0x42,
					0x90, 0x90, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0x0b };
	/* byte 11 is the first immediate byte of the mov eax at offset 10 */
	enum cpu_exit r = run(c, &s, code, sizeof(code));
	CHECK(r == CPU_EXIT_EXCEPTION && s.gpr[R_RAX] == 0x42, "core: self-modifying code inside the running block (eax=%llx)",
	      (unsigned long long)s.gpr[R_RAX]);
	/* Run the patched code again from cache, then patch behind the CPU's back (DMA). */
	s.rip = CODE + 10;
	cpu_set_state(c, &s);
	cpu_run(c, 1000);
	cpu_get_state(c, &s);
	CHECK(s.gpr[R_RAX] == 0x42, "core: cached block re-runs");
	ram[CODE + 11] = 0x77;
	cpu_notify_phys_write(c, CODE + 11, 1);
	s.rip = CODE + 10;
	cpu_set_state(c, &s);
	cpu_run(c, 1000);
	cpu_get_state(c, &s);
	CHECK(s.gpr[R_RAX] == 0x77, "core: cpu_notify_phys_write drops stale code (eax=%llx)", (unsigned long long)s.gpr[R_RAX]);
}

static void test_page_crossing_insn(struct cpu *c)
{
	struct cpu_state s;
	long_mode(c, &s);
	/* mov rax, imm64 whose bytes straddle the page boundary at CODE+0x1000 */
	static const uint8_t code[] = { 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 0x0f, 0x0b };
	memcpy(ram + CODE + 0xffc, code, sizeof(code));
	s.rip = CODE + 0xffc;
	cpu_set_state(c, &s);
	cpu_set_exception_exits(c, ~0u);
	enum cpu_exit r = cpu_run(c, 1000);
	cpu_get_state(c, &s);
	CHECK(r == CPU_EXIT_EXCEPTION && s.gpr[R_RAX] == 0x0807060504030201ull, "core: instruction crossing a page");
	/* Same with the second page not present: #PF with CR2 at the second page. */
	*pte(PT + 8 * 0x11) = 0;
	cpu_set_state(c, &(struct cpu_state){ 0 });
	long_mode(c, &s);
	*pte(PT + 8 * 0x11) = 0;
	memcpy(ram + CODE + 0xffc, code, sizeof(code));
	s.rip = CODE + 0xffc;
	cpu_set_state(c, &s);
	r = cpu_run(c, 1000);
	cpu_get_state(c, &s);
	uint32_t err;
	CHECK(r == CPU_EXIT_EXCEPTION && cpu_last_exception(c, &err) == 14 && s.cr2 == CODE + 0x1000 && err == 0x10,
	      "core: fetch fault on the second page of an instruction (cr2=%llx err=%x)", (unsigned long long)s.cr2, err);
}

static void test_mmio(struct cpu *c)
{
	struct cpu_state s;
	long_mode(c, &s);
	/* Map page 0x40000 to guest-physical 0xfee00000 (not RAM: MMIO). */
	*pte(PT + 8 * 0x40) = 0xfee00000ull | 3;
	/* mov eax, [0x40020] ; mov [0x40030], eax ; ud2 */
	static const uint8_t code[] = { 0x8b, 0x04, 0x25, 0x20, 0x00, 0x04, 0x00, 0x89, 0x04, 0x25, 0x30, 0x00, 0x04, 0x00, 0x0f, 0x0b };
	mmio_writes = 0;
	run(c, &s, code, sizeof(code));
	CHECK(s.gpr[R_RAX] == 0x5a5a5a5a && mmio_writes == 1 && mmio_last_addr == 0xfee00030, "core: MMIO read and write via the bus");
}

static void test_noncanonical(struct cpu *c)
{
	struct cpu_state s;
	long_mode(c, &s);
	/* mov rbx, 0x0000800000000000 ; mov eax, [rbx] */
	static const uint8_t code[] = { 0x48, 0xbb, 0, 0, 0, 0, 0, 0x80, 0, 0, 0x8b, 0x03 };
	run(c, &s, code, sizeof(code));
	uint32_t err;
	CHECK(cpu_last_exception(c, &err) == 13 && s.rip == CODE + 10, "core: non-canonical address raises #GP(0)");
}

int main(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	struct cpu *c = cpu_create(&bus);
	test_real_mode_reset(c);
	test_long_mode_basic(c);
	test_page_fault(c);
	test_smc(c);
	test_page_crossing_insn(c);
	test_mmio(c);
	test_noncanonical(c);
	cpu_destroy(c);
	free(ram);
	TEST_EXIT();
}
