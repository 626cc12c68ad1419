/*
 * Network benchmark (not a test): TCP throughput from the guest to the host through user-mode
 * networking (slirp), softvm beside qemu-system-x86_64 with TCG running the same kernel, initramfs
 * and command line with a virtio-net NIC on -netdev user. The guest gets its address with udhcpc,
 * then pipes N MiB from dd through busybox nc to 10.0.2.2:PORT, where this program listens on
 * 127.0.0.1 and counts the bytes; the time runs from the first byte received to the end of the
 * stream.
 *
 * Usage: build/bench/net [MiB] [runs] (default 32 MiB, 1 run; with more runs, the median).
 * Environment: SOFTVM (default ./softvm), QEMU (default qemu-system-x86_64; its column is skipped
 * when it cannot be run), SOFTVM_GUEST_DIR (default guest).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/guest/session.h"

#define APPEND "console=ttyS0 earlyprintk=ttyS0 panic=-1 quiet"
#define BOOT_TIMEOUT_S 300.0
#define CMD_TIMEOUT_S 120.0
#define MAX_RUNS 9

struct sink {
	int listen_fd;
	uint16_t port;
	uint64_t bytes;
	uint64_t first_ns, last_ns;
	bool done;
};

/* Accepts one connection and reads it to the end. */
static void *sink_thread(void *arg)
{
	struct sink *s = arg;
	struct pollfd pf = { .fd = s->listen_fd, .events = POLLIN };
	if (poll(&pf, 1, (int)(BOOT_TIMEOUT_S * 1000)) <= 0)
		return NULL;
	int c = accept(s->listen_fd, NULL, NULL);
	if (c < 0)
		return NULL;
	static uint8_t buf[1 << 16];
	for (;;) {
		ssize_t n = read(c, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (!s->bytes)
			s->first_ns = session_now_ns();
		s->bytes += (uint64_t)n;
		s->last_ns = session_now_ns();
	}
	close(c);
	s->done = true;
	return NULL;
}

/* Boots argv, runs DHCP and the transfer; returns MB/s (1e6 bytes), or < 0. */
static double run_once(char *const argv[], const char *name, unsigned mib)
{
	struct sink s = { .listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	if (s.listen_fd < 0 || bind(s.listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(s.listen_fd, (struct sockaddr *)&a, &al) < 0 || listen(s.listen_fd, 1) < 0) {
		perror("net: listen");
		return -1;
	}
	s.port = ntohs(a.sin_port);
	pthread_t th;
	if (pthread_create(&th, NULL, sink_thread, &s)) {
		close(s.listen_fd);
		return -1;
	}

	double result = -1;
	struct session vm;
	int e = session_start(&vm, argv);
	if (e < 0) {
		fprintf(stderr, "net: cannot start %s: %s\n", argv[0], strerror(-e));
		goto out;
	}
	if (session_expect(&vm, "softvm guest:", BOOT_TIMEOUT_S) < 0 || session_expect(&vm, "# ", 60) < 0) {
		fprintf(stderr, "net: %s did not reach the shell\n", name);
		goto end;
	}
	session_send(&vm, "i=0; while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; "
			  "udhcpc -i eth0 -q -n -t 5 -T 2 >/dev/null 2>&1; echo @dhcp\"\"@$?\n");
	if (session_expect(&vm, "@dhcp@0", CMD_TIMEOUT_S) < 0) {
		fprintf(stderr, "net: %s: udhcpc failed\n", name);
		goto end;
	}
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "dd if=/dev/zero bs=65536 count=%u 2>/dev/null | nc 10.0.2.2 %u; echo @sent\"\"@\n",
		 mib * 16, s.port);
	session_send(&vm, cmd);
	if (session_expect(&vm, "@sent@", CMD_TIMEOUT_S * 10) < 0) {
		fprintf(stderr, "net: %s: transfer did not finish\n", name);
		goto end;
	}
	for (int k = 0; k < 100 && !s.done; k++)
		usleep(100000);
	if (s.done && s.bytes == (uint64_t)mib << 20 && s.last_ns > s.first_ns)
		result = s.bytes / ((s.last_ns - s.first_ns) / 1e9) / 1e6;
	else
		fprintf(stderr, "net: %s: host received %llu of %llu bytes\n", name, (unsigned long long)s.bytes,
			(unsigned long long)mib << 20);
	session_send(&vm, "poweroff -f\n");
	session_wait_exit(&vm, 60);
end:
	session_end(&vm);
out:
	shutdown(s.listen_fd, SHUT_RDWR);
	close(s.listen_fd);
	pthread_join(th, NULL);
	return result;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	for (int k = 0; k < n; k++)
		if (v[k] < 0)
			return -1;
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static bool can_run(const char *prog)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "%s --version >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

int main(int argc, char **argv)
{
	unsigned mib = argc > 1 ? (unsigned)atoi(argv[1]) : 32;
	int runs = argc > 2 ? atoi(argv[2]) : 1;
	if (mib < 1 || mib > 4096 || runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: %s [MiB 1..4096] [runs 1..%d]\n", argv[0], MAX_RUNS);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
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
		fprintf(stderr, "net: no default guest in %s/ (run scripts/guest-image.sh)\n", dir);
		return 1;
	}
	bool with_qemu = can_run(qemu);
	if (!with_qemu)
		fprintf(stderr, "net: %s not found, QEMU column skipped\n", qemu);

	char *sv_argv[] = { (char *)softvm, "run", "--console", "stdio", "--memory", "512M", "--kernel", kernel,
			    "--initrd", initrd, "--append", APPEND, "--net", "user", NULL };
	char *q_argv[] = { (char *)qemu, "-accel", "tcg", "-nographic", "-no-reboot", "-m", "512", "-kernel", kernel,
			   "-initrd", initrd, "-append", APPEND, "-netdev", "user,id=n0", "-device",
			   "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56", NULL };
	double sv[MAX_RUNS], q[MAX_RUNS];
	for (int k = 0; k < runs; k++) {
		sv[k] = run_once(sv_argv, "softvm", mib);
		q[k] = with_qemu ? run_once(q_argv, "qemu", mib) : -1;
	}
	double a = median(sv, runs), b = median(q, runs);
	char sa[32] = "n/a", sb[32] = "n/a", r[32] = "n/a";
	if (a > 0)
		snprintf(sa, sizeof(sa), "%.2f", a);
	if (b > 0)
		snprintf(sb, sizeof(sb), "%.2f", b);
	if (a > 0 && b > 0)
		snprintf(r, sizeof(r), "%.2f", a / b);
	printf("Guest -> host TCP through user networking (slirp), %u MiB, dd | busybox nc to 10.0.2.2 (%s%d run%s)\n",
	       mib, runs > 1 ? "median of " : "", runs, runs > 1 ? "s" : "");
	printf("%-24s %10s %12s %12s\n", "MB/s", "softvm", "qemu (TCG)", "softvm/qemu");
	printf("%-24s %10s %12s %12s\n", "guest -> host", sa, sb, r);
	return 0;
}
