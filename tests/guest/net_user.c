/*
 * Integration test: user-mode networking with virtio-net. Boots the default guest with two NICs,
 *   --net user,hostfwd=tcp:127.0.0.1:FWD-:8080 --net user,mac=52:54:00:aa:bb:cc
 * and checks, over the serial console:
 *   - both NICs appear with their MAC addresses (the default 52:54:00:12:34:56 and the given one);
 *   - udhcpc gets 10.0.2.15/24 with router 10.0.2.2 and DNS 10.0.2.3 from slirp's DHCP;
 *   - the guest fetches a 300 KiB file with wget from an HTTP server this test runs on the host's
 *     127.0.0.1, through the gateway address 10.0.2.2, intact (sha256);
 *   - a TCP server in the guest (nc -l -p 8080) is reached from the host through the port
 *     forward, with data both ways;
 *   - dmesg has no virtio or net warnings; poweroff ends softvm with status 0.
 * Only loopback addresses are used: nothing leaves the host.
 *
 * Environment: SOFTVM (default ./softvm), SOFTVM_GUEST_DIR (default guest). The limits are generous
 * upper bounds, not timings.
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
#include <sys/wait.h>
#include <unistd.h>

#include "tests/guest/session.h"
#include "tests/test.h"

#define BOOT_TIMEOUT_S 300.0
#define CMD_TIMEOUT_S 120.0
#define POWEROFF_TIMEOUT_S 60.0
#define TAIL_BYTES 3000
#define FILE_SIZE (300 * 1024)

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
static bool check_output(const char *name, const char *cmd, const char *want)
{
	int st;
	char *out = guest_run(cmd, &st);
	if (!out) {
		CHECK(0, "%s (no answer to '%s')", name, cmd);
		fail_tail();
		return false;
	}
	size_t n = strlen(out);
	if (n && out[n - 1] == '\n')
		out[--n] = 0;
	bool ok = st == 0 && !strcmp(out, want);
	CHECK(ok, "%s", name);
	if (!ok)
		printf("  '%s' printed '%s' with status %d, expected '%s'\n", cmd, out, st, want);
	free(out);
	return ok;
}

/* ---- host side: an HTTP server on 127.0.0.1 and a client for the port forward ---- */

static uint8_t *file_data;
static int http_listen = -1;
static volatile int http_served;

