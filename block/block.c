/*
 * Generic block layer: opening an image (format probe, backing chain loop and depth checks),
 * request validation (sector alignment, bounds, read-only), and helpers the format drivers share
 * (positioned I/O that survives short transfers, I/O vector cursors). Format specifics live in
 * raw.c and qcow2*.c behind struct blk_driver.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/block_int.h"

void blk_errorf(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

enum blk_format blk_probe(const uint8_t *buf, size_t len)
{
	if (len >= 8 && !memcmp(buf, "QFI\xfb", 4)) {
		uint32_t ver = (uint32_t)buf[4] << 24 | buf[5] << 16 | buf[6] << 8 | buf[7];
		if (ver >= 2)
			return BLK_FMT_QCOW2;
	}
	return BLK_FMT_RAW;
}

enum blk_format blk_format_from_name(const char *name)
{
	if (!strcmp(name, "raw"))
		return BLK_FMT_RAW;
	if (!strcmp(name, "qcow2"))
		return BLK_FMT_QCOW2;
	return BLK_FMT_AUTO;
}

int blk_open_chain(struct blk **out, const char *path, enum blk_format fmt, unsigned flags,
		   const struct blk_chain *child, char *err, size_t errlen)
{
	*out = NULL;
	int depth = child ? child->depth + 1 : 0;
	if (depth > BLK_MAX_BACKING_DEPTH) {
		blk_errorf(err, errlen, "%s: backing chain longer than %d images", path, BLK_MAX_BACKING_DEPTH);
		return -ELOOP;
	}
	int fd = open(path, ((flags & BLK_O_RDONLY) ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		blk_errorf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
		blk_errorf(err, errlen, "%s: not a regular file or block device", path);
		close(fd);
		return -EINVAL;
	}
	for (const struct blk_chain *c = child; c; c = c->child) {
		if (c->dev == st.st_dev && c->ino == st.st_ino) {
			blk_errorf(err, errlen, "%s: loop in backing chain (the file backs itself)", path);
			close(fd);
			return -ELOOP;
		}
	}
	struct blk_chain me = { st.st_dev, st.st_ino, depth, child };

	if (fmt == BLK_FMT_AUTO) {
		uint8_t hdr[8] = { 0 };
		int r = blk_fd_pread(fd, hdr, sizeof(hdr), 0);
		if (r < 0) {
			blk_errorf(err, errlen, "%s: reading header: %s", path, strerror(-r));
			close(fd);
			return r;
		}
		fmt = blk_probe(hdr, sizeof(hdr));
	}
	struct blk *b = calloc(1, sizeof(*b));
	if (!b || !(b->path = strdup(path))) {
		free(b);
		close(fd);
		return -ENOMEM;
	}
	b->fd = fd;
	b->flags = flags;
	b->drv = fmt == BLK_FMT_QCOW2 ? &blk_qcow2_driver : &blk_raw_driver;
	int r = b->drv->open(b, &me, err, errlen);
	if (r < 0) {
		close(fd);
		free(b->path);
		free(b);
		return r;
	}
	*out = b;
	return 0;
}

int blk_open(struct blk **out, const char *path, enum blk_format fmt, unsigned flags,
	     char *err, size_t errlen)
{
	return blk_open_chain(out, path, fmt, flags, NULL, err, errlen);
}

void blk_close(struct blk *b)
{
	if (!b)
		return;
	if (!(b->flags & BLK_O_RDONLY))
		b->drv->flush(b);
	b->drv->close(b);
	close(b->fd);
	free(b->path);
	free(b);
}

uint64_t blk_size(const struct blk *b) { return b->size; }
bool blk_read_only(const struct blk *b) { return b->flags & BLK_O_RDONLY; }
const char *blk_format_name(const struct blk *b) { return b->drv->name; }

static uint64_t limit(const struct blk *b)
{
	return (b->size + BLK_SECTOR_SIZE - 1) & ~(uint64_t)(BLK_SECTOR_SIZE - 1);
}

static int check_range(const struct blk *b, uint64_t off, uint64_t len)
{
	if ((off | len) & (BLK_SECTOR_SIZE - 1))
		return -EINVAL;
	if (off > limit(b) || len > limit(b) - off)
		return -ERANGE;
	return 0;
}

int blk_preadv(struct blk *b, uint64_t off, const struct iovec *iov, int iovcnt)
{
	if (iovcnt < 0)
		return -EINVAL;
	size_t len = iov_total(iov, iovcnt);
	int r = check_range(b, off, len);
	if (r < 0 || !len)
		return r;
	return b->drv->preadv(b, off, iov, iovcnt);
}

int blk_pwritev(struct blk *b, uint64_t off, const struct iovec *iov, int iovcnt)
{
	if (b->flags & BLK_O_RDONLY)
		return -EROFS;
	if (iovcnt < 0)
		return -EINVAL;
	size_t len = iov_total(iov, iovcnt);
	int r = check_range(b, off, len);
	if (r < 0 || !len)
		return r;
	return b->drv->pwritev(b, off, iov, iovcnt);
}

int blk_pread(struct blk *b, uint64_t off, void *buf, size_t len)
{
	struct iovec v = { buf, len };
	return blk_preadv(b, off, &v, 1);
}

int blk_pwrite(struct blk *b, uint64_t off, const void *buf, size_t len)
{
	struct iovec v = { (void *)buf, len };
	return blk_pwritev(b, off, &v, 1);
}

int blk_flush(struct blk *b)
{
	if (b->flags & BLK_O_RDONLY)
		return 0;
	return b->drv->flush(b);
}

int blk_discard(struct blk *b, uint64_t off, uint64_t len)
{
	if (b->flags & BLK_O_RDONLY)
		return -EROFS;
	int r = check_range(b, off, len);
	if (r < 0 || !len)
		return r;
	return b->drv->discard(b, off, len);
}

int blk_write_zeroes(struct blk *b, uint64_t off, uint64_t len, unsigned flags)
{
	if (b->flags & BLK_O_RDONLY)
		return -EROFS;
	int r = check_range(b, off, len);
	if (r < 0 || !len)
		return r;
	return b->drv->write_zeroes(b, off, len, flags);
}

void blk_get_info(struct blk *b, struct blk_info *info)
{
	memset(info, 0, sizeof(*info));
	info->format = b->drv->name;
	info->virtual_size = b->size;
	struct stat st;
	if (fstat(b->fd, &st) == 0)
		info->disk_size = (uint64_t)st.st_blocks * 512;
	if (b->drv->info)
		b->drv->info(b, info);
}

int blk_check(struct blk *b, struct blk_check_result *res, FILE *report)
{
	memset(res, 0, sizeof(*res));
	if (!b->drv->check)
		return -ENOTSUP;
	return b->drv->check(b, res, report);
}

int blk_create(const char *path, enum blk_format fmt, uint64_t size, const char *backing,
	       const char *backing_fmt, uint32_t cluster_size, char *err, size_t errlen)
{
	if (fmt == BLK_FMT_QCOW2)
		return qcow2_create(path, size, backing, backing_fmt, cluster_size, err, errlen);
	if (backing) {
		blk_errorf(err, errlen, "%s: raw images cannot have a backing file", path);
		return -EINVAL;
	}
	return raw_create(path, size, err, errlen);
}

/* --- positioned I/O --- */

