/* Differential tests for the stack family (cpu/stack.c); the snippets are in diff_stack.S. */
#include "harness.h"
#include "tests/test.h"

int main(void)
{
	if (dt_run_all(100))
		test_failures++;
	TEST_EXIT();
}
