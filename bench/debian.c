/*
 * Debian boot benchmark (not a test): how long the full Debian guest (scripts/debian-image.sh:
 * Debian 12, systemd, from a qcow2 disk) takes from start to the login prompt on the serial
 * console, and from start to the VM's exit after root logs in and types `poweroff`, for softvm and
 * for qemu-system-x86_64 -accel tcg with the same kernel, initramfs, command line, disk and NIC:
 *   softvm run --memory 1G --kernel K --initrd I --append A --drive file=OVL --net user
 *   qemu-system-x86_64 -accel tcg -nographic -no-reboot -m 1024 -kernel K -initrd I -append A
 *     -drive file=OVL,format=qcow2,if=virtio -netdev user,id=n0 -device virtio-net-pci,netdev=n0
 * Each boot gets a fresh qcow2 overlay over guest/debian.qcow2 (softvm img create -b), so every
 * run is the same boot of the same image. QEMU's time includes its firmware (SeaBIOS); softvm
 * loads the kernel directly.
 *
 * Usage: build/bench/debian [runs] (default 1; with more, each figure is the median). Environment:
 * SOFTVM (default ./softvm), QEMU (default qemu-system-x86_64; its column is skipped when it cannot
 * be run), SOFTVM_GUEST_DIR (default guest). Without the Debian guest it says so and exits 0, so
 * `make bench` runs on machines that did not build it (it needs root and the Debian archive).
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/guest/session.h"

#define APPEND "root=/dev/vda rw console=ttyS0"
#define LOGIN_TIMEOUT_S 900.0
#define CMD_TIMEOUT_S 120.0
#define POWEROFF_TIMEOUT_S 180.0
#define MAX_RUNS 9

struct vm_result {
	double login_s; /* start to "softvm-debian login: "; < 0: not reached */
	double off_s;   /* start to the VM's exit after root's poweroff; < 0: did not exit */
	int status;     /* exit status, or -1 */
};

static struct vm_result boot_once(char *const argv[], const char *name)
{
	struct vm_result r = { -1, -1, -1 };
	struct session s;
	int e = session_start(&s, argv);
	if (e < 0) {
		fprintf(stderr, "debian: cannot start %s: %s\n", argv[0], strerror(-e));
		return r;
	}
	if (session_expect(&s, "softvm-debian login: ", LOGIN_TIMEOUT_S) < 0) {
		fprintf(stderr, "debian: %s did not reach the login prompt within %.0f s\n", name, LOGIN_TIMEOUT_S);
		session_end(&s);
		return r;
	}
	r.login_s = (session_now_ns() - s.start_ns) / 1e9;
	session_send(&s, "root\n");
	bool ok = session_expect(&s, "Password: ", CMD_TIMEOUT_S) >= 0 && session_send(&s, "softvm\n") == 0 &&
		  session_expect(&s, "# ", CMD_TIMEOUT_S) >= 0 && session_send(&s, "poweroff\n") == 0 &&
		  session_wait_exit(&s, POWEROFF_TIMEOUT_S);
	if (ok) {
		r.off_s = (session_now_ns() - s.start_ns) / 1e9;
		r.status = WIFEXITED(s.status) ? WEXITSTATUS(s.status) : 128 + WTERMSIG(s.status);
	} else {
		fprintf(stderr, "debian: %s did not log in and power off\n", name);
	}
	session_end(&s);
	return r;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

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
	printf("%-28s %10s %12s %12s\n", what, sa, sb, r);
}

static bool can_run(const char *prog)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "%s --version >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

/* A fresh overlay over base in path (a mkstemps template). */
static bool make_overlay(const char *softvm, const char *base, char *path)
{
	int fd = mkstemps(path, 6);
	if (fd < 0)
		return false;
	close(fd);
	char cmd[3 * PATH_MAX];
	snprintf(cmd, sizeof(cmd), "%s img create -f qcow2 -b '%s' -F qcow2 '%s' >/dev/null", softvm, base, path);
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
	char kernel[PATH_MAX], initrd[PATH_MAX], rel[PATH_MAX], base[PATH_MAX];
	snprintf(kernel, sizeof(kernel), "%s/debian-vmlinuz", dir);
	snprintf(initrd, sizeof(initrd), "%s/debian-initrd.img", dir);
	snprintf(rel, sizeof(rel), "%s/debian.qcow2", dir);
	if (!realpath(rel, base) || access(kernel, R_OK) || access(initrd, R_OK)) {
		printf("debian: no Debian guest in %s/ (scripts/debian-image.sh builds it, as root); skipped\n", dir);
		return 0;
	}
	bool with_qemu = can_run(qemu);
	if (!with_qemu)
		fprintf(stderr, "debian: %s not found, QEMU column skipped (scripts/install-deps.sh --bench installs it)\n", qemu);

	double sv_login[MAX_RUNS], sv_off[MAX_RUNS], q_login[MAX_RUNS], q_off[MAX_RUNS];
	int sv_bad = 0, q_bad = 0;
	for (int k = 0; k < runs; k++) {
		/* Alternate the two so slow drifts of the host load hit both alike. */
		char ovl[] = "/tmp/softvm-bench-debian-XXXXXX.qcow2", drive[PATH_MAX + 64];
		struct vm_result a = { -1, -1, -1 }, b = { -1, -1, -1 };
		if (make_overlay(softvm, base, ovl)) {
			snprintf(drive, sizeof(drive), "file=%s", ovl);
			char *sv_argv[] = { (char *)softvm, "run", "--console", "stdio", "--memory", "1G", "--kernel", kernel,
					    "--initrd", initrd, "--append", APPEND, "--drive", drive, "--net", "user", NULL };
			a = boot_once(sv_argv, "softvm");
		}
		unlink(ovl);
		strcpy(ovl, "/tmp/softvm-bench-debian-XXXXXX.qcow2");
		if (with_qemu && make_overlay(softvm, base, ovl)) {
			snprintf(drive, sizeof(drive), "file=%s,format=qcow2,if=virtio", ovl);
			char *q_argv[] = { (char *)qemu, "-accel", "tcg", "-nographic", "-no-reboot", "-m", "1024", "-kernel",
					   kernel, "-initrd", initrd, "-append", APPEND, "-drive", drive, "-netdev", "user,id=n0",
					   "-device", "virtio-net-pci,netdev=n0", NULL };
			b = boot_once(q_argv, "qemu");
		}
		unlink(ovl);
		sv_login[k] = a.login_s;
		sv_off[k] = a.off_s;
		sv_bad |= a.off_s >= 0 && a.status != 0;
		q_login[k] = b.login_s;
		q_off[k] = b.off_s;
		q_bad |= b.off_s >= 0 && b.status != 0;
	}

	printf("Debian 12 (systemd) from %s: %s + %s, 1 GiB, 1 vCPU, virtio-blk (qcow2 overlay) + virtio-net (user),\n"
	       "-append \"%s\" (%s%d run%s)\n",
	       rel, kernel, initrd, APPEND, runs > 1 ? "median of " : "", runs, runs > 1 ? "s" : "");
	printf("%-28s %10s %12s %12s\n", "seconds from start", "softvm", "qemu (TCG)", "softvm/qemu");
	print_row("to the login prompt", median(sv_login, runs), median(q_login, runs));
	print_row("to exit (login, poweroff)", median(sv_off, runs), median(q_off, runs));
	if (sv_bad || q_bad)
		printf("note: non-zero exit status after poweroff from%s%s\n", sv_bad ? " softvm" : "", q_bad ? " qemu" : "");
	return 0;
}
