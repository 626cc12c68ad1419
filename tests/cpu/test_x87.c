/*
 * Unit tests of the x87 FPU for what the differential tests cannot reach from user mode: #NM from
 * CR0.EM/TS (and WAIT's MP rule), the deferred #MF with CR0.NE and its absence without, the
 * real-mode layouts of FNSTENV and FNSAVE/FRSTOR, and FOP/FIP recording.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "tests/test.h"

#define RAM_SIZE (1u << 20)
#define CODE 0x1000

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
	return ~0u;
}
static void bus_out(void *opaque, uint16_t port, unsigned size, uint32_t val)
{
}

static const struct cpu_bus bus = {
	.ram_ptr = bus_ram_ptr, .mmio_read = bus_mmio_read, .mmio_write = bus_mmio_write,
	.io_in = bus_in, .io_out = bus_out,
};

/* Runs code at 0000:1000 in real mode with the given CR0 bits added; returns the exception
 * vector that stopped it (6 for the closing UD2). */
static int run(struct cpu *c, struct cpu_state *s, const uint8_t *code, size_t len, uint64_t cr0_set)
{
	memset(ram, 0, RAM_SIZE);
	memcpy(ram + CODE, code, len);
	ram[0x2000] = 0x7b; /* control word 0x037b: ZE unmasked */
	ram[0x2001] = 0x03;
	cpu_reset(c);
	cpu_get_state(c, s);
	s->seg[S_CS].sel = 0;
	s->seg[S_CS].base = 0;
	s->rip = CODE;
	s->cr0 = (s->cr0 & ~(0x2eull)) | cr0_set; /* clear MP EM TS NE, then set what the test wants */
	cpu_set_state(c, s);
	cpu_set_exception_exits(c, ~0u);
	enum cpu_exit r = cpu_run(c, 1000);
	cpu_get_state(c, s);
	uint32_t err;
	return r == CPU_EXIT_EXCEPTION ? cpu_last_exception(c, &err) : -1;
}

#define CR0_MP 0x2
#define CR0_EM 0x4
#define CR0_TS 0x8
#define CR0_NE 0x20

static void test_nm(struct cpu *c)
{
	struct cpu_state s;
	static const uint8_t fld1[] = { 0xd9, 0xe8, 0x0f, 0x0b };
	static const uint8_t fwait[] = { 0x9b, 0x0f, 0x0b };
	int v = run(c, &s, fld1, sizeof(fld1), CR0_TS);
	CHECK(v == 7 && s.rip == CODE, "x87: CR0.TS makes FLD1 raise #NM (vector %d)", v);
	v = run(c, &s, fld1, sizeof(fld1), CR0_EM);
	CHECK(v == 7 && s.rip == CODE, "x87: CR0.EM makes FLD1 raise #NM (vector %d)", v);
	v = run(c, &s, fld1, sizeof(fld1), 0);
	CHECK(v == 6 && ((s.fx.fsw >> 11) & 7) == 7 && s.fx.ftw == 0x80, "x87: FLD1 runs with EM = TS = 0");
	v = run(c, &s, fwait, sizeof(fwait), CR0_TS);
	CHECK(v == 6 && s.rip == CODE + 1, "x87: WAIT ignores TS without MP");
	v = run(c, &s, fwait, sizeof(fwait), CR0_TS | CR0_MP);
	CHECK(v == 7 && s.rip == CODE, "x87: WAIT raises #NM with MP and TS");
	v = run(c, &s, fwait, sizeof(fwait), CR0_EM);
	CHECK(v == 6, "x87: WAIT ignores EM");
}

/* fninit; fldcw [0x2000] (ZE unmasked); fldz; fld1; fdiv st0, st1 (pending #Z); fld1; ud2 */
static const uint8_t zdiv[] = { 0xdb, 0xe3, 0xd9, 0x2e, 0x00, 0x20, 0xd9, 0xee, 0xd9, 0xe8,
				0xd8, 0xf1, 0xd9, 0xe8, 0x0f, 0x0b };

