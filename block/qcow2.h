/*
 * qcow2 internals shared by qcow2.c (open, requests), qcow2_meta.c (table caches, refcounts,
 * cluster allocation) and qcow2_check.c (img check, img create). Format: QEMU's
 * docs/interop/qcow2.txt, versions 2 and 3.
 */
#ifndef SOFTVM_QCOW2_H
#define SOFTVM_QCOW2_H
#include <pthread.h>

#include "block/block_int.h"

#define QCOW2_MAGIC 0x514649fbu /* "QFI\xfb" */
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_DEFAULT_CLUSTER_BITS 16
#define QCOW2_MAX_L1_BYTES (32u << 20)      /* QEMU's limit too */
#define QCOW2_MAX_RTABLE_BYTES (8u << 20)
#define QCOW2_MAX_VIRTUAL_SIZE (1ull << 56)
#define QCOW2_MAX_SNAPSHOTS 65536
#define QCOW2_V2_HEADER_LEN 72
#define QCOW2_V3_HEADER_LEN 104

/* Header field offsets (qcow2.txt "Header"). */
#define HDR_BACKING_OFFSET 8
#define HDR_RTABLE_OFFSET 48   /* refcount_table_offset (8) then refcount_table_clusters (4) */
#define HDR_INCOMPAT 72
#define HDR_AUTOCLEAR 88

#define QCOW2_INCOMPAT_DIRTY (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ull << 1)
#define QCOW2_INCOMPAT_KNOWN (QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT)

#define QCOW2_EXT_END 0
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau

/* Table entries (qcow2.txt "Cluster mapping"). */
#define QCOW2_OFLAG_COPIED (1ull << 63)
#define QCOW2_OFLAG_COMPRESSED (1ull << 62)
#define QCOW2_OFLAG_ZERO 1ull
#define QCOW2_OFFSET_MASK 0x00fffffffffffe00ull

struct qcow2_cache_entry {
	uint64_t offset; /* 0: empty */
	uint8_t *data;
	uint64_t lru;
	bool dirty;
};

struct qcow2_cache {
	int n;
	struct qcow2_cache_entry *e;
	uint64_t tick;
};

struct qcow2_free { uint64_t offset, clusters; };

struct qcow2 {
	pthread_mutex_t lock;
	int version;
	unsigned cluster_bits;
	uint32_t cluster_size;
	unsigned l2_bits;              /* log2 of entries per L2 table */
	uint64_t file_size_at_open;
	uint32_t header_length;
	uint64_t incompat, compat, autoclear;

	uint64_t *l1;                  /* host byte order */
	uint32_t l1_size;
	uint64_t l1_offset;
	uint8_t *l1_dirty;             /* one flag per 512-byte sector of the L1 table */

	unsigned refcount_order;       /* refcount width is 1 << order bits */
	unsigned rb_bits;              /* log2 of refcounts per refcount block */
	uint64_t *rtable;
	uint64_t rtable_size;          /* entries */
	uint64_t rtable_offset;
	uint32_t rtable_clusters;
	bool rtable_dirty;

	uint32_t nb_snapshots;
	uint64_t snapshots_offset;

	char backing_file[1024];
	char backing_fmt[32];
	struct blk *backing;

	struct qcow2_cache l2c, rbc;
	uint64_t free_hint;            /* lowest cluster index that may be free */
	uint64_t alloc_end;            /* clusters at or above this index are free and past EOF */
	bool unsynced;                 /* writes since the last fdatasync */
	bool broken;                   /* corruption found: no more writes */

	struct qcow2_free *frees;      /* clusters to release once the tables no longer use them */
	size_t nfrees, frees_cap;

	uint8_t *zbuf;                 /* cluster-sized scratch buffers */
	uint8_t *cbuf;
	uint8_t *cmp_in, *cmp_out;     /* compressed cluster input and its inflated cluster */
	uint64_t cmp_cached;           /* L2 entry whose data cmp_out holds (0: none) */
};

static inline uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}
static inline uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline void put_be64(uint8_t *p, uint64_t v) { for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v; }
static inline void put_be32(uint8_t *p, uint32_t v) { for (int i = 3; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v; }
static inline void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* Reports corruption once (stderr), marks the image corrupt in its header and refuses further
 * writes. Returns -EIO for the caller to pass up. */
__attribute__((format(printf, 3, 4)))
int qcow2_corrupt(struct blk *b, struct qcow2 *s, const char *fmt, ...);

/* Metadata caches (qcow2_meta.c). A pointer from cache_get stays valid until the next get on the
 * same cache. `fresh` gives a zeroed table without reading (a newly allocated cluster). */
int qcow2_cache_init(struct qcow2_cache *c, int n, uint32_t cluster_size);
void qcow2_cache_free(struct qcow2_cache *c);
int qcow2_l2_get(struct blk *b, uint64_t offset, bool fresh, uint8_t **out);
int qcow2_rb_get(struct blk *b, uint64_t offset, bool fresh, uint8_t **out);
void qcow2_l2_mark_dirty(struct qcow2 *s, const uint8_t *table);
void qcow2_cache_drop(struct qcow2_cache *c, uint64_t offset);

/* Write-back in dependency order: refcounts, then L2 tables, then the L1 table, each followed by
 * fdatasync when something was written. */
int qcow2_sync_refcounts(struct blk *b);
int qcow2_sync_all(struct blk *b);

/* Refcounts and allocation (qcow2_meta.c). Cluster indexes, not byte offsets. */
uint64_t qcow2_rb_read(const uint8_t *blk, unsigned order, uint64_t i);
void qcow2_rb_write(uint8_t *blk, unsigned order, uint64_t i, uint64_t v);
int qcow2_refcount_get(struct blk *b, uint64_t cluster, uint64_t *val);
int qcow2_refcount_update(struct blk *b, uint64_t cluster, int delta);
int qcow2_alloc_cluster(struct blk *b, uint64_t *offset);
/* Queues clusters to release after the next full sync, and releases queued ones. */
int qcow2_queue_free(struct qcow2 *s, uint64_t offset, uint64_t clusters);
int qcow2_release_frees(struct blk *b);
#endif
