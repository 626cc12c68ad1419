/* Differential tests for SSE/SSE2 floating point, moves, conversions, MXCSR and FXSAVE
 * (cpu/sse.c, cpu/sse_arith.c); the snippets are in diff_sse.S. */
#include "harness.h"
#include "tests/test.h"

int main(void)
{
	if (dt_run_all(60))
		test_failures++;
	TEST_EXIT();
}
