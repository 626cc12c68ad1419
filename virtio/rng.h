/*
 * virtio entropy device (virtio 1.2 §5.4): one request queue whose writable buffers the device
 * fills with random bytes from the host's getrandom().
 */
#ifndef SOFTVM_VIRTIO_RNG_H
#define SOFTVM_VIRTIO_RNG_H
#include <sys/types.h>

#include "virtio/virtio.h"

struct virtio_rng {
	struct virtio_device vdev;
	/* The entropy source (getrandom by default; tests substitute a fake). */
	ssize_t (*fill)(void *buf, size_t len);
	uint64_t bytes_served;
};

/* Fills in rng->vdev; the transport (virtio_pci_init) binds it. */
void virtio_rng_init(struct virtio_rng *rng);
#endif
