/* The command line's answers to bad input: one clear line naming the option or file, status 2;
 * --help describes every option. Runs ./softvm from the top of the tree (as make check does). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/test.h"

/* Runs cmd, returns its exit status and its output (stdout + stderr) in out. */
static int run(const char *cmd, char *out, size_t cap)
{
	char full[512];
	snprintf(full, sizeof(full), "%s 2>&1", cmd);
	FILE *p = popen(full, "r");
	if (!p)
		return -1;
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = 0;
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void bad(const char *args, const char *expect)
{
	char cmd[256], out[4096];
	snprintf(cmd, sizeof(cmd), "./softvm run %s", args);
	int st = run(cmd, out, sizeof(out));
	char *nl = strchr(out, '\n');
	bool one_line = nl && nl[1] == 0;
	if (nl)
		*nl = 0;
	CHECK(st == 2 && one_line && strstr(out, expect), "cli: 'softvm run %s' -> status 2, one line with '%s' (%d: %s)", args,
	      expect, st, out);
}

int main(void)
{
	char out[16384];
	bad("--bogus", "unknown option '--bogus'");
	bad("--device", "option '--device' needs a value");
	bad("--debug-exit=1", "option '--debug-exit' takes no value");
	bad("--memory lots", "--memory lots: expected a size");
	bad("--memory 4K", "--memory 4K: expected a size");
	bad("--kernel /nonexistent/vmlinuz", "--kernel /nonexistent/vmlinuz: No such file");
	bad("--kernel /dev/null --initrd /nonexistent/initrd", "--initrd /nonexistent/initrd: No such file");
	bad("--console tty9", "--console tty9: expected");
	bad("--device frobnicator", "--device frobnicator: unknown device");
	bad("--drive format=qcow2", "--drive format=qcow2:");
	bad("--net tap", "--net tap:");
	bad("extra", "unexpected argument 'extra'");
	int st = run("./softvm run --help", out, sizeof(out));
	static const char *const opts[] = { "--kernel", "--initrd", "--append", "--memory", "--console", "--debug-exit",
					    "--drive", "--net", "--device", "--trace", "--no-host-unpack" };
	bool all = true;
	for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
		if (!strstr(out, opts[k])) {
			all = false;
			printf("  --help does not mention %s\n", opts[k]);
		}
	CHECK(st == 0 && all, "cli: softvm run --help describes every option");
	st = run("./softvm --help", out, sizeof(out));
	CHECK(st == 0 && strstr(out, "run") && strstr(out, "img"), "cli: softvm --help lists the commands");
	st = run("./softvm frob", out, sizeof(out));
	CHECK(st == 2 && strstr(out, "unknown command 'frob'"), "cli: unknown command");
	TEST_EXIT();
}
