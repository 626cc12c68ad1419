/*
 * Unit tests of the page walker and TLB (cpu/mmu.c) through the public API (SDM vol. 3 ch. 4):
 * 32-bit paging with 4 KiB and 4 MiB pages (PSE, PSE-36), PAE paging with 4 KiB and 2 MiB pages,
 * 4-level paging with 4 KiB, 2 MiB and 1 GiB pages; accessed and dirty bits; CR0.WP, U/S, R/W,
 * NX; reserved-bit faults; page-fault error codes and CR2; INVLPG, CR3 reloads and global pages.
 */
#include "sysenv.h"

#define EXC_PF 14
#define PF_P 1
#define PF_W 2
#define PF_U 4
#define PF_RSVD 8
#define PF_I 16

#define P 1ull
#define RW 2ull
#define US 4ull
#define A 0x20ull
#define D 0x40ull
#define PS 0x80ull
#define G 0x100ull
#define XD (1ull << 63)

#define TABLES 0x100000 /* page-table pages are allocated from here (identity-mapped) */
static uint64_t next_table;

static uint64_t new_table(void)
{
	uint64_t t = next_table;
	next_table += 0x1000;
	memset(ram + t, 0, 0x1000);
	return t;
}

/* ---- 4-level paging: CR3 = PML4 from sysenv (identity 0..2 MiB already there) ---- */
static uint64_t *entry64(uint64_t table, uint64_t va, int level)
{
	return pte(table + ((va >> (12 + 9 * (level - 1))) & 511) * 8);
}

/* The table below entry e at level (creating it with P|RW|US if absent). */
static uint64_t next_level(uint64_t *e)
{
	if (!(*e & P))
		*e = new_table() | P | RW | US;
	return *e & 0xffffffffff000ull;
}

static uint64_t *map64(uint64_t va, uint64_t pa, uint64_t flags, int leaf_level)
{
	uint64_t table = PML4;
	for (int level = 4; level > leaf_level; level--)
		table = next_level(entry64(table, va, level));
	uint64_t *e = entry64(table, va, leaf_level);
	*e = pa | flags | (leaf_level > 1 ? PS : 0);
	return e;
}

static void env64(struct cpu *c, struct cpu_state *s, int cpl)
{
	env_long(c, s, cpl);
	next_table = TABLES;
}

/* ---- 32-bit paging: PD at TABLES, identity 0..4 MiB with 4 KiB pages ---- */
static uint32_t *pde32(uint64_t va)
{
	return (uint32_t *)(ram + TABLES + ((va >> 22) & 0x3ff) * 4);
}

static uint32_t *map32(uint64_t va, uint32_t pa, uint32_t flags)
{
	uint32_t *pde = pde32(va);
	if (!(*pde & P))
		*pde = (uint32_t)new_table() | P | RW | US;
	uint32_t *e = (uint32_t *)(ram + (*pde & 0xfffff000u) + ((va >> 12) & 0x3ff) * 4);
	*e = pa | flags;
	return e;
}

static void env32(struct cpu *c, struct cpu_state *s, int cpl)
{
	env_prot32(c, s, cpl);
	next_table = TABLES;
	new_table(); /* the page directory */
	for (uint32_t pa = 0; pa < 0x400000; pa += 0x1000)
		map32(pa, pa, P | RW | US);
	s->cr3 = TABLES;
	s->cr0 |= 0x80000000;
	s->cr4 |= 0x10; /* PSE */
}

/* ---- PAE paging: PDPT at TABLES, identity 0..2 MiB with 4 KiB pages ---- */
static uint64_t *map_pae(uint64_t va, uint64_t pa, uint64_t flags, bool large)
{
	uint64_t *pdpte = pte(TABLES + ((va >> 30) & 3) * 8);
	if (!(*pdpte & P))
		*pdpte = new_table() | P;
	uint64_t *pde = pte((*pdpte & 0xffffff000ull) + ((va >> 21) & 511) * 8);
	if (large) {
		*pde = pa | flags | PS;
		return pde;
	}
	if (!(*pde & P))
		*pde = new_table() | P | RW | US;
	uint64_t *e = pte((*pde & 0xffffff000ull) + ((va >> 12) & 511) * 8);
	*e = pa | flags;
	return e;
}

static void env_pae(struct cpu *c, struct cpu_state *s, int cpl)
{
	env_prot32(c, s, cpl);
	next_table = TABLES;
	new_table(); /* the PDPT (only its first 32 bytes matter) */
	for (uint64_t pa = 0; pa < 0x200000; pa += 0x1000)
		map_pae(pa, pa, P | RW | US, false);
	s->cr3 = TABLES;
	s->cr0 |= 0x80000000;
	s->cr4 |= 0x20;
}

