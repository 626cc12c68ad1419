/*
 * Integration test: boots the default guest (guest/, built by scripts/guest-image.sh: Debian's
 * stock kernel and a busybox initramfs) with `softvm run --console stdio` on pipes, talks to its
 * shell over the serial console, and powers it off.
 *
 * Checks: the guest reaches userspace and a shell prompt; `uname -r` is guest/KERNEL_VERSION;
 * /proc/cpuinfo shows the vendor, family/model, brand string and feature flags that softvm's CPUID
 * advertises (queried from the CPU library itself, so the two cannot drift apart); dmesg has no
 * "BUG", "WARNING" or "Oops" line; a file written in /tmp reads back; computations with known
 * answers (shell arithmetic, factor, sha256sum); `poweroff -f` ends softvm with status 0.
 *
 * Not a timing test: the limits are generous upper bounds (300 s to the shell). Environment:
 * SOFTVM (default ./softvm), SOFTVM_GUEST_DIR (default guest). On failure the end of the console
 * log is printed.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cpu/core.h"
#include "tests/guest/session.h"
#include "tests/test.h"

#define BOOT_TIMEOUT_S 300.0
#define CMD_TIMEOUT_S 60.0
#define POWEROFF_TIMEOUT_S 60.0
#define TAIL_BYTES 3000

static struct session vm;
static int tail_printed;

static void fail_tail(void)
{
	if (tail_printed++)
		return;
	printf("  console log (last %d bytes):\n", TAIL_BYTES);
	session_print_tail(&vm, TAIL_BYTES);
}

static char *guest_run(const char *cmd, int *status)
{
	return session_run(&vm, cmd, status, CMD_TIMEOUT_S, "# ");
}

/* Runs cmd; checks it succeeded and printed exactly want (plus a final newline). */
static void check_output(const char *name, const char *cmd, const char *want)
{
	int st;
	char *out = guest_run(cmd, &st);
	if (!out) {
		CHECK(0, "%s (no answer to '%s')", name, cmd);
		fail_tail();
		return;
	}
	size_t n = strlen(out);
	if (n && out[n - 1] == '\n')
		out[--n] = 0;
	CHECK(st == 0 && !strcmp(out, want), "%s", name);
	if (st != 0 || strcmp(out, want))
		printf("  '%s' printed '%s' with status %d, expected '%s'\n", cmd, out, st, want);
	free(out);
}

static char *read_file_line(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char buf[256];
	char *r = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!r)
		return NULL;
	buf[strcspn(buf, "\r\n")] = 0;
	return strdup(buf);
}

/* CPUID feature bits and the names Linux gives them in /proc/cpuinfo (arch/x86/include/asm/
 * cpufeatures.h). Only bits Linux reports as they are: the test expects every bit softvm sets here
 * to appear in the guest's flags. */
static const struct {
	uint32_t leaf;
	int reg; /* 0..3: EAX EBX ECX EDX */
	int bit;
	const char *name;
} cpu_flags[] = {
	{ 1, 3, 0, "fpu" }, { 1, 3, 1, "vme" }, { 1, 3, 2, "de" }, { 1, 3, 3, "pse" }, { 1, 3, 4, "tsc" },
	{ 1, 3, 5, "msr" }, { 1, 3, 6, "pae" }, { 1, 3, 7, "mce" }, { 1, 3, 8, "cx8" }, { 1, 3, 9, "apic" },
	{ 1, 3, 11, "sep" }, { 1, 3, 12, "mtrr" }, { 1, 3, 13, "pge" }, { 1, 3, 14, "mca" },
	{ 1, 3, 15, "cmov" }, { 1, 3, 16, "pat" }, { 1, 3, 17, "pse36" }, { 1, 3, 19, "clflush" },
	{ 1, 3, 23, "mmx" }, { 1, 3, 24, "fxsr" }, { 1, 3, 25, "sse" }, { 1, 3, 26, "sse2" },
	{ 1, 2, 0, "pni" }, { 1, 2, 1, "pclmulqdq" }, { 1, 2, 9, "ssse3" }, { 1, 2, 12, "fma" },
	{ 1, 2, 13, "cx16" }, { 1, 2, 19, "sse4_1" }, { 1, 2, 20, "sse4_2" }, { 1, 2, 22, "movbe" },
	{ 1, 2, 23, "popcnt" }, { 1, 2, 25, "aes" }, { 1, 2, 28, "avx" }, { 1, 2, 29, "f16c" },
	{ 1, 2, 30, "rdrand" }, { 1, 2, 31, "hypervisor" },
	{ 0x80000001, 3, 11, "syscall" }, { 0x80000001, 3, 20, "nx" }, { 0x80000001, 3, 26, "pdpe1gb" },
	{ 0x80000001, 3, 27, "rdtscp" }, { 0x80000001, 3, 29, "lm" },
	{ 0x80000001, 2, 0, "lahf_lm" }, { 0x80000001, 2, 5, "abm" }, { 0x80000001, 2, 8, "3dnowprefetch" },
};

