/*
 * virtio-blk (virtio 1.2 §5.2) over the block layer.
 *
 * One request queue. The vCPU thread pops each request in queue_notify, checks it completely
 * (header, lengths, sector range, read-only, discard/write-zeroes segments) and either answers
 * at once (errors, GET_ID, unknown types) or hands it to the device's I/O worker threads, which
 * do the block-layer call, write the status byte and give the element back with virtq_complete()
 * (the virtio core pushes it and interrupts the guest on the vCPU thread). FLUSH is acknowledged
 * only after blk_flush() returned, i.e. after fdatasync on the image.
 *
 * Features offered: SIZE_MAX, SEG_MAX, BLK_SIZE (512), FLUSH, DISCARD and WRITE_ZEROES with their
 * limits, RO for read-only drives. Requests do not depend on each other's order (the spec does
 * not order them and Linux waits for a write before it issues the flush that covers it), so the
 * workers serve them in parallel.
 *
 * Guest errors: a request whose header or status byte is missing breaks the driver contract
 * (§5.2.6.1) and sets DEVICE_NEEDS_RESET, as a broken ring does; everything else gets a status:
 * IOERR for data lengths that are not whole sectors, sectors past the end, too many segments,
 * writes to a read-only disk and block-layer errors; UNSUPP for unknown types and flags.
 *
 * Left out: multiqueue (MQ), CONFIG_WCE (the cache is always write-back: FLUSH is needed),
 * geometry and topology, GET_LIFETIME, SECURE_ERASE.
 */
#include "virtio/blk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

struct dwz_seg {
	uint64_t sector;
	uint32_t num;
	uint32_t flags;
};

/* A request handed to the workers. */
struct blk_req {
	struct blk_job job;
	struct virtio_blk *b;
	struct virtq_elem *e;
	uint32_t type;
	uint64_t off;            /* byte offset (IN/OUT) */
	uint8_t *status;         /* host address of the status byte (checked guest RAM) */
	unsigned nseg;           /* DISCARD / WRITE_ZEROES */
	struct dwz_seg seg[VIRTIO_BLK_MAX_DWZ_SEG];
	int iovcnt;              /* IN / OUT data */
	struct iovec iov[];
};

static inline uint32_t le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static void put_le16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* The last writable byte of e: the status (§5.2.6). NULL if e has no writable byte. */
static uint8_t *status_byte(struct virtq_elem *e)
{
	for (unsigned k = e->n_in; k-- > 0;)
		if (e->in[k].len)
			return e->in[k].host + e->in[k].len - 1;
	return NULL;
}

/* Describes [skip, skip+len) of the segments as iovecs (at most max). Returns the count. */
static int segs_to_iov(const struct virtq_seg *s, unsigned n, uint64_t skip, uint64_t len, struct iovec *iov,
		       int max)
{
	int cnt = 0;
	for (unsigned k = 0; k < n && len; k++) {
		if (skip >= s[k].len) {
			skip -= s[k].len;
			continue;
		}
		uint64_t l = s[k].len - skip;
		if (l > len)
			l = len;
		if (cnt == max)
			return -1;
		iov[cnt++] = (struct iovec){ s[k].host + skip, (size_t)l };
		len -= l;
		skip = 0;
	}
	return cnt;
}

/* Whether [sector, sector + count) lies inside the disk, without overflow. */
static bool in_range(const struct virtio_blk *b, uint64_t sector, uint64_t count)
{
	return sector <= b->capacity && count <= b->capacity - sector;
}

/* ---- the worker side ---- */

