/*
 * qcow2 images (QEMU's docs/interop/qcow2.txt, versions 2 and 3): header and extension parsing
 * with every field checked against the file size and sane limits, two-level cluster lookup through
 * an L2 table cache, reads of unallocated clusters from the backing file (or as zeros), allocation
 * on write with copy-on-write of partial clusters, zero clusters, compressed clusters (read, and
 * rewritten on write), discard that frees clusters, write-zeroes, and durable flush.
 *
 * Refused with a clear error: encryption, external data files, extended L2 entries, compression
 * types other than deflate, unknown incompatible features. Images with internal snapshots, or
 * with the dirty or corrupt bit set, open read-only only. Writing clears the autoclear bits (we do
 * not keep bitmaps up to date).
 */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "block/qcow2.h"

int qcow2_corrupt(struct blk *b, struct qcow2 *s, const char *fmt, ...)
{
	if (!s->broken) {
		va_list ap;
		va_start(ap, fmt);
		fprintf(stderr, "softvm: qcow2 image %s is corrupt: ", b->path);
		vfprintf(stderr, fmt, ap);
		fputs(s->version >= 3 && !(b->flags & BLK_O_RDONLY) ? "; marking it corrupt\n" : "\n", stderr);
		va_end(ap);
		s->broken = true;
		if (s->version >= 3 && !(b->flags & BLK_O_RDONLY)) {
			uint8_t v[8];
			put_be64(v, s->incompat | QCOW2_INCOMPAT_CORRUPT);
			if (blk_fd_pwrite(b->fd, v, 8, HDR_INCOMPAT) == 0)
				fdatasync(b->fd);
		}
	}
	return -EIO;
}

/* --- open --- */

