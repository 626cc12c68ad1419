/*
 * Integration test: virtio-console with Debian's virtio_console module, and the serial console
 * on a Unix socket. Boots the default guest with
 *   --console socket:DIR/serial   (this test drives the shell through that socket, not stdio)
 *   --device virtio-console,socket=DIR/hvc,cols=100,rows=30
 *   --device virtserialport,name=org.softvm.agent.0,socket=DIR/agent
 * and checks, as a tool attached to the sockets:
 *   - the guest's shell over the serial socket (boot messages, commands, the power-off message);
 *   - the PCI function 1af4:1043, /dev/hvc0 and the named port's sysfs name;
 *   - the port states the driver keeps (debugfs): console port, host_connected following the
 *     tool attaching and leaving, guest_connected while a program has the port open;
 *   - data both ways on both ports (echo > /dev/hvc0, echo > /dev/vport0p1, head -n1 on each);
 *   - the console size from RESIZE (stty size on hvc0); no virtio warnings in dmesg.
 *
 * Environment: SOFTVM (default ./softvm), SOFTVM_GUEST_DIR (default guest). The limits are generous
 * upper bounds, not timings.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/guest/session.h"
#include "tests/test.h"

#define BOOT_TIMEOUT_S 300.0
#define CMD_TIMEOUT_S 120.0
#define IO_TIMEOUT_S 30.0
#define TAIL_BYTES 3000

static struct session vm;
static bool guest_dead;
static char dir[64], serial_path[128], hvc_path[128], agent_path[128];

static int connect_unix(const char *path, double timeout_s)
{
	uint64_t deadline = session_now_ns() + (uint64_t)(timeout_s * 1e9);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	do {
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return s;
		if (s >= 0)
			close(s);
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	} while (session_now_ns() < deadline);
	return -1;
}

/* Reads from fd until needle has arrived (everything read is kept in buf). */
static bool sock_expect(int fd, char *buf, size_t cap, const char *needle, double timeout_s)
{
	uint64_t deadline = session_now_ns() + (uint64_t)(timeout_s * 1e9);
	size_t len = strlen(buf);
	while (!memmem(buf, len, needle, strlen(needle))) {
		if (session_now_ns() >= deadline || len + 1 >= cap)
			return false;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 200) <= 0)
			continue;
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			return false;
		len += (size_t)n;
		buf[len] = 0;
	}
	return true;
}

static bool sock_send(int fd, const char *s)
{
	return write(fd, s, strlen(s)) == (ssize_t)strlen(s);
}

/* Runs cmd in the guest's shell; returns its output (malloc'd, no CRs), NULL on timeout. The
 * output is framed by markers typed as "@N""@" so the echoed command line never matches. */
static char *guest_run(const char *cmd)
{
	static unsigned seq;
	char line[1024], mark[32];
	if (guest_dead)
		return NULL;
	seq++;
	snprintf(line, sizeof(line), "echo @%u\"\"@; %s; echo @%u\"\"@\n", seq, cmd, seq);
	snprintf(mark, sizeof(mark), "@%u@", seq);
	if (session_send(&vm, line) < 0)
		return NULL;
	guest_dead = true;
	if (session_expect(&vm, mark, CMD_TIMEOUT_S) < 0 || session_expect(&vm, "\n", CMD_TIMEOUT_S) < 0)
		return NULL;
	size_t begin = vm.mark;
	long end = session_expect(&vm, mark, CMD_TIMEOUT_S);
	if (end < 0 || session_expect(&vm, "# ", CMD_TIMEOUT_S) < 0)
		return NULL;
	guest_dead = false;
	char *t = malloc((size_t)end - begin + 1), *p = t;
	for (size_t k = begin; k < (size_t)end; k++)
		if (vm.log[k] != '\r')
			*p++ = vm.log[k];
	*p = 0;
	size_t n = strlen(t);
	while (n && t[n - 1] == '\n')
		t[--n] = 0;
	return t;
}

static bool check_output(const char *name, const char *cmd, const char *want)
{
	char *out = guest_run(cmd);
	bool ok = out && !strcmp(out, want);
	CHECK(ok, "%s", name);
	if (!ok)
		printf("  '%s' printed '%s', expected '%s'\n", cmd, out ? out : "(no answer)", want);
	free(out);
	return ok;
}

