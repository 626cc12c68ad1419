/*
 * virtio-blk unit tests with fake rings: a split virtqueue laid out in guest RAM as a driver would
 * (descriptors, available ring, used ring), requests built descriptor by descriptor, the device
 * driven through its queue_notify and the virtio core's completion path (virtio_host_poll), and
 * the disk a raw image in a temporary file (also read and written behind the device's back to
 * check what reached it).
 *
 * Valid requests: GET_ID, OUT then IN, requests split over many descriptors and indirect tables,
 * the status sharing a buffer with data, FLUSH, DISCARD, WRITE_ZEROES, 64 requests in flight at
 * once. Hostile ones: sectors past the end (and overflowing), partial sectors, unknown types,
 * unknown and forbidden flags, bad discard payloads, too many segments, writes to a read-only
 * disk, requests without a header or status byte (DEVICE_NEEDS_RESET), and a reset with
 * requests in flight (nothing written to the used ring afterwards).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/block.h"
#include "machine/ram.h"
#include "tests/test.h"
#include "virtio/blk.h"
#include "virtio/virtio.h"

#define RAM_SIZE (16u << 20)
#define QSIZE 64
#define DESC_GPA 0x10000ull
#define AVAIL_GPA 0x11000ull
#define USED_GPA 0x12000ull
#define INDIRECT_GPA 0x20000ull
#define BUF_GPA 0x100000ull /* data buffers from here */
#define DISK_SECTORS 2048ull

static struct guest_ram ram;
static struct virtio_host host;
static unsigned irqs;
static uint64_t dma_lo = UINT64_MAX, dma_hi;

static void fake_notify(void *opaque, int q)
{
	irqs++;
}

static const struct virtio_transport_ops fake_tr = { fake_notify };

static void dma_written(void *opaque, uint64_t gpa, uint64_t len)
{
	if (gpa < dma_lo)
		dma_lo = gpa;
	if (gpa + len > dma_hi)
		dma_hi = gpa + len;
}

static uint8_t *gp(uint64_t gpa)
{
	return ram.host + gpa;
}

static void st16(uint64_t gpa, uint16_t v) { memcpy(gp(gpa), &v, 2); }
static void st32(uint64_t gpa, uint32_t v) { memcpy(gp(gpa), &v, 4); }
static void st64(uint64_t gpa, uint64_t v) { memcpy(gp(gpa), &v, 8); }
static uint16_t ld16(uint64_t gpa) { uint16_t v; memcpy(&v, gp(gpa), 2); return v; }
static uint32_t ld32(uint64_t gpa) { uint32_t v; memcpy(&v, gp(gpa), 4); return v; }

/* The driver's side of one queue. */
struct drv {
	struct virtio_blk *b;
	uint16_t avail_idx, used_seen;
	uint16_t next_desc; /* descriptors handed out round-robin */
};

struct buf {
	uint64_t gpa;
	uint32_t len;
	bool write; /* device-writable */
};

static void setup_queue(struct drv *d, struct virtio_blk *b, uint64_t extra_features)
{
	memset(d, 0, sizeof(*d));
	d->b = b;
	struct virtio_device *v = &b->vdev;
	memset(gp(DESC_GPA), 0, 0x3000);
	v->driver_features = VIRTIO_BIT(VIRTIO_F_VERSION_1) | extra_features;
	v->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	v->vq[0].size = QSIZE;
	v->vq[0].desc_gpa = DESC_GPA;
	v->vq[0].avail_gpa = AVAIL_GPA;
	v->vq[0].used_gpa = USED_GPA;
	virtq_enable(v, 0);
	v->status |= VIRTIO_STATUS_DRIVER_OK;
}

/* Puts a chain of n buffers on the available ring (direct descriptors). */
static void post_chain(struct drv *d, const struct buf *bufs, unsigned n)
{
	uint16_t head = d->next_desc;
	for (unsigned k = 0; k < n; k++) {
		uint16_t idx = (uint16_t)((head + k) % QSIZE);
		uint64_t a = DESC_GPA + 16ull * idx;
		st64(a, bufs[k].gpa);
		st32(a + 8, bufs[k].len);
		st16(a + 12, (uint16_t)((bufs[k].write ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0)));
		st16(a + 14, (uint16_t)((head + k + 1) % QSIZE));
	}
	d->next_desc = (uint16_t)((head + n) % QSIZE);
	st16(AVAIL_GPA + 4 + 2u * (d->avail_idx % QSIZE), head);
	d->avail_idx++;
	st16(AVAIL_GPA + 2, d->avail_idx);
}

