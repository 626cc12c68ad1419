/* qcow2 driver: reads and writes against a shadow copy (single and vectored, across clusters),
 * allocation, refcount table growth, copy-on-write over a backing file, zero clusters, discard,
 * reopen, backing chain loops and depth, refusal of dirty/corrupt/snapshot images for writing,
 * concurrent requests, and a clean consistency check after everything. */
#include <errno.h>
#include <pthread.h>

#include "tests/block/blktest.h"
#include "tests/test.h"

#define OPEN(b, path, flags) blk_open(&(b), (path), BLK_FMT_AUTO, (flags), err, sizeof(err))
static char err[512];

/* Random writes, vectored writes, discards and zeroes on a disk, mirrored in a shadow. */
static void random_ops(struct blk *b, uint8_t *shadow, uint64_t size, unsigned seed, int n, bool has_backing)
{
	for (int i = 0; i < n; i++) {
		uint64_t op = rnd() % 10;
		uint64_t off = (rnd() % (size / 512)) * 512;
		uint64_t len = ((rnd() % 256) + 1) * 512;
		if (rnd() % 4 == 0)
			len = ((rnd() % 8) + 1) * 65536;
		if (off + len > size)
			len = size - off;
		if (op < 6) {
			uint8_t *buf = malloc(len);
			fill(buf, len, off, seed + i);
			int r;
			if (op < 3) {
				r = blk_pwrite(b, off, buf, len);
			} else {
				/* split into odd-sized pieces (sector-multiple total) */
				struct iovec v[5];
				size_t cut[4] = { len / 7, len / 3, len / 2, len - len / 5 }, prev = 0;
				int cnt = 0;
				for (int k = 0; k < 4; k++) {
					if (cut[k] <= prev)
						continue;
					v[cnt].iov_base = buf + prev;
					v[cnt++].iov_len = cut[k] - prev;
					prev = cut[k];
				}
				v[cnt].iov_base = buf + prev;
				v[cnt++].iov_len = len - prev;
				r = blk_pwritev(b, off, v, cnt);
			}
			if (r < 0)
				printf("write %llu+%llu: %d\n", (unsigned long long)off, (unsigned long long)len, r);
			memcpy(shadow + off, buf, len);
			free(buf);
		} else if (op < 8) {
			blk_write_zeroes(b, off, len, op == 7 ? BLK_ZERO_MAY_UNMAP : 0);
			memset(shadow + off, 0, len);
		} else {
			blk_discard(b, off, len);
			/* discarded whole clusters read as zeros (with a backing file: zero clusters) */
			uint8_t *buf = malloc(len);
			blk_pread(b, off, buf, len);
			for (uint64_t k = 0; k < len; k++)
				if (buf[k] && buf[k] != shadow[off + k])
					printf("discard exposed other data at %llu\n", (unsigned long long)(off + k));
			memcpy(shadow + off, buf, len);
			free(buf);
			(void)has_backing;
		}
	}
}

