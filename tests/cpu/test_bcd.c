/*
 * Unit tests of the BCD adjustments (cpu/alu.c): DAA, DAS, AAA, AAS, AAM, AAD. They do not exist in
 * 64-bit mode, so the differential harness cannot run them; here they run in real mode and are
 * checked against decimal arithmetic itself: ADD/ADC + DAA of two packed-BCD bytes must give the
 * packed-BCD sum and a decimal carry, SUB/SBB + DAS the difference and a decimal borrow, ADD + AAA
 * and SUB + AAS the unpacked (or ASCII) digit with the carry in AH, AAM and AAD the quotient,
 * remainder and product for every byte and several bases. Plus the SDM's worked examples and
 * AAM 0 -> #DE.
 */
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "tests/test.h"

#define RAM_SIZE (1u << 20)
#define CODE 0x1000
#define FL_CF 0x001u
#define FL_PF 0x004u
#define FL_AF 0x010u
#define FL_ZF 0x040u
#define FL_SF 0x080u

static uint8_t *ram;

static uint8_t *bus_ram_ptr(void *opaque, uint64_t gpa, bool write)
{
	if (gpa >= 0xffff0000ull)
		return write ? NULL : ram + 0xf0000 + (gpa & 0xf000);
	return gpa < RAM_SIZE ? ram + gpa : NULL;
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

static struct cpu *cpu;
static struct cpu_state base;

/* Loads code (followed by UD2) at 0000:1000 in real mode. */
static void load(const uint8_t *code, size_t len)
{
	memcpy(ram + CODE, code, len);
	ram[CODE + len] = 0x0f;
	ram[CODE + len + 1] = 0x0b;
	cpu_flush_tlb(cpu);
	cpu_notify_phys_write(cpu, CODE, len + 2);
}

struct result {
	uint16_t ax;
	uint32_t flags;
	int exc;
};

/* Runs the loaded code from AX/BX/flags to the UD2 (or the first other exception). */
static struct result run(uint16_t ax, uint16_t bx, uint32_t flags)
{
	struct cpu_state s = base;
	s.gpr[0] = ax;
	s.gpr[3] = bx;
	s.rflags = flags | 2;
	s.rip = CODE;
	cpu_set_state(cpu, &s);
	enum cpu_exit e = cpu_run(cpu, 100);
	cpu_get_state(cpu, &s);
	int vec = e == CPU_EXIT_EXCEPTION ? cpu_last_exception(cpu, NULL) : -1;
	return (struct result){ (uint16_t)s.gpr[0], (uint32_t)s.rflags, vec == 6 ? -1 : vec };
}

static unsigned bcd(unsigned v)
{
	return (v / 10) << 4 | (v % 10);
}

static uint32_t szp(uint8_t v)
{
	return (v == 0 ? FL_ZF : 0) | (v & 0x80 ? FL_SF : 0) | (__builtin_parity(v) ? 0 : FL_PF);
}

static void test_daa(void)
{
	static const uint8_t code[] = { 0x12, 0xc3, 0x27 }; /* adc al, bl ; daa */
	load(code, sizeof(code));
	unsigned bad = 0, n = 0;
	for (unsigned a = 0; a < 100; a++)
		for (unsigned b = 0; b < 100; b++)
			for (unsigned cin = 0; cin < 2; cin++) {
				struct result r = run(bcd(a), bcd(b), cin ? FL_CF : 0);
				unsigned sum = a + b + cin;
				uint8_t al = (uint8_t)bcd(sum % 100);
				uint32_t want = szp(al) | (sum >= 100 ? FL_CF : 0) |
					((a % 10) + (b % 10) + cin > 9 ? FL_AF : 0);
				n++;
				if (r.exc != -1 || (uint8_t)r.ax != al ||
				    (r.flags & (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF)) != want) {
					if (!bad)
						printf("  daa: %u+%u+%u: al=%02x fl=%x, want al=%02x fl=%x\n", a, b, cin,
						       (uint8_t)r.ax, r.flags & 0xd5, al, want);
					bad++;
				}
			}
	CHECK(bad == 0, "bcd: ADC + DAA gives the packed-BCD sum and decimal carry (%u/%u wrong)", bad, n);
}

static void test_das(void)
{
	static const uint8_t code[] = { 0x1a, 0xc3, 0x2f }; /* sbb al, bl ; das */
	load(code, sizeof(code));
	unsigned bad = 0, n = 0;
	for (unsigned a = 0; a < 100; a++)
		for (unsigned b = 0; b < 100; b++)
			for (unsigned cin = 0; cin < 2; cin++) {
				struct result r = run(bcd(a), bcd(b), cin ? FL_CF : 0);
				int diff = (int)a - (int)b - (int)cin;
				uint8_t al = (uint8_t)bcd((unsigned)(diff + 100) % 100);
				uint32_t want = szp(al) | (diff < 0 ? FL_CF : 0) |
					((int)(a % 10) - (int)(b % 10) - (int)cin < 0 ? FL_AF : 0);
				n++;
				if (r.exc != -1 || (uint8_t)r.ax != al ||
				    (r.flags & (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF)) != want) {
					if (!bad)
						printf("  das: %u-%u-%u: al=%02x fl=%x, want al=%02x fl=%x\n", a, b, cin,
						       (uint8_t)r.ax, r.flags & 0xd5, al, want);
					bad++;
				}
			}
	CHECK(bad == 0, "bcd: SBB + DAS gives the packed-BCD difference and decimal borrow (%u/%u wrong)", bad, n);
}

/* ADD + AAA and SUB + AAS on unpacked (0x0d) and ASCII (0x3d) digits, with AH = h. */
static void test_aaa_aas(void)
{
	static const uint8_t add_aaa[] = { 0x02, 0xc3, 0x37 }; /* add al, bl ; aaa */
	static const uint8_t sub_aas[] = { 0x2a, 0xc3, 0x3f }; /* sub al, bl ; aas */
	unsigned bad_aaa = 0, bad_aas = 0;
	static const unsigned highs[] = { 0x00, 0x03 }; /* unpacked, ASCII */
	static const unsigned ahs[] = { 0x00, 0x05, 0xff };
	load(add_aaa, sizeof(add_aaa));
	for (unsigned a = 0; a < 10; a++)
		for (unsigned b = 0; b < 10; b++)
			for (unsigned k = 0; k < 2; k++)
				for (unsigned h = 0; h < 3; h++) {
					uint16_t ax = (uint16_t)(ahs[h] << 8 | highs[k] << 4 | a);
					struct result r = run(ax, highs[k] << 4 | b, 0);
					bool carry = a + b > 9;
					uint16_t want = (uint16_t)(((ahs[h] + carry) & 0xff) << 8 | (a + b) % 10);
					uint32_t wf = carry ? FL_CF | FL_AF : 0;
					if (r.exc != -1 || r.ax != want || (r.flags & (FL_CF | FL_AF)) != wf) {
						if (!bad_aaa)
							printf("  aaa: ax=%04x + %x: ax=%04x fl=%x, want %04x %x\n", ax, b,
							       r.ax, r.flags & 0xd5, want, wf);
						bad_aaa++;
					}
				}
	CHECK(bad_aaa == 0, "bcd: ADD + AAA gives the unpacked/ASCII digit sum, carry into AH (%u wrong)", bad_aaa);
	load(sub_aas, sizeof(sub_aas));
	for (unsigned a = 0; a < 10; a++)
		for (unsigned b = 0; b < 10; b++)
			for (unsigned k = 0; k < 2; k++)
				for (unsigned h = 0; h < 3; h++) {
					uint16_t ax = (uint16_t)(ahs[h] << 8 | highs[k] << 4 | a);
					struct result r = run(ax, highs[k] << 4 | b, 0);
					bool borrow = a < b;
					uint16_t want = (uint16_t)(((ahs[h] - borrow) & 0xff) << 8 | (a + 10 - b) % 10);
					uint32_t wf = borrow ? FL_CF | FL_AF : 0;
					if (r.exc != -1 || r.ax != want || (r.flags & (FL_CF | FL_AF)) != wf) {
						if (!bad_aas)
							printf("  aas: ax=%04x - %x: ax=%04x fl=%x, want %04x %x\n", ax, b,
							       r.ax, r.flags & 0xd5, want, wf);
						bad_aas++;
					}
				}
	CHECK(bad_aas == 0, "bcd: SUB + AAS gives the unpacked/ASCII digit difference, borrow from AH (%u wrong)",
	      bad_aas);
}

static void test_aam_aad(void)
{
	static const uint8_t bases[] = { 10, 16, 7, 1, 255 };
	unsigned bad_aam = 0, bad_aad = 0;
	for (unsigned k = 0; k < sizeof(bases); k++) {
		const uint8_t aam[] = { 0xd4, bases[k] }, aad[] = { 0xd5, bases[k] };
		load(aam, sizeof(aam));
		for (unsigned al = 0; al < 256; al++) {
			struct result r = run((uint16_t)(0xa500 | al), 0, FL_CF | FL_ZF);
			uint8_t q = (uint8_t)(al / bases[k]), m = (uint8_t)(al % bases[k]);
			if (r.exc != -1 || r.ax != (q << 8 | m) || (r.flags & (FL_ZF | FL_SF | FL_PF)) != szp(m))
				bad_aam++;
		}
		load(aad, sizeof(aad));
		for (unsigned ax = 0; ax < 65536; ax += 257 - 2 * k) {
			struct result r = run((uint16_t)ax, 0, 0);
			uint8_t al = (uint8_t)((ax & 0xff) + (ax >> 8) * bases[k]);
			if (r.exc != -1 || r.ax != al || (r.flags & (FL_ZF | FL_SF | FL_PF)) != szp(al))
				bad_aad++;
		}
	}
	CHECK(bad_aam == 0, "bcd: AAM n splits AL into AL / n and AL %% n for bases 10, 16, 7, 1, 255 (%u wrong)",
	      bad_aam);
	CHECK(bad_aad == 0, "bcd: AAD n folds AH * n + AL into AL, clears AH (%u wrong)", bad_aad);

	static const uint8_t aam0[] = { 0xd4, 0x00 };
	load(aam0, sizeof(aam0));
	struct result r = run(0x1234, 0, 0);
	CHECK(r.exc == 0 && r.ax == 0x1234, "bcd: AAM 0 raises #DE and leaves AX alone (exc %d ax %04x)", r.exc, r.ax);
}

/* The worked examples on the SDM's DAA and DAS pages. */
static void test_sdm_examples(void)
{
	static const uint8_t add_daa[] = { 0x02, 0xc3, 0x27 }; /* add al, bl ; daa */
	static const uint8_t sub_das[] = { 0x2a, 0xc3, 0x2f }; /* sub al, bl ; das */
	load(add_daa, sizeof(add_daa));
	struct result r = run(0x79, 0x35, 0);
	CHECK((uint8_t)r.ax == 0x14 && (r.flags & 0xd5) == (FL_AF | FL_PF | FL_CF),
	      "bcd: SDM example 79H + 35H, DAA -> 14H, SZAPC 00111 (al %02x fl %x)", (uint8_t)r.ax, r.flags & 0xd5);
	load(sub_das, sizeof(sub_das));
	r = run(0x35, 0x47, 0);
	CHECK((uint8_t)r.ax == 0x88 && (r.flags & 0xd5) == (FL_SF | FL_AF | FL_PF | FL_CF),
	      "bcd: SDM example 35H - 47H, DAS -> 88H, SZAPC 10111 (al %02x fl %x)", (uint8_t)r.ax, r.flags & 0xd5);
}

int main(void)
{
	ram = calloc(1, RAM_SIZE);
	cpu = cpu_create(&bus);
	if (!ram || !cpu) {
		printf("FAIL: bcd: setup\n");
		return 1;
	}
	cpu_reset(cpu);
	cpu_get_state(cpu, &base);
	base.seg[S_CS].sel = 0;
	base.seg[S_CS].base = 0;
	cpu_set_exception_exits(cpu, ~0u);
	test_daa();
	test_das();
	test_aaa_aas();
	test_aam_aad();
	test_sdm_examples();
	cpu_destroy(cpu);
	free(ram);
	TEST_EXIT();
}
