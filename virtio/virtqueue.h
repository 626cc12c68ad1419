/*
 * Split virtqueue state (virtio 1.2 §2.7) as the device side keeps it. The rings live in
 * guest RAM; this is the device's view: where they are, how far it has consumed the available
 * ring and filled the used ring, and whether the queue is broken. Devices use the calls in
 * virtio/virtio.h; this header is for the virtio core, the transport and tests.
 */
#ifndef SOFTVM_VIRTIO_VIRTQUEUE_H
#define SOFTVM_VIRTIO_VIRTQUEUE_H
#include <stdbool.h>
#include <stdint.h>

/* Descriptor flags and ring flags (virtio 1.2 §2.7.5, §2.7.6, §2.7.8). */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

#define VIRTQ_MAX_SIZE 32768 /* virtio 1.2 §2.7: queue size up to 32768 */
#define VIRTIO_MSI_NO_VECTOR 0xffff

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq {
	/* driver-visible setup (virtio-pci common configuration) */
	uint16_t size;         /* queue_size: power of two, <= max_size */
	uint16_t max_size;     /* 0: queue does not exist */
	bool enabled;          /* queue_enable */
	uint16_t msix_vector;
	uint64_t desc_gpa, avail_gpa, used_gpa;

	/* device runtime state, valid while enabled */
	uint8_t *desc, *avail, *used; /* host pointers to the checked rings */
	uint16_t last_avail;   /* next available ring index to consume */
	uint16_t used_idx;     /* used->idx as the device last wrote it */
	uint16_t signalled_used; /* used_idx at the last interrupt (EVENT_IDX) */
	bool signalled_valid;
	bool broken;           /* a guest error was found: no more processing */
	bool event_idx;        /* VIRTIO_F_RING_EVENT_IDX negotiated */
	bool indirect;         /* VIRTIO_F_RING_INDIRECT_DESC negotiated */
	bool no_notify;        /* the device asked the driver not to notify */
	unsigned inflight;     /* popped, not yet pushed */
};

struct virtio_device;

/* Reset state: not enabled, size = max_size, no vector. */
void virtq_reset(struct virtq *vq, uint16_t max_size);
/* The driver enabled queue q (queue_enable = 1) with the addresses and size set: checks and
 * maps the rings (broken + DEVICE_NEEDS_RESET if they are not guest RAM or the size is bad) and
 * takes the ring features from the negotiated ones. Returns false if the queue is broken. */
bool virtq_enable(struct virtio_device *vdev, unsigned q);
#endif
