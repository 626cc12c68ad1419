/*
 * Multiboot v1 loader (Multiboot Specification 0.6.96): see multiboot.h.
 *
 * The image is an ELF file (PT_LOAD segments go to p_paddr; the ELF entry is translated to the
 * physical address of the segment holding it, as GRUB does) or, when header flag 16 is set, a
 * flat image described by the header's address fields (§3.1.3, the "a.out kludge"), which then
 * take precedence over any ELF headers, as in GRUB and QEMU. Everything the image says is
 * checked against the file and the machine's e820 map before anything is copied.
 *
 * Guest-physical layout: the kernel where it asks to be; then, page-aligned above its highest
 * byte, one block holding the information structure, a GDT (the spec says the kernel must not
 * trust GDTR, but a valid one costs nothing), the memory map, the module list and the strings;
 * then each module on its own page boundary (header flag 0 is always honoured).
 *
 * Left out: video mode information (header flag 2 is accepted, as QEMU does, but the info
 * structure carries no VBE/framebuffer fields: the machine has no display), boot_device, ELF
 * section headers and a.out symbols (info flags 4 and 5), APM and drive tables.
 */
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "multiboot.h"

#define PAGE 0x1000ull
#define FOUR_GIB 0x100000000ull
#define MAX_SEGMENTS 64
#define MAX_MODULES 64
#define MB_GDT_SIZE 24 /* null, code 0x08, data 0x10 */
#define MB_CODE_SEL 0x08
#define MB_DATA_SEL 0x10
#define BOOT_LOADER_NAME "softvm"

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
	for (int k = 0; k < 4; k++)
		p[k] = (uint8_t)(v >> 8 * k);
}

