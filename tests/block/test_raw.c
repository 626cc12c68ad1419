/* raw driver: create, size, vectored reads and writes, bounds and alignment errors, discard
 * punching holes, write-zeroes with and without unmap, read-only opens, a file whose size is not
 * a multiple of the sector size, and format probing. */
#include <errno.h>
#include <sys/stat.h>

#include "tests/block/blktest.h"
#include "tests/test.h"

static char err[512];

int main(void)
{
	tmpdir_init("raw");
	const char *p = tpath("d.raw");
	uint64_t size = 4 << 20;
	CHECK(blk_create(p, BLK_FMT_RAW, size, NULL, NULL, 0, err, sizeof(err)) == 0, "create");
	CHECK(blk_create(p, BLK_FMT_RAW, size, "x", NULL, 0, err, sizeof(err)) < 0, "raw refuses a backing file: %s", err);
	struct blk *b;
	CHECK(blk_open(&b, p, BLK_FMT_AUTO, 0, err, sizeof(err)) == 0, "open");
	CHECK(blk_size(b) == size && !strcmp(blk_format_name(b), "raw"), "size and probed format");
	uint8_t *shadow = calloc(1, size), *buf = malloc(size);
	fill(shadow, size, 0, 1);
	struct iovec v[3] = { { shadow, 512 * 3 }, { shadow + 1536, 100 * 512 }, { shadow + 1536 + 51200, size - 1536 - 51200 } };
	CHECK(blk_pwritev(b, 0, v, 3) == 0, "vectored write of the whole disk");
	CHECK(compare_disk(b, shadow, size) < 0, "reads back");
	struct iovec rv[2] = { { buf, 700 }, { buf + 700, 1348 } };
	CHECK(blk_preadv(b, 4096, rv, 2) == 0 && !memcmp(buf, shadow + 4096, 2048), "vectored read with odd pieces");
	CHECK(blk_pread(b, 100, buf, 512) == -EINVAL, "misaligned offset -EINVAL");
	CHECK(blk_pread(b, size - 512, buf, 1024) == -ERANGE, "past the end -ERANGE");
	blk_flush(b);
	struct stat st0, st1;
	stat(p, &st0);
	CHECK(blk_discard(b, 1 << 20, 1 << 20) == 0, "discard");
	stat(p, &st1);
	CHECK(st1.st_blocks < st0.st_blocks && st1.st_size == st0.st_size, "discard punched a hole (%lld -> %lld blocks)",
	      (long long)st0.st_blocks, (long long)st1.st_blocks);
	memset(shadow + (1 << 20), 0, 1 << 20);
	CHECK(blk_write_zeroes(b, 3 << 20, 65536, 0) == 0 && blk_write_zeroes(b, 512, 1024, BLK_ZERO_MAY_UNMAP) == 0,
	      "write zeroes");
	memset(shadow + (3 << 20), 0, 65536);
	memset(shadow + 512, 0, 1024);
	CHECK(compare_disk(b, shadow, size) < 0, "discarded and zeroed ranges read zeros, the rest intact");
	blk_close(b);
	CHECK(blk_open(&b, p, BLK_FMT_RAW, BLK_O_RDONLY, err, sizeof(err)) == 0, "open read-only");
	CHECK(blk_pwrite(b, 0, buf, 512) == -EROFS && blk_write_zeroes(b, 0, 512, 0) == -EROFS, "read-only refuses writes");
	CHECK(compare_disk(b, shadow, size) < 0, "data survives reopen");
	struct blk_check_result res;
	CHECK(blk_check(b, &res, stdout) == -ENOTSUP, "check: raw has no metadata");
	blk_close(b);

	/* 1000-byte file: the last sector is half padding */
	const char *q = tpath("odd.raw");
	FILE *f = fopen(q, "wb");
	fill(buf, 1000, 0, 2);
	fwrite(buf, 1, 1000, f);
	fclose(f);
	CHECK(blk_open(&b, q, BLK_FMT_AUTO, 0, err, sizeof(err)) == 0 && blk_size(b) == 1000, "odd-sized file opens, size 1000");
	uint8_t s2[1024];
	CHECK(blk_pread(b, 0, s2, 1024) == 0 && !memcmp(s2, buf, 1000) && s2[1000] == 0 && s2[1023] == 0,
	      "odd-sized file: tail of the last sector reads zeros");
	CHECK(blk_pread(b, 1024, s2, 512) == -ERANGE, "odd-sized file: next sector is past the end");
	blk_close(b);

	/* a raw file starting with the qcow2 magic is only qcow2 when probed */
	const char *m = tpath("magic.raw");
	blk_create(m, BLK_FMT_RAW, 1 << 20, NULL, NULL, 0, err, sizeof(err));
	patch(m, 0, "QFI\xfb\0\0\0\x03", 8);
	CHECK(blk_open(&b, m, BLK_FMT_RAW, BLK_O_RDONLY, err, sizeof(err)) == 0 && !strcmp(blk_format_name(b), "raw"),
	      "explicit raw format is not probed");
	blk_close(b);
	CHECK(blk_open(&b, m, BLK_FMT_AUTO, BLK_O_RDONLY, err, sizeof(err)) < 0, "probed as qcow2 and refused: %s", err);
	CHECK(blk_open(&b, tpath("none"), BLK_FMT_AUTO, 0, err, sizeof(err)) == -ENOENT && strstr(err, "none"),
	      "missing file: %s", err);
	free(shadow);
	free(buf);
	tmpdir_cleanup();
	TEST_EXIT();
}