static int load_table(int fd, uint64_t off, uint64_t entries, uint64_t **out)
{
	uint64_t *t = calloc(entries ? entries : 1, 8);
	if (!t)
		return -ENOMEM;
	int r = blk_fd_pread(fd, t, entries * 8, off);
	if (r < 0) {
		free(t);
		return r;
	}
	for (uint64_t i = 0; i < entries; i++)
		t[i] = be64((uint8_t *)&t[i]);
	*out = t;
	return 0;
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

#define FAIL(...) do { blk_errorf(err, errlen, __VA_ARGS__); return -EINVAL; } while (0)

static int parse_header(struct blk *b, struct qcow2 *s, const uint8_t *h, uint64_t fsize,
			char *err, size_t errlen)
{
	const char *p = b->path;
	uint64_t cs = s->cluster_size;
	uint64_t backing_off = be64(h + 8);
	uint32_t backing_len = be32(h + 16);
	uint64_t size = be64(h + 24);
	uint32_t crypt = be32(h + 32);
	s->l1_size = be32(h + 36);
	s->l1_offset = be64(h + 40);
	s->rtable_offset = be64(h + 48);
	s->rtable_clusters = be32(h + 56);
	s->nb_snapshots = be32(h + 60);
	s->snapshots_offset = be64(h + 64);
	if (s->version >= 3) {
		s->incompat = be64(h + 72);
		s->compat = be64(h + 80);
		s->autoclear = be64(h + 88);
		s->refcount_order = be32(h + 96);
		s->header_length = be32(h + 100);
		if (s->header_length < QCOW2_V3_HEADER_LEN || s->header_length % 8 || s->header_length > cs)
			FAIL("%s: bad qcow2 header_length %u", p, s->header_length);
		if (s->incompat & ~QCOW2_INCOMPAT_KNOWN) {
			uint64_t x = s->incompat & ~QCOW2_INCOMPAT_KNOWN;
			FAIL("%s: unsupported qcow2 incompatible features 0x%llx%s%s%s", p, (unsigned long long)x,
			     x & 4 ? " (external data file)" : "", x & 8 ? " (compression type)" : "",
			     x & 16 ? " (extended L2 entries)" : "");
		}
		if (s->header_length > 104 && h[104] != 0)
			FAIL("%s: unsupported qcow2 compression type %u (only deflate)", p, h[104]);
		if (s->refcount_order > 6)
			FAIL("%s: bad qcow2 refcount_order %u (at most 6)", p, s->refcount_order);
	} else {
		s->refcount_order = 4;
		s->header_length = QCOW2_V2_HEADER_LEN;
	}
	if (crypt)
		FAIL("%s: encrypted qcow2 images are not supported", p);
	if (size > QCOW2_MAX_VIRTUAL_SIZE)
		FAIL("%s: qcow2 virtual size %llu is too large", p, (unsigned long long)size);
	b->size = size;
	s->l2_bits = s->cluster_bits - 3;
	s->rb_bits = s->cluster_bits + 3 - s->refcount_order;

	/* L1 table */
	uint64_t l2_span_bits = s->cluster_bits + s->l2_bits;
	uint64_t l1_need = (size + (1ull << l2_span_bits) - 1) >> l2_span_bits;
	if ((uint64_t)s->l1_size * 8 > QCOW2_MAX_L1_BYTES)
		FAIL("%s: qcow2 L1 table too large (%u entries)", p, s->l1_size);
	if (s->l1_size < l1_need)
		FAIL("%s: qcow2 L1 table (%u entries) too small for virtual size %llu", p, s->l1_size,
		     (unsigned long long)size);
	if (s->l1_size) {
		if (s->l1_offset % cs || s->l1_offset == 0)
			FAIL("%s: qcow2 L1 table offset 0x%llx not cluster aligned or in the header", p,
			     (unsigned long long)s->l1_offset);
		if (s->l1_offset > fsize || (uint64_t)s->l1_size * 8 > fsize - s->l1_offset)
			FAIL("%s: qcow2 L1 table at 0x%llx (%u entries) extends past the end of the file", p,
			     (unsigned long long)s->l1_offset, s->l1_size);
	}

	/* refcount table */
	if (!s->rtable_clusters || (uint64_t)s->rtable_clusters * cs > QCOW2_MAX_RTABLE_BYTES)
		FAIL("%s: bad qcow2 refcount table size (%u clusters)", p, s->rtable_clusters);
	if (s->rtable_offset % cs || s->rtable_offset == 0)
		FAIL("%s: qcow2 refcount table offset 0x%llx not cluster aligned or in the header", p,
		     (unsigned long long)s->rtable_offset);
	if (s->rtable_offset > fsize || (uint64_t)s->rtable_clusters * cs > fsize - s->rtable_offset)
		FAIL("%s: qcow2 refcount table at 0x%llx (%u clusters) extends past the end of the file", p,
		     (unsigned long long)s->rtable_offset, s->rtable_clusters);
	if (s->l1_size && ranges_overlap(s->l1_offset, (uint64_t)s->l1_size * 8, s->rtable_offset,
					 (uint64_t)s->rtable_clusters * cs))
		FAIL("%s: qcow2 L1 table and refcount table overlap", p);

	/* snapshots */
	if (s->nb_snapshots > QCOW2_MAX_SNAPSHOTS)
		FAIL("%s: too many qcow2 snapshots (%u)", p, s->nb_snapshots);
	if (s->nb_snapshots && (s->snapshots_offset % cs || !s->snapshots_offset || s->snapshots_offset >= fsize))
		FAIL("%s: qcow2 snapshot table offset 0x%llx invalid", p, (unsigned long long)s->snapshots_offset);

	/* backing file name: in the first cluster, after the header */
	uint64_t ext_end = cs;
	if (backing_off) {
		if (backing_len == 0 || backing_len >= sizeof(s->backing_file))
			FAIL("%s: qcow2 backing file name length %u invalid", p, backing_len);
		if (backing_off < s->header_length || backing_len > cs || backing_off > cs - backing_len)
			FAIL("%s: qcow2 backing file name at 0x%llx outside the header cluster", p,
			     (unsigned long long)backing_off);
		memcpy(s->backing_file, h + backing_off, backing_len);
		s->backing_file[backing_len] = 0;
		if (strlen(s->backing_file) != backing_len)
			FAIL("%s: qcow2 backing file name contains a NUL byte", p);
		ext_end = backing_off;
	}

	/* header extensions */
	for (uint64_t off = s->header_length; off + 8 <= ext_end;) {
		uint32_t type = be32(h + off), len = be32(h + off + 4);
		if (type == QCOW2_EXT_END)
			break;
		if (len > ext_end - off - 8)
			FAIL("%s: qcow2 header extension 0x%x at 0x%llx overruns the header", p, type,
			     (unsigned long long)off);
		if (type == QCOW2_EXT_BACKING_FORMAT) {
			if (len >= sizeof(s->backing_fmt))
				FAIL("%s: qcow2 backing format name too long", p);
			memcpy(s->backing_fmt, h + off + 8, len);
			s->backing_fmt[len] = 0;
		}
		off += 8 + ((len + 7ull) & ~7ull);
	}
	return 0;
}

static int validate_tables(struct blk *b, struct qcow2 *s, uint64_t fsize, char *err, size_t errlen)
{
	const char *p = b->path;
	uint64_t cs = s->cluster_size;
	for (uint32_t i = 0; i < s->l1_size; i++) {
		uint64_t off = s->l1[i] & QCOW2_OFFSET_MASK;
		if (!off)
			continue;
		if (off % cs)
			FAIL("%s: qcow2 L1 entry %u: L2 table offset 0x%llx not cluster aligned", p, i,
			     (unsigned long long)off);
		if (off >= fsize)
			FAIL("%s: qcow2 L1 entry %u: L2 table offset 0x%llx past the end of the file", p, i,
			     (unsigned long long)off);
		if (ranges_overlap(off, cs, s->l1_offset, (uint64_t)s->l1_size * 8) ||
		    ranges_overlap(off, cs, s->rtable_offset, (uint64_t)s->rtable_clusters * cs))
			FAIL("%s: qcow2 L1 entry %u: L2 table at 0x%llx overlaps the L1 or refcount table", p, i,
			     (unsigned long long)off);
	}
	for (uint64_t i = 0; i < s->rtable_size; i++) {
		uint64_t off = s->rtable[i];
		if (!off)
			continue;
		if (off % cs || off >= fsize)
			FAIL("%s: qcow2 refcount table entry %llu: block offset 0x%llx %s", p,
			     (unsigned long long)i, (unsigned long long)off,
			     off % cs ? "not cluster aligned" : "past the end of the file");
		if (ranges_overlap(off, cs, s->l1_offset, (uint64_t)s->l1_size * 8) ||
		    ranges_overlap(off, cs, s->rtable_offset, (uint64_t)s->rtable_clusters * cs))
			FAIL("%s: qcow2 refcount block at 0x%llx overlaps the L1 or refcount table", p,
			     (unsigned long long)off);
	}
	return 0;
}

static int open_backing(struct blk *b, struct qcow2 *s, const struct blk_chain *chain, char *err, size_t errlen)
{
	char path[4096];
	if (s->backing_file[0] == '/') {
		snprintf(path, sizeof(path), "%s", s->backing_file);
	} else {
		char *dup = strdup(b->path);
		if (!dup)
			return -ENOMEM;
		int n = snprintf(path, sizeof(path), "%s/%s", dirname(dup), s->backing_file);
		free(dup);
		if (n >= (int)sizeof(path))
			FAIL("%s: backing file path too long", b->path);
	}
	enum blk_format f = BLK_FMT_AUTO;
	if (s->backing_fmt[0]) {
		f = blk_format_from_name(s->backing_fmt);
		if (f == BLK_FMT_AUTO)
			FAIL("%s: unsupported backing file format '%s'", b->path, s->backing_fmt);
	}
	char sub[512];
	int r = blk_open_chain(&s->backing, path, f, BLK_O_RDONLY, chain, sub, sizeof(sub));
	/* deeper in the chain the innermost reason is the one that matters */
	if (r < 0 && (r == -ELOOP || strstr(sub, "cannot open backing file")))
		blk_errorf(err, errlen, "%s", sub);
	else if (r < 0)
		blk_errorf(err, errlen, "%s: cannot open backing file: %s", b->path, sub);
	return r;
}

static void qcow2_close(struct blk *b);

static int qcow2_open(struct blk *b, const struct blk_chain *chain, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(b->fd, &st) < 0)
		return -errno;
	uint64_t fsize = (uint64_t)st.st_size;
	uint8_t h0[QCOW2_V3_HEADER_LEN] = { 0 };
	int r = blk_fd_pread(b->fd, h0, sizeof(h0), 0);
	if (r < 0) {
		blk_errorf(err, errlen, "%s: %s", b->path, strerror(-r));
		return r;
	}
	if (be32(h0) != QCOW2_MAGIC)
		FAIL("%s: not a qcow2 image (bad magic)", b->path);
	uint32_t version = be32(h0 + 4), cbits = be32(h0 + 20);
	if (version != 2 && version != 3)
		FAIL("%s: unsupported qcow2 version %u", b->path, version);
	if (cbits < QCOW2_MIN_CLUSTER_BITS || cbits > QCOW2_MAX_CLUSTER_BITS)
		FAIL("%s: bad qcow2 cluster_bits %u (must be 9 to 21)", b->path, cbits);
	if (fsize < QCOW2_V3_HEADER_LEN && (version == 3 || fsize < QCOW2_V2_HEADER_LEN))
		FAIL("%s: qcow2 header truncated (file is %llu bytes)", b->path, (unsigned long long)fsize);

	struct qcow2 *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	b->opaque = s;
	pthread_mutex_init(&s->lock, NULL);
	s->version = (int)version;
	s->cluster_bits = cbits;
	s->cluster_size = 1u << cbits;
	s->file_size_at_open = fsize;
	s->free_hint = 1;
	s->alloc_end = (fsize + s->cluster_size - 1) >> cbits;
	uint8_t *h = calloc(1, s->cluster_size);
	if (!h) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = blk_fd_pread(b->fd, h, s->cluster_size, 0)) < 0 ||
	    (r = parse_header(b, s, h, fsize, err, errlen)) < 0) {
		free(h);
		goto fail;
	}
	free(h);
	bool rdonly = b->flags & BLK_O_RDONLY;
	if (!rdonly && (s->incompat & QCOW2_INCOMPAT_CORRUPT)) {
		blk_errorf(err, errlen, "%s: qcow2 image is marked corrupt; it can only be opened read-only", b->path);
		r = -EINVAL;
		goto fail;
	}
	if (!rdonly && (s->incompat & QCOW2_INCOMPAT_DIRTY)) {
		blk_errorf(err, errlen, "%s: qcow2 image is dirty (lazy refcounts, not closed cleanly); "
			   "repair it with qemu-img check -r all or open it read-only", b->path);
		r = -EINVAL;
		goto fail;
	}
	if (!rdonly && s->nb_snapshots) {
		blk_errorf(err, errlen, "%s: qcow2 image has internal snapshots; it can only be opened read-only", b->path);
		r = -EINVAL;
		goto fail;
	}
	s->rtable_size = (uint64_t)s->rtable_clusters << (cbits - 3);
	if ((r = load_table(b->fd, s->l1_offset, s->l1_size, &s->l1)) < 0 ||
	    (r = load_table(b->fd, s->rtable_offset, s->rtable_size, &s->rtable)) < 0)
		goto fail;
	if ((r = validate_tables(b, s, fsize, err, errlen)) < 0)
		goto fail;
	s->l1_dirty = calloc(((uint64_t)s->l1_size * 8 + 511) / 512 + 1, 1);
	int l2n = (int)((4u << 20) >> cbits), rbn = (int)((1u << 20) >> cbits);
	if (l2n < 8)
		l2n = 8;
	if (l2n > 256)
		l2n = 256;
	if (rbn < 4)
		rbn = 4;
	if (rbn > 64)
		rbn = 64;
	s->zbuf = calloc(1, s->cluster_size);
	s->cbuf = aligned_alloc(512, s->cluster_size);
	s->cmp_in = malloc(2 * (size_t)s->cluster_size);
	s->cmp_out = malloc(s->cluster_size);
	if (!s->l1_dirty || !s->zbuf || !s->cbuf || !s->cmp_in || !s->cmp_out ||
	    qcow2_cache_init(&s->l2c, l2n, s->cluster_size) < 0 ||
	    qcow2_cache_init(&s->rbc, rbn, s->cluster_size) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	if (s->backing_file[0] && !(b->flags & BLK_O_NO_BACKING) &&
	    (r = open_backing(b, s, chain, err, errlen)) < 0)
		goto fail;
	if (!rdonly && s->version >= 3 && s->autoclear) {
		/* qcow2.txt: a writer that does not maintain an autoclear feature clears its bit */
		uint8_t v[8] = { 0 };
		if ((r = blk_fd_pwrite(b->fd, v, 8, HDR_AUTOCLEAR)) < 0)
			goto fail;
		s->autoclear = 0;
		s->unsynced = true;
	}
	return 0;
fail:
	qcow2_close(b);
	b->opaque = NULL;
	return r;
}