/* Puts a chain of n buffers described by one indirect table at INDIRECT_GPA. */
static void post_indirect(struct drv *d, const struct buf *bufs, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		uint64_t a = INDIRECT_GPA + 16ull * k;
		st64(a, bufs[k].gpa);
		st32(a + 8, bufs[k].len);
		st16(a + 12, (uint16_t)((bufs[k].write ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0)));
		st16(a + 14, (uint16_t)(k + 1));
	}
	uint16_t head = d->next_desc;
	uint64_t a = DESC_GPA + 16ull * head;
	st64(a, INDIRECT_GPA);
	st32(a + 8, 16 * n);
	st16(a + 12, VIRTQ_DESC_F_INDIRECT);
	st16(a + 14, 0);
	d->next_desc = (uint16_t)((head + 1) % QSIZE);
	st16(AVAIL_GPA + 4 + 2u * (d->avail_idx % QSIZE), head);
	d->avail_idx++;
	st16(AVAIL_GPA + 2, d->avail_idx);
}

static void kick(struct drv *d)
{
	d->b->vdev.ops->queue_notify(&d->b->vdev, 0);
}

/* Waits (up to 10 s) until the used ring holds `count` entries more than seen so far, running
 * the vCPU thread's completion path. Returns false on timeout. */
static bool wait_used(struct drv *d, unsigned count)
{
	for (int spin = 0; spin < 10000; spin++) {
		virtio_host_poll(&host);
		if ((uint16_t)(ld16(USED_GPA + 2) - d->used_seen) >= count)
			return true;
		struct pollfd p = { .fd = host.eventfd, .events = POLLIN };
		poll(&p, 1, 1);
	}
	return false;
}

/* The next used entry: its length in *len; returns the chain head, or -1 if none. */
static int next_used(struct drv *d, uint32_t *len)
{
	if (ld16(USED_GPA + 2) == d->used_seen)
		return -1;
	uint64_t u = USED_GPA + 4 + 8ull * (d->used_seen % QSIZE);
	d->used_seen++;
	*len = ld32(u + 4);
	return (int)ld32(u);
}

/* Header at gpa. */
static void put_hdr(uint64_t gpa, uint32_t type, uint64_t sector)
{
	st32(gpa, type);
	st32(gpa + 4, 0);
	st64(gpa + 8, sector);
}

#define HDR_GPA 0x30000ull
#define STATUS_GPA 0x31000ull
#define DWZ_GPA 0x32000ull

/* One request: header, data buffers, status; returns the status byte (0xff: no answer). */
static int request(struct drv *d, uint32_t type, uint64_t sector, uint64_t data_gpa, uint32_t data_len,
		   bool data_write, uint32_t *used_len)
{
	struct buf bufs[3];
	unsigned n = 0;
	put_hdr(HDR_GPA, type, sector);
	gp(STATUS_GPA)[0] = 0xee;
	bufs[n++] = (struct buf){ HDR_GPA, 16, false };
	if (data_len)
		bufs[n++] = (struct buf){ data_gpa, data_len, data_write };
	bufs[n++] = (struct buf){ STATUS_GPA, 1, true };
	post_chain(d, bufs, n);
	kick(d);
	if (!wait_used(d, 1))
		return 0xff;
	uint32_t len;
	next_used(d, &len);
	if (used_len)
		*used_len = len;
	return gp(STATUS_GPA)[0];
}

static int dwz(struct drv *d, uint32_t type, uint64_t sector, uint32_t num, uint32_t flags)
{
	st64(DWZ_GPA, sector);
	st32(DWZ_GPA + 8, num);
	st32(DWZ_GPA + 12, flags);
	return request(d, type, 0, DWZ_GPA, 16, false, NULL);
}

static void fill(uint64_t gpa, size_t len, uint8_t seed)
{
	for (size_t k = 0; k < len; k++)
		gp(gpa)[k] = (uint8_t)(seed + k * 7 + (k >> 9));
}

