/* Differential tests for bit instructions (cpu/bitops.c); the snippets are in diff_bitops.S. */
#include "harness.h"
#include "tests/test.h"

int main(void)
{
	dt_run_all(50);
	TEST_EXIT();
}
