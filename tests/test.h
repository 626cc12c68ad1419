/* Minimal test reporting shared by every test binary: one line per check, "PASS: name" or
 * "FAIL: name (why)", and an exit status that says whether anything failed. */
#ifndef SOFTVM_TEST_H
#define SOFTVM_TEST_H
#include <stdarg.h>
#include <stdio.h>

static int test_failures;

__attribute__((format(printf, 2, 3), unused))
static void test_result(int ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs(ok ? "PASS: " : "FAIL: ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
	if (!ok)
		test_failures++;
}

#define CHECK(cond, ...) test_result(!!(cond), __VA_ARGS__)
#define TEST_EXIT() return test_failures ? 1 : 0
#endif
