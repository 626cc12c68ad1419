/* Crafted qcow2 images: bad header fields, tables past the end of the file or over other
 * metadata, huge sizes, corrupted table entries and refcounts. Each must give a clear error (open
 * refused naming the field, -EIO at the request, or a finding from the check), never a crash or a
 * huge allocation (the test runs under a 1 GiB address-space limit). */
#include <errno.h>
#include <sys/resource.h>

#include "tests/block/blktest.h"
#include "tests/test.h"

static char err[512];
static const char *img;

/* A fresh 64 KiB-cluster 16 MiB image with data in its first two clusters. Layout from
 * blk_create: header 0, refcount table 0x10000, refcount block 0x20000, L1 0x30000, then the L2
 * table 0x40000 and data 0x50000, 0x60000. */
static void fresh(void)
{
	blk_create(img, BLK_FMT_QCOW2, 16 << 20, NULL, NULL, 0, err, sizeof(err));
	struct blk *b;
	blk_open(&b, img, BLK_FMT_QCOW2, 0, err, sizeof(err));
	uint8_t buf[131072];
	fill(buf, sizeof(buf), 0, 1);
	blk_pwrite(b, 0, buf, sizeof(buf));
	blk_close(b);
}

static void expect_open_error(const char *what, const char *needle)
{
	struct blk *b = NULL;
	err[0] = 0;
	int r = blk_open(&b, img, BLK_FMT_QCOW2, BLK_O_RDONLY, err, sizeof(err));
	CHECK(r < 0 && !b && strstr(err, needle), "%s: refused (%s)", what, err);
	if (b)
		blk_close(b);
}

struct field { const char *name; uint64_t off; int size; uint64_t value; const char *needle; };

static void header_fields(void)
{
	static const struct field f[] = {
		{ "bad magic", 0, 4, 0x12345678, "bad magic" },
		{ "version 1", 4, 4, 1, "version" },
		{ "version 4", 4, 4, 4, "version" },
		{ "cluster_bits 8", 20, 4, 8, "cluster_bits" },
		{ "cluster_bits 22", 20, 4, 22, "cluster_bits" },
		{ "cluster_bits 0xffffffff", 20, 4, 0xffffffff, "cluster_bits" },
		{ "virtual size 2^62", 24, 8, 1ull << 62, "virtual size" },
		{ "virtual size past the L1 table", 24, 8, 1ull << 40, "too small" },
		{ "encryption", 32, 4, 1, "encrypted" },
		{ "huge L1 table", 36, 4, 0x10000000, "L1 table too large" },
		{ "L1 table past EOF", 40, 8, 1ull << 40, "past the end" },
		{ "L1 table at the header", 40, 8, 0, "in the header" },
		{ "L1 table unaligned", 40, 8, 0x30008, "not cluster aligned" },
		{ "L1 over the refcount table", 40, 8, 0x10000, "overlap" },
		{ "refcount table past EOF", 48, 8, 1ull << 50, "past the end" },
		{ "refcount table at the header", 48, 8, 0, "in the header" },
		{ "refcount table huge", 56, 4, 0xffffffff, "refcount table size" },
		{ "refcount table empty", 56, 4, 0, "refcount table size" },
		{ "many snapshots", 60, 4, 0x7fffffff, "snapshots" },
		{ "snapshot table past EOF", 64, 8, 1ull << 45, "snapshot table" },
		{ "unknown incompatible feature", 72, 8, 1ull << 40, "incompatible features" },
		{ "external data file", 72, 8, 4, "external data file" },
		{ "extended L2", 72, 8, 16, "extended L2" },
		{ "refcount_order 7", 96, 4, 7, "refcount_order" },
		{ "header_length 50", 100, 4, 50, "header_length" },
		{ "header_length huge", 100, 4, 0x100000, "header_length" },
		{ "backing name past the cluster", 8, 8, 0xfff0, "backing file name" },
		{ "backing name length huge", 16, 4, 0x100000, "backing file name" },
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		fresh();
		if (!strcmp(f[i].name, "many snapshots") || !strcmp(f[i].name, "snapshot table past EOF"))
			patch_be32(img, 60, 1), patch_be64(img, 64, 1ull << 45);
		if (!strcmp(f[i].name, "backing name length huge") || !strcmp(f[i].name, "backing name past the cluster"))
			patch_be64(img, 8, 0x200), patch_be32(img, 16, 16);
		if (f[i].size == 8)
			patch_be64(img, f[i].off, f[i].value);
		else
			patch_be32(img, f[i].off, (uint32_t)f[i].value);
		expect_open_error(f[i].name, f[i].needle);
	}
	/* truncated file */
	fresh();
	if (truncate(img, 50) == 0)
		expect_open_error("truncated header", "truncated");
	/* header extension overrunning the header cluster */
	fresh();
	patch_be32(img, 112, 0xe2792aca);
	patch_be32(img, 116, 0xfffffff0);
	expect_open_error("header extension length", "overruns");
	/* compression type zstd */
	fresh();
	uint8_t z = 1;
	patch(img, 104, &z, 1);
	expect_open_error("compression type", "compression type");
	/* 512-byte clusters: a backing name longer than the cluster (the bound must not wrap and
	 * copy from past the header buffer) */
	blk_create(img, BLK_FMT_QCOW2, 1 << 20, NULL, NULL, 512, err, sizeof(err));
	patch_be64(img, 8, 0x70);
	patch_be32(img, 16, 1000);
	expect_open_error("backing name longer than a 512-byte cluster", "outside the header cluster");
}