static void test_basic(unsigned cluster, uint64_t size, const char *name)
{
	const char *p = tpath(name);
	CHECK(blk_create(p, BLK_FMT_QCOW2, size, NULL, NULL, cluster, err, sizeof(err)) == 0, "%s: create", name);
	struct blk *b;
	CHECK(OPEN(b, p, 0) == 0, "%s: open (%s)", name, err);
	CHECK(blk_size(b) == size && !strcmp(blk_format_name(b), "qcow2"), "%s: size and format", name);
	uint8_t *shadow = calloc(1, size);
	CHECK(compare_disk(b, shadow, size) < 0, "%s: new image reads zeros", name);

	/* a write straddling two clusters, then partial overwrites inside it */
	uint8_t buf[8192];
	fill(buf, sizeof(buf), 0, 1);
	uint64_t at = cluster * 3 - (cluster >= 8192 ? 4096 : 1024);
	CHECK(blk_pwrite(b, at, buf, sizeof(buf)) == 0, "%s: straddling write", name);
	memcpy(shadow + at, buf, sizeof(buf));
	fill(buf, 512, 0, 2);
	CHECK(blk_pwrite(b, at + 1024, buf, 512) == 0, "%s: overwrite in place", name);
	memcpy(shadow + at + 1024, buf, 512);
	CHECK(compare_disk(b, shadow, size) < 0, "%s: reads back", name);
	CHECK(blk_pread(b, 1, buf, 512) == -EINVAL && blk_pwrite(b, 0, buf, 100) == -EINVAL, "%s: misaligned -EINVAL", name);
	CHECK(blk_pread(b, size, buf, 512) == -ERANGE && blk_pwrite(b, size - 512, buf, 1024) == -ERANGE,
	      "%s: past the end -ERANGE", name);

	random_ops(b, shadow, size, 10, 300, false);
	int64_t bad = compare_disk(b, shadow, size);
	CHECK(bad < 0, "%s: random writes/zeroes/discards match the shadow (first diff %lld)", name, (long long)bad);
	CHECK(blk_flush(b) == 0, "%s: flush", name);
	CHECK(check_clean(b) == 0, "%s: check clean while open", name);
	blk_close(b);

	CHECK(OPEN(b, p, BLK_O_RDONLY) == 0, "%s: reopen read-only", name);
	bad = compare_disk(b, shadow, size);
	CHECK(bad < 0, "%s: data survives reopen (first diff %lld)", name, (long long)bad);
	CHECK(check_clean(b) == 0, "%s: check clean after reopen", name);
	CHECK(blk_pwrite(b, 0, buf, 512) == -EROFS && blk_discard(b, 0, 512) == -EROFS, "%s: read-only refuses writes", name);
	blk_close(b);
	free(shadow);
}

/* 512-byte clusters: a refcount block covers 128 KiB and one table cluster 8 MiB, so filling
 * 24 MiB grows the refcount table twice. */
static void test_rtable_growth(void)
{
	const char *p = tpath("grow.qcow2");
	uint64_t size = 24 << 20;
	CHECK(blk_create(p, BLK_FMT_QCOW2, size, NULL, NULL, 512, err, sizeof(err)) == 0, "grow: create");
	uint64_t rt0 = read_be64(p, 48);
	struct blk *b;
	CHECK(OPEN(b, p, 0) == 0, "grow: open");
	uint8_t *shadow = malloc(size), *buf = malloc(1 << 20);
	for (uint64_t off = 0; off < size; off += 1 << 20) {
		fill(buf, 1 << 20, off, 7);
		blk_pwrite(b, off, buf, 1 << 20);
		memcpy(shadow + off, buf, 1 << 20);
	}
	CHECK(blk_flush(b) == 0, "grow: flush");
	CHECK(read_be64(p, 48) != rt0, "grow: refcount table moved (0x%llx -> 0x%llx)", (unsigned long long)rt0,
	      (unsigned long long)read_be64(p, 48));
	CHECK(compare_disk(b, shadow, size) < 0, "grow: data reads back");
	CHECK(check_clean(b) == 0, "grow: check clean");
	/* free everything, then refill: freed clusters are reused, the file does not grow */
	CHECK(blk_discard(b, 0, size) == 0, "grow: discard all");
	blk_flush(b);
	struct stat st0, st1;
	stat(p, &st0);
	for (uint64_t off = 0; off < size; off += 1 << 20) {
		fill(buf, 1 << 20, off, 8);
		blk_pwrite(b, off, buf, 1 << 20);
		memcpy(shadow + off, buf, 1 << 20);
	}
	blk_flush(b);
	stat(p, &st1);
	CHECK(st1.st_size == st0.st_size, "grow: refill reuses freed clusters (%lld -> %lld bytes)",
	      (long long)st0.st_size, (long long)st1.st_size);
	CHECK(compare_disk(b, shadow, size) < 0, "grow: refilled data reads back");
	CHECK(check_clean(b) == 0, "grow: check clean after reuse");
	blk_close(b);
	free(shadow);
	free(buf);
}

