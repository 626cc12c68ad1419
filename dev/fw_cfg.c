/*
 * QEMU fw_cfg device (QEMU docs/specs/fw_cfg.rst), as QEMU's PC machine exposes it on ports:
 *   0x510  selector, 16-bit write: chooses an item and rewinds its read offset;
 *   0x511  data, 8-bit read: the next byte of the selected item, 0 past its end or when the
 *          selected key does not exist;
 *   0x514  DMA address, 64-bit big-endian written as two 32-bit halves (the write of the low
 *          half at 0x518 starts the transfer); reads return the signature "QEMU CFG".
 * Items are byte blobs set by the machine; numbered items hold little-endian integers, the file
 * directory (key 0x19) and its entries are big-endian as the spec says. Keys with bit 15 set are
 * the architecture's own (QEMU's x86 uses them for legacy ACPI/SMBIOS/e820 blobs).
 *
 * Left out: the write channel (QEMU dropped guest writes through the data port in 2.4; DMA
 * writes get the error bit, as for QEMU's read-only items), the MMIO flavour, select callbacks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fw_cfg.h"

/* Bytes of a file directory entry: be32 size, be16 select, be16 reserved, name[56]. */
#define FILE_ENTRY_SIZE (8 + FW_CFG_MAX_FILE_PATH)

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static struct fw_cfg_item *item(struct fw_cfg *f, uint16_t key)
{
	if ((key & FW_CFG_ENTRY_MASK) >= FW_CFG_MAX_ENTRY)
		return NULL;
	return &f->items[!!(key & FW_CFG_ARCH_LOCAL)][key & FW_CFG_ENTRY_MASK];
}

static int set_item(struct fw_cfg_item *it, const void *data, size_t len)
{
	if (len > UINT32_MAX)
		return -EFBIG;
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, data, len);
	free(it->data);
	it->data = copy;
	it->len = (uint32_t)len;
	return 0;
}

static int rebuild_dir(struct fw_cfg *f)
{
	size_t len = 4 + (size_t)f->nfiles * FILE_ENTRY_SIZE;
	uint8_t *d = calloc(1, len);
	if (!d)
		return -ENOMEM;
	put_be32(d, f->nfiles);
	for (unsigned k = 0; k < f->nfiles; k++) {
		uint8_t *e = d + 4 + k * FILE_ENTRY_SIZE;
		put_be32(e, f->items[0][FW_CFG_FILE_FIRST + k].len);
		put_be16(e + 4, (uint16_t)(FW_CFG_FILE_FIRST + k));
		memcpy(e + 8, f->file_names[k], FW_CFG_MAX_FILE_PATH);
	}
	struct fw_cfg_item *dir = &f->items[0][FW_CFG_FILE_DIR];
	free(dir->data);
	dir->data = d;
	dir->len = (uint32_t)len;
	return 0;
}

int fw_cfg_add_item(struct fw_cfg *f, uint16_t key, const void *data, size_t len)
{
	if (key & FW_CFG_WRITE_CHANNEL)
		return -EINVAL;
	if (!(key & FW_CFG_ARCH_LOCAL) && (key >= FW_CFG_FILE_FIRST || key == FW_CFG_FILE_DIR))
		return -EINVAL;
	struct fw_cfg_item *it = item(f, key);
	if (!it)
		return -EINVAL;
	return set_item(it, data, len);
}

int fw_cfg_add_i16(struct fw_cfg *f, uint16_t key, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	return fw_cfg_add_item(f, key, b, sizeof(b));
}

int fw_cfg_add_i32(struct fw_cfg *f, uint16_t key, uint32_t v)
{
	uint8_t b[4];
	for (int k = 0; k < 4; k++)
		b[k] = (uint8_t)(v >> 8 * k);
	return fw_cfg_add_item(f, key, b, sizeof(b));
}

int fw_cfg_add_i64(struct fw_cfg *f, uint16_t key, uint64_t v)
{
	uint8_t b[8];
	for (int k = 0; k < 8; k++)
		b[k] = (uint8_t)(v >> 8 * k);
	return fw_cfg_add_item(f, key, b, sizeof(b));
}

