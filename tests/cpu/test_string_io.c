/*
 * Unit tests of the string instructions where the real processor cannot be the reference:
 * INS/OUTS against a fake port bus (REP, DF, count 0, a fault part-way with no input lost, the
 * I/O permission check), REP chunking and restart (an instruction budget of one stops inside a
 * long REP STOS with RIP still on it), long overlapping REP MOVS against a byte-at-a-time model,
 * REP MOVS/STOS to and from MMIO (element-sized accesses, never split into bytes), and the 16-bit
 * address size with segment overrides in real mode.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "tests/test.h"

#define RAM_SIZE (4u << 20)
#define MMIO_PAGE 0x1ff000ull  /* not RAM: the bus's MMIO callbacks see it */
#define HOLE_PAGE 0x1fd000ull  /* not present in the page tables */
#define PML4 0x1000
#define PDPT 0x2000
#define PD 0x3000
#define PT 0x4000
#define TSS 0x5000
#define CODE 0x10000
#define DATA 0x20000

static uint8_t *ram;

/* ---- fake bus: a port that counts, a log of port and MMIO accesses ---- */
struct access {
	uint64_t addr;
	unsigned size;
	uint64_t val;
};
static struct access log_in[64], log_out[64], log_mmio_r[64], log_mmio_w[64];
static unsigned n_in, n_out, n_mmio_r, n_mmio_w;
static uint32_t port_counter;

static void log_add(struct access *l, unsigned *n, uint64_t addr, unsigned size, uint64_t val)
{
	if (*n < 64)
		l[*n] = (struct access){ addr, size, val };
	(*n)++;
}

static void log_reset(void)
{
	n_in = n_out = n_mmio_r = n_mmio_w = 0;
	port_counter = 0x11;
}

static uint8_t *bus_ram_ptr(void *opaque, uint64_t gpa, bool write)
{
	if ((gpa & ~0xfffull) == MMIO_PAGE || gpa >= RAM_SIZE)
		return NULL;
	return ram + (gpa & ~0xfffull);
}

static uint64_t bus_mmio_read(void *opaque, uint64_t gpa, unsigned size)
{
	uint64_t v = 0xa0a1a2a3a4a5a6a7ull + gpa;
	log_add(log_mmio_r, &n_mmio_r, gpa, size, v);
	return v;
}

static void bus_mmio_write(void *opaque, uint64_t gpa, unsigned size, uint64_t val)
{
	log_add(log_mmio_w, &n_mmio_w, gpa, size, val);
}

/* Each read returns the next value of a counter, replicated into every byte of the access. */
static uint32_t bus_in(void *opaque, uint16_t port, unsigned size)
{
	uint32_t v = port_counter++ * 0x01010101u;
	v &= size == 4 ? ~0u : (1u << (size * 8)) - 1;
	log_add(log_in, &n_in, port, size, v);
	return v;
}

static void bus_out(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
	log_add(log_out, &n_out, port, size, val);
}

static int bus_intr_ack(void *opaque)
{
	return -1;
}

static const struct cpu_bus bus = {
	.ram_ptr = bus_ram_ptr, .mmio_read = bus_mmio_read, .mmio_write = bus_mmio_write,
	.io_in = bus_in, .io_out = bus_out, .intr_ack = bus_intr_ack,
};

/* ---- machine setups ---- */

static uint64_t *pte(uint64_t pa)
{
	return (uint64_t *)(ram + pa);
}

/* 64-bit mode at CPL 0, identity-mapped first 2 MiB (4 KiB pages), except the hole page. */
static void long_mode(struct cpu *c, struct cpu_state *s)
{
	memset(ram, 0, RAM_SIZE);
	*pte(PML4) = PDPT | 7;
	*pte(PDPT) = PD | 7;
	*pte(PD) = PT | 7;
	for (int k = 0; k < 512; k++)
		*pte(PT + 8 * k) = (uint64_t)k * 4096 | 7;
	*pte(PT + 8 * (HOLE_PAGE >> 12)) = 0;
	cpu_reset(c);
	cpu_get_state(c, s);
	s->cr0 = 0x80000033;
	s->cr4 = 0x6a0;
	s->cr3 = PML4;
	s->efer = 0xd01;
	s->seg[S_CS] = (struct cpu_seg){ .sel = 8, .attr = 0xa09b, .limit = 0xffffffff };
	for (int k = S_ES; k <= S_GS; k++)
		if (k != S_CS)
			s->seg[k] = (struct cpu_seg){ .sel = 16, .attr = 0xc093, .limit = 0xffffffff };
	/* A 64-bit TSS whose I/O map base lies past its limit: no port is allowed at CPL > IOPL. */
	s->seg[S_TR] = (struct cpu_seg){ .sel = 0x28, .attr = 0x8b, .limit = 0x67, .base = TSS };
	*(uint16_t *)(ram + TSS + 0x66) = 0x68;
	s->gpr[R_RSP] = 0x80000;
	s->rflags = 2;
}

