/*
 * Linux boot-protocol loader on synthetic bzImages: an xz-packed ELF payload is unpacked on the
 * host and placed at its physical addresses; boot_params, the command line, the initrd and the
 * 64-bit entry state are checked; malformed images give one-line errors naming the file.
 */
#include <elf.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/linux.h"
#include "tests/test.h"

static char dir[] = "/tmp/softvm-linux-XXXXXX";

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* A vmlinux-like ELF: one PT_LOAD of `code` at paddr with memsz > filesz (bss). */
static size_t make_elf(uint8_t *out, uint64_t paddr, uint64_t entry, const uint8_t *code, size_t n, size_t memsz)
{
	Elf64_Ehdr eh = { 0 };
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = entry;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = 1;
	Elf64_Phdr ph = { .p_type = PT_LOAD, .p_offset = 0x100, .p_vaddr = 0xffffffff81000000ull, .p_paddr = paddr,
			  .p_filesz = n, .p_memsz = memsz, .p_flags = PF_R | PF_X };
	memset(out, 0, 0x100 + n);
	memcpy(out, &eh, sizeof(eh));
	memcpy(out + sizeof(eh), &ph, sizeof(ph));
	memcpy(out + 0x100, code, n);
	return 0x100 + n;
}

/* A bzImage: setup sectors with the header, then the protected-mode part holding the payload. */
static char *make_bzimage(const char *name, const uint8_t *payload, size_t plen, uint16_t version, uint16_t xlf)
{
	static char path[256];
	size_t setup = 5 * 512, total = setup + 0x200 + plen + 4;
	uint8_t *k = calloc(1, total);
	k[0x1f1] = 4; /* setup_sects */
	k[0x200] = 0xeb;
	k[0x201] = 0x6a; /* header up to 0x26c */
	memcpy(k + 0x202, "HdrS", 4);
	memcpy(k + 0x206, &version, 2);
	memcpy(k + 0x236, &xlf, 2);
	put32(k + 0x22c, 0x7fffffff);      /* initrd_addr_max */
	put32(k + 0x238, 255);             /* cmdline_size */
	put32(k + 0x248, 0x200);           /* payload_offset */
	put32(k + 0x24c, (uint32_t)plen);  /* payload_length */
	put64(k + 0x258, 0x1000000);       /* pref_address */
	put32(k + 0x260, 0x200000);        /* init_size */
	memcpy(k + setup + 0x200, payload, plen);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	fwrite(k, 1, total, f);
	fclose(f);
	free(k);
	return path;
}

