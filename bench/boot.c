/*
 * Boot benchmark (not a test): how long softvm takes from start to the default guest's first
 * userspace line (the /init banner "softvm guest:") and to its exit after `poweroff -f`, and the
 * same for qemu-system-x86_64 with TCG booting the same kernel, initramfs and command line in the
 * same run, with the ratio. QEMU boots through its firmware (SeaBIOS) and unpacks the kernel in
 * emulated code; softvm loads the kernel directly; both are part of "from start".
 *
 * Usage: build/bench/boot [runs] (default 1; with more, each figure is the median). Environment:
 * SOFTVM (default ./softvm), QEMU (default qemu-system-x86_64; the QEMU column is skipped when it
 * cannot be run), SOFTVM_GUEST_DIR (default guest, built by scripts/guest-image.sh).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/guest/session.h"

#define APPEND "console=ttyS0 earlyprintk=ttyS0 panic=-1 quiet"
#define BOOT_TIMEOUT_S 300.0
#define POWEROFF_TIMEOUT_S 60.0
#define MAX_RUNS 15

struct vm_result {
	double user_s; /* start to the /init banner; < 0: not reached */
	double prompt_s; /* start to the shell prompt */
	double off_s;  /* start to the VM's exit after poweroff -f; < 0: did not exit */
	int status;    /* exit status, or -1 */
};

static struct vm_result boot_once(char *const argv[], const char *name)
{
	struct vm_result r = { -1, -1, -1, -1 };
	struct session s;
	int e = session_start(&s, argv);
	if (e < 0) {
		fprintf(stderr, "boot: cannot start %s: %s\n", argv[0], strerror(-e));
		return r;
	}
	if (session_expect(&s, "softvm guest:", BOOT_TIMEOUT_S) < 0) {
		fprintf(stderr, "boot: %s did not reach userspace within %.0f s\n", name,
			BOOT_TIMEOUT_S);
		session_end(&s);
		return r;
	}
	r.user_s = (session_now_ns() - s.start_ns) / 1e9;
	if (session_expect(&s, "# ", 60) >= 0)
		r.prompt_s = (session_now_ns() - s.start_ns) / 1e9;
	if (r.prompt_s >= 0 && session_send(&s, "poweroff -f\n") == 0 &&
	    session_wait_exit(&s, POWEROFF_TIMEOUT_S)) {
		r.off_s = (session_now_ns() - s.start_ns) / 1e9;
		r.status = WIFEXITED(s.status) ? WEXITSTATUS(s.status) : 128 + WTERMSIG(s.status);
	} else {
		fprintf(stderr, "boot: %s did not exit within %.0f s of poweroff -f\n", name, POWEROFF_TIMEOUT_S);
	}
	session_end(&s);
	return r;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The median of the runs that got there; < 0 if any did not. */
static double median(const double *v, int n)
{
	double s[MAX_RUNS];
	for (int k = 0; k < n; k++) {
		if (v[k] < 0)
			return -1;
		s[k] = v[k];
	}
	qsort(s, (size_t)n, sizeof(s[0]), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void print_row(const char *what, double a, double b)
{
	char sa[32] = "n/a", sb[32] = "n/a", r[32] = "n/a";
	if (a >= 0)
		snprintf(sa, sizeof(sa), "%.2f", a);
	if (b >= 0)
		snprintf(sb, sizeof(sb), "%.2f", b);
	if (a > 0 && b > 0)
		snprintf(r, sizeof(r), "%.2f", a / b);
	printf("%-24s %10s %12s %12s\n", what, sa, sb, r);
}

static bool can_run(const char *prog)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "%s --version >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 1;
	if (runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: %s [runs 1..%d]\n", argv[0], MAX_RUNS);
		return 2;
	}
	const char *softvm = getenv("SOFTVM"), *qemu = getenv("QEMU"), *dir = getenv("SOFTVM_GUEST_DIR");
	if (!softvm || !*softvm)
		softvm = "./softvm";
	if (!qemu || !*qemu)
		qemu = "qemu-system-x86_64";
	if (!dir || !*dir)
		dir = "guest";
	char kernel[4096], initrd[4096];
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", dir);
	snprintf(initrd, sizeof(initrd), "%s/initrd.img", dir);
	if (access(kernel, R_OK) || access(initrd, R_OK)) {
		fprintf(stderr, "boot: no default guest in %s/ (run scripts/guest-image.sh)\n", dir);
		return 1;
	}
	bool with_qemu = can_run(qemu);
	if (!with_qemu)
		fprintf(stderr, "boot: %s not found, QEMU column skipped (scripts/install-deps.sh --bench installs it)\n", qemu);

	char *sv_argv[] = { (char *)softvm, "run", "--console", "stdio", "--memory", "512M", "--kernel", kernel,
			    "--initrd", initrd, "--append", APPEND, NULL };
	char *q_argv[] = { (char *)qemu, "-accel", "tcg", "-nographic", "-no-reboot", "-m", "512", "-kernel", kernel,
			   "-initrd", initrd, "-append", APPEND, NULL };
	double sv_user[MAX_RUNS], sv_prompt[MAX_RUNS], sv_off[MAX_RUNS];
	double q_user[MAX_RUNS], q_prompt[MAX_RUNS], q_off[MAX_RUNS];
	int sv_bad = 0, q_bad = 0;
	for (int k = 0; k < runs; k++) {
		/* Alternate the two so slow drifts of the host load hit both alike. */
		struct vm_result a = boot_once(sv_argv, "softvm");
		sv_user[k] = a.user_s;
		sv_prompt[k] = a.prompt_s;
		sv_off[k] = a.off_s;
		sv_bad |= a.off_s >= 0 && a.status != 0;
		struct vm_result b = { -1, -1, -1, -1 };
		if (with_qemu)
			b = boot_once(q_argv, "qemu");
		q_user[k] = b.user_s;
		q_prompt[k] = b.prompt_s;
		q_off[k] = b.off_s;
		q_bad |= b.off_s >= 0 && b.status != 0;
	}

	printf("Boot of %s + %s, 512 MiB, 1 vCPU, -append \"%s\" (%s%d run%s)\n", kernel, initrd, APPEND,
	       runs > 1 ? "median of " : "", runs, runs > 1 ? "s" : "");
	printf("%-24s %10s %12s %12s\n", "seconds from start", "softvm", "qemu (TCG)", "softvm/qemu");
	print_row("to first userspace line", median(sv_user, runs), median(q_user, runs));
	print_row("to shell prompt", median(sv_prompt, runs), median(q_prompt, runs));
	print_row("to power-off (exit)", median(sv_off, runs), median(q_off, runs));
	if (sv_bad || q_bad)
		printf("note: non-zero exit status after power-off from%s%s\n", sv_bad ? " softvm" : "", q_bad ? " qemu" : "");
	return 0;
}
