/* Guest RAM (see ram.h). */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "ram.h"

/* PROT_NONE pages on both sides of guest RAM: a device that strays past either end of RAM (a
 * missed check on a guest-supplied address or length) faults at once instead of silently
 * corrupting whatever the host mapped next to it. */
#define RAM_GUARD 4096ull

static uint64_t ram_span(uint64_t size)
{
	return ((size + RAM_GUARD - 1) & ~(RAM_GUARD - 1)) + 2 * RAM_GUARD;
}

int ram_init(struct guest_ram *r, uint64_t size)
{
	if (size < (1u << 20) || size > (1ull << 40))
		return -EINVAL;
	uint64_t span = ram_span(size);
	uint8_t *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	if (mprotect(p, RAM_GUARD, PROT_NONE) < 0 || mprotect(p + span - RAM_GUARD, RAM_GUARD, PROT_NONE) < 0) {
		int e = errno;
		munmap(p, span);
		return -e;
	}
	r->host = p + RAM_GUARD;
	r->size = size;
	r->low_size = size < RAM_PCI_HOLE_START ? size : RAM_PCI_HOLE_START;
	return 0;
}

void ram_free(struct guest_ram *r)
{
	if (r->host)
		munmap(r->host - RAM_GUARD, ram_span(r->size));
	r->host = NULL;
}

uint8_t *ram_range(const struct guest_ram *r, uint64_t gpa, uint64_t len)
{
	if (gpa + len < gpa)
		return NULL;
	if (gpa + len <= r->low_size)
		return r->host + gpa;
	uint64_t high = r->size - r->low_size;
	if (gpa >= RAM_HIGH_START && gpa - RAM_HIGH_START + len <= high)
		return r->host + r->low_size + (gpa - RAM_HIGH_START);
	return NULL;
}

bool ram_write(const struct guest_ram *r, uint64_t gpa, const void *src, uint64_t len)
{
	uint8_t *p = ram_range(r, gpa, len);
	if (!p)
		return false;
	memcpy(p, src, len);
	return true;
}

bool ram_read(const struct guest_ram *r, uint64_t gpa, void *dst, uint64_t len)
{
	uint8_t *p = ram_range(r, gpa, len);
	if (!p)
		return false;
	memcpy(dst, p, len);
	return true;
}
