/*
 * Integration test: virtio-rng over virtio-pci with Debian's own modules. Boots the default guest
 * with --device virtio-rng and checks over the serial console:
 *   - the PCI function 1af4:1044 is bound to virtio-pci and the hw_random core uses virtio_rng.0;
 *   - /dev/hwrng delivers 64 KiB, not constant;
 *   - the device interrupts through MSI-X (virtio0-config / virtio0-input in /proc/interrupts,
 *     the input vector counting);
 *   - dmesg has no virtio warnings; poweroff ends softvm with status 0.
 *
 * Environment: SOFTVM (default ./softvm), SOFTVM_GUEST_DIR (default guest). The limits are generous
 * upper bounds, not timings.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/guest/session.h"
#include "tests/test.h"

#define BOOT_TIMEOUT_S 300.0
#define CMD_TIMEOUT_S 120.0
#define TAIL_BYTES 3000

static struct session vm;

static char *guest_run(const char *cmd)
{
	return session_run(&vm, cmd, NULL, CMD_TIMEOUT_S, "# ");
}

static void check_output(const char *name, const char *cmd, const char *want)
{
	char *out = guest_run(cmd);
	if (out) {
		size_t n = strlen(out);
		while (n && out[n - 1] == '\n')
			out[--n] = 0;
	}
	bool ok = out && !strcmp(out, want);
	CHECK(ok, "%s", name);
	if (!ok)
		printf("  '%s' printed '%s', expected '%s'\n", cmd, out ? out : "(no answer)", want);
	free(out);
}

int main(void)
{
	const char *softvm = getenv("SOFTVM");
	if (!softvm || !*softvm)
		softvm = "./softvm";
	signal(SIGPIPE, SIG_IGN);
	char *argv[] = { (char *)softvm, "run", "--console", "stdio", "--device", "virtio-rng", NULL };
	int r = session_start(&vm, argv);
	if (r < 0) {
		CHECK(0, "start %s: %s", softvm, strerror(-r));
		TEST_EXIT();
	}
	long banner = session_expect(&vm, "softvm guest:", BOOT_TIMEOUT_S);
	CHECK(banner >= 0 && session_expect(&vm, "# ", CMD_TIMEOUT_S) >= 0, "guest reaches the shell with virtio-rng");
	if (vm.dead || banner < 0) {
		session_print_tail(&vm, TAIL_BYTES);
		session_end(&vm);
		TEST_EXIT();
	}
	check_output("PCI function 1af4:1044 bound to virtio-pci",
		     "d=/sys/bus/pci/devices/0000:00:03.0; cat $d/vendor $d/device; basename $(readlink $d/driver)",
		     "0x1af4\n0x1044\nvirtio-pci");
	check_output("hw_random uses virtio_rng.0", "cat /sys/devices/virtual/misc/hw_random/rng_current",
		     "virtio_rng.0");
	check_output("/dev/hwrng delivers 64 KiB", "head -c 65536 /dev/hwrng | wc -c", "65536");
	/* 64 KiB of real randomness has (far) more than 200 distinct 16-byte lines of od output. */
	check_output("the bytes are not constant",
		     "n=$(head -c 4096 /dev/hwrng | od -An -tx1 -v | sort -u | wc -l); [ $n -gt 200 ] && echo varied",
		     "varied");
	check_output("MSI-X vectors for config and the queue",
		     "grep -o 'PCI-MSI.*virtio0-[a-z]*' /proc/interrupts | grep -o 'virtio0-[a-z]*'",
		     "virtio0-config\nvirtio0-input");
	check_output("queue interrupts arrive by MSI-X",
		     "n=$(grep virtio0-input /proc/interrupts | awk '{print $2}'); [ $n -gt 0 ] && echo counted",
		     "counted");
	check_output("no virtio warnings in dmesg", "dmesg | grep -i virtio | grep -ci -e warn -e error -e fail",
		     "0");
	session_send(&vm, "poweroff -f\n");
	bool exited = session_wait_exit(&vm, 60.0);
	CHECK(exited && WIFEXITED(vm.status) && WEXITSTATUS(vm.status) == 0, "poweroff ends softvm with status 0");
	if (test_failures)
		session_print_tail(&vm, TAIL_BYTES);
	session_end(&vm);
	TEST_EXIT();
}