static void qcow2_close(struct blk *b)
{
	struct qcow2 *s = b->opaque;
	if (!s)
		return;
	blk_close(s->backing);
	qcow2_cache_free(&s->l2c);
	qcow2_cache_free(&s->rbc);
	free(s->l1);
	free(s->l1_dirty);
	free(s->rtable);
	free(s->frees);
	free(s->zbuf);
	free(s->cbuf);
	free(s->cmp_in);
	free(s->cmp_out);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* --- cluster lookup --- */

/* Where the L2 entry of virtual cluster vc lives: table offset (0 if the L2 table is absent) and
 * index. */
static int l2_locate(struct blk *b, struct qcow2 *s, uint64_t vc, uint64_t *l2off, unsigned *idx)
{
	uint64_t l1i = vc >> s->l2_bits;
	*idx = (unsigned)(vc & ((1u << s->l2_bits) - 1));
	*l2off = 0;
	if (l1i >= s->l1_size)
		return qcow2_corrupt(b, s, "cluster %llu beyond the L1 table", (unsigned long long)vc);
	*l2off = s->l1[l1i] & QCOW2_OFFSET_MASK;
	return 0;
}

static int get_entry(struct blk *b, struct qcow2 *s, uint64_t vc, uint64_t *entry)
{
	uint64_t l2off;
	unsigned idx;
	int r = l2_locate(b, s, vc, &l2off, &idx);
	*entry = 0;
	if (r < 0 || !l2off)
		return r;
	uint8_t *t;
	if ((r = qcow2_l2_get(b, l2off, false, &t)) < 0)
		return r;
	*entry = be64(t + idx * 8);
	return 0;
}

static bool in_metadata(struct qcow2 *s, uint64_t off)
{
	return off < s->cluster_size ||
	       (s->l1_size && ranges_overlap(off, s->cluster_size, s->l1_offset, (uint64_t)s->l1_size * 8)) ||
	       ranges_overlap(off, s->cluster_size, s->rtable_offset, (uint64_t)s->rtable_clusters << s->cluster_bits);
}

/* Checks a standard cluster's host offset; 0 if valid. */
static int check_data_offset(struct blk *b, struct qcow2 *s, uint64_t vc, uint64_t e)
{
	uint64_t off = e & QCOW2_OFFSET_MASK;
	if (off & (s->cluster_size - 1))
		return qcow2_corrupt(b, s, "cluster %llu maps to unaligned offset 0x%llx", (unsigned long long)vc,
				     (unsigned long long)off);
	if ((off >> s->cluster_bits) >= s->alloc_end)
		return qcow2_corrupt(b, s, "cluster %llu maps to offset 0x%llx past the end of the file",
				     (unsigned long long)vc, (unsigned long long)off);
	if (in_metadata(s, off))
		return qcow2_corrupt(b, s, "cluster %llu maps to offset 0x%llx inside the image's metadata",
				     (unsigned long long)vc, (unsigned long long)off);
	if (s->version < 3 && (e & QCOW2_OFLAG_ZERO))
		return qcow2_corrupt(b, s, "zero flag in a version 2 image (cluster %llu)", (unsigned long long)vc);
	return 0;
}

/* Host clusters a compressed entry's data occupies. */
static void compressed_range(const struct qcow2 *s, uint64_t e, uint64_t *off, uint64_t *len)
{
	unsigned x = 62 - (s->cluster_bits - 8);
	*off = e & ((1ull << x) - 1);
	uint64_t sectors = ((e & ~QCOW2_OFLAG_COPIED & ~QCOW2_OFLAG_COMPRESSED) >> x) + 1;
	*len = sectors * 512 - (*off & 511);
}

static int read_compressed(struct blk *b, struct qcow2 *s, uint64_t vc, uint64_t e)
{
	if (s->cmp_cached == e)
		return 0;
	uint64_t off, len;
	compressed_range(s, e, &off, &len);
	if (len > 2ull * s->cluster_size)
		len = 2ull * s->cluster_size;
	if (off >= s->alloc_end << s->cluster_bits || off < s->cluster_size)
		return qcow2_corrupt(b, s, "compressed cluster %llu at offset 0x%llx outside the data area",
				     (unsigned long long)vc, (unsigned long long)off);
	int r = blk_fd_pread(b->fd, s->cmp_in, len, off);
	if (r < 0)
		return r;
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, -12) != Z_OK)
		return -ENOMEM;
	z.next_in = s->cmp_in;
	z.avail_in = (uInt)len;
	z.next_out = s->cmp_out;
	z.avail_out = s->cluster_size;
	int zr = inflate(&z, Z_FINISH);
	bool ok = (zr == Z_STREAM_END || zr == Z_BUF_ERROR || zr == Z_OK) && z.avail_out == 0;
	inflateEnd(&z);
	if (!ok)
		return qcow2_corrupt(b, s, "compressed cluster %llu does not inflate to a full cluster",
				     (unsigned long long)vc);
	s->cmp_cached = e;
	return 0;
}