static void test_backing(void)
{
	const char *base = tpath("base.raw"), *ov = tpath("overlay.qcow2");
	uint64_t size = 8 << 20, bsize = 6 << 20; /* overlay larger than its base: zeros past it */
	CHECK(blk_create(base, BLK_FMT_RAW, bsize, NULL, NULL, 0, err, sizeof(err)) == 0, "backing: create base");
	struct blk *b;
	CHECK(OPEN(b, base, 0) == 0 && !strcmp(blk_format_name(b), "raw"), "backing: base is raw");
	uint8_t *shadow = calloc(1, size);
	fill(shadow, bsize, 0, 3);
	CHECK(blk_pwrite(b, 0, shadow, bsize) == 0, "backing: fill base");
	blk_close(b);
	/* relative name: resolved against the overlay's directory */
	CHECK(blk_create(ov, BLK_FMT_QCOW2, size, "base.raw", NULL, 0, err, sizeof(err)) == 0, "backing: create overlay (%s)", err);
	CHECK(OPEN(b, ov, 0) == 0, "backing: open overlay (%s)", err);
	struct blk_info in;
	blk_get_info(b, &in);
	CHECK(!strcmp(in.backing_file, "base.raw") && !strcmp(in.backing_format, "raw"), "backing: info names base.raw (raw)");
	CHECK(compare_disk(b, shadow, size) < 0, "backing: overlay reads the base");
	uint8_t buf[1024];
	fill(buf, sizeof(buf), 0, 4);
	CHECK(blk_pwrite(b, 65536 + 4096, buf, sizeof(buf)) == 0, "backing: partial cluster write");
	memcpy(shadow + 65536 + 4096, buf, sizeof(buf));
	CHECK(compare_disk(b, shadow, size) < 0, "backing: copy-on-write kept the rest of the cluster");
	CHECK(blk_discard(b, 0, 3 * 65536) == 0, "backing: discard");
	memset(shadow, 0, 3 * 65536);
	CHECK(compare_disk(b, shadow, size) < 0, "backing: discarded clusters read zeros, not the base");
	random_ops(b, shadow, size, 20, 200, true);
	CHECK(compare_disk(b, shadow, size) < 0, "backing: random ops over a backing file");
	blk_close(b);
	CHECK(OPEN(b, base, BLK_O_RDONLY) == 0, "backing: reopen base");
	uint8_t *orig = malloc(bsize);
	fill(orig, bsize, 0, 3);
	CHECK(compare_disk(b, orig, bsize) < 0, "backing: base unchanged");
	blk_close(b);
	CHECK(OPEN(b, ov, BLK_O_RDONLY) == 0, "backing: reopen overlay");
	CHECK(compare_disk(b, shadow, size) < 0, "backing: overlay data survives reopen");
	CHECK(check_clean(b) == 0, "backing: check clean");
	blk_close(b);

	/* a qcow2 overlay of a qcow2 overlay */
	const char *ov2 = tpath("overlay2.qcow2");
	CHECK(blk_create(ov2, BLK_FMT_QCOW2, 0, ov, "qcow2", 4096, err, sizeof(err)) == 0, "backing: second level (size from backing)");
	CHECK(OPEN(b, ov2, 0) == 0 && blk_size(b) == size, "backing: open second level");
	CHECK(compare_disk(b, shadow, size) < 0, "backing: two-level chain reads through");
	fill(buf, 512, 0, 5);
	blk_pwrite(b, size - 512, buf, 512);
	memcpy(shadow + size - 512, buf, 512);
	CHECK(compare_disk(b, shadow, size) < 0, "backing: write on top of the chain");
	blk_close(b);
	free(orig);
	free(shadow);
}

