/*
 * Multiboot v1 loader tests: header parsing (good, bad checksum, misaligned, truncated, beyond
 * 8 KiB, unknown flags), ELF32/ELF64/a.out loading with the entry state and the information
 * structure contents, the checks on every field an image provides, and an end-to-end run of a
 * bare-metal kernel (tests/boot/mb_kernel.S, assembled here with binutils) on the whole machine:
 * it checks its Multiboot information and fw_cfg from inside the guest and leaves through the
 * debug-exit port.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "boot/multiboot.h"
#include "machine/pc.h"
#include "tests/test.h"

#define RAM_SIZE (32u << 20)

static char dir[64];
static struct guest_ram ram;
static const struct e820_entry e820[] = {
	{ 0, 0x9fc00, E820_RAM },
	{ 0x9fc00, 0x400, E820_RESERVED },
	{ 0xe0000, 0x20000, E820_RESERVED },
	{ 0x100000, RAM_SIZE - 0x100000, E820_RAM },
};

static const char *tmp(const char *name)
{
	static char paths[8][256];
	static int next;
	char *p = paths[next++ % 8];
	snprintf(p, 256, "%s/%s", dir, name);
	return p;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len) {
		perror(path);
		exit(2);
	}
	fclose(f);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t get32(uint64_t gpa)
{
	uint32_t v = 0;
	ram_read(&ram, gpa, &v, 4);
	return v;
}

static const char *gstr(uint64_t gpa)
{
	static char buf[512];
	uint8_t *p = ram_range(&ram, gpa, 1);
	size_t n = 0;
	while (p && n < sizeof(buf) - 1 && (p = ram_range(&ram, gpa + n, 1)) && *p)
		buf[n++] = (char)*p;
	buf[n] = 0;
	return buf;
}

static void put_mb_header(uint8_t *p, uint32_t flags)
{
	put32(p, MULTIBOOT_HEADER_MAGIC);
	put32(p + 4, flags);
	put32(p + 8, (uint32_t)-(MULTIBOOT_HEADER_MAGIC + flags));
}

/* ---- header parsing ---- */

static int parse(const uint8_t *img, size_t len, struct multiboot_header *h, char *err, size_t errlen)
{
	return multiboot_parse_header(img, len, h, "img", err, errlen);
}

static void test_header(void)
{
	static uint8_t img[16384];
	struct multiboot_header h;
	char err[256];

	memset(img, 0, sizeof(img));
	put_mb_header(img + 64, 0x3);
	CHECK(parse(img, sizeof(img), &h, err, sizeof(err)) == 1 && h.offset == 64 && h.flags == 3,
	      "header found at a 4-byte aligned offset");

	memset(img, 0, sizeof(img));
	CHECK(parse(img, sizeof(img), &h, err, sizeof(err)) == 0 && strstr(err, "no Multiboot header"),
	      "no magic: not Multiboot");

	put_mb_header(img + 66, 0x3);
	CHECK(parse(img, sizeof(img), &h, err, sizeof(err)) == 0, "misaligned header is not recognized");

	memset(img, 0, sizeof(img));
	put_mb_header(img + 8192, 0x3);
	CHECK(parse(img, sizeof(img), &h, err, sizeof(err)) == 0, "header beyond the first 8 KiB is not recognized");
	memset(img, 0, sizeof(img));
	put_mb_header(img + 8180, 0x3);
	CHECK(parse(img, sizeof(img), &h, err, sizeof(err)) == 1, "12-byte header ending at 8 KiB is accepted");
	memset(img, 0, sizeof(img));
	put_mb_header(img + 8176, MULTIBOOT_AOUT_KLUDGE);
	CHECK(parse(img, sizeof(img), &h, err, sizeof(err)) == -1 && strstr(err, "truncated"),
	      "address fields crossing 8 KiB: truncated");

	memset(img, 0, sizeof(img));
	put_mb_header(img + 8, 0x3);
	img[16] ^= 1;
	CHECK(parse(img, sizeof(img), &h, err, sizeof(err)) == -1 && strstr(err, "bad checksum") && strstr(err, "img"),
	      "bad checksum: error naming the file");
	put_mb_header(img + 100, 0x2);
	CHECK(parse(img, sizeof(img), &h, err, sizeof(err)) == 1 && h.offset == 100,
	      "a stray magic with a bad checksum before a good header is skipped");

	memset(img, 0, sizeof(img));
	put_mb_header(img + 20, 0x3);
	CHECK(parse(img, 28, &h, err, sizeof(err)) == -1 && strstr(err, "truncated"),
	      "file ending inside the header: truncated");
	put_mb_header(img + 20, MULTIBOOT_AOUT_KLUDGE);
	CHECK(parse(img, 40, &h, err, sizeof(err)) == -1 && strstr(err, "truncated"),
	      "file ending inside the address fields: truncated");
	put32(img + 32, 0x100000);
	put32(img + 36, 0x100001);
	put32(img + 48, 0x100002);
	CHECK(parse(img, 52, &h, err, sizeof(err)) == 1 && h.header_addr == 0x100000 && h.load_addr == 0x100001 &&
		      h.entry_addr == 0x100002, "address fields are read");

	memset(img, 0, sizeof(img));
	put_mb_header(img, 0x8);
	CHECK(parse(img, sizeof(img), &h, err, sizeof(err)) == -1 && strstr(err, "unsupported"),
	      "unknown required flag bit 3 is refused");
	put_mb_header(img, 0x7);
	CHECK(parse(img, sizeof(img), &h, err, sizeof(err)) == 1, "video mode flag is accepted (as QEMU)");
}