static void table_entries(void)
{
	struct blk *b;
	uint8_t buf[4096];
	/* L1 entries */
	fresh();
	patch_be64(img, 0x30000, (1ull << 63) | (1ull << 44));
	expect_open_error("L1 entry past EOF", "past the end");
	fresh();
	patch_be64(img, 0x30000, (1ull << 63) | 0x40200);
	expect_open_error("L1 entry unaligned", "not cluster aligned");
	fresh();
	patch_be64(img, 0x30000, (1ull << 63) | 0x30000);
	expect_open_error("L1 entry pointing at the L1 table", "overlaps");
	/* refcount table entry */
	fresh();
	patch_be64(img, 0x10000, 1ull << 44);
	expect_open_error("refcount block past EOF", "past the end");

	/* L2 entries: the open succeeds, the request fails with -EIO and a message */
	static const struct { const char *name; uint64_t entry; } l2[] = {
		{ "data cluster inside the header cluster", (1ull << 63) | 0x200 },
		{ "data cluster on the refcount table", (1ull << 63) | 0x10000 },
		{ "data cluster past EOF", (1ull << 63) | (1ull << 40) },
		{ "data cluster unaligned", (1ull << 63) | 0x50200 },
		{ "data cluster on the L1 table", (1ull << 63) | 0x30000 },
		{ "compressed cluster past EOF", (1ull << 62) | (1ull << 50) },
		{ "compressed garbage", (1ull << 62) | 0x20000 },
	};
	for (size_t i = 0; i < sizeof(l2) / sizeof(l2[0]); i++) {
		fresh();
		patch_be64(img, 0x40000, l2[i].entry);
		int r = blk_open(&b, img, BLK_FMT_QCOW2, BLK_O_RDONLY, err, sizeof(err));
		if (r < 0) {
			CHECK(1, "%s: refused at open (%s)", l2[i].name, err);
			continue;
		}
		r = blk_pread(b, 0, buf, sizeof(buf));
		int w = blk_pread(b, 65536, buf, sizeof(buf)); /* the other cluster is fine */
		CHECK(r == -EIO && w == 0, "%s: read fails with -EIO (%d), other clusters readable", l2[i].name, r);
		blk_close(b);
	}
	/* writing to a cluster mapped onto the L1 table is refused, not done */
	fresh();
	patch_be64(img, 0x40000, (1ull << 63) | 0x30000);
	uint64_t l1 = read_be64(img, 0x30000);
	CHECK(blk_open(&b, img, BLK_FMT_QCOW2, 0, err, sizeof(err)) == 0, "overlap write: opens");
	memset(buf, 0xaa, sizeof(buf));
	CHECK(blk_pwrite(b, 0, buf, sizeof(buf)) == -EIO, "overlap write: refused with -EIO");
	CHECK(blk_pwrite(b, 1 << 20, buf, sizeof(buf)) == -EIO, "overlap write: image refuses writes after corruption");
	blk_close(b);
	CHECK(read_be64(img, 0x30000) == l1, "overlap write: L1 table untouched");
	CHECK(read_be64(img, 72) & 2, "overlap write: image marked corrupt in its header");
	CHECK(blk_open(&b, img, BLK_FMT_QCOW2, 0, err, sizeof(err)) < 0 && strstr(err, "corrupt"),
	      "overlap write: later writable open refused: %s", err);
}

