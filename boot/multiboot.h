/*
 * Multiboot v1 loader (Multiboot Specification 0.6.96) for small bare-metal kernels and test
 * images: ELF32/ELF64 kernels or the a.out kludge (header flag 16), entered in 32-bit protected
 * mode with the Multiboot information structure (memory sizes, the e820 map, the command line,
 * the boot loader name and the modules).
 */
#ifndef SOFTVM_BOOT_MULTIBOOT_H
#define SOFTVM_BOOT_MULTIBOOT_H
#include <stddef.h>
#include <stdint.h>

#include "boot/linux.h" /* struct e820_entry */
#include "cpu/cpu.h"
#include "machine/ram.h"

#define MULTIBOOT_HEADER_MAGIC 0x1BADB002u
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u
#define MULTIBOOT_SEARCH 8192 /* the header lies within the image's first 8 KiB */

/* Header flags (§3.1.2) */
#define MULTIBOOT_PAGE_ALIGN 0x00000001
#define MULTIBOOT_MEMORY_INFO 0x00000002
#define MULTIBOOT_VIDEO_MODE 0x00000004
#define MULTIBOOT_AOUT_KLUDGE 0x00010000

/* Information structure flags and offsets (§3.3) */
#define MULTIBOOT_INFO_MEMORY 0x00000001
#define MULTIBOOT_INFO_BOOTDEV 0x00000002
#define MULTIBOOT_INFO_CMDLINE 0x00000004
#define MULTIBOOT_INFO_MODS 0x00000008
#define MULTIBOOT_INFO_MEM_MAP 0x00000040
#define MULTIBOOT_INFO_BOOT_LOADER_NAME 0x00000200

#define MBI_FLAGS 0
#define MBI_MEM_LOWER 4
#define MBI_MEM_UPPER 8
#define MBI_BOOT_DEVICE 12
#define MBI_CMDLINE 16
#define MBI_MODS_COUNT 20
#define MBI_MODS_ADDR 24
#define MBI_MMAP_LENGTH 44
#define MBI_MMAP_ADDR 48
#define MBI_BOOT_LOADER_NAME 64
#define MBI_SIZE 120 /* up to the framebuffer fields of later 0.6 revisions */
#define MB_MOD_SIZE 16 /* mod_start, mod_end (exclusive), string, reserved */
#define MB_MMAP_ENTRY_SIZE 24 /* size (20, not counting itself), base_addr, length, type */

/* The header as found in the image. */
struct multiboot_header {
	uint32_t offset; /* in the file */
	uint32_t magic, flags, checksum;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr; /* flag 16 */
	uint32_t mode_type, width, height, depth;                                   /* flag 2 */
};

/*
 * Looks for a valid header (magic, 4-byte aligned, within the first 8 KiB, checksum, supported
 * flags, complete). Returns 1 and fills h; 0 when there is no magic at all; -1 with a one-line
 * message naming path and the problem when a header is there but unusable.
 */
int multiboot_parse_header(const uint8_t *img, size_t len, struct multiboot_header *h, const char *path, char *err,
			   size_t errlen);

/* True when the file is meant for this loader: it holds a Multiboot header (even a bad one, so
 * that the loader reports the problem) and is not a Linux bzImage. */
int multiboot_detect(const char *path);

struct multiboot_boot {
	const char *kernel_path;
	/* Modules: comma-separated entries "FILE[ ARGS]" (",," is a literal comma), as QEMU's
	 * -initrd for Multiboot; each module's string is its whole entry. May be NULL. */
	const char *modules;
	const char *cmdline; /* appended to the kernel's path, may be NULL */
	const struct e820_entry *e820;
	unsigned e820_count;
};

/* Loads the kernel, modules and information structure and fills the CPU state for the entry
 * (EAX = 0x2BADB002, EBX = the structure, flat 4 GiB CS/DS, paging off, interrupts off).
 * Returns 0, or -1 with a one-line message naming the file and the problem in err. */
int multiboot_load(struct guest_ram *ram, const struct multiboot_boot *b, struct cpu_state *s, char *err,
		   size_t errlen);
#endif
