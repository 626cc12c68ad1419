/*
 * Unit tests of the system instructions (cpu/system.c, msr.c, cpuid.c, io.c) through the public
 * API: privilege checks at CPL 3, control-register checks, entering and leaving long mode,
 * SYSCALL/SYSRET and SYSENTER/SYSEXIT round trips, CPUID contents, every MSR, port I/O with the
 * TSS permission bitmap, descriptor-table and debug registers, HLT and the STI shadow.
 */
#include "sysenv.h"

#define EXC_DB 1
#define EXC_UD 6
#define EXC_GP 13

#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define F_IF (1ull << 9)
#define F_DF (1ull << 10)
#define F_VM (1ull << 17)
#define IOPL3 (3ull << 12)

/* ---- privileged instructions at CPL 3 (64-bit mode) ---- */
SNIP(p_lgdt, 64, "lgdt [rax]");
SNIP(p_lidt, 64, "lidt [rax]");
SNIP(p_cr0w, 64, "mov cr0, rax");
SNIP(p_cr0r, 64, "mov rax, cr0");
SNIP(p_cr3w, 64, "mov cr3, rax");
SNIP(p_cr8r, 64, "mov rax, cr8");
SNIP(p_dr7r, 64, "mov rax, dr7");
SNIP(p_dr0w, 64, "mov dr0, rax");
SNIP(p_clts, 64, "clts");
SNIP(p_lmsw, 64, "lmsw ax");
SNIP(p_invlpg, 64, "invlpg [rax]");
SNIP(p_hlt, 64, "hlt");
SNIP(p_rdmsr, 64, "rdmsr");
SNIP(p_wrmsr, 64, "wrmsr");
SNIP(p_wbinvd, 64, "wbinvd");
SNIP(p_invd, 64, "invd");
SNIP(p_sysret, 64, "sysretq");
SNIP(p_sysexit, 64, "sysexitq");
SNIP(p_swapgs, 64, "swapgs");
SNIP(p_cli, 64, "cli");
SNIP(p_sti, 64, "sti");
SNIP(p_rdpmc, 64, "rdpmc");
SNIP(p_in, 64, "in al, dx");
SNIP(p_out, 64, "out 0x80, al");
/* not privileged (no UMIP) */
SNIP(u_sgdt, 64, "sgdt [rax]\nud2");
SNIP(u_sidt, 64, "sidt [rax]\nud2");
SNIP(u_smsw, 64, "smsw eax\nud2");
SNIP(u_cpuid, 64, "cpuid\nud2");
SNIP(u_rdtsc, 64, "rdtsc\nud2");
SNIP(u_rdtscp, 64, "rdtscp\nud2");

struct snip {
	const char *name;
	const uint8_t *start, *end;
};
#define S(n) { #n, n, n##_end }

/* A TSS without an I/O bitmap (offset past the limit), so port I/O at CPL > IOPL faults. */
static void tss_no_bitmap(struct cpu_state *s)
{
	s->seg[S_TR] = (struct cpu_seg){ .sel = SEL_TSS, .attr = 0x8b, .limit = 0x67, .base = TSS };
	*(uint16_t *)(ram + TSS + 0x66) = 0x68;
}

static void test_privileged_cpl3(struct cpu *c)
{
	static const struct snip priv[] = {
		S(p_lgdt), S(p_lidt), S(p_cr0w), S(p_cr0r), S(p_cr3w), S(p_cr8r), S(p_dr7r), S(p_dr0w),
		S(p_clts), S(p_lmsw), S(p_invlpg), S(p_hlt), S(p_rdmsr), S(p_wrmsr), S(p_wbinvd), S(p_invd),
		S(p_sysret), S(p_sysexit), S(p_swapgs), S(p_cli), S(p_sti), S(p_rdpmc), S(p_in), S(p_out),
	};
	struct cpu_state s;
	for (unsigned k = 0; k < sizeof(priv) / sizeof(priv[0]); k++) {
		env_long(c, &s, 3);
		tss_no_bitmap(&s);
		s.sysenter_cs = SEL_KCODE64;
		s.gpr[R_RAX] = DATA;
		s.gpr[R_RCX] = 0x10; /* IA32_TSC for RDMSR/WRMSR */
		s.gpr[R_RDX] = 0x80;
		memcpy(ram + CODE, priv[k].start, (size_t)(priv[k].end - priv[k].start));
		uint32_t err = ~0u;
		int vec = run_exc(c, &s, &err);
		CHECK(vec == EXC_GP && err == 0 && s.rip == CODE && s.seg[S_CS].sel == SEL_UCODE64,
		      "system: %s at CPL 3 raises #GP(0) (vec=%d err=%x rip=%llx)", priv[k].name + 2, vec, err,
		      (unsigned long long)s.rip);
	}
	static const struct snip unpriv[] = { S(u_sgdt), S(u_sidt), S(u_smsw), S(u_cpuid), S(u_rdtsc), S(u_rdtscp) };
	for (unsigned k = 0; k < sizeof(unpriv) / sizeof(unpriv[0]); k++) {
		env_long(c, &s, 3);
		s.gpr[R_RAX] = DATA;
		unsigned len = (unsigned)(unpriv[k].end - unpriv[k].start);
		memcpy(ram + CODE, unpriv[k].start, len);
		int vec = run_exc(c, &s, NULL);
		CHECK(vec == EXC_UD && s.rip == CODE + len - 2, "system: %s is allowed at CPL 3 (vec=%d)", unpriv[k].name + 2,
		      vec);
	}
	/* CR4.TSD makes RDTSC/RDTSCP privileged. */
	env_long(c, &s, 3);
	s.cr4 |= 1 << 2;
	LOAD(CODE, u_rdtsc);
	int vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_GP && s.rip == CODE, "system: RDTSC at CPL 3 with CR4.TSD raises #GP");
	env_long(c, &s, 3);
	s.cr4 |= 1 << 2;
	LOAD(CODE, u_rdtscp);
	vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_GP && s.rip == CODE, "system: RDTSCP at CPL 3 with CR4.TSD raises #GP");
	env_long(c, &s, 0);
	s.cr4 |= 1 << 2;
	LOAD(CODE, u_rdtsc);
	vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_UD, "system: RDTSC at CPL 0 with CR4.TSD runs");
}

/* ---- CLI/STI and IOPL ---- */
SNIP(cli_ud, 64, "cli\nud2");
SNIP(sti_ud, 64, "sti\nud2");
SNIP(cli16_ud, 16, "cli\nud2");
SNIP(sti_shadow, 64, "sti\nmov ebx, 1\ncli\nmov ebx, 2\nud2");
SNIP(intr_handler, 64, "mov ecx, ebx\nud2");