/* Runs and returns the exception; err gets the error code. */
static int go(struct cpu *c, struct cpu_state *s, uint32_t *err)
{
	*err = ~0u;
	return run_exc(c, s, err);
}

/* ---- code ---- */
SNIP(rd32, 32, "mov eax, [esi]\nud2");
SNIP(wr32, 32, "mov [esi], eax\nud2");
SNIP(jmp32, 32, "jmp esi");
SNIP(rd64, 64, "mov rax, [rsi]\nud2");
SNIP(wr64, 64, "mov [rsi], rax\nud2");
SNIP(jmp64, 64, "jmp rsi");
SNIP(ud64, 64, "ud2");

static int access32(struct cpu *c, struct cpu_state *s, const uint8_t *code, size_t len, uint64_t va, uint32_t *err)
{
	memcpy(ram + CODE, code, len);
	cpu_notify_phys_write(c, CODE, len); /* the CPU may hold the previous test's code */
	s->gpr[R_RSI] = va;
	return go(c, s, err);
}
#define ACC(c, s, snip, va, err) access32((c), (s), snip, (size_t)(snip##_end - snip), (va), (err))

static void test_paging32(struct cpu *c)
{
	struct cpu_state s;
	uint32_t err;
	int vec;

	/* 4 KiB page: read, then write; A and D in PDE/PTE. */
	env32(c, &s, 0);
	uint32_t *e = map32(0x40000000, 0x300000, P | RW);
	*(uint32_t *)(ram + 0x300010) = 0xcafe0001;
	vec = ACC(c, &s, rd32, 0x40000010, &err);
	CHECK(vec == 6 && (uint32_t)s.gpr[R_RAX] == 0xcafe0001, "paging32: read through a 4 KiB page");
	CHECK((*e & (A | D)) == A && (*pde32(0x40000000) & A), "paging32: read sets A in PDE and PTE, not D");
	s.gpr[R_RAX] = 0x12345678;
	s.rip = CODE;
	vec = ACC(c, &s, wr32, 0x40000020, &err);
	CHECK(vec == 6 && *(uint32_t *)(ram + 0x300020) == 0x12345678 && (*e & D), "paging32: write sets D");

	/* 4 MiB page (PSE): A/D in the PDE; PSE-36 high address bits. */
	env32(c, &s, 0);
	*pde32(0x80000000) = 0x800000 | P | RW | PS;
	memcpy(ram + 0x923456, &(uint32_t){ 0xbeef0002 }, 4); /* unaligned */
	vec = ACC(c, &s, rd32, 0x80123456, &err);
	CHECK(vec == 6 && (uint32_t)s.gpr[R_RAX] == 0xbeef0002 && (*pde32(0x80000000) & (A | D)) == A,
	      "paging32: read through a 4 MiB page sets A in the PDE");
	s.rip = CODE;
	vec = ACC(c, &s, wr32, 0x80123456, &err);
	CHECK(vec == 6 && (*pde32(0x80000000) & D), "paging32: write through a 4 MiB page sets D in the PDE");
	env32(c, &s, 0);
	*pde32(0x80000000) = 0x800000 | P | RW | PS | (1u << 13); /* PA bit 32: beyond RAM, reads as MMIO */
	vec = ACC(c, &s, rd32, 0x80123456, &err);
	CHECK(vec == 6 && (uint32_t)s.gpr[R_RAX] == 0xffffffff, "paging32: PSE-36 bits 20:13 give PA bits 39:32");
	env32(c, &s, 0);
	*pde32(0x80000000) = 0x800000 | P | RW | PS | (1u << 21);
	vec = ACC(c, &s, rd32, 0x80123456, &err);
	CHECK(vec == EXC_PF && err == (PF_P | PF_RSVD) && s.cr2 == 0x80123456, "paging32: 4 MiB PDE bit 21 is reserved (err=%x)",
	      err);
	/* CR4.PSE=0: PS is ignored and the PDE points to a page table (here: zeros, not present). */
	env32(c, &s, 0);
	s.cr4 &= ~0x10ull;
	*pde32(0x80000000) = 0x800000 | P | RW | PS;
	vec = ACC(c, &s, rd32, 0x80123456, &err);
	CHECK(vec == EXC_PF && err == 0 && s.cr2 == 0x80123456, "paging32: PS ignored without CR4.PSE (err=%x)", err);

	/* Not present, write and user faults. */
	env32(c, &s, 0);
	vec = ACC(c, &s, rd32, 0x50000000, &err);
	CHECK(vec == EXC_PF && err == 0 && s.cr2 == 0x50000000 && s.rip == CODE, "paging32: not-present PDE: error 0, CR2");
	env32(c, &s, 0);
	map32(0x40000000, 0x300000, P);
	s.cr0 |= 1 << 16;
	vec = ACC(c, &s, wr32, 0x40000004, &err);
	CHECK(vec == EXC_PF && err == (PF_P | PF_W) && s.cr2 == 0x40000004, "paging32: CR0.WP supervisor write to read-only");
	env32(c, &s, 0);
	e = map32(0x40000000, 0x300000, P);
	s.gpr[R_RAX] = 0x55;
	vec = ACC(c, &s, wr32, 0x40000004, &err);
	CHECK(vec == 6 && ram[0x300004] == 0x55 && (*e & D), "paging32: WP=0 supervisor write to read-only succeeds, sets D");
	env32(c, &s, 3);
	map32(0x40000000, 0x300000, P | RW);
	vec = ACC(c, &s, rd32, 0x40000008, &err);
	CHECK(vec == EXC_PF && err == (PF_P | PF_U), "paging32: CPL 3 read of a supervisor page (err=%x)", err);
	env32(c, &s, 3);
	map32(0x40000000, 0x300000, P | US);
	vec = ACC(c, &s, wr32, 0x40000008, &err);
	CHECK(vec == EXC_PF && err == (PF_P | PF_W | PF_U), "paging32: CPL 3 write to a read-only user page (err=%x)", err);
	env32(c, &s, 3);
	map32(0x40000000, 0x300000, P | RW | US);
	*pde32(0x40000000) &= ~(uint32_t)RW; /* R/W clear at the PDE level */
	vec = ACC(c, &s, wr32, 0x40000008, &err);
	CHECK(vec == EXC_PF && err == (PF_P | PF_W | PF_U), "paging32: R/W is combined across levels");
	env32(c, &s, 3);
	vec = ACC(c, &s, wr32, 0x50000000, &err);
	CHECK(vec == EXC_PF && err == (PF_W | PF_U), "paging32: CPL 3 write to a not-present page: error W|U (err=%x)", err);
	/* Execution: no NX in 32-bit paging; user fetch from a supervisor page. */
	env32(c, &s, 3);
	map32(0x40000000, 0x300000, P | RW);
	vec = ACC(c, &s, jmp32, 0x40000000, &err);
	CHECK(vec == EXC_PF && err == (PF_P | PF_U) && s.cr2 == 0x40000000 && s.rip == 0x40000000,
	      "paging32: CPL 3 fetch from a supervisor page: no I flag without PAE/NXE (err=%x)", err);
}

