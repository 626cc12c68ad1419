/* fw_cfg unit tests: the port interface (selector, data, reads past the end), the numbered items,
 * the file directory layout and order, and the DMA interface, driven through the port bus as a
 * guest would (QEMU docs/specs/fw_cfg.rst). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev/fw_cfg.h"
#include "machine/iobus.h"
#include "machine/ram.h"
#include "tests/test.h"

static struct iobus pio;
static struct guest_ram ram;
static struct fw_cfg fw;
static unsigned dma_notes;
static uint64_t dma_note_lo = UINT64_MAX, dma_note_hi;

static void note_dma(void *opaque, uint64_t gpa, uint64_t len)
{
	dma_notes++;
	if (gpa < dma_note_lo)
		dma_note_lo = gpa;
	if (gpa + len > dma_note_hi)
		dma_note_hi = gpa + len;
}

static void sel(uint16_t key)
{
	iobus_write(&pio, FW_CFG_PORT_SEL, 2, key);
}

static uint8_t rd8(void)
{
	return (uint8_t)iobus_read(&pio, FW_CFG_PORT_DATA, 1);
}

static void rdn(void *buf, size_t n)
{
	uint8_t *b = buf;
	for (size_t k = 0; k < n; k++)
		b[k] = rd8();
}

static uint64_t rd_le(unsigned n)
{
	uint64_t v = 0;
	for (unsigned k = 0; k < n; k++)
		v |= (uint64_t)rd8() << 8 * k;
	return v;
}

static uint64_t rd_be(unsigned n)
{
	uint64_t v = 0;
	for (unsigned k = 0; k < n; k++)
		v = v << 8 | rd8();
	return v;
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Writes a FWCfgDmaAccess at desc and starts it the way a guest does (two big-endian halves). */
static uint32_t dma(uint64_t desc, uint32_t control, uint32_t len, uint64_t addr)
{
	uint8_t d[16];
	be32(d, control);
	be32(d + 4, len);
	be32(d + 8, (uint32_t)(addr >> 32));
	be32(d + 12, (uint32_t)addr);
	ram_write(&ram, desc, d, sizeof(d));
	iobus_write(&pio, FW_CFG_PORT_DMA, 4, __builtin_bswap32((uint32_t)(desc >> 32)));
	iobus_write(&pio, FW_CFG_PORT_DMA + 4, 4, __builtin_bswap32((uint32_t)desc));
	ram_read(&ram, desc, d, 4);
	return get_be32(d);
}

static void test_basic_items(void)
{
	char sig[5] = { 0 };
	sel(FW_CFG_SIGNATURE);
	rdn(sig, 4);
	CHECK(!strcmp(sig, "QEMU"), "signature item reads \"QEMU\"");
	CHECK(rd8() == 0 && rd8() == 0, "reads past the end of an item return 0");
	sel(FW_CFG_SIGNATURE);
	CHECK(rd8() == 'Q', "selecting again rewinds to the first byte");

	sel(FW_CFG_ID);
	CHECK(rd_le(4) == (FW_CFG_VERSION | FW_CFG_VERSION_DMA), "ID item: traditional interface and DMA");

	CHECK(fw_cfg_add_i64(&fw, FW_CFG_RAM_SIZE, 0x12345678abcull) == 0, "add RAM size item");
	CHECK(fw_cfg_add_i16(&fw, FW_CFG_NB_CPUS, 3) == 0 && fw_cfg_add_i16(&fw, FW_CFG_MAX_CPUS, 8) == 0,
	      "add CPU count items");
	sel(FW_CFG_RAM_SIZE);
	CHECK(rd_le(8) == 0x12345678abcull, "RAM size is a little-endian 64-bit item");
	sel(FW_CFG_NB_CPUS);
	CHECK(rd_le(2) == 3 && rd8() == 0, "NB_CPUS is a 16-bit item");
	sel(FW_CFG_MAX_CPUS);
	CHECK(rd_le(2) == 8, "MAX_CPUS is a 16-bit item");
	CHECK(fw_cfg_add_i16(&fw, FW_CFG_NB_CPUS, 1) == 0, "replace an item");
	sel(FW_CFG_NB_CPUS);
	CHECK(rd_le(2) == 1, "replaced item reads the new value");

	sel(FW_CFG_UUID);
	CHECK(rd8() == 0 && rd8() == 0, "an absent item reads as zeros");
	sel(0x3fff);
	CHECK(rd8() == 0, "a key beyond the table reads as zeros");
	sel(FW_CFG_SIGNATURE | FW_CFG_ARCH_LOCAL);
	CHECK(rd8() == 0, "arch-local keys are a separate table");
	CHECK(fw_cfg_add_i32(&fw, 0x8002, 1) == 0, "add an arch-local item (IRQ0 override)");
	sel(0x8002);
	CHECK(rd_le(4) == 1, "arch-local item reads back");
	sel(0x0002);
	CHECK(rd8() == 0, "same low key without the arch bit is another item");

	CHECK(fw_cfg_add_item(&fw, FW_CFG_FILE_FIRST, "x", 1) == -EINVAL, "file keys are not numbered items");
	CHECK(fw_cfg_add_item(&fw, FW_CFG_FILE_DIR, "x", 1) == -EINVAL, "the directory is not settable");
	CHECK(fw_cfg_add_item(&fw, 0x4003, "x", 1) == -EINVAL, "write-channel keys are refused");

	/* access widths QEMU does not accept on the x86 ports */
	sel(FW_CFG_SIGNATURE);
	iobus_write(&pio, FW_CFG_PORT_SEL, 1, FW_CFG_ID);
	CHECK(rd8() == 'Q', "an 8-bit selector write is ignored");
	iobus_write(&pio, FW_CFG_PORT_DATA, 1, 0x55);
	CHECK(rd8() == 'E', "data port writes are ignored");
	CHECK(iobus_read(&pio, FW_CFG_PORT_DATA - 1, 2) == 0xffff, "selector reads as an empty bus");
	CHECK(rd8() == 'M', "selector reads do not move the data offset");

	fw_cfg_reset(&fw);
	CHECK(rd8() == 0, "after reset nothing is selected");
	sel(FW_CFG_RAM_SIZE);
	CHECK(rd_le(8) == 0x12345678abcull, "items survive a reset");
}