static void test_detect(void)
{
	static uint8_t img[8192];
	memset(img, 0, sizeof(img));
	put_mb_header(img + 32, 0x3);
	write_file(tmp("d-mb"), img, sizeof(img));
	CHECK(multiboot_detect(tmp("d-mb")), "detect: Multiboot image");
	img[40] ^= 1;
	write_file(tmp("d-bad"), img, sizeof(img));
	CHECK(multiboot_detect(tmp("d-bad")), "detect: a bad header still goes to the Multiboot loader (to report it)");
	memcpy(img + 0x202, "HdrS", 4);
	write_file(tmp("d-bz"), img, sizeof(img));
	CHECK(!multiboot_detect(tmp("d-bz")), "detect: a bzImage with a stray bad magic is Linux");
	put_mb_header(img + 32, 0x3);
	write_file(tmp("d-bzmb"), img, sizeof(img));
	CHECK(!multiboot_detect(tmp("d-bzmb")), "detect: a bzImage is Linux even with a Multiboot header");
	memset(img, 0, sizeof(img));
	write_file(tmp("d-none"), img, 100);
	CHECK(!multiboot_detect(tmp("d-none")) && !multiboot_detect(tmp("does-not-exist")),
	      "detect: no header or no file");
}

/* ---- ELF images ---- */

struct tseg {
	uint64_t vaddr, paddr, filesz, memsz, offset; /* offset 0: placed automatically */
	uint32_t type;
};

/* Builds an ELF32 (or ELF64) executable with a Multiboot header at 0x100 and the segments' data
 * (bytes (k * 7 + n) & 0xff for segment k) from 0x1000 on. Returns the file length. */
static size_t build_elf(uint8_t *buf, size_t cap, bool is64, const struct tseg *segs, unsigned n, uint64_t entry,
			uint16_t type, uint16_t machine)
{
	memset(buf, 0, cap);
	size_t at = 0x1000;
	if (is64) {
		Elf64_Ehdr eh = { .e_type = type, .e_machine = machine, .e_version = EV_CURRENT, .e_entry = entry,
				  .e_phoff = sizeof(Elf64_Ehdr), .e_ehsize = sizeof(Elf64_Ehdr),
				  .e_phentsize = sizeof(Elf64_Phdr), .e_phnum = (uint16_t)n };
		memcpy(eh.e_ident, ELFMAG, SELFMAG);
		eh.e_ident[EI_CLASS] = ELFCLASS64;
		eh.e_ident[EI_DATA] = ELFDATA2LSB;
		eh.e_ident[EI_VERSION] = EV_CURRENT;
		memcpy(buf, &eh, sizeof(eh));
	} else {
		Elf32_Ehdr eh = { .e_type = type, .e_machine = machine, .e_version = EV_CURRENT, .e_entry = (uint32_t)entry,
				  .e_phoff = sizeof(Elf32_Ehdr), .e_ehsize = sizeof(Elf32_Ehdr),
				  .e_phentsize = sizeof(Elf32_Phdr), .e_phnum = (uint16_t)n };
		memcpy(eh.e_ident, ELFMAG, SELFMAG);
		eh.e_ident[EI_CLASS] = ELFCLASS32;
		eh.e_ident[EI_DATA] = ELFDATA2LSB;
		eh.e_ident[EI_VERSION] = EV_CURRENT;
		memcpy(buf, &eh, sizeof(eh));
	}
	put_mb_header(buf + 0x100, 0x3);
	size_t end = at;
	for (unsigned k = 0; k < n; k++) {
		uint64_t off = segs[k].offset ? segs[k].offset : at;
		uint32_t ptype = segs[k].type ? segs[k].type : PT_LOAD;
		if (is64) {
			Elf64_Phdr ph = { ptype, 7, off, segs[k].vaddr, segs[k].paddr, segs[k].filesz, segs[k].memsz, 0x1000 };
			memcpy(buf + sizeof(Elf64_Ehdr) + k * sizeof(ph), &ph, sizeof(ph));
		} else {
			Elf32_Phdr ph = { ptype, (uint32_t)off, (uint32_t)segs[k].vaddr, (uint32_t)segs[k].paddr,
					  (uint32_t)segs[k].filesz, (uint32_t)segs[k].memsz, 7, 0x1000 };
			memcpy(buf + sizeof(Elf32_Ehdr) + k * sizeof(ph), &ph, sizeof(ph));
		}
		if (!segs[k].offset) {
			for (uint64_t b = 0; b < segs[k].filesz && at + b < cap; b++)
				buf[at + b] = (uint8_t)((k * 7 + b) & 0xff);
			at += (segs[k].filesz + 0xfff) & ~0xfffull;
			if (at > end)
				end = at;
		}
	}
	return end > cap ? cap : end;
}