static void test_paging_pae(struct cpu *c)
{
	struct cpu_state s;
	uint32_t err;
	int vec;

	env_pae(c, &s, 0);
	uint64_t *e = map_pae(0x40000000, 0x300000, P | RW, false);
	*(uint32_t *)(ram + 0x300010) = 0xcafe0003;
	vec = ACC(c, &s, rd32, 0x40000010, &err);
	CHECK(vec == 6 && (uint32_t)s.gpr[R_RAX] == 0xcafe0003 && (*e & (A | D)) == A, "pae: read through a 4 KiB page, sets A");
	env_pae(c, &s, 0);
	uint64_t *pde = map_pae(0xc0200000, 0x600000, P | RW, true);
	*(uint32_t *)(ram + 0x612344) = 0xcafe0004;
	vec = ACC(c, &s, rd32, 0xc0212344, &err);
	CHECK(vec == 6 && (uint32_t)s.gpr[R_RAX] == 0xcafe0004, "pae: read through a 2 MiB page (PDPT entry 3)");
	s.rip = CODE;
	vec = ACC(c, &s, wr32, 0xc0212344, &err);
	CHECK(vec == 6 && (*pde & (A | D)) == (A | D), "pae: write through a 2 MiB page sets A and D in the PDE");

	/* NX with EFER.NXE; bit 63 reserved without it. */
	env_pae(c, &s, 0);
	map_pae(0x40000000, 0x300000, P | RW | XD, false);
	memcpy(ram + 0x300000, ud64, 2);
	s.efer = 1ull << 11;
	vec = ACC(c, &s, jmp32, 0x40000000, &err);
	CHECK(vec == EXC_PF && err == (PF_P | PF_I) && s.cr2 == 0x40000000, "pae: fetch from an XD page with NXE: error P|I (err=%x)",
	      err);
	env_pae(c, &s, 0);
	map_pae(0x40000000, 0x300000, P | RW | XD, false);
	vec = ACC(c, &s, rd32, 0x40000000, &err);
	CHECK(vec == EXC_PF && err == (PF_P | PF_RSVD), "pae: XD bit without EFER.NXE is reserved (err=%x)", err);
	env_pae(c, &s, 0);
	map_pae(0x40000000, 0x300000, P | RW, false);
	memcpy(ram + 0x300000, ud64, 2);
	vec = ACC(c, &s, jmp32, 0x40000000, &err);
	CHECK(vec == 6 && s.rip == 0x40000000, "pae: fetch from an executable page");
	/* Reserved bits: 62:MAXPHYADDR in PAE entries, 20:13 in a 2 MiB PDE. */
	env_pae(c, &s, 0);
	map_pae(0x40000000, 0x300000, P | RW | (1ull << 52), false);
	vec = ACC(c, &s, rd32, 0x40000000, &err);
	/* SDM vol. 3 table 4-11: in PAE paging bits 62:MAXPHYADDR are reserved (only 4-level paging
	 * leaves 62:52 to software). */
	CHECK(vec == EXC_PF && err == (PF_P | PF_RSVD), "pae: PTE bit 52 is reserved in PAE paging (vec=%d err=%x)", vec, err);
	env_pae(c, &s, 0);
	map_pae(0x40000000, 0x300000, P | RW | (1ull << 40), false);
	s.gpr[R_RAX] = 1;
	vec = ACC(c, &s, wr32, 0x40000000, &err);
	CHECK(vec == EXC_PF && err == (PF_P | PF_W | PF_RSVD), "pae: PTE bit 40 (MAXPHYADDR) is reserved (err=%x)", err);
	env_pae(c, &s, 0);
	map_pae(0xc0200000, 0x600000 | (1u << 13), P | RW, true);
	vec = ACC(c, &s, rd32, 0xc0200000, &err);
	CHECK(vec == EXC_PF && err == (PF_P | PF_RSVD), "pae: 2 MiB PDE bit 13 is reserved (err=%x)", err);
	env_pae(c, &s, 0);
	vec = ACC(c, &s, rd32, 0x80000000, &err);
	CHECK(vec == EXC_PF && err == 0 && s.cr2 == 0x80000000, "pae: not-present PDPTE: error 0");
}

