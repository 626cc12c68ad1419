/*
 * Linux x86 boot protocol (Documentation/arch/x86/boot.rst, "64-bit boot protocol"): see linux.h.
 *
 * Guest-physical layout used while booting:
 *   0x00500  GDT (__BOOT_CS = 0x10, __BOOT_DS = 0x18)
 *   0x07000  boot_params ("zero page")
 *   0x09000  identity page tables for the first 4 GiB (2 MiB pages)
 *   0x20000  kernel command line
 *   pref_address (16 MiB for Debian) the kernel; the initrd as high as allowed below 4 GiB.
 */
#include <elf.h>
#include <errno.h>
#include <lzma.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux.h"

#define ZERO_PAGE 0x7000
#define CMDLINE_ADDR 0x20000
#define CMDLINE_MAX 0x10000

/* boot_params offsets (arch/x86/include/uapi/asm/bootparam.h) */
#define BP_ACPI_RSDP 0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES 0x1e8
#define BP_SETUP_SECTS 0x1f1
#define BP_HDR_MAGIC 0x202
#define BP_VERSION 0x206
#define BP_TYPE_OF_LOADER 0x210
#define BP_LOADFLAGS 0x211
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_HEAP_END_PTR 0x224
#define BP_CMD_LINE_PTR 0x228
#define BP_INITRD_ADDR_MAX 0x22c
#define BP_KERNEL_ALIGNMENT 0x230
#define BP_XLOADFLAGS 0x236
#define BP_CMDLINE_SIZE 0x238
#define BP_PAYLOAD_OFFSET 0x248
#define BP_PAYLOAD_LENGTH 0x24c
#define BP_PREF_ADDRESS 0x258
#define BP_INIT_SIZE 0x260
#define BP_E820_TABLE 0x2d0

#define LOADED_HIGH 0x01
#define CAN_USE_HEAP 0x80
#define XLF_KERNEL_64 0x01

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void wr32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void wr64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

uint8_t *load_file(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fail(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) != 0) {
		fail(err, errlen, "%s: cannot seek: %s", path, strerror(errno));
		fclose(f);
		return NULL;
	}
	long size = ftell(f);
	rewind(f);
	if (size < 0 || (size_t)size > max) {
		fail(err, errlen, "%s: file too large (%ld bytes, at most %zu)", path, size, max);
		fclose(f);
		return NULL;
	}
	uint8_t *buf = malloc(size ? (size_t)size : 1);
	if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
		fail(err, errlen, "%s: read error", path);
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*len = (size_t)size;
	return buf;
}

int linux_is_bzimage(const uint8_t *d, size_t len)
{
	return len > 0x270 && !memcmp(d + BP_HDR_MAGIC, "HdrS", 4);
}

void boot_long_mode_state(struct guest_ram *ram, struct cpu_state *s)
{
	/* GDT: null, unused, 64-bit code (0x10), data (0x18) as the 64-bit boot protocol wants. */
	static const uint64_t gdt[4] = { 0, 0, 0x00af9b000000ffffull, 0x00cf93000000ffffull };
	ram_write(ram, BOOT_GDT, gdt, sizeof(gdt));
	/* PML4 -> PDPT -> 4 page directories of 2 MiB pages: identity map of 0..4 GiB. */
	uint64_t pml4 = BOOT_PAGETABLES, pdpt = pml4 + 0x1000, pd = pdpt + 0x1000;
	uint8_t *p = ram_range(ram, pml4, 6 * 0x1000);
	memset(p, 0, 6 * 0x1000);
	wr64(p, pdpt | 3);
	for (int k = 0; k < 4; k++) {
		wr64(p + 0x1000 + 8 * k, (pd + 0x1000 * k) | 3);
		for (int e = 0; e < 512; e++)
			wr64(p + 0x2000 + 0x1000 * k + 8 * e, ((uint64_t)k << 30 | (uint64_t)e << 21) | 0x83);
	}
	memset(s->gpr, 0, sizeof(s->gpr));
	s->rflags = 2;
	s->cr0 = 0x80000031; /* PG NE ET PE */
	s->cr3 = pml4;
	s->cr4 = 0x20; /* PAE */
	s->efer = 0x500; /* LME LMA */
	s->gdtr.base = BOOT_GDT;
	s->gdtr.limit = sizeof(gdt) - 1;
	s->idtr.base = 0;
	s->idtr.limit = 0;
	s->seg[S_CS] = (struct cpu_seg){ .sel = 0x10, .base = 0, .limit = 0xffffffff, .attr = 0xa09b };
	for (int k = S_ES; k <= S_GS; k++)
		if (k != S_CS)
			s->seg[k] = (struct cpu_seg){ .sel = 0x18, .base = 0, .limit = 0xffffffff, .attr = 0xc093 };
	s->seg[S_TR] = (struct cpu_seg){ .sel = 0, .base = 0, .limit = 0xffff, .attr = 0x8b };
	s->seg[S_LDTR] = (struct cpu_seg){ .sel = 0, .base = 0, .limit = 0xffff, .attr = 0x82 };
}

