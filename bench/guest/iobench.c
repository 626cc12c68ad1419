/*
 * Disk I/O inside the guest, for bench/disk.c: a static Linux program (built with the host's
 * compiler, carried into the guest on a raw drive) that measures one pattern on a block device
 * with O_DIRECT, so the guest's page cache is out of the way and every request reaches the
 * virtual disk:
 *
 *   iobench DEV seqwrite|seqread MIB         1 MiB requests over the first MIB MiB
 *   iobench DEV randread|randwrite MIB OPS   OPS 4 KiB requests at random 4 KiB offsets inside
 *                                            the first MIB MiB (fixed seed: same offsets everywhere)
 *
 * Writes end with fdatasync (a FLUSH), which is included in the time. Prints one line:
 * "iobench PATTERN BYTES NS" (bytes moved, nanoseconds on CLOCK_MONOTONIC).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: the same offsets in every VM. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: iobench DEV seqwrite|seqread|randread|randwrite MIB [OPS]\n");
		return 2;
	}
	const char *pat = argv[2];
	uint64_t span = strtoull(argv[3], NULL, 10) << 20;
	uint64_t ops = argc > 4 ? strtoull(argv[4], NULL, 10) : 0;
	bool write_ = !strcmp(pat, "seqwrite") || !strcmp(pat, "randwrite");
	bool seq = !strncmp(pat, "seq", 3);
	size_t bs = seq ? 1u << 20 : 4096;
	if (!span || (!seq && !ops)) {
		fprintf(stderr, "iobench: bad arguments\n");
		return 2;
	}
	int fd = open(argv[1], (write_ ? O_RDWR : O_RDONLY) | O_DIRECT);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	void *buf;
	if (posix_memalign(&buf, 4096, bs))
		return 1;
	memset(buf, 0x5a, bs);
	uint64_t n = seq ? span / bs : ops, moved = 0;
	uint64_t t0 = now_ns();
	for (uint64_t k = 0; k < n; k++) {
		off_t off = seq ? (off_t)(k * bs) : (off_t)((rng() % (span / bs)) * bs);
		ssize_t r = write_ ? pwrite(fd, buf, bs, off) : pread(fd, buf, bs, off);
		if (r != (ssize_t)bs) {
			perror("iobench: I/O");
			return 1;
		}
		moved += bs;
	}
	if (write_ && fdatasync(fd) < 0) {
		perror("iobench: fdatasync");
		return 1;
	}
	uint64_t t1 = now_ns();
	printf("iobench %s %llu %llu\n", pat, (unsigned long long)moved, (unsigned long long)(t1 - t0));
	return 0;
}