static int access64(struct cpu *c, struct cpu_state *s, const uint8_t *code, size_t len, uint64_t va, uint32_t *err)
{
	memcpy(ram + CODE, code, len);
	cpu_notify_phys_write(c, CODE, len); /* the CPU may hold the previous test's code */
	s->gpr[R_RSI] = va;
	return go(c, s, err);
}
#define ACC64(c, s, snip, va, err) access64((c), (s), snip, (size_t)(snip##_end - snip), (va), (err))

static void test_paging64(struct cpu *c)
{
	struct cpu_state s;
	uint32_t err;
	int vec;

	/* 4 KiB, 2 MiB and 1 GiB pages. */
	env64(c, &s, 0);
	uint64_t *e4k = map64(0xffff800000001000ull, 0x300000, P | RW, 1);
	*pte(0x300008) = 0x1111222233334444ull;
	vec = ACC64(c, &s, rd64, 0xffff800000001008ull, &err);
	CHECK(vec == 6 && s.gpr[R_RAX] == 0x1111222233334444ull && (*e4k & (A | D)) == A,
	      "paging64: read through a 4 KiB page in the upper half sets A only");
	uint64_t pml4e = *entry64(PML4, 0xffff800000001000ull, 4);
	CHECK(pml4e & A, "paging64: A set in the PML4E");
	s.rip = CODE;
	s.gpr[R_RAX] = 0x99;
	vec = ACC64(c, &s, wr64, 0xffff800000001010ull, &err);
	CHECK(vec == 6 && *pte(0x300010) == 0x99 && (*e4k & D), "paging64: write sets D in the PTE");

	env64(c, &s, 0);
	uint64_t *e2m = map64(0x40200000, 0x800000, P | RW, 2);
	*pte(0x8abcd8) = 0x5555666677778888ull;
	vec = ACC64(c, &s, rd64, 0x402abcd8, &err);
	CHECK(vec == 6 && s.gpr[R_RAX] == 0x5555666677778888ull && (*e2m & (A | D)) == A, "paging64: read through a 2 MiB page");
	s.rip = CODE;
	vec = ACC64(c, &s, wr64, 0x402abcd8, &err);
	CHECK(vec == 6 && (*e2m & D), "paging64: write through a 2 MiB page sets D in the PDE");

	env64(c, &s, 0);
	uint64_t *e1g = map64(0x8000000000ull, 0, P | RW, 3); /* PML4 entry 1 -> 1 GiB page at PA 0 */
	memcpy(ram + 0x345678, &(uint64_t){ 0xaaaabbbbccccddddull }, 8); /* unaligned */
	vec = ACC64(c, &s, rd64, 0x8000345678ull, &err);
	CHECK(vec == 6 && s.gpr[R_RAX] == 0xaaaabbbbccccddddull && (*e1g & A), "paging64: read through a 1 GiB page");
	s.rip = CODE;
	vec = ACC64(c, &s, wr64, 0x8000345678ull, &err);
	CHECK(vec == 6 && (*e1g & D), "paging64: write through a 1 GiB page sets D in the PDPTE");

	/* Reserved bits. */
	env64(c, &s, 0);
	*entry64(PML4, 0x8000000000ull, 4) = TABLES | P | RW | PS;
	vec = ACC64(c, &s, rd64, 0x8000000000ull, &err);
	CHECK(vec == EXC_PF && err == (PF_P | PF_RSVD) && s.cr2 == 0x8000000000ull, "paging64: PS in a PML4E is reserved (err=%x)",
	      err);
	env64(c, &s, 0);
	map64(0x8000000000ull, 0x40000000 | (1u << 13), P | RW, 3);
	vec = ACC64(c, &s, rd64, 0x8000000000ull, &err);
	CHECK(vec == EXC_PF && err == (PF_P | PF_RSVD), "paging64: 1 GiB PDPTE bit 13 is reserved (err=%x)", err);
	env64(c, &s, 0);
	map64(0x40200000, 0x800000 | (1u << 20), P | RW, 2);
	vec = ACC64(c, &s, rd64, 0x40200000, &err);
	CHECK(vec == EXC_PF && err == (PF_P | PF_RSVD), "paging64: 2 MiB PDE bit 20 is reserved (err=%x)", err);
	env64(c, &s, 0);
	map64(0x40001000, 0x300000 | (1ull << 45), P | RW, 1);
	s.gpr[R_RAX] = 0;
	vec = ACC64(c, &s, wr64, 0x40001000, &err);
	CHECK(vec == EXC_PF && err == (PF_P | PF_W | PF_RSVD), "paging64: PTE bit 45 (above MAXPHYADDR) is reserved (err=%x)", err);
	env64(c, &s, 0);
	map64(0x40001000, 0x300000, P | RW | XD, 1);
	s.efer &= ~(1ull << 11);
	vec = ACC64(c, &s, rd64, 0x40001000, &err);
	CHECK(vec == EXC_PF && err == (PF_P | PF_RSVD), "paging64: XD without EFER.NXE is reserved (err=%x)", err);
	/* Bits 62:52 are ignored in 4-level paging (SDM vol. 3 tables 4-15 to 4-19), unlike PAE paging. */
	env64(c, &s, 0);
	map64(0x40001000, 0x300000, P | RW | (1ull << 52) | (1ull << 58) | (1ull << 62), 1);
	*pte(0x300000) = 0x77;
	vec = ACC64(c, &s, rd64, 0x40001000, &err);
	CHECK(vec == 6 && s.gpr[R_RAX] == 0x77, "paging64: PTE bits 52-62 are ignored, not reserved (vec=%d err=%x)", vec, err);
	env64(c, &s, 0);
	map64(0x8000001000ull, 0x300000, P | RW, 1);
	*entry64(PML4, 0x8000001000ull, 4) |= 1ull << 55;
	*pte(0x300000) = 0x78;
	vec = ACC64(c, &s, rd64, 0x8000001000ull, &err);
	CHECK(vec == 6 && s.gpr[R_RAX] == 0x78, "paging64: PML4E bit 55 is ignored (vec=%d err=%x)", vec, err);

	/* U/S and R/W combine across levels; NX at any level. */
	env64(c, &s, 3);
	map64(0x40001000, 0x300000, P | RW | US, 1);
	*entry64(next_level(entry64(PML4, 0x40001000, 4)), 0x40001000, 3) &= ~US;
	vec = ACC64(c, &s, rd64, 0x40001000, &err);
	CHECK(vec == EXC_PF && err == (PF_P | PF_U), "paging64: U/S clear in the PDPTE denies CPL 3 (err=%x)", err);
	env64(c, &s, 3);
	map64(0x8000001000ull, 0x300000, P | RW | US, 1);
	*entry64(PML4, 0x8000001000ull, 4) &= ~RW;
	s.gpr[R_RAX] = 0;
	vec = ACC64(c, &s, wr64, 0x8000001000ull, &err);
	CHECK(vec == EXC_PF && err == (PF_P | PF_W | PF_U), "paging64: R/W clear in the PML4E denies CPL 3 writes (err=%x)", err);
	env64(c, &s, 0);
	map64(0x8000001000ull, 0x300000, P | RW | US, 1);
	*entry64(PML4, 0x8000001000ull, 4) &= ~RW;
	s.cr0 &= ~(1ull << 16);
	s.gpr[R_RAX] = 0x42;
	vec = ACC64(c, &s, wr64, 0x8000001000ull, &err);
	CHECK(vec == 6 && *pte(0x300000) == 0x42, "paging64: CR0.WP=0 lets CPL 0 write a read-only page");
	s.rip = CODE;
	s.cr0 |= 1ull << 16;
	vec = ACC64(c, &s, wr64, 0x8000001000ull, &err);
	CHECK(vec == EXC_PF && err == (PF_P | PF_W), "paging64: CR0.WP=1: CPL 0 write to a read-only page faults (err=%x)", err);
	env64(c, &s, 0);
	map64(0x8000001000ull, 0x300000, P | RW, 1);
	memcpy(ram + 0x300000, ud64, 2);
	*entry64(PML4, 0x8000001000ull, 4) |= XD;
	vec = ACC64(c, &s, jmp64, 0x8000001000ull, &err);
	CHECK(vec == EXC_PF && err == (PF_P | PF_I) && s.cr2 == 0x8000001000ull, "paging64: XD in the PML4E denies fetches (err=%x)", err);
	env64(c, &s, 3);
	map64(0x40001000, 0x300000, P | RW, 1);
	vec = ACC64(c, &s, jmp64, 0x40001000, &err);
	CHECK(vec == EXC_PF && err == (PF_P | PF_U | PF_I), "paging64: CPL 3 fetch from a supervisor page (err=%x)", err);
	env64(c, &s, 0);
	map64(0x40001000, 0x300000, P | RW | US, 1);
	memcpy(ram + 0x300000, ud64, 2);
	vec = ACC64(c, &s, jmp64, 0x40001000, &err);
	CHECK(vec == 6 && s.rip == 0x40001000, "paging64: CPL 0 fetch from a user page (no SMEP)");
	env64(c, &s, 3);
	s.gpr[R_RAX] = 0;
	vec = ACC64(c, &s, wr64, 0x40005000, &err);
	CHECK(vec == EXC_PF && err == (PF_W | PF_U) && s.cr2 == 0x40005000, "paging64: CPL 3 write to a not-present page (err=%x)",
	      err);
	/* Implicit supervisor accesses (IDT through a supervisor page) work at CPL 3: covered by the
	 * privileged-instruction tests delivering #GP in test_system. */
}