static int load(const char *kpath, const char *mods, const char *cmdline, struct cpu_state *s, char *err,
		size_t errlen)
{
	memset(s, 0, sizeof(*s));
	struct multiboot_boot b = { kpath, mods, cmdline, e820, sizeof(e820) / sizeof(e820[0]) };
	return multiboot_load(&ram, &b, s, err, errlen);
}

static bool seg_ok(uint64_t paddr, unsigned k, uint64_t filesz, uint64_t memsz)
{
	const uint8_t *p = ram_range(&ram, paddr, memsz);
	if (!p)
		return false;
	for (uint64_t b = 0; b < memsz; b++)
		if (p[b] != (b < filesz ? (uint8_t)((k * 7 + b) & 0xff) : 0))
			return false;
	return true;
}

static void test_elf32_and_info(void)
{
	static uint8_t buf[0x8000];
	char err[512];
	struct cpu_state s;
	/* A higher-half kernel: linked at 0xc0100000, loaded at 1 MiB; plus a data segment at 2 MiB. */
	struct tseg segs[] = {
		{ .vaddr = 0xc0100000, .paddr = 0x100000, .filesz = 0x300, .memsz = 0x1800 },
		{ .vaddr = 0, .paddr = 0, .filesz = 0, .memsz = 0, .type = PT_NOTE },
		{ .vaddr = 0x200000, .paddr = 0x200000, .filesz = 0x10, .memsz = 0x10 },
	};
	size_t len = build_elf(buf, sizeof(buf), false, segs, 3, 0xc0100010, ET_EXEC, EM_386);
	const char *kpath = tmp("k32.elf");
	write_file(kpath, buf, len);
	write_file(tmp("mod1"), "first module", 12);
	static uint8_t big[10000];
	for (size_t k = 0; k < sizeof(big); k++)
		big[k] = (uint8_t)(k * 13);
	write_file(tmp("mod2"), big, sizeof(big));
	char mods[600];
	snprintf(mods, sizeof(mods), "%s,%s a=1,,b c", tmp("mod1"), tmp("mod2"));

	memset(ram.host + 0x100000, 0xaa, 0x2000);
	int r = load(kpath, mods, "console=x y", &s, err, sizeof(err));
	CHECK(r == 0, "ELF32 kernel with modules loads (%s)", r ? err : "ok");
	if (r)
		return;
	CHECK(seg_ok(0x100000, 0, 0x300, 0x1800), "segment copied to p_paddr, bss zeroed");
	CHECK(seg_ok(0x200000, 2, 0x10, 0x10), "second segment copied");
	CHECK(s.rip == 0x100010, "virtual entry translated to the physical address");
	CHECK(s.gpr[R_RAX] == MULTIBOOT_BOOTLOADER_MAGIC, "EAX = 0x2BADB002");
	CHECK((s.cr0 & 0x80000001) == 1 && s.efer == 0 && s.cr4 == 0, "32-bit protected mode, paging off");
	CHECK(!(s.rflags & 0x20200), "interrupts off, not virtual-8086");
	CHECK(s.seg[S_CS].base == 0 && s.seg[S_CS].limit == 0xffffffff && s.seg[S_CS].attr == 0xc09b,
	      "CS: flat 4 GiB 32-bit code");
	bool data_ok = true;
	for (int k = S_ES; k <= S_GS; k++)
		if (k != S_CS)
			data_ok &= s.seg[k].base == 0 && s.seg[k].limit == 0xffffffff && s.seg[k].attr == 0xc093 &&
				   s.seg[k].sel == s.seg[S_DS].sel;
	CHECK(data_ok, "DS/ES/SS/FS/GS: flat 4 GiB data");
	uint64_t gdt[3] = { 1, 1, 1 };
	ram_read(&ram, s.gdtr.base, gdt, sizeof(gdt));
	CHECK(s.gdtr.limit == 23 && gdt[0] == 0 && (gdt[s.seg[S_CS].sel >> 3] & 0x00cffe000000ffffull) == 0x00cf9a000000ffffull &&
		      (gdt[s.seg[S_DS].sel >> 3] & 0x00cffe000000ffffull) == 0x00cf92000000ffffull,
	      "the GDT in memory matches the selectors");

	uint64_t info = s.gpr[R_RBX];
	CHECK(info >= 0x200010 && !(info & 0xfff), "information block is page-aligned above the kernel");
	CHECK(s.gdtr.base > info && s.gdtr.base < info + 0x1000, "the GDT lives in the information block");
	CHECK(get32(info + MBI_FLAGS) == 0x24d, "flags: memory, cmdline, mods, mmap, boot loader name");
	CHECK(get32(info + MBI_MEM_LOWER) == 639, "mem_lower = 639 KiB");
	CHECK(get32(info + MBI_MEM_UPPER) == (RAM_SIZE >> 10) - 1024, "mem_upper = RAM above 1 MiB in KiB");
	char want[600];
	snprintf(want, sizeof(want), "%s console=x y", kpath);
	CHECK(!strcmp(gstr(get32(info + MBI_CMDLINE)), want), "command line starts with the kernel's path");
	CHECK(!strcmp(gstr(get32(info + MBI_BOOT_LOADER_NAME)), "softvm"), "boot loader name is softvm");

	uint32_t mmap = get32(info + MBI_MMAP_ADDR), mlen = get32(info + MBI_MMAP_LENGTH);
	bool mm_ok = mlen == 4 * MB_MMAP_ENTRY_SIZE;
	for (unsigned k = 0; k < 4 && mm_ok; k++) {
		uint64_t e = mmap + k * MB_MMAP_ENTRY_SIZE, base, length;
		ram_read(&ram, e + 4, &base, 8);
		ram_read(&ram, e + 12, &length, 8);
		mm_ok = get32(e) == 20 && base == e820[k].addr && length == e820[k].size && get32(e + 20) == e820[k].type;
	}
	CHECK(mm_ok, "memory map: the machine's e820 entries, size field 20");

	CHECK(get32(info + MBI_MODS_COUNT) == 2, "mods_count = 2");
	uint32_t m = get32(info + MBI_MODS_ADDR);
	uint32_t s0 = get32(m), e0 = get32(m + 4), s1 = get32(m + 16), e1 = get32(m + 20);
	CHECK(!(s0 & 0xfff) && !(s1 & 0xfff), "modules are page-aligned");
	CHECK(e0 - s0 == 12 && e1 - s1 == sizeof(big), "mod_end is one past the module's last byte");
	CHECK(s0 >= info + 0x100 && s1 >= e0 && e1 <= RAM_SIZE, "modules sit above the information, in order");
	CHECK(!memcmp(ram_range(&ram, s0, 12), "first module", 12) && !memcmp(ram_range(&ram, s1, sizeof(big)), big, sizeof(big)),
	      "module contents");
	CHECK(!strcmp(gstr(get32(m + 8)), tmp("mod1")), "module string = its path");
	snprintf(want, sizeof(want), "%s a=1,b c", tmp("mod2"));
	CHECK(!strcmp(gstr(get32(m + 24)), want), "module string keeps arguments; \",,\" is a comma");

	/* No modules and no command line: QEMU's "path " */
	r = load(kpath, NULL, NULL, &s, err, sizeof(err));
	info = s.gpr[R_RBX];
	snprintf(want, sizeof(want), "%s ", kpath);
	CHECK(r == 0 && get32(info + MBI_MODS_COUNT) == 0 && !strcmp(gstr(get32(info + MBI_CMDLINE)), want),
	      "without modules: mods_count 0, command line \"path \"");
}