/* Real mode: CS = 0x1000 (code at CODE), DS = 0x2000, ES = 0x3000, FS = 0x4000. */
static void real_mode(struct cpu *c, struct cpu_state *s)
{
	memset(ram, 0, RAM_SIZE);
	cpu_reset(c);
	cpu_get_state(c, s);
	s->seg[S_CS] = (struct cpu_seg){ .sel = CODE >> 4, .attr = 0x9b, .limit = 0xffff, .base = CODE };
	static const uint16_t sel[] = { [S_DS] = 0x2000, [S_ES] = 0x3000, [S_FS] = 0x4000, [S_GS] = 0x5000,
					[S_SS] = 0x6000 };
	for (int k = S_ES; k <= S_GS; k++)
		if (k != S_CS)
			s->seg[k] = (struct cpu_seg){ .sel = sel[k], .attr = 0x93, .limit = 0xffff,
						      .base = (uint64_t)sel[k] << 4 };
	s->gpr[R_RSP] = 0xfffe;
	s->rflags = 2;
}

/* Runs code at CS:0 / CODE from state s until HLT or an exception; s receives the final state. */
static enum cpu_exit run(struct cpu *c, struct cpu_state *s, const void *code, size_t len, uint64_t budget)
{
	memcpy(ram + CODE, code, len);
	ram[CODE + len] = 0xf4; /* hlt */
	s->rip = s->seg[S_CS].base == CODE ? 0 : CODE;
	cpu_set_state(c, s);
	cpu_set_exception_exits(c, ~0u);
	log_reset();
	enum cpu_exit r = cpu_run(c, budget);
	cpu_get_state(c, s);
	return r;
}

/* ---- INS / OUTS ---- */

static void test_rep_ins(struct cpu *c)
{
	struct cpu_state s;
	static const uint8_t code[] = { 0xf3, 0x6c }; /* rep insb */
	long_mode(c, &s);
	s.gpr[R_RDX] = 0x1234560060; /* port = DX */
	s.gpr[R_RDI] = DATA;
	s.gpr[R_RCX] = 5;
	enum cpu_exit r = run(c, &s, code, sizeof(code), 1000);
	bool ok = n_in == 5;
	for (unsigned k = 0; k < 5 && ok; k++)
		ok = log_in[k].addr == 0x60 && log_in[k].size == 1 && ram[DATA + k] == 0x11 + k;
	CHECK(r == CPU_EXIT_HLT && ok && s.gpr[R_RDI] == DATA + 5 && s.gpr[R_RCX] == 0 && ram[DATA + 5] == 0,
	      "string_io: rep insb reads DX five times into ES:RDI");

	static const uint8_t code_w[] = { 0xfd, 0x66, 0xf3, 0x6d, 0xfc }; /* std; rep insw; cld */
	long_mode(c, &s);
	s.gpr[R_RDX] = 0x3f8;
	s.gpr[R_RDI] = DATA + 0x100;
	s.gpr[R_RCX] = 3;
	r = run(c, &s, code_w, sizeof(code_w), 1000);
	CHECK(r == CPU_EXIT_HLT && n_in == 3 && log_in[0].size == 2 && *(uint16_t *)(ram + DATA + 0x100) == 0x1111 &&
	      *(uint16_t *)(ram + DATA + 0xfe) == 0x1212 && *(uint16_t *)(ram + DATA + 0xfc) == 0x1313 &&
	      s.gpr[R_RDI] == DATA + 0xfa, "string_io: rep insw with DF=1 walks down");

	static const uint8_t code_d[] = { 0xf3, 0x6d, 0x6d }; /* rep insd; insd */
	long_mode(c, &s);
	s.gpr[R_RDX] = 0xcfc;
	s.gpr[R_RDI] = DATA;
	s.gpr[R_RCX] = 2;
	r = run(c, &s, code_d, sizeof(code_d), 1000);
	CHECK(r == CPU_EXIT_HLT && n_in == 3 && log_in[2].size == 4 && *(uint32_t *)(ram + DATA) == 0x11111111 &&
	      *(uint32_t *)(ram + DATA + 8) == 0x13131313 && s.gpr[R_RDI] == DATA + 12 && s.gpr[R_RCX] == 0,
	      "string_io: rep insd then a single insd");

	long_mode(c, &s);
	s.gpr[R_RDI] = DATA;
	s.gpr[R_RCX] = 0;
	r = run(c, &s, code, sizeof(code), 1000);
	CHECK(r == CPU_EXIT_HLT && n_in == 0 && s.gpr[R_RDI] == DATA, "string_io: rep insb with RCX=0 reads nothing");
}

