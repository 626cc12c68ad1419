/*
 * The virtio device API (virtio 1.2): what a device model (virtio/blk.c, virtio/net.c,
 * virtio/rng.c, ...) implements, and the virtqueue calls it uses. The transport (virtio/pci.c)
 * owns the common registers (status, features, queue setup, interrupts); the device only
 * sees its feature bits, its configuration space, its queues and a reset.
 *
 * Threading. The vCPU thread owns the rings: every callback below runs on it, and virtq_pop,
 * virtq_push, virtq_notify and virtio_config_changed are vCPU-thread only. A device that serves
 * requests on another thread (disk I/O) pops on the vCPU thread in queue_notify, hands the
 * element to its thread, which reads and writes the element's segments (host pointers already
 * checked against guest RAM) and then calls virtq_complete() - the one call safe from any
 * thread. Completions go on a mutex-protected list in struct virtio_host and its eventfd is
 * signalled; the machine's vCPU loop calls virtio_host_poll() between CPU slices and polls the
 * eventfd while the guest halts, which pushes the used elements and interrupts the guest on
 * the vCPU thread. A device's reset callback must wait until its threads hold no element any
 * more (completions still queued for a reset device are dropped).
 *
 * Guest memory written through a segment is reported to the CPU (cached code there is
 * dropped) when the element is pushed, for the written length.
 */
#ifndef SOFTVM_VIRTIO_VIRTIO_H
#define SOFTVM_VIRTIO_VIRTIO_H
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "machine/ram.h"
#include "virtio/virtqueue.h"

/* Device IDs (virtio 1.2 §5). */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4

/* Device status (virtio 1.2 §2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

/* Reserved (device-independent) feature bits (virtio 1.2 §6). The transport offers
 * VERSION_1, RING_INDIRECT_DESC and RING_EVENT_IDX itself; a device offers its own bits. */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_RING_PACKED 34
#define VIRTIO_F_IN_ORDER 35

#define VIRTIO_BIT(n) (1ull << (n))

#define VIRTIO_MAX_QUEUES 16
#define VIRTIO_CONFIG_MAX 256 /* device configuration space bytes */

struct virtio_device;

/* One guest buffer of a descriptor chain: [gpa, gpa+len) is guest RAM at host. */
struct virtq_seg {
	uint8_t *host;
	uint64_t gpa;
	uint32_t len;
};

/* A descriptor chain popped from a queue. Device-readable segments first (out[0..n_out)),
 * then device-writable ones (in[0..n_in)), as virtio 1.2 §2.7.4 requires of drivers; a
 * chain with a readable descriptor after a writable one is a broken ring. Allocated by
 * virtq_pop, owned by the device until virtq_push/virtq_complete consumes (frees) it. */
struct virtq_elem {
	uint16_t head;      /* descriptor index of the chain, for the used ring */
	uint16_t queue;     /* queue index */
	uint32_t gen;       /* device reset generation at pop time */
	unsigned n_out, n_in;
	uint64_t out_len;   /* total bytes the device may read */
	uint64_t in_len;    /* total bytes the device may write */
	struct virtq_seg *out, *in; /* point into seg[] */
	struct virtq_elem *next;    /* completion list link (virtio core) */
	uint32_t written;           /* completion list: the length to push */
	void *priv;                 /* free for the device */
	struct virtq_seg seg[];
};

/* Copy helpers over an element's segments, from a byte offset. Return the bytes copied
 * (short when the segments end first). */
size_t virtq_elem_read(const struct virtq_elem *e, uint64_t off, void *dst, size_t len);
size_t virtq_elem_write(struct virtq_elem *e, uint64_t off, const void *src, size_t len);

struct virtio_device_ops {
	/* The driver notified queue q (vCPU thread). Pop, serve or hand off, push, notify. */
	void (*queue_notify)(struct virtio_device *vdev, unsigned q);
	/* The driver wrote the device configuration space (config[] already holds the new
	 * bytes at off..off+size when the device accepted writes there, see config_wmask).
	 * Optional. */
	void (*config_write)(struct virtio_device *vdev, unsigned off, unsigned size);
	/* The driver is about to read config[off..off+size): refresh it if needed. Optional. */
	void (*config_read)(struct virtio_device *vdev, unsigned off, unsigned size);
	/* The driver set FEATURES_OK with vdev->driver_features: return false to refuse
	 * (FEATURES_OK then reads back clear). Optional. */
	bool (*features_ok)(struct virtio_device *vdev);
	/* The driver set DRIVER_OK: start (rx polling, ...). Optional. */
	void (*driver_ok)(struct virtio_device *vdev);
	/* Device reset (status written 0, or a machine reset): stop, wait for in-flight work
	 * on other threads, drop per-request state. The virtio core then resets the queues. */
	void (*reset)(struct virtio_device *vdev);
};

/* The transport's side, set by virtio_pci_init (or a test). */
struct virtio_transport_ops {
	/* Interrupt for queue q (used buffers), or for a configuration change when q < 0. */
	void (*notify)(void *opaque, int q);
};

/* Machine-wide context the virtio devices share: guest RAM, the CPU's code cache
 * invalidation, and the completion list other threads feed (see "Threading" above). */
