/* Differential tests for cpu/muldiv.c against the real processor; the snippets are in diff_muldiv.S. */
#include "harness.h"
#include "tests/test.h"

int main(void)
{
	dt_run_all(50);
	TEST_EXIT();
}