static void check_findings(void)
{
	struct blk *b;
	struct blk_check_result res;
	FILE *devnull = fopen("/dev/null", "w");
	/* two L2 entries pointing at the same cluster */
	fresh();
	patch_be64(img, 0x40008, (1ull << 63) | 0x50000);
	blk_open(&b, img, BLK_FMT_QCOW2, BLK_O_RDONLY, err, sizeof(err));
	CHECK(blk_check(b, &res, devnull) == 0 && res.corruptions >= 1, "check: doubly used cluster is corruption (%llu)",
	      (unsigned long long)res.corruptions);
	blk_close(b);
	/* a refcount higher than the real use counts as a leak */
	fresh();
	uint8_t one[2] = { 0, 1 };
	patch(img, 0x20000 + 2 * 2, one, 2); /* cluster 2 is the refcount block: now 2 */
	one[1] = 2;
	patch(img, 0x20000 + 2 * 2, one, 2);
	blk_open(&b, img, BLK_FMT_QCOW2, BLK_O_RDONLY, err, sizeof(err));
	CHECK(blk_check(b, &res, stdout) == 0 && res.leaks == 1 && res.corruptions == 0, "check: leak found (%llu leaks, %llu corruptions)",
	      (unsigned long long)res.leaks, (unsigned long long)res.corruptions);
	blk_close(b);
	/* a data cluster with refcount 0 */
	fresh();
	uint8_t zero[2] = { 0, 0 };
	patch(img, 0x20000 + 5 * 2, zero, 2);
	blk_open(&b, img, BLK_FMT_QCOW2, BLK_O_RDONLY, err, sizeof(err));
	CHECK(blk_check(b, &res, devnull) == 0 && res.corruptions >= 1, "check: refcount 0 for a used cluster is corruption");
	blk_close(b);
	/* an L2 entry past the end of the file */
	fresh();
	patch_be64(img, 0x40010, (1ull << 63) | (1ull << 40));
	blk_open(&b, img, BLK_FMT_QCOW2, BLK_O_RDONLY, err, sizeof(err));
	CHECK(blk_check(b, &res, devnull) == 0 && res.corruptions >= 1, "check: offset past EOF is corruption");
	blk_close(b);
	/* the L2 table pointing at itself */
	fresh();
	patch_be64(img, 0x40010, (1ull << 63) | 0x40000);
	blk_open(&b, img, BLK_FMT_QCOW2, BLK_O_RDONLY, err, sizeof(err));
	CHECK(blk_check(b, &res, devnull) == 0 && res.corruptions >= 1, "check: L2 entry overlapping its own table");
	blk_close(b);
	fclose(devnull);
}

int main(void)
{
	/* a huge allocation from a header value would fail here instead of eating the machine */
#if !defined(__SANITIZE_ADDRESS__) /* ASan reserves a huge shadow; it reports big mallocs itself */
	struct rlimit rl = { 1ull << 30, 1ull << 30 };
	setrlimit(RLIMIT_AS, &rl);
#endif
	tmpdir_init("crafted");
	img = tpath("c.qcow2");
	header_fields();
	table_entries();
	check_findings();
	tmpdir_cleanup();
	TEST_EXIT();
}