/* Runs cmd in the guest until it prints want (the driver handles control messages in a work
 * queue, so a state change shows up a moment after the device sent it). */
static bool wait_output(const char *name, const char *cmd, const char *want)
{
	char *out = NULL;
	for (int k = 0; k < 50 && !guest_dead; k++) {
		free(out);
		out = guest_run(cmd);
		if (out && !strcmp(out, want))
			break;
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	bool ok = out && !strcmp(out, want);
	CHECK(ok, "%s", name);
	if (!ok)
		printf("  '%s' printed '%s', expected '%s'\n", cmd, out ? out : "(no answer)", want);
	free(out);
	return ok;
}

#define DBG "/sys/kernel/debug/virtio-ports/"

int main(void)
{
	const char *softvm = getenv("SOFTVM");
	if (!softvm || !*softvm)
		softvm = "./softvm";
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/softvm-vcon-XXXXXX");
	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp: %s", strerror(errno));
		TEST_EXIT();
	}
	snprintf(serial_path, sizeof(serial_path), "%s/serial", dir);
	snprintf(hvc_path, sizeof(hvc_path), "%s/hvc", dir);
	snprintf(agent_path, sizeof(agent_path), "%s/agent", dir);
	char console_opt[160], hvc_opt[200], agent_opt[200];
	snprintf(console_opt, sizeof(console_opt), "socket:%s", serial_path);
	snprintf(hvc_opt, sizeof(hvc_opt), "virtio-console,socket=%s,cols=100,rows=30", hvc_path);
	snprintf(agent_opt, sizeof(agent_opt), "virtserialport,name=org.softvm.agent.0,socket=%s", agent_path);
	char *argv[] = { (char *)softvm, "run", "--console", console_opt, "--device", hvc_opt, "--device", agent_opt, NULL };
	int r = session_start(&vm, argv);
	if (r < 0) {
		CHECK(0, "start %s: %s", softvm, strerror(-r));
		TEST_EXIT();
	}
	/* The serial console is the socket: the session reads and types there; softvm's own stdout
	 * and stderr stay on the pipes (read at the end). */
	int pipe_in = vm.in, pipe_out = vm.out;
	int serial = connect_unix(serial_path, 30.0);
	CHECK(serial >= 0, "serial console socket accepts a tool");
	if (serial < 0) {
		session_end(&vm);
		TEST_EXIT();
	}
	vm.in = vm.out = serial;
	long banner = session_expect(&vm, "softvm guest:", BOOT_TIMEOUT_S);
	CHECK(banner >= 0 && session_expect(&vm, "# ", CMD_TIMEOUT_S) >= 0,
	      "boot messages and the shell over the serial socket");
	CHECK(strstr(vm.log, "Linux version") != NULL, "kernel log from the first line on (the tool attached early)");
	if (banner < 0) {
		guest_dead = true;
		goto out;
	}

	check_output("PCI function 1af4:1043 bound to virtio-pci",
		     "d=/sys/bus/pci/devices/0000:00:03.0; cat $d/vendor $d/device; basename $(readlink $d/driver)",
		     "0x1af4\n0x1043\nvirtio-pci");
	check_output("ports vport0p0 and vport0p1, /dev/hvc0", "ls -1 /sys/class/virtio-ports; ls /dev/hvc0",
		     "vport0p0\nvport0p1\n/dev/hvc0");
	check_output("named port's name in sysfs", "cat /sys/class/virtio-ports/vport0p1/name", "org.softvm.agent.0");
	check_output("debugfs mounted", "mount -t debugfs none /sys/kernel/debug && echo ok", "ok");
	check_output("port 0 is the console", "grep is_console " DBG "vport0p0", "is_console: yes");
	check_output("port 1 is not", "grep is_console " DBG "vport0p1", "is_console: no");
	check_output("no tool on the agent port yet: host_connected 0", "grep host_connected " DBG "vport0p1",
		     "host_connected: 0");
	/* hvc applies the size from a work item when the tty opens: ask while holding it open. */
	wait_output("console size from RESIZE", "(sleep 1; stty size) < /dev/hvc0", "30 100");

	int hvc = connect_unix(hvc_path, 5.0), agent = connect_unix(agent_path, 5.0);
	CHECK(hvc >= 0 && agent >= 0, "tools attach to the port sockets");
	if (hvc < 0 || agent < 0)
		goto out;
	wait_output("tool attached: host_connected 1 (PORT_OPEN from the device)", "grep host_connected " DBG "vport0p1",
		    "host_connected: 1");

	char buf[4096] = "";
	check_output("guest writes /dev/hvc0", "echo hello-from-hvc0 > /dev/hvc0 && echo written", "written");
	CHECK(sock_expect(hvc, buf, sizeof(buf), "hello-from-hvc0", IO_TIMEOUT_S), "the tool reads it on the console socket");
	buf[0] = 0;
	check_output("guest writes the named port", "echo hello-from-agent-port > /dev/vport0p1 && echo written",
		     "written");
	CHECK(sock_expect(agent, buf, sizeof(buf), "hello-from-agent-port\n", IO_TIMEOUT_S),
	      "the tool reads it on the agent socket");

	/* Tool to guest on the named port: a reader opens it (PORT_OPEN from the driver). */
	free(guest_run("head -n1 /dev/vport0p1 > /tmp/agent.in & true"));
	wait_output("guest program opened the port: guest_connected 1", "grep guest_connected " DBG "vport0p1",
		    "guest_connected: 1");
	CHECK(sock_send(agent, "line-from-the-tool\nsecond line\n"), "the tool writes to the agent socket");
	check_output("the guest reads the tool's line (head -n1 /dev/vport0p1)", "wait; cat /tmp/agent.in",
		     "line-from-the-tool");
	wait_output("reader gone: guest_connected 0", "grep guest_connected " DBG "vport0p1", "guest_connected: 0");

	/* Tool to guest on the console port (a tty: it echoes what it receives). */
	free(guest_run("(stty -echo; head -n1) < /dev/hvc0 > /tmp/hvc.in & true"));
	struct timespec ts = { 0, 500 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	CHECK(sock_send(hvc, "typed-on-hvc0\n"), "the tool types on the console socket");
	check_output("the guest reads it from /dev/hvc0", "wait; cat /tmp/hvc.in", "typed-on-hvc0");

	/* The tool leaves: the driver hears PORT_OPEN(0); a read sees end of file at once. */
	close(agent);
	agent = -1;
	wait_output("tool left: host_connected 0", "grep host_connected " DBG "vport0p1", "host_connected: 0");
	check_output("read with no tool attached ends at once", "cat /dev/vport0p1 | wc -c", "0");
	/* A new tool attaches and is heard. */
	agent = connect_unix(agent_path, 5.0);
	wait_output("another tool attaches: host_connected 1", "grep host_connected " DBG "vport0p1", "host_connected: 1");
	buf[0] = 0;
	check_output("guest writes again", "echo again > /dev/vport0p1 && echo written", "written");
	CHECK(agent >= 0 && sock_expect(agent, buf, sizeof(buf), "again\n", IO_TIMEOUT_S), "the new tool reads it");
	check_output("bytes counted by the driver",
		     "echo $(grep -c 'bytes_received: [1-9]' " DBG "vport0p0 " DBG "vport0p1 | cut -d: -f2)", "1 1");
	check_output("no virtio warnings in dmesg",
		     "dmesg | grep -i -e virtio -e hvc | grep -ci -e warn -e error -e fail -e invalid", "0");
	if (hvc >= 0)
		close(hvc);
	if (agent >= 0)
		close(agent);

out:
	if (!guest_dead) {
		session_send(&vm, "poweroff -f\n");
		CHECK(session_expect(&vm, "softvm: guest powered off", 60.0) >= 0, "power-off message on the serial socket");
	}
	vm.in = pipe_in;
	vm.out = pipe_out;
	bool exited = session_wait_exit(&vm, 60.0);
	CHECK(exited && WIFEXITED(vm.status) && WEXITSTATUS(vm.status) == 0, "softvm exits with status 0");
	if (test_failures)
		session_print_tail(&vm, TAIL_BYTES); /* the serial console, then softvm's own output */
	close(serial);
	session_end(&vm);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("  could not remove %s\n", dir);
	TEST_EXIT();
}
