/*
 * Split virtqueue tests: rings built by a fake driver in guest RAM, consumed with virtq_pop /
 * virtq_push / virtq_notify. Normal and indirect chains, event index, index wraparound,
 * completions from another thread, reset, and hostile rings (addresses outside RAM, lengths that
 * wrap, loops, bad indirect tables, avail idx running ahead) that must break only the queue.
 */
#include <poll.h>
#include <pthread.h>
#include <string.h>

#include "tests/test.h"
#include "virtio/virtio.h"

#define RAM_SIZE (16u << 20)
#define DESC 0x10000
#define AVAIL 0x20000
#define USED 0x30000
#define BUF 0x100000

static struct guest_ram ram;
static struct virtio_host host;
static struct virtio_device dev;
static int notifies[VIRTIO_MAX_QUEUES + 1]; /* [0]: config */
static uint64_t dma_lo = UINT64_MAX, dma_hi;

static void tr_notify(void *opaque, int q)
{
	notifies[q + 1]++;
}

static const struct virtio_transport_ops tr = { tr_notify };

static void dma_written(void *opaque, uint64_t gpa, uint64_t len)
{
	if (gpa < dma_lo)
		dma_lo = gpa;
	if (gpa + len > dma_hi)
		dma_hi = gpa + len;
}

static void w16(uint64_t gpa, uint16_t v) { ram_write(&ram, gpa, &v, 2); }
static uint16_t r16(uint64_t gpa) { uint16_t v = 0; ram_read(&ram, gpa, &v, 2); return v; }
static uint32_t r32(uint64_t gpa) { uint32_t v = 0; ram_read(&ram, gpa, &v, 4); return v; }

static void desc_at(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { addr, len, flags, next };
	ram_write(&ram, table + 16ull * i, &d, sizeof(d));
}

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	desc_at(DESC, i, addr, len, flags, next);
}

static uint16_t drv_avail; /* the driver's avail idx */

static void avail_add(uint16_t size, uint16_t head)
{
	w16(AVAIL + 4 + 2u * (drv_avail % size), head);
	drv_avail++;
	w16(AVAIL + 2, drv_avail);
}

/* A fresh device with one queue of the given size, enabled, DRIVER_OK, with features. */
static void setup(uint16_t size, uint64_t features)
{
	memset(ram.host, 0, 1 << 20);
	memset(&dev, 0, sizeof(dev));
	memset(notifies, 0, sizeof(notifies));
	drv_avail = 0;
	dev.name = "test";
	dev.num_queues = 2;
	dev.queue_max[0] = dev.queue_max[1] = 1024;
	host.devices = NULL;
	virtio_device_init(&dev, &host);
	dev.tr = &tr;
	dev.driver_features = features | VIRTIO_BIT(VIRTIO_F_VERSION_1);
	dev.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		     VIRTIO_STATUS_DRIVER_OK;
	struct virtq *vq = &dev.vq[0];
	vq->size = size;
	vq->desc_gpa = DESC;
	vq->avail_gpa = AVAIL;
	vq->used_gpa = USED;
	virtq_enable(&dev, 0);
}

static bool broken(void)
{
	return dev.vq[0].broken && (dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) && notifies[0] == 1;
}