/* The value of "key\t...: value" in cpuinfo text, malloc'd, or NULL. */
static char *cpuinfo_field(const char *text, const char *key)
{
	size_t klen = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, klen) || (p[klen] != '\t' && p[klen] != ' '))
			continue;
		const char *v = strstr(p, ": ");
		const char *e = strchr(p, '\n');
		if (!v || (e && v > e))
			return strdup("");
		v += 2;
		return strndup(v, e ? (size_t)(e - v) : strlen(v));
	}
	return NULL;
}

static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
			return true;
	return false;
}

static void check_cpuinfo(void)
{
	int st;
	char *info = guest_run("cat /proc/cpuinfo", &st);
	if (!info) {
		CHECK(0, "/proc/cpuinfo (no answer)");
		fail_tail();
		return;
	}
	static const struct cpu_bus bus;
	struct cpu *c = cpu_create(&bus);
	cpu_reset(c);
	uint32_t r[4], brand[12];
	char vendor[13];
	cpuid_query(c, 0, 0, r);
	memcpy(vendor, &r[1], 4);
	memcpy(vendor + 4, &r[3], 4);
	memcpy(vendor + 8, &r[2], 4);
	vendor[12] = 0;
	for (uint32_t k = 0; k < 3; k++)
		cpuid_query(c, 0x80000002 + k, 0, &brand[4 * k]);
	char model_name[49];
	memcpy(model_name, brand, 48);
	model_name[48] = 0;
	cpuid_query(c, 1, 0, r);
	unsigned family = (r[0] >> 8) & 0xf, model = (r[0] >> 4) & 0xf;
	if (family == 0xf)
		family += (r[0] >> 20) & 0xff;
	if (family >= 6)
		model |= ((r[0] >> 16) & 0xf) << 4;

	char *v = cpuinfo_field(info, "vendor_id");
	CHECK(v && !strcmp(v, vendor), "cpuinfo vendor_id is %s (got '%s')", vendor, v ? v : "(none)");
	free(v);
	v = cpuinfo_field(info, "cpu family");
	CHECK(v && (unsigned)atoi(v) == family, "cpuinfo cpu family is %u (got '%s')", family, v ? v : "(none)");
	free(v);
	v = cpuinfo_field(info, "model");
	CHECK(v && (unsigned)atoi(v) == model, "cpuinfo model is %u (got '%s')", model, v ? v : "(none)");
	free(v);
	/* Linux trims the brand string's leading and trailing blanks. */
	char *mn = model_name;
	while (*mn == ' ')
		mn++;
	for (size_t n = strlen(mn); n && mn[n - 1] == ' '; n--)
		mn[n - 1] = 0;
	v = cpuinfo_field(info, "model name");
	CHECK(v && !strcmp(v, mn), "cpuinfo model name is '%s' (got '%s')", mn, v ? v : "(none)");
	free(v);

	char *flags = cpuinfo_field(info, "flags");
	char missing[512] = "";
	int advertised = 0;
	for (size_t k = 0; k < sizeof(cpu_flags) / sizeof(cpu_flags[0]); k++) {
		cpuid_query(c, cpu_flags[k].leaf, 0, r);
		if (!(r[cpu_flags[k].reg] >> cpu_flags[k].bit & 1))
			continue;
		advertised++;
		if (!flags || !has_word(flags, cpu_flags[k].name))
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), " %s", cpu_flags[k].name);
	}
	CHECK(flags && advertised > 10 && !missing[0], "cpuinfo flags list the %d CPUID features softvm advertises%s%s",
	      advertised, missing[0] ? "; missing:" : "", missing);
	if (missing[0] || !flags)
		printf("  guest flags: %s\n", flags ? flags : "(none)");
	free(flags);
	cpu_destroy(c);
	free(info);
}

