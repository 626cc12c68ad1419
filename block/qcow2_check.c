/*
 * qcow2 consistency check and image creation (`softvm img check`, `softvm img create`).
 *
 * The check rebuilds every cluster's reference count from the tables (header, L1 and L2 tables,
 * data and compressed clusters, refcount table and blocks, snapshot table and snapshot L1/L2
 * tables) and compares it with the stored refcounts, like qemu-img check: a stored count lower
 * than the real one (or a cluster used twice) is corruption, a higher one a leak. It also reports
 * table entries that point outside the file or at unaligned offsets, and COPIED flags that
 * disagree with the refcount. Not checked: persistent bitmaps (their clusters count as leaks).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/qcow2.h"

struct walk {
	struct blk *b;
	struct qcow2 *s;
	FILE *report;
	struct blk_check_result *res;
	uint32_t *counts;
	uint64_t nclusters;
	uint8_t *buf; /* one cluster */
};

__attribute__((format(printf, 2, 3)))
static void corruption(struct walk *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("ERROR ", w->report);
	vfprintf(w->report, fmt, ap);
	fputc('\n', w->report);
	va_end(ap);
	w->res->corruptions++;
}

static void ref(struct walk *w, uint64_t off, uint64_t len, const char *what)
{
	if (!len)
		return;
	uint64_t c0 = off >> w->s->cluster_bits, c1 = (off + len - 1) >> w->s->cluster_bits;
	for (uint64_t c = c0; c <= c1; c++) {
		if (c >= w->nclusters) {
			corruption(w, "%s at offset 0x%llx is past the end of the file", what,
				   (unsigned long long)(c << w->s->cluster_bits));
			return;
		}
		if (w->counts[c] < UINT32_MAX)
			w->counts[c]++;
	}
}

static bool table_ok(struct walk *w, uint64_t off, uint64_t len, const char *what)
{
	if (off & (w->s->cluster_size - 1)) {
		corruption(w, "%s offset 0x%llx is not cluster aligned", what, (unsigned long long)off);
		return false;
	}
	if (off >= w->nclusters << w->s->cluster_bits || len > (w->nclusters << w->s->cluster_bits) - off) {
		corruption(w, "%s at offset 0x%llx is past the end of the file", what, (unsigned long long)off);
		return false;
	}
	return true;
}

static void walk_l2(struct walk *w, uint64_t l2off, bool active)
{
	struct qcow2 *s = w->s;
	if (blk_fd_pread(w->b->fd, w->buf, s->cluster_size, l2off) < 0) {
		corruption(w, "cannot read L2 table at 0x%llx", (unsigned long long)l2off);
		return;
	}
	for (uint64_t i = 0; i < (1ull << s->l2_bits); i++) {
		uint64_t e = be64(w->buf + i * 8);
		if (e & QCOW2_OFLAG_COMPRESSED) {
			unsigned x = 62 - (s->cluster_bits - 8);
			uint64_t off = e & ((1ull << x) - 1);
			uint64_t len = (((e & ~(3ull << 62)) >> x) + 1) * 512 - (off & 511);
			if (off >= w->nclusters << s->cluster_bits) {
				corruption(w, "compressed cluster at 0x%llx (L2 table 0x%llx entry %llu) is past the end of the file",
					   (unsigned long long)off, (unsigned long long)l2off, (unsigned long long)i);
				continue;
			}
			ref(w, off, len, "compressed cluster");
			if (active)
				w->res->allocated_clusters++;
			continue;
		}
		uint64_t off = e & QCOW2_OFFSET_MASK;
		if ((e & QCOW2_OFLAG_ZERO) && s->version < 3)
			corruption(w, "zero flag in a version 2 image (L2 table 0x%llx entry %llu)",
				   (unsigned long long)l2off, (unsigned long long)i);
		if (!off)
			continue;
		if (active)
			w->res->allocated_clusters++;
		if (table_ok(w, off, s->cluster_size, "data cluster"))
			ref(w, off, s->cluster_size, "data cluster");
	}
}

