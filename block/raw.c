/*
 * raw images: a regular file or a host block device holding the disk's bytes as they are. Every
 * request is positioned I/O on the descriptor, so requests may run concurrently from any thread.
 * Discard punches holes (fallocate PUNCH_HOLE, BLKDISCARD on block devices) where the host can;
 * write-zeroes uses ZERO_RANGE / BLKZEROOUT and falls back to writing zeros.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/block_int.h"

struct raw {
	bool is_blockdev;
};

static int raw_open(struct blk *b, const struct blk_chain *chain, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(b->fd, &st) < 0)
		return -errno;
	struct raw *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	if (S_ISBLK(st.st_mode)) {
		uint64_t sz;
		if (ioctl(b->fd, BLKGETSIZE64, &sz) < 0) {
			int e = errno;
			blk_errorf(err, errlen, "%s: cannot read block device size: %s", b->path, strerror(e));
			free(r);
			return -e;
		}
		b->size = sz;
		r->is_blockdev = true;
	} else {
		b->size = (uint64_t)st.st_size;
	}
	b->opaque = r;
	return 0;
}

static void raw_close(struct blk *b)
{
	free(b->opaque);
}

static int raw_preadv(struct blk *b, uint64_t off, const struct iovec *iov, int iovcnt)
{
	return blk_fd_preadv(b->fd, iov, iovcnt, off);
}

static int raw_pwritev(struct blk *b, uint64_t off, const struct iovec *iov, int iovcnt)
{
	return blk_fd_pwritev(b->fd, iov, iovcnt, off);
}

static int raw_flush(struct blk *b)
{
	return fdatasync(b->fd) < 0 ? -errno : 0;
}

/* Clips a range to the file's real end: the last partial sector is padding that reads as zeros. */
static uint64_t clip(struct blk *b, uint64_t off, uint64_t len)
{
	if (off >= b->size)
		return 0;
	return len > b->size - off ? b->size - off : len;
}

static int raw_discard(struct blk *b, uint64_t off, uint64_t len)
{
	struct raw *r = b->opaque;
	len = clip(b, off, len);
	if (!len)
		return 0;
	if (r->is_blockdev) {
		uint64_t range[2] = { off, len };
		ioctl(b->fd, BLKDISCARD, range); /* advisory: devices without discard ignore it */
		return 0;
	}
	fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
	return 0;
}

static int write_zero_buffers(struct blk *b, uint64_t off, uint64_t len)
{
	enum { CHUNK = 1 << 20 };
	void *z = calloc(1, CHUNK);
	if (!z)
		return -ENOMEM;
	int ret = 0;
	while (len && !ret) {
		size_t n = len > CHUNK ? CHUNK : (size_t)len;
		ret = blk_fd_pwrite(b->fd, z, n, off);
		off += n;
		len -= n;
	}
	free(z);
	return ret;
}

static int raw_write_zeroes(struct blk *b, uint64_t off, uint64_t len, unsigned flags)
{
	struct raw *r = b->opaque;
	len = clip(b, off, len);
	if (!len)
		return 0;
	if (r->is_blockdev) {
		uint64_t range[2] = { off, len };
		if (ioctl(b->fd, BLKZEROOUT, range) == 0)
			return 0;
		return write_zero_buffers(b, off, len);
	}
	if ((flags & BLK_ZERO_MAY_UNMAP) &&
	    fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	if (fallocate(b->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	return write_zero_buffers(b, off, len);
}

int raw_create(const char *path, uint64_t size, char *err, size_t errlen)
{
	if (size > (uint64_t)INT64_MAX) {
		blk_errorf(err, errlen, "%s: size too large", path);
		return -EFBIG;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;
		blk_errorf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	int ret = 0;
	if (ftruncate(fd, (off_t)size) < 0 || fsync(fd) < 0) {
		ret = -errno;
		blk_errorf(err, errlen, "%s: %s", path, strerror(-ret));
	}
	close(fd);
	return ret;
}

const struct blk_driver blk_raw_driver = {
	.name = "raw",
	.open = raw_open,
	.close = raw_close,
	.preadv = raw_preadv,
	.pwritev = raw_pwritev,
	.flush = raw_flush,
	.discard = raw_discard,
	.write_zeroes = raw_write_zeroes,
};
