/*
 * libFuzzer target for split virtqueue processing (virtio/virtqueue.c, virtio/core.c): the input
 * is the guest's memory (rings, descriptor tables, indirect tables) plus a short script of
 * device actions (pop, push with a length, unpop, notify, notification on/off, reset and
 * re-enable, the driver bumping avail idx). Whatever the rings say, softvm must not crash,
 * hang, leak, or hand out a segment outside guest RAM; a queue that pops nothing more after it
 * broke must stay broken until reset.
 *
 * Input layout: [0] queue size log2, [1] features, [2..7] ring offsets (3 x le16, in 16-byte
 * units), [8..39] action script, [40..] guest memory from address 0.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/virtio.h"

#define RAM_SIZE (1u << 20)
#define HDR 40

static struct guest_ram ram;
static struct virtio_host host;
static struct virtio_device dev;
static unsigned interrupts;

static void tr_notify(void *opaque, int q)
{
	interrupts++;
}

static const struct virtio_transport_ops tr = { tr_notify };

static void check_elem(const struct virtq_elem *e)
{
	uint64_t out = 0, in = 0;
	for (unsigned k = 0; k < e->n_out + e->n_in; k++) {
		const struct virtq_seg *s = &e->seg[k];
		/* Every segment must be inside guest RAM, and be what the guest address says. */
		if (s->host < ram.host || s->host + s->len > ram.host + ram.size || s->host != ram.host + s->gpa)
			abort();
		*(k < e->n_out ? &out : &in) += s->len;
	}
	if (out != e->out_len || in != e->in_len || e->out != e->seg || e->in != e->seg + e->n_out)
		abort();
}

static void enable(const uint8_t *d)
{
	struct virtq *vq = &dev.vq[0];
	vq->size = (uint16_t)(1u << (d[0] % 11));
	vq->desc_gpa = 16ull * (d[2] | d[3] << 8);
	vq->avail_gpa = 16ull * (d[4] | d[5] << 8);
	vq->used_gpa = 16ull * (d[6] | d[7] << 8);
	dev.driver_features = VIRTIO_BIT(VIRTIO_F_VERSION_1);
	if (d[1] & 1)
		dev.driver_features |= VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC);
	if (d[1] & 2)
		dev.driver_features |= VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
	dev.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		     VIRTIO_STATUS_DRIVER_OK;
	virtq_enable(&dev, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ram.host) {
		if (ram_init(&ram, RAM_SIZE) < 0 || virtio_host_init(&host, &ram, NULL, NULL, NULL) < 0)
			abort();
		dev.num_queues = 1;
		dev.queue_max[0] = 1024;
		virtio_device_init(&dev, &host);
		dev.tr = &tr;
	}
	if (size < HDR)
		return 0;
	size_t mem = size - HDR < 0x20000 ? size - HDR : 0x20000;
	memset(ram.host, 0, 0x20000);
	memcpy(ram.host, data + HDR, mem);
	virtio_device_reset(&dev);
	enable(data);

	struct virtq_elem *held[64];
	unsigned nheld = 0;
	for (unsigned step = 0; step < 256; step++) {
		uint8_t a = data[8 + step % 32];
		uint8_t arg = data[8 + (step + 1) % 32];
		struct virtq *vq = &dev.vq[0];
		bool was_broken = vq->broken;
		switch (a & 7) {
		case 0:
		case 1:
		case 2: {
			struct virtq_elem *e = virtq_pop(&dev, 0);
			if (e && was_broken)
				abort(); /* a broken queue must stay stopped */
			if (e) {
				check_elem(e);
				uint8_t tmp[64];
				virtq_elem_read(e, arg, tmp, sizeof(tmp));
				virtq_elem_write(e, arg, tmp, sizeof(tmp));
				if (nheld < 64)
					held[nheld++] = e;
				else
					virtq_push(&dev, e, arg);
			}
			break;
		}
		case 3:
			if (nheld)
				virtq_push(&dev, held[--nheld], (uint32_t)arg << (a >> 5));
			break;
		case 4:
			if (nheld)
				virtq_unpop(&dev, held[--nheld]);
			virtq_notify(&dev, 0);
			break;
		case 5:
			virtq_set_notification(&dev, 0, arg & 1);
			break;
		case 6: {
			/* The driver moves avail idx (within or beyond the ring). */
			if (vq->avail) {
				uint16_t idx;
				memcpy(&idx, vq->avail + 2, 2);
				idx = (uint16_t)(idx + (arg & 0x80 ? arg : arg & 7));
				memcpy(vq->avail + 2, &idx, 2);
			}
			break;
		}
		case 7:
			if (arg & 1) {
				/* Device reset with elements outstanding: they are dropped. */
				virtio_device_reset(&dev);
				enable(data);
			} else if (nheld) {
				virtq_complete(&dev, held[--nheld], arg);
				virtio_host_poll(&host);
			}
			break;
		}
		if (vq->enabled && vq->inflight > vq->size && !vq->broken)
			abort();
	}
	while (nheld)
		virtq_push(&dev, held[--nheld], 0);
	virtio_host_poll(&host);
	return 0;
}