static void wr64(uint8_t *p, uint64_t v)
{
	wr32(p, (uint32_t)v);
	wr32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

int multiboot_parse_header(const uint8_t *img, size_t len, struct multiboot_header *h, const char *path, char *err,
			   size_t errlen)
{
	size_t limit = len < MULTIBOOT_SEARCH ? len : MULTIBOOT_SEARCH;
	long bad_checksum_at = -1;
	for (size_t off = 0; off + 4 <= limit; off += 4) {
		if (rd32(img + off) != MULTIBOOT_HEADER_MAGIC)
			continue;
		if (off + 12 > len)
			return fail(err, errlen, "%s: Multiboot header at offset 0x%zx is truncated by the end of the file",
				    path, off);
		uint32_t flags = rd32(img + off + 4), checksum = rd32(img + off + 8);
		if ((uint32_t)(MULTIBOOT_HEADER_MAGIC + flags + checksum) != 0) {
			if (bad_checksum_at < 0)
				bad_checksum_at = (long)off;
			continue; /* a stray magic: keep looking, as GRUB does */
		}
		size_t need = 12;
		if (flags & MULTIBOOT_AOUT_KLUDGE)
			need = 32;
		if (flags & MULTIBOOT_VIDEO_MODE)
			need = 48;
		if (off + need > len || off + need > MULTIBOOT_SEARCH)
			return fail(err, errlen, "%s: Multiboot header at offset 0x%zx is truncated (its flags 0x%x need %zu bytes%s)",
				    path, off, flags, need, off + need > len ? " before the end of the file" : " within the first 8 KiB");
		/* §3.1.2: a loader must refuse requirements (bits 0-15) it does not know. */
		if (flags & 0x0000fff8)
			return fail(err, errlen, "%s: Multiboot header asks for unsupported features (flags 0x%x, unknown bits 0x%x)",
				    path, flags, flags & 0xfff8);
		memset(h, 0, sizeof(*h));
		h->offset = (uint32_t)off;
		h->magic = MULTIBOOT_HEADER_MAGIC;
		h->flags = flags;
		h->checksum = checksum;
		uint32_t *fields[] = { &h->header_addr, &h->load_addr, &h->load_end_addr, &h->bss_end_addr, &h->entry_addr,
				       &h->mode_type, &h->width, &h->height, &h->depth };
		for (size_t k = 0; 12 + 4 * k < need; k++)
			*fields[k] = rd32(img + off + 12 + 4 * k);
		return 1;
	}
	if (bad_checksum_at >= 0)
		return fail(err, errlen, "%s: Multiboot header at offset 0x%lx has a bad checksum", path, bad_checksum_at);
	fail(err, errlen, "%s: no Multiboot header in the first 8 KiB", path);
	return 0;
}

int multiboot_detect(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	uint8_t buf[MULTIBOOT_SEARCH];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	struct multiboot_header h;
	char err[8];
	return multiboot_parse_header(buf, n, &h, path, err, sizeof(err)) != 0 && !linux_is_bzimage(buf, n);
}

/* True when [addr, addr+len) lies inside one RAM range of the e820 map (and in guest RAM). */
static bool in_ram(const struct guest_ram *ram, const struct multiboot_boot *b, uint64_t addr, uint64_t len)
{
	if (addr + len < addr)
		return false;
	for (unsigned k = 0; k < b->e820_count; k++) {
		const struct e820_entry *e = &b->e820[k];
		if (e->type == E820_RAM && addr >= e->addr && addr + len <= e->addr + e->size)
			return ram_range(ram, addr, len ? len : 1) != NULL;
	}
	return false;
}

/* Lowest page-aligned address >= from where len bytes of RAM fit below 4 GiB, or 0. */
static uint64_t place(const struct guest_ram *ram, const struct multiboot_boot *b, uint64_t from, uint64_t len)
{
	uint64_t best = 0;
	for (unsigned k = 0; k < b->e820_count; k++) {
		const struct e820_entry *e = &b->e820[k];
		if (e->type != E820_RAM)
			continue;
		uint64_t at = align_up(from > e->addr ? from : e->addr, PAGE);
		if (at + len <= e->addr + e->size && at + len <= FOUR_GIB && in_ram(ram, b, at, len) &&
		    (!best || at < best))
			best = at;
	}
	return best;
}

struct segment {
	uint64_t offset, filesz, vaddr, paddr, memsz;
};

/* The loaded image: segments to copy from the file, the entry point and the extent. */
struct image {
	struct segment seg[MAX_SEGMENTS];
	unsigned nseg;
	bool aout; /* one range from the header's address fields */
	uint64_t entry, start, end;
};

static int check_segments(const struct guest_ram *ram, const struct multiboot_boot *b, struct image *im, size_t flen,
			  char *err, size_t errlen)
{
	const char *path = b->kernel_path;
	im->start = UINT64_MAX;
	im->end = 0;
	for (unsigned k = 0; k < im->nseg; k++) {
		const struct segment *s = &im->seg[k];
		if (s->filesz > s->memsz)
			return fail(err, errlen, "%s: segment %u has a file size (0x%llx) larger than its memory size (0x%llx)", path,
				    k, (unsigned long long)s->filesz, (unsigned long long)s->memsz);
		if (s->offset > flen || s->filesz > flen - s->offset)
			return fail(err, errlen, "%s: segment %u (file offset 0x%llx, 0x%llx bytes) runs past the end of the file",
				    path, k, (unsigned long long)s->offset, (unsigned long long)s->filesz);
		if (s->paddr >= FOUR_GIB || s->memsz > FOUR_GIB - s->paddr || !in_ram(ram, b, s->paddr, s->memsz)) {
			if (im->aout)
				return fail(err, errlen, "%s: Multiboot image at 0x%llx-0x%llx (load_addr to bss_end_addr) is not in guest RAM",
					    path, (unsigned long long)s->paddr, (unsigned long long)(s->paddr + s->memsz));
			return fail(err, errlen, "%s: ELF segment %u at 0x%llx-0x%llx is not in guest RAM", path, k,
				    (unsigned long long)s->paddr, (unsigned long long)(s->paddr + s->memsz));
		}
		for (unsigned j = 0; j < k; j++) {
			const struct segment *o = &im->seg[j];
			if (s->paddr < o->paddr + o->memsz && o->paddr < s->paddr + s->memsz)
				return fail(err, errlen, "%s: segments %u and %u overlap at 0x%llx", path, j, k,
					    (unsigned long long)(s->paddr > o->paddr ? s->paddr : o->paddr));
		}
		if (s->paddr < im->start)
			im->start = s->paddr;
		if (s->paddr + s->memsz > im->end)
			im->end = s->paddr + s->memsz;
	}
	return 0;
}

static int parse_elf(const uint8_t *img, size_t len, const struct multiboot_boot *b, struct image *im, char *err,
		     size_t errlen)
{
	const char *path = b->kernel_path;
	if (len < EI_NIDENT || memcmp(img, ELFMAG, SELFMAG))
		return fail(err, errlen, "%s: Multiboot kernel is not ELF and its header has no address fields (flag 16)", path);
	bool is64 = img[EI_CLASS] == ELFCLASS64;
	if ((img[EI_CLASS] != ELFCLASS32 && !is64) || img[EI_DATA] != ELFDATA2LSB)
		return fail(err, errlen, "%s: not a little-endian ELF32 or ELF64 file", path);
	uint64_t phoff, entry;
	unsigned phnum, phentsize, type, machine;
	if (is64) {
		Elf64_Ehdr eh;
		if (len < sizeof(eh))
			return fail(err, errlen, "%s: ELF header truncated", path);
		memcpy(&eh, img, sizeof(eh));
		phoff = eh.e_phoff, entry = eh.e_entry, phnum = eh.e_phnum, phentsize = eh.e_phentsize;
		type = eh.e_type, machine = eh.e_machine;
		if (phentsize != sizeof(Elf64_Phdr) && phnum)
			return fail(err, errlen, "%s: ELF program header size %u, expected %zu", path, phentsize, sizeof(Elf64_Phdr));
	} else {
		Elf32_Ehdr eh;
		if (len < sizeof(eh))
			return fail(err, errlen, "%s: ELF header truncated", path);
		memcpy(&eh, img, sizeof(eh));
		phoff = eh.e_phoff, entry = eh.e_entry, phnum = eh.e_phnum, phentsize = eh.e_phentsize;
		type = eh.e_type, machine = eh.e_machine;
		if (phentsize != sizeof(Elf32_Phdr) && phnum)
			return fail(err, errlen, "%s: ELF program header size %u, expected %zu", path, phentsize, sizeof(Elf32_Phdr));
	}
	if (type != ET_EXEC)
		return fail(err, errlen, "%s: ELF type %u is not an executable", path, type);
	if (machine != (is64 ? EM_X86_64 : EM_386))
		return fail(err, errlen, "%s: ELF machine %u is not %s", path, machine, is64 ? "x86-64" : "i386");
	if (!phnum || phoff > len || (uint64_t)phnum * phentsize > len - phoff)
		return fail(err, errlen, "%s: ELF program headers missing or past the end of the file", path);

	im->nseg = 0;
	for (unsigned k = 0; k < phnum; k++) {
		const uint8_t *p = img + phoff + (uint64_t)k * phentsize;
		struct segment s;
		uint32_t ptype;
		if (is64) {
			Elf64_Phdr ph;
			memcpy(&ph, p, sizeof(ph));
			ptype = ph.p_type;
			s = (struct segment){ ph.p_offset, ph.p_filesz, ph.p_vaddr, ph.p_paddr, ph.p_memsz };
		} else {
			Elf32_Phdr ph;
			memcpy(&ph, p, sizeof(ph));
			ptype = ph.p_type;
			s = (struct segment){ ph.p_offset, ph.p_filesz, ph.p_vaddr, ph.p_paddr, ph.p_memsz };
		}
		if (ptype != PT_LOAD || !s.memsz)
			continue;
		if (im->nseg == MAX_SEGMENTS)
			return fail(err, errlen, "%s: more than %d loadable ELF segments", path, MAX_SEGMENTS);
		im->seg[im->nseg++] = s;
	}
	if (!im->nseg)
		return fail(err, errlen, "%s: no loadable ELF segments", path);
	/* The entry is virtual; run it from the physical copy of the segment that holds it. */
	bool found = false;
	for (unsigned k = 0; k < im->nseg && !found; k++) {
		const struct segment *s = &im->seg[k];
		if (entry >= s->vaddr && entry - s->vaddr < s->memsz) {
			im->entry = s->paddr + (entry - s->vaddr);
			found = true;
		}
	}
	for (unsigned k = 0; k < im->nseg && !found; k++) {
		const struct segment *s = &im->seg[k];
		if (entry >= s->paddr && entry - s->paddr < s->memsz) {
			im->entry = entry;
			found = true;
		}
	}
	if (!found)
		return fail(err, errlen, "%s: ELF entry 0x%llx is not in a loadable segment", path, (unsigned long long)entry);
	return 0;
}

/* §3.1.3: address fields of the header (flag 16). */
static int parse_aout(const struct multiboot_header *h, size_t len, const struct multiboot_boot *b, struct image *im,
		      char *err, size_t errlen)
{
	const char *path = b->kernel_path;
	uint64_t hdr = h->header_addr, load = h->load_addr;
	if (load > hdr)
		return fail(err, errlen, "%s: Multiboot load_addr 0x%llx is above header_addr 0x%llx", path,
			    (unsigned long long)load, (unsigned long long)hdr);
	if (hdr - load > h->offset)
		return fail(err, errlen,
			    "%s: Multiboot header_addr - load_addr (0x%llx) is larger than the header's file offset 0x%x", path,
			    (unsigned long long)(hdr - load), h->offset);
	uint64_t file_off = h->offset - (hdr - load);
	uint64_t load_end = h->load_end_addr ? h->load_end_addr : load + (len - file_off);
	if (load_end <= hdr)
		return fail(err, errlen, "%s: Multiboot load_end_addr 0x%llx does not cover the header at 0x%llx", path,
			    (unsigned long long)load_end, (unsigned long long)hdr);
	if (load_end - load > len - file_off)
		return fail(err, errlen,
			    "%s: Multiboot load_end_addr 0x%llx asks for 0x%llx bytes from file offset 0x%llx, the file has 0x%llx",
			    path, (unsigned long long)load_end, (unsigned long long)(load_end - load),
			    (unsigned long long)file_off, (unsigned long long)(len - file_off));
	uint64_t bss_end = h->bss_end_addr ? h->bss_end_addr : load_end;
	if (bss_end < load_end)
		return fail(err, errlen, "%s: Multiboot bss_end_addr 0x%llx is below load_end_addr 0x%llx", path,
			    (unsigned long long)bss_end, (unsigned long long)load_end);
	if (h->entry_addr < load || h->entry_addr >= bss_end)
		return fail(err, errlen, "%s: Multiboot entry_addr 0x%x is outside the image at 0x%llx-0x%llx", path,
			    h->entry_addr, (unsigned long long)load, (unsigned long long)bss_end);
	im->nseg = 1;
	im->aout = true;
	im->seg[0] = (struct segment){ file_off, load_end - load, load, load, bss_end - load };
	im->entry = h->entry_addr;
	return 0;
}

struct module {
	char *path;   /* file name: the entry up to its first space */
	char *string; /* the whole entry */
	uint8_t *data;
	size_t len;
	uint64_t addr;
};

static void free_modules(struct module *m, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		free(m[k].path);
		free(m[k].string);
		free(m[k].data);
	}
}