static void test_zero_clusters(void)
{
	const char *p = tpath("zero.qcow2");
	uint64_t size = 4 << 20;
	blk_create(p, BLK_FMT_QCOW2, size, NULL, NULL, 0, err, sizeof(err));
	struct blk *b;
	OPEN(b, p, 0);
	uint8_t *buf = malloc(size);
	fill(buf, size, 0, 9);
	blk_pwrite(b, 0, buf, size);
	blk_flush(b);
	struct stat st0, st1, st2;
	stat(p, &st0);
	CHECK(blk_write_zeroes(b, 0, 1 << 20, 0) == 0, "zero: write zeroes keeping allocation");
	blk_flush(b);
	stat(p, &st1);
	CHECK(blk_write_zeroes(b, 1 << 20, 1 << 20, BLK_ZERO_MAY_UNMAP) == 0, "zero: write zeroes with unmap");
	CHECK(blk_write_zeroes(b, (2 << 20) + 512, 1024, 0) == 0, "zero: partial-cluster write zeroes");
	blk_flush(b);
	stat(p, &st2);
	memset(buf, 0, 2 << 20);
	memset(buf + (2 << 20) + 512, 0, 1024);
	CHECK(compare_disk(b, buf, size) < 0, "zero: zeroed ranges read zeros, others intact");
	CHECK((uint64_t)st2.st_blocks < (uint64_t)st1.st_blocks, "zero: unmap released space (%lld -> %lld blocks)",
	      (long long)st1.st_blocks, (long long)st2.st_blocks);
	CHECK(check_clean(b) == 0, "zero: check clean");
	/* writing into a preallocated zero cluster: the rest of it stays zero */
	uint8_t s[512];
	fill(s, 512, 0, 11);
	blk_pwrite(b, 4096, s, 512);
	memcpy(buf + 4096, s, 512);
	CHECK(compare_disk(b, buf, size) < 0, "zero: partial write into a zero cluster");
	blk_close(b);
	OPEN(b, p, BLK_O_RDONLY);
	CHECK(compare_disk(b, buf, size) < 0, "zero: survives reopen");
	CHECK(check_clean(b) == 0, "zero: check clean after reopen");
	blk_close(b);
	free(buf);
}

static void test_chain_errors(void)
{
	/* a -> b -> a */
	const char *a = tpath("loop-a.qcow2"), *bb = tpath("loop-b.qcow2");
	blk_create(a, BLK_FMT_QCOW2, 1 << 20, NULL, NULL, 0, err, sizeof(err));
	blk_create(bb, BLK_FMT_QCOW2, 1 << 20, "loop-a.qcow2", "qcow2", 0, err, sizeof(err));
	CHECK(blk_create(a, BLK_FMT_QCOW2, 1 << 20, "loop-b.qcow2", "qcow2", 0, err, sizeof(err)) == 0, "loop: make a -> b -> a");
	struct blk *b = NULL;
	err[0] = 0;
	int r = OPEN(b, a, 0);
	CHECK(r == -ELOOP && strstr(err, "loop"), "loop: open fails with a clear error: %s", err);
	/* self-reference */
	const char *self = tpath("self.qcow2");
	blk_create(self, BLK_FMT_QCOW2, 1 << 20, NULL, NULL, 0, err, sizeof(err));
	blk_create(self, BLK_FMT_QCOW2, 1 << 20, "self.qcow2", "qcow2", 0, err, sizeof(err));
	r = OPEN(b, self, BLK_O_RDONLY);
	CHECK(r == -ELOOP, "loop: image backed by itself refused: %s", err);
	/* depth: 20 images in a chain */
	char name[64], prev[64];
	snprintf(prev, sizeof(prev), "d00.qcow2");
	blk_create(tpath(prev), BLK_FMT_QCOW2, 1 << 20, NULL, NULL, 0, err, sizeof(err));
	for (int i = 1; i < 20; i++) {
		snprintf(name, sizeof(name), "d%02d.qcow2", i);
		if (i <= BLK_MAX_BACKING_DEPTH)
			blk_create(tpath(name), BLK_FMT_QCOW2, 1 << 20, prev, "qcow2", 0, err, sizeof(err));
		else /* blk_create itself would refuse to open so deep a backing file: patch the header */
			blk_create(tpath(name), BLK_FMT_QCOW2, 1 << 20, "d00.qcow2", "qcow2", 0, err, sizeof(err)),
				patch(tpath(name), read_be64(tpath(name), 8), prev, strlen(prev));
		snprintf(prev, sizeof(prev), "%s", name);
	}
	snprintf(name, sizeof(name), "d%02d.qcow2", BLK_MAX_BACKING_DEPTH);
	CHECK(OPEN(b, tpath(name), BLK_O_RDONLY) == 0, "depth: chain of %d backing files opens", BLK_MAX_BACKING_DEPTH);
	blk_close(b);
	r = OPEN(b, tpath("d19.qcow2"), BLK_O_RDONLY);
	CHECK(r == -ELOOP && strstr(err, "chain longer"), "depth: deeper chain refused: %s", err);
	/* missing backing file */
	const char *m = tpath("missing.qcow2");
	blk_create(m, BLK_FMT_QCOW2, 1 << 20, "d00.qcow2", "qcow2", 0, err, sizeof(err));
	patch(m, read_be64(m, 8), "xx", 2);
	r = OPEN(b, m, BLK_O_RDONLY);
	CHECK(r == -ENOENT && strstr(err, "backing"), "missing backing file: %s", err);
	CHECK(OPEN(b, m, BLK_O_RDONLY | BLK_O_NO_BACKING) == 0, "missing backing file: opens without backing");
	uint8_t buf[512];
	CHECK(blk_pread(b, 0, buf, 512) == -EIO, "missing backing file: its clusters cannot be read");
	blk_close(b);
}

