/*
 * Guest RAM and the PC memory map (below 4 GiB: low RAM up to the PCI hole; above: the rest).
 * RAM is one anonymous mapping reserved with MAP_NORESERVE, so the host commits only the pages
 * the guest touches, with a PROT_NONE guard page on each side. All device access to guest memory goes through ram_range(), which checks
 * that the whole range is RAM.
 */
#ifndef SOFTVM_MACHINE_RAM_H
#define SOFTVM_MACHINE_RAM_H
#include <stdbool.h>
#include <stdint.h>

#define RAM_PCI_HOLE_START 0xc0000000ull /* low RAM ends here at the latest (3 GiB) */
#define RAM_HIGH_START 0x100000000ull

struct guest_ram {
	uint8_t *host;
	uint64_t size;     /* total RAM */
	uint64_t low_size; /* RAM below the PCI hole, at 0 */
};

/* Reserves size bytes of guest RAM. Returns 0 or -errno. */
int ram_init(struct guest_ram *r, uint64_t size);
void ram_free(struct guest_ram *r);

/* Host pointer for guest-physical [gpa, gpa+len) if all of it is RAM, else NULL. */
uint8_t *ram_range(const struct guest_ram *r, uint64_t gpa, uint64_t len);

/* Copies into / out of guest RAM; false if the range is not entirely RAM. */
bool ram_write(const struct guest_ram *r, uint64_t gpa, const void *src, uint64_t len);
bool ram_read(const struct guest_ram *r, uint64_t gpa, void *dst, uint64_t len);
#endif
