/* Differential tests for the x87 FPU (cpu/x87.c, cpu/x87_arith.c); the snippets are in diff_x87.S. */
#include "harness.h"
#include "tests/test.h"

int main(void)
{
	dt_run_all(40);
	TEST_EXIT();
}
