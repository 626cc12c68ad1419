/*
 * virtio-rng (virtio 1.2 §5.4): device ID 4, one queue (requestq), no feature bits and no
 * configuration space. Each request is a chain of device-writable buffers; the device writes as
 * many random bytes as the buffers hold (up to RNG_MAX_REQUEST per request, so one request can
 * never keep the vCPU thread busy for long) and returns the count in the used element.
 * Readable buffers in a request are ignored (the driver never sends any).
 */
#include <string.h>
#include <sys/random.h>

#include "virtio/rng.h"

#define RNG_QUEUE_SIZE 256
#define RNG_MAX_REQUEST 65536

static ssize_t host_getrandom(void *buf, size_t len)
{
	return getrandom(buf, len, 0);
}

static uint32_t fill_elem(struct virtio_rng *rng, struct virtq_elem *e)
{
	uint32_t total = 0;
	for (unsigned k = 0; k < e->n_in && total < RNG_MAX_REQUEST; k++) {
		size_t want = e->in[k].len;
		if (want > RNG_MAX_REQUEST - total)
			want = RNG_MAX_REQUEST - total;
		size_t got = 0;
		while (got < want) {
			ssize_t n = rng->fill(e->in[k].host + got, want - got);
			if (n <= 0)
				return total + (uint32_t)got; /* source failed: report what was written */
			got += (size_t)n;
		}
		total += (uint32_t)got;
	}
	return total;
}

static void rng_queue_notify(struct virtio_device *vdev, unsigned q)
{
	struct virtio_rng *rng = vdev->opaque;
	struct virtq_elem *e;
	bool any = false;
	while ((e = virtq_pop(vdev, q)) != NULL) {
		uint32_t n = fill_elem(rng, e);
		rng->bytes_served += n;
		virtq_push(vdev, e, n);
		any = true;
	}
	if (any)
		virtq_notify(vdev, q);
}

static const struct virtio_device_ops rng_ops = {
	.queue_notify = rng_queue_notify,
};

void virtio_rng_init(struct virtio_rng *rng)
{
	memset(rng, 0, sizeof(*rng));
	rng->fill = host_getrandom;
	struct virtio_device *v = &rng->vdev;
	v->name = "virtio-rng";
	v->device_id = VIRTIO_ID_RNG;
	v->num_queues = 1;
	v->queue_max[0] = RNG_QUEUE_SIZE;
	v->config_len = 0;
	v->ops = &rng_ops;
	v->opaque = rng;
}
