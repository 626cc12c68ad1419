/*
 * Differential smoke test: checks of the harness itself (each runner really runs the code, native
 * exceptions map to the right vectors, dt_compare notices differences), then a few basic
 * snippets (diff_smoke.S) run natively and in softvm (see harness.h).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tests/test.h"

static struct dt_state a, b;

/* dt_compare with its FAIL lines hidden: here a difference is the expected outcome. */
static bool compare_quietly(uint64_t flags_mask, uint64_t opts)
{
	fflush(stdout);
	int saved = dup(1);
	FILE *null = fopen("/dev/null", "w");
	if (saved < 0 || !null)
		return true; /* makes the checks below fail */
	dup2(fileno(null), 1);
	bool same = dt_compare("selftest", &a, &b, flags_mask, opts);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	fclose(null);
	return same;
}

static void check_runners(void)
{
	static const uint8_t add_rax_rbx[] = { 0x48, 0x01, 0xd8 };
	static const uint8_t store_rax[] = { 0x48, 0x89, 0x03 }; /* mov [rbx], rax */
	dt_random_state(&a, 12345);
	a.gpr[R_RAX] = 5;
	a.gpr[R_RBX] = 7;
	b = a;
	dt_run_native(add_rax_rbx, sizeof(add_rax_rbx), &a);
	dt_run_softvm(add_rax_rbx, sizeof(add_rax_rbx), &b);
	CHECK(a.exc == DT_EXC_NONE && a.gpr[R_RAX] == 12, "harness: native run of ADD (exc %d, rax %#lx)", a.exc,
	      (unsigned long)a.gpr[R_RAX]);
	CHECK(b.exc == DT_EXC_NONE && b.gpr[R_RAX] == 12, "harness: softvm run of ADD (exc %d, rax %#lx)", b.exc,
	      (unsigned long)b.gpr[R_RAX]);

	dt_random_state(&a, 777);
	a.gpr[R_RAX] = 0x1122334455667788ull;
	a.gpr[R_RBX] = DT_DATA + 0x123;
	b = a;
	dt_run_native(store_rax, sizeof(store_rax), &a);
	dt_run_softvm(store_rax, sizeof(store_rax), &b);
	uint64_t va, vb;
	memcpy(&va, a.data + 0x123, 8);
	memcpy(&vb, b.data + 0x123, 8);
	CHECK(va == 0x1122334455667788ull && vb == va, "harness: stores reach the data area in both runs");
}

struct exc_case {
	const char *name;
	uint8_t code[16];
	unsigned len;
	uint64_t rbx;
	int vec;
	uint32_t err;
	uint64_t fault_addr;
};

static void check_native_exceptions(void)
{
	static const struct exc_case cases[] = {
		{ "#DE", { 0x48, 0xf7, 0xf3 }, 3, 0, 0, 0, 0 },                  /* div rbx */
		{ "#UD", { 0x0f, 0x0b }, 2, 0, 6, 0, 0 },                         /* ud2 */
		{ "#BP", { 0xcc }, 1, 0, 3, 0, 0 },                               /* int3 */
		{ "#GP", { 0x48, 0x8b, 0x03 }, 3, 0x8000000000000000ull, 13, 0, 0 }, /* non-canonical */
		{ "#PF read", { 0x48, 0x8b, 0x03 }, 3, DT_DATA + DT_DATA_SIZE, 14, 4, DT_DATA + DT_DATA_SIZE },
		{ "#PF write to code", { 0x48, 0x89, 0x03 }, 3, DT_CODE, 14, 7, DT_CODE },
		{ "#PF below data", { 0x48, 0x8b, 0x03 }, 3, DT_DATA - 8, 14, 4, DT_DATA - 8 },
		{ "#GP hlt", { 0xf4 }, 1, 0, 13, 0, 0 },
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct exc_case *t = &cases[k];
		dt_random_state(&a, 99 + k);
		a.gpr[R_RBX] = t->rbx;
		dt_run_native(t->code, t->len, &a);
		CHECK(a.exc == t->vec && a.err == t->err && a.fault_addr == t->fault_addr,
		      "harness: native %s (vector %d err %#x addr %#lx)", t->name, a.exc, a.err,
		      (unsigned long)a.fault_addr);
	}
	/* The host's FPU and SSE state survive a snippet that leaves the x87 stack full and MXCSR odd. */
	static const uint8_t messy[] = { 0xd9, 0xe8, 0xd9, 0xe8, 0xd9, 0xe8, 0x0f, 0x0b }; /* fld1 x3; ud2 */
	unsigned mxcsr_before = __builtin_ia32_stmxcsr(), mxcsr_after;
	uint16_t fcw_before, fcw_after, fsw_after;
	__asm__ volatile("fnstcw %0" : "=m"(fcw_before));
	dt_random_state(&a, 5);
	a.fx.mxcsr = 0x7f80; /* round toward zero */
	a.fx.fcw = 0x77f;    /* round down */
	dt_run_native(messy, sizeof(messy), &a);
	mxcsr_after = __builtin_ia32_stmxcsr();
	__asm__ volatile("fnstcw %0" : "=m"(fcw_after));
	__asm__ volatile("fnstsw %0" : "=m"(fsw_after));
	CHECK(a.exc == 6 && (a.fx.fsw >> 11 & 7) == 5 && a.fx.ftw == 0xe0 && a.fx.mxcsr == 0x7f80 && a.fx.fcw == 0x77f,
	      "harness: native x87/SSE state captured at a fault (fsw %#x ftw %#x)", a.fx.fsw, a.fx.ftw);
	CHECK(mxcsr_after == mxcsr_before && fcw_after == fcw_before && (fsw_after >> 11 & 7) == 0,
	      "harness: host MXCSR %#x, FCW %#x and x87 stack restored after a native fault", mxcsr_after, fcw_after);
}

static void check_compare(void)
{
	dt_random_state(&a, 42);
	b = a;
	CHECK(compare_quietly(F_ALL, 0), "harness: equal states compare equal");
	b.gpr[R_R13] ^= 1;
	CHECK(!compare_quietly(F_ALL, 0), "harness: a GPR difference is found");
	b = a;
	b.rflags ^= F_OF;
	CHECK(!compare_quietly(F_ALL, 0), "harness: a flag in the mask is compared");
	CHECK(compare_quietly(F_CF | F_ZF, 0), "harness: a flag outside the mask is not");
	b = a;
	b.data[DT_DATA_SIZE - 1] ^= 0x80;
	CHECK(!compare_quietly(0, 0), "harness: a data difference is found");
	b = a;
	b.exc = 13;
	CHECK(!compare_quietly(0, 0), "harness: an exception difference is found");
	b = a;
	b.fx.xmm[15][3] ^= 1;
	CHECK(!compare_quietly(0, 0), "harness: an XMM difference is found");
	CHECK(compare_quietly(0, DT_OPT_NO_FX), "harness: DT_OPT_NO_FX ignores XMM");
}

int main(void)
{
	check_runners();
	check_native_exceptions();
	check_compare();
	test_failures += dt_run_all(20);
	TEST_EXIT();
}