static void test_cli_sti(struct cpu *c)
{
	struct cpu_state s;
	env_long(c, &s, 3);
	s.rflags = 2 | F_IF | IOPL3;
	LOAD(CODE, cli_ud);
	int vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_UD && !(s.rflags & F_IF), "system: CLI at CPL 3 with IOPL 3 clears IF");
	env_long(c, &s, 3);
	s.rflags = 2 | IOPL3;
	LOAD(CODE, sti_ud);
	vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_UD && (s.rflags & F_IF), "system: STI at CPL 3 with IOPL 3 sets IF");
	env_long(c, &s, 0);
	s.rflags = 2 | F_IF;
	LOAD(CODE, cli_ud);
	vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_UD && !(s.rflags & F_IF), "system: CLI at CPL 0 with IOPL 0");
	/* CPL 1 < IOPL... use CPL 2 with IOPL 1: #GP */
	env_long(c, &s, 0);
	s.seg[S_CS].sel |= 2;
	s.seg[S_CS].attr |= 2 << 5;
	s.seg[S_SS].sel |= 2;
	s.seg[S_SS].attr |= 2 << 5;
	s.rflags = 2 | F_IF | (1ull << 12);
	LOAD(CODE, cli_ud);
	uint32_t err;
	vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_GP && err == 0 && (s.rflags & F_IF), "system: CLI at CPL 2 with IOPL 1 raises #GP(0)");

	/* Virtual-8086 mode: IOPL < 3 faults (CR4.VME is not supported), IOPL 3 works. */
	env_real(c, &s);
	s.cr0 |= 1;
	s.rflags = 2 | F_VM | F_IF;
	for (int k = S_ES; k <= S_GS; k++)
		s.seg[k].attr = 0xf3;
	LOAD(CODE, cli16_ud);
	vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_GP && err == 0 && (s.rflags & F_IF), "system: CLI in VM86 mode with IOPL 0 raises #GP(0)");
	s.rflags = 2 | F_VM | F_IF | IOPL3;
	s.rip = 0;
	vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_UD && !(s.rflags & F_IF) && (s.rflags & F_VM), "system: CLI in VM86 mode with IOPL 3");

	/* Real mode: always allowed. */
	env_real(c, &s);
	s.rflags = 2 | F_IF;
	LOAD(CODE, cli16_ud);
	vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_UD && !(s.rflags & F_IF), "system: CLI in real mode");

	/* STI shadow: an interrupt pending while IF=0 is taken after the instruction following STI,
	 * so "sti; mov; cli" opens a one-instruction window. */
	env_long(c, &s, 0);
	uint64_t idt = 0x7000, gate = idt + 16 * 0x20;
	*pte(gate) = (KCODE & 0xffff) | (uint64_t)SEL_KCODE64 << 16 | 0x8eull << 40 | (uint64_t)(KCODE >> 16) << 48;
	*pte(gate + 8) = 0;
	s.idtr = (struct cpu_dtable){ .base = idt, .limit = 0xfff };
	LOAD(CODE, sti_shadow);
	LOAD(KCODE, intr_handler);
	intr_vector = 0x20;
	cpu_set_state(c, &s);
	cpu_set_intr(c, true);
	cpu_set_exception_exits(c, ~0u);
	enum cpu_exit r = cpu_run(c, 1000);
	cpu_get_state(c, &s);
	cpu_set_intr(c, false);
	CHECK(r == CPU_EXIT_EXCEPTION && s.rip == KCODE + 2 && (uint32_t)s.gpr[R_RCX] == 1,
	      "system: STI shadow: interrupt taken after the next instruction (ecx=%llx rip=%llx)",
	      (unsigned long long)s.gpr[R_RCX], (unsigned long long)s.rip);
}

/* ---- HLT ---- */
SNIP(hlt_ud, 64, "hlt\nud2");

static void test_hlt(struct cpu *c)
{
	struct cpu_state s;
	env_long(c, &s, 0);
	LOAD(CODE, hlt_ud);
	enum cpu_exit r = run_state(c, &s);
	CHECK(r == CPU_EXIT_HLT && s.rip == CODE + 1 && cpu_halted(c), "system: HLT stops with RIP after it");
	r = cpu_run(c, 1000);
	CHECK(r == CPU_EXIT_HLT, "system: a halted CPU stays halted without an interrupt");
}

/* ---- control registers ---- */
SNIP(cr0_set, 64, "mov cr0, rax\nmov rbx, cr0\nud2");
SNIP(cr3_set, 64, "mov cr3, rax\nmov rbx, cr3\nud2");
SNIP(cr4_set, 64, "mov cr4, rax\nmov rbx, cr4\nud2");
SNIP(cr8_set, 64, "mov cr8, rax\nmov rbx, cr8\nud2");
SNIP(cr2_set, 64, "mov cr2, rax\nmov rbx, cr2\nud2");
SNIP(cr1_get, 64, "mov rax, cr1\nud2");
SNIP(cr0_set32, 32, "mov cr0, eax\nmov ebx, cr0\nud2");
SNIP(lmsw_smsw32, 32, "lmsw ax\nsmsw ebx\nud2");
SNIP(clts_ud, 32, "clts\nud2");
SNIP(lmsw16, 16, "lmsw ax\nud2");
SNIP(smsw_mem, 64, "smsw [rax]\nud2");

/* Runs snip at CPL 0 in 64-bit mode with RAX = v; returns the exception vector. */
static int cr_try(struct cpu *c, struct cpu_state *s, const uint8_t *code, size_t len, uint64_t v)
{
	env_long(c, s, 0);
	memcpy(ram + CODE, code, len);
	s->gpr[R_RAX] = v;
	s->gpr[R_RBX] = 0;
	return run_exc(c, s, NULL);
}
#define CR_TRY(c, s, snip, v) cr_try((c), (s), snip, (size_t)(snip##_end - snip), (v))

static void test_control_registers(struct cpu *c)
{
	struct cpu_state s;
	const uint64_t cr0 = 0x80000033, cr4 = 0x6a0;
	int vec;

	vec = CR_TRY(c, &s, cr0_set, cr0 | 1ull << 32);
	CHECK(vec == EXC_GP && s.rip == CODE && s.cr0 == cr0, "system: CR0 bit 32 set raises #GP");
	vec = CR_TRY(c, &s, cr0_set, 0x33);
	CHECK(vec == EXC_GP && s.cr0 == cr0, "system: clearing CR0.PG in 64-bit mode raises #GP");
	vec = CR_TRY(c, &s, cr0_set, cr0 | 1ull << 29);
	CHECK(vec == EXC_GP, "system: CR0.NW without CD raises #GP");
	vec = CR_TRY(c, &s, cr0_set, cr0 | 3ull << 29);
	CHECK(vec == EXC_UD && s.gpr[R_RBX] == (cr0 | 3ull << 29), "system: CR0.CD|NW accepted");
	vec = CR_TRY(c, &s, cr0_set, (cr0 & ~0x10ull) | 0x1000);
	CHECK(vec == EXC_UD && s.gpr[R_RBX] == cr0, "system: CR0.ET reads 1, low reserved bits ignored (cr0=%llx)",
	      (unsigned long long)s.gpr[R_RBX]);
	vec = CR_TRY(c, &s, cr0_set, cr0 | 1 << 16 | 1 << 3);
	CHECK(vec == EXC_UD && s.cr0 == (cr0 | 1 << 16 | 1 << 3), "system: CR0.WP and TS writable");

	static const uint64_t bad_cr4[] = { 1 << 0, 1 << 1, 1 << 11, 1 << 12, 1 << 13, 1 << 14, 1 << 16, 1 << 17,
					    1 << 18, 1 << 20, 1 << 21, 1 << 22, 1ull << 32 };
	for (unsigned k = 0; k < sizeof(bad_cr4) / sizeof(bad_cr4[0]); k++) {
		vec = CR_TRY(c, &s, cr4_set, cr4 | bad_cr4[k]);
		CHECK(vec == EXC_GP && s.cr4 == cr4, "system: CR4 reserved bit %llx raises #GP", (unsigned long long)bad_cr4[k]);
	}
	vec = CR_TRY(c, &s, cr4_set, cr4 & ~CR4_PAE);
	CHECK(vec == EXC_GP && s.cr4 == cr4, "system: clearing CR4.PAE in long mode raises #GP");
	vec = CR_TRY(c, &s, cr4_set, cr4 | 0x15c); /* TSD DE PSE MCE PCE */
	CHECK(vec == EXC_UD && s.gpr[R_RBX] == (cr4 | 0x15c), "system: CR4 TSD/DE/PSE/MCE/PCE writable");

	vec = CR_TRY(c, &s, cr3_set, PML4 | 1ull << 63);
	CHECK(vec == EXC_GP && s.cr3 == PML4, "system: CR3 bit 63 (no PCID) raises #GP");
	vec = CR_TRY(c, &s, cr3_set, PML4 | 1ull << 40);
	CHECK(vec == EXC_GP, "system: CR3 bit 40 (beyond MAXPHYADDR) raises #GP");
	vec = CR_TRY(c, &s, cr3_set, PML4 | 0x18);
	CHECK(vec == EXC_UD && s.gpr[R_RBX] == (PML4 | 0x18), "system: CR3 with PWT/PCD");
	vec = CR_TRY(c, &s, cr2_set, 0xffff800012345678ull);
	CHECK(vec == EXC_UD && s.gpr[R_RBX] == 0xffff800012345678ull, "system: CR2 read/write");
	vec = CR_TRY(c, &s, cr8_set, 9);
	CHECK(vec == EXC_UD && s.gpr[R_RBX] == 9 && s.cr8 == 9, "system: CR8 read/write");
	vec = CR_TRY(c, &s, cr8_set, 16);
	CHECK(vec == EXC_GP, "system: CR8 value above 15 raises #GP");
	vec = CR_TRY(c, &s, cr1_get, 0);
	CHECK(vec == EXC_UD && s.rip == CODE, "system: MOV from CR1 raises #UD");
	env_long(c, &s, 0);
	LOAD(CODE, smsw_mem);
	s.gpr[R_RAX] = DATA;
	memset(ram + DATA, 0xee, 4);
	vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_UD && *(uint32_t *)(ram + DATA) == 0xeeee0033, "system: SMSW m16 stores 16 bits");

	/* 32-bit protected mode, paging off. */
	env_prot32(c, &s, 0);
	LOAD(CODE, cr0_set32);
	s.gpr[R_RAX] = 0x80000010;
	vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_GP && s.cr0 == 0x33, "system: CR0.PG without PE raises #GP");
	env_prot32(c, &s, 0);
	LOAD(CODE, lmsw_smsw32);
	s.gpr[R_RAX] = 0xe; /* PE clear, MP EM TS set */
	vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_UD && (s.cr0 & 0xf) == 0xf && (s.gpr[R_RBX] & 0xffff) == 0x3f,
	      "system: LMSW loads MP/EM/TS and cannot clear PE (cr0=%llx)", (unsigned long long)s.cr0);
	env_prot32(c, &s, 0);
	LOAD(CODE, clts_ud);
	s.cr0 |= 8;
	vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_UD && !(s.cr0 & 8), "system: CLTS clears CR0.TS");
	env_real(c, &s);
	LOAD(CODE, lmsw16);
	s.gpr[R_RAX] = 1;
	vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_UD && (s.cr0 & 1), "system: LMSW in real mode sets PE");
}

