/*
 * "Any byte sequence is safe to run": random bytes executed as code in real mode, 32-bit protected
 * mode and 64-bit mode (CPL 0 and 3), with the guest free to scribble over its own page tables,
 * descriptor tables and stack. Every run must end in one of the defined ways (budget, HLT, triple
 * fault) without crashing or hanging softvm. Run under `make asan` this also shows that no access
 * leaves guest RAM.
 *
 * Then again with a real IDT (IVT in real mode; a TSS with RSP0/ESP0 and an IST stack for #DF),
 * so exceptions and software interrupts are delivered instead of escalating to a triple fault:
 * most vectors go to a stub that counts the delivery and returns (IRET) a few bytes further into
 * the random code, the others straight into random handler code at CPL 0; #DF restarts random code
 * on a fresh stack. Now and then a random external interrupt is asserted too. The descriptor
 * tables sit on supervisor pages (CPL 3 code faults when it touches them). The checks: every run
 * still ends in a defined way, and deliveries through the IDT happen many times per program.
 */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

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

/* ---- runs with a real IDT ---- */

#define IDT 0x7000       /* 256 gates (16 bytes in long mode, 8 in protected mode); IVT at 0 in real mode */
#define STUBS 0x8000     /* 32 bytes per vector */
#define COUNTER 0xa000   /* deliveries counted by the stubs; #DF restarts at COUNTER + 8 */
#define HCODE 0x30000    /* random handler code */
#define RSP0 0x70000
#define IST1 0x68000
#define DF_STACK 0x78000

static bool has_err(unsigned v)
{
	return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}

static void put(uint64_t pa, const void *b, size_t n)
{
	memcpy(ram + pa, b, n);
}

/* Stub for vector v in the given code size: count, step the return address on, return. */
static void build_stub(unsigned v, int bits)
{
	uint8_t b[32];
	size_t n = 0;
	uint8_t step = (uint8_t)(1 + (v * 37) % 48);
	if (bits == 16) {
		static const uint8_t head[] = { 0x55, 0x89, 0xe5, 0x83, 0x46, 0x02 }; /* push bp; mov bp,sp; add word [bp+2], */
		memcpy(b, head, sizeof(head));
		n = sizeof(head);
		b[n++] = step;
		static const uint8_t tail[] = { 0x2e, 0xff, 0x06, 0x00, 0x20, 0x5d, 0xcf }; /* inc word cs:[0x2000]; pop bp; iret */
		memcpy(b + n, tail, sizeof(tail));
		n += sizeof(tail);
	} else if (v == 8) {
		/* #DF: a fresh stack, count at COUNTER + 8, restart the random code */
		uint32_t sp = DF_STACK, cnt = COUNTER + 8;
		if (bits == 64)
			b[n++] = 0x48;
		b[n++] = 0xc7;
		b[n++] = 0xc4; /* mov (r/e)sp, imm32 */
		memcpy(b + n, &sp, 4);
		n += 4;
		if (bits == 64)
			b[n++] = 0x48;
		b[n++] = 0xff;
		if (bits == 64) {
			b[n++] = 0x04;
			b[n++] = 0x25; /* inc qword [disp32] */
		} else {
			b[n++] = 0x05; /* inc dword [disp32] */
		}
		memcpy(b + n, &cnt, 4);
		n += 4;
		b[n++] = 0xe9; /* jmp rel32 to CODE + 0x100 */
		int32_t rel = (int32_t)((int64_t)(CODE + 0x100) - (int64_t)(STUBS + 32 * v + n + 4));
		memcpy(b + n, &rel, 4);
		n += 4;
	} else {
		uint32_t cnt = COUNTER;
		if (has_err(v)) { /* add (r/e)sp, 8/4: drop the error code */
			if (bits == 64)
				b[n++] = 0x48;
			b[n++] = 0x83;
			b[n++] = 0xc4;
			b[n++] = bits == 64 ? 8 : 4;
		}
		if (bits == 64)
			b[n++] = 0x48;
		b[n++] = 0xff;
		if (bits == 64) {
			b[n++] = 0x04;
			b[n++] = 0x25;
		} else {
			b[n++] = 0x05;
		}
		memcpy(b + n, &cnt, 4);
		n += 4;
		if (bits == 64)
			b[n++] = 0x48;
		b[n++] = 0x83;
		b[n++] = 0x04;
		b[n++] = 0x24; /* add (q/d)word [(r/e)sp], imm8 */
		b[n++] = step;
		if (bits == 64)
			b[n++] = 0x48;
		b[n++] = 0xcf; /* iret(q/d) */
	}
	put(STUBS + 32 * v, b, n);
}

/* The handler address for vector v: its stub, or (one in four) random handler code. */
static uint64_t handler_for(unsigned v)
{
	if (v != 8 && (rnd() & 3) == 0)
		return HCODE + (rnd() & 0x3fff);
	return STUBS + 32 * v;
}

