/* Differential tests for data movement (cpu/mov.c); the snippets are in diff_mov.S. */
#include "harness.h"
#include "tests/test.h"

int main(void)
{
	dt_run_all(50);
	TEST_EXIT();
}