/* ---- entering and leaving long mode ---- */
SNIP(lm_enter, 32,
     "mov eax, cr4\n or eax, 0x20\n mov cr4, eax\n"
     "mov eax, 0x1000\n mov cr3, eax\n"
     "mov ecx, 0xc0000080\n rdmsr\n or eax, 0x100\n wrmsr\n"
     "mov eax, cr0\n or eax, 0x80000000\n mov cr0, eax\n"
     "mov ebx, 1\n"
     "jmp 0x10:0x10100");
SNIP(lm_64, 64, "mov rax, 0x123456789abc\nud2");
SNIP(pg_on32, 32, "mov eax, cr0\nor eax, 0x80000000\nmov cr0, eax\nud2");
SNIP(pg_on16, 16, "mov eax, cr0\nor eax, 0x80000000\nmov cr0, eax\nud2");
SNIP(pg_off32, 32, "mov eax, cr0\nand eax, 0x7fffffff\nmov cr0, eax\nmov eax, cr4\nud2");
SNIP(pae_off32, 32, "mov eax, cr4\nand eax, ~0x20\nmov cr4, eax\nud2");
SNIP(efer_lme_off, 64, "mov ecx, 0xc0000080\nrdmsr\nand eax, ~0x100\nwrmsr\nud2");

static void test_long_mode_entry(struct cpu *c)
{
	struct cpu_state s;
	env_prot32(c, &s, 0);
	map_identity_2m();
	LOAD(CODE, lm_enter);
	LOAD(CODE + 0x100, lm_64);
	/* Stop right after MOV CR0: 12 instructions. */
	cpu_set_state(c, &s);
	cpu_set_exception_exits(c, ~0u);
	enum cpu_exit r = cpu_run(c, 12);
	cpu_get_state(c, &s);
	CHECK(r == CPU_EXIT_BUDGET && (s.efer & (EFER_LME | EFER_LMA)) == (EFER_LME | EFER_LMA) && (s.cr0 & CR0_PG) &&
		      (s.cr4 & CR4_PAE) && s.cr3 == PML4,
	      "system: PAE, CR3, EFER.LME, CR0.PG activate IA-32e mode (efer=%llx cr0=%llx)", (unsigned long long)s.efer,
	      (unsigned long long)s.cr0);
	r = run_state(c, &s);
	uint32_t err;
	int vec = cpu_last_exception(c, &err);
	CHECK(r == CPU_EXIT_EXCEPTION && vec == EXC_UD && s.gpr[R_RBX] == 1 && s.gpr[R_RAX] == 0x123456789abcull &&
		      s.seg[S_CS].sel == SEL_KCODE64 && s.rip == CODE + 0x10a,
	      "system: compatibility mode, then far jump to 64-bit code (rip=%llx rax=%llx)", (unsigned long long)s.rip,
	      (unsigned long long)s.gpr[R_RAX]);

	/* PG with LME but without PAE: #GP. */
	env_prot32(c, &s, 0);
	map_identity_2m();
	s.cr3 = PML4;
	s.efer = EFER_LME;
	LOAD(CODE, pg_on32);
	vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_GP && err == 0 && s.rip == CODE + 8 && !(s.cr0 & CR0_PG) && !(s.efer & EFER_LMA),
	      "system: CR0.PG with EFER.LME and CR4.PAE clear raises #GP");
	/* PG with LME while CS.L = 1: #GP. */
	env_prot32(c, &s, 0);
	map_identity_2m();
	s.cr3 = PML4;
	s.cr4 |= CR4_PAE;
	s.efer = EFER_LME;
	s.seg[S_CS].attr = A_CODE64; /* L=1, D=0: 16-bit code outside long mode */
	LOAD(CODE, pg_on16);
	vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_GP && !(s.efer & EFER_LMA), "system: activating long mode with CS.L=1 raises #GP");
	/* Without LME: legacy PAE paging, LMA stays clear. */
	env_prot32(c, &s, 0);
	*pte(0x7000) = PD | 1; /* PDPT for PAE paging: PD maps 0..2M with 4K pages */
	*pte(PD) = PT | 7;
	for (int k = 0; k < 512; k++)
		*pte(PT + 8 * k) = (uint64_t)k * 4096 | 7;
	s.cr3 = 0x7000;
	s.cr4 |= CR4_PAE;
	LOAD(CODE, pg_on32);
	vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_UD && (s.cr0 & CR0_PG) && !(s.efer & EFER_LMA), "system: PAE paging without LME");
	/* A PDPTE with reserved bits makes the MOV to CR0 fault. */
	env_prot32(c, &s, 0);
	*pte(0x7000) = PD | 1 | 1 << 5; /* bit 5 is reserved in a PAE PDPTE */
	s.cr3 = 0x7000;
	s.cr4 |= CR4_PAE;
	LOAD(CODE, pg_on32);
	vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_GP && !(s.cr0 & CR0_PG), "system: PAE PDPTE reserved bit: MOV CR0 raises #GP");

	/* Leaving long mode from compatibility mode. */
	env_long(c, &s, 0);
	seg_set(&s, S_CS, SEL_KCODE32, A_CODE32);
	LOAD(CODE, pg_off32);
	vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_UD && !(s.cr0 & CR0_PG) && !(s.efer & EFER_LMA) && (s.efer & EFER_LME),
	      "system: clearing CR0.PG in compatibility mode leaves IA-32e mode");
	env_long(c, &s, 0);
	seg_set(&s, S_CS, SEL_KCODE32, A_CODE32);
	LOAD(CODE, pae_off32);
	vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_GP && (s.cr4 & CR4_PAE), "system: clearing CR4.PAE in compatibility mode raises #GP");
	env_long(c, &s, 0);
	LOAD(CODE, efer_lme_off);
	vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_GP && (s.efer & EFER_LME), "system: changing EFER.LME with paging on raises #GP");
}

/* ---- SYSCALL / SYSRET ---- */
SNIP(sc_user, 64, "mov rdi, 0x1111\nsyscall\nmov rsi, rcx\nud2");
SNIP(sc_kernel, 64, "mov r12, rcx\nmov r13, r11\npushfq\npop r14\nmov r15d, cs\nmov ebp, ss\nsysretq");
SNIP(sc_only, 64, "syscall\nud2");
SNIP(sc_only32, 32, "syscall\nud2");
SNIP(sr_only, 64, "sysretq\nud2");
SNIP(sr_only32, 64, "sysretd\nud2");
SNIP(ud_only, 32, "ud2");

static void syscall_env(struct cpu *c, struct cpu_state *s, int cpl)
{
	env_long(c, s, cpl);
	s->star = (uint64_t)SEL_UCODE32 << 48 | (uint64_t)SEL_KCODE64 << 32;
	s->lstar = KCODE;
	s->sfmask = 0x47700; /* TF DF IF IOPL AC NT */
}

