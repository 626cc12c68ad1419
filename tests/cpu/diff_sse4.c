/* Differential tests for SSE4.1 and SSE4.2 (cpu/sse4.c, ROUND and DP in cpu/sse_arith.c); the
 * snippets are in diff_sse4.S. The string compares run once per immediate, so fewer random
 * states per snippet than the other SIMD tests. */
#include "harness.h"
#include "tests/test.h"

int main(void)
{
	if (dt_run_all(30))
		test_failures++;
	TEST_EXIT();
}