static bool is_filled(const uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t k = 0; k < len; k++)
		if (p[k] != (uint8_t)(seed + k * 7 + (k >> 9)))
			return false;
	return true;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t k = 0; k < len; k++)
		if (p[k])
			return false;
	return true;
}

static int open_disk(struct blk **disk, const char *path, unsigned flags)
{
	char err[256];
	int r = blk_open(disk, path, BLK_FMT_RAW, flags, err, sizeof(err));
	if (r < 0)
		printf("  blk_open: %s\n", err);
	return r;
}

int main(void)
{
	char path[] = "/tmp/softvm-test-blk-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, DISK_SECTORS * 512) < 0) {
		CHECK(0, "temporary disk image");
		TEST_EXIT();
	}
	static uint8_t pattern[DISK_SECTORS * 512];
	for (size_t k = 0; k < sizeof(pattern); k++)
		pattern[k] = (uint8_t)(k / 512 + k);
	if (pwrite(fd, pattern, sizeof(pattern), 0) != (ssize_t)sizeof(pattern))
		return 1;
	if (ram_init(&ram, RAM_SIZE) < 0 || virtio_host_init(&host, &ram, dma_written, NULL, NULL) < 0) {
		CHECK(0, "guest RAM and virtio host");
		TEST_EXIT();
	}

	struct blk *disk;
	static struct virtio_blk b;
	if (open_disk(&disk, path, 0) < 0 || virtio_blk_init(&b, disk, &(struct virtio_blk_options){ "softvm-serial-0123456789", true }) < 0) {
		CHECK(0, "virtio_blk_init");
		TEST_EXIT();
	}
	b.vdev.tr = &fake_tr;
	virtio_device_init(&b.vdev, &host);

	/* ---- features and configuration space ---- */
	uint64_t f = b.vdev.host_features;
	CHECK((f & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH)) && (f & VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX)) &&
	      (f & VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX)) && (f & VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE)) &&
	      (f & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD)) && (f & VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES)) &&
	      !(f & VIRTIO_BIT(VIRTIO_BLK_F_RO)), "writable disk offers SIZE_MAX SEG_MAX BLK_SIZE FLUSH DISCARD WRITE_ZEROES, not RO");
	uint64_t cap;
	memcpy(&cap, b.vdev.config + VIRTIO_BLK_CFG_CAPACITY, 8);
	CHECK(cap == DISK_SECTORS, "config capacity is %llu sectors (got %llu)", DISK_SECTORS, (unsigned long long)cap);
	uint32_t v32;
	memcpy(&v32, b.vdev.config + VIRTIO_BLK_CFG_BLK_SIZE, 4);
	CHECK(v32 == 512, "config blk_size 512");
	memcpy(&v32, b.vdev.config + VIRTIO_BLK_CFG_SEG_MAX, 4);
	CHECK(v32 == VIRTIO_BLK_SEG_MAX, "config seg_max");
	memcpy(&v32, b.vdev.config + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, 4);
	CHECK(v32 == VIRTIO_BLK_MAX_DWZ_SEG && b.vdev.config[VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP] == 1,
	      "config discard/write-zeroes limits");

	struct drv d;
	setup_queue(&d, &b, VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	uint32_t ulen;

	/* ---- valid requests ---- */
	memset(gp(BUF_GPA), 0xaa, 64);
	int st = request(&d, VIRTIO_BLK_T_GET_ID, 0, BUF_GPA, 20, true, &ulen);
	CHECK(st == VIRTIO_BLK_S_OK && !memcmp(gp(BUF_GPA), "softvm-serial-012345", 20) && gp(BUF_GPA)[20] == 0xaa,
	      "GET_ID returns the serial cut to 20 bytes (status %d)", st);
	CHECK(ulen == 21, "GET_ID used length 21 (got %u)", ulen);
	CHECK(irqs > 0, "completion interrupts the driver");

	st = request(&d, VIRTIO_BLK_T_IN, 3, BUF_GPA, 1024, true, &ulen);
	CHECK(st == VIRTIO_BLK_S_OK && !memcmp(gp(BUF_GPA), pattern + 3 * 512, 1024), "IN reads sectors 3-4 (status %d)", st);
	CHECK(ulen == 1025, "IN used length is data + status (got %u)", ulen);
	CHECK(dma_lo <= BUF_GPA && dma_hi >= BUF_GPA + 1024, "IN data reported as DMA-written");

	fill(BUF_GPA, 4096, 0x31);
	st = request(&d, VIRTIO_BLK_T_OUT, 100, BUF_GPA, 4096, false, &ulen);
	uint8_t file[4096];
	CHECK(st == VIRTIO_BLK_S_OK && pread(fd, file, 4096, 100 * 512) == 4096 && is_filled(file, 4096, 0x31),
	      "OUT writes sectors 100-107 to the image (status %d)", st);
	CHECK(ulen == 1, "OUT used length is the status byte (got %u)", ulen);
	memset(gp(BUF_GPA), 0, 4096);
	st = request(&d, VIRTIO_BLK_T_IN, 100, BUF_GPA, 4096, true, NULL);
	CHECK(st == VIRTIO_BLK_S_OK && is_filled(gp(BUF_GPA), 4096, 0x31), "IN reads back what OUT wrote");

	st = request(&d, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL);
	CHECK(st == VIRTIO_BLK_S_OK, "FLUSH (status %d)", st);
	st = request(&d, VIRTIO_BLK_T_IN, DISK_SECTORS - 1, BUF_GPA, 512, true, NULL);
	CHECK(st == VIRTIO_BLK_S_OK && !memcmp(gp(BUF_GPA), pattern + (DISK_SECTORS - 1) * 512, 512), "IN of the last sector");
	st = request(&d, VIRTIO_BLK_T_IN, DISK_SECTORS, 0, 0, true, NULL);
	CHECK(st == VIRTIO_BLK_S_OK, "zero-length IN at the end is OK");

	/* Header split 5 + 11 bytes, data over three buffers (one shared with the status byte). */
	{
		fill(BUF_GPA, 2048, 0x55);
		put_hdr(HDR_GPA, VIRTIO_BLK_T_OUT, 200);
		struct buf bufs[] = {
			{ HDR_GPA, 5, false }, { HDR_GPA + 5, 11, false }, { BUF_GPA, 100, false },
			{ BUF_GPA + 100, 1000, false }, { BUF_GPA + 1100, 948, false }, { STATUS_GPA, 1, true },
		};
		gp(STATUS_GPA)[0] = 0xee;
		post_chain(&d, bufs, 6);
		kick(&d);
		bool ok = wait_used(&d, 1);
		next_used(&d, &ulen);
		CHECK(ok && gp(STATUS_GPA)[0] == 0 && pread(fd, file, 2048, 200 * 512) == 2048 && is_filled(file, 2048, 0x55),
		      "OUT with the header and data split over several descriptors");

		memset(gp(BUF_GPA), 0, 4096);
		put_hdr(HDR_GPA, VIRTIO_BLK_T_IN, 200);
		struct buf rbufs[] = { { HDR_GPA, 16, false }, { BUF_GPA, 700, true }, { BUF_GPA + 700, 1349, true } };
		post_chain(&d, rbufs, 3);
		kick(&d);
		ok = wait_used(&d, 1);
		next_used(&d, &ulen);
		CHECK(ok && is_filled(gp(BUF_GPA), 2048, 0x55) && gp(BUF_GPA)[2048] == VIRTIO_BLK_S_OK && ulen == 2049,
		      "IN with the status byte at the end of a data buffer");
	}

	/* Indirect table: header, 8 data buffers, status. */
	{
		memset(gp(BUF_GPA), 0, 4096);
		put_hdr(HDR_GPA, VIRTIO_BLK_T_IN, 100);
		struct buf bufs[10];
		bufs[0] = (struct buf){ HDR_GPA, 16, false };
		for (int k = 0; k < 8; k++)
			bufs[1 + k] = (struct buf){ BUF_GPA + 512 * (7 - k), 512, true }; /* reversed order */
		bufs[9] = (struct buf){ STATUS_GPA, 1, true };
		gp(STATUS_GPA)[0] = 0xee;
		post_indirect(&d, bufs, 10);
		kick(&d);
		bool ok = wait_used(&d, 1);
		next_used(&d, &ulen);
		bool right = true;
		for (int k = 0; k < 8; k++)
			right &= is_filled(gp(BUF_GPA + 512 * (7 - k)), 512, (uint8_t)(0x31 + k * 512 * 7 + k));
		CHECK(ok && gp(STATUS_GPA)[0] == 0 && right, "IN through an indirect table scatters into 8 buffers");
	}

	/* 30 reads in flight at once (two descriptors each: header, and data with the status). */
	{
		for (int k = 0; k < 30; k++) {
			uint64_t g = BUF_GPA + 0x10000 + 1024ull * k;
			put_hdr(HDR_GPA + 16 * k, VIRTIO_BLK_T_IN, 1000 + k);
			memset(gp(g), 0, 513);
			gp(g)[512] = 0xee;
		}
		for (int k = 0; k < 30; k++) {
			uint64_t g = BUF_GPA + 0x10000 + 1024ull * k;
			struct buf bufs[] = { { HDR_GPA + 16 * k, 16, false }, { g, 513, true } };
			post_chain(&d, bufs, 2);
		}
		kick(&d);
		bool ok = wait_used(&d, 30);
		int good = 0;
		for (int k = 0; k < 30; k++) {
			uint64_t g = BUF_GPA + 0x10000 + 1024ull * k;
			good += gp(g)[512] == 0 && !memcmp(gp(g), pattern + (1000 + k) * 512, 512);
		}
		uint32_t l;
		int heads = 0;
		while (next_used(&d, &l) >= 0)
			heads += l == 513;
		CHECK(ok && good == 30 && heads == 30, "30 requests in flight all complete with their data (%d good)", good);
	}

	/* Sector 0 of a probed raw image: ordinary data passes (split over descriptors so the first
	 * sector spans two of them), a qcow2 header does not. */
	{
		fill(BUF_GPA, 1024, 0x12);
		put_hdr(HDR_GPA, VIRTIO_BLK_T_OUT, 0);
		struct buf bufs[] = { { HDR_GPA, 16, false }, { BUF_GPA, 100, false }, { BUF_GPA + 100, 924, false },
				      { STATUS_GPA, 1, true } };
		gp(STATUS_GPA)[0] = 0xee;
		post_chain(&d, bufs, 4);
		kick(&d);
		bool ok = wait_used(&d, 1);
		next_used(&d, &ulen);
		CHECK(ok && gp(STATUS_GPA)[0] == 0 && pread(fd, file, 1024, 0) == 1024 && is_filled(file, 1024, 0x12),
		      "probed raw: OUT of ordinary data to sectors 0-1 split over two buffers");
		memcpy(gp(BUF_GPA), "QFI\xfb\0\0\0\3", 8);
		gp(STATUS_GPA)[0] = 0xee;
		post_chain(&d, bufs, 4);
		kick(&d);
		ok = wait_used(&d, 1);
		next_used(&d, &ulen);
		CHECK(ok && gp(STATUS_GPA)[0] == VIRTIO_BLK_S_IOERR && pread(fd, file, 1024, 0) == 1024 &&
		      is_filled(file, 1024, 0x12), "probed raw: OUT of a qcow2 header to sector 0: IOERR, image unchanged");
		st = request(&d, VIRTIO_BLK_T_OUT, 1, BUF_GPA, 512, false, NULL);
		CHECK(st == VIRTIO_BLK_S_OK, "probed raw: the same bytes at sector 1 are written");
	}

	/* DISCARD and WRITE_ZEROES. */
	st = dwz(&d, VIRTIO_BLK_T_WRITE_ZEROES, 100, 8, 0);
	CHECK(st == VIRTIO_BLK_S_OK && pread(fd, file, 4096, 100 * 512) == 4096 && all_zero(file, 4096),
	      "WRITE_ZEROES zeroes sectors 100-107 in the image (status %d)", st);
	st = dwz(&d, VIRTIO_BLK_T_WRITE_ZEROES, 200, 4, VIRTIO_BLK_WZ_F_UNMAP);
	memset(gp(BUF_GPA), 0xff, 2048);
	int st2 = request(&d, VIRTIO_BLK_T_IN, 200, BUF_GPA, 2048, true, NULL);
	CHECK(st == VIRTIO_BLK_S_OK && st2 == 0 && all_zero(gp(BUF_GPA), 2048), "WRITE_ZEROES with unmap reads back zeros");
	st = dwz(&d, VIRTIO_BLK_T_DISCARD, 0, 64, 0);
	CHECK(st == VIRTIO_BLK_S_OK, "DISCARD of sectors 0-63 (status %d)", st);

	/* ---- hostile requests ---- */
	st = request(&d, VIRTIO_BLK_T_IN, DISK_SECTORS - 1, BUF_GPA, 1024, true, NULL);
	CHECK(st == VIRTIO_BLK_S_IOERR, "IN running past the end: IOERR (%d)", st);
	st = request(&d, VIRTIO_BLK_T_IN, DISK_SECTORS, BUF_GPA, 512, true, NULL);
	CHECK(st == VIRTIO_BLK_S_IOERR, "IN at the capacity: IOERR (%d)", st);
	st = request(&d, VIRTIO_BLK_T_OUT, UINT64_MAX - 1, BUF_GPA, 1024, false, NULL);
	CHECK(st == VIRTIO_BLK_S_IOERR, "OUT at sector 2^64-2 (overflow): IOERR (%d)", st);
	st = request(&d, VIRTIO_BLK_T_OUT, (UINT64_MAX >> 9) + 1, BUF_GPA, 512, false, NULL);
	CHECK(st == VIRTIO_BLK_S_IOERR, "OUT at a sector whose byte offset overflows: IOERR (%d)", st);
	st = request(&d, VIRTIO_BLK_T_IN, 0, BUF_GPA, 100, true, NULL);
	CHECK(st == VIRTIO_BLK_S_IOERR, "IN of 100 bytes (partial sector): IOERR (%d)", st);
	st = request(&d, VIRTIO_BLK_T_OUT, 0, BUF_GPA, 513, false, NULL);
	CHECK(st == VIRTIO_BLK_S_IOERR, "OUT of 513 bytes: IOERR (%d)", st);
	st = request(&d, 99, 0, BUF_GPA, 512, true, NULL);
	CHECK(st == VIRTIO_BLK_S_UNSUPP, "unknown type 99: UNSUPP (%d)", st);
	st = request(&d, VIRTIO_BLK_T_GET_LIFETIME, 0, BUF_GPA, 16, true, NULL);
	CHECK(st == VIRTIO_BLK_S_UNSUPP, "GET_LIFETIME: UNSUPP (%d)", st);
	st = request(&d, VIRTIO_BLK_T_SECURE_ERASE, 0, DWZ_GPA, 16, false, NULL);
	CHECK(st == VIRTIO_BLK_S_UNSUPP, "SECURE_ERASE: UNSUPP (%d)", st);
	st = dwz(&d, VIRTIO_BLK_T_DISCARD, 0, 8, VIRTIO_BLK_WZ_F_UNMAP);
	CHECK(st == VIRTIO_BLK_S_UNSUPP, "DISCARD with the unmap flag: UNSUPP (%d)", st);
	st = dwz(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0x80);
	CHECK(st == VIRTIO_BLK_S_UNSUPP, "WRITE_ZEROES with an unknown flag: UNSUPP (%d)", st);
	st = dwz(&d, VIRTIO_BLK_T_WRITE_ZEROES, DISK_SECTORS - 4, 8, 0);
	CHECK(st == VIRTIO_BLK_S_IOERR, "WRITE_ZEROES past the end: IOERR (%d)", st);
	st = dwz(&d, VIRTIO_BLK_T_DISCARD, UINT64_MAX - 2, 8, 0);
	CHECK(st == VIRTIO_BLK_S_IOERR, "DISCARD at an overflowing sector: IOERR (%d)", st);
	st = dwz(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, VIRTIO_BLK_MAX_DWZ_SECTORS + 1, 0);
	CHECK(st == VIRTIO_BLK_S_IOERR, "WRITE_ZEROES above max_write_zeroes_sectors: IOERR (%d)", st);
	st = request(&d, VIRTIO_BLK_T_DISCARD, 0, DWZ_GPA, 15, false, NULL);
	CHECK(st == VIRTIO_BLK_S_IOERR, "DISCARD with a 15-byte payload: IOERR (%d)", st);
	st = request(&d, VIRTIO_BLK_T_DISCARD, 0, DWZ_GPA, 16 * (VIRTIO_BLK_MAX_DWZ_SEG + 1), false, NULL);
	CHECK(st == VIRTIO_BLK_S_IOERR, "DISCARD with max_discard_seg + 1 segments: IOERR (%d)", st);
	st = request(&d, VIRTIO_BLK_T_DISCARD, 0, 0, 0, false, NULL);
	CHECK(st == VIRTIO_BLK_S_IOERR, "DISCARD without payload: IOERR (%d)", st);

	/* More segments than seg_max + 2, through an indirect table. */
	{
		enum { N = VIRTIO_BLK_SEG_MAX + 3 };
		static struct buf bufs[N];
		put_hdr(HDR_GPA, VIRTIO_BLK_T_IN, 0);
		bufs[0] = (struct buf){ HDR_GPA, 16, false };
		for (int k = 1; k < N - 1; k++)
			bufs[k] = (struct buf){ BUF_GPA + 512ull * k, 512, true };
		bufs[N - 1] = (struct buf){ STATUS_GPA, 1, true };
		gp(STATUS_GPA)[0] = 0xee;
		post_indirect(&d, bufs, N);
		kick(&d);
		bool ok = wait_used(&d, 1);
		next_used(&d, &ulen);
		CHECK(ok && gp(STATUS_GPA)[0] == VIRTIO_BLK_S_IOERR, "request with seg_max + 3 segments: IOERR");
	}
	CHECK(!(b.vdev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET), "no hostile request so far needed a reset");

	/* No status byte: the device cannot answer and needs a reset. */
	{
		put_hdr(HDR_GPA, VIRTIO_BLK_T_OUT, 0);
		struct buf bufs[] = { { HDR_GPA, 16, false }, { BUF_GPA, 512, false } };
		post_chain(&d, bufs, 2);
		kick(&d);
		wait_used(&d, 1);
		CHECK(b.vdev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET, "request without a status byte: DEVICE_NEEDS_RESET");
	}
	virtio_device_reset(&b.vdev);
	setup_queue(&d, &b, 0);
	{
		put_hdr(HDR_GPA, VIRTIO_BLK_T_IN, 0);
		struct buf bufs[] = { { HDR_GPA, 10, false }, { STATUS_GPA, 1, true } };
		post_chain(&d, bufs, 2);
		kick(&d);
		wait_used(&d, 1);
		CHECK(b.vdev.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET, "request with a 10-byte header: DEVICE_NEEDS_RESET");
	}

	/* Reset with requests in flight: they finish before reset returns; nothing reaches the ring. */
	virtio_device_reset(&b.vdev);
	setup_queue(&d, &b, 0);
	uint16_t used_before = ld16(USED_GPA + 2);
	for (int k = 0; k < 20; k++) {
		uint64_t g = BUF_GPA + 0x10000 + 1024ull * k;
		put_hdr(HDR_GPA + 16 * k, VIRTIO_BLK_T_IN, 1000 + k);
		struct buf bufs[] = { { HDR_GPA + 16 * k, 16, false }, { g, 513, true } };
		post_chain(&d, bufs, 2);
	}
	kick(&d);
	virtio_device_reset(&b.vdev);
	for (int k = 0; k < 50; k++) {
		virtio_host_poll(&host);
		usleep(1000);
	}
	CHECK(ld16(USED_GPA + 2) == used_before && b.worker.pending == 0,
	      "reset waits for in-flight requests; their completions are dropped (used idx %u)", ld16(USED_GPA + 2));
	setup_queue(&d, &b, 0);
	st = request(&d, VIRTIO_BLK_T_IN, 1500, BUF_GPA, 512, true, NULL);
	CHECK(st == VIRTIO_BLK_S_OK && !memcmp(gp(BUF_GPA), pattern + 1500 * 512, 512), "device works after the reset (status %d)", st);
	virtio_blk_free(&b);

	/* ---- a read-only disk ---- */
	static struct virtio_blk ro;
	if (open_disk(&disk, path, BLK_O_RDONLY) < 0 || virtio_blk_init(&ro, disk, NULL) < 0) {
		CHECK(0, "read-only virtio_blk_init");
		TEST_EXIT();
	}
	ro.vdev.tr = &fake_tr;
	virtio_device_init(&ro.vdev, &host);
	f = ro.vdev.host_features;
	CHECK((f & VIRTIO_BIT(VIRTIO_BLK_F_RO)) && !(f & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD)) &&
	      !(f & VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES)), "read-only disk offers RO, not DISCARD/WRITE_ZEROES");
	setup_queue(&d, &ro, VIRTIO_BIT(VIRTIO_BLK_F_RO));
	pread(fd, file, 512, 300 * 512);
	fill(BUF_GPA, 512, 0x77);
	st = request(&d, VIRTIO_BLK_T_OUT, 300, BUF_GPA, 512, false, NULL);
	uint8_t after[512];
	CHECK(st == VIRTIO_BLK_S_IOERR && pread(fd, after, 512, 300 * 512) == 512 && !memcmp(file, after, 512),
	      "OUT to a read-only disk: IOERR, image unchanged (%d)", st);
	st = dwz(&d, VIRTIO_BLK_T_WRITE_ZEROES, 300, 1, 0);
	CHECK(st == VIRTIO_BLK_S_IOERR, "WRITE_ZEROES to a read-only disk: IOERR (%d)", st);
	st = dwz(&d, VIRTIO_BLK_T_DISCARD, 300, 1, 0);
	CHECK(st == VIRTIO_BLK_S_IOERR, "DISCARD on a read-only disk: IOERR (%d)", st);
	st = request(&d, VIRTIO_BLK_T_IN, 300, BUF_GPA, 512, true, NULL);
	CHECK(st == VIRTIO_BLK_S_OK && !memcmp(gp(BUF_GPA), file, 512), "IN from a read-only disk works");
	st = request(&d, VIRTIO_BLK_T_GET_ID, 0, BUF_GPA, 20, true, NULL);
	CHECK(st == VIRTIO_BLK_S_OK && all_zero(gp(BUF_GPA), 20), "GET_ID without a serial: 20 NUL bytes");
	virtio_blk_free(&ro);

	/* A huge request on a big sparse disk: 200 overlapping 2 MiB buffers (400 MiB, more than
	 * seg_max x size_max) must be refused, not served by a worker for as long as it takes. */
	{
		char bigpath[] = "/tmp/softvm-test-blk-big-XXXXXX";
		int bfd = mkstemp(bigpath);
		struct blk *bigdisk;
		static struct virtio_blk big;
		if (bfd < 0 || ftruncate(bfd, 1ull << 30) < 0 || open_disk(&bigdisk, bigpath, 0) < 0 ||
		    virtio_blk_init(&big, bigdisk, &(struct virtio_blk_options){ NULL, true }) < 0) {
			CHECK(0, "big sparse disk");
		} else {
			big.vdev.tr = &fake_tr;
			virtio_device_init(&big.vdev, &host);
			setup_queue(&d, &big, VIRTIO_BIT(VIRTIO_F_RING_INDIRECT_DESC));
			static struct buf bufs[202];
			put_hdr(HDR_GPA, VIRTIO_BLK_T_IN, 0);
			gp(STATUS_GPA)[0] = 0xee;
			bufs[0] = (struct buf){ HDR_GPA, 16, false };
			for (int k = 1; k <= 200; k++)
				bufs[k] = (struct buf){ BUF_GPA, 2u << 20, true };
			bufs[201] = (struct buf){ STATUS_GPA, 1, true };
			post_indirect(&d, bufs, 202);
			kick(&d);
			bool done = wait_used(&d, 1);
			CHECK(done && gp(STATUS_GPA)[0] == VIRTIO_BLK_S_IOERR,
			      "IN of 400 MiB (beyond seg_max x size_max) on a 1 GiB disk: IOERR (%d)", gp(STATUS_GPA)[0]);
			virtio_blk_free(&big);
		}
		if (bfd >= 0) {
			close(bfd);
			unlink(bigpath);
		}
	}

	virtio_host_free(&host);
	ram_free(&ram);
	close(fd);
	unlink(path);
	TEST_EXIT();
}
