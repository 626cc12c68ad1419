/*
 * qcow2 metadata: the L2 table and refcount block caches (write-back, LRU), refcount reads and
 * updates at every refcount width (refcount_order 0..6), cluster allocation, refcount block
 * allocation and refcount table growth (qcow2.txt "Host cluster management").
 *
 * Ordering keeps a crash from corrupting the image: a refcount increment reaches the disk (and is
 * synced) before any table that uses the cluster; a decrement is only made after the tables that
 * stopped using the cluster are synced (qcow2_queue_free / qcow2_release_frees). A crash can leak
 * clusters, never leave a table pointing at a free one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/qcow2.h"

int qcow2_cache_init(struct qcow2_cache *c, int n, uint32_t cluster_size)
{
	c->n = n;
	c->tick = 0;
	c->e = calloc((size_t)n, sizeof(*c->e));
	if (!c->e)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		c->e[i].data = aligned_alloc(512, cluster_size);
		if (!c->e[i].data)
			return -ENOMEM;
	}
	return 0;
}

void qcow2_cache_free(struct qcow2_cache *c)
{
	if (!c->e)
		return;
	for (int i = 0; i < c->n; i++)
		free(c->e[i].data);
	free(c->e);
	c->e = NULL;
}

void qcow2_cache_drop(struct qcow2_cache *c, uint64_t offset)
{
	for (int i = 0; i < c->n; i++)
		if (c->e[i].offset == offset) {
			c->e[i].offset = 0;
			c->e[i].dirty = false;
		}
}

static int do_sync(struct blk *b)
{
	struct qcow2 *s = b->opaque;
	if (!s->unsynced)
		return 0;
	if (fdatasync(b->fd) < 0)
		return -errno;
	s->unsynced = false;
	return 0;
}

static int write_entry(struct blk *b, struct qcow2_cache_entry *e)
{
	struct qcow2 *s = b->opaque;
	int r = blk_fd_pwrite(b->fd, e->data, s->cluster_size, e->offset);
	if (r < 0)
		return r;
	e->dirty = false;
	s->unsynced = true;
	return 0;
}

static int cache_writeback(struct blk *b, struct qcow2_cache *c)
{
	for (int i = 0; i < c->n; i++)
		if (c->e[i].offset && c->e[i].dirty) {
			int r = write_entry(b, &c->e[i]);
			if (r < 0)
				return r;
		}
	return 0;
}

int qcow2_sync_refcounts(struct blk *b)
{
	struct qcow2 *s = b->opaque;
	int r = cache_writeback(b, &s->rbc);
	if (r < 0)
		return r;
	if (s->rtable_dirty) {
		/* blocks first: the table must never point at an unwritten block */
		if ((r = do_sync(b)) < 0)
			return r;
		size_t bytes = (size_t)s->rtable_clusters << s->cluster_bits;
		uint8_t *buf = calloc(1, bytes);
		if (!buf)
			return -ENOMEM;
		for (uint64_t i = 0; i < s->rtable_size; i++)
			put_be64(buf + i * 8, s->rtable[i]);
		r = blk_fd_pwrite(b->fd, buf, bytes, s->rtable_offset);
		free(buf);
		if (r < 0)
			return r;
		s->rtable_dirty = false;
		s->unsynced = true;
	}
	return do_sync(b);
}

static int sync_l2(struct blk *b)
{
	struct qcow2 *s = b->opaque;
	int r = qcow2_sync_refcounts(b);
	if (r < 0 || (r = cache_writeback(b, &s->l2c)) < 0)
		return r;
	return do_sync(b);
}