static int serve_dwz(struct blk_req *r)
{
	for (unsigned k = 0; k < r->nseg; k++) {
		uint64_t off = r->seg[k].sector * BLK_SECTOR_SIZE, len = (uint64_t)r->seg[k].num * BLK_SECTOR_SIZE;
		int ret;
		if (!len)
			continue;
		if (r->type == VIRTIO_BLK_T_DISCARD)
			ret = blk_discard(r->b->disk, off, len);
		else
			ret = blk_write_zeroes(r->b->disk, off, len,
					       (r->seg[k].flags & VIRTIO_BLK_WZ_F_UNMAP) ? BLK_ZERO_MAY_UNMAP : 0);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* A write to sector 0 of a probed raw image: the first sector is copied out of guest memory
 * (so the guest cannot change it after the check), probed, and written from the copy. The iovec
 * array has one spare entry (req_alloc) for the copy. */
static int write_sector0_guarded(struct blk_req *r)
{
	uint8_t first[BLK_SECTOR_SIZE];
	size_t got = 0;
	int k = 0;
	size_t skip = 0; /* bytes of iov[k] inside the first sector */
	while (k < r->iovcnt && got < sizeof(first)) {
		size_t l = r->iov[k].iov_len < sizeof(first) - got ? r->iov[k].iov_len : sizeof(first) - got;
		memcpy(first + got, r->iov[k].iov_base, l);
		got += l;
		if (l < r->iov[k].iov_len) {
			skip = l;
			break;
		}
		k++;
	}
	if (blk_probe(first, sizeof(first)) != BLK_FMT_RAW)
		return -EPERM;
	/* [copy][rest of iov[k] after skip][iov[k+1..]] */
	int n = 0;
	struct iovec *out = r->iov; /* rebuilt in place from the back: shift right by one */
	int rest = r->iovcnt - k;
	memmove(out + 1, out + k, (size_t)rest * sizeof(*out));
	out[0] = (struct iovec){ first, sizeof(first) };
	n = 1 + rest;
	if (rest) {
		out[1].iov_base = (uint8_t *)out[1].iov_base + skip;
		out[1].iov_len -= skip;
		if (!out[1].iov_len) {
			memmove(out + 1, out + 2, (size_t)(rest - 1) * sizeof(*out));
			n--;
		}
	}
	return blk_pwritev(r->b->disk, 0, out, n);
}

static int req_run(struct blk_job *j)
{
	struct blk_req *r = (struct blk_req *)j;
	struct virtio_blk *b = r->b;
	int ret;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		ret = r->iovcnt ? blk_preadv(b->disk, r->off, r->iov, r->iovcnt) : 0;
		break;
	case VIRTIO_BLK_T_OUT:
		if (r->off == 0 && b->guard_probed_raw && r->iovcnt)
			ret = write_sector0_guarded(r);
		else
			ret = r->iovcnt ? blk_pwritev(b->disk, r->off, r->iov, r->iovcnt) : 0;
		break;
	case VIRTIO_BLK_T_FLUSH:
		ret = blk_flush(b->disk);
		break;
	default: /* DISCARD, WRITE_ZEROES */
		ret = serve_dwz(r);
		break;
	}
	if (ret < 0)
		__atomic_fetch_add(&b->ioerrs, 1, __ATOMIC_RELAXED);
	*r->status = ret < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
	/* The whole writable area counts as written: data (IN, GET_ID) and the status at its end. */
	virtq_complete(&b->vdev, r->e, (uint32_t)r->e->in_len);
	free(r);
	return ret;
}

/* ---- the vCPU thread side ---- */

/* Answers e at once. */
static void answer(struct virtio_blk *b, struct virtq_elem *e, uint8_t *status, uint8_t val)
{
	if (val == VIRTIO_BLK_S_IOERR)
		__atomic_fetch_add(&b->ioerrs, 1, __ATOMIC_RELAXED);
	else if (val == VIRTIO_BLK_S_UNSUPP)
		b->unsupp++;
	*status = val;
	virtq_push(&b->vdev, e, (uint32_t)e->in_len);
}

static struct blk_req *req_alloc(struct virtio_blk *b, struct virtq_elem *e, uint32_t type, uint8_t *status,
				 unsigned niov)
{
	/* One spare iovec for write_sector0_guarded. */
	struct blk_req *r = malloc(sizeof(*r) + (niov + 1) * sizeof(struct iovec));
	if (!r)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->job.run = req_run;
	r->job.owner = b;
	r->b = b;
	r->e = e;
	r->type = type;
	r->status = status;
	return r;
}

/* Parses the DISCARD / WRITE_ZEROES payload into r. Returns a status, or -1 to go ahead. */
static int parse_dwz(struct virtio_blk *b, struct virtq_elem *e, struct blk_req *r)
{
	uint64_t payload = e->out_len - VIRTIO_BLK_REQ_HDR_LEN;
	/* §5.2.6.1: a whole number of segments, at most max_*_seg of them. */
	if (payload == 0 || payload % VIRTIO_BLK_DWZ_SEG_LEN || payload / VIRTIO_BLK_DWZ_SEG_LEN > VIRTIO_BLK_MAX_DWZ_SEG)
		return VIRTIO_BLK_S_IOERR;
	if (b->read_only)
		return VIRTIO_BLK_S_IOERR;
	r->nseg = (unsigned)(payload / VIRTIO_BLK_DWZ_SEG_LEN);
	for (unsigned k = 0; k < r->nseg; k++) {
		uint8_t raw[VIRTIO_BLK_DWZ_SEG_LEN];
		virtq_elem_read(e, VIRTIO_BLK_REQ_HDR_LEN + k * VIRTIO_BLK_DWZ_SEG_LEN, raw, sizeof(raw));
		struct dwz_seg *s = &r->seg[k];
		s->sector = le64(raw);
		s->num = le32(raw + 8);
		s->flags = le32(raw + 12);
		/* §5.2.6.2: unknown flags, and unmap on a discard, are unsupported. */
		if (s->flags & ~(uint32_t)VIRTIO_BLK_WZ_F_UNMAP)
			return VIRTIO_BLK_S_UNSUPP;
		if (r->type == VIRTIO_BLK_T_DISCARD && (s->flags & VIRTIO_BLK_WZ_F_UNMAP))
			return VIRTIO_BLK_S_UNSUPP;
		if (s->num > VIRTIO_BLK_MAX_DWZ_SECTORS || !in_range(b, s->sector, s->num))
			return VIRTIO_BLK_S_IOERR;
	}
	return -1;
}

/* Serves one popped element: answers it or hands it to the workers. Returns true if it was
 * answered on this thread (the queue then needs a notify). */
static bool handle(struct virtio_blk *b, struct virtq_elem *e)
{
	uint8_t hdr[VIRTIO_BLK_REQ_HDR_LEN];
	uint8_t *status = status_byte(e);
	b->reqs++;
	if (!status || virtq_elem_read(e, 0, hdr, sizeof(hdr)) != sizeof(hdr)) {
		/* No header or no status byte: nothing to answer with. */
		virtq_push(&b->vdev, e, 0);
		virtio_set_needs_reset(&b->vdev);
		return true;
	}
	uint32_t type = le32(hdr);
	uint64_t sector = le64(hdr + 8);
	if (e->n_out + e->n_in > VIRTIO_BLK_SEG_MAX + 2) {
		answer(b, e, status, VIRTIO_BLK_S_IOERR);
		return true;
	}

	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool in = type == VIRTIO_BLK_T_IN;
		/* IN: the writable area is data then status; OUT: data follows the header. */
		uint64_t len = in ? e->in_len - 1 : e->out_len - VIRTIO_BLK_REQ_HDR_LEN;
		/* The advertised seg_max x size_max also bounds one request's work: a guest cannot make a
		 * worker (and a reset waiting for it) run for minutes with one huge, overlapping request. */
		if (len % BLK_SECTOR_SIZE || len > (uint64_t)VIRTIO_BLK_SEG_MAX * VIRTIO_BLK_SIZE_MAX ||
		    !in_range(b, sector, len / BLK_SECTOR_SIZE) || (!in && b->read_only)) {
			answer(b, e, status, VIRTIO_BLK_S_IOERR);
			return true;
		}
		unsigned niov = in ? e->n_in : e->n_out;
		struct blk_req *r = req_alloc(b, e, type, status, niov);
		if (!r) {
			answer(b, e, status, VIRTIO_BLK_S_IOERR);
			return true;
		}
		r->off = sector * BLK_SECTOR_SIZE;
		r->iovcnt = in ? segs_to_iov(e->in, e->n_in, 0, len, r->iov, (int)niov)
			       : segs_to_iov(e->out, e->n_out, VIRTIO_BLK_REQ_HDR_LEN, len, r->iov, (int)niov);
		blk_worker_submit(&b->worker, &r->job);
		return false;
	}
	case VIRTIO_BLK_T_FLUSH: {
		struct blk_req *r = req_alloc(b, e, type, status, 0);
		if (!r) {
			answer(b, e, status, VIRTIO_BLK_S_IOERR);
			return true;
		}
		blk_worker_submit(&b->worker, &r->job);
		return false;
	}
	case VIRTIO_BLK_T_GET_ID: {
		/* §5.2.6: up to 20 bytes, NUL-padded; a shorter buffer gets what fits. */
		uint64_t room = e->in_len - 1;
		virtq_elem_write(e, 0, b->serial, room < VIRTIO_BLK_ID_BYTES ? (size_t)room : VIRTIO_BLK_ID_BYTES);
		answer(b, e, status, VIRTIO_BLK_S_OK);
		return true;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: {
		struct blk_req *r = req_alloc(b, e, type, status, 0);
		if (!r) {
			answer(b, e, status, VIRTIO_BLK_S_IOERR);
			return true;
		}
		int st = parse_dwz(b, e, r);
		if (st >= 0) {
			free(r);
			answer(b, e, status, (uint8_t)st);
			return true;
		}
		blk_worker_submit(&b->worker, &r->job);
		return false;
	}
	default:
		answer(b, e, status, VIRTIO_BLK_S_UNSUPP);
		return true;
	}
}

