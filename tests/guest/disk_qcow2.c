/*
 * Integration test: disks that persist. Creates a qcow2 image with `softvm img create`, boots the
 * default guest (guest/, scripts/guest-image.sh) with it as --drive (format probed) and a raw
 * image as a second, read-only drive; in the guest: the disks' sizes, serials and read-only flags
 * as Linux reports them, mke2fs on /dev/vda, files written (known text and random data whose
 * checksum is noted), fstrim (discard), sync, `poweroff -f`. Then `softvm img check` and
 * `qemu-img check` (Debian's qemu-utils, the reference implementation) must both find the image
 * clean. A second boot mounts the file system and reads the files back, checks the checksums,
 * writes more and powers off; both checks run again, and the image opens in `qemu-img` with the
 * written data where the guest put it (read back through `qemu-img dd`).
 *
 * The read-only drive holds a pattern written on the host: the guest reads it back, and its
 * attempt to write is refused (the image is unchanged afterwards).
 *
 * Not a timing test: generous upper bounds. Environment: SOFTVM (default ./softvm),
 * SOFTVM_GUEST_DIR (default guest), QEMU_IMG (default qemu-img). On failure the end of the console
 * log is printed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/guest/session.h"
#include "tests/test.h"

#define BOOT_TIMEOUT_S 300.0
#define CMD_TIMEOUT_S 120.0
#define POWEROFF_TIMEOUT_S 60.0
#define TAIL_BYTES 3000
#define RO_SECTORS 64

static struct session vm;
static bool guest_dead;
static const char *softvm;

/* Runs argv with stdout and stderr into out (NUL-terminated, truncated to len); returns the exit
 * status, or -1 if it could not run or was killed. */
static int run_cmd(char *const argv[], char *out, size_t len)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	size_t n = 0;
	for (;;) {
		char tmp[1024];
		ssize_t r = read(p[0], tmp, sizeof(tmp));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		for (ssize_t k = 0; k < r; k++)
			if (n + 1 < len)
				out[n++] = tmp[k];
	}
	out[n] = 0;
	close(p[0]);
	int st;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void fail_tail(void)
{
	static int printed;
	if (printed++)
		return;
	printf("  console log (last %d bytes):\n", TAIL_BYTES);
	session_print_tail(&vm, TAIL_BYTES);
}

/* Runs cmd in the guest's shell; returns its output (carriage returns removed, malloc'd) with the
 * exit status in *status, or NULL on timeout. Output is framed by markers typed as "@N""@" so the
 * echoed command line never matches (as tests/guest/boot_busybox.c does). */
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
	char *t = malloc((size_t)end - begin + 1), *q = t;
	for (size_t k = begin; k < (size_t)end; k++)
		if (vm.log[k] != '\r')
			*q++ = vm.log[k];
	*q = 0;
	return t;
}

/* Runs cmd; checks it succeeded and printed exactly want (plus a final newline). want NULL: only
 * success. */
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
	bool ok = st == 0 && (!want || !strcmp(out, want));
	CHECK(ok, "%s", name);
	if (!ok)
		printf("  '%s' printed '%s' with status %d%s%s\n", cmd, out, st, want ? ", expected " : "", want ? want : "");
	free(out);
	return ok;
}

/* Output of a command that must succeed (malloc'd, trailing newline removed), or NULL. */
static char *guest_value(const char *cmd)
{
	int st;
	char *out = guest_run(cmd, &st);
	if (!out || st != 0) {
		printf("  '%s' failed (status %d): %s\n", cmd, out ? st : -1, out ? out : "(no answer)");
		free(out);
		return NULL;
	}
	size_t n = strlen(out);
	if (n && out[n - 1] == '\n')
		out[n - 1] = 0;
	return out;
}

static bool boot(const char *qcow2, const char *ro_img)
{
	char d1[4200], d2[4200];
	snprintf(d1, sizeof(d1), "file=%s", qcow2);
	snprintf(d2, sizeof(d2), "file=%s,format=raw,readonly=on,serial=softvm-ro-disk", ro_img);
	char *argv[] = { (char *)softvm, "run", "--console", "stdio", "--drive", d1, "--drive", d2, NULL };
	guest_dead = false;
	int r = session_start(&vm, argv);
	if (r < 0) {
		CHECK(0, "start %s: %s", softvm, strerror(-r));
		return false;
	}
	long banner = session_expect(&vm, "softvm guest:", BOOT_TIMEOUT_S);
	long prompt = banner < 0 ? -1 : session_expect(&vm, "# ", CMD_TIMEOUT_S);
	CHECK(prompt >= 0, "guest with two drives reaches the shell (%.1f s)", (session_now_ns() - vm.start_ns) / 1e9);
	if (prompt < 0) {
		fail_tail();
		session_end(&vm);
		return false;
	}
	return true;
}