int qcow2_sync_all(struct blk *b)
{
	struct qcow2 *s = b->opaque;
	int r = sync_l2(b);
	if (r < 0)
		return r;
	uint64_t sectors = ((uint64_t)s->l1_size * 8 + 511) / 512;
	for (uint64_t i = 0; i < sectors; i++) {
		if (!s->l1_dirty[i])
			continue;
		uint8_t buf[512] = { 0 };
		for (unsigned j = 0; j < 64 && i * 64 + j < s->l1_size; j++)
			put_be64(buf + j * 8, s->l1[i * 64 + j]);
		size_t len = (i + 1 == sectors && s->l1_size % 64) ? (s->l1_size % 64) * 8 : 512;
		if ((r = blk_fd_pwrite(b->fd, buf, len, s->l1_offset + i * 512)) < 0)
			return r;
		s->l1_dirty[i] = 0;
		s->unsynced = true;
	}
	return do_sync(b);
}

static int cache_get(struct blk *b, struct qcow2_cache *c, bool is_l2, uint64_t offset, bool fresh,
		     uint8_t **out)
{
	struct qcow2 *s = b->opaque;
	struct qcow2_cache_entry *victim = NULL;
	for (int i = 0; i < c->n; i++) {
		struct qcow2_cache_entry *e = &c->e[i];
		if (e->offset == offset) {
			e->lru = ++c->tick;
			if (fresh) {
				memset(e->data, 0, s->cluster_size);
				e->dirty = true;
			}
			*out = e->data;
			return 0;
		}
		if (!victim || (victim->offset && (!e->offset || e->lru < victim->lru)))
			victim = e;
	}
	if (victim->offset && victim->dirty) {
		/* An L2 table may point at clusters whose refcounts are still in the cache: sync those
		 * first, then write every dirty table, so the next evictions need no sync. */
		int r = is_l2 ? qcow2_sync_refcounts(b) : 0;
		if (r < 0 || (r = is_l2 ? cache_writeback(b, c) : write_entry(b, victim)) < 0)
			return r;
	}
	victim->offset = 0;
	if (fresh) {
		memset(victim->data, 0, s->cluster_size);
		victim->dirty = true;
	} else {
		int r = blk_fd_pread(b->fd, victim->data, s->cluster_size, offset);
		if (r < 0)
			return r;
		victim->dirty = false;
	}
	victim->offset = offset;
	victim->lru = ++c->tick;
	*out = victim->data;
	return 0;
}

int qcow2_l2_get(struct blk *b, uint64_t offset, bool fresh, uint8_t **out)
{
	struct qcow2 *s = b->opaque;
	return cache_get(b, &s->l2c, true, offset, fresh, out);
}

int qcow2_rb_get(struct blk *b, uint64_t offset, bool fresh, uint8_t **out)
{
	struct qcow2 *s = b->opaque;
	return cache_get(b, &s->rbc, false, offset, fresh, out);
}

static void mark_dirty(struct qcow2_cache *c, const uint8_t *table)
{
	for (int i = 0; i < c->n; i++)
		if (c->e[i].data == table)
			c->e[i].dirty = true;
}

void qcow2_l2_mark_dirty(struct qcow2 *s, const uint8_t *table)
{
	mark_dirty(&s->l2c, table);
}

/* --- refcounts --- */

