/*
 * Disk benchmark (not a test): throughput of a virtio-blk disk inside the default guest, softvm
 * beside qemu-system-x86_64 with TCG running the same kernel, initramfs, command line and images.
 *
 * Each VM gets a fresh, empty qcow2 image (DISK_MIB, made by `softvm img create`) as /dev/vda and
 * a raw read-only image holding bench/guest/iobench (a static program built for the host, which
 * runs as is in the guest) as /dev/vdb. The guest copies iobench out of vdb and runs, on vda with
 * O_DIRECT: sequential writes and reads in 1 MiB requests over SPAN_MIB, then random 4 KiB reads
 * and writes (RAND_OPS each, the same offsets in both VMs) inside that span. Writes end with
 * fdatasync, which is timed. Times are taken by iobench in the guest (both VMs' guest clocks follow
 * the host's).
 *
 * Usage: build/bench/disk [runs] (default 1; with more, each figure is the median). Environment:
 * SOFTVM (default ./softvm), QEMU (default qemu-system-x86_64; its column is skipped when it cannot
 * be run), SOFTVM_GUEST_DIR (default guest), IOBENCH (default: iobench beside this binary).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/guest/session.h"

#define APPEND "console=ttyS0 earlyprintk=ttyS0 panic=-1 quiet"
#define BOOT_TIMEOUT_S 300.0
#define CMD_TIMEOUT_S 600.0
#define MAX_RUNS 9
#define DISK_MIB 256
#define SPAN_MIB 128
#define RAND_OPS 4000

enum { SEQ_WRITE, SEQ_READ, RAND_READ, RAND_WRITE, NPAT };
static const char *const pat_name[NPAT] = { "seqwrite", "seqread", "randread", "randwrite" };
static const char *const pat_label[NPAT] = { "seq write 1M (MB/s)", "seq read 1M (MB/s)", "rand read 4K (IOPS)",
					     "rand write 4K (IOPS)" };

static struct session vm;
static unsigned seq_no;

/* Runs cmd in the guest shell; returns what it printed (malloc'd), or NULL on timeout. Output is
 * framed by markers typed as "@N""@", which the echo of the command line cannot match. */
static char *guest_run(const char *cmd)
{
	char line[1024], mark[32];
	seq_no++;
	snprintf(line, sizeof(line), "echo @%u\"\"@; %s; echo @%u\"\"@\n", seq_no, cmd, seq_no);
	snprintf(mark, sizeof(mark), "@%u@", seq_no);
	if (session_send(&vm, line) < 0 || session_expect(&vm, mark, CMD_TIMEOUT_S) < 0)
		return NULL;
	size_t begin = vm.mark;
	long end = session_expect(&vm, mark, CMD_TIMEOUT_S);
	if (end < 0 || session_expect(&vm, "# ", CMD_TIMEOUT_S) < 0)
		return NULL;
	return strndup(vm.log + begin, (size_t)end - begin);
}

static int run_quiet(char *const argv[])
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* One boot: fills res[] with MB/s or IOPS (-1 where it failed). */
static void run_once(char *const argv[], const char *name, unsigned tool_sectors, double res[NPAT])
{
	for (int p = 0; p < NPAT; p++)
		res[p] = -1;
	int e = session_start(&vm, argv);
	if (e < 0) {
		fprintf(stderr, "disk: cannot start %s: %s\n", argv[0], strerror(-e));
		return;
	}
	if (session_expect(&vm, "softvm guest:", BOOT_TIMEOUT_S) < 0 || session_expect(&vm, "# ", 60) < 0) {
		fprintf(stderr, "disk: %s did not reach the shell\n", name);
		session_end(&vm);
		return;
	}
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "dd if=/dev/vdb of=/tmp/iobench bs=512 count=%u 2>/dev/null && chmod +x /tmp/iobench",
		 tool_sectors);
	free(guest_run(cmd));
	for (int p = 0; p < NPAT; p++) {
		if (p <= SEQ_READ)
			snprintf(cmd, sizeof(cmd), "/tmp/iobench /dev/vda %s %d", pat_name[p], SPAN_MIB);
		else
			snprintf(cmd, sizeof(cmd), "/tmp/iobench /dev/vda %s %d %d", pat_name[p], SPAN_MIB, RAND_OPS);
		char *out = guest_run(cmd);
		char *l = out ? strstr(out, "iobench ") : NULL;
		char pn[32];
		unsigned long long bytes, ns;
		if (!l || sscanf(l, "iobench %31s %llu %llu", pn, &bytes, &ns) != 3 || !ns) {
			fprintf(stderr, "disk: %s: %s gave no result: %s\n", name, pat_name[p], out ? out : "(timeout)");
			free(out);
			break;
		}
		free(out);
		res[p] = p <= SEQ_READ ? bytes / 1e6 / (ns / 1e9) : (bytes / 4096.0) / (ns / 1e9);
	}
	session_send(&vm, "poweroff -f\n");
	session_wait_exit(&vm, 60);
	session_end(&vm);
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

static bool can_run(const char *prog)
{
	char *argv[] = { (char *)prog, "--version", NULL };
	return run_quiet(argv) == 0;
}

/* A fresh empty qcow2 image at path. */
static bool fresh_image(const char *softvm, const char *path)
{
	unlink(path);
	char size[16];
	snprintf(size, sizeof(size), "%dM", DISK_MIB);
	char *argv[] = { (char *)softvm, "img", "create", "-f", "qcow2", (char *)path, size, NULL };
	return run_quiet(argv) == 0;
}