static void test_elf64(void)
{
	static uint8_t buf[0x4000];
	char err[512];
	struct cpu_state s;
	struct tseg seg = { .vaddr = 0x400000, .paddr = 0x400000, .filesz = 0x80, .memsz = 0x100 };
	size_t len = build_elf(buf, sizeof(buf), true, &seg, 1, 0x400040, ET_EXEC, EM_X86_64);
	write_file(tmp("k64.elf"), buf, len);
	int r = load(tmp("k64.elf"), NULL, NULL, &s, err, sizeof(err));
	CHECK(r == 0 && s.rip == 0x400040 && seg_ok(0x400000, 0, 0x80, 0x100), "ELF64 kernel loads (%s)", r ? err : "ok");
	seg.paddr = 0x100000000ull;
	len = build_elf(buf, sizeof(buf), true, &seg, 1, 0x400040, ET_EXEC, EM_X86_64);
	write_file(tmp("k64h.elf"), buf, len);
	r = load(tmp("k64h.elf"), NULL, NULL, &s, err, sizeof(err));
	CHECK(r == -1 && strstr(err, "not in guest RAM"), "ELF64 segment above 4 GiB refused");
}

/* Builds a kernel whose image is bad in one way and checks the one-line error. */
static void expect_elf_error(const char *name, const struct tseg *segs, unsigned n, uint64_t entry, uint16_t type,
			     uint16_t machine, size_t truncate, const char *want)
{
	static uint8_t buf[0x8000];
	char err[512] = "";
	struct cpu_state s;
	size_t len = build_elf(buf, sizeof(buf), false, segs, n, entry, type, machine);
	if (truncate)
		len = truncate;
	const char *path = tmp(name);
	write_file(path, buf, len);
	memset(ram.host + 0x100000, 0, 0x1000);
	int r = load(path, NULL, NULL, &s, err, sizeof(err));
	CHECK(r == -1 && strstr(err, want) && strstr(err, path) && !strchr(err, '\n'),
	      "%s: refused with \"%s\" (got \"%s\")", name, want, err);
	CHECK(ram.host[0x100000] == 0, "%s: nothing was copied into RAM", name);
}

