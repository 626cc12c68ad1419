/*
 * Integration test (make check-slow): boots the full Debian guest built by scripts/debian-image.sh
 * (Debian 12 with systemd from a qcow2 disk, Debian's kernel and initramfs) as users would:
 *   softvm run --kernel debian-vmlinuz --initrd debian-initrd.img --memory 1G
 *     --append "root=/dev/vda rw console=ttyS0" --drive file=OVERLAY
 *     --net user,hostfwd=tcp:127.0.0.1:PORT-:22
 * where OVERLAY is a fresh qcow2 overlay (softvm img create -b) over guest/debian.qcow2, so the
 * base image stays as built and every run is the same boot.
 *
 * Checks, over the serial console: the getty's login prompt appears; root logs in with its password;
 * `systemctl is-system-running --wait` says "running" and `systemctl --failed` lists nothing (every
 * unit started, none failed); no job is left queued; / is /dev/vda as ext4, read-write; the kernel
 * is guest/debian-KERNEL_VERSION; systemd-networkd got 10.0.2.15 from slirp's DHCP; sshd listens.
 * Then the host's ssh client, through the port forward, runs a command in the guest with the key
 * the image script made, and it answers. `poweroff` (systemd, then ACPI S5) ends softvm with
 * status 0; the overlay is clean afterwards for `softvm img check` and `qemu-img check`.
 * Informational lines (not checks) give the times to the login prompt and the journal's errors.
 *
 * Environment: SOFTVM (default ./softvm), SOFTVM_GUEST_DIR (default guest). The limits are
 * generous upper bounds, not timings.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/guest/session.h"
#include "tests/test.h"

#define BOOT_TIMEOUT_S 900.0
#define CMD_TIMEOUT_S 300.0
#define SSH_TIMEOUT_S 180
#define POWEROFF_TIMEOUT_S 180.0
#define TAIL_BYTES 4000
#define PASSWORD "softvm"

static struct session vm;
static int tail_printed;
static bool guest_dead; /* a command went unanswered: later ones fail at once */

static void fail_tail(void)
{
	if (tail_printed++)
		return;
	printf("  console log (last %d bytes):\n", TAIL_BYTES);
	session_print_tail(&vm, TAIL_BYTES);
}

static char *log_text(size_t from, size_t to)
{
	char *t = malloc(to - from + 1), *p = t;
	for (size_t k = from; k < to; k++)
		if (vm.log[k] != '\r')
			*p++ = vm.log[k];
	*p = 0;
	return t;
}

/* Runs cmd in root's bash on the console; returns its output (malloc'd, no CRs) and status, NULL
 * on timeout. Output is framed by markers typed as "@N""@" so the echoed command line never
 * matches; the prompt ends in "# ". */
static char *guest_run(const char *cmd, int *status)
{
	static unsigned seq;
	char line[1024], mark[32];
	if (guest_dead)
		return NULL;
	seq++;
	snprintf(line, sizeof(line), "echo @%u\"\"@; %s; echo @%u\"\"@$?\n", seq, cmd, seq);
	snprintf(mark, sizeof(mark), "@%u@", seq);
	if (session_send(&vm, line) < 0)
		return NULL;
	guest_dead = true;
	if (session_expect(&vm, mark, CMD_TIMEOUT_S) < 0 || session_expect(&vm, "\n", CMD_TIMEOUT_S) < 0)
		return NULL;
	size_t begin = vm.mark;
	long end = session_expect(&vm, mark, CMD_TIMEOUT_S);
	if (end < 0)
		return NULL;
	if (session_expect(&vm, "\n", CMD_TIMEOUT_S) < 0 || session_expect(&vm, "# ", CMD_TIMEOUT_S) < 0)
		return NULL;
	guest_dead = false;
	*status = atoi(vm.log + end + strlen(mark));
	return log_text(begin, (size_t)end);
}

static void chomp(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = 0;
}

/* Runs cmd; checks it succeeded (or, with any_status, just answered) and printed exactly want. */
static bool check_output_st(const char *name, const char *cmd, const char *want, bool any_status)
{
	int st;
	char *out = guest_run(cmd, &st);
	if (!out) {
		CHECK(0, "%s (no answer to '%s')", name, cmd);
		fail_tail();
		return false;
	}
	chomp(out);
	bool ok = (any_status || st == 0) && !strcmp(out, want);
	CHECK(ok, "%s", name);
	if (!ok)
		printf("  '%s' printed '%s' with status %d, expected '%s'\n", cmd, out, st, want);
	free(out);
	return ok;
}

static bool check_output(const char *name, const char *cmd, const char *want)
{
	return check_output_st(name, cmd, want, false);
}

/* Prints a guest command's output as information (not a check). */
static void show(const char *title, const char *cmd)
{
	int st;
	char *out = guest_run(cmd, &st);
	if (!out)
		return;
	chomp(out);
	printf("  %s:%s", title, *out ? "\n" : " (none)\n");
	if (*out) {
		for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
			printf("    %s\n", line);
	}
	free(out);
}