/* Reads [o, o+n) of virtual cluster vc, whose L2 entry is e, into the iterator. */
static int read_chunk(struct blk *b, struct qcow2 *s, uint64_t vc, uint64_t e, uint32_t o, uint32_t n,
		      struct iov_iter *it)
{
	int r;
	if (e & QCOW2_OFLAG_COMPRESSED) {
		if ((r = read_compressed(b, s, vc, e)) < 0)
			return r;
		iov_iter_copy_to(it, s->cmp_out + o, n);
		return 0;
	}
	uint64_t off = e & QCOW2_OFFSET_MASK;
	if (off && !(e & QCOW2_OFLAG_ZERO)) {
		if ((r = check_data_offset(b, s, vc, e)) < 0)
			return r;
		struct iovec v[64];
		struct iov_iter save = *it;
		int cnt = iov_iter_take(it, n, v, 64);
		if (cnt >= 0)
			return blk_fd_preadv(b->fd, v, cnt, off + o);
		*it = save;
		if ((r = blk_fd_pread(b->fd, s->cbuf, n, off + o)) < 0)
			return r;
		iov_iter_copy_to(it, s->cbuf, n);
		return 0;
	}
	if (e & QCOW2_OFLAG_ZERO) {
		if (s->version < 3)
			return qcow2_corrupt(b, s, "zero flag in a version 2 image (cluster %llu)", (unsigned long long)vc);
		iov_iter_zero(it, n);
		return 0;
	}
	if (e & ~QCOW2_OFLAG_COPIED)
		return qcow2_corrupt(b, s, "cluster %llu has an invalid L2 entry 0x%llx", (unsigned long long)vc,
				     (unsigned long long)e);
	uint64_t voff = (vc << s->cluster_bits) + o;
	if (!s->backing) {
		if (s->backing_file[0])
			return -EIO; /* opened without its backing file */
		iov_iter_zero(it, n);
		return 0;
	}
	/* from the backing file, zeros past its end */
	uint64_t blim = (blk_size(s->backing) + 511) & ~511ull, in = 0;
	if (voff < blim)
		in = blim - voff < n ? blim - voff : n;
	if (in) {
		struct iovec v[64];
		struct iov_iter save = *it;
		int cnt = iov_iter_take(it, in, v, 64);
		if (cnt >= 0) {
			r = blk_preadv(s->backing, voff, v, cnt);
		} else {
			*it = save;
			r = blk_pread(s->backing, voff, s->cbuf, in);
			iov_iter_copy_to(it, s->cbuf, in);
		}
		if (r < 0)
			return r;
	}
	iov_iter_zero(it, n - in);
	return 0;
}

