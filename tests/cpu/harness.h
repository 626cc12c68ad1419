/*
 * Differential testing against the real processor: run a snippet (snippet.h) natively and in
 * softvm from the same state and compare registers, the flags in the snippet's mask, the data
 * area, x87/SSE state and the exception raised, if any.
 */
#ifndef SOFTVM_HARNESS_H
#define SOFTVM_HARNESS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/cpu.h"
#include "snippet.h"

struct snippet {
	const char *name;
	const uint8_t *start, *end;
	uint64_t flags_mask;
	uint64_t opts; /* DT_OPT_* */
};

#define DT_OPT_NO_FX 1  /* do not compare x87/SSE state */
#define DT_OPT_NO_FCC 2 /* do not compare the x87 condition codes C0..C3 (undefined after the insn) */

/* dt_state.exc values other than -1 and x86 vectors: how the softvm run ended abnormally. */
#define DT_EXC_NONE (-1)
#define DT_EXC_BUDGET (-2) /* instruction budget exhausted (endless loop?) */
#define DT_EXC_HLT (-3)
#define DT_EXC_TRIPLE (-4)
#define DT_EXC_OTHER (-5)  /* any other exit, or a host signal the harness cannot classify */

/* The snippets linked into this test binary. */
/* Weak: test binaries without snippets (unit tests) link the harness too. */
extern const struct snippet __start_snippets[] __attribute__((weak)), __stop_snippets[] __attribute__((weak));

struct dt_state {
	uint64_t gpr[16];
	uint64_t rflags;
	int exc; /* -1 when the snippet ran to its end, else the exception vector (or DT_EXC_*) */
	uint32_t err;        /* error code of exc, for the vectors that have one */
	uint64_t rip;        /* where exc was raised (DT_CODE + len when the snippet ran to its end) */
	uint64_t fault_addr; /* CR2 for a #PF */
	struct cpu_fxstate fx;
	uint8_t data[DT_DATA_SIZE];
};

/* Fills st with random registers, flags and data from the seed (RSP points into the data). */
void dt_random_state(struct dt_state *st, uint64_t seed);
/* Runs code (len bytes, copied to DT_CODE) natively / in softvm from st, leaving the result in st. */
void dt_run_native(const uint8_t *code, size_t len, struct dt_state *st);
void dt_run_softvm(const uint8_t *code, size_t len, struct dt_state *st);
/* Compares two results; on a difference prints FAIL lines naming each differing item. */
bool dt_compare(const char *name, const struct dt_state *native, const struct dt_state *soft, uint64_t flags_mask,
		uint64_t opts);
/* Runs every linked snippet from `runs` random states (and the edge-case states the harness
 * adds: zero, all ones, sign boundaries); prints one PASS/FAIL line per snippet. Returns failures. */
/* Environment: DT_RUNS=n overrides runs, DT_ONLY=name runs one snippet, DT_SEED=x runs only that
 * state (each FAIL line names its seed), DT_TRACE=1 traces the softvm runs to stderr. */
int dt_run_all(unsigned runs);
#endif