int fw_cfg_find_file(const struct fw_cfg *f, const char *name)
{
	for (unsigned k = 0; k < f->nfiles; k++)
		if (!strncmp(f->file_names[k], name, FW_CFG_MAX_FILE_PATH))
			return FW_CFG_FILE_FIRST + (int)k;
	return -ENOENT;
}

int fw_cfg_add_file(struct fw_cfg *f, const char *name, const void *data, size_t len)
{
	if (strlen(name) >= FW_CFG_MAX_FILE_PATH || !*name)
		return -ENAMETOOLONG;
	if (len > UINT32_MAX)
		return -EFBIG;
	if (fw_cfg_find_file(f, name) >= 0)
		return -EEXIST;
	if (f->nfiles >= FW_CFG_FILE_SLOTS)
		return -ENOSPC;
	unsigned pos = 0;
	while (pos < f->nfiles && strcmp(f->file_names[pos], name) < 0)
		pos++;
	struct fw_cfg_item it = { NULL, 0 };
	int r = set_item(&it, data, len);
	if (r < 0)
		return r;
	struct fw_cfg_item *files = &f->items[0][FW_CFG_FILE_FIRST];
	memmove(&files[pos + 1], &files[pos], (f->nfiles - pos) * sizeof(*files));
	memmove(f->file_names[pos + 1], f->file_names[pos], (f->nfiles - pos) * FW_CFG_MAX_FILE_PATH);
	files[pos] = it;
	memset(f->file_names[pos], 0, FW_CFG_MAX_FILE_PATH);
	strcpy(f->file_names[pos], name);
	f->nfiles++;
	r = rebuild_dir(f);
	return r < 0 ? r : FW_CFG_FILE_FIRST + (int)pos;
}

static void select_key(struct fw_cfg *f, uint16_t key)
{
	f->cur_offset = 0;
	f->cur_key = key;
	f->cur_valid = item(f, key) != NULL;
}

/* The selected item, or NULL when nothing valid is selected or the key holds no data. */
static struct fw_cfg_item *current(struct fw_cfg *f)
{
	if (!f->cur_valid)
		return NULL;
	struct fw_cfg_item *it = item(f, f->cur_key);
	return it && it->data ? it : NULL;
}

static uint8_t read_byte(struct fw_cfg *f)
{
	struct fw_cfg_item *it = current(f);
	if (!it || f->cur_offset >= it->len)
		return 0;
	return it->data[f->cur_offset++];
}

static uint64_t fw_cfg_read(void *dev, uint64_t off, unsigned size)
{
	struct fw_cfg *f = dev;
	/* QEMU accepts only byte reads of the data port; anything else reads as an empty bus. */
	if (off != 1 || size != 1)
		return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
	return read_byte(f);
}

static void fw_cfg_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct fw_cfg *f = dev;
	if (off == 0 && size == 2)
		select_key(f, (uint16_t)val);
	/* data port writes: ignored since QEMU 2.4 */
}

const struct io_ops fw_cfg_ops = { fw_cfg_read, fw_cfg_write };

/* One DMA transfer as fw_cfg.rst "DMA interface" describes: FWCfgDmaAccess { be32 control;
 * be32 length; be64 address; } at dma_addr; control is replaced by 0 or the error bit at the end. */
