/*
 * Split virtqueues, device side (virtio 1.2 §2.7): consuming descriptor chains from the
 * available ring (direct and indirect descriptors, §2.7.5.3), returning them on the used ring
 * (§2.7.8), and notification suppression both ways (flags, and used_event/avail_event with
 * VIRTIO_F_RING_EVENT_IDX, §2.7.7 and §2.7.10).
 *
 * Every value read from the rings is the guest's and is checked: ring and buffer addresses must
 * be guest RAM for their whole length (ram_range), descriptor indices must be inside their
 * table, a chain may not be longer than its table (which also ends loops), an indirect table may
 * not hold another indirect descriptor, readable descriptors may not follow writable ones, and
 * the available index may not run more than the queue size ahead, nor may more chains be in
 * flight than the queue holds. On any violation the queue is
 * marked broken and the device DEVICE_NEEDS_RESET (§2.1.2): it processes nothing more on that
 * queue until the driver resets it. Ring fields are read once into locals, so the guest cannot
 * change a value between its check and its use.
 *
 * Left out: packed virtqueues (VIRTIO_F_RING_PACKED), VIRTIO_F_IN_ORDER.
 */
#include <stdlib.h>
#include <string.h>

#include "virtio/virtio.h"

/* An indirect table may hold this many descriptors (Linux can exceed the queue size with
 * indirect descriptors; QEMU allows the same 1024). */
#define VIRTQ_INDIRECT_MAX 1024

static inline uint16_t ld16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

static inline void st16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static inline void st32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* Ring sizes in bytes (§2.7): the event fields are always included, whether negotiated or not. */
static uint64_t desc_bytes(uint16_t n)
{
	return 16ull * n;
}

static uint64_t avail_bytes(uint16_t n)
{
	return 6 + 2ull * n;
}

static uint64_t used_bytes(uint16_t n)
{
	return 6 + 8ull * n;
}

void virtq_reset(struct virtq *vq, uint16_t max_size)
{
	memset(vq, 0, sizeof(*vq));
	vq->max_size = max_size;
	vq->size = max_size;
	vq->msix_vector = VIRTIO_MSI_NO_VECTOR;
}

static void virtq_break(struct virtio_device *vdev, struct virtq *vq)
{
	if (vq->broken)
		return;
	vq->broken = true;
	virtio_set_needs_reset(vdev);
}

bool virtq_enable(struct virtio_device *vdev, unsigned q)
{
	struct virtq *vq = &vdev->vq[q];
	const struct guest_ram *ram = vdev->host->ram;
	vq->last_avail = 0;
	vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_valid = false;
	vq->inflight = 0;
	vq->broken = false;
	vq->event_idx = virtio_has_feature(vdev, VIRTIO_F_RING_EVENT_IDX);
	vq->indirect = virtio_has_feature(vdev, VIRTIO_F_RING_INDIRECT_DESC);
	vq->desc = ram_range(ram, vq->desc_gpa, desc_bytes(vq->size));
	vq->avail = ram_range(ram, vq->avail_gpa, avail_bytes(vq->size));
	vq->used = ram_range(ram, vq->used_gpa, used_bytes(vq->size));
	vq->enabled = true;
	if (!vq->size || (vq->size & (vq->size - 1)) || vq->size > vq->max_size || !vq->desc || !vq->avail ||
	    !vq->used) {
		virtq_break(vdev, vq);
		return false;
	}
	return true;
}