static void idt_long(void)
{
	for (unsigned v = 0; v < 256; v++) {
		build_stub(v, 64);
		uint64_t off = handler_for(v);
		unsigned type = (rnd() & 1) ? 14 : 15, ist = v == 8 ? 1 : ((rnd() & 15) == 0 ? 1 : 0);
		uint64_t lo = (off & 0xffff) | ((uint64_t)SEL_KCODE64 << 16) | ((uint64_t)ist << 32) |
			      ((uint64_t)(type | (3 << 5) | 0x80) << 40) | ((off >> 16 & 0xffff) << 48);
		memcpy(ram + IDT + 16 * v, &lo, 8);
		uint64_t hi = off >> 32;
		memcpy(ram + IDT + 16 * v + 8, &hi, 8);
	}
	/* 64-bit TSS: RSP0 and IST1; its descriptor (busy) in the GDT. */
	memset(ram + TSS, 0, 0x68);
	uint64_t rsp0 = RSP0, ist1 = IST1;
	memcpy(ram + TSS + 4, &rsp0, 8);
	memcpy(ram + TSS + 0x24, &ist1, 8);
	uint64_t d = 0x67 | ((uint64_t)TSS << 16) | (0x8bull << 40);
	memcpy(ram + GDT + SEL_TSS, &d, 8);
	memset(ram + GDT + SEL_TSS + 8, 0, 8);
}

static void idt_prot32(void)
{
	for (unsigned v = 0; v < 256; v++) {
		build_stub(v, 32);
		uint32_t off = (uint32_t)handler_for(v);
		unsigned type = (rnd() & 1) ? 14 : 15;
		uint64_t g = (off & 0xffff) | ((uint64_t)SEL_KCODE32 << 16) | ((uint64_t)(type | (3 << 5) | 0x80) << 40) |
			     ((uint64_t)(off >> 16) << 48);
		memcpy(ram + IDT + 8 * v, &g, 8);
	}
	/* 32-bit TSS: ESP0/SS0. */
	memset(ram + TSS, 0, 0x68);
	uint32_t esp0 = RSP0, ss0 = SEL_KDATA;
	memcpy(ram + TSS + 4, &esp0, 4);
	memcpy(ram + TSS + 8, &ss0, 4);
	uint64_t d = 0x67 | ((uint64_t)TSS << 16) | (0x8bull << 40);
	memcpy(ram + GDT + SEL_TSS, &d, 8);
}

static void ivt_real(void)
{
	for (unsigned v = 0; v < 256; v++) {
		build_stub(v, 16);
		uint16_t off, seg;
		if ((rnd() & 3) == 0) {
			seg = HCODE >> 4;
			off = (uint16_t)(rnd() & 0x3fff);
		} else {
			seg = STUBS >> 4;
			off = (uint16_t)(32 * v);
		}
		memcpy(ram + 4 * v, &off, 2);
		memcpy(ram + 4 * v + 2, &seg, 2);
	}
}

/* A watchdog: a cpu_run that is still going after RUN_LIMIT_NS of host time is stopped and counted
 * as hung (the instruction budget must end every run, whatever the guest does). */
#define RUN_LIMIT_NS 2000000000ull

static struct cpu *wd_cpu;
static volatile uint64_t wd_deadline; /* 0: no run in progress */

static uint64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void *watchdog_main(void *arg)
{
	for (;;) {
		usleep(50000);
		uint64_t d = wd_deadline;
		if (d && mono_ns() > d) {
			wd_deadline = 0;
			cpu_request_stop(wd_cpu);
		}
	}
	return NULL;
}

/* cpu_run under the watchdog; *hung is set when the watchdog had to stop it. */
static enum cpu_exit guarded_run(struct cpu *c, uint64_t insns, bool *hung)
{
	for (;;) {
		uint64_t t0 = mono_ns();
		wd_deadline = t0 + RUN_LIMIT_NS;
		enum cpu_exit r = cpu_run(c, insns);
		wd_deadline = 0;
		*hung = r == CPU_EXIT_STOP && mono_ns() - t0 >= RUN_LIMIT_NS;
		if (r != CPU_EXIT_STOP || *hung)
			return r;
		/* a stop meant for the previous run that had just ended: run again */
	}
}

enum idt_mode { IDT_REAL, IDT_PROT32, IDT_LONG };

struct idt_stats {
	unsigned ends[8];
	uint64_t deliveries, double_faults, max_deliveries;
	unsigned hung, hung_program; /* runs the watchdog stopped (the mode stops at the first) */
	uint64_t hung_rip;
	uint8_t hung_bytes[4];
};