static void dma_transfer(struct fw_cfg *f)
{
	uint8_t desc[16];
	uint64_t at = f->dma_addr;
	if (!ram_read(f->ram, at, desc, sizeof(desc)))
		return; /* nowhere to report the error */
	uint32_t control = get_be32(desc), length = get_be32(desc + 4);
	uint64_t addr = (uint64_t)get_be32(desc + 8) << 32 | get_be32(desc + 12);
	bool error = false;
	if (control & FW_CFG_DMA_CTL_SELECT)
		select_key(f, (uint16_t)(control >> 16));
	enum { OP_READ, OP_WRITE, OP_SKIP } op = OP_SKIP;
	if (control & FW_CFG_DMA_CTL_READ)
		op = OP_READ;
	else if (control & FW_CFG_DMA_CTL_WRITE)
		op = OP_WRITE;
	else if (control & FW_CFG_DMA_CTL_SKIP)
		op = OP_SKIP;
	else
		length = 0;
	if (length && op == OP_WRITE)
		error = true; /* every item is read-only */
	while (length && !error) {
		struct fw_cfg_item *it = current(f);
		uint32_t avail = it && f->cur_offset < it->len ? it->len - f->cur_offset : 0;
		uint32_t n = avail && avail < length ? avail : length;
		if (op == OP_READ) {
			uint8_t *dst = ram_range(f->ram, addr, n);
			if (!dst) {
				error = true;
				break;
			}
			if (avail)
				memcpy(dst, it->data + f->cur_offset, n);
			else
				memset(dst, 0, n); /* past the end: zeros, like the data port */
			if (f->dma_written)
				f->dma_written(f->opaque, addr, n);
		}
		if (avail)
			f->cur_offset += n;
		addr += n;
		length -= n;
	}
	uint8_t status[4];
	put_be32(status, error ? FW_CFG_DMA_CTL_ERROR : 0);
	if (ram_write(f->ram, at, status, sizeof(status)) && f->dma_written)
		f->dma_written(f->opaque, at, sizeof(status));
}

static uint32_t bswap32(uint32_t v)
{
	return __builtin_bswap32(v);
}

static uint64_t fw_cfg_dma_read(void *dev, uint64_t off, unsigned size)
{
	/* The register reads as the big-endian signature: its bytes in memory order. */
	static const char sig[8] = FW_CFG_DMA_SIGNATURE;
	uint64_t v = 0;
	for (unsigned k = 0; k < size && k < 8; k++)
		v |= (uint64_t)(off + k < 8 ? (uint8_t)sig[off + k] : 0xff) << 8 * k;
	return v;
}

static void fw_cfg_dma_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct fw_cfg *f = dev;
	if (size != 4)
		return;
	if (off == 0) {
		f->dma_addr = (uint64_t)bswap32((uint32_t)val) << 32;
	} else if (off == 4) {
		f->dma_addr |= bswap32((uint32_t)val);
		dma_transfer(f);
	}
}

const struct io_ops fw_cfg_dma_ops = { fw_cfg_dma_read, fw_cfg_dma_write };

void fw_cfg_reset(struct fw_cfg *f)
{
	f->cur_key = 0;
	f->cur_valid = false;
	f->cur_offset = 0;
	f->dma_addr = 0;
}

int fw_cfg_init(struct fw_cfg *f, struct iobus *pio, const struct guest_ram *ram)
{
	memset(f, 0, sizeof(*f));
	f->ram = ram;
	int r = fw_cfg_add_item(f, FW_CFG_SIGNATURE, "QEMU", 4);
	if (!r)
		r = fw_cfg_add_i32(f, FW_CFG_ID, FW_CFG_VERSION | FW_CFG_VERSION_DMA);
	if (!r)
		r = rebuild_dir(f);
	if (!r)
		r = iobus_register(pio, FW_CFG_PORT_SEL, 2, &fw_cfg_ops, f, "fw_cfg");
	if (!r)
		r = iobus_register(pio, FW_CFG_PORT_DMA, 8, &fw_cfg_dma_ops, f, "fw_cfg-dma");
	if (r) {
		fw_cfg_free(f);
		return r;
	}
	fw_cfg_reset(f);
	return 0;
}

void fw_cfg_free(struct fw_cfg *f)
{
	for (int a = 0; a < 2; a++)
		for (int k = 0; k < FW_CFG_MAX_ENTRY; k++) {
			free(f->items[a][k].data);
			f->items[a][k] = (struct fw_cfg_item){ NULL, 0 };
		}
	f->nfiles = 0;
}