static size_t xz(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	size_t pos = 0;
	if (lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, in, n, out, &pos, cap) != LZMA_OK)
		return 0;
	put32(out + pos, (uint32_t)n); /* the kernel build appends the unpacked size */
	return pos + 4;
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	struct guest_ram ram;
	ram_init(&ram, 64u << 20);
	struct e820_entry e820[2] = { { 0, 0x9fc00, E820_RAM }, { 0x100000, (64u << 20) - 0x100000, E820_RAM } };
	char err[256];
	struct cpu_state s;

	static const uint8_t code[] = { 0x90, 0x90, 0xf4, 0xeb, 0xfd };
	uint8_t elf[0x200], packed[0x1000];
	size_t elen = make_elf(elf, 0x1000000, 0x1000001, code, sizeof(code), 0x3000);
	size_t plen = xz(elf, elen, packed, sizeof(packed));
	char *kpath = strdup(make_bzimage("good", packed, plen, 0x20f, 1));

	char ipath[300];
	snprintf(ipath, sizeof(ipath), "%s/initrd", dir);
	FILE *f = fopen(ipath, "wb");
	for (int k = 0; k < 5000; k++)
		fputc(k & 0xff, f);
	fclose(f);

	memset(ram_range(&ram, 0x1000000 + sizeof(code), 16), 0xaa, 16); /* bss must be cleared */
	struct linux_boot b = { .kernel_path = kpath, .initrd_path = ipath, .cmdline = "console=ttyS0 quiet",
				.e820 = e820, .e820_count = 2, .acpi_rsdp = 0xe0000, .host_unpack = 1 };
	memset(&s, 0, sizeof(s));
	int r = linux_load(&ram, &b, &s, err, sizeof(err));
	CHECK(r == 0, "linux: loads a bzImage with an xz payload (%s)", r ? err : "ok");
	uint8_t *zp = ram_range(&ram, 0x7000, 0x1000);
	CHECK(!memcmp(ram_range(&ram, 0x1000000, sizeof(code)), code, sizeof(code)), "linux: ELF segment at its physical address");
	CHECK(*ram_range(&ram, 0x1000000 + sizeof(code) + 3, 1) == 0, "linux: the segment's bss is zeroed");
	CHECK(s.rip == 0x1000001 && s.gpr[R_RSI] == 0x7000, "linux: entry at the ELF entry with RSI = boot_params");
	CHECK((s.efer & 0x500) == 0x500 && (s.cr0 & 0x80000001) == 0x80000001 && (s.cr4 & 0x20) &&
		      s.seg[S_CS].sel == 0x10 && (s.seg[S_CS].attr & SEG_ATTR_L) && s.seg[S_DS].sel == 0x18,
	      "linux: 64-bit mode with __BOOT_CS/__BOOT_DS and paging");
	uint32_t cl;
	memcpy(&cl, zp + 0x228, 4);
	CHECK(!strcmp((char *)ram_range(&ram, cl, 20), "console=ttyS0 quiet"), "linux: command line at cmd_line_ptr");
	uint32_t rd_addr, rd_size;
	memcpy(&rd_addr, zp + 0x218, 4);
	memcpy(&rd_size, zp + 0x21c, 4);
	CHECK(rd_size == 5000 && rd_addr % 4096 == 0 && rd_addr + rd_size <= (64u << 20) && rd_addr >= 0x1200000 &&
		      ram_range(&ram, rd_addr, 5000)[4999] == (4999 & 0xff),
	      "linux: initrd placed high, page-aligned, above the kernel (%x)", rd_addr);
	CHECK(zp[0x1e8] == 2 && !memcmp(zp + 0x2d0, e820, sizeof(e820)), "linux: e820 table in boot_params");
	CHECK(zp[0x210] == 0xff && (zp[0x211] & 0x81) == 0x81, "linux: type_of_loader and loadflags");
	uint64_t rsdp;
	memcpy(&rsdp, zp + 0x70, 8);
	CHECK(rsdp == 0xe0000, "linux: acpi_rsdp_addr");
	/* The identity map covers the kernel: PML4[0] -> PDPT -> 2 MiB pages. */
	uint64_t pml4e, pdpte, pde;
	memcpy(&pml4e, ram_range(&ram, s.cr3, 8), 8);
	memcpy(&pdpte, ram_range(&ram, pml4e & ~0xfffull, 8), 8);
	memcpy(&pde, ram_range(&ram, (pdpte & ~0xfffull) + 8 * 8, 8), 8);
	CHECK((pde & ~0xfffull) == 0x1000000 && (pde & 0x81) == 0x81, "linux: identity map with 2 MiB pages");

	/* Without host unpacking: the protected-mode part at the load address, entry + 0x200. */
	b.host_unpack = 0;
	r = linux_load(&ram, &b, &s, err, sizeof(err));
	CHECK(r == 0 && s.rip == 0x1000200 && !memcmp(ram_range(&ram, 0x1000000 + 0x200, 6), "\xfd" "7zXZ", 6),
	      "linux: fallback to the kernel's own decompressor");
	b.host_unpack = 1;

	/* Errors, each a line naming the file. */
	struct {
		const char *what;
		char *path;
		const char *expect;
	} bad[4];
	bad[0].what = "old boot protocol";
	bad[0].path = strdup(make_bzimage("old", packed, plen, 0x20a, 1));
	bad[0].expect = "64-bit entry";
	bad[1].what = "no 64-bit entry";
	bad[1].path = strdup(make_bzimage("no64", packed, plen, 0x20f, 0));
	bad[1].expect = "64-bit entry";
	size_t elen2 = make_elf(elf, 0x1000000, 0x2000000, code, sizeof(code), 0x3000);
	size_t plen2 = xz(elf, elen2, packed, sizeof(packed));
	bad[2].what = "entry outside the segments";
	bad[2].path = strdup(make_bzimage("badentry", packed, plen2, 0x20f, 1));
	bad[2].expect = "entry";
	elen2 = make_elf(elf, 0x3ff0000, 0x3ff0000, code, sizeof(code), 0x100000);
	plen2 = xz(elf, elen2, packed, sizeof(packed));
	bad[3].what = "segment past the end of RAM";
	bad[3].path = strdup(make_bzimage("toobig", packed, plen2, 0x20f, 1));
	bad[3].expect = "does not fit";
	for (int k = 0; k < 4; k++) {
		b.kernel_path = bad[k].path;
		r = linux_load(&ram, &b, &s, err, sizeof(err));
		CHECK(r < 0 && strstr(err, bad[k].path) && strstr(err, bad[k].expect) && !strchr(err, '\n'),
		      "linux: %s is refused with a clear error (%s)", bad[k].what, err);
	}
	b.kernel_path = ipath;
	r = linux_load(&ram, &b, &s, err, sizeof(err));
	CHECK(r < 0 && strstr(err, "not a Linux bzImage"), "linux: a non-kernel file is refused (%s)", err);
	b.kernel_path = "/nonexistent/vmlinuz";
	r = linux_load(&ram, &b, &s, err, sizeof(err));
	CHECK(r < 0 && strstr(err, "/nonexistent/vmlinuz") && strstr(err, "No such file"), "linux: missing file (%s)", err);
	b.kernel_path = kpath;
	char longcl[400];
	memset(longcl, 'x', sizeof(longcl) - 1);
	longcl[sizeof(longcl) - 1] = 0;
	b.cmdline = longcl;
	r = linux_load(&ram, &b, &s, err, sizeof(err));
	CHECK(r < 0 && strstr(err, "command line too long"), "linux: command line longer than cmdline_size (%s)", err);

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", dir);
	ram_free(&ram);
	TEST_EXIT();
}
