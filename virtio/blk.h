/*
 * virtio-blk (virtio 1.2 §5.2): a disk backed by the block layer (block/block.h: raw or qcow2),
 * one request queue served by I/O worker threads (block/worker.h) so that disk I/O overlaps guest
 * execution.
 */
#ifndef SOFTVM_VIRTIO_BLK_H
#define SOFTVM_VIRTIO_BLK_H
#include <stdbool.h>
#include <stdint.h>

#include "block/block.h"
#include "block/worker.h"
#include "virtio/virtio.h"

/* Feature bits (virtio 1.2 §5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_GEOMETRY 4
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_TOPOLOGY 10
#define VIRTIO_BLK_F_CONFIG_WCE 11
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* struct virtio_blk_config offsets (§5.2.4). */
#define VIRTIO_BLK_CFG_CAPACITY 0x00
#define VIRTIO_BLK_CFG_SIZE_MAX 0x08
#define VIRTIO_BLK_CFG_SEG_MAX 0x0c
#define VIRTIO_BLK_CFG_BLK_SIZE 0x14
#define VIRTIO_BLK_CFG_NUM_QUEUES 0x22
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 0x24
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG 0x28
#define VIRTIO_BLK_CFG_DISCARD_SECTOR_ALIGNMENT 0x2c
#define VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS 0x30
#define VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG 0x34
#define VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP 0x38
#define VIRTIO_BLK_CFG_LEN 0x48 /* through the secure erase fields, which stay 0 */

/* Request types and status values (§5.2.6). */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_GET_LIFETIME 10
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_T_SECURE_ERASE 14
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_REQ_HDR_LEN 16        /* le32 type, le32 reserved, le64 sector */
#define VIRTIO_BLK_DWZ_SEG_LEN 16        /* le64 sector, le32 num_sectors, le32 flags */
#define VIRTIO_BLK_WZ_F_UNMAP 1
#define VIRTIO_BLK_ID_BYTES 20

/* What softvm offers (config space values). */
#define VIRTIO_BLK_QUEUE_SIZE 256
#define VIRTIO_BLK_SEG_MAX (VIRTIO_BLK_QUEUE_SIZE - 2) /* data segments; + header + status */
#define VIRTIO_BLK_SIZE_MAX (1u << 20)                /* bytes per segment */
#define VIRTIO_BLK_MAX_DWZ_SECTORS (1u << 22)         /* per discard/write-zeroes segment: 2 GiB */
#define VIRTIO_BLK_MAX_DWZ_SEG 32
#define VIRTIO_BLK_THREADS 2

struct virtio_blk {
	struct virtio_device vdev;
	struct blk *disk;
	struct blk_worker worker;
	bool read_only;
	bool guard_probed_raw;
	uint64_t capacity; /* sectors */
	char serial[VIRTIO_BLK_ID_BYTES];
	/* Requests by outcome (vCPU thread counts submissions; errors found by workers are
	 * counted atomically). */
	uint64_t reqs, ioerrs, unsupp;
};

struct virtio_blk_options {
	const char *serial; /* GET_ID string (NULL or "": none; longer than 20 bytes is cut) */
	/* The image's format was probed and found raw: refuse (IOERR) writes that would give
	 * sector 0 another format's header, which the next probe would believe (a qcow2 header
	 * naming a host file as backing file would hand that file to the guest). */
	bool guard_probed_raw;
};

/* Makes a virtio-blk device serving disk (which it owns from now on: virtio_blk_free closes it).
 * opt may be NULL. Fills b->vdev for the transport (virtio_pci_init takes &b->vdev). Returns 0 or
 * -errno (threads). */
int virtio_blk_init(struct virtio_blk *b, struct blk *disk, const struct virtio_blk_options *opt);
/* Waits for in-flight requests, stops the workers, closes the disk (which flushes it). */
void virtio_blk_free(struct virtio_blk *b);
#endif