/* ---- TLB maintenance ----
 * The linear addresses are chosen so their slots in the direct-mapped TLB (page number mod 256)
 * differ from those of the code, stack and page-table pages, which would evict them.
 * R10 = linear address, R8 = the PTE's address, R9 = the new PTE. EBX gets the value before the
 * PTE changes, ECX after the change (plus the maintenance step under test), EDX after INVLPG. */
SNIP(tlb_invlpg, 64, "mov ebx, [r10]\nmov [r8], r9\nmov ecx, [r10]\ninvlpg [r10]\nmov edx, [r10]\nud2");
SNIP(tlb_cr3, 64, "mov ebx, [r10]\nmov [r8], r9\nmov rax, cr3\nmov cr3, rax\nmov ecx, [r10]\ninvlpg [r10]\nmov edx, [r10]\nud2");
SNIP(tlb_pge, 64, "mov ebx, [r10]\nmov [r8], r9\nmov rax, cr4\nand eax, ~0x80\nmov cr4, rax\nmov ecx, [r10]\nud2");
SNIP(tlb_large, 64, "mov ebx, [r10]\nmov [r8], r9\nmov ecx, [r10]\ninvlpg [r10 + 0x12345]\nmov edx, [r10]\nud2");
/* Code reached through R10 before and after its mapping changes (the code cache must follow). */
SNIP(tlb_code, 64, "call r10\nmov ebx, eax\nmov [r8], r9\ninvlpg [r10]\ncall r10\nmov edx, eax\nud2");
SNIP(tlb_code_large, 64, "call r10\nmov ebx, eax\nmov [r8], r9\ninvlpg [r10 + 0x12345]\ncall r10\nmov edx, eax\nud2");
SNIP(tlb_code_other, 64, "call r10\nmov ebx, eax\ninvlpg [r10 + 0x1000]\ncall r10\nmov edx, eax\nud2");
SNIP(ret_1, 64, "mov eax, 1\nret");
SNIP(ret_2, 64, "mov eax, 2\nret");
SNIP(tlb_dirty, 64, "mov ebx, [r10]\nmov [r10], ebx\nmov rax, [r8]\nand rax, ~0x40\nmov [r8], rax\ninvlpg [r10]\n"
		    "mov [r10], ebx\nud2");

