/* Helpers shared by the block layer tests: scratch directory, patterns, file patching. */
#ifndef SOFTVM_TESTS_BLKTEST_H
#define SOFTVM_TESTS_BLKTEST_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/block.h"

static char tdir[256];

__attribute__((unused)) static void tmpdir_init(const char *name)
{
	snprintf(tdir, sizeof(tdir), "/tmp/softvm-%s-XXXXXX", name);
	if (!mkdtemp(tdir)) {
		perror("mkdtemp");
		exit(1);
	}
}

__attribute__((unused)) static void tmpdir_cleanup(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", tdir);
}

__attribute__((unused)) static const char *tpath(const char *name)
{
	static char bufs[4][512];
	static int n;
	char *p = bufs[n++ & 3];
	snprintf(p, 512, "%s/%s", tdir, name);
	return p;
}

/* Deterministic pattern byte for (seed, absolute offset). */
__attribute__((unused)) static void fill(uint8_t *p, size_t len, uint64_t off, unsigned seed)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t x = (off + i) * 0x9e3779b97f4a7c15ull + seed * 0xbf58476d1ce4e5b9ull;
		p[i] = (uint8_t)(x >> 56) | 1;
	}
}

static uint64_t rng_state = 0x1234567;
__attribute__((unused)) static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

__attribute__((unused)) static int patch(const char *path, uint64_t off, const void *data, size_t len)
{
	FILE *f = fopen(path, "r+b");
	if (!f)
		return -1;
	int r = fseek(f, (long)off, SEEK_SET) == 0 && fwrite(data, 1, len, f) == len ? 0 : -1;
	fclose(f);
	return r;
}

__attribute__((unused)) static int patch_be64(const char *path, uint64_t off, uint64_t v)
{
	uint8_t b[8];
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
	return patch(path, off, b, 8);
}

__attribute__((unused)) static int patch_be32(const char *path, uint64_t off, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	return patch(path, off, b, 4);
}

__attribute__((unused)) static uint64_t read_be64(const char *path, uint64_t off)
{
	uint8_t b[8] = { 0 };
	FILE *f = fopen(path, "rb");
	if (f) {
		if (fseek(f, (long)off, SEEK_SET) != 0 || fread(b, 1, 8, f) != 8)
			memset(b, 0, 8);
		fclose(f);
	}
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

/* Compares the whole disk with a shadow copy; returns the first differing offset or -1. */
__attribute__((unused)) static int64_t compare_disk(struct blk *b, const uint8_t *shadow, uint64_t size)
{
	enum { CH = 1 << 20 };
	uint8_t *buf = malloc(CH);
	int64_t bad = -1;
	for (uint64_t off = 0; off < size && bad < 0; off += CH) {
		size_t n = size - off < CH ? (size_t)(size - off) : CH;
		if (blk_pread(b, off, buf, n) < 0) {
			bad = (int64_t)off;
			break;
		}
		for (size_t i = 0; i < n; i++)
			if (buf[i] != shadow[off + i]) {
				bad = (int64_t)(off + i);
				break;
			}
	}
	free(buf);
	return bad;
}

__attribute__((unused)) static int check_clean(struct blk *b)
{
	struct blk_check_result res;
	int r = blk_check(b, &res, stdout);
	if (r < 0)
		return r;
	return res.corruptions || res.leaks ? 1 : 0;
}
#endif