static void test_rep_outs(struct cpu *c)
{
	struct cpu_state s;
	/* rep outsb; rep outsw; rep outsd */
	static const uint8_t code[] = { 0xf3, 0x6e, 0x66, 0xf3, 0x6f, 0xb1, 0x02, 0xf3, 0x6f };
	long_mode(c, &s);
	for (int k = 0; k < 64; k++)
		ram[DATA + k] = (uint8_t)(0x40 + k);
	s.gpr[R_RDX] = 0x80;
	s.gpr[R_RSI] = DATA;
	s.gpr[R_RCX] = 3;
	/* after rep outsb, RCX = 0: rep outsw does nothing; then mov cl, 2; rep outsd */
	enum cpu_exit r = run(c, &s, code, sizeof(code), 1000);
	CHECK(r == CPU_EXIT_HLT && n_out == 5 && log_out[0].addr == 0x80 && log_out[0].size == 1 &&
	      log_out[0].val == 0x40 && log_out[2].val == 0x42 && log_out[3].size == 4 &&
	      log_out[3].val == 0x46454443 && log_out[4].val == 0x4a494847 && s.gpr[R_RSI] == DATA + 11,
	      "string_io: rep outsb, rep outsw with RCX=0, rep outsd");

	static const uint8_t code_fs[] = { 0x64, 0x66, 0x6f }; /* outsw with an FS override */
	long_mode(c, &s);
	s.seg[S_FS].base = DATA + 0x20;
	*(uint16_t *)(ram + DATA + 0x24) = 0xbeef;
	s.gpr[R_RSI] = 4;
	s.gpr[R_RDX] = 0x1f0;
	r = run(c, &s, code_fs, sizeof(code_fs), 1000);
	CHECK(r == CPU_EXIT_HLT && n_out == 1 && log_out[0].val == 0xbeef && log_out[0].addr == 0x1f0 &&
	      s.gpr[R_RSI] == 6, "string_io: outsw reads FS:RSI");
}

static void test_ins_fault(struct cpu *c)
{
	struct cpu_state s;
	static const uint8_t code[] = { 0xf3, 0x6c }; /* rep insb */
	long_mode(c, &s);
	s.gpr[R_RDX] = 0x60;
	s.gpr[R_RDI] = HOLE_PAGE - 2;
	s.gpr[R_RCX] = 5;
	enum cpu_exit r = run(c, &s, code, sizeof(code), 1000);
	uint32_t err;
	int vec = cpu_last_exception(c, &err);
	CHECK(r == CPU_EXIT_EXCEPTION && vec == 14 && (err & 2) && s.cr2 == HOLE_PAGE && s.rip == CODE,
	      "string_io: rep insb into a missing page raises #PF at the page");
	CHECK(n_in == 2 && s.gpr[R_RCX] == 3 && s.gpr[R_RDI] == HOLE_PAGE && ram[HOLE_PAGE - 1] == 0x12,
	      "string_io: after the fault RCX/RDI count the two bytes done and no input was lost (reads=%u)", n_in);
}

