/* Differential tests for near branches (cpu/branch.c); the snippets are in diff_branch.S. */
#include "harness.h"
#include "tests/test.h"

int main(void)
{
	if (dt_run_all(100))
		test_failures++;
	TEST_EXIT();
}