static void test_elf_errors(void)
{
	struct tseg ok = { .vaddr = 0x100000, .paddr = 0x100000, .filesz = 0x100, .memsz = 0x100 };
	struct tseg two[2] = { ok, ok };
	expect_elf_error("e-outside", (struct tseg[]){ ok, { .vaddr = 0x3000000, .paddr = 0x3000000, .filesz = 0x10, .memsz = 0x10 } },
			 2, 0x100000, ET_EXEC, EM_386, 0, "not in guest RAM");
	expect_elf_error("e-hole", (struct tseg[]){ ok, { .vaddr = 0xa0000, .paddr = 0xa0000, .filesz = 0x10, .memsz = 0x10 } },
			 2, 0x100000, ET_EXEC, EM_386, 0, "not in guest RAM");
	expect_elf_error("e-straddle", (struct tseg[]){ ok, { .vaddr = 0x9f000, .paddr = 0x9f000, .filesz = 0x10, .memsz = 0x2000 } },
			 2, 0x100000, ET_EXEC, EM_386, 0, "not in guest RAM");
	expect_elf_error("e-wrap", (struct tseg[]){ ok, { .vaddr = 0xfffff000, .paddr = 0xfffff000, .filesz = 0x10, .memsz = 0x2000 } },
			 2, 0x100000, ET_EXEC, EM_386, 0, "not in guest RAM");
	two[1].paddr = two[1].vaddr = 0x100080;
	expect_elf_error("e-overlap", two, 2, 0x100000, ET_EXEC, EM_386, 0, "overlap");
	expect_elf_error("e-filesz", (struct tseg[]){ { .vaddr = 0x100000, .paddr = 0x100000, .filesz = 0x200, .memsz = 0x100 } },
			 1, 0x100000, ET_EXEC, EM_386, 0, "file size");
	expect_elf_error("e-pastfile", (struct tseg[]){ { .vaddr = 0x100000, .paddr = 0x100000, .filesz = 0x100, .memsz = 0x100, .offset = 0x7f80 } },
			 1, 0x100000, ET_EXEC, EM_386, 0x7fff, "past the end of the file");
	expect_elf_error("e-truncated", &ok, 1, 0x100000, ET_EXEC, EM_386, 0x1080, "past the end of the file");
	expect_elf_error("e-entry", &ok, 1, 0x300000, ET_EXEC, EM_386, 0, "entry");
	expect_elf_error("e-dyn", &ok, 1, 0x100000, ET_DYN, EM_386, 0, "not an executable");
	expect_elf_error("e-machine", &ok, 1, 0x100000, ET_EXEC, EM_ARM, 0, "machine");
	expect_elf_error("e-noload", (struct tseg[]){ { .type = PT_NOTE } }, 1, 0x100000, ET_EXEC, EM_386, 0, "no loadable");

	/* The kernel fills RAM to its end: no room for the information. */
	struct tseg top = { .vaddr = 0x100000, .paddr = 0x100000, .filesz = 0x10, .memsz = RAM_SIZE - 0x100000 };
	expect_elf_error("e-full", &top, 1, 0x100000, ET_EXEC, EM_386, 0, "no room");

	static uint8_t img[0x2000];
	char err[512];
	struct cpu_state s;
	memset(img, 0x11, sizeof(img));
	put_mb_header(img + 0x40, 0x3);
	write_file(tmp("e-notelf"), img, sizeof(img));
	CHECK(load(tmp("e-notelf"), NULL, NULL, &s, err, sizeof(err)) == -1 && strstr(err, "not ELF"),
	      "neither ELF nor address fields: refused");
	put32(img + 0x48, 0);
	write_file(tmp("e-badsum"), img, sizeof(img));
	CHECK(load(tmp("e-badsum"), NULL, NULL, &s, err, sizeof(err)) == -1 && strstr(err, "bad checksum") &&
		      strstr(err, tmp("e-badsum")), "bad checksum: refused naming the file");
	CHECK(load(tmp("e-absent"), NULL, NULL, &s, err, sizeof(err)) == -1 && strstr(err, tmp("e-absent")),
	      "missing kernel file: error names it");
}