static void blk_queue_notify(struct virtio_device *vdev, unsigned q)
{
	struct virtio_blk *b = vdev->opaque;
	bool pushed = false;
	struct virtq_elem *e;
	while ((e = virtq_pop(vdev, q)))
		pushed |= handle(b, e);
	if (pushed)
		virtq_notify(vdev, q);
}

/* §2.4: after a reset the device may not touch the rings or buffers: wait for the workers. */
static void blk_reset(struct virtio_device *vdev)
{
	struct virtio_blk *b = vdev->opaque;
	blk_worker_wait_owner(&b->worker, b);
}

static const struct virtio_device_ops blk_ops = {
	.queue_notify = blk_queue_notify,
	.reset = blk_reset,
};

int virtio_blk_init(struct virtio_blk *b, struct blk *disk, const struct virtio_blk_options *opt)
{
	memset(b, 0, sizeof(*b));
	b->disk = disk;
	b->read_only = blk_read_only(disk);
	b->capacity = blk_size(disk) / BLK_SECTOR_SIZE;
	/* NUL-padded, not NUL-terminated when 20 bytes long (§5.2.6). */
	if (opt && opt->serial)
		memcpy(b->serial, opt->serial, strnlen(opt->serial, sizeof(b->serial)));
	b->guard_probed_raw = opt && opt->guard_probed_raw;

	/* Discards below a qcow2 cluster free nothing: advertise the cluster as the granularity. */
	struct blk_info info;
	blk_get_info(disk, &info);
	uint32_t align = info.cluster_size >= BLK_SECTOR_SIZE ? info.cluster_size / BLK_SECTOR_SIZE : 8;

	struct virtio_device *v = &b->vdev;
	v->name = "virtio-blk";
	v->device_id = VIRTIO_ID_BLOCK;
	v->host_features = VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
			   VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH);
	if (b->read_only)
		v->host_features |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
	else
		v->host_features |= VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
	v->num_queues = 1;
	v->queue_max[0] = VIRTIO_BLK_QUEUE_SIZE;
	v->config_len = VIRTIO_BLK_CFG_LEN;
	uint8_t *c = v->config;
	put_le64(c + VIRTIO_BLK_CFG_CAPACITY, b->capacity);
	put_le32(c + VIRTIO_BLK_CFG_SIZE_MAX, VIRTIO_BLK_SIZE_MAX);
	put_le32(c + VIRTIO_BLK_CFG_SEG_MAX, VIRTIO_BLK_SEG_MAX);
	put_le32(c + VIRTIO_BLK_CFG_BLK_SIZE, BLK_SECTOR_SIZE);
	put_le16(c + VIRTIO_BLK_CFG_NUM_QUEUES, 1);
	put_le32(c + VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, VIRTIO_BLK_MAX_DWZ_SECTORS);
	put_le32(c + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, VIRTIO_BLK_MAX_DWZ_SEG);
	put_le32(c + VIRTIO_BLK_CFG_DISCARD_SECTOR_ALIGNMENT, align);
	put_le32(c + VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS, VIRTIO_BLK_MAX_DWZ_SECTORS);
	put_le32(c + VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG, VIRTIO_BLK_MAX_DWZ_SEG);
	c[VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP] = 1;
	v->ops = &blk_ops;
	v->opaque = b;
	return blk_worker_init(&b->worker, VIRTIO_BLK_THREADS, NULL, NULL);
}

void virtio_blk_free(struct virtio_blk *b)
{
	blk_worker_destroy(&b->worker);
	blk_close(b->disk);
	b->disk = NULL;
}