static void test_syscall(struct cpu *c)
{
	struct cpu_state s;
	syscall_env(c, &s, 3);
	LOAD(CODE, sc_user);
	LOAD(KCODE, sc_kernel);
	s.rflags = 2 | F_IF | F_DF | 1; /* CF too */
	uint64_t after_syscall = CODE + 7 + 2;
	uint32_t err;
	int vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_UD && s.rip == after_syscall + 3, "system: SYSCALL/SYSRET round trip ends at the user UD2 (rip=%llx)",
	      (unsigned long long)s.rip);
	CHECK(s.gpr[R_R12] == after_syscall && s.gpr[R_RSI] == after_syscall, "system: SYSCALL saves the return RIP in RCX");
	CHECK(s.gpr[R_R13] == (2 | F_IF | F_DF | 1), "system: SYSCALL saves RFLAGS in R11 (r11=%llx)",
	      (unsigned long long)s.gpr[R_R13]);
	CHECK(s.gpr[R_R14] == 3, "system: SYSCALL masks RFLAGS with IA32_FMASK (kernel flags %llx)",
	      (unsigned long long)s.gpr[R_R14]);
	CHECK(s.gpr[R_R15] == SEL_KCODE64 && s.gpr[R_RBP] == SEL_KDATA, "system: SYSCALL loads CS/SS from STAR[47:32]");
	CHECK(s.seg[S_CS].sel == SEL_UCODE64 && s.seg[S_SS].sel == SEL_UDATA && s.seg[S_CS].attr == (A_CODE64 | A_DPL3) &&
		      s.seg[S_SS].attr == (A_DATA | A_DPL3) && s.rflags == (2 | F_IF | F_DF | 1),
	      "system: SYSRET returns to CPL 3 with CS=STAR[63:48]+16, SS=+8, RFLAGS=R11 (cs=%x ss=%x attr=%x fl=%llx)",
	      s.seg[S_CS].sel, s.seg[S_SS].sel, s.seg[S_CS].attr, (unsigned long long)s.rflags);

	syscall_env(c, &s, 3);
	s.efer &= ~1ull;
	LOAD(CODE, sc_only);
	vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_UD && s.rip == CODE, "system: SYSCALL with EFER.SCE=0 raises #UD");
	syscall_env(c, &s, 3);
	seg_set(&s, S_CS, SEL_UCODE32, A_CODE32 | A_DPL3);
	LOAD(CODE, sc_only32);
	vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_UD && s.rip == CODE, "system: SYSCALL in compatibility mode raises #UD (Intel)");

	syscall_env(c, &s, 0);
	LOAD(CODE, sr_only);
	s.gpr[R_RCX] = 0x0000800000000000ull;
	vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_GP && err == 0 && s.rip == CODE && s.seg[S_CS].sel == SEL_KCODE64,
	      "system: SYSRET to a non-canonical RIP raises #GP(0) at CPL 0");
	syscall_env(c, &s, 0);
	LOAD(CODE, sr_only32);
	LOAD(0x30000, ud_only);
	s.gpr[R_RCX] = 0xffffffff00030000ull;
	s.gpr[R_R11] = 0x3c7fd7 | 0xff000000ull | F_VM;
	vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_UD && s.rip == 0x30000 && s.seg[S_CS].sel == SEL_UCODE32 && s.seg[S_CS].attr == (A_CODE32 | A_DPL3) &&
		      s.seg[S_SS].sel == SEL_UDATA && s.rflags == (0x3c7fd7 & ~(uint64_t)F_VM),
	      "system: SYSRET with 32-bit operand returns to compatibility mode (cs=%x fl=%llx)", s.seg[S_CS].sel,
	      (unsigned long long)s.rflags);
}

/* ---- SYSENTER / SYSEXIT ---- */
SNIP(se_user32, 32, "mov ecx, 0x7f000\nmov edx, 0x10100\nsysenter");
SNIP(se_kernel32, 32, "mov esi, esp\npushfd\npop edi\nmov ebp, cs\nsysexit");
SNIP(se_user64, 64, "mov rcx, 0x7f000\nmov rdx, 0x10100\nsysenter");
SNIP(se_kernel64, 64, "mov rsi, rsp\nmov ebp, cs\nsysexitq");
SNIP(se_only32, 32, "sysenter\nud2");
SNIP(se_only16, 16, "sysenter\nud2");
SNIP(sx_only64, 64, "sysexitq\nud2");
SNIP(ud_only64, 64, "ud2");

static void test_sysenter(struct cpu *c)
{
	struct cpu_state s;
	uint32_t err;
	env_prot32(c, &s, 3);
	s.sysenter_cs = SEL_KCODE32;
	s.sysenter_esp = 0x90000;
	s.sysenter_eip = KCODE;
	s.rflags = 2 | F_IF;
	LOAD(CODE, se_user32);
	LOAD(KCODE, se_kernel32);
	LOAD(CODE + 0x100, ud_only);
	int vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_UD && s.rip == CODE + 0x100 && (uint32_t)s.gpr[R_RSP] == 0x7f000,
	      "system: SYSENTER/SYSEXIT (legacy) round trip (rip=%llx)", (unsigned long long)s.rip);
	CHECK(s.gpr[R_RSI] == 0x90000 && s.gpr[R_RBP] == SEL_KCODE32 && !(s.gpr[R_RDI] & F_IF),
	      "system: SYSENTER loads ESP, CS from the MSRs and clears IF");
	CHECK(s.seg[S_CS].sel == ((SEL_KCODE32 + 16) | 3) && s.seg[S_SS].sel == ((SEL_KCODE32 + 24) | 3) &&
		      s.seg[S_CS].attr == (A_CODE32 | A_DPL3) && s.seg[S_SS].attr == (A_DATA | A_DPL3),
	      "system: SYSEXIT loads CS=SYSENTER_CS+16|3, SS=+24|3 (cs=%x ss=%x)", s.seg[S_CS].sel, s.seg[S_SS].sel);

	env_long(c, &s, 3);
	s.sysenter_cs = SEL_KCODE64;
	s.sysenter_esp = 0xffff800000090000ull; /* not used as an address */
	s.sysenter_eip = KCODE;
	LOAD(CODE, se_user64);
	LOAD(KCODE, se_kernel64);
	LOAD(CODE + 0x100, ud_only64);
	vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_UD && s.rip == CODE + 0x100 && s.gpr[R_RSP] == 0x7f000 && s.gpr[R_RSI] == 0xffff800000090000ull &&
		      s.gpr[R_RBP] == SEL_KCODE64 && s.seg[S_CS].sel == ((SEL_KCODE64 + 32) | 3) &&
		      s.seg[S_CS].attr == (A_CODE64 | A_DPL3),
	      "system: SYSENTER/SYSEXIT (64-bit) round trip (cs=%x rip=%llx)", s.seg[S_CS].sel, (unsigned long long)s.rip);

	env_prot32(c, &s, 3);
	s.sysenter_cs = 0;
	LOAD(CODE, se_only32);
	vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_GP && err == 0 && s.rip == CODE, "system: SYSENTER with SYSENTER_CS=0 raises #GP(0)");
	env_real(c, &s);
	s.sysenter_cs = SEL_KCODE32;
	LOAD(CODE, se_only16);
	vec = run_exc(c, &s, &err);
	/* The SDM says #GP; Zydis rejects the encoding in real mode, which makes it #UD. */
	CHECK((vec == EXC_GP || vec == EXC_UD) && s.rip == 0 && s.seg[S_CS].sel == CODE >> 4,
	      "system: SYSENTER in real mode faults (vec=%d)", vec);
	env_long(c, &s, 0);
	s.sysenter_cs = SEL_KCODE64;
	s.gpr[R_RDX] = 0x0000800000000000ull;
	LOAD(CODE, sx_only64);
	vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_GP && s.seg[S_CS].sel == SEL_KCODE64, "system: SYSEXIT to a non-canonical RIP raises #GP(0)");
}

/* ---- SWAPGS ---- */
SNIP(swapgs_rd, 64, "swapgs\nmov rax, gs:[8]\nud2");
SNIP(swapgs32, 32, ".byte 0x0f, 0x01, 0xf8\nud2");

static void test_swapgs(struct cpu *c)
{
	struct cpu_state s;
	env_long(c, &s, 0);
	s.seg[S_GS].base = DATA;
	s.kernel_gs_base = DATA + 0x100;
	*pte(DATA + 0x108) = 0xfeedface12345678ull;
	LOAD(CODE, swapgs_rd);
	int vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_UD && s.seg[S_GS].base == DATA + 0x100 && s.kernel_gs_base == DATA &&
		      s.gpr[R_RAX] == 0xfeedface12345678ull,
	      "system: SWAPGS exchanges GS.base and KERNEL_GS_BASE");
	env_long(c, &s, 0);
	seg_set(&s, S_CS, SEL_KCODE32, A_CODE32);
	LOAD(CODE, swapgs32);
	vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_UD && s.rip == CODE, "system: SWAPGS outside 64-bit mode raises #UD");
}