/* Splits "a args,b,,c" into entries ("a args", "b,c"); fills path and string of each. */
static int parse_modules(const char *list, struct module *m, unsigned *count, char *err, size_t errlen)
{
	*count = 0;
	if (!list || !*list)
		return 0;
	const char *p = list;
	for (;;) {
		if (*count == MAX_MODULES)
			return fail(err, errlen, "--initrd: more than %d Multiboot modules", MAX_MODULES);
		size_t cap = strlen(p) + 1, n = 0;
		char *s = malloc(cap);
		if (!s)
			return fail(err, errlen, "out of memory");
		while (*p && !(*p == ',' && p[1] != ',')) {
			if (*p == ',')
				p++; /* ",," is a literal comma */
			s[n++] = *p++;
		}
		s[n] = 0;
		struct module *mod = &m[(*count)++];
		mod->string = s;
		mod->path = strndup(s, strcspn(s, " "));
		if (!mod->path)
			return fail(err, errlen, "out of memory");
		if (!*mod->path)
			return fail(err, errlen, "--initrd %s: empty Multiboot module name", list);
		if (!*p)
			return 0;
		p++;
	}
}

/* Builds the information block (structure, GDT, memory map, module list, strings) at addr. */
static uint8_t *build_info(const struct multiboot_boot *b, const char *cmdline, const struct module *mods,
			   unsigned nmods, uint64_t addr, size_t size, uint32_t *gdt_addr)
{
	uint8_t *blk = calloc(1, size);
	if (!blk)
		return NULL;
	uint8_t *info = blk;
	size_t gdt_off = MBI_SIZE, mmap_off = gdt_off + MB_GDT_SIZE;
	size_t mods_off = mmap_off + (size_t)b->e820_count * MB_MMAP_ENTRY_SIZE;
	size_t str_off = mods_off + (size_t)nmods * MB_MOD_SIZE;

	/* Flat 4 GiB code and data, the state the spec describes for CS and DS (§3.2). */
	wr64(blk + gdt_off + 8, 0x00cf9b000000ffffull);
	wr64(blk + gdt_off + 16, 0x00cf93000000ffffull);
	*gdt_addr = (uint32_t)(addr + gdt_off);

	/* mem_lower: RAM from 0 (at most 640 KiB); mem_upper: contiguous RAM from 1 MiB. */
	uint64_t lower = 0, upper = 0;
	for (unsigned k = 0; k < b->e820_count; k++) {
		const struct e820_entry *e = &b->e820[k];
		if (e->type != E820_RAM)
			continue;
		if (e->addr == 0)
			lower = e->size > 0xa0000 ? 0xa0000 : e->size;
		if (e->addr <= 0x100000 && e->addr + e->size > 0x100000)
			upper = e->addr + e->size - 0x100000;
	}
	if (upper > FOUR_GIB - 0x100000)
		upper = FOUR_GIB - 0x100000;
	wr32(info + MBI_MEM_LOWER, (uint32_t)(lower >> 10));
	wr32(info + MBI_MEM_UPPER, (uint32_t)(upper >> 10));

	for (unsigned k = 0; k < b->e820_count; k++) {
		uint8_t *e = blk + mmap_off + k * MB_MMAP_ENTRY_SIZE;
		wr32(e, MB_MMAP_ENTRY_SIZE - 4);
		wr64(e + 4, b->e820[k].addr);
		wr64(e + 12, b->e820[k].size);
		wr32(e + 20, b->e820[k].type);
	}
	wr32(info + MBI_MMAP_LENGTH, b->e820_count * MB_MMAP_ENTRY_SIZE);
	wr32(info + MBI_MMAP_ADDR, (uint32_t)(addr + mmap_off));

	size_t at = str_off;
#define PUT_STRING(str) ({                                           \
		size_t _n = strlen(str) + 1, _o = at;                \
		memcpy(blk + at, (str), _n);                         \
		at += _n;                                            \
		(uint32_t)(addr + _o);                               \
	})
	wr32(info + MBI_BOOT_LOADER_NAME, PUT_STRING(BOOT_LOADER_NAME));
	wr32(info + MBI_CMDLINE, PUT_STRING(cmdline));
	for (unsigned k = 0; k < nmods; k++) {
		uint8_t *m = blk + mods_off + k * MB_MOD_SIZE;
		wr32(m, (uint32_t)mods[k].addr);
		wr32(m + 4, (uint32_t)(mods[k].addr + mods[k].len));
		wr32(m + 8, PUT_STRING(mods[k].string));
	}