uint64_t qcow2_rb_read(const uint8_t *blk, unsigned order, uint64_t i)
{
	switch (order) {
	case 0: case 1: case 2: {
		unsigned bits = 1u << order;
		uint64_t bit = i * bits;
		return (blk[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
	}
	case 3: return blk[i];
	case 4: return be16(blk + i * 2);
	case 5: return be32(blk + i * 4);
	default: return be64(blk + i * 8);
	}
}

void qcow2_rb_write(uint8_t *blk, unsigned order, uint64_t i, uint64_t v)
{
	switch (order) {
	case 0: case 1: case 2: {
		unsigned bits = 1u << order;
		uint64_t bit = i * bits;
		unsigned mask = ((1u << bits) - 1) << (bit % 8);
		blk[bit / 8] = (uint8_t)((blk[bit / 8] & ~mask) | ((v << (bit % 8)) & mask));
		break;
	}
	case 3: blk[i] = (uint8_t)v; break;
	case 4: put_be16(blk + i * 2, (uint16_t)v); break;
	case 5: put_be32(blk + i * 4, (uint32_t)v); break;
	default: put_be64(blk + i * 8, v); break;
	}
}

static uint64_t refcount_max(const struct qcow2 *s)
{
	return s->refcount_order == 6 ? UINT64_MAX : (1ull << (1u << s->refcount_order)) - 1;
}

int qcow2_refcount_get(struct blk *b, uint64_t cluster, uint64_t *val)
{
	struct qcow2 *s = b->opaque;
	uint64_t ti = cluster >> s->rb_bits;
	*val = 0;
	if (ti >= s->rtable_size || !s->rtable[ti])
		return 0;
	uint8_t *blk;
	int r = qcow2_rb_get(b, s->rtable[ti], false, &blk);
	if (r < 0)
		return r;
	*val = qcow2_rb_read(blk, s->refcount_order, cluster & ((1ull << s->rb_bits) - 1));
	return 0;
}

static int ensure_refblock(struct blk *b, uint64_t ti);

/* Lowest cluster index at or above the hint with refcount 0. */
static int find_free(struct blk *b, uint64_t *out)
{
	struct qcow2 *s = b->opaque;
	for (uint64_t i = s->free_hint;; i++) {
		uint64_t ti = i >> s->rb_bits;
		if (ti >= s->rtable_size || !s->rtable[ti]) {
			*out = s->free_hint = i; /* everything below is in use */
			return 0;
		}
		uint64_t v;
		int r = qcow2_refcount_get(b, i, &v);
		if (r < 0)
			return r;
		if (!v) {
			*out = s->free_hint = i;
			return 0;
		}
		if (i >= (QCOW2_MAX_VIRTUAL_SIZE >> s->cluster_bits))
			return -ENOSPC;
	}
}

static void note_used(struct qcow2 *s, uint64_t cluster)
{
	if (cluster >= s->alloc_end)
		s->alloc_end = cluster + 1;
	if (cluster == s->free_hint)
		s->free_hint = cluster + 1;
}

/*
 * Grows the refcount table to at least min_entries. The new table and the refcount blocks needed
 * to describe it go at the end of the file, where nothing is allocated, so that placing them never
 * needs the table being grown. The header is switched to the new table only after the new table
 * and blocks are on disk; the old table's clusters are freed afterwards.
 */
static int grow_rtable(struct blk *b, uint64_t min_entries)
{
	struct qcow2 *s = b->opaque;
	uint64_t per_cluster = s->cluster_size / 8;
	uint64_t want = s->rtable_size * 2 > min_entries ? s->rtable_size * 2 : min_entries;
	uint64_t T = (want + per_cluster - 1) / per_cluster;
	uint64_t E = s->alloc_end, B;
	for (;;) {
		B = 0;
		for (uint64_t prev = ~0ull; prev != B;) {
			prev = B;
			B = 0;
			for (uint64_t t = E >> s->rb_bits; t <= (E + T + prev - 1) >> s->rb_bits; t++)
				if (t >= s->rtable_size || !s->rtable[t])
					B++;
		}
		if (((E + T + B - 1) >> s->rb_bits) < T * per_cluster)
			break;
		T++;
	}
	if (T * s->cluster_size > QCOW2_MAX_RTABLE_BYTES)
		return -EFBIG;
	uint64_t entries = T * per_cluster;
	uint64_t *nt = calloc(entries, 8);
	uint8_t *blk = calloc(1, s->cluster_size);
	if (!nt || !blk) {
		free(nt);
		free(blk);
		return -ENOMEM;
	}
	memcpy(nt, s->rtable, s->rtable_size * 8);
	uint64_t next_block = E + T;
	for (uint64_t t = E >> s->rb_bits; t <= (E + T + B - 1) >> s->rb_bits; t++)
		if (!nt[t])
			nt[t] = next_block++ << s->cluster_bits;
	int r = 0;
	/* refcounts of [E, E+T+B): in the new blocks directly, in existing blocks through the cache */
	uint64_t mask = (1ull << s->rb_bits) - 1;
	for (uint64_t t = E >> s->rb_bits; t <= (E + T + B - 1) >> s->rb_bits && r >= 0; t++) {
		uint64_t lo = t << s->rb_bits > E ? t << s->rb_bits : E;
		uint64_t hi = ((t + 1) << s->rb_bits) < E + T + B ? (t + 1) << s->rb_bits : E + T + B;
		if (t < s->rtable_size && s->rtable[t]) {
			uint8_t *rb;
			if ((r = qcow2_rb_get(b, s->rtable[t], false, &rb)) < 0)
				break;
			for (uint64_t c = lo; c < hi; c++)
				qcow2_rb_write(rb, s->refcount_order, c & mask, 1);
			mark_dirty(&s->rbc, rb);
		} else {
			memset(blk, 0, s->cluster_size);
			for (uint64_t c = lo; c < hi; c++)
				qcow2_rb_write(blk, s->refcount_order, c & mask, 1);
			r = blk_fd_pwrite(b->fd, blk, s->cluster_size, nt[t]);
		}
	}
	free(blk);
	if (r >= 0) {
		uint8_t *tb = calloc(entries, 8);
		if (!tb)
			r = -ENOMEM;
		for (uint64_t i = 0; tb && i < entries; i++)
			put_be64(tb + i * 8, nt[i]);
		if (tb)
			r = blk_fd_pwrite(b->fd, tb, entries * 8, E << s->cluster_bits);
		free(tb);
	}
	s->unsynced = true;
	if (r >= 0)
		r = qcow2_sync_refcounts(b);
	if (r < 0) {
		free(nt);
		return r;
	}
	uint8_t hdr[12];
	put_be64(hdr, E << s->cluster_bits);
	put_be32(hdr + 8, (uint32_t)T);
	if ((r = blk_fd_pwrite(b->fd, hdr, sizeof(hdr), HDR_RTABLE_OFFSET)) < 0 ||
	    (fdatasync(b->fd) < 0 && (r = -errno))) {
		free(nt);
		return r;
	}
	uint64_t old_off = s->rtable_offset, old_clusters = s->rtable_clusters;
	free(s->rtable);
	s->rtable = nt;
	s->rtable_size = entries;
	s->rtable_offset = E << s->cluster_bits;
	s->rtable_clusters = (uint32_t)T;
	s->rtable_dirty = false;
	s->alloc_end = E + T + B;
	for (uint64_t i = 0; i < old_clusters && r >= 0; i++)
		r = qcow2_refcount_update(b, (old_off >> s->cluster_bits) + i, -1);
	return r;
}

/* Makes sure refcount table slot ti has a refcount block, allocating one (qcow2.txt: a new block
 * may describe itself when it lies in the range it covers). */
static int ensure_refblock(struct blk *b, uint64_t ti)
{
	struct qcow2 *s = b->opaque;
	int r;
	if (ti >= s->rtable_size && (r = grow_rtable(b, ti + 1)) < 0)
		return r;
	while (!s->rtable[ti]) {
		uint64_t f;
		if ((r = find_free(b, &f)) < 0)
			return r;
		uint64_t tf = f >> s->rb_bits;
		uint8_t *blk;
		if (tf == ti) {
			if ((r = qcow2_rb_get(b, f << s->cluster_bits, true, &blk)) < 0)
				return r;
			qcow2_rb_write(blk, s->refcount_order, f & ((1ull << s->rb_bits) - 1), 1);
		} else if (tf < s->rtable_size && s->rtable[tf]) {
			if ((r = qcow2_refcount_update(b, f, 1)) < 0)
				return r;
			if ((r = qcow2_rb_get(b, f << s->cluster_bits, true, &blk)) < 0)
				return r;
		} else {
			/* the free cluster's own range has no block yet: make that one first */
			if ((r = ensure_refblock(b, tf)) < 0)
				return r;
			continue;
		}
		s->rtable[ti] = f << s->cluster_bits;
		s->rtable_dirty = true;
		note_used(s, f);
	}
	return 0;
}

int qcow2_refcount_update(struct blk *b, uint64_t cluster, int delta)
{
	struct qcow2 *s = b->opaque;
	uint64_t ti = cluster >> s->rb_bits;
	int r;
	if (delta > 0 && (r = ensure_refblock(b, ti)) < 0)
		return r;
	if (ti >= s->rtable_size || !s->rtable[ti])
		return qcow2_corrupt(b, s, "freeing cluster 0x%llx that has no refcount block",
				     (unsigned long long)cluster);
	uint8_t *blk;
	if ((r = qcow2_rb_get(b, s->rtable[ti], false, &blk)) < 0)
		return r;
	uint64_t i = cluster & ((1ull << s->rb_bits) - 1);
	uint64_t v = qcow2_rb_read(blk, s->refcount_order, i);
	if (delta < 0 && v < (uint64_t)-delta)
		return qcow2_corrupt(b, s, "refcount of cluster 0x%llx would drop below zero",
				     (unsigned long long)cluster);
	if (delta > 0 && v > refcount_max(s) - (uint64_t)delta)
		return qcow2_corrupt(b, s, "refcount of cluster 0x%llx overflows", (unsigned long long)cluster);
	v += (uint64_t)(int64_t)delta;
	qcow2_rb_write(blk, s->refcount_order, i, v);
	mark_dirty(&s->rbc, blk);
	if (delta > 0)
		note_used(s, cluster);
	else if (!v && cluster < s->free_hint)
		s->free_hint = cluster;
	return 0;
}

int qcow2_alloc_cluster(struct blk *b, uint64_t *offset)
{
	struct qcow2 *s = b->opaque;
	for (;;) {
		uint64_t f;
		int r = find_free(b, &f);
		if (r < 0)
			return r;
		/* allocating the block that will count f may itself use f: then look again */
		if ((r = ensure_refblock(b, f >> s->rb_bits)) < 0)
			return r;
		uint64_t v;
		if ((r = qcow2_refcount_get(b, f, &v)) < 0)
			return r;
		if (v)
			continue;
		if ((r = qcow2_refcount_update(b, f, 1)) < 0)
			return r;
		*offset = f << s->cluster_bits;
		return 0;
	}
}

int qcow2_queue_free(struct qcow2 *s, uint64_t offset, uint64_t clusters)
{
	if (s->nfrees == s->frees_cap) {
		size_t cap = s->frees_cap ? s->frees_cap * 2 : 16;
		struct qcow2_free *n = realloc(s->frees, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->frees = n;
		s->frees_cap = cap;
	}
	s->frees[s->nfrees++] = (struct qcow2_free){ offset, clusters };
	return 0;
}

int qcow2_release_frees(struct blk *b)
{
	struct qcow2 *s = b->opaque;
	if (!s->nfrees)
		return 0;
	int r = qcow2_sync_all(b); /* the tables no longer pointing at them are durable first */
	uint64_t hole = 0, hole_len = 0; /* a run of freed clusters, punched out in one call */
	for (size_t i = 0; i < s->nfrees && r >= 0; i++) {
		uint64_t c0 = s->frees[i].offset >> s->cluster_bits;
		for (uint64_t c = c0; c < c0 + s->frees[i].clusters && r >= 0; c++) {
			r = qcow2_refcount_update(b, c, -1);
			uint64_t v = 1;
			if (r < 0 || (r = qcow2_refcount_get(b, c, &v)) < 0 || v)
				continue;
			if (hole_len && hole + hole_len == c) {
				hole_len++;
				continue;
			}
			if (hole_len)
				fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					  (off_t)(hole << s->cluster_bits), (off_t)(hole_len << s->cluster_bits));
			hole = c;
			hole_len = 1;
		}
	}
	if (hole_len)
		fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			  (off_t)(hole << s->cluster_bits), (off_t)(hole_len << s->cluster_bits));
	s->nfrees = 0;
	return r;
}