static void walk_l1(struct walk *w, const uint64_t *l1, uint32_t l1_size, bool active)
{
	for (uint32_t i = 0; i < l1_size; i++) {
		uint64_t off = l1[i] & QCOW2_OFFSET_MASK;
		if (!off)
			continue;
		if (!table_ok(w, off, w->s->cluster_size, "L2 table"))
			continue;
		ref(w, off, w->s->cluster_size, "L2 table");
		walk_l2(w, off, active);
	}
}

static void walk_snapshots(struct walk *w)
{
	struct qcow2 *s = w->s;
	uint64_t pos = s->snapshots_offset, end = w->nclusters << s->cluster_bits;
	for (uint32_t i = 0; i < s->nb_snapshots; i++) {
		uint8_t h[40];
		if (pos + sizeof(h) > end || blk_fd_pread(w->b->fd, h, sizeof(h), pos) < 0) {
			corruption(w, "snapshot table entry %u is past the end of the file", i);
			return;
		}
		uint64_t l1off = be64(h);
		uint32_t l1size = be32(h + 8);
		uint64_t len = 40 + (uint64_t)be32(h + 36) + be16(h + 12) + be16(h + 14);
		pos += (len + 7) & ~7ull;
		if ((uint64_t)l1size * 8 > QCOW2_MAX_L1_BYTES) {
			corruption(w, "snapshot %u L1 table too large (%u entries)", i, l1size);
			continue;
		}
		if (!l1size || !table_ok(w, l1off, (uint64_t)l1size * 8, "snapshot L1 table"))
			continue;
		ref(w, l1off, (uint64_t)l1size * 8, "snapshot L1 table");
		uint64_t *l1 = malloc((uint64_t)l1size * 8);
		if (!l1 || blk_fd_pread(w->b->fd, l1, (uint64_t)l1size * 8, l1off) < 0) {
			free(l1);
			corruption(w, "cannot read snapshot %u L1 table", i);
			continue;
		}
		for (uint32_t j = 0; j < l1size; j++)
			l1[j] = be64((uint8_t *)&l1[j]);
		walk_l1(w, l1, l1size, false);
		free(l1);
	}
	if (pos > s->snapshots_offset)
		ref(w, s->snapshots_offset, pos - s->snapshots_offset, "snapshot table");
}

/* Second pass: COPIED flags in the active tables must say "refcount is 1". */
static int check_copied(struct walk *w)
{
	struct qcow2 *s = w->s;
	for (uint32_t i = 0; i < s->l1_size; i++) {
		uint64_t off = s->l1[i] & QCOW2_OFFSET_MASK, rc;
		if (!off || off >= w->nclusters << s->cluster_bits || (off & (s->cluster_size - 1)))
			continue;
		int r = qcow2_refcount_get(w->b, off >> s->cluster_bits, &rc);
		if (r < 0)
			return r;
		if (!!(s->l1[i] & QCOW2_OFLAG_COPIED) != (rc == 1))
			corruption(w, "OFLAG_COPIED L2 table: l1 entry %u = 0x%llx refcount %llu", i,
				   (unsigned long long)s->l1[i], (unsigned long long)rc);
		if (blk_fd_pread(w->b->fd, w->buf, s->cluster_size, off) < 0)
			continue;
		for (uint64_t j = 0; j < (1ull << s->l2_bits); j++) {
			uint64_t e = be64(w->buf + j * 8), d = e & QCOW2_OFFSET_MASK;
			if ((e & QCOW2_OFLAG_COMPRESSED) || !d || d >= w->nclusters << s->cluster_bits ||
			    (d & (s->cluster_size - 1)))
				continue;
			if ((r = qcow2_refcount_get(w->b, d >> s->cluster_bits, &rc)) < 0)
				return r;
			if (!!(e & QCOW2_OFLAG_COPIED) != (rc == 1))
				corruption(w, "OFLAG_COPIED data cluster: l2 entry 0x%llx refcount %llu",
					   (unsigned long long)e, (unsigned long long)rc);
		}
	}
	return 0;
}