#undef PUT_STRING
	wr32(info + MBI_MODS_COUNT, nmods);
	wr32(info + MBI_MODS_ADDR, (uint32_t)(addr + mods_off));
	wr32(info + MBI_FLAGS, MULTIBOOT_INFO_MEMORY | MULTIBOOT_INFO_CMDLINE | MULTIBOOT_INFO_MODS |
				       MULTIBOOT_INFO_MEM_MAP | MULTIBOOT_INFO_BOOT_LOADER_NAME);
	return blk;
}

/* §3.2 "Machine state": 32-bit protected mode, flat segments, paging and interrupts off. */
static void entry_state(struct cpu_state *s, uint32_t entry, uint32_t info, uint32_t gdt)
{
	memset(s->gpr, 0, sizeof(s->gpr));
	s->gpr[R_RAX] = MULTIBOOT_BOOTLOADER_MAGIC;
	s->gpr[R_RBX] = info;
	s->rip = entry;
	s->rflags = 2; /* IF = 0, VM = 0 */
	s->cr0 = 0x11; /* PE, ET; PG off, caches on */
	s->cr3 = 0;
	s->cr4 = 0;
	s->efer = 0;
	s->gdtr.base = gdt;
	s->gdtr.limit = MB_GDT_SIZE - 1;
	s->idtr.base = 0;
	s->idtr.limit = 0;
	s->seg[S_CS] = (struct cpu_seg){ .sel = MB_CODE_SEL, .base = 0, .limit = 0xffffffff, .attr = 0xc09b };
	for (int k = S_ES; k <= S_GS; k++)
		if (k != S_CS)
			s->seg[k] = (struct cpu_seg){ .sel = MB_DATA_SEL, .base = 0, .limit = 0xffffffff, .attr = 0xc093 };
}

