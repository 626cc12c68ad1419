/*
 * Block layer: one interface over disk image formats (raw files or block devices, qcow2), used by
 * virtio-blk, `softvm img` and later snapshots.
 *
 * Requests are byte ranges at sector granularity: offset and length are multiples of
 * BLK_SECTOR_SIZE and the range lies inside the disk (the raw size rounded up to a sector).
 * Every function returns 0 or a negative errno: -EINVAL for a misaligned request, -ERANGE for one
 * past the end, -EROFS for a write to a read-only disk, -EIO for an I/O error or corrupt metadata
 * found while serving the request (the image is then marked unusable for writes).
 *
 * Thread safety: every request function may be called from any thread, concurrently with others
 * on the same disk (a worker thread or io_uring completion path serves them off the CPU thread).
 * raw does positioned I/O only (pread/pwrite, no shared file position, no lock). qcow2 serializes
 * requests on one disk with a per-image mutex (its metadata caches are shared state). blk_open and
 * blk_close must not race with requests on the same disk.
 *
 * Durability: blk_flush returns after every completed write is on stable storage (data, then
 * metadata, each followed by fdatasync). Writes that were not flushed may be lost on a host crash,
 * but a qcow2 image is never left with metadata pointing at unallocated clusters (refcounts are made
 * durable before the tables that use them).
 */
#ifndef SOFTVM_BLOCK_H
#define SOFTVM_BLOCK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/uio.h>

#define BLK_SECTOR_SIZE 512u

enum blk_format { BLK_FMT_AUTO, BLK_FMT_RAW, BLK_FMT_QCOW2 };

/* blk_open flags */
#define BLK_O_RDONLY     1u /* no writes, discards or metadata updates */
#define BLK_O_NO_BACKING 2u /* do not open a qcow2 backing file (reads of its clusters fail) */

/* blk_write_zeroes flags */
#define BLK_ZERO_MAY_UNMAP 1u /* the zeroed range may be deallocated (virtio-blk "unmap") */

/* Longest depth of a backing chain (the image itself is depth 0). */
#define BLK_MAX_BACKING_DEPTH 16

struct blk;

/* Opens PATH. On failure returns a negative errno and writes a one-line reason naming the file
 * (and the field, for a bad image) into err (errlen bytes; err may be NULL). */
int blk_open(struct blk **out, const char *path, enum blk_format fmt, unsigned flags,
	     char *err, size_t errlen);
void blk_close(struct blk *b); /* flushes first; NULL is accepted */

uint64_t blk_size(const struct blk *b);          /* virtual size in bytes */
bool blk_read_only(const struct blk *b);
const char *blk_format_name(const struct blk *b); /* "raw" or "qcow2" */

int blk_preadv(struct blk *b, uint64_t off, const struct iovec *iov, int iovcnt);
int blk_pwritev(struct blk *b, uint64_t off, const struct iovec *iov, int iovcnt);
int blk_pread(struct blk *b, uint64_t off, void *buf, size_t len);
int blk_pwrite(struct blk *b, uint64_t off, const void *buf, size_t len);
int blk_flush(struct blk *b);
/* Discard is advisory: the range reads back as unspecified data (zeros, or backing file data for
 * a qcow2 overlay). Returns 0 when the format or host cannot discard. */
int blk_discard(struct blk *b, uint64_t off, uint64_t len);
/* The range reads back as zeros afterwards. */
int blk_write_zeroes(struct blk *b, uint64_t off, uint64_t len, unsigned flags);

/* Image creation (`softvm img create`). backing/backing_fmt only for qcow2 (NULL for none;
 * backing_fmt NULL probes the backing file). cluster_size 0 means the default (64 KiB). */
int blk_create(const char *path, enum blk_format fmt, uint64_t size, const char *backing,
	       const char *backing_fmt, uint32_t cluster_size, char *err, size_t errlen);

struct blk_info {
	const char *format;
	uint64_t virtual_size;
	uint64_t disk_size;      /* bytes the image file occupies on the host */
	uint32_t cluster_size;   /* 0 for raw */
	int qcow2_version;       /* 0 for raw */
	char backing_file[1024]; /* as stored in the image ("" if none) */
	char backing_format[32];
	bool dirty, corrupt;
};
void blk_get_info(struct blk *b, struct blk_info *info);

/* Consistency check (`softvm img check`), qcow2 only: walks every table, prints one line per
 * problem to `report`, and counts them. Returns 0 when the check ran, -ENOTSUP for formats without
 * metadata, another negative errno when it could not complete. */
struct blk_check_result {
	uint64_t corruptions;  /* refcount too low, doubly used clusters, bad or out-of-file offsets */
	uint64_t leaks;        /* clusters with a refcount but no user */
	uint64_t allocated_clusters, total_clusters;
};
int blk_check(struct blk *b, struct blk_check_result *res, FILE *report);

/* Format of an image from its first bytes (BLK_FMT_RAW when no known magic). */
enum blk_format blk_probe(const uint8_t *buf, size_t len);
enum blk_format blk_format_from_name(const char *name); /* BLK_FMT_AUTO if unknown */
#endif