static void test_mf(struct cpu *c)
{
	struct cpu_state s;
	int v = run(c, &s, zdiv, sizeof(zdiv), CR0_NE);
	uint64_t one = 0x8000000000000000ull;
	CHECK(v == 16 && s.rip == CODE + 12, "x87: unmasked #Z is raised as #MF at the next FLD1 (vector %d rip %#llx)",
	      v, (unsigned long long)s.rip);
	CHECK((s.fx.fsw & 0x80bf) == 0x8084 && ((s.fx.fsw >> 11) & 7) == 6,
	      "x87: FSW has ZE, ES, B and TOP 6 (%#x)", s.fx.fsw);
	CHECK(!memcmp(s.fx.st[0], &one, 8) && s.fx.st[0][8] == 0xff && s.fx.st[0][9] == 0x3f,
	      "x87: unmasked #Z leaves the destination unchanged");
	CHECK(s.fx.fop == 0x0f1 && (uint32_t)s.fx.fip == CODE + 10, "x87: FOP %#x and FIP %#llx of the FDIV", s.fx.fop,
	      (unsigned long long)s.fx.fip);
	v = run(c, &s, zdiv, sizeof(zdiv), 0);
	CHECK(v == 6 && ((s.fx.fsw >> 11) & 7) == 5, "x87: without CR0.NE the pending error does not stop FLD1");
}

static void test_env_real(struct cpu *c)
{
	struct cpu_state s;
	/* the ZE setup, then fnstenv [0x3000] (no wait: no #MF) */
	uint8_t code[32];
	memcpy(code, zdiv, 12);
	static const uint8_t tail[] = { 0xd9, 0x36, 0x00, 0x30, 0x0f, 0x0b };
	memcpy(code + 12, tail, sizeof(tail));
	int v = run(c, &s, code, 12 + sizeof(tail), CR0_NE);
	uint16_t w[7];
	memcpy(w, ram + 0x3000, 14);
	CHECK(v == 6, "x87: FNSTENV does not wait for the pending error (vector %d)", v);
	CHECK(w[0] == 0x037b && w[1] == 0xb084 && w[2] == 0x4fff, "x87: 16-bit env: FCW %#x FSW %#x FTW %#x", w[0], w[1],
	      w[2]);
	CHECK(w[3] == CODE + 10 && w[4] == 0x0f1 && w[5] == 0 && w[6] == 0,
	      "x87: 16-bit real-mode env: IP %#x, IP(19:16)|FOP %#x, DP %#x %#x", w[3], w[4], w[5], w[6]);
	CHECK(s.fx.fcw == 0x037f && !(s.fx.fsw & 0x8080), "x87: FNSTENV masks every exception afterwards");

	/* fninit; fld1; fldz; fnsave32 [0x3000]; fld1; frstor32 [0x3000]; ud2 */
	static const uint8_t save[] = { 0xdb, 0xe3, 0xd9, 0xe8, 0xd9, 0xee, 0x66, 0xdd, 0x36, 0x00, 0x30,
					0xd9, 0xe8, 0x66, 0xdd, 0x26, 0x00, 0x30, 0x0f, 0x0b };
	v = run(c, &s, save, sizeof(save), CR0_NE);
	uint32_t d[7];
	memcpy(d, ram + 0x3000, 28);
	CHECK(v == 6 && ((s.fx.fsw >> 11) & 7) == 6 && s.fx.ftw == 0xc0, "x87: FRSTOR restores TOP and tags");
	CHECK(d[0] == 0xffff037f && (d[1] & 0xffff) == 0x3000 && (d[2] & 0xffff) == 0x1fff,
	      "x87: 32-bit FNSAVE image: FCW %#x FSW %#x FTW %#x", d[0], d[1], d[2]);
	CHECK(!memcmp(ram + 0x3000 + 28 + 10, "\0\0\0\0\0\0\0\x80\xff\x3f", 10) &&
		      !memcmp(ram + 0x3000 + 28, "\0\0\0\0\0\0\0\0\0\0", 10),
	      "x87: FNSAVE stores ST(0), ST(1) in stack order");
	CHECK(s.fx.st[1][7] == 0x80 && s.fx.st[1][9] == 0x3f, "x87: ST(1) = 1.0 after FRSTOR");
}

int main(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	struct cpu *c = cpu_create(&bus);
	test_nm(c);
	test_mf(c);
	test_env_real(c);
	cpu_destroy(c);
	free(ram);
	TEST_EXIT();
}