static void test_io_permission(struct cpu *c)
{
	struct cpu_state s;
	static const uint8_t code[] = { 0xf3, 0x6e }; /* rep outsb */
	long_mode(c, &s);
	s.seg[S_CS] = (struct cpu_seg){ .sel = 0x33, .attr = 0xa0fb, .limit = 0xffffffff };
	s.seg[S_SS] = (struct cpu_seg){ .sel = 0x2b, .attr = 0xc0f3, .limit = 0xffffffff };
	s.gpr[R_RSI] = DATA;
	s.gpr[R_RCX] = 2;
	s.gpr[R_RDX] = 0x80;
	enum cpu_exit r = run(c, &s, code, sizeof(code), 1000);
	uint32_t err;
	int vec = cpu_last_exception(c, &err);
	CHECK(r == CPU_EXIT_EXCEPTION && vec == 13 && err == 0 && n_out == 0 && s.gpr[R_RCX] == 2,
	      "string_io: rep outsb at CPL 3 with IOPL 0 and no I/O bitmap raises #GP(0)");
	long_mode(c, &s);
	s.seg[S_CS] = (struct cpu_seg){ .sel = 0x33, .attr = 0xa0fb, .limit = 0xffffffff };
	s.seg[S_SS] = (struct cpu_seg){ .sel = 0x2b, .attr = 0xc0f3, .limit = 0xffffffff };
	s.rflags = 2 | (3u << 12); /* IOPL 3 */
	s.gpr[R_RSI] = DATA;
	s.gpr[R_RCX] = 2;
	s.gpr[R_RDX] = 0x80;
	static const uint8_t code2[] = { 0xf3, 0x6e, 0x0f, 0x0b }; /* rep outsb; ud2 */
	r = run(c, &s, code2, sizeof(code2), 1000);
	CHECK(r == CPU_EXIT_EXCEPTION && cpu_last_exception(c, NULL) == 6 && n_out == 2,
	      "string_io: rep outsb at CPL 3 with IOPL 3 is allowed");
}

/* ---- REP chunking, overlap, MMIO ---- */

static void test_rep_restart(struct cpu *c)
{
	struct cpu_state s;
	static const uint8_t code[] = { 0xf3, 0xaa }; /* rep stosb */
	const uint64_t n = 100000, dst = 0x100000;
	long_mode(c, &s);
	s.gpr[R_RAX] = 0x5c;
	s.gpr[R_RDI] = dst;
	s.gpr[R_RCX] = n;
	enum cpu_exit r = run(c, &s, code, sizeof(code), 1);
	CHECK(r == CPU_EXIT_BUDGET && s.rip == CODE && s.gpr[R_RCX] > 0 && s.gpr[R_RCX] < n &&
	      s.gpr[R_RDI] == dst + (n - s.gpr[R_RCX]) && ram[s.gpr[R_RDI] - 1] == 0x5c && ram[s.gpr[R_RDI]] == 0,
	      "string_io: one budget unit runs one chunk of rep stosb and stays on it (rcx=%llu)",
	      (unsigned long long)s.gpr[R_RCX]);
	cpu_set_state(c, &s);
	r = cpu_run(c, 100000);
	cpu_get_state(c, &s);
	bool ok = true;
	for (uint64_t k = 0; k < n && ok; k++)
		ok = ram[dst + k] == 0x5c;
	CHECK(r == CPU_EXIT_HLT && ok && ram[dst + n] == 0 && s.gpr[R_RCX] == 0 && s.gpr[R_RDI] == dst + n,
	      "string_io: the restarted rep stosb completes");
}

/* Element-at-a-time model of forward MOVS (the SDM's sequential semantics). */
static void movs_model(uint8_t *m, uint64_t src, uint64_t dst, uint64_t count, unsigned size)
{
	for (uint64_t k = 0; k < count; k++) {
		uint8_t v[8];
		memcpy(v, m + src + k * size, size); /* an element is read whole, then written */
		for (unsigned b = 0; b < size; b++)
			m[dst + k * size + b] = v[b];
	}
}