static void power_off(const char *when)
{
	bool exited = false;
	if (!guest_dead) {
		session_send(&vm, "poweroff -f\n");
		exited = session_wait_exit(&vm, POWEROFF_TIMEOUT_S);
	}
	CHECK(exited && WIFEXITED(vm.status) && WEXITSTATUS(vm.status) == 0, "%s: poweroff -f ends softvm with status 0",
	      when);
	if (test_failures)
		fail_tail();
	session_end(&vm);
}

/* `softvm img check` and `qemu-img check` both find the image clean. */
static void check_image(const char *img, const char *when)
{
	char out[4096];
	char *a[] = { (char *)softvm, "img", "check", (char *)img, NULL };
	int st = run_cmd(a, out, sizeof(out));
	CHECK(st == 0, "%s: softvm img check is clean (status %d)", when, st);
	if (st)
		printf("  %s", out);
	const char *qi = getenv("QEMU_IMG");
	char *q[] = { (char *)(qi && *qi ? qi : "qemu-img"), "check", (char *)img, NULL };
	st = run_cmd(q, out, sizeof(out));
	CHECK(st == 0 && strstr(out, "No errors were found"), "%s: qemu-img check agrees (status %d)", when, st);
	if (st || !strstr(out, "No errors were found"))
		printf("  %s", out);
}

