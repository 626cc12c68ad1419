/*
 * The virtio core shared by every device and transport: device reset (virtio 1.2 §2.4),
 * configuration change and DEVICE_NEEDS_RESET signalling (§2.1.2, §2.5), and the completion
 * list through which I/O threads hand finished requests back to the vCPU thread, which owns the
 * rings (see "Threading" in virtio.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "virtio/virtio.h"

int virtio_host_init(struct virtio_host *h, const struct guest_ram *ram,
		     void (*dma_written)(void *opaque, uint64_t gpa, uint64_t len), void (*kick)(void *opaque),
		     void *opaque)
{
	memset(h, 0, sizeof(*h));
	h->ram = ram;
	h->dma_written = dma_written;
	h->kick = kick;
	h->opaque = opaque;
	h->eventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (h->eventfd < 0)
		return -errno;
	int r = pthread_mutex_init(&h->lock, NULL);
	if (r) {
		close(h->eventfd);
		h->eventfd = -1;
		return -r;
	}
	return 0;
}

void virtio_host_free(struct virtio_host *h)
{
	if (h->eventfd < 0)
		return;
	for (struct virtio_device *d = h->devices; d; d = d->host_next) {
		while (d->done_head) {
			struct virtq_elem *e = d->done_head;
			d->done_head = e->next;
			free(e);
		}
		d->done_tail = NULL;
	}
	close(h->eventfd);
	h->eventfd = -1;
	pthread_mutex_destroy(&h->lock);
}

void virtio_device_init(struct virtio_device *vdev, struct virtio_host *h)
{
	vdev->host = h;
	if (vdev->num_queues > VIRTIO_MAX_QUEUES)
		vdev->num_queues = VIRTIO_MAX_QUEUES;
	if (vdev->config_len > VIRTIO_CONFIG_MAX)
		vdev->config_len = VIRTIO_CONFIG_MAX;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		virtq_reset(&vdev->vq[q], q < vdev->num_queues ? vdev->queue_max[q] : 0);
	vdev->status = 0;
	vdev->driver_features = 0;
	vdev->done_head = vdev->done_tail = NULL;
	pthread_mutex_lock(&h->lock);
	vdev->host_next = h->devices;
	h->devices = vdev;
	pthread_mutex_unlock(&h->lock);
}

void virtio_device_reset(struct virtio_device *vdev)
{
	if (vdev->ops && vdev->ops->reset)
		vdev->ops->reset(vdev);
	struct virtio_host *h = vdev->host;
	pthread_mutex_lock(&h->lock);
	vdev->gen++;
	struct virtq_elem *e = vdev->done_head;
	vdev->done_head = vdev->done_tail = NULL;
	pthread_mutex_unlock(&h->lock);
	while (e) {
		struct virtq_elem *next = e->next;
		free(e);
		e = next;
	}
	for (unsigned q = 0; q < vdev->num_queues; q++)
		virtq_reset(&vdev->vq[q], vdev->queue_max[q]);
	vdev->status = 0;
	vdev->driver_features = 0;
}

void virtio_config_changed(struct virtio_device *vdev)
{
	vdev->config_generation++;
	if ((vdev->status & VIRTIO_STATUS_DRIVER_OK) && vdev->tr && vdev->tr->notify)
		vdev->tr->notify(vdev->tr_opaque, -1);
}

void virtio_set_needs_reset(struct virtio_device *vdev)
{
	if (vdev->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
		return;
	vdev->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	if ((vdev->status & VIRTIO_STATUS_DRIVER_OK) && vdev->tr && vdev->tr->notify)
		vdev->tr->notify(vdev->tr_opaque, -1);
}

void virtq_complete(struct virtio_device *vdev, struct virtq_elem *e, uint32_t written)
{
	struct virtio_host *h = vdev->host;
	e->written = written;
	e->next = NULL;
	pthread_mutex_lock(&h->lock);
	if (vdev->done_tail)
		vdev->done_tail->next = e;
	else
		vdev->done_head = e;
	vdev->done_tail = e;
	__atomic_store_n(&h->pending, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&h->lock);
	uint64_t one = 1;
	if (write(h->eventfd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the vCPU thread is woken anyway */
	}
	if (h->kick)
		h->kick(h->opaque);
}

void virtio_host_poll(struct virtio_host *h)
{
	if (!__atomic_load_n(&h->pending, __ATOMIC_ACQUIRE))
		return;
	uint64_t v;
	if (read(h->eventfd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing counted (a completion raced with an earlier poll) */
	}
	pthread_mutex_lock(&h->lock);
	__atomic_store_n(&h->pending, 0, __ATOMIC_RELAXED);
	for (struct virtio_device *d = h->devices; d; d = d->host_next) {
		struct virtq_elem *e = d->done_head;
		d->done_head = d->done_tail = NULL;
		if (!e)
			continue;
		/* Push outside the lock: virtq_push reports DMA to the CPU and may interrupt. */
		pthread_mutex_unlock(&h->lock);
		uint32_t touched = 0;
		while (e) {
			struct virtq_elem *next = e->next;
			if (e->queue < 32)
				touched |= 1u << e->queue;
			virtq_push(d, e, e->written);
			e = next;
		}
		for (unsigned q = 0; q < d->num_queues; q++)
			if (touched & (1u << q))
				virtq_notify(d, q);
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
}
