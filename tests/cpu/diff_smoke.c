/* Differential smoke test: a few basic snippets run natively and in softvm (see harness.h). */
#include "harness.h"
#include "tests/test.h"

int main(void)
{
	test_failures += dt_run_all(20);
	TEST_EXIT();
}