static bool vq_usable(const struct virtio_device *vdev, const struct virtq *vq)
{
	return vq->enabled && !vq->broken && (vdev->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(vdev->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static uint16_t avail_idx(const struct virtq *vq)
{
	return ld16(vq->avail + 2);
}

bool virtq_has_avail(struct virtio_device *vdev, unsigned q)
{
	if (q >= vdev->num_queues)
		return false;
	struct virtq *vq = &vdev->vq[q];
	return vq_usable(vdev, vq) && avail_idx(vq) != vq->last_avail;
}

/* Appends a segment, growing the element as needed. Returns false on allocation failure. */
static bool elem_add(struct virtq_elem **pe, unsigned *cap, unsigned *n, const struct virtq_seg *s)
{
	if (*n == *cap) {
		unsigned ncap = *cap * 2;
		struct virtq_elem *e = realloc(*pe, sizeof(**pe) + ncap * sizeof(struct virtq_seg));
		if (!e)
			return false;
		*pe = e;
		*cap = ncap;
	}
	(*pe)->seg[(*n)++] = *s;
	return true;
}

/* Walks the chain starting at head: false if it breaks any rule in the file comment. */
static bool walk_chain(struct virtio_device *vdev, struct virtq *vq, uint16_t head, struct virtq_elem **pe,
		       unsigned *cap)
{
	const struct guest_ram *ram = vdev->host->ram;
	const uint8_t *table = vq->desc;
	uint32_t table_n = vq->size;   /* descriptors in the current table */
	uint32_t budget = vq->size;    /* descriptors still allowed in this table */
	bool in_indirect = false, seen_write = false;
	uint32_t idx = head;
	unsigned n = 0;
	uint64_t out_len = 0, in_len = 0;
	unsigned n_out = 0;

	for (;;) {
		if (idx >= table_n || budget == 0)
			return false;
		budget--;
		struct virtq_desc d;
		memcpy(&d, table + 16ull * idx, sizeof(d));
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* §2.7.5.3.1: negotiated, not nested, not combined with NEXT, whole entries. */
			if (!vq->indirect || in_indirect || (d.flags & VIRTQ_DESC_F_NEXT) || d.len == 0 || d.len % 16 ||
			    d.len / 16 > VIRTQ_INDIRECT_MAX)
				return false;
			table = ram_range(ram, d.addr, d.len);
			if (!table)
				return false;
			table_n = budget = d.len / 16;
			in_indirect = true;
			idx = 0;
			continue;
		}
		if (d.flags & VIRTQ_DESC_F_WRITE) {
			seen_write = true;
		} else if (seen_write) {
			return false; /* §2.7.4.2: readable after writable */
		}
		if (d.len) {
			struct virtq_seg s = { ram_range(ram, d.addr, d.len), d.addr, d.len };
			if (!s.host)
				return false;
			if (!elem_add(pe, cap, &n, &s))
				return false;
			if (d.flags & VIRTQ_DESC_F_WRITE) {
				in_len += d.len;
			} else {
				out_len += d.len;
				n_out++;
			}
		}
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		idx = d.next;
	}
	struct virtq_elem *e = *pe;
	e->n_out = n_out;
	e->n_in = n - n_out;
	e->out_len = out_len;
	e->in_len = in_len;
	e->out = e->seg;
	e->in = e->seg + n_out;
	return true;
}

struct virtq_elem *virtq_pop(struct virtio_device *vdev, unsigned q)
{
	if (q >= vdev->num_queues)
		return NULL;
	struct virtq *vq = &vdev->vq[q];
	if (!vq_usable(vdev, vq))
		return NULL;
	uint16_t idx = avail_idx(vq);
	uint16_t pending = (uint16_t)(idx - vq->last_avail);
	if (pending == 0)
		return NULL;
	/* §2.7.13.3: idx ran further ahead than the ring holds, or the driver offers more chains
	 * than it has descriptors while the device still owns some (it reused them). */
	if (pending > vq->size || vq->inflight >= vq->size) {
		virtq_break(vdev, vq);
		return NULL;
	}
	uint16_t head = ld16(vq->avail + 4 + 2u * (vq->last_avail & (vq->size - 1)));
	unsigned cap = 8;
	struct virtq_elem *e = malloc(sizeof(*e) + cap * sizeof(struct virtq_seg));
	if (!e)
		return NULL;
	if (!walk_chain(vdev, vq, head, &e, &cap)) {
		free(e);
		virtq_break(vdev, vq);
		return NULL;
	}
	e->head = head;
	e->queue = (uint16_t)q;
	e->gen = vdev->gen;
	e->next = NULL;
	e->written = 0;
	e->priv = NULL;
	vq->last_avail++;
	vq->inflight++;
	/* With EVENT_IDX the device asks to be notified when the driver adds past this point. */
	if (vq->event_idx && !vq->no_notify)
		st16(vq->used + 4 + 8u * vq->size, vq->last_avail);
	return e;
}

void virtq_unpop(struct virtio_device *vdev, struct virtq_elem *e)
{
	if (e->gen == vdev->gen && e->queue < vdev->num_queues) {
		struct virtq *vq = &vdev->vq[e->queue];
		vq->last_avail--;
		if (vq->inflight)
			vq->inflight--;
	}
	free(e);
}

void virtq_elem_free(struct virtq_elem *e)
{
	free(e);
}

void virtq_push(struct virtio_device *vdev, struct virtq_elem *e, uint32_t written)
{
	/* An element from before a reset, or for a queue broken meanwhile, is dropped. */
	if (e->gen != vdev->gen || e->queue >= vdev->num_queues) {
		free(e);
		return;
	}
	struct virtq *vq = &vdev->vq[e->queue];
	if (!vq->enabled || vq->broken) {
		free(e);
		return;
	}
	if (written > e->in_len)
		written = (uint32_t)e->in_len;
	if (vdev->host->dma_written) {
		uint32_t left = written;
		for (unsigned k = 0; k < e->n_in && left; k++) {
			uint32_t l = e->in[k].len < left ? e->in[k].len : left;
			vdev->host->dma_written(vdev->host->opaque, e->in[k].gpa, l);
			left -= l;
		}
	}
	uint8_t *u = vq->used + 4 + 8u * (vq->used_idx & (vq->size - 1));
	st32(u, e->head);
	st32(u + 4, written);
	vq->used_idx++;
	/* The guest sees the entry before the index (one thread: program order suffices). */
	st16(vq->used + 2, vq->used_idx);
	if (vq->inflight)
		vq->inflight--;
	free(e);
}

/* vring_need_event (§2.7.10): did new_idx step past event since old? */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

void virtq_notify(struct virtio_device *vdev, unsigned q)
{
	if (q >= vdev->num_queues)
		return;
	struct virtq *vq = &vdev->vq[q];
	if (!vq->enabled || vq->broken || !vq->used)
		return;
	uint16_t old = vq->signalled_used, now = vq->used_idx;
	if (vq->signalled_valid && old == now)
		return; /* nothing new since the last interrupt */
	bool send;
	if (vq->event_idx) {
		uint16_t used_event = ld16(vq->avail + 4 + 2u * vq->size);
		send = !vq->signalled_valid || need_event(used_event, now, old);
	} else {
		send = !(ld16(vq->avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	}
	vq->signalled_used = now;
	vq->signalled_valid = true;
	if (send && vdev->tr && vdev->tr->notify)
		vdev->tr->notify(vdev->tr_opaque, (int)q);
}

bool virtq_set_notification(struct virtio_device *vdev, unsigned q, bool enable)
{
	if (q >= vdev->num_queues)
		return false;
	struct virtq *vq = &vdev->vq[q];
	if (!vq_usable(vdev, vq))
		return false;
	vq->no_notify = !enable;
	if (vq->event_idx) {
		if (enable)
			st16(vq->used + 4 + 8u * vq->size, vq->last_avail);
	} else {
		st16(vq->used, enable ? 0 : VIRTQ_USED_F_NO_NOTIFY);
	}
	return enable && avail_idx(vq) != vq->last_avail;
}

size_t virtq_elem_read(const struct virtq_elem *e, uint64_t off, void *dst, size_t len)
{
	size_t done = 0;
	for (unsigned k = 0; k < e->n_out && done < len; k++) {
		const struct virtq_seg *s = &e->out[k];
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		size_t l = s->len - off;
		if (l > len - done)
			l = len - done;
		memcpy((uint8_t *)dst + done, s->host + off, l);
		done += l;
		off = 0;
	}
	return done;
}

size_t virtq_elem_write(struct virtq_elem *e, uint64_t off, const void *src, size_t len)
{
	size_t done = 0;
	for (unsigned k = 0; k < e->n_in && done < len; k++) {
		const struct virtq_seg *s = &e->in[k];
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		size_t l = s->len - off;
		if (l > len - done)
			l = len - done;
		memcpy(s->host + off, (const uint8_t *)src + done, l);
		done += l;
		off = 0;
	}
	return done;
}