int main(void)
{
	softvm = getenv("SOFTVM");
	const char *dir = getenv("SOFTVM_GUEST_DIR");
	if (!softvm || !*softvm)
		softvm = "./softvm";
	if (!dir || !*dir)
		dir = "guest";
	char path[4096];
	snprintf(path, sizeof(path), "%s/vmlinuz", dir);
	if (access(path, R_OK) != 0) {
		CHECK(0, "default guest present (%s missing: run scripts/guest-image.sh)", path);
		TEST_EXIT();
	}
	setenv("SOFTVM_GUEST_DIR", dir, 1);

	char tmp[] = "/tmp/softvm-disk-test-XXXXXX";
	if (!mkdtemp(tmp)) {
		CHECK(0, "temporary directory");
		TEST_EXIT();
	}
	char qcow2[4200], ro_img[4200], out[4096];
	snprintf(qcow2, sizeof(qcow2), "%s/disk.qcow2", tmp);
	snprintf(ro_img, sizeof(ro_img), "%s/ro.img", tmp);

	char *create[] = { (char *)softvm, "img", "create", "-f", "qcow2", qcow2, "64M", NULL };
	int st = run_cmd(create, out, sizeof(out));
	CHECK(st == 0, "softvm img create -f qcow2 %s 64M (status %d)", qcow2, st);
	if (st) {
		printf("  %s", out);
		TEST_EXIT();
	}
	/* The read-only disk: sector k holds the byte k + 1 repeated. */
	static uint8_t pattern[RO_SECTORS * 512];
	for (int k = 0; k < RO_SECTORS; k++)
		memset(pattern + 512 * k, k + 1, 512);
	int fd = open(ro_img, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, pattern, sizeof(pattern)) != (ssize_t)sizeof(pattern) || close(fd) < 0) {
		CHECK(0, "write %s", ro_img);
		TEST_EXIT();
	}

	/* ---- first boot: make a file system and write files ---- */
	if (!boot(qcow2, ro_img))
		TEST_EXIT();
	check_output("vda has 64 MiB (131072 sectors)", "cat /sys/block/vda/size", "131072");
	check_output("vda is writable with a write-back cache", "cat /sys/block/vda/ro /sys/block/vda/queue/write_cache",
		     "0\nwrite back");
	check_output("vda discards in 64 KiB clusters (qcow2)", "cat /sys/block/vda/queue/discard_granularity", "65536");
	check_output("vdb is read-only with its serial", "cat /sys/block/vdb/ro /sys/block/vdb/size; cat /sys/block/vdb/serial; echo",
		     "1\n64\nsoftvm-ro-disk");
	check_output("vdb sector 5 holds the host's pattern", "dd if=/dev/vdb bs=512 skip=5 count=1 2>/dev/null | od -An -tx1 | head -1",
		     " 06 06 06 06 06 06 06 06 06 06 06 06 06 06 06 06");
	{
		int s;
		char *o = guest_run("echo x | dd of=/dev/vdb bs=512 count=1 conv=sync,fsync 2>&1", &s);
		CHECK(o && s != 0, "writing to read-only vdb fails in the guest (status %d)", o ? s : -1);
		free(o);
	}
	check_output("mke2fs on vda and mount it",
		     "mke2fs -q /dev/vda >/dev/null 2>&1 && mkdir -p /mnt && mount -t ext2 /dev/vda /mnt && echo ok", "ok");
	check_output("write files",
		     "seq 1 30000 > /mnt/seq.txt && mkdir -p /mnt/d/e && echo 'softvm disk test' > /mnt/d/e/hello && "
		     "dd if=/dev/urandom of=/mnt/random.bin bs=4k count=512 2>/dev/null && "
		     "dd if=/dev/urandom of=/mnt/scratch bs=4k count=1024 2>/dev/null && echo ok", "ok");
	char *sum = guest_value("sha256sum /mnt/random.bin | cut -d' ' -f1");
	char *seqsum = guest_value("sha256sum /mnt/seq.txt | cut -d' ' -f1");
	CHECK(sum && strlen(sum) == 64 && seqsum && strlen(seqsum) == 64, "checksums of the written files");
	/* Deleting a file and trimming sends DISCARD requests for its clusters. */
	check_output("rm and fstrim (discard)", "sync && rm /mnt/scratch && fstrim /mnt && echo ok", "ok");
	check_output("sync", "sync && echo ok", "ok");
	check_output("no I/O errors or warnings in dmesg",
		     "dmesg | grep -E 'I/O error|blk_update_request|critical|WARNING|BUG' | wc -l", "0");
	power_off("first boot");
	check_image(qcow2, "after the first boot");

	/* ---- second boot: read everything back ---- */
	if (boot(qcow2, ro_img)) {
		check_output("mount vda again", "mkdir -p /mnt && mount -t ext2 /dev/vda /mnt && echo ok", "ok");
		char want[200];
		snprintf(want, sizeof(want), "%s", sum ? sum : "?");
		check_output("random.bin reads back with its checksum", "sha256sum /mnt/random.bin | cut -d' ' -f1", want);
		snprintf(want, sizeof(want), "%s", seqsum ? seqsum : "?");
		check_output("seq.txt reads back with its checksum", "sha256sum /mnt/seq.txt | cut -d' ' -f1", want);
		check_output("seq.txt ends with 30000", "tail -1 /mnt/seq.txt", "30000");
		check_output("nested file reads back", "cat /mnt/d/e/hello", "softvm disk test");
		check_output("scratch file stays deleted", "ls /mnt/scratch 2>/dev/null || echo gone", "gone");
		check_output("write more and unmount",
			     "echo second boot > /mnt/second && sync && umount /mnt && echo ok", "ok");
		/* Raw marker at the last sector of the disk, for qemu-img to find. */
		check_output("write a marker in vda's last sector",
			     "echo softvm-marker-end | dd of=/dev/vda bs=512 seek=131071 count=1 conv=sync,fsync 2>/dev/null "
			     "&& echo ok", "ok");
		power_off("second boot");
	}
	check_image(qcow2, "after the second boot");

	/* qemu-img reads the marker where the guest wrote it (converting the image to raw). */
	char raw[4300];
	snprintf(raw, sizeof(raw), "%s/converted.raw", tmp);
	const char *qi = getenv("QEMU_IMG");
	char *conv[] = { (char *)(qi && *qi ? qi : "qemu-img"), "convert", "-O", "raw", qcow2, raw, NULL };
	st = run_cmd(conv, out, sizeof(out));
	char last[64] = "";
	fd = open(raw, O_RDONLY);
	ssize_t n = fd >= 0 ? pread(fd, last, 17, 131071ull * 512) : -1;
	if (fd >= 0)
		close(fd);
	CHECK(st == 0 && n == 17 && !memcmp(last, "softvm-marker-end", 17),
	      "qemu-img convert finds the guest's marker in the last sector (status %d)", st);
	if (st)
		printf("  %s", out);

	/* The read-only image is untouched. */
	static uint8_t after[sizeof(pattern)];
	fd = open(ro_img, O_RDONLY);
	n = fd >= 0 ? read(fd, after, sizeof(after)) : -1;
	if (fd >= 0)
		close(fd);
	CHECK(n == (ssize_t)sizeof(after) && !memcmp(after, pattern, sizeof(pattern)), "read-only image unchanged");

	free(sum);
	free(seqsum);
	unlink(qcow2);
	unlink(ro_img);
	unlink(raw);
	rmdir(tmp);
	TEST_EXIT();
}