/* The raw tool image: iobench padded to whole sectors. Returns the sector count, or 0. */
static unsigned make_tool_image(const char *tool, const char *path)
{
	int in = open(tool, O_RDONLY), out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	struct stat st;
	if (in < 0 || out < 0 || fstat(in, &st) < 0)
		return 0;
	static char buf[1 << 16];
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			return 0;
	unsigned sectors = (unsigned)((st.st_size + 511) / 512);
	if (ftruncate(out, (off_t)sectors * 512) < 0)
		return 0;
	close(in);
	close(out);
	return sectors;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 1;
	if (runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: %s [runs 1..%d]\n", argv[0], MAX_RUNS);
		return 2;
	}
	const char *softvm = getenv("SOFTVM"), *qemu = getenv("QEMU"), *dir = getenv("SOFTVM_GUEST_DIR");
	const char *tool = getenv("IOBENCH");
	if (!softvm || !*softvm)
		softvm = "./softvm";
	if (!qemu || !*qemu)
		qemu = "qemu-system-x86_64";
	if (!dir || !*dir)
		dir = "guest";
	static char self[PATH_MAX], toolpath[PATH_MAX + 16];
	if (!tool || !*tool) {
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n > 0) {
			self[n] = 0;
			char *slash = strrchr(self, '/');
			if (slash)
				*slash = 0;
		}
		snprintf(toolpath, sizeof(toolpath), "%s/iobench", self);
		tool = toolpath;
	}
	char kernel[PATH_MAX], initrd[PATH_MAX];
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", dir);
	snprintf(initrd, sizeof(initrd), "%s/initrd.img", dir);
	if (access(kernel, R_OK) || access(initrd, R_OK)) {
		fprintf(stderr, "disk: no default guest in %s (make guest)\n", dir);
		return 1;
	}
	char tmp[] = "/tmp/softvm-bench-disk-XXXXXX";
	if (!mkdtemp(tmp))
		return 1;
	char disk[PATH_MAX], toolimg[PATH_MAX];
	snprintf(disk, sizeof(disk), "%s/disk.qcow2", tmp);
	snprintf(toolimg, sizeof(toolimg), "%s/tool.img", tmp);
	unsigned tool_sectors = make_tool_image(tool, toolimg);
	if (!tool_sectors) {
		fprintf(stderr, "disk: cannot read the guest tool %s (built by make as build/bench/iobench)\n", tool);
		return 1;
	}
	bool with_qemu = can_run(qemu);
	if (!with_qemu)
		fprintf(stderr, "disk: %s not found, QEMU column skipped\n", qemu);

	char sv_d1[PATH_MAX + 32], sv_d2[PATH_MAX + 64], q_d1[PATH_MAX + 64], q_d2[PATH_MAX + 64];
	snprintf(sv_d1, sizeof(sv_d1), "file=%s,format=qcow2", disk);
	snprintf(sv_d2, sizeof(sv_d2), "file=%s,format=raw,readonly=on", toolimg);
	snprintf(q_d1, sizeof(q_d1), "file=%s,format=qcow2,if=virtio", disk);
	snprintf(q_d2, sizeof(q_d2), "file=%s,format=raw,if=virtio,readonly=on", toolimg);
	char *sv_argv[] = { (char *)softvm, "run", "--console", "stdio", "--memory", "512M", "--kernel", kernel,
			    "--initrd", initrd, "--append", APPEND, "--drive", sv_d1, "--drive", sv_d2, NULL };
	char *q_argv[] = { (char *)qemu, "-accel", "tcg", "-nographic", "-no-reboot", "-m", "512", "-kernel", kernel,
			   "-initrd", initrd, "-append", APPEND, "-drive", q_d1, "-drive", q_d2, NULL };

	double s[NPAT][MAX_RUNS], q[NPAT][MAX_RUNS], r[NPAT];
	for (int k = 0; k < runs; k++) {
		/* Alternate, so that both see the same host load. */
		if (!fresh_image(softvm, disk)) {
			fprintf(stderr, "disk: softvm img create failed\n");
			return 1;
		}
		run_once(sv_argv, "softvm", tool_sectors, r);
		for (int p = 0; p < NPAT; p++)
			s[p][k] = r[p];
		if (with_qemu && fresh_image(softvm, disk)) {
			run_once(q_argv, "qemu", tool_sectors, r);
		} else {
			for (int p = 0; p < NPAT; p++)
				r[p] = -1;
		}
		for (int p = 0; p < NPAT; p++)
			q[p][k] = r[p];
	}
	unlink(disk);
	unlink(toolimg);
	rmdir(tmp);

	printf("disk: virtio-blk, qcow2 %d MiB, O_DIRECT in the guest, span %d MiB, %d random ops%s\n", DISK_MIB,
	       SPAN_MIB, RAND_OPS, runs > 1 ? ", medians" : "");
	printf("%-24s %10s %12s %12s\n", "", "softvm", "qemu (TCG)", "softvm/qemu");
	for (int p = 0; p < NPAT; p++) {
		double a = median(s[p], runs), b = median(q[p], runs);
		char sa[32] = "n/a", sb[32] = "n/a", sr[32] = "n/a";
		if (a >= 0)
			snprintf(sa, sizeof(sa), "%.1f", a);
		if (b >= 0)
			snprintf(sb, sizeof(sb), "%.1f", b);
		if (a >= 0 && b > 0)
			snprintf(sr, sizeof(sr), "%.2f", a / b);
		printf("%-24s %10s %12s %12s\n", pat_label[p], sa, sb, sr);
	}
	return 0;
}