static bool write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* HTTP/1.0: GET /file answers the file, anything else 404; one request per connection. */
static void *http_thread(void *arg)
{
	for (;;) {
		int c = accept(http_listen, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		char req[2048];
		size_t len = 0;
		while (len < sizeof(req) - 1) {
			struct pollfd pf = { .fd = c, .events = POLLIN };
			if (poll(&pf, 1, 30000) <= 0)
				break;
			ssize_t n = read(c, req + len, sizeof(req) - 1 - len);
			if (n <= 0)
				break;
			len += (size_t)n;
			req[len] = 0;
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		req[len] = 0;
		char hdr[256];
		if (!strncmp(req, "GET /file ", 10)) {
			snprintf(hdr, sizeof(hdr),
				 "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n",
				 FILE_SIZE);
			if (write_all(c, hdr, strlen(hdr)) && write_all(c, file_data, FILE_SIZE))
				http_served++;
		} else {
			snprintf(hdr, sizeof(hdr), "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
			write_all(c, hdr, strlen(hdr));
		}
		close(c);
	}
}

static int listen_loopback(int type, uint16_t *port)
{
	int s = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || getsockname(s, (struct sockaddr *)&a, &al) < 0 ||
	    (type == SOCK_STREAM && listen(s, 8) < 0)) {
		if (s >= 0)
			close(s);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return s;
}

/* sha256 of the file as the host's sha256sum prints it (the guest runs busybox's). */
static bool host_sha256(char out[65])
{
	char path[] = "/tmp/softvm-net-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return false;
	bool ok = write_all(fd, file_data, FILE_SIZE);
	close(fd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "sha256sum %s", path);
	FILE *p = ok ? popen(cmd, "r") : NULL;
	ok = p && fscanf(p, "%64s", out) == 1 && strlen(out) == 64;
	if (p)
		pclose(p);
	unlink(path);
	return ok;
}

/* Connects to 127.0.0.1:port, sends msg, half-closes, reads until EOF (at most cap-1 bytes). */
static ssize_t tcp_exchange(uint16_t port, const char *msg, char *buf, size_t cap)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (s >= 0)
			close(s);
		return -1;
	}
	size_t len = 0;
	if (!write_all(s, msg, strlen(msg)) || shutdown(s, SHUT_WR) < 0) {
		close(s);
		return -1;
	}
	while (len < cap - 1) {
		struct pollfd pf = { .fd = s, .events = POLLIN };
		if (poll(&pf, 1, (int)(CMD_TIMEOUT_S * 1000)) <= 0)
			break;
		ssize_t n = read(s, buf + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = 0;
	close(s);
	return (ssize_t)len;
}

int main(void)
{
	const char *softvm = getenv("SOFTVM");
	const char *dir = getenv("SOFTVM_GUEST_DIR");
	if (!softvm || !*softvm)
		softvm = "./softvm";
	if (!dir || !*dir)
		dir = "guest";
	setenv("SOFTVM_GUEST_DIR", dir, 1);
	signal(SIGPIPE, SIG_IGN);

	/* Host side: the file, its hash, the HTTP server, a free port for the forward. */
	file_data = malloc(FILE_SIZE);
	uint32_t x = 2463534242u;
	for (int k = 0; k < FILE_SIZE; k++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		file_data[k] = (uint8_t)x;
	}
	char sha[65];
	uint16_t http_port, fwd_port;
	http_listen = listen_loopback(SOCK_STREAM, &http_port);
	int probe = listen_loopback(SOCK_STREAM, &fwd_port);
	if (probe >= 0)
		close(probe);
	pthread_t th;
	if (!host_sha256(sha) || http_listen < 0 || probe < 0 || pthread_create(&th, NULL, http_thread, NULL)) {
		CHECK(0, "host side set up (sha256sum, loopback sockets, server thread)");
		TEST_EXIT();
	}

	char net0[128];
	snprintf(net0, sizeof(net0), "user,hostfwd=tcp:127.0.0.1:%u-:8080", fwd_port);
	char *argv[] = { (char *)softvm, "run", "--console", "stdio", "--net", net0, "--net",
			 "user,mac=52:54:00:aa:bb:cc", NULL };
	int r = session_start(&vm, argv);
	if (r < 0) {
		CHECK(0, "start %s: %s", softvm, strerror(-r));
		TEST_EXIT();
	}
	long banner = session_expect(&vm, "softvm guest:", BOOT_TIMEOUT_S);
	long prompt = banner < 0 ? -1 : session_expect(&vm, "# ", CMD_TIMEOUT_S);
	CHECK(prompt >= 0, "guest reaches the shell with two NICs");
	if (prompt < 0) {
		fail_tail();
		session_end(&vm);
		TEST_EXIT();
	}

	/* The NICs, by MAC (the driver may take a moment after the prompt to register them). */
	check_output("eth0 has the default MAC",
		     "i=0; while [ ! -e /sys/class/net/eth1 ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done; "
		     "cat /sys/class/net/eth0/address",
		     "52:54:00:12:34:56");
	check_output("eth1 has mac=52:54:00:aa:bb:cc", "cat /sys/class/net/eth1/address", "52:54:00:aa:bb:cc");

	/* DHCP. */
	check_output("udhcpc: lease 10.0.2.15/24 on eth0",
		     "udhcpc -i eth0 -q -n -t 5 -T 2 >/dev/null 2>&1; ip -4 addr show eth0 | grep -o 'inet [0-9./]*'",
		     "inet 10.0.2.15/24");
	check_output("default route via 10.0.2.2", "ip route | grep -o '^default via [0-9.]*'", "default via 10.0.2.2");
	check_output("DNS 10.0.2.3 in /etc/resolv.conf", "grep -o 'nameserver [0-9.]*' /etc/resolv.conf",
		     "nameserver 10.0.2.3");

	/* The guest fetches a file from the host's loopback through the NAT. */
	char cmd[256], want[128];
	snprintf(cmd, sizeof(cmd), "wget -q -O /tmp/f http://10.0.2.2:%u/file && sha256sum /tmp/f", http_port);
	snprintf(want, sizeof(want), "%s  /tmp/f", sha);
	check_output("wget from a server on the host's 127.0.0.1 via 10.0.2.2 (300 KiB, sha256 matches)", cmd, want);
	CHECK(http_served == 1, "the host's HTTP server served the file once (%d)", http_served);
	snprintf(cmd, sizeof(cmd), "wget -q -O /tmp/g http://10.0.2.2:%u/nothing 2>/dev/null; echo $?", http_port);
	check_output("wget of a missing path fails (the 404 crosses the NAT)", cmd, "1");

	/* A server in the guest reached from the host through the forward. */
	check_output("nc listens on 8080 in the guest",
		     "echo hello-from-guest >/tmp/msg; (nc -l -p 8080 </tmp/msg >/tmp/nc.out 2>&1 &); "
		     "i=0; while ! netstat -ltn 2>/dev/null | grep -q ':8080 ' && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done; "
		     "echo listening",
		     "listening");
	char buf[256];
	ssize_t got = tcp_exchange(fwd_port, "ping-from-host\n", buf, sizeof(buf));
	CHECK(got == 17 && !strcmp(buf, "hello-from-guest\n"), "host -> 127.0.0.1:%u -> guest:8080 answers (%zd bytes: '%.40s')",
	      fwd_port, got, got > 0 ? buf : "");
	check_output("the guest's server received the host's data",
		     "i=0; while [ ! -s /tmp/nc.out ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done; cat /tmp/nc.out",
		     "ping-from-host");

	int st;
	char *dm = guest_run("dmesg | grep -i -E 'virtio|eth[0-9]' | grep -i -E 'warn|error|fail|bug' ; true", &st);
	CHECK(dm && !dm[0], "dmesg: no virtio/net warnings or errors%s%s", dm && dm[0] ? ": " : "", dm ? dm : " (no answer)");
	free(dm);

	bool exited = false;
	if (!vm.dead) {
		session_send(&vm, "poweroff -f\n");
		exited = session_wait_exit(&vm, POWEROFF_TIMEOUT_S);
	}
	CHECK(exited && WIFEXITED(vm.status) && WEXITSTATUS(vm.status) == 0, "poweroff -f ends softvm with status 0");
	if (test_failures)
		fail_tail();
	session_end(&vm);
	TEST_EXIT();
}
