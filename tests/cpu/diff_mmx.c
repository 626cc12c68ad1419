/* Differential tests for packed-integer and bitwise SIMD on MMX and XMM registers (cpu/mmx.c);
 * the snippets are in diff_mmx.S. */
#include "harness.h"
#include "tests/test.h"

int main(void)
{
	if (dt_run_all(60))
		test_failures++;
	TEST_EXIT();
}
