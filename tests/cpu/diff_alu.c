/* Differential tests for cpu/alu.c against the real processor; the snippets are in diff_alu.S. */
#include "harness.h"
#include "tests/test.h"

int main(void)
{
	dt_run_all(50);
	TEST_EXIT();
}
