/*
 * libFuzzer target for the qcow2 parser and request paths: the input is an image file (in a
 * memfd). It is opened read-write without backing files, read at a few places, written (which
 * exercises allocation, refcount updates and copy-on-write over whatever the tables say),
 * discarded, flushed, and checked. Any crash, sanitizer report or leak is a bug: crafted images
 * must only ever produce errors. Built and run by `make fuzz` (clang -fsanitize=fuzzer).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "block/block.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-qcow2", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	char path[64], err[256];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct blk *b;
	if (blk_open(&b, path, BLK_FMT_QCOW2, BLK_O_NO_BACKING, err, sizeof(err)) == 0) {
		static uint8_t buf[1 << 17];
		uint64_t sz = blk_size(b), lim = (sz + 511) & ~511ull;
		uint64_t offs[4] = { 0, lim / 2 & ~511ull, lim > sizeof(buf) ? (lim - sizeof(buf)) : 0, 65536 };
		for (int i = 0; i < 4; i++) {
			uint64_t len = lim - offs[i] < sizeof(buf) ? lim - offs[i] : sizeof(buf);
			if (offs[i] < lim)
				blk_pread(b, offs[i], buf, len);
		}
		memset(buf, 0xa5, sizeof(buf));
		for (int i = 0; i < 4; i++) {
			uint64_t len = lim - offs[i] < 4096 ? lim - offs[i] : 4096;
			if (offs[i] < lim && len) {
				blk_pwrite(b, offs[i], buf, len);
				blk_pread(b, offs[i], buf, len);
			}
		}
		if (lim >= 65536 * 2) {
			blk_write_zeroes(b, 0, 65536 * 2, 0);
			blk_discard(b, 65536, 65536);
		}
		blk_flush(b);
		FILE *devnull = fopen("/dev/null", "w");
		if (devnull) {
			struct blk_check_result res;
			blk_check(b, &res, devnull);
			fclose(devnull);
		}
		blk_close(b);
	}
	close(fd);
	return 0;
}