static int check_locked(struct blk *b, struct qcow2 *s, struct blk_check_result *res, FILE *report)
{
	struct stat st;
	if (fstat(b->fd, &st) < 0)
		return -errno;
	struct walk w = { b, s, report, res, NULL, 0, NULL };
	w.nclusters = ((uint64_t)st.st_size + s->cluster_size - 1) >> s->cluster_bits;
	if (w.nclusters > (1ull << 31))
		return -EFBIG;
	w.counts = calloc(w.nclusters ? w.nclusters : 1, sizeof(*w.counts));
	w.buf = malloc(s->cluster_size);
	if (!w.counts || !w.buf) {
		free(w.counts);
		free(w.buf);
		return -ENOMEM;
	}
	ref(&w, 0, s->cluster_size, "header");
	if (s->l1_size)
		ref(&w, s->l1_offset, (uint64_t)s->l1_size * 8, "L1 table");
	walk_l1(&w, s->l1, s->l1_size, true);
	if (s->nb_snapshots)
		walk_snapshots(&w);
	ref(&w, s->rtable_offset, (uint64_t)s->rtable_clusters << s->cluster_bits, "refcount table");
	for (uint64_t i = 0; i < s->rtable_size; i++)
		if (s->rtable[i] && table_ok(&w, s->rtable[i], s->cluster_size, "refcount block"))
			ref(&w, s->rtable[i], s->cluster_size, "refcount block");

	int r = 0;
	for (uint64_t c = 0; c < w.nclusters; c++) {
		uint64_t stored;
		if ((r = qcow2_refcount_get(b, c, &stored)) < 0)
			break;
		uint64_t real = w.counts[c];
		if (stored == real)
			continue;
		if (stored < real) {
			corruption(&w, "cluster %llu refcount=%llu reference=%llu%s", (unsigned long long)c,
				   (unsigned long long)stored, (unsigned long long)real,
				   real > 1 && !s->nb_snapshots ? " (used more than once)" : "");
		} else {
			fprintf(report, "Leaked cluster %llu refcount=%llu reference=%llu\n", (unsigned long long)c,
				(unsigned long long)stored, (unsigned long long)real);
			res->leaks++;
		}
	}
	res->total_clusters = (b->size + s->cluster_size - 1) >> s->cluster_bits;
	if (r >= 0)
		r = check_copied(&w);
	free(w.counts);
	free(w.buf);
	return r;
}