int multiboot_load(struct guest_ram *ram, const struct multiboot_boot *b, struct cpu_state *s, char *err,
		   size_t errlen)
{
	const char *path = b->kernel_path;
	size_t klen;
	uint8_t *k = load_file(path, ram->size < (1ull << 32) ? ram->size : (1ull << 32), &klen, err, errlen);
	if (!k)
		return -1;
	int ret = -1;
	struct module mods[MAX_MODULES];
	unsigned nmods = 0;
	uint8_t *blk = NULL;
	char *cmdline = NULL;
	struct image *im = calloc(1, sizeof(*im));
	memset(mods, 0, sizeof(mods));
	if (!im) {
		fail(err, errlen, "out of memory");
		goto out;
	}

	struct multiboot_header h;
	if (multiboot_parse_header(k, klen, &h, path, err, errlen) <= 0)
		goto out;
	if (h.flags & MULTIBOOT_AOUT_KLUDGE) {
		if (parse_aout(&h, klen, b, im, err, errlen) < 0)
			goto out;
	} else if (parse_elf(k, klen, b, im, err, errlen) < 0) {
		goto out;
	}
	if (check_segments(ram, b, im, klen, err, errlen) < 0)
		goto out;
	if (im->entry >= FOUR_GIB) {
		fail(err, errlen, "%s: entry 0x%llx is above 4 GiB", path, (unsigned long long)im->entry);
		goto out;
	}

	/* Modules and the command line, then where everything goes. */
	if (parse_modules(b->modules, mods, &nmods, err, errlen) < 0)
		goto out;
	for (unsigned i = 0; i < nmods; i++) {
		char why[256];
		mods[i].data = load_file(mods[i].path, ram->size, &mods[i].len, why, sizeof(why));
		if (!mods[i].data) {
			fail(err, errlen, "Multiboot module %s", why);
			goto out;
		}
	}
	const char *append = b->cmdline ? b->cmdline : "";
	size_t cl = strlen(path) + strlen(append) + 2;
	cmdline = malloc(cl);
	if (!cmdline) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	snprintf(cmdline, cl, "%s %s", path, append); /* as QEMU: the kernel's path first */

	size_t size = MBI_SIZE + MB_GDT_SIZE + (size_t)b->e820_count * MB_MMAP_ENTRY_SIZE + (size_t)nmods * MB_MOD_SIZE +
		      sizeof(BOOT_LOADER_NAME) + strlen(cmdline) + 1;
	for (unsigned i = 0; i < nmods; i++)
		size += strlen(mods[i].string) + 1;
	uint64_t info = place(ram, b, im->end, size);
	if (!info) {
		fail(err, errlen, "%s: no room in guest RAM below 4 GiB for the Multiboot information above the kernel", path);
		goto out;
	}
	uint64_t next = info + size;
	for (unsigned i = 0; i < nmods; i++) {
		mods[i].addr = place(ram, b, next, mods[i].len);
		if (!mods[i].addr) {
			fail(err, errlen, "%s: module does not fit in guest RAM below 4 GiB (%zu KiB after 0x%llx)", mods[i].path,
			     mods[i].len >> 10, (unsigned long long)next);
			goto out;
		}
		next = mods[i].addr + mods[i].len;
	}
	uint32_t gdt;
	blk = build_info(b, cmdline, mods, nmods, info, size, &gdt);
	if (!blk) {
		fail(err, errlen, "out of memory");
		goto out;
	}

	/* Everything is checked: copy. */
	for (unsigned i = 0; i < im->nseg; i++) {
		const struct segment *sg = &im->seg[i];
		uint8_t *dst = ram_range(ram, sg->paddr, sg->memsz);
		memcpy(dst, k + sg->offset, sg->filesz);
		memset(dst + sg->filesz, 0, sg->memsz - sg->filesz);
	}
	for (unsigned i = 0; i < nmods; i++)
		ram_write(ram, mods[i].addr, mods[i].data, mods[i].len);
	ram_write(ram, info, blk, size);
	entry_state(s, (uint32_t)im->entry, (uint32_t)info, gdt);
	ret = 0;
out:
	free_modules(mods, nmods);
	free(blk);
	free(cmdline);
	free(im);
	free(k);
	return ret;
}