/* ---- CPUID ---- */
SNIP(cpuid_ud, 64, "cpuid\nud2");

static void cpuid_run(struct cpu *c, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	struct cpu_state s;
	env_long(c, &s, 0);
	LOAD(CODE, cpuid_ud);
	s.gpr[R_RAX] = 0xffffffff00000000ull | leaf;
	s.gpr[R_RCX] = 0xffffffff00000000ull | sub;
	s.gpr[R_RBX] = s.gpr[R_RDX] = ~0ull;
	run_exc(c, &s, NULL);
	r[0] = (uint32_t)s.gpr[R_RAX];
	r[1] = (uint32_t)s.gpr[R_RBX];
	r[2] = (uint32_t)s.gpr[R_RCX];
	r[3] = (uint32_t)s.gpr[R_RDX];
	CHECK(!((s.gpr[R_RAX] | s.gpr[R_RBX] | s.gpr[R_RCX] | s.gpr[R_RDX]) >> 32),
	      "system: CPUID %x zero-extends its results", leaf);
}

static void test_cpuid(struct cpu *c)
{
	uint32_t r[4], m[4];
	char str[49] = { 0 };

	cpuid_run(c, 0, 0, r);
	memcpy(str, &r[1], 4);
	memcpy(str + 4, &r[3], 4);
	memcpy(str + 8, &r[2], 4);
	CHECK(r[0] >= 0x16 && !strcmp(str, "GenuineIntel"), "system: CPUID 0: max leaf %x, vendor %s", r[0], str);
	uint32_t max = r[0];

	cpuid_run(c, 1, 0, r);
	uint32_t edx_want = 1 | 1 << 2 | 1 << 3 | 1 << 4 | 1 << 5 | 1 << 6 | 1 << 7 | 1 << 8 | 1 << 9 | 1 << 11 | 1 << 12 |
			    1 << 13 | 1 << 15 | 1 << 16 | 1 << 17 | 1 << 19 | 1 << 23 | 1 << 24 | 1 << 25 | 1 << 26;
	uint32_t ecx_want = 1 << 0 | 1 << 9 | 1 << 13 | 1 << 19 | 1 << 20 | 1 << 22 | 1 << 23 | 1 << 24 | 1u << 31;
	CHECK((r[0] >> 8 & 0xf) == 6, "system: CPUID 1: family 6 (eax=%x)", r[0]);
	CHECK(r[3] == edx_want, "system: CPUID 1 EDX: FPU DE PSE TSC MSR PAE MCE CX8 APIC SEP MTRR PGE CMOV PAT PSE36 CLFSH "
				"MMX FXSR SSE SSE2 exactly (edx=%x)", r[3]);
	CHECK(r[2] == ecx_want, "system: CPUID 1 ECX: SSE3 SSSE3 CX16 SSE4.1 SSE4.2 MOVBE POPCNT TSC-DEADLINE "
				"HYPERVISOR exactly (ecx=%x)", r[2]);
	CHECK((r[1] >> 8 & 0xff) == 8, "system: CPUID 1: CLFLUSH line size 64");

	cpuid_run(c, 7, 0, r);
	CHECK(!r[0] && !r[1] && !r[2] && !r[3], "system: CPUID 7: no structured extended features");
	cpuid_run(c, 4, 0, r);
	CHECK((r[0] & 0x1f) == 1 && (r[0] >> 5 & 7) == 1 && ((r[1] >> 22) + 1) * ((r[1] & 0xfff) + 1) * (r[2] + 1) == 32768,
	      "system: CPUID 4.0: 32 KiB L1 data cache");
	cpuid_run(c, 4, 3, r);
	CHECK((r[0] & 0x1f) == 0, "system: CPUID 4.3: no more caches");
	cpuid_run(c, 0x15, 0, r);
	CHECK(r[0] && (uint64_t)r[2] * r[1] / r[0] == 2000000000ull, "system: CPUID 0x15: 2 GHz TSC from the crystal");
	cpuid_run(c, 0x16, 0, r);
	CHECK(r[0] == 2000, "system: CPUID 0x16: base frequency 2000 MHz");
	cpuid_run(c, max, 0, m);
	cpuid_run(c, 0x1000, 0, r);
	CHECK(!memcmp(r, m, sizeof(r)), "system: CPUID above the maximum returns the highest basic leaf");

	cpuid_run(c, 0x40000000, 0, r);
	memset(str, 0, sizeof(str));
	memcpy(str, &r[1], 12);
	CHECK(r[0] >= 0x40000010 && !strcmp(str, "softvm"), "system: CPUID 0x40000000: softvm signature");
	cpuid_run(c, 0x40000010, 0, r);
	CHECK(r[0] == 2000000, "system: CPUID 0x40000010: TSC kHz");

	cpuid_run(c, 0x80000000, 0, r);
	CHECK(r[0] == 0x80000008, "system: CPUID 0x80000000: max extended leaf");
	cpuid_run(c, 0x80000001, 0, r);
	CHECK(r[3] == (1u << 11 | 1u << 20 | 1u << 26 | 1u << 27 | 1u << 29),
	      "system: CPUID 0x80000001 EDX: SYSCALL NX Page1GB RDTSCP LM (edx=%x)", r[3]);
	CHECK(r[2] == (1u << 0 | 1u << 5 | 1u << 8), "system: CPUID 0x80000001 ECX: LAHF_LM ABM PREFETCHW (ecx=%x)", r[2]);
	for (uint32_t l = 0; l < 3; l++) {
		cpuid_run(c, 0x80000002 + l, 0, r);
		memcpy(str + 16 * l, r, 16);
	}
	str[48] = 0;
	CHECK(!strcmp(str, "softvm virtual CPU"), "system: CPUID brand string '%s'", str);
	cpuid_run(c, 0x80000007, 0, r);
	CHECK(r[3] & 1 << 8, "system: CPUID 0x80000007: invariant TSC");
	cpuid_run(c, 0x80000008, 0, r);
	CHECK((r[0] & 0xff) == 40 && (r[0] >> 8 & 0xff) == 48, "system: CPUID 0x80000008: 40 physical, 48 linear bits");

	/* MISC_ENABLE.LIMIT_CPUID and APIC_BASE.EN are reflected. */
	struct cpu_state s;
	env_long(c, &s, 0);
	LOAD(CODE, cpuid_ud);
	s.misc_enable |= 1 << 22;
	s.gpr[R_RAX] = 0;
	run_exc(c, &s, NULL);
	CHECK((uint32_t)s.gpr[R_RAX] == 2, "system: MISC_ENABLE bit 22 limits CPUID to leaf 2");
	env_long(c, &s, 0);
	LOAD(CODE, cpuid_ud);
	s.apic_base &= ~(1ull << 11);
	s.gpr[R_RAX] = 1;
	run_exc(c, &s, NULL);
	CHECK(!(s.gpr[R_RDX] & 1 << 9), "system: CPUID 1 APIC flag clear when IA32_APIC_BASE.EN is 0");
}

/* ---- MSRs ---- */
SNIP(msr_wr_rd, 64, "wrmsr\nxor eax, eax\nxor edx, edx\nrdmsr\nud2");
SNIP(msr_rd, 64, "rdmsr\nud2");

/* WRMSR then RDMSR at CPL 0: true if both worked; *back gets the value read. */
static bool msr_wr(struct cpu *c, struct cpu_state *s, uint32_t msr, uint64_t v, uint64_t *back)
{
	env_long(c, s, 0);
	LOAD(CODE, msr_wr_rd);
	s->gpr[R_RCX] = msr;
	s->gpr[R_RAX] = (uint32_t)v;
	s->gpr[R_RDX] = v >> 32;
	uint32_t err = ~0u;
	int vec = run_exc(c, s, &err);
	if (back)
		*back = (uint32_t)s->gpr[R_RAX] | s->gpr[R_RDX] << 32;
	if (vec == EXC_GP && err == 0 && s->rip == CODE)
		return false;
	return vec == EXC_UD && s->rip == CODE + SNIP_LEN(msr_wr_rd) - 2;
}

static bool msr_get(struct cpu *c, struct cpu_state *s, uint32_t msr, uint64_t *v)
{
	env_long(c, s, 0);
	LOAD(CODE, msr_rd);
	s->gpr[R_RCX] = msr;
	int vec = run_exc(c, s, NULL);
	*v = (uint32_t)s->gpr[R_RAX] | s->gpr[R_RDX] << 32;
	return vec == EXC_UD;
}