struct dirent_ {
	uint32_t size;
	uint16_t select;
	char name[57];
};

static unsigned read_dir(struct dirent_ *d, unsigned max)
{
	sel(FW_CFG_FILE_DIR);
	unsigned n = (unsigned)rd_be(4);
	for (unsigned k = 0; k < n && k < max; k++) {
		d[k].size = (uint32_t)rd_be(4);
		d[k].select = (uint16_t)rd_be(2);
		rd_be(2);
		rdn(d[k].name, 56);
		d[k].name[56] = 0;
	}
	return n;
}

static void test_files(void)
{
	struct dirent_ d[FW_CFG_FILE_SLOTS + 1];
	CHECK(read_dir(d, 1) == 0, "empty file directory: count 0");

	uint8_t e820[40];
	for (int k = 0; k < 40; k++)
		e820[k] = (uint8_t)(k + 1);
	int ke = fw_cfg_add_file(&fw, "etc/e820", e820, sizeof(e820));
	CHECK(ke == FW_CFG_FILE_FIRST, "first file gets key 0x20");
	int kb = fw_cfg_add_file(&fw, "bootorder", "/pci@i0cf8/\n", 12);
	CHECK(kb == FW_CFG_FILE_FIRST, "files are sorted: \"bootorder\" takes 0x20");
	int ka = fw_cfg_add_file(&fw, "etc/acpi/tables", "ACPI", 4);
	CHECK(ka == FW_CFG_FILE_FIRST + 1, "\"etc/acpi/tables\" sorts between");
	CHECK(fw_cfg_find_file(&fw, "etc/e820") == FW_CFG_FILE_FIRST + 2, "\"etc/e820\" moved up to 0x22");
	CHECK(fw_cfg_find_file(&fw, "etc/none") == -ENOENT, "unknown file not found");

	unsigned n = read_dir(d, 4);
	CHECK(n == 3, "directory count is big-endian 3");
	CHECK(!strcmp(d[0].name, "bootorder") && d[0].select == 0x20 && d[0].size == 12, "entry 0: bootorder, 0x20, 12");
	CHECK(!strcmp(d[1].name, "etc/acpi/tables") && d[1].select == 0x21 && d[1].size == 4, "entry 1: etc/acpi/tables");
	CHECK(!strcmp(d[2].name, "etc/e820") && d[2].select == 0x22 && d[2].size == 40, "entry 2: etc/e820, 0x22, 40");
	sel(FW_CFG_FILE_DIR);
	rd_be(4 + 3 * 64);
	CHECK(rd8() == 0, "directory ends after its entries");

	uint8_t back[40];
	sel(d[2].select);
	rdn(back, sizeof(back));
	CHECK(!memcmp(back, e820, sizeof(e820)) && rd8() == 0, "file content through its key, then zeros");

	CHECK(fw_cfg_add_file(&fw, "etc/e820", "x", 1) == -EEXIST, "duplicate name refused");
	char longname[64];
	memset(longname, 'a', sizeof(longname));
	longname[56] = 0;
	CHECK(fw_cfg_add_file(&fw, longname, "x", 1) == -ENAMETOOLONG, "56-byte name refused (needs a NUL)");
	longname[55] = 0;
	CHECK(fw_cfg_add_file(&fw, longname, "x", 1) >= FW_CFG_FILE_FIRST, "55-byte name accepted");
	int r = 0;
	for (int k = 0; r >= 0; k++) {
		char name[16];
		snprintf(name, sizeof(name), "f/%03d", k);
		r = fw_cfg_add_file(&fw, name, &k, sizeof(k));
	}
	CHECK(r == -ENOSPC && fw.nfiles == FW_CFG_FILE_SLOTS, "the directory holds 64 files, then -ENOSPC");
	n = read_dir(d, FW_CFG_FILE_SLOTS);
	int sorted = n == FW_CFG_FILE_SLOTS;
	for (unsigned k = 1; k < n && k < FW_CFG_FILE_SLOTS; k++)
		sorted &= strcmp(d[k - 1].name, d[k].name) < 0 && d[k].select == FW_CFG_FILE_FIRST + k;
	CHECK(sorted, "a full directory is sorted with consecutive keys");
	sel(FW_CFG_FILE_FIRST + FW_CFG_FILE_SLOTS);
	CHECK(rd8() == 0, "key past the last file slot reads as zeros");
}