/* Unpacks an xz payload into a malloc'ed buffer of at most max bytes. */
static uint8_t *unpack_xz(const uint8_t *in, size_t in_len, size_t max, size_t *out_len)
{
	/* The build appends the uncompressed size (le32) after the stream: a good first guess. */
	size_t cap = in_len >= 4 ? rd32(in + in_len - 4) : 0;
	if (cap == 0 || cap > max)
		cap = max;
	uint8_t *out = malloc(cap);
	if (!out)
		return NULL;
	lzma_stream strm = LZMA_STREAM_INIT;
	if (lzma_stream_decoder(&strm, 1ull << 30, 0) != LZMA_OK) {
		free(out);
		return NULL;
	}
	strm.next_in = in;
	strm.avail_in = in_len;
	strm.next_out = out;
	strm.avail_out = cap;
	lzma_ret r = lzma_code(&strm, LZMA_FINISH);
	*out_len = cap - strm.avail_out;
	lzma_end(&strm);
	if (r != LZMA_STREAM_END) {
		free(out);
		return NULL;
	}
	return out;
}

/* Places the PT_LOAD segments of a 64-bit vmlinux at their physical addresses. */
static int load_elf(struct guest_ram *ram, const uint8_t *elf, size_t len, uint64_t *entry, uint64_t *end, char *err,
		    size_t errlen, const char *path)
{
	if (len < sizeof(Elf64_Ehdr) || memcmp(elf, ELFMAG, SELFMAG) || elf[EI_CLASS] != ELFCLASS64)
		return fail(err, errlen, "%s: unpacked payload is not a 64-bit ELF kernel", path);
	Elf64_Ehdr eh;
	memcpy(&eh, elf, sizeof(eh));
	if (eh.e_machine != EM_X86_64 || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > len ||
	    (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff)
		return fail(err, errlen, "%s: bad ELF program headers in the payload", path);
	bool entry_ok = false;
	*end = 0;
	for (unsigned k = 0; k < eh.e_phnum; k++) {
		Elf64_Phdr ph;
		memcpy(&ph, elf + eh.e_phoff + k * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD)
			continue;
		if (ph.p_filesz > ph.p_memsz || ph.p_offset > len || ph.p_filesz > len - ph.p_offset)
			return fail(err, errlen, "%s: ELF segment %u is out of the file", path, k);
		uint8_t *dst = ram_range(ram, ph.p_paddr, ph.p_memsz);
		if (!dst)
			return fail(err, errlen, "%s: ELF segment %u at 0x%llx+0x%llx does not fit in guest RAM", path, k,
				    (unsigned long long)ph.p_paddr, (unsigned long long)ph.p_memsz);
		memcpy(dst, elf + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		if (eh.e_entry >= ph.p_paddr && eh.e_entry < ph.p_paddr + ph.p_memsz)
			entry_ok = true;
		if (ph.p_paddr + ph.p_memsz > *end)
			*end = ph.p_paddr + ph.p_memsz;
	}
	if (!entry_ok)
		return fail(err, errlen, "%s: ELF entry 0x%llx is not in a loaded segment", path,
			    (unsigned long long)eh.e_entry);
	*entry = eh.e_entry;
	return 0;
}

int linux_load(struct guest_ram *ram, const struct linux_boot *b, struct cpu_state *s, char *err, size_t errlen)
{
	size_t klen;
	uint8_t *k = load_file(b->kernel_path, 256u << 20, &klen, err, errlen);
	if (!k)
		return -1;
	int ret = -1;
	uint8_t *unpacked = NULL, *initrd = NULL;

	if (!linux_is_bzimage(k, klen)) {
		fail(err, errlen, "%s: not a Linux bzImage (no HdrS header)", b->kernel_path);
		goto out;
	}
	uint16_t version = rd16(k + BP_VERSION);
	if (version < 0x20c || !(rd16(k + BP_XLOADFLAGS) & XLF_KERNEL_64)) {
		fail(err, errlen, "%s: boot protocol %x.%02x without a 64-bit entry (need 2.12+)", b->kernel_path,
		     version >> 8, version & 0xff);
		goto out;
	}
	unsigned setup_sects = k[BP_SETUP_SECTS] ? k[BP_SETUP_SECTS] : 4;
	size_t pm_off = (size_t)(setup_sects + 1) * 512;
	if (pm_off >= klen) {
		fail(err, errlen, "%s: truncated kernel image", b->kernel_path);
		goto out;
	}
	uint8_t *zp = ram_range(ram, ZERO_PAGE, 0x1000);
	memset(zp, 0, 0x1000);
	/* The setup header runs from 0x1f1 to 0x202 + the jump offset at 0x201. */
	size_t hdr_end = 0x202 + k[0x201];
	if (hdr_end > 0x1000 || hdr_end > klen) {
		fail(err, errlen, "%s: bad setup header length", b->kernel_path);
		goto out;
	}
	memcpy(zp + BP_SETUP_SECTS, k + BP_SETUP_SECTS, hdr_end - BP_SETUP_SECTS);

	uint64_t load_addr = rd64(k + BP_PREF_ADDRESS);
	uint32_t init_size = rd32(k + BP_INIT_SIZE);
	if (version < 0x20a || load_addr < 0x100000)
		load_addr = 0x1000000;
	uint64_t kernel_end = load_addr + init_size, entry = 0;
	bool unpacked_ok = false;

	if (b->host_unpack) {
		uint32_t poff = rd32(k + BP_PAYLOAD_OFFSET), plen = rd32(k + BP_PAYLOAD_LENGTH);
		const uint8_t *payload = k + pm_off + poff;
		if ((uint64_t)pm_off + poff + plen <= klen && plen > 6 && !memcmp(payload, "\xfd" "7zXZ\0", 6)) {
			size_t ulen;
			unpacked = unpack_xz(payload, plen, ram->low_size < (512u << 20) ? ram->low_size : (512u << 20), &ulen);
			uint64_t elf_end = 0;
			if (unpacked) {
				if (load_elf(ram, unpacked, ulen, &entry, &elf_end, err, errlen, b->kernel_path) < 0)
					goto out;
				unpacked_ok = true;
				if (elf_end > kernel_end)
					kernel_end = elf_end;
			}
		}
	}
	if (!unpacked_ok) {
		/* Ordinary 64-bit entry: the kernel unpacks itself (startup_64 at +0x200). */
		uint8_t *dst = ram_range(ram, load_addr, klen - pm_off);
		if (!dst || !ram_range(ram, load_addr, init_size)) {
			fail(err, errlen, "%s: kernel does not fit in guest RAM (needs %u MiB at %llu MiB)", b->kernel_path,
			     init_size >> 20, (unsigned long long)(load_addr >> 20));
			goto out;
		}
		memcpy(dst, k + pm_off, klen - pm_off);
		entry = load_addr + 0x200;
	}

	/* Command line */
	const char *cmdline = b->cmdline ? b->cmdline : "";
	size_t cl = strlen(cmdline);
	uint32_t cmdline_size = version >= 0x206 ? rd32(k + BP_CMDLINE_SIZE) : 255;
	if (cl > cmdline_size || cl >= CMDLINE_MAX) {
		fail(err, errlen, "command line too long (%zu bytes, the kernel takes %u)", cl, cmdline_size);
		goto out;
	}
	ram_write(ram, CMDLINE_ADDR, cmdline, cl + 1);
	wr32(zp + BP_CMD_LINE_PTR, CMDLINE_ADDR);

	/* Initrd: as high as the kernel allows, below the end of low RAM, above the kernel. */
	if (b->initrd_path) {
		size_t ilen;
		initrd = load_file(b->initrd_path, 2u << 30, &ilen, err, errlen);
		if (!initrd)
			goto out;
		uint64_t max = rd32(k + BP_INITRD_ADDR_MAX);
		if (max == 0 || max > ram->low_size - 1)
			max = ram->low_size - 1;
		uint64_t addr = ((max + 1) - ilen) & ~0xfffull;
		if (ilen > max || addr < kernel_end || !ram_write(ram, addr, initrd, ilen)) {
			fail(err, errlen, "%s: initrd (%zu MiB) does not fit in guest RAM above the kernel", b->initrd_path,
			     ilen >> 20);
			goto out;
		}
		wr32(zp + BP_RAMDISK_IMAGE, (uint32_t)addr);
		wr32(zp + BP_RAMDISK_SIZE, (uint32_t)ilen);
	}

	zp[BP_TYPE_OF_LOADER] = 0xff;
	zp[BP_LOADFLAGS] |= LOADED_HIGH | CAN_USE_HEAP;
	wr16(zp + BP_HEAP_END_PTR, 0xfe00);
	if (b->acpi_rsdp && version >= 0x20e)
		wr64(zp + BP_ACPI_RSDP, b->acpi_rsdp);
	unsigned n = b->e820_count > 128 ? 128 : b->e820_count;
	zp[BP_E820_ENTRIES] = (uint8_t)n;
	memcpy(zp + BP_E820_TABLE, b->e820, n * sizeof(struct e820_entry));

	boot_long_mode_state(ram, s);
	s->rip = entry;
	s->gpr[R_RSI] = ZERO_PAGE;
	ret = 0;
out:
	free(unpacked);
	free(initrd);
	free(k);
	return ret;
}
