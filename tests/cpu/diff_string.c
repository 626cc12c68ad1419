/* Differential tests for string instructions (cpu/string.c); the snippets are in diff_string.S. */
#include "harness.h"
#include "tests/test.h"

int main(void)
{
	dt_run_all(50);
	TEST_EXIT();
}