struct virtio_host {
	const struct guest_ram *ram;
	/* Guest memory [gpa, gpa+len) was written by a device (vCPU thread). May be NULL. */
	void (*dma_written)(void *opaque, uint64_t gpa, uint64_t len);
	/* A completion was queued (any thread): make the vCPU loop call virtio_host_poll
	 * soon, e.g. cpu_request_stop. The eventfd is written too. May be NULL. */
	void (*kick)(void *opaque);
	void *opaque;
	int eventfd;                    /* readable while completions are pending */
	pthread_mutex_t lock;
	struct virtio_device *devices;  /* every device bound to this host */
	volatile int pending;           /* completions queued (atomic) */
};

/* eventfd and lock; returns 0 or -errno. */
int virtio_host_init(struct virtio_host *h, const struct guest_ram *ram,
		     void (*dma_written)(void *opaque, uint64_t gpa, uint64_t len), void (*kick)(void *opaque),
		     void *opaque);
void virtio_host_free(struct virtio_host *h);
/* vCPU thread: pushes queued completions and interrupts the guest. Cheap when none. */
void virtio_host_poll(struct virtio_host *h);

struct virtio_device {
	/* ---- filled by the device model before the transport is initialized ---- */
	const char *name;
	uint16_t device_id;              /* VIRTIO_ID_* */
	uint64_t host_features;          /* device-specific feature bits offered */
	unsigned num_queues;             /* <= VIRTIO_MAX_QUEUES */
	uint16_t queue_max[VIRTIO_MAX_QUEUES]; /* max size per queue, power of two <= 32768 */
	uint8_t config[VIRTIO_CONFIG_MAX]; /* device configuration space, little endian */
	uint8_t config_wmask[VIRTIO_CONFIG_MAX]; /* bits the driver may write */
	unsigned config_len;
	const struct virtio_device_ops *ops;
	void *opaque;                    /* the device model */

	/* ---- virtio core / transport state ---- */
	struct virtio_host *host;
	const struct virtio_transport_ops *tr;
	void *tr_opaque;
	uint8_t status;
	uint8_t config_generation;
	uint64_t driver_features;        /* accepted by the driver (valid after FEATURES_OK) */
	uint32_t gen;                    /* bumped by every reset: stale completions are dropped */
	bool completions_pending;        /* under host->lock */
	struct virtq_elem *done_head, *done_tail; /* under host->lock */
	struct virtio_device *host_next;
	struct virtq vq[VIRTIO_MAX_QUEUES];
};

/* Binds the device to the host (call after filling the fields above; the transport calls it).
 * Sets up the queues in their reset state. */
void virtio_device_init(struct virtio_device *vdev, struct virtio_host *h);
/* Full device reset: ops->reset, then queues, status, features (virtio 1.2 §2.4). */
void virtio_device_reset(struct virtio_device *vdev);
/* True when the driver accepted feature bit n. */
static inline bool virtio_has_feature(const struct virtio_device *vdev, unsigned n)
{
	return (vdev->driver_features >> n) & 1;
}
/* The device's configuration changed: bumps config_generation and interrupts the driver. */
void virtio_config_changed(struct virtio_device *vdev);
/* The device found an error it cannot recover from (a broken ring): sets DEVICE_NEEDS_RESET
 * and sends a configuration change interrupt (virtio 1.2 §2.1.2). */
void virtio_set_needs_reset(struct virtio_device *vdev);

/* ---- virtqueue calls a device makes ---- */

/* Next available chain of queue q, translated and checked, or NULL when the queue is empty,
 * not enabled, before DRIVER_OK, or broken (a broken ring sets DEVICE_NEEDS_RESET and stops
 * the queue; see virtio/virtqueue.c for what counts as broken). */
struct virtq_elem *virtq_pop(struct virtio_device *vdev, unsigned q);
/* Returns e to the used ring with `written` bytes written to its writable segments (clamped
 * to in_len) and frees e. No interrupt: call virtq_notify after a batch. vCPU thread. */
void virtq_push(struct virtio_device *vdev, struct virtq_elem *e, uint32_t written);
/* Interrupts the driver for queue q if it has new used buffers and has not suppressed the
 * interrupt (VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with VIRTIO_F_RING_EVENT_IDX). */
void virtq_notify(struct virtio_device *vdev, unsigned q);
/* Any thread: queues e for virtq_push + virtq_notify on the vCPU thread. */
void virtq_complete(struct virtio_device *vdev, struct virtq_elem *e, uint32_t written);
/* Gives e back unused (it will be popped again), e.g. when rx has no packet. Elements go back
 * in the reverse order of their pops (the last popped first). vCPU thread. */
void virtq_unpop(struct virtio_device *vdev, struct virtq_elem *e);
/* Frees e without pushing it: only for elements popped before a device reset (their queue
 * state is gone). A live element must be pushed or unpopped, or the queue keeps counting it
 * in flight and breaks once the driver reuses its descriptors. */
void virtq_elem_free(struct virtq_elem *e);
/* Whether queue q has available chains now (vCPU thread). */
bool virtq_has_avail(struct virtio_device *vdev, unsigned q);
/* Asks (VIRTQ_USED_F_NO_NOTIFY, or avail_event with EVENT_IDX) for notifications on queue q
 * to be sent (enable) or suppressed (!enable). With enable, returns true if chains arrived
 * meanwhile (the device should pop again). */
bool virtq_set_notification(struct virtio_device *vdev, unsigned q, bool enable);
#endif