static void test_msrs(struct cpu *c)
{
	static const struct {
		uint32_t msr;
		uint64_t v;
		bool ok;
		uint64_t back; /* when ok */
	} t[] = {
		{ 0xc0000080, 0x901, true, 0xd01 },               /* EFER: LMA is read-only */
		{ 0xc0000080, 0xd03, false, 0 },                  /* EFER reserved bit 1 */
		{ 0xc0000080, 0x1d01, false, 0 },                 /* EFER bit 12 (SVME: not supported) */
		{ 0xc0000081, 0x0023001000000000ull, true, 0x0023001000000000ull },
		{ 0xc0000082, 0xffffffff81000000ull, true, 0xffffffff81000000ull },
		{ 0xc0000082, 0x0000800000000000ull, false, 0 },
		{ 0xc0000083, 0x00007fffffff0000ull, true, 0x00007fffffff0000ull },
		{ 0xc0000083, 0xfff0000000000000ull, false, 0 },
		{ 0xc0000084, 0x47700, true, 0x47700 },
		{ 0xc0000084, 1ull << 32, false, 0 },
		{ 0xc0000100, 0x12345000, true, 0x12345000 },
		{ 0xc0000100, 0x8000000000000000ull, false, 0 },
		{ 0xc0000101, 0xffff880000000000ull, true, 0xffff880000000000ull },
		{ 0xc0000101, 0x0001000000000000ull, false, 0 },
		{ 0xc0000102, 0xffff880000001000ull, true, 0xffff880000001000ull },
		{ 0xc0000102, 0x00f0000000000000ull, false, 0 },
		{ 0xc0000103, 0x1234, true, 0x1234 },
		{ 0xc0000103, 1ull << 32, false, 0 },
		{ 0x1b, 0xfee00900, true, 0xfee00900 },
		{ 0x1b, 0xfec00800, true, 0xfec00900 }, /* BSP flag is read-only */
		{ 0x1b, 0xfee00d00, false, 0 },         /* x2APIC enable: not supported */
		{ 0x1b, 0x10000000900ull, false, 0 },   /* beyond MAXPHYADDR */
		{ 0x277, 0x0007040600070406ull, true, 0x0007040600070406ull },
		{ 0x277, 0x0007040600070402ull, false, 0 },
		{ 0x277, 0x0807040600070406ull, false, 0 },
		{ 0x174, 0x10, true, 0x10 },
		{ 0x175, 0xffffc90000000000ull, true, 0xffffc90000000000ull },
		{ 0x175, 0x0000900000000000ull, false, 0 },
		{ 0x176, 0xffffffff81000000ull, true, 0xffffffff81000000ull },
		{ 0x176, 0x8000000000000000ull, false, 0 },
		{ 0x1a0, 1, true, 0x1801 },            /* fast strings; BTS/PEBS unavailable read as 1 */
		{ 0x1a0, 1ull << 22, true, 0x401800 }, /* limit CPUID */
		{ 0x1a0, 1 << 2, false, 0 },
		{ 0xfe, 0, false, 0 },   /* MTRRcap is read-only */
		{ 0x2ff, 0xc06, true, 0xc06 },
		{ 0x2ff, 0xc02, false, 0 }, /* type 2 is reserved */
		{ 0x2ff, 0x1c06, false, 0 },
		{ 0x250, 0x0606060606060606ull, true, 0x0606060606060606ull },
		{ 0x258, 0x0000000000000001ull, true, 1 },
		{ 0x259, 0x0505050505050505ull, true, 0x0505050505050505ull },
		{ 0x26f, 0x0404040404040404ull, true, 0x0404040404040404ull },
		{ 0x268, 0x0606060606060603ull, false, 0 },
		{ 0x260, 0, false, 0 }, /* not an MTRR */
		{ 0x200, 0x80000006, true, 0x80000006 },
		{ 0x200, 0x80000007, false, 0 },
		{ 0x200, 0x80000106, false, 0 },
		{ 0x20e, 0x10000000006ull, false, 0 },
		{ 0x201, 0xff80000800ull, true, 0xff80000800ull },
		{ 0x201, 0xff80000801ull, false, 0 },
		{ 0x20f, 0xfff0000800ull, true, 0xfff0000800ull },
		{ 0x210, 0, false, 0 }, /* only 8 variable ranges */
		{ 0x179, 0, false, 0 }, /* MCG_CAP read-only */
		{ 0x17a, 0, true, 0 },
		{ 0x17a, 1, false, 0 },
		{ 0x3a, 5, false, 0 }, /* FEATURE_CONTROL locked */
		{ 0x8b, 0, true, 0 },
		{ 0x12345, 0, false, 0 },
		{ 0xc0000104, 0, false, 0 },
		{ BUS_MSR, 0xabcdef, true, 0xabcdef },
	};
	struct cpu_state s;
	for (unsigned k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		uint64_t back = 0;
		bool ok = msr_wr(c, &s, t[k].msr, t[k].v, &back);
		if (t[k].ok)
			CHECK(ok && back == t[k].back, "system: WRMSR/RDMSR %x = %llx reads %llx (got %s, %llx)", t[k].msr,
			      (unsigned long long)t[k].v, (unsigned long long)t[k].back, ok ? "ok" : "#GP",
			      (unsigned long long)back);
		else
			CHECK(!ok, "system: WRMSR %x = %llx raises #GP", t[k].msr, (unsigned long long)t[k].v);
	}
	CHECK(bus_msr_value == 0xabcdef, "system: unknown MSRs go to the bus");

	uint64_t v = 0;
	CHECK(msr_get(c, &s, 0xfe, &v) && v == 0x508, "system: MTRRcap: 8 variable ranges, fixed, WC (%llx)", (unsigned long long)v);
	CHECK(msr_get(c, &s, 0x179, &v) && v == 0, "system: MCG_CAP reads 0");
	CHECK(msr_get(c, &s, 0x17a, &v) && v == 0, "system: MCG_STATUS reads 0");
	CHECK(msr_get(c, &s, 0x3a, &v) && v == 1, "system: IA32_FEATURE_CONTROL reads locked");
	CHECK(!msr_get(c, &s, 0x12345, &v), "system: RDMSR of an unknown MSR raises #GP");
	CHECK(!msr_get(c, &s, 0x17b, &v), "system: RDMSR of MCG_CTL (absent with MCG_CAP=0) raises #GP");
	CHECK(msr_get(c, &s, BUS_MSR, &v) && v == 0xabcdef, "system: RDMSR of a bus MSR");

	/* FS_BASE takes effect for FS-relative accesses. */
	msr_wr(c, &s, 0xc0000100, DATA + 0x40, NULL);
	CHECK(s.seg[S_FS].base == DATA + 0x40, "system: WRMSR FS_BASE sets the FS base");
	/* TSC: a write sets the counter, which keeps counting. */
	uint64_t tsc;
	bool ok = msr_wr(c, &s, 0x10, 0x100000000000ull, &tsc);
	CHECK(ok && tsc >= 0x100000000000ull && tsc < 0x100000000000ull + 2000000000ull,
	      "system: WRMSR TSC sets the counter (read %llx)", (unsigned long long)tsc);
	/* EFER.NXE off while in long mode (allowed) */
	ok = msr_wr(c, &s, 0xc0000080, 0x101, &v);
	CHECK(ok && v == 0x501, "system: EFER.NXE and SCE can be cleared in long mode (%llx)", (unsigned long long)v);
}

SNIP(fs_read, 64, "mov rax, fs:[8]\nud2");
SNIP(tsc_twice, 64, "rdtsc\nmov rbx, rax\nmov rcx, rdx\nrdtscp\nud2");
SNIP(rdpmc0, 64, "rdpmc\nud2");
SNIP(wbinvd0, 64, "wbinvd\ninvd\nud2");

