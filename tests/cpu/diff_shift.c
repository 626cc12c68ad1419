/* Differential tests for cpu/shift.c against the real processor; the snippets are in diff_shift.S. */
#include "harness.h"
#include "tests/test.h"

int main(void)
{
	dt_run_all(50);
	TEST_EXIT();
}