static void test_overlap(struct cpu *c)
{
	static uint8_t model[RAM_SIZE];
	static const struct { uint8_t code[3]; unsigned len, size; uint64_t dist, count; } cases[] = {
		{ { 0xf3, 0xa4 }, 2, 1, 3, 20000 },
		{ { 0xf3, 0xa4 }, 2, 1, 4095, 9000 },
		{ { 0xf3, 0x48, 0xa5 }, 3, 8, 13, 3000 },
		{ { 0xf3, 0x48, 0xa5 }, 3, 8, 5, 1000 },
		{ { 0xf3, 0xa5 }, 2, 4, 4, 2000 },
	};
	for (unsigned t = 0; t < sizeof(cases) / sizeof(cases[0]); t++) {
		struct cpu_state s;
		const uint64_t src = 0x100ff1;
		long_mode(c, &s);
		for (uint64_t k = 0; k < 0x10000; k++)
			ram[src + k] = (uint8_t)(k * 7 + (k >> 8));
		memcpy(model, ram, RAM_SIZE);
		movs_model(model, src, src + cases[t].dist, cases[t].count, cases[t].size);
		s.gpr[R_RSI] = src;
		s.gpr[R_RDI] = src + cases[t].dist;
		s.gpr[R_RCX] = cases[t].count;
		enum cpu_exit r = run(c, &s, cases[t].code, cases[t].len, 1000000);
		uint64_t bytes = cases[t].count * cases[t].size;
		CHECK(r == CPU_EXIT_HLT && !memcmp(ram + 0x100000, model + 0x100000, 0x20000) &&
		      s.gpr[R_RSI] == src + bytes && s.gpr[R_RDI] == src + cases[t].dist + bytes,
		      "string_io: overlapping rep movs (size %u, destination %llu bytes above) matches the element model",
		      cases[t].size, (unsigned long long)cases[t].dist);
	}
}

static void test_mmio(struct cpu *c)
{
	struct cpu_state s;
	static const uint8_t code[] = { 0xf3, 0xa5 }; /* rep movsd */
	long_mode(c, &s);
	for (int k = 0; k < 32; k++)
		ram[DATA + k] = (uint8_t)k;
	s.gpr[R_RSI] = DATA;
	s.gpr[R_RDI] = MMIO_PAGE + 0x10;
	s.gpr[R_RCX] = 8;
	enum cpu_exit r = run(c, &s, code, sizeof(code), 1000);
	bool ok = n_mmio_w == 8;
	for (unsigned k = 0; k < 8 && ok; k++)
		ok = log_mmio_w[k].size == 4 && log_mmio_w[k].addr == MMIO_PAGE + 0x10 + 4 * k &&
		     log_mmio_w[k].val == (uint64_t)(4 * k) * 0x01010101u + 0x03020100u;
	CHECK(r == CPU_EXIT_HLT && ok, "string_io: rep movsd to MMIO makes eight 4-byte writes (%u)", n_mmio_w);

	static const uint8_t code_s[] = { 0xf3, 0x48, 0xab }; /* rep stosq */
	long_mode(c, &s);
	s.gpr[R_RAX] = 0x0102030405060708ull;
	s.gpr[R_RDI] = MMIO_PAGE - 0x10; /* two elements in RAM, then two in MMIO */
	s.gpr[R_RCX] = 4;
	r = run(c, &s, code_s, sizeof(code_s), 1000);
	CHECK(r == CPU_EXIT_HLT && n_mmio_w == 2 && log_mmio_w[0].size == 8 && log_mmio_w[0].addr == MMIO_PAGE &&
	      log_mmio_w[1].val == 0x0102030405060708ull && *(uint64_t *)(ram + MMIO_PAGE - 0x10) == 0x0102030405060708ull &&
	      *(uint64_t *)(ram + MMIO_PAGE - 8) == 0x0102030405060708ull,
	      "string_io: rep stosq from RAM into MMIO: RAM filled, then 8-byte MMIO writes");

	static const uint8_t code_l[] = { 0xf3, 0x66, 0xa5 }; /* rep movsw from MMIO */
	long_mode(c, &s);
	s.gpr[R_RSI] = MMIO_PAGE + 0x100;
	s.gpr[R_RDI] = DATA;
	s.gpr[R_RCX] = 3;
	r = run(c, &s, code_l, sizeof(code_l), 1000);
	CHECK(r == CPU_EXIT_HLT && n_mmio_r == 3 && log_mmio_r[2].size == 2 && log_mmio_r[2].addr == MMIO_PAGE + 0x104 &&
	      *(uint16_t *)(ram + DATA + 4) == (uint16_t)(0xa0a1a2a3a4a5a6a7ull + MMIO_PAGE + 0x104),
	      "string_io: rep movsw from MMIO makes 2-byte reads");
}