static void test_dma(void)
{
	char sig[9] = { 0 };
	uint64_t v = iobus_read(&pio, FW_CFG_PORT_DMA, 4) | iobus_read(&pio, FW_CFG_PORT_DMA + 4, 4) << 32;
	memcpy(sig, &v, 8);
	CHECK(!strcmp(sig, FW_CFG_DMA_SIGNATURE), "DMA register reads \"QEMU CFG\" in memory order");

	fw.dma_written = note_dma;
	uint8_t buf[16];
	memset(ram.host + 0x2000, 0xaa, 16);
	uint32_t st = dma(0x1000, FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 4, 0x2000);
	ram_read(&ram, 0x2000, buf, 6);
	CHECK(st == 0 && !memcmp(buf, "QEMU\xaa\xaa", 6), "DMA select+read copies the signature, control cleared");
	CHECK(dma_notes >= 2 && dma_note_lo == 0x1000 && dma_note_hi == 0x2004, "DMA writes are reported to the machine");

	sel(FW_CFG_ID);
	st = dma(0x1000, FW_CFG_DMA_CTL_READ, 8, 0x2000);
	ram_read(&ram, 0x2000, buf, 8);
	CHECK(st == 0 && buf[0] == 3 && !buf[3] && !buf[4] && !buf[7], "read past the end of an item fills zeros");
	sel(FW_CFG_SIGNATURE);
	st = dma(0x1000, FW_CFG_DMA_CTL_SKIP, 2, 0);
	CHECK(st == 0 && rd8() == 'M', "DMA skip advances the data offset (port reads continue there)");
	st = dma(0x1000, FW_CFG_DMA_CTL_READ, 1, 0x2000);
	CHECK(st == 0 && ram.host[0x2000] == 'U', "DMA read continues at the port's offset");

	st = dma(0x1000, FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_WRITE, 4, 0x2000);
	CHECK(st == FW_CFG_DMA_CTL_ERROR, "DMA write to a read-only item sets the error bit");
	st = dma(0x1000, FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 4, ram.size - 2);
	CHECK(st == FW_CFG_DMA_CTL_ERROR, "DMA read into a range beyond RAM sets the error bit");
	st = dma(0x1000, FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT | FW_CFG_DMA_CTL_READ, 0xffffffffu, 0x3000);
	CHECK(st == FW_CFG_DMA_CTL_ERROR && ram.host[0x3000] == 'Q', "4 GiB DMA read copies the item, then fails at RAM's end");
	st = dma(0x1000, FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_CTL_SELECT, 4, 0x2000);
	CHECK(st == 0, "DMA select alone succeeds");
	CHECK(rd8() == 'Q', "DMA select alone selects");

	/* A descriptor outside RAM: nothing happens, nothing breaks. */
	iobus_write(&pio, FW_CFG_PORT_DMA, 4, __builtin_bswap32(0x7fffffffu));
	iobus_write(&pio, FW_CFG_PORT_DMA + 4, 4, __builtin_bswap32(0xfffffff0u));
	CHECK(rd8() == 'E', "DMA with a descriptor outside RAM is ignored");
	/* An 8-bit write to the DMA register does not start anything either. */
	iobus_write(&pio, FW_CFG_PORT_DMA + 4, 1, 0);
	CHECK(rd8() == 'M', "narrow DMA register writes are ignored");
}

int main(void)
{
	if (ram_init(&ram, 16u << 20) < 0 || fw_cfg_init(&fw, &pio, &ram) < 0) {
		CHECK(0, "set up RAM and fw_cfg");
		TEST_EXIT();
	}
	struct fw_cfg other;
	CHECK(fw_cfg_init(&other, &pio, &ram) == -EEXIST, "a second fw_cfg on the same ports is refused");
	test_basic_items();
	test_files();
	test_dma();
	fw_cfg_free(&fw);
	ram_free(&ram);
	TEST_EXIT();
}