static int do_read(struct blk *b, struct qcow2 *s, uint64_t off, const struct iovec *iov, int iovcnt)
{
	struct iov_iter it;
	iov_iter_init(&it, iov, iovcnt);
	uint64_t left = iov_total(iov, iovcnt);
	while (left) {
		uint64_t vc = off >> s->cluster_bits;
		uint32_t o = (uint32_t)(off & (s->cluster_size - 1));
		uint32_t n = s->cluster_size - o < left ? s->cluster_size - o : (uint32_t)left;
		uint64_t e;
		int r = get_entry(b, s, vc, &e);
		if (r < 0 || (r = read_chunk(b, s, vc, e, o, n, &it)) < 0)
			return r;
		off += n;
		left -= n;
	}
	return 0;
}

static int qcow2_preadv(struct blk *b, uint64_t off, const struct iovec *iov, int iovcnt)
{
	struct qcow2 *s = b->opaque;
	pthread_mutex_lock(&s->lock);
	int r = do_read(b, s, off, iov, iovcnt);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* --- write --- */

/* L2 table for virtual cluster vc, allocating it if absent. */
static int l2_for_write(struct blk *b, struct qcow2 *s, uint64_t vc, uint8_t **table, unsigned *idx)
{
	uint64_t l2off;
	int r = l2_locate(b, s, vc, &l2off, idx);
	if (r < 0)
		return r;
	uint64_t l1i = vc >> s->l2_bits;
	if (l2off && !(s->l1[l1i] & QCOW2_OFLAG_COPIED)) {
		uint64_t rc;
		if ((r = qcow2_refcount_get(b, l2off >> s->cluster_bits, &rc)) < 0)
			return r;
		if (rc != 1)
			return qcow2_corrupt(b, s, "L2 table at 0x%llx is shared (refcount %llu)",
					     (unsigned long long)l2off, (unsigned long long)rc);
		s->l1[l1i] |= QCOW2_OFLAG_COPIED;
		s->l1_dirty[l1i / 64] = 1;
	}
	if (l2off)
		return qcow2_l2_get(b, l2off, false, table);
	if ((r = qcow2_alloc_cluster(b, &l2off)) < 0)
		return r;
	if ((r = qcow2_l2_get(b, l2off, true, table)) < 0)
		return r;
	s->l1[l1i] = l2off | QCOW2_OFLAG_COPIED;
	s->l1_dirty[l1i / 64] = 1;
	return 0;
}

/* Releases the host clusters an L2 entry owns (after the tables stop pointing at them). */
static int release_entry(struct qcow2 *s, uint64_t e)
{
	if (e & QCOW2_OFLAG_COMPRESSED) {
		uint64_t off, len;
		compressed_range(s, e, &off, &len);
		uint64_t c0 = off >> s->cluster_bits, c1 = (off + len - 1) >> s->cluster_bits;
		if (s->cmp_cached == e)
			s->cmp_cached = 0;
		return qcow2_queue_free(s, c0 << s->cluster_bits, c1 - c0 + 1);
	}
	uint64_t off = e & QCOW2_OFFSET_MASK;
	return off ? qcow2_queue_free(s, off, 1) : 0;
}

/* Writes [o, o+n) of virtual cluster vc from the iterator (or zeros when it is NULL). */
static int write_chunk(struct blk *b, struct qcow2 *s, uint64_t vc, uint32_t o, uint32_t n, struct iov_iter *it)
{
	uint8_t *t;
	unsigned idx;
	int r = l2_for_write(b, s, vc, &t, &idx);
	if (r < 0)
		return r;
	uint64_t e = be64(t + idx * 8);
	uint64_t off = e & QCOW2_OFFSET_MASK;
	bool compressed = e & QCOW2_OFLAG_COMPRESSED;
	if (!compressed && off && (r = check_data_offset(b, s, vc, e)) < 0)
		return r;
	if (!compressed && off && (e & QCOW2_OFLAG_COPIED) && !(e & QCOW2_OFLAG_ZERO)) {
		/* allocated and owned: overwrite in place */
		s->unsynced = true;
		if (!it)
			return blk_fd_pwrite(b->fd, s->zbuf, n, off + o);
		struct iovec v[64];
		struct iov_iter save = *it;
		int cnt = iov_iter_take(it, n, v, 64);
		if (cnt >= 0)
			return blk_fd_pwritev(b->fd, v, cnt, off + o);
		*it = save;
		iov_iter_copy_from(it, s->cbuf, n);
		return blk_fd_pwrite(b->fd, s->cbuf, n, off + o);
	}

	/* copy-on-write: the new cluster gets the old contents around the written range */
	uint64_t vstart = vc << s->cluster_bits;
	uint32_t vlen = b->size - vstart < s->cluster_size ? (uint32_t)(b->size - vstart) : s->cluster_size;
	vlen = (vlen + 511) & ~511u;
	bool reuse = !compressed && off && (e & QCOW2_OFLAG_COPIED); /* preallocated zero cluster */
	uint64_t dst = off;
	if (!reuse && (r = qcow2_alloc_cluster(b, &dst)) < 0)
		return r;
	if (in_metadata(s, dst))
		return qcow2_corrupt(b, s, "allocated cluster 0x%llx lies in the image's metadata",
				     (unsigned long long)dst);
	if (o == 0 && n >= vlen) {
		memset(s->cbuf, 0, s->cluster_size);
		if (it)
			iov_iter_copy_from(it, s->cbuf, n);
	} else {
		if (reuse) {
			memset(s->cbuf, 0, s->cluster_size);
		} else {
			struct iovec v = { s->cbuf, vlen };
			struct iov_iter old;
			iov_iter_init(&old, &v, 1);
			if ((r = read_chunk(b, s, vc, e, 0, vlen, &old)) < 0)
				return r;
		}
		if (it)
			iov_iter_copy_from(it, s->cbuf + o, n);
		else
			memset(s->cbuf + o, 0, n);
	}
	if ((r = blk_fd_pwrite(b->fd, s->cbuf, vlen, dst)) < 0)
		return r;
	s->unsynced = true;
	/* refetch: reading the old contents may have evicted the table */
	if ((r = l2_for_write(b, s, vc, &t, &idx)) < 0)
		return r;
	put_be64(t + idx * 8, dst | QCOW2_OFLAG_COPIED);
	qcow2_l2_mark_dirty(s, t);
	if (!reuse && (compressed || off))
		return release_entry(s, e);
	return 0;
}

static int do_write(struct blk *b, struct qcow2 *s, uint64_t off, uint64_t len, struct iov_iter *it)
{
	if (s->broken)
		return -EIO;
	while (len) {
		uint64_t vc = off >> s->cluster_bits;
		uint32_t o = (uint32_t)(off & (s->cluster_size - 1));
		uint32_t n = s->cluster_size - o < len ? s->cluster_size - o : (uint32_t)len;
		int r = write_chunk(b, s, vc, o, n, it);
		if (r < 0)
			return r;
		off += n;
		len -= n;
	}
	return qcow2_release_frees(b);
}

static int qcow2_pwritev(struct blk *b, uint64_t off, const struct iovec *iov, int iovcnt)
{
	struct qcow2 *s = b->opaque;
	struct iov_iter it;
	iov_iter_init(&it, iov, iovcnt);
	pthread_mutex_lock(&s->lock);
	int r = do_write(b, s, off, iov_total(iov, iovcnt), &it);
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int qcow2_flush(struct blk *b)
{
	struct qcow2 *s = b->opaque;
	pthread_mutex_lock(&s->lock);
	s->unsynced = true; /* always end with fdatasync, even with clean caches */
	int r = qcow2_sync_all(b);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/*
 * Sets whole clusters [vc0, vc1) to `zero` (zero flag) or to unallocated, releasing their host
 * clusters; keep_alloc keeps owned allocations as preallocated zero clusters instead.
 */
static int set_clusters(struct blk *b, struct qcow2 *s, uint64_t vc0, uint64_t vc1, bool zero, bool keep_alloc)
{
	for (uint64_t vc = vc0; vc < vc1; vc++) {
		uint64_t l2off;
		unsigned idx;
		int r = l2_locate(b, s, vc, &l2off, &idx);
		if (r < 0)
			return r;
		/* without a backing file, unallocated clusters already read as zeros */
		bool zero_is_free = !s->backing_file[0];
		if (!l2off && (!zero || zero_is_free))
			continue;
		uint8_t *t;
		if ((r = l2_for_write(b, s, vc, &t, &idx)) < 0)
			return r;
		uint64_t e = be64(t + idx * 8), ne;
		if (!e && zero && zero_is_free)
			continue;
		bool comp = e & QCOW2_OFLAG_COMPRESSED;
		uint64_t off = comp ? 0 : e & QCOW2_OFFSET_MASK;
		if (off && (r = check_data_offset(b, s, vc, e)) < 0)
			return r;
		if (keep_alloc && off && (e & QCOW2_OFLAG_COPIED))
			ne = off | QCOW2_OFLAG_COPIED | QCOW2_OFLAG_ZERO;
		else
			ne = zero ? QCOW2_OFLAG_ZERO : 0;
		if (ne == e)
			continue;
		put_be64(t + idx * 8, ne);
		qcow2_l2_mark_dirty(s, t);
		if (!(ne & QCOW2_OFFSET_MASK) && (r = release_entry(s, e)) < 0)
			return r;
	}
	return 0;
}

/* Whole-cluster part of [off, off+len): clusters [*vc0, *vc1). The last cluster counts as whole
 * when the range reaches the end of the disk. */
static void whole_clusters(struct blk *b, struct qcow2 *s, uint64_t off, uint64_t len, uint64_t *vc0, uint64_t *vc1)
{
	uint64_t cs = s->cluster_size, end = off + len;
	*vc0 = (off + cs - 1) >> s->cluster_bits;
	*vc1 = end >= b->size ? (b->size + cs - 1) >> s->cluster_bits : end >> s->cluster_bits;
	if (*vc1 < *vc0)
		*vc1 = *vc0;
}

static int qcow2_discard(struct blk *b, uint64_t off, uint64_t len)
{
	struct qcow2 *s = b->opaque;
	uint64_t vc0, vc1;
	pthread_mutex_lock(&s->lock);
	int r = s->broken ? -EIO : 0;
	whole_clusters(b, s, off, len, &vc0, &vc1);
	/* an overlay keeps discarded clusters reading as zeros, not as the backing file's data */
	if (!r)
		r = set_clusters(b, s, vc0, vc1, s->version >= 3 && s->backing_file[0], false);
	if (r >= 0)
		r = qcow2_release_frees(b);
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int qcow2_write_zeroes(struct blk *b, uint64_t off, uint64_t len, unsigned flags)
{
	struct qcow2 *s = b->opaque;
	uint64_t vc0, vc1;
	pthread_mutex_lock(&s->lock);
	int r = s->broken ? -EIO : 0;
	whole_clusters(b, s, off, len, &vc0, &vc1);
	uint64_t w0 = vc0 << s->cluster_bits, w1 = vc1 << s->cluster_bits;
	if (s->version < 3 || vc0 == vc1) {
		w0 = w1 = off + len; /* no zero flag: write zeros everywhere */
	} else if (!r) {
		r = set_clusters(b, s, vc0, vc1, true, !(flags & BLK_ZERO_MAY_UNMAP));
	}
	/* partial clusters at either end (or everything without the zero flag) */
	if (r >= 0 && off < w0)
		r = do_write(b, s, off, w0 - off, NULL);
	if (r >= 0 && w1 < off + len)
		r = do_write(b, s, w1, off + len - w1, NULL);
	if (r >= 0)
		r = qcow2_release_frees(b);
	pthread_mutex_unlock(&s->lock);
	return r;
}

static void qcow2_info(struct blk *b, struct blk_info *info)
{
	struct qcow2 *s = b->opaque;
	info->cluster_size = s->cluster_size;
	info->qcow2_version = s->version;
	snprintf(info->backing_file, sizeof(info->backing_file), "%s", s->backing_file);
	snprintf(info->backing_format, sizeof(info->backing_format), "%s", s->backing_fmt);
	info->dirty = s->incompat & QCOW2_INCOMPAT_DIRTY;
	info->corrupt = s->incompat & QCOW2_INCOMPAT_CORRUPT;
}

int qcow2_check(struct blk *b, struct blk_check_result *res, FILE *report);

const struct blk_driver blk_qcow2_driver = {
	.name = "qcow2",
	.open = qcow2_open,
	.close = qcow2_close,
	.preadv = qcow2_preadv,
	.pwritev = qcow2_pwritev,
	.flush = qcow2_flush,
	.discard = qcow2_discard,
	.write_zeroes = qcow2_write_zeroes,
	.info = qcow2_info,
	.check = qcow2_check,
};