int qcow2_check(struct blk *b, struct blk_check_result *res, FILE *report)
{
	struct qcow2 *s = b->opaque;
	pthread_mutex_lock(&s->lock);
	int r = (b->flags & BLK_O_RDONLY) ? 0 : qcow2_sync_all(b);
	if (r >= 0)
		r = check_locked(b, s, res, report);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* --- creation --- */

int qcow2_create(const char *path, uint64_t size, const char *backing, const char *backing_fmt,
		 uint32_t cluster_size, char *err, size_t errlen)
{
	if (!cluster_size)
		cluster_size = 1u << QCOW2_DEFAULT_CLUSTER_BITS;
	unsigned cb = (unsigned)__builtin_ctz(cluster_size);
	if ((cluster_size & (cluster_size - 1)) || cb < QCOW2_MIN_CLUSTER_BITS || cb > QCOW2_MAX_CLUSTER_BITS) {
		blk_errorf(err, errlen, "%s: cluster size must be a power of two from 512 to 2M", path);
		return -EINVAL;
	}
	char fmt[32] = "";
	if (backing) {
		/* resolve relative to the new image's directory, as it will be when opened */
		char full[4096], *dup = strdup(path);
		if (!dup)
			return -ENOMEM;
		snprintf(full, sizeof(full), "%s%s%s", backing[0] == '/' ? "" : dirname(dup),
			 backing[0] == '/' ? "" : "/", backing);
		free(dup);
		enum blk_format f = BLK_FMT_AUTO;
		if (backing_fmt && (f = blk_format_from_name(backing_fmt)) == BLK_FMT_AUTO) {
			blk_errorf(err, errlen, "%s: unknown backing format '%s'", path, backing_fmt);
			return -EINVAL;
		}
		struct blk *bb;
		char sub[512];
		int r = blk_open(&bb, full, f, BLK_O_RDONLY, sub, sizeof(sub));
		if (r < 0) {
			blk_errorf(err, errlen, "%s: cannot open backing file: %s", path, sub);
			return r;
		}
		if (!size)
			size = blk_size(bb);
		snprintf(fmt, sizeof(fmt), "%s", blk_format_name(bb));
		blk_close(bb);
		if (strlen(backing) > 1023) {
			blk_errorf(err, errlen, "%s: backing file name too long", path);
			return -EINVAL;
		}
	}
	if (size % 512 || size > QCOW2_MAX_VIRTUAL_SIZE) {
		blk_errorf(err, errlen, "%s: size must be a multiple of 512 bytes and at most 64P", path);
		return -EINVAL;
	}
	uint64_t cs = cluster_size, l2_span = cs * (cs / 8);
	uint64_t l1_size = (size + l2_span - 1) / l2_span;
	if (l1_size * 8 > QCOW2_MAX_L1_BYTES) {
		blk_errorf(err, errlen, "%s: size too large for cluster size %u", path, cluster_size);
		return -EINVAL;
	}
	uint64_t L = (l1_size * 8 + cs - 1) / cs;
	if (!L)
		L = 1;
	uint64_t epb = cs * 8 / 16; /* refcount_order 4 */
	uint64_t T = 1, B = 1;
	for (;;) {
		uint64_t total = 1 + T + B + L;
		uint64_t nb = (total + epb - 1) / epb, nt = (nb * 8 + cs - 1) / cs;
		if (nb <= B && nt <= T)
			break;
		B = nb > B ? nb : B;
		T = nt > T ? nt : T;
	}
	uint64_t total = 1 + T + B + L;

	uint8_t *h = calloc(1, cs);
	uint8_t *buf = calloc(T > B ? T : B, cs);
	if (!h || !buf) {
		free(h);
		free(buf);
		return -ENOMEM;
	}
	put_be32(h, QCOW2_MAGIC);
	put_be32(h + 4, 3);
	put_be32(h + 20, cb);
	put_be64(h + 24, size);
	put_be32(h + 36, (uint32_t)l1_size);
	put_be64(h + 40, (1 + T + B) * cs);
	put_be64(h + 48, cs);
	put_be32(h + 56, (uint32_t)T);
	put_be32(h + 96, 4);
	put_be32(h + 100, 112); /* v3 header with the compression type byte (0: deflate) */
	uint64_t p = 112;
	if (backing) {
		size_t fl = strlen(fmt), bl = strlen(backing);
		if (p + 8 + ((fl + 7) & ~7u) + 8 + bl > cs) {
			free(h);
			free(buf);
			blk_errorf(err, errlen, "%s: backing file name too long for cluster size %u", path, cluster_size);
			return -EINVAL;
		}
		put_be32(h + p, QCOW2_EXT_BACKING_FORMAT);
		put_be32(h + p + 4, (uint32_t)fl);
		memcpy(h + p + 8, fmt, fl);
		p += 8 + ((fl + 7) & ~7u);
		p += 8; /* end of extensions */
		memcpy(h + p, backing, bl);
		put_be64(h + 8, p);
		put_be32(h + 16, (uint32_t)bl);
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;
		free(h);
		free(buf);
		blk_errorf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	int r = blk_fd_pwrite(fd, h, cs, 0);
	/* refcount table */
	memset(buf, 0, T * cs);
	for (uint64_t i = 0; i < B; i++)
		put_be64(buf + i * 8, (1 + T + i) * cs);
	if (r >= 0)
		r = blk_fd_pwrite(fd, buf, T * cs, cs);
	/* refcount blocks: every cluster of the new file is used once */
	memset(buf, 0, B * cs);
	for (uint64_t c = 0; c < total; c++)
		put_be16(buf + c * 2, 1);
	if (r >= 0)
		r = blk_fd_pwrite(fd, buf, B * cs, (1 + T) * cs);
	if (r >= 0 && (ftruncate(fd, (off_t)(total * cs)) < 0 || fsync(fd) < 0))
		r = -errno;
	if (r < 0)
		blk_errorf(err, errlen, "%s: %s", path, strerror(-r));
	close(fd);
	free(h);
	free(buf);
	return r;
}