static void test_header_bits(void)
{
	const char *p = tpath("bits.qcow2");
	struct blk *b;
	blk_create(p, BLK_FMT_QCOW2, 1 << 20, NULL, NULL, 0, err, sizeof(err));
	patch_be64(p, 72, 1); /* dirty */
	CHECK(OPEN(b, p, 0) == -EINVAL && strstr(err, "dirty"), "dirty image refused for writing: %s", err);
	CHECK(OPEN(b, p, BLK_O_RDONLY) == 0, "dirty image opens read-only");
	blk_close(b);
	patch_be64(p, 72, 2); /* corrupt */
	CHECK(OPEN(b, p, 0) == -EINVAL && strstr(err, "corrupt"), "corrupt image refused for writing: %s", err);
	patch_be64(p, 72, 0);
	patch_be64(p, 88, 1); /* autoclear: bitmaps */
	CHECK(OPEN(b, p, 0) == 0, "autoclear bits accepted");
	blk_close(b);
	CHECK(read_be64(p, 88) == 0, "autoclear bits cleared on write open");
}

struct thr { struct blk *b; uint64_t base; unsigned seed; int ok; };

static void *worker(void *arg)
{
	struct thr *t = arg;
	uint8_t buf[16384], rb[16384];
	t->ok = 1;
	for (int i = 0; i < 200; i++) {
		uint64_t off = t->base + (uint64_t)(i % 64) * 16384;
		fill(buf, sizeof(buf), off, t->seed + i);
		if (blk_pwrite(t->b, off, buf, sizeof(buf)) < 0 || blk_pread(t->b, off, rb, sizeof(rb)) < 0 ||
		    memcmp(buf, rb, sizeof(buf)))
			t->ok = 0;
		if (i % 50 == 0)
			blk_flush(t->b);
	}
	return NULL;
}

static void test_threads(const char *fmtname, enum blk_format fmt)
{
	char name[64];
	snprintf(name, sizeof(name), "threads.%s", fmtname);
	const char *p = tpath(name);
	blk_create(p, fmt, 8 << 20, NULL, NULL, 4096, err, sizeof(err));
	struct blk *b;
	OPEN(b, p, 0);
	struct thr t[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		t[i] = (struct thr){ b, (uint64_t)i * (2 << 20), (unsigned)i * 1000, 0 };
		pthread_create(&th[i], NULL, worker, &t[i]);
	}
	int ok = 1;
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ok &= t[i].ok;
	}
	CHECK(ok, "%s: 4 threads writing and reading concurrently", fmtname);
	if (fmt == BLK_FMT_QCOW2)
		CHECK(check_clean(b) == 0, "%s: check clean after concurrent writes", fmtname);
	blk_close(b);
}

int main(void)
{
	tmpdir_init("qcow2");
	test_basic(65536, 16 << 20, "c64k.qcow2");
	test_basic(512, 4 << 20, "c512.qcow2");
	test_basic(2 << 20, 16 << 20, "c2m.qcow2");
	test_basic(4096, (8 << 20) + 512 * 3, "odd.qcow2");
	test_rtable_growth();
	test_backing();
	test_zero_clusters();
	test_chain_errors();
	test_header_bits();
	test_threads("qcow2", BLK_FMT_QCOW2);
	test_threads("raw", BLK_FMT_RAW);
	tmpdir_cleanup();
	TEST_EXIT();
}