static void check_dmesg(void)
{
	int st;
	char *out = guest_run("dmesg", &st);
	if (!out) {
		CHECK(0, "dmesg (no answer)");
		fail_tail();
		return;
	}
	int bad = 0, lines = 0;
	for (char *p = out, *e; *p; p = e ? e + 1 : p + strlen(p)) {
		e = strchr(p, '\n');
		if (e)
			*e = 0;
		lines++;
		if (strstr(p, "BUG") || strstr(p, "WARNING") || strstr(p, "Oops")) {
			if (!bad++)
				printf("  offending dmesg lines:\n");
			printf("  | %s\n", p);
		}
		if (!e)
			break;
	}
	CHECK(st == 0 && lines > 20 && !bad, "dmesg (%d lines) has no BUG, WARNING or Oops (%d found)", lines, bad);
	free(out);
}

int main(void)
{
	const char *softvm = getenv("SOFTVM");
	const char *dir = getenv("SOFTVM_GUEST_DIR");
	if (!softvm || !*softvm)
		softvm = "./softvm";
	if (!dir || !*dir)
		dir = "guest";
	char path[4096];
	snprintf(path, sizeof(path), "%s/KERNEL_VERSION", dir);
	char *kver = read_file_line(path);
	if (!kver) {
		CHECK(0, "default guest present (%s missing: run scripts/guest-image.sh)", path);
		TEST_EXIT();
	}
	setenv("SOFTVM_GUEST_DIR", dir, 1);

	char *argv[] = { (char *)softvm, "run", "--console", "stdio", NULL };
	int r = session_start(&vm, argv);
	if (r < 0) {
		CHECK(0, "start %s: %s", softvm, strerror(-r));
		TEST_EXIT();
	}

	long banner = session_expect(&vm, "softvm guest:", BOOT_TIMEOUT_S);
	double t_user = (session_now_ns() - vm.start_ns) / 1e9;
	CHECK(banner >= 0, "guest reaches userspace (/init banner after %.1f s, limit %.0f s)", t_user, BOOT_TIMEOUT_S);
	long prompt = banner < 0 ? -1 : session_expect(&vm, "# ", CMD_TIMEOUT_S);
	CHECK(prompt >= 0, "busybox shell prompt");
	if (prompt < 0) {
		fail_tail();
		session_end(&vm);
		TEST_EXIT();
	}

	check_output("uname -r is guest/KERNEL_VERSION", "uname -r", kver);
	check_cpuinfo();
	check_dmesg();
	check_output("file written in /tmp reads back", "printf 'softvm\\n%s\\n' $((6*7)) >/tmp/t; cat /tmp/t",
		     "softvm\n42");
	/* seq 1 20000 has 9*2 + 90*3 + 900*4 + 9000*5 + 10001*6 = 108894 bytes and sums to 200010000. */
	check_output("larger file in /tmp (seq, wc, awk)",
		     "seq 1 20000 >/tmp/s; wc -c </tmp/s; awk '{ s += $1 } END { print s }' /tmp/s", "108894\n200010000");
	check_output("shell arithmetic", "echo $((123456789 * 987654321))", "121932631112635269");
	check_output("factor", "factor 1234567890", "1234567890: 2 3 3 5 3607 3803");
	check_output("sha256sum", "echo -n abc | sha256sum",
		     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  -");

	/* A guest that stopped answering cannot power off: do not wait for it. */
	bool exited = false;
	if (!vm.dead) {
		session_send(&vm, "poweroff -f\n");
		exited = session_wait_exit(&vm, POWEROFF_TIMEOUT_S);
	}
	CHECK(exited, "poweroff -f ends softvm (within %.0f s)", POWEROFF_TIMEOUT_S);
	if (exited)
		CHECK(WIFEXITED(vm.status) && WEXITSTATUS(vm.status) == 0, "softvm exit status is 0 after power-off (%s %d)",
		      WIFEXITED(vm.status) ? "status" : "signal",
		      WIFEXITED(vm.status) ? WEXITSTATUS(vm.status) : WTERMSIG(vm.status));
	/* A panic (panic=-1) or a triple fault restarts the guest, which could then pass the checks above. */
	bool restarted = memmem(vm.log, vm.len, "Kernel panic", 12) || memmem(vm.log, vm.len, "softvm: guest reset", 19) ||
			 memmem(vm.log, vm.len, "softvm: triple fault", 20);
	CHECK(!restarted, "no kernel panic, triple fault or reset on the console");
	if (test_failures)
		fail_tail();
	session_end(&vm);
	free(kver);
	TEST_EXIT();
}