static int run_with_idt(struct cpu *c, enum idt_mode mode, int cpl, unsigned programs, struct idt_stats *st)
{
	for (unsigned n = 0; n < programs; n++) {
		struct cpu_state s;
		if (mode == IDT_REAL)
			env_real(c, &s);
		else if (mode == IDT_PROT32)
			env_prot32(c, &s, cpl);
		else
			env_long(c, &s, cpl);
		random_code(ram + CODE, 0x2000);
		random_code(ram + DATA, 0x1000);
		random_code(ram + HCODE, 0x4000);
		if (mode == IDT_REAL) {
			ivt_real();
		} else {
			if (mode == IDT_LONG) {
				idt_long();
				s.idtr = (struct cpu_dtable){ .base = IDT, .limit = 0xfff };
				/* descriptor tables, stubs and counters on supervisor pages */
				for (uint64_t pa = 0x1000; pa <= COUNTER; pa += 0x1000)
					*pte(PT + 8 * (pa >> 12)) = pa | 3;
			} else {
				idt_prot32();
				s.idtr = (struct cpu_dtable){ .base = IDT, .limit = 0x7ff };
			}
			s.seg[S_TR] = (struct cpu_seg){ .sel = SEL_TSS, .attr = 0x8b, .limit = 0x67, .base = TSS };
		}
		for (int r = 0; r < 16; r++)
			if (r != R_RSP)
				s.gpr[r] = (rnd() & 1) ? rnd() : DATA + (rnd() & 0xfff);
		if (mode == IDT_PROT32)
			for (int r = 0; r < 8; r++)
				s.gpr[r] = (uint32_t)s.gpr[r];
		if (mode == IDT_PROT32 || mode == IDT_LONG)
			s.gpr[R_RSP] = STACK;
		s.rflags = 2 | (rnd() & 0x8d5) | ((rnd() & 3) == 0 ? 0x200 : 0);
		cpu_set_state(c, &s);
		/* a random external interrupt now and then (taken whenever IF is set) */
		bool intr = (rnd() & 3) == 0;
		intr_vector = intr ? (int)(0x20 + rnd() % 224) : -1;
		cpu_set_intr(c, intr);
		bool hung;
		enum cpu_exit r = guarded_run(c, 50000, &hung);
		cpu_set_intr(c, false);
		intr_vector = -1;
		if (hung) {
			cpu_get_state(c, &s);
			st->hung++;
			st->hung_program = n;
			st->hung_rip = s.rip;
			uint64_t pa = s.seg[S_CS].base + s.rip; /* paging is an identity map */
			if (pa + 4 <= RAM_SIZE)
				memcpy(st->hung_bytes, ram + pa, 4);
			return 0;
		}
		if (r > CPU_EXIT_EXCEPTION)
			return -1;
		st->ends[r]++;
		uint64_t cnt = 0, df = 0;
		memcpy(&cnt, ram + COUNTER, mode == IDT_REAL ? 2 : mode == IDT_PROT32 ? 4 : 8);
		memcpy(&df, ram + COUNTER + 8, mode == IDT_PROT32 ? 4 : 8);
		if (mode == IDT_REAL)
			df = 0;
		/* the guest may scribble on its counters at CPL 0: take them as a sign of depth only */
		if (cnt < 50000) {
			st->deliveries += cnt;
			if (cnt > st->max_deliveries)
				st->max_deliveries = cnt;
		}
		if (df < 50000)
			st->double_faults += df;
		cpu_get_state(c, &s); /* still usable after any end */
	}
	return 0;
}

static void idt_tests(struct cpu *c, unsigned programs)
{
	static const struct {
		const char *name;
		enum idt_mode mode;
		int cpl;
	} modes[] = {
		{ "real mode with an IVT", IDT_REAL, 0 },
		{ "32-bit CPL 0 with an IDT", IDT_PROT32, 0 },
		{ "32-bit CPL 3 with an IDT and TSS", IDT_PROT32, 3 },
		{ "64-bit CPL 0 with an IDT and IST", IDT_LONG, 0 },
		{ "64-bit CPL 3 with an IDT, TSS and IST", IDT_LONG, 3 },
	};
	for (unsigned m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		struct idt_stats st = { { 0 }, 0, 0, 0, 0, 0, 0, { 0 } };
		int r = run_with_idt(c, modes[m].mode, modes[m].cpl, programs, &st);
		char why[128] = "";
		if (st.hung)
			snprintf(why, sizeof(why), " (program %u did not: stopped at rip %#llx, bytes %02x %02x %02x %02x)",
				 st.hung_program, (unsigned long long)st.hung_rip, st.hung_bytes[0], st.hung_bytes[1],
				 st.hung_bytes[2], st.hung_bytes[3]);
		CHECK(!st.hung, "random code in %s: every cpu_run(50000) returns within %llu s%s", modes[m].name,
		      RUN_LIMIT_NS / 1000000000ull, why);
		if (st.hung)
			continue;
		CHECK(r == 0, "random code in %s: %u programs end by budget %u, hlt %u, triple fault %u", modes[m].name,
		      programs, st.ends[CPU_EXIT_BUDGET], st.ends[CPU_EXIT_HLT], st.ends[CPU_EXIT_TRIPLE_FAULT]);
		CHECK(st.deliveries > 2ull * programs,
		      "  ... %llu deliveries through the IDT returned into more random code (up to %llu in one program), "
		      "%llu double faults restarted",
		      (unsigned long long)st.deliveries, (unsigned long long)st.max_deliveries,
		      (unsigned long long)st.double_faults);
	}
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
	wd_cpu = c;
	pthread_t wd;
	pthread_create(&wd, NULL, watchdog_main, NULL);
	pthread_detach(wd);
	idt_tests(c, programs / 2);
	cpu_destroy(c);
	free(ram);
	TEST_EXIT();
}
