/* Internal interface between the generic block layer (block.c) and the format drivers. */
#ifndef SOFTVM_BLOCK_INT_H
#define SOFTVM_BLOCK_INT_H
#include <sys/types.h>

#include "block/block.h"

/* Files already open in a backing chain, to find loops (the same file twice) and bound depth. */
struct blk_chain {
	dev_t dev;
	ino_t ino;
	int depth;
	const struct blk_chain *child;
};

struct blk_driver {
	const char *name;
	int (*open)(struct blk *b, const struct blk_chain *chain, char *err, size_t errlen);
	void (*close)(struct blk *b);
	int (*preadv)(struct blk *b, uint64_t off, const struct iovec *iov, int iovcnt);
	int (*pwritev)(struct blk *b, uint64_t off, const struct iovec *iov, int iovcnt);
	int (*flush)(struct blk *b);
	int (*discard)(struct blk *b, uint64_t off, uint64_t len);
	int (*write_zeroes)(struct blk *b, uint64_t off, uint64_t len, unsigned flags);
	void (*info)(struct blk *b, struct blk_info *info);
	int (*check)(struct blk *b, struct blk_check_result *res, FILE *report);
};

struct blk {
	const struct blk_driver *drv;
	int fd;
	char *path;
	unsigned flags;
	uint64_t size;   /* virtual size */
	void *opaque;    /* driver state */
};

extern const struct blk_driver blk_raw_driver;
extern const struct blk_driver blk_qcow2_driver;

/* Opens a file inside a chain (backing files): loop and depth checks, format probe. */
int blk_open_chain(struct blk **out, const char *path, enum blk_format fmt, unsigned flags,
		   const struct blk_chain *child, char *err, size_t errlen);

/* Positioned I/O on a file descriptor that retries short transfers and EINTR. Reads past the end
 * of the file return zeros. */
int blk_fd_pread(int fd, void *buf, size_t len, uint64_t off);
int blk_fd_pwrite(int fd, const void *buf, size_t len, uint64_t off);
int blk_fd_preadv(int fd, const struct iovec *iov, int iovcnt, uint64_t off);
int blk_fd_pwritev(int fd, const struct iovec *iov, int iovcnt, uint64_t off);

/* A cursor over an I/O vector, for splitting requests along cluster boundaries. */
struct iov_iter {
	const struct iovec *iov;
	int cnt, idx;
	size_t off; /* into iov[idx] */
};
void iov_iter_init(struct iov_iter *it, const struct iovec *iov, int cnt);
size_t iov_total(const struct iovec *iov, int cnt);
/* Describes the next len bytes as at most max iovecs in out, advancing; returns the count, or -1
 * (without advancing) when more than max are needed. */
int iov_iter_take(struct iov_iter *it, size_t len, struct iovec *out, int max);
void iov_iter_copy_from(struct iov_iter *it, void *buf, size_t len); /* iov -> buf */
void iov_iter_copy_to(struct iov_iter *it, const void *buf, size_t len); /* buf -> iov */
void iov_iter_zero(struct iov_iter *it, size_t len);
void iov_iter_skip(struct iov_iter *it, size_t len);

int raw_create(const char *path, uint64_t size, char *err, size_t errlen);
int qcow2_create(const char *path, uint64_t size, const char *backing, const char *backing_fmt,
		 uint32_t cluster_size, char *err, size_t errlen);

__attribute__((format(printf, 3, 4)))
void blk_errorf(char *err, size_t errlen, const char *fmt, ...);
#endif
