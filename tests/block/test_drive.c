/*
 * --drive parsing and opening: accepted forms (keys in any order, ",," escapes, bare readonly,
 * format names), rejected ones with their messages (unknown keys, duplicates, missing file, bad
 * format, bad booleans, long serials, if= other than virtio), and the image lock: a writable
 * drive excludes every other opening of the file, read-only drives share it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/drive.h"
#include "tests/test.h"

static bool parses(const char *spec, struct drive_config *d)
{
	char err[256];
	int r = drive_parse(spec, d, err, sizeof(err));
	if (r)
		printf("  '%s': %s\n", spec, err);
	return r == 0;
}

/* Rejected, with a message containing want. */
static void rejects(const char *spec, const char *want)
{
	struct drive_config d;
	char err[256] = "";
	int r = drive_parse(spec, &d, err, sizeof(err));
	CHECK(r == -EINVAL && strstr(err, want), "'%s' rejected: %s", spec, err);
}

int main(void)
{
	struct drive_config d;
	CHECK(parses("file=disk.img", &d) && !strcmp(d.path, "disk.img") && d.format == BLK_FMT_AUTO && !d.read_only &&
	      !d.serial[0], "file= alone: probed format, writable");
	CHECK(parses("format=qcow2,readonly=on,file=/a/b.qcow2,serial=ABC,if=virtio", &d) && !strcmp(d.path, "/a/b.qcow2") &&
	      d.format == BLK_FMT_QCOW2 && d.read_only && !strcmp(d.serial, "ABC"), "all keys in any order");
	CHECK(parses("file=a,,b,,,format=raw", &d) && !strcmp(d.path, "a,b,") && d.format == BLK_FMT_RAW,
	      ",, is a comma inside a value");
	CHECK(parses("file=x,readonly", &d) && d.read_only, "bare readonly means on");
	CHECK(parses("file=x,readonly=off", &d) && !d.read_only, "readonly=off");
	CHECK(parses("file=x,readonly=yes", &d) && d.read_only, "readonly=yes");
	CHECK(parses("file=x,serial=12345678901234567890", &d) && strlen(d.serial) == 20, "20-character serial");

	rejects("format=raw", "no file=");
	rejects("", "no file=");
	rejects("file=", "empty path");
	rejects("file", "needs a value");
	rejects("file=a,file=b", "given twice");
	rejects("file=a,format=vmdk", "format=vmdk: expected raw or qcow2");
	rejects("file=a,readonly=maybe", "readonly=maybe: expected on or off");
	rejects("file=a,cache=none", "unknown key 'cache'");
	rejects("file=a,if=ide", "only if=virtio");
	rejects("file=a,serial=123456789012345678901", "at most 20 characters");

	/* Opening and locking. */
	char path[] = "/tmp/softvm-test-drive-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, 1 << 20) < 0) {
		CHECK(0, "temporary image");
		TEST_EXIT();
	}
	close(fd);
	char err[512];
	struct drive_config rw = { .format = BLK_FMT_AUTO }, ro = { .format = BLK_FMT_AUTO, .read_only = true };
	snprintf(rw.path, sizeof(rw.path), "%s", path);
	snprintf(ro.path, sizeof(ro.path), "%s", path);
	struct drive a, b, c;
	int r = drive_open(&rw, &a, err, sizeof(err));
	CHECK(r == 0 && a.blk && a.probed_raw && blk_size(a.blk) == 1 << 20, "writable drive opens, probed raw");
	r = drive_open(&rw, &b, err, sizeof(err));
	CHECK(r < 0 && strstr(err, "in use") && strstr(err, path), "second writable opening refused: %s", err);
	r = drive_open(&ro, &b, err, sizeof(err));
	CHECK(r < 0 && strstr(err, "in use"), "read-only opening of a written image refused: %s", err);
	blk_close(a.blk);
	drive_unlock(&a);
	r = drive_open(&ro, &b, err, sizeof(err));
	int r2 = drive_open(&ro, &c, err, sizeof(err));
	CHECK(r == 0 && r2 == 0 && blk_read_only(b.blk), "two read-only openings share the image");
	r = drive_open(&rw, &a, err, sizeof(err));
	CHECK(r < 0 && strstr(err, "in use"), "writable opening of a shared read-only image refused");
	blk_close(b.blk);
	drive_unlock(&b);
	blk_close(c.blk);
	drive_unlock(&c);
	struct drive_config fmt = rw;
	fmt.format = BLK_FMT_RAW;
	r = drive_open(&fmt, &a, err, sizeof(err));
	CHECK(r == 0 && !a.probed_raw, "format=raw given: not a probed raw image");
	blk_close(a.blk);
	drive_unlock(&a);
	unlink(path);

	struct drive_config missing = { .path = "/nonexistent/softvm.img" };
	r = drive_open(&missing, &a, err, sizeof(err));
	CHECK(r == -ENOENT && strstr(err, "/nonexistent/softvm.img") && strstr(err, "No such file"),
	      "missing image: %s", err);
	TEST_EXIT();
}