int blk_fd_pread(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) {
			memset(p, 0, len); /* past the end of the file */
			return 0;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int blk_fd_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

enum { IOV_CHUNK = 64 };

/* preadv/pwritev over any number of vectors, finishing short transfers piece by piece. */
static int fd_rwv(int fd, const struct iovec *iov, int iovcnt, uint64_t off, bool write)
{
	struct iov_iter it;
	iov_iter_init(&it, iov, iovcnt);
	size_t left = iov_total(iov, iovcnt);
	while (left) {
		struct iovec v[IOV_CHUNK];
		/* take as many whole remaining vectors as fit, one transfer call */
		size_t want = 0;
		int n = 0;
		struct iov_iter save = it;
		while (n < IOV_CHUNK && want < left) {
			size_t seg = it.iov[it.idx].iov_len - it.off;
			if (!seg) {
				it.idx++;
				it.off = 0;
				continue;
			}
			v[n].iov_base = (uint8_t *)it.iov[it.idx].iov_base + it.off;
			v[n].iov_len = seg;
			n++;
			want += seg;
			it.idx++;
			it.off = 0;
		}
		it = save;
		ssize_t done = write ? pwritev(fd, v, n, (off_t)off) : preadv(fd, v, n, (off_t)off);
		if (done < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (done == 0) {
			if (write)
				return -EIO;
			iov_iter_zero(&it, left); /* past the end of the file */
			return 0;
		}
		iov_iter_skip(&it, (size_t)done);
		left -= (size_t)done;
		off += (uint64_t)done;
	}
	return 0;
}

int blk_fd_preadv(int fd, const struct iovec *iov, int iovcnt, uint64_t off)
{
	return fd_rwv(fd, iov, iovcnt, off, false);
}

int blk_fd_pwritev(int fd, const struct iovec *iov, int iovcnt, uint64_t off)
{
	return fd_rwv(fd, iov, iovcnt, off, true);
}

/* --- I/O vector cursor --- */

void iov_iter_init(struct iov_iter *it, const struct iovec *iov, int cnt)
{
	it->iov = iov;
	it->cnt = cnt;
	it->idx = 0;
	it->off = 0;
}

size_t iov_total(const struct iovec *iov, int cnt)
{
	size_t t = 0;
	for (int i = 0; i < cnt; i++)
		t += iov[i].iov_len;
	return t;
}

int iov_iter_take(struct iov_iter *it, size_t len, struct iovec *out, int max)
{
	struct iov_iter c = *it;
	int n = 0;
	while (len && c.idx < c.cnt) {
		size_t seg = c.iov[c.idx].iov_len - c.off;
		if (!seg) {
			c.idx++;
			c.off = 0;
			continue;
		}
		if (n == max)
			return -1;
		if (seg > len)
			seg = len;
		out[n].iov_base = (uint8_t *)c.iov[c.idx].iov_base + c.off;
		out[n].iov_len = seg;
		n++;
		len -= seg;
		c.off += seg;
		if (c.off == c.iov[c.idx].iov_len) {
			c.idx++;
			c.off = 0;
		}
	}
	*it = c;
	return n;
}

static void iov_iter_walk(struct iov_iter *it, size_t len, uint8_t *from, const uint8_t *to, bool zero)
{
	while (len && it->idx < it->cnt) {
		size_t seg = it->iov[it->idx].iov_len - it->off;
		if (seg > len)
			seg = len;
		uint8_t *p = (uint8_t *)it->iov[it->idx].iov_base + it->off;
		if (from) {
			memcpy(from, p, seg);
			from += seg;
		} else if (to) {
			memcpy(p, to, seg);
			to += seg;
		} else if (zero) {
			memset(p, 0, seg);
		}
		len -= seg;
		it->off += seg;
		if (it->off == it->iov[it->idx].iov_len) {
			it->idx++;
			it->off = 0;
		}
	}
}

void iov_iter_copy_from(struct iov_iter *it, void *buf, size_t len) { iov_iter_walk(it, len, buf, NULL, false); }
void iov_iter_copy_to(struct iov_iter *it, const void *buf, size_t len) { iov_iter_walk(it, len, NULL, buf, false); }
void iov_iter_zero(struct iov_iter *it, size_t len) { iov_iter_walk(it, len, NULL, NULL, true); }
void iov_iter_skip(struct iov_iter *it, size_t len) { iov_iter_walk(it, len, NULL, NULL, false); }
