/*
 * "Any byte sequence is safe to run": random bytes executed as code in real mode, 32-bit protected
 * mode and 64-bit mode (CPL 0 and 3), with the guest free to scribble over its own page tables,
 * descriptor tables and stack. Every run must end in one of the defined ways (budget, HLT, triple
 * fault) without crashing or hanging softvm. Run under `make asan` this also shows that no access
 * leaves guest RAM.
 */
#include "tests/cpu/sysenv.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random code, biased towards interesting opcodes: prefixes, 0F escapes, control transfers. */
static void random_code(uint8_t *p, size_t len)
{
	static const uint8_t hot[] = { 0x0f, 0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x48, 0x2e, 0x26, 0x64, 0xc4, 0xc5,
				       0xe8, 0xe9, 0xeb, 0xc3, 0xcf, 0xcd, 0xff, 0x8e, 0x9d, 0xa4, 0xab, 0xd9, 0xdd };
	for (size_t k = 0; k < len; k++) {
		uint64_t r = rnd();
		p[k] = (r & 7) == 0 ? hot[(r >> 8) % sizeof(hot)] : (uint8_t)(r >> 16);
	}
}

static int run_random(struct cpu *c, void (*env)(struct cpu *, struct cpu_state *), int cpl, unsigned programs,
		      unsigned *ends)
{
	for (unsigned n = 0; n < programs; n++) {
		struct cpu_state s;
		if (env)
			env(c, &s);
		else
			env_long(c, &s, cpl);
		random_code(ram + CODE, 0x2000);
		random_code(ram + DATA, 0x1000);
		for (int r = 0; r < 16; r++)
			if (r != R_RSP)
				s.gpr[r] = (rnd() & 1) ? rnd() : DATA + (rnd() & 0xfff);
		s.rflags = 2 | (rnd() & 0x8d5);
		cpu_set_state(c, &s);
		enum cpu_exit r = cpu_run(c, 20000);
		if (r > CPU_EXIT_EXCEPTION)
			return -1;
		ends[r]++;
		/* The machine would reset after a triple fault; the CPU must still be usable. */
		cpu_get_state(c, &s);
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned programs = argc > 1 ? (unsigned)atoi(argv[1]) : 400;
	ram = aligned_alloc(4096, RAM_SIZE);
	memset(ram, 0, RAM_SIZE);
	struct cpu *c = cpu_create(&test_bus);
	static const struct {
		const char *name;
		void (*env)(struct cpu *, struct cpu_state *);
		int cpl;
	} modes[] = {
		{ "real mode", env_real, 0 },
		{ "64-bit CPL 0", NULL, 0 },
		{ "64-bit CPL 3", NULL, 3 },
	};
	for (unsigned m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		unsigned ends[8] = { 0 };
		int r = run_random(c, modes[m].env, modes[m].cpl, programs, ends);
		CHECK(r == 0, "random code in %s: %u programs end by budget %u, hlt %u, triple fault %u, exception exit %u",
		      modes[m].name, programs, ends[CPU_EXIT_BUDGET], ends[CPU_EXIT_HLT], ends[CPU_EXIT_TRIPLE_FAULT],
		      ends[CPU_EXIT_EXCEPTION]);
	}
	/* 32-bit protected mode at CPL 0 and 3. */
	for (int cpl = 0; cpl <= 3; cpl += 3) {
		unsigned ends[8] = { 0 };
		int bad = 0;
		for (unsigned n = 0; n < programs && !bad; n++) {
			struct cpu_state s;
			env_prot32(c, &s, cpl);
			random_code(ram + CODE, 0x2000);
			for (int k = 0; k < 8; k++)
				if (k != R_RSP)
					s.gpr[k] = (uint32_t)rnd();
			cpu_set_state(c, &s);
			enum cpu_exit r = cpu_run(c, 20000);
			if (r > CPU_EXIT_EXCEPTION)
				bad = 1;
			else
				ends[r]++;
		}
		CHECK(!bad, "random code in 32-bit protected mode CPL %d: budget %u, hlt %u, triple fault %u", cpl,
		      ends[CPU_EXIT_BUDGET], ends[CPU_EXIT_HLT], ends[CPU_EXIT_TRIPLE_FAULT]);
	}
	cpu_destroy(c);
	free(ram);
	TEST_EXIT();
}
