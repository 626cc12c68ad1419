/*
 * Drives as the user describes them: `--drive file=PATH[,format=raw|qcow2][,readonly=on][,serial=S]`
 * (QEMU's -drive syntax: comma-separated key=value pairs, ",," for a comma inside a value), and
 * opening one for a VM: the image through the block layer, plus a lock on the file so that two
 * VMs (or two drives of one VM) never write the same image.
 */
#ifndef SOFTVM_BLOCK_DRIVE_H
#define SOFTVM_BLOCK_DRIVE_H
#include <stdbool.h>
#include <stddef.h>

#include "block/block.h"

#define DRIVE_SERIAL_MAX 20 /* virtio-blk's ID string */

struct drive_config {
	char path[4096];
	enum blk_format format; /* BLK_FMT_AUTO: probed from the file's first bytes */
	bool read_only;
	char serial[DRIVE_SERIAL_MAX + 1];
};

/* Parses a --drive value. Returns 0, or -EINVAL with a one-line reason in err (naming the key). */
int drive_parse(const char *spec, struct drive_config *d, char *err, size_t errlen);

struct drive {
	struct blk *blk;
	int lock_fd;       /* holds the image's lock; -1 when none */
	bool probed_raw;   /* format was probed and found raw: the guest must not write a header
			      that would make the next probe see another format */
};

/* Opens the image with a lock on the file (shared for read-only drives, exclusive otherwise).
 * Returns 0 or a negative errno with a one-line reason naming the file in err. */
int drive_open(const struct drive_config *cfg, struct drive *d, char *err, size_t errlen);
/* Releases the lock (the blk is the caller's, typically handed to a device). */
void drive_unlock(struct drive *d);
#endif