/* ---- a.out kludge ---- */

struct aout {
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

/* A flat image: 0x400 bytes of pattern with the header at file offset 0x20. */
static const char *build_aout(const char *name, const struct aout *a, size_t len)
{
	static uint8_t img[0x400];
	for (size_t k = 0; k < sizeof(img); k++)
		img[k] = (uint8_t)(k * 3 + 1);
	put_mb_header(img + 0x20, MULTIBOOT_AOUT_KLUDGE | 0x3);
	put32(img + 0x2c, a->header_addr);
	put32(img + 0x30, a->load_addr);
	put32(img + 0x34, a->load_end_addr);
	put32(img + 0x38, a->bss_end_addr);
	put32(img + 0x3c, a->entry_addr);
	const char *path = tmp(name);
	write_file(path, img, len ? len : sizeof(img));
	return path;
}

static void test_aout(void)
{
	char err[512];
	struct cpu_state s;
	const uint32_t L = 0x180000;
	struct aout a = { L + 0x20, L, L + 0x300, L + 0x2000, L + 0x10 };
	memset(ram.host + L, 0xaa, 0x3000);
	int r = load(build_aout("a-good", &a, 0), NULL, NULL, &s, err, sizeof(err));
	const uint8_t *p = ram_range(&ram, L, 0x3000);
	bool bytes_ok = true;
	for (unsigned k = 0; k < 0x2000; k++)
		if (k < 0x20 || k >= 0x40) /* the header is not the pattern */
			bytes_ok &= p[k] == (k < 0x300 ? (uint8_t)(k * 3 + 1) : 0);
	bytes_ok &= get32(L + 0x20) == MULTIBOOT_HEADER_MAGIC;
	CHECK(r == 0 && s.rip == L + 0x10, "a.out kludge image loads at load_addr, enters at entry_addr (%s)", r ? err : "ok");
	CHECK(bytes_ok, "a.out: text up to load_end_addr, zeros up to bss_end_addr");
	CHECK(s.gpr[R_RBX] >= L + 0x2000, "a.out: information placed above bss_end_addr");

	/* Header at file offset 0x20 but header_addr says 0x120 above load_addr: text starts
	 * before the file does. */
	struct aout b = a;
	b.header_addr = L + 0x120;
	r = load(build_aout("a-before", &b, 0), NULL, NULL, &s, err, sizeof(err));
	CHECK(r == -1 && strstr(err, "header_addr - load_addr"), "a.out: image starting before the file refused");

	/* load_end_addr 0: the whole file; load_addr below the header by the header's offset */
	b = a;
	b.load_end_addr = 0;
	b.bss_end_addr = 0;
	memset(ram.host + L, 0xaa, 0x1000);
	r = load(build_aout("a-whole", &b, 0x200), NULL, NULL, &s, err, sizeof(err));
	CHECK(r == 0 && ram.host[L + 0x1ff] == (uint8_t)(0x1ff * 3 + 1) && ram.host[L + 0x200] == 0xaa,
	      "a.out: load_end_addr 0 loads the whole file, bss_end_addr 0 means no bss");

	const struct {
		const char *name;
		struct aout a;
		const char *want;
	} bad[] = {
		{ "a-loadabove", { L + 0x20, L + 0x40, L + 0x300, 0, L + 0x40 }, "above header_addr" },
		{ "a-pastfile", { L + 0x20, L, L + 0x800, 0, L + 0x10 }, "load_end_addr" },
		{ "a-endlow", { L + 0x20, L, L + 0x10, 0, L + 0x8 }, "does not cover the header" },
		{ "a-bss", { L + 0x20, L, L + 0x300, L + 0x200, L + 0x10 }, "bss_end_addr" },
		{ "a-entry", { L + 0x20, L, L + 0x300, L + 0x400, L + 0x400 }, "entry_addr" },
		{ "a-entrylow", { L + 0x20, L, L + 0x300, L + 0x400, L - 4 }, "entry_addr" },
		{ "a-hole", { 0xa0020, 0xa0000, 0xa0300, 0, 0xa0010 }, "not in guest RAM" },
		{ "a-beyond", { 0x7ffff020, 0x7ffff000, 0x7ffff300, 0, 0x7ffff010 }, "not in guest RAM" },
		{ "a-bsshuge", { L + 0x20, L, L + 0x300, 0xffffffff, L + 0x10 }, "not in guest RAM" },
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		const char *path = build_aout(bad[k].name, &bad[k].a, 0);
		err[0] = 0;
		r = load(path, NULL, NULL, &s, err, sizeof(err));
		CHECK(r == -1 && strstr(err, bad[k].want) && strstr(err, path), "%s: refused with \"%s\" (got \"%s\")",
		      bad[k].name, bad[k].want, err);
	}
}

static void test_module_errors(void)
{
	char err[512], mods[600];
	struct cpu_state s;
	struct aout a = { 0x100020, 0x100000, 0x100300, 0, 0x100010 };
	const char *k = build_aout("m-kernel", &a, 0);
	snprintf(mods, sizeof(mods), "%s,%s", tmp("mod1"), tmp("no-such-module"));
	int r = load(k, mods, NULL, &s, err, sizeof(err));
	CHECK(r == -1 && strstr(err, "module") && strstr(err, tmp("no-such-module")), "missing module: error names it");
	snprintf(mods, sizeof(mods), "%s,", tmp("mod1"));
	r = load(k, mods, NULL, &s, err, sizeof(err));
	CHECK(r == -1 && strstr(err, "empty"), "empty module name refused");
	static uint8_t big[RAM_SIZE - (2u << 20)];
	write_file(tmp("m-big"), big, sizeof(big));
	snprintf(mods, sizeof(mods), "%s,%s", tmp("m-big"), tmp("m-big"));
	r = load(k, mods, NULL, &s, err, sizeof(err));
	CHECK(r == -1 && strstr(err, "does not fit") && strstr(err, tmp("m-big")), "modules larger than RAM refused");
}

/* ---- end to end ---- */

struct watchdog {
	struct pc *pc;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void *watchdog_main(void *arg)
{
	struct watchdog *w = arg;
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += 60;
	pthread_mutex_lock(&w->lock);
	while (!w->done)
		if (pthread_cond_timedwait(&w->cond, &w->lock, &t) == ETIMEDOUT) {
			pc_request_exit(w->pc, 255);
			break;
		}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Boots kernel on a 32 MiB PC with --debug-exit; returns the exit status, console output in out. */
static int boot(const char *kernel, const char *modules, const char *append, char *out, size_t outlen, char *err,
		size_t errlen)
{
	const char *log = tmp("console.log");
	int fd = open(log, O_RDWR | O_CREAT | O_TRUNC, 0644);
	struct pc_config cfg = {
		.ram_size = RAM_SIZE,
		.kernel = kernel,
		.initrd = modules,
		.append = append,
		.debug_exit = true,
		.console_in = -1,
		.console_out = fd,
	};
	out[0] = 0;
	struct pc *pc = pc_create(&cfg, err, errlen);
	if (!pc) {
		close(fd);
		return -1;
	}
	struct watchdog w = { pc, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false };
	pthread_t th;
	pthread_create(&th, NULL, watchdog_main, &w);
	int status = pc_run(pc);
	pthread_mutex_lock(&w.lock);
	w.done = true;
	pthread_cond_signal(&w.cond);
	pthread_mutex_unlock(&w.lock);
	pthread_join(th, NULL);
	pc_destroy(pc);
	ssize_t n = pread(fd, out, outlen - 1, 0);
	out[n > 0 ? n : 0] = 0;
	close(fd);
	return status;
}

static const char *source_dir(void)
{
	static char d[4096];
	if (access("tests/boot/mb_kernel.S", R_OK) == 0)
		return "tests/boot";
	/* build/tests/boot/test_multiboot -> ../../../tests/boot */
	ssize_t n = readlink("/proc/self/exe", d, sizeof(d) - 64);
	if (n <= 0)
		return "tests/boot";
	d[n] = 0;
	for (int k = 0; k < 4; k++) {
		char *slash = strrchr(d, '/');
		if (slash)
			*slash = 0;
	}
	strcat(d, "/tests/boot");
	return d;
}

static void test_end_to_end(void)
{
	const char *src = source_dir();
	static char cmd[20000];
	snprintf(cmd, sizeof(cmd),
		 "as --32 -o %1$s/k.o '%2$s/mb_kernel.S' && "
		 "ld -m elf_i386 --no-warn-rwx-segments -T '%2$s/mb_kernel.ld' -o %1$s/mbk.elf %1$s/k.o && "
		 "as --32 --defsym AOUT=1 -o %1$s/ka.o '%2$s/mb_kernel.S' && "
		 "ld -m elf_i386 --no-warn-rwx-segments -T '%2$s/mb_kernel.ld' --oformat binary -o %1$s/mbk.bin %1$s/ka.o",
		 dir, src);
	int r = system(cmd);
	CHECK(r == 0, "test kernel assembled with as --32 / ld -m elf_i386 from %s", src);
	if (r)
		return;
	write_file(tmp("one"), "MODULE-ONE\n", 11);
	static uint8_t two[5000];
	memcpy(two, "MODULE-TWO", 10);
	write_file(tmp("two"), two, sizeof(two));
	char mods[600], out[8192], err[512], want[600];
	snprintf(mods, sizeof(mods), "%s,%s arg=x", tmp("one"), tmp("two"));

	const char *kernels[] = { tmp("mbk.elf"), tmp("mbk.bin") };
	const char *kinds[] = { "ELF", "a.out kludge" };
	for (int k = 0; k < 2; k++) {
		int st = boot(kernels[k], mods, "hello world", out, sizeof(out), err, sizeof(err));
		CHECK(st == 67, "%s test kernel passes its checks: debug-exit status 67 (got %d%s%s)", kinds[k], st,
		      st < 0 ? ": " : "", st < 0 ? err : "");
		snprintf(want, sizeof(want), "cmdline: %s hello world\n", kernels[k]);
		CHECK(strstr(out, want) != NULL, "%s: the kernel saw the command line \"%s hello world\"", kinds[k], kernels[k]);
		snprintf(want, sizeof(want), "module: %s\nmodule: %s arg=x\n", tmp("one"), tmp("two"));
		CHECK(strstr(out, want) != NULL, "%s: the kernel saw both module strings", kinds[k]);
		CHECK(strstr(out, "ALL CHECKS PASSED") != NULL, "%s: serial output reports success", kinds[k]);
	}

	/* The kernel's checks can fail: one module instead of two is check 6. */
	int st = boot(tmp("mbk.elf"), tmp("one"), NULL, out, sizeof(out), err, sizeof(err));
	CHECK(st == ((6 << 1) | 1) && strstr(out, "FAILED CHECK 0x06"), "with one module the kernel reports check 6 (status %d)",
	      st);
	/* Errors reach pc_create's caller as one line. */
	snprintf(mods, sizeof(mods), "%s,%s", tmp("one"), tmp("missing"));
	st = boot(tmp("mbk.elf"), mods, NULL, out, sizeof(out), err, sizeof(err));
	CHECK(st == -1 && strstr(err, tmp("missing")), "a missing module stops pc_create: %s", err);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/softvm-mb-XXXXXX");
	if (!mkdtemp(dir) || ram_init(&ram, RAM_SIZE) < 0) {
		CHECK(0, "set up a temp dir and RAM");
		TEST_EXIT();
	}
	test_header();
	test_detect();
	test_elf32_and_info();
	test_elf64();
	test_elf_errors();
	test_aout();
	test_module_errors();
	test_end_to_end();
	ram_free(&ram);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	TEST_EXIT();
}