static void test_tsc_misc(struct cpu *c)
{
	struct cpu_state s;
	env_long(c, &s, 0);
	s.seg[S_FS].base = DATA;
	*pte(DATA + 8) = 0x0123456789abcdefull;
	LOAD(CODE, fs_read);
	int vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_UD && s.gpr[R_RAX] == 0x0123456789abcdefull, "system: FS base from state used by FS: accesses");

	env_long(c, &s, 0);
	s.tsc_aux = 0x77;
	LOAD(CODE, tsc_twice);
	vec = run_exc(c, &s, NULL);
	uint64_t t1 = (uint32_t)s.gpr[R_RBX] | s.gpr[R_RCX] << 32; /* rcx was overwritten by RDTSCP */
	uint64_t t2 = (uint32_t)s.gpr[R_RAX] | s.gpr[R_RDX] << 32;
	(void)t1;
	CHECK(vec == EXC_UD && s.gpr[R_RCX] == 0x77 && t2 > (uint32_t)s.gpr[R_RBX], "system: RDTSCP returns TSC_AUX in ECX");
	env_long(c, &s, 0);
	LOAD(CODE, rdpmc0);
	uint32_t err;
	vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_GP && err == 0, "system: RDPMC with no counters raises #GP(0)");
	env_long(c, &s, 0);
	LOAD(CODE, wbinvd0);
	vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_UD && s.rip == CODE + 4, "system: WBINVD and INVD at CPL 0");
}

/* ---- descriptor-table registers ---- */
SNIP(gdt64, 64, "lgdt [rax]\nsgdt [rax+16]\nlidt [rax+32]\nsidt [rax+48]\nud2");
SNIP(lgdt64, 64, "lgdt [rax]\nud2");
SNIP(gdt32, 32, "lgdt [eax]\nsgdt [eax+16]\nud2");
SNIP(gdt32o16, 32, "data16 lgdt [eax]\ndata16 sgdt [eax+16]\nud2");
SNIP(idt16, 16, "lidt [bx]\nud2");
SNIP(idt16o32, 16, "data32 lidt [bx]\nud2");

static void test_dtables(struct cpu *c)
{
	struct cpu_state s;
	env_long(c, &s, 0);
	LOAD(CODE, gdt64);
	uint8_t *d = ram + DATA;
	memcpy(d, "\x34\x12\x78\x56\x34\x12\x00\x80\xff\xff", 10);
	memcpy(d + 32, "\xff\x0f\x00\x10\x00\x00\x00\x00\x00\x00", 10);
	memset(d + 16, 0xee, 16);
	memset(d + 48, 0xee, 16);
	s.gpr[R_RAX] = DATA;
	int vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_UD && s.gdtr.limit == 0x1234 && s.gdtr.base == 0xffff800012345678ull && s.idtr.limit == 0xfff &&
		      s.idtr.base == 0x1000,
	      "system: LGDT/LIDT in 64-bit mode load a 64-bit base");
	CHECK(!memcmp(d + 16, d, 10) && d[26] == 0xee && !memcmp(d + 48, d + 32, 10) && d[58] == 0xee,
	      "system: SGDT/SIDT in 64-bit mode store 10 bytes");
	env_long(c, &s, 0);
	LOAD(CODE, lgdt64);
	memcpy(d, "\x34\x12\x78\x56\x34\x12\x00\x80\x00\x00", 10);
	s.gpr[R_RAX] = DATA;
	uint32_t err;
	vec = run_exc(c, &s, &err);
	CHECK(vec == EXC_GP && err == 0 && s.gdtr.base == GDT, "system: LGDT with a non-canonical base raises #GP(0)");

	env_prot32(c, &s, 0);
	LOAD(CODE, gdt32);
	memcpy(d, "\xff\x00\xdd\xcc\xbb\xaa", 6);
	memset(d + 16, 0xee, 8);
	s.gpr[R_RAX] = DATA;
	vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_UD && s.gdtr.base == 0xaabbccdd && s.gdtr.limit == 0xff && !memcmp(d + 16, d, 6) && d[22] == 0xee,
	      "system: LGDT/SGDT with 32-bit operand size");
	env_prot32(c, &s, 0);
	LOAD(CODE, gdt32o16);
	memcpy(d, "\xff\x00\xdd\xcc\xbb\xaa", 6);
	memset(d + 16, 0xee, 8);
	s.gpr[R_RAX] = DATA;
	vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_UD && s.gdtr.base == 0xbbccdd && d[16 + 5] == 0 && d[16 + 4] == 0xbb && d[22] == 0xee,
	      "system: LGDT with 16-bit operand size loads a 24-bit base (base=%llx)", (unsigned long long)s.gdtr.base);
	env_real(c, &s);
	LOAD(CODE, idt16);
	memcpy(d, "\xff\x03\x44\x33\x22\x11", 6);
	s.gpr[R_RBX] = DATA & 0xffff;
	s.seg[S_DS].base = DATA & ~0xffffull;
	s.seg[S_DS].sel = (uint16_t)(DATA >> 4);
	vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_UD && s.idtr.base == 0x223344 && s.idtr.limit == 0x3ff, "system: LIDT in real mode (o16: 24-bit base)");
	env_real(c, &s);
	LOAD(CODE, idt16o32);
	memcpy(d, "\xff\x03\x44\x33\x22\x11", 6);
	s.gpr[R_RBX] = DATA & 0xffff;
	s.seg[S_DS].base = DATA & ~0xffffull;
	s.seg[S_DS].sel = (uint16_t)(DATA >> 4);
	vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_UD && s.idtr.base == 0x11223344, "system: LIDT in real mode with o32: 32-bit base");
}

/* ---- debug registers ---- */
SNIP(dr0_rw, 64, "mov dr0, rax\nmov rbx, dr0\nud2");
SNIP(dr4_w, 64, "mov dr4, rax\nmov rbx, dr6\nud2");
SNIP(dr5_r, 64, "mov rbx, dr5\nud2");
SNIP(dr6_w, 64, "mov dr6, rax\nmov rbx, dr6\nud2");
SNIP(dr7_w, 64, "mov dr7, rax\nmov rbx, dr7\nud2");

static int dr_try(struct cpu *c, struct cpu_state *s, const uint8_t *code, size_t len, uint64_t v, uint64_t cr4_or,
		  uint64_t dr7)
{
	env_long(c, s, 0);
	memcpy(ram + CODE, code, len);
	s->cr4 |= cr4_or;
	s->dr[7] = dr7;
	s->gpr[R_RAX] = v;
	return run_exc(c, s, NULL);
}
#define DR_TRY(c, s, snip, v, cr4, dr7) dr_try((c), (s), snip, (size_t)(snip##_end - snip), (v), (cr4), (dr7))

static void test_debug_registers(struct cpu *c)
{
	struct cpu_state s;
	int vec = DR_TRY(c, &s, dr0_rw, 0xffff800000001234ull, 0, 0x400);
	CHECK(vec == EXC_UD && s.gpr[R_RBX] == 0xffff800000001234ull && s.dr[0] == s.gpr[R_RBX], "system: MOV DR0 read/write");
	vec = DR_TRY(c, &s, dr4_w, 0x4001, 0, 0x400);
	CHECK(vec == EXC_UD && s.gpr[R_RBX] == 0xffff4ff1ull, "system: DR4 aliases DR6 when CR4.DE=0 (dr6=%llx)",
	      (unsigned long long)s.gpr[R_RBX]);
	vec = DR_TRY(c, &s, dr5_r, 0, 0, 0x401);
	CHECK(vec == EXC_UD && s.gpr[R_RBX] == 0x401, "system: DR5 aliases DR7 when CR4.DE=0");
	vec = DR_TRY(c, &s, dr5_r, 0, 1 << 3, 0x400);
	CHECK(vec == EXC_UD && s.rip == CODE, "system: DR5 with CR4.DE=1 raises #UD");
	vec = DR_TRY(c, &s, dr6_w, 0, 0, 0x400);
	CHECK(vec == EXC_UD && s.gpr[R_RBX] == 0xffff0ff0ull, "system: DR6 fixed bits read as 1");
	vec = DR_TRY(c, &s, dr6_w, 1ull << 32, 0, 0x400);
	CHECK(vec == EXC_GP, "system: DR6 upper bits set raise #GP");
	vec = DR_TRY(c, &s, dr7_w, 0xffff0003ull, 0, 0x400);
	CHECK(vec == EXC_UD && s.gpr[R_RBX] == 0xffff0403ull, "system: DR7 write, bit 10 reads 1");
	vec = DR_TRY(c, &s, dr7_w, 1ull << 33, 0, 0x400);
	CHECK(vec == EXC_GP, "system: DR7 upper bits set raise #GP");
	vec = DR_TRY(c, &s, dr0_rw, 5, 0, 0x2400);
	CHECK(vec == EXC_DB && s.rip == CODE && (s.dr[6] & 0x2000) && !(s.dr[7] & 0x2000) && s.dr[0] == 0,
	      "system: DR access with DR7.GD raises #DB with DR6.BD, clears GD");
}

