/*
 * Linux x86 boot protocol loader (Documentation/arch/x86/boot.rst): bzImage + initrd + command
 * line, entered in 64-bit mode.
 *
 * The bzImage's compressed payload is unpacked on the host (xz through liblzma, gzip through
 * zlib-free inflate is not needed: Debian's kernels are xz) and its ELF segments are placed at
 * their physical addresses, then the CPU starts at the vmlinux entry (startup_64) as the kernel's
 * own decompressor would leave it. Payloads the host cannot unpack fall back to the ordinary
 * entry: the protected-mode part is loaded at 1 MiB and the kernel decompresses itself.
 */
#ifndef SOFTVM_BOOT_LINUX_H
#define SOFTVM_BOOT_LINUX_H
#include <stddef.h>
#include <stdint.h>

#include "cpu/cpu.h"
#include "machine/ram.h"

struct e820_entry {
	uint64_t addr, size;
	uint32_t type; /* E820_RAM, E820_RESERVED, E820_ACPI ... */
} __attribute__((packed));

#define E820_RAM 1
#define E820_RESERVED 2
#define E820_ACPI 3
#define E820_MAX 32

struct linux_boot {
	const char *kernel_path;
	const char *initrd_path; /* may be NULL */
	const char *cmdline;     /* may be NULL */
	const struct e820_entry *e820;
	unsigned e820_count;
	uint64_t acpi_rsdp;      /* 0 if none */
	int host_unpack;         /* 1: unpack the payload on the host when possible (default) */
};

/* Loads the kernel into RAM and fills the CPU state for the entry. Returns 0, or -1 with a
 * one-line message naming the file and the problem in err. */
int linux_load(struct guest_ram *ram, const struct linux_boot *b, struct cpu_state *s, char *err, size_t errlen);

/* True when the file starts like a bzImage (setup header magic "HdrS"). */
int linux_is_bzimage(const uint8_t *data, size_t len);

/* Reads a whole file (at most max bytes). Returns a malloc'ed buffer or NULL with err filled. */
uint8_t *load_file(const char *path, size_t max, size_t *len, char *err, size_t errlen);

/* Puts the CPU in 64-bit mode at CPL 0 with flat segments and paging identity-mapping the first
 * 4 GiB (page tables at BOOT_PAGETABLES, GDT at BOOT_GDT); used by the Linux and Multiboot paths. */
#define BOOT_GDT 0x500
#define BOOT_PAGETABLES 0x9000 /* 6 pages: PML4, PDPT, 4 PDs */
void boot_long_mode_state(struct guest_ram *ram, struct cpu_state *s);
#endif