static void tlb_env(struct cpu *c, struct cpu_state *s, const uint8_t *code, size_t len, uint64_t *e, uint64_t va,
		    uint64_t newpte)
{
	memcpy(ram + CODE, code, len);
	s->gpr[R_R10] = va;
	s->gpr[R_R8] = (uint64_t)((uint8_t *)e - ram);
	s->gpr[R_R9] = newpte;
	*(uint32_t *)(ram + 0x300000) = 0xaaaa;
	*(uint32_t *)(ram + 0x301000) = 0xbbbb;
}
#define TLB_ENV(c, s, snip, e, va, n) tlb_env((c), (s), snip, (size_t)(snip##_end - snip), (e), (va), (n))

static void test_tlb(struct cpu *c)
{
	struct cpu_state s;
	uint32_t err;
	int vec;

	env64(c, &s, 0);
	uint64_t *e = map64(0x40055000, 0x300000, P | RW, 1);
	TLB_ENV(c, &s, tlb_invlpg, e, 0x40055000, 0x301000 | P | RW);
	vec = go(c, &s, &err);
	CHECK(vec == 6 && (uint32_t)s.gpr[R_RBX] == 0xaaaa && (uint32_t)s.gpr[R_RCX] == 0xaaaa &&
		      (uint32_t)s.gpr[R_RDX] == 0xbbbb,
	      "tlb: a changed PTE is used after INVLPG (the TLB kept the old one) (%x %x %x)", (uint32_t)s.gpr[R_RBX],
	      (uint32_t)s.gpr[R_RCX], (uint32_t)s.gpr[R_RDX]);

	env64(c, &s, 0);
	e = map64(0x40055000, 0x300000, P | RW, 1);
	TLB_ENV(c, &s, tlb_cr3, e, 0x40055000, 0x301000 | P | RW);
	vec = go(c, &s, &err);
	CHECK(vec == 6 && (uint32_t)s.gpr[R_RCX] == 0xbbbb, "tlb: a CR3 reload drops non-global translations");

	env64(c, &s, 0);
	e = map64(0x40055000, 0x300000, P | RW | G, 1);
	TLB_ENV(c, &s, tlb_cr3, e, 0x40055000, 0x301000 | P | RW | G);
	vec = go(c, &s, &err);
	CHECK(vec == 6 && (uint32_t)s.gpr[R_RCX] == 0xaaaa && (uint32_t)s.gpr[R_RDX] == 0xbbbb,
	      "tlb: a global translation survives a CR3 reload, not INVLPG (%x %x)", (uint32_t)s.gpr[R_RCX],
	      (uint32_t)s.gpr[R_RDX]);

	env64(c, &s, 0);
	s.cr4 &= ~0x80ull; /* G is ignored without CR4.PGE */
	e = map64(0x40055000, 0x300000, P | RW | G, 1);
	TLB_ENV(c, &s, tlb_cr3, e, 0x40055000, 0x301000 | P | RW | G);
	vec = go(c, &s, &err);
	CHECK(vec == 6 && (uint32_t)s.gpr[R_RCX] == 0xbbbb, "tlb: G without CR4.PGE: CR3 reload drops the translation");

	env64(c, &s, 0);
	e = map64(0x40055000, 0x300000, P | RW | G, 1);
	TLB_ENV(c, &s, tlb_pge, e, 0x40055000, 0x301000 | P | RW | G);
	vec = go(c, &s, &err);
	CHECK(vec == 6 && (uint32_t)s.gpr[R_RCX] == 0xbbbb, "tlb: clearing CR4.PGE drops global translations");

	/* INVLPG of any address within a 2 MiB page drops that page's translation. */
	env64(c, &s, 0);
	e = map64(0x40200000, 0xa00000, P | RW, 2);
	TLB_ENV(c, &s, tlb_large, e, 0x40200000 + 0x55000, 0xc00000 | P | RW | PS);
	*(uint32_t *)(ram + 0xa55000) = 0xcccc;
	*(uint32_t *)(ram + 0xc55000) = 0xdddd;
	vec = go(c, &s, &err);
	CHECK(vec == 6 && (uint32_t)s.gpr[R_RCX] == 0xcccc && (uint32_t)s.gpr[R_RDX] == 0xdddd,
	      "tlb: INVLPG inside a 2 MiB page drops it (%x %x)", (uint32_t)s.gpr[R_RCX], (uint32_t)s.gpr[R_RDX]);

	/* Code: after INVLPG a call through the changed mapping runs the new page's code, for a 4 KiB
	 * page and for a 2 MiB page invalidated through another address inside it. INVLPG of an
	 * unrelated page changes nothing. */
	env64(c, &s, 0);
	e = map64(0x40077000, 0x302000, P | RW, 1);
	TLB_ENV(c, &s, tlb_code, e, 0x40077000, 0x303000 | P | RW);
	LOAD(0x302000, ret_1);
	LOAD(0x303000, ret_2);
	vec = go(c, &s, &err);
	CHECK(vec == 6 && (uint32_t)s.gpr[R_RBX] == 1 && (uint32_t)s.gpr[R_RDX] == 2,
	      "tlb: code in a remapped 4 KiB page runs after INVLPG (%x %x)", (uint32_t)s.gpr[R_RBX],
	      (uint32_t)s.gpr[R_RDX]);
	env64(c, &s, 0);
	e = map64(0x40400000, 0xa00000, P | RW, 2);
	TLB_ENV(c, &s, tlb_code_large, e, 0x40477000, 0xc00000 | P | RW | PS);
	LOAD(0xa77000, ret_1);
	LOAD(0xc77000, ret_2);
	vec = go(c, &s, &err);
	CHECK(vec == 6 && (uint32_t)s.gpr[R_RBX] == 1 && (uint32_t)s.gpr[R_RDX] == 2,
	      "tlb: code in a remapped 2 MiB page runs after INVLPG elsewhere in it (%x %x)", (uint32_t)s.gpr[R_RBX],
	      (uint32_t)s.gpr[R_RDX]);
	env64(c, &s, 0);
	e = map64(0x40077000, 0x302000, P | RW, 1);
	map64(0x40078000, 0x303000, P | RW, 1);
	TLB_ENV(c, &s, tlb_code_other, e, 0x40077000, 0);
	LOAD(0x302000, ret_1);
	vec = go(c, &s, &err);
	CHECK(vec == 6 && (uint32_t)s.gpr[R_RBX] == 1 && (uint32_t)s.gpr[R_RDX] == 1,
	      "tlb: INVLPG of another page leaves the code page mapped (%x %x)", (uint32_t)s.gpr[R_RBX],
	      (uint32_t)s.gpr[R_RDX]);

	/* Clearing D and invalidating: the next write sets D again. */
	env64(c, &s, 0);
	e = map64(0x40055000, 0x300000, P | RW, 1);
	TLB_ENV(c, &s, tlb_dirty, e, 0x40055000, 0);
	vec = go(c, &s, &err);
	CHECK(vec == 6 && (*e & D), "tlb: a write after clearing D and INVLPG sets D again");

	/* A page that becomes not present faults after INVLPG, with CR2 and RIP at the access. */
	env64(c, &s, 0);
	e = map64(0x40055000, 0x300000, P | RW, 1);
	TLB_ENV(c, &s, tlb_invlpg, e, 0x40055000, 0);
	vec = go(c, &s, &err);
	CHECK(vec == EXC_PF && err == 0 && s.cr2 == 0x40055000 && s.rip == CODE + SNIP_LEN(tlb_invlpg) - 5,
	      "tlb: access after INVLPG of a now-absent page faults (rip=%llx)", (unsigned long long)s.rip);
}

int main(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	struct cpu *c = cpu_create(&test_bus);
	test_paging32(c);
	test_paging_pae(c);
	test_paging64(c);
	test_tlb(c);
	cpu_destroy(c);
	free(ram);
	TEST_EXIT();
}