static int free_loopback_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(s, (struct sockaddr *)&a, &al) < 0) {
		if (s >= 0)
			close(s);
		return -1;
	}
	close(s);
	return ntohs(a.sin_port);
}

/* Runs a shell command on the host with its output in out (at most cap-1 bytes); returns its exit
 * status or -1. Keeps reading the VM's console meanwhile, so a full pipe never stalls the guest. */
static int host_run(const char *cmd, char *out, size_t cap)
{
	char path[] = "/tmp/softvm-debian-out-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(fd);
		unlink(path);
		return -1;
	}
	if (pid == 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		int null = open("/dev/null", O_RDONLY);
		if (null >= 0)
			dup2(null, STDIN_FILENO);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	int status = -1;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			status = -1;
			break;
		}
		/* A needle the console never prints: this only reads (for up to 0.2 s). */
		if (vm.pid > 0 && vm.out >= 0 && !vm.eof && !vm.exited) {
			session_expect(&vm, "\x01\x02never\x03", 0.2);
		} else {
			struct timespec ts = { 0, 50 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	ssize_t n = pread(fd, out, cap - 1, 0);
	out[n > 0 ? n : 0] = 0;
	close(fd);
	unlink(path);
	return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool read_line(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	bool ok = fgets(buf, (int)cap, f) != NULL;
	fclose(f);
	if (ok)
		chomp(buf);
	return ok;
}

int main(void)
{
	const char *softvm = getenv("SOFTVM");
	const char *dir = getenv("SOFTVM_GUEST_DIR");
	if (!softvm || !*softvm)
		softvm = "./softvm";
	if (!dir || !*dir)
		dir = "guest";
	signal(SIGPIPE, SIG_IGN);

	char base[PATH_MAX], kernel[PATH_MAX], initrd[PATH_MAX], key[PATH_MAX], kver_path[PATH_MAX];
	snprintf(kernel, sizeof(kernel), "%s/debian-vmlinuz", dir);
	snprintf(initrd, sizeof(initrd), "%s/debian-initrd.img", dir);
	snprintf(key, sizeof(key), "%s/debian-ssh-key", dir);
	snprintf(kver_path, sizeof(kver_path), "%s/debian-KERNEL_VERSION", dir);
	char rel[PATH_MAX], kver[256];
	snprintf(rel, sizeof(rel), "%s/debian.qcow2", dir);
	if (!realpath(rel, base) || access(kernel, R_OK) || access(initrd, R_OK) || access(key, R_OK) ||
	    !read_line(kver_path, kver, sizeof(kver))) {
		CHECK(0, "the Debian guest is in %s/ (scripts/debian-image.sh builds it, as root)", dir);
		TEST_EXIT();
	}

	/* A fresh overlay over the base image: this boot writes there only. */
	char overlay[] = "/tmp/softvm-debian-XXXXXX.qcow2", cmd[2 * PATH_MAX + 256], out[8192];
	int ofd = mkstemps(overlay, 6);
	if (ofd >= 0)
		close(ofd);
	snprintf(cmd, sizeof(cmd), "%s img create -f qcow2 -b '%s' -F qcow2 '%s' 2>&1", softvm, base, overlay);
	int r = ofd < 0 ? -1 : host_run(cmd, out, sizeof(out));
	CHECK(r == 0, "qcow2 overlay over %s created", base);
	if (r != 0) {
		printf("  %s\n", out);
		unlink(overlay);
		TEST_EXIT();
	}

	int port = free_loopback_port();
	char drive[PATH_MAX + 16], net[128];
	snprintf(drive, sizeof(drive), "file=%s", overlay);
	snprintf(net, sizeof(net), "user,hostfwd=tcp:127.0.0.1:%d-:22", port);
	char *argv[] = { (char *)softvm, "run", "--console", "stdio", "--memory", "1G", "--kernel", kernel, "--initrd",
			 initrd, "--append", "root=/dev/vda rw console=ttyS0", "--drive", drive, "--net", net, NULL };
	r = port < 0 ? -EADDRNOTAVAIL : session_start(&vm, argv);
	if (r < 0) {
		CHECK(0, "start %s: %s", softvm, strerror(-r));
		unlink(overlay);
		TEST_EXIT();
	}

	/* The getty on ttyS0: "softvm-debian login: ". */
	long login = session_expect(&vm, "softvm-debian login: ", BOOT_TIMEOUT_S);
	double login_s = (session_now_ns() - vm.start_ns) / 1e9;
	CHECK(login >= 0, "the serial console shows the login prompt");
	if (login < 0) {
		fail_tail();
		session_end(&vm);
		unlink(overlay);
		TEST_EXIT();
	}
	printf("  info: login prompt after %.1f s\n", login_s);
	session_send(&vm, "root\n");
	long pw = session_expect(&vm, "Password: ", CMD_TIMEOUT_S);
	if (pw >= 0)
		session_send(&vm, PASSWORD "\n");
	long prompt = pw < 0 ? -1 : session_expect(&vm, "root@softvm-debian:~# ", CMD_TIMEOUT_S);
	CHECK(prompt >= 0, "root logs in on the serial console");
	if (prompt < 0) {
		fail_tail();
		session_end(&vm);
		unlink(overlay);
		TEST_EXIT();
	}
	/* Plain output: no pager, no colours, no readline escapes; kernel messages off the console. */
	session_send(&vm, "export TERM=dumb SYSTEMD_PAGER=cat SYSTEMD_COLORS=0 PAGER=cat; stty cols 300; dmesg -n 1\n");
	session_expect(&vm, "# ", CMD_TIMEOUT_S);

	check_output_st("systemctl is-system-running --wait: running", "systemctl is-system-running --wait", "running", true);
	check_output("systemctl --failed: no failed unit", "systemctl --failed --no-legend --plain --no-pager", "");
	check_output("no systemd job left queued", "systemctl list-jobs --no-legend --no-pager", "");
	show("units not active (informational)",
	     "systemctl list-units --all --no-legend --plain --no-pager --state=failed,activating,deactivating,maintenance");
	check_output("/ is /dev/vda, ext4, read-write", "findmnt -n -o SOURCE,FSTYPE / && findmnt -n -o OPTIONS / | cut -d, -f1",
		     "/dev/vda ext4\nrw");
	check_output("uname -r is the image's kernel", "uname -r", kver);
	check_output("systemd-networkd: 10.0.2.15/24 by DHCP",
		     "ip -4 -o addr show scope global | grep -o 'inet [0-9./]*'", "inet 10.0.2.15/24");
	check_output("sshd listens on port 22", "ss -Hltn 'sport = :22' | grep -c LISTEN | sed 's/^[1-9][0-9]*$/yes/'", "yes");
	show("systemd-analyze: boot time and the slowest units (informational)",
	     "systemd-analyze time; systemd-analyze blame --no-pager | head -6");
	show("journal: errors of this boot (informational)", "journalctl -b -p err --no-pager -q -o short-monotonic");

	/* ssh through the port forward, with the key the image script made. */
	snprintf(cmd, sizeof(cmd),
		 "timeout %d ssh -i '%s' -p %d -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
		 "-o ConnectTimeout=60 -o LogLevel=ERROR root@127.0.0.1 "
		 "'echo ssh-answer $(hostname) $(systemctl is-system-running) $((6 * 7))'",
		 SSH_TIMEOUT_S, key, port);
	uint64_t t0 = session_now_ns();
	r = host_run(cmd, out, sizeof(out));
	chomp(out);
	CHECK(r == 0 && !strcmp(out, "ssh-answer softvm-debian running 42"),
	      "ssh root@127.0.0.1 -p %d (forward to the guest's :22) runs a command that answers", port);
	if (r != 0 || strcmp(out, "ssh-answer softvm-debian running 42"))
		printf("  ssh exited with %d and printed '%s'\n", r, out);
	else
		printf("  info: ssh round trip %.1f s\n", (session_now_ns() - t0) / 1e9);
	check_output("the ssh login shows in the guest's journal",
		     "journalctl -b -u ssh --no-pager -q | grep -c 'Accepted publickey for root' | sed 's/^[1-9][0-9]*$/yes/'",
		     "yes");

	bool exited = false;
	if (!guest_dead) {
		session_send(&vm, "poweroff\n");
		exited = session_wait_exit(&vm, POWEROFF_TIMEOUT_S);
	}
	CHECK(exited && WIFEXITED(vm.status) && WEXITSTATUS(vm.status) == 0, "poweroff (systemd, ACPI S5) ends softvm with status 0");
	if (exited)
		printf("  info: whole run %.1f s\n", (session_now_ns() - vm.start_ns) / 1e9);
	if (test_failures)
		fail_tail();
	session_end(&vm);

	/* The overlay the guest wrote is consistent for both tools. */
	snprintf(cmd, sizeof(cmd), "%s img check '%s' 2>&1", softvm, overlay);
	r = host_run(cmd, out, sizeof(out));
	CHECK(r == 0, "softvm img check: the overlay is clean after the boot");
	if (r != 0)
		printf("  status %d: %s\n", r, out);
	snprintf(cmd, sizeof(cmd), "qemu-img check '%s' 2>&1", overlay);
	r = host_run(cmd, out, sizeof(out));
	CHECK(r == 0, "qemu-img check agrees");
	if (r != 0)
		printf("  status %d: %s\n", r, out);
	unlink(overlay);
	TEST_EXIT();
}
