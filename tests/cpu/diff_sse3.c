/* Differential tests for SSE3 and SSSE3 (cpu/sse3.c, the SSE3 arithmetic in cpu/sse_arith.c);
 * the snippets are in diff_sse3.S. */
#include "harness.h"
#include "tests/test.h"

int main(void)
{
	if (dt_run_all(60))
		test_failures++;
	TEST_EXIT();
}