/* ---- port I/O ---- */
SNIP(io_seq, 64,
     "mov dx, 0x3f8\nmov al, 0x41\nout dx, al\nmov eax, 0xdeadbeef\nout 0x80, eax\nmov ax, 0x1234\nout dx, ax\n"
     "in al, 0x71\nmov rbx, rax\nin ax, dx\nmov rcx, rax\nin eax, dx\nud2");
SNIP(io_out80b, 64, "out 0x80, al\nud2");
SNIP(io_out81b, 64, "out 0x81, al\nud2");
SNIP(io_out80w, 64, "out 0x80, ax\nud2");
SNIP(io_in60b, 64, "in al, 0x60\nud2");
SNIP(io_in60w, 64, "in ax, 0x60\nud2");
SNIP(io_outdxd, 64, "out dx, eax\nud2");
SNIP(io_out2ed, 64, "out 0x2e, eax\nud2");
SNIP(io_out2dd, 64, "out 0x2d, eax\nud2");
SNIP(io_in16, 16, "in al, 0x60\nud2");

/* TSS at TSS with a bitmap at +0x68 covering ports 0..0x3ff, then the all-ones byte. Allowed:
 * 0x80, 0x60, 0x2e..0x31, 0x3f8..0x3ff. */
static void tss_bitmap(struct cpu_state *s)
{
	s->seg[S_TR] = (struct cpu_seg){ .sel = SEL_TSS, .attr = 0x8b, .limit = 0x68 + 0x80, .base = TSS };
	*(uint16_t *)(ram + TSS + 0x66) = 0x68;
	uint8_t *bm = ram + TSS + 0x68;
	memset(bm, 0xff, 0x81);
	static const uint16_t allowed[] = { 0x80, 0x60, 0x2e, 0x2f, 0x30, 0x31, 0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff };
	for (unsigned k = 0; k < sizeof(allowed) / sizeof(allowed[0]); k++)
		bm[allowed[k] / 8] &= (uint8_t)~(1u << (allowed[k] % 8));
}

static int io_try(struct cpu *c, struct cpu_state *s, const uint8_t *code, size_t len, uint16_t dx, uint64_t rflags,
		  bool bitmap)
{
	env_long(c, s, 3);
	if (bitmap)
		tss_bitmap(s);
	else
		tss_no_bitmap(s);
	memcpy(ram + CODE, code, len);
	s->gpr[R_RDX] = dx;
	s->gpr[R_RAX] = 0x11223344;
	s->rflags = rflags;
	return run_exc(c, s, NULL);
}
#define IO_TRY(c, s, snip, dx, fl, bm) io_try((c), (s), snip, (size_t)(snip##_end - snip), (dx), (fl), (bm))

static void test_io(struct cpu *c)
{
	struct cpu_state s;
	env_long(c, &s, 0);
	LOAD(CODE, io_seq);
	s.gpr[R_RAX] = s.gpr[R_RBX] = s.gpr[R_RCX] = 0xffffffffffffffffull;
	io_in_value = 0x87654321;
	int vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_UD && io_n == 6, "system: IN/OUT sequence reaches the bus (%u accesses)", io_n);
	CHECK(io_log[0].out && io_log[0].port == 0x3f8 && io_log[0].size == 1 && io_log[0].val == 0x41, "system: OUT DX, AL");
	CHECK(io_log[1].out && io_log[1].port == 0x80 && io_log[1].size == 4 && io_log[1].val == 0xdeadbeef,
	      "system: OUT imm8, EAX");
	CHECK(io_log[2].out && io_log[2].port == 0x3f8 && io_log[2].size == 2 && io_log[2].val == 0x1234, "system: OUT DX, AX");
	CHECK(!io_log[3].out && io_log[3].port == 0x71 && io_log[3].size == 1 && s.gpr[R_RBX] == 0xdead1221,
	      "system: IN AL, imm8 merges into RAX (rbx=%llx)", (unsigned long long)s.gpr[R_RBX]);
	CHECK(!io_log[4].out && io_log[4].size == 2 && (uint16_t)s.gpr[R_RCX] == 0x4321, "system: IN AX, DX");
	CHECK(!io_log[5].out && io_log[5].size == 4 && s.gpr[R_RAX] == 0x87654321, "system: IN EAX, DX zero-extends");

	const uint64_t fl = 2;
	uint32_t err;
	vec = IO_TRY(c, &s, io_out80b, 0, fl, true);
	CHECK(vec == EXC_UD, "system: CPL 3 OUT to a port the bitmap allows");
	io_n = 0;
	vec = IO_TRY(c, &s, io_out81b, 0, fl, true);
	err = 0;
	cpu_last_exception(c, &err);
	CHECK(vec == EXC_GP && err == 0 && io_n == 0, "system: CPL 3 OUT to a denied port raises #GP(0), no bus access");
	vec = IO_TRY(c, &s, io_out80w, 0, fl, true);
	CHECK(vec == EXC_GP, "system: CPL 3 word OUT needs both ports' bits clear");
	vec = IO_TRY(c, &s, io_in60b, 0, fl, true);
	CHECK(vec == EXC_UD, "system: CPL 3 IN from an allowed port");
	vec = IO_TRY(c, &s, io_in60w, 0, fl, true);
	CHECK(vec == EXC_GP, "system: CPL 3 word IN covering a denied port raises #GP");
	vec = IO_TRY(c, &s, io_out2ed, 0, fl, true);
	CHECK(vec == EXC_UD, "system: CPL 3 dword OUT whose bits span two bitmap bytes");
	vec = IO_TRY(c, &s, io_out2dd, 0, fl, true);
	CHECK(vec == EXC_GP, "system: CPL 3 dword OUT one port lower is denied");
	vec = IO_TRY(c, &s, io_outdxd, 0x3fc, fl, true);
	CHECK(vec == EXC_UD, "system: CPL 3 OUT DX at the end of the allowed range");
	vec = IO_TRY(c, &s, io_outdxd, 0x3fe, fl, true);
	CHECK(vec == EXC_GP, "system: CPL 3 OUT DX running into the terminating byte");
	vec = IO_TRY(c, &s, io_outdxd, 0x1000, fl, true);
	CHECK(vec == EXC_GP, "system: CPL 3 port beyond the TSS limit raises #GP");
	vec = IO_TRY(c, &s, io_out81b, 0, fl | IOPL3, false);
	CHECK(vec == EXC_UD, "system: CPL 3 with IOPL 3 skips the bitmap");
	vec = IO_TRY(c, &s, io_out80b, 0, fl, false);
	CHECK(vec == EXC_GP, "system: CPL 3 with the bitmap offset beyond the TSS limit raises #GP");
	env_long(c, &s, 3);
	tss_bitmap(&s);
	s.seg[S_TR].attr = 0x83; /* 16-bit TSS: no bitmap */
	LOAD(CODE, io_out80b);
	vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_GP, "system: CPL 3 I/O with a 16-bit TSS raises #GP");

	/* VM86 mode checks the bitmap whatever IOPL is. */
	env_real(c, &s);
	s.cr0 |= 1;
	s.rflags = 2 | F_VM | IOPL3;
	for (int k = S_ES; k <= S_GS; k++)
		s.seg[k].attr = 0xf3;
	tss_no_bitmap(&s);
	LOAD(CODE, io_in16);
	vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_GP, "system: VM86 IN with IOPL 3 still consults the bitmap (denied)");
	env_real(c, &s);
	s.cr0 |= 1;
	s.rflags = 2 | F_VM;
	for (int k = S_ES; k <= S_GS; k++)
		s.seg[k].attr = 0xf3;
	tss_bitmap(&s);
	LOAD(CODE, io_in16);
	vec = run_exc(c, &s, NULL);
	CHECK(vec == EXC_UD, "system: VM86 IN allowed by the bitmap with IOPL 0");
}

int main(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	struct cpu *c = cpu_create(&test_bus);
	test_privileged_cpl3(c);
	test_cli_sti(c);
	test_hlt(c);
	test_control_registers(c);
	test_long_mode_entry(c);
	test_syscall(c);
	test_sysenter(c);
	test_swapgs(c);
	test_cpuid(c);
	test_msrs(c);
	test_tsc_misc(c);
	test_dtables(c);
	test_debug_registers(c);
	test_io(c);
	cpu_destroy(c);
	free(ram);
	TEST_EXIT();
}