static void test_normal_chain(void)
{
	setup(8, 0);
	CHECK(dev.vq[0].enabled && !dev.vq[0].broken, "enable: rings in RAM accepted");
	CHECK(virtq_pop(&dev, 0) == NULL, "empty queue pops nothing");
	ram_write(&ram, BUF, "hello, ", 7);
	ram_write(&ram, BUF + 0x1000, "world", 5);
	desc(3, BUF, 7, VIRTQ_DESC_F_NEXT, 5);
	desc(5, BUF + 0x1000, 5, VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF + 0x2000, 100, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
	desc(0, BUF + 0x3000, 28, VIRTQ_DESC_F_WRITE, 0);
	avail_add(8, 3);
	CHECK(virtq_has_avail(&dev, 0), "has_avail after the driver adds a chain");
	struct virtq_elem *e = virtq_pop(&dev, 0);
	CHECK(e != NULL, "pop a 4-descriptor chain");
	if (!e)
		return;
	CHECK(e->head == 3 && e->queue == 0, "head and queue");
	CHECK(e->n_out == 2 && e->n_in == 2, "2 readable then 2 writable segments (%u, %u)", e->n_out, e->n_in);
	CHECK(e->out_len == 12 && e->in_len == 128, "total lengths");
	CHECK(e->out[0].host == ram.host + BUF && e->in[1].host == ram.host + BUF + 0x3000 && e->in[1].len == 28,
	      "segments translated into guest RAM");
	char buf[16] = { 0 };
	CHECK(virtq_elem_read(e, 0, buf, sizeof(buf)) == 12 && !memcmp(buf, "hello, world", 12),
	      "elem_read gathers across segments");
	CHECK(virtq_elem_read(e, 9, buf, 2) == 2 && !memcmp(buf, "rl", 2), "elem_read from an offset");
	char big[120];
	memset(big, 'x', sizeof(big));
	CHECK(virtq_elem_write(e, 90, big, sizeof(big)) == 38, "elem_write stops at the end of the buffers");
	CHECK(r32(BUF + 0x3000) == 0x78787878 && r32(BUF + 0x2000 + 96) == 0x78787878 && r32(BUF + 0x2000 + 80) == 0,
	      "elem_write scatters across segments");
	CHECK(virtq_pop(&dev, 0) == NULL && !virtq_has_avail(&dev, 0), "the chain is consumed once");
	dma_lo = UINT64_MAX;
	dma_hi = 0;
	virtq_push(&dev, e, 110);
	CHECK(r16(USED + 2) == 1 && r32(USED + 4) == 3 && r32(USED + 8) == 110, "used ring: idx 1, id 3, len 110");
	CHECK(dma_lo == BUF + 0x2000 && dma_hi == BUF + 0x3000 + 10, "DMA reported for the written length only");
	virtq_notify(&dev, 0);
	CHECK(notifies[1] == 1, "notify interrupts the driver");
	virtq_notify(&dev, 0);
	CHECK(notifies[1] == 1, "no second interrupt without new used buffers");

	/* The driver suppresses interrupts. */
	desc(2, BUF, 8, 0, 0);
	avail_add(8, 2);
	w16(AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	e = virtq_pop(&dev, 0);
	CHECK(e && e->n_out == 1 && e->n_in == 0, "single readable descriptor");
	if (e)
		virtq_push(&dev, e, 1000);
	CHECK(r32(USED + 8 + 8) == 0, "written length clamped to the writable bytes");
	virtq_notify(&dev, 0);
	CHECK(notifies[1] == 1, "VIRTQ_AVAIL_F_NO_INTERRUPT suppresses the interrupt");

	/* Device-side suppression without event index: used->flags. */
	virtq_set_notification(&dev, 0, false);
	CHECK(r16(USED) == VIRTQ_USED_F_NO_NOTIFY, "set_notification(false) sets VIRTQ_USED_F_NO_NOTIFY");
	desc(4, BUF, 8, 0, 0);
	avail_add(8, 4);
	CHECK(virtq_set_notification(&dev, 0, true) && r16(USED) == 0,
	      "set_notification(true) clears it and reports pending chains");

	/* unpop gives the chain back. */
	e = virtq_pop(&dev, 0);
	CHECK(e && e->head == 4, "pop again");
	virtq_unpop(&dev, e);
	e = virtq_pop(&dev, 0);
	CHECK(e && e->head == 4, "unpopped chain pops again");
	if (e)
		virtq_push(&dev, e, 0);
	CHECK(!dev.vq[0].broken && !(dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET), "queue healthy");
	CHECK(virtq_pop(&dev, 5) == NULL && virtq_pop(&dev, 1) == NULL, "no pop from missing or disabled queues");
}

static void test_zero_length_and_features(void)
{
	setup(4, 0);
	desc(0, BUF, 0, VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF, 16, VIRTQ_DESC_F_WRITE, 0);
	avail_add(4, 0);
	struct virtq_elem *e = virtq_pop(&dev, 0);
	CHECK(e && e->n_out == 0 && e->n_in == 1 && e->in_len == 16, "zero-length descriptor carries no segment");
	if (e)
		virtq_push(&dev, e, 16);

	/* Without DRIVER_OK the device consumes nothing (§2.1.2). */
	dev.status &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
	avail_add(4, 1);
	CHECK(virtq_pop(&dev, 0) == NULL, "no pop before DRIVER_OK");
	dev.status |= VIRTIO_STATUS_DRIVER_OK;
	e = virtq_pop(&dev, 0);
	CHECK(e != NULL, "pop after DRIVER_OK");
	virtq_elem_free(e);
}

static void test_indirect(void)
{
	const uint64_t T = 0x40000;
	setup(8, VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC));
	desc_at(T, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 2);
	desc_at(T, 2, BUF + 0x100, 32, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	desc_at(T, 1, BUF + 0x200, 64, VIRTQ_DESC_F_WRITE, 0);
	desc(6, T, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(8, 6);
	struct virtq_elem *e = virtq_pop(&dev, 0);
	CHECK(e && e->head == 6 && e->n_out == 1 && e->n_in == 2 && e->in_len == 96 && e->in[1].gpa == BUF + 0x200,
	      "indirect table of 3 descriptors");
	if (e)
		virtq_push(&dev, e, 96);
	CHECK(r32(USED + 4) == 6 && r32(USED + 8) == 96, "indirect chain used with its head");

	/* A direct descriptor followed by an indirect one (the indirect ends the chain). */
	desc(0, BUF + 0x300, 8, VIRTQ_DESC_F_NEXT, 7);
	desc(7, T, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(8, 0);
	e = virtq_pop(&dev, 0);
	CHECK(e && e->n_out == 2 && e->n_in == 2, "direct descriptor then an indirect table");
	virtq_elem_free(e);

	/* Indirect tables may exceed the queue size (Linux does that), up to 1024 entries. */
	const unsigned N = 300;
	for (unsigned k = 0; k < N; k++)
		desc_at(0x50000, k, BUF + 16 * k, 16, k + 1 < N ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(k + 1));
	desc(1, 0x50000, N * 16, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(8, 1);
	e = virtq_pop(&dev, 0);
	CHECK(e && e->n_out == N && e->out_len == 16 * N, "indirect table of 300 descriptors in a queue of 8");
	virtq_elem_free(e);
	CHECK(!dev.vq[0].broken, "queue healthy after valid indirect chains");
}

/* Each hostile setup must break the queue (NEEDS_RESET, one config interrupt), never crash. */
typedef void (*hostile_fn)(void);

static void h_addr_outside(void) { desc(0, RAM_SIZE - 8, 16, 0, 0); avail_add(8, 0); }
static void h_addr_hole(void) { desc(0, 0xfee00000, 4, 0, 0); avail_add(8, 0); }
static void h_len_wraps(void) { desc(0, BUF, 0xffffffffu, 0, 0); avail_add(8, 0); }
static void h_addr_wraps(void) { desc(0, 0xfffffffffffff000ull, 0x2000, 0, 0); avail_add(8, 0); }
static void h_loop(void)
{
	desc(0, BUF, 4, VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF, 4, VIRTQ_DESC_F_NEXT, 0);
	avail_add(8, 0);
}
static void h_self_loop(void) { desc(2, BUF, 4, VIRTQ_DESC_F_NEXT, 2); avail_add(8, 2); }
static void h_long_chain(void)
{
	/* 8 distinct descriptors chained, then back to the first: longer than the queue. */
	for (unsigned k = 0; k < 8; k++)
		desc(k, BUF, 4, VIRTQ_DESC_F_NEXT, (uint16_t)((k + 1) % 8));
	avail_add(8, 0);
}
static void h_next_outside(void) { desc(0, BUF, 4, VIRTQ_DESC_F_NEXT, 8); avail_add(8, 0); }
static void h_head_outside(void) { avail_add(8, 9); }
static void h_head_huge(void) { avail_add(8, 0xffff); }
static void h_read_after_write(void)
{
	desc(0, BUF, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF, 4, 0, 0);
	avail_add(8, 0);
}
static void h_avail_jump(void)
{
	desc(0, BUF, 4, 0, 0);
	w16(AVAIL + 2, 9); /* 9 chains in a ring of 8 */
}
static void h_avail_backwards(void)
{
	desc(0, BUF, 4, 0, 0);
	w16(AVAIL + 2, 0xffff);
}
static void h_ind_nested(void)
{
	desc_at(0x40000, 0, 0x40100, 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc(0, 0x40000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(8, 0);
}
static void h_ind_with_next(void)
{
	desc_at(0x40000, 0, BUF, 16, 0, 0);
	desc(0, 0x40000, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF, 4, 0, 0);
	avail_add(8, 0);
}
static void h_ind_bad_len(void)
{
	desc_at(0x40000, 0, BUF, 16, 0, 0);
	desc(0, 0x40000, 24, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(8, 0);
}
static void h_ind_zero_len(void) { desc(0, 0x40000, 0, VIRTQ_DESC_F_INDIRECT, 0); avail_add(8, 0); }
static void h_ind_huge(void) { desc(0, 0x40000, 0xfffffff0u, VIRTQ_DESC_F_INDIRECT, 0); avail_add(8, 0); }
static void h_ind_outside(void) { desc(0, RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0); avail_add(8, 0); }
static void h_ind_loop(void)
{
	desc_at(0x40000, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	desc_at(0x40000, 1, BUF, 16, VIRTQ_DESC_F_NEXT, 0);
	desc(0, 0x40000, 32, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(8, 0);
}
static void h_ind_next_outside(void)
{
	desc_at(0x40000, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 2);
	desc(0, 0x40000, 32, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(8, 0);
}
static void h_ind_buf_outside(void)
{
	desc_at(0x40000, 0, RAM_SIZE, 1, 0, 0);
	desc(0, 0x40000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(8, 0);
}

static void test_hostile(void)
{
	static const struct {
		const char *name;
		hostile_fn fn;
	} cases[] = {
		{ "buffer past the end of RAM", h_addr_outside },
		{ "buffer in the MMIO hole", h_addr_hole },
		{ "length 0xffffffff", h_len_wraps },
		{ "address + length wraps 2^64", h_addr_wraps },
		{ "two-descriptor loop", h_loop },
		{ "descriptor chained to itself", h_self_loop },
		{ "chain longer than the queue", h_long_chain },
		{ "next index outside the table", h_next_outside },
		{ "head index outside the table", h_head_outside },
		{ "head index 0xffff", h_head_huge },
		{ "readable after writable", h_read_after_write },
		{ "avail idx more than the queue size ahead", h_avail_jump },
		{ "avail idx moved backwards", h_avail_backwards },
		{ "nested indirect table", h_ind_nested },
		{ "indirect with NEXT", h_ind_with_next },
		{ "indirect length not a multiple of 16", h_ind_bad_len },
		{ "indirect length 0", h_ind_zero_len },
		{ "indirect length 4 GiB", h_ind_huge },
		{ "indirect table outside RAM", h_ind_outside },
		{ "loop inside an indirect table", h_ind_loop },
		{ "next outside an indirect table", h_ind_next_outside },
		{ "buffer outside RAM in an indirect table", h_ind_buf_outside },
	};
	for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		setup(8, VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC));
		cases[k].fn();
		struct virtq_elem *e = virtq_pop(&dev, 0);
		CHECK(e == NULL && broken(), "hostile: %s -> queue broken, NEEDS_RESET", cases[k].name);
		virtq_elem_free(e);
		/* Broken stays broken even once the ring looks fine, and nothing is used. */
		desc(0, BUF, 4, 0, 0);
		avail_add(8, 0);
		CHECK(virtq_pop(&dev, 0) == NULL && r16(USED + 2) == 0 && notifies[0] == 1,
		      "hostile: %s -> no further processing", cases[k].name);
	}

	/* More chains than the ring holds while the device still owns them: descriptors reused. */
	setup(2, 0);
	desc(0, BUF, 4, 0, 0);
	desc(1, BUF, 4, 0, 0);
	avail_add(2, 0);
	avail_add(2, 1);
	struct virtq_elem *h1 = virtq_pop(&dev, 0), *h2 = virtq_pop(&dev, 0);
	avail_add(2, 0);
	CHECK(h1 && h2 && virtq_pop(&dev, 0) == NULL && broken(), "a third chain in flight in a queue of 2 breaks it");
	virtq_elem_free(h1);
	virtq_elem_free(h2);

	setup(8, 0);
	desc(0, 0x40000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(8, 0);
	CHECK(virtq_pop(&dev, 0) == NULL && broken(), "indirect descriptor without the feature breaks the queue");

	/* Ring addresses and sizes checked at enable. */
	static const struct {
		const char *name;
		uint16_t size;
		uint64_t desc, avail, used;
	} rings[] = {
		{ "descriptor table outside RAM", 8, RAM_SIZE - 64, AVAIL, USED },
		{ "available ring outside RAM", 8, DESC, RAM_SIZE - 8, USED },
		{ "used ring crossing the end of RAM", 8, DESC, AVAIL, RAM_SIZE - 32 },
		{ "used ring at 2^64 - 8", 8, DESC, AVAIL, UINT64_MAX - 7 },
		{ "queue size not a power of two", 6, DESC, AVAIL, USED },
		{ "queue size 0", 0, DESC, AVAIL, USED },
		{ "queue size above the maximum", 2048, DESC, AVAIL, USED },
	};
	for (unsigned k = 0; k < sizeof(rings) / sizeof(rings[0]); k++) {
		setup(8, 0);
		struct virtq *vq = &dev.vq[1];
		vq->size = rings[k].size;
		vq->desc_gpa = rings[k].desc;
		vq->avail_gpa = rings[k].avail;
		vq->used_gpa = rings[k].used;
		notifies[0] = 0;
		bool ok = virtq_enable(&dev, 1);
		CHECK(!ok && vq->broken && (dev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET) && virtq_pop(&dev, 1) == NULL,
		      "enable refuses %s", rings[k].name);
		virtq_notify(&dev, 1);
		CHECK(notifies[2] == 0, "no queue interrupt from a broken queue (%s)", rings[k].name);
	}
}

static void test_event_idx(void)
{
	setup(8, VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX));
	const uint64_t used_event = AVAIL + 4 + 2 * 8, avail_event = USED + 4 + 8 * 8;
	for (unsigned k = 0; k < 4; k++) {
		desc(k, BUF + 0x100 * k, 8, VIRTQ_DESC_F_WRITE, 0);
		avail_add(8, (uint16_t)k);
	}
	struct virtq_elem *e[4];
	for (unsigned k = 0; k < 4; k++)
		e[k] = virtq_pop(&dev, 0);
	CHECK(e[3] && r16(avail_event) == 4, "avail_event follows the consumed index");
	w16(used_event, 2); /* interrupt once used idx passes 2, i.e. after the third entry */
	virtq_push(&dev, e[0], 8);
	virtq_notify(&dev, 0);
	CHECK(notifies[1] == 1, "first interrupt always sent");
	virtq_push(&dev, e[1], 8);
	virtq_notify(&dev, 0);
	CHECK(notifies[1] == 1, "used idx 2 has not passed used_event 2: suppressed");
	virtq_push(&dev, e[2], 8);
	virtq_notify(&dev, 0);
	CHECK(notifies[1] == 2, "used idx 3 passed used_event 2: interrupt");
	virtq_push(&dev, e[3], 8);
	virtq_notify(&dev, 0);
	CHECK(notifies[1] == 2, "used_event behind: suppressed");
	w16(AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT); /* ignored with event idx */
	w16(used_event, 4);
	desc(0, BUF, 8, VIRTQ_DESC_F_WRITE, 0);
	avail_add(8, 0);
	struct virtq_elem *x = virtq_pop(&dev, 0);
	virtq_push(&dev, x, 1);
	virtq_notify(&dev, 0);
	CHECK(notifies[1] == 3, "used_event 4 reached by idx 5: interrupt (flags ignored)");

	virtq_set_notification(&dev, 0, false);
	avail_add(8, 0);
	x = virtq_pop(&dev, 0);
	CHECK(x && r16(avail_event) == 5, "avail_event not advanced while notifications are off");
	virtq_push(&dev, x, 0);
	virtq_set_notification(&dev, 0, true);
	CHECK(r16(avail_event) == 6, "re-enabling publishes the current index");
	CHECK(r16(USED) == 0, "used->flags untouched with event idx");
}

static void test_wraparound(void)
{
	setup(4, VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX));
	desc(0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF + 8, 8, VIRTQ_DESC_F_WRITE, 0);
	bool ok = true;
	unsigned interrupts = 0;
	for (unsigned k = 0; k < 70000 && ok; k++) {
		w16(AVAIL + 4 + 2u * (drv_avail % 4), 0);
		drv_avail++;
		w16(AVAIL + 2, drv_avail);
		w16(AVAIL + 4 + 2 * 4, (uint16_t)(drv_avail - 1)); /* used_event: interrupt every entry */
		struct virtq_elem *e = virtq_pop(&dev, 0);
		if (!e || e->head != 0 || e->n_in != 1) {
			ok = false;
			break;
		}
		virtq_push(&dev, e, k % 8);
		virtq_notify(&dev, 0);
		uint16_t idx = r16(USED + 2);
		if (idx != (uint16_t)(k + 1) || r32(USED + 8 + 8 * ((uint16_t)(idx - 1) % 4)) != k % 8)
			ok = false;
		interrupts = (unsigned)notifies[1];
	}
	CHECK(ok && !dev.vq[0].broken, "70000 chains through a queue of 4: indices wrap at 2^16");
	CHECK(interrupts == 70000, "event idx across the wrap: one interrupt per entry (%u)", interrupts);
}

/* ---- completions from another thread ---- */

struct worker_arg {
	struct virtq_elem *e[3];
	unsigned n;
};

static void *worker(void *p)
{
	struct worker_arg *a = p;
	for (unsigned k = 0; k < a->n; k++) {
		virtq_elem_write(a->e[k], 0, "done", 4);
		virtq_complete(&dev, a->e[k], 4);
	}
	return NULL;
}

static void test_completions(void)
{
	setup(8, 0);
	for (unsigned k = 0; k < 3; k++) {
		desc(k, BUF + 0x100 * k, 16, VIRTQ_DESC_F_WRITE, 0);
		avail_add(8, (uint16_t)k);
	}
	struct worker_arg a = { .n = 3 };
	for (unsigned k = 0; k < 3; k++)
		a.e[k] = virtq_pop(&dev, 0);
	pthread_t t;
	pthread_create(&t, NULL, worker, &a);
	pthread_join(t, NULL);
	struct pollfd pfd = { .fd = host.eventfd, .events = POLLIN };
	CHECK(poll(&pfd, 1, 0) == 1, "eventfd readable after completions");
	CHECK(r16(USED + 2) == 0, "nothing used before the vCPU thread polls");
	dma_lo = UINT64_MAX;
	dma_hi = 0;
	virtio_host_poll(&host);
	CHECK(r16(USED + 2) == 3 && r32(USED + 4 + 16) == 2 && r32(USED + 8 + 16) == 4,
	      "poll pushes the completions in order");
	CHECK(r32(BUF + 0x200) == 0x656e6f64 /* "done" */ && dma_lo == BUF && dma_hi == BUF + 0x204,
	      "worker's writes visible and reported as DMA");
	CHECK(notifies[1] == 1, "one interrupt for the batch");
	CHECK(poll(&pfd, 1, 0) == 0, "eventfd drained");
	virtio_host_poll(&host);
	CHECK(r16(USED + 2) == 3 && notifies[1] == 1, "empty poll does nothing");

	/* Completions of requests popped before a reset are dropped. */
	desc(3, BUF, 16, VIRTQ_DESC_F_WRITE, 0);
	avail_add(8, 3);
	struct virtq_elem *e = virtq_pop(&dev, 0);
	virtio_device_reset(&dev);
	CHECK(!dev.vq[0].enabled && dev.status == 0 && dev.driver_features == 0 && dev.vq[0].size == 1024,
	      "reset: queues, status and features back to reset values");
	virtq_complete(&dev, e, 16);
	virtio_host_poll(&host);
	CHECK(r16(USED + 2) == 3, "stale completion after reset dropped");
	/* Queued before the reset, polled after. */
	setup(8, 0);
	desc(0, BUF, 16, VIRTQ_DESC_F_WRITE, 0);
	avail_add(8, 0);
	e = virtq_pop(&dev, 0);
	virtq_complete(&dev, e, 16);
	virtio_device_reset(&dev);
	virtio_host_poll(&host);
	CHECK(r16(USED + 2) == 0 && notifies[1] == 0, "completion queued before a reset is dropped");
}

int main(void)
{
	if (ram_init(&ram, RAM_SIZE) < 0 || virtio_host_init(&host, &ram, dma_written, NULL, NULL) < 0) {
		printf("FAIL: setup\n");
		return 1;
	}
	test_normal_chain();
	test_zero_length_and_features();
	test_indirect();
	test_hostile();
	test_event_idx();
	test_wraparound();
	test_completions();
	virtio_host_free(&host);
	ram_free(&ram);
	TEST_EXIT();
}
