/*
 * QEMU's firmware configuration device (fw_cfg, QEMU docs/specs/fw_cfg.rst), x86 port I/O flavour:
 * a 16-bit selector at 0x510, a byte-wide data port at 0x511 and the DMA address register at
 * 0x514. Firmware (SeaBIOS) and test kernels read the machine's configuration through it: the
 * signature, RAM size, CPU counts and named files such as "etc/e820".
 */
#ifndef SOFTVM_DEV_FW_CFG_H
#define SOFTVM_DEV_FW_CFG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "machine/iobus.h"
#include "machine/ram.h"

#define FW_CFG_PORT_SEL 0x510
#define FW_CFG_PORT_DATA 0x511
#define FW_CFG_PORT_DMA 0x514

/* Item keys (fw_cfg.rst "Selector Register Key Values"; numbers as in QEMU's fw_cfg_keys.h). */
#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_ID 0x01
#define FW_CFG_UUID 0x02
#define FW_CFG_RAM_SIZE 0x03
#define FW_CFG_NOGRAPHIC 0x04
#define FW_CFG_NB_CPUS 0x05
#define FW_CFG_MACHINE_ID 0x06
#define FW_CFG_KERNEL_ADDR 0x07
#define FW_CFG_KERNEL_SIZE 0x08
#define FW_CFG_KERNEL_CMDLINE 0x09
#define FW_CFG_INITRD_ADDR 0x0a
#define FW_CFG_INITRD_SIZE 0x0b
#define FW_CFG_BOOT_DEVICE 0x0c
#define FW_CFG_NUMA 0x0d
#define FW_CFG_BOOT_MENU 0x0e
#define FW_CFG_MAX_CPUS 0x0f
#define FW_CFG_CMDLINE_ADDR 0x13
#define FW_CFG_CMDLINE_SIZE 0x14
#define FW_CFG_CMDLINE_DATA 0x15
#define FW_CFG_FILE_DIR 0x19
#define FW_CFG_FILE_FIRST 0x20
#define FW_CFG_FILE_SLOTS 0x40
#define FW_CFG_MAX_ENTRY (FW_CFG_FILE_FIRST + FW_CFG_FILE_SLOTS)
#define FW_CFG_WRITE_CHANNEL 0x4000
#define FW_CFG_ARCH_LOCAL 0x8000 /* x86: 0x8000 ACPI tables, 0x8002 IRQ0 override, 0x8003 e820 ... */
#define FW_CFG_ENTRY_MASK 0x3fff
#define FW_CFG_MAX_FILE_PATH 56

/* FW_CFG_ID feature bits */
#define FW_CFG_VERSION 0x01
#define FW_CFG_VERSION_DMA 0x02

/* DMA control bits (FWCfgDmaAccess.control, big-endian in guest memory) */
#define FW_CFG_DMA_CTL_ERROR 0x01
#define FW_CFG_DMA_CTL_READ 0x02
#define FW_CFG_DMA_CTL_SKIP 0x04
#define FW_CFG_DMA_CTL_SELECT 0x08
#define FW_CFG_DMA_CTL_WRITE 0x10
#define FW_CFG_DMA_SIGNATURE "QEMU CFG"

struct fw_cfg_item {
	uint8_t *data; /* owned copy, or NULL when the item is absent */
	uint32_t len;
};

struct fw_cfg {
	/* [0]: generic keys, [1]: arch-local keys (FW_CFG_ARCH_LOCAL set), indexed by key & mask. */
	struct fw_cfg_item items[2][FW_CFG_MAX_ENTRY];
	char file_names[FW_CFG_FILE_SLOTS][FW_CFG_MAX_FILE_PATH]; /* sorted, slot k = key 0x20 + k */
	unsigned nfiles;
	/* guest-visible state */
	uint16_t cur_key;
	bool cur_valid;
	uint32_t cur_offset;
	uint64_t dma_addr;
	/* wiring */
	const struct guest_ram *ram;
	/* Called after DMA wrote guest memory (so the CPU drops code it cached there). May be NULL. */
	void (*dma_written)(void *opaque, uint64_t gpa, uint64_t len);
	void *opaque;
};

/* Registers the ports and creates the signature, ID and file directory items. ram is used by
 * DMA. Returns 0 or -errno. */
int fw_cfg_init(struct fw_cfg *f, struct iobus *pio, const struct guest_ram *ram);
/* Frees the items (fw_cfg_init's registration is left to the bus's owner). */
void fw_cfg_free(struct fw_cfg *f);
/* Guest-visible state back to power-on: nothing selected, no DMA address. Items stay. */
void fw_cfg_reset(struct fw_cfg *f);

/* Sets a numbered item (key < FW_CFG_FILE_FIRST, or with FW_CFG_ARCH_LOCAL) to a copy of data,
 * replacing what was there. Returns 0 or -EINVAL/-ENOMEM. */
int fw_cfg_add_item(struct fw_cfg *f, uint16_t key, const void *data, size_t len);
/* Little-endian integer items, as QEMU's fw_cfg_add_i16/i32/i64. */
int fw_cfg_add_i16(struct fw_cfg *f, uint16_t key, uint16_t v);
int fw_cfg_add_i32(struct fw_cfg *f, uint16_t key, uint32_t v);
int fw_cfg_add_i64(struct fw_cfg *f, uint16_t key, uint64_t v);
/* Adds a named file (a copy of data) to the directory, kept sorted by name as QEMU does; the
 * keys of the files that sort after it move up by one. Returns the file's key, or -EEXIST,
 * -ENAMETOOLONG (name must fit 55 bytes), -ENOSPC, -EFBIG or -ENOMEM. */
int fw_cfg_add_file(struct fw_cfg *f, const char *name, const void *data, size_t len);
/* Key of a named file, or -ENOENT. */
int fw_cfg_find_file(const struct fw_cfg *f, const char *name);

extern const struct io_ops fw_cfg_ops;     /* selector (offset 0) and data (offset 1) */
extern const struct io_ops fw_cfg_dma_ops; /* DMA address register, 8 bytes */
#endif