/* ---- 16-bit addressing (real mode) ---- */

static void test_real_mode_16bit(struct cpu *c)
{
	struct cpu_state s;
	static const uint8_t code[] = { 0x64, 0xf3, 0xa4 }; /* fs rep movsb */
	real_mode(c, &s);
	for (int k = 0; k < 0x10000; k++)
		ram[0x40000 + k] = (uint8_t)(k ^ 0x5a);
	s.gpr[R_RSI] = 0x12345678ffffull - 0xfffff + 0xfffe; /* SI = 0xfffe, upper bits random */
	s.gpr[R_RDI] = 0xabcd0010;
	s.gpr[R_RCX] = 0x77770004; /* CX = 4 */
	enum cpu_exit r = run(c, &s, code, sizeof(code), 1000);
	CHECK(r == CPU_EXIT_HLT && ram[0x30010] == (uint8_t)(0xfffe ^ 0x5a) && ram[0x30011] == (uint8_t)(0xffff ^ 0x5a) &&
	      ram[0x30012] == 0x5a && ram[0x30013] == (1 ^ 0x5a),
	      "string_io: real mode fs rep movsb reads FS:SI, SI wraps at 64 KiB");
	CHECK(s.gpr[R_RSI] == ((0x12345678ffffull - 0xfffff + 0xfffe) & ~0xffffull) + 2 &&
	      s.gpr[R_RDI] == 0xabcd0014 && s.gpr[R_RCX] == 0x77770000,
	      "string_io: 16-bit address size updates only SI, DI, CX");

	static const uint8_t code_es[] = { 0x26, 0xac, 0xac }; /* es lodsb; lodsb */
	real_mode(c, &s);
	ram[0x30005] = 0xe5;
	ram[0x20006] = 0xd6;
	s.gpr[R_RSI] = 5;
	r = run(c, &s, code_es, sizeof(code_es), 1000);
	CHECK(r == CPU_EXIT_HLT && (s.gpr[R_RAX] & 0xff) == 0xd6 && s.gpr[R_RSI] == 7,
	      "string_io: es lodsb then lodsb (DS)");
	real_mode(c, &s);
	ram[0x30005] = 0xe5;
	s.gpr[R_RSI] = 5;
	r = run(c, &s, code_es, 2, 1000);
	CHECK(r == CPU_EXIT_HLT && (s.gpr[R_RAX] & 0xff) == 0xe5, "string_io: es lodsb reads ES:SI");

	static const uint8_t code_ins[] = { 0xfd, 0xf3, 0x6c, 0xfc }; /* std; rep insb; cld */
	real_mode(c, &s);
	s.gpr[R_RDI] = 1;
	s.gpr[R_RCX] = 3;
	s.gpr[R_RDX] = 0x71;
	r = run(c, &s, code_ins, sizeof(code_ins), 1000);
	CHECK(r == CPU_EXIT_HLT && ram[0x30001] == 0x11 && ram[0x30000] == 0x12 && ram[0x3ffff] == 0x13 &&
	      (s.gpr[R_RDI] & 0xffff) == 0xfffe && n_in == 3 && log_in[0].addr == 0x71,
	      "string_io: real mode rep insb with DF=1 wraps DI below 0");

	/* 32-bit address size in real mode (0x67): ESI beyond 64 KiB exceeds the limit: #GP. */
	static const uint8_t code_67[] = { 0x67, 0xac }; /* lodsb [esi] */
	real_mode(c, &s);
	s.gpr[R_RSI] = 0x10000;
	r = run(c, &s, code_67, sizeof(code_67), 1000);
	CHECK(r == CPU_EXIT_EXCEPTION && cpu_last_exception(c, NULL) == 13 && s.gpr[R_RSI] == 0x10000,
	      "string_io: addr32 lodsb past the 64 KiB limit raises #GP");
}

int main(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	struct cpu *c = cpu_create(&bus);
	test_rep_ins(c);
	test_rep_outs(c);
	test_ins_fault(c);
	test_io_permission(c);
	test_rep_restart(c);
	test_overlap(c);
	test_mmio(c);
	test_real_mode_16bit(c);
	cpu_destroy(c);
	free(ram);
	TEST_EXIT();
}
